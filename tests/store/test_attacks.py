"""The attacks of an adversary with database access but not the key, each written
as that attacker would (direct SQL, files, environment), and what verification
and the append path make of them, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from auditkit import ProblemKind, Store, TamperedError
from auditkit.errors import StoreError, UsageError
from auditkit.integrity import (
    Frontier,
    generate_key,
    key_fingerprint,
    public_key_pem,
    save_private_key,
    sign_checkpoint,
)
from auditkit.store._keys import public_key_path
from auditkit.store._manifest import MANIFEST_KEY, Manifest
from tests.conftest import make_events
from tests.store._attacker import blob_literal, sql


@pytest.fixture
def store(store_location: str) -> Store:
    s = Store.init(store_location)
    s.append(make_events(40), batch_size=16)
    s.append(make_events(6, "globex"))
    s.append(make_events(9, "initech"))
    assert s.verify().status.value == "intact"
    return s


def kinds(report: Any) -> set[ProblemKind]:
    return {p.kind for p in report.problems}


def first(report: Any, kind: ProblemKind) -> Any:
    found = [p for p in report.problems if p.kind == kind]
    assert found, report.summary()
    return found[0]


# -- 1. the key ------------------------------------------------------------------------------
def _resign_everything(store: Store, tenant: str, key: Any) -> None:
    """Rewrite a record, then re-sign every checkpoint and replace the public key."""
    sql(store, f"UPDATE events SET action = 'role.grant' WHERE tenant_id = '{tenant}' AND seq = 2")
    rows = store._reader.read(
        __import__("auditkit.store._reader", fromlist=["Filter"]).Filter("tenant_id = ?", (tenant,))
    ).drop("_typed", strict=False)
    from auditkit.integrity import leaf_hash
    from auditkit.record import rebuild_canonical

    leaves = [leaf_hash(t.encode()) for t in rebuild_canonical(rows).to_list()]
    frontier = Frontier.empty().extend(leaves)
    cp = sign_checkpoint(
        key,
        store_id=store.store_id,
        tenant_id=tenant,
        tree_size=frontier.size,
        root_hash=frontier.root(),
    )
    tiles = blob_literal(store, b"".join(leaves))
    sql(
        store,
        f"DELETE FROM checkpoints WHERE tenant_id = '{tenant}'",
        f"UPDATE merkle_tiles SET leaves = {tiles} WHERE tenant_id = '{tenant}'",
        f"UPDATE tree_heads SET root_hash = '{cp.root_hash}', "
        f"frontier = {blob_literal(store, frontier.to_bytes())} WHERE tenant_id = '{tenant}'",
        "INSERT INTO checkpoints (tenant_id, tree_size, root_hash, timestamp, key_id, signature) "
        f"VALUES ('{tenant}', {cp.tree_size}, '{cp.root_hash}', '{cp.timestamp}', "
        f"'{cp.key_id}', '{cp.signature}')",
    )


def _resign_all_tenants(store: Store) -> Any:
    key = generate_key()
    for t in store.tenants():
        _resign_everything(store, t, key)
    pem = public_key_pem(key.public_key())
    sql(
        store,
        "UPDATE store_meta SET value = ? WHERE key = 'public_key'",
        params=(pem,),
    )
    sql(
        store,
        "UPDATE store_meta SET value = ? WHERE key = 'key_id'",
        params=(key_fingerprint(key),),
    )
    # and the tenant manifest, which the store's key signed, with the attacker's
    sizes = {t: store._reader.signed_sizes()[t] for t in store.tenants()}
    manifest = Manifest(store.store_id).grown(sizes).signed(key)
    sql(store, "UPDATE store_meta SET value = ? WHERE key = ?", params=(manifest, MANIFEST_KEY))
    return key


def test_history_resigned_with_the_attackers_key_is_caught_by_the_key_file(store: Store) -> None:
    _resign_all_tenants(store)
    report = store.verify()
    assert report.status.value == "tampered"
    assert ProblemKind.WRONG_KEY in kinds(report)
    with pytest.raises(TamperedError):
        store.load("acme")


def test_without_any_anchor_the_verdict_is_unanchored_never_intact(
    store: Store, tmp_path: Path
) -> None:
    _resign_all_tenants(store)
    store.key_path.rename(tmp_path / "moved.key")
    public_key_path(store.key_path).rename(tmp_path / "moved.pub")
    opened = Store.open(store.location, key=store.key_path)
    report = opened.verify()
    assert report.ok and report.status.value == "unanchored" and not report.anchors
    assert "UNANCHORED" in report.summary()
    # any one independent anchor exposes the forgery
    pinned = opened.verify(fingerprint=key_fingerprint(generate_key())[:16])
    assert pinned.status.value == "tampered"
    real = opened.verify(public_key=tmp_path / "moved.pub")
    assert real.status.value == "tampered" and ProblemKind.WRONG_KEY in kinds(real)


def test_the_key_path_does_not_follow_the_store_id_in_the_database(store: Store) -> None:
    sql(store, "UPDATE store_meta SET value = 'attacker-chosen' WHERE key = 'store_id'")
    reopened = Store.open(store.location)
    assert reopened.key_path == store.key_path
    report = reopened.verify()
    # the store id is part of every signed checkpoint: changing it breaks them all
    assert report.status.value == "tampered"
    assert ProblemKind.BAD_SIGNATURE in kinds(report)


# -- 2. a tenant vanishing -------------------------------------------------------------------
def test_a_bare_purge_row_no_longer_opens_the_way_for_deletes(store: Store) -> None:
    with pytest.raises(Exception, match=r"append-only|DELETE refused"):
        sql(
            store,
            "INSERT INTO purges (kind, tenant_id, first_seq, end_seq, tree_size, root_hash, "
            "recorded_at, detail, key_id, signature) VALUES ('purge', 'initech', 0, 9, 9, "
            f"'{'0' * 64}', '2026-01-01T00:00:00.000000Z', '', '{'0' * 16}', 'x')",
            "DELETE FROM events WHERE tenant_id = 'initech'",
            drop_triggers=False,
        )
    assert store.count("initech") == 9


def test_a_tenant_deleted_with_its_tree_is_named_from_its_signed_history(store: Store) -> None:
    sql(
        store,
        "DELETE FROM events WHERE tenant_id = 'initech'",
        "DELETE FROM merkle_tiles WHERE tenant_id = 'initech'",
        "DELETE FROM tree_heads WHERE tenant_id = 'initech'",
    )
    report = store.verify()
    p = first(report, ProblemKind.VANISHED)
    assert p.tenant_id == "initech"
    only = store.verify("initech")
    assert only.status.value == "tampered" and only.problems[0].kind == ProblemKind.VANISHED


def test_a_forged_purge_statement_is_named(store: Store) -> None:
    sql(
        store,
        "INSERT INTO purges (kind, tenant_id, first_seq, end_seq, tree_size, root_hash, "
        "recorded_at, detail, key_id, signature) VALUES ('purge', 'acme', 0, 10, 40, "
        f"'{'0' * 64}', '2026-01-01T00:00:00.000000Z', 'retention', '{'0' * 16}', 'eA==')",
        "DELETE FROM events WHERE tenant_id = 'acme' AND seq < 10",
    )
    report = store.verify()
    assert ProblemKind.FORGED_PURGE in kinds(report)
    assert first(report, ProblemKind.DELETED).seq == 0


def test_a_signed_purge_is_not_tampering_and_the_rest_still_verifies(store: Store) -> None:
    st = store.remove_range("acme", 10, detail="keep 365 days")
    assert (st.first_seq, st.end_seq) == (0, 10)
    report = store.verify()
    assert report.status.value == "intact", report.summary()
    assert any("purged" in n for n in report.notes)
    assert store.load("acme")["seq"].to_list() == list(range(10, 40))
    assert store.inclusion_proof("acme", 25).seq == 25
    # the triggers are back after the purge
    with pytest.raises(Exception, match=r"append-only|DELETE refused"):
        sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq = 30", drop_triggers=False)
    # and a removal beyond the signed statement is still named
    sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq = 10")
    assert first(store.verify(), ProblemKind.DELETED).seq == 10


def test_a_purge_statement_signed_by_another_key_is_forged(store: Store) -> None:
    from auditkit.integrity import sign_statement

    other = generate_key()
    st = sign_statement(
        other, kind="purge", store_id=store.store_id, tenant_id="acme", first_seq=0,
        end_seq=5, tree_size=40, root_hash=store.latest_checkpoints()["acme"].root_hash,
    )  # fmt: skip
    sql(
        store,
        "INSERT INTO purges (kind, tenant_id, first_seq, end_seq, tree_size, root_hash, "
        "recorded_at, detail, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params=(st.kind, "acme", 0, 5, 40, st.root_hash, st.recorded_at, "", st.key_id,
                st.signature),
    )  # fmt: skip
    sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq < 5")
    report = store.verify()
    assert ProblemKind.FORGED_PURGE in kinds(report) and ProblemKind.DELETED in kinds(report)


# -- 3. rows outside the tree ----------------------------------------------------------------
_ROW = (
    "INSERT INTO events (tenant_id, seq, event_id, occurred_at, received_at, action, "
    "category, outcome, actor_id, actor) VALUES ('acme', {seq}, 'forged-{n}', "
    "'2019-01-01T00:00:00.000000Z', '2019-01-01T00:00:00.000000Z', 'user.login', "
    "'management', 'success', 'u0', '{{\"id\":\"u0\"}}')"
)


@pytest.mark.parametrize("seq", ["-1", "100000000000", "40"])
def test_rows_outside_the_signed_range_are_named_and_never_read(store: Store, seq: str) -> None:
    sql(store, _ROW.format(seq=seq, n=1))
    report = store.verify()
    p = first(report, ProblemKind.INSERTED)
    assert p.event_id == "forged-1" and p.tenant_id == "acme"
    assert store.count("acme") == 40
    with pytest.raises(TamperedError, match="forged-1"):
        store.load("acme")
    report, frame = store.verify_and_load("acme")
    assert "forged-1" not in frame["event_id"].to_list()


def test_thousands_of_rows_past_the_tree_under_a_forged_checkpoint_are_inserted(
    store: Store,
) -> None:
    """Rows past the signed tree are an append only up to what a validly signed
    checkpoint covers: more of them than are listed one by one, under a checkpoint the
    attacker made without the key, are all inserted."""
    from auditkit.store._reader import STRAY_LIMIT

    n = STRAY_LIMIT + 500
    cp = store.latest_checkpoints()["acme"]
    sql(
        store,
        *(_ROW.format(seq=40 + i, n=100 + i) for i in range(n)),
        "INSERT INTO checkpoints (tenant_id, tree_size, root_hash, timestamp, key_id, signature) "
        f"VALUES ('acme', {40 + n}, '{cp.root_hash}', '{cp.timestamp}', '{cp.key_id}', "
        f"'{cp.signature}')",
    )
    report = store.verify()
    found = [p for p in report.problems if p.kind == ProblemKind.INSERTED]
    assert len(found) >= STRAY_LIMIT, report.summary()
    assert all((p.event_id or "forged-").startswith("forged-") for p in found)
    assert not any("appended while verifying" in note for note in report.notes)
    with pytest.raises(TamperedError):
        store.load("acme")


@pytest.mark.parametrize("seq", ["14.5", "'abc'", "NULL", "14.0"])
def test_sqlite_seq_of_the_wrong_type_is_named(tmp_path: Path, seq: str) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(40))
    sql(
        store,
        "CREATE TABLE e2 AS SELECT * FROM events",  # no primary key: duplicates and NULLs go in
        "DROP TABLE events",
        "ALTER TABLE e2 RENAME TO events",
        _ROW.format(seq=seq, n=2),
    )
    report = store.verify()
    assert not report.ok, report.summary()
    assert ProblemKind.INSERTED in kinds(report)
    assert store.count("acme") == 40 or seq == "14.0"
    with pytest.raises(TamperedError):
        store.load("acme")


def test_a_duplicated_seq_is_named(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(20))
    sql(
        store,
        "CREATE TABLE e2 AS SELECT * FROM events",
        "DROP TABLE events",
        "ALTER TABLE e2 RENAME TO events",
        "INSERT INTO events SELECT * FROM events WHERE seq = 7",
    )
    report = store.verify()
    assert first(report, ProblemKind.INSERTED).seq == 7


def test_a_huge_seq_costs_one_row_not_an_hour(store: Store) -> None:
    import time

    sql(store, _ROW.format(seq="99999999999999", n=3))
    started = time.perf_counter()
    report = store.verify()
    store.load("acme", on_tamper="warn") if False else None
    assert time.perf_counter() - started < 30
    assert first(report, ProblemKind.INSERTED).event_id == "forged-3"


# -- 4. text moved across a column boundary --------------------------------------------------
def test_received_at_absorbing_request_id_is_named(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    events = make_events(5)
    for e in events:
        e["request_id"] = "req-1"
    store.append(events)
    sql(
        store,
        'UPDATE events SET received_at = received_at || \'","request_id":"\' || request_id, '
        "request_id = NULL WHERE tenant_id = 'acme' AND seq = 2",
    )
    report = store.verify()
    p = first(report, ProblemKind.COLUMN_MISMATCH)
    assert (p.seq, p.column) == (2, "received_at")
    with pytest.raises(TamperedError, match="seq=2"):
        store.load()
    report, frame = store.verify_and_load()
    assert frame["seq"].to_list() == [0, 1, 3, 4]


# -- 5. tree state ---------------------------------------------------------------------------
def test_a_zeroed_frontier_is_named_and_appends_refuse_cleanly(store: Store) -> None:
    sql(store, f"UPDATE tree_heads SET frontier = {blob_literal(store, bytes(64))}")
    report = store.verify()
    assert ProblemKind.TREE_MISMATCH in kinds(report)
    assert "frontier" in report.summary()
    with pytest.raises(StoreError, match="tree head is damaged"):
        store.append(make_events(3, "acme", prefix="new"))


def test_bytes_after_the_last_leaf_of_a_tile_are_named(store: Store) -> None:
    sql(
        store,
        f"UPDATE merkle_tiles SET leaves = leaves || {blob_literal(store, b'x' * 32)} "
        "WHERE tenant_id = 'globex'",
    )
    report = store.verify()
    p = first(report, ProblemKind.TREE_MISMATCH)
    assert p.tenant_id == "globex" and "tile 0" in p.detail
    with pytest.raises(StoreError, match="damaged"):
        store.append(make_events(3, "globex", prefix="new"))


def test_a_batch_with_one_damaged_tenant_stores_nothing(store: Store) -> None:
    """A batch is one transaction: the healthy tenant's events in it roll back too, so
    a retry after the repair stores the whole batch once, in its order."""
    sql(
        store,
        f"UPDATE merkle_tiles SET leaves = leaves || {blob_literal(store, b'x' * 32)} "
        "WHERE tenant_id = 'globex'",
    )
    before = {t: store.count(t) for t in ("acme", "globex")}
    batch = make_events(3, "acme", prefix="new") + make_events(3, "globex", prefix="new")
    with pytest.raises(StoreError, match="damaged"):
        store.append(batch)
    assert {t: store.count(t) for t in ("acme", "globex")} == before
    problems = store.verify().problems
    assert problems and {p.tenant_id for p in problems} == {"globex"}


# -- 6. appending with another key -----------------------------------------------------------
def test_appending_with_another_stores_key_is_refused(store: Store, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    save_private_key(generate_key(), other)
    wrong = Store.open(store.location, key=other)
    with pytest.raises(StoreError, match="not this store's key"):
        wrong.append(make_events(2, prefix="x"))
    assert store.count("acme") == 40


def test_cli_ingest_with_the_wrong_key_exits_2(store: Store, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    save_private_key(generate_key(), other)
    src = tmp_path / "e.ndjson"
    import orjson

    src.write_bytes(b"\n".join(orjson.dumps(e) for e in make_events(3, prefix="y")))
    env = {**os.environ, "AUDITKIT_KEY": str(other)}
    done = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "ingest", store.location, str(src), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not this store's key" in done.stderr and "Traceback" not in done.stderr


# -- 11. checkpoint files ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b'{"format": "auditkit-checkpoints/1"}',
        b'{"format": "auditkit-checkpoints/1", "store_id": "s", "public_key": "x"}',
        None,  # emptied: the checkpoints list is cleared
        "half",  # truncated in the middle
        "entry",  # an entry that is not an object
    ],
)
def test_damaged_checkpoint_files_are_usage_errors(
    store: Store, tmp_path: Path, content: bytes | str | None
) -> None:
    path = tmp_path / "cp.json"
    store.export_checkpoints(path)
    import orjson

    doc = orjson.loads(path.read_bytes())
    if content is None:
        doc["checkpoints"] = []
        path.write_bytes(orjson.dumps(doc))
    elif content == "half":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif content == "entry":
        doc["checkpoints"][0] = "not a checkpoint"
        path.write_bytes(orjson.dumps(doc))
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(UsageError, match=r"cp\.json"):
        store.verify(checkpoint=path)
    from auditkit.cli import main

    assert main(["verify", store.location, "--checkpoint", str(path)]) == 2


def test_a_partial_checkpoint_file_says_what_it_does_not_cover(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "cp.json"
    import orjson

    doc = store.export_checkpoints(tenants=["acme"])
    assert {c["tenant_id"] for c in doc["history"]} == {"acme"}
    assert len(doc["notes"]) == 1 and list(doc["verifier_keys"]) == ["acme"]
    path.write_bytes(orjson.dumps(doc))
    report = store.verify(checkpoint=path)
    assert report.status.value == "intact"
    assert any("globex" in n and "no checkpoint" in n for n in report.notes)


def test_a_checkpoint_file_anchors_a_store_whose_key_files_are_gone(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "cp.json"
    store.export_checkpoints(path)
    store.key_path.unlink()
    public_key_path(store.key_path).unlink()
    opened = Store.open(store.location, key=store.key_path)
    assert opened.verify().status.value == "unanchored"
    anchored = opened.verify(checkpoint=path)
    assert anchored.status.value == "intact"
    assert [a.kind.value for a in anchored.anchors] == ["checkpoint_file"]
    # a tenant deleted with all its history is named by the saved file
    sql(
        opened,
        "DELETE FROM events WHERE tenant_id = 'initech'",
        "DELETE FROM merkle_tiles WHERE tenant_id = 'initech'",
        "DELETE FROM tree_heads WHERE tenant_id = 'initech'",
        "DELETE FROM checkpoints WHERE tenant_id = 'initech'",
    )
    report = opened.verify(checkpoint=path)
    assert report.status.value == "tampered"
    assert any(p.tenant_id == "initech" for p in report.problems), report.summary()


@pytest.mark.parametrize(
    "change",
    [
        "action = CAST(action AS BLOB)",  # the same bytes, another SQL type
        "occurred_at = CAST(occurred_at AS BLOB)",  # would escape every time filter
        "outcome = 5",
        "metadata = CAST(x'7b226e223a22ff227d' AS TEXT)",  # text that is not UTF-8
        "request_id = CAST(x'ff' AS TEXT)",  # in a column signed as null (read as null)
        "occurred_at = 5",  # NUMERIC affinity keeps a number a number
        "received_at = 5.5",
        "actor_id = x'00'",
    ],
)
def test_sqlite_values_of_the_wrong_type_or_encoding_are_named(tmp_path: Path, change: str) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(10))
    sql(store, f"UPDATE events SET {change} WHERE tenant_id = 'acme' AND seq = 3")
    report = store.verify()
    assert {p.seq for p in report.problems} == {3}, report.summary()
    assert report.problems[0].kind in (ProblemKind.MALFORMED, ProblemKind.MODIFIED)
    _, frame = store.verify_and_load()
    assert 3 not in frame["seq"].to_list() and frame.height == 9
    with pytest.raises(TamperedError, match="seq=3"):
        store.load(start="2026-01-05T08:02:00Z", end="2026-01-05T08:05:00Z")


def test_pages_served_from_the_tree_cache_still_catch_edits(store: Store) -> None:
    first = store.load("acme", seqs=(10, 20))
    assert first["seq"].to_list() == list(range(10, 20))
    # the attacker rewrites a record and the tiles to match, after the tree was cached
    sql(store, "UPDATE events SET outcome = 'denied' WHERE tenant_id = 'acme' AND seq = 15")
    sql(store, f"UPDATE merkle_tiles SET leaves = {blob_literal(store, bytes(32 * 40))}")
    with pytest.raises(TamperedError, match="seq=15"):
        store.load("acme", seqs=(10, 20))
    assert store.load("acme", seqs=(20, 30))["seq"].to_list() == list(range(20, 30))
    assert store.verify().status.value == "tampered"


def test_a_forged_line_in_a_stored_value_never_reaches_the_console_as_a_line(
    store: Store, capsys: Any
) -> None:
    """An edited event id holding ``\\nINTACT: ...`` (or an escape sequence) cannot
    print a line of its own under ``verify``'s TAMPERED verdict."""
    from auditkit.cli import main

    forged = "e-acme-3\nINTACT: 55 events in 3 tenant(s) verified\x1b[2K"
    sql(store, "UPDATE events SET event_id = ? WHERE tenant_id = 'acme' AND seq = 3",
        params=(forged,))  # fmt: skip
    assert main(["verify", store.location, "--no-progress"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("TAMPERED")
    assert not any(line.startswith("INTACT") for line in lines), lines
    assert not any("\x1b" in line for line in lines)
    assert any("\\x0aINTACT" in line for line in lines)


# -- 12. a database that answers two queries differently ---------------------------------------
def test_a_page_is_complete_by_the_rows_read_not_by_a_second_query(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page (an API page, a stream window) read by seq alone must hold every seq of
    its range: a count that claims them all (a view, rule or row policy can answer a
    COUNT differently from the rows it returns) does not make a missing row present."""
    from auditkit.store._reader import TrailReader

    sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq = 5")
    # the database's answer to the range check says every seq is there
    monkeypatch.setattr(
        TrailReader,
        "seqs",
        lambda self, tenant, size, *, lo=0, hi=None: __import__("numpy").arange(
            lo, min(size, hi if hi is not None else size)
        ),
    )
    with pytest.raises(TamperedError, match="seq=5"):
        store.load("acme", seqs=(0, 20))
    with pytest.warns(UserWarning, match="seq=5"):
        frame = store.load("acme", seqs=(0, 20), on_tamper="warn")
    assert frame["seq"].to_list() == [s for s in range(20) if s != 5]
    assert first(store.last_report, ProblemKind.DELETED).seq == 5
    assert store.load("acme", seqs=(20, 40)).height == 20


def test_sqlite_view_lying_to_one_driver_cannot_hide_a_row_from_a_page(tmp_path: Path) -> None:
    """Python's sqlite3 and the ADBC driver carry their own SQLite: a view on
    ``sqlite_version()`` shows a row to one and hides it from the other."""
    import sqlite3

    import adbc_driver_sqlite.dbapi as adbc

    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(20))
    with adbc.connect(str(tmp_path / "a.db")) as conn:
        cur = conn.cursor()
        cur.execute("SELECT sqlite_version()")
        (bulk_version,) = cur.fetchone()
        cur.close()
    if bulk_version == sqlite3.sqlite_version:
        pytest.skip("both drivers run the same SQLite version")
    sql(
        store,
        "ALTER TABLE events RENAME TO events_real",
        "CREATE VIEW events AS SELECT * FROM events_real WHERE NOT (seq = 5 AND "
        f"sqlite_version() = '{bulk_version}')",
    )
    with pytest.raises(TamperedError, match="seq=5"):
        store.load("acme", seqs=(0, 10))
    assert store.verify().status.value == "tampered"


# -- 13. rows of no tenant ---------------------------------------------------------------------
_FORGED = (
    "INSERT INTO events (tenant_id, seq, event_id, occurred_at, received_at, action, category, "
    "outcome, actor_id, actor) SELECT {tenant}, 3, 'forged', occurred_at, received_at, "
    "'role.grant', category, outcome, actor_id, actor FROM events "
    "WHERE tenant_id = 'acme' AND seq = 3"
)


@pytest.mark.parametrize(
    ("tenant", "shown"),
    [
        ("CAST('acme' AS BLOB)", "(a BLOB)"),
        ("CAST(x'61636d65ff' AS TEXT)", "not UTF-8"),
        ("NULL", "NULL"),
        ("7", "(a number)"),
    ],
)
def test_sqlite_a_record_whose_tenant_id_is_not_text_is_named(
    tmp_path: Path, tenant: str, shown: str
) -> None:
    """No read of a tenant matches such a row: it hid a forged record from ``verify``."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(10))
    # a table without constraints or affinity: NULL and a number stay what they are
    cols = ", ".join(f"{c} ANY" if c == "tenant_id" else c for c in _stored_columns())
    sql(
        store,
        f"CREATE TABLE e2 ({cols}, PRIMARY KEY (tenant_id, seq))",
        "INSERT INTO e2 SELECT * FROM events",
        "DROP TABLE events",
        "ALTER TABLE e2 RENAME TO events",
        _FORGED.format(tenant=tenant),
    )
    report = store.verify()
    assert report.status.value == "tampered", report.summary()
    p = first(report, ProblemKind.MALFORMED)
    assert (p.column, p.seq, p.event_id) == ("tenant_id", 3, "forged")
    assert shown in p.detail and "events" in p.detail
    assert store.tenants() == ["acme"]
    from auditkit.cli import main

    assert main(["verify", store.location, "--no-progress"]) == 1


def _stored_columns() -> list[str]:
    from auditkit.record import STORED_COLUMNS

    return list(STORED_COLUMNS)


def test_sqlite_a_tenant_turned_into_bytes_does_not_vanish_unseen(store: Store) -> None:
    """Every row of a tenant (events, tree, checkpoints) rewritten with its tenant_id as
    a BLOB: the trail no longer answers to its name, and was not reported at all."""
    if store.backend.dialect != "sqlite":
        pytest.skip("PostgreSQL types tenant_id as text")
    sql(
        store,
        *(
            f"UPDATE {t} SET tenant_id = CAST(tenant_id AS BLOB) WHERE tenant_id = 'initech'"
            for t in ("events", "merkle_tiles", "tree_heads", "checkpoints")
        ),
    )
    report = store.verify()
    assert report.status.value == "tampered", report.summary()
    assert {p.tenant_id for p in report.problems} == {"initech"}
    assert {p.kind for p in report.problems} == {ProblemKind.MALFORMED}
    assert "initech" not in store.tenants()


def test_a_record_with_a_null_tenant_is_named(store: Store) -> None:
    pk = "events_pkey" if store.backend.dialect != "sqlite" else None
    if pk is None:
        pytest.skip("SQLite: see test_sqlite_a_record_whose_tenant_id_is_not_text_is_named")
    sql(
        store,
        f"ALTER TABLE events DROP CONSTRAINT {pk}",
        "ALTER TABLE events ALTER COLUMN tenant_id DROP NOT NULL",
        _FORGED.format(tenant="NULL"),
    )
    report = store.verify()
    p = first(report, ProblemKind.MALFORMED)
    assert (p.column, p.event_id, p.tenant_id) == ("tenant_id", "forged", "")
    _, frame = store.verify_and_load()
    assert "forged" not in frame["event_id"].to_list()


# -- 14. what a verdict could not see is said with it ------------------------------------------
def test_a_planted_public_key_beside_the_store_is_said_to_be_the_only_anchor(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key lives elsewhere (AUDITKIT_KEY); whoever can write the store's folder
    plants ``STORE.pub`` of their own key and re-signs the trail.  An auditor verifying
    without the key gets INTACT from that file alone: the output must say that only a
    file beside the store vouched for the key, and that rollback was not checked."""
    from auditkit.cli import main

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    monkeypatch.setenv("AUDITKIT_KEY", str(secrets / "audit.key"))
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(10))
    assert not (tmp_path / "a.db.pub").exists()
    monkeypatch.delenv("AUDITKIT_KEY")
    key = _resign_all_tenants(store)
    (tmp_path / "a.db.pub").write_text(public_key_pem(key.public_key()))
    assert main(["verify", store.location, "--no-progress"]) == 0  # the limitation...
    out = capsys.readouterr().out
    assert out.startswith("INTACT")
    # ...said plainly with the verdict
    assert "not checked: the key is vouched for only by files beside the store (a.db.pub)" in out
    assert "not checked: no checkpoint saved outside the store" in out
    # the real public key, pinned elsewhere, exposes the forgery
    real = secrets / "audit.pub"
    assert main(["verify", store.location, "--no-progress", "--public-key", str(real)]) == 1
    capsys.readouterr()
    import orjson

    # the first verify remembered this store: its checkpoints now anchor the second
    # (rollback is checked), but the memory is no stronger than the file it saw
    assert main(["verify", store.location, "--no-progress", "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert len(doc["unchecked"]) == 1 and "as this machine first saw them" in doc["unchecked"][0]
    # without the memory, as Store.verify() reads it
    assert main(["verify", store.location, "--no-progress", "--json", "--no-remember"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert len(doc["unchecked"]) == 2
    # the same limits in the report itself, for scripts that verify from Python
    report = Store.open(store.location).verify()
    assert report.unchecked == tuple(doc["unchecked"])
    assert report.to_dict()["unchecked"] == doc["unchecked"]


def test_a_checkpoint_file_and_a_key_kept_apart_leave_nothing_unsaid(
    store: Store, tmp_path: Path, capsys: Any
) -> None:
    from auditkit.cli import main

    cp = tmp_path / "cp.json"
    store.export_checkpoints(cp)
    assert main(["verify", store.location, "--no-progress", "--checkpoint", str(cp)]) == 0
    assert "not checked" not in capsys.readouterr().out


# -- 15. the schema itself ---------------------------------------------------------------------
def test_sqlite_an_index_redeclared_after_it_was_built_is_named(tmp_path: Path) -> None:
    """An index built ``WHERE seq < 50`` and redeclared without the ``WHERE`` (``PRAGMA
    writable_schema``) disagrees with its table: the planner sends the search for rows
    past the signed tree through it, and a forged row at seq 100 went unseen."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(10))
    sql(
        store,
        _ROW.format(seq=100, n=9),
        "CREATE INDEX zz ON events (tenant_id, seq) WHERE seq < 50",
        "PRAGMA writable_schema = ON",
        "UPDATE sqlite_master SET sql = 'CREATE INDEX zz ON events (tenant_id, seq)' "
        "WHERE name = 'zz'",
    )
    report = Store.open(store.location).verify()
    assert report.status.value == "tampered", report.summary()
    p = first(report, ProblemKind.SCHEMA_CHANGED)
    assert "zz" in p.detail and "events" in p.detail


def test_sqlite_an_index_named_as_sqlite_names_its_own_is_named(tmp_path: Path) -> None:
    """SQLite's indexes of a table's constraints (``sqlite_autoindex_*``) are declared by
    no statement, and verify passes over them; a partial index renamed so (``PRAGMA
    writable_schema``) hid a failure from the API's pages of failures."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(30))  # failures at seqs 3, 10, 17, 24
    declared = (
        "CREATE INDEX sqlite_autoindex_events_9 ON events (tenant_id, seq) "
        "WHERE outcome <> 'success'"
    )
    sql(
        store,
        "CREATE INDEX zz ON events (tenant_id, seq) WHERE outcome <> 'success' AND seq <> 10",
        drop_triggers=False,
    )
    sql(
        store,
        "PRAGMA writable_schema = ON",
        "UPDATE sqlite_master SET name = 'sqlite_autoindex_events_9', "
        f"sql = '{declared.replace(chr(39), chr(39) * 2)}' WHERE name = 'zz'",
        drop_triggers=False,
    )
    report = Store.open(store.location).verify()
    assert report.status.value == "tampered", report.summary()
    p = first(report, ProblemKind.SCHEMA_CHANGED)
    assert "sqlite_autoindex_events_9" in p.detail and "made by a statement" in p.detail


def test_sqlite_an_index_edited_apart_from_its_table_is_named(tmp_path: Path) -> None:
    """The index of unsuccessful events keeps its declaration while its content loses a
    failure: its row in ``sqlite_master`` is hidden while the table changes, then put
    back.  Every stored byte still matches the tree, and a page of failures found
    through the index no longer shows that one; verify names the index."""
    import sqlite3

    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(30))  # failures at seqs 3, 10, 17, 24
    assert store.path is not None
    db = sqlite3.connect(store.path)
    name, table, root, text = db.execute(
        "SELECT name, tbl_name, rootpage, sql FROM sqlite_master WHERE name = 'ix_events_unusual'"
    ).fetchone()
    db.close()
    hide = "UPDATE events SET outcome = '{}' WHERE seq = 24"
    sql(store, hide.format("success"))  # the index drops the entry
    sql(store, "PRAGMA writable_schema = ON", f"DELETE FROM sqlite_master WHERE name = '{name}'")
    sql(store, hide.format("failure"))  # the table is itself again; the index is not kept
    sql(
        store,
        "PRAGMA writable_schema = ON",
        f"INSERT INTO sqlite_master VALUES ('index', '{name}', '{table}', {root}, "
        f"'{text.replace(chr(39), chr(39) * 2)}')",
    )
    reopened = Store.open(store.location)
    page = reopened.json_page("acme", match={"outcome": ["failure"]}, order="desc", limit=10)
    assert page is not None and len(page.events) == 3  # the attack works on the index
    report = reopened.verify()
    assert report.status.value == "tampered", report.summary()
    p = first(report, ProblemKind.SCHEMA_CHANGED)
    assert "ix_events_unusual" in p.detail and "lacks 1 event" in p.detail


def test_sqlite_a_view_in_place_of_the_events_table_is_named(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(10))
    sql(
        store,
        "ALTER TABLE events RENAME TO events_real",
        "CREATE VIEW events AS SELECT * FROM events_real",
    )
    report = store.verify()
    assert first(report, ProblemKind.SCHEMA_CHANGED).detail.startswith("events is a view")


def _redefine(store: Store, table: str, old: str, new: str) -> None:
    """Rewrite a table's CREATE TABLE in ``sqlite_master`` (``PRAGMA writable_schema``),
    its rows untouched."""
    import sqlite3

    assert store.path is not None
    db = sqlite3.connect(store.path)
    (text,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    db.close()
    assert old in text
    db = sqlite3.connect(store.path)
    db.execute("PRAGMA writable_schema = ON")
    db.execute(
        "UPDATE sqlite_master SET sql = ? WHERE name = ?", (text.replace(old, new, 1), table)
    )
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("table", "old", "new", "named"),
    [
        # tenant 'acme' then also matches 'ACME' and 'Acme' in every read
        ("events", "tenant_id VARCHAR(512) NOT NULL", "tenant_id VARCHAR(512) NOT NULL "
         "COLLATE NOCASE", "adds COLLATE NOCASE"),
        # an integer seq compares below every text one: ranges of seq change meaning
        ("events", "seq BIGINT NOT NULL", "seq TEXT NOT NULL",
         "column seq: type affinity 'TEXT', not 'INTEGER'"),
        ("events", "outcome VARCHAR NOT NULL", "outcome VARCHAR", "column outcome: not null"),
        ("checkpoints", "tenant_id VARCHAR(512) NOT NULL", "tenant_id VARCHAR(512) NOT NULL "
         "COLLATE RTRIM", "adds COLLATE RTRIM"),
        ("merkle_tiles", "leaves BLOB NOT NULL", "leaves BLOB NOT NULL CHECK (1)", "adds CHECK"),
    ],
)  # fmt: skip
def test_sqlite_a_trail_table_redefined_after_it_was_built_is_named(
    tmp_path: Path, table: str, old: str, new: str, named: str
) -> None:
    """A table's definition rewritten in ``sqlite_master``: the rows stay as they were,
    but how SQLite compares them (a collation, a type's affinity) changes every read.
    Verify names the table and what changed, before any consequence."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(10))
    store.append(make_events(3, "ACME"))
    _redefine(store, table, old, new)
    report = Store.open(store.location).verify()
    assert report.status.value == "tampered", report.summary()
    p = report.problems[0]
    assert p.kind is ProblemKind.SCHEMA_CHANGED
    assert p.detail.startswith(f"{table} is not defined as the store made it"), p.detail
    assert named in p.detail, p.detail


def test_sqlite_a_trigger_the_store_did_not_make_is_named(tmp_path: Path) -> None:
    """A trigger planted on the events table runs inside every append of the store
    (here it copies each actor out of the trail)."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(5))
    sql(
        store,
        "CREATE TABLE loot (actor TEXT)",
        "CREATE TRIGGER spy AFTER INSERT ON events BEGIN INSERT INTO loot VALUES (new.actor); END",
        drop_triggers=False,
    )
    report = Store.open(store.location).verify()
    assert report.status.value == "tampered", report.summary()
    p = first(report, ProblemKind.SCHEMA_CHANGED)
    assert p.detail.startswith("spy is a trigger on events that the store did not make")


@pytest.mark.parametrize(
    "trigger",
    [
        # puts a revoked token back as the revocation is written (its old signature too)
        "AFTER UPDATE ON access_tokens WHEN NEW.revoked_at IS NOT NULL BEGIN UPDATE "
        "access_tokens SET revoked_at = NULL, signature = OLD.signature WHERE token_id = "
        "NEW.token_id; END",
        # re-inserts a revoked grant
        "AFTER DELETE ON access_grants BEGIN INSERT INTO access_grants SELECT OLD.*; END",
        # keeps the signed manifest as it was (no revocation, no new tenant)
        "AFTER UPDATE ON store_meta BEGIN UPDATE store_meta SET value = OLD.value "
        "WHERE key = NEW.key; END",
        # drops refused input before it is sealed
        "BEFORE INSERT ON quarantine BEGIN SELECT RAISE(IGNORE); END",
    ],
    ids=["token", "grant", "manifest", "quarantine"],
)
def test_sqlite_a_trigger_outside_the_trail_is_named(tmp_path: Path, trigger: str) -> None:
    """A trigger on the tables beside the trail runs inside the store's own writes as
    well: it can undo a revocation, or rewrite refused input before it is sealed, and
    the rows it leaves verify.  Verify names it before anything it did."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(5))
    sql(store, f"CREATE TRIGGER keep {trigger}", drop_triggers=False)
    report = Store.open(store.location).verify()
    assert report.status.value == "tampered", report.summary()
    p = first(report, ProblemKind.SCHEMA_CHANGED)
    table = trigger.split(" ON ")[1].split()[0]
    assert p.detail.startswith(f"keep is a trigger on {table} that the store did not make")


def test_sqlite_a_removed_guard_is_a_note_not_a_verdict(tmp_path: Path) -> None:
    """Dropping the triggers that refuse UPDATE and DELETE changes no record: the
    verdict stays on the records (intact here, tampered once one is edited), and a
    note says that the guard is gone."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(5))
    sql(store, "DROP TRIGGER events_no_update", drop_triggers=False)
    report = Store.open(store.location).verify()
    assert report.status.value == "intact", report.summary()
    assert any("events_no_update" in n and "gone" in n for n in report.notes)
    sql(store, "UPDATE events SET action = 'user.logout' WHERE seq = 2", drop_triggers=False)
    report = Store.open(store.location).verify()
    assert report.status.value == "tampered"
    assert first(report, ProblemKind.MODIFIED).seq == 2


def test_sqlite_a_table_spelled_differently_with_the_same_meaning_is_not_accused(
    tmp_path: Path,
) -> None:
    """Stores made by earlier versions declared ``seq INTEGER`` where this one says
    ``BIGINT``; SQLAlchemy versions spell lengths and whitespace differently.  Types
    of the same affinity mean the same to SQLite: such a store verifies intact."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(5))
    _redefine(store, "events", "seq BIGINT NOT NULL", "seq  INTEGER  NOT NULL")
    _redefine(store, "events", "event_id VARCHAR(512)", "event_id VARCHAR(255)")
    _redefine(store, "merkle_tiles", "tile BIGINT NOT NULL", "tile INTEGER NOT NULL")
    report = Store.open(store.location).verify()
    assert report.status.value == "intact", report.summary()


def test_sqlite_a_store_trigger_is_judged_by_what_it_does_not_its_message(
    tmp_path: Path,
) -> None:
    """Earlier versions gave the same guard another message: still the store's. A
    trigger that keeps a guard's name but does something else is named."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(5))
    sql(
        store,
        "DROP TRIGGER checkpoints_no_delete",
        "CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints "
        "BEGIN SELECT RAISE(ABORT, 'an older message'); END",
        drop_triggers=False,
    )
    assert Store.open(store.location).verify().status.value == "intact"
    sql(
        store,
        "DROP TRIGGER events_no_update",
        "CREATE TABLE loot (actor TEXT)",
        "CREATE TRIGGER events_no_update AFTER INSERT ON events "
        "BEGIN INSERT INTO loot VALUES (new.actor); END",
        drop_triggers=False,
    )
    report = Store.open(store.location).verify()
    assert report.status.value == "tampered", report.summary()
    assert first(report, ProblemKind.SCHEMA_CHANGED).detail.startswith("events_no_update is a")


# -- store_meta: the database's own record of the key ---------------------------------------
@pytest.mark.parametrize(
    ("statement", "said"),
    [
        ("UPDATE store_meta SET value = 'x' WHERE key = 'public_key'", "damaged"),
        (
            "UPDATE store_meta SET value = '-----BEGIN PUBLIC KEY-----\nAAAA\n"
            "-----END PUBLIC KEY-----' WHERE key = 'public_key'",
            "damaged",
        ),
        ("DELETE FROM store_meta WHERE key = 'public_key'", "missing"),
        ("UPDATE store_meta SET value = 'abc' WHERE key = 'key_id'", "key id recorded"),
    ],
)
def test_a_damaged_or_removed_key_record_in_store_meta_is_named(
    store: Store, statement: str, said: str
) -> None:
    sql(store, statement)
    report = Store.open(store.location, key=store.key_path).verify()
    assert report.status.value == "tampered"
    assert kinds(report) == {ProblemKind.WRONG_KEY}
    assert said in report.problems[0].detail


def test_a_key_record_naming_a_file_is_never_read(store: Store, tmp_path: Path) -> None:
    """A value of the database is text, not a path to read (naming a FIFO or /dev/zero
    would hang the read): a path to a file holding a key is a damaged record."""
    planted = tmp_path / "their.pub"
    planted.write_text(public_key_pem(generate_key().public_key()))
    sql(store, "UPDATE store_meta SET value = ? WHERE key = 'public_key'", params=(str(planted),))
    report = Store.open(store.location, key=store.key_path).verify()
    assert kinds(report) == {ProblemKind.WRONG_KEY}
    assert "damaged" in report.problems[0].detail


@pytest.mark.parametrize("seq", [15, 10, 19])  # inside the window, its first, its last
def test_an_event_moved_out_of_a_time_window_is_named(store: Store, seq: int) -> None:
    """A time-ranged read selects rows by their stored time: one whose time was edited
    out of the window would simply not be read, and the read called verified.  The
    rows among the read's seqs (and beside them) whose time is outside are verified
    too; an event that arrived late (a genuine old time) is not accused."""
    store.append(make_events(30, "timed", step_s=3600))  # one an hour from 08:00
    store.append(make_events(1, "timed", start="2026-01-01T00:00:00Z", prefix="late"))
    window = {"start": "2026-01-05T18:00:00Z", "end": "2026-01-06T04:00:00Z"}  # seqs 10..19
    assert store.load("timed", **window).height == 10
    sql(
        store,
        "UPDATE events SET occurred_at = '2019-01-01T00:00:00.000000Z' "
        f"WHERE tenant_id = 'timed' AND seq = {seq}",
    )
    with pytest.raises(TamperedError, match=f"seq={seq}"):
        store.load("timed", **window)
    with pytest.raises(TamperedError, match=f"seq={seq}"):
        list(store.iter_verified("timed", **window))


def test_a_late_event_inside_a_window_s_seqs_is_not_accused(store: Store) -> None:
    store.append(make_events(10, "timed", step_s=3600))
    store.append(make_events(1, "timed", start="2026-01-01T00:00:00Z", prefix="late"))  # seq 10
    store.append(make_events(5, "timed", start="2026-01-05T18:00:00Z", step_s=3600, prefix="n"))
    window = {"start": "2026-01-05T09:00:00Z", "end": "2026-01-06T00:00:00Z"}
    frame = store.load("timed", **window)
    assert 10 not in frame["seq"].to_list() and frame.height == 14
    assert store.last_report is not None and store.last_report.ok
