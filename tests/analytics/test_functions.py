"""code_tampering: function code replaced by someone who never deployed it, or layers
from another account, read through the CloudTrail and Cloud Audit Logs readers, with the
look-alikes a pipeline and its engineers make every day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.functions import code_tampering
from auditkit.errors import UsageError
from tests.analytics._producers import ACCOUNT, cloudtrail, gcp, read_as

OFFICE = "198.51.100.14"
CI = "140.82.112.5"
NEW = "45.77.12.9"
SCRIPT = "Boto3/1.34.1 Python/3.12.1"
LAMBDA = "lambda.amazonaws.com"
FN_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:billing"


def _at(day: int, minute: int = 0, hour: int = 10) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def _agent(ip: str) -> str:
    """From the new network, the thief's own tool; else the usual CLI."""
    return SCRIPT if ip == NEW else "aws-cli/2.15.0"


def _deploy(day: int, *, user: str = "ci", ip: str = CI, fn: str = "billing",
            minute: int = 0, error: str | None = None) -> dict[str, Any]:  # fmt: skip
    return cloudtrail("UpdateFunctionCode20150331v2", _at(day, minute), user=user, ip=ip,
                      source=LAMBDA, error=error, userAgent=_agent(ip),
                      request={"functionName": fn, "zipFile": "HIDDEN"})  # fmt: skip


def _layers(day: int, layers: list[str], *, user: str = "ci", ip: str = CI,
            fn: str = "billing") -> dict[str, Any]:  # fmt: skip
    return cloudtrail("UpdateFunctionConfiguration20150331v2", _at(day, 30), user=user, ip=ip,
                      source=LAMBDA, request={"functionName": fn, "layers": layers},
                      userAgent=_agent(ip))  # fmt: skip


def _layer(account: str, name: str = "ext") -> str:
    return f"arn:aws:lambda:us-east-1:{account}:layer:{name}:3"


def _routine(days: range = range(1, 20)) -> list[dict[str, Any]]:
    """Three weeks of the pipeline's deploys and an engineer's daily reads."""
    out: list[dict[str, Any]] = []
    for d in days:
        out.append(_deploy(d))
        out.append(cloudtrail("DescribeInstances", _at(d, 5), user="ops", ip=OFFICE,
                              source="ec2.amazonaws.com"))  # fmt: skip
    return out


def _run(records: list[dict[str, Any]], tmp_path: Path, **kw: Any) -> pl.DataFrame:
    return code_tampering(read_as("cloudtrail", records, tmp_path), **kw)


def test_the_pipelines_deploys_are_quiet(tmp_path: Path) -> None:
    own_layer = _layers(10, [_layer(ACCOUNT, "shared-utils")])
    assert _run([*_routine(), own_layer], tmp_path).height == 0


def test_a_stolen_key_overwriting_the_pipelines_function_is_high(tmp_path: Path) -> None:
    # the attacker names the function by its ARN, the pipeline by its name
    found = _run([*_routine(), _deploy(21, user="ops", ip=NEW, fn=FN_ARN)], tmp_path)
    assert found["severity"].to_list() == ["high"]
    summary = found["summary"][0]
    assert "'billing', which only 'arn:aws:iam::111122223333:user/ci' had changed" in summary
    assert NEW in summary


def test_an_engineers_hotfix_of_the_pipelines_function_is_medium(tmp_path: Path) -> None:
    found = _run([*_routine(), _deploy(21, user="ops", ip=OFFICE)], tmp_path)
    assert found["severity"].to_list() == ["medium"]


def test_ones_own_new_function_is_quiet(tmp_path: Path) -> None:
    create = cloudtrail("CreateFunction20150331", _at(20), user="ops", ip=OFFICE, source=LAMBDA,
                        request={"functionName": "reports"})  # fmt: skip
    updates = [_deploy(20 + d, user="ops", ip=OFFICE, fn="reports", minute=5) for d in (0, 1)]
    assert _run([*_routine(), create, *updates], tmp_path).height == 0


def test_layers_from_another_account(tmp_path: Path) -> None:
    vendor = _layer("464622532012", "Datadog-Extension")
    # the pipeline attaches a vendor's layer: medium the first time, known after
    first = _run([*_routine(), _layers(20, [vendor])], tmp_path)
    assert first["severity"].to_list() == ["medium"]
    assert "'464622532012', never attached before" in first["summary"][0]
    again = _run([*_routine(), _layers(20, [vendor]), _layers(21, [vendor], fn="other")], tmp_path)
    assert again["first_seen"].dt.day().to_list() == [20]
    # an attacker's layer on the pipeline's function, from a new network
    stolen = _run([*_routine(), _layers(21, [_layer("999988887777")], user="ops", ip=NEW)],
                  tmp_path)  # fmt: skip
    assert stolen["severity"].to_list() == ["high"]
    assert "'999988887777'" in stolen["summary"][0]


