"""Verification of a store: every record against the signed Merkle tree (its
canonical bytes rebuilt from the columns), every column against the record,
the tree state and the signed statements against the trusted key, and the store
against checkpoints saved outside it.

What it guarantees, against an attacker who can write the database but does not
hold the key (see ``docs/store.md`` for the whole threat model):

* a record that was modified, deleted, inserted, reordered or moved to another
  tenant is named with its tenant, ``seq`` and ``event_id``; so is a row outside
  its tenant's signed range ``0..size-1`` (a negative, fractional, duplicated or
  huge ``seq``), found with work bounded by the rows that exist;
* the mapping from stored columns to canonical bytes is one-to-one: every column
  is checked to be a well-formed value of its type before its bytes are trusted
  (timestamps by a strict pattern, strings through JSON escaping, JSON columns by
  their shape), so no text can move across a column boundary unseen;
* tree state (tiles, tree head, frontier) that no longer matches the signed root is
  named, since a damaged one would block every later append;
* records are missing legitimately only inside a range that a purge or seal
  statement signed with the trusted key covers; an unsigned statement is forgery;
* a tenant whose signed history exists (checkpoints, statements) but whose records
  and tree are gone is named, never silently dropped from the report.

What it trusts: only the key chosen by :mod:`auditkit.store._trust` and the
checkpoints saved outside the store; everything read through
:class:`~auditkit.store._reader.TrailReader` is untrusted data.

The fast path is vectorised: leaf hashes of a chunk are computed with one
SHA-256 over a Polars column and compared with the stored Merkle tiles, which are
themselves authenticated by recomputing the signed root.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Final

import numpy as np
import orjson
import polars as pl

from auditkit.frame import frame_from_rows
from auditkit.integrity import (
    EMPTY_ROOT,
    Checkpoint,
    Frontier,
    RangeStatement,
    SignatureError,
    key_fingerprint,
    verify_checkpoint,
    verify_statement,
)
from auditkit.integrity.note import NoteError, VerifierKey, open_note, verify_cosignature
from auditkit.record import CANONICAL_KEYS, leaf_hash_exprs
from auditkit.schema import format_timestamp
from auditkit.store._access import AccessSeal, access_problems
from auditkit.store._cold import (
    ColdTier,
    SegmentRef,
    check_manifest,
    decode_segment,
    manifest_path,
    segment_range,
    sha256_hex,
    subtree_roots,
)
from auditkit.store._feed import handed_over
from auditkit.store._hashing import (
    GrowingTree,
    hash_rows,
    hex_series,
    leaf_digests,
    null_rows,
    prefix_root,
    rows_differ,
    tree_levels,
)
from auditkit.store._manifest import (
    check_quarantine,
    check_tenant_manifest,
    checked_manifest,
    cold_tier_problem,
    listed_revocations,
)
from auditkit.store._memory import large_buffers_mapped
from auditkit.store._policy_seal import sealed_policy
from auditkit.store._reader import Filter, TailSnapshot, TenantSnapshot, TrailReader
from auditkit.store._tables import TILE_WIDTH
from auditkit.store._trust import SavedCheckpoints, Trust, note_origin
from auditkit.verification import (
    Anchor,
    AnchorKind,
    Problem,
    ProblemKind,
    TenantStatus,
    VerificationReport,
)

__all__ = ["TenantVerifier", "check_signature", "merge_reports", "verified_chunks", "verify_trail"]

_MAX_PROBLEMS_PER_KIND: Final = 1000

#: A stored timestamp (SQLite text): exactly what the store writes, nothing else.
_TIMESTAMP: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
#: JSON columns that must each hold one JSON value of their type, checked in full on
#: their distinct values (audit trails repeat actors, sources and observers a lot).
_PARSED: Final[tuple[tuple[str, str], ...]] = (
    ("actor", "{"),
    ("source", "{"),
    ("observer", "{"),
    ("targets", "["),
)
#: Free-form JSON columns (mostly distinct, and large): checked by shape, and parsed in
#: full where they hold the key text of the optional column that follows them in the
#: canonical record, the only text they could have absorbed from a neighbour (every
#: other column being well-formed, see docs/store.md).
_BOUNDED: Final[tuple[tuple[str, str], ...]] = (
    ("changes", ',"description":'),
    ("metadata", ',"observer":'),
)

Progress = Callable[[int], None]

#: Authenticated trees recently verified, by (store, tenant, key): each the newest one
#: of its tenant, growing in place.  A load of a small range (an API page) then needs no
#: pass over the tenant's whole tree.  Safe: levels are taken from it only for a signed
#: root they reproduce.
_TREES: OrderedDict[tuple[str, str, str], GrowingTree] = OrderedDict()
#: Bytes of leaves and levels the cache may hold (a tree takes 64 per record, and spare
#: room to grow): the cache must not make memory grow with the store (a scan of 10M).
_TREES_BUDGET: Final = 96 << 20
#: Checkpoint signatures already checked: (key, signed message, signature) -> valid.
_SIGNATURES: dict[tuple[str, bytes, str], Problem | None] = {}
_SIGNATURES_KEPT: Final = 200_000
_CACHE_LOCK = threading.Lock()


def kept_in_cache(size: int) -> bool:
    """Whether the authenticated tree of ``size`` leaves is small enough to be cached
    (half the cache's budget at most, at 80 bytes per leaf with its room to grow).

    >>> kept_in_cache(100_000), kept_in_cache(10_000_000)
    (True, False)
    """
    return 80 * size <= _TREES_BUDGET // 2


def _keep(key: tuple[str, str, str], tree: GrowingTree) -> None:
    """Cache ``tree`` unless a larger one of the tenant is cached already."""
    with _CACHE_LOCK:
        held = _TREES.get(key)
        if held is None or held.size < tree.size:
            _TREES[key] = tree
        _TREES.move_to_end(key)
        _evict()


def _evict() -> None:
    """Drop the least recently used trees over budget (hold ``_CACHE_LOCK``)."""
    while _TREES and sum(t.nbytes for t in _TREES.values()) > _TREES_BUDGET:
        _TREES.popitem(last=False)


# chunks read ahead of the one being checked (memory holds this many more)
_AHEAD: Final = 2
# tenants whose trees together hold fewer events are snapshotted in one go (after the
# first tenant, snapshotted alone so that its rows are read at once)
_GROUP_EVENTS: Final = 1_000_000
# seqs in the first chunk a pass reads: its consumer (an export's encoder) starts sooner
_FIRST_CHUNK: Final = 32_768
#: Checkpoints a read that needs only the newest signed tree takes (the largest tree
#: sizes; all of them when none of these is validly signed).
NEWEST_CHECKPOINTS: Final = 16


def check_signature(cp: Checkpoint, public_key: Any) -> Problem | None:
    """A problem if ``cp`` is not validly signed by ``public_key`` (results remembered)."""
    key = (key_fingerprint(public_key), cp.signed_message(), cp.key_id + cp.signature)
    with _CACHE_LOCK:
        if key in _SIGNATURES:
            return _SIGNATURES[key]
    found = _check_signature(cp, public_key)
    with _CACHE_LOCK:
        if len(_SIGNATURES) >= _SIGNATURES_KEPT:
            _SIGNATURES.clear()
        _SIGNATURES[key] = found
    return found


def _check_signature(cp: Checkpoint, public_key: Any) -> Problem | None:
    expected = key_fingerprint(public_key)
    if not expected.startswith(cp.key_id):
        return Problem(
            ProblemKind.WRONG_KEY,
            cp.tenant_id,
            cp.tree_size,
            None,
            f"checkpoint of size {cp.tree_size} is signed by key {cp.key_id[:16]}, "
            f"expected {expected[:16]}",
        )
    try:
        verify_checkpoint(cp, public_key)
    except ValueError as exc:
        kind = ProblemKind.WRONG_KEY if "different key" in str(exc) else ProblemKind.BAD_SIGNATURE
        return Problem(
            kind, cp.tenant_id, cp.tree_size, None, f"checkpoint of size {cp.tree_size}: {exc}"
        )
    return None


def _is_json(text: str, kind: type) -> bool:
    try:
        return type(orjson.loads(text)) is kind
    except orjson.JSONDecodeError:
        return False


#: A top-level key of the record as the canonical text writes it after a comma: a value
#: holding one may have taken in the column that follows it (a nested key of the same
#: name is possible, so such values are parsed in full, not condemned).
_KEY_TEXT: Final = ',"(?:' + "|".join(CANONICAL_KEYS) + ')":'
#: JSON columns that follow a free-form JSON column in the canonical record
#: (``metadata``, then ``observer``): a neighbour cut short before a nested key of their
#: name pushes its tail into them (``{"service":"x"}}``), which opens and closes as a
#: value does, so they are always parsed in full.  The others follow a quoted scalar,
#: which pins where they begin, or ``source`` (``targets``), whose keys the schema fixes
#: (no ``targets`` among them, so no signed source holds that key's text).
_RECEIVERS: Final = frozenset({"observer"})


def _bad_json(values: pl.Series, opener: str, *, full: bool = True) -> pl.Series:
    """Which values are not one complete JSON value opening with ``opener``.

    ``full``: parse every value (distinct ones once, in Rust).  Otherwise only suspects
    are parsed: values that do not open and close as their type does, or that hold a
    record key's text.  That suffices for a column that follows a quoted scalar (see
    :data:`_RECEIVERS`) for the check's purpose, that equal bytes mean equal columns:
    its start is pinned, and its end can only move by taking in the next column's key
    text.  A value that opens and closes right but is not JSON (``{"id":"a",}``) cannot
    be part of a signed record; its row fails its hash and is named with it.  Parsing
    every ``actor``, ``source`` and ``targets`` cost a third of ``verify`` on trails
    whose callers and targets differ on every event.
    """
    if not full:
        closer = "}" if opener == "{" else "]"
        suspect = (
            ~values.str.starts_with(opener)
            | ~values.str.ends_with(closer)
            | values.str.contains(_KEY_TEXT)
        ).fill_null(False)
        if not suspect.any():
            return pl.Series(values.name, [False] * values.len())
        return suspect & _unparsed(values.filter(suspect), values, opener)
    return _unparsed(values, values, opener)


def _unparsed(suspects: pl.Series, values: pl.Series, opener: str) -> pl.Series:
    """Which of ``values`` equal one of the ``suspects`` that do not parse as one JSON
    value opening with ``opener``."""
    distinct = suspects.drop_nulls().unique()
    if not distinct.len():
        return pl.Series(values.name, [False] * values.len())
    invalid = distinct.filter(
        ~distinct.str.starts_with(opener) | distinct.str.json_path_match("$").is_null()
    )
    if not invalid.len():
        return pl.Series(values.name, [False] * values.len())
    return values.is_in(invalid.implode()).fill_null(False)


class TenantVerifier:
    """Checks one tenant's records, chunk by chunk, against its signed tree.

    What it keeps per record is small and flat, so that verifying a tenant of
    millions in chunks needs memory for one chunk, not for the tenant: the stored
    leaf hashes as one ``bytes`` (32 per record, compared through a NumPy view) and
    one byte per record to find gaps and duplicates.
    """

    def __init__(
        self,
        snap: TenantSnapshot,
        trust: Trust,
        *,
        tiles: Callable[[], list[tuple[int, bytes]]] | None = None,
        store_id: str = "",
    ) -> None:
        self.tenant = snap.tenant
        self.snap = snap
        self.store_id = store_id
        #: what the reading thread read early for the end of the pass
        self.early: Any = None
        self.public_key = trust.public_key
        self.problems: list[Problem] = []
        self._per_kind: dict[ProblemKind, int] = {}
        self.computed: list[pl.DataFrame] = []
        self.events = 0
        self.notes: list[str] = []
        self.purged = 0
        #: rows found past the signed tree (inserted, or appended meanwhile)
        self.beyond = 0
        self.first_seq: int | None = None
        self.oldest: str | None = None
        self.newest: str | None = None
        for row_id, why in snap.malformed:
            self._add(
                ProblemKind.BAD_SIGNATURE,
                None,
                None,
                f"checkpoint row {row_id} is malformed: {why}",
            )
        valid: list[Checkpoint] = []
        for cp in snap.checkpoints:  # each signature is checked once
            bad = check_signature(cp, self.public_key)
            if bad is None:
                valid.append(cp)
            else:
                self._add(bad.kind, bad.seq, None, bad.detail)
        self.history = sorted(valid, key=lambda c: c.tree_size)
        self.cp: Checkpoint | None = self.history[-1] if self.history else None
        self.size = self.cp.tree_size if self.cp else 0
        self.seen = np.zeros(self.size, dtype=bool)
        #: every level of the signed tree, when the tiles reproduce its root
        self.levels: list[np.ndarray] = []
        self.blob = b""
        #: whether the tiles were read in the same snapshot as the tree head (their
        #: lengths can then be checked against it)
        self.tiles_in_snapshot = snap.tiles_read
        key = (store_id, self.tenant, trust.key_id)
        cached = None
        if self.cp is not None and self.size and not snap.tiles_read and tiles is not None:
            cached = self._from_cache(key, tiles)  # loads only
        if cached is not None:
            self.levels = cached
        else:
            if not snap.tiles_read and tiles is not None:
                snap.tiles = tiles()
                snap.tiles_read = True
            self.blob = b"".join(b for _, b in snap.tiles)
            if self.cp is not None and len(self.blob) >= self.size * 32:
                levels = tree_levels(self.blob, self.size)
                root = levels[-1][0].tobytes().hex() if self.size else EMPTY_ROOT.hex()
                if root == self.cp.root_hash:
                    self.levels = levels
                    if self.size and kept_in_cache(self.size):
                        _keep(key, GrowingTree.from_levels(levels, self.size))
        self.tiles_ok = bool(self.levels) or (self.cp is not None and self.size == 0)
        #: signed history, but no tree at all: the tenant may have vanished (see finish)
        self.tree_gone = (
            self.cp is not None and snap.tiles_read and not snap.tiles and snap.head is None
        )
        if self.cp is not None and not self.tiles_ok and not self.tree_gone:
            self._add(
                ProblemKind.TREE_MISMATCH,
                None,
                None,
                f"the stored Merkle tiles ({len(self.blob) // 32} leaves) do not reproduce the "
                f"signed root of size {self.size}; locating damage by checkpoint history",
            )
        #: the authenticated leaf hashes, one row of 32 bytes per seq (a view of ``blob``)
        self.expected: np.ndarray | None = (
            self.levels[0]
            if self.tiles_ok and self.size
            else (np.empty((0, 32), np.uint8) if self.tiles_ok else None)
        )
        self.statements = self._check_statements(snap.statements, snap.bad_statements)
        #: statement rows at the snapshot, valid or not (see :meth:`retention_ran`)
        self.statement_rows = len(snap.statements) + len(snap.bad_statements)
        #: seal statements' ranges whose absence a segment problem already names
        self.accounted: list[tuple[int, int]] = []
        #: cold files found gone (the problem, the seal statement, what it says), judged
        #: by :meth:`settle_gone` once the statements made meanwhile are known
        self.gone: list[tuple[ProblemKind, RangeStatement, str]] = []
        #: whether every cold segment was read (a narrowed load prunes them)
        self.cold_complete = True
        #: events read from cold segments
        self.cold_events = 0
        #: ``audit_retention.update`` records that verified and carry auditkit's seal:
        #: (time of the change, metadata text)
        self.policy_events: list[tuple[str, str]] = []

    def _from_cache(
        self, key: tuple[str, str, str], tiles: Callable[..., list[tuple[int, bytes]]]
    ) -> list[np.ndarray] | None:
        """The levels of the signed tree of :attr:`size` from the tenant's authenticated
        tree in the cache, grown to this size if it is smaller (every read of a trail
        appends its own record, so the tree an API page needs is usually the cached one
        plus a few leaves): only the tiles from the one holding the cached tree's next
        leaf on are read, and only the new nodes are hashed, in place.

        Safe: the levels are returned only if their root is the newest signed
        checkpoint's, which authenticates every leaf, old and new, exactly as a full
        read of the tiles would; the leaves read again from the partial tile must
        also be the cached ones.  Anything else (``None``) falls back to that full
        read and its diagnostics.
        """
        assert self.cp is not None
        with _CACHE_LOCK:
            tree = _TREES.get(key)
            if tree is not None:
                _TREES.move_to_end(key)
        if tree is None:
            return None
        with tree.lock:
            if tree.size < self.size:
                old = tree.size
                first = old // TILE_WIDTH
                try:
                    fresh = tiles(first=first)
                except TypeError:  # a tile reader without ``first``
                    return None
                if [i for i, _ in fresh] != list(range(first, first + len(fresh))):
                    return None
                blob = b"".join(b for _, b in fresh)
                skip = old - first * TILE_WIDTH
                if len(blob) < (self.size - first * TILE_WIDTH) * 32:
                    return None
                if blob[: skip * 32] != tree.levels(old)[0][first * TILE_WIDTH :].tobytes():
                    return None  # a stored leaf changed under the authenticated tree
                new = np.frombuffer(blob, np.uint8, count=(self.size - old) * 32, offset=skip * 32)
                levels = tree.grown(new.reshape(-1, 32))
                if prefix_root(levels, self.size).hex() != self.cp.root_hash:
                    return None
                tree.commit(self.size)
                with _CACHE_LOCK:
                    _evict()
                return levels
            levels = tree.levels(self.size)
        return levels if prefix_root(levels, self.size).hex() == self.cp.root_hash else None

    # -- bookkeeping -----------------------------------------------------------------------
    def _add(
        self,
        kind: ProblemKind,
        seq: int | None,
        event_id: str | None,
        detail: str,
        column: str | None = None,
    ) -> None:
        # counted per kind, not by scanning the list: a tampered store can make this
        # run once per row (a million inserted rows), and a scan made that quadratic
        kept = self._per_kind.get(kind, 0)
        if kept < _MAX_PROBLEMS_PER_KIND:
            self._per_kind[kind] = kept + 1
            self.problems.append(Problem(kind, self.tenant, seq, event_id, detail, column))

    @property
    def leaves(self) -> list[bytes]:
        """The authenticated leaf hashes of the signed tree, as a list (for proofs)."""
        if self.expected is None:
            return []
        return [row.tobytes() for row in self.expected[: self.size]]

    # -- signed statements (purges, seals) -----------------------------------------------
    def _check_statements(
        self, statements: Sequence[RangeStatement], bad_rows: Sequence[tuple[int, str]]
    ) -> list[RangeStatement]:
        for row_id, why in bad_rows:
            self._add(
                ProblemKind.FORGED_PURGE, None, None, f"purge row {row_id} is malformed: {why}"
            )
        good: list[RangeStatement] = []
        for st in statements:
            problem = self._statement_problem(st)
            if problem is None:
                good.append(st)
            else:
                self._add(ProblemKind.FORGED_PURGE, st.first_seq, None, problem)
        return good

    def _statement_problem(self, st: RangeStatement) -> str | None:
        where = f"{st.kind} of seq {st.first_seq}..{st.end_seq - 1}"
        try:
            verify_statement(st, self.public_key)
        except SignatureError as exc:
            return f"{where} is not signed by the trusted key: {exc}"
        if st.tree_size > self.size:
            return (
                f"{where} names a tree of {st.tree_size} records; the signed tree has {self.size}"
            )
        if self.tiles_ok and self.root_at(st.tree_size) != st.root_hash:
            return f"{where} names a root the signed tree never had at size {st.tree_size}"
        return None

    def _covered(self, seqs: np.ndarray, statements: Sequence[RangeStatement]) -> np.ndarray:
        mask = np.zeros(len(seqs), dtype=bool)
        for st in statements:
            mask |= (seqs >= st.first_seq) & (seqs < st.end_seq)
        return mask

    # -- tree state ------------------------------------------------------------------------
    def check_tree_state(self) -> None:
        """Tiles, tree head and frontier: the state every append extends."""
        head = self.snap.head
        if self.cp is None and not self.snap.checkpoints and not self.snap.malformed:
            # a tree that no checkpoint ever signed: a tenant planted by its tree head or
            # tiles alone (listed among the store's tenants, and its first append refused)
            if (head is not None and head[0]) or any(blob for _, blob in self.snap.tiles):
                self._add(
                    ProblemKind.TREE_MISMATCH,
                    None,
                    None,
                    f"a tree head (size {head[0] if head else 0}) or Merkle tiles that no "
                    "checkpoint signed: not a tree this store made",
                )
            return
        if self.cp is None or self.tree_gone:
            return
        if head is None:
            self._add(
                ProblemKind.TREE_MISMATCH, None, None, "the tenant's tree head row is missing"
            )
            return
        size, root, frontier = head
        if size != self.size or root != self.cp.root_hash:
            self._add(
                ProblemKind.TREE_MISMATCH,
                size,
                None,
                f"the tree head says size {size}, the newest signed checkpoint {self.size}",
            )
            return
        try:
            ok = Frontier.from_bytes(size, frontier).root().hex() == root
        except (ValueError, TypeError):
            ok = False
        if not ok:
            self._add(
                ProblemKind.TREE_MISMATCH,
                size,
                None,
                "the tree head's frontier does not reproduce the signed root: appends would "
                "fail until it is repaired",
            )
        width = TILE_WIDTH * 32
        full, rest = divmod(size, TILE_WIDTH)
        for index, blob in self.snap.tiles if self.tiles_in_snapshot else ():
            expected = width if index < full else rest * 32 if index == full else 0
            if len(blob) != expected:
                self._add(
                    ProblemKind.TREE_MISMATCH,
                    index * TILE_WIDTH,
                    None,
                    f"Merkle tile {index} holds {len(blob)} bytes, expected {expected}",
                )

    def root_at(self, size: int) -> str:
        """The hex root of the authenticated tree's first ``size`` leaves."""
        return prefix_root(self.levels, size).hex() if size else EMPTY_ROOT.hex()

    def check_history(self) -> None:
        """Every validly signed checkpoint must be a prefix root of the current tree."""
        if not self.tiles_ok:
            return
        for cp in self.history:
            if self.root_at(cp.tree_size) != cp.root_hash:
                self._add(
                    ProblemKind.FORK,
                    cp.tree_size,
                    None,
                    f"the store signed a different history: its checkpoint at size "
                    f"{cp.tree_size} is not a prefix of the current tree",
                )
                return

    # -- records ---------------------------------------------------------------------------
    def check_chunk(self, raw: pl.DataFrame) -> pl.Series:
        """Check a chunk of stored rows; return the mask of records that verified."""
        leaf, escape = leaf_hash_exprs(raw.schema)
        # the streaming engine splits the rows across threads (the in-memory one hashes
        # a column in one thread): 40 % less time on a chunk of real-sized events
        out = (
            raw.lazy()
            .select(leaf.alias("_leaf"), escape.alias("_escape"))
            .collect(engine="streaming")
        )
        return pl.Series(
            "ok", self._check(raw, out.get_column("_leaf"), out.get_column("_escape"), None)
        )

    def check_aside(self, raw: pl.DataFrame) -> None:
        """Check stored rows that the read does not hand out (those beside a time
        window): a row that is not the signed record is named like any other, but the
        rows are not counted as read, nor marked seen (rows already read, or outside
        the signed tree, which the end of the pass judges, are left out)."""
        if self.expected is None or not raw.height:
            return
        seqs = raw.get_column("seq").to_numpy()
        inside = (seqs >= 0) & (seqs < self.size)
        inside[inside] = ~self.seen[seqs[inside]]
        if not inside.all():
            raw, seqs = raw.filter(pl.Series(inside)), seqs[inside]
        if not raw.height:
            return
        kept = (self.events, self.first_seq, self.oldest, self.newest, len(self.policy_events))
        self.check_chunk(raw)
        self.seen[seqs] = False
        self.events, self.first_seq, self.oldest, self.newest, policies = kept
        del self.policy_events[policies:]

    def verified_frame(self, raw: pl.DataFrame) -> pl.DataFrame:
        """Check a chunk of stored rows and return the event frame of those that verified.

        The leaf hashes, the escaping test and the JSON decoding of the frame's
        columns are evaluated in one parallel Polars pass over the same stored
        columns (decoding into typed structs is itself a strict parse of ``actor``,
        ``source``, ``observer`` and ``targets``); rows that fail are then dropped.
        The frame is made from exactly the columns whose bytes were hashed, so what
        it says is what the signed tree proves.
        """
        leaf, escape = leaf_hash_exprs(raw.schema)
        extra = (
            leaf.alias("_leaf"),
            escape.alias("_escape"),
            pl.col("_actor").struct.field("id").alias("_signed_actor_id"),
        )
        try:
            out = frame_from_rows(raw.drop("_typed", strict=False), extra=extra).collect(
                engine="streaming"
            )
        except pl.exceptions.PolarsError:
            # a tampered column that does not parse: check first, decode the rest
            keep = self.check_chunk(raw)
            return frame_from_rows(raw.filter(keep).drop("_typed", strict=False)).collect()
        ok = self._check(
            raw,
            out.get_column("_leaf"),
            out.get_column("_escape"),
            out.get_column("_signed_actor_id"),
            decoded=True,
        )
        frame = out.drop("_leaf", "_escape", "_signed_actor_id")
        return frame if ok.all() else frame.filter(pl.Series(ok))

    def _malformed(self, raw: pl.DataFrame, decoded: bool) -> dict[int, tuple[str, str]]:
        """Rows holding a value that is not well-formed for its column, with the column
        and why: the precondition for trusting that equal bytes mean equal columns."""
        found: dict[int, tuple[str, str]] = {}

        def flag(mask: np.ndarray, column: str, why: str) -> None:
            for i in np.flatnonzero(mask):
                found.setdefault(int(i), (column, why))

        if "_typed" in raw.columns:
            flag(
                ~raw.get_column("_typed").to_numpy(),
                "?",
                "a value of the wrong SQL type (not text), or text that is not valid UTF-8",
            )
        stamps = [c for c in ("occurred_at", "received_at") if raw.schema[c] == pl.String]
        # one parallel pass for the timestamps and the shapes of the free-form columns
        shape = raw.select(
            *[
                (~pl.col(c).str.contains(_TIMESTAMP).fill_null(False)).alias(f"_ts_{c}")
                for c in stamps
            ],
            *[
                (
                    ~(pl.col(c).str.starts_with("{") & pl.col(c).str.ends_with("}"))
                    | pl.col(c).str.contains(text, literal=True)
                )
                .fill_null(False)
                .alias(c)
                for c, text in _BOUNDED
            ],
        )
        for column in stamps:
            flag(
                shape.get_column(f"_ts_{column}").to_numpy(),
                column,
                "not a timestamp as the store writes them",
            )
        if not decoded:
            for column, opener in _PARSED:
                flag(
                    _bad_json(raw.get_column(column), opener, full=column in _RECEIVERS).to_numpy(),
                    column,
                    "not one JSON value of its type",
                )
        for column, _ in _BOUNDED:
            suspects = np.flatnonzero(shape.get_column(column).to_numpy())
            if not len(suspects):
                continue
            values = raw.get_column(column)
            for i in suspects:
                if not _is_json(values[int(i)], dict):
                    found.setdefault(int(i), (column, "not one JSON object"))
        return found

    def _check(
        self,
        raw: pl.DataFrame,
        hexes: pl.Series,
        escape: pl.Series,
        signed_actor_id: pl.Series | None,
        *,
        decoded: bool = False,
    ) -> np.ndarray:
        """Record the problems of a chunk; return the mask of records that verified.

        ``signed_actor_id`` is ``actor.id`` decoded from the hashed text, if the
        caller has it; it is trusted only for rows whose hash verified.
        """
        seqs = raw.get_column("seq").to_numpy()
        self.events += raw.height
        ok = np.ones(raw.height, dtype=bool)
        dup = self.seen[seqs].copy()
        _, first_rows = np.unique(seqs, return_index=True)
        if len(first_rows) < len(seqs):  # the same seq twice in this chunk
            again = np.ones(len(seqs), dtype=bool)
            again[first_rows] = False
            dup |= again
        if dup.any():
            for s, eid in raw.filter(pl.Series(dup)).select("seq", "event_id").iter_rows():
                self._add(ProblemKind.INSERTED, s, eid, f"a second record at seq {s}")
            ok &= ~dup
        self.seen[seqs] = True
        digests = leaf_digests(raw, hexes, escape)
        hashed = np.zeros(raw.height, dtype=bool)
        if self.expected is not None:
            mismatch = (rows_differ(digests, self.expected[seqs]) | null_rows(hexes)) & ok
            if mismatch.any():
                bad = raw.filter(pl.Series(mismatch))
                moved = self._moved_records(bad)
                for s, eid in bad.select("seq", "event_id").iter_rows():
                    if s in moved:
                        self._add(
                            ProblemKind.REORDERED,
                            s,
                            eid,
                            f"record at seq {s} is the one signed at seq {moved[s]}",
                        )
                    else:
                        self._add(
                            ProblemKind.MODIFIED,
                            s,
                            eid,
                            f"record at seq {s} does not match the signed leaf hash "
                            "(a column was changed)",
                        )
                ok &= ~mismatch
            hashed = ok.copy()
        else:
            computed = hex_series("computed", digests)
            if hexes.null_count():
                computed = computed.zip_with(hexes.is_not_null(), hexes)
            # a copy of the seqs: a column of ``raw`` would keep the whole Arrow batch
            # that it was read in (every column of the chunk) alive until the end
            self.computed.append(
                pl.DataFrame({"seq": pl.Series("seq", seqs.copy()), "computed": computed})
            )
            if self.cp is not None:
                ok[:] = False
        malformed = self._malformed(raw, decoded)
        if malformed:
            ids = raw.select("seq", "event_id")
            wrong = np.zeros(raw.height, dtype=bool)
            for i, (column, why) in sorted(malformed.items()):
                s, eid = ids.row(i)
                wrong[i] = True
                if column == "?":
                    self._add(ProblemKind.MALFORMED, s, eid, f"record at seq {s}: {why}")
                elif ok[i] or self.expected is None:
                    self._add(
                        ProblemKind.COLUMN_MISMATCH,
                        s,
                        eid,
                        f"column {column!r} at seq {s} does not hold the value that was signed: "
                        f"{why} (the record's bytes are intact: text moved across columns)",
                        column=column,
                    )
            ok &= ~wrong
            hashed &= ~wrong
        projected = self._projected(raw, signed_actor_id, hashed)
        self._span(raw, ok & ~projected)
        if projected.any():
            for s, eid in raw.filter(pl.Series(projected)).select("seq", "event_id").iter_rows():
                self._add(
                    ProblemKind.COLUMN_MISMATCH,
                    s,
                    eid,
                    f"column 'actor_id' at seq {s} differs from the signed actor.id",
                    column="actor_id",
                )
            ok &= ~projected
        self._policy_records(raw, ok)
        return ok

    def _policy_records(self, raw: pl.DataFrame, ok: np.ndarray) -> None:
        """Keep the verified ``audit_retention.update`` records that carry auditkit's seal,
        by the time of the change (purges are judged by them; one a source sent, or
        written before the seal, vouches for nothing: the purge statement's own signed
        policy judges the purge then)."""
        found = raw.filter(pl.Series(ok) & (pl.col("action") == "audit_retention.update"))
        for (meta,) in found.select("metadata").iter_rows():
            try:
                doc = orjson.loads(meta) if meta else None
            except orjson.JSONDecodeError:
                continue
            at = sealed_policy(doc, self.public_key, self.store_id, self.tenant)
            if at is not None:
                self.policy_events.append((at, meta))

    def _span(self, raw: pl.DataFrame, ok: np.ndarray) -> None:
        """Track the first seq and the time span of the records that verified."""
        if not ok.any():
            return
        good = raw.filter(pl.Series(ok)).select(
            pl.col("seq").min().alias("s"),
            pl.col("occurred_at").min().alias("lo"),
            pl.col("occurred_at").max().alias("hi"),
        )
        s, lo, hi = good.row(0)
        lo, hi = ((v if isinstance(v, str) or v is None else format_timestamp(v)) for v in (lo, hi))
        self.first_seq = s if self.first_seq is None else min(self.first_seq, s)
        if lo is not None and (self.oldest is None or lo < self.oldest):
            self.oldest = lo
        if hi is not None and (self.newest is None or hi > self.newest):
            self.newest = hi

    @staticmethod
    def _projected(
        raw: pl.DataFrame, signed_actor_id: pl.Series | None, hashed: np.ndarray
    ) -> np.ndarray:
        """Rows whose ``actor_id`` column differs from the ``id`` in their actor text."""

        def by_path(rows: pl.DataFrame) -> np.ndarray:
            actor = rows.get_column("actor")
            distinct = actor.drop_nulls().unique()
            ids = distinct.str.json_path_match("$.id")
            signed = actor.replace_strict(distinct, ids, default=None, return_dtype=pl.String)
            return np.asarray(
                (signed.fill_null("") != rows.get_column("actor_id")).fill_null(True).to_numpy()
            )

        if signed_actor_id is None or not hashed.any():
            return by_path(raw)
        bad = (
            (signed_actor_id.fill_null("") != raw.get_column("actor_id"))
            .fill_null(True)
            .to_numpy()
            .copy()
        )
        if not hashed.all():
            rest = np.flatnonzero(~hashed)
            bad[rest] = by_path(raw[rest])
        return np.asarray(bad)

    def _moved_records(self, bad: pl.DataFrame, limit: int = 200) -> dict[int, int]:
        """Which mismatching records hash correctly at another mismatching position."""
        assert self.expected is not None
        if bad.height < 2 or bad.height > limit:
            return {}
        positions = bad.select(pl.col("seq").alias("_at"))
        pairs = bad.join(positions, how="cross").filter(pl.col("seq") != pl.col("_at"))
        moved = pairs.with_columns(pl.col("seq").alias("_was"), pl.col("_at").alias("seq"))
        digests, nulls = hash_rows(moved.select(bad.columns).drop("_typed", strict=False))
        at = moved.get_column("seq").to_numpy()
        hit = moved.filter(pl.Series(~rows_differ(digests, self.expected[at]) & ~nulls))
        return dict(
            zip(hit.get_column("_was").to_list(), hit.get_column("seq").to_list(), strict=True)
        )

    # -- the end of a tenant ---------------------------------------------------------------
    def signed_size(self, checkpoints: Sequence[Checkpoint]) -> int:
        """The largest tree size that a validly signed one of ``checkpoints`` covers, or
        the verified size: records up to it were appended while this pass ran."""
        for cp in sorted(checkpoints, key=lambda c: c.tree_size, reverse=True):
            if cp.tree_size <= self.size:
                break
            if check_signature(cp, self.public_key) is None:
                return cp.tree_size
        return self.size

    def settle_gone(self, statements: Sequence[RangeStatement]) -> int:
        """Judge the cold files found gone (:attr:`gone`) against ``statements``: a file
        of a range a validly signed purge covers was removed by that purge (one made
        while this pass ran deletes files the pass expected); any other is a problem.
        Returns how many were purged."""
        purges = [st for st in statements if st.kind == "purge"]
        purged = 0
        for kind, st, detail in self.gone:
            if any(p.first_seq <= st.first_seq and st.end_seq <= p.end_seq for p in purges):
                purged += 1
            else:
                self._add(kind, st.first_seq, None, detail)
        self.gone = []
        return purged

    def stale(
        self, tail: TailSnapshot, in_range: int | None = None, seen: np.ndarray | None = None
    ) -> bool:
        """Whether ``tail``, read before this tenant's rows were, may be too old to
        judge them: a row of the signed tree was not read and none of the statements
        known then covers it, or the database counted more rows in the range than were
        read.  A seal or a purge that committed while the rows were being read (a
        retention run beside a verify) leaves exactly that, and only a read of the
        statements made after the rows tells it from a deletion.  ``seen``: the seqs
        a page read, where not :attr:`seen`."""
        if self.gone or (in_range is not None and in_range > self.events):
            return True
        missing = np.flatnonzero(~(self.seen if seen is None else seen))
        if not len(missing):
            return False
        known = self.statements + [st for st in tail.statements if st not in self.statements]
        return not self._covered(missing, known).all()

    def retention_ran(self, reader: TrailReader) -> bool:
        """Whether a seal or purge statement was added since the snapshot: reads made
        right after it (a ranged read's tail and stored seqs) are then too old to tell
        records sealed or purged meanwhile, which the ranged read may not have seen
        move, from records that are simply outside its range."""
        if reader.cold() is None:  # no seals without a cold tier; rows purged are gone
            return False
        return reader.statement_rows(self.tenant) != self.statement_rows

    def finish(
        self,
        tail: TailSnapshot,
        *,
        present: np.ndarray | None = None,
        in_range: int | None = None,
        mistyped: Sequence[tuple[str, str | None]] = (),
    ) -> VerificationReport:
        """Report this tenant: rows outside the signed range, gaps, truncation, purges.

        ``tail`` is read after the records; ``present`` (for a ranged read) holds every
        stored seq of the tenant inside the signed range; ``in_range`` is the number of
        rows the database holds inside it (rows with a seq that is not an integer show
        as the difference).
        """
        fresh_size = self.signed_size(tail.checkpoints)
        statements = self.statements + [
            st for st in tail.statements
            if st not in self.statements and self._statement_problem(st) is None
        ]  # fmt: skip
        if self.settle_gone(statements):
            self.notes.append(
                f"{self.tenant}: cold files of segments purged while verifying were not read"
            )
        for text, eid in mistyped:
            self._add(
                ProblemKind.MALFORMED,
                int(text) if text.lstrip("-").isdigit() else None,
                eid,
                f"record at seq {text}: its occurred_at is not stored as text (or is NULL), "
                "which would hide it from time-ranged reads",
                column="occurred_at",
            )
        appended = tail.appended
        self.beyond += tail.appended
        for text, eid in tail.strays:
            try:
                s = int(text)
                exact = str(s) == text
            except ValueError:
                s, exact = -1, False
            if exact and s >= self.size:
                self.beyond += 1
            if exact and self.size <= s < fresh_size:
                appended += 1
                continue
            self._add(
                ProblemKind.INSERTED if self.cp is not None else ProblemKind.UNSIGNED,
                s if exact else None,
                eid,
                f"record at seq {text} is outside the signed tree of size {self.size} "
                "(forged or unsigned insert)",
            )
        if tail.stray_count > len(tail.strays):
            self._add(
                ProblemKind.INSERTED,
                None,
                None,
                f"{tail.stray_count - len(tail.strays)} more records outside the signed tree",
            )
        if appended:
            self.notes.append(
                f"{self.tenant}: {appended} record(s) appended while verifying were not checked"
            )
        if in_range is not None and in_range > self.events and present is None:
            self._add(
                ProblemKind.INSERTED,
                None,
                None,
                f"{in_range - self.events} record(s) inside the signed range have a seq "
                "that is not an integer",
            )
        seen = self.seen
        if present is not None:
            seen = np.zeros(self.size, dtype=bool)
            seen[present] = True
        missing = np.flatnonzero(~seen)
        sealed_hot = late = 0
        if len(missing):
            purges = [st for st in statements if st.kind == "purge"]
            purged = self._covered(missing, purges)
            self.purged = int(purged.sum())
            missing = missing[~purged]
            seals = [st for st in statements if st.kind == "seal"]
            # sealed since this pass began, or in segments a narrowed read did not open:
            # moved, not missing; in a segment that was read: missing from it
            unread = [
                st for st in seals
                if st not in self.statements or not self.cold_complete or present is not None
            ]  # fmt: skip
            moved = self._covered(missing, unread)
            sealed_hot = int(moved.sum())
            fresh = [st for st in seals if st not in self.statements]
            late = int(self._covered(missing, fresh).sum()) if fresh else 0
            missing = missing[~moved]
            if len(missing) and self.accounted:
                named = np.zeros(len(missing), dtype=bool)
                for lo, hi in self.accounted:
                    named |= (missing >= lo) & (missing < hi)
                missing = missing[~named]
            if len(missing):
                in_seal = self._covered(missing, seals)
                for s in missing[in_seal][:_MAX_PROBLEMS_PER_KIND]:
                    self._add(
                        ProblemKind.DELETED,
                        int(s),
                        None,
                        f"seq {s} was sealed into the cold tier but its segment does not hold it",
                    )
                missing = missing[~in_seal]
        if len(missing):
            self._report_missing(missing)
        if present is None and self.cold_complete:  # a whole pass: every policy record read
            self._check_purges(statements)
        if self.cp is not None and not self.tiles_ok and present is None:
            self._locate_by_history()
        status = TenantStatus(
            self.tenant,
            self.events,
            self.size,
            self.cp.root_hash if self.cp else "",
            self.cp.timestamp if self.cp else None,
            not self.problems,
            self.first_seq,
            self.oldest,
            self.newest,
            late,
        )
        if self.purged:
            self.notes.append(
                f"{self.tenant}: {self.purged} record(s) purged under signed purge statements"
                f" ({self._purge_dates(statements)})"
            )
        if self.cold_events:
            self.notes.append(
                f"{self.tenant}: {self.cold_events} record(s) read from cold segments and "
                "checked against the tree"
            )
        if sealed_hot:
            self.notes.append(
                f"{self.tenant}: {sealed_hot} record(s) sealed into cold segments not read here"
            )
        return VerificationReport(
            problems=tuple(self.problems), tenants=(status,), notes=tuple(self.notes)
        )

    @staticmethod
    def _purge_dates(statements: Sequence[RangeStatement]) -> str:
        when = sorted({st.recorded_at for st in statements if st.kind == "purge"})
        return "signed " + ", ".join(when[-3:]) + (" and earlier" if len(when) > 3 else "")

    # -- retention: purges against the policy in force -------------------------------------
    def _policy_at(self, when: str) -> dict[str, Any] | None:
        """The policy in force at ``when``, by the newest sealed
        ``audit_retention.update`` record of a change made before it."""
        best: tuple[str, dict[str, Any]] | None = None
        for at, meta in self.policy_events:
            if at > when:
                continue
            try:
                new = orjson.loads(meta).get("new")
            except (orjson.JSONDecodeError, AttributeError):
                continue
            if isinstance(new, dict) and (best is None or at >= best[0]):
                best = (at, new)
        return best[1] if best else None

    def _check_purges(self, statements: Sequence[RangeStatement]) -> None:
        """Each validly signed purge against the policy in force when it was made:
        a legal hold on, or events younger than the keep period, are named."""
        for st in statements:
            if st.kind != "purge":
                continue
            try:
                detail = orjson.loads(st.detail) if st.detail.startswith("{") else {}
            except orjson.JSONDecodeError:
                detail = {}
            detail = detail if isinstance(detail, dict) else {}
            policy = self._policy_at(st.recorded_at)
            claimed = detail.get("policy") if isinstance(detail.get("policy"), dict) else None
            policy = policy or claimed
            if policy is None:
                continue  # made without a retention policy: nothing to judge it by
            where = f"purge of seq {st.first_seq}..{st.end_seq - 1} on {st.recorded_at}"
            if policy.get("legal_hold"):
                self._add(
                    ProblemKind.LEGAL_HOLD_BROKEN,
                    st.first_seq,
                    None,
                    f"{where} broke the legal hold in force ({policy.get('hold_reason')})",
                )
                continue
            keep = policy.get("keep_days")
            newest = detail.get("newest")
            if keep is None:
                self._add(
                    ProblemKind.EARLY_PURGE,
                    st.first_seq,
                    None,
                    f"{where}: the policy in force kept events forever",
                )
                continue
            try:
                made = datetime.strptime(st.recorded_at, "%Y-%m-%dT%H:%M:%S.%fZ")
                cutoff = format_timestamp((made - timedelta(days=int(keep))).replace(tzinfo=UTC))
            except (ValueError, TypeError):
                continue
            if not isinstance(newest, str):
                self._add(
                    ProblemKind.EARLY_PURGE,
                    st.first_seq,
                    None,
                    f"{where} does not say how old its events were; the policy kept {keep} days",
                )
            elif newest >= cutoff:
                self._add(
                    ProblemKind.EARLY_PURGE,
                    st.first_seq,
                    None,
                    f"{where} removed events up to {newest}, younger than the {keep} days "
                    f"the policy kept (cut-off {cutoff})",
                )

    # -- the cold tier -----------------------------------------------------------------------
    def live_segments(self) -> list[tuple[RangeStatement, SegmentRef | None]]:
        """The valid seal statements whose segments should still be in the cold tier."""
        purged_end = max([0, *(st.end_seq for st in self.statements if st.kind == "purge")])
        return [
            (st, SegmentRef.parse(st.detail))
            for st in sorted(self.statements, key=lambda s: s.first_seq)
            if st.kind == "seal" and st.end_seq > purged_end
        ]

    def cold_chunks(
        self,
        cold: ColdTier | None,
        *,
        keep: pl.Expr | None = None,
        span: tuple[str | None, str | None] | None = None,
    ) -> Iterator[pl.DataFrame]:
        """The stored rows of each live cold segment, checked as a segment (file hash,
        manifest signature and fields, subtree roots against the tree) before its rows
        are handed on to be checked record by record.  ``span`` (``[lo, hi)`` of
        ``occurred_at`` text) skips segments outside it; ``keep`` filters rows."""
        live = self.live_segments()
        purged_end = max([0, *(st.end_seq for st in self.statements if st.kind == "purge")])
        by_sha = {ref.sha256: st for st, ref in live if ref is not None}
        for st, ref in live:
            rng = (st.first_seq, st.end_seq)
            where = f"segment of seq {st.first_seq}..{st.end_seq - 1}"
            if ref is None:
                self._add(
                    ProblemKind.MANIFEST_MISMATCH,
                    st.first_seq,
                    None,
                    f"the seal statement of {where} names no segment",
                )
                self.accounted.append(rng)
                continue
            if span is not None and (
                (span[0] is not None and ref.hi is not None and ref.hi < span[0])
                or (span[1] is not None and ref.lo is not None and ref.lo >= span[1])
            ):
                self.cold_complete = False
                continue
            data = cold.get(ref.path) if cold is not None else None
            if data is None:  # judged at the end: a purge made meanwhile removes files
                self.gone.append(
                    (
                        ProblemKind.SEGMENT_MISSING,
                        st,
                        f"{where} ({ref.path}) is gone from the cold tier"
                        + ("" if cold is not None else " (the store has no cold tier)"),
                    )
                )
                self.accounted.append(rng)
                continue
            sha = sha256_hex(data)
            if sha != ref.sha256:
                other = by_sha.get(sha)
                if other is not None:
                    self._add(
                        ProblemKind.SEGMENT_SWAPPED,
                        st.first_seq,
                        None,
                        f"{where} ({ref.path}) holds the content of the segment of seq "
                        f"{other.first_seq}..{other.end_seq - 1}",
                    )
                else:
                    self._add(
                        ProblemKind.SEGMENT_MODIFIED,
                        st.first_seq,
                        None,
                        f"{where} ({ref.path}) was edited or truncated: SHA-256 {sha[:16]}..., "
                        f"sealed as {ref.sha256[:16]}... ({len(data)} bytes)",
                    )
                self.accounted.append(rng)
            self._check_manifest(cold, st, ref)
            try:
                rows = decode_segment(data)
            except ValueError as exc:
                if sha == ref.sha256:  # cannot happen for a file we wrote and hashed
                    self._add(ProblemKind.SEGMENT_MODIFIED, st.first_seq, None, f"{where}: {exc}")
                self.accounted.append(rng)
                continue
            lo = max(st.first_seq, purged_end)
            inside = pl.col("seq").is_between(lo, st.end_seq, closed="left")
            stray = rows.filter(~inside)
            if stray.height and sha == ref.sha256:
                self._add(
                    ProblemKind.SEGMENT_MODIFIED,
                    int(stray["seq"][0]),
                    None,
                    f"{where} holds {stray.height} record(s) outside its range",
                )
            rows = rows.filter(inside)
            if keep is not None:
                rows = rows.filter(keep)
            self.cold_events += rows.height
            if rows.height:
                yield rows

    def _check_manifest(self, cold: ColdTier | None, st: RangeStatement, ref: SegmentRef) -> None:
        where = f"the manifest of segment {ref.path}"
        data = cold.get(manifest_path(ref.path)) if cold is not None else None
        if data is None:
            self.gone.append((ProblemKind.MANIFEST_MISMATCH, st, f"{where} is gone"))
            return
        if sha256_hex(data) != ref.manifest_sha256:
            self._add(
                ProblemKind.MANIFEST_MISMATCH,
                st.first_seq,
                None,
                f"{where} is not the one sealed (its SHA-256 differs from the seal statement's)",
            )
        try:
            fields = check_manifest(data, self.public_key)
        except ValueError as exc:
            self._add(ProblemKind.MANIFEST_MISMATCH, st.first_seq, None, f"{where}: {exc}")
            return
        expected = {
            "tenant_id": self.tenant,
            "first_seq": st.first_seq,
            "end_seq": st.end_seq,
            "rows": ref.rows,
            "sha256": ref.sha256,
        }
        wrong = [k for k, v in expected.items() if fields.get(k) != v]
        if wrong:
            self._add(
                ProblemKind.MANIFEST_MISMATCH,
                st.first_seq,
                None,
                f"{where} disagrees with its seal statement on {', '.join(wrong)}",
            )
            return
        if self.tiles_ok and self.levels:
            roots = subtree_roots(self.levels, st.first_seq, st.end_seq)
            if fields.get("subtree_roots") != roots:
                self._add(
                    ProblemKind.MANIFEST_MISMATCH,
                    st.first_seq,
                    None,
                    f"{where}: its Merkle subtree roots are not the signed tree's",
                )

    def check_cold_listing(self, cold: ColdTier | None) -> None:
        """Files in the tenant's cold partition that no live seal statement names:
        foreign segments, unless they are leftovers of an interrupted ``apply``."""
        if cold is None:
            return
        named = {ref.path for _, ref in self.live_segments() if ref is not None}
        purged = {
            ref.path
            for st in self.statements
            if st.kind == "seal" and (ref := SegmentRef.parse(st.detail)) is not None
        } - named
        gone_end = max([0, *(st.end_seq for st in self.statements)])
        for rel in cold.files(self.tenant):
            if not rel.endswith(".parquet") or rel in named:
                continue
            if rel in purged:
                self.notes.append(
                    f"{self.tenant}: purged segment {rel} is still in the cold tier "
                    "(an interrupted apply; the next `auditkit retention apply` removes it)"
                )
                continue
            rng = segment_range(rel)
            mdata = cold.get(manifest_path(rel))
            ours = False
            if rng is not None and rng[0] >= gone_end and mdata is not None:
                try:
                    f = check_manifest(mdata, self.public_key)
                    ours = f.get("tenant_id") == self.tenant and f.get("first_seq") == rng[0]
                except ValueError:
                    ours = False
            if ours:
                self.notes.append(
                    f"{self.tenant}: segment {rel} was written by an interrupted seal (its "
                    "events are still hot; the next `auditkit retention apply` removes it)"
                )
                continue
            self._add(
                ProblemKind.FOREIGN_SEGMENT,
                rng[0] if rng else None,
                None,
                f"{rel} is in the tenant's cold partition but no seal statement names it",
            )

    def _report_missing(self, missing: np.ndarray) -> None:
        if self.tree_gone and self.events == 0 and len(missing) == self.size:
            self._add(
                ProblemKind.VANISHED,
                0,
                None,
                f"the tenant's signed history covers {self.size} records, but its records "
                "and its tree are gone",
            )
            return
        if self.tree_gone:
            self._add(
                ProblemKind.TREE_MISMATCH,
                None,
                None,
                "the tenant's Merkle tiles and tree head are gone",
            )
        top = self.size - 1
        tail_start = top + 1
        for s in missing[::-1]:
            if s == tail_start - 1:
                tail_start = int(s)
            else:
                break
        for s in missing[missing < tail_start][:_MAX_PROBLEMS_PER_KIND]:
            self._add(
                ProblemKind.DELETED,
                int(s),
                None,
                f"seq {s} is in the signed tree but has no record",
            )
        if tail_start <= top:
            self._add(
                ProblemKind.TRUNCATED,
                tail_start,
                None,
                f"records {tail_start}..{top} at the end of the signed tree of size "
                f"{self.size} are gone",
            )

    def _locate_by_history(self) -> None:
        """With untrustworthy tiles, find the first signed checkpoint that the records
        no longer reproduce: the damage lies between it and the one before."""
        if not self.computed:
            return
        df = pl.concat(self.computed).sort("seq")
        hashes = [bytes.fromhex(h) for h in df.get_column("computed").to_list()]
        frontier = Frontier.empty()
        done = 0
        prev = 0
        for cp in self.history:
            n = min(cp.tree_size, len(hashes))
            if n > done:
                frontier = frontier.extend(hashes[done:n])
                done = n
            if cp.tree_size > len(hashes) or frontier.root().hex() != cp.root_hash:
                self._add(
                    ProblemKind.MODIFIED,
                    prev,
                    None,
                    f"records between seq {prev} and {cp.tree_size - 1} no longer "
                    f"reproduce the checkpoint signed at size {cp.tree_size}",
                )
                return
            prev = cp.tree_size


