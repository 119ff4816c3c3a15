"""Section ``crosswalk``:
For each control of this framework, the controls of the other frameworks that rest on
the same test, so that evidence gathered once serves them all.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports.catalog import crosswalk as catalog_crosswalk
from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import SectionSet, section

__all__ = ["crosswalk"]


@section("crosswalk", "Cross-framework mapping")
def crosswalk(ctx: SectionSet) -> Section:
    """This framework's controls x the same tests in the other frameworks.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> t = example_sections("pci-dss")["crosswalk"].table("mapping").frame
    >>> t.filter(pl.col("control") == "10.3.2")["also_serves"][0][:13]
    'gdpr Art. 32,'
    """
    cw = catalog_crosswalk()
    if ctx.framework is None:
        mapping = pl.DataFrame(schema={"control": pl.String, "test": pl.String})
    else:
        mine = cw.filter(pl.col("framework") == ctx.framework.id).select("control", "test")
        others = (
            cw.filter(pl.col("framework") != ctx.framework.id)
            .with_columns(ref=pl.col("framework") + " " + pl.col("control"))
            .group_by("test")
            .agg(also_serves=pl.col("ref").unique().sort().str.join(", "))
        )
        order = {c.id: i for i, c in enumerate(ctx.framework.controls)}
        mapping = (
            mine.join(others, on="test", how="left")
            .with_columns(
                pl.col("also_serves").fill_null("-"),
                _order=pl.col("control").replace_strict(order, return_dtype=pl.Int64),
            )
            .sort("_order", "test")
            .drop("_order")
        )
    return Section(
        "crosswalk",
        "Cross-framework mapping",
        (
            "Each row is one test this report ran for a control, and the controls of the other "
            "frameworks that rest on the same test: its evidence serves them too. The full "
            "table across all frameworks is in the documentation (docs/reports.md).",
        ),
        facts={},
        tables=(Table("mapping", "Controls and the same test elsewhere", mapping, limit=300),),
    )
