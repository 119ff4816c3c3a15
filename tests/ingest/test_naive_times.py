"""Timestamps without a zone, as data lakes and SIEMs export them.

``2022-03-22 14:21:53.225`` (a space for the ``T``, no zone, up to nanoseconds)
is ordinary input for formats whose specification defines the time as UTC
(CloudTrail, GCP, GitLab, Okta, OCSF): read as UTC and noted in
``metadata.occurred_at_zone``.  The canonical format refuses it unless asked
(``--assume-utc``).  GCP entries are the same entry only when ``insertId``,
``timestamp`` and ``logName`` all agree.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.errors import SchemaError
from auditkit.ingest._mapping import ZONE_ASSUMED, source_time
from auditkit.ingest.pipeline import ingest_files
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event
from auditkit.store import Store
from auditkit.times import TimestampError, read_timestamp

from . import FIXTURES, raw_records

# -- the parser -------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(1990, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@st.composite
def written(draw: st.DrawFn) -> tuple[str, datetime, int, bool]:
    """A timestamp as some producer writes it: (text, instant to the microsecond,
    nanoseconds beyond, whether it has a zone)."""
    utc = draw(instants)
    nanos = draw(st.integers(0, 999))
    digits = draw(st.integers(0, 9))
    fraction = f"{utc.microsecond:06d}{nanos:03d}"[:digits]
    kept = int((fraction + "000000000")[:9])
    expected = utc.replace(microsecond=kept // 1000)
    zone = draw(st.sampled_from(["", "Z", "z", " UTC", "UTC", "+00:00", "+0000", "+00", "off"]))
    offset = timedelta(0)
    if zone == "off":
        offset = timedelta(minutes=draw(st.integers(-23 * 60 - 59, 23 * 60 + 59)))
        sign = "-" if offset < timedelta(0) else "+"
        hh, mm = divmod(abs(int(offset.total_seconds())) // 60, 60)
        zone = f"{sign}{hh:02d}:{mm:02d}"
    local = expected + offset
    sep = draw(st.sampled_from(["T", " ", "t"]))
    text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        text += draw(st.sampled_from([".", ","])) + fraction
    return text + zone, expected, kept % 1000, zone != ""


@given(written())
@settings(max_examples=300, deadline=None)
def test_read_timestamp_reads_every_notation_to_the_nanosecond(
    case: tuple[str, datetime, int, bool],
) -> None:
    text, expected, nanos, zoned = case
    if not zoned:
        with pytest.raises(TimestampError) as err:
            read_timestamp(text)
        assert err.value.no_zone and repr(text) in str(err.value)
    got = read_timestamp(text, assume_utc=True)
    assert got.utc == expected
    assert got.nanosecond == nanos
    assert got.zone_assumed is not zoned
    assert got.text == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert got.precise_text == got.text[:-1] + f"{nanos:03d}Z"
    # the canonical text reads back as itself
    assert read_timestamp(got.text).text == got.text


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_read_timestamp_refuses_anything_else_with_its_own_error(text: str) -> None:
    try:
        got = read_timestamp(text, assume_utc=True)
    except TimestampError as exc:
        assert "timestamp" in str(exc)
    else:
        assert got.utc.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    ["2022-02-30 10:00:00", "2022-03-22 24:00:00", "2022-03-22 14:21:53+25:00", "2022-03-22",
     "20220322T142153Z", "2022-03-22 14:21:53.225 PST", "  "],
)  # fmt: skip
def test_read_timestamp_refuses_impossible_times(text: str) -> None:
    with pytest.raises(TimestampError) as err:
        read_timestamp(text, assume_utc=True)
    assert not err.value.no_zone


@given(written())
@settings(max_examples=200, deadline=None)
def test_source_time_reads_as_utc_only_when_the_source_defines_it(
    case: tuple[str, datetime, int, bool],
) -> None:
    text, expected, _nanos, zoned = case
    if expected > datetime.now(UTC):
        return  # the store refuses future times; covered elsewhere
    stamp = source_time(text, "published", utc_defined=True)
    assert stamp.text == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert stamp.zone_assumed is not zoned
    if zoned:
        assert source_time(text, "published") == stamp
    else:
        with pytest.raises(SchemaError, match="'published': expected a time zone"):
            source_time(text, "published")


# -- data-lake exports of the formats defined as UTC ------------------------------------

NAIVE = "2022-03-22 14:21:53.225123456"
STORED = "2022-03-22T14:21:53.225123Z"


def _lake(record: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The record as a data lake exports it: the time without T or zone, absent
    optional fields as null, empty strings and lists."""
    out = copy.deepcopy(record)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = NAIVE
    out.setdefault("lake_partition", "")
    out["lake_tags"] = []
    out["lake_ingested_by"] = None
    return out


