"""The report data model: values that every renderer reads.

A :class:`Report` holds the per-control results (:class:`ControlResult`, each with a
:class:`Status` and :class:`EvidenceRef` pointers) and the reusable evidence
sections (:class:`Section`, with :class:`Table` frames and :class:`Chart` Vega-Lite
specs).  Nothing in it is a secret: keys appear only as fingerprints and public PEM.

Examples
--------
>>> Status.worst([Status.PASS, Status.NEEDS_REVIEW])
<Status.NEEDS_REVIEW: 'needs_review'>
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from auditkit.errors import UsageError
from auditkit.times import Period

__all__ = [
    "Chart",
    "ControlResult",
    "EvidenceRef",
    "Period",
    "Report",
    "Section",
    "Status",
    "Table",
    "counts_text",
]

MAX_REF_IDS = 100
"""Event ids kept in one :class:`EvidenceRef` (the bundle's CSV files hold them all)."""


class Status(StrEnum):
    """A control's status, in the words an external auditor accepts (best first).

    - ``pass``: the evidence shows the control operated over the whole period.
    - ``evidence_present``: the logs hold the events the control asks for, but that
      the control *operated* needs other evidence (a sample drawn and inspected).
    - ``not_assessable``: logs cannot show it; the reasons say what to request.
    - ``needs_review``: the data shows something a person must look at and decide.
    - ``fail``: the evidence shows the requirement was not met.

    A control's status is the worst of its rules' (the order above, ``fail`` worst).
    """

    PASS = "pass"
    EVIDENCE_PRESENT = "evidence_present"
    NOT_ASSESSABLE = "not_assessable"
    NEEDS_REVIEW = "needs_review"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """0 for pass ... 4 for fail.

        Examples
        --------
        >>> Status.FAIL.rank, Status.EVIDENCE_PRESENT.rank
        (4, 1)
        """
        return _RANK[self]

    @classmethod
    def worst(cls, statuses: Iterable[Status]) -> Status:
        """The worst of ``statuses`` (``PASS`` when there are none).

        Examples
        --------
        >>> Status.worst([Status.PASS, Status.FAIL, Status.NEEDS_REVIEW]).value
        'fail'
        """
        return max(statuses, key=lambda s: s.rank, default=cls.PASS)

    @property
    def label(self) -> str:
        """Human label.

        Examples
        --------
        >>> Status.NEEDS_REVIEW.label, Status.NOT_ASSESSABLE.label
        ('needs review', 'not assessable from logs')
        """
        return _LABELS[self]


_RANK = {
    Status.PASS: 0,
    Status.EVIDENCE_PRESENT: 1,
    Status.NOT_ASSESSABLE: 2,
    Status.NEEDS_REVIEW: 3,
    Status.FAIL: 4,
}
_LABELS = {
    Status.PASS: "pass",
    Status.EVIDENCE_PRESENT: "evidence present",
    Status.NOT_ASSESSABLE: "not assessable from logs",
    Status.NEEDS_REVIEW: "needs review",
    Status.FAIL: "fail",
}


def counts_text(counts: Mapping[str, int]) -> str:
    """Counts per status in words, best first, every status named.

    Examples
    --------
    >>> counts_text({"pass": 3, "needs_review": 1, "fail": 0})
    '3 pass, 0 evidence present, 0 not assessable from logs, 1 needs review, 0 fail'
    """
    return ", ".join(f"{counts.get(s.value, 0)} {s.label}" for s in Status)


@dataclass(frozen=True)
class EvidenceRef:
    """A pointer from a control to the evidence behind its status.

    Attributes
    ----------
    section
        The section id (``"coverage"``, ``"integrity"``, ...).
    table
        The table in that section, or ``None`` for the section as a whole.
    note
        What this evidence shows, in one sentence.
    event_ids
        Up to :data:`MAX_REF_IDS` event ids (``count`` says how many there are).
    count
        How many rows or events the evidence has.

    Examples
    --------
    >>> EvidenceRef("coverage", "matrix", "role grants recorded", count=3).to_dict()["count"]
    3
    """

    section: str
    table: str | None
    note: str
    event_ids: tuple[str, ...] = ()
    count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> report = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
        >>> report.to_dict()["scope"]["tenants"]
        ['acme']
        """
        return {
            "section": self.section,
            "table": self.table,
            "note": self.note,
            "count": self.count,
            "event_ids": list(self.event_ids),
        }


@dataclass(frozen=True)
class ControlResult:
    """The evaluated status of one control.

    Examples
    --------
    >>> r = ControlResult("AU-9", "Protection of audit information", "...", Status.PASS,
    ...                   ("verification found no problem",))
    >>> r.to_dict()["status"]
    'pass'
    """

    control_id: str
    title: str
    summary: str
    status: Status
    reasons: tuple[str, ...] = ()
    evidence: tuple[EvidenceRef, ...] = ()
    sections: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "id": self.control_id,
            "title": self.title,
            "summary": self.summary,
            "status": self.status.value,
            "reasons": list(self.reasons),
            "sections": list(self.sections),
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, eq=False)
class Table:
    """A named evidence table: a Polars frame, all rows in CSV, ``limit`` rows on paper.

    Examples
    --------
    >>> t = Table("gaps", "Gaps", pl.DataFrame({"source": ["api"], "hours": [3]}))
    >>> t.shown().height, t.to_dict()["total_rows"]
    (1, 1)
    """

    name: str
    title: str
    frame: pl.DataFrame
    note: str = ""
    limit: int = 50

    def shown(self) -> pl.DataFrame:
        """The rows printed in HTML, Markdown and JSON (the first ``limit``)."""
        return self.frame.head(self.limit)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (the shown rows; ``total_rows`` counts all)."""
        return {
            "name": self.name,
            "title": self.title,
            "note": self.note,
            "columns": self.frame.columns,
            "total_rows": self.frame.height,
            "rows": [_jsonable_row(r) for r in self.shown().iter_rows()],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _jsonable_row(row: tuple[Any, ...]) -> list[Any]:
    return [_jsonable(v) for v in row]


@dataclass(frozen=True, eq=False)
class Chart:
    """A chart as a Vega-Lite specification (data inline); the HTML embeds it as SVG.

    Examples
    --------
    >>> Chart("volume", "Events per day", {"mark": "bar"}).name
    'volume'
    """

    name: str
    title: str
    spec: Mapping[str, Any]
    note: str = ""


@dataclass(frozen=True, eq=False)
class Section:
    """One reusable part of a report: paragraphs, facts, tables and charts.

    Examples
    --------
    >>> s = Section("retention", "Retention", ("Oldest event ...",), {"tenants": 1})
    >>> s.facts["tenants"], s.tables
    (1, ())
    """

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    commands: tuple[str, ...] = ()

    def table(self, name: str) -> Table:
        """The table called ``name``.

        Examples
        --------
        >>> Section("x", "X").table("nope")
        Traceback (most recent call last):
        ...
        auditkit.errors.UsageError: section 'x' has no table 'nope'; it has: (none)
        """
        for t in self.tables:
            if t.name == name:
                return t
        names = ", ".join(t.name for t in self.tables) or "(none)"
        raise UsageError(f"section {self.id!r} has no table {name!r}; it has: {names}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (charts as their titles only; the HTML has them)."""
        return {
            "id": self.id,
            "title": self.title,
            "paragraphs": list(self.paragraphs),
            "facts": {k: _jsonable(v) for k, v in self.facts.items()},
            "commands": list(self.commands),
            "tables": [t.to_dict() for t in self.tables],
            "charts": [{"name": c.name, "title": c.title} for c in self.charts],
        }


@dataclass(frozen=True, eq=False)
class Report:
    """A compliance report: scope, per-control results and evidence sections.

    Build one with :func:`auditkit.reports.build_report`; write it with :meth:`write`.
    ``signer`` signs evidence bundles (a closure over the store's key; never rendered).

    Examples
    --------
    >>> from auditkit.reports import build_report_from_frame
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> report = build_report_from_frame(df, framework="nist-800-53")
    >>> report.control("AU-2").status.value
    'fail'
    """

    framework: str
    framework_title: str
    framework_version: str
    tenants: tuple[str, ...]
    period: Period
    generated_at: datetime
    store_id: str | None
    store_location: str | None
    events: int
    controls: tuple[ControlResult, ...]
    sections: tuple[Section, ...]
    key_fingerprint: str | None = None
    public_key_pem: str | None = None
    tool_version: str = ""
    checkpoints_doc: Mapping[str, Any] | None = None
    signer: Callable[[bytes], bytes] | None = field(default=None, repr=False)
    #: An RFC 3161 time-stamping authority for evidence bundles, and its root certificates.
    timestamp_url: str | None = None
    timestamp_roots: str | None = None

    # -- lookups ---------------------------------------------------------------------
    def control(self, control_id: str) -> ControlResult:
        """The result of one control, by id.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> report = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
        >>> report.control("CC6.3").reasons[0]  # no role revoked in the example
        "acme: no 'privilege_revoked' event (Roles and permissions revoked) in the period"
        """
        for c in self.controls:
            if c.control_id == control_id:
                return c
        raise UsageError(
            f"report has no control {control_id!r}; it has: "
            f"{', '.join(c.control_id for c in self.controls)}"
        )

    def section(self, section_id: str) -> Section:
        """One section, by id.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> report = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
        >>> report.section("failed_access").facts["denied"]
        1
        """
        for s in self.sections:
            if s.id == section_id:
                return s
        raise UsageError(
            f"report has no section {section_id!r}; it has: "
            f"{', '.join(s.id for s in self.sections)}"
        )

    @property
    def status(self) -> Status:
        """The worst control status (``fail`` if any control fails)."""
        return Status.worst(c.status for c in self.controls)

    def counts(self) -> dict[str, int]:
        """How many controls have each status.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> report = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
        >>> report.counts()
        {'pass': 1, 'evidence_present': 0, 'not_assessable': 1, 'needs_review': 5, 'fail': 1}
        """
        return {s.value: sum(1 for c in self.controls if c.status == s) for s in Status}

    def by_status(self, status: Status | str) -> list[ControlResult]:
        """The controls with ``status``.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> report = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
        >>> [c.control_id for c in report.by_status("fail")]
        ['CC6.3']
        """
        wanted = Status(status)
        return [c for c in self.controls if c.status == wanted]

    @property
    def integrity(self) -> str:
        """The verdict on the trail the report rests on: ``intact``, ``tampered`` or
        ``not verified`` (built from a frame, not from a store).

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> build_report_from_frame(events_to_frame(example_events()), framework="soc2").integrity
        'not verified'
        """
        for s in self.sections:
            if s.id == "integrity" and s.facts.get("verified") is not None:
                return "intact" if s.facts["verified"] else "tampered"
        return "not verified"

    def integrity_line(self) -> str:
        """One line on the trail's integrity, for a console or a script's log."""
        for s in self.sections:
            if s.id == "integrity" and "verdict" in s.facts:
                return f"integrity: {s.facts['verdict']}"
        return "integrity: not verified (the events did not come from a store)"

    def integrity_at_generation(self) -> dict[str, Any]:
        """The store's integrity verdict when the report was made, with the newest signed
        checkpoint (tree size and root hash) of each reported tenant: what the report's
        header, JSON and bundle manifest state.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> r = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
        >>> r.integrity_at_generation()["verdict"]
        'not verified'
        """
        facts: Mapping[str, Any] = {}
        checkpoints: list[dict[str, Any]] = []
        for s in self.sections:
            if s.id == "integrity":
                facts = s.facts
                for t in s.tables:
                    if t.name == "checkpoints" and "root_hash" in t.frame.columns:
                        checkpoints = t.frame.select(
                            "tenant_id", "tree_size", "root_hash", "timestamp"
                        ).to_dicts()
        return {
            "verdict": facts.get("verdict", "not verified"),
            "verified": facts.get("verified"),
            "problems": facts.get("problems", 0),
            "records_verified": facts.get("records_verified"),
            "checked_at": _jsonable(facts.get("checked_at")),
            "externally_anchored": bool(facts.get("externally_anchored", False)),
            "checkpoints": checkpoints,
        }

    def period_bounds(self) -> str:
        """The period as exact instants, for people: first included and first excluded.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> r = build_report_from_frame(events_to_frame(example_events()), framework="soc2",
        ...                             period="2028-02-01..2028-02-29")
        >>> print(r.period_bounds())  # doctest: +NORMALIZE_WHITESPACE
        2028-02-01..2028-02-29 (UTC; 29 days, both included: from 2028-02-01T00:00:00Z
        up to, not including, 2028-03-01T00:00:00Z)
        """
        p = self.period
        return (
            f"{p} (UTC; {p.days} day{'s' if p.days != 1 else ''}, both included: from "
            f"{p.start_at:%Y-%m-%dT%H:%M:%SZ} up to, not including, "
            f"{p.end_exclusive:%Y-%m-%dT%H:%M:%SZ})"
        )

    def prepared_by(self) -> str:
        """Who prepared the report (the configuration's ``prepared_by``)."""
        for s in self.sections:
            if s.id == "executive_summary" and s.facts.get("prepared_by"):
                return str(s.facts["prepared_by"])
        return "management (not named in the configuration)"

    def summary(self) -> str:
        """A few lines for people: scope, counts and what is not passing.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> report = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
        >>> print(report.summary().splitlines()[1])
          1 pass, 0 evidence present, 1 not assessable from logs, 5 needs review, 1 fail
        """
        n = self.counts()
        lines = [
            f"{self.framework_title}: tenant(s) {', '.join(self.tenants) or '-'}, "
            f"period {self.period}, {self.events} events",
            f"  {counts_text(n)}",
        ]
        for c in self.controls:
            if c.status is not Status.PASS:
                lines.append(
                    f"  {c.status.label:<24} {c.control_id}: {c.reasons[0] if c.reasons else ''}"
                )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (what the JSON format writes)."""
        return {
            "format": "auditkit-report/1",
            "framework": {
                "id": self.framework,
                "title": self.framework_title,
                "version": self.framework_version,
            },
            "scope": {
                "tenants": list(self.tenants),
                "period": {
                    "start": self.period.start.isoformat(),
                    "end": self.period.end.isoformat(),
                    "time_zone": "UTC",
                    "days": self.period.days,
                    "start_at": f"{self.period.start_at:%Y-%m-%dT%H:%M:%SZ}",
                    "end_before": f"{self.period.end_exclusive:%Y-%m-%dT%H:%M:%SZ}",
                },
                "events": self.events,
                "store_id": self.store_id,
                "store_location": self.store_location,
            },
            "generated_at": _jsonable(self.generated_at),
            "generator": f"auditkit {self.tool_version}".strip(),
            "signing_key": {
                "fingerprint": self.key_fingerprint,
                "public_key_pem": self.public_key_pem,
            },
            "prepared_by": self.prepared_by(),
            "integrity": self.integrity_at_generation(),
            "status": self.status.value,
            "counts": self.counts(),
            "controls": [c.to_dict() for c in self.controls],
            "sections": [s.to_dict() for s in self.sections],
        }

    # -- output ----------------------------------------------------------------------
    def render(self, format: str = "html", **options: Any) -> bytes:
        """The report in ``format`` (see :func:`auditkit.reports.available_formats`) as bytes.

        Examples
        --------
        >>> from auditkit.frame import events_to_frame
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.reports.examples import example_events
        >>> report = build_report_from_frame(events_to_frame(example_events()), framework="soc2")
        >>> report.render("md")[:7]
        b'# SOC 2'
        """
        from auditkit.reports.formats import get_format

        return get_format(format).render(self, **options)

    def write(
        self, path: str | os.PathLike[str], *, format: str | None = None, **options: Any
    ) -> Path:
        """Write the report to ``path`` (format from ``format`` or the file suffix).

        The file is written next to its destination and renamed into place, so a
        failed render never leaves half a report.

        Examples
        --------
        >>> import tempfile, os
        >>> from auditkit.reports import build_report_from_frame
        >>> from auditkit.frame import events_to_frame
        >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...                        "action": "user.login", "actor": {"id": "u1"}}])
        >>> out = build_report_from_frame(df, framework="gdpr").write(
        ...     os.path.join(tempfile.mkdtemp(), "r.md"))
        >>> out.read_text().startswith("# GDPR")
        True
        """
        from auditkit.reports.formats import format_for_path

        target = Path(path)
        fmt = format_for_path(target, format)
        data = self.render(fmt, **options)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def _repr_html_(self) -> str:
        n = self.counts()
        rows = "".join(
            f"<tr><td>{escape(c.control_id)}</td><td>{escape(c.title)}</td>"
            f"<td>{escape(c.status.label)}</td>"
            f"<td>{escape(c.reasons[0] if c.reasons else '')}</td></tr>"
            for c in self.controls
        )
        return (
            f"<div><p><b>{escape(self.framework_title)}</b>: {escape(counts_text(n))} "
            f"({escape(', '.join(self.tenants))}, {self.period})</p>"
            f"<table><tr><th>control</th><th>title</th><th>status</th><th>why</th></tr>"
            f"{rows}</table></div>"
        )
