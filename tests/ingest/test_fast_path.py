"""The fast path of validation keeps real producers' events (nulls for absent
optional fields, empty strings and lists, millisecond times) and agrees with
the full rules on everything it accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings

from auditkit.errors import SchemaError
from auditkit.schema import _fast_normalize, _full_normalize

from .strategies import damaged_events, producer_events

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _full(event: dict[str, Any]) -> dict[str, Any] | str:
    try:
        return _full_normalize(event, NOW)
    except SchemaError as exc:
        return exc.reason


@given(producer_events())
@settings(max_examples=400, deadline=None)
def test_producer_events_stay_on_the_fast_path(event: dict[str, Any]) -> None:
    fast = _fast_normalize(event, NOW)
    assert fast is not None, event
    assert fast == _full(event)


@given(damaged_events())
@settings(max_examples=400, deadline=None)
def test_fast_path_agrees_with_the_full_rules_or_steps_aside(event: dict[str, Any]) -> None:
    try:
        fast: dict[str, Any] | str | None = _fast_normalize(event, NOW)
    except SchemaError as exc:  # free JSON (metadata, changes) is checked by the same code
        fast = exc.reason
    if fast is not None:
        assert fast == _full(event)
