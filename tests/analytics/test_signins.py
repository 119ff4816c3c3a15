"""``login_without_mfa``: a console sign-in without MFA by an account that always used
it (Stratus Red Team's console-login-without-mfa), read through the CloudTrail reader;
and the sign-ins that stay quiet or medium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.signins import login_without_mfa
from auditkit.errors import UsageError
from tests.analytics._producers import ACCOUNT, cloudtrail, read_as


def _login(day: int, mfa: str, *, user: str = "dave", ip: str = "198.51.100.23",
           result: str = "Success", hour: int = 9) -> dict[str, Any]:  # fmt: skip
    record = cloudtrail("ConsoleLogin", f"2026-03-{day:02d}T{hour:02d}:00:00Z", user=user,
                        source="signin.amazonaws.com", ip=ip,
                        response={"ConsoleLogin": result})  # fmt: skip
    record["additionalEventData"] = {
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAUsed": mfa,
    }
    record["eventType"] = "AwsConsoleSignIn"
    return record


def _habit(user: str = "dave", days: int = 12) -> list[dict[str, Any]]:
    return [_login(d, "Yes", user=user) for d in range(1, days + 1)]


def _run(records: list[dict[str, Any]], tmp_path: Path, **kw: Any):
    return login_without_mfa(read_as("cloudtrail", records, tmp_path), **kw)


def test_a_password_alone_for_an_account_that_always_used_mfa_is_high(tmp_path: Path) -> None:
    found = _run([*_habit(), _login(13, "No", ip="185.220.101.47")], tmp_path)
    assert found.height == 1
    row = found.row(0, named=True)
    assert row["severity"] == "high" and row["actor_id"] == f"arn:aws:iam::{ACCOUNT}:user/dave"
    assert "without MFA at 2026-03-13 09:00 UTC from 185.220.101.47" in row["summary"]
    assert "after 12 sign-ins in a row with it" in row["summary"]
    assert len(row["event_ids"]) == 1


def test_only_the_first_sign_in_without_mfa_is_reported(tmp_path: Path) -> None:
    records = [*_habit(), _login(13, "No"), _login(14, "No"), _login(15, "Yes"), _login(16, "No")]
    assert _run(records, tmp_path).height == 1


def test_what_stays_quiet(tmp_path: Path) -> None:
    # an account that never used MFA; one that seldom does; a refused sign-in; too short
    # a habit; a federated role whose MFA is at the identity provider
    records = [
        *[_login(d, "No", user="erin") for d in range(1, 14)],
        *[_login(d, "Yes" if d % 3 else "No", user="finn") for d in range(1, 14)],
        *_habit("gil"), _login(13, "No", user="gil", result="Failure"),
        *_habit("hal", days=3), _login(4, "No", user="hal"),
    ]  # fmt: skip
    assert _run(records, tmp_path).is_empty()


def test_after_the_accounts_mfa_was_reset_it_is_medium_and_cites_the_reset(
    tmp_path: Path,
) -> None:
    reset = cloudtrail("DeactivateMFADevice", "2026-03-12T17:00:00Z", user="helpdesk",
                       request={"userName": "dave",
                                "serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/dave"})  # fmt: skip
    found = _run([*_habit(), reset, _login(13, "No")], tmp_path)
    row = found.row(0, named=True)
    assert row["severity"] == "medium"
    assert f"mfa.disable by 'arn:aws:iam::{ACCOUNT}:user/helpdesk' 16h before" in row["summary"]
    assert len(row["event_ids"]) == 2
    # a reset long before does not explain it
    assert _run([*_habit(), reset, _login(20, "No")], tmp_path)["severity"].to_list() == ["high"]


def test_canonical_events_say_it_in_metadata() -> None:
    from auditkit.frame import events_to_frame

    rows = [
        {"tenant_id": "acme", "occurred_at": f"2026-01-{d:02d}T09:00:00Z",
         "action": "user.login", "actor": {"id": "ann"}, "metadata": {"mfa": d < 9}}
        for d in range(1, 10)
    ]  # fmt: skip
    assert login_without_mfa(events_to_frame(rows))["severity"].to_list() == ["high"]


def test_it_runs_in_the_registry_and_rejects_bad_settings(tmp_path: Path) -> None:
    frame = read_as("cloudtrail", [*_habit(), _login(13, "No")], tmp_path)
    found = run_detectors(frame, names=["login_without_mfa"])
    assert found["detector"].to_list() == ["login_without_mfa"]
    assert found["score"].is_null().all()
    for bad in ({"min_logins": 0}, {"after_reset": "soon"}):
        with pytest.raises(UsageError):
            login_without_mfa(frame, **bad)
