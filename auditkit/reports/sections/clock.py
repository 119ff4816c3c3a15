"""Section ``clock``:
Events dated after their arrival, arrival delays, events out of order per source.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SOURCE,
    SectionSet,
    class_expr,
    human_duration,
    section,
)

__all__ = ["clock"]

_in_class = class_expr


@section("clock", "Clock skew and out-of-order events")
def clock(ctx: SectionSet) -> Section:
    """Events dated after their arrival, arrival delays, events out of order per source.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["clock"].facts["future_dated"]
    0
    """
    tol = ctx.inputs.options.clock_tolerance
    keys = ["tenant_id", "source"]
    lf = (
        ctx.events.lazy()
        .select("tenant_id", SOURCE, "seq", "event_id", "occurred_at", "received_at")
        .with_columns(
            delay=pl.col("received_at") - pl.col("occurred_at"),
            prev_max=pl.col("occurred_at").cum_max().shift(1).over(keys, order_by="seq"),
        )
        .with_columns(
            ahead=pl.col("delay") < -pl.lit(tol),
            behind=(pl.col("prev_max") - pl.col("occurred_at")),
        )
        .with_columns(out_of_order=pl.col("behind").fill_null(timedelta(0)) > pl.lit(tol))
        .collect()
        .lazy()
    )
    flagged = lf.filter(pl.col("ahead") | pl.col("out_of_order"))
    by_source = (
        lf.group_by(keys)
        .agg(
            events=pl.len(),
            future_dated=pl.col("ahead").sum(),
            max_ahead_s=(-pl.col("delay")).max().dt.total_seconds(),
            out_of_order=pl.col("out_of_order").sum(),
            max_behind_s=pl.col("behind").max().dt.total_seconds(),
            delay_p50_s=pl.col("delay").dt.total_seconds().median(),
            delay_p95_s=pl.col("delay").dt.total_seconds().quantile(0.95),
            delay_max_s=pl.col("delay").max().dt.total_seconds(),
        )
        .with_columns(pl.col("max_ahead_s", "max_behind_s").clip(lower_bound=0))
        .sort(keys)
        .collect()
    )
    examples = (
        flagged.with_columns(
            reason=pl.when(pl.col("ahead"))
            .then(pl.lit("dated after arrival"))
            .otherwise(pl.lit("earlier than a previous event of the source"))
        )
        .select("tenant_id", "source", "seq", "occurred_at", "received_at", "reason", "event_id")
        .sort("tenant_id", "seq")
        .collect()
    )
    future = int(by_source["future_dated"].sum() or 0)
    ooo = int(by_source["out_of_order"].sum() or 0)
    n = max(ctx.events.height, 1)
    slow = by_source.filter(pl.col("delay_p50_s") > 86_400)["source"].to_list()
    paragraphs = [
        f"{future} event(s) ({future / n:.3%}) are dated more than {human_duration(tol)} after "
        f"the store received them, which means the producing clock ran ahead; {ooo} event(s) "
        f"are dated more than {human_duration(tol)} before an earlier-stored event of the "
        "same source (out of order).",
    ]
    if slow:
        paragraphs.append(
            "Median delay between an event and its arrival exceeds a day for "
            f"source(s) {', '.join(sorted(set(slow)))}: the events were imported "
            "in bulk after the fact, so arrival time says little about clocks "
            "there."
        )
    return Section(
        "clock",
        "Clock skew and out-of-order events",
        tuple(paragraphs),
        facts={
            "future_dated": future,
            "future_share": future / n,
            "out_of_order": ooo,
            "out_of_order_share": ooo / n,
            "tolerance": human_duration(tol),
        },
        tables=(
            Table("by_source", "Timing per source (seconds)", by_source),
            Table("examples", "Events flagged", examples, limit=50),
        ),
    )
