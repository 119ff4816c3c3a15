"""Datadog log records around the events they carry: the Log Explorer's JSON export,
``logs search`` and ``/api/v2/logs/events`` output (``{"id": ..., "type": "log",
"attributes": {"timestamp": ..., "service": ..., "attributes": {<the event>}}}`` one a
line, as an array, or the whole ``{"data": [...]}`` response) and the v1 list API's
``{"logs": [{"id": ..., "content": {...}}]}``.  The event inside gives the event it
gives unwrapped; a log whose event no format reads says it is a Datadog log record
and what it holds, where it was "field 'eventName' missing" or "cannot tell the
format"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.ingest._base import RawRecord
from auditkit.ingest._envelopes import envelope_kind, unwrapped
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.ingest._records import fixture_records, stored_events
from tests.ingest.strategies import json_records

FIXTURES = Path(__file__).parent / "fixtures"

SOURCES = {
    "cloudtrail": FIXTURES
    / "cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json",
    "gcp": FIXTURES / "gcp/gcloud_logging_read.json",
    "okta": FIXTURES / "okta/api_logs_page.json",
}


def _time(event: dict[str, Any]) -> str:
    for key in ("eventTime", "timestamp", "published"):
        if isinstance(event.get(key), str):
            return str(event[key])
    return "2024-03-07T18:30:00.000Z"


def log(i: int, event: dict[str, Any] | None, svc: str, source: str, **over: Any) -> Any:
    """One Datadog log as the v2 API and the Log Explorer's export give it: Datadog's
    own fields beside the event's, which are under ``attributes.attributes``."""
    body: dict[str, Any] = {
        "timestamp": _time(event or {}),
        "host": "i-0abc1234def567890",
        "service": svc,
        "status": "info",
        "message": "",
        "tags": [f"source:{source}", "env:prod", f"service:{svc}", "forwardername:dd-fwd"],
        "attributes": event,
    }
    body.update(over)
    return {"id": f"AQAAAY5{i:06d}TmV3TG9nSWRGb3JUZXN0cw", "type": "log", "attributes": body}


def _logs(records: list[dict[str, Any]], source: str = "cloudtrail") -> list[Any]:
    return [log(i, r, source, source) for i, r in enumerate(records)]


def _lines(items: list[Any]) -> bytes:
    return b"".join(orjson.dumps(x) + b"\n" for x in items)


def ndjson(records: list[dict[str, Any]]) -> bytes:
    """``dogfetch --format ndjson``, the downloaders' NDJSON: a log a line."""
    return _lines(_logs(records))


def array(records: list[dict[str, Any]]) -> bytes:
    """The ``data`` of the API's responses concatenated: a JSON array of logs."""
    return orjson.dumps(_logs(records), option=orjson.OPT_INDENT_2)


def response(records: list[dict[str, Any]]) -> bytes:
    """A whole ``GET /api/v2/logs/events`` (``logs search``) response."""
    return orjson.dumps(
        {
            "data": _logs(records),
            "links": {"next": "https://api.datadoghq.com/api/v2/logs/events?page[cursor]=eyJh"},
            "meta": {
                "elapsed": 132,
                "page": {"after": "eyJh"},
                "request_id": "p",
                "status": "done",
            },
        },
        option=orjson.OPT_INDENT_2,
    )


def v1_list(records: list[dict[str, Any]]) -> bytes:
    """The v1 ``POST /api/v1/logs-queries/list`` response: ``content`` for ``attributes``."""
    logs = []
    for item in _logs(records):
        body = dict(item["attributes"])
        logs.append({"id": item["id"], "content": body})
    return orjson.dumps({"logs": logs, "nextLogId": None, "status": "done"})


WRAPS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "logs.ndjson": ndjson,
    "logs-array.json": array,
    "response.json": response,
    "v1-list.json": v1_list,
}


def _events(store: Store) -> list[dict[str, Any]]:
    return stored_events(store, "envelope")


@pytest.mark.parametrize("wrap", WRAPS)
@pytest.mark.parametrize("source", SOURCES)
def test_events_in_datadog_logs_give_the_events_they_give_unwrapped(
    tmp_path: Path, source: str, wrap: str
) -> None:
    """CloudTrail, Okta and Google Cloud events exported from Datadog were quarantined
    as missing their own fields (``eventName``, ``eventType``) or of unknown format."""
    plain = SOURCES[source]
    wrapped = tmp_path / f"datadog-{wrap}"
    wrapped.write_bytes(WRAPS[wrap](fixture_records(plain)))
    a, b = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    expected = ingest_files(a, [plain], tenant="acme")
    result = ingest_files(b, [wrapped], tenant="acme")
    assert result.files == {str(wrapped): source}
    assert (result.read, result.stored, result.quarantined) == (expected.read, expected.stored, 0)
    got, want = _events(b), _events(a)
    assert {e["envelope"] for e in got} == {"datadog"}
    for e in got:
        e["envelope"] = None
    assert got == want


def test_a_google_cloud_entry_whose_timestamp_datadog_took_is_read(tmp_path: Path) -> None:
    """Datadog takes an entry's ``timestamp`` as the log's date: the entry without it
    gets the log's back, and gives the same event."""
    entries = fixture_records(SOURCES["gcp"])
    logs = _logs(entries, "gcp")
    for item in logs:
        del item["attributes"]["attributes"]["timestamp"]
    path = tmp_path / "gcp.ndjson"
    path.write_bytes(_lines(logs))
    a, b = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    ingest_files(a, [SOURCES["gcp"]])
    result = ingest_files(b, [path])
    assert (result.stored, result.quarantined) == (len(entries), 0)
    assert [e["event_id"] for e in _events(b)] == [e["event_id"] for e in _events(a)]


