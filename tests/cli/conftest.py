"""Fixtures for the command-line tests: stores made the way a user makes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditkit.cli import main


def build_store(folder: Path, *, events: int = 2000, days: int = 10) -> str:
    """A store of ``events`` sample events (three tenants, incidents included), made
    with ``auditkit sample``, ``init`` and ``ingest``."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = folder / "sample.ndjson"
    db = str(folder / "audit.db")
    args = ["--events", str(events), "--days", str(days), "--no-progress"]
    assert main(["sample", "-o", str(sample), *args]) == 0
    assert main(["init", db]) == 0
    assert main(["ingest", db, str(sample), "--no-progress"]) == 0
    return db


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A sample store shared by the tests of one module (they must not change it)."""
    return build_store(tmp_path_factory.mktemp("store"))


@pytest.fixture
def store_factory(tmp_path: Path) -> Callable[..., str]:
    """Make a fresh sample store in this test's folder."""
    counter = iter(range(1000))

    def make(*, events: int = 500, days: int = 5) -> str:
        return build_store(tmp_path / f"s{next(counter)}", events=events, days=days)

    return make
