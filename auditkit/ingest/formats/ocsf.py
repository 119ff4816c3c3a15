"""OCSF 1.x events (Open Cybersecurity Schema Framework), e.g. from Amazon Security Lake.

Account Change (3001), Authentication (3002), Authorize Session (3003),
Entity Management (3004), User Access Management (3005), Group Management
(3006) and API Activity (6003) are mapped onto the core actions; any other
class gets a name from its ``class_name`` and ``activity_name``.  Layouts:
NDJSON, a JSON array or one event, gzip or not.

auditkit's own OCSF export (``metadata.product.name`` ``auditkit``, with
``unmapped.auditkit``) is read back as the events it was made from: the
standard fields it filled, and what OCSF has no place for from
``unmapped.auditkit`` (see :mod:`auditkit.export.ocsf`).

The tenant is ``metadata.tenant_uid``, else ``cloud.account.uid``, else Security
Lake's ``accountid``, else ``--tenant``.  An ``api.response.error`` (CloudTrail's
``errorCode``) gets the CloudTrail reader's outcome (``AccessDenied`` is ``denied``),
and ``actor.invoked_by`` (an AWS service calling) is the actor when no user is.
``time`` is epoch milliseconds (``time_dt``, the datetime profile's RFC 3339 text, is
read when ``time`` is absent).  The mapping table is ``auditkit/ingest/mappings/ocsf.toml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

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
    load_table,
    looks_canonical,
    operation_action,
    resolve_tenant,
    source_time,
    text,
    words,
)
from auditkit.ingest._readers import csv_table
from auditkit.ingest._readers_extra import JsonRecordsFormat
from auditkit.ingest.formats.cloudtrail import _outcome as cloudtrail_outcome
from auditkit.ingest.formats.cloudtrail import aws_api_action
from auditkit.ingest.registry import register

__all__ = ["OcsfFormat"]


#: ``metadata.product`` of the events auditkit's OCSF export writes
_OWN_EXPORT: Final = re.compile(rb'"product"\s*:\s*\{\s*"name"\s*:\s*"auditkit"')


class OcsfFormat(JsonRecordsFormat):
    """OCSF 1.x events (``--format ocsf``).

    Examples
    --------
    >>> e = OcsfFormat().to_event({
    ...     "class_uid": 3002, "activity_id": 1, "status_id": 2, "time": 1717200000000,
    ...     "user": {"uid": "u-9", "name": "ann"}, "src_endpoint": {"ip": "198.51.100.1"},
    ...     "metadata": {"uid": "m-1", "tenant_uid": "acme", "version": "1.1.0",
    ...                  "product": {"name": "Okta", "vendor_name": "Okta"}}}, tenant=None)
    >>> e["action"], e["outcome"], e["actor"]["id"], e["occurred_at"]
    ('user.login', 'failure', 'u-9', '2024-06-01T00:00:00.000000Z')
    """

    name = "ocsf"
    description = (
        "OCSF 1.x events (Account Change 3001, Authentication 3002, API Activity 6003, "
        "... and any other class generically)"
    )

    def sniff(self, head: bytes, path: str) -> int:
        """Confidence that ``head`` starts a file of OCSF events (0..100)."""
        if looks_canonical(head):
            return 0
        if b'"class_uid"' not in head or csv_table(head):
            return 0
        if _OWN_EXPORT.search(head[:8192]):
            return 99  # auditkit's own export (its source records name their own fields)
        if b'"metadata"' in head or b'"activity_id"' in head or b'"type_uid"' in head:
            return 95
        return 50

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one OCSF event to an auditkit event mapping."""
        return _to_event(record, tenant)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 12:
        return int(value)
    return None


#: the metadata key, and its value, of an event whose ``time`` was read in another unit
#: than OCSF's milliseconds
TIME_UNIT = "occurred_at_unit"
TIME_UNIT_SECONDS = "seconds (OCSF time is milliseconds)"
_UNIT_TEXT: Final = {
    "s": TIME_UNIT_SECONDS,
    "us": "microseconds (OCSF time is milliseconds)",
    "ns": "nanoseconds (OCSF time is milliseconds)",
}
#: upper bounds of an epoch number in each unit: the units' years 1990 to 2200 do not
#: overlap (as milliseconds a number below 10**11 is before 1973, as seconds it is
#: before the year 5000); Prowler writes seconds, some producers micro- or nanoseconds
_UNIT_BELOW: Final = (("s", 1e11), ("ms", 1e14), ("us", 1e17))


