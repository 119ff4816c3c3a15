"""Applying retention: sealing old hot events into cold segments and purging
events past their keep period, in an order that a crash at any step cannot hurt.

A seal of ``[first, end)`` of a tenant:

1. read the hot rows, check each against the authenticated tree (a tampered row is
   never sealed: the seal stops and names it);
2. write the segment file and its signed manifest (temporary name, fsync, rename,
   fsync the folder; one PUT on object storage);
3. read both back and check them: the file's SHA-256, the manifest's signature,
   every row's leaf hash against the tree;
4. in one database transaction: sign and record the seal statement (naming the
   file and both hashes) and delete the hot rows, the only path past the trigger
   that refuses deletes (:meth:`Store.remove_range`).

A crash before 4 leaves the rows hot and a segment no statement names: the next
``apply`` removes it (it is signed by the store key and its range is still hot)
and seals again.  A crash inside 4 rolls back.  Nothing is lost, nothing doubled.

A purge of ``[first, end)``: one transaction signs the purge statement (with the
policy in force and the newest ``occurred_at`` purged) and deletes the hot rows in
the range; then the segment files in the range are removed.  A crash between the
two leaves files that the next ``apply`` removes (verification notes them).

What it trusts: the key file (it signs) and the authenticated tree; policy rows
are the operator's settings, and verification checks purges against the signed
``audit_retention.update`` events, not against them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import polars as pl

from auditkit.errors import IntegrityError, StoreError, UsageError
from auditkit.integrity import RangeStatement, public_key_pem
from auditkit.schema import format_timestamp
from auditkit.store._cold import (
    SEGMENT_ROWS,
    ColdTier,
    SegmentRef,
    check_manifest,
    decode_segment,
    encode_segment,
    manifest_path,
    segment_path,
    segment_range,
    sha256_hex,
    sign_manifest,
    stored_text_rows,
    subtree_roots,
)
from auditkit.store._policy_seal import policy_seal
from auditkit.store._reader import Filter
from auditkit.store._tables import RetentionPolicyRow
from auditkit.store._verify import TenantVerifier
from auditkit.store.retention import DEFAULT_TENANT, RetentionPolicy, TenantApply

if TYPE_CHECKING:
    from auditkit.store.store import Store

__all__ = ["apply_tenant", "policy_event", "read_policies", "write_policy"]

#: Crash points of the tests (``AUDITKIT_RETENTION_FAIL=<step>``): a failure injected
#: there raises, as a crash would stop the process.
_STEPS = ("seal:written", "seal:checked", "seal:recorded", "purge:recorded")


def _crash_point(step: str) -> None:
    want = os.environ.get("AUDITKIT_RETENTION_FAIL")
    if want == step:
        if os.environ.get("AUDITKIT_RETENTION_KILL"):
            os.kill(os.getpid(), 9)
        raise RuntimeError(f"injected failure at {step}")


# -- policies -----------------------------------------------------------------------------
def read_policies(store: Store) -> dict[str, RetentionPolicy]:
    """Every policy row, by tenant (``*``: the store default)."""
    store.backend.ensure_table(RetentionPolicyRow.__table__)  # type: ignore[attr-defined]
    rows = store._reader._fetch(
        "SELECT tenant_id, hot_days, keep_days, legal_hold, hold_reason, updated_at, "
        "updated_by FROM retention_policies"
    )
    out = {}
    for t, hot, keep, hold, reason, at, by in rows:
        out[str(t)] = RetentionPolicy(
            str(t), None if hot is None else int(hot), None if keep is None else int(keep),
            bool(hold), reason, at, by,
        )  # fmt: skip
    return out


def write_policy(store: Store, policy: RetentionPolicy) -> None:
    """Replace a policy row."""
    backend = store.backend
    backend.ensure_table(RetentionPolicyRow.__table__)  # type: ignore[attr-defined]
    ph = backend.ph
    with backend.connect() as conn, backend.write_transaction(conn) as cur:
        cur.execute(f"DELETE FROM retention_policies WHERE tenant_id = {ph}", (policy.tenant_id,))
        cur.execute(
            "INSERT INTO retention_policies (tenant_id, hot_days, keep_days, legal_hold, "
            f"hold_reason, updated_at, updated_by) VALUES ({', '.join([ph] * 7)})",
            (policy.tenant_id, policy.hot_days, policy.keep_days, int(policy.legal_hold),
             policy.hold_reason, policy.updated_at, policy.updated_by),
        )  # fmt: skip


def policy_event(
    tenant: str,
    actor: dict[str, Any],
    old: RetentionPolicy,
    new: RetentionPolicy,
    *,
    default: bool = False,
    seal: tuple[Any, str] | None = None,
) -> dict[str, Any]:
    """The ``audit_retention.update`` event recording a change of ``tenant``'s policy
    (``default``: a change of the store default, which the tenant inherits).

    ``seal``: the store's private key and id, which seal the record as auditkit's own
    (:mod:`auditkit.store._policy_seal`); without it the record vouches for nothing."""
    scope = "store default" if default or new.tenant_id == DEFAULT_TENANT else "tenant"
    metadata: dict[str, Any] = {"scope": scope, "old": old.values(), "new": new.values()}
    if seal is not None and new.updated_at is not None:
        key, store_id = seal
        metadata["at"] = new.updated_at
        metadata["seal"] = policy_seal(key, store_id, tenant, scope, new.values(), new.updated_at)
    return {
        "tenant_id": tenant,
        "occurred_at": new.updated_at,
        "action": "audit_retention.update",
        "category": "admin",
        "outcome": "success",
        "actor": actor,
        # auditkit's own record, complete as a source's must be (a report's field checks)
        "observer": {"service": "auditkit"},
        "targets": [{"id": tenant, "type": "tenant"}],
        "description": f"{actor.get('id')} changed the retention policy ({scope}) from "
        f"'{old.describe()}' to '{new.describe()}'",
        "metadata": metadata,
    }


# -- applying -----------------------------------------------------------------------------
def _authenticated(store: Store, tenant: str) -> TenantVerifier:
    """The tenant's tree, authenticated against its newest checkpoint signed by the key."""
    trust = store.trust()
    reader = store._reader
    v = TenantVerifier(  # a tree a load or verify just authenticated is taken from the cache
        reader.snapshot(tenant, tiles=False), trust, tiles=partial(reader.tiles, tenant),
        store_id=store.store_id,
    )  # fmt: skip
    if v.cp is None or not v.tiles_ok or v.problems:
        raise IntegrityError(
            f"tenant {tenant!r}: its signed tree does not check out "
            f"({v.problems[0].detail if v.problems else 'no signed checkpoint'}); nothing was "
            "sealed or purged. Run `auditkit verify`"
        )
    return v


