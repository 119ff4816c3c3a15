"""A red-team probe's second round of misses and look-alikes, and variants of each:
log sinks and trails judged by the direction of their change (a filter widened is not
tampering, one narrowed or redirected is), firewall patches that send only the changed
field (the rule's earlier ports from the trail), service-account keys and Okta API tokens
minted by a person from a new network, and Okta sign-on rules and network zones weakened
in the record's own words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors.accounts import suspicious_api_key
from auditkit.analytics.detectors.controls import security_control_weakened
from auditkit.analytics.detectors.network import network_exposure
from auditkit.analytics.detectors.tampering import audit_tampering
from tests.analytics._producers import GCP_PROJECT, cloudtrail, gcp, okta, read_as

RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _worst(found: pl.DataFrame) -> str | None:
    if found.height == 0:
        return None
    return max(found["severity"].to_list(), key=RANK.__getitem__)


def _at(day: float, hour: float = 0) -> str:
    return (T0 + timedelta(days=day, hours=hour)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --------------------------------------------------------------------------- log sinks

SINK = f"projects/{GCP_PROJECT}/sinks/siem-export"
SIEM = "pubsub.googleapis.com/projects/acme-sec/topics/siem"
ACTIVITY = 'logName:"cloudaudit.googleapis.com%2Factivity"'
ALL_AUDIT = "logName:cloudaudit.googleapis.com"


def _sink_call(
    method: str,
    day: float,
    sink: dict[str, Any],
    mask: str | None = None,
    actor: str = "abe@acme.io",
) -> dict[str, Any]:
    request: dict[str, Any] = {"sink": {"name": "siem-export", **sink}}
    if method == "CreateSink":
        request["parent"] = f"projects/{GCP_PROJECT}"
    else:
        request["sinkName"] = SINK
    if mask is not None:
        request["updateMask"] = mask
    return gcp(
        f"google.logging.v2.ConfigServiceV2.{method}",
        _at(day),
        resource=SINK,
        request=request,
        actor=actor,
        service="logging.googleapis.com",
        resource_type="logging_sink",
    )


def _sink_trail(tmp_path: Path, created: dict[str, Any] | None, *updates: dict[str, Any]):
    records = [] if created is None else [_sink_call("CreateSink", 0, created)]
    records += [
        _sink_call("UpdateSink", 3 + i, u.pop("sink"), u.pop("mask", None))
        for i, u in enumerate(updates)
    ]
    return audit_tampering(read_as("gcp", records, tmp_path))


WAS = {"destination": SIEM, "filter": ACTIVITY}


@pytest.mark.parametrize(
    "created, update",
    [
        # an alternative added: data access logs exported too
        (
            WAS,
            {
                "sink": {
                    "filter": ACTIVITY + ' OR logName:"cloudaudit.googleapis.com%2Fdata_access"'
                },
                "mask": "filter",
            },
        ),
        # an exclusion dropped from the filter
        (
            {**WAS, "filter": ACTIVITY + " AND NOT severity=DEBUG"},
            {"sink": {"filter": ACTIVITY}, "mask": "filter"},
        ),
        # a narrower logName widened to every audit log
        (WAS, {"sink": {"filter": ALL_AUDIT}, "mask": "filter"}),
        # the sink's exclusions removed
        (
            {**WAS, "exclusions": [{"name": "noisy", "filter": "severity<INFO"}]},
            {"sink": {"exclusions": []}, "mask": "exclusions"},
        ),
        # case 12: no earlier state, but the new filter still selects every audit log
        (
            None,
            {
                "sink": {"destination": SIEM, "filter": ALL_AUDIT + " OR logName:data_access"},
                "mask": "filter",
            },
        ),
    ],
    ids=["or-added", "exclusion-dropped", "logname-widened", "exclusions-removed", "case-12"],
)
def test_a_sink_widened_is_not_tampering(
    created: dict[str, Any] | None, update: dict[str, Any], tmp_path: Path
) -> None:
    found = _sink_trail(tmp_path, created, dict(update))
    assert _worst(found) in (None, "low", "medium"), found["summary"].to_list()


@pytest.mark.parametrize(
    "update",
    [
        {
            "sink": {"filter": ACTIVITY + ' AND NOT protoPayload.methodName:"SetIamPolicy"'},
            "mask": "filter",
        },
        {
            "sink": {"filter": ACTIVITY + " -protoPayload.authenticationInfo.principalEmail:eve"},
            "mask": "filter",
        },
        {"sink": {"filter": 'logName:"cloudaudit.googleapis.com%2Factivity_x"'}, "mask": "filter"},
        {
            "sink": {"exclusions": [{"name": "x", "filter": "protoPayload.methodName:Delete"}]},
            "mask": "exclusions",
        },
        {"sink": {"destination": "storage.googleapis.com/attacker-drop"}, "mask": "destination"},
        {"sink": {"destination": "bigquery.googleapis.com/projects/other-9/datasets/d"}},
        {"sink": {"disabled": True}, "mask": "disabled"},
    ],
    ids=[
        "and-not",
        "minus-term",
        "narrower-logname",
        "exclusion-added",
        "to-a-bucket",
        "to-another-project",
        "disabled",
    ],
)
def test_a_sink_narrowed_redirected_or_disabled_is_critical(
    update: dict[str, Any], tmp_path: Path
) -> None:
    found = _sink_trail(tmp_path, WAS, dict(update))
    assert _worst(found) == "critical", found["summary"].to_list()


def test_a_sink_change_whose_direction_cannot_be_told_stays_high(tmp_path: Path) -> None:
    # no earlier state, and the filter no longer selects the activity log
    found = _sink_trail(tmp_path, None, {"sink": {"filter": "severity>=ERROR"}, "mask": "filter"})
    assert _worst(found) == "high"
    # the old alternative replaced by others
    mixed = {"sink": {"filter": 'logName:"k8s_events" OR logName:"syslog"'}, "mask": "filter"}
    assert _worst(_sink_trail(tmp_path, WAS, mixed)) == "high"


def test_the_sinks_state_follows_its_updates(tmp_path: Path) -> None:
    """Widened once, then cut back to where it was: the second update narrows."""
    wide = ACTIVITY + ' OR logName:"cloudaudit.googleapis.com%2Fdata_access"'
    found = _sink_trail(
        tmp_path,
        WAS,
        {"sink": {"filter": wide}, "mask": "filter"},
        {"sink": {"filter": ACTIVITY + " AND NOT severity=NOTICE"}, "mask": "filter"},
    )
    assert _worst(found) == "critical"
    assert "narrowed" in found["summary"][0]


# --------------------------------------------------------------------------- CloudTrail


def _trail_call(name: str, request: dict[str, Any]) -> dict[str, Any]:
    return cloudtrail(
        name, "2026-01-23T05:40:00Z", request=request, source="cloudtrail.amazonaws.com"
    )


def _selectors(*extra: dict[str, Any]) -> dict[str, Any]:
    fields = [{"field": "eventCategory", "equals": ["Management"]}, *extra]
    return {"trailName": "main", "advancedEventSelectors": [{"fieldSelectors": fields}]}


@pytest.mark.parametrize(
    "name, params",
    [
        ("PutEventSelectors", _selectors({"field": "readOnly", "equals": ["true"]})),
        (
            "PutEventSelectors",
            _selectors({"field": "eventSource", "notEquals": ["iam.amazonaws.com"]}),
        ),
        ("UpdateTrail", {"name": "main", "s3BucketName": "aws-logs-archive-999988887777"}),
        (
            "UpdateTrail",
            {
                "name": "arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
                "s3BucketName": "arn:aws:s3:::exfil-999988887777-logs",
            },
        ),
    ],
    ids=["read-only", "source-excluded", "bucket-of-another-account", "bucket-arn"],
)
def test_a_trail_narrowed_or_sent_to_another_account_is_critical(
    name: str, params: dict[str, Any], tmp_path: Path
) -> None:
    found = audit_tampering(read_as("cloudtrail", [_trail_call(name, params)], tmp_path))
    assert _worst(found) == "critical", found["summary"].to_list()


def test_trail_look_alikes(tmp_path: Path) -> None:
    full = {
        "trailName": "main",
        "advancedEventSelectors": [
            {"fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
            {
                "fieldSelectors": [
                    {"field": "eventCategory", "equals": ["Data"]},
                    {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                ]
            },
        ],
    }
    assert (
        audit_tampering(
            read_as("cloudtrail", [_trail_call("PutEventSelectors", full)], tmp_path)
        ).height
        == 0
    )
    own = {"name": "main", "s3BucketName": "aws-logs-111122223333"}
    found = audit_tampering(read_as("cloudtrail", [_trail_call("UpdateTrail", own)], tmp_path))
    assert _worst(found) in ("high", None)  # as before: a bucket of its own account


# --------------------------------------------------------------------------- firewalls

FIREWALL = f"projects/{GCP_PROJECT}/global/firewalls/allow-ssh-iap"


def _firewall(verb: str, day: float, request: dict[str, Any]) -> dict[str, Any]:
    return gcp(
        f"v1.compute.firewalls.{verb}",
        _at(day),
        resource=FIREWALL,
        request=request,
        actor="nils@acme.io",
        resource_type="gce_firewall_rule",
    )


def _insert(ranges: list[str], ports: list[str], **more: Any) -> dict[str, Any]:
    return _firewall(
        "insert",
        0,
        {
            "name": "allow-ssh-iap",
            "direction": "INGRESS",
            "sourceRanges": ranges,
            "alloweds": [{"IPProtocol": "tcp", "ports": ports}],
            **more,
        },
    )


def _exposure(tmp_path: Path, *records: dict[str, Any]) -> pl.DataFrame:
    return network_exposure(read_as("gcp", list(records), tmp_path))


@pytest.mark.parametrize(
    "insert, patch",
    [
        # case 07: the patch sends only the source ranges
        (_insert(["35.235.240.0/20"], ["22"]), {"sourceRanges": ["0.0.0.0/0"]}),
        # the other way round: a web rule open to all, patched to SSH
        (_insert(["0.0.0.0/0"], ["443"]), {"alloweds": [{"IPProtocol": "tcp", "ports": ["22"]}]}),
        # RDP, the range as ::/0
        (_insert(["10.0.0.0/8"], ["3389"]), {"sourceRanges": ["::/0"]}),
        # a disabled rule switched on
        (_insert(["0.0.0.0/0"], ["5432"], disabled=True), {"disabled": False}),
    ],
    ids=["case-07", "ports-only", "rdp-ipv6", "enabled"],
)
def test_a_patch_read_with_the_rules_earlier_state(
    insert: dict[str, Any], patch: dict[str, Any], tmp_path: Path
) -> None:
    found = _exposure(tmp_path, insert, _firewall("patch", 2, patch))
    assert _worst(found) == "high", found["summary"].to_list()


@pytest.mark.parametrize(
    "insert, patch",
    [
        (_insert(["35.235.240.0/20"], ["443"]), {"sourceRanges": ["0.0.0.0/0"]}),
        (_insert(["35.235.240.0/20"], ["22"]), {"description": "IAP only"}),
        (_insert(["35.235.240.0/20"], ["22"]), {"sourceRanges": ["35.235.240.0/20", "10.0.0.0/8"]}),
    ],
    ids=["web-port", "description", "private-range"],
)
def test_firewall_patch_look_alikes(
    insert: dict[str, Any], patch: dict[str, Any], tmp_path: Path
) -> None:
    found = _exposure(tmp_path, insert, _firewall("patch", 2, patch))
    assert _worst(found) in (None, "low", "medium"), found["summary"].to_list()


def test_a_rule_deleted_is_forgotten(tmp_path: Path) -> None:
    """A patch after the rule's deletion (a new rule of the same name) is read alone."""
    found = _exposure(
        tmp_path,
        _insert(["35.235.240.0/20"], ["22"]),
        _firewall("delete", 1, {}),
        _firewall("patch", 2, {"sourceRanges": ["0.0.0.0/0"]}),
    )
    assert _worst(found) == "medium"


