"""What becomes of one input record: its event, prepared for the store, or a
:class:`QuarantinedRecord` saying where it came from and why it was not stored.

Shared by the single-process pipeline (:mod:`auditkit.ingest.pipeline`) and the
parser processes of a parallel ingest (:mod:`auditkit.ingest._parallel`), so
that both give the same outcome for the same record.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format, RawRecord
from auditkit.ingest._readers import dumps_json
from auditkit.record import PreparedEvent, prepare_event
from auditkit.schema import normalize_for_store

__all__ = ["QuarantinedRecord", "process_record", "quarantined", "read_records"]


@dataclass(frozen=True)
class QuarantinedRecord:
    """A record that was not stored, with where it came from and why."""

    file: str
    line: int | None
    location: str | None
    field: str | None
    reason: str
    record: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (one line of the quarantine file)."""
        return {
            "file": self.file,
            "line": self.line,
            "location": self.location,
            "field": self.field,
            "reason": self.reason,
            "record": self.record,
        }


def quarantined(rec: RawRecord, err: SchemaError) -> QuarantinedRecord:
    """``rec`` quarantined for ``err``: the reason without the file and line, which
    the record carries itself."""
    located = err.located(file=rec.file, line=rec.line if rec.line else None)
    where = f" ({rec.location})" if rec.location else ""
    reason = located.args[0]
    prefix = f"{rec.file} line {rec.line}: " if rec.line else f"{rec.file}: "
    if reason.startswith(prefix):
        reason = reason[len(prefix) :]
    text = rec.text
    if text is None and rec.value is not None:
        text = dumps_json(rec.value)
    return QuarantinedRecord(
        rec.file, rec.line or None, rec.location, err.field, reason + where, text
    )


def read_records(fmt: Format, path: str) -> Iterator[RawRecord]:
    """The records of ``path``; a file that cannot be read gives one record with its error."""
    try:
        yield from fmt.records(path)
    except SchemaError as exc:
        yield RawRecord(path, exc.line or 0, error=exc.located(file=path))
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        yield RawRecord(path, 0, error=SchemaError(f"cannot read the file: {exc}", file=path))


def process_record(
    fmt: Format, rec: RawRecord, tenant: str | None
) -> PreparedEvent | QuarantinedRecord:
    """One record read from a file: its event, validated and serialised for the
    store, or why it is quarantined."""
    if rec.error is not None:
        return quarantined(rec, rec.error)
    try:
        event, checked = normalize_for_store(fmt.to_event(rec.value, tenant=tenant))
        return prepare_event(event, checked=checked)
    except SchemaError as exc:
        return quarantined(rec, exc)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        return quarantined(
            rec,
            SchemaError(
                f"the {fmt.name} mapper could not read this record ({type(exc).__name__}: {exc})"
            ),
        )


def conflicting(
    conflicts: Sequence[tuple[int, str]],
    batch: Sequence[PreparedEvent],
    origins: Sequence[tuple[str, int, str | None]],
) -> list[QuarantinedRecord]:
    """The records an append did not store because their ``event_id`` is held with
    other content (:attr:`~auditkit.store.AppendResult.conflicts`), quarantined with
    where they came from and the event as read: nothing is lost.

    >>> from auditkit.record import prepare_event
    >>> from auditkit.schema import normalize_event
    >>> p = prepare_event(normalize_event({"tenant_id": "a", "event_id": "e1",
    ...     "occurred_at": "2026-01-05T09:00:00Z", "action": "user.delete", "actor": {"id": "m"}}))
    >>> q = conflicting([(0, "event_id 'e1' is stored with other content")], [p],
    ...                 [("in.ndjson", 7, None)])[0]
    >>> q.file, q.line, q.field, '"action":"user.delete"' in q.record
    ('in.ndjson', 7, 'event_id', True)
    """
    out = []
    for pos, why in conflicts:
        file, line, location = origins[pos]
        event = orjson.loads(batch[pos].finish(0, "1970-01-01T00:00:00.000000Z")[1])
        event.pop("seq", None)
        event.pop("received_at", None)  # the store's, not the producer's
        out.append(
            QuarantinedRecord(
                file, line or None, location, "event_id", why, orjson.dumps(event).decode()
            )
        )
    return out
