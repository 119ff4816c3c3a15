"""The Findings browser: pick a finding, see its evidence, what the actor did
around it, and a timeline; export the evidence for a SIEM or a ticket.

Findings come from :func:`auditkit.analytics.run_detectors` (or are passed in);
evidence and context from :mod:`auditkit.analytics.evidence`.
"""

from __future__ import annotations

import html
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import ipywidgets as w
import polars as pl

from auditkit.analytics import SEVERITIES, finding_context, finding_evidence, run_detectors
from auditkit.errors import UsageError
from auditkit.export.formats import ExportResult, available_export_formats, export_frame
from auditkit.frame import as_event_frame
from auditkit.widgets._html import download_link, human_size, table_html

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

__all__ = ["FindingsBrowser"]

_COLUMNS: Final = {
    "time (UTC)": "occurred_at", "seq": "seq", "action": "action", "outcome": "outcome",
    "actor": "actor_id", "target": "target_id", "source IP": "source_ip",
    "country": "geo_country", "description": "description",
}  # fmt: skip
_SEVERITY_COLOURS: Final = {
    "critical": "#8b0000",
    "high": "#cf222e",
    "medium": "#bf8700",
    "low": "#57606a",
}
_MAX_ROWS: Final = 100


def _label(row: dict[str, Any]) -> str:
    who = row["actor_id"] or "(no actor)"
    return (
        f"{row['severity']:<8} · {row['detector']} · {row['tenant_id']} · {who} · "
        f"{row['first_seen']:%Y-%m-%d %H:%M}"
    )


