"""Status rules: functions ``(sections, **params) -> RuleOutcome``, registered by name.

Catalogs name a control's rules with their parameters; the control's status is the
worst of its rules' statuses.  Each rule says *why* in sentences that name the
tenant, source, class or event, and points at the evidence (section, table, event
ids).  Parameters whose name is in :data:`STATUS_PARAMS` take a status value.

Examples
--------
>>> from auditkit.frame import events_to_frame
>>> from auditkit.reports._inputs import inputs_from_frame
>>> from auditkit.reports.sections import SectionSet
>>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
...                        "action": "user.login", "actor": {"id": "u1"}}])
>>> out = classes_present(SectionSet(inputs_from_frame(df)), classes=["login_failure"])
>>> out.status.value, out.reasons[0]
('fail', "acme: no 'login_failure' event (Failed or denied sign-ins) in the period")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import polars as pl

from auditkit.errors import UsageError
from auditkit.reports.catalog import event_classes
from auditkit.reports.model import MAX_REF_IDS, EvidenceRef, Status
from auditkit.reports.records import RECORD_ACTIONS
from auditkit.reports.sections import FIELD_CHECKS, SectionSet, when_text

__all__ = ["STATUS_PARAMS", "RuleOutcome", "available_rules", "evaluate", "rule"]

#: Rule parameters that take a status (``pass``, ``needs_review`` or ``fail``).
STATUS_PARAMS: Final = frozenset(
    {"missing", "status", "on_gap", "on_disable", "out_of_order", "young", "operated"}
)
_SEVERITY_RANK: Final = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule concluded: a status, the reasons and the evidence.

    Examples
    --------
    >>> RuleOutcome(Status.PASS, ("all good",)).status.label
    'pass'
    """

    status: Status
    reasons: tuple[str, ...] = ()
    evidence: tuple[EvidenceRef, ...] = ()


RuleFn = Callable[..., RuleOutcome]
_RULES: dict[str, RuleFn] = {}


def rule(name: str) -> Callable[[RuleFn], RuleFn]:
    """Register the decorated function as rule ``name``.

    Examples
    --------
    >>> @rule("example_always_pass")
    ... def _always(sections):
    ...     return RuleOutcome(Status.PASS, ("nothing to check",))
    >>> "example_always_pass" in available_rules()
    True
    >>> _ = _RULES.pop("example_always_pass")
    """

    def register(fn: RuleFn) -> RuleFn:
        _RULES[name] = fn
        return fn

    return register


def available_rules() -> dict[str, RuleFn]:
    """The registered rules, by name.

    Examples
    --------
    >>> {"integrity_verified", "classes_present", "retention"} <= set(available_rules())
    True
    """
    return dict(sorted(_RULES.items()))


