"""The output formats, registered in one dict, and the cell formatting they share."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from auditkit.errors import UsageError
from auditkit.plugins import GROUPS, Registry

if TYPE_CHECKING:
    from auditkit.reports.model import Report

__all__ = [
    "FORMATS",
    "OutputFormat",
    "available_formats",
    "cell",
    "format_for_path",
    "get_format",
    "register_report_format",
]


@dataclass(frozen=True)
class OutputFormat:
    """A registered output format: name, file suffixes, and the module that renders it."""

    name: str
    suffixes: tuple[str, ...]
    description: str
    module: str
    function: str
    text: bool = True

    def render(self, report: Report, **options: Any) -> bytes:
        """Render ``report`` in this format."""
        fn: Callable[..., bytes] = getattr(
            importlib.import_module(f"auditkit.reports.{self.module}"), self.function
        )
        return fn(report, **options)


#: The report output formats, filled from the ``auditkit.report_formats`` entry
#: points (this module registers the built-in ones; see :mod:`auditkit.plugins`).
FORMATS: Final[Registry[OutputFormat]] = Registry(
    "report format", group=GROUPS["report_formats"], ordered=True
)


def register_report_format(fmt: OutputFormat) -> OutputFormat:
    """Register a report output format and return it."""
    return FORMATS.register(fmt.name, fmt)


for _fmt in (
    OutputFormat(
        "html",
        (".html", ".htm"),
        "one self-contained HTML file (charts as inline SVG, no network, prints well)",
        "render_html",
        "render_html",
    ),
    OutputFormat("md", (".md", ".markdown"), "Markdown", "render_md", "render_md"),
    OutputFormat(
        "json",
        (".json",),
        "JSON: per-control status and evidence references",
        "render_json",
        "render_json",
    ),
    OutputFormat("csv", (".csv",), "CSV: one row per control", "render_json", "render_csv"),
    OutputFormat(
        "pdf",
        (".pdf",),
        "PDF printed from the HTML (WeasyPrint or Chromium)",
        "render_pdf",
        "render_pdf",
        text=False,
    ),
    OutputFormat(
        "bundle",
        (".zip",),
        "signed evidence bundle: report, CSV evidence per "
        "section, manifest of SHA-256 hashes signed with the store key",
        "bundle",
        "render_bundle",
        text=False,
    ),
):
    register_report_format(_fmt)


def available_formats() -> dict[str, str]:
    """The output formats and what each is.

    Examples
    --------
    >>> list(available_formats())
    ['html', 'md', 'json', 'csv', 'pdf', 'bundle']
    """
    return {name: f.description for name, f in FORMATS.all().items()}


def get_format(name: str) -> OutputFormat:
    """The format called ``name``.

    Examples
    --------
    >>> get_format("docx")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: unknown report format 'docx'; known: html, md, json, ...
    """
    return FORMATS.get(name)


def format_for_path(path: Path | str | None, explicit: str | None) -> str:
    """The format to write: ``explicit`` if given, else from the file suffix, else HTML.

    Examples
    --------
    >>> format_for_path("out/report.zip", None), format_for_path("r.txt", "md")
    ('bundle', 'md')
    """
    if explicit is not None:
        return get_format(explicit).name
    suffix = Path(path).suffix.lower() if path is not None else ""
    for f in FORMATS.all().values():
        if suffix in f.suffixes:
            return f.name
    if suffix:
        raise UsageError(
            f"{path}: cannot tell the report format from suffix {suffix!r}; "
            f"pass --format ({', '.join(FORMATS)})"
        )
    return "html"


def cell(value: Any) -> str:
    """A table cell as text: timestamps to the second, floats short, lists joined.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> cell(datetime(2026, 1, 5, 9, 0, 1, 5, tzinfo=timezone.utc)), cell(0.123456), cell(None)
    ('2026-01-05 09:00:01', '0.1235', '')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {cell(v) or '-'}" for k, v in value.items())
    return str(value)


def integrity_header(report: Any) -> str:
    """The store's integrity at generation, in one line for a report's header: the
    verdict, when it was checked, and each tenant's newest signed checkpoint (tree size
    and root hash) the verdict rests on.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports import build_report_from_frame
    >>> from auditkit.reports.examples import example_events
    >>> r = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
    >>> integrity_header(r)
    'not verified (the events did not come from a store)'
    """
    facts = report.integrity_at_generation()
    if facts["verified"] is None:
        return "not verified (the events did not come from a store)"
    checked = facts["checked_at"]
    text = str(facts["verdict"])
    if facts["verified"] is False:
        text += " — every control resting on the events is at best 'needs review'"
    if checked:
        text += f", checked {str(checked).replace('T', ' ')[:19]} UTC"
    cps = "; ".join(
        f"{c['tenant_id']}: tree size {c['tree_size']:,}, root {c['root_hash']}"
        for c in facts["checkpoints"]
    )
    return f"{text}; signed checkpoints: {cps}" if cps else f"{text}; no signed checkpoint"
