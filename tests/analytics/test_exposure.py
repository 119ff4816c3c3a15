"""``public_exposure``: a resource made public, however the source writes it: a setting
of the event's ``changes``, the request of a producer's record (AWS CloudTrail, Google
Cloud Audit Logs, OCSF) read through its ingest format, GitLab's visibility change, the
metadata of a sharing action, or an action named for it.  Made private, shared with
named people or within the organisation, and settings that only hold the word (a public
key, a public IP address, a public holiday) are not reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.exposure import public_exposure, public_exposures
from auditkit.frame import events_to_frame
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from ._changes import one_change as _c
from ._changes import setting_event as _event
from ._scenarios import generate_scenario

# ------------------------------------------------------------------ applications' events


EXPOSING: dict[str, tuple[str, Any, Any]] = {  # action, changes, metadata
    "visibility private to public": (
        "repository.update",
        _c("visibility", "private", "public"),
        None,
    ),
    "nested camelCase sharing": (
        "document.update",
        {
            "before": {"sharing": {"linkAccess": "restricted"}},
            "after": {"sharing": {"linkAccess": "anyone_with_link"}},
        },
        None,
    ),
    "Drive's public on the web": (
        "file.update",
        _c("visibility", "people_within_domain_with_link", "public_on_the_web"),
        None,
    ),
    "people with the link": (
        "doc.update",
        _c("general_access", "Restricted", "People with the link"),
        None,
    ),
    "audience everyone": ("dashboard.update", _c("audience", "team", "everyone"), None),
    "visibility all": ("board.update", _c("visibility", "members", "all"), None),
    "sharing open": ("space.update", _c("sharing", "closed", "open"), None),
    "access internet": ("endpoint.update", _c("access_scope", "vpc", "internet"), None),
    "GitLab level 20": ("project.update", _c("visibility_level", 0, 20), None),
    "GitLab level as text": ("group.update", _c("visibility_level", "10", "20"), None),
    "is_public switched on": ("bucket.update", _c("is_public", False, True), None),
    "public yes": ("calendar.update", _c("public", "no", "yes"), None),
    "publicly accessible": ("database.update", _c("publiclyAccessible", False, True), None),
    "allow public access": (
        "storage_account.update",
        _c("allow_public_access", "disabled", "enabled"),
        None,
    ),
    "link sharing enabled": ("drive.update", _c("link_sharing_enabled", False, True), None),
    "anonymous access": ("wiki.update", _c("anonymous_access", "off", "on"), None),
    "world readable": ("share.update", _c("world_readable", 0, 1), None),
    "private switched off": ("channel.update", _c("private", True, False), None),
    "isPrivate switched off": ("repo.update", _c("isPrivate", "true", "false"), None),
    "block public access off": ("bucket.update", _c("block_public_access", True, False), None),
    "BlockPublicAcls off": (
        "bucket.update",
        {
            "before": {"PublicAccessBlockConfiguration": {"BlockPublicAcls": True}},
            "after": {"PublicAccessBlockConfiguration": {"BlockPublicAcls": False}},
        },
        None,
    ),
    "public access block removed": ("bucket.update", _c("RestrictPublicBuckets", True, ...), None),
    "prevention enforced to inherited": (
        "bucket.update",
        _c("publicAccessPrevention", "enforced", "inherited"),
        None,
    ),
    "allUsers added to members": (
        "bucket_iam.update",
        _c("members", ["user:ann@acme.com"], ["user:ann@acme.com", "allUsers"]),
        None,
    ),
    "star principal added": ("queue_policy.update", _c("principals", [], ["*"]), None),
    "GitLab legacy scalar change": (
        "project_visibility.update",
        {"before": "Private", "after": "Public"},
        None,
    ),
    "share link for anyone created": ("share_link.create", _c("audience", ..., "anyone"), None),
    "share link by metadata": ("share_link.create", None, {"audience": "anyone_with_link"}),
    "shared with anyone": ("document.share", None, {"shared_with": "anyone"}),
    "GitHub repo.access to public": (
        "repo.access",
        None,
        {"visibility": "public", "previous_visibility": "private"},
    ),
    "made public by name": ("document.make_public", None, None),
    "a lower-cased MakePublic": ("storage_object.makepublic", None, None),
    "public link created by name": ("public_link.create", None, None),
    "published to the web": ("sheet.publish_to_web", None, None),
    "share link published": ("share_link.publish", None, None),
}

HARMLESS: dict[str, tuple[str, Any, Any]] = {
    "made private": ("repository.update", _c("visibility", "public", "private"), None),
    "narrowed to internal": ("project.update", _c("visibility_level", 20, 10), None),
    "private to internal": ("project.update", _c("visibility", "private", "internal"), None),
    "within the organisation": ("report.update", _c("visibility", "team", "organisation"), None),
    "domain": ("file.update", _c("sharing", "private", "domain"), None),
    "organization": ("doc.update", _c("audience", "me", "organization"), None),
    "anyone in the domain": ("file.update", _c("visibility", "private", "anyone_in_domain"), None),
    "public stays public": ("repository.update", _c("visibility", "public", "public"), None),
    "is_public switched off": ("bucket.update", _c("is_public", True, False), None),
    "block public access on": ("bucket.update", _c("block_public_access", False, True), None),
    "private switched on": ("channel.update", _c("private", False, True), None),
    "created public by design": ("repository.create", _c("visibility", ..., "public"), None),
    "channel created public": ("channel.create", _c("is_public", ..., True), None),
    "public key uploaded": ("ssh_key.add", _c("publicKey", ..., "ssh-ed25519 AAAAC3Nza"), None),
    "public key replaced": (
        "settings.update",
        _c("public_key", "ssh-rsa AAA", "ssh-ed25519 BBB"),
        None,
    ),
    "public IP assigned": ("instance.update", _c("public_ip", None, "203.0.113.7"), None),
    "public IP on launch": ("subnet.update", _c("mapPublicIpOnLaunch", False, True), None),
    "public DNS name": ("instance.update", _c("public_dns_enabled", False, True), None),
    "publication date": ("article.update", _c("publication_date", None, "2026-03-02"), None),
    "publisher": ("book.update", _c("publisher", "Acme", "Public Press"), None),
    "public holiday calendar": (
        "calendar.update",
        _c("public_holidays_enabled", False, True),
        None,
    ),
    "republic day": ("calendar.update", _c("republic_day", False, True), None),
    "anonymous usage statistics": (
        "settings.update",
        _c("anonymous_usage_stats", False, True),
        None,
    ),
    "private endpoint off": ("cluster.update", _c("endpointPrivateAccess", True, False), None),
    "private key rotated": ("cert.update", _c("private_key", "a", "b"), None),
    "shared with a named user": (
        "document.share",
        None,
        {"shared_with": "partner@northwind.example"},
    ),
    "shared with a team": ("document.share", None, {"shared_with": "team:finance"}),
    "members without allUsers": (
        "bucket_iam.update",
        _c("members", [], ["user:bob@acme.com"]),
        None,
    ),
    "allUsers removed": ("bucket_iam.update", _c("members", ["allUsers"], []), None),
    "article published (a CMS)": ("article.publish", None, None),
    "release published": ("release.publish", None, None),
    "public link deleted": ("public_link.delete", None, None),
    "public link expired by the system": ("entity.expire", None, {"reason": "share_link_expired"}),
    "repo.access to private": (
        "repo.access",
        None,
        {"visibility": "private", "previous_visibility": "public"},
    ),
    "already public before": (
        "repo.access",
        None,
        {"visibility": "public", "previous_visibility": "public"},
    ),
    "a document read with public metadata": ("document.read", None, {"visibility": "public"}),
    "a link for anyone looked at": ("share_link.get", None, {"audience": "anyone"}),
    "named for it but made private": (
        "document.change_public_access",
        _c("visibility", "public", "private"),
        None,
    ),
    "made public by name, changes say otherwise": (
        "document.make_public",
        _c("sharing", "private", "domain"),
        None,
    ),
    "status open": ("ticket.update", _c("status", "closed", "open"), None),
    "scope all": ("api_key.update", _c("scope", "read", "all"), None),
    "data access all": ("export.update", _c("data_access", "some", "all"), None),
    "access level raised": ("team_member.update", _c("access_level", "Developer", "Owner"), None),
    "value neither on nor off": ("bucket.update", _c("public_access", "sometimes", "often"), None),
    "no changes": ("settings.update", None, None),
}


def _frame(action: str, changes: Any, metadata: Any, **extra: Any) -> pl.DataFrame:
    event = _event(action, changes, **extra)
    if metadata is not None:
        event["metadata"] = metadata
    return events_to_frame([event])


@pytest.mark.parametrize("name", list(EXPOSING))
def test_each_way_of_making_something_public_is_reported_high(name: str) -> None:
    action, changes, metadata = EXPOSING[name]
    found = public_exposure(_frame(action, changes, metadata))
    assert found.height == 1, name
    assert found["severity"][0] == "high"
    assert found["summary"][0].startswith("'mallory' "), found["summary"][0]
    assert "at 2026-03-02 10:00 UTC: " in found["summary"][0]


@pytest.mark.parametrize("name", list(HARMLESS))
def test_look_alikes_are_not_reported(name: str) -> None:
    action, changes, metadata = HARMLESS[name]
    found = public_exposure(_frame(action, changes, metadata))
    assert found.height == 0, found["summary"].to_list()


def test_the_summary_names_the_actor_what_was_exposed_and_how() -> None:
    rows = [
        _event("repository.update", _c("visibility", "private", "public"),
               targets=[{"id": "repo-7", "type": "repository", "name": "acme/payments"}]),
        _event("document.share", at="2026-03-02T10:25:00Z", metadata={"shared_with": "anyone"},
               targets=[{"id": "doc-1", "type": "document"}]),
    ]  # fmt: skip
    found = public_exposure(events_to_frame(rows))
    assert found["summary"].to_list() == [
        "'mallory' made 'acme/payments', 'doc-1' public between 2026-03-02 10:00 UTC and "
        "2026-03-02 10:25 UTC: visibility private → public; shared_with anyone."
    ]
    settings = _event("settings.update", _c("allow_public_links", False, True),
                      targets=[{"id": "settings-acme", "type": "settings"}])  # fmt: skip
    assert public_exposure(events_to_frame([settings]))["summary"].to_list() == [
        "'mallory' opened public access in the settings at 2026-03-02 10:00 UTC: "
        "allow_public_links false → true."
    ]


def test_a_switch_of_the_organisations_settings_alone_is_medium() -> None:
    """It lets people expose things and exposes nothing itself: a policy to review, not a
    leak; with a resource exposed in the same episode the finding is high."""
    switch = _c("allow_public_links", False, True)
    for action, target in (("settings.update", "settings"), ("organization.update", None)):
        targets = [{"id": f"{action}-acme", "type": target}] if target else []
        event = _event(action, switch, targets=targets)
        assert public_exposure(events_to_frame([event]))["severity"].to_list() == ["medium"]
    both = [
        _event("settings.update", switch, targets=[{"id": "s", "type": "settings"}]),
        _event("repository.update", _c("visibility", "private", "public"),
               at="2026-03-02T10:20:00Z", targets=[{"id": "acme/payments"}]),
    ]  # fmt: skip
    assert public_exposure(events_to_frame(both))["severity"].to_list() == ["high"]
    # a resource's own switch is the resource exposed, and so is a policy (a resource's)
    bucket = _event("bucket.update", _c("is_public", False, True))
    assert public_exposure(events_to_frame([bucket]))["severity"].to_list() == ["high"]
    policy = _event("policy.update", _c("visibility", "private", "public"))
    assert public_exposure(events_to_frame([policy]))["severity"].to_list() == ["high"]


def test_a_denied_attempt_is_medium_and_one_actors_events_make_one_finding() -> None:
    public = _c("visibility", "private", "public")
    denied = _event("repository.update", public, outcome="denied")
    assert public_exposure(events_to_frame([denied]))["severity"].to_list() == ["medium"]
    assert (
        "'mallory' tried to open public access"
        in public_exposure(events_to_frame([denied]))["summary"][0]
    )
    rows = [
        _event("repository.update", public, at="2026-03-02T10:00:00Z", outcome="failure"),
        _event("document.make_public", at="2026-03-02T10:40:00Z"),
        _event("bucket.update", _c("is_public", False, True), at="2026-03-02T11:30:00Z"),
        _event("document.make_public", at="2026-03-02T13:00:00Z"),  # more than an hour later
        _event("document.make_public", at="2026-03-02T10:10:00Z", actor="trent"),
    ]
    found = public_exposure(events_to_frame(rows)).sort("actor_id", "first_seen")
    assert found["actor_id"].to_list() == ["mallory", "mallory", "trent"]
    assert found["event_ids"].list.len().to_list() == [3, 1, 1]
    assert found["severity"].to_list() == ["high", "high", "high"]
    assert (
        "visibility private → public; made public (document.make_public); is_public false → true"
        in (found["summary"][0])
    )
    wider = public_exposure(events_to_frame(rows), gap="2h").sort("actor_id")
    assert wider["event_ids"].list.len().to_list() == [4, 1]


def test_changes_or_metadata_that_are_not_json_or_nested_without_end_are_no_finding() -> None:
    """A frame handed in by a script may hold anything in ``changes`` and ``metadata``."""
    deep = '{"before":' + "[" * 100_000 + "]" * 100_000 + "}"
    assert public_exposures("repository.update", deep) == []
    assert public_exposures("repository.update", "{not json", "{not json either") == []
    assert public_exposures("settings.update", None, '{"original": ' + "[" * 50_000) == []
    nested: Any = {"visibility": "public"}
    for _ in range(200):
        nested = {"a": nested}
    assert public_exposures("x.update", json.dumps({"before": {}, "after": nested})) == []
    assert public_exposures("policy.update", None, json.dumps({"original": nested})) == []
    deep_policy = json.dumps({"original": {"requestParameters": {"policy": deep}}})
    assert public_exposures("policy.update", None, deep_policy) == []
    assert public_exposures("x.update", '{"before": 1, "after": [1, {"x": 2}]}', "[1]") == []
    # lists nested as deep as JSON parses (a list inside a list of names names nobody)
    lists = "[" * 900 + '"allUsers"' + "]" * 900
    assert (
        public_exposures("x.update", f'{{"before": {{}}, "after": {{"members": {lists}}}}}') == []
    )
    assert (
        public_exposures("x.update", f'{{"before": {{}}, "after": {{"is_public": {lists}}}}}') == []
    )
    assert public_exposures("document.share", None, f'{{"shared_with": {lists}}}') == []
    request = {"x-amz-acl": json.loads(lists), "policy": '{"Statement": ' + lists + "}"}
    assert public_exposures("x.update", None, json.dumps({"original": request})) == []
    target = pl.Struct({"id": pl.String, "type": pl.String, "name": pl.String})
    frame = pl.DataFrame(
        {"tenant_id": ["acme"], "event_id": ["e1"], "action": ["repository.update"],
         "actor_id": ["mallory"], "outcome": ["success"], "changes": [deep],
         "metadata": ["{not json"], "targets": [None]},
        schema_overrides={"targets": pl.List(target)},
    )  # fmt: skip
    frame = frame.with_columns(
        occurred_at=pl.lit("2026-03-02T10:00:00Z").str.to_datetime(time_zone="UTC")
    )
    assert public_exposure(frame).height == 0


def test_a_trail_without_such_changes_gives_no_finding_and_runs_with_the_others() -> None:
    """The labelled scenario (every attack and look-alike of the other detectors) holds
    nothing made public; the detector is registered and runs with the rest."""
    scenario = generate_scenario(tenants=2, actors=15, days=10, seed=3, kinds=())
    findings = run_detectors(scenario.events)
    assert "public_exposure" not in findings["detector"].to_list()
    attack = events_to_frame(
        [_event("document.make_public", tenant_id=scenario.events["tenant_id"][0])]
    )
    events = pl.concat([scenario.events, attack.select(scenario.events.columns)])
    found = run_detectors(events, names=["public_exposure"])
    assert found["event_ids"].to_list() == [attack["event_id"].to_list()]


# ------------------------------------------------------------------ producers' records


def _ct(
    name: str, params: Any, *, service: str = "s3", minute: int = 0, **extra: Any
) -> dict[str, Any]:
    """A CloudTrail record of an IAM user's call."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/mallory",
                         "accountId": "123456789012", "userName": "mallory",
                         "principalId": "AIDAEXAMPLE"},
        "eventTime": f"2026-03-02T09:{minute:02d}:00Z",
        "eventSource": f"{service}.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": params,
        "responseElements": None,
        "eventID": f"ct-{service}-{name}-{minute}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
        **extra,
    }  # fmt: skip


