"""Review and disposition records: the people's side of log review, kept in the trail.

``auditkit review`` and ``auditkit finding resolve`` append one event each to the
tenant's own audit trail, through :meth:`Store.append <auditkit.store.Store.append>`:
the record is hashed into the tenant's Merkle tree and committed by a signed
checkpoint like any other event, so a review or a disposition cannot be added,
back-dated or removed later without verification naming it.

- ``audit_log.review``: a person reviewed the audit trail of a period
  (``metadata.period_start``/``period_end``, ``metadata.note``). When it was done is
  the event's ``occurred_at``, set by auditkit at the time of recording, so a review
  recorded after the fact shows as late, never as timely.
- ``finding.resolve``: a person decided what a detection finding was
  (``metadata.finding_id``, ``disposition`` one of :data:`DISPOSITIONS`,
  ``ticket``, ``note``).

Reports read these records over the tenant's whole history (a review recorded after
the period still covers it) and use them for the daily-review and incident-response
controls.

Examples
--------
>>> e = review_event(tenant="acme", period="2026-03-02..2026-03-02", reviewer="ann",
...                  at=datetime(2026, 3, 3, 8, tzinfo=UTC))
>>> e["action"], e["metadata"]["period_start"], e["occurred_at"]
('audit_log.review', '2026-03-02', '2026-03-03T08:00:00.000000Z')
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl

from auditkit.errors import UsageError
from auditkit.times import Period, format_instant

__all__ = [
    "DISPOSITIONS",
    "DISPOSITION_ACTION",
    "RECORD_ACTIONS",
    "REVIEW_ACTION",
    "disposition_event",
    "dispositions",
    "review_event",
    "reviews",
]

REVIEW_ACTION: Final = "audit_log.review"
DISPOSITION_ACTION: Final = "finding.resolve"
RECORD_ACTIONS: Final = (REVIEW_ACTION, DISPOSITION_ACTION)
#: What a finding turned out to be.
DISPOSITIONS: Final = ("remediated", "false_positive", "accepted_risk")
_FINDING_ID: Final = re.compile(r"^[0-9a-f]{16}\Z")
_OBSERVER: Final = {"service": "auditkit"}


def _record(
    kind: str,
    tenant: str,
    action: str,
    who: str,
    target: dict[str, str],
    description: str,
    meta: dict[str, Any],
    note: str | None,
    at: datetime | None,
) -> dict[str, Any]:
    """A review or disposition as an event of the tenant's own trail, by ``who``."""
    text = _note(note)
    if text:
        meta["note"] = text
    return {
        "event_id": f"auditkit-{kind}-{uuid.uuid4().hex}",
        "tenant_id": tenant,
        "occurred_at": format_instant(at or datetime.now(UTC)),
        "action": action,
        "category": "management",
        "outcome": "success",
        "actor": {"id": who, "type": "user", "name": who},
        "targets": [target],
        "observer": dict(_OBSERVER),
        "description": description,
        "metadata": meta,
    }


def _person(name: str, option: str) -> str:
    text = (name or "").strip()
    if not text or not text.isprintable() or len(text) > 200:
        raise UsageError(f"{option}: expected the name of a person, got {name!r}")
    return text


def _note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    if len(note) > 4000:
        raise UsageError(f"--note: at most 4000 characters, got {len(note)}")
    return note.strip()


