"""Events that change settings, for the tests of the detectors that read ``changes``
(``security_control_weakened``, ``public_exposure``)."""

from __future__ import annotations

from typing import Any


def setting_event(action: str, changes: Any = None, **extra: Any) -> dict[str, Any]:
    """An event of ``mallory`` in tenant ``acme`` at 2026-03-02 10:00 UTC (``at``,
    ``actor`` and any other field of the event in ``extra``)."""
    event: dict[str, Any] = {
        "tenant_id": "acme",
        "occurred_at": extra.pop("at", "2026-03-02T10:00:00Z"),
        "action": action,
        "actor": {"id": extra.pop("actor", "mallory"), "type": "user"},
        **extra,
    }
    if changes is not None:
        event["changes"] = changes
    return event


def one_change(setting: str, before: Any, after: Any) -> dict[str, Any]:
    """``changes`` of one setting (``...`` for a side where it is absent)."""
    return {
        "before": {} if before is ... else {setting: before},
        "after": {} if after is ... else {setting: after},
    }
