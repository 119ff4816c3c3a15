"""The SQL of role-based access: principals, grants, tokens, redaction keys,
and PostgreSQL roles with row-level security.

What it guarantees: tokens are stored only as the hash of their secret; every
row of principals, grants and tokens carries the store key's signature over its
values (:class:`AccessSeal`), and a row without a valid one is not honoured, so
that someone who can write the database but lacks the key cannot give himself a
role or a token (and through the API server, which holds the key, append or purge);
every statement takes its values as bind parameters (role names, which SQL
cannot bind, are checked against a strict pattern and quoted); a database role
made for a tenant sees, through row-level security, only that tenant's rows of
every table that has a ``tenant_id`` column, and no row of the access tables.

What it trusts: the connection it is given (the store's owner).
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidSignature
from sqlmodel import SQLModel

from auditkit.access import (
    ALL_TENANTS,
    AccessContext,
    Grant,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    TokenInfo,
    parse_token,
    secret_matches,
)
from auditkit.errors import AccessDenied, StoreError, TamperedError, UsageError
from auditkit.integrity import decode_signature
from auditkit.schema import format_timestamp
from auditkit.store._backend import Backend
from auditkit.store._manifest import (
    MANIFEST_PARAMS,
    MANIFEST_QUERY,
    manifest_from_rows,
    revoked_digest,
)
from auditkit.store._tables import ACCESS_TABLES
from auditkit.verification import Problem, ProblemKind

__all__ = [
    "SEALED_TABLES",
    "AccessSeal",
    "DbRole",
    "access_problems",
    "add_principal",
    "add_signature_columns",
    "authenticate",
    "context_for",
    "create_db_role",
    "delete_grant",
    "drop_db_role",
    "ensure_access_schema",
    "get_principal",
    "get_token",
    "insert_grant",
    "insert_token",
    "list_grants",
    "list_principals",
    "list_tokens",
    "redaction_keys",
    "revoke_token_row",
    "seal_rows",
    "stored_manifest",
    "unsealed_rows",
]

_ROLE_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
_SEAL_DOMAIN: Final = b"auditkit access row v1\n"


@dataclass(frozen=True)
class AccessSeal:
    """Signs rows of the access tables with the store's key, and checks them.

    The signed bytes are a domain line and the JSON list of the store's id, the
    table's name and the row's values in column order, so that a signature holds
    for that row of that table of that store only: a grant copied to another
    principal, tenant or role, a token's scopes widened, its expiry moved or its
    revocation cleared, or a row copied from another store, no longer verifies.

    >>> from auditkit.integrity import generate_key
    >>> key = generate_key()
    >>> seal = AccessSeal("store-1", key.public_key(), key)
    >>> sig = seal.sign("access_grants", ("ann", "acme", "analyst", "t", "owner"))
    >>> seal.valid("access_grants", ("ann", "acme", "analyst", "t", "owner"), sig)
    True
    >>> seal.valid("access_grants", ("ann", "acme", "admin", "t", "owner"), sig)
    False
    >>> seal.valid("access_grants", ("ann", "acme", "analyst", "t", "owner"), None)
    False
    """

    store_id: str
    public_key: Any
    private_key: Any = None
    #: digests of revoked rows, from the signed manifest (``None``: the manifest could
    #: not be read or checked, so no row can be shown not to be revoked)
    revoked: frozenset[str] | None = frozenset()

    def _message(self, table: str, values: Sequence[Any]) -> bytes:
        # a value of another type than the column's (SQLite keeps what it is given)
        # is signed by its repr: a value, and one that differs from what was signed
        return _SEAL_DOMAIN + orjson.dumps([self.store_id, table, *values], default=repr)

    def sign(self, table: str, values: Sequence[Any]) -> str:
        """The signature of ``values`` as a row of ``table`` (base64)."""
        if self.private_key is None:
            raise StoreError(
                "changing who may read or write the trail needs the store's signing key "
                "(set AUDITKIT_KEY or pass --key)"
            )
        return base64.b64encode(self.private_key.sign(self._message(table, values))).decode()

    def valid(self, table: str, values: Sequence[Any], signature: object) -> bool:
        """Whether ``signature`` is the store key's over ``values`` as a row of ``table``,
        and that row was not revoked."""
        return self.why_not(table, values, signature) is None

    def why_not(self, table: str, values: Sequence[Any], signature: object) -> str | None:
        """Why the row is not honoured (``None``: it is)."""
        if not isinstance(signature, str) or not signature:
            return "no signature"
        raw = self.public_key.public_bytes_raw()
        if not _verified(raw, self._message(table, values), signature):
            return "wrong signature"
        if self.revoked is None:
            return "the signed manifest, which lists revocations, is missing or damaged"
        if revoked_digest(signature) in self.revoked:
            return "revoked"
        return None


@functools.lru_cache(maxsize=4096)
def _verified(public_raw: bytes, message: bytes, signature: str) -> bool:
    """Ed25519 verification, remembered: every check of a principal's access reads its
    rows afresh, and the same rows come back at every check."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = decode_signature(signature)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(raw, message)
    except (ValueError, InvalidSignature):
        return False
    return True


