"""reconnaissance: a key reading what it never read, across services, from a network its
owner never used; read through the CloudTrail and Cloud Audit Logs readers, beside
travellers, console pages and engineers learning a new service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.discovery import reconnaissance
from auditkit.errors import UsageError
from tests.analytics._producers import cloudtrail, gcp, read_as

OFFICE = "198.51.100.14"
HOTEL = "203.0.113.77"
NEW = "45.77.12.9"
SCRIPT = "Boto3/1.34.1 Python/3.12.1 Resource"
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15"

#: What a tool run with a stolen key asks first, service by service.
RECON = [
    ("GetCallerIdentity", "sts"), ("ListUsers", "iam"), ("ListRoles", "iam"),
    ("GetAccountAuthorizationDetails", "iam"), ("ListAttachedUserPolicies", "iam"),
    ("DescribeInstances", "ec2"), ("DescribeSecurityGroups", "ec2"),
    ("ListFunctions20150331", "lambda"), ("ListSecrets", "secretsmanager"),
    ("DescribeDBInstances", "rds"), ("ListKeys", "kms"), ("DescribeTrails", "cloudtrail"),
]  # fmt: skip
USUAL = [("ListBuckets", "s3"), ("DescribeLogGroups", "logs"), ("GetMetricData", "monitoring")]


def _at(day: int, minute: int = 0, hour: int = 10) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:{minute % 60:02d}:00Z"


def _calls(day: int, calls: list[tuple[str, str]], *, ip: str = OFFICE, user: str = "dev",
           error: str | None = None, **extra: Any) -> list[dict[str, Any]]:  # fmt: skip
    return [
        cloudtrail(name, _at(day, i), user=user, ip=ip, source=f"{service}.amazonaws.com",
                   error=error, **extra)
        for i, (name, service) in enumerate(calls)
    ]  # fmt: skip


def _routine(days: range = range(1, 20)) -> list[dict[str, Any]]:
    return [r for d in days for r in _calls(d, USUAL)]


def _run(records: list[dict[str, Any]], tmp_path: Path, **kw: Any) -> pl.DataFrame:
    return reconnaissance(read_as("cloudtrail", records, tmp_path), **kw)


def test_a_stolen_key_mapping_the_account_is_high(tmp_path: Path) -> None:
    found = _run([*_routine(), *_calls(21, RECON, ip=NEW, userAgent=SCRIPT)], tmp_path)
    assert found["severity"].to_list() == ["high"]
    summary = found["summary"][0]
    assert "read 12 kind(s) of things it had never read, in 8 service(s)" in summary
    assert NEW in summary
    assert "with a client it had never used ('Boto3/1.34.1 Python/3.12.1')" in summary
    assert len(found["event_ids"][0]) == 12
    # the owner's own client on a new network (a pipeline's tool on a new runner, reading
    # a new module's resources) is medium
    found = _run([*_routine(), *_calls(21, RECON, ip=NEW)], tmp_path)
    assert found["severity"].to_list() == ["medium"]


def test_look_alikes_are_quiet(tmp_path: Path) -> None:
    # the usual reads from a hotel
    assert _run([*_routine(), *_calls(21, USUAL, ip=HOTEL)], tmp_path).height == 0
    # console pages opened for the first time from a hotel: the browser makes the reads
    console = _calls(21, RECON, ip=HOTEL, userAgent=BROWSER)
    assert _run([*_routine(), *console], tmp_path).height == 0
    # what the owner reads in the console every day is not new to the key
    habit = [r for d in range(1, 20) for r in _calls(d, RECON, userAgent=BROWSER)]
    assert _run([*_routine(), *habit, *_calls(21, RECON, ip=NEW)], tmp_path).height == 0
    # an engineer learning new services from the office
    assert _run([*_routine(), *_calls(21, RECON)], tmp_path).height == 0
    # fewer kinds or fewer services than the thresholds
    assert _run([*_routine(), *_calls(21, RECON[:9], ip=NEW)], tmp_path).height == 0
    iam_only = [c for c in RECON if c[1] == "iam"] + [("GetUser", "iam")] * 2
    assert _run([*_routine(), *_calls(21, iam_only, ip=NEW)], tmp_path).height == 0


def test_refusals_new_actors_and_services(tmp_path: Path) -> None:
    refused = _calls(21, RECON, ip=NEW, error="AccessDenied", userAgent=SCRIPT)
    found = _run([*_routine(), *refused], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    # an actor first seen days ago is not judged yet
    assert _run([*_routine(range(18, 20)), *_calls(21, RECON, ip=NEW)], tmp_path).height == 0
    # a cloud service acting for the account is left out
    by_service = _calls(21, RECON, ip=NEW)
    for record in by_service:
        record["userIdentity"] = {"type": "AWSService", "invokedBy": "config.amazonaws.com"}
    early = {**by_service[0], "eventTime": _at(1)}
    assert _run([early, *_routine(), *by_service], tmp_path).height == 0


def test_google_cloud_test_iam_permissions_and_lists(tmp_path: Path) -> None:
    methods = [
        ("storage.buckets.list", "storage"), ("storage.buckets.getIamPolicy", "storage"),
        ("v1.compute.instances.list", "compute"), ("v1.compute.firewalls.list", "compute"),
        ("v1.compute.projects.get", "compute"),
        ("google.iam.admin.v1.ListServiceAccounts", "iam"),
        ("google.iam.admin.v1.ListServiceAccountKeys", "iam"),
        ("google.cloud.resourcemanager.v3.Projects.TestIamPermissions", "cloudresourcemanager"),
        ("google.cloud.secretmanager.v1.SecretManagerService.ListSecrets", "secretmanager"),
        ("google.cloud.functions.v1.CloudFunctionsService.ListFunctions", "cloudfunctions"),
    ]  # fmt: skip

    def entry(day: int, method: str, service: str, ip: str, minute: int) -> dict[str, Any]:
        return gcp(method, _at(day, minute), resource="projects/acme-prod-4821", ip=ip,
                   service=f"{service}.googleapis.com", resource_type="project")  # fmt: skip

    usual = [entry(d, "storage.objects.list", "storage", OFFICE, 0) for d in range(1, 20)]
    recon = [entry(21, m, s, NEW, i) for i, (m, s) in enumerate(methods)]
    for record in recon:
        record["protoPayload"]["requestMetadata"]["callerSuppliedUserAgent"] = "gcloud-enum/0.1"
    found = reconnaissance(read_as("gcp", usual + recon, tmp_path))
    assert found["severity"].to_list() == ["high"]


def test_it_runs_in_the_registry_and_rejects_bad_settings(tmp_path: Path) -> None:
    frame = read_as("cloudtrail", [*_routine(), *_calls(21, RECON, ip=NEW)], tmp_path)
    found = run_detectors(frame, names=["reconnaissance"])
    assert found["detector"].to_list() == ["reconnaissance"]
    assert found["score"].is_null().all()
    for bad in ({"window": "soon"}, {"min_actions": 0}, {"min_services": -1}):
        with pytest.raises(UsageError):
            reconnaissance(frame, **bad)


def test_reads_spread_over_hours_from_the_new_network_are_one_episode(tmp_path: Path) -> None:
    """A tool that waits over an hour between calls, to stay under any burst window, is
    judged on everything it read from the new network within a day of its first use."""
    slow = [
        cloudtrail(name, _at(21, 0, 1 + i), user="dev", ip=NEW, source=f"{service}.amazonaws.com",
                   userAgent=SCRIPT)
        for i, (name, service) in enumerate(RECON)
    ]  # fmt: skip
    found = _run([*_routine(), *slow], tmp_path)
    assert found["severity"].to_list() == ["high"]
    assert "read 12 kind(s)" in found["summary"][0]
    # a shorter window does not end it: the network is not yet the actor's own
    assert _run([*_routine(), *slow], tmp_path, window="4h").height == 1
    # on the third day the actor uses it, it is (the usual reads there on two days)
    settled = [*_calls(19, USUAL, ip=NEW, userAgent=SCRIPT),
               *_calls(20, USUAL, ip=NEW, userAgent=SCRIPT)]  # fmt: skip
    assert _run([*_routine(), *settled, *slow], tmp_path).height == 0


def test_a_key_tried_from_the_thiefs_machine_days_before_is_still_a_stranger(
    tmp_path: Path,
) -> None:
    """One call from the thief's network two days before the mapping does not make the
    network the key's own: the reads are still from a new network."""
    knock = _calls(19, [("GetCallerIdentity", "sts")], ip=NEW, userAgent=SCRIPT)
    found = _run([*_routine(), *knock, *_calls(21, RECON, ip=NEW, userAgent=SCRIPT)], tmp_path)
    assert found["severity"].to_list() == ["high"]


