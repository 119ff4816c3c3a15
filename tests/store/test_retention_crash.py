"""Crashes while sealing and purging: a failure injected at each step (and, in a
subprocess, ``kill -9``), then ``apply`` again and ``verify``: nothing lost, nothing
doubled, the store verifies.  On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit import Store
from auditkit.store import _retention
from tests.conftest import make_events

START = datetime.combine(datetime.now(UTC).date(), time(8), UTC) - timedelta(days=400)
STEPS = ("seal:written", "seal:checked", "seal:recorded", "purge:recorded")


@pytest.fixture
def store(store_location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setattr(_retention, "SEGMENT_ROWS", 40)  # several segments per apply
    s = Store.init(store_location, cold=tmp_path / "cold")
    s.append(make_events(200, start=START.isoformat(), step_s=8 * 3600), batch_size=50)
    # sealed after 1 day, kept 380: the first ~20 days' events go, the rest are sealed
    s.retention.set("acme", hot_days=1, keep_days=380)
    return s


def trail(store: Store) -> pl.DataFrame:
    return store.load("acme").filter(pl.col("action") != "audit_retention.update")


def finished(store: Store, before: pl.DataFrame) -> None:
    """What a completed apply leaves: the same trail less the purged prefix, intact."""
    report = store.verify()
    assert report.status.value == "intact", report.summary()
    after = trail(store)
    lo = int(after["seq"].min())
    assert lo > 0
    assert_frame_equal(after, before.filter(pl.col("seq") >= lo))
    hot, cold = store.tier_counts("acme")
    assert hot + cold == store.count("acme") == before.height - lo + 1
    assert cold >= before.height - lo - 2  # all but the newest policy record is sealed
    # a third run finds nothing left to do
    again = store.retention.apply("acme")
    assert (again.sealed, again.purged) == (0, 0)


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_each_step_loses_and_doubles_nothing(
    store: Store, step: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = trail(store)
    monkeypatch.setenv("AUDITKIT_RETENTION_FAIL", step)
    with pytest.raises(RuntimeError, match=f"injected failure at {step}"):
        store.retention.apply("acme")
    # in between: an unfinished seal or purge is noted, never reported as tampering
    report = store.verify()
    assert report.status.value == "intact", report.summary()
    assert_frame_equal(trail(store).filter(pl.col("seq") >= int(trail(store)["seq"].min())),
                       before.filter(pl.col("seq") >= int(trail(store)["seq"].min())))  # fmt: skip
    monkeypatch.delenv("AUDITKIT_RETENTION_FAIL")
    result = store.retention.apply("acme")
    if step.startswith("seal:") and step != "seal:recorded":
        assert any("unfinished segment" in r for r in result.tenants[0].recovered)
    if step == "purge:recorded":
        assert any("purged segment" in r for r in result.tenants[0].recovered)
    finished(store, before)


_CHILD = """
import sys
from auditkit.store import Store, _retention
_retention.SEGMENT_ROWS = 40
Store.open(sys.argv[1]).retention.apply("acme")
"""


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_each_step_then_apply_again(store: Store, step: str, tmp_path: Path) -> None:
    before = trail(store)
    env = {**os.environ, "AUDITKIT_RETENTION_FAIL": step, "AUDITKIT_RETENTION_KILL": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, store.location],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    store.close()
    reopened = Store.open(store.location)
    assert reopened.verify().status.value == "intact", reopened.verify().summary()
    reopened.retention.apply("acme")
    finished(reopened, before)
    leftovers = [p for p in Path(tmp_path / "cold").rglob("*") if ".tmp-" in p.name]
    assert not leftovers
