"""Section ``data_access``:
Operations on product records by record type: an inventory of processing.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SectionSet,
    class_expr,
    section,
)

__all__ = ["data_access"]

_in_class = class_expr


@section("data_access", "Data access and processing activities")
def data_access(ctx: SectionSet) -> Section:
    """Operations on product records by record type: an inventory of processing.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["data_access"].table("inventory").frame.row(0)[:4]
    ('acme', 'document', 1, 0)
    """
    rec = (
        ctx.events.lazy()
        .select("tenant_id", "action", "outcome", "actor_id", "occurred_at", "category")
        .filter(pl.col("category") == "user")
        .collect()
    )
    names = rec.select(pl.col("action").unique()).with_columns(
        entity=pl.col("action").str.extract(r"^(.*)\.[^.]+$"),
        op=pl.col("action").str.extract(r"\.([^.]+)$"),
    )
    rec = rec.join(names, on="action", how="left")
    ops = ["read", "create", "update", "delete", "export", "download", "share"]
    inventory = (
        rec.group_by("tenant_id", "entity")
        .agg(
            *[(pl.col("op") == o).sum().alias(o) for o in ops],
            denied=(pl.col("outcome") == "denied").sum(),
            actors=pl.col("actor_id").n_unique(),
            last_seen=pl.col("occurred_at").max(),
        )
        .sort("tenant_id", "entity")
    )
    exports = rec.filter(pl.col("op").is_in(["export", "download", "share"]))
    top = (
        exports.group_by("tenant_id", "actor_id")
        .agg(
            events=pl.len(),
            record_types=pl.col("entity").n_unique(),
            last_seen=pl.col("occurred_at").max(),
        )
        .sort("events", "actor_id", descending=[True, False])
        .head(25)
    )
    return Section(
        "data_access",
        "Data access and processing activities",
        (
            f"{inventory.height} type(s) of record were processed; {exports.height} export(s), "
            "download(s) or share(s) took data out of the product.",
        ),
        facts={"record_types": inventory.height, "exports": exports.height},
        tables=(
            Table("inventory", "Operations per record type", inventory, limit=100),
            Table("exporters", "Who exported, downloaded or shared most (top 25)", top),
        ),
    )