CASES = [
    ("cloudtrail", FIXTURES / "cloudtrail" / "lake_query_rows.ndjson", ("eventTime",), None),
    ("gcp", FIXTURES / "gcp" / "cloudaudit.googleapis.com_export.json", ("timestamp",), None),
    ("okta", FIXTURES / "okta" / "system_log.ndjson", ("published",), "acme"),
    ("gitlab", FIXTURES / "gitlab" / "streamed_events.ndjson", ("created_at",), "acme"),
    ("ocsf", FIXTURES / "ocsf" / "security_lake_and_okta.ocsf.json", ("time",), None),
]


@pytest.mark.parametrize(("name", "path", "field", "tenant"), CASES, ids=[c[0] for c in CASES])
def test_formats_defined_as_utc_read_lake_times_as_utc_and_say_so(
    name: str, path: Path, field: tuple[str, ...], tenant: str | None
) -> None:
    fmt = get_format(name)
    records = raw_records(fmt, path)
    assert records
    for rec in records:
        lake = _lake(rec, field)
        zoned = normalize_event(
            fmt.to_event({**lake, field[-1]: NAIVE.replace(" ", "T") + "Z"}, tenant=tenant)
        )
        assert zoned["occurred_at"] == STORED
        assert ZONE_ASSUMED not in zoned["metadata"]
        if name == "ocsf" and "time_dt" in lake and lake.get("time") is None:
            lake["time_dt"] = NAIVE
        event = normalize_event(fmt.to_event(lake, tenant=tenant))
        assert event["occurred_at"] == STORED
        assert event["metadata"][ZONE_ASSUMED] == "assumed UTC"
        # nothing else about the event changes
        assert event["action"] == zoned["action"]
        assert event["actor"] == zoned["actor"]


past = st.datetimes(
    min_value=datetime(1990, 1, 2), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)
)


