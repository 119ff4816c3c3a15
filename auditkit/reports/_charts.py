"""Vega-Lite specifications for the report's charts, built from small aggregated frames.

Plain dicts with the data inline (no URL, no CDN): the HTML renderer turns each into
inline SVG with vl-convert, offline and byte-identical between runs.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import polars as pl

from auditkit.reports.model import Chart

__all__ = [
    "completeness_chart",
    "coverage_chart",
    "failures_chart",
    "findings_chart",
    "lifecycle_chart",
    "status_chart",
    "time_axis",
    "title_lines",
    "values",
    "volume_chart",
]

MAX_POINTS: Final = 5000
_WIDTH: Final = 620
_SEVERITY: Final = {
    "domain": ["critical", "high", "medium", "low"],
    "range": ["#8b0000", "#d1242f", "#d4a72c", "#8c959f"],
}
_STATUS: Final = {
    "domain": ["pass", "evidence_present", "not_assessable", "needs_review", "fail"],
    "range": ["#1a7f37", "#0969da", "#6e7781", "#d4a72c", "#cf222e"],
}


def values(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: timestamps as ISO 8601 text (at most 5000 rows).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> values(pl.DataFrame({"t": [datetime(2026, 1, 5, tzinfo=timezone.utc)], "n": [3]}))
    [{'t': '2026-01-05T00:00:00Z', 'n': 3}]
    """
    conv = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            conv.append(col.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        elif isinstance(dtype, pl.Float32 | pl.Float64):
            conv.append(col.round(4))
        else:
            conv.append(col)
    return frame.head(MAX_POINTS).select(conv).to_dicts()


def title_lines(title: str, width: int = _WIDTH) -> list[str]:
    """A chart title wrapped into lines that fit ``width`` pixels (never cut off: the
    full title is also the chart's caption and its accessible name).

    Examples
    --------
    >>> title_lines("Events per day and source")
    ['Events per day and source']
    >>> [len(x) <= 24 for x in title_lines("Share of events carrying each field", 90)]
    [True, True]
    """
    return textwrap.wrap(title, max(24, width // 8), break_long_words=True) or [title]


def _interval(frame: pl.DataFrame, field: str) -> dict[str, Any]:
    """Tick spacing for a time axis over the frame's span: days, weeks, or months for long
    ones (never hours: the charts' times are whole days)."""
    column = frame.get_column(field) if field in frame.columns else None
    first, last = (column.min(), column.max()) if column is not None else (None, None)
    days = (last - first).days if isinstance(first, datetime) and isinstance(last, datetime) else 0
    if days <= 62:
        return {"interval": "day", "step": max(1, math.ceil((days + 1) / 10))}
    if days <= 180:
        return {"interval": "week", "step": max(1, math.ceil(days / 7 / 10))}
    return {"interval": "month", "step": max(1, math.ceil(days / 30.4 / 10))}


def time_axis(frame: pl.DataFrame, field: str, title: str) -> dict[str, Any]:
    """An x encoding for UTC times: a UTC scale (the charts never depend on the time zone
    of the machine that draws them), ISO dates on the ticks and 24-hour times where a tick
    falls inside a day, e.g. ``2026-03-02 13:11`` (never ``01:11`` on a 12-hour clock).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> day = pl.DataFrame({"day": [datetime(2026, 3, 2, tzinfo=timezone.utc)]})
    >>> x = time_axis(day, "day", "day")
    >>> x["scale"], x["axis"]["tickCount"], x["title"]
    ({'type': 'utc'}, {'interval': 'day', 'step': 1}, 'day (UTC)')
    """
    return {
        "field": field,
        "type": "temporal",
        "title": f"{title} (UTC)",
        "scale": {"type": "utc"},
        "axis": {
            "tickCount": _interval(frame, field),
            "labelExpr": (
                "utchours(datum.value) == 0 && utcminutes(datum.value) == 0 "
                "? utcFormat(datum.value, '%Y-%m-%d') "
                ": utcFormat(datum.value, '%Y-%m-%d %H:%M')"
            ),
            "labelOverlap": True,
        },
    }


def _spec(frame: pl.DataFrame, title: str, *, width: int = _WIDTH, **body: Any) -> dict[str, Any]:
    return {
        "title": {"text": title_lines(title, width), "anchor": "start"},
        "width": _WIDTH,
        "data": {"values": values(frame)},
        **body,
        "config": {"font": "Helvetica, Arial, sans-serif", "view": {"stroke": None}},
    }


def status_chart(counts: Mapping[str, int]) -> Chart:
    """Controls per status, one horizontal bar.

    Examples
    --------
    >>> status_chart({"pass": 3, "needs_review": 1, "fail": 0}).spec["mark"]["type"]
    'bar'
    """
    frame = pl.DataFrame({"status": list(counts), "controls": list(counts.values())})
    spec = _spec(
        frame,
        "Controls by status",
        height=40,
        mark={"type": "bar"},
        encoding={
            "x": {
                "field": "controls",
                "type": "quantitative",
                "stack": "zero",
                "title": "controls",
            },
            "color": {"field": "status", "type": "nominal", "scale": _STATUS},
            "order": {"field": "status", "sort": "descending"},
        },
    )
    return Chart("status", "Controls by status", spec)


def coverage_chart(counts: pl.DataFrame) -> Chart:
    """Heat map of events per event class and source (from ``SectionSet.class_counts``)."""
    frame = counts.group_by("event_class", "source").agg(pl.col("events").sum())
    spec = _spec(
        frame,
        "Events per class and source",
        width=90 * frame.get_column("source").n_unique() + 120,
        height={"step": 18},
        layer=[
            {
                "mark": {"type": "rect"},
                "encoding": {
                    "color": {
                        "field": "events",
                        "type": "quantitative",
                        "scale": {"type": "log", "scheme": "blues"},
                    }
                },
            },
            {
                "mark": {"type": "text", "fontSize": 10},
                "encoding": {"text": {"field": "events", "type": "quantitative"}},
            },
        ],
        encoding={
            "x": {"field": "source", "type": "nominal", "title": "source"},
            "y": {"field": "event_class", "type": "nominal", "title": None},
        },
    )
    spec["width"] = {"step": 90}
    return Chart("coverage", "Events per class and source", spec)


def completeness_chart(long: pl.DataFrame) -> Chart:
    """Heat map of field completeness per source (from the fields section's detail)."""
    frame = (
        long.filter(pl.col("share").is_not_null())
        .group_by("source", "field")
        .agg(share=pl.col("present").sum() / pl.col("applicable").sum())
    )
    spec = _spec(
        frame,
        "Share of events carrying each field",
        width=90 * frame.get_column("source").n_unique() + 120,
        height={"step": 18},
        layer=[
            {
                "mark": {"type": "rect"},
                "encoding": {
                    "color": {
                        "field": "share",
                        "type": "quantitative",
                        "scale": {"domain": [0.9, 1], "clamp": True, "scheme": "redyellowgreen"},
                    }
                },
            },
            {
                "mark": {"type": "text", "fontSize": 10},
                "encoding": {"text": {"field": "share", "type": "quantitative", "format": ".1%"}},
            },
        ],
        encoding={
            "x": {"field": "source", "type": "nominal"},
            "y": {"field": "field", "type": "nominal", "title": None},
        },
    )
    spec["width"] = {"step": 90}
    return Chart("completeness", "Field completeness", spec)


def lifecycle_chart(weekly: pl.DataFrame) -> Chart:
    """Account and privilege changes per week, stacked by kind."""
    spec = _spec(
        weekly,
        "Account and privilege changes per week",
        height=160,
        mark={"type": "bar"},
        encoding={
            "x": time_axis(weekly, "week", "week"),
            "y": {"field": "events", "type": "quantitative"},
            "color": {"field": "change", "type": "nominal"},
        },
    )
    return Chart("lifecycle", "Account and privilege changes per week", spec)


def failures_chart(daily: pl.DataFrame) -> Chart:
    """Failed and denied events per day."""
    spec = _spec(
        daily,
        "Failed and denied events per day",
        height=160,
        mark={"type": "bar"},
        encoding={
            "x": time_axis(daily, "day", "day"),
            "y": {"field": "events", "type": "quantitative"},
            "color": {
                "field": "outcome",
                "type": "nominal",
                "scale": {"domain": ["failure", "denied"], "range": ["#cf222e", "#d4a72c"]},
            },
        },
    )
    return Chart("failures", "Failed and denied events per day", spec)


def findings_chart(by: pl.DataFrame) -> Chart:
    """Findings per detector, coloured by severity."""
    spec = _spec(
        by,
        "Findings per detector",
        height={"step": 16},
        mark={"type": "bar"},
        encoding={
            "y": {"field": "detector", "type": "nominal", "title": None, "sort": "-x"},
            "x": {"field": "findings", "type": "quantitative"},
            "color": {"field": "severity", "type": "nominal", "scale": _SEVERITY},
        },
    )
    return Chart("findings", "Findings per detector", spec)


def volume_chart(daily: pl.DataFrame) -> Chart:
    """Events per day and source (summed over tenants), one line per source."""
    frame = daily.group_by("day", "source").agg(pl.col("events").sum()).sort("day", "source")
    spec = _spec(
        frame,
        "Events per day and source",
        height=180,
        mark={"type": "line", "point": False, "interpolate": "step-after"},
        encoding={
            "x": time_axis(frame, "day", "day"),
            "y": {"field": "events", "type": "quantitative", "scale": {"type": "symlog"}},
            "color": {"field": "source", "type": "nominal"},
        },
    )
    return Chart("volume", "Events per day and source", spec)
