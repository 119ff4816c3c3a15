"""Retention on a store of 1M sample events (12 tenants): sealing, and reading and
verifying across the hot and cold tiers, against the same store all hot.

    nice -n 10 python benchmarks/bench_retention.py                 # 1M events
    nice -n 10 python benchmarks/bench_retention.py --events 200000 # quicker

Targets (issue "Per-tenant retention"):

* seal 1M events into cold segments in under 15 s;
* a ``load`` of a period spanning hot and cold: no more than 1.5x the same load from
  one tier (the same store all hot);
* ``verify`` of a store whose events are 90% cold: no more than 1.5x the same store
  all hot.

Three copies of one store are made (same events, same key): ``hot`` stays as it is,
``all`` has every event sealed (the seal timing), ``mixed`` has the oldest 90% of each
tenant sealed.  Every timing is the best of ``--runs`` in this process.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import polars as pl


def make_store(folder: Path, n: int) -> Path:
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.sample import iter_events
    from auditkit.store import Store

    sample = folder / "events.ndjson"
    with sample.open("wb") as f:
        for chunk in iter_events(events=n, seed=5, tenants=12):
            f.write(b"".join(orjson.dumps(e) + b"\n" for e in chunk))
    db = folder / "hot.db"
    store = Store.init(str(db))
    ingest_files(store, [str(sample)], quarantine=str(folder / "q.ndjson"))
    store.close()
    sample.unlink()
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def copy_store(db: Path, name: str) -> Path:
    out = db.with_name(f"{name}.db")
    for suffix in ("", ".key", ".pub"):
        shutil.copyfile(f"{db}{suffix}", f"{out}{suffix}")
    return out


def cpu_seconds() -> float:
    """CPU time of this process, every thread included (the machine is shared: wall time
    depends on what else runs, CPU time much less)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    from auditkit.store import Store

    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="auditkit-bench-retention-"))
    t0 = time.perf_counter()
    hot_db = make_store(folder, args.events)
    print(f"store of {args.events:,} events built in {time.perf_counter() - t0:.1f} s ({folder})")
    hot = Store.open(str(hot_db))
    frame = hot.load(columns=["tenant_id", "seq", "occurred_at"])
    # each tenant's seq at 90% of its trail, and the instant of that event: sealing with
    # hot_days=0 "as of" that instant seals the oldest 90% (the sample is in time order)
    newest = (
        frame.select(pl.col("occurred_at").max()).item() + pl.select(pl.duration(seconds=1)).item()
    )
    cut = frame.select(pl.col("occurred_at").quantile(0.9)).item()
    span = (frame.select(pl.col("occurred_at").quantile(0.8)).item(), newest)

    all_db, mixed_db = copy_store(hot_db, "all"), copy_store(hot_db, "mixed")
    everything = Store.open(str(all_db))
    everything.retention.set(hot_days=0)
    cpu0 = cpu_seconds()
    t_seal, result = best(lambda: everything.retention.apply(), 1)
    cpu_seal = cpu_seconds() - cpu0
    sealed = result.sealed
    print(
        f"seal: {sealed:,} events into {result.segments} segments in {t_seal:.2f} s wall, "
        f"{cpu_seal:.2f} s CPU ({sealed / t_seal:,.0f} events/s; target: 1M in < 15 s)"
    )

    mixed = Store.open(str(mixed_db))
    mixed.retention.set(hot_days=0)
    mixed.retention.apply(now=cut)
    hot_n, cold_n = (sum(x) for x in zip(*(mixed.tier_counts(t) for t in mixed.tenants()),
                                          strict=True))  # fmt: skip
    print(f"mixed store: {cold_n:,} cold, {hot_n:,} hot ({cold_n / (hot_n + cold_n):.0%} cold)")

    t_hot_load, a = best(lambda: hot.load(start=span[0], end=span[1]), args.runs)
    t_mixed_load, b = best(lambda: mixed.load(start=span[0], end=span[1]), args.runs)
    assert a.height == b.height, (a.height, b.height)
    print(
        f"load of a period spanning both tiers ({a.height:,} events): hot {t_hot_load:.2f} s, "
        f"mixed {t_mixed_load:.2f} s, ratio {t_mixed_load / t_hot_load:.2f} (target <= 1.5)"
    )
    t_hot_all, a = best(lambda: hot.load(), args.runs)
    t_mixed_all, b = best(lambda: mixed.load(), args.runs)
    print(
        f"load of everything ({a.height:,} events): hot {t_hot_all:.2f} s, mixed "
        f"{t_mixed_all:.2f} s, ratio {t_mixed_all / t_hot_all:.2f}"
    )

    t_hot_verify, r1 = best(lambda: hot.verify(), args.runs)
    t_mixed_verify, r2 = best(lambda: mixed.verify(), args.runs)
    assert r1.ok and r2.ok, (r1.summary(), r2.summary())
    print(f"verify: all hot {t_hot_verify:.2f} s, 90% cold {t_mixed_verify:.2f} s, ratio "
          f"{t_mixed_verify / t_hot_verify:.2f} (target <= 1.5)")  # fmt: skip
    print(f"seal of {sealed:,} events against a verify of them all hot: {t_seal:.2f} s / "
          f"{t_hot_verify:.2f} s = {t_seal / t_hot_verify:.2f} (sealing reads, checks, writes, "
          "re-reads, checks again and deletes each event; the ratio is what a loaded machine "
          "does not change)")  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