def test_one_permissions_test_naming_many_services_is_a_mapping(tmp_path: Path) -> None:
    """A tool with a stolen key asks Google in one testIamPermissions call what it may do
    in many services: each permission named is a read of its own kind and service."""
    project = "acme-prod-4821"
    perms = ["compute.instances.list", "compute.disks.get", "storage.buckets.list",
             "storage.objects.get", "iam.serviceAccounts.actAs", "iam.serviceAccountKeys.create",
             "resourcemanager.projects.setIamPolicy", "cloudfunctions.functions.create",
             "secretmanager.versions.access", "bigquery.datasets.get"]  # fmt: skip

    def entry(day: int, method: str, ip: str, request: Any = None) -> dict[str, Any]:
        service = "cloudresourcemanager.googleapis.com"
        return gcp(method, _at(day), resource=f"projects/{project}", ip=ip, request=request,
                   service=service, resource_type="project")  # fmt: skip

    usual = [entry(d, "v1.compute.instances.list", OFFICE) for d in range(1, 20)]
    method = "google.cloudresourcemanager.v1.Projects.TestIamPermissions"
    probe = entry(21, method, NEW, {"permissions": perms})
    probe["protoPayload"]["requestMetadata"]["callerSuppliedUserAgent"] = "python-requests/2.31"
    found = reconnaissance(read_as("gcp", [*usual, probe], tmp_path))
    assert found["severity"].to_list() == ["high"]
    row = found.row(0, named=True)
    assert "read 10 kind(s) of things it had never read, in 7 service(s)" in row["summary"]
    assert "compute.instances.list, compute.disks.get, storage.buckets.list" in row["summary"]
    assert len(row["event_ids"]) == 1  # the one call, cited once
    # a request that names them badly names none: the test is one read, nothing found
    probe["protoPayload"]["request"] = {"permissions": "[compute.instances.list, oops"}
    assert reconnaissance(read_as("gcp", [*usual, probe], tmp_path)).is_empty()