def manifest_problems(
    reader: TrailReader,
    trust: Trust,
    manifest: tuple[str | None, bool],
    reports: list[VerificationReport],
    tenants: Sequence[str],
    *,
    everything: bool,
) -> list[Problem]:
    """What the tenant manifest (``manifest``: its text and whether the store must hold
    one, read before the tenants' snapshots)
    says of the tenants of ``reports``: its problems, returned, and its notes, added
    to ``reports`` as a report of their own.  ``everything``: ``tenants`` are all the
    store holds, so a listed tenant that is gone is named too (unless row-level
    security hides some from this connection)."""
    times = [t.checkpoint_time for r in reports for t in r.tenants if t.checkpoint_time]
    problems, notes = check_tenant_manifest(
        manifest[0],
        trust.public_key,
        reader.store_id,
        {t.tenant_id: t.tree_size for r in reports for t in r.tenants},
        only=None if everything and not reader.confined() else set(tenants),
        named={p.tenant_id for r in reports for p in r.problems},
        newest=max(times, default=None) if reader.manifest_kept_by_all() else None,
        required=manifest[1],
    )
    if notes:
        reports.append(VerificationReport(notes=tuple(notes)))
    return problems


def quarantine_problems(
    reader: TrailReader, trust: Trust, manifest: str | None, reports: list[VerificationReport]
) -> list[Problem]:
    """What the signed manifest (its stored ``manifest`` text) says of the quarantine's
    rows: its problems, returned, and its notes, added to ``reports``.  A manifest that
    is not valid says nothing (:func:`manifest_problems` names it)."""
    parsed = None
    if manifest:
        parsed, why = checked_manifest(manifest, trust.public_key, reader.store_id)
        if why is not None:
            return []
    problems, notes = check_quarantine(parsed, reader.quarantine_rows())
    if notes:
        reports.append(VerificationReport(notes=tuple(notes)))
    return problems


