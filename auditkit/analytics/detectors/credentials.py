"""Secrets harvesting: one actor reading many secrets it had never read before.

Once inside, an intruder collects credentials to go further: every secret of a
secrets manager, every parameter of a parameter store, every entry of a vault.  A
service reads the few secrets it needs, again and again; a person reads one now and
then.  What gives the harvest away is breadth and novelty: many different secrets in
a short time, none of which that actor had read before.

A read of a secret is an action whose noun names a secret (``secret``,
``secret_value``, ``secret_version``, ``credential``, ``vault``, or a parameter of a
parameter store such as AWS SSM) and whose verb reads its value (``get``, ``read``,
``access``, ``reveal``, ``retrieve``, ``decrypt``...); listing or describing secrets
reads no value.  EC2's ``GetPasswordData`` and a ``DescribeInstanceAttribute`` of an
instance's ``userData`` read credentials too.  The secret read is the event's target,
else the name in the producer's request (CloudTrail's ``secretId``, ``name``, ``path`` or
``instanceId``, each of ``names``; Google Cloud's ``resourceName``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors._principals import as_principals
from auditkit.analytics.detectors.common import (
    Events,
    T,
    action_words,
    actions_where,
    active_days,
    began,
    bursts,
    duration,
    empty,
    finalize,
    finding_span,
    first_few,
    first_time,
    fmt_between,
    listed,
    network_firsts,
    noun_terms,
    positive,
    q,
    roaming,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["secrets_harvesting"]

_SECRET_NOUNS: Final = frozenset(
    ("secret", "secrets", "secretvalue", "credential", "credentials", "vault", "keyvault",
     "passworddata")  # EC2's GetPasswordData: a Windows instance's administrator password
)  # fmt: skip
_STORES: Final = frozenset(("ssm", "parameterstore", "paramstore"))
_PARAMETERS: Final = frozenset(("parameter", "parameters"))
_READ_VERBS: Final = frozenset(
    ("get", "read", "access", "reveal", "retrieve", "decrypt", "view", "fetch", "batch",
     "unwrap", "show", "copy", "export", "download")
)  # fmt: skip
#: Where a producer's request names the secret read.
_REQUEST_PATHS: Final = (
    "$.original.requestParameters.secretId",
    "$.original.requestParameters.name",
    "$.original.requestParameters.names",
    "$.original.requestParameters.secretIdList",
    "$.original.protoPayload.resourceName",
    "$.original.protopayload_auditlog.resourceName",
    "$.original.api.request.data.secretId",
    "$.original.requestParameters.path",  # SSM's GetParametersByPath: a whole branch
    "$.original.requestParameters.instanceId",  # GetPasswordData, an instance's user data
)
#: Requests that name several secrets at once (SSM's ``GetParameters``; a batch read of
#: Secrets Manager also logs one ``GetSecretValue`` per secret): each is read.
_LIST_PATHS: Final = (
    "$.original.requestParameters.names",
    "$.original.requestParameters.secretIdList",
)


def reads_user_data(action: str) -> bool:
    """Whether an action may read an instance attribute: EC2's ``DescribeInstanceAttribute``,
    a read of the instance's user data (start-up scripts, which often hold credentials)
    when its request asks for ``userData``.

    >>> [reads_user_data(a) for a in ("ec2_instance_attribute.describe", "ec2_instances.describe")]
    [True, False]
    """
    noun, verb = action_words(action)
    terms = noun_terms(noun)
    return (
        bool(terms & {"instanceattribute", "userdata"})
        and bool(verb)
        and verb[0] in ("describe", "get", "read")
    )


_SECRET_IN_TEXT: Final = r'\\"(?:secretId|SecretId|name|Name)\\"\s*:\s*\\"((?:[^"\\]|\\\\\\.)+?)\\"'


def reads_secret(action: str) -> bool:
    """Whether an action reads the value of a secret.

    >>> [reads_secret(a) for a in ("secretsmanager_secret_value.get", "secret.read",
    ...     "ssm_parameters.get", "secretmanager_secret_version.access",
    ...     "secretsmanager_secret.describe", "secrets.list", "document.read")]
    [True, True, True, True, False, False, False]
    """
    noun, verb = action_words(action)
    words = noun_terms(noun)
    secret = bool(words & _SECRET_NOUNS) or bool(words & _STORES and words & _PARAMETERS)
    return secret and bool(verb) and verb[0] in _READ_VERBS


@register_detector("secrets_harvesting", title="Secrets harvested", severity="high")
def secrets_harvesting(
    events: Events,
    *,
    min_secrets: int = 10,
    window: str | timedelta = "1h",
    min_history: str | timedelta = "1d",
    max_evidence: int = 200,
) -> pl.DataFrame:
    """One actor reading ``min_secrets`` or more different secrets within ``window``,
    each for the first time in the trail.

    High when the actor had been seen at least ``min_history`` before the burst (an
    established service or person suddenly reading everything); medium for an actor
    new to the trail (a new deployment reads its secrets for the first time too), for an
    actor that comes from a new network on most of its days (a pipeline on cloud runners:
    :func:`~auditkit.analytics.detectors.common.roaming`), and when every read was refused.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-01T09:00:00Z",
    ...      "action": "secret.read", "actor": {"id": "app"}, "targets": [{"id": "db"}]},
    ...     *({"tenant_id": "acme", "occurred_at": f"2026-01-05T03:{i:02d}:00Z",
    ...        "action": "secret.read", "actor": {"id": "app"}, "targets": [{"id": f"s{i}"}]}
    ...       for i in range(12))])
    >>> print(secrets_harvesting(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'app' read 12 different secrets it had never read before between 2026-01-05 03:00 UTC
    and 2026-01-05 03:11 UTC: 's0', 's1', 's2', 's3', 's4' and 7 more.
    """
    w = duration(window, name="window")
    history = duration(min_history, name="min_history")
    positive(min_secrets, "min_secrets")
    positive(max_evidence, "max_evidence")
    keys = ["tenant_id", "actor_id"]
    actions = actions_where(events, reads_secret)
    attributes = actions_where(events, reads_user_data)
    if not actions and not attributes:
        return empty()
    # a role session is judged by the history of whoever obtained it
    events = as_principals(events)
    cols = (*keys, "event_id", "occurred_at", "action", "outcome", "target_id", "metadata")
    request = pl.col("metadata").str.json_path_match
    # of the attribute reads, those of the user data (the request is read for them only)
    other = ~pl.col("action").is_in(attributes)
    user_data = request("$.original.requestParameters.attribute") == "userData"
    several = pl.coalesce(*(request(p) for p in _LIST_PATHS))
    one = pl.coalesce(
        pl.col("target_id"),
        *(request(p) for p in _REQUEST_PATHS),
        # a request kept as JSON text (OCSF's api.request.data as Security Lake
        # writes CloudTrail): the secret's name as escaped there (each stays distinct)
        pl.col("metadata").str.extract(_SECRET_IN_TEXT, 1),
    )
    reads = (
        subset(events, cols, pl.col("action").is_in([*actions, *attributes]))
        .filter(other | user_data.fill_null(False))
        .with_columns(
            _secret=pl.when(several.is_not_null())
            .then(listed(several))
            .otherwise(
                pl.concat_list(
                    pl.when(pl.col("action").is_in(attributes))
                    .then(pl.format("user data of {}", one))
                    .when(pl.col("action").str.contains("password_?data"))
                    .then(pl.format("password of {}", one))
                    .otherwise(one)
                )
            )
        )
        .explode("_secret")
    )
    reads = reads.filter(pl.col("_secret").is_not_null() & pl.col("actor_id").is_not_null())
    # a secret is new to the actor at its first read (the first that succeeded, or
    # the first try when none did)
    ok = pl.col("outcome") == "success"
    new = reads.filter(first_time(*keys, "_secret", ok=ok) == T)
    found = bursts(new, keys, window=w, threshold=min_secrets, distinct="_secret")
    burst = (
        found.join(began(events, keys), on=keys, how="left")
        .sort("occurred_at", "event_id", "_secret")  # a batch read names several
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("_secret").unique(maintain_order=True).alias("_secrets"),
            ok.any().alias("_done"),
            pl.col("_began").first(),
            # user data is where credentials are often left, not a secret store: a
            # burst of user data alone is what an infrastructure tool's refresh reads too
            pl.col("_secret").str.starts_with("user data of ").all().alias("_user_data"),
        )
        # an event that read several secrets is cited once
        .with_columns(pl.col("event_ids").list.unique(maintain_order=True).list.head(max_evidence))
    )
    k = pl.col("_secrets").list.len()
    shown = first_few(pl.col("_secrets").list.eval(q(pl.element())), 5, ", ")
    # a pipeline on cloud runners reads a new job's secrets for the first time from a
    # new network, as every run comes from one: not the sign it is for a person
    made = burst.collect()
    actors = made.lazy().select(keys).unique()
    spans = made.lazy().select("_episode", *keys, "first_seen")
    nets, days = network_firsts(events, keys, actors), active_days(events, keys, actors)
    judged = made.lazy().join(roaming(spans, nets, days), on="_episode", how="left")
    return finalize(
        judged.with_columns(
            severity=pl.when(
                pl.col("_done")
                & ((pl.col("first_seen") - pl.col("_began")) >= history)
                & ~pl.col("_user_data")
                & ~pl.col("_roaming")
            )
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} {} different secrets it had never read before {}: {}{}.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("read")).otherwise(pl.lit("tried to read")),
                k,
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                shown,
                pl.when("_roaming")
                .then(pl.lit(" (it comes from a new network on most of its days: a pipeline?)"))
                .otherwise(pl.lit("")),
            ),
        ),
        "secrets_harvesting",
    )
