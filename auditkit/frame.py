"""Event frames: the Polars view of stored events that analysis reads.

A frame is built from the stored columns whose rebuilt canonical bytes were
hashed and checked against the signed tree, so each of its columns says
exactly what the verified record says (see :data:`auditkit.schema.FRAME_SCHEMA`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import polars as pl

from auditkit.record import STORED_SCHEMA
from auditkit.schema import FRAME_SCHEMA

__all__ = ["as_event_frame", "events_to_frame", "frame_from_rows"]

_TARGET = pl.Struct({"id": pl.String, "type": pl.String, "name": pl.String})
_ACTOR = pl.Struct(
    {
        "id": pl.String,
        "type": pl.String,
        "name": pl.String,
        "email": pl.String,
        "roles": pl.List(pl.String),
    }
)
_SOURCE = pl.Struct(
    {
        "ip": pl.String,
        "user_agent": pl.String,
        "geo": pl.Struct(
            {"country": pl.String, "city": pl.String, "lat": pl.Float64, "lon": pl.Float64}
        ),
    }
)
_OBSERVER = pl.Struct({"service": pl.String, "version": pl.String, "region": pl.String})


def _ts(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC")
    return col.cast(pl.Datetime("us", "UTC"))


_DECODED: tuple[tuple[str, pl.DataType], ...] = (
    ("actor", _ACTOR),
    ("source", _SOURCE),
    ("observer", _OBSERVER),
    ("targets", pl.List(_TARGET)),
)


def _decode_distinct(texts: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Decode a column of JSON texts to ``dtype``, each distinct text once.

    Audit trails repeat the same actors, sources and observers over and over
    (250,000 sample events have 72 distinct actors, 166 sources, 43 observers),
    and decoding JSON costs about 1 µs per value where hashing a string to find
    its distinct value costs a few dozen ns: this makes decoding a frame ~5x
    cheaper.  The values are those of decoding every row.
    """
    distinct = texts.drop_nulls().unique()
    if distinct.len() * 2 > texts.len():  # mostly distinct: nothing to share
        return texts.str.json_decode(dtype)
    codes = texts.replace_strict(
        distinct, pl.int_range(distinct.len(), eager=True, dtype=pl.UInt32), default=None
    )
    return distinct.str.json_decode(dtype).gather(codes).alias(texts.name)


def frame_from_rows(
    rows: pl.DataFrame | pl.LazyFrame, *, extra: Sequence[pl.Expr] = ()
) -> pl.LazyFrame:
    """Turn stored event rows into an event frame (lazy), with FRAME_SCHEMA columns.

    ``extra`` expressions (over the stored columns, or the decoded ``_actor``,
    ``_source``, ``_observer`` and ``_targets``) are added after the frame's columns:
    verification computes the leaf hashes in the same parallel pass as the decoding.

    Examples
    --------
    >>> import polars as pl
    >>> rows = pl.DataFrame({"tenant_id": ["acme"], "seq": [0], "event_id": ["e1"],
    ...     "occurred_at": ["2026-01-05T09:00:00.000000Z"],
    ...     "received_at": ["2026-01-05T09:00:01.000000Z"], "action": ["user.login"],
    ...     "category": ["management"], "outcome": ["success"], "actor_id": ["u1"],
    ...     "actor": ['{"id":"u1","type":"user"}'], "targets": [None], "source": [None],
    ...     "observer": [None], "request_id": [None], "session_id": [None],
    ...     "description": [None], "changes": [None], "metadata": ['{"k":1}']},
    ...     schema=STORED_SCHEMA)
    >>> frame_from_rows(rows).select("actor_id", "actor_type", "metadata").collect().row(0)
    ('u1', 'user', '{"k":1}')
    """
    lf = rows.lazy()
    schema = lf.collect_schema()
    actor = pl.col("_actor").struct
    source = pl.col("_source").struct
    geo = source.field("geo").struct
    observer = pl.col("_observer").struct
    first = pl.col("_targets").list.first().struct
    return (
        lf.with_columns(
            pl.col(column)
            .map_batches(partial(_decode_distinct, dtype=dtype), return_dtype=dtype)
            .alias(f"_{column}")
            for column, dtype in _DECODED
        )
        .select(
            pl.col("tenant_id").cast(pl.String),
            pl.col("seq").cast(pl.Int64),
            "event_id",
            _ts("occurred_at", schema["occurred_at"]).alias("occurred_at"),
            _ts("received_at", schema["received_at"]).alias("received_at"),
            "action",
            "category",
            "outcome",
            pl.col("actor_id"),
            actor.field("type").alias("actor_type"),
            actor.field("name").alias("actor_name"),
            actor.field("email").alias("actor_email"),
            actor.field("roles").alias("actor_roles"),
            pl.col("_targets").alias("targets"),
            first.field("id").alias("target_id"),
            first.field("type").alias("target_type"),
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
            *extra,
        )
        .cast(dict(FRAME_SCHEMA))  # type: ignore[arg-type]
    )


def events_to_frame(
    events: Iterable[Mapping[str, Any]], *, received_at: str | None = None
) -> pl.DataFrame:
    """Build an event frame from canonical event dicts, without a store.

    Events are validated with :func:`~auditkit.schema.normalize_event`; ``seq`` is
    numbered per tenant in the given order when absent, and ``received_at``
    defaults to ``occurred_at``.  It goes through the same row layout as the
    store, so the frame equals what a store would load.

    Examples
    --------
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> df.select("seq", "action", "category", "outcome").row(0)
    (0, 'user.login', 'management', 'success')
    """
    from auditkit.record import event_row
    from auditkit.schema import normalize_event, parse_timestamp

    counters: dict[str, int] = {}
    rows = []
    for raw in events:
        seq = raw.get("seq")
        rec = normalize_event({k: v for k, v in raw.items() if k not in ("seq", "received_at")})
        tenant = rec["tenant_id"]
        if seq is None:
            seq = counters.get(tenant, 0)
        counters[tenant] = int(seq) + 1
        got = raw.get("received_at") or received_at
        recv = parse_timestamp(got, field="received_at") if got else rec["occurred_at"]
        rows.append(event_row(rec, int(seq), recv)[0])
    df = pl.DataFrame(rows, schema=STORED_SCHEMA, orient="row")
    return frame_from_rows(df).collect()


def as_event_frame(events: Any) -> pl.DataFrame | pl.LazyFrame:
    """An event frame as Polars, whatever it came as: a Polars DataFrame or
    LazyFrame (returned as it is) or a pandas DataFrame (converted, with the
    columns cast to :data:`~auditkit.schema.FRAME_SCHEMA`), so that every public
    function that takes an event frame takes a pandas one too.

    Examples
    --------
    >>> frame = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                           "action": "user.login", "actor": {"id": "u1"}}])
    >>> back = as_event_frame(frame.to_pandas())
    >>> back.schema == frame.schema, back.row(0) == frame.row(0)
    (True, True)
    """
    if isinstance(events, pl.DataFrame | pl.LazyFrame):
        return events
    import pandas as pd

    if isinstance(events, pd.DataFrame):
        frame = pl.from_pandas(events)
        casts = {c: t for c, t in FRAME_SCHEMA.items() if c in frame.columns}
        return frame.cast(casts)  # type: ignore[arg-type]
    raise TypeError(
        f"expected an event frame (Polars or pandas DataFrame), got {type(events).__name__}"
    )
