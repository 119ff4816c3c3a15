"""RFC 6962 / RFC 9162 Merkle tree hashing, compact ranges and proofs.

A tenant's audit log is an append-only list of leaves. Each leaf hash is
``SHA-256(0x00 || canonical bytes)`` and each interior node is
``SHA-256(0x01 || left || right)``; the tree over ``n`` leaves is the RFC 6962
left-complete tree (``MTH(D[n]) = H(MTH(D[0:k]), MTH(D[k:n]))`` with ``k`` the
largest power of two below ``n``). The root of the empty tree is ``SHA-256("")``.

This module has three parts:

* hashing: :func:`leaf_hash`, :func:`node_hash`, :func:`root_from_leaf_hashes`
  and :class:`Frontier` (a compact range for incremental appends);
* proof generation from the full list of leaf hashes: :func:`inclusion_proof`
  and :func:`consistency_proof` (RFC 6962 ``PATH`` and ``PROOF``);
* verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2):
  :func:`verify_inclusion`, :func:`verify_consistency` and the
  ``root_from_*`` helpers, which raise :class:`ProofError`.

Hashes are 32-byte :class:`bytes` throughout. Proof *generation* trusts its
input (the store's own leaf hashes); proof *verification* treats every argument
as untrusted and checks sizes and lengths before hashing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "ProofError",
    "consistency_proof",
    "consistency_proof_ranges",
    "inclusion_proof",
    "inclusion_proof_ranges",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT: bytes = _sha256(b"").digest()
"""Root hash of the empty tree: ``SHA-256("")`` (RFC 6962 section 2.1)."""


class ProofError(ValueError):
    """A Merkle inclusion or consistency proof does not verify.

    The message says what was expected and what was found, e.g. the proof
    length a tree size calls for, or the root the proof computes against the
    root it was checked against.
    """


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)`` of a leaf's bytes.

    Examples
    --------
    >>> leaf_hash(b"").hex()
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'
    """
    return _sha256(b"\x00" + data).digest()


def leaf_hashes(items: Iterable[bytes]) -> list[bytes]:
    """Return the leaf hash of each item, in order (faster than calling :func:`leaf_hash`).

    Examples
    --------
    >>> hashes = leaf_hashes([b"a", b"b"])
    >>> hashes[0] == leaf_hash(b"a"), len(hashes)
    (True, 2)
    """
    h = _sha256
    return [h(b"\x00" + item).digest() for item in items]


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``.

    Examples
    --------
    >>> node_hash(b"N123", b"N456").hex()
    'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb'
    """
    return _sha256(b"\x01" + left + right).digest()


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    """Hash adjacent pairs of one tree level; an odd last node is promoted unchanged."""
    h = _sha256
    pairs = iter(level)
    up = [h(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
    if len(level) & 1:
        up.append(level[-1])
    return up


def root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """Return the RFC 6962 Merkle tree hash of a list of leaf hashes.

    Computed level by level: adjacent pairs are hashed and an odd last node is
    promoted unchanged to the next level. This gives the same root as the
    recursive left-complete definition of RFC 6962 section 2.1, in ``n - 1``
    node hashes and without recursion. Leaf hashes are trusted (not checked).

    Parameters
    ----------
    leaves
        The leaf hashes (see :func:`leaf_hash`), in log order.

    Returns
    -------
    bytes
        The 32-byte root; :data:`EMPTY_ROOT` for no leaves.

    Examples
    --------
    >>> a, b, c = leaf_hashes([b"a", b"b", b"c"])
    >>> root_from_leaf_hashes([a, b, c]) == node_hash(node_hash(a, b), c)
    True
    >>> root_from_leaf_hashes([]) == EMPTY_ROOT
    True
    """
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    level = _next_level(leaves)
    while len(level) > 1:
        level = _next_level(level)
    return level[0]


_SMALL_BATCH = 64  # Frontier.extend merges batches up to this size leaf by leaf


def _split(n: int) -> int:
    """Return the largest power of two strictly less than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


# -------------------------------------------------------------------------- frontier


