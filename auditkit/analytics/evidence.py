"""From a finding to its evidence: the events it cites, what surrounds them, a timeline.

A finding (a row of :data:`~auditkit.analytics.detectors.registry.FINDINGS_SCHEMA`)
lists its evidence ``event_ids``.  :func:`finding_evidence` returns those events,
:func:`finding_context` the related events around them (the same actor, or for
findings without an actor the actors and source IPs of the evidence) flagged
``is_evidence``, and :func:`evidence_timeline_chart` draws the context as an
Altair timeline, offline (data inline).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from auditkit.analytics.detectors.common import Events, T, duration
from auditkit.errors import UsageError
from auditkit.frame import as_event_frame

if TYPE_CHECKING:
    import altair as alt

__all__ = ["evidence_timeline_chart", "finding_context", "finding_evidence"]

Finding = Mapping[str, Any] | pl.DataFrame

_MAX_POINTS = 2000
_MAX_BINS = 300
_BINS = (
    ("1m", timedelta(minutes=1)),
    ("5m", timedelta(minutes=5)),
    ("15m", timedelta(minutes=15)),
    ("1h", timedelta(hours=1)),
    ("6h", timedelta(hours=6)),
    ("1d", timedelta(days=1)),
    ("1w", timedelta(weeks=1)),
)


def _one(finding: Finding) -> dict[str, Any]:
    if isinstance(finding, pl.DataFrame):
        if finding.height != 1:
            raise UsageError(f"expected one finding (a row), got a frame of {finding.height} rows")
        return finding.row(0, named=True)
    missing = {"tenant_id", "event_ids", "first_seen", "last_seen"} - set(finding)
    if missing:
        raise UsageError(f"expected a finding with {sorted(missing)}, got keys {sorted(finding)}")
    return dict(finding)


def finding_evidence(events: Events, finding: Finding) -> pl.DataFrame:
    """The events a finding cites, in time order (all event columns).

    Parameters
    ----------
    events
        The event frame the finding came from (eager or lazy).
    finding
        One finding: a row dict (``findings.row(i, named=True)``) or a one-row frame.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.detectors import run_detectors
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...      "action": "audit_log.disable", "actor": {"id": "mallory"}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:10:00Z",
    ...      "action": "document.read", "actor": {"id": "mallory"}}])
    >>> finding = run_detectors(df).row(0, named=True)
    >>> finding_evidence(df, finding).select("action", "actor_id").rows()
    [('audit_log.disable', 'mallory')]
    """
    f = _one(finding)
    ids = list(f["event_ids"] or [])
    return (
        as_event_frame(events)
        .lazy()
        .filter((pl.col("tenant_id") == f["tenant_id"]) & pl.col("event_id").is_in(ids))
        .sort("occurred_at", "seq")
        .collect()
    )


def finding_context(
    events: Events,
    finding: Finding,
    *,
    before: str | timedelta = "1h",
    after: str | timedelta = "1h",
    limit: int = 5000,
) -> pl.DataFrame:
    """The related events around a finding, with ``is_evidence`` marking the cited ones.

    Related events are those of the finding's actor, or, for findings without an
    actor (a source IP spraying passwords, a logging gap), those whose actor or
    source IP appears in the evidence; always of the finding's tenant, from
    ``first_seen - before`` to ``last_seen + after``.  At most ``limit`` events,
    the evidence first.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.detectors import run_detectors
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...      "action": "audit_log.disable", "actor": {"id": "mallory"}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:10:00Z",
    ...      "action": "document.read", "actor": {"id": "mallory"}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:10:00Z",
    ...      "action": "document.read", "actor": {"id": "alice"}}])
    >>> finding = run_detectors(df).row(0, named=True)
    >>> finding_context(df, finding).select("action", "actor_id", "is_evidence").rows()
    [('audit_log.disable', 'mallory', True), ('document.read', 'mallory', False)]
    """
    f = _one(finding)
    lo = f["first_seen"] - duration(before, name="before")
    hi = f["last_seen"] + duration(after, name="after")
    ids = list(f["event_ids"] or [])
    lf = (
        as_event_frame(events)
        .lazy()
        .filter((pl.col("tenant_id") == f["tenant_id"]) & pl.col("occurred_at").is_between(lo, hi))
    )
    if f.get("actor_id") is not None:
        related = pl.col("actor_id") == f["actor_id"]
    else:
        cited = finding_evidence(events, f)
        actors = cited["actor_id"].drop_nulls().unique().to_list()
        ips = cited["source_ip"].drop_nulls().unique().to_list()
        related = pl.col("actor_id").is_in(actors) | pl.col("source_ip").is_in(ips)
    evidence = pl.col("event_id").is_in(ids)
    return (
        lf.filter(related | evidence)
        .with_columns(is_evidence=evidence)
        .sort("is_evidence", "occurred_at", descending=[True, False])
        .head(limit)
        .sort("occurred_at", "seq")
        .collect()
    )


#: An axis label in UTC: the date at midnight, else the date and a 24-hour time.
_UTC_LABEL: Final = (
    "utchours(datum.value) == 0 && utcminutes(datum.value) == 0 "
    "? utcFormat(datum.value, '%Y-%m-%d') : utcFormat(datum.value, '%Y-%m-%d %H:%M')"
)


def _title_lines(title: str, width: int = 90, most: int = 4) -> list[str]:
    """A chart title wrapped to lines that fit, whole up to ``most`` lines.

    >>> _title_lines("a " * 60, width=40)
    ['a a a a a a a a a a a a a a a a a a a a', 'a a a a a a a a a a a a a a a a a a a a', 'a a a a a a a a a a a a a a a a a a a a']
    """  # noqa: E501
    import textwrap

    lines = textwrap.wrap(title, width) or [""]
    if len(lines) > most:
        lines = [*lines[: most - 1], textwrap.shorten(" ".join(lines[most - 1 :]), width)]
    return lines


def evidence_timeline_chart(
    events: Events,
    finding: Finding,
    *,
    before: str | timedelta = "1h",
    after: str | timedelta = "1h",
    width: int = 640,
) -> alt.Chart:
    """A timeline of a finding's context: one row per action, evidence highlighted.

    Points carry the event id, actor, outcome and source IP as tooltips.  Beyond
    2000 events the chart shows counts per action and time bin (a minute to a week,
    at most 300 bins) instead of events.
    The data is inline: the chart renders offline (``chart.save("x.png")``).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.detectors import run_detectors
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...      "action": "audit_log.disable", "actor": {"id": "mallory"}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:10:00Z",
    ...      "action": "document.read", "actor": {"id": "mallory"}}])
    >>> chart = evidence_timeline_chart(df, run_detectors(df).row(0, named=True))
    >>> spec = chart.to_dict()
    >>> len(spec["data"]["values"]), spec["mark"]["type"]
    (2, 'point')
    """
    import altair as alt

    from auditkit.analytics.charts import inline_data

    f = _one(finding)
    ctx = finding_context(events, f, before=before, after=after)
    title = str(f.get("summary") or f.get("detector") or "finding")
    if ctx.height > _MAX_POINTS:
        span: timedelta = ctx.select(T.max() - T.min()).item()
        every = next((b for b, td in _BINS if span / td <= _MAX_BINS), _BINS[-1][0])
        data = ctx.group_by(pl.col("occurred_at").dt.truncate(every), "action", "is_evidence").agg(
            events=pl.len()
        )
        tooltip: list[Any] = ["occurred_at:T", "action:N", "events:Q", "is_evidence:N"]
        size: Any = alt.Size("events:Q", title=f"events per {every}")
    else:
        data = ctx.select(
            "occurred_at",
            "action",
            "is_evidence",
            "event_id",
            "actor_id",
            "outcome",
            "source_ip",
        )
        tooltip = [
            "occurred_at:T",
            "action:N",
            "event_id:N",
            "actor_id:N",
            "outcome:N",
            "source_ip:N",
        ]
        size = alt.value(60)
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title=alt.Title(_title_lines(title), fontSize=12))
        .mark_point(filled=True)
        .encode(
            # UTC whatever the viewer's zone, and a 24-hour clock: 13:11 was shown "01:11"
            x=alt.X(
                "occurred_at:T",
                title="time (UTC)",
                scale=alt.Scale(type="utc"),
                axis=alt.Axis(labelExpr=_UTC_LABEL, labelOverlap=True),
            ),
            y=alt.Y("action:N", title=None),
            color=alt.Color(
                "is_evidence:N",
                title="evidence",
                scale=alt.Scale(domain=[True, False], range=["#d62728", "#9e9e9e"]),
            ),
            size=size,
            tooltip=tooltip,
        )
        .properties(width=width)
    )
    return chart