# --------------------------------------------------------------------------- keys

TERRAFORM = f"terraform@{GCP_PROJECT}.iam.gserviceaccount.com"
OFFICE = "71.116.131.220"
AGENT = "google-cloud-sdk gcloud/458.0.1 command/gcloud.compute.instances.list"


def _as(record: dict[str, Any], agent: str) -> dict[str, Any]:
    record["protoPayload"]["requestMetadata"]["callerSuppliedUserAgent"] = agent
    return record


def _history(actor: str = "leo@acme.io") -> list[dict[str, Any]]:
    """Two weeks of a person's work from the office, 9:00-17:00."""
    return [
        _as(
            gcp(
                "v1.compute.instances.list",
                _at(d, h % 8),
                resource=f"projects/{GCP_PROJECT}",
                actor=actor,
                ip=OFFICE,
            ),
            AGENT,
        )
        for d in range(14)
        for h in range(5)
    ]


def _sa_key(
    day: float,
    hour: float,
    *,
    actor: str = "leo@acme.io",
    ip: str = OFFICE,
    agent: str = AGENT,
    account: str = TERRAFORM,
) -> dict[str, Any]:
    name = f"projects/-/serviceAccounts/{account}"
    return _as(
        gcp(
            "google.iam.admin.v1.CreateServiceAccountKey",
            _at(day, hour),
            resource=name,
            request={"name": name, "private_key_type": 2},
            actor=actor,
            ip=ip,
            service="iam.googleapis.com",
            resource_type="service_account",
        ),
        agent,
    )


