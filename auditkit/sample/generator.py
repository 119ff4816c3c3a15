"""Realistic, labelled sample audit trails in the canonical auditkit event shape.

A small simulated SaaS product with several customer organisations (tenants): people
with roles, homes, devices, working hours and the odd trip; service accounts and API
keys working around the clock; scheduled jobs; and, on request, injected security
incidents whose evidence is listed in :attr:`SampleSet.incidents`.

Every choice is drawn from seeded :class:`random.Random` instances (one for the world,
one per tenant and day, one per day for the ids), so the same arguments always give the
same events, byte for byte, ``event_id`` included. :func:`iter_events` streams them day
by day in bounded memory (10 million events are fine); :func:`generate` collects them.
"""

from __future__ import annotations

import gc
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from html import escape
from operator import attrgetter
from os import PathLike
from pathlib import Path
from typing import Any

import orjson

from auditkit.sample import _catalog as cat
from auditkit.sample._incidents import Incident, IncidentKind, inject
from auditkit.sample._population import MIN_PER_TENANT, Tenant, build_population, split_sizes
from auditkit.sample._records import US_PER_DAY, Materializer, Rec, day_start_us
from auditkit.sample._traffic import Cell

__all__ = [
    "Event",
    "Incident",
    "IncidentKind",
    "MIN_PER_TENANT",
    "SampleSet",
    "generate",
    "iter_events",
    "plan_incidents",
    "write_incidents",
    "write_ndjson",
]

Event = dict[str, Any]
"""One canonical auditkit event (schema version 1) as a plain dict."""

EVENTS_PER_ACTOR_DAY = 1.75
"""Natural volume: events per actor on an average weekday (before trend and noise)."""


_US = attrgetter("us")


@dataclass(frozen=True, slots=True, repr=False)
class SampleSet:
    """A generated sample: the events, sorted by time, and the incidents hidden in them.

    Attributes
    ----------
    events : list of dict
        Canonical events sorted by ``occurred_at``.
    incidents : list of Incident
        The injected incidents with their evidence ``event_ids`` (empty when the sample
        was generated with ``incidents=False``).
    parameters : dict
        The arguments of :func:`generate` that made it.
    """

    events: list[Event]
    incidents: list[Incident]
    parameters: dict[str, Any] = field(default_factory=dict)

    def write(self, directory: str | PathLike[str]) -> tuple[Path, Path]:
        """Write ``events.ndjson`` and ``incidents.json`` (the labels) into ``directory``.

        Examples
        --------
        >>> import tempfile
        >>> sample = generate(days=3, actors=30, events=100, incidents=False)
        >>> events, labels = sample.write(tempfile.mkdtemp())
        >>> events.name, labels.name, len(events.read_bytes().splitlines())
        ('events.ndjson', 'incidents.json', 100)
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        events, labels = folder / "events.ndjson", folder / "incidents.json"
        write_ndjson(self.events, events)
        write_incidents(self.incidents, labels, parameters=self.parameters)
        return events, labels

    def __repr__(self) -> str:
        tenants = sorted({e["tenant_id"] for e in self.events})
        return (
            f"SampleSet(events={len(self.events)}, tenants={tenants}, "
            f"incidents={len(self.incidents)})"
        )

    def _repr_html_(self) -> str:
        span = ""
        if self.events:
            span = f" from {self.events[0]['occurred_at']} to {self.events[-1]['occurred_at']}"
        rows = "".join(
            f"<tr><td>{escape(i.kind)}</td><td>{escape(i.tenant_id)}</td>"
            f"<td>{escape(i.actor_id or i.source_ip or '')}</td><td>{escape(i.first_seen)}</td>"
            f"<td>{len(i.event_ids)}</td></tr>"
            for i in self.incidents
        )
        return (
            f"<p><b>SampleSet</b>: {len(self.events)} events{escape(span)}, "
            f"{len(self.incidents)} incidents</p>"
            "<table><tr><th>kind</th><th>tenant</th><th>actor / source</th>"
            f"<th>first seen</th><th>evidence</th></tr>{rows}</table>"
        )


@dataclass(slots=True)
class _Plan:
    seed: int
    days: int
    day0_us: int
    start_weekday: int
    tenants: list[Tenant]
    incidents: list[Incident]
    incident_recs: dict[int, list[Rec]]
    budgets: list[list[int]]  # [day][tenant index]


def _plan(
    *,
    tenants: int,
    days: int,
    actors: int,
    events: int | None,
    seed: int,
    start: str,
    incidents: bool,
) -> _Plan:
    if tenants < 1:
        raise ValueError(f"tenants: expected at least 1, got {tenants}")
    if days < 1:
        raise ValueError(f"days: expected at least 1, got {days}")
    if actors < MIN_PER_TENANT * tenants:
        raise ValueError(
            f"actors: expected at least {MIN_PER_TENANT} per tenant "
            f"({MIN_PER_TENANT * tenants} for {tenants} tenants), got {actors}"
        )
    if events is not None and events < 0:
        raise ValueError(f"events: expected None or a count >= 0, got {events}")
    try:
        day0 = date.fromisoformat(start)
    except (TypeError, ValueError):
        raise ValueError(
            f"start: expected an ISO date such as '2026-01-05', got {start!r}"
        ) from None
    world = random.Random(f"auditkit-sample/{seed}/world")
    population = build_population(tenants=tenants, actors=actors, days=days, rng=world)
    day0_us = day_start_us(day0)
    labels: list[Incident] = []
    by_day: dict[int, list[Rec]] = {}
    if incidents:
        labels, recs = inject(
            population,
            seed=seed,
            days=days,
            day0_us=day0_us,
            start_weekday=day0.weekday(),
            events=events,
        )
        for rec in recs:
            d = min(max((rec.us - day0_us) // US_PER_DAY, 0), days - 1)
            by_day.setdefault(d, []).append(rec)
    n_incident = sum(len(v) for v in by_day.values())
    calendar = random.Random(f"auditkit-sample/{seed}/calendar")
    weights: list[float] = []
    for d in range(days):
        factor = cat.WEEKDAY_FACTORS[(day0.weekday() + d) % 7] * (1.0 + 0.15 * d / days)
        factor *= calendar.lognormvariate(0.0, 0.08)
        weights.extend(t.size * factor * calendar.lognormvariate(0.0, 0.05) for t in population)
    if events is None:
        background = round(sum(weights) * EVENTS_PER_ACTOR_DAY)
    else:
        background = events - n_incident
    flat = split_sizes(background, weights)
    n = len(population)
    budgets = [flat[d * n : (d + 1) * n] for d in range(days)]
    return _Plan(seed, days, day0_us, day0.weekday(), population, labels, by_day, budgets)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (restored after).

    Generating creates millions of small acyclic containers; the collector's passes over
    them tripled the run time, and reference counting alone frees everything here.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _day(plan: _Plan, d: int, carry: list[Rec]) -> tuple[list[Rec], list[Rec]]:
    """Day ``d``'s records sorted by time, and those that spill past midnight."""
    recs = carry + plan.incident_recs.get(d, [])
    day_us = plan.day0_us + d * US_PER_DAY
    weekend = (plan.start_weekday + d) % 7 >= 5
    for tenant in plan.tenants:
        budget = plan.budgets[d][tenant.index]
        if budget:
            rng = random.Random(f"auditkit-sample/{plan.seed}/{tenant.tenant_id}/{d}")
            Cell(tenant, rng, recs, day=d, day_us=day_us, weekend=weekend).fill(budget)
    recs.sort(key=_US)
    end = day_us + US_PER_DAY
    cut = len(recs)
    while cut and recs[cut - 1].us >= end:
        cut -= 1
    return recs[:cut], recs[cut:]


