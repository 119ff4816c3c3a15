"""Producers write an empty string for an absent value as often as ``null``: in an
optional field whose value is constrained (an outcome, a category, an actor type, an
IP address, a coordinate, the event id) an empty or blank string is absent, as
``null`` is, on the validation fast path as on the full rules; a required field that
is empty is still quarantined, naming file, line and field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.ingest.pipeline import ingest_files
from auditkit.schema import DEFAULTED_KEY, _fast_normalize, _full_normalize, normalize_event
from auditkit.store import Store

from .strategies import producer_events

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BASE: dict[str, Any] = {
    "event_id": "e1",
    "tenant_id": "acme",
    "occurred_at": "2026-03-01T10:00:00Z",
    "action": "user.login",
    "actor": {"id": "u1", "type": "user"},
}
#: where an empty string stands for an absent value: (path, ...) into the event
OPTIONAL = [
    ("outcome",),
    ("category",),
    ("event_id",),
    ("actor", "type"),
    ("source", "ip"),
    ("source", "geo", "lat"),
    ("source", "geo", "lon"),
]
BLANKS = ["", " ", "\t", " \r\n"]


def _with(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    at = out
    for key in path[:-1]:
        at = at.setdefault(key, {})
    at[path[-1]] = value
    return out


@pytest.mark.parametrize("path", OPTIONAL, ids=".".join)
@pytest.mark.parametrize("blank", BLANKS, ids=repr)
def test_a_blank_optional_value_is_absent_on_both_paths(path: tuple[str, ...], blank: str) -> None:
    event = _with(BASE, path, blank)
    absent = _with(BASE, path, None)
    expected = _full_normalize(absent, NOW)
    fast = _fast_normalize(event, NOW)
    assert fast is not None, "an empty string left the fast path"
    assert fast == expected
    assert _full_normalize(event, NOW) == expected
    assert normalize_event(event, now=NOW) == expected


def test_a_blank_outcome_is_a_default_and_marked_as_one() -> None:
    event = normalize_event({**BASE, "outcome": ""}, now=NOW)
    assert event["outcome"] == "success"
    assert event["metadata"][DEFAULTED_KEY] == ["outcome"]


@given(producer_events(), st.sampled_from(OPTIONAL), st.sampled_from(BLANKS))
@settings(max_examples=300, deadline=None)
def test_producer_events_with_blanks_stay_on_the_fast_path(
    event: dict[str, Any], path: tuple[str, ...], blank: str
) -> None:
    if path[0] in ("actor", "source") and event.get(path[0]) is None and len(path) > 1:
        event = {**event, path[0]: {"id": "u1"} if path[0] == "actor" else {}}
    if path[1:2] == ("geo",) and not isinstance(event["source"].get("geo"), dict):
        event = _with(event, ("source", "geo"), {})
    bent = _with(event, path, blank)
    fast = _fast_normalize(bent, NOW)
    assert fast is not None, bent
    assert fast == _full_normalize(bent, NOW) == _full_normalize(_with(event, path, None), NOW)


def _lines(*records: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def test_empty_strings_from_the_tester_are_stored(tmp_path: Path) -> None:
    """The records of the report: each was quarantined whole for one empty value."""
    records = [
        {**BASE, "event_id": "e1", "outcome": ""},
        {**BASE, "event_id": "e2", "actor": {"id": "u1", "type": ""}},
        {**BASE, "event_id": "e3", "source": {"ip": ""}},
        {**BASE, "event_id": "e4", "category": ""},
        {**BASE, "event_id": "e5", "source": {"geo": {"lat": "", "lon": " ", "city": "Oslo"}}},
        {**BASE, "event_id": "", "description": "no id"},
        {**BASE, "event_id": "e7", "source": {"ip": " ", "user_agent": "curl"}},
    ]
    path = tmp_path / "empties.ndjson"
    path.write_bytes(_lines(*records))
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path])
    assert [p.reason for p in result.problems] == []
    assert (result.stored, result.quarantined) == (7, 0)
    frame = store.load().sort("seq")
    assert frame["outcome"].to_list()[:2] == ["success", "success"]
    assert frame["category"].to_list()[3] == "management"
    assert frame["source_ip"].to_list() == [None] * 7
    assert frame["geo_city"].to_list()[4] == "Oslo"
    assert frame["user_agent"].to_list()[6] == "curl"
    # the same records with null instead of "" give the same stored events
    nulls = [orjson.loads(orjson.dumps(r).replace(b'""', b"null")) for r in records]
    again = tmp_path / "nulls.ndjson"
    again.write_bytes(_lines(*nulls).replace(b'" "', b"null"))
    assert ingest_files(store, [again]).duplicates == 7


@pytest.mark.parametrize(
    ("field", "event"),
    [
        ("tenant_id", {**BASE, "tenant_id": ""}),
        ("tenant_id", {**BASE, "tenant_id": "  "}),
        ("occurred_at", {**BASE, "occurred_at": ""}),
        ("occurred_at", {**BASE, "occurred_at": " "}),
        ("action", {**BASE, "action": ""}),
        ("action", {**BASE, "action": "\t"}),
        ("actor.id", {**BASE, "actor": {"id": "", "type": "user"}}),
        ("actor.id", {**BASE, "actor": {"id": " "}}),
    ],
)
def test_an_empty_required_field_is_quarantined_naming_it(
    tmp_path: Path, field: str, event: dict[str, Any]
) -> None:
    path = tmp_path / "e.ndjson"
    path.write_bytes(_lines({**BASE, "event_id": "ok"}, event))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.stored, result.quarantined) == (1, 1)
    problem = result.problems[0]
    assert (problem.file, problem.line, problem.field) == (str(path), 2, field)
    assert problem.reason == f"field '{field}': required field is empty"


def test_blank_csv_cells_are_absent_too(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "tenant_id,occurred_at,action,actor.id,actor.type,outcome,category,source.ip\n"
        "acme,2026-03-01T10:00:00Z,user.login,u1, , ,  , \n"
        "acme,2026-03-01T10:00:00Z, ,u1,,,,\n"
    )
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.stored, result.quarantined) == (1, 1)
    assert (result.problems[0].line, result.problems[0].reason) == (
        3,
        "field 'action': required field is empty",
    )
