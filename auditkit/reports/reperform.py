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

Exit status 0 when every check holds, 1 when one fails (each failure is printed).
The Ed25519 signatures themselves are left to OpenSSL on purpose: the standard library
has no Ed25519, and a verifier the auditor already trusts is the better witness.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path

__all__ = ["check_bundle", "check_inclusion", "main"]

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


def main(argv: list[str] | None = None) -> int:
    """Command line: ``bundle DIR`` or ``inclusion PROOF.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("bundle", "inclusion"):
        print("usage: reperform.py bundle DIR | reperform.py inclusion PROOF.json")
        return 2
    target = Path(args[1])
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
