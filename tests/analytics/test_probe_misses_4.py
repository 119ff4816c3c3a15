"""A red-team probe's fourth round: a pipeline's CI/CD variables and runner registration
token set from an intruder's network (GitLab), and objects collected one ``GetObject`` at
a time by a role session another AWS account obtained minutes before, which has no
history to be measured against (CloudTrail names the bucket first and the object in
``resources``).  Each record is read through the producer's reader."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import read_as
from tests.analytics._producers_4 import (
    GL_ADMIN,
    INTRUDER,
    OFFICE,
    RELENG,
    ci_secrets_planted,
    object_reads,
    outsider_collection,
    partner_habits,
    releng_habits,
)

RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _worst(found: pl.DataFrame, detector: str) -> str | None:
    found = found.filter(pl.col("detector") == detector)
    if found.height == 0:
        return None
    return max(found["severity"].to_list(), key=RANK.__getitem__)


# ------------------------------------------------------------------ GitLab pipelines


def test_ci_variables_and_runner_token_from_an_intruders_network(tmp_path: Path) -> None:
    """The release engineer's and the admin's accounts, at night from a network neither
    ever used, plant a package index and a registry in CI/CD variables and reset the
    runner registration token: high, naming the variables."""
    events = read_as("gitlab", [*releng_habits(), *ci_secrets_planted(22.1, INTRUDER)],
                     tmp_path)  # fmt: skip
    found = run_detectors(events, names=["code_tampering"])
    assert _worst(found, "code_tampering") == "high", found["summary"].to_list()
    assert set(found["actor_id"]) == {str(RELENG[0]), str(GL_ADMIN[0])}
    text = " ".join(found["summary"])
    for name in ("PIP_INDEX_URL", "NPM_REGISTRY", "ci_runner_registration_token.reset"):
        assert name in text, text
    assert INTRUDER in text


def test_ci_variables_changed_from_the_office_are_routine(tmp_path: Path) -> None:
    """The same changes in office hours from the office, where the engineer edits
    variables most days: nothing."""
    events = read_as("gitlab", [*releng_habits(), *ci_secrets_planted(22.45, OFFICE)],
                     tmp_path)  # fmt: skip
    assert run_detectors(events, names=["code_tampering"]).height == 0


# ------------------------------------------------------------------ outsider's bulk read


def test_an_unknown_accounts_session_collecting_objects_is_high(tmp_path: Path) -> None:
    """An account never seen assumes VendorAccess with the SDK's default session name and
    reads 400 objects within minutes: no history, but the session is an outsider's."""
    records = [*partner_habits("222233334444"), *outsider_collection("999900001111", 22)]
    found = run_detectors(read_as("cloudtrail", records, tmp_path), names=["bulk_read"])
    assert _worst(found, "bulk_read") == "high", found["summary"].to_list()
    assert found.height == 1
    assert "400 distinct item(s)" in found["summary"][0]
    assert "999900001111" in found["summary"][0]


def test_a_known_partners_month_end_read_is_not_an_outsiders(tmp_path: Path) -> None:
    """The partner that syncs every day reads 400 objects under a new default session
    name: its account is weeks old in the trail, so the session is not judged as new."""
    name, key = "aws-go-sdk-1761760000", "ASIAPBULK"
    from tests.analytics._producers_3 import cross_account

    records = [*partner_habits("222233334444"),
               cross_account("222233334444", 22, name, key, "52.18.44.7"),
               *object_reads(22, "VendorAccess", name, key, "52.18.44.7", 400)]  # fmt: skip
    found = run_detectors(read_as("cloudtrail", records, tmp_path), names=["bulk_read"])
    assert found.height == 0, found["summary"].to_list()


def test_get_object_counts_objects_not_the_bucket(tmp_path: Path) -> None:
    """CloudTrail's GetObject names the bucket first (the request's ``bucketName``) and
    the object in ``resources``: a person reading 300 objects of one bucket, having read
    15 a day, read 300 items, not one."""
    from tests.analytics._producers_3 import habits

    who = "dev-bob"
    reads = [r for d in range(3, 21) for r in object_reads(d, "x", "y", f"K{d}", OFFICE, 15)]
    burst = object_reads(21, "x", "y", "K21", OFFICE, 300)
    for r in (*reads, *burst):  # dev-bob's own key, not a session
        r["userIdentity"] = habits(who, 1)[0]["userIdentity"]
    events = read_as("cloudtrail", [*habits(who), *reads, *burst], tmp_path)
    found = run_detectors(events, names=["bulk_read"])
    assert _worst(found, "bulk_read") == "high", found["summary"].to_list()
    assert "300 distinct item(s)" in found["summary"][0]
