"""Exfiltration and destruction: mass export or download, and mass deletion, per actor
per sliding window.

They read the user vocabulary ``<entity>.export``, ``<entity>.download`` and
``<entity>.delete`` (including ``user.delete``), successful only.
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
    found = (
        bursts(lf, ["tenant_id", "actor_id"], window=w, threshold=threshold)
        .group_by("_episode")
        .agg(
            pl.col("tenant_id", "actor_id").first(),
            T.min().alias("first_seen"),
            T.max().alias("last_seen"),
            pl.col("event_id").alias("event_ids"),
            pl.col("_peak").max().alias("peak"),
            pl.col("target_id").n_unique().alias("targets"),
            pl.col("action").str.extract(r"^(.*)\.[^.]+$").unique().sort().alias("kinds"),
        )
        .with_columns(
            severity=pl.lit("high"),
            summary=pl.format(
                "{} {} {} item(s) ({} distinct; {}) between {} and {} (at most {} within {}).",
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
        )
    )
    return finalize(found, detector)


@register_detector("mass_export", title="Mass export or download", severity="high")
def mass_export(
    events: Events,
    *,
    threshold: int = 50,
    window: str | timedelta = "1h",
    exclude_actor_types: Sequence[str] = ("system", "service"),
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

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...     "action": "document.export", "actor": {"id": "leo"},
    ...     "targets": [{"id": f"doc{i}", "type": "document"}]} for i in range(3)])
    >>> print(mass_export(df, threshold=3)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'leo' exported or downloaded 3 item(s) (3 distinct; document) between 2026-01-05 09:00 UTC
    and 2026-01-05 09:02 UTC (at most 3 within 1h).
    """
    return _mass(
        events,
        suffixes=_EXPORT,
        verb="exported or downloaded",
        detector="mass_export",
        threshold=threshold,
        window=window,
        exclude_actor_types=exclude_actor_types,
    )


@register_detector("mass_deletion", title="Mass deletion", severity="high")
def mass_deletion(
    events: Events,
    *,
    threshold: int = 30,
    window: str | timedelta = "1h",
    exclude_actor_types: Sequence[str] = ("system", "service"),
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
    )
