"""Small pages of a trail, verified record by record: the API's first pages.

A page of 50 events through :meth:`Store.load` pays for a general pass: reading
threads, Arrow, a Polars decode of the rows and another to write them as JSON,
about as much for 50 rows as for 5,000.  The viewer asks for such pages all the
time, many people at once, so this path does the same checks on the few rows
a page needs, in Python, and writes the API's JSON directly:

* the newest signed checkpoint, its signature and the authenticated tree (from
  the cache of :mod:`auditkit.store._verify`, grown to the signed size);
* the page's rows, found by the database in seq order with ``LIMIT`` (filters
  on ``action``, ``category``, ``outcome`` and ``actor_id``, columns no
  unredacted reader sees differently from the record); free text and a target
  are looked for by the database first, with a condition every matching row
  passes, then matched here exactly as the API's filter matches them on a frame
  (tested), on the next few thousand candidates at most (sparser matches are left
  to the general path, which filters whole windows in Polars);
* each row's canonical bytes rebuilt exactly as the append path made them, and
  their leaf hash compared with the authenticated leaf at its seq; every JSON
  column must hold exactly one JSON value (so that the same bytes cannot be
  split into other columns), the timestamps must be the store's own text, and
  ``actor_id`` must be the record's ``actor.id``;
* the range the page covers, as a ranged load checks it: rows outside the
  signed tree, seqs of the wrong type and rows missing from the range.

It declines (returns ``None``) whenever anything is not as a healthy store has
it, and the caller then takes the general path, which reports the problem with
its full diagnostics; it never answers a question it cannot prove.  It is not
for redacted readers (redaction works on frames).  A time range is applied by the
database like the other filters, once no record's ``occurred_at`` is other than text.

The JSON it writes is byte for byte what :func:`auditkit.api._ndjson.json_lines`
writes for the same events (tested): the frame's fields in DESIGN.md order.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import numpy as np
import orjson

from auditkit.errors import StoreError
from auditkit.record import STORED_COLUMNS, event_row
from auditkit.record import _row_as_event as row_as_event
from auditkit.schema import format_timestamp
from auditkit.store._reader import (
    MISTYPED_TIMES,
    OUTSIDE_TREE,
    window_condition,
    window_edge_seqs,
    window_edges_query,
)
from auditkit.store._tables import UNUSUAL
from auditkit.store._verify import NEWEST_CHECKPOINTS, TenantVerifier

if TYPE_CHECKING:
    from auditkit.store._reader import TrailReader
    from auditkit.store._trust import Trust
    from auditkit.store.store import Store

__all__ = ["JsonPage", "MATCHED", "json_page"]

#: Columns a fast page filters on in SQL (equal to one of the values given).
MATCHED: Final = ("action", "category", "outcome", "actor_id")
#: Pages larger than this take the general path (its fixed cost is then small).
MAX_ROWS: Final = 1000
#: A time range holding at most this many of the tenant's events is read through the
#: time index (then sorted by seq), a wider one along the primary key.
_NARROW: Final = 20_000
_TIMESTAMP: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
#: JSON columns and the character their one value must open with ("" any value).
_OPENERS: Final = (
    ("actor", "{"),
    ("targets", "["),
    ("source", "{"),
    ("observer", "{"),
    ("changes", ""),
    ("metadata", ""),
)
_STR: Final = (str,)
#: The frame's fields of each nested object, in the order the API writes them.
_ACTOR_KEYS: Final = ("id", "type", "name", "email", "roles")
_GEO_KEYS: Final = ("country", "city", "lat", "lon")
_OBSERVER_KEYS: Final = ("service", "version", "region")
_TARGET_KEYS: Final = ("id", "type", "name")
_SOURCE_KEYS: Final = ("ip", "user_agent", "geo")


@dataclass(frozen=True)
class JsonPage:
    """A verified page: its events as the API's JSON objects, and where to go on."""

    #: one ``bytes`` JSON object per event, in page order
    events: list[bytes]
    #: the last seq read in page order (``None``: no event)
    last_seq: int | None
    #: whether the page stopped at ``limit`` (more may match beyond it)
    full: bool
    #: the signed tree size the page was verified against
    tree_size: int
    #: each event's action (a page of access records only is not recorded again)
    actions: tuple[str, ...]


