"""An ingest gives the same result whether events take the validation fast path
or the full rules: the same events stored (same rows, same canonical bytes and
leaf hashes), the same duplicates, the same quarantined records with the same
file, line, field and reason."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import auditkit.schema
from auditkit.ingest.pipeline import IngestResult, ingest_files
from auditkit.record import STORED_COLUMNS
from auditkit.store import Store

from .strategies import damaged_events, producer_events

_runs = itertools.count()

lines = st.one_of(
    producer_events().map(orjson.dumps),
    damaged_events().map(lambda e: orjson.dumps(e, default=str)),
    st.sampled_from([b"{not json", b"[1, 2]", b"null", b'"text"', b""]),
)


def _ingest(folder: Path, data: bytes, *, fast: bool, monkeypatch: Any) -> tuple[Any, ...]:
    folder.mkdir()
    path = folder.parent / "events.ndjson"
    path.write_bytes(data)
    store = Store.init(str(folder / "a.db"))
    with monkeypatch.context() as m:
        if not fast:  # every event takes the full rules
            m.setattr(auditkit.schema, "_fast_normalize", lambda *a, **k: None)
        result: IngestResult = ingest_files(store, [path], workers=1)
    con = sqlite3.connect(folder / "a.db")
    columns = ", ".join(c for c in STORED_COLUMNS if c != "received_at")
    rows = con.execute(f"SELECT {columns} FROM events ORDER BY tenant_id, seq").fetchall()
    quarantine = con.execute(
        "SELECT file, line, location, field, reason, record FROM quarantine ORDER BY id"
    ).fetchall()
    con.close()
    assert result.balanced
    report = store.verify()
    assert report.ok, report
    problems = [p.to_dict() for p in result.problems]
    counts = (result.read, result.stored, result.duplicates, result.quarantined)
    return counts, problems, rows, quarantine


@given(st.lists(lines, min_size=1, max_size=25), st.data())
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fast_and_full_paths_ingest_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: list[bytes], data: st.DataObject
) -> None:
    # repeat some lines: duplicates by event id
    repeats = data.draw(st.lists(st.sampled_from(records), max_size=3))
    payload = b"\n".join([*records, *repeats]) + b"\n"
    run = tmp_path / f"run{next(_runs)}"
    run.mkdir()
    fast = _ingest(run / "fast", payload, fast=True, monkeypatch=monkeypatch)
    full = _ingest(run / "full", payload, fast=False, monkeypatch=monkeypatch)
    assert fast == full
