"""``auditkit proof``: make an inclusion or consistency proof, or check one offline.

::

    auditkit proof STORE --tenant T (--seq N | --event-id ID | --old-size N [--new-size M]) [-o FILE]
    auditkit proof verify PROOF.json [--public-key KEY] [--checkpoint FILE] [--json]

``proof verify`` needs no store: it is what an auditor runs on a proof handed to
them, with the store's public key (``STORE.pub``) obtained independently.  Exit
codes: 0 proven; 1 not proven; 2 usage (no such file, not a proof); 3 the path
holds but a root it needs is unanchored (no public key given, or no signed
checkpoint for it).
"""  # noqa: E501

from __future__ import annotations

import argparse
from typing import Any

from auditkit.commands.base import (
    at_least,
    command,
    is_stdout,
    open_store,
    output_path,
    print_json,
    read_public_key,
    store_name,
    tenant_name,
    terminal_lines,
)
from auditkit.errors import UsageError

__all__: list[str] = []

_EPILOG = """\
usage forms:
  auditkit proof STORE --tenant T --seq N [-o FILE]           inclusion of one event
  auditkit proof STORE --tenant T --event-id ID [-o FILE]     (the same, by event id)
  auditkit proof STORE --tenant T --old-size N [--new-size M] consistency of two trees
  auditkit proof verify PROOF.json --public-key STORE.pub [--checkpoint FILE] [--json]

exit codes of 'proof verify': 0 proven; 1 not proven; 2 usage; 3 unanchored (the
path holds, but without --public-key or a saved --checkpoint nothing independent
vouches for the root).
"""


def _args(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EPILOG
    p.add_argument(
        "target",
        metavar="STORE",
        type=store_name,
        help="SQLite file path or postgresql:// URL; or 'verify'",
    )
    p.add_argument("proof_file", nargs="?", metavar="PROOF", help="with 'verify': the proof file")
    p.add_argument(
        "--key", metavar="FILE", help="signing key file (default: STORE.key, or $AUDITKIT_KEY)"
    )
    p.add_argument(
        "--tenant", type=tenant_name, metavar="T", help="the tenant whose tree the proof is about"
    )
    p.add_argument("--seq", type=at_least(0), metavar="N", help="inclusion proof for this seq")
    p.add_argument("--event-id", metavar="ID", help="inclusion proof for this event")
    p.add_argument(
        "--old-size", type=at_least(1), metavar="N", help="consistency proof from this tree size"
    )
    p.add_argument(
        "--new-size", type=at_least(1), metavar="M", help="... to this size (default: now)"
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write the proof here (default: stdout)")
    p.add_argument(
        "--public-key",
        metavar="FILE",
        help="with 'verify': the store's public key (PEM, e.g. STORE.pub)",
    )
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="with 'verify': checkpoints saved earlier (auditkit checkpoint -o), trusted roots",
    )
    p.add_argument("--json", action="store_true", help="with 'verify': print the verdict as JSON")


@command(
    "proof",
    "make an inclusion or consistency proof (JSON); 'proof verify PROOF' checks one offline",
)(_args)
def _proof(args: argparse.Namespace) -> int:
    if args.target == "verify":
        return _verify(args)
    if args.proof_file:
        raise UsageError(
            f"proof: unexpected argument {args.proof_file!r} (only 'verify' takes one)"
        )
    return _make(args)


def _make(args: argparse.Namespace) -> int:
    chosen = [n for n in ("seq", "event_id", "old_size") if getattr(args, n) is not None]
    if len(chosen) > 1:
        given = " and ".join(f"--{n.replace('_', '-')}" for n in chosen)
        raise UsageError(
            f"proof: {given} ask for different proofs; give only one of --seq, "
            "--event-id or --old-size"
        )
    if not chosen:
        raise UsageError("proof: give one of --seq, --event-id or --old-size")
    if not args.tenant:
        raise UsageError("proof: --tenant is required")
    if args.new_size is not None and args.old_size is None:
        raise UsageError("proof: --new-size goes with --old-size")
    out = output_path(args.output) if args.output and not is_stdout(args.output) else None
    args.store = args.target
    store = open_store(args)
    doc: dict[str, Any]
    if args.old_size is not None:
        try:
            proof: Any = store.consistency_proof(args.tenant, args.old_size, args.new_size)
        except UsageError as exc:  # "expected 0 < old_size <= ...": name the options
            text = str(exc)
            if "old_size" not in text:
                raise
            raise UsageError(
                text.replace("old_size", "--old-size").replace("new_size", "--new-size")
                + f" (the last is the size of the tree of tenant {args.tenant!r})"
            ) from None
        proof.verify()
        doc = {"kind": "consistency", **proof.to_dict()}
        for name, size in (("old_checkpoint", proof.old_size), ("new_checkpoint", proof.new_size)):
            signed = [cp for cp in store.checkpoints(args.tenant) if cp.tree_size == size]
            if signed:
                doc[name] = signed[-1].to_dict()
    else:
        proof = store.inclusion_proof(args.tenant, args.seq, event_id=args.event_id)
        proof.verify(store.trusted_public_key()[0])
        doc = {"kind": "inclusion", **proof.to_dict()}
    if out is None:
        print_json(doc)
    else:
        import orjson

        out.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"wrote the {doc['kind']} proof to {args.output}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from auditkit.proofs import ProofStatus, read_proof, read_saved_checkpoints, verify_proof

    if not args.proof_file:
        raise UsageError("proof verify: expected PROOF (a proof file from `auditkit proof`)")
    stray = [f"--{n.replace('_', '-')}" for n in ("tenant", "seq", "event_id", "old_size")]
    if any(getattr(args, n.lstrip("-").replace("-", "_")) is not None for n in stray):
        raise UsageError("proof verify: takes PROOF, --public-key and --checkpoint only")
    key = None
    if args.public_key:
        key = read_public_key(args.public_key)
    saved = read_saved_checkpoints(args.checkpoint) if args.checkpoint else []
    verdict = verify_proof(read_proof(args.proof_file), public_key=key, checkpoints=saved)
    if args.json:
        print_json(verdict.to_dict())
    else:
        print(terminal_lines(verdict.summary()))
    return {ProofStatus.PROVEN: 0, ProofStatus.NOT_PROVEN: 1, ProofStatus.UNANCHORED: 3}[
        verdict.status
    ]
