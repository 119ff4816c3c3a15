"""``external_access``: grants to an AWS account or a Google identity outside the
tenant's own, read from CloudTrail's and Google Cloud's records as imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditkit.analytics.detectors.trust import external_access
from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

OWN = "111122223333"
OUTSIDE = "999988887777"
PARTNER = "444455556666"


def _record(name: str, source: str, request: dict[str, Any], *, day: int = 10, **extra: Any):
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": f"arn:aws:iam::{OWN}:user/ops",
            "accountId": OWN,
            "userName": "ops",
        },
        "eventTime": f"2024-05-{day:02d}T03:00:00Z",
        "eventSource": f"{source}.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-central-1",
        "sourceIPAddress": "198.51.100.14",
        "requestParameters": request,
        "eventID": f"{name}-{day}-{abs(hash(json.dumps(request, sort_keys=True))) % 10**9}",
        "recipientAccountId": OWN,
        **extra,
    }


def _trust(
    *principals: str,
    effect: str = "Allow",
    condition: dict | None = None,
    action: str = "sts:AssumeRole",
) -> str:
    statement: dict[str, Any] = {
        "Effect": effect,
        "Principal": {"AWS": list(principals)},
        "Action": action,
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _partner_call() -> dict[str, Any]:
    """A partner's role acting in the tenant: its account is known."""
    record = _record("DescribeInstances", "ec2", {}, day=1)
    record["userIdentity"] = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{PARTNER}:assumed-role/Audit/session",
        "accountId": PARTNER,
    }
    return record


def _baseline() -> list[dict[str, Any]]:
    return [_record("DescribeInstances", "ec2", {}, day=1), _partner_call()]


def _events(records: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}))
    source = get_format("cloudtrail")
    return [
        normalize_event(source.to_event(r.value, tenant="acme")) for r in source.records(str(path))
    ]


GRANTS = {
    "role trusted by another account": _record(
        "UpdateAssumeRolePolicy",
        "iam",
        {"roleName": "admin", "policyDocument": _trust(f"arn:aws:iam::{OUTSIDE}:root")},
    ),
    "snapshot shared": _record(
        "ModifySnapshotAttribute",
        "ec2",
        {
            "snapshotId": "snap-1",
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": [{"userId": OUTSIDE}]}},
        },
    ),
    "database snapshot shared": _record(
        "ModifyDBSnapshotAttribute",
        "rds",
        {"dBSnapshotIdentifier": "prod", "attributeName": "restore", "valuesToAdd": [OUTSIDE]},
    ),
}

#: Resource policies a partner could read through: reported, medium.
POLICIES = {
    "secret's policy": _record(
        "PutResourcePolicy",
        "secretsmanager",
        {
            "secretId": "prod/db",
            "resourcePolicy": _trust(OUTSIDE, action="secretsmanager:GetSecretValue"),
        },
    ),
    "a vendor's integration role, with an external id": _record(
        "CreateRole",
        "iam",
        {
            "roleName": "DatadogIntegration",
            "assumeRolePolicyDocument": _trust(
                f"arn:aws:iam::{OUTSIDE}:root",
                condition={"StringEquals": {"sts:ExternalId": "f9a1c0d2"}},
            ),
        },
    ),
    "function callable by an account": _record(
        "AddPermission20150331v2",
        "lambda",
        {"functionName": "billing", "action": "lambda:InvokeFunction", "principal": OUTSIDE},
    ),
}

