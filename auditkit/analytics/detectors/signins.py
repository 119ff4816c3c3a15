"""Sign-ins without the second factor an account always used.

An account that signs in with MFA every time and then, once, without it: the password
was enough this time.  The second factor was switched off or removed for the account
(the helpdesk reset it, an intruder deactivated the device), or the sign-in went
through a door that asks for no second factor.  CloudTrail records it on every console
sign-in (``additionalEventData.MFAUsed``, kept as ``metadata.mfa_used``); a producer of
canonical events writes ``metadata.mfa_used`` or ``metadata.mfa`` (``Yes``/``No``,
true/false).  Stratus Red Team's console-login-without-mfa is this sign-in.

And what the source itself flagged (``source_flagged``): a user reporting a sign-in as
not theirs, a session used from another client, a sign-in the identity provider
suspected and still let through.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    LOGIN,
    Events,
    T,
    actions_matching,
    duration,
    empty,
    episodes,
    finalize,
    finding_span,
    fmt_between,
    fmt_duration,
    fmt_time,
    positive,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["login_without_mfa", "mfa_used", "source_flagged"]

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


#: Events by which the log's source says it saw an attack (by the source's name of the
#: event, ``metadata.source_action``, or the action): severity and what it means.
SOURCE_VERDICTS: Final = {
    # Okta: the user answered "this wasn't me" to a sign-in notification or e-mail
    "user.account.report_suspicious_activity_by_enduser": (
        "high",
        "reported by the user as not theirs",
    ),
    # Okta Identity Threat Protection: the session's cookie used from another client
    "security.session.detect_client_roaming": ("high", "session used from another client"),
    # Okta ThreatInsight: an attack on the organisation's sign-in began
    "security.attack.start": ("medium", "an attack on the sign-in began (ThreatInsight)"),
    # Okta ThreatInsight: requests from an address it knows as malicious
    "security.threat.detected": ("low", "requests from a known malicious address"),
}
_VERDICT_WORDS: Final = r"(?i)suspicious|roaming|threat|attack|anomaly"


@register_detector(
    "source_flagged",
    title="Flagged by the log's own source",
    severity="high",
)
def source_flagged(events: Events, *, gap: str | timedelta = "1h") -> pl.DataFrame:
    """What the log's source itself flagged: an event by which it reports an attack
    (:data:`SOURCE_VERDICTS`: a user reporting activity as not theirs, a session used
    from another client, ThreatInsight's attack and threat events), and a successful
    sign-in the source suspected (``metadata.threat_suspected`` true: Okta's
    ThreatInsight let it through) or rated high risk (``metadata.risk`` of level
    ``HIGH``).

    Severity: a user's report, a roaming session and a suspected sign-in that succeeded
    are high; a high-risk sign-in and an attack begun medium; known malicious addresses
    low (they knock every day).  A suspected sign-in that failed was stopped and is left
    to the failure rules.  One actor's flagged events no more than ``gap`` apart make one
    finding, at the severity of the worst.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...          "action": "user.login", "actor": {"id": "ann"}, "source": {"ip": "203.0.113.9"},
    ...          "metadata": {"threat_suspected": "true"}},
    ...         {"tenant_id": "acme", "occurred_at": "2026-01-05T09:20:00Z",
    ...          "action": "user_account.report_suspicious_activity_by_enduser",
    ...          "actor": {"id": "ann"},
    ...          "metadata": {"source_action":
    ...                       "user.account.report_suspicious_activity_by_enduser"}}]
    >>> found = source_flagged(events_to_frame(rows))
    >>> print(found["severity"][0], found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    high 'ann': sign-in the source suspected, from 203.0.113.9; reported by the user as not
    theirs (2 events between 2026-01-05 09:00 UTC and 2026-01-05 09:20 UTC).
    """
    g = duration(gap, name="gap")
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome",
            "source_ip", "metadata")  # fmt: skip
    meta = pl.col("metadata")
    named = actions_matching(events, pl.col("action").str.contains(_VERDICT_WORDS))
    verdicts = pl.LazyFrame(
        [(name, sev, what) for name, (sev, what) in SOURCE_VERDICTS.items()],
        schema={"_name": pl.String, "_sev": pl.String, "_what": pl.String},
        orient="row",
    )
    reported = (
        subset(events, cols, pl.col("action").is_in(named))
        .with_columns(
            _name=pl.coalesce(meta.str.json_path_match("$.source_action"), pl.col("action"))
        )
        .join(verdicts, on="_name", how="inner")
        .drop("_name")
    )
    suspected = meta.str.json_path_match("$.threat_suspected").str.to_lowercase() == "true"
    risky = meta.str.json_path_match("$.risk").str.contains(r"(?i)(?:^|level=)high\b")
    logins = (
        subset(
            events,
            cols,
            (pl.col("action") == LOGIN) & (pl.col("outcome") == "success"),
            meta.str.contains("threat_suspected|risk").fill_null(False),
        )
        .with_columns(
            _sev=pl.when(suspected.fill_null(False))
            .then(pl.lit("high"))
            .when(risky.fill_null(False))
            .then(pl.lit("medium")),
            _what=pl.when(suspected.fill_null(False))
            .then(pl.lit("sign-in the source suspected"))
            .when(risky.fill_null(False))
            .then(pl.lit("sign-in rated high risk")),
        )
        .with_columns(
            _what=pl.coalesce(
                pl.concat_str(pl.col("_what"), pl.lit(", from "), pl.col("source_ip")),
                pl.col("_what"),
            )
        )
    )
    hits = (
        pl.concat([reported, logins], how="vertical_relaxed")
        .filter(pl.col("_sev").is_not_null())
        .with_columns(
            _rank=pl.when(pl.col("_sev") == "high")
            .then(2)
            .when(pl.col("_sev") == "medium")
            .then(1)
            .otherwise(0)
        )
        .collect()
    )
    if hits.height == 0:
        return empty()
    found = (
        episodes(hits.lazy(), ["tenant_id", "actor_id"], g)
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            pl.col("_rank").max(),
            pl.col("_what").unique(maintain_order=True),
        )
        .with_columns(
            severity=pl.when(pl.col("_rank") == 2)
            .then(pl.lit("high"))
            .when(pl.col("_rank") == 1)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low")),
            summary=pl.format(
                "{}: {} ({} event{} {}).",
                q(pl.col("actor_id").fill_null("(unknown)")),
                pl.col("_what").list.join("; "),
                pl.col("event_ids").list.len(),
                pl.when(pl.col("event_ids").list.len() == 1)
                .then(pl.lit(""))
                .otherwise(pl.lit("s")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
            ),
        )
    )
    return finalize(found, "source_flagged")
