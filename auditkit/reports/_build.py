"""Building a report: collect the inputs, evaluate every control's rules, keep the sections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from auditkit.frame import as_event_frame
from auditkit.reports._inputs import ReportInputs, ReportOptions, collect_inputs, inputs_from_frame
from auditkit.reports.catalog import Framework, get_framework
from auditkit.reports.config import ReportConfig
from auditkit.reports.model import ControlResult, Period, Report, Status
from auditkit.reports.rules import evaluate
from auditkit.reports.sections import SectionSet, available_sections

if TYPE_CHECKING:
    import pandas as pd

    from auditkit.store import Store

__all__ = ["assemble_report", "build_report", "build_report_from_frame"]


def _control(sections: SectionSet, control: Any) -> ControlResult:
    sections.current_control = control.id
    outcomes = [evaluate(sections, r.name, dict(r.params)) for r in control.rules]
    status = Status.worst(o.status for o in outcomes)
    ranked = sorted(outcomes, key=lambda o: -o.status.rank)
    reasons = tuple(r for o in ranked for r in o.reasons)
    evidence = tuple(e for o in ranked for e in o.evidence)
    return ControlResult(
        control.id, control.title, control.summary, status, reasons, evidence, control.evidence
    )


#: Statuses that say the evidence supports the control: on a trail that failed
#: verification they cannot stand, since the events they rest on are not what was signed.
_RELIANT = (Status.PASS, Status.EVIDENCE_PRESENT)


def _tampered_note(inputs: ReportInputs) -> str | None:
    """The sentence put first on every control when the trail failed verification."""
    v = inputs.verification
    if v is None or v.ok:
        return None
    return (
        f"the audit trail FAILED integrity verification ({len(v.problems)} problem(s); see "
        "the integrity section): the events this control rests on cannot be relied on, so "
        "it cannot pass until the trail is restored and verified"
    )


def _distrust(control: ControlResult, note: str) -> ControlResult:
    """``control`` on a tampered trail: a pass or evidence-present becomes needs review,
    and every control says why first."""
    status = Status.NEEDS_REVIEW if control.status in _RELIANT else control.status
    return replace(control, status=status, reasons=(note, *control.reasons))


def assemble_report(inputs: ReportInputs, *, framework: str | Framework) -> Report:
    """Evaluate ``framework``'s controls on ``inputs`` and gather every section.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports._inputs import inputs_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> report = assemble_report(inputs_from_frame(df), framework="soc2")
    >>> [c.control_id for c in report.controls]
    ['CC6.1', 'CC6.2', 'CC6.3', 'CC7.1', 'CC7.2', 'CC7.3', 'CC7.4', 'CC8.1']
    """
    from auditkit import __version__

    fw = get_framework(framework)
    sections = SectionSet(inputs, fw)
    controls = tuple(_control(sections, c) for c in fw.controls)
    note = _tampered_note(inputs)
    if note is not None:
        controls = tuple(_distrust(c, note) for c in controls)
    sections.controls = controls
    built = tuple(sections[name] for name in available_sections())
    return Report(
        framework=fw.id,
        framework_title=fw.title,
        framework_version=fw.version,
        tenants=inputs.tenants,
        period=inputs.period,
        generated_at=inputs.generated_at,
        store_id=inputs.store_id,
        store_location=inputs.store_location,
        events=inputs.events.height,
        controls=controls,
        sections=built,
        key_fingerprint=inputs.key_fingerprint,
        public_key_pem=inputs.public_key_pem,
        tool_version=__version__,
        checkpoints_doc=inputs.checkpoints_doc,
        signer=inputs.signer,
        timestamp_url=inputs.config.timestamp_url or None,
        timestamp_roots=inputs.config.timestamp_roots or None,
    )


def build_report(
    store: Store,
    *,
    framework: str | Framework,
    tenant: str | Sequence[str] | None = None,
    period: str | Period | None = None,
    generated_at: datetime | None = None,
    options: ReportOptions | None = None,
    config: ReportConfig | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> Report:
    """Build a compliance report from a store.

    Parameters
    ----------
    store
        An open :class:`~auditkit.store.Store`.
    framework
        A framework id or alias (see :func:`available_frameworks`).
    tenant
        One tenant, several, or ``None`` for every tenant of the store.  The report
        holds only these tenants' events.
    period
        ``"YYYY-MM-DD..YYYY-MM-DD"`` (both days included) or a :class:`Period`;
        default: from the oldest to the newest event.
    generated_at
        The report's time (default: now).
    options
        Section thresholds (:class:`ReportOptions`).
    config
        Management's statements (:class:`~auditkit.reports.config.ReportConfig`):
        system, scope, carve-outs, expected sources.
    parameters
        How the report was asked for (the command line), printed in the report.

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.store import Store
    >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
    >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                    "action": "user.login", "actor": {"id": "u1"}}])
    >>> report = build_report(store, framework="nist-800-53", tenant="acme",
    ...                       period="2026-01-01..2026-01-31")
    >>> report.control("AU-9").status.value, report.control("AU-2").status.value
    ('pass', 'fail')
    """
    fw = get_framework(framework)
    inputs = collect_inputs(
        store,
        tenant=tenant,
        period=period,
        generated_at=generated_at,
        options=options,
        config=config,
        parameters=parameters,
    )
    return assemble_report(inputs, framework=fw)


def _eager(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame


def build_report_from_frame(
    events: pl.DataFrame | pd.DataFrame,
    *,
    framework: str | Framework,
    period: str | Period | None = None,
    generated_at: datetime | None = None,
    options: ReportOptions | None = None,
    **inputs: Any,
) -> Report:
    """Build a report from an event frame that did not come from a store.

    Its integrity is "not verified" unless ``verification=`` (and ``checkpoints=``,
    ``public_key=``) are given, as for :func:`inputs_from_frame`.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> build_report_from_frame(df, framework="gdpr").control("Art. 32").status.value
    'fail'
    """
    fw = get_framework(framework)
    data = inputs_from_frame(
        _eager(as_event_frame(events)),
        period=period,
        generated_at=generated_at,
        options=options,
        **inputs,
    )
    return assemble_report(data, framework=fw)
