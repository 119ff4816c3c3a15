"""Ingest rate of the same events in the containers other tools hand them over in.

    python benchmarks/bench_ingest_containers.py [--events 1000000]

One store of ``--events`` sample events (12 tenants) is exported by ``auditkit
export`` as NDJSON, Parquet and Splunk HEC, and the NDJSON once more compressed with
zstd; each file is ingested into a fresh store by ``auditkit ingest`` (its default
parser processes), timed in this one process run, and printed as events/s and as a
ratio to the plain NDJSON (the baseline).  No issue sets a target for these; the
figures are the ones docs/formats.md quotes.  Every run must store every event.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import zstandard

CLI = [sys.executable, "-m", "auditkit"]


def run(*args: str) -> None:
    subprocess.run([*CLI, *args], check=True, capture_output=True)


def ingest(folder: Path, name: str, path: Path) -> float:
    store = folder / f"{name}.db"
    run("init", str(store))
    t = time.perf_counter()
    out = subprocess.run(
        [*CLI, "ingest", str(store), str(path), "--no-progress", "--json"],
        check=True,
        capture_output=True,
    )
    dt = time.perf_counter() - t
    result = orjson.loads(out.stdout)
    assert result["quarantined"] == 0, result["problems"][:3]
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sample = tmp / "sample.ndjson"
        run("sample", "-o", str(sample), "--events", str(args.events), "--tenants", "12")
        run("init", str(tmp / "source.db"))
        run("ingest", str(tmp / "source.db"), str(sample), "--no-progress")
        files = {}
        for fmt, suffix in (("ndjson", "ndjson"), ("parquet", "parquet"), ("hec", "hec.ndjson")):
            files[fmt] = tmp / f"export.{suffix}"
            run("export", str(tmp / "source.db"), "--format", fmt, "-o", str(files[fmt]))
        files["ndjson.zst"] = tmp / "export.ndjson.zst"
        with open(files["ndjson"], "rb") as src, open(files["ndjson.zst"], "wb") as dst:
            zstandard.ZstdCompressor(level=3).copy_stream(src, dst)
        base = None
        for name, path in files.items():
            dt = ingest(tmp, name.replace(".", "_"), path)
            rate = args.events / dt
            base = base or rate
            size = path.stat().st_size / 1e6
            print(
                f"{name:<11} {size:8.1f} MB  {dt:6.1f} s  {rate:9,.0f} events/s  "
                f"{rate / base:.2f}x NDJSON"
            )


if __name__ == "__main__":
    main()
