"""OCSF mapping: IAM classes onto core actions, API Activity, generic classes."""

from __future__ import annotations

from typing import Any

import pytest

from auditkit.errors import SchemaError
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from . import FIXTURES, events


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    return events("ocsf", FIXTURES / "ocsf" / "security_lake_and_okta.ocsf.json")


def test_security_lake_api_activity_uses_the_cloudtrail_names(log: list[dict[str, Any]]) -> None:
    key, stop, get = log[0], log[1], log[2]
    assert key["action"] == "api_key.create" and key["category"] == "admin"
    assert key["tenant_id"] == "123456789012"  # cloud.account.uid: Security Lake has no tenant_uid
    assert key["request_id"] == "req-ocsf-0001" and key["session_id"] == "ASIAEXAMPLE"
    assert key["observer"] == {"service": "CloudTrail", "version": "1.09", "region": "us-east-1"}
    assert (stop["action"], stop["outcome"]) == ("audit_log.disable", "denied")
    assert get["action"] == "s3_object.get" and get["occurred_at"] == "2024-06-01T09:02:00.000000Z"


def test_authentication(log: list[dict[str, Any]]) -> None:
    ok, failed, logoff = log[3], log[4], log[5]
    assert (ok["action"], ok["outcome"]) == ("user.login", "success")
    assert ok["actor"] == {
        "id": "00u1ann2BCDE3fgh4i5",
        "type": "user",
        "name": "ann@example.com",
        "email": "ann@example.com",
    }
    assert ok["source"]["geo"] == {"country": "DE", "city": "Berlin", "lat": 52.52, "lon": 13.405}
    assert ok["tenant_id"] == "acme" and ok["session_id"] == "102abcDEF-ghiJKL"
    assert "targets" not in ok
    assert (failed["action"], failed["outcome"]) == ("user.login", "failure")
    assert logoff["action"] == "user.logout"
    assert logoff["occurred_at"] == "2024-06-01T17:00:00.000000Z"  # from time_dt


def test_account_and_access_management(log: list[dict[str, Any]]) -> None:
    reset, mfa, role, member = log[6], log[7], log[8], log[9]
    assert reset["action"] == "password.reset"
    assert reset["actor"]["name"] == "Administrator"
    assert reset["targets"] == [
        {"id": "S-1-5-21-1004336348-1177238915-682003330-1104", "type": "user", "name": "ann"}
    ]
    assert mfa["action"] == "mfa.disable"
    assert role["action"] == "role.grant" and role["metadata"]["privileges"] == [
        "Super administrator"
    ]
    assert member["action"] == "team_member.add"
    assert {t["type"] for t in member["targets"]} == {"user", "group"}


def test_other_classes_and_other_apis(log: list[dict[str, Any]]) -> None:
    export, delete = log[10], log[11]
    assert export["action"] == "web_resources.export"
    assert export["targets"] == [{"id": "doc-77", "type": "document", "name": "Q2 forecast"}]
    assert delete["action"] == "admin_users.delete"
    assert delete["actor"]["type"] == "service"


def _event(**change: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "class_uid": 3002,
        "activity_id": 1,
        "status_id": 1,
        "time": 1717232400000,
        "user": {"uid": "u1"},
        "metadata": {"uid": "m1", "tenant_uid": "t"},
    }
    rec.update(change)
    return {k: v for k, v in rec.items() if v is not None}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time": None}, "time"),
        ({"time": 1e20}, "time"),  # beyond nanoseconds of the year 2200
        ({"time": 5}, "time"),  # seconds, but not a time of the logs
        ({"time": "soon"}, "time"),
        ({"class_uid": None}, "class_uid"),
        ({"class_uid": "Authentication"}, "class_uid"),
        ({"user": None}, "actor.user.uid"),
        ({"metadata": {"uid": "m1"}}, "metadata.tenant_uid"),
        ({"metadata": "x"}, "metadata"),
    ],
)
def test_bad_events_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(SchemaError) as info:
        normalize_event(get_format("ocsf").to_event(_event(**change), tenant=None))
    assert info.value.field == field


def test_unknown_class_without_names_and_denied_action() -> None:
    e = get_format("ocsf").to_event(
        _event(class_uid=4001, activity_id=6, action_id=2, status_id=2), tenant=None
    )
    assert e["action"] == "class_4001.activity_6" and e["outcome"] == "denied"
    assert e["category"] == "user"


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (1767603600.123, "2026-01-05T09:00:00.123000Z"),
        (1767603600, "2026-01-05T09:00:00.000000Z"),
        ("1767603600.5", "2026-01-05T09:00:00.500000Z"),
    ],
)
def test_time_written_in_seconds_is_read_as_seconds(written: Any, read: str) -> None:
    """OCSF says milliseconds; Prowler and others write seconds, as an integer or a
    float.  Such a number, read as milliseconds, is in January 1970, and was refused
    as 'out of range ... (ms since 1970)'; below 10**11 it can only be seconds."""
    e = normalize_event(get_format("ocsf").to_event(_event(time=written), tenant=None))
    assert e["occurred_at"] == read
    assert e["metadata"]["occurred_at_unit"] == "seconds (OCSF time is milliseconds)"
    ms = normalize_event(get_format("ocsf").to_event(_event(time=1767603600123), tenant=None))
    assert ms["occurred_at"] == "2026-01-05T09:00:00.123000Z"
    assert "occurred_at_unit" not in ms["metadata"]


