"""Reusable report sections: one registered builder per section, shared by every framework.

A section builder is a function ``(SectionSet) -> Section``, registered with
:func:`section`.  :class:`SectionSet` builds sections on first use and caches the
intermediate frames they share (per-action counts, detection findings), so that rules
and renderers can ask for any section in any order and each is computed once.

Core sections live here (executive summary, integrity, coverage, field completeness);
the others (retention, access lifecycle, privileged activity, failed and denied access,
data access, detections, logging gaps, clock) in ``_sections_activity``.

Examples
--------
>>> list(available_sections())[:3]
['executive_summary', 'integrity', 'coverage']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Final

import polars as pl

from auditkit.errors import UsageError
from auditkit.reports import _charts as charts
from auditkit.reports._inputs import ReportInputs
from auditkit.reports.catalog import Framework, event_classes
from auditkit.reports.model import Section, Table
from auditkit.schema import DEFAULTED_KEY

if TYPE_CHECKING:
    from auditkit.reports.model import ControlResult

__all__ = [
    "SectionDef",
    "SectionSet",
    "available_sections",
    "class_expr",
    "events_table",
    "section",
]

SectionFn = Callable[["SectionSet"], Section]


@dataclass(frozen=True)
class SectionDef:
    """A registered section: id, title and builder."""

    id: str
    title: str
    fn: SectionFn


_SECTIONS: dict[str, SectionDef] = {}


def section(section_id: str, title: str) -> Callable[[SectionFn], SectionFn]:
    """Register the decorated function as the builder of section ``section_id``.

    Examples
    --------
    >>> @section("example_empty", "Nothing")
    ... def _empty(ctx):
    ...     return Section("example_empty", "Nothing")
    >>> "example_empty" in available_sections()
    True
    >>> _ = _SECTIONS.pop("example_empty")
    """

    def register(fn: SectionFn) -> SectionFn:
        known = _SECTIONS.get(section_id)
        if known is not None and known.fn.__qualname__ != fn.__qualname__:
            raise UsageError(f"section {section_id!r} is registered twice")
        _SECTIONS[section_id] = SectionDef(section_id, title, fn)
        return fn

    return register


def available_sections() -> dict[str, SectionDef]:
    """The registered sections, in report order.

    Examples
    --------
    >>> "retention" in available_sections()
    True
    """
    return dict(_SECTIONS)


SOURCE: Final = pl.col("observer_service").fill_null("(unknown)").alias("source")
#: True once per event: combined with a predicate, makes it one value per row.
ROW: Final = pl.col("tenant_id").is_not_null()


def when_text(ts: datetime | None) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM UTC`` (``-`` when absent).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> when_text(datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc))
    '2026-01-05 09:30 UTC'
    """
    return ts.strftime("%Y-%m-%d %H:%M UTC") if ts is not None else "-"


def human_duration(td: timedelta | None) -> str:
    """A short text for a duration.

    Examples
    --------
    >>> human_duration(timedelta(days=2, hours=3)), human_duration(timedelta(seconds=42))
    ('2d 3h', '42s')
    """
    if td is None:
        return "-"
    s = int(abs(td.total_seconds()))
    sign = "-" if td.total_seconds() < 0 else ""
    for size, unit, sub, subunit in (
        (86_400, "d", 3_600, "h"),
        (3_600, "h", 60, "m"),
        (60, "m", 1, "s"),
    ):
        if s >= size:
            rest = (s % size) // sub
            return f"{sign}{s // size}{unit}" + (f" {rest}{subunit}" if rest else "")
    return f"{sign}{s}s"


