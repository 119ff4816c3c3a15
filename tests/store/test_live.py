"""A live store: verify, load and scan while another process appends, with no
false alarm on either backend."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from auditkit import Store
from auditkit.store._reader import STRAY_LIMIT, TrailReader
from tests.conftest import make_events

_WRITER = textwrap.dedent(
    """
    import sys, time
    from auditkit import Store
    from tests.conftest import make_events

    store = Store.open(sys.argv[1], key=sys.argv[2])
    for batch in range(int(sys.argv[3])):
        for tenant in ("acme", "globex", "initech"):
            events = make_events(150, tenant, prefix=f"live{batch}")
            store.append(events, batch_size=50)
        print(batch, flush=True)
    """
)


@pytest.mark.slow
def test_reads_while_another_process_appends_raise_no_false_alarm(
    store_location: str, tmp_path: Path
) -> None:
    store = Store.init(store_location)
    for tenant in ("acme", "globex", "initech"):
        store.append(make_events(500, tenant))
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, store_location, str(store.key_path), "40"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    rounds = 0
    grew = set()
    try:
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            report = store.verify()
            assert report.ok, report.summary()
            assert report.status.value == "intact"
            frame = store.load()
            assert store.last_report is not None and store.last_report.ok, (
                store.last_report.summary()
            )
            grew.add(frame.height)
            ranged = store.load("acme", start="2026-01-05T08:00:00Z")
            assert store.last_report.ok, store.last_report.summary()
            assert ranged.height > 0
            store.scan("globex", folder=tmp_path / f"scan{rounds}")
            rounds += 1
    finally:
        writer.kill() if writer.poll() is None else None
        writer.wait()
    assert writer.returncode == 0
    assert rounds >= 2 and len(grew) >= 2, (rounds, grew)  # the reads did overlap appends
    final = store.verify()
    assert final.ok and final.events == 3 * 500 + 40 * 3 * 150


def test_an_append_larger_than_the_strays_listed_is_no_false_alarm(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auditkit ingest` commits 50,000 rows at a time.  Such an append landing between a
    tenant's snapshot and the read of what lies past it put more rows there than are
    listed one by one (STRAY_LIMIT), and the rest were counted as inserted: `detect` and
    `verify` said TAMPERED for a store being ingested.  Rows a validly signed checkpoint
    of the same moment covers are an append, however many."""
    store = Store.init(store_location)
    store.append(make_events(300, "acme"))
    store.append(make_events(50, "globex"))
    writer = Store.open(store_location, key=str(store.key_path))
    real = TrailReader.tail
    appends: list[str] = []

    def tail_after_an_append(self: TrailReader, tenant: str, size: int, **kw: object) -> object:
        late = make_events(STRAY_LIMIT + 250, tenant, prefix=f"late{len(appends)}")
        writer.append(late, batch_size=len(late))  # one transaction, one checkpoint
        appends.append(tenant)
        return real(self, tenant, size, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(TrailReader, "tail", tail_after_an_append)
    report = store.verify()
    assert report.ok and report.status.value == "intact", report.summary()
    assert any("appended while verifying" in n for n in report.notes), report.notes
    store.load()
    assert store.last_report is not None and store.last_report.ok, store.last_report.summary()
    store.load("acme", seqs=(0, 100))
    assert store.last_report.ok, store.last_report.summary()
    store.scan(folder=tmp_path / "scan")
    assert store.last_report.ok, store.last_report.summary()
    assert len(appends) >= 4


def test_a_tenant_made_while_a_pass_starts_is_not_vanished(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new tenant's first append landing after a pass over the whole store listed the
    tenants, and before it read the signed manifest, put in the manifest a tenant the
    pass never looked for: `vanished` (TAMPERED) for a customer onboarded during a
    verify.  The tenants are listed again once the manifest is read."""
    store = Store.init(store_location)
    store.append(make_events(100, "acme"))
    writer = Store.open(store_location, key=str(store.key_path))
    real = TrailReader.manifest
    made: list[str] = []

    def manifest_after_a_new_tenant(self: TrailReader) -> object:
        tenant = f"onboarded{len(made)}"
        writer.append(make_events(30, tenant, prefix=tenant))
        made.append(tenant)
        return real(self)

    monkeypatch.setattr(TrailReader, "manifest", manifest_after_a_new_tenant)
    report = store.verify()
    assert report.ok and report.status.value == "intact", report.summary()
    assert report.events == 130  # the new tenant was verified too
    frame = store.load()
    assert store.last_report is not None and store.last_report.ok, store.last_report.summary()
    assert frame.height == 100 + 30 * len(made)
    store.scan(folder=tmp_path / "scan")
    assert store.last_report.ok, store.last_report.summary()


@pytest.mark.parametrize("keep_days", [3650, 120], ids=["seal", "purge"])
def test_retention_applied_while_rows_are_read_is_no_false_alarm(
    store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep_days: int
) -> None:
    """`auditkit retention apply` (a nightly job) sealing or purging rows while a verify,
    a load or an API page reads them: the statements were read right after the
    snapshot, so rows moved or purged since were `deleted` (TAMPERED).  Rows missing
    that no statement known then covers now make the pass read the statements again."""
    store = Store.init(store_location, cold=tmp_path / "cold")
    store.append(make_events(3000, "acme", start="2025-01-01T00:00:00Z", step_s=3 * 3600))
    store.append(make_events(500, "globex", start="2025-06-01T00:00:00Z", step_s=12 * 3600))
    other = Store.open(store_location, key=str(store.key_path))
    other.set_retention("*", hot_days=30, keep_days=keep_days)
    real = TrailReader.read
    # each read races a retention run that has something left to do: a month later
    now: list[str] = []
    done: list[int] = []

    def read_after_retention(self: TrailReader, *a: object, **kw: object) -> object:
        if now:  # once per read (the retention run reads rows too)
            when = now.pop()
            result = other.apply_retention(now=when)
            done.append(sum(t.sealed + t.purged for t in result.tenants))
        return real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(TrailReader, "read", read_after_retention)
    reads = {
        "2025-04-01": lambda: store.verify(),
        "2025-06-01": lambda: store.load(),
        "2025-08-01": lambda: store.load("acme", seqs=(0, 3000)),
        "2025-10-01": lambda: store.load(start="2025-03-01", end="2026-12-01"),
        "2026-01-01": lambda: store.scan(folder=tmp_path / "scan"),
    }
    for when, read in reads.items():
        now.append(f"{when}T00:00:00Z")
        read()
        assert not now and done[-1] > 0, when  # the retention run raced the read
        assert store.last_report is not None and store.last_report.ok, (
            when,
            store.last_report.summary(),
        )


@pytest.mark.parametrize(
    "read",
    ["load", "load seqs", "load match", "load time", "scan", "verify_and_load", "export"],
)
def test_a_read_a_seal_overtakes_returns_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    """Records a retention run sealed into the cold tier while a read took them from
    the hot tier were left out of its result (a note said so): the read now sees
    that in the report (``sealed_meanwhile``) and reads once more, from the cold tier."""
    from tests.conftest import store_sealed_while_read

    store, sealed = store_sealed_while_read(tmp_path, monkeypatch)
    if read == "load":
        got = store.load()
    elif read == "load seqs":
        got = store.load("acme", seqs=(0, 3001))
    elif read == "load match":
        got = store.load("acme", match={"action": "user.login"})
    elif read == "load time":
        got = store.load("acme", start="2025-01-01T00:00:00Z", end="2027-01-01T00:00:00Z")
    elif read == "scan":
        got = store.scan().collect()
    elif read == "verify_and_load":
        got = store.verify_and_load()[1]
    else:
        from auditkit.export.formats import export_store

        export_store(store, tmp_path / "out.parquet")
        got = pl.read_parquet(tmp_path / "out.parquet")
    assert sealed[-1] > 900
    want = list(range(0, 3000, 5)) if read == "load match" else list(range(3000))
    seqs = sorted(got.filter(got["action"] != "audit_retention.update")["seq"].to_list())
    assert seqs == want
    assert store.last_report.ok and store.last_report.sealed_meanwhile == 0
    if read not in ("load match", "load time"):  # a filtered read leaves other rows unread
        assert not any("not read here" in n for n in store.last_report.notes)
