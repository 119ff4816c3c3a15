"""A small, complete scope for examples, doctests and notebooks.

Examples
--------
>>> sections = example_sections()
>>> sections.events.height, sections.inputs.tenants
(8, ('acme',))
"""

from __future__ import annotations

from typing import Any

from auditkit.reports.catalog import get_framework
from auditkit.reports.sections import SectionSet

__all__ = ["example_events", "example_sections"]


def example_events() -> list[dict[str, Any]]:
    """Eight events of tenant ``acme`` on 2026-01-05: sign-ins (one failed), a record read
    and update, an account created, a role granted to oneself, a denied export.

    Examples
    --------
    >>> [e["action"] for e in example_events()][:3]
    ['user.login', 'user.login', 'document.read']
    """

    def event(minute: int, action: str, actor: str = "u1", **extra: Any) -> dict[str, Any]:
        e: dict[str, Any] = {
            "event_id": f"ex-{minute:02d}",
            "tenant_id": "acme",
            "occurred_at": f"2026-01-05T09:{minute:02d}:00Z",
            "action": action,
            "actor": {"id": actor, "type": "user", "roles": ["member"]},
            "source": {"ip": "198.51.100.7", "user_agent": "Mozilla/5.0"},
            "observer": {"service": "webapp"},
            "request_id": f"r{minute}",
        }
        e.update(extra)
        return e

    doc = [{"id": "doc-1", "type": "document"}]
    return [
        event(0, "user.login", outcome="failure"),
        event(1, "user.login"),
        event(2, "document.read", targets=doc),
        event(3, "document.update", targets=doc),
        event(4, "user.create", targets=[{"id": "u2", "type": "user"}]),
        event(5, "role.grant", targets=[{"id": "u1", "type": "user"}], metadata={"role": "admin"}),
        event(6, "document.export", outcome="denied", targets=doc),
        event(7, "user.logout"),
    ]


def example_sections(framework: str | None = "pci-dss") -> SectionSet:
    """The sections of a report on :func:`example_events` (not from a store).

    Examples
    --------
    >>> example_sections("soc2")["access_lifecycle"].facts["self_grants"]
    1
    """
    from auditkit.frame import events_to_frame
    from auditkit.reports._inputs import inputs_from_frame

    inputs = inputs_from_frame(events_to_frame(example_events()))
    return SectionSet(inputs, get_framework(framework) if framework else None)
