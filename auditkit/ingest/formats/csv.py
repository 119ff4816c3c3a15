"""Canonical events as CSV: the canonical field names as columns.

Nested fields are dotted columns (``actor.id``, ``source.geo.country``) or a
column holding JSON (``actor``, ``targets``, ``metadata``); ``actor.roles``
may be ``a;b``.  Empty cells count as absent.  This is also what
``auditkit export --format csv`` writes.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any, Final

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import RawRecord
from auditkit.ingest._mapping import canonical_zone, dotted_parent
from auditkit.ingest._readers import csv_delimiter, iter_csv, loads_json, read_head
from auditkit.ingest.registry import register, siem_reason

_JSON_COLUMNS = frozenset(
    ("actor", "targets", "source", "observer", "changes", "metadata", "actor.roles", "source.geo")
)
#: the actor's columns: JSON, dotted, or an event frame's; with ``occurred_at`` and
#: ``action``, what a header needs to be told as canonical (the tenant may be --tenant)
_ACTOR_COLUMNS = frozenset(("actor", "actor.id", "actor_id"))
_NUMBERS = frozenset(("source.geo.lat", "source.geo.lon"))
#: a coordinate with a decimal comma (``48,85``): no thousands separator fits a coordinate
_DECIMAL_COMMA = re.compile(r"[+-]?\d{1,3},\d+")


def _unescape(cell: str) -> str:
    # exports prefix a quote to cells that a spreadsheet would run as a formula (also
    # to cells that already started with quotes before a formula character)
    if cell[:1] == "'" and _GUARDED.match(cell):
        return cell[1:]
    return cell


_GUARDED = re.compile(r"'+[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]")


#: the columns of an event frame (``auditkit query -o x.csv``, ``store.load()`` saved
#: as CSV) by the canonical field each holds
_FRAME_COLUMNS: Final = {
    "actor_id": "actor.id",
    "actor_type": "actor.type",
    "actor_name": "actor.name",
    "actor_email": "actor.email",
    "actor_roles": "actor.roles",
    "source_ip": "source.ip",
    "user_agent": "source.user_agent",
    "geo_country": "source.geo.country",
    "geo_city": "source.geo.city",
    "geo_lat": "source.geo.lat",
    "geo_lon": "source.geo.lon",
    "observer_service": "observer.service",
    "observer_version": "observer.version",
    "observer_region": "observer.region",
}


def row_to_event(row: dict[str, str]) -> dict[str, Any]:
    """Turn one CSV row (dotted or JSON columns, or an event frame's columns) into an
    event mapping.  A frame's ``target_id`` and ``target_type`` are its first target's:
    they make ``targets`` only when that column is absent or empty.

    Examples
    --------
    >>> event = row_to_event({"tenant_id": "a", "actor.id": "u1", "actor.roles": "admin;dev",
    ...                       "source.geo.lat": "52.5", "description": ""})
    >>> event["actor"], event["source"]
    ({'id': 'u1', 'roles': ['admin', 'dev']}, {'geo': {'lat': 52.5}})
    >>> row_to_event({"source.geo.lon": "-2,35"})["source"]  # a decimal comma (Excel)
    {'geo': {'lon': -2.35}}
    >>> row_to_event({"actor_id": "u1", "actor_roles": '["admin"]', "geo_lat": "1.5",
    ...               "target_id": "d1", "target_type": "doc"})  # an event frame's columns
    ... # doctest: +NORMALIZE_WHITESPACE
    {'actor': {'id': 'u1', 'roles': ['admin']}, 'source': {'geo': {'lat': 1.5}},
     'targets': [{'id': 'd1', 'type': 'doc'}]}
    """
    event: dict[str, Any] = {}
    target: dict[str, str] = {}
    for name, raw in row.items():
        if raw is None or raw == "":
            continue
        if name in ("target_id", "target_type"):
            target[name[7:]] = _unescape(raw)
            continue
        column = _FRAME_COLUMNS.get(name, name)
        cell = _unescape(raw)
        value: Any = cell
        if column in _JSON_COLUMNS and cell[:1] in "{[":
            try:
                value = loads_json(cell)
            except orjson.JSONDecodeError as exc:
                raise SchemaError(
                    f"expected JSON, got invalid JSON ({exc.msg})", field=column
                ) from None
        elif column == "actor.roles":
            value = [r for r in cell.split(";") if r]
        elif column in _NUMBERS:
            if _DECIMAL_COMMA.fullmatch(cell):  # Excel where the decimal mark is a comma
                cell = cell.replace(",", ".")
            try:
                value = float(cell)
            except ValueError:
                raise SchemaError(f"expected a number, got {cell!r}", field=column) from None
        elif column == "targets":
            raise SchemaError("expected a JSON list of targets", field=column)
        parent, key = dotted_parent(event, column)
        if key in parent and parent[key] != value:  # actor_id beside a different actor.id
            raise SchemaError(f"{column} is given twice, with different values", field=name)
        parent[key] = value
    if target and "targets" not in event:
        event["targets"] = [target]
    return event


def _header(first: bytes) -> list[str] | None:
    """The column names of a header line, or ``None`` when it is no CSV line."""
    text_ = first.decode("utf-8", "replace").rstrip("\r")
    try:
        header = next(csv.reader([text_], delimiter=csv_delimiter(text_)), [])
    except csv.Error:
        return None
    return [c.strip() for c in header]


def canonical_header(columns: list[str]) -> bool:
    """Whether a CSV header has a canonical event's shape: ``occurred_at``, ``action``
    and the actor (``actor.id``, ``actor_id`` or ``actor``).  Another tool's CSV with
    an ``action`` or ``actor`` column (a home-grown log, GitHub's audit log export)
    does not: it is a file of unknown format, told as such with the advice to write a
    mapping file, rather than a canonical CSV whose every row would be refused.

    >>> canonical_header(["tenant_id", "occurred_at", "action", "actor.id", "note"])
    True
    >>> canonical_header(["@timestamp", "action", "actor", "actor_id", "created_at"])
    False
    """
    names = set(columns)
    return "occurred_at" in names and "action" in names and not names.isdisjoint(_ACTOR_COLUMNS)


class CsvFormat:
    """Canonical events as CSV with a header row.

    Examples
    --------
    >>> CsvFormat().sniff(b"event_id,tenant_id,occurred_at,action,actor.id\\n", "e.csv")
    99
    >>> CsvFormat().sniff(b"timestamp,user,action,tenant_id\\n", "e.csv")  # not canonical
    0
    """

    name = "csv"
    description = "canonical events as CSV (dotted or JSON columns for nested fields)"

    def __init__(self, *, assume_utc: bool = False) -> None:
        #: read ``occurred_at`` without a zone as UTC (``--assume-utc``), noting it
        self.assume_utc = assume_utc

    def assuming_utc(self) -> CsvFormat:
        """This format, reading times without a zone as UTC (``--assume-utc``)."""
        return type(self)(assume_utc=True)

    def sniff(self, head: bytes, path: str) -> int:
        first = head.split(b"\n", 1)[0]
        if first.lstrip()[:1] in (b"{", b"["):  # JSON, whatever names it holds
            return 0
        if b"occurred_at" not in first or b"action" not in first:
            return 0
        # only a header of a canonical event's shape: a CSV of other columns (a home-grown
        # log, another tool's export, syslog lines) is not claimed, and is told as unknown
        columns = _header(first)
        if columns is None or not canonical_header(columns):
            return 0
        if "tenant_id" in columns:
            # above every source format's: an export of their events keeps the source
            # record in its metadata column, where their field names show through
            return 99
        return 10 if path.lower().endswith((".csv", ".csv.gz")) else 0

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's rows; a file of syslog, CEF or LEEF lines (``--format csv`` on an
        export auditkit does not read back) is refused whole, saying what it holds,
        rather than its first line taken for a header."""
        siem = siem_reason(read_head(path, 4096))
        if siem is not None:
            raise SchemaError(siem, file=path)
        return iter_csv(path)

    def tenant_needed(self, path: str) -> str | None:
        """Without a ``tenant_id`` column no row carries a tenant: ``--tenant`` is needed.

        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "e.csv")
        >>> _ = open(p, "w").write("occurred_at;action;actor.id\\n")
        >>> CsvFormat().tenant_needed(p)
        'the CSV has no tenant_id column; pass --tenant NAME'
        >>> _ = open(p, "w").write('occurred_at,"tenant_id",action\\n')
        >>> CsvFormat().tenant_needed(p) is None
        True
        """
        head = read_head(path)
        first = head.split(b"\n", 1)[0]
        if not first.strip() or siem_reason(head) is not None:
            return None  # unreadable, empty or no CSV: the reader says why
        header = _header(first)
        if header is None or "tenant_id" in header:
            return None
        return "the CSV has no tenant_id column; pass --tenant NAME"

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        event = row_to_event(record)
        if tenant is not None and "tenant_id" not in event:
            event["tenant_id"] = tenant
        return canonical_zone(event, assume_utc=self.assume_utc)


register(CsvFormat())
