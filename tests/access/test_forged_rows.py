"""An attacker who can write the database but lacks the store's key edits the access
tables: a role or token he forged or widened must not be honoured, and ``verify``
must name the row.

Without the signatures, a row inserted into ``access_grants`` and one into
``access_tokens`` (with the SHA-256 of a secret he chose) would let him act through
the API server, which holds the key: append events that verify, or read every
tenant unredacted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from auditkit.access import parse_token
from auditkit.errors import AccessDenied, StoreError, TamperedError
from auditkit.store import Store
from auditkit.verification import ProblemKind
from tests.access.strategies import TENANTS
from tests.store._attacker import sql

A, B, C, D = TENANTS
Person = Callable[..., Store]
NOW = "2026-12-01T00:00:00.000000Z"
EVENT = {"tenant_id": A, "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
         "actor": {"id": "mallory"}}  # fmt: skip


def altered(store: Store) -> list[str]:
    """The ``access_altered`` problems of a whole-store verify."""
    report = store.verify()
    return [p.detail for p in report.problems if p.kind is ProblemKind.ACCESS_ALTERED]


def forged_token(store: Store, principal: str, **columns: str | None) -> str:
    """Insert a token row whose secret the attacker knows; return the token's text."""
    token_id, secret = "f0f0f0f0f0f0", "s" * 43
    row = {
        "token_id": token_id, "principal_id": principal,
        "secret_hash": hashlib.sha256(secret.encode()).hexdigest(), "scopes": None,
        "tenants": None, "created_at": NOW, "expires_at": None, "revoked_at": None,
        "note": None, **columns,
    }  # fmt: skip
    names = ", ".join(row)
    sql(store, f"INSERT INTO access_tokens ({names}) VALUES ({', '.join('?' * len(row))})",
        params=tuple(row.values()))  # fmt: skip
    return f"akt_{token_id}_{secret}"


def test_a_forged_grant_is_not_honoured_and_verify_names_it(
    marked_store: Store, person: Person
) -> None:
    person(marked_store, "mallory", tn_alpha="viewer")
    assert altered(marked_store) == []
    sql(
        marked_store,
        "INSERT INTO access_grants (principal_id, tenant_id, role, granted_at, granted_by) "
        "VALUES (?, ?, ?, ?, ?)",
        params=("mallory", B, "admin", NOW, "owner"),
    )
    mallory = marked_store.bind(principal="mallory")
    with pytest.raises(AccessDenied):
        mallory.load(B)
    with pytest.raises(AccessDenied):
        mallory.append([{**EVENT, "tenant_id": B}])
    assert [g.tenant_id for g in marked_store.grants(principal="mallory")] == [A]
    (problem,) = altered(marked_store)
    assert "access_grants" in problem and "'mallory'" in problem and "no signature" in problem
    assert marked_store.verify().status.value == "tampered"


def test_a_forged_store_wide_grant_gives_no_operator(marked_store: Store) -> None:
    marked_store.add_principal("mallory")
    sql(
        marked_store,
        "INSERT INTO access_grants (principal_id, tenant_id, role, granted_at, granted_by) "
        "VALUES (?, ?, ?, ?, ?)",
        params=("mallory", "*", "operator", NOW, "owner"),
    )
    with pytest.raises(AccessDenied):
        marked_store.bind(principal="mallory").load(A)
    assert len(altered(marked_store)) == 1


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE access_grants SET role = 'admin' WHERE principal_id = 'ann'",
        f"UPDATE access_grants SET tenant_id = '{B}' WHERE principal_id = 'ann'",
        "UPDATE access_grants SET principal_id = 'mallory' WHERE principal_id = 'ann'",
        "UPDATE access_grants SET granted_by = 'someone else' WHERE principal_id = 'ann'",
    ],
)
def test_an_edited_grant_is_not_honoured(marked_store: Store, person: Person, edit: str) -> None:
    person(marked_store, "ann", tn_alpha="viewer")
    marked_store.add_principal("mallory")
    sql(marked_store, edit)
    for who in ("ann", "mallory"):
        with pytest.raises(AccessDenied):
            marked_store.bind(principal=who).load(B)
    assert marked_store.grants() == []
    (problem,) = altered(marked_store)
    assert "not the store key's" in problem


