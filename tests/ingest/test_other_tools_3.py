"""Files shaped as other tools write them, which auditkit did not generate: API pages
saved one after another, empty deliveries, gzip files cut short, tables written as
JSON lines with dotted keys, Excel's decimal commas, and auditkit's own SIEM exports
pointed at by mistake.  Each input record is stored or quarantined, never dropped."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.ingest._readers_extra import iter_json_array
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store


def _gitlab(i: int) -> dict[str, Any]:
    """An event of GitLab's group audit events API (``/groups/:id/audit_events``)."""
    return {
        "id": 1000 + i,
        "author_id": 7,
        "entity_id": 42,
        "entity_type": "Group",
        "entity_path": "acme-corp",
        "target_id": 7,
        "target_type": "User",
        "target_details": "jdoe",
        "created_at": f"2024-05-01T10:{i % 60:02d}:12.345Z",
        "event_name": "member_created",
        "details": {
            "author_name": "Jane Doe",
            "author_class": "User",
            "add": "user_access",
            "as": "Developer",
            "ip_address": "203.0.113.9",
            "entity_path": "acme-corp",
        },
    }


def _cloudtrail(i: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "userName": "alice",
        },
        "eventTime": f"2024-05-01T11:{i % 60:02d}:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15",
        "requestParameters": {"userName": "bob"},
        "responseElements": None,
        "requestID": f"req-{i}",
        "eventID": f"ev-{i:05d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    }


# -- API pages saved one after another --------------------------------------------


@pytest.mark.parametrize("separator", [b"", b"\n", b",", b"\r\n\r\n"])
@pytest.mark.parametrize("indent", [False, True])
def test_api_pages_concatenated_are_all_read(
    tmp_path: Path, separator: bytes, indent: bool
) -> None:
    """``for page in 1 2 3; do curl .../audit_events?page=$page; done > events.json``
    writes ``[...][...][...]``: every page is read, not only the first."""
    option = orjson.OPT_INDENT_2 if indent else 0
    pages = [[_gitlab(p * 20 + i) for i in range(20)] for p in range(3)]
    path = tmp_path / "group_audit_events.json"
    path.write_bytes(separator.join(orjson.dumps(page, option=option) for page in pages))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], tenant="acme")
    assert (result.read, result.stored, result.quarantined) == (60, 60, 0)
    assert result.files[str(path)] == "gitlab"


def test_cloudtrail_deliveries_concatenated_are_all_read(tmp_path: Path) -> None:
    """``cat`` of delivery files: ``{"Records": [...]}{"Records": [...]}``."""
    path = tmp_path / "trail.json"
    docs = [{"Records": [_cloudtrail(d * 3 + i) for i in range(3)]} for d in range(3)]
    path.write_bytes(b"\n".join(orjson.dumps(doc) for doc in docs))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.read, result.stored, result.quarantined) == (9, 9, 0)


def test_pages_locate_their_records(tmp_path: Path) -> None:
    path = tmp_path / "pages.json"
    path.write_bytes(b'[{"a": 1}]\n[{"a": 2},\n {"a": 3}]')
    got = [(r.line, r.location, r.value) for r in iter_json_array(str(path))]
    assert got == [(1, "[0]", {"a": 1}), (2, "[1][0]", {"a": 2}), (3, "[1][1]", {"a": 3})]


def test_data_after_the_array_is_quarantined_not_dropped(tmp_path: Path) -> None:
    """What follows the closing bracket (another tool's output appended) is named."""
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps([_gitlab(1)]) + b"\nHTTP/1.1 200 OK\n")
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], tenant="acme")
    assert (result.read, result.stored, result.quarantined) == (2, 1, 1)
    problem = result.problems[0]
    assert problem.line == 2
    assert "unexpected data after the JSON array" in problem.reason


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pages=st.lists(
        st.lists(
            st.dictionaries(st.text(max_size=5), st.integers(-(2**53), 2**53), max_size=3),
            max_size=4,
        ),
        min_size=1,
        max_size=4,
    ),
    separator=st.sampled_from([b"", b"\n", b" ", b",", b"\r\n"]),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_concatenated_arrays_yield_every_object(
    tmp_path: Path, pages: list[list[dict[str, int]]], separator: bytes, chunk: int
) -> None:
    """Any pages, any separator, read through any buffer size: every object, in order."""
    path = tmp_path / "pages.json"
    path.write_bytes(separator.join(orjson.dumps(page) for page in pages))
    records = list(iter_json_array(str(path), chunk_size=chunk))
    assert [r.error for r in records] == [None] * len(records)
    assert [r.value for r in records] == [item for page in pages for item in page]