def _unit(value: Any) -> str:
    """The unit an OCSF ``time`` is written in, by its size (``ms`` when it is no number).

    >>> _unit(1767603600.123), _unit("1767603600"), _unit(1767603600123)
    ('s', 's', 'ms')
    >>> _unit(1767603600123456), _unit(1767603600123456789)
    ('us', 'ns')
    >>> _unit(None), _unit(True), _unit(0), _unit("soon")
    ('ms', 'ms', 'ms', 'ms')
    """
    if isinstance(value, bool):
        return "ms"
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return "ms"
    if not isinstance(value, int | float) or not math.isfinite(value) or value == 0:
        return "ms"
    size = abs(value)
    return next((unit for unit, below in _UNIT_BELOW if size < below), "ns")


def _user_id(user: Any) -> str | None:
    return (
        text(dig(user, "uid"))
        or text(dig(user, "name"))
        or text(dig(user, "email_addr"))
        or text(dig(user, "account", "uid"))
    )


def _to_event(record: Any, tenant: str | None) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(record).__name__}")
    own = _own_export(record)
    if own is not None:
        return own
    table = load_table("ocsf")
    class_uid = _int(record.get("class_uid"))
    if class_uid is None:
        raise SchemaError(
            "expected an integer class_uid"
            if record.get("class_uid") is not None
            else "required field is missing",
            field="class_uid",
        )
    activity_id = _int(record.get("activity_id"))
    when = record.get("time")
    # `time` is milliseconds since the epoch (UTC by definition) and `time_dt` the same
    # instant as a date-time: data lakes write either without a zone
    unit = _unit(when)
    if when is None and record.get("time_dt") is not None:
        stamp = source_time(record.get("time_dt"), "time_dt", utc_defined=True)
    else:
        stamp = source_time(when, "time", utc_defined=True, epoch=unit)
    occurred_at = stamp.text
    meta_in = record.get("metadata")
    if meta_in is not None and not isinstance(meta_in, Mapping):
        raise SchemaError(f"expected an object, got {type(meta_in).__name__}", field="metadata")
    tenant_id = resolve_tenant(
        # Security Lake writes the account as cloud.account.uid and as top-level accountid
        dig(meta_in, "tenant_uid")
        or dig(record, "cloud", "account", "uid")
        or record.get("accountid"),
        tenant,
        field="metadata.tenant_uid",
        source="OCSF",
        hint=" (none of metadata.tenant_uid, cloud.account.uid, accountid is set)",
    )

    cls = table["classes"].get(str(class_uid))
    category_uid = _int(record.get("category_uid")) or class_uid // 1000
    default_category = (cls or {}).get("category") or table["category_uids"].get(
        str(category_uid), "user"
    )
    action = _action(record, cls, class_uid, activity_id)
    category = category_of(action, None, default_category)

    status_id = _int(record.get("status_id"))
    # in the Findings classes of OCSF 1.1 and later status_id is the finding's state
    # (New, In Progress, Suppressed, Resolved): the finding was reported, a success
    finding = category_uid == 2 and "state_id" not in record
    outcome = "success" if finding else table["status"].get(str(status_id), "success")
    # api.response.error is CloudTrail's errorCode (Security Lake): CloudTrail's rule
    # (denied, error or failure) unless the status says success
    error_code = text(dig(record, "api", "response", "error"), limit=4096)
    if error_code is not None and not finding and status_id != 1:
        outcome = cloudtrail_outcome({"errorCode": error_code})
    status_words = " ".join(
        t
        for t in (
            text(record.get("status_code"), limit=4096),
            text(record.get("status_detail"), limit=4096),
            text(record.get("status"), limit=4096),
        )
        if t
    ).lower()
    if _int(record.get("action_id")) == 2 or (
        outcome == "failure" and any(p in status_words for p in table["denied"]["patterns"])
    ):
        outcome = "denied"

    actor = _actor(record, table, class_uid, finding=finding)
    targets = _targets(record, actor["id"], class_uid, finding=finding)
    src = record.get("src_endpoint")
    loc = dig(src, "location")
    coords = dig(loc, "coordinates")
    lon, lat = (
        (coords[0], coords[1])
        if isinstance(coords, list) and len(coords) == 2
        else (dig(loc, "long"), dig(loc, "lat"))
    )
    product = dig(meta_in, "product")
    meta: dict[str, Any] = {
        "source_format": "ocsf",
        "source_action": text(record.get("type_name"), limit=4096)
        or f"{record.get('class_name') or class_uid}: {record.get('activity_name') or activity_id}",
        "source_outcome": text(record.get("status"))
        or (None if status_id is None else f"status_id={status_id}"),
        "ocsf_class_uid": class_uid,
        "ocsf_activity_id": activity_id,
        "ocsf_version": text(dig(meta_in, "version")),
        "status_code": text(record.get("status_code"), limit=4096),
        "status_detail": text(record.get("status_detail"), limit=4096),
        "error_code": error_code,
        "error_message": text(dig(record, "api", "response", "error_message"), limit=4096)
        or (
            text(dig(record, "api", "response", "message"), limit=4096)
            if error_code is not None
            else None
        ),
        "invoked_by": text(dig(record, "actor", "invoked_by")),
        "severity_id": _int(record.get("severity_id")),
        "role": text(dig(record, "role", "name")) or text(dig(record, "iam_role", "name")),
        "privileges": [p for p in record["privileges"] if isinstance(p, str)] or None
        if isinstance(record.get("privileges"), list)
        else None,
        "original": json_safe(record),
    }
    info = record.get("finding_info")
    if finding or isinstance(info, Mapping):
        meta.update(
            {
                "severity": text(record.get("severity")),
                "finding_title": text(dig(info, "title"), limit=4096),
                "finding_uid": text(dig(info, "uid"), limit=4096),
                "finding_types": [t for t in dig(info, "types") if isinstance(t, str)] or None
                if isinstance(dig(info, "types"), list)
                else None,
                "remediation": text(dig(record, "remediation", "desc"), limit=4096),
            }
        )
    if stamp.zone_assumed:
        meta[ZONE_ASSUMED] = ZONE_ASSUMED_TEXT
    if unit in _UNIT_TEXT:
        meta[TIME_UNIT] = _UNIT_TEXT[unit]
    return finish(
        tenant_id=tenant_id,
        occurred_at=occurred_at,
        action=action,
        category=category,
        outcome=outcome,
        actor=actor,
        targets=targets,
        source={
            "ip": dig(src, "ip"),
            "user_agent": dig(record, "http_request", "user_agent"),
            "geo": geo(country=dig(loc, "country"), city=dig(loc, "city"), lat=lat, lon=lon),
        },
        observer={
            "service": dig(product, "name") or dig(product, "vendor_name") or "ocsf",
            "version": dig(product, "version"),
            "region": dig(record, "cloud", "region"),
        },
        request_id=dig(record, "api", "request", "uid") or dig(record, "http_request", "uid"),
        session_id=dig(record, "actor", "session", "uid") or dig(record, "session", "uid"),
        description=record.get("message") or dig(info, "title"),
        event_id=text(dig(meta_in, "uid")),
        metadata=meta,
    )