def cold_url_problems(reader: TrailReader, trust: Trust, manifest: str | None) -> list[Problem]:
    """``store_meta.cold_url`` against the cold tier the signed manifest names (nothing
    when the manifest is not valid: :func:`manifest_problems` names it)."""
    if not manifest:
        return []
    parsed, why = checked_manifest(manifest, trust.public_key, reader.store_id)
    if parsed is None or why is not None:
        return []
    moved = cold_tier_problem(parsed, reader.stored_cold_url())
    if moved is None:
        return []
    return [
        Problem(
            ProblemKind.COLD_TIER_MOVED,
            "",
            None,
            None,
            f"{moved}: changed in the database; retention refuses to seal until it is put "
            "back, and segments are read from the place the database names",
        )
    ]


def foreign_partitions(reader: TrailReader, tenants: Sequence[str]) -> list[Problem]:
    """``foreign_segment`` for each partition folder of the cold tier that is no
    tenant's (``tenant=evil``, or ``tenant=%61cme``: a name spelled another way, which a
    Parquet engine reads as ``acme``) and holds Parquet files: a tenant's read never
    looks there, but whoever reads the tier with a Parquet engine counts them."""
    cold = reader.cold()
    if cold is None:
        return []
    ours = {part for t in tenants for part in cold.partitions(t)}
    problems = []
    for folder, files in sorted(cold.partition_folders().items()):
        if folder in ours or not files:
            continue
        problems.append(
            Problem(
                ProblemKind.FOREIGN_SEGMENT,
                "",
                None,
                None,
                f"cold tier folder {folder} holds {files} Parquet file(s) but is no tenant's "
                "partition (forged, copied from another store, or a tenant's name spelled "
                "another way): no read of the store uses them, a Parquet engine reading the "
                "tier would",
            )
        )
    return problems


