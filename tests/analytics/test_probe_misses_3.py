"""A red-team probe's third round: role sessions judged by whoever assumed them (a stolen
key's ``AssumeRole`` with the SDK's default session name is no "new actor"), a role
assumed by an AWS account that never came before, session tokens from a thief's
network, credentials made for another user from a new network (GitLab's admin-made
tokens, CloudTrail's keys and console passwords), a scheduled rotation, and an Okta group
made administrator and then joined.  Each record is read through the producer's reader."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors._principals import as_principals, session_principals
from tests.analytics._producers import ACCOUNT, cloudtrail, read_as
from tests.analytics._producers_3 import (
    BOTO,
    CLI,
    INTRUDER,
    OFFICE,
    assume_role,
    chained_intrusion,
    cross_account,
    gitlab_admin_habits,
    gitlab_token_for,
    habits,
    okta_group_made_admin,
    okta_habits,
    pipeline_runs,
    rotations,
    session_identity,
    session_token,
)

RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
BOB = f"arn:aws:iam::{ACCOUNT}:user/dev-bob"


def _worst(found: pl.DataFrame, detector: str | None = None) -> str | None:
    if detector is not None:
        found = found.filter(pl.col("detector") == detector)
    if found.height == 0:
        return None
    return max(found["severity"].to_list(), key=RANK.__getitem__)


def _high(found: pl.DataFrame) -> pl.DataFrame:
    return found.filter(pl.col("severity").is_in(["high", "critical"]))


# ------------------------------------------------------------------ role sessions


def test_a_role_session_is_judged_by_whoever_assumed_it(tmp_path: Path) -> None:
    """The session ``botocore-session-...`` is new, but dev-bob, whose key assumed it, had
    three weeks of office habits: the reads, the secrets and the credentials made for
    others are his, from a network and with a client he never used, at night."""
    events = read_as("cloudtrail", [*habits(), *chained_intrusion()], tmp_path)
    found = run_detectors(
        events, names=["reconnaissance", "secrets_harvesting", "suspicious_api_key"]
    )
    for detector in ("reconnaissance", "secrets_harvesting", "suspicious_api_key"):
        assert _worst(found, detector) == "high", (detector, found["summary"].to_list())
    assert set(_high(found)["actor_id"]) == {BOB}
    keys = found.filter(pl.col("detector") == "suspicious_api_key")["summary"].to_list()
    assert any("svc-backup" in s and INTRUDER in s for s in keys), keys
    assert any("ops-dan" in s for s in keys), keys


def test_sessions_are_linked_through_chains_and_by_their_arn(tmp_path: Path) -> None:
    """A session that assumes another role hands it its own principal; a session whose
    calls name no key is found by its ARN when one principal obtained it."""
    first = session_identity("OrgAdminRole", "botocore-session-1772503200", "ASIAEVIL0001")
    hop = assume_role("2026-03-24T02:30:00Z", "Hop", "botocore-session-1", "ASIAHOP1",
                      ip=INTRUDER, agent=BOTO, caller=first)  # fmt: skip
    keyless = session_identity("Hop", "botocore-session-1", "x")
    del keyless["accessKeyId"]
    call = cloudtrail("ListUsers", "2026-03-24T02:31:00Z", ip=INTRUDER, userIdentity=keyless)
    events = read_as("cloudtrail", [chained_intrusion()[0], hop, call], tmp_path)
    links = session_principals(events).sort("_key")
    assert links["_principal"].to_list() == [BOB, BOB]
    assert set(as_principals(events)["actor_id"]) == {BOB}


def test_a_session_name_two_principals_use_is_not_linked_by_name(tmp_path: Path) -> None:
    """``Terraform`` is the session name of every Terraform run: only the key links."""
    records = [
        assume_role("2026-03-02T01:00:00Z", "Plan", "Terraform", "ASIA1", ip=OFFICE, agent=CLI),
        assume_role("2026-03-03T01:00:00Z", "Plan", "Terraform", "ASIA2", ip=OFFICE, agent=CLI,
                    user="terraform-ci"),
        cloudtrail("ListUsers", "2026-03-03T01:01:00Z", ip=OFFICE,
                   userIdentity={**session_identity("Plan", "Terraform", "ASIA2")}),
        cloudtrail("ListRoles", "2026-03-03T01:02:00Z", ip=OFFICE,
                   userIdentity={k: v for k, v in session_identity("Plan", "Terraform", "x").items()
                                 if k != "accessKeyId"}),
    ]  # fmt: skip
    actors = as_principals(read_as("cloudtrail", records, tmp_path))["actor_id"].to_list()
    assert actors[2] == f"arn:aws:iam::{ACCOUNT}:user/terraform-ci"
    assert actors[3].startswith("arn:aws:sts::")  # two principals: the name says nothing


def test_a_trail_without_handed_out_credentials_is_left_as_it_is(tmp_path: Path) -> None:
    events = read_as("cloudtrail", habits(days=2), tmp_path)
    assert as_principals(events) is events


def test_pipeline_sessions_named_by_their_runs_are_not_high(tmp_path: Path) -> None:
    events = read_as("cloudtrail", pipeline_runs(), tmp_path)
    assert _high(run_detectors(events)).height == 0


# ------------------------------------------------------------------ identities taken on


def test_a_role_assumed_by_an_account_never_seen_is_high(tmp_path: Path) -> None:
    partner = [cross_account("222233334444", d, "partner-sync", f"ASIAP{d}", "52.18.44.7")
               for d in range(22)]  # fmt: skip
    thief = cross_account("999900001111", 22, "aws-go-sdk-1772503200", "ASIAX1", "45.83.64.1")
    found = run_detectors(read_as("cloudtrail", [*partner, thief], tmp_path),
                          names=["identity_pivot"])  # fmt: skip
    assert _worst(found) == "high", found["summary"].to_list()
    (summary,) = found["summary"].to_list()
    assert "999900001111" in summary and "never taken on an identity here" in summary


def test_the_partners_daily_assume_role_is_quiet(tmp_path: Path) -> None:
    partner = [cross_account("222233334444", d, "partner-sync", f"ASIAP{d}", "52.18.44.7")
               for d in range(23)]  # fmt: skip
    assert (
        run_detectors(read_as("cloudtrail", partner, tmp_path))
        .filter(pl.col("severity").is_in(["medium", "high", "critical"]))
        .height
        == 0
    )


def test_a_session_token_from_a_thiefs_network_and_tool_is_high(tmp_path: Path) -> None:
    daily = [session_token(d, "ops-alice", OFFICE, CLI, mfa=True) for d in range(22)]
    thief = session_token(22, "dev-bob", "5.188.10.77", "aws-go-sdk-1.50/go", mfa=False)
    events = read_as("cloudtrail", [*habits(), *daily, thief], tmp_path)
    found = run_detectors(events, names=["identity_pivot"])
    assert _worst(found) == "high"
    assert set(found["actor_id"]) == {BOB}, found["summary"].to_list()


# ------------------------------------------------------------------ credentials for others


def test_a_gitlab_token_for_another_user_from_a_new_network_is_high(tmp_path: Path) -> None:
    records = [*gitlab_admin_habits(), gitlab_token_for((4, "bob"), 22 + 2 / 24, INTRUDER)]
    found = run_detectors(read_as("gitlab", records, tmp_path), names=["suspicious_api_key"])
    assert _worst(found) == "high", found["summary"].to_list()
    assert INTRUDER in found["summary"][0]


def test_a_gitlab_token_for_a_service_user_from_the_office_is_not_high(tmp_path: Path) -> None:
    records = [*gitlab_admin_habits(), gitlab_token_for((950, "svc-renovate"), 22.45, OFFICE)]
    found = run_detectors(read_as("gitlab", records, tmp_path))
    assert _high(found).height == 0, found["summary"].to_list()


def test_a_scheduled_key_rotation_is_low(tmp_path: Path) -> None:
    found = run_detectors(read_as("cloudtrail", rotations(), tmp_path),
                          names=["suspicious_api_key"])  # fmt: skip
    later = found.filter(pl.col("first_seen") >= pl.lit("2026-03-16").str.to_datetime(
        time_zone="UTC"))  # fmt: skip
    # one finding for each week's run (its two keys made together)
    assert later.height == 2 and set(later["severity"]) == {"low"}, later["summary"].to_list()
    assert set(later["event_ids"].list.len()) == {2}
    assert "rotation" in later["summary"][0]
    assert _worst(found) == "medium"  # the first two weeks: not a routine yet


# ------------------------------------------------------------------ Okta groups


def test_a_member_added_to_a_group_just_made_admin_is_high(tmp_path: Path) -> None:
    records = [*okta_habits(), *okta_group_made_admin("Super administrator", True, OFFICE)]
    found = run_detectors(read_as("okta", records, tmp_path), names=["side_door_privilege"])
    assert _worst(found) == "high", found["summary"].to_list()
    (summary,) = found["summary"].to_list()
    assert "helpdesk-temp" in summary and "Super administrator" in summary
    assert found["event_ids"][0][0].startswith("group.privilege.grant")


def test_okta_group_work_like_it_stays_quiet(tmp_path: Path) -> None:
    """Members added to an ordinary group every day, and a group made read-only
    administrator that nobody is added to."""
    records = [*okta_habits(), *okta_group_made_admin("Read-only Administrator", False, OFFICE)]
    found = run_detectors(read_as("okta", records, tmp_path), names=["side_door_privilege"])
    assert found.height == 0, found["summary"].to_list()