def _mine(sts: list[RangeStatement], v: TenantVerifier) -> list[RangeStatement]:
    return [s for s in sts if v._statement_problem(s) is None]


def _first_young(store: Store, tenant: str, lo: int, hi: int, cutoff: datetime) -> int:
    """The first seq in ``[lo, hi)`` whose event occurred at or after ``cutoff`` (else ``hi``)."""
    if lo >= hi:
        return lo
    ph = "?"
    cast = "?" if store.backend.dialect == "sqlite" else "CAST(? AS timestamptz)"
    rows = store._reader._fetch(
        f"SELECT MIN(seq) FROM events WHERE tenant_id = {ph} AND seq >= {ph} AND seq < {ph} "
        f"AND occurred_at >= {cast}",
        (tenant, lo, hi, format_timestamp(cutoff)),
    )
    found = rows[0][0] if rows else None
    return hi if found is None else int(found)


def _newest(store: Store, tenant: str, lo: int, hi: int) -> str | None:
    rows = store._reader._fetch(
        "SELECT MAX(occurred_at) FROM events WHERE tenant_id = ? AND seq >= ? AND seq < ?",
        (tenant, lo, hi),
    )
    value = rows[0][0] if rows else None
    if value is None:
        return None
    return value if isinstance(value, str) else format_timestamp(value)


def _segments(
    seals: list[RangeStatement], purged_end: int
) -> list[tuple[RangeStatement, SegmentRef]]:
    out = []
    for st in sorted(seals, key=lambda s: s.first_seq):
        ref = SegmentRef.parse(st.detail)
        if ref is not None and st.end_seq > purged_end:
            out.append((st, ref))
    return out


