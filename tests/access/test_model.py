"""The permission matrix, the one check function, principal ids and tokens."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditkit.access import (
    GRANTABLE,
    PERMISSIONS,
    STORE_WIDE,
    AccessContext,
    Grant,
    Permission,
    Principal,
    Role,
    check,
    hash_secret,
    new_token,
    parse_token,
    validate_principal_id,
)
from auditkit.errors import AccessDenied, UsageError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "access.md"


def ctx(*grants: tuple[str, Role], **kw: object) -> AccessContext:
    return AccessContext(Principal("p"), tuple(Grant("p", t, r) for t, r in grants), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("perm", list(Permission))
def test_check_follows_the_matrix_on_the_granted_tenant_only(role: Role, perm: Permission) -> None:
    tenant = "*" if role in STORE_WIDE else "acme"
    c = ctx((tenant, role))
    if perm in PERMISSIONS[role]:
        decision = check(c, perm, "acme")
        assert decision.redacted == (Permission.READ_UNREDACTED not in PERMISSIONS[role])
    else:
        with pytest.raises(AccessDenied, match=f"needs permission '{perm.value}'"):
            check(c, perm, "acme")
    if role not in STORE_WIDE:  # a per-tenant role gives nothing elsewhere
        with pytest.raises(AccessDenied, match="holds no role there"):
            check(c, perm, "globex")


def test_denial_reads_the_same_whether_or_not_the_tenant_exists() -> None:
    c = ctx(("acme", Role.VIEWER))
    msgs = []
    for t in ("globex", "no-such-tenant"):
        with pytest.raises(AccessDenied) as err:
            check(c, "read", t)
        msgs.append(str(err.value).replace(t, "T"))
    assert msgs[0] == msgs[1]


def test_token_scopes_and_tenants_only_narrow() -> None:
    c = ctx(("acme", Role.AUDITOR), scopes=frozenset({Permission.READ, Permission.WRITE}))
    assert check(c, "read", "acme").redacted  # read_unredacted is not in the scopes
    with pytest.raises(AccessDenied, match="scopes leave it out"):
        check(c, "export", "acme")
    with pytest.raises(AccessDenied, match="roles there: auditor"):
        check(c, "write", "acme")  # a scope never adds what the roles lack
    c = ctx(("acme", Role.AUDITOR), ("globex", Role.AUDITOR), tenants=frozenset({"acme"}))
    check(c, "read", "acme")
    with pytest.raises(AccessDenied, match="token is not for that tenant"):
        check(c, "read", "globex")


def test_disabled_principal_may_do_nothing() -> None:
    c = AccessContext(Principal("p", disabled=True), (Grant("p", "acme", Role.OWNER),))
    with pytest.raises(AccessDenied, match="disabled"):
        check(c, "read", "acme")


def test_matrix_shape() -> None:
    assert set(PERMISSIONS) == set(Role)
    # only the roles with read_unredacted see raw values; the redacted ones can read
    for perms in PERMISSIONS.values():
        if Permission.READ_UNREDACTED in perms:
            assert Permission.READ in perms
        if Permission.PROVE in perms:  # proofs carry the raw record
            assert Permission.READ_UNREDACTED in perms
    assert Role.OWNER not in GRANTABLE[Role.ADMIN]
    assert not any(r in STORE_WIDE for granted in GRANTABLE.values() for r in granted)


def test_docs_table_is_the_matrix() -> None:
    text = DOCS.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| role |"))
    columns = [c.strip().strip("`") for c in header.strip("|").split("|")][1:]
    assert columns == [p.value for p in Permission]
    for role, perms in PERMISSIONS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{role.value}`"))
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert [c == "✓" for c in cells] == [p in perms for p in Permission], role


@pytest.mark.parametrize("bad", ["", " ann", "a b", "ann\n", "x" * 201, "-x", "ä", "a;b", "a/b"])
def test_principal_ids_are_safe_names(bad: str) -> None:
    with pytest.raises(UsageError):
        validate_principal_id(bad)


def test_tokens_are_random_and_only_their_hash_is_kept() -> None:
    a, ha = new_token()
    b, hb = new_token()
    assert a.text != b.text and ha != hb
    token_id, secret = parse_token(a.text)
    assert hash_secret(secret) == ha and secret not in ha
    assert secret not in repr(a) and token_id in repr(a)
    assert re.fullmatch(r"akt_[0-9a-f]{12}_[A-Za-z0-9_\-]{43}", a.text)
    for bad in ["", a.text[:-1], a.text + "x", "Bearer " + a.text, a.text.replace("akt", "akx")]:
        with pytest.raises(AccessDenied) as err:
            parse_token(bad)
        assert secret not in str(err.value)
