"""The events that put access on the record, in the tenant's own trail.

``audit_log.read`` and ``audit_log.export`` (who read, which filter, how many
rows), ``audit_log.access_denied`` (who, what, why), and the management events
of the core vocabulary: ``role.grant`` / ``role.revoke`` (the target is the
principal; ``metadata.role`` names the role) and ``api_key.create`` /
``api_key.revoke`` (the target is the principal who holds the key).

Reads of nothing but these read records are not recorded again (see
:data:`META_READ_ACTIONS`): reading the meta-audit is recorded once, not forever.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from auditkit.schema import format_timestamp

__all__ = [
    "ACCESS_ACTIONS",
    "META_READ_ACTIONS",
    "access_event",
    "grant_event",
    "local_owner_actor",
]

#: Actions of access records.
ACCESS_ACTIONS: Final = ("audit_log.read", "audit_log.export", "audit_log.access_denied")
#: A read that returns only these is not recorded (no record of reading records).
META_READ_ACTIONS: Final = ("audit_log.read", "audit_log.export")
_OBSERVER: Final = {"service": "auditkit"}


def local_owner_actor() -> dict[str, str]:
    """The actor of changes made by the local owner (who opened the store directly).

    Examples
    --------
    >>> local_owner_actor()["type"]
    'user'
    """
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    return {"id": f"local:{user}", "type": "user", "name": "local owner"}


def _event(
    action: str,
    tenant: str,
    actor: Mapping[str, Any],
    *,
    outcome: str,
    description: str,
    metadata: Mapping[str, Any],
    targets: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"auditkit-{uuid.uuid4().hex}",
        "tenant_id": tenant,
        "occurred_at": format_timestamp(datetime.now(UTC)),
        "action": action,
        "outcome": outcome,
        "actor": dict(actor),
        "observer": dict(_OBSERVER),
        "description": description,
        "metadata": {k: v for k, v in metadata.items() if v is not None},
    }
    if targets:
        event["targets"] = targets
    return event


def access_event(
    action: str,
    *,
    tenant: str,
    actor: Mapping[str, Any],
    operation: str,
    permission: str,
    filter: Mapping[str, Any] | None = None,
    rows: int | None = None,
    reason: str | None = None,
    via: str = "python",
    token_id: str | None = None,
    attempts: int = 1,
) -> dict[str, Any]:
    """An ``audit_log.*`` record of one read, export or denied attempt.

    Examples
    --------
    >>> e = access_event("audit_log.read", tenant="acme", actor={"id": "ann"},
    ...                  operation="load", permission="read", filter={"start": "2026-01-01"},
    ...                  rows=12)
    >>> e["action"], e["outcome"], e["metadata"]["rows"], e["description"]
    ('audit_log.read', 'success', 12, 'ann read 12 events of the audit trail (load)')
    """
    who = actor.get("id", "?")
    if action == "audit_log.access_denied":
        outcome = "denied"
        times = f" ({attempts} attempts)" if attempts > 1 else ""
        description = f"{who} was denied {permission} on the audit trail ({operation}){times}"
    else:
        outcome = "success"
        verb = "exported" if action == "audit_log.export" else "read"
        noun = "event" if rows == 1 else "events"
        description = f"{who} {verb} {rows} {noun} of the audit trail ({operation})"
    meta = {
        "operation": operation,
        "permission": permission,
        "filter": dict(filter) if filter else {},
        "rows": rows,
        "reason": reason,
        "via": via,
        "token_id": token_id,
        "attempts": attempts if attempts > 1 else None,
    }
    return _event(
        action,
        tenant,
        actor,
        outcome=outcome,
        description=description,
        metadata=meta,
        targets=[{"id": tenant, "type": "audit_log"}],
    )


def grant_event(
    action: str,
    *,
    tenant: str,
    actor: Mapping[str, Any],
    principal: Mapping[str, Any],
    role: str | None = None,
    token_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``role.grant``/``role.revoke``/``api_key.create``/``api_key.revoke`` record.

    Examples
    --------
    >>> e = grant_event("role.grant", tenant="acme", actor={"id": "local:root"},
    ...                 principal={"id": "ann", "type": "user"}, role="auditor")
    >>> e["targets"], e["metadata"]["role"]
    ([{'id': 'ann', 'type': 'user'}], 'auditor')
    """
    who, whom = actor.get("id", "?"), principal.get("id", "?")
    if action.startswith("role."):
        verb = "granted" if action == "role.grant" else "revoked"
        prep = "to" if action == "role.grant" else "from"
        description = f"{who} {verb} role {role} {prep} {whom}"
    else:
        verb = "created" if action == "api_key.create" else "revoked"
        description = f"{who} {verb} API token {token_id} of {whom}"
    meta = {"role": role, "token_id": token_id, **(detail or {})}
    target = {"id": str(whom), "type": str(principal.get("type", "user"))}
    return _event(
        action,
        tenant,
        actor,
        outcome="success",
        description=description,
        metadata=meta,
        targets=[target],
    )
