"""Attacks a red-team probe found missed, their variants, and the look-alikes that must
stay quiet (or low/medium): MFA prompts sent read as approvals, push bombing by failed
verifications, password spraying from residential proxies, audit configs cut inside an
IAM policy change, consumer e-mail domains taken for the organisation's, and a public
bucket policy "narrowed" to every address."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.auth import mfa_push_fatigue, password_spraying
from auditkit.analytics.detectors.chains import mfa_fatigue_takeover
from auditkit.analytics.detectors.exposure import public_exposure
from auditkit.analytics.detectors.tampering import audit_tampering
from auditkit.analytics.detectors.trust import external_access
from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

T0 = datetime(2026, 1, 20, 4, tzinfo=UTC)
RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _worst(found: pl.DataFrame) -> str | None:
    if found.height == 0:
        return None
    return max(found["severity"].to_list(), key=RANK.__getitem__)


# --------------------------------------------------------------------------- Okta MFA

_COUNTER = iter(range(10**6))


def _okta(
    minute: float,
    event_type: str,
    result: str = "SUCCESS",
    *,
    user: str = "00uvictim",
    factor: str | None = None,
    ip: str = "92.38.148.60",
) -> dict[str, Any]:
    debug: dict[str, Any] = {"requestUri": "/idp/idx/identify"}
    if factor is not None:
        debug["factor"] = factor
    record = {
        "uuid": f"okta-{next(_COUNTER):06d}",
        "published": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventType": event_type,
        "outcome": {"result": result, "reason": None},
        "actor": {"id": user, "type": "User", "alternateId": f"{user}@acme-corp.com"},
        "client": {
            "ipAddress": ip,
            "userAgent": {"rawUserAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/119.0"},
            "geographicalContext": {"country": "Netherlands", "city": "Amsterdam"},
        },
        "authenticationContext": {"externalSessionId": "102sess"},
        "debugContext": {"debugData": debug},
    }
    return normalize_event(get_format("okta").to_event(record, tenant="okta-acme"))


SEND = "system.push.send_factor_verify_push"
DENY = "user.mfa.okta_verify.deny_push"
VERIFY = "user.authentication.auth_via_mfa"
PUSH = "OKTA_VERIFY_PUSH"


def _pushes_denied_never_approved() -> list[dict[str, Any]]:
    """Case 13: six pushes sent, six refused, a seventh sent: never approved."""
    rows = []
    for i in range(6):
        rows += [_okta(2 * i, SEND), _okta(2 * i + 0.3, DENY, "FAILURE")]
    return [*rows, _okta(13, SEND)]


def test_a_push_sent_after_denials_is_not_an_acceptance() -> None:
    events = events_to_frame(_pushes_denied_never_approved())
    assert mfa_push_fatigue(events).height == 0
    enrolled = _okta(20, "user.mfa.factor.activate")
    both = events_to_frame([*_pushes_denied_never_approved(), enrolled])
    assert mfa_fatigue_takeover(both).height == 0


def test_a_push_sent_imported_as_an_mfa_challenge_is_still_not_an_acceptance() -> None:
    """Stores imported before ``mfa_challenge.send``: the send is ``mfa.challenge``
    success; its ``metadata.source_action`` says it was only sent."""
    rows = []
    for e in _pushes_denied_never_approved():
        if e["action"] == "mfa_challenge.send":
            e = {**e, "action": "mfa.challenge"}
            e["metadata"] = {k: v for k, v in e["metadata"].items() if k != "factor"}
        rows.append(e)
    assert mfa_push_fatigue(events_to_frame(rows)).height == 0


def test_push_bombing_by_failed_verifications_then_an_approval() -> None:
    """Case 05: eight pushes sent, each verification FAILURE (unanswered, timed out),
    then one approved: high."""
    rows = []
    for i in range(8):
        rows += [_okta(1.5 * i, SEND), _okta(1.5 * i + 1, VERIFY, "FAILURE", factor=PUSH)]
    rows += [_okta(14, VERIFY, factor=PUSH), _okta(14.2, "user.session.start")]
    found = mfa_push_fatigue(events_to_frame(rows))
    assert found["severity"].to_list() == ["high"]
    assert len(found["event_ids"][0]) == 17  # 8 sent, 8 failed, the approval


@pytest.mark.parametrize("shape", ["failures only", "sends only", "mixed"])
def test_push_bombing_whatever_the_log_shows(shape: str) -> None:
    """Without the sends, with only the sends (pushes ignored), or some denied and some
    timed out: each push the user did not accept counts once."""
    rows = []
    for i in range(6):
        if shape in ("sends only", "mixed"):
            rows.append(_okta(2 * i, SEND))
        if shape == "failures only" or (shape == "mixed" and i % 2):
            rows.append(_okta(2 * i + 1, VERIFY, "FAILURE", factor=PUSH))
        elif shape == "mixed":
            rows.append(_okta(2 * i + 1, DENY, "FAILURE"))
    rows += [_okta(13, SEND), _okta(13.5, VERIFY, factor=PUSH)]
    assert _worst(mfa_push_fatigue(events_to_frame(rows))) == "high"


def test_push_bombing_then_a_new_factor_is_critical() -> None:
    rows = [_okta(i, VERIFY, "FAILURE", factor=PUSH) for i in range(4)]
    rows += [_okta(5, VERIFY, factor=PUSH), _okta(20, "user.mfa.factor.activate")]
    assert _worst(mfa_fatigue_takeover(events_to_frame(rows))) == "critical"


def test_a_user_mistyping_a_totp_code_is_no_push_fatigue() -> None:
    for typos in (3, 8):
        rows = [_okta(i, VERIFY, "FAILURE", factor="GOOGLE_OTP") for i in range(typos)]
        rows.append(_okta(typos + 1, VERIFY, factor="GOOGLE_OTP"))
        rows.append(_okta(typos + 20, "user.mfa.factor.activate"))
        events = events_to_frame(rows)
        assert mfa_push_fatigue(events).height == 0
        assert mfa_fatigue_takeover(events).height == 0
    # a failure whose factor is not named is not a refused push either
    unnamed = [_okta(i, VERIFY, "FAILURE") for i in range(6)] + [_okta(7, VERIFY)]
    assert mfa_push_fatigue(events_to_frame(unnamed)).height == 0


def _refused_twice(pushes: int) -> list[dict[str, Any]]:
    """Each push sent, denied and its verification failed (two events for one refusal),
    then one approved."""
    rows = []
    for i in range(pushes):
        rows += [
            _okta(2 * i, SEND),
            _okta(2 * i + 0.2, DENY, "FAILURE"),
            _okta(2 * i + 0.25, VERIFY, "FAILURE", factor=PUSH),
        ]
    return [*rows, _okta(2 * pushes + 1, SEND), _okta(2 * pushes + 1.3, VERIFY, factor=PUSH)]


def test_a_refusal_logged_twice_counts_once() -> None:
    """Okta may log a rejected push as ``deny_push`` and ``auth_via_mfa`` FAILURE: four
    prompts refused (eight events) then the approval is not five refusals; two stale
    prompts on an old phone, the approval and the new phone are not three."""
    assert mfa_push_fatigue(events_to_frame(_refused_twice(4))).height == 0
    assert _worst(mfa_push_fatigue(events_to_frame(_refused_twice(5)))) == "high"
    old_phone = [*_refused_twice(2), _okta(9, "user.mfa.factor.activate")]
    assert mfa_fatigue_takeover(events_to_frame(old_phone)).height == 0


def test_pushes_each_approved_are_no_fatigue() -> None:
    """Signing in to six apps in a quarter of an hour: six pushes, six approvals."""
    rows = []
    for i in range(6):
        rows += [_okta(2 * i, SEND), _okta(2 * i + 0.2, VERIFY, factor=PUSH)]
    assert mfa_push_fatigue(events_to_frame(rows)).height == 0


# ------------------------------------------------------------------ password spraying

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0 Safari/537.36"
SPRAY_START = datetime(2026, 1, 23, 7, tzinfo=UTC)


def _login(
    when: datetime,
    user: str,
    ip: str,
    *,
    ok: bool = True,
    ua: str = CHROME,
    country: str = "US",
) -> dict[str, Any]:
    return {
        "event_id": f"login-{next(_COUNTER):06d}",
        "tenant_id": "acme",
        "occurred_at": when,
        "action": "user.login",
        "outcome": "success" if ok else "failure",
        "actor": {"id": user},
        "source": {"ip": ip, "user_agent": ua, "geo": {"country": country}},
    }


def _history(users: list[str]) -> list[dict[str, Any]]:
    """Two weeks of each person signing in from their own home network."""
    return [
        _login(SPRAY_START - timedelta(days=d, hours=-8), u, f"73.{10 + i}.4.{20 + d}")
        for i, u in enumerate(users)
        for d in range(1, 15)
    ]


USERS = [f"user{i:02d}@acme-corp.com" for i in range(26)]


def _proxy(i: int) -> str:
    return f"{41 + i % 150}.{(i * 37) % 250}.{(i * 11) % 250}.{1 + i % 200}"


def test_residential_proxy_spray_is_high_and_names_the_account_it_took() -> None:
    """Case 06: 24 accounts once each from 24 unrelated addresses with one browser's
    agent, and one account signing in from another proxy in the middle."""
    rows = _history(USERS)
    for i in range(24):
        rows.append(_login(SPRAY_START + timedelta(minutes=1.8 * i), USERS[i], _proxy(i), ok=False))
    taken = _login(SPRAY_START + timedelta(minutes=34), USERS[25], "189.74.18.128", country="BR")
    rows.append(taken)
    found = password_spraying(events_to_frame(rows))
    assert found["severity"].to_list() == ["high"]
    assert taken["event_id"] in found["event_ids"][0]
    assert USERS[25] in found["summary"][0] and "the spray worked" in found["summary"][0]


def test_residential_proxy_spray_without_a_success_is_high_on_its_own() -> None:
    rows = _history(USERS)
    rows += [
        _login(SPRAY_START + timedelta(minutes=2 * i), USERS[i], _proxy(i), ok=False)
        for i in range(15)
    ]
    found = password_spraying(events_to_frame(rows))
    assert found["severity"].to_list() == ["high"]
    assert "networks they never signed in from" in found["summary"][0]


def test_a_botnet_whose_last_guess_works_is_high() -> None:
    """Every address and agent different; the sign-in comes from an address that
    failed as another account: the spray's own."""
    rows = _history(USERS)
    rows += [
        _login(
            SPRAY_START + timedelta(minutes=2 * i),
            USERS[i],
            _proxy(i),
            ok=False,
            ua=f"Mozilla/5.0 ({i})",
        )
        for i in range(22)
    ]
    taken = _login(SPRAY_START + timedelta(minutes=50), USERS[24], _proxy(3), ua="curl/8.0")
    found = password_spraying(events_to_frame([*rows, taken]))
    assert _worst(found) == "high"
    assert taken["event_id"] in found["event_ids"].explode().to_list()


