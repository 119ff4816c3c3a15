"""Detections on trails written in real producers' vocabularies: AWS CloudTrail, GCP,
Okta and GitLab records read through their ingest formats, and canonical events
named as each producer names them (a mapping file lower-cases ``s3.DeleteObjects`` to
``s3.deleteobjects``).  Attacks spelt another way must still be found; look-alikes
that nobody tuned to (a retention policy removed so that logs are kept for ever, a
trail's tag removed, members removed from a team) must not be flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from auditkit.analytics import run_detectors
from auditkit.analytics.detectors import SEVERITIES
from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from ._evasions import ev

RANK = {s: i for i, s in enumerate(SEVERITIES)}
Records = Callable[[], list[dict[str, Any]]]


def _at(minute: float) -> str:
    hours, minutes = divmod(int(minute), 60)
    return f"2026-03-02T{9 + hours:02d}:{minutes:02d}:{int(minute * 60) % 60:02d}Z"


# ------------------------------------------------------------------ producers' records


def cloudtrail(
    service: str, name: str, params: dict[str, Any], *, minute: float = 0, user: str = "mallory"
) -> dict[str, Any]:
    """A CloudTrail management or data event by an IAM user."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::123456789012:user/{user}",
            "accountId": "123456789012",
            "userName": user,
        },
        "eventTime": _at(minute),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "requestParameters": params,
        "eventID": f"ct-{service}-{name}-{minute}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    }


def gcp(service: str, method: str, resource: str, *, minute: float = 0) -> dict[str, Any]:
    """A GCP Cloud Audit Logs entry by a person."""
    return {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {"principalEmail": "mallory@acme.com"},
            "serviceName": f"{service}.googleapis.com",
            "methodName": method,
            "resourceName": resource,
        },
        "insertId": f"g-{method}-{minute}",
        "resource": {"type": "gcs_bucket", "labels": {"project_id": "p"}},
        "timestamp": _at(minute),
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
    }


def okta(event_type: str, target: str, *, minute: float = 0) -> dict[str, Any]:
    """An Okta System Log event by an administrator."""
    return {
        "uuid": f"ok-{event_type}-{minute}",
        "published": _at(minute).replace("Z", ".000Z"),
        "eventType": event_type,
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "mallory@acme.com"},
        "client": {"ipAddress": "203.0.113.9"},
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": target, "type": "User", "alternateId": f"{target}@acme.com"}],
    }


def gitlab(event_type: str, target: int, *, minute: float = 0) -> dict[str, Any]:
    """A streamed GitLab audit event by a person."""
    return {
        "id": 1000 + int(minute * 10),
        "author_id": 7,
        "entity_id": target,
        "entity_type": "Project",
        "details": {"author_name": "Mallory", "target_id": target, "target_type": "Project"},
        "author_name": "Mallory",
        "entity_path": f"acme/p{target}",
        "created_at": _at(minute).replace("Z", ".000Z"),
        "target_type": "Project",
        "target_id": target,
        "event_type": event_type,
        "ip_address": "203.0.113.9",
    }


def ingest(tmp_path: Path, fmt: str, records: list[dict[str, Any]]) -> pl.DataFrame:
    """``records`` read through the ``fmt`` format, as ``auditkit ingest`` reads them."""
    path = tmp_path / f"records.{'ndjson' if fmt in ('okta', 'gitlab') else 'json'}"
    if fmt == "cloudtrail":
        path.write_bytes(orjson.dumps({"Records": records}))
    elif fmt == "gcp":
        path.write_bytes(orjson.dumps(records))
    else:
        path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    source = get_format(fmt)
    tenant = None if fmt in ("cloudtrail", "gcp") else "acme"
    events = [
        normalize_event(source.to_event(r.value, tenant=tenant)) for r in source.records(str(path))
    ]
    assert len(events) == len(records)
    return events_to_frame(events)


def strongest(findings: pl.DataFrame, detector: str) -> str | None:
    """The most severe finding of ``detector``, or None."""
    mine = findings.filter(pl.col("detector") == detector)["severity"].to_list()
    return max(mine, key=RANK.__getitem__) if mine else None


# ------------------------------------------------------------------ mass deletion: attacks

