"""``auditkit retention STORE show|set|apply``: per-tenant retention policies, and
applying them (seal old events into the cold tier, purge those past the keep period).

* ``show [--tenant T] [--json]``: the store default and the policy in force per tenant,
  with hot and cold event counts;
* ``set [--tenant T] [--hot-days N] [--keep-days N] [--legal-hold on|off --reason TEXT]``:
  change a tenant's policy (without ``--tenant``: the store default); ``N`` is a number
  of days or ``forever``; the change is recorded in the tenant's signed trail;
* ``apply [--dry-run] [--tenant T] [--json]``: seal and purge, with a progress bar and a
  summary per tenant (events sealed, segments written, events purged).

Exit codes: 0 done, 2 usage error (or a store whose trail does not verify: nothing is
sealed or purged from a tampered tenant).
"""

from __future__ import annotations

import argparse
import sys

from auditkit.commands.base import (
    command,
    open_store,
    print_json,
    progress_argument,
    progress_bar,
    store_argument,
    tenant_name,
    terminal_text,
)
from auditkit.errors import UsageError

__all__: list[str] = []

_ACTIONS = ("show", "set", "apply")


def _days(text: str) -> int | None:
    if text.strip().lower() in ("forever", "none", "never"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of days or 'forever', got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more days, got {value}")
    if value > _MAX_DAYS:  # the store's own bound; past it, say 'forever'
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise argparse.ArgumentTypeError(
            f"expected at most {_MAX_DAYS} days, or 'forever', got {shown}"
        )
    return value


_MAX_DAYS = 366_000


def _retention_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument("action", choices=_ACTIONS, help="show, set or apply the policies")
    p.add_argument(
        "--tenant",
        action="append",
        type=tenant_name,
        metavar="T",
        help="the tenant (repeatable for show and apply; set without it changes the default)",
    )
    p.add_argument(
        "--hot-days",
        type=_days,
        metavar="N",
        default=argparse.SUPPRESS,
        help="set: days kept hot in the database before sealing (or 'forever')",
    )
    p.add_argument(
        "--keep-days",
        type=_days,
        metavar="N",
        default=argparse.SUPPRESS,
        help="set: days kept at all before purging (or 'forever')",
    )
    p.add_argument(
        "--legal-hold",
        choices=("on", "off"),
        help="set: a legal hold blocks every purge of the tenant",
    )
    p.add_argument("--reason", metavar="TEXT", help="set: why the legal hold is on")
    p.add_argument("--dry-run", action="store_true", help="apply: only count what would happen")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    progress_argument(p)  # fmt: skip


@command("retention", "retention policies per tenant: show, set, apply (seal, purge)")(
    _retention_args
)
def _retention(args: argparse.Namespace) -> int:
    action = args.action
    if action != "set":
        given = [
            f"--{n.replace('_', '-')}" for n in ("hot_days", "keep_days") if hasattr(args, n)
        ] + [f"--{n.replace('_', '-')}" for n in ("legal_hold", "reason") if getattr(args, n)]
        if given:
            raise UsageError(f"{', '.join(given)}: only with `retention STORE set`")
    if action != "apply" and args.dry_run:
        raise UsageError("--dry-run: only with `retention STORE apply`")
    store = open_store(args)
    if action == "show":
        return _show(store, args)
    if action == "set":
        return _set(store, args)
    return _apply(store, args)


def _show(store: object, args: argparse.Namespace) -> int:
    from auditkit.store import Store, display_url

    assert isinstance(store, Store)
    tenants = args.tenant
    policies = (
        [p for t in tenants for p in store.retention_policies(t)]
        if tenants
        else store.retention_policies()
    )
    rows = []
    for p in policies:
        row = p.to_dict()
        if p.tenant_id != "*":
            hot, cold = store.tier_counts(p.tenant_id)
            row |= {"events": hot + cold, "hot": hot, "cold": cold}
        rows.append(row)
    if args.json:
        print_json({"cold_url": display_url(store.cold_url), "policies": rows})
        return 0
    shown = terminal_text(display_url(store.cold_url)) or "(none: name one with init --cold)"
    print(f"cold tier: {shown}")
    for p, row in zip(policies, rows, strict=True):
        name = "(default)" if p.tenant_id == "*" else terminal_text(p.tenant_id)
        inherited = " (the default)" if p.inherited else ""
        counts = f"; {row['hot']} hot, {row['cold']} cold" if "hot" in row else ""
        print(f"{name}: {terminal_text(p.describe())}{inherited}{counts}")
    return 0


def _set(store: object, args: argparse.Namespace) -> int:
    from auditkit.store import Store

    assert isinstance(store, Store)
    if args.tenant and len(args.tenant) > 1:
        raise UsageError("--tenant: set changes one tenant's policy at a time")
    hot, keep = getattr(args, "hot_days", "keep"), getattr(args, "keep_days", "keep")
    if hot == "keep" and keep == "keep" and args.legal_hold is None:
        raise UsageError("set: give --hot-days, --keep-days or --legal-hold")
    if args.legal_hold == "on" and not (args.reason or "").strip():
        raise UsageError("--legal-hold on: give the reason (--reason TEXT)")
    if args.legal_hold == "off" and args.reason:
        raise UsageError("--reason goes with --legal-hold on")
    tenant = args.tenant[0] if args.tenant else "*"
    hold = None if args.legal_hold is None else args.legal_hold == "on"
    policy = store.set_retention(
        tenant, hot_days=hot, keep_days=keep, legal_hold=hold,
        reason=args.reason,
    )  # fmt: skip
    if args.json:
        print_json(policy.to_dict())
    else:
        name = "store default" if tenant == "*" else f"tenant {terminal_text(tenant)}"
        print(f"{name}: {terminal_text(policy.describe())} (recorded in the signed trail)")
    return 0


def _apply(store: object, args: argparse.Namespace) -> int:
    from auditkit.store import Store

    assert isinstance(store, Store)
    tenants = args.tenant
    total = sum(store.count(t) for t in (tenants or store.tenants()))
    with progress_bar(args, desc="retention", total=total) as tick:
        result = store.apply_retention(tenants, dry_run=args.dry_run, progress=tick)
    if args.json:
        print_json(result.to_dict())
    else:
        for line in result.summary().splitlines():
            print(terminal_text(line))
    refused = [t.tenant_id for t in result.tenants if t.blocked and "signed trail" in t.blocked]
    if refused:
        # a policy table that disagrees with the signed trail is tampering: scripts must see it
        print(
            terminal_text(
                f"auditkit retention: TAMPERED: the policy of {', '.join(refused)} in the "
                "database is not the signed one; nothing was sealed or purged for it"
            ),
            file=sys.stderr,
        )
        return 1
    return 0
