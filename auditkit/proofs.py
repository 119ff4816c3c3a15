"""Offline checks of inclusion and consistency proofs, as an auditor runs them.

A proof document is the JSON that ``auditkit proof`` writes (the ``to_dict()``
of :class:`~auditkit.store.InclusionProof` or
:class:`~auditkit.store.ConsistencyProof`, with a ``kind``).  Checking one needs
no store and no database: only the document, the store's public key and,
optionally, checkpoints saved earlier (``auditkit checkpoint -o``).

What is trusted: nothing in the document.  Its Merkle path is recomputed from
the event's canonical bytes (RFC 6962 section 2.1.1, :mod:`auditkit.integrity`);
the labels it carries (tenant, seq, event id) are checked against those bytes;
and the root it reaches counts only when it is *anchored*: its checkpoint's
Ed25519 signature verifies with the public key the auditor holds, or a
checkpoint the auditor saved earlier names the same root.  Three outcomes
(:class:`ProofStatus`):

* ``proven``: the path holds and every root it needs is anchored;
* ``not_proven``: the path, a label, a signature or a saved checkpoint
  disagrees (the document is wrong or was altered);
* ``unanchored``: the path holds, but a root it needs has nothing independent
  behind it (no public key given, or no signed checkpoint for it).

A consistency proof needs both its roots anchored: the old one (from the old
checkpoint, signed, or a saved checkpoint) and the new one.

Examples
--------
>>> from auditkit.integrity import generate_key, leaf_hashes, inclusion_proof
>>> from auditkit.integrity import root_from_leaf_hashes, sign_checkpoint
>>> events = [f'{{"event_id":"e{i}","seq":{i},"tenant_id":"acme"}}' for i in range(3)]
>>> leaves = leaf_hashes([e.encode() for e in events])
>>> key = generate_key()
>>> cp = sign_checkpoint(key, store_id="s", tenant_id="acme", tree_size=3,
...                      root_hash=root_from_leaf_hashes(leaves))
>>> doc = {"kind": "inclusion", "tenant_id": "acme", "seq": 1, "event_id": "e1",
...        "canonical": events[1], "tree_size": 3,
...        "path": [h.hex() for h in inclusion_proof(leaves, 1)], "checkpoint": cp.to_dict()}
>>> verify_proof(doc, public_key=key.public_key()).status
<ProofStatus.PROVEN: 'proven'>
>>> verify_proof(doc).status
<ProofStatus.UNANCHORED: 'unanchored'>
>>> verify_proof(doc | {"seq": 2}).summary()
'NOT PROVEN: inclusion of tenant acme seq 2: the event says seq 1, the proof says seq 2'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import orjson

from auditkit.errors import UsageError
from auditkit.integrity import (
    Checkpoint,
    ProofError,
    SignatureError,
    key_fingerprint,
    leaf_hash,
    load_public_key,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "ProofStatus",
    "ProofVerdict",
    "read_proof",
    "read_saved_checkpoints",
    "verify_proof",
]

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
#: Larger proof files are refused unread (a proof is a few kB).
MAX_PROOF_BYTES = 16 * 1024 * 1024


class ProofStatus(StrEnum):
    """The outcome of checking a proof."""

    PROVEN = "proven"
    NOT_PROVEN = "not_proven"
    UNANCHORED = "unanchored"


@dataclass(frozen=True)
class ProofVerdict:
    """What :func:`verify_proof` found.

    Attributes
    ----------
    status
        Proven, not proven, or unanchored.
    kind
        ``"inclusion"`` or ``"consistency"``.
    subject
        What the proof is about, e.g. ``tenant acme seq 17`` or
        ``tenant acme 100 -> 250``.
    detail
        One sentence: why it is not proven, what is unanchored, or what anchored it.
    anchors
        The independent anchors used (``public key 1a2b...``, ``saved checkpoint``).
    """

    status: ProofStatus
    kind: Literal["inclusion", "consistency"]
    subject: str
    detail: str
    anchors: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Proven (the path holds and is anchored)."""
        return self.status is ProofStatus.PROVEN

    def summary(self) -> str:
        """One line for people."""
        word = self.status.value.replace("_", " ").upper()
        return f"{word}: {self.kind} of {self.subject}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "status": self.status.value,
            "ok": self.ok,
            "kind": self.kind,
            "subject": self.subject,
            "detail": self.detail,
            "anchors": list(self.anchors),
        }


