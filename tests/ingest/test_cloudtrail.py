"""AWS CloudTrail mapping: identities, core actions, outcomes, shapes, streaming."""

from __future__ import annotations

import copy
import gzip
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.errors import SchemaError
from auditkit.ingest.formats.cloudtrail import aws_api_action
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from . import FIXTURES, by_source_action, events

CT = FIXTURES / "cloudtrail"
LOG_FILE = CT / "123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    return events("cloudtrail", LOG_FILE)


def _first(evs: list[dict[str, Any]], **where: Any) -> dict[str, Any]:
    for e in evs:
        if all(e["metadata"].get(k) == v for k, v in where.items()):
            return e
    raise AssertionError(f"no event with {where}")


def test_console_logins_success_failure_and_root_break_glass(log: list[dict[str, Any]]) -> None:
    logins = [e for e in log if e["action"] == "user.login"]
    assert [(e["outcome"], e["actor"]["name"]) for e in logins] == [
        ("success", "Alice"),
        ("failure", "Alice"),
        ("success", "root"),
    ]
    ok, failed, root = logins
    # the failed sign-in carries no ARN: the built ARN matches the successful one
    assert failed["actor"]["id"] == ok["actor"]["id"] == f"arn:aws:iam::{ACCOUNT}:user/Alice"
    assert failed["metadata"]["error_message"] == "Failed authentication"
    assert root["actor"]["id"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert root["metadata"]["break_glass"] is True
    assert "break_glass" not in ok["metadata"]
    assert all(e["category"] == "management" for e in logins)
    assert ok["observer"] == {
        "service": "signin.amazonaws.com",
        "version": "1.09",
        "region": "us-east-1",
    }


def test_root_api_call_is_break_glass_too(log: list[dict[str, Any]]) -> None:
    e = _first(log, source_action="DeleteTrail")
    assert e["action"] == "audit_log.disable" and e["metadata"]["break_glass"] is True


def test_assumed_role_creates_access_key_for_another_user(log: list[dict[str, Any]]) -> None:
    e = _first(log, source_action="CreateAccessKey")
    assert e["action"] == "api_key.create" and e["category"] == "admin"
    assert e["actor"] == {
        "id": f"arn:aws:sts::{ACCOUNT}:assumed-role/OpsAdmin/carol@example.com",
        "type": "user",
        "name": "carol@example.com",
        "email": "carol@example.com",
        "roles": ["OpsAdmin"],
    }
    assert e["targets"][0] == {
        "id": f"arn:aws:iam::{ACCOUNT}:user/bob",
        "type": "AWS::IAM::User",
        "name": "bob",
    }
    assert e["session_id"] == "ASIAIOSFODNN7EXAMPLE"
    assert e["request_id"].startswith("req-0004")


def test_create_access_key_without_user_name_targets_the_caller() -> None:
    (e,) = events("cloudtrail", CT / "single_event.json")
    assert e["action"] == "api_key.create"
    assert e["targets"] == [{"id": e["actor"]["id"], "type": "AWS::IAM::User", "name": "Alice"}]


def test_attach_policy_to_oneself_is_a_self_permission_grant(log: list[dict[str, Any]]) -> None:
    e = _first(log, source_action="AttachUserPolicy")
    assert e["action"] == "permission.grant"
    assert e["targets"][0]["id"] == e["actor"]["id"]
    assert e["metadata"]["self_grant"] is True
    assert {
        "id": "arn:aws:iam::aws:policy/AdministratorAccess",
        "type": "AWS::IAM::Policy",
        "name": "arn:aws:iam::aws:policy/AdministratorAccess",
    } in (e["targets"])
    role = _first(log, source_action="AttachRolePolicy")  # a role granting itself
    assert role["targets"][0]["id"] == role["actor"]["id"] and role["metadata"]["self_grant"]


def test_grant_to_someone_else_is_not_a_self_grant() -> None:
    (e,) = [
        x
        for x in events("cloudtrail", CT / "lake_query_rows.ndjson")
        if x["metadata"]["source_action"] == "PutUserPolicy"
    ]
    assert e["action"] == "permission.grant" and "self_grant" not in e["metadata"]
    assert e["targets"][0]["id"] == f"arn:aws:iam::{ACCOUNT}:user/bob"


def test_trail_changes_and_mfa(log: list[dict[str, Any]]) -> None:
    acts = by_source_action(log)
    stop = acts["StopLogging"]
    assert (stop["action"], stop["outcome"]) == ("audit_log.disable", "denied")
    assert stop["metadata"]["error_code"] == "AccessDenied"
    assert acts["PutEventSelectors"]["action"] == "audit_log.update"
    assert acts["PutEventSelectors"]["category"] == "admin"
    assert acts["DeactivateMFADevice"]["action"] == "mfa.disable"
    assert acts["DeleteVirtualMFADevice"]["action"] == "mfa.disable"
    assert acts["CreateUser"]["action"] == "user.create"
    assert acts["CreateUser"]["targets"][0]["name"] == "svc-backup"


def test_outcomes_from_error_codes(log: list[dict[str, Any]]) -> None:
    acts = by_source_action(log)
    assert acts["RunInstances"]["outcome"] == "denied"  # Client.UnauthorizedOperation
    assert acts["DescribeInstances"]["outcome"] == "failure"  # RequestLimitExceeded
    assert acts["PutObject"]["outcome"] == "error"  # InternalError
    assert acts["GetObject"]["outcome"] == "success"


def test_derived_names_for_unlisted_calls(log: list[dict[str, Any]]) -> None:
    acts = by_source_action(log)
    assert acts["GetObject"]["action"] == "s3_object.get"
    assert acts["RunInstances"]["action"] == "ec2_instances.run"
    assert acts["GetCallerIdentity"]["action"] == "sts_caller_identity.get"
    assert acts["AssumeRoleWithSAML"]["action"] == "sts_role_with_saml.assume"
    assert aws_api_action("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2")[0] == (
        "lambda_function_configuration.update"
    )
    assert aws_api_action("rds.amazonaws.com", "CreateDBInstance")[0] == "rds_db_instance.create"


def test_federated_user_data_event_with_resources(log: list[dict[str, Any]]) -> None:
    e = by_source_action(log)["GetObject"]
    assert e["actor"]["id"] == f"arn:aws:sts::{ACCOUNT}:federated-user/dave"
    assert e["actor"]["name"] == "dave" and "roles" not in e["actor"]
    ids = {t["id"] for t in e["targets"]}
    assert {"arn:aws:s3:::finance-reports/2024/q1.xlsx", "arn:aws:s3:::finance-reports"} <= ids
    assert e["category"] == "user"


def test_service_initiated_events_have_no_ip_and_a_service_actor(
    log: list[dict[str, Any]],
) -> None:
    acts = by_source_action(log)
    rotate = acts["RotateKey"]  # AwsServiceEvent
    assert rotate["actor"] == {"id": "kms.amazonaws.com", "type": "service"}
    assert rotate["category"] == "system" and "ip" not in rotate.get("source", {})
    cfn = acts["CreateBucket"]  # a role used by CloudFormation on a user's behalf
    assert cfn["actor"]["type"] == "service"
    assert cfn["metadata"]["invoked_by"] == "cloudformation.amazonaws.com"
    assert cfn["metadata"]["source_host"] == "cloudformation.amazonaws.com"
    assert "ip" not in cfn["source"]


def test_missing_source_ip_and_user_agent(log: list[dict[str, Any]]) -> None:
    e = by_source_action(log)["GetCallerIdentity"]
    assert "source" not in e


def test_saml_user_identity(log: list[dict[str, Any]]) -> None:
    e = by_source_action(log)["AssumeRoleWithSAML"]
    assert e["actor"]["name"] == "SamlExample"
    assert e["actor"]["id"].endswith(":SamlExample")
    assert "aws_account_id" not in e["metadata"]


def test_eventbridge_shape_takes_the_tenant_from_the_envelope() -> None:
    evs = events("cloudtrail", CT / "eventbridge.ndjson")
    assert [e["action"] for e in evs] == ["user.create", "user.login"]
    assert {e["tenant_id"] for e in evs} == {ACCOUNT}
    assert evs[1]["source"]["ip"] == "2001:db8:85a3::8a2e:370:7334"
    assert evs[1]["metadata"]["original"]["detail-type"] == "AWS Console Sign In via CloudTrail"


def test_lake_integration_event_and_query_rows() -> None:
    (e,) = events("cloudtrail", CT / "lake_integration.json")
    assert e["occurred_at"] == "2024-03-08T11:00:00.000000Z"  # eventTime has no zone: UTC
    assert e["action"] == "okta.user_logged_in"
    assert e["actor"]["id"] == "00u1abcd2EFGH3ijk4l5"
    assert e["event_id"] == "ct-lake-0001-4c2f-9f0a-EXAMPLE"
    rows = events("cloudtrail", CT / "lake_query_rows.ndjson")
    assert rows[0]["occurred_at"] == "2024-03-08T12:00:00.000000Z"
    assert rows[0]["actor"]["name"] == "Alice"  # userIdentity was JSON text
    assert rows[1]["tenant_id"] == "111122223333"
    assert rows[1]["actor"]["type"] == "service"


def test_insight_events_are_anomaly_alerts() -> None:
    (e,) = events("cloudtrail", CT / "insight.json")
    assert (e["action"], e["category"], e["actor"]["type"]) == ("anomaly.alert", "system", "system")
    assert e["metadata"]["source_action"] == "DeleteAccessKey"


def _record() -> dict[str, Any]:
    doc = orjson.loads(LOG_FILE.read_bytes())
    return copy.deepcopy(doc["Records"][0])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"eventTime": None}, "eventTime"),
        ({"eventTime": "last tuesday"}, "eventTime"),
        ({"eventTime": "1989-12-31T23:59:59Z"}, "eventTime"),
        ({"eventTime": 5}, "eventTime"),  # a number, but 1970
        ({"eventTime": True}, "eventTime"),
        ({"eventName": None}, "eventName"),
        ({"eventName": ["ConsoleLogin"]}, "eventName"),
        ({"userIdentity": "root"}, "userIdentity"),
        ({"userIdentity": {"type": "IAMUser"}}, "userIdentity"),
        ({"recipientAccountId": None}, "recipientAccountId"),
    ],
)
def test_bad_records_raise_schema_errors_naming_the_source_field(
    change: dict[str, Any], field: str
) -> None:
    rec = {**_record(), **change}
    rec = {k: v for k, v in rec.items() if v is not None}
    with pytest.raises(SchemaError) as info:
        get_format("cloudtrail").to_event(rec, tenant=None)
    assert info.value.field == field


