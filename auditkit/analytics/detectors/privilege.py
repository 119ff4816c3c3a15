"""Privilege detectors: self-granted privileges, admin actions without an admin role,
privilege through the side door (privileged teams, admin-like permissions, integrations
acting as admin) and bursts of privilege changes.

They read ``role.grant`` / ``role.revoke`` / ``permission.grant`` / ``permission.revoke``
(the target is the principal who gets or loses the privilege; ``metadata.role`` or
``metadata.permission`` names it, or a target of a policy type, as AWS's attached
policies arrive) and the admin actions of the core vocabulary.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, Final

import polars as pl

from auditkit.analytics.detectors.common import (
    CANDIDATE_SCHEMA,
    EVERYONE_GROUP,
    NOT_PRIVILEGED_NAME_PATTERN,
    PRIVILEGED_NAME_PATTERN,
    SENSITIVE_ACTIONS,
    Events,
    T,
    action_words,
    actions_where,
    away_from_home,
    began,
    bursts,
    duration,
    earlier_days,
    empty,
    episodes,
    everyone_groups,
    finalize,
    finding_span,
    first_few,
    fmt_between,
    fmt_duration,
    fmt_time,
    from_new_networks,
    human,
    is_person,
    json_or_none,
    kind,
    lazy,
    new_network_text,
    newcomer_aggregations,
    no_candidates,
    positive,
    privileged_name,
    producer_request,
    q,
    subset,
    verb,
)
from auditkit.analytics.detectors.registry import register_detector
from auditkit.analytics.detectors.tampering import is_audit_action
from auditkit.schema import CORE_ACTIONS

__all__ = [
    "ADMIN_ACTIONS",
    "ADMIN_ROLE_PATTERN",
    "PRIVILEGED_ROLE_PATTERN",
    "PRIVILEGE_ACTIONS",
    "admin_grant_from_new_network",
    "admin_without_role",
    "backdoor_account",
    "permission_probing",
    "privilege_change_burst",
    "self_privilege_grant",
    "side_door_privilege",
    "transient_privilege",
]

#: Roles that make a principal an administrator (a regular expression on role names).
ADMIN_ROLE_PATTERN: Final = r"(?i)admin|owner|root|superuser"
#: Roles and permissions that make their holder an administrator, for the detectors that
#: judge what was granted: ``admin`` anywhere (``org_admin``, ``billing.admin``, AWS's
#: ``AdministratorAccess``), owner, root, superuser, AWS's ``PowerUserAccess`` and
#: ``IAMFullAccess``, GCP's basic ``roles/owner`` and ``roles/editor``, and wildcards.
PRIVILEGED_ROLE_PATTERN: Final = (
    r"(?i)admin|owner|root|super_?user|privileged|poweruser|iamfullaccess|roles/editor|\*"
)
#: Admin actions that need an admin role.  API keys are left out: most products let
#: every user manage their own (see ``suspicious_api_key``).
ADMIN_ACTIONS: Final = tuple(
    a for a, c in CORE_ACTIONS.items() if c == "admin" and not a.startswith("api_key.")
)
#: Actions that change who may do what.
PRIVILEGE_ACTIONS: Final = ("role.grant", "role.revoke", "permission.grant", "permission.revoke")

_GRANTS: Final = ("role.grant", "permission.grant")
#: Memberships that carry a role (a GitLab member's access level, ``metadata.role``):
#: each grants it.
_MEMBERSHIPS: Final = ("team_member.add", "team_member.update")
#: a grant, or a membership with a role
_GRANTING = pl.col("action").is_in(_GRANTS) | (
    pl.col("metadata").str.json_path_match("$.role").is_not_null()
)
_PRIVILEGE = pl.coalesce(
    pl.col("metadata").str.json_path_match("$.role"),
    pl.col("metadata").str.json_path_match("$.permission"),
)


def _target_ids() -> pl.Expr:
    return pl.col("targets").list.eval(pl.element().struct.field("id"))


def _privilege_name() -> pl.Expr:
    """The role or permission a grant or revocation is about: ``metadata.role``,
    ``metadata.permission`` or ``metadata.policy``, else a target of a policy type (AWS's
    ``AttachUserPolicy`` names the policy as a target)."""
    meta = pl.col("metadata")
    policy = (
        pl.col("targets")
        .list.eval(
            pl.coalesce(pl.element().struct.field("id"), pl.element().struct.field("name")).filter(
                pl.element().struct.field("type").str.contains("(?i)polic|permission|role$")
            )
        )
        .list.first()
    )
    return pl.coalesce(
        meta.str.json_path_match("$.role"),
        meta.str.json_path_match("$.permission"),
        meta.str.json_path_match("$.policy"),
        policy,
    )


def _subject() -> pl.Expr:
    """The principal who gets or loses a privilege: the first target of a principal type
    (else the first target), without a ``user:``-like prefix (GCP's members)."""
    kinds = r"(?i)user|principal|member|account|group|service|api_key|identity|AWS::IAM::Role"
    targets = pl.col("targets")
    who = targets.list.eval(
        pl.element()
        .struct.field("id")
        .filter(
            pl.element().struct.field("type").str.contains(kinds)
            & ~pl.element().struct.field("type").str.contains("(?i)polic").fill_null(False)
        )
    ).list.first()
    first = targets.list.eval(pl.element().struct.field("id")).list.first()
    return pl.coalesce(who, first).str.replace(
        r"^(?:user|serviceAccount|group|principal|member|deleted:user):", ""
    )


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
    routine_days: int = 2,
) -> pl.DataFrame:
    """Successful admin actions by a user who held no admin role at the time.

    The actor is an admin when the event's ``actor_roles`` name an admin role, or
    when the last ``role.grant``/``role.revoke`` of an admin role to them before
    the event was a grant.  Events whose actor has neither roles nor role history
    are skipped (unknown, not guilty).  Services, API keys and the system are
    skipped too: they hold no roles.  An admin action the actor had already done,
    without an admin role, on ``routine_days`` earlier days since its last admin-role
    change is its routine and left out: the role may do it, whatever its name says (a
    deployment role putting a bucket policy every day), which is neither an
    escalation in progress nor a revoked role still in use.

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
    routine_days
        Earlier days (UTC dates) with the same admin action, done without an admin
        role since the actor's last admin-role change, that make it the actor's
        routine.

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
    positive(routine_days, "routine_days")
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
        # the actor's routine: the same action on routine_days earlier days, all without
        # an admin role since its last admin-role change (a role revoked and still used
        # the day after is no routine)
        .with_columns(_day=T.dt.date())
        .filter(
            pl.col("_day").rank("dense").over("tenant_id", "actor_id", "action", "_changed_at")
            <= routine_days
        )
    )
    found = (
        episodes(acts, ["tenant_id", "actor_id"], g)
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
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
    admin_roles: str = PRIVILEGED_ROLE_PATTERN,
    purge: int = 5,
    purge_window: str | timedelta = "1h",
) -> pl.DataFrame:
    """One actor making many privilege changes (grants and revocations of roles and
    permissions) within a sliding window: the breadth of an escalation or a purge.

    Medium when an admin-like role or permission (``admin_roles``) is among them; low
    otherwise (onboarding a team as viewers is busy, not dangerous).

    A purge of the administrators: one actor taking an admin-like role or permission
    from ``purge`` or more principals within ``purge_window`` (five enterprise or
    organisation owners removed in minutes) is reported even below ``threshold``, one
    finding for the burst: high when the actor came from a network or a country it had
    not made its own (an intruder locking out those who could respond), medium from its
    usual places (a reorganisation).

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
    admin_roles
        Regular expression matching admin-like role and permission names.

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
    between 2026-01-05 09:00 UTC and 2026-01-05 09:02 UTC; 3 of them of admin-like roles or
    permissions (admin).
    """
    w = duration(window)
    positive(threshold, "threshold")
    positive(purge, "purge")
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "target_id")
    # read once: the purge and the bursts both look at them (they are few)
    lf = (
        subset(events, (*cols, "targets", "metadata"), pl.col("action").is_in(list(actions)))
        .collect()
        .lazy()
    )
    privilege = pl.col("_privilege")
    admin = privilege.str.contains(admin_roles).fill_null(False)
    pw = duration(purge_window, name="purge_window")
    purged = _admins_purged(events, lf, admin_roles, purge, pw)
    if purged is not None:  # the purge's events make no second finding
        lf = lf.join(
            purged.lazy().select(pl.col("event_ids").alias("event_id")).explode("event_id"),
            on="event_id",
            how="anti",
        )
    found = (
        bursts(lf, ["tenant_id", "actor_id"], window=w, threshold=threshold)
        .with_columns(_privilege=_privilege_name())
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            pl.col("action").str.ends_with(".grant").sum().alias("grants"),
            pl.col("action").str.ends_with(".revoke").sum().alias("revokes"),
            pl.col("target_id").n_unique().alias("principals"),
            admin.sum().alias("admin"),
            privilege.filter(admin).unique(maintain_order=True).head(5).alias("admin_names"),
        )
        .with_columns(
            severity=pl.when(pl.col("admin") > 0).then(pl.lit("medium")).otherwise(pl.lit("low")),
            summary=pl.concat_str(
                pl.format(
                    "{} made {} privilege changes ({} grants, {} revocations) affecting {} "
                    "principals within {}, between {} and {}; ",
                    q(pl.col("actor_id")),
                    pl.col("event_ids").list.len(),
                    pl.col("grants"),
                    pl.col("revokes"),
                    pl.col("principals"),
                    pl.lit(human(w)),
                    fmt_time(pl.col("first_seen")),
                    fmt_time(pl.col("last_seen")),
                ),
                pl.when(pl.col("admin") > 0)
                .then(
                    pl.format(
                        "{} of them of admin-like roles or permissions ({}).",
                        pl.col("admin"),
                        pl.col("admin_names").list.join(", "),
                    )
                )
                .otherwise(pl.lit("none of an admin-like role or permission.")),
            ),
        )
    )
    if purged is not None:
        shown = ["tenant_id", "actor_id", "first_seen", "last_seen", "event_ids", "severity",
                 "summary"]  # fmt: skip
        found = pl.concat([found.select(shown), purged.lazy().select(shown)], how="vertical")
    return finalize(found, "privilege_change_burst")


def _admins_purged(
    events: Events, changes: pl.LazyFrame, admin_roles: str, purge: int, w: timedelta
) -> pl.DataFrame | None:
    """Bursts of one actor revoking admin-like privileges from ``purge`` or more
    principals within ``w`` (see :func:`privilege_change_burst`): candidate findings, or
    None."""
    keys = ["tenant_id", "actor_id"]
    revoked = (
        changes.filter(pl.col("action").str.ends_with(".revoke"))
        .with_columns(_privilege=_privilege_name(), _who=_subject())
        .filter(pl.col("_privilege").str.contains(admin_roles).fill_null(False))
        .filter(pl.col("_who").is_not_null() & pl.col("actor_id").is_not_null())
        .drop("targets", "metadata")
    )
    hits = bursts(revoked, keys, window=w, threshold=purge, distinct="_who").collect()
    if hits.height == 0:
        return None
    places = subset(
        events, ("event_id", "source_ip", "user_agent", "geo_country"),
        pl.col("event_id").is_in(hits.get_column("event_id").implode()),
    )  # fmt: skip
    judged = (
        away_from_home(
            hits.lazy().join(places, on="event_id", how="left"), events, keys, w, by_tenant=True
        )
        .sort("occurred_at", "event_id")
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("_who").unique(maintain_order=True).alias("_whom"),
            pl.col("_privilege").unique(maintain_order=True).alias("_roles"),
            pl.col("source_ip").filter("_new_net").unique(maintain_order=True).alias("_ips"),
            pl.col("_country").filter("_new_country").unique(maintain_order=True).alias("_places"),
        )
        .with_columns(_away=(pl.col("_ips").list.len() + pl.col("_places").list.len()) > 0)
        .select(
            *keys,
            "first_seen",
            "last_seen",
            "event_ids",
            pl.when("_away").then(pl.lit("high")).otherwise(pl.lit("medium")).alias("severity"),
            pl.format(
                "{} took admin-like privileges ({}) from {} principals {}: {}{}{}: a purge of "
                "the administrators, who could otherwise respond.",
                q(pl.col("actor_id")),
                first_few(pl.col("_roles"), 3, ", "),
                pl.col("_whom").list.len(),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_whom").list.eval(q(pl.element())), 5, ", "),
                pl.when(pl.col("_ips").list.len() > 0)
                .then(
                    pl.format(
                        ", from a network it had never made its own ({})",
                        first_few(pl.col("_ips"), 3, ", "),
                    )
                )
                .otherwise(pl.lit("")),
                pl.when(pl.col("_places").list.len() > 0)
                .then(
                    pl.format(
                        ", from a country it had never made its own ({})",
                        first_few(pl.col("_places"), 3, ", "),
                    )
                )
                .otherwise(pl.lit("")),
            ).alias("summary"),
        )
        .collect()
    )
    return judged if judged.height else None


#: How far back a principal's roles are looked for before a grant.
_ROLES_LOOKBACK: Final = timedelta(days=1)


def _around(pairs: pl.DataFrame) -> pl.Expr:
    """Events from a day before a grant to its revocation, for any of ``pairs``: a few
    time comparisons select them faster than a test of every event's actor (when there
    are many pairs, the span of them all)."""
    start = pairs.get_column("_granted_at") - _ROLES_LOOKBACK
    end = pairs.get_column("_revoked_at")
    if pairs.height > 32:
        return T.is_between(start.min(), end.max())
    return pl.any_horizontal(T.is_between(a, b) for a, b in zip(start, end, strict=True))


def _privileged_use() -> pl.Expr:
    """Actions that use an administrator's power: admin and sensitive actions, touching the
    audit trail, and bulk-capable reads and removals (exports, downloads, deletions)."""
    action = pl.col("action")
    return (
        (pl.col("category") == "admin").fill_null(False)
        | action.is_in([*ADMIN_ACTIONS, *SENSITIVE_ACTIONS])
        | is_audit_action(action)
        | verb(action).str.contains(r"export|download|dump|delete|purge|destroy").fill_null(False)
    )


@register_detector(
    "transient_privilege", title="Admin privilege granted and soon revoked", severity="high"
)
def transient_privilege(
    events: Events,
    *,
    within: str | timedelta = "1h",
    admin_roles: str = PRIVILEGED_ROLE_PATTERN,
) -> pl.DataFrame:
    """An admin-like role or permission granted to a principal and revoked from them again
    within ``within``: borrowed power, with the tracks hidden.

    A successful ``role.grant`` / ``permission.grant`` of a role or permission matching
    ``admin_roles``, then a successful revocation of the same one from the same principal
    (GCP's ``user:`` prefixes removed) within ``within``.  High when the principal did
    privileged actions in between (admin and sensitive actions, the audit trail, exports,
    downloads, deletions); medium when they did only other things; low when they did
    nothing (a wrong grant put right), when their last event before the grant already
    showed an admin role (nothing was borrowed), or when the system or a service revoked
    it (a just-in-time grant that expired).

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    within
        Longest time between the grant and the revocation.
    admin_roles
        Regular expression matching admin-like role and permission names.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> def ev(minute, action, actor, **kw):
    ...     return {"tenant_id": "acme", "occurred_at": f"2026-01-05T09:{minute:02d}:00Z",
    ...             "action": action, "actor": {"id": actor}, **kw}
    >>> grant = {"targets": [{"id": "bob", "type": "user"}], "metadata": {"role": "admin"}}
    >>> df = events_to_frame([ev(0, "role.grant", "eve", **grant),
    ...                       ev(3, "audit_log.disable", "bob"),
    ...                       ev(9, "role.revoke", "eve", **grant)])
    >>> found = transient_privilege(df)
    >>> found["severity"][0]
    'high'
    >>> print(found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'eve' granted 'admin' to 'bob' at 2026-01-05 09:00 UTC and 'eve' revoked it 9m later;
    in between 'bob' performed 1 action(s), 1 of them privileged (audit_log.disable).
    """
    w = duration(within, name="within")
    cols = (
        *("tenant_id", "actor_id", "actor_type", "occurred_at", "event_id"),
        *("action", "outcome", "targets", "metadata"),
    )
    ok = pl.col("outcome") == "success"
    changes = (
        subset(events, cols, pl.col("action").is_in(list(PRIVILEGE_ACTIONS)), ok)
        .with_columns(_privilege=_privilege_name(), _who=_subject())
        .filter(
            pl.col("_privilege").str.contains(admin_roles).fill_null(False)
            & pl.col("_who").is_not_null()
        )
        .with_columns(
            _key=pl.col("_privilege").str.to_lowercase(),
            _grant=pl.col("action").is_in(_GRANTS),
        )
        .sort("occurred_at")
        .collect()
    )
    grants = changes.filter("_grant")
    revokes = changes.filter(~pl.col("_grant"))
    if grants.height == 0 or revokes.height == 0:
        return finalize(no_candidates(), "transient_privilege")
    pairs = (
        revokes.select(
            "tenant_id",
            "_who",
            "_key",
            pl.col("actor_id").alias("_revoker"),
            pl.col("actor_type").alias("_revoker_type"),
            pl.col("event_id").alias("_revoke_id"),
            T.alias("_revoked_at"),
        )
        .join_asof(
            grants.select(
                "tenant_id",
                "_who",
                "_key",
                "actor_id",
                "_privilege",
                pl.col("event_id").alias("_grant_id"),
                T.alias("_granted_at"),
            ),
            left_on="_revoked_at",
            right_on="_granted_at",
            by=["tenant_id", "_who", "_key"],
            strategy="backward",
            tolerance=w,
            check_sortedness=False,
        )
        .filter(pl.col("_grant_id").is_not_null())
        .unique("_grant_id", keep="first", maintain_order=True)
    )
    if pairs.height == 0:
        return finalize(no_candidates(), "transient_privilege")
    subject_events = (
        subset(
            events,
            (
                *("tenant_id", "actor_id", "actor_roles", "occurred_at", "event_id"),
                *("action", "category", "outcome"),
            ),
            _around(pairs),
            pl.col("actor_id").is_in(pairs.get_column("_who").unique().implode()),
            ok,
        )
        .join(
            pairs.lazy().select(
                "tenant_id",
                pl.col("_who").alias("actor_id"),
                "_grant_id",
                "_granted_at",
                "_revoked_at",
                "_revoke_id",
            ),
            on=["tenant_id", "actor_id"],
        )
        .filter(T.is_between(pl.col("_granted_at") - _ROLES_LOOKBACK, pl.col("_revoked_at")))
        .collect()
    )
    # an admin already (the roles on their last event before the grant, within a week):
    # nothing was borrowed
    had_admin = (
        subject_events.lazy()
        .filter((pl.col("_granted_at") > T) & pl.col("actor_roles").is_not_null())
        .sort("occurred_at")
        .group_by("_grant_id")
        .agg(
            pl.col("actor_roles")
            .last()
            .list.eval(pl.element().str.contains(admin_roles))
            .list.any()
            .alias("_had_admin")
        )
    )
    acts = (
        subject_events.lazy()
        .filter(
            T.is_between(pl.col("_granted_at"), pl.col("_revoked_at"))
            & (pl.col("event_id") != pl.col("_grant_id"))
            & (pl.col("event_id") != pl.col("_revoke_id"))
        )
        .with_columns(_used=_privileged_use())
        .sort("occurred_at", "event_id")
        .group_by("_grant_id")
        .agg(
            pl.col("event_id").head(100).alias("_acts"),
            pl.len().alias("_n"),
            pl.col("_used").sum().alias("_k"),
            pl.col("action").filter("_used").unique(maintain_order=True).head(5).alias("_what"),
        )
    )
    machine_revoked = pl.col("_revoker_type").is_in(["system", "service"]).fill_null(False)
    had = pl.col("_had_admin").fill_null(False)
    n = pl.col("_n").fill_null(0)
    k = pl.col("_k").fill_null(0)
    found = (
        pairs.lazy()
        .join(acts, on="_grant_id", how="left")
        .join(had_admin, on="_grant_id", how="left")
        .select(
            "tenant_id",
            "actor_id",
            pl.col("_granted_at").alias("first_seen"),
            pl.col("_revoked_at").alias("last_seen"),
            pl.concat_list(
                pl.col("_grant_id"), pl.col("_acts").fill_null([]), pl.col("_revoke_id")
            ).alias("event_ids"),
            pl.when(machine_revoked | had | (n == 0))
            .then(pl.lit("low"))
            .when(k > 0)
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.concat_str(
                pl.format(
                    "{} granted {} to {} at {} and {} revoked it {} later; ",
                    q(pl.col("actor_id")),
                    q(pl.col("_privilege")),
                    q(pl.col("_who")),
                    fmt_time(pl.col("_granted_at")),
                    q(pl.col("_revoker")),
                    fmt_duration(pl.col("_revoked_at") - pl.col("_granted_at")),
                ),
                pl.when(n == 0)
                .then(pl.format("{} did nothing in between", q(pl.col("_who"))))
                .otherwise(
                    pl.format(
                        "in between {} performed {} action(s), {} of them privileged{}",
                        q(pl.col("_who")),
                        n,
                        k,
                        pl.when(k > 0)
                        .then(pl.format(" ({})", pl.col("_what").list.join(", ")))
                        .otherwise(pl.lit("")),
                    )
                ),
                pl.when(machine_revoked).then(
                    pl.lit(" (revoked by the system or a service: an expiring grant)")
                ),
                pl.when(had).then(
                    pl.format(" ({} already held an admin role before)", q(pl.col("_who")))
                ),
                pl.lit("."),
                ignore_nulls=True,
            ).alias("summary"),
        )
    )
    return finalize(found, "transient_privilege")


#: Actions that join a principal to a team or group.
TEAM_JOINS: Final = ("team_member.add", "group_member.add")
#: What an integration or API key acting as an administrator does.
SIDE_DOOR_ACTIONS: Final = (
    *PRIVILEGE_ACTIONS,
    *TEAM_JOINS,
    *("mfa.disable", "mfa.reset", "sso.update", "policy.update", "settings.update"),
    *("integration.add", "api_key.create", "user.create", "user.invite"),
    *("audit_log.disable", "audit_retention.update", "audit_destination.remove"),
)


def _team_name() -> pl.Expr:
    meta = pl.col("metadata")
    typed = (
        pl.col("targets")
        .list.eval(
            pl.coalesce(pl.element().struct.field("name"), pl.element().struct.field("id")).filter(
                kind(pl.element().struct.field("type")).is_in(["team", "group", "usergroup"])
            )
        )
        .list.first()
    )
    return pl.coalesce(
        meta.str.json_path_match("$.team"),
        meta.str.json_path_match("$.group"),
        meta.str.json_path_match("$.team_name"),
        typed,
    )


def _joined() -> pl.Expr:
    """The principal who joins: a target of type user (else the first target, else the actor)."""
    user = (
        pl.col("targets")
        .list.eval(
            pl.element()
            .struct.field("id")
            .filter(kind(pl.element().struct.field("type")) == "user")
        )
        .list.first()
    )
    return pl.coalesce(user, pl.col("actor_id"))


@register_detector("side_door_privilege", title="Privilege through the side door", severity="high")
def side_door_privilege(
    events: Events,
    *,
    privileged: str = PRIVILEGED_NAME_PATTERN,
    not_privileged: str = NOT_PRIVILEGED_NAME_PATTERN,
    admin_roles: str = ADMIN_ROLE_PATTERN,
    min_history: str | timedelta = "7d",
    routine_days: int = 2,
    follow: str | timedelta = "24h",
) -> pl.DataFrame:
    """Becoming privileged without a ``role.grant``: joining a privileged team or group,
    an admin-like permission handed out by a non-admin, or an integration or API key
    starting to act as an administrator.

    Four shapes, all on successful events.  A ``team_member.add`` /
    ``group_member.add`` into a team whose name (``metadata.team``/``group``, or a
    target of type team or group) matches ``privileged`` and not ``not_privileged`` (a
    product owners' team), by a person without an admin
    role (``admin_roles``): of oneself, critical; of someone else, when the actor never
    added anyone to a privileged team before, high.  A ``permission.grant`` of a permission matching
    ``privileged`` to someone else by a person without an admin role: high, with the
    grantee's admin actions within ``follow`` as evidence.  A service, API key or
    integration doing an admin action (``SIDE_DOOR_ACTIONS``) it had not done on at
    least ``routine_days`` earlier days, once its tenant has ``min_history`` of events:
    high.  An IAM policy made to allow every action on every resource (a managed policy's
    new default version, an inline policy put) by an actor who had made such a change on
    fewer than ``routine_days`` earlier days, once the tenant has ``min_history``: high
    (rewriting a policy attached to one's own key is an escalation no grant shows).
    An admin-like role granted to the group of every user (``Everyone``, ``All Users``,
    ``Everyone@acme``: :data:`~auditkit.analytics.detectors.common.EVERYONE_GROUP`), by
    anyone, from anywhere: high (every account, the intruder's included, is now an
    administrator).  Admins managing their teams, and integrations doing their daily
    provisioning, stay quiet.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "team_member.add", "actor": {"id": "eve", "roles": ["viewer"]},
    ...     "targets": [{"id": "eve", "type": "user"}], "metadata": {"team": "Admins"}}])
    >>> print(side_door_privilege(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'eve' (roles: viewer) added themselves to the privileged team 'Admins' at 2026-01-05 09:00
    UTC; they had never added anyone to a privileged team before.
    """
    history = duration(min_history, name="min_history")
    after = duration(follow, name="follow")
    positive(routine_days, "routine_days")
    cols = (
        *("tenant_id", "actor_id", "actor_type", "actor_roles", "occurred_at", "event_id"),
        *("action", "outcome", "targets", "metadata"),
    )
    ok = pl.col("outcome") == "success"
    is_admin = (
        pl.col("actor_roles")
        .list.eval(pl.element().str.contains(admin_roles))
        .list.any()
        .fill_null(False)
    )
    names = partial(privileged_name, privileged=privileged, not_privileged=not_privileged)
    frames = [
        _team_joins(events, cols, ok, names, is_admin),
        _permission_grants(events, cols, ok, names, is_admin, after),
        _machines_as_admin(events, cols, ok, names, history, routine_days),
        _documents_granting_all(events, cols, ok, history, routine_days),
        _everyone_made_admin(events, cols, ok),
    ]
    together = pl.concat([f.cast(dict(CANDIDATE_SCHEMA)) for f in frames], how="vertical")  # type: ignore[arg-type]
    return finalize(together, "side_door_privilege")


def _team_joins(
    events: Events,
    cols: Sequence[str],
    ok: pl.Expr,
    names: Callable[[pl.Expr], pl.Expr],
    is_admin: pl.Expr,
) -> pl.DataFrame:
    found = (
        subset(events, cols, pl.col("action").is_in(list(TEAM_JOINS)), ok)
        .with_columns(_team=_team_name(), _who=_joined(), _admin=is_admin)
        .collect()
    )
    made = _admin_groups(events, found)
    joins = (
        found.lazy()
        .join(made, on=["tenant_id", "_team"], how="left", maintain_order="left")
        # a group holds an admin role when the trail shows it granted before the join
        .with_columns(_made=pl.col("_made_at").is_not_null() & (pl.col("_made_at") <= T))
        .filter(names(pl.col("_team")) | pl.col("_made"))
        .sort("occurred_at")
        .with_columns(
            _before=pl.int_range(pl.len()).over("tenant_id", "actor_id"),
            _self=pl.col("_who") == pl.col("actor_id"),
        )
    )
    return (
        joins.filter(is_person() & ~pl.col("_admin") & (pl.col("_self") | (pl.col("_before") == 0)))
        .select(
            "tenant_id",
            "actor_id",
            T.alias("first_seen"),
            T.alias("last_seen"),
            pl.when(pl.col("_made"))
            .then(pl.concat_list("_made_id", "event_id"))
            .otherwise(pl.concat_list("event_id"))
            .alias("event_ids"),
            pl.when(pl.col("_self"))
            .then(pl.lit("critical"))
            .otherwise(pl.lit("high"))
            .alias("severity"),
            pl.format(
                "{} (roles: {}) added {} to the privileged team {}{} at {}; they had {}.",
                q(pl.col("actor_id")),
                pl.col("actor_roles").list.join(", ").fill_null("none"),
                pl.when(pl.col("_self")).then(pl.lit("themselves")).otherwise(q(pl.col("_who"))),
                q(pl.col("_team")),
                pl.when(pl.col("_made"))
                .then(
                    pl.format(
                        " (granted the role {} by {} at {})",
                        q(pl.col("_made_role")),
                        q(pl.col("_made_by")),
                        fmt_time(pl.col("_made_at")),
                    )
                )
                .otherwise(pl.lit("")),
                fmt_time(T),
                pl.when(pl.col("_before") == 0)
                .then(pl.lit("never added anyone to a privileged team before"))
                .otherwise(
                    pl.format("added members to privileged teams {} time(s) before", "_before")
                ),
            ).alias("summary"),
        )
        .collect()
    )


def _everyone_made_admin(events: Events, cols: Sequence[str], ok: pl.Expr) -> pl.DataFrame:
    """An admin-like role (``PRIVILEGED_ROLE_PATTERN``) granted to the group of every user
    (see :func:`side_door_privilege`): candidate findings."""
    target = pl.element().struct
    grants = (
        subset(events, cols, pl.col("action").is_in(list(_GRANTS)), ok)
        .with_columns(
            _role=_privilege_name(),
            _group=pl.col("targets")
            .list.eval(
                pl.coalesce(target.field("name"), target.field("id")).filter(
                    kind(target.field("type")).is_in(["team", "group", "usergroup"])
                )
            )
            .list.first(),
        )
        .filter(
            pl.col("_group").is_not_null()
            & pl.col("_role").str.contains(PRIVILEGED_ROLE_PATTERN).fill_null(False)
        )
        .collect()
    )
    if grants.height == 0:
        return no_candidates()
    whole = everyone_groups(events, grants.lazy()).with_columns(_whole=pl.lit(True))
    return (
        grants.lazy()
        .join(whole, on=["tenant_id", "_group"], how="left")
        .filter(pl.col("_group").str.contains(EVERYONE_GROUP) | pl.col("_whole").fill_null(False))
        .select(
            "tenant_id",
            "actor_id",
            T.alias("first_seen"),
            T.alias("last_seen"),
            pl.concat_list("event_id").alias("event_ids"),
            pl.lit("high").alias("severity"),
            pl.format(
                "{} granted the admin-like role {} to {}, the group of every user, at {}: "
                "every account, any stolen one included, is now an administrator.",
                q(pl.col("actor_id")),
                q(pl.col("_role")),
                q(pl.col("_group")),
                fmt_time(T),
            ).alias("summary"),
        )
        .collect()
    )


def _admin_groups(events: Events, joins: pl.DataFrame) -> pl.LazyFrame:
    """For the teams and groups of ``joins``: the first successful ``role.grant`` of an
    admin-like role (``PRIVILEGED_ROLE_PATTERN``: Okta's ``group.privilege.grant`` of
    Super administrator) to the group itself, as ``_made_at``, ``_made_id``, ``_made_by``
    and ``_made_role``.  Joining such a group makes one an administrator, whatever its
    name (``helpdesk-temp``)."""
    schema = pl.Schema(
        [("tenant_id", pl.String()), ("_team", pl.String()),
         ("_made_at", pl.Datetime("us", "UTC")), ("_made_id", pl.String()),
         ("_made_by", pl.String()), ("_made_role", pl.String())]
    )  # fmt: skip
    teams = joins.select("tenant_id", "_team").drop_nulls().unique()
    if teams.height == 0:
        return pl.LazyFrame(schema=schema)
    target = pl.col("targets")
    return (
        subset(
            events,
            (
                "tenant_id",
                "occurred_at",
                "event_id",
                "actor_id",
                "action",
                "outcome",
                "targets",
                "metadata",
            ),
            pl.col("action") == "role.grant",
            pl.col("outcome") == "success",
        )
        .with_columns(_made_role=pl.col("metadata").str.json_path_match("$.role"))
        .filter(pl.col("_made_role").str.contains(PRIVILEGED_ROLE_PATTERN).fill_null(False))
        .explode("targets")
        .filter(
            kind(target.struct.field("type")).is_in(["team", "group", "usergroup"]).fill_null(False)
        )
        .select(
            "tenant_id",
            "_made_role",
            _team=pl.coalesce(target.struct.field("name"), target.struct.field("id")),
            _made_at=T,
            _made_id=pl.col("event_id"),
            _made_by=pl.col("actor_id"),
        )
        .join(teams.lazy(), on=["tenant_id", "_team"], how="semi")
        .sort("_made_at")
        .group_by("tenant_id", "_team")
        .agg(pl.all().first())
        .select(list(schema))
        .cast(schema)
    )


def _permission_grants(
    events: Events,
    cols: Sequence[str],
    ok: pl.Expr,
    names: Callable[[pl.Expr], pl.Expr],
    is_admin: pl.Expr,
    after: timedelta,
) -> pl.DataFrame:
    grants = (
        subset(events, cols, pl.col("action") == "permission.grant", ok)
        .with_columns(
            _perm=pl.col("metadata").str.json_path_match("$.permission"),
            _who=_joined(),
        )
        .filter(
            names(pl.col("_perm"))
            & is_person()
            & ~is_admin
            & (pl.col("_who") != pl.col("actor_id"))
        )
        .collect()
    )
    if grants.height == 0:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    used = (
        subset(
            events,
            cols,
            pl.col("actor_id").is_in(grants.get_column("_who").unique().implode()),
            pl.col("action").is_in(list(ADMIN_ACTIONS)),
            ok,
        )
        .join(
            grants.lazy().select(
                "tenant_id",
                pl.col("_who").alias("actor_id"),
                pl.col("event_id").alias("_gid"),
                T.alias("_granted"),
            ),
            on=["tenant_id", "actor_id"],
        )
        .filter((pl.col("_granted") < T) & (T - pl.col("_granted") <= after))
        .sort("occurred_at")
        .group_by("_gid")
        .agg(pl.col("event_id").alias("_used"), T.max().alias("_used_at"))
    )
    return (
        grants.lazy()
        .join(used, left_on="event_id", right_on="_gid", how="left")
        .select(
            "tenant_id",
            "actor_id",
            T.alias("first_seen"),
            pl.max_horizontal(T, "_used_at").alias("last_seen"),
            pl.concat_list("event_id", pl.col("_used").fill_null([])).alias("event_ids"),
            pl.lit("high").alias("severity"),
            pl.concat_str(
                pl.format(
                    "{} (roles: {}, not an admin) granted the admin-like permission {} to {} at {}",
                    q(pl.col("actor_id")),
                    pl.col("actor_roles").list.join(", ").fill_null("none"),
                    q(pl.col("_perm")),
                    q(pl.col("_who")),
                    fmt_time(T),
                ),
                pl.when(pl.col("_used").is_not_null()).then(
                    pl.format(
                        "; {} then performed {} admin action(s) by {}",
                        q(pl.col("_who")),
                        pl.col("_used").list.len(),
                        fmt_time(pl.col("_used_at")),
                    )
                ),
                pl.lit("."),
                ignore_nulls=True,
            ).alias("summary"),
        )
        .collect()
    )


def _machines_as_admin(
    events: Events,
    cols: Sequence[str],
    ok: pl.Expr,
    names: Callable[[pl.Expr], pl.Expr],
    history: timedelta,
    routine_days: int,
) -> pl.DataFrame:
    machine = ~is_person() & (pl.col("actor_type") != "system")
    acts = (
        subset(events, cols, pl.col("action").is_in(list(SIDE_DOOR_ACTIONS)), ok)
        .filter(machine)
        .with_columns(_team=_team_name())
        # joining an ordinary team is not acting as an admin
        .filter(~pl.col("action").is_in(list(TEAM_JOINS)) | names(pl.col("_team")))
        .collect()
    )
    if acts.height == 0:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    keys = ["tenant_id", "actor_id"]
    starts = began(events).rename({"_began": "_t0"})
    actors = acts.select(keys).unique()
    profile = (
        lazy(events, *keys, "occurred_at", "event_id")
        .filter(pl.col("actor_id").is_in(actors.get_column("actor_id").implode()))
        .join(actors.lazy(), on=keys, how="semi")
        .group_by(keys)
        .agg(_a0=T.min(), _a0_id=pl.col("event_id").get(T.arg_min()), _an=pl.len())
    )
    day = T.dt.truncate("1d")
    flagged = (
        acts.lazy()
        .sort("occurred_at")
        .with_columns(_day=day)
        .with_columns(
            # distinct earlier days on which the actor did this action
            _days=(pl.col("_day").rank("dense") - 1).over(*keys, "action"),
        )
        .join(starts, on="tenant_id")
        .join(profile, on=keys)
        .filter((T - pl.col("_t0") >= history) & (pl.col("_days") < routine_days))
        .with_columns(_first=(pl.col("_day") == pl.col("_day").min()).over(*keys, "action"))
        .filter("_first")
    )
    return (
        flagged.group_by(*keys, "action")
        .agg(
            pl.col("actor_type", "_a0", "_a0_id", "_an").first(),
            T.min().alias("_at"),
            T.max().alias("last_seen"),
            pl.col("event_id").head(50).alias("_ids"),
        )
        .select(
            *keys,
            pl.col("_a0").alias("first_seen"),
            "last_seen",
            pl.concat_list(pl.col("_a0_id"), pl.col("_ids"))
            .list.unique(maintain_order=True)
            .alias("event_ids"),
            pl.lit("high").alias("severity"),
            pl.format(
                "{} ({}) performed {} at {}, an admin action it had done on fewer than {} earlier "
                "day(s); it was first seen {} earlier ({}, {} events in all).",
                q(pl.col("actor_id")),
                pl.col("actor_type"),
                pl.col("action"),
                fmt_time(pl.col("_at")),
                pl.lit(routine_days),
                fmt_duration(pl.col("_at") - pl.col("_a0")),
                fmt_time(pl.col("_a0")),
                pl.col("_an"),
            ).alias("summary"),
        )
        .collect()
    )


#: Actions that can only mean "everything" in a policy statement (``iam:*`` lets its
#: holder grant itself everything else).
_ALL_ACTIONS: Final = frozenset(("*", "*:*", "iam:*"))


def _listed(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v).strip().lower() for v in items if isinstance(v, str)]


def grants_everything(metadata: str | None) -> bool:
    """Whether an IAM policy document in the event's request, in force once it is stored
    (an inline policy put, or a managed policy's new version made its default), allows
    every action (``*``, or ``iam:*``) on every resource.

    Examples
    --------
    >>> import json
    >>> doc = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    >>> meta = lambda **r: json.dumps({"original": {"requestParameters": r}})
    >>> grants_everything(meta(policyDocument=json.dumps(doc), setAsDefault=True))
    True
    >>> grants_everything(meta(policyDocument=json.dumps(doc), setAsDefault=False))
    False
    >>> grants_everything(meta(policyDocument=json.dumps({"Statement": [{"Effect": "Allow",
    ...     "Action": ["s3:GetObject"], "Resource": "*"}]}), policyName="read"))
    False
    """
    meta = json_or_none(metadata)
    request = producer_request(meta.get("original")) if isinstance(meta, Mapping) else None
    if not isinstance(request, Mapping):
        return False
    if "setAsDefault" in request and request.get("setAsDefault") is not True:
        return False  # a version kept aside grants nothing until it is made the default
    doc = request.get("policyDocument")
    doc = json_or_none(doc) if isinstance(doc, str) else doc
    statements = doc.get("Statement") if isinstance(doc, Mapping) else None
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, Mapping) or str(st.get("Effect", "")).lower() != "allow":
            continue
        if _ALL_ACTIONS.intersection(_listed(st.get("Action"))) and "*" in _listed(
            st.get("Resource")
        ):
            return True
    return False


def _documents_granting_all(
    events: Events, cols: Sequence[str], ok: pl.Expr, history: timedelta, routine_days: int
) -> pl.DataFrame:
    """A policy made to allow everything (``CreatePolicyVersion`` set as default, an
    inline ``Put*Policy``), by an actor who had done that kind of change on fewer than
    ``routine_days`` earlier days: a managed policy attached to the actor's own key
    rewritten is the classic escalation that no role grant shows."""
    kinds = ("policy.update", "permission.grant")
    found = (
        subset(events, cols, pl.col("action").is_in(kinds), ok)
        .filter(pl.col("metadata").str.contains("(?i)policydocument").fill_null(False))
        .collect()
    )
    if found.height == 0:
        return no_candidates()
    found = found.filter(
        pl.Series([grants_everything(m) for m in found.get_column("metadata")], dtype=pl.Boolean)
    )
    if found.height == 0:
        return no_candidates()
    keys = ["tenant_id", "actor_id"]
    # each such change with the days before it on which its actor made that kind of change
    days = earlier_days(
        found.lazy().select("tenant_id", "actor_id", "action", _episode="event_id", first_seen=T),
        subset(events, (*keys, "occurred_at", "action"), pl.col("action").is_in(kinds)),
        [*keys, "action"],
    )
    routine = days.filter(pl.col("_days") >= routine_days).collect()
    starts = began(events).rename({"_began": "_t0"}).collect()
    fresh = (
        found.join(routine, left_on="event_id", right_on="_episode", how="anti")
        .join(starts, on="tenant_id")
        .filter(T - pl.col("_t0") >= history)  # a trail's first days: everything is new
    )
    return fresh.select(
        *keys,
        T.alias("first_seen"),
        T.alias("last_seen"),
        pl.concat_list("event_id").alias("event_ids"),
        pl.lit("high").alias("severity"),
        pl.format(
            "{} made {} allow every action on every resource ({}) at {}; they had made such "
            "a change on fewer than {} earlier day(s).",
            q(pl.col("actor_id")),
            q(pl.coalesce(_target_ids().list.first(), pl.lit("a policy"))),
            pl.col("action"),
            fmt_time(T),
            pl.lit(routine_days),
        ).alias("summary"),
    )


@register_detector(
    "admin_grant_from_new_network",
    title="Administrator role granted from a new network",
    severity="high",
)
def admin_grant_from_new_network(
    events: Events,
    *,
    admin_roles: str = PRIVILEGED_ROLE_PATTERN,
    min_history: str | timedelta = "7d",
    gap: str | timedelta = "1h",
) -> pl.DataFrame:
    """An administrator role or policy granted to someone else by a person acting from a
    network they had never made their own: an intruder in an admin's account making a
    second account of theirs an administrator, which no grant to oneself, no new account
    and no burst shows.

    Successful ``role.grant`` and ``permission.grant`` whose role, permission or policy
    matches ``admin_roles``, to a principal other than the actor, by a person (not a
    service or a pipeline), once the actor has ``min_history`` of events and has made a
    network its own.  The network is the source address's ``/24`` (``/64``) and is new
    when the actor had used it on fewer than three days
    (:func:`~auditkit.analytics.detectors.common.new_network`); an actor seen on a day or
    two a week has no network of its own yet, and is not judged.  High with
    a client the actor never used either; medium with their usual client (an admin in a
    hotel).  One actor's such grants no more than ``gap`` apart make one finding.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> usual = [{"tenant_id": "acme", "occurred_at": f"2026-01-{d:02d}T09:00:00Z",
    ...           "action": "user.login", "actor": {"id": "alice"},
    ...           "source": {"ip": "198.51.100.7", "user_agent": "Firefox/120"}}
    ...          for d in range(1, 20)]
    >>> grant = {"tenant_id": "acme", "occurred_at": "2026-01-20T03:00:00Z",
    ...          "action": "role.grant", "actor": {"id": "alice"},
    ...          "source": {"ip": "185.220.101.47", "user_agent": "python-requests/2.31"},
    ...          "targets": [{"id": "mallory", "type": "user"}], "metadata": {"role": "admin"}}
    >>> found = admin_grant_from_new_network(events_to_frame(usual + [grant]))
    >>> print(found["severity"][0], found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    high 'alice' granted 'admin' to 'mallory' at 2026-01-20 03:00 UTC from a network it
    had never used (185.220.101.47) with a client it had never used ('python-requests/2.31').
    """
    history = duration(min_history, name="min_history")
    g = duration(gap, name="gap")
    keys = ["tenant_id", "actor_id"]
    cols = (*keys, "actor_type", "occurred_at", "event_id", "action", "outcome", "targets",
            "metadata", "source_ip", "user_agent")  # fmt: skip
    grants = (
        subset(
            events,
            cols,
            pl.col("action").is_in((*_GRANTS, *_MEMBERSHIPS)),
            pl.col("outcome") == "success",
            _GRANTING,
        )
        .filter(is_person())
        .with_columns(_who=_subject(), _what=_privilege_name())
        .filter(
            pl.col("_what").str.contains(admin_roles).fill_null(False)
            & pl.col("_who").is_not_null()
            & (pl.col("_who") != pl.col("actor_id"))
            & pl.col("source_ip").is_not_null()
        )
        .drop("metadata", "targets")
        .collect()
    )
    if grants.height == 0:
        return empty()
    marked = from_new_networks(grants, events, keys, history, g)
    found = (
        episodes(marked, keys, g)
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("_what").unique(maintain_order=True),
            pl.col("_who").unique(maintain_order=True),
            *newcomer_aggregations(g),
        )
        .with_columns(
            severity=pl.when("_stranger").then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} granted {} to {} {} {}.",
                q(pl.col("actor_id")),
                first_few(pl.col("_what").list.eval(q(pl.element())), 3, ", "),
                first_few(pl.col("_who").list.eval(q(pl.element())), 3, ", "),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                new_network_text(),
            ),
        )
    )
    return finalize(found, "admin_grant_from_new_network")


_A_DAY: Final = timedelta(days=1)

#: Denials that are the authentication detectors' (a wrong password, a refused prompt).
_SIGN_IN_ACTIONS: Final = ("user.login", "mfa.challenge")


@register_detector("permission_probing", title="Permission probing", severity="medium")
def permission_probing(
    events: Events,
    *,
    min_actions: int = 10,
    min_objects: int = 5,
    gap: str | timedelta = "15m",
    high_actions: int = 30,
    max_evidence: int = 200,
) -> pl.DataFrame:
    """An actor denied many different actions it had never been allowed, in one burst.

    This is how a stolen key or token maps what it may do: a script (enumerate-iam,
    Pacu, a loop over an API) calls one action after another and most are refused.
    A denial counts only when the actor had never done that action successfully
    before it: a job whose role lost a permission, or a person retrying one refused
    action, is not probing.  Denied sign-ins and MFA prompts are the authentication
    detectors'.  Denials no more than ``gap`` apart are one burst; a burst is reported
    when it holds ``min_actions`` distinct such actions on ``min_objects`` distinct
    kinds of object (the action without its verb: ``iam_users`` of
    ``iam_users.list``), high from ``high_actions``.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    min_actions
        Distinct denied actions, never allowed before, in one burst.
    min_objects
        Distinct kinds of object among them: one page of a console that is refused
        is several actions on one kind of object.
    gap
        Longest pause within a burst.
    high_actions
        Distinct denied actions that make the finding high.
    max_evidence
        Evidence ids kept (the first denials).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> things = ["users", "roles", "keys", "buckets", "queues", "secrets"]
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": f"2026-01-05T03:12:{i:02d}Z",
    ...      "action": f"{thing}.{verb}", "outcome": "denied",
    ...      "actor": {"id": "ci-deploy", "type": "api_key"}}
    ...     for i, (thing, verb) in enumerate((t, v) for t in things for v in ("list", "get"))])
    >>> print(permission_probing(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'ci-deploy' was denied 12 different actions on 6 kinds of object (12 attempts) at
    2026-01-05 03:12 UTC, none of which it had been allowed before:
    'users.list', 'users.get', 'roles.list', 'roles.get', 'keys.list' and 7 more.
    """
    g = duration(gap, name="gap")
    positive(min_actions, "min_actions")
    positive(min_objects, "min_objects")
    positive(max_evidence, "max_evidence")
    keys = ["tenant_id", "actor_id"]
    cols = (*keys, "occurred_at", "event_id", "action", "outcome")
    denied = subset(
        events,
        cols,
        pl.col("outcome") == "denied",
        pl.col("actor_id").is_not_null() & ~pl.col("action").is_in(_SIGN_IN_ACTIONS),
    ).collect()
    # only actors denied enough different actions in all can reach the threshold
    many = (
        denied.group_by(keys)
        .agg(_n=pl.col("action").n_unique())
        .filter(pl.col("_n") >= min_actions)
    )
    if many.height == 0:
        return finalize(no_candidates(), "permission_probing")
    probes = denied.join(many.select(keys), on=keys, how="semi")
    # the first time each actor was allowed each of those actions
    allowed = (
        lazy(events, *cols)
        .filter(pl.col("outcome") == "success")
        .join(probes.lazy().select(*keys, "action").unique(), on=[*keys, "action"])
        .group_by(*keys, "action")
        .agg(_ok=T.min())
    )
    new = (
        probes.lazy()
        .join(allowed, on=[*keys, "action"], how="left", maintain_order="left")
        .filter(pl.col("_ok").is_null() | (pl.col("_ok") > T))
        .drop("_ok")
    )
    found = (
        episodes(
            new.join(
                began(events, keys, among=many.lazy()), on=keys, how="left", maintain_order="left"
            ),
            keys,
            g,
        )
        .with_columns(_object=pl.col("action").str.replace(r"\.[^.]*$", ""))
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            pl.col("_object").n_unique().alias("_objects"),
            pl.len().alias("_attempts"),
            pl.col("_began").first(),
        )
        .filter(
            (pl.col("_actions").list.len() >= min_actions) & (pl.col("_objects") >= min_objects)
        )
    )
    k = pl.col("_actions").list.len()
    shown = first_few(pl.col("_actions").list.eval(q(pl.element())), 5, ", ")
    return finalize(
        found.with_columns(
            pl.col("event_ids").list.head(max_evidence),
            # a principal new to the trail refused everything is more often a role
            # set up too narrow than a stolen key: high needs a day of history
            severity=pl.when(
                (k >= high_actions) & (pl.col("first_seen") - pl.col("_began") >= _A_DAY)
            )
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} was denied {} different actions on {} kinds of object ({} attempts) {}, "
                "none of which it had been allowed before: {}.",
                q(pl.col("actor_id")),
                k,
                pl.col("_objects"),
                pl.col("_attempts"),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                shown,
            ),
        ),
        "permission_probing",
    )


#: Actions that make a new account (a person, a service account).
def _creates_account(action: str) -> bool:
    """Whether an action makes a new account: a person, an IAM user, a service account.

    >>> [_creates_account(a) for a in ("user.create", "iam_service_account.create",
    ...     "iam_user.create", "service_accounts.create", "user_group.create")]
    [True, True, True, True, False]
    """
    if action in ("user.create", "user.invite"):
        return True
    noun, verb = action_words(action)
    pairs = {a + b for a, b in itertools.pairwise(noun)}
    return (
        bool(verb)
        and verb[0] == "create"
        and bool(pairs & {"serviceaccount", "serviceaccounts", "iamuser", "iamusers"})
    )


#: What gives an account a way in of its own: a key, a password, a sign-in.
_CREDENTIALS: Final = ("api_key.create", "password.reset", "password.change")


@register_detector("backdoor_account", title="New account made an administrator", severity="high")
def backdoor_account(
    events: Events,
    *,
    within: str | timedelta = "1h",
    admin_roles: str = PRIVILEGED_ROLE_PATTERN,
) -> pl.DataFrame:
    """An account created and given an admin role or policy within ``within``: medium;
    high when a key or password is then made for it, or it signs in, within ``within``
    of the grant.

    A new administrator with its own key is how an intruder keeps control after the
    account they came in with is locked: it needs no stolen password, and it looks
    like onboarding.  Onboarding an administrator happens too, which is why the grant
    alone is medium.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> new = [{"id": "support-backup", "type": "user"}]
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T02:00:00Z", "action": "user.create",
    ...      "actor": {"id": "ops"}, "targets": new},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T02:01:00Z",
    ...      "action": "role.grant", "actor": {"id": "ops"}, "targets": new,
    ...      "metadata": {"role": "admin"}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T02:02:00Z",
    ...      "action": "api_key.create", "actor": {"id": "ops"}, "targets": new}])
    >>> print(backdoor_account(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'ops' created 'support-backup' at 2026-01-05 02:00 UTC and 1m later it was given 'admin'
    by 'ops'; then api_key.create for it, 1m later.
    """
    w = duration(within, name="within")
    keys = ["tenant_id", "_who"]
    made = actions_where(events, _creates_account)
    if not made:
        return empty()
    cols = ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome", "targets",
            "metadata")  # fmt: skip
    ok = pl.col("outcome") == "success"
    created = (
        subset(events, cols, pl.col("action").is_in(made), ok)
        .select("tenant_id", _who=_subject(), _creator="actor_id", _made_at=T, _made_id="event_id")
        .filter(pl.col("_who").is_not_null())
        .collect()
    )
    if created.height == 0:
        return empty()
    granted = (
        subset(events, cols, pl.col("action").is_in((*_GRANTS, *_MEMBERSHIPS)), ok, _GRANTING)
        .with_columns(_who=_subject(), _what=_privilege_name())
        .filter(pl.col("_what").str.contains(admin_roles).fill_null(False))
        .select("tenant_id", "_who", "_what", _granter="actor_id", _at=T, _grant_id="event_id")
        .join(created.lazy(), on=keys)
        .filter((pl.col("_at") >= pl.col("_made_at")) & (pl.col("_at") - pl.col("_made_at") <= w))
        .sort("_at")
        .unique(keys, keep="first", maintain_order=True)
        .collect()
    )
    if granted.height == 0:
        return empty()
    who = granted.select("tenant_id", "_who").unique()
    used = pl.concat(
        [
            subset(events, cols, pl.col("action").is_in(_CREDENTIALS), ok)
            .select("tenant_id", "action", "event_id", "occurred_at", _who=_subject()),
            # its own sign-in
            subset(events, cols, pl.col("action") == "user.login", ok)
            .select("tenant_id", "action", "event_id", "occurred_at", _who=pl.col("actor_id")),
        ]
    ).join(who.lazy(), on=keys)  # fmt: skip
    soon = (pl.col("occurred_at") >= pl.col("_at")) & (pl.col("occurred_at") - pl.col("_at") <= w)
    follow = (
        granted.lazy()
        .join(used, on=keys, how="left")
        .with_columns(_in=soon.fill_null(False))
        .sort("occurred_at", nulls_last=True)
        .group_by(keys, maintain_order=True)
        .agg(
            pl.col(
                "_what", "_granter", "_at", "_grant_id", "_creator", "_made_at", "_made_id"
            ).first(),
            pl.col("event_id").filter("_in").alias("_used_ids"),
            pl.col("action").filter("_in").first().alias("_used"),
            pl.col("occurred_at").filter("_in").first().alias("_used_at"),
        )
    )
    later = fmt_duration(pl.col("_used_at") - pl.col("_at"))
    used_text = (
        pl.when(pl.col("_used") == "user.login")
        .then(pl.format("; then it signed in, {} later", later))
        .otherwise(pl.format("; then {} for it, {} later", pl.col("_used"), later))
    )
    found = follow.select(
        "tenant_id",
        pl.col("_creator").alias("actor_id"),
        pl.col("_made_at").alias("first_seen"),
        pl.coalesce("_used_at", "_at").alias("last_seen"),
        pl.concat_list(pl.col("_made_id"), pl.col("_grant_id"), pl.col("_used_ids")).alias(
            "event_ids"
        ),
        pl.when(pl.col("_used").is_not_null())
        .then(pl.lit("high"))
        .otherwise(pl.lit("medium"))
        .alias("severity"),
        pl.format(
            "{} created {} at {} and {} later it was given {} by {}{}.",
            q(pl.col("_creator")),
            q(pl.col("_who")),
            fmt_time(pl.col("_made_at")),
            fmt_duration(pl.col("_at") - pl.col("_made_at")),
            q(pl.col("_what")),
            q(pl.col("_granter")),
            pl.when(pl.col("_used").is_not_null()).then(used_text).otherwise(pl.lit("")),
        ).alias("summary"),
    )
    return finalize(found, "backdoor_account")