@pytest.mark.parametrize(
    ("written", "unit"),
    [
        (1767603600123456, "microseconds (OCSF time is milliseconds)"),
        (1767603600123456789, "nanoseconds (OCSF time is milliseconds)"),
        ("1767603600123456", "microseconds (OCSF time is milliseconds)"),
    ],
)
def test_time_written_in_micro_or_nanoseconds_is_read_in_its_unit(written: Any, unit: str) -> None:
    """Producers that write OCSF from a language whose clock counts micro- or nanoseconds
    were refused as 'out of range'; the units' years 1990 to 2200 do not overlap."""
    e = normalize_event(get_format("ocsf").to_event(_event(time=written), tenant=None))
    assert e["occurred_at"] == "2026-01-05T09:00:00.123456Z"
    assert e["metadata"]["occurred_at_unit"] == unit


PROWLER = FIXTURES / "ocsf" / "prowler_detection_findings.ocsf.json"
SECURITY_HUB = FIXTURES / "ocsf" / "security_hub_finding_update.ocsf.ndjson"


def test_prowler_detection_findings_are_reported_by_prowler() -> None:
    """Prowler's OCSF output (Detection Finding, 2004) has no actor: every finding was
    quarantined for 'actor.user.uid missing'.  The product that reported it is the
    actor, the resources are the targets, severity and title are kept."""
    failed, passed, muted = events("ocsf", PROWLER)
    for e in (failed, passed, muted):
        assert e["actor"] == {"id": "Prowler", "type": "service", "name": "Prowler"}
        assert (e["action"], e["category"], e["outcome"]) == ("finding.create", "system", "success")
        assert e["tenant_id"] == "111122223333"  # cloud.account.uid: tenant_uid is ""
        assert e["observer"]["service"] == "Prowler" and e["observer"]["version"] == "5.2.1"
    assert failed["occurred_at"] == "2026-01-05T09:00:00.000000Z"  # `time` in seconds
    assert failed["targets"] == [
        {"id": "arn:aws:s3:::shop-prod-exports", "type": "AwsS3Bucket", "name": "shop-prod-exports"}
    ]
    meta = failed["metadata"]
    assert (meta["status_code"], meta["source_outcome"]) == ("FAIL", "New")
    assert (meta["severity"], meta["severity_id"]) == ("Medium", 3)
    assert meta["finding_title"] == "Check S3 Bucket Level Public Access Block."
    assert meta["finding_uid"].startswith("prowler-aws-s3_bucket_level_public_access_block-")
    assert meta["remediation"].startswith("You can enable Public Access Block")
    assert failed["description"].startswith("Block Public Access is not configured")
    assert passed["metadata"]["status_code"] == "PASS"
    assert (muted["metadata"]["source_outcome"], muted["metadata"]["severity"]) == (
        "Suppressed",
        "Critical",
    )


def test_a_finding_update_keeps_whom_it_is_about() -> None:
    """A GuardDuty finding through Security Hub: status 'In Progress' (status_id 2) is
    the finding's state, not a failure; the user it is about is a target."""
    (update,) = events("ocsf", SECURITY_HUB)
    assert (update["action"], update["outcome"]) == ("finding.update", "success")
    assert update["actor"]["id"] == "GuardDuty" and update["actor"]["type"] == "service"
    assert update["targets"][0] == {
        "id": "AIDAEXAMPLEUSER0001",
        "type": "user",
        "name": "deploy-bot",
    }
    assert update["event_id"].startswith("arn:aws:securityhub:")
    assert update["metadata"]["severity"] == "High"


def test_other_classes_without_an_actor_are_reported_by_their_product() -> None:
    product = {"uid": "m2", "tenant_uid": "t", "product": {"vendor_name": "Zeek"}}
    e = get_format("ocsf").to_event(
        _event(class_uid=4001, activity_id=6, user=None, metadata=product), tenant=None
    )
    assert e["actor"] == {"id": "Zeek", "type": "service", "name": "Zeek"}
    # who acted matters in the IAM classes and API Activity: no stand-in there
    for class_uid in (3002, 3005, 6003):
        with pytest.raises(SchemaError) as info:
            get_format("ocsf").to_event(
                _event(class_uid=class_uid, user=None, metadata=product), tenant=None
            )
        assert info.value.field == "actor.user.uid"
    with pytest.raises(SchemaError) as info:
        get_format("ocsf").to_event(_event(class_uid=2004, user=None), tenant=None)
    assert info.value.field == "metadata.product.name"
