"""A red-team probe's seventh round, attackers who know the thresholds, each record read
through the producer's reader: an Okta password spray from a residential-proxy pool (every
address tried once, one attempt an hour over three days), a slow guess at one account
from rotating addresses whose success comes from yet another one, a session cookie
replayed from a VPS of the victim's own country with the victim's browser string while the
victim still uses it, a CloudTrail service user (``svc-backup``) signing in to the
console from a network it never used; and their look-alikes (a phone retrying a stale
password at the office, a VPN that drops and comes back, a bot signing in from its own
network)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import cloudtrail, okta, read_as
from tests.analytics._producers_3 import BOTO, CLI, OFFICE, at
from tests.analytics._verdicts import highs, worst

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PEOPLE = [f"u{i:02d}" for i in range(12)]


def _ok(event_type: str, when: str, actor: str, ip: str, *, session: str | None = None,
        result: str = "SUCCESS", agent: str = CHROME) -> dict[str, Any]:  # fmt: skip
    """An Okta event with the browser's agent and Okta's session id."""
    record = okta(event_type, when, actor=actor, ip=ip, result=result)
    record["uuid"] += f"-{ip}-{session}"
    record["client"]["userAgent"] = {"rawUserAgent": agent}
    if session is not None:
        record["authenticationContext"] = {"externalSessionId": session}
    if result == "FAILURE":
        record["outcome"]["reason"] = "INVALID_CREDENTIALS"
    return record


def _workdays(days: int = 21, people: list[str] = PEOPLE) -> list[dict[str, Any]]:
    """Three weeks of people signing in at the office on working days, then two single
    sign-ons in the session."""
    out = []
    for day in range(days):
        if day % 7 >= 5:
            continue
        for i, p in enumerate(people):
            s = f"102{p}{day}"
            out.append(_ok("user.session.start", at(day, 13 + i / 60), p, OFFICE, session=s))
            out.append(_ok("user.authentication.sso", at(day, 13.3 + i / 60), p, OFFICE,
                           session=s))  # fmt: skip
    return out


def _proxies(n: int, seed: int) -> list[str]:
    """``n`` residential addresses, no two in one network."""
    rng = random.Random(seed)
    return [f"{rng.randint(60, 199)}.{i}.{rng.randint(1, 250)}.{rng.randint(1, 250)}"
            for i in range(n)]  # fmt: skip


# ------------------------------------------------------------------------- slow sprays


def _pool_spray(hours: int = 48) -> list[dict[str, Any]]:
    """One guess an hour, each from a new residential address, round the accounts."""
    return [_ok("user.session.start", at(21, h), PEOPLE[h % len(PEOPLE)], ip, result="FAILURE")
            for h, ip in enumerate(_proxies(hours, 7))]  # fmt: skip


def test_spray_from_a_proxy_pool_one_attempt_an_hour(tmp_path: Path) -> None:
    """No address, network or client in common and never two attempts in an hour: the
    accounts failing from places none of them signed in from is the spray (medium), and
    a sprayed account then signing in from a network it never used is high."""
    events = read_as("okta", [*_workdays(), *_pool_spray()], tmp_path)
    found = run_detectors(events, names=["slow_credential_attack"])
    assert worst(found) == "medium", found["summary"].to_list()
    assert "48 addresses none of the accounts had signed in from" in found["summary"][0]
    took = _ok("user.session.start", at(23.2), "u07", "73.12.44.201", session="evil")
    events = read_as("okta", [*_workdays(), *_pool_spray(), took], tmp_path)
    found = run_detectors(events, names=["slow_credential_attack"])
    assert worst(found) == "high", found["summary"].to_list()
    assert "then 00uu07 logged in" in found["summary"][0]
    # the look-alike: six people's phones retrying an old password from carrier
    # addresses, the people signing in at the office as every day: no high
    stale = [_ok("user.session.start", at(21, 8 + k), PEOPLE[k % 6], ip, result="FAILURE")
             for k, ip in enumerate(_proxies(12, 3))]  # fmt: skip
    events = read_as("okta", [*_workdays(23), *stale], tmp_path)
    assert highs(run_detectors(events)) == []


def test_slow_guess_from_rotating_addresses_then_a_success_elsewhere(tmp_path: Path) -> None:
    """Two guesses an hour at one account for a day, each from a new address, then a
    success from another address it never signed in from: high."""
    guesses = [_ok("user.session.start", at(21, h / 2), "u03", ip, result="FAILURE")
               for h, ip in enumerate(_proxies(40, 11))]  # fmt: skip
    took = _ok("user.session.start", at(21, 21), "u03", "73.1.2.3", session="evil")
    found = run_detectors(read_as("okta", [*_workdays(), *guesses, took], tmp_path),
                          names=["slow_credential_attack"])  # fmt: skip
    assert worst(found) == "high", found["summary"].to_list()
    assert "then a successful login from 73.1.2.3, a network it had never" in found["summary"][0]


def test_a_phone_retrying_an_old_password_at_the_office_is_not_high(tmp_path: Path) -> None:
    """Eight failures half an hour apart from the office network, then the owner types
    the new password there: medium (a colleague guessing there looks the same)."""
    retries = [_ok("user.session.start", at(22, 9 + i / 2), "u05", OFFICE, result="FAILURE")
               for i in range(8)]  # fmt: skip
    retries.append(_ok("user.session.start", at(22, 13), "u05", OFFICE, session="fine"))
    events = read_as("okta", [*_workdays(), *retries], tmp_path)
    found = run_detectors(events, names=["slow_credential_attack"])
    assert worst(found) == "medium", found["summary"].to_list()
    assert "a network it had made its own" in found["summary"][0]
    assert highs(run_detectors(events)) == []


# ----------------------------------------------------------------------- session theft

VPS = "45.33.32.156"
VPN = "198.51.100.99"


def _shared_session(other: str) -> list[dict[str, Any]]:
    """u01's session begun at the office, then used from ``other`` and the office in turn,
    every six minutes, with the same browser."""
    s = "102u01-22"
    out = [_ok("user.session.start", at(22, 13), "u01", OFFICE, session=s)]
    for i in range(6):
        ip = other if i % 2 == 0 else OFFICE
        out.append(_ok("user.authentication.sso", at(22, 13.1 + i / 10), "u01", ip, session=s))
    return out


def test_session_held_from_a_vps_while_the_victim_still_uses_it(tmp_path: Path) -> None:
    """The cookie replayed from a VPS of the victim's own country with the victim's
    browser string: the session goes back and forth between the office and a network
    the person never used: high."""
    events = read_as("okta", [*_workdays(), *_shared_session(VPS)], tmp_path)
    found = run_detectors(events, names=["session_hijack"])
    assert worst(found) == "high", found["summary"].to_list()
    assert "still used from its first network" in found["summary"][0]
    # the look-alike: the same back and forth between the office and the company VPN,
    # which the person uses every working day: medium at most
    vpn = [_ok("user.authentication.sso", at(day, 15), "u01", VPN, session=f"102u01{day}")
           for day in range(21) if day % 7 < 5]  # fmt: skip
    events = read_as("okta", [*_workdays(), *vpn, *_shared_session(VPN)], tmp_path)
    assert worst(run_detectors(events, names=["session_hijack"])) == "medium"
    assert highs(run_detectors(events)) == []


# ----------------------------------------------------------- a service used by a person


def _console(when: str, user: str, ip: str) -> dict[str, Any]:
    record = cloudtrail("ConsoleLogin", when, user=user, ip=ip, source="signin.amazonaws.com",
                        userAgent=CHROME, response={"ConsoleLogin": "Success"},
                        additionalEventData={"MFAUsed": "No"},
                        eventType="AwsConsoleSignIn")  # fmt: skip
    record["eventID"] += ip
    return record


def _aws_habits(bot: str, bot_ip: str = "34.120.44.7") -> list[dict[str, Any]]:
    """Three weeks of a developer's reads from the office and ``bot`` copying objects
    every night from its runner's network."""
    out = []
    for day in range(21):
        out.append(cloudtrail("GetObject", at(day, 2), user=bot, ip=bot_ip,
                              source="s3.amazonaws.com", userAgent=BOTO, readOnly=True,
                              request={"bucketName": "acme-data", "key": f"b/{day}"}))  # fmt: skip
        if day % 7 < 5:
            out.append(cloudtrail("ListBuckets", at(day, 10), user="dev-ann", ip=OFFICE,
                                  source="s3.amazonaws.com", userAgent=CLI,
                                  readOnly=True))  # fmt: skip
    return out


def test_service_user_signing_in_to_the_console_from_a_new_network(tmp_path: Path) -> None:
    """``svc-backup`` never signed in in three weeks; its password used at the console
    from a VPS, then a key made for it: high."""
    attack = [_console(at(22, 14), "svc-backup", "45.76.130.9"),
              cloudtrail("CreateAccessKey", at(22, 14.1), user="svc-backup", ip="45.76.130.9",
                         userAgent=CHROME, request={"userName": "svc-backup"})]  # fmt: skip
    events = read_as("cloudtrail", [*_aws_habits("svc-backup"), *attack], tmp_path)
    found = run_detectors(events, names=["break_glass"])
    assert worst(found) == "high", found["summary"].to_list()
    assert "a machine's account that had not signed in once" in found["summary"][0]
    # the look-alikes: ``ci-bot-2`` signing in from its runner's network (a tool that
    # needs the console once); a person's first console sign-in from home
    quiet = [_console(at(22, 2), "ci-bot-2", "34.120.44.9"),
             _console(at(22, 20), "dev-ann", "73.50.1.2")]  # fmt: skip
    events = read_as("cloudtrail", [*_aws_habits("ci-bot-2"), *quiet], tmp_path)
    assert run_detectors(events, names=["break_glass"]).height == 0