def apply_tenant(
    store: Store,
    tenant: str,
    policy: RetentionPolicy,
    *,
    now: datetime,
    dry_run: bool,
    cold: ColdTier | None,
    progress: Callable[[int], None] | None = None,
) -> TenantApply:
    """Seal and purge one tenant as its policy says (see the module docstring)."""
    result = TenantApply(tenant, policy)
    if policy.hot_days is None and policy.keep_days is None:
        return result
    v = _authenticated(store, tenant)
    seals = _mine([s for s in v.snap.statements if s.kind == "seal"], v)
    purges = _mine([s for s in v.snap.statements if s.kind == "purge"], v)
    purged_end = max([0, *(s.end_seq for s in purges)])
    gone_end = max([purged_end, *(s.end_seq for s in seals)])
    if cold is not None and not dry_run:
        result = replace(result, recovered=tuple(_recover(store, v, cold, seals, purges)))
    size = v.size
    # a dry run's segments, as they would be written: (end seq, newest time)
    planned: list[tuple[int, str | None]] = []
    # -- seal ---------------------------------------------------------------------------------
    if policy.hot_days is not None:
        cutoff = now - timedelta(days=policy.hot_days)
        end = _first_young(store, tenant, gone_end, size, cutoff)
        if policy.keep_days is not None and policy.keep_days <= policy.hot_days:
            end = gone_end  # whatever would be sealed is past the keep period: purged instead
        if end > gone_end:
            if cold is None and not dry_run:
                raise UsageError(
                    f"{store.location}: this store has no cold tier; name one at init "
                    "(`auditkit init STORE --cold URL`)"
                )
            sealed, segments = _seal(store, v, cold, gone_end, end, dry_run, progress, planned)  # type: ignore[arg-type]
            result = replace(result, sealed=sealed, segments=segments)
            if not dry_run:
                seals = _mine(
                    [s for s in store._reader.snapshot(tenant, tiles=False).statements
                     if s.kind == "seal"], v,
                )  # fmt: skip
            gone_end = max(gone_end, end)  # a dry run as if sealed: the purge counts alike
    # -- purge --------------------------------------------------------------------------------
    if policy.keep_days is not None:
        cutoff = now - timedelta(days=policy.keep_days)
        segs: list[tuple[int, str | None, SegmentRef | None]] = [
            (st.end_seq, ref.hi, ref) for st, ref in _segments(seals, purged_end)
        ]
        segs += [(seg_end, hi, None) for seg_end, hi in planned]
        end = purged_end
        newest: str | None = None
        gone_segs: list[SegmentRef] = []
        all_old = True
        for seg_end, hi, ref in segs:
            if hi is not None and hi < format_timestamp(cutoff):
                end = seg_end
                newest = max(newest or "", hi)
                if ref is not None:
                    gone_segs.append(ref)
            else:
                all_old = False
                break
        in_sealed = end - purged_end
        if all_old:
            hot_lo = max(end, gone_end)
            hot_end = _first_young(store, tenant, hot_lo, size, cutoff)
            if hot_end > hot_lo:
                hot_newest = _newest(store, tenant, hot_lo, hot_end)
                newest = max(newest or "", hot_newest or "") or None
                end = hot_end
        if end > purged_end:
            if policy.legal_hold:
                return replace(
                    result,
                    blocked=f"legal hold ({policy.hold_reason}): {end - purged_end} event(s) "
                    "past the keep period were not purged",
                )
            count = end - purged_end
            if not dry_run:
                detail = orjson.dumps(
                    {"policy": policy.values() | {"tenant": policy.tenant_id},
                     "newest": newest, "segments": len(gone_segs), "sealed_events": in_sealed},
                    option=orjson.OPT_SORT_KEYS,
                ).decode()  # fmt: skip
                store.remove_range(tenant, end, kind="purge", detail=detail, first_seq=purged_end)
                _crash_point("purge:recorded")
                if cold is not None:
                    for ref in gone_segs:
                        cold.delete(ref.path)
                        cold.delete(manifest_path(ref.path))
            gone = len(gone_segs) + sum(
                1 for seg_end, _, ref in segs if ref is None and seg_end <= end
            )
            result = replace(result, purged=count, segments_purged=gone)
    return result


def _recover(
    store: Store,
    v: TenantVerifier,
    cold: ColdTier,
    seals: list[RangeStatement],
    purges: list[RangeStatement],
) -> list[str]:
    """Finish what a crash interrupted: remove half-written files, segments no
    statement names whose range is still hot, and segments a purge covers."""
    done = []
    swept = cold.sweep_temporary(v.tenant)
    if swept:
        done.append(f"removed {swept} half-written file(s)")
    named = {ref.path for s in seals if (ref := SegmentRef.parse(s.detail)) is not None}
    purged_end = max([0, *(s.end_seq for s in purges)])
    gone_end = max([purged_end, *(s.end_seq for s in seals)])
    files = cold.files(v.tenant)
    for rel in files:
        twin = rel.removesuffix(".manifest.json") + ".parquet"
        if rel.endswith(".manifest.json") and twin not in files:
            rng = segment_range(twin)
            if rng is not None and (rng[0] >= gone_end or rng[1] <= purged_end):
                cold.delete(rel)  # written just before a crash, or left by a purge
                done.append(f"removed manifest {rel} without its segment")
            continue
        rng = segment_range(rel)
        if rng is None:
            continue
        first, end = rng
        if rel in named and end <= purged_end:
            cold.delete(rel)
            cold.delete(manifest_path(rel))
            done.append(f"removed purged segment {rel}")
        elif rel not in named and first >= gone_end and _signed_by_us(store, cold, rel, v):
            cold.delete(rel)
            cold.delete(manifest_path(rel))
            done.append(f"removed unfinished segment {rel} (its events are still hot)")
    return done


