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
    return [t.size for k, t in _verify._TREES.items() if k[:2] == (store.store_id, tenant)]


def _spy_on_tiles(store: Store) -> list[int]:
    """The ``first`` tile of every tile read the store makes from now on."""
    calls: list[int] = []
    real = store._reader.tiles

    def spy(tenant: str, first: int = 0) -> list:
        calls.append(first)
        return real(tenant, first)

    store._reader.tiles = spy  # type: ignore[method-assign]
    return calls


def test_a_load_after_appends_extends_the_cached_tree(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(1500))
    store.load("acme", seqs=(0, 10))
    assert _cached_sizes(store, "acme") == [1500]
    store.append(make_events(700, prefix="f"))
    calls = _spy_on_tiles(store)
    frame = store.load("acme", seqs=(1490, 2200))
    assert frame.height == 710
    assert calls == [1]  # only from the tile holding leaf 1500 on
    assert _cached_sizes(store, "acme") == [2200]  # grown in place


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


def test_an_old_leaf_changed_in_the_grown_tile_falls_back_to_the_full_read(
    tmp_path: Path,
) -> None:
    # the appends are genuine, so the new leaves reproduce the signed root with the
    # cached old ones: the changed stored leaf (seq 1050, in the partial tile re-read
    # to grow the tree) must still be noticed, as a full read of the tiles would
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(1100))
    store.load("acme", seqs=(0, 10))
    store.append(make_events(50, prefix="k"))
    at = (1050 - 1024) * 32
    sql(
        store,
        f"UPDATE merkle_tiles SET leaves = substr(leaves, 1, {at}) || zeroblob(32) || "
        f"substr(leaves, {at + 33}) WHERE tenant_id = 'acme' AND tile = 1",
    )
    with pytest.raises(TamperedError):
        store.load("acme", seqs=(1100, 1150))
    assert _cached_sizes(store, "acme") == [1100]


def test_pages_after_many_appends_read_only_the_new_tiles(tmp_path: Path) -> None:
    # one record per read: the tree grows by a leaf at a time, without a full read
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(3000))
    store.load("acme", seqs=(0, 10))
    firsts = _spy_on_tiles(store)
    for i in range(1, 40):
        store.append(make_events(1, prefix=f"m{i}-"))
        assert store.load("acme", seqs=(2990 + i, 3000 + i)).height == 10
    assert set(firsts) == {2}
    assert _cached_sizes(store, "acme") == [3039]
