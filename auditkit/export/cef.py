"""CEF (ArcSight Common Event Format, revision 25) and LEEF 2.0 (QRadar).

Both are one line per event: a ``|``-separated header, then ``key=value``
pairs.  Both are built column-wise in Polars (no Python loop over events).

CEF
---
``CEF:0|auditkit|auditkit|<version>|<action>|<action> <outcome>|<severity>|<extension>``

Header fields escape ``\\`` as ``\\\\`` and ``|`` as ``\\|``; extension values
escape ``\\`` as ``\\\\``, ``=`` as ``\\=``, and carriage return and line feed
as ``\\r`` and ``\\n`` (the header gets the same for CR and LF, which it cannot
hold either); every other control character (C0, DEL, C1: NUL, VT, FF, FS, GS, RS,
NEL...) and U+2028 and U+2029, which some readers take for line breaks, are written
as visible text (one backslash, ``u``, four lower-case hex digits: NUL as ``\\u0000``), in the
header and in values.  So one event is always one line whatever its text, also for
a reader that splits lines as Python's ``str.splitlines`` does.  Severity is
0-10: 3 for a success, 6 a failure, 5 an error, 7 a denial, one more for
``admin`` events.  Each canonical field has one key (absent fields are left
out; lists and objects are JSON):

==========================  ==========================================
canonical field             CEF key
==========================  ==========================================
``event_id``                ``externalId``
``tenant_id``               ``cs1`` (``cs1Label=tenant_id``)
``seq``                     ``cn1`` (``cn1Label=seq``)
``occurred_at``             ``rt`` (milliseconds since the epoch)
``received_at``             ``deviceCustomDate1`` (label ``received_at``)
``action``                  ``act`` (and the header's signature id)
``category``                ``cat``
``outcome``                 ``outcome``
``actor.id``                ``suid``
``actor.name``              ``suser``
``actor.email``             ``flexString2`` (label ``actor_email``)
``actor.type``              ``flexString1`` (label ``actor_type``)
``actor.roles``             ``spriv`` (JSON list)
``targets``                 ``cs2`` (label ``targets``, JSON list)
``source.ip``               ``src`` (IPv4) or ``c6a2`` (IPv6, label ``source_ip``)
``source.user_agent``       ``requestClientApplication``
``source.geo.lat``/``lon``  ``slat`` / ``slong``
``source.geo.country``      ``auditkitGeoCountry``
``source.geo.city``         ``auditkitGeoCity``
``observer.service``        ``dproc``
``observer.version``        ``auditkitObserverVersion``
``observer.region``         ``auditkitObserverRegion``
``request_id``              ``cs3`` (label ``request_id``)
``session_id``              ``cs4`` (label ``session_id``)
``changes``                 ``cs5`` (label ``changes``, JSON)
``metadata``                ``cs6`` (label ``metadata``, JSON)
``description``             ``msg``
==========================  ==========================================

The ``auditkit...`` keys are vendor extension keys (CEF allows them; ArcSight
keeps them as additional data).

LEEF 2.0
--------
``LEEF:2.0|auditkit|auditkit|<version>|<action>|x09|<attributes>``

Attributes are separated by a tab, declared in the header's delimiter field
(``x09``).  The header fields escape ``\\`` and ``|`` as CEF does; attribute
values escape ``\\``, tab, CR and LF as ``\\\\``, ``\\t``, ``\\r``, ``\\n``, and the
other control characters, U+2028 and U+2029 as ``\\u`` and four hex digits, as CEF does (a value
never holds the delimiter nor ends a line).  QRadar's predefined keys
carry what they mean: ``devTime`` (milliseconds since the epoch),
``devTimeFormat`` absent, ``cat`` (category), ``sev`` (1-10, as CEF's severity),
``usrName`` (actor.id), ``src`` (source.ip), ``realm`` (tenant_id), ``role``
(actor.roles, JSON), ``resource`` (the first target's id); every other field has
its own key (``eventId``, ``seq``, ``receivedAt``, ``action``, ``outcome``,
``actorName``, ``actorEmail``, ``actorType``, ``targets``, ``userAgent``,
``geoCountry``, ``geoCity``, ``geoLat``, ``geoLon``, ``observerService``,
``observerVersion``, ``observerRegion``, ``requestId``, ``sessionId``,
``description``, ``changes``, ``metadata``).

Examples
--------
>>> from auditkit.frame import events_to_frame
>>> df = events_to_frame([{"event_id": "e|1", "tenant_id": "acme",
...     "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
...     "actor": {"id": "a=b"}, "description": "line1\\nline2"}])
>>> line = cef_records(df)[0].decode()
>>> line[:60]
'CEF:0|auditkit|auditkit|0.1.0|user.login|user.login success|'
>>> "externalId=e|1" in line, "suid=a\\\\=b" in line, "msg=line1\\\\nline2" in line
(True, True, True)
>>> leef_records(df)[0].decode().split("\\t")[0]
'LEEF:2.0|auditkit|auditkit|0.1.0|user.login|x09|devTime=1767603600000'
"""

