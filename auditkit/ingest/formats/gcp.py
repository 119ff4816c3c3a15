"""Google Cloud Audit Logs: ``LogEntry`` records whose ``protoPayload`` is an ``AuditLog``.

All four audit logs are read: Admin Activity, Data Access, System Event and
Policy Denied (``logName`` ``.../logs/cloudaudit.googleapis.com%2F<type>``),
from NDJSON exports (Cloud Storage sinks), ``gcloud logging read
--format=json`` arrays, or one entry per file, gzip or not; and rows of the
tables a log sink routes to BigQuery, exported as JSON: their payload is the
column ``protopayload_auditlog``, its ``request``, ``response`` and ``metadata``
are JSON text (``requestJson``, ...), ``serviceData`` is ``servicedata_v1_<svc>``,
64-bit integers are strings and times read ``2024-04-02 08:00:00.123456 UTC``.

The tenant is the project id of ``logName`` (``projects/<id>/logs/...``), or
``organizations/<id>``, ``folders/<id>``, ``billingAccounts/<id>`` for
entries logged above projects, else ``resource.labels.project_id``, else
``--tenant``.  The mapping table is ``auditkit/ingest/mappings/gcp.toml``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from auditkit.errors import SchemaError
from auditkit.ingest._mapping import (
    MAX_ID,
    ZONE_ASSUMED,
    ZONE_ASSUMED_TEXT,
    category_of,
    dig,
    finish,
    ip_or_none,
    json_safe,
    load_table,
    looks_canonical,
    operation_action,
    require_text,
    resolve_tenant,
    source_time,
    table_entry,
    text,
)
from auditkit.ingest._readers import csv_table, loads_json
from auditkit.ingest._readers_extra import JsonRecordsFormat
from auditkit.ingest.registry import register

__all__ = ["GcpAuditFormat"]

#: the BigQuery column holding the AuditLog payload of a routed log entry
BQ_PAYLOAD = "protopayload_auditlog"
#: payload members BigQuery stores as JSON text, and the AuditLog member each is
_BQ_JSON = {"requestJson": "request", "responseJson": "response", "metadataJson": "metadata"}

_LOG_NAME = re.compile(r"^(projects|organizations|folders|billingAccounts)/([^/]+)/logs/(.+)\Z")


class GcpAuditFormat(JsonRecordsFormat):
    """Google Cloud Audit Logs entries (``--format gcp``).

    Examples
    --------
    >>> fmt = GcpAuditFormat()
    >>> e = fmt.to_event({
    ...     "insertId": "abc123", "timestamp": "2024-04-02T08:00:00.123456789Z",
    ...     "logName": "projects/shop-prod/logs/cloudaudit.googleapis.com%2Factivity",
    ...     "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
    ...         "serviceName": "compute.googleapis.com",
    ...         "methodName": "v1.compute.instances.delete",
    ...         "authenticationInfo": {"principalEmail": "ops@example.com"},
    ...         "requestMetadata": {"callerIp": "198.51.100.4"}, "status": {"code": 7}}},
    ...     tenant=None)
    >>> e["tenant_id"], e["action"], e["outcome"], e["source"]["ip"]
    ('shop-prod', 'compute_instances.delete', 'denied', '198.51.100.4')
    """

    name = "gcp"
    description = (
        "Google Cloud Audit Logs (LogEntry with an AuditLog protoPayload): "
        "Admin Activity, Data Access, System Event, Policy Denied"
    )

    def sniff(self, head: bytes, path: str) -> int:
        """Confidence that ``head`` starts a file of Cloud Audit Logs entries (0..100)."""
        if looks_canonical(head) or csv_table(head):
            return 0  # (a CSV's cells holding entries as JSON text: not this format's file)
        if f'"{BQ_PAYLOAD}"'.encode() in head:
            return 95 if b"cloudaudit.googleapis.com" in head else 90
        if b'"protoPayload"' not in head:
            return 90 if _pubsub_sniff(head) else 0
        if b"google.cloud.audit.AuditLog" in head or b"cloudaudit.googleapis.com" in head:
            return 95
        return 30 if b'"logName"' in head else 0

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one LogEntry to an auditkit event mapping."""
        return _to_event(record, tenant)


