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