def test_tenant_option_fills_in_a_missing_recipient_account() -> None:
    rec = _record()
    del rec["recipientAccountId"]
    e = normalize_event(get_format("cloudtrail").to_event(rec, tenant="acct-from-cli"))
    assert e["tenant_id"] == "acct-from-cli"


def test_records_own_tenant_wins_over_the_option() -> None:
    e = get_format("cloudtrail").to_event(_record(), tenant="other")
    assert e["tenant_id"] == ACCOUNT


def test_big_integers_in_the_original_stay_exact() -> None:
    rec = _record()
    rec["additionalEventData"] = {"bytes": 2**60, "nested": [{"n": -(2**62)}], "edge": 2**53}
    e = normalize_event(get_format("cloudtrail").to_event(rec, tenant=None))
    original = e["metadata"]["original"]["additionalEventData"]
    assert original == {"bytes": str(2**60), "nested": [{"n": str(-(2**62))}], "edge": str(2**53)}


# -- streaming -----------------------------------------------------------------------------


def _big_gzip(path: Path, n: int, pad: int = 900) -> None:
    template = _record()
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(b'{"Records": [')
        for i in range(n):
            rec = {**template, "eventID": f"ev-{i}", "requestParameters": {"pad": "x" * pad}}
            f.write((b"," if i else b"") + orjson.dumps(rec))
        f.write(b"]}")