class FindingsBrowser:
    """Browse detector findings and their evidence.

    Parameters
    ----------
    events
        The event frame the findings are about (e.g. ``store.load()``).
    findings
        Findings (:data:`~auditkit.analytics.FINDINGS_SCHEMA`); by default every
        detector is run over ``events``.
    before, after
        How much of the actor's activity around the finding to show.
    export_dir
        Where the evidence export buttons write.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...      "action": "audit_log.disable", "actor": {"id": "mallory"}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:10:00Z",
    ...      "action": "document.read", "actor": {"id": "mallory"}}])
    >>> fb = FindingsBrowser(df)
    >>> fb.selected["detector"], fb.evidence.height, fb.context.height
    ('audit_tampering', 1, 2)
    """

    def __init__(
        self,
        events: pl.DataFrame | pd.DataFrame,
        findings: pl.DataFrame | None = None,
        *,
        before: str | timedelta = "1h",
        after: str | timedelta = "1h",
        export_dir: str | Path = ".",
        download_limit: int = 2_000_000,
    ) -> None:
        frame = as_event_frame(events)
        self.events: pl.DataFrame = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        self.findings = run_detectors(self.events) if findings is None else findings
        self.before, self.after = before, after
        self.export_dir = Path(export_dir)
        self.download_limit = download_limit
        self.last_export: ExportResult | None = None
        self._evidence = self._context = pl.DataFrame()
        detectors = sorted(self.findings["detector"].unique().to_list())
        self.min_severity = w.Dropdown(
            options=list(SEVERITIES), value="low", description="At least"
        )
        self.detector = w.Dropdown(
            options=[("all detectors", ""), *[(d, d) for d in detectors]],
            value="",
            description="Detector",
        )
        self.picker = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.summary = w.HTML()
        self.timeline = w.HTML()
        self.evidence_html = w.HTML()
        self.context_html = w.HTML()
        self.export_buttons = {
            name: w.Button(
                description=f"evidence {name.upper()}",
                icon="download",
                tooltip=fmt.description,
                layout=w.Layout(width="auto"),
            )
            for name, fmt in available_export_formats().items()
        }
        for name, button in self.export_buttons.items():
            button.on_click(lambda _b, n=name: self.export_evidence(n))
        self.export_status = w.HTML()
        self.min_severity.observe(lambda _: self._fill_picker(), names="value")
        self.detector.observe(lambda _: self._fill_picker(), names="value")
        self._quiet = False
        self.picker.observe(lambda _: None if self._quiet else self._show(), names="value")
        tabs = w.Tab(children=[self.evidence_html, self.context_html])
        tabs.set_title(0, "Evidence")
        tabs.set_title(1, "Actor's activity around it")
        self.widget = w.VBox(
            [
                w.HBox([self.min_severity, self.detector]),
                self.picker,
                self.summary,
                self.timeline,
                tabs,
                w.HBox(list(self.export_buttons.values())),
                self.export_status,
            ]
        )
        self.widget.add_class("auditkit-findings")
        self._fill_picker()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        return f"<FindingsBrowser: {self.findings.height} finding(s)>"

    # -- choosing --------------------------------------------------------------------
    def _visible(self) -> pl.DataFrame:
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        keep = [s for s in SEVERITIES if rank[s] >= rank[self.min_severity.value]]
        shown = self.findings.with_row_index("_i").filter(pl.col("severity").is_in(keep))
        if self.detector.value:
            shown = shown.filter(pl.col("detector") == self.detector.value)
        return shown

    def _fill_picker(self) -> None:
        shown = self._visible()
        options = [(_label(r), r["_i"]) for r in shown.iter_rows(named=True)]
        self._quiet = True
        try:
            self.picker.options = options
            self.picker.value = options[0][1] if options else None
        finally:
            self._quiet = False
        self._show()

    def select(self, finding: int | str) -> None:
        """Show a finding: its row number in :attr:`findings`, or its ``finding_id``."""
        if isinstance(finding, str):
            hits = self.findings.with_row_index("_i").filter(pl.col("finding_id") == finding)
            if not hits.height:
                raise UsageError(f"no finding with finding_id {finding!r}")
            finding = int(hits["_i"][0])
        if finding not in dict(self.picker.options).values():
            self.min_severity.value = "low"
            self.detector.value = ""
        self.picker.value = finding

    @property
    def selected(self) -> dict[str, Any] | None:
        """The finding shown (a row dict), or ``None``."""
        if self.picker.value is None:
            return None
        return self.findings.row(int(self.picker.value), named=True)

    @property
    def evidence(self) -> pl.DataFrame:
        """The events the shown finding cites."""
        return self._evidence

    @property
    def context(self) -> pl.DataFrame:
        """The related events around the shown finding (``is_evidence`` marks the cited)."""
        return self._context

    def chart(self) -> alt.Chart:
        """The shown finding's timeline as an Altair chart (for notebooks and reports)."""
        from auditkit.analytics import evidence_timeline_chart

        f = self.selected
        if f is None:
            raise UsageError("no finding is selected")
        return evidence_timeline_chart(self.events, f, before=self.before, after=self.after)

    # -- showing -----------------------------------------------------------------------
    def _show(self) -> None:
        f = self.selected
        if f is None:
            self._evidence = self._context = self.events.clear()
            self.summary.value = "<p><i>no findings at this level</i></p>"
            self.timeline.value = self.evidence_html.value = self.context_html.value = ""
            return
        self._evidence = finding_evidence(self.events, f)
        self._context = finding_context(self.events, f, before=self.before, after=self.after)
        colour = _SEVERITY_COLOURS.get(f["severity"], "#333")
        score = f" · score {f['score']:.2f}" if f.get("score") is not None else ""
        self.summary.value = (
            f"<p><b style='color:{colour}'>{html.escape(f['severity'].upper())}</b> "
            f"<b>{html.escape(f['detector'])}</b> in tenant {html.escape(f['tenant_id'])}"
            f"{score} · finding <code>{html.escape(f['finding_id'] or '')}</code><br>"
            f"{html.escape(f['summary'] or '')}<br><span style='color:#555'>"
            f"{f['first_seen']:%Y-%m-%d %H:%M:%S} – {f['last_seen']:%Y-%m-%d %H:%M:%S} UTC · "
            f"{len(f['event_ids'] or [])} evidence event(s) · {self._context.height} related "
            f"event(s) within {self.before} before and {self.after} after</span></p>"
        )
        self.timeline.value = self._timeline_svg()
        self.evidence_html.value = self._table(self._evidence, highlight=None)
        self.context_html.value = self._table(self._context, highlight="is_evidence")

    def _table(self, frame: pl.DataFrame, *, highlight: str | None) -> str:
        note = ""
        if frame.height > _MAX_ROWS:
            note = (
                f"<p style='color:#555'>first {_MAX_ROWS} of {frame.height:,} events; "
                "export them all below</p>"
            )
        return note + table_html(frame.head(_MAX_ROWS), _COLUMNS, highlight=highlight)

    def _timeline_svg(self) -> str:
        import vl_convert as vlc

        try:
            svg: str = vlc.vegalite_to_svg(self.chart().to_dict())
        except Exception as exc:  # a chart that cannot render must not hide the evidence
            return f"<p style='color:#555'>(no timeline: {html.escape(str(exc))})</p>"
        return svg

    # -- export ------------------------------------------------------------------------
    def export_evidence(self, format: str, path: str | Path | None = None) -> ExportResult:
        """Write the shown finding's evidence events (``format``: a registered export format)."""
        fmt = available_export_formats()[format]
        f = self.selected
        if f is None:
            raise UsageError("no finding is selected")
        if path is None:
            path = self.export_dir / f"evidence-{f['detector']}-{f['finding_id']}{fmt.suffix}"
        result = export_frame(self._evidence, path, format=format)
        self.last_export = result
        link = download_link(result.path, fmt.media_type, limit=self.download_limit)
        self.export_status.value = (
            f"Wrote {result.rows:,} evidence events to <code>{html.escape(result.path.name)}"
            f"</code> ({format}, {human_size(result.bytes)}) · {link}"
        )
        return result
