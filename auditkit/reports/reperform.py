#!/usr/bin/env python3
"""Re-perform auditkit's checks without auditkit: Python's standard library only.

Every evidence bundle carries a copy of this file as ``reperform/reperform.py``, so an
auditor can check, with tools they trust, what the report claims:

``python3 reperform.py bundle DIR``
    every file of an unzipped bundle against ``manifest.json`` (SHA-256 and size), and
    writes ``manifest.sig.bin`` (the raw signature) for OpenSSL to check::

        openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin \\
            -in manifest.json -sigfile manifest.sig.bin

``python3 reperform.py inclusion PROOF.json``
    an inclusion proof (``auditkit proof STORE --seq N -o PROOF.json``): the leaf hash
    of the event's canonical bytes, SHA-256(0x00 || bytes), folded with the audit path as
    RFC 9162 section 2.1.3.2 says, must equal the checkpoint's root hash; writes
    ``checkpoint.msg`` and ``checkpoint.sig`` (the exact bytes the store's key signed, and
    the raw signature) for the same OpenSSL command with ``-in checkpoint.msg
    -sigfile checkpoint.sig`` and the store's public key.

``python3 reperform.py samples DIR``
    every population and sample of an unzipped bundle, from its files alone: each
    ``evidence/samples/population_<control>.csv`` has the number of rows ``report.json``
    states, no event twice, only the reported tenants, only events inside the period
    (UTC, ``manifest.json``'s ``period_bounds``), in tenant and ``seq`` order; and the
    sample of each control in ``samples.csv`` is exactly
    ``random.Random(SEED).sample(event_ids, SIZE)`` over that file's ``event_id`` column
    (all of them when SIZE or fewer), with the seed and size ``report.json`` states.

``python3 reperform/reperform.py`` (no argument, from the unzipped bundle)
    ``bundle`` then ``samples`` on the bundle this script belongs to.

Exit status 0 when every check holds, 1 when one fails (each failure is printed).
The Ed25519 signatures themselves are left to OpenSSL on purpose: the standard library
has no Ed25519, and a verifier the auditor already trusts is the better witness.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import random
import sys
from datetime import datetime
from pathlib import Path

__all__ = ["check_bundle", "check_inclusion", "check_samples", "main"]

CHECKPOINT_HEADER = b"auditkit-checkpoint/v1\n"


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2: the root an inclusion path leads to (``None`` if malformed).

    Examples
    --------
    >>> a, b = hashlib.sha256(b"\\x00a").digest(), hashlib.sha256(b"\\x00b").digest()
    >>> root_from_path(a, 0, 2, [b]) == _node(a, b)
    True
    """
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def check_inclusion(proof_path: Path, out: Path) -> list[str]:
    """Problems with an inclusion proof file (none: it holds); writes the checkpoint's
    signed message and raw signature next to ``out``."""
    proof = json.loads(proof_path.read_text(encoding="utf-8"))
    cp = proof["checkpoint"]
    leaf = hashlib.sha256(b"\x00" + proof["canonical"].encode("utf-8")).digest()
    path = [bytes.fromhex(h) for h in proof["path"]]
    root = root_from_path(leaf, int(proof["seq"]), int(proof["tree_size"]), path)
    problems = []
    if root is None or root.hex() != cp["root_hash"]:
        problems.append(
            f"inclusion: the path leads to {root.hex() if root else 'nothing'}, "
            f"the checkpoint says {cp['root_hash']}"
        )
    if int(cp["tree_size"]) != int(proof["tree_size"]):
        problems.append("inclusion: the proof and its checkpoint name different tree sizes")
    canonical = json.loads(proof["canonical"])
    if canonical.get("seq") != proof["seq"] or canonical.get("event_id") != proof["event_id"]:
        problems.append("inclusion: the canonical record is not the event the proof names")
    message = (
        CHECKPOINT_HEADER
        + (
            f"{cp['store_id']}\n{cp['tenant_id']}\n{cp['tree_size']}\n"
            f"{cp['root_hash']}\n{cp['timestamp']}\n"
        ).encode()
    )
    (out / "checkpoint.msg").write_bytes(message)
    (out / "checkpoint.sig").write_bytes(base64.b64decode(cp["signature"]))
    return problems


def check_bundle(folder: Path) -> list[str]:
    """Problems with an unzipped evidence bundle's files (none: all match the manifest);
    writes ``manifest.sig.bin`` for OpenSSL."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    for name, want in sorted(manifest["files"].items()):
        file = folder / name
        if not file.is_file():
            problems.append(f"{name}: missing")
            continue
        data = file.read_bytes()
        if hashlib.sha256(data).hexdigest() != want["sha256"] or len(data) != want["size"]:
            problems.append(f"{name}: altered (SHA-256 or size differs from the manifest)")
    listed = set(manifest["files"]) | {"manifest.json", "manifest.sig", "public_key.pem"}
    for file in sorted(folder.rglob("*")):
        rel = file.relative_to(folder).as_posix()
        if file.is_file() and rel not in listed and rel != "manifest.sig.bin":
            problems.append(f"{rel}: not in the manifest")
    sig = base64.b64decode((folder / "manifest.sig").read_bytes())
    (folder / "manifest.sig.bin").write_bytes(sig)
    return problems


def _rows(path: Path) -> list[dict[str, str]]:
    # the bundle's CSV files start with a UTF-8 byte order mark (for Excel)
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _instant(text: str) -> datetime:
    """An RFC 3339 time (``...Z`` or an offset) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _file_name(control: str) -> str:
    return "population_" + "".join(ch if ch.isalnum() else "_" for ch in control) + ".csv"


