"""Loads grow the authenticated tree they cached instead of rebuilding it, and a
grown tree is kept only when it reproduces the newest signed root."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit import Store
from auditkit.errors import TamperedError
from auditkit.store import _verify
from tests.conftest import make_events
from tests.store._attacker import sql


def _cached_sizes(store: Store, tenant: str) -> list[int]:
    return sorted(k[3] for k in _verify._TREES if k[0] == store.store_id and k[1] == tenant)


def test_a_load_after_appends_extends_the_cached_tree(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(1500))
    store.load("acme", seqs=(0, 10))
    assert _cached_sizes(store, "acme") == [1500]
    store.append(make_events(700, prefix="f"))
    calls: list[int] = []
    real = store._reader.tiles

    def spy(tenant: str, first: int = 0) -> list:
        calls.append(first)
        return real(tenant, first)

    store._reader.tiles = spy  # type: ignore[method-assign]
    frame = store.load("acme", seqs=(1490, 2200))
    assert frame.height == 710
    assert calls == [1]  # only from the tile holding leaf 1500 on
    assert _cached_sizes(store, "acme") == [1500, 2200]


def test_a_tampered_new_row_is_caught_after_an_extension(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(1100))
    store.load("acme", seqs=(0, 10))
    store.append(make_events(50, prefix="g"))
    sql(store, "UPDATE events SET outcome = 'failure' WHERE tenant_id = 'acme' AND seq = 1120")
    with pytest.raises(TamperedError):
        store.load("acme", seqs=(1100, 1150))


def test_a_tampered_new_tile_falls_back_to_the_full_read(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(1100))
    store.load("acme", seqs=(0, 10))
    store.append(make_events(50, prefix="h"))
    sql(store, "UPDATE merkle_tiles SET leaves = zeroblob(length(leaves)) WHERE tile = 1")
    with pytest.raises(TamperedError):
        store.load("acme", seqs=(1100, 1150))
    assert _cached_sizes(store, "acme") == [1100]


def test_a_ranged_load_names_strays_through_key_seeks(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(40))
    # an inserted row past the tree, and one with a fractional seq inside it
    sql(
        store,
        "INSERT INTO events SELECT tenant_id, 99, 'x99', occurred_at, received_at, action, "
        "category, outcome, actor_id, actor, targets, source, observer, request_id, "
        "session_id, description, changes, metadata FROM events WHERE seq = 1",
        "INSERT INTO events SELECT tenant_id, 12.5, 'x12', occurred_at, received_at, action, "
        "category, outcome, actor_id, actor, targets, source, observer, request_id, "
        "session_id, description, changes, metadata FROM events WHERE seq = 1",
    )
    with pytest.raises(TamperedError, match="99"):
        store.load("acme", seqs=(30, 35))
    tail = store._reader.tail("acme", 40, within=(10, 20))
    assert [s for s, _ in tail.strays] == ["12.5", "99"] and tail.stray_count == 2
    assert [s for s, _ in store._reader.tail("acme", 40).strays] == ["12.5", "99"]
    # the wrong type is looked for in the loaded range only
    assert [s for s, _ in store._reader.tail("acme", 40, within=(20, 30)).strays] == ["99"]
    assert store.verify().status.value == "tampered"
