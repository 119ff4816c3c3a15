"""Account detectors: API keys, dormant accounts, break-glass."""

from __future__ import annotations

from auditkit.analytics.detectors.accounts import (
    break_glass,
    dormant_account,
    suspicious_api_key,
)


def _office_days(event, actor, days=20, per_day=5):
    # weekday office hours, 09:00-13:00 UTC
    return [
        event("document.read", actor, minutes=d * 1440 + h * 60)
        for d in range(days)
        for h in range(per_day)
    ]


def test_api_key_for_another_user(event, frame) -> None:
    rows = [
        event("api_key.create", "mallory", target="bob"),
        event("api_key.create", "alice", minutes=1, target="alice"),
        event("api_key.create", "admin", minutes=2, target={"id": "svc-sync", "type": "service"}),
    ]
    found = suspicious_api_key(frame(rows))
    assert found["actor_id"].to_list() == ["mallory"]
    assert found["severity"][0] == "medium"
    # the key itself listed first, the recipient second
    listed = event(
        "api_key.create",
        "mallory",
        targets=[{"id": "key-1", "type": "api_key"}, {"id": "carol", "type": "user"}],
    )
    assert "for another user ('carol')" in suspicious_api_key(frame([listed]))["summary"][0]


def test_api_key_at_an_unusual_hour(event, frame) -> None:
    history = _office_days(event, "alice")
    night = event("api_key.create", "alice", minutes=25 * 1440 - 9 * 60 + 3 * 60, target="alice")
    day = event("api_key.create", "alice", minutes=25 * 1440 + 60, target="alice")
    found = suspicious_api_key(frame([*history, night, day]))
    assert found["event_ids"].to_list() == [[night["event_id"]]]
    assert "rarely active (0.0% of their 101 events)" in found["summary"][0]
    both = event("api_key.create", "alice", minutes=26 * 1440 - 6 * 60, target="bob")
    found = suspicious_api_key(frame([*history, both]))
    assert found["severity"].to_list() == ["high"]
    # too little history to judge hours
    assert suspicious_api_key(frame([*history[:10], night])).height == 0


def test_dormant_account(event, frame) -> None:
    rows = [
        event("user.login", "kim", minutes=0),
        event("user.login", "kim", minutes=40 * 1440),
        event("document.export", "kim", minutes=40 * 1440 + 5),
        event("document.export", "kim", minutes=40 * 1440 + 300),  # beyond follow=1h
        event("user.login", "lee", minutes=0),
        event("user.login", "lee", minutes=20 * 1440),  # 20 days: not dormant
    ]
    found = dormant_account(frame(rows))
    assert found.height == 1
    assert found["event_ids"][0].to_list() == [rows[1]["event_id"], rows[2]["event_id"]]
    assert "after 40d idle" in found["summary"][0]


def test_failed_logins_do_not_end_dormancy(event, frame) -> None:
    rows = [
        event("user.login", "kim", minutes=0),
        event("user.login", "kim", minutes=20 * 1440, outcome="failure"),
        event("user.login", "kim", minutes=35 * 1440),
    ]
    found = dormant_account(frame(rows))
    assert found["event_ids"].to_list() == [[rows[2]["event_id"]]]


def test_break_glass(event, frame) -> None:
    rows = [
        event("user.login", "root"),
        event("settings.update", "root", minutes=10),
        event("user.login", "ops", minutes=20, metadata={"break_glass": True}),
        event("user.login", "ops", minutes=300, metadata={"break_glass": False}),
        event("user.login", "ops", minutes=400, metadata={"note": "break_glass drill"}),
        event("user.login", "rooter", minutes=500),
    ]
    found = break_glass(frame(rows)).sort("first_seen")
    assert found["actor_id"].to_list() == ["root", "ops"]
    assert len(found["event_ids"][0]) == 2
    assert break_glass(frame(rows), root_ids=("rooter",))["actor_id"].to_list() == [
        "ops",
        "rooter",
    ]


def test_a_console_password_made_for_another_iam_user(tmp_path) -> None:
    """Stratus Red Team's iam-create-user-login-profile: a console password given to an
    existing IAM user that had none (CloudTrail's ``CreateLoginProfile``, read as
    ``password.reset``) is a credential minted for someone else; onboarding a new user,
    and one's own, are not; nor is changing a password (``UpdateLoginProfile``) in a
    trail's first week (see ``test_cloud_evasion``)."""
    from tests.analytics._producers import cloudtrail, read_as

    def call(name: str, minute: int, user: str = "ops", target: str = "bob") -> dict:
        return cloudtrail(name, f"2024-03-20T10:{minute:02d}:00Z", user=user,
                          request={"userName": target})  # fmt: skip

    found = suspicious_api_key(read_as("cloudtrail", [call("CreateLoginProfile", 0)], tmp_path))
    assert found["severity"].to_list() == ["medium"]
    assert "created a console password (a login profile) for another user" in found["summary"][0]
    quiet = [
        call("CreateUser", 1, target="carol"), call("CreateLoginProfile", 2, target="carol"),
        call("UpdateLoginProfile", 3), call("CreateLoginProfile", 4, user="dave", target="dave"),
    ]  # fmt: skip
    assert suspicious_api_key(read_as("cloudtrail", quiet, tmp_path)).height == 0