@dataclass(frozen=True, slots=True)
class Frontier:
    """A compact range: what is needed to append to a tree and compute its root.

    ``hashes`` holds the roots of the perfect subtrees that the binary
    decomposition of ``size`` splits the tree into, largest (leftmost) first:
    one hash per set bit of ``size``. Appending ``k`` leaves costs about ``k``
    node hashes, whatever the tree's size. Instances are immutable;
    :meth:`extend` returns a new one.

    Parameters
    ----------
    size
        Number of leaves in the tree.
    hashes
        The subtree roots, largest first (``size.bit_count()`` of them).

    Examples
    --------
    >>> f = Frontier.empty().extend(leaf_hashes([b"a", b"b", b"c"]))
    >>> f.size, len(f.hashes)
    (3, 2)
    >>> f.root() == root_from_leaf_hashes(leaf_hashes([b"a", b"b", b"c"]))
    True
    """

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if type(self.size) is not int or self.size < 0:
            raise ValueError(f"Frontier size: expected an int >= 0, got {self.size!r}")
        want = self.size.bit_count()
        if len(self.hashes) != want:
            raise ValueError(
                f"Frontier of size {self.size}: expected {want} subtree hashes "
                f"(one per set bit of the size), got {len(self.hashes)}"
            )
        for i, h in enumerate(self.hashes):
            if type(h) is not bytes or len(h) != HASH_SIZE:
                raise ValueError(
                    f"Frontier hashes[{i}]: expected {HASH_SIZE} bytes, got {_describe(h)}"
                )

    @classmethod
    def _trusted(cls, size: int, hashes: tuple[bytes, ...]) -> Frontier:
        """Build without validation (for states computed here)."""
        frontier = object.__new__(cls)
        object.__setattr__(frontier, "size", size)
        object.__setattr__(frontier, "hashes", hashes)
        return frontier

    @classmethod
    def empty(cls) -> Frontier:
        """Return the frontier of the empty tree.

        Examples
        --------
        >>> Frontier.empty().root() == EMPTY_ROOT
        True
        """
        return cls(0, ())

    def extend(self, leaf_hashes: Iterable[bytes]) -> Frontier:
        """Return a new frontier with ``leaf_hashes`` (trusted, in log order) appended.

        Small batches are merged leaf by leaf; large ones level by level like
        :func:`root_from_leaf_hashes`: about one node hash per leaf either way.

        Examples
        --------
        >>> leaves = leaf_hashes([b"a", b"b", b"c", b"d", b"e"])
        >>> f = Frontier.empty().extend(leaves[:2]).extend(leaves[2:])
        >>> f == Frontier.empty().extend(leaves)
        True
        >>> f.size, f.root() == root_from_leaf_hashes(leaves)
        (5, True)
        """
        level = list(leaf_hashes)
        if not level:
            return self
        size = self.size
        new_size = size + len(level)
        h = _sha256
        if len(level) <= _SMALL_BATCH:
            # Few leaves: merge each into the stack of subtree roots.
            stack = list(self.hashes)
            for node in level:
                s = size
                while s & 1:
                    node = h(b"\x01" + stack.pop() + node).digest()
                    s >>= 1
                stack.append(node)
                size += 1
            return Frontier._trusted(new_size, tuple(stack))
        old = list(self.hashes)  # largest first: pop() yields the lowest subtree
        out: list[bytes] = []  # smallest first
        height = 0
        # At each height, the old subtree root of that height (if any) sits just
        # left of the new nodes, and together they start at a position aligned
        # to twice the height: pairs can be hashed blindly and an odd last node
        # is exactly the new frontier's subtree of that height.
        while level or old:
            if (size >> height) & 1:
                level.insert(0, old.pop())
            if len(level) & 1:
                out.append(level.pop())
            pairs = iter(level)
            level = [h(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
            height += 1
        out.reverse()
        return Frontier._trusted(new_size, tuple(out))

    def root(self) -> bytes:
        """Return the root hash of the tree.

        Examples
        --------
        >>> a, b = leaf_hashes([b"a", b"b"])
        >>> Frontier.empty().extend([a, b]).root() == node_hash(a, b)
        True
        """
        hashes = self.hashes
        if not hashes:
            return EMPTY_ROOT
        root = hashes[-1]
        for h in reversed(hashes[:-1]):
            root = node_hash(h, root)
        return root

    def to_bytes(self) -> bytes:
        """Return the subtree hashes concatenated (``32 * size.bit_count()`` bytes).

        Store it next to ``size``; :meth:`from_bytes` reverses it.

        Examples
        --------
        >>> f = Frontier.empty().extend(leaf_hashes([b"a", b"b", b"c"]))
        >>> len(f.to_bytes())
        64
        >>> Frontier.from_bytes(3, f.to_bytes()) == f
        True
        """
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes | bytearray | memoryview) -> Frontier:
        """Rebuild a frontier from its size and :meth:`to_bytes` output.

        Raises
        ------
        ValueError
            If ``blob`` is not ``32 * size.bit_count()`` bytes long.

        Examples
        --------
        >>> Frontier.from_bytes(0, b"") == Frontier.empty()
        True
        >>> Frontier.from_bytes(3, b"x" * 32)
        Traceback (most recent call last):
        ...
        ValueError: Frontier of size 3: expected 64 bytes (2 hashes), got 32 bytes
        """
        if type(size) is not int or size < 0:
            raise ValueError(f"Frontier size: expected an int >= 0, got {size!r}")
        n = size.bit_count()
        if len(blob) != n * HASH_SIZE:
            raise ValueError(
                f"Frontier of size {size}: expected {n * HASH_SIZE} bytes ({n} hashes), "
                f"got {len(blob)} bytes"
            )
        data = bytes(blob)
        return cls(size, tuple(data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)))