class _Decline(Exception):
    """Something is not as a healthy store has it: take the general path."""


def json_page(
    store: Store,
    tenant: str,
    *,
    match: Mapping[str, Sequence[str]] | None = None,
    start_seq: int | None = None,
    order: Literal["asc", "desc"] = "asc",
    limit: int = 100,
    start: datetime | None = None,
    end: datetime | None = None,
    text: str | None = None,
    target: str | None = None,
) -> JsonPage | None:
    """Up to ``limit`` events of ``tenant`` matching ``match``, occurring in
    ``[start, end)``, containing ``text`` and naming ``target``, from ``start_seq`` on
    (ascending) or before it (descending), verified; ``None`` to decline."""
    if store.backend.dialect != "sqlite" or not 0 < limit <= MAX_ROWS:
        return None
    wanted = {k: list(v) for k, v in (match or {}).items() if v}
    if any(k not in MATCHED or not all(isinstance(x, str) for x in v) for k, v in wanted.items()):
        return None
    span = tuple(None if t is None else format_timestamp(t) for t in (start, end))
    needle = None
    if text:
        if _unknown_case(text):
            return None
        needle = text.lower()
    picks = _Picks(needle, target or None)
    try:
        return _page(store, tenant, wanted, span, start_seq, order, limit, picks)
    except _Decline:
        return None


@dataclass(frozen=True)
class _Picks:
    """The filters applied to the rows in Python (as :class:`auditkit.api._query.
    EventFilter` applies them to a frame): free text and a target."""

    #: the free text, lower-cased
    needle: str | None
    target: str | None

    def __bool__(self) -> bool:
        return self.needle is not None or self.target is not None

    def sql(self) -> list[tuple[str, list[str]]]:
        """Conditions the database checks first, with their values: every row the
        picks keep passes them (a superset: the rows are then checked here).

        The free text is looked for with LIKE in the stored text of the columns it is
        matched in (the JSON of actor and targets holds the name and the ids as they
        are, when the text has no character that JSON escapes).
        """
        out: list[tuple[str, list[str]]] = []
        if self.needle is not None and _plain(self.needle):
            # LIKE ignores the case of ASCII letters (and allocates nothing); two other
            # characters lower-case to ASCII ones (KELVIN SIGN to k, and I WITH DOT
            # ABOVE to i and a dot): a row holding one passes too
            pattern = "%" + re.sub(r"([%_\\])", r"\\\1", self.needle) + "%"
            terms = [f"{c} LIKE ? ESCAPE '\\'" for c in _TEXT_COLUMNS]
            values = [pattern] * len(terms)
            # LIKE stops at a NUL character (instr does not): a row holding one passes
            terms += [f"instr({c}, char(0)) > 0" for c in _TEXT_COLUMNS]
            for char, lowered in _TO_ASCII.items():
                if lowered in self.needle:
                    terms += [f"instr({c}, ?) > 0" for c in _TEXT_COLUMNS]
                    values += [char] * len(_TEXT_COLUMNS)
            out.append((f"({' OR '.join(terms)})", values))
        if self.target is not None and _plain(self.target, ascii_only=False):
            out.append(("instr(targets, ?) > 0", [f'"{self.target}"']))
        return out

    def __call__(self, row: tuple[Any, ...]) -> bool:
        try:
            actor = orjson.loads(row[_ACTOR])
            targets = None if row[_TARGETS] is None else orjson.loads(row[_TARGETS])
        except orjson.JSONDecodeError:
            raise _Decline from None
        if not isinstance(actor, dict) or not isinstance(targets, list | None):
            raise _Decline
        if targets is not None and not all(isinstance(t, dict) for t in targets):
            raise _Decline
        first = targets[0].get("id") if targets else None
        name = actor.get("name")
        if not isinstance(first, str | None) or not isinstance(name, str | None):
            raise _Decline  # the frame would not have these as text
        if (
            self.target is not None
            and first != self.target
            and not any(t.get("id") == self.target for t in targets or ())
        ):
            return False
        if self.needle is not None:
            fields = (row[_ACTION], row[_ACTOR_ID], name, first, row[_DESCRIPTION])
            if not all(isinstance(f, str | None) for f in fields):
                raise _Decline
            hay = "\n".join(f or "" for f in fields)
            if _unknown_case(hay):
                raise _Decline
            return self.needle in hay.lower()
        return True


