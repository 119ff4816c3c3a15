"""The store's reads, for verification, loading and proofs: the narrow interface
the verifier works on (:class:`TrailReader`), and all the SQL it runs.

What it guarantees: every read is bounded by what exists or by the signed tree,
never by a value an attacker chooses (a row at ``seq = 1e11`` costs one row, not
a hundred billion); the integrity data of a tenant (checkpoints, tree head,
tiles, range statements) is read in one snapshot, so that a live store being
appended to never looks tampered; every value is a bind parameter.

What it trusts: nothing.  It reads what the database holds and hands it on as
data: the verifier decides what is true.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import polars as pl

from auditkit.errors import StoreError
from auditkit.integrity import Checkpoint, RangeStatement, SignatureError, verify_statement
from auditkit.record import STORED_COLUMNS, STORED_SCHEMA
from auditkit.store._backend import Backend, _utf8_or_null, arrow_text
from auditkit.store._cold import ColdTier, SegmentRef
from auditkit.store._manifest import (
    MANIFEST_PARAMS,
    MANIFEST_QUERY,
    QUARANTINE_COLUMNS,
    SIGNED_ACCESS_QUERY,
    manifest_from_rows,
)
from auditkit.store._tables import UNUSUAL

__all__ = ["LOAD_CHUNK", "Filter", "TailSnapshot", "TenantSnapshot", "TrailReader"]

#: Rows per chunk read for verification and loading.
LOAD_CHUNK: Final = 250_000
#: Rows outside the signed range named individually (the rest are counted).
STRAY_LIMIT: Final = 1000

#: SQLite stores no type per column: a value of the wrong type (a BLOB or a number
#: where text belongs, a REAL seq) is tampering, named as such, never coerced.
_TEXT_COLUMNS: Final = tuple(c for c in STORED_COLUMNS if c not in ("seq",))
_REQUIRED: Final = frozenset(
    ("tenant_id", "event_id", "occurred_at", "received_at", "action", "category", "outcome",
     "actor_id", "actor")
)  # fmt: skip


#: The tables that hold the trail and its integrity data.
_TRAIL_TABLES: Final = ("events", "checkpoints", "purges", "merkle_tiles", "tree_heads")
#: PostgreSQL: every table the store makes and reads.
_PG_STORE_TABLES: Final = (
    *_TRAIL_TABLES, "store_meta", "quarantine", "retention_policies", "access_principals",
    "access_grants", "access_tokens", "access_redaction_keys", "access_db_roles",
    "stream_cursors",
)  # fmt: skip
#: PostgreSQL: the store's row-level security policies (auditkit.store._access), by
#: name, with the one role each applies to.
_PG_POLICIES: Final = {
    "auditkit_tenant": "auditkit_tenant",
    "auditkit_others": "public",
    "auditkit_own_role": "public",
}
#: PostgreSQL: functions, aggregates and operators (kind, schema, name, argument types)
#: in the schemas the search_path reaches, other than ``pg_catalog``, named as one of
#: ``pg_catalog`` and not an extension's (every operator qualified, so that this query
#: itself calls no planted one).
_PG_SHADOWS: Final = """
SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window function'
       ELSE 'function' END, n.nspname::text, p.proname::text,
       pg_catalog.pg_get_function_identity_arguments(p.oid)
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n
  ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
WHERE n.nspname OPERATOR(pg_catalog.=) ANY (pg_catalog.current_schemas(true))
  AND n.nspname OPERATOR(pg_catalog.<>) 'pg_catalog'::name
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc b
              WHERE b.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
              AND b.proname OPERATOR(pg_catalog.=) p.proname)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                  AND d.objid OPERATOR(pg_catalog.=) p.oid
                  AND d.deptype OPERATOR(pg_catalog.=) 'e'::"char")
UNION ALL
SELECT 'operator', n.nspname::text, o.oprname::text,
       pg_catalog.format_type(o.oprleft, NULL) || ', ' || pg_catalog.format_type(o.oprright, NULL)
FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n
  ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
WHERE n.nspname OPERATOR(pg_catalog.=) ANY (pg_catalog.current_schemas(true))
  AND n.nspname OPERATOR(pg_catalog.<>) 'pg_catalog'::name
  AND EXISTS (SELECT 1 FROM pg_catalog.pg_operator b
              WHERE b.oprnamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
              AND b.oprname OPERATOR(pg_catalog.=) o.oprname)
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid OPERATOR(pg_catalog.=)
                        'pg_catalog.pg_operator'::pg_catalog.regclass
                  AND d.objid OPERATOR(pg_catalog.=) o.oid
                  AND d.deptype OPERATOR(pg_catalog.=) 'e'::"char")
ORDER BY 2, 3, 4
"""
#: The indexes the store makes on them (besides the primary keys'), as SQLite keeps them.
_STORE_INDEXES: Final = {
    "ix_events_tenant_time": (
        "CREATE INDEX ix_events_tenant_time ON events (tenant_id, occurred_at)"
    ),
    "ix_events_actor": ("CREATE INDEX ix_events_actor ON events (tenant_id, actor_id, seq)"),
    "ix_events_unusual": (
        f"CREATE INDEX ix_events_unusual ON events (tenant_id, seq) WHERE {UNUSUAL}"
    ),
    "ix_checkpoints_tenant_size": (
        "CREATE INDEX ix_checkpoints_tenant_size ON checkpoints (tenant_id, tree_size)"
    ),
}


#: Words of a CREATE TABLE that change what a column holds or how its values compare,
#: besides what ``PRAGMA table_xinfo`` shows (a collation is not shown there).
_DEFINING_WORDS: Final = frozenset(
    ("COLLATE", "GENERATED", "AS", "CHECK", "DEFAULT", "REFERENCES", "CONFLICT", "WITHOUT",
     "STRICT", "AUTOINCREMENT", "UNIQUE", "PRIMARY", "VIRTUAL", "STORED")
)  # fmt: skip


@dataclass(frozen=True)
class _MadeSchema:
    """The trail tables' definitions and triggers as this version of the store makes them."""

    tables: dict[str, tuple[tuple[Any, ...], tuple[str, ...]]]
    triggers: dict[str, str]


def _table_definition(
    xinfo: Sequence[Sequence[Any]], text: Any
) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """What a table's definition means, not how it is spelled: its columns (name,
    type affinity, not null, default, primary-key position, hidden) and the defining
    words of its CREATE TABLE, with what follows COLLATE.

    >>> cols = [(0, "seq", "BIGINT", 1, None, 1, 0)]
    >>> _table_definition(cols, 'CREATE TABLE t (seq BIGINT NOT NULL COLLATE "nocase")')
    ((('seq', 'INTEGER', 1, None, 1, 0),), ('COLLATE NOCASE',))
    """
    columns = tuple(
        sorted((str(r[1]), _affinity(r[2]), int(r[3]), r[4], int(r[5]), int(r[6])) for r in xinfo)
    )
    body = re.sub(r"'(?:[^']|'')*'", "''", str(text or "")).upper()
    words = re.findall(r"[A-Z_][A-Z0-9_]*|\"(?:[^\"]|\"\")*\"|`[^`]*`|\[[^\]]*\]", body)
    defining: list[str] = []
    for i, word in enumerate(words):
        if word in _DEFINING_WORDS:
            after = words[i + 1].strip('"`[]') if word == "COLLATE" and i + 1 < len(words) else ""
            defining.append(f"{word} {after}".strip())
    return columns, tuple(sorted(defining))


