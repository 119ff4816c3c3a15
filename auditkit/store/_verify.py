"""Verification of a store: records against the signed Merkle tree, SQL columns
against the hashed bytes, checkpoints against the trusted key, and the store
against checkpoints saved outside it.

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
from auditkit.integrity import (
    Checkpoint,
    Frontier,
    key_fingerprint,
    root_from_leaf_hashes,
    verify_checkpoint,
)
from auditkit.schema import format_timestamp
from auditkit.verification import Problem, ProblemKind, TenantStatus, VerificationReport

if TYPE_CHECKING:
    from auditkit.store.store import Store

__all__ = ["TenantVerifier", "merge_reports", "verify_store"]

_NESTED = ("actor", "targets", "source", "observer", "changes", "metadata")
_SCALARS = ("event_id", "action", "category", "outcome", "request_id", "session_id",
            "description")
_MAX_PROBLEMS_PER_KIND = 1000


def _leaf_hex(blob: bytes) -> pl.Series:
    n = len(blob) // 32
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), n, [None, pa.py_buffer(blob)])
    return pl.Series("expected", arr.cast(pa.binary())).bin.encode("hex")


def _computed_hex(raw: pl.DataFrame) -> pl.Series:
    return raw.select(
        pl.concat_str(pl.lit("\x00"), pl.col("canonical")).chash.sha2_256().alias("computed")
    ).to_series()


def check_signature(cp: Checkpoint, public_key: Any) -> Problem | None:
    """A problem if ``cp`` is not validly signed by ``public_key``."""
    expected = key_fingerprint(public_key)
    if not expected.startswith(cp.key_id) and cp.key_id != expected:
        return Problem(ProblemKind.WRONG_KEY, cp.tenant_id, cp.tree_size, None,
                       f"checkpoint of size {cp.tree_size} is signed by key {cp.key_id[:16]}, "
                       f"expected {expected[:16]}")
    try:
        verify_checkpoint(cp, public_key)
    except ValueError as exc:
        kind = ProblemKind.WRONG_KEY if "different key" in str(exc) else ProblemKind.BAD_SIGNATURE
        return Problem(kind, cp.tenant_id, cp.tree_size, None,
                       f"checkpoint of size {cp.tree_size}: {exc}")
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
            self._add(ProblemKind.TREE_MISMATCH, None, None,
                      f"the stored Merkle tiles ({len(blob) // 32} leaves) do not reproduce the "
                      f"signed root of size {self.size}; locating damage by checkpoint history")
        self.expected = _leaf_hex(b"".join(self.leaves)) if self.tiles_ok else None
        self._leaf_set: set[str] | None = None

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

    def _add(self, kind: ProblemKind, seq: int | None, event_id: str | None, detail: str,
             column: str | None = None) -> None:
        if sum(1 for p in self.problems if p.kind == kind) < _MAX_PROBLEMS_PER_KIND:
            self.problems.append(Problem(kind, self.tenant, seq, event_id, detail, column))

    def check_chunk(self, raw: pl.DataFrame) -> pl.Series | None:
        """Check a chunk (``seq``, ``canonical``); return the mask of records that verified."""
        computed = _computed_hex(raw)
        seqs = raw.get_column("seq")
        self.seen.append(seqs)
        self.events += raw.height
        beyond = seqs >= self.size
        ok = ~beyond
        if beyond.any():
            for s, canon in raw.filter(beyond).select("seq", "canonical").iter_rows():
                self._add(ProblemKind.INSERTED, s, _event_id(canon),
                          f"record at seq {s} is not covered by the signed tree of size "
                          f"{self.size} (forged or unsigned insert)")
        if self.expected is not None:
            inside = seqs.clip(0, max(self.size - 1, 0))
            expected = self.expected.gather(inside) if self.size else computed.clear()
            mismatch = (computed != expected) & ok if self.size else ok & False
            if mismatch.any():
                if self._leaf_set is None:
                    self._leaf_set = set(self.expected.to_list())
                bad = raw.with_columns(computed=computed).filter(mismatch)
                for s, canon, h in bad.select("seq", "canonical", "computed").iter_rows():
                    if h in self._leaf_set:
                        where = self.expected.index_of(h)
                        self._add(ProblemKind.REORDERED, s, _event_id(canon),
                                  f"record at seq {s} is the one signed at seq {where}")
                    else:
                        self._add(ProblemKind.MODIFIED, s, _event_id(canon),
                                  f"record bytes at seq {s} do not match the signed leaf hash")
                ok = ok & ~mismatch
        else:
            self.computed.append(pl.DataFrame({"seq": seqs, "computed": computed}))
            ok = ok & False if self.cp is not None else ok
        return ok

    def _missing(self, ranged: bool) -> list[int]:
        if ranged:
            df = self.store._query(
                f"SELECT seq FROM events WHERE tenant_id = {self.store.backend.q(self.tenant)}")
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
                self._add(ProblemKind.DELETED, s, None,
                          f"seq {s} is in the signed tree but has no record")
            if tail_start <= top:
                self._add(ProblemKind.TRUNCATED, tail_start, None,
                          f"records {tail_start}..{top} at the end of the signed tree of size "
                          f"{self.size} are gone")
        if self.cp is not None and not self.tiles_ok and not ranged:
            self._locate_by_history()
        if self.cp is None and self.events:
            self._add(ProblemKind.UNSIGNED, 0, None,
                      f"{self.events} records but no validly signed checkpoint")
        status = TenantStatus(
            self.tenant, self.events, self.size, self.cp.root_hash if self.cp else "",
            self.cp.timestamp if self.cp else None, not self.problems,
        )
        return VerificationReport(problems=tuple(self.problems), tenants=(status,))

    def _locate_by_history(self) -> None:
        """With untrustworthy tiles, find the first signed checkpoint that the records
        no longer reproduce: the damage lies between it and the one before."""
        if not self.computed:
            return
        df = pl.concat(self.computed).sort("seq")
        hashes = [bytes.fromhex(h) for h in df.get_column("computed").to_list()]
        seqs = df.get_column("seq").to_list()
        history = [cp for cp in self.store.checkpoints(self.tenant)
                   if check_signature(cp, self.public_key) is None]
        frontier = Frontier.empty()
        done = 0
        prev = 0
        for cp in sorted(history, key=lambda c: c.tree_size):
            n = min(cp.tree_size, len(hashes))
            if n > done:
                frontier = frontier.extend(hashes[done:n])
                done = n
            if cp.tree_size > len(hashes) or frontier.root().hex() != cp.root_hash:
                first = prev
                eid = None
                if first < len(seqs) and seqs[first] == first:
                    eid = None
                self._add(ProblemKind.MODIFIED, first, eid,
                          f"records between seq {prev} and {cp.tree_size - 1} no longer "
                          f"reproduce the checkpoint signed at size {cp.tree_size}")
                return
            prev = cp.tree_size


def _event_id(canonical: str) -> str | None:
    try:
        value = orjson.loads(canonical)
    except orjson.JSONDecodeError:
        return None
    return value.get("event_id") if isinstance(value, dict) else None


def merge_reports(
    store: Store, reports: Sequence[VerificationReport], key_source: str,
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


def _column_query(store: Store, tenant: str, lo: int, hi: int) -> str:
    b = store.backend
    if b.dialect == "sqlite":
        ts = "occurred_at AS occurred_at_sql, received_at AS received_at_sql"
    else:
        fmt = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"
        ts = (f"to_char(occurred_at AT TIME ZONE 'UTC', {fmt}) AS occurred_at_sql, "
              f"to_char(received_at AT TIME ZONE 'UTC', {fmt}) AS received_at_sql")
    cols = ", ".join(
        f"COALESCE({'metadata' if c == 'metadata' else c}, '') AS {c}_sql"
        for c in (*_SCALARS, "actor_id", *_NESTED)
    )
    return (f"SELECT seq, tenant_id AS tenant_sql, {ts}, {cols}, canonical FROM events "
            f"WHERE tenant_id = {b.q(tenant)} AND seq >= {lo} AND seq < {hi} ORDER BY seq")


def _check_columns(checker: TenantVerifier, raw: pl.DataFrame) -> None:
    c = pl.col("canonical")

    def canon(path: str) -> pl.Expr:
        return c.str.json_path_match(path).fill_null("")

    checks: list[tuple[str, pl.Expr]] = [
        ("tenant_id", pl.col("tenant_sql") != canon("$.tenant_id")),
        ("occurred_at", pl.col("occurred_at_sql") != canon("$.occurred_at")),
        ("received_at", pl.col("received_at_sql") != canon("$.received_at")),
        ("actor_id", pl.col("actor_id_sql") != canon("$.actor.id")),
    ]
    checks += [(s, pl.col(f"{s}_sql") != canon(f"$.{s}")) for s in _SCALARS]
    checks += [
        (n, pl.col(f"{n}_sql").replace("", None).str.json_path_match("$").fill_null("")
         != canon(f"$.{n}"))
        for n in _NESTED
    ]
    flags = raw.select(
        "seq", pl.col("canonical"), *[expr.alias(f"bad_{name}") for name, expr in checks]
    )
    for name, _ in checks:
        bad = flags.filter(pl.col(f"bad_{name}"))
        for s, canonical in bad.select("seq", "canonical").head(_MAX_PROBLEMS_PER_KIND).iter_rows():
            checker._add(ProblemKind.COLUMN_MISMATCH, s, _event_id(canonical),
                         f"SQL column '{name}' at seq {s} differs from the record's hashed bytes",
                         column=name)


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
        raise UsageError(f"{path}: not an auditkit checkpoint file "
                         "(expected format 'auditkit-checkpoints/1')")
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
            problems.append(Problem(ProblemKind.WRONG_STORE, t, None, None,
                                    f"checkpoint is for store {cp.store_id}, this store is "
                                    f"{store.store_id}"))
            continue
        bad = check_signature(cp, public)
        if bad is not None:
            problems.append(Problem(bad.kind, t, cp.tree_size, None,
                                    f"saved checkpoint: {bad.detail}"))
            continue
        v = verifiers.get(t)
        own_size = v.size if v is not None else 0
        if cp.tree_size > own_size:
            rows = v.events if v is not None else 0
            kind = ProblemKind.ROLLBACK
            detail = (f"the store's signed tree has {own_size} records but a saved checkpoint "
                      f"says {cp.tree_size}: the store was rolled back to an older state")
            if rows >= cp.tree_size:
                kind = ProblemKind.TRUNCATED
                detail = (f"a saved checkpoint covers {cp.tree_size} records; the store's signed "
                          f"tree stops at {own_size}")
            problems.append(Problem(kind, t, own_size, None, detail))
            continue
        if v is None or not v.tiles_ok:
            continue
        root = root_from_leaf_hashes(v.leaves[: cp.tree_size]).hex()
        if root != cp.root_hash:
            first = 0
            for old in sorted(history.get(t, []), key=lambda c: c.tree_size):
                if old.tree_size <= cp.tree_size and check_signature(old, public) is None and \
                        root_from_leaf_hashes(v.leaves[: old.tree_size]).hex() == old.root_hash:
                    first = old.tree_size
            problems.append(Problem(ProblemKind.FORK, t, first, None,
                                    f"the store's first {cp.tree_size} records do not hash to the "
                                    f"saved checkpoint's root: history diverges at or after seq "
                                    f"{first}"))
    return problems


def verify_store(
    store: Store,
    tenant: str | Sequence[str] | None = None,
    *,
    checkpoint: str | Path | Mapping[str, Any] | None = None,
    public_key: Any | None = None,
    columns: bool = True,
) -> VerificationReport:
    """Verify every record, column and checkpoint of a store (see :meth:`Store.verify`)."""
    from auditkit.integrity import load_public_key

    if public_key is not None:
        public = (load_public_key(public_key) if isinstance(public_key, str | bytes | Path)
                  else public_key, "given public key")
    else:
        public = store.trusted_public_key()
    doc = _load_checkpoint_doc(checkpoint) if checkpoint is not None else None
    wanted = store._resolve_tenants(tenant) if tenant is not None else None
    all_tenants = sorted(set(store.tenants()) | set(
        store._query("SELECT DISTINCT tenant_id FROM events").get_column("tenant_id").to_list()
        if store.count() else []))
    if doc is not None:
        all_tenants = sorted(set(all_tenants) | {d.get("tenant_id") for d in
                                                 doc.get("checkpoints", []) if d.get("tenant_id")})
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
        chunk = 250_000
        top = store._query(
            f"SELECT MAX(seq) AS m FROM events WHERE tenant_id = {store.backend.q(t)}").item()
        last = max(v.size, int(top) + 1 if top is not None else 0)
        for lo in range(0, last, chunk):
            raw = store._query(_column_query(store, t, lo, lo + chunk))
            if not raw.height:
                continue
            v.check_chunk(raw.select("seq", "canonical"))
            if columns:
                _check_columns(v, raw)
        if v.tiles_ok and v.cp is not None:
            _check_history(store, v, public[0])
            _check_tree_head(store, v)
        reports.append(v.finish())
    if doc is not None:
        extra = _check_saved(store, doc, public[0], verifiers)
    report = merge_reports(store, reports, public[1])
    if extra:
        report = VerificationReport(
            problems=report.problems + tuple(extra), tenants=report.tenants,
            store_id=report.store_id, key_id=report.key_id, key_source=report.key_source,
            checked_at=report.checked_at, notes=report.notes,
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
            v._add(ProblemKind.FORK, cp.tree_size, None,
                   f"the store signed a different history: its checkpoint at size "
                   f"{cp.tree_size} is not a prefix of the current tree")
            return


def _check_tree_head(store: Store, v: TenantVerifier) -> None:
    df = store._query(
        f"SELECT size, root_hash FROM tree_heads WHERE tenant_id = {store.backend.q(v.tenant)}")
    if not df.height:
        v._add(ProblemKind.TREE_MISMATCH, None, None, "the tenant's tree head row is missing")
        return
    size, root = df.row(0)
    if int(size) != v.size or root != (v.cp.root_hash if v.cp else ""):
        v._add(ProblemKind.TREE_MISMATCH, int(size), None,
               f"the tree head says size {size}, the newest signed checkpoint {v.size}")
