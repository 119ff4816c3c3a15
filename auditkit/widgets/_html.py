"""Small HTML and SVG renderers shared by the widgets.

The widgets redraw on every filter change, so their charts are plain SVG
strings built here in a millisecond or two (no JavaScript, nothing loaded from
the network, identical in every front end); the Altair charts of
:mod:`auditkit.analytics.charts` are for notebooks and reports.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

__all__ = [
    "OUTCOME_COLOURS",
    "bar_chart_svg",
    "download_link",
    "human_size",
    "table_html",
    "timeline_svg",
]

#: Colours of the outcomes, shared by every chart.
OUTCOME_COLOURS: Final = {
    "success": "#4c78a8",
    "failure": "#e45756",
    "denied": "#f58518",
    "error": "#b279a2",
}
_FONT: Final = "font-family:var(--jp-ui-font-family,sans-serif);font-size:11px"
_TABLE_CSS: Final = (
    "<style>.ak-t{border-collapse:collapse;font-size:12px;width:100%}"
    ".ak-t th{text-align:left;border-bottom:1px solid #999;padding:2px 6px;white-space:nowrap}"
    ".ak-t td{border-bottom:1px solid #e5e5e5;padding:2px 6px;vertical-align:top}"
    ".ak-t tr.ak-hi td{background:#fff3cd}"
    ".ak-t td.ak-bad{color:#cf222e;font-weight:600}</style>"
)

Cell = Callable[[Any], str]


def human_size(n: int) -> str:
    """A byte count for people.

    Examples
    --------
    >>> human_size(532), human_size(2_500_000)
    ('532 B', '2.4 MB')
    """
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _text(value: Any, limit: int = 90) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    if len(text) <= limit:
        return html.escape(text)
    return f'<span title="{html.escape(text)}">{html.escape(text[: limit - 1])}…</span>'


def table_html(
    frame: pl.DataFrame,
    columns: Mapping[str, str] | Sequence[str] | None = None,
    *,
    highlight: str | None = None,
    empty: str = "no events",
) -> str:
    """An HTML table of a (small) frame; ``columns`` maps header -> column.

    Non-success outcomes are shown in red; rows whose boolean ``highlight``
    column is true are shaded.  Text is escaped and long cells are shortened
    (the full text is in the tooltip).

    Examples
    --------
    >>> df = pl.DataFrame({"action": ["user.login"], "outcome": ["failure"]})
    >>> "<td class='ak-bad'>failure</td>" in table_html(df)
    True
    >>> table_html(df.clear())
    '<p><i>no events</i></p>'
    """
    if not frame.height:
        return f"<p><i>{html.escape(empty)}</i></p>"
    if columns is None:
        columns = list(frame.columns)
    mapping = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    heads = "".join(f"<th>{html.escape(h)}</th>" for h in mapping)
    data = {c: frame.get_column(c).to_list() for c in set(mapping.values())}
    marks = frame.get_column(highlight).to_list() if highlight else [False] * frame.height
    rows = []
    for i in range(frame.height):
        cells = []
        for column in mapping.values():
            value = data[column][i]
            bad = column == "outcome" and value not in (None, "success")
            cls = " class='ak-bad'" if bad else ""
            cells.append(f"<td{cls}>{_text(value)}</td>")
        cls = " class='ak-hi'" if marks[i] else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"{_TABLE_CSS}<table class='ak-t'><tr>{heads}</tr>{''.join(rows)}</table>"


def bar_chart_svg(
    labels: Sequence[str],
    values: Sequence[int],
    *,
    title: str,
    width: int = 320,
    bar: int = 16,
    colour: str = "#4c78a8",
) -> str:
    """A horizontal bar chart (top-N) as an SVG string.

    Examples
    --------
    >>> svg = bar_chart_svg(["user.login", "document.read"], [120, 80], title="Top actions")
    >>> svg.startswith("<svg") and svg.count("<rect") == 2
    True
    """
    label_w = 150
    height = 22 + bar * max(len(labels), 1) + 4
    top = max(values, default=0) or 1
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"style='{_FONT}'><text x='0' y='12' font-weight='bold'>{html.escape(title)}</text>"
    ]
    if not labels:
        out.append("<text x='0' y='34' fill='#888'>no events</text>")
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 20 + i * bar
        w = max(1.0, (width - label_w - 50) * value / top)
        name = label if len(label) <= 24 else label[:23] + "…"
        out.append(
            f"<text x='{label_w - 4}' y='{y + bar - 5}' text-anchor='end'>{html.escape(name)}"
            f"</text><rect x='{label_w}' y='{y + 2}' width='{w:.1f}' height='{bar - 4}' "
            f"fill='{colour}'><title>{html.escape(label)}: {value:,}</title></rect>"
            f"<text x='{label_w + w + 4:.1f}' y='{y + bar - 5}' fill='#555'>{value:,}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def timeline_svg(
    counts: pl.DataFrame,
    *,
    start: datetime,
    width_us: int,
    buckets: int,
    title: str,
    width: int = 660,
    height: int = 130,
) -> str:
    """A stacked bar timeline as an SVG string.

    Parameters
    ----------
    counts
        Columns ``bucket`` (int, from 0), ``outcome`` and ``len``.
    start, width_us, buckets
        Where bucket 0 starts, each bucket's width in microseconds, how many.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> c = pl.DataFrame({"bucket": [0, 0, 2], "outcome": ["success", "failure", "success"],
    ...                   "len": [5, 1, 3]})
    >>> svg = timeline_svg(c, start=datetime(2026, 1, 5, tzinfo=timezone.utc),
    ...                    width_us=86_400_000_000, buckets=3, title="Events per day")
    >>> svg.count("<title>"), "2026-01-05" in svg
    (3, True)
    """
    left, bottom, top_pad = 44, 18, 18
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    totals = counts.group_by("bucket").agg(pl.col("len").sum()) if counts.height else counts
    peak = int(totals["len"].max() or 1) if totals.height else 1  # type: ignore[arg-type]
    bw = plot_w / max(buckets, 1)
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"style='{_FONT}'><text x='0' y='12' font-weight='bold'>{html.escape(title)}</text>",
        f"<text x='{left - 4}' y='{top_pad + 8}' text-anchor='end' fill='#555'>{peak:,}"
        f"</text><text x='{left - 4}' y='{top_pad + plot_h}' text-anchor='end' "
        f"fill='#555'>0</text><line x1='{left}' x2='{left + plot_w}' y1='{top_pad + plot_h}'"
        f" y2='{top_pad + plot_h}' stroke='#999'/>",
    ]
    stacked: dict[int, float] = {}
    order = {name: i for i, name in enumerate(OUTCOME_COLOURS)}
    rows = sorted(counts.iter_rows(), key=lambda r: (r[0], order.get(r[1], 9)))
    for bucket, outcome, n in rows:
        h = plot_h * n / peak
        base = stacked.get(bucket, 0.0)
        stacked[bucket] = base + h
        x = left + bucket * bw
        y = top_pad + plot_h - base - h
        when = datetime.fromtimestamp((_us(start) + bucket * width_us) / 1e6, UTC)
        out.append(
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(bw - 1, 0.8):.1f}' "
            f"height='{h:.1f}' fill='{OUTCOME_COLOURS.get(outcome, '#888')}'><title>"
            f"{when:%Y-%m-%d %H:%M}: {n:,} {html.escape(str(outcome))}</title></rect>"
        )
    for frac in (0.0, 0.5, 1.0):
        when = datetime.fromtimestamp((_us(start) + frac * buckets * width_us) / 1e6, UTC)
        anchor = {0.0: "start", 0.5: "middle", 1.0: "end"}[frac]
        label = f"{when:%Y-%m-%d}" if width_us >= 86_400_000_000 else f"{when:%Y-%m-%d %H:%M}"
        out.append(
            f"<text x='{left + frac * plot_w:.1f}' y='{height - 4}' "
            f"text-anchor='{anchor}' fill='#555'>{label}</text>"
        )
    legend_x = width - 8
    for name in reversed(list(OUTCOME_COLOURS)):
        legend_x -= 62
        out.append(
            f"<rect x='{legend_x}' y='4' width='9' height='9' "
            f"fill='{OUTCOME_COLOURS[name]}'/><text x='{legend_x + 12}' y='12'>{name}"
            "</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _us(ts: datetime) -> int:
    return int(ts.timestamp() * 1_000_000)


def download_link(path: Path, media_type: str, *, limit: int) -> str:
    """An HTML link offering ``path`` for download (a data URL up to ``limit`` bytes).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("a,b\\n")
    >>> download_link(p, "text/csv", limit=1000)
    "<a download='x.csv' href='data:text/csv;base64,YSxiCg=='>download x.csv</a>"
    >>> "too large" in download_link(p, "text/csv", limit=1)
    True
    """
    size = path.stat().st_size
    name = html.escape(path.name, quote=True)
    if size > limit:
        return (
            f"<span>(too large to offer here, {human_size(size)}: "
            f"the file is <code>{html.escape(str(path))}</code>)</span>"
        )
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<a download='{name}' href='data:{media_type};base64,{data}'>download {name}</a>"
