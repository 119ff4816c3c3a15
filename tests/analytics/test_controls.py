"""``security_control_weakened``: an organisation's protections switched off or relaxed
through a settings change, however the source spells the setting; changes that
strengthen a control, or touch any other setting, are not reported."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.controls import security_control_weakened, weakened_controls
from auditkit.frame import events_to_frame

from ._changes import one_change as _c
from ._changes import setting_event as _event
from ._scenarios import generate_scenario

NESTED = {
    "before": {"security": {"requireTwoFactor": "enforced"}},
    "after": {"security": {"requireTwoFactor": "optional"}},
}
WEAKENING: dict[str, tuple[str, Any]] = {
    "flag on to off": ("settings.update", _c("mfa_required", True, False)),
    "nested camelCase": ("organization.update", NESTED),
    "spaces and digits": ("policy.update", _c("2FA enforcement", "on", "off")),
    "u2f": ("settings.update", _c("u2fRequired", "yes", "no")),
    "setting removed": ("settings.update", _c("saml", {"enabled": True}, ...)),
    "GitLab scalar change": (
        "group_require_two_factor_authentication.update",
        {"before": "true", "after": "false"},
    ),
    "inverted name": ("settings.update", _c("mfa_optional", False, True)),
    "allowlist emptied": (
        "settings.update",
        _c("ip_allowlist", ["10.0.0.0/8", "192.0.2.0/24"], []),
    ),
    "allowlist opened to all": (
        "network_policy.update",
        _c("allowedIps", "10.0.0.0/8", "10.0.0.0/8,0.0.0.0/0"),
    ),
    "shorter passwords": ("password_policy.update", _c("password_min_length", 14, 6)),
    "lockout switched off": ("settings.update", _c("lockout_max_attempts", 5, 0)),
    "encryption off": ("bucket.update", _c("encryption", "enabled", "disabled")),
    "identity provider swapped": (
        "settings.update",
        _c("sso", {"idp": "okta"}, {"idp": "evil.example"}),
    ),
    "SAML metadata moved": (
        "saml.update",
        _c("saml_metadata_url", "https://idp.acme.com/md", "https://login.evil.example/md"),
    ),
    "SSO disabled by name": ("sso.disable", None),
    "SAML provider deleted": ("saml_provider.delete", None),
    "MFA policy deactivated": ("mfa_policy.deactivate", None),
    # threat detection switched off (CloudTrail's names, as imported)
    "GuardDuty detector deleted": ("guardduty_detector.delete", None),
    "Security Hub disabled": ("securityhub_security_hub.disable", None),
    "Macie disabled": ("macie2_macie.disable", None),
    "account taken out of GuardDuty": ("guardduty_from_master_account.disassociate", None),
    "Access Analyzer deleted": ("access_analyzer_analyzer.delete", None),
    "Defender plan removed": ("defender_plan.remove", None),
    "account password policy deleted": ("password_policy.delete", None),
    "account left its organization": ("organizations_organization.leave", None),
    "Okta policy deactivated": ("security_policy.deactivate", None),
    "Okta policy rule deleted": ("security_policy_rule.delete", None),
    "sign-on policy switched off": ("sign_on_policy.disable", None),
    "GitLab branch protection removed": ("protected_branch.remove", None),
    "GitLab approval rule deleted": ("merge_request_approval_rule.delete", None),
    "force push allowed": (
        "protected_branch_allow_force_push.update",
        {"before": "false", "after": "true"},
    ),
}

HARMLESS: dict[str, tuple[str, Any]] = {
    "strengthened": ("settings.update", _c("mfa_required", False, True)),
    "other setting off": ("settings.update", _c("dark_mode", True, False)),
    "notifications off": ("settings.update", _c("email_notifications", "on", "off")),
    "one principal's factor": ("mfa.disable", None),
    "method changed": ("settings.update", _c("mfa_method", "sms", "totp")),
    "allowlist grown": (
        "settings.update",
        _c("ip_allowlist", ["10.0.0.0/8"], ["10.0.0.0/8", "192.0.2.0/24"]),
    ),
    "allowlist made": ("settings.update", _c("ip_allowlist", ..., ["10.0.0.0/8"])),
    "longer passwords": ("password_policy.update", _c("password_min_length", 8, 12)),
    "fewer guesses": ("settings.update", _c("lockout_max_attempts", 10, 5)),
    "SSO renamed": ("sso.update", _c("sso", {"name": "Okta"}, {"name": "Okta EU"})),
    "password changed": (
        "password.change",
        _c("password_changed_at", "2026-01-01", "2026-03-02"),
    ),
    "SSO enabled by name": ("sso.enable", None),
    "SSO set up": ("settings.update", _c("sso", ..., {"idp": "okta", "enforced": True})),
    "same provider saved again": ("sso.update", _c("sso", {"idp": "okta"}, {"idp": "okta"})),
    "a user's SSO login": ("user.login", None),
    "no changes": ("settings.update", None),
    "unknown values": ("settings.update", _c("sso", {"mode": "a"}, {"mode": "b"})),
    # a monitoring service's housekeeping, or one that makes it see more
    "GuardDuty suppression filter deleted": ("guardduty_filter.delete", None),
    "Security Hub insight deleted": ("securityhub_insight.delete", None),
    "trusted address list deleted": ("guardduty_ip_set.delete", None),
    "analyzer archive rule deleted": ("access_analyzer_archive_rule.delete", None),
    "GuardDuty enabled": ("guardduty_detector.create", None),
    "GuardDuty findings read": ("guardduty_findings.list", None),
    "organization joined": ("organizations_handshake.accept", None),
    "Okta policy updated, no changes": ("policy.update", None),
    "Okta policy rule activated": ("security_policy_rule.activate", None),
    "branch protected": ("protected_branch.create", None),
    "force push forbidden": (
        "protected_branch_allow_force_push.update",
        {"before": "true", "after": "false"},
    ),
    "a branch deleted": ("branch.delete", None),
    "member removed by the organization": ("organizations_account.remove", None),
    "retention (audit_tampering's)": (
        "audit_retention.update",
        _c("retention_days", 365, 7),
    ),
}


@pytest.mark.parametrize("name", list(WEAKENING))
def test_each_way_of_weakening_a_control_is_reported_high(name: str) -> None:
    action, changes = WEAKENING[name]
    found = security_control_weakened(events_to_frame([_event(action, changes)]))
    assert found.height == 1, name
    assert found["severity"][0] == "high"
    assert found["summary"][0].startswith("'mallory' weakened security controls at 2026-03-02")


@pytest.mark.parametrize("name", list(HARMLESS))
def test_changes_that_do_not_weaken_a_control_are_not_reported(name: str) -> None:
    action, changes = HARMLESS[name]
    assert security_control_weakened(events_to_frame([_event(action, changes)])).height == 0


def test_a_denied_attempt_is_medium_and_one_actors_changes_make_one_finding() -> None:
    denied = _event("sso.disable", outcome="denied")
    assert security_control_weakened(events_to_frame([denied]))["severity"].to_list() == ["medium"]
    rows = [
        _event("settings.update", WEAKENING["flag on to off"][1], at="2026-03-02T10:00:00Z"),
        _event("sso.disable", at="2026-03-02T10:20:00Z", outcome="denied"),
        _event("password_policy.update", WEAKENING["shorter passwords"][1], at="2026-03-02T10:40Z"),
        _event("sso.disable", at="2026-03-03T10:00:00Z", actor="trent"),  # another actor
    ]
    found = security_control_weakened(events_to_frame(rows)).sort("actor_id")
    assert found["actor_id"].to_list() == ["mallory", "trent"]
    assert found["event_ids"].list.len().to_list() == [3, 1]
    mallory = found.row(0, named=True)
    assert mallory["severity"] == "high"
    assert "mfa_required true → false" in mallory["summary"]
    assert "password_min_length 14 → 6" in mallory["summary"]
    assert "sso disabled (sso.disable)" in mallory["summary"]


def test_a_trail_without_such_changes_gives_no_finding_and_runs_with_the_others() -> None:
    """The labelled scenario (every attack and look-alike of the other detectors)
    holds no weakened control; the detector is registered and runs with the rest."""
    scenario = generate_scenario(tenants=2, actors=15, days=10, seed=3, kinds=())
    findings = run_detectors(scenario.events)
    assert "security_control_weakened" not in findings["detector"].to_list()
    attack = events_to_frame([_event("sso.disable", tenant_id=scenario.events["tenant_id"][0])])
    events = pl.concat([scenario.events, attack.select(scenario.events.columns)])
    found = run_detectors(events, names=["security_control_weakened"])
    assert found["event_ids"].to_list() == [attack["event_id"].to_list()]


CONTROL_NAMES = [
    "mfa_required", "requireMfa", "two_factor_enforced", "enforce2FA", "sso.enforced", "u2fOnly",
    "samlEnabled", "webauthn_required", "security_keys_required", "strong_authentication",
    "multiFactorAuthentication.enabled", "2sv_enforcement",
]  # fmt: skip
ON = [True, "true", "on", "enabled", "required", "enforced", "mandatory", 1]
OFF = [False, "false", "off", "disabled", "optional", "not_required", 0, None]


@given(st.sampled_from(CONTROL_NAMES), st.sampled_from(ON), st.sampled_from(OFF), st.booleans())
def test_a_control_is_weakened_exactly_when_it_goes_from_on_to_off(
    name: str, on: Any, off: Any, nested: bool
) -> None:
    def doc(value: Any) -> Any:
        return {"security": {name: value}} if nested else {name: value}

    down = json.dumps({"before": doc(on), "after": doc(off)})
    up = json.dumps({"before": doc(off), "after": doc(on)})
    same = json.dumps({"before": doc(on), "after": doc(on)})
    assert len(weakened_controls("settings.update", down)) == 1
    assert weakened_controls("settings.update", up) == []
    assert weakened_controls("settings.update", same) == []


def test_changes_that_are_not_json_or_nested_without_end_are_no_finding() -> None:
    """A frame handed in by a script may hold anything in ``changes``: never a crash."""
    deep = '{"before":' + "[" * 100_000 + "]" * 100_000 + "}"
    assert weakened_controls("settings.update", deep) == []
    assert weakened_controls("settings.update", "{not json") == []
    nested: Any = {"mfa_required": True}
    for _ in range(200):
        nested = {"a": nested}
    assert weakened_controls("settings.update", json.dumps({"before": nested, "after": {}})) == []
    assert weakened_controls("settings.update", '{"before": 1, "after": [1, {"x": 2}]}') == []


def _cloudtrail_events(records: list[dict[str, Any]], tmp_path) -> list[dict[str, Any]]:
    from auditkit.ingest.registry import get_format
    from auditkit.schema import normalize_event

    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}))
    source = get_format("cloudtrail")
    return [
        normalize_event(source.to_event(r.value, tenant="acme")) for r in source.records(str(path))
    ]


def _s3(name: str, request: dict[str, Any], i: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/ops",
            "accountId": "111122223333",
        },
        "eventTime": f"2026-03-02T02:{i:02d}:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-central-1",
        "sourceIPAddress": "198.51.100.14",
        "requestParameters": request,
        "eventID": f"s3-{i}",
        "recipientAccountId": "111122223333",
    }


def test_ransomware_preparation_on_a_bucket_is_a_weakened_control(tmp_path) -> None:
    """Versioning suspended, MFA delete disabled, default encryption removed: the
    objects overwritten or deleted next cannot be restored."""
    suspend = {"bucketName": "data", "VersioningConfiguration": {"Status": "Suspended"}}
    no_mfa = {
        "bucketName": "data",
        "VersioningConfiguration": {"Status": "Enabled", "MfaDelete": "Disabled"},
    }
    records = [
        _s3("PutBucketVersioning", suspend, 0),
        _s3("PutBucketVersioning", no_mfa, 5),
        _s3("DeleteBucketEncryption", {"bucketName": "data"}, 9),
    ]
    found = security_control_weakened(events_to_frame(_cloudtrail_events(records, tmp_path)))
    assert found["severity"].to_list() == ["high"]
    summary = found["summary"][0]
    for said in ("bucket versioning suspended", "bucket MFA delete disabled", "encryption deleted"):
        assert said in summary
    # versioning switched on, or its configuration read, is not
    quiet = [
        _s3(
            "PutBucketVersioning",
            {"bucketName": "d", "VersioningConfiguration": {"Status": "Enabled"}},
            0,
        ),
        _s3("GetBucketVersioning", {"bucketName": "d"}, 1),
        _s3("PutBucketEncryption", {"bucketName": "d"}, 2),
    ]
    assert (
        security_control_weakened(events_to_frame(_cloudtrail_events(quiet, tmp_path))).height == 0
    )