def _owner(account: str = TERRAFORM) -> dict[str, Any]:
    member = f"serviceAccount:{account}"
    return gcp(
        "SetIamPolicy",
        _at(0, 1),
        resource=f"projects/{GCP_PROJECT}",
        service="cloudresourcemanager.googleapis.com",
        resource_type="project",
        request={"policy": {"bindings": [{"role": "roles/owner", "members": [member]}]}},
        service_data={
            "policyDelta": {
                "bindingDeltas": [{"action": "ADD", "role": "roles/owner", "member": member}]
            }
        },
    )


SCRIPTED = "google-cloud-sdk gcloud/463.0.0 command/gcloud.iam.service-accounts.keys.create"


def _keys(tmp_path: Path, *records: dict[str, Any]) -> pl.DataFrame:
    return suspicious_api_key(read_as("gcp", [*_history(), *records], tmp_path))


@pytest.mark.parametrize(
    "key",
    [
        _sa_key(20, 17.5, ip="146.70.38.12", agent=SCRIPTED),  # case 08 at 02:30 UTC
        _sa_key(20, 3, ip="146.70.38.12"),  # working hours, usual client
        _sa_key(20, 3, ip="146.70.38.12", account=f"etl@{GCP_PROJECT}.iam.gserviceaccount.com"),
    ],
    ids=["case-08", "new-network-only", "another-account"],
)
def test_a_person_minting_a_service_account_key_from_a_new_network_is_high(
    key: dict[str, Any], tmp_path: Path
) -> None:
    found = _keys(tmp_path, key)
    assert _worst(found) == "high", found["summary"].to_list()
    assert "network they had never used" in found["summary"][0]


