"""A red-team probe's ninth round, stolen credentials used without a sign-in, each record
read through the producer's reader: a developer's long-term AWS access key (``AKIA...``)
used from a VPS and from the office in turn within the same hour, by the same tool, while
the developer works on, and a GitHub personal access token so; and their look-alikes (the
person on the company VPN and at the office, a laptop and a cloud dev box of the person's
own networks, CI runners rotating addresses in one cloud range, a laptop that switched to
a phone's hotspot once); a Google Cloud service account's key minted from a new network,
then fewer reads than ``min_items`` from another; an Okta API token made by a new
administrator and used the next night from another country, with no session, for many
user and group changes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import GCP_PROJECT, cloudtrail, gcp, okta, okta_user, read_as
from tests.analytics._producers_3 import CLI, OFFICE, at, habits
from tests.analytics._verdicts import highs, worst
from tests.analytics.test_github_detections import DAY, DEV, START, _event
from tests.analytics.test_github_detections import INTRUDER as GH_INTRUDER
from tests.analytics.test_github_detections import OFFICE as GH_OFFICE
from tests.analytics.test_probe_misses_6 import GCP_OFFICE, SA, _gcp_habits
from tests.analytics.test_probe_misses_7 import CHROME

VPS = "45.76.130.9"
VPN = "198.51.100.99"
CALLS = [("ListBuckets", "s3"), ("DescribeInstances", "ec2"), ("ListUsers", "iam"),
         ("GetCallerIdentity", "sts")]  # fmt: skip


def _call(day: float, hour: float, user: str, ip: str, k: int) -> dict[str, Any]:
    name, service = CALLS[k % len(CALLS)]
    record = cloudtrail(name, at(day, hour), user=user, ip=ip, source=f"{service}.amazonaws.com",
                        userAgent=CLI, readOnly=True)  # fmt: skip
    record["eventID"] += f"-{ip}-{k}"
    return record


def _turns(other: str, user: str = "dev-ann", n: int = 16, day: int = 22) -> list[dict[str, Any]]:
    """``n`` calls four minutes apart with the user's key and CLI, from the office and
    ``other`` in turn."""
    return [_call(day, 10 + i / 15, user, other if i % 2 else OFFICE, i) for i in range(n)]


def _daily(ip: str, user: str = "dev-ann", hour: float = 15) -> list[dict[str, Any]]:
    """Three weeks of a working day's call from ``ip``."""
    return [_call(d, hour, user, ip, d) for d in range(21) if d % 7 < 5]


def _base() -> list[dict[str, Any]]:
    return [*habits("dev-ann"), *habits("dev-bob")]


def test_long_term_key_used_from_a_vps_and_the_office_in_turn(tmp_path: Path) -> None:
    """No session and no sign-in: the key's calls go back and forth between the office
    and a network the developer never used, with the same CLI: high, naming the key.
    The look-alike: the same back and forth between the office and the company VPN,
    which the developer uses every working day: quiet."""
    events = read_as("cloudtrail", [*_base(), *_turns(VPS)], tmp_path)
    found = run_detectors(events, names=["session_hijack"])
    assert worst(found) == "high", found["summary"].to_list()
    summary = found["summary"][0]
    assert "Key 'AKIADEV-ANN'" in summary and "45.76.130.0/24" in summary
    assert "two parties holding one key" in summary and "8 call(s) from there" in summary
    assert len(found["event_ids"][0]) == 9  # an office call, the VPS's eight
    events = read_as("cloudtrail", [*_base(), *_daily(VPN), *_turns(VPN)], tmp_path)
    assert run_detectors(events, names=["session_hijack"]).height == 0
    assert highs(run_detectors(events)) == []


def test_a_runner_key_on_a_vps_but_not_the_persons_dev_box_or_new_runners(
    tmp_path: Path,
) -> None:
    """The deploy user's key used from a VPS between its runner's calls is high; its
    runners rotating to a new network of the same cloud range every run, and a person's
    laptop and cloud dev box (a network of the person's own) in turn, are quiet."""

    def turns(other: str) -> list[dict[str, Any]]:
        return [_call(22, 2 + i / 15, "ci-deployer", other if i % 2 else "34.120.44.7", i)
                for i in range(16)]  # fmt: skip

    runs = [_call(d, 2, "ci-deployer", "34.120.44.7", d) for d in range(21)]
    found = run_detectors(read_as("cloudtrail", [*_base(), *runs, *turns(VPS)], tmp_path),
                          names=["session_hijack"])  # fmt: skip
    assert worst(found) == "high", found["summary"].to_list()
    rotating = [_call(22, 2 + i / 15, "ci-deployer", "34.120.44.7" if i % 2 == 0
                      else f"34.120.{90 + i}.5", i) for i in range(16)]  # fmt: skip
    events = read_as("cloudtrail", [*_base(), *runs, *rotating], tmp_path)
    assert run_detectors(events, names=["session_hijack"]).height == 0
    box = "35.180.12.40"
    events = read_as("cloudtrail", [*_base(), *_daily(box), *_turns(box)], tmp_path)
    assert run_detectors(events, names=["session_hijack"]).height == 0


