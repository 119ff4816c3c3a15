"""The verifiable event store: append, checkpoint, prove, load, verify.

What it guarantees: one Merkle tree per tenant over the canonical bytes of its
events; a checkpoint signed with the store's Ed25519 key written in the same
transaction as each batch; appends only with the key that signed the tenant's
history; every read of events verified against that tree before it is returned
(:meth:`Store.load`, :meth:`Store.scan`, :meth:`Store.verify_and_load`); and a
verdict that says what it trusted (:mod:`auditkit.store._trust`).

Against whom: an attacker who can write the database but does not hold the key
(every change is named by :meth:`Store.verify`); an operator running reads while
others append (reads are bounded by a consistent snapshot of the signed tree, so
a live store never looks tampered).  What an attacker with the key can do is in
``docs/store.md``.

What it trusts: the key file outside the database, keys and fingerprints the
caller pins, and checkpoint files saved outside the store.  Nothing read from the
database is trusted before it is checked.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import orjson
import polars as pl

from auditkit.access import (
    STORE_WIDE,
    Grant,
    NewToken,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    TokenInfo,
    grant_event,
    local_owner_actor,
    new_token,
    parse_permissions,
    parse_role,
    validate_principal_id,
)
from auditkit.errors import IntegrityError, StoreError, TamperedError, UsageError
from auditkit.frame import frame_from_rows
from auditkit.integrity import EMPTY_ROOT as _EMPTY_ROOT
from auditkit.integrity import (
    Checkpoint,
    Frontier,
    RangeStatement,
    consistency_proof,
    generate_key,
    inclusion_proof,
    key_fingerprint,
    key_id,
    load_private_key,
    public_key_pem,
    root_from_leaf_hashes,
    save_private_key,
    sign_checkpoint,
    sign_statement,
)
from auditkit.integrity.note import NoteError, VerifierKey, checkpoint_text, sign_note
from auditkit.record import (
    STORED_COLUMNS,
    STORED_SCHEMA,
    PreparedEvent,
    prepare_event,
    rebuild_canonical,
)
from auditkit.schema import FRAME_SCHEMA, SCHEMA_VERSION, format_timestamp, normalize_event
from auditkit.store import _access
from auditkit.store._backend import Backend, open_backend
from auditkit.store._cold import default_cold_url, display_url, sha256_hex
from auditkit.store._cursors import StreamCursors
from auditkit.store._feed import handed_over
from auditkit.store._keys import default_key_path, public_key_path
from auditkit.store._manifest import (
    MANIFEST_KEY,
    QUARANTINE_COLUMNS,
    SIGNED_ACCESS_QUERY,
    Manifest,
    QuarantineSeal,
    checked_manifest,
    cold_tier_problem,
    listed_revocations,
    manifest_required,
    tenant_digest,
)
from auditkit.store._memory import give_back_memory
from auditkit.store._page import JsonPage, json_page
from auditkit.store._policy_seal import sealed_policy
from auditkit.store._reader import Filter, TrailReader
from auditkit.store._retention import apply_tenant, policy_event, read_policies, write_policy
from auditkit.store._tables import STORE_VERSION, TABLES_VERSION, TILE_WIDTH
from auditkit.store._trust import (
    SavedCheckpoints,
    Trust,
    load_checkpoint_file,
    note_origin,
    resolve_trust,
    unchecked,
)
from auditkit.store._verify import (
    NEWEST_CHECKPOINTS,
    TenantVerifier,
    check_signature,
    finish_reads,
    finish_tenant,
    kept_in_cache,
    manifest_problems,
    merge_reports,
    tenants_after_manifest,
    verified_chunks,
    verify_trail,
)
from auditkit.store.proofs import ConsistencyProof, InclusionProof
from auditkit.store.retention import (
    DEFAULT_TENANT,
    ApplyResult,
    Retention,
    RetentionPolicy,
    TenantApply,
)
from auditkit.times import parse_instant
from auditkit.verification import Problem, ProblemKind, VerificationReport

if TYPE_CHECKING:
    from auditkit.store._access import DbRole
    from auditkit.store._bound import Activity

__all__ = ["AppendResult", "ConsistencyProof", "InclusionProof", "Store"]

EMPTY_ROOT = _EMPTY_ROOT.hex()
#: Columns a load can ``match`` in the database (equality with one of some values).
MATCH_COLUMNS = ("action", "actor_id", "category", "outcome", "event_id", "session_id",
                 "request_id")  # fmt: skip
#: Makes a principal's handle: :class:`auditkit.store._bound.BoundStore`, which
#: installs itself here when imported (it subclasses Store, so Store cannot import it).
_BINDER: Callable[..., Store] | None = None
Progress = Callable[[int], None]
CheckpointArg = str | Path | Mapping[str, Any] | SavedCheckpoints


@dataclass(frozen=True)
class AppendResult:
    """What an append did: events stored and duplicates skipped (by ``event_id``)."""

    stored: int = 0
    duplicates: int = 0
    tenants: tuple[str, ...] = ()
    #: events not stored because their ``event_id`` is held (or came earlier in the
    #: batch) with other content: (position in the batch, why), for the caller to
    #: quarantine; neither stored nor duplicates
    conflicts: tuple[tuple[int, str], ...] = ()

    def __add__(self, other: AppendResult) -> AppendResult:
        return AppendResult(
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            tuple(sorted(set(self.tenants) | set(other.tenants))),
            self.conflicts + other.conflicts,
        )


def _file_state(path: Path) -> tuple[int, int, int, int] | None:
    """What tells a file apart from its earlier self: inode, size, times (``None``:
    absent)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _page_seen(checker: TenantVerifier, lo: int, hi: int, present: Any) -> np.ndarray:
    """The seqs of a tenant's signed tree a page over ``[lo, hi)`` accounts for: those
    outside it, and inside it ``present`` (the stored seqs), else the rows it read."""
    seen = np.ones(checker.size, dtype=bool)
    if present is None:  # the rows read (hot and cold) are the range's seqs
        seen[lo:hi] = checker.seen[lo:hi]
    else:
        seen[lo:hi] = False
        seen[present] = True
    return seen


#: A time-ranged read verifies at most this many records outside its window among its
#: seqs (see :meth:`Store._outside_the_window`).
_OUTSIDE_CHECKED: Final = 200_000


def _read_again_if_overtaken(
    read: Callable[[], VerificationReport], reset: Callable[[], object]
) -> VerificationReport:
    """Run ``read`` (a verified pass); when a retention run sealed records while it read
    them (:attr:`VerificationReport.overtaken`), ``reset`` what it produced and run it
    once more, which takes those records from the cold tier (a page's reader would
    otherwise move its cursor past them for good)."""
    report = read()
    if report.overtaken:
        reset()
        report = read()
    return report


def misdirected(tenant: str, event_id: str, seq: int, found: str) -> str:
    """Why a look-up by ``event_id`` that gave the record at ``seq``, a verified record
    of another event (``found``), is tampering: the index of event ids, which the
    look-up trusts, was edited apart from its table.

    >>> print(misdirected("acme", "e1", 300, "e9"))  # doctest: +NORMALIZE_WHITESPACE
    tenant 'acme': the store's index of event ids gives event 'e1' the record at seq
    300, which is event 'e9' (the index was edited in the database; run auditkit verify)
    """
    return (
        f"tenant {tenant!r}: the store's index of event ids gives event {event_id!r} the "
        f"record at seq {seq}, which is event {found!r} (the index was edited in the "
        "database; run auditkit verify)"
    )