def _status(value: Any, name: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise UsageError(
            f"rule parameter {name!r}: expected one of {', '.join(Status)}, got {value!r}"
        ) from None


def evaluate(sections: SectionSet, name: str, params: dict[str, Any]) -> RuleOutcome:
    """Run rule ``name`` with ``params`` (status parameters checked first).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports._inputs import inputs_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> evaluate(SectionSet(inputs_from_frame(df)), "integrity_verified", {}).status.value
    'needs_review'
    """
    if name not in _RULES:
        raise UsageError(f"unknown rule {name!r}; known: {', '.join(available_rules())}")
    for key in STATUS_PARAMS & params.keys():
        _status(params[key], key)
    return _RULES[name](sections, **params)


def _ids(frame: pl.DataFrame, column: str = "event_id") -> tuple[str, ...]:
    if column not in frame.columns:
        return ()
    series = frame.get_column(column)
    if isinstance(series.dtype, pl.List):
        series = series.explode()
    return tuple(str(x) for x in series.drop_nulls().head(MAX_REF_IDS).to_list())


def _more(items: Sequence[str], limit: int = 5) -> list[str]:
    if len(items) <= limit:
        return list(items)
    return [*items[:limit], f"... and {len(items) - limit} more of the same kind"]


def _activity_counts(sections: SectionSet) -> dict[str, int]:
    """Events per tenant in the period, auditkit's own review and disposition records aside."""
    ev = sections.events.filter(~pl.col("action").is_in(list(RECORD_ACTIONS)))
    return dict(ev.group_by("tenant_id").len().iter_rows()) if ev.height else {}


def _silent(sections: SectionSet) -> list[str]:
    """The scope's tenants that recorded no event in the period (records aside)."""
    counts = _activity_counts(sections)
    return [t for t in sections.inputs.tenants if not counts.get(t)]


def _empty(tenants: Sequence[str], what: str, why: str = "") -> list[tuple[Status, str]]:
    """``needs review`` for each tenant whose population is empty: nothing can pass on it."""
    return [
        (
            Status.NEEDS_REVIEW,
            f"{t}: no event recorded in the period{why}, so {what} cannot be shown",
        )
        for t in tenants
    ]


def _not_on_empty(status: Status) -> Status:
    """A status given for an empty population: never ``pass`` (at least ``needs review``)."""
    return Status.NEEDS_REVIEW if status is Status.PASS else status


# ------------------------------------------------------------------------------ rules
@rule("events_recorded")
def events_recorded(sections: SectionSet, *, min_events: int = 1) -> RuleOutcome:
    """Each tenant recorded at least ``min_events`` events in the period.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> events_recorded(example_sections()).reasons
    ('8 events recorded from 1 source(s) in the period',)
    """
    ev = sections.events.filter(~pl.col("action").is_in(list(RECORD_ACTIONS)))
    counts = _activity_counts(sections)
    low = [t for t in sections.inputs.tenants if counts.get(t, 0) < max(min_events, 1)]
    if low:
        return RuleOutcome(
            Status.FAIL,
            tuple(
                f"{t}: {counts.get(t, 0)} event(s) recorded in the period, expected at least "
                f"{min_events}"
                for t in low
            ),
            (EvidenceRef("coverage", "matrix", "events per class and source"),),
        )
    sources = ev.get_column("observer_service").n_unique() if ev.height else 0
    return RuleOutcome(
        Status.PASS, (f"{ev.height:,} events recorded from {sources} source(s) in the period",)
    )


@rule("integrity_verified")
def integrity_verified(sections: SectionSet) -> RuleOutcome:
    """Verification of the tenants' whole trails found no problem.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> integrity_verified(example_sections()).status.value  # not from a store
    'needs_review'
    """
    facts = sections["integrity"].facts
    if facts.get("verified") is None:
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            (
                "the events were not read from an auditkit store, so their integrity was not "
                "verified",
            ),
        )
    if facts["verified"] and not facts.get("records_verified"):
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            ("no record in the audit trail to verify: its integrity cannot be shown",),
            (EvidenceRef("integrity", "tenants", "verified logs per tenant"),),
        )
    if facts["verified"]:
        return RuleOutcome(
            Status.PASS,
            (
                f"all {facts['records_verified']:,} records re-hashed and matched the signed "
                "Merkle roots; no record modified, deleted, inserted or reordered",
            ),
            (EvidenceRef("integrity", "tenants", "verified logs per tenant"),),
        )
    probs = sections["integrity"].table("problems").frame
    reasons = [
        f"{k} in {t}"
        + (f" at seq {s}" if s is not None else "")
        + (f" (event {e})" if e else "")
        + f": {d}"
        for k, t, s, e, d in probs.select("kind", "tenant_id", "seq", "event_id", "detail")
        .head(5)
        .iter_rows()
    ]
    head = f"verification found {probs.height} problem(s): the audit trail was altered"
    return RuleOutcome(
        Status.FAIL,
        (head, *reasons),
        (EvidenceRef("integrity", "problems", head, _ids(probs), probs.height),),
    )


_SIGNING_KINDS: Final = {
    "bad_signature",
    "wrong_key",
    "unsigned",
    "wrong_store",
    "fork",
    "rollback",
    "truncated",
    "tree_mismatch",
}


@rule("signed_checkpoints")
def signed_checkpoints(
    sections: SectionSet, *, independent_key: str = "needs_review"
) -> RuleOutcome:
    """Each tenant's log is committed by a validly signed checkpoint from a trusted key.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> signed_checkpoints(example_sections()).status.value  # not from a store
    'needs_review'
    """
    sec = sections["integrity"]
    facts = sec.facts
    if facts.get("verified") is None:
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            ("the events were not read from an auditkit store: no signed checkpoint to check",),
        )
    probs = sec.table("problems").frame.filter(pl.col("kind").is_in(list(_SIGNING_KINDS)))
    cps = sec.table("checkpoints").frame
    unsigned = [t for t in sections.inputs.tenants if t not in cps["tenant_id"].to_list()]
    reasons: list[str] = []
    status = Status.PASS
    if probs.height or unsigned:
        status = Status.FAIL
        reasons += [
            f"{k} in {t}: {d}"
            for k, t, d in probs.select("kind", "tenant_id", "detail").head(5).iter_rows()
        ]
        reasons += [f"{t}: no signed checkpoint covers the log" for t in unsigned]
    if not facts.get("key_independent"):
        status = Status.worst([status, _status(independent_key, "independent_key")])
        reasons.append(
            f"the verifying key came from {facts.get('key_source')}, not from a "
            "key file kept apart from the database"
        )
    fp = str(facts.get("key_fingerprint") or "")
    if status is Status.PASS:
        reasons.append(
            f"every tenant's log is committed by a checkpoint signed with Ed25519 "
            f"key {fp[:16]}…, verified with the key from {facts.get('key_source')}"
        )
    return RuleOutcome(
        status,
        tuple(reasons),
        (EvidenceRef("integrity", "checkpoints", "signed checkpoints", count=cps.height),),
    )


