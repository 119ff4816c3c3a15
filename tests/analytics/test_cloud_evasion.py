"""Cloud attacks that used to give nothing, and the ordinary work that looks like them:
threat detection blinded by a request (GuardDuty switched off, a trusted address list,
a rule that archives every finding), guardrails taken away (a permissions boundary, a
domain's transfer lock), access handed to another account by a cluster access entry, a
bucket's replication or a domain transfer, and a managed policy rewritten to allow
everything.  Each record is read through the CloudTrail reader as AWS writes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import (
    ACCOUNT,
    GCP_PROJECT,
    cloudtrail,
    gcp,
    okta,
    okta_user,
    read_as,
)

OUTSIDE = "999988887777"
ADMIN_DOC = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
READ_DOC = json.dumps(
    {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}
)
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/dev-tools"

#: name -> (the calls, the detector that must report it high)
ATTACKS: dict[str, tuple[list[tuple[str, str, dict[str, Any]]], str]] = {
    "GuardDuty switched off": (
        [("UpdateDetector", "guardduty", {"detectorId": "d1", "enable": False})],
        "security_control_weakened",
    ),
    "a GuardDuty protection plan off": (
        [
            (
                "UpdateDetector",
                "guardduty",
                {
                    "detectorId": "d1",
                    "features": [{"name": "RUNTIME_MONITORING", "status": "DISABLED"}],
                },
            )
        ],
        "security_control_weakened",
    ),
    "a trusted address list": (
        [
            (
                "CreateIPSet",
                "guardduty",
                {
                    "detectorId": "d1",
                    "name": "ok",
                    "format": "TXT",
                    "location": "https://s3.amazonaws.com/b/ips.txt",
                    "activate": True,
                },
            )
        ],
        "security_control_weakened",
    ),
    "every finding archived": (
        [
            (
                "CreateFilter",
                "guardduty",
                {
                    "detectorId": "d1",
                    "name": "quiet",
                    "action": "ARCHIVE",
                    "findingCriteria": {"criterion": {"severity": {"gte": 0}}},
                },
            )
        ],
        "security_control_weakened",
    ),
    "a permissions boundary removed": (
        [("DeleteUserPermissionsBoundary", "iam", {"userName": "ops"})],
        "security_control_weakened",
    ),
    "a domain transferred away": (
        [
            ("DisableDomainTransferLock", "route53domains", {"domainName": "acme.example"}),
            (
                "TransferDomainToAnotherAwsAccount",
                "route53domains",
                {"domainName": "acme.example", "accountId": OUTSIDE},
            ),
        ],
        "external_access",
    ),
    "a cluster access entry for another account": (
        [
            (
                "CreateAccessEntry",
                "eks",
                {"clusterName": "prod", "principalArn": f"arn:aws:iam::{OUTSIDE}:role/x"},
            )
        ],
        "external_access",
    ),
    "a bucket replicated to another account": (
        [
            (
                "PutBucketReplication",
                "s3",
                {
                    "bucketName": "customer-data",
                    "ReplicationConfiguration": {
                        "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
                        "Rule": {
                            "Status": "Enabled",
                            "Destination": {"Bucket": "arn:aws:s3:::elsewhere", "Account": OUTSIDE},
                        },
                    },
                },
            )
        ],
        "external_access",
    ),
    "a managed policy rewritten to allow everything": (
        [
            (
                "CreatePolicyVersion",
                "iam",
                {"policyArn": POLICY, "policyDocument": ADMIN_DOC, "setAsDefault": True},
            )
        ],
        "side_door_privilege",
    ),
    "a Systems Manager document shared with every account": (
        [
            (
                "ModifyDocumentPermission",
                "ssm",
                {"name": "setup-db", "permissionType": "Share", "accountIdsToAdd": ["All"]},
            )
        ],
        "public_exposure",
    ),
}

#: ordinary work shaped like those: nothing high
LOOK_ALIKES: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "GuardDuty switched on": [("UpdateDetector", "guardduty", {"detectorId": "d", "enable": True})],
    "a protection plan on": [("UpdateDetector", "guardduty", {"detectorId": "d1", "features": [
        {"name": "RUNTIME_MONITORING", "status": "ENABLED"}]})],
    "a filter for one known scanner": [("CreateFilter", "guardduty", {
        "detectorId": "d1", "name": "scanner", "action": "ARCHIVE", "findingCriteria": {
            "criterion": {"type": {"eq": ["Recon:EC2/Portscan"]},
                          "resource.instanceDetails.instanceId": {"eq": ["i-0abc"]}}}})],
    "a filter that only marks findings": [("CreateFilter", "guardduty", {
        "detectorId": "d1", "name": "all", "action": "NOOP",
        "findingCriteria": {"criterion": {"severity": {"gte": 0}}}})],
    "a threat list (more detection)": [("CreateThreatIntelSet", "guardduty", {
        "detectorId": "d1", "name": "bad", "format": "TXT", "location": "s3://b/bad.txt",
        "activate": True})],
    "GuardDuty findings read all day": [("ListFindings", "guardduty", {"detectorId": "d1"}),
                                        ("GetFindings", "guardduty", {"detectorId": "d1"})],
    "a permissions boundary set": [("PutUserPermissionsBoundary", "iam", {
        "userName": "ops", "permissionsBoundary": POLICY})],
    "a domain's transfer lock on": [("EnableDomainTransferLock", "route53domains",
                                     {"domainName": "acme.example"})],
    "a cluster access entry for an own role": [("CreateAccessEntry", "eks", {
        "clusterName": "prod", "principalArn": f"arn:aws:iam::{ACCOUNT}:role/deploy"})],
    "replication within the account": [("PutBucketReplication", "s3", {
        "bucketName": "customer-data", "ReplicationConfiguration": {"Rule": {
            "Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::dr-copy",
                                                 "Account": ACCOUNT}}}})],
    "a policy version kept aside": [("CreatePolicyVersion", "iam", {
        "policyArn": POLICY, "policyDocument": ADMIN_DOC, "setAsDefault": False})],
    "a narrow policy version": [("CreatePolicyVersion", "iam", {
        "policyArn": POLICY, "policyDocument": READ_DOC, "setAsDefault": True})],
}  # fmt: skip


def _trail(calls: list[tuple[str, str, dict[str, Any]]], tmp_path: Path,
           *, routine: bool = False) -> pl.DataFrame:  # fmt: skip
    """Two weeks of the ops user's ordinary reads, then ``calls`` on the last day."""
    records = [
        cloudtrail("ListBuckets", f"2024-05-{day:02d}T09:00:00Z", source="s3.amazonaws.com")
        for day in range(1, 15)
    ]
    if routine:  # the same kind of change on three earlier days (a deployment's own)
        records += [
            cloudtrail(calls[0][0], f"2024-05-{day:02d}T10:00:00Z",
                       source=f"{calls[0][1]}.amazonaws.com",
                       request={**calls[0][2], "policyDocument": READ_DOC})
            for day in (3, 6, 9)
        ]  # fmt: skip
    records += [
        cloudtrail(name, f"2024-05-15T03:00:{i:02d}Z", source=f"{source}.amazonaws.com",
                   request=request)
        for i, (name, source, request) in enumerate(calls)
    ]  # fmt: skip
    return read_as("cloudtrail", records, tmp_path)


