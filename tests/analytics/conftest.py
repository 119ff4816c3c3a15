"""Fixtures for the analytics tests: event factories and one shared labelled scenario."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.frame import events_to_frame

from ._scenarios import Scenario, generate_scenario

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday, 09:00 UTC

EventFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def event() -> EventFactory:
    """Build one canonical event dict: ``event(action, actor, minutes=0, **fields)``.

    ``minutes`` is the offset from 2026-01-05 09:00 UTC; ``ip``, ``geo``, ``target``
    (an id, or a dict), ``roles`` and ``actor_type`` are shorthands.
    """
    counter = iter(range(1_000_000))

    def make(
        action: str,
        actor: str = "alice",
        *,
        minutes: float = 0,
        tenant: str = "acme",
        outcome: str = "success",
        ip: str | None = None,
        geo: dict[str, Any] | None = None,
        target: str | dict[str, Any] | None = None,
        roles: list[str] | None = None,
        actor_type: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        a: dict[str, Any] = {"id": actor}
        if roles is not None:
            a["roles"] = roles
        if actor_type is not None:
            a["type"] = actor_type
        e: dict[str, Any] = {
            "event_id": f"{tenant}-{next(counter):06d}",
            "tenant_id": tenant,
            "occurred_at": T0 + timedelta(minutes=minutes),
            "action": action,
            "outcome": outcome,
            "actor": a,
        }
        source: dict[str, Any] = {}
        if ip is not None:
            source["ip"] = ip
        if geo is not None:
            source["geo"] = geo
        if source:
            e["source"] = source
        if target is not None:
            e["targets"] = [{"id": target, "type": "user"} if isinstance(target, str) else target]
        e.update(fields)
        return e

    return make


@pytest.fixture
def frame() -> Callable[[list[dict[str, Any]]], pl.DataFrame]:
    """Events (dicts) to an event frame."""
    return events_to_frame


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    """Three tenants, 40 actors each, six weeks, every incident kind twice (~90k events)."""
    return generate_scenario(tenants=3, actors=40, days=42, seed=7, per_kind=2)


@pytest.fixture(scope="session")
def scenario_findings(scenario: Scenario) -> pl.DataFrame:
    """All detectors over the shared scenario."""
    return run_detectors(scenario.events)
