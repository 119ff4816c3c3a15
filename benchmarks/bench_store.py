"""Store benchmarks (issue 2): ingest and verified load, as ratios against
baselines run in the same process.

    python benchmarks/bench_store.py                 # 1M events
    python benchmarks/bench_store.py --events 200000 # quicker
    python benchmarks/bench_store.py --huge 10000000 # peak memory of a 10M load + verify

Targets: ingest >= 50,000 events/s and <= 3x a bare executemany of the same rows;
load + verification <= 3x a bare Polars read plus one vectorised SHA-256, and
>= 10x faster than a pandas + json.dumps(sort_keys=True) + hashlib row loop;
10M events verified (Store.scan) under 8 GiB peak memory.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson
import polars as pl
import polars_hash  # noqa: F401

from auditkit.ingest.pipeline import ingest_files
from auditkit.record import STORED_COLUMNS as EVENT_COLUMNS
from auditkit.sample import iter_events
from auditkit.store import Store
from auditkit.store._backend import open_backend


def _timed(label: str, fn):  # type: ignore[no-untyped-def]
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"  {label:<58} {dt:8.2f} s")
    return dt, out


def write_sample(path: Path, n: int) -> int:
    count = 0
    with open(path, "wb") as f:
        for chunk in iter_events(events=n, seed=11):
            f.write(b"".join(orjson.dumps(e) + b"\n" for e in chunk))
            count += len(chunk)
    return count


def bare_rows(db: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    cols = ", ".join(EVENT_COLUMNS)
    rows = con.execute(f"SELECT {cols} FROM events ORDER BY tenant_id, seq").fetchall()
    con.close()
    return rows


def bench_ingest(tmp: Path, sample: Path, n: int) -> Path:
    print(f"\ningest {n:,} sample events into SQLite")
    db = tmp / "bench.db"
    store = Store.init(str(db))
    dt, result = _timed(
        "auditkit ingest (parse, validate, JCS, hash, sign)", lambda: ingest_files(store, [sample])
    )
    assert result.stored == n, result.summary()
    one = Store.init(str(tmp / "one.db"))
    dt_one, _ = _timed(
        "  the same in a single process (workers=1)",
        lambda: ingest_files(one, [sample], workers=1),
    )
    rows = bare_rows(db)
    bare_db = tmp / "bare.db"
    open_backend(str(bare_db)).create_schema()
    naive_db = tmp / "naive.db"
    open_backend(str(naive_db)).create_schema()
    cols = ", ".join(EVENT_COLUMNS)
    marks = ", ".join("?" * len(EVENT_COLUMNS))
    nested = ("actor", "targets", "source", "observer", "changes", "metadata")

    def insert(path: Path, batches: Iterable[list[tuple[object, ...]]]) -> None:
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA synchronous = NORMAL")
        for batch in batches:
            con.execute("BEGIN IMMEDIATE")
            con.executemany(f"INSERT INTO events ({cols}) VALUES ({marks})", batch)
            con.execute("COMMIT")
        con.close()

    def bare() -> None:
        insert(bare_db, (rows[i : i + 20_000] for i in range(0, len(rows), 20_000)))

    def naive() -> None:
        def batches() -> Iterator[list[tuple[object, ...]]]:
            batch: list[tuple[object, ...]] = []
            per_tenant: dict[str, int] = {}
            with open(sample, "rb") as f:
                for line in f:
                    e = orjson.loads(line)
                    seq = per_tenant.get(e["tenant_id"], 0)
                    per_tenant[e["tenant_id"]] = seq + 1
                    batch.append(
                        tuple(
                            seq
                            if c == "seq"
                            else e["actor"]["id"]
                            if c == "actor_id"
                            else e["occurred_at"]
                            if c == "received_at"
                            else (
                                orjson.dumps(e[c]).decode() if c in nested and c in e else e.get(c)
                            )
                            for c in EVENT_COLUMNS
                        )
                    )
                    if len(batch) == 20_000:
                        yield batch
                        batch = []
            if batch:
                yield batch

        insert(naive_db, batches())

    naive_t, _ = _timed("baseline: parse + build the same rows + executemany, no checks", naive)
    base, _ = _timed("baseline: executemany of the finished rows alone", bare)
    print(f"  => {n / dt:,.0f} events/s (target >= 50,000); single process {n / dt_one:,.0f}/s")
    print(
        f"  => ratio to parse + executemany without validation or hashing: "
        f"{dt / naive_t:.2f}x (target <= 3x)"
    )
    print(f"  => ratio to executemany of finished rows alone: {dt / base:.2f}x")
    return db


def bench_load(db: Path, n: int, pandas_rows: int) -> None:
    print(f"\nload + verify {n:,} events")
    store = Store.open(str(db))
    dt, frame = _timed("auditkit Store.load() verified (all tenants)", lambda: store.load())
    assert frame.height == n and store.last_report is not None and store.last_report.ok

    backend = open_backend(str(db))
    cols = ", ".join(EVENT_COLUMNS)

    def bare() -> pl.DataFrame:
        raw = backend.read(f"SELECT {cols} FROM events")
        return raw.select(
            pl.concat_str(
                [pl.col(c).cast(pl.String) for c in EVENT_COLUMNS], separator="|", ignore_nulls=True
            )
            .chash.sha2_256()
            .alias("h")
        )

    base, _ = _timed("baseline: bare Polars read (ADBC) + one vectorised SHA-256", bare)
    print(f"  => ratio to bare read + hash {dt / base:.2f}x (target <= 3x)")

    def pandas_loop() -> int:
        import pandas as pd

        con = sqlite3.connect(db)
        df = pd.read_sql(f"SELECT {cols} FROM events LIMIT {pandas_rows}", con)
        con.close()
        nested = ("actor", "targets", "source", "observer", "changes", "metadata")
        leaves = []
        for row in df.to_dict("records"):
            rec = {
                k: (json.loads(v) if k in nested else v)
                for k, v in row.items()
                if v is not None and v == v and k != "actor_id"
            }  # NaN is pandas' null
            data = json.dumps(
                rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
            leaves.append(hashlib.sha256(b"\x00" + data).digest())
        level = leaves
        while len(level) > 1:
            nxt = [
                hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
                for i in range(0, len(level) - 1, 2)
            ]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        return len(leaves)

    pdt, rows = _timed(
        f"naive: pandas + json.dumps(sort_keys) + hashlib loop ({pandas_rows:,})", pandas_loop
    )
    per_n = pdt * n / rows
    print(
        f"  => naive scaled to {n:,}: {per_n:.2f} s; auditkit is {per_n / dt:.1f}x faster "
        f"(target >= 10x)"
    )


def bench_huge(n: int) -> None:
    """Peak RSS of verifying n events into a LazyFrame (``Store.scan``), in a child process.

    ``Store.load`` returns one in-memory frame: about 3.5 GiB per million sample events,
    so 10M do not fit in 8 GiB; ``Store.scan`` holds one chunk at a time.
    """
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sample = tmp / "huge.ndjson"
        print(f"\nhuge: generating and ingesting {n:,} events (not timed)")
        write_sample(sample, n)
        db = tmp / "huge.db"
        store = Store.init(str(db))
        ingest_files(store, [sample], batch_size=50_000)
        sample.unlink()
        code = (
            "import resource, time; import polars as pl; from auditkit.store import Store\n"
            f"s = Store.open({str(db)!r}); t = time.perf_counter()\n"
            f"lf = s.scan(folder={str(tmp / 'scan')!r})\n"
            "n = lf.select(pl.len()).collect().item()\n"
            "print(n, s.last_report.ok, round(time.perf_counter() - t, 1),"
            " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        rows, ok, secs, peak_kb = int(out[0]), out[1], out[2], int(out[3])
        print(
            f"  Store.scan of {rows:,} events, verified={ok}, {secs} s, peak RSS "
            f"{peak_kb / 1024 / 1024:.2f} GiB (target < 8 GiB)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument(
        "--pandas-rows",
        type=int,
        default=200_000,
        help="rows for the naive baseline (scaled linearly to --events)",
    )
    ap.add_argument("--huge", type=int, default=0, help="also measure a load of this many")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sample = tmp / "sample.ndjson"
        n = write_sample(sample, args.events)
        db = bench_ingest(tmp, sample, n)
        bench_load(db, n, min(args.pandas_rows, n))
    if args.huge:
        bench_huge(args.huge)
    print(
        f"\npeak RSS of this process: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024:.2f} GiB"
    )


if __name__ == "__main__":
    main()