def _signed_by_us(store: Store, cold: ColdTier, rel: str, v: TenantVerifier) -> bool:
    data = cold.get(manifest_path(rel))
    if data is None:
        return False  # every segment auditkit writes has its manifest written first
    try:
        fields = check_manifest(data, v.public_key)
    except ValueError:
        return False
    return bool(fields.get("store_id") == store.store_id and fields.get("tenant_id") == v.tenant)


def _seal(
    store: Store,
    v: TenantVerifier,
    cold: ColdTier,
    lo: int,
    hi: int,
    dry_run: bool,
    progress: Callable[[int], None] | None,
    planned: list[tuple[int, str | None]] | None = None,
) -> tuple[int, int]:
    """Seal ``[lo, hi)`` into segments of one received month and at most SEGMENT_ROWS.
    A dry run writes nothing and adds to ``planned`` each segment it would write, as
    (its end seq, its newest time): what a purge then removes whole."""
    tenant = v.tenant
    sealed = segments = 0
    # Three things overlap: the next hot rows are read ahead in threads (as loads do),
    # this segment is written and checked, and the previous one is recorded (its
    # statement signed and its hot rows deleted) in a thread of its own.  Records stay
    # in order and each follows its own checked write, so a crash anywhere is as safe
    # as in a plain loop: at worst a checked segment is left unrecorded.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="auditkit-seal") as recorder:
        pending: Future[None] | None = None
        for part, month, first, end in _parts(store, tenant, lo, hi):
            if not dry_run:
                ref = _write_segment(store, v, cold, part, month, first, end)
                if pending is not None:
                    pending.result()  # the previous record is committed (or raises)
                pending = recorder.submit(_record, store, tenant, ref, first, end)
            else:  # checked as a written segment would be: a dry run promises no more
                _check_rows(v, decode_segment(encode_segment(part)))
                newest = part.get_column("occurred_at").max()
                if planned is not None:
                    planned.append((end, None if newest is None else str(newest)))
            sealed += end - first
            segments += 1
            if progress is not None:
                progress(end - first)
        if pending is not None:
            pending.result()
    return sealed, segments


def _parts(
    store: Store, tenant: str, lo: int, hi: int
) -> Iterator[tuple[pl.DataFrame, str, int, int]]:
    """The hot rows of ``[lo, hi)`` in segments: one received month, at most
    SEGMENT_ROWS rows; ``(rows, month, first, end)``."""
    expected = lo
    carry = 0
    for raw in store._reader.chunks(tenant, hi, Filter("seq >= ?", (lo,)), chunk=SEGMENT_ROWS):
        seqs = raw.get_column("seq")
        start, stop = int(seqs[0]), int(seqs[-1]) + 1
        if start != expected or raw.height != stop - start:
            raise IntegrityError(
                f"tenant {tenant!r}: seq {expected}..{stop - 1} should hold {stop - expected} "
                f"hot records, found {raw.height}; nothing more was sealed. Run `auditkit verify`"
            )
        expected = stop
        rows = stored_text_rows(raw.drop("_typed", strict=False))
        if "_typed" in raw.columns and not raw.get_column("_typed").all():
            raise IntegrityError(
                f"tenant {tenant!r}: refusing to seal records of the wrong SQL type "
                f"(seq {start}..{stop - 1}); run `auditkit verify`"
            )
        del raw
        # the month of the newest event so far in seq order: it only grows, so a month is
        # a run of seqs (an event that arrived late joins the month it arrived in)
        ym = pl.col("occurred_at").str.slice(0, 4).cast(pl.Int32) * 100 + pl.col(
            "occurred_at"
        ).str.slice(5, 2).cast(pl.Int32)
        runs = rows.with_columns(pl.max_horizontal(ym.cum_max(), pl.lit(carry)).alias("_m"))
        runs = runs.with_columns(
            (pl.col("_m") != pl.col("_m").shift(1)).fill_null(True).cum_sum().alias("_run")
        )
        carry = int(runs.get_column("_m")[-1])
        for part in runs.partition_by("_run", maintain_order=True):
            first = int(part.get_column("seq")[0])
            end = int(part.get_column("seq")[-1]) + 1
            m = int(part["_m"][0])
            yield part.drop("_m", "_run"), f"{m // 100:04d}-{m % 100:02d}", first, end
    if expected != hi and hi > lo:
        raise IntegrityError(
            f"tenant {tenant!r}: seq {expected}..{hi - 1} have no hot record; nothing more "
            "was sealed. Run `auditkit verify`"
        )