def test_a_key_that_roams_every_day_is_medium(tmp_path: Path) -> None:
    """An account whose calls came from two networks within an hour on many days before
    (a pool of machines): the same back and forth with a new network is medium."""
    roams = [_call(d, 10.5, "dev-ann", f"81.2.{d}.9", d + 100) for d in range(21) if d % 7 < 5]
    events = read_as("cloudtrail", [*_base(), *roams, *_turns(VPS)], tmp_path)
    found = run_detectors(events, names=["session_hijack"])
    assert worst(found) == "medium", found["summary"].to_list()
    assert "on 15 earlier day(s)" in found["summary"][0]


def test_a_phone_hotspot_once_is_quiet_twice_from_a_vps_is_not(tmp_path: Path) -> None:
    """A laptop that switched to a phone's hotspot for one call and back: one stretch,
    quiet. Two stretches from a VPS an hour apart, across the hour: high."""
    calls = [_call(22, 10 + i / 15, "dev-ann", "172.58.3.9" if i == 5 else OFFICE, i)
             for i in range(16)]  # fmt: skip
    events = read_as("cloudtrail", [*_base(), *calls], tmp_path)
    assert run_detectors(events, names=["session_hijack"]).height == 0
    calls = [_call(22, 10.5 + i / 12, "dev-ann", VPS if i in (3, 8) else OFFICE, i)
             for i in range(12)]  # fmt: skip
    found = run_detectors(read_as("cloudtrail", [*_base(), *calls], tmp_path),
                          names=["session_hijack"])  # fmt: skip
    assert worst(found) == "high", found["summary"].to_list()


def test_github_token_used_from_the_office_and_a_vps_in_turn(tmp_path: Path) -> None:
    """A developer's personal access token (GitHub's ``hashed_token``) cloning from a
    VPS between the developer's own pushes from the office: high. Every record of the
    trail carries the token; the same pushes without the VPS are quiet."""
    token = {"programmatic_access_type": "Personal access token (classic)",
             "hashed_token": "kq3Yc1mEw1d5Xh2NQ0n0zXJ0ZxY=", "token_id": 881}  # fmt: skip
    records = []
    for day in range(18):
        d = START + timedelta(days=day)
        if d.weekday() < 5:
            records.append(_event(d + timedelta(hours=9), DEV, "git.push", GH_OFFICE,
                                  repo="acme/api", **token))  # fmt: skip
    turns = [_event(DAY + timedelta(minutes=4 * i), DEV, "git.clone" if i % 2 else "git.push",
                    GH_INTRUDER if i % 2 else GH_OFFICE, repo=f"acme/r{i}", **token)
             for i in range(12)]  # fmt: skip
    events = read_as("github", [*records, *turns], tmp_path, tenant="unused")
    found = run_detectors(events, names=["session_hijack"])
    assert worst(found) == "high", found["summary"].to_list()
    assert "kq3Yc1mEw1d5Xh2NQ0n0zXJ0ZxY=" in found["summary"][0]
    office = [t for i, t in enumerate(turns) if i % 2 == 0]
    events = read_as("github", [*records, *office], tmp_path, tenant="unused")
    assert run_detectors(events, names=["session_hijack"]).height == 0


# ---------------------------------------------------------------------------------- GCP


def _sa_key(ip: str) -> dict[str, Any]:
    return gcp("google.iam.admin.v1.CreateServiceAccountKey", at(22, 1), actor="alice@acme.io",
               ip=ip, service="iam.googleapis.com", resource=f"projects/-/serviceAccounts/{SA}",
               resource_type="service_account")  # fmt: skip


def _sa_reads(ip: str, n: int = 6) -> list[dict[str, Any]]:
    return [gcp("storage.objects.get", at(22, 1.5 + i / 600), actor=SA, ip=ip,
                resource=f"projects/_/buckets/{GCP_PROJECT}-data/objects/o{i}.csv",
                service="storage.googleapis.com", resource_type="gcs_bucket")
            for i in range(n)]  # fmt: skip


