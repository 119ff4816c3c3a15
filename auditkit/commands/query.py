"""``auditkit query STORE "SQL"``: SQL over the verified events (table ``events``).

::

    auditkit query audit.db "SELECT action, COUNT(*) AS n FROM events GROUP BY action ORDER BY n DESC"
    auditkit query audit.db "SELECT * FROM events WHERE outcome = 'failure'" -o failures.csv
    auditkit query audit.db "SELECT ..." --format ndjson | jq ...

Events are verified chunk by chunk as they are read (:meth:`Store.scan
<auditkit.store.Store.scan>`) and the query runs on Polars' streaming engine,
so memory stays bounded at any store size.  On a terminal the result is a
table of its first ``--limit`` rows; ``--format csv|ndjson|json`` prints every
row, and ``-o FILE`` writes CSV, Parquet, NDJSON or JSON (from the suffix, or
``--format``).  CSV cells that a spreadsheet would run as a formula are
prefixed with ``'``; nested values (lists, structs) become JSON text.
"""  # noqa: E501

from __future__ import annotations

import argparse
import shutil
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditkit.commands.base import (
    MAX_SHOWN,
    at_least,
    command,
    events_total,
    is_stdout,
    open_store,
    output_path,
    progress_argument,
    progress_bar,
    store_argument,
    tenant_argument,
    time_arguments,
    time_range,
)
from auditkit.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

__all__: list[str] = []

_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
}
_FORMATS = ("table", "csv", "ndjson", "json", "parquet")


def _args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument("sql", metavar="SQL", help="a query over the table 'events' (Polars SQL)")
    tenant_argument(p)
    time_arguments(p)
    p.add_argument(
        "--format",
        choices=_FORMATS,
        help="table (default on stdout), csv, ndjson, json, or parquet (with -o)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the result here (format from the suffix); '-' is stdout (with --format)",
    )
    p.add_argument(
        "--limit",
        type=at_least(0, MAX_SHOWN),
        default=100,
        metavar="N",
        help="rows shown in a table (default 100; 0: all)",
    )
    progress_argument(p)


def _format(args: argparse.Namespace) -> str:
    if is_stdout(args.output):  # -o -: standard output, as without -o
        if args.format in (None, "table"):
            raise UsageError("query: -o - writes csv, ndjson or json to stdout: give --format")
        args.output = None
    if args.output is None:
        fmt = args.format or "table"
        if fmt == "parquet":
            raise UsageError("query: --format parquet needs -o FILE")
        return str(fmt)
    if args.format == "table":
        raise UsageError("query: -o writes csv, ndjson, json or parquet, not a table")
    if args.format:
        return str(args.format)
    suffix = Path(args.output).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UsageError(
            f"query: cannot tell the format of {args.output!r} from its suffix; "
            "use .csv, .parquet, .ndjson, .jsonl or .json, or --format"
        )
    return _SUFFIXES[suffix]


@command("query", "run SQL over the verified events (table 'events'); print or write the result")(
    _args
)
def _query(args: argparse.Namespace) -> int:
    import tempfile

    from auditkit.sql import sql_frame

    fmt = _format(args)
    out = output_path(args.output) if args.output else None
    start, end = time_range(args)
    store = open_store(args)
    with tempfile.TemporaryDirectory(prefix="auditkit-query-") as folder:
        total = partial(events_total, store, args.tenant)
        with progress_bar(args, desc="verify", total=total) as tick:
            events = store.scan(args.tenant, start=start, end=end, folder=folder, progress=tick)
        result = sql_frame(events, args.sql)
        if out is not None:
            # written in the query's own temporary folder and moved into place once
            # whole: an interrupted or failed query leaves no half-written file (Polars'
            # writer threads may still open and write it after Ctrl-C reaches Python,
            # so it is never beside the target)
            whole = Path(folder) / "result"
            _write(result, fmt, whole)
            shutil.move(whole, out)
            print(f"wrote the result ({fmt}) to {args.output}", file=sys.stderr)
        elif fmt == "table":
            _print_table(result, args.limit)
        else:
            _write(result, fmt, None)
    return 0


def _print_table(result: pl.LazyFrame, limit: int) -> None:
    from auditkit.commands._table import render_table, terminal_width
    from auditkit.sql import collect

    shown = collect(result if limit == 0 else result.head(limit + 1))
    more = limit != 0 and shown.height > limit
    rows = shown.head(limit).to_dicts() if more else shown.to_dicts()
    numeric = [c for c, t in shown.schema.items() if t.is_numeric()]
    for line in render_table(rows, shown.columns, width=terminal_width(), right=numeric):
        print(line)
    tail = f"first {limit} rows; more not shown (--limit N, or -o FILE)" if more else ""
    print(tail or f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=sys.stderr)


def _csv_ready(result: pl.LazyFrame) -> pl.LazyFrame:
    """Text cells for CSV: nested values as JSON, times as RFC 3339, formulas defused."""
    import polars as pl

    from auditkit.export.formats import spreadsheet_safe

    exprs: list[pl.Expr] = []
    for name, dtype in result.collect_schema().items():
        col = pl.col(name)
        if isinstance(dtype, pl.List | pl.Array | pl.Struct):
            prefix = len('{"v":')
            text = pl.struct(col.alias("v")).struct.json_encode().str.slice(prefix)
            col = pl.when(col.is_null()).then(None).otherwise(text.str.strip_suffix("}"))
        elif isinstance(dtype, pl.Datetime):
            col = col.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        elif dtype.is_numeric() or dtype == pl.Boolean:
            exprs.append(col)
            continue
        exprs.append(spreadsheet_safe(col.cast(pl.String)).alias(name))
    return result.select(exprs)


def _write(result: pl.LazyFrame, fmt: str, out: Path | None) -> None:
    """Stream the result to ``out`` (or stdout), never holding it all in memory."""
    from auditkit.sql import collect

    target: Any = out if out is not None else sys.stdout.buffer
    if out is None:
        sys.stdout.flush()
    try:
        if fmt == "csv":
            _csv_ready(result).sink_csv(target, engine="streaming")
        elif fmt == "ndjson":
            result.sink_ndjson(target, engine="streaming")
        elif fmt == "parquet":
            result.sink_parquet(target, compression="zstd", engine="streaming")
        else:  # one JSON document: the rows as an array
            frame = collect(result)
            if out is None:
                frame.write_json(target)
                sys.stdout.buffer.write(b"\n")
            else:
                frame.write_json(out)
    except Exception as exc:
        if out is None and "Broken pipe" in str(exc):
            # the reader went away (`| head`): Polars says so in its own error
            raise BrokenPipeError(str(exc)) from None
        if type(exc).__module__.startswith("polars"):
            raise UsageError(f"SQL: {str(exc).splitlines()[0] if str(exc) else exc}") from None
        raise
    if out is None:
        sys.stdout.buffer.flush()