def _plain(text: str, *, ascii_only: bool = True) -> bool:
    """Whether ``text`` is written as it is inside a JSON string (no quote, backslash
    or control character, which JSON escapes), in ASCII unless ``ascii_only`` is
    false, and has no line break (the free text's fields are joined by one).

    >>> _plain("login"), _plain('a"b'), _plain("zoë"), _plain("zoë", ascii_only=False)
    (True, False, False, True)
    """
    if ascii_only and not text.isascii():
        return False
    return not any(c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _unknown_case(text: str) -> bool:
    """Whether ``text`` holds a character this Python's Unicode tables do not know
    (Polars, whose lower case the general path uses, may know it: Unicode 16 added
    case pairs that Python 3.11's tables lack)."""
    return not text.isascii() and any(unicodedata.category(c) == "Cn" for c in text)


#: The stored columns free text is matched in (the actor's name and the first target's
#: id inside the JSON of actor and targets).
_TEXT_COLUMNS: Final = ("action", "actor_id", "actor", "targets", "description")
#: The characters outside ASCII whose lower case holds an ASCII letter (there are two).
_TO_ASCII: Final = {"\u212a": "k", "\u0130": "i"}
_ACTION: Final = STORED_COLUMNS.index("action")
_ACTOR_ID: Final = STORED_COLUMNS.index("actor_id")
_ACTOR: Final = STORED_COLUMNS.index("actor")
_TARGETS: Final = STORED_COLUMNS.index("targets")
_DESCRIPTION: Final = STORED_COLUMNS.index("description")
#: Candidate rows (those passing the database's first look) a page with free text or a
#: target looks through for its matches before it leaves the search to the general
#: path (which filters whole windows in Polars).
_SCAN: Final = 4096


def _page(
    store: Store,
    tenant: str,
    match: dict[str, list[str]],
    span: tuple[str | None, ...],
    start_seq: int | None,
    order: str,
    limit: int,
    picks: _Picks,
) -> JsonPage:
    # one connection and one read transaction for everything: the integrity data,
    # the rows and the range's completeness are of the same moment (and a connection
    # costs more than most of these reads)
    reader = store._reader
    trust = store.trust()
    with store.backend.connect() as conn:  # strict UTF-8: text that is not declines
        cur = conn.cursor()
        try:
            reader._begin_read(cur)
            return _read(reader, cur, trust, tenant, match, span, start_seq, order, limit, picks)
        except (_Decline, StoreError):
            raise _Decline from None
        except Exception as exc:  # whatever the database answers that is not expected
            raise _Decline from exc
        finally:
            reader._end_read(conn, cur)


def _read(
    reader: TrailReader,
    cur: Any,
    trust: Trust,
    tenant: str,
    match: dict[str, list[str]],
    span: tuple[str | None, ...],
    start_seq: int | None,
    order: str,
    limit: int,
    picks: _Picks,
) -> JsonPage:
    snap = reader.snapshot_in(cur, tenant, tiles=False, newest=NEWEST_CHECKPOINTS)

    def tiles(first: int = 0) -> list[tuple[int, bytes]]:
        return reader._tiles(cur, tenant, first)

    verifier = TenantVerifier(snap, trust, tiles=tiles, store_id=reader.store_id)
    if verifier.cp is None or verifier.problems or not verifier.tiles_ok:
        raise _Decline
    verifier.check_tree_state()
    if verifier.problems or verifier.statements:
        raise _Decline  # purged or sealed (cold) ranges: the general path accounts for them
    size = verifier.size
    expected = verifier.expected
    assert expected is not None
    if order == "asc":
        lo, hi = min(max(start_seq or 0, 0), size), size
    else:
        lo, hi = 0, size if start_seq is None else min(max(start_seq, 0), size)
    if any(span):
        # a record whose occurred_at is not text would fall in or out of any time range
        # wrongly: found through the time index (numbers sort before text, BLOBs after)
        cur.execute(f"{MISTYPED_TIMES} LIMIT 1", (tenant, tenant, tenant))
        if cur.fetchall():
            raise _Decline
    rows = _rows(cur, tenant, match, span, lo, hi, order, limit, picks) if hi > lo else []
    full = len(rows) == limit
    if rows and full:
        edge = rows[-1][1]
        lo, hi = (lo, edge + 1) if order == "asc" else (edge, hi)
    out: list[bytes] = []
    actions: list[str] = []
    for row in rows:
        out.append(_checked(row, expected))
        actions.append(row[5])
    if any(span) and rows:
        # the rows among the page's seqs (and beside them) whose time is outside the
        # window: arrived late, or their time edited so that the page would not show
        # them; each must be the signed record (else the general path names it)
        first, until = span
        window = " AND ".join(
            c for c, v in (("occurred_at >= ?", first), ("occurred_at < ?", until)) if v
        )
        seqs = [r[1] for r in rows]
        cur.execute(
            f"SELECT {', '.join(STORED_COLUMNS)} FROM events WHERE tenant_id = ? AND seq >= ? "
            f"AND seq <= ? AND NOT ({window})",
            [tenant, max(min(seqs) - 1, 0), min(max(seqs) + 1, size - 1), *(v for v in span if v)],
        )
        late = cur.fetchmany(_OUTSIDE_CHECKED + 1)
        if len(late) > _OUTSIDE_CHECKED:
            raise _Decline  # a trail ingested far out of time order: the general path
        for row in late:
            _checked(tuple(row), expected)
    if any(span):
        # and the rows beside the window (a window whose every event was moved out of it
        # shows none of the above): see TrailReader.window_edges
        cur.execute(*window_edges_query("sqlite", tenant, *span))
        near = [s for s in window_edge_seqs(cur.fetchall()) if s < size]
        if near:
            inside = window_condition("sqlite", *span)
            cur.execute(
                f"SELECT {', '.join(STORED_COLUMNS)} FROM events WHERE tenant_id = ? "
                f"AND seq IN ({', '.join('?' * len(near))}) AND ({inside.sql}) IS NOT TRUE",
                [tenant, *near, *inside.params],
            )
            for row in cur.fetchall():
                _checked(tuple(row), expected)
    if hi > lo:
        # every seq of the range there: as many integer seqs as the range is long, and
        # the table's primary key makes them distinct (a table rebuilt without it could
        # hold one seq twice in place of a deleted one).  A row of another type (a
        # fractional seq) makes the page decline too.  Then rows outside the tree, by
        # key seeks
        if not _unique_seqs(cur):
            raise _Decline
        # (the sum of integers is an integer; one REAL in it makes it a REAL: cheaper
        # than asking each row's type)
        cur.execute(
            "SELECT COUNT(*), typeof(SUM(seq)) FROM events WHERE tenant_id = ? AND seq >= ? "
            "AND seq < ?",
            (tenant, lo, hi),
        )
        count, kind = cur.fetchone()
        if int(count) != hi - lo or kind != "integer":
            raise _Decline  # rows missing from the range, or of another type
    outside = " UNION ALL ".join(f"SELECT 1 FROM events WHERE {c}" for c in OUTSIDE_TREE)
    cur.execute(f"{outside} LIMIT 1", (tenant, tenant, tenant, size))
    if cur.fetchall():
        raise _Decline  # forged rows outside the signed tree (appends sign in the same
        # transaction as their rows, so none is merely newer than this snapshot)
    last = rows[-1][1] if rows else None
    return JsonPage(out, last, full, size, tuple(actions))


#: Records outside a page's window among its seqs that a page checks at most.
_OUTSIDE_CHECKED: Final = 5_000


def _unique_seqs(cur: Any) -> bool:
    """Whether the events table has its primary key on ``(tenant_id, seq)`` (as SQLite
    itself parsed the schema: two in-memory reads)."""
    cur.execute("PRAGMA index_list(events)")
    for _, name, unique, origin, _ in cur.fetchall():
        if origin == "pk" and unique:
            cur.execute(f"PRAGMA index_info({_quoted(name)})")
            return [r[2] for r in cur.fetchall()] == ["tenant_id", "seq"]
    return False


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(
    cur: Any,
    tenant: str,
    match: dict[str, list[str]],
    span: tuple[str | None, ...],
    lo: int,
    hi: int,
    order: str,
    limit: int,
    picks: _Picks,
) -> list[tuple[Any, ...]]:
    conds = ["tenant_id = ?", "seq >= ?", "seq < ?"]
    params: list[Any] = [tenant, lo, hi]
    for column, values in sorted(match.items()):
        conds.append(f"{column} IN ({', '.join('?' * len(values))})")
        params += values
    if "success" not in match.get("outcome", ("success",)):
        # the term of the index of unsuccessful events: a seek to them, not a walk
        # back through the successes between them (without it the planner cannot
        # know that the bound values never succeed)
        conds.append(UNUSUAL)
    for cond, values in picks.sql():
        conds.append(cond)
        params += values
    first, until = span
    timed: list[str] = []
    bounds: list[str] = []
    if first is not None:
        timed.append("occurred_at >= ?")
        bounds.append(first)
    if until is not None:
        timed.append("occurred_at < ?")
        bounds.append(until)
    source = "events"
    if timed:
        # pages go by seq, so the database walks the primary key and stops at the
        # page's last row; a narrow time range (the last day of a long trail) is
        # found faster through the time index, its rows then sorted by seq
        cur.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE tenant_id = ? AND "
            f"{' AND '.join(timed)} LIMIT {_NARROW + 1})",
            [tenant, *bounds],
        )
        if int(cur.fetchone()[0]) <= _NARROW:
            source = "events INDEXED BY ix_events_tenant_time"
    cur.execute(
        f"SELECT {', '.join(STORED_COLUMNS)} FROM {source} "
        f"WHERE {' AND '.join(conds + timed)} "
        f"ORDER BY seq {'ASC' if order == 'asc' else 'DESC'} "
        f"LIMIT {_SCAN if picks else int(limit)}",
        params + bounds,
    )
    if picks:
        # every row up to the page's last match is looked at (so the range the page
        # covers has no match left out); too few matches among them: the general path
        rows, looked = _picked(cur, picks, limit)
        if len(rows) < limit and looked == _SCAN:
            raise _Decline
    else:
        rows = [tuple(r) for r in cur.fetchall()]
    previous = None
    for row in rows:
        seq = row[1]
        if type(seq) is not int or not lo <= seq < hi or seq == previous:
            raise _Decline
        previous = seq
        for column, values in match.items():
            if row[STORED_COLUMNS.index(column)] not in values:
                raise _Decline  # the database compared otherwise than the record says
        when = row[3]
        if not isinstance(when, str) or (first and when < first) or (until and when >= until):
            raise _Decline
    return rows


