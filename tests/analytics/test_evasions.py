"""Attacks written to slip under the detectors' thresholds, and innocent look-alikes
(:mod:`._evasions`): every attack is found by its detectors, no look-alike gets a
finding above low, and the same trail gives the same findings twice."""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit.analytics import run_detectors
from auditkit.analytics.detectors import SEVERITIES
from auditkit.analytics.detectors.common import login_name, network
from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from ._evasions import TRAILS, Trail


def _findings(trail: Trail) -> pl.DataFrame:
    return run_detectors(events_to_frame(trail.build()))


@pytest.mark.parametrize("trail", [t for t in TRAILS if t.expect], ids=lambda t: t.name)
def test_evasion_is_found(trail: Trail) -> None:
    findings = _findings(trail)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    strong = findings.filter(
        pl.col("severity").replace_strict(rank, return_dtype=pl.Int8) >= rank[trail.at_least]
    )
    fired = set(strong["detector"])
    assert set(trail.expect) <= fired, findings.select("detector", "severity", "summary").rows()


@pytest.mark.parametrize("trail", [t for t in TRAILS if not t.expect], ids=lambda t: t.name)
def test_lookalike_stays_quiet(trail: Trail) -> None:
    findings = _findings(trail).filter(pl.col("severity") != "low")
    assert findings.height == 0, findings.select("detector", "severity", "summary").rows()


def test_same_trail_same_findings() -> None:
    for trail in TRAILS:
        assert_frame_equal(_findings(trail), _findings(trail))


def test_login_names_fold_case_blanks_and_lookalike_letters() -> None:
    names = pl.Series(["Alice@X.com", " alice@x.com\u200b", "\u0430lic\u0435@x.com", "ALİCE"])
    got = pl.select(login_name(pl.lit(names))).to_series().to_list()
    assert got[:3] == ["alice@x.com"] * 3


def test_ipv6_network_of_compressed_addresses() -> None:
    ips = pl.Series(
        ["2001:db8::1", "2001:db8::5:1", "2001:db8:0:0:1::", "::1", "fe80::1", "10.1.2.3"]
    )
    got = pl.select(network(pl.lit(ips))).to_series().to_list()
    assert got == [
        "2001:db8:0:0::/64",
        "2001:db8:0:0::/64",
        "2001:db8:0:0::/64",
        "0:0:0:0::/64",
        "fe80:0:0:0::/64",
        "10.1.2.0/24",
    ]


def test_spraying_names_the_network_and_cites_every_attempt() -> None:
    trail = next(t for t in TRAILS if t.name == "spray from one IPv6 /64")
    events = events_to_frame(trail.build())
    found = run_detectors(events, names=["password_spraying"])
    assert found.height == 1 and found["severity"][0] == "high"
    assert "2001:db8:0:0::/64" in found["summary"][0]
    assert sorted(found["event_ids"][0]) == sorted(events["event_id"])


def _cloudtrail(name: str, params: dict[str, object]) -> dict[str, object]:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::123456789012:user/mallory",
            "accountId": "123456789012",
            "userName": "mallory",
        },
        "eventTime": "2026-03-02T09:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "requestParameters": params,
        "eventID": f"id-{name}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    }


def _gcp(method: str) -> dict[str, object]:
    return {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {"principalEmail": "mallory@acme.com"},
            "serviceName": "logging.googleapis.com",
            "methodName": f"google.logging.v2.ConfigServiceV2.{method}",
            "resourceName": "projects/p/sinks/to-siem",
        },
        "insertId": f"i-{method}",
        "resource": {"type": "logging_sink", "labels": {"project_id": "p"}},
        "timestamp": "2026-03-02T09:00:00Z",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
    }


@pytest.mark.parametrize(
    ("fmt", "record", "at_least"),
    [
        ("cloudtrail", _cloudtrail("StopLogging", {"name": "main"}), "critical"),
        ("cloudtrail", _cloudtrail("DeleteTrail", {"name": "main"}), "critical"),
        (
            "cloudtrail",
            _cloudtrail(
                "PutEventSelectors",
                {"trailName": "main", "eventSelectors": [{"readWriteType": "ReadOnly"}]},
            ),
            "high",
        ),
        ("cloudtrail", _cloudtrail("UpdateTrail", {"name": "main", "s3BucketName": "x"}), "high"),
        ("gcp", _gcp("DeleteSink"), "critical"),
        ("gcp", _gcp("UpdateSink"), "high"),
    ],
    ids=lambda v: v.get("eventName") or v.get("insertId") if isinstance(v, dict) else None,
)
def test_audit_tampering_as_cloud_sources_arrive(
    tmp_path: Path, fmt: str, record: dict[str, object], at_least: str
) -> None:
    """CloudTrail and GCP logging changes, through the ingest mappings, are tampering."""
    path = tmp_path / "records.json"
    path.write_bytes(orjson.dumps({"Records": [record]} if fmt == "cloudtrail" else [record]))
    source = get_format(fmt)
    events = [
        normalize_event(source.to_event(r.value, tenant=None)) for r in source.records(str(path))
    ]
    found = run_detectors(events_to_frame(events), names=["audit_tampering"])
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    assert found.height == 1, events[0]["action"]
    assert rank[found["severity"][0]] >= rank[at_least], found["summary"][0]
