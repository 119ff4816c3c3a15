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