def test_a_bad_morning_from_the_staffs_own_networks_stays_medium() -> None:
    """Twelve people with the office browser fail from their own home networks and get
    in an hour later; meanwhile a colleague signs in from a hotel for the first time,
    with the same browser: no high finding."""
    rows = _history(USERS)
    for i in range(12):
        home = f"73.{10 + i}.4.99"
        rows += [
            _login(SPRAY_START + timedelta(minutes=3 * i), USERS[i], home, ok=False),
            _login(SPRAY_START + timedelta(minutes=3 * i + 50), USERS[i], home),
        ]
    rows.append(_login(SPRAY_START + timedelta(minutes=20), USERS[20], "198.51.100.77"))
    found = password_spraying(events_to_frame(rows))
    assert _worst(found) in (None, "low", "medium"), found["summary"].to_list()


def test_people_mistyping_on_their_phones_stay_medium() -> None:
    """Twelve people fail once on a phone's network they never signed in from and then
    sign in from the laptop at home: unresolved, but not a spray that worked."""
    rows = _history(USERS)
    for i in range(12):
        rows += [
            _login(SPRAY_START + timedelta(minutes=4 * i), USERS[i], f"100.64.{i}.9", ok=False),
            _login(SPRAY_START + timedelta(minutes=4 * i + 2), USERS[i], f"73.{10 + i}.4.30"),
        ]
    found = password_spraying(events_to_frame(rows))
    assert _worst(found) in (None, "low", "medium"), found["summary"].to_list()