#: Stratus Red Team's ses-enumerate: what a stolen key is asked before it sends phishing.
SES = [
    ("GetAccountSendingEnabled", "ses"), ("GetSendQuota", "ses"), ("ListIdentities", "ses"),
    ("GetIdentityVerificationAttributes", "ses"), ("GetIdentityDkimAttributes", "ses"),
]  # fmt: skip


def test_one_service_the_key_never_used_looked_over_by_a_stranger_is_medium(
    tmp_path: Path,
) -> None:
    """A stolen key's look at one service it can abuse spans one service, under
    ``min_services``: it is medium when the service was never used by the actor and the
    reads come from a new network with a new client; quiet for the owner's client, for a
    service the actor uses, for fewer kinds, for refusals, and when switched off."""
    found = _run([*_routine(), *_calls(21, SES, ip=NEW, userAgent=SCRIPT)], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    assert "read 5 kind(s) of things it had never read, in 1 service(s)" in found["summary"][0]
    assert len(found["event_ids"][0]) == 5
    quiet = {
        "the owner's client, from a hotel": _calls(21, SES, ip=HOTEL),
        "four new kinds of a service it uses": _calls(
            21, [("GetBucketPolicy", "s3"), ("GetBucketAcl", "s3"), ("GetBucketLocation", "s3"),
                 ("GetBucketVersioning", "s3")], ip=NEW, userAgent=SCRIPT),
        "three kinds": _calls(21, SES[:3], ip=NEW, userAgent=SCRIPT),
        "refused": _calls(21, SES, ip=NEW, userAgent=SCRIPT, error="AccessDenied"),
    }  # fmt: skip
    for why, records in quiet.items():
        assert _run([*_routine(), *records], tmp_path).height == 0, why
    # the service used once before, weeks ago, from the office
    before = _calls(3, [("SendEmail", "ses")])
    later = _calls(21, SES, ip=NEW, userAgent=SCRIPT)
    assert _run([*_routine(), *before, *later], tmp_path).height == 0
    switched_off = [*_routine(), *_calls(21, SES, ip=NEW, userAgent=SCRIPT)]
    assert _run(switched_off, tmp_path, service_actions=None).height == 0
