"""Section ``coverage``:
Required event classes x sources: counts, last seen, gaps.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports import _charts as charts
from auditkit.reports.catalog import event_classes
from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SectionSet,
    class_expr,
    section,
)

__all__ = ["coverage"]

_in_class = class_expr


@section("coverage", "Coverage of required event classes")
def coverage(ctx: SectionSet) -> Section:
    """Required event classes x sources: counts, last seen, gaps.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["coverage"].facts["missing_required"]["acme"][:2]
    ['audit_log_access', 'credential_change']
    """
    classes = event_classes()
    required = ctx.required_classes()
    counts = ctx.class_counts
    grid = pl.DataFrame(
        [(t, c) for t in ctx.inputs.tenants for c in classes],
        schema={"tenant_id": pl.String, "event_class": pl.String},
        orient="row",
    )
    totals = counts.group_by("tenant_id", "event_class").agg(
        total=pl.col("events").sum(), last_seen=pl.col("last_seen").max()
    )
    wide = (
        counts.pivot(
            on="source", index=["tenant_id", "event_class"], values="events", sort_columns=True
        )
        if counts.height
        else pl.DataFrame(schema={"tenant_id": pl.String, "event_class": pl.String})
    )
    matrix = (
        grid.join(totals, on=["tenant_id", "event_class"], how="left")
        .join(wide, on=["tenant_id", "event_class"], how="left")
        .with_columns(
            pl.col("total").fill_null(0),
            pl.col("event_class")
            .replace_strict({k: v.title for k, v in classes.items()})
            .alias("title"),
            pl.col("event_class").is_in(list(required)).alias("required"),
        )
    )
    sources = [c for c in wide.columns if c not in ("tenant_id", "event_class")]
    matrix = (
        matrix.with_columns([pl.col(s).fill_null(0) for s in sources])
        .with_columns(
            status=pl.when(pl.col("total") > 0)
            .then(pl.lit("recorded"))
            .when(pl.col("required"))
            .then(pl.lit("GAP"))
            .otherwise(pl.lit("none")),
        )
        .select(
            "tenant_id",
            "event_class",
            "title",
            "required",
            "status",
            "total",
            "last_seen",
            *sources,
        )
    )
    missing = {
        t: [
            c
            for c in required
            if not matrix.filter(
                (pl.col("tenant_id") == t) & (pl.col("event_class") == c) & (pl.col("total") > 0)
            ).height
        ]
        for t in ctx.inputs.tenants
    }
    n_gaps = sum(len(v) for v in missing.values())
    paragraphs = (
        f"Each event class groups the actions a framework asks the audit trail to hold "
        f"(definitions in event_classes.yaml); this framework requires {len(required)} of the "
        f"{len(classes)} classes. Columns after 'last_seen' count events per source "
        "(observer service).",
        "All required classes are recorded."
        if not n_gaps
        else "Required classes with no event in the period: "
        + "; ".join(f"{t}: {', '.join(m)}" for t, m in missing.items() if m)
        + ".",
    )
    return Section(
        "coverage",
        "Coverage of required event classes",
        paragraphs,
        facts={
            "required_classes": len(required),
            "missing_required": missing,
            "gaps": n_gaps,
            "sources": len(sources),
        },
        tables=(
            Table(
                "matrix",
                "Event classes x sources",
                matrix.sort("tenant_id", pl.col("required").not_(), "event_class"),
                limit=200,
            ),
        ),
        charts=(charts.coverage_chart(counts),) if counts.height else (),
    )
