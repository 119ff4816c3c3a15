"""The API's pages against a store that a retention run changes while they are read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditkit.api._query import EventFilter, page_events
from auditkit.store import Store
from auditkit.store._reader import TrailReader
from tests.conftest import make_events


@pytest.mark.parametrize("scan_only", [True, False], ids=["bulk pull", "page"])
def test_rows_sealed_while_a_page_is_read_are_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan_only: bool
) -> None:
    """A retention run sealing rows into the cold tier while a page read them left them
    out of the page, and its next cursor passed them: a client pulling the trail never
    got them, though the store still holds them.  A short unfiltered page is read once
    more, and every event comes out."""
    store = Store.init(str(tmp_path / "audit.db"))
    store.append(make_events(3000, "acme", start="2025-01-01T00:00:00Z", step_s=3 * 3600))
    other = Store.open(store.location, key=str(store.key_path))
    other.set_retention("*", hot_days=30, keep_days=3650)  # recorded: one more event
    real = TrailReader.read
    sealed: list[int] = []

    def read_while_sealing(self: TrailReader, *a: Any, **kw: Any) -> Any:
        if not sealed:  # once (the retention run reads rows too)
            sealed.append(0)
            sealed.append(other.apply_retention(now="2025-06-01T00:00:00Z").sealed)
        return real(self, *a, **kw)

    monkeypatch.setattr(TrailReader, "read", read_while_sealing)
    page = page_events(
        store, "acme", EventFilter(), start_seq=0, limit=5000, order="asc", scan_only=scan_only
    )
    assert sealed[-1] > 0
    assert page.frame.get_column("seq").to_list() == list(range(3001))
    assert page.next_seq == 3001 and page.complete