def _high(found: pl.DataFrame) -> list[tuple[str, str]]:
    top = found.filter(pl.col("severity").is_in(["high", "critical"]))
    return sorted(zip(top["detector"], top["summary"], strict=True))


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_attack_is_reported_high(name: str, tmp_path: Path) -> None:
    calls, detector = ATTACKS[name]
    found = run_detectors(_trail(calls, tmp_path))
    assert detector in [d for d, _ in _high(found)], found.select("detector", "severity")


@pytest.mark.parametrize("name", list(LOOK_ALIKES))
def test_ordinary_work_like_it_is_not_high(name: str, tmp_path: Path) -> None:
    found = run_detectors(_trail(LOOK_ALIKES[name], tmp_path))
    assert _high(found) == []


def test_a_deployment_that_rewrites_its_admin_policy_routinely_is_quiet(tmp_path: Path) -> None:
    """A pipeline that changes policies every few days, this time to allow everything,
    is not a side door: the same rewrite by a key that never changed a policy is."""
    calls, _ = ATTACKS["a managed policy rewritten to allow everything"]
    found = run_detectors(_trail(calls, tmp_path, routine=True), names=["side_door_privilege"])
    assert found.height == 0


def test_another_users_console_password_changed_is_reported_the_first_time(
    tmp_path: Path,
) -> None:
    """Stratus Red Team's change-iam-user-password: ``UpdateLoginProfile`` of another IAM
    user takes over their sign-in.  Reported the first time an actor does it once the
    trail has a week of history (medium); an actor who did it before is doing helpdesk
    work, and one's own password is no one else's."""
    reset = [("UpdateLoginProfile", "iam", {"userName": "alice", "passwordResetRequired": True})]
    found = run_detectors(_trail(reset, tmp_path), names=["suspicious_api_key"])
    assert found["severity"].to_list() == ["medium"]
    assert "changed the console password (the login profile) of another user" in found["summary"][0]
    # the same on three earlier days, from the trail's first week: a routine
    again = _trail(reset, tmp_path, routine=True)
    assert run_detectors(again, names=["suspicious_api_key"]).height == 0
    own = [("UpdateLoginProfile", "iam", {"userName": "ops"})]
    assert run_detectors(_trail(own, tmp_path), names=["suspicious_api_key"]).height == 0


