"""Altair charts for the insights: one ``<insight>_chart(frame) -> alt.Chart`` per insight.

Each takes the frame its insight returns (``active_actors_chart(active_actors(events))``)
and keeps the data small and inline (no URLs, renders offline; save with
``chart.save("x.png")`` or ``chart.save("x.html", inline=True)``).  Frames with
many tenants are cut to the busiest ``max_tenants`` so that a chart stays readable
and under Altair's 5000-row limit.
"""

from __future__ import annotations

from typing import Any, Final

import altair as alt
import polars as pl

from auditkit.errors import UsageError

__all__ = [
    "active_actors_chart",
    "activity_heatmap_chart",
    "dau_wau_mau_chart",
    "failure_rates_chart",
    "feature_adoption_chart",
    "inline_data",
    "new_vs_returning_chart",
    "sessions_chart",
    "tenant_comparison_chart",
    "top_actions_chart",
    "top_actors_chart",
    "top_targets_chart",
]

MAX_ROWS: Final = 5000
_WIDTH: Final = 560


def inline_data(frame: pl.DataFrame) -> alt.Data:
    """The frame as inline Vega-Lite values: timestamps as ISO 8601 text, durations as
    seconds, lists joined with ``" → "``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> inline_data(pl.DataFrame({"t": [datetime(2026, 1, 5, tzinfo=timezone.utc)],
    ...                           "n": [3]})).to_dict()
    {'values': [{'t': '2026-01-05T00:00:00Z', 'n': 3}]}
    """
    if frame.height > MAX_ROWS:
        raise UsageError(f"chart data: expected at most {MAX_ROWS} rows, got {frame.height}")
    conv = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            conv.append(col.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        elif isinstance(dtype, pl.Duration):
            conv.append(col.dt.total_microseconds() / 1e6)
        elif isinstance(dtype, pl.List):
            conv.append(col.cast(pl.List(pl.String)).list.join(" → "))
        else:
            conv.append(col)
    return alt.Data(values=frame.select(conv).to_dicts())  # type: ignore[no-untyped-call]


def _busiest(frame: pl.DataFrame, weight: str, max_tenants: int) -> pl.DataFrame:
    if "tenant_id" not in frame.columns:
        return frame
    top = (
        frame.group_by("tenant_id")
        .agg(pl.col(weight).sum())
        .sort([weight, "tenant_id"], descending=[True, False])
        .head(max_tenants)["tenant_id"]
    )
    return frame.filter(pl.col("tenant_id").is_in(top.implode()))


def _need(frame: pl.DataFrame, *columns: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UsageError(f"chart: expected columns {missing}, got {frame.columns}")


def active_actors_chart(frame: pl.DataFrame, *, max_tenants: int = 10) -> alt.Chart:
    """Active actors per period, one line per tenant (from
    :func:`~auditkit.analytics.insights.active_actors`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import active_actors
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}}])
    >>> active_actors_chart(active_actors(df)).to_dict()["mark"]["type"]
    'line'
    """
    _need(frame, "tenant_id", "period", "active_actors")
    data = _busiest(frame, "events" if "events" in frame.columns else "active_actors", max_tenants)
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title="Active actors")
        .mark_line(point=True)
        .encode(
            x=alt.X("period:T", title=None),
            y=alt.Y("active_actors:Q", title="active actors"),
            color=alt.Color("tenant_id:N", title="tenant"),
            tooltip=["tenant_id:N", "period:T", "active_actors:Q", "events:Q"],
        )
        .properties(width=_WIDTH)
    )
    return chart


