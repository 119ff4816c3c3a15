"""Markdown rendering: the whole report as text (charts are in the HTML)."""

from __future__ import annotations

from typing import Any

from auditkit.reports.formats import cell
from auditkit.reports.model import Report, Section, Status, Table, counts_text

__all__ = ["render_md"]

_BADGE = {s.value: s.label.upper() for s in Status}


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(t: Table) -> list[str]:
    lines = [f"#### {t.title}", ""]
    if t.note:
        lines += [t.note, ""]
    shown = t.shown()
    if not t.frame.height:
        return [*lines, "_None._", ""]
    if not shown.height:
        return [*lines, f"_{t.frame.height:,} rows: see the evidence bundle._", ""]
    lines.append("| " + " | ".join(_esc(c) for c in shown.columns) + " |")
    lines.append("|" + "---|" * shown.width)
    for row in shown.iter_rows():
        lines.append("| " + " | ".join(_esc(cell(v)) for v in row) + " |")
    if shown.height < t.frame.height:
        lines += [
            "",
            f"_Showing {shown.height} of {t.frame.height:,} rows; all are in the evidence bundle._",
        ]
    return [*lines, ""]


def _section(s: Section) -> list[str]:
    lines = [f"## {s.title}", ""]
    for p in s.paragraphs:
        lines += [p, ""]
    facts = {k: v for k, v in s.facts.items() if not (isinstance(v, str) and "\n" in v)}
    if facts:
        lines += [f"- **{k.replace('_', ' ')}**: {_esc(cell(v)) or '-'}" for k, v in facts.items()]
        lines.append("")
    for k, v in s.facts.items():
        if isinstance(v, str) and "\n" in v:
            lines += [f"**{k.replace('_', ' ')}**:", "", "```", v.strip(), "```", ""]
    if s.commands:
        lines += ["```sh", *s.commands, "```", ""]
    for t in s.tables:
        lines += _table(t)
    for c in s.charts:
        lines += [f"_Chart: {c.title} (in the HTML report)._", ""]
    return lines


def render_md(report: Report, **options: Any) -> bytes:
    """The report as Markdown.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports import build_report_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> text = render_md(build_report_from_frame(df, framework="soc2")).decode()
    >>> text.splitlines()[0]
    '# SOC 2 — Trust Services Criteria (security): access, operations and change'
    """
    n = report.counts()
    lines = [
        f"# {report.framework_title}",
        "",
        f"- **Tenants**: {', '.join(report.tenants)}",
        f"- **Period**: {report.period} (UTC, both days included)",
        f"- **Events**: {report.events:,}",
        f"- **Store**: {report.store_location or '-'} (id {report.store_id or '-'})",
        f"- **Signing key fingerprint**: {report.key_fingerprint or '-'}",
        f"- **Generated**: {cell(report.generated_at)} UTC by auditkit {report.tool_version}",
        f"- **Result**: {counts_text(n)}",
        "",
        "## Controls",
        "",
        "| Control | Title | Status | Why |",
        "|---|---|---|---|",
    ]
    for c in report.controls:
        why = c.reasons[0] if c.reasons else ""
        lines.append(
            f"| {_esc(c.control_id)} | {_esc(c.title)} | {_BADGE[c.status.value]} | {_esc(why)} |"
        )
    lines.append("")
    for c in report.controls:
        lines += [f"### {c.control_id} — {c.title}: {_BADGE[c.status.value]}", "", c.summary, ""]
        lines += [f"- {r}" for r in c.reasons]
        lines.append("")
        if c.evidence:
            lines += ["Evidence:", ""]
            for e in c.evidence:
                where = f"{e.section}/{e.table}" if e.table else e.section
                count = f" ({e.count:,})" if e.count is not None else ""
                ids = (
                    (
                        f" — events {', '.join(e.event_ids[:10])}"
                        + (" …" if len(e.event_ids) > 10 else "")
                    )
                    if e.event_ids
                    else ""
                )
                lines.append(f"- `{where}`: {_esc(e.note)}{count}{ids}")
            lines.append("")
    for s in report.sections:
        lines += _section(s)
    return ("\n".join(lines).rstrip() + "\n").encode()
