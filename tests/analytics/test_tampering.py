"""Audit trail tampering."""

from __future__ import annotations

import polars as pl
import pytest

from auditkit.analytics.detectors.tampering import audit_tampering, retention_days


@pytest.mark.parametrize(
    ("changes", "before", "after"),
    [
        ('{"before": 365, "after": 30}', 365.0, 30.0),
        ('{"before": "365", "after": "30"}', 365.0, 30.0),
        ('{"before": {"retention_days": 90}, "after": {"retention_days": 7}}', 90.0, 7.0),
        ('{"before": {"days": 90}, "after": {"days": 7}}', 90.0, 7.0),
        ('{"before": "1y", "after": "6 months"}', 365.0, 180.0),
        ('{"before": "P2W", "after": "P1D"}', 14.0, 1.0),
        ('{"before": "forever", "after": null}', None, None),
    ],
)
def test_retention_days(changes: str, before: float | None, after: float | None) -> None:
    df = pl.DataFrame({"changes": [changes]})
    assert df.select(retention_days("before"), retention_days("after")).row(0) == (before, after)


def test_tampering_findings(event, frame) -> None:
    rows = [
        event(
            "audit_retention.update",
            "mallory",
            changes={"before": {"retention_days": 365}, "after": {"retention_days": 7}},
        ),
        event("audit_destination.remove", "mallory", minutes=2),
        event("audit_destination.remove", "mallory", minutes=3),
        event("audit_log.disable", "mallory", minutes=5, outcome="denied"),
        # a longer retention and an added destination are fine
        event(
            "audit_retention.update",
            "admin",
            minutes=10,
            changes={"before": {"retention_days": 365}, "after": {"retention_days": 730}},
        ),
        event("audit_destination.add", "admin", minutes=11),
        # unreadable values are reported
        event("audit_retention.update", "admin", minutes=200, changes={"before": "x"}),
        # attempts only: high, not critical
        event("audit_log.disable", "eve", minutes=300, outcome="denied"),
    ]
    found = audit_tampering(frame(rows)).sort("first_seen")
    assert found["actor_id"].to_list() == ["mallory", "admin", "eve"]
    assert found["severity"].to_list() == ["critical", "critical", "high"]
    summary = found["summary"][0]
    assert "disabled audit logging; shortened audit retention from 365 to 7 days" in summary
    assert "removed 2 audit destination(s)" in summary
    assert "1 of 4 attempt(s) did not succeed" in summary
    assert "values unreadable" in found["summary"][1]
    # nothing went through: the summary says what was tried, not done
    assert found["summary"][2].startswith(
        "'eve' tried (every attempt refused or failed): disabled audit logging"
    ), found["summary"][2]
    assert "tried" not in summary


@pytest.mark.parametrize(
    "action",
    [
        "call_log.delete", "chat_logs.purge", "time_log.delete", "food_log.remove",
        "retention_offer.delete", "retention_campaign.update", "ski_trail.update",
        "trail_map.delete",
    ],
)  # fmt: skip
def test_a_word_of_the_trail_in_another_sense_is_not_tampering(event, frame, action) -> None:
    """A product's own records called logs (a call log, a chat log), a subscription
    business's retention offers, a hiking app's trails: deleting them is a user's work,
    not covering tracks.  The trail's own logs still are (error logs, log retention)."""
    assert audit_tampering(frame([event(action, "mallory")])).height == 0, action
    for still in ("error_log.delete", "log_retention.update", "paper_trail.disable"):
        assert audit_tampering(frame([event(still, "mallory")])).height == 1, still


def _lifecycle(bucket: str, rule: object, *, user: str, when: str = "2026-03-10T09:00:00Z"):
    from tests.analytics._producers import cloudtrail

    return cloudtrail(
        "PutBucketLifecycle", when, user=user, source="s3.amazonaws.com",
        request={"bucketName": bucket, "lifecycle": "", "LifecycleConfiguration": {"Rule": rule}},
    )  # fmt: skip


