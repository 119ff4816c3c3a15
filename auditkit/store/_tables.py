"""SQL tables of the hot tier, declared with SQLModel, and the triggers that
make the event table append-only inside the database itself.

Column names follow the canonical event (docs/schema.md) so that any SQL tool can read
the store.  Nested objects are JSON text; ``canonical`` holds the RFC 8785 bytes that are hashed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

__all__ = [
    "ACCESS_TABLES",
    "CheckpointRow",
    "DbRoleRow",
    "GrantRow",
    "PrincipalRow",
    "RedactionKeyRow",
    "TokenRow",
    "EventRow",
    "MetaRow",
    "PurgeRow",
    "STORE_VERSION",
    "TABLES_VERSION",
    "TILE_WIDTH",
    "UNUSUAL",
    "QuarantineRow",
    "RetentionPolicyRow",
    "TileRow",
    "TreeHeadRow",
    "events_delete_trigger",
    "immutability_ddl",
]


#: The condition of the partial index ``ix_events_unusual``; a query uses that index
#: only when its own WHERE clause holds this very term.
UNUSUAL = "outcome <> 'success'"


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
        # the events that did not succeed (a few in a hundred), by seq: the page of a
        # tenant's failures or denials is a seek instead of a walk back through
        # thousands of successes; it holds only those rows, so appends barely pay for it
        # each actor's events by seq: a page of one person's events is a seek, and
        # one of a person who did nothing is not a scan of the whole trail (an append
        # pays 4% for it, measured at 1M events)
        Index("ix_events_actor", "tenant_id", "actor_id", "seq"),
        Index(
            "ix_events_unusual",
            "tenant_id",
            "seq",
            sqlite_where=text(UNUSUAL),
            postgresql_where=text(UNUSUAL),
        ),
    )

    tenant_id: str = Field(primary_key=True, max_length=512)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
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
    tile: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    leaves: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


TILE_WIDTH = 1024

#: Version of the store's tables and triggers; a store of an earlier version is
#: upgraded to it when it is opened (3: ``ix_events_unusual``; 4: ``ix_events_actor``).
TABLES_VERSION = 4

#: Version of the store (``store_meta.store_version``).  5: the store holds a signed
#: tenant manifest (written at ``init``, or by the first append after an upgrade
#: from 4), so that one missing is a removal, not an older store.
STORE_VERSION = 5


class TreeHeadRow(SQLModel, table=True):
    """The tenant's current tree: size and the frontier (compact range) of its Merkle tree."""

    __tablename__ = "tree_heads"

    tenant_id: str = Field(primary_key=True, max_length=512)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root_hash: str
    frontier: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(SQLModel, table=True):
    """A signed tree head, written in the same transaction as the events it covers."""

    __tablename__ = "checkpoints"
    __table_args__ = (Index("ix_checkpoints_tenant_size", "tenant_id", "tree_size"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=512)
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False))
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
    """A signed statement that a range of a tenant's events left the hot tier:
    purged for good (``kind='purge'``) or sealed into a cold segment (``'seal'``).

    Rows are append-only.  The statement is an
    :class:`~auditkit.integrity.RangeStatement` signed with the store key, so a
    row written by anyone without the key is reported as a forged purge; the
    event rows it covers are deleted in the same transaction, through the only
    path the triggers leave open (see :func:`immutability_ddl`).
    """

    __tablename__ = "purges"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    tenant_id: str = Field(max_length=512)
    first_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    tree_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root_hash: str
    recorded_at: str
    detail: str = Field(sa_column=Column(Text, nullable=False))
    key_id: str
    signature: str


class RetentionPolicyRow(SQLModel, table=True):
    """A tenant's retention policy (``tenant_id = '*'``: the store default).

    The table holds the policies in force; every change is also an
    ``audit_retention.update`` event in the tenant's signed trail, which is what
    verification trusts (a row here is data, like any other).
    """

    __tablename__ = "retention_policies"

    tenant_id: str = Field(primary_key=True, max_length=512)
    hot_days: int | None = Field(default=None, sa_column=Column(BigInteger))
    keep_days: int | None = Field(default=None, sa_column=Column(BigInteger))
    legal_hold: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    hold_reason: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: str
    updated_by: str | None = None


# -- role-based access (auditkit.access) ----------------------------------------------
class PrincipalRow(SQLModel, table=True):
    """A person or service account that may be granted roles."""

    __tablename__ = "access_principals"

    principal_id: str = Field(primary_key=True, max_length=200)
    kind: str
    name: str | None = None
    email: str | None = None
    created_at: str
    disabled_at: str | None = None
    #: the store key's signature over the row's values (auditkit.store._access.AccessSeal)
    signature: str | None = Field(default=None, sa_column=Column(Text))


class GrantRow(SQLModel, table=True):
    """A role held by a principal on a tenant (``tenant_id = '*'``: store-wide).

    The table holds the current grants; their history is in each tenant's own
    trail (``role.grant`` and ``role.revoke`` events).
    """

    __tablename__ = "access_grants"

    principal_id: str = Field(primary_key=True, max_length=200)
    tenant_id: str = Field(primary_key=True, max_length=512)
    role: str = Field(primary_key=True, max_length=32)
    granted_at: str
    granted_by: str
    #: the store key's signature over the row's values
    signature: str | None = Field(default=None, sa_column=Column(Text))


