"""model_abuse ("LLMjacking"): a stolen key running generative models, read through the
CloudTrail and Cloud Audit Logs readers, beside the applications and engineers who use
models every day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.models import model_abuse
from auditkit.errors import UsageError
from tests.analytics._producers import cloudtrail, gcp, read_as

OFFICE = "198.51.100.14"
APP = "10.20.0.7"
NEW = "45.77.12.9"
SCRIPT = "python-requests/2.31.0"
BEDROCK = "bedrock.amazonaws.com"
CLAUDE = "anthropic.claude-3-sonnet-20240229-v1:0"


def _at(day: int, minute: int = 0, hour: int = 10) -> str:
    return f"2024-03-{day:02d}T{hour:02d}:{minute % 60:02d}:00Z"


def _call(name: str, day: int, minute: int = 0, *, user: str = "dev", ip: str = OFFICE,
          model: str | None = CLAUDE, error: str | None = None) -> dict[str, Any]:  # fmt: skip
    request = {"modelId": model} if model else None
    # from the new network, the thief's own tool
    agent = SCRIPT if ip == NEW else "aws-cli/2.15.0"
    return cloudtrail(name, _at(day, minute), user=user, ip=ip, source=BEDROCK,
                      request=request, error=error, userAgent=agent)  # fmt: skip


def _routine(days: range = range(1, 20)) -> list[dict[str, Any]]:
    """An application invoking one model all day, and an engineer's daily reads."""
    out: list[dict[str, Any]] = []
    for d in days:
        out += [_call("InvokeModel", d, m, user="app", ip=APP) for m in range(0, 60, 10)]
        out.append(cloudtrail("ListBuckets", _at(d, 3), user="dev", ip=OFFICE,
                              source="s3.amazonaws.com"))  # fmt: skip
    return out


def _run(records: list[dict[str, Any]], tmp_path: Path, **kw: Any) -> pl.DataFrame:
    return model_abuse(read_as("cloudtrail", records, tmp_path), **kw)


def _llmjacking(day: int = 21, ip: str = NEW) -> list[dict[str, Any]]:
    """What key thieves do, in order: is it logged, what is there, turn it on, use it."""
    recon = [
        _call("GetModelInvocationLoggingConfiguration", day, 0, ip=ip, model=None),
        _call("ListFoundationModels", day, 1, ip=ip, model=None),
        _call("GetFoundationModelAvailability", day, 2, ip=ip),
        _call("PutUseCaseForModelAccess", day, 3, ip=ip, model=None),
        _call("CreateFoundationModelAgreement", day, 4, ip=ip),
    ]
    models = [CLAUDE, "anthropic.claude-v2", "meta.llama3-70b-instruct-v1:0"]
    return recon + [
        _call("InvokeModel", day, 10 + i, ip=ip, model=models[i % 3]) for i in range(30)
    ]


def test_applications_and_engineers_are_quiet(tmp_path: Path) -> None:
    # an engineer's first tries, from the office, with one model
    first_try = [_call("InvokeModel", 20, m) for m in range(10)]
    assert _run([*_routine(), *first_try], tmp_path).height == 0


def test_a_stolen_key_doing_what_llmjacking_does_is_high(tmp_path: Path) -> None:
    found = _run([*_routine(), *_llmjacking()], tmp_path)
    assert found["severity"].to_list() == ["high"]
    summary = found["summary"][0]
    parts = ("new to them", NEW, "enabled model access", "read whether invocations are logged",
             "30 invocation(s) of 3 model(s)")  # fmt: skip
    for part in parts:
        assert part in summary
    assert len(found["event_ids"][0]) == 35
    # the owner's own client on a new network (a pipeline on a new runner) is medium
    own = [{**r, "userAgent": "aws-cli/2.15.0"} for r in _llmjacking()]
    assert _run([*_routine(), *own], tmp_path)["severity"].to_list() == ["medium"]


def test_signs_from_the_office_are_medium(tmp_path: Path) -> None:
    enable = [_call("PutUseCaseForModelAccess", 20, 0, model=None),
              *(_call("InvokeModel", 20, 5 + m) for m in range(5))]  # fmt: skip
    compare = [_call("Converse", 20, m, model=f"model-{m % 4}") for m in range(8)]
    # every sign but a new network: an engineer setting up models properly
    setup = [_call("GetModelInvocationLoggingConfiguration", 20, 0, model=None), *enable, *compare]
    for records in (enable, compare, setup):
        found = _run([*_routine(), *records], tmp_path)
        assert found["severity"].to_list() == ["medium"]


def test_refused_probes_and_routine_users(tmp_path: Path) -> None:
    # access proven by refused requests, from a new network: two signs
    probes = [_call("InvokeModel", 21, m, ip=NEW, error="ValidationException") for m in range(6)]
    found = _run([*_routine(), *probes], tmp_path)
    assert found["severity"].to_list() == ["high"]
    assert "tried to use" in found["summary"][0]
    assert "6 invocation(s) refused" in found["summary"][0]
    # the engineer who has used models for days is no longer new to them
    habit = [_call("InvokeModel", d, 0) for d in (17, 18, 19)]
    compare = [_call("Converse", 21, m, model=f"model-{m % 4}") for m in range(8)]
    assert _run([*_routine(), *habit, *compare], tmp_path).height == 0
    # an actor first seen the same day is not judged
    assert _run(_llmjacking(day=2), tmp_path).height == 0


def test_vertex_ai_through_cloud_audit_logs(tmp_path: Path) -> None:
    usual = [gcp("storage.objects.list", _at(d), resource="projects/_/buckets/b",
                 service="storage.googleapis.com", resource_type="gcs_bucket")
             for d in range(1, 20)]  # fmt: skip
    models = ["gemini-1.5-pro", "gemini-1.5-flash", "claude-3-opus"]
    method = "google.cloud.aiplatform.v1.PredictionService.GenerateContent"
    generate = [
        gcp(method, _at(21, i), ip=NEW, service="aiplatform.googleapis.com",
            resource=f"projects/acme-prod-4821/locations/us-central1/publishers/google/models/"
                     f"{models[i % 3]}", resource_type="audited_resource")
        for i in range(9)
    ]  # fmt: skip
    for record in generate:
        record["protoPayload"]["requestMetadata"]["callerSuppliedUserAgent"] = SCRIPT
    found = model_abuse(read_as("gcp", usual + generate, tmp_path))
    assert found["severity"].to_list() == ["high"]
    assert "9 invocation(s) of 3 model(s)" in found["summary"][0]


def test_it_runs_in_the_registry_and_rejects_bad_settings(tmp_path: Path) -> None:
    frame = read_as("cloudtrail", [*_routine(), *_llmjacking()], tmp_path)
    found = run_detectors(frame, names=["model_abuse"])
    assert found["detector"].to_list() == ["model_abuse"]
    assert found["score"].is_null().all()
    for bad in ({"gap": "soon"}, {"min_models": 0}, {"min_refused": -1}, {"routine_days": 0}):
        with pytest.raises(UsageError):
            model_abuse(frame, **bad)
