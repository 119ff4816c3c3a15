"""Attacks on what ``auditkit verify`` remembers, by someone who can write the database
and the files beside the store (the key file there included), but not this machine's
``$AUDITKIT_HOME``: each must be named by the next verify, never pass as intact."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.commands._remember import remembered_path
from auditkit.store import Store
from tests.cli.test_remember import _copy, _grow, _restore, kinds, verify


def _set_store_id(db: str, store_id: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE store_meta SET value = ? WHERE key = 'store_id'", (store_id,))


def test_a_rolled_back_store_with_its_store_id_changed_is_still_met_by_the_memory(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    """The memory was found by the store id, which is in the database: an old copy with
    another id was a first look, so the rollback was not named."""
    db = store_factory()
    _copy(db, tmp_path / "old.db")
    _grow(db, tmp_path)
    assert verify(db)[0] == 0
    _restore(tmp_path / "old.db", db)
    _set_store_id(db, "11111111-2222-4333-8444-555555555555")
    code, doc = verify(db)
    assert code == 1 and "wrong_store" in kinds(doc)


def test_another_store_put_in_its_place_with_its_own_key_files_is_named(
    store_factory: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole folder replaced: a new store (new id, new key files beside it) holding
    the events the attacker chose.  Consistent with the files beside it, so only the
    memory can name it; a store made there on purpose is accepted with --forget."""
    db = store_factory()
    assert verify(db)[0] == 0
    for suffix in ("", "-wal", "-shm", ".key", ".pub"):
        Path(db + suffix).unlink(missing_ok=True)
    shutil.rmtree(db + ".cold", ignore_errors=True)
    # made on the attacker's machine (auditkit init on this one forgets on purpose)
    # and copied in with its key files
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    theirs = str(elsewhere / "audit.db")
    Store.init(theirs)
    _grow(theirs, tmp_path)
    for suffix in ("", ".key", ".pub"):
        shutil.copyfile(theirs + suffix, db + suffix)
    assert verify(db, "--no-remember")[0] == 0  # consistent with the files beside it
    code, doc = verify(db)
    assert code == 1 and {"wrong_store", "wrong_key"} <= kinds(doc)
    capsys.readouterr()
    assert main(["verify", db, "--no-progress"]) == 1
    assert "--forget" in capsys.readouterr().err
    assert verify(db, "--forget")[0] == 0
    assert verify(db)[0] == 0


def test_a_symlink_put_in_place_of_the_store_file_does_not_escape_the_memory(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    """The store's file replaced by a symbolic link to an old copy beside it: the
    location was resolved through the link, so nothing was remembered there."""
    db = store_factory()
    old = Path(db).parent / "old.db"
    _copy(db, old)
    _grow(db, tmp_path)
    assert verify(db)[0] == 0
    for suffix in ("", "-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)
    os.symlink(old.name, db)
    code, doc = verify(db)
    assert code == 1 and "rollback" in kinds(doc)


def test_a_verify_against_an_older_checkpoint_file_does_not_replace_the_memory(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    """--checkpoint OLD on a store rolled back to OLD is intact (against that file), but
    must not overwrite what this machine remembered of the newer store."""
    db = store_factory()
    assert main(["checkpoint", db, "-o", str(tmp_path / "old-cp.json")]) == 0
    _copy(db, tmp_path / "old.db")
    _grow(db, tmp_path)
    assert verify(db)[0] == 0
    _restore(tmp_path / "old.db", db)
    code, doc = verify(db, "--checkpoint", str(tmp_path / "old-cp.json"))
    assert code == 0 and doc["remembered"] is None
    code, doc = verify(db)
    assert code == 1 and "rollback" in kinds(doc)


def test_a_tenant_added_since_and_rolled_away_is_named(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    db = store_factory()
    _copy(db, tmp_path / "old.db")
    extra = tmp_path / "new-tenant.ndjson"
    extra.write_text(
        json.dumps(
            {
                "tenant_id": "newco",
                "occurred_at": "2026-03-01T09:00:00Z",
                "action": "user.login",
                "actor": {"id": "u1"},
            }
        )
        + "\n"
    )
    assert main(["ingest", db, str(extra), "--no-progress"]) == 0
    assert verify(db)[0] == 0
    _restore(tmp_path / "old.db", db)  # the store as it was before newco existed
    code, doc = verify(db)
    assert code == 1 and "rollback" in kinds(doc)
    assert {p["tenant_id"] for p in doc["problems"]} == {"newco"}


def test_tampered_and_unanchored_verifies_never_replace_a_good_memory(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    db = store_factory()
    assert verify(db)[0] == 0
    path = remembered_path(Store.open(db))
    good = path.read_bytes()
    with sqlite3.connect(db) as conn:  # tampered
        triggers = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        ]
        for name in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')
        conn.execute("UPDATE events SET action = 'x.y' WHERE seq = 3")
    code, doc = verify(db)
    assert code == 1 and doc["remembered"] is None and path.read_bytes() == good
    # unanchored: the key files beside the store moved away
    for suffix in (".key", ".pub"):
        Path(db + suffix).rename(tmp_path / f"moved{suffix}")
    code, doc = verify(db)
    assert code in (1, 3) and doc["remembered"] is None and path.read_bytes() == good


def test_the_memory_holds_no_secret_of_a_database_url(tmp_path: Path) -> None:
    from auditkit.commands._remember import _masked_url

    url = "postgresql+psycopg://ann:pw1@db:5432/audit?password=pw2&sslpassword=pw3&sslmode=require"
    shown = _masked_url(url)
    assert "pw1" not in shown and "pw2" not in shown and "pw3" not in shown
    assert "sslmode=require" in shown and "db:5432/audit" in shown
    assert "pw9" not in _masked_url("weird://ann:pw9@host/x?token=pw9")


@pytest.mark.postgres
def test_a_postgresql_store_whose_id_changed_is_named_and_its_url_secret_not_kept(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditkit.commands._remember import _where
    from tests.conftest import make_events

    monkeypatch.setenv("AUDITKIT_HOME", str(tmp_path / "home"))
    url = pg_url + "?password=hunter2-not-really&application_name=atk"
    store = Store.init(url)
    store.append(make_events(12))
    assert verify(url)[0] == 0
    text = remembered_path(store).read_text()
    assert "hunter2" not in text and "password" not in _where(store)
    for doc_path in (tmp_path / "home").rglob("*"):
        if doc_path.is_file():
            assert b"hunter2" not in doc_path.read_bytes() or doc_path.suffix == ".key"
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(
            "UPDATE store_meta SET value = '11111111-2222-4333-8444-555555555555' "
            "WHERE key = 'store_id'"
        )
    code, doc = verify(url)
    assert code == 1 and "wrong_store" in kinds(doc)
