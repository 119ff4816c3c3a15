"""The streaming JSON array reader: exact records at any chunk size, bad input as errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.ingest import _readers_extra
from auditkit.ingest._readers_extra import iter_json_array, iter_json_auto

TRICKY = [
    {"a": "}]", "b": "},{", "c": ["}", "{", "]"]},
    {"quote": 'he said "}, {"', "slash": "\\", "end": "\\\\"},
    {"nested": [{"x": 1}, {"y": [{"z": {}}]}], "empty": {}},
    {"unicode": "Grüße 😀", "esc": "\u0000\n\t"},
    {},
]


def _write(tmp_path: Path, data: bytes, name: str = "f.json") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _values(path: str, **kw: Any) -> list[Any]:
    return [(r.value, r.error is not None) for r in iter_json_array(path, **kw)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize("indent", [False, True])
def test_tricky_records_at_any_chunk_size(tmp_path: Path, chunk: int, indent: bool) -> None:
    opt = orjson.OPT_INDENT_2 if indent else 0
    doc = orjson.dumps({"Records": TRICKY}, option=opt)
    path = _write(tmp_path, doc)
    recs = list(iter_json_array(path, key="Records", chunk_size=chunk))
    assert [r.value for r in recs] == TRICKY
    assert [r.location for r in recs] == [f"Records[{i}]" for i in range(len(TRICKY))]
    # the line each record starts on, whatever the chunks the file was read in
    starts = [i + 1 for i, text in enumerate(doc.split(b"\n")) if text.startswith(b"    {")]
    assert [r.line for r in recs] == (starts if indent else [1] * len(TRICKY))


def test_bad_items_are_errors_and_reading_goes_on(tmp_path: Path) -> None:
    doc = b'[{"a": 1}, 7, "x", null, [1, {"b": 2}], {"c": "\xff"}, {"d": tru}, {"e": 5}]'
    got = _values(_write(tmp_path, doc), chunk_size=5)
    assert got == [
        ({"a": 1}, False),
        (None, True),
        (None, True),
        (None, True),
        (None, True),
        (None, True),
        (None, True),
        ({"e": 5}, False),
    ]
    errors = [str(r.error) for r in iter_json_array(_write(tmp_path, doc))]
    assert "expected a JSON object, got int" in errors[1]
    assert "invalid UTF-8" in errors[5]


def test_truncated_and_garbled_files(tmp_path: Path) -> None:
    truncated = _write(tmp_path, b'{"Records": [{"a": 1}, {"b": ')
    assert _values(truncated, key="Records") == [({"a": 1}, False), (None, True)]
    unterminated = _write(tmp_path, b'[{"a": 1}, {"b": 2}', "u.json")
    recs = list(iter_json_array(unterminated))
    assert [r.value for r in recs[:2]] == [{"a": 1}, {"b": 2}] and "end of the file" in str(
        recs[2].error
    )
    garbage = _write(tmp_path, b'[{"a": 1} {"b": 2}]', "g.json")
    recs = list(iter_json_array(garbage))
    assert recs[0].value == {"a": 1} and "expected ',' or ']'" in str(recs[1].error)
    wrong = _write(tmp_path, b'{"other": []}', "w.json")
    (rec,) = iter_json_array(wrong, key="Records")
    assert 'expected a JSON document {"Records": [...]}' in str(rec.error)


def test_oversized_record_is_skipped_without_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_readers_extra, "MAX_RECORD_BYTES", 1000)
    big = {"pad": "x" * 5000, "inner": [{"k": "}, {"}] * 50}
    doc = orjson.dumps([{"a": 1}, big, {"b": 2}])
    recs = list(iter_json_array(_write(tmp_path, doc), chunk_size=256))
    assert [r.value for r in recs] == [{"a": 1}, None, {"b": 2}]
    assert "over the 1000-byte limit" in str(recs[1].error)
    assert recs[1].text is not None and len(recs[1].text) < 5000


def test_gzip_bom_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "x.json.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"\xef\xbb\xbf" + orjson.dumps(TRICKY))
    assert [r.value for r in iter_json_array(str(path))] == TRICKY
    assert list(iter_json_array(_write(tmp_path, b"  [ ] "))) == []


def test_layout_detection(tmp_path: Path) -> None:
    ndjson = _write(tmp_path, b'{"a": 1}\n{"a": 2}\n', "n.json")
    assert [r.value for r in iter_json_auto(ndjson)] == [{"a": 1}, {"a": 2}]
    single = _write(tmp_path, orjson.dumps({"a": {"b": 1}}, option=orjson.OPT_INDENT_2), "s.json")
    assert [r.value for r in iter_json_auto(single)] == [{"a": {"b": 1}}]
    late_key = _write(tmp_path, b'{"v": 1, "Records": [{"a": 1}, {"a": 2}]}', "l.json")
    assert [r.value for r in iter_json_auto(late_key, key="Records")] == [{"a": 1}, {"a": 2}]
    array = _write(tmp_path, b'\n\n  [{"a": 1}]', "a.json")
    assert [r.value for r in iter_json_auto(array)] == [{"a": 1}]
    junk = _write(tmp_path, b"not json at all\n", "j.json")
    assert all(r.error is not None for r in iter_json_auto(junk))
    assert list(iter_json_auto(_write(tmp_path, b"", "e.json"))) == []


_chars = st.text(alphabet='ab}{][,":\\ \u00fc\U0001f600\n', max_size=8)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(_chars, inner, max_size=3)


json_values = st.recursive(  # a named function, not a lambda (CPython gh-106905)
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _chars,
    _containers,
    max_leaves=6,
)


ROUND_TRIP = {
    "records": st.lists(st.dictionaries(_chars, json_values, max_size=4), max_size=5),
    "chunk": st.integers(1, 40),
    "indent": st.booleans(),
    "keyed": st.booleans(),
}


def _round_trip(
    tmp_path: Path, records: list[dict[str, Any]], chunk: int, indent: bool, keyed: bool
) -> None:
    doc: Any = {"Records": records} if keyed else records
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 if indent else 0)
    path = _write(tmp_path, data)
    got = list(iter_json_array(path, key="Records" if keyed else None, chunk_size=chunk))
    assert [r.error for r in got] == [None] * len(records)
    assert [r.value for r in got] == records


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(**ROUND_TRIP)
def test_any_records_any_chunking_round_trip(
    tmp_path: Path, records: list[dict[str, Any]], chunk: int, indent: bool, keyed: bool
) -> None:
    _round_trip(tmp_path, records, chunk, indent, keyed)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300), prefix=st.sampled_from([b"[", b'{"Records": [', b""]))
def test_random_bytes_never_raise(tmp_path: Path, data: bytes, prefix: bytes) -> None:
    path = _write(tmp_path, prefix + data)
    for reader in (
        lambda: iter_json_array(path, key="Records", chunk_size=16),
        lambda: iter_json_auto(path, key="Records"),
    ):
        for rec in reader():
            assert (rec.value is None) != (rec.error is None)
            assert rec.value is None or isinstance(rec.value, dict)


_SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8)


def _nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=4), children, max_size=3
    )


_OBJECTS = st.dictionaries(
    st.text(max_size=5), st.recursive(_SCALARS, _nested, max_leaves=8), max_size=4
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    objs=st.lists(_OBJECTS, min_size=2, max_size=6),
    gaps=st.lists(st.sampled_from(["", " ", "\r\n", "\t"]), min_size=6, max_size=6),
)
def test_objects_written_back_to_back_are_read_each(
    tmp_path: Path, objs: list[dict[str, Any]], gaps: list[str]
) -> None:
    """A file of JSON objects with no separator (Firehose's delivery of CloudWatch Logs
    payloads) gives each object, in order, exactly; a cut one is the file's error."""
    from auditkit.ingest._readers import _concatenated, iter_json_records

    compact = (",", ":")
    text = "".join(
        json.dumps(o, separators=compact if i % 2 else None) + g
        for i, (o, g) in enumerate(zip(objs, gaps, strict=False))
    )
    assert _concatenated(text.encode()) == objs
    path = tmp_path / "back-to-back.json"
    path.write_text(text, encoding="utf-8")
    got = list(iter_json_records(str(path)))
    if "\n" not in text:  # (with line breaks between them, NDJSON reads it first)
        assert [r.value for r in got] == objs
        assert [r.location for r in got] == [f"[{i}]" for i in range(len(objs))]
    cut = text.rstrip()[:-1]
    assert _concatenated(cut.encode()) is None