@rule("classes_present")
def classes_present(
    sections: SectionSet,
    *,
    classes: Sequence[str],
    missing: str = "fail",
    operated: str = "pass",
) -> RuleOutcome:
    """Every tenant recorded events of each class in ``classes`` (status ``operated``
    then: ``evidence_present`` where the events alone do not show the control worked).

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> classes_present(example_sections(), classes=["credential_change"]).reasons
    ("acme: no 'credential_change' event (Credential and MFA changes) in the period",)
    """
    unknown = [c for c in classes if c not in event_classes()]
    if unknown:
        raise UsageError(f"classes_present: unknown event class(es) {unknown}")
    matrix = (
        sections["coverage"]
        .table("matrix")
        .frame.filter(pl.col("event_class").is_in(list(classes)))
    )
    gaps = matrix.filter(pl.col("total") == 0)
    titles = {k: v.title for k, v in event_classes().items()}
    if gaps.height:
        reasons = tuple(
            f"{t}: no '{c}' event ({titles[c]}) in the period"
            for t, c in gaps.select("tenant_id", "event_class").iter_rows()
        )
        return RuleOutcome(
            _not_on_empty(_status(missing, "missing")),
            reasons,
            (
                EvidenceRef(
                    "coverage",
                    "matrix",
                    "classes without events: "
                    + ", ".join(sorted(set(gaps["event_class"].to_list()))),
                    count=gaps.height,
                ),
            ),
        )
    totals = matrix.group_by("event_class").agg(pl.col("total").sum())
    found = dict(totals.iter_rows())
    text = ", ".join(f"{c} ({found.get(c, 0):,})" for c in classes)
    evidence = [
        EvidenceRef(
            "coverage",
            "matrix",
            f"events of {', '.join(classes)}",
            count=int(sum(found.values())),
        )
    ]
    cited = [f"recorded for every tenant: {text}"]
    if sections.framework is not None:
        picked = sections["samples"].table("samples").frame
        mine = picked.filter(pl.col("control") == sections.current_control)
        if mine.height:
            seed = sections.sample_seed
            cited.append(
                f"sample of {mine.height} event(s) drawn with seed {seed} from the population "
                "(method and full population in the Samples section and the bundle)"
            )
            evidence.append(
                EvidenceRef(
                    "samples",
                    "samples",
                    f"seeded sample (seed {seed}) for the auditor to inspect",
                    _ids(mine),
                    mine.height,
                )
            )
    return RuleOutcome(_status(operated, "operated"), tuple(cited), tuple(evidence))


@rule("fields_complete")
def fields_complete(
    sections: SectionSet, *, fields: Sequence[str], threshold: float = 0.99
) -> RuleOutcome:
    """Each field in ``fields`` is present in at least ``threshold`` of applicable events,
    for every tenant and source.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> fields_complete(example_sections(), fields=["actor_id", "source_ip"]).status.value
    'pass'
    """
    unknown = [f for f in fields if f not in FIELD_CHECKS]
    if unknown:
        raise UsageError(
            f"fields_complete: unknown field(s) {unknown}; known: {', '.join(FIELD_CHECKS)}"
        )
    detail = (
        sections["fields"]
        .table("detail")
        .frame.filter(pl.col("field").is_in(list(fields)) & pl.col("share").is_not_null())
    )
    low = detail.filter(pl.col("share") < threshold).sort("share")
    seen = set(detail.select("tenant_id", "field").iter_rows())
    silent = _silent(sections)
    empty = _empty(silent, "field completeness")
    empty += [
        (
            Status.NEEDS_REVIEW,
            f"{t}: no event in the period to which '{f}' applies: its completeness cannot be shown",
        )
        for t in sections.inputs.tenants
        if t not in silent
        for f in fields
        if (t, f) not in seen
    ]
    if low.height:
        reasons, evidence = [], []
        ev = sections.events.filter(~pl.col("action").is_in(list(RECORD_ACTIONS))).with_columns(
            source=pl.col("observer_service").fill_null("(unknown)")
        )
        for t, src, f, share, n in low.select(
            "tenant_id", "source", "field", "share", "applicable"
        ).iter_rows():
            _, applies, present = FIELD_CHECKS[f]
            text = (
                f"{t}: '{f}' present in {share:.1%} of {n:,} applicable events from "
                f"source '{src}', expected at least {threshold:.0%}"
            )
            reasons.append(text)
            lacking = ev.filter(
                (pl.col("tenant_id") == t) & (pl.col("source") == src) & applies & ~present
            )
            evidence.append(EvidenceRef("fields", "detail", text, _ids(lacking), lacking.height))
        reasons += [text for _, text in empty]
        return RuleOutcome(Status.FAIL, tuple(_more(reasons)), tuple(evidence))
    if empty:
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            tuple(_more([text for _, text in empty])),
            (EvidenceRef("fields", "detail", "applicable events per tenant, source and field"),),
        )
    worst = detail.sort("share", "tenant_id", "source", "field").head(1)
    lowest = (
        ""
        if not worst.height
        else f" (lowest: '{worst['field'][0]}' {worst['share'][0]:.2%} from '{worst['source'][0]}')"
    )
    return RuleOutcome(
        Status.PASS,
        (
            f"{', '.join(fields)} present in at least {threshold:.0%} of applicable events from "
            f"every source{lowest}",
        ),
        (EvidenceRef("fields", "completeness", "completeness per source"),),
    )