def merge_reports(
    reports: Sequence[VerificationReport],
    trust: Trust,
    store_id: str,
    extra: Sequence[Problem] = (),
    notes: Sequence[str] = (),
) -> VerificationReport:
    """Combine per-tenant reports into one store report, with the trust it rests on."""
    return VerificationReport(
        problems=tuple(trust.problems)
        + tuple(p for r in reports for p in r.problems)
        + tuple(extra),
        tenants=tuple(t for r in reports for t in r.tenants),
        store_id=store_id,
        key_id=trust.key_id,
        key_source=trust.source,
        checked_at=format_timestamp(datetime.now(UTC)),
        notes=tuple(notes) + tuple(n for r in reports for n in r.notes),
        anchors=trust.anchors,
    )


def verified_chunks(
    reader: TrailReader,
    trust: Trust,
    tenants: Sequence[str],
    extra: Filter | None = None,
    *,
    progress: Progress | None = None,
    full: bool = True,
    cold_keep: pl.Expr | None = None,
    span: tuple[str | None, str | None] | None = None,
    seqs: tuple[int, int] | None = None,
    early: Callable[[TenantVerifier], Any] | None = None,
) -> Iterator[tuple[TenantVerifier, pl.DataFrame | None]]:
    """Each stored chunk of each tenant with that tenant's verifier, then
    ``(verifier, None)`` once the tenant's chunks are done (time to finish it).

    ``early``: reads that finishing a tenant needs (its tail, the seqs present),
    done by the reading thread right after the snapshot and kept as
    ``verifier.early``, so that the caller never opens a connection of its own
    while rows are being read (see ``_OneCopyAtATime`` in the backend).

    The loop that loading, scanning and verifying share.  ``full=False`` (loads) lets
    the verifier take a tree it authenticated recently from its cache instead of
    reading every tile again; ``verify`` always reads everything.

    Reading runs ahead, across tenants, in two threads: the next tenant's snapshot,
    tree and first rows are read while this one's rows are checked (reading releases
    the GIL), so many small tenants cost what one large one does.  At most
    ``_AHEAD + 1`` chunks are read ahead (queued, or being read), besides the one
    being checked.
    """
    large_buffers_mapped()  # a long pass's memory stays where its first chunks put it
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="auditkit-read")

    def verifier_of(t: str) -> TenantVerifier:
        # a page needs the newest signed tree, not the history (which grows by one
        # checkpoint per read): only the newest checkpoints, unless none of them holds
        newest = NEWEST_CHECKPOINTS if seqs is not None and not full else None
        snap = reader.snapshot(t, tiles=full, newest=newest)
        verifier = TenantVerifier(
            snap, trust, tiles=partial(reader.tiles, t), store_id=reader.store_id
        )
        if verifier.cp is None and snap.partial:
            snap = reader.snapshot(t, tiles=full)
            verifier = TenantVerifier(
                snap, trust, tiles=partial(reader.tiles, t), store_id=reader.store_id
            )
        if early is not None:
            verifier.early = early(verifier)
        return verifier

    def groups() -> Iterator[list[TenantVerifier]]:
        # small tenants are snapshotted together, before any of their rows is read:
        # each snapshot waits for the reads under way (one copy of SQLite at a time)
        group: list[TenantVerifier] = []
        limit = 1  # the first tenant alone: its rows are read (and handed out) sooner
        for t in tenants:
            group.append(verifier_of(t))
            if sum(v.size for v in group) >= limit:
                yield group
                group, limit = [], _GROUP_EVENTS
        if group:
            yield group

    def produce(emit: Callable[[tuple[str, Any]], None]) -> None:
        first: int | None = _FIRST_CHUNK  # the pass's first rows are handed out sooner
        for verifier in (v for group in groups() for v in group):
            emit(("tenant", verifier))
            plan = reader.plan(
                verifier.tenant, verifier.size, extra or Filter(), seqs=seqs, first_chunk=first
            )
            first = first if not plan else None
            for where in plan:
                emit(("read", pool.submit(reader.read, where)))
            emit(("end", verifier))

    try:
        with contextlib.closing(handed_over(produce, ahead=_AHEAD, name="auditkit-plan")) as items:
            verifier: TenantVerifier | None = None
            for kind, item in items:
                if kind == "tenant":
                    verifier = item
                    for raw in item.cold_chunks(reader.cold(), keep=cold_keep, span=span):
                        yield item, raw
                        if progress is not None:
                            progress(raw.height)
                        del raw
                elif kind == "read":
                    assert verifier is not None
                    raw = item.result()
                    if raw.height:
                        yield verifier, raw
                        if progress is not None:
                            progress(raw.height)
                    del raw  # not held while the next chunk is read
                else:
                    yield item, None
                del item
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def tenants_after_manifest(
    reader: TrailReader, tenants: Sequence[str], everything: bool
) -> list[str]:
    """The tenants of a pass over the whole store (``everything``), listed again once
    the manifest it checks has been read: a tenant whose first append landed after the
    caller listed the tenants, and before that read, is in the manifest, and would
    otherwise be called ``vanished`` by a pass that never looked for it."""
    if not everything:
        return list(tenants)
    return sorted(set(tenants) | reader.tenant_names())


