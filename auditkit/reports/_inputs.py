"""What a report is built from: the verified events of the scope and the integrity facts.

:func:`collect_inputs` reads them from a store (verify, then a verified load of the
period); :func:`inputs_from_frame` wraps an event frame that did not come from a store
(notebooks, tests), whose integrity then shows as "not verified".
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from auditkit.errors import UsageError
from auditkit.integrity import Checkpoint, key_fingerprint, public_key_pem
from auditkit.reports.config import ReportConfig
from auditkit.reports.model import Period
from auditkit.reports.records import RECORD_ACTIONS
from auditkit.schema import FRAME_SCHEMA
from auditkit.verification import VerificationReport

if TYPE_CHECKING:
    from auditkit.store import Store

__all__ = ["HISTORY_SCHEMA", "ReportInputs", "ReportOptions", "collect_inputs", "inputs_from_frame"]

#: Per tenant: what the store holds over its whole history (not only the period).
HISTORY_SCHEMA = pl.Schema(
    {
        "tenant_id": pl.String(),
        "first_seq": pl.Int64(),
        "stored": pl.Int64(),
        "tree_size": pl.Int64(),
        "oldest": pl.Datetime("us", "UTC"),
        "newest": pl.Datetime("us", "UTC"),
    }
)


@dataclass(frozen=True)
class ReportOptions:
    """Thresholds of the evidence sections (the rules' thresholds live in the catalogs).

    Attributes
    ----------
    dormant_days
        A user account with no activity for this long at the end of the period, and
        not suspended or deleted since, is listed as dormant.
    clock_tolerance
        How far ``occurred_at`` may lie after ``received_at`` (clock skew), or before
        an earlier event of the same source (out of order), before it is counted.
    detectors
        Detector names to run (default: all registered).
    privileged_roles
        Role names (substrings, lower case) that make an actor privileged.
    sample_size
        Events drawn per "is logged" control for the auditor to inspect.
    sample_seed
        The seed of those samples (default: the period's first day as YYYYMMDD), stated
        in the report so that anyone can draw the same sample from the population.

    Examples
    --------
    >>> ReportOptions().dormant_days
    90
    """

    dormant_days: int = 90
    clock_tolerance: timedelta = timedelta(minutes=5)
    sample_size: int = 25
    sample_seed: int | None = None
    detectors: tuple[str, ...] | None = None
    privileged_roles: tuple[str, ...] = ("admin", "owner", "root", "superuser")


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """Everything a report is computed from (one scope: tenants x period).

    ``verification`` is ``None`` when the events did not come from a store.
    """

    events: pl.DataFrame
    tenants: tuple[str, ...]
    period: Period
    generated_at: datetime
    history: pl.DataFrame
    verification: VerificationReport | None = None
    checkpoints: tuple[Checkpoint, ...] = ()
    key_fingerprint: str | None = None
    public_key_pem: str | None = None
    key_source: str | None = None
    key_independent: bool = False
    store_id: str | None = None
    store_location: str | None = None
    checkpoints_doc: Mapping[str, Any] | None = None
    findings: pl.DataFrame | None = None
    options: ReportOptions = field(default_factory=ReportOptions)
    #: Review and disposition records (:mod:`auditkit.reports.records`) of the tenants'
    #: whole history: a review recorded after the period still covers it.
    records: pl.DataFrame | None = None
    #: Management's statements: system, scope, expected sources (``--config``).
    config: ReportConfig = field(default_factory=ReportConfig)
    #: Records ingestion quarantined in the period (store-wide), per field at fault;
    #: ``None`` when the events did not come from a store.
    quarantined: Mapping[str, int] | None = None
    #: The quarantine was not counted because the reader's view is not store-wide (a
    #: principal of some tenants): its counts would tell about other tenants' records.
    quarantine_hidden: bool = False
    #: How the report was asked for (command line, options), printed in the report.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    signer: Callable[[bytes], bytes] | None = field(default=None, repr=False)


def redact_location(location: str) -> str:
    """A store location with any password replaced by ``***`` (in the user part, a
    ``?password=`` parameter or a libpq ``password=`` keyword).

    Examples
    --------
    >>> redact_location("postgresql+psycopg://app:s3cret@db:5432/audit")
    'postgresql+psycopg://app:***@db:5432/audit'
    >>> redact_location("postgresql://db/audit?password=s3cret&sslmode=require")
    'postgresql://db/audit?password=***&sslmode=require'
    """
    from auditkit.access import redact_secrets

    return redact_secrets(location)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _resolve_tenants(known: Sequence[str], tenant: str | Sequence[str] | None) -> tuple[str, ...]:
    if tenant is None:
        if not known:
            raise UsageError("the store has no events: nothing to report on")
        return tuple(known)
    wanted = [tenant] if isinstance(tenant, str) else list(tenant)
    unknown = [t for t in wanted if t not in known]
    if unknown:  # one tenant never learns the names of the others
        raise UsageError(f"unknown tenant {unknown[0]!r}: the store holds no trail for it")
    return tuple(dict.fromkeys(wanted))


def _history_from_report(verification: VerificationReport, tenants: Sequence[str]) -> pl.DataFrame:
    """The tenants' trail history (first seq, records, oldest and newest) from the
    verification pass: only records that verified count."""
    by_tenant = {t.tenant_id: t for t in verification.tenants}
    rows = []
    for t in tenants:
        st = by_tenant.get(t)
        rows.append(
            {
                "tenant_id": t,
                "tree_size": st.tree_size if st else 0,
                "first_seq": st.first_seq if st else None,
                "stored": st.events if st else 0,
                "oldest": st.oldest if st else None,
                "newest": st.newest if st else None,
            }
        )
    df = pl.DataFrame(
        rows,
        schema={
            "tenant_id": pl.String,
            "tree_size": pl.Int64,
            "first_seq": pl.Int64,
            "stored": pl.Int64,
            "oldest": pl.String,
            "newest": pl.String,
        },
    )
    stamps = [
        pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC")
        for c in ("oldest", "newest")
    ]
    return df.with_columns(stamps).select(list(HISTORY_SCHEMA)).cast(HISTORY_SCHEMA)


def collect_inputs(
    store: Store,
    *,
    tenant: str | Sequence[str] | None = None,
    period: str | Period | None = None,
    generated_at: datetime | None = None,
    options: ReportOptions | None = None,
    config: ReportConfig | None = None,
    parameters: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReportInputs:
    """Verify the tenants' logs and load the period's events from ``store``.

    The whole log of each tenant is verified (not only the period) before the period's
    events are loaded; a tampered store still yields a report, whose integrity controls
    then fail and name the problems, and whose evidence holds only records that verify.
    ``progress`` is called with the number of records verified since its last call (a
    progress bar's update).

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.store import Store
    >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
    >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                    "action": "user.login", "actor": {"id": "u1"}}])
    >>> inputs = collect_inputs(store, tenant="acme", period="2026-01-01..2026-01-31")
    >>> inputs.events.height, inputs.verification.ok
    (1, True)
    """
    opts = options or ReportOptions()
    tenants = _resolve_tenants(store.tenants(), tenant)
    # One pass verifies the tenants' whole trail record by record and keeps the
    # period's records that verified: damaged records never reach the evidence.
    requested = Period.parse(period) if period is not None else None
    verification, events = store.verify_and_load(
        list(tenants),
        start=requested.start_at if requested else None,
        end=requested.end_exclusive if requested else None,
        progress=progress,
    )
    history = _history_from_report(verification, tenants)
    if requested is None:  # the whole history is loaded already: no second read
        records = events.filter(pl.col("action").is_in(list(RECORD_ACTIONS)))
    else:
        with warnings.catch_warnings():  # a damaged trail is reported by the integrity controls
            warnings.simplefilter("ignore")
            records = store.load(
                list(tenants), match={"action": list(RECORD_ACTIONS)}, on_tamper="warn"
            )
    if requested is None:
        oldest, newest = history["oldest"].min(), history["newest"].max()
        span = (
            Period(oldest.date(), newest.date())
            if isinstance(oldest, datetime) and isinstance(newest, datetime)
            else Period(*[datetime.now(UTC).date()] * 2)  # today as every period says it
        )
    else:
        span = requested
    quarantined, hidden = _quarantine_counts(store, span)
    public, source = store.trusted_public_key()
    latest = store.latest_checkpoints()
    doc = store.export_checkpoints(tenants=tenants)
    key = store.key_path

    def signer(data: bytes) -> bytes:
        return bytes(store.private_key.sign(data))

    return ReportInputs(
        events=events,
        tenants=tenants,
        period=span,
        generated_at=generated_at or _now(),
        history=history,
        verification=verification,
        checkpoints=tuple(latest[t] for t in tenants if t in latest),
        key_fingerprint=key_fingerprint(public),
        public_key_pem=public_key_pem(public),
        key_source=source,
        key_independent=not source.startswith("the store database"),
        store_id=store.store_id,
        store_location=redact_location(str(store.location)),
        checkpoints_doc=doc,
        options=opts,
        signer=signer if key.is_file() else None,
        records=records,
        config=config or ReportConfig(),
        parameters=dict(parameters or {}),
        quarantined=quarantined,
        quarantine_hidden=hidden,
    )


def _quarantine_counts(store: Store, span: Period) -> tuple[Mapping[str, int] | None, bool]:
    """The period's quarantine counts and whether they were withheld.

    The quarantine is store-wide (an unreadable record may name no tenant), so the
    counts are given to the local owner and to store-wide roles only; a principal of
    some tenants gets none (``(None, True)``), never other tenants' numbers."""
    from auditkit.errors import AccessDenied

    try:
        return store.quarantine_counts(start=span.start_at, end=span.end_exclusive), False
    except AccessDenied:
        return None, True