def _statement(principal: Any, *, effect: str = "Allow", condition: Any = None) -> dict[str, Any]:
    statement = {"Sid": "s", "Effect": effect, "Principal": principal, "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::acme-data/*"}  # fmt: skip
    if condition is not None:
        statement["Condition"] = condition
    return statement


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1)  # as a producer writes JSON inside JSON


def _acl(uri: str) -> dict[str, Any]:
    return {
        "bucketName": "acme-data",
        "acl": [""],
        "AccessControlPolicy": {
            "AccessControlList": {
                "Grant": [
                    {
                        "Grantee": {"xsi:type": "CanonicalUser", "ID": "abc"},
                        "Permission": "FULL_CONTROL",
                    },
                    {"Grantee": {"xsi:type": "Group", "URI": uri}, "Permission": "READ"},
                ]
            },
            "Owner": {"ID": "abc"},
        },
    }


_ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
_PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}  # fmt: skip

CLOUDTRAIL_EXPOSING: dict[str, tuple[dict[str, Any], str]] = {  # record, phrase
    "bucket policy Principal *": (
        _ct(
            "PutBucketPolicy", {"bucketName": "acme-data", "bucketPolicy": _policy(_statement("*"))}
        ),
        "bucket policy allows Principal * to s3:GetObject",
    ),
    "bucket policy AWS *": (
        _ct(
            "PutBucketPolicy",
            {"bucketName": "acme-data", "bucketPolicy": _policy(_statement({"AWS": ["*"]}))},
        ),
        "bucket policy allows Principal *",
    ),
    "bucket policy with a condition that does not narrow": (
        _ct(
            "PutBucketPolicy",
            {
                "bucketName": "acme-data",
                "bucketPolicy": _policy(
                    _statement("*", condition={"Bool": {"aws:SecureTransport": "true"}})
                ),
            },
        ),
        "bucket policy allows Principal *",
    ),
    "bucket ACL AllUsers": (_ct("PutBucketAcl", _acl(_ALL_USERS)), "ACL grants READ to AllUsers"),
    "bucket ACL AuthenticatedUsers": (
        _ct("PutBucketAcl", _acl("http://acs.amazonaws.com/groups/global/AuthenticatedUsers")),
        "ACL grants READ to AuthenticatedUsers",
    ),
    "object canned ACL": (
        _ct(
            "PutObjectAcl",
            {
                "bucketName": "acme-data",
                "key": "q3.xlsx",
                "x-amz-acl": ["public-read"],
                "acl": [""],
            },
        ),
        "x-amz-acl public-read",
    ),
    "grant header": (
        _ct(
            "PutObjectAcl",
            {
                "bucketName": "acme-data",
                "key": "q3.xlsx",
                "x-amz-grant-read": f'uri="{_ALL_USERS}"',
            },
        ),
        "x-amz-grant-read AllUsers",
    ),
    "bucket public access block deleted": (
        _ct(
            "DeleteBucketPublicAccessBlock", {"bucketName": "acme-data", "publicAccessBlock": [""]}
        ),
        "public access block removed (DeleteBucketPublicAccessBlock)",
    ),
    "account public access block deleted": (
        _ct("DeletePublicAccessBlock", {"accountId": "123456789012"}, service="s3-control"),
        "public access block removed (s3_control_public_access_block.delete)",
    ),
    "account block deleted (S3 name)": (
        _ct("DeleteAccountPublicAccessBlock", {"accountId": "123456789012"}),
        "public access block removed (s3_account_public_access_block.delete)",
    ),
    "public access block relaxed": (
        _ct(
            "PutBucketPublicAccessBlock",
            {
                "bucketName": "acme-data",
                "publicAccessBlock": [""],
                "PublicAccessBlockConfiguration": {
                    **_PAB,
                    "BlockPublicPolicy": False,
                    "RestrictPublicBuckets": False,
                },
            },
        ),
        "PublicAccessBlockConfiguration.BlockPublicPolicy false",
    ),
    "EBS snapshot shared with all": (
        _ct(
            "ModifySnapshotAttribute",
            {
                "snapshotId": "snap-0a1",
                "attributeType": "CREATE_VOLUME_PERMISSION",
                "createVolumePermission": {"add": {"items": [{"group": "all"}]}},
            },
            service="ec2",
        ),
        "createVolumePermission shared with all",
    ),
    "AMI shared with all": (
        _ct(
            "ModifyImageAttribute",
            {
                "imageId": "ami-0a1",
                "attributeType": "launchPermission",
                "launchPermission": {"add": {"items": [{"group": "all"}]}},
            },
            service="ec2",
        ),
        "launchPermission shared with all",
    ),
    "RDS snapshot shared with all": (
        _ct(
            "ModifyDBSnapshotAttribute",
            {
                "dBSnapshotIdentifier": "db-snap-1",
                "attributeName": "restore",
                "valuesToAdd": ["all"],
            },
            service="rds",
        ),
        "restore shared with all",
    ),
    "database made publicly accessible": (
        _ct(
            "ModifyDBInstance",
            {
                "dBInstanceIdentifier": "orders",
                "publiclyAccessible": True,
                "applyImmediately": True,
            },
            service="rds",
        ),
        "publiclyAccessible true",
    ),
    "SQS policy as text": (
        _ct(
            "SetQueueAttributes",
            {
                "queueUrl": "https://sqs.us-east-1.amazonaws.com/1/q",
                "attributes": {"Policy": _text(_policy(_statement({"AWS": "*"})))},
            },
            service="sqs",
        ),
        "policy allows Principal *",
    ),
    "SNS topic policy": (
        _ct(
            "SetTopicAttributes",
            {
                "topicArn": "arn:aws:sns:us-east-1:1:t",
                "attributeName": "Policy",
                "attributeValue": _text(_policy(_statement("*"))),
            },
            service="sns",
        ),
        "policy allows Principal *",
    ),
    "KMS key policy": (
        _ct(
            "PutKeyPolicy",
            {
                "keyId": "k-1",
                "policyName": "default",
                "policy": _text(_policy(_statement({"AWS": "*"}))),
            },
            service="kms",
        ),
        "policy allows Principal *",
    ),
    "ECR repository policy": (
        _ct(
            "SetRepositoryPolicy",
            {"repositoryName": "app", "policyText": _text(_policy(_statement({"AWS": "*"})))},
            service="ecr",
        ),
        "policy text allows Principal *",
    ),
    "role trust policy": (
        _ct(
            "UpdateAssumeRolePolicy",
            {"roleName": "deploy", "policyDocument": _text(_policy(_statement({"AWS": "*"})))},
            service="iam",
        ),
        "policy document allows Principal *",
    ),
    "Lambda permission for anyone": (
        _ct(
            "AddPermission20150331v2",
            {
                "functionName": "export",
                "statementId": "x",
                "action": "lambda:InvokeFunction",
                "principal": "*",
            },
            service="lambda",
        ),
        "permission for principal * (lambda:InvokeFunction)",
    ),
    "event bus open to every account": (
        _ct(
            "PutPermission",
            {"action": "events:PutEvents", "principal": "*", "statementId": "all"},
            service="events",
        ),
        "permission for principal * (events:PutEvents)",
    ),
    "Lambda function URL without auth": (
        _ct(
            "CreateFunctionUrlConfig20211031",
            {"functionName": "export", "authType": "NONE"},
            service="lambda",
        ),
        "function URL with auth type NONE",
    ),
}