@rule("retention")
def retention(
    sections: SectionSet,
    *,
    months: int = 12,
    available_months: int = 3,
    min_setting_days: int = 365,
    young: str = "needs_review",
) -> RuleOutcome:
    """History of ``months`` retained, the last ``available_months`` at hand, and no
    retention setting below ``min_setting_days``.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> retention(example_sections()).reasons[0][:40]
    'acme: the log starts 2026-01-05, 0 days '
    """
    sec = sections["retention"]
    tenants = sec.table("tenants").frame
    as_of = sections.as_of
    need = timedelta(days=round(months * 365 / 12))
    hot = timedelta(days=round(available_months * 365 / 12))
    out: list[tuple[Status, str]] = []
    evidence: list[EvidenceRef] = [EvidenceRef("retention", "tenants", "retained history")]
    for row in tenants.iter_rows(named=True):
        t, oldest = row["tenant_id"], row["oldest"]
        if not row["stored"] or oldest is None:
            out.append((Status.FAIL, f"{t}: no event retained"))
            continue
        span = as_of - oldest
        days = span.days
        if span >= need:
            out.append(
                (
                    Status.PASS,
                    f"{t}: {days} days retained (since {oldest:%Y-%m-%d}), "
                    f"at least {months} months",
                )
            )
        elif row["complete_history"]:
            out.append(
                (
                    _status(young, "young"),
                    f"{t}: the log starts {oldest:%Y-%m-%d}, {days} days before "
                    f"{as_of:%Y-%m-%d}; {months} months of retention cannot be shown yet "
                    "(no record was removed)",
                )
            )
        else:
            out.append(
                (
                    Status.FAIL,
                    f"{t}: only {days} days retained and {row['removed']} "
                    f"signed record(s) removed: less than {months} months",
                )
            )
        if span < hot and not row["complete_history"]:
            out.append(
                (
                    Status.FAIL,
                    f"{t}: the last {available_months} months are not all immediately available",
                )
            )
    changes = sec.table("retention_changes").frame.filter(pl.col("after_days") < min_setting_days)
    for t, when, actor, after, eid in changes.select(
        "tenant_id", "occurred_at", "actor_id", "after_days", "event_id"
    ).iter_rows():
        text = (
            f"{t}: audit retention set to {after} days by {actor} on {when_text(when)}, "
            f"below {min_setting_days} days"
        )
        out.append((Status.NEEDS_REVIEW, text))
        evidence.append(EvidenceRef("retention", "retention_changes", text, (eid,), 1))
    status = Status.worst(s for s, _ in out)
    ordered = sorted(out, key=lambda p: -p[0].rank)
    return RuleOutcome(status, tuple(text for _, text in ordered), tuple(evidence))


