"""A store handle bound to a principal: every read checked, redacted and recorded.

:meth:`Store.open` with ``principal=`` or ``token=`` (or :meth:`Store.bind`)
returns a :class:`BoundStore`.  It overrides each public method of
:class:`Store` that reads or changes the trail: the method asks
:func:`auditkit.access.check` for every tenant it touches, runs the owner's
method on the allowed tenants only, redacts what it returns for roles without
``read_unredacted``, and appends a record of the read (or of the denial) to
each tenant's own trail before anything is returned.  If that record cannot be
written, the read fails: nothing leaves unrecorded.

What it guarantees, against a caller holding only the handle (the API server
gives each request one): no event, name, e-mail or count of a tenant where the
principal holds no suitable role.  What it does not: a caller in the same
Python process can reach the owner's connection; the database enforces
isolation against people who hold database credentials (see
``docs/access.md``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from auditkit.access import (
    ALL_TENANTS,
    GRANTABLE,
    META_READ_ACTIONS,
    STORE_WIDE,
    AccessContext,
    Decision,
    Grant,
    NewToken,
    Permission,
    Principal,
    Role,
    TokenInfo,
    access_event,
    carry_redaction,
    check,
    parse_permissions,
    redact_frame,
)
from auditkit.errors import AccessDenied, AuditkitError, StoreError
from auditkit.integrity import Checkpoint
from auditkit.record import PreparedEvent
from auditkit.store import _access as sql
from auditkit.store import store as _store_module
from auditkit.store._page import JsonPage
from auditkit.store.retention import DEFAULT_TENANT, ApplyResult, Retention, RetentionPolicy
from auditkit.store.store import AppendResult, ConsistencyProof, InclusionProof, Store
from auditkit.verification import VerificationReport

if TYPE_CHECKING:
    from auditkit.integrity import RangeStatement
    from auditkit.store._access import DbRole

__all__ = ["Activity", "BoundStore", "Recorder", "recorder_for"]

#: What each operation needs, and the action its record gets.
OPERATIONS: dict[str, tuple[Permission, str]] = {
    "read": (Permission.READ, "audit_log.read"),
    "export": (Permission.EXPORT, "audit_log.export"),
    "report": (Permission.REPORT, "audit_log.read"),
    "detect": (Permission.DETECT, "audit_log.read"),
    "prove": (Permission.PROVE, "audit_log.read"),
}


# -- the record of reads ------------------------------------------------------------------
class Recorder:
    """Appends access records to the tenants' trails, batched by group commit.

    A caller hands its records to :meth:`record` and waits until they are
    stored.  Whoever finds no flush running takes every record waiting and
    appends them in one batch (one transaction and one signed checkpoint per
    tenant): concurrent readers share a write instead of queueing for one
    each.  Identical denials in a batch become one record with a count.
    """

    def __init__(self, owner: Store) -> None:
        self._owner = owner
        self._cond = threading.Condition()
        self._pending: list[tuple[int, list[dict[str, Any]]]] = []
        self._next = 0
        self._done = -1
        self._flushing = False
        self._failed: dict[int, BaseException] = {}

    def record(self, events: list[dict[str, Any]]) -> None:
        """Store ``events`` (in the trails of their tenants) before returning."""
        if not events:
            return
        with self._cond:
            ticket = self._next
            self._next += 1
            self._pending.append((ticket, events))
            while ticket > self._done:
                if not self._flushing:
                    self._flushing = True
                    batch, self._pending = self._pending, []
                    break
                self._cond.wait()
            else:
                failed = self._failed.pop(ticket, None)
                if failed is not None:
                    raise _unrecorded(failed)
                return
        error: BaseException | None = None
        try:
            self._owner.append(_coalesce([e for _, evs in batch for e in evs]))
        except BaseException as exc:
            error = exc
        with self._cond:
            for t, _ in batch:
                if error is not None and t != ticket:
                    self._failed[t] = error
            self._done = max(t for t, _ in batch)
            self._flushing = False
            self._cond.notify_all()
        if error is not None:
            raise _unrecorded(error)


def _unrecorded(exc: BaseException) -> StoreError:
    err = StoreError(
        f"cannot record this access in the tenant's trail, so nothing is returned: {exc}"
    )
    err.__cause__ = exc
    return err


def _coalesce(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Identical denials (same tenant, principal, permission, operation) as one record."""
    out: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in events:
        if e.get("action") != "audit_log.access_denied":
            out.append(e)
            continue
        meta = e.get("metadata", {})
        key = (
            e["tenant_id"],
            e["actor"].get("id"),
            meta.get("permission"),
            meta.get("operation"),
            meta.get("token_id"),
        )
        first = seen.get(key)
        if first is None:
            seen[key] = e
            out.append(e)
        else:
            n = first["metadata"].get("attempts", 1) + meta.get("attempts", 1)
            first["metadata"]["attempts"] = n
            first["description"] = (
                first["description"].split(" (", 1)[0]
                + f" ({meta.get('operation')}) ({n} attempts)"
            )
    return out


_RECORDERS: weakref.WeakKeyDictionary[Store, Recorder] = weakref.WeakKeyDictionary()
_RECORDERS_LOCK = threading.Lock()


def recorder_for(owner: Store) -> Recorder:
    """The one recorder of an owner handle (shared by every handle bound from it)."""
    with _RECORDERS_LOCK:
        rec = _RECORDERS.get(owner)
        if rec is None:
            rec = _RECORDERS[owner] = Recorder(owner)
        return rec