def test_configuration_without_layers_is_not_code(tmp_path: Path) -> None:
    request = {"functionName": "billing", "memorySize": 512}
    memory = cloudtrail("UpdateFunctionConfiguration20150331v2", _at(21), user="ops", ip=NEW,
                        source=LAMBDA, request=request)  # fmt: skip
    assert _run([*_routine(), memory], tmp_path).height == 0


def test_a_first_change_from_a_new_network_and_refusals(tmp_path: Path) -> None:
    # a function the trail never saw deployed: the actor's first code change, new network
    unseen = _run([*_routine(), _deploy(21, user="ops", ip=NEW, fn="legacy")], tmp_path)
    assert unseen["severity"].to_list() == ["high"]
    assert "its first code change in the trail" in unseen["summary"][0]
    # the actor's own client on a new network (a pipeline on a new runner) is medium
    own = {**_deploy(21, user="ops", ip=NEW, fn="legacy"), "userAgent": "aws-cli/2.15.0"}
    assert _run([*_routine(), own], tmp_path)["severity"].to_list() == ["medium"]
    # from the office, the same is quiet
    office = _deploy(21, user="ops", ip=OFFICE, fn="legacy")
    assert _run([*_routine(), office], tmp_path).height == 0
    refused = _run([*_routine(), _deploy(21, user="ops", ip=NEW, error="AccessDenied")], tmp_path)
    assert refused["severity"].to_list() == ["medium"]
    assert "tried to change" in refused["summary"][0]


def test_google_cloud_functions_and_cloud_run(tmp_path: Path) -> None:
    fn = "projects/acme-prod-4821/locations/us-central1/functions/ingest"
    svc = "namespaces/acme-prod-4821/services/api"

    def update(day: int, actor: str, ip: str, method: str, resource: str) -> dict[str, Any]:
        service = "run" if "run" in method else "cloudfunctions"
        return gcp(method, _at(day), resource=resource, actor=actor, ip=ip,
                   service=f"{service}.googleapis.com", resource_type="cloud_function")  # fmt: skip

    fn_update = "google.cloud.functions.v1.CloudFunctionsService.UpdateFunction"
    run_replace = "google.cloud.run.v1.Services.ReplaceService"
    deployer = "deployer@acme-prod-4821.iam.gserviceaccount.com"
    routine = [update(d, deployer, CI, m, r) for d in range(1, 20)
               for m, r in ((fn_update, fn), (run_replace, svc))]  # fmt: skip
    frame = read_as("gcp", routine, tmp_path)
    assert code_tampering(frame).height == 0
    attack = [update(21, "alice@acme.io", NEW, m, r)
              for m, r in ((fn_update, fn), (run_replace, svc))]  # fmt: skip
    found = code_tampering(read_as("gcp", routine + attack, tmp_path))
    assert found["severity"].to_list() == ["high"]
    assert "2 function(s)" in found["summary"][0]


def test_it_runs_in_the_registry_and_rejects_bad_settings(tmp_path: Path) -> None:
    frame = read_as("cloudtrail", [*_routine(), _deploy(21, user="ops", ip=NEW)], tmp_path)
    found = run_detectors(frame, names=["code_tampering"])
    assert found["detector"].to_list() == ["code_tampering"]
    assert found["score"].is_null().all()
    for bad in ({"gap": "soon"}, {"min_history": "soon"}, {"max_evidence": 0}):
        with pytest.raises(UsageError):
            code_tampering(frame, **bad)


def test_a_function_named_by_its_arn_as_a_target_is_the_same_function(tmp_path: Path) -> None:
    """CloudTrail lists the function as a resource in some records and only in the request
    in others: the ARN and the name are one function."""
    arn_target = {
        "resources": [{"ARN": FN_ARN, "type": "AWS::Lambda::Function", "accountId": ACCOUNT}]
    }
    routine = [
        {**r, **arn_target} if r["eventName"].startswith("UpdateFunctionCode") else r
        for r in _routine()
    ]
    found = _run([*routine, _deploy(21, user="ops", ip=OFFICE)], tmp_path)
    assert found["severity"].to_list() == ["medium"]
    assert "'billing', which only" in found["summary"][0]