def test_a_lifecycle_rule_expiring_the_trails_bucket(tmp_path) -> None:
    """Stratus Red Team's cloudtrail-lifecycle-rule: the trail keeps logging, and S3
    deletes what it wrote a day later. The bucket is the trail's by its name or because
    the trail history names it as a destination."""
    from tests.analytics._producers import cloudtrail, read_as

    expire = {"ID": "nuke", "Status": "Enabled", "Filter": {"Prefix": "*"}}
    records = [
        cloudtrail("CreateTrail", "2026-03-01T09:00:00Z", user="admin",
                   source="cloudtrail.amazonaws.com",
                   request={"name": "org", "s3BucketName": "acme-sec-archive"}),
        cloudtrail("CreateFlowLogs", "2026-03-01T09:05:00Z", user="admin",
                   source="ec2.amazonaws.com", request={"CreateFlowLogsRequest": {
                       "LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::vpc-x/p/"}}),
        _lifecycle("aws-cloudtrail-logs-111122223333-1a2b", {**expire, "Expiration": {"Days": 1}},
                   user="eve"),
        _lifecycle("acme-sec-archive", [{**expire, "Expiration": {"Date": "2026-03-12T09:00:00Z"}}],
                   user="mallory"),
        _lifecycle("vpc-x", {**expire, "Expiration": {"Days": "7"}}, user="trudy"),
        # look-alikes: a trail bucket kept for seven years and moved to Glacier, a rule
        # switched off, old versions only; buckets that are not the trail's
        _lifecycle("acme-cloudtrail-logs", [
            {**expire, "Transition": {"Days": 90, "StorageClass": "GLACIER"}},
            {**expire, "Expiration": {"Days": 2555}}], user="bob"),
        _lifecycle("acme-audit-logs", {**expire, "Status": "Disabled", "Expiration": {"Days": 1}},
                   user="bob"),
        _lifecycle("acme-audit-logs", {**expire, "NoncurrentVersionExpiration": {
                   "NoncurrentDays": 1}, "Expiration": {"ExpiredObjectDeleteMarker": True}},
                   user="bob"),
        _lifecycle("acme-app-uploads", {**expire, "Expiration": {"Days": 1}}, user="carol"),
        _lifecycle("acme-alb-access-logs", {**expire, "Expiration": {"Days": 30}}, user="carol"),
        _lifecycle("trailhead-photos", {**expire, "Expiration": {"Days": 1}}, user="carol"),
    ]  # fmt: skip
    found = audit_tampering(read_as("cloudtrail", records, tmp_path))
    rows = {r["actor_id"].rsplit("/", 1)[1]: r for r in found.iter_rows(named=True)}
    assert set(rows) == {"eve", "mallory", "trudy"}
    assert all(r["severity"] == "critical" for r in rows.values())
    assert (
        "'aws-cloudtrail-logs-111122223333-1a2b' to delete its objects after 1 day(s)"
        in (rows["eve"]["summary"])
    )
    assert "'acme-sec-archive' to delete its objects after 2 day(s)" in rows["mallory"]["summary"]
    assert "'vpc-x' to delete its objects after 7 day(s)" in rows["trudy"]["summary"]


def test_a_refused_lifecycle_rule_on_the_trails_bucket_is_high(tmp_path) -> None:
    from tests.analytics._producers import read_as

    record = _lifecycle("org-cloudtrail", {"Status": "Enabled", "Expiration": {"Days": 1}},
                        user="eve")  # fmt: skip
    record.update(errorCode="AccessDenied", errorMessage="Access Denied")
    found = audit_tampering(read_as("cloudtrail", [record], tmp_path))
    assert found.select("severity").to_series().to_list() == ["high"]


