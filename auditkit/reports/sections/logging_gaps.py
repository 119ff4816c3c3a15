"""Section ``logging_gaps``:
Sources silent for longer than usual, audit logging switched off, daily volume.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports import _charts as charts
from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SOURCE,
    SectionSet,
    class_expr,
    events_table,
    section,
)

__all__ = ["logging_gaps"]

_in_class = class_expr


@section("logging_gaps", "Logging gaps and silences")
def logging_gaps(ctx: SectionSet) -> Section:
    """Sources silent for longer than usual, audit logging switched off, daily volume.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["logging_gaps"].facts["silences"]
    0
    """
    ev = ctx.events
    gaps = (
        ctx.findings.filter(pl.col("detector") == "logging_gap")
        .select(
            "tenant_id",
            pl.col("first_seen").alias("silent_from"),
            pl.col("last_seen").alias("silent_until"),
            (pl.col("last_seen") - pl.col("first_seen"))
            .dt.total_minutes()
            .truediv(60)
            .round(1)
            .alias("hours"),
            "summary",
            "event_ids",
            "finding_id",
        )
        .sort("tenant_id", "silent_from")
    )
    control = ctx.of_class("audit_log_control").sort("occurred_at")
    off = control.filter(pl.col("action") == "audit_log.disable").select(
        "tenant_id", pl.col("occurred_at").alias("disabled_at"), "actor_id", "event_id"
    )
    on = (
        control.filter(pl.col("action") == "audit_log.enable")
        .select("tenant_id", pl.col("occurred_at").alias("enabled_at"))
        .sort("enabled_at")
    )
    windows = (
        off.sort("disabled_at").join_asof(
            on,
            left_on="disabled_at",
            right_on="enabled_at",
            by="tenant_id",
            strategy="forward",
            check_sortedness=False,
        )
        if off.height
        else off.with_columns(enabled_at=pl.lit(None, pl.Datetime("us", "UTC")))
    )
    recorded = []
    for t, start, end in windows.select("tenant_id", "disabled_at", "enabled_at").iter_rows():
        cond = (pl.col("tenant_id") == t) & (pl.col("occurred_at") > start)
        if end is not None:
            cond = cond & (pl.col("occurred_at") < end)
        recorded.append(ev.filter(cond).height)
    windows = windows.with_columns(
        events_recorded_meanwhile=pl.Series(recorded, dtype=pl.Int64),
        still_disabled=pl.col("enabled_at").is_null(),
        off_hours=(
            (pl.col("enabled_at").fill_null(pl.lit(ctx.as_of)) - pl.col("disabled_at"))
            .dt.total_seconds()
            .truediv(3600)
            .round(1)
        ),
    )
    daily = (
        ev.lazy()
        .group_by("tenant_id", pl.col("occurred_at").dt.truncate("1d").alias("day"), SOURCE)
        .agg(events=pl.len())
        .sort("tenant_id", "day", "source")
        .collect()
    )
    per_tenant_days = daily.group_by("tenant_id").agg(days=pl.col("day").n_unique())
    empty = {t: ctx.inputs.period.days - int(d) for t, d in per_tenant_days.iter_rows()}
    for t in ctx.inputs.tenants:
        empty.setdefault(t, ctx.inputs.period.days)
    return Section(
        "logging_gaps",
        "Logging gaps and silences",
        (
            f"{gaps.height} silence(s): a source that recorded nothing for much longer than usual "
            "for those hours (the logging_gap detector learns each source's usual hours). "
            f"Audit logging was switched off {off.height} time(s) in the period; the table shows "
            "whether it was switched on again and how many events were still recorded meanwhile.",
            "Days of the period without any event: "
            + ", ".join(f"{t}: {d}" for t, d in sorted(empty.items()))
            + ".",
        ),
        facts={
            "silences": gaps.height,
            "disabled": off.height,
            "still_disabled": windows.filter(pl.col("still_disabled")).height,
            "empty_days": empty,
        },
        tables=(
            Table("silences", "Silent sources", gaps.drop("event_ids")),
            events_table(control, "logging_changes", "Audit logging switched or reconfigured"),
            Table("disabled_windows", "Periods with audit logging switched off", windows),
            Table("daily_volume", "Events per day and source", daily, limit=0),
        ),
        charts=(charts.volume_chart(daily),) if daily.height else (),
    )
