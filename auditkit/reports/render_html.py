"""Self-contained HTML: inline CSS, charts as inline SVG (vl-convert), no network.

The file opens offline, in any browser, and prints well (``@media print``: no
navigation, sections start on new pages, colours kept, table headers repeated).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from auditkit.reports.formats import cell, integrity_header
from auditkit.reports.model import Chart, Report, Status

__all__ = ["chart_svg", "render_html"]

_SVG_OPEN = re.compile(r"^<svg ")
_ID = re.compile(r'\sid="([^"]+)"')


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("auditkit.reports", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = cell
    env.filters["label"] = lambda s: str(s).replace("_", " ")
    return env


def chart_svg(chart: Chart) -> str:
    """The chart rendered to an SVG string by vl-convert (offline, deterministic).

    Examples
    --------
    >>> from auditkit.reports.model import Chart
    >>> spec = {"data": {"values": [{"a": 1, "b": 2}]}, "mark": "bar",
    ...         "encoding": {"x": {"field": "a", "type": "quantitative"}}}
    >>> chart_svg(Chart("c", "C", spec))[:40]
    '<svg role="img" aria-label="C" xmlns="ht'
    """
    import vl_convert

    svg = vl_convert.vegalite_to_svg(dict(chart.spec))
    # vl-convert numbers gradient and clip ids with a process-wide counter: renumber them
    # per chart, so that the page is the same on every run and ids stay unique in it
    ids = list(dict.fromkeys(_ID.findall(svg)))
    for i, old in enumerate(ids):
        new = f"{chart.name}-{i}"
        svg = svg.replace(f'id="{old}"', f'id="{new}"').replace(f"url(#{old})", f"url(#{new})")
        svg = svg.replace(f'href="#{old}"', f'href="#{new}"')
    label = Markup.escape(chart.title)
    return _SVG_OPEN.sub(f'<svg role="img" aria-label="{label}" ', svg.strip(), count=1)


def render_html(report: Report, **options: Any) -> bytes:
    """The report as one self-contained HTML file.

    Parameters
    ----------
    report
        The report.
    charts
        ``False`` leaves the charts out (faster; used by golden tests).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports import build_report_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> page = render_html(build_report_from_frame(df, framework="soc2"), charts=False)
    >>> page.startswith(b"<!DOCTYPE html>"), b"http" in page.replace(b"http://www.w3.org", b"")
    (True, False)
    """
    with_charts = bool(options.get("charts", True))
    css = (
        resources.files("auditkit.reports")
        .joinpath("templates/report.css")
        .read_text(encoding="utf-8")
    )
    svgs = {
        (s.id, c.name): Markup(chart_svg(c)) if with_charts else Markup("")
        for s in report.sections
        for c in s.charts
    }
    page = (
        _env()
        .get_template("report.html.j2")
        .render(
            report=report,
            counts=report.counts(),
            statuses=list(Status),
            integrity_header=integrity_header(report),
            css=Markup(css),
            svgs=svgs,
        )
    )
    return page.encode("utf-8")