def test_a_grant_copied_with_its_signature_to_another_principal_fails(
    marked_store: Store, person: Person
) -> None:
    person(marked_store, "ann", tn_alpha="admin")
    marked_store.add_principal("mallory")
    sql(
        marked_store,
        "INSERT INTO access_grants (principal_id, tenant_id, role, granted_at, granted_by, "
        "signature) SELECT 'mallory', tenant_id, role, granted_at, granted_by, signature "
        "FROM access_grants WHERE principal_id = 'ann'",
    )
    with pytest.raises(AccessDenied):
        marked_store.bind(principal="mallory").load(A)
    assert marked_store.bind(principal="ann").load(A).height > 0  # the real one still works
    assert len(altered(marked_store)) == 1


def test_a_forged_token_does_not_authenticate(marked_store: Store, person: Person) -> None:
    person(marked_store, "svc", tn_alpha="producer")
    text = forged_token(marked_store, "svc")
    parse_token(text)  # well formed: only the signature is missing
    with pytest.raises(AccessDenied, match="invalid, expired or revoked token"):
        marked_store.bind(token=text)
    with pytest.raises(AccessDenied):
        Store.open(marked_store.location, token=text)
    (problem,) = altered(marked_store)
    assert "access_tokens" in problem and "f0f0f0f0f0f0" in problem


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("scopes", None),  # a token limited to read, widened to everything
        ("tenants", None),  # limited to one tenant, widened to all
        ("expires_at", "2999-01-01T00:00:00.000000Z"),
        ("principal_id", "root"),
        ("secret_hash", hashlib.sha256(b"known").hexdigest()),
    ],
)
def test_a_widened_token_stops_working(
    marked_store: Store, person: Person, column: str, value: str | None
) -> None:
    person(marked_store, "svc", tn_alpha="auditor", tn_beta="auditor")
    person(marked_store, "root", tn_alpha="admin")
    token = marked_store.create_token("svc", scopes=["read"], tenants=[A], expires="1d")
    assert marked_store.bind(token=token.text).load(A).height > 0
    sql(
        marked_store,
        f"UPDATE access_tokens SET {column} = ? WHERE token_id = ?",
        params=(value, token.token_id),
    )
    with pytest.raises(AccessDenied):
        marked_store.bind(token=token.text).load(A)
    assert token.token_id not in {t.token_id for t in marked_store.tokens()}
    assert len(altered(marked_store)) == 1


def test_a_revocation_cleared_in_the_database_does_not_revive_the_token(
    marked_store: Store, person: Person
) -> None:
    person(marked_store, "svc", tn_alpha="producer")
    token = marked_store.create_token("svc")
    marked_store.revoke_token(token.token_id)
    sql(
        marked_store,
        "UPDATE access_tokens SET revoked_at = NULL WHERE token_id = ?",
        params=(token.token_id,),
    )
    with pytest.raises(AccessDenied):
        marked_store.bind(token=token.text)
    assert len(altered(marked_store)) == 1


def saved(store: Store, table: str, where: str) -> list[tuple[object, ...]]:
    """The attacker's copy of rows, signatures included (``SELECT *``)."""
    with store.backend.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT * FROM {table} WHERE {where}")
        rows = [tuple(r) for r in cur.fetchall()]
        cur.close()
        if store.backend.dialect != "sqlite":
            conn.rollback()
    return rows


def put_back(store: Store, table: str, where: str, rows: list[tuple[object, ...]]) -> None:
    sql(store, f"DELETE FROM {table} WHERE {where}")
    for row in rows:
        sql(store, f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})", params=row)


def test_a_revoked_grant_put_back_with_its_signature_is_not_honoured(
    marked_store: Store, person: Person
) -> None:
    mallory = person(marked_store, "mallory", tn_alpha="admin")
    copy = saved(marked_store, "access_grants", "principal_id = 'mallory'")
    assert marked_store.revoke("mallory", A, "admin")
    put_back(marked_store, "access_grants", "principal_id = 'mallory'", copy)
    with pytest.raises(AccessDenied):
        mallory.load(A)
    assert marked_store.grants(principal="mallory") == []
    (problem,) = altered(marked_store)
    assert "revoked" in problem and "put back" in problem
    # granted again by the owner, it is a new grant (signed at another time) and holds
    sql(marked_store, "DELETE FROM access_grants WHERE principal_id = 'mallory'")
    marked_store.grant("mallory", A, "admin")
    assert mallory.load(A).height > 0
    assert altered(marked_store) == []


