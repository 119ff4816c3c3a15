"""Principals, roles, the permission matrix, and the one function that checks it.

Roles are granted per tenant, except ``operator``, which is store-wide (the
provider's own staff).  What each role may do is data (:data:`PERMISSIONS`),
and every path that reads or changes the trail asks :func:`check`.

What this module guarantees: :func:`check` allows a permission on a tenant only
when the principal holds a role on that tenant (or a store-wide role) whose row
of the matrix has it, the principal is enabled, and the token it came with (if
any) is scoped to that permission and tenant.  It trusts the grants it is given:
the store reads them fresh for each operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from auditkit.errors import AccessDenied, UsageError

__all__ = [
    "ALL_TENANTS",
    "GRANTABLE",
    "PERMISSIONS",
    "REQUIRES",
    "STORE_WIDE",
    "AccessContext",
    "Decision",
    "Grant",
    "Permission",
    "Principal",
    "PrincipalKind",
    "Role",
    "check",
    "parse_permissions",
    "parse_role",
    "validate_principal_id",
]


class Permission(StrEnum):
    """What a role lets a principal do on a tenant's trail."""

    READ = "read"  #: load, scan, page through events (redacted unless READ_UNREDACTED)
    READ_UNREDACTED = "read_unredacted"  #: see IPs, e-mails and changes as stored
    EXPORT = "export"  #: export files (redacted unless READ_UNREDACTED)
    REPORT = "report"  #: compliance reports (redacted unless READ_UNREDACTED)
    DETECT = "detect"  #: run detections, see findings
    PROVE = "prove"  #: inclusion and consistency proofs (they carry the raw record)
    WRITE = "write"  #: append events
    MANAGE = "manage"  #: grant and revoke roles, create and revoke tokens


class Role(StrEnum):
    """The roles, from most to least powerful; ``operator`` is store-wide."""

    OWNER = "owner"
    ADMIN = "admin"
    AUDITOR = "auditor"
    ANALYST = "analyst"
    VIEWER = "viewer"
    PRODUCER = "producer"
    OPERATOR = "operator"


class PrincipalKind(StrEnum):
    """A person or a service account."""

    PERSON = "person"
    SERVICE = "service"


_P = Permission
#: The permission matrix: what each role may do (the table in ``docs/access.md``).
PERMISSIONS: Final[Mapping[Role, frozenset[Permission]]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset(
        {_P.READ, _P.READ_UNREDACTED, _P.EXPORT, _P.REPORT, _P.DETECT, _P.PROVE}
    ),
    Role.ANALYST: frozenset({_P.READ, _P.EXPORT, _P.REPORT, _P.DETECT}),
    Role.VIEWER: frozenset({_P.READ}),
    Role.PRODUCER: frozenset({_P.WRITE}),
    Role.OPERATOR: frozenset(
        {_P.READ, _P.READ_UNREDACTED, _P.REPORT, _P.DETECT, _P.PROVE, _P.MANAGE}
    ),
}

#: Permissions that are only usable together with others (a proof carries the raw
#: record, so a token scoped to ``prove`` without ``read_unredacted`` gets no proof).
REQUIRES: Final[Mapping[Permission, frozenset[Permission]]] = {
    Permission.PROVE: frozenset({Permission.READ_UNREDACTED}),
}

#: Roles granted on the whole store rather than on one tenant.
STORE_WIDE: Final = frozenset({Role.OPERATOR})

#: Which roles a holder of MANAGE may grant or revoke, by the role it holds there.
GRANTABLE: Final[Mapping[Role, frozenset[Role]]] = {
    Role.OWNER: frozenset(Role) - STORE_WIDE,
    Role.ADMIN: frozenset(Role) - STORE_WIDE - {Role.OWNER},
    Role.OPERATOR: frozenset(Role) - STORE_WIDE,
}

#: The tenant column value of a store-wide grant.
ALL_TENANTS: Final = "*"

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+\-]{0,199}\Z")


def validate_principal_id(principal_id: str) -> str:
    """Return ``principal_id`` if it is a usable name, else raise :class:`UsageError`.

    Letters, digits and ``. _ @ + -``, starting with a letter or digit, at most
    200 characters: safe in a terminal, a URL and a shell line.

    Examples
    --------
    >>> validate_principal_id("alice@example.com")
    'alice@example.com'
    >>> validate_principal_id("bob; rm -rf /")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: principal id 'bob; rm -rf /': expected letters, digits and ...
    """
    if not isinstance(principal_id, str) or not _ID.match(principal_id):
        raise UsageError(
            f"principal id {principal_id!r}: expected letters, digits and . _ @ + - "
            "(at most 200, starting with a letter or digit)"
        )
    return principal_id


