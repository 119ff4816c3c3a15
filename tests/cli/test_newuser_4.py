"""A new user's everyday use of what ``auditkit verify`` remembers, and an ingest of a
folder that also holds stores: a first look said as one (a store moved or renamed
too), the same PostgreSQL database under any spelling of its URL, an
``$AUDITKIT_HOME`` that cannot be written, ``auditkit demo`` run twice, and a signing
key never copied into a quarantine."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.store import Store
from tests.cli._terminal import TerminalRun, run_in_terminal


def _ok(run: TerminalRun, code: int = 0) -> str:
    assert "Traceback" not in run.output, run.output
    assert run.exit_code == code, run.output
    return run.output


def _events(path: Path, tenant: str = "acme", n: int = 3, start: int = 0) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"{tenant}-{start + i}",
                    "tenant_id": tenant,
                    "occurred_at": f"2026-01-05T09:{start + i:02d}:00Z",
                    "action": "user.login",
                    "actor": {"id": f"u{i}"},
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    return path


def _verify_json(db: str, *extra: str) -> tuple[int, dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["verify", db, "--json", "--no-progress", *extra])
    return code, json.loads(out.getvalue())


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "audit.db"
    assert main(["init", str(db)]) == 0
    assert main(["ingest", str(db), str(_events(tmp_path / "a.ndjson")), "--no-progress"]) == 0
    return db


# -- first looks -------------------------------------------------------------------
def test_a_first_verify_says_it_had_nothing_to_check_against_and_now_remembers(
    store: Path,
) -> None:
    out = _ok(run_in_terminal("verify", "audit.db", cwd=store.parent))
    assert "first verify of this store at this location on this machine" in out
    assert "now remembered" in out
    out = _ok(run_in_terminal("verify", "audit.db", cwd=store.parent))
    assert "first verify" not in out and "last intact verify" in out


def test_a_moved_store_is_a_first_look_that_names_where_it_was_seen(
    store: Path, tmp_path: Path
) -> None:
    assert _verify_json(str(store))[0] == 0
    moved = tmp_path / "moved"
    moved.mkdir()
    for suffix in ("", ".key", ".pub"):
        shutil.move(str(store) + suffix, moved / ("renamed.db" + suffix))
    code, doc = _verify_json(str(moved / "renamed.db"))
    assert code == 0 and doc["checked_against_memory"] is None
    (note,) = [n for n in doc["notes"] if "first verify" in n]
    assert str(store) in note and "moved, renamed or copied" in note


def test_json_tells_the_memory_checked_against_from_the_one_kept(store: Path) -> None:
    code, doc = _verify_json(str(store))
    assert code == 0 and doc["checked_against_memory"] is None and doc["remembered"]
    code, doc = _verify_json(str(store))
    assert doc["checked_against_memory"] == doc["remembered"]


def test_a_backup_put_back_names_the_store_and_the_command_to_accept_it(
    store: Path, tmp_path: Path
) -> None:
    folder = store.parent
    _ok(run_in_terminal("verify", "audit.db", cwd=folder))
    shutil.copyfile(store, tmp_path / "backup.db")
    assert main(["ingest", str(store), str(_events(tmp_path / "b.ndjson", start=10))]) == 0
    _ok(run_in_terminal("verify", "audit.db", cwd=folder))
    shutil.copyfile(tmp_path / "backup.db", store)
    out = _ok(run_in_terminal("verify", "audit.db", cwd=folder), 1)
    assert "an older copy of the one this machine verified intact before" in out
    assert "`auditkit verify audit.db --forget`" in out
    out = _ok(run_in_terminal("verify", "audit.db", "--forget", cwd=folder))
    assert "was dropped (--forget)" in out


# -- the same PostgreSQL database, whatever the URL --------------------------------
def test_one_database_has_one_memory_whatever_the_spelling_of_its_url() -> None:
    from types import SimpleNamespace

    from auditkit.commands._remember import remembered_path

    urls = [
        "postgresql://audit@127.0.0.1:5432/trail",
        "postgresql://audit@127.0.0.1/trail",
        "postgresql://audit:s3cret@127.0.0.1:5432/trail",
        "postgresql://audit@127.0.0.1:5432/trail?password=s3cret",
        "postgresql+psycopg://audit@127.0.0.1:5432/trail?sslmode=require",
    ]
    stores: list = [SimpleNamespace(path=None, location=u) for u in urls]
    paths = {remembered_path(s) for s in stores}
    assert len(paths) == 1
    other: object = SimpleNamespace(path=None, location="postgresql://audit@127.0.0.1:5432/other")
    assert remembered_path(other) not in paths  # type: ignore[arg-type]


@pytest.mark.postgres
def test_a_postgresql_rollback_is_named_through_a_url_with_a_password(
    pg_url: str, tmp_path: Path
) -> None:
    from tests.conftest import make_events

    s = Store.init(pg_url)
    s.append(make_events(4))
    assert _verify_json(pg_url)[0] == 0
    sep = "&" if "?" in pg_url else "?"
    code, doc = _verify_json(pg_url + sep + "password=not-used")
    assert code == 0 and doc["checked_against_memory"]


# -- a memory that cannot be written or dropped ------------------------------------
def test_an_auditkit_home_that_is_a_file_never_fails_init_and_verify_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder\n")
    monkeypatch.setenv("AUDITKIT_HOME", str(home))
    db = str(tmp_path / "x.db")
    assert main(["init", db]) == 0
    Store.open(db).append([json.loads(_events(tmp_path / "e.ndjson").read_text().split("\n")[0])])
    code, doc = _verify_json(db)
    assert code == 0 and doc["remembered"] is None
    assert any("could not be remembered" in n and str(home) in n for n in doc["notes"])
    assert _verify_json(db, "--forget")[0] == 0


def test_a_memory_that_cannot_be_dropped_is_one_line_for_forget_and_a_note_for_init(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify_json(str(store))[0] == 0
    real_unlink = Path.unlink

    def refuse(self: Path, missing_ok: bool = False) -> None:
        if self.parent.name == "verified":
            raise PermissionError(13, "Permission denied")
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    capsys.readouterr()
    assert main(["verify", str(store), "--forget", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not be dropped" in err and "Permission denied" in err
    for suffix in ("", ".key", ".pub"):
        real_unlink(Path(str(store) + suffix))
    assert main(["init", str(store)]) == 0
    err = capsys.readouterr().err
    assert "note:" in err and "could not be dropped" in err


# -- auditkit demo, twice ----------------------------------------------------------
def test_demo_twice_in_one_folder_makes_its_store_anew(tmp_path: Path) -> None:
    _ok(run_in_terminal("demo", "--dir", "demo", "--no-progress", cwd=tmp_path, timeout=900))
    first = Store.open(str(tmp_path / "demo" / "audit.db")).store_id
    out = _ok(run_in_terminal("verify", "demo/audit.db", cwd=tmp_path))
    _ok(run_in_terminal("demo", "--dir", "demo", "--no-progress", cwd=tmp_path, timeout=900))
    assert Store.open(str(tmp_path / "demo" / "audit.db")).store_id != first
    out = _ok(run_in_terminal("verify", "demo/audit.db", cwd=tmp_path))
    assert "wrong_store" not in out


def test_demo_never_replaces_a_store_it_did_not_make(store: Path) -> None:
    before = store.read_bytes()
    out = _ok(run_in_terminal("demo", "--dir", ".", cwd=store.parent), 2)
    assert "a store no `auditkit demo` made" in out and "another --dir" in out
    assert store.read_bytes() == before


# -- ingest of a folder that holds stores and keys ---------------------------------
@pytest.mark.parametrize("fmt", ["github", "csv", "auto"])
def test_a_signing_key_in_an_ingested_folder_is_never_copied_to_the_quarantine(
    store: Path, tmp_path: Path, fmt: str
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    other = logs / "other.db"
    assert main(["init", str(other)]) == 0
    secret = Path(str(other) + ".key").read_text().splitlines()[1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["ingest", str(store), str(logs), "--format", fmt, "--json", "--no-progress"])
    assert code == 0
    doc = json.loads(out.getvalue())
    reasons = {Path(p["file"]).name: p["reason"] for p in doc["problems"]}
    assert "PEM private key" in reasons["other.db.key"]
    assert "SQLite database" in reasons["other.db"]
    assert doc["quarantined"] == 3 and doc["read"] == 3
    quarantine = Path(str(store) + ".quarantine.ndjson").read_text()
    assert secret not in quarantine and secret not in out.getvalue()
