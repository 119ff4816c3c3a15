"""Section ``executive_summary``:
What the report is (prepared by management), the result per control, integrity and
completeness stated apart, the exceptions, and how the report was made.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports import _charts as charts
from auditkit.reports.model import Section, Status, Table, counts_text
from auditkit.reports.sections._base import SectionSet, section

__all__ = ["executive_summary"]

_OK = (Status.PASS, Status.EVIDENCE_PRESENT)


def _exceptions(ctx: SectionSet) -> pl.DataFrame:
    rows: list[tuple[str, str, str, str]] = [
        ("control", c.control_id, c.status.label, c.reasons[0] if c.reasons else "")
        for c in ctx.controls
        if c.status not in _OK
    ]
    register = ctx["review_records"].table("findings").frame
    for fid, sev, det, t, state, owner, ticket in register.select(
        "finding_id", "severity", "detector", "tenant_id", "state", "owner", "ticket"
    ).iter_rows():
        if state == "open" and sev in ("high", "critical", "medium"):
            rows.append(("finding", fid, "open", f"{sev} {det} in {t}: no disposition recorded"))
        elif state == "accepted_risk":
            rows.append(
                ("finding", fid, "accepted risk", f"{sev} {det} in {t}: by {owner} ({ticket})")
            )
    return pl.DataFrame(
        rows,
        schema={"kind": pl.String, "item": pl.String, "status": pl.String, "detail": pl.String},
        orient="row",
    )


@section("executive_summary", "Executive summary")
def executive_summary(ctx: SectionSet) -> Section:
    """Scope, the verdict per control and the few facts an auditor reads first.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> from auditkit.reports import assemble_report
    >>> sections = example_sections()
    >>> report = assemble_report(sections.inputs, framework='soc2')
    >>> report.section('executive_summary').facts['controls_fail']
    1
    """
    controls = ctx.controls
    counts = {s.value: sum(1 for c in controls if c.status == s) for s in Status}
    integ = ctx["integrity"].facts
    complete = ctx["completeness"].facts
    det = ctx["detections"].facts
    inputs = ctx.inputs
    cfg = inputs.config
    table = pl.DataFrame(
        {
            "control": [c.control_id for c in controls],
            "title": [c.title for c in controls],
            "status": [c.status.label for c in controls],
            "why": [c.reasons[0] if c.reasons else "" for c in controls],
        },
        schema={"control": pl.String, "title": pl.String, "status": pl.String, "why": pl.String},
    )
    verdict = integ.get("verdict", "not verified")
    name = ctx.framework.title if ctx.framework else "Audit logging"
    exceptions = _exceptions(ctx)
    system = (
        f"System: {cfg.system_name or '(unnamed)'}"
        + (f" — {cfg.description}" if cfg.description else "")
        + (f" Scope: {cfg.scope}" if cfg.scope else "")
        + (f" Carved out: {'; '.join(cfg.carve_outs)}." if cfg.carve_outs else "")
        if cfg.configured
        else "No system description, scope or carve-outs were configured (auditkit report "
        "--config FILE): the scope is the tenants and period below."
    )
    paragraphs = (
        "Prepared by management with auditkit from the audit trail; this is not an "
        "attestation. Every status below rests on evidence the auditor can re-perform "
        "(see the appendix 'How to re-perform the checks'): the signed trail, the "
        "populations and samples in the evidence bundle.",
        system,
        f"{name}: {counts_text(counts)}, for tenant(s) {', '.join(inputs.tenants)} over "
        f"{inputs.period} ({inputs.events.height:,} events).",
        f"Integrity (nothing recorded was altered): {verdict}. "
        f"Completeness (nothing is missing): {complete.get('verdict', '-')}.",
        f"Detections: {det.get('findings', 0)} finding(s), of which {det.get('critical', 0)} "
        f"critical and {det.get('high', 0)} high; "
        f"{ctx['review_records'].facts.get('findings_open', 0)} without a recorded disposition. "
        f"{exceptions.height} exception(s) are listed below.",
        "Pass: the evidence shows the control operated over the period. Evidence present: the "
        "logs hold what the control asks for, but that it operated needs other evidence. Not "
        "assessable from logs: request what the control names. Needs review: a person must "
        "look and decide. Fail: the evidence shows the requirement was not met.",
    )
    return Section(
        "executive_summary",
        "Executive summary",
        paragraphs,
        facts={
            "framework": name,
            "tenants": ", ".join(inputs.tenants),
            "period": str(inputs.period),
            "events": inputs.events.height,
            "integrity": verdict,
            "completeness": complete.get("verdict", "-"),
            "prepared_by": cfg.prepared_by or "management (not named in the configuration)",
            **{f"controls_{k}": v for k, v in counts.items()},
        },
        tables=(
            Table("controls", "Status per control", table, limit=200),
            Table("exceptions", "Exceptions", exceptions, limit=200),
        ),
        charts=(charts.status_chart(counts),) if controls else (),
    )
