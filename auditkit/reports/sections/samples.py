"""Section ``samples``:
For every "is logged" control, its population (every event of the classes it asks for)
and a seeded random sample of event ids that anyone can draw again.
"""

from __future__ import annotations

import random

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import EVENT_COLUMNS, SectionSet, class_expr, section

__all__ = ["draw_sample", "population_controls", "samples"]


#: Why the default size, said in the report (the population is every event of a class,
#: so the control operates many times a day).
SIZE_BASIS = (
    ". The logging controls sampled here operate many times a day; the usual guidance for "
    "testing the operation of such a control calls for 25 to 60 items, by the reliance "
    "placed on it and the risk (25 is the lower end, for a low risk of failure; set "
    "'sample: {size: 40}' or 60 in the report configuration for more). A population of "
    "that many events or fewer is tested in full: every event is in the sample."
)


def population_controls(ctx: SectionSet) -> dict[str, tuple[str, ...]]:
    """Control id -> the event classes whose events are its population."""
    out: dict[str, tuple[str, ...]] = {}
    if ctx.framework is None:
        return out
    for c in ctx.framework.controls:
        classes: dict[str, None] = {}
        for r in c.rules:
            if r.name == "classes_present":
                classes.update(dict.fromkeys(r.params.get("classes", ())))
        if classes:
            out[c.id] = tuple(classes)
    return out


def draw_sample(event_ids: list[str], size: int, seed: int) -> list[str]:
    """``size`` ids drawn without replacement from ``event_ids`` (in population order)
    with Python's ``random.Random(seed).sample``: anyone can draw the same sample
    from the population file with two lines of Python.

    Examples
    --------
    >>> draw_sample(["a", "b", "c", "d"], 2, 7) == draw_sample(["a", "b", "c", "d"], 2, 7)
    True
    >>> draw_sample(["a"], 5, 1)
    ['a']
    """
    if len(event_ids) <= size:
        return list(event_ids)
    return random.Random(seed).sample(event_ids, size)


def _table_name(control_id: str) -> str:
    return "population_" + "".join(ch if ch.isalnum() else "_" for ch in control_id)


@section("samples", "Samples and populations")
def samples(ctx: SectionSet) -> Section:
    """Population and seeded sample per "is logged" control.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> sec = example_sections("pci-dss")["samples"]
    >>> sec.facts["seed"], sec.table("samples").frame["control"].unique().sort().to_list()[:2]
    (20260105, ['10.2.1.1', '10.2.1.2'])
    """
    seed, size = ctx.sample_seed, ctx.sample_size
    tables: list[Table] = []
    rows: list[pl.DataFrame] = []
    for control, classes in population_controls(ctx).items():
        pop = ctx.of_class(*classes).filter(class_expr(*classes)).sort("tenant_id", "seq")
        pop = pop.select(*EVENT_COLUMNS)
        ids = pop["event_id"].to_list()
        chosen = draw_sample(ids, size, seed)
        drawn = pl.DataFrame(
            {"event_id": chosen, "draw": list(range(1, len(chosen) + 1))},
            schema={"event_id": pl.String, "draw": pl.Int64},
        )
        picked = (
            drawn.join(pop, on="event_id", how="left")
            .sort("draw")
            .select(pl.lit(control).alias("control"), "draw", *EVENT_COLUMNS)
        )
        rows.append(picked)
        tables.append(
            Table(
                _table_name(control),
                f"Population of {control} ({', '.join(classes)}): {pop.height:,} events",
                pop,
                limit=0,
            )
        )
    sample = (
        pl.concat(rows)
        if rows
        else pl.DataFrame(schema={"control": pl.String, "draw": pl.Int64, "event_id": pl.String})
    )
    return Section(
        "samples",
        "Samples and populations",
        (
            f"For each control that asks for events to be logged, the population is every event "
            "of the classes it names in the period, ordered by tenant and sequence number "
            "(the evidence bundle holds each population in full as CSV and XLSX, so that the "
            f"auditor can draw their own sample). The sample shown is {size} event(s) per "
            f"control drawn with Python's random.Random({seed}).sample(ids, {size}) over the "
            "population's event_id column in file order (all of them when fewer); the seed is "
            "the period's first day unless configured.",
            f"Sample size: {size} per control{SIZE_BASIS}",
            "Re-perform it from the bundle alone: python3 reperform/reperform.py (standard "
            "library only) checks each population file against the counts and period stated "
            "here and draws every sample again.",
        ),
        facts={
            "seed": seed,
            "sample_size": size,
            "controls": len(tables),
            "method": f"random.Random({seed}).sample(event_ids, {size}) in population order",
        },
        tables=(Table("samples", "Sampled events per control", sample, limit=500), *tables),
    )
