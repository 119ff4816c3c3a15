"""OCSF API Activity (6003) as Amazon Security Lake writes CloudTrail events: the same
outcome and actor as the CloudTrail reader gives the event, and the tenant from
Security Lake's ``accountid``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from auditkit.errors import SchemaError
from auditkit.ingest.formats.cloudtrail import CloudTrailFormat
from auditkit.ingest.formats.ocsf import OcsfFormat
from auditkit.schema import normalize_event

#: an S3 GetObject as Security Lake (source version 2, OCSF 1.1) writes it
LAKE: dict[str, Any] = {
    "metadata": {
        "product": {
            "version": "1.09",
            "name": "CloudTrail",
            "vendor_name": "AWS",
            "feature": {"name": "Management"},
        },
        "profiles": ["cloud", "datetime"],
        "version": "1.1.0",
        "uid": "sl-0002",
    },
    "cloud": {
        "region": "us-east-1",
        "provider": "AWS",
        "account": {"uid": "123456789012", "type": "AWS Account"},
    },
    "accountid": "123456789012",
    "region": "us-east-1",
    "asl_version": "2.0",
    "time": 1717455660000,
    "api": {
        "response": {"error": "AccessDenied", "message": "not authorized"},
        "operation": "GetObject",
        "service": {"name": "s3.amazonaws.com"},
        "request": {"uid": "req-2"},
    },
    "actor": {
        "user": {
            "type": "IAMUser",
            "name": "alice",
            "uid": "AIDAEX",
            "account": {"uid": "123456789012"},
            "credential_uid": "AKIAEX",
        }
    },
    "src_endpoint": {"ip": "203.0.113.41"},
    "resources": [{"uid": "arn:aws:s3:::prod/a.csv", "type": "AWS::S3::Object"}],
    "class_name": "API Activity",
    "class_uid": 6003,
    "category_uid": 6,
    "severity_id": 1,
    "status": "Failure",
    "status_id": 2,
    "activity_id": 2,
    "activity_name": "Read",
    "type_uid": 600302,
    "type_name": "API Activity: Read",
}

#: the same call as CloudTrail records it
TRAIL: dict[str, Any] = {
    "eventVersion": "1.09",
    "eventTime": "2024-06-03T23:01:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
    "awsRegion": "us-east-1",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEX",
        "arn": "arn:aws:iam::123456789012:user/alice",
        "accountId": "123456789012",
        "userName": "alice",
    },
    "sourceIPAddress": "203.0.113.41",
    "errorCode": "AccessDenied",
    "errorMessage": "not authorized",
    "eventID": "ct-2",
    "eventType": "AwsApiCall",
    "recipientAccountId": "123456789012",
}


def _lake(tenant: str | None = None, **change: Any) -> dict[str, Any]:
    rec = copy.deepcopy(LAKE)
    for key, value in change.items():
        if value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    return normalize_event(OcsfFormat().to_event(rec, tenant=tenant))


def _trail(**change: Any) -> dict[str, Any]:
    rec = {**copy.deepcopy(TRAIL), **change}
    return normalize_event(CloudTrailFormat().to_event(rec, tenant=None))


@pytest.mark.parametrize(
    "error",
    [
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Client.UnauthorizedOperation",
        "NotAuthorizedException",
        "UserNotAuthorized",
        "Forbidden",
    ],
)
def test_an_access_denied_error_is_denied_as_in_cloudtrail(error: str) -> None:
    """``api.response.error`` is CloudTrail's ``errorCode``: AccessDenied was read as a
    plain ``failure`` from Security Lake and as ``denied`` from the trail."""
    lake = _lake(api={**LAKE["api"], "response": {"error": error, "message": "no"}})
    trail = _trail(errorCode=error)
    assert trail["outcome"] == "denied"
    assert lake["outcome"] == trail["outcome"]
    assert lake["action"] == trail["action"] == "s3_object.get"
    assert lake["metadata"]["error_code"] == error


@pytest.mark.parametrize(
    ("error", "status_id"),
    [("NoSuchKey", 2), ("InternalError", 2), (None, 1), ("AccessDenied", 0), ("Forbidden", 99)],
)
def test_every_error_code_has_the_outcome_cloudtrail_gives_it(
    error: str | None, status_id: int
) -> None:
    """Other errors too: a failure, an internal error ``error``; no error, success; a
    status Unknown (0) or Other (99) does not hide the error."""
    lake = _lake(
        api={**LAKE["api"], "response": {"error": error, "message": None}}, status_id=status_id
    )
    trail = _trail(errorCode=error)
    assert lake["outcome"] == trail["outcome"]


def test_a_status_of_success_is_kept_whatever_the_error_field_says() -> None:
    """``status_id`` 1 (Success) is the producer's word: kept, as before."""
    lake = _lake(status_id=1, status="Success")
    assert lake["outcome"] == "success" and lake["metadata"]["error_code"] == "AccessDenied"


def test_a_call_by_an_aws_service_has_the_service_as_actor() -> None:
    """``actor.invoked_by`` alone (an AWS service calling): the record was quarantined
    for 'actor.user.uid missing'; CloudTrail stores it with the service as actor."""
    lake = _lake(
        api={"operation": "ListBuckets", "service": {"name": "s3.amazonaws.com"}},
        actor={"invoked_by": "cloudformation.amazonaws.com"},
    )
    trail = _trail(
        eventName="ListBuckets",
        errorCode=None,
        userIdentity={"invokedBy": "cloudformation.amazonaws.com"},
    )
    assert lake["actor"]["id"] == trail["actor"]["id"] == "cloudformation.amazonaws.com"
    assert lake["actor"]["type"] == trail["actor"]["type"] == "service"
    assert lake["metadata"]["invoked_by"] == "cloudformation.amazonaws.com"
    # an AWSService identity whose only id is the account: the service acted
    service = _lake(
        actor={
            "user": {"type": "AWSService", "account": {"uid": "123456789012"}},
            "invoked_by": "cloudtrail.amazonaws.com",
        }
    )
    assert service["actor"]["id"] == "cloudtrail.amazonaws.com"
    assert service["actor"]["type"] == "service"


def test_a_user_acting_through_a_service_stays_the_actor() -> None:
    lake = _lake(actor={**LAKE["actor"], "invoked_by": "athena.amazonaws.com"})
    assert lake["actor"]["id"] == "AIDAEX" and lake["actor"]["type"] == "user"
    assert lake["metadata"]["invoked_by"] == "athena.amazonaws.com"


def test_the_tenant_is_security_lakes_account() -> None:
    """Security Lake writes the account as ``accountid`` (a partition column), and
    ``cloud.account.uid`` when the mapping fills it."""
    cloud = {"region": "us-east-1", "provider": "AWS"}
    assert _lake(cloud=cloud)["tenant_id"] == "123456789012"
    assert _lake(cloud=cloud, accountid="210987654321")["tenant_id"] == "210987654321"
    # cloud.account.uid first, as before; --tenant only without either
    assert _lake(accountid="210987654321")["tenant_id"] == "123456789012"
    assert _lake(cloud=cloud, accountid=None, tenant="corp")["tenant_id"] == "corp"


def test_without_a_tenant_the_reason_names_every_field_tried() -> None:
    with pytest.raises(SchemaError) as info:
        _lake(cloud={"region": "us-east-1"}, accountid=None)
    assert info.value.field == "metadata.tenant_uid"
    for field in ("metadata.tenant_uid", "cloud.account.uid", "accountid", "--tenant"):
        assert field in str(info.value)