def test_what_the_findings_say(tmp_path: Path) -> None:
    gd = run_detectors(_trail(ATTACKS["GuardDuty switched off"][0], tmp_path),
                       names=["security_control_weakened"])  # fmt: skip
    assert "guardduty_detector switched off (enable: false)" in gd["summary"][0]
    ips = run_detectors(_trail(ATTACKS["a trusted address list"][0], tmp_path),
                        names=["security_control_weakened"])  # fmt: skip
    assert "trusted: no findings for its addresses" in ips["summary"][0]
    out = run_detectors(_trail(ATTACKS["a domain transferred away"][0], tmp_path),
                        names=["external_access"])  # fmt: skip
    assert OUTSIDE in out["summary"][0]


# -- Google Cloud ---------------------------------------------------------------------
_KEYS = "constraints/iam.disableServiceAccountKeyCreation"
_V2 = "google.cloud.orgpolicy.v2.OrgPolicy."
_SCC = "google.cloud.securitycenter.v1.SecurityCenter."
GCP_ATTACKS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "service account keys allowed again": ("SetOrgPolicy", "cloudresourcemanager", {
        "policy": {"constraint": _KEYS, "booleanPolicy": {"enforced": False}}}),
    "sharing with any domain allowed": (_V2 + "UpdatePolicy", "orgpolicy", {"policy": {
        "name": f"projects/{GCP_PROJECT}/policies/iam.allowedPolicyMemberDomains",
        "spec": {"rules": [{"allowAll": True}]}}}),
    "OS Login requirement deleted": (_V2 + "DeletePolicy", "orgpolicy", {
        "name": f"projects/{GCP_PROJECT}/policies/compute.requireOsLogin"}),
    "every high finding muted at once": (
        _SCC + "BulkMuteFindings",
        "securitycenter",
        {"parent": f"projects/{GCP_PROJECT}", "filter": 'severity="HIGH"'},
    ),
    "every high finding muted": (_SCC + "CreateMuteConfig", "securitycenter", {
        "muteConfigId": "quiet",
        "muteConfig": {"filter": 'severity="HIGH" OR severity="CRITICAL"'}}),
}  # fmt: skip
GCP_LOOK_ALIKES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "service account keys forbidden": ("SetOrgPolicy", "cloudresourcemanager", {
        "policy": {"constraint": _KEYS, "booleanPolicy": {"enforced": True}}}),
    "an exception for tagged machines": (_V2 + "UpdatePolicy", "orgpolicy", {"policy": {
        "name": f"projects/{GCP_PROJECT}/policies/compute.vmExternalIpAccess",
        "spec": {"rules": [{"allowAll": True, "condition": {
            "expression": "resource.matchTag('123/bastion', 'yes')"}}, {"denyAll": True}]}}}),
    "one noisy category muted": (_SCC + "CreateMuteConfig", "securitycenter", {
        "muteConfigId": "scanner",
        "muteConfig": {"filter": 'category="OPEN_FIREWALL" AND resource.name:"dev-"'}}),
    "one finding muted by hand": (_SCC + "SetMute", "securitycenter", {"mute": "MUTED"}),
    "CI trusted through a workload identity pool": (
        "google.iam.v1.WorkloadIdentityPools.CreateWorkloadIdentityPoolProvider", "iam",
        {"workloadIdentityPoolProvider": {
            "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"}}}),
}  # fmt: skip


