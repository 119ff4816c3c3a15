"""Widget benchmark (issue 6): a filter change in the Explorer on 1M events.

    python benchmarks/bench_widgets.py                  # 1M events
    python benchmarks/bench_widgets.py --events 200000  # quicker

The events come from ``auditkit.sample.iter_events`` through ``events_to_frame``
(not timed; cached in ``benchmarks/out/`` because building 1M events takes a few
minutes).  Each filter change goes through the same path as a click in
JupyterLab: set the panel's state, then ``Explorer.refresh()`` computes the
mask, the count, the timeline and top-N charts and renders one page of the
table.  Printed: the median time per filter change (target < 300 ms), and its
ratio to a bare ``frame.filter(expr).height`` with the same filter.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from auditkit.frame import events_to_frame
from auditkit.sample import iter_events
from auditkit.widgets import Explorer, FilterState

OUT = Path(__file__).parent / "out"
TARGET_MS = 300.0


def load_events(n: int) -> pl.DataFrame:
    """``n`` sample events as an event frame (cached as Parquet)."""
    OUT.mkdir(exist_ok=True)
    cache = OUT / f"widgets-events-{n}.parquet"
    if cache.exists():
        return pl.read_parquet(cache)
    t = time.perf_counter()
    events = [e for chunk in iter_events(events=n) for e in chunk]
    frame = events_to_frame(events)
    del events
    frame.write_parquet(cache)
    print(f"built {frame.height:,} events in {time.perf_counter() - t:.0f} s (cached: {cache})")
    return frame


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    frame = load_events(args.events)
    t = time.perf_counter()
    explorer = Explorer(frame)
    print(
        f"Explorer on {frame.height:,} events: indexed and first render in "
        f"{time.perf_counter() - t:.2f} s (once)"
    )
    tenant = frame["tenant_id"].mode().sort()[0]
    changes = {
        "outcome = failure": FilterState(outcomes=["failure"]),
        f"tenant = {tenant}": FilterState(tenants=[tenant]),
        "category = user": FilterState(categories=["user"]),
        "actions = login, export": FilterState(actions=["user.login", "document.export"]),
        "actor search 'zimmer'": FilterState(actor="zimmer"),
        "free text 'export'": FilterState(text="export"),
        "one month": FilterState(start="2026-02-01", end="2026-03-01"),
        "combined": FilterState(
            tenants=[tenant],
            categories=["user"],
            start="2026-02-01",
            end="2026-03-01",
            text="document",
        ),
        "no filter": FilterState(),
    }
    print(f"\n{'filter change':28} {'widget ms':>10} {'bare ms':>9} {'ratio':>6} {'matches':>10}")
    widget_times, ratios = [], []
    for label, state in changes.items():
        ms = median_ms(lambda s=state: explorer.set_state(s), args.repeat)  # type: ignore[misc]
        expr = state.to_expr()
        bare = median_ms(lambda e=expr: frame.filter(e).height, args.repeat)  # type: ignore[misc]
        widget_times.append(ms)
        ratios.append(ms / bare if bare > 0.05 else float("nan"))
        print(f"{label:28} {ms:10.1f} {bare:9.1f} {ratios[-1]:6.2f} {explorer.count:10,}")
    med = statistics.median(widget_times)
    finite = [r for r in ratios if r == r]
    print(
        f"\nmedian per filter change: {med:.1f} ms (target < {TARGET_MS:.0f} ms); "
        f"worst {max(widget_times):.1f} ms; median ratio to bare filter().height: "
        f"{statistics.median(finite):.2f}"
    )
    page = median_ms(lambda: explorer.go_to_page(3), args.repeat)
    explorer.sort_by.value = "action"
    sort = median_ms(lambda: explorer.go_to_page(2), args.repeat)
    print(f"page change: {page:.1f} ms; page change sorted by action: {sort:.1f} ms")
    return 0 if max(widget_times) < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
