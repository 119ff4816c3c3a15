"""What the SIEM formats share: severities, times, JSON cells, the product name.

Every SIEM format rates an event the same way (:data:`SEVERITY`): by its
outcome, one step higher for ``admin`` events (privilege and configuration
changes).  The formats differ only in their scale (CEF 0-10, LEEF 1-10, OCSF
``severity_id`` 1-6, syslog's levels).
"""

from __future__ import annotations

from typing import Any, Final

import orjson
import polars as pl

from auditkit.export._json import (
    drop_nulls_json,
    json_lists,
    json_text,
    struct_or_null,
    target_structs,
)
from auditkit.export.formats import _complete

__all__ = [
    "PRODUCT",
    "drop_nulls_json",
    "json_lists",
    "json_text",
    "struct_or_null",
    "target_structs",
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
