"""recovery_takeover: a password or MFA reset, then a sign-in from a network the
account never used; and the resets and sign-ins of ordinary days that stay quiet."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.chains import recovery_takeover
from auditkit.errors import UsageError
from auditkit.frame import events_to_frame

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
HOME = {"ip": "198.51.100.20", "geo": {"country": "US"}}
AWAY = {"ip": "203.0.113.50", "geo": {"country": "RO"}}
VPN_SAME_COUNTRY = {"ip": "192.0.2.77", "geo": {"country": "US"}}
_IDS = itertools.count(1)


def _ev(minutes: float, action: str, actor: str, source: dict[str, Any] | None = None,
        **kw: Any) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {
        "tenant_id": "acme",
        "occurred_at": T0 + timedelta(minutes=minutes),
        "action": action,
        "actor": {"id": actor},
        "event_id": f"e{next(_IDS)}",
    }
    if source is not None:
        out["source"] = source
    out.update(kw)
    return out


def _habit(who: str = "dana", days: int = 8, source: dict[str, Any] = HOME) -> list[dict[str, Any]]:
    return [_ev(-(d + 1) * 24 * 60, "user.login", who, source) for d in range(days)]


def _reset(by: str = "helpdesk", who: str = "dana", action: str = "mfa.reset",
           source: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return _ev(0, action, by, source, targets=[{"id": who, "type": "user"}])


def _run(rows: list[dict[str, Any]], **kw: Any) -> pl.DataFrame:
    return recovery_takeover(events_to_frame(rows), **kw)


def test_helpdesk_reset_then_a_sign_in_from_abroad_is_critical_and_cites_both() -> None:
    rows = [*_habit(), _reset(), _ev(35, "user.login", "dana", AWAY),
            _ev(38, "mfa.enroll", "dana", AWAY, targets=[{"id": "dana", "type": "user"}]),
            _ev(50, "user.login", "dana", AWAY)]  # fmt: skip
    f = _run(rows)
    assert f.height == 1
    row = f.row(0, named=True)
    assert row["severity"] == "critical" and row["actor_id"] == "dana"
    assert row["event_ids"] == [rows[8]["event_id"], rows[9]["event_id"], rows[11]["event_id"]]
    assert "by 'helpdesk'" in row["summary"] and "8 earlier sign-ins" in row["summary"]
    assert row["summary"].count(" UTC") == 2


def test_a_new_network_in_the_accounts_own_country_is_high() -> None:
    f = _run([*_habit(), _reset(), _ev(20, "user.login", "dana", VPN_SAME_COUNTRY)])
    assert f["severity"].to_list() == ["high"]


@pytest.mark.parametrize("action", ["password.reset", "mfa.disable"])
def test_other_resets_count_too(action: str) -> None:
    f = _run([*_habit(), _reset(action=action), _ev(20, "user.login", "dana", AWAY)])
    assert f.height == 1 and f["summary"][0].startswith(action)


def test_the_user_at_their_desk_after_the_helpdesk_call_is_quiet() -> None:
    rows = [*_habit(), _reset(), _ev(6, "user.login", "dana", HOME),
            _ev(8, "mfa.enroll", "dana", HOME)]  # fmt: skip
    assert _run(rows).height == 0


def test_a_sign_in_after_follow_or_before_the_reset_is_not_the_resets() -> None:
    late = [*_habit(), _reset(), _ev(13 * 60, "user.login", "dana", AWAY)]
    assert _run(late).height == 0
    assert _run(late, follow="14h").height == 1
    before = [*_habit(), _ev(-30, "user.login", "dana", AWAY), _reset()]
    assert _run(before).height == 0


def test_an_account_without_a_habit_is_left_out() -> None:
    rows = [*_habit(days=3), _reset(), _ev(20, "user.login", "dana", AWAY)]
    assert _run(rows).height == 0
    assert _run(rows, min_logins=3).height == 1


def test_a_self_service_reset_counts_only_from_a_new_place_and_a_new_country() -> None:
    # at their desk, then a VPN never used: quiet
    desk = [*_habit(), _ev(0, "password.reset", "dana", HOME),
            _ev(30, "user.login", "dana", VPN_SAME_COUNTRY)]  # fmt: skip
    assert _run(desk).height == 0
    # at home for the first time, same country, then signing in from there: quiet
    home = [*_habit(), _ev(0, "password.reset", "dana", VPN_SAME_COUNTRY),
            _ev(1, "user.login", "dana", VPN_SAME_COUNTRY)]  # fmt: skip
    assert _run(home).height == 0
    # the intruder holding the mailbox: reset and sign-in from their own country
    intruder = [*_habit(), _ev(0, "password.reset", "dana", AWAY),
                _ev(3, "user.login", "dana", AWAY)]  # fmt: skip
    f = _run(intruder)
    assert f["severity"].to_list() == ["critical"] and "by itself" in f["summary"][0]


def test_a_sign_in_after_two_resets_is_reported_once_with_the_latest() -> None:
    again = _ev(10, "mfa.reset", "helpdesk-2", targets=[{"id": "dana", "type": "user"}])
    rows = [*_habit(), _reset(), again, _ev(30, "user.login", "dana", AWAY)]
    f = _run(rows)
    assert f.height == 1 and "'helpdesk-2'" in f["summary"][0]


def test_failed_resets_and_failed_sign_ins_do_not_count() -> None:
    failed_reset = {**_reset(), "outcome": "failure"}
    assert _run([*_habit(), failed_reset, _ev(20, "user.login", "dana", AWAY)]).height == 0
    failed_login = _ev(20, "user.login", "dana", AWAY, outcome="failure")
    assert _run([*_habit(), _reset(), failed_login]).height == 0


def test_other_accounts_and_tenants_are_apart() -> None:
    other = {**_ev(20, "user.login", "dana", AWAY), "tenant_id": "globex"}
    rows = [*_habit(), _reset(), other, _ev(25, "user.login", "erin", AWAY)]
    assert _run(rows).height == 0


def test_it_runs_in_the_registry_and_rejects_bad_settings() -> None:
    rows = [*_habit(), _reset(), _ev(20, "user.login", "dana", AWAY)]
    f = run_detectors(events_to_frame(rows), names=["recovery_takeover"])
    assert f["detector"].to_list() == ["recovery_takeover"]
    with pytest.raises(UsageError):
        _run(rows, min_logins=0)
    with pytest.raises(UsageError):
        _run(rows, follow="soon")


def test_a_changed_recovery_e_mail_counts_as_a_reset() -> None:
    """Where resets are sent is a recovery factor too: an intruder who changes the
    account's e-mail, then signs in from their own place, took it over."""

    def update(who: str, by: str, after: dict[str, Any], source: dict[str, Any]) -> dict:
        return _ev(0, "user.update", by, source, targets=[{"id": who, "type": "user"}],
                   changes={"before": {k: "old" for k in after}, "after": after})  # fmt: skip

    email = {"primaryEmail": "dana@evil.example"}
    for by, source in (("helpdesk", HOME), ("dana", AWAY)):
        found = _run(
            [*_habit(), update("dana", by, email, source), _ev(30, "user.login", "dana", AWAY)]
        )
        assert found["severity"].to_list() == ["critical"], by
        assert found["summary"][0].startswith("change of the recovery e-mail or phone")
    # a display name is not where resets go; the user changing their e-mail at home and
    # signing in from there is quiet
    name = update("dana", "dana", {"displayName": "Dana K."}, AWAY)
    assert _run([*_habit(), name, _ev(30, "user.login", "dana", AWAY)]).height == 0
    own = update("dana", "dana", {"mobilePhone": "+1 555 0100"}, HOME)
    assert _run([*_habit(), own, _ev(30, "user.login", "dana", HOME)]).height == 0