def test_a_revoked_token_put_back_as_it_was_stays_revoked(
    marked_store: Store, person: Person
) -> None:
    person(marked_store, "svc", tn_alpha="producer")
    token = marked_store.create_token("svc")
    where = f"token_id = '{token.token_id}'"
    copy = saved(marked_store, "access_tokens", where)
    marked_store.revoke_token(token.token_id)
    put_back(marked_store, "access_tokens", where, copy)
    with pytest.raises(AccessDenied):
        marked_store.bind(token=token.text)
    (problem,) = altered(marked_store)
    assert "revoked" in problem


def other_text(signature: str) -> str:
    """Another base64 text of the same 64 bytes: the last character before the padding
    carries four bits that decoding ignores."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(signature[-3])
    assert signature.endswith("==") and last % 16 == 0
    return signature[:-3] + alphabet[last + 1] + "=="


@pytest.mark.parametrize("table", ["access_grants", "access_tokens"])
def test_a_revoked_row_put_back_under_another_text_of_its_signature_stays_revoked(
    marked_store: Store, person: Person, table: str
) -> None:
    """The manifest names a revoked row by a digest of its signature's text; a second
    text of the same bytes would be a row it does not name, and a signature check
    that decodes leniently would accept it."""
    person(marked_store, "mallory", tn_alpha="admin")
    token = marked_store.create_token("mallory")
    where = "principal_id = 'mallory'"
    (row,) = saved(marked_store, table, where)
    if table == "access_grants":
        assert marked_store.revoke("mallory", A, "admin")
    else:
        marked_store.revoke_token(token.token_id)
    edited = tuple(
        other_text(v) if isinstance(v, str) and len(v) == 88 and v.endswith("==") else v
        for v in row
    )
    assert edited != row
    put_back(marked_store, table, where, [edited])
    with pytest.raises(AccessDenied):
        if table == "access_grants":
            marked_store.bind(principal="mallory").load(A)
        else:
            marked_store.bind(token=token.text)
    assert len(altered(marked_store)) == 1


def test_a_damaged_manifest_honours_no_principal(marked_store: Store, person: Person) -> None:
    """The manifest lists revocations: without a valid one, none can be ruled out."""
    ann = person(marked_store, "ann", tn_alpha="viewer")
    sql(
        marked_store,
        "UPDATE store_meta SET value = replace(value, '\"revoked\"', '\"revokes\"') "
        "WHERE key = 'tenant_manifest'",
    )
    marked_store.revoke("ann", A, "viewer")  # the row is removed all the same
    assert marked_store.grants() == []
    person(marked_store, "bob", tn_alpha="viewer")
    with pytest.raises(AccessDenied):
        ann.load(A)


def test_a_handle_bound_before_the_edit_loses_the_grant_at_its_next_check(
    marked_store: Store, person: Person
) -> None:
    ann = person(marked_store, "ann", tn_alpha="analyst")
    assert ann.load(A).height > 0
    sql(marked_store, "UPDATE access_grants SET role = 'auditor' WHERE principal_id = 'ann'")
    with pytest.raises(AccessDenied):
        ann.load(A)


def test_a_forged_principal_is_unknown(marked_store: Store) -> None:
    sql(
        marked_store,
        "INSERT INTO access_principals (principal_id, kind, created_at) VALUES (?, ?, ?)",
        params=("ghost", "person", NOW),
    )
    with pytest.raises(AccessDenied, match="unknown principal"):
        marked_store.bind(principal="ghost").load(A)
    assert "ghost" not in {p.id for p in marked_store.principals()}
    with pytest.raises(Exception, match="no principal 'ghost'"):
        marked_store.grant("ghost", A, "viewer")  # the owner adds it first, signed
    marked_store.add_principal("ghost")  # replaces the forged row with a signed one
    marked_store.grant("ghost", A, "viewer")
    assert marked_store.bind(principal="ghost").load(A).height > 0
    assert altered(marked_store) == []


def test_a_row_copied_from_another_store_fails(
    marked_store: Store, person: Person, tmp_path: object
) -> None:
    other = Store.init(str(tmp_path / "other.db"))  # type: ignore[operator]
    other.add_principal("ann")
    person(marked_store, "ann")
    with other.backend.connect() as conn:
        row = conn.execute(
            "SELECT principal_id, kind, created_at, signature FROM access_principals"
        ).fetchone()
    sql(marked_store, "DELETE FROM access_principals WHERE principal_id = 'ann'")
    sql(
        marked_store,
        "INSERT INTO access_principals (principal_id, kind, created_at, signature) "
        "VALUES (?, ?, ?, ?)",
        params=tuple(row),
    )
    assert marked_store.principals() == []
    assert len(altered(marked_store)) == 1


def test_granting_and_tokens_need_the_key(sqlite_marked: Store, person: Person) -> None:
    person(sqlite_marked, "ann", tn_alpha="viewer")
    keyless = Store.open(sqlite_marked.location, key="/nonexistent/key.pem")
    assert [g.role.value for g in keyless.grants()] == ["viewer"]  # reads still check
    with pytest.raises(StoreError, match="signing key"):
        keyless.add_principal("bob")
    with pytest.raises(StoreError, match="signing key"):
        keyless.create_token("ann")
    # a revocation takes effect without the key (its record in the trail cannot be written)
    token = sqlite_marked.create_token("ann")
    with pytest.raises(StoreError, match="signing key"):
        keyless.revoke_token(token.token_id)
    with pytest.raises(AccessDenied):
        sqlite_marked.bind(token=token.text)
    with pytest.raises(StoreError, match="signing key"):
        keyless.revoke("ann", A, "viewer")
    assert keyless.grants() == [] and sqlite_marked.grants() == []


def test_a_store_made_before_rows_were_signed_is_sealed_by_its_owner(
    marked_store: Store, person: Person
) -> None:
    sqlite_marked = marked_store  # both backends: the column is added on first use
    person(sqlite_marked, "ann", tn_alpha="analyst")
    token = sqlite_marked.create_token("ann")
    # what an earlier version left: the same tables without the signature column
    sql(
        sqlite_marked,
        *(
            f"ALTER TABLE {t} DROP COLUMN signature"
            for t in ("access_principals", "access_grants", "access_tokens")
        ),
    )
    before = Store.open(sqlite_marked.location)
    with pytest.raises(AccessDenied):
        before.bind(token=token.text)
    assert {t for t, _, why in before.unsealed_access() if why == "no signature"} == {
        "access_principals", "access_grants", "access_tokens",
    }  # fmt: skip
    assert len(altered(before)) == 3
    sealed = before.seal_access()
    assert len(sealed) == 3
    assert before.bind(token=token.text).load(A).height > 0
    assert altered(before) == [] and before.seal_access() == []


def test_seal_leaves_a_row_with_a_wrong_signature_alone(
    marked_store: Store, person: Person
) -> None:
    person(marked_store, "ann", tn_alpha="viewer")
    sql(marked_store, "UPDATE access_grants SET role = 'owner'")
    assert marked_store.seal_access() == []
    with pytest.raises(AccessDenied):
        marked_store.bind(principal="ann").load(A)


def test_principals_may_not_seal(marked_store: Store, person: Person) -> None:
    admin = person(marked_store, "ann", tn_alpha="owner")
    with pytest.raises(AccessDenied):
        admin.seal_access()
    with pytest.raises(AccessDenied):
        admin.unsealed_access()


def test_a_redaction_key_swapped_is_not_used_and_verify_names_it(
    marked_store: Store, person: Person
) -> None:
    """A key chosen by the attacker would make every pseudonym of the tenant his to
    compute (and change the ones analysts joined on): the key row is signed."""
    ann = person(marked_store, "ann", tn_alpha="analyst")
    before = ann.load(A)["source_ip"].drop_nulls().to_list()
    assert before and altered(marked_store) == []
    chosen = "00" * 32
    sql(
        marked_store,
        "UPDATE access_redaction_keys SET key = ? WHERE tenant_id = ?",
        params=(chosen, A),
        drop_triggers=False,
    )
    with pytest.raises(TamperedError, match="redaction key of tenant"):
        ann.load(A)
    (problem,) = altered(marked_store)
    assert "access_redaction_keys" in problem and repr(A) in problem
    assert "its signature is not the store key's" in problem and chosen not in problem


def test_a_redaction_key_put_in_before_the_first_redacted_read_is_not_used(
    marked_store: Store, person: Person
) -> None:
    ann = person(marked_store, "ann", tn_alpha="analyst")
    sql(
        marked_store,
        "INSERT INTO access_redaction_keys (tenant_id, key, created_at) VALUES (?, ?, ?)",
        params=(A, "11" * 32, NOW),
        drop_triggers=False,
    )
    with pytest.raises(TamperedError):
        ann.load(A)
    (problem,) = altered(marked_store)
    assert "carries no signature" in problem