def entry_id(insert_id: str | None, precise_time: str, log_name: str | None) -> str | None:
    """The ``event_id`` of a log entry: Cloud Logging treats entries with the same
    ``insertId`` *and* ``timestamp`` in the same log as duplicates, and entries that
    differ in either as distinct; so the id is the ``insertId`` followed by a digest
    of the log name and the timestamp (to the nanosecond, whatever its notation).

    Examples
    --------
    >>> a = entry_id("abc", "2024-04-02T08:00:00.123456789Z", "projects/p/logs/x")
    >>> a
    'abc.464a763350ae8897'
    >>> a == entry_id("abc", "2024-04-02T08:00:00.123456788Z", "projects/p/logs/x")
    False
    """
    if insert_id is None:
        return None  # derived from the content by the store's rules
    digest = hashlib.sha256(f"{log_name or ''}\n{precise_time}".encode()).hexdigest()[:16]
    if len(insert_id) > MAX_ID - 17:
        return hashlib.sha256(f"{insert_id}\n{digest}".encode()).hexdigest()
    return f"{insert_id}.{digest}"


def _log_type(log_name: str | None) -> str | None:
    if log_name is None:
        return None
    tail = log_name.rsplit("/", 1)[-1].replace("%2F", "/").replace("%2f", "/")
    if tail.startswith("cloudaudit.googleapis.com/"):
        return tail.split("/", 1)[1]
    return None


def _tenant(entry: Mapping[str, Any], log_name: str | None) -> str | None:
    m = _LOG_NAME.match(log_name or "")
    if m is not None:
        kind, ident = m.group(1), m.group(2)
        return ident if kind == "projects" else f"{kind}/{ident}"
    return text(dig(entry, "resource", "labels", "project_id"))


#: the ``@type`` of an audit log's payload
AUDIT_LOG_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"


def _audit_entry(record: Mapping[str, Any], payload: Any, where: str) -> None:
    """Refuse a log entry that is not an audit log entry (an App Engine request log, a
    plain ``textPayload`` or ``jsonPayload`` entry), saying so, rather than naming an
    AuditLog field it was never meant to have.

    >>> _audit_entry({"textPayload": "GET /"}, None, "protoPayload")
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'protoPayload': not an audit log entry (a textPayload entry; an audit log entry has an AuditLog protoPayload)
    """  # noqa: E501
    if payload is None:
        for other in ("textPayload", "jsonPayload"):
            if other in record:
                raise SchemaError(
                    f"not an audit log entry (a {other} entry; an audit log entry has an "
                    "AuditLog protoPayload)",
                    field=where,
                )
        return
    kind = dig(payload, "@type")
    if isinstance(kind, str) and kind != AUDIT_LOG_TYPE:
        raise SchemaError(
            f"not an audit log entry (protoPayload @type {text(kind, limit=200)!r}, "
            f"not {AUDIT_LOG_TYPE!r})",
            field=f"{where}.@type",
        )


#: the first ``data`` of a Pub/Sub message in a file's first bytes (base64, standard or URL-safe)
_PUBSUB_DATA: Final = re.compile(rb'"data"[ \t\r\n]*:[ \t\r\n]*"([A-Za-z0-9+/_=-]{16,})')


def _decode_base64(data: str | bytes) -> bytes:
    """Base64 (standard or URL-safe, padding optional) as bytes; ``ValueError`` if it is not."""
    raw = data.encode("ascii") if isinstance(data, str) else data
    raw = raw.strip().replace(b"-", b"+").replace(b"_", b"/")
    return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)


