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

#: Functions of Polars SQL that read files (``read_csv``, ``read_parquet``, ...).
_FILE_FUNCTION = re.compile(r"(?:read|scan)_\w*", re.I)
#: Keywords after which a relation is named (a quoted file name there is read).
_RELATION_BEFORE = frozenset({"from", "join", "lateral", "apply", "table", "into", "update"})
#: Keywords that begin a clause of a query, to tell a FROM list's commas from others.
_CLAUSES = frozenset(
    {"select", "from", "where", "group", "having", "order", "limit", "offset", "union",
     "except", "intersect", "qualify", "window", "on", "using", "with", "values", "fetch"}
)  # fmt: skip
_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<line>--[^\n]*)
      | (?P<block>/\*)
      | (?P<prefix>[A-Za-z_][\w$]*)(?=')
      | (?P<string>')
      | (?P<quoted>"(?:[^"]|"")*"?|`(?:[^`]|``)*`?)
      | (?P<dollar>\$(?:[A-Za-z_]\w*)?\$)
      | (?P<word>[A-Za-z_][\w$]*)
      | (?P<other>.)""",
    re.X | re.S,
)


def _tokens(sql: str) -> list[tuple[str, str]]:
    """``sql`` as (kind, text) tokens the way Polars' SQL parser reads it: strings
    (``'...'`` with ``''``; ``E'...'`` with backslash escapes too; dollar-quoted),
    quoted identifiers (``"..."``, backticks: their name, unquoted), words and
    single characters; comments (``--``, nested ``/* */``) dropped.  Anything
    left open swallows the rest, as the parser would refuse it anyway."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(sql)
    escapes = False
    while i < n:
        m = _TOKEN.match(sql, i)
        assert m is not None  # (?P<other>.) matches any character
        kind, text = m.lastgroup or "other", m.group()
        i = m.end()
        if kind in ("space", "line"):
            continue
        if kind == "block":
            depth = 1
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            continue
        if kind == "prefix":  # E'...', N'...', X'...': the string follows
            escapes = text.lower() == "e"
            continue
        if kind == "string":
            chars = []
            while i < n:
                c = sql[i]
                if escapes and c == "\\" and i + 1 < n:
                    chars.append(sql[i + 1])
                    i += 2
                    continue
                if c == "'":
                    if sql.startswith("''", i):
                        chars.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                chars.append(c)
                i += 1
            escapes = False
            out.append(("string", "".join(chars)))
            continue
        if kind == "dollar":
            end = sql.find(text, i)
            end = n if end < 0 else end
            out.append(("string", sql[i:end]))
            i = min(n, end + len(text))
            continue
        if kind == "quoted":
            q = text[0]
            body = text[1:-1] if len(text) > 1 and text.endswith(q) else text[1:]
            out.append(("word", body.replace(q + q, q)))
            continue
        out.append((kind, text))
    return out


def _reads_files(sql: str) -> str | None:
    """How ``sql`` would read a file, or ``None``: a call of a function that reads
    files (however its name is quoted, whatever comments stand before its
    parenthesis), or a quoted file name where a relation is named (``FROM
    'x.csv'``, ``JOIN ('x.parquet')``, a FROM list's ``, 'x.csv'``), which Polars
    reads as a file."""
    tokens = _tokens(sql)
    clause: list[str | None] = [None]  # the clause at each depth of parentheses
    for j, (kind, text) in enumerate(tokens):
        low = text.lower()
        if kind == "word":
            nxt = tokens[j + 1][1] if j + 1 < len(tokens) else ""
            if nxt == "(" and _FILE_FUNCTION.fullmatch(text):
                return f"{text}() reads files"
            if low in _CLAUSES or low == "join":
                clause[-1] = "from" if low == "join" else low
        elif text == "(":
            clause.append(None)
        elif text == ")":
            if len(clause) > 1:
                clause.pop()
        elif kind == "string":
            k, depth = j - 1, len(clause) - 1
            while k >= 0 and tokens[k][1] == "(":  # FROM ('x.csv'), FROM (('x.csv'))
                k, depth = k - 1, depth - 1
            before = tokens[k] if k >= 0 else ("", "")
            at_relation = before[0] == "word" and before[1].lower() in _RELATION_BEFORE
            in_from_list = before[1] == "," and depth >= 0 and clause[depth] == "from"
            if at_relation or in_from_list:
                return f"the quoted name {text[:60]!r} names a file to read"
    return None


def _scans(plan: str) -> list[str]:
    """The lines of a query plan that read a source (``Parquet SCAN [...]``, ...)."""
    return [line.strip() for line in plan.splitlines() if "SCAN" in line]


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
    found = _reads_files(sql)
    if found:
        raise UsageError(f"SQL: {found}; a query reads only the table {TABLE!r}")
    lazy = events.lazy()
    ctx = pl.SQLContext({TABLE: lazy}, eager=False)
    try:
        result = ctx.execute(sql)
        # whatever else reads a source is refused before anything is read from it
        own = set(_scans(lazy.explain(optimized=False)))
        if any(scan not in own for scan in _scans(result.explain(optimized=False))):
            raise UsageError(f"SQL: the query reads a file; a query reads only the table {TABLE!r}")
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