def test_a_privileged_service_accounts_key_from_a_new_client_is_high(tmp_path: Path) -> None:
    found = _keys(tmp_path, _owner(), _sa_key(20, 3, agent=SCRIPTED))
    assert _worst(found) == "high"
    assert "roles/owner" in found["summary"][0]
    # the same for an account the trail shows no privileged role of: not reported high
    assert _worst(_keys(tmp_path, _sa_key(20, 3, agent=SCRIPTED))) in (None, "low", "medium")


def test_service_account_key_look_alikes(tmp_path: Path) -> None:
    # the admin from the office in working hours, for the owner account
    assert _worst(_keys(tmp_path, _owner(), _sa_key(20, 3))) in (None, "low", "medium")
    # a pipeline's service account rotating its own key, from a runner's new address
    ci = f"ci@{GCP_PROJECT}.iam.gserviceaccount.com"
    rotate = _sa_key(20, 3, actor=ci, ip="34.72.10.99", account=ci)
    history = [
        _as(
            gcp(
                "v1.compute.instances.list",
                _at(d),
                resource=f"projects/{GCP_PROJECT}",
                actor=ci,
                ip=f"34.72.10.{d}",
            ),
            "Terraform/1.6.6",
        )
        for d in range(14)
        for _ in range(5)
    ]
    found = suspicious_api_key(read_as("gcp", [*_history(), *history, rotate], tmp_path))
    assert _worst(found) in (None, "low", "medium")


# --------------------------------------------------------------------------- Okta

ADMIN_IP = "198.18.4.11"


def _okta_history() -> list[dict[str, Any]]:
    return [
        okta("user.session.start", _at(d, h), actor="lena", ip=ADMIN_IP)
        for d in range(14)
        for h in range(5)
    ]


def _token(ip: str) -> dict[str, Any]:
    target = {"id": "00Tnew", "type": "Token", "displayName": "okta-sync"}
    return okta("system.api_token.create", _at(20, 3), actor="lena", ip=ip, targets=[target])


def test_an_okta_api_token_from_a_new_network_is_high(tmp_path: Path) -> None:
    found = suspicious_api_key(
        read_as("okta", [*_okta_history(), _token("193.32.249.130")], tmp_path)
    )
    assert _worst(found) == "high"
    office = suspicious_api_key(read_as("okta", [*_okta_history(), _token(ADMIN_IP)], tmp_path))
    assert _worst(office) in (None, "low", "medium")


