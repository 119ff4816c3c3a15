"""ransom_encryption: objects rewritten under a customer-provided key or another
account's KMS key, read through the CloudTrail reader, beside applications that use
SSE-C by design and administrators who rotate their own keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.ransom import ransom_encryption
from auditkit.errors import UsageError
from tests.analytics._producers import ACCOUNT, cloudtrail, read_as

OFFICE = "198.51.100.14"
APP = "10.20.0.7"
NEW = "45.77.12.9"
S3 = "s3.amazonaws.com"
SSE_C = {"x-amz-server-side-encryption-customer-algorithm": "AES256"}


def _at(day: int, minute: int = 0, hour: int = 10) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:{minute % 60:02d}:00Z"


def _write(name: str, day: int, i: int, *, user: str = "ops", ip: str = OFFICE,
           headers: dict[str, str] | None = None, in_place: bool = True,
           error: str | None = None, sse: str | None = "SSE_C") -> dict[str, Any]:  # fmt: skip
    request: dict[str, Any] = {"bucketName": "finance", "key": f"reports/q{i}.xlsx",
                               **(SSE_C if headers is None else headers)}  # fmt: skip
    if name == "CopyObject" and in_place:
        request["x-amz-copy-source"] = f"finance/reports/q{i}.xlsx"
    extra = {"additionalEventData": {"SSEApplied": sse}} if sse else {}
    return cloudtrail(name, _at(day, i), user=user, ip=ip, source=S3, request=request,
                      error=error, eventCategory="Data", **extra)  # fmt: skip


def _routine(days: range = range(1, 20)) -> list[dict[str, Any]]:
    """An application that stores every upload with SSE-C by design, and an admin's reads."""
    out: list[dict[str, Any]] = []
    for d in days:
        out += [_write("PutObject", d, 100 + i, user="app", ip=APP, in_place=False)
                for i in range(15)]  # fmt: skip
        out.append(cloudtrail("ListBuckets", _at(d, 3), ip=OFFICE, source=S3))
    return out


def _run(records: list[dict[str, Any]], tmp_path: Path, **kw: Any) -> pl.DataFrame:
    return ransom_encryption(read_as("cloudtrail", records, tmp_path), **kw)


def test_an_application_that_uses_sse_c_by_design_is_quiet(tmp_path: Path) -> None:
    assert _run(_routine(), tmp_path).height == 0


def test_a_stolen_key_re_encrypting_a_bucket_is_high(tmp_path: Path) -> None:
    attack = [_write("CopyObject", 21, i, ip=NEW) for i in range(40)]
    found = _run([*_routine(), *attack], tmp_path)
    assert found["severity"].to_list() == ["high"]
    summary = found["summary"][0]
    for part in ("rewrote 40 object(s)", "SSE-C", "40 copied onto themselves", NEW):
        assert part in summary


def test_another_accounts_kms_key_and_ones_own(tmp_path: Path) -> None:
    def kms(account: str) -> dict[str, str]:
        return {"x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id":
                    f"arn:aws:kms:us-east-1:{account}:key/1234abcd"}  # fmt: skip

    foreign = [_write("CopyObject", 21, i, headers=kms("999988887777"), sse="SSE_KMS")
               for i in range(15)]  # fmt: skip
    found = _run([*_routine(), *foreign], tmp_path)
    assert found["severity"].to_list() == ["high"]
    assert "KMS keys of account(s) '999988887777'" in found["summary"][0]
    # an administrator re-encrypting in place with the account's own key: a rotation
    rotation = [_write("CopyObject", 21, i, headers=kms(ACCOUNT), sse="SSE_KMS")
                for i in range(15)]  # fmt: skip
    assert _run([*_routine(), *rotation], tmp_path).height == 0


def test_a_few_rewrites_refusals_and_reads(tmp_path: Path) -> None:
    few = [_write("CopyObject", 21, i) for i in range(3)]
    found = _run([*_routine(), *few], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    refused = [_write("CopyObject", 21, i, ip=NEW, error="AccessDenied") for i in range(20)]
    found = _run([*_routine(), *refused], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    assert "tried to rewrite" in found["summary"][0]
    # reading SSE-C objects carries the same headers: not a write
    reads = [_write("GetObject", 21, i, ip=NEW) for i in range(40)]
    assert _run([*_routine(), *reads], tmp_path).height == 0


def test_it_runs_in_the_registry_and_rejects_bad_settings(tmp_path: Path) -> None:
    frame = read_as("cloudtrail", [*_routine(), *(_write("CopyObject", 21, i) for i in range(12))],
                    tmp_path)  # fmt: skip
    found = run_detectors(frame, names=["ransom_encryption"])
    assert found["detector"].to_list() == ["ransom_encryption"]
    assert found["score"].is_null().all()
    for bad in ({"gap": "soon"}, {"min_objects": 0}, {"routine_days": 0}, {"min_history": "x"}):
        with pytest.raises(UsageError):
            ransom_encryption(frame, **bad)
