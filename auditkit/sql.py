"""SQL over verified events, for the queries data teams script.

The events are one table, ``events``, with the columns of
:data:`~auditkit.schema.FRAME_SCHEMA` (``tenant_id``, ``seq``, ``occurred_at``,
``action``, ``outcome``, ``actor_id``, ...), read from a store through
:meth:`~auditkit.store.Store.scan`: every row is verified against the signed
checkpoints before the query sees it, chunk by chunk, so memory stays bounded
whatever the size of the store.  The SQL dialect is Polars SQL (PostgreSQL-like:
``SELECT``, ``WHERE``, ``GROUP BY``, ``JOIN``, window functions, ``DATE_TRUNC``,
...).  The query reads only the ``events`` table: the table functions that read
files (``read_csv``, ``read_parquet``, ...) are refused.

Examples
--------
>>> from auditkit.frame import events_to_frame
>>> frame = events_to_frame([
...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
...      "action": "user.login", "outcome": "failure", "actor": {"id": "u1"}},
...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:01:00Z",
...      "action": "user.login", "actor": {"id": "u1"}},
... ])
>>> sql = "SELECT outcome, COUNT(*) AS n FROM events GROUP BY outcome ORDER BY outcome"
>>> query(frame, sql).rows()
[('failure', 1), ('success', 1)]
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from auditkit.errors import UsageError

if TYPE_CHECKING:
    from auditkit.store import Store

__all__ = ["TABLE", "collect", "query", "sql_frame"]

#: The name of the events table in a query.
TABLE = "events"

_LITERALS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
_FILE_FUNCTIONS = re.compile(r"\b(read_\w+|scan_\w+)\s*\(", re.I)


def sql_frame(events: pl.LazyFrame | pl.DataFrame, sql: str) -> pl.LazyFrame:
    """The lazy result of ``sql`` over ``events`` (the table ``events``).

    Raises
    ------
    UsageError
        When the SQL does not parse, names an unknown table or column, or calls a
        function that reads files.

    Examples
    --------
    >>> lf = sql_frame(pl.DataFrame({"action": ["a", "b"]}), "SELECT * FROM events LIMIT 1")
    >>> lf.collect().item()
    'a'
    >>> sql_frame(pl.DataFrame(), "SELECT * FROM read_csv('/etc/passwd')")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: SQL: read_csv() reads files; a query reads only the table 'events'
    """
    if not isinstance(sql, str) or not sql.strip():
        raise UsageError("SQL: expected a query such as SELECT COUNT(*) FROM events")
    bare = _LITERALS.sub("''", sql)
    found = _FILE_FUNCTIONS.search(bare)
    if found:
        raise UsageError(
            f"SQL: {found.group(1)}() reads files; a query reads only the table {TABLE!r}"
        )
    lazy = events.lazy()
    ctx = pl.SQLContext({TABLE: lazy}, eager=False)
    try:
        result = ctx.execute(sql)
        result.collect_schema()  # unknown columns and type errors show here, not later
    except pl.exceptions.PolarsError as exc:
        raise UsageError(f"SQL: {_explained(sql, exc, lazy.collect_schema())}") from None
    return result


def _explained(sql: str, exc: BaseException, schema: pl.Schema) -> str:
    """Polars' words for a query's error, with what the events table holds where they
    are a bare name: a dotted field of a column that is JSON text or a list, or of a
    nested field (``actor.id``) where the table's columns are flat (``actor_id``).

    >>> schema = pl.Schema({"actor_id": pl.String, "metadata": pl.String})
    >>> print(_explained("SELECT metadata.region FROM events", ValueError("region"), schema))
    ... # doctest: +NORMALIZE_WHITESPACE
    metadata is JSON text, not a struct: 'metadata.region' cannot be read in SQL; match
    its text (metadata LIKE '%"region"%'), or load the events in Python and use
    pl.col("metadata").str.json_path_match("$.region")
    >>> err = ValueError("no table or struct column named 'actor' found")
    >>> print(_explained("SELECT actor.id FROM events", err, schema))
    no table or struct column named 'actor' found (the events table's columns are flat: actor_id)
    """
    first = _first_line(exc)
    if re.fullmatch(r"[A-Za-z_]\w*", first):
        used = re.search(rf"\b([A-Za-z_]\w*)\s*\.\s*{re.escape(first)}\b", sql)
        column = used.group(1) if used else None
        dtype = schema.get(column) if column else None
        if dtype == pl.String:
            return (
                f"{column} is JSON text, not a struct: '{column}.{first}' cannot be read in "
                f"SQL; match its text ({column} LIKE '%\"{first}\"%'), or load the events "
                f'in Python and use pl.col("{column}").str.json_path_match("$.{first}")'
            )
        if isinstance(dtype, pl.List) and column is not None:
            return (
                f"{column} is a list: '{column}.{first}' cannot be read in SQL as it stands "
                f"(each event has several); use the first one's columns where the table has "
                f"them ({', '.join(c for c in schema if c.startswith(column[:-1] + '_'))}), "
                "or load the events in Python and explode the list"
            )
        return f"{first}: no such field"
    missing = re.search(r"no table or struct column named '(\w+)'", first)
    if missing:
        flat = [c for c in schema if c.startswith(missing.group(1) + "_")]
        if flat:
            return f"{first} (the events table's columns are flat: {', '.join(flat)})"
    return first


def query(
    source: Store | pl.LazyFrame | pl.DataFrame,
    sql: str,
    *,
    tenant: str | Sequence[str] | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
) -> pl.DataFrame:
    """Run ``sql`` over verified events and return the result.

    Parameters
    ----------
    source
        A :class:`~auditkit.store.Store` (its events are verified as they are
        read, in bounded memory), or an event frame already loaded.
    sql
        A Polars SQL query over the table ``events``.
    tenant, start, end
        With a store: only these tenants, and events in ``[start, end)`` (an
        unknown tenant is an error).

    Raises
    ------
    UsageError
        A bad query; :class:`~auditkit.errors.TamperedError` when a record read
        from the store does not verify.
    """
    if isinstance(source, pl.LazyFrame | pl.DataFrame):
        return collect(sql_frame(source, sql))
    with tempfile.TemporaryDirectory(prefix="auditkit-query-") as folder:
        events = source.scan(tenant, start=start, end=end, folder=folder)
        return collect(sql_frame(events, sql))


def collect(result: pl.LazyFrame) -> pl.DataFrame:
    """Collect a query's result with the streaming engine (bounded memory)."""
    try:
        return result.collect(engine="streaming")
    except pl.exceptions.PolarsError as exc:
        raise UsageError(f"SQL: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
    return lines[0] if lines else type(exc).__name__
