"""A file quarantined whole (a format not recognised, HTTP headers, a SIEM export) is one
quarantined record however many it holds: the summary says so, so that "read 1 records"
of a file of thousands does not read as a count of its records."""

from __future__ import annotations

from pathlib import Path

from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store


def test_a_file_quarantined_whole_is_said_to_be(tmp_path: Path) -> None:
    github = tmp_path / "other.json"
    github.write_text('[{"when": 1, "what": "x"}, {"when": 2, "what": "y"}]')
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [str(github)])
    assert result.quarantined == 1
    assert "1 file(s) quarantined whole, one record each" in result.summary()


def test_records_quarantined_one_by_one_are_not(tmp_path: Path) -> None:
    bad = tmp_path / "events.ndjson"
    bad.write_text(
        '{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",'
        ' "actor": {"id": "u"}}\n'
        '{"tenant_id": "acme", "occurred_at": "not a time", "action": "user.login",'
        ' "actor": {"id": "u"}}\n'
    )
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [str(bad)])
    assert (result.stored, result.quarantined) == (1, 1)
    assert "whole" not in result.summary()