def finish_reads(reader: TrailReader, *, ranged: bool) -> Callable[[TenantVerifier], Any]:
    """What :func:`finish_tenant` reads, as an ``early`` function for
    :func:`verified_chunks`."""

    def read(v: TenantVerifier) -> tuple[Any, ...]:
        tail = reader.tail(v.tenant, v.size, covered=v.signed_size)
        if ranged:
            return tail, reader.seqs(v.tenant, v.size), reader.mistyped_times(v.tenant)
        in_range = reader.count_range(v.tenant, v.size) if reader.dialect == "sqlite" else None
        return tail, in_range

    return read


def finish_tenant(reader: TrailReader, v: TenantVerifier, *, ranged: bool) -> VerificationReport:
    """The end of a tenant's pass: tree state, history, strays and gaps (from the
    reads made early by :func:`finish_reads`, or made now)."""
    v.check_tree_state()
    if v.tiles_ok:
        v.check_history()
    done = v.early if v.early is not None else finish_reads(reader, ranged=ranged)(v)
    if v.early is not None and (v.retention_ran(reader) if ranged else v.stale(*done)):
        # read right after the snapshot: a seal or purge made since is not in it
        done = finish_reads(reader, ranged=ranged)(v)
    if ranged:
        tail, present, mistyped = done
        return v.finish(tail, present=present, mistyped=mistyped)
    tail, in_range = done
    return v.finish(tail, in_range=in_range)


