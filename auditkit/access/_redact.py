"""Redaction: personal data replaced by a keyed hash, the same everywhere it occurs.

For the roles without ``read_unredacted`` (analyst, viewer, and any token
scoped without it), an event frame is redacted before it leaves the store:

- ``source_ip`` and ``actor_email``: the whole value;
- ``changes``: every value inside ``before``/``after`` (the keys stay, so the
  reader still sees *what* changed, and whether it changed);
- e-mail and IP addresses anywhere else, in every text a reader sees (actor ids,
  names and roles, targets, user agent, request and session ids, observer and
  geography, description, metadata keys and values, and the keys of ``changes``),
  in any form (see the patterns below); only the tenant, the event id (the
  event's address), the action, category, outcome and actor type are kept.

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
import html
import ipaddress
import re
import urllib.parse
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

# Patterns of the Rust regex engine Polars runs (not Python's ``re``).  They look for
# personal data wherever it hides in text: Unicode and IDN (``xn--``) addresses, quoted
# local parts, domains without a dot (``root@localhost``), an ``@`` written as ``%40``,
# ``\u0040`` or an HTML entity, JSON escapes of a nested document (``j\\u00f6rg``);
# IPv4 zero-padded or in hex octets, IPv6 in every form (compressed, with an IPv4 tail,
# with a zone, inside brackets, with ``%3A`` colons).  Over-matching (a version number
# that looks like an address) costs a hashed value; under-matching leaks one.
_HEX4: Final = r"[0-9A-Fa-f]{4}"
_ESC: Final = rf"\\+[uU]{_HEX4}"  # a JSON escape, maybe of a nested document
_LOCAL_CH: Final = rf"(?:[\p{{L}}\p{{M}}\p{{N}}._%+\-]|{_ESC})"
_QUOTED: Final = r'(?:"[^"\\\r\n@]{1,64}"|\\+"[^"\\\r\n@]{1,64}\\+")'
_AT: Final = r"(?:@|\x{FF20}|\x{FE6B}|%40|\\+[uU]0040|&#0*64;|&#[xX]0*40;)"
_DOM_CH: Final = rf"(?:[\p{{L}}\p{{M}}\p{{N}}\-]|%[0-9A-Fa-f]{{2}}|{_ESC})"
_DOMAIN: Final = rf"(?:\[[0-9A-Za-z:.%\-]{{2,64}}\]|{_DOM_CH}+(?:\.{_DOM_CH}+)*)"
_EMAIL: Final = rf"(?:{_QUOTED}|{_LOCAL_CH}+){_AT}{_DOMAIN}"
_OCTET: Final = r"(?:0[xX][0-9A-Fa-f]{1,2}|0{0,3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))"
_IPV4: Final = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H: Final = r"[0-9A-Fa-f]{1,4}"
_C: Final = r"(?::|%3[Aa])"  # a colon, or one percent-encoded in a URL
_ZONE: Final = r"(?:%(?:25)?[0-9A-Za-z._~\-]+)?"
_V6_V4: Final = (  # an IPv4 address as the last 32 bits
    rf"(?:{_H}{_C}){{6}}{_IPV4}",
    rf"(?:(?:{_H}{_C}){{1,5}}|{_C}){_C}(?:{_H}{_C}){{0,4}}{_IPV4}",
)
_V6_HEX: Final = (  # ending in a group of hex digits
    rf"(?:{_H}{_C}){{7}}{_H}",
    rf"(?:{_H}{_C}){{1,6}}{_C}{_H}",
    rf"(?:{_H}{_C}){{1,5}}(?:{_C}{_H}){{1,2}}",
    rf"(?:{_H}{_C}){{1,4}}(?:{_C}{_H}){{1,3}}",
    rf"(?:{_H}{_C}){{1,3}}(?:{_C}{_H}){{1,4}}",
    rf"(?:{_H}{_C}){{1,2}}(?:{_C}{_H}){{1,5}}",
    rf"{_H}{_C}(?:{_C}{_H}){{1,6}}",
    rf"{_C}(?:{_C}{_H}){{1,7}}",
)
_IPV6: Final = (
    "(?:"
    + "|".join(f"(?:{p})" for p in _V6_V4)
    + "|(?:"
    + "|".join(f"(?:{p})" for p in _V6_HEX)
    + rf"){_ZONE}(?-u:\b)"
    # ending in "::" (a prefix): not the "::" of std::abs, nor of arn:aws:s3:::bucket
    + rf"|(?-u:\b)(?:{_H}{_C}){{1,7}}{_C}(?-u:\B)"
    + ")"
)
#: e-mail addresses
EMAIL_PATTERN: Final = _EMAIL
#: e-mail and IP addresses (every text a redacted reader sees)
TEXT_PATTERN: Final = rf"{_EMAIL}|{_IPV6}|{_IPV4}"

#: Columns hashed whole.
_WHOLE: Final = ("source_ip", "actor_email")
#: Columns left as they are: the tenant, the event's address (the viewer and the API
#: look events up by it), and closed vocabularies.
_KEPT: Final = ("tenant_id", "event_id", "action", "category", "outcome", "actor_type")
#: Characters one of which is in every value :data:`TEXT_PATTERN` matches.
_HINTS: Final = ["@", ":", ".", "%", "&#", "\\", "\uff20", "\ufe6b"]


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
    return pl.col("v").str.contains_any(_HINTS)


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


def canonical_address(value: str) -> str:
    """The address a match spells, whatever its encoding: JSON and HTML escapes and
    percent-encoding undone, a padded or hex IPv4 and any IPv6 in their usual forms;
    so ``jane%40acme.com`` hashes as ``jane@acme.com`` does, and ``010.001.002.003``
    as ``10.1.2.3``.

    Examples
    --------
    >>> canonical_address("jane%40acme.com"), canonical_address("010.001.002.003")
    ('jane@acme.com', '10.1.2.3')
    >>> canonical_address("2001:0db8:0:0::1"), canonical_address("ann@example.com")
    ('2001:db8::1', 'ann@example.com')
    """
    text = value
    if "\\" in text:
        text = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
        text = text.replace('\\"', '"')
    if "&#" in text:
        text = html.unescape(text)
    if "%" in text:
        text = urllib.parse.unquote(text)
    text = text.replace("\uff20", "@").replace("\ufe6b", "@")
    if "@" in text:
        return text
    if _DOTTED.fullmatch(text):
        try:
            return ".".join(str(int(part, 0) if part[:2] in ("0x", "0X") else int(part))
                            for part in text.split("."))  # fmt: skip
        except ValueError:
            return text
    address, _, zone = text.partition("%")
    try:
        plain = str(ipaddress.ip_address(address))
    except ValueError:
        return text
    return f"{plain}%{zone}" if zone else plain


_JSON_ESCAPE: Final = re.compile(r"\\+[uU]([0-9A-Fa-f]{4})")
_DOTTED: Final = re.compile(r"[0-9A-Fa-fxX.]+\Z")


def _mapping(values: Sequence[str], key: str) -> dict[str, str]:
    """Each match -> the keyed hash of the address it spells (distinct matches once)."""
    one = _hasher(key)
    return {v: one(canonical_address(v)) for v in values}


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


def _redact_lists(df: pl.DataFrame, key: str) -> pl.DataFrame:
    """E-mail and IP addresses in ``targets`` (id, type, name) and ``actor_roles``."""
    parts = []
    if "targets" in df.columns:
        flat = df.select(pl.col("targets").explode().struct.unnest())
        parts += [flat.get_column(f) for f in ("id", "type", "name") if f in flat.columns]
    if "actor_roles" in df.columns:
        parts.append(df.get_column("actor_roles").explode())
    if not parts:
        return df
    values = pl.concat([p.cast(pl.String).rename("t") for p in parts]).drop_nulls().unique()
    found = _found(pl.DataFrame({"t": values}), [pl.col("t")], TEXT_PATTERN)
    if not found:
        return df
    table = _mapping(found, key)
    old, new = list(table), list(table.values())
    out = []
    if "targets" in df.columns:
        inner = df.schema["targets"].inner  # type: ignore[attr-defined]
        names = {f.name for f in inner.fields}
        fields = [
            pl.field(f).str.replace_many(old, new, leftmost=True)
            for f in ("id", "type", "name")
            if f in names
        ]
        out.append(pl.col("targets").list.eval(pl.element().struct.with_fields(fields)))
    if "actor_roles" in df.columns:
        out.append(
            pl.col("actor_roles").list.eval(pl.element().str.replace_many(old, new, leftmost=True))
        )
    return df.with_columns(out)


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


def _text_columns(df: pl.DataFrame) -> list[str]:
    """The text columns searched for addresses: every one a reader sees but those kept."""
    skip = {*_KEPT, *_WHOLE}
    return [c for c, t in df.schema.items() if t == pl.String and c not in skip]


def _redact_one(df: pl.DataFrame, key: str, note: str) -> pl.DataFrame:
    df = df.with_columns(_hash_whole(df, c, key) for c in _WHOLE if c in df.columns)
    df = _redact_changes(df, key)
    df = _replace_found(df, _text_columns(df), TEXT_PATTERN, key)
    df = _redact_lists(df, key)
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
