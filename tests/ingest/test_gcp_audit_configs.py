"""Google Cloud SetIamPolicy: audit config deltas that log less are kept whatever else
the call changes (a grant must not hide the audit logs switched off beside it)."""

from __future__ import annotations

from typing import Any

import pytest

from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

GRANT = {"action": "ADD", "role": "roles/editor", "member": "user:d.ops@proton.me"}


def _audit(action: str, log_type: str, member: str | None = None) -> dict[str, Any]:
    d = {"action": action, "service": "allServices", "logType": log_type}
    return {**d, "exemptedMember": member} if member else d


def _set_iam_policy(delta: dict[str, Any]) -> dict[str, Any]:
    entry = {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {"principalEmail": "zara@acme.io"},
            "serviceName": "cloudresourcemanager.googleapis.com",
            "methodName": "SetIamPolicy",
            "resourceName": "projects/acme-prod",
            "serviceData": {"policyDelta": delta},
        },
        "insertId": "x1",
        "timestamp": "2026-01-22T03:10:00.000000123Z",
        "logName": "projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity",
    }
    return normalize_event(get_format("gcp").to_event(entry, tenant=None))


def test_a_grant_that_also_removes_audit_configs_keeps_both() -> None:
    e = _set_iam_policy(
        {"bindingDeltas": [GRANT], "auditConfigDeltas": [_audit("REMOVE", "DATA_READ")]}
    )
    assert e["action"] == "role.grant"
    assert e["targets"][0]["id"] == "user:d.ops@proton.me"
    assert e["metadata"]["audit_logging_reduced"] == ["DATA_READ of allServices"]
    assert "audit_logging_added" not in e["metadata"]


@pytest.mark.parametrize(
    ("deltas", "action", "reduced", "added"),
    [
        ([_audit("REMOVE", "DATA_READ")], "audit_log.disable", 1, 0),
        ([_audit("ADD", "DATA_READ")], "audit_log.enable", 0, 1),
        # a member exempted: its access is no longer logged
        ([_audit("ADD", "DATA_READ", "user:eve@x.io")], "audit_log.disable", 1, 0),
        # an exemption removed: that member is logged again
        ([_audit("REMOVE", "DATA_READ", "user:ops@acme.io")], "audit_log.enable", 0, 1),
        # one log type swapped for another: both kept, the call is a policy update
        ([_audit("REMOVE", "DATA_READ"), _audit("ADD", "ADMIN_READ")], "policy.update", 1, 1),
    ],
)
def test_audit_config_deltas(
    deltas: list[dict[str, Any]], action: str, reduced: int, added: int
) -> None:
    e = _set_iam_policy({"auditConfigDeltas": deltas})
    assert e["action"] == action
    assert len(e["metadata"].get("audit_logging_reduced") or []) == reduced
    assert len(e["metadata"].get("audit_logging_added") or []) == added


def test_an_exemption_is_named() -> None:
    e = _set_iam_policy({"auditConfigDeltas": [_audit("ADD", "DATA_WRITE", "user:eve@x.io")]})
    assert e["metadata"]["audit_logging_reduced"] == [
        "DATA_WRITE of allServices, exempting user:eve@x.io"
    ]
