"""Section ``review_records``:
Reviews of the logs and dispositions of findings, as recorded in the tenants' own trail.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import SectionSet, section

__all__ = ["review_records"]


@section("review_records", "Reviews and dispositions")
def review_records(ctx: SectionSet) -> Section:
    """Who reviewed which days and when; every finding with its owner, disposition and date.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["review_records"].facts["findings_open"]
    2
    """
    reviews = ctx.reviews
    decided = ctx.dispositions
    history = ctx.disposition_history.select(
        "tenant_id",
        "finding_id",
        "disposition",
        "ticket",
        "decided_by",
        "decided_at",
        "note",
        "event_id",
        superseded=pl.col("superseded_by").is_not_null(),
        superseded_by=pl.col("superseded_by"),
    )
    replaced = history.filter(pl.col("superseded")).height
    findings = ctx.findings.select(
        "finding_id", "tenant_id", "detector", "severity", "actor_id", "first_seen", "summary"
    ).join(
        decided.select(
            "tenant_id",
            "finding_id",
            pl.col("decided_by").alias("owner"),
            "disposition",
            "ticket",
            "decided_at",
            "note",
        ),
        on=["tenant_id", "finding_id"],
        how="left",
    )
    findings = findings.with_columns(
        state=pl.when(pl.col("disposition").is_null())
        .then(pl.lit("open"))
        .otherwise(pl.col("disposition"))
    )
    open_n = findings.filter(pl.col("disposition").is_null()).height
    accepted = findings.filter(pl.col("disposition") == "accepted_risk")
    in_report = set(findings["finding_id"].to_list())
    elsewhere = decided.filter(~pl.col("finding_id").is_in(list(in_report)))
    return Section(
        "review_records",
        "Reviews and dispositions",
        (
            "People record their reviews of the audit trail (`auditkit review`) and their "
            "decisions on findings (`auditkit finding resolve`) as events in the tenant's own "
            "trail: each is hashed into the signed Merkle tree like any event, so none can be "
            "added, back-dated or removed later without verification naming it. The time of "
            "a review is when auditkit recorded it, not a date typed in.",
            f"{reviews.height} review record(s); {findings.height} finding(s) in the period, "
            f"{open_n} without a disposition, {accepted.height} accepted as a risk. "
            + (
                f"{elsewhere.height} disposition(s) concern findings outside this report's "
                "period or scope."
                if elsewhere.height
                else ""
            )
            + (" " if elsewhere.height and replaced else "")
            + (
                f"{history.height} disposition(s) recorded in all, {replaced} of them "
                "superseded by a later disposition of the same finding."
                if replaced
                else ""
            ),
        ),
        facts={
            "reviews": reviews.height,
            "findings": findings.height,
            "findings_open": open_n,
            "accepted_risks": accepted.height,
        },
        tables=(
            Table("reviews", "Reviews of the audit trail", reviews, limit=100),
            Table(
                "findings",
                "Findings: owner, disposition and date",
                findings.sort("tenant_id", "first_seen", "finding_id"),
                limit=100,
            ),
            Table(
                "dispositions",
                "Every disposition recorded (superseded ones marked)",
                history,
                note=(
                    "In recorded order. A later disposition of a finding replaces an earlier "
                    "one, which stays listed as superseded, with the event id of its successor."
                ),
                limit=100,
            ),
        ),
    )