NOT_OUTSIDE = {
    "own account": _record(
        "UpdateAssumeRolePolicy",
        "iam",
        {"roleName": "admin", "policyDocument": _trust(f"arn:aws:iam::{OWN}:root")},
    ),
    "a partner that acts in the tenant": _record(
        "UpdateAssumeRolePolicy",
        "iam",
        {"roleName": "audit", "policyDocument": _trust(f"arn:aws:iam::{PARTNER}:role/Audit")},
    ),
    "a denial": _record(
        "PutResourcePolicy",
        "secretsmanager",
        {"secretId": "prod/db", "resourcePolicy": _trust(OUTSIDE, effect="Deny")},
    ),
    "an account only in a condition": _record(
        "UpdateAssumeRolePolicy",
        "iam",
        {
            "roleName": "ci",
            "policyDocument": _trust(
                f"arn:aws:iam::{OWN}:root",
                condition={"StringEquals": {"aws:SourceAccount": OUTSIDE}},
            ),
        },
    ),
    "a share taken back": _record(
        "ModifySnapshotAttribute",
        "ec2",
        {
            "snapshotId": "snap-1",
            "createVolumePermission": {"remove": {"items": [{"userId": OUTSIDE}]}},
        },
    ),
    "a policy deleted": _record("DeleteBucketPolicy", "s3", {"bucketName": OUTSIDE}),
}


@pytest.mark.parametrize("name", list(GRANTS))
def test_a_first_grant_outside_is_high(name: str, tmp_path: Path) -> None:
    found = external_access(events_to_frame(_events([*_baseline(), GRANTS[name]], tmp_path)))
    assert found["severity"].to_list() == ["high"], name
    assert f"account {OUTSIDE}" in found["summary"][0]


@pytest.mark.parametrize("name", list(POLICIES))
def test_a_first_resource_policy_for_an_account_outside_is_medium(
    name: str, tmp_path: Path
) -> None:
    found = external_access(events_to_frame(_events([*_baseline(), POLICIES[name]], tmp_path)))
    assert found["severity"].to_list() == ["medium"], name
    assert f"account {OUTSIDE}" in found["summary"][0]


@pytest.mark.parametrize("name", list(NOT_OUTSIDE))
def test_grants_inside_or_taken_back_are_not_reported(name: str, tmp_path: Path) -> None:
    events = _events([*_baseline(), NOT_OUTSIDE[name]], tmp_path)
    assert len(events) == 3
    assert external_access(events_to_frame(events)).height == 0


def test_only_the_first_grant_to_an_account_is_news(tmp_path: Path) -> None:
    first = GRANTS["snapshot shared"]
    again = dict(GRANTS["database snapshot shared"], eventTime="2024-05-20T03:00:00Z")
    found = external_access(events_to_frame(_events([*_baseline(), first, again], tmp_path)))
    assert found.height == 1
    assert found["first_seen"][0].day == 10
    # without a week of trail before it, a grantee may predate the trail: medium
    short = external_access(events_to_frame(_events([first], tmp_path)))
    assert short["severity"].to_list() == ["medium"]
    # refused every time: medium
    refused = dict(first, errorCode="AccessDenied")
    tried = external_access(events_to_frame(_events([*_baseline(), refused], tmp_path)))
    assert tried["severity"].to_list() == ["medium"]
    assert "tried to grant" in tried["summary"][0]


def _gcp_grant(member: str) -> dict[str, Any]:
    return {
        "tenant_id": "shop",
        "occurred_at": "2026-01-12T03:00:00Z",
        "action": "role.grant",
        "actor": {"id": "alice@shop.example"},
        "targets": [{"id": member, "type": "principal", "name": "roles/owner"}],
        "metadata": {"role": "roles/owner"},
    }


def test_google_members_of_another_domain() -> None:
    login = {
        "tenant_id": "shop",
        "occurred_at": "2026-01-01T09:00:00Z",
        "action": "user.login",
        "actor": {"id": "bob@shop.example"},
    }
    outside = external_access(events_to_frame([login, _gcp_grant("user:eve@gmail.com")]))
    assert outside["severity"].to_list() == ["high"]
    viewer = _gcp_grant("user:eve@gmail.com")
    viewer["metadata"] = {"role": "roles/viewer"}
    assert external_access(events_to_frame([login, viewer]))["severity"].to_list() == ["medium"]
    for member in ("user:carol@shop.example", "group:admins@SHOP.example", "allUsers"):
        assert external_access(events_to_frame([login, _gcp_grant(member)])).height == 0, member