@rule("no_logging_gaps")
def no_logging_gaps(
    sections: SectionSet, *, on_gap: str = "fail", on_disable: str = "needs_review"
) -> RuleOutcome:
    """No source went silent for longer than usual; audit logging never switched off.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> no_logging_gaps(example_sections()).status.value
    'pass'
    """
    sec = sections["logging_gaps"]
    gaps = sections.findings.filter(pl.col("detector") == "logging_gap")
    windows = sec.table("disabled_windows").frame
    out: list[tuple[Status, str]] = _empty(
        _silent(sections),
        "that no source went silent",
        " (every source silent the whole period: a logging gap, or a tenant not active then)",
    )
    evidence = []
    for t, summary, ids in gaps.select("tenant_id", "summary", "event_ids").iter_rows():
        out.append((_status(on_gap, "on_gap"), f"{t}: {summary}"))
        evidence.append(EvidenceRef("logging_gaps", "silences", summary, tuple(ids), len(ids)))
    for row in windows.iter_rows(named=True):
        text = (
            f"{row['tenant_id']}: audit logging switched off by {row['actor_id']} at "
            f"{when_text(row['disabled_at'])}"
            + (
                " and not switched on again in the period"
                if row["still_disabled"]
                else f", on again at {when_text(row['enabled_at'])}"
            )
            + f"; {row['events_recorded_meanwhile']} event(s) still recorded meanwhile"
        )
        out.append((_status(on_disable, "on_disable"), text))
        evidence.append(
            EvidenceRef("logging_gaps", "disabled_windows", text, (row["event_id"],), 1)
        )
    if not out:
        return RuleOutcome(
            Status.PASS,
            (
                "no source went silent for longer than usual and audit logging was never "
                "switched off",
            ),
            (EvidenceRef("logging_gaps", "daily_volume", "events per day and source"),),
        )
    ordered = sorted(out, key=lambda p: -p[0].rank)
    return RuleOutcome(
        Status.worst(s for s, _ in out), tuple(_more([t for _, t in ordered])), tuple(evidence)
    )


@rule("clock_consistent")
def clock_consistent(
    sections: SectionSet, *, max_share: float = 0.001, out_of_order: str = "needs_review"
) -> RuleOutcome:
    """Events are not dated after their arrival (beyond tolerance) nor out of order.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> clock_consistent(example_sections()).status.value
    'pass'
    """
    sec = sections["clock"]
    f = sec.facts
    ex = sec.table("examples").frame
    out: list[tuple[Status, str]] = _empty(
        _silent(sections), "that event times are consistent with their arrival"
    )
    if f["future_dated"]:
        status = Status.FAIL if f["future_share"] > max_share else Status.NEEDS_REVIEW
        out.append(
            (
                status,
                f"{f['future_dated']} event(s) ({f['future_share']:.3%}) dated "
                f"more than {f['tolerance']} after the store received them: a "
                "producer's clock runs ahead",
            )
        )
    if f["out_of_order"]:
        out.append(
            (
                _status(out_of_order, "out_of_order"),
                f"{f['out_of_order']} event(s) dated more than {f['tolerance']} before an "
                "earlier-stored event of the same source",
            )
        )
    if not out:
        return RuleOutcome(
            Status.PASS,
            (f"no event dated after its arrival or out of order by more than {f['tolerance']}",),
            (EvidenceRef("clock", "by_source", "timing per source"),),
        )
    return RuleOutcome(
        Status.worst(s for s, _ in out),
        tuple(t for _, t in sorted(out, key=lambda p: -p[0].rank)),
        (EvidenceRef("clock", "examples", "events flagged", _ids(ex), ex.height),),
    )


@rule("detections_ran")
def detections_ran(sections: SectionSet) -> RuleOutcome:
    """Automated analysis: the registered detectors ran over every event of the period.

    They ran when the report was built, which may be long after the period: that
    supports a review but does not show one was done in the period (``evidence
    present``, never ``pass``; see the ``daily_review`` rule).

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> detections_ran(example_sections()).status.value
    'evidence_present'
    """
    n = len(sections.detectors_run)
    if not n:
        return RuleOutcome(Status.NEEDS_REVIEW, ("no detector was run over the events",))
    silent = _empty(_silent(sections), "that the detectors analysed the tenant's activity")
    if silent:
        return RuleOutcome(Status.NEEDS_REVIEW, tuple(_more([text for _, text in silent])))
    return RuleOutcome(
        Status.EVIDENCE_PRESENT,
        (
            f"{n} detectors analysed all {sections.events.height:,} events of the period when "
            f"this report was built ({when_text(sections.inputs.generated_at)}): automated "
            "analysis, not evidence that the logs were reviewed during the period",
        ),
        (
            EvidenceRef(
                "detections",
                "findings",
                "findings of the automated analysis",
                count=sections.findings.height,
            ),
        ),
    )


