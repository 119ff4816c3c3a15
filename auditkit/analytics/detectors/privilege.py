"""Privilege detectors: self-granted privileges, admin actions without an admin role, and
bursts of privilege changes.

They read ``role.grant`` / ``role.revoke`` / ``permission.grant`` / ``permission.revoke``
(the target is the principal who gets or loses the privilege; ``metadata.role`` or
``metadata.permission`` names it) and the admin actions of the core vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    T,
    bursts,
    duration,
    episodes,
    finalize,
    fmt_time,
    human,
    lazy,
    positive,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector
from auditkit.schema import CORE_ACTIONS

__all__ = [
    "ADMIN_ACTIONS",
    "ADMIN_ROLE_PATTERN",
    "PRIVILEGE_ACTIONS",
    "admin_without_role",
    "privilege_change_burst",
    "self_privilege_grant",
]

#: Roles that make a principal an administrator (a regular expression on role names).
ADMIN_ROLE_PATTERN: Final = r"(?i)admin|owner|root|superuser"
#: Admin actions that need an admin role.  API keys are left out: most products let
#: every user manage their own (see ``suspicious_api_key``).
ADMIN_ACTIONS: Final = tuple(
    a for a, c in CORE_ACTIONS.items() if c == "admin" and not a.startswith("api_key.")
)
#: Actions that change who may do what.
PRIVILEGE_ACTIONS: Final = ("role.grant", "role.revoke", "permission.grant", "permission.revoke")

_GRANTS: Final = ("role.grant", "permission.grant")
_PRIVILEGE = pl.coalesce(
    pl.col("metadata").str.json_path_match("$.role"),
    pl.col("metadata").str.json_path_match("$.permission"),
)


def _target_ids() -> pl.Expr:
    return pl.col("targets").list.eval(pl.element().struct.field("id"))


@register_detector(
    "self_privilege_grant", title="Privilege granted to oneself", severity="critical"
)
def self_privilege_grant(events: Events) -> pl.DataFrame:
    """A role or permission granted by an actor to themselves.

    Successful grants are critical; denied or failed attempts are medium.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "role.grant", "actor": {"id": "mallory"},
    ...     "targets": [{"id": "mallory", "type": "user"}], "metadata": {"role": "admin"}}])
    >>> self_privilege_grant(df)["summary"][0]
    "'mallory' granted themselves role 'admin' at 2026-01-05 09:00 UTC (success)."
    """
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome", "targets")
    found = (
        lazy(events, *cols, "metadata")
        .filter(pl.col("action").is_in(_GRANTS))
        .filter(_target_ids().list.contains(pl.col("actor_id")))
        .select(
            "tenant_id",
            "actor_id",
            T.alias("first_seen"),
            T.alias("last_seen"),
            pl.concat_list("event_id").alias("event_ids"),
            pl.when(pl.col("outcome") == "success")
            .then(pl.lit("critical"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.format(
                "{} granted themselves {} {} at {} ({}).",
                q(pl.col("actor_id")),
                pl.col("action").str.split(".").list.first(),
                q(_PRIVILEGE),
                fmt_time(T),
                pl.col("outcome"),
            ).alias("summary"),
        )
    )
    return finalize(found, "self_privilege_grant")


@register_detector(
    "admin_without_role", title="Admin action without an admin role", severity="high"
)
def admin_without_role(
    events: Events,
    *,
    actions: Sequence[str] = ADMIN_ACTIONS,
    admin_roles: str = ADMIN_ROLE_PATTERN,
    gap: str | timedelta = "1d",
) -> pl.DataFrame:
    """Successful admin actions by a user who held no admin role at the time.

    The actor is an admin when the event's ``actor_roles`` name an admin role, or
    when the last ``role.grant``/``role.revoke`` of an admin role to them before
    the event was a grant.  Events whose actor has neither roles nor role history
    are skipped (unknown, not guilty).  Services, API keys and the system are
    skipped too: they hold no roles.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    actions
        The admin actions (default: the core admin vocabulary without API keys).
    admin_roles
        Regular expression matching admin role names.
    gap
        Actions of one actor no more than ``gap`` apart make one finding.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "settings.update", "actor": {"id": "ivan", "roles": ["member"]}}])
    >>> print(admin_without_role(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'ivan' (roles: member) performed 1 admin action(s) without an admin role
    from 2026-01-05 09:00 UTC: settings.update.
    """
    g = duration(gap, name="gap")
    cols = (
        *("tenant_id", "actor_id", "actor_type", "actor_roles", "occurred_at", "event_id"),
        *("action", "outcome", "targets", "metadata"),
    )
    ok = pl.col("outcome") == "success"
    changes = (
        subset(events, cols, pl.col("action").is_in(["role.grant", "role.revoke"]), ok)
        .filter(pl.col("metadata").str.json_path_match("$.role").str.contains(admin_roles))
        .select(
            "tenant_id",
            _target_ids().alias("actor_id"),
            T.alias("_changed_at"),
            (pl.col("action") == "role.grant").alias("_granted"),
        )
        .explode("actor_id")
        .filter(pl.col("actor_id").is_not_null())
        .sort("_changed_at")
    )
    has_role = pl.col("actor_roles").list.eval(pl.element().str.contains(admin_roles)).list.any()
    acts = (
        subset(events, cols, pl.col("action").is_in(list(actions)), ok)
        .filter(pl.col("actor_type").is_null() | (pl.col("actor_type") == "user"))
        .sort("occurred_at")
        .join_asof(
            changes,
            left_on="occurred_at",
            right_on="_changed_at",
            by=["tenant_id", "actor_id"],
            allow_exact_matches=False,
            check_sortedness=False,
        )
        .filter(
            ~(has_role.fill_null(False) | pl.col("_granted").fill_null(False))
            & (pl.col("actor_roles").is_not_null() | pl.col("_granted").is_not_null())
        )
    )
    found = (
        episodes(acts, ["tenant_id", "actor_id"], g)
        .group_by("_episode")
        .agg(
            pl.col("tenant_id", "actor_id").first(),
            T.min().alias("first_seen"),
            T.max().alias("last_seen"),
            pl.col("event_id").alias("event_ids"),
            pl.col("action").unique(maintain_order=True).alias("what"),
            pl.col("actor_roles").last().list.join(", ").alias("roles"),
            pl.col("_granted").is_not_null().any().alias("revoked"),
        )
        .with_columns(
            severity=pl.lit("high"),
            summary=pl.format(
                "{} ({}) performed {} admin action(s) without an admin role from {}: {}.",
                q(pl.col("actor_id")),
                pl.when(pl.col("revoked"))
                .then(pl.lit("admin role revoked earlier"))
                .otherwise(pl.concat_str(pl.lit("roles: "), pl.col("roles").fill_null("none"))),
                pl.col("event_ids").list.len(),
                fmt_time(pl.col("first_seen")),
                pl.col("what").list.join(", "),
            ),
        )
    )
    return finalize(found, "admin_without_role")


@register_detector("privilege_change_burst", title="Burst of privilege changes", severity="medium")
def privilege_change_burst(
    events: Events,
    *,
    threshold: int = 10,
    window: str | timedelta = "1d",
    actions: Sequence[str] = PRIVILEGE_ACTIONS,
) -> pl.DataFrame:
    """One actor making many privilege changes (grants and revocations of roles and
    permissions) within a sliding window: the breadth of an escalation or a purge.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    threshold
        Privilege-changing events by one actor within ``window``.
    window
        Sliding window length (default a day).
    actions
        The privilege-changing actions.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...     "action": "role.grant", "actor": {"id": "judy"},
    ...     "targets": [{"id": f"user{i}", "type": "user"}], "metadata": {"role": "admin"}}
    ...     for i in range(3)])
    >>> found = privilege_change_burst(df, threshold=3)
    >>> print(found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'judy' made 3 privilege changes (3 grants, 0 revocations) affecting 3 principals within 1d,
    between 2026-01-05 09:00 UTC and 2026-01-05 09:02 UTC.
    """
    w = duration(window)
    positive(threshold, "threshold")
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "target_id")
    lf = subset(events, cols, pl.col("action").is_in(list(actions)))
    found = (
        bursts(lf, ["tenant_id", "actor_id"], window=w, threshold=threshold)
        .group_by("_episode")
        .agg(
            pl.col("tenant_id", "actor_id").first(),
            T.min().alias("first_seen"),
            T.max().alias("last_seen"),
            pl.col("event_id").alias("event_ids"),
            pl.col("action").str.ends_with(".grant").sum().alias("grants"),
            pl.col("action").str.ends_with(".revoke").sum().alias("revokes"),
            pl.col("target_id").n_unique().alias("principals"),
        )
        .with_columns(
            severity=pl.lit("medium"),
            summary=pl.format(
                "{} made {} privilege changes ({} grants, {} revocations) affecting {} principals "
                "within {}, between {} and {}.",
                q(pl.col("actor_id")),
                pl.col("event_ids").list.len(),
                pl.col("grants"),
                pl.col("revokes"),
                pl.col("principals"),
                pl.lit(human(w)),
                fmt_time(pl.col("first_seen")),
                fmt_time(pl.col("last_seen")),
            ),
        )
    )
    return finalize(found, "privilege_change_burst")