def test_service_account_key_minted_from_a_new_network_then_a_few_reads(tmp_path: Path) -> None:
    """A person's account mints the ETL account's key at night from an address the project
    never used; half an hour later the account reads six objects (under ``min_items``)
    from another new address: high. The same key made at the office, then six reads
    from a new address: medium. Made from the new address but used from the account's
    own network: quiet."""

    def found(*records: dict[str, Any]) -> Any:
        events = read_as("gcp", [*_gcp_habits(), *records], tmp_path, tenant=GCP_PROJECT)
        return run_detectors(events, names=["new_key_exfiltration"])

    hit = found(_sa_key("45.137.21.9"), *_sa_reads("45.137.22.40"))
    assert worst(hit) == "high", hit["summary"].to_list()
    assert "a network this tenant had not made its own" in hit["summary"][0]
    assert "read 6 distinct item(s)" in hit["summary"][0] and len(hit["event_ids"][0]) == 7
    office = found(_sa_key(GCP_OFFICE), *_sa_reads("45.137.22.40"))
    assert worst(office) == "medium", office["summary"].to_list()
    assert found(_sa_key("45.137.21.9"), *_sa_reads("35.191.0.9")).height == 0


# --------------------------------------------------------------------------------- Okta

SDK = "okta-sdk-python/2.9.2 python/3.11.8 Linux/6.5"


def _okta_changes(hour: float, ip: str, country: str, *, session: str | None = None,
                  n: int = 30) -> list[dict[str, Any]]:  # fmt: skip
    """``n`` user and group changes by the administrator ``kim``: with an API token
    (Okta records the token's owner as the actor, with no session) unless ``session``."""
    sales = {"id": "00gSALES", "type": "UserGroup", "displayName": "Sales"}
    out = []
    for i in range(n):
        event = ("group.user_membership.add", "user.lifecycle.create",
                 "user.account.update_password")[i % 3]  # fmt: skip
        record = okta(event, at(22, hour + i / 120), actor="kim", ip=ip, country=country,
                      targets=[okta_user(f"new{i}"), sales])  # fmt: skip
        record["uuid"] += f"-{i}"
        record["client"]["userAgent"] = {"rawUserAgent": SDK if session is None else CHROME}
        record["transaction"] = {"type": "WEB", "id": f"tx-{hour}-{i}"}
        if session is not None:
            record["authenticationContext"] = {"externalSessionId": session}
        out.append(record)
    return out


def _okta_trail() -> list[dict[str, Any]]:
    """Three weeks of people signing in at the office in the United States; ``kim``, an
    administrator for three days, makes an API token there on day 21."""
    out = [okta("user.session.start", at(d, 9), actor=p, ip=OFFICE)
           for d in range(21) for p in ("amy", "ben", "raj")]  # fmt: skip
    out += [okta("user.session.start", at(d, 14), actor="kim", ip=OFFICE) for d in (18, 19, 20)]
    token = {"id": "00Tsync", "type": "Token", "displayName": "sync"}
    out.append(okta("system.api_token.create", at(21, 14.5), actor="kim", ip=OFFICE,
                    targets=[token]))  # fmt: skip
    return out


def test_okta_api_token_used_the_next_night_from_another_country(tmp_path: Path) -> None:
    """The token made at the office is used the next night from Romania for 30 user and
    group changes, none in a session: high, naming the token. The look-alikes: the
    administrator abroad the next day making the same changes in the admin console (a
    session), and the integration the token was made for doing them from a server in
    the United States, are quiet."""
    events = read_as("okta", [*_okta_trail(), *_okta_changes(2, "89.45.12.7", "Romania")],
                     tmp_path)  # fmt: skip
    found = run_detectors(events, names=["new_key_exfiltration"])
    assert worst(found) == "high", found["summary"].to_list()
    summary = found["summary"][0]
    assert "API key 'sync' created by '00ukim'" in summary and "30 change(s)" in summary
    assert "from Romania" in summary and len(found["event_ids"][0]) == 31
    abroad = _okta_changes(10, "89.45.12.7", "Romania", session="102kim-abroad")
    events = read_as("okta", [*_okta_trail(), *abroad], tmp_path)
    assert run_detectors(events, names=["new_key_exfiltration"]).height == 0
    server = _okta_changes(2, "34.120.44.7", "United States")
    events = read_as("okta", [*_okta_trail(), *server], tmp_path)
    assert run_detectors(events, names=["new_key_exfiltration"]).height == 0
    assert highs(run_detectors(events)) == []
