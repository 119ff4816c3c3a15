"""The person behind a role session: temporary credentials linked to whoever obtained them.

An AWS role session is an actor of its own (``arn:aws:sts::<account>:assumed-role/<role>/
<session name>``), and a session name a tool picks by default (``botocore-session-<ts>``,
``aws-go-sdk-<ts>``) is new on every run: a thief who assumes a role with a stolen key is
a "new actor" with no history, and every rule that judges an actor by its habits (its
networks, its clients, its hours, what it read before) would let it through.  CloudTrail
says who obtained the credentials: the ``AssumeRole`` (``GetFederationToken``,
``GetSessionToken``) event's actor, and its response's ``credentials.accessKeyId``,
which is the session's ``userIdentity.accessKeyId`` (the event's ``session_id``) on every
later call, and its ``assumedRoleUser.arn`` (the session's actor id).

:func:`as_principals` rewrites the actor of each such session's events to the principal
behind it, following chains (a session that assumes another role hands that session its
own principal), so that history-based rules see the person.  Sessions whose obtaining the
trail does not show keep their own actor.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import Events, lazy

__all__ = ["CREDENTIAL_ACTIONS", "as_principals", "session_principals"]

#: successful calls whose response hands out temporary credentials
CREDENTIAL_ACTIONS: Final = ("sts_role.assume", "sts_federation_token.get", "sts_session_token.get")
_RESPONSE: Final = "$.original.responseElements."
_COLUMNS: Final = ("tenant_id", "action", "outcome", "actor_id", "actor_type", "session_id",
                   "metadata")  # fmt: skip
#: how many links of a chain (a session assuming a role from a session...) are followed
_CHAIN_DEPTH: Final = 4


def session_principals(events: Events) -> pl.DataFrame:
    """Per tenant, each temporary credential handed out (``_key``: its access key id;
    ``_arn``: the session's ARN) and the principal who obtained it (``_principal``,
    ``_principal_type``), chains followed.

    >>> from auditkit.frame import events_to_frame
    >>> import json
    >>> def assume(who, key, arn, session=None):
    ...     meta = {"original": {"responseElements": {
    ...         "credentials": {"accessKeyId": key}, "assumedRoleUser": {"arn": arn}}}}
    ...     return {"tenant_id": "t", "occurred_at": "2026-01-01T00:00:00Z",
    ...             "action": "sts_role.assume", "actor": {"id": who, "type": "user"},
    ...             "session_id": session, "metadata": meta}
    >>> df = events_to_frame(
    ...     [assume("bob", "ASIA1", "s/a"), assume("s/a", "ASIA2", "s/b", "ASIA1")])
    >>> session_principals(df).sort("_key").select("_key", "_arn", "_principal").rows()
    [('ASIA1', 's/a', 'bob'), ('ASIA2', 's/b', 'bob')]
    """
    request = pl.col("metadata").str.json_path_match
    links = (
        lazy(events, *_COLUMNS)
        .filter(pl.col("action").is_in(CREDENTIAL_ACTIONS))
        .collect()
        .lazy()
        .filter((pl.col("outcome") == "success") & pl.col("actor_id").is_not_null())
        .select(
            "tenant_id",
            "session_id",
            _key=request(_RESPONSE + "credentials.accessKeyId"),
            _arn=pl.coalesce(
                request(_RESPONSE + "assumedRoleUser.arn"),
                request(_RESPONSE + "federatedUser.arn"),
            ),
            _principal=pl.col("actor_id"),
            _principal_type=pl.col("actor_type"),
        )
        .filter(pl.col("_key").is_not_null() | pl.col("_arn").is_not_null())
        .unique()
        .collect()
    )
    if links.height == 0:
        return links.drop("session_id")
    for _ in range(_CHAIN_DEPTH):
        # an obtaining made under another handed-out credential belongs to that one's
        # principal
        up = links.select(
            "tenant_id",
            pl.col("_key").alias("session_id"),
            pl.col("_principal").alias("_up"),
            pl.col("_principal_type").alias("_up_type"),
        ).filter(pl.col("session_id").is_not_null())
        step = links.join(up.unique(["tenant_id", "session_id"]), on=["tenant_id", "session_id"],
                          how="left", maintain_order="left")  # fmt: skip
        moved = step["_up"].is_not_null() & (step["_up"] != step["_principal"])
        if not moved.any():
            break
        links = step.with_columns(
            _principal=pl.coalesce("_up", "_principal"),
            _principal_type=pl.when(pl.col("_up").is_not_null())
            .then(pl.col("_up_type"))
            .otherwise(pl.col("_principal_type")),
        ).drop("_up", "_up_type")
    return links.drop("session_id")


def as_principals(events: Events) -> Events:
    """``events`` with each role session's actor (``actor_id``, ``actor_type``) replaced
    by the principal who obtained its credentials (see :func:`session_principals`): by the
    event's ``session_id`` (the credentials' access key), else by its actor id when that
    is a session ARN that only one principal of the tenant obtained.  Unchanged (the same
    object) when the trail shows no credentials handed out.

    >>> from auditkit.frame import events_to_frame
    >>> arn = "arn:aws:sts::1:assumed-role/Admin/botocore-session-1"
    >>> meta = {"original": {"responseElements": {"credentials": {"accessKeyId": "ASIA1"},
    ...         "assumedRoleUser": {"arn": arn}}}}
    >>> df = events_to_frame([
    ...     {"tenant_id": "t", "occurred_at": "2026-01-01T00:00:00Z", "action": "sts_role.assume",
    ...      "actor": {"id": "bob", "type": "user"}, "metadata": meta},
    ...     {"tenant_id": "t", "occurred_at": "2026-01-01T00:01:00Z", "action": "iam_users.list",
    ...      "actor": {"id": arn},
    ...      "session_id": "ASIA1"}])
    >>> as_principals(df)["actor_id"].to_list()
    ['bob', 'bob']
    """
    links = session_principals(events)
    if links.height == 0:
        return events
    by_key = (
        links.filter(pl.col("_key").is_not_null())
        .unique(["tenant_id", "_key"], keep="first")
        .select("tenant_id", session_id="_key", _by="_principal", _by_type="_principal_type")
    )
    # a session ARN reused by several principals (the same session name) says nothing
    by_arn = (
        links.filter(pl.col("_arn").is_not_null())
        .filter(pl.col("_principal").n_unique().over("tenant_id", "_arn") == 1)
        .unique(["tenant_id", "_arn"], keep="first")
        .select("tenant_id", actor_id="_arn", _by_arn="_principal", _by_arn_type="_principal_type")
    )
    eager = isinstance(events, pl.DataFrame)
    lf = lazy(events)
    columns = lf.collect_schema().names()
    out = (
        lf.join(by_key.lazy(), on=["tenant_id", "session_id"], how="left", maintain_order="left")
        .join(by_arn.lazy(), on=["tenant_id", "actor_id"], how="left", maintain_order="left")
        .with_columns(
            actor_id=pl.coalesce("_by", "_by_arn", "actor_id"),
            actor_type=pl.when(pl.col("_by").is_not_null())
            .then(pl.col("_by_type"))
            .when(pl.col("_by_arn").is_not_null())
            .then(pl.col("_by_arn_type"))
            .otherwise(pl.col("actor_type")),
        )
        .select(columns)
    )
    return out.collect() if eager else out