def dau_wau_mau_chart(frame: pl.DataFrame, *, max_tenants: int = 5) -> alt.Chart:
    """DAU, WAU and MAU lines, one panel row per tenant (from
    :func:`~auditkit.analytics.insights.dau_wau_mau`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import dau_wau_mau
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}}])
    >>> len(dau_wau_mau_chart(dau_wau_mau(df)).to_dict()["data"]["values"])
    3
    """
    _need(frame, "tenant_id", "day", "dau", "wau", "mau")
    data = (
        _busiest(frame, "dau", max_tenants)
        .unpivot(index=["tenant_id", "day"], on=["dau", "wau", "mau"], variable_name="metric")
        .sort("tenant_id", "metric", "day")
    )
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title="Daily, weekly and monthly active actors")
        .mark_line()
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("value:Q", title="active actors"),
            color=alt.Color("metric:N", sort=["dau", "wau", "mau"], title=None),
            row=alt.Row("tenant_id:N", title=None),
            tooltip=["tenant_id:N", "day:T", "metric:N", "value:Q"],
        )
        .properties(width=_WIDTH, height=140)
    )
    return chart


def feature_adoption_chart(
    frame: pl.DataFrame, *, max_actions: int = 8, max_tenants: int = 4
) -> alt.Chart:
    """Adoption (share of actors who have used an action so far) over time, for the most
    used actions (from :func:`~auditkit.analytics.insights.feature_adoption`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import feature_adoption
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "report.export", "actor": {"id": "u1"}}])
    >>> feature_adoption_chart(feature_adoption(df)).to_dict()["encoding"]["y"]["field"]
    'adoption'
    """
    _need(frame, "tenant_id", "period", "action", "adoption", "events")
    data = _busiest(frame, "events", max_tenants)
    top = (
        data.group_by("action")
        .agg(pl.col("events").sum())
        .sort(["events", "action"], descending=[True, False])
        .head(max_actions)["action"]
    )
    data = data.filter(pl.col("action").is_in(top.implode()))
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title="Feature adoption")
        .mark_line(point=True)
        .encode(
            x=alt.X("period:T", title=None),
            y=alt.Y("adoption:Q", title="share of actors", axis=alt.Axis(format="%")),
            color=alt.Color("action:N"),
            row=alt.Row("tenant_id:N", title=None),
            tooltip=["tenant_id:N", "period:T", "action:N", "adopters:Q", "adoption:Q"],
        )
        .properties(width=_WIDTH, height=160)
    )
    return chart


def _top_chart(frame: pl.DataFrame, column: str, title: str, max_tenants: int) -> alt.Chart:
    _need(frame, column, "events")
    data = _busiest(frame, "events", max_tenants)
    enc: dict[str, Any] = {}
    if "tenant_id" in data.columns:
        enc["row"] = alt.Row("tenant_id:N", title=None)
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title=title)
        .mark_bar()
        .encode(
            x=alt.X("events:Q"),
            y=alt.Y(f"{column}:N", sort="-x", title=None),
            tooltip=[f"{column}:N", "events:Q", "actors:Q", alt.Tooltip("share:Q", format=".1%")],
            **enc,
        )
        .properties(width=_WIDTH // 2 * 2)
    )
    return chart


def top_actors_chart(frame: pl.DataFrame, *, max_tenants: int = 4) -> alt.Chart:
    """Bars of the busiest actors (from :func:`~auditkit.analytics.insights.top_actors`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import top_actors
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}}])
    >>> top_actors_chart(top_actors(df)).to_dict()["mark"]["type"]
    'bar'
    """
    return _top_chart(frame, "actor_id", "Busiest actors", max_tenants)


def top_targets_chart(frame: pl.DataFrame, *, max_tenants: int = 4) -> alt.Chart:
    """Bars of the most touched targets (from :func:`~auditkit.analytics.insights.top_targets`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import top_targets
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "document.read", "actor": {"id": "u1"}, "targets": [{"id": "doc-1"}]}])
    >>> top_targets_chart(top_targets(df)).to_dict()["encoding"]["y"]["field"]
    'target_id'
    """
    return _top_chart(frame, "target_id", "Most touched targets", max_tenants)


