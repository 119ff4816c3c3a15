"""``secrets_harvesting``: many secrets read for the first time in a burst, from
CloudTrail's records as imported and from canonical events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from auditkit.analytics.detectors.credentials import secrets_harvesting
from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event


def _read(
    actor: str, secret: str, at: str, *, outcome: str = "success", action: str = "secret.read"
):
    return {
        "tenant_id": "acme",
        "occurred_at": at,
        "action": action,
        "outcome": outcome,
        "actor": {"id": actor, "type": "service"},
        "targets": [{"id": secret, "type": "secret"}],
    }


def _habit(actor: str = "app", days: int = 10) -> list[dict[str, Any]]:
    """A service reading its one database secret every hour."""
    return [
        _read(actor, "prod/db", f"2026-01-{1 + d:02d}T{h:02d}:00:00Z")
        for d in range(days)
        for h in range(24)
    ]


def _burst(actor: str, n: int, *, day: int = 12, step_min: int = 1, **kw: Any):
    t0 = datetime(2026, 1, day, 3, tzinfo=UTC)
    return [
        _read(actor, f"prod/svc{i}", (t0 + timedelta(minutes=i * step_min)).isoformat(), **kw)
        for i in range(n)
    ]


def _found(rows: list[dict[str, Any]]):
    return secrets_harvesting(events_to_frame(rows))


def test_an_established_service_reading_everything_is_high() -> None:
    found = _found([*_habit(), *_burst("app", 12)])
    assert found["severity"].to_list() == ["high"]
    assert found["event_ids"][0].len() == 12
    assert "read 12 different secrets it had never read before" in found["summary"][0]


def test_what_stays_quiet_or_medium() -> None:
    # its own secret read all day long: nothing
    assert _found(_habit()).height == 0
    # nine new secrets: under the threshold
    assert _found([*_habit(), *_burst("app", 9)]).height == 0
    # twelve new secrets, but one every seven minutes: at most nine in any hour
    assert _found([*_habit(), *_burst("app", 12, step_min=7)]).height == 0
    # the same twelve a second time: not new any more
    again = [*_habit(), *_burst("app", 12, day=11), *_burst("app", 12, day=12)]
    assert _found(again)["first_seen"].dt.day().to_list() == [11]
    # describing or listing secrets reads no value
    listing = _burst("app", 12, action="secretsmanager_secret.describe")
    assert _found([*_habit(), *listing]).height == 0
    # a new deployment reading its secrets on its first day: medium
    assert _found(_burst("new-svc", 12))["severity"].to_list() == ["medium"]
    # every read refused: medium, "tried to"
    refused = _found([*_habit(), *_burst("app", 12, outcome="denied")])
    assert refused["severity"].to_list() == ["medium"]
    assert "'app' tried to read 12" in refused["summary"][0]


def test_cloudtrail_reads_are_named_by_their_request(tmp_path: Path) -> None:
    def record(secret: str, at: str) -> dict[str, Any]:
        return {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "arn": "arn:aws:sts::111122223333:assumed-role/app/i-1",
                "accountId": "111122223333",
            },
            "eventTime": at,
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": "GetSecretValue",
            "awsRegion": "eu-central-1",
            "sourceIPAddress": "10.0.0.5",
            "requestParameters": {"secretId": secret},
            "eventID": f"{secret}-{at}",
            "recipientAccountId": "111122223333",
        }

    records = [record("prod/db", f"2026-01-0{d}T09:00:00Z") for d in range(1, 6)]
    records += [record(f"prod/svc{i}", f"2026-01-06T02:{i:02d}:30Z") for i in range(15)]
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}))
    source = get_format("cloudtrail")
    events = [
        normalize_event(source.to_event(r.value, tenant="acme")) for r in source.records(str(path))
    ]
    found = secrets_harvesting(events_to_frame(events))
    assert found["severity"].to_list() == ["high"]
    assert "15 different secrets" in found["summary"][0]
    assert "'prod/svc0', 'prod/svc1'" in found["summary"][0]


def test_a_request_kept_as_text_names_the_secret() -> None:
    rows = [*_habit()]
    for i in range(12):
        data = json.dumps({"secretId": f'prod/"quoted"/{i}'})
        rows.append(
            {
                "tenant_id": "acme",
                "occurred_at": f"2026-01-12T03:{i:02d}:00Z",
                "action": "secretsmanager_secret_value.get",
                "actor": {"id": "app", "type": "service"},
                "metadata": {"original": {"api": {"request": {"uid": "r", "data": data}}}},
            }
        )
    found = _found(rows)
    assert found["severity"].to_list() == ["high"]
    assert "12 different secrets" in found["summary"][0]


def test_batch_reads_count_each_secret_they_name(tmp_path: Path) -> None:
    """SSM's ``GetParameters`` logs one event for up to ten names, and no event per
    parameter; EC2's ``GetPasswordData`` and a read of an instance's ``userData`` read
    credentials too. A stolen key collecting them in a few calls is a harvest."""
    from tests.analytics._producers import cloudtrail, read_as

    ssm, ec2 = "ssm.amazonaws.com", "ec2.amazonaws.com"
    habit = [
        cloudtrail("GetParameter", f"2026-03-{d:02d}T08:00:00Z", user="app", source=ssm,
                   request={"name": "/app/db-url", "withDecryption": True})
        for d in range(1, 9)
    ]  # fmt: skip
    harvest = [
        cloudtrail("GetParameters", "2026-03-10T03:00:00Z", user="app", source=ssm,
                   request={"names": [f"/prod/{n}" for n in "abcdef"], "withDecryption": True}),
        cloudtrail("GetPasswordData", "2026-03-10T03:01:00Z", user="app", source=ec2,
                   request={"instanceId": "i-0a1"}),
        cloudtrail("GetPasswordData", "2026-03-10T03:01:30Z", user="app", source=ec2,
                   request={"instanceId": "i-0a2"}),
        cloudtrail("DescribeInstanceAttribute", "2026-03-10T03:02:00Z", user="app", source=ec2,
                   request={"instanceId": "i-0a1", "attribute": "userData"}),
        # another attribute is no secret
        cloudtrail("DescribeInstanceAttribute", "2026-03-10T03:02:30Z", user="app", source=ec2,
                   request={"instanceId": "i-0a3", "attribute": "instanceType"}),
        cloudtrail("GetParametersByPath", "2026-03-10T03:03:00Z", user="app", source=ssm,
                   request={"path": "/", "recursive": True, "withDecryption": True}),
    ]  # fmt: skip
    found = secrets_harvesting(read_as("cloudtrail", habit + harvest, tmp_path))
    assert found.height == 1
    row = found.row(0, named=True)
    assert row["severity"] == "high"
    assert "read 10 different secrets" in row["summary"], row["summary"]
    assert "'/prod/a', '/prod/b'" in row["summary"]
    # each event once, the other attribute's read not at all
    assert len(row["event_ids"]) == len(set(row["event_ids"])) == 5
    # one parameter short of the threshold: quiet
    assert secrets_harvesting(read_as("cloudtrail", habit + harvest[:4], tmp_path)).is_empty()


def test_user_data_alone_is_medium(tmp_path: Path) -> None:
    """Terraform's refresh reads every instance's user data, as does an intruder looking
    for credentials left there: a burst of user data alone is worth a look, not high."""
    from tests.analytics._producers import cloudtrail, read_as

    ec2 = "ec2.amazonaws.com"
    habit = [cloudtrail("DescribeInstances", f"2026-03-{d:02d}T08:00:00Z", user="tf", source=ec2)
             for d in range(1, 9)]  # fmt: skip
    reads = [
        cloudtrail("DescribeInstanceAttribute", f"2026-03-10T03:{i:02d}:00Z", user="tf",
                   source=ec2, request={"instanceId": f"i-0{i:02d}", "attribute": "userData"})
        for i in range(15)
    ]  # fmt: skip
    found = secrets_harvesting(read_as("cloudtrail", habit + reads, tmp_path))
    assert found["severity"].to_list() == ["medium"]
    assert "'user data of i-000'" in found["summary"][0]


def test_a_pipeline_reading_a_new_jobs_parameters_is_medium(tmp_path: Path) -> None:
    """GitHub Actions' role session comes from a new runner network on every run (and
    CloudTrail types it as a user): its first read of a whole parameter tree, for a new
    deploy job, is medium; the same reads by a role that works from one network are high."""
    from tests.analytics._producers import cloudtrail, read_as

    ssm = "ssm.amazonaws.com"
    role = "arn:aws:sts::111122223333:assumed-role/deploy/GitHubActions"
    issuer = {"type": "Role", "userName": "deploy", "arn": "arn:aws:iam::111122223333:role/deploy"}
    who = {"type": "AssumedRole", "arn": role, "principalId": "AROADEPLOY:GitHubActions",
           "accountId": "111122223333", "sessionContext": {"sessionIssuer": issuer}}  # fmt: skip
    runs = [
        cloudtrail("GetParameter", f"2026-03-{d:02d}T{h:02d}:00:00Z", source=ssm,
                   ip=f"20.{d}.{h}.9", userIdentity=who, request={"name": "/ci/token"})
        for d in range(1, 15) for h in (9, 13, 17)
    ]  # fmt: skip
    job = [
        cloudtrail("GetParameters", "2026-03-15T09:00:00Z", source=ssm, ip="20.99.1.9",
                   userIdentity=who, request={"names": [f"/prod/{n}" for n in "abcdefghijkl"]})
    ]  # fmt: skip
    found = secrets_harvesting(read_as("cloudtrail", runs + job, tmp_path))
    assert found["severity"].to_list() == ["medium"]
    assert "a new network on most of its days" in found["summary"][0]
    settled = [r | {"sourceIPAddress": "10.20.0.5"} for r in runs + job]
    found = secrets_harvesting(read_as("cloudtrail", settled, tmp_path))
    assert found["severity"].to_list() == ["high"]