def _affinity(declared: Any) -> str:
    """The type affinity SQLite gives a column of the ``declared`` type (its rules in
    order): what decides how values are stored and compared, so ``BIGINT`` and
    ``INTEGER``, ``VARCHAR(512)`` and ``TEXT`` are the same.

    >>> [_affinity(t) for t in ("BIGINT", "VARCHAR(512)", "BLOB", "", "DOUBLE", "DATETIME")]
    ['INTEGER', 'TEXT', 'BLOB', 'BLOB', 'REAL', 'NUMERIC']
    """
    t = str(declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


def _definition_differs(
    made: tuple[tuple[Any, ...], tuple[str, ...]], found: tuple[tuple[Any, ...], tuple[str, ...]]
) -> str:
    """How ``found`` differs from ``made`` (see :func:`_table_definition`), or ``""``."""
    why: list[str] = []
    want = {c[0]: c for c in made[0]}
    have = {c[0]: c for c in found[0]}
    names = ("name", "type affinity", "not null", "default", "primary key", "hidden")
    for col in sorted(set(want) | set(have)):
        if col not in have:
            why.append(f"column {col} is gone")
        elif col not in want:
            why.append(f"column {col} is new")
        elif want[col] != have[col]:
            what = [
                f"{n} {h!r}, not {w!r}"
                for n, w, h in zip(names, want[col], have[col], strict=True)
                if w != h
            ]
            why.append(f"column {col}: {'; '.join(what)}")
    extra = sorted(set(found[1]) - set(made[1])) + [
        w for w in found[1] if found[1].count(w) > made[1].count(w) and w in made[1]
    ]
    lost = sorted(set(made[1]) - set(found[1]))
    if extra:
        why.append(f"adds {', '.join(dict.fromkeys(extra))}")
    if lost:
        why.append(f"drops {', '.join(lost)}")
    return "; ".join(why)


def _trigger_shape(text: Any) -> str:
    """A trigger's statement with its whitespace collapsed and its text literals blank:
    the messages of the store's own triggers changed between versions, what they do
    did not.

    >>> _trigger_shape("CREATE TRIGGER t BEFORE DELETE ON x  BEGIN SELECT RAISE(ABORT, 'no'); END")
    "CREATE TRIGGER t BEFORE DELETE ON x BEGIN SELECT RAISE(ABORT, ''); END"
    """
    return " ".join(re.sub(r"'(?:[^']|'')*'", "''", str(text or "")).split())


@functools.cache
def _made_schema() -> _MadeSchema:
    """Build the trail tables in an empty in-memory SQLite database, as the store makes
    them, and read back what they mean (the SQL of this very version, so that a store
    made by another SQLAlchemy spelling the same tables differently is not accused)."""
    import sqlite3

    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool
    from sqlmodel import SQLModel

    from auditkit.store._tables import immutability_ddl

    conn = sqlite3.connect(":memory:")
    try:
        engine = create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)
        tables = [t for name, t in SQLModel.metadata.tables.items() if name in _TRAIL_TABLES]
        SQLModel.metadata.create_all(engine, tables=tables)
        for stmt in immutability_ddl("sqlite"):
            conn.execute(stmt)
        made: dict[str, tuple[tuple[Any, ...], tuple[str, ...]]] = {}
        triggers: dict[str, str] = {}
        for kind, name, text in conn.execute("SELECT type, name, sql FROM sqlite_master"):
            if kind == "table":
                xinfo = conn.execute(f"PRAGMA table_xinfo({name})").fetchall()
                made[name] = _table_definition(xinfo, text)
            elif kind == "trigger":
                triggers[name] = _trigger_shape(text)
        engine.dispose()
    finally:
        conn.close()
    return _MadeSchema(made, triggers)


@functools.cache
def _pg_store_triggers() -> frozenset[tuple[str, str]]:
    """PostgreSQL: the store's own triggers, as (table, name), read from the
    statements that make them."""
    from auditkit.store._tables import immutability_ddl

    made = (
        re.match(r"\s*CREATE TRIGGER (\w+) .*? ON (\w+)", stmt, re.S)
        for stmt in immutability_ddl("postgresql")
    )
    return frozenset((m.group(2), m.group(1)) for m in made if m is not None)


def _foreign_trigger(name: Any, table: Any, text: Any) -> tuple[str, str]:
    """A trigger the store did not make, outside the trail tables, as :meth:`TrailReader.
    schema_changes` names it."""
    return (
        str(name),
        f"is a trigger on {table} that the store did not make (it runs inside the store's "
        f"own writes: a revocation, a grant or a quarantined record can be undone or "
        f"rewritten as it is written): {text}",
    )


@dataclass(frozen=True)
class Filter:
    """A condition on the events table: SQL with ``?`` bind markers and their values."""

    sql: str = ""
    params: tuple[Any, ...] = ()

    def __and__(self, other: Filter) -> Filter:
        if not other.sql:
            return self
        if not self.sql:
            return other
        return Filter(f"{self.sql} AND {other.sql}", self.params + other.params)

    def __bool__(self) -> bool:
        return bool(self.sql)


@dataclass
class TenantSnapshot:
    """A tenant's integrity data, read in one transaction."""

    tenant: str
    checkpoints: list[Checkpoint] = field(default_factory=list)
    #: checkpoint rows that are not even well-formed: (row id, why)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    #: (size, root hash, frontier) of the tree head row, if there is one
    head: tuple[int, str, bytes] | None = None
    #: (tile index, leaf hashes) in tile order
    tiles: list[tuple[int, bytes]] = field(default_factory=list)
    statements: list[RangeStatement] = field(default_factory=list)
    #: range-statement rows that are not well-formed: (row id, why)
    bad_statements: list[tuple[int, str]] = field(default_factory=list)
    #: whether :attr:`tiles` were read with the rest (a load may take them from a cache)
    tiles_read: bool = True
    #: whether :attr:`checkpoints` may be only the newest (see :meth:`TrailReader.snapshot`)
    partial: bool = False


@dataclass
class TailSnapshot:
    """What lies outside a signed range ``[0, size)``, read in one transaction with
    the checkpoints and statements current at that moment."""

    #: rows outside the range, up to :data:`STRAY_LIMIT`: ``seq`` as text and event id
    strays: list[tuple[str, str | None]]
    #: how many there are in all
    stray_count: int
    #: the tenant's checkpoints and statements as they are now (appends and purges
    #: may have happened while the range was read)
    checkpoints: list[Checkpoint]
    statements: list[RangeStatement]
    #: rows at integer seqs from the range's end up to the size validly signed
    #: checkpoints of that moment cover: appended while the range was read, not strays
    appended: int = 0


#: Checkpoint rows already parsed (see TrailReader._checkpoints): row -> checkpoint
#: or why it is malformed.
_PARSED_CHECKPOINTS: dict[tuple[Any, ...], Checkpoint | str] = {}
_PARSED_KEPT: Final = 200_000


def _agg(dialect: str, name: str) -> str:
    """An aggregate the completeness of a read rests on, by a name no planted function
    can take on PostgreSQL (see ``_PG_SHADOWS``): ``pg_catalog.count``."""
    return name if dialect == "sqlite" else f"pg_catalog.{name}"


def _ph(dialect: str, sql: str, style: str) -> str:
    """Turn ``?`` bind markers into the driver's: ``$1`` (ADBC PostgreSQL) or ``%s``."""
    if dialect == "sqlite":
        return sql
    if style == "dollar":
        counter = iter(range(1, 10_000))
        return re.sub(r"\?", lambda _: f"${next(counter)}", sql)
    return sql.replace("?", "%s")


