"""How an event is laid out in the ``events`` table, and how its canonical
bytes are rebuilt from that row.

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
from typing import Any, Final

import orjson
import polars as pl

from auditkit.integrity import canonical_bytes, fast_canonical_bytes

__all__ = [
    "CANONICAL_KEYS",
    "JSON_COLUMNS",
    "STORED_COLUMNS",
    "event_row",
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

#: Top-level keys of a stored record in JCS order (all ASCII, so code-point order).
CANONICAL_KEYS: Final = tuple(sorted(c for c in STORED_COLUMNS if c != "actor_id"))
_STRING_KEYS: Final = tuple(
    k
    for k in CANONICAL_KEYS
    if k not in JSON_COLUMNS and k not in ("seq", "occurred_at", "received_at")
)
_dumps = orjson.dumps
_SORTED = orjson.OPT_SORT_KEYS


_SCALAR, _PLAIN, _CANON, _SEQ, _RECEIVED = range(5)
_PLAN: Final = tuple(
    (
        key,
        _SEQ
        if key == "seq"
        else _RECEIVED
        if key == "received_at"
        else _PLAIN
        if key in ("actor", "targets", "observer")
        else _CANON
        if key in JSON_COLUMNS
        else _SCALAR,
        f'"{key}":'.encode(),
    )
    for key in CANONICAL_KEYS
)
_ROW_ORDER: Final = tuple(
    CANONICAL_KEYS.index(c) if c != "actor_id" else -1 for c in STORED_COLUMNS
)


def event_row(
    event: Mapping[str, Any], seq: int, received_at: str
) -> tuple[tuple[Any, ...], bytes]:
    """The table row of a normalised event, and its canonical bytes.

    The canonical bytes are composed from the same pieces the row stores, so
    that :func:`rebuild_canonical` gives them back byte for byte.  ``actor``,
    ``targets`` and ``observer`` hold only strings after
    :func:`~auditkit.schema.normalize_event`, with ASCII keys, so orjson's sorted
    output is already RFC 8785 for them; ``source``, ``changes`` and ``metadata``
    may hold numbers and go through :func:`~auditkit.integrity.canonical_bytes`.
    """
    record = {**event, "seq": seq, "received_at": received_at}
    whole = fast_canonical_bytes(record)
    if whole is not None:
        # one orjson call proved canonical: its parts are canonical too (JCS composes)
        actor_id = event["actor"]["id"]
        row = tuple(
            actor_id
            if c == "actor_id"
            else (
                None
                if (v := record.get(c)) is None
                else _dumps(v, option=_SORTED).decode()
                if c in JSON_COLUMNS
                else v
            )
            for c in STORED_COLUMNS
        )
        return row, whole
    parts: list[bytes] = []
    values: list[Any] = []
    get = event.get
    dumps = _dumps
    for key, kind, head in _PLAN:
        if kind == _SEQ:
            values.append(seq)
            parts.append(head + str(seq).encode())
            continue
        value = received_at if kind == _RECEIVED else get(key)
        if value is None:
            values.append(None)
            continue
        if kind in (_SCALAR, _RECEIVED):
            text = dumps(value)
            values.append(value)
        else:
            if isinstance(value, _Raw):  # stored text, copied verbatim when rebuilding
                text = value.encode()
            elif kind == _PLAIN:
                text = dumps(value, option=_SORTED)
            else:
                text = canonical_bytes(value)
            values.append(text.decode())
        parts.append(head + text)
    canon = b"{" + b",".join(parts) + b"}"
    actor = event["actor"]
    actor_id = get("actor_id") if isinstance(actor, _Raw) else actor["id"]
    row = tuple(actor_id if i < 0 else values[i] for i in _ROW_ORDER)
    return row, canon


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


def _fast_canonical(timestamps_as_text: bool) -> pl.Expr:
    """One flat concatenation: literal key text, then the value, for every key in order.

    Required keys cannot be null; an optional key contributes ``,"key":value`` or
    nothing.  Strings are quoted without escaping (rows that need escaping are
    redone by the caller).
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
        head = ("{" if first else ",") + f'"{key}":'
        first = False
        if key in _REQUIRED:
            pieces += [pl.lit(head), *value]
        else:
            pieces.append(pl.concat_str([pl.lit(head), *value]).fill_null(""))
    pieces.append(pl.lit("}"))
    return pl.concat_str(pieces)


def rebuild_canonical(rows: pl.DataFrame) -> pl.Series:
    """Rebuild each row's canonical JSON text from the stored columns (vectorised).

    Rows whose strings need JSON escaping (quotes, backslashes, control
    characters: rare) are serialised in Python with the same function the
    append path used; all others by string concatenation in Polars.
    """
    from auditkit.frame import STORED_SCHEMA

    rows = rows.cast(
        {
            c: t
            for c, t in STORED_SCHEMA.items()
            if c in rows.columns and not isinstance(rows.schema[c], pl.Datetime)
        }
    )
    text_ts = rows.schema["occurred_at"] == pl.String
    canon = rows.select(_fast_canonical(text_ts).alias("canonical")).to_series()
    slow = rows.select(_needs_escape().alias("m")).to_series()
    if slow.any():
        idx = slow.arg_true()
        sub = rows[idx]
        values = []
        for rec in sub.iter_rows(named=True):
            for ts in ("occurred_at", "received_at"):
                if not isinstance(rec[ts], str):
                    rec[ts] = rec[ts].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            _, text = event_row(_row_as_event(rec), int(rec["seq"]), rec["received_at"])
            values.append(text.decode())
        canon = canon.scatter(idx, values)
    return canon


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
