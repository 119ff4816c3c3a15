"""Shared fixtures of the widget tests: a small but varied event frame."""

from __future__ import annotations

from itertools import chain, islice

import polars as pl
import pytest

from auditkit.frame import events_to_frame
from auditkit.sample import iter_events
from auditkit.store import Store


@pytest.fixture(scope="session")
def sample_frame() -> pl.DataFrame:
    """3,000 realistic events (three tenants, two weeks, with incidents)."""
    events = list(islice(chain.from_iterable(iter_events(days=14, actors=60, events=3000)), 3000))
    return events_to_frame(events)


@pytest.fixture
def sample_store(sample_frame: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store holding the sample frame's events."""
    from auditkit.export import frame_to_events

    store = Store.init(str(tmp_path_factory.mktemp("store") / "audit.db"))
    events = frame_to_events(sample_frame.drop("seq", "received_at"))
    store.append(e for chunk in events for e in chunk)
    return store
