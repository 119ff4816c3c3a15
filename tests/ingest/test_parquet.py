"""Parquet files as input: an export of auditkit's own, and logs kept in a data lake
(Amazon Security Lake writes OCSF as Parquet; CloudTrail copied into Parquet), read
as the same records in JSON are, with every row stored or quarantined."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.errors import UsageError
from auditkit.export import export_store
from auditkit.ingest._parquet import iter_parquet
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events
from tests.ingest._records import fixture_records

FIXTURES = Path(__file__).parent / "fixtures"


def _to_parquet(records: list[dict[str, Any]], path: Path) -> Path:
    # the schema from every record (Table.from_pylist would take the first row's keys only)
    pq.write_table(pa.Table.from_struct_array(pa.array(records)), path)
    return path


def _no_nulls(value: Any) -> Any:
    """A JSON value without null members: Parquet has no way to tell an absent field
    from a null one, so a record read from Parquet holds neither."""
    if isinstance(value, dict):
        out = {k: _no_nulls(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v != {}}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def _events(store: Store) -> list[dict[str, Any]]:
    rows = store.load().drop("received_at").to_dicts()
    for row in rows:
        for column in ("metadata", "changes"):
            if row[column] is not None:
                row[column] = _no_nulls(orjson.loads(row[column]))
    return rows


@pytest.mark.parametrize(
    "fixture",
    [
        "ocsf/security_lake_and_okta.ocsf.json",
        "ocsf/prowler_detection_findings.ocsf.json",
        "cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json",
    ],
)
def test_a_log_in_parquet_gives_the_events_its_json_gives(tmp_path: Path, fixture: str) -> None:
    """Told by its first row, read row by row by the same mapper: the same events, and
    nothing quarantined (records whose keys differ row to row included)."""
    source = FIXTURES / fixture
    parquet = _to_parquet(fixture_records(source), tmp_path / "log.parquet")
    from_json = Store.init(str(tmp_path / "json.db"))
    from_parquet = Store.init(str(tmp_path / "parquet.db"))
    a = ingest_files(from_json, [source], tenant="t")
    b = ingest_files(from_parquet, [parquet], tenant="t")
    assert b.files == {str(parquet): a.files[str(source)]}
    assert (b.read, b.stored, b.quarantined) == (a.read, a.stored, 0)
    assert _events(from_parquet) == _events(from_json)


def test_security_lake_columns_timestamps_and_maps(tmp_path: Path) -> None:
    """Security Lake's tables hold ``time_dt`` as a timestamp and ``unmapped`` as a map;
    a timestamp with a zone is that instant, one without is read as UTC (OCSF times are
    UTC by definition) and noted as assumed."""
    base = _no_nulls(fixture_records(FIXTURES / "ocsf/api_activity_array.json")[0])  # Parquet
    del base["time"]  # has no struct without members (its "api.response" is {})
    when = dt.datetime(2024, 6, 1, 9, 30, 15, 123456)
    files = []
    for i, zone in enumerate([dt.UTC, None]):  # one file each: a column has one type
        row = {**base, "metadata": {**base["metadata"], "uid": f"u{i}"}}
        table = (
            pa.Table.from_struct_array(pa.array([row]))
            .append_column(
                "time_dt",
                pa.array([when.replace(tzinfo=zone)], pa.timestamp("us", tz=zone and "UTC")),
            )
            .append_column(
                "unmapped", pa.array([[("ticket", f"CHG-{i}")]], pa.map_(pa.string(), pa.string()))
            )
        )
        files.append(tmp_path / f"lake{i}.parquet")
        pq.write_table(table, files[-1])
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, files, tenant="t")
    assert (result.stored, result.quarantined) == (2, 0)
    frame = store.load()
    assert frame.get_column("occurred_at").to_list() == [when.replace(tzinfo=dt.UTC)] * 2
    meta = [orjson.loads(m) for m in frame.get_column("metadata").to_list()]
    assert [m.get("occurred_at_zone") for m in meta] == [None, "assumed UTC"]
    assert [m["original"]["unmapped"] for m in meta] == [{"ticket": "CHG-0"}, {"ticket": "CHG-1"}]


def test_an_export_comes_back_as_it_went_out(tmp_path: Path) -> None:
    """``export --format parquet`` writes the event frame (``actor_id``, ``geo_lat``,
    ``changes`` as JSON text); ingest reads it as the canonical events it holds: the
    same events as re-importing the NDJSON export."""
    events = make_events(40)
    events[3]["changes"] = {"before": {"role": "viewer"}, "after": {"role": "admin"}}
    events[5]["source"] = {"ip": "192.0.2.7", "geo": {"country": "NO", "lat": 59.9, "lon": 10.7}}
    events[6]["actor"]["roles"] = ["admin", "billing"]
    events[7]["metadata"] = {"nested": {"n": [1, 2, None]}, "empty": ""}
    original = Store.init(str(tmp_path / "a.db"))
    original.append(events)
    export_store(original, tmp_path / "e.parquet", format="parquet")
    export_store(original, tmp_path / "e.ndjson", format="ndjson")
    again = Store.init(str(tmp_path / "b.db"))
    via_json = Store.init(str(tmp_path / "c.db"))
    result = ingest_files(again, [tmp_path / "e.parquet"])
    ingest_files(via_json, [tmp_path / "e.ndjson"])
    assert (result.stored, result.quarantined) == (40, 0)
    assert result.files == {str(tmp_path / "e.parquet"): "auditkit"}
    assert again.load().drop("received_at").equals(via_json.load().drop("received_at"))
    ids = original.load().get_column("event_id").to_list()
    assert again.load().get_column("event_id").to_list() == ids


def test_a_frame_written_by_pandas_follows_the_canonical_zone_rule(tmp_path: Path) -> None:
    """A frame saved by pandas (nanosecond times without a zone) is refused as the
    canonical format refuses such times, and read as UTC with --assume-utc."""
    frame = pl.DataFrame(
        {
            "tenant_id": ["acme", "acme"],
            "occurred_at": ["2026-01-05 09:00:00.123456789", "2026-01-05 09:01:00"],
            "action": ["user.login", "document.read"],
            "actor_id": ["u1", "u2"],
        }
    ).with_columns(pl.col("occurred_at").str.to_datetime(time_unit="ns"))
    frame.to_pandas().to_parquet(tmp_path / "p.parquet")
    store = Store.init(str(tmp_path / "a.db"))
    refused = ingest_files(store, [tmp_path / "p.parquet"])
    assert (refused.stored, refused.quarantined) == (0, 2)
    assert "time zone" in refused.problems[0].reason
    assert refused.problems[0].line == 1 and "(row 1)" in refused.problems[0].reason
    taken = ingest_files(store, [tmp_path / "p.parquet"], assume_utc=True)
    assert (taken.stored, taken.quarantined) == (2, 0)


def test_bad_rows_are_quarantined_by_row_and_column(tmp_path: Path) -> None:
    table = pa.table(
        {
            "tenant_id": ["acme"] * 3,
            "occurred_at": ["2026-01-05T09:00:00Z"] * 3,
            "action": ["user.login", "user.login", "not an action!"],
            "actor_id": ["u1", "u2", "u3"],
            "metadata": pa.array([b'{"k": 1}', b"\xff\xfe", None], pa.binary()),
        }
    )
    pq.write_table(table, tmp_path / "bad.parquet")
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [tmp_path / "bad.parquet"], quarantine=tmp_path / "q.ndjson")
    assert (result.read, result.stored, result.quarantined) == (3, 1, 2)
    lines = [orjson.loads(x) for x in (tmp_path / "q.ndjson").read_bytes().splitlines()]
    assert [(q["line"], q["field"]) for q in lines] == [(2, "metadata"), (3, "action")]
    assert "binary data" in lines[0]["reason"] and "(row 2)" in lines[0]["reason"]
    assert '"actor_id":"u2"' in lines[0]["record"]  # nothing lost: the row is kept
    assert orjson.loads(store.load().get_column("metadata")[0])["k"] == 1


def test_files_that_are_not_readable_parquet_say_so(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pl.DataFrame({"foo": [1], "bar": ["x"]}).write_parquet(good)
    (tmp_path / "cut.parquet").write_bytes(good.read_bytes()[:40])
    pl.DataFrame(schema={"tenant_id": pl.String, "action": pl.String}).write_parquet(
        tmp_path / "none.parquet"
    )
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [good, tmp_path / "cut.parquet", tmp_path / "none.parquet"])
    reasons = {q.file: q.reason for q in result.problems}
    assert "cannot read the Parquet file" in reasons[str(tmp_path / "cut.parquet")]
    assert "its first record has the keys foo, bar" in reasons[str(good)]
    assert result.skipped == {str(tmp_path / "none.parquet"): "empty file (no records)"}


def test_a_tenant_is_needed_when_no_column_holds_one(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pl.DataFrame(
        {"occurred_at": ["2026-01-05T09:00:00Z"], "action": ["user.login"], "actor": [{"id": "u1"}]}
    ).write_parquet(path)
    store = Store.init(str(tmp_path / "a.db"))
    with pytest.raises(UsageError, match="no tenant_id column; pass --tenant"):
        ingest_files(store, [path], format="auditkit")
    assert ingest_files(store, [path], format="csv", tenant="acme").stored == 1


def test_parser_processes_split_a_parquet_file_by_row_groups(tmp_path: Path) -> None:
    """Row groups go to parser processes a few at a time; the store is the one a single
    process makes, and a bad row in a later group is named by its row in the file."""
    events = make_events(3000)
    events[2500]["action"] = "not an action!"
    source = Store.init(str(tmp_path / "a.db"))
    source.append([e for i, e in enumerate(events) if i != 2500])
    frame = source.load().drop("seq", "received_at")
    rows = frame.to_dicts()
    rows.insert(2500, {**rows[0], "event_id": "bad", "action": "not an action!"})
    pq.write_table(
        pl.DataFrame(rows, schema=frame.schema).to_arrow(),
        tmp_path / "e.parquet",
        row_group_size=400,
    )
    one, two = Store.init(str(tmp_path / "b.db")), Store.init(str(tmp_path / "c.db"))
    a = ingest_files(one, [tmp_path / "e.parquet"], workers=1, batch_size=500)
    b = ingest_files(two, [tmp_path / "e.parquet"], workers=2, batch_size=500)
    assert (b.read, b.stored, b.quarantined) == (a.read, a.stored, a.quarantined) == (3000, 2999, 1)
    assert [q.line for q in b.problems] == [q.line for q in a.problems] == [2501]
    assert one.load().drop("received_at").equals(two.load().drop("received_at"))


# -- every cell as the same record in JSON holds it --------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
_DAYS = st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2200, 1, 1))
_COLUMNS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "text": (pa.string(), _TEXT),
    "number": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "real": (pa.float64(), st.floats(allow_nan=False)),
    "flag": (pa.bool_(), st.booleans()),
    "when": (
        pa.timestamp("us", tz="UTC"),
        st.builds(dt.datetime.combine, _DAYS, st.times(), st.just(dt.UTC)),
    ),
    "naive": (pa.timestamp("us"), st.builds(dt.datetime.combine, _DAYS, st.times())),
    "day": (pa.date32(), st.dates(min_value=dt.date(1, 1, 1))),
    "amount": (
        pa.decimal128(12, 3),
        st.decimals(-(10**8), 10**8, places=3, allow_nan=False, allow_infinity=False),
    ),
    "tags": (pa.list_(pa.string()), st.lists(_TEXT, max_size=3)),
    "labels": (pa.map_(pa.string(), pa.string()), st.dictionaries(_TEXT, _TEXT, max_size=3)),
    "who": (
        pa.struct({"id": pa.string(), "n": pa.int32()}),
        st.fixed_dictionaries({}, optional={"id": _TEXT, "n": st.integers(-(2**31), 2**31 - 1)}),
    ),
}


def _row(draw: st.DrawFn) -> dict[str, Any]:
    return {name: draw(st.one_of(st.none(), values)) for name, (_, values) in _COLUMNS.items()}


_ROWS = st.lists(st.composite(_row)(), min_size=1, max_size=6)


def _expected(name: str, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, dict) and name == "who":
        return {k: v for k, v in value.items() if v is not None} or None
    return value


def _read_back(name: str, value: Any) -> Any:
    if name in ("when", "naive"):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if name == "amount":
        return decimal.Decimal(str(value))
    return value


@settings(max_examples=60, deadline=None)
@given(rows=_ROWS)
def test_cells_read_as_json_values(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, Any]]
) -> None:
    """Property: every non-null cell comes back as the JSON value that means it (an
    instant in UTC with ``Z``, a time without a zone without one, a map as an object,
    a decimal as the same number), every null (and empty struct) as an absent key."""
    schema = pa.schema([(name, t) for name, (t, _) in _COLUMNS.items()])
    path = tmp_path_factory.mktemp("pq") / "p.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    records = list(iter_parquet(str(path), batch_rows=4))
    assert [r.line for r in records] == list(range(1, len(rows) + 1))
    for row, record in zip(rows, records, strict=True):
        assert record.error is None
        orjson.dumps(record.value)  # plain JSON values only
        expected = {k: e for k, v in row.items() if (e := _expected(k, v)) is not None and e != {}}
        got = {k: _read_back(k, v) for k, v in record.value.items()}
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            if isinstance(value, float):
                assert math.isclose(got[key], value) or got[key] == value
            else:
                assert got[key] == value, key


# -- Avro: BigQuery's export format for nested tables, Kafka Connect's sinks -------------


def _bigquery_rows() -> list[dict[str, Any]]:
    rows = fixture_records(FIXTURES / "gcp/bigquery_export.json")
    return [_no_nulls(r) for r in rows]  # (a struct without members cannot be written)


@pytest.mark.parametrize("container", ["avro", "parquet"])
def test_a_bigquery_table_exported_as_avro_or_parquet(tmp_path: Path, container: str) -> None:
    """``bq extract --destination_format AVRO|PARQUET`` of a log sink's table: the
    events the table's JSON export gives (the entry's time a timestamp, read as UTC)."""
    frame = pl.DataFrame(_bigquery_rows(), infer_schema_length=None).with_columns(
        pl.col("timestamp").str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f UTC")
    )
    path = tmp_path / f"audit.{container}"
    getattr(frame, f"write_{container}")(path)
    from_json = Store.init(str(tmp_path / "json.db"))
    from_file = Store.init(str(tmp_path / "file.db"))
    expected = ingest_files(from_json, [FIXTURES / "gcp/bigquery_export.json"])
    result = ingest_files(from_file, [path])
    assert result.files == {str(path): "gcp"}
    assert (result.stored, result.quarantined) == (expected.stored, 0)
    columns = ["event_id", "tenant_id", "occurred_at", "action", "outcome", "actor_id", "targets"]
    assert from_file.load().select(columns).equals(from_json.load().select(columns))


def test_an_avro_file_cut_short_is_quarantined_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "a.avro"
    pl.DataFrame(_bigquery_rows(), infer_schema_length=None).write_avro(path)
    path.write_bytes(path.read_bytes()[:300])
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.stored, result.quarantined) == (0, 1)
    assert "cannot read the Avro file" in result.problems[0].reason


# -- CloudTrail as a data lake's table holds it: field names in lower case ----------------

_CT_TEXT = {"requestParameters", "responseElements", "additionalEventData", "serviceEventDetails"}


def _lower(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.lower(): _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


def _athena_rows() -> list[dict[str, Any]]:
    """CloudTrail records as the Athena/Glue table of a trail holds them: every name in
    lower case (in structs too), the request and response as JSON text."""
    records = fixture_records(CLOUDTRAIL)
    return [
        {
            k.lower(): orjson.dumps(v).decode() if k in _CT_TEXT and v is not None else _lower(v)
            for k, v in r.items()
        }
        for r in records
    ]


CLOUDTRAIL = FIXTURES / "cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"


def _ct_events(store: Store) -> list[dict[str, Any]]:
    rows = store.load().drop("received_at").to_dicts()
    for row in rows:
        meta = orjson.loads(row.pop("metadata"))
        meta.pop("original")
        row["meta"] = meta
    return rows


@pytest.mark.parametrize("layout", ["parquet", "ndjson"])
def test_cloudtrail_with_lower_case_names_reads_as_cloudtrail(tmp_path: Path, layout: str) -> None:
    """A CTAS copy of the trail's Athena table (Parquet), or ``UNLOAD ... FORMAT JSON``:
    told as CloudTrail and read as the trail's own files are."""
    path = tmp_path / f"trail.{layout}"
    if layout == "parquet":
        _to_parquet(_athena_rows(), path)
    else:
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in _athena_rows()))
    lake, trail = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    result = ingest_files(lake, [path])
    ingest_files(trail, [CLOUDTRAIL])
    assert result.files == {str(path): "cloudtrail"}
    assert (result.stored, result.quarantined) == (20, 0)
    assert _ct_events(lake) == _ct_events(trail)


def test_an_avro_file_too_large_to_read_whole_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditkit.ingest import _parquet

    path = tmp_path / "big.avro"
    pl.DataFrame(_bigquery_rows(), infer_schema_length=None).write_avro(path)
    monkeypatch.setattr(_parquet, "AVRO_MAX_BYTES", path.stat().st_size - 1)
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.stored, result.quarantined) == (0, 1)
    assert "Avro is read whole" in result.problems[0].reason