# -- an operation in progress --------------------------------------------------------------
@dataclass
class Activity:
    """What the caller is doing (read, export, report, detect, prove) and with which
    filter; reads inside it are recorded once, when it ends, with the rows returned.

    Use :meth:`BoundStore.activity`; call :meth:`returned` with what actually
    leaves (a page of a larger load, say), else the rows loaded are counted.
    """

    operation: str
    details: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    meta_only: dict[str, bool] = field(default_factory=dict)
    tenants: list[str] = field(default_factory=list)
    explicit: bool = False

    def touched(self, tenants: Iterable[str]) -> None:
        for t in tenants:
            if t not in self.tenants:
                self.tenants.append(t)

    def loaded(self, frame: pl.DataFrame | pl.LazyFrame, *, explicit: bool = False) -> None:
        """Count ``frame``'s rows per tenant (and whether they are all access records)."""
        if self.explicit and not explicit:
            return
        if explicit:
            self.explicit = True
            self.rows, self.meta_only = {}, {}
        lf = frame.lazy()
        names = lf.collect_schema().names()
        if "tenant_id" not in names:
            return
        meta = (
            pl.col("action").is_in(list(META_READ_ACTIONS)).all()
            if "action" in names
            else pl.lit(False)
        )
        stats = lf.group_by("tenant_id").agg(pl.len().alias("n"), meta.alias("m")).collect()
        for t, n, m in stats.iter_rows():
            self.rows[t] = self.rows.get(t, 0) + int(n)
            self.meta_only[t] = self.meta_only.get(t, True) and bool(m)

    def returned(self, frame: pl.DataFrame | pl.LazyFrame) -> None:
        """What leaves: counted instead of what was loaded."""
        self.loaded(frame, explicit=True)

    def returned_actions(self, tenant: str, actions: Sequence[str]) -> None:
        """What leaves, given as the actions of the events of one tenant."""
        self.explicit = True
        self.rows = {tenant: len(actions)}
        self.meta_only = {tenant: all(a in META_READ_ACTIONS for a in actions)}


