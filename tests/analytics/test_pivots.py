"""identity_pivot: roles, service accounts and federated sessions taken on for the first
time, read through the CloudTrail and Cloud Audit Logs readers, beside pipelines that
assume the same roles every day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.pivots import identity_pivot
from auditkit.errors import UsageError
from tests.analytics._producers import GCP_PROJECT, cloudtrail, gcp, read_as

OFFICE = "198.51.100.14"
CI = "140.82.112.5"
NEW = "45.77.12.9"
STS = "sts.amazonaws.com"


def _at(day: int, minute: int = 0, hour: int = 10) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:{minute % 60:02d}:00Z"


def _assume(day: int, role: str, minute: int = 0, *, user: str = "ci", ip: str = CI,
            error: str | None = None) -> dict[str, Any]:  # fmt: skip
    arn = f"arn:aws:iam::{role}"
    return cloudtrail("AssumeRole", _at(day, minute), user=user, ip=ip, source=STS, error=error,
                      request={"roleArn": arn, "roleSessionName": f"{user}-{day}"})  # fmt: skip


def _routine(days: range = range(1, 20)) -> list[dict[str, Any]]:
    """A pipeline assuming its deploy role in four accounts every day; an engineer's reads."""
    out: list[dict[str, Any]] = []
    for d in days:
        out += [_assume(d, f"{a}:role/deploy", a % 60) for a in (111, 222, 333, 444)]
        out.append(cloudtrail("ListBuckets", _at(d, 3), user="ops", ip=OFFICE,
                              source="s3.amazonaws.com"))  # fmt: skip
    return out


def _run(records: list[dict[str, Any]], tmp_path: Path, **kw: Any) -> pl.DataFrame:
    return identity_pivot(read_as("cloudtrail", records, tmp_path), **kw)


def test_a_pipelines_daily_roles_are_quiet(tmp_path: Path) -> None:
    # and an engineer assuming one role for the first time, from the office
    first = _assume(20, "555:role/readonly", user="ops", ip=OFFICE)
    assert _run([*_routine(), first], tmp_path).height == 0
    # the pipeline's four roles and a new account's, in one run: one new identity
    run = [*_routine(range(20, 21)), _assume(20, "555:role/deploy", 30)]
    assert _run([*_routine(), *run], tmp_path).height == 0


def test_a_spree_of_refused_roles_then_one_is_high(tmp_path: Path) -> None:
    spree = [_assume(21, f"{a}:role/admin", a % 60, user="ops", ip=OFFICE, error="AccessDenied")
             for a in range(600, 606)]  # fmt: skip
    spree.append(_assume(21, "777:role/admin", 30, user="ops", ip=OFFICE))
    found = _run([*_routine(), *spree], tmp_path)
    assert found["severity"].to_list() == ["high"]
    summary = found["summary"][0]
    assert "'arn:aws:iam::777:role/admin' taken on; 7 tried; 6 refused" in summary


