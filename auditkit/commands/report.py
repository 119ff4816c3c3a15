"""``auditkit report``: compliance reports and evidence bundles from the command line.

Registered with :func:`auditkit.commands.base.command`::

    auditkit report STORE --framework pci-dss --tenant acme --period 2026-01-01..2026-03-31 \\
        --format html -o report.html
    auditkit report verify BUNDLE (--public-key FILE | --store STORE) [--json]
    auditkit report --list

``report verify`` is also registered on its own as ``auditkit report-verify BUNDLE``.
Exit codes: 0 written / intact; 1 the store or the bundle is tampered (the report is
still written: it documents the failure), or a control at ``--fail-on`` status; 2 usage
or input errors; 3 a bundle checked without a trusted key (``--public-key`` or
``--store``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from auditkit.commands.base import (
    command,
    events_total,
    output_path,
    period_option,
    progress_argument,
    progress_bar,
    store_name,
    tenant_name,
)
from auditkit.errors import UsageError

__all__: list[str] = []

_EPILOG = """\
usage forms:
  auditkit report STORE --framework NAME [--tenant T ...] [--period START..END]
                  [--format html|md|json|csv|pdf|bundle] [-o FILE] [--fail-on STATUS]
  auditkit report verify BUNDLE (--public-key FILE | --store STORE) [--json]
  auditkit report --list

The format defaults to the suffix of -o (.html .md .json .csv .pdf .zip=bundle), else html.
Without -o, text formats go to stdout; on a terminal only md, json and csv do (HTML,
PDF and bundles need -o FILE). Without --tenant, every tenant of the store is
reported; without --period, the last 12 months (--period all: the whole history).
A bundle is signed with the store's key.

