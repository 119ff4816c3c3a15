"""``auditkit detect``: run the registered detectors over a verified store.

::

    auditkit detect STORE [--tenant T] [--since WHEN] [--until WHEN] [--detector NAME]
                    [--min-severity LEVEL] [--format table|json|ndjson] [--fail-on LEVEL]
    auditkit detect --list

Events are verified chunk by chunk into a temporary folder of Parquet files
(:meth:`Store.scan <auditkit.store.Store.scan>`) and the detectors scan them
a batch of whole tenants at a time, so memory follows the largest tenant rather
than the store.
Without ``--tenant`` the store's operator also gets ``cross_tenant_campaign``: a
source failing in several tenants, reported per tenant without naming the others;
with ``--tenant`` only that tenant's events are read and that correlation is off.
The table shows one line per detector (its findings by severity), then the
findings, most severe first;
``--format json`` prints one JSON document, ``--format ndjson`` one finding
per line.  Event text is shown with control characters made visible.
Exit codes: 0 done; 1 a finding at ``--fail-on`` severity or above; 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from typing import TYPE_CHECKING, Any

from auditkit.commands.base import (
    MAX_SHOWN,
    at_least,
    command,
    events_total,
    open_store,
    print_json,
    progress_argument,
    progress_bar,
    store_name,
    tenant_argument,
    terminal_text,
    time_arguments,
    time_range,
)
from auditkit.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

__all__: list[str] = []

#: Severity levels, lowest first (the detectors' own list; kept here so that
#: building the parser does not import the analytics package).
SEVERITIES = ("low", "medium", "high", "critical")
#: Terminals at least this wide show the summary as a table column.
_WIDE = 130


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "store",
        metavar="STORE",
        nargs="?",
        type=store_name,
        help="SQLite file path or postgresql:// URL",
    )
    p.add_argument(
        "--key", metavar="FILE", help="signing key file (default: STORE.key, or $AUDITKIT_KEY)"
    )
    p.add_argument("--list", action="store_true", help="list the detectors and exit")
    p.add_argument(
        "--detector", action="append", metavar="NAME", help="run only this detector (repeatable)"
    )
    tenant_argument(p)
    time_arguments(
        p,
        since_help="only findings whose last evidence is at or after this (earlier events "
        "still serve as history)",
        until_help="only events before this",
    )
    p.add_argument(
        "--min-severity",
        choices=SEVERITIES,
        metavar="LEVEL",
        help="only findings of this severity or higher: " + ", ".join(SEVERITIES),
    )
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        metavar="LEVEL",
        help="exit 1 if a finding of this severity or higher is found",
    )
    p.add_argument(
        "--format",
        choices=("table", "json", "ndjson"),
        help="table (default), json (one document) or ndjson (one finding per line)",
    )
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument(
        "--limit",
        type=at_least(0, MAX_SHOWN),
        default=50,
        metavar="N",
        help="findings shown in the table (default 50; 0: all)",
    )
    progress_argument(p)


def _list(fmt: str) -> int:
    from auditkit.analytics.detectors.registry import available_detectors

    detectors = available_detectors()
    if fmt != "table":
        rows = [
            {
                "name": d.name,
                "title": d.title,
                "kind": d.kind,
                "severity": d.severity,
                "description": d.description,
            }
            for d in detectors.values()
        ]
        if fmt == "json":
            print_json(rows)
        else:
            _ndjson(rows)
    else:
        # as wide as the longest name (a plugin's may be longer than ours)
        width = max((len(n) for n in detectors), default=0)
        for d in detectors.values():
            print(f"{d.name:<{width}}  {d.kind:<12} {d.severity:<9} {d.title}")
    return 0


def _ndjson(rows: list[dict[str, Any]]) -> None:
    import orjson

    out = sys.stdout.buffer
    sys.stdout.flush()
    for row in rows:
        out.write(orjson.dumps(row, default=str, option=orjson.OPT_UTC_Z) + b"\n")
    out.flush()


@command("detect", "run anomaly and threat detections over a verified store")(_args)
def _detect(args: argparse.Namespace) -> int:
    fmt = "json" if args.json else (args.format or "table")
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"detect: --json and --format {args.format} disagree")
    if args.list:
        return _list(fmt)
    if not args.store:
        raise UsageError("detect: expected STORE (or --list)")
    import tempfile

    import polars as pl

    from auditkit.analytics.detectors.registry import available_detectors

    detectors = available_detectors()
    names = list(dict.fromkeys(args.detector or detectors))
    unknown = [n for n in names if n not in detectors]
    if unknown:
        raise UsageError(f"detect: unknown detector {unknown[0]!r} (see auditkit detect --list)")
    since, until = time_range(args)
    store = open_store(args)
    with tempfile.TemporaryDirectory(prefix="auditkit-detect-") as folder:
        total = partial(events_total, store, args.tenant)
        with progress_bar(args, desc="verify", total=total) as tick:
            events = store.scan(args.tenant, end=until, folder=folder, progress=tick)
        n_events = int(events.select(pl.len()).collect().item())
        findings = _run(args, events, names, since)
    if args.min_severity:
        findings = findings.filter(pl.col("severity").is_in(_at_or_above(args.min_severity)))
    if fmt in ("json", "ndjson"):
        from datetime import datetime

        from auditkit.times import format_instant

        # one form of time whatever the format (and as the API's /findings writes it):
        # RFC 3339 UTC with microseconds and "Z", the stored form of a time
        rows = [
            {k: format_instant(v) if isinstance(v, datetime) else v for k, v in row.items()}
            for row in findings.to_dicts()
        ]
    if fmt == "json":
        print_json(
            {
                "events": n_events,
                "count": findings.height,
                "by_detector": _by_detector(findings),
                "findings": rows,
            }
        )
    elif fmt == "ndjson":
        _ndjson(rows)
    else:
        _table(findings, n_events, names, args.limit)
    if args.fail_on:
        worst = _at_or_above(args.fail_on)
        if findings.filter(pl.col("severity").is_in(worst)).height:
            return 1
    return 0


def _at_or_above(level: str) -> list[str]:
    return list(SEVERITIES[SEVERITIES.index(level) :])


def _run(
    args: argparse.Namespace, events: pl.LazyFrame, names: list[str], since: Any
) -> pl.DataFrame:
    """Run the detectors (a progress step each), most severe first."""
    from auditkit.analytics.detectors.registry import run_detectors

    # one call: the tenants are packed into batches once, not once per detector
    with progress_bar(args, desc="detect", unit="detectors", total=len(names)) as tick:
        return run_detectors(events, names=names, since=since, progress=tick)


def _by_detector(findings: pl.DataFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for det, sev, n in findings.group_by("detector", "severity").len().iter_rows():
        out.setdefault(det, {})[sev] = n
    return {d: {s: out[d][s] for s in reversed(SEVERITIES) if s in out[d]} for d in sorted(out)}


def _table(findings: pl.DataFrame, n_events: int, names: list[str], limit: int) -> None:
    import textwrap

    from auditkit.commands._table import cell_text, render_table, terminal_width

    tenants = findings.get_column("tenant_id").n_unique() if findings.height else 0
    # the tenants are the findings', not the events': say so by where they stand
    where = f" in {tenants} tenant(s)" if tenants else ""
    print(f"{findings.height} finding(s){where}, over {n_events:,} verified events")
    counts = _by_detector(findings)
    name_width = max((len(n) for n in names), default=8)
    for name in names:
        by_sev = counts.get(name, {})
        total = sum(by_sev.values())
        detail = ", ".join(f"{n} {s}" for s, n in by_sev.items())
        print(
            f"  {terminal_text(name):<{name_width}}  {total:>6}"
            + (f"  ({detail})" if detail else "")
        )
    if not findings.height:
        return
    shown = findings if limit == 0 else findings.head(limit)
    rows = [
        {
            "severity": r["severity"],
            "detector": r["detector"],
            "who": f"{r['tenant_id']}/{r['actor_id'] or '-'}",
            "first_seen": r["first_seen"].strftime("%Y-%m-%d %H:%M") if r["first_seen"] else "",
            "events": len(r["event_ids"] or []),
            "summary": r["summary"],
        }
        for r in shown.iter_rows(named=True)
    ]
    print()
    headers = {"who": "tenant/actor", "first_seen": "first seen (UTC)"}
    columns = ["severity", "detector", "who", "first_seen", "events"]
    width = terminal_width()
    if width is None or width >= _WIDE:  # one table, the summary wrapped in its column
        lines = render_table(
            rows,
            [*columns, "summary"],
            width=width,
            wrap="summary",
            headers=headers,
            right=["events"],
        )
    else:  # narrow: each finding's summary on the lines below it
        table = render_table(rows, columns, width=width, headers=headers, right=["events"])
        lines = table[:1]
        for row, line in zip(rows, table[1:], strict=True):
            lines.append(line)
            text = cell_text(row["summary"])
            lines += textwrap.wrap(
                text, width - 4, initial_indent="    ", subsequent_indent="    "
            ) or [""]
    for line in lines:
        print(line)
    if shown.height < findings.height:
        print(f"... {findings.height - shown.height} more (--limit 0 for all, or --format json)")