def _pubsub_sniff(head: bytes) -> bool:
    """Whether ``head`` starts Pub/Sub messages (a pull's output, a push body) whose
    ``data`` is a Cloud Audit Logs entry, as a log sink to a Pub/Sub topic sends them."""
    m = _PUBSUB_DATA.search(head)
    if m is None:
        return False
    data = m.group(1)
    try:
        decoded = _decode_base64(data[: len(data) // 4 * 4])
    except ValueError:
        return False
    return b'"protoPayload"' in decoded and (
        b"google.cloud.audit.AuditLog" in decoded or b"cloudaudit.googleapis.com" in decoded
    )


def _pubsub_entry(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The log entry of a Pub/Sub message (``{"data": <base64>, "messageId": ...}``, alone
    or as the ``message`` of a pull's output or a push's body), else ``record``.

    >>> import base64, json
    >>> data = base64.b64encode(json.dumps({"insertId": "x"}).encode()).decode()
    >>> _pubsub_entry({"ackId": "a", "message": {"data": data, "messageId": "1"}})
    {'insertId': 'x'}
    >>> _pubsub_entry({"message": {"data": "bm90IGpzb24=", "messageId": "1"}})
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'message.data': expected a log entry as base64 JSON (a log sink's message), got text that is not JSON
    """  # noqa: E501
    if "logName" in record or "protoPayload" in record or BQ_PAYLOAD in record:
        return record
    where, message = "", record
    inner = record.get("message")
    if isinstance(inner, Mapping) and "data" in inner:
        where, message = "message.", inner
    data = message.get("data")
    if not isinstance(data, str) or not ("messageId" in message or "message_id" in message):
        return record
    field = f"{where}data"
    try:
        raw = _decode_base64(data)
    except ValueError:
        raise SchemaError(
            "expected a log entry as base64 JSON (a log sink's message), got text that is "
            "not base64",
            field=field,
        ) from None
    try:
        entry = loads_json(raw)
    except ValueError:
        raise SchemaError(
            "expected a log entry as base64 JSON (a log sink's message), got text that is not JSON",
            field=field,
        ) from None
    if not isinstance(entry, Mapping):
        raise SchemaError(
            f"expected a log entry (a JSON object), got {type(entry).__name__}", field=field
        )
    return entry


def _to_event(envelope: Any, tenant: str | None) -> dict[str, Any]:
    if not isinstance(envelope, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(envelope).__name__}")
    record = _pubsub_entry(envelope)
    table = load_table("gcp")
    where = "protoPayload" if "protoPayload" in record or BQ_PAYLOAD not in record else BQ_PAYLOAD
    payload = record.get(where)
    _audit_entry(record, payload, where)
    if not isinstance(payload, Mapping):
        raise SchemaError(
            "expected the AuditLog object"
            if payload is None
            else f"expected an object, got {type(payload).__name__}",
            field=where,
        )
    if where == BQ_PAYLOAD:
        payload = _from_bigquery(payload)
    method = require_text(payload.get("methodName"), f"{where}.methodName")
    service = text(payload.get("serviceName"))
    # LogEntry.timestamp is a protobuf Timestamp (UTC): data lakes write it without a zone
    stamp = source_time(record.get("timestamp"), "timestamp", utc_defined=True)
    occurred_at = stamp.text
    log_name = text(record.get("logName"), limit=4096)
    log_type = _log_type(log_name)
    defaults = table["log_types"].get(log_type or "", {})
    tenant_id = resolve_tenant(_tenant(record, log_name), tenant, field="logName", source="GCP")

    entry = table_entry(table["actions"], method)
    if entry is None:
        # services differ in case (IAM's google.iam.admin.v1.SetIAMPolicy)
        suffix = method.rsplit(".", 1)[-1]
        suffixes = table["method_suffixes"]
        entry = table_entry(suffixes, suffix) or next(
            (table_entry(suffixes, k) for k in suffixes if k.lower() == suffix.lower()), None
        )
    meta: dict[str, Any] = {
        "source_format": "gcp",
        "source_action": method,
        "source_service": service,
        "gcp_log_type": log_type,
    }
    if entry is not None:
        action = entry["action"]
        if entry.get("iam_policy"):
            action = _iam_policy_action(payload, meta)
    else:
        action = operation_action(service, method, field=f"{where}.methodName")
    category = category_of(action, entry, defaults.get("category", "user"))

    actor = _actor(payload, table, defaults, service, meta)
    outcome = _outcome(payload, table, defaults, entry)
    ip = ip_or_none(dig(payload, "requestMetadata", "callerIp"))
    labels = dig(record, "resource", "labels")
    region = (
        dig(labels, "location")
        or dig(labels, "region")
        or dig(labels, "zone")
        or dig(payload, "resourceLocation", "currentLocations", 0)
    )
    resource_name = text(payload.get("resourceName"), limit=4096)
    targets = [
        {"id": m, "type": "principal", "name": meta.get("role")} for m in meta.pop("_members", [])
    ]
    made = _created_service_account(method, payload)
    if made is not None:  # the account made, not the project it is made in
        targets.append({"id": made, "type": "service_account", "name": None})
    if resource_name is not None:
        targets.append({"id": resource_name, "type": text(dig(record, "resource", "type"))})
    status = payload.get("status")
    meta.update(
        {
            "severity": text(record.get("severity")),
            "status_code": dig(status, "code") if isinstance(dig(status, "code"), int) else None,
            "status_message": text(dig(status, "message"), limit=4096),
            "caller_ip": None
            if ip is not None
            else text(dig(payload, "requestMetadata", "callerIp")),
            "original": json_safe(envelope),
        }
    )
    if stamp.zone_assumed:
        meta[ZONE_ASSUMED] = ZONE_ASSUMED_TEXT
    return finish(
        tenant_id=tenant_id,
        occurred_at=occurred_at,
        action=action,
        category=category,
        outcome=outcome,
        actor=actor,
        targets=targets,
        source={"ip": ip, "user_agent": dig(payload, "requestMetadata", "callerSuppliedUserAgent")},
        observer={"service": service or "cloudaudit.googleapis.com", "region": region},
        request_id=dig(record, "operation", "id")
        or dig(payload, "requestMetadata", "requestAttributes", "id"),
        event_id=entry_id(text(record.get("insertId")), stamp.precise, log_name),
        metadata=meta,
    )


def _created_service_account(method: str, payload: Mapping[str, Any]) -> str | None:
    """The e-mail of the service account a ``CreateServiceAccount`` made: its response's
    ``email``, else its request's account id in the project it names (the resource
    name is only the project).

    >>> _created_service_account("google.iam.admin.v1.CreateServiceAccount",
    ...     {"request": {"account_id": "ci", "name": "projects/acme"}})
    'ci@acme.iam.gserviceaccount.com'
    >>> _created_service_account("storage.objects.get", {}) is None
    True
    """
    if not method.endswith("CreateServiceAccount"):
        return None
    email = text(dig(payload, "response", "email"))
    if email:
        return email
    request = payload.get("request")
    if not isinstance(request, Mapping):
        return None
    account = text(request.get("account_id") or request.get("accountId"))
    project = text(request.get("name"))
    if not account or not project or not project.startswith("projects/"):
        return None
    return f"{account}@{project.removeprefix('projects/')}.iam.gserviceaccount.com"


def _from_bigquery(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The AuditLog of a BigQuery row's ``protopayload_auditlog``: JSON-text members
    parsed back (text that is not JSON stays text, under its BigQuery name), the
    ``servicedata_v1_*`` column as ``serviceData``, a status code written as a
    string (BigQuery exports 64-bit integers as strings) as a number.

    Examples
    --------
    >>> p = _from_bigquery({"methodName": "SetIamPolicy", "status": {"code": "7"},
    ...     "metadataJson": '{"a": 1}', "servicedata_v1_iam": {"policyDelta": {}}})
    >>> p["status"]["code"], p["metadata"], "policyDelta" in p["serviceData"]
    (7, {'a': 1}, True)
    """
    out = dict(payload)
    for column, member in _BQ_JSON.items():
        raw = out.get(column)
        if isinstance(raw, str) and member not in out:
            try:
                out[member] = loads_json(raw)
            except ValueError:
                continue
            del out[column]
    for key in [k for k in out if k.startswith("servicedata_")]:
        if isinstance(out[key], Mapping) and "serviceData" not in out:
            out["serviceData"] = out.pop(key)
    status = out.get("status")
    if isinstance(status, Mapping):
        code = status.get("code")
        if isinstance(code, str) and re.fullmatch(r"-?[0-9]{1,10}", code.strip()):
            out["status"] = {**status, "code": int(code)}
    return out


def _policy_delta(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    for where in ("serviceData", "metadata"):
        delta = dig(payload, where, "policyDelta")
        if isinstance(delta, Mapping):
            return delta
    return {}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list of deltas; a delta list of another type (a number, a
    string, an object) holds none, and the change is an unnamed ``policy.update``."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _iam_policy_action(payload: Mapping[str, Any], meta: dict[str, Any]) -> str:
    """SetIamPolicy: role.grant/role.revoke from binding deltas, audit_log.* from audit configs.

    Audit config deltas that log less (a log type removed, a member exempted) are kept in
    ``metadata.audit_logging_reduced`` whatever else the call changes, so that a grant
    does not hide them; those that log more in ``metadata.audit_logging_added``.
    """
    delta = _policy_delta(payload)
    bindings = _mappings(delta.get("bindingDeltas"))
    audits = _mappings(delta.get("auditConfigDeltas"))
    reduced, added = _audit_config_changes(audits)
    meta["audit_logging_reduced"] = reduced or None
    meta["audit_logging_added"] = added or None
    if bindings:
        kinds = {b.get("action") for b in bindings}
        roles = [r for r in (text(b.get("role")) for b in bindings) if r]
        members = [m for m in (text(b.get("member")) for b in bindings) if m]
        meta["role"] = roles[0] if len(set(roles)) == 1 else None
        meta["roles"] = sorted(set(roles)) or None
        meta["_members"] = members
        if kinds == {"ADD"}:
            return "role.grant"
        if kinds == {"REMOVE"}:
            return "role.revoke"
    elif audits:
        if reduced and not added:
            return "audit_log.disable"
        if added and not reduced:
            return "audit_log.enable"
    return "policy.update"


def _audit_config_changes(audits: list[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The audit config deltas of a policy change that log less and that log more, each
    as ``LOG_TYPE of service`` (``DATA_READ of allServices``), with ``, exempting
    member`` for an exemption: a log type removed or a member exempted logs less, a log
    type added or an exemption removed logs more.

    >>> _audit_config_changes([
    ...     {"action": "REMOVE", "service": "allServices", "logType": "DATA_READ"},
    ...     {"action": "ADD", "service": "storage.googleapis.com", "logType": "DATA_READ",
    ...      "exemptedMember": "serviceAccount:x@p.iam.gserviceaccount.com"},
    ...     {"action": "ADD", "service": "allServices", "logType": "ADMIN_READ"}])
    ... # doctest: +NORMALIZE_WHITESPACE
    (['DATA_READ of allServices', 'DATA_READ of storage.googleapis.com, exempting
      serviceAccount:x@p.iam.gserviceaccount.com'], ['ADMIN_READ of allServices'])
    """
    reduced: list[str] = []
    added: list[str] = []
    for a in audits:
        kind = text(a.get("action"))
        kind = kind.upper() if kind else None
        what = f"{text(a.get('logType')) or 'all log types'} of {text(a.get('service')) or '?'}"
        exempted = text(a.get("exemptedMember"), limit=4096)
        if exempted:
            what = f"{what}, exempting {exempted}"
        if kind not in ("ADD", "REMOVE"):
            continue
        # a log type removed, or a member exempted from one, logs less
        logs_less = (kind == "REMOVE") != bool(exempted)
        (reduced if logs_less else added).append(what)
    return reduced, added


def _actor(
    payload: Mapping[str, Any],
    table: Mapping[str, Any],
    defaults: Mapping[str, Any],
    service: str | None,
    meta: dict[str, Any],
) -> dict[str, Any]:
    auth = payload.get("authenticationInfo")
    auth = auth if isinstance(auth, Mapping) else {}
    email = text(auth.get("principalEmail"))
    subject = text(auth.get("principalSubject"))
    delegation = auth.get("serviceAccountDelegationInfo")
    if isinstance(delegation, list):
        chain = [
            text(dig(d, "firstPartyPrincipal", "principalEmail"))
            or text(dig(d, "principalSubject"))
            for d in delegation
        ]
        meta["delegated_by"] = [c for c in chain if c] or None
    meta["service_account_key"] = text(auth.get("serviceAccountKeyName"), limit=4096)
    meta["principal_subject"] = subject
    if email is not None:
        if email in table["system_principals"]["emails"]:
            kind = "system"
        elif email.endswith(".gserviceaccount.com"):
            kind = "service"
        else:
            kind = "user"
        return {"id": email, "type": kind, "email": email}
    if subject is not None:
        kind = "service" if subject.startswith("serviceAccount:") else "user"
        return {"id": subject, "type": kind}
    if defaults.get("actor") == "system":
        return {"id": service or "system@google.com", "type": "system", "name": service}
    meta["anonymous"] = True
    return {"id": "allUsers", "type": "user", "name": "anonymous caller"}


def _outcome(
    payload: Mapping[str, Any],
    table: Mapping[str, Any],
    defaults: Mapping[str, Any],
    entry: Mapping[str, Any] | None,
) -> str:
    code = dig(payload, "status", "code")
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        return str(table["status_codes"].get(str(code), "failure"))
    if isinstance(code, str) and code not in ("", "0", "OK"):
        return "denied" if code in ("PERMISSION_DENIED", "UNAUTHENTICATED") else "failure"
    if defaults.get("outcome"):
        return str(defaults["outcome"])
    if entry is not None and entry.get("outcome"):
        return str(entry["outcome"])
    return "success"


register(GcpAuditFormat())
