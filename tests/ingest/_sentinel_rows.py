"""Records as Microsoft Sentinel's tables hold them, and those tables as analysts export
them (the portal's CSV, ``az monitor log-analytics query``'s JSON, the query API's
response), for the tests of :mod:`auditkit.ingest._sentinel`."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import orjson

#: the columns of AWSCloudTrail as the portal's "Export to CSV (all columns)" writes them
AWS_COLUMNS = [
    "TimeGenerated [UTC]", "AwsEventId", "EventVersion", "EventSource", "EventTypeName",
    "EventName", "UserIdentityType", "UserIdentityPrincipalid", "UserIdentityArn",
    "UserIdentityAccountId", "UserIdentityInvokedBy", "UserIdentityAccessKeyId",
    "UserIdentityUserName", "SessionMfaAuthenticated", "SessionCreationDate [UTC]",
    "SessionIssuerType", "SessionIssuerPrincipalId", "SessionIssuerArn",
    "SessionIssuerAccountId", "SessionIssuerUserName", "AWSRegion", "SourceIpAddress",
    "UserAgent", "ErrorCode", "ErrorMessage", "RequestParameters", "ResponseElements",
    "AdditionalEventData", "AwsRequestId", "AwsRequestId_", "Resources", "APIVersion",
    "ReadOnly", "RecipientAccountId", "ServiceEventDetails", "SharedEventId",
    "VpcEndpointId", "ManagementEvent", "TenantId", "SourceSystem", "OperationName",
    "Category", "EC2RoleDelivery", "TlsVersion", "CipherSuite", "ClientProvidedHostHeader",
    "IpProtocol", "SourcePort", "DestinationPort", "CidrIp", "UserIdentityUserId",
    "UserIdentityStoreArn", "Type",
]  # fmt: skip

WORKSPACE = "46bec743-35fa-4608-b7e2-2aa3c38a97c2"


def _get(obj: Any, *path: str) -> Any:
    for step in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(step)
    return obj


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def aws_row(r: dict[str, Any]) -> dict[str, Any]:
    """A CloudTrail record as a row of AWSCloudTrail (times as ISO text, booleans as
    booleans, JSON members as JSON text, absent values ``None``)."""
    ident = r.get("userIdentity") or {}
    ctx = ident.get("sessionContext") or {}
    issuer = ctx.get("sessionIssuer") or {}
    attrs = ctx.get("attributes") or {}
    tls = r.get("tlsDetails") or {}
    mfa = attrs.get("mfaAuthenticated")
    return {
        "TimeGenerated": r.get("eventTime"),
        "AwsEventId": r.get("eventID"),
        "EventVersion": r.get("eventVersion"),
        "EventSource": r.get("eventSource"),
        "EventTypeName": r.get("eventType"),
        "EventName": r.get("eventName"),
        "UserIdentityType": ident.get("type"),
        "UserIdentityPrincipalid": ident.get("principalId"),
        "UserIdentityArn": ident.get("arn"),
        "UserIdentityAccountId": ident.get("accountId"),
        "UserIdentityInvokedBy": ident.get("invokedBy"),
        "UserIdentityAccessKeyId": ident.get("accessKeyId"),
        "UserIdentityUserName": ident.get("userName"),
        "SessionMfaAuthenticated": None if mfa is None else str(mfa).lower() == "true",
        "SessionCreationDate": attrs.get("creationDate"),
        "SessionIssuerType": issuer.get("type"),
        "SessionIssuerPrincipalId": issuer.get("principalId"),
        "SessionIssuerArn": issuer.get("arn"),
        "SessionIssuerAccountId": issuer.get("accountId"),
        "SessionIssuerUserName": issuer.get("userName"),
        "AWSRegion": r.get("awsRegion"),
        "SourceIpAddress": r.get("sourceIPAddress"),
        "UserAgent": r.get("userAgent"),
        "ErrorCode": r.get("errorCode"),
        "ErrorMessage": r.get("errorMessage"),
        "RequestParameters": _json(r.get("requestParameters")),
        "ResponseElements": _json(r.get("responseElements")),
        "AdditionalEventData": _json(r.get("additionalEventData")),
        "AwsRequestId": r.get("requestID"),
        "AwsRequestId_": r.get("requestID"),
        "Resources": _json(r.get("resources")),
        "APIVersion": r.get("apiVersion"),
        "ReadOnly": r.get("readOnly"),
        "RecipientAccountId": r.get("recipientAccountId"),
        "ServiceEventDetails": _json(r.get("serviceEventDetails")),
        "SharedEventId": r.get("sharedEventID"),
        "VpcEndpointId": r.get("vpcEndpointId"),
        "ManagementEvent": r.get("managementEvent"),
        "TenantId": WORKSPACE,
        "SourceSystem": None,
        "OperationName": None,
        "Category": r.get("eventCategory"),
        "EC2RoleDelivery": ctx.get("ec2RoleDelivery"),
        "TlsVersion": tls.get("tlsVersion"),
        "CipherSuite": tls.get("cipherSuite"),
        "ClientProvidedHostHeader": tls.get("clientProvidedHostHeader"),
        "IpProtocol": None,
        "SourcePort": None,
        "DestinationPort": None,
        "CidrIp": None,
        "UserIdentityUserId": _get(ident, "onBehalfOf", "userId"),
        "UserIdentityStoreArn": _get(ident, "onBehalfOf", "identityStoreArn"),
        "Type": "AWSCloudTrail",
    }


def okta_row(event: dict[str, Any]) -> dict[str, Any]:
    """An Okta LogEvent as a row of Okta_CL: objects flattened into ``a_b`` columns with
    the Data Collector API's type suffixes, arrays as JSON text, nulls absent."""
    row: dict[str, Any] = {"TimeGenerated": event.get("published"), "TenantId": WORKSPACE}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}_{k}" if prefix else k, v)
            return
        if value is None:
            return
        if prefix == "published":
            row["published_t"] = value
        elif prefix == "uuid":
            row["uuid_g"] = value
        elif isinstance(value, bool):
            row[f"{prefix}_b"] = value
        elif isinstance(value, int | float):
            row[f"{prefix}_d"] = value
        elif isinstance(value, list):
            row[f"{prefix}_s"] = orjson.dumps(value).decode()
        else:
            row[f"{prefix}_s"] = value

    walk("", event)
    row["Type"] = "Okta_CL"
    return row