class SectionSet(Mapping[str, Section]):
    """The sections of one report scope, built on first access and cached.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports._inputs import inputs_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> sections = SectionSet(inputs_from_frame(df))
    >>> sections["integrity"].facts["verdict"], sections["coverage"].facts["gaps"]
    ('not verified', 15)
    """

    def __init__(self, inputs: ReportInputs, framework: Framework | None = None) -> None:
        self.inputs = inputs
        self.framework = framework
        self.controls: tuple[ControlResult, ...] = ()
        self._built: dict[str, Section] = {}

    def __getitem__(self, key: str) -> Section:
        if key not in self._built:
            if key not in _SECTIONS:
                raise KeyError(key)
            self._built[key] = _SECTIONS[key].fn(self)
        return self._built[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_SECTIONS)

    def __len__(self) -> int:
        return len(_SECTIONS)

    # -- shared intermediates ----------------------------------------------------------
    @property
    def events(self) -> pl.DataFrame:
        """The period's events of the scope's tenants."""
        return self.inputs.events

    @cached_property
    def as_of(self) -> datetime:
        """The end of the period, or the report time when that is earlier."""
        return min(self.inputs.period.end_exclusive, self.inputs.generated_at)

    @cached_property
    def action_counts(self) -> pl.DataFrame:
        """Events per tenant, source, action, outcome and category, with the last one seen."""
        return (
            self.events.lazy()
            .group_by("tenant_id", SOURCE, "action", "outcome", "category")
            .agg(events=pl.len(), last_seen=pl.col("occurred_at").max())
            .sort("tenant_id", "source", "action", "outcome")
            .collect()
        )

    @cached_property
    def class_counts(self) -> pl.DataFrame:
        """Events per tenant, event class and source (classes with events only)."""
        parts = [
            self.action_counts.filter(cls.expr())
            .group_by("tenant_id", "source")
            .agg(pl.col("events").sum(), pl.col("last_seen").max())
            .with_columns(event_class=pl.lit(name))
            for name, cls in event_classes().items()
        ]
        return (
            pl.concat(parts)
            .select("tenant_id", "event_class", "source", "events", "last_seen")
            .sort("tenant_id", "event_class", "source")
        )

    def of_class(self, *names: str) -> pl.DataFrame:
        """The period's events of any of the event classes ``names``.

        The class predicates (action globs) run on the few distinct actions first, so
        that the events themselves are filtered by plain membership.
        """
        cond = class_expr(*names)
        actions = self.action_counts.filter(cond)["action"].unique().to_list()
        return self.events.filter(pl.col("action").is_in(actions)).filter(cond)

    @cached_property
    def findings(self) -> pl.DataFrame:
        """Detection findings over the period's events (given ones when supplied)."""
        if self.inputs.findings is not None:
            return self.inputs.findings
        from auditkit.analytics.detectors.registry import run_detectors

        names = self.inputs.options.detectors
        return run_detectors(self.events, names=names)

    @cached_property
    def detectors_run(self) -> tuple[str, ...]:
        """Names of the detectors that produced :attr:`findings`."""
        from auditkit.analytics.detectors.registry import available_detectors

        chosen = self.inputs.options.detectors
        return tuple(chosen) if chosen is not None else tuple(available_detectors())

    def required_classes(self) -> tuple[str, ...]:
        """Event classes the framework asks for (all classes without a framework)."""
        if self.framework is None:
            return tuple(event_classes())
        return self.framework.required_classes()


def class_expr(*names: str) -> pl.Expr:
    """A predicate true for events of any of the event classes ``names``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"action": ["role.grant", "user.login"], "outcome": ["success"] * 2,
    ...                    "category": ["admin", "management"]})
    >>> df.filter(class_expr("privilege_granted"))["action"].to_list()
    ['role.grant']
    """
    classes = event_classes()
    cond = pl.lit(False)
    for n in names:
        cond = cond | classes[n].expr()
    return cond


