"""Elastic Common Schema documents: what Elasticsearch, OpenSearch, Elastic Agent and
Filebeat modules, Datadog and Logstash pipelines keep audit logs as.

A document is mapped field by field: ``@timestamp`` (UTC by Elasticsearch's rule; a
time without a zone is read as UTC and noted), ``event.id``, ``event.action``,
``event.outcome``, ``user.*`` for the actor, ``user.target`` for the target,
``source.*`` and ``user_agent.original`` for where from, ``observer`` or ``service``
for the recording service, ``http.request.id``, ``message``.  The tenant is
``organization.id``, else ``cloud.account.id``, else ``--tenant``.  ``event.action``
is kept when it is already a ``noun.verb`` action name, else named from it
(``ConsoleLogin`` -> ``console.login`` under ``event.module``/``dataset``), and an
authentication start (``event.category: authentication``, ``event.type: start``), or an
authentication whose ``event.action`` names a login (Filebeat's ``ssh_login``,
``logon-failed``), is ``user.login``.  Windows' NULL SID (``S-1-0-0``, the ``user.id`` of
a failed logon) is no actor id: the account name is (the SID goes to
``metadata.user_sid``).  The document is kept whole in ``metadata.original``.

auditkit's own ECS export (``event.module: auditkit``) is read back as the events it
was made from: the fields ECS has no place for are under ``auditkit.*`` (see
:mod:`auditkit.export.ecs`).  Layouts: NDJSON, a JSON array or one document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._mapping import (
    ZONE_ASSUMED,
    ZONE_ASSUMED_TEXT,
    category_of,
    derive_action,
    dig,
    finish,
    geo,
    json_safe,
    looks_canonical,
    resolve_tenant,
    source_time,
    text,
    words,
)
from auditkit.ingest._readers import csv_table, loads_json
from auditkit.ingest._readers_extra import JsonRecordsFormat
from auditkit.ingest.registry import best_format, register
from auditkit.schema import CATEGORIES, OUTCOMES

__all__ = ["EcsFormat"]

#: an action name as the canonical schema writes them (``user.login``)
_ACTION: Final = re.compile(r"^[a-z0-9_\-]+(\.[a-z0-9_\-]+)+\Z")
#: ECS outcomes (``unknown``: keep the default, note the source's value)
_OUTCOMES: Final = {"success": "success", "failure": "failure"}
#: an ``event.action`` (as its words joined by ``_``) that names a login: ``ssh_login``,
#: ``logged-in``, ``logon-failed``, ``user_login``, ``sign-in``, ``UserLoggedIn``; up to
#: three words before it and two outcome words after it
_LOGIN: Final = re.compile(
    r"^(?:[a-z0-9]+_){0,3}(?:log(?:ged)?_?(?:in|on)|sign(?:ed)?_?(?:in|on))"
    r"(?:_(?:attempt|attempted|fail|failed|failure|success|successful|succeeded|error"
    r"|denied|blocked|invalid)){0,2}\Z"
)
#: Windows' NULL SID: "no user" (event 4625 writes it for the account that failed)
_NULL_SIDS: Final = frozenset({"S-1-0-0"})
#: Windows Security events whose ``TargetUserName`` is the account logging on or off
#: (4624/4625 logon, 4634/4647 logoff, 4768/4771 Kerberos, 4776 NTLM validation)
_LOGON_EVENT_IDS: Final = frozenset({"4624", "4625", "4634", "4647", "4768", "4771", "4776"})


#: ``event.module`` of the documents auditkit's ECS export writes
_OWN_EXPORT: Final = re.compile(rb'"module"\s*:\s*"auditkit"')


class EcsFormat(JsonRecordsFormat):
    """Elastic Common Schema documents (``--format ecs``).

    Examples
    --------
    >>> e = EcsFormat().to_event({"@timestamp": "2024-06-01T09:00:00.000Z",
    ...     "event": {"action": "ConsoleLogin", "category": ["authentication"],
    ...               "type": ["start"], "outcome": "failure", "module": "aws"},
    ...     "user": {"name": "alice"}, "source": {"ip": "198.51.100.7"},
    ...     "cloud": {"account": {"id": "123456789012"}}}, tenant=None)
    >>> e["action"], e["outcome"], e["actor"]["id"], e["tenant_id"]
    ('user.login', 'failure', 'alice', '123456789012')
    """

    name = "ecs"
    description = "Elastic Common Schema documents (Elasticsearch, OpenSearch, Filebeat, Datadog)"

    def sniff(self, head: bytes, path: str) -> int:
        """Confidence that ``head`` starts a file of ECS documents (0..100)."""
        if looks_canonical(head):
            return 0
        text_ = head[:65536]
        if b'"@timestamp"' not in text_ or b'"event"' not in text_ or csv_table(text_):
            return 0
        if _OWN_EXPORT.search(head[:8192]):
            # auditkit's own export: the source record it keeps holds the source
            # format's field names, which that format's sniffer would claim
            return 99
        if b'"ecs"' in text_ or b'"event.action"' in text_ or b'"action"' in text_:
            return 70
        return 0

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one ECS document to an auditkit event mapping."""
        return _to_event(record, tenant)


