"""AWS CloudTrail: delivered log files, single events, EventBridge and CloudTrail Lake shapes.

Accepted layouts (gzip or not; large files stream in bounded memory):

- a delivered log file ``{"Records": [{...}, ...]}``;
- one event per file (pretty-printed) or per line (NDJSON), or a JSON array;
- an EventBridge event ``{"detail-type": "AWS API Call via CloudTrail", "detail": {...}}``;
- CloudWatch Logs, where a trail can deliver its events: ``aws logs
  filter-log-events`` / ``get-log-events`` output (``{"events": [{"message":
  "<event JSON>", ...}]}``) and the payloads of subscription filters (Firehose to
  S3: ``{"messageType": "DATA_MESSAGE", "logEvents": [...]}``), each log event's
  ``message`` being one CloudTrail event;
- ``aws cloudtrail lookup-events`` output (``{"Events": [{"EventId": ...,
  "CloudTrailEvent": "<event JSON>"}, ...]}``), each item's ``CloudTrailEvent``
  being one CloudTrail event as JSON text;
- CloudTrail Lake: integration events (``{"eventData": {...}, ...}``) and query
  result rows, whose ``eventTime`` has no zone (it is UTC) and whose nested
  fields may be JSON text, one a line or as ``aws cloudtrail get-query-results``
  gives them (``{"QueryResultRows": [[{"eventID": ...}, {"eventTime": ...}], ...]}``,
  each row a list of one-column objects; a row of the ``eventJson`` column alone
  holds the whole event as JSON text);
- Insights events as delivered, whose ``eventSource`` and ``eventName`` are in
  ``insightDetails``;
- CSV: Athena query results over a trail's table (lower-case columns, structs as
  Athena prints them) and CloudTrail Lake results downloaded as CSV (see
  :mod:`auditkit.ingest.formats._cloudtrail_csv`).

The mapping (actions, outcomes, identity types, target parameters) is data in
``auditkit/ingest/mappings/cloudtrail.toml``; ``docs/formats.md`` explains it.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final, NamedTuple

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import RawRecord
from auditkit.ingest._mapping import (
    MAX_ID,
    MAX_TEXT,
    ZONE_ASSUMED,
    ZONE_ASSUMED_TEXT,
    category_of,
    derive_action,
    dig,
    ip_or_none,
    json_safe,
    load_table,
    looks_canonical,
    require_text,
    resolve_tenant,
    source_time,
    table_entry,
    text,
    words,
)
from auditkit.ingest._readers import csv_delimiter, csv_table, iter_csv_as, loads_json, read_head
from auditkit.ingest._readers_extra import JsonRecordsFormat
from auditkit.ingest.formats._cloudtrail_csv import (
    csv_event,
    is_cloudtrail_header,
    named_event,
    struct_cell,
)
from auditkit.ingest.registry import register
from auditkit.schema import CATEGORIES

__all__ = ["CloudTrailFormat", "aws_api_action"]

_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?\Z")
_JSON_TEXT_FIELDS = (
    "userIdentity",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
    "serviceEventDetails",
)


class CloudTrailFormat(JsonRecordsFormat):
    """AWS CloudTrail records (``--format cloudtrail``).

    The tenant is the record's ``recipientAccountId`` (the account whose trail
    it is), else the EventBridge ``account``, else ``--tenant``.

    Examples
    --------
    >>> fmt = CloudTrailFormat()
    >>> fmt.sniff(b'{"Records": [{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com"', "x")
    95
    >>> e = fmt.to_event({
    ...     "eventVersion": "1.08", "eventTime": "2024-03-01T10:00:00Z",
    ...     "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
    ...     "userIdentity": {"type": "Root", "arn": "arn:aws:iam::123456789012:root",
    ...                      "accountId": "123456789012"},
    ...     "sourceIPAddress": "203.0.113.9", "responseElements": {"ConsoleLogin": "Failure"},
    ...     "recipientAccountId": "123456789012", "eventID": "e-1"}, tenant=None)
    >>> e["action"], e["outcome"], e["actor"]["id"], e["metadata"]["break_glass"]
    ('user.login', 'failure', 'arn:aws:iam::123456789012:root', True)
    """

    name = "cloudtrail"
    records_key = "Records"
    description = (
        'AWS CloudTrail: log files {"Records": [...]} (gzip or not), single events, '
        "EventBridge, CloudWatch Logs, CloudTrail Lake shapes and Athena CSV"
    )

    def sniff(self, head: bytes, path: str) -> int:
        """Confidence that ``head`` starts a CloudTrail file (0..100)."""
        if looks_canonical(head):
            return 0
        if _csv_columns(head) is not None:
            return 90
        if csv_table(head):
            return 0  # another tool's CSV, its cells holding CloudTrail events as JSON text
        text_ = head[:65536]
        if _CWL_HINT.search(text_) and b'\\"eventSource\\"' in text_:
            return 90  # CloudWatch Logs or lookup-events items holding CloudTrail events
        if b'"QueryResultRows"' in text_ and b'"eventSource"' in text_:
            return 90  # CloudTrail Lake get-query-results output
        if (
            b'"eventsource"' in text_
            and b'"eventname"' in text_
            and b'"eventtime"' in text_
            and b'"class_uid"' not in text_
        ):
            return 85  # field names in lower case, as Athena and Glue tables hold them
        if b'"eventSource"' not in text_ or b'"class_uid"' in text_:
            return 0
        if b'"Records"' in text_ and b'"eventSource"' in text_:
            return 95
        if (
            b'"eventSource"' in text_
            and b'"eventName"' in text_
            and (b'"eventTime"' in text_ or b'"eventData"' in text_)
        ):
            return 90
        return 0

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one CloudTrail record to an auditkit event mapping."""
        return _to_event(record, tenant)

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's records; a batch (CloudWatch Logs, lookup-events, Lake query
        results) gives one record per event it holds; a CSV file (Athena, Lake
        downloads) one per row."""
        if _csv_columns(read_head(path, 65536)) is not None:
            yield from iter_csv_as(path, csv_event)
            return
        for raw in super().records(path):
            batch = _batch(raw.value) if raw.error is None else None
            if batch is None:
                yield raw
                continue
            key, items = batch
            for i, item in enumerate(items):
                where = f"{key}[{i}]"
                yield dataclasses.replace(
                    raw, value=item, text=None,
                    location=f"{raw.location}.{where}" if raw.location else where,
                )  # fmt: skip

    def ndjson(self, path: str) -> bool:
        """One CloudTrail event per line (batches of events and CSV are read whole)."""
        head = read_head(path, 65536)
        return _csv_columns(head) is None and not _CWL_HINT.search(head) and super().ndjson(path)


def _csv_columns(head: bytes) -> list[str] | None:
    """The header of a CSV file of CloudTrail events (Athena's lower-case columns,
    or CloudTrail's own names), else ``None``.

    >>> _csv_columns(b'"eventversion","useridentity","eventtime","eventsource","eventname"\\n')
    ['eventversion', 'useridentity', 'eventtime', 'eventsource', 'eventname']
    >>> _csv_columns(b'{"eventTime": "x"}') is None
    True
    """
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"[", b""):
        return None
    first = stripped.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    try:
        header = next(csv.reader([first], delimiter=csv_delimiter(first)), [])
    except csv.Error:
        return None
    return header if is_cloudtrail_header(set(header)) else None


#: the keys of batches of events: CloudWatch Logs ``filter-log-events`` output and
#: subscription payloads, ``lookup-events`` output, Lake ``get-query-results`` output
_CWL_HINT: Final = re.compile(
    rb'"(logEvents|events|searchedLogStreams|logStreamName|Events|CloudTrailEvent'
    rb'|QueryResultRows)"\s*:'
)


def _batch(value: Any) -> tuple[str, list[Any]] | None:
    """The events of a batch, or ``None`` for anything else: the log events of a
    CloudWatch Logs batch (``filter-log-events`` output, a subscription payload),
    the items of ``aws cloudtrail lookup-events`` output, the rows of CloudTrail Lake
    ``get-query-results`` output (each row's one-column objects merged into one).
    A subscription's control message (its test message) holds no event: an empty
    batch.

    Examples
    --------
    >>> _batch({"messageType": "DATA_MESSAGE", "logEvents": [{"message": "{}"}]})
    ('logEvents', [{'message': '{}'}])
    >>> _batch({"messageType": "CONTROL_MESSAGE", "logEvents": [{"message": "x"}]})
    ('logEvents', [])
    >>> _batch({"Events": [{"EventId": "e1", "CloudTrailEvent": "{}"}], "NextToken": "t"})
    ('Events', [{'EventId': 'e1', 'CloudTrailEvent': '{}'}])
    >>> _batch({"QueryResultRows": [[{"eventID": "e1"}, {"eventName": "GetObject"}]]})
    ('QueryResultRows', [{'eventID': 'e1', 'eventName': 'GetObject'}])
    >>> _batch({"eventName": "ConsoleLogin"}) is None
    True
    """
    if not isinstance(value, Mapping):
        return None
    items = value.get("Events")
    if isinstance(items, list) and all(
        isinstance(i, Mapping) and "CloudTrailEvent" in i for i in items
    ):
        return "Events", items
    rows = value.get("QueryResultRows")
    if isinstance(rows, list) and all(_query_row(r) for r in rows):
        return "QueryResultRows", [_merged(r) for r in rows]
    for key in ("logEvents", "events"):
        items = value.get(key)
        if isinstance(items, list) and all(
            isinstance(i, Mapping) and "message" in i for i in items
        ):
            if value.get("messageType") == "CONTROL_MESSAGE":
                return key, []
            return key, items
    return None


def _query_row(row: Any) -> bool:
    """Whether ``row`` is a Lake query result row: a list of one-key objects."""
    return isinstance(row, list) and all(isinstance(c, Mapping) and len(c) == 1 for c in row)


def _merged(row: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One Lake query result row as one object (its columns in order)."""
    out: dict[str, Any] = {}
    for column in row:
        out.update(column)
    return out


def _inner_event(value: Any, field: str) -> Mapping[str, Any]:
    """The CloudTrail event that a wrapper holds in ``field``, as JSON text (a CloudWatch
    Logs ``message``, a lookup-events ``CloudTrailEvent``) or already decoded."""
    if isinstance(value, str):
        try:
            value = loads_json(value)
        except ValueError:
            raise SchemaError("expected a CloudTrail event as JSON text", field=field) from None
    elif not isinstance(value, Mapping):
        raise SchemaError(
            f"expected a CloudTrail event as JSON text, got {type(value).__name__}", field=field
        )
    if not isinstance(value, Mapping):
        raise SchemaError("expected a CloudTrail event (a JSON object)", field=field)
    return value


def _unwrap(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """Return (the CloudTrail event, envelope fallbacks) for plain, EventBridge, Lake,
    CloudWatch Logs and lookup-events shapes."""
    if "eventVersion" not in record and "eventName" not in record:
        for field in ("message", "CloudTrailEvent", "eventJson"):
            # a CloudWatch Logs event, a lookup-events item or a CloudTrail Lake row of
            # its eventJson column: the event as JSON text
            if record.get(field) is not None:
                return _unwrap(_inner_event(record[field], field))
    detail = record.get("detail")
    if (
        detail is not None
        and isinstance(detail, Mapping)
        and ("detail-type" in record or "source" in record)
    ):
        env = {
            "recipientAccountId": record.get("account"),
            "awsRegion": record.get("region"),
            "eventID": record.get("id"),
        }
        return dict(detail), env
    data = record.get("eventData")
    if data is not None and isinstance(data, Mapping):
        inner = dict(data)
        env = {
            k: record.get(k)
            for k in (
                "eventID",
                "recipientAccountId",
                "awsRegion",
                "eventTime",
                "eventVersion",
                "eventType",
            )
        }
        if "UID" in inner and "eventID" not in inner:
            inner["eventID"] = record.get("eventID") or inner["UID"]
        return inner, env
    return record, {}  # not copied: _decode_text_fields copies before changing it


def _decode_text_fields(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """CloudTrail Lake query results hold nested fields as text: JSON, or for a struct
    column (``userIdentity``, ``resources``) the struct as Trino prints it,
    ``{type=IAMUser, principalid=..., ...}``, as in the console's CSV download.  A
    decoded copy; text that is neither stays text (and is refused by its field)."""
    decoded: dict[str, Any] | None = None
    for key in _JSON_TEXT_FIELDS:
        value = event.get(key)
        if value is not None and isinstance(value, str) and value[:1] in ("{", "["):
            try:
                parsed = loads_json(value)
            except orjson.JSONDecodeError:
                if key not in ("userIdentity", "resources"):
                    continue
                try:
                    parsed = struct_cell(key, value)
                except ValueError:
                    continue
            if decoded is None:
                decoded = dict(event)
            decoded[key] = parsed
    return event if decoded is None else decoded


class _Plan(NamedTuple):
    """What an (eventSource, eventName, eventType, readOnly) combination maps to (cached)."""

    action: str
    category: str
    has_entry: bool  # an [actions] entry (or the Insights one) applies
    insight: bool
    grant: bool  # the entry's action grants permissions or roles
    actor_default: bool
    role_param: str | None
    specs: tuple[tuple[str, Any, str | None, Any], ...]  # (param, type, arn, principal)


#: The event types that change the mapping of an event name (the cache key keeps no other).
_PLAN_EVENT_TYPES: Final = frozenset(("AwsCloudTrailInsight", "AwsServiceEvent"))
_ACTOR_TYPES: Final = ("user", "service", "api_key", "system")


@functools.lru_cache(maxsize=8192)
def _plan(source: str | None, name: str, event_type: str | None, read_only: bool) -> _Plan:
    """Action, category and target parameters of an event; raises like :func:`_derived_action`."""
    table = load_table("cloudtrail")
    service = (source or "aws").split(".", 1)[0].lower()
    key = f"{service}:{name}"
    entry = table_entry(table["actions"], key)
    insight = event_type == "AwsCloudTrailInsight"
    if insight:
        entry = {"action": "anomaly.alert"}
    if entry is not None:
        action = entry["action"]
        default_category = "user"
    else:
        action = _derived_action(service, name, aws=_is_aws(source))
        default_category = "user" if read_only else table["service_categories"].get(service, "user")
        if event_type == "AwsServiceEvent":
            default_category = "system"
    category = category_of(action, entry, default_category)
    assert category in CATEGORIES, category
    specs = tuple(
        (param, info.get("type"), info.get("arn"), info.get("principal"))
        for param, info in _target_specs(key if entry is not None and not insight else None)
    )
    return _Plan(
        action=action,
        category=category,
        has_entry=entry is not None,
        insight=insight,
        grant=entry is not None and entry["action"] in ("permission.grant", "role.grant"),
        actor_default=bool(entry and entry.get("actor_default")),
        role_param=(entry.get("role_param") or None) if entry is not None else None,
        specs=specs,
    )


@functools.cache
def _tables() -> tuple[dict[str, Any], frozenset[str], tuple[str, ...]]:
    """(identity types, service host names, service host suffixes) of the mapping table."""
    table = load_table("cloudtrail")
    hosts = table["service_sources"]
    return table["identity_types"], frozenset(hosts["names"]), tuple(hosts["suffixes"])


def _to_event(record: Any, tenant: str | None) -> dict[str, Any]:
    # Each source value is read and checked once, and the event is built in the
    # form finish() would give it (empty parts left out), ready for
    # normalize_event's fast path.  The checks that raise run in the order of the
    # fields' documentation: eventName, eventTime, tenant, identity, action.
    if type(record) is not dict and not isinstance(record, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(record).__name__}")
    if "eventsource" in record and "eventSource" not in record:
        record = named_event(record)  # a data lake's lower-case field names
    ev, env = _unwrap(record)
    ev = _decode_text_fields(ev)
    get = ev.get

    name_field, source_value = "eventName", get("eventSource")
    if get("eventName") is None and get("eventType") == "AwsCloudTrailInsight":
        # an Insights event names the API it is about in insightDetails only
        details = get("insightDetails")
        if isinstance(details, Mapping):
            name_field = "insightDetails.eventName"
            ev = {**ev, "eventName": details.get("eventName")}
            get = ev.get
            if source_value is None:
                source_value = details.get("eventSource")
    name = require_text(get("eventName"), name_field)
    source = text(source_value)
    when = get("eventTime")
    # CloudTrail's eventTime is UTC by definition: data lakes write it without a zone
    stamp = source_time(
        when if when is not None else env.get("eventTime"), "eventTime", utc_defined=True
    )
    occurred_at = stamp.text
    tenant_id = resolve_tenant(
        get("recipientAccountId") or env.get("recipientAccountId"),
        tenant,
        field="recipientAccountId",
        source="CloudTrail",
    )
    event_type = text(get("eventType"))
    source_ip_text = get("sourceIPAddress")
    ip = ip_or_none(source_ip_text)
    by_service = ip is None and _is_service_host(source_ip_text)
    who = _identity(ev, tenant_id, event_type, source, by_service)
    read_only = get("readOnly")
    plan = _plan(
        source,
        name,
        event_type if event_type in _PLAN_EVENT_TYPES else None,
        read_only is True,
    )
    if plan.insight:
        actor: dict[str, Any] = {
            "id": source or "cloudtrail.amazonaws.com",
            "type": "system",
            "name": "CloudTrail Insights",
        }
        actor_name: str | None = "CloudTrail Insights"
    else:
        actor, actor_name = who.actor, who.name
    params = get("requestParameters")
    params = params if isinstance(params, dict) else None
    targets, self_grant = _targets(params, get("resources"), plan, actor["id"], actor_name, who)
    outcome = _outcome(ev)

    # metadata in the order of its documentation, values that are None left out
    meta: dict[str, Any] = {"source_format": "cloudtrail", "source_action": name}
    if source is not None:
        meta["source_service"] = source
    if who.root:
        meta["break_glass"] = True
    if self_grant:
        meta["self_grant"] = True
    plain = isinstance(ev, dict)  # dig() reads parsed JSON (dicts) only
    if plan.role_param and plain and params is not None:
        role = text(params.get(plan.role_param))
        if role is not None:
            meta["role"] = role
    raw_ui = get("userIdentity") if plain else None
    ui_dict = isinstance(raw_ui, dict)
    extra = get("additionalEventData") if plain else None
    if who.account is not None:
        meta["aws_account_id"] = who.account
    if who.kind is not None:
        meta["aws_identity_type"] = who.kind
    if event_type is not None:
        meta["aws_event_type"] = event_type
    if ui_dict and who.access_key is not None:
        meta["access_key_id"] = who.access_key
    if ui_dict and who.invoked_by is not None:
        meta["invoked_by"] = who.invoked_by
    error_code = text(get("errorCode"))
    if error_code is not None:
        meta["error_code"] = error_code
    error_message = text(get("errorMessage"), limit=4096)
    if error_message is not None:
        meta["error_message"] = error_message
    if isinstance(read_only, bool):
        meta["read_only"] = read_only
    mfa_used = text(extra.get("MFAUsed")) if isinstance(extra, dict) else None
    if mfa_used is not None:
        meta["mfa_used"] = mfa_used
    source_host = None if ip is not None else text(source_ip_text)
    if source_host is not None:
        meta["source_host"] = source_host
    if stamp.zone_assumed:
        meta[ZONE_ASSUMED] = ZONE_ASSUMED_TEXT
    meta["original"] = json_safe(record)

    event: dict[str, Any] = {
        "tenant_id": tenant_id,
        "occurred_at": occurred_at,
        "action": plan.action,
        "category": plan.category,
        "outcome": outcome,
        "actor": actor,
    }
    event_id = text(get("eventID")) or text(env.get("eventID"))
    if event_id is not None:
        event["event_id"] = event_id
    if targets:
        event["targets"] = targets
    user_agent = text(get("userAgent"), limit=MAX_TEXT)
    if ip is not None or user_agent is not None:
        event["source"] = {
            k: v for k, v in (("ip", ip), ("user_agent", user_agent)) if v is not None
        }
    observer = {"service": source or "cloudtrail"}
    version = text(get("eventVersion"))
    if version is not None:
        observer["version"] = version
    region = text(get("awsRegion") or env.get("awsRegion"))
    if region is not None:
        observer["region"] = region
    event["observer"] = observer
    request_id = text(get("requestID") or get("requestId"))
    if request_id is not None:
        event["request_id"] = request_id
    if who.session is not None:
        event["session_id"] = who.session
    event["metadata"] = meta
    return event


def _is_service_host(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    _, names, suffixes = _tables()
    return value in names or value.lower().endswith(suffixes)


def aws_api_action(
    source: str | None, name: str, *, field: str = "eventName"
) -> tuple[str, dict[str, Any] | None]:
    """The auditkit action of an AWS API call, and its mapping-table entry if it has one.

    Used by other formats that carry AWS calls (OCSF API Activity from Security Lake).

    Examples
    --------
    >>> aws_api_action("iam.amazonaws.com", "CreateAccessKey")[0]
    'api_key.create'
    >>> aws_api_action("s3.amazonaws.com", "GetObject")
    ('s3_object.get', None)
    """
    service = (source or "aws").split(".", 1)[0].lower()
    entry = table_entry(load_table("cloudtrail")["actions"], f"{service}:{name}")
    if entry is not None:
        return entry["action"], entry
    return _derived_action(service, name, aws=_is_aws(source), field=field), None


def _is_aws(source: str | None) -> bool:
    return source is None or source.lower().endswith((".amazonaws.com", ".amazonaws.com.cn"))


@functools.lru_cache(maxsize=8192)
def _derived_action(service: str, name: str, *, aws: bool, field: str = "eventName") -> str:
    """``s3`` + ``GetObject`` -> ``s3_object.get``; API-version suffixes are dropped.

    AWS API names are verb first; other sources (CloudTrail Lake integrations)
    keep their whole event name as the verb: ``okta`` + ``UserLoggedIn`` ->
    ``okta.user_logged_in``.
    """
    if not aws:
        return derive_action([service], "_".join(words(name)), field=field)
    base = _VERSION_SUFFIX.sub("", name) or name  # ListFunctions20150331 -> ListFunctions
    parts = words(base)
    verb, rest = (parts[0], parts[1:]) if parts else ("", [])
    return derive_action([service, *rest], verb, field=field)


class _Identity(NamedTuple):
    """The actor (in its final form) and facts about the identity that made the call."""

    actor: dict[str, Any]
    name: str | None  # the actor's name before cleaning (targets default to it)
    kind: str | None  # userIdentity.type
    account: str | None  # userIdentity.accountId
    owner: str  # the account owning named resources: accountId, else the tenant
    partition: str
    user_name: str | None
    role_name: str | None
    root: bool
    access_key: str | None
    invoked_by: str | None
    session: str | None


def _identity(
    ev: Mapping[str, Any],
    tenant_id: str,
    event_type: str | None,
    source: str | None,
    by_service: bool,
) -> _Identity:
    """The actor and facts about the identity (type, account, root, session, partition)."""
    ui = ev.get("userIdentity")
    if ui is not None and type(ui) is not dict and not isinstance(ui, Mapping):
        raise SchemaError(f"expected an object, got {type(ui).__name__}", field="userIdentity")
    ui = ui or {}
    uget = ui.get
    kind = text(uget("type"))
    arn = text(uget("arn"))
    account = text(uget("accountId"))
    owner = account or tenant_id
    partition = arn.split(":", 2)[1] if arn and arn.count(":") >= 2 else "aws"
    user_name = text(uget("userName"))
    principal_id = text(uget("principalId"))
    invoked_raw = uget("invokedBy")
    invoked_by = text(invoked_raw)
    name: str | None = user_name
    role_name: str | None = None
    root = False
    actor_type = _tables()[0].get(kind or "", "user")
    actor_id: str | None

    if kind == "Root":
        root = True
        actor_id = arn or f"arn:{partition}:iam::{owner}:root"
        name = "root"
    elif kind == "IAMUser":
        # a failed sign-in names the user without its ARN: build the ARN so that
        # failures and successes of one user share an actor id
        known = user_name is not None and user_name != "HIDDEN_DUE_TO_SECURITY_REASONS"
        actor_id = arn or (
            f"arn:{partition}:iam::{owner}:user/{user_name}" if known else principal_id
        )
    elif kind in ("AssumedRole", "FederatedUser"):
        actor_id = arn or principal_id
        if arn and "/" in arn:
            name = arn.rsplit("/", 1)[1]
        issuer = dig(ui, "sessionContext", "sessionIssuer")
        role = text(dig(issuer, "userName"))
        if kind == "AssumedRole" and role:
            role_name = role
            if "/aws-service-role/" in (text(dig(issuer, "arn")) or ""):
                actor_type = "service"
    elif kind == "AWSService":
        actor_id = invoked_by or principal_id
        name = actor_id
    elif kind == "IdentityCenterUser":
        actor_id = text(dig(ui, "onBehalfOf", "userId")) or principal_id
    else:
        actor_id = arn or principal_id or user_name
    if actor_id is None:
        actor_id = principal_id or user_name or invoked_by or text(dig(ui, "onBehalfOf", "userId"))
    if actor_id is None:
        if event_type in ("AwsServiceEvent", "AwsCloudTrailInsight"):
            actor_id, actor_type = source or "aws", "service"
        elif not ui:
            raise SchemaError("required field is missing (who made the call)", field="userIdentity")
        else:
            raise SchemaError(
                "expected an identity with arn, principalId, userName or invokedBy",
                field="userIdentity",
            )
    if len(actor_id) > MAX_ID:
        raise SchemaError("identity too long to be an actor id", field="userIdentity.arn")
    if invoked_raw is not None or by_service:
        actor_type = "service"
    access_key = text(uget("accessKeyId"))
    # temporary credentials identify the session
    session = access_key if access_key and access_key.startswith("ASIA") else None

    actor: dict[str, Any] = {"id": actor_id}
    if actor_type in _ACTOR_TYPES:
        actor["type"] = actor_type
    shown = text(name)
    if shown is not None:
        actor["name"] = shown
    if name and "@" in name:
        if shown is not None:
            actor["email"] = shown
    elif user_name and "@" in user_name:
        actor["email"] = user_name
    if role_name is not None:
        actor["roles"] = [role_name]
    return _Identity(
        actor,
        name,
        kind,
        account,
        owner,
        partition,
        user_name,
        role_name,
        root,
        access_key,
        invoked_by,
        session,
    )


@functools.lru_cache(maxsize=2048)
def _target_specs(key: str | None) -> tuple[tuple[str, dict[str, Any]], ...]:
    """(requestParameters key, target info) pairs of an [actions] entry, generic ones after."""
    table = load_table("cloudtrail")
    entry = table_entry(table["actions"], key) if key else None
    specs: list[Any] = list(entry.get("targets", [])) if entry else []
    named = {s["param"] if isinstance(s, dict) else s for s in specs}
    specs += [p for p in table["generic"]["target_parameters"] if p not in named]
    out = []
    for spec in specs:
        param = spec["param"] if isinstance(spec, dict) else spec
        info = dict(table["parameters"].get(param, {}))
        if isinstance(spec, dict):
            info.update(spec)
        out.append((param, info))
    return tuple(out)


def _targets(
    params: dict[str, Any] | None,
    resources: Any,
    plan: _Plan,
    actor_id: str,
    actor_name: str | None,
    who: _Identity,
) -> tuple[list[dict[str, Any]], bool]:
    """The targets, in their final form (de-duplicated, empty parts left out), and self-grant."""
    found: list[tuple[Any, Any, Any]] = []  # (id, type, name)
    self_grant = False
    if params:
        first = True
        for param, ttype, arn, principal_kind in [s for s in plan.specs if s[0] in params]:
            value = text(params[param])
            if value is None:
                continue
            principal, first = first and plan.has_entry, False
            if principal and (
                (principal_kind == "user" and who.kind == "IAMUser" and value == who.user_name)
                or (
                    principal_kind == "role"
                    and who.kind == "AssumedRole"
                    and value == who.role_name
                )
            ):
                self_grant = plan.grant
                found.append((actor_id, ttype, value))
                continue
            tid = value
            if arn is not None and not value.startswith("arn:"):
                tid = arn.format(partition=who.partition, account=who.owner, value=value)
            found.append((tid, ttype, value))
    if plan.actor_default and not found:
        found.append(
            (actor_id, "AWS::IAM::User" if who.kind in ("IAMUser", "Root") else None, actor_name)
        )
    if resources is not None and isinstance(resources, list):
        for res in resources[:100]:
            if type(res) is dict or isinstance(res, Mapping):
                rid = text(res.get("ARN")) or text(res.get("arn"))
                if rid is not None:
                    found.append((rid, res.get("type"), None))
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    for raw_id, raw_type, raw_name in found:
        clean_id = text(raw_id)
        if clean_id is None:
            continue
        ttype = text(raw_type, limit=MAX_TEXT)
        if (clean_id, ttype) in seen:
            continue
        seen.add((clean_id, ttype))
        target = {"id": clean_id}
        if ttype is not None:
            target["type"] = ttype
        tname = text(raw_name, limit=MAX_TEXT)
        if tname is not None:
            target["name"] = tname
        out.append(target)
    return out, self_grant


@functools.cache
def _outcome_tables() -> tuple[
    frozenset[str], tuple[str, ...], frozenset[str], tuple[str, ...], tuple[Any, ...]
]:
    table = load_table("cloudtrail")
    errors = table["errors"]
    return (
        frozenset(errors["denied"]),
        tuple(errors["denied_patterns"]),
        frozenset(errors["error"]),
        tuple(errors["error_patterns"]),
        tuple(table["response_outcomes"].items()),
    )


def _outcome(ev: Mapping[str, Any]) -> str:
    denied, denied_patterns, error, error_patterns, responses = _outcome_tables()
    code = ev.get("errorCode")
    if code is not None and code != "":
        code_text = str(code)
        low = code_text.lower()
        if code_text in denied or any(p in low for p in denied_patterns):
            return "denied"
        if code_text in error or any(p in low for p in error_patterns):
            return "error"
        return "failure"
    response = ev.get("responseElements")
    if response is not None and isinstance(response, Mapping):
        for key, values in responses:
            result = response.get(key)
            if isinstance(result, str) and result in values:
                return str(values[result])
    return "success"


register(CloudTrailFormat())