def _gcp_trail(call: tuple[str, str, dict[str, Any]], tmp_path: Path) -> pl.DataFrame:
    records = [
        gcp("v1.compute.instances.list", f"2024-05-{day:02d}T09:00:00Z",
            resource=f"projects/{GCP_PROJECT}/zones/europe-west1-b/instances")
        for day in range(1, 15)
    ]  # fmt: skip
    method, service, request = call
    records.append(
        gcp(method, "2024-05-15T03:00:00Z", resource=f"projects/{GCP_PROJECT}",
            service=f"{service}.googleapis.com", request=request, resource_type="project")
    )  # fmt: skip
    return read_as("gcp", records, tmp_path)


@pytest.mark.parametrize("name", list(GCP_ATTACKS))
def test_each_google_cloud_guardrail_taken_away_is_high(name: str, tmp_path: Path) -> None:
    found = run_detectors(_gcp_trail(GCP_ATTACKS[name], tmp_path))
    assert "security_control_weakened" in [d for d, _ in _high(found)], found


@pytest.mark.parametrize("name", list(GCP_LOOK_ALIKES))
def test_google_cloud_work_like_it_is_not_high(name: str, tmp_path: Path) -> None:
    assert _high(run_detectors(_gcp_trail(GCP_LOOK_ALIKES[name], tmp_path))) == []


def test_an_outside_issuer_trusted_by_a_workload_identity_pool_is_reported(
    tmp_path: Path,
) -> None:
    """Like an AWS OIDC provider: whoever holds the issuer's keys acts as the service
    accounts the pool may use (medium: CI is trusted this way too)."""
    call = (
        "google.iam.v1.WorkloadIdentityPools.CreateWorkloadIdentityPoolProvider",
        "iam",
        {"workloadIdentityPoolProvider": {"oidc": {"issuerUri": "https://idp.evil.example/"}}},
    )
    found = run_detectors(_gcp_trail(call, tmp_path), names=["external_access"])
    assert found["severity"].to_list() == ["medium"]
    assert "idp.evil.example" in found["summary"][0]


# -- Okta -----------------------------------------------------------------------------
def _okta_trail(event_type: str, target: dict[str, Any], tmp_path: Path) -> pl.DataFrame:
    records = [
        okta("user.session.start", f"2024-05-{day:02d}T09:00:00Z", actor=who, ip="198.51.100.10")
        for day in range(1, 15)
        for who in ("alice", "bob")
    ]
    records.append(
        okta(event_type, "2024-05-15T03:00:00Z", actor="alice", ip="185.220.101.47",
             targets=[target])
    )  # fmt: skip
    return read_as("okta", records, tmp_path)


