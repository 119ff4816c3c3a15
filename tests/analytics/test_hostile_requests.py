"""The detectors that read producers' requests take any JSON a producer (or an attacker
who writes events) can put there: arbitrary shapes, types and nesting never raise,
and what they report keeps its form."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.analytics.detectors import FINDINGS_SCHEMA, run_detectors
from auditkit.analytics.detectors.network import network_exposures
from auditkit.analytics.detectors.trust import external_grantees
from auditkit.frame import events_to_frame

KEYS = [
    "cidrIp", "cidrIpv6", "sourceRanges", "sourceAddressPrefix", "source", "fromPort",
    "toPort", "ports", "portRange", "from", "to", "alloweds", "denieds", "allowed",
    "direction", "egress", "ruleAction", "access", "ipPermissions", "items", "ipRanges",
    "IpProtocol", "protocol", "Principal", "AWS", "userId", "valuesToAdd", "principal",
    "Effect", "Condition", "remove", "add", "Statement", "policyDocument", "secretId",
    "name", "names", "instanceType", "requestParameters", "protoPayload", "request",
    "secretIdList", "attribute", "instanceId", "path", "bucketName", "LifecycleConfiguration",
    "Rule", "Rules", "Status", "Expiration", "Days", "Date", "s3BucketName", "functionName",
    "layers", "recipientAccountId", "modelId",
    "x-amz-copy-source", "x-amz-server-side-encryption-aws-kms-key-id", "key",
    "x-amz-server-side-encryption-customer-algorithm", "additionalEventData", "SSEApplied",
    "roleArn", "targetPrincipal", "permissions",
]  # fmt: skip
LEAVES = [
    "0.0.0.0/0", "::/0", "*", "any", "22", "3389", "-1", "all", "tcp", "8000-8080", "x-y",
    "999988887777", "arn:aws:iam::999988887777:root", "Deny", "Allow", "EGRESS", "deny",
    '{"cidrIp": "0.0.0.0/0", "fromPort": 22}', "{", "[1,", "user:eve@gmail.com",
    "p3.16xlarge", "nvidia-tesla-t4", "", "userData", "Enabled", "acme-cloudtrail-logs",
    "2026-03-01T00:00:00Z", "9999-99-99", "1e400", "arn:aws:lambda:r:999988887777:layer:x:1",
    "arn:aws:lambda:us-east-1:111122223333:function:billing:prod", "function:", "SSE_C",
    "arn:aws:kms:us-east-1:999988887777:key/k",
]  # fmt: skip
#: Integers within JSON's exact range: canonical events refuse larger ones (the readers
#: below take any).
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(LEAVES)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=30,
)
ACTIONS = [
    "ec2_security_group_ingress.authorize", "compute_firewalls.insert", "firewall.update",
    "policy.update", "ec2_snapshot_attribute.modify", "role.grant", "permission.grant",
    "secretsmanager_secret_value.get", "ec2_instances.run", "user.create", "api_key.create",
    "settings.update", "guardduty_detector.delete", "iam_users.list", "ssm_parameters.get",
    "ec2_password_data.get", "ec2_instance_attribute.describe", "s3_bucket_lifecycle.put",
    "audit_log.enable", "lambda_function_code.update", "lambda_function_configuration.update",
    "bedrock_model.invoke", "bedrock_use_case_for_model_access.put",
    "s3_object.copy", "sts_role.assume", "sts_federation_token.get",
    "iamcredentials_access_token.generate", "iam_users.list", "s3_objects.delete",
    "s3_object.put", "cloudresourcemanager_iam_permissions.test",
]  # fmt: skip


def _event(i: int, action: str, outcome: str, metadata: Any, changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "tenant_id": "acme",
        "occurred_at": f"2026-03-0{1 + i % 9}T0{i % 10}:{i % 60:02d}:00Z",
        "action": action,
        "outcome": outcome,
        "actor": {"id": f"u{i % 3}"},
        "targets": [{"id": f"t{i % 4}", "type": "user"}],
        # where CloudTrail and Cloud Audit Logs keep the request
        "metadata": {
            "original": {"requestParameters": metadata, "protoPayload": {"request": metadata}}
        },
    }
    if isinstance(changes, dict):
        event["changes"] = {"before": changes.get("before"), "after": changes}
    return event


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(ACTIONS),
            st.sampled_from(["success", "denied", "failure"]),
            json_values,
            json_values,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_every_detector_takes_any_request(rows: list[tuple[str, str, Any, Any]]) -> None:
    events = [_event(i, *row) for i, row in enumerate(rows)]
    found = run_detectors(events_to_frame(events))
    assert found.schema == FINDINGS_SCHEMA
    assert found["summary"].str.ends_with(".").all()


@given(st.sampled_from(ACTIONS), json_values, json_values)
def test_what_the_readers_return_keeps_its_form(action: str, request: Any, changes: Any) -> None:
    metadata = json.dumps({"original": {"requestParameters": request}})
    change = json.dumps({"before": None, "after": changes})
    for rule in network_exposures(action, change, metadata):
        assert re.fullmatch(r"[HM]\|.+ to \S+", rule), rule
    for grantee in external_grantees(action, metadata, "user:eve@gmail.com\nallUsers"):
        assert re.fullmatch(r"[HM]\|(?:account \d{12}|(?:user|group|domain):\S+)", grantee)


def test_json_nested_beyond_any_request_is_no_finding() -> None:
    rule = '{"cidrIp": "0.0.0.0/0", "fromPort": 22, "toPort": 22}'
    deep = '{"items": [' * 5_000 + rule + "]}" * 5_000
    text = '{"original": {"requestParameters": {"ipPermissions": ' + deep + "}}}"
    # the JSON reader refuses this depth: the event is not read, and nothing raises
    assert network_exposures("ec2_security_group_ingress.authorize", None, text) == []
    assert external_grantees("policy.update", text, None) == []
    assert network_exposures("firewall.update", text, None) == []


def test_requests_kept_as_text_nested_without_end_do_not_stop_detect() -> None:
    """A CloudTrail request (or a policy document in it) kept as JSON text is the
    producer's to write and is not bounded by ingest's nesting limit: nested 5,000
    deep, it once stopped ``auditkit detect`` with a RecursionError."""
    deep = '{"a": ' * 5_000 + "1" + "}" * 5_000
    rows = [
        _event(i, action, "success", request, None)
        for i, (action, request) in enumerate(
            [
                ("audit_log.update", deep),
                ("policy.update", {"roleName": "r", "policyDocument": deep}),
                ("ec2_security_group_ingress.authorize", {"ipPermissions": deep}),
                ("secretsmanager_secret_value.get", {"secretId": deep}),
                ("kms_key_deletion.schedule", {"keyId": deep}),
                ("ssm_parameters.get", {"names": deep}),
                (
                    "s3_bucket_lifecycle.put",
                    {"bucketName": "trail", "LifecycleConfiguration": deep},
                ),
                ("audit_log.enable", {"s3BucketName": deep}),
                ("lambda_function_configuration.update", {"functionName": "f", "layers": deep}),
            ]
        )
    ]
    found = run_detectors(events_to_frame(rows))
    assert found.schema == FINDINGS_SCHEMA