def events_table(
    frame: pl.DataFrame,
    name: str,
    title: str,
    *,
    note: str = "",
    limit: int = 50,
    extra: tuple[str, ...] = (),
) -> Table:
    """A table of events with the columns evidence listings use.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> events_table(df, "logins", "Sign-ins").frame.columns[:3]
    ['occurred_at', 'tenant_id', 'action']
    """
    cols = [
        "occurred_at",
        "tenant_id",
        "action",
        "outcome",
        "actor_id",
        "target_id",
        "source_ip",
        "observer_service",
        *extra,
        "event_id",
    ]
    return Table(
        name,
        title,
        frame.sort("occurred_at", "tenant_id", "seq").select(cols),
        note=note,
        limit=limit,
    )


# ---------------------------------------------------------------------------- sections
@section("executive_summary", "Executive summary")
def executive_summary(ctx: SectionSet) -> Section:
    """Scope, the verdict per control and the few facts an auditor reads first.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> from auditkit.reports import assemble_report
    >>> sections = example_sections()
    >>> report = assemble_report(sections.inputs, framework='soc2')
    >>> report.section('executive_summary').facts['controls_fail']
    1
    """
    from auditkit.reports.model import Status, counts_text

    controls = ctx.controls
    counts = {s.value: sum(1 for c in controls if c.status == s) for s in Status}
    integ = ctx["integrity"].facts
    det = ctx["detections"].facts
    inputs = ctx.inputs
    table = pl.DataFrame(
        {
            "control": [c.control_id for c in controls],
            "title": [c.title for c in controls],
            "status": [c.status.label for c in controls],
            "why": [c.reasons[0] if c.reasons else "" for c in controls],
        },
        schema={"control": pl.String, "title": pl.String, "status": pl.String, "why": pl.String},
    )
    verdict = integ.get("verdict", "not verified")
    name = ctx.framework.title if ctx.framework else "Audit logging"
    paragraphs = (
        f"{name}: {counts_text(counts)}, for tenant(s) {', '.join(inputs.tenants)} over "
        f"{inputs.period} ({inputs.events.height:,} events).",
        f"Integrity of the audit trail: {verdict}. Detections: "
        f"{det.get('findings', 0)} finding(s), of which {det.get('critical', 0)} critical and "
        f"{det.get('high', 0)} high.",
        "A control that needs review is not a failure: the data cannot settle it alone "
        "(for example, the log history is younger than the retention the control asks for, "
        "or detections found activity that a person must look at). Each control lists its "
        "reasons and the evidence behind them.",
    )
    return Section(
        "executive_summary",
        "Executive summary",
        paragraphs,
        facts={
            "framework": name,
            "tenants": ", ".join(inputs.tenants),
            "period": str(inputs.period),
            "events": inputs.events.height,
            "integrity": verdict,
            **{f"controls_{k}": v for k, v in counts.items()},
        },
        tables=(Table("controls", "Status per control", table, limit=200),),
        charts=(charts.status_chart(counts),) if controls else (),
    )


