"""The canonical event: validation names the field, and never fails another way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import auditkit
from auditkit import SchemaError, normalize_event
from auditkit.schema import _TOP_FIELDS
from tests.conftest import make_events

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def test_public_api_is_sorted_and_importable() -> None:
    assert auditkit.__all__ == sorted(auditkit.__all__)
    for name in auditkit.__all__:
        assert getattr(auditkit, name) is not None


def test_defaults_and_normal_forms() -> None:
    e = normalize_event(
        {
            "tenant_id": "acme",
            "occurred_at": "2026-03-01T10:00:00.5+02:00",
            "action": "role.grant",
            "actor": "u1",
            "source": {"ip": " 2001:DB8::1 ", "geo": {"lat": 52.0}},
            "targets": {"id": "u2"},
            "session_id": None,
        },
        now=NOW,
    )
    assert e["occurred_at"] == "2026-03-01T08:00:00.500000Z"
    assert (e["category"], e["outcome"], e["actor"]) == ("admin", "success", {"id": "u1"})
    assert e["source"] == {"ip": "2001:db8::1", "geo": {"lat": 52}}
    assert e["targets"] == [{"id": "u2"}]
    assert "session_id" not in e
    assert (
        e["event_id"]
        == normalize_event(
            {
                "tenant_id": "acme",
                "occurred_at": "2026-03-01T10:00:00.5+02:00",
                "action": "role.grant",
                "actor": "u1",
                "source": {"ip": "2001:db8::1", "geo": {"lat": 52.0}},
                "targets": [{"id": "u2"}],
            },
            now=NOW,
        )["event_id"]
    )


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"tenant_id": ""}, "tenant_id", "empty"),
        ({"occurred_at": "05/01/2026 09:00"}, "occurred_at", "RFC 3339"),
        ({"occurred_at": "2026-01-05T09:00:00"}, "occurred_at", "time zone"),
        ({"occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at", "out of range"),
        ({"occurred_at": "2099-01-01T00:00:00Z"}, "occurred_at", "out of range"),
        ({"occurred_at": "2026-02-30T00:00:00.000000Z"}, "occurred_at", "RFC 3339"),
        ({"action": "User.Login"}, "action", "noun.verb"),
        ({"category": "misc"}, "category", "one of"),
        ({"outcome": "ok"}, "outcome", "one of"),
        ({"actor": {"name": "x"}}, "actor.id", "missing"),
        ({"actor": {"id": "u", "type": "robot"}}, "actor.type", "one of"),
        ({"actor": {"id": "u", "roles": "admin"}}, "actor.roles", "list"),
        ({"source": {"ip": "999.1.1.1"}}, "source.ip", "IPv4"),
        ({"source": {"geo": {"lat": 91}}}, "source.geo.lat", "[-90, 90]"),
        ({"targets": [{"name": "x"}]}, "targets[0].id", "missing"),
        ({"metadata": {"n": 2**60}}, "metadata.n", "2^53"),
        ({"metadata": {"x": float("nan")}}, "metadata.x", "finite"),
        ({"colour": "red"}, "colour", "unknown"),
        ({"changes": {"old": 1}}, "changes", "before"),
    ],
)
def test_errors_name_the_field(change: dict[str, Any], field: str, words: str) -> None:
    event = make_events(1)[0] | change
    with pytest.raises(SchemaError) as info:
        normalize_event(event, now=NOW)
    assert info.value.field == field
    assert words in str(info.value)


#: The canonical event's top-level fields, as the schema defines them.
EVENT_FIELDS = sorted(_TOP_FIELDS)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted([*EVENT_FIELDS, "seq", "received_at", "junk"])),
        json_values,
        max_size=10,
    ),
    st.booleans(),
)
def test_random_records_are_accepted_or_refused_with_schema_error(
    mutation: dict[str, Any], start_valid: bool
) -> None:
    base = make_events(1)[0] if start_valid else {}
    try:
        event = normalize_event(base | mutation, now=NOW)
    except SchemaError as exc:
        assert exc.reason
        return
    assert set(event) >= {
        "event_id",
        "tenant_id",
        "occurred_at",
        "action",
        "category",
        "outcome",
        "actor",
    }
    assert normalize_event(event, now=NOW) == event  # idempotent


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(EVENT_FIELDS)),
        json_values,
        max_size=8,
    ),
    st.integers(0, 4),
)
@example({"metadata": {"": 2**53}}, 0)  # found by a CI run: both paths refuse it
def test_fast_path_agrees_with_the_full_rules(mutation: dict[str, Any], which: int) -> None:
    from auditkit.schema import _fast_normalize, _full_normalize

    base = make_events(5)[which]
    for candidate in (base, base | mutation):
        try:
            fast = _fast_normalize(candidate, NOW)
        except SchemaError as refused:  # agreeing means refusing with the same words
            with pytest.raises(SchemaError) as full:
                _full_normalize(candidate, NOW)
            assert str(full.value) == str(refused)
            continue
        if fast is None:
            continue
        assert fast == _full_normalize(candidate, NOW)


def test_fast_path_takes_the_common_event() -> None:
    from auditkit.schema import _fast_normalize

    e = make_events(1)[0]
    e["occurred_at"] = "2026-01-05T08:00:00.000000Z"
    assert _fast_normalize(e, NOW) == normalize_event(e, now=NOW)
    assert _fast_normalize(e, NOW) is not None
