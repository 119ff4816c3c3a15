"""The Report builder: framework, tenant, period and format -> the report file.

A form over :func:`auditkit.reports.build_report`: the report is built from
the store (verified), written to a file, offered for download, and its control
table shown.
"""

from __future__ import annotations

import html
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from auditkit.errors import AuditkitError
from auditkit.widgets._html import download_link, human_size

if TYPE_CHECKING:
    from auditkit.reports import Report
    from auditkit.store import Store

__all__ = ["ReportBuilder"]

_MEDIA = {
    "html": "text/html",
    "md": "text/markdown",
    "json": "application/json",
    "csv": "text/csv",
    "pdf": "application/pdf",
    "bundle": "application/zip",
}


class ReportBuilder:
    """Build a compliance report from a store with a small form.

    Parameters
    ----------
    store
        An open :class:`~auditkit.store.Store`.
    output_dir
        Where reports are written.
    download_limit
        Reports up to this many bytes are offered as a download link.

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.store import Store
    >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
    >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                    "action": "user.login", "actor": {"id": "u1"}}])
    >>> rb = ReportBuilder(store, output_dir=tempfile.mkdtemp())
    >>> rb.framework.value, rb.format.value = "nist-800-53", "md"
    >>> path = rb.build()
    >>> path.name, path.read_text().startswith("# NIST")
    ('nist-800-53-all-tenants.md', True)
    """

    def __init__(
        self, store: Store, *, output_dir: str | Path = ".", download_limit: int = 5_000_000
    ) -> None:
        from auditkit.reports import available_formats, available_frameworks

        self.store = store
        self.output_dir = Path(output_dir)
        self.download_limit = download_limit
        self.report: Report | None = None
        self.path: Path | None = None
        frameworks = available_frameworks()
        self.framework = w.Dropdown(
            options=[(f"{fw.name} ({fid})", fid) for fid, fw in frameworks.items()],
            value=next(iter(frameworks)),
            description="Framework",
            layout=w.Layout(width="340px"),
        )
        self.tenant = w.Dropdown(
            options=[("all tenants", ""), *[(t, t) for t in store.tenants()]],
            value="",
            description="Tenant",
        )
        self.start = w.DatePicker(description="From", value=None)
        self.end = w.DatePicker(description="To (incl.)", value=None)
        formats = available_formats()
        self.format = w.Dropdown(
            options=[(f"{k}: {v[:40]}", k) for k, v in formats.items()],
            value="html",
            description="Format",
            layout=w.Layout(width="420px"),
        )
        self.build_button = w.Button(
            description="Build report", icon="file", button_style="primary"
        )
        self.build_button.on_click(lambda _: self._build_from_button())
        self.status = w.HTML()
        self.preview = w.HTML()
        self.widget = w.VBox(
            [
                w.HBox([self.framework, self.tenant]),
                w.HBox([self.start, self.end]),
                w.HBox([self.format, self.build_button]),
                self.status,
                self.preview,
            ]
        )
        self.widget.add_class("auditkit-report-builder")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        return f"<ReportBuilder: {len(self.framework.options)} frameworks>"

    @property
    def period(self) -> str | None:
        """The period as ``YYYY-MM-DD..YYYY-MM-DD`` (``None``: all the events)."""
        start: date | None = self.start.value
        end: date | None = self.end.value
        if start is None and end is None:
            return None
        lo = start or date(1990, 1, 1)
        hi = end or datetime.now(UTC).date()  # today as every period says it: in UTC
        return f"{lo:%Y-%m-%d}..{hi:%Y-%m-%d}"

    def _build_from_button(self) -> None:
        try:
            self.build()
        except AuditkitError as exc:
            self.status.value = (
                f"<span style='color:#cf222e'>report failed: {html.escape(str(exc))}</span>"
            )

    def build(self, path: str | Path | None = None) -> Path:
        """Build the report the form describes, write it and show its summary."""
        from auditkit.reports import build_report

        self.status.value = "<i>building…</i>"
        tenant = self.tenant.value or None
        report = build_report(
            self.store, framework=self.framework.value, tenant=tenant, period=self.period
        )
        fmt = self.format.value
        suffix = {"md": ".md", "bundle": ".zip"}.get(fmt, f".{fmt}")
        if path is None:
            path = self.output_dir / f"{self.framework.value}-{tenant or 'all-tenants'}{suffix}"
        written = report.write(path, format=fmt)
        self.report, self.path = report, written
        size = written.stat().st_size
        link = download_link(
            written, _MEDIA.get(fmt, "application/octet-stream"), limit=self.download_limit
        )
        self.status.value = (
            f"<p>Wrote <code>{html.escape(written.name)}</code> ({fmt}, {human_size(size)}) · "
            f"{link}</p><pre style='font-size:11px'>{html.escape(report.summary())}</pre>"
        )
        self.preview.value = report._repr_html_()
        return written