DELETIONS_VIA_SOURCES: dict[str, tuple[str, Callable[[int], dict[str, Any]]]] = {
    "TerminateInstances": (
        "cloudtrail",
        lambda i: cloudtrail(
            "ec2",
            "TerminateInstances",
            {"instancesSet": {"items": [{"instanceId": f"i-{i}"}]}},
            minute=i,
        ),
    ),
    "DeleteBucket": (
        "cloudtrail",
        lambda i: cloudtrail("s3", "DeleteBucket", {"bucketName": f"b{i}"}, minute=i),
    ),
    "DeleteDBInstance": (
        "cloudtrail",
        lambda i: cloudtrail(
            "rds", "DeleteDBInstance", {"dBInstanceIdentifier": f"db{i}"}, minute=i
        ),
    ),
    "storage.objects.delete": (
        "gcp",
        lambda i: gcp(
            "storage", "storage.objects.delete", f"projects/_/buckets/b/objects/o{i}", minute=i
        ),
    ),
    "SqlInstancesService.Delete": (
        "gcp",
        lambda i: gcp(
            "sqladmin",
            "google.cloud.sql.v1.SqlInstancesService.Delete",
            f"instances/db{i}",
            minute=i,
        ),
    ),
    "user.lifecycle.delete.completed": (
        "okta",
        lambda i: okta("user.lifecycle.delete.completed", f"00u{i}", minute=i),
    ),
    "project_destroyed": ("gitlab", lambda i: gitlab("project_destroyed", i, minute=i)),
}


@pytest.mark.parametrize(
    ("fmt", "make"),
    DELETIONS_VIA_SOURCES.values(),
    ids=DELETIONS_VIA_SOURCES,
)
def test_mass_deletion_in_producers_vocabularies(
    tmp_path: Path, fmt: str, make: Callable[[int], dict[str, Any]]
) -> None:
    """Forty deletions in forty minutes by a person, as each producer records them."""
    frame = ingest(tmp_path, fmt, [make(i) for i in range(40)])
    found = run_detectors(frame, names=["mass_deletion"])
    assert strongest(found, "mass_deletion") == "high", frame["action"].unique().to_list()


def _deletions_named(*names: str) -> Records:
    def build() -> list[dict[str, Any]]:
        return [
            ev(i, names[i % len(names)], "mallory@acme.com", targets=[{"id": f"r{i}", "type": "x"}])
            for i in range(36)
        ]

    return build


MASS_DELETION_SPELLINGS = {
    "as a mapping file lower-cases CloudTrail names": _deletions_named(
        "s3.deleteobjects", "s3.deletebucket", "ec2.terminateinstances", "rds.deletedbinstance"
    ),
    "under other verbs, a dozen of each": _deletions_named(
        "document.delete", "document.remove", "document.purge"
    ),
    "erase, wipe and destroy": _deletions_named("file.erase", "disk.wipe", "repo.destroyed"),
    "Okta's and GitLab's names as canonical actions": _deletions_named(
        "user.lifecycle.delete.initiated", "gitlab.project_destroyed", "gitlab.group_destroyed"
    ),
    "GCP method names": _deletions_named(
        "storage.objects.delete",
        "google.cloud.bigquery.v2.tableservice.deletetable",
        "spanner_database.drop",
    ),
    "bulk and soft deletes with dashes": _deletions_named(
        "document.bulk-delete", "document.soft_delete", "records.batchdelete"
    ),
}


@pytest.mark.parametrize("build", MASS_DELETION_SPELLINGS.values(), ids=MASS_DELETION_SPELLINGS)
def test_mass_deletion_under_other_spellings(build: Records) -> None:
    found = run_detectors(events_to_frame(build()), names=["mass_deletion"])
    assert strongest(found, "mass_deletion") == "high"


# ------------------------------------------------------------------ mass deletion: look-alikes


def _bulk(action: str, *, actor: str = "admin@acme.com", **kw: Any) -> Records:
    def build() -> list[dict[str, Any]]:
        return [
            ev(i, action, actor, targets=[{"id": f"u{i}", "type": "user"}], **kw) for i in range(40)
        ]

    return build


MASS_DELETION_LOOKALIKES = {
    "an admin removes forty members from a team": _bulk("team_member.remove"),
    "Okta group memberships removed": _bulk("group.user_membership.remove"),
    "every session of a team terminated after an incident": _bulk("session.terminate"),
    "a person clears forty notifications": _bulk("notification.delete", actor="ann@acme.com"),
    "deleted documents restored": _bulk("document.undelete"),
    "labels removed from issues": _bulk("issue_label.remove"),
    "scheduled key deletions cancelled": _bulk("kms_key_deletion.cancel"),
    "deletion protection switched off": _bulk("rds.disable_deletion_protection"),
    "a job terminates its workers": _bulk("batch_job.terminate"),
    "a clean-up service purges temp files": _bulk("temp_file.purge", actor_type="service"),
}


@pytest.mark.parametrize("build", MASS_DELETION_LOOKALIKES.values(), ids=MASS_DELETION_LOOKALIKES)
def test_mass_deletion_lookalikes_stay_quiet(build: Records) -> None:
    found = run_detectors(events_to_frame(build()), names=["mass_deletion"])
    assert found.height == 0, found["summary"].to_list()


# ------------------------------------------------------------------ audit trail: attacks