CLOUDTRAIL_HARMLESS: dict[str, dict[str, Any]] = {
    "policy narrowed to a VPC endpoint": _ct(
        "PutBucketPolicy",
        {
            "bucketName": "acme-data",
            "bucketPolicy": _policy(
                _statement("*", condition={"StringEquals": {"aws:SourceVpce": "vpce-1a2b"}})
            ),
        },
    ),
    "policy narrowed to the organisation": _ct(
        "PutBucketPolicy",
        {
            "bucketName": "acme-data",
            "bucketPolicy": _policy(
                _statement(
                    {"AWS": "*"}, condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}
                )
            ),
        },
    ),
    "deny insecure transport to everybody": _ct(
        "PutBucketPolicy",
        {
            "bucketName": "acme-data",
            "bucketPolicy": _policy(
                _statement("*", effect="Deny", condition={"Bool": {"aws:SecureTransport": "false"}})
            ),
        },
    ),
    "policy for one account": _ct(
        "PutBucketPolicy",
        {
            "bucketName": "acme-data",
            "bucketPolicy": _policy(_statement({"AWS": "arn:aws:iam::210987654321:root"})),
        },
    ),
    "ACL for the owner only": _ct(
        "PutBucketAcl", _acl("http://acs.amazonaws.com/groups/s3/LogDelivery")
    ),
    "canned ACL private": _ct(
        "PutObjectAcl", {"bucketName": "acme-data", "key": "k", "x-amz-acl": ["private"]}
    ),
    "public access block turned on": _ct(
        "PutBucketPublicAccessBlock",
        {"bucketName": "acme-data", "PublicAccessBlockConfiguration": _PAB},
    ),
    "public access block read": _ct(
        "GetBucketPublicAccessBlock", {"bucketName": "acme-data"}, readOnly=True
    ),
    "ACL read back showing AllUsers": _ct(
        "GetBucketAcl",
        {"bucketName": "acme-data", "acl": [""]},
        readOnly=True,
        responseElements={"AccessControlPolicy": _acl(_ALL_USERS)["AccessControlPolicy"]},
    ),
    "snapshot shared with one account": _ct(
        "ModifySnapshotAttribute",
        {
            "snapshotId": "snap-0a1",
            "createVolumePermission": {"add": {"items": [{"userId": "210987654321"}]}},
        },
        service="ec2",
    ),
    "snapshot made private": _ct(
        "ModifySnapshotAttribute",
        {
            "snapshotId": "snap-0a1",
            "createVolumePermission": {"remove": {"items": [{"group": "all"}]}},
        },
        service="ec2",
    ),
    "RDS snapshot unshared": _ct(
        "ModifyDBSnapshotAttribute",
        {"dBSnapshotIdentifier": "s", "attributeName": "restore", "valuesToRemove": ["all"]},
        service="rds",
    ),
    "database made private": _ct(
        "ModifyDBInstance",
        {"dBInstanceIdentifier": "orders", "publiclyAccessible": False},
        service="rds",
    ),
    "database created public": _ct(
        "CreateDBInstance",
        {"dBInstanceIdentifier": "orders", "publiclyAccessible": True, "engine": "postgres"},
        service="rds",
    ),
    "key pair imported": _ct(
        "ImportKeyPair", {"keyName": "ops", "publicKeyMaterial": "c3NoLXJzYQ=="}, service="ec2"
    ),
    "instance with a public address": _ct(
        "RunInstances",
        {
            "instancesSet": {"items": [{"imageId": "ami-1"}]},
            "networkInterfaceSet": {
                "items": [{"deviceIndex": 0, "associatePublicIpAddress": True}]
            },
        },
        service="ec2",
    ),
    "Lambda permission for S3 of one bucket": _ct(
        "AddPermission20150331v2",
        {
            "functionName": "f",
            "action": "lambda:InvokeFunction",
            "principal": "s3.amazonaws.com",
            "sourceArn": "arn:aws:s3:::acme-data",
        },
        service="lambda",
    ),
    "Lambda permission for * from one account": _ct(
        "AddPermission20150331v2",
        {
            "functionName": "f",
            "action": "lambda:InvokeFunction",
            "principal": "*",
            "sourceAccount": "123456789012",
        },
        service="lambda",
    ),
    "event bus open to the organisation": _ct(
        "PutPermission",
        {
            "action": "events:PutEvents",
            "principal": "*",
            "statementId": "org",
            "condition": {"type": "StringEquals", "key": "aws:PrincipalOrgID", "value": "o-1"},
        },
        service="events",
    ),
    "function URL with IAM auth": _ct(
        "CreateFunctionUrlConfig20211031",
        {"functionName": "f", "authType": "AWS_IAM"},
        service="lambda",
    ),
    "policy validated, not applied": _ct(
        "ValidatePolicy",
        {"policyType": "RESOURCE_POLICY", "policyDocument": _text(_policy(_statement("*")))},
        service="access-analyzer",
    ),
    "a denied read of an object": _ct(
        "GetObject",
        {"bucketName": "acme-data", "key": "k"},
        errorCode="AccessDenied",
        readOnly=True,
    ),
}


