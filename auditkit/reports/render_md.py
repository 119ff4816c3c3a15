"""Markdown rendering: the whole report as text (charts are in the HTML)."""

from __future__ import annotations

import re
from typing import Any

from auditkit.reports.formats import cell, integrity_header
from auditkit.reports.model import Report, Section, Status, Table, counts_text

__all__ = ["render_md"]

_BADGE = {s.value: s.label.upper() for s in Status}


_CONTROL = {c: " " for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))}
_CONTROL_KEEP_NL = {c: r for c, r in _CONTROL.items() if c != 0x0A}
# Characters with a meaning in Markdown (CommonMark) or HTML: escaped so that text from
# events (an actor id, a resource name) shows as typed and never becomes a link, an image,
# emphasis or raw HTML in a renderer.
_MD_SPECIAL = str.maketrans(
    {
        **{c: f"\\{c}" for c in "\\`*_[]|~"},
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        **_CONTROL,
    }
)


def _esc(text: str) -> str:
    """Text from data, safe in a Markdown table cell or list item.

    Examples
    --------
    >>> _esc("<img src=x onerror=alert(1)> | [a](javascript:x)")
    '&lt;img src=x onerror=alert(1)&gt; \\\\| \\\\[a\\\\](javascript:x)'
    """
    return text.translate(_MD_SPECIAL)


def _fenced(text: str, info: str = "") -> list[str]:
    """A code block whose fence is longer than any run of backticks in ``text``, so
    text from events can never close it early and continue as Markdown."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text.translate(_CONTROL_KEEP_NL), fence]


def _prose(text: str) -> str:
    """A paragraph we wrote around data: raw HTML and control characters made inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").translate(_CONTROL)


def _table(t: Table) -> list[str]:
    lines = [f"#### {_esc(t.title)}", ""]
    if t.note:
        lines += [_prose(t.note), ""]
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
    lines = [f"## {_esc(s.title)}", ""]
    for p in s.paragraphs:
        lines += [_prose(p), ""]
    facts = {k: v for k, v in s.facts.items() if not (isinstance(v, str) and "\n" in v)}
    if facts:
        lines += [f"- **{k.replace('_', ' ')}**: {_esc(cell(v)) or '-'}" for k, v in facts.items()]
        lines.append("")
    for k, v in s.facts.items():
        if isinstance(v, str) and "\n" in v:
            lines += [f"**{k.replace('_', ' ')}**:", "", *_fenced(v.strip()), ""]
    if s.commands:
        lines += [*_fenced("\n".join(s.commands), "sh"), ""]
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
        f"- **Tenants**: {_esc(', '.join(report.tenants))}",
        f"- **Period**: {report.period_bounds()}",
        f"- **Events**: {report.events:,}",
        f"- **Integrity at generation**: {_esc(integrity_header(report))}",
        f"- **Prepared by**: {_esc(report.prepared_by())}",
        f"- **Store**: {_esc(report.store_location or '-')} (id {_esc(report.store_id or '-')})",
        f"- **Signing key fingerprint**: {report.key_fingerprint or '-'}",
        f"- **Generated**: {cell(report.generated_at)} UTC by auditkit {report.tool_version}",
        f"- **Result**: {counts_text(n)}",
        "",
    ]
    first = [x for x in report.sections if x.id == "executive_summary"]
    for x in first:  # the executive summary first: it holds the one control table
        lines += _section(x)
    lines += ["## Controls in detail", ""]
    for c in report.controls:
        lines += [
            f"### {_esc(c.control_id)} — {_esc(c.title)}: {_BADGE[c.status.value]}",
            "",
            _prose(c.summary),
            "",
        ]
        lines += [f"- {_esc(r)}" for r in c.reasons]
        lines.append("")
        if c.evidence:
            lines += ["Evidence:", ""]
            for e in c.evidence:
                where = f"{e.section}/{e.table}" if e.table else e.section
                count = f" ({e.count:,})" if e.count is not None else ""
                ids = (
                    (
                        f" — events {_esc(', '.join(e.event_ids[:10]))}"
                        + (" …" if len(e.event_ids) > 10 else "")
                    )
                    if e.event_ids
                    else ""
                )
                lines.append(f"- {_esc(where)}: {_esc(e.note)}{count}{ids}")
            lines.append("")
    for x in report.sections:
        if x.id != "executive_summary":
            lines += _section(x)
    return ("\n".join(lines).rstrip() + "\n").encode()