def test_gzipped_log_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.json.gz"
    n = 1_000  # ~13 MB of JSON once un-gzipped, more than the limit below
    _big_gzip(path, n, pad=12_000)
    fmt = get_format("cloudtrail")
    tracemalloc.start()
    count = 0
    last = None
    for rec in fmt.records(str(path)):
        assert rec.error is None
        count += 1
        last = rec
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n and last is not None and last.value["eventID"] == f"ev-{n - 1}"
    assert last.location == f"Records[{n - 1}]"
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    event = normalize_event(fmt.to_event(last.value, tenant=None))
    assert event["event_id"] == f"ev-{n - 1}"


def test_truncated_gzip_yields_the_complete_records_then_one_error(tmp_path: Path) -> None:
    path = tmp_path / "big.json.gz"
    _big_gzip(path, 2000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    recs = list(get_format("cloudtrail").records(str(path)))
    good = [r for r in recs if r.error is None]
    bad = [r for r in recs if r.error is not None]
    assert len(good) > 1000 and len(bad) == 1
    assert [r.value["eventID"] for r in good] == [f"ev-{i}" for i in range(len(good))]
    assert "truncated" in str(bad[0].error)


@pytest.mark.parametrize("format", ["auto", "cloudtrail"])
def test_a_synced_bucket_skips_its_digest_files(tmp_path: Path, format: str) -> None:
    """`aws s3 sync` of a trail's bucket brings the digest files beside the log files:
    they hold no events, so they are skipped (and said), not quarantined; with
    `--format cloudtrail` too (they were quarantined as missing `eventName`)."""
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.store import Store

    root = tmp_path / "AWSLogs" / "111122223333"
    logs = root / "CloudTrail" / "eu-central-1" / "2024" / "06" / "03"
    digests = root / "CloudTrail-Digest" / "eu-central-1" / "2024" / "06" / "03"
    logs.mkdir(parents=True)
    digests.mkdir(parents=True)
    example = Path(__file__).parents[2] / "examples" / "cloudtrail"
    delivered = next(example.glob("*.json")).read_bytes()
    (logs / "111122223333_CloudTrail_eu-central-1_20240603T2300Z_x.json.gz").write_bytes(
        gzip.compress(delivered)
    )
    digest = {
        "awsAccountId": "111122223333",
        "digestStartTime": "2024-06-03T22:19:39Z",
        "digestEndTime": "2024-06-03T23:19:39Z",
        "digestS3Bucket": "bucket",
        "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/x.json.gz",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "logFiles": [
            {"s3Object": "AWSLogs/x.json.gz", "hashValue": "00", "hashAlgorithm": "SHA-256"}
        ],
    }
    (digests / "111122223333_CloudTrail-Digest_eu-central-1_x.json.gz").write_bytes(
        gzip.compress(orjson.dumps(digest))
    )
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [tmp_path / "AWSLogs"], format=format)
    records = len(orjson.loads(delivered)["Records"])
    assert (result.stored, result.quarantined) == (records, 0)
    assert list(result.skipped) == [str(next(digests.iterdir()))]
    assert "skipped 1 CloudTrail digest file" in result.summary()


