"""Vectorised hashing for verification: leaf hashes of stored rows, digests as
NumPy arrays, and RFC 6962 roots over millions of leaves.

What it guarantees: the same hashes as :mod:`auditkit.integrity` (tested against
it), computed in Polars and NumPy instead of Python loops.  What it trusts: its
input is data; a row whose canonical text cannot be built hashes to all zeros and
is reported by :func:`null_rows`, never silently accepted.
"""

from __future__ import annotations

import binascii
import hashlib
import threading
from typing import Final

import numpy as np
import polars as pl
import polars_hash  # noqa: F401  (registers the .chash namespace)
import pyarrow as pa

from auditkit.integrity import EMPTY_ROOT
from auditkit.record import STORED_COLUMNS, exact_canonical, leaf_hash_exprs

__all__ = [
    "GrowingTree",
    "digest_rows",
    "hash_rows",
    "hex_series",
    "leaf_digests",
    "null_rows",
    "prefix_root",
    "rows_differ",
    "tree_levels",
    "tree_root",
]

#: Levels of the Merkle tree narrower than this are hashed with hashlib (less overhead).
_SMALL_LEVEL: Final = 4096
#: Node pairs hashed per vectorised call when computing a root.
_ROOT_SLICE: Final = 1 << 18
_ZERO_HEX: Final = "00" * 32


def digest_rows(hexes: pl.Series) -> np.ndarray:
    """Hex SHA-256 digests as a ``(n, 32)`` byte array.

    Every value is 64 hex characters, so the Arrow data buffer is one contiguous
    hex string: a single ``unhexlify`` (C speed; Polars' ``str.decode("hex")`` is
    ten times slower).  Nulls (a row whose canonical text could not be built)
    become all-zero digests: callers mark them as failing with :func:`_null_rows`.
    """
    n = hexes.len()
    arr = hexes.fill_null(_ZERO_HEX).rechunk().to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], np.int64, count=n + 1, offset=arr.offset * 8)
    start, end = int(offsets[0]), int(offsets[-1])
    if end - start != 64 * n:
        raise ValueError("expected 64-character hex digests")
    data = arr.buffers()[2]
    raw = binascii.unhexlify(memoryview(data)[start:end]) if n else b""
    return np.frombuffer(raw, np.uint8).reshape(n, 32)


def _sha256_rows(rows: np.ndarray) -> np.ndarray:
    """SHA-256 of each row of a 2-D byte array, as a ``(n, 32)`` array.

    polars-hash hashes in Rust without the GIL; narrow inputs go through hashlib,
    whose per-call cost is lower than a Polars round trip for a few thousand rows.
    """
    n, width = rows.shape
    if n < _SMALL_LEVEL:
        data = rows.tobytes()
        sha = hashlib.sha256
        out = b"".join([sha(data[i : i + width]).digest() for i in range(0, n * width, width)])
        return np.frombuffer(out, np.uint8).reshape(n, 32)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    values = pl.Series(
        "v",
        pa.LargeBinaryArray.from_buffers(
            pa.large_binary(),
            n,
            [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows))],
        ),
    )
    hexes = pl.select(pl.lit(values).chash.sha2_256()).to_series()  # type: ignore[attr-defined]
    return digest_rows(hexes)


def tree_levels(blob: bytes | memoryview, n: int) -> list[np.ndarray]:
    """Every level of the RFC 6962 tree over the first ``n`` leaf hashes of ``blob``:
    level 0 the leaves (a view, not a copy), the last one the root alone.

    At level ``k``, row ``j`` is the root of the perfect subtree over leaves
    ``[j * 2**k, (j + 1) * 2**k)`` wherever that range lies within ``n`` (the last
    row of a level may be an odd node promoted from below).  Each level is hashed by
    polars-hash over a contiguous buffer, in slices, so temporary memory is bounded;
    the levels above the leaves take 32 bytes per leaf in all.
    """
    level = np.frombuffer(blob, np.uint8, count=n * 32).reshape(n, 32)
    levels = [level]
    while len(level) > 1:
        m = len(level) // 2
        up = np.empty((m + len(level) % 2, 32), np.uint8)
        _parents(level, 0, m, up)
        if len(level) % 2:
            up[m] = level[-1]
        level = up
        levels.append(level)
    return levels


