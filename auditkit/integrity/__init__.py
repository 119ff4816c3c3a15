"""Integrity primitives: canonical JSON, Merkle trees and proofs, signed checkpoints.

This package depends on nothing else in auditkit (only the standard library,
``cryptography``, ``rfc8785`` and ``orjson``), so that a verifier can use it on
its own.

* :mod:`auditkit.integrity.jcs`: RFC 8785 canonical bytes (:func:`canonical_bytes`).
* :mod:`auditkit.integrity.merkle`: RFC 6962 / RFC 9162 tree hashing, compact
  ranges (:class:`Frontier`), inclusion and consistency proofs; failures raise
  :class:`ProofError`.
* :mod:`auditkit.integrity.signing`: Ed25519 keys and signed checkpoints
  (:class:`Checkpoint`); failures raise :class:`SignatureError`.
* :mod:`auditkit.integrity.statements`: signed statements that a range of records
  was purged or sealed (:class:`RangeStatement`).
* :mod:`auditkit.integrity.note`: C2SP signed notes, checkpoints and witness
  cosignatures, for tools and witnesses outside auditkit; failures raise
  :class:`~auditkit.integrity.note.NoteError`.

Both errors subclass :class:`ValueError`.

Examples
--------
>>> from auditkit import integrity
>>> leaves = integrity.leaf_hashes([integrity.canonical_bytes({"seq": i}) for i in range(3)])
>>> root = integrity.root_from_leaf_hashes(leaves)
>>> integrity.verify_inclusion(leaves[1], 1, 3, integrity.inclusion_proof(leaves, 1), root)
>>> key = integrity.generate_key()
>>> cp = integrity.sign_checkpoint(key, store_id="s", tenant_id="t", tree_size=3, root_hash=root)
>>> integrity.verify_checkpoint(cp, key.public_key())
"""

from auditkit.integrity.jcs import (
    CanonicalizationError,
    canonical_bytes,
    fast_canonical_bytes,
    is_jcs_safe,
)
from auditkit.integrity.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    ProofError,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_proof,
    inclusion_proof_ranges,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from auditkit.integrity.signing import (
    CHECKPOINT_HEADER,
    KEY_ID_LENGTH,
    Checkpoint,
    SignatureError,
    decode_signature,
    generate_key,
    key_fingerprint,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    save_private_key,
    sign_checkpoint,
    verify_checkpoint,
)
from auditkit.integrity.statements import (
    STATEMENT_HEADER,
    STATEMENT_KINDS,
    RangeStatement,
    sign_statement,
    verify_statement,
)

__all__ = [
    "CHECKPOINT_HEADER",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "KEY_ID_LENGTH",
    "STATEMENT_HEADER",
    "STATEMENT_KINDS",
    "CanonicalizationError",
    "Checkpoint",
    "Frontier",
    "ProofError",
    "RangeStatement",
    "SignatureError",
    "canonical_bytes",
    "consistency_proof",
    "consistency_proof_ranges",
    "decode_signature",
    "fast_canonical_bytes",
    "generate_key",
    "inclusion_proof",
    "inclusion_proof_ranges",
    "is_jcs_safe",
    "key_fingerprint",
    "key_id",
    "leaf_hash",
    "leaf_hashes",
    "load_private_key",
    "load_public_key",
    "node_hash",
    "public_key_pem",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "save_private_key",
    "sign_checkpoint",
    "sign_statement",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_statement",
]