def iter_events(
    *,
    tenants: int = 3,
    days: int = 90,
    actors: int = 150,
    events: int | None = None,
    seed: int = 7,
    start: str = "2026-01-05",
    incidents: bool = True,
    chunk_size: int = 10_000,
) -> Iterator[list[Event]]:
    """Stream a sample's events in time order, in lists of at most ``chunk_size``.

    Takes the same arguments as :func:`generate`; the chunks, concatenated, are exactly
    ``generate(...).events``. Memory stays bounded by one simulated day of compact
    records plus one chunk of dicts, whatever the total, so 10 million events stream
    fine (about 10 s per million on one core).

    Parameters
    ----------
    chunk_size : int
        Maximum number of events per yielded list (a chunk never spans two days).

    Yields
    ------
    list of dict
        Canonical events, oldest first.

    Examples
    --------
    >>> chunks = iter_events(tenants=1, days=2, actors=12, events=500, incidents=False,
    ...                      chunk_size=100)
    >>> sizes = [len(c) for c in chunks]
    >>> sum(sizes), max(sizes)
    (500, 100)
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size: expected at least 1, got {chunk_size}")
    plan = _plan(
        tenants=tenants,
        days=days,
        actors=actors,
        events=events,
        seed=seed,
        start=start,
        incidents=incidents,
    )
    return _stream(plan, chunk_size)


def _stream(plan: _Plan, chunk_size: int) -> Iterator[list[Event]]:
    carry: list[Rec] = []
    for d in range(plan.days + 1):
        with _gc_paused():
            if d < plan.days:
                recs, carry = _day(plan, d, carry)
            else:
                recs = carry
            build = Materializer(seed=plan.seed, day=d, tenants=plan.tenants).build
        for i in range(0, len(recs), chunk_size):
            with _gc_paused():
                chunk = [build(r) for r in recs[i : i + chunk_size]]
            yield chunk


def generate(
    *,
    tenants: int = 3,
    days: int = 90,
    actors: int = 150,
    events: int | None = None,
    seed: int = 7,
    start: str = "2026-01-05",
    incidents: bool = True,
) -> SampleSet:
    """Generate a realistic multi-tenant audit trail with labelled incidents.

    Parameters
    ----------
    tenants : int
        Number of customer organisations (``acme`` big, ``globex`` medium, ``initech``
        small, then smaller ones).
    days : int
        Length of the period, starting at ``start`` (UTC midnight).
    actors : int
        Principals across all tenants: people (with one break-glass ``root`` account per
        tenant), service accounts and API keys. At least 6 per tenant.
    events : int or None
        Exact number of events wanted; ``None`` gives the natural volume (about 1.75
        events per actor per weekday, a tenth of that at weekends; ~19k events, 14 MB
        of NDJSON for the defaults). A sample too small for every incident's events
        (~230) keeps the incidents that fit in half of it (none below a few dozen).
    seed : int
        Same seed, same events (``event_id`` included).
    start : str
        First day, an ISO date.
    incidents : bool
        Inject the labelled security incidents (see :class:`IncidentKind`).

    Returns
    -------
    SampleSet
        Events sorted by ``occurred_at`` and the incidents with their evidence.

    Examples
    --------
    >>> s = generate(tenants=2, days=7, actors=40, events=1_000, incidents=False)
    >>> len(s.events), s.events[0]["occurred_at"] <= s.events[-1]["occurred_at"]
    (1000, True)
    >>> sorted({e["tenant_id"] for e in s.events})
    ['acme', 'globex']
    >>> generate(days=7, actors=40, events=1_000).events[0] == generate(
    ...     days=7, actors=40, events=1_000).events[0]
    True
    >>> small = generate(days=7, actors=40, events=100)
    >>> len(small.events), 0 < len(small.incidents) < len(generate(days=7, actors=40).incidents)
    (100, True)
    """
    parameters: dict[str, Any] = {
        "tenants": tenants,
        "days": days,
        "actors": actors,
        "seed": seed,
        "start": start,
        "events": events,
        "incidents": incidents,
    }
    plan = _plan(**parameters)
    out = [e for chunk in _stream(plan, 1 << 30) for e in chunk]
    return SampleSet(events=out, incidents=plan.incidents, parameters=parameters)


def plan_incidents(
    *,
    tenants: int = 3,
    days: int = 90,
    actors: int = 150,
    seed: int = 7,
    start: str = "2026-01-05",
    events: int | None = None,
) -> list[Incident]:
    """The incidents that :func:`generate` and :func:`iter_events` inject, without events.

    Use this to write the labels of a streamed sample.  They do not depend on
    ``events``, except that a sample too small for all of them keeps a subset.

    Examples
    --------
    >>> kinds = [i.kind for i in plan_incidents()]
    >>> len(kinds), "brute_force" in kinds
    (10, True)
    """
    plan = _plan(
        tenants=tenants,
        days=days,
        actors=actors,
        seed=seed,
        start=start,
        incidents=True,
        events=events,
    )
    return plan.incidents


def write_ndjson(events: Iterable[Mapping[str, Any]], path: str | PathLike[str]) -> int:
    """Write events as NDJSON (one compact JSON object per line); returns the count.

    The file appears only when whole (written beside it, then renamed).

    Examples
    --------
    >>> import itertools, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.ndjson"
    >>> stream = itertools.chain.from_iterable(
    ...     iter_events(days=3, actors=30, events=200, incidents=False))
    >>> write_ndjson(stream, path)
    200
    >>> len(path.read_bytes().splitlines())
    200
    """
    dumps = orjson.dumps
    n = 0
    target = Path(path)
    # written beside the target and renamed into place once whole: an interrupted run
    # (Ctrl-C) leaves no half-written file
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            batch: list[bytes] = []
            for event in events:
                batch.append(dumps(event))
                n += 1
                if len(batch) >= 4096:
                    f.write(b"\n".join(batch) + b"\n")
                    batch.clear()
            if batch:
                f.write(b"\n".join(batch) + b"\n")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def write_incidents(
    incidents: Iterable[Incident],
    path: str | PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
) -> int:
    """Write incident labels as indented JSON: ``{"parameters": ..., "incidents": [...]}``.

    Returns the number of incidents written.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "incidents.json"
    >>> write_incidents(plan_incidents(), path, parameters={"seed": 7})
    10
    >>> json.loads(path.read_text())["incidents"][0]["kind"]
    'brute_force'
    """
    items = [i.to_dict() for i in incidents]
    doc = {"parameters": dict(parameters or {}), "incidents": items}
    Path(path).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    return len(items)