@section("integrity", "Integrity attestation")
def integrity(ctx: SectionSet) -> Section:
    """Verification result, signed checkpoints, key fingerprint, how to re-verify.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["integrity"].facts["verdict"]
    'not verified'
    """
    inputs = ctx.inputs
    v = inputs.verification
    if v is None:
        return Section(
            "integrity",
            "Integrity attestation",
            (
                "These events were not read from an auditkit store, so their integrity was not "
                "verified: build the report from the store to attest it.",
            ),
            facts={"verified": None, "verdict": "not verified"},
        )
    tenants = (
        pl.DataFrame(
            [t.to_dict() for t in v.tenants],
            schema={
                "tenant_id": pl.String,
                "events": pl.Int64,
                "tree_size": pl.Int64,
                "root_hash": pl.String,
                "checkpoint_time": pl.String,
                "ok": pl.Boolean,
            },
            orient="row",
        )
        if v.tenants
        else pl.DataFrame(schema={"tenant_id": pl.String})
    )
    cps = pl.DataFrame(
        {
            "tenant_id": [c.tenant_id for c in inputs.checkpoints],
            "tree_size": [c.tree_size for c in inputs.checkpoints],
            "root_hash": [c.root_hash for c in inputs.checkpoints],
            "timestamp": [c.timestamp for c in inputs.checkpoints],
            "key_id": [c.key_id for c in inputs.checkpoints],
            "signature": [c.signature for c in inputs.checkpoints],
        },
        schema={
            "tenant_id": pl.String,
            "tree_size": pl.Int64,
            "root_hash": pl.String,
            "timestamp": pl.String,
            "key_id": pl.String,
            "signature": pl.String,
        },
    )
    problems = pl.DataFrame(
        {
            "kind": [p.kind.value for p in v.problems],
            "tenant_id": [p.tenant_id for p in v.problems],
            "seq": [p.seq for p in v.problems],
            "event_id": [p.event_id for p in v.problems],
            "column": [p.column for p in v.problems],
            "detail": [p.detail for p in v.problems],
        },
        schema={
            "kind": pl.String,
            "tenant_id": pl.String,
            "seq": pl.Int64,
            "event_id": pl.String,
            "column": pl.String,
            "detail": pl.String,
        },
    )
    verdict = (
        "intact"
        if v.ok
        else f"TAMPERED ({len(v.problems)} problem(s), first: {v.problems[0].kind.value})"
    )
    location = inputs.store_location or "STORE"
    tenant_args = " ".join(f"--tenant {t}" for t in inputs.tenants)
    paragraphs = [
        f"Verification of the whole audit trail of {', '.join(inputs.tenants)} (not only the "
        f"period): {verdict}. {v.events:,} record(s) were re-hashed from their stored columns "
        "and checked against each tenant's Merkle tree (RFC 6962), whose root is signed with "
        "the store's Ed25519 key in a checkpoint; every stored checkpoint's signature and "
        "history were checked too.",
        f"Signing key fingerprint (SHA-256 of the raw public key): {inputs.key_fingerprint}. "
        f"The verifying key came from {inputs.key_source}.",
        "To re-verify later, keep the signed checkpoints outside the store (the evidence "
        "bundle holds them as checkpoints.json) and run the commands below: a store that was "
        "changed, truncated, rolled back or forked since fails with exit code 1 and names the "
        "first affected record.",
    ]
    if not inputs.key_independent:
        paragraphs.append(
            "The key was read from the store database itself, which an attacker "
            "with database access could replace: verify with the public key "
            "file kept apart from the database."
        )
    return Section(
        "integrity",
        "Integrity attestation",
        tuple(paragraphs),
        facts={
            "verified": v.ok,
            "verdict": verdict,
            "records_verified": v.events,
            "problems": len(v.problems),
            "store_id": inputs.store_id,
            "key_fingerprint": inputs.key_fingerprint,
            "key_source": inputs.key_source,
            "key_independent": inputs.key_independent,
            "checked_at": v.checked_at,
            "public_key_pem": inputs.public_key_pem,
        },
        tables=(
            Table("tenants", "Verified logs per tenant", tenants),
            Table("checkpoints", "Newest signed checkpoint per tenant", cps),
            Table("problems", "Problems found", problems, limit=100),
        ),
        commands=(
            f"auditkit checkpoint {location} -o checkpoints.json",
            f"auditkit verify {location} --checkpoint checkpoints.json {tenant_args}",
        ),
    )