def _rule_update(
    detail: dict[str, Any] | None = None,
    debug: dict[str, Any] | None = None,
    event_type: str = "policy.rule.update",
) -> dict[str, Any]:
    record = okta(
        event_type,
        _at(20, 3),
        actor="lena",
        ip=ADMIN_IP,
        targets=[
            {
                "id": "00p1",
                "type": "PolicyEntity",
                "displayName": "Default Sign-On Policy",
                "detailEntry": {"policyType": "OKTA_SIGN_ON"},
            },
            {
                "id": "0pr1",
                "type": "PolicyRule",
                "displayName": "Require MFA off-network",
                "detailEntry": detail,
            },
        ],
    )
    record["debugContext"] = {"debugData": debug or {}}
    return record


def _zone_update(name: str, debug: dict[str, Any]) -> dict[str, Any]:
    record = okta(
        "zone.update",
        _at(20, 3),
        actor="lena",
        ip=ADMIN_IP,
        targets=[{"id": "nzo1", "type": "Zone", "displayName": name}],
    )
    record["debugContext"] = {"debugData": debug}
    return record


def _weakened(tmp_path: Path, record: dict[str, Any]) -> pl.DataFrame:
    return security_control_weakened(read_as("okta", [record], tmp_path))


@pytest.mark.parametrize(
    "record",
    [
        _rule_update({"policyRuleFactorMode": "1FA"}),
        _rule_update(debug={"requireFactor": {"old": True, "new": False}}),
        _rule_update(debug={"oldRequireFactor": "true", "newRequireFactor": "false"}),
        _rule_update(debug={"access": {"before": "CHALLENGE", "after": "ALLOW"}}),
        _zone_update("Corporate Trusted IPs", {"gateways": "0.0.0.0/0"}),
        _zone_update(
            "Corporate Trusted IPs",
            {"gateways": {"old": "203.0.113.0/24", "new": "203.0.113.0/24, 64.0.0.0/2"}},
        ),
        _zone_update("Office", {"gateways": "1.0.0.0-126.255.255.255"}),
    ],
    ids=[
        "1fa",
        "require-factor-false",
        "old-new-keys",
        "challenge-to-allow",
        "zone-any",
        "zone-half",
        "zone-range",
    ],
)
def test_okta_sign_on_weakened_in_the_records_words_is_high(
    record: dict[str, Any], tmp_path: Path
) -> None:
    found = _weakened(tmp_path, record)
    assert _worst(found) == "high", found["summary"].to_list()


@pytest.mark.parametrize(
    "record",
    [
        _rule_update({"policyRuleFactorMode": "2FA"}),
        _rule_update(debug={"requireFactor": {"old": False, "new": True}}),
        _rule_update(debug={"access": {"before": "ALLOW", "after": "CHALLENGE"}}),
        _rule_update(),
        _zone_update("Corporate Trusted IPs", {"gateways": "198.51.100.0/28"}),
        _zone_update("Corporate Trusted IPs", {}),
        _zone_update("BlockedIPs", {"gateways": "0.0.0.0/0"}),
    ],
    ids=[
        "2fa",
        "require-factor-true",
        "allow-to-challenge",
        "no-evidence",
        "office-range",
        "zone-no-evidence",
        "block-list",
    ],
)
def test_okta_sign_on_look_alikes_stay_quiet(record: dict[str, Any], tmp_path: Path) -> None:
    assert _weakened(tmp_path, record).height == 0


def test_auditkit_s_own_retention_records_are_read_by_their_values(tmp_path: Path) -> None:
    """``retention set --hot-days 30`` (nothing shortened) and a legal hold switched on
    were critical audit_tampering findings ("values unreadable"): the rule could not
    read auditkit's own records.  Shortening what is kept is still reported."""
    from auditkit.analytics import run_detectors
    from auditkit.store import Store
    from tests.conftest import make_events

    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(20))
    store.retention.set("acme", hot_days=30)
    store.retention.set("acme", legal_hold=True, reason="case 7")
    quiet = run_detectors(store.load("acme"), names=["audit_tampering"])
    assert quiet.height == 0, quiet["summary"].to_list()
    store.retention.set("acme", legal_hold=False, keep_days=30)  # the hold lifted, 30 days
    found = run_detectors(store.load("acme"), names=["audit_tampering"])
    (summary,) = found["summary"].to_list()
    assert "shortened audit retention from no limit" in summary and "to 30 days" in summary
    events = store.load("acme").filter(pl.col("action") == "audit_retention.update")
    assert events["observer_service"].to_list() == ["auditkit"] * events.height
