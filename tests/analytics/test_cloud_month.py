"""A month of ordinary AWS activity shaped like real producers' records, read through the
CloudTrail reader: a CI pipeline on GitHub's runners (a new address every run) planning
with Terraform and assuming roles in other accounts, a monitoring vendor's role polling
every half hour, Lambda assuming its roles, an SSO administrator in the console and an
engineer on the CLI from a home line whose address changes weekly.  New modules, a new
account, a vendor's new checks and an engineer's first tries with Bedrock happen along
the way.  None of it may make a high or critical finding."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import polars as pl

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import ACCOUNT, read_as

TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) "
    "terraform-provider-aws/5.40.0 aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.8 api/ec2#1.150.0"
)
CLI = "aws-cli/2.15.28 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/{}"
VENDOR = "Datadog-AWS-Integration/1.0 aws-sdk-go/1.44.0 (go1.21; linux; amd64)"
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0"
PLAN = [
    ("DescribeInstances", "ec2"), ("DescribeSecurityGroups", "ec2"), ("DescribeVpcs", "ec2"),
    ("GetRole", "iam"), ("GetPolicy", "iam"), ("ListAttachedRolePolicies", "iam"),
    ("GetBucketPolicy", "s3"), ("GetBucketVersioning", "s3"), ("GetFunction20150331v2", "lambda"),
    ("DescribeLogGroups", "logs"), ("DescribeDBInstances", "rds"), ("DescribeKey", "kms"),
]  # fmt: skip
NEW_MODULE = [
    ("DescribeCacheClusters", "elasticache"), ("DescribeReplicationGroups", "elasticache"),
    ("DescribeClusters", "eks"), ("DescribeNodegroup", "eks"), ("ListNodegroups", "eks"),
    ("DescribeAddonVersions", "eks"), ("GetQueueAttributes", "sqs"), ("ListQueueTags", "sqs"),
    ("GetTopicAttributes", "sns"), ("ListSubscriptionsByTopic", "sns"),
    ("DescribeStream", "kinesis"), ("ListTagsForResource20170101", "elasticache"),
]  # fmt: skip
POLLS = [
    ("DescribeInstances", "ec2"), ("ListMetrics", "monitoring"), ("GetMetricData", "monitoring"),
    ("DescribeDBInstances", "rds"), ("ListFunctions20150331", "lambda"), ("ListBuckets", "s3"),
    ("DescribeTable", "dynamodb"), ("ListQueues", "sqs"),
]  # fmt: skip
NEW_CHECKS = [
    ("ListClusters", "ecs"), ("DescribeClusters", "redshift"), ("ListStreams", "kinesis"),
    ("DescribeFileSystems", "elasticfilesystem"), ("ListDistributions", "cloudfront"),
    ("DescribeDomains", "es"), ("DescribeAlarms", "monitoring"), ("ListHostedZones", "route53"),
    ("GetFunctionConfiguration", "lambda"), ("DescribeCacheClusters", "elasticache"),
]  # fmt: skip


class _Trail:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, name: str, day: int, second: int, *, who: str, ip: str, agent: str,
            source: str, kind: str = "AssumedRole", request: dict[str, Any] | None = None
            ) -> None:  # fmt: skip
        n = len(self.records)
        if kind == "AssumedRole":
            identity: dict[str, Any] = {
                "type": "AssumedRole", "principalId": f"AROA{n}:{who}", "accountId": ACCOUNT,
                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{who}/session",
                "sessionContext": {"sessionIssuer": {
                    "type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/{who}"}},
            }  # fmt: skip
        elif kind == "AWSService":
            identity = {"type": "AWSService", "invokedBy": who}
        else:
            identity = {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/{who}",
                        "accountId": ACCOUNT, "userName": who}  # fmt: skip
        h, m, s = second // 3600, second % 3600 // 60, second % 60
        self.records.append({
            "eventVersion": "1.09", "userIdentity": identity,
            "eventTime": f"2024-04-{day:02d}T{h:02d}:{m:02d}:{s:02d}Z",
            "eventSource": f"{source}.amazonaws.com", "eventName": name,
            "awsRegion": "eu-west-1", "sourceIPAddress": ip, "userAgent": agent,
            "requestParameters": request, "responseElements": None, "requestID": f"r{n}",
            "eventID": f"e{n}", "eventType": "AwsApiCall", "managementEvent": True,
            "readOnly": name.startswith(("Get", "List", "Describe")),
            "recipientAccountId": ACCOUNT,
        })  # fmt: skip


def _month() -> list[dict[str, Any]]:
    rng, trail = random.Random(7), _Trail()
    for day in range(1, 31):
        weekday = day % 7 not in (6, 0)
        for k in range(48):  # the vendor's role polls every half hour from its addresses
            ip = f"3.233.{rng.choice((144, 145, 146, 147))}.{rng.randint(1, 254)}"
            for i, (name, src) in enumerate(POLLS + (NEW_CHECKS if day >= 12 else [])):
                trail.add(name, day, k * 1800 + i, who="DatadogIntegrationRole", ip=ip,
                          agent=VENDOR, source=src)  # fmt: skip
        for k in range(6):
            role = {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/fn-{k}"}
            trail.add("AssumeRole", day, k * 14400 + 5, who="lambda.amazonaws.com",
                      ip="lambda.amazonaws.com", agent="lambda.amazonaws.com", source="sts",
                      kind="AWSService", request=role)  # fmt: skip
        if not weekday:
            continue
        accounts = ["222233334444", "333344445555", "444455556666"] + (
            ["555566667777"] if day >= 15 else []
        )
        for run in range(3):  # CI on GitHub's runners: a new address every run
            ip = f"20.{rng.randint(20, 250)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            t0 = (9 + run * 3) * 3600 + rng.randint(0, 3000)
            for account in accounts:
                trail.add("AssumeRole", day, t0, who="github-actions", ip=ip,
                          agent="aws-sdk-js/2.1 promise", source="sts",
                          request={"roleArn": f"arn:aws:iam::{account}:role/deploy"})  # fmt: skip
            for i, (name, src) in enumerate(PLAN + (NEW_MODULE if day >= 18 else [])):
                trail.add(name, day, t0 + 60 + i, who="github-actions", ip=ip, agent=TERRAFORM,
                          source=src)  # fmt: skip
            for fn in ["api-handler"] + (["new-worker"] if day >= 20 else []):
                trail.add("UpdateFunctionCode20150331v2", day, t0 + 200, who="github-actions",
                          ip=ip, agent=TERRAFORM, source="lambda",
                          request={"functionName": fn})  # fmt: skip
        home = f"86.{10 + day // 7}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        for i, (name, src) in enumerate(rng.sample(PLAN + POLLS, 10)):
            trail.add(name, day, 36000 + i * 30, who="AWSReservedSSO_Admin_abc/alice",
                      ip=rng.choice(["198.51.100.14", home]), agent=BROWSER,
                      source=src)  # fmt: skip
        line = f"81.{2 + day // 7}.{day // 7}.{20 + day // 7}"  # a new address each week
        for i, (name, src) in enumerate([("ListBuckets", "s3"), ("GetObject", "s3"),
                                         ("DescribeInstances", "ec2")]):  # fmt: skip
            trail.add(name, day, 50400 + i * 10, who="bob", ip=line, kind="IAMUser",
                      agent=CLI.format("s3.ls"), source=src)  # fmt: skip
        if day == 22:  # first tries with Bedrock: access enabled, four models compared
            steps = [("PutUseCaseForModelAccess", None)] + [
                ("InvokeModel", {"modelId": f"model-{j % 4}"}) for j in range(12)
            ]
            for i, (name, request) in enumerate(steps):
                trail.add(name, day, 54000 + i * 20, who="bob", ip=line, kind="IAMUser",
                          agent=CLI.format("bedrock-runtime.invoke-model"), source="bedrock",
                          request=request)  # fmt: skip
        if day == 25:  # a new area explored on the CLI
            for i, (name, src) in enumerate(NEW_MODULE):
                trail.add(name, day, 57600 + i * 10, who="bob", ip=line, kind="IAMUser",
                          agent=CLI.format("eks.list"), source=src)  # fmt: skip
    return trail.records


def test_a_month_of_ordinary_cloud_work_makes_no_high_finding(tmp_path: Path) -> None:
    found = run_detectors(read_as("cloudtrail", _month(), tmp_path))
    loud = found.filter(pl.col("severity").is_in(["high", "critical"]))
    assert loud.height == 0, loud.select("detector", "summary").rows()
    # the month is not empty of news: the new account's role, Bedrock's first day and the
    # new module are there, at medium
    assert {"identity_pivot", "model_abuse", "reconnaissance"} <= set(found["detector"])
