"""syslog (RFC 5424) lines carrying each event as structured data and JSON.

One line per event::

    <PRI>1 TIMESTAMP HOSTNAME auditkit - MSGID [auditkit@32473 ...] BOM{"event_id":...}

* ``PRI`` is facility 13 (log audit) times 8 plus a severity: 6 (informational)
  for a success, 5 (notice) for a successful ``admin`` event, 4 (warning) for a
  failure or a denial, 3 (error) for an error;
* ``TIMESTAMP`` is ``occurred_at`` (RFC 3339, microseconds, UTC);
* ``HOSTNAME`` is ``observer.service`` (characters outside printable ASCII
  become ``_``, at most 255) or ``-``; ``APP-NAME`` is ``auditkit``, ``PROCID``
  ``-``, and ``MSGID`` the action (at most 32 characters, those outside printable
  ASCII as ``_``);
* the structured data element ``auditkit@32473`` holds ``tenant_id``,
  ``event_id``, ``seq``, ``action``, ``category``, ``outcome`` and
  ``actor_id``; values escape ``"``, ``\\`` and ``]`` with a backslash (RFC 5424
  section 6.3.3), CR and LF as ``\\r`` and ``\\n``, and every other control
  character (C0, DEL, C1), U+2028 and U+2029 as ``\\u`` and four hex digits (NUL
  as ``\\u0000``), so that a line stays
  one line for every reader (``str.splitlines`` also splits at VT, FF, FS, GS, RS,
  NEL, U+2028 and U+2029).  32473 is the private enterprise number RFC 5612 reserves for examples:
  change :data:`SD_ID` if your organisation has its own;
* ``MSG`` is the UTF-8 byte order mark and the canonical event as JSON (control
  characters, NEL, U+2028 and U+2029 escaped by JSON), what ``auditkit ingest``
  reads back.

The push destination ``syslog+tcp`` frames each line with RFC 6587 octet
counting; a file holds one line per event.

Examples
--------
>>> from auditkit.frame import events_to_frame
>>> df = events_to_frame([{"event_id": "e1", "tenant_id": 'ac"me]',
...     "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
...     "actor": {"id": "u1"}, "outcome": "failure"}])
>>> line = syslog_records(df)[0].decode()
>>> line[:48]
'<108>1 2026-01-05T09:00:00.000000Z - auditkit - '
>>> line[48:109]
'user.login [auditkit@32473 tenant_id="ac\\\\"me\\\\]" event_id="e1"'
"""

from __future__ import annotations

import re
from typing import Any, Final

import polars as pl

from auditkit.export._json import CONTROLS, escape_controls
from auditkit.export.formats import (
    ExportFormat,
    canonical_lines,
    records_of,
    register_export_format,
)
from auditkit.export.formats import (
    _complete as complete,
)

__all__ = ["SD_ID", "sd_escape", "syslog_records"]

#: The structured data element's id (name@private enterprise number).
SD_ID: Final = "auditkit@32473"
_FACILITY: Final = 13
_LEVEL: Final = {"success": 6, "failure": 4, "denied": 4, "error": 3}
_SD_MAP: Final = {'"': '\\"', "\\": "\\\\", "]": "\\]", "\r": "\\r", "\n": "\\n"}
#: every other control character, NEL, U+2028 and U+2029: written as ``\u`` and four hex digits
_SD_SPECIAL: Final = re.compile("[" + "".join(map(re.escape, {*_SD_MAP, *CONTROLS})) + "]")
_NOT_HOST: Final = re.compile(r"[^\x21-\x7e]")
_BOM: Final = b"\xef\xbb\xbf"


def sd_escape(value: str) -> str:
    """A structured-data parameter value, escaped (RFC 5424 section 6.3.3).

    Examples
    --------
    >>> sd_escape('a"b]c\\\\d\\ne')
    'a\\\\"b\\\\]c\\\\\\\\d\\\\ne'
    """
    return _SD_SPECIAL.sub(_sd_char, value)


def _sd_char(m: re.Match[str]) -> str:
    char = m.group()
    return _SD_MAP.get(char) or f"\\u{ord(char):04x}"


def _host(service: Any) -> str:
    if not isinstance(service, str) or not service:
        return "-"
    return _NOT_HOST.sub("_", service)[:255]


def syslog_records(frame: pl.DataFrame) -> list[bytes]:
    """One RFC 5424 line (bytes, no line end) per event of ``frame``, built column-wise."""
    return records_of(syslog_lines)(frame)


def syslog_lines(frame: pl.DataFrame) -> pl.Series:
    """One RFC 5424 line per event of ``frame`` (a String Series)."""
    df = complete(frame)
    df = df.with_columns(canonical_lines(df).alias("_canonical"))
    level = (
        pl.col("outcome")
        .replace_strict(_LEVEL, default=6, return_dtype=pl.Int64)
        .pipe(lambda e: pl.when((e == 6) & (pl.col("category") == "admin")).then(5).otherwise(e))
    )
    host = (
        pl.when(pl.col("observer_service").is_null() | (pl.col("observer_service") == ""))
        .then(pl.lit("-"))
        .otherwise(pl.col("observer_service").str.replace_all(_NOT_HOST.pattern, "_").str.head(255))
    )
    # MSGID is 1*32 printable ASCII; ingestion's check of an action lets a final line
    # end through, which would split the event's line in two (and a space its header)
    msgid = pl.col("action").str.replace_all(_NOT_HOST.pattern, "_").str.head(32)
    seq = pl.col("seq").cast(pl.String) if "seq" in df.columns else pl.lit(None, pl.String)
    params = [
        ("tenant_id", pl.col("tenant_id")), ("event_id", pl.col("event_id")), ("seq", seq),
        ("action", pl.col("action")), ("category", pl.col("category")),
        ("outcome", pl.col("outcome")), ("actor_id", pl.col("actor_id")),
    ]  # fmt: skip
    sd = pl.concat_str(
        [pl.lit(f'{k}="') + _sd_expr(v) + pl.lit('"') for k, v in params],
        separator=" ",
        ignore_nulls=True,
    )
    line = pl.concat_str(
        [
            pl.lit("<"), (level + _FACILITY * 8).cast(pl.String), pl.lit(">1 "),
            pl.col("occurred_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"), pl.lit(" "), host,
            pl.lit(" auditkit - "), msgid, pl.lit(f" [{SD_ID} "), sd,
            pl.lit("] \ufeff"), pl.col("_canonical"),
        ]
    )  # fmt: skip
    return df.lazy().select(line).collect(engine="streaming").to_series()


def _sd_expr(expr: pl.Expr) -> pl.Expr:
    return escape_controls(expr, _SD_MAP)


register_export_format(
    ExportFormat(
        "syslog",
        ".log",
        "text/plain",
        "syslog RFC 5424 lines: structured data and the event as JSON",
        lines=syslog_lines,
    )
)