#: The tables whose rows are signed: table, key columns, the other columns.
SEALED_TABLES: Final = {
    "access_principals": (
        ("principal_id",), ("kind", "name", "email", "created_at", "disabled_at")
    ),
    "access_grants": (("principal_id", "tenant_id", "role"), ("granted_at", "granted_by")),
    "access_tokens": (
        ("token_id",),
        ("principal_id", "secret_hash", "scopes", "tenants", "created_at", "expires_at",
         "revoked_at", "note"),
    ),
    # PostgreSQL enforces these rows itself (row-level security reads them): the
    # signature makes a role remapped to another tenant, or given append, a problem
    # that verify names
    "access_db_roles": (("role_name",), ("tenant_id", "can_append", "created_at")),
    # a key swapped for a chosen one would change (or make guessable) the pseudonyms
    "access_redaction_keys": (("tenant_id",), ("key", "created_at")),
}  # fmt: skip


def _columns(table: str) -> tuple[str, ...]:
    keys, rest = SEALED_TABLES[table]
    return keys + rest


def add_signature_columns(backend: Backend, tables: Iterable[str]) -> None:
    """Give those of ``tables`` that exist and lack one a ``signature`` column (tables
    made before their rows were signed: the access tables, the stream cursors).  The
    rows already there stay unsigned, so they are not honoured until their owner signs
    them again."""
    from sqlalchemy import inspect

    insp = inspect(backend.engine)
    missing = [
        t
        for t in tables
        if insp.has_table(t) and "signature" not in {c["name"] for c in insp.get_columns(t)}
    ]
    if missing:
        with backend.connect() as conn, backend.write_transaction(conn) as cur:
            for table in missing:
                cur.execute(f"ALTER TABLE {table} ADD COLUMN signature TEXT")


def _ensure_signature_column(backend: Backend) -> None:
    """:func:`add_signature_columns` of the access tables, once per backend (rows left
    unsigned are sealed by the owner: :func:`seal_rows`)."""
    if getattr(backend, "_access_signed_ready", False):
        return
    try:
        add_signature_columns(backend, SEALED_TABLES)
    except Exception:  # a read-only file or a confined role: the reads say why
        return
    backend._access_signed_ready = True  # type: ignore[attr-defined]


def _now() -> str:
    return format_timestamp(datetime.now(UTC))


#: the connection a thread's reads of the access tables share (see :func:`one_read`)
_SHARED = threading.local()


@contextmanager
def one_read(backend: Backend) -> Iterator[None]:
    """The reads of the access tables inside share one connection and one snapshot
    (who is asking: token, principal and grants, read together at every check)."""
    if getattr(_SHARED, "conn", None) is not None:
        yield
        return
    _ensure_signature_column(backend)  # before the snapshot: it must see the column
    with backend.connect() as conn:
        cur = conn.cursor()
        try:
            if backend.dialect == "sqlite":
                cur.execute("BEGIN")
            _SHARED.conn = (backend, conn)
            yield
        finally:
            _SHARED.conn = None
            if backend.dialect == "sqlite":
                if conn.in_transaction:
                    cur.execute("COMMIT")
            else:
                conn.rollback()
            cur.close()


def _rows(backend: Backend, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    shared = getattr(_SHARED, "conn", None)
    if shared is not None and shared[0] is backend:
        return _run(backend, shared[1], sql, params, end=False)
    with backend.connect() as conn:
        return _run(backend, conn, sql, params, end=True)


def _run(
    backend: Backend, conn: Any, sql: str, params: Sequence[Any], *, end: bool
) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql.replace("?", backend.ph), tuple(params))
        return list(cur.fetchall())
    except Exception as exc:
        raise StoreError(f"{backend.location}: access tables: {exc}") from exc
    finally:
        cur.close()
        if end and backend.dialect != "sqlite":
            conn.rollback()


#: Called in a revocation's transaction with the digests of the rows it revoked.
Revoked = Callable[[Any, list[str]], None]