def _cloudwatch_files(tmp_path: Path, records: list[dict[str, Any]]) -> dict[str, Path]:
    """The trail's events as CloudWatch Logs gives them back: ``aws logs
    filter-log-events`` output, subscription payloads one a line (with the control
    message a new subscription sends), and those payloads as Firehose delivers them
    to S3: gzip, written back to back with no separator."""
    messages = [orjson.dumps(r).decode() for r in records]
    log_events = [
        {"id": str(i), "timestamp": 1709287200000 + i, "message": m} for i, m in enumerate(messages)
    ]
    filtered = {
        "events": [{**e, "logStreamName": "123456789012_CloudTrail_us-east-1",
                    "ingestionTime": 1709287201000, "eventId": e["id"]} for e in log_events],
        "searchedLogStreams": [],
    }  # fmt: skip
    half = len(log_events) // 2
    payloads = [
        {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
         "logStream": "", "subscriptionFilters": [],
         "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: health"}]},
        *({"messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": "trail",
           "logStream": "s", "subscriptionFilters": ["f"], "logEvents": part}
          for part in (log_events[:half], log_events[half:])),
    ]  # fmt: skip
    out = {
        "filter-log-events": tmp_path / "filtered.json",
        "subscription": tmp_path / "payloads.ndjson",
        "firehose": tmp_path / "firehose-1-2024-03-01-10-00-00-abc.gz",
    }
    out["filter-log-events"].write_bytes(orjson.dumps(filtered, option=orjson.OPT_INDENT_2))
    out["subscription"].write_bytes(b"\n".join(orjson.dumps(p) for p in payloads) + b"\n")
    out["firehose"].write_bytes(gzip.compress(b"".join(orjson.dumps(p) for p in payloads)))
    return out