def _ingest(tmp_path: Path, fmt: str, records: list[dict[str, Any]]) -> pl.DataFrame:
    """``records`` read through the ``fmt`` format, as ``auditkit ingest`` reads them."""
    path = tmp_path / "records.json"
    if fmt == "cloudtrail":
        path.write_bytes(orjson.dumps({"Records": records}))
    elif fmt in ("gcp", "ocsf"):
        path.write_bytes(orjson.dumps(records))
    else:
        path = tmp_path / "records.ndjson"
        path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    source = get_format(fmt)
    tenant = None if fmt in ("cloudtrail", "gcp", "ocsf") else "acme"
    events = [
        normalize_event(source.to_event(r.value, tenant=tenant)) for r in source.records(str(path))
    ]
    assert len(events) == len(records)
    return events_to_frame(events)


@pytest.mark.parametrize("name", list(CLOUDTRAIL_EXPOSING))
def test_cloudtrail_calls_that_make_something_public(tmp_path: Path, name: str) -> None:
    record, phrase = CLOUDTRAIL_EXPOSING[name]
    found = public_exposure(_ingest(tmp_path, "cloudtrail", [record]))
    assert found.height == 1, name
    assert found["severity"][0] == "high"
    summary = found["summary"][0]
    assert summary.startswith("'arn:aws:iam::123456789012:user/mallory' "), summary
    assert phrase in summary, summary


