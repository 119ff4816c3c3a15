"""The stored record's layout, in one place: the ``events`` table's columns and
their types, how an event becomes a row (:func:`prepare_event`), and how its
canonical bytes are rebuilt from that row.  The table definitions
(:mod:`auditkit.store`), the event frame (:mod:`auditkit.frame`) and ingestion
all derive from it; it sits below all three.

The row *is* the record: scalar fields in their own columns, nested objects
as their RFC 8785 (JCS) text.  Because JCS is compositional, the canonical
bytes of the whole record are the concatenation, in sorted key order, of
``"key":value`` for each present field; so they are rebuilt from the columns
(vectorised, in Polars) instead of being stored a second time.  Any edit of
any column therefore changes the rebuilt bytes and breaks the signed hash.

>>> e = {"tenant_id": "acme", "event_id": "e1", "occurred_at": "2026-01-05T09:00:00.000000Z",
...      "action": "user.login", "category": "management", "outcome": "success",
...      "actor": {"id": "u1"}}
>>> row, canon = event_row(e, 0, "2026-01-05T09:00:01.000000Z")
>>> import polars as pl
>>> df = pl.DataFrame([row], schema=list(STORED_COLUMNS), orient="row")
>>> rebuild_canonical(df).item() == canon.decode()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import orjson
import polars as pl
import polars_hash  # noqa: F401  (registers the .chash namespace)

from auditkit.integrity import canonical_bytes, fast_canonical_bytes
from auditkit.schema import _free_json

__all__ = [
    "CANONICAL_KEYS",
    "JSON_COLUMNS",
    "STORED_COLUMNS",
    "STORED_SCHEMA",
    "PreparedEvent",
    "event_row",
    "exact_canonical",
    "leaf_hash_exprs",
    "prepare_event",
    "rebuild_canonical",
    "row_to_event",
]

#: Columns of the ``events`` table, in insert order.
STORED_COLUMNS: Final = (
    "tenant_id", "seq", "event_id", "occurred_at", "received_at", "action", "category",
    "outcome", "actor_id", "actor", "targets", "source", "observer", "request_id",
    "session_id", "description", "changes", "metadata",
)  # fmt: skip

#: Columns that hold the JCS text of a nested JSON value.
JSON_COLUMNS: Final = frozenset(("actor", "targets", "source", "observer", "changes", "metadata"))

#: Schema of the stored rows (timestamps as RFC 3339 text, nested values as JCS text).
STORED_SCHEMA = pl.Schema(
    {
        "tenant_id": pl.String, "seq": pl.Int64, "event_id": pl.String,
        "occurred_at": pl.String, "received_at": pl.String, "action": pl.String,
        "category": pl.String, "outcome": pl.String, "actor_id": pl.String,
        "actor": pl.String, "targets": pl.String, "source": pl.String, "observer": pl.String,
        "request_id": pl.String, "session_id": pl.String, "description": pl.String,
        "changes": pl.String, "metadata": pl.String,
    }
)  # fmt: skip

#: Top-level keys of a stored record in JCS order (all ASCII, so code-point order).
CANONICAL_KEYS: Final = tuple(sorted(c for c in STORED_COLUMNS if c != "actor_id"))
_STRING_KEYS: Final = tuple(
    k
    for k in CANONICAL_KEYS
    if k not in JSON_COLUMNS and k not in ("seq", "occurred_at", "received_at")
)
_dumps = orjson.dumps
_SORTED = orjson.OPT_SORT_KEYS


#: JSON columns that hold only strings under ASCII keys after normalisation, for
#: which orjson's sorted output is RFC 8785 as it stands.
_PLAIN_JSON: Final = ("actor", "targets", "observer")
#: JSON columns that may hold numbers or any key: proved canonical or redone by rfc8785.
_FREE_JSON: Final = ("source", "changes", "metadata")
#: The record's string fields (the store fills in seq and received_at).
_SCALAR_KEYS: Final = tuple(
    k for k in CANONICAL_KEYS if k not in JSON_COLUMNS and k not in ("seq", "received_at")
)
_Fragment = orjson.Fragment
# where seq and received_at go in the serialised record: NUL never occurs raw in JSON
_SEQ_MARK: Final = _Fragment(b"\x00")
_RECEIVED_MARK: Final = _Fragment(b"\x00")


class PreparedEvent(NamedTuple):
    """A normalised event serialised for the store, all but its ``seq`` and
    ``received_at`` (which the store assigns inside the append transaction).

    ``row`` is the table row with ``None`` for those two; the canonical bytes
    are ``head + received_at JSON + middle + seq + tail``.
    """

    tenant_id: str
    event_id: str
    row: tuple[Any, ...]
    head: bytes
    middle: bytes
    tail: bytes

    def finish(
        self, seq: int, received_at: str, received_json: bytes | None = None
    ) -> tuple[tuple[Any, ...], bytes]:
        """The row and the canonical bytes at ``seq``, received at ``received_at``
        (``received_json``: its JSON string, when the caller has it already)."""
        r = self.row
        row = (r[0], seq, r[2], r[3], received_at, *r[5:])
        if received_json is None:
            received_json = _dumps(received_at)
        canon = b"".join((self.head, received_json, self.middle, str(seq).encode(), self.tail))
        return row, canon


def prepare_event(event: Mapping[str, Any], *, checked: bool = True) -> PreparedEvent:
    """Serialise a normalised event once, for :meth:`PreparedEvent.finish`.

    Each nested value is serialised once: that text is both what the row stores
    and, as an :class:`orjson.Fragment`, what the record's serialisation copies
    verbatim, so :func:`rebuild_canonical` gives the same bytes back from the
    row.  ``actor``, ``targets`` and ``observer`` hold only strings after
    :func:`~auditkit.schema.normalize_event`, with ASCII keys, so orjson's sorted
    output is already RFC 8785 for them; ``source``, ``changes`` and ``metadata``
    may hold numbers and go through :func:`~auditkit.integrity.canonical_bytes`.
    The top-level keys are ASCII and the other values strings, for which orjson's
    sorted output is RFC 8785 too (JCS composes).

    ``checked=False`` (from :func:`~auditkit.schema.normalize_for_store`): ``metadata``
    and ``changes`` have not been checked yet.  The proof that orjson's output is
    canonical also proves them valid (plain JSON types, finite numbers, integers in
    range, string keys); only when it fails are they checked in full.

    Raises
    ------
    SchemaError
        For invalid ``metadata`` or ``changes`` when ``checked`` is false.
    ValueError
        For an event that is not normalised (unknown field, non-string scalar).
    """
    record, texts = _record_parts(event, checked)
    record["seq"] = _SEQ_MARK
    record["received_at"] = _RECEIVED_MARK
    parts = _dumps(record, option=_SORTED).split(b"\x00")
    if len(parts) != 3:  # orjson escapes NUL in strings, and our texts are its output
        raise ValueError("not a normalised event: raw NUL in a serialised value")
    head, middle, tail = parts
    row = _row(event, record, texts, None, None)
    return PreparedEvent(record["tenant_id"], record["event_id"], row, head, middle, tail)


def _record_parts(event: Mapping[str, Any], checked: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The record with its nested values as fragments of their canonical text, and
    those texts by column."""
    record: dict[str, Any] = {}
    texts: dict[str, str] = {}
    for key, value in event.items():
        if value is None or key == "actor_id" or key == "seq" or key == "received_at":
            continue
        if key in _SCALARS_SET:
            if type(value) is not str:
                raise ValueError(f"not a normalised event: {key} is {type(value).__name__}")
            record[key] = value
            continue
        if type(value) is _Raw:  # stored text, copied verbatim when rebuilding
            text = str(value)
            raw = text.encode()
        elif key in _PLAIN_SET:
            raw = _dumps(value, option=_SORTED)
            text = raw.decode()
        elif key in _FREE_SET:
            proved = None if checked else fast_canonical_bytes(value)
            if proved is not None:
                raw = proved
            else:
                if not checked and key != "source":
                    value = _free_json(value, key)  # the full check, naming the field
                raw = canonical_bytes(value)
            text = raw.decode()
        else:
            raise ValueError(f"not a normalised event: unknown field {key!r}")
        texts[key] = text
        record[key] = _Fragment(raw)
    return record, texts