def read_proof(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a proof document (JSON object); a usage error if it is not one."""
    return _read_json(path, "proof file")


def read_saved_checkpoints(path: str | os.PathLike[str]) -> list[Checkpoint]:
    """The checkpoints of a file written by ``auditkit checkpoint -o`` (or of one
    checkpoint as JSON): the auditor's own record of earlier roots."""
    doc = _read_json(path, "checkpoint file")
    items = [doc] if "root_hash" in doc else [*doc.get("checkpoints", []), *doc.get("history", [])]
    out = []
    for i, item in enumerate(items):
        try:
            out.append(Checkpoint.from_dict(item))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UsageError(f"{os.fspath(path)}: checkpoint {i}: {exc}") from None
    if not out:
        raise UsageError(f"{os.fspath(path)}: no checkpoints in this file")
    return out


def _read_json(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{os.fspath(path)}: no such {what}")
    if p.stat().st_size > MAX_PROOF_BYTES:
        raise UsageError(f"{os.fspath(path)}: too large for a {what}")
    try:
        doc = orjson.loads(p.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{os.fspath(path)}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{os.fspath(path)}: expected a JSON object, got {type(doc).__name__}")
    return doc


def verify_proof(
    doc: Mapping[str, Any],
    *,
    public_key: Any | None = None,
    checkpoints: Iterable[Checkpoint] = (),
) -> ProofVerdict:
    """Check an inclusion or consistency proof document offline.

    Parameters
    ----------
    doc
        The proof as JSON (what ``auditkit proof`` prints).
    public_key
        The store's Ed25519 public key (a key object, PEM text or a PEM file
        path): anchors a root through its checkpoint's signature.
    checkpoints
        Checkpoints saved earlier (:func:`read_saved_checkpoints`): a root they
        name is anchored, and a root that contradicts one is not proven.

    Raises
    ------
    UsageError
        When ``doc`` is not a proof document (a field missing or of the wrong type).
    """
    key = _public_key(public_key)
    saved = list(checkpoints)
    kind = doc.get("kind") or ("old_size" in doc and "consistency") or "inclusion"
    if kind == "inclusion":
        return _inclusion(doc, key, saved)
    if kind == "consistency":
        return _consistency(doc, key, saved)
    raise UsageError(f"not a proof document: kind {str(kind)[:40]!r}")


def _public_key(value: Any) -> Any:
    if value is None or not isinstance(value, str | bytes | os.PathLike):
        return value
    try:
        return load_public_key(value)
    except (SignatureError, ValueError, OSError):
        raise UsageError("public key: not an Ed25519 public key in PEM form") from None


# -- reading fields -------------------------------------------------------------------------
def _field(doc: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise UsageError(f"not a proof document: field {name!r}: expected {what}")
    return value


def _size(doc: Mapping[str, Any], name: str) -> int:
    value: int = _field(doc, name, int, "a whole number >= 0")
    if value < 0:
        raise UsageError(f"not a proof document: field {name!r}: expected a whole number >= 0")
    return value


def _hash(doc: Mapping[str, Any], name: str) -> bytes:
    value = _field(doc, name, str, "64 lowercase hex characters")
    if not _HEX64.match(value):
        raise UsageError(f"not a proof document: field {name!r}: expected 64 lowercase hex")
    return bytes.fromhex(value)


def _path(doc: Mapping[str, Any]) -> list[bytes]:
    items = _field(doc, "path", list, "a list of hashes")
    if len(items) > 128 or not all(isinstance(h, str) and _HEX64.match(h) for h in items):
        raise UsageError("not a proof document: field 'path': expected a list of hex hashes")
    return [bytes.fromhex(h) for h in items]


def _checkpoint(doc: Mapping[str, Any], name: str) -> Checkpoint | None:
    value = doc.get(name)
    if value is None:
        return None
    try:
        return Checkpoint.from_dict(value)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(f"not a proof document: field {name!r}: {exc}") from None


# -- anchoring ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Anchor:
    """Whether one root is anchored: ``ok`` None (nothing independent), True or False."""

    ok: bool | None
    detail: str = ""
    anchor: str = ""


def _anchor(
    tenant: str, size: int, root: bytes, cp: Checkpoint | None, key: Any, saved: list[Checkpoint]
) -> _Anchor:
    """Is the root of ``tenant``'s tree at ``size`` independently vouched for?"""
    label = f"the root at size {size}"
    if cp is not None and (
        cp.tenant_id != tenant or cp.tree_size != size or cp.root_hash != root.hex()
    ):
        return _Anchor(False, f"its checkpoint is not for {label} of tenant {tenant}")
    for s in saved:
        if s.tenant_id == tenant and s.tree_size == size:
            if cp is not None and s.store_id != cp.store_id:
                continue
            if s.root_hash != root.hex():
                return _Anchor(False, f"a saved checkpoint names another root for size {size}")
            return _Anchor(True, anchor=f"saved checkpoint (size {size})")
    if cp is None:
        return _Anchor(None, f"{label} comes with no signed checkpoint")
    if key is None:
        return _Anchor(None, f"the signature on {label} was not checked (no public key given)")
    try:
        verify_checkpoint(cp, key)
    except (SignatureError, ValueError) as exc:
        return _Anchor(False, f"the checkpoint for {label}: {exc}")
    return _Anchor(True, anchor=f"public key {key_fingerprint(key)[:16]}")


def _verdict(kind: Any, subject: str, path_ok: str, anchors: list[_Anchor]) -> ProofVerdict:
    for a in anchors:
        if a.ok is False:
            return ProofVerdict(ProofStatus.NOT_PROVEN, kind, subject, a.detail)
    missing = [a.detail for a in anchors if a.ok is None]
    if missing:
        return ProofVerdict(
            ProofStatus.UNANCHORED, kind, subject, f"{path_ok}, but " + "; ".join(missing)
        )
    used = tuple(dict.fromkeys(a.anchor for a in anchors))
    return ProofVerdict(
        ProofStatus.PROVEN, kind, subject, f"{path_ok}, anchored by {', '.join(used)}", used
    )


# -- the two kinds --------------------------------------------------------------------------
def _inclusion(doc: Mapping[str, Any], key: Any, saved: list[Checkpoint]) -> ProofVerdict:
    tenant = _field(doc, "tenant_id", str, "a string")
    seq = _size(doc, "seq")
    size = _size(doc, "tree_size")
    canonical = _field(doc, "canonical", str, "the event's canonical JSON")
    path = _path(doc)
    cp = _checkpoint(doc, "checkpoint")
    subject = f"tenant {tenant} seq {seq}"

    def no(detail: str) -> ProofVerdict:
        return ProofVerdict(ProofStatus.NOT_PROVEN, "inclusion", subject, detail)

    try:
        event = orjson.loads(canonical)
    except orjson.JSONDecodeError:
        return no("the event's canonical bytes are not JSON")
    if not isinstance(event, dict):
        return no("the event's canonical bytes are not a JSON object")
    for name, claimed in (("tenant_id", tenant), ("seq", seq), ("event_id", doc.get("event_id"))):
        if event.get(name) != claimed:
            return no(
                f"the event says {name.replace('_id', '')} {event.get(name)}, "
                f"the proof says {name.replace('_id', '')} {claimed}"
            )
    if cp is None:
        raise UsageError("not a proof document: field 'checkpoint': expected a checkpoint")
    if seq >= size:
        return no(f"seq {seq} is outside a tree of {size}")
    try:
        verify_inclusion(
            leaf_hash(canonical.encode()), seq, size, path, bytes.fromhex(cp.root_hash)
        )
    except ProofError as exc:
        return no(f"the path does not lead to the checkpoint's root ({exc})")
    anchor = _anchor(tenant, size, bytes.fromhex(cp.root_hash), cp, key, saved)
    return _verdict("inclusion", subject, f"in the tree of {size}", [anchor])


def _consistency(doc: Mapping[str, Any], key: Any, saved: list[Checkpoint]) -> ProofVerdict:
    tenant = _field(doc, "tenant_id", str, "a string")
    old_size, new_size = _size(doc, "old_size"), _size(doc, "new_size")
    old_root, new_root = _hash(doc, "old_root"), _hash(doc, "new_root")
    path = _path(doc)
    subject = f"tenant {tenant} {old_size} -> {new_size}"
    try:
        verify_consistency(old_size, new_size, old_root, new_root, path)
    except ProofError as exc:
        return ProofVerdict(
            ProofStatus.NOT_PROVEN, "consistency", subject, f"the path does not hold ({exc})"
        )
    anchors = [
        _anchor(tenant, old_size, old_root, _checkpoint(doc, "old_checkpoint"), key, saved),
        _anchor(tenant, new_size, new_root, _checkpoint(doc, "new_checkpoint"), key, saved),
    ]
    return _verdict("consistency", subject, "the old tree is a prefix of the new", anchors)