@pytest.mark.parametrize("shape", ["filter-log-events", "subscription", "firehose"])
def test_cloudwatch_logs_shapes_map_like_the_delivered_file(
    tmp_path: Path, shape: str, log: list[dict[str, Any]]
) -> None:
    """A trail sent to CloudWatch Logs comes back as log events whose ``message`` is
    the CloudTrail event: each shape gives the delivered file's events, in order,
    found without ``--format``, through the whole ingest (a store, sequential and
    parallel)."""
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.ingest.registry import detect_format
    from auditkit.store import Store

    records = orjson.loads(LOG_FILE.read_bytes())["Records"]
    path = _cloudwatch_files(tmp_path, records)[shape]
    assert detect_format(str(path)).name == "cloudtrail"
    got = events("cloudtrail", path)
    # the original kept is the log event as read: its message is the event's JSON text
    assert [orjson.loads(e["metadata"].pop("original")["message"]) for e in got] == records
    assert got == [{**e, "metadata": {k: v for k, v in e["metadata"].items() if k != "original"}}
                   for e in log]  # fmt: skip
    for workers in (1, 2):
        store = Store.init(str(tmp_path / f"{shape}-{workers}.db"))
        result = ingest_files(store, [path], workers=workers)
        assert (result.stored, result.quarantined) == (len(records), 0)
        assert store.count() == len(records)


def test_cloudwatch_log_event_that_is_not_a_cloudtrail_event_is_quarantined(
    tmp_path: Path,
) -> None:
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.store import Store

    records = orjson.loads(LOG_FILE.read_bytes())["Records"][:3]
    payload = {"messageType": "DATA_MESSAGE", "logEvents": [
        {"id": "1", "timestamp": 1, "message": orjson.dumps(records[0]).decode()},
        {"id": "2", "timestamp": 1, "message": "START RequestId: 42 Version: $LATEST"},
        {"id": "3", "timestamp": 1, "message": 17},
        {"id": "4", "timestamp": 1, "message": "[1, 2]"},
    ]}  # fmt: skip
    path = tmp_path / "firehose.gz"
    path.write_bytes(gzip.compress(orjson.dumps(payload) + orjson.dumps(payload)))
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path], format="cloudtrail")
    assert (result.read, result.stored, result.duplicates, result.quarantined) == (8, 1, 1, 6)
    where = [(p.location, p.field) for p in result.problems]
    assert where[:3] == [
        ("[0].logEvents[1]", "message"),
        ("[0].logEvents[2]", "message"),
        ("[0].logEvents[3]", "message"),
    ]


