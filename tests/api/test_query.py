"""The API's pages against a store that a retention run changes while they are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.api._query import EventFilter, page_events
from tests.conftest import store_sealed_while_read


@pytest.mark.parametrize("scan_only", [True, False], ids=["bulk pull", "page"])
def test_rows_sealed_while_a_page_is_read_are_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan_only: bool
) -> None:
    """A retention run sealing rows into the cold tier while a page read them left them
    out of the page, and its next cursor passed them: a client pulling the trail never
    got them, though the store still holds them.  A short unfiltered page is read once
    more, and every event comes out."""
    store, sealed = store_sealed_while_read(tmp_path, monkeypatch)
    page = page_events(
        store, "acme", EventFilter(), start_seq=0, limit=5000, order="asc", scan_only=scan_only
    )
    assert sealed[-1] > 0
    assert page.frame.get_column("seq").to_list() == list(range(3001))
    assert page.next_seq == 3001 and page.complete
