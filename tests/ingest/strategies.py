"""Hypothesis strategies for canonical events as real producers write them:
``null`` for absent optional fields, empty strings and lists, UTC times with
milliseconds or ``+00:00``, IPv6 callers, free metadata, many tenants.

``producer_events()`` makes valid events; ``damaged_events()`` takes one of them
and breaks or bends one field (a wrong type, an unknown key, a blank id, a time
without zone, an integral float...), valid or not.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

TENANTS = [f"org-{i:02d}" for i in range(12)]
ids = st.text("abcdef0123456789-", min_size=1, max_size=12)
texts = st.sampled_from(["", " ", "Alice", "Zoë Müller", 'a"b', "line\nbreak", "x" * 40])
maybe = st.none() | texts


@st.composite
def times(draw: st.DrawFn) -> str:
    day = draw(st.integers(1, 28))
    hour, minute, second = (
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )
    base = f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    digits = draw(st.integers(0, 6))
    fraction = (
        "."
        + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
        if digits
        else ""
    )
    return base + fraction + draw(st.sampled_from(["Z", "+00:00"]))


free_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(-1e6, 1e6) | texts,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "tags", "n"]), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def producer_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid canonical event with a producer's habits."""
    geo = draw(
        st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "country": maybe,
                "city": maybe,
                "lat": st.none() | st.floats(-90, 90) | st.integers(-90, 90),
                "lon": st.none() | st.floats(-180, 180) | st.sampled_from([-83.0, 13.0, 0.0]),
            },
        )
    )
    event: dict[str, Any] = {
        "tenant_id": draw(st.sampled_from(TENANTS)),
        "occurred_at": draw(times()),
        "action": draw(
            st.sampled_from(["user.login", "repository.clone", "role.grant", "job.run"])
        ),
        "actor": draw(
            st.fixed_dictionaries(
                {"id": ids},
                optional={
                    "type": st.none() | st.sampled_from(["user", "service", "api_key", "system"]),
                    "name": maybe,
                    "email": maybe,
                    "roles": st.none()
                    | st.lists(st.sampled_from(["dev", "admin", ""]), max_size=2),
                },
            )
        ),
    }
    optional = {
        "event_id": st.none() | ids,
        "category": st.none() | st.sampled_from(["management", "user", "admin", "system"]),
        "outcome": st.none() | st.sampled_from(["success", "failure", "denied", "error"]),
        "targets": st.none()
        | st.lists(
            st.fixed_dictionaries({"id": ids}, optional={"type": maybe, "name": maybe}), max_size=2
        ),
        "source": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "ip": st.none() | st.sampled_from(["198.51.100.7", "2001:db8::1", "10.0.0.255"]),
                "user_agent": maybe,
                "geo": st.just(geo),
            },
        ),
        "observer": st.none()
        | st.fixed_dictionaries({}, optional={"service": maybe, "version": maybe, "region": maybe}),
        "request_id": maybe,
        "session_id": maybe,
        "description": maybe,
        "changes": st.none()
        | st.fixed_dictionaries({}, optional={"before": free_json, "after": free_json}),
        "metadata": st.none()
        | st.dictionaries(
            st.sampled_from(["trace", "client", "tags", "note"]), free_json, max_size=4
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            event[key] = draw(strategy)
    return event


BENDS: list[tuple[str, Any]] = [
    ("occurred_at", "2026-03-01 10:00:00.123"),
    ("occurred_at", "2026-03-01T10:00:00.1234567Z"),
    ("occurred_at", "2026-03-01T10:00:00+01:00"),
    ("occurred_at", "2026-02-30T10:00:00Z"),
    ("occurred_at", 1700000000),
    ("tenant_id", ""),
    ("tenant_id", " "),
    ("tenant_id", None),
    ("action", "Login"),
    ("actor", "u-1"),
    ("actor", {"id": " "}),
    ("actor", {"id": "u", "nickname": None}),
    ("actor", {"id": "u", "roles": [1]}),
    ("targets", {"id": "t"}),
    ("targets", [{"id": ""}]),
    ("targets", [{"id": "t", "owner": None}]),
    ("source", {"ip": "::ffff:1.2.3.4"}),
    ("source", {"ip": "300.1.1.1"}),
    ("source", {"geo": {"lat": 91.0}}),
    ("source", {"geo": {"lat": 12.0}}),
    ("source", {}),
    ("observer", {}),
    ("observer", {"service": 3}),
    ("session_id", 12),
    ("description", ["x"]),
    ("changes", {"before": None}),
    ("changes", {"during": 1}),
    ("metadata", {}),
    ("metadata", {"n": 2**60}),
    ("metadata", {"x": float("nan")}),
    ("metadata", []),
    ("seq", 3),
    ("junk", None),
    ("junk", 1),
]


@st.composite
def damaged_events(draw: st.DrawFn) -> dict[str, Any]:
    """A producer event with one field bent or broken (valid or not)."""
    event = draw(producer_events())
    key, value = draw(st.sampled_from(BENDS))
    return {**event, key: value}


def _children(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
    _children,
    max_leaves=8,
)
#: any small JSON object (any keys, nested values, 64-bit integers): a record an
#: envelope may hold
json_records = st.dictionaries(st.text(min_size=1, max_size=8), _VALUES, min_size=1, max_size=5)
