"""GitHub audit trails probed again (a second red-team pass): a repository transferred
out of the organisation, a webhook to a capture service, an OAuth app approved and a
self-hosted runner registered from the intruder's network are reported high; the
organisation's own Slack and Jira webhooks, a transfer to a sibling organisation and an
app installed from the office are not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from tests.analytics.test_github_detections import (
    ADMIN,
    DAY,
    INTRUDER,
    NIGHT,
    OFFICE,
    _event,
    _trail,
)

PY = "python-requests/2.31.0"


def _severity(found: pl.DataFrame, detector: str) -> list[str]:
    return found.filter(pl.col("detector") == detector)["severity"].to_list()


def _quiet(found: pl.DataFrame) -> bool:
    return not found.filter(pl.col("severity").is_in(["high", "critical"])).height


def _hook(when: Any, ip: str, url: str, **fields: Any) -> dict[str, Any]:
    config = {"url": url, "content_type": "json", "insecure_ssl": "1"}
    return _event(when, ADMIN, "hook.create", ip, hook_id=4409112, name="webhook",
                  active=True, events=["push"], config=config, **fields)  # fmt: skip


@pytest.mark.parametrize(
    ("attack", "detector"),
    [
        pytest.param(
            [_event(NIGHT, ADMIN, "repo.transfer_outgoing", INTRUDER, repo="acme/payments",
                    transfer_to="evil-personal", new_repo_name="evil-personal/payments")],
            "external_access",
            id="repository transferred out",
        ),
        pytest.param(
            [_hook(NIGHT, INTRUDER, "https://webhook.site/3f1c-77aa", user_agent=PY)],
            "external_access",
            id="webhook to a capture service",
        ),
        pytest.param(
            [_hook(NIGHT, INTRUDER, "https://collector.evil.example/gh", repo="acme/api")],
            "external_access",
            id="repository webhook to an outside domain",
        ),
        pytest.param(
            [_event(NIGHT, ADMIN, "org.oauth_app_access_approved", INTRUDER,
                    oauth_application_name="Repo Sync Pro", oauth_application_id=7712301)],
            "external_access",
            id="OAuth app approved",
        ),
        pytest.param(
            [_event(NIGHT, ADMIN, "integration_installation.create", INTRUDER, name="Sync")],
            "external_access",
            id="GitHub App installed",
        ),
        pytest.param(
            [_event(NIGHT, ADMIN, "org.register_self_hosted_runner", INTRUDER, runner_id=31337,
                    runner_name="build-01", user_agent=PY),
             _event(NIGHT, ADMIN, "repo.register_self_hosted_runner", INTRUDER,
                    repo="acme/api", runner_id=31338, runner_name="build-02", user_agent=PY)],
            "code_tampering",
            id="self-hosted runner registered",
        ),
    ],
)  # fmt: skip
def test_a_door_left_from_the_intruders_network_is_high(
    attack: list[dict[str, Any]], detector: str, tmp_path: Path
) -> None:
    found = run_detectors(_trail(attack, tmp_path))
    assert _severity(found, detector) == ["high"], found.select("detector", "summary")


@pytest.mark.parametrize(
    "benign",
    [
        pytest.param(
            [_hook(DAY, OFFICE, "https://hooks.slack.com/services/T000/B000/XXXX"),
             _hook(DAY, OFFICE, "https://acme.atlassian.net/rest/github")],
            id="own Slack and Jira webhooks from the office",
        ),
        pytest.param(
            [_hook(NIGHT, INTRUDER, "https://hooks.slack.com/services/T000/B000/XXXX"),
             _hook(NIGHT, INTRUDER, "https://ci.acme.io/github")],
            id="own Slack and own domain webhooks from a new network",
        ),
        pytest.param(
            [_event(DAY, ADMIN, "integration_installation.create", OFFICE, name="Slack",
                    integration="slack"),
             _event(DAY, ADMIN, "org.oauth_app_access_approved", OFFICE,
                    oauth_application_name="Jira")],
            id="apps approved from the office",
        ),
        pytest.param(
            [_event(NIGHT, ADMIN, "repo.transfer_outgoing", INTRUDER, repo="acme/payments",
                    transfer_to="acme-labs"),
             _event(DAY, ADMIN, "git.push", OFFICE, repo="acme-labs/tools")],
            id="transfer to a sibling organisation of the trail",
        ),
        pytest.param(
            [_event(DAY, ADMIN, "org.register_self_hosted_runner", OFFICE, runner_id=7,
                    runner_name="build-07")],
            id="runner registered from the office",
        ),
    ],
)  # fmt: skip
def test_the_organisations_own_integrations_are_not_high(
    benign: list[dict[str, Any]], tmp_path: Path
) -> None:
    found = run_detectors(_trail(benign, tmp_path))
    assert _quiet(found), found.select("detector", "severity", "summary")
