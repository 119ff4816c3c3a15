"""``auditkit access``: as a script would run it (exit codes, one-line errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.store import Store
from tests.conftest import make_events


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "a.db")
    Store.init(path).append(make_events(5, "acme") + make_events(3, "globex"))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_principal_grant_token_cycle(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(capsys, "access", db, "principal", "add", "ann", "--name", "Ann\x1b[2J")[0] == 0
    assert run(capsys, "access", db, "principal", "add", "svc", "--kind", "service")[0] == 0
    code, _, err = run(capsys, "access", db, "principal", "add", "ann")
    assert code == 2 and err.count("\n") == 1 and "already exists" in err
    code, out, _ = run(capsys, "access", db, "principal", "list")
    assert code == 0 and "\x1b" not in out and "Ann\\x1b[2J" in out
    assert run(capsys, "access", db, "grant", "ann", "--tenant", "acme", "--role", "admin")[0] == 0
    code, _, err = run(capsys, "access", db, "grant", "ann", "--role", "viewer")
    assert code == 2 and "--tenant is required" in err
    code, _, err = run(capsys, "access", db, "grant", "ann", "--tenant", "acme", "--role", "root")
    assert code == 2 and "unknown role 'root'" in err
    code, out, err = run(capsys, "access", db, "token", "create", "ann", "--expires", "7d")
    token = out.strip()
    assert code == 0 and token.startswith("akt_") and "not shown again" in err
    assert token not in err
    code, out, _ = run(capsys, "access", db, "token", "list")
    assert code == 0 and token not in out and token.split("_")[1] in out
    # as the token's principal: manages its own tenant only
    monkeypatch.setenv("AUDITKIT_TOKEN", token)
    assert (
        run(capsys, "access", db, "grant", "svc", "--tenant", "acme", "--role", "producer")[0] == 0
    )
    code, _, err = run(
        capsys, "access", db, "grant", "svc", "--tenant", "globex", "--role", "viewer"
    )
    assert code == 2 and "needs permission 'manage'" in err and token not in err
    monkeypatch.setenv("AUDITKIT_TOKEN", "akt_nope")
    code, _, err = run(capsys, "access", db, "grants")
    assert code == 2 and "not an auditkit token" in err
    monkeypatch.delenv("AUDITKIT_TOKEN")
    code, out, _ = run(capsys, "access", db, "grants", "--json")
    assert code == 0 and '"producer"' in out
    tid = token.split("_")[1]
    assert run(capsys, "access", db, "token", "revoke", tid)[0] == 0
    code, _, err = run(capsys, "access", db, "token", "revoke", "ffffffffffff")
    assert code == 2 and "no token" in err
    actions = set(Store.open(db).load("acme")["action"])
    assert {"role.grant", "api_key.create", "api_key.revoke"} <= actions
    assert "audit_log.access_denied" in set(Store.open(db).load("globex")["action"])


def test_matrix_and_sqlite_db_role(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "access", db, "matrix")
    assert code == 0 and "operator" in out and "store-wide" in out
    code, _, err = run(capsys, "access", db, "db-role", "create", "--tenant", "acme")
    assert code == 2 and "SQLite file has no users" in err


def test_seal_names_rows_that_are_not_honoured_and_exits_1(
    db: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.store._attacker import sql

    store = Store.open(db)
    assert run(capsys, "access", db, "principal", "add", "ann")[0] == 0
    assert run(capsys, "access", db, "grant", "ann", "--tenant", "acme", "--role", "viewer")[0] == 0
    code, out, _ = run(capsys, "access", db, "seal")
    assert code == 0 and "every access row is signed" in out
    sql(
        store,
        "INSERT INTO access_grants (principal_id, tenant_id, role, granted_at, granted_by) "
        "VALUES ('ann', 'globex', 'admin', '2026-12-01T00:00:00.000000Z', 'owner')",
        "UPDATE access_grants SET role = 'owner' WHERE tenant_id = 'acme'",
    )
    code, out, err = run(capsys, "access", db, "grants")
    assert code == 0 and out == "" and "2 access row(s) are not honoured" in err
    code, out, err = run(capsys, "access", db, "seal")
    assert code == 1
    assert "grant     ann admin on globex: no signature, not honoured" in out
    assert "grant     ann owner on acme: wrong signature (forged or edited)" in out
    assert "run again with --yes" in err and "1 row(s) are forged, edited or revoked" in err
    code, out, _ = run(capsys, "verify", db)
    assert code == 1 and out.count("access_altered") == 2
    # --yes signs only the row without a signature; the edited one stays refused
    code, out, _ = run(capsys, "access", db, "seal", "--yes")
    assert code == 1 and "signed    grant     ann admin on globex" in out
    assert "ann owner on acme: wrong signature" in out
    # a principal's token may not seal
    token = store.create_token("ann")
    monkeypatch.setenv("AUDITKIT_TOKEN", token.text)
    code, _, err = run(capsys, "access", db, "seal")
    assert code == 2 and err.count("\n") == 1 and "may not review access rows" in err


def test_a_misspelt_tenant_starts_no_trail(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown tenant is an error here as for every command: a grant or a token for
    it would start a trail (and a tenant) by a typo; --new-tenant says it is meant."""
    run(capsys, "access", db, "principal", "add", "ann@example.com")
    before = Store.open(db).tenants()
    for argv in (
        ("grant", "ann@example.com", "--tenant", "acmee", "--role", "admin"),
        ("revoke", "ann@example.com", "--tenant", "acmee", "--role", "admin"),
        ("token", "create", "ann@example.com", "--tenant", "acmee"),
    ):
        code, _, err = run(capsys, "access", db, *argv)
        assert code == 2 and "unknown tenant 'acmee'" in err, argv
    assert Store.open(db).tenants() == before
    code, _, _ = run(
        capsys,
        "access",
        db,
        "grant",
        "ann@example.com",
        "--tenant",
        "newco",
        "--role",
        "admin",
        "--new-tenant",
    )
    assert code == 0 and "newco" in Store.open(db).tenants()


def test_a_token_that_never_works_is_refused_and_an_expired_one_shown_so(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--expires 0d`` made a token expired at birth; ``token list`` showed an expired
    token as "expires <past time>", and no tenant limit."""
    import time

    assert run(capsys, "access", db, "principal", "add", "zed")[0] == 0
    code, _, err = run(capsys, "access", db, "token", "create", "zed", "--expires", "0d")
    assert code == 2 and "expired already" in err
    assert run(capsys, "access", db, "grant", "zed", "--tenant", "acme", "--role", "viewer")[0] == 0
    argv = ("access", db, "token", "create", "zed", "--expires", "1s", "--tenant", "acme")
    assert run(capsys, *argv)[0] == 0
    time.sleep(1.2)
    code, out, _ = run(capsys, "access", db, "token", "list")
    assert code == 0 and "expired " in out and "tenants=acme" in out
