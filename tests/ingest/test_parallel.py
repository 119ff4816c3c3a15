"""Parallel ingest (worker processes) gives the store a single-process ingest gives."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.errors import AuditkitError
from auditkit.ingest import _parallel
from auditkit.ingest.formats.auditkit import CanonicalFormat
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events

CLOUDTRAIL = Path(__file__).parent / "fixtures" / "cloudtrail"


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few lines, so that these small files make many units."""
    monkeypatch.setattr(_parallel, "BLOCK_BYTES", 2048)


def _rows(store: Store) -> list[tuple[Any, ...]]:
    from auditkit.store._reader import Filter

    df = store._reader.read(Filter("1 = 1")).drop("received_at", "_typed", strict=False)
    return sorted(df.iter_rows())


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _mixed_input(tmp_path: Path) -> list[Path]:
    good = [orjson.dumps(e) for e in make_events(130, "acme") + make_events(70, "globex")]
    lines = [*good[:50], b"{not json", b"", b'"a string"', *good[50:], *good[:5]]  # 5 dups
    ndjson = _write(tmp_path / "a.ndjson", lines)
    gz = tmp_path / "b.ndjson.gz"
    with gzip.open(gz, "wb") as f:
        f.write(b"\n".join(orjson.dumps(e) for e in make_events(40, "acme", prefix="z")) + b"\n")
    trail = tmp_path / "c_CloudTrail.json"
    shutil.copy(next(CLOUDTRAIL.glob("*CloudTrail*.json")), trail)
    return [ndjson, gz, trail]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_parallel_equals_single_process(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    files = _mixed_input(tmp_path)
    results, stores = [], []
    for workers in (1, 2):
        if backend == "sqlite":
            location = str(tmp_path / f"w{workers}.db")
        else:
            location = request.getfixturevalue("pg_url") if workers == 1 else _second_pg(request)
        store = Store.init(location, key=tmp_path / f"w{workers}.key")
        q = tmp_path / f"w{workers}.quarantine.ndjson"
        results.append(
            ingest_files(store, files, tenant="acme", quarantine=q, batch_size=32, workers=workers)
        )
        stores.append(store)
    one, two = results
    assert one.balanced and two.balanced
    assert (two.read, two.stored, two.duplicates, two.quarantined) == (
        one.read,
        one.stored,
        one.duplicates,
        one.quarantined,
    )
    assert one.duplicates == 5 and one.quarantined == 2
    assert [(p.file, p.line, p.reason) for p in two.problems] == [
        (p.file, p.line, p.reason) for p in one.problems
    ]
    assert [p.line for p in two.problems] == [51, 53]
    assert (tmp_path / "w1.quarantine.ndjson").read_bytes() == (
        tmp_path / "w2.quarantine.ndjson"
    ).read_bytes()
    # the same record got the same seq: input order is kept across processes
    assert _rows(stores[1]) == _rows(stores[0])
    for store in stores:
        assert store.verify().ok
        assert store.count() == one.stored
    quarantined = [
        r[0] for r in stores[1]._reader._fetch("SELECT line FROM quarantine ORDER BY id")
    ]
    assert quarantined == [51, 53]


def _second_pg(request: pytest.FixtureRequest) -> str:
    # a second fresh database: the pg_url fixture gives one per test
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN

    name = f"auditkit_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    request.addfinalizer(drop)
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://")


def test_parallel_reingest_is_idempotent(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.ndjson", [orjson.dumps(e) for e in make_events(300)])
    store = Store.init(str(tmp_path / "a.db"))
    first = ingest_files(store, [path], batch_size=50, workers=2)
    again = ingest_files(store, [path], batch_size=50, workers=2)
    assert (first.stored, again.stored, again.duplicates) == (300, 0, 300)
    assert store.load()["seq"].to_list() == list(range(300))


def test_progress_counts_every_record(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.ndjson", [orjson.dumps(e) for e in make_events(250)] + [b"[]"])
    seen: list[int] = []
    result = ingest_files(
        Store.init(str(tmp_path / "a.db")), [path], batch_size=60, workers=2, progress=seen.append
    )
    assert sum(seen) == result.read == 251 and result.quarantined == 1


class ExplodingFormat(CanonicalFormat):
    """A format whose mapper fails unexpectedly on one record (a bug, not bad input)."""

    name = "exploding"

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        if record.get("event_id") == "e-acme-150":
            raise RuntimeError("mapper bug")
        return super().to_event(record, tenant=tenant)


def test_a_failing_unit_stops_the_ingest_and_a_rerun_completes_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.ndjson", [orjson.dumps(e) for e in make_events(400)])
    store = Store.init(str(tmp_path / "a.db"))
    with pytest.raises(AuditkitError, match="mapper bug"):
        ingest_files(store, [path], format=ExplodingFormat(), batch_size=50, workers=2)
    # what is stored is the input in order up to a batch boundary before the failing
    # record (e-acme-150), and nothing after it, as in a single process
    stored = store.load()["event_id"].to_list()
    assert 50 <= len(stored) <= 150
    assert stored == [f"e-acme-{i}" for i in range(len(stored))]
    assert store.verify().ok
    again = ingest_files(store, [path], batch_size=50, workers=2)
    assert (again.stored, again.duplicates) == (400 - len(stored), len(stored))
    assert store.load()["event_id"].to_list() == [f"e-acme-{i}" for i in range(400)]


def test_workers_must_be_positive(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.ndjson", [orjson.dumps(e) for e in make_events(2)])
    with pytest.raises(AuditkitError, match="workers must be at least 1"):
        ingest_files(Store.init(str(tmp_path / "a.db")), [path], workers=0)


def test_workers_are_used_by_default_only_for_large_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditkit.ingest import pipeline

    small = _write(tmp_path / "e.ndjson", [orjson.dumps(e) for e in make_events(50)])
    packed = tmp_path / "big.ndjson.gz"  # small on disk, large once un-gzipped
    with gzip.open(packed, "wb") as f:
        f.write(b"\n".join(orjson.dumps(e) for e in make_events(3000)) + b"\n")
    fmt = CanonicalFormat()
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 1_000_000)
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert packed.stat().st_size < 1_000_000 < pipeline._input_size(str(packed))
    assert pipeline._worker_count([(str(small), fmt)], None) == 1
    assert pipeline._worker_count([(str(packed), fmt)], None) == 2
    assert pipeline._worker_count([(str(packed), fmt)], 1) == 1
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert pipeline._worker_count([(str(packed), fmt)], None) == 1


def _children(pid: int) -> set[int]:
    """Live descendants of ``pid`` (from /proc)."""
    found, frontier = set(), {pid}
    while frontier:
        parent = frontier.pop()
        try:
            tasks = Path(f"/proc/{parent}/task").iterdir()
            kids = {int(c) for t in tasks for c in (t / "children").read_text().split()}
        except OSError:
            continue
        frontier |= kids - found
        found |= kids
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_kill_9_of_the_ingest_ends_its_workers_and_leaves_a_verifiable_store(
    tmp_path: Path,
) -> None:
    """A ``kill -9`` of the ingest's main process: its workers stop at once (not
    many seconds later, appending on their own), and the store still verifies."""
    import os
    import signal
    import subprocess
    import sys
    import time

    db = tmp_path / "audit.db"
    Store.init(str(db))
    big = tmp_path / "big.ndjson"
    with big.open("wb") as f:
        for i in range(40):
            f.write(
                b"\n".join(orjson.dumps(e) for e in make_events(5000, f"t{i % 4}", prefix=f"p{i}"))
                + b"\n"
            )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auditkit",
            "ingest",
            str(db),
            str(big),
            "--workers",
            "2",
            "--no-progress",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert workers, "the ingest started no worker"
    time.sleep(1.5)  # let them work
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10  # a worker still importing exits once it starts
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {
            w
            for w in workers
            if Path(f"/proc/{w}").exists()
            and "zombie" not in Path(f"/proc/{w}/status").read_text().lower()
        }
    assert not alive, f"workers {alive} outlived the killed ingest: " + "; ".join(
        Path(f"/proc/{w}/cmdline").read_text().replace("\0", " ") for w in alive
    )
    report = Store.open(str(db)).verify()
    assert report.ok, report.summary()
