"""Section ``retention``:
Oldest and newest retained event, span, 12-month and 3-month checks per tenant.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SectionSet,
    class_expr,
    section,
    when_text,
)

__all__ = ["retention"]

_in_class = class_expr


@section("retention", "Retention status per tenant")
def retention(ctx: SectionSet) -> Section:
    """Oldest and newest retained event, span, 12-month and 3-month checks per tenant.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["retention"].table("tenants").frame["stored"].to_list()
    [8]
    """
    as_of = ctx.as_of
    hist = (
        ctx.inputs.history.with_columns(
            removed=(pl.col("tree_size") - pl.col("stored")).clip(lower_bound=0),
            span_days=((pl.lit(as_of) - pl.col("oldest")).dt.total_hours() / 24)
            .floor()
            .cast(pl.Int64),
        )
        .with_columns(
            retained_12_months=pl.col("oldest") <= pl.lit(as_of - timedelta(days=365)),
            last_3_months_available=(pl.col("oldest") <= pl.lit(as_of - timedelta(days=90)))
            | ((pl.col("first_seq") == 0) & (pl.col("removed") == 0)),
            complete_history=(pl.col("first_seq") == 0) & (pl.col("removed") == 0),
        )
        .sort("tenant_id")
    )
    change = ctx.events.filter(pl.col("action").str.starts_with("audit_retention."))
    changes = change.select(
        "occurred_at",
        "tenant_id",
        "action",
        "actor_id",
        pl.col("changes")
        .str.json_path_match("$.before.retention_days")
        .cast(pl.Int64, strict=False)
        .alias("before_days"),
        pl.coalesce(
            pl.col("changes").str.json_path_match("$.after.retention_days"),
            pl.col("metadata").str.json_path_match("$.retention_days"),
        )
        .cast(pl.Int64, strict=False)
        .alias("after_days"),
        "event_id",
    ).sort("occurred_at")
    paragraphs = (
        f"What the store holds for each tenant as of {when_text(as_of)}. auditkit has no "
        "retention configuration yet, so this reports the data itself: the oldest and newest "
        "retained event, how many signed records were removed (the signed tree size minus the "
        "records stored), and whether a year of history is retained with the last three "
        "months immediately available (every stored event is in the queryable hot store).",
        "A history younger than twelve months with nothing removed cannot show a year of "
        "retention yet; events removed while the history is under twelve months can.",
    )
    return Section(
        "retention",
        "Retention status per tenant",
        paragraphs,
        facts={"as_of": as_of, "tenants": hist.height, "retention_changes": changes.height},
        tables=(
            Table("tenants", "Retained history per tenant", hist),
            Table("retention_changes", "Audit retention settings changed", changes),
        ),
    )
