"""The vectorised JSON lines equal the Python serialisation of the same frame."""

from __future__ import annotations

import orjson
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.api._ndjson import json_lines, ndjson_bytes
from auditkit.export import frame_to_events
from auditkit.frame import events_to_frame
from tests.conftest import make_events


def _expected(frame: pl.DataFrame) -> list[dict]:
    return [e for chunk in frame_to_events(frame) for e in chunk]


def _same(frame: pl.DataFrame) -> None:
    got = [orjson.loads(line) for line in json_lines(frame).to_list()]
    assert got == _expected(frame)
    text = ndjson_bytes(frame)
    assert [orjson.loads(x) for x in text.splitlines()] == got


def test_sample_events() -> None:
    _same(events_to_frame(make_events(300)))


def test_absent_fields_are_omitted_and_odd_text_escaped() -> None:
    events = [
        {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
         "actor": {"id": 'q"uote\\back\nline\u2028\x01é😀'}},
        {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:01Z", "action": "user.login",
         "actor": {"id": "u1", "roles": []}, "targets": [],
         "source": {"geo": {"lat": 1.5e-7, "lon": -0.0}}, "metadata": {"k": None, "n": [1, 2.5]},
         "changes": {"before": {}, "after": {"x": "y"}}},
        {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:02Z", "action": "doc.read",
         "actor": {"id": "u2", "email": "a@b.c"},
         "targets": [{"id": "t1"}, {"id": "t2", "type": "doc", "name": "N"}],
         "observer": {"region": "eu"}, "description": "", "session_id": "s"},
    ]  # fmt: skip
    _same(events_to_frame(events))


def test_empty_frame() -> None:
    frame = events_to_frame(make_events(1)).head(0)
    assert json_lines(frame).len() == 0
    assert ndjson_bytes(frame) == b""


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"id": st.text(min_size=1, max_size=8).filter(lambda s: s.strip() == s and s)},
            optional={
                "name": st.text(max_size=8),
                "email": st.text(max_size=8),
                "roles": st.lists(st.text(max_size=4), max_size=3),
            },
        ),
        min_size=1,
        max_size=5,
    ),
    st.dictionaries(
        st.text(max_size=5), st.none() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=5)
    ),
)
def test_any_text(actors: list[dict], metadata: dict) -> None:
    events = [
        {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
         "actor": a, "metadata": metadata, "description": a["id"]}
        for a in actors
    ]  # fmt: skip
    _same(events_to_frame(events))
