"""The canonical auditkit format: NDJSON (or a JSON array) of canonical events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditkit.ingest._base import RawRecord
from auditkit.ingest._mapping import canonical_zone
from auditkit.ingest._parquet import FRAME_KEYS as _FRAME_KEYS
from auditkit.ingest._parquet import frame_row_event
from auditkit.ingest._readers_extra import iter_json_auto, json_layout
from auditkit.ingest.registry import register


class CanonicalFormat:
    """Canonical events, one JSON object per line (``.ndjson``, ``.jsonl``, gzip ok).

    Examples
    --------
    >>> CanonicalFormat().sniff(b'{"tenant_id":"a","action":"user.login","actor":{}}', "x")
    90
    """

    name = "auditkit"
    description = "canonical auditkit events as NDJSON (or a JSON array), gzip or not"

    def __init__(self, *, assume_utc: bool = False) -> None:
        #: read ``occurred_at`` without a zone as UTC (``--assume-utc``), noting it
        self.assume_utc = assume_utc

    def assuming_utc(self) -> CanonicalFormat:
        """This format, reading times without a zone as UTC (``--assume-utc``)."""
        return type(self)(assume_utc=True)

    def sniff(self, head: bytes, path: str) -> int:
        text = head.lstrip()[:4096]
        if not text.startswith((b"{", b"[")):
            return 0
        if b'"tenant_id"' in text and b'"action"' in text and b'"actor"' in text:
            return 90
        if b'"tenant_id"' in text and b'"action"' in text and b'"actor_id"' in text:
            return 85  # an event frame's rows (auditkit query -o x.ndjson)
        return 0

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's events: one a line, a JSON array, or objects pretty-printed one
        after another (``jq '.[]'``) or alone (:func:`iter_json_auto`)."""
        return iter_json_auto(path)

    def ndjson(self, path: str) -> bool:
        """Whether ``path`` holds one record per line (a parallel ingest splits it)."""
        return json_layout(path) == "ndjson"

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """The canonical event of ``record``: as it is, or, for a row of an event frame
        (``actor_id``, ``source_ip``, ``geo_lat``, ...), the event that row holds.

        >>> CanonicalFormat().to_event({"tenant_id": "a", "actor_id": "u1",
        ...     "occurred_at": "2026-01-05T09:00:00Z", "action": "x.y"}, tenant=None)
        {'tenant_id': 'a', 'occurred_at': '2026-01-05T09:00:00Z', 'action': 'x.y', 'actor': {'id': 'u1'}}
        """  # noqa: E501
        if isinstance(record, dict) and not _FRAME_KEYS.isdisjoint(record):
            record = frame_row_event(record)
        event = dict(record)
        if tenant is not None and "tenant_id" not in event:
            event["tenant_id"] = tenant
        return canonical_zone(event, assume_utc=self.assume_utc)


register(CanonicalFormat())
