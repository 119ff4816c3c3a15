"""Sign-ins without the second factor an account always used.

An account that signs in with MFA every time and then, once, without it: the password
was enough this time.  The second factor was switched off or removed for the account
(the helpdesk reset it, an intruder deactivated the device), or the sign-in went
through a door that asks for no second factor.  CloudTrail records it on every console
sign-in (``additionalEventData.MFAUsed``, kept as ``metadata.mfa_used``); a producer of
canonical events writes ``metadata.mfa_used`` or ``metadata.mfa`` (``Yes``/``No``,
true/false).  Stratus Red Team's console-login-without-mfa is this sign-in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    LOGIN,
    Events,
    T,
    duration,
    empty,
    finalize,
    fmt_duration,
    fmt_time,
    positive,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["login_without_mfa", "mfa_used"]

_YES: Final = ("yes", "true", "1", "y")
_NO: Final = ("no", "false", "0", "n")
_RESETS: Final = ("mfa.disable", "mfa.reset")


def mfa_used() -> pl.Expr:
    """Whether a sign-in used a second factor, from ``metadata.mfa_used`` or
    ``metadata.mfa``; null when the producer does not say.

    >>> df = pl.DataFrame({"metadata": ['{"mfa_used": "Yes"}', '{"mfa": false}', "{}", None]})
    >>> df.select(mfa_used()).to_series().to_list()
    [True, False, None, None]
    """
    meta = pl.col("metadata")
    said = pl.coalesce(
        meta.str.json_path_match("$.mfa_used"), meta.str.json_path_match("$.mfa")
    ).str.to_lowercase()
    return pl.when(said.is_in(_YES)).then(True).when(said.is_in(_NO)).then(False)


@register_detector(
    "login_without_mfa",
    title="Sign-in without the second factor the account always used",
    severity="high",
)
def login_without_mfa(
    events: Events,
    *,
    min_logins: int = 5,
    after_reset: str | timedelta = "1d",
) -> pl.DataFrame:
    """A successful sign-in without MFA by an account whose ``min_logins`` sign-ins
    before it (those whose producer says) all used MFA.

    High; medium when the account's MFA was disabled or reset (``mfa.disable``,
    ``mfa.reset``, of it or by it) within ``after_reset`` before: a lost phone, with the
    reset to look at.  Only the first such sign-in is reported: after it, the account's
    habit is no longer MFA.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": "acme", "occurred_at": f"2026-01-0{d}T09:00:00Z",
    ...          "action": "user.login", "actor": {"id": "ann"},
    ...          "metadata": {"mfa_used": "Yes" if d < 7 else "No"}} for d in range(1, 8)]
    >>> print(login_without_mfa(events_to_frame(rows))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    'ann' signed in without MFA at 2026-01-07 09:00 UTC, after 6 sign-ins in a row with
    it.
    """
    positive(min_logins, "min_logins")
    window = duration(after_reset, name="after_reset")
    keys = ["tenant_id", "actor_id"]
    cols = (*keys, "event_id", "occurred_at", "action", "outcome", "source_ip", "geo_country",
            "target_id", "metadata")  # fmt: skip
    logins = (
        subset(
            events,
            cols,
            (pl.col("action") == LOGIN) & (pl.col("outcome") == "success"),
            pl.col("actor_id").is_not_null(),
        )
        .with_columns(_mfa=mfa_used())
        .filter(pl.col("_mfa").is_not_null())
        .sort([*keys, "occurred_at"], maintain_order=True)
        .with_columns(_i=pl.int_range(pl.len()).over(keys))
        .with_columns(
            # the account's last sign-in without MFA before this one
            _since=pl.when(~pl.col("_mfa")).then(pl.col("_i")).shift(1).forward_fill().over(keys)
        )
        # sign-ins with MFA in a row before this one
        .with_columns(_run=pl.col("_i") - pl.col("_since").fill_null(-1) - 1)
        .filter(~pl.col("_mfa") & (pl.col("_run") >= min_logins))
        .collect()
    )
    if logins.height == 0:
        return empty()
    # the account's MFA disabled or reset shortly before: by someone else (its target)
    # or by itself
    resets = subset(
        events,
        (
            "tenant_id",
            "actor_id",
            "occurred_at",
            "event_id",
            "action",
            "target_id",
            "outcome",
        ),
        pl.col("action").is_in(_RESETS) & (pl.col("outcome") == "success"),
    ).select(
        "tenant_id",
        pl.coalesce("target_id", "actor_id").alias("_account"),
        pl.col("actor_id").alias("_by"),
        pl.col("occurred_at").alias("_reset_at"),
        pl.col("event_id").alias("_reset_id"),
        pl.col("action").alias("_reset"),
    )
    found = (
        logins.lazy()
        .join(
            resets,
            left_on=["tenant_id", "actor_id"],
            right_on=["tenant_id", "_account"],
            how="left",
        )
        .with_columns(
            _recent=(pl.col("_reset_at") <= T) & (T - pl.col("_reset_at") <= window),
        )
        .sort("event_id", "_reset_at", maintain_order=True)
        .group_by("event_id", maintain_order=True)
        .agg(
            pl.col(
                "tenant_id", "actor_id", "occurred_at", "source_ip", "geo_country", "_run"
            ).first(),
            pl.col("_reset_id", "_reset", "_by", "_reset_at").filter("_recent").last(),
        )
        .with_columns(
            first_seen=T,
            last_seen=T,
            event_ids=pl.concat_list(pl.col("_reset_id"), pl.col("event_id")).list.drop_nulls(),
        )
    )
    country = pl.when(pl.col("geo_country").is_not_null()).then(
        pl.format(" ({})", pl.col("geo_country"))
    )
    where = pl.when(pl.col("source_ip").is_not_null()).then(
        pl.concat_str(pl.lit(" from "), pl.col("source_ip"), country, ignore_nulls=True)
    )
    return finalize(
        found.with_columns(
            severity=pl.when(pl.col("_reset_id").is_not_null())
            .then(pl.lit("medium"))
            .otherwise(pl.lit("high")),
            summary=pl.concat_str(
                q(pl.col("actor_id")),
                pl.lit(" signed in without MFA at "),
                fmt_time(T),
                where,
                pl.format(", after {} sign-ins in a row with it", pl.col("_run")),
                pl.when(pl.col("_reset_id").is_not_null()).then(
                    pl.format(
                        "; {} by {} {} before",
                        pl.col("_reset"),
                        q(pl.col("_by")),
                        fmt_duration(T - pl.col("_reset_at")),
                    )
                ),
                pl.lit("."),
                ignore_nulls=True,
            ),
        ),
        "login_without_mfa",
    )
