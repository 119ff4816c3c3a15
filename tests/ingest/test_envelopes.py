"""Trails handed over from another tool, still in its envelope: a Splunk search exported
as JSON or CSV (``_raw``), Splunk HTTP Event Collector events, Elasticsearch documents
(elasticdump lines, an array of hits, a whole ``_search`` response).  The records inside
give the events they give unwrapped; what cannot be read is quarantined on its own."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.export import export_store
from auditkit.ingest._base import RawRecord
from auditkit.ingest._envelopes import envelope_kind, unwrapped
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events
from tests.ingest._records import fixture_records, stored_events
from tests.ingest.strategies import json_records

FIXTURES = Path(__file__).parent / "fixtures"


def _lines(items: list[Any]) -> bytes:
    return b"".join(orjson.dumps(x) + b"\n" for x in items)


def splunk_json(records: list[dict[str, Any]]) -> bytes:
    """``splunk search ... -output json`` / the REST export endpoint: a line per result,
    the record as text in ``_raw`` beside Splunk's own fields."""
    return _lines(
        [
            {
                "preview": False,
                "offset": i,
                "result": {
                    "_bkt": "main~12~ABC",
                    "_cd": f"12:{i}",
                    "_raw": orjson.dumps(r).decode(),
                    "_si": ["sh1", "main"],
                    "_time": "2024-03-07T18:30:00.000+00:00",
                    "host": "collector-1",
                    "index": "main",
                    "linecount": "1",
                    "source": "s3://trail/x.json.gz",
                    "sourcetype": "aws:cloudtrail",
                    "splunk_server": "sh1",
                },
                **({"lastrow": True} if i == len(records) - 1 else {}),
            }
            for i, r in enumerate(records)
        ]
    )


def splunk_csv(records: list[dict[str, Any]]) -> bytes:
    """Splunk's "Export results" as CSV: ``_raw`` among the selected fields."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["_time", "host", "source", "sourcetype", "_raw", "index"])
    for r in records:
        writer.writerow(
            ["2024-03-07T18:30:00.000+0000", "h", "s", "st", orjson.dumps(r).decode(), "main"]
        )
    return out.getvalue().encode()


def hec(records: list[dict[str, Any]]) -> bytes:
    return _lines(
        [{"time": 1709836200.5, "host": "h", "sourcetype": "_json", "event": r} for r in records]
    )


def hec_text(records: list[dict[str, Any]]) -> bytes:
    """HEC events whose ``event`` is the record as a JSON string (raw-endpoint shippers)."""
    return _lines(
        [{"time": 1, "source": "app", "event": orjson.dumps(r).decode()} for r in records]
    )


def elasticdump(records: list[dict[str, Any]]) -> bytes:
    return _lines(
        [
            {"_index": "audit-2024.03", "_id": f"d{i}", "_score": 1, "_source": r}
            for i, r in enumerate(records)
        ]
    )


def es_hits_array(records: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        [{"_index": "a", "_id": str(i), "_source": r} for i, r in enumerate(records)]
    )


def es_search_response(records: list[dict[str, Any]]) -> bytes:
    hits = [
        {"_index": "a", "_id": str(i), "_score": 1.0, "_source": r} for i, r in enumerate(records)
    ]
    doc = {"took": 5, "timed_out": False, "hits": {"total": {"value": len(hits)}, "hits": hits}}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def splunk_results(records: list[dict[str, Any]]) -> bytes:
    """A search job's results (``/services/search/jobs/<sid>/results?output_mode=json``)."""
    results = [{"_raw": orjson.dumps(r).decode(), "_time": "x", "host": "h"} for r in records]
    doc = {"preview": False, "init_offset": 0, "messages": [], "fields": [], "results": results}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def logstash(records: list[dict[str, Any]]) -> bytes:
    """Logstash (or Vector, Fluentd) without a JSON filter: each line it read in
    ``message``, beside its own fields."""
    return _lines(
        [
            {
                "@timestamp": "2024-03-07T18:30:00.000Z",
                "@version": "1",
                "host": "collector-1",
                "path": "/var/log/audit/export.json",
                "tags": ["audit"],
                "message": orjson.dumps(r).decode(),
            }
            for r in records
        ]
    )


def docker_log(records: list[dict[str, Any]]) -> bytes:
    """Docker's json-file log of a container that printed the records: ``log`` holds the
    line with its newline."""
    return _lines(
        [
            {
                "log": orjson.dumps(r).decode() + "\n",
                "stream": "stdout",
                "time": "2024-03-07T18:30:00Z",
            }
            for r in records
        ]
    )


def filebeat_array(records: list[dict[str, Any]]) -> bytes:
    """Filebeat's events (a file output, as a JSON array): the line in ``message``, the
    file it came from in ``log``."""
    return orjson.dumps(
        [
            {
                "@timestamp": "2024-03-07T18:30:00.000Z",
                "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.12.0"},
                "agent": {"type": "filebeat", "version": "8.12.0"},
                "ecs": {"version": "8.0.0"},
                "host": {"name": "collector-1"},
                "input": {"type": "filestream"},
                "log": {"file": {"path": "/var/log/audit.json"}, "offset": i * 1000},
                "message": orjson.dumps(r).decode(),
            }
            for i, r in enumerate(records)
        ]
    )