# ------------------------------------------------------------------ proof generation


def _inclusion_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """RFC 6962 ``PATH(index, D[tree_size])`` as leaf ranges, leaf to root (unchecked)."""
    ranges: list[tuple[int, int]] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """RFC 6962 ``PROOF(old_size, D[new_size])`` as leaf ranges, in proof order (unchecked)."""
    ranges: list[tuple[int, int]] = []
    lo, hi, whole = 0, new_size, True
    while old_size != hi:
        mid = lo + _split(hi - lo)
        if old_size <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo, whole = mid, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def inclusion_proof_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """Return the ``(lo, hi)`` leaf ranges whose tree hashes form an inclusion proof.

    The proof for leaf ``index`` in a tree of ``tree_size`` leaves (RFC 6962
    ``PATH``) is ``[MTH(D[lo:hi]) for lo, hi in ranges]``. Every range except
    possibly the one ending at ``tree_size`` is a perfect, aligned subtree, so
    a store can serve these hashes from stored tiles; :func:`inclusion_proof`
    computes them from the leaf hashes. Raises ValueError unless
    ``0 <= index < tree_size``.

    Examples
    --------
    >>> inclusion_proof_ranges(2, 5)
    [(3, 4), (0, 2), (4, 5)]
    """
    _require(index, "index")
    _require(tree_size, "tree_size")
    if index >= tree_size:
        raise ValueError(f"index {index}: expected 0 <= index < tree_size {tree_size}")
    return _inclusion_ranges(index, tree_size)


