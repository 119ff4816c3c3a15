"""Database backends of the hot tier: the embedded SQLite file and PostgreSQL.

SQLModel declares the tables and creates them; bulk paths use the DB-API driver
directly (``executemany`` / ``COPY``) and reads go through ADBC into Arrow and
Polars, which is what makes millions of events fast.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import urllib.parse
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from auditkit.errors import StoreError
from auditkit.record import STORED_COLUMNS as EVENT_COLUMNS
from auditkit.store._tables import (
    ACCESS_TABLES,
    CheckpointRow,
    EventRow,
    MetaRow,
    PurgeRow,
    QuarantineRow,
    RetentionPolicyRow,
    TileRow,
    TreeHeadRow,
    events_delete_trigger,
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
    RetentionPolicyRow.__table__,  # type: ignore[attr-defined]
    *ACCESS_TABLES,
]


_BUSY_TIMEOUT_MS = 60_000


_EXTRA = "PostgreSQL stores need the postgres extra: pip install 'auditkit[postgres]'"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(_EXTRA) from None
    return psycopg


def _postgres_adbc() -> Any:
    try:
        import adbc_driver_postgresql.dbapi as adbc_pg
    except ImportError:
        raise StoreError(_EXTRA) from None
    return adbc_pg


def _first_line(exc: BaseException) -> str:
    """An exception's message without SQL, parameters or documentation links."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line.split("[SQL:")[0].split("(Background on this error")[0].strip()