def review_event(
    *,
    tenant: str,
    period: str | Period,
    reviewer: str,
    note: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The ``audit_log.review`` event of ``reviewer`` reviewing ``tenant``'s trail for
    ``period`` (a ``START..END`` period, or one day; recorded at ``at``, default now).

    Examples
    --------
    >>> review_event(tenant="acme", period="2026-03-02", reviewer="ann")["metadata"]
    {'period_start': '2026-03-02', 'period_end': '2026-03-02'}
    >>> review_event(tenant="acme", period="2026-03-02..2026-03-08", reviewer=" ")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --reviewer: expected the name of a person, got ' '
    >>> review_event(tenant="acme", period="2026-03-02..2026-03-31", reviewer="ann",
    ...              at=datetime(2026, 3, 20, tzinfo=UTC))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --period: 2026-03-02..2026-03-31 ends after the review ...
    """
    if (
        isinstance(period, str)
        and ".." not in period
        and re.fullmatch(r"\d{4}-\d{2}-\d{2}", period)
    ):
        period = f"{period}..{period}"  # one day
    span = Period.parse(period)
    when = at or datetime.now(UTC)
    if span.end > when.astimezone(UTC).date():
        raise UsageError(
            f"--period: {span} ends after the review ({when:%Y-%m-%d}): a review covers "
            "days that have passed"
        )
    who = _person(reviewer, "--reviewer")
    meta: dict[str, Any] = {
        "period_start": span.start.isoformat(),
        "period_end": span.end.isoformat(),
    }
    return _record(
        "review", tenant, REVIEW_ACTION, who, {"id": tenant, "type": "audit_log"},
        f"{who} reviewed the audit trail for {span}", meta, note, at,
    )  # fmt: skip


def disposition_event(
    *,
    tenant: str,
    finding_id: str,
    disposition: str,
    ticket: str,
    by: str,
    note: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The ``finding.resolve`` event recording ``by``'s decision on one finding.

    Examples
    --------
    >>> e = disposition_event(tenant="acme", finding_id="0123456789abcdef",
    ...                       disposition="false_positive", ticket="SEC-12", by="ann")
    >>> e["metadata"]["disposition"], e["targets"][0]["id"]
    ('false_positive', '0123456789abcdef')
    >>> disposition_event(tenant="acme", finding_id="0123456789abcdef",
    ...                   disposition="ignored", ticket="SEC-12", by="ann")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --disposition: expected one of remediated, false_positive, accepted_risk, got 'ignored'
    """  # noqa: E501
    if not _FINDING_ID.match(finding_id or ""):
        raise UsageError(
            f"finding id: expected the 16 hex digits a report or `auditkit detect` shows, "
            f"got {finding_id!r}"
        )
    if disposition not in DISPOSITIONS:
        raise UsageError(
            f"--disposition: expected one of {', '.join(DISPOSITIONS)}, got {disposition!r}"
        )
    ref = (ticket or "").strip()
    if not ref or not ref.isprintable() or len(ref) > 200:
        raise UsageError(f"--ticket: expected a ticket or change reference, got {ticket!r}")
    who = _person(by, "--by")
    meta: dict[str, Any] = {"finding_id": finding_id, "disposition": disposition, "ticket": ref}
    return _record(
        "finding", tenant, DISPOSITION_ACTION, who, {"id": finding_id, "type": "finding"},
        f"{who} resolved finding {finding_id} as {disposition} ({ref})", meta, note, at,
    )  # fmt: skip


_REVIEW_META = pl.Struct({"period_start": pl.String, "period_end": pl.String, "note": pl.String})
_DISPOSITION_META = pl.Struct(
    {
        "finding_id": pl.String,
        "disposition": pl.String,
        "ticket": pl.String,
        "note": pl.String,
    }
)

REVIEWS_SCHEMA: Final = pl.Schema(
    {  # type: ignore[arg-type]
        "tenant_id": pl.String,
        "reviewed_at": pl.Datetime("us", "UTC"),
        "reviewer": pl.String,
        "covers_from": pl.Date,
        "covers_to": pl.Date,
        "note": pl.String,
        "event_id": pl.String,
    }
)
DISPOSITIONS_SCHEMA: Final = pl.Schema(
    {  # type: ignore[arg-type]
        "tenant_id": pl.String,
        "finding_id": pl.String,
        "disposition": pl.String,
        "ticket": pl.String,
        "decided_by": pl.String,
        "decided_at": pl.Datetime("us", "UTC"),
        "note": pl.String,
        "event_id": pl.String,
    }
)


def reviews(records: pl.DataFrame) -> pl.DataFrame:
    """The review records among ``records`` (an event frame), one row each.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> e = review_event(tenant="acme", period="2026-03-02..2026-03-08", reviewer="ann",
    ...                  at=datetime(2026, 3, 9, tzinfo=UTC))
    >>> reviews(events_to_frame([e])).select("reviewer", "covers_from", "covers_to").row(0)
    ('ann', datetime.date(2026, 3, 2), datetime.date(2026, 3, 8))
    """
    if not records.height:
        return pl.DataFrame(schema=REVIEWS_SCHEMA)
    meta = pl.col("metadata").str.json_decode(_REVIEW_META)
    return (
        records.filter(pl.col("action") == REVIEW_ACTION)
        .with_columns(meta.alias("_m"))
        .select(
            "tenant_id",
            pl.col("occurred_at").alias("reviewed_at"),
            pl.col("actor_id").alias("reviewer"),
            pl.col("_m")
            .struct.field("period_start")
            .str.to_date(strict=False)
            .alias("covers_from"),
            pl.col("_m").struct.field("period_end").str.to_date(strict=False).alias("covers_to"),
            pl.col("_m").struct.field("note").alias("note"),
            "event_id",
        )
        .filter(pl.col("covers_from").is_not_null() & pl.col("covers_to").is_not_null())
        .sort("tenant_id", "reviewed_at", "event_id")
        .cast(REVIEWS_SCHEMA)
    )


def dispositions(records: pl.DataFrame) -> pl.DataFrame:
    """The disposition records among ``records``; the latest per finding comes last.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> e = disposition_event(tenant="acme", finding_id="0123456789abcdef",
    ...                       disposition="remediated", ticket="CHG-7", by="bob")
    >>> dispositions(events_to_frame([e])).select("finding_id", "disposition").row(0)
    ('0123456789abcdef', 'remediated')
    """
    if not records.height:
        return pl.DataFrame(schema=DISPOSITIONS_SCHEMA)
    meta = pl.col("metadata").str.json_decode(_DISPOSITION_META)
    order = [c for c in ("tenant_id", "occurred_at", "seq", "event_id") if c in records.columns]
    return (
        records.filter(pl.col("action") == DISPOSITION_ACTION)
        .sort(order)  # recorded order: ``seq`` breaks ties between records of one instant
        .with_columns(meta.alias("_m"))
        .select(
            "tenant_id",
            pl.col("_m").struct.field("finding_id").alias("finding_id"),
            pl.col("_m").struct.field("disposition").alias("disposition"),
            pl.col("_m").struct.field("ticket").alias("ticket"),
            pl.col("actor_id").alias("decided_by"),
            pl.col("occurred_at").alias("decided_at"),
            pl.col("_m").struct.field("note").alias("note"),
            "event_id",
        )
        .filter(pl.col("disposition").is_in(list(DISPOSITIONS)))
        .cast(DISPOSITIONS_SCHEMA)
    )
