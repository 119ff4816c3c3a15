"""Mass export/download and mass deletion."""

from __future__ import annotations

from auditkit.analytics.detectors.exfiltration import mass_deletion, mass_export
from tests.analytics._producers import cloudtrail, read_as


def test_mass_export_counts_exports_and_downloads(event, frame) -> None:
    rows = [
        event(
            "document.export" if i % 2 else "file.download",
            "leo",
            minutes=i * 0.5,
            target={"id": f"d{i % 40}", "type": "document"},
        )
        for i in range(50)
    ]
    found = mass_export(frame(rows))
    assert found.height == 1
    assert "50 item(s) (40 distinct; document, file)" in found["summary"][0]
    assert mass_export(frame(rows[:49])).height == 0


def test_mass_export_ignores_services_and_failures(event, frame) -> None:
    svc = [
        event("document.export", "svc-backup", minutes=i * 0.1, actor_type="service")
        for i in range(100)
    ]
    denied = [
        event("document.export", "leo", minutes=i * 0.1, outcome="denied") for i in range(100)
    ]
    assert mass_export(frame(svc + denied)).height == 0
    keys = [
        event("document.export", "key-1", minutes=i * 0.1, actor_type="api_key") for i in range(60)
    ]
    assert mass_export(frame(keys))["actor_id"].to_list() == ["key-1"]


def test_mass_deletion_window(event, frame) -> None:
    burst = [event("record.delete", "max", minutes=i) for i in range(30)]
    assert mass_deletion(frame(burst)).height == 1
    spread = [event("record.delete", "max", minutes=i * 3) for i in range(30)]
    assert mass_deletion(frame(spread)).height == 0
    assert mass_deletion(frame(spread), window="2h").height == 1


def test_a_dozen_accounts_deleted_is_a_mass_deletion(event, frame) -> None:
    """Accounts (users, keys, groups, roles) take ``account_threshold`` (10) deletions,
    not the 30 of documents; a burst that makes a finding of every deletion is one
    finding, not two; a dozen files of users are not accounts."""
    users = [
        event("user.delete", "max", minutes=i, target={"id": f"u{i}", "type": "user"})
        for i in range(6)
    ] + [event("iam.deleteaccesskey", "max", minutes=6 + i) for i in range(4)]
    found = mass_deletion(frame(users))
    assert found.height == 1
    assert found["severity"][0] == "high"
    assert found["event_ids"][0].len() == 10
    assert mass_deletion(frame(users[:9])).height == 0
    assert mass_deletion(frame(users), account_threshold=11).height == 0
    files = [event("user_file.delete", "max", minutes=i) for i in range(12)]
    assert mass_deletion(frame(files)).height == 0
    # users among 40 records: the one finding of the whole burst
    mixed = users + [event("record.delete", "max", minutes=10 + i * 0.5) for i in range(30)]
    found = mass_deletion(frame(mixed))
    assert found.height == 1
    assert found["event_ids"][0].len() == 40


def test_backups_wiped_before_ransom_are_a_mass_deletion(tmp_path) -> None:
    """Snapshots and recovery points take ``backup_threshold`` (10) deletions, read
    through the CloudTrail reader; fewer are nothing, and a nightly clean-up by the same
    key is low on its first runs only."""

    def delete(name: str, minute: int, day: int = 20, user: str = "ops") -> dict:
        source = "rds" if "DB" in name else ("backup" if "Recovery" in name else "ec2")
        when = f"2024-03-{day:02d}T02:{minute:02d}:00Z"
        return cloudtrail(name, when, user=user, source=f"{source}.amazonaws.com")

    names = ["DeleteSnapshot", "DeleteDBSnapshot", "DeleteDBClusterSnapshot", "DeleteRecoveryPoint"]
    wipe = [delete(names[i % 4], i) for i in range(12)]
    found = mass_deletion(read_as("cloudtrail", wipe, tmp_path))
    assert found["severity"].to_list() == ["high"]
    assert found["summary"][0].startswith("'arn:aws:iam::111122223333:user/ops' deleted 12 item(s)")
    assert mass_deletion(read_as("cloudtrail", wipe[:9], tmp_path)).height == 0
    assert mass_deletion(read_as("cloudtrail", wipe, tmp_path), backup_threshold=13).height == 0
    # the same twelve every night for a week: the key's recurring clean-up
    nightly = [
        delete("DeleteSnapshot", i, day, "cleanup") for day in range(10, 18) for i in range(12)
    ]
    found = mass_deletion(read_as("cloudtrail", nightly, tmp_path))
    assert found["severity"].to_list() == ["low", "low"]


