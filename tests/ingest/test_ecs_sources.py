"""ECS documents of particular sources: Winlogbeat's Windows logons (a null SID is no
actor) and Filebeat's ``system.auth`` SSH logins (the core ``user.login``)."""

from __future__ import annotations

from typing import Any

import pytest

from auditkit.ingest.formats.ecs import EcsFormat
from auditkit.schema import normalize_event


def _read(doc: dict[str, Any], tenant: str | None = "corp") -> dict[str, Any]:
    return normalize_event(EcsFormat().to_event(doc, tenant=tenant))


def _winlogon(
    code: str, user: dict[str, Any] | None, event_data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Windows Security logon event as Winlogbeat (8.x, security module) writes it."""
    doc: dict[str, Any] = {
        "@timestamp": "2024-06-03T10:00:00.000Z",
        "agent": {"type": "winlogbeat", "version": "8.13.0"},
        "ecs": {"version": "8.0.0"},
        "host": {"name": "DC01"},
        "event": {
            "code": code,
            "kind": "event",
            "provider": "Microsoft-Windows-Security-Auditing",
            "action": "logon-failed" if code == "4625" else "logged-in",
            "category": ["authentication"],
            "type": ["start"],
            "outcome": "failure" if code == "4625" else "success",
            "module": "security",
            "dataset": "windows.security",
        },
        "source": {"ip": "203.0.113.60", "port": 50123},
        "winlog": {"event_id": code, "event_data": event_data or {}},
    }
    if user is not None:
        doc["user"] = user
    return doc


def test_a_failed_windows_logon_is_by_the_account_tried_not_the_null_sid() -> None:
    """Event 4625 carries the NULL SID (S-1-0-0) as ``user.id``: every failed logon had
    the one actor ``S-1-0-0``, and brute force against one account could not be told
    from failures spread over many.  The account name tried is the actor; the SID is
    kept in metadata."""
    admin = _read(_winlogon("4625", {"name": "administrator", "domain": "CORP", "id": "S-1-0-0"}))
    bob = _read(_winlogon("4625", {"name": "bob", "domain": "CORP", "id": "S-1-0-0"}))
    assert (admin["action"], admin["outcome"]) == ("user.login", "failure")
    assert admin["actor"]["id"] == "administrator" and admin["actor"]["type"] == "user"
    assert bob["actor"]["id"] == "bob"
    assert admin["metadata"]["user_sid"] == "S-1-0-0"


def test_a_failed_windows_logon_without_user_fields_names_the_target_user() -> None:
    """Without ``user.*`` (no ingest pipeline ran), 4625's ``TargetUserName`` is the
    account tried; a null ``TargetUserSid`` is not an id."""
    e = _read(
        _winlogon(
            "4625",
            None,
            {
                "TargetUserName": "svc-backup",
                "TargetDomainName": "CORP",
                "TargetUserSid": "S-1-0-0",
            },
        )
    )
    assert e["actor"]["id"] == "svc-backup" and e["actor"]["type"] == "user"
    e = _read(_winlogon("4625", {"id": "S-1-0-0"}, {"TargetUserName": "svc-backup"}))
    assert e["actor"]["id"] == "svc-backup"


def test_real_sids_stay_the_actor() -> None:
    """A real SID (an account's, or SYSTEM's S-1-5-18) identifies the account: kept."""
    ok = _read(
        _winlogon("4624", {"name": "ann", "id": "S-1-5-21-1004336348-1177238915-682003330-1104"})
    )
    assert ok["actor"] == {
        "id": "S-1-5-21-1004336348-1177238915-682003330-1104",
        "type": "user",
        "name": "ann",
    }
    assert "user_sid" not in ok["metadata"]
    system = _read(_winlogon("4624", {"name": "SYSTEM", "id": "S-1-5-18"}))
    assert system["actor"]["id"] == "S-1-5-18"


def test_a_null_sid_without_any_name_stays_the_actor_as_before() -> None:
    """No name at all: the null SID remains the last resort (unchanged), rather than the
    host standing in as a service."""
    e = _read(_winlogon("4625", {"id": "S-1-0-0"}))
    assert e["actor"] == {"id": "S-1-0-0", "type": "user"}


def _sshd(action: str, types: list[str], category: list[str] | None = None) -> dict[str, Any]:
    """A failed SSH login as Filebeat's system module (``system.auth``) writes it."""
    return {
        "@timestamp": "2024-06-03T10:03:00.123456Z",
        "event": {
            "category": ["authentication"] if category is None else category,
            "type": types,
            "action": action,
            "outcome": "failure",
            "module": "system",
            "dataset": "system.auth",
            "kind": "event",
        },
        "system": {"auth": {"ssh": {"event": "Invalid", "method": "password"}}},
        "user": {"name": "root"},
        "source": {"ip": "203.0.113.63", "port": 22},
        "host": {"hostname": "web-1"},
        "process": {"name": "sshd", "pid": 1234},
    }


@pytest.mark.parametrize(
    ("action", "types"),
    [
        ("ssh_login", ["info"]),  # Filebeat system.auth
        ("ssh_login", ["start"]),
        ("ssh_login", []),
        ("logged-in", ["info"]),
        ("logon-failed", ["info"]),
        ("user_login", ["info"]),
        ("sign-in", ["info"]),
        ("UserLoggedIn", ["info"]),
        ("failed_login", ["info"]),
        ("login_attempt_failed", ["info"]),
    ],
)
def test_an_authentication_named_as_a_login_is_user_login(action: str, types: list[str]) -> None:
    """``event.type: info`` (Filebeat's sshd events): the action was derived,
    ``system_ssh.login``, outside the core vocabulary and its login rules."""
    e = _read(_sshd(action, types))
    assert (e["action"], e["outcome"]) == ("user.login", "failure")
    assert e["actor"]["id"] == "root"
    assert e["metadata"]["source_action"] == action


@pytest.mark.parametrize(
    ("action", "category", "expected"),
    [
        ("ssh_login", ["process"], "system_ssh.login"),  # not an authentication
        ("password-change", ["authentication"], "system_password.change"),
        ("CreateLoginProfile", ["authentication"], "system_login_profile.create"),
        ("user.account.lock", ["authentication"], "user.account.lock"),
    ],
)
def test_other_authentication_actions_keep_their_names(
    action: str, category: list[str], expected: str
) -> None:
    assert _read(_sshd(action, ["info"], category))["action"] == expected