_TIMES = ("TimeGenerated", "SessionCreationDate", "published_t")


def _portal_time(value: str, us: bool) -> str:
    """A time as the portal shows it: en-GB ``21/04/2025, 09:45:54.000``, or en-US
    ``4/21/2025, 9:45:54.000 AM``."""
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    ms = f"{t.microsecond // 1000:03d}"
    if us:
        hour = t.hour % 12 or 12
        half = "AM" if t.hour < 12 else "PM"
        return f"{t.month}/{t.day}/{t.year}, {hour}:{t.minute:02d}:{t.second:02d}.{ms} {half}"
    return f"{t.day:02d}/{t.month:02d}/{t.year}, {t.hour:02d}:{t.minute:02d}:{t.second:02d}.{ms}"


def portal_csv(rows: list[dict[str, Any]], *, us: bool = False) -> bytes:
    """The portal's "Export to CSV": datetime columns headed ``[UTC]`` and shown in the
    browser's locale, booleans ``true``/``false``, empty cells for nulls."""
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"{c} [UTC]" if c in _TIMES else c for c in columns])
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            if v is None:
                cells.append("")
            elif c in _TIMES:
                cells.append(_portal_time(v, us))
            elif isinstance(v, bool):
                cells.append("true" if v else "false")
            else:
                cells.append(str(v))
        writer.writerow(cells)
    return out.getvalue().encode("utf-8-sig")


def az_json(rows: list[dict[str, Any]]) -> bytes:
    """``az monitor log-analytics query -o json``: every value as text (booleans
    ``True``/``False``), null columns left out, ``TableName`` in each row."""
    out = []
    for row in rows:
        item: dict[str, Any] = {}
        for k, v in row.items():
            if v is None:
                continue
            item[k] = str(v) if isinstance(v, bool) else v if isinstance(v, str) else str(v)
        item["TableName"] = "PrimaryResult"
        out.append(item)
    return orjson.dumps(out, option=orjson.OPT_INDENT_2)


def api_response(rows: list[dict[str, Any]]) -> bytes:
    """The query API's response: one table, its columns and rows of cells."""
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    kinds = {c: "datetime" if c in _TIMES else "string" for c in columns}
    table = {
        "name": "PrimaryResult",
        "columns": [{"name": c, "type": kinds[c]} for c in columns],
        "rows": [[row.get(c) for c in columns] for row in rows],
    }
    return orjson.dumps({"tables": [table]})
