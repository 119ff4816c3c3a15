"""Database backends of the hot tier: the embedded SQLite file and PostgreSQL.

SQLModel declares the tables and creates them; bulk paths use the DB-API driver
directly (``executemany`` / ``COPY``) and reads go through ADBC into Arrow and
Polars, which is what makes millions of events fast (see NOTES.md).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from auditkit.errors import StoreError
from auditkit.record import STORED_COLUMNS as EVENT_COLUMNS
from auditkit.store._tables import (
    CheckpointRow,
    EventRow,
    MetaRow,
    PurgeRow,
    QuarantineRow,
    TileRow,
    TreeHeadRow,
    immutability_ddl,
)

__all__ = ["Backend", "open_backend"]

_TABLES = [
    EventRow.__table__,  # type: ignore[attr-defined]
    TileRow.__table__,  # type: ignore[attr-defined]
    TreeHeadRow.__table__,  # type: ignore[attr-defined]
    CheckpointRow.__table__,  # type: ignore[attr-defined]
    MetaRow.__table__,  # type: ignore[attr-defined]
    QuarantineRow.__table__,  # type: ignore[attr-defined]
    PurgeRow.__table__,  # type: ignore[attr-defined]
]


_BUSY_TIMEOUT_MS = 60_000


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Backend:
    """A connection factory for one store location.

    Attributes
    ----------
    dialect
        ``"sqlite"`` or ``"postgresql"``.
    location
        What the user gave: a file path or a database URL.
    """

    dialect: str
    location: str
    sqlalchemy_url: str
    adbc_uri: str
    path: str | None = None
    _engine: Engine | None = None

    # -- connections -------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (DDL and small queries)."""
        if self._engine is None:
            if self.dialect == "sqlite":
                # No pooled connections: SQLite's POSIX locks are per process, and the ADBC
                # reader carries its own copy of SQLite; a lingering pooled connection
                # would lose its locks when the reader closes the file.
                eng = create_engine(self.sqlalchemy_url, poolclass=NullPool)
            else:
                eng = create_engine(self.sqlalchemy_url, pool_pre_ping=True)
            if self.dialect == "sqlite":

                @event.listens_for(eng, "connect")
                def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                    cur = dbapi_conn.cursor()
                    cur.execute("PRAGMA busy_timeout = 60000")
                    cur.close()

            self._engine = eng
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def ph(self) -> str:
        """The DB-API parameter marker of this backend (`?` or `%s`)."""
        return "?" if self.dialect == "sqlite" else "%s"

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A raw DB-API connection in manual-transaction mode."""
        try:
            if self.dialect == "sqlite":
                assert self.path is not None
                conn: Any = sqlite3.connect(self.path, timeout=60, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 60000")
                conn.execute("PRAGMA synchronous = NORMAL")
            else:
                import psycopg

                conn = psycopg.connect(self.adbc_uri, autocommit=False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.location}: cannot open the database: {exc}") from exc
        except Exception as exc:  # psycopg.OperationalError and friends
            raise StoreError(f"{self.location}: cannot connect: {exc}") from exc
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write_transaction(self, conn: Any) -> Iterator[Any]:
        """A write transaction; on SQLite ``BEGIN IMMEDIATE`` serialises writers."""
        cur = conn.cursor()
        if self.dialect == "sqlite":
            cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            conn.rollback() if self.dialect != "sqlite" else cur.execute("ROLLBACK")
            raise
        else:
            if self.dialect == "sqlite":
                cur.execute("COMMIT")
            else:
                conn.commit()
        finally:
            cur.close()

    def lock_tenant(self, cur: Any, tenant: str, empty_root: str) -> tuple[int, str, bytes]:
        """Lock the tenant's tree head for this transaction and return it."""
        ph = self.ph
        if self.dialect == "sqlite":
            cur.execute(
                f"INSERT OR IGNORE INTO tree_heads (tenant_id, size, root_hash, frontier) "
                f"VALUES ({ph}, 0, {ph}, {ph})",
                (tenant, empty_root, b""),
            )
            cur.execute(
                f"SELECT size, root_hash, frontier FROM tree_heads WHERE tenant_id = {ph}",
                (tenant,),
            )
        else:
            cur.execute(
                "INSERT INTO tree_heads (tenant_id, size, root_hash, frontier) "
                "VALUES (%s, 0, %s, %s) ON CONFLICT DO NOTHING",
                (tenant, empty_root, b""),
            )
            cur.execute(
                "SELECT size, root_hash, frontier FROM tree_heads WHERE tenant_id = %s FOR UPDATE",
                (tenant,),
            )
        size, root, frontier = cur.fetchone()
        return int(size), str(root), bytes(frontier)

    def insert_events(self, cur: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert event rows (in :data:`EVENT_COLUMNS` order)."""
        cols = ", ".join(EVENT_COLUMNS)
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(EVENT_COLUMNS))
            cur.executemany(f"INSERT INTO events ({cols}) VALUES ({marks})", rows)
        else:
            with cur.copy(f"COPY events ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def upsert_tiles(self, cur: Any, tenant: str, tiles: Sequence[tuple[int, bytes]]) -> None:
        """Write (replace) Merkle tiles of a tenant."""
        if self.dialect == "sqlite":
            cur.executemany(
                "INSERT OR REPLACE INTO merkle_tiles (tenant_id, tile, leaves) VALUES (?, ?, ?)",
                [(tenant, i, blob) for i, blob in tiles],
            )
        else:
            cur.executemany(
                "INSERT INTO merkle_tiles (tenant_id, tile, leaves) VALUES (%s, %s, %s) "
                "ON CONFLICT (tenant_id, tile) DO UPDATE SET leaves = EXCLUDED.leaves",
                [(tenant, i, blob) for i, blob in tiles],
            )

    # -- bulk reads --------------------------------------------------------------
    def read(self, query: str, *, batch_rows: int = 1 << 20) -> pl.DataFrame:
        """Run a SELECT through ADBC and return a Polars frame.

        SQLite has no column types per value, and the ADBC driver infers them from
        its first batch; one batch of ``batch_rows`` rows keeps a column that starts
        with NULLs from being mistyped.
        """
        try:
            if self.dialect == "sqlite":
                import adbc_driver_sqlite.dbapi as adbc

                with adbc.connect(self.path) as conn, conn.cursor() as cur:
                    # wait, as the other connections do, instead of failing at once when
                    # a connection that closes (checkpointing the WAL) holds a lock for a
                    # moment: loads read the next chunk while verifying the previous one
                    cur.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                    cur.fetchall()
                    cur.adbc_statement.set_options(
                        **{"adbc.sqlite.query.batch_rows": str(batch_rows)}
                    )
                    cur.execute(query)
                    table = cur.fetch_arrow_table()
                return pl.DataFrame(table)
            import adbc_driver_postgresql.dbapi as adbc_pg

            with adbc_pg.connect(self.adbc_uri) as conn, conn.cursor() as cur:
                cur.execute(query)
                table = cur.fetch_arrow_table()
            return pl.DataFrame(table)
        except Exception as exc:
            raise StoreError(f"{self.location}: query failed: {exc}") from exc

    def q(self, value: str) -> str:
        """Quote a string literal for SQL built by auditkit itself."""
        return _quote(value)

    # -- schema ------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the tables and the immutability triggers."""
        if self.dialect == "sqlite":
            # 16 KiB pages (before anything is written; WAL fixes the size afterwards):
            # event rows are 1-3 KiB, and a source record kept whole in metadata makes
            # them larger; measured, ingest runs 5-10 % faster than with 4 KiB pages.
            with self.connect() as conn:
                if not conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    conn.execute("PRAGMA page_size = 16384")
                    conn.execute("VACUUM")
        try:
            SQLModel.metadata.create_all(self.engine, tables=_TABLES)
            with self.engine.begin() as conn:
                for stmt in immutability_ddl(self.dialect):
                    conn.execute(text(stmt))
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: cannot create the store: {exc}") from exc
        if self.dialect == "sqlite":
            with self.connect() as conn:
                conn.execute("PRAGMA journal_mode = WAL")

    def has_schema(self) -> bool:
        """Whether the store's tables exist."""
        try:
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    found = conn.execute(
                        text(
                            "SELECT name FROM sqlite_master WHERE type='table' "
                            "AND name='store_meta'"
                        )
                    ).fetchall()
                else:
                    found = conn.execute(text("SELECT to_regclass('store_meta')")).fetchall()
                    found = [r for r in found if r[0] is not None]
            return bool(found)
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: cannot open the store: {exc}") from exc


def open_backend(location: str) -> Backend:
    """Parse a store location: a file path (SQLite) or a database URL.

    Examples
    --------
    >>> open_backend("audit.db").dialect
    'sqlite'
    >>> b = open_backend("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    >>> b.dialect, b.adbc_uri
    ('postgresql', 'postgresql://postgres@127.0.0.1:5432/test')
    """
    if "://" not in location:
        path = os.path.abspath(location)
        return Backend("sqlite", location, f"sqlite:///{path}", path, path=path)
    url = make_url(location)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = os.path.abspath(url.database or "")
        return Backend("sqlite", location, f"sqlite:///{path}", path, path=path)
    if backend in ("postgresql", "postgres"):
        sa_url = url.set(drivername="postgresql+psycopg")
        plain = url.set(drivername="postgresql")
        return Backend(
            "postgresql",
            location,
            sa_url.render_as_string(hide_password=False),
            plain.render_as_string(hide_password=False),
        )
    raise StoreError(f"unsupported store URL {location!r}: use a file path or postgresql://...")
