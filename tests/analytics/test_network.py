"""``network_exposure``: inbound rules that admit any address, read from CloudTrail's
and Google Cloud's records as imported and from ``changes``; outbound, denying,
revoked and web-only rules are not exposure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditkit.analytics.detectors.network import network_exposure
from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event


def _cloudtrail(name: str, request: dict[str, Any], *, error: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/ops",
            "accountId": "111122223333",
            "userName": "ops",
        },
        "eventTime": "2024-05-27T03:17:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-central-1",
        "sourceIPAddress": "198.51.100.14",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": {"_return": True},
        "eventID": f"ev-{name}-{json.dumps(request, sort_keys=True).__hash__() & 0xFFFF}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    }
    if error:
        record["errorCode"] = error
    return record


def _gcp(method: str, request: dict[str, Any], *, as_text: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": {},
        "authenticationInfo": {"principalEmail": "ops@example.com"},
        "requestMetadata": {"callerIp": "203.0.113.9"},
        "serviceName": "compute.googleapis.com",
        "methodName": method,
        "resourceName": "projects/shop/global/firewalls/rule",
    }
    if as_text:  # as a BigQuery export writes it
        payload["requestJson"] = json.dumps(request)
    else:
        payload["request"] = request
    return {
        "insertId": f"fw-{abs(hash(json.dumps(request, sort_keys=True))) % 10**8}",
        "logName": "projects/shop/logs/cloudaudit.googleapis.com%2Factivity",
        "resource": {"type": "gce_firewall_rule", "labels": {"project_id": "shop"}},
        "timestamp": "2024-04-02T09:00:00Z",
        "protoPayload": payload,
    }


def _ranges(cidr: str, key: str = "cidrIp") -> dict[str, Any]:
    return {"ipRanges" if key == "cidrIp" else "ipv6Ranges": {"items": [{key: cidr}]}}


def _perm(proto: str, lo: int, hi: int, cidr: str = "0.0.0.0/0", key: str = "cidrIp") -> dict:
    return {
        "groupId": "sg-0abc",
        "ipPermissions": {
            "items": [{"ipProtocol": proto, "fromPort": lo, "toPort": hi, **_ranges(cidr, key)}]
        },
    }


def _read(fmt: str, records: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "trail.json"
    body: Any = {"Records": records} if fmt == "cloudtrail" else records
    path.write_text(json.dumps(body))
    source = get_format(fmt)
    return [
        normalize_event(source.to_event(r.value, tenant="acme" if fmt == "cloudtrail" else None))
        for r in source.records(str(path))
    ]


EXPOSED = {
    "SSH to any IPv4 address": (
        "cloudtrail",
        _cloudtrail("AuthorizeSecurityGroupIngress", _perm("tcp", 22, 22)),
        "high",
        "22/tcp (SSH) to 0.0.0.0/0",
    ),
    "RDP to any IPv6 address": (
        "cloudtrail",
        _cloudtrail(
            "AuthorizeSecurityGroupIngress", _perm("tcp", 3389, 3389, "::/0", key="cidrIpv6")
        ),
        "high",
        "3389/tcp (RDP) to ::/0",
    ),
    "every protocol and port": (
        "cloudtrail",
        _cloudtrail("AuthorizeSecurityGroupIngress", _perm("-1", -1, -1)),
        "high",
        "every port to 0.0.0.0/0",
    ),
    "a rule modified to PostgreSQL": (
        "cloudtrail",
        _cloudtrail(
            "ModifySecurityGroupRules",
            {
                "ModifySecurityGroupRulesRequest": {
                    "GroupId": "sg-0abc",
                    "SecurityGroupRule": {
                        "SecurityGroupRuleId": "sgr-1",
                        "SecurityGroupRule": {
                            "IpProtocol": "tcp",
                            "FromPort": 5432,
                            "ToPort": 5432,
                            "CidrIpv4": "0.0.0.0/0",
                        },
                    },
                }
            },
        ),
        "high",
        "5432/tcp (PostgreSQL)",
    ),
    "a network ACL entry for a wide range": (
        "cloudtrail",
        _cloudtrail(
            "CreateNetworkAclEntry",
            {
                "networkAclId": "acl-1",
                "ruleNumber": 90,
                "egress": False,
                "ruleAction": "allow",
                "protocol": "6",
                "cidrBlock": "0.0.0.0/0",
                "portRange": {"from": 1024, "to": 65535},
            },
        ),
        "high",
        "ports 1024-65535/6 to 0.0.0.0/0",
    ),
    "another port": (
        "cloudtrail",
        _cloudtrail("AuthorizeSecurityGroupIngress", _perm("tcp", 8080, 8080)),
        "medium",
        "port 8080/tcp to 0.0.0.0/0",
    ),
    "refused": (
        "cloudtrail",
        _cloudtrail(
            "AuthorizeSecurityGroupIngress", _perm("tcp", 22, 22), error="UnauthorizedOperation"
        ),
        "medium",
        "tried to open 22/tcp (SSH)",
    ),
    "Google Cloud firewall for SSH": (
        "gcp",
        _gcp(
            "v1.compute.firewalls.insert",
            {
                "direction": "INGRESS",
                "sourceRanges": ["0.0.0.0/0"],
                "alloweds": [{"IPProtocol": "tcp", "ports": ["22"]}],
            },
        ),
        "high",
        "22/tcp (SSH) to 0.0.0.0/0",
    ),
    "Google Cloud firewall for every protocol, as BigQuery writes it": (
        "gcp",
        _gcp(
            "v1.compute.firewalls.patch",
            {"sourceRanges": ["10.0.0.0/8", "0.0.0.0/0"], "alloweds": [{"IPProtocol": "all"}]},
            as_text=True,
        ),
        "high",
        "every port to 0.0.0.0/0",
    ),
}

CLOSED = {
    "web ports": (
        "cloudtrail",
        _cloudtrail("AuthorizeSecurityGroupIngress", _perm("tcp", 443, 443)),
    ),
    "an office network": (
        "cloudtrail",
        _cloudtrail("AuthorizeSecurityGroupIngress", _perm("tcp", 22, 22, "203.0.113.0/24")),
    ),
    "outbound": (
        "cloudtrail",
        _cloudtrail("AuthorizeSecurityGroupEgress", _perm("-1", -1, -1)),
    ),
    "revoked": (
        "cloudtrail",
        _cloudtrail("RevokeSecurityGroupIngress", _perm("tcp", 22, 22)),
    ),
    "a denying ACL entry": (
        "cloudtrail",
        _cloudtrail(
            "CreateNetworkAclEntry",
            {
                "egress": False,
                "ruleAction": "deny",
                "protocol": "-1",
                "cidrBlock": "0.0.0.0/0",
            },
        ),
    ),
    "an outbound ACL entry": (
        "cloudtrail",
        _cloudtrail(
            "CreateNetworkAclEntry",
            {"egress": True, "ruleAction": "allow", "protocol": "-1", "cidrBlock": "0.0.0.0/0"},
        ),
    ),
    "Google Cloud web firewall": (
        "gcp",
        _gcp(
            "v1.compute.firewalls.insert",
            {
                "direction": "INGRESS",
                "sourceRanges": ["0.0.0.0/0"],
                "alloweds": [{"IPProtocol": "tcp", "ports": ["443", "80"]}],
            },
        ),
    ),
    "Google Cloud egress": (
        "gcp",
        _gcp(
            "v1.compute.firewalls.insert",
            {
                "direction": "EGRESS",
                "destinationRanges": ["0.0.0.0/0"],
                "alloweds": [{"IPProtocol": "all"}],
            },
        ),
    ),
    "Google Cloud denials": (
        "gcp",
        _gcp(
            "v1.compute.firewalls.insert",
            {
                "direction": "INGRESS",
                "sourceRanges": ["0.0.0.0/0"],
                "denieds": [{"IPProtocol": "tcp", "ports": ["22"]}],
            },
        ),
    ),
}


@pytest.mark.parametrize("name", list(EXPOSED))
def test_rules_open_to_any_address_are_reported(name: str, tmp_path: Path) -> None:
    fmt, record, severity, said = EXPOSED[name]
    found = network_exposure(events_to_frame(_read(fmt, [record], tmp_path)))
    assert found.height == 1, name
    assert found["severity"][0] == severity
    assert said in found["summary"][0]


@pytest.mark.parametrize("name", list(CLOSED))
def test_rules_that_admit_nobody_new_are_not_reported(name: str, tmp_path: Path) -> None:
    fmt, record = CLOSED[name]
    events = _read(fmt, [record], tmp_path)
    assert events, name
    assert network_exposure(events_to_frame(events)).height == 0


def _change(action: str, before: Any, after: Any, minutes: int = 0) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "occurred_at": f"2026-03-02T09:{minutes:02d}:00Z",
        "action": action,
        "actor": {"id": "mallory"},
        "changes": {"before": before, "after": after},
    }


def test_changes_report_only_what_was_not_open_before() -> None:
    ssh = {"rules": [{"direction": "inbound", "source": "0.0.0.0/0", "port": 22}]}
    both = {"rules": [*ssh["rules"], {"direction": "inbound", "source": "*", "port": "6379"}]}
    assert network_exposure(events_to_frame([_change("firewall.update", ssh, ssh)])).height == 0
    found = network_exposure(events_to_frame([_change("firewall.update", ssh, both)]))
    assert found["summary"].to_list() == [
        "'mallory' opened 6379 (Redis) to * at 2026-03-02 09:00 UTC."
    ]
    # one actor's rules within the hour are one finding
    two = [_change("firewall.update", {}, ssh), _change("firewall.update", ssh, both, 30)]
    assert network_exposure(events_to_frame(two)).height == 1


def test_nothing_to_read_gives_no_finding() -> None:
    rows = [
        {
            "tenant_id": "acme",
            "occurred_at": "2026-03-02T09:00:00Z",
            "action": "security_group.create",
            "actor": {"id": "ops"},
            "metadata": {"original": "not an object"},
            "changes": {"before": None, "after": "0.0.0.0/0"},
        },
        {
            "tenant_id": "acme",
            "occurred_at": "2026-03-02T09:00:00Z",
            "action": "document.read",
            "actor": {"id": "ops"},
        },
    ]
    assert network_exposure(events_to_frame(rows)).height == 0