@section("coverage", "Coverage of required event classes")
def coverage(ctx: SectionSet) -> Section:
    """Required event classes x sources: counts, last seen, gaps.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["coverage"].facts["missing_required"]["acme"][:2]
    ['audit_log_access', 'credential_change']
    """
    classes = event_classes()
    required = ctx.required_classes()
    counts = ctx.class_counts
    grid = pl.DataFrame(
        [(t, c) for t in ctx.inputs.tenants for c in classes],
        schema={"tenant_id": pl.String, "event_class": pl.String},
        orient="row",
    )
    totals = counts.group_by("tenant_id", "event_class").agg(
        total=pl.col("events").sum(), last_seen=pl.col("last_seen").max()
    )
    wide = (
        counts.pivot(
            on="source", index=["tenant_id", "event_class"], values="events", sort_columns=True
        )
        if counts.height
        else pl.DataFrame(schema={"tenant_id": pl.String, "event_class": pl.String})
    )
    matrix = (
        grid.join(totals, on=["tenant_id", "event_class"], how="left")
        .join(wide, on=["tenant_id", "event_class"], how="left")
        .with_columns(
            pl.col("total").fill_null(0),
            pl.col("event_class")
            .replace_strict({k: v.title for k, v in classes.items()})
            .alias("title"),
            pl.col("event_class").is_in(list(required)).alias("required"),
        )
    )
    sources = [c for c in wide.columns if c not in ("tenant_id", "event_class")]
    matrix = (
        matrix.with_columns([pl.col(s).fill_null(0) for s in sources])
        .with_columns(
            status=pl.when(pl.col("total") > 0)
            .then(pl.lit("recorded"))
            .when(pl.col("required"))
            .then(pl.lit("GAP"))
            .otherwise(pl.lit("none")),
        )
        .select(
            "tenant_id",
            "event_class",
            "title",
            "required",
            "status",
            "total",
            "last_seen",
            *sources,
        )
    )
    missing = {
        t: [
            c
            for c in required
            if not matrix.filter(
                (pl.col("tenant_id") == t) & (pl.col("event_class") == c) & (pl.col("total") > 0)
            ).height
        ]
        for t in ctx.inputs.tenants
    }
    n_gaps = sum(len(v) for v in missing.values())
    paragraphs = (
        f"Each event class groups the actions a framework asks the audit trail to hold "
        f"(definitions in event_classes.yaml); this framework requires {len(required)} of the "
        f"{len(classes)} classes. Columns after 'last_seen' count events per source "
        "(observer service).",
        "All required classes are recorded."
        if not n_gaps
        else "Required classes with no event in the period: "
        + "; ".join(f"{t}: {', '.join(m)}" for t, m in missing.items() if m)
        + ".",
    )
    return Section(
        "coverage",
        "Coverage of required event classes",
        paragraphs,
        facts={
            "required_classes": len(required),
            "missing_required": missing,
            "gaps": n_gaps,
            "sources": len(sources),
        },
        tables=(
            Table(
                "matrix",
                "Event classes x sources",
                matrix.sort("tenant_id", pl.col("required").not_(), "event_class"),
                limit=200,
            ),
        ),
        charts=(charts.coverage_chart(counts),) if counts.height else (),
    )


#: Field checks: (title, which events it applies to, when the field counts as present).
FIELD_CHECKS: Final[dict[str, tuple[str, pl.Expr, pl.Expr]]] = {
    "actor_id": (
        "Who: user or service identity",
        pl.lit(True),
        pl.col("actor_id").is_not_null() & (pl.col("actor_id").str.strip_chars() != ""),
    ),
    "action": ("What: type of event", pl.lit(True), pl.col("action").is_not_null()),
    "occurred_at": ("When: date and time", pl.lit(True), pl.col("occurred_at").is_not_null()),
    "outcome": (
        "Success or failure (as given by the source: a default filled in is missing)",
        pl.lit(True),
        pl.col("outcome").is_not_null()
        & ~pl.col("metadata")
        .str.contains(f'"{DEFAULTED_KEY}":\\[[^\\]]*"outcome"')
        .fill_null(False),
    ),
    "source_ip": (
        "Where from: origin address (events of users and API keys)",
        pl.col("actor_type").is_null() | pl.col("actor_type").is_in(["user", "api_key"]),
        pl.col("source_ip").is_not_null(),
    ),
    "observer_service": (
        "Recording system",
        pl.lit(True),
        pl.col("observer_service").is_not_null(),
    ),
    "target_id": (
        "Affected resource (record and administrative events)",
        pl.col("category").is_in(["user", "admin"]),
        pl.col("target_id").is_not_null(),
    ),
    "user_agent": (
        "Client software (events of users)",
        pl.col("actor_type").is_null() | (pl.col("actor_type") == "user"),
        pl.col("user_agent").is_not_null(),
    ),
    "correlation": (
        "Request or session id",
        pl.lit(True),
        pl.col("request_id").is_not_null() | pl.col("session_id").is_not_null(),
    ),
}