def test_machine_images_deregistered_are_backups_deleted(tmp_path) -> None:
    """AMIs deregistered (``DeregisterImage``; AWS Backup keeps an instance's recovery
    points as AMIs) and Google Cloud machine images deleted count as backups: 10 within
    the hour is high.  Deregistering a load balancer's targets or task definitions is not
    a deletion, and container images are not backups."""
    from tests.analytics._producers import gcp

    amis = [
        cloudtrail("DeregisterImage", f"2024-03-20T02:{i:02d}:00Z", user="ops",
                   source="ec2.amazonaws.com", request={"imageId": f"ami-0a1b2c3d4e5f6{i:04d}"})
        for i in range(10)
    ]  # fmt: skip
    found = mass_deletion(read_as("cloudtrail", amis, tmp_path))
    assert found["severity"].to_list() == ["high"]
    assert found["event_ids"][0].len() == 10
    assert mass_deletion(read_as("cloudtrail", amis[:9], tmp_path)).height == 0
    images = [
        gcp("v1.compute.machineImages.delete", f"2024-03-20T02:{i:02d}:00Z",
            service="compute.googleapis.com", actor="ops@acme.io",
            resource=f"projects/acme-prod/global/machineImages/web-{i}")
        for i in range(10)
    ]  # fmt: skip
    assert mass_deletion(read_as("gcp", images, tmp_path))["severity"].to_list() == ["high"]
    others = [
        cloudtrail(name, f"2024-03-20T02:{i:02d}:00Z", user="ops", source=source)
        for i in range(12)
        for name, source in (
            ("DeregisterTargets", "elasticloadbalancing.amazonaws.com"),
            ("DeregisterTaskDefinition", "ecs.amazonaws.com"),
            ("BatchDeleteImage", "ecr.amazonaws.com"),
        )
    ]
    assert mass_deletion(read_as("cloudtrail", others, tmp_path)).height == 0


_CLI = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5 exe/x86_64 prompt/off command/s3.cp"
_THIEF = dict(
    ip="185.220.101.9",
    userAgent="Boto3/1.34.1 md/Botocore#1.34.1 ua/2.0 os/linux#6.1 lang/python#3.12",
)


def _s3(name: str, when: str, user: str = "dev", key: str | None = None, **extra) -> dict:
    """An S3 data event as CloudTrail writes it (``DeleteObjects`` names no object)."""
    request = {"bucketName": "acme-data", "Host": "acme-data.s3.us-east-1.amazonaws.com"}
    if key:
        request["key"] = key
    if name == "DeleteObjects":
        request["delete"] = ""
    extra.setdefault("userAgent", _CLI)
    return cloudtrail(
        name, when, user=user, request=request, source="s3.amazonaws.com",
        eventCategory="Data", managementEvent=False, **extra,
    )  # fmt: skip


def _three_weeks(user: str = "dev") -> list[dict]:
    """A developer's ordinary S3 work for three weeks, from the office with the CLI; an
    analyst deleting in the console (``DeleteObjects``) every day."""
    rows = []
    for day in range(1, 22):
        for hour in range(10, 16):
            when = f"2026-11-{day:02d}T{hour}:07:00Z"
            rows.append(_s3("PutObject", when, user, f"r/{day}-{hour}"))
        rows.append(_s3("DeleteObject", f"2026-11-{day:02d}T16:00:00Z", user, f"r/{day}-10"))
        rows.append(
            _s3("DeleteObjects", f"2026-11-{day:02d}T15:00:00Z", "analyst", ip="198.51.100.40",
                userAgent="[Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0]")
        )  # fmt: skip
    return rows


