"""JSON built column-wise in Polars: structs encoded by Polars, ``null`` members
dropped, raw JSON text spliced in.  Used by the canonical NDJSON encoder and the
SIEM formats (a test holds each equal to its per-event reference)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import polars as pl

__all__ = [
    "CONTROLS",
    "canonical_struct",
    "escape_controls",
    "json_line_safe",
    "json_line_safe_bytes",
    "drop_nulls_json",
    "json_lists",
    "json_text",
    "struct_or_null",
    "target_structs",
]

_TS: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"

#: Characters that some reader of a line format takes for a line break or a record
#: end, or that a terminal acts on: every C0 control (NUL, VT, FF, FS, GS, RS...),
#: DEL, every C1 control (NEL, U+0085, among them), LINE SEPARATOR (U+2028) and
#: PARAGRAPH SEPARATOR (U+2029).  ``str.splitlines`` splits at VT, FF, FS, GS, RS,
#: NEL, U+2028 and U+2029 as well as at CR and LF.
CONTROLS: Final = tuple(
    [chr(c) for c in range(0x20)] + [chr(c) for c in range(0x7F, 0xA0)] + ["\u2028", "\u2029"]
)
_CONTROL_CLASS: Final = re.compile("[" + "".join(map(re.escape, CONTROLS)) + "]")


def escape_controls(expr: pl.Expr, special: dict[str, str]) -> pl.Expr:
    """Text with each key of ``special`` replaced by its value, and every other
    character of :data:`CONTROLS` written as visible text (one backslash, ``u``, four
    lower-case hex digits: NUL as ``\\u0000``): one pass (Aho-Corasick, leftmost
    match), so an escape is never escaped again.  ``special`` must map the format's
    escape character (a backslash) to itself doubled, so that no such escape
    can be forged by the text.

    Examples
    --------
    >>> s = pl.Series(["a\\u2028b", "c\\x00\\nd\\\\u2028"])
    >>> escapes = {"\\\\": "\\\\\\\\", "\\n": "\\\\n"}
    >>> pl.select(escape_controls(pl.lit(s), escapes)).to_series().to_list()
    ['a\\\\u2028b', 'c\\\\u0000\\\\nd\\\\\\\\u2028']
    """
    keys = list(special) + [c for c in CONTROLS if c not in special]
    values = [special.get(c, f"\\u{ord(c):04x}") for c in keys]
    return expr.str.replace_many(keys, values)


def json_line_safe(expr: pl.Expr) -> pl.Expr:
    """JSON text with the characters of :data:`CONTROLS` that JSON may hold raw
    (DEL, the C1 controls with NEL, U+2028, U+2029; JSON encoders escape C0 already)
    written as JSON escapes: the same JSON value, and one line for every reader.
    (Outside strings JSON holds none of them, and inside one the escape means the
    character.)

    Examples
    --------
    >>> pl.select(json_line_safe(pl.lit('{"a":"x\\u2028y\\x85"}'))).item()
    '{"a":"x\\\\u2028y\\\\u0085"}'
    """
    return escape_controls(expr, {})


def json_line_safe_bytes(data: bytes) -> bytes:
    """:func:`json_line_safe` for one JSON document as UTF-8 bytes (as orjson writes it).

    Examples
    --------
    >>> import orjson
    >>> json_line_safe_bytes(orjson.dumps({"a": "x\\u2028y\\x85"}))
    b'{"a":"x\\\\u2028y\\\\u0085"}'
    """
    if data.isascii():
        return data
    text = data.decode()
    return _CONTROL_CLASS.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode()


# A key whose value is null, after a comma (any field but the first) or as the first
# of several: removed from JSON text that Polars encoded.  Inside a JSON string every
# quote is escaped, so these never match string contents.
_NULL_LATER: Final = r',"[A-Za-z_@.]+":null'
_NULL_FIRST: Final = r'\{"[A-Za-z_@.]+":null,'


def drop_nulls_json(expr: pl.Expr) -> pl.Expr:
    """JSON text without its ``"key":null`` members (objects made of nulls only must
    be null themselves, so that no ``{}`` is left).

    Examples
    --------
    >>> import orjson
    >>> tricky = 'x",\\"f":null,"g":null}\\\\'  # a value that looks like members
    >>> text = orjson.dumps({"a": None, "b": {"c": 1, "d": None}, "e": tricky, "g": None})
    >>> pl.select(drop_nulls_json(pl.lit(text.decode()))).item() == orjson.dumps(
    ...     {"b": {"c": 1}, "e": tricky}).decode()
    True
    """
    return expr.str.replace_all(_NULL_LATER, "").str.replace_all(_NULL_FIRST, "{")


def struct_or_null(**fields: pl.Expr) -> pl.Expr:
    """A struct of ``fields``, null where every field is null."""
    any_set = pl.any_horizontal([f.is_not_null() for f in fields.values()])
    return pl.when(any_set).then(pl.struct(**fields))  # type: ignore[call-overload]


def target_structs(expr: pl.Expr, *, uid: str = "uid") -> pl.Expr:
    """A target (struct id/type/name) as an OCSF-style object: ``uid``, ``name``, ``type``."""
    return struct_or_null(
        **{
            uid: expr.struct.field("id"),
            "name": expr.struct.field("name"),
            "type": expr.struct.field("type"),
        }
    )


def json_lists(expr: pl.Expr, name: str) -> pl.Expr:
    """JSON text of a list column (nulls inside structs dropped), null where null."""
    encoded = drop_nulls_json(pl.struct(expr.alias(name)).struct.json_encode())
    body = encoded.str.slice(len(name) + 4).str.strip_suffix("}")
    return pl.when(expr.is_not_null()).then(body)


def json_text(
    struct: pl.Expr, *, splice: Sequence[tuple[str, pl.Expr]] = (), depth: int = 1
) -> pl.Expr:
    """JSON text of a struct expression, without null members, with raw JSON text
    columns (``splice``: ``(key, column)``) added as the last members of the
    object that closes ``depth`` braces from the end (1: the struct itself; 3:
    the last member's last member, which must then be objects that are never
    null).

    Examples
    --------
    >>> df = pl.DataFrame({"a": [1, None], "m": ['{"k":null}', None]})
    >>> df.select(json_text(pl.struct("a", inner=pl.struct(b=pl.lit("x"))),
    ...                     splice=[("m", pl.col("m"))], depth=2)).to_series().to_list()
    ['{"a":1,"inner":{"b":"x","m":{"k":null}}}', '{"inner":{"b":"x"}}']
    """
    body = drop_nulls_json(struct.struct.json_encode())
    if not splice:
        return body
    parts: list[pl.Expr] = [body.str.head(-depth)]
    for key, column in splice:
        parts.append(pl.when(column.is_not_null()).then(pl.lit(f',"{key}":') + column))
    parts.append(pl.lit("}" * depth))
    return pl.concat_str(parts, ignore_nulls=True)


def canonical_struct(columns: Sequence[str]) -> pl.Expr:
    """The canonical event (DESIGN.md's field order) of each row of a complete event
    frame, as a struct; ``changes`` and ``metadata`` (JSON text) are spliced after."""
    has = set(columns)

    def col(name: str, dtype: type[pl.DataType] | pl.DataType = pl.String) -> pl.Expr:
        return pl.col(name) if name in has else pl.lit(None, dtype=dtype)

    targets = pl.col("targets").list.eval(
        pl.struct(
            id=pl.element().struct.field("id"),
            type=pl.element().struct.field("type"),
            name=pl.element().struct.field("name"),
        )
    )
    return pl.struct(
        event_id=pl.col("event_id"),
        tenant_id=pl.col("tenant_id"),
        seq=col("seq", pl.Int64),
        occurred_at=pl.col("occurred_at").dt.strftime(_TS),
        received_at=pl.col("received_at").dt.strftime(_TS) if "received_at" in has
        else pl.lit(None, pl.String),
        action=pl.col("action"),
        category=pl.col("category"),
        outcome=pl.col("outcome"),
        actor=pl.struct(
            id=pl.col("actor_id"), type=pl.col("actor_type"), name=pl.col("actor_name"),
            email=pl.col("actor_email"), roles=pl.col("actor_roles"),
        ),
        targets=targets,
        source=struct_or_null(
            ip=pl.col("source_ip"),
            user_agent=pl.col("user_agent"),
            geo=struct_or_null(
                country=pl.col("geo_country"), city=pl.col("geo_city"),
                lat=pl.col("geo_lat"), lon=pl.col("geo_lon"),
            ),
        ),
        observer=struct_or_null(
            service=pl.col("observer_service"), version=pl.col("observer_version"),
            region=pl.col("observer_region"),
        ),
        request_id=pl.col("request_id"),
        session_id=pl.col("session_id"),
        description=pl.col("description"),
    )  # fmt: skip
