"""Benchmark the command line: start-up, and memory of the streaming commands.

Usage::

    python benchmarks/bench_cli.py                    # start-up of --help (every command)
    python benchmarks/bench_cli.py --events 1000000   # also peak memory of detect and query
    python benchmarks/bench_cli.py --events 200000 --events 2000000  # flat from size to size?

Targets (issue 11): ``auditkit --help`` and every command's ``--help`` in under 0.3 s;
``detect`` and ``query`` in bounded memory (the peak does not grow with the store).
Start-up is printed as a ratio against ``python -c pass`` measured in the same run
(the machine may be shared: the ratio stays meaningful), peak memory as the child
process's maximum resident set.  Exit status 1 when the start-up target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditkit.commands.base import COMMANDS  # noqa: E402

TARGET_S = 0.3


def _time(argv: list[str], runs: int) -> float:
    """Median wall time of ``argv`` over ``runs`` runs (after one warm-up)."""
    subprocess.run(argv, capture_output=True, check=False)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} failed: {proc.stderr.decode()[-300:]}")
    return statistics.median(times)


def startup(runs: int) -> bool:
    py = sys.executable
    base = _time([py, "-c", "pass"], runs)
    print(f"python -c pass (baseline)            {base * 1000:7.0f} ms")
    rows = [("import auditkit", [py, "-c", "import auditkit"])]
    rows.append(("auditkit --help", [py, "-m", "auditkit.cli", "--help"]))
    rows += [(f"auditkit {c} --help", [py, "-m", "auditkit.cli", c, "--help"]) for c in COMMANDS]
    ok = True
    for label, argv in rows:
        t = _time(argv, runs)
        miss = label != "import auditkit" and t > TARGET_S
        ok &= not miss
        flag = "  MISSES 0.3 s" if miss else ""
        print(f"{label:<36} {t * 1000:7.0f} ms  {t / base:5.1f}x baseline{flag}")
    return ok


def memory(events: int) -> None:
    """Peak memory of detect and query over a store of ``events`` sample events.

    Each command runs in a fresh child of a fresh helper process so that
    RUSAGE_CHILDREN reports that command's own peak.
    """
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        db, sample = f"{tmp}/audit.db", f"{tmp}/sample.ndjson"
        t0 = time.perf_counter()
        for argv in (
            ["sample", "-o", sample, "--events", str(events), "--no-progress"],
            ["init", db],
            ["ingest", db, sample, "--no-progress"],
        ):
            subprocess.run([py, "-m", "auditkit.cli", *argv], check=True, capture_output=True)
        Path(sample).unlink()
        print(f"\n{events:,} events: store built in {time.perf_counter() - t0:.0f} s")
        jobs = {
            "detect": ["detect", db, "--format", "json", "--no-progress"],
            "query (group by)": [
                "query",
                db,
                "SELECT tenant_id, action, COUNT(*) AS n FROM events GROUP BY 1, 2",
                "-o",
                f"{tmp}/q.parquet",
                "--no-progress",
            ],
            "query (all rows to csv)": [
                "query",
                db,
                "SELECT * FROM events",
                "-o",
                f"{tmp}/all.csv",
                "--no-progress",
            ],
        }
        probe = (
            "import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
            "stdout=subprocess.DEVNULL, check=False); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        for label, argv in jobs.items():
            t0 = time.perf_counter()
            out = subprocess.run(
                [py, "-c", probe, py, "-m", "auditkit.cli", *argv],
                capture_output=True,
                text=True,
                check=True,
            )
            elapsed = time.perf_counter() - t0
            peak = int(out.stdout.strip()) / 1024
            print(f"  {label:<26} {elapsed:6.1f} s   peak RSS {peak:7.0f} MiB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="runs per start-up figure")
    ap.add_argument("--events", type=int, action="append", help="store size for memory")
    opts = ap.parse_args()
    ok = startup(opts.runs)
    for n in opts.events or []:
        memory(n)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