@rule("daily_review")
def daily_review(
    sections: SectionSet, *, max_lag_days: int = 1, missing: str = "fail"
) -> RuleOutcome:
    """Every day of the period was reviewed by a person within ``max_lag_days`` days,
    as recorded by ``auditkit review`` in the tenant's own trail.

    A review recorded later still covers its days but shows as late (needs review);
    a day no review covers fails; no review record at all takes ``missing``.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> daily_review(example_sections()).reasons[0][:40]
    'acme: no review record in the audit trai'
    """
    period = sections.inputs.period
    last = min(period.end, (sections.inputs.generated_at - timedelta(days=1)).date())
    if last < period.start:
        last = period.start
    days = pl.date_range(period.start, last, "1d", eager=True).alias("day")
    revs = sections.reviews
    out: list[tuple[Status, str]] = []
    evidence: list[EvidenceRef] = []
    evidence.append(
        EvidenceRef("review_records", "reviews", "review records of the tenants", count=revs.height)
    )
    for t in sections.inputs.tenants:
        mine = revs.filter(pl.col("tenant_id") == t)
        if not mine.height:
            out.append(
                (
                    _status(missing, "missing"),
                    f"{t}: no review record in the audit trail: nothing shows the logs were "
                    "reviewed (record each review with `auditkit review`, or request the "
                    "review evidence: sign-offs, tickets)",
                )
            )
            continue
        grid = (
            days.to_frame()
            .join(mine, how="cross")
            .filter(pl.col("day").is_between(pl.col("covers_from"), pl.col("covers_to")))
            .with_columns(
                on_time=pl.col("reviewed_at").dt.date()
                <= pl.col("day") + pl.duration(days=max_lag_days)
            )
            .group_by("day")
            .agg(pl.col("on_time").any(), pl.col("reviewer").unique().sort())
        )
        covered = grid.height
        late = grid.filter(~pl.col("on_time")).sort("day")
        uncovered = days.len() - covered
        ids = tuple(mine["event_id"].to_list())
        if uncovered:
            missed = days.to_frame().join(grid, on="day", how="anti")["day"].to_list()
            first = ", ".join(str(d) for d in missed[:5])
            out.append(
                (
                    Status.FAIL,
                    f"{t}: {uncovered} of {days.len()} day(s) have no review record "
                    f"(first: {first})",
                )
            )
        if late.height:
            out.append(
                (
                    Status.NEEDS_REVIEW,
                    f"{t}: {late.height} day(s) reviewed more than {max_lag_days} day(s) later "
                    f"(first: {late['day'][0]})",
                )
            )
        if not uncovered and not late.height:
            people = sorted(set(mine["reviewer"].to_list()))
            out.append(
                (
                    Status.PASS,
                    f"{t}: each of the {days.len()} day(s) reviewed within {max_lag_days} day(s) "
                    f"({mine.height} review record(s) by {', '.join(people)})",
                )
            )
        evidence.append(
            EvidenceRef(
                "review_records", "reviews", f"{t}: review records", ids[:MAX_REF_IDS], len(ids)
            )
        )
    ordered = sorted(out, key=lambda p: -p[0].rank)
    return RuleOutcome(
        Status.worst(s for s, _ in out), tuple(_more([x for _, x in ordered])), tuple(evidence)
    )


@rule("logging_active")
def logging_active(sections: SectionSet, *, max_off_hours: float = 24) -> RuleOutcome:
    """Audit logging stayed on: never switched off for longer than ``max_off_hours``,
    and on again before the period ends.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> logging_active(example_sections()).status.value
    'pass'
    """
    windows = sections["logging_gaps"].table("disabled_windows").frame
    out: list[tuple[Status, str]] = _empty(_silent(sections), "that audit logging stayed on")
    evidence = []
    for row in windows.iter_rows(named=True):
        hours = row["off_hours"]
        if row["still_disabled"]:
            status = Status.FAIL
            text = (
                f"{row['tenant_id']}: audit logging switched off by {row['actor_id']} at "
                f"{when_text(row['disabled_at'])} and not switched on again by the end of the "
                f"period ({hours:,.0f} hours): events of that time may be missing"
            )
        else:
            status = Status.FAIL if hours > max_off_hours else Status.NEEDS_REVIEW
            text = (
                f"{row['tenant_id']}: audit logging switched off by {row['actor_id']} for "
                f"{hours:,.1f} hours from {when_text(row['disabled_at'])}"
                + (f", longer than {max_off_hours:g} hours" if status is Status.FAIL else "")
            )
        out.append((status, text))
        evidence.append(
            EvidenceRef("logging_gaps", "disabled_windows", text, (row["event_id"],), 1)
        )
    if not out:
        return RuleOutcome(
            Status.PASS,
            ("audit logging was not switched off in the period",),
            (EvidenceRef("logging_gaps", "logging_changes", "audit logging switched or changed"),),
        )
    ordered = sorted(out, key=lambda p: -p[0].rank)
    return RuleOutcome(
        Status.worst(s for s, _ in out), tuple(_more([x for _, x in ordered])), tuple(evidence)
    )


