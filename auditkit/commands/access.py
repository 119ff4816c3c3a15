"""``auditkit access STORE ...``: principals, roles, API tokens and database roles.

::

    auditkit access STORE principal add ID [--kind person|service] [--name N] [--email E]
    auditkit access STORE principal list [--json]
    auditkit access STORE grant PRINCIPAL --tenant T --role R
    auditkit access STORE revoke PRINCIPAL --tenant T --role R
    auditkit access STORE grants [--tenant T] [--principal P] [--json]
    auditkit access STORE token create PRINCIPAL [--expires 90d|never] [--scope S]...
                                                 [--tenant T]... [--note TEXT] [--json]
    auditkit access STORE token list [--principal P] [--json]
    auditkit access STORE token revoke TOKEN_ID
    auditkit access STORE db-role create --tenant T [--name N] [--append] [--json]
    auditkit access STORE db-role list [--json] | db-role drop NAME
    auditkit access STORE seal [--yes]
    auditkit access STORE matrix

Every row of principals, grants and tokens is signed with the store's key; a row
without a valid signature (added or changed in the database by someone without
the key) is not honoured.  ``seal`` lists such rows, and with ``--yes`` signs the
ones that carry no signature at all: those of a store made before rows were
signed (review them first: a forged row looks the same).  It exits 1 while a row
remains that is not honoured.
Without ``AUDITKIT_TOKEN`` in the environment the command acts as the local
owner; with it, as that token's principal (a tenant's admin managing its own
people), checked like any other access.  A token is printed once, by
``token create``, and never again: nothing else prints or logs one.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from auditkit.commands.base import command, print_json, store_argument, tenant_name
from auditkit.errors import UsageError

__all__: list[str] = []


def _clean(value: object) -> str:
    """A value for a terminal line: control characters shown escaped."""
    text = "" if value is None else str(value)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _args(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = (
        "Acts as the local owner, or as the principal of the token in $AUDITKIT_TOKEN.\n"
        "Roles: owner, admin, auditor, analyst, viewer, producer (per tenant); operator\n"
        "(store-wide). `auditkit access STORE matrix` prints what each may do."
    )
    store_argument(p)
    sub = p.add_subparsers(dest="what", metavar="WHAT", required=True)

    principal = sub.add_parser("principal", help="add or list principals")
    psub = principal.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = psub.add_parser("add", help="add a person or service account")
    add.add_argument("principal_id", metavar="ID", help="e.g. ann@example.com or svc-siem")
    add.add_argument("--kind", choices=["person", "service"], default="person")
    add.add_argument("--name", help="display name")
    add.add_argument("--email", help="e-mail address")
    lst = psub.add_parser("list", help="list principals")
    lst.add_argument("--json", action="store_true", help="print JSON")

    for verb in ("grant", "revoke"):
        g = sub.add_parser(verb, help=f"{verb} a role on a tenant")
        g.add_argument("principal_id", metavar="PRINCIPAL")
        g.add_argument(
            "--tenant", type=tenant_name, help="the tenant (not for the store-wide operator role)"
        )
        g.add_argument("--role", required=True, help="owner, admin, auditor, analyst, ...")
        if verb == "grant":
            g.add_argument(
                "--new-tenant",
                action="store_true",
                help="the tenant has no trail yet: start it with this grant (a customer "
                "onboarded before its first events)",
            )

    grants = sub.add_parser("grants", help="list current grants")
    grants.add_argument("--tenant", type=tenant_name)
    grants.add_argument("--principal")
    grants.add_argument("--json", action="store_true", help="print JSON")

    token = sub.add_parser("token", help="create, list or revoke API tokens")
    tsub = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = tsub.add_parser("create", help="create a token (printed once)")
    create.add_argument("principal_id", metavar="PRINCIPAL")
    create.add_argument(
        "--expires", default="90d", help="lifetime like 90d, 12h, or 'never' (default 90d)"
    )
    create.add_argument(
        "--scope",
        action="append",
        metavar="PERMISSION",
        help="limit the token to this permission (repeatable): read, export, ...",
    )
    create.add_argument(
        "--tenant",
        action="append",
        type=tenant_name,
        metavar="T",
        help="limit the token to this tenant",
    )
    create.add_argument("--note", help="what the token is for")
    create.add_argument("--json", action="store_true", help="print JSON")
    tlist = tsub.add_parser("list", help="list tokens (never their secrets)")
    tlist.add_argument("--principal")
    tlist.add_argument("--json", action="store_true", help="print JSON")
    trev = tsub.add_parser("revoke", help="revoke a token")
    trev.add_argument("token_id", metavar="TOKEN_ID")

    db = sub.add_parser("db-role", help="PostgreSQL roles confined to one tenant")
    dsub = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    dcreate = dsub.add_parser("create", help="create a login role that sees one tenant")
    dcreate.add_argument("--tenant", required=True, type=tenant_name)
    dcreate.add_argument("--name", help="role name (default: auditkit_<tenant>_<random>)")
    dcreate.add_argument(
        "--append", action="store_true", help="also let it append (the append path only)"
    )
    dcreate.add_argument("--json", action="store_true", help="print JSON")
    dlist = dsub.add_parser("list", help="list the roles made for tenants")
    dlist.add_argument("--json", action="store_true", help="print JSON")
    ddrop = dsub.add_parser("drop", help="drop a role made for a tenant")
    ddrop.add_argument("name", metavar="NAME")

    seal = sub.add_parser(
        "seal", help="list access rows the store's key did not sign; --yes signs unsigned ones"
    )
    seal.add_argument(
        "--yes", action="store_true",
        help="sign the rows that carry no signature (from a store made before rows were signed)",
    )  # fmt: skip
    sub.add_parser("matrix", help="print the permission matrix")


def _open(args: argparse.Namespace) -> Any:
    from auditkit.store import Store

    store = Store.open(args.store, key=args.key)
    token = os.environ.get("AUDITKIT_TOKEN")
    return store.bind(token=token, via="cli") if token else store


def _row_text(table: str, values: tuple[Any, ...]) -> str:
    names = {"access_principals": "principal", "access_grants": "grant", "access_tokens": "token"}
    if table == "access_grants":
        shown = f"{_clean(values[0])} {_clean(values[2])} on {_clean(values[1])}"
    elif table == "access_tokens":
        shown = f"{_clean(values[0])} of {_clean(values[1])}"
    else:
        shown = _clean(values[0])
    return f"{names[table]:<9} {shown}"


def _seal(store: Any, yes: bool) -> int:
    rows = store.unsealed_access()
    if yes:
        signed = store.seal_access()
        for table, values in signed:
            print(f"signed    {_row_text(table, values)}")
        rows = store.unsealed_access()
    shown = {"wrong signature": "wrong signature (forged or edited)",
             "revoked": "revoked, and put back"}  # fmt: skip
    for table, values, why in rows:
        print(f"{_row_text(table, values)}: {shown.get(why, why)}, not honoured")
    if not rows:
        print("every access row is signed by the store's key")
        return 0
    unsigned = sum(1 for *_, why in rows if why == "no signature")
    if unsigned and not yes:
        sys.stderr.write(
            f"{unsigned} row(s) carry no signature: if they are yours (made before access rows "
            "were signed), run again with --yes to sign them\n"
        )
    if len(rows) > unsigned:
        sys.stderr.write(
            f"{len(rows) - unsigned} row(s) are forged, edited or revoked: remove them, and "
            "grant again what should be (`auditkit verify` names them too)\n"
        )
    return 1


def _warn_unsealed(store: Any) -> None:
    """On the owner's listings, say when rows were left out for want of a signature."""
    from auditkit.errors import AccessDenied, StoreError

    try:
        n = len(store.unsealed_access())
    except (AccessDenied, StoreError):  # a principal's handle: not its to review
        return
    if n:
        sys.stderr.write(
            f"warning: {n} access row(s) are not honoured (unsigned, edited or revoked) and "
            "not listed (`auditkit access STORE seal` shows them)\n"
        )


