"""Export formats: registry, spreadsheet safety, and lossless re-import of every
re-importable format through ``auditkit ingest``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit.errors import UsageError
from auditkit.export import (
    available_export_formats,
    export_frame,
    format_for_path,
    frame_to_events,
    get_export_format,
)
from auditkit.frame import events_to_frame
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events

TRICKY: list[dict[str, Any]] = [
    {
        "event_id": "t-1", "tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00.123456Z",
        "action": "document.export", "outcome": "denied",
        "actor": {"id": "=HYPERLINK(\"http://x\")", "type": "user", "name": "Zoë, \"Z\" O'Neil",
                  "email": "z@acme.example", "roles": ["a;b", "-admin"]},
        "targets": [{"id": "d1", "type": "document"}, {"id": "+d2", "name": "Q1\nplan"}],
        "source": {"ip": "2001:db8::1", "geo": {"country": "NZ", "lat": -41.29, "lon": 174.78}},
        "observer": {"service": "webapp"},
        "description": "@SUM(A1:A9)\r\nsecond line, with comma",
        "changes": {"before": {"n": 1.5, "tags": ["x"]}, "after": {"n": -2, "tags": []}},
        "metadata": {"format": "csv", "nested": {"k": [1, 2, {"z": None}]}, "unicode": "日本"},
    },
    {
        "event_id": "t-2", "tenant_id": "acme", "occurred_at": "2026-01-05T09:01:00Z",
        "action": "user.login", "actor": {"id": "u2", "roles": []},
        "description": "\tTabbed", "session_id": "-s1", "request_id": "+r1",
    },
    {
        "event_id": "t-3", "tenant_id": "globex", "occurred_at": "2026-01-06T00:00:00Z",
        "action": "role.grant", "actor": {"id": "u3", "roles": ["[weird]"]},
        "targets": [], "metadata": {"role": "admin"}, "description": "'quoted text",
    },
]  # fmt: skip


@pytest.fixture
def tricky() -> pl.DataFrame:
    return events_to_frame(TRICKY)


@pytest.fixture
def frame() -> pl.DataFrame:
    return events_to_frame(make_events(30) + make_events(8, "globex") + TRICKY)


def _reimport(path: Path, tmp_path: Path, fmt: str) -> pl.DataFrame:
    store = Store.init(str(tmp_path / f"re-{fmt}.db"))
    result = ingest_files(store, [path], format=fmt)
    assert result.quarantined == 0, result.problems
    return store.load()


def _without_store_fields(df: pl.DataFrame) -> pl.DataFrame:
    """The events as they were before a store numbered them (metadata.imported dropped)."""

    def strip(text: str | None) -> str | None:
        if text is None:
            return None
        meta = orjson.loads(text)
        meta.pop("imported", None)
        return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS).decode() if meta else None

    meta = [strip(m) for m in df["metadata"].to_list()]
    return (
        df.with_columns(pl.Series("metadata", meta, dtype=pl.String))
        .drop("seq", "received_at")
        .sort("event_id")
    )


def _sorted_meta(df: pl.DataFrame) -> pl.DataFrame:
    meta = [
        None if m is None else orjson.dumps(orjson.loads(m), option=orjson.OPT_SORT_KEYS).decode()
        for m in df["metadata"].to_list()
    ]
    return df.with_columns(pl.Series("metadata", meta, dtype=pl.String)).sort("tenant_id", "seq")


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_round_trip_through_ingest_is_lossless(
    fmt: str, frame: pl.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / f"out{get_export_format(fmt).suffix}"
    result = export_frame(frame, path)
    assert (result.format, result.rows) == (fmt, frame.height)
    back = _reimport(path, tmp_path, get_export_format(fmt).reimport_format or "")
    assert_frame_equal(
        _without_store_fields(back), _sorted_meta(frame).drop("seq", "received_at").sort("event_id")
    )
    # the store fields travelled along, under metadata.imported
    imported = {
        e: orjson.loads(m)["imported"] for e, m in back.select("event_id", "metadata").iter_rows()
    }
    assert {int(v["seq"]) for v in imported.values()} == set(frame["seq"].to_list())


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_without_store_fields_reimports_identically(
    fmt: str, frame: pl.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / f"out.{fmt}"
    export_frame(frame, path, store_fields=False)
    back = _reimport(path, tmp_path, get_export_format(fmt).reimport_format or "")
    assert_frame_equal(
        _sorted_meta(back).drop("received_at"), _sorted_meta(frame).drop("received_at")
    )


def test_sample_round_trip_csv(tmp_path: Path) -> None:
    from itertools import chain, islice

    from auditkit.sample import iter_events

    events = list(islice(chain.from_iterable(iter_events(days=10, events=2000)), 2000))
    frame = events_to_frame(events)
    path = tmp_path / "sample.csv"
    export_frame(frame, path, store_fields=False)
    back = _reimport(path, tmp_path, "csv")
    assert_frame_equal(
        _sorted_meta(back).drop("received_at"), _sorted_meta(frame).drop("received_at")
    )


def test_csv_is_spreadsheet_safe(tricky: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    export_frame(tricky, path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    dangerous = [
        cell
        for row in rows
        for cell in row.values()
        if cell and cell.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r")
    ]
    assert dangerous and all(cell.startswith("'") for cell in dangerous)
    assert rows[0]["actor.id"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["source.geo.lon"] == "174.78"
    assert rows[0]["source.geo.lat"] == "'-41.29"
    assert rows[0]["actor.roles"] == '["a;b","-admin"]'
    assert rows[1]["actor.roles"] == "[]"
    assert rows[1]["description"] == "'\tTabbed"
    assert rows[2]["description"] == "'quoted text"
    assert list(rows[0])[:3] == ["event_id", "tenant_id", "seq"]


def test_csv_quote_before_formula_character_round_trips(tmp_path: Path) -> None:
    frame = events_to_frame([{**TRICKY[1], "description": "'=not a formula"}])
    path = tmp_path / "q.csv"
    export_frame(frame, path, store_fields=False)
    assert _reimport(path, tmp_path, "csv")["description"].item() == "'=not a formula"


@pytest.mark.parametrize("first", ["\uff1d", "\uff0b", "\uff0d", "\uff20"])
def test_fullwidth_formula_characters_are_guarded_and_round_trip(
    tmp_path: Path, first: str
) -> None:
    """Spreadsheets in CJK locales may read the fullwidth forms of ``= + - @`` as the
    ASCII ones: such a cell was written unguarded."""
    text = f'{first}HYPERLINK("http://x")'
    frame = events_to_frame([{**TRICKY[1], "description": text}])
    path = tmp_path / "w.csv"
    export_frame(frame, path, store_fields=False)
    with path.open(newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["description"] == "'" + text
    assert _reimport(path, tmp_path, "csv")["description"].item() == text


def test_ndjson_is_canonical_and_omits_absent_fields(tricky: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    export_frame(tricky, path)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert lines[1] == {
        "event_id": "t-2", "tenant_id": "acme", "seq": 1,
        "occurred_at": "2026-01-05T09:01:00.000000Z",
        "received_at": "2026-01-05T09:01:00.000000Z", "action": "user.login",
        "category": "management", "outcome": "success", "actor": {"id": "u2", "roles": []},
        "request_id": "+r1", "session_id": "-s1", "description": "\tTabbed",
        "metadata": {"auditkit_defaulted": ["outcome"]},  # no outcome given: marked
    }  # fmt: skip
    assert lines[0]["targets"][0] == {"id": "d1", "type": "document"}
    json_path = tmp_path / "x.json"
    export_frame(tricky, json_path)
    assert orjson.loads(json_path.read_bytes()) == lines


def test_parquet_keeps_the_typed_frame(frame: pl.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    export_frame(frame.with_columns(_hidden=pl.lit(1)), path)
    assert_frame_equal(pl.read_parquet(path), frame)


def test_empty_frame_and_column_subsets(frame: pl.DataFrame, tmp_path: Path) -> None:
    for fmt in available_export_formats():
        path = tmp_path / f"empty{get_export_format(fmt).suffix}"
        assert export_frame(frame.clear(), path).rows == 0
        assert path.exists()
    sub = frame.select("event_id", "tenant_id", "occurred_at", "action", "actor_id")
    export_frame(sub, tmp_path / "sub.ndjson")
    first = orjson.loads((tmp_path / "sub.ndjson").read_bytes().splitlines()[0])
    assert set(first) == {"event_id", "tenant_id", "occurred_at", "action", "actor"}
    with pytest.raises(UsageError, match="without column"):
        export_frame(frame.select("event_id"), tmp_path / "bad.csv")


def test_lazy_frames_and_format_lookup(frame: pl.DataFrame, tmp_path: Path) -> None:
    assert export_frame(frame.lazy(), tmp_path / "x.jsonl").format == "ndjson"
    assert format_for_path("X.CSV").name == "csv"
    with pytest.raises(UsageError, match="cannot tell the export format"):
        format_for_path("x.xlsx")
    with pytest.raises(UsageError, match="known: cef, csv"):
        export_frame(frame, tmp_path / "x.csv", format="xlsx")


def test_failed_write_leaves_no_partial_file(frame: pl.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        export_frame(frame.select("event_id"), tmp_path / "x.ndjson")
    assert list(tmp_path.iterdir()) == []


def test_lines_format_never_writes_a_line_short(frame: pl.DataFrame, tmp_path: Path) -> None:
    """A lines encoder that gives no line for an event is an error, not a file with an
    empty line or a missing event (the lines are written by Polars, straight)."""
    from auditkit.errors import AuditkitError
    from auditkit.export.formats import _FORMATS, ExportFormat, register_export_format

    def lines(chunk: pl.DataFrame) -> pl.Series:
        first = pl.int_range(pl.len()) == 0
        return chunk.select(pl.when(~first).then(pl.col("event_id"))).to_series()

    register_export_format(ExportFormat("holes", ".holes", "text/plain", "test", lines=lines))
    try:
        with pytest.raises(AuditkitError, match="no line for 1 of"):
            export_frame(frame, tmp_path / "x.holes", format="holes")
        assert list(tmp_path.iterdir()) == []
    finally:
        _FORMATS.unregister("holes")


def test_lines_are_written_as_they_are(frame: pl.DataFrame, tmp_path: Path) -> None:
    """Lines go to the file byte for byte, whatever they hold (quotes, commas,
    separators a CSV writer would quote), each ended by one newline."""
    from auditkit.export.formats import _FORMATS, ExportFormat, register_export_format

    texts = ['a,"b"', "", "x\ty;z", "\u00e9\u65e5"]
    register_export_format(ExportFormat(
        "raw", ".raw", "text/plain", "test",
        lines=lambda chunk: pl.Series([texts[i % 4] for i in range(chunk.height)]),
    ))  # fmt: skip
    try:
        export_frame(frame.head(4), tmp_path / "x.raw", format="raw")
        assert (tmp_path / "x.raw").read_bytes() == ("\n".join(texts) + "\n").encode()
    finally:
        _FORMATS.unregister("raw")


def test_frame_to_events_chunks(frame: pl.DataFrame) -> None:
    chunks = list(frame_to_events(frame, chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 10, 10, 1]
    assert [e["event_id"] for c in chunks for e in c] == frame["event_id"].to_list()
