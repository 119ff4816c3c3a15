"""An event frame written out (``auditkit query ... -o x.csv|ndjson|json|parquet``, a
frame saved by a data team) reads back: its columns (``actor_id``, ``geo_lat``,
``actor_roles``) are the canonical fields they hold.  Every row of the CSV was
quarantined as "unknown field(s)", and the JSON files were of unknown format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

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


@pytest.mark.parametrize("suffix", ["csv", "ndjson", "json", "parquet"])
def test_a_query_written_out_comes_back(tmp_path: Path, suffix: str) -> None:
    events = make_events(30)
    events[4]["source"] = {"ip": "192.0.2.9", "geo": {"country": "NO", "lat": 59.91, "lon": 10.75}}
    events[5]["actor"]["roles"] = ["admin", "=cmd|' /C calc'!A0"]  # guarded in the CSV
    events[6]["targets"] = [{"id": "d1", "type": "doc", "name": "Q3 plan"}, {"id": "d2"}]
    events[7]["metadata"] = {"ticket": "CHG-1"}
    source = Store.init(str(tmp_path / "a.db"))
    source.append(events)
    out = tmp_path / f"q.{suffix}"
    subprocess.run(
        [sys.executable, "-m", "auditkit", "query", str(tmp_path / "a.db"),
         "SELECT * FROM events", "-o", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    again = Store.init(str(tmp_path / "b.db"))
    result = ingest_files(again, [out])
    assert (result.read, result.stored, result.quarantined) == (30, 30, 0)
    assert _events(again) == _events(source)


def test_a_frame_column_that_contradicts_its_object_is_refused(tmp_path: Path) -> None:
    """``source_ip`` beside ``source.ip``: the same value is one field; another value is
    a contradiction, quarantined naming the object, never one of them chosen."""
    base = make_events(2)
    base[0]["source"] = {"ip": "192.0.2.1"}
    base[0]["source_ip"] = "192.0.2.1"
    base[1]["source"] = {"ip": "192.0.2.1"}
    base[1]["source_ip"] = "198.51.100.9"
    path = tmp_path / "e.ndjson"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in base))
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path])
    assert (result.stored, result.quarantined) == (1, 1)
    assert result.problems[0].field == "source"
    assert "source.ip is given twice" in result.problems[0].reason
    assert store.load().get_column("source_ip").to_list() == ["192.0.2.1"]