TAMPERING_VIA_SOURCES = {
    "StopLogging": ("cloudtrail", [cloudtrail("cloudtrail", "StopLogging", {"name": "main"})]),
    "PutEventSelectors read-only": (
        "cloudtrail",
        [
            cloudtrail(
                "cloudtrail",
                "PutEventSelectors",
                {"trailName": "main", "eventSelectors": [{"readWriteType": "ReadOnly"}]},
            )
        ],
    ),
    "PutEventSelectors without management events": (
        "cloudtrail",
        [
            cloudtrail(
                "cloudtrail",
                "PutEventSelectors",
                {
                    "trailName": "main",
                    "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": False}],
                },
            )
        ],
    ),
    "UpdateTrail to one region": (
        "cloudtrail",
        [cloudtrail("cloudtrail", "UpdateTrail", {"name": "main", "isMultiRegionTrail": False})],
    ),
    "DeleteLogGroup": (
        "cloudtrail",
        [cloudtrail("logs", "DeleteLogGroup", {"logGroupName": "/aws/cloudtrail/main"})],
    ),
    "PutRetentionPolicy of a day": (
        "cloudtrail",
        [
            cloudtrail(
                "logs",
                "PutRetentionPolicy",
                {"logGroupName": "/aws/cloudtrail/main", "retentionInDays": 1},
            )
        ],
    ),
    "DeleteFlowLogs": (
        "cloudtrail",
        [cloudtrail("ec2", "DeleteFlowLogs", {"DeleteFlowLogsRequest": {"FlowLogId": "fl-1"}})],
    ),
    "S3 access logging switched off": (
        "cloudtrail",
        [cloudtrail("s3", "PutBucketLogging", {"bucketName": "b", "bucketLoggingStatus": {}})],
    ),
    "GCP sink deleted": (
        "gcp",
        [gcp("logging", "google.logging.v2.ConfigServiceV2.DeleteSink", "projects/p/sinks/s")],
    ),
    "Okta log stream deactivated": (
        "okta",
        [okta("system.log_stream.lifecycle.deactivate", "0oastream")],
    ),
    "GitLab audit stream deleted": (
        "gitlab",
        [gitlab("destroy_event_streaming_destination", 1)],
    ),
}


@pytest.mark.parametrize(
    ("fmt", "records"), TAMPERING_VIA_SOURCES.values(), ids=TAMPERING_VIA_SOURCES
)
def test_trail_weakened_in_producers_vocabularies(
    tmp_path: Path, fmt: str, records: list[dict[str, Any]]
) -> None:
    """What really weakens the trail is critical, however the producer records it."""
    found = run_detectors(ingest(tmp_path, fmt, records), names=["audit_tampering"])
    assert strongest(found, "audit_tampering") == "critical", found["summary"].to_list()


TAMPERING_SPELLINGS = [
    "cloudtrail.stoplogging",
    "cloudtrail.deletetrail",
    "ec2.deleteflowlogs",
    "logs.deleteloggroup",
    "audit-log.purge",
    "auditlog.disable",
    "system.log_stream.lifecycle.deactivate",
    "google.logging.v2.configservicev2.deletesink",
]


@pytest.mark.parametrize("action", TAMPERING_SPELLINGS)
def test_trail_weakened_under_other_spellings(action: str) -> None:
    frame = events_to_frame([ev(0, action, "mallory@acme.com")])
    found = run_detectors(frame, names=["audit_tampering"])
    assert strongest(found, "audit_tampering") == "critical"


# ------------------------------------------------------------------ audit trail: look-alikes

