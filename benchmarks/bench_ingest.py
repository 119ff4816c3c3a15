"""`auditkit ingest` of a held-out canonical NDJSON trail against a bare bulk insert
of the same rows, measured in the same run (issue 11, "Ingest speed").

    nice -n 10 python benchmarks/bench_ingest.py                  # 1M events
    nice -n 10 python benchmarks/bench_ingest.py --events 200000  # quicker

The trail comes from ``bench_ingest_trail.py`` (not auditkit's own sample): about
800 bytes an event as written, 12 tenants, ``null`` for absent optional fields,
empty strings and lists, millisecond times, free metadata.

Timed:

- ``auditkit ingest STORE FILE`` as a user runs it (a fresh process: start-up,
  parsing, validation, canonical bytes, hashing, signed checkpoints, inserts);
- the floor: the rows that ingest stored, read back and inserted bare into an
  empty copy of the same table (same indexes), once with ADBC's bulk ingest from
  an Arrow table and once with ``sqlite3.executemany``, in batches of 50,000 rows,
  each in its own transaction with the same page cache, as ingest writes them.

Targets: at least 50,000 events/s, and within 2x of the faster bare insert.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest_trail import write as write_trail

from auditkit.record import STORED_COLUMNS
from auditkit.schema import normalize_event
from auditkit.store import Store
from auditkit.store._backend import BULK_CACHE_KIB, open_backend

BATCH = 50_000  # ingest_files' default batch
CACHE = f"PRAGMA cache_size = -{BULK_CACHE_KIB}"  # what ingest's appends use


def timed(label: str, fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"  {label:<62} {dt:8.2f} s")
    return dt, out


def stored_rows(db: Path) -> Any:
    """The rows ingest stored, in insert order, as an Arrow table."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    cols = ", ".join(STORED_COLUMNS)
    with adbc.connect(str(db)) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT {cols} FROM events ORDER BY rowid")
        table = cur.fetch_arrow_table()
        cur.close()
    return table.cast(
        pa.schema([(c, pa.int64() if c == "seq" else pa.string()) for c in STORED_COLUMNS])
    )


def empty_table(path: Path) -> Path:
    open_backend(str(path)).create_schema()
    return path


def bare_executemany(path: Path, table: Any) -> float:
    """Seconds spent inserting ``table`` with executemany, batch by batch (turning
    each Arrow batch into Python tuples is not counted)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(CACHE)
    cols = ", ".join(STORED_COLUMNS)
    marks = ", ".join("?" * len(STORED_COLUMNS))
    spent = 0.0
    for batch in table.to_batches(BATCH):
        rows = list(zip(*(c.to_pylist() for c in batch.columns), strict=True))
        t0 = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.executemany(f"INSERT INTO events ({cols}) VALUES ({marks})", rows)
        con.execute("COMMIT")
        spent += time.perf_counter() - t0
    con.close()
    return spent


def bare_adbc(path: Path, table: Any) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(str(path)) as conn:
        cur = conn.cursor()
        cur.execute(CACHE)
        for batch in table.to_batches(BATCH):
            cur.adbc_ingest("events", batch, mode="append")
            conn.commit()
        cur.close()


def fast_path_share(trail: Path, sample: int = 20_000) -> float:
    """Share of the trail's events that the validation fast path takes."""
    from auditkit.schema import _fast_normalize

    taken = total = 0
    with open(trail, "rb") as f:
        for line in f:
            total += 1
            taken += _fast_normalize(orjson.loads(line), None) is not None
            if total == sample:
                break
    return taken / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None, help="ingest --workers")
    args = parser.parse_args()
    n = args.events
    tmp = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        trail = tmp / "trail.ndjson"
        print(f"held-out trail: {n:,} events (not timed)")
        size = write_trail(trail, n)
        print(f"  {size / n:.0f} bytes an event as written, {size / 2**20:.0f} MiB")
        print(f"  validation fast path takes {fast_path_share(trail):.1%} of them")
        first = orjson.loads(trail.open("rb").readline())
        normalize_event(first)  # the trail is valid input

        print(f"\ningest {n:,} events into SQLite")
        db = tmp / "audit.db"
        Store.init(str(db))
        exe = shutil.which("auditkit", path=os.path.dirname(sys.executable)) or "auditkit"
        command = [exe, "ingest", str(db), str(trail), "--no-progress", "--json"]
        if args.workers:
            command += ["--workers", str(args.workers)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        dt, done = timed(
            "auditkit ingest (process start to exit)",
            lambda: subprocess.run(command, capture_output=True, text=True),
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"ingest failed: {done.stderr or done.stdout}")
        result = orjson.loads(done.stdout)
        assert result["stored"] == n, result

        table = stored_rows(db)
        t_adbc, _ = timed(
            "floor: ADBC bulk ingest of the stored rows from Arrow",
            lambda: bare_adbc(empty_table(tmp / "adbc.db"), table),
        )
        t_many = bare_executemany(empty_table(tmp / "many.db"), table)
        print(f"  {'floor: sqlite3 executemany of the same rows':<62} {t_many:8.2f} s")
        floor = min(t_adbc, t_many)
        print(f"  => auditkit ingest: {n / dt:,.0f} events/s (target >= 50,000)")
        print(
            f"  => its processes used {cpu:.1f} CPU-seconds: {n / cpu:,.0f} events per "
            f"CPU-second (on a busy machine, what the wall clock does not show)"
        )
        print(f"  => ratio to the ADBC bulk insert: {dt / t_adbc:.2f}x")
        print(f"  => ratio to executemany: {dt / t_many:.2f}x")
        print(f"  => ratio to the faster bare insert: {dt / floor:.2f}x (target <= 2x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
