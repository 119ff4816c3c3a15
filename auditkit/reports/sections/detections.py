"""Section ``detections``:
Findings of the registered detectors, most severe first, with their events.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports import _charts as charts
from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SectionSet,
    class_expr,
    section,
)

__all__ = ["detections"]

_in_class = class_expr


@section("detections", "Detections and their evidence")
def detections(ctx: SectionSet) -> Section:
    """Findings of the registered detectors, most severe first, with their events.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["detections"].facts["critical"]
    1
    """
    f = ctx.findings
    table = f.select(
        "severity",
        "detector",
        "tenant_id",
        "actor_id",
        "first_seen",
        "last_seen",
        pl.col("event_ids").list.len().alias("evidence"),
        "summary",
        "finding_id",
    )
    ev = ctx.events.select("event_id", "occurred_at", "action", "outcome", "actor_id", "source_ip")
    evidence = (
        f.select("finding_id", "detector", "severity", "tenant_id", "event_ids")
        .explode("event_ids")
        .rename({"event_ids": "event_id"})
        .join(ev, on="event_id", how="left")
        .select(
            "finding_id",
            "detector",
            "severity",
            "event_id",
            "occurred_at",
            "action",
            "outcome",
            "actor_id",
            "source_ip",
        )
    )
    counts = {
        s: f.filter(pl.col("severity") == s).height for s in ("critical", "high", "medium", "low")
    }
    by = f.group_by("detector", "severity").agg(findings=pl.len()).sort("detector", "severity")
    return Section(
        "detections",
        "Detections and their evidence",
        (
            f"{len(ctx.detectors_run)} detector(s) ran over the period's events and reported "
            f"{f.height} finding(s): {counts['critical']} critical, {counts['high']} high, "
            f"{counts['medium']} medium, {counts['low']} low. Every finding lists the events that "
            "show it (its evidence).",
        ),
        facts={"findings": f.height, **counts, "detectors": ", ".join(ctx.detectors_run)},
        tables=(
            Table("findings", "Findings", table, limit=100),
            Table("evidence", "Evidence events per finding", evidence, limit=200),
        ),
        charts=(charts.findings_chart(by),) if by.height else (),
    )
