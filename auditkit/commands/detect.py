"""``auditkit detect``: run the registered detectors over a verified store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from auditkit.analytics.detectors.registry import SEVERITIES as _SEVERITIES
from auditkit.commands.base import command, open_store, print_json
from auditkit.errors import UsageError

__all__: list[str] = []


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "store", metavar="STORE", nargs="?", help="SQLite file path or postgresql:// URL"
    )
    p.add_argument("--key", metavar="FILE", help="signing key file (default: STORE.key)")
    p.add_argument("--list", action="store_true", help="list the detectors and exit")
    p.add_argument(
        "--detector", action="append", metavar="NAME", help="run only this detector (repeatable)"
    )
    p.add_argument("--tenant", action="append", help="only this tenant (repeatable)")
    p.add_argument(
        "--since",
        metavar="WHEN",
        help="only findings whose last evidence is at or after this date/time",
    )
    p.add_argument(
        "--fail-on",
        choices=_SEVERITIES,
        help="exit 1 if a finding of this severity or higher is found",
    )
    p.add_argument("--json", action="store_true", help="print the findings as JSON")


@command("detect", "run anomaly and threat detections over a verified store")(_args)
def _detect(args: argparse.Namespace) -> int:
    from auditkit.analytics.detectors.registry import available_detectors, run_detectors
    from auditkit.times import parse_instant

    detectors = available_detectors()
    if args.list:
        if args.json:
            print_json(
                [
                    {
                        "name": d.name,
                        "title": d.title,
                        "kind": d.kind,
                        "severity": d.severity,
                        "description": d.description,
                    }
                    for d in detectors.values()
                ]
            )
        else:
            for d in detectors.values():
                print(f"{d.name:<24} {d.kind:<12} {d.severity:<9} {d.title}")
        return 0
    if not args.store:
        raise UsageError("detect needs a STORE (or --list)")
    store = open_store(args)
    frame = store.load(args.tenant)  # verified: a tampered store raises, naming the record
    since = parse_instant(args.since) if args.since else None
    findings = run_detectors(frame, names=args.detector, since=since)
    if args.json:
        rows: list[dict[str, Any]] = findings.to_dicts()
        print_json({"events": frame.height, "count": len(rows), "findings": rows})
    else:
        print(f"{findings.height} finding(s) over {frame.height} verified events")
        for r in findings.iter_rows(named=True):
            print(
                f"  [{r['severity']:<8}] {r['detector']:<22} {r['tenant_id']}/"
                f"{r['actor_id'] or '-'}  {r['first_seen']:%Y-%m-%d %H:%M}  "
                f"{len(r['event_ids'])} events: {r['summary']}"
            )
    if args.fail_on:
        worst = set(_SEVERITIES[_SEVERITIES.index(args.fail_on) :])
        if findings.filter(findings["severity"].is_in(list(worst))).height:
            return 1
    sys.stdout.flush()
    return 0
