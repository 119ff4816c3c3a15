"""The store on both backends: append, dedupe, load, proofs, triggers."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import polars as pl
import pytest

from auditkit import FRAME_SCHEMA, SchemaError, Store, StoreError, TamperedError
from auditkit.errors import IntegrityError, UsageError
from auditkit.frame import events_to_frame
from tests.conftest import make_events


def test_append_assigns_gapless_seq_per_tenant(store_location: str) -> None:
    store = Store.init(store_location)
    res = store.append(make_events(30, "acme") + make_events(12, "globex"), batch_size=7)
    assert (res.stored, res.duplicates) == (42, 0)
    assert store.tenants() == ["acme", "globex"]
    frame = store.load("acme")
    assert frame.get_column("seq").to_list() == list(range(30))
    assert store.load("globex").height == 12
    assert store.verify().ok


def test_reingest_is_idempotent(store_location: str) -> None:
    store = Store.init(store_location)
    store.append(make_events(20))
    again = store.append(make_events(25))
    assert (again.stored, again.duplicates) == (5, 20)
    assert store.count("acme") == 25
    # duplicates inside one batch are skipped too
    dup = store.append(make_events(3, prefix="d") * 2)
    assert (dup.stored, dup.duplicates) == (3, 3)


def test_same_event_id_in_two_tenants_is_two_events(store_location: str) -> None:
    store = Store.init(store_location)
    a = make_events(1, "acme")[0]
    b = {**a, "tenant_id": "globex"}
    assert store.append([a, b]).stored == 2


def test_load_equals_input_and_matches_frame_schema(store_location: str) -> None:
    store = Store.init(store_location)
    evs = make_events(15)
    store.append(evs)
    frame = store.load("acme")
    assert frame.schema == FRAME_SCHEMA
    expected = events_to_frame(evs)
    cols = [c for c in FRAME_SCHEMA if c != "received_at"]
    assert frame.select(cols).equals(expected.select(cols))
    assert store.last_report is not None and store.last_report.ok
    assert frame.to_pandas().shape == (15, len(FRAME_SCHEMA))


def test_load_time_range_and_columns(store_location: str) -> None:
    store = Store.init(store_location)
    store.append(make_events(60, step_s=3600))
    part = store.load(
        "acme",
        start="2026-01-05T10:00:00Z",
        end="2026-01-05T20:00:00Z",
        columns=["seq", "occurred_at", "action"],
    )
    assert part.columns == ["seq", "occurred_at", "action"]
    assert part.get_column("seq").to_list() == list(range(2, 12))
    with pytest.raises(Exception, match="unknown column"):
        store.load("acme", columns=["nope"])


def test_unknown_tenant_is_an_error_that_names_no_other_tenant(store_location: str) -> None:
    store = Store.init(store_location)
    store.append(make_events(3))
    store.append(make_events(2, "globex"))
    for call in (
        lambda: store.load("nobody"),
        lambda: store.scan("nobody"),
        lambda: store.verify("nobody"),
        lambda: store.verify_and_load(["acme", "nobody"]),
        lambda: store.count("nobody"),
        lambda: store.inclusion_proof("nobody", 0),
    ):
        with pytest.raises(UsageError, match="unknown tenant 'nobody'") as err:
            call()
        assert "globex" not in str(err.value) and "acme" not in str(err.value)
    assert store.load("acme").schema == FRAME_SCHEMA


def test_inclusion_and_consistency_proofs_verify_offline(store_location: str) -> None:
    store = Store.init(store_location)
    store.append(make_events(10))
    old = store.latest_checkpoints()["acme"]
    store.append(make_events(37)[10:])
    proof = store.inclusion_proof("acme", 23)
    proof.verify(store.trusted_public_key()[0])
    by_id = store.inclusion_proof("acme", event_id="e-acme-5")
    assert by_id.seq == 5
    cons = store.consistency_proof("acme", old.tree_size)
    cons.verify(old_root=old.root_hash, new_root=store.latest_checkpoints()["acme"].root_hash)
    bad = proof.__class__(**{**proof.__dict__, "canonical": proof.canonical.replace("e-", "x-")})
    with pytest.raises(IntegrityError):
        bad.verify()
    with pytest.raises(IntegrityError):
        cons.verify(old_root="00" * 32)


def test_database_refuses_update_and_delete(store_location: str) -> None:
    store = Store.init(store_location)
    store.append(make_events(3))
    with store.backend.connect() as conn:
        cur = conn.cursor()
        for stmt in (
            "UPDATE events SET action = 'x.y' WHERE seq = 1",
            "DELETE FROM events WHERE seq = 1",
            "DELETE FROM checkpoints",
        ):
            with pytest.raises(Exception, match="auditkit: "):
                cur.execute(stmt)
            conn.rollback()
    assert store.verify().ok


def test_invalid_event_raises_schema_error(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    bad = make_events(1)[0] | {"outcome": "maybe"}
    with pytest.raises(SchemaError, match="outcome"):
        store.append([bad])
    assert store.count() == 0


def test_init_refuses_existing_store_and_key(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    Store.init(path)
    with pytest.raises(StoreError, match="already exists"):
        Store.init(path)
    with pytest.raises(StoreError, match="no store here"):
        Store.open(str(tmp_path / "missing.db"))


def test_init_and_open_take_a_pathlib_path(tmp_path: Path) -> None:
    # a data team's script passes Path objects; both raised TypeError from deep inside
    path = tmp_path / "audit.db"
    Store.init(path).append(make_events(2))
    assert Store.open(path).load().height == 2
    assert (tmp_path / "audit.db.key").is_file()
    with pytest.raises(StoreError, match="already exists"):
        Store.init(path)
    with pytest.raises(StoreError, match="no store here"):
        Store.open(tmp_path / "missing.db")


def test_append_without_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    Store.init(str(path))
    Path(str(path) + ".key").rename(tmp_path / "elsewhere.key")
    store = Store.open(str(path))
    with pytest.raises(StoreError, match="signing key not found"):
        store.append(make_events(1))
    assert Store.open(str(path), key=tmp_path / "elsewhere.key").append(make_events(1)).stored == 1


def _writer(location: str, key: str, prefix: str, n: int) -> None:
    store = Store.open(location, key=key)
    for i in range(0, n, 25):
        store.append(make_events(n, prefix=prefix)[i : i + 25])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("pg", marks=pytest.mark.postgres)])
def test_two_concurrent_writers_keep_seq_gapless(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    location = str(tmp_path / "a.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    key = str(tmp_path / "k.key")
    Store.init(location, key=key)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(location, key, p, 200)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = Store.open(location, key=key)
    frame = store.load("acme")
    assert frame.get_column("seq").to_list() == list(range(400))
    assert frame.get_column("event_id").n_unique() == 400
    assert store.verify().ok
    assert isinstance(frame, pl.DataFrame)


@pytest.mark.postgres
def test_a_postgresql_handle_dropped_without_close_closes_its_connections(
    pg_url: str, tmp_path: Path
) -> None:
    """The engine's pooled connections are closed when the handle goes, not left to the
    garbage collector: psycopg's warning then fired in whichever test ran at that
    moment (a failure under ``-W error``, seen once in CI's full run)."""
    import gc
    import warnings

    key = str(tmp_path / "k.key")
    Store.init(pg_url, key=key)
    store = Store.open(pg_url, key=key)
    store.append(make_events(3))
    assert store.load().height == 3 and store.verify().ok
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del store
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_scan_verifies_into_parquet_and_matches_load(store_location: str, tmp_path: Path) -> None:
    store = Store.init(store_location)
    store.append(make_events(30) + make_events(7, "globex"))
    lazy = store.scan(folder=tmp_path / "scan")
    assert isinstance(lazy, pl.LazyFrame)
    scanned = lazy.collect().sort("tenant_id", "seq")
    assert scanned.equals(store.load().sort("tenant_id", "seq"))
    assert store.last_report is not None and store.last_report.ok
    assert store.scan("globex").select(pl.len()).collect().item() == 7


def test_init_and_open_refuse_what_is_not_a_store_with_plain_messages(tmp_path: Path) -> None:
    import sqlite3

    from auditkit.errors import StoreError

    foreign = tmp_path / "app.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    cases = [
        (lambda: Store.init(str(foreign)), "already holds other tables (users)"),
        (lambda: Store.open(str(foreign)), "not an auditkit store"),
        (lambda: Store.init(str(tmp_path)), "is a folder"),
        (lambda: Store.open(str(tmp_path)), "is a folder"),
    ]
    junk = tmp_path / "notes.txt"
    junk.write_text("hello, this is not a database\n" * 10)
    cases.append((lambda: Store.open(str(junk)), "not a SQLite database"))
    for call, expected in cases:
        with pytest.raises(StoreError) as err:
            call()
        text = str(err.value)
        assert expected in text, text
        assert "SQL:" not in text and "sqlalche.me" not in text and "\n" not in text
    assert foreign.stat().st_size > 0 and not (tmp_path / "app.db.key").exists()