def test_security_lake_ocsf_records_keep_the_request_as_text(tmp_path: Path) -> None:
    """OCSF as Security Lake writes CloudTrail: the request is ``api.request.data``."""
    record = {
        "metadata": {"uid": "ocsf-1", "version": "1.1.0", "product": {"name": "CloudTrail"}},
        "time": 1717240000000,
        "class_uid": 6003,
        "activity_id": 3,
        "cloud": {"provider": "AWS", "account": {"uid": OWN}},
        "api": {
            "operation": "UpdateAssumeRolePolicy",
            "service": {"name": "iam.amazonaws.com"},
            "request": {
                "uid": "r1",
                "data": json.dumps(
                    {"roleName": "admin", "policyDocument": _trust(f"arn:aws:iam::{OUTSIDE}:root")}
                ),
            },
        },
        "actor": {"user": {"type": "IAMUser", "name": "ops", "uid": "AIDAOPS"}},
        "src_endpoint": {"ip": "198.51.100.23"},
        "status_id": 1,
    }
    path = tmp_path / "lake.json"
    path.write_text(json.dumps([record]))
    source = get_format("ocsf")
    events = [
        normalize_event(source.to_event(r.value, tenant=None)) for r in source.records(str(path))
    ]
    assert events and events[0]["action"] == "policy.update"
    found = external_access(events_to_frame(events))
    assert f"account {OUTSIDE}" in found["summary"][0]


def test_google_cloud_copies_and_service_accounts_shared_outside(tmp_path) -> None:
    """Stratus Red Team's share-compute-disk/-image, backdoor-service-account-policy and
    invite-external-user: Compute Engine logs a disk's or image's whole policy (no
    delta), IAM names its method SetIAMPolicy, and an ownership invite names one member."""
    from tests.analytics._producers import GCP_PROJECT, gcp, read_as

    outsider = "user:stratusredteam@gmail.com"
    habit = [
        gcp("v1.compute.instances.list", f"2026-03-{d:02d}T09:00:00Z",
            resource=f"projects/{GCP_PROJECT}/zones/us-central1-a/instances")
        for d in range(1, 15)
    ]  # fmt: skip
    whole = {
        "policy": {
            "bindings": [
                {"role": "roles/owner", "members": [outsider]},
                {"role": "roles/viewer", "members": ["user:bo@acme.io"]},
            ]
        }
    }
    attacks = [
        gcp("v1.compute.disks.setIamPolicy", "2026-03-20T15:20:00Z", request=whole,
            resource=f"projects/{GCP_PROJECT}/zones/us-central1-a/disks/prod-db",
            actor="eve@acme.io"),
        gcp("google.iam.admin.v1.SetIAMPolicy", "2026-03-20T15:20:00Z",
            service="iam.googleapis.com", actor="mal@acme.io",
            resource="projects/-/serviceAccounts/108234567890123456789",
            request={"policy": {"bindings": [{"role": "roles/iam.serviceAccountTokenCreator",
                                              "members": ["user:x@evil.example"]}]}},
            service_data={"@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
                          "policyDelta": {"bindingDeltas": [{"action": "ADD",
                          "role": "roles/iam.serviceAccountTokenCreator",
                          "member": "user:x@evil.example"}]}}),
        gcp("InsertProjectOwnershipInvite", "2026-03-20T15:20:00Z", actor="oz@acme.io",
            service="cloudresourcemanager.googleapis.com", resource=f"projects/{GCP_PROJECT}",
            request={"member": "user:owner@other.example", "projectId": GCP_PROJECT}),
        # a project's whole policy naming a member of another domain: medium (it may
        # have been there before the trail began)
        gcp("SetIamPolicy", "2026-03-20T15:20:00Z", actor="pat@acme.io",
            service="cloudresourcemanager.googleapis.com", resource=f"projects/{GCP_PROJECT}",
            request={"policy": {"bindings": [{"role": "roles/viewer",
                                              "members": ["user:auditor@firm.example"]}]}}),
    ]  # fmt: skip
    found = external_access(read_as("gcp", [*habit, *attacks], tmp_path))
    got = {r["actor_id"]: (r["severity"], r["summary"]) for r in found.iter_rows(named=True)}
    assert got["eve@acme.io"][0] == "high" and outsider in got["eve@acme.io"][1]
    assert got["mal@acme.io"][0] == "high" and "user:x@evil.example" in got["mal@acme.io"][1]
    assert got["oz@acme.io"][0] == "high" and "owner@other.example" in got["oz@acme.io"][1]
    assert got["pat@acme.io"][0] == "medium"
    assert "bo@acme.io" not in " ".join(s for _, s in got.values())


