"""GitHub audit trails probed with attacks and look-alikes (a red-team pass over the
GitHub reader and the detectors): secret scanning and push protection switched off are
a security control weakened; a burst of deploy keys added at night is not hidden by its
own events; a team of an organisation whose name says "admin" or "owner" is not a
privileged team for that."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import read_as
from tests.analytics.test_github_detections import (
    ADMIN,
    DAY,
    DEV,
    INTRUDER,
    NIGHT,
    OFFICE,
    START,
    _event,
    _trail,
)

REPOS = [f"acme/repo{i}" for i in range(12)]


def _high(found: pl.DataFrame, detector: str) -> bool:
    hits = found.filter(pl.col("detector") == detector)
    return bool(hits.filter(pl.col("severity").is_in(["high", "critical"])).height)


@pytest.mark.parametrize(
    ("action", "setting"),
    [
        ("secret_scanning_push_protection.disable", "secret_scanning_push_protection_enabled"),
        ("repository_secret_scanning.disable", "secret_scanning_enabled"),
        ("repository_secret_scanning_push_protection.disable", "secret_scanning_push_protection"),
        ("business_secret_scanning.disable", "secret_scanning_enabled"),
        ("business_secret_scanning_push_protection.disable", "secret_scanning_push_protection"),
        ("secret_scanning_new_repos.disable", "secret_scanning_new_repos_enabled"),
    ],
)
def test_secret_scanning_switched_off_is_a_control_weakened(
    action: str, setting: str, tmp_path: Path
) -> None:
    found = run_detectors(
        _trail([_event(NIGHT, ADMIN, action, INTRUDER, repo="acme/payments")], tmp_path)
    )
    weakened = found.filter(pl.col("detector") == "security_control_weakened")
    assert weakened["severity"].to_list() == ["high"], found.select("detector", "summary")
    assert setting in weakened["summary"][0]
    assert "true → false" in weakened["summary"][0]


@pytest.mark.parametrize(
    "action",
    [
        "secret_scanning_push_protection.enable",
        "repository_secret_scanning.enable",
        "business_secret_scanning_push_protection.enable",
        "secret_scanning_new_repos.enable",
    ],
)
def test_secret_scanning_switched_on_is_not_reported(action: str, tmp_path: Path) -> None:
    found = run_detectors(_trail([_event(DAY, ADMIN, action, OFFICE)], tmp_path))
    assert "security_control_weakened" not in found["detector"].to_list()


def _deploy_keys(
    when: Any, who: tuple[int, str], ip: str, repos: list[str]
) -> list[dict[str, Any]]:
    return [
        _event(
            when + timedelta(seconds=9 * i),
            who,
            "deploy_key.create",
            ip,
            repo=repo,
            fingerprint=f"SHA256:k{i}",
            title="deploy",
            read_only=False,
        )
        for i, repo in enumerate(repos)
    ]


def _work(who: tuple[int, str]) -> list[dict[str, Any]]:
    """A developer's fetches through the working day, for 18 days (history enough to
    judge the hours of their key creations by)."""
    return [
        _event(START + timedelta(days=day, hours=hour), who, "git.fetch", OFFICE, repo="acme/api")
        for day in range(18)
        for hour in (9, 11, 14, 16)
    ]


def test_a_burst_of_deploy_keys_at_night_is_reported(tmp_path: Path) -> None:
    """Twelve deploy keys at 2 a.m.: the burst's own creations do not make 2 a.m. an hour
    the developer is active (before, they hid each other: 11 of the hour's events); the
    burst is one finding citing every key."""
    attack = _work(DEV) + _deploy_keys(NIGHT, DEV, INTRUDER, REPOS)
    found = run_detectors(_trail(attack, tmp_path))
    keys = found.filter(pl.col("detector") == "suspicious_api_key")
    assert keys.height == 1, found.select("detector", "severity", "summary")
    assert len(keys["event_ids"][0]) == len(REPOS)
    assert "an hour when they are rarely active" in keys["summary"][0]


def test_the_release_managers_deploy_keys_at_work_are_not_reported(tmp_path: Path) -> None:
    found = run_detectors(_trail(_work(DEV) + _deploy_keys(DAY, DEV, OFFICE, REPOS[:6]), tmp_path))
    assert "suspicious_api_key" not in found["detector"].to_list()
    assert not found.filter(pl.col("severity").is_in(["high", "critical"])).height


@pytest.mark.parametrize("org", ["admin-labs", "owner-io", "superuser-dev"])
def test_a_team_of_an_organisation_named_admin_is_not_privileged(org: str, tmp_path: Path) -> None:
    """GitHub names a team ``org/slug``: the slug is the team's name, so that adding a
    colleague to ``admin-labs/backend`` is not joining a privileged team."""
    records = []
    for day in range(14):
        when = START + timedelta(days=day, hours=10)
        records.append({**_event(when, ADMIN, "git.push", OFFICE, repo=f"{org}/api"), "org": org})
    records.append(
        {
            **_event(DAY, ADMIN, "team.add_member", OFFICE, team=f"{org}/backend", user=DEV[1]),
            "org": org,
        }
    )
    found = run_detectors(read_as("github", records, tmp_path, tenant="unused"))
    assert "side_door_privilege" not in found["detector"].to_list()


def test_a_team_named_admins_is_still_privileged(tmp_path: Path) -> None:
    joined = _event(DAY, DEV, "team.add_member", OFFICE, team="acme/admins", user=DEV[1])
    found = run_detectors(_trail([joined], tmp_path))
    assert _high(found, "side_door_privilege"), found.select("detector", "summary")