# ------------------------------------------------------- GCP audit configs and domains


def _gcp(
    delta: dict[str, Any],
    *,
    minute: int = 0,
    actor: str = "zara@acme.io",
    request: dict[str, Any] | None = None,
) -> dict[str, Any]:
    entry = {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {},
            "authenticationInfo": {"principalEmail": actor},
            "requestMetadata": {"callerIp": "203.0.113.25", "callerSuppliedUserAgent": "gcloud"},
            "serviceName": "cloudresourcemanager.googleapis.com",
            "methodName": "SetIamPolicy",
            "resourceName": "projects/acme-prod",
            "request": request or {"resource": "acme-prod"},
            "serviceData": {
                "@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
                "policyDelta": delta,
            },
        },
        "insertId": f"gcp-{next(_COUNTER):06d}",
        "resource": {"type": "project", "labels": {"project_id": "acme-prod"}},
        "timestamp": (datetime(2026, 1, 22, 3, tzinfo=UTC) + timedelta(minutes=minute)).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"
        ),
        "logName": "projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity",
    }
    return normalize_event(get_format("gcp").to_event(entry, tenant=None))


def _audit(action: str, log_type: str, member: str | None = None) -> dict[str, Any]:
    d = {"action": action, "service": "allServices", "logType": log_type}
    return {**d, "exemptedMember": member} if member else d