def _row(
    event: Mapping[str, Any],
    record: Mapping[str, Any],
    texts: Mapping[str, str],
    seq: int | None,
    received_at: str | None,
) -> tuple[Any, ...]:
    actor = event["actor"]
    actor_id = event.get("actor_id") if type(actor) is _Raw else actor["id"]
    get = texts.get
    return (
        record["tenant_id"],
        seq,
        record["event_id"],
        record["occurred_at"],
        received_at,
        record["action"],
        record["category"],
        record["outcome"],
        actor_id,
        get("actor"),
        get("targets"),
        get("source"),
        get("observer"),
        record.get("request_id"),
        record.get("session_id"),
        record.get("description"),
        get("changes"),
        get("metadata"),
    )


_SCALARS_SET: Final = frozenset(_SCALAR_KEYS)
_PLAIN_SET: Final = frozenset(_PLAIN_JSON)
_FREE_SET: Final = frozenset(_FREE_JSON)


def event_row(
    event: Mapping[str, Any], seq: int, received_at: str
) -> tuple[tuple[Any, ...], bytes]:
    """The table row of a normalised event at ``seq``, and its canonical bytes: what
    :func:`prepare_event` and :meth:`PreparedEvent.finish` give, in one step.

    Also used to redo, exactly, stored rows whose strings need escaping (their JSON
    columns as stored text, which may hold anything an attacker wrote): ``seq`` and
    ``received_at`` go in as fragments of their text, with no marker to find again.
    """
    record, texts = _record_parts(event, True)
    record["seq"] = _Fragment(str(seq).encode())
    record["received_at"] = _Fragment(_dumps(received_at))
    canon = _dumps(record, option=_SORTED)
    return _row(event, record, texts, seq, received_at), canon