def _first(value: Any) -> Any:
    """ECS keywords may be arrays (``event.category: ["authentication"]``)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str)]


def _action(event: Mapping[str, Any] | None, ours: bool) -> str:
    raw = text(dig(event, "action"), limit=4096)
    categories, types = _names(dig(event, "category")), _names(dig(event, "type"))
    if ours and raw is not None:
        return raw
    if "authentication" in categories and "start" in types:
        return "user.login"
    if "authentication" in categories and "end" in types:
        return "user.logout"
    if raw is None:
        raise SchemaError("required field is missing", field="event.action")
    if "authentication" in categories and _LOGIN.match("_".join(words(raw))):
        return "user.login"  # Filebeat's sshd ssh_login is event.type info
    if _ACTION.match(raw) and len(raw) <= 200:
        return raw
    prefix = text(dig(event, "module")) or (text(dig(event, "dataset")) or "").split(".")[0]
    parts = words(raw)
    if len(parts) == 1:
        return derive_action([prefix or "event"], parts[0], field="event.action")
    # ConsoleLogin, user-password-change, CreateUser: the last word or the first is the
    # verb; take the common English order (verb first for CamelCase API names)
    if raw[:1].isupper():
        return derive_action([prefix, *parts[1:]], parts[0], field="event.action")
    return derive_action([prefix, *parts[:-1]], parts[-1], field="event.action")


#: formats whose records may sit in ``event.original`` and be read by their own mapper
_SOURCE_FORMATS: Final = ("cloudtrail", "gcp", "okta", "ocsf", "gitlab")


def _from_original(event: Mapping[str, Any] | None, tenant: str | None) -> dict[str, Any] | None:
    """The event of the source record an integration kept in ``event.original``
    (Elastic Agent's and Filebeat's ``preserve_original_event``), read by that source's
    own format, when one recognises it and maps it; else ``None`` (the ECS fields are
    read).  The source's mapping knows its actions and outcomes better than their ECS
    rendering does."""
    raw = dig(event, "original") if isinstance(event, dict) else None
    if not isinstance(raw, str) or not raw.lstrip().startswith("{"):
        return None
    try:
        original = loads_json(raw)
    except ValueError:
        return None
    if not isinstance(original, dict):
        return None
    source = best_format(orjson.dumps(original), "event.original", _SOURCE_FORMATS)
    if source is None:
        return None
    try:
        out = source.to_event(original, tenant=tenant)
    except SchemaError:
        return None  # the ECS fields may still make an event
    meta = out.get("metadata")
    if meta is None or isinstance(meta, Mapping):
        out["metadata"] = {**(meta or {}), "envelope": "ecs"}
    return out


def _user_id(user: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(``user.id``, None), or (None, the SID) when ``user.id`` is Windows' NULL SID.

    A failed Windows logon (4625) has the NULL SID as ``user.id``: it names no account,
    and as the actor would make every failed logon one actor's.

    >>> _user_id({"id": "S-1-5-18"}), _user_id({"id": "S-1-0-0"}), _user_id({})
    (('S-1-5-18', None), (None, 'S-1-0-0'), (None, None))
    """
    uid = text(user.get("id"))
    if uid is not None and uid.strip().upper() in _NULL_SIDS:
        return None, uid
    return uid, None


def _logon_target(record: Mapping[str, Any]) -> str | None:
    """The account of a Windows logon event (4625...) written without ``user.name``:
    Winlogbeat's ``winlog.event_data.TargetUserName`` (``-`` is Windows' none)."""
    code = text(dig(record, "event", "code")) or text(dig(record, "winlog", "event_id"))
    if code not in _LOGON_EVENT_IDS:
        return None
    name = text(dig(record, "winlog", "event_data", "TargetUserName"))
    return name if name != "-" else None