@rule("findings_reviewed")
def findings_reviewed(
    sections: SectionSet,
    *,
    min_severity: str = "high",
    detectors: Sequence[str] | None = None,
    status: str = "needs_review",
) -> RuleOutcome:
    """No detection finding of ``min_severity`` or above (from ``detectors``, default all);
    otherwise each one must be reviewed.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> findings_reviewed(example_sections(), min_severity="critical").reasons[1][:38]
    'critical self_privilege_grant in acme '
    """
    if min_severity not in _SEVERITY_RANK:
        raise UsageError(
            f"findings_reviewed: min_severity: expected one of "
            f"{', '.join(_SEVERITY_RANK)}, got {min_severity!r}"
        )
    f = sections.findings.filter(
        pl.col("severity").replace_strict(_SEVERITY_RANK, default=-1)
        >= _SEVERITY_RANK[min_severity]
    )
    if detectors is not None:
        f = f.filter(pl.col("detector").is_in(list(detectors)))
    scope = f" from {', '.join(detectors)}" if detectors is not None else ""
    silent = _empty(
        [t for t in _silent(sections) if t not in set(f["tenant_id"].to_list())],
        "that findings were addressed",
        " (nothing for the detectors to analyse)",
    )
    if not f.height and silent:
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            tuple(_more([text for _, text in silent])),
            (EvidenceRef("detections", "findings", "findings", count=0),),
        )
    if not f.height:
        return RuleOutcome(
            Status.PASS,
            (f"no finding of severity {min_severity} or above{scope}",),
            (EvidenceRef("detections", "findings", "findings", count=0),),
        )
    decided = sections.dispositions.select(
        "tenant_id", "finding_id", "disposition", "decided_by", "decided_at", "ticket"
    )
    f = f.join(decided, on=["tenant_id", "finding_id"], how="left")
    open_ = f.filter(pl.col("disposition").is_null())
    done = f.filter(pl.col("disposition").is_not_null())
    reasons = [
        f"{sev} {det} in {t} (finding {fid}), no disposition recorded: {summary}"
        for sev, det, t, fid, summary in open_.select(
            "severity", "detector", "tenant_id", "finding_id", "summary"
        ).iter_rows()
    ]
    kinds = dict(done.group_by("disposition").len().sort("disposition").iter_rows())
    decided_text = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in kinds.items())
    evidence = tuple(
        EvidenceRef(
            "detections",
            "evidence",
            f"finding {fid} ({det}, {sev})",
            tuple(ids[:MAX_REF_IDS]),
            len(ids),
        )
        for fid, det, sev, ids in open_.select(
            "finding_id", "detector", "severity", "event_ids"
        ).iter_rows()
    ) + (
        (
            EvidenceRef(
                "review_records", "findings", f"dispositions: {decided_text}", count=done.height
            ),
        )
        if done.height
        else ()
    )
    if not open_.height and silent:
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            (
                *(text for _, text in silent),
                f"all {f.height} finding(s) of severity {min_severity} or above{scope} have a "
                f"recorded disposition ({decided_text})",
            ),
            evidence,
        )
    if not open_.height:
        return RuleOutcome(
            Status.PASS,
            (
                f"all {f.height} finding(s) of severity {min_severity} or above{scope} have a "
                f"recorded disposition ({decided_text})",
            ),
            evidence,
        )
    head = (
        f"{open_.height} of {f.height} finding(s) of severity {min_severity} or above{scope} "
        "have no recorded disposition (record one with `auditkit finding resolve`)"
    )
    if done.height:
        reasons.append(f"{done.height} already resolved: {decided_text}")
    reasons += [text for _, text in silent]
    worst = Status.worst([_status(status, "status"), *(x for x, _ in silent)])
    return RuleOutcome(worst, (head, *_more(reasons)), evidence)


@rule("no_self_grants")
def no_self_grants(sections: SectionSet, *, status: str = "needs_review") -> RuleOutcome:
    """No role or permission was granted by the account that received it.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> no_self_grants(example_sections()).reasons
    ('acme: u1 granted admin to themselves at 2026-01-05 09:05 UTC',)
    """
    t = sections["access_lifecycle"].table("self_grants").frame
    granted = set(sections.of_class("privilege_granted")["tenant_id"].to_list())
    untested = [
        (
            Status.NEEDS_REVIEW,
            f"{ten}: no privilege grant recorded in the period: that no one granted a "
            "privilege to themselves cannot be shown",
        )
        for ten in sections.inputs.tenants
        if ten not in granted
    ]
    if not t.height and untested:
        return RuleOutcome(Status.NEEDS_REVIEW, tuple(_more([x for _, x in untested])))
    if not t.height:
        return RuleOutcome(
            Status.PASS, ("no privilege was granted by the account that received it",)
        )
    reasons = [
        f"{ten}: {actor} granted {role or 'a privilege'} to themselves at {when_text(ts)}"
        for ts, ten, actor, role in t.select(
            "occurred_at", "tenant_id", "actor_id", "role"
        ).iter_rows()
    ]
    return RuleOutcome(
        _status(status, "status"),
        tuple(_more(reasons)),
        (
            EvidenceRef(
                "access_lifecycle",
                "self_grants",
                "privileges granted to oneself",
                _ids(t),
                t.height,
            ),
        ),
    )


