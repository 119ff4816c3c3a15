"""Private helpers shared by detectors and insights."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

T = pl.col("occurred_at")


def _code(column: str) -> pl.Expr:
    return pl.col(column).fill_null("\x00").cast(pl.Categorical).to_physical().cast(pl.UInt64)


def codes(*columns: str) -> pl.Expr:
    """One ``UInt64`` per distinct combination of (one or two) ``columns``, in one frame.

    Grouping, joining and sorting on one integer is several times faster than on
    strings.  Each column gets its categorical code (below 2**32) and two codes are
    packed into one integer, so equal codes mean equal values; codes are only
    meaningful inside the frame they were computed on.
    """
    if len(columns) == 1:
        return _code(columns[0])
    if len(columns) == 2:
        return _code(columns[0]) * (1 << 32) + _code(columns[1])
    text = pl.concat_str([pl.col(c).fill_null("\x00") for c in columns], separator="\x1f")
    return text.cast(pl.Categorical).to_physical().cast(pl.UInt64)


def sessionize(lf: pl.LazyFrame, *, gap: timedelta) -> pl.LazyFrame:
    """Add ``_skey`` (a ``UInt64`` session number) and sort by it: sessions contiguous.

    An event belongs to its ``session_id`` (per tenant) when it has one; events of
    one actor without a ``session_id`` belong to one reconstructed session while
    consecutive events are no more than ``gap`` apart.  Needs ``tenant_id``,
    ``actor_id``, ``session_id`` and ``occurred_at``, or instead of the first three
    their codes ``_ak`` (actor) and ``_sk`` (session, null without one), so that
    callers can sort narrow numeric frames.  The rows of a session are adjacent and
    in time order (a ``session_id`` shared by several actors: actor by actor, in the
    order they joined it), ties in their input order, so that neither the sessions
    nor their order depend on the engine or on what the process computed before.
    """
    names = lf.collect_schema().names()
    if "_ak" not in names:
        lf = lf.with_columns(_ak=codes("tenant_id", "actor_id"))
    if "_sk" not in names:
        explicit = codes("tenant_id", "session_id")
        lf = lf.with_columns(_sk=pl.when(pl.col("session_id").is_not_null()).then(explicit))
    # two stable single-key sorts are much faster than one sort on two keys; stable
    # both, so that events at the same instant keep their order in the input (the
    # transitions of a session, and so the findings, must not depend on the engine)
    lf = lf.sort("occurred_at", maintain_order=True).sort("_ak", maintain_order=True)
    new = (pl.col("_ak") != pl.col("_ak").shift(1)).fill_null(True) | (
        (T - T.shift(1)) > gap
    ).fill_null(True)
    skey = (
        pl.when(pl.col("_sk").is_null())
        .then(new.cum_sum().cast(pl.UInt64))
        .otherwise(pl.col("_sk").cast(pl.UInt64) + (1 << 63))  # apart from rebuilt ones
    )
    # a session_id several actors share: actor by actor, in the order they joined it
    # (the user, then the system that expired it), each in time order.  Actor codes
    # follow whatever the process cast before, so the order must not come from them:
    # it would make the sessions, and the findings, depend on the engine and history
    joined = pl.col("occurred_at").min().over("_skey", "_ak").alias("_joined")
    return (
        lf.with_columns(_skey=skey)
        .with_columns(joined)
        .sort("_joined", maintain_order=True)
        .sort("_skey", maintain_order=True)
        .drop("_joined")
    )


def session_label() -> pl.Expr:
    """A readable session id: the ``session_id``, else ``~<actor_id>~<number>``."""
    rebuilt = pl.concat_str(
        pl.lit("~"), pl.col("actor_id"), pl.lit("~"), pl.col("_skey").cast(pl.String)
    )
    return pl.coalesce(pl.col("session_id"), rebuilt)