def _needs_escape() -> pl.Expr:
    checks = [pl.col(k).str.contains(r'["\\\x00-\x1f]') for k in _STRING_KEYS]
    return pl.any_horizontal(checks).fill_null(False)


_REQUIRED: Final = frozenset(
    (
        "action",
        "actor",
        "category",
        "event_id",
        "occurred_at",
        "outcome",
        "received_at",
        "seq",
        "tenant_id",
    )
)


def _fast_canonical(timestamps_as_text: bool, prefix: str = "") -> pl.Expr:
    """One flat concatenation: literal key text, then the value, for every key in order.

    Required keys cannot be null; an optional key contributes ``,"key":value`` or
    nothing.  Strings are quoted without escaping (rows that need escaping are
    redone by the caller).  ``prefix`` is put before the opening brace: the leaf
    hash's ``0x00`` goes there, which saves a second concatenation of every row.
    """
    pieces: list[pl.Expr] = []
    first = True
    for key in CANONICAL_KEYS:
        col = pl.col(key)
        if key == "seq":
            value = [col.cast(pl.String)]
        elif key in JSON_COLUMNS:
            value = [col]
        elif key in ("occurred_at", "received_at") and not timestamps_as_text:
            value = [pl.lit('"'), col.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"), pl.lit('"')]
        else:
            value = [pl.lit('"'), col, pl.lit('"')]
        head = (prefix + "{" if first else ",") + f'"{key}":'
        first = False
        if key in _REQUIRED:
            pieces += [pl.lit(head), *value]
        else:
            pieces.append(pl.concat_str([pl.lit(head), *value]).fill_null(""))
    pieces.append(pl.lit("}"))
    return pl.concat_str(pieces)


def _as_stored(rows: pl.DataFrame) -> pl.DataFrame:
    casts = {
        c: t
        for c, t in STORED_SCHEMA.items()
        if c in rows.columns and not isinstance(rows.schema[c], pl.Datetime) and rows.schema[c] != t
    }
    return rows.cast(casts) if casts else rows  # type: ignore[arg-type]


def rebuild_canonical(rows: pl.DataFrame) -> pl.Series:
    """Rebuild each row's canonical JSON text from the stored columns (vectorised).

    Rows whose strings need JSON escaping (quotes, backslashes, control
    characters: rare) are serialised in Python with the same function the
    append path used; all others by string concatenation in Polars.
    """
    rows = _as_stored(rows)
    text_ts = rows.schema["occurred_at"] == pl.String
    canon = rows.select(_fast_canonical(text_ts).alias("canonical")).to_series()
    slow = rows.select(_needs_escape().alias("m")).to_series()
    if slow.any():
        idx = slow.arg_true()
        canon = canon.scatter(idx, [t.decode() for t in exact_canonical(rows[idx])])
    return canon


def leaf_hash_exprs(schema: pl.Schema) -> tuple[pl.Expr, pl.Expr]:
    """Two expressions over stored rows of ``schema``: the hex SHA-256 leaf hash
    (RFC 6962: of ``0x00`` + the canonical bytes) built by the fast concatenation,
    and whether the row needs escaping, in which case that hash is wrong and the
    row must be redone with :func:`exact_canonical`.

    Both are plain expressions so that callers can evaluate them in the same
    parallel pass as the decoding of the columns into a frame.
    """
    text_ts = schema["occurred_at"] == pl.String
    leaf = _fast_canonical(text_ts, prefix="\x00").chash.sha2_256()  # type: ignore[attr-defined]
    return leaf, _needs_escape()


def exact_canonical(rows: pl.DataFrame) -> list[bytes]:
    """The canonical bytes of each row, serialised in Python exactly as the append
    path did: for the rare rows whose strings need escaping."""
    values = []
    for rec in _as_stored(rows).iter_rows(named=True):
        for ts in ("occurred_at", "received_at"):
            if not isinstance(rec[ts], str):
                rec[ts] = rec[ts].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        values.append(event_row(_row_as_event(rec), int(rec["seq"]), rec["received_at"])[1])
    return values


def _row_as_event(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row back as an event mapping whose JSON columns are pre-serialised."""
    return {k: (_Raw(v) if k in JSON_COLUMNS and v is not None else v) for k, v in rec.items()}


class _Raw(str):
    """JSON text that :func:`event_row` must copy verbatim (already canonical)."""


def row_to_event(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row (as a dict) back as the canonical record (``seq`` included).

    Examples
    --------
    >>> row_to_event({"tenant_id": "a", "seq": 0, "actor_id": "u", "actor": '{"id":"u"}',
    ...               "metadata": None})
    {'tenant_id': 'a', 'seq': 0, 'actor': {'id': 'u'}}
    """
    out: dict[str, Any] = {}
    for k, v in rec.items():
        if v is None or k == "actor_id":
            continue
        out[k] = orjson.loads(v) if k in JSON_COLUMNS else v
    return out
