"""Pivots into other identities: roles, service accounts and federated sessions an actor
takes on for the first time, several at once or after refusals.

A stolen key is rarely the one the intruder wants.  They try every role and service
account it might reach (STS ``AssumeRole``, Google's ``GenerateAccessToken`` on a service
account), most refused, until one works; or they mint a federated session
(``GetFederationToken``) that outlives the key's revocation.  The pipelines and people who
take on identities every day take on the same few from the same networks.

An action takes on an identity when its verb assumes a role or the root of an account
(``sts_role.assume``, ``sts_root.assume``; not the SAML or web identity federations of a
sign-in), generates or signs a credential of a service account
(``iamcredentials_access_token.generate``, ``iamcredentials_jwt.sign``), or gets a
federation token (``sts_federation_token.get``) or a session token of its own
(``sts_session_token.get``).  The identity is the request's
``roleArn`` or ``targetPrincipal``, the federated user's ``name``, else the event's
target (a service account's resource name reduced to its e-mail).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    T,
    action_words,
    actions_where,
    began,
    duration,
    empty,
    episodes,
    finalize,
    finding_span,
    first_few,
    fmt_between,
    new_network_text,
    newcomer_aggregations,
    noun_terms,
    positive,
    q,
    subset,
    with_newcomer_firsts,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["identity_pivot", "takes_on_identity"]

_FEDERATED_SIGN_IN: Final = frozenset(("saml", "web", "webidentity", "oidc"))
_CREDENTIALS: Final = frozenset(("iamcredentials", "serviceaccountcredentials"))
_COLUMNS: Final = ("event_id", "occurred_at", "action", "outcome", "target_id", "source_ip",
                   "metadata", "actor_type", "user_agent")  # fmt: skip
_REQUEST: Final = "$.original.requestParameters."


def takes_on_identity(action: str) -> bool:
    """Whether an action takes on another identity: a role or an account's root assumed,
    a service account's credential generated or signed, a federation token got.

    >>> [takes_on_identity(a) for a in ("sts_role.assume", "sts_root.assume",
    ...     "iamcredentials_access_token.generate", "iamcredentials_jwt.sign",
    ...     "sts_federation_token.get", "sts_role_with_saml.assume",
    ...     "sts_session_token.get", "iam_role.create", "sts_caller_identity.get")]
    [True, True, True, True, True, False, True, False, False]
    """
    noun, verb = action_words(action)
    if not verb:
        return False
    terms = noun_terms(noun)
    if verb[0] == "assume":
        return bool(terms & {"role", "root"}) and not terms & _FEDERATED_SIGN_IN
    if verb[0] in ("generate", "sign"):
        return bool(terms & _CREDENTIALS)
    return verb[0] == "get" and (
        {"federation", "token"} <= terms or {"sts", "session", "token"} <= terms
    )


def _identity() -> pl.Expr:
    """Whom an event takes on (see the module's description)."""
    request = pl.col("metadata").str.json_path_match
    target = pl.col("target_id")
    return pl.coalesce(
        request(_REQUEST + "roleArn"),
        request(_REQUEST + "targetPrincipal"),
        pl.when(pl.col("action").str.contains("federation")).then(
            pl.format("federated user {}", request(_REQUEST + "name"))
        ),
        # GetSessionToken: temporary credentials of the caller itself
        pl.when(pl.col("action").str.contains("session_token", literal=True)).then(
            pl.lit("a session token of its own")
        ),
        pl.when(target.str.contains("serviceAccounts/", literal=True))
        .then(target.str.extract(r"serviceAccounts/([^/]+)"))
        .otherwise(target),
    )


def _attributed(taken: pl.DataFrame, gap: timedelta) -> pl.DataFrame:
    """``taken`` with each anonymous try (Google Cloud names no caller for a refusal
    from outside the organisation: ``allUsers``, ``metadata.anonymous``) given to the
    named actor whose try came from the same address nearest in time, within ``gap``;
    the tries of a thief's spree are then counted with the one that was granted."""
    anonymous = pl.col("_anonymous").fill_null(False)
    if not taken.get_column("_anonymous").any():
        return taken.drop("_anonymous")
    named = taken.lazy().filter(~anonymous & pl.col("source_ip").is_not_null())
    nearest = (
        taken.lazy()
        .filter(anonymous)
        .select("event_id", "tenant_id", "source_ip", _at=T)
        .join(
            named.select("tenant_id", "source_ip", _by="actor_id", _type="actor_type", _t=T),
            on=["tenant_id", "source_ip"],
        )
        .with_columns(_apart=(pl.col("_t") - pl.col("_at")).abs())
        .filter(pl.col("_apart") <= gap)
        .sort("event_id", "_apart", "_t")
        .group_by("event_id", maintain_order=True)
        .agg(pl.col("_by", "_type").first())
    )
    return (
        taken.lazy()
        .join(nearest, on="event_id", how="left", maintain_order="left")
        .with_columns(
            actor_id=pl.coalesce("_by", "actor_id"),
            actor_type=pl.when(pl.col("_by").is_not_null())
            .then(pl.col("_type"))
            .otherwise(pl.col("actor_type")),
        )
        .drop("_by", "_type", "_anonymous")
        .collect()
    )


@register_detector("identity_pivot", title="Pivot into other identities", severity="high")
def identity_pivot(
    events: Events,
    *,
    gap: str | timedelta = "1h",
    min_history: str | timedelta = "7d",
    min_identities: int = 3,
    min_refused: int = 3,
    exclude_actor_types: Sequence[str] = ("service", "system"),
    max_evidence: int = 50,
) -> pl.DataFrame:
    """An actor taking on roles, service accounts or federated sessions it never had,
    several at once, after refusals, or from a network it never used.

    One actor's such events no more than ``gap`` apart are an episode.  It is reported
    when the actor had been seen ``min_history`` before, tried an identity it had never
    taken on successfully before the episode, and either tried ``min_identities`` or more
    such new identities, was refused ``min_refused`` times or more, or came from a network (IPv4
    ``/24``, IPv6 ``/64``) it had never used.  High when a new identity was taken on and
    the episode followed ``min_refused`` refusals, or came from a new network with a client
    (user agent) the actor had never used or an unknown one; medium otherwise (a pipeline's
    usual tool on a new runner, assuming a new account's role).  A principal of another
    AWS account whose account had never taken on an identity in the tenant is judged
    however new it is, once the tenant's trail is ``min_history`` old.  Actor types in
    ``exclude_actor_types`` (cloud services assuming their roles) are left out.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> usual = [{"tenant_id": "acme", "occurred_at": f"2026-01-{d:02d}T09:00:00Z",
    ...           "action": "s3_objects.list", "actor": {"id": "ci"}} for d in range(1, 20)]
    >>> def assume(i, outcome):
    ...     return {"tenant_id": "acme", "occurred_at": f"2026-01-20T03:0{i}:00Z",
    ...             "action": "sts_role.assume", "actor": {"id": "ci"}, "outcome": outcome,
    ...             "targets": [{"id": f"role/r{i}", "type": "role"}]}
    >>> spree = [assume(i, "denied") for i in range(4)] + [assume(5, "success")]
    >>> print(identity_pivot(events_to_frame(usual + spree))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    'ci' took on identities it never had between 2026-01-20 03:00 UTC and 2026-01-20
    03:05 UTC (sts_role.assume): 'role/r5' taken on; 5 tried; 4 refused.
    """
    g = duration(gap, name="gap")
    history = duration(min_history, name="min_history")
    for value, name in ((min_identities, "min_identities"), (min_refused, "min_refused"),
                        (max_evidence, "max_evidence")):  # fmt: skip
        positive(value, name)
    keys = ["tenant_id", "actor_id"]
    actions = actions_where(events, takes_on_identity)
    if not actions:
        return empty()
    taken = (
        subset(
            events,
            (*keys, *_COLUMNS),
            pl.col("action").is_in(actions),
            pl.col("actor_id").is_not_null(),
            ~pl.col("actor_type").is_in(list(exclude_actor_types)).fill_null(False),
        )
        .with_columns(
            _who=_identity(),
            _anonymous=pl.col("metadata").str.contains('"anonymous":true', literal=True),
            _account=pl.col("metadata").str.json_path_match("$.aws_account_id"),
        )
        .drop("metadata")
        .collect()
    )
    if taken.height == 0:
        return empty()
    taken = _attributed(taken, g)
    ok = pl.col("outcome") == "success"
    actors = taken.lazy().select(keys).unique()
    # when each actor first took on each identity successfully
    firsts = (
        taken.lazy()
        .filter(ok & pl.col("_who").is_not_null())
        .group_by(*keys, "_who")
        .agg(_had=T.min())
    )
    # a principal of another AWS account (a cross-account AssumeRole) whose account had
    # never taken on an identity in the tenant before this try
    outside = (pl.col("_account") != pl.col("tenant_id")).fill_null(False) & pl.col(
        "tenant_id"
    ).str.contains(r"^\d{12}$")
    taken = taken.with_columns(
        _outside=outside,
        _new_account=T.min().over("tenant_id", "_account") == T,
    )
    marked = episodes(
        with_newcomer_firsts(taken.lazy(), events, keys, actors).join(
            firsts, on=[*keys, "_who"], how="left", maintain_order="left"
        ),
        keys,
        g,
    ).collect()
    start = T.min().over("_episode")
    new_who = pl.col("_who").is_not_null() & (pl.col("_had").is_null() | (pl.col("_had") >= start))
    grouped = (
        marked.lazy()
        .with_columns(_new=new_who)
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            pl.col("_who").drop_nulls().unique().alias("_tried"),
            pl.col("_who").filter(pl.col("_new")).drop_nulls().unique().sort().alias("_new_who"),
            pl.col("_who").filter(pl.col("_new") & ok).unique().sort().alias("_gained"),
            (~ok).sum().alias("_refused"),
            # new networks and clients; both new at once is not a pipeline's usual tool
            # on a new runner
            *newcomer_aggregations(g),
            # another AWS account's principal that had never taken on an identity here
            pl.col("_account").filter(pl.col("_outside") & pl.col("_new_account")).first(),
        )
        .join(began(events, keys, among=actors), on=keys, how="left")
        .join(began(events).rename({"_began": "_tenant_began"}), on="tenant_id", how="left")
    )
    outsider = pl.col("_account").is_not_null() & (
        (pl.col("first_seen") - pl.col("_tenant_began")) >= history
    )
    known = ((pl.col("first_seen") - pl.col("_began")) >= history) | outsider
    tried = pl.col("_tried").list.len()
    gained = pl.col("_gained").list.len() > 0
    refused = pl.col("_refused") >= min_refused
    new_net = pl.col("_new_ips").list.len() > 0
    # identities new to the actor: a pipeline's four daily roles and one new account's
    # role are one new identity, not five
    sign = (pl.col("_new_who").list.len() >= min_identities) | refused | new_net
    high = gained & (pl.col("_stranger") | refused)
    why = pl.concat_list(
        pl.when(gained)
        .then(
            pl.format(
                "{} taken on", first_few(pl.col("_gained").list.eval(q(pl.element())), 3, ", ")
            )
        )
        .otherwise(
            pl.format(
                "none taken on ({} tried)",
                first_few(pl.col("_new_who").list.eval(q(pl.element())), 3, ", "),
            )
        ),
        pl.format("{} tried", tried),
        pl.when(pl.col("_refused") > 0).then(pl.format("{} refused", pl.col("_refused"))),
        pl.when(new_net).then(new_network_text()),
        pl.when(pl.col("_account").is_not_null()).then(
            pl.format(
                "by a principal of AWS account {}, which had never taken on an identity here",
                pl.col("_account"),
            )
        ),
    ).list.drop_nulls()
    return finalize(
        grouped.filter(known & (pl.col("_new_who").list.len() > 0) & sign).with_columns(
            pl.col("event_ids").list.head(max_evidence),
            severity=pl.when(high).then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} identities it never had {} ({}): {}.",
                q(pl.col("actor_id")),
                pl.when(gained).then(pl.lit("took on")).otherwise(pl.lit("tried to take on")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
                why.list.join("; "),
            ),
        ),
        "identity_pivot",
    )
