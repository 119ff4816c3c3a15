"""Audit trail tampering: logging disabled, retention shortened, export destinations removed.

An attacker who covers their tracks touches the audit trail itself.  These
events are reported whatever their outcome: a denied attempt is an attempt.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    T,
    duration,
    episodes,
    finalize,
    fmt_float,
    fmt_time,
    lazy,
    q,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["audit_tampering", "retention_days"]

_ACTIONS: Final = ("audit_log.disable", "audit_retention.update", "audit_destination.remove")
_DAYS_PER_UNIT: Final = {"y": 365.0, "m": 30.0, "w": 7.0, "d": 1.0, "h": 1 / 24}


def retention_days(side: str) -> pl.Expr:
    """Retention in days from ``changes.before`` or ``changes.after`` (``side``).

    Understands a number of days (``{"before": 365}``), an object with
    ``retention_days``, ``days`` or ``retention``, and text such as ``"90d"``,
    ``"1 year"``, ``"6 months"`` or ISO 8601 ``"P30D"``.  Null when unreadable.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"changes": ['{"before": 365, "after": "P30D"}',
    ...                                '{"before": {"retention_days": 90}, "after": "1 year"}']})
    >>> df.select(retention_days("before"), retention_days("after")).rows()
    [(365.0, 30.0), (90.0, 365.0)]
    """
    changes = pl.col("changes")
    raw = pl.coalesce(
        *(
            changes.str.json_path_match(f"$.{side}.{k}")
            for k in ("retention_days", "days", "retention")
        ),
        changes.str.json_path_match(f"$.{side}"),
    )
    parts = raw.str.strip_chars().str.extract_groups(r"^(?i)P?(\d+(?:\.\d+)?)\s*([a-z]*)$")
    number = parts.struct.field("1").cast(pl.Float64, strict=False)
    unit = parts.struct.field("2").str.to_lowercase().str.slice(0, 1)
    factor = unit.replace_strict({"": 1.0, **_DAYS_PER_UNIT}, default=None, return_dtype=pl.Float64)
    return (number * factor).alias(f"{side}_days")


@register_detector("audit_tampering", title="Audit trail tampering", severity="critical")
def audit_tampering(events: Events, *, gap: str | timedelta = "1h") -> pl.DataFrame:
    """Audit logging disabled, audit retention shortened, or an audit export destination
    removed (any outcome: attempts count).

    One actor's such events no more than ``gap`` apart make one finding: critical
    when any of them succeeded, high when all were denied or failed.  A retention
    change whose values cannot be read is reported too (it cannot be shown to be
    harmless); a longer retention is not.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...      "action": "audit_retention.update", "actor": {"id": "mallory"},
    ...      "changes": {"before": {"retention_days": 365}, "after": {"retention_days": 7}}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:05:00Z",
    ...      "action": "audit_log.disable", "actor": {"id": "mallory"}}])
    >>> print(audit_tampering(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'mallory' disabled audit logging; shortened audit retention from 365 to 7 days (between
    2026-01-05 09:00 UTC and 2026-01-05 09:05 UTC).
    """
    g = duration(gap, name="gap")
    action = pl.col("action")
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome", "changes")
    lf = (
        lazy(events, *cols)
        .filter(action.is_in(_ACTIONS))
        .with_columns(retention_days("before"), retention_days("after"))
        .with_columns(
            _shorter=(pl.col("after_days") < pl.col("before_days")).fill_null(True),
        )
        .filter((action != "audit_retention.update") | pl.col("_shorter"))
    )
    is_ok = pl.col("outcome") == "success"

    def count(name: str) -> pl.Expr:
        return (action == name).sum()

    ret = action == "audit_retention.update"
    found = (
        episodes(lf, ["tenant_id", "actor_id"], g)
        .group_by("_episode")
        .agg(
            pl.col("tenant_id", "actor_id").first(),
            T.min().alias("first_seen"),
            T.max().alias("last_seen"),
            pl.col("event_id").alias("event_ids"),
            count("audit_log.disable").alias("disabled"),
            count("audit_destination.remove").alias("removed"),
            ret.sum().alias("retention"),
            pl.col("before_days").filter(ret).first().alias("before"),
            pl.col("after_days").filter(ret).last().alias("after"),
            is_ok.sum().alias("ok"),
            pl.len().alias("n"),
        )
        .with_columns(
            severity=pl.when(pl.col("ok") > 0).then(pl.lit("critical")).otherwise(pl.lit("high")),
            summary=pl.concat_str(
                q(pl.col("actor_id")),
                pl.lit(" "),
                pl.concat_str(
                    pl.when(pl.col("disabled") > 0).then(pl.lit("disabled audit logging")),
                    pl.when(pl.col("retention") > 0).then(
                        pl.when(pl.col("before").is_not_null() & pl.col("after").is_not_null())
                        .then(
                            pl.format(
                                "shortened audit retention from {} to {} days",
                                fmt_float(pl.col("before")),
                                fmt_float(pl.col("after")),
                            )
                        )
                        .otherwise(pl.lit("changed audit retention (values unreadable)"))
                    ),
                    pl.when(pl.col("removed") > 0).then(
                        pl.format("removed {} audit destination(s)", pl.col("removed"))
                    ),
                    separator="; ",
                    ignore_nulls=True,
                ),
                pl.format(
                    " (between {} and {})",
                    fmt_time(pl.col("first_seen")),
                    fmt_time(pl.col("last_seen")),
                ),
                pl.when(pl.col("ok") < pl.col("n")).then(
                    pl.format(
                        "; {} of {} attempt(s) did not succeed",
                        pl.col("n") - pl.col("ok"),
                        pl.col("n"),
                    )
                ),
                pl.lit("."),
                ignore_nulls=True,
            ),
        )
    )
    return finalize(found, "audit_tampering")
