"""Logging gaps: a source silent for much longer than usual.

A source is a tenant's ``observer_service`` (the system that recorded the
events).  "Usual" is learnt per source and hour of the week: how often, in the
other weeks, that hour held at least one event.  A silence is reported when the
hours it covers would normally have held events in at least
``min_expected_hours`` of them (counting only hours that are active in most
weeks): an agent that stopped, a pipeline that dropped events, or logging
switched off somewhere upstream.  Counting active hours
rather than events keeps bursty traffic (events come in sessions) from making
ordinary lulls look significant, and night and weekend silences are expected
because those hours are rarely active.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    T,
    duration,
    finalize,
    fmt_duration,
    fmt_float,
    fmt_time,
    key_changed,
    lazy,
    positive,
    q,
)
from auditkit.analytics.detectors.registry import register_detector
from auditkit.errors import UsageError

__all__ = ["logging_gap"]

_HOUR = timedelta(hours=1)


@register_detector("logging_gap", title="Logging gap", severity="medium")
def logging_gap(
    events: Events,
    *,
    min_gap: str | timedelta = "2h",
    min_expected_hours: float = 4.0,
    min_hour_activity: float = 0.75,
    source: str = "observer_service",
    seasonality: Literal["week", "day"] = "week",
) -> pl.DataFrame:
    """A source (``observer_service`` per tenant) silent for much longer than usual,
    including a source that stopped while the rest of the tenant goes on.

    Parameters
    ----------
    events
        Event frame (eager or lazy).  Needs three weeks of history with
        ``seasonality="week"`` (three days with ``"day"``) before anything is reported.
    min_gap
        Shortest silence considered.
    min_expected_hours
        How many of the silent hours are normally active: the sum, over the hours of
        the gap that are active in at least ``min_hour_activity`` of the other weeks,
        of that share (estimated as ``(active + 1) / (weeks + 1)``: a uniform prior
        keeps a few lucky weeks from counting).
    min_hour_activity
        Hours active less often than this (nights, weekends, quiet sources) never
        count: silence there is ordinary.
    source
        The column naming the source (null is the source ``unknown``).
    seasonality
        ``"week"``: hour of the week; ``"day"``: hour of the day.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from auditkit.frame import events_to_frame
    >>> t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> rows = [{"tenant_id": "acme", "occurred_at": t0 + timedelta(hours=h),
    ...          "action": "job.run", "actor": {"id": "cron"}, "observer": {"service": "jobs"}}
    ...         for h in range(72) if not 40 <= h < 50]
    >>> found = logging_gap(events_to_frame(rows), seasonality="day")
    >>> print(found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    No events from source 'jobs' for 11h (2026-01-06 15:00 UTC to 2026-01-07 02:00 UTC),
    where about 8 active hours were expected.
    """
    g = duration(min_gap, name="min_gap")
    if g < _HOUR:
        raise UsageError(
            f"min_gap: expected at least 1h (gaps are measured per hour), got {min_gap!r}"
        )
    positive(min_expected_hours, "min_expected_hours")
    keys = ["tenant_id", "_src"]
    lf = lazy(events, "tenant_id", source, "occurred_at", "event_id").select(
        "tenant_id",
        pl.col(source).fill_null("unknown").alias("_src"),
        "occurred_at",
        "event_id",
        T.dt.truncate("1h").alias("_hour"),
    )
    # per source and hour: the extremes (silences of an hour or more span whole hours)
    hours = (
        lf.group_by(*keys, "_hour")
        .agg(
            _first=T.min(),
            _last=T.max(),
            _first_id=pl.col("event_id").get(T.arg_min()),
            _last_id=pl.col("event_id").get(T.arg_max()),
        )
        .sort([*keys, "_hour"])
        .collect()
        .lazy()
    )
    tenant_end = hours.group_by("tenant_id").agg(_end=pl.col("_last").max())
    hour = pl.col("_hour")
    slot = (
        (hour.dt.weekday().cast(pl.Int32) - 1) * 24 + hour.dt.hour().cast(pl.Int32)
        if seasonality == "week"
        else hour.dt.hour().cast(pl.Int32)
    )
    grid = (
        hours.group_by(keys)
        .agg(_start=hour.min())
        .join(tenant_end, on="tenant_id")
        .select(
            *keys,
            pl.datetime_ranges("_start", pl.col("_end").dt.truncate("1h"), interval="1h").alias(
                "_hour"
            ),
        )
        .explode("_hour")
        .join(hours.select(*keys, "_hour", "_first"), on=[*keys, "_hour"], how="left")
        .with_columns(_active=pl.col("_first").is_not_null().cast(pl.Float64), _slot=slot)
        .with_columns(
            _weeks=pl.len().over(*keys, "_slot"),
            _hits=pl.col("_active").sum().over(*keys, "_slot"),
        )
        # how often this hour is active in the *other* weeks (the gap's own week is
        # silent), with a uniform prior: 4 of 5 weeks gives 5/7, not 0.8
        .with_columns(
            _p=pl.when(pl.col("_weeks") > 1)
            .then((pl.col("_hits") + 1) / (pl.col("_weeks") + 1))
            .otherwise(0.0)
            .clip(upper_bound=1.0)
        )
        .with_columns(
            _p=pl.when(pl.col("_p") >= min_hour_activity).then(pl.col("_p")).otherwise(0.0)
        )
        .sort([*keys, "_hour"])
        .select(*keys, "_hour", _cum=pl.col("_p").cum_sum().over(keys))
    )
    inner = (
        hours.with_columns(
            _from=pl.when(~key_changed(keys)).then(pl.col("_last").shift(1)),
            _prev_id=pl.when(~key_changed(keys)).then(pl.col("_last_id").shift(1)),
        )
        .filter((pl.col("_first") - pl.col("_from")) >= g)
        .select(
            *keys,
            "_from",
            pl.col("_first").alias("_to"),
            pl.concat_list("_prev_id", "_first_id").alias("event_ids"),
        )
    )
    trailing = (
        hours.group_by(keys)
        .agg(_from=pl.col("_last").last(), _last_id=pl.col("_last_id").last())
        .join(tenant_end, on="tenant_id")
        .filter((pl.col("_end") - pl.col("_from")) >= g)
        .select(
            *keys,
            "_from",
            pl.col("_end").alias("_to"),
            pl.concat_list("_last_id").alias("event_ids"),
        )
    )
    gaps = pl.concat([inner, trailing]).with_columns(
        _a=pl.col("_from").dt.truncate("1h"), _b=pl.col("_to").dt.truncate("1h") - _HOUR
    )
    lookup = grid.rename({"_hour": "_a", "_cum": "_cum_a"})
    found = (
        gaps.join(lookup, on=[*keys, "_a"], how="left")
        .join(grid.rename({"_hour": "_b", "_cum": "_cum_b"}), on=[*keys, "_b"], how="left")
        .with_columns(_expected=(pl.col("_cum_b") - pl.col("_cum_a")).fill_null(0.0))
        .filter(pl.col("_expected") >= min_expected_hours)
        .select(
            "tenant_id",
            pl.lit(None, dtype=pl.String).alias("actor_id"),
            pl.col("_from").alias("first_seen"),
            pl.col("_to").alias("last_seen"),
            "event_ids",
            pl.lit("medium").alias("severity"),
            pl.format(
                "No events from source {} for {} ({} to {}), where about {} active hours were "
                "expected.",
                q(pl.col("_src")),
                fmt_duration(pl.col("_to") - pl.col("_from")),
                fmt_time(pl.col("_from")),
                fmt_time(pl.col("_to")),
                fmt_float(pl.col("_expected"), 0),
            ).alias("summary"),
        )
    )
    return finalize(found, "logging_gap")