def _filter_of(**kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in kw.items():
        if v is None or v == () or v == []:
            continue
        if isinstance(v, datetime):
            v = v.isoformat()
        elif isinstance(v, tuple):
            v = list(v)
        elif not isinstance(v, str | int | float | bool | list | dict):
            v = str(v)
        out[k] = v
    return out


class BoundStore(Store):
    """A :class:`Store` handle acting for one principal (see the module docstring).

    Made by :meth:`Store.bind` or :meth:`Store.open` with ``principal=`` or
    ``token=``; never constructed directly.
    """

    _owner: Store
    _principal_id: str
    _token: TokenInfo | None
    _via: str

    def __init__(
        self,
        owner: Store,
        principal_id: str,
        token: TokenInfo | None,
        via: str,
        *,
        once: bool = False,
    ) -> None:
        # share the owner's connections and settings; work is done through the owner
        self.__dict__.update(owner.__dict__)
        self._owner = owner
        self._principal_id = principal_id
        self._token = token
        self._via = via
        self._local = threading.local()
        self._pinned: AccessContext | None = None
        self._deferred: list[dict[str, Any]] | None = None
        ctx = self.context()  # an unknown or disabled principal fails here, not later
        if once:  # read once for the handle's life (one API request): see Store.bind
            self._pinned = ctx

    # -- who is asking ---------------------------------------------------------------------
    @property
    def principal(self) -> Principal:  # type: ignore[override]
        """The principal this handle acts for (read fresh)."""
        return self.context().principal

    def context(self) -> AccessContext:
        """The principal's grants as they are now (revocations apply at once), or as
        they were when bound for a handle bound with ``once=True``."""
        if self._pinned is not None:
            return self._pinned
        token = self._token
        with sql.one_read(self.backend):  # token, principal, grants, revocations: one read
            seal = self._owner._access_seal()
            if token is not None:
                # a token revoked or expired since it was presented stops working
                fresh = sql.get_token(self.backend, token.token_id, seal)
                if (
                    fresh is None
                    or fresh[0].revoked_at is not None
                    or (fresh[0].expires_at is not None and fresh[0].expires_at <= sql._now())
                ):
                    raise AccessDenied("invalid, expired or revoked token")
            ctx = sql.context_for(self.backend, self._principal_id, seal, token)
        if ctx.principal.disabled:
            raise AccessDenied(f"principal {ctx.principal.id!r} is disabled")
        return ctx

    def _actor(self, ctx: AccessContext) -> dict[str, str]:
        actor = ctx.principal.actor()
        if ctx.token_id:
            actor = {**actor, "type": "api_key"} if ctx.principal.kind == "service" else actor
        return actor

    def __repr__(self) -> str:
        return (
            f"Store({self.backend.location!r}, store_id={self.store_id!r}, "
            f"principal={self._principal_id!r})"
        )

    # -- checks, redaction, records ---------------------------------------------------------
    @contextlib.contextmanager
    def activity(self, operation: str = "read", **details: Any) -> Iterator[Activity]:
        """Reads inside are one ``operation`` (read, export, report, detect, prove),
        checked against its permission and recorded once, at the end, with
        ``details`` (the filter) and the rows returned."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; known: {list(OPERATIONS)}")
        outer = getattr(self._local, "activity", None)
        if outer is not None:  # nested: the outer activity records
            yield outer
            return
        act = Activity(operation, _filter_of(**details))
        self._local.activity = act
        try:
            yield act
        except BaseException as exc:
            self._local.activity = None
            # what was read before the failure (or before the caller stopped an
            # iteration, or raised on purpose) has left: it is recorded all the same
            if act.tenants:
                try:
                    self._record_reads(act)
                except BaseException as unrecorded:
                    raise unrecorded from exc
            raise
        self._local.activity = None
        self._record_reads(act)

    @contextlib.contextmanager
    def _reading(self, method: str, **filters: Any) -> Iterator[Activity]:
        """One public read method: inside the caller's activity, or its own."""
        outer = getattr(self._local, "activity", None)
        if outer is not None:
            outer.details.setdefault("method", method)
            for k, v in _filter_of(**filters).items():
                outer.details.setdefault(k, v)
            yield outer
            return
        with self.activity("read", method=method, **filters) as act:
            yield act

    def _current_operation(self) -> str:
        act = getattr(self._local, "activity", None)
        return act.operation if act is not None else "read"

    def _allowed(
        self,
        permission: Permission,
        tenant: str | Sequence[str] | None,
        *,
        operation: str,
        record_denials: bool = True,
    ) -> tuple[AccessContext, list[Decision]]:
        """The decisions for the tenants asked for (``None``: every tenant allowed).

        A tenant asked for by name and denied raises :class:`AccessDenied`
        (after the denial is recorded in that tenant's trail, if it exists).
        """
        ctx = self.context()
        if tenant is None:
            decisions = []
            for t in self._owner.tenants():
                try:
                    decisions.append(check(ctx, permission, t))
                except AccessDenied:
                    continue
            if not decisions and not self._may_anywhere(ctx, permission):
                raise AccessDenied(
                    f"principal {ctx.principal.id!r} may not {permission.value} on any tenant: "
                    f"needs permission {permission.value!r}"
                )
            return ctx, decisions
        wanted = [tenant] if isinstance(tenant, str) else list(dict.fromkeys(tenant))
        decisions, denied = [], []
        for t in wanted:
            try:
                decisions.append(check(ctx, permission, t))
            except AccessDenied as exc:
                denied.append((t, exc))
        if denied:
            if record_denials:
                known = self._owner.tenants()
                self._record_denials(ctx, permission, operation, [t for t, _ in denied], known)
            raise denied[0][1]
        return ctx, decisions

    def _may_anywhere(self, ctx: AccessContext, permission: Permission) -> bool:
        tenants = set(ctx.granted_tenants())
        if ctx.store_wide:
            tenants |= set(self._owner.tenants())
        return any(permission in ctx.permissions_on(t) for t in tenants)

    def _record_denials(
        self,
        ctx: AccessContext,
        permission: Permission,
        operation: str,
        tenants: Sequence[str],
        known: Sequence[str],
    ) -> None:
        # only in trails that exist: a denial for a made-up name must not create a tenant
        events = [
            access_event(
                "audit_log.access_denied",
                tenant=t,
                actor=self._actor(ctx),
                operation=operation,
                permission=permission.value,
                reason="no suitable role",
                via=self._via,
                token_id=ctx.token_id,
            )
            for t in tenants
            if t in known
        ]
        if self._deferred is not None:  # recorded after the answer: see defer_denials
            self._deferred.extend(events)
            return
        with contextlib.suppress(AuditkitError):  # the denial itself is what matters
            recorder_for(self._owner).record(events)

    def defer_denials(self) -> None:
        """Keep the records of denials until :meth:`flush_denials` instead of appending
        them before the refusal is raised.

        The API records them after the answer has left: a denial on a tenant that
        exists is recorded and one on a made-up name is not, and the append (one signed
        checkpoint) made the first answer measurably slower, which told anyone which
        tenants exist.  A denial returns nothing, so nothing leaves unrecorded."""
        if self._deferred is None:
            self._deferred = []

    def flush_denials(self) -> None:
        """Record the denials kept since :meth:`defer_denials` (failures suppressed)."""
        events, self._deferred = self._deferred or [], None
        if events:
            with contextlib.suppress(AuditkitError):
                recorder_for(self._owner).record(events)

    def _record_reads(self, act: Activity) -> None:
        permission, action = OPERATIONS[act.operation]
        ctx = self.context()
        events = []
        for t in act.tenants:
            rows = act.rows.get(t, 0)
            if rows and act.meta_only.get(t, False):
                continue  # reading only the read records: recorded once, not forever
            events.append(
                access_event(
                    action,
                    tenant=t,
                    actor=self._actor(ctx),
                    operation=act.details.get("method", act.operation)
                    if act.operation == "read"
                    else act.operation,
                    permission=permission.value,
                    filter={k: v for k, v in act.details.items() if k != "method"},
                    rows=rows,
                    via=self._via,
                    token_id=ctx.token_id,
                )
            )
        recorder_for(self._owner).record(events)

    def _redact(self, frame: pl.DataFrame, decisions: Sequence[Decision]) -> pl.DataFrame:
        redacted = [d.tenant for d in decisions if d.redacted]
        if not redacted or not frame.height:
            return frame
        keys = sql.redaction_keys(self.backend, redacted, self._owner._access_seal())
        if len(redacted) == len(decisions):
            return redact_frame(frame, keys)
        mask = pl.col("tenant_id").is_in(redacted)
        idx = frame.with_row_index("__row")
        part = redact_frame(idx.filter(mask), keys)
        rest = idx.filter(~mask)
        return pl.concat([part, rest]).sort("__row").drop("__row")

    def _permission(self) -> Permission:
        return OPERATIONS[self._current_operation()][0]

    # -- reads ------------------------------------------------------------------------------
    def tenants(self) -> list[str]:
        """Tenants with events on which the principal may read (or write)."""
        ctx = self.context()
        out = []
        for t in self._owner.tenants():
            allowed = ctx.permissions_on(t)
            if Permission.READ in allowed or Permission.WRITE in allowed:
                out.append(t)
        return out

    def prepare_reads(
        self, tenants: Sequence[str] | None = None, *, stop: threading.Event | None = None
    ) -> list[str]:
        """:meth:`Store.prepare_reads` for the tenants (of ``tenants``) the principal may
        read; it reads no event, so nothing is recorded."""
        _, decisions = self._allowed(
            Permission.READ, tenants, operation="read", record_denials=False
        )
        return self._owner.prepare_reads([d.tenant for d in decisions], stop=stop)

    def count(self, tenant: str | None = None) -> int:
        """Stored events of a tenant the principal may read (or of all of them)."""
        _, decisions = self._allowed(Permission.READ, tenant, operation="count")
        return sum(self._owner.count(d.tenant) for d in decisions)

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
        """:meth:`Store.json_page`, checked and recorded; ``None`` also for a reader
        whose view is redacted (redaction works on frames: use :meth:`load`)."""
        with self._reading(
            "json_page", tenant=tenant, match=match, start=start, end=end, text=text,
            target=target,
        ) as act:  # fmt: skip
            _, decisions = self._allowed(self._permission(), tenant, operation=act.operation)
            act.touched(d.tenant for d in decisions)
            if decisions[0].redacted:
                return None
            page = self._owner.json_page(
                tenant, match=match, start_seq=start_seq, order=order, limit=limit,
                start=start, end=end, text=text, target=target,
            )  # fmt: skip
            if page is not None:
                act.returned_actions(tenant, page.actions)
            return page

    def load(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        columns: Sequence[str] | None = None,
        seqs: tuple[int, int] | None = None,
        **options: Any,
    ) -> pl.DataFrame:
        """:meth:`Store.load`, checked, redacted and recorded."""
        with self._reading("load", tenant=tenant, start=start, end=end, seqs=seqs) as act:
            _, decisions = self._allowed(self._permission(), tenant, operation=act.operation)
            act.touched(d.tenant for d in decisions)
            if not decisions:
                return self._owner.load([], columns=columns)
            need = None
            if columns is not None:
                need = list(dict.fromkeys([*columns, "tenant_id", "action"]))
            frame = self._owner.load(
                [d.tenant for d in decisions],
                start=start,
                end=end,
                columns=need,
                seqs=seqs,
                **options,
            )
            self.last_report = self._owner.last_report
            frame = self._redact(frame, decisions)
            act.loaded(frame)
        if columns is not None:
            frame = carry_redaction(frame, frame.select(columns))
        return frame

    def scan(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        folder: str | Path | None = None,
        **options: Any,
    ) -> pl.LazyFrame:
        """:meth:`Store.scan`, checked, redacted (in the files too) and recorded."""
        with self._reading("scan", tenant=tenant, start=start, end=end) as act:
            _, decisions = self._allowed(self._permission(), tenant, operation=act.operation)
            act.touched(d.tenant for d in decisions)
            out = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="auditkit-"))
            if not any(d.redacted for d in decisions):
                lf = self._owner.scan(
                    [d.tenant for d in decisions], start=start, end=end, folder=out, **options
                )
            else:
                raw = Path(tempfile.mkdtemp(prefix="auditkit-raw-"))
                try:
                    self._owner.scan(
                        [d.tenant for d in decisions], start=start, end=end, folder=raw, **options
                    )
                    out.mkdir(parents=True, exist_ok=True)
                    for part in sorted(raw.glob("part-*.parquet")):
                        frame = self._redact(pl.read_parquet(part), decisions)
                        frame.write_parquet(out / part.name)
                        part.unlink()
                finally:
                    shutil.rmtree(raw, ignore_errors=True)
                lf = pl.scan_parquet(out / "part-*.parquet")
            self.last_report = self._owner.last_report
            act.loaded(lf)
        return lf

    def iter_verified(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        **options: Any,
    ) -> Iterator[pl.DataFrame]:
        """:meth:`Store.iter_verified`, checked, each chunk redacted, and recorded
        (the rows handed out) when the iteration ends."""
        with self._reading("iter_verified", tenant=tenant, start=start, end=end) as act:
            _, decisions = self._allowed(self._permission(), tenant, operation=act.operation)
            act.touched(d.tenant for d in decisions)
            redacted = any(d.redacted for d in decisions)
            try:
                for frame in self._owner.iter_verified(
                    [d.tenant for d in decisions], start=start, end=end, **options
                ):
                    out = self._redact(frame, decisions) if redacted else frame
                    act.loaded(out)
                    yield out
            finally:
                self.last_report = self._owner.last_report

    def verify_and_load(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        **options: Any,
    ) -> tuple[VerificationReport, pl.DataFrame]:
        """:meth:`Store.verify_and_load`, checked, redacted and recorded."""
        with self._reading("verify_and_load", tenant=tenant, start=start, end=end) as act:
            _, decisions = self._allowed(self._permission(), tenant, operation=act.operation)
            act.touched(d.tenant for d in decisions)
            report, frame = self._owner.verify_and_load(
                [d.tenant for d in decisions], start=start, end=end, **options
            )
            self.last_report = report
            frame = self._redact(frame, decisions)
            act.loaded(frame)
        return report, frame

    def verify(
        self,
        tenant: str | Sequence[str] | None = None,
        **options: Any,
    ) -> VerificationReport:
        """:meth:`Store.verify` of the tenants the principal may read (recorded)."""
        with self._reading("verify", tenant=tenant) as act:
            _, decisions = self._allowed(Permission.READ, tenant, operation="verify")
            act.touched(d.tenant for d in decisions)
            report = self._owner.verify([d.tenant for d in decisions], **options)
            self.last_report = report
        return report

    def read_rows(self, where: str) -> pl.DataFrame:
        """Refused: a raw SQL condition cannot be checked against roles."""
        raise AccessDenied(
            f"principal {self._principal_id!r} may not read raw rows: read_rows takes a SQL "
            "condition, which only the local owner may run (use load)"
        )

    # -- integrity data and proofs ------------------------------------------------------------
    def checkpoints(self, tenant: str | None = None) -> list[Checkpoint]:
        """Signed checkpoints of the tenants the principal may read."""
        _, decisions = self._allowed(Permission.READ, tenant, operation="checkpoints")
        allowed = {d.tenant for d in decisions}
        out = [cp for cp in self._owner.checkpoints(tenant) if cp.tenant_id in allowed]
        self.malformed_checkpoints = [
            m for m in self._owner.malformed_checkpoints if m[0] in allowed
        ]
        return out

    def latest_checkpoint(self, tenant: str, **options: Any) -> Checkpoint | None:
        """The tenant's newest validly signed checkpoint, if the principal may read it."""
        self._allowed(Permission.READ, tenant, operation="checkpoints")
        return self._owner.latest_checkpoint(tenant, **options)

    def latest_checkpoints(self, **options: Any) -> dict[str, Checkpoint]:
        """The newest checkpoint of each tenant the principal may read."""
        _, decisions = self._allowed(Permission.READ, None, operation="checkpoints")
        allowed = {d.tenant for d in decisions}
        latest = self._owner.latest_checkpoints(**options)
        return {t: cp for t, cp in latest.items() if t in allowed}

    def export_checkpoints(
        self, path: str | Path | None = None, *, tenants: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """:meth:`Store.export_checkpoints`, of the tenants the principal may read."""
        _, decisions = self._allowed(Permission.READ, tenants, operation="checkpoints")
        allowed = [d.tenant for d in decisions]
        doc = self._owner.export_checkpoints(tenants=allowed)
        doc["checkpoints"] = [c for c in doc["checkpoints"] if c.get("tenant_id") in allowed]
        doc["history"] = [c for c in doc["history"] if c.get("tenant_id") in allowed]
        if path is not None:
            import orjson

            Path(path).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        return doc

    def checkpoint_notes(self, latest: Mapping[str, Checkpoint] | None = None) -> dict[str, str]:
        """:meth:`Store.checkpoint_notes`, of the tenants the principal may read."""
        _, decisions = self._allowed(
            Permission.READ, None if latest is None else list(latest), operation="checkpoints"
        )
        allowed = {d.tenant for d in decisions}
        mine = {t: cp for t, cp in (latest or self._owner.latest_checkpoints()).items()}
        return self._owner.checkpoint_notes({t: c for t, c in mine.items() if t in allowed})

    def leaf_hashes(self, tenant: str) -> bytes:
        """The tenant's leaf hashes (needs ``prove``: they test guesses of records)."""
        self._allowed(Permission.PROVE, tenant, operation="leaf_hashes")
        return self._owner.leaf_hashes(tenant)

    def inclusion_proof(
        self, tenant: str, seq: int | None = None, *, event_id: str | None = None
    ) -> InclusionProof:
        """:meth:`Store.inclusion_proof` (needs ``prove``: it carries the raw record)."""
        with self.activity("prove", method="inclusion_proof", seq=seq, event_id=event_id) as act:
            self._allowed(Permission.PROVE, tenant, operation="prove")
            act.touched([tenant])
            proof = self._owner.inclusion_proof(tenant, seq, event_id=event_id)
            act.rows[tenant] = act.rows.get(tenant, 0) + 1
        return proof

    def consistency_proof(
        self, tenant: str, old_size: int, new_size: int | None = None
    ) -> ConsistencyProof:
        """:meth:`Store.consistency_proof` (needs ``prove``)."""
        with self.activity("prove", method="consistency_proof", old_size=old_size) as act:
            self._allowed(Permission.PROVE, tenant, operation="prove")
            act.touched([tenant])
            return self._owner.consistency_proof(tenant, old_size, new_size)

    # -- writes -------------------------------------------------------------------------------
    def append(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 20_000,
        normalized: bool = False,
    ) -> AppendResult:
        """:meth:`Store.append`, each event's tenant checked for ``write``."""
        ctx = self.context()
        known: list[str] | None = None
        allowed: set[str] = set()

        def checked() -> Iterator[Mapping[str, Any]]:
            nonlocal known
            for e in events:
                t = e.get("tenant_id") if isinstance(e, Mapping) else None
                if isinstance(t, str) and t not in allowed:
                    try:
                        check(ctx, Permission.WRITE, t)
                    except AccessDenied:
                        if known is None:
                            known = self._owner.tenants()
                        self._record_denials(ctx, Permission.WRITE, "append", [t], known)
                        raise
                    allowed.add(t)
                yield e

        return self._owner.append(checked(), batch_size=batch_size, normalized=normalized)

    def append_prepared(
        self, items: Sequence[PreparedEvent], *, duplicates: set[tuple[str, str]] | None = None
    ) -> AppendResult:
        """:meth:`Store.append_prepared`, each tenant checked for ``write``."""
        self._allowed(Permission.WRITE, sorted({p.tenant_id for p in items}), operation="append")
        return self._owner.append_prepared(items, duplicates=duplicates)

    def remove_range(
        self,
        tenant: str,
        end_seq: int,
        *,
        kind: Literal["purge", "seal"] = "purge",
        detail: str = "",
        first_seq: int | None = None,
    ) -> RangeStatement:
        """:meth:`Store.remove_range` (needs ``manage`` on the tenant)."""
        self._allowed(Permission.MANAGE, tenant, operation="remove_range")
        return self._owner.remove_range(
            tenant, end_seq, kind=kind, detail=detail, first_seq=first_seq
        )

    # -- retention ------------------------------------------------------------------------------
    @property
    def retention(self) -> Retention:
        """:attr:`Store.retention`, acting for this principal."""
        return Retention(self)

    @property
    def cold_url(self) -> str | None:
        """:attr:`Store.cold_url` (where the cold tier is: no tenant's data)."""
        return self._owner.cold_url

    def tier_counts(self, tenant: str) -> tuple[int, int]:
        """:meth:`Store.tier_counts` (needs ``read`` on the tenant)."""
        self._allowed(Permission.READ, tenant, operation="tier_counts")
        return self._owner.tier_counts(tenant)

    def retention_policies(self, tenant: str | None = None) -> list[RetentionPolicy]:
        """:meth:`Store.retention_policies` (needs ``read`` on the tenant; without one,
        the default and the tenants it may read)."""
        if tenant is not None and tenant != DEFAULT_TENANT:
            self._allowed(Permission.READ, tenant, operation="retention_policies")
            return self._owner.retention_policies(tenant)
        _, decisions = self._allowed(Permission.READ, None, operation="retention_policies")
        mine = {d.tenant for d in decisions}
        every = self._owner.retention_policies()
        if tenant == DEFAULT_TENANT:
            return every[:1]
        return [p for p in every if p.tenant_id == DEFAULT_TENANT or p.tenant_id in mine]

    def set_retention(
        self,
        tenant: str = DEFAULT_TENANT,
        *,
        hot_days: int | str | None = "keep",
        keep_days: int | str | None = "keep",
        legal_hold: bool | None = None,
        reason: str | None = None,
    ) -> RetentionPolicy:
        """:meth:`Store.set_retention` (needs ``manage`` on the tenant; the store
        default needs ``manage`` on every tenant)."""
        ctx, _ = self._allowed(
            Permission.MANAGE,
            self._owner.tenants() if tenant == DEFAULT_TENANT else tenant,
            operation="set_retention",
        )
        return self._owner._set_retention_as(
            self._actor(ctx), ctx.principal.id, tenant, hot_days=hot_days,
            keep_days=keep_days, legal_hold=legal_hold, reason=reason,
        )  # fmt: skip

    def apply_retention(
        self,
        tenant: str | Sequence[str] | None = None,
        *,
        dry_run: bool = False,
        now: datetime | str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ApplyResult:
        """:meth:`Store.apply_retention` (needs ``manage`` on each tenant)."""
        _, decisions = self._allowed(Permission.MANAGE, tenant, operation="apply_retention")
        tenants = [d.tenant for d in decisions] if tenant is None else tenant
        if tenant is None and not tenants:
            return ApplyResult(dry_run=dry_run)
        return self._owner.apply_retention(tenants, dry_run=dry_run, now=now, progress=progress)

    def existing_event_ids(self, tenant: str, event_ids: Sequence[str]) -> set[str]:
        """:meth:`Store.existing_event_ids` (needs ``write`` or ``read`` on the tenant)."""
        ctx = self.context()
        perms = ctx.permissions_on(tenant)
        if Permission.WRITE not in perms:
            self._allowed(Permission.READ, tenant, operation="existing_event_ids")
        return self._owner.existing_event_ids(tenant, event_ids)

    def event_seq(self, tenant: str, event_id: str) -> int | None:
        """:meth:`Store.event_seq` (needs ``read`` on the tenant)."""
        self._allowed(Permission.READ, tenant, operation="event_seq")
        return self._owner.event_seq(tenant, event_id)

    def stream_cursors(self, destination: str) -> dict[str, int]:
        """:meth:`Store.stream_cursors`, of the tenants the principal may export only."""
        ctx = self.context()
        cursors = self._owner.stream_cursors(destination)
        return {t: n for t, n in cursors.items() if Permission.EXPORT in ctx.permissions_on(t)}

    def stream_cursor(self, destination: str, tenant: str) -> int:
        """:meth:`Store.stream_cursor` (needs ``export`` on the tenant)."""
        self._allowed(Permission.EXPORT, tenant, operation="stream_cursor")
        return self._owner.stream_cursor(destination, tenant)

    def advance_stream_cursor(self, destination: str, tenant: str, next_seq: int) -> int:
        """:meth:`Store.advance_stream_cursor` (needs ``export`` on the tenant)."""
        self._allowed(Permission.EXPORT, tenant, operation="advance_stream_cursor")
        return self._owner.advance_stream_cursor(destination, tenant, next_seq)

    def reset_stream_cursor(self, destination: str, tenant: str, next_seq: int) -> int:
        """:meth:`Store.reset_stream_cursor` (needs ``manage`` on the tenant: it moves what
        the organisation's SIEM receives, either way)."""
        self._allowed(Permission.MANAGE, tenant, operation="reset_stream_cursor")
        return self._owner.reset_stream_cursor(destination, tenant, next_seq)

    def quarantine(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """:meth:`Store.quarantine` (needs ``write`` on some tenant)."""
        ctx = self.context()
        if not self._may_anywhere(ctx, Permission.WRITE):
            raise AccessDenied(
                f"principal {ctx.principal.id!r} may not quarantine records: "
                "needs permission 'write'"
            )
        return self._owner.quarantine(rows)

    def quarantine_counts(self, **window: Any) -> dict[str, int]:
        """:meth:`Store.quarantine_counts`: store-wide counts (a record that could not be
        read may name no tenant), so only for a store-wide role (``operator``) with
        ``read`` and no token confining it to some tenants: one tenant's reader must
        not learn how many records of other tenants were refused."""
        ctx = self.context()
        if not (
            ctx.store_wide and ctx.tenants is None and self._may_anywhere(ctx, Permission.READ)
        ):
            raise AccessDenied(
                f"principal {ctx.principal.id!r} may not count quarantined records: "
                "the quarantine is store-wide, which needs a store-wide role with "
                "permission 'read'"
            )
        return self._owner.quarantine_counts(**window)

    # -- binding and management -------------------------------------------------------------------
    def bind(
        self,
        *,
        principal: str | None = None,
        token: str | None = None,
        via: str = "python",
        once: bool = False,
    ) -> Store:
        """Refused: a principal's handle cannot act for another."""
        raise AccessDenied(
            f"principal {self._principal_id!r} may not open the store as someone else"
        )

    def authorize(
        self, permission: Permission | str, tenant: str | Sequence[str] | None = None
    ) -> tuple[str, ...]:
        """The tenants (of those asked for; ``None``: all) where the principal may
        use ``permission``; a tenant asked for by name and denied raises (recorded)."""
        perm = Permission(permission)
        _, decisions = self._allowed(perm, tenant, operation=perm.value)
        return tuple(d.tenant for d in decisions)

    def redacted_for(self, tenant: str) -> bool:
        """Whether what this principal reads of ``tenant`` is redacted."""
        return check(self.context(), Permission.READ, tenant).redacted

    def _managing(self, tenant: str, role: Role | None = None) -> AccessContext:
        ctx = self.context()
        decision = None
        if tenant != ALL_TENANTS:
            _, (decision,) = self._allowed(Permission.MANAGE, tenant, operation="manage")
        if decision is None:
            raise AccessDenied(
                f"principal {ctx.principal.id!r} may not manage store-wide roles: "
                "only the local owner may"
            )
        if role is not None:
            may = frozenset().union(*(GRANTABLE.get(r, frozenset()) for r in decision.roles))
            if role not in may:
                raise AccessDenied(
                    f"principal {ctx.principal.id!r} may not grant or revoke role "
                    f"{role.value!r} on tenant {tenant!r}: needs permission 'manage' "
                    f"with a role that may grant it (roles there: "
                    f"{', '.join(r.value for r in decision.roles)})"
                )
        return ctx

    def _managed_tenants(self, ctx: AccessContext) -> set[str]:
        tenants = set(ctx.granted_tenants()) | set(self._owner.tenants() if ctx.store_wide else [])
        return {t for t in tenants if Permission.MANAGE in ctx.permissions_on(t)}

    def add_principal(
        self,
        principal_id: str,
        *,
        kind: str = "person",
        name: str | None = None,
        email: str | None = None,
    ) -> Principal:
        """Add a principal (needs ``manage`` on some tenant)."""
        ctx = self.context()
        if not self._managed_tenants(ctx):
            raise AccessDenied(
                f"principal {ctx.principal.id!r} may not add principals: "
                "needs permission 'manage' on a tenant"
            )
        return self._owner.add_principal(principal_id, kind=kind, name=name, email=email)

    def principals(self) -> list[Principal]:
        """The principal itself and those holding roles on tenants it manages."""
        ctx = self.context()
        managed = self._managed_tenants(ctx)
        ids = {ctx.principal.id} | {
            g.principal_id for g in self._owner.grants() if g.tenant_id in managed
        }
        return [p for p in self._owner.principals() if p.id in ids]

    def grants(self, tenant: str | None = None, principal: str | None = None) -> list[Grant]:
        """Grants on tenants the principal manages, and its own."""
        ctx = self.context()
        managed = self._managed_tenants(ctx)
        return [
            g
            for g in self._owner.grants(tenant, principal)
            if g.tenant_id in managed or g.principal_id == ctx.principal.id
        ]

    def grant(self, principal_id: str, tenant: str, role: str | Role) -> Grant:
        """Grant a role (needs ``manage`` there, with a role that may grant it)."""
        r = Role(role) if not isinstance(role, Role) else role
        ctx = self._managing(ALL_TENANTS if r in STORE_WIDE else tenant, r)
        return self._owner._grant_as(self._actor(ctx), ctx.principal.id, principal_id, tenant, r)

    def revoke(self, principal_id: str, tenant: str, role: str | Role) -> bool:
        """Revoke a role (needs ``manage`` there, with a role that may grant it)."""
        r = Role(role) if not isinstance(role, Role) else role
        ctx = self._managing(ALL_TENANTS if r in STORE_WIDE else tenant, r)
        return self._owner._revoke_as(self._actor(ctx), principal_id, tenant, r)

    def create_token(
        self,
        principal_id: str | None = None,
        *,
        expires: str | None = "90d",
        scopes: Iterable[str] | None = None,
        tenants: Iterable[str] | None = None,
        note: str | None = None,
    ) -> NewToken:
        """A token for the principal itself, or for one whose every tenant it manages and
        every role it could have granted.  A token never reaches further than the one
        asking: its tenants, scopes and expiry are within the calling token's, and a
        token made for another principal covers only the tenants it holds roles on now
        (a role granted on another tenant later does not widen it)."""
        ctx = self.context()
        me = ctx.principal.id
        target = principal_id or me
        limit: frozenset[str] | None = None
        if target != me:
            managed = self._managed_tenants(ctx)
            held = self._owner.grants(principal=target)
            theirs = {g.tenant_id for g in held}
            if not theirs or not theirs <= managed:
                raise AccessDenied(
                    f"principal {me!r} may not create tokens for {target!r}: "
                    "needs permission 'manage' on every tenant where it holds a role"
                )
            for g in held:  # a token for an owner would let an admin act as one
                try:
                    self._managing(g.tenant_id, g.role)
                except AccessDenied:
                    raise AccessDenied(
                        f"principal {me!r} may not create tokens for {target!r}: it holds "
                        f"role {g.role.value!r} on tenant {g.tenant_id!r}, which {me!r} may "
                        "not grant"
                    ) from None
            limit = frozenset(theirs)
        if ctx.tenants is not None:
            limit = ctx.tenants if limit is None else limit & ctx.tenants
        asked = frozenset(tenants) if tenants is not None else None
        if limit is not None:
            if asked is not None and not asked <= limit:
                raise AccessDenied(
                    f"principal {me!r} may not create a token for tenant(s) "
                    f"{', '.join(sorted(asked - limit))}: beyond what the token asking covers"
                )
            asked = asked if asked is not None else limit
        if ctx.scopes is not None:
            wanted = parse_permissions(scopes) if scopes is not None else ctx.scopes
            if not wanted <= ctx.scopes:
                extra = ", ".join(sorted(p.value for p in wanted - ctx.scopes))
                raise AccessDenied(
                    f"principal {me!r} may not create a token with scope(s) {extra}: "
                    "beyond the scopes of the token asking"
                )
            scopes = sorted(p.value for p in wanted)
        expires = self._within_own_expiry(expires)
        return self._owner._create_token_as(
            self._actor(ctx), target, expires=expires, scopes=scopes, tenants=asked, note=note
        )

    def _within_own_expiry(self, expires: str | None) -> str | None:
        """``expires`` cut to the calling token's own end, if it has one."""
        end = self._token.expires_at if self._token is not None else None
        if end is None:
            return expires
        from auditkit.times import as_utc, parse_duration

        left = int((as_utc(end) - datetime.now(UTC)).total_seconds())
        if left <= 0:
            raise AccessDenied("invalid, expired or revoked token")
        if expires is None or parse_duration(expires).total_seconds() > left:
            return f"{left}s"
        return expires

    def tokens(self, principal_id: str | None = None) -> list[TokenInfo]:
        """Its own tokens, and those of principals it manages."""
        ids = {p.id for p in self.principals()}
        return [t for t in self._owner.tokens(principal_id) if t.principal_id in ids]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke one of its own tokens or of a principal it manages."""
        ctx = self.context()
        mine = {t.token_id for t in self.tokens()}
        if token_id not in mine:
            raise AccessDenied(
                f"principal {ctx.principal.id!r} may not revoke token {token_id!r}: "
                "not its own nor of a principal it manages"
            )
        return self._owner._revoke_token_as(self._actor(ctx), token_id)

    def create_db_role(
        self,
        tenant: str,
        *,
        name: str | None = None,
        password: str | None = None,
        append: bool = False,
    ) -> DbRole:
        """Refused: database roles are the local owner's to make."""
        raise AccessDenied(
            f"principal {self._principal_id!r} may not create database roles: "
            "only the local owner may"
        )

    def db_roles(self) -> list[DbRole]:
        """Refused: database roles are the local owner's."""
        raise AccessDenied(f"principal {self._principal_id!r} may not list database roles")

    def drop_db_role(self, name: str) -> None:
        """Refused: database roles are the local owner's."""
        raise AccessDenied(f"principal {self._principal_id!r} may not drop database roles")

    def seal_access(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Refused: signing access rows vouches for them, which only the local owner may."""
        raise AccessDenied(f"principal {self._principal_id!r} may not seal access rows")

    def unsealed_access(self) -> list[tuple[str, tuple[Any, ...], str]]:
        """Refused: the local owner's review of the access tables."""
        raise AccessDenied(f"principal {self._principal_id!r} may not review access rows")


_store_module._BINDER = BoundStore
