"""Verification of a store: records against the signed Merkle tree (their
canonical bytes rebuilt from the columns), projected columns against the
record, checkpoints against the trusted key, and the store against
checkpoints saved outside it.

The fast path is vectorised: leaf hashes of a chunk of records are computed
with one SHA-256 over a Polars column and compared with the stored Merkle
tiles, which are themselves authenticated by recomputing the signed root.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl
import polars_hash  # noqa: F401  (registers the .chash namespace)
import pyarrow as pa

from auditkit.errors import UsageError
from auditkit.frame import frame_from_rows
from auditkit.integrity import (
    Checkpoint,
    Frontier,
    key_fingerprint,
    root_from_leaf_hashes,
    verify_checkpoint,
)
from auditkit.schema import format_timestamp
from auditkit.store._layout import rebuild_canonical
from auditkit.verification import Problem, ProblemKind, TenantStatus, VerificationReport

if TYPE_CHECKING:
    from auditkit.store.store import Store

__all__ = ["TenantVerifier", "merge_reports", "verify_store"]

_MAX_PROBLEMS_PER_KIND = 1000


def _leaf_hex(blob: bytes) -> pl.Series:
    n = len(blob) // 32
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), n, [None, pa.py_buffer(blob)])
    return pl.Series("expected", arr.cast(pa.binary())).bin.encode("hex")


def _computed_hex(raw: pl.DataFrame) -> pl.Series:
    canonical = rebuild_canonical(raw)
    return (
        pl.select(
            pl.concat_str(pl.lit("\x00"), pl.lit(canonical)).chash.sha2_256()  # type: ignore[attr-defined]
        )
        .to_series()
        .alias("computed")
    )


def check_signature(cp: Checkpoint, public_key: Any) -> Problem | None:
    """A problem if ``cp`` is not validly signed by ``public_key``."""
    expected = key_fingerprint(public_key)
    if not expected.startswith(cp.key_id) and cp.key_id != expected:
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


class TenantVerifier:
    """Checks one tenant's records, chunk by chunk, against its signed tree."""

    def __init__(
        self, store: Store, tenant: str, cp: Checkpoint | None, public: tuple[Any, str]
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.public_key = public[0]
        self.problems: list[Problem] = []
        self.seen: list[pl.Series] = []
        self.computed: list[pl.DataFrame] = []
        self.events = 0
        self.cp = self._trusted_checkpoint(cp)
        self.size = self.cp.tree_size if self.cp else 0
        blob = store.leaf_hashes(tenant) if self.size else b""
        self.leaves = [blob[i : i + 32] for i in range(0, min(len(blob), self.size * 32), 32)]
        self.tiles_ok = (
            self.cp is not None
            and len(self.leaves) == self.size
            and root_from_leaf_hashes(self.leaves).hex() == self.cp.root_hash
        )
        if self.cp is not None and not self.tiles_ok:
            self._add(
                ProblemKind.TREE_MISMATCH,
                None,
                None,
                f"the stored Merkle tiles ({len(blob) // 32} leaves) do not reproduce the "
                f"signed root of size {self.size}; locating damage by checkpoint history",
            )
        self.expected = _leaf_hex(blob[: self.size * 32]) if self.tiles_ok else None

    def _trusted_checkpoint(self, latest: Checkpoint | None) -> Checkpoint | None:
        if latest is None:
            return None
        problem = check_signature(latest, self.public_key)
        if problem is None:
            return latest
        self.problems.append(problem)
        # fall back to the newest checkpoint that is validly signed
        for cp in reversed(self.store.checkpoints(self.tenant)):
            if check_signature(cp, self.public_key) is None:
                return cp
        return None

    def _add(
        self,
        kind: ProblemKind,
        seq: int | None,
        event_id: str | None,
        detail: str,
        column: str | None = None,
    ) -> None:
        if sum(1 for p in self.problems if p.kind == kind) < _MAX_PROBLEMS_PER_KIND:
            self.problems.append(Problem(kind, self.tenant, seq, event_id, detail, column))

    def check_chunk(self, raw: pl.DataFrame) -> pl.Series | None:
        """Check a chunk of stored rows; return the mask of records that verified."""
        computed = _computed_hex(raw)
        seqs = raw.get_column("seq")
        self.seen.append(seqs)
        self.events += raw.height
        beyond = seqs >= self.size
        ok = ~beyond
        if beyond.any():
            for s, eid in raw.filter(beyond).select("seq", "event_id").iter_rows():
                self._add(
                    ProblemKind.INSERTED,
                    s,
                    eid,
                    f"record at seq {s} is not covered by the signed tree of size "
                    f"{self.size} (forged or unsigned insert)",
                )
        if self.expected is not None:
            inside = seqs.clip(0, max(self.size - 1, 0))
            expected = self.expected.gather(inside) if self.size else computed.clear()
            mismatch = (computed != expected) & ok if self.size else ok & False
            if mismatch.any():
                bad = raw.filter(mismatch)
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
                ok = ok & ~mismatch
        else:
            self.computed.append(pl.DataFrame({"seq": seqs, "computed": computed}))
            ok = ok & False if self.cp is not None else ok
        projected = raw.select(
            (pl.col("actor").str.json_path_match("$.id").fill_null("") != pl.col("actor_id"))
            .fill_null(True)
            .alias("bad")
        ).to_series()
        if projected.any():
            for s, eid in raw.filter(projected).select("seq", "event_id").iter_rows():
                self._add(
                    ProblemKind.COLUMN_MISMATCH,
                    s,
                    eid,
                    f"column 'actor_id' at seq {s} differs from the signed actor.id",
                    column="actor_id",
                )
            ok = ok & ~projected
        return ok

    def _moved_records(self, bad: pl.DataFrame, limit: int = 200) -> dict[int, int]:
        """Which mismatching records hash correctly at another mismatching position."""
        assert self.expected is not None
        if bad.height < 2 or bad.height > limit:
            return {}
        positions = bad.select(pl.col("seq").alias("_at"))
        pairs = bad.join(positions, how="cross").filter(pl.col("seq") != pl.col("_at"))
        moved = pairs.with_columns(pl.col("seq").alias("_was"), pl.col("_at").alias("seq"))
        hashes = _computed_hex(moved.select(bad.columns))
        expected = self.expected.gather(moved.get_column("seq").clip(0, self.size - 1))
        hit = moved.filter(hashes == expected)
        return dict(
            zip(hit.get_column("_was").to_list(), hit.get_column("seq").to_list(), strict=True)
        )

    def _missing(self, ranged: bool) -> list[int]:
        if ranged:
            df = self.store._query(
                f"SELECT seq FROM events WHERE tenant_id = {self.store.backend.q(self.tenant)}"
            )
            seen = df.get_column("seq") if df.height else pl.Series("seq", [], pl.Int64)
        else:
            seen = pl.concat(self.seen) if self.seen else pl.Series("seq", [], pl.Int64)
        full = pl.int_range(0, self.size, eager=True, dtype=pl.Int64)
        return full.filter(~full.is_in(seen.implode())).to_list()

    def finish(self, *, ranged: bool = False) -> VerificationReport:
        """Report this tenant: gaps, truncation, and damage located by history."""
        missing = self._missing(ranged)
        if missing:
            top = self.size - 1
            tail_start = top + 1
            for s in reversed(missing):
                if s == tail_start - 1:
                    tail_start = s
                else:
                    break
            inner = [s for s in missing if s < tail_start]
            for s in inner[:_MAX_PROBLEMS_PER_KIND]:
                self._add(
                    ProblemKind.DELETED, s, None, f"seq {s} is in the signed tree but has no record"
                )
            if tail_start <= top:
                self._add(
                    ProblemKind.TRUNCATED,
                    tail_start,
                    None,
                    f"records {tail_start}..{top} at the end of the signed tree of size "
                    f"{self.size} are gone",
                )
        if self.cp is not None and not self.tiles_ok and not ranged:
            self._locate_by_history()
        if self.cp is None and self.events:
            self._add(
                ProblemKind.UNSIGNED,
                0,
                None,
                f"{self.events} records but no validly signed checkpoint",
            )
        status = TenantStatus(
            self.tenant,
            self.events,
            self.size,
            self.cp.root_hash if self.cp else "",
            self.cp.timestamp if self.cp else None,
            not self.problems,
        )
        return VerificationReport(problems=tuple(self.problems), tenants=(status,))

    def _locate_by_history(self) -> None:
        """With untrustworthy tiles, find the first signed checkpoint that the records
        no longer reproduce: the damage lies between it and the one before."""
        if not self.computed:
            return
        df = pl.concat(self.computed).sort("seq")
        hashes = [bytes.fromhex(h) for h in df.get_column("computed").to_list()]
        history = [
            cp
            for cp in self.store.checkpoints(self.tenant)
            if check_signature(cp, self.public_key) is None
        ]
        frontier = Frontier.empty()
        done = 0
        prev = 0
        for cp in sorted(history, key=lambda c: c.tree_size):
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


def merge_reports(
    store: Store,
    reports: Sequence[VerificationReport],
    key_source: str,
    notes: Sequence[str] = (),
) -> VerificationReport:
    """Combine per-tenant reports into one store report."""
    public, _ = store.trusted_public_key()
    return VerificationReport(
        problems=tuple(p for r in reports for p in r.problems),
        tenants=tuple(t for r in reports for t in r.tenants),
        store_id=store.store_id,
        key_id=key_fingerprint(public),
        key_source=key_source,
        checked_at=format_timestamp(datetime.now(UTC)),
        notes=tuple(notes),
    )


def _load_checkpoint_doc(checkpoint: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(checkpoint, Mapping):
        return dict(checkpoint)
    path = Path(checkpoint)
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read checkpoint file: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{path}: not a checkpoint file (invalid JSON: {exc.msg})") from exc
    if not isinstance(doc, dict) or doc.get("format") != "auditkit-checkpoints/1":
        raise UsageError(
            f"{path}: not an auditkit checkpoint file (expected format 'auditkit-checkpoints/1')"
        )
    return doc


def _check_saved(
    store: Store, doc: Mapping[str, Any], public: Any, verifiers: Mapping[str, TenantVerifier]
) -> list[Problem]:
    problems: list[Problem] = []
    history: dict[str, list[Checkpoint]] = {}
    try:
        saved = [Checkpoint.from_dict(d) for d in doc.get("checkpoints", [])]
        for d in doc.get("history", []):
            cp = Checkpoint.from_dict(d)
            history.setdefault(cp.tenant_id, []).append(cp)
    except (ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"checkpoint file: malformed checkpoint: {exc}") from exc
    for cp in saved:
        t = cp.tenant_id
        if cp.store_id != store.store_id:
            problems.append(
                Problem(
                    ProblemKind.WRONG_STORE,
                    t,
                    None,
                    None,
                    f"checkpoint is for store {cp.store_id}, this store is {store.store_id}",
                )
            )
            continue
        bad = check_signature(cp, public)
        if bad is not None:
            problems.append(
                Problem(bad.kind, t, cp.tree_size, None, f"saved checkpoint: {bad.detail}")
            )
            continue
        v = verifiers.get(t)
        own_size = v.size if v is not None else 0
        if cp.tree_size > own_size:
            rows = v.events if v is not None else 0
            kind = ProblemKind.ROLLBACK
            detail = (
                f"the store's signed tree has {own_size} records but a saved checkpoint "
                f"says {cp.tree_size}: the store was rolled back to an older state"
            )
            if rows >= cp.tree_size:
                kind = ProblemKind.TRUNCATED
                detail = (
                    f"a saved checkpoint covers {cp.tree_size} records; the store's signed "
                    f"tree stops at {own_size}"
                )
            problems.append(Problem(kind, t, own_size, None, detail))
            continue
        if v is None or not v.tiles_ok:
            continue
        root = root_from_leaf_hashes(v.leaves[: cp.tree_size]).hex()
        if root != cp.root_hash:
            first = 0
            for old in sorted(history.get(t, []), key=lambda c: c.tree_size):
                if (
                    old.tree_size <= cp.tree_size
                    and check_signature(old, public) is None
                    and root_from_leaf_hashes(v.leaves[: old.tree_size]).hex() == old.root_hash
                ):
                    first = old.tree_size
            problems.append(
                Problem(
                    ProblemKind.FORK,
                    t,
                    first,
                    None,
                    f"the store's first {cp.tree_size} records do not hash to the "
                    f"saved checkpoint's root: history diverges at or after seq "
                    f"{first}",
                )
            )
    return problems


def verify_store(
    store: Store,
    tenant: str | Sequence[str] | None = None,
    *,
    checkpoint: str | Path | Mapping[str, Any] | None = None,
    public_key: Any | None = None,
    collect: list[pl.DataFrame] | None = None,
    keep: pl.Expr | None = None,
) -> VerificationReport:
    """Verify every record, column and checkpoint of a store (see :meth:`Store.verify`).

    With ``collect``, the event frames of the records that verified (and match
    ``keep``, an expression on the frame) are appended to it in the same pass.
    """
    from auditkit.integrity import load_public_key

    if public_key is not None:
        public = (
            load_public_key(public_key)
            if isinstance(public_key, str | bytes | Path)
            else public_key,
            "given public key",
        )
    else:
        public = store.trusted_public_key()
    doc = _load_checkpoint_doc(checkpoint) if checkpoint is not None else None
    wanted = store._resolve_tenants(tenant) if tenant is not None else None
    all_tenants = sorted(
        set(store.tenants())
        | set(
            store._query("SELECT DISTINCT tenant_id FROM events").get_column("tenant_id").to_list()
            if store.count()
            else []
        )
    )
    if doc is not None:
        all_tenants = sorted(
            set(all_tenants)
            | {d.get("tenant_id") for d in doc.get("checkpoints", []) if d.get("tenant_id")}
        )
    tenants = wanted if wanted is not None else all_tenants
    latest = store.latest_checkpoints()
    reports: list[VerificationReport] = []
    verifiers: dict[str, TenantVerifier] = {}
    extra: list[Problem] = []
    for t in tenants:
        v = TenantVerifier(store, t, latest.get(t), public)
        verifiers[t] = v
        for cp in store.checkpoints(t):
            bad = check_signature(cp, public[0])
            if bad is not None and bad not in v.problems:
                v.problems.append(bad)
        for tenant_id, row_id, why in store.malformed_checkpoints:
            v._add(
                ProblemKind.BAD_SIGNATURE,
                None,
                None,
                f"checkpoint row {row_id} of tenant {tenant_id!r} is malformed: {why}",
            )
        for raw in store._event_chunks(t, v.size, ""):
            ok = v.check_chunk(raw)
            if collect is not None:
                frame = frame_from_rows(raw.filter(ok) if ok is not None else raw)
                collect.append((frame.filter(keep) if keep is not None else frame).collect())
        if v.tiles_ok and v.cp is not None:
            _check_history(store, v, public[0])
            _check_tree_head(store, v)
        reports.append(v.finish())
    if doc is not None:
        extra = _check_saved(store, doc, public[0], verifiers)
    report = merge_reports(store, reports, public[1])
    if extra:
        report = VerificationReport(
            problems=report.problems + tuple(extra),
            tenants=report.tenants,
            store_id=report.store_id,
            key_id=report.key_id,
            key_source=report.key_source,
            checked_at=report.checked_at,
            notes=report.notes,
        )
    return report


def _check_history(store: Store, v: TenantVerifier, public: Any) -> None:
    """Every validly signed checkpoint must be a prefix root of the current tree."""
    frontier = Frontier.empty()
    done = 0
    for cp in sorted(store.checkpoints(v.tenant), key=lambda c: c.tree_size):
        if check_signature(cp, public) is not None or cp.tree_size > v.size:
            continue
        if cp.tree_size > done:
            frontier = frontier.extend(v.leaves[done : cp.tree_size])
            done = cp.tree_size
        if frontier.root().hex() != cp.root_hash:
            v._add(
                ProblemKind.FORK,
                cp.tree_size,
                None,
                f"the store signed a different history: its checkpoint at size "
                f"{cp.tree_size} is not a prefix of the current tree",
            )
            return


def _check_tree_head(store: Store, v: TenantVerifier) -> None:
    df = store._query(
        f"SELECT size, root_hash FROM tree_heads WHERE tenant_id = {store.backend.q(v.tenant)}"
    )
    if not df.height:
        v._add(ProblemKind.TREE_MISMATCH, None, None, "the tenant's tree head row is missing")
        return
    size, root = df.row(0)
    if int(size) != v.size or root != (v.cp.root_hash if v.cp else ""):
        v._add(
            ProblemKind.TREE_MISMATCH,
            int(size),
            None,
            f"the tree head says size {size}, the newest signed checkpoint {v.size}",
        )
