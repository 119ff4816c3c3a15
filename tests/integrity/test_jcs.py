"""canonical_bytes must equal the rfc8785 reference for every input, and raise alike."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import math
import sys
import uuid
from typing import Any, NamedTuple

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.integrity import CanonicalizationError, canonical_bytes, is_jcs_safe

MAX_INT = 2**53 - 1

EVENT: dict[str, Any] = {
    "event_id": "01JDXR5Q8Z3K7M2N4P6R8T0V1W",
    "tenant_id": "acme-corp",
    "seq": 12345,
    "occurred_at": "2024-11-30T12:34:56.123456Z",
    "received_at": "2024-11-30T12:34:56.223456Z",
    "action": "document.export",
    "category": "user",
    "outcome": "success",
    "actor": {"id": "u-1842", "type": "user", "name": "Zoë Martin", "roles": ["analyst"]},
    "targets": [{"id": "doc-99812", "type": "document", "name": "Q3 forecast.xlsx"}],
    "source": {
        "ip": "203.0.113.42",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0",
        "geo": {"country": "FR", "city": "Paris", "lat": 48.8566, "lon": 2.3522},
    },
    "observer": {"service": "docs-api", "version": "2.14.1", "region": "eu-west-1"},
    "description": "Zoë exported a document",
    "changes": None,
    "metadata": {"format": "xlsx", "size_bytes": 48213, "shared": False},
}


def same_as_reference(value: Any) -> None:
    """canonical_bytes(value) returns what rfc8785 returns, or raises what it raises."""
    try:
        want = rfc8785.dumps(value)
    except Exception as exc:  # the reference's error is the contract
        with pytest.raises(type(exc)) as info:
            canonical_bytes(value)
        assert str(info.value) == str(exc)
        return
    assert canonical_bytes(value) == want


# -- property tests

unicode_text = st.text() | st.text(
    st.characters(min_codepoint=0xD7F0, max_codepoint=0x1F7FF, codec="utf-8"),
    max_size=4,
)


def _round4(f: float) -> float:
    return round(f, 4)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=5) | st.dictionaries(unicode_text, inner, max_size=6)


# Named functions, not lambdas: Hypothesis reads a lambda's source with `ast` to
# describe it, which on Python 3.11 can fail with "AST constructor recursion depth
# mismatch" (CPython gh-106905).
numbers = (
    st.integers(-MAX_INT, MAX_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(-1e6, 1e6, allow_nan=False).map(_round4)
    | st.sampled_from([1e-5, 1e-6, 1e-7, 9.999999e-6, 1e16, 9999999999999998.0, 1e21, 0.5])
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | unicode_text,
    _containers,
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_equals_rfc8785_for_json_values(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=500, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_equals_rfc8785_for_any_finite_float(value: float) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert canonical_bytes({"x": [value]}) == rfc8785.dumps({"x": [value]})


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(unicode_text, st.integers(-9, 9), min_size=2, max_size=8))
def test_key_order_is_utf16(value: dict[str, int]) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=120, deadline=None)
@given(
    json_values
    | st.integers()
    | st.floats()
    | st.text(st.characters(codec=None, categories=("Cs", "Ll")))
    | st.dictionaries(st.integers(), st.none(), min_size=1, max_size=2)
)
def test_errors_match_rfc8785(value: Any) -> None:
    same_as_reference(value)


# -- edges, one by one


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        -0.0,
        1.0,
        45.0,
        -45.0,
        1e-5,
        math.nextafter(1e-5, 0),
        1e-6,
        1.5e-6,
        1e-7,
        2.5e-7,
        5e-324,
        1e16,
        math.nextafter(1e16, 0),
        1e20,
        1e21,
        1.7976931348623157e308,
        float(2**53),
        0.1,
        1 / 3,
        MAX_INT,
        -MAX_INT,
        0,
        True,
        False,
        None,
        "",
        '\x00\x1f\x7f\u2028\u2029"\\/\b\f\n\r\t',
        "é\ue000\uffff\U0001f600",
        [],
        {},
        (),
        (1, [2.5, {"a": ()}]),
    ],
    ids=repr,
)
def test_edges_equal_reference(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert canonical_bytes({"k": value, "l": [value]}) == rfc8785.dumps({"k": value, "l": [value]})


@pytest.mark.parametrize(
    "keys",
    [
        ["\ue000", "\U0001f600"],
        ["a\uffff", "a\U00010000", "a"],
        ["é", "e", "z", "\u20ac", "\U0001d11e", "\ufb33"],
        ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"],  # RFC 8785 3.2.3
    ],
)
def test_keys_sorted_by_utf16_code_units(keys: list[str]) -> None:
    value = {k: i for i, k in enumerate(keys)}
    assert canonical_bytes(value) == rfc8785.dumps(value)
    assert canonical_bytes([{"x": value}]) == rfc8785.dumps([{"x": value}])


def test_rfc8785_key_order_example() -> None:
    # RFC 8785 section 3.2.3's sorting example (values are the descriptions).
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = [k for k in orjson.loads(canonical_bytes(value))]
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Word(enum.StrEnum):
    HELLO = "hello"


class MyDict(dict[str, Any]):
    pass


class Pair(NamedTuple):
    x: int
    y: int


@dataclasses.dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        {"lat": float("nan")},
        [float("-inf")],
        2**53,
        -(2**53),
        2**64,
        {"big": 2**70},
        {1: "int key"},
        "\ud800",
        {"\udfff": 1},
        object(),
        {1, 2},
        b"bytes",
        decimal.Decimal("1.5"),
        uuid.UUID(int=1),
        dt.datetime(2024, 1, 1),
        dt.date(2024, 1, 1),
        Point(1),
        Colour.RED,
        Level.HIGH,
        Word.HELLO,
        {"k": Level.HIGH, "w": Word.HELLO},
        MyDict(a=1),
        collections.OrderedDict(b=1, a=2),
        Pair(1, 2),
    ],
    ids=repr,
)
def test_non_json_inputs_behave_like_reference(value: Any) -> None:
    same_as_reference(value)


def test_errors_are_value_errors() -> None:
    assert issubclass(CanonicalizationError, ValueError)
    with pytest.raises(CanonicalizationError, match="not representable"):
        canonical_bytes({"x": float("nan")})
    with pytest.raises(CanonicalizationError, match="exceeds safe integer domain"):
        canonical_bytes([2**53])


def test_deep_nesting_beyond_orjson_limit() -> None:
    value: Any = "leaf"
    for _ in range(300):
        value = [value]
    if sys.getrecursionlimit() > 700:
        assert canonical_bytes(value) == rfc8785.dumps(value)


# -- the fast path is taken where it should be


def test_typical_event_takes_fast_path() -> None:
    assert is_jcs_safe(EVENT)
    assert canonical_bytes(EVENT) == rfc8785.dumps(EVENT)
    assert canonical_bytes(EVENT) == orjson.dumps(EVENT, option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize(
    "value",
    [
        {"lat": 45.0},
        {"x": 1e-6},
        {"x": 1e16},
        {"n": 2**53},
        {"\ue000": 1},
        {"a": {"b": [{"\U0001f600": 1}]}},
        {"x": Level.HIGH},
        {"x": float("nan")},
        Word.HELLO,
    ],
    ids=repr,
)
def test_unsafe_values_take_the_reference_path(value: Any) -> None:
    assert not is_jcs_safe(value)


def test_non_ascii_values_keep_fast_path() -> None:
    value = {"name": "Zoë \U0001f600 \ue000", "note": "日本語"}
    assert is_jcs_safe(value)
    assert canonical_bytes(value) == rfc8785.dumps(value)


def test_input_is_not_mutated() -> None:
    value = {"b": [1.0, {"z": 2, "a": 45.0}], "a": None}
    before = repr(value)
    canonical_bytes(value)
    assert repr(value) == before
