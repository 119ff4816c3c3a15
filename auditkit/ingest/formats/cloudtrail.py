"""AWS CloudTrail: delivered log files, single events, EventBridge and CloudTrail Lake shapes.

Accepted layouts (gzip or not; large files stream in bounded memory):

- a delivered log file ``{"Records": [{...}, ...]}``;
- one event per file (pretty-printed) or per line (NDJSON), or a JSON array;
- an EventBridge event ``{"detail-type": "AWS API Call via CloudTrail", "detail": {...}}``;
- CloudTrail Lake: integration events (``{"eventData": {...}, ...}``) and query
  result rows, whose ``eventTime`` has no zone (it is UTC) and whose nested
  fields may be JSON text.

The mapping (actions, outcomes, identity types, target parameters) is data in
``auditkit/ingest/mappings/cloudtrail.toml``; ``docs/formats.md`` explains it.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import RawRecord
from auditkit.ingest._mapping import (
    category_of,
    derive_action,
    dig,
    finish,
    ip_or_none,
    json_safe,
    load_table,
    looks_canonical,
    require_text,
    resolve_tenant,
    table_entry,
    text,
    timestamp,
    words,
)
from auditkit.ingest._readers_extra import iter_json_auto
from auditkit.ingest.registry import register

__all__ = ["CloudTrailFormat", "aws_api_action"]

_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?$")
_JSON_TEXT_FIELDS = (
    "userIdentity",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
    "serviceEventDetails",
)


class CloudTrailFormat:
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
    description = (
        'AWS CloudTrail: log files {"Records": [...]} (gzip or not), single events, '
        "EventBridge and CloudTrail Lake shapes"
    )

    def sniff(self, head: bytes, path: str) -> int:
        """Confidence that ``head`` starts a CloudTrail file (0..100)."""
        if looks_canonical(head):
            return 0
        text_ = head[:65536]
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

    def records(self, path: str) -> Iterator[RawRecord]:
        """Stream the file's records (``Records`` array, JSON array, NDJSON or one event)."""
        return iter_json_auto(path, key="Records")

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one CloudTrail record to an auditkit event mapping."""
        return _to_event(record, tenant)


def _unwrap(record: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """Return (the CloudTrail event, envelope fallbacks) for plain, EventBridge and Lake shapes."""
    detail = record.get("detail")
    if isinstance(detail, Mapping) and ("detail-type" in record or "source" in record):
        env = {
            "recipientAccountId": record.get("account"),
            "awsRegion": record.get("region"),
            "eventID": record.get("id"),
        }
        return dict(detail), env
    data = record.get("eventData")
    if isinstance(data, Mapping):
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
    """CloudTrail Lake query results hold nested fields as JSON text: a decoded copy."""
    decoded: dict[str, Any] | None = None
    for key in _JSON_TEXT_FIELDS:
        value = event.get(key)
        if isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(orjson.JSONDecodeError):
                if decoded is None:
                    decoded = dict(event)
                decoded[key] = orjson.loads(value)
    return event if decoded is None else decoded


def _to_event(record: Any, tenant: str | None) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(record).__name__}")
    table = load_table("cloudtrail")
    ev, env = _unwrap(record)
    ev = _decode_text_fields(ev)

    name = require_text(ev.get("eventName"), "eventName")
    source = text(ev.get("eventSource"))
    service = (source or "aws").split(".", 1)[0].lower()
    when = ev.get("eventTime") if ev.get("eventTime") is not None else env.get("eventTime")
    occurred_at = timestamp(when, "eventTime", naive_utc=True)
    tenant_id = resolve_tenant(
        ev.get("recipientAccountId") or env.get("recipientAccountId"),
        tenant,
        field="recipientAccountId",
        source="CloudTrail",
    )
    event_type = text(ev.get("eventType"))
    source_ip_text = ev.get("sourceIPAddress")
    ip = ip_or_none(source_ip_text)
    by_service = ip is None and _is_service_host(source_ip_text, table)

    actor, facts = _actor(ev, table, tenant_id, event_type, source, by_service)
    meta: dict[str, Any] = {
        "source_format": "cloudtrail",
        "source_action": name,
        "source_service": source,
    }

    key = f"{service}:{name}"
    entry = table_entry(table["actions"], key)
    if event_type == "AwsCloudTrailInsight":
        entry = {"action": "anomaly.alert"}
        actor = {
            "id": source or "cloudtrail.amazonaws.com",
            "type": "system",
            "name": "CloudTrail Insights",
        }
    if entry is not None:
        action = entry["action"]
        default_category = "user"
    else:
        action = _derived_action(service, name, aws=_is_aws(source))
        default_category = (
            "user"
            if ev.get("readOnly") is True
            else table["service_categories"].get(service, "user")
        )
        if event_type == "AwsServiceEvent":
            default_category = "system"
    category = category_of(action, entry, default_category)

    listed = entry is not None and event_type != "AwsCloudTrailInsight"
    targets, self_grant = _targets(
        ev, key if listed else None, entry, table, actor, facts, tenant_id
    )
    outcome = _outcome(ev, table)

    if facts.get("root"):
        meta["break_glass"] = True
    if self_grant:
        meta["self_grant"] = True
    if entry is not None and entry.get("role_param"):
        meta["role"] = text(dig(ev, "requestParameters", entry["role_param"]))
    meta.update(
        {
            "aws_account_id": facts.get("account"),
            "aws_identity_type": facts.get("type"),
            "aws_event_type": event_type,
            "access_key_id": text(dig(ev, "userIdentity", "accessKeyId")),
            "invoked_by": text(dig(ev, "userIdentity", "invokedBy")),
            "error_code": text(ev.get("errorCode")),
            "error_message": text(ev.get("errorMessage"), limit=4096),
            "read_only": ev.get("readOnly") if isinstance(ev.get("readOnly"), bool) else None,
            "mfa_used": text(dig(ev, "additionalEventData", "MFAUsed")),
            "source_host": None if ip is not None else text(source_ip_text),
            "original": json_safe(record),
        }
    )
    session = facts.get("session")
    return finish(
        tenant_id=tenant_id,
        occurred_at=occurred_at,
        action=action,
        category=category,
        outcome=outcome,
        actor=actor,
        targets=targets,
        source={"ip": ip, "user_agent": ev.get("userAgent")},
        observer={
            "service": source or "cloudtrail",
            "region": ev.get("awsRegion") or env.get("awsRegion"),
            "version": ev.get("eventVersion"),
        },
        request_id=ev.get("requestID") or ev.get("requestId"),
        session_id=session,
        event_id=text(ev.get("eventID")) or text(env.get("eventID")),
        metadata=meta,
    )


def _is_service_host(value: Any, table: Mapping[str, Any]) -> bool:
    if not isinstance(value, str):
        return False
    hosts = table["service_sources"]
    return value in hosts["names"] or value.lower().endswith(tuple(hosts["suffixes"]))


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


def _actor(
    ev: Mapping[str, Any],
    table: Mapping[str, Any],
    tenant_id: str,
    event_type: str | None,
    source: str | None,
    by_service: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The actor and facts about the identity (type, account, root, session, partition)."""
    ui = ev.get("userIdentity")
    if ui is not None and not isinstance(ui, Mapping):
        raise SchemaError(f"expected an object, got {type(ui).__name__}", field="userIdentity")
    ui = ui or {}
    kind = text(ui.get("type"))
    arn = text(ui.get("arn"))
    account = text(ui.get("accountId")) or tenant_id
    partition = arn.split(":", 2)[1] if arn and arn.count(":") >= 2 else "aws"
    issuer = dig(ui, "sessionContext", "sessionIssuer")
    user_name = text(ui.get("userName"))
    facts: dict[str, Any] = {
        "type": kind,
        "account": text(ui.get("accountId")),
        "partition": partition,
        "user_name": user_name,
        "arn": arn,
    }
    name: str | None = user_name
    roles: list[str] = []
    actor_type = table["identity_types"].get(kind or "", "user")
    actor_id: str | None

    if kind == "Root":
        facts["root"] = True
        actor_id = arn or f"arn:{partition}:iam::{account}:root"
        name = "root"
    elif kind == "IAMUser":
        # a failed sign-in names the user without its ARN: build the ARN so that
        # failures and successes of one user share an actor id
        known = user_name is not None and user_name != "HIDDEN_DUE_TO_SECURITY_REASONS"
        actor_id = arn or (
            f"arn:{partition}:iam::{account}:user/{user_name}"
            if known
            else text(ui.get("principalId"))
        )
    elif kind in ("AssumedRole", "FederatedUser"):
        actor_id = arn or text(ui.get("principalId"))
        if arn and "/" in arn:
            name = arn.rsplit("/", 1)[1]
        role = text(dig(issuer, "userName"))
        if kind == "AssumedRole" and role:
            roles.append(role)
            facts["role_arn"] = text(dig(issuer, "arn"))
            facts["role_name"] = role
            if "/aws-service-role/" in (text(dig(issuer, "arn")) or ""):
                actor_type = "service"
    elif kind == "AWSService":
        actor_id = text(ui.get("invokedBy")) or text(ui.get("principalId"))
        name = actor_id
    elif kind == "IdentityCenterUser":
        actor_id = text(dig(ui, "onBehalfOf", "userId")) or text(ui.get("principalId"))
    else:
        actor_id = arn or text(ui.get("principalId")) or user_name
    if actor_id is None:
        actor_id = (
            text(ui.get("principalId"))
            or user_name
            or text(ui.get("invokedBy"))
            or text(dig(ui, "onBehalfOf", "userId"))
        )
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
    if len(actor_id) > 512:
        raise SchemaError("identity too long to be an actor id", field="userIdentity.arn")
    if ui.get("invokedBy") is not None or by_service:
        actor_type = "service"
    access_key = text(ui.get("accessKeyId"))
    if access_key and access_key.startswith("ASIA"):
        facts["session"] = access_key  # temporary credentials identify the session
    email = next((v for v in (name, user_name) if v and "@" in v), None)
    actor = {"id": actor_id, "type": actor_type, "name": name, "email": email, "roles": roles}
    return actor, facts