TRAIL_LOOKALIKES = {
    "DeleteRetentionPolicy (logs kept for ever)": [
        cloudtrail("logs", "DeleteRetentionPolicy", {"logGroupName": "/aws/cloudtrail/main"})
    ],
    "PutRetentionPolicy of ten years": [
        cloudtrail(
            "logs",
            "PutRetentionPolicy",
            {"logGroupName": "/aws/cloudtrail/main", "retentionInDays": 3653},
        )
    ],
    "trail status, descriptions and lookups": [
        cloudtrail("cloudtrail", "GetTrailStatus", {"name": "main"}, minute=0),
        cloudtrail("cloudtrail", "DescribeTrails", {}, minute=1),
        cloudtrail("cloudtrail", "LookupEvents", {"maxResults": 50}, minute=2),
        cloudtrail("cloudtrail", "GetEventSelectors", {"trailName": "main"}, minute=3),
        cloudtrail("logs", "FilterLogEvents", {"logGroupName": "/aws/x"}, minute=4),
    ],
    "StartLogging": [cloudtrail("cloudtrail", "StartLogging", {"name": "main"})],
    "PutEventSelectors adding data events to full management": [
        cloudtrail(
            "cloudtrail",
            "PutEventSelectors",
            {
                "trailName": "main",
                "eventSelectors": [
                    {
                        "readWriteType": "All",
                        "includeManagementEvents": True,
                        "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3"]}],
                    }
                ],
            },
        )
    ],
    "advanced selectors keeping every management event": [
        cloudtrail(
            "cloudtrail",
            "PutEventSelectors",
            {
                "trailName": "main",
                "advancedEventSelectors": [
                    {
                        "name": "management",
                        "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}],
                    }
                ],
            },
        )
    ],
    "UpdateTrail switching log file validation on": [
        cloudtrail(
            "cloudtrail",
            "UpdateTrail",
            {"name": "main", "enableLogFileValidation": True, "isMultiRegionTrail": True},
        )
    ],
    "a tag removed from the trail": [
        cloudtrail(
            "cloudtrail",
            "RemoveTags",
            {"resourceId": "arn:aws:cloudtrail:us-east-1:1:trail/main", "tagsList": []},
        )
    ],
    "an application writing its log events": [
        cloudtrail("logs", "PutLogEvents", {"logGroupName": "/app"}, minute=i) for i in range(5)
    ],
    "S3 access logging switched on": [
        cloudtrail(
            "s3",
            "PutBucketLogging",
            {"bucketName": "b", "bucketLoggingStatus": {"loggingEnabled": {"targetBucket": "l"}}},
        )
    ],
}


@pytest.mark.parametrize("records", TRAIL_LOOKALIKES.values(), ids=TRAIL_LOOKALIKES)
def test_trail_lookalikes_stay_quiet(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    found = run_detectors(ingest(tmp_path, "cloudtrail", records), names=["audit_tampering"])
    assert found.height == 0, found["summary"].to_list()


def test_gcp_log_view_deleted_is_not_the_trail(tmp_path: Path) -> None:
    records = [gcp("logging", "google.logging.v2.ConfigServiceV2.DeleteView", "views/v")]
    found = run_detectors(ingest(tmp_path, "gcp", records), names=["audit_tampering"])
    assert found.height == 0, found["summary"].to_list()


def test_retention_set_short_says_to_what() -> None:
    frame = events_to_frame(
        [ev(0, "audit_retention.update", "mallory@acme.com", changes={"after": {"days": 7}})]
    )
    found = run_detectors(frame, names=["audit_tampering"])
    assert found["severity"].to_list() == ["critical"]
    assert "set audit retention to 7 days" in found["summary"][0]


# ------------------------------------------------------------------ timing and addresses


def test_deletions_spread_thin_over_a_day() -> None:
    """25 deletions an hour for eight hours: no hour reaches the burst threshold."""
    rows = [
        ev(i * 2.4, "s3_object.delete", "mallory@acme.com", targets=[{"id": f"o{i}", "type": "o"}])
        for i in range(200)
    ]
    found = run_detectors(events_to_frame(rows), names=["mass_deletion"])
    assert strongest(found, "mass_deletion") == "high"


def test_login_errors_of_an_outage_are_not_guessing() -> None:
    """The identity provider failing (outcome ``error``) for a user whose app retries."""
    rows = [ev(i * 0.5, "user.login", "ann@acme.com", outcome="error") for i in range(30)]
    found = run_detectors(events_to_frame(rows))
    assert found.filter(pl.col("severity") != "low").height == 0, found["summary"].to_list()


def test_spraying_from_ipv4_mapped_addresses_of_one_network() -> None:
    """A dual-stack front end records IPv4 clients as ``::ffff:a.b.c.d``: twelve accounts
    from twelve addresses of one IPv4 /24 are one network's spraying."""
    rows = [
        ev(i * 4, "user.login", f"user{i}@acme.com", outcome="failure", ip=f"::ffff:203.0.113.{i}")
        for i in range(12)
    ]
    found = run_detectors(events_to_frame(rows), names=["password_spraying"])
    assert strongest(found, "password_spraying") == "high"
    assert "203.0.113.0/24" in found["summary"][0]


def test_ipv4_mapped_addresses_of_many_networks_are_not_one() -> None:
    """Twelve people behind a dual-stack front end, each from their own IPv4 network,
    mistype once and log in 45 minutes later: no shared network (one browser's agent
    is the only thing they share, a medium finding at most)."""
    rows = []
    for i in range(12):
        ip = f"::ffff:{100 + i}.{i}.7.9"
        user = f"user{i}@acme.com"
        rows += [
            ev(i * 4, "user.login", user, outcome="failure", ip=ip),
            ev(i * 4 + 45, "user.login", user, ip=ip),
        ]
    found = run_detectors(events_to_frame(rows), names=["password_spraying"])
    assert found.filter(pl.col("severity") == "high").height == 0, found["summary"].to_list()
