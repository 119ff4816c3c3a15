"""What the SIEM formats share: severities, times, JSON cells, the product name.

Every SIEM format rates an event the same way (:data:`SEVERITY`): by its
outcome, one step higher for ``admin`` events (privilege and configuration
changes).  The formats differ only in their scale (CEF 0-10, LEEF 1-10, OCSF
``severity_id`` 1-6, syslog's levels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import orjson
import polars as pl

from auditkit.export.formats import _complete

__all__ = [
    "PRODUCT",
    "SEVERITY",
    "VENDOR",
    "complete",
    "epoch_ms",
    "json_cells",
    "severity_expr",
    "version",
]

VENDOR: Final = "auditkit"
PRODUCT: Final = "auditkit"

#: Severity of an event on a 0-10 scale (CEF's), by outcome; ``admin`` events
#: get one more.
SEVERITY: Final[dict[str, int]] = {"success": 3, "failure": 6, "error": 5, "denied": 7}


def version() -> str:
    """auditkit's version (the ``device version`` of CEF and LEEF headers)."""
    from auditkit import __version__

    return __version__


def complete(frame: pl.DataFrame) -> pl.DataFrame:
    """The chunk with every frame column (absent optional ones null)."""
    return _complete(frame)


def severity_expr() -> pl.Expr:
    """The 0-10 severity of each event (see :data:`SEVERITY`)."""
    base = pl.col("outcome").replace_strict(SEVERITY, default=3, return_dtype=pl.Int32)
    return base + pl.when(pl.col("category") == "admin").then(1).otherwise(0)


def epoch_ms(column: str) -> pl.Expr:
    """Milliseconds since the epoch of a UTC datetime column."""
    return pl.col(column).dt.epoch("ms")


def json_cells(values: list[Any]) -> pl.Series:
    """JSON text of each value (lists, dicts), None where None; dict values that are
    None are left out (as in the canonical event)."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    dumps = orjson.dumps
    return pl.Series(
        [None if v is None else dumps(clean(v)).decode() for v in values], dtype=pl.String
    )


# -- JSON built column-wise ---------------------------------------------------------------
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