OFF = [_audit("REMOVE", t) for t in ("ADMIN_READ", "DATA_READ", "DATA_WRITE")]
GRANT = [{"action": "ADD", "role": "roles/editor", "member": "user:d.ops@proton.me"}]


def test_audit_logs_removed_beside_a_grant_are_critical() -> None:
    """Case 01: one SetIamPolicy adds a binding and removes the audit configs."""
    event = _gcp({"bindingDeltas": GRANT, "auditConfigDeltas": OFF})
    assert event["action"] == "role.grant"  # the grant stays visible to its detectors
    assert len(event["metadata"]["audit_logging_reduced"]) == 3
    found = audit_tampering(events_to_frame([event]))
    assert found["severity"].to_list() == ["critical"]
    assert "DATA_READ of allServices" in found["summary"][0]


@pytest.mark.parametrize(
    "delta",
    [
        {"bindingDeltas": [{**GRANT[0], "action": "REMOVE"}], "auditConfigDeltas": OFF[:1]},
        # one log type swapped for another: not "only removed", still logging cut
        {"auditConfigDeltas": [_audit("REMOVE", "DATA_READ"), _audit("ADD", "ADMIN_READ")]},
        # a member exempted from data access logs: its reads no longer logged
        {"auditConfigDeltas": [_audit("ADD", "DATA_READ", "serviceAccount:x@p.iam.example")]},
    ],
    ids=["beside a revoke", "swapped", "exemption"],
)
def test_audit_logs_cut_in_any_iam_policy_change_are_critical(delta: dict[str, Any]) -> None:
    assert _worst(audit_tampering(events_to_frame([_gcp(delta)]))) == "critical"


def test_a_store_imported_before_still_shows_the_cut() -> None:
    """Without the import's ``audit_logging_reduced``: the record's own deltas."""
    event = _gcp({"bindingDeltas": GRANT, "auditConfigDeltas": OFF})
    del event["metadata"]["audit_logging_reduced"]
    assert _worst(audit_tampering(events_to_frame([event]))) == "critical"


@pytest.mark.parametrize(
    "delta",
    [
        {"bindingDeltas": GRANT},
        {"bindingDeltas": GRANT, "auditConfigDeltas": [_audit("ADD", "DATA_READ")]},
        {"auditConfigDeltas": [_audit("REMOVE", "DATA_READ", "user:ops@acme.io")]},
    ],
    ids=["plain grant", "logging added beside a grant", "exemption removed"],
)
def test_iam_changes_that_log_as_much_or_more_are_quiet(delta: dict[str, Any]) -> None:
    assert audit_tampering(events_to_frame([_gcp(delta)])).height == 0


def _member_login(actor: str, days: int) -> dict[str, Any]:
    return {
        "tenant_id": "acme-prod",
        "occurred_at": datetime(2026, 1, 22, 3, tzinfo=UTC) - timedelta(days=days),
        "action": "user.login",
        "actor": {"id": actor},
    }


def _owner_to(member: str, role: str = "roles/owner") -> dict[str, Any]:
    return _gcp(
        {"bindingDeltas": [{"action": "ADD", "role": role, "member": member}]}, actor="maya@acme.io"
    )


HISTORY = [_member_login("maya@acme.io", 30), _member_login("dev.ann@gmail.com", 29)]


@pytest.mark.parametrize(
    "member",
    [
        "user:k.render.ops@gmail.com",
        "user:k.render.ops@googlemail.com",
        "user:someone@yahoo.co.uk",
        "group:ops-team@googlegroups.com",
        "domain:gmail.com",
    ],
)
def test_owner_to_a_consumer_address_is_outside_even_with_a_member_there(member: str) -> None:
    """Case 02: one member signs in with a gmail.com address; that makes only that
    address the tenant's own, never the domain."""
    history = [*HISTORY, _member_login("ops@yahoo.co.uk", 28)]
    found = external_access(events_to_frame([*history, _owner_to(member)]))
    assert found["severity"].to_list() == ["high"]


