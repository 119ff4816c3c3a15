"""Redaction: personal data replaced by a keyed hash, the same everywhere it occurs.

For the roles without ``read_unredacted`` (analyst, viewer, and any token
scoped without it), an event frame is redacted before it leaves the store:

- ``source_ip`` and ``actor_email``: the whole value;
- ``changes``: every value inside ``before``/``after`` (the keys stay, so the
  reader still sees *what* changed, and whether it changed);
- e-mail addresses anywhere else (actor ids and names, targets, request and
  session ids, description, metadata), and IP addresses in free text
  (description, metadata, changes), e.g. a source's own record kept in metadata.

A redacted value is ``hmac:`` and the first 32 hex digits (128 bits) of
HMAC-SHA256 under the tenant's own key: equal values stay equal, so analysts
still group, count and join on them, and without the key nobody can test a
guess (a plain hash of an IPv4 address falls to 2^32 guesses).  Keys are per
tenant, so hashes of two tenants do not join.

Each redacted event says so in its ``metadata`` (key ``auditkit_redaction``:
the fields and the key's id), so every export, report and API answer made
from the frame carries the list; :func:`redaction_of` returns it for a frame.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import polars as pl
import polars_hash  # noqa: F401  (registers the .chash namespace)

__all__ = [
    "REDACTED_FIELDS",
    "Redaction",
    "carry_redaction",
    "key_id",
    "redact_frame",
    "redact_text",
    "redaction_of",
]

PREFIX: Final = "hmac:"
_DIGITS: Final = 32

#: What is redacted, as listed in each redacted event's metadata.
REDACTED_FIELDS: Final = (
    "source.ip",
    "actor.email",
    "changes",
    "e-mail addresses",
    "IP addresses in text",
)

_EMAIL: Final = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
_OCTET: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4: Final = rf"\b{_OCTET}(?:\.{_OCTET}){{3}}\b"
_H: Final = r"[0-9A-Fa-f]{1,4}"
_IPV6: Final = (
    rf"(?:\b(?:{_H}:){{7}}{_H}\b"  # full form
    rf"|(?:\b(?:{_H}:){{1,7}}|::)(?::{_H}){{0,7}}:?(?:{_H}\b)?"  # with ::
    r")"
)
#: e-mail addresses (identifier columns)
EMAIL_PATTERN: Final = _EMAIL
#: e-mail and IP addresses (free-text columns)
TEXT_PATTERN: Final = rf"{_EMAIL}|{_IPV4}|{_IPV6}"

#: Columns hashed whole.
_WHOLE: Final = ("source_ip", "actor_email")
#: Identifier columns: e-mail addresses inside are hashed.
_IDENTIFIERS: Final = (
    "actor_id",
    "actor_name",
    "target_id",
    "request_id",
    "session_id",
    "user_agent",
)
#: Free-text columns: e-mail and IP addresses inside are hashed.
_FREE_TEXT: Final = ("description", "metadata")


@dataclass(frozen=True)
class Redaction:
    """What was redacted in a frame, and with which tenants' keys.

    Attributes
    ----------
    fields
        :data:`REDACTED_FIELDS`.
    key_ids
        Tenant -> id of its redaction key (the first 16 hex digits of the
        key's SHA-256): hashes made under the same key id join.
    """

    fields: tuple[str, ...]
    key_ids: Mapping[str, str]
    method: str = "HMAC-SHA256, first 128 bits"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (what each redacted event's metadata carries).

        Examples
        --------
        >>> Redaction(("source.ip",), {"acme": "ab"}).to_dict()["key_ids"]
        {'acme': 'ab'}
        """
        return {"fields": list(self.fields), "method": self.method, "key_ids": dict(self.key_ids)}


_REDACTIONS: dict[int, Redaction] = {}


def redaction_of(frame: pl.DataFrame | pl.LazyFrame) -> Redaction | None:
    """What was redacted in ``frame`` as the store returned it (``None``: nothing).

    Frames derived from it (filtered, selected) carry the list in each event's
    ``metadata`` instead.

    Examples
    --------
    >>> redaction_of(pl.DataFrame({"a": [1]})) is None
    True
    """
    return _REDACTIONS.get(id(frame))


def carry_redaction(
    source: pl.DataFrame | pl.LazyFrame, target: pl.DataFrame | pl.LazyFrame
) -> Any:
    """Return ``target`` (made from ``source``) with ``source``'s redaction record.

    Examples
    --------
    >>> df = pl.DataFrame({"a": [1]})
    >>> carry_redaction(df, df.head(0)) is not None
    True
    """
    found = redaction_of(source)
    if found is not None:
        _remember(target, found)
    return target


def _remember(frame: pl.DataFrame | pl.LazyFrame, redaction: Redaction) -> None:
    _REDACTIONS[id(frame)] = redaction
    weakref.finalize(frame, _REDACTIONS.pop, id(frame), None)


def key_id(key: str) -> str:
    """The public id of a redaction key.

    Examples
    --------
    >>> key_id("00" * 32)
    '60e05bd1b195af2f'
    """
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _hash_whole(df: pl.DataFrame, column: str, key: str) -> pl.Expr:
    """Each value of ``column`` replaced by its keyed hash, each distinct value hashed once."""
    col = df.get_column(column)
    distinct = col.drop_nulls().unique()
    if distinct.len() * 2 > col.len():  # mostly distinct: hash every row
        keyed: pl.Expr = pl.col(column).chash.hmac_sha256(key=key)  # type: ignore[attr-defined]
        return (pl.lit(PREFIX) + keyed.str.slice(0, _DIGITS)).alias(column)
    one = _hasher(key)
    hashed = pl.Series([one(v) for v in distinct.to_list()], dtype=pl.String)
    return pl.col(column).replace_strict(distinct, hashed, default=None).alias(column)


def _hasher(key: str) -> Callable[[str], str]:
    """A fast HMAC-SHA256 of one string (the pads' hash states made once)."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    inner0 = hashlib.sha256(bytes(b ^ 0x36 for b in raw))
    outer0 = hashlib.sha256(bytes(b ^ 0x5C for b in raw))

    def one(value: str) -> str:
        inner = inner0.copy()
        inner.update(value.encode())
        outer = outer0.copy()
        outer.update(inner.digest())
        return PREFIX + outer.hexdigest()[:_DIGITS]

    return one


def redact_text(text: str, key: str) -> str:
    """``text`` with each e-mail and IP address replaced by its keyed hash.

    Examples
    --------
    >>> redact_text("login by ann@example.com from 192.0.2.7", "k" * 64)
    'login by hmac:041c1e211d709fb9235a29794cd2c1e0 from hmac:08c57bb04d842c9ff015e342f1431dd2'
    """
    s = pl.Series([text])
    return str(_replace_found(pl.DataFrame({"t": s}), ["t"], TEXT_PATTERN, key)["t"].item())


def _prefilter(pattern: str) -> pl.Expr:
    """A cheap test that a value may hold a match (a literal search before the regex)."""
    v = pl.col("v")
    if pattern == EMAIL_PATTERN:
        return v.str.contains("@", literal=True)
    return v.str.contains_any(["@", ":", "."])


def _matches(column: pl.Series, pattern: str) -> tuple[pl.Series, list[str]]:
    """The distinct values of ``column`` that hold a match, and the matches in them."""
    frame = pl.DataFrame({"v": column}).filter(_prefilter(pattern)).unique()
    if not frame.height:
        return column.clear(), []
    frame = frame.with_columns(pl.col("v").str.extract_all(pattern).alias("m")).filter(
        pl.col("m").list.len() > 0
    )
    found = frame.select(pl.col("m").explode().unique()).get_column("m").to_list()
    return frame.get_column("v"), [m for m in found if m]


def _found(df: pl.DataFrame, exprs: Sequence[pl.Expr], pattern: str) -> list[str]:
    """Distinct matches of ``pattern`` in the string expressions, longest first."""
    found: set[str] = set()
    for e in exprs:
        found.update(_matches(df.select(e.alias("v")).get_column("v"), pattern)[1])
    return sorted(found, key=lambda v: (-len(v), v))


def _mapping(values: Sequence[str], key: str) -> dict[str, str]:
    one = _hasher(key)
    return {v: one(v) for v in values}


def _replace_found(
    df: pl.DataFrame, columns: Sequence[str], pattern: str, key: str
) -> pl.DataFrame:
    """Each match of ``pattern`` in ``columns`` replaced by its keyed hash.

    Audit trails repeat the same values: each column is reduced to its
    distinct values, only those are searched (a literal test first, then the
    regex), and only the ones that hold a match are rewritten.
    """
    touched: dict[str, pl.Series] = {}
    found: set[str] = set()
    for c in columns:
        if c not in df.columns:
            continue
        values, hits = _matches(df.get_column(c), pattern)
        if hits:
            touched[c] = values
            found.update(hits)
    if not touched:
        return df
    ordered = sorted(found, key=lambda v: (-len(v), v))
    table = _mapping(ordered, key)
    old, new = list(table), list(table.values())
    return df.with_columns(
        pl.col(c).str.replace_many(old, new, leftmost=True).alias(c) for c in touched
    )


def _redact_json(value: Any, one: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact_json(v, one) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v, one) for v in value]
    if value is None:
        return None
    return one(orjson.dumps(value).decode())


def _redact_changes(df: pl.DataFrame, key: str) -> pl.DataFrame:
    """Every value under ``changes`` hashed, keys kept (distinct texts done once)."""
    if "changes" not in df.columns:
        return df
    texts = df.get_column("changes").drop_nulls().unique()
    if not texts.len():
        return df
    one = _hasher(key)
    out = []
    for text in texts.to_list():
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            out.append(one(text))
            continue
        if isinstance(doc, dict):
            red = {k: _redact_json(v, one) for k, v in doc.items()}
        else:
            red = _redact_json(doc, one)
        out.append(orjson.dumps(red, option=orjson.OPT_SORT_KEYS).decode())
    return df.with_columns(
        pl.col("changes").replace_strict(texts, pl.Series(out, dtype=pl.String), default=None)
    )


def _redact_targets(df: pl.DataFrame, key: str) -> pl.DataFrame:
    if "targets" not in df.columns:
        return df
    flat = df.select(pl.col("targets").explode().struct.unnest()).select("id", "name")
    flat = flat.select(pl.concat([pl.col("id"), pl.col("name")]).unique().alias("t"))
    flat = flat.filter(pl.col("t").str.contains("@", literal=True))
    if not flat.height:
        return df
    found = _found(flat, [pl.col("t")], EMAIL_PATTERN)
    if not found:
        return df
    table = _mapping(found, key)
    old, new = list(table), list(table.values())
    return df.with_columns(
        pl.col("targets").list.eval(
            pl.element().struct.with_fields(
                pl.field("id").str.replace_many(old, new, leftmost=True),
                pl.field("name").str.replace_many(old, new, leftmost=True),
            )
        )
    )


def _annotate(df: pl.DataFrame, note: str) -> pl.DataFrame:
    """Put ``"auditkit_redaction": note`` first in each event's metadata object."""
    if "metadata" not in df.columns:
        return df
    head = '{"auditkit_redaction":' + note
    meta = pl.col("metadata")
    return df.with_columns(
        pl.when(meta.is_null() | (meta == "{}"))
        .then(pl.lit(head + "}"))
        .when(meta.str.starts_with("{"))
        .then(pl.lit(head + ",") + meta.str.slice(1))
        .otherwise(pl.lit(head + ',"value":') + meta + pl.lit("}"))
        .alias("metadata")
    )


def _redact_one(df: pl.DataFrame, key: str, note: str) -> pl.DataFrame:
    df = df.with_columns(_hash_whole(df, c, key) for c in _WHOLE if c in df.columns)
    df = _redact_changes(df, key)
    df = _replace_found(df, ["changes"], TEXT_PATTERN, key)
    df = _replace_found(df, _IDENTIFIERS, EMAIL_PATTERN, key)
    df = _replace_found(df, _FREE_TEXT, TEXT_PATTERN, key)
    df = _redact_targets(df, key)
    return _annotate(df, note)


def redact_frame(frame: pl.DataFrame, keys: Mapping[str, str]) -> pl.DataFrame:
    """Return ``frame`` with each tenant's rows redacted under that tenant's key.

    Parameters
    ----------
    frame
        An event frame (any subset of :data:`~auditkit.schema.FRAME_SCHEMA`
        columns, ``tenant_id`` among them).
    keys
        Tenant -> redaction key (hex text).  Rows of a tenant without a key are
        an error: nothing leaves unredacted by omission.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "ann@example.com", "email": "ann@example.com"},
    ...     "source": {"ip": "192.0.2.7"}}])
    >>> out = redact_frame(df, {"acme": "k" * 64})
    >>> out.select("actor_id", "actor_email", "source_ip").row(0)  # doctest: +NORMALIZE_WHITESPACE
    ('hmac:041c1e211d709fb9235a29794cd2c1e0', 'hmac:041c1e211d709fb9235a29794cd2c1e0',
     'hmac:08c57bb04d842c9ff015e342f1431dd2')
    >>> redaction_of(out).fields[0]
    'source.ip'
    """
    if "tenant_id" not in frame.columns:
        raise ValueError("redact_frame needs the tenant_id column")
    tenants = frame.get_column("tenant_id").unique(maintain_order=True).to_list()
    missing = [t for t in tenants if t not in keys]
    if missing:
        raise ValueError(f"no redaction key for tenant(s) {missing}")
    ids = {t: key_id(keys[t]) for t in tenants}
    parts = []
    runs = frame.select(pl.col("tenant_id").rle_id().max()).item() if frame.height else 0
    several = len(tenants) > 1 and runs + 1 > len(tenants)  # not one run per tenant
    if several:
        groups = frame.with_row_index("__row").partition_by("tenant_id", maintain_order=True)
    else:  # one contiguous run per tenant (as the store returns them): slices, no copy
        bounds = frame.select(pl.col("tenant_id").rle().struct.field("len")).to_series()
        groups, at = [], 0
        for n in bounds.to_list():
            groups.append(frame.slice(at, n))
            at += n
    for part in groups:
        if not part.height:
            continue
        t = part.get_column("tenant_id").item(0)
        note = orjson.dumps(
            {"fields": list(REDACTED_FIELDS), "key_id": ids[t], "method": "HMAC-SHA256"}
        ).decode()
        parts.append(_redact_one(part, keys[t], note))
    out = pl.concat(parts, how="vertical") if parts else frame.clear()
    if several:
        out = out.sort("__row").drop("__row")
    if out.schema != frame.schema:
        out = out.cast(dict(frame.schema))  # type: ignore[arg-type]
    _remember(out, Redaction(REDACTED_FIELDS, ids))
    return out