def test_google_cloud_lifecycles_and_logging_switched_off(tmp_path) -> None:
    """Stratus Red Team's reduce-sink-log-retention (a Delete rule on the sink's bucket)
    and remove-vpc-flow-logs (``logConfig.enable`` false on a subnet), as Cloud Audit
    Logs record them; and their look-alikes."""
    from tests.analytics._producers import GCP_PROJECT, gcp, read_as

    def bucket(name: str, rule: dict, who: str) -> dict:
        return gcp("storage.buckets.update", "2026-03-20T15:20:00Z", actor=who,
                   service="storage.googleapis.com", resource=f"projects/_/buckets/{name}",
                   request={"bucket": name, "lifecycle": {"rule": [rule]}})  # fmt: skip

    def patch(method: str, resource: str, request: dict, who: str) -> dict:
        return gcp(method, "2026-03-20T15:30:00Z", actor=who, resource=resource,
                   request=request)  # fmt: skip

    delete = {"action": {"type": "Delete"}, "condition": {"age": 1}}
    subnet = f"projects/{GCP_PROJECT}/regions/us-central1/subnetworks/prod"
    records = [
        gcp("google.logging.v2.ConfigServiceV2.CreateSink", "2026-03-01T09:00:00Z",
            service="logging.googleapis.com", resource=f"projects/{GCP_PROJECT}/sinks/all",
            actor="admin@acme.io",
            request={"sink": {"destination": "storage.googleapis.com/acme-archive-7"}}),
        bucket("acme-audit-archive", delete, "eve@acme.io"),
        bucket("acme-archive-7", {**delete, "condition": {"createdBefore": "2026-03-22"}},
               "mal@acme.io"),
        patch("v1.compute.subnetworks.patch", subnet, {"logConfig": {"enable": False}},
              "oz@acme.io"),
        patch("dns.policies.patch", f"projects/{GCP_PROJECT}/policies/p",
              {"policy": {"enableLogging": False}}, "pat@acme.io"),
        # look-alikes: old versions only, another action, an app's bucket, logs on
        bucket("acme-audit-archive", {**delete, "condition": {"age": 1, "isLive": False}},
               "bo@acme.io"),
        bucket("acme-audit-archive", {"action": {"type": "SetStorageClass",
               "storageClass": "ARCHIVE"}, "condition": {"age": 30}}, "bo@acme.io"),
        bucket("acme-uploads", delete, "bo@acme.io"),
        patch("v1.compute.subnetworks.patch", subnet, {"logConfig": {"enable": True}},
              "bo@acme.io"),
    ]  # fmt: skip
    found = audit_tampering(read_as("gcp", records, tmp_path))
    got = {r["actor_id"]: r for r in found.iter_rows(named=True)}
    assert set(got) == {"eve@acme.io", "mal@acme.io", "oz@acme.io", "pat@acme.io"}
    assert all(r["severity"] == "critical" for r in got.values())
    assert (
        "'acme-audit-archive' to delete its objects after 1 day(s)" in got["eve@acme.io"]["summary"]
    )
    assert "'acme-archive-7' to delete" in got["mal@acme.io"]["summary"]
    assert "disabled audit logging" in got["oz@acme.io"]["summary"]


def test_a_dns_policy_deleted_is_its_query_log_switched_off(tmp_path) -> None:
    """Stratus Red Team's delete-dns-logs: a Cloud DNS policy whose logging the trail saw
    switched on, detached from its networks and deleted, is critical; a policy whose
    logging the trail never saw is high (not shown to be harmless); one replaced in the
    same sitting, or deleted with its network (a test environment torn down), is high;
    detaching, creating or a refused deletion alone are not critical."""
    from tests.analytics._producers import GCP_PROJECT, gcp, read_as

    def dns(
        method: str,
        when: str,
        name: str,
        who: str,
        request: dict | None = None,
        code: int | None = None,
    ) -> dict:
        return gcp(f"dns.policies.{method}", when, actor=who, service="dns.googleapis.com",
                   resource=f"projects/{GCP_PROJECT}/policies/{name}", resource_type="dns_policy",
                   request=request, code=code)  # fmt: skip

    logged = {"policy": {"enableLogging": True, "networks": [{"networkUrl": "vpc"}]}}
    detached = {"policy": {"networks": []}}
    records = [
        dns("create", "2026-03-01T09:00:00Z", "dns-logs", "tf@acme.iam.gserviceaccount.com",
            logged),
        dns("patch", "2026-03-20T15:30:00Z", "dns-logs", "eve@acme.io", detached),
        dns("delete", "2026-03-20T15:31:00Z", "dns-logs", "eve@acme.io"),
        # a forwarding policy the trail never saw made: high
        dns("delete", "2026-03-21T10:00:00Z", "forwarders", "mal@acme.io"),
        # infrastructure code replacing a logged policy: high
        dns("create", "2026-03-02T09:00:00Z", "dns-logs-2", "tf@acme.iam.gserviceaccount.com",
            logged),
        dns("delete", "2026-03-22T10:00:00Z", "dns-logs-2", "ops@acme.io"),
        dns("create", "2026-03-22T10:00:05Z", "dns-logs-3", "ops@acme.io", logged),
        # refused: high, not critical
        dns("delete", "2026-03-23T10:00:00Z", "dns-logs-3", "bo@acme.io", code=7),
        # a test environment torn down: the policy, then its network: high
        dns("create", "2026-03-03T09:00:00Z", "dev-dns", "tf@acme.iam.gserviceaccount.com",
            logged),
        dns("delete", "2026-03-25T18:00:00Z", "dev-dns", "dev@acme.io"),
        gcp("v1.compute.networks.delete", "2026-03-25T18:02:00Z", actor="dev@acme.io",
            resource=f"projects/{GCP_PROJECT}/global/networks/dev-vpc"),
        # a new policy made with logging on, and networks detached: nothing
        dns("create", "2026-03-24T10:00:00Z", "dns-logs-4", "pat@acme.io", logged),
        dns("patch", "2026-03-24T11:00:00Z", "dns-logs-4", "pat@acme.io", detached),
    ]  # fmt: skip
    found = audit_tampering(read_as("gcp", records, tmp_path))
    got = {r["actor_id"]: r for r in found.iter_rows(named=True)}
    assert {a: r["severity"] for a, r in got.items()} == {
        "eve@acme.io": "critical",
        "mal@acme.io": "high",
        "ops@acme.io": "high",
        "bo@acme.io": "high",
        "dev@acme.io": "high",
    }
    assert "(a teardown?)" in got["dev@acme.io"]["summary"]
    assert "disabled audit logging" in got["eve@acme.io"]["summary"]
    assert "a replacement?" in got["ops@acme.io"]["summary"]
    assert "dns_policies.delete" in got["mal@acme.io"]["summary"]


