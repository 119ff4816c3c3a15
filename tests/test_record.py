"""The row layout: canonical bytes composed at append equal RFC 8785 of the
record, and the vectorised rebuild from columns gives them back byte for byte."""

from __future__ import annotations

from typing import Any

import polars as pl
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.record import (
    STORED_COLUMNS,
    STORED_SCHEMA,
    event_row,
    rebuild_canonical,
    row_to_event,
)
from auditkit.schema import normalize_event

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


# Named functions, not lambdas: Hypothesis reads a lambda's source with `ast` to
# describe it, which on Python 3.11 can fail with "AST constructor recursion depth
# mismatch" (CPython gh-106905).
def _not_blank(s: str) -> bool:
    return s.strip() != ""


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4)


ident = text.filter(_not_blank)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    text,
)
json_value = st.recursive(
    json_leaf,
    _containers,
    max_leaves=12,
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    e: dict[str, Any] = {
        "tenant_id": draw(ident.filter(str.isprintable)),
        "occurred_at": draw(
            st.datetimes(
                min_value=__import__("datetime").datetime(1991, 1, 1),
                max_value=__import__("datetime").datetime(2026, 1, 1),
                timezones=st.just(__import__("datetime").UTC),
            )
        ),
        "action": draw(st.from_regex(r"[a-z][a-z0-9_]{0,8}\.[a-z][a-z0-9_]{0,8}", fullmatch=True)),
        "outcome": draw(st.sampled_from(["success", "failure", "denied", "error"])),
        "actor": {"id": draw(ident)}
        | draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": text,
                    "email": text,
                    "roles": st.lists(text, max_size=3),
                    "type": st.sampled_from(["user", "service", "api_key", "system"]),
                },
            )
        ),
    }
    optional = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "description": text,
                "request_id": text,
                "session_id": text,
                "metadata": st.dictionaries(text, json_value, max_size=4),
                "changes": st.fixed_dictionaries({"before": json_value, "after": json_value}),
                "targets": st.lists(
                    st.fixed_dictionaries({"id": ident}, optional={"name": text}), max_size=3
                ),
                "source": st.fixed_dictionaries(
                    {},
                    optional={
                        "ip": st.ip_addresses().map(str),
                        "user_agent": text,
                        "geo": st.fixed_dictionaries(
                            {},
                            optional={
                                "lat": st.floats(-90, 90),
                                "lon": st.floats(-180, 180),
                                "city": text,
                            },
                        ),
                    },
                ),
            },
        )
    )
    return e | optional


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(events(), st.integers(0, 2**40))
def test_row_canonical_is_jcs_and_rebuilds_exactly(raw: dict[str, Any], seq: int) -> None:
    event = normalize_event(raw)
    received = "2026-02-03T04:05:06.789012Z"
    row, canon = event_row(event, seq, received)
    record = {**event, "seq": seq, "received_at": received}
    assert canon == rfc8785.dumps(record)
    frame = pl.DataFrame([row], schema=STORED_SCHEMA, orient="row")
    assert rebuild_canonical(frame).item() == canon.decode()
    assert row_to_event(dict(zip(STORED_COLUMNS, row, strict=True))) == __import__("orjson").loads(
        canon
    )


wild_leaf = st.one_of(
    json_leaf,
    st.floats(width=64),  # NaN and infinities: invalid, must be refused
    st.integers(-(2**60), 2**60),  # beyond 2**53: invalid
    st.sampled_from([45.0, -0.0, 1e-7, 1e16, 2.5e21]),  # valid, but not orjson's JCS
)
wild_value = st.recursive(
    wild_leaf,
    _containers,
    max_leaves=12,
)


def _outcome(prepare: Any) -> Any:
    from auditkit.errors import SchemaError

    try:
        return prepare().finish(3, "2026-02-03T04:05:06.789012Z")
    except SchemaError as exc:
        return ("refused", exc.field)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    events(),
    st.dictionaries(text, wild_value, min_size=1, max_size=4),
    st.fixed_dictionaries({"before": wild_value, "after": wild_value}),
    st.booleans(),
)
def test_deferred_check_of_free_json_accepts_and_refuses_the_same(
    raw: dict[str, Any], metadata: dict[str, Any], changes: dict[str, Any], with_id: bool
) -> None:
    """normalize_for_store + prepare_event(checked=False) == normalize_event + prepare_event."""
    from auditkit.errors import SchemaError
    from auditkit.record import prepare_event
    from auditkit.schema import normalize_for_store

    raw = {**raw, "metadata": metadata, "changes": changes}
    if with_id:
        raw["event_id"] = "e-1"

    def eager() -> Any:
        return prepare_event(normalize_event(raw))

    def deferred() -> Any:
        event, checked = normalize_for_store(raw)
        return prepare_event(event, checked=checked)

    try:
        expected = _outcome(eager)
    except SchemaError:  # refused by normalize_event itself (e.g. metadata not a dict)
        expected = ("refused", None)
    try:
        got = _outcome(deferred)
    except SchemaError:
        got = ("refused", None)
    if expected[0] == "refused":
        assert got[0] == "refused"
    else:
        assert got == expected
        _row, canon = got
        record = {**normalize_event(raw), "seq": 3, "received_at": "2026-02-03T04:05:06.789012Z"}
        assert canon == rfc8785.dumps(record)
