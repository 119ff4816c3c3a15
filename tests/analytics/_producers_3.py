"""Round-3 probe trails, as the producers write them: CloudTrail role sessions (and who
assumed them), cross-account and session-token calls, GitLab tokens, Okta group roles.

A compact version of the red-team generator: each builder returns records of one
producer, three weeks of one actor's habits first where the rule judges habits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.analytics._producers import ACCOUNT, cloudtrail, okta

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
OFFICE = "203.0.113.20"
INTRUDER = "91.219.237.15"
CLI = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5 exe/x86_64.ubuntu.22"
BOTO = "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.5 lang/python#3.12.1"
RECON = [("iam", "ListUsers"), ("iam", "ListRoles"), ("s3", "ListBuckets"),
         ("ec2", "DescribeInstances"), ("secretsmanager", "ListSecrets"),
         ("lambda", "ListFunctions"), ("rds", "DescribeDBInstances"),
         ("iam", "ListAccessKeys"), ("iam", "GetAccountAuthorizationDetails"),
         ("ec2", "DescribeSecurityGroups"), ("kms", "ListKeys"),
         ("dynamodb", "ListTables"), ("ssm", "DescribeParameters")]  # fmt: skip


def at(day: float, hour: float = 0) -> str:
    return (T0 + timedelta(days=day, hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_identity(role: str, name: str, key: str, account: str = ACCOUNT) -> dict[str, Any]:
    """``userIdentity`` of a call made with a role session's temporary credentials."""
    return {
        "type": "AssumedRole",
        "principalId": f"AROA{role.upper()}:{name}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{name}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": f"AROA{role.upper()}",
                "arn": f"arn:aws:iam::{account}:role/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": "2026-03-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def assume_role(
    when: str,
    role: str,
    name: str,
    key: str,
    *,
    ip: str,
    agent: str,
    user: str = "dev-bob",
    caller: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``AssumeRole`` as CloudTrail writes it: the session's key and ARN in the response."""
    record = cloudtrail(
        "AssumeRole",
        when,
        user=user,
        source="sts.amazonaws.com",
        ip=ip,
        request={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "roleSessionName": name},
        response={
            "credentials": {"accessKeyId": key, "expiration": "x", "sessionToken": "IQo"},
            "assumedRoleUser": {
                "assumedRoleId": f"AROA{role.upper()}:{name}",
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}",
            },
        },
        userAgent=agent,
    )
    if caller is not None:
        record["userIdentity"] = caller
    record["eventID"] += f"-{key}"
    return record


def habits(user: str = "dev-bob", days: int = 21, ip: str = OFFICE) -> list[dict[str, Any]]:
    """Three weeks of a developer's working days: a few reads from the office with the CLI."""
    out = []
    for day in range(days):
        if day % 7 >= 5:
            continue
        for i, (service, name) in enumerate(RECON[:4]):
            out.append(cloudtrail(name, at(day, 9 + i * 0.5), user=user, ip=ip,
                                  source=f"{service}.amazonaws.com", userAgent=CLI,
                                  readOnly=True))  # fmt: skip
    return out


def chained_intrusion(day: int = 22) -> list[dict[str, Any]]:
    """dev-bob's stolen key, from the intruder's network at night: AssumeRole with the
    SDK's default session name, then, as the session, what a tool reads first, a dozen
    secrets, a key for another user and a console password for another."""
    key, name = "ASIAEVIL0001", "botocore-session-1772503200"
    records = [assume_role(at(day, 2), "OrgAdminRole", name, key, ip=INTRUDER, agent=BOTO)]
    who = session_identity("OrgAdminRole", name, key)
    minute = 0

    def call(event: str, service: str, **kw: Any) -> dict[str, Any]:
        nonlocal minute
        minute += 1
        return cloudtrail(event, at(day, 2 + minute / 60), source=f"{service}.amazonaws.com",
                          ip=INTRUDER, userIdentity=who, userAgent=BOTO, **kw)  # fmt: skip

    records += [call(n, s, readOnly=True) for s, n in RECON]
    records += [
        call("GetSecretValue", "secretsmanager", request={"secretId": f"prod/db-{i}"})
        for i in range(12)
    ]
    records.append(call("CreateAccessKey", "iam", request={"userName": "svc-backup"}))
    records.append(call("UpdateLoginProfile", "iam", request={"userName": "ops-dan"}))
    return records


def pipeline_runs(days: int = 23) -> list[dict[str, Any]]:
    """A pipeline's IAM user assuming its deploy role on every run, the session named by
    the run, from a new cloud runner each time, and deploying."""
    out = []
    for day in range(days):
        for run in range(2):
            rid = 100000 + day * 10 + run
            key, name = f"ASIADEPLOY{rid}", f"gitlab-ci-{rid}"
            ip = f"20.{40 + day}.{run}.9"
            out.append(assume_role(at(day, 10 + run), "DeployRole", name, key, ip=ip,
                                   agent=BOTO, user="ci-deployer"))  # fmt: skip
            who = session_identity("DeployRole", name, key)
            for k, (service, event) in enumerate((("lambda", "UpdateFunctionCode20150331v2"),
                                                  ("lambda", "GetFunction"),
                                                  ("s3", "ListBuckets"))):  # fmt: skip
                out.append(cloudtrail(event, at(day, 10 + run + (k + 1) / 60), ip=ip,
                                      source=f"{service}.amazonaws.com", userIdentity=who,
                                      userAgent=BOTO, request={"functionName": "api"}))  # fmt: skip
    return out