def _okta_target(kind: str, name: str) -> dict[str, Any]:
    return {"id": f"0x{len(name)}", "type": kind, "alternateId": name, "displayName": name}


@pytest.mark.parametrize(
    ("name", "high"),
    [("Okta Verify", True), ("FIDO2 (WebAuthn)", True), ("Phone", False),
     ("Security Question", False), ("Email", False)],
)  # fmt: skip
def test_a_strong_okta_authenticator_switched_off_is_high(
    name: str, high: bool, tmp_path: Path
) -> None:
    """With Okta Verify or security keys deactivated for the organisation, users sign in
    with what is left; removing a phone call, a text, an e-mail or a security question is
    how organisations move to stronger factors."""
    trail = _okta_trail(
        "security.authenticator.lifecycle.deactivate", _okta_target("Authenticator", name), tmp_path
    )
    found = run_detectors(trail, names=["security_control_weakened"])
    assert found["severity"].to_list() == (["high"] if high else [])
    if high:
        assert f"authenticator '{name}' switched off" in found["summary"][0]


def test_an_okta_identity_provider_added_is_an_outside_issuer(tmp_path: Path) -> None:
    """The rogue identity provider of cross-tenant impersonation: medium, as a new
    AWS OIDC provider; an update of an existing one (a certificate rotated) is not news."""
    idp = _okta_target("IdentityProvider", "Partner SSO")
    found = run_detectors(
        _okta_trail("system.idp.lifecycle.create", idp, tmp_path), names=["external_access"]
    )
    assert found["severity"].to_list() == ["medium"]
    assert "identity provider Partner SSO" in found["summary"][0]
    updated = _okta_trail("system.idp.lifecycle.update", idp, tmp_path)
    assert run_detectors(updated, names=["external_access"]).height == 0


# -- an administrator made from an intruder's network ---------------------------------
def _grant_trail(
    tmp_path: Path,
    *,
    ip: str,
    client: str | None,
    day: int = 15,
    role: str = "Super administrator",
    to: str = "mallory",
    sparse: bool = False,
) -> pl.DataFrame:
    records = [
        okta("user.session.start", f"2024-05-{d:02d}T09:00:00Z", actor=who, ip="198.51.100.10")
        for d in range(1, 15)
        for who in ("alice", "bob")
        if who == "bob" or not sparse or d == 7  # an admin who signs in now and then
    ]
    for r in records:
        r["client"]["userAgent"] = {"rawUserAgent": "Mozilla/5.0 Firefox/126.0"}
    grant = okta("user.account.privilege.grant", f"2024-05-{day:02d}T03:00:00Z", actor="alice",
                 ip=ip, targets=[okta_user(to)])  # fmt: skip
    grant["debugContext"] = {"debugData": {"privilegeGranted": role}}
    if client is not None:
        grant["client"]["userAgent"] = {"rawUserAgent": client}
    return read_as("okta", [*records, grant], tmp_path)


def test_an_admin_made_from_a_new_network_with_a_new_client_is_high(tmp_path: Path) -> None:
    trail = _grant_trail(tmp_path, ip="185.220.101.47", client="python-requests/2.31")
    found = run_detectors(trail, names=["admin_grant_from_new_network"])
    assert found["severity"].to_list() == ["high"]
    assert "'Super administrator' to '00umallory'" in found["summary"][0]
    assert "185.220.101.47" in found["summary"][0]


