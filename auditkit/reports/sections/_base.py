"""The section registry and :class:`SectionSet`: what every section module builds on.

A section builder is a function ``(SectionSet) -> Section``, registered with
:func:`section`.  :class:`SectionSet` builds sections on first use and caches the
intermediate frames they share (per-action counts, detection findings), so that rules
and renderers can ask for any section in any order and each is computed once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Final

import polars as pl

from auditkit.errors import UsageError
from auditkit.reports._inputs import ReportInputs
from auditkit.reports.catalog import Framework, event_classes
from auditkit.reports.model import Section, Table
from auditkit.schema import DEFAULTED_KEY

if TYPE_CHECKING:
    from auditkit.reports.model import ControlResult

__all__ = [
    "EVENT_COLUMNS",
    "FIELD_CHECKS",
    "ROW",
    "SOURCE",
    "SectionDef",
    "SectionSet",
    "available_sections",
    "class_expr",
    "events_table",
    "human_duration",
    "section",
    "when_text",
]

SectionFn = Callable[["SectionSet"], Section]


@dataclass(frozen=True)
class SectionDef:
    """A registered section: id, title and builder."""

    id: str
    title: str
    fn: SectionFn


_SECTIONS: dict[str, SectionDef] = {}

#: The order of the built-in sections in a report; others follow in registration order.
REPORT_ORDER: Final = (
    "executive_summary",
    "integrity",
    "completeness",
    "coverage",
    "samples",
    "fields",
    "retention",
    "access_lifecycle",
    "privileged_activity",
    "failed_access",
    "data_access",
    "detections",
    "review_records",
    "logging_gaps",
    "clock",
    "crosswalk",
    "appendix",
)


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
    rank = {name: i for i, name in enumerate(REPORT_ORDER)}
    ordered = sorted(_SECTIONS, key=lambda n: rank.get(n, len(rank)))
    return {n: _SECTIONS[n] for n in ordered}


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
        #: The control whose rules are being evaluated (set by the report builder).
        self.current_control: str | None = None
        self._built: dict[str, Section] = {}

    def __getitem__(self, key: str) -> Section:
        if key not in self._built:
            if key not in _SECTIONS:
                raise KeyError(key)
            self._built[key] = _SECTIONS[key].fn(self)
        return self._built[key]

    def __iter__(self) -> Iterator[str]:
        return iter(available_sections())

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
    def reviews(self) -> pl.DataFrame:
        """Review records of the tenants (whole history), see :mod:`~auditkit.reports.records`."""
        from auditkit.reports.records import reviews

        return reviews(self._records)

    @cached_property
    def dispositions(self) -> pl.DataFrame:
        """The latest disposition of each finding (whole history)."""
        return self.disposition_history.filter(pl.col("superseded_by").is_null()).drop(
            "superseded_by"
        )

    @cached_property
    def disposition_history(self) -> pl.DataFrame:
        """Every disposition recorded (whole history), in recorded order; ``superseded_by``
        holds the event id of the later disposition of the same finding that replaced it
        (null for the one in force)."""
        from auditkit.reports.records import dispositions

        return dispositions(self._records).with_columns(
            superseded_by=pl.col("event_id").shift(-1).over("tenant_id", "finding_id")
        )

    @property
    def _records(self) -> pl.DataFrame:
        rec = self.inputs.records
        return rec if rec is not None else self.events.clear()

    @cached_property
    def sample_seed(self) -> int:
        """The seed of every sample in the report (stated in it)."""
        for seed in (self.inputs.options.sample_seed, self.inputs.config.sample_seed):
            if seed is not None:
                return seed
        return int(self.inputs.period.start.strftime("%Y%m%d"))

    @cached_property
    def sample_size(self) -> int:
        """Events drawn per sampled control."""
        size = self.inputs.config.sample_size
        return size if size is not None else self.inputs.options.sample_size

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


#: Columns that :func:`events_table` lists (and ``seq`` to order by).
EVENT_COLUMNS = (
    "occurred_at",
    "tenant_id",
    "seq",
    "action",
    "outcome",
    "actor_id",
    "target_id",
    "source_ip",
    "observer_service",
    "event_id",
)