def cross_account(account: str, day: int, name: str, key: str, ip: str) -> dict[str, Any]:
    """Another AWS account's principal assuming this account's VendorAccess role."""
    caller = {"type": "AWSAccount", "principalId": f"AIDA{account}", "accountId": account}
    return assume_role(at(day, 3), "VendorAccess", name, key, ip=ip,
                       agent="aws-sdk-go/1.50.0 (go1.21; linux; amd64)", caller=caller)  # fmt: skip


def session_token(day: int, user: str, ip: str, agent: str, mfa: bool) -> dict[str, Any]:
    request: dict[str, Any] = {"durationSeconds": 129600}
    if mfa:
        request["serialNumber"] = f"arn:aws:iam::{ACCOUNT}:mfa/{user}"
    response = {"credentials": {"accessKeyId": f"ASIA{user[:3]}{day}"}}
    record = cloudtrail("GetSessionToken", at(day, 9.9 if mfa else 2), user=user, ip=ip,
                        source="sts.amazonaws.com", request=request, userAgent=agent,
                        response=response)  # fmt: skip
    record["eventID"] += f"-{day}"
    return record


def rotations(weeks: int = 4) -> list[dict[str, Any]]:
    """A scheduled job's role session renewing two service users' keys every week."""
    out = []
    for week in range(weeks):
        who = session_identity("key-rotation", "key-rotator", f"ASIAROT{week}")
        for u, user in enumerate(("svc-backup", "svc-reporting")):
            for i in range(30):  # the job's other calls: enough history to be judged
                out.append(cloudtrail("ListAccessKeys", at(7 * week, 4 + (i + 30 * u) / 600),
                                      ip="34.250.1.10",
                                      userIdentity=who, request={"userName": user},
                                      readOnly=True))  # fmt: skip
            for event in ("CreateAccessKey", "DeleteAccessKey"):
                record = cloudtrail(event, at(7 * week, 4.1), ip="34.250.1.10", userIdentity=who,
                                    request={"userName": user})  # fmt: skip
                record["eventID"] += f"-{user}-{week}"
                out.append(record)
    return out


# ------------------------------------------------------------------------------- GitLab


def gitlab(day: float, author: tuple[int, str], name: str, entity: tuple[str, int, str],
           ip: str, **details: Any) -> dict[str, Any]:  # fmt: skip
    """One streamed GitLab audit event."""
    kind, ident, path = entity
    when = at(day)
    target = {k: details.pop(k, v) for k, v in
              (("target_id", ident), ("target_type", kind), ("target_details", path))}  # fmt: skip
    return {
        "id": int((T0 + timedelta(days=day)).timestamp()) * 100 + author[0] + len(name),
        "author_id": author[0],
        "author_name": author[1],
        "entity_id": ident,
        "entity_type": kind,
        "entity_path": path,
        **target,
        "created_at": when,
        "ip_address": ip,
        "event_type": name,
        "details": {
            "author_name": author[1],
            "author_class": "User",
            "ip_address": ip,
            "entity_path": path,
            **target,
            **details,
        },
    }


GL_ADMIN = (1, "root-admin")


def gitlab_admin_habits(days: int = 21) -> list[dict[str, Any]]:
    """An administrator signing in from the office and pushing, every working day."""
    out = []
    for day in range(days):
        if day % 7 >= 5:
            continue
        out.append(gitlab(day + 8 / 24, GL_ADMIN, "authenticated_with_two_factor",
                          ("User", 1, "root-admin"), OFFICE, **{"with": "two-factor"}))  # fmt: skip
        for k in range(3):
            project = ("Project", 40 + k, f"corp/svc-{k}")
            out.append(gitlab(day + (9 + k) / 24, GL_ADMIN, "repository_git_operation",
                              project, OFFICE, verb="push"))  # fmt: skip
    return out


def gitlab_token_for(user: tuple[int, str], day: float, ip: str) -> dict[str, Any]:
    """An administrator creating a personal access token for ``user`` (the API's
    impersonation and admin-made tokens are logged so)."""
    return gitlab(day, GL_ADMIN, "personal_access_token_created", ("User", user[0], user[1]),
                  ip, custom_message=f"Created personal access token for {user[1]}")  # fmt: skip


# --------------------------------------------------------------------------------- Okta


def okta_group_made_admin(role: str, then_member: bool, ip: str) -> list[dict[str, Any]]:
    """An Okta administrator granting a group an admin role, then (or not) adding a member."""
    group = {"id": "00gHELP", "type": "UserGroup", "displayName": "helpdesk-temp"}
    grant = okta("group.privilege.grant", at(22, 3), actor="raj", ip=ip, targets=[group])
    grant["debugContext"] = {"debugData": {"privilegeGranted": role}}
    out = [grant]
    if then_member:
        member = {"id": "00ugus", "type": "User", "displayName": "Gus"}
        out.append(okta("group.user_membership.add", at(22, 3.1), actor="raj", ip=ip,
                        targets=[member, group]))  # fmt: skip
    return out


def okta_habits(days: int = 21) -> list[dict[str, Any]]:
    """The administrator's sign-ins and group work from the office."""
    out = []
    for day in range(days):
        out.append(okta("user.session.start", at(day, 14), actor="raj", ip=OFFICE))
        engineering = {"id": "00gENG", "type": "UserGroup", "displayName": "Engineering"}
        newcomer = {"id": f"00unew{day}", "type": "User", "displayName": f"New {day}"}
        out.append(okta("group.user_membership.add", at(day, 14.2), actor="raj", ip=OFFICE,
                        targets=[newcomer, engineering]))  # fmt: skip
    return out