@pytest.mark.parametrize("name", list(CLOUDTRAIL_HARMLESS))
def test_cloudtrail_calls_that_do_not(tmp_path: Path, name: str) -> None:
    found = public_exposure(_ingest(tmp_path, "cloudtrail", [CLOUDTRAIL_HARMLESS[name]]))
    assert found.height == 0, found["summary"].to_list()


def test_cloudtrail_names_the_bucket_and_a_denied_call_is_medium(tmp_path: Path) -> None:
    record, _ = CLOUDTRAIL_EXPOSING["bucket policy Principal *"]
    found = public_exposure(_ingest(tmp_path, "cloudtrail", [record]))
    assert "made 'acme-data' public at 2026-03-02 09:00 UTC" in found["summary"][0]
    denied = {**record, "errorCode": "AccessDenied", "errorMessage": "Access Denied"}
    found = public_exposure(_ingest(tmp_path, "cloudtrail", [denied]))
    assert found["severity"].to_list() == ["medium"]
    assert "tried to make 'acme-data' public" in found["summary"][0]


def test_cloudtrail_as_eventbridge_delivers_it(tmp_path: Path) -> None:
    record, _ = CLOUDTRAIL_EXPOSING["EBS snapshot shared with all"]
    wrapped = {"version": "0", "id": "eb-1", "detail-type": "AWS API Call via CloudTrail",
               "source": "aws.ec2", "account": "123456789012", "time": record["eventTime"],
               "region": "us-east-1", "detail": record}  # fmt: skip
    path = tmp_path / "eventbridge.ndjson"
    path.write_bytes(orjson.dumps(wrapped) + b"\n")
    source = get_format("cloudtrail")
    events = [
        normalize_event(source.to_event(r.value, tenant=None)) for r in source.records(str(path))
    ]
    found = public_exposure(events_to_frame(events))
    assert "createVolumePermission shared with all" in found["summary"][0]