def verify_trail(
    reader: TrailReader,
    trust: Trust,
    tenants: Sequence[str],
    *,
    collect: list[pl.DataFrame] | None = None,
    keep: pl.Expr | None = None,
    progress: Progress | None = None,
    everything: bool = False,
    quarantine: bool | None = None,
) -> VerificationReport:
    """Verify every record, column, statement and checkpoint of ``tenants``.

    With ``collect``, the event frames of the records that verified (and match
    ``keep``, an expression on the frame) are appended to it in the same pass.
    ``everything``: the whole store is verified, so rows of no tenant (a ``tenant_id``
    that is NULL or not text) are named too, not only those that look like one of
    ``tenants``.  ``quarantine``: check the store-wide quarantine against the signed
    manifest (default: with ``everything``); never on a connection confined to a
    tenant, which cannot read it.
    """
    # read before any tenant's snapshot: an append made meanwhile grows the tenants
    # past what this copy lists, never the other way round
    manifest = reader.manifest()
    tenants = tenants_after_manifest(reader, tenants, everything)
    reports: list[VerificationReport] = [outside_tenants(reader, tenants, everything)]
    verifiers: dict[str, TenantVerifier] = {}
    chunks = verified_chunks(
        reader, trust, tenants, progress=progress, early=finish_reads(reader, ranged=False)
    )
    for v, raw in chunks:
        if raw is not None:
            if collect is None:
                v.check_chunk(raw)
            else:
                frame = v.verified_frame(raw)
                collect.append(frame.filter(keep) if keep is not None else frame)
            continue
        verifiers[v.tenant] = v
        v.check_cold_listing(reader.cold())
        reports.append(finish_tenant(reader, v, ranged=False))
    extra = manifest_problems(reader, trust, manifest, reports, tenants, everything=everything)
    if (everything if quarantine is None else quarantine) and not reader.confined():
        extra += quarantine_problems(reader, trust, manifest[0], reports)
    if everything and not reader.confined():
        # a manifest that is not valid lists nothing here: manifest_problems names it
        revoked = listed_revocations(
            manifest[0], trust.public_key, reader.store_id, required=manifest[1]
        )
        extra += access_problems(
            reader.backend, AccessSeal(reader.store_id, trust.public_key, revoked=revoked)
        )
    if everything:  # the store's setting: a tenant's read checks its segments themselves
        extra += cold_url_problems(reader, trust, manifest[0])
        if not reader.confined():
            extra += foreign_partitions(reader, tenants)
    anchors: list[Anchor] = []
    if trust.saved is not None:
        extra += check_saved(reader.store_id, trust.saved, trust.public_key, verifiers)
        notes_problems, anchors = check_notes(reader.store_id, trust, verifiers)
        extra += notes_problems
        covered = set(trust.saved.tenants)
        missing = [t for t in tenants if t not in covered]
        if missing:
            reports.append(
                VerificationReport(
                    notes=(
                        f"the checkpoint file holds no checkpoint for {len(missing)} tenant(s) "
                        f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): "
                        "truncation and rollback of those are only checked against the store's "
                        "own checkpoints",
                    )
                )
            )
    report = merge_reports(reports, trust, reader.store_id, extra)
    return replace(report, anchors=report.anchors + tuple(anchors)) if anchors else report