# -- documents that hold no records ---------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"[]", b"[\n]\n", b'{"Records": []}', b'{\n  "Records": [ ]\n}\n'],
)
def test_a_document_of_no_records_is_an_empty_file(tmp_path: Path, body: bytes) -> None:
    """CloudTrail delivers ``{"Records": []}``; an API page or ``gcloud logging read``
    with no results is ``[]``: no records, so skipped as empty and ``--strict`` passes."""
    path = tmp_path / "empty.json.gz"
    path.write_bytes(gzip.compress(body))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], format="auto")
    assert (result.read, result.quarantined) == (0, 0)
    assert result.files[str(path)] == "empty"


@pytest.mark.parametrize("body", [b"{}", b'{"action": "x", "tags": []}', b"[{}]"])
def test_a_document_with_a_record_is_not_empty(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(body)
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert result.files[str(path)] != "empty"
    assert result.read == result.stored + result.duplicates + result.quarantined >= 1


# -- gzip cut short -----------------------------------------------------------------


@pytest.mark.parametrize("layout", ["delivery", "ndjson"])
def test_a_small_gzip_cut_short_keeps_its_records_before_the_cut(
    tmp_path: Path, layout: str
) -> None:
    """A delivery file cut in half (an interrupted ``aws s3 sync``) keeps the events
    whole before the cut and quarantines the cut, even when it is smaller than a read."""
    events = [_cloudtrail(i) for i in range(50)]
    if layout == "delivery":
        body = orjson.dumps({"Records": events})
    else:
        body = b"".join(orjson.dumps(e) + b"\n" for e in events)
    packed = gzip.compress(body)
    path = tmp_path / "111122223333_CloudTrail_us-east-1_cut.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert result.stored >= 3
    assert result.quarantined == 1
    assert "truncated" in result.problems[0].reason


# -- tables written as JSON with dotted keys --------------------------------------------


def _bigquery_row(i: int) -> dict[str, Any]:
    return {
        "logName": "projects/acme-prod-123/logs/cloudaudit.googleapis.com%2Factivity",
        "resource.type": "gce_instance",
        "resource.labels.project_id": "acme-prod-123",
        "timestamp": f"2024-05-03 09:00:0{i}.123456 UTC",
        "severity": "NOTICE",
        "insertId": f"bq{i}",
        "protopayload_auditlog.serviceName": "compute.googleapis.com",
        "protopayload_auditlog.methodName": "v1.compute.instances.delete",
        "protopayload_auditlog.resourceName": f"projects/acme-prod-123/zones/z/instances/vm{i}",
        "protopayload_auditlog.authenticationInfo.principalEmail": "bob@acme.com",
        "protopayload_auditlog.requestMetadata.callerIp": "203.0.113.50",
        "protopayload_auditlog.status.code": None,
    }


@pytest.mark.parametrize("fmt", ["auto", "gcp"])
@pytest.mark.parametrize("layout", ["ndjson", "array"])
def test_bigquery_rows_with_dotted_keys_read_as_their_csv(
    tmp_path: Path, fmt: str, layout: str
) -> None:
    """A BigQuery table of a log sink queried into flat columns, saved as JSON lines
    (or a JSON array, pandas' ``to_json``), gives the events its CSV download gives."""
    rows = [_bigquery_row(i) for i in range(5)]
    as_json = tmp_path / "rows.json"
    if layout == "ndjson":
        as_json.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    else:
        as_json.write_bytes(orjson.dumps(rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    as_csv = tmp_path / "rows.csv"
    as_csv.write_text(buf.getvalue())
    a, b = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    from_json = ingest_files(a, [as_json], format=fmt)
    assert (from_json.stored, from_json.quarantined) == (5, 0)
    assert from_json.files[str(as_json)] == "gcp"
    ingest_files(b, [as_csv], format=fmt)
    columns = ["event_id", "tenant_id", "occurred_at", "action", "outcome", "actor_id"]
    assert a.load().select(columns).equals(b.load().select(columns))


_KEY = st.text(alphabet="abcxyz", min_size=1, max_size=3)


@given(
    st.dictionaries(
        st.lists(_KEY, min_size=1, max_size=3).map(".".join),
        st.none() | st.integers() | st.text(max_size=4) | st.lists(st.integers(), max_size=2),
        max_size=6,
    )
)
def test_nested_record_puts_every_value_at_its_path(record: dict[str, Any]) -> None:
    """Each non-null value is found at its dotted path (or the record is refused for a
    key under another key's value, which a flattened record never has)."""
    from auditkit.errors import SchemaError
    from auditkit.ingest._mapping import nested_record

    try:
        nested = nested_record(record)
    except SchemaError:
        return
    for key, value in record.items():
        node: Any = nested
        for step in key.split("."):
            node = node.get(step) if isinstance(node, dict) else None
        assert node == value or (value is None and not isinstance(node, int | str | list))


# -- Excel's decimal commas in other formats' CSV ----------------------------------------------


def test_okta_csv_with_decimal_commas_keeps_its_coordinates(tmp_path: Path) -> None:
    """Excel where the decimal mark is a comma saves ``;``-separated CSV with ``48,1374``:
    the coordinates are read, as canonical CSV reads them."""
    header = [
        "uuid",
        "published",
        "eventType",
        "outcome.result",
        "actor.id",
        "actor.type",
        "actor.alternateId",
        "client.ipAddress",
        "client.geographicalContext.city",
        "client.geographicalContext.geolocation.lat",
        "client.geographicalContext.geolocation.lon",
    ]
    row = [
        "a1b2c3d4-0000-11ef-9a7b-000000000001",
        "2024-05-04T08:01:11.123Z",
        "user.session.start",
        "SUCCESS",
        "00u1abcd",
        "User",
        "ann@acme.com",
        "198.51.100.1",
        "München",
        "48,1374",
        "-11,5755",
    ]
    path = tmp_path / "okta.csv"
    path.write_bytes(("\r\n".join(";".join(r) for r in (header, row)) + "\r\n").encode("utf-8-sig"))
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path], tenant="acme")
    assert result.stored == 1
    frame = store.load()
    assert (frame["geo_lat"][0], frame["geo_lon"][0]) == (48.1374, -11.5755)


# -- auditkit's own SIEM exports ---------------------------------------------------------


@pytest.mark.parametrize("fmt", ["cef", "leef"])
def test_a_cef_or_leef_export_is_named_not_read_as_cloudtrail(tmp_path: Path, fmt: str) -> None:
    """The source record a CEF or LEEF line keeps holds CloudTrail's field names: the
    file is still told as what it is (one quarantined record saying so), not taken for
    CloudTrail with every line quarantined as invalid JSON."""
    from auditkit.export import export_store

    store = Store.init(str(tmp_path / "a.db"))
    source = tmp_path / "trail.json"
    source.write_bytes(orjson.dumps({"Records": [_cloudtrail(i) for i in range(5)]}))
    ingest_files(store, [source])
    out = tmp_path / f"siem.{fmt}"
    export_store(store, out, format=fmt)
    result = ingest_files(Store.init(str(tmp_path / "b.db")), [out])
    assert (result.read, result.quarantined) == (1, 1)
    assert f"it holds {fmt.upper()} lines" in result.problems[0].reason