def test_a_part_of_the_trail_replaced_in_one_sitting_is_high(tmp_path) -> None:
    """Infrastructure code re-creating a DNS query log configuration (create the new,
    delete the old, a second apart) is high, not critical; logging stopped and started
    again (the gap an intruder leaves) and a deletion alone stay critical."""
    from tests.analytics._producers import cloudtrail, read_as

    r53, trail = "route53resolver.amazonaws.com", "cloudtrail.amazonaws.com"
    records = [
        cloudtrail("CreateResolverQueryLogConfig", "2026-03-20T15:40:01Z", user="tf", source=r53,
                   request={"name": "dns-logs-v2", "destinationArn": "arn:aws:logs:x"}),
        cloudtrail("DeleteResolverQueryLogConfig", "2026-03-20T15:40:02Z", user="tf", source=r53,
                   request={"resolverQueryLogConfigId": "rqlc-1"}),
        cloudtrail("DeleteResolverQueryLogConfig", "2026-03-20T15:40:02Z", user="eve", source=r53,
                   request={"resolverQueryLogConfigId": "rqlc-2"}),
        cloudtrail("StopLogging", "2026-03-20T15:40:00Z", user="mal", source=trail,
                   request={"name": "org-trail"}),
        cloudtrail("StartLogging", "2026-03-20T15:50:00Z", user="mal", source=trail,
                   request={"name": "org-trail"}),
    ]  # fmt: skip
    found = audit_tampering(read_as("cloudtrail", records, tmp_path))
    got = {r["actor_id"].rsplit("/", 1)[1]: r for r in found.iter_rows(named=True)}
    assert {k: r["severity"] for k, r in got.items()} == {
        "tf": "high", "eve": "critical", "mal": "critical"}  # fmt: skip
    assert "a replacement" in got["tf"]["summary"]


def test_a_flow_log_replaced_by_terraform_is_high(tmp_path) -> None:
    """The vocabulary names CloudTrail's ``DeleteFlowLogs`` ``audit_log.disable`` and its
    ``CreateFlowLogs`` ``ec2_flow_logs.create``: the source's call names tell that the
    same item was made again (Terraform replacing a flow log, in either order); a deletion
    alone, or logging stopped beside a creation, stays critical."""
    from tests.analytics._producers import cloudtrail, read_as

    ec2, trail = "ec2.amazonaws.com", "cloudtrail.amazonaws.com"
    delete = {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": "fl-0abc"}}}
    create = {"CreateFlowLogsRequest": {"ResourceId": {"tag": 1, "content": "vpc-0123"}}}

    def call(name: str, second: int, user: str, request: dict, source: str = ec2) -> dict:
        when = f"2026-03-20T15:40:{second:02d}Z"
        return cloudtrail(name, when, user=user, source=source, request=request)

    records = [
        call("DeleteFlowLogs", 1, "tf", delete), call("CreateFlowLogs", 9, "tf", create),
        call("CreateFlowLogs", 1, "tf2", create), call("DeleteFlowLogs", 9, "tf2", delete),
        call("DeleteFlowLogs", 1, "eve", delete),
        call("StopLogging", 1, "mal", {"name": "org-trail"}, trail),
        call("CreateFlowLogs", 9, "mal", create),
    ]  # fmt: skip
    found = audit_tampering(read_as("cloudtrail", records, tmp_path))
    got = {r["actor_id"].rsplit("/", 1)[1]: r for r in found.iter_rows(named=True)}
    assert {k: r["severity"] for k, r in got.items()} == {
        "tf": "high", "tf2": "high", "eve": "critical", "mal": "critical"}  # fmt: skip
    assert "a replacement" in got["tf"]["summary"]
