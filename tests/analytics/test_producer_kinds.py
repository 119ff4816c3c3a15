"""Target types as each producer spells them (``AWS::IAM::User``, Okta's ``User`` and
``UserGroup``, the canonical ``user``) mean the same to the detectors: the attacks below,
read through the real readers, were missed while the detectors compared ``"user"``."""

from __future__ import annotations

from pathlib import Path

from auditkit.analytics.detectors.accounts import suspicious_api_key
from auditkit.analytics.detectors.chains import recovery_takeover
from auditkit.analytics.detectors.privilege import side_door_privilege
from tests.analytics._producers import ACCOUNT, cloudtrail, okta, okta_user, read_as


def _okta_habit(login: str) -> list[dict[str, object]]:
    return [
        okta(
            "user.session.start",
            f"2026-03-{1 + d:02d}T09:00:00.000Z",
            actor=login,
            ip="198.51.100.20",
        )
        for d in range(8)
    ]


def test_okta_helpdesk_reset_then_a_sign_in_from_abroad(tmp_path: Path) -> None:
    """The helpdesk social-engineering takeover as Okta logs it: the reset's target is
    of type ``User``."""
    records = [
        *_okta_habit("ann"),
        okta("user.mfa.factor.reset_all", "2026-03-10T09:00:00.000Z", actor="helpdesk",
             ip="198.51.100.30", targets=[okta_user("ann")]),
        okta("user.session.start", "2026-03-10T09:30:00.000Z", actor="ann",
             ip="203.0.113.50", country="Romania"),
    ]  # fmt: skip
    found = recovery_takeover(read_as("okta", records, tmp_path))
    assert found.select("severity", "actor_id").rows() == [("critical", "00uann")]
    assert "by '00uhelpdesk'" in found["summary"][0]


def test_okta_user_adding_themselves_to_an_admin_group(tmp_path: Path) -> None:
    records = [
        *_okta_habit("bob"),
        okta("group.user_membership.add", "2026-03-10T09:00:00.000Z", actor="bob",
             ip="198.51.100.20", targets=[okta_user("bob"), {"id": "00g1", "type": "UserGroup",
             "alternateId": "unknown", "displayName": "Okta Super Admins"}]),
    ]  # fmt: skip
    found = side_door_privilege(read_as("okta", records, tmp_path))
    assert found.select("severity", "actor_id").rows() == [("critical", "00ubob")]
    assert "'Okta Super Admins'" in found["summary"][0]


def test_okta_a_user_added_to_an_ordinary_group_is_quiet(tmp_path: Path) -> None:
    records = [
        *_okta_habit("bob"),
        okta("group.user_membership.add", "2026-03-10T09:00:00.000Z", actor="bob",
             ip="198.51.100.20", targets=[okta_user("bob"), {"id": "00g2", "type": "UserGroup",
             "alternateId": "unknown", "displayName": "Marketing"}]),
    ]  # fmt: skip
    assert side_door_privilege(read_as("okta", records, tmp_path)).is_empty()


def test_cloudtrail_access_key_for_another_iam_user(tmp_path: Path) -> None:
    """``CreateAccessKey`` with a ``userName``: a key for someone else (``AWS::IAM::User``)."""
    frame = read_as(
        "cloudtrail",
        [
            cloudtrail("CreateAccessKey", "2026-03-10T14:00:00Z", request={"userName": "bob"}),
            # no userName: the caller's own key, in working hours
            cloudtrail("CreateAccessKey", "2026-03-10T14:05:00Z", user="carol", request={}),
        ],
        tmp_path,
    )
    found = suspicious_api_key(frame)
    assert found.select("actor_id").to_series().to_list() == [f"arn:aws:iam::{ACCOUNT}:user/ops"]
    assert f"for another user ('arn:aws:iam::{ACCOUNT}:user/bob')" in found["summary"][0]


def _ci_session(tmp_path: Path, agents: list[str], ips: list[str] | None = None):
    from auditkit.analytics.detectors.sessions import session_hijack

    records = []
    for i, agent in enumerate(agents):
        record = cloudtrail("GetFunction", f"2026-03-10T10:26:{10 + i:02d}Z",
                            source="lambda.amazonaws.com", ip=(ips or [])[i] if ips else
                            "52.242.97.110", request={"functionName": "api"})  # fmt: skip
        record["userIdentity"] = {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/github-actions-deploy/GitHubActions",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAQXL5KZ2TLUZOUKH7",
        }
        record["userAgent"] = agent
        records.append(record)
    return session_hijack(read_as("cloudtrail", records, tmp_path))


CLI = "aws-cli/2.15.28 Python/3.11.8 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off"


def test_a_cli_session_naming_each_command_is_one_client(tmp_path: Path) -> None:
    """The AWS CLI writes the command into its agent (``command/s3.cp``), SDKs their API
    and metrics; CloudFormation acting for the session writes its own name. One
    deployment job's session is one client, not a replayed token."""
    agents = [
        f"{CLI} command/s3.cp",
        f"{CLI} command/lambda.update-function-code",
        f"{CLI} md/command#lambda.get-function",
        "cloudformation.amazonaws.com",
        "AWS Internal",
        f"{CLI} command/lambda.update-alias",
    ]
    assert _ci_session(tmp_path, agents).is_empty()


def test_the_same_token_from_another_client_is_still_caught(tmp_path: Path) -> None:
    # another client from the runner's own address: a second tool of the job (low)
    found = _ci_session(tmp_path, [f"{CLI} command/s3.cp", "python-requests/2.31.0"])
    assert found.select("severity").to_series().to_list() == ["low"]
    assert "another user agent from the session's own network" in found["summary"][0]
    # the same token from another network with another client: replayed (high)
    found = _ci_session(
        tmp_path,
        [f"{CLI} command/s3.cp", "python-requests/2.31.0"],
        ["52.242.97.110", "45.155.205.233"],
    )
    assert found.select("severity").to_series().to_list() == ["high"]
    assert "another user agent" in found["summary"][0]
    # and from another network with the same client
    found = _ci_session(tmp_path, [f"{CLI} command/s3.cp"] * 2, ["52.242.97.110", "45.155.205.233"])
    assert found.height == 1