exit codes: 0 written (or bundle intact); 1 the store or the bundle is tampered (the
report is still written and documents it), or a control with the --fail-on status;
2 usage or input errors; 3 bundle unanchored (verify it with --public-key or --store).
"""


def _report_args(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EPILOG
    p.add_argument(
        "target",
        nargs="?",
        metavar="STORE",
        type=store_name,
        help="SQLite file path or postgresql:// URL; or 'verify' to check a bundle",
    )
    p.add_argument("bundle", nargs="?", metavar="BUNDLE", help="with 'verify': the bundle (zip)")
    p.add_argument(
        "--framework",
        metavar="NAME",
        help="soc2, iso27001, pci-dss, hipaa, nist-800-53 or gdpr (see --list)",
    )
    p.add_argument(
        "--tenant",
        action="append",
        type=tenant_name,
        metavar="T",
        help="report on this tenant (repeatable; default: all tenants)",
    )
    p.add_argument(
        "--period",
        metavar="START..END",
        help="days, both included, e.g. 2026-01-01..2026-03-31, or 12mo "
        "(default: the last 12 months, an audit window; 'all' for the whole history)",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="report configuration (YAML): system description, scope, carve-outs, "
        "preparer, expected sources per tenant, sample size and seed",
    )
    p.add_argument(
        "--format",
        metavar="NAME",
        help="output format: html, md, json, csv, pdf, bundle (default: from -o's suffix)",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here")
    p.add_argument(
        "--key", metavar="FILE", help="signing key file (default: STORE.key, or $AUDITKIT_KEY)"
    )
    p.add_argument(
        "--fail-on",
        choices=["fail", "needs_review", "not_assessable", "evidence_present"],
        help="exit 1 when a control has this status or a worse one (best to worst: pass, "
        "evidence_present, not_assessable, needs_review, fail)",
    )
    p.add_argument(
        "--public-key",
        metavar="FILE",
        help="with 'verify': trust this public key (the store's .pub, kept apart)",
    )
    p.add_argument(
        "--store",
        metavar="STORE",
        help="with 'verify': trust the public key of this store (its key file)",
    )
    p.add_argument(
        "--timestamp-roots",
        metavar="PEM",
        help="with 'verify': the time-stamping authority's root certificates; the bundle's "
        "RFC 3161 time-stamp must then cover its manifest",
    )
    p.add_argument("--json", action="store_true", help="with 'verify': print JSON")
    p.add_argument("--list", action="store_true", help="list the frameworks and their controls")
    progress_argument(p)


def _list() -> int:
    from auditkit.reports.catalog import available_frameworks

    for fw in available_frameworks().values():
        print(f"{fw.id:<12} {fw.title}")
        for c in fw.controls:
            print(f"  {c.id:<22} {c.title}")
    return 0


def _verify(
    bundle: str,
    public_key: str | None,
    as_json: bool,
    store: str | None = None,
    timestamp_roots: str | None = None,
) -> int:
    from auditkit.reports.bundle import verify_bundle

    _check_bundle_file(bundle)
    trusted: Any = Path(public_key) if public_key else None
    if store is not None:
        if public_key:
            raise UsageError("report verify: give --public-key or --store, not both")
        from auditkit.store import Store

        trust = Store.open(store).trust()
        if not trust.anchored:
            raise UsageError(
                f"report verify: {store} has no key file or public key file beside it, "
                "so its key cannot anchor the bundle; pass --public-key FILE"
            )
        trusted = trust.public_key
    result = verify_bundle(bundle, trusted, timestamp_roots=timestamp_roots)
    if as_json:
        sys.stdout.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(result.summary())
        if result.timestamp:
            print(result.timestamp)
        for line in result.not_checked():
            print(line)
    return {"INTACT": 0, "TAMPERED": 1, "UNANCHORED": 3}[result.status]


def _check_bundle_file(bundle: str) -> None:
    """A BUNDLE that is no zip at all (a proof, a report in HTML, a folder) is an input
    error, exit 2, as `proof verify` says of a file that is no proof: only a zip
    archive can be a tampered bundle (exit 1)."""
    path = Path(bundle)
    if path.is_dir():
        raise UsageError(f"{bundle}: is a folder; expected an evidence bundle (.zip)")
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return  # verify_bundle says why it cannot be read
    if not head.startswith(b"PK"):
        raise UsageError(
            f"{bundle}: not an evidence bundle (not a zip archive); "
            "`auditkit report STORE --framework NAME -o FILE.zip` writes one"
        )


def _parameters(args: argparse.Namespace, period: str) -> dict[str, str]:
    """How the report was asked for, printed in it (no secret: a URL's password is
    masked, the key file is named, never read into the report)."""
    import getpass
    import shlex

    from auditkit.reports import redact_location

    argv = ["auditkit", "report", redact_location(args.target), "--framework", args.framework]
    for t in args.tenant or ():
        argv += ["--tenant", t]
    argv += ["--period", period]
    for opt in ("config", "format", "output", "fail_on"):
        value = getattr(args, opt, None)
        if value:
            argv += [f"--{opt.replace('_', '-')}", str(value)]
    try:
        operator = getpass.getuser()
    except Exception:  # no user name in this environment
        operator = "unknown"
    from auditkit import __version__

    return {"command": shlex.join(argv), "operator": operator, "auditkit version": __version__}


#: Formats refused on a terminal without -o: pages of markup, nobody reads them there.
_NOT_FOR_TERMINALS = frozenset({"html", "pdf", "bundle"})


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


@command(
    "report",
    "compliance report (html, md, json, csv, pdf, signed bundle); "
    "'report verify BUNDLE' checks a bundle",
)(_report_args)
def _report(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from functools import partial

    from auditkit.analytics.detectors.registry import available_detectors, run_detectors
    from auditkit.reports import assemble_report, collect_inputs
    from auditkit.reports.catalog import get_framework
    from auditkit.reports.formats import format_for_path, get_format
    from auditkit.reports.model import Status
    from auditkit.store import Store

    if args.list:
        return _list()
    if args.target == "verify":
        if not args.bundle:
            raise UsageError("report verify: expected BUNDLE (the evidence bundle zip)")
        return _verify(args.bundle, args.public_key, args.json, args.store, args.timestamp_roots)
    if args.target is None:
        raise UsageError("report: expected STORE (or 'verify BUNDLE', or --list)")
    if args.bundle:
        raise UsageError(
            f"report: unexpected argument {args.bundle!r} (only 'verify' takes a BUNDLE)"
        )
    if not args.framework:
        raise UsageError("report: --framework is required (see auditkit report --list)")
    to_stdout = args.output is None
    if args.output == "-":  # -o -: printed, as without -o (text formats only)
        args.output = None
    fmt = format_for_path(args.output, args.format)
    if args.output is None and not get_format(fmt).text:
        raise UsageError(f"report: --format {fmt} needs -o FILE")
    if to_stdout and fmt in _NOT_FOR_TERMINALS and _stdout_is_terminal():
        # Pages of HTML are no use on a terminal: ask where to write them (a pipe or a
        # redirection still gets them, as does an explicit -o -).
        raise UsageError(
            f"report: {fmt} is not shown on a terminal: give -o FILE (e.g. -o report.{fmt}), "
            "or --format md to read it here"
        )
    if args.output is not None:
        output_path(args.output)  # before the work, as every command's output
    from auditkit.reports.config import load_config

    config = load_config(args.config) if args.config else None
    period = args.period or "12mo"
    if period != "all":
        period_option(period)  # one line naming --period, before the store is opened
    store = Store.open(args.target, key=args.key)
    fw = get_framework(args.framework)
    # The three long steps each draw a bar on a terminal, as verify and detect do.
    with progress_bar(args, desc="verify", total=partial(events_total, store, args.tenant)) as tick:
        inputs = collect_inputs(
            store,
            tenant=args.tenant,
            period=None if period == "all" else period,
            config=config,
            parameters=_parameters(args, period),
            progress=tick,
        )
    names = inputs.options.detectors
    count = len(names) if names is not None else len(available_detectors())
    with progress_bar(args, desc="detect", unit="detectors", total=count) as tick:
        findings = run_detectors(inputs.events, names=names, progress=tick)
    inputs = replace(inputs, findings=findings)
    steps = len(fw.controls) + 1
    with progress_bar(args, desc="report", unit="steps", total=steps) as tick:
        report = assemble_report(inputs, framework=fw)
        if tick is not None:
            tick(len(fw.controls))
        rendered = report.render(fmt) if args.output is None else None
        out = report.write(args.output, format=fmt) if args.output is not None else None
        if tick is not None:
            tick(1)
    if rendered is not None:
        sys.stdout.buffer.write(rendered)
        sys.stdout.flush()
    else:
        print(report.summary())
        print(f"wrote {fmt} report to {out}")
    if report.integrity == "tampered":
        # The report is written (it documents the failure), but a script must see it.
        print(f"auditkit report: TAMPERED: {report.integrity_line()}", file=sys.stderr)
        return 1
    if args.fail_on:
        limit = Status(args.fail_on).rank
        return 1 if any(c.status.rank >= limit for c in report.controls) else 0
    return 0


def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("bundle", metavar="BUNDLE", help="the evidence bundle (zip)")
    p.add_argument(
        "--public-key",
        metavar="FILE",
        help="trust this public key (the store's .pub, kept apart from the bundle)",
    )
    p.add_argument(
        "--store", metavar="STORE", help="trust the public key of this store (its key file)"
    )
    p.add_argument(
        "--timestamp-roots",
        metavar="PEM",
        help="the time-stamping authority's root certificates: check the RFC 3161 time-stamp",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


@command(
    "report-verify",
    "check an evidence bundle's signature and files (same as 'report verify'; exit 1 if tampered)",
)(_verify_args)
def _report_verify(args: argparse.Namespace) -> int:
    return _verify(args.bundle, args.public_key, args.json, args.store, args.timestamp_roots)
