"""Okta System Log events (``LogEvent`` objects of ``/api/v1/logs``).

Accepted layouts: the API's JSON array (one page), NDJSON (one event per
line, as log streams and most collectors write), one event per file, or CSV
with the LogEvent's dotted paths as columns (``uuid,published,eventType,
actor.id,actor.alternateId,client.ipAddress,outcome.result,...``, as the Admin
Console's System Log download and SIEM exports write it; lists as ``target[0].id``
or Splunk's multivalue ``target{}.id``), gzip or not.  Okta
events carry no tenant: pass ``--tenant``.  The mapping table is
``auditkit/ingest/mappings/okta.toml``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from typing import Any, Final

from auditkit.errors import SchemaError
from auditkit.ingest._base import RawRecord
from auditkit.ingest._mapping import (
    ZONE_ASSUMED,
    ZONE_ASSUMED_TEXT,
    category_of,
    derive_action,
    dig,
    finish,
    geo,
    json_safe,
    load_table,
    looks_canonical,
    nested_row,
    require_text,
    resolve_tenant,
    source_time,
    table_entry,
    text,
)
from auditkit.ingest._readers import (
    csv_delimiter,
    csv_table,
    iter_csv_as,
    read_head,
    starts_like_csv,
)
from auditkit.ingest._readers_extra import JsonRecordsFormat
from auditkit.ingest.registry import register

__all__ = ["OktaFormat"]


class OktaFormat(JsonRecordsFormat):
    """Okta System Log events (``--format okta --tenant NAME``).

    Examples
    --------
    >>> e = OktaFormat().to_event({
    ...     "uuid": "a1", "published": "2024-05-06T07:08:09.000Z",
    ...     "eventType": "user.session.start", "outcome": {"result": "FAILURE"},
    ...     "actor": {"id": "00u1", "type": "User", "alternateId": "ann@example.com"},
    ...     "client": {"ipAddress": "198.51.100.2"}}, tenant="acme")
    >>> e["action"], e["outcome"], e["actor"]["email"], e["event_id"]
    ('user.login', 'failure', 'ann@example.com', 'a1')
    """

    name = "okta"
    description = "Okta System Log events (API JSON array, NDJSON or CSV); needs --tenant"

    def sniff(self, head: bytes, path: str) -> int:
        """Confidence that ``head`` starts a file of Okta System Log events (0..100)."""
        if looks_canonical(head):
            return 0
        if (
            b'"eventType"' in head
            and b'"published"' in head
            and b'"uuid"' in head
            and not csv_table(head)  # events as JSON text in a column of another CSV
        ):
            return 95 if b'"actor"' in head or b'"outcome"' in head else 70
        if _is_csv(head):
            first = head.split(b"\n", 1)[0]
            sep = csv_delimiter(first).encode()
            columns = {c.strip().strip(b'"') for c in first.split(sep)}
            if {b"eventType", b"published"} <= columns and (
                b"uuid" in columns or any(c.startswith(b"actor.") for c in columns)
            ):
                return 90
        return 0

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's events: JSON in any layout, or CSV rows nested by their dotted columns."""
        if not _is_csv(read_head(path, 4096)):
            for raw in super().records(path):
                events = _hook_events(raw.value) if raw.error is None else None
                if events is None:
                    yield raw
                    continue
                for i, item in enumerate(events):
                    where = f"data.events[{i}]"
                    yield dataclasses.replace(
                        raw, value=item, text=None,
                        location=f"{raw.location}.{where}" if raw.location else where,
                    )  # fmt: skip
            return
        yield from iter_csv_as(path, nested_row)

    def ndjson(self, path: str) -> bool:
        """One event per line (a CSV file is read by :meth:`records`, in order)."""
        head = read_head(path, 4096)
        return not _is_csv(head) and HOOK_EVENT_TYPE.encode() not in head and super().ndjson(path)

    def tenant_needed(self, path: str) -> str | None:
        """Okta records never carry a tenant: ``--tenant`` is needed for every file."""
        return "Okta records carry no tenant; pass --tenant NAME"

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one Okta LogEvent to an auditkit event mapping."""
        return _to_event(record, tenant)


def _is_csv(head: bytes) -> bool:
    return starts_like_csv(head)


@functools.lru_cache(maxsize=8192)
def _derived_action(event_type: str) -> str:
    parts = [p for p in event_type.split(".") if p]
    verb = parts[-1] if parts else ""
    return derive_action(parts[:-1], verb, field="eventType")


#: the envelopes a log stream or collector puts around one LogEvent: Amazon EventBridge
#: (Okta's AWS EventBridge log stream, ``detail``), Splunk HTTP Event Collector
#: (Okta's Splunk Cloud log stream and other forwarders, ``event``)
_ENVELOPES: Final = (("detail", ("detail-type", "source")), ("event", ("sourcetype", "time")))


def _unwrap(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The LogEvent inside an EventBridge or Splunk HEC envelope, else ``record``.

    >>> _unwrap({"detail-type": "SystemLog", "source": "aws.partner/okta.com/x",
    ...          "detail": {"eventType": "user.session.start"}})
    {'eventType': 'user.session.start'}
    >>> _unwrap({"sourcetype": "OktaIM2:log", "event": {"eventType": "a.b"}})
    {'eventType': 'a.b'}
    """
    if "eventType" in record:
        return record
    for key, marks in _ENVELOPES:
        inner = record.get(key)
        if isinstance(inner, Mapping) and any(m in record for m in marks):
            return inner
    return record


