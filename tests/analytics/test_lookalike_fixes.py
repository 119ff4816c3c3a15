"""Ordinary automation that used to be reported high, and the attacks shaped like it.

A red-team run found four rules raising high findings on a CI pipeline's everyday work:

- ``session_hijack`` on every job that runs the AWS CLI and then Terraform under one
  assumed-role session from the runner's one address (another user agent);
- ``key_destruction`` on every teardown of an ephemeral test environment, whose job
  schedules the deletion of the KMS key it had created twenty minutes earlier;
- ``public_exposure`` on every deployment re-applying a website bucket's public
  ``GetObject`` policy, the same the bucket already had;
- ``admin_without_role`` on a deployment role whose IAM name holds no ``admin`` and that
  puts the same bucket policy every day.

Each look-alike below is quiet or low, and each attack shaped like it stays high (or
critical). Records are CloudTrail's and Google Cloud's, read through the ingest formats,
or canonical events where a rule needs what CloudTrail does not carry (coordinates).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.exfiltration import key_destruction
from auditkit.analytics.detectors.exposure import public_exposure
from auditkit.analytics.detectors.privilege import admin_without_role
from auditkit.analytics.detectors.sessions import session_hijack
from auditkit.frame import events_to_frame
from tests.analytics._producers import ACCOUNT, GCP_PROJECT, cloudtrail, gcp, read_as

ROLE = "gha-oidc-deployer"
DEPLOYER = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/GitHubActions"
CLI = "aws-cli/2.15.8 Python/3.11.6 Linux/6.2.0-1018-azure exe/x86_64.ubuntu.22 prompt/off"
TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) "
    "terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go/1.49.13 (go1.21.5; linux; amd64)"
)
BOTO = "Boto3/1.34.1 md/Botocore#1.34.1 ua/2.0 os/linux#6.2.0 md/arch#x86_64 Botocore/1.34.1"
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
RUNNER = "52.242.97.110"
HIGH = ("high", "critical")


def _role_call(
    name: str,
    when: str,
    *,
    source: str,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    key: str = "ASIAJOB0000000000001",
    session: str = "GitHubActions",
    role: str = ROLE,
    ip: str = RUNNER,
    agent: str = CLI,
    error: str | None = None,
) -> dict[str, Any]:
    """A call by a session of IAM role ``role`` (its access key ``key``), as CloudTrail
    writes it."""
    record = cloudtrail(
        name, when, source=f"{source}.amazonaws.com", request=request, response=response,
        ip=ip, error=error,
    )  # fmt: skip
    record["eventID"] = f"ev-{name}-{when}-{key}-{role}-{session}"
    record["userAgent"] = agent
    record["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": f"AROA{role.upper()[:8]}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROA{role.upper()[:8]}",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"mfaAuthenticated": "false"},
        },
    }
    return record


def _severities(found: pl.DataFrame) -> list[str]:
    return sorted(found["severity"].to_list())


# -- session_hijack -------------------------------------------------------------------
#: (user agent, address) of each call of one session, a minute apart
Calls = list[tuple[str, str]]

SESSION_LOOK_ALIKES: dict[str, tuple[Calls, set[str]]] = {
    "the AWS CLI, then Terraform, from the runner's address": (
        [(CLI, RUNNER), (CLI, RUNNER), (TERRAFORM, RUNNER), (TERRAFORM, RUNNER)],
        {"low"},
    ),
    "three tools from two addresses of the runner's network": (
        [(CLI, RUNNER), (TERRAFORM, "52.242.97.111"), (BOTO, RUNNER), (CLI, "52.242.97.111")],
        {"low"},
    ),
    "the console and the CLI of one laptop": (
        [(BROWSER, "198.51.100.23"), (BROWSER, "198.51.100.23"), (CLI, "198.51.100.23")],
        {"low"},
    ),
    "Terraform, then the AWS CLI, the job's order the other way round": (
        [(TERRAFORM, RUNNER), (CLI, RUNNER), (TERRAFORM, RUNNER)],
        {"low"},
    ),
    # the runner's address changed mid-job: another network, with a client of its own
    "the job's second tool after the runner's address changed": (
        [(CLI, RUNNER), (TERRAFORM, RUNNER), (TERRAFORM, "20.40.130.45")],
        {"medium"},
    ),
}

SESSION_ATTACKS: dict[str, Calls] = {
    "another client from another network": [
        (CLI, RUNNER),
        (CLI, RUNNER),
        ("python-requests/2.31.0", "45.155.205.233"),
    ],
    "two tools at home, a third client from elsewhere": [
        (CLI, RUNNER),
        (TERRAFORM, RUNNER),
        ("curl/8.5.0", "185.220.101.47"),
    ],
    "the stolen token with the intruder's own aws-cli build from elsewhere": [
        (CLI, RUNNER),
        (TERRAFORM, RUNNER),
        ("aws-cli/2.13.0 Python/3.11.4 Darwin/23.1.0 exe/x86_64 prompt/off", "185.220.101.47"),
    ],
}


def _session(tmp_path: Path, calls: Calls) -> pl.DataFrame:
    records = [
        _role_call(
            "GetFunction",
            f"2026-03-10T10:{20 + i:02d}:00Z",
            source="lambda",
            request={"functionName": "api"},
            agent=agent,
            ip=ip,
        )
        for i, (agent, ip) in enumerate(calls)
    ]
    return read_as("cloudtrail", records, tmp_path)


@pytest.mark.parametrize("name", list(SESSION_LOOK_ALIKES))
def test_one_session_used_by_two_clients_of_one_place_is_not_high(
    name: str, tmp_path: Path
) -> None:
    calls, expected = SESSION_LOOK_ALIKES[name]
    trail = _session(tmp_path, calls)
    found = session_hijack(trail)
    assert set(found["severity"]) == expected, found["summary"].to_list()
    assert [d for d in run_detectors(trail).filter(pl.col("severity").is_in(HIGH))["detector"]
            if d == "session_hijack"] == []  # fmt: skip


def test_the_summary_says_the_other_client_came_from_the_sessions_own_network(
    tmp_path: Path,
) -> None:
    found = session_hijack(_session(tmp_path, SESSION_LOOK_ALIKES[
        "the AWS CLI, then Terraform, from the runner's address"][0]))  # fmt: skip
    summary = found["summary"][0]
    assert "another user agent from the session's own network" in summary
    assert "agent 'APN/1.0 HashiCorp/1.0 Terraform/1.6.6" in summary
    moved = session_hijack(_session(tmp_path, SESSION_LOOK_ALIKES[
        "the job's second tool after the runner's address changed"][0]))  # fmt: skip
    assert "another network, with a client it used at home" in moved["summary"][0]


@pytest.mark.parametrize("name", list(SESSION_ATTACKS))
def test_a_token_replayed_from_elsewhere_by_another_client_is_high(
    name: str, tmp_path: Path
) -> None:
    found = session_hijack(_session(tmp_path, SESSION_ATTACKS[name]))
    assert found["severity"].to_list() == ["high"], found["summary"].to_list()
    summary = found["summary"][0]
    assert "another user agent, another network" in summary
    # the summary shows the replay, not the session's own second tool
    assert "45.155.205.0/24" in summary or "185.220.101.0/24" in summary


T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)
OFFICE = {"ip": "198.51.100.23", "country": "DE", "lat": 52.5, "lon": 13.4}
RUNNER_US = {"ip": RUNNER, "country": "US", "lat": 39.0, "lon": -77.5}
ABROAD = {"ip": "91.240.118.7", "country": "RU", "lat": 55.8, "lon": 37.6}


def _geo_session(calls: list[tuple[str, dict[str, Any] | None, float]]) -> pl.DataFrame:
    """Canonical events of one session: (agent, place or None, minutes after T0)."""
    rows = []
    for i, (agent, place, minutes) in enumerate(calls):
        source: dict[str, Any] = {"user_agent": agent}
        if place is not None:
            geo = {k: place[k] for k in ("country", "lat", "lon")}
            source |= {"ip": place["ip"], "geo": geo}
        when = T0 + timedelta(minutes=minutes)
        rows.append({
            "event_id": f"e{i}", "tenant_id": "acme", "occurred_at": when,
            "action": "document.read", "actor": {"id": "bo"}, "session_id": "s1",
            "source": source,
        })  # fmt: skip
    return events_to_frame(rows)


@pytest.mark.parametrize(
    ("name", "calls", "severity"),
    [
        (
            "a console session's cookie replayed from another country with the same browser",
            [(BROWSER, OFFICE, 0), (CLI, OFFICE, 5), (BROWSER, OFFICE, 10), (BROWSER, ABROAD, 40)],
            "high",
        ),
        (
            "a CI session used from a new country",
            [(CLI, RUNNER_US, 0), (TERRAFORM, RUNNER_US, 2), (CLI, ABROAD, 30)],
            "high",
        ),
        (
            "another client from another country, faster than an airliner",
            [(CLI, RUNNER_US, 0), (TERRAFORM, RUNNER_US, 2), ("curl/8.5.0", ABROAD, 30)],
            "critical",
        ),
        (
            "another client from an address not known",
            [(BROWSER, OFFICE, 0), (BROWSER, OFFICE, 5), ("curl/8.5.0", None, 30)],
            "high",
        ),
    ],
)
def test_a_replay_from_another_place_stays_high(
    name: str, calls: list[tuple[str, dict[str, Any] | None, float]], severity: str
) -> None:
    found = session_hijack(_geo_session(calls))
    assert found["severity"].to_list() == [severity], (name, found["summary"].to_list())


# -- key_destruction ------------------------------------------------------------------
def _key_id(n: int) -> str:
    return f"3067a8b6-24e1-46db-a598-{n:012d}"


def _key_arn(n: int) -> str:
    return f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{_key_id(n)}"


def _create_key(n: int, when: str, **who: Any) -> dict[str, Any]:
    return _role_call(
        "CreateKey", when, source="kms", agent=TERRAFORM,
        request={"description": f"it-env pr-{n} data key", "keyUsage": "ENCRYPT_DECRYPT"},
        response={"keyMetadata": {"keyId": _key_id(n), "arn": _key_arn(n)}}, **who,
    )  # fmt: skip


def _schedule(n: int, when: str, **who: Any) -> dict[str, Any]:
    return _role_call(
        "ScheduleKeyDeletion", when, source="kms", agent=TERRAFORM,
        request={"keyId": _key_id(n), "pendingWindowInDays": 7},
        response={"keyId": _key_arn(n), "keyState": "PendingDeletion"}, **who,
    )  # fmt: skip


def _copy_in_place(n: int, key: int | str | None, when: str, *, source: str = "acme-data"
                   ) -> dict[str, Any]:  # fmt: skip
    """An object of ``acme-data`` copied onto itself (from ``source``) under KMS key
    ``key`` (a key's number, an alias, or None: the bucket's default key)."""
    obj = f"reports/{n}.csv"
    request = {"bucketName": "acme-data", "key": obj, "x-amz-copy-source": f"{source}/{obj}"}
    if key is not None:
        request |= {"x-amz-server-side-encryption": "aws:kms",
                    "x-amz-server-side-encryption-aws-kms-key-id":
                        _key_arn(key) if isinstance(key, int) else key}  # fmt: skip
    return _role_call("CopyObject", when, source="s3", agent=BOTO, request=request)


def _alias(n: int, name: str, when: str) -> dict[str, Any]:
    return _role_call("CreateAlias", when, source="kms", agent=BOTO,
                      request={"aliasName": name, "targetKeyId": _key_id(n)})  # fmt: skip


OTHER = {"role": "platform-admin", "session": "alice", "key": "ASIAOTHER00000000001"}
CLEANUP = {"key": "ASIAJOB0000000000002"}  # a later job of the same role

KEY_LOOK_ALIKES: dict[str, list[dict[str, Any]]] = {
    "a test environment's key deleted 20 minutes after its job created it": [
        _create_key(1, "2026-01-06T19:25:00Z"),
        _schedule(1, "2026-01-06T19:45:00Z"),
    ],
    "the same role's cleanup job deleting it in the evening": [
        _create_key(1, "2026-01-06T09:25:00Z"),
        _schedule(1, "2026-01-06T21:00:00Z", **CLEANUP),
    ],
    "two keys of one environment torn down together": [
        _create_key(1, "2026-01-06T19:25:00Z"),
        _create_key(2, "2026-01-06T19:26:00Z"),
        _schedule(1, "2026-01-06T19:45:00Z"),
        _schedule(2, "2026-01-06T19:45:05Z"),
    ],
    "artifacts copied from another bucket while the key lived": [
        _create_key(1, "2026-01-06T19:25:00Z"),
        *[_copy_in_place(n, None, f"2026-01-06T19:3{n}:00Z", source="acme-build")
          for n in range(1, 4)],
        _schedule(1, "2026-01-06T19:45:00Z"),
    ],
    "a throw-away key disabled, then deleted": [
        _create_key(1, "2026-01-06T19:25:00Z"),
        _role_call("DisableKey", "2026-01-06T19:44:00Z", source="kms", agent=TERRAFORM,
                   request={"keyId": _key_id(1)}),
        _schedule(1, "2026-01-06T19:45:00Z"),
    ],
}  # fmt: skip

KEY_ATTACKS: dict[str, list[dict[str, Any]]] = {
    "a key that existed before the trail": [
        _create_key(9, "2026-01-06T19:25:00Z"),  # another key made, to be sure
        _schedule(1, "2026-01-06T19:45:00Z"),
    ],
    "a key another principal created 20 minutes earlier": [
        _create_key(1, "2026-01-06T19:25:00Z", **OTHER),
        _schedule(1, "2026-01-06T19:45:00Z"),
    ],
    "the actor's own key, created two days earlier": [
        _create_key(1, "2026-01-04T19:25:00Z"),
        _schedule(1, "2026-01-06T19:45:00Z"),
    ],
    "a throw-away key deleted together with one that existed before": [
        _create_key(1, "2026-01-06T19:25:00Z"),
        _schedule(1, "2026-01-06T19:45:00Z"),
        _schedule(7, "2026-01-06T19:45:10Z"),
    ],
    "more of its own new keys than a test environment holds, at once": [
        *[_create_key(n, f"2026-01-06T19:2{n}:00Z") for n in range(1, 5)],
        *[_schedule(n, f"2026-01-06T19:45:0{n}Z") for n in range(1, 5)],
    ],
    "a new key that the bucket's objects were re-encrypted under, then deleted": [
        _create_key(1, "2026-01-06T02:00:00Z"),
        *[_copy_in_place(n, 1, f"2026-01-06T02:0{n}:00Z") for n in range(1, 6)],
        _schedule(1, "2026-01-06T02:20:00Z"),
    ],
    "a new key named by an alias for the re-encryption, then deleted": [
        _create_key(1, "2026-01-06T02:00:00Z"),
        _alias(1, "alias/backup-2026", "2026-01-06T02:00:30Z"),
        *[_copy_in_place(n, "alias/backup-2026", f"2026-01-06T02:0{n}:00Z")
          for n in range(1, 6)],
        _schedule(1, "2026-01-06T02:20:00Z"),
    ],
    "objects copied onto themselves under the bucket's new default key, then it deleted": [
        _create_key(1, "2026-01-06T02:00:00Z"),
        _role_call("PutBucketEncryption", "2026-01-06T02:00:40Z", source="s3", agent=BOTO,
                   request={"bucketName": "acme-data", "ServerSideEncryptionConfiguration": {
                       "Rule": {"ApplyServerSideEncryptionByDefault": {
                           "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": _key_arn(1)}}}}),
        *[_copy_in_place(n, None, f"2026-01-06T02:0{n}:00Z") for n in range(1, 6)],
        _schedule(1, "2026-01-06T02:20:00Z"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", list(KEY_LOOK_ALIKES))
def test_an_actors_own_throw_away_key_deleted_is_low(name: str, tmp_path: Path) -> None:
    trail = read_as("cloudtrail", KEY_LOOK_ALIKES[name], tmp_path)
    found = key_destruction(trail)
    assert found["severity"].to_list() == ["low"], found["summary"].to_list()
    assert "itself" in found["summary"][0] and "(a throw-away key)" in found["summary"][0]
    # the evidence: the key's creation, then its destruction
    creations = trail.filter(pl.col("action") == "kms_key.create")["event_id"].to_list()
    assert set(creations) <= set(found["event_ids"][0])
    high = run_detectors(trail).filter(pl.col("severity").is_in(HIGH))
    assert "key_destruction" not in high["detector"].to_list()


@pytest.mark.parametrize("name", list(KEY_ATTACKS))
def test_keys_the_actor_did_not_just_make_for_itself_stay_high(name: str, tmp_path: Path) -> None:
    found = key_destruction(read_as("cloudtrail", KEY_ATTACKS[name], tmp_path))
    assert found["severity"].to_list() == ["high"], found["summary"].to_list()
    assert "(a throw-away key)" not in found["summary"][0]


def test_the_re_encryption_is_named(tmp_path: Path) -> None:
    records = KEY_ATTACKS[
        "a new key that the bucket's objects were re-encrypted under, then deleted"
    ]
    found = key_destruction(read_as("cloudtrail", records, tmp_path))
    assert "stored data was rewritten under a key it had just created" in found["summary"][0]


def test_the_throw_away_window_and_count_are_thresholds(tmp_path: Path) -> None:
    quick = "a test environment's key deleted 20 minutes after its job created it"
    trail = read_as("cloudtrail", KEY_LOOK_ALIKES[quick], tmp_path)
    assert key_destruction(trail, created_within="10m")["severity"].to_list() == ["high"]
    assert key_destruction(trail, created_within="1h")["severity"].to_list() == ["low"]
    two = read_as("cloudtrail", KEY_LOOK_ALIKES["two keys of one environment torn down together"],
                  tmp_path)  # fmt: skip
    assert key_destruction(two, max_own_keys=1)["severity"].to_list() == ["high"]
    assert "but more than 1 at once" in key_destruction(two, max_own_keys=1)["summary"][0]


RING = f"projects/{GCP_PROJECT}/locations/global/keyRings/it-env"
KMS = "google.cloud.kms.v1.KeyManagementService."


def _kms(method: str, when: str, resource: str, actor: str = "ci@acme-prod-4821.iam",
         request: dict[str, Any] | None = None,
         response: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    record = gcp(KMS + method, when, resource=resource, request=request, actor=actor,
                 service="cloudkms.googleapis.com", resource_type="cloudkms_cryptokey")  # fmt: skip
    if response is not None:
        record["protoPayload"]["response"] = response
    return record


def _destroy(key: str, version: int, when: str, actor: str = "ci@acme-prod-4821.iam") -> dict:
    name = f"{RING}/cryptoKeys/{key}/cryptoKeyVersions/{version}"
    return _kms("DestroyCryptoKeyVersion", when, name, actor, request={"name": name})


@pytest.mark.parametrize(
    ("name", "records", "severity"),
    [
        (
            "a key the job created, its first version destroyed",
            [_kms("CreateCryptoKey", "2026-01-06T19:25:00Z", f"{RING}/cryptoKeys/pr-1",
                  request={"parent": RING, "cryptoKeyId": "pr-1"}),
             _destroy("pr-1", 1, "2026-01-06T19:45:00Z")],
            "low",
        ),
        (
            "a version the job added, destroyed",
            [_kms("CreateCryptoKeyVersion", "2026-01-06T19:25:00Z", f"{RING}/cryptoKeys/data",
                  request={"parent": f"{RING}/cryptoKeys/data"},
                  response={"name": f"{RING}/cryptoKeys/data/cryptoKeyVersions/4"}),
             _destroy("data", 4, "2026-01-06T19:45:00Z")],
            "low",
        ),
        (
            "a version that existed before, destroyed after adding a new one",
            [_kms("CreateCryptoKeyVersion", "2026-01-06T19:25:00Z", f"{RING}/cryptoKeys/data",
                  request={"parent": f"{RING}/cryptoKeys/data"},
                  response={"name": f"{RING}/cryptoKeys/data/cryptoKeyVersions/4"}),
             _destroy("data", 1, "2026-01-06T19:45:00Z")],
            "high",
        ),
        (
            "a version someone else added to the job's new key",
            [_kms("CreateCryptoKey", "2026-01-06T19:25:00Z", f"{RING}/cryptoKeys/pr-1",
                  request={"parent": RING, "cryptoKeyId": "pr-1"}),
             _kms("CreateCryptoKeyVersion", "2026-01-06T19:30:00Z", f"{RING}/cryptoKeys/pr-1",
                  actor="mallory@acme.io", request={"parent": f"{RING}/cryptoKeys/pr-1"},
                  response={"name": f"{RING}/cryptoKeys/pr-1/cryptoKeyVersions/2"}),
             _destroy("pr-1", 2, "2026-01-06T19:45:00Z")],
            "high",
        ),
        (
            "a key someone else created",
            [_kms("CreateCryptoKey", "2026-01-06T19:25:00Z", f"{RING}/cryptoKeys/pr-1",
                  actor="alice@acme.io", request={"parent": RING, "cryptoKeyId": "pr-1"}),
             _destroy("pr-1", 1, "2026-01-06T19:45:00Z")],
            "high",
        ),
    ],
)  # fmt: skip
def test_google_cloud_key_versions(
    name: str, records: list[dict[str, Any]], severity: str, tmp_path: Path
) -> None:
    found = key_destruction(read_as("gcp", records, tmp_path))
    assert found["severity"].to_list() == [severity], (name, found["summary"].to_list())


# -- public_exposure ------------------------------------------------------------------
WEBSITE = "www.acme-example.com"


def _website_policy(*, action: str | list[str] = "s3:GetObject", resource: str = "/*",
                    bucket: str = WEBSITE, indent: int | None = None) -> str:  # fmt: skip
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{
            "Sid": "PublicReadGetObject", "Effect": "Allow", "Principal": "*",
            "Action": action, "Resource": f"arn:aws:s3:::{bucket}{resource}"}]},
        indent=indent,
    )  # fmt: skip


def _put_policy(day: int, *, bucket: str = WEBSITE, agent: str = TERRAFORM,
                host: str | None = None, **policy: Any) -> dict[str, Any]:  # fmt: skip
    request = {
        "bucketName": bucket,
        "Host": host or f"{bucket}.s3.amazonaws.com",
        "policy": _website_policy(bucket=bucket, **policy),
    }
    return _role_call("PutBucketPolicy", f"2026-01-{day:02d}T15:46:00Z", source="s3",
                      request=request, agent=agent, key=f"ASIAJOB{day:013d}")  # fmt: skip


def _bucket_call(name: str, day: int, request: dict[str, Any], minute: int = 47) -> dict:
    return _role_call(name, f"2026-01-{day:02d}T15:{minute:02d}:00Z", source="s3",
                      request={"bucketName": WEBSITE, **request}, agent=TERRAFORM,
                      key=f"ASIAJOB{day:013d}")  # fmt: skip


def _deploys(days: range) -> list[dict[str, Any]]:
    """The pipeline's deployment: the same public policy, then the website and tags."""
    records: list[dict[str, Any]] = []
    for day in days:
        records += [
            _put_policy(day),
            _bucket_call("PutBucketWebsite", day,
                         {"WebsiteConfiguration": {"IndexDocument": {"Suffix": "index.html"}}}),
            _bucket_call("PutBucketTagging", day, {"Tagging": {"TagSet": [{"Key": "env"}]}}, 48),
        ]  # fmt: skip
    return records