def top_actions_chart(frame: pl.DataFrame, *, max_tenants: int = 4) -> alt.Chart:
    """Bars of the most frequent actions (from :func:`~auditkit.analytics.insights.top_actions`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import top_actions
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}}])
    >>> top_actions_chart(top_actions(df)).to_dict()["encoding"]["y"]["field"]
    'action'
    """
    return _top_chart(frame, "action", "Most frequent actions", max_tenants)


def failure_rates_chart(frame: pl.DataFrame, *, top: int = 15, max_tenants: int = 4) -> alt.Chart:
    """Stacked bars of failure, denial and error rates for the actions that fail most
    (from :func:`~auditkit.analytics.insights.failure_rates`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import failure_rates
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "outcome": "failure", "actor": {"id": "u1"}}])
    >>> len(failure_rates_chart(failure_rates(df)).to_dict()["data"]["values"])
    3
    """
    _need(frame, "tenant_id", "action", "events", "failure_rate", "denial_rate", "error_rate")
    data = (
        _busiest(frame, "events", max_tenants)
        .sort(["tenant_id", "unsuccessful_rate", "action"], descending=[False, True, False])
        .group_by("tenant_id", maintain_order=True)
        .head(top)
        .unpivot(
            index=["tenant_id", "action", "events"],
            on=["failure_rate", "denial_rate", "error_rate"],
            variable_name="outcome",
            value_name="rate",
        )
        .with_columns(pl.col("outcome").str.replace("_rate", ""))
    )
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title="Unsuccessful outcomes by action")
        .mark_bar()
        .encode(
            x=alt.X("sum(rate):Q", title="share of events", axis=alt.Axis(format="%")),
            y=alt.Y("action:N", sort="-x", title=None),
            color=alt.Color("outcome:N", title=None),
            row=alt.Row("tenant_id:N", title=None),
            tooltip=[
                "tenant_id:N",
                "action:N",
                "outcome:N",
                alt.Tooltip("rate:Q", format=".1%"),
                "events:Q",
            ],
        )
        .properties(width=_WIDTH)
    )
    return chart


def sessions_chart(
    frame: pl.DataFrame, *, bin_minutes: int = 5, max_minutes: int = 240, max_tenants: int = 6
) -> alt.Chart:
    """Histogram of session lengths in minutes, per tenant (from
    :func:`~auditkit.analytics.insights.sessions`).  Sessions are binned before charting;
    the last bin holds everything longer than ``max_minutes``.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import sessions
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": ts, "action": "user.login",
    ...     "actor": {"id": "u1"}} for ts in ["2026-01-05T09:00:00Z", "2026-01-05T09:07:00Z"]])
    >>> sessions_chart(sessions(df)).to_dict()["data"]["values"]
    [{'tenant_id': 'acme', 'minutes': 5, 'sessions': 1, 'events': 2}]
    """
    _need(frame, "tenant_id", "duration", "events")
    minutes = (pl.col("duration").dt.total_seconds() / 60).clip(upper_bound=max_minutes)
    data = (
        frame.with_columns(sessions=pl.lit(1))
        .pipe(_busiest, "sessions", max_tenants)
        .group_by(
            "tenant_id", ((minutes // bin_minutes) * bin_minutes).cast(pl.Int32).alias("minutes")
        )
        .agg(sessions=pl.len(), events=pl.col("events").sum())
        .sort("tenant_id", "minutes")
    )
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title="Session length")
        .mark_bar()
        .encode(
            x=alt.X(
                "minutes:Q",
                bin=alt.BinParams(step=bin_minutes, extent=[0, max_minutes + bin_minutes]),
                title="minutes",
            ),
            y=alt.Y("sessions:Q"),
            color=alt.Color("tenant_id:N", title="tenant"),
            tooltip=["tenant_id:N", "minutes:Q", "sessions:Q", "events:Q"],
        )
        .properties(width=_WIDTH)
    )
    return chart


