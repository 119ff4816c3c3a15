"""Two records under one ``event_id`` with different content: the same event again is a
duplicate, another event under its id (a producer's bug, or a forgery slipped in after
the real one) is quarantined with both sides named; nothing is dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store


def _line(action: str, actor: str, eid: str = "dup1", when: str = "10:00:00") -> str:
    return json.dumps(
        {
            "event_id": eid,
            "tenant_id": "acme",
            "occurred_at": f"2026-03-01T{when}Z",
            "action": action,
            "actor": {"id": actor},
        }
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_another_event_under_a_held_id_is_quarantined(tmp_path: Path, workers: int) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    first = tmp_path / "first.ndjson"
    first.write_text(_line("user.login", "alice") + "\n" + _line("user.login", "bob", "e2") + "\n")
    assert ingest_files(store, [first], workers=workers).stored == 2
    later = tmp_path / "later.ndjson"
    later.write_text(
        "\n".join(
            [
                _line("user.login", "alice"),  # the same event again
                _line("user.delete", "mallory"),  # another one under its id
                _line("user.login", "bob", "e2", when="11:00:00"),  # moved in time
                _line("user.login", "carol", "e3"),
                _line("user.logout", "carol", "e3"),  # conflicts within the input
            ]
        )
        + "\n"
    )
    result = ingest_files(store, [later], workers=workers)
    assert (result.stored, result.duplicates, result.quarantined) == (1, 1, 3)
    assert result.balanced
    reasons = {q.line: q.reason for q in result.problems}
    assert set(reasons) == {2, 3, 5}
    assert "is stored with other content (user.login by 'alice'" in reasons[2]
    assert "this record (user.delete by 'mallory'" in reasons[2]
    assert "came earlier in this input" in reasons[5]
    kept = json.loads(next(q for q in result.problems if q.line == 2).record)
    assert kept["action"] == "user.delete" and kept["actor"]["id"] == "mallory"
    assert {q.field for q in result.problems} == {"event_id"}
    assert store.count("acme") == 3
    assert store.verify().ok
