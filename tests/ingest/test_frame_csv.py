"""An event frame written as CSV (``auditkit query ... -o x.csv``, a frame saved by a
data team) reads back: its columns (``actor_id``, ``geo_lat``, ``actor_roles`` as JSON)
are the canonical fields they hold.  Every row was quarantined as "unknown field(s)"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events


def _events(store: Store) -> list[dict[str, object]]:
    rows = store.load().drop("received_at", "seq").to_dicts()
    for row in rows:
        meta = orjson.loads(row["metadata"]) if row["metadata"] else {}
        meta.pop("imported", None)
        row["metadata"] = meta or None
    return rows


def test_a_query_written_as_csv_comes_back(tmp_path: Path) -> None:
    events = make_events(30)
    events[4]["source"] = {"ip": "192.0.2.9", "geo": {"country": "NO", "lat": 59.91, "lon": 10.75}}
    events[5]["actor"]["roles"] = ["admin", "=cmd|' /C calc'!A0"]  # guarded in the CSV
    events[6]["targets"] = [{"id": "d1", "type": "doc", "name": "Q3 plan"}, {"id": "d2"}]
    events[7]["metadata"] = {"ticket": "CHG-1"}
    source = Store.init(str(tmp_path / "a.db"))
    source.append(events)
    out = tmp_path / "q.csv"
    subprocess.run(
        [sys.executable, "-m", "auditkit", "query", str(tmp_path / "a.db"),
         "SELECT * FROM events", "-o", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    again = Store.init(str(tmp_path / "b.db"))
    result = ingest_files(again, [out])
    assert (result.read, result.stored, result.quarantined) == (30, 30, 0)
    assert _events(again) == _events(source)