class TrailReader:
    """Reads one store's events and integrity data (see the module docstring)."""

    def __init__(self, backend: Backend, store_id: str) -> None:
        self.backend = backend
        self.store_id = store_id
        self.dialect = backend.dialect
        #: the cold tier's URL (``None``: the store has none)
        self.cold_url: str | None = None
        self._cold: ColdTier | None = None
        self._confined: bool | None = None

    def cold(self) -> ColdTier | None:
        """The cold tier, opened on first use (``None``: the store has none)."""
        if self._cold is None and self.cold_url is not None:
            self._cold = ColdTier(self.cold_url)
        return self._cold

    # -- small reads through the DB-API driver -------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[Any]:
        """A connection that reads whatever the database holds without failing on it:
        on SQLite, text that is not UTF-8 is decoded with replacement characters
        (it then fails its own checks, and is named, instead of crashing the read)."""
        with self.backend.connect() as conn:
            if self.dialect == "sqlite":
                conn.text_factory = _lenient_text
            yield conn

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor for a small read: a failure is a :class:`StoreError` naming the
        store, and on PostgreSQL the read's transaction is ended whatever happens."""
        with self._connect() as conn:
            try:
                yield conn.cursor()
            except Exception as exc:
                raise StoreError(
                    f"{self.backend.location}: read failed: {_first_line(exc)}"
                ) from exc
            finally:
                if self.dialect != "sqlite":
                    conn.rollback()

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(_ph(self.dialect, sql, "format"), tuple(params))
            return [tuple(r) for r in cur.fetchall()]

    def _tenant_values(self) -> list[tuple[str, str, bytes]]:
        """Every distinct ``tenant_id`` of the tables that hold a trail: (table, SQL type,
        value as bytes).  The events' tenants by a skip scan of the primary key: one
        index seek per tenant, not a pass over every row."""
        sqlite = self.dialect == "sqlite"
        kind = "typeof({})" if sqlite else "'text'"
        raw = "CAST({} AS BLOB)" if sqlite else "{}"
        union = " UNION ".join(
            f"SELECT '{table}', {kind.format(c)}, {raw.format(c)} FROM {source}"
            for table, c, source in (
                ("events", "x", "t WHERE x IS NOT NULL"),
                ("tree_heads", "tenant_id", "tree_heads"),
                ("merkle_tiles", "tenant_id", "merkle_tiles"),
                ("checkpoints", "tenant_id", "checkpoints"),
                ("purges", "tenant_id", "purges"),
            )
        )
        rows = self._fetch(
            "WITH RECURSIVE t(x) AS (SELECT MIN(tenant_id) FROM events UNION ALL "
            "SELECT (SELECT MIN(tenant_id) FROM events WHERE tenant_id > t.x) FROM t "
            f"WHERE t.x IS NOT NULL) {union}"
        )
        return [
            (str(table), str(kind), value if isinstance(value, bytes) else str(value).encode())
            for table, kind, value in rows
            if value is not None
        ]

    def tenant_names(self) -> set[str]:
        """Every tenant the store knows of: by events, tree heads, tiles, checkpoints or
        statements (a ``tenant_id`` that is not text is no tenant: see
        :meth:`odd_tenant_ids`)."""
        names = set()
        for _, kind, value in self._tenant_values():
            if kind == "text":
                with contextlib.suppress(UnicodeDecodeError):
                    names.add(value.decode("utf-8"))
        return names

    def odd_tenant_ids(self) -> list[tuple[str, str, str, int, str | None, str | None]]:
        """Rows whose ``tenant_id`` is NULL, not text (a BLOB or a number in SQLite) or
        text that is not UTF-8: no query for a tenant ever matches them, so they would
        hide a forged record, or a whole trail moved out of sight.  Each as (table, the
        value as text, as shown, rows, the first seq and its event id for events).  Index seeks
        on the primary keys (numbers sort before text, BLOBs after it)."""
        out: list[tuple[str, str, str, int, str | None, str | None]] = []
        odd = [(t, k, v) for t, k, v in self._tenant_values() if k != "text" or not _utf8(v)]
        tables = ("events", "tree_heads", "merkle_tiles", "checkpoints", "purges")
        nulls = self._fetch(
            "SELECT "
            + ", ".join(
                f"EXISTS (SELECT 1 FROM {table} WHERE tenant_id IS NULL)" for table in tables
            )
        )[0]
        odd += [(table, "null", b"") for table, found in zip(tables, nulls, strict=True) if found]
        for table, kind, value in odd:
            where, params, shown = _odd_tenant_condition(kind, value)
            seq = eid = None
            if table == "events":
                first = self._fetch(
                    "SELECT CAST(seq AS TEXT), CAST(event_id AS TEXT) FROM events "
                    f"WHERE {where} ORDER BY seq LIMIT 1",
                    params,
                )
                if first:
                    seq, eid = first[0]
            (n,) = self._fetch(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)[0]
            out.append((table, value.decode("utf-8", "replace"), shown, int(n), seq, eid))
        return out

    def tenant_known(self, tenant: str) -> bool:
        """Whether the store knows ``tenant`` (index seeks only)."""
        rows = self._fetch(
            "SELECT EXISTS (SELECT 1 FROM tree_heads WHERE tenant_id = ?) "
            "OR EXISTS (SELECT 1 FROM checkpoints WHERE tenant_id = ?) "
            "OR EXISTS (SELECT 1 FROM purges WHERE tenant_id = ?) "
            "OR EXISTS (SELECT 1 FROM events WHERE tenant_id = ?)",
            (tenant, tenant, tenant, tenant),
        )
        return bool(rows[0][0])

    def schema_changes(self) -> list[tuple[str, str]]:
        """SQLite: how the trail tables differ from what the store made, as (object,
        why): a table that is a view (or gone), an index the store did not create, a
        trigger the store did not make on any table.

        An index is only as good as its agreement with its table, and SQLite lets
        anyone with ``PRAGMA writable_schema`` redefine one after it was built (an index
        built ``WHERE seq < 50`` and redeclared without the ``WHERE``): every read that
        the planner sends through it then misses rows.  One read of ``sqlite_master``.
        """
        if self.dialect == "postgresql":
            return self._pg_schema_changes()
        if self.dialect != "sqlite":
            return []
        rows = self._fetch(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN "
            f"({', '.join('?' * len(_TRAIL_TABLES))})",
            _TRAIL_TABLES,
        )
        found: list[tuple[str, str]] = []
        kinds = {str(name): str(kind) for kind, name, _, _ in rows if name in _TRAIL_TABLES}
        for table in _TRAIL_TABLES:
            if kinds.get(table) != "table":
                found.append((table, f"is {'a ' + kinds[table] if table in kinds else 'gone'}"))
        made = _made_schema()
        for kind, name, table, text in rows:
            if kind == "table" and name in _TRAIL_TABLES:
                differs = _definition_differs(
                    made.tables[str(name)],
                    _table_definition(self._fetch(f"PRAGMA table_xinfo({name})"), text),
                )
                if differs:
                    found.append((str(name), f"is not defined as the store made it: {differs}"))
                continue
            if kind == "trigger":
                if made.triggers.get(str(name)) != _trigger_shape(text):
                    found.append(
                        (
                            str(name),
                            f"is a trigger on {table} that the store did not make (it runs "
                            f"inside the store's own writes): {text}",
                        )
                    )
                continue
            if kind != "index":
                continue
            if str(name).startswith("sqlite_autoindex_"):
                # SQLite's own indexes of a table's constraints are declared by no
                # statement; one that is was made by someone, and named to be skipped
                if text is not None:
                    found.append(
                        (
                            str(name),
                            f"is an index on {table} named as SQLite names the indexes of "
                            f"a table's constraints, but made by a statement: {text}",
                        )
                    )
                continue
            if _STORE_INDEXES.get(str(name)) != " ".join(str(text or "").split()):
                found.append(
                    (str(name), f"is an index on {table} that the store did not make: {text}")
                )
        # a trigger on any other table runs inside the store's own writes too: one on the
        # access tables or the manifest can put back a revoked token or grant as the
        # revocation is written, one on the quarantine drop or rewrite a refused record
        # before it is sealed; the store makes none there
        for name, table, text in self._fetch(
            "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' AND "
            f"tbl_name NOT IN ({', '.join('?' * len(_TRAIL_TABLES))})",
            _TRAIL_TABLES,
        ):
            found.append(_foreign_trigger(name, table, text))
        if any(name == "ix_events_unusual" for _, name, _, _ in rows) and not any(
            name == "ix_events_unusual" for name, _ in found
        ):
            # its declaration is the store's; its content must be too: an index edited
            # apart from its table (its row in sqlite_master hidden while the table
            # changes) keeps the declaration and hides failures from filtered pages.
            # The small index against a scan of the table's outcomes: 0.2 s at 1M events
            missing = self._fetch(
                f"SELECT COUNT(*) FROM (SELECT rowid, tenant_id, seq FROM events NOT INDEXED "
                f"WHERE {UNUSUAL} EXCEPT SELECT rowid, tenant_id, seq FROM events "
                f"INDEXED BY ix_events_unusual WHERE {UNUSUAL})"
            )[0][0]
            if missing:
                found.append(
                    (
                        "ix_events_unusual",
                        f"lacks {missing} event(s) of the table that did not succeed (an "
                        "index edited apart from its table: filtered pages would miss them)",
                    )
                )
        return found

    def _pg_schema_changes(self) -> list[tuple[str, str]]:
        """PostgreSQL: triggers the store did not make, row-level security forced on a
        table, and row-level security policies that are not the store's (whoever owns
        the tables can add them; forced, a policy applies to the owner's own reads, and
        verify would be shown part of the trail as the whole)."""
        found: list[tuple[str, str]] = []
        # what the store's statements reach is what the search_path finds first: a view
        # of a store table in a schema ahead of the store's (say one named after the
        # connecting user) passes reads and writes through to the table while every
        # check below looks at the view's schema
        for name, kind, where in self._fetch(
            "SELECT t.name, c.relkind::text, n.nspname FROM unnest(?::text[]) AS t(name) "
            "JOIN pg_class c ON c.oid = to_regclass(t.name) "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind NOT IN ('r', 'p') OR n.nspname <> current_schema() ORDER BY 1",
            (list(_PG_STORE_TABLES),),
        ):
            found.append(
                (
                    str(name),
                    f"is not a table of the store's schema but a relation of kind "
                    f"{kind!r} in schema {where!r} that the search_path finds first: the "
                    "store's reads and writes go through it",
                )
            )
        schema = "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
        # a function, aggregate or operator named as a built-in one, in a schema the
        # search_path reaches: PostgreSQL takes the one whose argument types fit best,
        # whatever schema it is in (a ``count(bigint)`` beats the built-in ``count("any")``),
        # so it answers the store's own queries (a count of the seqs a range holds that
        # says a deleted row is there).  Extensions' own are theirs, not planted
        for kind, where, name, args in self._fetch(_PG_SHADOWS):
            found.append(
                (
                    f"{where}.{name}({args})",
                    f"is {'an' if kind[0] in 'ao' else 'a'} {kind} named as a PostgreSQL "
                    "built-in, in a schema the search_path reaches, that the store did not "
                    "make: the store's own queries may call it instead of the built-in",
                )
            )
        # a rule rewrites the store's own statements as a trigger would (an INSERT into
        # the quarantine made to do nothing); the store makes none
        for table, name, text in self._fetch(
            "SELECT c.relname, r.rulename, pg_get_ruledef(r.oid) FROM pg_rewrite r "
            f"JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = {schema} "
            "AND c.relkind IN ('r', 'p') ORDER BY 1, 2"
        ):
            found.append(
                (
                    str(name),
                    f"is a rule on {table} that the store did not make (it rewrites the "
                    f"store's own statements): {text}",
                )
            )
        for table, name, text in self._fetch(
            "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            f"JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
            f"AND c.relnamespace = {schema} ORDER BY 1, 2"
        ):
            if (str(table), str(name)) not in _pg_store_triggers():
                found.append(_foreign_trigger(name, table, text))
        for (table,) in self._fetch(
            f"SELECT relname FROM pg_class WHERE relnamespace = {schema} "
            "AND relforcerowsecurity ORDER BY 1"
        ):
            found.append(
                (
                    str(table),
                    "has row-level security forced on its owner (the store never does): its "
                    "policies then filter the store's own reads, and verify would see part of "
                    "the trail as the whole",
                )
            )
        conditions = self._pg_policy_conditions()
        for table, name, permissive, roles, qual, check in self._fetch(
            "SELECT tablename, policyname, permissive, roles::text[], qual, with_check "
            "FROM pg_policies WHERE schemaname = current_schema() ORDER BY 1, 2"
        ):
            kind = "access_db_roles" if str(table) == "access_db_roles" else "tenant"
            wanted = conditions.get((str(name), kind)) if conditions is not None else None
            if wanted is not None and wanted != (qual, check):
                found.append(
                    (
                        str(name),
                        f"is a row-level security policy on {table} whose condition is not "
                        f"the store's ({qual}): it decides which rows a role's reads see",
                    )
                )
                continue
            expected = _PG_POLICIES.get(str(name))
            own_table = (str(table) == "access_db_roles") == (name == "auditkit_own_role") or (
                name == "auditkit_others"
            )
            if (
                expected is None
                or not own_table
                or str(permissive).upper() != "PERMISSIVE"
                or sorted(roles or []) != [expected]
            ):
                found.append(
                    (
                        str(name),
                        f"is a row-level security policy on {table} that the store did not "
                        f"make ({permissive}, for {', '.join(roles or [])}): it decides which "
                        "rows a role's reads see",
                    )
                )
        return found

    def _pg_policy_conditions(self) -> dict[tuple[str, str], tuple[Any, Any]] | None:
        """The conditions of the store's policies as this database writes them back
        (``pg_policies.qual``, ``with_check``), by (policy, ``tenant`` or
        ``access_db_roles``): made on a temporary table and rolled back.  ``None``
        when that cannot be done (no TEMP privilege, a store without database roles)."""
        from auditkit.store._access import MAPPED, NOT_MEMBER, OWN_ROLE

        made = {
            ("auditkit_tenant", "tenant"): (MAPPED, MAPPED),
            ("auditkit_others", "tenant"): (NOT_MEMBER, NOT_MEMBER),
            ("auditkit_own_role", "access_db_roles"): (OWN_ROLE, None),
            ("auditkit_others", "access_db_roles"): (NOT_MEMBER, None),
        }
        out: dict[tuple[str, str], tuple[Any, Any]] = {}
        with self._connect() as conn:
            cur = conn.cursor()
            try:
                cur.execute(
                    "CREATE TEMP TABLE auditkit_probe (tenant_id varchar(512), "
                    "role_name varchar(63)) ON COMMIT DROP"
                )
                for i, ((_, _), (using, check)) in enumerate(made.items()):
                    extra = f" WITH CHECK ({check})" if check else ""
                    cur.execute(
                        f"CREATE POLICY probe_{i} ON pg_temp.auditkit_probe USING ({using}){extra}"
                    )
                cur.execute(
                    "SELECT policyname, qual, with_check FROM pg_policies "
                    "WHERE tablename = 'auditkit_probe' AND policyname LIKE 'probe_%'"
                )
                texts = {str(n): (q, c) for n, q, c in cur.fetchall()}
            except Exception:
                return None
            finally:
                conn.rollback()
        for i, key in enumerate(made):
            if f"probe_{i}" not in texts:
                return None
            out[key] = texts[f"probe_{i}"]
        return out

    def guards_gone(self) -> list[str]:
        """SQLite: the triggers the store made to refuse UPDATE and DELETE of the trail
        that are gone.  Their absence changes no record (verification names every
        change made meanwhile), but whoever removed them had write access to the
        database and nothing now stops a stray statement."""
        if self.dialect != "sqlite":
            return []
        rows = self._fetch("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return sorted(set(_made_schema().triggers) - {str(r[0]) for r in rows})

    def confined(self) -> bool:
        """Whether row-level security hides some tenants from this connection's role
        (a PostgreSQL role confined to its tenant): then "every tenant" is only the
        ones it sees, and the tenant manifest is checked for those."""
        if self.dialect == "sqlite":
            return False
        if self._confined is None:
            rows = self._fetch("SELECT row_security_active('events')")
            self._confined = bool(rows[0][0])
        return self._confined

    def manifest_kept_by_all(self) -> bool:
        """Whether every appender writes the tenant manifest: not on a connection
        confined to its tenant, nor where database roles confined to a tenant may
        append (PostgreSQL), whose appends leave it as it was."""
        if self.dialect == "sqlite":
            return True
        if self.confined():
            return False
        try:
            # a row of that unsigned table counts only for a role that exists and may
            # append (one inserted for no role would switch the rollback check off)
            rows = self._fetch(
                "SELECT EXISTS (SELECT 1 FROM access_db_roles d JOIN pg_roles r ON "
                "r.rolname = d.role_name WHERE d.can_append AND "
                "has_table_privilege(r.oid, 'events', 'INSERT'))"
            )
        except StoreError:  # a store made before database roles
            return True
        return not rows[0][0]

    def manifest(self) -> tuple[str | None, bool]:
        """The stored text of the signed tenant manifest (``None``: there is none), and
        whether the store must hold one: its version says that it was made, or appended
        to, by a version that writes it.  Both are read in one statement, so that the
        first append after an upgrade (which writes both) is seen whole or not at all."""
        text, required = manifest_from_rows(self._fetch(MANIFEST_QUERY, MANIFEST_PARAMS))
        if not text and not required:
            # an older store's version, but access rows signed by a version that writes
            # the manifest: the manifest was removed and the version set back
            try:
                required = bool(self._fetch(SIGNED_ACCESS_QUERY))
            except StoreError:
                required = False  # a store made before the access tables
        return text, required

    def stored_cold_url(self) -> str | None:
        """``store_meta.cold_url`` as the database holds it (``None``: none, so the
        default applies), to be checked against the one the signed manifest records."""
        rows = self._fetch("SELECT value FROM store_meta WHERE key = ?", ("cold_url",))
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def quarantine_rows(self, page: int = 20_000) -> Iterator[tuple[Any, ...]]:
        """Every quarantine row (:data:`QUARANTINE_COLUMNS` values), by ``id``, read
        ``page`` rows at a time (refused records can be many, and large)."""
        select = f"SELECT {', '.join(QUARANTINE_COLUMNS)} FROM quarantine"
        rows = self._fetch(f"{select} ORDER BY id LIMIT {int(page)}")
        while rows:
            yield from rows
            if len(rows) < page:
                return
            # the id is an integer on both backends (SQLite: the rowid itself)
            after = (rows[-1][0],)
            rows = self._fetch(f"{select} WHERE id > ? ORDER BY id LIMIT {int(page)}", after)

    def signed_sizes(self) -> dict[str, int]:
        """The tree size of each tenant's head row (a hint for progress and counts)."""
        return {str(t): int(n) for t, n in self._fetch("SELECT tenant_id, size FROM tree_heads")}

    def snapshot(
        self, tenant: str, *, tiles: bool = True, newest: int | None = None
    ) -> TenantSnapshot:
        """The tenant's checkpoints, tree head, tiles (unless ``tiles=False``: see
        :meth:`tiles`) and statements, in one transaction.

        ``newest``: only the checkpoints of the ``newest`` largest tree sizes (an index
        seek), for reads that need the newest signed tree and not the history: every
        read of a trail appends a checkpoint, so the whole list grows with use.  The
        snapshot is then marked :attr:`~TenantSnapshot.partial` when there may be more.
        """
        with self._connect() as conn:
            cur = conn.cursor()
            try:
                self._begin_read(cur)
                return self.snapshot_in(cur, tenant, tiles=tiles, newest=newest)
            finally:
                self._end_read(conn, cur)

    def snapshot_in(
        self, cur: Any, tenant: str, *, tiles: bool = True, newest: int | None = None
    ) -> TenantSnapshot:
        """:meth:`snapshot` through a cursor in a read transaction of the caller's."""
        snap = TenantSnapshot(tenant, tiles_read=tiles)
        try:
            snap.checkpoints, snap.malformed = self._checkpoints(cur, tenant, newest)
            snap.partial = newest is not None and (
                len(snap.checkpoints) + len(snap.malformed) >= newest
            )
            cur.execute(
                _ph(self.dialect, f"SELECT size, root_hash, {self._blob('frontier')} "
                    "FROM tree_heads WHERE tenant_id = ?", "format"),
                (tenant,),
            )  # fmt: skip
            head = cur.fetchone()
            if head is not None:
                size, root, frontier = head
                snap.head = (_as_int(size), str(root), bytes(frontier or b""))
            if tiles:
                snap.tiles = self._tiles(cur, tenant)
            snap.statements, snap.bad_statements = self._statements(cur, tenant)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"{self.backend.location}: cannot read the integrity data of tenant "
                f"{tenant!r}: {_first_line(exc)}"
            ) from exc
        return snap

    def _tiles(self, cur: Any, tenant: str, first: int = 0) -> list[tuple[int, bytes]]:
        cur.execute(
            _ph(self.dialect, f"SELECT tile, {self._blob('leaves')} FROM merkle_tiles "
                "WHERE tenant_id = ? AND tile >= ? ORDER BY tile", "format"),
            (tenant, first),
        )  # fmt: skip
        return [(_as_int(t), bytes(b or b"")) for t, b in cur.fetchall()]

    def tiles(self, tenant: str, first: int = 0) -> list[tuple[int, bytes]]:
        """The tenant's Merkle tiles, read on their own.  Tiles only grow (a partial
        last tile is replaced by a longer one with the same prefix), so tiles read after
        a snapshot hold the snapshot's tree as a prefix; the verifier checks it against
        the signed root either way.  ``first``: from that tile index on only (a verifier
        extending a tree it authenticated before reads only the tiles that grew)."""
        with self._connect() as conn:
            cur = conn.cursor()
            try:
                self._begin_read(cur)
                return self._tiles(cur, tenant, first)
            except Exception as exc:
                raise StoreError(
                    f"{self.backend.location}: cannot read the tiles of tenant {tenant!r}: "
                    f"{_first_line(exc)}"
                ) from exc
            finally:
                self._end_read(conn, cur)

    def tail(
        self,
        tenant: str,
        size: int,
        *,
        within: tuple[int, int] | None = None,
        newest: int | None = None,
        covered: Callable[[Sequence[Checkpoint]], int] | None = None,
    ) -> TailSnapshot:
        """Rows outside ``[0, size)`` (or of the wrong type), with the checkpoints and
        statements of the same moment: one transaction.

        ``covered``: given the checkpoints of that moment, the tree size their valid
        signatures cover (``size`` or more).  Rows at integer seqs from ``size`` up to
        it are counted as :attr:`TailSnapshot.appended` (an append committed while the
        range was read, however many rows it held) instead of being listed as strays.

        ``within``: SQLite values of the wrong type are looked for only among the seqs
        ``[lo, hi)`` (a ranged load), each part of the condition then being a seek on
        the primary key instead of a pass over every key of the tenant.  Text and
        BLOB values sort after every number, so ``seq >= size`` finds them anyway.
        ``newest``: only that many of the newest checkpoints (see :meth:`snapshot`).
        """
        with self._connect() as conn:
            cur = conn.cursor()
            try:
                self._begin_read(cur)
                checkpoints, _ = self._checkpoints(cur, tenant, newest)
                statements, _ = self._statements(cur, tenant)
                signed = max(size, covered(checkpoints)) if covered is not None else size
                rows, params = self._outside(tenant, size, signed, within)
                cur.execute(
                    _ph(self.dialect, f"SELECT CAST(seq AS TEXT), CAST(event_id AS TEXT) "
                        f"FROM {rows} AS r ORDER BY seq LIMIT {STRAY_LIMIT}", "format"),
                    params,
                )  # fmt: skip
                strays = [(str(s), None if e is None else str(e)) for s, e in cur.fetchall()]
                count = len(strays)
                if count >= STRAY_LIMIT:
                    cur.execute(
                        _ph(
                            self.dialect,
                            f"SELECT {_agg(self.dialect, 'count')}(*) FROM {rows} AS r",
                            "format",
                        ),
                        params,
                    )
                    count = int(cur.fetchone()[0])
                appended = 0
                if signed > size:
                    typed = " AND typeof(seq) = 'integer'" if self.dialect == "sqlite" else ""
                    cur.execute(
                        _ph(self.dialect, f"SELECT {_agg(self.dialect, 'count')}(*) FROM "
                            f"events WHERE tenant_id = ? AND seq >= ? AND seq < ?{typed}",
                            "format"),
                        (tenant, size, signed),
                    )  # fmt: skip
                    appended = int(cur.fetchone()[0])
            except Exception as exc:
                raise StoreError(
                    f"{self.backend.location}: cannot read tenant {tenant!r}: {_first_line(exc)}"
                ) from exc
            finally:
                self._end_read(conn, cur)
        return TailSnapshot(strays, count, checkpoints, statements, appended)

    def _outside(
        self, tenant: str, size: int, signed: int, within: tuple[int, int] | None
    ) -> tuple[str, tuple[Any, ...]]:
        """The query (a subquery of ``seq``, ``event_id``) and its parameters for the rows
        of ``tenant`` outside ``[0, size)``, less those at integer seqs in
        ``[size, signed)`` (see :meth:`tail`)."""
        if self.dialect != "sqlite":
            return (
                "(SELECT seq, event_id FROM events WHERE tenant_id = ? AND "
                "(seq IS NULL OR seq < 0 OR seq >= ?))",
                (tenant, signed),
            )
        parts = [*OUTSIDE_TREE]
        params: list[Any] = [tenant, tenant, tenant, signed]
        if signed > size:  # a value between them that is not an integer (5.5) is a stray
            parts.append("tenant_id = ? AND seq >= ? AND seq < ? AND typeof(seq) <> 'integer'")
            params += [tenant, size, signed]
        if within is not None:
            parts.append("tenant_id = ? AND seq >= ? AND seq < ? AND typeof(seq) <> 'integer'")
            params += [tenant, int(within[0]), int(within[1])]
        else:  # every seq below the range's end that is not an integer
            parts.append("tenant_id = ? AND seq >= 0 AND seq < ? AND typeof(seq) <> 'integer'")
            params += [tenant, size]
        rows = " UNION ALL ".join(f"SELECT seq, event_id FROM events WHERE {p}" for p in parts)
        return f"({rows})", tuple(params)

    def _blob(self, column: str) -> str:
        """A binary column as bytes, whatever type an attacker stored in it."""
        return f"CAST({column} AS BLOB)" if self.dialect == "sqlite" else column

    def _begin_read(self, cur: Any) -> None:
        if self.dialect == "sqlite":
            cur.execute("BEGIN")  # WAL: the first read fixes the snapshot for the transaction
        else:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def _end_read(self, conn: Any, cur: Any) -> None:
        try:
            if self.dialect == "sqlite":
                if conn.in_transaction:
                    cur.execute("COMMIT")
            else:
                conn.rollback()
        finally:
            cur.close()

    def _checkpoints(
        self, cur: Any, tenant: str, newest: int | None = None
    ) -> tuple[list[Checkpoint], list[tuple[int, str]]]:
        # ``newest``: the rows of the largest tree sizes (their index), in id order
        order = (
            "ORDER BY id"
            if newest is None
            else f"ORDER BY tree_size DESC, id DESC LIMIT {int(newest)}"
        )
        cur.execute(
            _ph(self.dialect, "SELECT id, tree_size, root_hash, timestamp, key_id, signature "
                f"FROM checkpoints WHERE tenant_id = ? {order}", "format"),
            (tenant,),
        )  # fmt: skip
        out: list[Checkpoint] = []
        bad: list[tuple[int, str]] = []
        parsed = _PARSED_CHECKPOINTS
        rows = cur.fetchall()
        if newest is not None:
            rows.sort(key=lambda r: _as_int(r[0]))
        for row_id, *row in rows:
            # every read appends a checkpoint, so a tenant's list grows with its reads:
            # each row is parsed once (keyed by its values and their types, so that
            # only the very same row finds an entry)
            key = (self.store_id, tenant, *((type(v), v) for v in row))
            found = parsed.get(key)
            if found is None:
                size, root, ts, kid, sig = row
                try:
                    found = Checkpoint(self.store_id, tenant, _strict_int(size), root, ts, kid, sig)
                except (ValueError, TypeError) as exc:
                    found = str(exc)
                if len(parsed) >= _PARSED_KEPT:
                    parsed.clear()
                parsed[key] = found
            if isinstance(found, str):
                bad.append((_as_int(row_id), found))
            else:
                out.append(found)
        return out, bad

    def _statements(
        self, cur: Any, tenant: str
    ) -> tuple[list[RangeStatement], list[tuple[int, str]]]:
        cur.execute(
            _ph(self.dialect, "SELECT id, kind, first_seq, end_seq, tree_size, root_hash, "
                "recorded_at, detail, key_id, signature FROM purges WHERE tenant_id = ? "
                "ORDER BY id", "format"),
            (tenant,),
        )  # fmt: skip
        out: list[RangeStatement] = []
        bad: list[tuple[int, str]] = []
        for row_id, kind, first, end, size, root, when, detail, kid, sig in cur.fetchall():
            try:
                out.append(
                    RangeStatement(
                        kind, self.store_id, tenant, _strict_int(first), _strict_int(end),
                        _strict_int(size), root, when, detail, kid, sig,
                    )
                )  # fmt: skip
            except (ValueError, TypeError) as exc:
                bad.append((_as_int(row_id), str(exc)))
        return out, bad

    # -- bulk reads through ADBC ---------------------------------------------------------
    def select_sql(self, where: str, *, typed: bool = False) -> str:
        """A SELECT of the stored columns under a condition with ``?`` bind markers.

        ``typed`` (SQLite): also whether every value has its column's type, as a
        ``_typed`` column; :meth:`read` asks for it only when the driver's answer shows
        that some value is not text.
        """
        cols = ", ".join(STORED_COLUMNS)
        if self.dialect == "sqlite":
            checks = " AND ".join(
                f"typeof({c}) = 'text'" if c in _REQUIRED else f"typeof({c}) IN ('text', 'null')"
                for c in _TEXT_COLUMNS
            )
            flag = f", ({checks}) AS _typed" if typed else ""
            return (
                f"SELECT {cols}{flag} FROM events WHERE {where} "
                "AND typeof(seq) = 'integer' ORDER BY seq"
            )
        return f"SELECT {cols} FROM events WHERE {where} ORDER BY seq"

    def read(self, where: Filter) -> pl.DataFrame:
        """Stored rows matching ``where`` (STORED_SCHEMA types, except that PostgreSQL
        timestamps stay datetimes), with a boolean ``_typed`` column on SQLite: false
        where a value has another SQL type than its column's, or is text that is not
        valid UTF-8.

        SQLite's TEXT affinity stores numbers written to the text columns as text, so
        only a BLOB or a NULL can be of another type.  A BLOB makes the driver read its
        whole column as bytes, a NULL is seen in the frame, and text that is not UTF-8
        fails Arrow's validation: the rows are then read again with a ``typeof`` check
        of every value, which costs a third of the read and is only paid when the
        answer shows that something is off.
        """
        table = self.backend.read_arrow(
            _ph(self.dialect, self.select_sql(where.sql), "dollar"), params=where.params
        )
        df, odd = _frame(table)
        if self.dialect == "sqlite" and odd:
            table = self.backend.read_arrow(
                _ph(self.dialect, self.select_sql(where.sql, typed=True), "dollar"),
                params=where.params,
            )
            df, odd = _frame(table)
            typed = pl.col("_typed").cast(pl.Boolean).fill_null(False)
            for c in odd:  # text that is not UTF-8 became null: not well-formed
                was = pl.Series(table.column(c).is_valid().to_numpy(zero_copy_only=False))
                typed = typed & ~(pl.lit(was) & pl.col(c).is_null())
            df = df.with_columns(typed.alias("_typed"))
        elif self.dialect == "sqlite":
            df = df.with_columns(
                pl.all_horizontal([pl.col(c).is_not_null() for c in _REQUIRED]).alias("_typed")
            )
        casts = {
            c: t
            for c, t in STORED_SCHEMA.items()
            if c in df.columns and not isinstance(df.schema[c], pl.Datetime) and df.schema[c] != t
        }
        if casts:
            df = df.cast(casts)  # type: ignore[arg-type]
        return df

    def plan(
        self,
        tenant: str,
        size: int,
        extra: Filter | None = None,
        *,
        chunk: int | None = None,
        seqs: tuple[int, int] | None = None,
        first_chunk: int | None = None,
    ) -> list[Filter]:
        """The conditions that read the tenant's rows with ``0 <= seq < size`` (and
        ``extra``) in chunks of ``chunk`` (default :data:`LOAD_CHUNK`) seqs, in order;
        the first one of ``first_chunk`` seqs when given (a pass hands out its first
        rows sooner)."""
        chunk = chunk or LOAD_CHUNK  # read when called: a test may lower it
        # ``seqs``: the range ``extra`` keeps, so that no chunk is planned outside it
        first, top = (0, size) if seqs is None else (max(0, seqs[0]), min(size, seqs[1]))
        bounds = list(range(first, top, chunk))
        if first_chunk is not None and first_chunk < chunk and top - first > first_chunk:
            bounds = [first, *range(first + first_chunk, top, chunk)]
        ends = [*bounds[1:], top] if bounds else []
        return [
            Filter("tenant_id = ? AND seq >= ? AND seq < ?", (tenant, lo, hi)) & (extra or Filter())
            for lo, hi in zip(bounds, ends, strict=True)
        ]

    def chunks(
        self,
        tenant: str,
        size: int,
        extra: Filter | None = None,
        *,
        ahead: int = 2,
        chunk: int | None = None,
        seqs: tuple[int, int] | None = None,
    ) -> Iterator[pl.DataFrame]:
        """The tenant's rows with ``0 <= seq < size`` (and ``extra``), in chunks of
        ``chunk`` (default :data:`LOAD_CHUNK`) seqs, read ``ahead`` chunks in advance in
        threads.

        Memory holds at most ``ahead + 1`` chunks.  Reading (ADBC) releases the GIL,
        so the caller verifies one chunk while the next ones are read.
        """
        plan = self.plan(tenant, size, extra, chunk=chunk, seqs=seqs)
        if not plan:
            return
        if len(plan) == 1:  # a page: no thread to start
            df = self.read(plan[0])
            if df.height:
                yield df
            return
        with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="auditkit-read") as pool:
            pending: deque[Future[pl.DataFrame]] = deque()
            todo = iter(plan)
            for f in todo:
                pending.append(pool.submit(self.read, f))
                if len(pending) >= ahead:
                    break
            try:
                while pending:
                    df = pending.popleft().result()
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.append(pool.submit(self.read, nxt))
                    if df.height:
                        yield df
                    del df
            finally:
                for fut in pending:
                    fut.cancel()

    def seqs(self, tenant: str, size: int, *, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """The stored seqs of a tenant inside ``[lo, min(hi, size))``, as an int64 array."""
        typed = " AND typeof(seq) = 'integer'" if self.dialect == "sqlite" else ""
        top = size if hi is None else min(hi, size)
        lo = max(lo, 0)
        where = f"WHERE tenant_id = ? AND seq >= ? AND seq < ?{typed}"
        if top > lo:
            # as many distinct integer seqs in [lo, top) as it holds numbers: every one
            # is there (the usual answer, from the primary key alone, without fetching)
            count = f"SELECT {_agg(self.dialect, 'count')}(DISTINCT seq) FROM events {where}"
            (n,) = self._fetch(count, (tenant, lo, top))[0]
            if int(n) == top - lo:
                return np.arange(lo, top, dtype=np.int64)
        sql = _ph(self.dialect, f"SELECT seq FROM events {where}", "dollar")
        df = self.backend.read(sql, params=(tenant, lo, top))
        return (
            df.get_column("seq").cast(pl.Int64).to_numpy() if df.height else np.empty(0, np.int64)
        )

    def mistyped_times(self, tenant: str) -> list[tuple[str, str | None]]:
        """Rows whose ``occurred_at`` is not a time: on SQLite not text (NULL, a number, a
        BLOB), on PostgreSQL NULL (its NOT NULL constraint dropped), which every time
        filter would wrongly keep or drop: found through the time index (numbers sort
        before any text, BLOBs after; PostgreSQL indexes NULLs), so at the cost of the
        rows found."""
        if self.dialect != "sqlite":
            rows = self._fetch(
                "SELECT CAST(seq AS TEXT), CAST(event_id AS TEXT) FROM events "
                f"WHERE tenant_id = ? AND occurred_at IS NULL LIMIT {STRAY_LIMIT}",
                (tenant,),
            )
            return [(str(s), None if e is None else str(e)) for s, e in rows]
        # three seeks: with OR the planner walked the tenant's whole time index (45 ms
        # for 480k events, at every time-ranged page)
        rows = self._fetch(f"{MISTYPED_TIMES} LIMIT {STRAY_LIMIT}", (tenant, tenant, tenant))
        return [(str(s), None if e is None else str(e)) for s, e in rows]

    def window_edges(
        self, tenant: str, size: int, start: str | None, end: str | None
    ) -> pl.DataFrame | None:
        """The rows beside a time window ``[start, end)`` (stored timestamps) in seq
        order that lie outside it, for a time-ranged read to verify although it does
        not return them (``None``: there are none).

        A time-ranged read selects rows by their ``occurred_at``, which whoever can write
        the database can move out of the window: the read then misses the event.  The
        rows it returned show such an edit beside them (see ``Store._outside_the_window``),
        but a window whose every event was moved out returns none.  So the read also
        verifies the record with the latest time before the window and the one with the
        earliest time at or after it, and their neighbours by seq: in a trail stored in
        time order, an event moved out of the window either is one of those two or lies
        next to one of them.  Two seeks of the time index, a few rows."""
        seqs = window_edge_seqs(self._fetch(*window_edges_query(self.dialect, tenant, start, end)))
        seqs = [s for s in seqs if s < size]
        if not seqs:
            return None
        inside = window_condition(self.dialect, start, end)
        where = Filter(
            f"tenant_id = ? AND seq IN ({', '.join('?' * len(seqs))}) "
            f"AND ({inside.sql}) IS NOT TRUE",
            (tenant, *seqs, *inside.params),
        )
        rows = self.read(where)
        return rows if rows.height else None

    def count_range(self, tenant: str, size: int) -> int:
        """Rows of a tenant with ``0 <= seq < size``, whatever the type of their seq."""
        rows = self._fetch(
            f"SELECT {_agg(self.dialect, 'count')}(*) FROM events WHERE tenant_id = ? "
            "AND seq >= 0 AND seq < ?",
            (tenant, size),
        )
        return int(rows[0][0])

    def live_segments(self, tenant: str) -> list[SegmentRef]:
        """The segments the tenant's seal statements name, less those purged since, as
        the database says (untrusted: for deduplication and counts; verification checks
        statements and segments)."""
        rows = self._fetch(
            "SELECT kind, end_seq, detail FROM purges WHERE tenant_id = ?", (tenant,)
        )
        purged = max([0, *(_as_int(e) for k, e, _ in rows if k == "purge")])
        refs = [SegmentRef.parse(str(d)) for k, e, d in rows if k == "seal" and _as_int(e) > purged]
        return [r for r in refs if r is not None]

    def signed_segments(self, tenant: str, public_key: Any) -> list[SegmentRef]:
        """The segments named by the tenant's seal statements that ``public_key`` signed,
        less those a signed purge removed since: what deduplication may trust (a seal
        row inserted or edited in the database names nothing here)."""
        with self._cursor() as cur:
            statements, _ = self._statements(cur, tenant)
        signed = []
        for st in statements:
            try:
                verify_statement(st, public_key)
            except SignatureError:
                continue
            signed.append(st)
        purged = max([0, *(st.end_seq for st in signed if st.kind == "purge")])
        refs = [
            SegmentRef.parse(st.detail)
            for st in signed
            if st.kind == "seal" and st.end_seq > purged
        ]
        return [r for r in refs if r is not None]

    def statement_rows(self, tenant: str) -> int:
        """How many seal and purge statements the database holds for ``tenant`` now
        (untrusted: a cheap sign that a retention run committed since a snapshot,
        whose statements are then read and checked again)."""
        rows = self._fetch("SELECT COUNT(*) FROM purges WHERE tenant_id = ?", (tenant,))
        return _as_int(rows[0][0])

    def sealed_count(self, tenant: str | None = None) -> int:
        """Events in cold segments not purged since, by the seal statements (a count
        for progress and summaries; verification checks the segments themselves)."""
        where = " WHERE tenant_id = ?" if tenant is not None else ""
        rows = self._fetch(
            f"SELECT tenant_id, kind, first_seq, end_seq FROM purges{where}",
            (tenant,) if tenant is not None else (),
        )
        purged: dict[str, int] = {}
        for t, kind, _, end in rows:
            if kind == "purge":
                purged[t] = max(purged.get(t, 0), _as_int(end))
        total = 0
        for t, kind, first, end in rows:
            if kind == "seal":
                total += max(0, _as_int(end) - max(_as_int(first), purged.get(t, 0)))
        return total

    def count(self, tenant: str | None = None) -> int:
        """Events inside their tenant's tree (seq from 0 up to the tree head's size)."""
        typed = " AND typeof(e.seq) = 'integer'" if self.dialect == "sqlite" else ""
        where = " AND e.tenant_id = ?" if tenant is not None else ""
        rows = self._fetch(
            "SELECT COUNT(*) FROM events e JOIN tree_heads h ON h.tenant_id = e.tenant_id "
            f"WHERE e.seq >= 0 AND e.seq < h.size{typed}{where}",
            (tenant,) if tenant is not None else (),
        )
        return int(rows[0][0])


#: SQLite conditions (the tenant id; the last also the signed size) for the rows of a
#: tenant outside the signed tree ``[0, size)``, each a seek on the primary key (text
#: and BLOB seqs sort after every number).
OUTSIDE_TREE: Final = (
    "tenant_id = ? AND seq IS NULL",
    "tenant_id = ? AND seq < 0",
    "tenant_id = ? AND seq >= ?",
)


def window_condition(dialect: str, start: str | None, end: str | None) -> Filter:
    """``start <= occurred_at < end`` (stored timestamps; either bound may be absent)."""
    mark = "?" if dialect == "sqlite" else "CAST(? AS timestamptz)"
    f = Filter()
    for op, value in ((">=", start), ("<", end)):
        if value is not None:
            f = f & Filter(f"occurred_at {op} {mark}", (value,))
    return f


def window_edges_query(
    dialect: str, tenant: str, start: str | None, end: str | None
) -> tuple[str, tuple[Any, ...]]:
    """One row: the greatest seq of the records at the latest time before ``start``,
    and the smallest seq of those at the earliest time at or after ``end`` (NULL where
    there is none, or no bound), each by two seeks of the time index."""
    mark = "?" if dialect == "sqlite" else "CAST(? AS timestamptz)"
    parts: list[str] = []
    params: list[Any] = []
    for bound, pick, order, op in ((start, "max", "max", "<"), (end, "min", "min", ">=")):
        if bound is None:
            parts.append("NULL")
            continue
        parts.append(
            f"(SELECT {_agg(dialect, pick)}(seq + 0) FROM events WHERE tenant_id = ? "
            f"AND occurred_at = (SELECT {_agg(dialect, order)}(occurred_at) FROM events "
            "WHERE tenant_id = ? "
            f"AND occurred_at {op} {mark}))"
        )
        params += [tenant, tenant, bound]
    return f"SELECT {', '.join(parts)}", tuple(params)


def window_edge_seqs(rows: Sequence[Sequence[Any]]) -> list[int]:
    """The seqs :func:`window_edges_query` found, with their neighbours, in order (a seq
    that is not an integer is left to the checks of the signed range)."""
    out: set[int] = set()
    for value in rows[0] if rows else ():
        if type(value) is int:
            out.update((value - 1, value, value + 1))
    return sorted(s for s in out if s >= 0)


#: SQLite rows of a tenant (three times the tenant id) whose ``occurred_at`` is not
#: text: NULLs, then numbers (they sort before any text), then BLOBs (after it).
MISTYPED_TIMES: Final = " UNION ALL ".join(
    "SELECT CAST(seq AS TEXT), CAST(event_id AS TEXT) FROM events WHERE tenant_id = ? "
    f"AND occurred_at {cond}"
    for cond in ("IS NULL", "< ''", ">= x''")
)


def _frame(table: Any) -> tuple[pl.DataFrame, list[str]]:
    """An Arrow table of stored rows as a frame, and the text columns that held a
    value of another type (read as bytes) or text that is not valid UTF-8 (those
    values become null)."""
    frame, odd = arrow_text(table)
    for c in [c for c in frame.columns if frame.schema[c] == pl.Binary]:
        frame = frame.with_columns(pl.Series(c, _utf8_or_null(frame.get_column(c).to_arrow())))
        odd.append(c)
    return frame, odd


def _odd_tenant_condition(kind: str, value: bytes) -> tuple[str, tuple[Any, ...], str]:
    """The condition (SQLite) that finds the rows of an odd ``tenant_id`` of SQL type
    ``kind`` (``value`` as bytes), its bind values, and how to show it."""
    text = value.decode("utf-8", "replace")
    if kind == "null":
        return "tenant_id IS NULL", (), "NULL"
    if kind == "text":  # the same bytes as text: an index seek
        return "tenant_id = CAST(? AS TEXT)", (value,), f"{text!r} (text that is not UTF-8)"
    if kind == "blob":
        return "tenant_id = ?", (value,), f"{text!r} (a BLOB)"
    number = float(text) if kind == "real" else int(text)
    return f"typeof(tenant_id) = '{kind}' AND tenant_id = ?", (number,), f"{text} (a number)"


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _strict_int(value: Any) -> int:
    """An integer column value; anything else (a REAL, text) is malformed."""
    if type(value) is not int:
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _first_line(exc: BaseException) -> str:
    """An exception's message without SQL, parameters or documentation links."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line.split("[SQL:")[0].split("(Background on this error")[0].strip()