def activity_heatmap_chart(frame: pl.DataFrame, *, max_tenants: int = 4) -> alt.Chart:
    """Hour x weekday heatmap of events, one panel row per tenant (from
    :func:`~auditkit.analytics.insights.activity_heatmap`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import activity_heatmap
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}}])
    >>> activity_heatmap_chart(activity_heatmap(df)).to_dict()["mark"]["type"]
    'rect'
    """
    _need(frame, "tenant_id", "weekday", "hour", "events")
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    data = _busiest(frame, "events", max_tenants).with_columns(
        day=pl.col("weekday")
        .cast(pl.Int64)
        .replace_strict(dict(enumerate(days, 1)), return_dtype=pl.String)
    )
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title="Events by weekday and hour")
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="hour"),
            y=alt.Y("day:O", sort=days, title=None),
            color=alt.Color("events:Q", scale=alt.Scale(scheme="blues")),
            row=alt.Row("tenant_id:N", title=None),
            tooltip=["tenant_id:N", "day:O", "hour:O", "events:Q", "actors:Q"],
        )
        .properties(width=_WIDTH, height=150)
    )
    return chart


def new_vs_returning_chart(frame: pl.DataFrame, *, max_tenants: int = 4) -> alt.Chart:
    """Stacked bars of new and returning actors per period (from
    :func:`~auditkit.analytics.insights.new_vs_returning`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import new_vs_returning
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}}])
    >>> len(new_vs_returning_chart(new_vs_returning(df)).to_dict()["data"]["values"])
    2
    """
    _need(frame, "tenant_id", "period", "new", "returning", "active")
    data = (
        _busiest(frame, "active", max_tenants)
        .unpivot(
            index=["tenant_id", "period"],
            on=["new", "returning"],
            variable_name="kind",
            value_name="actors",
        )
        .sort("tenant_id", "period", "kind")
    )
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title="New and returning actors")
        .mark_bar()
        .encode(
            x=alt.X("period:T", title=None),
            y=alt.Y("actors:Q"),
            color=alt.Color("kind:N", sort=["new", "returning"], title=None),
            row=alt.Row("tenant_id:N", title=None),
            tooltip=["tenant_id:N", "period:T", "kind:N", "actors:Q"],
        )
        .properties(width=_WIDTH, height=140)
    )
    return chart


def tenant_comparison_chart(frame: pl.DataFrame, *, max_tenants: int = 30) -> alt.Chart:
    """Tenants side by side: events per actor against actors, sized by volume, coloured by
    the share of unsuccessful events (from :func:`~auditkit.analytics.insights.tenant_comparison`).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.analytics.insights import tenant_comparison
    >>> df = events_to_frame([{"tenant_id": t, "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}} for t in ["acme", "globex"]])
    >>> tenant_comparison_chart(tenant_comparison(df)).to_dict()["mark"]["type"]
    'circle'
    """
    _need(frame, "tenant_id", "events", "actors", "events_per_actor", "unsuccessful_rate")
    data = _busiest(frame, "events", max_tenants)
    chart: alt.Chart = (
        alt.Chart(inline_data(data), title="Tenants compared")
        .mark_circle()
        .encode(
            x=alt.X("actors:Q", scale=alt.Scale(zero=False)),
            y=alt.Y("events_per_actor:Q", title="events per actor"),
            size=alt.Size("events:Q"),
            color=alt.Color(
                "unsuccessful_rate:Q", title="unsuccessful", scale=alt.Scale(scheme="orangered")
            ),
            tooltip=[
                "tenant_id:N",
                "events:Q",
                "actors:Q",
                "actions:Q",
                alt.Tooltip("events_per_actor:Q", format=".1f"),
                alt.Tooltip("unsuccessful_rate:Q", format=".1%"),
                alt.Tooltip("admin_share:Q", format=".1%"),
            ],
        )
        .properties(width=_WIDTH)
    )
    return chart
