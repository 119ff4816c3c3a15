"""Ingest rate of AWS CloudTrail delivery files against canonical NDJSON (issue 3).

    python benchmarks/bench_ingest_formats.py [--events 200000]

Both inputs hold the same number of records; CloudTrail records are the
documented example delivery file's records repeated with fresh event ids and
times, gzipped in files of 5,000 records as CloudTrail delivers them. Target:
CloudTrail at no less than half the canonical NDJSON rate, measured in the
same run, once in a single process and once with a worker process per core
(the default for inputs this large), both formats alike.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from auditkit.ingest.pipeline import ingest_files
from auditkit.sample import iter_events, write_ndjson
from auditkit.store import Store

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "tests/ingest/fixtures/cloudtrail"
    / "123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"
)


def cloudtrail_files(folder: Path, n: int, per_file: int = 5_000) -> list[Path]:
    templates = orjson.loads(FIXTURE.read_bytes())["Records"]
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    files = []
    records = []
    for i in range(n):
        rec = dict(templates[i % len(templates)])
        rec["eventID"] = str(uuid.UUID(int=i + 1))
        rec["eventTime"] = (t0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        records.append(rec)
        if len(records) == per_file or i == n - 1:
            path = folder / f"ct_{len(files):05d}.json.gz"
            path.write_bytes(gzip.compress(orjson.dumps({"Records": records}), 1))
            files.append(path)
            records = []
    return files


def timed(store: Store, paths: list[Path], fmt: str, workers: int) -> tuple[float, int]:
    t = time.perf_counter()
    result = ingest_files(store, paths, format=fmt, workers=workers)
    dt = time.perf_counter() - t
    assert result.quarantined == 0, result.problems[:3]
    return dt, result.stored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="parser processes (default: cores)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ndjson = tmp / "canonical.ndjson"
        write_ndjson(itertools.chain.from_iterable(iter_events(events=args.events, seed=3)), ndjson)
        ct = cloudtrail_files(tmp, args.events)
        for workers in sorted({1, args.workers}):
            canonical = Store.init(str(tmp / f"c{workers}.db"))
            dt_c, n_c = timed(canonical, [ndjson], "auditkit", workers)
            trail = Store.init(str(tmp / f"t{workers}.db"))
            dt_t, n_t = timed(trail, ct, "cloudtrail", workers)
            rate_c, rate_t = n_c / dt_c, n_t / dt_t
            print(f"workers={workers}")
            print(f"  canonical NDJSON: {n_c:,} events in {dt_c:.1f} s = {rate_c:,.0f}/s")
            print(f"  CloudTrail:       {n_t:,} events in {dt_t:.1f} s = {rate_t:,.0f}/s")
            ratio = rate_t / rate_c
            print(f"  => CloudTrail rate is {ratio:.2f} of the canonical rate (target >= 0.5)")


if __name__ == "__main__":
    main()
