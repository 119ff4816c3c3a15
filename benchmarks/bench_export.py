"""Export speed and memory: the SIEM formats, and `auditkit export` in bounded memory.

In one run, on a store of sample events (made with `auditkit sample` and `auditkit
ingest` when not given):

1. **encode + write** of already verified events (a scan's Parquet files, read in
   chunks) to NDJSON (the baseline), CEF and OCSF: seconds and events/s, and
   each format's ratio to NDJSON;
2. **end to end**, `auditkit export STORE --format F` in a fresh process (the
   verification pass included): seconds and peak RSS, for CEF, OCSF and Parquet,
   at two store sizes (memory must stay flat as the store grows), and the eager
   path (``Store.load`` the whole trail, then write) as the memory baseline.

    nice -n 10 .venv/bin/python benchmarks/bench_export.py [--store BIG.db] [--events 1000000]
        [--small-store SMALL.db] [--small-events 100000]

Targets (issue 17, issue 11): 1M events to CEF and to OCSF in under 10 s each;
`auditkit export` under 4 GiB at 10M events and flat from 1M (run with
``--store`` a 10M-event store for that size).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AK = [sys.executable, "-m", "auditkit.cli"]

EAGER = r"""
import sys
from auditkit.store import Store
from auditkit.export import export_frame
export_frame(Store.open(sys.argv[1]).load(), sys.argv[2], format=sys.argv[3])
"""


def make_store(path: Path, events: int) -> None:
    ndjson = path.with_suffix(".ndjson")
    subprocess.run([*AK, "sample", "-o", str(ndjson), "--events", str(events),
                    "--tenants", "12", "--no-progress"], check=True)  # fmt: skip
    subprocess.run([*AK, "init", str(path)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*AK, "ingest", str(path), str(ndjson), "--no-progress"], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    ndjson.unlink()


# Linux carries a parent's peak RSS into a child it forks (ru_maxrss): a small launcher
# process starts the command, so the figure is the command's own.
LAUNCHER = r"""
import os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, status)
"""


def measured(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (GiB) of a command in its own process."""
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], capture_output=True, text=True)
    wall, cpu, rss, status = out.stdout.split()
    if int(status) != 0:
        raise SystemExit(f"failed ({status}): {' '.join(cmd)}")
    return float(wall), float(cpu), int(rss) / (1 << 20)  # ru_maxrss is in KiB on Linux


def encode_pass(store_path: Path, out: Path) -> None:
    import polars as pl

    from auditkit.export import export_frame
    from auditkit.store import Store

    store = Store.open(str(store_path))
    folder = Path(tempfile.mkdtemp(prefix="bench-export-scan-"))
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        lf = store.scan(folder=folder)
        scan, scan_cpu = time.perf_counter() - t0, time.process_time() - c0
        n = lf.select(pl.len()).collect().item()
        print(f"\n1. encode + write {n:,} verified events (verification pass alone: {scan:.1f} s,"
              f" CPU {scan_cpu:.1f} s)")  # fmt: skip
        base = None
        for fmt in ("ndjson", "cef", "ocsf", "leef", "syslog", "hec", "ecs"):
            t0, c0 = time.perf_counter(), time.process_time()
            result = export_frame(pl.scan_parquet(folder / "part-*.parquet"), out / f"x.{fmt}",
                                  format=fmt)  # fmt: skip
            took, cpu = time.perf_counter() - t0, time.process_time() - c0
            base = base or took
            print(f"   {fmt:7s} {took:6.2f} s (CPU {cpu:6.2f} s)  {n / took:10,.0f} ev/s  "
                  f"{took / base:4.2f}x ndjson  ({result.bytes / (1 << 20):,.0f} MiB)")  # fmt: skip
            (out / f"x.{fmt}").unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--small-store", type=Path)
    ap.add_argument("--small-events", type=int, default=100_000)
    ap.add_argument("--skip-eager", action="store_true", help="skip the eager memory baseline")
    ap.add_argument("--skip-encode", action="store_true", help="only the end-to-end runs")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        stores = []
        for given, n, name in ((args.small_store, args.small_events, "small"),
                               (args.store, args.events, "big")):  # fmt: skip
            path = given or work / f"{name}.db"
            if not path.exists():
                print(f"making a store of {n:,} sample events in {path} ...", flush=True)
                make_store(path, n)
            stores.append(path)
        if not args.skip_encode:
            encode_pass(stores[1], work)
        print("\n2. auditkit export, end to end (fresh process; verification included)")
        print(f"   {'store':>12s} {'format':7s} {'seconds':>8s} {'CPU s':>8s} {'peak RSS':>10s}")
        for path in stores:
            from auditkit.store import Store

            n = Store.open(str(path)).count()
            for fmt in ("cef", "ocsf", "parquet"):
                out = work / f"out.{fmt}"
                wall, cpu, rss = measured([*AK, "export", str(path), "--format", fmt, "-o",
                                           str(out), "--no-progress"])  # fmt: skip
                print(f"   {n:12,d} {fmt:7s} {wall:8.1f} {cpu:8.1f} {rss:8.2f} GiB", flush=True)
                out.unlink()
            if not args.skip_eager:
                wall, cpu, rss = measured([sys.executable, "-c", EAGER, str(path),
                                           str(work / "eager.parquet"), "parquet"])  # fmt: skip
                print(f"   {n:12,d} {'eager':7s} {wall:8.1f} {cpu:8.1f} {rss:8.2f} GiB  "
                      "(baseline: load everything, then write)", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