@section("fields", "Field completeness per source")
def fields(ctx: SectionSet) -> Section:
    """Share of events carrying each required field, per tenant and source.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["fields"].table("completeness").frame.row(0)[:3]
    ('acme', 'webapp', 8)
    """
    aggs = []
    for name, (_, applies, present) in FIELD_CHECKS.items():
        # ``& ROW`` broadcasts a literal predicate (``pl.lit(True)``) to one value per
        # event: a literal's sum is 1, not the number of events.
        aggs += [
            (applies & ROW).cast(pl.Int64).sum().alias(f"{name}|applicable"),
            (applies & present & ROW).cast(pl.Int64).sum().alias(f"{name}|present"),
        ]
    wide = (
        ctx.events.lazy()
        .group_by("tenant_id", SOURCE)
        .agg(pl.len().cast(pl.Int64).alias("events"), *aggs)
        .sort("tenant_id", "source")
        .collect()
    )
    long = (
        (
            wide.unpivot(index=["tenant_id", "source", "events"])
            .with_columns(
                pl.col("variable").str.split_exact("|", 1).struct.rename_fields(["field", "kind"])
            )
            .unnest("variable")
            .pivot(on="kind", index=["tenant_id", "source", "events", "field"], values="value")
            .with_columns(
                share=pl.when(pl.col("applicable") > 0)
                .then(pl.col("present") / pl.col("applicable"))
                .otherwise(None)
            )
            .with_columns(missing=pl.col("applicable") - pl.col("present"))
            .sort("tenant_id", "source", "field")
        )
        if wide.height
        else pl.DataFrame(
            schema={
                "tenant_id": pl.String,
                "source": pl.String,
                "events": pl.Int64,
                "field": pl.String,
                "applicable": pl.Int64,
                "present": pl.Int64,
                "share": pl.Float64,
                "missing": pl.Int64,
            }
        )
    )
    percent = (
        long.with_columns((pl.col("share") * 100).round(2).alias("pct"))
        .pivot(on="field", index=["tenant_id", "source", "events"], values="pct")
        .select(
            "tenant_id",
            "source",
            "events",
            *[f for f in FIELD_CHECKS if f in long["field"].unique().to_list()],
        )
        if long.height
        else pl.DataFrame(schema={"tenant_id": pl.String})
    )
    worst = (
        long.filter(pl.col("share").is_not_null())
        .sort("share", "tenant_id", "source", "field")
        .head(1)
    )
    lows = (
        ""
        if not worst.height
        else f" The lowest completeness is {worst['share'][0]:.2%} for '{worst['field'][0]}' "
        f"from source '{worst['source'][0]}' ({worst['tenant_id'][0]})."
    )
    legend = pl.DataFrame(
        {"field": list(FIELD_CHECKS), "meaning": [v[0] for v in FIELD_CHECKS.values()]}
    )
    return Section(
        "fields",
        "Field completeness per source",
        (
            "Percent of events that carry each field, per tenant and source. A field is "
            "counted only where it applies: origin address and client for events of people and "
            "API keys, affected resource for record and administrative events." + lows,
        ),
        facts={"sources": wide.height},
        tables=(
            Table("completeness", "Completeness (%) per source", percent, limit=100),
            Table("detail", "Events carrying each field", long, limit=0),
            Table("fields", "What each field means", legend),
        ),
        charts=(charts.completeness_chart(long),) if long.height else (),
    )


# the activity sections register themselves on import (kept apart for module size)
from auditkit.reports import _sections_activity  # noqa: E402, F401
