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