@pytest.mark.parametrize(
    ("case", "kwargs", "severity"),
    [
        ("from a hotel with the usual browser",
         {"ip": "185.220.101.47", "client": "Mozilla/5.0 Firefox/126.0"}, ["medium"]),
        ("from the office", {"ip": "198.51.100.10", "client": "python-requests/2.31"}, []),
        ("by an admin seen on one day before, from the office",
         {"ip": "198.51.100.10", "client": "Mozilla/5.0 Firefox/126.0", "sparse": True}, []),
        ("in the trail's first week", {"ip": "185.220.101.47", "client": None, "day": 5}, []),
        ("a role that is no administrator", {"ip": "185.220.101.47", "client": None,
                                             "role": "Help Desk Viewer"}, []),
        ("to oneself (self_privilege_grant's)", {"ip": "185.220.101.47", "client": None,
                                                 "to": "alice"}, []),
    ],
)  # fmt: skip
def test_admin_grants_an_admin_would_make_are_quiet_or_medium(
    case: str, kwargs: dict[str, Any], severity: list[str], tmp_path: Path
) -> None:
    found = run_detectors(_grant_trail(tmp_path, **kwargs), names=["admin_grant_from_new_network"])
    assert found["severity"].to_list() == severity, case


def test_administrator_access_attached_from_a_stolen_key_is_reported(tmp_path: Path) -> None:
    """AWS: ``AttachUserPolicy`` of ``AdministratorAccess`` to another IAM user, with the
    ops user's key from a network and SDK it never used."""
    records = [
        cloudtrail("ListBuckets", f"2024-05-{day:02d}T09:00:00Z", source="s3.amazonaws.com")
        for day in range(1, 15)
    ]
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    attach = cloudtrail("AttachUserPolicy", "2024-05-15T03:00:00Z", ip="185.220.101.47",
                        request={"userName": "backup-svc", "policyArn": admin})  # fmt: skip
    attach["userAgent"] = "Boto3/1.34.2 md/Botocore#1.34.2 Python/3.12.1"
    trail = read_as("cloudtrail", [*records, attach], tmp_path)
    found = run_detectors(trail, names=["admin_grant_from_new_network"])
    assert found["severity"].to_list() == ["high"]
    assert "AdministratorAccess" in found["summary"][0]


# -- what Okta itself flagged ---------------------------------------------------------
def _flagged(event_type: str, debug: dict[str, Any], result: str = "SUCCESS") -> dict[str, Any]:
    record = okta(
        event_type, "2024-05-15T03:00:00Z", actor="alice", ip="185.220.101.47", result=result
    )
    record["debugContext"] = {"debugData": debug}
    return record


@pytest.mark.parametrize(
    ("record", "severity"),
    [
        # ThreatInsight in log-only mode let a sign-in it suspected through
        (_flagged("user.session.start", {"threatSuspected": "true"}), "high"),
        # the user answered "this wasn't me"
        (_flagged("user.account.report_suspicious_activity_by_enduser", {}), "high"),
        # the session's cookie used from another client
        (_flagged("security.session.detect_client_roaming", {}), "high"),
        (
            _flagged("user.session.start", {"risk": "{reasons=Anomalous Location, level=HIGH}"}),
            "medium",
        ),
        # refused: the failure rules count it
        (_flagged("user.session.start", {"threatSuspected": "true"}, "FAILURE"), None),
        (_flagged("user.session.start", {"risk": "{reasons=New Device, level=MEDIUM}"}), None),
        (_flagged("user.session.start", {"threatSuspected": "false"}), None),
        (_flagged("user.session.context.change", {}), None),
    ],
    ids=[
        "suspected",
        "reported",
        "roaming",
        "high-risk",
        "refused",
        "medium-risk",
        "not-suspected",
        "context-change",
    ],
)
def test_what_okta_flagged_itself_is_reported(
    record: dict[str, Any], severity: str | None, tmp_path: Path
) -> None:
    """An intruder's sign-in that Okta suspected or the user reported gave nothing when
    it came from a network with no other sign to it: the source's own verdict is read."""
    records = [
        okta(
            "user.session.start", f"2024-05-{day:02d}T09:00:00Z", actor="alice", ip="198.51.100.10"
        )
        for day in range(1, 15)
    ]
    found = run_detectors(read_as("okta", [*records, record], tmp_path), names=["source_flagged"])
    assert found["severity"].to_list() == ([severity] if severity else [])