def _picked(cur: Any, picks: _Picks, limit: int) -> tuple[list[tuple[Any, ...]], int]:
    """The first ``limit`` rows of the query in ``cur`` that ``picks`` keeps, and how
    many rows were looked at."""
    kept: list[tuple[Any, ...]] = []
    looked = 0
    while len(kept) < limit:
        # as many as are still wanted (each fetch runs the scan on until it has them)
        batch = cur.fetchmany(limit - len(kept))
        if not batch:
            break
        for row in batch:
            looked += 1
            if picks(row):
                kept.append(tuple(row))
                if len(kept) == limit:
                    break
    return kept, looked


def _checked(row: tuple[Any, ...], expected: np.ndarray) -> bytes:
    """The row's event as the API's JSON, if its bytes are the signed record's."""
    rec = dict(zip(STORED_COLUMNS, row, strict=True))
    for column, value in rec.items():
        if column == "seq":
            continue
        if value is not None and type(value) is not str:
            raise _Decline  # a BLOB or a number where text belongs
        if value is None and column in _REQUIRED:
            raise _Decline
    for column in ("occurred_at", "received_at"):
        if not _TIMESTAMP.fullmatch(rec[column]):
            raise _Decline
    parsed: dict[str, Any] = {}
    for column, opener in _OPENERS:
        text = rec[column]
        if text is None:
            continue
        if opener and not text.startswith(opener):
            raise _Decline
        try:
            parsed[column] = orjson.loads(text)  # exactly one JSON value, nothing after it
        except orjson.JSONDecodeError:
            raise _Decline from None
    seq = rec["seq"]
    canonical = event_row(row_as_event(rec), seq, rec["received_at"])[1]
    if hashlib.sha256(b"\x00" + canonical).digest() != expected[seq].tobytes():
        raise _Decline
    actor = parsed["actor"]
    if not isinstance(actor, dict) or actor.get("id") != rec["actor_id"]:
        raise _Decline
    return _api_json(rec, parsed)


