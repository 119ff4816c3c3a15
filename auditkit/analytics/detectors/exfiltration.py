"""Exfiltration and destruction: mass export or download, and mass deletion, per actor
per sliding window, quiet on an actor's own recurring bulk work.

They read the user vocabulary ``<entity>.export``, ``<entity>.download`` and
``<entity>.delete`` (including ``user.delete``), successful only.

Recurring work (month-end and quarter-end exports by a reporting key, nightly purges
by a job) is recognised from the actor's own history of bursts, per actor and
action: a burst is recurring when earlier bursts of that actor and action, at least
half its size, came at the same phase of a period: the same hour of the day on two
earlier days within a week; the same weekday and hour on two earlier weeks within
five; the same day of the month, or the same number of days before the month's end,
in an earlier month within 100 days (which also covers quarter-ends).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    T,
    bursts,
    duration,
    finalize,
    fmt_time,
    human,
    is_person,
    positive,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["mass_deletion", "mass_export"]

_EXPORT = (".export", ".download")
_DELETE = (".delete",)


def _mass(
    events: Events,
    *,
    suffixes: tuple[str, ...],
    verb: str,
    detector: str,
    threshold: int,
    window: str | timedelta,
    exclude_actor_types: Sequence[str],
    recurring: bool,
) -> pl.DataFrame:
    w = duration(window)
    positive(threshold, "threshold")
    cols = ("tenant_id", "actor_id", "actor_type", "occurred_at", "event_id", "action", "outcome")
    lf = subset(
        events,
        (*cols, "target_id"),
        pl.any_horizontal(pl.col("action").str.ends_with(x) for x in suffixes),
        pl.col("outcome") == "success",
        ~pl.col("actor_type").is_in(list(exclude_actor_types)).fill_null(False),
    )
    runs = (
        bursts(lf, ["tenant_id", "actor_id"], window=w, threshold=threshold)
        .group_by("_episode")
        .agg(
            pl.col("tenant_id", "actor_id", "actor_type").first(),
            T.min().alias("first_seen"),
            T.max().alias("last_seen"),
            pl.col("event_id").alias("event_ids"),
            pl.col("_peak").max().alias("peak"),
            pl.col("target_id").n_unique().alias("targets"),
            pl.col("action").str.extract(r"^(.*)\.[^.]+$").unique().sort().alias("kinds"),
            pl.col("action").unique().sort().str.join(",").alias("_what"),
        )
        .collect()
    )
    repeats = _recurrence(runs)
    if recurring:
        runs = runs.join(repeats.filter("_recurring").select("_episode"), on="_episode", how="anti")
    found = (
        runs.lazy()
        .join(repeats.lazy(), on="_episode", how="left")
        .with_columns(
            severity=pl.when(is_person()).then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.concat_str(
                pl.format(
                    "{} {} {} item(s) ({} distinct; {}) between {} and {} (at most {} within {})",
                    q(pl.col("actor_id")),
                    pl.lit(verb),
                    pl.col("event_ids").list.len(),
                    pl.col("targets"),
                    pl.col("kinds").list.head(5).list.join(", "),
                    fmt_time(pl.col("first_seen")),
                    fmt_time(pl.col("last_seen")),
                    pl.col("peak"),
                    pl.lit(human(w)),
                ),
                pl.when(pl.col("_earlier") > 0)
                .then(
                    pl.format(
                        "; its {} earlier bulk run(s) (the last at {}) were at another time "
                        "of day, week or month or much smaller: not its recurring work",
                        pl.col("_earlier"),
                        fmt_time(pl.col("_last_run")),
                    )
                )
                .otherwise(pl.lit("; no earlier bulk run by this actor: not recurring work")),
                pl.when(pl.col("_recurring")).then(pl.lit(" (recurring, reported on request)")),
                pl.lit("."),
                ignore_nulls=True,
            ),
        )
    )
    return finalize(found, detector)


def _recurrence(runs: pl.DataFrame) -> pl.DataFrame:
    """Per burst: ``_recurring`` (earlier bursts of the actor and action, at least half its
    size, at the same phase of a day, week or month), ``_earlier`` (earlier bursts of
    the actor and action) and ``_last_run`` (the latest of them)."""
    keys = ["tenant_id", "actor_id", "_what"]
    start = pl.col("first_seen")
    phases = runs.lazy().select(
        "_episode",
        *keys,
        start.alias("_at"),
        pl.col("event_ids").list.len().alias("_n"),
        start.dt.hour().cast(pl.Int32).alias("_hour"),
        start.dt.weekday().alias("_wd"),
        start.dt.day().cast(pl.Int32).alias("_dom"),
        (start.dt.month_end().dt.day() - start.dt.day()).cast(pl.Int32).alias("_dte"),
        (start.dt.year() * 12 + start.dt.month()).alias("_month"),
    )
    other = phases.select(
        *keys,
        *[
            pl.col(c).alias(c + "2")
            for c in ("_at", "_n", "_hour", "_wd", "_dom", "_dte", "_month")
        ],
    )
    hour_apart = (pl.col("_hour") - pl.col("_hour2")).abs()
    same_hour = pl.min_horizontal(hour_apart, 24 - hour_apart) <= 2
    ago = pl.col("_at") - pl.col("_at2")
    day = (ago.dt.total_days() >= 1) & (ago <= timedelta(days=8)) & same_hour
    week = (
        (pl.col("_wd") == pl.col("_wd2"))
        & (ago.dt.total_days() >= 6)
        & (ago <= timedelta(days=36))
        & same_hour
    )
    month = (
        (pl.col("_month") != pl.col("_month2"))
        & (ago <= timedelta(days=100))
        & (
            ((pl.col("_dom") - pl.col("_dom2")).abs() <= 2)
            | ((pl.col("_dte") - pl.col("_dte2")).abs() <= 2)
        )
    )
    pairs = (
        phases.join(other, on=keys)
        .filter(pl.col("_at2") < pl.col("_at"))
        .with_columns(_big=pl.col("_n2") * 2 >= pl.col("_n"))
        .group_by("_episode")
        .agg(
            _earlier=pl.len(),
            _last_run=pl.col("_at2").max(),
            _daily=(day & pl.col("_big")).sum(),
            _weekly=(week & pl.col("_big")).sum(),
            _monthly=(month & pl.col("_big")).sum(),
        )
    )
    return (
        phases.select("_episode")
        .join(pairs, on="_episode", how="left")
        .select(
            "_episode",
            pl.col("_earlier").fill_null(0),
            "_last_run",
            ((pl.col("_daily") >= 2) | (pl.col("_weekly") >= 2) | (pl.col("_monthly") >= 1))
            .fill_null(False)
            .alias("_recurring"),
        )
        .collect()
    )


@register_detector("mass_export", title="Mass export or download", severity="high")
def mass_export(
    events: Events,
    *,
    threshold: int = 50,
    window: str | timedelta = "1h",
    exclude_actor_types: Sequence[str] = ("system", "service"),
    recurring: bool = True,
) -> pl.DataFrame:
    """One actor exporting or downloading many items within a sliding window.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    threshold
        Successful ``*.export`` / ``*.download`` events by one actor within ``window``.
    window
        Sliding window length.
    exclude_actor_types
        Actor types left out: services and the system run scheduled exports (a
        service account's unusual volume shows up in ``volume_spike``).  API keys
        are kept: a stolen key is how data leaves.
    recurring
        Leave out the actor's recurring bulk work (see the module); ``False`` reports it,
        marked as recurring.  People's bursts are high; API keys' and other
        non-people's medium (their bulk work is usually scheduled).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...     "action": "document.export", "actor": {"id": "leo"},
    ...     "targets": [{"id": f"doc{i}", "type": "document"}]} for i in range(3)])
    >>> print(mass_export(df, threshold=3)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'leo' exported or downloaded 3 item(s) (3 distinct; document) between 2026-01-05 09:00 UTC
    and 2026-01-05 09:02 UTC (at most 3 within 1h); no earlier bulk run by this actor: not
    recurring work.
    """
    return _mass(
        events,
        suffixes=_EXPORT,
        verb="exported or downloaded",
        detector="mass_export",
        threshold=threshold,
        window=window,
        exclude_actor_types=exclude_actor_types,
        recurring=recurring,
    )


@register_detector("mass_deletion", title="Mass deletion", severity="high")
def mass_deletion(
    events: Events,
    *,
    threshold: int = 30,
    window: str | timedelta = "1h",
    exclude_actor_types: Sequence[str] = ("system", "service"),
    recurring: bool = True,
) -> pl.DataFrame:
    """One actor deleting many items within a sliding window.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    threshold
        Successful ``*.delete`` events by one actor within ``window``.
    window
        Sliding window length.
    exclude_actor_types
        Actor types left out (clean-up jobs; the system's ``entity.expire`` is not
        a delete anyway).
    recurring
        Leave out the actor's recurring bulk work (nightly purges by a job's key).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...     "action": "record.delete", "actor": {"id": "max"},
    ...     "targets": [{"id": f"r{i}", "type": "record"}]} for i in range(3)])
    >>> mass_deletion(df, threshold=3)["event_ids"][0].len()
    3
    """
    return _mass(
        events,
        suffixes=_DELETE,
        verb="deleted",
        detector="mass_deletion",
        threshold=threshold,
        window=window,
        exclude_actor_types=exclude_actor_types,
        recurring=recurring,
    )