def test_cloudwatch_logs_export_task_lines_keep_their_time_prefix_out(tmp_path: Path) -> None:
    """``aws logs create-export-task`` writes each log event as ``<ingestion time> <message>``
    (gzipped ``000000.gz`` objects): every line was quarantined as invalid JSON."""
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.ingest.registry import detect_format
    from auditkit.store import Store

    fixture = CT / "cloudwatch_logs_export_000000.log"
    records = orjson.loads(LOG_FILE.read_bytes())["Records"][:3]
    path = tmp_path / "000000.gz"
    path.write_bytes(gzip.compress(fixture.read_bytes()))
    assert detect_format(str(path)).name == "cloudtrail"
    assert [e["metadata"]["original"] for e in events("cloudtrail", path)] == records
    bad = fixture.read_bytes() + b"2024-03-04T09:13:00.000Z START RequestId: 42\n"
    path.write_bytes(gzip.compress(bad))
    for workers in (1, 2):
        store = Store.init(str(tmp_path / f"{workers}.db"))
        result = ingest_files(store, [path], workers=workers)
        assert (result.read, result.stored, result.quarantined) == (4, 3, 1)
        assert [p.line for p in result.problems] == [4]


# -- what the AWS CLI gives back ---------------------------------------------------------------


def test_lookup_events_output_gives_each_cloudtrail_event(tmp_path: Path) -> None:
    """``aws cloudtrail lookup-events`` wraps each event as JSON text in
    ``Events[].CloudTrailEvent``: each is one record, mapped like the delivered event,
    found without ``--format``; it was one unreadable record before."""
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.ingest.registry import detect_format
    from auditkit.store import Store

    path = CT / "lookup_events.json"
    assert detect_format(str(path)).name == "cloudtrail"
    login, created = events("cloudtrail", path)
    assert (login["event_id"], login["action"], login["outcome"]) == (
        "ct-lookup-0002-EXAMPLE", "user.login", "failure",
    )  # fmt: skip
    assert login["actor"]["id"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert (created["action"], created["targets"][0]["id"]) == (
        "user.create", f"arn:aws:iam::{ACCOUNT}:user/bob",
    )  # fmt: skip
    assert created["source"]["ip"] == "203.0.113.5"
    assert created["metadata"]["original"]["EventName"] == "CreateUser"  # the item as read
    items = orjson.loads(path.read_bytes())["Events"]
    items[1]["CloudTrailEvent"] = "not json"
    bad = tmp_path / "lookup.json"
    bad.write_bytes(orjson.dumps({"Events": items}))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [bad])
    assert (result.read, result.stored, result.quarantined) == (2, 1, 1)
    assert (result.problems[0].location, result.problems[0].field) == (
        "Events[1]", "CloudTrailEvent",
    )  # fmt: skip


def test_insight_events_as_delivered_name_the_api_in_insight_details() -> None:
    """Delivered Insights events have no top-level ``eventSource``/``eventName``
    (they are in ``insightDetails``); they were quarantined for a missing eventName."""
    start, end = events("cloudtrail", CT / "insight_delivered.json")
    for e in (start, end):
        assert (e["action"], e["category"], e["outcome"]) == ("anomaly.alert", "system", "success")
        assert e["actor"] == {"id": "ssm.amazonaws.com", "type": "system",
                              "name": "CloudTrail Insights"}  # fmt: skip
        assert e["metadata"]["source_action"] == "UpdateInstanceAssociationStatus"
        assert "eventName" not in e["metadata"]["original"]
    rec = orjson.loads((CT / "insight_delivered.json").read_bytes())["Records"][0]
    del rec["insightDetails"]["eventName"]
    with pytest.raises(SchemaError) as info:
        get_format("cloudtrail").to_event(rec, tenant=None)
    assert info.value.field == "insightDetails.eventName"