from __future__ import annotations

from typing import Final

import polars as pl

from auditkit.export._fields import (
    PRODUCT,
    VENDOR,
    complete,
    epoch_ms,
    json_lists,
    severity_expr,
    version,
)
from auditkit.export._json import escape_controls
from auditkit.export.formats import ExportFormat, records_of, register_export_format

__all__ = ["CEF_KEYS", "LEEF_KEYS", "cef_records", "leef_records"]

_TS: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"


# (one pass each: Aho-Corasick, leftmost match, so an escape is never escaped again;
# every other control character, NEL, U+2028 and U+2029 as the text \u and four hex digits)
_HEADER_ESCAPES: Final = {"\\": "\\\\", "|": "\\|", "\r": "\\r", "\n": "\\n"}
_CEF_ESCAPES: Final = {"\\": "\\\\", "=": "\\=", "\r": "\\r", "\n": "\\n"}
_LEEF_ESCAPES: Final = {"\\": "\\\\", "\t": "\\t", "\r": "\\r", "\n": "\\n"}


def _header(expr: pl.Expr) -> pl.Expr:
    return escape_controls(expr, _HEADER_ESCAPES)


def _cef_value(expr: pl.Expr) -> pl.Expr:
    return escape_controls(expr.cast(pl.String), _CEF_ESCAPES)


def _leef_value(expr: pl.Expr) -> pl.Expr:
    return escape_controls(expr.cast(pl.String), _LEEF_ESCAPES)


def _prepared(frame: pl.DataFrame) -> pl.DataFrame:
    """The chunk with text columns for the fields that are lists, objects or times."""
    df = complete(frame)
    extra = [
        json_lists(pl.col("actor_roles"), "roles").alias("_roles"),
        json_lists(pl.col("targets"), "targets").alias("_targets"),
    ]
    return df.with_columns(extra).with_columns(
        _first_target=pl.col("targets").list.first().struct.field("id"),
        _ipv6=pl.col("source_ip").str.contains(":"),
        _received=pl.col("received_at").dt.strftime(_TS)
        if "received_at" in df.columns
        else pl.lit(None, dtype=pl.String),
        _seq=pl.col("seq") if "seq" in df.columns else pl.lit(None, dtype=pl.Int64),
    )


#: CEF extension key -> the expression giving its value (None where absent).
CEF_KEYS: Final[dict[str, pl.Expr]] = {
    "externalId": pl.col("event_id"),
    "rt": epoch_ms("occurred_at"),
    "cat": pl.col("category"),
    "act": pl.col("action"),
    "outcome": pl.col("outcome"),
    "suid": pl.col("actor_id"),
    "suser": pl.col("actor_name"),
    "spriv": pl.col("_roles"),
    "src": pl.when(~pl.col("_ipv6")).then(pl.col("source_ip")),
    "c6a2": pl.when(pl.col("_ipv6")).then(pl.col("source_ip")),
    "requestClientApplication": pl.col("user_agent"),
    "slat": pl.col("geo_lat"),
    "slong": pl.col("geo_lon"),
    "dproc": pl.col("observer_service"),
    "msg": pl.col("description"),
    "cs1": pl.col("tenant_id"),
    "cs2": pl.col("_targets"),
    "cs3": pl.col("request_id"),
    "cs4": pl.col("session_id"),
    "cs5": pl.col("changes"),
    "cs6": pl.col("metadata"),
    "cn1": pl.col("_seq"),
    "deviceCustomDate1": pl.col("_received"),
    "flexString1": pl.col("actor_type"),
    "flexString2": pl.col("actor_email"),
    "auditkitGeoCountry": pl.col("geo_country"),
    "auditkitGeoCity": pl.col("geo_city"),
    "auditkitObserverVersion": pl.col("observer_version"),
    "auditkitObserverRegion": pl.col("observer_region"),
}
_CEF_LABELS: Final = {
    "cs1": "tenant_id", "cs2": "targets", "cs3": "request_id", "cs4": "session_id",
    "cs5": "changes", "cs6": "metadata", "cn1": "seq", "deviceCustomDate1": "received_at",
    "flexString1": "actor_type", "flexString2": "actor_email", "c6a2": "source_ip",
}  # fmt: skip