def test_a_stolen_key_emptying_a_bucket_in_one_batch_is_a_mass_deletion(tmp_path) -> None:
    """Stratus Red Team's s3-ransomware-batch-deletion: one ``DeleteObjects`` from a new
    network with the thief's own client, then a ransom note; the batch's event does not
    count its objects, so it is the stranger that tells."""
    attack = [
        _s3("ListObjectVersions", "2026-11-23T11:00:00Z", **_THIEF),
        _s3("DeleteObjects", "2026-11-23T11:00:20Z", **_THIEF),
        _s3("PutObject", "2026-11-23T11:00:40Z", key="FILES-DELETED.txt", **_THIEF),
    ]
    found = mass_deletion(read_as("cloudtrail", _three_weeks() + attack, tmp_path))
    assert found["severity"].to_list() == ["high"]
    summary = found["summary"][0]
    assert "1 deletion(s) (s3_objects; 1 a batch whose event does not count its items)" in summary
    assert "185.220.101.9" in summary and "'Boto3/1.34.1" in summary
    assert found["event_ids"][0].len() == 1
    # without the history, everything is new to the actor: nothing
    assert mass_deletion(read_as("cloudtrail", attack, tmp_path)).height == 0
    assert mass_deletion(read_as("cloudtrail", _three_weeks() + attack, tmp_path),
                         min_history="30d").height == 0  # fmt: skip
    # asked for the windowed counts alone
    assert mass_deletion(read_as("cloudtrail", _three_weeks() + attack, tmp_path),
                         stranger_threshold=None).height == 0  # fmt: skip


def test_a_stolen_key_deleting_under_the_threshold_is_a_mass_deletion(tmp_path) -> None:
    """Twenty objects one by one stay under ``threshold`` (30); from a stranger,
    ``stranger_threshold`` (5) decide."""
    one_by_one = [
        _s3("DeleteObject", f"2026-11-23T11:00:{i:02d}Z", key=f"r/{i}", **_THIEF) for i in range(20)
    ]
    found = mass_deletion(read_as("cloudtrail", _three_weeks() + one_by_one, tmp_path))
    assert found["severity"].to_list() == ["high"]
    assert "made 20 deletion(s) (s3_object)" in found["summary"][0]
    few = mass_deletion(read_as("cloudtrail", _three_weeks() + one_by_one[:4], tmp_path))
    assert few.height == 0
    # five to nine: medium (a person's first use of a phone app deletes a few too)
    some = mass_deletion(read_as("cloudtrail", _three_weeks() + one_by_one[:9], tmp_path))
    assert some["severity"].to_list() == ["medium"]
    assert mass_deletion(read_as("cloudtrail", _three_weeks() + one_by_one, tmp_path),
                         stranger_threshold=21).height == 0  # fmt: skip


def test_the_owner_deleting_from_a_hotel_is_not_a_stranger(tmp_path) -> None:
    """The developer's own CLI on a new network is not reported; a new version of it is
    medium (upgraded before the trip), a pipeline's role new on both is medium."""
    hotel = dict(ip="203.0.113.50")
    same = [_s3("DeleteObjects", "2026-11-23T11:00:20Z", **hotel)]
    assert mass_deletion(read_as("cloudtrail", _three_weeks() + same, tmp_path)).height == 0
    upgraded = [
        _s3("DeleteObjects", "2026-11-23T11:00:20Z", userAgent=_CLI.replace("2.15.0", "2.15.9"),
            **hotel)
    ]  # fmt: skip
    found = mass_deletion(read_as("cloudtrail", _three_weeks() + upgraded, tmp_path))
    assert found["severity"].to_list() == ["medium"]
    assert "(a version of a client it used before)" in found["summary"][0]
    # the analyst's daily console batches, from the office: nothing (checked above too)
    found = mass_deletion(
        read_as("cloudtrail", _three_weeks() + upgraded, tmp_path), exclude_actor_types=()
    )
    assert found["actor_id"].to_list() == ["arn:aws:iam::111122223333:user/dev"]