def _principal_matches(param_kind: str | None, value: str, facts: Mapping[str, Any]) -> bool:
    if param_kind == "user":
        return facts.get("type") == "IAMUser" and value == facts.get("user_name")
    if param_kind == "role":
        return facts.get("type") == "AssumedRole" and value == facts.get("role_name")
    return False


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
    ev: Mapping[str, Any],
    key: str | None,
    entry: Mapping[str, Any] | None,
    table: Mapping[str, Any],
    actor: Mapping[str, Any],
    facts: Mapping[str, Any],
    tenant_id: str,
) -> tuple[list[dict[str, Any]], bool]:
    params = ev.get("requestParameters")
    params = params if isinstance(params, dict) else {}
    account = facts.get("account") or tenant_id
    out: list[dict[str, Any]] = []
    self_grant = False
    first = True
    for param, info in _target_specs(key) if params else ():
        value = text(params.get(param))
        if value is None:
            continue
        principal, first = first and entry is not None, False
        if principal and _principal_matches(info.get("principal"), value, facts):
            self_grant = entry is not None and entry["action"] in ("permission.grant", "role.grant")
            out.append({"id": actor["id"], "type": info.get("type"), "name": value})
            continue
        tid = value
        if "arn" in info and not value.startswith("arn:"):
            tid = info["arn"].format(
                partition=facts.get("partition", "aws"), account=account, value=value
            )
        out.append({"id": tid, "type": info.get("type"), "name": value})
    if entry and entry.get("actor_default") and not out:
        out.append(
            {
                "id": actor["id"],
                "type": "AWS::IAM::User" if facts.get("type") in ("IAMUser", "Root") else None,
                "name": actor.get("name"),
            }
        )
    resources = ev.get("resources")
    if isinstance(resources, list):
        for res in resources[:100]:
            if isinstance(res, Mapping):
                rid = text(res.get("ARN")) or text(res.get("arn"))
                if rid is not None:
                    out.append({"id": rid, "type": res.get("type")})
    return out, self_grant


def _outcome(ev: Mapping[str, Any], table: Mapping[str, Any]) -> str:
    code = ev.get("errorCode")
    if code is not None and code != "":
        code_text = str(code)
        errors = table["errors"]
        low = code_text.lower()
        if code_text in errors["denied"] or any(p in low for p in errors["denied_patterns"]):
            return "denied"
        if code_text in errors["error"] or any(p in low for p in errors["error_patterns"]):
            return "error"
        return "failure"
    response = ev.get("responseElements")
    if isinstance(response, Mapping):
        for key, values in table["response_outcomes"].items():
            result = response.get(key)
            if isinstance(result, str) and result in values:
                return str(values[result])
    return "success"


register(CloudTrailFormat())
