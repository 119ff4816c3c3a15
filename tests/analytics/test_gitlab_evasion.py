"""GitLab attacks that used to give nothing, and the ordinary work that looks like them:
a group's two-factor requirement, IP restriction or SSO enforcement switched off, merge
request approvals no longer required, a second account made an Owner or an instance
administrator from the intruder's network, and a user's password set by an admin
followed by a sign-in from a network the user never used.  Each record is read through
the GitLab reader as the audit events API returns it (``details.change``, ``from``,
``to`` beside the event's name)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import read_as

START = datetime(2026, 9, 1, tzinfo=UTC)
OFFICE = "203.0.113.10"
INTRUDER = "185.220.101.45"
ADMIN = (100, "root-admin")
DEV = (4, "dana")
#: the last day, at 02:13 (the intruder) or 11:00 (the admins' usual hour)
NIGHT = START + timedelta(days=18, hours=2, minutes=13)
DAY = START + timedelta(days=18, hours=11)


def _event(
    when: datetime,
    author: tuple[int, str],
    name: str,
    entity: tuple[str, int, str],
    ip: str,
    **details: Any,
) -> dict[str, Any]:
    """One audit event as GitLab's API returns it."""
    kind, ident, path = entity
    return {
        "id": int(when.timestamp()) * 1000 + author[0] + len(name),
        "author_id": author[0],
        "entity_id": ident,
        "entity_type": kind,
        "event_name": name,
        "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "details": {
            "author_name": author[1],
            "author_email": f"{author[1]}@corp.example",
            "ip_address": ip,
            "target_id": details.pop("target_id", ident),
            "target_type": details.pop("target_type", kind),
            "target_details": details.pop("target_details", path),
            "entity_path": path,
            "event_name": name,
            **details,
        },
    }


GROUP = ("Group", 50, "corp")
PROJECT = ("Project", 501, "corp/api")
DANA = ("User", DEV[0], "dana")


def _login(when: datetime, who: tuple[int, str], ip: str) -> dict[str, Any]:
    return _event(
        when,
        who,
        "authenticated_with_password",
        ("User", who[0], who[1]),
        ip,
        **{"with": "standard"},
    )


def _member_added(
    when: datetime,
    author: tuple[int, str],
    entity: tuple[str, int, str],
    ip: str,
    member: tuple[int, str],
    role: str,
) -> dict[str, Any]:
    """GitLab's ``member_created``: ``member`` added to ``entity`` with access ``role``."""
    return _event(
        when,
        author,
        "member_created",
        entity,
        ip,
        target_id=member[0],
        target_type="User",
        target_details=member[1],
        add="user_access",
        **{"as": role},
    )


def _level_changed(
    when: datetime,
    author: tuple[int, str],
    entity: tuple[str, int, str],
    ip: str,
    member: tuple[int, str],
    old: str,
    new: str,
) -> dict[str, Any]:
    """GitLab's ``member_updated``: ``member``'s access level from ``old`` to ``new``."""
    return _event(
        when,
        author,
        "member_updated",
        entity,
        ip,
        target_id=member[0],
        target_type="User",
        target_details=member[1],
        change="access_level",
        **{"from": old, "to": new},
    )


def _trail(attack: list[dict[str, Any]], tmp_path: Path) -> pl.DataFrame:
    """Three weeks of weekday sign-ins from the office (the admin makes a developer a
    Maintainer now and then), then ``attack``."""
    records = []
    for day in range(18):
        d = START + timedelta(days=day)
        if d.weekday() >= 5:
            continue
        records += [_login(d + timedelta(hours=9), who, OFFICE) for who in (ADMIN, DEV)]
        if day % 4 == 1:
            records.append(
                _level_changed(
                    d + timedelta(hours=10),
                    ADMIN,
                    PROJECT,
                    OFFICE,
                    (7, "eve"),
                    "Developer",
                    "Maintainer",
                )
            )
    return read_as("gitlab", records + attack, tmp_path, tenant="corp")


def _change(
    name: str,
    entity: tuple[str, int, str],
    setting: str,
    old: Any,
    new: Any,
    *,
    when: datetime = NIGHT,
    ip: str = INTRUDER,
) -> dict[str, Any]:
    return _event(when, ADMIN, name, entity, ip, change=setting, **{"from": old, "to": new})


