"""The verifiable event store: append, checkpoint, prove, load.

One Merkle tree per tenant over the canonical bytes of its events, a signed
checkpoint written in the same transaction as each batch, and Merkle tiles
(the leaf hashes) that let verification name the exact damaged record.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl

from auditkit.errors import IntegrityError, StoreError, UsageError
from auditkit.frame import frame_from_rows
from auditkit.integrity import EMPTY_ROOT as _EMPTY_ROOT
from auditkit.integrity import (
    Checkpoint,
    Frontier,
    consistency_proof,
    generate_key,
    inclusion_proof,
    key_fingerprint,
    load_private_key,
    load_public_key,
    public_key_pem,
    root_from_leaf_hashes,
    save_private_key,
    sign_checkpoint,
    verify_checkpoint,
)
from auditkit.record import (
    STORED_COLUMNS,
    STORED_SCHEMA,
    PreparedEvent,
    prepare_event,
    rebuild_canonical,
)
from auditkit.schema import FRAME_SCHEMA, SCHEMA_VERSION, format_timestamp, normalize_event
from auditkit.store._backend import Backend, open_backend
from auditkit.store._keys import default_key_path, public_key_path
from auditkit.store._tables import TILE_WIDTH
from auditkit.times import parse_instant
from auditkit.verification import VerificationReport

__all__ = ["AppendResult", "ConsistencyProof", "InclusionProof", "Store"]

EMPTY_ROOT = _EMPTY_ROOT.hex()
_LOAD_CHUNK = 250_000
#: Chunks read in parallel ahead of the one being verified.
_READ_AHEAD = 2


@dataclass(frozen=True)
class AppendResult:
    """What an append did: events stored and duplicates skipped (by ``event_id``)."""

    stored: int = 0
    duplicates: int = 0
    tenants: tuple[str, ...] = ()

    def __add__(self, other: AppendResult) -> AppendResult:
        return AppendResult(
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            tuple(sorted(set(self.tenants) | set(other.tenants))),
        )


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


class Store:
    """A tamper-evident audit-event store (SQLite file or PostgreSQL URL).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "audit.db")
    >>> store = Store.init(path)
    >>> store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                "action": "user.login", "actor": {"id": "u1"}}]).stored
    1
    >>> store.load("acme").select("seq", "action").row(0)
    (0, 'user.login')
    >>> store.verify().ok
    True
    """

    def __init__(self, backend: Backend, *, key: str | Path | None = None) -> None:
        self.backend = backend
        if not backend.has_schema():
            raise StoreError(
                f"{backend.location}: not an auditkit store "
                f"(run `auditkit init {backend.location}`)"
            )
        meta = dict(self._query("SELECT key, value FROM store_meta").iter_rows())
        self.store_id: str = meta["store_id"]
        self._db_public_pem: str = meta["public_key"]
        self.key_path = (
            Path(key) if key is not None else default_key_path(backend.path, self.store_id)
        )
        self._private_key: Any = None
        self.last_report: VerificationReport | None = None

    # -- creation ----------------------------------------------------------------
    @classmethod
    def init(cls, location: str, *, key: str | Path | None = None) -> Store:
        """Create a new store and its Ed25519 signing key (kept outside the database).

        Raises
        ------
        StoreError
            When a store already exists there, or the key file already exists.
        """
        backend = open_backend(location)
        if backend.dialect == "sqlite":
            assert backend.path is not None
            parent = Path(backend.path).parent
            if not parent.is_dir():
                raise StoreError(f"{location}: folder {parent} does not exist")
        if backend.has_schema():
            raise StoreError(f"{location}: a store already exists here")
        store_id = str(uuid.uuid4())
        key_path = Path(key) if key is not None else default_key_path(backend.path, store_id)
        if key_path.exists():
            raise StoreError(f"{key_path}: a key file already exists; refusing to overwrite it")
        private = generate_key()
        key_path.parent.mkdir(parents=True, exist_ok=True)
        save_private_key(private, key_path)
        pem = public_key_pem(private.public_key())
        public_key_path(key_path).write_text(pem)
        backend.create_schema()
        now = format_timestamp(datetime.now(UTC))
        with backend.connect() as conn, backend.write_transaction(conn) as cur:
            ph = backend.ph
            cur.executemany(
                f"INSERT INTO store_meta (key, value) VALUES ({ph}, {ph})",
                [
                    ("store_id", store_id),
                    ("public_key", pem),
                    ("key_id", key_fingerprint(private.public_key())),
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("created_at", now),
                ],
            )
        return cls(backend, key=key_path)

    @classmethod
    def open(cls, location: str, *, key: str | Path | None = None) -> Store:
        """Open an existing store.

        Examples
        --------
        >>> Store.open("/nonexistent/dir/audit.db")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        auditkit.errors.StoreError: /nonexistent/dir/audit.db: no store here (run ...)
        """
        backend = open_backend(location)
        if backend.dialect == "sqlite":
            assert backend.path is not None
            if not Path(backend.path).is_file():
                raise StoreError(f"{location}: no store here (run `auditkit init {location}`)")
        return cls(backend, key=key)

    def close(self) -> None:
        """Release database connections."""
        self.backend.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.backend.location!r}, store_id={self.store_id!r})"

    # -- keys --------------------------------------------------------------------
    @property
    def private_key(self) -> Any:
        """The signing key (loaded on first use)."""
        if self._private_key is None:
            if not self.key_path.is_file():
                raise StoreError(
                    f"signing key not found at {self.key_path}; appends need it "
                    "(set AUDITKIT_KEY or pass key=)"
                )
            try:
                self._private_key = load_private_key(self.key_path)
            except ValueError as exc:
                raise StoreError(f"{self.key_path}: not a usable Ed25519 key: {exc}") from exc
        return self._private_key

    def trusted_public_key(self) -> tuple[Any, str]:
        """The public key to verify with, and where it came from.

        The key file outside the database is preferred: a key read from the
        database itself could have been replaced together with the data.
        """
        if self.key_path.is_file():
            return self.private_key.public_key(), f"private key file {self.key_path}"
        pub = public_key_path(self.key_path)
        if pub.is_file():
            return load_public_key(pub.read_text()), f"public key file {pub}"
        return load_public_key(self._db_public_pem), "the store database (not independent)"

    # -- small helpers -------------------------------------------------------------
    def _query(self, sql: str) -> pl.DataFrame:
        return self.backend.read(sql)

    def tenants(self) -> list[str]:
        """Tenants that have events.

        Examples
        --------
        >>> Store.init(__import__("tempfile").mktemp(suffix=".db")).tenants()
        []
        """
        df = self._query("SELECT tenant_id FROM tree_heads WHERE size > 0 ORDER BY tenant_id")
        return [str(t) for t in df.get_column("tenant_id").to_list()] if df.height else []

    def count(self, tenant: str | None = None) -> int:
        """Number of stored events (of one tenant)."""
        where = f" WHERE tenant_id = {self.backend.q(tenant)}" if tenant else ""
        df = self._query(f"SELECT COUNT(*) AS n FROM events{where}")
        return int(df.item())

    # -- append --------------------------------------------------------------------
    def append(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 20_000,
        normalized: bool = False,
    ) -> AppendResult:
        """Append events; each batch is one transaction with its signed checkpoint.

        Events are validated with :func:`~auditkit.schema.normalize_event` (pass
        ``normalized=True`` when they already are).  An event whose ``event_id``
        the tenant already has is skipped, so re-ingesting is idempotent.

        Raises
        ------
        SchemaError
            When an event is invalid (use :func:`auditkit.ingest.ingest_files` to
            quarantine bad records instead of stopping).
        """
        total = AppendResult()
        batch: list[Mapping[str, Any]] = []
        for raw in events:
            batch.append(raw if normalized else normalize_event(raw))
            if len(batch) >= batch_size:
                total += self._append_batch(batch)
                batch = []
        if batch:
            total += self._append_batch(batch)
        return total

    def _append_batch(self, events: Sequence[Mapping[str, Any]]) -> AppendResult:
        return self.append_prepared([prepare_event(e) for e in events])

    def append_prepared(self, items: Sequence[PreparedEvent]) -> AppendResult:
        """Append events already serialised by :func:`~auditkit.record.prepare_event`,
        as one batch (a transaction and signed checkpoint per tenant).

        The expensive part of an append, serialising each event, needs no lock:
        a parallel ingest does it in its workers, then holds the database only
        for what needs it (``seq``, ``received_at``, hashing and inserting).
        """
        by_tenant: dict[str, list[PreparedEvent]] = {}
        for p in items:
            by_tenant.setdefault(p.tenant_id, []).append(p)
        result = AppendResult()
        with self.backend.connect() as conn:
            for tenant, items in by_tenant.items():
                result += self._append_tenant(conn, tenant, items)
        return result

    def _existing_ids(self, cur: Any, tenant: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        ph = self.backend.ph
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join([ph] * len(chunk))
            cur.execute(
                f"SELECT event_id FROM events WHERE tenant_id = {ph} AND event_id IN ({marks})",
                [tenant, *chunk],
            )
            found.update(r[0] for r in cur.fetchall())
        return found

    def _append_tenant(self, conn: Any, tenant: str, items: list[PreparedEvent]) -> AppendResult:
        backend = self.backend
        key = self.private_key
        with backend.write_transaction(conn) as cur:
            size, root_hex, frontier_blob = backend.lock_tenant(cur, tenant, EMPTY_ROOT)
            frontier = Frontier.from_bytes(size, frontier_blob)
            if frontier.root().hex() != root_hex:
                raise StoreError(
                    f"tenant {tenant!r}: the stored tree head is inconsistent; "
                    "run `auditkit verify` before appending"
                )
            existing = self._existing_ids(cur, tenant, [p.event_id for p in items])
            received = format_timestamp(datetime.now(UTC))
            received_json = orjson.dumps(received)
            rows: list[tuple[Any, ...]] = []
            leaves: list[bytes] = []
            seen = existing
            seq = size
            sha = hashlib.sha256
            for p in items:
                eid = p.event_id
                if eid in seen:
                    continue
                seen.add(eid)
                row, canon = p.finish(seq, received, received_json)
                leaves.append(sha(b"\x00" + canon).digest())
                rows.append(row)
                seq += 1
            duplicates = len(items) - len(rows)
            if not rows:
                return AppendResult(0, duplicates, ())
            backend.insert_events(cur, rows)
            self._write_tiles(cur, tenant, size, leaves)
            frontier = frontier.extend(leaves)
            root = frontier.root().hex()
            ph = backend.ph
            cur.execute(
                f"UPDATE tree_heads SET size = {ph}, root_hash = {ph}, frontier = {ph} "
                f"WHERE tenant_id = {ph}",
                (frontier.size, root, frontier.to_bytes(), tenant),
            )
            cp = sign_checkpoint(
                key,
                store_id=self.store_id,
                tenant_id=tenant,
                tree_size=frontier.size,
                root_hash=root,
            )
            cur.execute(
                "INSERT INTO checkpoints (tenant_id, tree_size, root_hash, timestamp, key_id, "
                f"signature) VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
                (tenant, cp.tree_size, cp.root_hash, cp.timestamp, cp.key_id, cp.signature),
            )
        return AppendResult(len(rows), duplicates, (tenant,))

    def _write_tiles(self, cur: Any, tenant: str, size: int, leaves: list[bytes]) -> None:
        ph = self.backend.ph
        first_tile, offset = divmod(size, TILE_WIDTH)
        head = b""
        if offset:
            cur.execute(
                f"SELECT leaves FROM merkle_tiles WHERE tenant_id = {ph} AND tile = {ph}",
                (tenant, first_tile),
            )
            row = cur.fetchone()
            head = bytes(row[0]) if row else b""
            if len(head) != offset * 32:
                raise StoreError(
                    f"tenant {tenant!r}: Merkle tile {first_tile} is damaged; run `auditkit verify`"
                )
        blob = head + b"".join(leaves)
        width = TILE_WIDTH * 32
        tiles = [(first_tile + i // width, blob[i : i + width]) for i in range(0, len(blob), width)]
        self.backend.upsert_tiles(cur, tenant, tiles)

    # -- reading the integrity data ------------------------------------------------
    def checkpoints(self, tenant: str | None = None) -> list[Checkpoint]:
        """All signed checkpoints stored (of one tenant), oldest first.

        Rows that are not even well-formed checkpoints (tampered) are left out and
        listed in :attr:`malformed_checkpoints`; verification reports them.
        """
        where = f" WHERE tenant_id = {self.backend.q(tenant)}" if tenant else ""
        df = self._query(
            "SELECT id, tenant_id, tree_size, root_hash, timestamp, key_id, signature "
            f"FROM checkpoints{where} ORDER BY id"
        )
        out: list[Checkpoint] = []
        self.malformed_checkpoints: list[tuple[str, int, str]] = []
        for r in df.iter_rows():
            try:
                out.append(
                    Checkpoint(
                        store_id=self.store_id,
                        tenant_id=r[1],
                        tree_size=int(r[2]),
                        root_hash=r[3],
                        timestamp=r[4],
                        key_id=r[5],
                        signature=r[6],
                    )
                )
            except (ValueError, TypeError) as exc:
                self.malformed_checkpoints.append((str(r[1]), int(r[0]), str(exc)))
        return out

    def latest_checkpoints(self) -> dict[str, Checkpoint]:
        """The newest signed checkpoint of each tenant."""
        out: dict[str, Checkpoint] = {}
        for cp in self.checkpoints():
            old = out.get(cp.tenant_id)
            if old is None or cp.tree_size >= old.tree_size:
                out[cp.tenant_id] = cp
        return out

    def leaf_hashes(self, tenant: str) -> bytes:
        """The tenant's stored leaf hashes, concatenated (32 bytes each)."""
        df = self._query(
            "SELECT tile, leaves FROM merkle_tiles WHERE tenant_id = "
            f"{self.backend.q(tenant)} ORDER BY tile"
        )
        if not df.height:
            return b""
        return b"".join(bytes(b) for b in df.get_column("leaves").to_list())

    def export_checkpoints(self, path: str | Path | None = None) -> dict[str, Any]:
        """The newest signed checkpoint per tenant (and the history), as a document
        to keep outside the store; written to ``path`` when given.
        """
        public, _ = self.trusted_public_key()
        doc = {
            "format": "auditkit-checkpoints/1",
            "store_id": self.store_id,
            "key_id": key_fingerprint(public),
            "public_key": public_key_pem(public),
            "exported_at": format_timestamp(datetime.now(UTC)),
            "checkpoints": [cp.to_dict() for cp in self.latest_checkpoints().values()],
            "history": [cp.to_dict() for cp in self.checkpoints()],
        }
        if path is not None:
            Path(path).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return doc

    # -- proofs --------------------------------------------------------------------
    def _leaf_list(self, tenant: str, size: int) -> list[bytes]:
        blob = self.leaf_hashes(tenant)
        if len(blob) < size * 32:
            raise IntegrityError(
                f"tenant {tenant!r}: Merkle tiles hold {len(blob) // 32} leaves, expected {size}"
            )
        return [blob[i : i + 32] for i in range(0, size * 32, 32)]

    def inclusion_proof(
        self, tenant: str, seq: int | None = None, *, event_id: str | None = None
    ) -> InclusionProof:
        """Prove that an event (by ``seq`` or ``event_id``) is in the tenant's signed tree."""
        cp = self.latest_checkpoints().get(tenant)
        if cp is None:
            raise UsageError(f"tenant {tenant!r} has no events")
        q = self.backend.q
        cond = f"seq = {int(seq)}" if seq is not None else f"event_id = {q(event_id or '')}"
        df = self.read_rows(f"tenant_id = {q(tenant)} AND {cond}")
        if not df.height:
            raise UsageError(f"tenant {tenant!r} has no event with {cond}")
        s, eid = df.get_column("seq").item(), df.get_column("event_id").item()
        canon = rebuild_canonical(df).item()
        if s >= cp.tree_size:
            raise IntegrityError(f"seq {s} is not covered by the signed checkpoint")
        leaves = self._leaf_list(tenant, cp.tree_size)
        path = inclusion_proof(leaves, int(s), cp.tree_size)
        return InclusionProof(
            tenant, int(s), eid, canon, cp.tree_size, tuple(h.hex() for h in path), cp
        )

    def consistency_proof(
        self, tenant: str, old_size: int, new_size: int | None = None
    ) -> ConsistencyProof:
        """Prove that the tenant's tree at ``old_size`` is a prefix of it at ``new_size``."""
        cp = self.latest_checkpoints().get(tenant)
        if cp is None:
            raise UsageError(f"tenant {tenant!r} has no events")
        new_size = cp.tree_size if new_size is None else new_size
        if not 0 < old_size <= new_size <= cp.tree_size:
            raise UsageError(
                f"expected 0 < old_size <= new_size <= {cp.tree_size}, got {old_size}, {new_size}"
            )
        leaves = self._leaf_list(tenant, new_size)
        path = consistency_proof(leaves, old_size, new_size)
        return ConsistencyProof(
            tenant,
            old_size,
            new_size,
            root_from_leaf_hashes(leaves[:old_size]).hex(),
            root_from_leaf_hashes(leaves).hex(),
            tuple(h.hex() for h in path),
        )

    # -- load ----------------------------------------------------------------------
    def read_rows(self, where: str) -> pl.DataFrame:
        """Stored rows (all columns, :data:`~auditkit.record.STORED_SCHEMA` types except
        that PostgreSQL timestamps stay datetimes) matching a SQL condition."""
        df = self._query(
            f"SELECT {', '.join(STORED_COLUMNS)} FROM events WHERE {where} ORDER BY tenant_id, seq"
        )
        casts = {
            c: t for c, t in STORED_SCHEMA.items() if not isinstance(df.schema[c], pl.Datetime)
        }
        return df.cast(casts)  # type: ignore[arg-type]

    def _chunk_ranges(self, tenant: str) -> list[str]:
        """SQL conditions selecting a tenant's rows in chunks of ``_LOAD_CHUNK`` seqs,
        from seq 0 to the largest stored (rows past the signed tree are read too)."""
        q = self.backend.q
        top = self._query(f"SELECT MAX(seq) AS m FROM events WHERE tenant_id = {q(tenant)}").item()
        last = int(top) + 1 if top is not None else 0
        return [
            f"tenant_id = {q(tenant)} AND seq >= {lo} AND seq < {lo + _LOAD_CHUNK}"
            for lo in range(0, last, _LOAD_CHUNK)
        ]

    def _tenant_chunks(
        self, tenants: Sequence[str], where: str, *, ahead: int = _READ_AHEAD
    ) -> Iterator[tuple[str, pl.DataFrame | None]]:
        """``(tenant, rows)`` for each chunk of each tenant, in order, then
        ``(tenant, None)`` when the tenant is done.

        Chunks are read in background threads, ``ahead`` at a time, while the
        caller verifies the previous ones: reading (ADBC) and hashing and decoding
        (Polars) both release the GIL, and reading is the slower of the two.  One
        stream over all tenants, so that the next tenant's first chunks are read
        while the previous tenant's last one is verified.  Memory holds at most
        ``ahead + 1`` chunks.
        """
        plan: list[tuple[str, str | None]] = []
        for t in tenants:
            plan += [(t, cond + where) for cond in self._chunk_ranges(t)]
            plan.append((t, None))
        with ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="auditkit-read") as pool:
            pending: deque[Future[pl.DataFrame] | None] = deque()
            todo = iter(plan)

            def submit() -> None:
                """Queue the plan up to and including its next read."""
                for _, cond in todo:
                    pending.append(pool.submit(self.read_rows, cond) if cond else None)
                    if cond:
                        return

            try:
                for _ in range(ahead):
                    submit()
                for t, _ in plan:
                    fut = pending.popleft()
                    if fut is None:
                        yield t, None
                        continue
                    df = fut.result()
                    submit()
                    if df.height:
                        yield t, df
                    del df
            finally:
                for fut in pending:
                    if fut is not None:
                        fut.cancel()

    def load(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        columns: Sequence[str] | None = None,
        verify: bool = True,
        on_tamper: Literal["raise", "warn"] = "raise",
        seqs: tuple[int, int] | None = None,
    ) -> pl.DataFrame:
        """Load events into a Polars frame, verified against the signed checkpoints.

        The canonical bytes of each record are rebuilt from its columns and
        hashed, and the hash is checked against the signed tree, so what the
        frame says is what the signed tree proves.  The verification report is
        kept in :attr:`last_report`.

        Parameters
        ----------
        tenant
            One tenant, several, or ``None`` for all.
        start, end
            Half-open range ``[start, end)`` on ``occurred_at``.
        columns
            A subset of :data:`~auditkit.schema.FRAME_SCHEMA` columns.
        seqs
            Half-open range ``[lo, hi)`` of ``seq`` (keyset pages, streaming).
        verify
            Check each loaded record's hash against the signed tree (default).
        on_tamper
            ``"raise"`` raises :class:`~auditkit.errors.TamperedError`; ``"warn"``
            warns and returns only the records that verified.
        """
        from auditkit.store._verify import merge_reports, verified_chunks

        if columns is not None:
            unknown = [c for c in columns if c not in FRAME_SCHEMA]
            if unknown:
                raise UsageError(f"unknown column(s) {unknown}; known: {list(FRAME_SCHEMA)}")
        tenants = self._resolve_tenants(tenant)
        where = self._time_where(start, end, seqs)
        frames: list[pl.DataFrame] = []
        reports: list[VerificationReport] = []
        if not verify:
            frames = [
                frame_from_rows(raw).collect()
                for _, raw in self._tenant_chunks(tenants, where)
                if raw is not None
            ]
        else:
            public = self.trusted_public_key()
            for checker, raw in verified_chunks(self, tenants, where, public):
                if raw is None:  # the tenant is done
                    reports.append(checker.finish(ranged=bool(where)))
                else:
                    frames.append(checker.verified_frame(raw))
            report = merge_reports(self, reports, public[1])
            self.last_report = report
            if not report.ok:
                if on_tamper == "raise":
                    report.raise_for_problems()
                warnings.warn(report.summary(), stacklevel=2)
        frame = _concat_frames(frames)
        return frame.select(columns) if columns is not None else frame

    def scan(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        folder: str | Path | None = None,
    ) -> pl.LazyFrame:
        """Verify events chunk by chunk into Parquet files and scan them lazily.

        For trails that do not fit in memory: each chunk of 250,000 records is
        verified exactly as :meth:`load` does, written to ``folder`` (a new
        temporary folder by default) and dropped, so memory holds a few chunks
        (the one verified and the two read ahead) and 33 bytes per record of the
        largest tenant (its leaf hashes and a seen flag), about 3 GiB for 10M
        sample events.  The result is a LazyFrame over those files, with
        FRAME_SCHEMA columns.  A tampered record raises
        :class:`~auditkit.errors.TamperedError` naming it.

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...                    "action": "user.login", "actor": {"id": "u1"}}])
        >>> store.scan().select(pl.len()).collect().item()
        1
        """
        import tempfile

        from auditkit.store._verify import merge_reports, verified_chunks

        out = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="auditkit-"))
        out.mkdir(parents=True, exist_ok=True)
        where = self._time_where(start, end)
        public = self.trusted_public_key()
        reports: list[VerificationReport] = []
        part = 0
        pl.DataFrame(schema=FRAME_SCHEMA).write_parquet(out / "part-00000.parquet")
        tenants = self._resolve_tenants(tenant)
        for checker, raw in verified_chunks(self, tenants, where, public):
            if raw is None:  # the tenant is done
                reports.append(checker.finish(ranged=bool(where)))
                continue
            part += 1
            checker.verified_frame(raw).write_parquet(out / f"part-{part:05d}.parquet")
            del raw  # not held while waiting for the next chunk
        report = merge_reports(self, reports, public[1])
        self.last_report = report
        report.raise_for_problems()
        return pl.scan_parquet(out / "part-*.parquet")

    def verify_and_load(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        checkpoint: str | Path | Mapping[str, Any] | None = None,
    ) -> tuple[VerificationReport, pl.DataFrame]:
        """Verify the whole trail of the tenants (as :meth:`verify`) and return, from
        the same pass, the frame of the records in ``[start, end)`` that verified.

        One read and one hash of every record instead of two: what a compliance
        report needs (the full verification, and the period's events).

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...                    "action": "user.login", "actor": {"id": "u1"}}])
        >>> report, frame = store.verify_and_load("acme", start="2026-01-01")
        >>> report.ok, frame.height
        (True, 1)
        """
        from auditkit.store._verify import verify_store

        keep: pl.Expr | None = None
        for op, value in (("ge", start), ("lt", end)):
            if value is not None:
                bound = pl.lit(parse_instant(value)).cast(pl.Datetime("us", "UTC"))
                cond = getattr(pl.col("occurred_at"), op)(bound)
                keep = cond if keep is None else keep & cond
        frames: list[pl.DataFrame] = []
        wanted = None if tenant is None else self._resolve_tenants(tenant)
        report = verify_store(self, wanted, checkpoint=checkpoint, collect=frames, keep=keep)
        self.last_report = report
        return report, _concat_frames(frames)

    def _resolve_tenants(self, tenant: str | Sequence[str] | None) -> list[str]:
        known = self.tenants()
        if tenant is None:
            return known
        wanted = [tenant] if isinstance(tenant, str) else list(tenant)
        return [t for t in wanted if t in known]

    def _time_where(
        self,
        start: datetime | str | None,
        end: datetime | str | None,
        seqs: tuple[int, int] | None = None,
    ) -> str:
        parts = []
        if seqs is not None:
            lo, hi = (int(seqs[0]), int(seqs[1]))
            parts.append(f" AND seq >= {lo} AND seq < {hi}")
        for op, value in ((">=", start), ("<", end)):
            if value is None:
                continue
            ts = parse_instant(value)
            text = format_timestamp(ts)
            if self.backend.dialect == "sqlite":
                parts.append(f" AND occurred_at {op} '{text}'")
            else:
                parts.append(f" AND occurred_at {op} '{text}'::timestamptz")
        return "".join(parts)

    # -- verify --------------------------------------------------------------------
    def verify(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        checkpoint: str | Path | Mapping[str, Any] | None = None,
        public_key: Any | None = None,
    ) -> VerificationReport:
        """Verify the whole store (or some tenants) and report every problem found.

        Checks each record (its canonical bytes rebuilt from its columns) against
        the signed Merkle tree, ``actor_id`` against ``actor.id``, the sequence for
        gaps, every stored checkpoint's signature and history, and, given a saved
        ``checkpoint`` file, that the store still extends what it said (truncation,
        rollback, fork).
        """
        from auditkit.store._verify import verify_store

        report = verify_store(self, tenant, checkpoint=checkpoint, public_key=public_key)
        self.last_report = report
        return report


def _concat_frames(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """One frame from chunk frames that all have FRAME_SCHEMA already.

    A plain vertical concatenation (chunks are appended, not copied); a
    ``vertical_relaxed`` concat and a cast back to FRAME_SCHEMA would copy
    every column of every row once more.
    """
    if not frames:
        return pl.DataFrame(schema=FRAME_SCHEMA)
    frame = pl.concat(frames, how="vertical")
    if frame.schema != FRAME_SCHEMA:  # only if a chunk came from elsewhere
        frame = frame.cast(dict(FRAME_SCHEMA))  # type: ignore[arg-type]
    return frame