def history_from_frame(events: pl.DataFrame) -> pl.DataFrame:
    """Per-tenant history (first seq, counts, oldest and newest event) of a frame.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> history_from_frame(df).select("tenant_id", "stored", "tree_size").row(0)
    ('acme', 1, 1)
    """
    return (
        events.group_by("tenant_id")
        .agg(
            first_seq=pl.col("seq").min(),
            stored=pl.len(),
            tree_size=pl.col("seq").max() + 1,
            oldest=pl.col("occurred_at").min(),
            newest=pl.col("occurred_at").max(),
        )
        .sort("tenant_id")
        .select(list(HISTORY_SCHEMA))
        .cast(HISTORY_SCHEMA)
    )


def inputs_from_frame(
    events: pl.DataFrame,
    *,
    period: str | Period | None = None,
    generated_at: datetime | None = None,
    verification: VerificationReport | None = None,
    checkpoints: Sequence[Checkpoint] = (),
    public_key: Any | None = None,
    history: pl.DataFrame | None = None,
    options: ReportOptions | None = None,
    config: ReportConfig | None = None,
) -> ReportInputs:
    """Report inputs from an event frame (not read from a store).

    Without ``verification`` the report says the events were not verified, and the
    integrity controls need review.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> inputs = inputs_from_frame(df)
    >>> inputs.tenants, str(inputs.period), inputs.verification is None
    (('acme',), '2026-01-05..2026-01-05', True)
    """
    missing = [c for c in FRAME_SCHEMA if c not in events.columns]
    if missing:
        raise UsageError(f"events: expected an event frame, missing columns {missing}")
    frame = events.select(list(FRAME_SCHEMA))
    if period is None:  # the span of the activity, not of the reviews recorded after it
        activity = frame.filter(~pl.col("action").is_in(list(RECORD_ACTIONS)))
        activity = activity if activity.height else frame
        t0, t1 = activity["occurred_at"].min(), activity["occurred_at"].max()
        if not isinstance(t0, datetime) or not isinstance(t1, datetime):
            raise UsageError("events: the frame is empty; pass period=")
        span = Period(t0.date(), t1.date())
    else:
        span = Period.parse(period)
    hist = history if history is not None else history_from_frame(frame)
    records = frame.filter(pl.col("action").is_in(list(RECORD_ACTIONS)))
    frame = frame.filter(
        pl.col("occurred_at").is_between(span.start_at, span.end_exclusive, closed="left")
    )
    tenants = tuple(sorted(hist["tenant_id"].unique().to_list()))
    fingerprint = pem = None
    if public_key is not None:
        fingerprint, pem = key_fingerprint(public_key), public_key_pem(public_key)
    return ReportInputs(
        events=frame,
        tenants=tenants,
        period=span,
        generated_at=generated_at or _now(),
        history=hist,
        verification=verification,
        checkpoints=tuple(checkpoints),
        key_fingerprint=fingerprint,
        public_key_pem=pem,
        key_source="given public key" if public_key is not None else None,
        key_independent=public_key is not None,
        options=options or ReportOptions(),
        records=records,
        config=config or ReportConfig(),
    )
