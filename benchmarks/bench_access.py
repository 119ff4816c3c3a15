"""Role-based access benchmark (issue 15): a load through a principal with
redaction, as a ratio of the same load by the local owner, in the same process.

    python benchmarks/bench_access.py                  # 1M sample events
    python benchmarks/bench_access.py --events 200000  # quicker
    python benchmarks/bench_access.py --store /tmp/a.db  # reuse a store (made if absent)

Target: an analyst's load (checked, redacted with the tenants' HMAC keys, and
recorded in each tenant's trail) of 1M events <= 1.2x the owner's load.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path

from auditkit.access import redact_frame
from auditkit.sample import iter_events
from auditkit.store import Store


def build(path: Path, n: int) -> Store:
    if path.exists():
        return Store.open(str(path))
    store = Store.init(str(path))
    t0 = time.perf_counter()
    for chunk in iter_events(events=n, seed=11, chunk_size=50_000):
        store.append(chunk, batch_size=50_000)
    print(f"  built a store of {store.count():,} events in {time.perf_counter() - t0:.1f} s")
    return store


def timed(fn):  # type: ignore[no-untyped-def]
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path, help="store to use (made with --events if absent)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    path = args.store or Path(tempfile.mkdtemp(prefix="auditkit-bench-")) / "bench.db"
    owner = build(path, args.events)
    tenants = owner.tenants()
    if "bench-analyst" not in {p.id for p in owner.principals()}:
        owner.add_principal("bench-analyst")
        for t in tenants:
            owner.grant("bench-analyst", t, "analyst")
    analyst = owner.bind(principal="bench-analyst")
    print(f"\nload of {owner.count():,} events in {len(tenants)} tenants "
          f"({args.rounds} rounds, alternating; median)")  # fmt: skip
    own, ana = [], []
    frame = None
    for _ in range(args.rounds):
        dt, frame = timed(lambda: owner.load(tenants))
        own.append(dt)
        dt, _ = timed(lambda: analyst.load(tenants))
        ana.append(dt)
    assert frame is not None
    keys = {t: "ab" * 32 for t in tenants}
    red, _ = timed(lambda: redact_frame(frame, keys))
    o, a = statistics.median(own), statistics.median(ana)
    print(f"  local owner: load (verified)                          {o:8.2f} s")
    print(f"  analyst: load, check, redact (HMAC), record the read  {a:8.2f} s")
    print(f"    of which redaction alone                            {red:8.2f} s")
    print(f"  ratio analyst / owner: {a / o:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
