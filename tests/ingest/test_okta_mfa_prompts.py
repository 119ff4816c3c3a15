"""Okta's MFA prompts: a prompt *sent* is never an approval, and each verification keeps
the factor it names (what the MFA detectors need to tell a refused push from a typo)."""

from __future__ import annotations

from typing import Any

import pytest

from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

SENT = (
    ("system.push.send_factor_verify_push", "push"),
    ("system.sms.send_factor_verify_message", "sms"),
    ("system.sms.send_phone_verification_message", "sms"),
    ("system.voice.send_mfa_challenge_call", "voice"),
    ("system.voice.send_phone_verification_call", "voice"),
    ("system.email.send_factor_verify_message", "email"),
)


def _okta(event_type: str, result: str = "SUCCESS", **debug: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "uuid": f"u-{event_type}-{result}",
        "published": "2026-01-20T04:00:00.000Z",
        "eventType": event_type,
        "outcome": {"result": result, "reason": None},
        "actor": {"id": "00u1", "type": "User", "alternateId": "ann@example.com"},
        "client": {"ipAddress": "198.51.100.2"},
        "debugContext": {"debugData": {"requestUri": "/idp/idx/identify", **debug}},
    }
    return normalize_event(get_format("okta").to_event(record, tenant="acme"))


@pytest.mark.parametrize(("event_type", "factor"), SENT)
def test_a_prompt_sent_is_not_an_mfa_challenge_success(event_type: str, factor: str) -> None:
    e = _okta(event_type)
    assert e["action"] == "mfa_challenge.send"
    assert e["category"] == "management"
    assert e["metadata"]["factor"] == factor
    assert e["metadata"]["source_action"] == event_type


def test_a_push_verified_keeps_its_factor() -> None:
    ok = _okta("user.authentication.auth_via_mfa", factor="OKTA_VERIFY_PUSH")
    assert (ok["action"], ok["outcome"]) == ("mfa.challenge", "success")
    assert ok["metadata"]["factor"] == "OKTA_VERIFY_PUSH"
    failed = _okta("user.authentication.auth_via_mfa", "FAILURE", factor="OKTA_VERIFY_PUSH")
    assert (failed["action"], failed["outcome"]) == ("mfa.challenge", "failure")
    typo = _okta("user.authentication.auth_via_mfa", "FAILURE", factor="GOOGLE_OTP")
    assert typo["metadata"]["factor"] == "GOOGLE_OTP"


def test_the_factor_from_the_authenticator_used() -> None:
    record = {
        "uuid": "u-oie",
        "published": "2026-01-20T04:00:00.000Z",
        "eventType": "user.authentication.auth_via_mfa",
        "outcome": {"result": "FAILURE"},
        "actor": {"id": "00u1", "type": "User"},
        "target": [
            {
                "id": "pfd1",
                "type": "AuthenticatorEnrollment",
                "detailEntry": {"methodTypeUsed": "Get a push notification"},
            }
        ],
    }
    e = normalize_event(get_format("okta").to_event(record, tenant="acme"))
    assert e["metadata"]["factor"] == "Get a push notification"


def test_a_denied_push_stays_denied() -> None:
    e = _okta("user.mfa.okta_verify.deny_push", "FAILURE")
    assert (e["action"], e["outcome"]) == ("mfa.challenge", "denied")
