"""The records of a JSON fixture, for tests that write them out in another container
(Parquet, an envelope, flattened CSV) and compare what ingest makes of both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


def fixture_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON fixture: a document, an array, ``{"Records": [...]}`` or
    NDJSON."""
    data = path.read_bytes()
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return [orjson.loads(line) for line in data.splitlines() if line.strip()]
    if isinstance(doc, dict) and "Records" in doc:
        return list(doc["Records"])
    return doc if isinstance(doc, list) else [doc]


def stored_events(store: Any, *apart: str) -> list[dict[str, Any]]:
    """The store's events without ``received_at``, their metadata parsed and its keys
    ``apart`` (what an envelope or an export adds) moved out into keys of their own
    (``None`` where absent), so that the rest compares with the events of the plain
    records."""
    rows: list[dict[str, Any]] = store.load().drop("received_at").to_dicts()
    for row in rows:
        meta = orjson.loads(row["metadata"]) if row["metadata"] else {}
        for key in apart:
            row[key] = meta.pop(key, None)
        row["metadata"] = meta
    return rows