def _parents(level: np.ndarray, a: int, b: int, out: np.ndarray) -> None:
    """Hash the node pairs ``a .. b - 1`` of ``level`` into ``out[a:b]``, in slices, so
    that the temporary pair and hex buffers do not grow with the level."""
    for lo in range(a, b, _ROOT_SLICE):
        hi = min(lo + _ROOT_SLICE, b)
        pairs = np.empty((hi - lo, 65), np.uint8)
        pairs[:, 0] = 1
        pairs[:, 1:] = level[2 * lo : 2 * hi].reshape(hi - lo, 64)
        out[lo:hi] = _sha256_rows(pairs)


def prefix_root(levels: list[np.ndarray], size: int) -> bytes:
    """The root of the tree over the first ``size`` leaves, from the levels of a tree
    at least that large: the perfect subtrees of ``size``'s binary decomposition,
    folded from the right (``log size`` hashes, whatever the size).

    >>> from auditkit.integrity import leaf_hashes, root_from_leaf_hashes
    >>> leaves = leaf_hashes([bytes([i]) for i in range(13)])
    >>> levels = tree_levels(b"".join(leaves), 13)
    >>> all(prefix_root(levels, k) == root_from_leaf_hashes(leaves[:k]) for k in range(14))
    True
    """
    if size == 0:
        return EMPTY_ROOT
    if size > len(levels[0]):
        raise ValueError(f"prefix_root: {size} leaves asked of a tree of {len(levels[0])}")
    nodes: list[bytes] = []
    offset = 0
    for k in range(size.bit_length() - 1, -1, -1):
        if size >> k & 1:
            nodes.append(levels[k][offset >> k].tobytes())
            offset += 1 << k
    root = nodes[-1]
    for node in reversed(nodes[:-1]):
        root = hashlib.sha256(b"\x01" + node + root).digest()
    return root


def tree_root(blob: bytes | memoryview, n: int) -> bytes:
    """RFC 6962 root of the first ``n`` leaf hashes of ``blob`` (32 bytes each).

    The same tree as :func:`~auditkit.integrity.root_from_leaf_hashes` (pairs
    hashed level by level, an odd last node promoted), but each level is hashed
    by polars-hash over a contiguous buffer instead of a Python loop over a list
    of ``n`` bytes objects: 1.5x faster for a million leaves, without the list's
    ~70 bytes per leaf, and in slices, so that its temporary memory is bounded.

    >>> from auditkit.integrity import leaf_hashes, root_from_leaf_hashes
    >>> leaves = leaf_hashes([b"a", b"b", b"c", b"d", b"e"])
    >>> tree_root(b"".join(leaves), 5) == root_from_leaf_hashes(leaves)
    True
    """
    if n == 0:
        return EMPTY_ROOT
    return bytes(tree_levels(blob, n)[-1][0].tobytes())


def leaf_digests(rows: pl.DataFrame, hexes: pl.Series, escape: pl.Series) -> np.ndarray:
    """The leaf hashes of stored rows as a ``(n, 32)`` array, from the fast hex
    hashes, with the rows that need JSON escaping redone exactly."""
    digests = digest_rows(hexes)
    if escape.any():
        digests = digests.copy()
        idx = escape.fill_null(False).arg_true()
        exact = exact_canonical(rows[idx].select(STORED_COLUMNS))
        digests[idx.to_numpy()] = np.frombuffer(
            b"".join(hashlib.sha256(b"\x00" + c).digest() for c in exact), np.uint8
        ).reshape(-1, 32)
    return digests


def hash_rows(rows: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Leaf hashes of stored rows, and which rows could not be hashed (null columns)."""
    leaf, escape = leaf_hash_exprs(rows.schema)
    out = rows.select(leaf.alias("_leaf"), escape.alias("_escape"))
    hexes = out.get_column("_leaf")
    return leaf_digests(rows, hexes, out.get_column("_escape")), null_rows(hexes)


def null_rows(hexes: pl.Series) -> np.ndarray:
    return hexes.is_null().to_numpy() if hexes.null_count() else np.zeros(hexes.len(), bool)


def rows_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise inequality of two ``(n, 32)`` byte arrays (compared as 4 x 64 bits)."""
    return np.asarray(
        (np.ascontiguousarray(a).view(np.uint64) != np.ascontiguousarray(b).view(np.uint64)).any(
            axis=1
        )
    )


def hex_series(name: str, digests: np.ndarray) -> pl.Series:
    n = len(digests)
    arr = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(32), n, [None, pa.py_buffer(np.ascontiguousarray(digests))]
    )
    return pl.Series(name, arr.cast(pa.large_binary())).bin.encode("hex")


