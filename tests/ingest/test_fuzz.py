"""Property-based tests: whatever a record holds, ``to_event`` either returns something
``normalize_event`` accepts (and that serialises as JSON) or raises ``SchemaError`` —
never another exception.  Records are random JSON values, and fixture records mutated
(keys dropped, values replaced by other types, huge numbers, NaN, long or odd text).
Random bytes fed to each format's reader never raise either."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format
from auditkit.schema import normalize_event

from . import FIXTURES, MAPPED, format_for, raw_records, source_fixtures

FORMATS = ("cloudtrail", "gcp", "gitlab", "okta", "ocsf", "mapped")


def _fmt(name: str) -> Format:
    if name == "mapped":
        return format_for("mapped", FIXTURES / "mapped" / "billing_audit.csv")
    return format_for(name, FIXTURES / name)


def _corpus(name: str) -> list[dict[str, Any]]:
    if name == "mapped":
        return [
            r
            for data in MAPPED
            for r in raw_records(
                format_for("mapped", FIXTURES / "mapped" / data), FIXTURES / "mapped" / data
            )
        ]
    return [
        r
        for n, path in source_fixtures()
        if n == name
        for r in raw_records(format_for(n, path), path)
    ]


CORPUS = {name: _corpus(name) for name in FORMATS}
FORMAT_OBJECTS = {name: _fmt(name) for name in FORMATS}


def _paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if depth >= 5:
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out += _paths(v, (*prefix, i), depth + 1)
    return out


PATHS = {
    name: [(i, p) for i, rec in enumerate(CORPUS[name]) for p in _paths(rec)] for name in FORMATS
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**53, -(2**53), 2**53 + 1, -(2**70), 10**30, 0, -1, 1717232400000])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "",
            " ",
            "unknown",
            "x" * 600,
            "2024-06-01T00:00:00Z",
            "1990-01-01",
            "9999-12-31T23:59:59Z",
            "203.0.113.5",
            "not-an-ip",
            "\x00",
            "é😀",
            "AccessDenied",
            "arn:aws:iam::1:root",
            "Root",
            "ConsoleLogin",
        ]
    )
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _check(fmt: Format, record: Any, tenant: str | None) -> None:
    try:
        event = fmt.to_event(record, tenant=tenant)
    except SchemaError as exc:
        assert str(exc)
        return
    normalized = normalize_event(event)  # must not raise: to_event should have
    orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS)
    for value in (normalized.get("source", {}).get("geo") or {}).values():
        assert not isinstance(value, float) or math.isfinite(value)


def _mutate(data: st.DataObject, base: dict[str, Any]) -> dict[str, Any]:
    """Drop keys, replace values by other types, or wrap them, 1 to 4 times."""
    record = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = _paths(record)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent: Any = record
        for key in path[:-1]:
            parent = parent[key]
        how = data.draw(st.sampled_from(["drop", "replace", "replace", "wrap"]))
        last = path[-1]
        if how == "drop":
            del parent[last]
        elif how == "wrap":
            parent[last] = [parent[last]] if data.draw(st.booleans()) else {"v": parent[last]}
        else:
            parent[last] = data.draw(json_like)
    return record


TENANTS = st.sampled_from([None, "acme"])


@pytest.mark.parametrize("name", FORMATS)
@settings(max_examples=25, deadline=None)
@given(record=json_like, tenant=TENANTS)
def test_random_values(name: str, record: Any, tenant: str | None) -> None:
    _check(FORMAT_OBJECTS[name], record, tenant)


@pytest.mark.parametrize("name", FORMATS)
@settings(max_examples=40, deadline=None)
@given(data=st.data(), tenant=TENANTS)
def test_mutated_fixture_records(name: str, data: st.DataObject, tenant: str | None) -> None:
    record = _mutate(data, data.draw(st.sampled_from(CORPUS[name])))
    _check(FORMAT_OBJECTS[name], record, tenant)


@pytest.mark.parametrize("name", FORMATS)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    blob=st.binary(max_size=400),
    prefix=st.sampled_from([b"", b"[", b'{"Records": [', b"{", b"id,ts,event\n"]),
)
def test_random_bytes_through_each_reader(
    name: str, blob: bytes, prefix: bytes, tmp_path: Path
) -> None:
    fmt = FORMAT_OBJECTS[name]
    path = tmp_path / ("x.csv" if name == "mapped" else "x.json")
    path.write_bytes(prefix + blob)
    for rec in fmt.records(str(path)):
        assert (rec.value is None) != (rec.error is None)
        if rec.value is not None:
            _check(fmt, rec.value, "acme")


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize(
    "blob", [b"\x1f\x8b", b"\x1f\x8b\x08\x00", b"\x1f\x8b\x08\x00\x00\x00\x00"]
)
def test_a_gzip_cut_short_in_its_header_is_an_error_record(
    name: str, blob: bytes, tmp_path: Path
) -> None:
    """Found by the random-bytes test above: a file opening with gzip's magic and
    ending inside its header raised EOFError out of the reader."""
    path = tmp_path / ("x.csv" if name == "mapped" else "x.json")
    path.write_bytes(blob)
    records = list(FORMAT_OBJECTS[name].records(str(path)))
    assert records and all(rec.value is None and rec.error is not None for rec in records)
    assert all(str(path) in str(rec.error) or rec.path == str(path) for rec in records)