def test_lake_get_query_results_output_gives_one_event_per_row() -> None:
    """``aws cloudtrail get-query-results`` writes each row as a list of one-column
    objects under ``QueryResultRows``; each row is one event."""
    from auditkit.ingest.registry import detect_format

    path = CT / "lake_get_query_results.json"
    assert detect_format(str(path)).name == "cloudtrail"
    deleted, read = events("cloudtrail", path)
    assert deleted["occurred_at"] == "2024-03-08T12:30:00.000000Z"
    assert deleted["metadata"]["occurred_at_zone"] == "assumed UTC"
    assert (deleted["action"], deleted["targets"][0]["id"]) == (
        "user.delete", f"arn:aws:iam::{ACCOUNT}:user/bob",
    )  # fmt: skip
    assert (read["action"], read["outcome"]) == ("s3_object.get", "denied")
    assert read["actor"]["id"] == f"arn:aws:iam::{ACCOUNT}:user/alice"


def _athena(value: Any) -> str:
    """A value as Athena prints a struct, map or array column in CSV results."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k.lower()}={_athena(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_athena(v) for v in value) + "]"
    return str(value)


def _athena_rows(raw: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, str]]]:
    """CloudTrail events as Athena's CloudTrail table gives them back as CSV: one
    lower-case column per top-level field, structs printed, JSON-text columns as JSON."""
    json_text = {"requestparameters", "responseelements", "additionaleventdata",
                 "serviceeventdetails"}  # fmt: skip
    rows: list[dict[str, str]] = []
    for event in raw:
        row: dict[str, str] = {}
        for key, value in event.items():
            col = key.lower()
            if value is None:
                row[col] = ""
            elif col in json_text:
                row[col] = orjson.dumps(value).decode()
            elif isinstance(value, dict | list | bool):
                row[col] = _athena(value)
            else:
                row[col] = str(value)
        rows.append(row)
    columns = sorted({c for r in rows for c in r})
    return columns, rows


def test_athena_csv_maps_like_the_delivered_log(tmp_path: Path, log: list[dict[str, Any]]) -> None:
    """Athena query results over a trail's table, downloaded as CSV (every column
    quoted, lower-case names, structs as ``{type=IAMUser, principalid=...}``), found
    without --format, give the events the delivered log file gives."""
    import csv

    from auditkit.ingest.registry import detect_format

    raw = orjson.loads((CT / "123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json")
                       .read_bytes())["Records"]  # fmt: skip
    columns, rows = _athena_rows(raw)
    path = tmp_path / "3f1e-athena-results.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    assert detect_format(str(path)).name == "cloudtrail"
    got = events("cloudtrail", path)
    keys = ("event_id", "tenant_id", "occurred_at", "action", "category", "outcome", "actor",
            "targets", "source")  # fmt: skip
    assert [{k: e.get(k) for k in keys} for e in got] == [{k: e.get(k) for k in keys} for e in log]


def test_athena_csv_row_with_a_broken_struct_is_quarantined_alone(tmp_path: Path) -> None:
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.store import Store

    path = tmp_path / "athena.csv"
    head = (
        "eventtime,eventsource,eventname,useridentity,recipientaccountid,eventid,sourceipaddress\n"
    )
    ok = "{type=IAMUser, principalid=AIDA1, arn=arn:aws:iam::1:user/al, accountid=1, username=al}"
    path.write_text(
        head
        + f'2024-03-07T18:30:00Z,s3.amazonaws.com,GetObject,"{ok}",123456789012,e1,198.51.100.1\n'
        + '2024-03-07T18:31:00Z,s3.amazonaws.com,GetObject,"{type=IAMUser",123456789012,e2,\n'
        + f'2024-03-07T18:32:00Z,iam.amazonaws.com,CreateUser,"{ok}",123456789012,e3,\n',
        encoding="utf-8",
    )
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path])
    assert (result.stored, result.quarantined) == (2, 1)
    (problem,) = result.problems
    assert (problem.line, problem.field) == (3, "useridentity")
    assert "struct" in problem.reason


def test_athena_csv_text_columns_starting_with_a_bracket_stay_text(tmp_path: Path) -> None:
    """The S3 console's user agent starts with a bracket (``[S3Console/0.4, ...]``): it is
    text, not an array to read."""
    path = tmp_path / "athena.csv"
    agent = "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]"
    path.write_text(
        "eventtime,eventsource,eventname,useridentity,recipientaccountid,eventid,useragent\n"
        '2024-03-07T18:30:00Z,s3.amazonaws.com,GetObject,"{type=IAMUser, arn=arn:aws:iam::1:'
        f'user/al, accountid=1}}",123456789012,e1,"{agent}"\n',
        encoding="utf-8",
    )
    (event,) = events("cloudtrail", path)
    assert event["source"]["user_agent"] == agent
    assert event["actor"]["id"] == "arn:aws:iam::1:user/al"


_KEYS = st.from_regex(r"x_[a-z0-9_]{0,8}", fullmatch=True)
_SCALARS = st.from_regex(r"[A-Za-z0-9:/._@+=*-][A-Za-z0-9:/._@+=* -]{0,20}", fullmatch=True).filter(
    lambda s: s != "null" and not s.endswith(" ")
)
_STRUCTS = st.recursive(
    _SCALARS | st.none(),
    lambda inner: st.dictionaries(_KEYS, inner, max_size=4) | st.lists(inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _STRUCTS, max_size=5) | st.lists(_STRUCTS, max_size=5))
def test_athena_struct_text_reads_back(value: Any) -> None:
    """What Athena prints is read back as the value it printed, for values without
    the notation's own separators (", " before a key, a closing bracket)."""
    from auditkit.ingest.formats._cloudtrail_csv import parse_struct

    assert parse_struct(_athena(value)) == value


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="{}[]=, anull-:", max_size=40))
def test_athena_struct_parser_fails_only_with_a_reason(text_: str) -> None:
    from auditkit.ingest.formats._cloudtrail_csv import parse_struct

    try:
        parse_struct(text_)
    except ValueError as exc:
        assert str(exc)


