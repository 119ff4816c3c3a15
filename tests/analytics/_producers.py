"""Records as producers write them, read through the real readers into event rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

ACCOUNT = "111122223333"


def read_as(
    fmt: str, records: list[dict[str, Any]], tmp_path: Path, tenant: str = "acme"
) -> pl.DataFrame:
    """The event frame ``auditkit ingest --format FMT`` would store for ``records``."""
    path = tmp_path / f"{fmt}-{len(list(tmp_path.iterdir()))}.json"
    body: Any = {"Records": records} if fmt == "cloudtrail" else records
    path.write_text(json.dumps(body))
    source = get_format(fmt)
    rows = [
        normalize_event(source.to_event(r.value, tenant=tenant)) for r in source.records(str(path))
    ]
    assert len(rows) == len(records)
    return events_to_frame(rows)


def cloudtrail(
    name: str,
    when: str,
    *,
    user: str = "ops",
    request: dict[str, Any] | None = None,
    source: str = "iam.amazonaws.com",
    ip: str = "198.51.100.14",
    response: dict[str, Any] | None = None,
    error: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One CloudTrail record of IAM user ``user`` of :data:`ACCOUNT`, as AWS writes it."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": f"AIDA{user.upper()}",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
            "accountId": ACCOUNT,
            "accessKeyId": f"AKIA{user.upper()}",
            "userName": user,
        },
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": response,
        "requestID": f"req-{name}-{when}-{user}",
        "eventID": f"ev-{name}-{when}-{user}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        **extra,
    }
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"{error}: not allowed"
    return record


def okta(
    event_type: str,
    when: str,
    *,
    actor: str,
    ip: str,
    country: str = "United States",
    targets: list[dict[str, Any]] | None = None,
    result: str = "SUCCESS",
) -> dict[str, Any]:
    """One Okta System Log event by user ``actor`` (its login), as the API returns it."""
    return {
        "uuid": f"{event_type}-{when}-{actor}",
        "published": when,
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "displayMessage": event_type,
        "actor": {
            "id": f"00u{actor}",
            "type": "User",
            "alternateId": f"{actor}@example.com",
            "displayName": actor.title(),
        },
        "client": {"ipAddress": ip, "geographicalContext": {"country": country}},
        "outcome": {"result": result},
        "target": targets or [],
    }


def okta_user(login: str) -> dict[str, Any]:
    """An Okta target naming user ``login``."""
    return {
        "id": f"00u{login}",
        "type": "User",
        "alternateId": f"{login}@example.com",
        "displayName": login.title(),
    }


GCP_PROJECT = "acme-prod-4821"


def gcp(method: str, when: str, *, resource: str, request: dict[str, Any] | None = None,
        service_data: dict[str, Any] | None = None, actor: str = "alice@acme.io",
        service: str = "compute.googleapis.com", ip: str = "198.51.100.7",
        resource_type: str = "gce_instance", code: int | None = None,
        metadata: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """One Cloud Audit Logs admin activity entry of :data:`GCP_PROJECT`, as Google writes it."""
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": {"code": code} if code else {},
        "authenticationInfo": {"principalEmail": actor},
        "requestMetadata": {"callerIp": ip, "callerSuppliedUserAgent": "google-cloud-sdk"},
        "serviceName": service,
        "methodName": method,
        "resourceName": resource,
    }
    for key, value in (("request", request), ("serviceData", service_data),
                       ("metadata", metadata)):  # fmt: skip
        if value is not None:
            payload[key] = value
    return {
        "protoPayload": payload,
        "insertId": f"{method}-{when}-{actor}",
        "resource": {"type": resource_type, "labels": {"project_id": GCP_PROJECT}},
        "timestamp": when,
        "severity": "NOTICE",
        "logName": f"projects/{GCP_PROJECT}/logs/cloudaudit.googleapis.com%2Factivity",
    }
