"""Section ``fields``:
Share of events carrying each required field, per tenant and source.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports import _charts as charts
from auditkit.reports.model import Section, Table
from auditkit.reports.records import RECORD_ACTIONS
from auditkit.reports.sections._base import (
    FIELD_CHECKS,
    ROW,
    SOURCE,
    SectionSet,
    class_expr,
    section,
)

__all__ = ["fields"]

_in_class = class_expr


@section("fields", "Field completeness per source")
def fields(ctx: SectionSet) -> Section:
    """Share of events carrying each required field, per tenant and source.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["fields"].table("completeness").frame.row(0)[:3]
    ('acme', 'webapp', 8)
    """
    aggs = []
    for name, (_, applies, present) in FIELD_CHECKS.items():
        # ``& ROW`` broadcasts a literal predicate (``pl.lit(True)``) to one value per
        # event: a literal's sum is 1, not the number of events.
        aggs += [
            (applies & ROW).cast(pl.Int64).sum().alias(f"{name}|applicable"),
            (applies & present & ROW).cast(pl.Int64).sum().alias(f"{name}|present"),
        ]
    wide = (
        ctx.events.lazy()
        .filter(~pl.col("action").is_in(list(RECORD_ACTIONS)))  # auditkit's own records
        .group_by("tenant_id", SOURCE)
        .agg(pl.len().cast(pl.Int64).alias("events"), *aggs)
        .sort("tenant_id", "source")
        .collect()
    )
    long = (
        (
            wide.unpivot(index=["tenant_id", "source", "events"])
            .with_columns(
                pl.col("variable").str.split_exact("|", 1).struct.rename_fields(["field", "kind"])
            )
            .unnest("variable")
            .pivot(on="kind", index=["tenant_id", "source", "events", "field"], values="value")
            .with_columns(
                share=pl.when(pl.col("applicable") > 0)
                .then(pl.col("present") / pl.col("applicable"))
                .otherwise(None)
            )
            .with_columns(missing=pl.col("applicable") - pl.col("present"))
            .sort("tenant_id", "source", "field")
        )
        if wide.height
        else pl.DataFrame(
            schema={
                "tenant_id": pl.String,
                "source": pl.String,
                "events": pl.Int64,
                "field": pl.String,
                "applicable": pl.Int64,
                "present": pl.Int64,
                "share": pl.Float64,
                "missing": pl.Int64,
            }
        )
    )
    percent = (
        long.with_columns((pl.col("share") * 100).round(2).alias("pct"))
        .pivot(on="field", index=["tenant_id", "source", "events"], values="pct")
        .select(
            "tenant_id",
            "source",
            "events",
            *[f for f in FIELD_CHECKS if f in long["field"].unique().to_list()],
        )
        if long.height
        else pl.DataFrame(schema={"tenant_id": pl.String})
    )
    worst = (
        long.filter(pl.col("share").is_not_null())
        .sort("share", "tenant_id", "source", "field")
        .head(1)
    )
    lows = (
        ""
        if not worst.height
        else f" The lowest completeness is {worst['share'][0]:.2%} for '{worst['field'][0]}' "
        f"from source '{worst['source'][0]}' ({worst['tenant_id'][0]})."
    )
    legend = pl.DataFrame(
        {"field": list(FIELD_CHECKS), "meaning": [v[0] for v in FIELD_CHECKS.values()]}
    )
    return Section(
        "fields",
        "Field completeness per source",
        (
            "Percent of events that carry each field, per tenant and source. A field is "
            "counted only where it applies: origin address and client for events of people and "
            "API keys, affected resource for record and administrative events. Review and "
            "disposition records that auditkit itself writes are not counted." + lows,
        ),
        facts={"sources": wide.height},
        tables=(
            Table("completeness", "Completeness (%) per source", percent, limit=100),
            Table("detail", "Events carrying each field", long, limit=0),
            Table("fields", "What each field means", legend),
        ),
        charts=(charts.completeness_chart(long),) if long.height else (),
    )


# the activity sections register themselves on import (kept apart for module size)
