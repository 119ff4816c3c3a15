"""The fast verified-load path: the vectorised Merkle root, the fused hash and
decode pass, chunks read ahead in threads, and what it must still catch."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import polars as pl
import pytest

from auditkit import ProblemKind, Store, TamperedError
from auditkit.frame import _ACTOR, _decode_distinct, frame_from_rows
from auditkit.integrity import root_from_leaf_hashes
from auditkit.store import _hashing, _reader
from auditkit.store._hashing import tree_root
from auditkit.store._reader import Filter
from auditkit.store._verify import TenantVerifier
from tests.conftest import make_events
from tests.store.test_tamper import _sql


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 9, 31, 64, 100, 1000, 1025])
def test_tree_root_equals_reference(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n))
    leaves = [blob[i : i + 32] for i in range(0, len(blob), 32)]
    expected = root_from_leaf_hashes(leaves)
    assert tree_root(blob, n) == expected
    # every level through Polars, in small slices (odd slice ends, odd levels)
    monkeypatch.setattr(_hashing, "_SMALL_LEVEL", 0)
    monkeypatch.setattr(_hashing, "_ROOT_SLICE", 3)
    assert tree_root(blob, n) == expected
    # a longer blob: only the first n leaves count
    assert tree_root(blob + b"\x07" * 64, n) == expected


def test_decode_distinct_equals_decoding_every_row() -> None:
    texts = pl.Series(
        "actor",
        ['{"id":"u1","roles":["a"]}', None, '{"id":"u2"}', '{"id":"u1","roles":["a"]}'] * 5,
    )
    assert _decode_distinct(texts, _ACTOR).equals(texts.str.json_decode(_ACTOR))
    distinct = pl.Series("actor", [f'{{"id":"u{i}"}}' for i in range(9)] + [None])
    assert _decode_distinct(distinct, _ACTOR).equals(distinct.str.json_decode(_ACTOR))


def _verifier(store: Store, tenant: str) -> TenantVerifier:
    return TenantVerifier(store._reader.snapshot(tenant), store.trust())


def _rows(store: Store, tenant: str) -> pl.DataFrame:
    return store._reader.read(Filter("tenant_id = ?", (tenant,)))


def test_verified_frame_is_one_pass_and_equals_the_plain_frame(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    events = make_events(30)
    events[4]["description"] = 'said "hi" \\ then\nleft\t'  # needs JSON escaping
    events[5]["actor"]["name"] = "Zoë \u2028 \U0001f600"
    store.append(events)
    raw = _rows(store, "acme")
    calls: list[int] = []
    plain_check = TenantVerifier.check_chunk

    def spy(self: TenantVerifier, raw: pl.DataFrame) -> pl.Series:
        calls.append(raw.height)
        return plain_check(self, raw)

    monkeypatch.setattr(TenantVerifier, "check_chunk", spy)
    v = _verifier(store, "acme")
    frame = v.verified_frame(raw)
    assert not calls  # no fallback to the two-pass path
    assert frame.equals(frame_from_rows(raw.drop("_typed")).collect())
    assert v.finish(store._reader.tail("acme", v.size)).ok
    assert frame.row(4, named=True)["description"] == 'said "hi" \\ then\nleft\t'


def test_escaped_text_in_a_column_is_not_its_unescaped_value(store_location: str) -> None:
    # concatenating columns without escaping would give the signed bytes back for a
    # column holding the *escaped* form of the signed value: the escaping test catches it
    store = Store.init(store_location)
    events = make_events(10)
    events[3]["description"] = 'say "hi"'
    store.append(events)
    _sql(
        store,
        """UPDATE events SET description = 'say \\"hi\\"' WHERE tenant_id = 'acme' AND seq = 3""",
    )
    with pytest.raises(TamperedError, match="seq=3"):
        store.load()
    report = store.verify()
    assert [(p.kind, p.seq) for p in report.problems] == [(ProblemKind.MODIFIED, 3)]


def test_unparsable_json_column_is_reported_not_crashing(store_location: str) -> None:
    store = Store.init(store_location)
    store.append(make_events(10))
    _sql(store, """UPDATE events SET actor = '{"id":' WHERE tenant_id = 'acme' AND seq = 6""")
    with pytest.raises(TamperedError, match="seq=6"):
        store.load()
    with pytest.warns(UserWarning):
        frame = store.load(on_tamper="warn")
    assert frame.get_column("seq").to_list() == [0, 1, 2, 3, 4, 5, 7, 8, 9]


def test_small_chunks_read_ahead_give_the_same_frame(
    store_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.init(store_location)
    store.append(make_events(50) + make_events(7, "globex") + make_events(23, "initech"))
    whole = store.load()
    monkeypatch.setattr(_reader, "LOAD_CHUNK", 6)
    for ahead in (1, 2, 3):
        sizes = {"acme": 50, "globex": 7, "initech": 23}
        for tenant, n in sizes.items():
            chunks = list(store._reader.chunks(tenant, n, ahead=ahead))
            assert [len(c) for c in chunks] == [6] * (n // 6) + ([n % 6] if n % 6 else [])
            assert sorted(s for c in chunks for s in c["seq"]) == list(range(n))
    chunked = store.load()
    assert chunked.equals(whole)
    assert chunked.get_column("tenant_id").n_chunks() > 1
    ranged = store.load(start="2026-01-05T08:10:00Z", end="2026-01-05T08:30:00Z")
    assert ranged.equals(
        whole.filter(
            pl.col("occurred_at").is_between(
                pl.datetime(2026, 1, 5, 8, 10, time_zone="UTC"),
                pl.datetime(2026, 1, 5, 8, 30, time_zone="UTC"),
                closed="left",
            )
        )
    )
    report, frame = store.verify_and_load()
    assert report.ok and frame.equals(whole)
    assert store.scan().collect().sort("tenant_id", "seq").equals(whole)


def test_tamper_in_a_middle_chunk_stops_cleanly(
    store_location: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.init(store_location)
    store.append(make_events(40))
    _sql(store, "UPDATE events SET outcome = 'denied' WHERE tenant_id = 'acme' AND seq = 17")
    monkeypatch.setattr(_reader, "LOAD_CHUNK", 5)
    with pytest.raises(TamperedError, match="seq=17"):
        store.load()
    with pytest.raises(TamperedError, match="seq=17"):
        store.scan(folder=tmp_path / "scan")


def test_verifier_keeps_no_column_of_the_chunks(tmp_path: Any) -> None:
    # a column of a chunk would keep the whole Arrow batch it was read in alive:
    # with it, verifying a tenant of millions in chunks held every chunk in memory
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(20))
    v = _verifier(store, "acme")
    v.verified_frame(_rows(store, "acme"))
    kept = [value for value in vars(v).values() if isinstance(value, pl.Series | pl.DataFrame)]
    assert kept == []
    assert isinstance(v.seen, np.ndarray) and v.seen.all()


def test_load_reports_record_problems_as_verify_does(store_location: str) -> None:
    store = Store.init(store_location)
    store.append(make_events(20))
    _sql(
        store,
        "UPDATE events SET outcome = 'denied' WHERE tenant_id = 'acme' AND seq = 3",
        "UPDATE events SET actor_id = 'someone' WHERE tenant_id = 'acme' AND seq = 4",
        """UPDATE events SET actor = '{"id":"mallory"}' WHERE tenant_id = 'acme' AND seq = 8""",
    )
    with pytest.warns(UserWarning):
        frame = store.load(on_tamper="warn")
    assert frame.get_column("seq").to_list() == [s for s in range(20) if s not in (3, 4, 8)]
    assert store.last_report is not None
    loaded = {(p.kind, p.seq, p.column) for p in store.last_report.problems}
    verified = {(p.kind, p.seq, p.column) for p in store.verify().problems}
    assert (
        loaded
        == verified
        == {
            (ProblemKind.MODIFIED, 3, None),
            (ProblemKind.COLUMN_MISMATCH, 4, "actor_id"),
            (ProblemKind.MODIFIED, 8, None),
            (ProblemKind.COLUMN_MISMATCH, 8, "actor_id"),
        }
    )