class GrowingTree:
    """An authenticated Merkle tree that grows in place as the trail is appended to.

    It holds, for each level ``k``, the roots of the *perfect* subtrees over leaves
    ``[j * 2**k, (j + 1) * 2**k)`` within :attr:`size` leaves: ``size >> k`` rows.
    Those never change once the tree holds their leaves (only the odd nodes that
    :func:`tree_levels` promotes do), so growing from ``size`` to ``n`` leaves hashes
    the new nodes alone (``n - size`` of them, plus one per level) into spare
    capacity, and :meth:`levels` of any size up to :attr:`size` are views, not copies.
    Every reader of levels (:func:`prefix_root`, subtree roots, the leaves) touches
    perfect subtrees only.

    :meth:`grown` writes past :attr:`size` without moving it: the caller checks the
    root of the grown tree against a signature and then calls :meth:`commit`; nodes
    written past :attr:`size` by a growth that was not committed are overwritten by
    the next one.  :attr:`lock` serialises growers; views already handed out stay
    valid (a buffer that must grow is copied, never resized).

    >>> from auditkit.integrity import leaf_hashes, root_from_leaf_hashes
    >>> leaves = leaf_hashes([bytes([i]) for i in range(70)])
    >>> tree = GrowingTree.from_levels(tree_levels(b"".join(leaves[:5]), 5), 5)
    >>> for n in (6, 7, 33, 64, 70):
    ...     new = np.frombuffer(b"".join(leaves[tree.size:n]), np.uint8).reshape(-1, 32)
    ...     levels = tree.grown(new)
    ...     assert prefix_root(levels, n) == root_from_leaf_hashes(leaves[:n])
    ...     tree.commit(n)
    >>> all(prefix_root(tree.levels(k), k) == root_from_leaf_hashes(leaves[:k])
    ...     for k in range(1, 71))
    True
    """

    def __init__(self, bufs: list[np.ndarray], size: int) -> None:
        self._bufs = bufs
        #: leaves whose tree is authenticated (views up to this size are valid)
        self.size = size
        self.lock = threading.Lock()

    @classmethod
    def from_levels(cls, levels: list[np.ndarray], size: int, spare: float = 0.25) -> GrowingTree:
        """From :func:`tree_levels` of ``size`` leaves (copied, with spare capacity)."""
        return cls(_room(levels, size, max(size + int(size * spare), 1024)), size)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self._bufs)

    def levels(self, n: int | None = None) -> list[np.ndarray]:
        """Views of the perfect nodes of the tree over the first ``n`` leaves."""
        n = self.size if n is None else n
        if n > self.size:
            raise ValueError(f"a tree of {self.size} leaves has no levels of size {n}")
        bufs = self._bufs
        return [bufs[k][: n >> k] for k in range(n.bit_length())]

    def grown(self, leaves: np.ndarray) -> list[np.ndarray]:
        """The levels of this tree with ``leaves`` (a ``(m, 32)`` array) appended,
        computed past :attr:`size` (hold :attr:`lock`; :meth:`commit` once checked)."""
        old, n = self.size, self.size + len(leaves)
        bufs = self._bufs
        if len(bufs) < n.bit_length() or len(bufs[0]) < n:
            bufs = self._bufs = _room(bufs, old, n + n // 4)
        bufs[0][old:n] = leaves
        for k in range(1, n.bit_length()):
            _parents(bufs[k - 1], old >> k, n >> k, bufs[k])
        return [bufs[k][: n >> k] for k in range(n.bit_length())]

    def commit(self, n: int) -> None:
        """Mark the tree of ``n`` leaves (computed by :meth:`grown`) authenticated."""
        self.size = max(self.size, n)


def _room(levels: list[np.ndarray], size: int, cap: int) -> list[np.ndarray]:
    """Buffers for the perfect nodes of a tree of up to ``cap`` leaves, holding those
    of ``levels`` (a tree of ``size`` leaves)."""
    bufs = []
    for k in range(cap.bit_length()):
        buf = np.empty(((cap >> k) + 1, 32), np.uint8)
        have = size >> k
        if have:
            buf[:have] = levels[k][:have]
        bufs.append(buf)
    return bufs