WRAPS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "logstash.ndjson": logstash,
    "docker.log": docker_log,
    "filebeat-array.json": filebeat_array,
    "splunk.json": splunk_json,
    "splunk.csv": splunk_csv,
    "splunk-results.json": splunk_results,
    "hec.ndjson": hec,
    "hec-text.ndjson": hec_text,
    "elasticdump.ndjson": elasticdump,
    "hits.json": es_hits_array,
    "search.json": es_search_response,
}

SOURCES = {
    "cloudtrail": FIXTURES
    / "cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json",
    "ocsf": FIXTURES / "ocsf/security_lake_and_okta.ocsf.json",
    "gcp": FIXTURES / "gcp/gcloud_logging_read.json",
}


def _events(store: Store) -> list[dict[str, Any]]:
    return stored_events(store, "envelope")


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("source", SOURCES)
def test_records_in_an_envelope_give_the_events_they_give_unwrapped(
    tmp_path: Path, source: str, wrap: str
) -> None:
    plain = SOURCES[source]
    wrapped = tmp_path / f"export-{wrap}"
    wrapped.write_bytes(WRAPS[wrap](fixture_records(plain)))
    a, b = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    expected = ingest_files(a, [plain], tenant="t")
    result = ingest_files(b, [wrapped], tenant="t")
    assert result.files == {str(wrapped): source}
    assert (result.read, result.stored, result.quarantined) == (expected.read, expected.stored, 0)
    got, want = _events(b), _events(a)
    kind = wrap.split(".")[0].split("-")[0]
    shipper = ("logstash", "docker", "filebeat")
    envelope = {"splunk": "splunk", "hec": "hec", **dict.fromkeys(shipper, "shipper")}.get(
        kind, "elasticsearch"
    )
    assert {e["envelope"] for e in got} == {envelope}
    for e in got:
        e["envelope"] = None
    assert got == want


def test_our_own_hec_export_comes_back(tmp_path: Path) -> None:
    """``export --format hec`` (for Splunk) read back: the events the NDJSON export gives."""
    source = Store.init(str(tmp_path / "a.db"))
    source.append(make_events(30))
    export_store(source, tmp_path / "e.hec.ndjson", format="hec")
    export_store(source, tmp_path / "e.ndjson", format="ndjson")
    via_hec, via_json = Store.init(str(tmp_path / "b.db")), Store.init(str(tmp_path / "c.db"))
    assert ingest_files(via_hec, [tmp_path / "e.hec.ndjson"]).stored == 30
    ingest_files(via_json, [tmp_path / "e.ndjson"])
    got, want = _events(via_hec), _events(via_json)
    assert {e.pop("envelope") for e in got} == {"hec"}
    assert got == [{k: v for k, v in e.items() if k != "envelope"} for e in want]


def test_a_format_that_knows_its_envelope_keeps_it(tmp_path: Path) -> None:
    """Okta's log streams deliver HEC events, which the Okta reader unwraps itself and
    keeps whole in metadata.original: the generic envelope does not take them over."""
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [FIXTURES / "okta/splunk_hec.ndjson"], tenant="acme")
    assert result.quarantined == 0
    meta = [orjson.loads(m) for m in store.load().get_column("metadata").to_list()]
    assert all("envelope" not in m and "sourcetype" in m["original"] for m in meta)


def test_what_an_envelope_holds_that_cannot_be_read_is_quarantined_alone(tmp_path: Path) -> None:
    good = make_events(2)
    lines = [
        {
            "time": 1,
            "sourcetype": "syslog",
            "event": "Mar  7 18:30:00 host sshd[1]: Failed password",
        },
        {"time": 1, "sourcetype": "_json", "event": good[0]},
        {"time": 1, "sourcetype": "_json", "event": [1, 2]},
        {"time": 1, "sourcetype": "_json", "event": good[1]},
    ]
    path = tmp_path / "hec.ndjson"
    path.write_bytes(_lines(lines))
    splunk = tmp_path / "splunk.json"
    splunk.write_bytes(
        _lines([{"preview": False, "messages": [{"type": "INFO", "text": "x"}]}])
        + splunk_json(make_events(3, prefix="s"))
    )
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path, splunk], quarantine=tmp_path / "q.ndjson")
    assert result.balanced
    assert (result.read, result.stored, result.quarantined) == (8, 5, 3)
    reasons = {(q.file, q.line): q.reason for q in result.problems}
    assert "record is not JSON ('Mar  7 18:30:00" in reasons[(str(path), 1)]
    assert "not a JSON object (list)" in reasons[(str(path), 3)]
    assert "Splunk export without a result (keys: messages, preview)" in reasons[(str(splunk), 1)]
    kept = [orjson.loads(x) for x in (tmp_path / "q.ndjson").read_bytes().splitlines()]
    assert orjson.loads(kept[0]["record"])["sourcetype"] == "syslog"  # the envelope, whole


