"""The ``auditkit`` command line (stable: scripts and tests call it).

Exit codes: 0 success / intact, 1 tampered (``verify``) or findings with
``--fail-on``, 2 usage or input errors.  Errors are one line on stderr, never a
traceback; ``--json`` output is one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from auditkit.errors import AuditkitError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[Handler, Callable[[argparse.ArgumentParser], None], str]] = {}


def command(
    name: str, help_text: str
) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable[[Handler], Handler]]:
    """Register a sub-command: ``@command(name, help)(arguments)(handler)``."""

    def with_args(
        args_fn: Callable[[argparse.ArgumentParser], None],
    ) -> Callable[[Handler], Handler]:
        def with_handler(fn: Handler) -> Handler:
            _COMMANDS[name] = (fn, args_fn, help_text)
            return fn

        return with_handler

    return with_args


def _print_json(doc: Any) -> None:
    sys.stdout.write(
        orjson.dumps(
            doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
        + "\n"
    )


def _err(message: str) -> None:
    sys.stderr.write(f"auditkit: {message}\n")


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", metavar="STORE", help="SQLite file path or postgresql:// URL")
    p.add_argument(
        "--key", metavar="FILE", help="signing key file (default: STORE.key, or $AUDITKIT_KEY)"
    )


def _open(args: argparse.Namespace) -> Any:
    from auditkit.store import Store

    return Store.open(args.store, key=args.key)


# -- init ------------------------------------------------------------------------------
def _init_args(p: argparse.ArgumentParser) -> None:
    _store_arg(p)


@command("init", "create a store and its Ed25519 signing key")(_init_args)
def _init(args: argparse.Namespace) -> int:
    from auditkit.store import Store

    store = Store.init(args.store, key=args.key)
    print(f"created store {args.store} (id {store.store_id})")
    print(f"signing key: {store.key_path} (keep it outside the database; back it up)")
    return 0


# -- ingest ----------------------------------------------------------------------------
def _ingest_args(p: argparse.ArgumentParser) -> None:
    from auditkit.ingest.registry import available_formats

    _store_arg(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="files, directories or globs")
    p.add_argument(
        "--format", default="auto", help="input format: auto, " + ", ".join(available_formats())
    )
    p.add_argument("--tenant", help="tenant for formats whose records carry none")
    p.add_argument(
        "--mapping",
        metavar="FILE",
        help="column mapping (YAML/TOML) for home-grown CSV/NDJSON logs",
    )
    p.add_argument(
        "--quarantine",
        metavar="FILE",
        help="where rejected records go (default: STORE.quarantine.ndjson)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="parser processes (default: all cores for inputs of tens of MB or more, "
        "else 1); records are stored in input order either way",
    )
    p.add_argument("--strict", action="store_true", help="exit 1 if any record is quarantined")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


@command("ingest", "ingest audit-log files (quarantining bad records)")(_ingest_args)
def _ingest(args: argparse.Namespace) -> int:
    from auditkit.ingest.pipeline import expand_paths, ingest_files

    store = _open(args)
    fmt: Any = args.format
    if args.mapping:
        from auditkit.ingest.registry import get_format

        mapped = get_format("mapped")
        fmt = mapped.from_file(args.mapping)  # type: ignore[attr-defined]
    quarantine = args.quarantine
    if quarantine is None:
        base = store.backend.path or "auditkit"
        quarantine = base + ".quarantine.ndjson"
    files = expand_paths(args.files)
    bar = None
    if not args.no_progress and not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit=" records", desc="ingest", file=sys.stderr)
    try:
        result = ingest_files(
            store,
            files,
            format=fmt,
            tenant=args.tenant,
            quarantine=quarantine,
            progress=bar.update if bar else None,
            workers=args.workers,
        )
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.summary())
        for q in result.problems[:10]:
            where = f"{q.file} line {q.line}" if q.line else q.file
            print(f"  quarantined: {where}: {q.reason}")
        if result.quarantined > 10:
            print(f"  ... {result.quarantined - 10} more in {result.quarantine_file}")
    return 1 if args.strict and result.quarantined else 0


# -- verify ----------------------------------------------------------------------------
def _verify_args(p: argparse.ArgumentParser) -> None:
    _store_arg(p)
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a checkpoint file saved earlier (detects truncation, rollback, fork)",
    )
    p.add_argument("--public-key", metavar="FILE", help="verify with this public key (PEM)")
    p.add_argument("--tenant", action="append", help="only this tenant (repeatable)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


@command("verify", "verify every record, column and checkpoint (exit 1 if tampered)")(_verify_args)
def _verify(args: argparse.Namespace) -> int:
    store = _open(args)
    public = Path(args.public_key).read_text() if args.public_key else None
    report = store.verify(args.tenant, checkpoint=args.checkpoint, public_key=public)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
        print(f"key {report.key_id[:16] if report.key_id else '?'} from {report.key_source}")
    return 0 if report.ok else 1


# -- checkpoint --------------------------------------------------------------------------
def _checkpoint_args(p: argparse.ArgumentParser) -> None:
    _store_arg(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write the checkpoint file here")


@command("checkpoint", "export the signed checkpoints, to keep outside the store")(_checkpoint_args)
def _checkpoint(args: argparse.Namespace) -> int:
    store = _open(args)
    doc = store.export_checkpoints(args.output)
    if args.output:
        n = len(doc["checkpoints"])
        print(f"wrote {n} signed checkpoint(s) to {args.output} (key {doc['key_id'][:16]})")
    else:
        _print_json(doc)
    return 0


# -- proof -----------------------------------------------------------------------------
def _proof_args(p: argparse.ArgumentParser) -> None:
    _store_arg(p)
    p.add_argument("--tenant", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--seq", type=int, help="inclusion proof for this seq")
    g.add_argument("--event-id", help="inclusion proof for this event")
    g.add_argument("--old-size", type=int, help="consistency proof from this tree size")
    p.add_argument("--new-size", type=int, help="consistency proof to this size (default: now)")


@command("proof", "print an inclusion or consistency proof as JSON (verified first)")(_proof_args)
def _proof(args: argparse.Namespace) -> int:
    store = _open(args)
    if args.old_size is not None:
        proof: Any = store.consistency_proof(args.tenant, args.old_size, args.new_size)
        proof.verify()
    else:
        proof = store.inclusion_proof(args.tenant, args.seq, event_id=args.event_id)
        proof.verify(store.trusted_public_key()[0])
    _print_json(proof.to_dict())
    return 0


# -- sample ----------------------------------------------------------------------------
def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="NDJSON file to write")
    p.add_argument("--events", type=int, help="about how many events (default: natural volume)")
    p.add_argument("--tenants", type=int, default=3)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--seed", type=int, default=7)


@command("sample", "write realistic sample audit events (NDJSON)")(_sample_args)
def _sample(args: argparse.Namespace) -> int:
    from itertools import chain

    from auditkit.sample import iter_events, write_ndjson

    chunks = iter_events(tenants=args.tenants, days=args.days, events=args.events, seed=args.seed)
    n = write_ndjson(chain.from_iterable(chunks), args.output)
    print(f"wrote {n} events to {args.output}")
    return 0


# -- demo ------------------------------------------------------------------------------
def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="auditkit-demo", help="where to put the demo store")


@command("demo", "build a sample store, verify it, detect, report")(_demo_args)
def _demo(args: argparse.Namespace) -> int:
    from auditkit._demo import run_demo

    return run_demo(Path(args.dir))


def _parser() -> argparse.ArgumentParser:
    from auditkit import __version__
    from auditkit.commands import load

    load()  # registers detect, export, report

    parser = argparse.ArgumentParser(
        prog="auditkit", description="Tamper-evident audit trails: store, verify, analyse."
    )
    parser.add_argument("--version", action="version", version=f"auditkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (fn, args_fn, help_text) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        args_fn(p)
        p.set_defaults(handler=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples
    --------
    >>> main(["verify", "/nonexistent/audit.db"])
    2
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except AuditkitError as exc:
        _err(str(exc))
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        _err(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        return 2


if __name__ == "__main__":
    sys.exit(main())