def outside_tenants(
    reader: TrailReader, tenants: Sequence[str], everything: bool
) -> VerificationReport:
    """Rows of the trail tables whose ``tenant_id`` is NULL, not text or not UTF-8: no
    read of a tenant matches them, so a forged record, or a whole tenant's trail
    (events, tree and checkpoints) turned into a BLOB, would otherwise go unseen."""
    problems = [
        Problem(
            ProblemKind.SCHEMA_CHANGED,
            "",
            None,
            None,
            f"{name} {why}"
            if why.startswith("is a trigger")
            else f"{name} {why}: reads through it can miss or invent rows",
        )
        for name, why in reader.schema_changes()
    ]
    wanted = set(tenants)
    for table, name, shown, rows, seq, eid in reader.odd_tenant_ids():
        if not everything and name not in wanted:
            continue
        problems.append(
            Problem(
                ProblemKind.MALFORMED,
                name,
                int(seq) if seq is not None and seq.lstrip("-").isdigit() else None,
                eid,
                f"{rows} row(s) of table {table} have tenant_id {shown}, which no tenant's "
                "read matches (a trail moved out of sight, or rows hidden in it)",
                column="tenant_id",
            )
        )
    gone = reader.guards_gone()
    notes = (
        (
            f"the trigger(s) that refuse changes of the trail are gone ({', '.join(gone)}): "
            "someone with write access to the database removed them; every record changed "
            "meanwhile is named, but nothing now stops a stray UPDATE or DELETE",
        )
        if gone
        else ()
    )
    return VerificationReport(problems=tuple(problems), notes=notes)