def _to_event(record: Any, tenant: str | None) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(record).__name__}")
    event = record.get("event")
    if event is not None and not isinstance(event, Mapping):
        raise SchemaError(f"expected an object, got {type(event).__name__}", field="event")
    from_source = _from_original(event, tenant)
    if from_source is not None:
        return from_source
    ours_ns = record.get("auditkit")
    ours = text(dig(event, "module")) == "auditkit" and isinstance(ours_ns, Mapping)
    own: Mapping[str, Any] = ours_ns if isinstance(ours_ns, Mapping) else {}
    stamp = source_time(record.get("@timestamp"), "@timestamp", utc_defined=True)
    tenant_id = resolve_tenant(
        text(own.get("tenant_id"))
        or text(dig(record, "organization", "id"))
        or text(dig(record, "cloud", "account", "id")),
        tenant,
        field="organization.id",
        source="ECS",
    )
    action = _action(event, ours)
    source_outcome = text(dig(event, "outcome"))
    outcome = own.get("outcome") if own.get("outcome") in OUTCOMES else None
    if outcome is None:
        outcome = _OUTCOMES.get((source_outcome or "").lower(), "success")
    category = own.get("category")
    if category not in CATEGORIES:
        category = category_of(action, None, "user")
    user_in = record.get("user")
    user: Mapping[str, Any] = user_in if isinstance(user_in, Mapping) else {}
    user_id, null_sid = _user_id(user)
    actor_id = user_id or text(user.get("name")) or _logon_target(record) or text(user.get("email"))
    if actor_id is None and null_sid is not None:
        actor_id, null_sid = null_sid, None  # no name at all: the SID, as before
    # auditkit's own export names the type when the event had one, and only then
    actor_type = own.get("actor_type") if ours else own.get("actor_type") or "user"
    if actor_id is None:
        actor_id = text(dig(record, "service", "name")) or text(dig(record, "host", "name"))
        actor_type = "service" if actor_id is not None else actor_type
    if actor_id is None:
        raise SchemaError("required field is missing (no user.id, user.name or service.name)",
                          field="user.id")  # fmt: skip
    roles = user.get("roles")
    actor = {
        "id": actor_id,
        "type": actor_type,
        "name": text(user.get("name")) if user_id else None,
        "email": text(user.get("email")),
        "roles": [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else None,
    }
    targets = own.get("targets") if isinstance(own.get("targets"), list) else None
    if targets is None:
        target = dig(user, "target")
        tid = text(dig(target, "id")) or text(dig(target, "name"))
        targets = [{"id": tid, "type": "user", "name": text(dig(target, "name"))}] if tid else []
    src_in = record.get("source")
    src: Mapping[str, Any] = src_in if isinstance(src_in, Mapping) else {}
    loc = dig(src, "geo", "location")
    meta: dict[str, Any] = {}
    if ours:
        extra = own.get("metadata")
        meta.update(extra if isinstance(extra, Mapping) else {})
    else:
        meta.update(
            {
                "source_format": "ecs",
                "source_action": text(dig(event, "action"), limit=4096),
                "source_outcome": source_outcome,
                "ecs_dataset": text(dig(event, "dataset")),
                "user_sid": null_sid,
                "original": json_safe(record),
            }
        )
    if stamp.zone_assumed:
        meta[ZONE_ASSUMED] = ZONE_ASSUMED_TEXT
    out = finish(
        tenant_id=tenant_id,
        occurred_at=stamp.text,
        action=action,
        category=category,
        outcome=outcome,
        actor=actor,
        targets=[t for t in targets if isinstance(t, Mapping)],
        source={
            "ip": text(src.get("ip")) or text(dig(record, "client", "ip")),
            "user_agent": text(dig(record, "user_agent", "original"), limit=4096),
            "geo": geo(
                country=dig(src, "geo", "country_iso_code") or dig(src, "geo", "country_name"),
                city=dig(src, "geo", "city_name"),
                lat=dig(loc, "lat"),
                lon=dig(loc, "lon"),
            ),
        },
        observer={
            "service": text(dig(record, "observer", "product"))
            if ours  # the event's own observer or none (event.module is the exporter)
            else text(dig(record, "observer", "product"))
            or text(dig(record, "service", "name"))
            or text(dig(event, "module"))
            or "ecs",
            "version": text(dig(record, "observer", "version"))
            or text(dig(record, "service", "version")),
            "region": text(dig(record, "cloud", "region")),
        },
        request_id=dig(record, "http", "request", "id") or dig(record, "trace", "id"),
        session_id=own.get("session_id") or dig(record, "session", "id"),
        description=record.get("message") if isinstance(record.get("message"), str) else None,
        changes=own.get("changes") if isinstance(own.get("changes"), Mapping) else None,
        metadata=meta,
        event_id=text(dig(event, "id")),
    )
    if ours:  # as a re-imported NDJSON export: the old position and receipt time noted
        for key, field in (("seq", "sequence"), ("received_at", "ingested")):
            if dig(event, field) is not None:
                out[key] = dig(event, field)
    return out


register(EcsFormat())
