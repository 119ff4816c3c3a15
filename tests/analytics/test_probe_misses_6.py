"""A red-team probe's sixth round, each record read through the producer's reader: a
GitHub OAuth app approved from the usual network but a new country, the SAML provider's
settings changed with no before and after in the record, the organisation's owners
demoted in a burst, deploy keys added in a burst (one finding); a GitLab deploy key
cloning repositories under its own name; a Google Cloud service account's key made and
the account then used from a network never seen; Okta's every-user groups under other
names (``All Users``, ``Everyone@acme``, a group holding every person) given an admin
role or a new application; and the look-alikes of each (the same from the office, a
certificate rotated there, a container log exclusion)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import GCP_PROJECT, gcp, okta, okta_user, read_as
from tests.analytics._producers_3 import OFFICE as OKTA_OFFICE
from tests.analytics._producers_3 import at, gitlab, okta_habits
from tests.analytics._producers_5 import (
    CI_NET,
    DROP,
    INTRUDER,
    MAINT,
    OFFICE,
    app_made_and_assigned,
    git_op,
    gitlab_habits,
    project,
)
from tests.analytics._verdicts import highs, worst
from tests.analytics.test_github_detections import ADMIN, DAY, DEV, NIGHT, START, _event
from tests.analytics.test_github_detections import INTRUDER as GH_INTRUDER
from tests.analytics.test_github_detections import OFFICE as GH_OFFICE
from tests.analytics.test_github_probe import REPOS, _deploy_keys, _work

# ------------------------------------------------------------------------------- GitHub

US = {"country_code": "US"}


def _gh(when: Any, who: tuple[int, str], action: str, ip: str, place: dict[str, str] = US,
        **fields: Any) -> dict[str, Any]:  # fmt: skip
    return _event(when, who, action, ip, actor_location=place, **fields)


def _github(attack: list[dict[str, Any]], tmp_path: Path) -> pl.DataFrame:
    """Three weeks of weekday work from the office in the United States, then ``attack``."""
    records = []
    for day in range(18):
        d = START + timedelta(days=day)
        if d.weekday() >= 5:
            continue
        for who in (ADMIN, DEV):
            records.append(_gh(d + timedelta(hours=9), who, "git.push", GH_OFFICE, repo="acme/api"))
            records.append(_gh(d + timedelta(hours=10), who, "pull_request.merge", GH_OFFICE,
                               repo="acme/api"))  # fmt: skip
    return read_as("github", records + attack, tmp_path, tenant="unused")


def test_oauth_app_approved_from_the_office_network_but_a_new_country(tmp_path: Path) -> None:
    """GitHub places the approval in the Netherlands though its address is the office's
    (a proxy through it): high, naming the country."""
    attack = [_gh(DAY, ADMIN, "org.oauth_app_access_approved", GH_OFFICE,
                  {"country_code": "NL"}, oauth_application_name="Repo Sync Pro",
                  oauth_application_id=7712301)]  # fmt: skip
    found = run_detectors(_github(attack, tmp_path), names=["external_access"])
    assert worst(found) == "high", found["summary"].to_list()
    assert "country it had never made its own (NL)" in found["summary"][0]
    # the look-alike: Jira approved from the office, in its country
    benign = [_gh(DAY, ADMIN, "org.oauth_app_access_approved", GH_OFFICE,
                  oauth_application_name="Jira", oauth_application_id=7712301)]  # fmt: skip
    events = _github(benign, tmp_path)
    assert run_detectors(events, names=["external_access"]).height == 0
    assert highs(run_detectors(events)) == []


@pytest.mark.parametrize(
    "action", ["org.update_saml_provider_settings", "business.update_saml_provider_settings"]
)
def test_saml_provider_changed_from_a_new_network_is_high(action: str, tmp_path: Path) -> None:
    """The record names no setting, no before and no after: from the intruder's network
    at night, the provider that vouches for every user may have been replaced."""
    attack = [_gh(NIGHT, ADMIN, action, GH_INTRUDER)]
    found = run_detectors(_github(attack, tmp_path), names=["security_control_weakened"])
    assert worst(found) == "high", found["summary"].to_list()
    assert action in found["summary"][0] and GH_INTRUDER in found["summary"][0]


def test_saml_provider_certificate_rotated_at_the_office_is_not_high(tmp_path: Path) -> None:
    events = _github([_gh(DAY, ADMIN, "org.update_saml_provider_settings", GH_OFFICE)], tmp_path)
    found = run_detectors(events, names=["security_control_weakened"])
    assert worst(found) == "medium", found["summary"].to_list()
    assert highs(run_detectors(events)) == []


def _demoted(when: Any, ip: str, n: int = 5) -> list[dict[str, Any]]:
    return [_gh(when + timedelta(seconds=20 * i), ADMIN, "org.update_member", ip,
                user=f"owner{i}", permission="read", old_permission="admin")
            for i in range(n)]  # fmt: skip


def test_five_owners_demoted_from_a_new_network_is_one_high_finding(tmp_path: Path) -> None:
    found = run_detectors(_github(_demoted(NIGHT, GH_INTRUDER), tmp_path),
                          names=["privilege_change_burst"])  # fmt: skip
    assert found["severity"].to_list() == ["high"], found["summary"].to_list()
    assert "from 5 principals" in found["summary"][0]
    assert len(found["event_ids"][0]) == 5


def test_five_owners_demoted_at_the_office_is_not_high(tmp_path: Path) -> None:
    events = _github(_demoted(DAY, GH_OFFICE), tmp_path)
    found = run_detectors(events, names=["privilege_change_burst"])
    assert found["severity"].to_list() == ["medium"], found["summary"].to_list()
    assert highs(run_detectors(events)) == []


def test_a_burst_of_deploy_keys_from_a_new_network_is_one_high_finding(tmp_path: Path) -> None:
    attack = _work(DEV) + _deploy_keys(NIGHT, DEV, GH_INTRUDER, REPOS)
    found = run_detectors(_github(attack, tmp_path), names=["suspicious_api_key"])
    assert found["severity"].to_list() == ["high"], found["summary"].to_list()
    assert f"made {len(REPOS)} keys" in found["summary"][0]
    assert len(found["event_ids"][0]) == len(REPOS)


# ------------------------------------------------------------------------------- GitLab


def _deploy_key(day: float, ip: str, title: str, who: tuple[int, str] = MAINT) -> dict[str, Any]:
    return gitlab(day, who, "deploy_key_added", project(5), ip, target_type="DeployKey",
                  target_id=7002, target_details=title,
                  custom_message="Added deploy key")  # fmt: skip


def _key_clone(day: float, title: str, k: int, ip: str) -> dict[str, Any]:
    """A clone GitLab logs under the deploy key (``DeployKeyAuthor``, author id -3)."""
    record = git_op(day, (-3, title), k, ip)
    record["details"]["author_class"] = "Gitlab::Audit::DeployKeyAuthor"
    return record


def test_deploy_key_cloning_under_its_own_name_from_a_new_address(tmp_path: Path) -> None:
    """A deploy key added to one project from the intruder's address, then 40
    repositories cloned by the key itself from another address: high."""
    attack = [_deploy_key(22.1, INTRUDER, "sync"),
              *[_key_clone(22.1 + (120 + 15 * i) / 86400, "sync", i, DROP)
                for i in range(40)]]  # fmt: skip
    found = run_detectors(read_as("gitlab", [*gitlab_habits(), *attack], tmp_path),
                          names=["new_key_exfiltration"])  # fmt: skip
    assert worst(found) == "high", found["summary"].to_list()
    assert "'sync' read 40 distinct item(s)" in found["summary"][0]
    # the look-alike: the mirror's key replaced at the office, cloning from CI
    attack = [_deploy_key(22.45, OFFICE, "mirror-2026"),
              *[_key_clone(22.46 + 15 * i / 86400, "mirror-2026", i, CI_NET)
                for i in range(40)]]  # fmt: skip
    events = read_as("gitlab", [*gitlab_habits(), *attack], tmp_path)
    assert run_detectors(events, names=["new_key_exfiltration"]).height == 0
    assert highs(run_detectors(events)) == []


# ---------------------------------------------------------------------------------- GCP

GCP_OFFICE = "198.51.100.7"
GCP_INTRUDER = "45.137.21.9"
SA = f"etl@{GCP_PROJECT}.iam.gserviceaccount.com"
LOGGING = "logging.googleapis.com"


def _gcp_habits(days: int = 21) -> list[dict[str, Any]]:
    """The ETL service account listing its bucket every night from Google's network; two
    people listing instances and service accounts from the office on working days."""
    out = []
    for day in range(days):
        out.append(gcp("storage.objects.list", at(day, 3), actor=SA, ip="35.191.0.4",
                       resource=f"projects/_/buckets/{GCP_PROJECT}-data",
                       service="storage.googleapis.com", resource_type="gcs_bucket"))  # fmt: skip
        if day % 7 >= 5:
            continue
        for who in ("alice@acme.io", "bob@acme.io"):
            out.append(gcp("v1.compute.instances.list", at(day, 9), actor=who, ip=GCP_OFFICE,
                           resource=f"projects/{GCP_PROJECT}/zones/a/instances"))  # fmt: skip
    return out


def _sa_key_then_reads(read_ip: str) -> list[dict[str, Any]]:
    key = gcp("google.iam.admin.v1.CreateServiceAccountKey", at(22, 11), actor="alice@acme.io",
              ip=GCP_OFFICE, service="iam.googleapis.com",
              resource=f"projects/-/serviceAccounts/{SA}",
              resource_type="service_account")  # fmt: skip
    reads = [gcp("storage.objects.get", at(22, 11.5 + i / 600), actor=SA, ip=read_ip,
                 resource=f"projects/_/buckets/{GCP_PROJECT}-data/objects/o{i}.csv",
                 service="storage.googleapis.com", resource_type="gcs_bucket")
             for i in range(60)]  # fmt: skip
    return [key, *reads]


def test_service_account_key_made_then_the_account_reads_from_a_new_network(
    tmp_path: Path,
) -> None:
    """A person mints a key for the ETL account at the office; half an hour later the
    account reads 60 objects from an address the project never used: high."""
    records = [*_gcp_habits(), *_sa_key_then_reads(GCP_INTRUDER)]
    found = run_detectors(read_as("gcp", records, tmp_path, tenant=GCP_PROJECT),
                          names=["new_key_exfiltration"])  # fmt: skip
    assert worst(found) == "high", found["summary"].to_list()
    assert found["actor_id"][0] == SA and GCP_INTRUDER in found["summary"][0]
    # the look-alike: the key used from the account's own network
    records = [*_gcp_habits(), *_sa_key_then_reads("35.191.0.9")]
    events = read_as("gcp", records, tmp_path, tenant=GCP_PROJECT)
    assert run_detectors(events, names=["new_key_exfiltration"]).height == 0


def _exclusion(hour: float, ip: str, log_filter: str) -> dict[str, Any]:
    return gcp("google.logging.v2.ConfigServiceV2.CreateExclusion", at(22, hour),
               actor="alice@acme.io", ip=ip, service=LOGGING,
               resource=f"projects/{GCP_PROJECT}/exclusions/x", resource_type="logging_exclusion",
               request={"parent": f"projects/{GCP_PROJECT}",
                        "exclusion": {"name": "x", "filter": log_filter}})  # fmt: skip


def test_exclusion_of_container_logs_is_not_audit_tampering(tmp_path: Path) -> None:
    """An exclusion of noisy container logs cannot drop an audit log: nothing; one of
    the audit logs is still critical."""
    quiet = _exclusion(11, GCP_OFFICE, 'resource.type="k8s_container" severity<WARNING')
    events = read_as("gcp", [*_gcp_habits(), quiet], tmp_path, tenant=GCP_PROJECT)
    assert run_detectors(events, names=["audit_tampering"]).height == 0
    cut = _exclusion(2, GCP_INTRUDER, "logName:cloudaudit.googleapis.com")
    events = read_as("gcp", [*_gcp_habits(), cut], tmp_path, tenant=GCP_PROJECT)
    assert worst(run_detectors(events, names=["audit_tampering"])) == "critical"


# --------------------------------------------------------------------------------- Okta


def _group(name: str, ident: str = "00gALL") -> dict[str, Any]:
    return {"id": ident, "type": "UserGroup", "displayName": name}


def _role_to(group: dict[str, Any], role: str = "SUPER_ADMIN") -> dict[str, Any]:
    record = okta("group.privilege.grant", at(22, 14.5), actor="raj", ip=OKTA_OFFICE,
                  targets=[group])  # fmt: skip
    record["debugContext"] = {"debugData": {"privilegeGranted": role}}
    return record


@pytest.mark.parametrize("name", ["Everyone", "All Users", "Everyone@acme", "All Employees",
                                  "acme-all-staff"])  # fmt: skip
def test_admin_role_for_every_user_by_any_name_is_high(name: str, tmp_path: Path) -> None:
    """Super administrator for the group of every user, even from the office: every
    account, a phished one included, is an administrator."""
    events = read_as("okta", [*okta_habits(), _role_to(_group(name))], tmp_path)
    found = run_detectors(events, names=["side_door_privilege"])
    assert worst(found) == "high", found["summary"].to_list()
    assert name in found["summary"][0]


def _population() -> list[dict[str, Any]]:
    """Seven people signing in every day, all added to ``Company`` in the trail."""
    people = ["amy", "ben", "cat", "dan", "eve", "fay", "gus"]
    out = [okta("user.session.start", at(day, 9), actor=p, ip=OKTA_OFFICE)
           for day in range(21) for p in people]  # fmt: skip
    out += [okta("group.user_membership.add", at(1, 10 + i / 60), actor="raj", ip=OKTA_OFFICE,
                 targets=[okta_user(p), _group("Company", "00gCO")])
            for i, p in enumerate([*people, "raj"])]  # fmt: skip
    return out


def test_a_group_holding_everyone_by_its_members_is_every_user(tmp_path: Path) -> None:
    """``Company`` holds every person of the trail: an admin role for it is high, and a
    new application assigned to it from a new network is external access."""
    company = _group("Company", "00gCO")
    base = [*okta_habits(), *_population()]
    found = run_detectors(read_as("okta", [*base, _role_to(company)], tmp_path),
                          names=["side_door_privilege"])  # fmt: skip
    assert worst(found) == "high", found["summary"].to_list()
    made = app_made_and_assigned(22.1, "raj", INTRUDER, company, country="Netherlands")
    found = run_detectors(read_as("okta", [*base, *made], tmp_path), names=["external_access"])
    assert worst(found) == "high", found["summary"].to_list()
    # the look-alike: a help desk role for Engineering (not every user, though the trail
    # adds new hires to it daily) from the office
    helpdesk = _role_to(_group("Engineering", "00gENG"), "HELP_DESK_ADMIN")
    events = read_as("okta", [*base, helpdesk], tmp_path)
    assert run_detectors(events, names=["side_door_privilege"]).height == 0
    assert highs(run_detectors(events)) == []


def test_app_for_everyone_at_acme_from_a_new_network_is_high(tmp_path: Path) -> None:
    made = app_made_and_assigned(22.1, "raj", INTRUDER, _group("Everyone@acme"),
                                 country="Netherlands")  # fmt: skip
    found = run_detectors(read_as("okta", [*okta_habits(), *made], tmp_path),
                          names=["external_access"])  # fmt: skip
    assert worst(found) == "high", found["summary"].to_list()