def _tree_problem(
    v: TenantVerifier, size: int, root: str, what: str, history: Sequence[Checkpoint] = ()
) -> Problem | None:
    """How the store's tree of a tenant disagrees with a saved (size, root), if it does."""
    t = v.tenant
    if size > v.size:
        if v.size + v.beyond >= size:
            return Problem(
                ProblemKind.TRUNCATED,
                t,
                v.size,
                None,
                f"{what} covers {size} records; the store's signed tree stops at {v.size}",
            )
        return Problem(
            ProblemKind.ROLLBACK,
            t,
            v.size,
            None,
            f"the store's signed tree has {v.size} records but {what} says {size}: the "
            "store was rolled back to an older state",
        )
    if not v.tiles_ok or v.root_at(size) == root:
        return None
    first = 0
    for old in sorted(history, key=lambda c: c.tree_size):
        if old.tree_size <= size and v.root_at(old.tree_size) == old.root_hash:
            first = old.tree_size
    return Problem(
        ProblemKind.FORK,
        t,
        first,
        None,
        f"the store's first {size} records do not hash to the root of {what}: history "
        f"diverges at or after seq {first}",
    )


def check_notes(
    store_id: str, trust: Trust, verifiers: dict[str, TenantVerifier]
) -> tuple[list[Problem], list[Anchor]]:
    """Check saved C2SP checkpoint notes: the log's signature with the trusted key, the
    store's tree against them, and witness cosignatures (which are anchors)."""
    problems: list[Problem] = []
    anchors: list[Anchor] = []
    assert trust.saved is not None
    for saved in trust.saved.notes:
        t = saved.tenant_id
        if saved.store_id != store_id:
            problems.append(
                Problem(
                    ProblemKind.WRONG_STORE,
                    t,
                    None,
                    None,
                    f"checkpoint note is for store {saved.store_id}, this store is {store_id}",
                )
            )
            continue
        origin = note_origin(store_id, t)
        log_key = VerifierKey.ed25519(origin, trust.public_key)
        try:
            open_note(saved.note, [log_key])
        except NoteError as exc:
            problems.append(
                Problem(
                    ProblemKind.WRONG_KEY if "known key" in str(exc) else ProblemKind.BAD_SIGNATURE,
                    t,
                    saved.tree_size,
                    None,
                    f"saved checkpoint note of size {saved.tree_size}: {exc} (trusted key "
                    f"{trust.key_id[:16]})",
                )
            )
            continue
        v = verifiers.get(t)
        if v is None:
            continue
        problem = _tree_problem(v, saved.tree_size, saved.root_hash, "a saved checkpoint note")
        if problem is not None:
            problems.append(problem)
        for witness in trust.witnesses:
            lines = [
                s
                for s in saved.note.signatures
                if s.name == witness.name and s.key_id == witness.key_id
            ]
            for line in lines:
                try:
                    when = verify_cosignature(saved.note.text, line, witness)
                except NoteError as exc:
                    problems.append(
                        Problem(ProblemKind.BAD_SIGNATURE, t, saved.tree_size, None, str(exc))
                    )
                    continue
                if problem is None and saved.tree_size == v.size:
                    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                    anchors.append(
                        Anchor(
                            AnchorKind.WITNESS,
                            f"{witness.name} (cosigned {stamp})",
                            None,
                            (t,),
                        )
                    )
    return problems, anchors


def check_saved(
    store_id: str,
    saved: SavedCheckpoints,
    public: Any,
    verifiers: dict[str, TenantVerifier],
) -> list[Problem]:
    """Check the store against checkpoints saved outside it: truncation, rollback, fork."""
    problems: list[Problem] = []
    history: dict[str, list[Checkpoint]] = {}
    for cp in saved.history:
        if check_signature(cp, public) is None:
            history.setdefault(cp.tenant_id, []).append(cp)
    for cp in saved.checkpoints:
        t = cp.tenant_id
        if cp.store_id != store_id:
            problems.append(
                Problem(
                    ProblemKind.WRONG_STORE,
                    t,
                    None,
                    None,
                    f"checkpoint is for store {cp.store_id}, this store is {store_id}",
                )
            )
            continue
        bad = check_signature(cp, public)
        if bad is not None:
            problems.append(replace(bad, detail=f"saved checkpoint: {bad.detail}"))
            continue
        v = verifiers.get(t)
        if v is None:
            continue  # only some tenants were verified
        problem = _tree_problem(
            v, cp.tree_size, cp.root_hash, "a saved checkpoint", history.get(t, [])
        )
        if problem is not None:
            problems.append(problem)
    return problems