def stored_manifest(backend: Backend) -> tuple[str | None, bool]:
    """The signed tenant manifest's text (``None``: none) and whether the store must
    hold one, read in the connection of :func:`one_read` when inside one (the manifest
    lists revocations: it belongs to the snapshot of who is asking)."""
    return manifest_from_rows(_rows(backend, MANIFEST_QUERY, MANIFEST_PARAMS))


def _write(
    backend: Backend,
    statements: Iterable[tuple[str, Sequence[Any]]],
    *,
    revoking: tuple[str, Sequence[Any], Revoked] | None = None,
) -> list[int]:
    """Run statements in one transaction; return each one's row count.

    ``revoking``: a query of the signatures of the rows the statements revoke, its
    parameters, and what to call with their digests, before the statements run."""
    counts = []
    with backend.connect() as conn, backend.write_transaction(conn) as cur:
        if revoking is not None:
            query, params, record = revoking
            cur.execute(query.replace("?", backend.ph), tuple(params))
            digests = [revoked_digest(str(r[0])) for r in cur.fetchall() if r[0]]
            record(cur, digests)
        for sql, params in statements:
            cur.execute(sql.replace("?", backend.ph), tuple(params))
            counts.append(int(cur.rowcount))
    return counts


def ensure_access_schema(backend: Backend) -> None:
    """Create the access tables if this store predates them (idempotent)."""
    try:
        SQLModel.metadata.create_all(backend.engine, tables=ACCESS_TABLES)
    except Exception as exc:
        raise StoreError(f"{backend.location}: cannot create the access tables: {exc}") from exc
    _ensure_signature_column(backend)


# -- principals --------------------------------------------------------------------------
def _principal(row: Sequence[Any]) -> Principal:
    return Principal(
        id=str(row[0]),
        kind=PrincipalKind(row[1]),
        name=row[2],
        email=row[3],
        created_at=row[4],
        disabled=row[5] is not None,
    )


_PRINCIPAL_COLS: Final = ", ".join(_columns("access_principals"))