def check_samples(folder: Path) -> tuple[list[str], list[str]]:
    """Problems with the populations and samples of an unzipped bundle (none: every
    count, bound and draw holds), and one line per control saying what was re-performed."""
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    section = next(s for s in report["sections"] if s["id"] == "samples")
    seed, size = int(section["facts"]["seed"]), int(section["facts"]["sample_size"])
    stated = {t["name"] + ".csv": int(t["total_rows"]) for t in section["tables"]}
    tenants = set(report["scope"]["tenants"])
    bounds = manifest.get("period_bounds") or {}
    start = bounds.get("start_at") or report["scope"]["period"]["start"] + "T00:00:00Z"
    before = bounds.get("end_before") or report["scope"]["period"].get("end_before", "")
    lo, hi = _instant(start), _instant(before) if before else None
    drawn: dict[str, list[tuple[int, str]]] = {}
    for row in _rows(folder / "evidence" / "samples" / "samples.csv"):
        drawn.setdefault(row["control"], []).append((int(row["draw"]), row["event_id"]))
    controls = [c["id"] for c in report["controls"]]
    problems, done = [], []
    for control in controls:
        name = _file_name(control)
        file = folder / "evidence" / "samples" / name
        if name not in stated:
            continue  # not an "is logged" control: no population
        if not file.is_file():
            problems.append(f"{name}: missing")
            continue
        rows = _rows(file)
        ids = [r["event_id"] for r in rows]
        if len(rows) != stated[name]:
            problems.append(
                f"{name}: {len(rows)} rows, report.json states {stated[name]} for {control}"
            )
        if len(set(ids)) != len(ids):
            problems.append(f"{name}: an event_id appears more than once")
        others = sorted({r["tenant_id"] for r in rows} - tenants)
        if others:
            problems.append(f"{name}: events of tenants outside the report: {', '.join(others)}")
        outside = [
            r["event_id"]
            for r in rows
            if hi is not None and not lo <= _instant(r["occurred_at"]) < hi
        ]
        if outside:
            problems.append(
                f"{name}: {len(outside)} event(s) outside the period [{start}, {before}), "
                f"first {outside[0]}"
            )
        keys = [(r["tenant_id"], int(r["seq"])) for r in rows]
        if keys != sorted(keys):
            problems.append(f"{name}: not in tenant and seq order (the draw depends on it)")
        want = list(ids) if len(ids) <= size else random.Random(seed).sample(ids, size)
        got = [e for _, e in sorted(drawn.get(control, []))]
        if got != want:
            problems.append(
                f"samples.csv: the sample of {control} is not random.Random({seed})"
                f".sample(event_ids of {name}, {size})"
            )
        else:
            done.append(
                f"{control}: population {len(rows):,} event(s) in {name}; sample of "
                f"{len(got)} re-drawn with random.Random({seed}).sample(ids, {size}): same"
            )
    for control in sorted(set(drawn) - set(controls)):
        problems.append(f"samples.csv: a sample for {control}, which the report does not hold")
    return problems, done


def main(argv: list[str] | None = None) -> int:
    """Command line: ``bundle DIR``, ``samples DIR``, ``inclusion PROOF.json``, or nothing
    (``bundle`` and ``samples`` on the bundle this script is in)."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        here = Path(__file__).resolve().parent.parent
        if not (here / "manifest.json").is_file():
            print("usage: reperform.py [bundle DIR | samples DIR | inclusion PROOF.json]")
            return 2
        status = main(["bundle", str(here)])
        return max(status, main(["samples", str(here)]))
    if len(args) != 2 or args[0] not in ("bundle", "samples", "inclusion"):
        print("usage: reperform.py [bundle DIR | samples DIR | inclusion PROOF.json]")
        return 2
    target = Path(args[1])
    if args[0] == "samples":
        problems, done = check_samples(target)
        for line in done:
            print(f"ok   {line}")
        for p in problems:
            print(f"FAIL {p}")
        if problems:
            return 1
        print(f"OK: {len(done)} population(s) reconciled with report.json and sample(s) re-drawn")
        return 0
    if args[0] == "bundle":
        problems = check_bundle(target)
        then = (
            "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin "
            "-in manifest.json -sigfile manifest.sig.bin"
        )
    else:
        problems = check_inclusion(target, target.parent)
        then = (
            "openssl pkeyutl -verify -pubin -inkey STORE.pub -rawin "
            "-in checkpoint.msg -sigfile checkpoint.sig"
        )
    for p in problems:
        print(f"FAIL {p}")
    if problems:
        return 1
    print(f"OK: every hash matches; now check the signature: {then}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
