"""``key_destruction``: encryption keys deleted, destroyed or disabled; credentials
(API keys, access keys) revoked are not encryption keys."""

from __future__ import annotations

from typing import Any

import pytest

from auditkit.analytics.detectors.exfiltration import key_destruction
from auditkit.frame import events_to_frame


def _ev(action: str, minute: int = 0, *, outcome: str = "success", **kw: Any) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "occurred_at": f"2026-03-02T02:{minute:02d}:00Z",
        "action": action,
        "outcome": outcome,
        "actor": {"id": "mallory"},
        **kw,
    }


def _kms(action: str, key: str, minute: int = 0, **kw: Any) -> dict[str, Any]:
    request = {"original": {"requestParameters": {"keyId": key, "pendingWindowInDays": 7}}}
    return _ev(action, minute, metadata=request, **kw)


@pytest.mark.parametrize(
    ("rows", "severity", "said"),
    [
        ([_kms("kms_key_deletion.schedule", "key/1")], "high", "scheduled the deletion of 1"),
        (
            [_ev("cloudkms_crypto_key_version.destroy", targets=[{"id": "keyRings/r/k/1"}])],
            "high",
            "destroyed 1 encryption key(s) at 2026-03-02 02:00 UTC: 'keyRings/r/k/1'",
        ),
        (
            [_kms("kms_key.disable", "key/1"), _kms("kms_key.disable", "key/2", 5)],
            "medium",
            "disabled 2",
        ),
        (
            [_kms("kms_key_deletion.schedule", "key/1", outcome="denied")],
            "medium",
            "tried to schedule the deletion of 1",
        ),
    ],
)
def test_keys_destroyed_or_disabled(rows: list[dict[str, Any]], severity: str, said: str) -> None:
    found = key_destruction(events_to_frame(rows))
    assert found["severity"].to_list() == [severity]
    assert said in found["summary"][0]


def test_credentials_and_undoing_are_not_key_destruction() -> None:
    rows = [
        _ev("api_key.delete"),
        _ev("iam_access_key.delete", 1),
        _ev("ssh_key.delete", 2),
        _kms("kms_key_deletion.cancel", "key/1", 3),
        _kms("kms_key.enable", "key/1", 4),
        _kms("kms_key.create", "key/9", 5),
    ]
    assert key_destruction(events_to_frame(rows)).height == 0


def test_one_actors_destructions_within_the_gap_are_one_finding() -> None:
    rows = [_kms("kms_key_deletion.schedule", f"key/{i}", i * 10) for i in range(5)]
    assert key_destruction(events_to_frame(rows)).height == 1
    assert key_destruction(events_to_frame(rows), gap="5m").height == 5