def consistency_proof_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Return the ``(lo, hi)`` leaf ranges whose tree hashes form a consistency proof.

    Like :func:`inclusion_proof_ranges`, for RFC 6962 ``PROOF(old_size,
    D[new_size])``; empty when the sizes are equal. Raises ValueError unless
    ``1 <= old_size <= new_size``: RFC 9162 defines no consistency proof from
    the empty tree (every tree extends it).

    Examples
    --------
    >>> consistency_proof_ranges(3, 7)
    [(2, 3), (3, 4), (0, 2), (4, 7)]
    >>> consistency_proof_ranges(4, 4)
    []
    """
    _require(old_size, "old_size")
    _require(new_size, "new_size")
    if not 1 <= old_size <= new_size:
        raise ValueError(
            f"sizes {old_size} -> {new_size}: expected 1 <= old_size <= new_size "
            "(no consistency proof exists from the empty tree)"
        )
    return _consistency_ranges(old_size, new_size)


def _tree_size_arg(leaves: Sequence[bytes], tree_size: int | None) -> int:
    if tree_size is None:
        return len(leaves)
    _require(tree_size, "tree_size")
    if tree_size > len(leaves):
        raise ValueError(
            f"tree_size {tree_size}: expected at most the {len(leaves)} leaf hashes given"
        )
    return tree_size


def inclusion_proof(
    leaves: Sequence[bytes], index: int, tree_size: int | None = None
) -> list[bytes]:
    """Return the inclusion proof of leaf ``index`` in the tree of ``tree_size`` leaves.

    RFC 6962 ``PATH``: the hashes from the leaf's sibling up to the root's
    child. ``leaves`` are the log's leaf hashes in order; ``tree_size``
    defaults to ``len(leaves)``. Each sibling subtree is hashed level by level:
    about ``tree_size`` node hashes in all. Raises ValueError unless
    ``0 <= index < tree_size <= len(leaves)``.

    Examples
    --------
    >>> leaves = leaf_hashes([b"a", b"b", b"c"])
    >>> proof = inclusion_proof(leaves, 0)
    >>> proof == [leaves[1], leaves[2]]
    True
    >>> verify_inclusion(leaves[0], 0, 3, proof, root_from_leaf_hashes(leaves))
    """
    n = _tree_size_arg(leaves, tree_size)
    ranges = inclusion_proof_ranges(index, n)
    return [root_from_leaf_hashes(leaves[lo:hi]) for lo, hi in ranges]


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """Return the proof that a tree of ``new_size`` leaves extends one of ``old_size``.

    RFC 6962 ``PROOF(old_size, D[new_size])`` (empty when the sizes are equal),
    computed level by level from ``leaves``, the log's leaf hashes in order:
    about ``new_size`` node hashes in all. Raises ValueError unless
    ``1 <= old_size <= new_size <= len(leaves)``.

    Examples
    --------
    >>> leaves = leaf_hashes([b"a", b"b", b"c", b"d"])
    >>> proof = consistency_proof(leaves, 3, 4)
    >>> len(proof)
    3
    >>> old, new = root_from_leaf_hashes(leaves[:3]), root_from_leaf_hashes(leaves)
    >>> verify_consistency(3, 4, old, new, proof)
    """
    _tree_size_arg(leaves, new_size)
    ranges = consistency_proof_ranges(old_size, new_size)
    return [root_from_leaf_hashes(leaves[lo:hi]) for lo, hi in ranges]


# --------------------------------------------------------------------- verification


def _require(value: object, name: str, error: type[ValueError] = ValueError) -> int:
    """Return ``value`` if it is an int >= 0 (bool excluded), else raise ``error``."""
    if type(value) is not int or value < 0:
        raise error(f"{name}: expected an int >= 0, got {value!r}")
    return value


def _describe(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return f"{len(value)} bytes"
    return f"a {type(value).__name__}"


def _hex(value: object) -> str:
    return bytes(value).hex() if isinstance(value, bytes | bytearray) else repr(value)


def _hash_arg(value: object, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{name}: expected a {HASH_SIZE}-byte hash, got {_describe(value)}")
    return bytes(value)


def _proof_arg(proof: Sequence[bytes], want: int, what: str) -> list[bytes]:
    if isinstance(proof, bytes | bytearray | str):
        raise ProofError(f"{what}: expected a sequence of hashes, got {_describe(proof)}")
    hashes = list(proof)
    if len(hashes) != want:
        raise ProofError(f"{what}: expected {want} hashes, got {len(hashes)}")
    return [_hash_arg(h, f"proof[{i}]") for i, h in enumerate(hashes)]


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Return the root that an inclusion proof leads to (RFC 9162 section 2.1.3.2).

    Parameters
    ----------
    leaf_hash
        The 32-byte hash of the leaf (see :func:`leaf_hash`).
    index
        Position of the leaf (0-based).
    tree_size
        Size of the tree the proof is for.
    proof
        The proof's hashes, from the leaf's sibling upwards.

    Returns
    -------
    bytes
        The root hash the proof computes; compare it with a trusted root, or
        call :func:`verify_inclusion`.

    Raises
    ------
    ProofError
        If ``index >= tree_size``, a hash is not 32 bytes, or the proof does
        not have the length the index and tree size call for.

    Examples
    --------
    >>> a, b = leaf_hashes([b"a", b"b"])
    >>> root_from_inclusion_proof(b, 1, 2, [a]) == node_hash(a, b)
    True
    >>> root_from_inclusion_proof(b, 1, 2, [])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.integrity.merkle.ProofError: inclusion proof ...: expected 1 hashes, got 0
    """
    index = _require(index, "index", ProofError)
    tree_size = _require(tree_size, "tree_size", ProofError)
    if index >= tree_size:
        raise ProofError(
            f"index {index} is outside a tree of size {tree_size}: expected index < tree_size"
        )
    r = _hash_arg(leaf_hash, "leaf hash")
    want = len(_inclusion_ranges(index, tree_size))
    path = _proof_arg(
        proof, want, f"inclusion proof for index {index} in a tree of size {tree_size}"
    )
    h = _sha256
    fn, sn = index, tree_size - 1
    # The length check above stands for RFC 9162's "sn == 0" checks.
    for p in path:
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that a leaf is at ``index`` in the tree of ``tree_size`` leaves with ``root``.

    Arguments are as for :func:`root_from_inclusion_proof`, plus ``root``, the
    trusted root hash of the tree of ``tree_size`` leaves (from a checkpoint).

    Raises
    ------
    ProofError
        If the proof is malformed or leads to another root; the message says
        what was expected and what was found.

    Examples
    --------
    >>> leaves = leaf_hashes([b"a", b"b", b"c"])
    >>> root = root_from_leaf_hashes(leaves)
    >>> verify_inclusion(leaves[2], 2, 3, inclusion_proof(leaves, 2), root)
    >>> verify_inclusion(leaves[1], 2, 3, inclusion_proof(leaves, 2), root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.integrity.merkle.ProofError: inclusion proof ... computes root ..., expected ...
    """
    computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof for index {index} in a tree of size {tree_size} "
            f"computes root {computed.hex()}, expected {_hex(root)}"
        )


def root_from_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> bytes:
    """Check a consistency proof against the old root and return the new root it implies.

    Implements RFC 9162 section 2.1.4.2. The proof shows that the first
    ``old_size`` leaves of the new tree are exactly the old tree.

    Parameters
    ----------
    old_size, new_size
        Sizes of the two trees, ``1 <= old_size <= new_size``.
    old_root
        The trusted root hash of the old tree.
    proof
        The proof's hashes (see :func:`consistency_proof`).

    Returns
    -------
    bytes
        The root hash of the new tree that the proof computes (``old_root``
        when the sizes are equal).

    Raises
    ------
    ProofError
        If ``old_size > new_size``; if ``old_size == 0`` (RFC 9162 defines no
        consistency proof from the empty tree, which every tree extends:
        compare roots directly instead); if the proof has the wrong length or
        a hash is not 32 bytes; or if the proof does not lead to ``old_root``.

    Examples
    --------
    >>> leaves = leaf_hashes([b"a", b"b", b"c"])
    >>> old = root_from_leaf_hashes(leaves[:2])
    >>> new = root_from_consistency_proof(2, 3, old, consistency_proof(leaves, 2, 3))
    >>> new == root_from_leaf_hashes(leaves)
    True
    """
    old_size = _require(old_size, "old_size", ProofError)
    new_size = _require(new_size, "new_size", ProofError)
    if old_size > new_size:
        raise ProofError(
            f"old tree size {old_size} is larger than new tree size {new_size}: "
            "expected old_size <= new_size"
        )
    if old_size == 0:
        raise ProofError(
            "old tree size is 0: expected old_size >= 1 (RFC 9162 defines no consistency "
            "proof from the empty tree, which every tree extends)"
        )
    what = f"consistency proof from size {old_size} to size {new_size}"
    if old_size == new_size:
        _proof_arg(proof, 0, what)
        return old_root
    path = _proof_arg(proof, len(_consistency_ranges(old_size, new_size)), what)
    first = _hash_arg(old_root, "old root")
    if old_size & (old_size - 1) == 0:  # a perfect subtree: its root is left out of the proof
        path.insert(0, first)
    h = _sha256
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    # The length check above stands for RFC 9162's "sn == 0" checks.
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = h(b"\x01" + c + fr).digest()
            sr = h(b"\x01" + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if fr != first:
        raise ProofError(
            f"{what} does not match the old tree: it computes old root {fr.hex()}, "
            f"expected {first.hex()}"
        )
    return sr


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (``new_size``, ``new_root``) extends (``old_size``, ``old_root``).

    ``old_root`` and ``new_root`` are trusted roots (e.g. from two
    checkpoints) of trees of ``1 <= old_size <= new_size`` leaves; ``proof``
    comes from :func:`consistency_proof` and is empty when the sizes are equal,
    in which case the roots must be equal.

    Raises
    ------
    ProofError
        If the proof is malformed or does not link the two roots (a rewritten
        or forked history); see :func:`root_from_consistency_proof`.

    Examples
    --------
    >>> leaves = leaf_hashes([b"a", b"b", b"c"])
    >>> old, new = root_from_leaf_hashes(leaves[:1]), root_from_leaf_hashes(leaves)
    >>> verify_consistency(1, 3, old, new, consistency_proof(leaves, 1, 3))
    >>> verify_consistency(3, 3, new, old, [])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.integrity.merkle.ProofError: trees of the same size 3 have different roots: ...
    """
    computed = root_from_consistency_proof(old_size, new_size, old_root, proof)
    if old_size == new_size:
        if old_root != new_root:
            raise ProofError(
                f"trees of the same size {new_size} have different roots: "
                f"old {_hex(old_root)}, new {_hex(new_root)}"
            )
        return
    if computed != new_root:
        raise ProofError(
            f"consistency proof from size {old_size} to size {new_size} computes new root "
            f"{computed.hex()}, expected {_hex(new_root)}"
        )
