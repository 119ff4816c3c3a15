"""An attacker who can write the database but lacks the key moves a stream cursor so
that the sender skips his events and the SIEM never sees them: the sender must stop
and name the cursor instead, and the owner must be able to set it right."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from auditkit.cli import main
from auditkit.errors import StoreError
from auditkit.store import Store
from tests.conftest import make_events
from tests.store._attacker import sql


@pytest.fixture
def store(store_location: str) -> Store:
    s = Store.init(store_location)
    s.append(make_events(30) + make_events(12, "globex"))
    return s


def folder(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "outbox"
    path = tmp_path / "stream.toml"
    path.write_text(f'[destinations.siem]\ntype = "folder"\npath = "{out}"\nbatch_size = 10\n')
    return path, out


def run(store: Store, path: Path, *extra: str) -> int:
    return main(["stream", store.location, "--to", "siem", "--config", str(path), "--once",
                 "--no-progress", *extra])  # fmt: skip


def sent(out: Path) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = {}
    for f in sorted(out.glob("*/*.batch.json")):
        head = orjson.loads(f.read_bytes())
        seqs.setdefault(head["tenant_id"], []).extend(range(head["first_seq"], head["end_seq"]))
    return {t: sorted(v) for t, v in seqs.items()}


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE stream_cursors SET next_seq = 25 WHERE tenant_id = 'acme'",
        "INSERT INTO stream_cursors (destination, tenant_id, next_seq, updated_at) "
        "VALUES ('siem', 'globex', 12, '2026-12-01T00:00:00.000000Z')",
        # a valid signature of another destination's cursor, copied
        "INSERT INTO stream_cursors (destination, tenant_id, next_seq, updated_at, signature) "
        "SELECT 'siem', tenant_id, 30, updated_at, signature FROM stream_cursors "
        "WHERE destination = 'other'",
    ],
)
def test_a_cursor_moved_in_the_database_stops_the_sender(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str
) -> None:
    path, out = folder(tmp_path)
    store.advance_stream_cursor("siem", "acme", 10)  # 10 acknowledged so far
    store.advance_stream_cursor("other", "acme", 30)
    store.append(make_events(5, "acme", prefix="evil"))  # what the attacker hides
    if "globex" in edit:
        sql(store, "DELETE FROM stream_cursors WHERE tenant_id = 'globex'")
    if "SELECT" in edit:
        sql(store, "DELETE FROM stream_cursors WHERE destination = 'siem'")
    sql(store, edit)
    with pytest.raises(StoreError, match="not signed by the store's key"):
        store.stream_cursors("siem")
    assert run(store, path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--reset-cursor" in err and "siem" in err
    assert sent(out) == {}  # nothing sent from the forged position
    # the owner checks what the destination has, and sets the cursor there
    tenant = "globex" if "globex" in edit else "acme"
    assert run(store, path, "--tenant", tenant, "--reset-cursor", "0") == 0
    assert sent(out)[tenant] == list(range(35 if tenant == "acme" else 12))


def test_a_cursor_set_back_to_an_older_signed_value_only_resends(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Putting back a signed row saved earlier rewinds: events are sent twice (the
    delivery is at least once anyway), none is skipped."""
    path, out = folder(tmp_path)
    store.advance_stream_cursor("siem", "acme", 20)
    with store.backend.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT * FROM stream_cursors WHERE tenant_id = 'acme'")
        saved = tuple(cur.fetchone())
        cur.close()
        if store.backend.dialect != "sqlite":
            conn.rollback()
    store.reset_stream_cursor("siem", "acme", 0)
    assert run(store, path) == 0
    assert store.stream_cursors("siem") == {"acme": 30, "globex": 12}
    sql(store, "DELETE FROM stream_cursors WHERE tenant_id = 'acme'")
    sql(store, "INSERT INTO stream_cursors VALUES (?, ?, ?, ?, ?)", params=saved)
    capsys.readouterr()
    assert run(store, path) == 0
    assert "sent 10 events" in capsys.readouterr().out
    assert sent(out) == {"acme": list(range(30)), "globex": list(range(12))}


def test_the_sender_needs_the_key_to_move_a_cursor(store: Store, tmp_path: Path) -> None:
    keyless = Store.open(store.location, key=str(tmp_path / "no.key"))
    with pytest.raises(StoreError, match="signing key"):
        keyless.advance_stream_cursor("siem", "acme", 3)
    path, _ = folder(tmp_path)
    assert main(["stream", store.location, "--key", str(tmp_path / "no.key"), "--to", "siem",
                 "--config", str(path), "--once", "--no-progress"]) == 2  # fmt: skip


def test_reset_cursor_needs_tenants(store: Store, tmp_path: Path) -> None:
    path, _ = folder(tmp_path)
    assert run(store, path, "--reset-cursor", "0") == 2


def test_a_cursor_table_made_before_cursors_were_signed(store: Store, tmp_path: Path) -> None:
    """An upgraded store: the column is added, and the old unsigned cursor must be set
    by its owner before the sender trusts it."""
    sql(
        store,
        "CREATE TABLE stream_cursors (destination VARCHAR(200) NOT NULL, tenant_id "
        "VARCHAR(512) NOT NULL, next_seq BIGINT NOT NULL, updated_at VARCHAR(40) NOT NULL, "
        "PRIMARY KEY (destination, tenant_id))",
        "INSERT INTO stream_cursors VALUES ('siem', 'acme', 30, '2026-12-01T00:00:00.000000Z')",
    )
    fresh = Store.open(store.location)
    with pytest.raises(StoreError, match="tenant 'acme' at seq 30"):
        fresh.stream_cursors("siem")
    assert fresh.reset_stream_cursor("siem", "acme", 30) == 30
    assert fresh.stream_cursors("siem") == {"acme": 30}


def test_a_principal_needs_manage_to_reset_a_cursor(store: Store) -> None:
    from auditkit.errors import AccessDenied

    store.add_principal("ann")
    store.grant("ann", "acme", "analyst")  # export, not manage
    ann = store.bind(principal="ann")
    ann.advance_stream_cursor("siem", "acme", 5)  # what a sender does
    with pytest.raises(AccessDenied, match="manage"):
        ann.reset_stream_cursor("siem", "acme", 0)
    store.grant("ann", "acme", "admin")
    assert ann.reset_stream_cursor("siem", "acme", 0) == 0
