"""The pure filter logic: FilterState -> Polars expression."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from auditkit.frame import events_to_frame
from auditkit.widgets import FilterState, add_search_columns, search_terms

EVENTS = [
    {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
     "outcome": "failure", "actor": {"id": "u-1", "name": "Ann Lee", "email": "ann@acme.example"},
     "description": "Ann Lee failed to sign in",
     "metadata": {"failure_reason": "Invalid_Password"}},
    {"tenant_id": "acme", "occurred_at": "2026-01-06T10:00:00Z", "action": "document.export",
     "actor": {"id": "u-2", "name": "Bob Roe"}, "description": "Bob exported \"Q1 plan\""},
    {"tenant_id": "globex", "occurred_at": "2026-01-07T11:00:00Z", "action": "role.grant",
     "outcome": "denied", "actor": {"id": "svc-9", "type": "service"},
     "metadata": {"role": "admin"}},
    {"tenant_id": "globex", "occurred_at": "2026-01-08T12:00:00Z", "action": "job.run",
     "actor": {"id": "system"}},
]  # fmt: skip


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return events_to_frame(EVENTS)


def _ids(frame: pl.DataFrame, state: FilterState) -> list[str]:
    return frame.filter(state.to_expr())["actor_id"].to_list()


@pytest.mark.parametrize(("state", "expected"), [
    (FilterState(), ["u-1", "u-2", "svc-9", "system"]),
    (FilterState(tenants=["globex"]), ["svc-9", "system"]),
    (FilterState(tenants="acme"), ["u-1", "u-2"]),
    (FilterState(categories=["admin", "system"]), ["svc-9", "system"]),
    (FilterState(actions=["document.export"]), ["u-2"]),
    (FilterState(outcomes=["failure", "denied"]), ["u-1", "svc-9"]),
    (FilterState(actor="LEE"), ["u-1"]),
    (FilterState(actor="acme.example"), ["u-1"]),
    (FilterState(actor="svc"), ["svc-9"]),
    (FilterState(text="invalid_password"), ["u-1"]),
    (FilterState(text="admin"), ["svc-9"]),
    (FilterState(text='"q1 plan"'), ["u-2"]),
    (FilterState(text="bob plan"), ["u-2"]),
    (FilterState(text="bob admin"), []),
    (FilterState(start="2026-01-06", end="2026-01-08"), ["u-2", "svc-9"]),
    (FilterState(start=date(2026, 1, 7)), ["svc-9", "system"]),
    (FilterState(end=datetime(2026, 1, 5, 9, 0, 1)), ["u-1"]),
    (FilterState(tenants=["acme"], outcomes=["success"], text="exported"), ["u-2"]),
])  # fmt: skip
def test_each_filter(frame: pl.DataFrame, state: FilterState, expected: list[str]) -> None:
    assert _ids(frame, state) == expected
    fast = add_search_columns(frame).filter(state.to_expr(search_columns=True))
    assert fast["actor_id"].to_list() == expected


def test_text_does_not_match_across_columns(frame: pl.DataFrame) -> None:
    # "sign in" + metadata must not join into a phrase spanning description and metadata
    assert _ids(frame, FilterState(text='"sign in{"')) == []
    fast = add_search_columns(frame).filter(
        FilterState(text='"sign in{"').to_expr(search_columns=True)
    )
    assert fast.height == 0


def test_regex_characters_are_literal(frame: pl.DataFrame) -> None:
    assert _ids(frame, FilterState(text="(q1")) == []
    assert _ids(frame, FilterState(actor="u-.")) == []


def test_state_normalises_its_input() -> None:
    s = FilterState(tenants=["acme", "acme", ""], actor="  ann ", start="2026-01-05T10:00:00+02:00")
    assert s.tenants == ("acme",)
    assert s.actor == "ann"
    assert s.start == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert FilterState(start=datetime(2026, 1, 5)).start == datetime(2026, 1, 5, tzinfo=UTC)
    assert FilterState(tenants=[""]).is_empty
    assert hash(s) == hash(s.replace())


def test_search_terms() -> None:
    assert search_terms('a "B c"  d') == ["a", "b c", "d"]
    assert search_terms('"unclosed') == ['"unclosed']


def test_describe() -> None:
    s = FilterState(
        tenants=["acme"], start="2026-01-05", end="2026-02-01", actor="ann", outcomes=["failure"]
    )
    assert s.describe() == (
        "from 2026-01-05 00:00 · before 2026-02-01 00:00 · tenant acme · "
        "outcome failure · actor 'ann'"
    )


WORDS = st.sampled_from(["sign", "in", "export", "admin", "acme", "u-", "role", "é", "Q1", ""])


@settings(max_examples=60, deadline=None)
@given(
    tenants=st.lists(st.sampled_from(["acme", "globex", "initech"]), max_size=2),
    categories=st.lists(st.sampled_from(["management", "user", "admin", "system"]), max_size=2),
    outcomes=st.lists(st.sampled_from(["success", "failure", "denied", "error"]), max_size=2),
    actor=WORDS,
    text=st.lists(WORDS, max_size=2).map(" ".join),
    day=st.integers(0, 14),
)
def test_fast_and_portable_expressions_agree(
    sample_frame: pl.DataFrame,
    tenants: list[str],
    categories: list[str],
    outcomes: list[str],
    actor: str,
    text: str,
    day: int,
) -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC).replace(day=5 + day % 10) if day else None
    state = FilterState(
        tenants=tenants,
        categories=categories,
        outcomes=outcomes,
        actor=actor,
        text=text,
        start=start,
    )
    portable = sample_frame.filter(state.to_expr())
    fast = add_search_columns(sample_frame).filter(state.to_expr(search_columns=True))
    assert_frame_equal(portable, fast.drop("_actor_lc", "_text_lc"))