def _matrix() -> int:
    from auditkit.access import PERMISSIONS, STORE_WIDE, Permission

    perms = list(Permission)
    width = max(len(p.value) for p in perms)
    print(f"{'role':<10} " + " ".join(f"{p.value:^{len(p.value)}}" for p in perms))
    for role, held in PERMISSIONS.items():
        marks = " ".join(f"{'x' if p in held else '.':^{len(p.value)}}" for p in perms)
        scope = " (store-wide)" if role in STORE_WIDE else ""
        print(f"{role.value:<10} {marks}{scope}")
    del width
    return 0


@command("access", "principals, roles, API tokens and database roles (role-based access)")(_args)
def _access(args: argparse.Namespace) -> int:
    if args.what == "matrix":
        return _matrix()
    store = _open(args)
    what, action = args.what, getattr(args, "action", None)
    if what == "seal":
        return _seal(store, args.yes)
    if (what, action) in {("principal", "list"), ("grants", None), ("token", "list")}:
        _warn_unsealed(store)
    if what == "principal" and action == "add":
        p = store.add_principal(args.principal_id, kind=args.kind, name=args.name, email=args.email)
        print(f"added principal {p.id} ({p.kind.value})")
    elif what == "principal":
        rows = store.principals()
        if args.json:
            print_json([{**p.__dict__, "kind": p.kind.value} for p in rows])
        _none_yet(args, rows, "no principals (add one: access STORE principal add ID)")
        for p in [] if args.json else rows:
            state = " (disabled)" if p.disabled else ""
            extra = " ".join(_clean(x) for x in (p.name, p.email) if x)
            print(f"{p.id:<32} {p.kind.value:<8} {extra}{state}")
    elif what in ("grant", "revoke"):
        from auditkit.access import STORE_WIDE, parse_role

        role = parse_role(args.role)
        if role in STORE_WIDE:
            if args.tenant not in (None, "*"):
                raise UsageError(f"role {role.value!r} is store-wide: leave out --tenant")
            tenant = "*"
        elif not args.tenant:
            raise UsageError(f"{what}: --tenant is required for role {role.value!r}")
        else:
            tenant = args.tenant
        where = "the whole store" if tenant == "*" else f"tenant {tenant}"
        if tenant != "*" and not (what == "grant" and args.new_tenant):
            _known(store, tenant, "" if what == "revoke" else " (--new-tenant starts its trail)")
        if what == "grant":
            store.grant(args.principal_id, tenant, role)
            print(f"granted {role.value} on {where} to {args.principal_id}")
        elif store.revoke(args.principal_id, tenant, role):
            print(f"revoked {role.value} on {where} from {args.principal_id}")
        else:
            print(f"{args.principal_id} did not hold {role.value} on {where}")
    elif what == "grants":
        grants = store.grants(args.tenant, args.principal)
        if args.json:
            print_json([{**g.__dict__, "role": g.role.value} for g in grants])
        _none_yet(args, grants, "no grants")
        for g in [] if args.json else grants:
            print(f"{g.principal_id:<32} {g.role.value:<9} {_clean(g.tenant_id)}")
    elif what == "token" and action == "create":
        expires = None if args.expires.lower() == "never" else args.expires
        for tenant in args.tenant or []:
            _known(store, tenant, "")
        tok = store.create_token(
            args.principal_id, expires=expires, scopes=args.scope, tenants=args.tenant,
            note=args.note,
        )  # fmt: skip
        info = next(t for t in store.tokens(args.principal_id) if t.token_id == tok.token_id)
        if args.json:
            print_json({"token": tok.text, **info.to_dict()})
        else:
            print(tok.text)
            sys.stderr.write(
                f"token {tok.token_id} for {args.principal_id}, expires "
                f"{info.expires_at or 'never'}: store it now, it is not shown again\n"
            )
    elif what == "token" and action == "list":
        tokens = store.tokens(args.principal)
        if args.json:
            print_json([t.to_dict() for t in tokens])
        from auditkit.schema import format_timestamp

        now = format_timestamp(datetime.now(UTC))
        _none_yet(args, tokens, "no tokens")
        for t in [] if args.json else tokens:
            if t.revoked_at:
                state = "revoked"
            elif t.expires_at is not None and t.expires_at <= now:
                state = f"expired {t.expires_at}"
            else:
                state = f"expires {t.expires_at or 'never'}"
            scopes = ",".join(sorted(p.value for p in t.scopes)) if t.scopes else "all"
            reach = f" tenants={','.join(sorted(t.tenants))}" if t.tenants is not None else ""
            print(f"{t.token_id}  {t.principal_id:<24} scopes={scopes:<12} {state}{reach}")
    elif what == "token":
        info = store.revoke_token(args.token_id)
        print(f"revoked token {info.token_id} of {info.principal_id}")
    elif what == "db-role" and action == "create":
        role = store.create_db_role(args.tenant, name=args.name, append=args.append)
        if args.json:
            print_json(
                {
                    "role": role.name,
                    "password": role.password,
                    "tenant_id": role.tenant_id,
                    "append": role.can_append,
                }
            )
        else:
            print(f"role:     {role.name}")
            print(f"password: {role.password}")
            sys.stderr.write(
                f"created database role {role.name} for tenant {_clean(role.tenant_id)}"
                f"{' (may append)' if role.can_append else ' (read only)'}: "
                "store the password now, it is not shown again\n"
            )
    elif what == "db-role" and action == "list":
        roles = store.db_roles()
        if args.json:
            print_json(
                [{"role": r.name, "tenant_id": r.tenant_id, "append": r.can_append} for r in roles]
            )
        _none_yet(args, roles, "no database roles")
        for r in [] if args.json else roles:
            print(f"{r.name:<40} {_clean(r.tenant_id):<24} {'append' if r.can_append else 'read'}")
    elif what == "db-role":
        store.drop_db_role(args.name)
        print(f"dropped database role {args.name}")
    return 0


def _known(store: Any, tenant: str, hint: str) -> None:
    """An unknown tenant (a typo) is an error, as for every command: a grant or a token
    would otherwise start a trail for it."""
    from auditkit.store import Store

    if type(store) is not Store:
        return  # a token's principal: its permissions decide, and say nothing of others
    if tenant not in store.tenants():
        raise UsageError(f"unknown tenant {tenant!r}: the store holds no trail for it{hint}")


def _none_yet(args: argparse.Namespace, rows: Sequence[object], message: str) -> None:
    """An empty list said on stderr (stdout stays empty for a script), not a blank."""
    if not rows and not args.json:
        sys.stderr.write(f"{message}\n")
