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


def test_a_filtered_page_a_seal_overtakes_skips_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filtered page comes back shorter than its range by design, so the short-page
    test of the reader could not tell it from a page a seal overtook: the load says
    how many records were sealed meanwhile, and reads them from the cold tier."""
    store, sealed = store_sealed_while_read(tmp_path, monkeypatch)
    page = page_events(
        store, "acme", EventFilter(action=("user.login",)), start_seq=0, limit=5000, order="asc"
    )
    assert sealed[-1] > 0
    assert page.frame.get_column("seq").to_list() == list(range(0, 3000, 5))


def test_one_event_a_seal_overtakes_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`GET /v1/tenants/{t}/events/{id}` answered 404 for an event a retention run
    sealed while it was read, though the store holds it."""
    from fastapi.testclient import TestClient

    from auditkit.api import create_app

    store, sealed = store_sealed_while_read(tmp_path, monkeypatch)
    store.add_principal("reader")
    store.grant("reader", "acme", "auditor")
    token = store.create_token("reader").text
    with TestClient(create_app(store)) as client:
        got = client.get(
            "/v1/tenants/acme/events/e-acme-10", headers={"Authorization": f"Bearer {token}"}
        )
    assert sealed[-1] > 0
    assert got.status_code == 200, got.text
    assert got.json()["event"]["event_id"] == "e-acme-10"