def test_grants_to_the_tenants_own_addresses_stay_quiet() -> None:
    for member in ("user:dev.ann@gmail.com", "user:DEV.ANN@gmail.com", "user:leo@acme.io"):
        found = external_access(events_to_frame([*HISTORY, _owner_to(member)]))
        assert found.height == 0, member
    # a viewer for an outside address is worth a look, not an alarm
    viewer = _owner_to("user:pat.designer@gmail.com", "roles/viewer")
    assert _worst(external_access(events_to_frame([*HISTORY, viewer]))) == "medium"


# ------------------------------------------------------------------ public bucket policy


def _bucket_policy(condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "Read",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::acme-exports", "arn:aws:s3:::acme-exports/*"],
    }
    if condition is not None:
        statement["Condition"] = condition
    record = {
        "eventVersion": "1.09",
        "eventTime": "2026-01-21T22:30:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketPolicy",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.5",
        "userAgent": "aws-cli/2.15",
        "eventID": f"ct-{next(_COUNTER):06d}",
        "recipientAccountId": "111122223333",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/Admin/ravi",
            "accountId": "111122223333",
        },
        "requestParameters": {
            "bucketName": "acme-exports",
            "bucketPolicy": {"Version": "2012-10-17", "Statement": [statement]},
        },
    }
    return normalize_event(get_format("cloudtrail").to_event(record, tenant=None))


@pytest.mark.parametrize(
    "condition",
    [
        {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
        {"IpAddress": {"aws:SourceIp": "::/0"}},
        {"IpAddress": {"aws:SourceIp": ["198.51.100.0/24", "0.0.0.0/0"]}},
        {"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}},
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
        {"StringLike": {"aws:PrincipalOrgID": "*"}},
        {"StringNotEquals": {"aws:PrincipalAccount": "999988887777"}},
        {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
    ],
)
def test_a_condition_that_lets_everybody_in_is_still_public(condition: dict[str, Any]) -> None:
    """Case 03 and its kin: the condition names a narrowing key and narrows nothing."""
    found = public_exposure(events_to_frame([_bucket_policy(condition)]))
    assert found["severity"].to_list() == ["high"], condition


@pytest.mark.parametrize(
    "condition",
    [
        {"IpAddress": {"aws:SourceIp": ["198.51.100.0/24", "2001:db8::/32"]}},
        {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"StringEquals": {"aws:SourceVpce": ["vpce-1a2b3c4d"]}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:acme-logs"}},
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/*"}},
    ],
)
def test_a_condition_that_narrows_stays_quiet(condition: dict[str, Any]) -> None:
    assert public_exposure(events_to_frame([_bucket_policy(condition)])).height == 0


# ------------------------------------------------------------- every detector together


def test_the_probe_cases_through_every_detector() -> None:
    """The attacks at their severity with every detector run; the look-alikes below high."""
    attacks = {
        "mfa_push_fatigue": [
            e
            for i in range(8)
            for e in (_okta(1.5 * i, SEND), _okta(1.5 * i + 1, VERIFY, "FAILURE", factor=PUSH))
        ]
        + [_okta(14, VERIFY, factor=PUSH)],
        "audit_tampering": [_gcp({"bindingDeltas": GRANT, "auditConfigDeltas": OFF})],
        "public_exposure": [_bucket_policy({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})],
    }
    for detector, rows in attacks.items():
        found = run_detectors(events_to_frame(rows))
        mine = found.filter(pl.col("detector") == detector)
        assert _worst(mine) in ("high", "critical"), (detector, found["summary"].to_list())
    quiet = run_detectors(events_to_frame(_pushes_denied_never_approved()))
    assert quiet.filter(pl.col("detector").str.contains("mfa")).height == 0


def test_findings_name_what_was_cut() -> None:
    event = _gcp({"bindingDeltas": GRANT, "auditConfigDeltas": OFF})
    summary = audit_tampering(events_to_frame([event]))["summary"][0]
    assert "role.grant" in summary and "ADMIN_READ of allServices" in summary
    assert json.loads(json.dumps(event["metadata"]["audit_logging_reduced"]))