def _write_segment(
    store: Store,
    v: TenantVerifier,
    cold: ColdTier,
    rows: pl.DataFrame,
    month: str,
    first: int,
    end: int,
) -> SegmentRef:
    """Write a segment and its signed manifest, read them back and check them."""
    tenant = v.tenant
    rel = segment_path(tenant, month, first, end)
    data = encode_segment(rows)
    assert v.cp is not None
    fields = {
        "format": "auditkit-segment/1",
        "store_id": store.store_id,
        "tenant_id": tenant,
        "first_seq": first,
        "last_seq": end - 1,
        "end_seq": end,
        "rows": rows.height,
        "file": rel.rsplit("/", 1)[-1],
        "sha256": sha256_hex(data),
        "bytes": len(data),
        "occurred_min": rows.get_column("occurred_at").min(),
        "occurred_max": rows.get_column("occurred_at").max(),
        "tree_size": v.size,
        "root_hash": v.cp.root_hash,
        "subtree_roots": subtree_roots(v.levels, first, end),
        "sealed_at": format_timestamp(datetime.now(UTC)),
        "public_key": public_key_pem(v.public_key),
    }
    manifest = sign_manifest(store.private_key, fields).to_bytes()
    # the manifest first: a segment file is never without its signed manifest, so a
    # crash between the two leaves nothing that a Parquet reader would take for data
    cold.put(manifest_path(rel), manifest)
    cold.put(rel, data)
    _crash_point("seal:written")
    try:
        _check_written(v, cold, rel, data, manifest, first, end)
    except BaseException:
        cold.delete(rel)  # never leave a segment that did not check out
        cold.delete(manifest_path(rel))
        raise
    _crash_point("seal:checked")
    lo, hi = rows.get_column("occurred_at").min(), rows.get_column("occurred_at").max()
    return SegmentRef(
        rel, sha256_hex(data), sha256_hex(manifest), rows.height,
        None if lo is None else str(lo), None if hi is None else str(hi),
    )  # fmt: skip


def _record(store: Store, tenant: str, ref: SegmentRef, first: int, end: int) -> None:
    """Sign and record the seal statement, and delete the hot rows: one transaction."""
    store.remove_range(tenant, end, kind="seal", detail=ref.detail(), first_seq=first)
    _crash_point("seal:recorded")


def _check_written(
    v: TenantVerifier, cold: ColdTier, rel: str, data: bytes, manifest: bytes, first: int, end: int
) -> None:
    """Read a segment and its manifest back: what gets recorded is what the cold tier
    holds, and every record in it verifies against the signed tree (its leaf hash, and
    every column well-formed: a tampered hot row is never sealed)."""
    back, mback = cold.get(rel), cold.get(manifest_path(rel))
    if back is None or sha256_hex(back) != sha256_hex(data) or mback != manifest:
        raise StoreError(f"cold tier {cold.url}: {rel} did not read back as written")
    check_manifest(mback, v.public_key)
    again = decode_segment(back)
    seqs = again.get_column("seq").to_numpy()
    if again.height != end - first or not np.array_equal(seqs, np.arange(first, end)):
        raise IntegrityError(f"cold tier {cold.url}: {rel} does not hold seq {first}..{end - 1}")
    _check_rows(v, again)


def _check_rows(v: TenantVerifier, rows: pl.DataFrame) -> None:
    """Every record of a segment verifies against the signed tree, or nothing is sealed."""
    ok = v.check_chunk(rows)
    if not ok.all() or v.problems:
        p = v.problems[0] if v.problems else None
        raise IntegrityError(
            f"tenant {v.tenant!r}: refusing to seal a record that does not verify"
            + (f" ({p.kind.value} at seq {p.seq}: {p.detail})" if p else "")
        )


def cold_public_key_matches(data: bytes, public_key: Any) -> bool:
    """Whether a manifest is signed by ``public_key`` (for listing foreign segments)."""
    try:
        check_manifest(data, public_key)
    except ValueError:
        return False
    return True
