"""Labelled scenarios for the detector quality tests and the benchmark.

``generate_scenario()`` returns a :class:`Scenario`: background traffic
(:mod:`._traffic`) as an event frame (:data:`auditkit.schema.FRAME_SCHEMA`) with
incidents (:mod:`._incidents`) injected, and the :class:`Incident` list.  Every
incident names the detectors expected to fire on it (recall); a finding is a
true positive when it shares an event with any incident, or, for a finding
without events (a dip in activity), overlaps an absence incident in time
(:mod:`._quality`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from . import _incidents, _traffic
from ._adversarial import ATTACK_KINDS, LEAVER_KINDS, LOOKALIKE_KINDS
from ._incidents import LATE_KINDS, Ctx, Incident
from ._traffic import RAW_SCHEMA, dt, tenant_background, to_frame

__all__ = [
    "INCIDENT_KINDS",
    "LOOKALIKE_KINDS",
    "Incident",
    "Scenario",
    "generate_scenario",
    "kinds_in_turn",
]

#: Every attack kind: the first detections' incidents and issue 18's classes.
INCIDENT_KINDS = {**_incidents.INCIDENT_KINDS, **ATTACK_KINDS}


@dataclass(frozen=True)
class Scenario:
    """Background events with injected incidents."""

    events: pl.DataFrame
    incidents: tuple[Incident, ...]

    def expecting(self, detector: str) -> list[Incident]:
        """The incidents on which ``detector`` must fire."""
        return [i for i in self.incidents if detector in i.detectors]


def generate_scenario(
    *,
    tenants: int = 3,
    actors: int = 40,
    days: int = 42,
    seed: int = 7,
    per_kind: int = 1,
    kinds: Sequence[str] | None = None,
    first_tenant: int = 0,
    lookalikes: bool = False,
) -> Scenario:
    """Background traffic for ``tenants`` x ``actors`` over ``days``, plus incidents.

    Each incident kind is injected ``per_kind`` times, in tenants taken in turn.
    ``kinds=()`` gives background only.  Same arguments, same scenario.  Tenants are
    numbered from ``first_tenant``, so that scenarios made in chunks have distinct
    tenants (the benchmark builds 10M events that way).  ``lookalikes`` adds each
    look-alike (innocent traffic shaped like an attack) ``per_kind`` times too.
    """
    rng = np.random.default_rng(seed)
    population = _traffic.population(tenants, actors, rng, first=first_tenant)
    chosen = list(INCIDENT_KINDS) if kinds is None else list(kinds)
    if lookalikes:
        chosen += list(LOOKALIKE_KINDS)
    late = [k for k in LATE_KINDS if k in chosen]
    chosen = [k for k in chosen if k not in LATE_KINDS]
    leavers = per_kind * sum(k in LEAVER_KINDS for k in chosen)
    if leavers:
        if days < 40:
            raise ValueError(f"dormant-account incidents need at least 40 days, got {days}")
        for t in population:  # leavers: active the first days only
            for j in range(leavers):
                t.users.append(
                    {
                        **t.users[-1],
                        "id": f"{t.name}-leaver{j}",
                        "role": "editor",
                        "leaver": 5,
                        "vacation": (-1, -1),
                    }
                )
    raw = pl.concat([tenant_background(t, days, rng) for t in population], how="diagonal_relaxed")
    ctx = Ctx(population, days, rng)
    planned = list(enumerate(kinds_in_turn(chosen, per_kind)))
    # gaps first, so that other incidents avoid their days
    planned.sort(key=lambda p: p[1] != "logging_gap")
    for k, kind in planned:  # each round of kinds starts one tenant further
        build = INCIDENT_KINDS.get(kind) or LOOKALIKE_KINDS[kind]
        build(ctx, population[(k + k // len(chosen)) % len(population)])
    # kinds added later come after all the others, which keep their events and tenants
    for k, kind in enumerate(name for name in late for _ in range(per_kind)):
        (INCIDENT_KINDS.get(kind) or LOOKALIKE_KINDS[kind])(ctx, population[k % len(population)])
    for tenant, service, a, b, _ in ctx.removals:
        raw = raw.filter(
            ~(
                (pl.col("tenant_id") == tenant)
                & (pl.col("observer_service") == service)
                & (pl.col("t") >= a)
                & (pl.col("t") < b)
            )
        )
    if ctx.rows:
        raw = pl.concat([raw, pl.DataFrame(ctx.rows, schema=RAW_SCHEMA)], how="diagonal_relaxed")
    missing = [
        pl.lit(None, dtype=d).alias(c) for c, d in RAW_SCHEMA.items() if c not in raw.columns
    ]
    events = to_frame(
        raw.with_columns(*missing).with_columns(pl.col("city").fill_null(0)), population
    )
    incidents = list(ctx.incidents)
    for tenant, service, a, b, _ in ctx.removals:
        src = events.filter(
            (pl.col("tenant_id") == tenant) & (pl.col("observer_service") == service)
        )
        before = src.filter(pl.col("occurred_at") < dt(a)).tail(1)
        after = src.filter(pl.col("occurred_at") >= dt(b)).head(1)
        ids = frozenset(pl.concat([before, after])["event_id"].to_list())
        incidents.append(Incident("logging_gap", tenant, None, ids, dt(a), dt(b), ("logging_gap",)))
    return Scenario(events, tuple(incidents))


def kinds_in_turn(kinds: Sequence[str], per_kind: int) -> list[str]:
    """Incident kinds repeated ``per_kind`` times, interleaved."""
    return [k for _ in range(per_kind) for k in kinds]