def _signed(seal: AccessSeal, table: str, rows: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
    """The rows (values, then their signature) that ``seal`` vouches for, without the
    signature: a row forged, edited or unsigned is not honoured (``verify`` names it)."""
    return [r[:-1] for r in rows if seal.valid(table, r[:-1], r[-1])]


def add_principal(backend: Backend, principal: Principal, seal: AccessSeal) -> Principal:
    """Insert a principal; :class:`UsageError` if the id is taken."""
    ensure_access_schema(backend)
    if get_principal(backend, principal.id, seal) is not None:
        raise UsageError(f"principal {principal.id!r} already exists")
    created = _now()
    values = (principal.id, principal.kind.value, principal.name, principal.email, created, None)
    signature = seal.sign("access_principals", values)
    _write(
        backend,
        [
            (
                # a row with this id that is not signed is not a principal: replace it
                "DELETE FROM access_principals WHERE principal_id = ?",
                (principal.id,),
            ),
            (
                f"INSERT INTO access_principals ({_PRINCIPAL_COLS}, signature) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*values, signature),
            ),
        ],
    )
    return Principal(principal.id, principal.kind, principal.name, principal.email, created)


def get_principal(backend: Backend, principal_id: str, seal: AccessSeal) -> Principal | None:
    """The principal called ``principal_id``, if any."""
    _ensure_signature_column(backend)
    try:
        rows = _rows(
            backend,
            f"SELECT {_PRINCIPAL_COLS}, signature FROM access_principals WHERE principal_id = ?",
            (principal_id,),
        )
    except StoreError:
        if not _has_access_tables(backend):
            return None
        raise
    good = _signed(seal, "access_principals", rows)
    return _principal(good[0]) if good else None


def list_principals(backend: Backend, seal: AccessSeal) -> list[Principal]:
    """Every principal, by id."""
    ensure_access_schema(backend)
    rows = _rows(
        backend,
        f"SELECT {_PRINCIPAL_COLS}, signature FROM access_principals ORDER BY principal_id",
    )
    return [_principal(r) for r in _signed(seal, "access_principals", rows)]


def _has_access_tables(backend: Backend) -> bool:
    """Whether the access tables exist (asked only after a query on them failed)."""
    from sqlalchemy import inspect

    return bool(inspect(backend.engine).has_table("access_principals"))


# -- grants ------------------------------------------------------------------------------
_GRANT_COLS: Final = ", ".join(_columns("access_grants"))


def _grant(row: Sequence[Any]) -> Grant:
    return Grant(str(row[0]), str(row[1]), Role(row[2]), row[3], row[4])


def list_grants(
    backend: Backend,
    seal: AccessSeal,
    *,
    principal_id: str | None = None,
    tenant: str | None = None,
) -> list[Grant]:
    """Grants, of one principal and/or on one tenant (store-wide ones included)."""
    where, params = [], []
    if principal_id is not None:
        where.append("principal_id = ?")
        params.append(principal_id)
    if tenant is not None:
        where.append("tenant_id IN (?, ?)")
        params += [tenant, ALL_TENANTS]
    cond = f" WHERE {' AND '.join(where)}" if where else ""
    _ensure_signature_column(backend)
    try:
        rows = _rows(
            backend,
            f"SELECT {_GRANT_COLS}, signature FROM access_grants{cond} "
            "ORDER BY principal_id, tenant_id, role",
            params,
        )
    except StoreError:
        if not _has_access_tables(backend):
            return []
        raise
    return [_grant(r) for r in _signed(seal, "access_grants", rows)]


def insert_grant(backend: Backend, grant: Grant, seal: AccessSeal) -> bool:
    """Record a grant; ``False`` if the principal already held that role there."""
    ensure_access_schema(backend)
    key = (grant.principal_id, grant.tenant_id, grant.role.value)
    have = _rows(
        backend,
        "SELECT principal_id, tenant_id, role, granted_at, granted_by, signature "
        "FROM access_grants WHERE principal_id = ? AND tenant_id = ? AND role = ?",
        key,
    )
    if _signed(seal, "access_grants", have):
        return False
    values = (*key, grant.granted_at or _now(), grant.granted_by or "")
    _write(
        backend,
        [
            # a row for this grant that is not signed was never granted: replace it
            (
                "DELETE FROM access_grants WHERE principal_id = ? AND tenant_id = ? AND role = ?",
                key,
            ),
            (
                f"INSERT INTO access_grants ({_GRANT_COLS}, signature) VALUES (?, ?, ?, ?, ?, ?)",
                (*values, seal.sign("access_grants", values)),
            ),
        ],
    )
    return True


def delete_grant(
    backend: Backend, principal_id: str, tenant: str, role: Role, revoked: Revoked
) -> bool:
    """Remove a grant; ``False`` if there was none.  ``revoked`` is given the digest of
    its signature in the same transaction, so that the row put back is not honoured."""
    ensure_access_schema(backend)
    where = "WHERE principal_id = ? AND tenant_id = ? AND role = ?"
    key = (principal_id, tenant, role.value)
    (n,) = _write(
        backend,
        [(f"DELETE FROM access_grants {where}", key)],
        revoking=(f"SELECT signature FROM access_grants {where}", key, revoked),
    )
    return n > 0


# -- tokens ------------------------------------------------------------------------------
_TOKEN_COLS: Final = ", ".join(_columns("access_tokens"))


def _token(row: Sequence[Any]) -> tuple[TokenInfo, str]:
    from auditkit.access import parse_permissions

    scopes = parse_permissions(row[3].split(",")) if row[3] else None
    tenants = frozenset(orjson.loads(row[4])) if row[4] else None
    info = TokenInfo(
        token_id=str(row[0]),
        principal_id=str(row[1]),
        created_at=str(row[5]),
        expires_at=row[6],
        revoked_at=row[7],
        scopes=scopes,
        tenants=tenants,
        note=row[8],
    )
    return info, str(row[2])


def insert_token(
    backend: Backend,
    seal: AccessSeal,
    *,
    token_id: str,
    principal_id: str,
    secret_hash: str,
    expires_in: timedelta | None,
    scopes: frozenset[Permission] | None,
    tenants: frozenset[str] | None,
    note: str | None,
) -> TokenInfo:
    """Store a new token's hash and limits."""
    ensure_access_schema(backend)
    now = datetime.now(UTC)
    expires = format_timestamp(now + expires_in) if expires_in is not None else None
    scope_text = ",".join(sorted(p.value for p in scopes)) if scopes is not None else None
    tenant_text = orjson.dumps(sorted(tenants)).decode() if tenants is not None else None
    created = format_timestamp(now)
    values = (
        token_id, principal_id, secret_hash, scope_text, tenant_text, created, expires, None, note
    )  # fmt: skip
    _write(
        backend,
        [
            (
                f"INSERT INTO access_tokens ({_TOKEN_COLS}, signature) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, seal.sign("access_tokens", values)),
            )
        ],
    )
    return TokenInfo(token_id, principal_id, created, expires, None, scopes, tenants, note)


def _token_rows(backend: Backend, cond: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return _rows(backend, f"SELECT {_TOKEN_COLS}, signature FROM access_tokens {cond}", params)


def get_token(backend: Backend, token_id: str, seal: AccessSeal) -> tuple[TokenInfo, str] | None:
    """A token's info and stored hash, by its public id (a row the store's key did not
    sign is no token)."""
    _ensure_signature_column(backend)
    try:
        rows = _token_rows(backend, "WHERE token_id = ?", (token_id,))
    except StoreError:
        if not _has_access_tables(backend):
            return None
        raise
    good = _signed(seal, "access_tokens", rows)
    return _token(good[0]) if good else None


def list_tokens(
    backend: Backend, seal: AccessSeal, principal_id: str | None = None
) -> list[TokenInfo]:
    """Tokens (of one principal), oldest first; never their secrets."""
    ensure_access_schema(backend)
    cond, params = ("WHERE principal_id = ? ", (principal_id,)) if principal_id else ("", ())
    rows = _token_rows(backend, f"{cond}ORDER BY created_at, token_id", params)
    return [_token(r)[0] for r in _signed(seal, "access_tokens", rows)]


def revoke_token_row(
    backend: Backend, token_id: str, seal: AccessSeal, revoked: Revoked
) -> TokenInfo:
    """Mark a token revoked (kept, so that its id stays in the record)."""
    _ensure_signature_column(backend)
    rows = _signed(seal, "access_tokens", _token_rows(backend, "WHERE token_id = ?", (token_id,)))
    if not rows:
        raise UsageError(f"no token {token_id!r}")
    info, _ = _token(rows[0])
    if info.revoked_at is None:
        now = _now()
        values = (*rows[0][:7], now, rows[0][8])
        _write(
            backend,
            [
                (
                    "UPDATE access_tokens SET revoked_at = ?, signature = ? WHERE token_id = ?",
                    # without the key the row is left unsigned, so not honoured either:
                    # taking access away never waits for the key
                    (
                        now,
                        seal.sign("access_tokens", values) if seal.private_key else None,
                        token_id,
                    ),
                )
            ],
            revoking=(
                "SELECT signature FROM access_tokens WHERE token_id = ?",
                (token_id,),
                revoked,
            ),
        )
        info = TokenInfo(**{**info.__dict__, "revoked_at": now})
    return info


# -- sealing and checking ------------------------------------------------------------------
def _all_rows(backend: Backend, table: str) -> list[tuple[Any, ...]]:
    """Every row of a sealed table, values then signature, in key order (none if the
    table does not exist)."""
    keys, _ = SEALED_TABLES[table]
    _ensure_signature_column(backend)
    try:
        return _rows(
            backend,
            f"SELECT {', '.join(_columns(table))}, signature FROM {table} "
            f"ORDER BY {', '.join(keys)}",
        )
    except StoreError:
        if not _has_access_tables(backend):
            return []
        raise


def _describe(table: str, values: Sequence[Any]) -> str:
    keys, _ = SEALED_TABLES[table]
    shown = ", ".join(f"{k} {v!r}" for k, v in zip(keys, values, strict=False))
    return f"{table} row ({shown})"


def unsealed_rows(backend: Backend, seal: AccessSeal) -> list[tuple[str, tuple[Any, ...], str]]:
    """Rows of the access tables that are not honoured: (table, values, why: ``no
    signature``, ``wrong signature``, ``revoked``, or that the manifest is unreadable)."""
    found = []
    for table in SEALED_TABLES:
        for row in _all_rows(backend, table):
            why = seal.why_not(table, row[:-1], row[-1])
            if why is not None:
                found.append((table, tuple(row[:-1]), why))
    return found


def access_problems(backend: Backend, seal: AccessSeal) -> list[Problem]:
    """Each row of the access tables that the store's key did not sign, as an
    ``access_altered`` problem: such a row is not honoured, but someone who could
    write the database put it there (or changed a signed one)."""
    problems = []
    if seal.revoked is None:  # verify names the manifest; the signatures still say much
        seal = replace(seal, revoked=frozenset())
    explained = {
        "no signature": "it carries no signature (added without the store's key, or made "
        "before access rows were signed: if you made it, `auditkit access STORE seal` "
        "signs it)",
        "wrong signature": "its signature is not the store key's over its values (forged, "
        "or edited since it was signed)",
        "revoked": "it was revoked (the signed manifest lists it) and put back",
    }
    for table, values, reason in unsealed_rows(backend, seal):
        columns = _columns(table)
        tenant = str(values[columns.index("tenant_id")]) if "tenant_id" in columns else ""
        why = explained.get(reason, reason)
        problems.append(
            Problem(
                ProblemKind.ACCESS_ALTERED,
                "" if tenant == ALL_TENANTS else tenant,
                None,
                None,
                f"{_describe(table, values)}: {why}; "
                + (
                    "PostgreSQL applies it all the same (row-level security reads the "
                    "table): drop the role (`auditkit access STORE db-role drop NAME`) "
                    "and make it again"
                    if table == "access_db_roles"
                    else "it is not honoured"
                ),
            )
        )
    return problems


def seal_rows(backend: Backend, seal: AccessSeal) -> list[tuple[str, tuple[Any, ...]]]:
    """Sign the rows that carry no signature (those of a store made before access rows
    were signed); rows whose signature is wrong are left as they are.  Returns the
    rows signed."""
    todo = [(t, v) for t, v, why in unsealed_rows(backend, seal) if why == "no signature"]
    statements = []
    for table, values in todo:
        keys, _ = SEALED_TABLES[table]
        where = " AND ".join(f"{k} = ?" for k in keys)
        statements.append(
            (
                f"UPDATE {table} SET signature = ? WHERE {where} AND signature IS NULL",
                (seal.sign(table, values), *values[: len(keys)]),
            )
        )
    if statements:
        _write(backend, statements)
    return todo


# -- who is asking -----------------------------------------------------------------------
def context_for(
    backend: Backend, principal_id: str, seal: AccessSeal, token: TokenInfo | None = None
) -> AccessContext:
    """The principal's current grants (read now), cut by its token's limits.

    Raises
    ------
    AccessDenied
        For an unknown principal (the same words whether or not it exists
        is not needed here: principals are not secret to the store's owner).
    """
    principal = get_principal(backend, principal_id, seal)
    if principal is None:
        raise AccessDenied(f"unknown principal {principal_id!r}")
    grants = tuple(list_grants(backend, seal, principal_id=principal_id))
    return AccessContext(
        principal,
        grants,
        scopes=token.scopes if token is not None else None,
        tenants=token.tenants if token is not None else None,
        token_id=token.token_id if token is not None else None,
    )


def authenticate(backend: Backend, text: str, seal: AccessSeal) -> TokenInfo:
    """The token whose text is ``text``, if it is valid, unexpired and not revoked.

    Every failure is the same :class:`AccessDenied` ("invalid or expired
    token"), which never repeats the text.
    """
    token_id, secret = parse_token(text)
    found = get_token(backend, token_id, seal)
    bad = AccessDenied("invalid, expired or revoked token")
    if found is None:
        secret_matches(secret, "0" * 64)  # same work either way
        raise bad
    info, digest = found
    if not secret_matches(secret, digest):
        raise bad
    if info.revoked_at is not None:
        raise bad
    if info.expires_at is not None and info.expires_at <= _now():
        raise bad
    return info


# -- redaction keys ----------------------------------------------------------------------
def redaction_keys(backend: Backend, tenants: Sequence[str], seal: AccessSeal) -> dict[str, str]:
    """Each tenant's redaction key, made (random, 256 bits, signed by ``seal``) when it
    has none.

    Raises
    ------
    TamperedError
        When a tenant's key row is not signed by the store's key: a key swapped for
        one someone chose is not used (``verify`` names the row).
    StoreError
        When a key must be made and ``seal`` does not hold the store's signing key.
    """
    if not tenants:
        return {}
    ensure_access_schema(backend)
    marks = ", ".join("?" * len(tenants))
    sql = (
        "SELECT tenant_id, key, created_at, signature FROM access_redaction_keys "
        f"WHERE tenant_id IN ({marks})"
    )

    def read() -> dict[str, str]:
        keys = {}
        for row in _rows(backend, sql, list(tenants)):
            why = seal.why_not("access_redaction_keys", row[:-1], row[-1])
            if why is not None:
                raise TamperedError(
                    f"the redaction key of tenant {row[0]!r} is not used: {why} (edited "
                    "in the database, or made before redaction keys were signed: "
                    "`auditkit verify` names it, `auditkit access STORE seal` signs a "
                    "key you made)"
                )
            keys[str(row[0])] = str(row[1])
        return keys

    keys = read()
    missing = [t for t in tenants if t not in keys]
    if missing:
        now = _now()
        ignore = "OR IGNORE " if backend.dialect == "sqlite" else ""
        conflict = "" if backend.dialect == "sqlite" else " ON CONFLICT DO NOTHING"
        made = [(t, secrets.token_hex(32), now) for t in missing]
        _write(
            backend,
            [
                (
                    f"INSERT {ignore}INTO access_redaction_keys "
                    f"(tenant_id, key, created_at, signature) VALUES (?, ?, ?, ?){conflict}",
                    (*values, seal.sign("access_redaction_keys", values)),
                )
                for values in made
            ],
        )
        keys = read()
    return keys


# -- PostgreSQL roles and row-level security ---------------------------------------------
@dataclass(frozen=True)
class DbRole:
    """A database role made for one tenant.  ``password`` is shown once, never stored."""

    name: str
    tenant_id: str
    can_append: bool
    password: str = ""

    def __repr__(self) -> str:
        return f"DbRole(name={self.name!r}, tenant_id={self.tenant_id!r}, password='***')"

    def url(self, store_url: str) -> str:
        """``store_url`` with this role's credentials instead of the owner's."""
        from sqlalchemy.engine import make_url

        return (
            make_url(store_url)
            .set(username=self.name, password=self.password)
            .render_as_string(hide_password=False)
        )


#: The group role every tenant role belongs to (its members are the ones RLS confines).
TENANT_GROUP: Final = "auditkit_tenant"
#: The conditions of the store's row-level security policies (verify compares them with
#: what the database holds): a tenant role sees its tenant's rows, other roles are not
#: confined, a role sees its own mapping.
MAPPED: Final = (
    "tenant_id = (SELECT m.tenant_id FROM access_db_roles m WHERE m.role_name = current_user::text)"
)
NOT_MEMBER: Final = f"NOT pg_has_role(current_user, '{TENANT_GROUP}', 'MEMBER')"
OWN_ROLE: Final = "role_name = current_user::text"
#: Tables a tenant role may read (its own rows of those with a tenant_id column).
_READABLE: Final = (
    "events",
    "merkle_tiles",
    "tree_heads",
    "checkpoints",
    "purges",
    "quarantine",
    "store_meta",
)
#: What the append path writes.
_APPEND: Final = (
    ("events", "INSERT"),
    ("merkle_tiles", "INSERT, UPDATE"),
    ("tree_heads", "INSERT, UPDATE"),
    ("checkpoints", "INSERT"),
)


def _ident(name: str) -> str:
    if not _ROLE_NAME.match(name):
        raise UsageError(
            f"database role name {name!r}: expected lower-case letters, digits and _ "
            "(at most 63, not starting with a digit)"
        )
    return f'"{name}"'


def _tenant_tables(conn: Any) -> tuple[list[str], list[str]]:
    """The store's tables with and without a ``tenant_id`` column."""
    cur = conn.cursor()
    cur.execute(
        "SELECT table_name, bool_or(column_name = 'tenant_id') FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s) GROUP BY table_name",
        (list(_READABLE),),
    )
    rows = cur.fetchall()
    return [r[0] for r in rows if r[1]], [r[0] for r in rows if not r[1]]


def _rls_statements(conn: Any) -> list[str]:
    """Row-level security on every table with a tenant column (idempotent).

    Members of ``auditkit_tenant`` see the rows of the tenant their role is
    mapped to (a role with no mapping sees none); other roles are not
    confined (the owner, and any role the installation already uses).
    """
    with_tenant, _ = _tenant_tables(conn)
    out = [
        "ALTER TABLE access_db_roles ENABLE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS auditkit_own_role ON access_db_roles",
        f"CREATE POLICY auditkit_own_role ON access_db_roles USING ({OWN_ROLE})",
        "DROP POLICY IF EXISTS auditkit_others ON access_db_roles",
        f"CREATE POLICY auditkit_others ON access_db_roles USING ({NOT_MEMBER})",
    ]
    for table in with_tenant:
        out += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS auditkit_tenant ON {table}",
            f"CREATE POLICY auditkit_tenant ON {table} TO {TENANT_GROUP} "
            f"USING ({MAPPED}) WITH CHECK ({MAPPED})",
            f"DROP POLICY IF EXISTS auditkit_others ON {table}",
            f"CREATE POLICY auditkit_others ON {table} USING ({NOT_MEMBER}) "
            f"WITH CHECK ({NOT_MEMBER})",
        ]
    return out


def create_db_role(
    backend: Backend,
    tenant: str,
    seal: AccessSeal,
    *,
    name: str | None = None,
    password: str | None = None,
    append: bool = False,
) -> DbRole:
    """Create a PostgreSQL login role confined to ``tenant`` by row-level security.

    It may read the tenant's rows of the events table and the tables beside it
    (tiles, tree head, checkpoints, purges, store metadata) and nothing of the
    access tables; with ``append`` it may also write what an append writes,
    for that tenant only (the immutability triggers still refuse UPDATE and
    DELETE of events and checkpoints).
    """
    if backend.dialect != "postgresql":
        raise UsageError(
            "database roles need PostgreSQL: a SQLite file has no users, so whoever "
            "can read the file is its owner (share a tenant's trail through "
            "PostgreSQL or `auditkit serve`)"
        )
    ensure_access_schema(backend)
    if not tenant or len(tenant) > 512:
        raise UsageError("db-role create: --tenant must name a tenant")
    if name is None:
        slug = re.sub(r"[^a-z0-9]+", "_", tenant.lower()).strip("_")[:30] or "t"
        name = f"auditkit_{slug}_{secrets.token_hex(3)}"
    role = _ident(name)
    secret = password if password is not None else secrets.token_urlsafe(24)
    values = (name, tenant, append, _now())
    signature = seal.sign("access_db_roles", values)  # before anything is made
    with backend.connect() as conn:
        cur = conn.cursor()
        try:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (TENANT_GROUP,))
            if not cur.fetchone():
                cur.execute(f"CREATE ROLE {TENANT_GROUP} NOLOGIN")
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
            if cur.fetchone():
                raise UsageError(f"database role {name!r} already exists")
            from psycopg import sql

            cur.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                    sql.Identifier(name), sql.Literal(secret), sql.Identifier(TENANT_GROUP)
                )
            )
            cur.execute(
                "INSERT INTO access_db_roles "
                "(role_name, tenant_id, can_append, created_at, signature) "
                "VALUES (%s, %s, %s, %s, %s)",
                (*values, signature),
            )
            for stmt in _rls_statements(conn):
                cur.execute(stmt)
            with_tenant, _ = _tenant_tables(conn)
            cur.execute(f"GRANT USAGE ON SCHEMA {_schema(conn)} TO {role}")
            for table in (*_READABLE, "access_db_roles"):
                if table in with_tenant or table in ("store_meta", "access_db_roles"):
                    cur.execute(f"GRANT SELECT ON {table} TO {role}")
            if append:
                for table, privileges in _APPEND:
                    cur.execute(f"GRANT {privileges} ON {table} TO {role}")
                cur.execute("SELECT pg_get_serial_sequence('checkpoints', 'id')")
                (seq,) = cur.fetchone()
                if seq:
                    cur.execute(f"GRANT USAGE ON SEQUENCE {seq} TO {role}")
            conn.commit()
        except UsageError:
            conn.rollback()
            raise
        except Exception as exc:
            conn.rollback()
            raise StoreError(f"cannot create database role {name!r}: {exc}") from exc
        finally:
            cur.close()
    return DbRole(name, tenant, append, secret)