def test_a_service_deleting_as_a_stranger_is_medium(event, frame) -> None:
    """A service's key from a new network with a new client: medium (a pipeline's new
    runner with an upgraded tool looks the same); system actors are left out."""

    def delete(minutes: float, ip: str, agent: str, kind: str = "service") -> dict:
        return event("record.delete", "svc", minutes=minutes, actor_type=kind,
                     source={"ip": ip, "user_agent": agent})  # fmt: skip

    rows = [delete(d * 1440, "10.0.0.5", "deployer/1.0") for d in range(10)]
    odd = [delete(10 * 1440 + i, "185.220.101.9", "curl/8.5") for i in range(6)]
    found = mass_deletion(frame(rows + odd))
    assert found["severity"].to_list() == ["medium"]
    assert mass_deletion(frame(rows + odd[:4])).height == 0
    system = [r | {"actor": {"id": "svc", "type": "system"}} for r in rows + odd]
    assert mass_deletion(frame(system)).height == 0


def test_a_pipeline_on_new_runners_deleting_for_the_first_time_is_medium(tmp_path) -> None:
    """GitHub Actions' role session (typed a user by CloudTrail, one session name for every
    run) comes from a new runner network on every run: three weeks of Terraform, then a
    new job's first ``aws s3 sync --delete`` is a new client family on a new network,
    and still medium, not high."""
    role = "arn:aws:sts::111122223333:assumed-role/deploy/GitHubActions"
    issuer = {"type": "Role", "userName": "deploy", "arn": "arn:aws:iam::111122223333:role/deploy"}
    who = {"type": "AssumedRole", "arn": role, "principalId": "AROADEPLOY:GitHubActions",
           "accountId": "111122223333", "accessKeyId": "ASIADEPLOY",
           "sessionContext": {"sessionIssuer": issuer}}  # fmt: skip
    terraform = "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 terraform-provider-aws/5.31.0 lang/go#1.21"
    runs = [
        _s3("PutObject", f"2026-11-{day:02d}T{hour:02d}:00:00Z", key=f"state/{day}-{hour}",
            ip=f"20.{day}.{hour}.9", userAgent=terraform, userIdentity=who)
        for day in range(1, 22) for hour in (9, 13, 17)
    ]  # fmt: skip
    sync = [
        _s3("DeleteObject", f"2026-11-22T09:00:{i:02d}Z", key=f"site/{i}.html",
            ip="20.99.1.9", userIdentity=who)
        for i in range(10)
    ]  # fmt: skip
    found = mass_deletion(read_as("cloudtrail", runs + sync, tmp_path))
    assert found["severity"].to_list() == ["medium"]
    assert "it comes from a new network on most of its days" in found["summary"][0]
    # a person with the same history of Terraform from one office: high
    office = [r | {"sourceIPAddress": "198.51.100.14"} for r in runs]
    found = mass_deletion(read_as("cloudtrail", office + sync, tmp_path))
    assert found["severity"].to_list() == ["high"]


def test_a_wiper_who_tried_the_key_the_day_before_is_still_a_stranger(tmp_path) -> None:
    """A listing from the thief's machine two days before the batch deletion: its network
    and client are not yet the key's own."""
    knock = [_s3("ListObjectsV2", "2026-11-21T03:00:00Z", **_THIEF)]
    attack = [_s3("DeleteObjects", "2026-11-23T11:00:20Z", **_THIEF)]
    found = mass_deletion(read_as("cloudtrail", _three_weeks() + knock + attack, tmp_path))
    assert found["severity"].to_list() == ["high"]
