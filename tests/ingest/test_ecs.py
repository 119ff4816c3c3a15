"""Elastic Common Schema documents, as Elasticsearch and OpenSearch keep audit logs
(Filebeat and Elastic Agent modules, Logstash, Datadog), and auditkit's own ECS export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.export import export_store
from auditkit.ingest.formats.ecs import EcsFormat
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events

#: documents shaped as Filebeat's aws-cloudtrail and okta modules write them
FILEBEAT = [
    {
        "@timestamp": "2024-03-07T18:30:04.000Z",
        "ecs": {"version": "8.0.0"},
        "event": {
            "action": "ConsoleLogin",
            "category": ["authentication"],
            "type": ["start"],
            "outcome": "failure",
            "kind": "event",
            "module": "aws",
            "dataset": "aws.cloudtrail",
            "provider": "signin.amazonaws.com",
            "id": "3038ebd2-c98a-4c65-9b6e-e22506292313",
        },
        "user": {"name": "alice", "id": "AIDAEXAMPLE"},
        "source": {
            "ip": "198.51.100.7",
            "geo": {"country_iso_code": "NL", "location": {"lat": 52.37, "lon": 4.9}},
        },
        "user_agent": {"original": "Mozilla/5.0"},
        "cloud": {"account": {"id": "123456789012"}, "region": "us-east-1", "provider": "aws"},
        "aws": {"cloudtrail": {"event_version": "1.08"}},
    },
    {
        "@timestamp": "2024-03-07T18:31:00.000Z",
        "event": {"action": "CreateUser", "outcome": "success", "module": "aws", "id": "e-2"},
        "user": {"name": "admin-bob", "target": {"name": "mallory"}},
        "cloud": {"account": {"id": "123456789012"}},
        "ecs": {"version": "8.0.0"},
    },
    {
        "@timestamp": "2024-03-07T18:32:00.000Z",
        "event": {
            "action": "user.account.lock",
            "category": ["iam"],
            "outcome": "unknown",
            "module": "okta",
            "id": "e-3",
        },
        "user": {"name": "carol@example.com", "email": "carol@example.com"},
        "ecs": {"version": "8.0.0"},
        "message": "Max sign in attempts exceeded",
    },
]


def _write(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


def test_documents_of_other_tools(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [_write(tmp_path / "ecs.ndjson", FILEBEAT)], tenant="okta-org")
    assert result.files == {str(tmp_path / "ecs.ndjson"): "ecs"}
    assert (result.stored, result.quarantined) == (3, 0)
    rows = store.load().to_dicts()
    got = [(r["event_id"], r["tenant_id"], r["action"], r["outcome"], r["actor_id"]) for r in rows]
    assert got == [
        (
            "3038ebd2-c98a-4c65-9b6e-e22506292313",
            "123456789012",
            "user.login",
            "failure",
            "AIDAEXAMPLE",
        ),
        ("e-2", "123456789012", "aws_user.create", "success", "admin-bob"),
        ("e-3", "okta-org", "user.account.lock", "success", "carol@example.com"),
    ]
    assert rows[0]["source_ip"] == "198.51.100.7" and rows[0]["geo_country"] == "NL"
    assert rows[1]["targets"] == [{"id": "mallory", "type": "user", "name": "mallory"}]
    meta = orjson.loads(rows[2]["metadata"])
    assert meta["source_outcome"] == "unknown" and meta["original"]["message"].startswith("Max")


def test_our_own_ecs_export_comes_back(tmp_path: Path) -> None:
    events = make_events(20)
    events[2]["targets"] = [{"id": "d1", "type": "doc"}]
    events[3]["changes"] = {"before": {"a": 1}, "after": {"a": 2}}
    events[4]["metadata"] = {"ticket": "CHG-7"}
    events[5]["outcome"] = "denied"
    # an event that names no actor type and no observer came back as a user's, observed
    # by "auditkit" (the exporter's own event.module)
    events[6]["actor"] = {"id": events[6]["actor"]["id"]}
    events[6].pop("observer", None)
    source = Store.init(str(tmp_path / "a.db"))
    source.append(events)
    export_store(source, tmp_path / "e.ecs.ndjson", format="ecs")
    export_store(source, tmp_path / "e.ndjson", format="ndjson")
    via_ecs, via_json = Store.init(str(tmp_path / "b.db")), Store.init(str(tmp_path / "c.db"))
    result = ingest_files(via_ecs, [tmp_path / "e.ecs.ndjson"])
    assert result.files == {str(tmp_path / "e.ecs.ndjson"): "ecs"}
    ingest_files(via_json, [tmp_path / "e.ndjson"])
    assert via_ecs.load().drop("received_at").equals(via_json.load().drop("received_at"))


def test_a_document_without_an_actor_or_a_time_is_quarantined_naming_the_field(
    tmp_path: Path,
) -> None:
    docs = [
        {"@timestamp": "2024-03-07T18:30:00Z", "event": {"action": "x.y"}, "ecs": {}},
        {"event": {"action": "x.y"}, "user": {"name": "u"}, "ecs": {}},
        {"@timestamp": "2024-03-07 18:30:00", "event": {"action": "x.y"}, "user": {"id": "u"}},
    ]
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [_write(tmp_path / "e.json", docs)], format="ecs", tenant="t")
    assert (result.stored, result.quarantined) == (1, 2)
    assert [q.field for q in result.problems] == ["user.id", "@timestamp"]
    assert orjson.loads(store.load().get_column("metadata")[0])["occurred_at_zone"] == "assumed UTC"


@pytest.mark.parametrize(
    "head",
    [
        b'{"tenant_id": "a", "action": "user.login", "actor": {"id": "u"}}',
        b'{"published": "2024-01-01T00:00:00Z", "eventType": "user.session.start"}',
        b'{"class_uid": 3002, "time": 1}',
    ],
)
def test_ecs_does_not_claim_other_formats(head: bytes) -> None:
    assert EcsFormat().sniff(head, "x.json") == 0


CLOUDTRAIL = (
    Path(__file__).parent
    / "fixtures/cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"
)


def test_the_source_record_kept_in_event_original_is_read_by_its_own_format(
    tmp_path: Path,
) -> None:
    """Elastic Agent and Filebeat keep the source record in ``event.original`` when asked
    (``preserve_original_event``): CloudTrail's own mapping reads it, as from the trail;
    a document whose ``event.original`` is a log line keeps its ECS reading."""
    records = orjson.loads(CLOUDTRAIL.read_bytes())["Records"]
    docs = [
        {
            "@timestamp": r["eventTime"],
            "event": {
                "action": r["eventName"],
                "module": "aws",
                "original": orjson.dumps(r).decode(),
            },
            "user": {"name": "somebody"},
            "ecs": {"version": "8.11.0"},
        }
        for r in records
    ]
    docs.append({**FILEBEAT[2], "event": {**FILEBEAT[2]["event"], "original": "Mar 7 lock"}})
    trail, lake = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    ingest_files(trail, [CLOUDTRAIL])
    result = ingest_files(lake, [_write(tmp_path / "ecs.ndjson", docs)], tenant="okta-org")
    assert (result.stored, result.quarantined) == (len(records) + 1, 0)
    got = lake.load()
    columns = ["event_id", "tenant_id", "occurred_at", "action", "outcome", "actor_id", "targets"]
    assert got.head(len(records)).select(columns).equals(trail.load().select(columns))
    meta = [orjson.loads(m) for m in got.get_column("metadata").to_list()]
    assert {m["envelope"] for m in meta[:-1]} == {"ecs"}
    assert (
        meta[-1]["source_format"] == "ecs" and got.get_column("action")[-1] == "user.account.lock"
    )