@given(past, st.sampled_from([1, 1_000, 1_000_000, 1_000_000_000]))
@settings(max_examples=300, deadline=None)
def test_an_epoch_number_of_any_unit_is_its_instant(utc: datetime, unit: int) -> None:
    """Whatever the instant (1990 to now: later ones are refused) and the unit, the size
    tells the unit and the instant comes back to the precision the unit has
    (microseconds at most)."""
    micros = (utc - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    number = micros * unit // 1_000_000
    text = source_time(number, "timestamp", utc_defined=True).text
    kept = micros - micros % (1_000_000 // unit) if unit < 1_000_000 else micros
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=kept)
    assert text == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with pytest.raises(SchemaError, match="timestamp"):
        source_time(number, "timestamp")  # a format that does not define its time as UTC


@pytest.mark.parametrize(("name", "path", "field", "tenant"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("unit", [1, 1_000, 1_000_000, 1_000_000_000])
def test_formats_defined_as_utc_read_epoch_numbers_in_the_unit_their_size_says(
    name: str, path: Path, field: tuple[str, ...], tenant: str | None, unit: int
) -> None:
    """pandas' ``to_json`` writes a timestamp column as epoch milliseconds (``date_unit``
    may say seconds, micro- or nanoseconds): a JSON number in a time field of a format
    that defines it as UTC is that instant.  It was refused as 'expected an RFC 3339
    timestamp string, got int' (milliseconds, in OCSF, were the only unit read)."""
    fmt = get_format(name)
    at = datetime(2022, 3, 22, 14, 21, 53, 225000, tzinfo=UTC)
    micros = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    number = micros * unit // 1_000_000  # whole seconds, milli-, micro- or nanoseconds
    for rec in raw_records(fmt, path)[:3]:
        lake = _lake(rec, field)
        lake.pop("time_dt", None)
        event = normalize_event(fmt.to_event({**lake, field[-1]: number}, tenant=tenant))
        expected = "2022-03-22T14:21:53.000000Z" if unit == 1 else "2022-03-22T14:21:53.225000Z"
        assert event["occurred_at"] == expected
        assert ZONE_ASSUMED not in event["metadata"]  # an epoch number is UTC by definition


def test_bigquery_utc_suffix_is_a_zone_not_an_assumption() -> None:
    fmt = get_format("gcp")
    rec = raw_records(fmt, FIXTURES / "gcp" / "cloudaudit.googleapis.com_export.json")[0]
    rec = {**rec, "timestamp": "2022-03-22 14:21:53.225123 UTC"}
    event = normalize_event(fmt.to_event(rec, tenant=None))
    assert event["occurred_at"] == STORED
    assert ZONE_ASSUMED not in event["metadata"]


# -- GCP: an entry is insertId + timestamp + logName -------------------------------------


def _gcp_file(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "gcp.ndjson"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    return path


def test_gcp_deduplicates_on_insert_id_with_timestamp_and_log_name(tmp_path: Path) -> None:
    fmt = get_format("gcp")
    base = raw_records(fmt, FIXTURES / "gcp" / "cloudaudit.googleapis.com_export.json")[0]
    base = {**base, "insertId": "same-id", "timestamp": "2022-03-22T14:21:53.225123456Z"}
    other_log = base["logName"].replace("activity", "data_access")
    entries = [
        base,
        # the same entry again, as a data lake writes it: a duplicate
        {**base, "timestamp": NAIVE},
        # the same insertId at another time (even a nanosecond later): another entry
        {**base, "timestamp": "2022-03-22T14:21:53.225123457Z"},
        # the same insertId and time in another log: another entry
        {**base, "logName": other_log},
    ]
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [_gcp_file(tmp_path, entries)], format="gcp")
    assert (result.stored, result.duplicates, result.quarantined) == (3, 1, 0)
    again = ingest_files(store, [_gcp_file(tmp_path, entries)], format="gcp")
    assert (again.stored, again.duplicates) == (0, 4)


# -- the canonical format: refused by default, accepted with --assume-utc ----------------

CANONICAL = {
    "tenant_id": "acme",
    "event_id": "e-1",
    "occurred_at": "2022-03-22 14:21:53.225",
    "action": "user.login",
    "outcome": "success",
    "actor": {"id": "u1", "name": None, "roles": []},
    "session_id": None,
    "description": "",
    "metadata": {"pipeline": "lake"},
}


def _canonical_file(tmp_path: Path, *events: dict[str, Any]) -> Path:
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def test_canonical_refuses_a_time_without_zone_naming_the_option(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [_canonical_file(tmp_path, CANONICAL)])
    assert (result.stored, result.quarantined) == (0, 1)
    problem = result.problems[0]
    assert (problem.line, problem.field) == (1, "occurred_at")
    assert "expected a time zone" in problem.reason and "--assume-utc" in problem.reason


def test_canonical_with_assume_utc_reads_utc_and_notes_it(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    zoned = {**CANONICAL, "event_id": "e-2", "occurred_at": "2022-03-22T15:00:00+01:00"}
    path = _canonical_file(tmp_path, CANONICAL, zoned)
    result = ingest_files(store, [path], assume_utc=True)
    assert (result.stored, result.quarantined) == (2, 0)
    frame = store.load("acme").sort("event_id")
    assert frame["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S%.6f").to_list() == [
        "2022-03-22T14:21:53.225000",
        "2022-03-22T14:00:00.000000",
    ]
    metadata = [orjson.loads(m) for m in frame["metadata"]]
    # the records give their outcome, so nothing is marked as defaulted
    assert metadata == [{"pipeline": "lake", ZONE_ASSUMED: "assumed UTC"}, {"pipeline": "lake"}]


def test_csv_with_assume_utc(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,tenant_id,occurred_at,action,actor.id,session_id\n"
        "c1,acme,2022-03-22 14:21:53.225,user.login,u1,\n"
    )
    store = Store.init(str(tmp_path / "a.db"))
    assert ingest_files(store, [path]).quarantined == 1
    assert ingest_files(store, [path], assume_utc=True).stored == 1


def test_cli_assume_utc(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    path = str(_canonical_file(tmp_path, CANONICAL))
    cli = [sys.executable, "-m", "auditkit.cli"]
    assert subprocess.run([*cli, "init", db], capture_output=True).returncode == 0
    refused = subprocess.run([*cli, "ingest", db, path, "--strict"], capture_output=True, text=True)
    assert refused.returncode == 1
    assert "--assume-utc" in refused.stdout
    taken = subprocess.run(
        [*cli, "ingest", db, path, "--assume-utc", "--json"], capture_output=True, text=True
    )
    assert taken.returncode == 0, taken.stderr
    assert orjson.loads(taken.stdout)["stored"] == 1


def test_assume_utc_reaches_parallel_workers(tmp_path: Path) -> None:
    events = [{**CANONICAL, "event_id": f"e-{i}", "tenant_id": f"org-{i % 12}"} for i in range(40)]
    path = _canonical_file(tmp_path, *events)
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path], assume_utc=True, workers=2, batch_size=10)
    assert (result.stored, result.quarantined) == (40, 0)
    assert len(store.tenants()) == 12


def test_ocsf_time_dt_without_zone(tmp_path: Path) -> None:
    fmt = get_format("ocsf")
    rec = raw_records(fmt, FIXTURES / "ocsf" / "security_lake_and_okta.ocsf.json")[0]
    lake = {**rec, "time": None, "time_dt": "2022-03-22 14:21:53.225"}
    event = normalize_event(fmt.to_event(lake, tenant=None))
    assert event["occurred_at"] == "2022-03-22T14:21:53.225000Z"
    assert event["metadata"][ZONE_ASSUMED] == "assumed UTC"
