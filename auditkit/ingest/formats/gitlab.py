"""GitLab audit events: the audit events API (``/audit_events``) and streamed events.

API responses are JSON arrays (or one object) whose ``details`` hold the
author, target and IP; streamed events (HTTP destinations, or their NDJSON
archives) repeat those at the top level and name the event in
``event_type``.  GitLab events carry no tenant: pass ``--tenant``.  The
mapping table is ``auditkit/ingest/mappings/gitlab.toml``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from auditkit.errors import SchemaError
from auditkit.ingest._mapping import (
    ZONE_ASSUMED,
    ZONE_ASSUMED_TEXT,
    category_of,
    derive_action,
    finish,
    json_safe,
    load_table,
    looks_canonical,
    resolve_tenant,
    source_time,
    table_entry,
    text,
    words,
)
from auditkit.ingest._readers_extra import JsonRecordsFormat
from auditkit.ingest.registry import register

__all__ = ["GitLabFormat", "event_name_action"]


class GitLabFormat(JsonRecordsFormat):
    """GitLab audit events (``--format gitlab --tenant NAME``).

    Examples
    --------
    >>> e = GitLabFormat().to_event({
    ...     "id": 42, "author_id": 7, "entity_id": 7, "entity_type": "User",
    ...     "event_type": "user_disable_two_factor", "created_at": "2024-06-01T12:00:00.000Z",
    ...     "details": {"author_name": "Ann", "ip_address": "198.51.100.5"}}, tenant="acme")
    >>> e["action"], e["actor"], e["event_id"]
    ('mfa.disable', {'id': '7', 'type': 'user', 'name': 'Ann'}, 'gitlab:42')
    """

    name = "gitlab"
    description = "GitLab audit events (audit events API JSON, streamed events); needs --tenant"

    def sniff(self, head: bytes, path: str) -> int:
        """Confidence that ``head`` starts a file of GitLab audit events (0..100)."""
        if looks_canonical(head):
            return 0
        if b'"author_id"' in head and b'"entity_type"' in head:
            return 95 if b'"details"' in head or b'"event_type"' in head else 80
        return 0

    def tenant_needed(self, path: str) -> str | None:
        """GitLab records never carry a tenant: ``--tenant`` is needed for every file."""
        return "GitLab records carry no tenant; pass --tenant NAME"

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one GitLab audit event to an auditkit event mapping."""
        return _to_event(record, tenant)


def _verb(word: str, verbs: Mapping[str, Any]) -> str | None:
    """The base verb of ``word`` (``destroyed`` -> ``delete``, ``banned`` -> ``ban``) or None."""
    base: list[str] = verbs["base"]
    aliases: Mapping[str, str] = verbs["aliases"]
    if word in aliases:
        return aliases[word]
    candidates = [word]
    if word.endswith("ied"):
        candidates.append(word[:-3] + "y")
    if word.endswith("ed"):
        candidates += [word[:-1], word[:-2], word[:-3]]
    for cand in candidates:
        if cand in base:
            return aliases.get(cand, cand)
    return None


def _join_compounds(parts: list[str], compounds: list[str]) -> list[str]:
    out: list[str] = []
    for word in parts:
        if out and f"{out[-1]}_{word}" in compounds:
            out[-1] = f"{out[-1]}_{word}"
        else:
            out.append(word)
    return out


@functools.lru_cache(maxsize=8192)
def event_name_action(name: str, *, field: str = "event_type") -> str:
    """Derive a ``noun.verb`` action from a GitLab event type name.

    Examples
    --------
    >>> for name in ("project_destroyed", "add_gpg_key", "user_enable_admin_mode",
    ...              "repository_git_operation"):
    ...     print(event_name_action(name))
    project.delete
    gpg_key.add
    user_admin_mode.enable
    repository_git.operation
    """
    verbs = load_table("gitlab")["verbs"]
    parts = _join_compounds(words(name), verbs["compound_nouns"])
    if not parts:
        raise SchemaError(f"cannot derive an action from {name!r}", field=field)
    last = _verb(parts[-1], verbs)
    if last is not None and len(parts) > 1:
        return derive_action(parts[:-1], last, field=field)
    first = _verb(parts[0], verbs)
    if first is not None and len(parts) > 1:
        return derive_action(parts[1:], first, field=field)
    for i, word in enumerate(parts[1:-1], start=1):
        verb = _verb(word, verbs)
        if verb is not None:
            noun = [w for w in parts[:i] + parts[i + 1 :] if w not in verbs["fillers"]]
            return derive_action(noun, verb, field=field)
    return derive_action(parts[:-1], parts[-1], field=field)


def _field(record: Mapping[str, Any], details: Mapping[str, Any], key: str) -> Any:
    value = record.get(key)
    return details.get(key) if value is None else value


