"""GitLab audit events: the audit events API (``/audit_events``) and streamed events.

API responses are JSON arrays (or one object) whose ``details`` hold the
author, target and IP; streamed events (HTTP destinations, or their NDJSON
archives) repeat those at the top level and name the event in
``event_type``.  GitLab events carry no tenant: pass ``--tenant``.  The
mapping table is ``auditkit/ingest/mappings/gitlab.toml``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from auditkit.errors import SchemaError
from auditkit.ingest._base import RawRecord
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
from auditkit.ingest._readers import csv_table, iter_csv, read_head, starts_like_csv
from auditkit.ingest._readers_extra import JsonRecordsFormat
from auditkit.ingest.registry import register

__all__ = ["GitLabFormat", "csv_record", "event_name_action", "message_event_name"]

#: the columns of the CSV export of audit events (Admin Area, group and project
#: "Export as CSV"), by which it is told
_CSV_COLUMNS: Final = (b"Author ID", b"Entity Type", b"Created At")


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
        if b'"author_id"' in head and b'"entity_type"' in head and not csv_table(head):
            return 95 if b'"details"' in head or b'"event_type"' in head else 80
        if _is_csv(head):
            first = head.split(b"\n", 1)[0]
            if all(c in first for c in _CSV_COLUMNS):
                return 90
        return 0

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's events: JSON in any layout, or the rows of a CSV export."""
        if not _is_csv(read_head(path, 4096)):
            yield from super().records(path)
            return
        for raw in iter_csv(path):
            if raw.error is not None:
                yield raw
                continue
            yield dataclasses.replace(raw, value=csv_record(raw.value))

    def ndjson(self, path: str) -> bool:
        """One event per line (a CSV export is read by :meth:`records`, in order)."""
        return not _is_csv(read_head(path, 4096)) and super().ndjson(path)

    def tenant_needed(self, path: str) -> str | None:
        """GitLab records never carry a tenant: ``--tenant`` is needed for every file."""
        return "GitLab records carry no tenant; pass --tenant NAME"

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one GitLab audit event to an auditkit event mapping."""
        return _to_event(record, tenant)


def _is_csv(head: bytes) -> bool:
    return starts_like_csv(head)


#: the ``Action`` column of a CSV export is the event's ``details`` told in words
#: (GitLab's ``Audit::Details.humanize``): read back into the details they came from
_ACTION_TEXT: Final = (
    (re.compile(r"Signed in with (\S+) authentication"), ("with",)),
    (re.compile(r"Failed to login with (\S+) authentication"), ("failed_login",)),
    (re.compile(r"Added ([a-z][a-z0-9 ]*?)(?: as (.+))?"), ("add", "as")),
    (re.compile(r"Removed ([a-z][a-z0-9 ]*)"), ("remove",)),
    (
        re.compile(r"Changed ([a-z][a-z0-9 ]*?)(?: from (.*?))?(?: to (.*))?"),
        ("change", "from", "to"),
    ),
)


def _details_of(action: str) -> dict[str, Any]:
    """The ``details`` that GitLab told as ``action``.

    >>> _details_of("Changed access level from Developer to Owner")
    {'change': 'access_level', 'from': 'Developer', 'to': 'Owner'}
    >>> _details_of("Signed in with STANDARD authentication"), _details_of("Approved it")
    ({'with': 'standard'}, {'custom_message': 'Approved it'})
    """
    for pattern, keys in _ACTION_TEXT:
        m = pattern.fullmatch(action)
        if m is not None:
            # GitLab wrote the key's value with spaces for "_" (and `with` upper-cased)
            first = m[1] if keys[0] == "failed_login" else m[1].replace(" ", "_").lower()
            values = [first, *(m[i + 1] for i in range(1, len(keys)))]
            return {k: v for k, v in zip(keys, values, strict=True) if v is not None}
    return {"custom_message": action}


def _column_key(column: str) -> str:
    """``Created At (UTC)`` -> ``created_at``, ``IP Address`` -> ``ip_address``."""
    return re.sub(r"\s*\(.*\)\s*$", "", column).strip().lower().replace(" ", "_")


def csv_record(row: Mapping[str, str]) -> dict[str, Any]:
    """A row of GitLab's CSV export of audit events as the audit event it tells: its
    columns as the API's keys, ids as numbers, the ``Action`` text read back into
    ``details`` (``Failed to login with STANDARD authentication`` ->
    ``{"failed_login": "STANDARD"}``, other text is the ``custom_message``); the text
    itself is kept as ``action``.

    Examples
    --------
    >>> csv_record({"ID": "5", "Author ID": "-1", "Author Name": "ann", "Entity ID": "51",
    ...     "Entity Type": "User", "Target ID": "", "Action":
    ...     "Failed to login with STANDARD authentication", "IP Address": "203.0.113.9",
    ...     "Created At (UTC)": "2024-06-03T07:15:00Z"})  # doctest: +NORMALIZE_WHITESPACE
    {'id': 5, 'author_id': -1, 'author_name': 'ann', 'entity_id': 51, 'entity_type': 'User',
     'action': 'Failed to login with STANDARD authentication', 'ip_address': '203.0.113.9',
     'created_at': '2024-06-03T07:15:00Z', 'details': {'failed_login': 'STANDARD'}}
    """
    out: dict[str, Any] = {}
    for column, cell in row.items():
        if not column or cell is None or cell.strip() == "":
            continue
        key = _column_key(column)
        value: Any = cell.strip()
        if key in ("id", "author_id", "entity_id", "target_id") and re.fullmatch(
            r"-?[0-9]{1,18}", value
        ):
            value = int(value)
        out[key] = value
    details = _details_of(out["action"]) if isinstance(out.get("action"), str) else {}
    email = out.pop("author_email", None)
    if email is not None:
        details["author_email"] = email
    out["details"] = details
    return out


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


def message_event_name(message: Any) -> str | None:
    """The event type whose message ``message`` is (the ``[messages]`` table: the words
    it starts with), for events that carry no name: older API responses, whose
    ``details`` hold only a ``custom_message``, and the CSV export, which tells each
    event in words; else ``None``.

    Examples
    --------
    >>> message_event_name("Revoked personal access token with id 55")
    'personal_access_token_revoked'
    >>> message_event_name("Started Impersonation"), message_event_name("Approved it")
    ('user_impersonation', None)
    """
    if not isinstance(message, str):
        return None
    words = " ".join(message.lower().split()[:5])
    table: Mapping[str, str] = load_table("gitlab")["messages"]
    for start, name in table.items():
        if words == start or words.startswith(start + " ") or words.startswith(start + ":"):
            return name
    return None


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
        or message_event_name(details.get("custom_message"))
        or message_event_name(record.get("action"))  # a CSV export's Action column
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
    change = text(details.get("change"))
    if "changes" not in extras and change is not None:
        # a named event that also tells what it changed (visibility, 2FA required, IP
        # restrictions, an access level): the setting keeps its name
        extras["changes"] = {
            "before": {change: details.get("from")},
            "after": {change: details.get("to")},
        }
    role = _granted_role(action, details)
    if name == "user_admin_status_updated" and change is not None:
        # the instance's administrator flag: set, a grant of the admin role
        after = text(details.get("to"))
        if after is not None and after.lower() in ("true", "yes", "1", "admin"):
            action, role = "role.grant", "admin"
        elif after is not None and after.lower() in ("false", "no", "0", "regular"):
            action, role = "role.revoke", "admin"
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
    if role is not None:
        meta["role"] = role
    if stamp.zone_assumed:
        meta[ZONE_ASSUMED] = ZONE_ASSUMED_TEXT
    message = details.get("custom_message")
    # (a CSV export's Action column is the details told in words)
    description = message if isinstance(message, str) else text(record.get("action"), limit=65536)
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


def _granted_role(action: str, details: Mapping[str, Any]) -> str | None:
    """The access level a membership gives (``Owner``, ``Maintainer``...): GitLab's
    roles are its members' access levels.

    >>> _granted_role("team_member.add", {"add": "user_access", "as": "Owner"})
    'Owner'
    >>> _granted_role("team_member.update", {"change": "access_level", "from": "Developer",
    ...                                      "to": "Maintainer"})
    'Maintainer'
    >>> _granted_role("team_member.remove", {"remove": "user_access", "as": "Owner"}) is None
    True
    """
    if action == "team_member.add":
        return text(details.get("as"))
    if action == "team_member.update" and text(details.get("change")) == "access_level":
        return text(details.get("to"))
    return None


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
