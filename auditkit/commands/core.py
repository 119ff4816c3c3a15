"""The store's own commands: init, ingest, verify, checkpoint, proof, sample, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from auditkit.commands.base import command, open_store, print_json, store_argument
from auditkit.errors import UsageError

__all__: list[str] = []


# -- init ------------------------------------------------------------------------------
def _init_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)


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

    store_argument(p)
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

    store = open_store(args)
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
        print_json(result.to_dict())
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
    store_argument(p)
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="a checkpoint file saved earlier (detects truncation, rollback, fork)",
    )
    p.add_argument(
        "--public-key", metavar="FILE", help="trust this public key (PEM), kept outside the store"
    )
    p.add_argument(
        "--fingerprint",
        metavar="HEX",
        help="trust the key whose SHA-256 fingerprint starts with HEX (16 to 64 hex characters)",
    )
    p.add_argument(
        "--witness",
        action="append",
        metavar="VKEY",
        help="a witness's C2SP verifier key (or a file holding it): its cosignatures on the "
        "--checkpoint notes count as anchors (repeatable)",
    )
    p.add_argument("--tenant", action="append", help="only this tenant (repeatable)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.epilog = (
        "exit codes: 0 intact (and anchored), 1 tampered, 2 usage error, 3 no problem found but "
        "unanchored (nothing outside the database vouches for the key)"
    )


@command("verify", "verify every record, column and checkpoint (exit 1 tampered, 3 unanchored)")(
    _verify_args
)
def _verify(args: argparse.Namespace) -> int:
    store = open_store(args)
    report = store.verify(
        args.tenant,
        checkpoint=args.checkpoint,
        public_key=args.public_key,
        fingerprint=args.fingerprint,
        witnesses=args.witness or (),
    )
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
        key = report.key_id[:16] if report.key_id else "?"
        anchors = "; ".join(a.describe() for a in report.anchors) or "none"
        print(f"key {key} from {report.key_source}; anchors: {anchors}")
        for note in report.notes:
            print(f"note: {note}")
    return {"intact": 0, "tampered": 1, "unanchored": 3}[report.status.value]


# -- checkpoint --------------------------------------------------------------------------
def _checkpoint_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument("-o", "--output", metavar="PATH", help="write the checkpoints here")
    p.add_argument(
        "--format",
        choices=["json", "note"],
        default="json",
        help="json: one auditkit checkpoint file (with C2SP notes inside); note: a folder of "
        "C2SP checkpoint notes, one <tenant>.checkpoint per tenant, and their verifier keys",
    )


@command("checkpoint", "export the signed checkpoints, to keep outside the store")(_checkpoint_args)
def _checkpoint(args: argparse.Namespace) -> int:
    store = open_store(args)
    if args.format == "note":
        if not args.output:
            raise UsageError("checkpoint --format note: give the folder to write (-o DIR)")
        folder = Path(args.output)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder}: exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)
        notes = store.checkpoint_notes()
        doc = store.export_checkpoints()
        for tenant, note in notes.items():
            (folder / f"{quote(tenant, safe='')}.checkpoint").write_text(note)
        vkeys = "".join(f"{v}\n" for v in doc.get("verifier_keys", {}).values())
        (folder / "verifier-keys.txt").write_text(vkeys)
        print(f"wrote {len(notes)} C2SP checkpoint note(s) and their verifier keys to {folder}")
        return 0
    doc = store.export_checkpoints(args.output)
    if args.output:
        n = len(doc["checkpoints"])
        print(f"wrote {n} signed checkpoint(s) to {args.output} (key {doc['key_id'][:16]})")
        if not doc.get("notes"):
            print("note: no key file here, so no C2SP notes were added")
    else:
        print_json(doc)
    return 0


# -- proof -----------------------------------------------------------------------------
def _proof_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument("--tenant", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--seq", type=int, help="inclusion proof for this seq")
    g.add_argument("--event-id", help="inclusion proof for this event")
    g.add_argument("--old-size", type=int, help="consistency proof from this tree size")
    p.add_argument("--new-size", type=int, help="consistency proof to this size (default: now)")


@command("proof", "print an inclusion or consistency proof as JSON (verified first)")(_proof_args)
def _proof(args: argparse.Namespace) -> int:
    store = open_store(args)
    if args.old_size is not None:
        proof: Any = store.consistency_proof(args.tenant, args.old_size, args.new_size)
        proof.verify()
    else:
        proof = store.inclusion_proof(args.tenant, args.seq, event_id=args.event_id)
        proof.verify(store.trusted_public_key()[0])
    print_json(proof.to_dict())
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