def test_an_identity_provider_or_trust_anchor_trusted_is_medium(tmp_path) -> None:
    """Stratus Red Team's iam-create-backdoor-identity-provider (SAML, OIDC) and
    rolesanywhere-create-trust-anchor: whoever holds that issuer signs in as the roles
    that trust it. A company adds one now and then (GitHub's OIDC for CI), so it is a
    medium naming the issuer; updating a provider's certificate is not a new trust."""
    from tests.analytics._producers import cloudtrail, read_as

    iam = "iam.amazonaws.com"
    records = [
        cloudtrail("ListRoles", f"2026-03-{d:02d}T09:00:00Z", source=iam) for d in range(1, 15)
    ] + [
        cloudtrail("CreateOpenIDConnectProvider", "2026-03-20T15:20:00Z", user="eve", source=iam,
                   request={"url": "https://oidc.evil-ci.example/", "clientIDList": ["sts"]}),
        cloudtrail("CreateSAMLProvider", "2026-03-20T15:20:00Z", user="mal", source=iam,
                   request={"name": "okta-secondary", "sAMLMetadataDocument": "<x/>"}),
        cloudtrail("CreateTrustAnchor", "2026-03-20T15:20:00Z", user="oz",
                   source="rolesanywhere.amazonaws.com",
                   request={"name": "ca", "source": {"sourceType": "CERTIFICATE_BUNDLE"}}),
        cloudtrail("UpdateSAMLProvider", "2026-03-20T15:20:00Z", user="bo", source=iam,
                   request={"sAMLProviderArn": "arn:aws:iam::111122223333:saml-provider/okta"}),
    ]  # fmt: skip
    found = external_access(read_as("cloudtrail", records, tmp_path))
    got = {r["actor_id"].rsplit("/", 1)[1]: r for r in found.iter_rows(named=True)}
    assert {k: r["severity"] for k, r in got.items()} == {
        "eve": "medium", "mal": "medium", "oz": "medium"}  # fmt: skip
    assert "identity provider oidc.evil-ci.example " in got["eve"]["summary"]
    assert "SAML identity provider okta-secondary" in got["mal"]["summary"]
    assert "certificate authority ca" in got["oz"]["summary"]


def test_a_refused_call_from_outside_does_not_make_the_account_own(tmp_path: Path) -> None:
    """A call refused in the tenant is logged with the caller's identity: an intruder's
    account that knocked first is still outside when a snapshot is shared with it."""
    knock = _record("DescribeInstances", "ec2", {}, day=5, errorCode="AccessDenied")
    knock["userIdentity"] = {"type": "AssumedRole", "accountId": OUTSIDE,
                             "arn": f"arn:aws:sts::{OUTSIDE}:assumed-role/x/y"}  # fmt: skip
    events = _events([*_baseline(), knock, GRANTS["snapshot shared"]], tmp_path)
    found = external_access(events_to_frame(events))
    assert found["severity"].to_list() == ["high"]