def test_lake_rows_with_structs_printed_as_trino_prints_them(tmp_path: Path) -> None:
    """CloudTrail Lake prints a struct column as Athena does (``{type=IAMUser,
    principalid=..., ...}``), in its CSV download and in ``get-query-results``. In the
    JSON rows such a ``userIdentity`` was refused as "expected an object, got str"."""
    from tests.ingest._records import fixture_records

    plain = CT / "123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"
    rows = []
    for record in fixture_records(plain):
        row = []
        for key, value in record.items():
            if key in ("userIdentity", "resources") and value is not None:
                value = _athena(value)
            elif isinstance(value, dict | list):
                value = orjson.dumps(value).decode()
            row.append({key: value})
        rows.append(row)
    lake = tmp_path / "lake.json"
    lake.write_bytes(orjson.dumps({"QueryStatus": "FINISHED", "QueryResultRows": rows}))

    def seen(e: dict[str, Any]) -> tuple[Any, ...]:
        return e["event_id"], e["action"], e["outcome"], e["actor"], e.get("targets")

    want = events("cloudtrail", plain)
    assert [seen(e) for e in events("cloudtrail", lake)] == [seen(e) for e in want]
    assert any(e["actor"].get("name") for e in want)  # the struct's fields were read
    broken = dict(fixture_records(plain)[0], userIdentity="{type=IAMUser, arn=}x")
    with pytest.raises(SchemaError) as info:
        get_format("cloudtrail").to_event(broken, tenant=None)
    assert info.value.field == "userIdentity"
