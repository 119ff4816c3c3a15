"""``impersonation``: an actor's first time acting as another user, from GitLab's and
Okta's records as imported; support staff's later impersonations are not news."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditkit.analytics.detectors.accounts import impersonation
from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event


def _gitlab(i: int, message: str | None, at: str, target: str = "cfo") -> dict[str, Any]:
    details: dict[str, Any] = {
        "author_name": "Administrator",
        "author_email": "admin@example.com",
        "target_id": 5,
        "target_type": "User",
        "target_details": target,
        "ip_address": "203.0.113.9",
        "entity_path": target,
    }
    if message:
        details["custom_message"] = message
    else:
        details["with"] = "standard"
    return {
        "id": i,
        "author_id": 1,
        "entity_id": 5,
        "entity_type": "User",
        "details": details,
        "created_at": at,
    }


def _okta(uuid: str, event_type: str, at: str, target: str | None = None) -> dict[str, Any]:
    return {
        "uuid": uuid,
        "eventType": event_type,
        "published": at,
        "displayMessage": event_type,
        "outcome": {"result": "SUCCESS"},
        "actor": {"id": "00uhelp", "type": "User", "alternateId": "help@example.com"},
        "client": {"ipAddress": "198.51.100.30"},
        "target": [{"id": f"00u{target}", "type": "User", "displayName": target}] if target else [],
    }


def _events(fmt: str, records: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / ("trail.json" if fmt == "gitlab" else "trail.ndjson")
    if fmt == "gitlab":
        path.write_text(json.dumps(records))
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    source = get_format(fmt)
    return [
        normalize_event(source.to_event(r.value, tenant="acme")) for r in source.records(str(path))
    ]


def test_a_gitlab_administrator_acting_as_a_user(tmp_path: Path) -> None:
    records = [
        _gitlab(1, None, "2024-06-01T07:00:00Z"),
        _gitlab(2, "Started Impersonation", "2024-06-12T22:40:00Z"),
        _gitlab(3, "Stopped Impersonation", "2024-06-12T22:55:00Z"),
    ]
    found = impersonation(events_to_frame(_events("gitlab", records, tmp_path)))
    assert found["severity"].to_list() == ["high"]
    assert "acted as 'cfo'" in found["summary"][0]
    assert found["event_ids"][0].len() == 1  # the start, not the stop


def test_okta_support_impersonation_first_time_only(tmp_path: Path) -> None:
    records = [
        _okta("a", "user.session.start", "2024-05-01T09:00:00Z"),
        _okta("b", "user.session.impersonation.initiate", "2024-05-20T23:10:00Z", "ceo"),
        _okta("c", "user.session.impersonation.end", "2024-05-20T23:30:00Z", "ceo"),
        # the same helpdesk account, days later, another user: not news
        _okta("d", "user.session.impersonation.initiate", "2024-05-24T10:00:00Z", "bob"),
    ]
    found = impersonation(events_to_frame(_events("okta", records, tmp_path)))
    assert found.height == 1
    assert "acted as 'ceo'" in found["summary"][0]
    # in the trail's first week, a first impersonation may not be the actor's first
    early = impersonation(events_to_frame(_events("okta", records[1:2], tmp_path)))
    assert early["severity"].to_list() == ["medium"]