def _hook_events(value: Any) -> list[Any] | None:
    """The LogEvents of an event hook delivery (``{"eventType": "com.okta.event_hook",
    "data": {"events": [...]}}``), else ``None``.

    >>> _hook_events({"eventType": "com.okta.event_hook", "data": {"events": [{"uuid": "a"}]}})
    [{'uuid': 'a'}]
    """
    if not isinstance(value, Mapping) or value.get("eventType") != HOOK_EVENT_TYPE:
        return None
    events = dig(value, "data", "events")
    return events if isinstance(events, list) else None


#: the ``eventType`` of an Okta event hook delivery, which holds LogEvents in ``data.events``
HOOK_EVENT_TYPE: Final = "com.okta.event_hook"


def _to_event(envelope: Any, tenant: str | None) -> dict[str, Any]:
    if not isinstance(envelope, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(envelope).__name__}")
    record = _unwrap(envelope)
    table = load_table("okta")
    event_type = require_text(record.get("eventType"), "eventType")
    # Okta publishes in UTC: data lakes write it without a zone
    stamp = source_time(record.get("published"), "published", utc_defined=True)
    occurred_at = stamp.text
    tenant_id = resolve_tenant(None, tenant, field="tenant_id", source="Okta")

    entry = table_entry(table["actions"], event_type)
    action = entry["action"] if entry is not None else _derived_action(event_type)
    prefix = event_type.split(".", 1)[0]
    category = category_of(action, entry, table["prefix_categories"].get(prefix, "user"))

    result = text(dig(record, "outcome", "result"))
    outcome = table["outcomes"].get(result or "SUCCESS", "success")
    if entry is not None and entry.get("outcome"):
        outcome = entry["outcome"]

    actor = _actor(record.get("actor"), table)
    meta: dict[str, Any] = {
        "source_format": "okta",
        "source_action": event_type,
        "source_outcome": result,
        "outcome_reason": text(dig(record, "outcome", "reason"), limit=4096),
        "severity": text(record.get("severity")),
    }
    debug = dig(record, "debugContext", "debugData")
    if entry is not None and entry.get("role_from"):
        meta["role"] = text(dig(debug, entry["role_from"]), limit=4096)
    meta["factor"] = _factor(record, debug, entry)
    meta["risk"] = text(dig(debug, "risk"), limit=4096)
    meta["threat_suspected"] = text(dig(debug, "threatSuspected"))
    if stamp.zone_assumed:
        meta[ZONE_ASSUMED] = ZONE_ASSUMED_TEXT
    meta["original"] = json_safe(envelope)

    targets = []
    raw_targets = record.get("target")
    if isinstance(raw_targets, list):
        for t in raw_targets[:100]:
            if isinstance(t, Mapping):
                targets.append(
                    {
                        "id": t.get("id"),
                        "type": t.get("type"),
                        "name": text(t.get("displayName"), limit=65536)
                        or text(t.get("alternateId"), limit=65536),
                    }
                )
    client = record.get("client")
    place = dig(client, "geographicalContext")
    where = geo(
        country=dig(place, "country"),
        city=dig(place, "city"),
        lat=dig(place, "geolocation", "lat"),
        lon=dig(place, "geolocation", "lon"),
    )
    return finish(
        tenant_id=tenant_id,
        occurred_at=occurred_at,
        action=action,
        category=category,
        outcome=outcome,
        actor=actor,
        targets=targets,
        source={
            "ip": dig(client, "ipAddress"),
            "user_agent": dig(client, "userAgent", "rawUserAgent"),
            "geo": where,
        },
        observer={"service": "okta", "version": record.get("version")},
        request_id=dig(record, "transaction", "id") or dig(debug, "requestId"),
        session_id=_session(dig(record, "authenticationContext", "externalSessionId")),
        description=record.get("displayMessage"),
        event_id=text(record.get("uuid")),
        metadata=meta,
    )


def _factor(record: Mapping[str, Any], debug: Any, entry: Mapping[str, Any] | None) -> str | None:
    """The factor an MFA event is about: ``debugData.factor`` (``OKTA_VERIFY_PUSH``,
    ``GOOGLE_OTP``, ``SMS_FACTOR``...; Okta writes it on ``auth_via_mfa``), else how an
    authenticator was used (a target's ``detailEntry.methodTypeUsed``: ``Get a push
    notification``), else the table's (a push *sent* is ``push``).

    >>> _factor({}, {"factor": "OKTA_VERIFY_PUSH"}, None)
    'OKTA_VERIFY_PUSH'
    >>> _factor({"target": [{"detailEntry": {"methodTypeUsed": "Get a push notification"}}]},
    ...         None, None)
    'Get a push notification'
    >>> _factor({}, None, {"factor": "push"})
    'push'
    """
    named = text(dig(debug, "factor"), limit=200) or text(dig(debug, "factorType"), limit=200)
    if named:
        return named
    targets = record.get("target")
    for t in targets[:100] if isinstance(targets, list) else []:
        used = text(dig(t, "detailEntry", "methodTypeUsed"), limit=200)
        if used:
            return used
    return text(entry.get("factor")) if entry is not None else None


def _session(value: Any) -> str | None:
    session = text(value)
    return None if session is None or session.lower() == "unknown" else session


def _actor(raw: Any, table: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise SchemaError(
            "required field is missing"
            if raw is None
            else f"expected an object, got {type(raw).__name__}",
            field="actor",
        )
    ident = text(raw.get("id"))
    alternate = text(raw.get("alternateId"))
    if ident is None or ident.lower() == "unknown":
        # failed sign-ins of unknown users: the attempted login name is the best id
        ident = alternate
    if ident is None:
        raise SchemaError("expected an actor with an id or alternateId", field="actor.id")
    kind = table["actor_types"].get(text(raw.get("type")) or "", "user")
    name = text(raw.get("displayName"))
    return {
        "id": ident,
        "type": kind,
        "name": None if name == "unknown" else name,
        "email": alternate if alternate and "@" in alternate else None,
    }


register(OktaFormat())