#: name -> (the events, the detector that must report it high)
ATTACKS: dict[str, tuple[list[dict[str, Any]], str]] = {
    "the group's two-factor requirement off": (
        [
            _change(
                "group_require_two_factor_authentication_updated",
                GROUP,
                "require_two_factor_authentication",
                "true",
                "false",
            )
        ],
        "security_control_weakened",
    ),
    "the group's IP restriction removed": (
        [_change("ip_restrictions_changed", GROUP, "ip_restrictions", "203.0.113.0/24", "")],
        "security_control_weakened",
    ),
    "SSO enforcement off": (
        [_change("group_saml_provider_update", GROUP, "enforced_sso", "true", "false")],
        "security_control_weakened",
    ),
    "authors may approve their own merge requests": (
        [
            _change(
                "merge_request_approval_operation",
                PROJECT,
                "prevent merge request approval from authors",
                "true",
                "false",
            )
        ],
        "security_control_weakened",
    ),
    "no approval needed to merge": (
        [
            _change(
                "project_approvals_before_merge_updated", PROJECT, "approvals_before_merge", 2, 0
            )
        ],
        "security_control_weakened",
    ),
    "force push allowed on a protected branch": (
        [
            _change(
                "protected_branch_allow_force_push_updated",
                PROJECT,
                "allow_force_push",
                "false",
                "true",
            )
        ],
        "security_control_weakened",
    ),
    "a new member added as Owner": (
        [_member_added(NIGHT, ADMIN, GROUP, INTRUDER, (77, "mallory"), "Owner")],
        "admin_grant_from_new_network",
    ),
    "a developer made Owner": (
        [_level_changed(NIGHT, ADMIN, GROUP, INTRUDER, DEV, "Developer", "Owner")],
        "admin_grant_from_new_network",
    ),
    "a user made an instance administrator": (
        [_change("user_admin_status_updated", DANA, "admin", "false", "true")],
        "admin_grant_from_new_network",
    ),
    "a user's password set by an admin, then a sign-in from elsewhere": (
        [
            _event(NIGHT, ADMIN, "user_password_updated", DANA, INTRUDER),
            _login(NIGHT + timedelta(minutes=3), DEV, INTRUDER),
        ],
        "recovery_takeover",
    ),
}

LOOK_ALIKES: dict[str, list[dict[str, Any]]] = {
    "two-factor required": [
        _change(
            "group_require_two_factor_authentication_updated",
            GROUP,
            "require_two_factor_authentication",
            "false",
            "true",
        )
    ],
    "an IP range added to the restriction": [
        _change(
            "ip_restrictions_changed",
            GROUP,
            "ip_restrictions",
            "203.0.113.0/24",
            "203.0.113.0/24,198.51.100.0/24",
        )
    ],
    "more approvals needed": [
        _change("project_approvals_before_merge_updated", PROJECT, "approvals_before_merge", 1, 2)
    ],
    "force push forbidden": [
        _change(
            "protected_branch_allow_force_push_updated",
            PROJECT,
            "allow_force_push",
            "true",
            "false",
        )
    ],
    "an Owner added from the office": [
        _member_added(DAY, ADMIN, GROUP, OFFICE, (78, "newlead"), "Owner")
    ],
    "a Maintainer made from a new network": [
        _level_changed(NIGHT, ADMIN, PROJECT, INTRUDER, DEV, "Developer", "Maintainer")
    ],
    "a user who makes a group owns it": [
        _event(DAY, DEV, "group_created", ("Group", 70, "corp/new"), OFFICE),
        _member_added(DAY, DEV, ("Group", 70, "corp/new"), OFFICE, DEV, "Owner"),
    ],
    "an administrator demoted": [
        _change("user_admin_status_updated", DANA, "admin", "true", "false")
    ],
    "a password set by an admin, then a sign-in from the office": [
        _event(DAY, ADMIN, "user_password_updated", DANA, OFFICE),
        _login(DAY + timedelta(minutes=20), DEV, OFFICE),
    ],
    "one's own password changed at home": [
        _event(NIGHT, DEV, "user_password_updated", DANA, "198.51.100.77"),
        _login(NIGHT + timedelta(minutes=2), DEV, "198.51.100.77"),
    ],
}


def _high(found: pl.DataFrame) -> list[str]:
    return sorted(found.filter(pl.col("severity").is_in(["high", "critical"]))["detector"])


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_gitlab_attack_is_reported_high(name: str, tmp_path: Path) -> None:
    events, detector = ATTACKS[name]
    found = run_detectors(_trail(events, tmp_path))
    assert detector in _high(found), found.select("detector", "severity", "summary")


@pytest.mark.parametrize("name", list(LOOK_ALIKES))
def test_gitlab_work_like_it_is_not_high(name: str, tmp_path: Path) -> None:
    found = run_detectors(_trail(LOOK_ALIKES[name], tmp_path))
    assert _high(found) == [], found.select("detector", "severity", "summary")


def test_a_named_event_keeps_what_it_changed(tmp_path: Path) -> None:
    """The setting, its old and its new value are the event's changes, and a member's
    access level its role."""
    two_fa, owner = (
        ATTACKS["the group's two-factor requirement off"][0][0],
        ATTACKS["a developer made Owner"][0][0],
    )
    frame = read_as("gitlab", [two_fa, owner], tmp_path, tenant="corp")
    assert frame["changes"].to_list()[0] == (
        '{"after":{"require_two_factor_authentication":"false"},'
        '"before":{"require_two_factor_authentication":"true"}}'
    )
    assert frame["action"].to_list() == ["policy.update", "team_member.update"]
    assert '"role":"Owner"' in frame["metadata"].to_list()[1]