def _gcp(
    method: str,
    service: str,
    resource: str,
    *,
    delta: list[dict[str, Any]] | None = None,
    request: dict[str, Any] | None = None,
    minute: int = 0,
) -> dict[str, Any]:
    """A Cloud Audit Logs entry of a person's Admin Activity."""
    payload: dict[str, Any] = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": {}, "authenticationInfo": {"principalEmail": "mallory@acme.com"},
        "requestMetadata": {"callerIp": "203.0.113.9"},
        "serviceName": service, "methodName": method, "resourceName": resource,
    }  # fmt: skip
    if delta is not None:
        payload["serviceData"] = {"@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
                                  "policyDelta": {"bindingDeltas": delta}}  # fmt: skip
    if request is not None:
        payload["request"] = request
    return {
        "protoPayload": payload,
        "insertId": f"g-{method}-{minute}",
        "resource": {"type": "gcs_bucket", "labels": {"project_id": "acme-prod"}},
        "timestamp": f"2026-03-02T09:{minute:02d}:00Z",
        "severity": "NOTICE",
        "logName": "projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity",
    }


def _delta(action: str, member: str, role: str = "roles/storage.objectViewer") -> dict[str, Any]:
    return {"action": action, "role": role, "member": member}


GCP_EXPOSING: dict[str, tuple[dict[str, Any], str]] = {
    "bucket IAM allUsers": (
        _gcp(
            "storage.setIamPermissions",
            "storage.googleapis.com",
            "projects/_/buckets/acme-public",
            delta=[_delta("ADD", "allUsers")],
        ),
        "allUsers granted roles/storage.objectViewer",
    ),
    "project SetIamPolicy allAuthenticatedUsers": (
        _gcp(
            "SetIamPolicy",
            "cloudresourcemanager.googleapis.com",
            "projects/acme-prod",
            delta=[_delta("ADD", "allAuthenticatedUsers", "roles/viewer")],
            request={
                "@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest",
                "resource": "acme-prod",
                "policy": {
                    "bindings": [{"role": "roles/viewer", "members": ["allAuthenticatedUsers"]}]
                },
            },
        ),
        "allAuthenticatedUsers granted roles/viewer",
    ),
    "policy without deltas": (
        _gcp(
            "SetIamPolicy",
            "run.googleapis.com",
            "projects/p/services/api",
            request={
                "policy": {"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]}
            },
        ),
        "allUsers granted roles/run.invoker",
    ),
    "object ACL": (
        _gcp(
            "storage.objects.update",
            "storage.googleapis.com",
            "projects/_/buckets/b/objects/o",
            request={"acl": [{"entity": "allUsers", "role": "READER"}]},
        ),
        "allUsers granted READER",
    ),
    "predefined ACL": (
        _gcp(
            "storage.buckets.patch",
            "storage.googleapis.com",
            "projects/_/buckets/b",
            request={"predefinedAcl": "publicRead"},
        ),
        "predefinedAcl publicRead",
    ),
    "prevention inherited": (
        _gcp(
            "storage.buckets.update",
            "storage.googleapis.com",
            "projects/_/buckets/b",
            request={"iamConfiguration": {"publicAccessPrevention": "inherited"}},
        ),
        "iamConfiguration.publicAccessPrevention inherited",
    ),
}

GCP_HARMLESS: dict[str, dict[str, Any]] = {
    "allUsers removed": _gcp(
        "storage.setIamPermissions",
        "storage.googleapis.com",
        "projects/_/buckets/b",
        delta=[_delta("REMOVE", "allUsers")],
    ),
    "a person added": _gcp(
        "SetIamPolicy",
        "cloudresourcemanager.googleapis.com",
        "projects/p",
        delta=[_delta("ADD", "user:bob@acme.com", "roles/viewer")],
    ),
    "a person added to a policy already public": _gcp(
        "SetIamPolicy",
        "run.googleapis.com",
        "projects/p/services/api",
        delta=[_delta("ADD", "user:bob@acme.com", "roles/run.invoker")],
        request={
            "policy": {
                "bindings": [
                    {"role": "roles/run.invoker", "members": ["allUsers", "user:bob@acme.com"]}
                ]
            }
        },
    ),
    "the state before the change is not the request": {
        **_gcp(
            "storage.buckets.update",
            "storage.googleapis.com",
            "projects/_/buckets/b",
            request={"iamConfiguration": {"publicAccessPrevention": "enforced"}},
        ),
        "protoPayload": {
            **_gcp("storage.buckets.update", "storage.googleapis.com", "projects/_/buckets/b")[
                "protoPayload"
            ],
            "request": {"iamConfiguration": {"publicAccessPrevention": "enforced"}},
            "resourceOriginalState": {"iamConfiguration": {"publicAccessPrevention": "inherited"}},
        },
    },
    "prevention enforced": _gcp(
        "storage.buckets.update",
        "storage.googleapis.com",
        "projects/_/buckets/b",
        request={"iamConfiguration": {"publicAccessPrevention": "enforced"}},
    ),
}


@pytest.mark.parametrize("name", list(GCP_EXPOSING))
def test_google_cloud_grants_to_everybody(tmp_path: Path, name: str) -> None:
    record, phrase = GCP_EXPOSING[name]
    found = public_exposure(_ingest(tmp_path, "gcp", [record]))
    assert found.height == 1, name
    summary = found["summary"][0]
    assert summary.startswith("'mallory@acme.com' made 'projects/"), summary
    assert phrase in summary and "allUsers'" not in summary, summary  # a member is no target


@pytest.mark.parametrize("name", list(GCP_HARMLESS))
def test_google_cloud_changes_that_open_nothing(tmp_path: Path, name: str) -> None:
    assert public_exposure(_ingest(tmp_path, "gcp", [GCP_HARMLESS[name]])).height == 0


def _gitlab(event_type: str | None, details: dict[str, Any], *, minute: int = 0) -> dict[str, Any]:
    """A GitLab audit event by a person on project 42."""
    record = {
        "id": 1000 + minute, "author_id": 7, "entity_id": 42, "entity_type": "Project",
        "entity_path": "acme/payments", "created_at": f"2026-03-02T09:{minute:02d}:00.000Z",
        "details": {"author_name": "Mallory", "target_id": 42, "target_type": "Project",
                    "target_details": "acme/payments", "ip_address": "203.0.113.9", **details},
    }  # fmt: skip
    if event_type is not None:
        record["event_type"] = event_type
    return record


@pytest.mark.parametrize(
    ("record", "public"),
    [
        (_gitlab("project_visibility_level_updated", {"change": "visibility", "from": "Private",
                 "to": "Public"}), True),
        (_gitlab("group_visibility_level_updated", {"change": "visibility", "from": "Internal",
                 "to": "Public"}), True),
        (_gitlab(None, {"change": "visibility", "from": "Private", "to": "Public"}), True),
        (_gitlab("project_visibility_level_updated", {"change": "visibility", "from": "Public",
                 "to": "Private"}), False),
        (_gitlab("project_visibility_level_updated", {"change": "visibility", "from": "Private",
                 "to": "Internal"}), False),
        (_gitlab(None, {"change": "access_level", "from": "Developer", "to": "Owner"}), False),
    ],
    ids=["project", "group", "legacy", "made private", "internal", "access level"],
)  # fmt: skip
def test_gitlab_visibility_changes(tmp_path: Path, record: dict[str, Any], public: bool) -> None:
    found = public_exposure(_ingest(tmp_path, "gitlab", [record]))
    assert found.height == int(public), found["summary"].to_list()
    if public:
        assert "made 'acme/payments' public" in found["summary"][0], found["summary"][0]
        assert f"visibility {record['details']['from']} → Public" in found["summary"][0]


def test_okta_everyone_is_the_organisation_not_the_public(tmp_path: Path) -> None:
    """Okta's built-in group "Everyone" holds the organisation's users: an application
    assigned to it is shared within the organisation."""
    record = {
        "uuid": "ok-1", "published": "2026-03-02T09:00:00.000Z", "version": "0",
        "eventType": "group.application_assignment.add",
        "actor": {"id": "00uadmin", "type": "User", "alternateId": "mallory@acme.com"},
        "client": {"ipAddress": "203.0.113.9"}, "outcome": {"result": "SUCCESS"},
        "displayMessage": "Add assigned application to group",
        "target": [
            {"id": "00gEveryone", "type": "UserGroup", "displayName": "Everyone"},
            {"id": "0oaPayroll", "type": "AppInstance", "displayName": "Payroll"},
        ],
    }  # fmt: skip
    assert public_exposure(_ingest(tmp_path, "okta", [record])).height == 0


def test_ocsf_api_activity_from_security_lake(tmp_path: Path) -> None:
    """Security Lake's OCSF holds CloudTrail's request in ``api.request.data``, as an
    object or as JSON text."""
    data = {"bucketName": "acme-data", "bucketPolicy": _policy(_statement("*"))}
    records = []
    for i, request in enumerate((data, json.dumps(data))):
        records.append({
            "metadata": {"product": {"name": "CloudTrail", "vendor_name": "AWS", "version": "1.09"},
                         "uid": f"ocsf-{i}", "version": "1.1.0"},
            "time": 1772442000000 + i, "cloud": {"provider": "AWS", "region": "us-east-1",
                                                  "account": {"uid": "123456789012"}},
            "api": {"operation": "PutBucketPolicy", "service": {"name": "s3.amazonaws.com"},
                    "request": {"uid": f"r{i}", "data": request}, "response": {}},
            "actor": {"user": {"type": "IAMUser", "name": "mallory",
                               "uid": "arn:aws:iam::123456789012:user/mallory"}},
            "src_endpoint": {"ip": "203.0.113.9"}, "class_uid": 6003, "category_uid": 6,
            "activity_id": 3, "type_uid": 600303, "status_id": 1, "severity_id": 1,
            "resources": [{"uid": "arn:aws:s3:::acme-data", "type": "AWS::S3::Bucket"}],
        })  # fmt: skip
    found = public_exposure(_ingest(tmp_path, "ocsf", records))
    assert found.height == 1 and found["event_ids"].list.len()[0] == 2
    assert "policy allows Principal * to s3:GetObject" in found["summary"][0]


# ------------------------------------------------------------------ property


def _spelling(name: str, style: int) -> str:
    """One setting name as producers write it: snake, camel, Pascal, kebab, upper."""
    words = name.split("_")
    return (
        "_".join(words),
        words[0] + "".join(w.title() for w in words[1:]),
        "".join(w.title() for w in words),
        "-".join(words),
        "_".join(words).upper(),
    )[style]


def _nest(path: list[str], leaf: Any) -> Any:
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


def _value_case(value: Any, upper: bool) -> Any:
    return value.upper() if upper and isinstance(value, str) else value


SETTINGS = ["visibility", "sharing", "visibility_level", "link_access", "general_access",
            "audience", "share_scope", "access_level"]  # fmt: skip
PUBLIC_VALUES = ["public", "anyone_with_link", "people with link", "Anyone", "everyone",
                 "internet", "public_on_the_web", "allUsers"]  # fmt: skip
CLOSED_VALUES = ["private", "internal", "domain", "organization", "team", "restricted",
                 "members", "only_me", "specific_people", None, ...]  # fmt: skip
PARENTS = st.lists(st.sampled_from(["settings", "project", "sharing_options", "security"]),
                   max_size=3)  # fmt: skip


@given(
    st.sampled_from(SETTINGS), st.integers(0, 4), PARENTS, st.sampled_from(PUBLIC_VALUES),
    st.sampled_from(CLOSED_VALUES), st.sampled_from(CLOSED_VALUES), st.booleans(),
)  # fmt: skip
def test_an_audience_setting_is_an_exposure_exactly_when_it_goes_from_closed_to_everybody(
    name: str, style: int, parents: list[str], public: Any, closed: Any, other: Any, upper: bool
) -> None:
    key = _spelling(name, style)
    public, closed = _value_case(public, upper), _value_case(closed, upper)

    def doc(value: Any) -> Any:
        return {} if value is ... else _nest([*parents, key], value)

    def exposures(before: Any, after: Any) -> list[str]:
        return public_exposures(
            "resource.update", json.dumps({"before": doc(before), "after": doc(after)})
        )

    assert len(exposures(closed, public)) == 1
    assert exposures(public, closed) == []
    assert exposures(public, public) == []
    assert exposures(closed, other) == []


SWITCHES = ["is_public", "public", "publicly_accessible", "allow_public_access",
            "link_sharing_enabled", "anonymous_access", "public_links"]  # fmt: skip
BLOCKS = ["private", "is_private", "block_public_access", "block_public_acls",
          "restrict_public_buckets", "public_access_prevention"]  # fmt: skip
ON = [True, "true", "on", "enabled", "yes", 1, "enforced"]
OFF = [False, "false", "off", "disabled", "no", 0, None]


@given(
    st.sampled_from(SWITCHES + BLOCKS), st.integers(0, 4), PARENTS, st.sampled_from(ON),
    st.sampled_from(OFF),
)  # fmt: skip
def test_a_switch_opens_exactly_when_turned_on_and_a_block_when_turned_off(
    name: str, style: int, parents: list[str], on: Any, off: Any
) -> None:
    key = _spelling(name, style)

    def exposures(before: Any, after: Any) -> list[str]:
        change = {"before": _nest([*parents, key], before), "after": _nest([*parents, key], after)}
        return public_exposures("resource.update", json.dumps(change))

    opening, closing = (off, on) if name in SWITCHES else (on, off)
    assert len(exposures(opening, closing)) == 1
    assert exposures(closing, opening) == []
    assert exposures(opening, opening) == []


WORD_ONLY = ["publicKey", "public_ip", "publicDnsName", "public_holiday", "republic_day",
             "publisher", "publication_date", "private_subnet"]  # fmt: skip
ANY_VALUE = ON + OFF + PUBLIC_VALUES


@given(st.sampled_from(WORD_ONLY), st.sampled_from(ANY_VALUE), st.sampled_from(ANY_VALUE))
def test_names_that_only_hold_the_word_are_never_an_exposure(name: str, a: Any, b: Any) -> None:
    change = {"before": {name: a}, "after": {name: b}}
    assert public_exposures("settings.update", json.dumps(change)) == []
