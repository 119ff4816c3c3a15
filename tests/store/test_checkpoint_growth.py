"""A tenant gets a signed checkpoint per append and per read of its trail, so its
list of checkpoints grows with use.  Reads that need only the newest signed tree
(pages, the latest checkpoint, proofs) take the checkpoints of the largest tree
sizes, and all of them only when none of those is validly signed."""

from __future__ import annotations

from typing import Any

import pytest

from auditkit import Store
from auditkit.errors import TamperedError
from auditkit.store import _reader
from auditkit.store._verify import NEWEST_CHECKPOINTS
from tests.conftest import make_events
from tests.store._attacker import sql

APPENDS = NEWEST_CHECKPOINTS * 2 + 3


@pytest.fixture
def grown(store_location: str) -> Store:
    store = Store.init(store_location)
    for i in range(APPENDS):
        start = f"2026-01-05T{8 + i // 60:02d}:{i % 60:02d}:00Z"
        store.append(make_events(3, prefix=f"b{i}", start=start))
    return store


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of checkpoint rows each read of checkpoints parsed."""
    seen: list[int] = []
    real = _reader.TrailReader._checkpoints

    def spy(self: Any, cur: Any, tenant: str, newest: int | None = None) -> Any:
        out = real(self, cur, tenant, newest)
        seen.append(len(out[0]) + len(out[1]))
        return out

    monkeypatch.setattr(_reader.TrailReader, "_checkpoints", spy)
    return seen


def test_the_latest_checkpoint_is_read_from_the_newest_only(
    grown: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = grown.checkpoints("acme")
    assert len(everything) == APPENDS
    newest = max(everything, key=lambda cp: cp.tree_size)
    seen = _spy(monkeypatch)
    assert grown.latest_checkpoint("acme") == newest
    assert grown.latest_checkpoints() == {"acme": newest}
    assert seen and max(seen) == NEWEST_CHECKPOINTS


def test_a_page_reads_only_the_newest_checkpoints(
    grown: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _spy(monkeypatch)
    frame = grown.load("acme", seqs=(10, 20))
    assert frame["seq"].to_list() == list(range(10, 20))
    assert seen and max(seen) == NEWEST_CHECKPOINTS
    seen.clear()
    assert grown.verify().ok  # a whole pass still checks every checkpoint (the history)
    assert max(seen) == APPENDS


def test_forged_checkpoints_above_the_newest_are_named_not_trusted(grown: Store) -> None:
    genuine = grown.latest_checkpoint("acme")
    assert genuine is not None
    rows = ", ".join(
        f"('acme', {genuine.tree_size + 100 + i}, '{'0' * 64}', '2026-01-06T00:00:00.000000Z', "
        f"'{genuine.key_id}', 'AAAA')"
        for i in range(NEWEST_CHECKPOINTS + 4)
    )
    sql(
        grown,
        "INSERT INTO checkpoints (tenant_id, tree_size, root_hash, timestamp, key_id, signature) "
        f"VALUES {rows}",
    )
    # none of the newest rows holds: the whole list is read, and the genuine one found
    assert grown.latest_checkpoint("acme") == genuine
    with pytest.raises(TamperedError, match="signature"):
        grown.load("acme", seqs=(0, 5))
    assert not grown.verify().ok


def test_a_row_missing_from_a_page_range_is_named(grown: Store) -> None:
    sql(grown, "DELETE FROM events WHERE tenant_id = 'acme' AND seq = 14")
    with pytest.raises(TamperedError, match="seq=14"):
        grown.load("acme", seqs=(10, 20))
    assert grown.load("acme", seqs=(20, 30))["seq"].to_list() == list(range(20, 30))