class Store(StreamCursors):
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
    >>> report = store.verify()
    >>> report.status.value, report.anchors[0].kind.value
    ('intact', 'key_file')
    """

    #: The principal this handle acts for; ``None``: the local owner (role-based access).
    principal: Principal | None = None

    def __init__(self, backend: Backend, *, key: str | Path | None = None) -> None:
        #: the store's own connection factory: nothing outside ``auditkit.store`` uses it
        self.backend = backend
        if not backend.has_schema():
            raise StoreError(
                f"{backend.location}: not an auditkit store "
                f"(run `auditkit init {backend.location}` to make one)"
            )
        self._reader = TrailReader(backend, "")
        meta = dict(self._reader._fetch("SELECT key, value FROM store_meta"))
        if "store_id" not in meta:
            raise StoreError(f"{backend.location}: not an auditkit store (store_meta is damaged)")
        self.store_id: str = str(meta["store_id"])
        self._reader.store_id = self.store_id
        self._reader.cold_url = meta.get("cold_url") or default_cold_url(backend.path)
        self._db_public_pem: str | None = meta.get("public_key")
        self._db_key_id: str | None = meta.get("key_id")
        version = str(meta.get("store_version", 1))
        if not version.isdigit():
            raise StoreError(
                f"{backend.location}: store_meta is damaged (store_version {version[:20]!r})"
            )
        self.version = int(version)
        self.key_path = (
            Path(key)
            if key is not None
            else default_key_path(backend.path, None if backend.path else backend.location)
        )
        self._private_key: Any = None
        self._key_checked = False
        #: whether this connection's role may write the tenant manifest (PostgreSQL)
        self._manifest_writable: bool | None = None
        #: the last plain trust and the key files' states it came from (one dict, shared
        #: by the principals' handles, which copy the owner's attributes)
        self._trust_seen: dict[str, tuple[tuple[Any, ...], Trust]] = {}
        self.last_report: VerificationReport | None = None
        if self.version < TABLES_VERSION:
            self._upgrade()

    # -- creation ----------------------------------------------------------------
    @classmethod
    def init(
        cls,
        location: str | os.PathLike[str],
        *,
        key: str | Path | None = None,
        cold: str | Path | None = None,
    ) -> Store:
        """Create a new store and its Ed25519 signing key (kept outside the database).

        ``cold`` names the cold tier (a folder or an fsspec URL such as
        ``s3://bucket/audit``) that retention seals old events into; a SQLite
        store defaults to the folder ``STORE.cold`` beside it, a PostgreSQL store
        has none until one is named here.

        Raises
        ------
        StoreError
            When a store already exists there, the place holds another database
            that is not empty, or the key file already exists.
        """
        location = os.fspath(location)  # a pathlib.Path too
        backend = open_backend(location)
        if backend.dialect == "sqlite":
            assert backend.path is not None
            path = Path(backend.path)
            if path.is_dir():
                raise StoreError(f"{location}: is a folder; give the path of a file to create")
            if not path.parent.is_dir():
                raise StoreError(f"{location}: folder {path.parent} does not exist")
        if backend.has_schema():
            raise StoreError(f"{location}: a store already exists here")
        foreign = backend.foreign_tables()
        if foreign:
            raise StoreError(
                f"{location}: this database already holds other tables ({', '.join(foreign[:5])}"
                f"{', ...' if len(foreign) > 5 else ''}); refusing to adopt it (use an empty one)"
            )
        store_id = str(uuid.uuid4())
        cold_url = None
        if cold is not None:
            cold_url = str(cold)
            if "://" not in cold_url:
                cold_url = str(Path(cold_url).expanduser().resolve())
        key_path = (
            Path(key)
            if key is not None
            else default_key_path(backend.path, None if backend.path else location)
        )
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
                    ("store_version", str(STORE_VERSION)),
                    ("created_at", now),
                    (
                        MANIFEST_KEY,
                        Manifest(store_id, cold_url=cold_url, cold_recorded=True).signed(private),
                    ),
                    *([("cold_url", cold_url)] if cold_url else []),
                ],
            )
        return cls(backend, key=key_path)

    @classmethod
    def open(
        cls,
        location: str | os.PathLike[str],
        *,
        key: str | Path | None = None,
        principal: str | None = None,
        token: str | None = None,
    ) -> Store:
        """Open an existing store.

        Without ``principal`` or ``token`` the handle is the local owner's: it
        reads and writes everything (whoever holds the file or the database
        credentials does anyway).  With either, it acts for that principal:
        every read is checked against its roles, redacted for roles that need
        it, and recorded in the tenant's trail (see :meth:`bind`).

        Examples
        --------
        >>> Store.open("/nonexistent/dir/audit.db")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        auditkit.errors.StoreError: /nonexistent/dir/audit.db: no store here (run ...)
        """
        location = os.fspath(location)  # a pathlib.Path too
        backend = open_backend(location)
        if backend.dialect == "sqlite":
            assert backend.path is not None
            path = Path(backend.path)
            if path.is_dir():
                raise StoreError(f"{location}: is a folder, not a store file")
            if not path.is_file():
                raise StoreError(f"{location}: no store here (run `auditkit init {location}`)")
            with path.open("rb") as f:
                magic = f.read(16)
            if magic and magic != b"SQLite format 3\x00":
                raise StoreError(f"{location}: not an auditkit store (not a SQLite database)")
            backend.open_read_only()  # a read-only copy (an auditor's): readable as it is
        store = cls(backend, key=key)
        if principal is not None or token is not None:
            return store.bind(principal=principal, token=token)
        return store

    def _upgrade(self) -> None:
        """Bring a store made by an earlier version up to this one (triggers, tables)."""
        try:
            self.backend.upgrade_schema(self.version)
        except StoreError as exc:
            if self.version >= 2:
                return  # only an index is missing (a read-only file): reads work without it
            raise StoreError(f"{self.location}: cannot upgrade the store: {exc}") from None
        self.version = TABLES_VERSION

    def keep_connections(self, n: int) -> None:
        """Keep up to ``n`` SQLite connections open between uses (0, the default: none).

        For a long-lived process that makes many small reads and writes, such as the
        API server: opening a connection parses the schema, and closing the last one
        checkpoints the WAL.  ``keep_connections(0)`` closes the kept ones, so that the
        database is left in one file.  Nothing to do on PostgreSQL.

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> store.keep_connections(4); store.count(); store.keep_connections(0)
        0
        """
        self.backend.keep_connections(n)

    def close(self) -> None:
        """Release database connections."""
        self.backend.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.location!r}, store_id={self.store_id!r})"

    @property
    def location(self) -> str:
        """Where the store is: the path or URL it was opened with."""
        return self.backend.location

    @property
    def path(self) -> Path | None:
        """The SQLite file, or ``None`` for a database URL."""
        return Path(self.backend.path) if self.backend.path else None

    # -- keys and trust ----------------------------------------------------------------
    @property
    def private_key(self) -> Any:
        """The signing key (loaded on first use)."""
        if self._private_key is None:
            if not self.key_path.is_file():
                raise StoreError(
                    f"signing key not found at {self.key_path}; appends need it "
                    "(set AUDITKIT_KEY or pass --key)"
                )
            try:
                self._private_key = load_private_key(self.key_path)
            except (ValueError, OSError):
                raise StoreError(
                    f"{self.key_path}: not a usable Ed25519 key file (expected a PEM private key)"
                ) from None
        return self._private_key

    def trust(
        self,
        *,
        public_key: Any | None = None,
        fingerprint: str | None = None,
        checkpoint: CheckpointArg | None = None,
        witnesses: Sequence[str | VerifierKey] = (),
    ) -> Trust:
        """The key verification uses and the independent anchors behind it.

        See :mod:`auditkit.store._trust`: the key file, ``public_key`` (PEM, path or
        key), a pinned ``fingerprint`` and a saved ``checkpoint`` file are anchors;
        the key recorded in the database never is.  ``witnesses`` are C2SP verifier
        keys (``name+id+key``) of witnesses whose cosignatures on the saved
        checkpoint notes count as anchors.
        """
        plain = public_key is None and fingerprint is None and checkpoint is None
        if plain and not witnesses:
            # the same files as at the last call: the same trust (every API request
            # asks; reading and parsing the keys again cost a fifth of a small page)
            if self._private_key is None and self.key_path.is_file():
                self.private_key  # noqa: B018 (loaded now, as the trust would load it)
            seen = (_file_state(self.key_path), _file_state(public_key_path(self.key_path)),
                    self._db_public_pem, id(self._private_key))  # fmt: skip
            held = self._trust_seen.get("last")
            if held is not None and held[0] == seen:
                return held[1]
            trust = self._resolve_trust(None, None, None, ())
            self._trust_seen["last"] = (seen, trust)
            return trust
        return self._resolve_trust(public_key, fingerprint, checkpoint, witnesses)

    def _resolve_trust(
        self,
        public_key: Any | None,
        fingerprint: str | None,
        checkpoint: CheckpointArg | None,
        witnesses: Sequence[str | VerifierKey],
    ) -> Trust:
        keys = tuple(_witness_key(w) for w in witnesses)
        if keys and checkpoint is None:
            raise UsageError("witnesses: give the cosigned checkpoint notes (--checkpoint)")
        saved = (
            checkpoint
            if isinstance(checkpoint, SavedCheckpoints)
            else load_checkpoint_file(checkpoint)
            if checkpoint is not None
            else None
        )
        private = self._private_key
        if private is None and self.key_path.is_file():
            private = self.private_key
        return resolve_trust(
            db_public_pem=self._db_public_pem,
            db_key_id=self._db_key_id,
            key_path=self.key_path,
            private_key=private,
            public_key=public_key,
            fingerprint=fingerprint,
            saved=saved,
            witnesses=keys,
        )

    def trusted_public_key(self) -> tuple[Any, str]:
        """The public key to verify with, and where it came from (see :meth:`trust`)."""
        t = self.trust()
        return t.public_key, t.source

    def _check_own_key(self) -> None:
        """Refuse to append with a key that is not this store's."""
        if self._key_checked:
            return
        mine = key_fingerprint(self.private_key)
        if self._db_key_id and self._db_key_id != mine:
            raise StoreError(
                f"the signing key {self.key_path} (key {mine[:16]}) is not this store's key "
                f"({self._db_key_id[:16]}): refusing to append (wrong --key or AUDITKIT_KEY?)"
            )
        self._key_checked = True

    # -- tenants and counts ------------------------------------------------------------
    def tenants(self) -> list[str]:
        """Every tenant the store knows of (by events, tree, checkpoints or statements).

        Examples
        --------
        >>> Store.init(__import__("tempfile").mktemp(suffix=".db")).tenants()
        []
        """
        return sorted(self._reader.tenant_names())

    def _resolve_tenants(self, tenant: str | Sequence[str] | None) -> list[str]:
        if tenant is None:
            return sorted(self._reader.tenant_names())
        wanted = [tenant] if isinstance(tenant, str) else list(dict.fromkeys(tenant))
        listed: set[str] | None = None
        for t in wanted:
            if not self._reader.tenant_known(t):
                if listed is None:
                    listed = self._manifest_listed()
                if tenant_digest(self.store_id, t) not in listed:
                    raise UsageError(f"unknown tenant {t!r}: the store holds no trail for it")
                # listed, and gone: its verification says so (``vanished``)
        return wanted

    def _manifest_listed(self) -> set[str]:
        """The tenant digests the stored tenant manifest lists (signed or not: a name
        it lists is verified, and the verification judges the manifest)."""
        text, _ = self._reader.manifest()
        try:
            return set(Manifest.parse(text).tenants) if text else set()
        except ValueError:
            return set()

    def prepare_reads(
        self, tenants: Sequence[str] | None = None, *, stop: threading.Event | None = None
    ) -> list[str]:
        """Verify the newest signed tree of each tenant (of ``tenants``; ``None``: all)
        into this process's cache of authenticated trees, so that the first page a
        server serves of each is as quick as the next; tenants whose trees are too
        large to be cached are left out.  Stops early when ``stop`` is set.  Returns
        the tenants prepared.  It reads no event: nothing to record.

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...                    "action": "user.login", "actor": {"id": "u1"}}])
        >>> store.prepare_reads()
        ['acme']
        """
        sizes = self._reader.signed_sizes()
        wanted = sorted(sizes) if tenants is None else [t for t in tenants if t in sizes]
        done: list[str] = []
        for tenant in wanted:
            if stop is not None and stop.is_set():
                break
            size = sizes[tenant]
            if size and kept_in_cache(size) and json_page(self, tenant, limit=1) is not None:
                done.append(tenant)
        return done

    def count(self, tenant: str | None = None) -> int:
        """Number of stored events inside their tenant's tree (of one tenant)."""
        if tenant is not None:
            self._resolve_tenants(tenant)
        return self._reader.count(tenant) + self._reader.sealed_count(tenant)

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
        StoreError
            When the key is not this store's, or the tenant's tree state is damaged.
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

    def append_prepared(
        self, items: Sequence[PreparedEvent], *, duplicates: set[tuple[str, str]] | None = None
    ) -> AppendResult:
        """Append events already serialised by :func:`~auditkit.record.prepare_event`,
        as one batch: one transaction, and a signed checkpoint per tenant.

        The expensive part of an append, serialising each event, needs no lock:
        a parallel ingest does it in its workers, then holds the database only
        for what needs it (``seq``, ``received_at``, hashing and inserting).

        ``duplicates``: a set to which ``(tenant_id, event_id)`` of each event the
        trail held already is added (an event repeated within ``items`` is skipped
        too, but not added: its first copy was stored), for callers that answer
        per event, as the API's POST does, without asking the database first.
        """
        self._check_own_key()
        by_tenant: dict[str, list[PreparedEvent]] = {}
        positions: dict[str, list[int]] = {}
        for i, p in enumerate(items):
            by_tenant.setdefault(p.tenant_id, []).append(p)
            positions.setdefault(p.tenant_id, []).append(i)
        result = AppendResult()
        # One transaction for the batch: every commit rewrites each index page the
        # batch touched, so a transaction per tenant (12 tenants: 12 commits) paid
        # that many times over.  Tenants are locked in one order (their names), so
        # two appenders on PostgreSQL cannot wait on each other's tree heads.  The
        # batch is all or nothing: a tenant whose tree head is damaged stops it.
        bulk = len(items) >= 1_000
        sizes: dict[str, int] = {}
        with self.backend.connect() as conn, self.backend.write_transaction(conn, bulk=bulk) as cur:
            for tenant in sorted(by_tenant):
                result += self._append_tenant(
                    cur, tenant, by_tenant[tenant], duplicates, sizes, positions[tenant]
                )
            if sizes:
                self._grow_manifest(cur, sizes)
        return result

    def _grow_manifest(
        self,
        cur: Any,
        sizes: dict[str, int],
        *,
        strict: bool = True,
        revoked: Sequence[str] = (),
    ) -> None:
        """List the tenants just appended to, at their new sizes, in the signed tenant
        manifest (see :mod:`auditkit.store._manifest`), in the append's transaction,
        and seal the quarantine rows kept since it was last signed.

        The manifest read is checked first: one that is not this store's key's would
        otherwise be signed over, and whatever it lost (a tenant removed) laundered.
        A store made by an earlier version has none: its first one lists every
        tenant a checkpoint names, says since when the list is signed, and the store's
        version is raised, so that from then on one missing is a removal, which stops
        the append as a damaged one does (a store made by this version has one from
        ``init``).  A
        PostgreSQL role that may not write ``store_meta`` (confined to its tenant)
        leaves the manifest as it is: a lower bound that stays true.

        ``strict=False`` (a quarantine write, whose records must be kept whatever the
        manifest's state): a damaged or removed manifest is left for ``verify`` to name,
        and nothing is signed.  ``revoked``: digests of access rows revoked in this
        transaction (:func:`~auditkit.store._manifest.revoked_digest`), listed so that
        none of them is honoured if put back.
        """
        backend = self.backend
        if backend.dialect != "sqlite":
            if self._manifest_writable is None:
                cur.execute("SELECT has_table_privilege('store_meta', 'UPDATE')")
                self._manifest_writable = bool(cur.fetchone()[0])
            if not self._manifest_writable:
                return
            cur.execute(
                "INSERT INTO store_meta (key, value) VALUES (%s, '') ON CONFLICT DO NOTHING",
                (MANIFEST_KEY,),
            )
            cur.execute("SELECT value FROM store_meta WHERE key = %s FOR UPDATE", (MANIFEST_KEY,))
        else:
            cur.execute("SELECT value FROM store_meta WHERE key = ?", (MANIFEST_KEY,))
        row = cur.fetchone()
        text = str(row[0]) if row and row[0] is not None else ""
        if text:
            found, why = checked_manifest(text, self.private_key.public_key(), self.store_id)
            if why is not None or found is None:
                if not strict:
                    return
                raise StoreError(
                    f"the signed tenant manifest is damaged ({why}); nothing was appended. "
                    "Run `auditkit verify` to see what changed"
                )
            manifest = found
        else:
            cur.execute(
                f"SELECT value FROM store_meta WHERE key = {backend.ph}", ("store_version",)
            )
            row = cur.fetchone()
            if manifest_required(row[0] if row else None) or _signed_access(cur):
                # made with a manifest: one missing was removed, and a new one would
                # launder whatever was removed with it
                if not strict:
                    return
                raise StoreError(
                    "the signed tenant manifest was removed from the store; nothing was "
                    "appended. Run `auditkit verify` to see what changed"
                )
            cur.execute("SELECT tenant_id, MAX(tree_size) FROM checkpoints GROUP BY tenant_id")
            earlier = {str(t): int(n) for t, n in cur.fetchall() if t is not None}
            manifest = Manifest(self.store_id).grown(earlier)
            manifest.since = format_timestamp(datetime.now(UTC))
        grown = manifest.grown(sizes)
        if revoked:
            grown = grown.with_revoked(revoked)
        ph = backend.ph
        if not grown.cold_recorded:  # a manifest of an earlier version: record it now
            cur.execute(f"SELECT value FROM store_meta WHERE key = {ph}", ("cold_url",))
            row = cur.fetchone()
            grown.cold_url = str(row[0]) if row and row[0] is not None else None
            grown.cold_recorded = True
        seal = grown.quarantine or QuarantineSeal()
        cur.execute(
            f"SELECT {', '.join(QUARANTINE_COLUMNS)} FROM quarantine WHERE id > {ph} ORDER BY id",
            (seal.last_id,),
        )
        grown.quarantine = seal.extended(cur.fetchall())
        signed = grown.signed(self.private_key)
        cur.execute(f"UPDATE store_meta SET value = {ph} WHERE key = {ph}", (signed, MANIFEST_KEY))
        if backend.dialect == "sqlite" and cur.rowcount == 0:
            cur.execute(
                f"INSERT INTO store_meta (key, value) VALUES ({ph}, {ph})", (MANIFEST_KEY, signed)
            )
        if self.version < STORE_VERSION:  # from now on, one missing is a removal
            backend.write_store_version(cur, STORE_VERSION)
            self.version = STORE_VERSION

    def _existing_ids(self, cur: Any, tenant: str, ids: list[str]) -> dict[str, tuple[str, ...]]:
        """The tenant's stored events among ``ids``: event id -> what tells two events
        apart at a glance (:func:`_identity`: when, what, how it ended, who)."""
        found: dict[str, tuple[str, ...]] = {}
        ph = self.backend.ph
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join([ph] * len(chunk))
            cur.execute(
                f"SELECT event_id, {', '.join(_IDENTITY_COLUMNS)} FROM events "
                f"WHERE tenant_id = {ph} AND event_id IN ({marks})",
                [tenant, *chunk],
            )
            for eid, *values in cur.fetchall():
                found[str(eid)] = _identity(*values)
        return found

    def _cold_duplicates(self, tenant: str, items: Sequence[PreparedEvent]) -> set[str]:
        """Event ids of ``items`` that the tenant's cold segments hold already (old events
        ingested again): only events no newer than the newest sealed one are looked for,
        so appending new events reads nothing from the cold tier.

        Only what the store's key sealed counts: segments of seal statements it signed,
        whose file still has the sealed SHA-256.  A segment edited in the cold tier (or a
        seal row forged in the database) to hold the id of an event still to come would
        otherwise have that event dropped as a duplicate, and put back afterwards, leave
        no trace."""
        # whether anything is to be looked for, by the rows as they are (cheap, untrusted);
        # then only in the segments of signed seal statements
        refs = self._reader.live_segments(tenant)
        newest = max((r.hi for r in refs if r.hi), default=None)
        if newest is None:
            return set()
        when = [(p.event_id, str(p.row[3])) for p in items if str(p.row[3]) <= newest]
        cold = self._reader.cold()
        if not when or cold is None:
            return set()
        found: set[str] = set()
        for ref in self._reader.signed_segments(tenant, self.private_key.public_key()):
            # a segment holds events of occurred_at in [lo, hi] only
            wanted = [e for e, t in when if (ref.lo or "") <= t <= (ref.hi or "")]
            data = cold.get(ref.path) if wanted else None
            if data is None or sha256_hex(data) != ref.sha256:
                continue  # missing or altered: verification names it; nothing to trust here
            ids = pl.read_parquet(io.BytesIO(data), columns=["event_id"]).get_column("event_id")
            found.update(ids.filter(ids.is_in(wanted)).to_list())
        return found

    def _locked_tree(self, cur: Any, tenant: str) -> Frontier:
        """The tenant's tree head, locked for this transaction and checked: against its
        own root, and against the newest checkpoint (signed with this store's key)."""
        size, root_hex, frontier_blob = self.backend.lock_tenant(cur, tenant, EMPTY_ROOT)
        damaged = StoreError(
            f"tenant {tenant!r}: the stored tree head is damaged (it does not reproduce its "
            "signed root); nothing was appended. Run `auditkit verify` to see what changed"
        )
        try:
            frontier = Frontier.from_bytes(size, frontier_blob)
        except (ValueError, TypeError):
            raise damaged from None
        if frontier.root().hex() != root_hex:
            raise damaged
        ph = self.backend.ph
        cur.execute(
            f"SELECT tree_size, root_hash, key_id FROM checkpoints WHERE tenant_id = {ph} "
            "ORDER BY id DESC LIMIT 1",
            (tenant,),
        )
        last = cur.fetchone()
        if last is None:
            if size:
                raise damaged
            return frontier
        mine = key_id(self.private_key)
        if str(last[2]) != mine:
            raise StoreError(
                f"tenant {tenant!r}: its history is signed by key {str(last[2])[:16]}, not by "
                f"{mine} ({self.key_path}): refusing to append"
            )
        if int(last[0]) != size or str(last[1]) != root_hex:
            raise damaged
        return frontier

    def _append_tenant(
        self,
        cur: Any,
        tenant: str,
        items: list[PreparedEvent],
        held: set[tuple[str, str]] | None = None,
        sizes: dict[str, int] | None = None,
        positions: Sequence[int] | None = None,
    ) -> AppendResult:
        """Append one tenant's part of a batch inside the caller's write transaction;
        its new tree size goes into ``sizes``.  ``positions``: where each of ``items``
        is in the batch (what :attr:`AppendResult.conflicts` names)."""
        backend = self.backend
        key = self.private_key
        frontier = self._locked_tree(cur, tenant)
        size = frontier.size
        stored = self._existing_ids(cur, tenant, [p.event_id for p in items])
        cold = self._cold_duplicates(tenant, items)
        if held is not None:
            held.update((tenant, e) for e in (*stored, *cold))
        received = format_timestamp(datetime.now(UTC))
        received_json = orjson.dumps(received)
        rows: list[tuple[Any, ...]] = []
        leaves: list[bytes] = []
        # what each id seen so far is: a stored event's identity, an event of this batch
        # (its identity is worked out only if its id comes again), or a cold one (None)
        seen: dict[str, tuple[str, ...] | PreparedEvent | None] = dict.fromkeys(cold)
        seen.update(stored)
        conflicts: list[tuple[int, str]] = []
        seq = size
        sha = hashlib.sha256
        for i, p in enumerate(items):
            eid = p.event_id
            if eid in seen:
                # the same event again is a duplicate; another one under its id is not
                # (a producer's bug, or a forgery): it is kept aside, not dropped
                first = seen[eid]
                if isinstance(first, PreparedEvent):
                    first = _row_identity(first.row)
                mine = _row_identity(p.row)
                if first is not None and first != mine:
                    where = "is stored" if eid in stored else "came earlier in this input"
                    conflicts.append(
                        (
                            i if positions is None else positions[i],
                            f"event_id {eid!r} {where} with other content ({_shown(first)}); "
                            f"this record ({_shown(mine)}) was not stored",
                        )
                    )
                continue
            seen[eid] = p
            row, canon = p.finish(seq, received, received_json)
            leaves.append(sha(b"\x00" + canon).digest())
            rows.append(row)
            seq += 1
        duplicates = len(items) - len(rows) - len(conflicts)
        if not rows:
            return AppendResult(0, duplicates, (), tuple(conflicts))
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
        if sizes is not None:
            sizes[tenant] = frontier.size
        return AppendResult(len(rows), duplicates, (tenant,), tuple(conflicts))

    def _write_tiles(self, cur: Any, tenant: str, size: int, leaves: list[bytes]) -> None:
        ph = self.backend.ph
        first_tile, offset = divmod(size, TILE_WIDTH)
        head = b""
        if offset:
            leaves_col = "CAST(leaves AS BLOB)" if self.backend.dialect == "sqlite" else "leaves"
            cur.execute(
                f"SELECT {leaves_col} FROM merkle_tiles WHERE tenant_id = {ph} AND tile = {ph}",
                (tenant, first_tile),
            )
            row = cur.fetchone()
            head = bytes(row[0]) if row and row[0] is not None else b""
            if len(head) != offset * 32:
                raise StoreError(
                    f"tenant {tenant!r}: Merkle tile {first_tile} is damaged; nothing was "
                    "appended. Run `auditkit verify` to see what changed"
                )
        blob = head + b"".join(leaves)
        width = TILE_WIDTH * 32
        tiles = [(first_tile + i // width, blob[i : i + width]) for i in range(0, len(blob), width)]
        self.backend.upsert_tiles(cur, tenant, tiles)

    # -- removing a signed range (the retention path) -------------------------------------
    def remove_range(
        self,
        tenant: str,
        end_seq: int,
        *,
        kind: Literal["purge", "seal"] = "purge",
        detail: str = "",
        first_seq: int | None = None,
    ) -> RangeStatement:
        """Remove the tenant's hot rows with ``seq < end_seq`` under a statement signed
        with the store key (``kind='purge'``: gone for good; ``'seal'``: moved to a
        cold segment that ``detail`` names), in one transaction.

        The leaf hashes stay, so every remaining event still verifies, and
        verification tells this removal from an attack: missing records are only
        accepted inside a range a validly signed statement covers.  The triggers
        refuse every other DELETE; this path lifts the trigger for the transaction.

        A seal starts where the last seal or purge ended; a purge where the last
        purge ended (it may cover sealed ranges, whose segments then go too).
        ``first_seq``, when given, is where the caller expects the range to start:
        another process that removed a range meanwhile makes this a
        :class:`~auditkit.errors.StoreError` and nothing is removed.
        """
        self._check_own_key()
        self._resolve_tenants(tenant)
        with self.backend.connect() as conn, self.backend.write_transaction(conn) as cur:
            frontier = self._locked_tree(cur, tenant)
            if not 0 < end_seq <= frontier.size:
                raise UsageError(
                    f"remove_range: expected 0 < end_seq <= {frontier.size}, got {end_seq}"
                )
            ph = self.backend.ph
            cur.execute(
                f"SELECT kind, MAX(end_seq) FROM purges WHERE tenant_id = {ph} GROUP BY kind",
                (tenant,),
            )
            ends = {str(k): int(e) for k, e in cur.fetchall() if e is not None}
            first = max(ends.values(), default=0) if kind == "seal" else ends.get("purge", 0)
            if first_seq is not None and first_seq != first:
                raise StoreError(
                    f"tenant {tenant!r}: another process removed a range meanwhile (expected "
                    f"to start at seq {first_seq}, the store is at {first}); nothing was removed"
                )
            if end_seq <= first:
                raise UsageError(f"tenant {tenant!r}: seq {first - 1} and below are already gone")
            st = sign_statement(
                self.private_key,
                kind=kind,
                store_id=self.store_id,
                tenant_id=tenant,
                first_seq=first,
                end_seq=end_seq,
                tree_size=frontier.size,
                root_hash=frontier.root(),
                detail=detail,
            )
            cur.execute(
                "INSERT INTO purges (kind, tenant_id, first_seq, end_seq, tree_size, root_hash, "
                f"recorded_at, detail, key_id, signature) VALUES ({', '.join([ph] * 10)})",
                (st.kind, tenant, st.first_seq, st.end_seq, st.tree_size, st.root_hash,
                 st.recorded_at, st.detail, st.key_id, st.signature),
            )  # fmt: skip
            self.backend.delete_events(cur, tenant, first, end_seq)
        return st

    # -- reading the integrity data ------------------------------------------------
    def checkpoints(self, tenant: str | None = None) -> list[Checkpoint]:
        """All signed checkpoints stored (of one tenant), oldest first, as stored:
        check them with :meth:`verify`.

        Rows that are not even well-formed checkpoints (tampered) are left out and
        listed in :attr:`malformed_checkpoints`; verification reports them.
        """
        self.malformed_checkpoints: list[tuple[str, int, str]] = []
        out: list[Checkpoint] = []
        for t in [tenant] if tenant else self.tenants():
            snap = self._reader.snapshot(t, tiles=False)  # the tiles are not needed here
            out += snap.checkpoints
            self.malformed_checkpoints += [(t, i, why) for i, why in snap.malformed]
        return out

    @property
    def public_key_path(self) -> Path:
        """The public key file written beside :attr:`key_path` (``audit.db.pub``).

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> store.public_key_path.name, store.public_key_path.is_file()
        ('a.db.pub', True)
        """
        return public_key_path(self.key_path)

    def latest_checkpoints(self, *, trust: Trust | None = None) -> dict[str, Checkpoint]:
        """The newest checkpoint of each tenant that is validly signed by the trusted key."""
        trust = trust or self.trust()
        out: dict[str, Checkpoint] = {}
        for t in self.tenants():
            cp = self.latest_checkpoint(t, trust=trust)
            if cp is not None:
                out[t] = cp
        return out

    def latest_checkpoint(self, tenant: str, *, trust: Trust | None = None) -> Checkpoint | None:
        """The tenant's newest checkpoint validly signed by the trusted key (``None``
        when it has none).

        Reads the checkpoints of the largest tree sizes only (an index seek), and all
        of them only when none of those is validly signed: a tenant gets a checkpoint
        per append, and per read of its trail, so its list grows with use.

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...                    "action": "user.login", "actor": {"id": "u1"}}])
        >>> store.latest_checkpoint("acme").tree_size
        1
        """
        public = (trust or self.trust()).public_key
        snap = self._reader.snapshot(tenant, tiles=False, newest=NEWEST_CHECKPOINTS)
        valid = [cp for cp in snap.checkpoints if check_signature(cp, public) is None]
        if not valid and snap.partial:  # none of the newest verifies: look at them all
            snap = self._reader.snapshot(tenant, tiles=False)
            valid = [cp for cp in snap.checkpoints if check_signature(cp, public) is None]
        best: Checkpoint | None = None
        for cp in valid:
            if best is None or cp.tree_size >= best.tree_size:
                best = cp
        return best

    def leaf_hashes(self, tenant: str) -> bytes:
        """The tenant's stored leaf hashes, concatenated (32 bytes each)."""
        return b"".join(b for _, b in self._reader.snapshot(tenant).tiles)

    def export_checkpoints(
        self, path: str | Path | None = None, *, tenants: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """The newest signed checkpoint per tenant (and the history), as a document
        to keep outside the store; written to ``path`` when given.

        Only checkpoints signed by the trusted key are exported, with that key, and
        only those of ``tenants`` when given (a tenant's evidence names no other).
        """
        trust = self.trust()
        wanted = None if tenants is None else set(self._resolve_tenants(tenants))
        history = [
            cp
            for cp in self.checkpoints()
            if check_signature(cp, trust.public_key) is None
            and (wanted is None or cp.tenant_id in wanted)
        ]
        latest: dict[str, Checkpoint] = {}
        for cp in history:
            if cp.tenant_id not in latest or cp.tree_size >= latest[cp.tenant_id].tree_size:
                latest[cp.tenant_id] = cp
        doc: dict[str, Any] = {
            "format": "auditkit-checkpoints/1",
            "store_id": self.store_id,
            "key_id": trust.key_id,
            "public_key": public_key_pem(trust.public_key),
            "key_source": trust.source,
            "exported_at": format_timestamp(datetime.now(UTC)),
            "checkpoints": [cp.to_dict() for cp in latest.values()],
            "history": [cp.to_dict() for cp in history],
        }
        if self.key_path.is_file():
            doc["notes"] = list(self.checkpoint_notes(latest).values())
            doc["verifier_keys"] = {
                t: VerifierKey.ed25519(note_origin(self.store_id, t), trust.public_key).format()
                for t in latest
            }
        if path is not None:
            Path(path).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return doc

    def checkpoint_notes(self, latest: Mapping[str, Checkpoint] | None = None) -> dict[str, str]:
        """The newest signed tree head of each tenant as a C2SP checkpoint note, signed
        with the store key: what transparency-log tools and witnesses read.

        Each tenant's log has the origin ``auditkit/<store id>/<tenant>`` (percent
        encoded), which is also the note's key name; the verifier key is
        ``VerifierKey.ed25519(origin, public key)``.
        """
        key = self.private_key
        latest = latest if latest is not None else self.latest_checkpoints()
        out = {}
        for t, cp in sorted(latest.items()):
            origin = note_origin(self.store_id, t)
            out[t] = sign_note(checkpoint_text(origin, cp.tree_size, cp.root_bytes), origin, key)
        return out

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
        self._resolve_tenants(tenant)
        cp = self.latest_checkpoint(tenant)
        if cp is None:
            raise UsageError(f"tenant {tenant!r} has no validly signed checkpoint")
        if seq is not None:
            cond, what = Filter("tenant_id = ? AND seq = ?", (tenant, int(seq))), f"seq {seq}"
        else:
            cond = Filter("tenant_id = ? AND event_id = ?", (tenant, event_id or ""))
            what = f"event_id {event_id!r}"
        df = self._reader.read(cond).drop("_typed", strict=False)
        if not df.height:
            df = self._cold_row(tenant, seq, event_id)
        if not df.height:
            raise UsageError(self._gone(tenant, seq, what))
        s, eid = int(df.get_column("seq").item()), df.get_column("event_id").item()
        if event_id is not None and eid != event_id:
            raise TamperedError(misdirected(tenant, event_id, s, eid))
        canon = rebuild_canonical(df).item()
        if s >= cp.tree_size:
            raise IntegrityError(f"seq {s} is not covered by the signed checkpoint")
        leaves = self._leaf_list(tenant, cp.tree_size)
        path = inclusion_proof(leaves, s, cp.tree_size)
        return InclusionProof(tenant, s, eid, canon, cp.tree_size, tuple(h.hex() for h in path), cp)

    def _cold_row(self, tenant: str, seq: int | None, event_id: str | None) -> pl.DataFrame:
        """The stored row of one event from the cold tier, its segment verified."""
        v = TenantVerifier(self._reader.snapshot(tenant), self.trust(), store_id=self.store_id)
        if seq is not None:
            keep = pl.col("seq") == int(seq)
            v.statements = [
                st for st in v.statements
                if st.kind == "purge" or st.first_seq <= int(seq) < st.end_seq
            ]  # fmt: skip
        else:
            keep = pl.col("event_id") == (event_id or "")
        rows = list(v.cold_chunks(self._reader.cold(), keep=keep))
        v.settle_gone(v.statements)
        if v.problems:
            raise IntegrityError(f"tenant {tenant!r}: {v.problems[0].detail}")
        if not rows:
            return pl.DataFrame(schema=STORED_SCHEMA)
        df = pl.concat(rows)
        ok = v.check_chunk(df)
        if not ok.all():
            raise IntegrityError(f"tenant {tenant!r}: {v.problems[0].detail}")
        return df

    def _gone(self, tenant: str, seq: int | None, what: str) -> str:
        """Why a tenant has no event ``what``: purged (when, by which statement), or none."""
        v = TenantVerifier(self._reader.snapshot(tenant), self.trust(), store_id=self.store_id)
        purges = [st for st in v.statements if st.kind == "purge"]
        hit = [st for st in purges if seq is not None and st.covers(int(seq))]
        if hit:
            st = hit[0]
            return (
                f"tenant {tenant!r}: {what} was purged on {st.recorded_at} under a signed purge "
                f"statement (seq {st.first_seq}..{st.end_seq - 1}); its leaf hash stays in the "
                "tree, so every remaining event still proves"
            )
        if seq is None and purges:
            ranges = ", ".join(
                f"seq {st.first_seq}..{st.end_seq - 1} on {st.recorded_at}" for st in purges[:3]
            )
            return f"tenant {tenant!r} has no event with {what} (purged: {ranges}; it may be one)"
        return f"tenant {tenant!r} has no event with {what}"

    def consistency_proof(
        self, tenant: str, old_size: int, new_size: int | None = None
    ) -> ConsistencyProof:
        """Prove that the tenant's tree at ``old_size`` is a prefix of it at ``new_size``."""
        self._resolve_tenants(tenant)
        cp = self.latest_checkpoint(tenant)
        if cp is None:
            raise UsageError(f"tenant {tenant!r} has no validly signed checkpoint")
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
    def _filter(
        self,
        start: datetime | str | None,
        end: datetime | str | None,
        seqs: tuple[int, int] | None = None,
        match: Mapping[str, str | Sequence[str]] | None = None,
    ) -> Filter:
        """A condition on the time range ``[start, end)``, the seq range and the
        ``match`` columns, as bind parameters (timestamps in the stored form)."""
        f = Filter()
        for column, wanted in (match or {}).items():
            if column not in MATCH_COLUMNS:
                raise UsageError(
                    f"match: expected some of {', '.join(MATCH_COLUMNS)}, got {column!r}"
                )
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            if not values or not all(isinstance(v, str) for v in values):
                raise UsageError(f"match: {column}: expected one or more strings")
            marks = ", ".join("?" * len(values))
            f = f & Filter(f"{column} IN ({marks})", tuple(values))
        if seqs is not None:
            f = f & Filter("seq >= ? AND seq < ?", (int(seqs[0]), int(seqs[1])))
        cast = "" if self.backend.dialect == "sqlite" else "CAST(? AS timestamptz)"
        for op, value in ((">=", start), ("<", end)):
            if value is not None:
                text = format_timestamp(parse_instant(value))
                f = f & Filter(f"occurred_at {op} {cast or '?'}", (text,))
        return f

    def _cold_filter(
        self,
        start: datetime | str | None,
        end: datetime | str | None,
        seqs: tuple[int, int] | None = None,
        match: Mapping[str, str | Sequence[str]] | None = None,
    ) -> tuple[pl.Expr | None, tuple[str | None, str | None] | None]:
        """The same condition as :meth:`_filter`, for rows read from cold segments: a
        Polars expression, and the ``occurred_at`` span that selects segments."""
        conds: list[pl.Expr] = []
        for column, wanted in (match or {}).items():
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            conds.append(pl.col(column).is_in(values))
        if seqs is not None:
            conds.append(pl.col("seq").is_between(int(seqs[0]), int(seqs[1]), closed="left"))
        lo = format_timestamp(parse_instant(start)) if start is not None else None
        hi = format_timestamp(parse_instant(end)) if end is not None else None
        if lo is not None:
            conds.append(pl.col("occurred_at") >= lo)
        if hi is not None:
            conds.append(pl.col("occurred_at") < hi)
        keep = None
        for c in conds:
            keep = c if keep is None else keep & c
        return keep, ((lo, hi) if lo is not None or hi is not None else None)

    def _verified_pass(
        self,
        tenants: Sequence[str],
        where: Filter,
        trust: Trust,
        *,
        seqs: tuple[int, int] | None,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        progress: Progress | None,
        sink: Callable[[pl.DataFrame], None],
        cold: tuple[pl.Expr | None, tuple[str | None, str | None] | None] = (None, None),
        everything: bool = False,
    ) -> VerificationReport:
        """Verify the rows of ``tenants`` matching ``where``, handing each verified
        chunk's frame to ``sink``; return the report.  ``everything``: ``tenants`` are
        all the store holds, so a tenant the signed manifest lists that is gone is
        named too."""
        reports: list[VerificationReport] = []
        ranged = bool(where)
        reader = self._reader
        # before any tenant's snapshot (see verify_trail)
        manifest = reader.manifest()
        tenants = tenants_after_manifest(reader, tenants, everything)
        timed = start is not None or end is not None

        # a page by seq alone reads every row of its range: what it read is the answer
        # on completeness, not a second query (a view, rule or policy can answer a
        # COUNT differently from the rows, e.g. by the reading driver's SQLite version)
        whole = seqs is not None and where == self._filter(None, None, seqs)

        def paged_reads(v: TenantVerifier) -> tuple[Any, ...]:
            assert seqs is not None
            lo, hi = max(0, seqs[0]), min(v.size, seqs[1])
            return (
                reader.tail(
                    v.tenant,
                    v.size,
                    within=(lo, hi),
                    newest=NEWEST_CHECKPOINTS,
                    covered=v.signed_size,
                ),
                None if whole else reader.seqs(v.tenant, v.size, lo=lo, hi=hi),
                reader.mistyped_times(v.tenant) if timed else [],
            )

        early = paged_reads if seqs is not None else finish_reads(reader, ranged=ranged)
        edges: dict[str, pl.DataFrame | None] = {}  # a timed read's rows beside its window
        if timed:
            bounds = tuple(
                None if v is None else format_timestamp(parse_instant(v)) for v in (start, end)
            )
            read_first = early

            def early(v: TenantVerifier) -> tuple[Any, ...]:
                done = read_first(v)
                edges[v.tenant] = reader.window_edges(v.tenant, v.size, *bounds)
                return done

        chunks = verified_chunks(
            reader, trust, tenants, where, progress=progress, full=False,
            cold_keep=cold[0], span=cold[1], seqs=seqs, early=early,
        )  # fmt: skip
        spans: dict[str, tuple[int, int]] = {}  # a timed read's seqs, per tenant
        for checker, raw in chunks:
            if raw is not None:
                frame = checker.verified_frame(raw)
                if timed and frame.height:
                    lo_seq, hi_seq = int(frame["seq"].min()), int(frame["seq"].max())  # type: ignore[arg-type]
                    was = spans.get(checker.tenant)
                    spans[checker.tenant] = (
                        (lo_seq, hi_seq)
                        if was is None
                        else (min(was[0], lo_seq), max(was[1], hi_seq))
                    )
                sink(frame)
                continue
            beside = edges.pop(checker.tenant, None)
            if beside is not None:  # verified, not returned: see TrailReader.window_edges
                checker.check_aside(beside)
            if seqs is not None:
                checker.check_tree_state()
                lo, hi = max(0, seqs[0]), min(checker.size, seqs[1])
                tail, present, mistyped = checker.early
                seen = _page_seen(checker, lo, hi, present)
                if checker.stale(tail, seen=seen) or (
                    present is not None and checker.retention_ran(self._reader)
                ):
                    # read right after the snapshot: a seal or purge made since is not in it
                    tail, present, mistyped = paged_reads(checker)
                    seen = _page_seen(checker, lo, hi, present)
                reports.append(
                    checker.finish(tail, present=np.flatnonzero(seen), mistyped=mistyped)
                )
            else:
                reports.append(finish_tenant(self._reader, checker, ranged=ranged))
        for tenant, span in spans.items():
            reports += self._outside_the_window(tenant, span, start, end, trust)
        extra = manifest_problems(reader, trust, manifest, reports, tenants, everything=everything)
        return merge_reports(reports, trust, self.store_id, extra)

    def _outside_the_window(
        self,
        tenant: str,
        span: tuple[int, int],
        start: datetime | str | None,
        end: datetime | str | None,
        trust: Trust,
    ) -> list[VerificationReport]:
        """A time-ranged read selects rows by their stored ``occurred_at``, which
        whoever can write the database can move out of the window: the event is then
        simply not read.  The rows among the read's seqs (and one on each side) whose
        time lies outside the window are verified too: an event that arrived late is
        genuine and stays out, one whose time was edited is named."""
        lo, hi = max(0, span[0] - 1), span[1] + 2
        inside = self._filter(start, end)
        rows = self._reader._fetch(
            f"SELECT seq FROM events WHERE tenant_id = ? AND seq >= ? AND seq < ? "
            f"AND NOT ({inside.sql}) ORDER BY seq",
            (tenant, lo, hi, *inside.params),
        )
        outside = [int(r[0]) for r in rows]
        if not outside:
            return []
        if len(outside) > _OUTSIDE_CHECKED:
            # a trail ingested far out of time order (files taken region by region): the
            # window's seqs span most of it, and checking them would verify it all
            return [
                VerificationReport(
                    notes=(
                        f"{tenant}: {len(outside)} record(s) among the seqs of the "
                        "time-ranged read lie outside its window (ingested out of time "
                        "order) and were not checked: a record whose time was edited "
                        "out of the window would not show; `auditkit verify` checks all",
                    )
                )
            ]
        runs: list[tuple[int, int]] = []
        for s in outside:
            if runs and runs[-1][1] == s:
                runs[-1] = (runs[-1][0], s + 1)
            else:
                runs.append((s, s + 1))
        if len(runs) > 64:  # many late arrivals: one pass over the whole span
            runs = [(outside[0], outside[-1] + 1)]
        reports = []
        for a, b in runs:
            reports.append(
                self._verified_pass(
                    [tenant],
                    self._filter(None, None, (a, b)),
                    trust,
                    seqs=(a, b),
                    progress=None,
                    sink=lambda _frame: None,
                )
            )
        return reports

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
        match: Mapping[str, str | Sequence[str]] | None = None,
        progress: Progress | None = None,
    ) -> pl.DataFrame:
        """Load events into a Polars frame, verified against the signed checkpoints.

        The canonical bytes of each record are rebuilt from its columns and
        hashed, and the hash is checked against the signed tree, so what the
        frame says is what the signed tree proves.  The verification report is
        kept in :attr:`last_report`.

        Parameters
        ----------
        tenant
            One tenant, several, or ``None`` for all.  An unknown tenant is a
            :class:`~auditkit.errors.UsageError`.
        start, end
            Half-open range ``[start, end)`` on ``occurred_at`` (any form
            :func:`auditkit.times.parse_instant` takes, e.g. ``"30d"``).
        columns
            A subset of :data:`~auditkit.schema.FRAME_SCHEMA` columns.
        verify
            Check each loaded record's hash against the signed tree (default).
        on_tamper
            ``"raise"`` raises :class:`~auditkit.errors.TamperedError`; ``"warn"``
            warns and returns only the records that verified.
        seqs
            Half-open range ``[lo, hi)`` of ``seq`` (keyset pages, streaming).
        match
            Only events whose column equals one of the given values, read through
            the database (columns: :data:`MATCH_COLUMNS`), e.g.
            ``{"action": ["user.login"], "outcome": "failure"}``.

        A load that narrows the trail (by time, seq or ``match``) proves every record
        it returns; that no record of the range is missing from the database's answer
        is proven by a whole-trail pass (:meth:`verify`, :meth:`verify_and_load`).
        progress
            Called with the number of records read, chunk by chunk.
        """
        if columns is not None:
            unknown = [c for c in columns if c not in FRAME_SCHEMA]
            if unknown:
                raise UsageError(f"unknown column(s) {unknown}; known: {list(FRAME_SCHEMA)}")
        tenants = self._resolve_tenants(tenant)
        where = self._filter(start, end, seqs, match)
        cold = self._cold_filter(start, end, seqs, match)
        frames: list[pl.DataFrame] = []
        if not verify:
            sizes = self._reader.signed_sizes()
            trust = self.trust()
            for t in tenants:
                unchecked = TenantVerifier(self._reader.snapshot(t, tiles=False), trust)
                for raw in unchecked.cold_chunks(self._reader.cold(), keep=cold[0], span=cold[1]):
                    frames.append(frame_from_rows(raw).collect())
                for raw in self._reader.chunks(t, sizes.get(t, 0), where):
                    frames.append(frame_from_rows(raw.drop("_typed", strict=False)).collect())
                    if progress is not None:
                        progress(raw.height)
        else:
            report = _read_again_if_overtaken(
                partial(
                    self._verified_pass,
                    tenants,
                    where,
                    self.trust(),
                    seqs=seqs,
                    start=start,
                    end=end,
                    progress=progress,
                    sink=frames.append,
                    cold=cold,
                    everything=tenant is None,
                ),
                frames.clear,
            )
            self.last_report = report
            if not report.ok:
                if on_tamper == "raise":
                    report.raise_for_problems()
                warnings.warn(report.summary(), stacklevel=2)
        frame = _concat_frames(frames)
        return frame.select(columns) if columns is not None else frame

    def json_page(
        self,
        tenant: str,
        *,
        match: Mapping[str, Sequence[str]] | None = None,
        start_seq: int | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int = 100,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        text: str | None = None,
        target: str | None = None,
    ) -> JsonPage | None:
        """A small page of events as the pull API's JSON objects, each verified against
        the signed tree, without a general load (see :mod:`auditkit.store._page`).

        Up to ``limit`` (at most 1,000) events whose columns ``match`` (``action``,
        ``category``, ``outcome``, ``actor_id``), whose ``occurred_at`` is in
        ``[start, end)`` (any form :func:`auditkit.times.parse_instant` takes), that
        contain ``text`` (the API's free text: in the action, actor id and name, first
        target and description, any case) and name ``target`` among their targets, from
        ``start_seq`` on (ascending) or before it (descending).  ``None`` when this
        path cannot answer (PostgreSQL, purged or sealed ranges, text or target matches
        too sparse to find among the next few thousand events, anything not as a
        healthy store holds it): use :meth:`load`, which reports any problem in full.

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:00:0{i}Z",
        ...                    "action": "user.login", "actor": {"id": "u1"}} for i in range(3)])
        >>> page = store.json_page("acme", order="desc", limit=2)
        >>> [orjson.loads(e)["seq"] for e in page.events], page.tree_size
        ([2, 1], 3)
        """
        return json_page(
            self, tenant, match=match, start_seq=start_seq, order=order, limit=limit,
            start=None if start is None else parse_instant(start),
            end=None if end is None else parse_instant(end), text=text, target=target,
        )  # fmt: skip

    def scan(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        folder: str | Path | None = None,
        progress: Progress | None = None,
    ) -> pl.LazyFrame:
        """Verify events chunk by chunk into Parquet files and scan them lazily.

        For trails that do not fit in memory: each chunk of 250,000 records is
        verified exactly as :meth:`load` does, written to ``folder`` (a new
        temporary folder by default) and dropped, so memory holds a few chunks
        and 33 bytes per record of the largest tenant (its leaf hashes and a seen
        flag): about 0.8 GiB for 1M sample events, 1.9 GiB for 10M.  The result is
        a LazyFrame over those files, with FRAME_SCHEMA columns.  A tampered record raises
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
        out = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="auditkit-"))
        out.mkdir(parents=True, exist_ok=True)
        pl.DataFrame(schema=FRAME_SCHEMA).write_parquet(out / "part-00000.parquet")
        part = [0]

        def write(frame: pl.DataFrame) -> None:
            part[0] += 1
            # LZ4: written and read back once, where zstd's smaller files cost more time
            frame.write_parquet(out / f"part-{part[0]:05d}.parquet", compression="lz4")

        def restart() -> None:
            for done in range(1, part[0] + 1):
                (out / f"part-{done:05d}.parquet").unlink()
            part[0] = 0

        report = _read_again_if_overtaken(
            partial(
                self._verified_pass,
                self._resolve_tenants(tenant),
                self._filter(start, end),
                self.trust(),
                seqs=None,
                start=start,
                end=end,
                progress=progress,
                sink=write,
                everything=tenant is None,
                cold=self._cold_filter(start, end),
            ),
            restart,
        )
        self.last_report = report
        give_back_memory()  # for whatever runs over the files next
        report.raise_for_problems()
        return pl.scan_parquet(out / "part-*.parquet")

    def iter_verified(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        progress: Progress | None = None,
    ) -> Iterator[pl.DataFrame]:
        """Verified events, chunk by chunk, as they are verified: for writers that
        stream (exports) and should not wait for a whole pass, nor write it to disk.

        Each chunk (:data:`FRAME_SCHEMA` columns) holds only records that verified,
        exactly as :meth:`load` checks them.  The checks of the whole selection (rows
        missing or inserted, rollback, the tree itself) can only end the pass: a
        tampered selection raises :class:`~auditkit.errors.TamperedError` once the
        last chunk was handed out, so a caller that must not publish output of a
        tampered store writes to a temporary place and publishes it only when the
        iteration ends without error.  The report is kept in :attr:`last_report`.
        Memory holds a few chunks whatever the trail's size.

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...                    "action": "user.login", "actor": {"id": "u1"}}])
        >>> sum(chunk.height for chunk in store.iter_verified())
        1
        """
        tenants = self._resolve_tenants(tenant)
        where, cold, trust = self._filter(start, end), self._cold_filter(start, end), self.trust()
        reports: list[VerificationReport] = []

        def produce(emit: Callable[[pl.DataFrame], None]) -> None:
            reports.append(
                self._verified_pass(
                    tenants,
                    where,
                    trust,
                    seqs=None,
                    start=start,
                    end=end,
                    progress=progress,
                    sink=emit,
                    cold=cold,
                    everything=tenant is None,
                )
            )

        yield from handed_over(produce, ahead=2, name="auditkit-verify")
        self.last_report = reports[0]
        reports[0].raise_for_problems()

    def verify_and_load(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        checkpoint: CheckpointArg | None = None,
        public_key: Any | None = None,
        fingerprint: str | None = None,
        witnesses: Sequence[str | VerifierKey] = (),
        progress: Progress | None = None,
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
        keep: pl.Expr | None = None
        for op, value in (("ge", start), ("lt", end)):
            if value is not None:
                bound = pl.lit(parse_instant(value)).cast(pl.Datetime("us", "UTC"))
                cond = getattr(pl.col("occurred_at"), op)(bound)
                keep = cond if keep is None else keep & cond
        frames: list[pl.DataFrame] = []
        trust = self.trust(
            public_key=public_key,
            fingerprint=fingerprint,
            checkpoint=checkpoint,
            witnesses=witnesses,
        )
        report = _read_again_if_overtaken(
            partial(
                verify_trail,
                self._reader,
                trust,
                self._resolve_tenants(tenant),
                collect=frames,
                keep=keep,
                progress=progress,
                everything=tenant is None,
                # the reports it serves count the refused input store-wide
                quarantine=True,
            ),
            frames.clear,
        )
        self.last_report = report
        return report, _concat_frames(frames)

    # -- verify --------------------------------------------------------------------
    def verify(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        checkpoint: CheckpointArg | None = None,
        public_key: Any | None = None,
        fingerprint: str | None = None,
        witnesses: Sequence[str | VerifierKey] = (),
        progress: Progress | None = None,
    ) -> VerificationReport:
        """Verify the whole store (or some tenants) and report every problem found.

        Checks each record (its canonical bytes rebuilt from its columns, every
        column well-formed) against the signed Merkle tree, ``actor_id`` against
        ``actor.id``, the sequence for gaps, duplicates and rows outside the signed
        range, the tree state, every checkpoint's signature and history, purge
        statements, and, given a saved ``checkpoint`` file, that the store still
        extends what it said (truncation, rollback, fork).

        The verdict (:attr:`VerificationReport.status`) is INTACT only when an
        independent anchor backs the key: the key file, ``public_key``, a pinned
        ``fingerprint`` or the ``checkpoint`` file, or ``witnesses`` whose
        cosignatures on the saved checkpoint notes cover every tenant's whole tree;
        otherwise UNANCHORED.
        """
        trust = self.trust(
            public_key=public_key,
            fingerprint=fingerprint,
            checkpoint=checkpoint,
            witnesses=witnesses,
        )
        tenants = self._resolve_tenants(tenant)
        if trust.saved is not None and tenant is None:
            known = set(tenants)
            tenants += [t for t in trust.saved.tenants if t not in known]
        report = verify_trail(
            self._reader, trust, tenants, progress=progress, everything=tenant is None
        )
        # (a trail with problems is TAMPERED already, and its reads refuse it)
        altered, notes = (
            self._policy_problems(tenants) if tenant is None and report.ok else ([], [])
        )
        if altered or notes:
            report = replace(
                report,
                problems=report.problems + tuple(altered),
                notes=report.notes + tuple(notes),
            )
        if report.anchors:  # what they cannot vouch for (UNANCHORED says so itself)
            store_file = self.backend.path if self.backend.dialect == "sqlite" else None
            report = replace(report, unchecked=tuple(unchecked(report.anchors, store_file)))
        self.last_report = report
        return report

    # -- retention (hot and cold tiers, purges; see docs/retention.md) ---------------------
    @property
    def retention(self) -> Retention:
        """The retention handle: policies, and applying them (see :class:`Retention`)."""
        return Retention(self)

    @property
    def cold_url(self) -> str | None:
        """Where the cold tier is (a folder or fsspec URL); ``None``: the store has none.
        It may carry credentials: mask them before printing it."""
        return self._reader.cold_url

    def tier_counts(self, tenant: str) -> tuple[int, int]:
        """Events of ``tenant`` in the hot tier and in cold segments (counts from the
        database and the seal statements, not verified reads)."""
        self._resolve_tenants(tenant)
        return self._reader.count(tenant), self._reader.sealed_count(tenant)

    def retention_policies(self, tenant: str | None = None) -> list[RetentionPolicy]:
        """The policy in force for ``tenant``; without one, the store default (tenant
        ``*``) followed by the policy in force for every tenant."""
        rows = read_policies(self)
        default = rows.get(DEFAULT_TENANT, RetentionPolicy(DEFAULT_TENANT))

        def of(t: str) -> RetentionPolicy:
            return rows.get(t) or replace(default, tenant_id=t, inherited=True)

        if tenant is not None:
            if tenant == DEFAULT_TENANT:
                return [default]
            self._resolve_tenants(tenant)
            return [of(tenant)]
        return [default, *(of(t) for t in self.tenants())]

    def set_retention(
        self,
        tenant: str = DEFAULT_TENANT,
        *,
        hot_days: int | str | None = "keep",
        keep_days: int | str | None = "keep",
        legal_hold: bool | None = None,
        reason: str | None = None,
    ) -> RetentionPolicy:
        """Change the retention policy of ``tenant`` (``"*"``: the store default).

        Settings left at ``"keep"`` (or ``legal_hold=None``) stay as they are;
        ``None`` means forever.  The change is appended to the tenant's signed trail
        as ``audit_retention.update`` (old and new values in ``metadata``); a
        change of the default to the trail of every tenant that follows it.
        """
        return self._set_retention_as(
            local_owner_actor(), "local owner", tenant, hot_days=hot_days,
            keep_days=keep_days, legal_hold=legal_hold, reason=reason,
        )  # fmt: skip

    def _set_retention_as(
        self,
        actor: dict[str, str],
        by: str,
        tenant: str,
        *,
        hot_days: int | str | None,
        keep_days: int | str | None,
        legal_hold: bool | None,
        reason: str | None,
    ) -> RetentionPolicy:
        if tenant != DEFAULT_TENANT:
            self._resolve_tenants(tenant)
        rows = read_policies(self)
        default = rows.get(DEFAULT_TENANT, RetentionPolicy(DEFAULT_TENANT))
        old = rows.get(tenant) or replace(default, tenant_id=tenant, inherited=False)
        for name, v in (("hot_days", hot_days), ("keep_days", keep_days)):
            if isinstance(v, str) and v != "keep":
                raise UsageError(f"{name}: expected a number of days, None or 'keep', got {v!r}")
        if legal_hold is None and reason is not None and not old.legal_hold:
            raise UsageError("--reason goes with --legal-hold on")
        hold = old.legal_hold if legal_hold is None else bool(legal_hold)
        new = RetentionPolicy(
            tenant,
            old.hot_days if hot_days == "keep" else hot_days,  # type: ignore[arg-type]
            old.keep_days if keep_days == "keep" else keep_days,  # type: ignore[arg-type]
            hold,
            (reason or old.hold_reason) if hold else None,
            format_timestamp(datetime.now(UTC)),
            by,
        )
        trails = [t for t in self.tenants() if t not in rows] if tenant == DEFAULT_TENANT else []
        if new.values() == old.values() and tenant in rows:
            # the same settings again: recorded anew only where no sealed record vouches
            # for them (one written by a version before the seal)
            lookup = self._signed_default_lookup()
            policies = {p.tenant_id: p for p in self.retention_policies()}
            if not any(
                self._policy_verdict(t, policies[t], lookup)
                for t in (trails if tenant == DEFAULT_TENANT else [tenant])
                if t in policies
            ):
                return old
        seal = (self.private_key, self.store_id) if self._may_sign() else None
        if tenant == DEFAULT_TENANT:
            events = [
                policy_event(
                    t,
                    actor,
                    replace(default, tenant_id=t),
                    replace(new, tenant_id=t),
                    default=True,
                    seal=seal,
                )
                for t in trails
            ]
        else:
            events = [policy_event(tenant, actor, old, new, seal=seal)]
        if events:
            self.append(events)
        write_policy(self, new)
        return new

    def apply_retention(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        dry_run: bool = False,
        now: datetime | str | None = None,
        progress: Progress | None = None,
    ) -> ApplyResult:
        """Seal events past their tenant's hot period into the cold tier and purge
        events past the keep period (a legal hold blocks the purge), as
        ``docs/retention.md`` describes; ``dry_run`` only counts.

        Every step is crash-safe: re-running ``apply`` after a failure finishes or
        undoes what was interrupted, and loses and doubles nothing.  ``now`` moves
        the clock (tests); verification judges each purge by when it was signed.
        """
        tenants = self._resolve_tenants(tenant) if tenant is not None else self.tenants()
        self._check_cold_url()
        when = parse_instant(now) if now is not None else datetime.now(UTC)
        policies = {p.tenant_id: p for p in self.retention_policies()}
        cold = self._reader.cold()
        default = self._signed_default_lookup()
        done = []
        for t in tenants:
            verdict = self._policy_verdict(t, policies[t], default)
            if verdict:
                done.append(TenantApply(t, policies[t], blocked=verdict[1]))
                continue
            done.append(
                apply_tenant(self, t, policies[t], now=when, dry_run=dry_run, cold=cold,
                             progress=progress)
            )  # fmt: skip
        return ApplyResult(tuple(done), dry_run, display_url(self._reader.cold_url))

    def _check_cold_url(self) -> None:
        """Refuse to seal into a cold tier that the signed manifest does not name: one
        set in ``store_meta`` by someone without the key would receive the events, and
        the purge that follows would leave them nowhere else."""
        text, required = self._reader.manifest()
        if not text:
            if required:  # removed: nothing vouches for the cold tier's URL any more
                raise StoreError(
                    "the signed tenant manifest was removed from the store; nothing was "
                    "sealed or purged. Run `auditkit verify` to see what changed"
                )
            return  # a store of an earlier version: it records the URL at its next append
        found, why = checked_manifest(text, self._signing_pair()[1], self.store_id)
        if found is None or why is not None:
            raise StoreError(
                f"the signed tenant manifest is damaged ({why}); nothing was sealed or "
                "purged. Run `auditkit verify` to see what changed"
            )
        moved = cold_tier_problem(found, self._reader.stored_cold_url())
        if moved is not None:
            raise StoreError(
                f"{moved}: it was changed in the database, not by auditkit; nothing was "
                "sealed or purged. Run `auditkit verify` to see what changed"
            )

    def _policy_records(
        self, tenant: str
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
        """The tenant's verified ``audit_retention.update`` records that carry
        auditkit's seal, as (time of the change, metadata), oldest first; and those
        without it that came before the first sealed one, as (received, metadata):
        records of a version before the seal, or sent by a source (any may send that
        action), which vouch for nothing.  One without the seal received after a
        sealed one is not auditkit's (every record since carries it) and is left out."""
        frame = self.load(tenant, match={"action": "audit_retention.update"})
        public = self._signing_pair()[1]
        sealed, bare = [], []
        for received, meta in frame.select("received_at", "metadata").iter_rows():
            try:
                doc = orjson.loads(meta) if meta else {}
            except orjson.JSONDecodeError:
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("new"), dict):
                continue
            at = sealed_policy(doc, public, self.store_id, tenant)
            if at is not None:
                sealed.append((at, doc))
            else:
                when = received if isinstance(received, str) else format_timestamp(received)
                bare.append((when, doc))
        sealed.sort(key=lambda r: r[0])
        bare.sort(key=lambda r: r[0])
        if sealed:
            bare = [r for r in bare if r[0] < sealed[0][0]]
        return sealed, bare

    def _signed_policy_records(self, tenant: str) -> list[tuple[str, dict[str, Any]]]:
        """The tenant's sealed ``audit_retention.update`` records: (time, metadata)."""
        return self._policy_records(tenant)[0]

    def _signed_default_policy(self, tenants: Sequence[str]) -> dict[str, Any] | None:
        """The newest sealed change of the store default, from any tenant's trail."""
        newest: tuple[str, dict[str, Any]] | None = None
        for t in tenants:
            for received, doc in self._signed_policy_records(t):
                if doc.get("scope") == "store default" and (newest is None or received > newest[0]):
                    newest = (received, doc["new"])
        return newest[1] if newest else None

    def _signed_default_lookup(self) -> Callable[[], dict[str, Any] | None]:
        """:meth:`_signed_default_policy` over every tenant, looked up at most once (it
        reads every tenant's policy records) by a pass that judges each tenant."""
        return functools.cache(lambda: self._signed_default_policy(self.tenants()))

    def _policy_problems(self, tenants: Sequence[str]) -> tuple[list[Problem], list[str]]:
        """``policy_altered`` for each tenant whose retention policy in the database is
        not the one its signed trail records, as ``apply`` would refuse it (a hold
        lifted, a keep period cut in the table).  Only when the table holds a policy:
        without one every tenant keeps everything, which no purge can abuse."""
        if self._reader.confined() or not self._has_policies():
            return [], []
        policies = {p.tenant_id: p for p in self.retention_policies()}
        default = self._signed_default_lookup()
        problems, notes = [], []
        for t in tenants:
            verdict = self._policy_verdict(t, policies[t], default) if t in policies else None
            if verdict is None:
                continue
            if verdict[0] == "unsealed":
                notes.append(
                    f"{t}: its retention policy ({policies[t].describe()}) is recorded only "
                    "without auditkit's seal (an earlier version's record, or one a source "
                    "sent): `retention apply` leaves the tenant alone until it is set again"
                )
                continue
            problems.append(
                Problem(
                    ProblemKind.POLICY_ALTERED,
                    t,
                    None,
                    None,
                    f"the retention policy in the database ({policies[t].describe()}) is not "
                    "the one the tenant's signed trail records (audit_retention.update): the "
                    "policy table was changed outside auditkit; `retention apply` refuses it",
                )
            )
        return problems, notes

    def _has_policies(self) -> bool:
        try:
            return bool(self._reader._fetch("SELECT COUNT(*) FROM retention_policies")[0][0])
        except StoreError:
            return False  # a store that never had a policy: no table

    def _policy_verdict(
        self,
        tenant: str,
        policy: RetentionPolicy,
        default: Callable[[], dict[str, Any] | None],
    ) -> tuple[Literal["altered", "unsealed"], str] | None:
        """Why the policy the database holds for ``tenant`` is not the one its signed
        trail records, or ``None``.  The table is a convenience that anyone with write
        access to the database can edit; a purge is irreversible, so ``apply`` only acts
        on a policy auditkit's sealed ``audit_retention.update`` records vouch for.
        ``("unsealed", why)``: only a record without the seal (of an earlier version)
        says so; ``("altered", why)``: nothing does.
        ``default``: :meth:`_signed_default_lookup`'s."""
        records, bare = self._policy_records(tenant)
        # a tenant that came after the store default was set has no record of it in
        # its own trail: the default's record in the other tenants' trails vouches
        signed = records[-1][1]["new"] if records else default()
        if signed is None:
            signed = RetentionPolicy(tenant).values()
        claimed = policy.values()
        if {k: signed.get(k) for k in claimed} == claimed:
            return None
        if not records and bare and {k: bare[-1][1]["new"].get(k) for k in claimed} == claimed:
            return "unsealed", (
                "not applied: the retention policy in the database "
                f"({policy.describe()}) is recorded in the tenant's trail only by a record "
                "without auditkit's seal (written by an earlier version, or sent by a "
                "source): set it again (`auditkit retention STORE set ...`) to apply it"
            )
        return "altered", (
            "not applied: the retention policy in the database "
            f"({policy.describe()}) is not the one the tenant's signed trail records "
            "(audit_retention.update); the policy table was changed outside auditkit: "
            "run `auditkit verify` and set the policy again"
        )

    # -- the pull API (auditkit.api): idempotent writes -----------------------------------
    def existing_event_ids(self, tenant: str, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` the tenant already has (an append skips those).

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"event_id": "e1", "tenant_id": "acme", "action": "user.login",
        ...     "occurred_at": "2026-01-05T09:00:00Z", "actor": {"id": "u1"}}])
        >>> store.existing_event_ids("acme", ["e1", "e2"])
        {'e1'}
        """
        found: set[str] = set()
        ph = self.backend.ph
        ids = list(dict.fromkeys(event_ids))
        with self.backend.connect() as conn:
            cur = conn.cursor()
            try:
                for i in range(0, len(ids), 500):
                    chunk = ids[i : i + 500]
                    marks = ", ".join([ph] * len(chunk))
                    cur.execute(
                        f"SELECT event_id FROM events WHERE tenant_id = {ph} "
                        f"AND event_id IN ({marks})",
                        [tenant, *chunk],
                    )
                    found.update(str(r[0]) for r in cur.fetchall())
            finally:
                cur.close()
        return found

    def event_seq(self, tenant: str, event_id: str) -> int | None:
        """The seq of the tenant's event ``event_id`` (``None``: no such event); an
        index lookup in the hot tier, not a verified read (load the seq to get the event
        verified); an event sealed into the cold tier is looked for in its segments."""
        ph = self.backend.ph
        with self.backend.connect() as conn:
            cur = conn.cursor()
            try:
                cur.execute(
                    f"SELECT seq FROM events WHERE tenant_id = {ph} AND event_id = {ph}",
                    (tenant, event_id),
                )
                row = cur.fetchone()
            finally:
                cur.close()
        if row:
            return int(row[0])
        if not self._reader.sealed_count(tenant):
            return None
        cold = self._cold_row(tenant, None, event_id)
        return int(cold.get_column("seq")[0]) if cold.height else None

    def quarantine(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Keep records that were not stored, with why (``file``, ``line``,
        ``location``, ``field``, ``reason``, ``record``), in the quarantine table.

        With the store's key at hand, the signed tenant manifest is re-signed in the
        same transaction over the rows kept (see :class:`QuarantineSeal`), so that
        deleting or editing one is ``quarantine_altered``.  Without it (or where the
        manifest may not be written) the rows are kept all the same, and sealed by the
        next write that has the key."""
        ph = self.backend.ph
        now = format_timestamp(datetime.now(UTC))

        def text(value: Any) -> str | None:  # PostgreSQL text cannot hold NUL
            return None if value is None else str(value).replace("\x00", "\ufffd")

        values = [
            (now, text(r.get("file")), r.get("line"), text(r.get("location")),
             text(r.get("field")), text(r.get("reason")) or "", text(r.get("record")))
            for r in rows
        ]  # fmt: skip
        if values:
            with self.backend.connect() as conn, self.backend.write_transaction(conn) as cur:
                if self.backend.dialect != "sqlite":
                    # writers one at a time (SQLite's BEGIN IMMEDIATE does the same), so
                    # rows are committed in id order and a seal never passes over a row
                    # still to be committed: reads are not blocked
                    cur.execute("LOCK TABLE quarantine IN SHARE ROW EXCLUSIVE MODE")
                cur.executemany(
                    "INSERT INTO quarantine (quarantined_at, file, line, location, field, "
                    f"reason, record) VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph}, {ph})",
                    values,
                )
                if self._may_sign():
                    self._grow_manifest(cur, {}, strict=False)
        return len(values)

    def _signing_pair(self) -> tuple[Any, Any]:
        """The store's own key when this handle holds it (else ``None``), and the public
        key to check signatures with: its own, or the one verification trusts."""
        key = self.private_key if self._may_sign() else None
        return key, key.public_key() if key is not None else self.trusted_public_key()[0]

    def _access_seal(self) -> _access.AccessSeal:
        """What signs and checks the rows of the access tables: the store's own key when
        this handle holds it, else the key that verification trusts (reads only)."""
        key, public = self._signing_pair()
        text, required = _access.stored_manifest(self.backend)
        revoked = listed_revocations(text, public, self.store_id, required=required)
        return _access.AccessSeal(self.store_id, public, key, revoked)

    def _revoked_in(self, cur: Any, digests: list[str]) -> None:
        """List revoked access rows in the signed manifest, in the revocation's own
        transaction (a damaged manifest is left for ``verify`` to name: the row is gone
        all the same)."""
        if digests and self._may_sign():  # without the key the row still goes: fail safe
            self._grow_manifest(cur, {}, strict=False, revoked=digests)

    def seal_access(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Sign the rows of the access tables that carry no signature: those of a store
        made before access rows were signed, which are not honoured until then.  Check
        them first (:meth:`unsealed_access`): a row added by someone without the key
        looks the same.  Rows whose signature is wrong are not touched.

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.add_principal("ann")
        >>> store.unsealed_access(), store.seal_access()
        ([], [])
        """
        return _access.seal_rows(self.backend, self._access_seal())

    def unsealed_access(self) -> list[tuple[str, tuple[Any, ...], str]]:
        """Rows of the access tables that are not honoured, as (table, values, why): ``no
        signature``, ``wrong signature`` (forged or edited), ``revoked`` (put back after
        its revocation), or that the manifest listing revocations is unreadable."""
        return _access.unsealed_rows(self.backend, self._access_seal())

    def _may_sign(self) -> bool:
        """Whether this handle holds the store's own signing key (loaded now if need be)."""
        try:
            self._check_own_key()
        except StoreError:
            return False
        return True

    def quarantine_counts(
        self, *, start: datetime | str | None = None, end: datetime | str | None = None
    ) -> dict[str, int]:
        """How many records ingestion quarantined in ``[start, end)`` (by the time they were
        quarantined), per field at fault (``""``: the record as a whole).

        Store-wide: a record that could not be read may name no tenant, so the counts are
        not per tenant, and they carry no record content (only field names).

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> store.quarantine([{"file": "x.ndjson", "line": 3, "field": "occurred_at",
        ...                    "reason": "bad time", "record": "{}"}])
        1
        >>> store.quarantine_counts(start="2000-01-01")
        {'occurred_at': 1}
        """
        ph = self.backend.ph
        where, params = [], []
        for op, value in ((">=", start), ("<", end)):
            if value is not None:
                where.append(f"quarantined_at {op} {ph}")
                params.append(format_timestamp(parse_instant(value)))
        sql = "SELECT COALESCE(field, ''), COUNT(*) FROM quarantine"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.backend.connect() as conn:
            cur = conn.cursor()
            try:
                cur.execute(sql + " GROUP BY COALESCE(field, '') ORDER BY 1", params)
                rows = cur.fetchall()
            finally:
                cur.close()
        return {str(f): int(n) for f, n in rows}

    # -- role-based access (auditkit.access; see docs/access.md) ---------------------------
    def bind(
        self,
        *,
        principal: str | None = None,
        token: str | None = None,
        via: str = "python",
        once: bool = False,
    ) -> Store:
        """A handle on this store acting for a principal (by id, or by API token).

        Every read through it is checked against the principal's roles, redacted
        for roles without ``read_unredacted``, and recorded in each tenant's
        trail; a denied attempt raises :class:`~auditkit.errors.AccessDenied`
        naming the missing permission, and is recorded too.  ``via`` says in the
        records where the access came from (``python``, ``api``, ``cli``).

        By default every check reads the token and the grants afresh, so a
        revocation applies to a handle at once.  ``once=True`` reads them once,
        when binding, for a handle that serves one request (the API binds one per
        request): a revocation then applies from the next handle, and the checks
        inside the request cost no database read.

        Examples
        --------
        >>> import tempfile, os
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...     "action": "user.login", "actor": {"id": "u1"}, "source": {"ip": "192.0.2.7"}}])
        >>> _ = store.add_principal("ann")
        >>> _ = store.grant("ann", "acme", "analyst")
        >>> ann = store.bind(principal="ann")
        >>> ann.load("acme").get_column("source_ip").str.starts_with("hmac:").all()
        True
        >>> ann.load("globex")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        auditkit.errors.AccessDenied: principal 'ann' may not read on tenant 'globex': ...
        """
        if (principal is None) == (token is None):
            raise UsageError("bind: give exactly one of principal= or token=")
        if _BINDER is None:  # auditkit.store's __init__ installs it
            raise StoreError("the principal-bound store handle is not installed")
        info = None
        with _access.one_read(self.backend):  # the token and who it is for: one read
            if token is not None:
                # who may ask, and the revocations the manifest lists, in one snapshot
                info = _access.authenticate(self.backend, token, self._access_seal())
                principal = info.principal_id
            assert principal is not None
            return _BINDER(self, principal, info, via, once=once)

    def authorize(
        self, permission: Permission | str, tenant: str | Sequence[str] | None = None
    ) -> tuple[str, ...]:
        """The tenants (of those asked for; ``None``: all with events) where this
        handle may use ``permission``: all of them for the local owner."""
        Permission(permission)
        return tuple(self._resolve_tenants(tenant) if tenant is not None else self.tenants())

    def activity(
        self, operation: str = "read", **details: Any
    ) -> contextlib.AbstractContextManager[Activity | None]:
        """Mark the reads inside as one operation (``read``, ``export``, ``report``,
        ``detect``, ``prove``) with a filter: on a principal's handle they are
        checked against that operation's permission and recorded once; on the
        local owner's, nothing happens."""
        return contextlib.nullcontext()

    def redacted_for(self, tenant: str) -> bool:
        """Whether what this handle reads of ``tenant`` is redacted (never for the owner)."""
        return False

    def add_principal(
        self,
        principal_id: str,
        *,
        kind: str = "person",
        name: str | None = None,
        email: str | None = None,
    ) -> Principal:
        """Add a person or service account that roles can be granted to."""
        return _access.add_principal(
            self.backend,
            Principal(validate_principal_id(principal_id), PrincipalKind(kind), name, email),
            self._access_seal(),
        )

    def principals(self) -> list[Principal]:
        """Every principal."""
        return _access.list_principals(self.backend, self._access_seal())

    def grants(self, tenant: str | None = None, principal: str | None = None) -> list[Grant]:
        """Current grants (on a tenant, of a principal); store-wide ones have tenant ``*``."""
        return _access.list_grants(
            self.backend, self._access_seal(), principal_id=principal, tenant=tenant
        )

    def grant(self, principal_id: str, tenant: str, role: str | Role) -> Grant:
        """Grant ``role`` on ``tenant`` (``operator`` is store-wide: pass ``"*"``);
        recorded as ``role.grant`` in the tenant's trail."""
        return self._grant_as(local_owner_actor(), "local owner", principal_id, tenant, role)

    def revoke(self, principal_id: str, tenant: str, role: str | Role) -> bool:
        """Revoke a role (``role.revoke`` in the tenant's trail); ``False`` if not held."""
        return self._revoke_as(local_owner_actor(), principal_id, tenant, role)

    def create_token(
        self,
        principal_id: str | None = None,
        *,
        expires: str | None = "90d",
        scopes: Iterable[str] | None = None,
        tenants: Iterable[str] | None = None,
        note: str | None = None,
    ) -> NewToken:
        """An API token for a principal: its text is in the result, once, and stored
        only as a hash (``api_key.create`` in the trails of its tenants)."""
        if principal_id is None:
            raise UsageError("create_token: the local owner must name the principal")
        return self._create_token_as(
            local_owner_actor(), principal_id, expires=expires, scopes=scopes,
            tenants=tenants, note=note,
        )  # fmt: skip

    def tokens(self, principal_id: str | None = None) -> list[TokenInfo]:
        """API tokens (of a principal), without their secrets."""
        return _access.list_tokens(self.backend, self._access_seal(), principal_id)

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke an API token (``api_key.revoke`` in the trails of its tenants)."""
        return self._revoke_token_as(local_owner_actor(), token_id)

    def create_db_role(
        self,
        tenant: str,
        *,
        name: str | None = None,
        password: str | None = None,
        append: bool = False,
    ) -> DbRole:
        """A PostgreSQL login role that sees only ``tenant``'s rows (row-level security)."""
        return _access.create_db_role(
            self.backend, tenant, self._access_seal(), name=name, password=password, append=append
        )

    def db_roles(self) -> list[DbRole]:
        """The database roles made for tenants (PostgreSQL)."""
        return _access.list_db_roles(self.backend)

    def drop_db_role(self, name: str) -> None:
        """Drop a database role made by :meth:`create_db_role`."""
        _access.drop_db_role(self.backend, name, self._revoked_in)

    def _principal_tenants(self, principal_id: str, seal: _access.AccessSeal) -> list[str]:
        """Tenants whose trail records what happens to a principal's access."""
        grants = _access.list_grants(self.backend, seal, principal_id=principal_id)
        if any(g.role in STORE_WIDE for g in grants):
            return self.tenants()
        return sorted({g.tenant_id for g in grants})

    def _grant_as(
        self, actor: dict[str, str], by: str, principal_id: str, tenant: str, role: str | Role
    ) -> Grant:
        r = parse_role(role) if not isinstance(role, Role) else role
        seal = self._access_seal()  # one read of the key and the manifest per change
        target = _access.get_principal(self.backend, principal_id, seal)
        if target is None:
            raise UsageError(f"no principal {principal_id!r} (add it first)")
        tenant = "*" if r in STORE_WIDE else tenant
        if not tenant or (tenant == "*" and r not in STORE_WIDE):
            raise UsageError(f"role {r.value!r} is granted per tenant: name one")
        grant = Grant(principal_id, tenant, r, format_timestamp(datetime.now(UTC)), by)
        if _access.insert_grant(self.backend, grant, seal):
            trails = self.tenants() if tenant == "*" else [tenant]
            self.append(
                grant_event("role.grant", tenant=t, actor=actor, principal=target.actor(),
                            role=r.value, detail={"scope": "store" if tenant == "*" else "tenant"})
                for t in trails
            )  # fmt: skip
        return grant

    def _revoke_as(
        self, actor: dict[str, str], principal_id: str, tenant: str, role: str | Role
    ) -> bool:
        r = parse_role(role) if not isinstance(role, Role) else role
        tenant = "*" if r in STORE_WIDE else tenant
        if not _access.delete_grant(self.backend, principal_id, tenant, r, self._revoked_in):
            return False
        target = _access.get_principal(self.backend, principal_id, self._access_seal())
        who = target.actor() if target else {"id": principal_id, "type": "user"}
        trails = self.tenants() if tenant == "*" else [tenant]
        self.append(
            grant_event("role.revoke", tenant=t, actor=actor, principal=who, role=r.value)
            for t in trails
        )
        return True

    def _create_token_as(
        self,
        actor: dict[str, str],
        principal_id: str,
        *,
        expires: str | None,
        scopes: Iterable[str] | None,
        tenants: Iterable[str] | None,
        note: str | None,
    ) -> NewToken:
        from auditkit.times import parse_duration

        seal = self._access_seal()
        target = _access.get_principal(self.backend, principal_id, seal)
        if target is None:
            raise UsageError(f"no principal {principal_id!r} (add it first)")
        scope_set = parse_permissions(scopes) if scopes is not None else None
        tenant_set = frozenset(tenants) if tenants is not None else None
        life = parse_duration(expires) if expires is not None else None
        if life is not None and life.total_seconds() <= 0:
            raise UsageError(f"expires {expires}: a token that has expired already; give a life")
        token, digest = new_token()
        _access.insert_token(
            self.backend, seal, token_id=token.token_id, principal_id=principal_id,
            secret_hash=digest, expires_in=life, scopes=scope_set, tenants=tenant_set, note=note,
        )  # fmt: skip
        trails = [
            t for t in self._principal_tenants(principal_id, seal)
            if tenant_set is None or t in tenant_set
        ]  # fmt: skip
        detail = {
            "scopes": sorted(p.value for p in scope_set) if scope_set is not None else None,
            "expires_in": expires,
        }
        self.append(
            grant_event("api_key.create", tenant=t, actor=actor, principal=target.actor(),
                        token_id=token.token_id, detail=detail)
            for t in trails
        )  # fmt: skip
        return token

    def _revoke_token_as(self, actor: dict[str, str], token_id: str) -> TokenInfo:
        seal = self._access_seal()  # what is read after the revocation, it does not touch
        before = _access.get_token(self.backend, token_id, seal)
        info = _access.revoke_token_row(self.backend, token_id, seal, self._revoked_in)
        if before is not None and before[0].revoked_at is None:
            target = _access.get_principal(self.backend, info.principal_id, seal)
            who = target.actor() if target else {"id": info.principal_id, "type": "user"}
            trails = [
                t for t in self._principal_tenants(info.principal_id, seal)
                if info.tenants is None or t in info.tenants
            ]  # fmt: skip
            self.append(
                grant_event("api_key.revoke", tenant=t, actor=actor, principal=who,
                            token_id=token_id)
                for t in trails
            )  # fmt: skip
        return info


def _witness_key(value: str | VerifierKey) -> VerifierKey:
    """A witness's C2SP verifier key, from its text or a file holding it."""
    if isinstance(value, VerifierKey):
        return value
    text = value
    if "+" not in value and Path(value).is_file():
        text = Path(value).read_text().strip()
    try:
        key = VerifierKey.parse(text)
    except NoteError as exc:
        raise UsageError(f"witness key: {exc}") from None
    if key.type != 0x04:
        raise UsageError(f"witness key {key.name!r}: expected a cosignature key (type 0x04)")
    return key


def _identity(occurred_at: Any, action: Any, outcome: Any, actor_id: Any) -> tuple[str, ...]:
    """What tells two events with one ``event_id`` apart at a glance: when (as stored
    text; PostgreSQL gives a datetime back), what, how it ended, who.

    >>> from datetime import datetime, UTC
    >>> _identity(datetime(2026, 1, 5, 9, tzinfo=UTC), "user.login", "success", "ann")
    ('2026-01-05T09:00:00.000000Z', 'user.login', 'success', 'ann')
    """
    when = format_timestamp(occurred_at) if isinstance(occurred_at, datetime) else str(occurred_at)
    return (when, str(action), str(outcome), str(actor_id))


#: The stored columns :func:`_identity` reads, and where they are in a stored row.
_IDENTITY_COLUMNS: Final = ("occurred_at", "action", "outcome", "actor_id")
_IDENTITY_AT: Final = tuple(STORED_COLUMNS.index(c) for c in _IDENTITY_COLUMNS)


def _row_identity(row: Sequence[Any]) -> tuple[str, ...]:
    """:func:`_identity` of a stored row (:data:`~auditkit.record.STORED_COLUMNS`)."""
    return _identity(*(row[i] for i in _IDENTITY_AT))


def _shown(identity: tuple[str, ...]) -> str:
    when, action, outcome, actor = identity
    return f"{action} by {actor!r} at {when}, {outcome}"


def _signed_access(cur: Any) -> bool:
    """Whether the store holds access rows signed by its key (``SIGNED_ACCESS_QUERY``):
    then it was made with a manifest, whatever its version says."""
    cur.execute("SAVEPOINT auditkit_access_probe")  # a failed read must not end the append
    try:
        cur.execute(SIGNED_ACCESS_QUERY)
        found = cur.fetchone() is not None
    except Exception:
        cur.execute("ROLLBACK TO SAVEPOINT auditkit_access_probe")
        found = False
    cur.execute("RELEASE SAVEPOINT auditkit_access_probe")
    return found


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