@rule("dormant_accounts")
def dormant_accounts(sections: SectionSet, *, status: str = "needs_review") -> RuleOutcome:
    """No user account stayed inactive past the dormancy limit without being removed.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> dormant_accounts(example_sections()).reasons[0][:40]  # a one-day period
    'the period (1 days) is shorter than the '
    """
    sec = sections["access_lifecycle"]
    t = sec.table("dormant").frame
    days = sections.inputs.options.dormant_days
    span = sections.inputs.period.days
    if not t.height and span < days:
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            (
                f"the period ({span} days) is shorter than the {days}-day dormancy limit, so no "
                "account can show that long an inactivity in it: report over at least "
                f"{days} days, or review the list of enabled accounts",
            ),
        )
    users = sections.events.filter(pl.col("actor_type") == "user")
    active = set(users["tenant_id"].to_list())
    idle = [x for x in sections.inputs.tenants if x not in active]
    if not t.height and idle:
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            tuple(
                _more(
                    [
                        f"{x}: no user activity recorded in the period: which accounts were "
                        "left inactive cannot be shown (review the list of enabled accounts)"
                        for x in idle
                    ]
                )
            ),
        )
    if not t.height:
        return RuleOutcome(Status.PASS, (f"no account inactive for {days}+ days was left enabled",))
    reasons = [
        f"{ten}: {actor} inactive since {when_text(ts)} and not suspended or deleted"
        for ten, actor, ts in t.select("tenant_id", "actor_id", "last_seen").iter_rows()
    ]
    return RuleOutcome(
        _status(status, "status"),
        tuple(_more(reasons)),
        (
            EvidenceRef(
                "access_lifecycle", "dormant", f"accounts inactive {days}+ days", count=t.height
            ),
        ),
    )


@rule("not_assessable")
def not_assessable(sections: SectionSet, *, request: str, why: str = "") -> RuleOutcome:
    """A requirement that audit logs cannot show: say what the auditor should request.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> out = not_assessable(example_sections(), request="the NTP configuration")
    >>> out.status.value, out.reasons[0]
    ('not_assessable', 'not assessable from the audit logs: request the NTP configuration')
    """
    text = f"not assessable from the audit logs: request {request}"
    return RuleOutcome(Status.NOT_ASSESSABLE, (text, *((why,) if why else ())))


@rule("sources_reporting")
def sources_reporting(sections: SectionSet, *, missing: str = "fail") -> RuleOutcome:
    """Every source in the configured inventory recorded events in the period.

    Without an inventory (``sources`` in the report configuration) a source that never
    reported would go unseen: the rule then needs review.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> sources_reporting(example_sections()).status.value
    'needs_review'
    """
    sec = sections["completeness"]
    inv = sec.table("inventory").frame
    ev = EvidenceRef("completeness", "inventory", "sources expected and seen", count=inv.height)
    if not sections.inputs.config.has_inventory:
        return RuleOutcome(
            Status.NEEDS_REVIEW,
            (
                "no inventory of expected sources is configured: that every source reported "
                "cannot be shown (list them under 'sources' in the report configuration)",
            ),
            (ev,),
        )
    gone = inv.filter(pl.col("state") == "MISSING")
    early = inv.filter(pl.col("state") == "stopped early")
    out: list[tuple[Status, str]] = [
        (_status(missing, "missing"), f"{t}: expected source '{src}' recorded no event")
        for t, src in gone.select("tenant_id", "source").iter_rows()
    ]
    out += [
        (
            Status.NEEDS_REVIEW,
            f"{t}: source '{src}' recorded nothing after {when_text(last)} ({days} days "
            "before the end of the period)",
        )
        for t, src, last, days in early.select(
            "tenant_id", "source", "last_seen", "silent_days"
        ).iter_rows()
    ]
    expected = inv.filter(pl.col("expected"))
    listed = set(expected["tenant_id"].to_list())
    out += [
        (
            Status.NEEDS_REVIEW,
            f"{t}: no expected source is configured for this tenant: that every source "
            "reported cannot be shown",
        )
        for t in sections.inputs.tenants
        if t not in listed
    ]
    if not out:
        n = expected.height
        return RuleOutcome(
            Status.PASS,
            (f"all {n} expected source(s) recorded events up to the period's end",),
            (ev,),
        )
    ordered = sorted(out, key=lambda p: -p[0].rank)
    return RuleOutcome(
        Status.worst(x for x, _ in out), tuple(_more([t for _, t in ordered])), (ev,)
    )
