"""Report benchmark (issue 5): a compliance report over 1M events in under 30 s.

    python benchmarks/bench_report.py                        # 1M events, temporary store
    python benchmarks/bench_report.py --store /tmp/b1m.db    # keep (or reuse) the store
    python benchmarks/bench_report.py --events 200000        # quicker

The store is built with ``auditkit.sample.iter_events`` and ``Store.append`` (not
timed).  Timed: ``store.load()`` of every tenant (verified, the baseline), then
``build_report`` (verify every tenant's whole trail, load the period, run the
detectors, compute every section and evaluate every control) and the renderings
(HTML with charts, JSON, signed bundle).  Printed: each time and the ratio of the
report to the load alone.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from auditkit.reports import build_report
from auditkit.sample import iter_events
from auditkit.store import Store

T = TypeVar("T")
TARGET_S = 30.0


def peak_gib() -> float:
    """Peak resident memory of this process so far (GiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def timed(label: str, fn: Callable[[], T]) -> tuple[float, T]:
    """Run ``fn`` once, print its wall time and the process's peak memory so far."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"  {label:<62} {dt:8.2f} s  peak {peak_gib():5.2f} GiB", flush=True)
    return dt, out


def build_store(path: Path, events: int) -> Store:
    """Create the store at ``path`` from the sample generator (reused when present)."""
    if path.exists():
        store = Store.open(str(path))
        print(f"reusing {path}: {store.count():,} events in {len(store.tenants())} tenants")
        return store
    store = Store.init(str(path))
    t0 = time.perf_counter()
    for chunk in iter_events(events=events, seed=11):
        store.append(chunk, batch_size=50_000)
    print(f"built {path}: {store.count():,} events in {time.perf_counter() - t0:.0f} s (not timed)")
    return store


def run(store: Store, framework: str, out: Path) -> dict[str, Any]:
    """Time the baseline load, the report and its renderings; return the figures."""
    print(f"\nreport '{framework}' over every tenant of {store.count():,} events")
    t_load, frame = timed("store.load() of every tenant, verified (baseline)", store.load)
    n = frame.height
    del frame
    t_report, report = timed(
        "build_report (verify, load, detect, sections, controls)",
        lambda: build_report(store, framework=framework),
    )
    t_html, _ = timed(
        "render HTML (charts as inline SVG)", lambda: report.write(out / "report.html")
    )
    t_json, _ = timed("render JSON", lambda: report.write(out / "report.json"))
    t_bundle, _ = timed(
        "render signed evidence bundle (populations as CSV and XLSX)",
        lambda: report.write(out / "report.zip"),
    )
    total = t_report + t_html + t_json
    print(f"\n  events: {n:,}; controls: {report.counts()}; peak memory {peak_gib():.2f} GiB")
    print(
        f"  report (build + HTML + JSON): {total:.2f} s, {total / t_load:.2f}x the load "
        f"alone ({t_load:.2f} s); target < {TARGET_S:.0f} s: "
        f"{'met' if total < TARGET_S else 'NOT met'}"
    )
    return {
        "events": n,
        "load_s": t_load,
        "report_s": t_report,
        "html_s": t_html,
        "json_s": t_json,
        "bundle_s": t_bundle,
        "total_s": total,
        "ratio": total / t_load,
        "peak_gib": peak_gib(),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, build or reuse the store, run the benchmark."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--store", type=Path, help="keep the store here (reused when present)")
    p.add_argument("--framework", default="pci-dss")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="auditkit-bench-") as tmp:
        path = args.store or Path(tmp) / "bench.db"
        store = build_store(path, args.events)
        figures = run(store, args.framework, Path(tmp))
    return 0 if figures["total_s"] < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
