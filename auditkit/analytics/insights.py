"""Usage insights: functions ``events -> frame``, per tenant, for data teams and reports.

Each has a chart function of the same name plus ``_chart`` in
:mod:`auditkit.analytics.charts` (``active_actors`` -> ``active_actors_chart``).
Inputs are event frames (:data:`auditkit.schema.FRAME_SCHEMA`, eager or lazy);
outputs are small, aggregated frames.  Every grouping includes ``tenant_id``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Literal

import polars as pl

from auditkit.analytics._frames import T, session_label, sessionize
from auditkit.analytics.detectors.common import Events, duration, lazy, positive
from auditkit.errors import UsageError

__all__ = [
    "active_actors",
    "activity_heatmap",
    "dau_wau_mau",
    "failure_rates",
    "feature_adoption",
    "new_vs_returning",
    "sessions",
    "tenant_comparison",
    "top_actions",
    "top_actors",
    "top_targets",
]

_CALENDAR: Final = {"1d", "1w", "1mo", "1q", "1y"}


def _period(every: str) -> pl.Expr:
    if every not in _CALENDAR:
        raise UsageError(f"every: expected one of {sorted(_CALENDAR)}, got {every!r}")
    return T.dt.truncate(every).alias("period")


def active_actors(events: Events, *, every: str = "1d") -> pl.DataFrame:
    """Distinct active actors and events per tenant per calendar period.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    every
        ``"1d"`` (daily active), ``"1w"`` (weeks from Monday), ``"1mo"``, ``"1q"`` or ``"1y"``.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": f"2026-01-0{d}T09:00:00Z",
    ...      "action": "user.login", "actor": {"id": a}}
    ...     for d, a in [(5, "u1"), (5, "u2"), (6, "u1")]])
    >>> active_actors(df).select("period", "active_actors").rows()  # doctest: +NORMALIZE_WHITESPACE
    [(datetime.datetime(2026, 1, 5, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 2),
     (datetime.datetime(2026, 1, 6, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 1)]
    """
    return (
        lazy(events, "tenant_id", "actor_id", "occurred_at")
        .group_by("tenant_id", _period(every))
        .agg(active_actors=pl.col("actor_id").n_unique(), events=pl.len())
        .sort("tenant_id", "period")
        .collect()
    )


def dau_wau_mau(events: Events) -> pl.DataFrame:
    """Daily, weekly and monthly active actors per tenant on every day, over sliding windows
    of 1, 7 and 30 days ending that day, with stickiness (DAU / MAU).

    Each active day of an actor counts for the days until their next active day or
    the window's end, whichever is first, so a sweep over the days gives exact
    distinct counts without expanding the windows.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": f"2026-01-0{d}T09:00:00Z",
    ...      "action": "user.login", "actor": {"id": a}}
    ...     for d, a in [(5, "u1"), (6, "u2"), (8, "u1")]])
    >>> dau_wau_mau(df).select("dau", "wau", "mau").rows()
    [(1, 1, 1), (1, 2, 2), (0, 2, 2), (1, 2, 2)]
    """
    days = (
        lazy(events, "tenant_id", "actor_id", "occurred_at")
        .select("tenant_id", "actor_id", T.dt.truncate("1d").alias("day"))
        .unique()
        .sort("tenant_id", "actor_id", "day")
        .with_columns(_next=pl.col("day").shift(-1).over("tenant_id", "actor_id"))
        .collect()
    )
    grid = (
        days.lazy()
        .group_by("tenant_id")
        .agg(a=pl.col("day").min(), b=pl.col("day").max())
        .select("tenant_id", pl.datetime_ranges("a", "b", interval="1d").alias("day"))
        .explode("day")
    )
    out = grid
    for name, width in (("dau", 1), ("wau", 7), ("mau", 30)):
        end = pl.min_horizontal(
            pl.col("_next").fill_null(pl.col("day") + timedelta(days=width)),
            pl.col("day") + timedelta(days=width),
        )
        deltas = (
            pl.concat(
                [
                    days.lazy().select("tenant_id", "day", _d=pl.lit(1)),
                    days.lazy().select("tenant_id", end.alias("day"), _d=pl.lit(-1)),
                ]
            )
            .group_by("tenant_id", "day")
            .agg(pl.col("_d").sum())
        )
        out = (
            out.join(deltas, on=["tenant_id", "day"], how="left")
            .sort("tenant_id", "day")
            .with_columns(pl.col("_d").fill_null(0).cum_sum().over("tenant_id").alias(name))
            .drop("_d")
        )
    return (
        out.with_columns(
            pl.col("dau", "wau", "mau").cast(pl.UInt32),
            stickiness=(pl.col("dau") / pl.col("mau")).fill_nan(None),
        )
        .sort("tenant_id", "day")
        .collect()
    )


def feature_adoption(
    events: Events, *, every: str = "1w", actions: list[str] | None = None
) -> pl.DataFrame:
    """Per tenant, period and action: events, actors, and adoption so far.

    ``adopters`` counts the actors who have used the action at least once up to
    the end of the period; ``adoption`` divides that by the actors seen in the
    tenant so far.  ``actions`` limits the output (default: all actions).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": ts, "action": a, "actor": {"id": u}}
    ...     for ts, a, u in [("2026-01-05T09:00:00Z", "report.export", "u1"),
    ...                      ("2026-01-05T10:00:00Z", "user.login", "u2"),
    ...                      ("2026-01-12T09:00:00Z", "report.export", "u2")]])
    >>> feature_adoption(df, actions=["report.export"]).select("adopters", "adoption").rows()
    [(1, 0.5), (2, 1.0)]
    """
    lf = lazy(events, "tenant_id", "actor_id", "occurred_at", "action").with_columns(_period(every))
    firsts = lf.group_by("tenant_id", "actor_id", "action").agg(pl.col("period").min())
    new_adopters = firsts.group_by("tenant_id", "action", "period").agg(_new=pl.len())
    seen = (
        lf.group_by("tenant_id", "actor_id")
        .agg(pl.col("period").min())
        .group_by("tenant_id", "period")
        .agg(_new_actors=pl.len())
    )
    usage = lf.group_by("tenant_id", "action", "period").agg(
        events=pl.len(), actors=pl.col("actor_id").n_unique()
    )
    periods = lf.select("tenant_id", "period").unique()
    grid = periods.join(lf.select("tenant_id", "action").unique(), on="tenant_id")
    if actions is not None:
        grid = grid.filter(pl.col("action").is_in(actions))
    return (
        grid.join(usage, on=["tenant_id", "action", "period"], how="left")
        .join(new_adopters, on=["tenant_id", "action", "period"], how="left")
        .join(seen, on=["tenant_id", "period"], how="left")
        .sort("tenant_id", "action", "period")
        .with_columns(
            pl.col("events", "actors").fill_null(0),
            adopters=pl.col("_new").fill_null(0).cum_sum().over("tenant_id", "action"),
            _known=pl.col("_new_actors").fill_null(0).cum_sum().over("tenant_id", "action"),
        )
        .with_columns(adoption=pl.col("adopters") / pl.col("_known"))
        .select("tenant_id", "period", "action", "events", "actors", "adopters", "adoption")
        .collect()
    )


def _top(events: Events, column: str, n: int, by_tenant: bool) -> pl.DataFrame:
    positive(n, "n")
    keys = ["tenant_id"] if by_tenant else []
    return (
        lazy(events, "tenant_id", column, "actor_id")
        .filter(pl.col(column).is_not_null())
        .group_by(*keys, column)
        .agg(events=pl.len(), actors=pl.col("actor_id").n_unique())
        .with_columns(share=pl.col("events") / pl.col("events").sum().over(keys or pl.lit(0)))
        .sort([*keys, "events", column], descending=[False] * len(keys) + [True, False])
        .group_by(keys or pl.lit(0), maintain_order=True)
        .head(n)
        .select(*keys, column, "events", "actors", "share")
        .collect()
    )


def top_actors(events: Events, *, n: int = 10, by_tenant: bool = True) -> pl.DataFrame:
    """The ``n`` busiest actors (per tenant by default), with their share of events.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "document.read", "actor": {"id": a}} for a in ["u1", "u1", "u2"]])
    >>> top_actors(df, n=1).rows()
    [('acme', 'u1', 2, 1, 0.6666666666666666)]
    """
    return _top(events, "actor_id", n, by_tenant)


def top_targets(events: Events, *, n: int = 10, by_tenant: bool = True) -> pl.DataFrame:
    """The ``n`` most touched targets (first target of each event), with distinct actors.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "document.read", "actor": {"id": a}, "targets": [{"id": "doc-1"}]}
    ...     for a in ["u1", "u2"]])
    >>> top_targets(df).select("target_id", "events", "actors").rows()
    [('doc-1', 2, 2)]
    """
    return _top(events, "target_id", n, by_tenant)


def top_actions(events: Events, *, n: int = 10, by_tenant: bool = True) -> pl.DataFrame:
    """The ``n`` most frequent actions, with distinct actors.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": a, "actor": {"id": "u1"}} for a in ["user.login", "document.read",
    ...     "document.read"]])
    >>> top_actions(df, by_tenant=False).select("action", "events").rows()
    [('document.read', 2), ('user.login', 1)]
    """
    return _top(events, "action", n, by_tenant)


def failure_rates(events: Events, *, min_events: int = 1) -> pl.DataFrame:
    """Per tenant and action: events and the rates of each non-success outcome.

    Sorted by the share of events that did not succeed (``failure + denied +
    error``), highest first; actions with fewer than ``min_events`` are left out.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "outcome": o, "actor": {"id": "u1"}}
    ...     for o in ["success", "failure", "failure", "denied"]])
    >>> failure_rates(df).select("action", "events", "failure_rate", "denial_rate").rows()
    [('user.login', 4, 0.5, 0.25)]
    """
    outcome = pl.col("outcome")
    return (
        lazy(events, "tenant_id", "action", "outcome")
        .group_by("tenant_id", "action")
        .agg(
            events=pl.len(),
            failures=(outcome == "failure").sum(),
            denials=(outcome == "denied").sum(),
            errors=(outcome == "error").sum(),
        )
        .filter(pl.col("events") >= min_events)
        .with_columns(
            failure_rate=pl.col("failures") / pl.col("events"),
            denial_rate=pl.col("denials") / pl.col("events"),
            error_rate=pl.col("errors") / pl.col("events"),
        )
        .with_columns(
            unsuccessful_rate=pl.col("failure_rate") + pl.col("denial_rate") + pl.col("error_rate")
        )
        .sort(["tenant_id", "unsuccessful_rate", "action"], descending=[False, True, False])
        .collect()
    )


def sessions(
    events: Events, *, gap: str | timedelta = "30m", max_actions: int = 50
) -> pl.DataFrame:
    """Sessions reconstructed from the events: start, end, length, events and actions.

    A session is a ``session_id`` (per tenant); events without one are grouped
    per actor while consecutive events are no more than ``gap`` apart (their
    ``session`` reads ``~<actor>~<n>``).  ``actions`` lists the session's actions in
    order (the first ``max_actions``).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": ts, "action": a,
    ...     "actor": {"id": "u1"}} for ts, a in [("2026-01-05T09:00:00Z", "user.login"),
    ...     ("2026-01-05T09:05:00Z", "document.read"), ("2026-01-05T15:00:00Z", "user.login")]])
    >>> found = sessions(df).select("duration", "events", "actions")
    >>> found.rows()  # doctest: +NORMALIZE_WHITESPACE
    [(datetime.timedelta(seconds=300), 2, ['user.login', 'document.read']),
    (datetime.timedelta(0), 1, ['user.login'])]
    """
    g = duration(gap, name="gap")
    cols = ("tenant_id", "actor_id", "session_id", "occurred_at", "action")
    return (
        sessionize(lazy(events, *cols), gap=g)
        .group_by("_skey")
        .agg(
            pl.col("tenant_id", "actor_id").first(),
            session_label().first().alias("session"),
            T.min().alias("start"),
            T.max().alias("end"),
            pl.len().alias("events"),
            pl.col("action").head(max_actions).alias("actions"),
        )
        .with_columns(duration=pl.col("end") - pl.col("start"))
        .select("tenant_id", "actor_id", "session", "start", "end", "duration", "events", "actions")
        .sort("tenant_id", "start", "actor_id", "session")
        .collect()
    )


def activity_heatmap(events: Events, *, time_zone: str = "UTC") -> pl.DataFrame:
    """Events per tenant by weekday (1 = Monday) and hour of the day, in ``time_zone``.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}}])
    >>> activity_heatmap(df, time_zone="Europe/Berlin").select("weekday", "hour", "events").rows()
    [(1, 10, 1)]
    """
    local = T.dt.convert_time_zone(time_zone)
    return (
        lazy(events, "tenant_id", "occurred_at", "actor_id")
        .group_by(
            "tenant_id",
            local.dt.weekday().cast(pl.Int8).alias("weekday"),
            local.dt.hour().cast(pl.Int8).alias("hour"),
        )
        .agg(events=pl.len(), actors=pl.col("actor_id").n_unique())
        .sort("tenant_id", "weekday", "hour")
        .collect()
    )


def new_vs_returning(events: Events, *, every: str = "1w") -> pl.DataFrame:
    """Per tenant and period: active actors split into new (first seen in the frame in that
    period) and returning.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": ts, "action": "user.login",
    ...     "actor": {"id": u}} for ts, u in [("2026-01-05T09:00:00Z", "u1"),
    ...     ("2026-01-12T09:00:00Z", "u1"), ("2026-01-12T10:00:00Z", "u2")]])
    >>> new_vs_returning(df).select("active", "new", "returning").rows()
    [(1, 1, 0), (2, 1, 1)]
    """
    lf = lazy(events, "tenant_id", "actor_id", "occurred_at").with_columns(_period(every))
    per = lf.group_by("tenant_id", "actor_id", "period").agg()
    first = per.group_by("tenant_id", "actor_id").agg(_first=pl.col("period").min())
    return (
        per.join(first, on=["tenant_id", "actor_id"])
        .group_by("tenant_id", "period")
        .agg(
            active=pl.len(),
            new=(pl.col("period") == pl.col("_first")).sum(),
        )
        .with_columns(returning=pl.col("active") - pl.col("new"))
        .sort("tenant_id", "period")
        .collect()
    )


def tenant_comparison(
    events: Events, *, sort_by: Literal["events", "actors", "tenant_id"] = "events"
) -> pl.DataFrame:
    """One row per tenant: volume, actors, breadth of use, failure and admin shares, span.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": t, "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}} for t in ["acme", "acme", "globex"]])
    >>> tenant_comparison(df).select("tenant_id", "events", "actors").rows()
    [('acme', 2, 1), ('globex', 1, 1)]
    """
    ok = pl.col("outcome") == "success"
    return (
        lazy(events, "tenant_id", "actor_id", "occurred_at", "action", "category", "outcome")
        .group_by("tenant_id")
        .agg(
            events=pl.len(),
            actors=pl.col("actor_id").n_unique(),
            actions=pl.col("action").n_unique(),
            active_days=T.dt.truncate("1d").n_unique(),
            unsuccessful_rate=(~ok).mean(),
            admin_share=(pl.col("category") == "admin").mean(),
            first_seen=T.min(),
            last_seen=T.max(),
        )
        .with_columns(
            events_per_actor=pl.col("events") / pl.col("actors"),
            events_per_day=pl.col("events") / pl.col("active_days"),
        )
        .sort(sort_by, descending=sort_by != "tenant_id")
        .collect()
    )