def _pairs(keys: dict[str, pl.Expr], escape: object, labels: dict[str, str]) -> list[pl.Expr]:
    """``key=value`` (with ``keyLabel=label`` before it), null where the value is null."""
    out: list[pl.Expr] = []
    for key, expr in keys.items():
        prefix = f"{key}Label={labels[key]} {key}=" if key in labels else f"{key}="
        out.append(pl.concat_str([pl.lit(prefix), escape(expr)]))  # type: ignore[operator]
    return out


def cef_records(frame: pl.DataFrame) -> list[bytes]:
    """One CEF line (bytes, no line end) per event of ``frame``."""
    return records_of(cef_lines)(frame)


def cef_lines(frame: pl.DataFrame) -> pl.Series:
    """One CEF line per event of ``frame`` (a String Series)."""
    df = _prepared(frame)
    head = pl.lit(f"CEF:0|{VENDOR}|{PRODUCT}|{version()}|")
    action = _header(pl.col("action"))
    line = pl.concat_str(
        [
            head,
            action,
            pl.lit("|"),
            action,
            pl.lit(" "),
            _header(pl.col("outcome")),
            pl.lit("|"),
            severity_expr().cast(pl.String),
            pl.lit("|"),
            pl.concat_str(_pairs(CEF_KEYS, _cef_value, _CEF_LABELS), separator=" ",
                          ignore_nulls=True),
        ]
    )  # fmt: skip
    return df.lazy().select(line).collect(engine="streaming").to_series()


#: LEEF attribute -> the expression giving its value (None where absent).
LEEF_KEYS: Final[dict[str, pl.Expr]] = {
    "devTime": epoch_ms("occurred_at"),
    "cat": pl.col("category"),
    "sev": severity_expr(),
    "usrName": pl.col("actor_id"),
    "src": pl.col("source_ip"),
    "realm": pl.col("tenant_id"),
    "role": pl.col("_roles"),
    "resource": pl.col("_first_target"),
    "eventId": pl.col("event_id"),
    "seq": pl.col("_seq"),
    "receivedAt": pl.col("_received"),
    "action": pl.col("action"),
    "outcome": pl.col("outcome"),
    "actorName": pl.col("actor_name"),
    "actorEmail": pl.col("actor_email"),
    "actorType": pl.col("actor_type"),
    "targets": pl.col("_targets"),
    "userAgent": pl.col("user_agent"),
    "geoCountry": pl.col("geo_country"),
    "geoCity": pl.col("geo_city"),
    "geoLat": pl.col("geo_lat"),
    "geoLon": pl.col("geo_lon"),
    "observerService": pl.col("observer_service"),
    "observerVersion": pl.col("observer_version"),
    "observerRegion": pl.col("observer_region"),
    "requestId": pl.col("request_id"),
    "sessionId": pl.col("session_id"),
    "description": pl.col("description"),
    "changes": pl.col("changes"),
    "metadata": pl.col("metadata"),
}


def leef_records(frame: pl.DataFrame) -> list[bytes]:
    """One LEEF 2.0 line (bytes, no line end) per event of ``frame``."""
    return records_of(leef_lines)(frame)


def leef_lines(frame: pl.DataFrame) -> pl.Series:
    """One LEEF 2.0 line per event of ``frame`` (a String Series)."""
    df = _prepared(frame)
    line = pl.concat_str(
        [
            pl.lit(f"LEEF:2.0|{VENDOR}|{PRODUCT}|{version()}|"),
            _header(pl.col("action")),
            pl.lit("|x09|"),
            pl.concat_str(_pairs(LEEF_KEYS, _leef_value, {}), separator="\t", ignore_nulls=True),
        ]
    )
    return df.lazy().select(line).collect(engine="streaming").to_series()


register_export_format(
    ExportFormat(
        "cef",
        ".cef",
        "text/plain",
        "ArcSight CEF, one event a line (documented key per field)",
        lines=cef_lines,
    )
)
register_export_format(
    ExportFormat(
        "leef",
        ".leef",
        "text/plain",
        "QRadar LEEF 2.0, tab-delimited, one event a line",
        lines=leef_lines,
    )
)
