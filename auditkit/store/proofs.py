"""Proofs a store hands out: that an event is in a tenant's signed tree
(:class:`InclusionProof`), and that a tree extends an older one
(:class:`ConsistencyProof`).  Both are plain values that verify offline, without
the store: what they trust is the checkpoint signature (checked against a public
key the verifier supplies) or a root the verifier already trusts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditkit.errors import IntegrityError
from auditkit.integrity import Checkpoint, verify_checkpoint

__all__ = ["ConsistencyProof", "InclusionProof"]


@dataclass(frozen=True)
class InclusionProof:
    """Proof that one event is leaf ``seq`` of the tenant's tree of ``tree_size``.

    Verify it offline with :meth:`verify` (against ``checkpoint`` and the store's
    public key, or against a root you trust).
    """

    tenant_id: str
    seq: int
    event_id: str
    canonical: str
    tree_size: int
    path: tuple[str, ...]
    checkpoint: Checkpoint

    def verify(self, public_key: Any | None = None, *, root_hash: str | None = None) -> None:
        """Check the proof; raise :class:`~auditkit.errors.IntegrityError` if it fails."""
        from auditkit.integrity import leaf_hash, verify_inclusion

        if public_key is not None:
            _verify_cp(self.checkpoint, public_key)
        root = bytes.fromhex(root_hash or self.checkpoint.root_hash)
        if self.checkpoint.tree_size != self.tree_size and root_hash is None:
            raise IntegrityError("proof and checkpoint are for different tree sizes")
        try:
            verify_inclusion(
                leaf_hash(self.canonical.encode()),
                self.seq,
                self.tree_size,
                [bytes.fromhex(h) for h in self.path],
                root,
            )
        except ValueError as exc:
            raise IntegrityError(f"inclusion proof for seq {self.seq} failed: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "tenant_id": self.tenant_id,
            "seq": self.seq,
            "event_id": self.event_id,
            "canonical": self.canonical,
            "tree_size": self.tree_size,
            "path": list(self.path),
            "checkpoint": self.checkpoint.to_dict(),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """Proof that the tree at ``old_size`` is a prefix of the tree at ``new_size``."""

    tenant_id: str
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: tuple[str, ...]

    def verify(self, *, old_root: str | None = None, new_root: str | None = None) -> None:
        """Check the proof against trusted roots (default: the ones it carries)."""
        from auditkit.integrity import verify_consistency

        try:
            verify_consistency(
                self.old_size,
                self.new_size,
                bytes.fromhex(old_root or self.old_root),
                bytes.fromhex(new_root or self.new_root),
                [bytes.fromhex(h) for h in self.path],
            )
        except ValueError as exc:
            raise IntegrityError(
                f"consistency proof {self.old_size} -> {self.new_size} failed: {exc}"
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "tenant_id": self.tenant_id,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root,
            "new_root": self.new_root,
            "path": list(self.path),
        }


def _verify_cp(cp: Checkpoint, public_key: Any) -> None:
    try:
        verify_checkpoint(cp, public_key)
    except ValueError as exc:
        raise IntegrityError(str(exc)) from exc