def test_match_narrows_in_the_database_and_proves_what_it_returns(store_location: str) -> None:
    from tests.store._attacker import sql

    store = Store.init(store_location)
    store.append(make_events(50))
    frame = store.load("acme", match={"action": ["role.grant"], "outcome": "success"})
    assert set(frame["action"]) == {"role.grant"} and frame.height == 8
    assert store.last_report is not None and store.last_report.ok
    sql(store, "UPDATE events SET description = 'x' WHERE tenant_id = 'acme' AND seq = 13")
    with pytest.raises(TamperedError, match="seq=13"):
        store.load("acme", match={"action": "role.grant"})
    with pytest.raises(UsageError, match="match"):
        store.load("acme", match={"metadata": "x"})


def test_append_prepared_names_the_events_the_trail_held_already(tmp_path: Path) -> None:
    from auditkit.record import prepare_event
    from auditkit.schema import normalize_event

    store = Store.init(str(tmp_path / "a.db"))

    def ev(tenant: str, eid: str) -> object:
        return prepare_event(normalize_event({
            "tenant_id": tenant, "event_id": eid, "occurred_at": "2026-01-05T09:00:00Z",
            "action": "user.login", "actor": {"id": "u1"},
        }))  # fmt: skip

    store.append_prepared([ev("acme", "e1"), ev("globex", "e1")])
    held: set[tuple[str, str]] = set()
    batch = [ev("acme", "e1"), ev("acme", "e2"), ev("acme", "e2"), ev("globex", "e3")]
    done = store.append_prepared(batch, duplicates=held)  # type: ignore[arg-type]
    assert (done.stored, done.duplicates) == (2, 2)
    assert held == {("acme", "e1")}  # the repeat of e2 in the batch was not held before


