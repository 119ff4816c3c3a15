"""`auditkit verify` against a plain Python loop that re-hashes the same events,
both as whole processes (start-up included), on the same store.

    python benchmarks/bench_verify.py                   # 1M events
    python benchmarks/bench_verify.py --events 200000   # quicker
    python benchmarks/bench_verify.py --store path.db   # an existing store

Target (issue "Fit for daily use"): `auditkit verify` at least 5x faster than the
plain loop.  The loop is what someone without auditkit would write: read every row
with sqlite3, rebuild the record as JSON (json.loads of the nested columns, then
json.dumps with sorted keys), hash it and compare with the stored leaf hash.  It
checks less than `verify` does (no signatures, no tree, no column checks).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

BASELINE = r"""
import hashlib, json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
cols = [c[1] for c in con.execute("PRAGMA table_info(events)")]
tiles = {}
for tenant, tile, leaves in con.execute("SELECT tenant_id, tile, leaves FROM merkle_tiles"):
    tiles[(tenant, tile)] = leaves
nested = {"actor", "targets", "source", "observer", "changes", "metadata"}
bad = n = 0
for row in con.execute("SELECT * FROM events ORDER BY tenant_id, seq"):
    rec = {}
    for c, v in zip(cols, row):
        if v is None or c == "actor_id":
            continue
        rec[c] = json.loads(v) if c in nested else v
    data = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    leaf = hashlib.sha256(b"\x00" + data.encode()).digest()
    seq = rec["seq"]
    blob = tiles.get((rec["tenant_id"], seq // 1024), b"")
    if blob[(seq % 1024) * 32 : (seq % 1024 + 1) * 32] != leaf:
        bad += 1
    n += 1
print(n, bad)
"""


def make_store(folder: Path, n: int) -> Path:
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.sample import iter_events
    from auditkit.store import Store

    sample = folder / "events.ndjson"
    with sample.open("wb") as f:
        for chunk in iter_events(events=n, seed=5, tenants=12):
            f.write(b"".join(orjson.dumps(e) + b"\n" for e in chunk))
    db = folder / "audit.db"
    store = Store.init(str(db))
    ingest_files(store, [str(sample)], quarantine=str(folder / "q.ndjson"))
    sample.unlink()
    return db


def timed(argv: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    return dt, (done.stdout + done.stderr).strip().splitlines()[0] if done.stdout else done.stderr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.store or make_store(Path(tmp), args.events)
        auditkit = str(Path(sys.executable).with_name("auditkit"))
        print(f"store {db}")
        best_v = best_b = float("inf")
        for _ in range(args.runs):
            dv, out_v = timed([auditkit, "verify", str(db)])
            db_, out_b = timed([sys.executable, "-c", BASELINE, str(db)])
            best_v, best_b = min(best_v, dv), min(best_b, db_)
            print(f"  auditkit verify {dv:6.2f} s  ({out_v[:60]})")
            print(f"  plain loop      {db_:6.2f} s  ({out_b[:60]})")
        print(f"\nbest of {args.runs}: verify {best_v:.2f} s, loop {best_b:.2f} s")
        print(f"verify is {best_b / best_v:.1f}x faster than the plain loop (target >= 5x)")


if __name__ == "__main__":
    main()
