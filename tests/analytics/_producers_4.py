"""Round-4 probe trails, as the producers write them: GitLab CI/CD variables and runner
registration tokens set from an intruder's network, and CloudTrail object reads by a role
session another AWS account obtained (the bucket named first, the object in
``resources``).

A compact version of the red-team generator (``/tmp/rt4/gen.py``): each builder returns
records of one producer, three weeks of habits first where the rule judges habits."""

from __future__ import annotations

from typing import Any

from tests.analytics._producers import ACCOUNT, cloudtrail
from tests.analytics._producers_3 import at, cross_account, gitlab, session_identity

OFFICE = "203.0.113.22"
INTRUDER = "185.220.101.77"
RELENG = (12, "rel-eng")
GL_ADMIN = (11, "root-admin")
GROUP = ("Group", 19, "corp")
SDK = "aws-sdk-go/1.50.0 (go1.21; linux; amd64)"


def project(k: int) -> tuple[str, int, str]:
    return ("Project", 200 + k, f"corp/svc-{k}")


def variable(day: float, who: tuple[int, str], name: str, entity: tuple[str, int, str],
             key: str, ip: str) -> dict[str, Any]:  # fmt: skip
    """A CI/CD variable event (``ci_variable_created``, ``ci_group_variable_updated``...):
    GitLab names the variable in ``target_details``."""
    kind = "Ci::GroupVariable" if "group" in name else "Ci::Variable"
    message = "Changed variable" if "updated" in name else "Added variable"
    return gitlab(day, who, name, entity, ip, target_type=kind, target_details=key,
                  custom_message=message)  # fmt: skip


def releng_habits(days: int = 21) -> list[dict[str, Any]]:
    """A release engineer and an administrator signing in from the office every working
    day; the engineer changes a CI/CD variable there most days."""
    out = []
    for day in range(days):
        if day % 7 >= 5:
            continue
        for who in (RELENG, GL_ADMIN):
            me = ("User", who[0], who[1])
            clone = {"protocol": "ssh", "action": "git-upload-pack"}
            out.append(gitlab(day + 8 / 24, who, "authenticated_with_two_factor", me, OFFICE,
                              **{"with": "two-factor"}))  # fmt: skip
            out.append(gitlab(day + 9 / 24, who, "repository_git_operation", project(day % 5),
                              OFFICE, custom_message=clone))  # fmt: skip
        if day % 3:
            when = day + 11 / 24
            out.append(variable(when, RELENG, "ci_variable_updated", project(1), "DEPLOY_ENV",
                                OFFICE))  # fmt: skip
    return out


def ci_secrets_planted(day: float, ip: str) -> list[dict[str, Any]]:
    """CI/CD variables added and changed (project and group) and the group's runner
    registration token reset, minutes apart."""
    return [
        variable(day, RELENG, "ci_variable_created", project(2), "PIP_INDEX_URL", ip),
        variable(day + 1 / 1440, RELENG, "ci_variable_updated", project(0), "DEPLOY_TOKEN", ip),
        variable(day + 2 / 1440, RELENG, "ci_group_variable_created", GROUP, "NPM_REGISTRY", ip),
        gitlab(day + 4 / 1440, GL_ADMIN, "ci_runner_registration_token_reset", GROUP, ip,
               target_type="Group", custom_message="Reset group runner registration token"),
    ]  # fmt: skip


def object_reads(day: int, role: str, name: str, key: str, ip: str, n: int,
                 agent: str = SDK) -> list[dict[str, Any]]:  # fmt: skip
    """``n`` GetObject data events of a role session, as CloudTrail writes them: the
    request's bucket, and the object and the bucket in ``resources``."""
    who = session_identity(role, name, key)
    out = []
    for k in range(n):
        record = cloudtrail("GetObject", at(day, 3 + (30 + 2 * k) / 3600), ip=ip,
                            source="s3.amazonaws.com", userIdentity=who, userAgent=agent,
                            request={"bucketName": "customer-data", "key": f"pii/{k}.parquet"},
                            readOnly=True,
                            resources=[{"type": "AWS::S3::Object",
                                        "ARN": f"arn:aws:s3:::customer-data/pii/{k}.parquet"},
                                       {"accountId": ACCOUNT, "type": "AWS::S3::Bucket",
                                        "ARN": "arn:aws:s3:::customer-data"}])  # fmt: skip
        record["eventID"] += f"-{key}-{k}"
        out.append(record)
    return out


def outsider_collection(account: str, day: int, n: int = 400) -> list[dict[str, Any]]:
    """Another AWS account assuming VendorAccess with the SDK's default session name, then
    reading ``n`` objects one ``GetObject`` at a time."""
    name, key = f"aws-go-sdk-17617068{day:02d}", f"ASIAX{account[:6]}{day}"
    return [cross_account(account, day, name, key, "45.83.64.1"),
            *object_reads(day, "VendorAccess", name, key, "45.83.64.1", n)]  # fmt: skip


def partner_habits(account: str, days: int = 21) -> list[dict[str, Any]]:
    """A partner account syncing a few objects every day through VendorAccess."""
    out = []
    for day in range(days):
        name, key = "partner-sync", f"ASIAP{day:02d}"
        out.append(cross_account(account, day, name, key, "52.18.44.7"))
        out.extend(object_reads(day, "VendorAccess", name, key, "52.18.44.7", 15))
    return out