def _own_export(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The canonical event of a record of auditkit's own OCSF export, else None."""
    ours = dig(record, "unmapped", "auditkit")
    if dig(record, "metadata", "product", "name") != "auditkit" or not isinstance(ours, Mapping):
        return None
    user = dig(record, "actor", "user") or {}
    actor = {"id": dig(user, "uid"), "name": dig(user, "name"), "email": dig(user, "email_addr"),
             **(ours.get("actor") or {})}  # fmt: skip
    src = record.get("src_endpoint") or {}
    loc = dig(src, "location") or {}
    geo = {"country": dig(loc, "country"), "city": dig(loc, "city"), "lat": dig(loc, "lat"),
           "lon": dig(loc, "long")}  # fmt: skip
    source = {"ip": dig(src, "ip"), "user_agent": dig(record, "http_request", "user_agent"),
              "geo": {k: v for k, v in geo.items() if v is not None} or None}  # fmt: skip
    event = {
        "event_id": dig(record, "metadata", "uid"),
        "tenant_id": dig(record, "metadata", "tenant_uid"),
        "seq": dig(record, "metadata", "sequence"),
        "occurred_at": ours.get("occurred_at"),
        "received_at": ours.get("received_at"),
        "action": ours.get("action"),
        "category": ours.get("category"),
        "outcome": ours.get("outcome"),
        "actor": {k: v for k, v in actor.items() if v is not None},
        "targets": ours.get("targets"),
        "source": {k: v for k, v in source.items() if v is not None} or None,
        "observer": ours.get("observer"),
        "request_id": dig(record, "metadata", "correlation_uid"),
        "session_id": dig(record, "actor", "session", "uid"),
        "description": record.get("message"),
        "changes": ours.get("changes"),
        "metadata": ours.get("metadata"),
    }
    return {k: v for k, v in event.items() if v is not None}


def _action(
    record: Mapping[str, Any],
    cls: Mapping[str, Any] | None,
    class_uid: int,
    activity_id: int | None,
) -> str:
    if class_uid == 6003:
        operation = text(dig(record, "api", "operation"))
        if operation is not None:
            service = text(dig(record, "api", "service", "name"))
            vendor = (text(dig(record, "metadata", "product", "vendor_name")) or "").lower()
            if (service or "").endswith(".amazonaws.com") or vendor in ("aws", "amazon"):
                return aws_api_action(service, operation, field="api.operation")[0]
            return operation_action(service, operation, field="api.operation")
    if cls is not None and activity_id is not None:
        mapped = cls["activities"].get(str(activity_id))
        if mapped is not None:
            return str(mapped)
    class_name = text(record.get("class_name")) or (cls or {}).get("name")
    noun = words(class_name or "")
    if noun[-1:] == ["activity"] and len(noun) > 1:
        noun = noun[:-1]
    activity = text(record.get("activity_name"))
    if not noun:
        noun = [f"class_{class_uid}"]
    if activity is None or not words(activity):
        activity = "other" if activity_id == 99 else f"activity_{activity_id}"
    return derive_action(noun, activity, field="activity_name")


def _actor(
    record: Mapping[str, Any], table: Mapping[str, Any], class_uid: int, *, finding: bool = False
) -> dict[str, Any]:
    """actor.user, else the actor's app or process, else the service that invoked the
    activity (``actor.invoked_by``, as Security Lake writes CloudTrail's ``invokedBy``),
    else the subject ``user``, else (outside the IAM classes and API Activity) the
    product that reported the event.  An ``AWSService`` actor.user with an
    ``invoked_by`` is that service, as in the CloudTrail reader.

    In Authentication (3002) the subject ``user`` (who signs in) comes first.  A
    finding (2xxx) is reported by its product: its ``actor``, if any, is whom the
    finding is about (a target).
    """
    raw = record.get("actor")
    if raw is not None and not isinstance(raw, Mapping):
        raise SchemaError(f"expected an object, got {type(raw).__name__}", field="actor")
    if finding:
        product = _product_actor(record)
        if product is None:
            raise SchemaError(
                "required field is missing (a finding's actor is the product that reported "
                "it: metadata.product.name or vendor_name)",
                field="metadata.product.name",
            )
        return product
    subject = record.get("user")
    subject = subject if isinstance(subject, Mapping) and _user_id(subject) else None
    user = dig(raw, "user")
    user = user if isinstance(user, Mapping) and _user_id(user) else None
    invoked_by = text(dig(raw, "invoked_by"))
    if user is not None and invoked_by is not None and text(user.get("type")) == "AWSService":
        user = None  # CloudTrail's AWSService identity: the service (invokedBy) acted
    if class_uid == 3002 and subject is not None:
        user = subject
    if user is None:
        app = text(dig(raw, "app_uid")) or text(dig(raw, "app_name"))
        if app is not None:
            return {"id": app, "type": "service", "name": text(dig(raw, "app_name"))}
        process = text(dig(raw, "process", "name"))
        if process is not None:
            return {"id": process, "type": "system", "name": process}
        if invoked_by is not None:
            return {"id": invoked_by, "type": "service", "name": invoked_by}
        user = subject
    if user is None:
        # who acted matters in the IAM classes (3xxx) and API Activity: no stand-in there
        product = None if class_uid // 1000 == 3 or class_uid == 6003 else _product_actor(record)
        if product is not None:
            return product
        raise SchemaError(
            "required field is missing (no actor.user, actor app, process or invoked_by, or user)",
            field="actor.user.uid",
        )
    kind = table["user_types"].get(str(_int(user.get("type_id"))), "user")
    if text(user.get("type")) in ("System", "Service"):
        kind = str(user["type"]).lower()
    email = text(user.get("email_addr"))
    return {
        "id": _user_id(user),
        "type": kind,
        "name": text(user.get("name")),
        "email": email if email and "@" in email else None,
    }


def _product_actor(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The product that reported the event (``metadata.product``) as a service actor."""
    product = dig(record, "metadata", "product")
    name = text(dig(product, "name")) or text(dig(product, "vendor_name"))
    if name is None:
        return None
    return {"id": name, "type": "service", "name": name}


def _targets(
    record: Mapping[str, Any], actor_id: str, class_uid: int, *, finding: bool = False
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    users = [record.get("user")]
    if finding:  # whom the finding is about
        users.append(dig(record, "actor", "user"))
    for user in users:
        if isinstance(user, Mapping):
            uid = _user_id(user)
            if uid is not None and not (class_uid == 3002 and uid == actor_id):
                out.append({"id": uid, "type": "user", "name": text(user.get("name"))})
    for key, kind in (("group", "group"), ("entity", None), ("policy", "policy")):
        obj = record.get(key)
        if isinstance(obj, Mapping):
            out.append(
                {
                    "id": text(obj.get("uid")) or text(obj.get("name")),
                    "type": text(obj.get("type")) or kind or key,
                    "name": text(obj.get("name")),
                }
            )
    for key in ("resources", "web_resources"):
        resources = record.get(key)
        if not isinstance(resources, list):
            continue
        for res in resources[:100]:
            if isinstance(res, Mapping):
                out.append(
                    {
                        "id": text(res.get("uid")) or text(res.get("name")),
                        "type": text(res.get("type")),
                        "name": text(res.get("name")),
                    }
                )
    return out


register(OcsfFormat())
