"""Google Cloud Audit Logs mapping: the four log types, IAM deltas, tenants, outcomes."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from auditkit.errors import SchemaError
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from . import FIXTURES, events

EXPORT = FIXTURES / "gcp" / "cloudaudit.googleapis.com_export.json"
PROJECT = "shop-prod-4711"


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    return events("gcp", EXPORT)


def test_admin_activity_set_iam_policy_add_is_a_role_grant(log: list[dict[str, Any]]) -> None:
    e = log[0]
    assert (e["action"], e["category"], e["outcome"]) == ("role.grant", "admin", "success")
    assert e["tenant_id"] == PROJECT
    assert e["actor"] == {"id": "alice@example.com", "type": "user", "email": "alice@example.com"}
    assert e["targets"][0] == {
        "id": "user:mallory@example.com",
        "type": "principal",
        "name": "roles/owner",
    }
    assert e["metadata"]["role"] == "roles/owner"
    assert e["metadata"]["gcp_log_type"] == "activity"
    assert e["source"]["ip"] == "198.51.100.10"
    assert e["occurred_at"] == "2024-04-02T09:00:01.123456Z"  # nanoseconds cut to micro
    assert e["event_id"].startswith("gcp001x1a2b3c.")  # insertId + digest of time and log


def test_remove_binding_is_a_role_revoke() -> None:
    evs = events("gcp", FIXTURES / "gcp" / "gcloud_logging_read.json")
    assert [e["action"] for e in evs] == ["role.revoke", "api_key.revoke"]


def test_service_account_key_by_a_service_account(log: list[dict[str, Any]]) -> None:
    e = log[1]
    assert e["action"] == "api_key.create"
    assert e["actor"]["type"] == "service"
    assert e["metadata"]["delegated_by"] == ["ci-runner@build-infra.iam.gserviceaccount.com"]


def test_permission_denied_status_and_derived_names(log: list[dict[str, Any]]) -> None:
    e = log[2]
    assert (e["action"], e["outcome"]) == ("compute_instances.insert", "denied")
    assert e["metadata"]["status_code"] == 7
    assert e["observer"] == {"service": "compute.googleapis.com", "region": "europe-west1-b"}
    assert e["request_id"].startswith("operation-1712048999000")


def test_data_access_internal_caller_and_anonymous(log: list[dict[str, Any]]) -> None:
    internal, anonymous = log[3], log[4]
    assert internal["action"] == "storage_objects.get"
    assert "ip" not in internal["source"]
    assert internal["metadata"]["caller_ip"] == "gce-internal-ip"
    assert anonymous["actor"]["id"] == "allUsers" and anonymous["metadata"]["anonymous"] is True


def test_system_events_with_and_without_a_principal(log: list[dict[str, Any]]) -> None:
    preempted, host_error = log[5], log[6]
    assert preempted["actor"]["type"] == "system" and preempted["category"] == "system"
    assert host_error["actor"] == {
        "id": "compute.googleapis.com",
        "type": "system",
        "name": "compute.googleapis.com",
    }
    assert host_error["action"] == "compute_instances.host_error"


def test_policy_denied_log(log: list[dict[str, Any]]) -> None:
    e = log[7]
    assert e["metadata"]["gcp_log_type"] == "policy" and e["outcome"] == "denied"
    assert e["action"] == "bigquery_table.get"


def test_audit_config_removal_and_sink_deletion(log: list[dict[str, Any]]) -> None:
    assert log[8]["action"] == "audit_log.disable"
    assert log[9]["action"] == "audit_destination.remove"


@pytest.mark.parametrize("value", [1, "ADD", {"action": "ADD"}, True, [1, "x"]])
@pytest.mark.parametrize("deltas", ["bindingDeltas", "auditConfigDeltas"])
def test_policy_deltas_of_another_type_are_an_unnamed_policy_update(
    deltas: str, value: Any
) -> None:
    # found by the fuzz test: a number there raised TypeError out of the reader
    record = orjson.loads(EXPORT.read_bytes().splitlines()[8])  # the audit config removal
    record["protoPayload"]["serviceData"]["policyDelta"] = {deltas: value}
    event = normalize_event(get_format("gcp").to_event(record, tenant=None))
    assert event["action"] == "policy.update"


def test_workspace_login_failure_at_organization_level(log: list[dict[str, Any]]) -> None:
    e = log[10]
    assert (e["action"], e["outcome"]) == ("user.login", "failure")
    assert e["tenant_id"] == "organizations/123456789012"


def _entry() -> dict[str, Any]:
    line = EXPORT.read_bytes().splitlines()[0]
    return copy.deepcopy(orjson.loads(line))


def test_tenant_falls_back_to_resource_labels_then_option() -> None:
    fmt = get_format("gcp")
    rec = _entry()
    rec["logName"] = "cloudaudit.googleapis.com%2Factivity"
    assert fmt.to_event(rec, tenant=None)["tenant_id"] == PROJECT
    del rec["resource"]
    assert fmt.to_event(rec, tenant="cli")["tenant_id"] == "cli"
    with pytest.raises(SchemaError) as info:
        fmt.to_event(rec, tenant=None)
    assert info.value.field == "logName"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("timestamp",), "2024-13-01T00:00:00Z", "timestamp"),
        (("timestamp",), None, "timestamp"),
        (("protoPayload",), "AuditLog", "protoPayload"),
        (("protoPayload", "methodName"), 12.5, "protoPayload.methodName"),
    ],
)
def test_bad_entries_name_the_field(path: tuple[str, ...], value: Any, field: str) -> None:
    rec = _entry()
    node = rec
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    with pytest.raises(SchemaError) as info:
        normalize_event(get_format("gcp").to_event(rec, tenant=None))
    assert info.value.field == field


def test_bigquery_export_maps_like_the_log_entries(log: list[dict[str, Any]]) -> None:
    """Rows of a log sink's BigQuery tables, exported as JSON (the payload column
    ``protopayload_auditlog``, JSON-text members, ``servicedata_v1_iam``, string
    status codes, ``... UTC`` times at microseconds), give the events the same
    entries give from a Cloud Storage export; only the id differs where the entry's
    time had nanoseconds, which BigQuery does not keep."""
    bq_file = FIXTURES / "gcp" / "bigquery_export.json"
    assert get_format("gcp").sniff(bq_file.read_bytes()[:4096], str(bq_file)) >= 90
    rows = events("gcp", bq_file)
    assert len(rows) == len(log)
    for a, b in zip(log, rows, strict=True):
        for e in (a, b):
            e["metadata"].pop("original")
        same_time = a["occurred_at"] == b["occurred_at"]
        assert same_time
        a_id, b_id = a.pop("event_id"), b.pop("event_id")
        assert a_id.split(".")[0] == b_id.split(".")[0]  # the insertId
        assert a == b
    assert rows[0]["action"] == "role.grant"  # the policy delta, from servicedata_v1_iam
    assert rows[2]["outcome"] == "denied"  # status code "7", a string
    assert rows[2]["metadata"]["status_code"] == 7


def test_bigquery_row_without_its_payload_names_the_column() -> None:
    fmt = get_format("gcp")
    rec = orjson.loads((FIXTURES / "gcp" / "bigquery_export.json").read_bytes().splitlines()[0])
    rec["protopayload_auditlog"] = "AuditLog"
    with pytest.raises(SchemaError) as info:
        fmt.to_event(rec, tenant=None)
    assert info.value.field == "protopayload_auditlog"
    rec["protopayload_auditlog"] = {"serviceName": "x.googleapis.com"}
    with pytest.raises(SchemaError) as info:
        fmt.to_event(rec, tenant=None)
    assert info.value.field == "protopayload_auditlog.methodName"


#: what `gcloud logging read` gives beside audit logs: an App Engine request log
#: and a plain text entry (a container's stdout)
_REQUEST_LOG = {
    "protoPayload": {
        "@type": "type.googleapis.com/google.appengine.logging.v1.RequestLog",
        "appId": "s~shop-prod-4711",
        "versionId": "20260105t090000",
        "requestId": "65a1b2c3d4e5f60001",
        "ip": "198.51.100.20",
        "startTime": "2026-01-05T09:00:00.000Z",
        "endTime": "2026-01-05T09:00:00.041Z",
        "method": "GET",
        "resource": "/healthz",
        "httpVersion": "HTTP/1.1",
        "status": 200,
        "userAgent": "GoogleHC/1.0",
    },
    "insertId": "65a1b2c3d4e5f60001",
    "httpRequest": {"status": 200},
    "resource": {"type": "gae_app", "labels": {"project_id": PROJECT, "module_id": "default"}},
    "timestamp": "2026-01-05T09:00:00Z",
    "severity": "INFO",
    "logName": f"projects/{PROJECT}/logs/appengine.googleapis.com%2Frequest_log",
}
_TEXT_ENTRY = {
    "textPayload": "GET /healthz 200",
    "insertId": "1x2y3z",
    "resource": {"type": "k8s_container", "labels": {"project_id": PROJECT}},
    "timestamp": "2026-01-05T09:00:01Z",
    "severity": "INFO",
    "logName": f"projects/{PROJECT}/logs/stdout",
}


def test_entries_that_are_not_audit_logs_say_so(tmp_path: Any) -> None:
    """Such entries were quarantined for 'protoPayload.methodName missing', an AuditLog
    field they never have; the reason now says what they are."""
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.store import Store

    audit = orjson.loads(EXPORT.read_bytes().splitlines()[0])
    path = tmp_path / "logging-read.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in (audit, _REQUEST_LOG, _TEXT_ENTRY)))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], format="gcp")
    assert (result.stored, result.quarantined) == (1, 2)
    request, plain = result.problems
    assert (request.line, request.field) == (2, "protoPayload.@type")
    assert request.reason == "field 'protoPayload.@type': " + (
        "not an audit log entry (protoPayload @type "
        "'type.googleapis.com/google.appengine.logging.v1.RequestLog', "
        "not 'type.googleapis.com/google.cloud.audit.AuditLog')"
    )
    assert (plain.line, plain.field) == (3, "protoPayload")
    assert plain.reason.startswith("field 'protoPayload': not an audit log entry (a textPayload")


@pytest.mark.parametrize("fixture", ["pubsub_subscriptions_pull.json", "pubsub_push.ndjson"])
def test_pubsub_messages_of_a_log_sink_map_like_the_export(fixture: str) -> None:
    """A log sink to a Pub/Sub topic sends each entry as a message's base64 ``data``:
    ``gcloud pubsub subscriptions pull --format=json`` output and push bodies were not
    recognised ('cannot tell the format')."""
    from auditkit.ingest.registry import detect_format

    path = FIXTURES / "gcp" / fixture
    assert detect_format(str(path)).name == "gcp"
    got = events("gcp", path)
    export = events("gcp", FIXTURES / "gcp" / "cloudaudit.googleapis.com_export.json")[:3]
    assert len(got) == 3
    for mine, theirs in zip(got, export, strict=True):
        assert "message" in mine["metadata"].pop("original")  # the message as read
        theirs["metadata"].pop("original")
        assert mine == theirs  # same event ids: a re-export of the same entries is a duplicate


@pytest.mark.parametrize(
    ("data", "reason"), [("bm90IGpzb24=", "not JSON"), ("***", "not base64"), ("WzFd", "list")]
)
def test_a_pubsub_message_that_is_not_a_log_entry_names_its_data(data: str, reason: str) -> None:
    message = {"ackId": "a1", "message": {"data": data, "messageId": "1"}}
    with pytest.raises(SchemaError) as info:
        get_format("gcp").to_event(message, tenant=None)
    assert info.value.field == "message.data" and reason in info.value.reason


def test_iam_names_and_created_service_accounts(tmp_path) -> None:
    """IAM's own methods are spelt ``SetIAMPolicy`` (a policy of a service account), and a
    created service account is the event's target, not the project it is made in."""
    from tests.analytics._producers import gcp, read_as

    made = gcp("google.iam.admin.v1.CreateServiceAccount", "2026-03-20T15:20:00Z",
               service="iam.googleapis.com", resource="projects/acme-prod-4821",
               request={"account_id": "ci-bot", "name": "projects/acme-prod-4821"})  # fmt: skip
    answered = copy.deepcopy(made)
    answered["insertId"] = "answered"
    answered["protoPayload"]["response"] = {"email": "ci-bot@elsewhere.iam.gserviceaccount.com"}
    delta = {
        "policyDelta": {
            "bindingDeltas": [
                {
                    "action": "ADD",
                    "role": "roles/iam.serviceAccountUser",
                    "member": "user:x@y.example",
                }
            ]
        }
    }
    policy = gcp("google.iam.admin.v1.SetIAMPolicy", "2026-03-20T15:21:00Z",
                 service="iam.googleapis.com", service_data=delta,
                 resource="projects/-/serviceAccounts/1082345")  # fmt: skip
    frame = read_as("gcp", [made, answered, policy], tmp_path)
    assert frame["action"].to_list() == ["iam_service_account.create"] * 2 + ["role.grant"]
    assert frame["target_id"].to_list() == [
        "ci-bot@acme-prod-4821.iam.gserviceaccount.com",
        "ci-bot@elsewhere.iam.gserviceaccount.com",
        "user:x@y.example",
    ]