def _schema(conn: Any) -> str:
    cur = conn.cursor()
    cur.execute("SELECT current_schema()")
    (schema,) = cur.fetchone()
    return '"' + str(schema).replace('"', '""') + '"'


def list_db_roles(backend: Backend) -> list[DbRole]:
    """The database roles made for tenants (without passwords)."""
    if backend.dialect != "postgresql":
        return []
    ensure_access_schema(backend)
    rows = _rows(
        backend, "SELECT role_name, tenant_id, can_append FROM access_db_roles ORDER BY role_name"
    )
    return [DbRole(str(r[0]), str(r[1]), bool(r[2])) for r in rows]


def drop_db_role(backend: Backend, name: str, revoked: Revoked) -> None:
    """Drop a tenant's database role and its grants.  ``revoked`` is given the digest
    of its row's signature in the same transaction, so that the row put back (for a
    role of that name made again) is not honoured."""
    if backend.dialect != "postgresql":
        raise UsageError("database roles need PostgreSQL")
    role = _ident(name)
    with backend.connect() as conn:
        cur = conn.cursor()
        try:
            cur.execute("SELECT 1 FROM access_db_roles WHERE role_name = %s", (name,))
            if not cur.fetchone():
                raise UsageError(f"no database role {name!r} made by auditkit")
            cur.execute("SELECT signature FROM access_db_roles WHERE role_name = %s", (name,))
            revoked(cur, [revoked_digest(str(r[0])) for r in cur.fetchall() if r[0]])
            cur.execute(f"DROP OWNED BY {role}")
            cur.execute(f"DROP ROLE IF EXISTS {role}")
            cur.execute("DELETE FROM access_db_roles WHERE role_name = %s", (name,))
            conn.commit()
        except UsageError:
            conn.rollback()
            raise
        except Exception as exc:
            conn.rollback()
            raise StoreError(f"cannot drop database role {name!r}: {exc}") from exc
        finally:
            cur.close()