_REQUIRED: Final = frozenset(
    ("tenant_id", "event_id", "occurred_at", "received_at", "action", "category", "outcome",
     "actor_id", "actor")
)  # fmt: skip


def _pick(obj: Any, keys: tuple[str, ...], kinds: Mapping[str, tuple[type, ...]]) -> Any:
    """The frame's view of a nested object: its known keys in order, nulls dropped;
    anything the frame would change or drop declines."""
    if obj is None:
        return None
    if not isinstance(obj, dict) or any(k not in keys for k in obj):
        raise _Decline
    out = {}
    for k in keys:
        v = obj.get(k)
        if v is None:
            continue
        kind = kinds.get(k, _STR)
        if not isinstance(v, kind) or isinstance(v, bool):
            raise _Decline
        # lat and lon as the frame's Float64 (JCS wrote 52.0 as 52)
        out[k] = float(cast(float, v)) if kind is _FLOATS else v
    return out or None


_ROLES: Final = {"roles": (list,)}
_FLOATS: Final = (float, int)
_NUMBERS: Final = {"lat": _FLOATS, "lon": _FLOATS}


def _api_json(rec: Mapping[str, Any], parsed: Mapping[str, Any]) -> bytes:
    actor = _pick(parsed["actor"], _ACTOR_KEYS, _ROLES)
    if actor is None or not all(type(r) is str for r in actor.get("roles", ())):
        raise _Decline
    source = parsed.get("source")
    if source is not None:
        if not isinstance(source, dict) or any(k not in _SOURCE_KEYS for k in source):
            raise _Decline
        geo = _pick(source.get("geo"), _GEO_KEYS, _NUMBERS)
        source = (
            _pick({k: v for k, v in source.items() if k != "geo"}, ("ip", "user_agent"), {}) or {}
        )
        if geo is not None:
            source["geo"] = geo
        source = source or None
    targets = parsed.get("targets")
    if targets is not None:
        if not isinstance(targets, list):
            raise _Decline
        targets = [_pick(t, _TARGET_KEYS, {}) or {} for t in targets]
    event: dict[str, Any] = {
        "event_id": rec["event_id"],
        "tenant_id": rec["tenant_id"],
        "seq": rec["seq"],
        "occurred_at": rec["occurred_at"],
        "received_at": rec["received_at"],
        "action": rec["action"],
        "category": rec["category"],
        "outcome": rec["outcome"],
        "actor": actor,
        "targets": targets,
        "source": source,
        "observer": _pick(parsed.get("observer"), _OBSERVER_KEYS, {}),
        "request_id": rec["request_id"],
        "session_id": rec["session_id"],
        "description": rec["description"],
        "changes": None if rec["changes"] is None else orjson.Fragment(rec["changes"]),
        "metadata": None if rec["metadata"] is None else orjson.Fragment(rec["metadata"]),
    }
    return orjson.dumps({k: v for k, v in event.items() if v is not None})
