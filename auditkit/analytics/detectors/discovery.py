"""Reconnaissance: a key that lists and describes what it never looked at, across
services, from a network its owner never used.

The first thing an intruder does with a stolen key is find out what it opens:
``GetCallerIdentity``, then the users, roles, buckets, instances, secrets, functions and
databases, service after service, with a script or a tool (Pacu, ScoutSuite, CloudFox).
The key's owner reads the same few things every day, from the same networks.  In the
trail each call is harmless; together, new and from elsewhere, they are the intrusion's
first hour.

An action reads when its verb lists, describes, gets, searches, looks up, enumerates or
tests (``iam_users.list``, ``ec2_instances.describe``, ``sts_caller_identity.get``,
Google's ``testIamPermissions``); its service is the first word of its noun (``iam``,
``ec2``, ``compute``).  Reads made from a web browser (a user agent naming ``Mozilla``
or a cloud console) are left out: a console page makes a dozen of them, and a stolen
access key cannot open the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors._principals import as_principals
from auditkit.analytics.detectors.common import (
    Events,
    T,
    action_words,
    actions_where,
    began,
    client_agent,
    client_firsts,
    duration,
    empty,
    finalize,
    finding_span,
    first_few,
    fmt_between,
    lazy,
    network,
    network_firsts,
    never_used,
    new_client,
    new_clients_text,
    new_network,
    positive,
    q,
    subset,
    tried_aggregations,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["reads_inventory", "reconnaissance"]

_READ_VERBS: Final = frozenset(
    ("list", "describe", "get", "search", "lookup", "enumerate", "test", "scan")
)
#: A browser or a cloud console: its pages make many reads at once.
_BROWSER: Final = r"(?i)mozilla/|console\.|AWS Internal|signin\.amazonaws"


def reads_inventory(action: str) -> bool:
    """Whether an action reads what exists (lists, describes, gets...) in a service.

    >>> [reads_inventory(a) for a in ("iam_users.list", "ec2_instances.describe",
    ...     "sts_caller_identity.get", "iam_role.create", "user.login", "list")]
    [True, True, True, False, False, False]
    """
    noun, verb = action_words(action)
    return bool(noun) and bool(verb) and verb[0] in _READ_VERBS


#: Where a permissions test names the permissions asked (Cloud Audit Logs).
_PERMISSIONS: Final = "$.original.protoPayload.request.permissions"


def _tests_permissions(action: str) -> bool:
    """Whether an action tests which permissions the caller has (``testIamPermissions``).

    >>> [_tests_permissions(a) for a in ("cloudresourcemanager_iam_permissions.test",
    ...     "storage_buckets.test_iam_permissions", "iam_users.list")]
    [True, True, False]
    """
    noun, verb = action_words(action)
    return "test" in verb and "permissions" in (*noun, *verb)


@register_detector("reconnaissance", title="Reconnaissance with a key", severity="high")
def reconnaissance(
    events: Events,
    *,
    window: str | timedelta = "24h",
    min_history: str | timedelta = "7d",
    min_actions: int = 10,
    min_services: int = 3,
    service_actions: int | None = 4,
    exclude_actor_types: Sequence[str] = ("service", "system"),
    max_evidence: int = 50,
) -> pl.DataFrame:
    """An actor reading, from a network it never used, ``min_actions`` or more kinds of
    things it had never read, in ``min_services`` or more services; or, with a client it
    never used too, ``service_actions`` kinds in a service it had never used at all.

    One actor's reads from a network (IPv4 ``/24``, IPv6 ``/64``) within ``window`` of the
    first time it used that network are an episode (reads spread over hours are one),
    once the actor has been seen ``min_history``.  It is reported when the episode's read
    actions the actor had never made before the network's first use number
    ``min_actions`` or more and span ``min_services`` services.  High when a read
    succeeded with a client (a user agent, without its per-call parts) the actor had first
    used within ``window``, or an unknown one; medium otherwise (a pipeline's usual tool on a new
    runner reading a new module's resources), and when every such read was refused.
    A stolen key's look at one service it can abuse (Stratus Red Team's ses-enumerate:
    the sending quota, whether sending is on, the verified identities) spans one
    service: ``service_actions`` or more new kinds of read of a service the actor had
    never used in any way before the network's first use, with a new client that
    succeeded, are reported medium (``None`` leaves them out).
    Reads from a browser or a console and actor types in ``exclude_actor_types`` are
    left out.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> usual = [{"tenant_id": "acme", "occurred_at": f"2026-01-{d:02d}T09:00:00Z",
    ...           "action": "s3_buckets.list", "actor": {"id": "dev"},
    ...           "source": {"ip": "198.51.100.7"}} for d in range(1, 20)]
    >>> reads = ["sts_caller_identity.get", "iam_users.list", "iam_roles.list",
    ...          "iam_policies.list", "ec2_instances.describe", "ec2_vpcs.describe",
    ...          "lambda_functions.list", "secretsmanager_secrets.list",
    ...          "rds_db_instances.describe", "kms_keys.list"]
    >>> recon = [{"tenant_id": "acme", "occurred_at": f"2026-01-20T03:0{i}:00Z",
    ...           "action": a, "actor": {"id": "dev"}, "source": {"ip": "45.77.12.9"}}
    ...          for i, a in enumerate(reads)]
    >>> print(reconnaissance(events_to_frame(usual + recon))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    'dev' read 10 kind(s) of things it had never read, in 7 service(s), from a network it
    had never used (45.77.12.9) between 2026-01-20 03:00 UTC and 2026-01-20 03:09 UTC: ec2,
    iam, kms, lambda, rds and 2 more; sts_caller_identity.get, iam_users.list,
    iam_roles.list, iam_policies.list, ec2_instances.describe and 5 more.
    """
    w = duration(window, name="window")
    history = duration(min_history, name="min_history")
    for value, name in ((min_actions, "min_actions"), (min_services, "min_services"),
                        (max_evidence, "max_evidence")):  # fmt: skip
        positive(value, name)
    if service_actions is not None:
        positive(service_actions, "service_actions")
    keys = ["tenant_id", "actor_id"]
    reads = actions_where(events, reads_inventory)
    if not reads:
        return empty()
    # a role session is judged by the habits of whoever obtained it
    events = as_principals(events)
    cols = (*keys, "event_id", "occurred_at", "action", "outcome", "source_ip")
    kept = (
        pl.col("actor_id").is_not_null(),
        ~pl.col("actor_type").is_in(list(exclude_actor_types)).fill_null(False),
    )
    all_reads = subset(
        events, (*cols, "user_agent", "actor_type"), pl.col("action").is_in(reads), *kept
    )
    # a test of permissions asks, in one call, what the caller may do in many services
    # (Google's testIamPermissions, what a tool with a stolen key asks first): each
    # permission it names is a read of its own
    tests = [a for a in reads if _tests_permissions(a)]
    if tests:
        asked = (
            subset(
                events,
                (*cols, "user_agent", "actor_type", "metadata"),
                pl.col("action").is_in(tests),
                *kept,
            )
            .with_columns(_asked=pl.col("metadata").str.json_path_match(_PERMISSIONS))
            .with_columns(
                # the permissions named, else the test itself as one read
                # (read as quoted words: a request that is not well-formed JSON names none)
                action=pl.when(pl.col("_asked").str.starts_with("[").fill_null(False))
                .then(
                    pl.col("_asked")
                    .str.extract_all(r'"[a-zA-Z][\w.-]*"')
                    .list.eval(pl.element().str.strip_chars('"'))
                    .list.unique(maintain_order=True)
                )
                .otherwise(pl.concat_list("action"))
            )
            .explode("action")
            .filter(pl.col("action").str.contains(r"^[a-z][\w-]*\.", literal=False))
            .drop("metadata", "_asked")
            .with_columns(_nth=pl.int_range(pl.len(), dtype=pl.UInt32).over("event_id"))
        )
        all_reads = pl.concat(
            [
                all_reads.filter(~pl.col("action").is_in(tests)).with_columns(
                    _nth=pl.lit(0, pl.UInt32)
                ),
                asked,
            ]
        )
    else:
        all_reads = all_reads.with_columns(_nth=pl.lit(0, pl.UInt32))
    candidates = all_reads.filter(~pl.col("user_agent").str.contains(_BROWSER).fill_null(False))
    # the network of each address the reads came from (worked out once per address),
    # when the actor first used it and when it made it its own (``network_firsts``);
    # reads from a network new to the actor (a key tried once from the thief's machine
    # days before is still new)
    addresses = (
        candidates.select(*keys, "source_ip")
        .filter(pl.col("source_ip").is_not_null())
        .unique()
        .with_columns(_net=network(pl.col("source_ip")))
    )
    readers = addresses.select(keys).unique()
    address_nets = addresses.join(
        network_firsts(events, keys, readers), on=[*keys, "_net"], how="left"
    )
    fresh = (
        candidates.join(address_nets, on=[*keys, "source_ip"])
        .filter(new_network(w))
        .join(began(events, keys), on=keys)
        .filter((T - pl.col("_began")) >= history)
        .collect()
    )
    if fresh.height == 0:
        return empty()
    # when each of these actors first made each read action (from anywhere, in a browser
    # too: what its owner reads in the console is not new to the key)
    actors = fresh.lazy().select(keys).unique()
    first_read = (
        all_reads.join(actors, on=keys, how="semi").group_by(*keys, "action").agg(_first=T.min())
    )
    # when each of them first used each service, in any way
    service = pl.col("action").str.extract(r"^([^._:/]+)")
    first_use = (
        lazy(events, *keys, "action", "occurred_at")
        .filter(pl.col("actor_id").is_in(fresh.get_column("actor_id").unique().implode()))
        .join(actors, on=keys, how="semi")
        .group_by(*keys, _service=service)
        .agg(_service_first=T.min())
    )
    # when each of them first used each client (a pipeline's tool on a new runner is not
    # a new client; a thief's script usually is)
    clients = client_firsts(events, keys, actors)
    # one episode per actor and new network: a slow tool's reads an hour apart are one
    marked = (
        fresh.lazy()
        .join(first_read, on=[*keys, "action"], how="left")
        .with_columns(_client=client_agent(pl.col("user_agent")))
        .join(clients, on=[*keys, "_client"], how="left", nulls_equal=True)
        .sort([*keys, "occurred_at", "event_id", "_nth"])
        .with_columns(
            _episode=pl.struct(*keys, "_net").rank("dense"),
            _new=pl.col("_first") >= pl.col("_net_seen"),
            _service=service,
        )
        .join(first_use, on=[*keys, "_service"], how="left", maintain_order="left")
        .with_columns(_unused=(pl.col("_service_first") >= pl.col("_net_seen")).fill_null(True))
    )
    ok = pl.col("outcome") == "success"
    grouped = marked.group_by("_episode").agg(
        *finding_span(*keys),
        pl.col("action").filter("_new").unique(maintain_order=True).alias("_new_reads"),
        pl.col("_service").filter("_new").drop_nulls().unique().sort().alias("_services"),
        (ok & pl.col("_new")).any().alias("_done"),
        pl.col("source_ip").unique(maintain_order=True).alias("_ips"),
        pl.col("_client")
        .filter(pl.col("_client").is_not_null() & new_client(w))
        .unique(maintain_order=True)
        .alias("_new_clients"),
        (ok & new_client(w)).any().alias("_stranger"),
        pl.col("_unused").filter("_new").all().alias("_unused"),
        *tried_aggregations(w),
    )
    n = pl.col("_new_reads").list.len()
    services = pl.col("_services").list.len()
    wide = (n >= min_actions) & (services >= min_services)
    # one service the actor never used, looked over with a client it never used
    narrow = (
        pl.lit(service_actions is not None)
        & (n >= (service_actions or 0))
        & (services == 1)
        & pl.col("_unused")
        & pl.col("_stranger")
    )
    return finalize(
        grouped.filter(wide | narrow).with_columns(
            # a permissions test is one event for many reads: cited once
            pl.col("event_ids").list.unique(maintain_order=True).list.head(max_evidence),
            severity=pl.when(pl.col("_stranger") & wide)
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} read {} kind(s) of things it had never read, in {} service(s), from a "
                "network it had {} ({}){} {}: {}; {}.",
                q(pl.col("actor_id")),
                n,
                services,
                never_used(pl.col("_net_tried")),
                first_few(pl.col("_ips"), 3, ", "),
                new_clients_text(pl.col("_new_clients"), pl.col("_client_tried")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_services"), 5, ", "),
                first_few(pl.col("_new_reads"), 5, ", "),
            ),
        ),
        "reconnaissance",
    )
