"""Section ``completeness``:
Is anything missing from the population? Logging on, expected sources reporting, no
silences, nothing quarantined unexplained. Reported apart from integrity.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import SOURCE, SectionSet, section, when_text

__all__ = ["completeness"]

#: What a report for a principal of some tenants says instead of the quarantine counts.
_HIDDEN = (
    "The quarantine is not shown for one tenant: it is kept store-wide (a record that "
    "could not be read may name no tenant), so its counts would tell about other "
    "tenants' records; the store's operator can count them."
)


@section("completeness", "Completeness of the population")
def completeness(ctx: SectionSet) -> Section:
    """Expected sources with their last event, logging switched off, silences: the
    completeness statement, separate from integrity.

    Integrity says nothing recorded was altered; completeness says nothing is missing.
    A trail can be intact and incomplete (logging switched off for weeks).

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["completeness"].facts["verdict"][:31]
    'not shown: no inventory of expe'
    """
    cfg = ctx.inputs.config
    seen = (
        ctx.events.lazy()
        .group_by("tenant_id", SOURCE)
        .agg(
            events=pl.len(),
            first_seen=pl.col("occurred_at").min(),
            last_seen=pl.col("occurred_at").max(),
        )
        .collect()
    )
    expected = pl.DataFrame(
        [(t, s) for t in ctx.inputs.tenants for s in cfg.expected_sources(t)],
        schema={"tenant_id": pl.String, "source": pl.String},
        orient="row",
    ).with_columns(expected=pl.lit(True))
    inventory = (
        seen.join(expected, on=["tenant_id", "source"], how="full", coalesce=True)
        .with_columns(
            pl.col("events").fill_null(0).cast(pl.Int64),
            pl.col("expected").fill_null(False),
            silent_days=(pl.lit(ctx.as_of) - pl.col("last_seen")).dt.total_days(),
        )
        .with_columns(
            state=pl.when(pl.col("events") == 0)
            .then(pl.lit("MISSING"))
            .when(~pl.col("expected") & pl.lit(cfg.has_inventory))
            .then(pl.lit("not in inventory"))
            .when(pl.col("silent_days") > 1)
            .then(pl.lit("stopped early"))
            .otherwise(pl.lit("reporting"))
        )
        .select(
            "tenant_id",
            "source",
            "expected",
            "state",
            "events",
            "first_seen",
            "last_seen",
            "silent_days",
        )
        .sort("tenant_id", "source")
    )
    gaps = ctx["logging_gaps"]
    windows = gaps.table("disabled_windows").frame
    silences = gaps.facts.get("silences", 0)
    missing = inventory.filter(pl.col("state") == "MISSING")
    problems: list[str] = []
    for t, src in missing.select("tenant_id", "source").iter_rows():
        problems.append(f"{t}: expected source '{src}' recorded no event in the period")
    for row in windows.iter_rows(named=True):
        problems.append(
            f"{row['tenant_id']}: audit logging switched off at {when_text(row['disabled_at'])} "
            + (
                "and not switched on again"
                if row["still_disabled"]
                else f"for {row['off_hours']:,.1f} hours"
            )
        )
    if silences:
        problems.append(f"{silences} source silence(s) longer than usual (see Logging gaps)")
    quarantined = ctx.inputs.quarantined
    held = sum(quarantined.values()) if quarantined else 0
    if held:
        problems.append(
            f"{held:,} record(s) quarantined at ingestion in the period, unexplained "
            "(store-wide; see the quarantine table)"
        )
    if problems:
        verdict = (
            "INCOMPLETE: "
            + "; ".join(problems[:3])
            + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        )
    elif not cfg.has_inventory:
        verdict = (
            "not shown: no inventory of expected sources is configured, so a source that "
            "never reported would go unseen (list them under 'sources' in --config)"
        )
    else:
        verdict = "complete: every expected source reported, logging never switched off, no silence"
    return Section(
        "completeness",
        "Completeness of the population",
        (
            "Integrity (nothing recorded was altered) and completeness (nothing is missing) are "
            "different claims: a trail can verify perfectly while logging was switched off. "
            "This section compares the sources that reported with the inventory of expected "
            f"sources{' in ' + cfg.path if cfg.path else ' (none configured)'}, and lists "
            "periods with logging switched off and silences.",
            (
                "Records that could not be stored at ingestion are kept in the store's "
                "quarantine with the file, line and reason. "
                + (
                    f"{held:,} were quarantined in the period (counted store-wide: an "
                    "unreadable record may name no tenant); each needs an explanation "
                    "from the ingestion logs (which file, why, whether it was re-sent)."
                    if held
                    else "None was quarantined in the period."
                    if quarantined is not None
                    else _HIDDEN
                    if ctx.inputs.quarantine_hidden
                    else "These events were not read from a store: quarantine not counted."
                )
            ),
            f"Completeness: {verdict}.",
        ),
        facts={
            "verdict": verdict,
            "complete": not problems and cfg.has_inventory,
            "expected_sources": expected.height,
            "missing_sources": missing.height,
            "logging_disabled": windows.height,
            "silences": silences,
            "quarantined": held
            if quarantined is not None
            else "not shown for one tenant"
            if ctx.inputs.quarantine_hidden
            else "not counted",
        },
        tables=(
            Table("inventory", "Sources: expected and seen", inventory, limit=200),
            Table(
                "quarantine",
                "Records quarantined at ingestion in the period, by field at fault (store-wide)",
                pl.DataFrame(
                    {
                        "field": list((quarantined or {}).keys()),
                        "records": list((quarantined or {}).values()),
                    },
                    schema={"field": pl.String, "records": pl.Int64},
                ),
            ),
        ),
    )
