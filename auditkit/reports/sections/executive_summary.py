"""Section ``executive_summary``:
Scope, the verdict per control and the few facts an auditor reads first.
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

__all__ = ["executive_summary"]

_in_class = class_expr


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
    from auditkit.reports.model import Status, counts_text

    controls = ctx.controls
    counts = {s.value: sum(1 for c in controls if c.status == s) for s in Status}
    integ = ctx["integrity"].facts
    det = ctx["detections"].facts
    inputs = ctx.inputs
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
    paragraphs = (
        f"{name}: {counts_text(counts)}, for tenant(s) {', '.join(inputs.tenants)} over "
        f"{inputs.period} ({inputs.events.height:,} events).",
        f"Integrity of the audit trail: {verdict}. Detections: "
        f"{det.get('findings', 0)} finding(s), of which {det.get('critical', 0)} critical and "
        f"{det.get('high', 0)} high.",
        "A control that needs review is not a failure: the data cannot settle it alone "
        "(for example, the log history is younger than the retention the control asks for, "
        "or detections found activity that a person must look at). Each control lists its "
        "reasons and the evidence behind them.",
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
            **{f"controls_{k}": v for k, v in counts.items()},
        },
        tables=(Table("controls", "Status per control", table, limit=200),),
        charts=(charts.status_chart(counts),) if controls else (),
    )