def _legacy(details: Mapping[str, Any], entity_type: str | None) -> tuple[str, str, dict[str, Any]]:
    """(action, source action, extras) for events that carry no event name."""
    entity = words(entity_type or "") or ["entity"]
    if "failed_login" in details:
        return "user.login", f"failed_login:{details.get('failed_login')}", {"outcome": "failure"}
    if "with" in details:
        return "user.login", f"login_with:{details.get('with')}", {}
    for key, core, verb in (
        ("add", "team_member.add", "add"),
        ("remove", "team_member.remove", "remove"),
    ):
        value = text(details.get(key))
        if value is not None:
            if value == "user_access":
                return core, f"{key}:{value}", {}
            return derive_action([value], verb, field=f"details.{key}"), f"{key}:{value}", {}
    change = text(details.get("change"))
    if change is not None:
        extras: dict[str, Any] = {
            "changes": {"before": details.get("from"), "after": details.get("to")}
        }
        if change == "access_level":
            return "team_member.update", f"change:{change}", extras
        return (
            derive_action([*entity, change], "update", field="details.change"),
            f"change:{change}",
            extras,
        )
    message = text(details.get("custom_message"), limit=4096)
    return derive_action(entity, "change", field="entity_type"), message or "unnamed", {}


def _to_event(record: Any, tenant: str | None) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(record).__name__}")
    table = load_table("gitlab")
    raw_details = record.get("details")
    if raw_details is not None and not isinstance(raw_details, Mapping):
        raise SchemaError(f"expected an object, got {type(raw_details).__name__}", field="details")
    details: Mapping[str, Any] = raw_details or {}
    # GitLab writes its times in UTC (the API documents YYYY-MM-DDTHH:MM:SSZ)
    stamp = source_time(record.get("created_at"), "created_at", utc_defined=True)
    occurred_at = stamp.text
    tenant_id = resolve_tenant(None, tenant, field="tenant_id", source="GitLab")
    entity_type = text(record.get("entity_type"))
    name = (
        text(record.get("event_type"))
        or text(record.get("event_name"))
        or text(details.get("event_name"))
    )
    extras: dict[str, Any] = {}
    entry = table_entry(table["actions"], name) if name else None
    if entry is not None:
        action = entry["action"]
        source_action = name
    elif name is not None:
        action = event_name_action(name)
        source_action = name
    else:
        action, source_action, extras = _legacy(details, entity_type)
    noun = action.split(".", 1)[0].split("_", 1)[0]
    category = category_of(action, entry, table["noun_categories"].get(noun, "user"))
    outcome = (entry or {}).get("outcome") or extras.get("outcome") or "success"

    actor = _actor(record, details, table)
    targets = []
    target_id = _field(record, details, "target_id")
    if text(target_id) is not None:
        targets.append(
            {
                "id": text(target_id),
                "type": _field(record, details, "target_type"),
                "name": text(_field(record, details, "target_details"), limit=65536),
            }
        )
    entity_id = text(record.get("entity_id"))
    if entity_id is not None:
        targets.append(
            {
                "id": entity_id,
                "type": entity_type,
                "name": text(_field(record, details, "entity_path"), limit=65536),
            }
        )
    raw_id = text(record.get("id"))
    meta: dict[str, Any] = {
        "source_format": "gitlab",
        "source_action": source_action,
        "entity_type": entity_type,
        "entity_path": text(_field(record, details, "entity_path"), limit=4096),
        "original": json_safe(record),
    }
    if stamp.zone_assumed:
        meta[ZONE_ASSUMED] = ZONE_ASSUMED_TEXT
    message = details.get("custom_message")
    description = message if isinstance(message, str) else None
    return finish(
        tenant_id=tenant_id,
        occurred_at=occurred_at,
        action=action,
        category=category,
        outcome=outcome,
        actor=actor,
        targets=targets,
        source={"ip": _field(record, details, "ip_address")},
        observer={"service": "gitlab"},
        description=description,
        changes=extras.get("changes"),
        event_id=None if raw_id is None else f"gitlab:{raw_id}",
        metadata=meta,
    )


def _actor(
    record: Mapping[str, Any], details: Mapping[str, Any], table: Mapping[str, Any]
) -> dict[str, Any]:
    author_id = record.get("author_id")
    name = text(_field(record, details, "author_name"))
    ident = text(author_id)
    if ident is not None and isinstance(author_id, int) and author_id <= 0:
        ident = None  # -1: unauthenticated (a failed sign-in)
    if ident is None and text(record.get("entity_type")) == "User":
        # the account signed in to: failures then share the actor id of successes
        entity = record.get("entity_id")
        if isinstance(entity, int) and not isinstance(entity, bool) and entity > 0:
            ident = str(entity)
    if ident is None:
        ident = name  # else the attempted login name
    if ident is None:
        raise SchemaError(
            "required field is missing (and details.author_name too)", field="author_id"
        )
    author_class = text(_field(record, details, "author_class"))
    kind = table["author_classes"].get(author_class or "User", "user")
    email = text(details.get("author_email"))
    return {
        "id": ident,
        "type": kind,
        "name": name,
        "email": email if email and "@" in email else None,
    }


register(GitLabFormat())
