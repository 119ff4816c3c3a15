"""SQL tables of the hot tier, declared with SQLModel, and the triggers that
make the event table append-only inside the database itself.

Column names follow DESIGN.md so that any SQL tool can read the store.  Nested
objects are JSON text; ``canonical`` holds the RFC 8785 bytes that are hashed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "CheckpointRow",
    "EventRow",
    "MetaRow",
    "PurgeRow",
    "QuarantineRow",
    "TileRow",
    "TreeHeadRow",
    "immutability_ddl",
]


class EventRow(SQLModel, table=True):
    """One stored event; the primary key is ``(tenant_id, seq)``.

    Nested objects are stored as their RFC 8785 text; the record's canonical
    bytes are rebuilt from the columns (see :mod:`auditkit.record`).
    ``actor_id`` repeats ``actor.id`` for indexing and is checked against it.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "event_id", name="uq_events_tenant_event_id"),
        Index("ix_events_tenant_time", "tenant_id", "occurred_at"),
    )

    tenant_id: str = Field(primary_key=True, max_length=512)
    seq: int = Field(primary_key=True)
    event_id: str = Field(max_length=512)
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    action: str
    category: str
    outcome: str
    actor_id: str
    actor: str = Field(sa_column=Column(Text, nullable=False))
    targets: str | None = Field(default=None, sa_column=Column(Text))
    source: str | None = Field(default=None, sa_column=Column(Text))
    observer: str | None = Field(default=None, sa_column=Column(Text))
    request_id: str | None = None
    session_id: str | None = None
    description: str | None = Field(default=None, sa_column=Column(Text))
    changes: str | None = Field(default=None, sa_column=Column(Text))
    metadata_: str | None = Field(default=None, sa_column=Column("metadata", Text))


class TileRow(SQLModel, table=True):
    """Leaf hashes of ``TILE_WIDTH`` consecutive events, concatenated.

    Tiles are an index, not the truth: they are authenticated by recomputing the
    signed root from them, and let verification name the exact damaged ``seq``.
    """

    __tablename__ = "merkle_tiles"

    tenant_id: str = Field(primary_key=True, max_length=512)
    tile: int = Field(primary_key=True)
    leaves: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


TILE_WIDTH = 1024


class TreeHeadRow(SQLModel, table=True):
    """The tenant's current tree: size and the frontier (compact range) of its Merkle tree."""

    __tablename__ = "tree_heads"

    tenant_id: str = Field(primary_key=True, max_length=512)
    size: int
    root_hash: str
    frontier: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(SQLModel, table=True):
    """A signed tree head, written in the same transaction as the events it covers."""

    __tablename__ = "checkpoints"
    __table_args__ = (Index("ix_checkpoints_tenant_size", "tenant_id", "tree_size"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=512)
    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str


class MetaRow(SQLModel, table=True):
    """Store-wide settings: store id, public key, schema version."""

    __tablename__ = "store_meta"

    key: str = Field(primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))


class QuarantineRow(SQLModel, table=True):
    """An input record that was not stored, with where it came from and why."""

    __tablename__ = "quarantine"

    id: int | None = Field(default=None, primary_key=True)
    quarantined_at: str
    file: str | None = None
    line: int | None = None
    location: str | None = None
    field: str | None = None
    reason: str = Field(sa_column=Column(Text, nullable=False))
    record: str | None = Field(default=None, sa_column=Column(Text))


class PurgeRow(SQLModel, table=True):
    """A retention purge: events of ``tenant_id`` with ``seq < before_seq`` may be removed.

    The triggers allow a DELETE only for rows covered by such a record, and the
    purge is itself a signed, recorded event in the tenant's log (retention tier).
    """

    __tablename__ = "purges"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=512)
    before_seq: int
    event_id: str
    recorded_at: str


def immutability_ddl(dialect: str) -> list[str]:
    """Statements creating the triggers that refuse UPDATE and DELETE of events
    and checkpoints (a DELETE of events is allowed only under a recorded purge).

    Examples
    --------
    >>> any("BEFORE UPDATE ON events" in s for s in immutability_ddl("sqlite"))
    True
    """
    msg_update = "auditkit: events are immutable (UPDATE refused)"
    msg_delete = "auditkit: events are append-only (DELETE refused outside a recorded purge)"
    msg_cp = "auditkit: checkpoints are append-only"
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
                BEGIN SELECT RAISE(ABORT, '{msg_update}'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
                WHEN NOT EXISTS (SELECT 1 FROM purges p WHERE p.tenant_id = OLD.tenant_id
                                 AND OLD.seq < p.before_seq)
                BEGIN SELECT RAISE(ABORT, '{msg_delete}'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
                BEGIN SELECT RAISE(ABORT, '{msg_cp}'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
                BEGIN SELECT RAISE(ABORT, '{msg_cp}'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS purges_no_change BEFORE UPDATE ON purges
                BEGIN SELECT RAISE(ABORT, '{msg_cp}'); END""",
        ]
    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION auditkit_refuse_update() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION '{msg_update}'; END $$ LANGUAGE plpgsql""",
            f"""CREATE OR REPLACE FUNCTION auditkit_refuse_delete() RETURNS trigger AS $$
                BEGIN
                  IF EXISTS (SELECT 1 FROM purges p WHERE p.tenant_id = OLD.tenant_id
                             AND OLD.seq < p.before_seq) THEN RETURN OLD; END IF;
                  RAISE EXCEPTION '{msg_delete}';
                END $$ LANGUAGE plpgsql""",
            f"""CREATE OR REPLACE FUNCTION auditkit_refuse_change() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION '{msg_cp}'; END $$ LANGUAGE plpgsql""",
            "DROP TRIGGER IF EXISTS events_no_update ON events",
            """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                FOR EACH ROW EXECUTE FUNCTION auditkit_refuse_update()""",
            "DROP TRIGGER IF EXISTS events_no_delete ON events",
            """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
                FOR EACH ROW EXECUTE FUNCTION auditkit_refuse_delete()""",
            "DROP TRIGGER IF EXISTS events_no_truncate ON events",
            """CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
                FOR EACH STATEMENT EXECUTE FUNCTION auditkit_refuse_change()""",
            "DROP TRIGGER IF EXISTS checkpoints_no_change ON checkpoints",
            """CREATE TRIGGER checkpoints_no_change BEFORE UPDATE OR DELETE ON checkpoints
                FOR EACH ROW EXECUTE FUNCTION auditkit_refuse_change()""",
        ]
    raise ValueError(f"unsupported database dialect {dialect!r}")