def test_trust_is_read_again_when_a_key_file_changes(tmp_path: Path) -> None:
    """Every API request asks for the store's trust; it is kept while the key files are
    the same files, and read again the moment one is replaced or removed."""
    store = Store.init(str(tmp_path / "a.db"))
    first = store.trust()
    assert store.trust() is first  # the same files: not read again
    bound = store.bind(principal=store.add_principal("ann").id)
    assert bound.trust() is first  # a principal's handle shares it
    other = Store.init(str(tmp_path / "b.db"))
    pub = store.public_key_path
    pub.write_bytes(other.public_key_path.read_bytes())  # someone swaps the public key
    swapped = store.trust()
    assert swapped is not first and swapped.problems != first.problems
    pub.unlink()
    assert store.trust() is not swapped


def test_a_bulk_write_holds_a_large_page_cache_only_for_its_transaction(tmp_path: Path) -> None:
    """Ingest batches write with a large SQLite cache; a connection kept afterwards (the
    API server keeps some) must not go on holding it, nor must a failed batch."""
    from auditkit.store._backend import BULK_CACHE_KIB

    store = Store.init(str(tmp_path / "a.db"))
    store.keep_connections(1)
    backend = store.backend
    with backend.connect() as conn:
        before = conn.execute("PRAGMA cache_size").fetchone()[0]
        with backend.write_transaction(conn, bulk=True) as cur:
            cur.execute("PRAGMA cache_size")
            assert cur.fetchone()[0] == -BULK_CACHE_KIB
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == before
        with pytest.raises(RuntimeError), backend.write_transaction(conn, bulk=True):
            raise RuntimeError("a batch that fails")
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == before
        assert not conn.in_transaction
    store.keep_connections(0)
