"""``auditkit review`` and ``auditkit finding resolve``: review and disposition records.

::

    auditkit review STORE --tenant T --period START..END --reviewer NAME [--note TEXT]
    auditkit finding resolve STORE FINDING_ID --tenant T
                     --disposition remediated|false_positive|accepted_risk
                     --ticket REF --by NAME [--note TEXT]

Each appends one event to the tenant's own audit trail (``audit_log.review`` or
``finding.resolve``, see :mod:`auditkit.reports.records`) through ``Store.append``: it
is hashed into the tenant's signed Merkle tree like any event, so it cannot be added,
back-dated or removed later without ``auditkit verify`` naming it.  Its time is the
time of recording.  Compliance reports use these records for the daily-review and
incident-response controls.  Exit codes: 0 recorded; 2 usage or input errors.
"""

from __future__ import annotations

import argparse

from auditkit.commands.base import (
    command,
    open_store,
    period_option,
    print_json,
    store_name,
    tenant_name,
)

__all__: list[str] = []


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--key", metavar="FILE", help="signing key file (default: STORE.key, or $AUDITKIT_KEY)"
    )
    p.add_argument(
        "--tenant",
        required=True,
        type=tenant_name,
        metavar="T",
        help="the tenant whose trail it is",
    )
    p.add_argument("--note", metavar="TEXT", help="what was looked at, what was found")
    p.add_argument("--json", action="store_true", help="print the recorded event as JSON")


def _review_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "store", metavar="STORE", type=store_name, help="SQLite file path or postgresql:// URL"
    )
    _common(p)
    p.add_argument(
        "--period",
        required=True,
        metavar="START..END",
        help="the days reviewed, both included (e.g. 2026-03-02..2026-03-02, or 1d)",
    )
    p.add_argument("--reviewer", required=True, metavar="NAME", help="who reviewed")


def _record(args: argparse.Namespace, event: dict[str, object], finding: str | None = None) -> int:
    from auditkit.errors import UsageError

    store = open_store(args)
    try:
        store.tenants()  # the store must exist and be readable
        known = set(store.tenants())
        if args.tenant not in known:
            raise UsageError(f"unknown tenant {args.tenant!r}: the store holds no trail for it")
        if finding is not None:
            # a signed disposition cannot be taken back: of a finding the tenant has
            from auditkit.analytics import run_detectors

            found = run_detectors(store.load(args.tenant))
            if finding not in set(found["finding_id"].to_list()):
                raise UsageError(
                    f"no finding {finding} among the findings of tenant {args.tenant!r} today (as "
                    f"`auditkit detect STORE --tenant {args.tenant}` lists them): nothing "
                    "was recorded"
                )
        store.append([event])
    finally:
        store.close()
    if args.json:
        print_json(event)
    else:
        print(f"recorded {event['action']} {event['event_id']} in {args.tenant}'s trail")
        print(f"  {event['description']}")
    return 0


@command(
    "review", "record that a person reviewed a tenant's audit trail for a period (signed event)"
)(_review_args)
def _review(args: argparse.Namespace) -> int:
    from auditkit.reports.records import review_event

    period_option(args.period)  # one line naming --period, before the store is opened
    event = review_event(
        tenant=args.tenant, period=args.period, reviewer=args.reviewer, note=args.note
    )
    return _record(args, event)


def _finding_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["resolve"], help="resolve: record a disposition")
    p.add_argument(
        "store", metavar="STORE", type=store_name, help="SQLite file path or postgresql:// URL"
    )
    p.add_argument("finding_id", metavar="FINDING_ID", help="16 hex digits, as reports show")
    _common(p)
    p.add_argument(
        "--disposition",
        required=True,
        choices=["remediated", "false_positive", "accepted_risk"],
        help="what the finding turned out to be",
    )
    p.add_argument("--ticket", required=True, metavar="REF", help="ticket or change reference")
    p.add_argument("--by", required=True, metavar="NAME", help="who decided (the owner)")


@command(
    "finding", "record the disposition of a detection finding: 'finding resolve STORE ID ...'"
)(_finding_args)
def _finding(args: argparse.Namespace) -> int:
    from auditkit.reports.records import disposition_event

    event = disposition_event(
        tenant=args.tenant,
        finding_id=args.finding_id,
        disposition=args.disposition,
        ticket=args.ticket,
        by=args.by,
        note=args.note,
    )
    return _record(args, event, finding=args.finding_id)