def _utf8_or_null(values: Any) -> list[str | None]:
    """Bytes as text, where they are valid UTF-8 (the rare path of a tampered value)."""
    out: list[str | None] = []
    for v in values.to_pylist():
        try:
            out.append(None if v is None else v.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(None)
    return out


def arrow_text(table: Any) -> tuple[pl.DataFrame, list[str]]:
    """An Arrow table as a Polars frame, and the string columns holding a value that
    is not valid UTF-8 (those values become null)."""
    import pyarrow as pa

    columns = []
    invalid: list[str] = []
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            try:
                for chunk in col.chunks:
                    chunk.validate(full=True)
            except pa.ArrowInvalid:
                columns.append(pl.Series(name, _utf8_or_null(col.cast(pa.large_binary()))))
                invalid.append(name)
                continue
        columns.append(pl.Series(name, col))
    return pl.DataFrame(columns), invalid


def _polars(table: Any) -> pl.DataFrame:
    """An Arrow table as a Polars frame; string values that are not valid UTF-8 become null."""
    return arrow_text(table)[0]


#: Connections kept open between uses by the whole process, whatever their files.
_PARKED_MAX: Final = 8


class _OneCopyAtATime:
    """Keeps this process's two copies of SQLite from having the store open at once.

    Python's ``sqlite3`` and the ADBC driver each carry their own SQLite.  POSIX
    advisory locks belong to the process, and closing any descriptor of a file drops
    all of them: a connection closed by one copy silently drops the locks that the
    other copy's open connections hold, and a writer in another process may then
    checkpoint and reset the WAL under a reader that believes it is protected (seen
    as ``disk I/O error``, or worse, as a read of pages being rewritten).  Each copy
    keeps its own connections apart correctly, so connections of one copy may be open
    together, but never with the other's.  A copy that waits gets its turn before
    newcomers of the other copy; a thread that already holds a connection (of either
    copy) never waits, since the thread it would wait for may be waiting for it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = {"sqlite3": 0, "adbc": 0}
        self._waiting = {"sqlite3": 0, "adbc": 0}
        self._turn: str | None = None
        self._mine = threading.local()
        #: ``sqlite3`` connections kept open between uses, as (file identity, connection):
        #: counted as open, and closed before any ADBC connection opens
        self._parked: list[tuple[tuple[str, int, int], sqlite3.Connection]] = []

    def _held(self, kind: str) -> int:
        return int(getattr(self._mine, kind, 0))

    def acquire(self, kind: str) -> None:
        other = "adbc" if kind == "sqlite3" else "sqlite3"
        with self._cond:
            # a thread that holds a connection never waits: whoever it would wait for
            # may be waiting for that connection to close
            if kind == "adbc":
                self._close_parked()
            if not self._held(other) and not self._held(kind):
                self._waiting[kind] += 1
                if self._turn is None or not self._waiting[self._turn]:
                    self._turn = kind
                try:
                    while self._open[other] or (self._waiting[other] and self._turn == other):
                        self._cond.wait()
                        if kind == "adbc":
                            self._close_parked()  # parked while this thread waited
                finally:
                    self._waiting[kind] -= 1
            self._open[kind] += 1
            setattr(self._mine, kind, self._held(kind) + 1)

    def release(self, kind: str) -> None:
        other = "adbc" if kind == "sqlite3" else "sqlite3"
        with self._cond:
            self._open[kind] -= 1
            setattr(self._mine, kind, self._held(kind) - 1)
            if not self._open[kind]:
                self._turn = other if self._waiting[other] else None
                self._cond.notify_all()

    def park(self, key: tuple[str, int, int], conn: sqlite3.Connection, keep: int) -> None:
        """Release this thread's ``sqlite3`` connection ``conn`` to the file ``key``,
        keeping it open for the next :meth:`unpark` (at most ``keep`` per file), or
        closing it when ADBC waits for its turn."""
        with self._cond:
            self._mine.sqlite3 = self._held("sqlite3") - 1
            if self._waiting["adbc"] or sum(k == key for k, _ in self._parked) >= keep:
                self._open["sqlite3"] -= 1
                conn.close()
                if not self._open["sqlite3"]:
                    self._turn = "adbc" if self._waiting["adbc"] else None
                    self._cond.notify_all()
            else:
                if len(self._parked) >= _PARKED_MAX:  # the oldest, of any file, goes
                    self._parked.pop(0)[1].close()
                    self._open["sqlite3"] -= 1
                self._parked.append((key, conn))

    def unpark(self, key: tuple[str, int, int]) -> sqlite3.Connection | None:
        """A parked connection to the file ``key`` (this thread has acquired
        ``sqlite3``, so the connection's count goes to its use), or ``None``."""
        with self._cond:
            for i in range(len(self._parked) - 1, -1, -1):
                if self._parked[i][0] == key:
                    self._open["sqlite3"] -= 1
                    return self._parked.pop(i)[1]
        return None

    def close_parked(self, path: str | None = None) -> None:
        """Close the parked connections (to ``path`` only, when given)."""
        with self._cond:
            self._close_parked(path)

    def _close_parked(self, path: str | None = None) -> None:
        keep = [(k, c) for k, c in self._parked if path is not None and k[0] != path]
        if len(keep) == len(self._parked):
            return
        for k, conn in self._parked:
            if path is None or k[0] == path:
                conn.close()
                self._open["sqlite3"] -= 1
        self._parked = keep
        if not self._open["sqlite3"]:
            self._turn = "adbc" if self._waiting["adbc"] else None
            self._cond.notify_all()

    @contextmanager
    def use(self, kind: str) -> Iterator[None]:
        self.acquire(kind)
        try:
            yield
        finally:
            self.release(kind)


_COPIES = _OneCopyAtATime()

#: SQLite page cache (KiB) of a connection while it writes a large batch: see
#: :meth:`Backend.write_transaction`
BULK_CACHE_KIB: Final = 128 * 1024


def _sqlite_arrow(path: str, query: str, params: Sequence[Any], batch_rows: int) -> Any:
    """Run one SELECT through the ADBC SQLite driver's low-level API, as an Arrow table.

    The DB-API layer of ``adbc_driver_manager`` imports ``pyarrow.dataset``, which
    imports pandas: a third of a second at every start of the command line, for
    nothing a read needs.
    """
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite
    import pyarrow as pa

    with (
        _COPIES.use("adbc"),
        adbc_driver_sqlite.connect(path) as db,
        adbc.AdbcConnection(db) as conn,
        adbc.AdbcStatement(conn) as stmt,
    ):
        # wait, as the other connections do, instead of failing at once when a
        # connection that closes (checkpointing the WAL) holds a lock for a moment:
        # loads read the next chunk while verifying the previous one
        stmt.set_sql_query(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        stream, _ = stmt.execute_query()
        pa.RecordBatchReader._import_from_c(stream.address).read_all()
        stmt.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        stmt.set_sql_query(query)
        if params:
            # built by Polars: pyarrow's own constructors import pandas
            bound = pl.DataFrame({str(i): [p] for i, p in enumerate(params)}).to_arrow()
            stmt.bind_stream(bound.__arrow_c_stream__())
        stream, _ = stmt.execute_query()
        return pa.RecordBatchReader._import_from_c(stream.address).read_all()


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
    _keep: int = 0
    #: SQLite: the file opened as immutable (a read-only copy: see :meth:`open_read_only`)
    read_only: bool = False

    def open_read_only(self) -> None:
        """SQLite: when this process cannot write the file or its folder (an auditor's
        read-only copy of the evidence), open it as ``immutable``: a store in WAL mode
        otherwise needs to create its ``-shm`` file even to be read, and every read
        fails with "attempt to write a readonly database".  Nothing may change such a
        file meanwhile, which is what read-only means here; writes are refused."""
        if self.dialect != "sqlite" or self.path is None or not os.path.isfile(self.path):
            return
        folder = os.path.dirname(self.path) or "."
        writable = os.access(self.path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK)
        if writable:
            return
        uri = f"file:{urllib.parse.quote(self.path)}?immutable=1"
        self.read_only = True
        self.adbc_uri = uri
        self.sqlalchemy_url = f"sqlite:///{uri}&uri=true"
        self.dispose()

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
                _psycopg()  # a clear message when the postgres extra is missing
                eng = create_engine(self.sqlalchemy_url, pool_pre_ping=True)
                # a handle dropped without close() closes its pooled connections, rather
                # than leaving them to the garbage collector (psycopg then warns, at
                # whatever moment the collector runs)
                weakref.finalize(self, eng.dispose)
            if self.dialect == "sqlite":

                @event.listens_for(eng, "connect")
                def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                    _COPIES.acquire("sqlite3")  # released by _closed
                    cur = dbapi_conn.cursor()
                    cur.execute("PRAGMA busy_timeout = 60000")
                    cur.close()

                @event.listens_for(eng, "close")
                @event.listens_for(eng, "close_detached")
                def _closed(_dbapi_conn: Any, *_record: Any) -> None:
                    _COPIES.release("sqlite3")

            self._engine = eng
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections."""
        if self.path is not None:
            _COPIES.close_parked(self.path)
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def ph(self) -> str:
        """The DB-API parameter marker of this backend (`?` or `%s`)."""
        return "?" if self.dialect == "sqlite" else "%s"

    def keep_connections(self, n: int) -> None:
        """Keep up to ``n`` SQLite connections open between uses (0: none, the default).

        For a long-lived process that makes many small reads and writes (the API
        server): opening a connection parses the schema, and closing the last one
        checkpoints the WAL and syncs the file, together a third of the CPU of a small
        page.  A kept connection is used again only while the file at the path is the
        one it opened (not replaced or deleted), and is closed before this process's
        ADBC reader opens the file (see :class:`_OneCopyAtATime`) and by
        :meth:`dispose`.  A short-lived process keeps none, so that its last close
        leaves the database in one file.
        """
        self._keep = max(0, int(n))
        if not self._keep and self.path is not None:
            _COPIES.close_parked(self.path)

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A raw DB-API connection in manual-transaction mode."""
        key: tuple[str, int, int] | None = None
        try:
            if self.dialect == "sqlite":
                assert self.path is not None
                _COPIES.acquire("sqlite3")
                try:
                    conn: Any = None
                    if self._keep:
                        st = os.stat(self.path)
                        key = (self.path, st.st_dev, st.st_ino)
                        conn = _COPIES.unpark(key)
                    if conn is None:
                        conn = sqlite3.connect(
                            self.adbc_uri if self.read_only else self.path,
                            timeout=60,
                            isolation_level=None,
                            check_same_thread=False,
                            uri=self.read_only,
                        )
                        conn.execute("PRAGMA busy_timeout = 60000")
                        conn.execute("PRAGMA synchronous = NORMAL")
                except BaseException:
                    _COPIES.release("sqlite3")
                    raise
            else:
                conn = _psycopg().connect(self.adbc_uri, autocommit=False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"{self.location}: cannot open the database: {_first_line(exc)}"
            ) from exc
        except Exception as exc:  # psycopg.OperationalError and friends
            raise StoreError(f"{self.location}: cannot connect: {_first_line(exc)}") from exc
        clean = False
        try:
            yield conn
            clean = True
        finally:
            if key is not None and clean and self._reusable(conn):
                _COPIES.park(key, conn, self._keep)
            else:
                conn.close()
                if self.dialect == "sqlite":
                    _COPIES.release("sqlite3")

    @staticmethod
    def _reusable(conn: sqlite3.Connection) -> bool:
        """Whether ``conn`` is back as it was opened (else it is closed, not kept)."""
        if conn.in_transaction:
            return False
        conn.text_factory = str
        conn.row_factory = None
        return True

    @contextmanager
    def write_transaction(self, conn: Any, *, bulk: bool = False) -> Iterator[Any]:
        """A write transaction; on SQLite ``BEGIN IMMEDIATE`` serialises writers.

        ``bulk``: many rows are coming (an ingest batch).  On SQLite the connection
        then holds up to :data:`BULK_CACHE_KIB` of pages for the transaction, and gives
        them back after it.  With the default 2 MB, the pages of the event_id and actor
        indexes that a batch of thousands of rows touches (random places) are evicted
        and written to the WAL again and again before the commit; measured at 1M
        events, inserting in batches of 20,000 took 36 s with the default and 21-26 s
        with the larger cache.
        """
        cur = conn.cursor()
        resize = bulk and self.dialect == "sqlite"
        if resize:
            cur.execute("PRAGMA cache_size")
            before = int(cur.fetchone()[0])
            cur.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        try:
            with self._transaction(conn, cur) as tx:
                yield tx
        finally:
            if resize:
                with suppress(sqlite3.Error):  # a broken connection: closed by its owner
                    cur.execute(f"PRAGMA cache_size = {before}")  # frees what it held
            cur.close()

    @contextmanager
    def _transaction(self, conn: Any, cur: Any) -> Iterator[Any]:
        if self.dialect == "sqlite":
            cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException as exc:
            conn.rollback() if self.dialect != "sqlite" else cur.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg"):
                raise StoreError(
                    f"{self.location}: the write was refused and rolled back: {_first_line(exc)}"
                ) from exc
            raise
        else:
            if self.dialect == "sqlite":
                cur.execute("COMMIT")
            else:
                conn.commit()

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
                "SELECT size, root_hash, CAST(frontier AS BLOB) FROM tree_heads "
                f"WHERE tenant_id = {ph}",
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
        try:
            return int(size), str(root), bytes(frontier or b"")
        except (TypeError, ValueError):
            raise StoreError(
                f"{self.location}: tenant {tenant!r}: the tree head row is damaged; "
                "run `auditkit verify`"
            ) from None

    def insert_events(self, cur: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert event rows (in :data:`EVENT_COLUMNS` order)."""
        cols = ", ".join(EVENT_COLUMNS)
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(EVENT_COLUMNS))
            cur.executemany(f"INSERT INTO events ({cols}) VALUES ({marks})", rows)
        else:
            # COPY is refused where row-level security confines the role (a tenant's
            # database role appending): plain INSERTs, which the policy checks, then
            cur.execute("SELECT row_security_active('events')")
            if cur.fetchone()[0]:
                marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
                cur.executemany(f"INSERT INTO events ({cols}) VALUES ({marks})", rows)
                return
            with cur.copy(f"COPY events ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def delete_events(self, cur: Any, tenant: str, first: int, end: int) -> None:
        """Delete ``first <= seq < end`` of a tenant, inside the caller's transaction:
        the trigger that refuses deletes is lifted for this transaction only (only
        the database owner can), and put back before it commits."""
        ph = self.ph
        if self.dialect == "sqlite":
            cur.execute("DROP TRIGGER IF EXISTS events_no_delete")
        else:
            cur.execute("ALTER TABLE events DISABLE TRIGGER events_no_delete")
        cur.execute(
            f"DELETE FROM events WHERE tenant_id = {ph} AND seq >= {ph} AND seq < {ph}",
            (tenant, first, end),
        )
        if self.dialect == "sqlite":
            for stmt in events_delete_trigger("sqlite"):
                cur.execute(stmt)
        else:
            cur.execute("ALTER TABLE events ENABLE TRIGGER events_no_delete")

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
    def read_arrow(
        self, query: str, *, params: Sequence[Any] = (), batch_rows: int = 1 << 20
    ) -> Any:
        """Run a SELECT (bind markers ``?`` on SQLite, ``$1`` on PostgreSQL) through
        ADBC and return an Arrow table.

        SQLite has no column types per value, and the ADBC driver infers them from
        its first batch; one batch of ``batch_rows`` rows keeps a column that starts
        with NULLs from being mistyped.
        """
        try:
            if self.dialect == "sqlite":
                assert self.path is not None
                where = self.adbc_uri if self.read_only else self.path
                return _sqlite_arrow(where, query, params, batch_rows)
            adbc_pg = _postgres_adbc()

            with adbc_pg.connect(self.adbc_uri) as conn, conn.cursor() as cur:
                cur.execute(query, tuple(params) if params else None)
                return cur.fetch_arrow_table()
        except Exception as exc:
            raise StoreError(f"{self.location}: query failed: {_first_line(exc)}") from exc

    def read(
        self, query: str, *, params: Sequence[Any] = (), batch_rows: int = 1 << 20
    ) -> pl.DataFrame:
        """:meth:`read_arrow` as a Polars frame, text checked to be valid UTF-8
        (SQLite hands on whatever bytes a TEXT value holds: an invalid one becomes
        null, which the verifier then names)."""
        return _polars(self.read_arrow(query, params=params, batch_rows=batch_rows))

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
            raise StoreError(
                f"{self.location}: cannot create the store: {_first_line(exc)}"
            ) from exc
        if self.dialect == "sqlite":
            with self.connect() as conn:
                conn.execute("PRAGMA journal_mode = WAL")

    def upgrade_schema(self, version: int) -> None:
        """Upgrade a store of table version ``version`` to the current one.

        Version 1 had an unsigned ``purges`` table whose rows let DELETEs through
        (anyone who could INSERT one could delete a tenant): it is replaced by the
        signed one, and the triggers are made again.  Versions 2 and 3 lacked the
        indexes of unsuccessful events (``ix_events_unusual``) and of actors
        (``ix_events_actor``).
        """
        from auditkit.store._tables import TABLES_VERSION

        if version < 2:
            self._upgrade_purges()
        try:
            for index in EventRow.__table__.indexes:  # type: ignore[attr-defined]
                index.create(self.engine, checkfirst=True)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot create its indexes: {_first_line(exc)}") from exc
        with self.connect() as conn, self.write_transaction(conn) as cur:
            self.write_store_version(cur, TABLES_VERSION)

    def write_store_version(self, cur: Any, version: int) -> None:
        """Record ``version`` as ``store_meta.store_version``, in ``cur``'s transaction."""
        ph = self.ph
        cur.execute(f"DELETE FROM store_meta WHERE key = {ph}", ("store_version",))
        cur.execute(
            f"INSERT INTO store_meta (key, value) VALUES ({ph}, {ph})",
            ("store_version", str(version)),
        )

    def _upgrade_purges(self) -> None:
        with self.connect() as conn, self.write_transaction(conn) as cur:
            cur.execute("SELECT COUNT(*) FROM purges")
            if int(cur.fetchone()[0]):
                raise StoreError(
                    "it holds version-1 purge rows, which are not signed; verify it with "
                    "the version that made it"
                )
            cur.execute("DROP TABLE purges")
            if self.dialect == "sqlite":
                cur.execute("DROP TRIGGER IF EXISTS events_no_delete")
        SQLModel.metadata.create_all(self.engine, tables=[PurgeRow.__table__])  # type: ignore[attr-defined]
        with self.engine.begin() as sa:
            for stmt in immutability_ddl(self.dialect):
                sa.execute(text(stmt))

    def ensure_table(self, table: Any) -> None:
        """Create a table added after the store was made, if it is missing."""
        try:
            SQLModel.metadata.create_all(self.engine, tables=[table], checkfirst=True)
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: cannot create table {table.name}: "
                             f"{_first_line(exc)}") from exc  # fmt: skip

    def foreign_tables(self) -> list[str]:
        """Tables in the database that are not the store's (a database to refuse)."""
        ours = {t.name for t in _TABLES}
        try:
            with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    rows = conn.execute(
                        text(
                            "SELECT name FROM sqlite_master WHERE type = 'table' "
                            "AND name NOT LIKE 'sqlite_%'"
                        )
                    ).fetchall()
                else:
                    rows = conn.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = current_schema()"
                        )
                    ).fetchall()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"{self.location}: cannot open the database: {_first_line(exc)}"
            ) from exc
        return sorted(str(r[0]) for r in rows if str(r[0]) not in ours)

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
            raise StoreError(f"{self.location}: cannot open the store: {_first_line(exc)}") from exc


def open_backend(location: str | os.PathLike[str]) -> Backend:
    """Parse a store location: a file path (SQLite) or a database URL.

    Examples
    --------
    >>> open_backend("audit.db").dialect
    'sqlite'
    >>> b = open_backend("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    >>> b.dialect, b.adbc_uri
    ('postgresql', 'postgresql://postgres@127.0.0.1:5432/test')
    """
    location = os.fspath(location)  # a pathlib.Path too
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