def test_a_mixed_export_reads_each_log_by_its_own_format(tmp_path: Path) -> None:
    """A Log Explorer query across services mixes sources: each log is read by the
    format of its event; an nginx access log, a text log (no attributes, ``null``
    fields) and a broken line are quarantined alone, each saying what it is, at its
    line."""
    ct = fixture_records(SOURCES["cloudtrail"])[:3]
    okta = fixture_records(SOURCES["okta"])
    nginx = {"http": {"method": "GET", "status_code": 200}, "network": {"client": {"ip": "x"}}}
    lines = [
        orjson.dumps(log(0, nginx, "web", "nginx")),
        *(orjson.dumps(x) for x in _logs(ct)),
        b'{"id": "AQAAAYbroken", "type": "log", "attributes": {"attributes": {"eventName": ',
        orjson.dumps(log(9, None, "billing", "python", message="charged card", service=None)),
        *(orjson.dumps(log(10 + i, e, "okta", "okta")) for i, e in enumerate(okta)),
    ]
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path], tenant="acme")
    assert result.balanced
    assert (result.read, result.stored, result.quarantined) == (8, 5, 3)
    reasons = {q.line: (q.field, q.reason) for q in result.problems}
    assert reasons[1][0] == "attributes.attributes"
    assert reasons[1][1].startswith(
        "field 'attributes.attributes': a Datadog log record whose event is not of a "
        "recognised format (service 'web', source 'nginx', its attributes http, network)"
    )
    assert "invalid JSON" in reasons[5][1]
    assert "(source 'python', no attributes (a text log))" in reasons[6][1]
    sources = sorted(e["metadata"]["source_format"] for e in _events(store))
    assert sources == ["cloudtrail"] * 3 + ["okta"] * 2


def test_logs_of_no_known_format_are_quarantined_one_by_one(tmp_path: Path) -> None:
    """An export holding no audit events at all (nginx logs) is not one file of unknown
    format: each log is quarantined, saying it is a Datadog log and what it holds."""
    nginx = {"http": {"method": "GET"}, "network": {"client": {"ip": "10.0.0.3"}}}
    path = tmp_path / "nginx.json"
    path.write_bytes(orjson.dumps({"data": [log(i, nginx, "web", "nginx") for i in range(3)]}))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.read, result.stored, result.quarantined) == (3, 0, 3)
    assert [q.location for q in result.problems] == [
        f"data[{i}]: attributes.attributes" for i in range(3)
    ]
    assert all("a Datadog log record whose event" in q.reason for q in result.problems)


def test_format_given_reads_inside_datadog_logs(tmp_path: Path) -> None:
    """``--format cloudtrail`` on a Datadog export reads the events inside."""
    path = tmp_path / "ct.json"
    path.write_bytes(array(fixture_records(SOURCES["cloudtrail"])))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], format="cloudtrail")
    assert (result.stored, result.quarantined) == (20, 0)


def test_parser_processes_give_what_one_process_gives(tmp_path: Path) -> None:
    records = fixture_records(SOURCES["cloudtrail"]) * 30
    for i, r in enumerate(records):
        records[i] = {**r, "eventID": f"e-{i}"}
    logs = _logs(records)
    logs[100] = log(100, None, "web", "nginx", message="GET /")
    path = tmp_path / "dd.ndjson"
    path.write_bytes(_lines(logs))
    one, two = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    a = ingest_files(one, [path], workers=1, batch_size=100)
    b = ingest_files(two, [path], workers=2, batch_size=100)
    assert (b.read, b.stored, b.quarantined) == (a.read, a.stored, a.quarantined) == (600, 599, 1)
    assert [(q.line, q.reason) for q in b.problems] == [(q.line, q.reason) for q in a.problems]
    assert one.load().drop("received_at").equals(two.load().drop("received_at"))


def test_look_alikes_are_not_datadog_logs() -> None:
    """Records with an ``id`` and ``attributes`` of their own are not Datadog logs."""
    assert envelope_kind({"id": "1", "attributes": {"attributes": {}}}) is None  # no type
    assert envelope_kind({"id": "1", "type": "user", "attributes": {"attributes": {}}}) is None
    assert envelope_kind({"id": "1", "type": "log", "attributes": {"name": "x"}}) is None
    assert envelope_kind({"data": [{"id": "1", "type": "user"}]}) is None


@settings(max_examples=100, deadline=None)
@given(
    record=json_records,
    wrap=st.sampled_from(sorted(WRAPS)),
    service=st.none() | st.text(max_size=10),
    tags=st.lists(st.text(max_size=12), max_size=3),
)
def test_every_datadog_log_gives_back_the_event_it_holds(
    tmp_path_factory: pytest.TempPathFactory,
    record: dict[str, Any],
    wrap: str,
    service: str | None,
    tags: list[str],
) -> None:
    """Property: whatever JSON object the event is, and whatever Datadog's own fields
    hold, each layout hands back exactly it, the log kept for the quarantine."""
    from auditkit.ingest._envelopes import _first_records

    path = tmp_path_factory.mktemp("dd") / f"x-{wrap}"
    items = [log(i, record, "s", "s", service=service, tags=tags) for i in range(2)]
    data = WRAPS[wrap]([record, record])
    if wrap == "logs.ndjson":
        data = _lines(items)
    path.write_bytes(data)
    found = _first_records(str(path))
    assert found is not None
    out = [item for rec in found[1] for item in unwrapped(rec)]
    assert [(r.error, dict(r.value)) for r in out] == [(None, record)] * 2
    assert all(r.text and getattr(r.value, "kind", None) == "datadog" for r in out)


def test_unwrapped_leaves_a_plain_record_alone() -> None:
    rec = RawRecord("f", 1, value={"eventName": "x", "attributes": {}})
    assert list(unwrapped(rec)) == [rec]