class TokenRow(SQLModel, table=True):
    """An API token: its public id and the SHA-256 of its secret (never the secret)."""

    __tablename__ = "access_tokens"
    __table_args__ = (Index("ix_access_tokens_principal", "principal_id"),)

    token_id: str = Field(primary_key=True, max_length=32)
    principal_id: str = Field(max_length=200)
    secret_hash: str
    scopes: str | None = None
    tenants: str | None = Field(default=None, sa_column=Column(Text))
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    note: str | None = None
    #: the store key's signature over the row's values
    signature: str | None = Field(default=None, sa_column=Column(Text))


class RedactionKeyRow(SQLModel, table=True):
    """A tenant's redaction key (HMAC-SHA256), made when first needed."""

    __tablename__ = "access_redaction_keys"

    tenant_id: str = Field(primary_key=True, max_length=512)
    key: str
    created_at: str
    #: the store key's signature over the row's values
    signature: str | None = Field(default=None, sa_column=Column(Text))


class DbRoleRow(SQLModel, table=True):
    """A PostgreSQL role made for one tenant: row-level security lets it see that tenant only."""

    __tablename__ = "access_db_roles"

    role_name: str = Field(primary_key=True, max_length=63)
    tenant_id: str = Field(max_length=512)
    can_append: bool = False
    created_at: str
    #: the store key's signature over the row's values
    signature: str | None = Field(default=None, sa_column=Column(Text))


#: The access tables, created with a new store and on first use in an older one.
ACCESS_TABLES = [
    PrincipalRow.__table__,  # type: ignore[attr-defined]
    GrantRow.__table__,  # type: ignore[attr-defined]
    TokenRow.__table__,  # type: ignore[attr-defined]
    RedactionKeyRow.__table__,  # type: ignore[attr-defined]
    DbRoleRow.__table__,  # type: ignore[attr-defined]
]


def immutability_ddl(dialect: str) -> list[str]:
    """Statements creating the triggers that refuse UPDATE and DELETE of events,
    checkpoints and purge statements.

    No row of any table can open the way for a DELETE of events (a trigger that
    trusted a ``purges`` row would let anyone who can INSERT one delete a whole
    tenant).  The retention path removes the trigger, deletes the signed range
    and puts the trigger back inside one transaction, which only the database
    owner can do; verification then accepts the missing records only under a
    statement signed with the store key.

    Examples
    --------
    >>> any("BEFORE UPDATE ON events" in s for s in immutability_ddl("sqlite"))
    True
    """
    msg_update = "auditkit: events are immutable (UPDATE refused)"
    msg_delete = "auditkit: events are append-only (DELETE refused)"
    msg_cp = "auditkit: checkpoints are append-only"
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
                BEGIN SELECT RAISE(ABORT, '{msg_update}'); END""",
            *events_delete_trigger(dialect),
            f"""CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
                BEGIN SELECT RAISE(ABORT, '{msg_cp}'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
                BEGIN SELECT RAISE(ABORT, '{msg_cp}'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS purges_no_change BEFORE UPDATE ON purges
                BEGIN SELECT RAISE(ABORT, '{msg_cp}'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS purges_no_delete BEFORE DELETE ON purges
                BEGIN SELECT RAISE(ABORT, '{msg_cp}'); END""",
        ]
    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION auditkit_refuse_update() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION '{msg_update}'; END $$ LANGUAGE plpgsql""",
            f"""CREATE OR REPLACE FUNCTION auditkit_refuse_delete() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION '{msg_delete}'; END $$ LANGUAGE plpgsql""",
            f"""CREATE OR REPLACE FUNCTION auditkit_refuse_change() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION '{msg_cp}'; END $$ LANGUAGE plpgsql""",
            "DROP TRIGGER IF EXISTS events_no_update ON events",
            """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                FOR EACH ROW EXECUTE FUNCTION auditkit_refuse_update()""",
            "DROP TRIGGER IF EXISTS events_no_delete ON events",
            *events_delete_trigger(dialect),
            "DROP TRIGGER IF EXISTS events_no_truncate ON events",
            """CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
                FOR EACH STATEMENT EXECUTE FUNCTION auditkit_refuse_change()""",
            "DROP TRIGGER IF EXISTS checkpoints_no_change ON checkpoints",
            """CREATE TRIGGER checkpoints_no_change BEFORE UPDATE OR DELETE ON checkpoints
                FOR EACH ROW EXECUTE FUNCTION auditkit_refuse_change()""",
            "DROP TRIGGER IF EXISTS purges_no_change ON purges",
            """CREATE TRIGGER purges_no_change BEFORE UPDATE OR DELETE ON purges
                FOR EACH ROW EXECUTE FUNCTION auditkit_refuse_change()""",
            "DROP TRIGGER IF EXISTS checkpoints_no_truncate ON checkpoints",
            """CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
                FOR EACH STATEMENT EXECUTE FUNCTION auditkit_refuse_change()""",
        ]
    raise ValueError(f"unsupported database dialect {dialect!r}")


def events_delete_trigger(dialect: str) -> list[str]:
    """The statement(s) creating the trigger that refuses every DELETE of events
    (the retention path drops it and creates it again inside its transaction).

    Examples
    --------
    >>> "BEFORE DELETE ON events" in events_delete_trigger("sqlite")[0]
    True
    """
    msg = "auditkit: events are append-only (DELETE refused)"
    if dialect == "sqlite":
        return [
            f"""CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
                BEGIN SELECT RAISE(ABORT, '{msg}'); END"""
        ]
    return [
        """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION auditkit_refuse_delete()"""
    ]