def test_a_shipped_line_that_is_not_json_is_quarantined_alone(tmp_path: Path) -> None:
    """A shipper's event whose line is not a JSON record (a syslog line among the
    audit records) is quarantined alone, naming ``message``; a file of nothing but
    such lines is quarantined whole, saying so, rather than as of unknown format."""
    good = make_events(2)
    lines = orjson.loads(b"[" + logstash(good).strip().replace(b"\n", b",") + b"]")
    lines.insert(1, {**lines[0], "message": "Mar  7 18:30:00 host sshd[1]: Failed password"})
    path = tmp_path / "shipped.ndjson"
    path.write_bytes(_lines(lines))
    syslog = tmp_path / "syslog.ndjson"
    syslog.write_bytes(_lines([lines[1]]))
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path, syslog])
    assert (result.read, result.stored, result.quarantined) == (4, 2, 2)
    reasons = {(q.file, q.line, q.field): q.reason for q in result.problems}
    assert (
        "a log shipper's event whose record is not JSON ('Mar  7"
        in reasons[(str(path), 2, "message")]
    )
    assert "a log shipper's event whose record is not JSON" in reasons[(str(syslog), None, None)]


def test_look_alikes_are_not_envelopes(tmp_path: Path) -> None:
    """ECS documents have an ``event`` object, canonical events have none of these keys:
    neither is unwrapped (an ECS export is read as ECS, not as HEC envelopes)."""
    source = Store.init(str(tmp_path / "a.db"))
    source.append(make_events(3))
    export_store(source, tmp_path / "e.ecs.ndjson", format="ecs")
    result = ingest_files(Store.init(str(tmp_path / "b.db")), [tmp_path / "e.ecs.ndjson"])
    assert result.files == {str(tmp_path / "e.ecs.ndjson"): "ecs"}
    assert (result.stored, result.quarantined) == (3, 0)
    assert envelope_kind(make_events(1)[0]) is None
    assert envelope_kind({"event": {"a": 1}}) is None  # one key: not an HEC envelope
    # a record with a message among its own fields is not a shipper's event
    assert envelope_kind({**make_events(1)[0], "message": "{}"}) is None
    assert envelope_kind({"@timestamp": "x", "event": {}, "message": "{}"}) is None


@settings(max_examples=80, deadline=None)
@given(record=json_records, wrap=st.sampled_from(sorted(WRAPS)))
def test_every_envelope_gives_back_the_record_it_holds(
    tmp_path_factory: pytest.TempPathFactory, record: dict[str, Any], wrap: str
) -> None:
    """Property: whatever JSON object a record is, each envelope hands back exactly it."""

    from auditkit.ingest._envelopes import _first_records

    path = tmp_path_factory.mktemp("env") / f"x-{wrap}"
    path.write_bytes(WRAPS[wrap]([record, record]))
    found = _first_records(str(path))
    assert found is not None
    out = [item for rec in found[1] for item in unwrapped(rec)]
    assert [(r.error, dict(r.value)) for r in out] == [(None, record)] * 2
    assert all(r.text for r in out)  # the envelope is kept for the quarantine


def test_unwrapped_leaves_a_plain_record_alone() -> None:
    rec = RawRecord("f", 1, value={"tenant_id": "a"})
    assert list(unwrapped(rec)) == [rec]


def test_parser_processes_give_what_one_process_gives(tmp_path: Path) -> None:
    """A file of one envelope a line is cut into blocks of lines for parser processes,
    which take each record out of its envelope themselves: the same store, the same
    quarantine."""
    events = make_events(600)
    lines = [{"time": 1, "sourcetype": "_json", "event": e} for e in events]
    lines[250] = {"time": 1, "sourcetype": "syslog", "event": "not json"}
    lines[420] = {"preview": False, "messages": []}
    path = tmp_path / "hec.ndjson"
    path.write_bytes(_lines(lines))
    one, two = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    a = ingest_files(one, [path], workers=1, batch_size=100)
    b = ingest_files(two, [path], workers=2, batch_size=100)
    assert (b.read, b.stored, b.quarantined) == (a.read, a.stored, a.quarantined) == (600, 598, 2)
    assert [(q.line, q.field, q.reason) for q in b.problems] == [
        (q.line, q.field, q.reason) for q in a.problems
    ]
    assert one.load().drop("received_at").equals(two.load().drop("received_at"))


def test_a_hit_without_its_source_is_quarantined_alone(tmp_path: Path) -> None:
    """``_source`` turned off for a hit (or stored fields only): named, the others read."""
    hits = [{"_index": "a", "_id": str(i), "_source": e} for i, e in enumerate(make_events(3))]
    hits.insert(1, {"_index": "a", "_id": "x", "fields": {"action": ["user.login"]}})
    path = tmp_path / "search.json"
    path.write_bytes(orjson.dumps({"took": 1, "hits": {"hits": hits}}))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.read, result.stored, result.quarantined) == (4, 3, 1)
    assert result.problems[0].location == "hits.hits[1]"
    assert "an Elasticsearch search response holding no record here" in result.problems[0].reason