def parse_role(name: str) -> Role:
    """The role called ``name`` (case-insensitive), or :class:`UsageError`.

    Examples
    --------
    >>> parse_role("Auditor")
    <Role.AUDITOR: 'auditor'>
    >>> parse_role("root")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: unknown role 'root'; known: owner, admin, auditor, analyst, ...
    """
    try:
        return Role(str(name).strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise UsageError(f"unknown role {name!r}; known: {known}") from None


def parse_permissions(names: Iterable[str]) -> frozenset[Permission]:
    """Permissions from their names (token scopes), or :class:`UsageError`.

    Examples
    --------
    >>> sorted(parse_permissions(["read", "export"]))
    [<Permission.EXPORT: 'export'>, <Permission.READ: 'read'>]
    """
    out = set()
    for name in names:
        try:
            out.add(Permission(str(name).strip().lower()))
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise UsageError(f"unknown permission {name!r}; known: {known}") from None
    return frozenset(out)


@dataclass(frozen=True)
class Principal:
    """A person or service account that may be granted roles.

    Attributes
    ----------
    id
        The principal's name (see :func:`validate_principal_id`).
    kind
        ``person`` or ``service``.
    name, email
        For people reading the grants; never used to decide anything.
    """

    id: str
    kind: PrincipalKind = PrincipalKind.PERSON
    name: str | None = None
    email: str | None = None
    created_at: str | None = None
    disabled: bool = False

    def actor(self) -> dict[str, str]:
        """The principal as an event's ``actor`` object.

        Examples
        --------
        >>> Principal("svc-siem", PrincipalKind.SERVICE).actor()
        {'id': 'svc-siem', 'type': 'service'}
        """
        kind = "user" if self.kind is PrincipalKind.PERSON else "service"
        out = {"id": self.id, "type": kind}
        if self.name:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class Grant:
    """A role held by a principal on a tenant (``tenant_id == "*"`` for store-wide roles)."""

    principal_id: str
    tenant_id: str
    role: Role
    granted_at: str | None = None
    granted_by: str | None = None


@dataclass(frozen=True)
class AccessContext:
    """Who is asking, and what they hold: the input of :func:`check`.

    Attributes
    ----------
    principal
        The principal.
    grants
        Its grants, as read from the store for this operation.
    scopes
        The permissions its token is limited to (``None``: no token, or an
        unrestricted one).
    tenants
        The tenants its token is limited to (``None``: all it holds roles on).
    token_id
        The public id of the token used, if any (never the secret).
    """

    principal: Principal
    grants: tuple[Grant, ...] = ()
    scopes: frozenset[Permission] | None = None
    tenants: frozenset[str] | None = None
    token_id: str | None = None
    _by_tenant: dict[str, tuple[Role, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def roles_on(self, tenant: str) -> tuple[Role, ...]:
        """The roles the principal holds on ``tenant`` (store-wide ones included).

        Examples
        --------
        >>> ctx = AccessContext(Principal("a"), (Grant("a", "acme", Role.VIEWER),))
        >>> ctx.roles_on("acme"), ctx.roles_on("globex")
        ((<Role.VIEWER: 'viewer'>,), ())
        """
        cached = self._by_tenant.get(tenant)
        if cached is None:
            cached = tuple(
                sorted(
                    {g.role for g in self.grants if g.tenant_id in (tenant, ALL_TENANTS)},
                    key=list(Role).index,
                )
            )
            self._by_tenant[tenant] = cached
        return cached

    @property
    def store_wide(self) -> bool:
        """Whether the principal holds a store-wide role (it may see every tenant)."""
        return any(g.tenant_id == ALL_TENANTS for g in self.grants)

    def granted_tenants(self) -> tuple[str, ...]:
        """The tenants named in the principal's per-tenant grants."""
        return tuple(sorted({g.tenant_id for g in self.grants if g.tenant_id != ALL_TENANTS}))

    def permissions_on(self, tenant: str) -> frozenset[Permission]:
        """What the principal may do on ``tenant`` (roles, cut by the token's scopes).

        Examples
        --------
        >>> ctx = AccessContext(Principal("a"), (Grant("a", "acme", Role.ANALYST),),
        ...                     scopes=frozenset({Permission.READ}))
        >>> sorted(ctx.permissions_on("acme"))
        [<Permission.READ: 'read'>]
        """
        if self.principal.disabled:
            return frozenset()
        if self.tenants is not None and tenant not in self.tenants:
            return frozenset()
        held: frozenset[Permission] = frozenset().union(
            *(PERMISSIONS[r] for r in self.roles_on(tenant))
        )
        return held & self.scopes if self.scopes is not None else held


@dataclass(frozen=True)
class Decision:
    """An allowed permission on a tenant, and whether what is read is redacted."""

    principal_id: str
    permission: Permission
    tenant: str
    roles: tuple[Role, ...]
    redacted: bool


def check(context: AccessContext, permission: Permission | str, tenant: str) -> Decision:
    """Decide whether ``context`` may use ``permission`` on ``tenant``; raise if not.

    Every access path calls this one function.  The error names the missing
    permission and says the same thing whether or not the tenant exists, so a
    denial never tells an outsider which tenants there are.

    Raises
    ------
    AccessDenied
        One line: who, what, which tenant, and why.

    Examples
    --------
    >>> ctx = AccessContext(Principal("ann"), (Grant("ann", "acme", Role.ANALYST),))
    >>> check(ctx, "read", "acme").redacted
    True
    >>> check(ctx, "prove", "acme")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.AccessDenied: principal 'ann' may not prove on ...: ... (roles there: analyst)
    >>> check(ctx, "read", "globex")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.AccessDenied: ... 'globex': needs permission 'read' (holds no role there)
    """
    perm = Permission(permission)
    who = context.principal.id
    allowed = context.permissions_on(tenant)
    if perm in allowed and REQUIRES.get(perm, frozenset()) <= allowed:
        return Decision(
            who,
            perm,
            tenant,
            context.roles_on(tenant),
            redacted=Permission.READ_UNREDACTED not in allowed,
        )
    roles = context.roles_on(tenant)
    if context.principal.disabled:
        why = "the principal is disabled"
    elif context.tenants is not None and tenant not in context.tenants:
        why = "the token is not for that tenant"
    elif not roles:
        why = "holds no role there"
    elif context.scopes is not None and any(
        perm in PERMISSIONS[r] and REQUIRES.get(perm, frozenset()) <= PERMISSIONS[r] for r in roles
    ):
        why = "the token's scopes leave it out"
    else:
        why = "roles there: " + ", ".join(r.value for r in roles)
    raise AccessDenied(
        f"principal {who!r} may not {perm.value} on tenant {tenant!r}: "
        f"needs permission {perm.value!r} ({why})"
    )
