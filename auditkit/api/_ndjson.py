"""Event frames as JSON lines, serialised in Polars (vectorised, no Python per row).

The objects are the ones :func:`auditkit.export.frame_to_events` makes (the
fields of DESIGN.md in that order, absent ones omitted, never ``null``):
``orjson.loads`` of each line equals that function's dict.  Building them in
Python costs about 100 µs per event; here a page of 100,000 takes a fraction of
a second, which is what lets a bulk pull reach tens of thousands of events per
second.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from auditkit.export import json_line_safe

__all__ = ["json_lines"]

_TS: Final = "%Y-%m-%dT%H:%M:%S.%6fZ"


def _field(key: str, value: pl.Expr) -> pl.Expr:
    """``"key":<value as JSON>``, or null where the value is null."""
    encoded = pl.struct(value.alias(key)).struct.json_encode()
    # '{"key":' ... '}' -> '"key":' ...
    inner = encoded.str.strip_prefix("{").str.strip_suffix("}")
    return pl.when(value.is_not_null()).then(inner)


def _raw(key: str, value: pl.Expr) -> pl.Expr:
    """``"key":<value>`` for a column that already holds JSON text, or null."""
    return pl.when(value.is_not_null()).then(pl.lit(f'"{key}":') + value)


def _joined(names: list[str]) -> pl.Expr:
    """The non-null fragments among columns ``names``, comma-separated ("" if none)."""
    return pl.concat_str([pl.col(n) for n in names], separator=",", ignore_nulls=True).fill_null("")


def _target_object() -> pl.Expr:
    el = pl.element().struct
    fields = [_field(k, el.field(k)) for k in ("id", "type", "name")]
    body = pl.concat_str(fields, separator=",", ignore_nulls=True).fill_null("")
    return pl.lit("{") + body + pl.lit("}")


#: (object, key in the event, [(field key, frame column)]) of the flattened objects
_OBJECTS: Final = (
    ("geo", [("country", "geo_country"), ("city", "geo_city"), ("lat", "geo_lat"),
             ("lon", "geo_lon")]),
    ("actor", [("id", "actor_id"), ("type", "actor_type"), ("name", "actor_name"),
               ("email", "actor_email"), ("roles", "actor_roles")]),
    ("observer", [("service", "observer_service"), ("version", "observer_version"),
                  ("region", "observer_region")]),
)  # fmt: skip
_SCALARS: Final = (
    "event_id", "tenant_id", "seq", "occurred_at", "received_at", "action", "category",
    "outcome", "source_ip", "user_agent", "request_id", "session_id", "description",
)  # fmt: skip
_KEYS: Final = {"source_ip": "ip"}


def _lines(frame: pl.DataFrame) -> pl.LazyFrame:
    """Built in stages, so that every fragment is computed once."""
    schema = frame.schema
    lf = frame.lazy()

    def value(name: str) -> pl.Expr:
        if name not in schema:
            return pl.lit(None, dtype=pl.String)
        c = pl.col(name)
        return c.dt.strftime(_TS) if isinstance(schema[name], pl.Datetime) else c

    # 1. each scalar as '"key":value' (null when absent)
    frags = [_field(_KEYS.get(c, c), value(c)).alias(f"_f_{c}") for c in _SCALARS]
    for _, members in _OBJECTS:
        frags += [_field(k, value(c)).alias(f"_f_{c}") for k, c in members]
    frags += [_raw(c, value(c)).alias(f"_f_{c}") for c in ("changes", "metadata")]
    tgt: pl.Expr
    if "targets" in schema:
        items = pl.col("targets").list.eval(_target_object()).list.join(",")
        tgt = pl.when(pl.col("targets").is_not_null()).then(pl.lit('"targets":[') + items + "]")
    else:
        tgt = pl.lit(None, dtype=pl.String)
    frags.append(tgt.alias("_f_targets"))
    lf = lf.select(frags)
    # 2. the objects' bodies; an object with no field is absent (never '{}')
    lf = lf.with_columns(
        _joined([f"_f_{c}" for _, c in members]).alias(f"_b_{name}") for name, members in _OBJECTS
    )
    obj = {
        name: pl.when(pl.col(f"_b_{name}") != "").then(
            pl.lit(f'"{name}":{{') + pl.col(f"_b_{name}") + "}"
        )
        for name, _ in _OBJECTS
    }
    lf = lf.with_columns(obj["geo"].alias("_f_geo"), obj["actor"].alias("_f_actor"),
                         obj["observer"].alias("_f_observer"))  # fmt: skip
    lf = lf.with_columns(_joined(["_f_source_ip", "_f_user_agent", "_f_geo"]).alias("_b_source"))
    lf = lf.with_columns(
        pl.when(pl.col("_b_source") != "")
        .then(pl.lit('"source":{') + pl.col("_b_source") + "}")
        .alias("_f_source")
    )
    order = [
        "event_id", "tenant_id", "seq", "occurred_at", "received_at", "action", "category",
        "outcome", "actor", "targets", "source", "observer", "request_id", "session_id",
        "description", "changes", "metadata",
    ]  # fmt: skip
    return lf.select((pl.lit("{") + _joined([f"_f_{c}" for c in order]) + "}").alias("json"))


def json_lines(frame: pl.DataFrame) -> pl.Series:
    """One JSON object per event of ``frame`` (FRAME_SCHEMA columns), as text.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"event_id": "e1", "tenant_id": "acme",
    ...     "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
    ...     "actor": {"id": "u1"}, "metadata": {"k": 1}}])
    >>> json_lines(df).item()[:60]
    '{"event_id":"e1","tenant_id":"acme","seq":0,"occurred_at":"2'
    """
    if not frame.height:
        return pl.Series("json", [], dtype=pl.String)
    return _lines(frame).collect().to_series()


def ndjson_bytes(frame: pl.DataFrame) -> bytes:
    """The frame's events as NDJSON (one object and a newline per event).

    DEL, the C1 controls (NEL among them), U+2028 and U+2029, which JSON may hold raw
    but line readers (``str.splitlines``, JavaScript before ES2019) take for line
    breaks, are written as JSON escapes: each event is one line for every reader.
    """
    if not frame.height:
        return b""
    lines = json_lines(frame).to_frame().select(json_line_safe(pl.first())).to_series()
    return ("\n".join(lines.to_list()) + "\n").encode()