def _exposures(tmp_path: Path, records: list[dict[str, Any]], **kw: Any) -> list[str]:
    found = public_exposure(read_as("cloudtrail", records, tmp_path), **kw).sort("first_seen")
    return found["severity"].to_list()


def test_a_public_policy_re_applied_every_day_is_high_once(tmp_path: Path) -> None:
    trail = read_as("cloudtrail", _deploys(range(5, 10)), tmp_path)
    found = public_exposure(trail).sort("first_seen")
    assert found["severity"].to_list() == ["high", "low", "low", "low", "low"]
    assert (
        "Re-applied: the same exposure had been in place since 2026-01-05 15:46 UTC"
        in (found["summary"][4])
    )
    high = run_detectors(trail).filter(pl.col("severity").is_in(HIGH))
    assert high.filter(pl.col("detector") == "public_exposure").height == 1


def test_the_same_policy_sent_by_another_tool_is_the_same_request(tmp_path: Path) -> None:
    records = [
        _put_policy(5),
        _put_policy(6, agent=CLI, host="s3.us-east-1.amazonaws.com", indent=2),
    ]
    assert _exposures(tmp_path, records) == ["high", "low"]


EXPOSURE_ATTACKS: dict[str, list[dict[str, Any]]] = {
    "a wider action": [*_deploys(range(5, 8)), _put_policy(8, action="s3:*")],
    "a wider resource": [
        *[_put_policy(d, resource="/public/*") for d in range(5, 8)],
        _put_policy(8, resource="/*"),
    ],
    "another bucket, the same policy": [*_deploys(range(5, 8)), _put_policy(8, bucket="acme-hr")],
    "reopened after the policy was deleted": [
        *_deploys(range(5, 8)),
        _bucket_call("DeleteBucketPolicy", 7, {}, 50),
        _put_policy(8),
    ],
    "reopened after a public access block was put back": [
        *_deploys(range(5, 8)),
        _bucket_call("PutBucketPublicAccessBlock", 7, {"PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True}}, 50),
        _put_policy(8),
    ],
    "reopened after a private policy replaced it": [
        *_deploys(range(5, 8)),
        _bucket_call("PutBucketPolicy", 7, {"policy": json.dumps({"Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{WEBSITE}/*"}]})}, 50),
        _put_policy(8),
    ],
    "reopened after the bucket was deleted": [
        *_deploys(range(5, 8)),
        _bucket_call("DeleteBucket", 7, {}, 50),
        _put_policy(8),
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", list(EXPOSURE_ATTACKS))
def test_what_changes_the_exposure_is_high_again(name: str, tmp_path: Path) -> None:
    assert _exposures(tmp_path, EXPOSURE_ATTACKS[name])[-1] == "high"


def test_an_exposure_seen_long_ago_is_news(tmp_path: Path) -> None:
    records = [_put_policy(5), _put_policy(9)]
    assert _exposures(tmp_path, records) == ["high", "low"]
    assert _exposures(tmp_path, records, reapplied_within="3d") == ["high", "high"]


def test_a_denied_re_application_is_still_medium(tmp_path: Path) -> None:
    denied = _put_policy(6)
    denied |= {"errorCode": "AccessDenied", "errorMessage": "Access Denied"}
    assert _exposures(tmp_path, [_put_policy(5), denied]) == ["high", "medium"]


def test_an_exposure_that_shows_the_resource_closed_before_is_new_each_time() -> None:
    """A setting from private to public, twice: it was closed in between, whether or not
    the trail shows how."""
    rows = [
        {"event_id": f"r{d}", "tenant_id": "acme", "occurred_at": f"2026-01-0{d}T09:00:00Z",
         "action": "repository.update", "actor": {"id": "dev"},
         "targets": [{"id": "repo-7", "name": "acme/payments"}],
         "changes": {"before": {"visibility": "private"}, "after": {"visibility": "public"}}}
        for d in (5, 6)
    ]  # fmt: skip
    assert public_exposure(events_to_frame(rows))["severity"].to_list() == ["high", "high"]


def test_a_google_cloud_binding_delta_adding_all_users_again_is_new(tmp_path: Path) -> None:
    """A delta that adds ``allUsers`` says it was not there before."""
    delta = {"bindingDeltas": [{"action": "ADD", "role": "roles/storage.objectViewer",
                                "member": "allUsers"}]}  # fmt: skip
    records = [
        gcp("storage.setIamPermissions", f"2026-01-0{d}T09:00:00Z",
            resource="projects/_/buckets/acme-site", service="storage.googleapis.com",
            resource_type="gcs_bucket", service_data={"policyDelta": delta})
        for d in (5, 6)
    ]  # fmt: skip
    found = public_exposure(read_as("gcp", records, tmp_path))
    assert found["severity"].to_list() == ["high", "high"]


# -- admin_without_role ---------------------------------------------------------------
def _daily(action: str, days: range, actor: str = "deployer", roles: list[str] | None = None,
           hour: int = 15) -> list[dict[str, Any]]:  # fmt: skip
    return [
        {"event_id": f"{actor}-{action}-{d}", "tenant_id": "acme",
         "occurred_at": f"2026-01-{d:02d}T{hour:02d}:46:00Z", "action": action,
         "actor": {"id": actor, "type": "user", "roles": roles or [ROLE]}}
        for d in days
    ]  # fmt: skip


def test_a_role_putting_the_same_policy_every_day_is_reported_on_its_first_days() -> None:
    found = admin_without_role(events_to_frame(_daily("policy.update", range(5, 20))))
    cited = {e for ids in found["event_ids"] for e in ids}
    assert cited == {"deployer-policy.update-5", "deployer-policy.update-6"}
    assert set(found["severity"]) == {"high"}


def test_the_deployment_role_of_the_red_team_case_is_quiet_after_two_days(tmp_path: Path) -> None:
    trail = read_as("cloudtrail", _deploys(range(5, 20)), tmp_path)
    found = admin_without_role(trail)
    cited = {e for ids in found["event_ids"] for e in ids}
    days = sorted(trail.filter(pl.col("event_id").is_in(list(cited)))["occurred_at"].dt.day())
    assert days == [5, 6]


def test_a_routine_of_one_admin_action_does_not_cover_another() -> None:
    rows = _daily("policy.update", range(5, 12)) + _daily("integration.add", range(11, 12))
    found = admin_without_role(events_to_frame(rows)).sort("first_seen")
    assert found["severity"].to_list() == ["high", "high"]
    assert "integration.add" in found["summary"][-1]
    assert "policy.update" not in found["summary"][-1]


def test_days_before_an_admin_role_change_are_no_routine() -> None:
    """An admin whose role was revoked and who goes on: reported on the first days after
    the revocation, whatever they did (as an admin) before it."""
    rows = [
        {"event_id": "grant", "tenant_id": "acme", "occurred_at": "2026-01-01T08:00:00Z",
         "action": "role.grant", "actor": {"id": "boss"}, "targets": [{"id": "kim"}],
         "metadata": {"role": "admin"}},
        *_daily("settings.update", range(2, 8), actor="kim", roles=[]),
        {"event_id": "revoke", "tenant_id": "acme", "occurred_at": "2026-01-08T08:00:00Z",
         "action": "role.revoke", "actor": {"id": "boss"}, "targets": [{"id": "kim"}],
         "metadata": {"role": "admin"}},
        *_daily("settings.update", range(8, 12), actor="kim", roles=[]),
    ]  # fmt: skip
    for row in rows:  # kim's events carry no roles: the grants decide
        if row["actor"]["id"] == "kim":
            del row["actor"]["roles"]
    found = admin_without_role(events_to_frame(rows))
    cited = sorted(e for ids in found["event_ids"] for e in ids)
    assert cited == ["kim-settings.update-8", "kim-settings.update-9"]
    assert set(found["severity"]) == {"high"}
    assert "admin role revoked earlier" in found["summary"][0]


def test_the_routine_is_a_threshold() -> None:
    rows = _daily("policy.update", range(5, 12))
    found = admin_without_role(events_to_frame(rows), routine_days=5)
    assert sum(len(ids) for ids in found["event_ids"]) == 5
