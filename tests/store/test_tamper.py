"""Tampering done the way an attacker with database access would, and
verification naming the kind, tenant, first seq and event id of each."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from auditkit import ProblemKind, Store, TamperedError
from auditkit.integrity import generate_key, sign_checkpoint
from tests.conftest import make_events


def _attacker(store: Store) -> Any:
    """A raw connection with the immutability triggers switched off."""
    return store.backend


def _sql(store: Store, *statements: str, params: tuple[Any, ...] = ()) -> None:
    with store.backend.connect() as conn:
        cur = conn.cursor()
        if store.backend.dialect == "sqlite":
            for t in (
                "events_no_update",
                "events_no_delete",
                "checkpoints_no_update",
                "checkpoints_no_delete",
            ):
                cur.execute(f"DROP TRIGGER IF EXISTS {t}")
        else:
            cur.execute("ALTER TABLE events DISABLE TRIGGER USER")
            cur.execute("ALTER TABLE checkpoints DISABLE TRIGGER USER")
        for s in statements:
            cur.execute(s, params) if params else cur.execute(s)
        conn.commit()


@pytest.fixture
def store(store_location: str) -> Store:
    s = Store.init(store_location)
    s.append(make_events(40), batch_size=16)
    s.append(make_events(5, "globex"))
    assert s.verify().ok
    return s


def _only(report: Any, kind: ProblemKind) -> Any:
    found = [p for p in report.problems if p.kind == kind]
    assert found, report.summary()
    return found[0]


def test_modified_record_is_named(store: Store) -> None:
    _sql(
        store, "UPDATE events SET action = 'document.delete' WHERE tenant_id = 'acme' AND seq = 17"
    )
    report = store.verify()
    p = _only(report, ProblemKind.MODIFIED)
    assert (p.tenant_id, p.seq, p.event_id) == ("acme", 17, "e-acme-17")
    assert report.first().seq == 17
    assert all(p.tenant_id == "acme" for p in report.problems)
    with pytest.raises(TamperedError, match="seq=17"):
        store.load("acme")
    with pytest.raises(TamperedError, match="seq=17"):
        store.scan("acme")
    assert store.load("globex").height == 5


def test_modified_column_is_caught_although_no_hash_changed(store: Store) -> None:
    # the attacker edits one column and leaves every stored hash and signature alone
    _sql(store, "UPDATE events SET outcome = 'success' WHERE tenant_id = 'acme' AND seq = 3")
    p = _only(store.verify(), ProblemKind.MODIFIED)
    assert (p.seq, p.event_id) == (3, "e-acme-3")


def test_modified_projected_column_is_named(store: Store) -> None:
    # actor_id repeats actor.id for indexing: an edit of it alone is named by column
    _sql(store, "UPDATE events SET actor_id = 'someone' WHERE tenant_id = 'acme' AND seq = 4")
    p = _only(store.verify(), ProblemKind.COLUMN_MISMATCH)
    assert (p.seq, p.event_id, p.column) == (4, "e-acme-4", "actor_id")


def test_modified_nested_json_column_is_named(store: Store) -> None:
    _sql(
        store,
        """UPDATE events SET metadata = '{"n":9,"tag":"x"}'
                   WHERE tenant_id = 'acme' AND seq = 8""",
    )
    p = _only(store.verify(), ProblemKind.MODIFIED)
    assert (p.seq, p.event_id) == (8, "e-acme-8")


def test_deleted_record_is_named(store: Store) -> None:
    _sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq = 12")
    p = _only(store.verify(), ProblemKind.DELETED)
    assert (p.tenant_id, p.seq) == ("acme", 12)


def test_truncation_is_named(store: Store) -> None:
    _sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq >= 36")
    p = _only(store.verify(), ProblemKind.TRUNCATED)
    assert p.seq == 36


def test_forged_insert_is_named(store: Store) -> None:
    ph = store.backend.ph
    _sql(
        store,
        "INSERT INTO events (tenant_id, seq, event_id, occurred_at, received_at, action, "
        "category, outcome, actor_id, actor) VALUES "
        f"({ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
        params=(
            "acme",
            40,
            "e-acme-40",
            "2026-01-06T08:00:00.000000Z",
            "2026-11-30T00:00:00.000000Z",
            "role.grant",
            "admin",
            "success",
            "u0",
            '{"id":"u0"}',
        ),
    )
    p = _only(store.verify(), ProblemKind.INSERTED)
    assert (p.seq, p.event_id) == (40, "e-acme-40")


def test_reordered_records_are_named(store: Store) -> None:
    _sql(
        store,
        "UPDATE events SET seq = -1 WHERE tenant_id = 'acme' AND seq = 5",
        "UPDATE events SET seq = 5 WHERE tenant_id = 'acme' AND seq = 9",
        "UPDATE events SET seq = 9 WHERE tenant_id = 'acme' AND seq = -1",
    )
    report = store.verify()
    p = _only(report, ProblemKind.REORDERED)
    assert (p.seq, p.event_id) == (5, "e-acme-9")


def test_record_and_tiles_rewritten_is_located_by_history(store: Store) -> None:
    # the attacker also rewrites the Merkle tiles so that the leaf matches the new bytes
    _sql(
        store,
        "UPDATE events SET description = 'event number 99' WHERE tenant_id = 'acme' AND seq = 20",
        "UPDATE merkle_tiles SET leaves = CAST(zeroblob(32) || substr(leaves, 33) AS BLOB) "
        "WHERE tenant_id = 'acme'"
        if store.backend.dialect == "sqlite"
        else "UPDATE merkle_tiles SET leaves = decode(repeat('00', 32), 'hex') || "
        "substring(leaves from 33) WHERE tenant_id = 'acme'",
    )
    report = store.verify()
    kinds = {p.kind for p in report.problems}
    assert ProblemKind.TREE_MISMATCH in kinds
    p = _only(report, ProblemKind.MODIFIED)
    assert p.seq is not None and 16 <= p.seq <= 20  # batch of 16: located to its checkpoint


def test_checkpoint_resigned_with_another_key_is_named(store: Store) -> None:
    other = generate_key()
    cp = store.latest_checkpoints()["acme"]
    fake = sign_checkpoint(
        other,
        store_id=store.store_id,
        tenant_id="acme",
        tree_size=cp.tree_size,
        root_hash="ab" * 32,
    )
    ph = store.backend.ph
    _sql(
        store,
        "INSERT INTO checkpoints (tenant_id, tree_size, root_hash, timestamp, key_id, "
        f"signature) VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
        params=(
            "acme",
            fake.tree_size,
            fake.root_hash,
            fake.timestamp,
            fake.key_id,
            fake.signature,
        ),
    )
    _only(store.verify(), ProblemKind.WRONG_KEY)


def test_saved_checkpoint_detects_rollback(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = Store.init(str(path))
    store.append(make_events(10))
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    store.append(make_events(20)[10:])
    cp = tmp_path / "cp.json"
    store.export_checkpoints(cp)
    store.close()
    shutil.copy(backup, path)
    restored = Store.open(str(path))
    assert restored.verify().ok  # consistent in itself...
    p = _only(restored.verify(checkpoint=cp), ProblemKind.ROLLBACK)  # ...but behind
    assert (p.tenant_id, p.seq) == ("acme", 10)


def test_saved_checkpoint_detects_fork(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = Store.init(str(path))
    store.append(make_events(10))
    fork = tmp_path / "fork.db"
    shutil.copy(path, fork)
    store.append(make_events(20)[10:])
    cp = tmp_path / "cp.json"
    store.export_checkpoints(cp)
    other = Store.open(str(fork), key=store.key_path)
    other.append(make_events(25, prefix="z"))
    assert other.verify().ok
    p = _only(other.verify(checkpoint=cp), ProblemKind.FORK)
    assert p.seq == 10


def test_saved_checkpoint_bad_signature_and_wrong_key(store: Store, tmp_path: Path) -> None:
    cp = tmp_path / "cp.json"
    doc = store.export_checkpoints(cp)
    assert store.verify(checkpoint=cp).ok
    sig = doc["checkpoints"][0]["signature"]
    doc["checkpoints"][0]["signature"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    _only(store.verify(checkpoint=doc), ProblemKind.BAD_SIGNATURE)
    other = generate_key()
    c0 = store.export_checkpoints()["checkpoints"][0]
    resigned = sign_checkpoint(
        other,
        store_id=c0["store_id"],
        tenant_id=c0["tenant_id"],
        tree_size=c0["tree_size"],
        root_hash=c0["root_hash"],
    )
    doc2 = store.export_checkpoints() | {"checkpoints": [resigned.to_dict()]}
    _only(store.verify(checkpoint=doc2), ProblemKind.WRONG_KEY)


def test_saved_checkpoint_detects_truncation(store: Store, tmp_path: Path) -> None:
    cp = tmp_path / "cp.json"
    store.export_checkpoints(cp)
    _sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq >= 30")
    report = store.verify(checkpoint=cp)
    p = _only(report, ProblemKind.TRUNCATED)
    assert p.seq == 30


def test_verify_and_load_keeps_only_verified_records_of_the_period(store: Store) -> None:
    _sql(store, "UPDATE events SET outcome = 'denied' WHERE tenant_id = 'acme' AND seq = 6")
    report, frame = store.verify_and_load(
        "acme", start="2026-01-05T08:05:00Z", end="2026-01-05T08:20:00Z"
    )
    assert _only(report, ProblemKind.MODIFIED).seq == 6
    assert frame.get_column("seq").to_list() == [5, *range(7, 20)]
    assert frame.get_column("tenant_id").unique().to_list() == ["acme"]


@pytest.mark.parametrize(
    ("signed", "tampered", "column"),
    [
        # metadata signed with an "observer" key and no observer: split in two
        (
            {"metadata": {"a": 1, "observer": {"service": "x"}}},
            {"metadata": '{"a":1', "observer": '{"service":"x"}}'},
            "observer",
        ),
        # the same with a metadata prefix that closes as an object does and a tail whose
        # braces balance: only parsing observer in full sees it
        (
            {"metadata": {"a": {"b": 1}, "observer": {"s": "{"}}},
            {"metadata": '{"a":{"b":1}', "observer": '{"s":"{"}}'},
            "observer",
        ),
        # the other way round: an observer column swallowed by metadata
        (
            {"metadata": {"a": 1}, "observer": {"service": "x"}},
            {"metadata": '{"a":1},"observer":{"service":"x"}', "observer": None},
            "metadata",
        ),
        # a description swallowed by changes
        (
            {"changes": {"after": {"n": 2}}, "description": "d"},
            {"changes": '{"after":{"n":2}},"description":"d"', "description": None},
            "changes",
        ),
        # targets swallowed by source
        (
            {"source": {"ip": "203.0.113.9"}, "targets": [{"id": "t1"}]},
            {"source": '{"ip":"203.0.113.9"},"targets":[{"id":"t1"}]', "targets": None},
            "source",
        ),
    ],
)
def test_text_moved_between_adjacent_columns_is_named(
    store_location: str, signed: dict[str, Any], tampered: dict[str, Any], column: str
) -> None:
    # the concatenation, hence every hash, is unchanged: only the columns' split moved
    store = Store.init(store_location)
    base = make_events(3)
    for e in base:
        for key in ("observer", "metadata", "changes", "description", "source", "targets"):
            e.pop(key, None)
    base[1].update(signed)
    store.append(base)
    assert store.verify().ok
    sets = ", ".join(f"{k} = NULL" if v is None else f"{k} = '{v}'" for k, v in tampered.items())
    _sql(store, f"UPDATE events SET {sets} WHERE tenant_id = 'acme' AND seq = 1")
    report = store.verify()
    assert not report.ok
    p = _only(report, ProblemKind.COLUMN_MISMATCH)
    assert (p.seq, p.event_id, p.column) == (1, "e-acme-1", column)
    with pytest.raises(TamperedError, match="seq=1"):
        store.load("acme")
    with pytest.raises(TamperedError, match="seq=1"):
        store.scan("acme")
    report, frame = store.verify_and_load("acme")
    assert not report.ok and frame["seq"].to_list() == [0, 2]


@pytest.mark.parametrize(
    ("column", "text"),
    [
        ("actor", '{"id":"u-1",}'),
        ("source", '{"ip":"203.0.113.9"}}'),
        ("targets", '[{"id":"t1"}]]'),
        ("targets", '[{"id":"t1"},"tenant_id":"acme"]'),
    ],
)
def test_json_text_that_opens_and_closes_right_but_is_not_json_is_named(
    store_location: str, column: str, text: str
) -> None:
    """actor, source and targets are parsed only when their shape is suspect (verify's
    speed on trails whose callers differ on every event): text that opens and closes as
    a value does but is not one still fails its row, through the hash."""
    store = Store.init(store_location)
    store.append(make_events(3))
    _sql(store, f"UPDATE events SET {column} = '{text}' WHERE tenant_id = 'acme' AND seq = 1")
    report = store.verify()
    assert not report.ok
    assert {p.seq for p in report.problems if p.tenant_id == "acme"} == {1}, report.summary()
    report, frame = store.verify_and_load("acme")
    assert not report.ok and frame["seq"].to_list() == [0, 2]


def test_raw_nul_in_a_row_redone_exactly_is_named_not_a_crash(tmp_path: Path) -> None:
    # a quote in a scalar sends the row to the exact (Python) path; a raw NUL byte in
    # a JSON column must not confuse how that path puts seq and received_at in
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(3))
    _sql(
        store,
        'UPDATE events SET description = \'say "hi"\', metadata = \'{"n":1,"t":"a\' '
        "|| char(0) || '\"}' WHERE tenant_id = 'acme' AND seq = 1",
    )
    p = _only(store.verify(), ProblemKind.MODIFIED)
    assert (p.seq, p.event_id) == (1, "e-acme-1")
    with pytest.raises(TamperedError, match="seq=1"):
        store.load("acme")


def test_recording_a_problem_does_not_rescan_the_ones_recorded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row of a tampered store may be a problem: recording one must not walk
    the list of those already kept (that made a verify of a million tampered rows
    quadratic, a denial of the verdict)."""
    from auditkit.store import _verify

    walks = 0

    class Watched(list):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            nonlocal walks
            walks += 1
            return super().__iter__()

    real_init = _verify.TenantVerifier.__init__

    def init(self, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        self.problems = Watched()

    monkeypatch.setattr(_verify.TenantVerifier, "__init__", init)
    monkeypatch.setattr(_verify, "_MAX_PROBLEMS_PER_KIND", 5)
    _sql(store, "UPDATE events SET description = 'x' WHERE tenant_id = 'acme'")
    report = store.verify()
    modified = [p for p in report.problems if p.kind == ProblemKind.MODIFIED]
    assert len(modified) == 5  # still capped per kind
    # the report reads each tenant's list once or twice; no walk per recorded row
    assert walks < 10