def test_several_new_roles_from_the_office_are_medium(tmp_path: Path) -> None:
    setup = [_assume(21, f"{a}:role/admin", a % 60, user="ops", ip=OFFICE) for a in (801, 802, 803)]
    found = _run([*_routine(), *setup], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    refused = [_assume(21, f"{a}:role/x", a % 60, user="ops", ip=OFFICE, error="AccessDenied")
               for a in (901, 902, 903)]  # fmt: skip
    found = _run([*_routine(), *refused], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    assert found["summary"][0].startswith(
        "'arn:aws:iam::111122223333:user/ops' tried to take on identities"
    )


def test_a_federation_token_from_a_new_network_is_high(tmp_path: Path) -> None:
    token = cloudtrail("GetFederationToken", _at(21), user="ops", ip=NEW, source=STS,
                       request={"name": "stratus", "durationSeconds": 129600},
                       userAgent="Boto3/1.34.1 Python/3.12.1")  # fmt: skip
    found = _run([*_routine(), token], tmp_path)
    assert found["severity"].to_list() == ["high"]
    assert "'federated user stratus' taken on" in found["summary"][0]
    assert "with a client it had never used ('Boto3/1.34.1 Python/3.12.1')" in found["summary"][0]
    # the owner's own client on a new network (a pipeline on a new runner) is medium
    same = {**token, "userAgent": "aws-cli/2.15.0"}
    assert _run([*_routine(), same], tmp_path)["severity"].to_list() == ["medium"]


def test_cloud_services_assuming_their_roles_are_left_out(tmp_path: Path) -> None:
    def by_lambda(i: int) -> dict[str, Any]:
        record = _assume(21, f"{i}:role/fn", i, ip=NEW)
        record["userIdentity"] = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
        return record

    early = {**by_lambda(99), "eventTime": _at(1, 50), "sourceIPAddress": CI}
    late = [by_lambda(i) for i in range(5)]
    assert _run([early, *_routine(), *late], tmp_path).height == 0
    assert _run([early, *_routine(), *late], tmp_path, exclude_actor_types=()).height == 1


def test_google_service_account_impersonation_spree(tmp_path: Path) -> None:
    """Stratus Red Team's impersonate-service-accounts: many refused, one granted."""

    def token(day: int, sa: str, *, actor: str = "dev@acme.io", ip: str = OFFICE,
              code: int | None = None) -> dict[str, Any]:  # fmt: skip
        email = f"{sa}@{GCP_PROJECT}.iam.gserviceaccount.com"
        return gcp("GenerateAccessToken", _at(day, len(sa)), actor=actor, ip=ip, code=code,
                   service="iamcredentials.googleapis.com", resource_type="service_account",
                   resource=f"projects/-/serviceAccounts/{email}")  # fmt: skip

    usual = [token(d, "deployer") for d in range(1, 20)]
    spree = [token(21, f"sa-{i:02d}", ip=NEW, code=7) for i in range(9)]
    spree.append(token(21, "sa-admin-x", ip=NEW))
    found = identity_pivot(read_as("gcp", usual + spree, tmp_path))
    assert found["severity"].to_list() == ["high"]
    assert f"'sa-admin-x@{GCP_PROJECT}.iam.gserviceaccount.com' taken on" in found["summary"][0]
    assert identity_pivot(read_as("gcp", usual, tmp_path)).height == 0
    # Google Cloud names no caller for a refusal from outside the organisation: the
    # anonymous tries from the thief's address count with the granted one
    for record in spree[:-1]:
        record["protoPayload"]["authenticationInfo"] = {}
    found = identity_pivot(read_as("gcp", usual + spree, tmp_path))
    assert found["actor_id"].to_list() == ["dev@acme.io"]
    assert found["severity"].to_list() == ["high"]
    assert "10 tried; 9 refused" in found["summary"][0], found["summary"][0]
    # from another address they are not the actor's
    other = {"callerIp": "192.0.2.77", "callerSuppliedUserAgent": "curl/8"}
    elsewhere = [
        dict(r, protoPayload={**r["protoPayload"], "requestMetadata": other}) for r in spree[:-1]
    ]
    found = identity_pivot(read_as("gcp", usual + elsewhere + spree[-1:], tmp_path))
    mine = found.filter(pl.col("actor_id") == "dev@acme.io")
    assert not mine["summary"].str.contains("refused").any()


def test_it_runs_in_the_registry_and_rejects_bad_settings(tmp_path: Path) -> None:
    token = cloudtrail("GetFederationToken", _at(21), user="ops", ip=NEW, source=STS,
                       request={"name": "x"})  # fmt: skip
    frame = read_as("cloudtrail", [*_routine(), token], tmp_path)
    found = run_detectors(frame, names=["identity_pivot"])
    assert found["detector"].to_list() == ["identity_pivot"]
    assert found["score"].is_null().all()
    for bad in ({"gap": "soon"}, {"min_identities": 0}, {"min_refused": 0}):
        with pytest.raises(UsageError):
            identity_pivot(frame, **bad)
