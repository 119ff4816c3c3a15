"""Event frames: the Polars view of canonical events that analysis reads.

A frame is decoded from the canonical JSON bytes that the store hashes, so
each of its columns says exactly what the verified bytes say (see
:data:`auditkit.schema.FRAME_SCHEMA`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import polars as pl

from auditkit.schema import FRAME_SCHEMA

__all__ = ["decode_canonical", "events_to_frame"]

_TARGET = pl.Struct({"id": pl.String, "type": pl.String, "name": pl.String})
_DECODE_DTYPE = pl.Struct(
    {
        "tenant_id": pl.String,
        "seq": pl.Int64,
        "event_id": pl.String,
        "occurred_at": pl.String,
        "received_at": pl.String,
        "action": pl.String,
        "category": pl.String,
        "outcome": pl.String,
        "actor": pl.Struct(
            {
                "id": pl.String,
                "type": pl.String,
                "name": pl.String,
                "email": pl.String,
                "roles": pl.List(pl.String),
            }
        ),
        "targets": pl.List(_TARGET),
        "source": pl.Struct(
            {
                "ip": pl.String,
                "user_agent": pl.String,
                "geo": pl.Struct(
                    {"country": pl.String, "city": pl.String, "lat": pl.Float64, "lon": pl.Float64}
                ),
            }
        ),
        "observer": pl.Struct({"service": pl.String, "version": pl.String, "region": pl.String}),
        "request_id": pl.String,
        "session_id": pl.String,
        "description": pl.String,
    }
)


def _ts(col: pl.Expr) -> pl.Expr:
    return col.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC")


def decode_canonical(frame: pl.DataFrame | pl.LazyFrame, column: str = "canonical") -> pl.LazyFrame:
    """Decode a column of canonical event JSON into an event frame (lazy).

    The result has exactly the columns of :data:`~auditkit.schema.FRAME_SCHEMA`.
    ``changes`` and ``metadata`` stay JSON text (query them with
    ``pl.col("metadata").str.json_path_match("$.role")``).

    Examples
    --------
    >>> import polars as pl
    >>> raw = pl.DataFrame({"canonical": [
    ...     '{"action":"user.login","actor":{"id":"u1"},"category":"management",'
    ...     '"event_id":"e1","occurred_at":"2026-01-05T09:00:00.000000Z","outcome":"success",'
    ...     '"received_at":"2026-01-05T09:00:01.000000Z","seq":0,"tenant_id":"acme"}']})
    >>> decode_canonical(raw).select("tenant_id", "seq", "actor_id").collect().row(0)
    ('acme', 0, 'u1')
    """
    lf = frame.lazy()
    c = pl.col(column)
    decoded = lf.select(
        c.str.json_decode(_DECODE_DTYPE).alias("_e"),
        c.str.json_path_match("$.changes").alias("changes"),
        c.str.json_path_match("$.metadata").alias("metadata"),
    ).unnest("_e")
    actor = pl.col("actor").struct
    source = pl.col("source").struct
    geo = source.field("geo").struct
    observer = pl.col("observer").struct
    first_target = pl.col("targets").list.first().struct
    return decoded.select(
        "tenant_id",
        "seq",
        "event_id",
        _ts(pl.col("occurred_at")).alias("occurred_at"),
        _ts(pl.col("received_at")).alias("received_at"),
        "action",
        "category",
        "outcome",
        actor.field("id").alias("actor_id"),
        actor.field("type").alias("actor_type"),
        actor.field("name").alias("actor_name"),
        actor.field("email").alias("actor_email"),
        actor.field("roles").alias("actor_roles"),
        "targets",
        first_target.field("id").alias("target_id"),
        first_target.field("type").alias("target_type"),
        source.field("ip").alias("source_ip"),
        source.field("user_agent").alias("user_agent"),
        geo.field("country").alias("geo_country"),
        geo.field("city").alias("geo_city"),
        geo.field("lat").alias("geo_lat"),
        geo.field("lon").alias("geo_lon"),
        observer.field("service").alias("observer_service"),
        observer.field("version").alias("observer_version"),
        observer.field("region").alias("observer_region"),
        "request_id",
        "session_id",
        "description",
        "changes",
        "metadata",
    )


def events_to_frame(
    events: Iterable[Mapping[str, Any]], *, received_at: str | None = None
) -> pl.DataFrame:
    """Build an event frame from canonical event dicts, without a store.

    Events are validated with :func:`~auditkit.schema.normalize_event`; ``seq`` is
    numbered per tenant in the given order when absent, and ``received_at``
    defaults to ``occurred_at``.  Handy for tests and for analysing files
    directly.

    Examples
    --------
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> df.select("seq", "action", "category", "outcome").row(0)
    (0, 'user.login', 'management', 'success')
    """
    from auditkit.schema import normalize_event

    counters: dict[str, int] = {}
    lines = []
    for raw in events:
        seq = raw.get("seq")
        rec = normalize_event({k: v for k, v in raw.items() if k not in ("seq", "received_at")})
        tenant = rec["tenant_id"]
        if seq is None:
            seq = counters.get(tenant, 0)
        counters[tenant] = int(seq) + 1
        rec["seq"] = int(seq)
        rec["received_at"] = raw.get("received_at") or received_at or rec["occurred_at"]
        lines.append(orjson.dumps(rec, option=orjson.OPT_SORT_KEYS).decode())
    frame = decode_canonical(pl.DataFrame({"canonical": lines}, schema={"canonical": pl.String}))
    return frame.collect().cast(dict(FRAME_SCHEMA))  # type: ignore[arg-type]
