"""``auditkit verify`` remembers the checkpoints of a store it found intact, so that
the same machine names a store put back, whole, to an older copy of itself: the one
hostile edit that stays consistent with the key and needs no key to make."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.integrity import public_key_pem, save_private_key
from auditkit.store import Store
from tests.store.test_attacks import _resign_all_tenants


def _copy(db: str, to: Path) -> None:
    """A byte copy of the SQLite file, as a backup or an attacker's snapshot is."""
    shutil.copyfile(db, to)


def _restore(copy: Path, db: str) -> None:
    for suffix in ("-wal", "-shm"):
        Path(db + suffix).unlink(missing_ok=True)
    shutil.copyfile(copy, db)


def _grow(db: str, folder: Path) -> None:
    more = folder / "more.ndjson"
    args = ["--events", "300", "--seed", "99", "--no-progress"]
    assert main(["sample", "-o", str(more), *args]) == 0
    assert main(["ingest", db, str(more), "--no-progress"]) == 0


def verify(db: str, *extra: str) -> tuple[int, dict]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["verify", db, "--json", "--no-progress", *extra])
    return code, json.loads(out.getvalue())


def kinds(doc: dict) -> set[str]:
    return {p["kind"] for p in doc["problems"]}


def test_a_whole_store_rolled_back_after_an_intact_verify_is_named(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    db = store_factory()
    code, doc = verify(db)
    assert code == 0 and doc["remembered"]
    _copy(db, tmp_path / "yesterday.db")
    _grow(db, tmp_path)
    assert verify(db)[0] == 0  # remembers the grown store
    _restore(tmp_path / "yesterday.db", db)  # today's events gone, key and manifest intact
    code, doc = verify(db)
    assert code == 1 and "rollback" in kinds(doc)
    # the rolled-back store is not remembered over the good state
    assert verify(db)[0] == 1
    # without the memory it is consistent with its key: what --no-remember shows
    assert verify(db, "--no-remember")[0] == 0


def test_forget_accepts_a_backup_restored_on_purpose(
    store_factory: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = store_factory()
    _copy(db, tmp_path / "backup.db")
    _grow(db, tmp_path)
    assert main(["verify", db, "--no-progress"]) == 0
    _restore(tmp_path / "backup.db", db)
    capsys.readouterr()
    assert main(["verify", db, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "--forget" in err
    assert verify(db, "--forget")[0] == 0
    assert verify(db)[0] == 0  # and the restored state is what is remembered now


def test_a_store_resigned_with_a_replaced_key_file_is_named_by_the_memory(
    store_factory: Callable[..., str],
) -> None:
    """An attacker who can write the folder re-signs the trail and replaces the key
    files beside it: consistent with those files, but not with the key this machine
    saw the last time."""
    db = store_factory()
    assert verify(db)[0] == 0
    store = Store.open(db)
    key = _resign_all_tenants(store)
    store.key_path.unlink()
    save_private_key(key, store.key_path)
    store.public_key_path.write_text(public_key_pem(key))
    assert verify(db, "--no-remember")[0] == 0  # the documented limit without memory
    code, doc = verify(db)
    assert code == 1 and "wrong_key" in kinds(doc)


def test_no_remember_neither_reads_nor_writes(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    db = store_factory()
    code, doc = verify(db, "--no-remember")
    assert code == 0 and doc["remembered"] is None
    _copy(db, tmp_path / "old.db")
    _grow(db, tmp_path)
    assert verify(db, "--no-remember")[0] == 0
    _restore(tmp_path / "old.db", db)
    assert verify(db)[0] == 0  # nothing was remembered to compare with


def test_a_new_store_at_the_same_path_is_named_until_forgotten(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    """Like a host key changed in ``known_hosts``: whoever can write the folder could
    have put another store there (made elsewhere, copied in), so it is ``wrong_store``
    until ``--forget`` accepts it."""
    db = store_factory()
    assert verify(db)[0] == 0
    _remove(db)
    Store.init(db).append(_events(tmp_path))  # made as another machine would
    code, doc = verify(db)
    assert code == 1 and "wrong_store" in kinds(doc)
    assert verify(db, "--forget")[0] == 0
    assert verify(db)[0] == 0


def test_auditkit_init_at_the_path_forgets_the_store_that_was_there(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    """A new store made on this machine with ``auditkit init`` (or ``auditkit demo``,
    which makes its store anew) is no reason for alarm."""
    db = store_factory()
    assert verify(db)[0] == 0
    _remove(db)
    assert main(["init", db]) == 0
    Store.open(db).append(_events(tmp_path))
    assert verify(db)[0] == 0


def _remove(db: str) -> None:
    for suffix in ("", "-wal", "-shm", ".key", ".pub"):
        Path(db + suffix).unlink(missing_ok=True)
    shutil.rmtree(db + ".cold", ignore_errors=True)


def _events(tmp_path: Path) -> list[dict]:
    return [
        {
            "tenant_id": "acme",
            "occurred_at": f"2026-01-05T09:0{i}:00Z",
            "action": "user.login",
            "actor": {"id": f"u{i}"},
        }
        for i in range(5)
    ]


def test_an_unreadable_memory_is_a_note_never_an_anchor(
    store_factory: Callable[..., str],
) -> None:
    from auditkit.commands._remember import remembered_path

    db = store_factory()
    assert verify(db)[0] == 0
    path = remembered_path(Store.open(db))
    path.write_text("{ not json")
    code, doc = verify(db)
    assert code == 0 and any("unreadable" in n for n in doc["notes"])
    assert json.loads(path.read_text())["format"] == "auditkit-verified/1"  # rewritten


def test_a_verify_of_one_tenant_checks_against_the_memory_but_does_not_rewrite_it(
    store_factory: Callable[..., str], tmp_path: Path
) -> None:
    db = store_factory()
    tenant = Store.open(db).tenants()[0]
    assert verify(db)[0] == 0
    _copy(db, tmp_path / "old.db")
    _grow(db, tmp_path)
    assert verify(db)[0] == 0
    _restore(tmp_path / "old.db", db)
    code, doc = verify(db, "--tenant", tenant)
    assert code == 1 and "rollback" in kinds(doc)
    assert doc["remembered"] is None
