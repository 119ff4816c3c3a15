"""A red-team probe's fifth round: a key added to a GitLab account, then many repositories
cloned or downloaded from an address the tenant never used (clones are logged as
``repository_git_operation``, whose verb says nothing: its message names
``git-upload-pack``); BigQuery tables exported or copied to a bucket or project that is
not the tenant's; an Okta application made and assigned to the Everyone group.  Each
record is read through the producer's reader."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import GCP_PROJECT, okta, read_as
from tests.analytics._producers_3 import OFFICE as OKTA_OFFICE
from tests.analytics._producers_3 import at, okta_habits
from tests.analytics._producers_5 import (
    ANALYST,
    CAROL,
    CI_NET,
    DEV,
    DROP,
    ENGINEERING,
    ETL,
    EVERYONE,
    GCP_INTRUDER,
    GCP_OFFICE,
    INTRUDER,
    MAINT,
    OFFICE,
    app,
    app_admin_habits,
    app_made_and_assigned,
    bigquery_habits,
    bq_job,
    copy,
    deploy_key_then_downloads,
    extract,
    git_op,
    gitlab_habits,
    key_then_clones,
    legacy_extract,
    mirror_key_rotated,
    ssh_key,
)

RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _worst(found: pl.DataFrame) -> str | None:
    if found.height == 0:
        return None
    return max(found["severity"].to_list(), key=RANK.__getitem__)


def _all_high(events: pl.DataFrame) -> list[str]:
    """Every high or critical finding of every detector, as text."""
    found = run_detectors(events).filter(pl.col("severity").is_in(["high", "critical"]))
    return [f"{d}: {s}" for d, s in zip(found["detector"], found["summary"], strict=True)]


# ------------------------------------------------------------------------------- GitLab

GL_EXFIL = ["new_key_exfiltration", "bulk_read"]


def test_ssh_key_then_forty_clones_from_a_new_address_is_high(tmp_path: Path) -> None:
    """The developer's account adds an SSH key at night from an intruder's address and
    clones 40 repositories from another within the hour: high, citing the key and the
    clones."""
    records = [*gitlab_habits(), *key_then_clones(22.1, INTRUDER, DROP)]
    events = read_as("gitlab", records, tmp_path)
    found = run_detectors(events, names=["new_key_exfiltration"])
    assert _worst(found) == "high", found["summary"].to_list()
    assert found.height == 1
    summary = found["summary"][0]
    assert "ann@new" in summary and "40 distinct item(s)" in summary and DROP in summary
    assert len(found["event_ids"][0]) == 41  # the key and the clones


def test_deploy_key_then_archive_downloads_from_a_new_address_is_high(tmp_path: Path) -> None:
    """The release engineer's account adds a deploy key from the intruder's address and
    downloads 25 repositories' archives from another: high (25 is below
    ``mass_export``'s burst, and downloads are not ``bulk_read``'s)."""
    records = [*gitlab_habits(), *deploy_key_then_downloads(22.1, INTRUDER, DROP)]
    found = run_detectors(read_as("gitlab", records, tmp_path), names=["new_key_exfiltration"])
    assert _worst(found) == "high", found["summary"].to_list()
    assert "25 distinct item(s)" in found["summary"][0]
    assert "repository.download" in found["summary"][0]


def test_clones_are_reads_for_bulk_read_but_pushes_are_not(tmp_path: Path) -> None:
    """GitLab's ``repository_git_operation`` reads as ``repository.git_operation``: a
    clone (``git-upload-pack``) is a read for ``bulk_read``; a push
    (``git-receive-pack``) is not."""
    many = [git_op(22 + (60 + 5 * i) / 86400, DEV, i, OFFICE) for i in range(250)]
    pushes = [git_op(22 + (60 + 5 * i) / 86400, DEV, i, OFFICE, "git-receive-pack")
              for i in range(250)]  # fmt: skip
    for r, k in zip(many, range(250), strict=True):
        r["entity_id"] = r["target_id"] = r["details"]["target_id"] = 1000 + k
    for r, k in zip(pushes, range(250), strict=True):
        r["entity_id"] = r["target_id"] = r["details"]["target_id"] = 1000 + k
        r["id"] += 7
    read = run_detectors(read_as("gitlab", [*gitlab_habits(), *many], tmp_path),
                         names=["bulk_read"])  # fmt: skip
    assert _worst(read) == "high", read["summary"].to_list()
    assert "250 distinct item(s)" in read["summary"][0]
    pushed = run_detectors(read_as("gitlab", [*gitlab_habits(), *pushes], tmp_path),
                           names=["bulk_read"])  # fmt: skip
    assert pushed.height == 0, pushed["summary"].to_list()


def test_key_clones_from_the_intruders_own_address_too(tmp_path: Path) -> None:
    """The key added and the clones made from the same new address: high as well."""
    records = [*gitlab_habits(), *key_then_clones(22.1, INTRUDER, INTRUDER, n=12)]
    found = run_detectors(read_as("gitlab", records, tmp_path), names=GL_EXFIL)
    assert _worst(found) == "high", found["summary"].to_list()


def test_nightly_mirror_and_its_new_key_are_quiet(tmp_path: Path) -> None:
    """The mirror job clones all 40 repositories every night from the CI network; its
    deploy key replaced there and used the same night: nothing high."""
    records = [*gitlab_habits(), *mirror_key_rotated(22)]
    events = read_as("gitlab", records, tmp_path)
    assert run_detectors(events, names=GL_EXFIL).height == 0
    assert _all_high(events) == []


def test_developer_adds_a_key_at_the_office_and_clones_three_repos(tmp_path: Path) -> None:
    """A developer's new laptop: key added at the office, three repositories cloned
    there; and the same with fifteen (a new team's repositories): the office is the
    tenant's own network."""
    few = [ssh_key(22.45, OFFICE, "ann@laptop", 7003),
           *[git_op(22.46 + i / 1440, DEV, 20 + i, OFFICE) for i in range(3)]]  # fmt: skip
    events = read_as("gitlab", [*gitlab_habits(), *few], tmp_path)
    assert run_detectors(events, names=GL_EXFIL).height == 0
    assert _all_high(events) == []
    many = [ssh_key(22.45, OFFICE, "ann@laptop", 7003),
            *[git_op(22.46 + i / 1440, DEV, 20 + i, OFFICE) for i in range(15)]]  # fmt: skip
    events = read_as("gitlab", [*gitlab_habits(), *many], tmp_path)
    assert run_detectors(events, names=GL_EXFIL).height == 0


def test_clones_long_after_the_key_are_not_its(tmp_path: Path) -> None:
    """Clones from a new address two days after the key was added are not the key's
    chain (``within`` 24h)."""
    records = [*gitlab_habits(), ssh_key(20.1, INTRUDER),
               *[git_op(22.1 + i / 1440, MAINT, i, DROP) for i in range(12)]]  # fmt: skip
    found = run_detectors(read_as("gitlab", records, tmp_path), names=["new_key_exfiltration"])
    assert found.height == 0, found["summary"].to_list()


# ------------------------------------------------------------------------ GCP BigQuery


def test_table_exported_to_an_outside_bucket_and_copied_to_another_project(
    tmp_path: Path,
) -> None:
    """Carol's account, at night from a network it never used, exports the users table
    to a bucket the project never showed and copies the payments table into another
    project: high, naming both destinations."""
    attack = [
        bq_job(at(22, 1.9), CAROL, GCP_INTRUDER,
               extract("customers/tables/users", "gs://xfer-drop-8841/users-*.csv.gz")),
        bq_job(at(22, 1.92), CAROL, GCP_INTRUDER,
               copy("customers/tables/payments", "projects/evil-proj-3321/datasets/loot/tables/p")),
    ]  # fmt: skip
    events = read_as("gcp", [*bigquery_habits(), *attack], tmp_path, tenant=GCP_PROJECT)
    found = run_detectors(events, names=["mass_export"])
    assert _worst(found) == "high", found["summary"].to_list()
    high = found.filter(pl.col("severity") == "high")
    assert high.height == 1 and high["actor_id"][0] == CAROL
    assert "xfer-drop-8841" in high["summary"][0] and "evil-proj-3321" in high["summary"][0]
    assert len(high["event_ids"][0]) == 2


def test_legacy_jobservice_insert_to_an_outside_bucket(tmp_path: Path) -> None:
    """The older audit format (``jobservice.insert``, AuditData's ``jobInsertRequest``)."""
    attack = [legacy_extract(at(22, 1.9), CAROL, GCP_INTRUDER, "gs://xfer-drop-8841/u.csv")]
    events = read_as("gcp", [*bigquery_habits(), *attack], tmp_path, tenant=GCP_PROJECT)
    found = run_detectors(events, names=["mass_export"])
    assert _worst(found) == "high", found["summary"].to_list()


def test_scheduled_export_to_the_teams_own_bucket_is_quiet(tmp_path: Path) -> None:
    """The data team's nightly export of day 22 to the bucket it has exported to every
    night: nothing; its first two nights, before it recurs, are low at most."""
    events = read_as("gcp", bigquery_habits(23), tmp_path, tenant=GCP_PROJECT)
    found = run_detectors(events, names=["mass_export"])
    assert set(found["severity"]) <= {"low"}, found["summary"].to_list()
    assert found.filter(pl.col("last_seen").dt.day() > 10).height == 0
    assert _all_high(events) == []


def test_analyst_exports_to_the_projects_own_bucket_or_project(tmp_path: Path) -> None:
    """An analyst at the office exports a table to the project's scratch bucket (its
    objects are in the trail) and copies one within the project: nothing; to a bucket
    the trail never showed: medium at most."""
    own = [
        bq_job(at(22, 10), ANALYST, GCP_OFFICE,
               extract("sales/tables/returns", f"gs://{GCP_PROJECT}-scratch/returns.csv")),
        bq_job(at(22, 10.1), ANALYST, GCP_OFFICE,
               copy("sales/tables/returns", f"projects/{GCP_PROJECT}/datasets/tmp/tables/r")),
    ]  # fmt: skip
    events = read_as("gcp", [*bigquery_habits(), *own], tmp_path, tenant=GCP_PROJECT)
    found = run_detectors(events, names=["mass_export"])
    assert found.filter(pl.col("actor_id") == ANALYST).height == 0, found["summary"].to_list()
    other = [bq_job(at(22, 10), ANALYST, GCP_OFFICE,
                    extract("sales/tables/returns", "gs://dan-sandbox-2/returns.csv"))]  # fmt: skip
    events = read_as("gcp", [*bigquery_habits(), *other], tmp_path, tenant=GCP_PROJECT)
    found = run_detectors(events, names=["mass_export"]).filter(pl.col("actor_id") == ANALYST)
    assert _worst(found) == "medium", found["summary"].to_list()
    assert _all_high(events) == []


# --------------------------------------------------------------------------------- Okta


def test_new_app_assigned_to_everyone_from_a_new_network_is_high(tmp_path: Path) -> None:
    """The administrator's account, at night from abroad, creates an application and
    assigns it to Everyone two minutes later: high, naming the app and the group."""
    records = [*okta_habits(), *app_made_and_assigned(22.1, "raj", INTRUDER, EVERYONE,
                                                      country="Netherlands")]  # fmt: skip
    found = run_detectors(read_as("okta", records, tmp_path), names=["external_access"])
    assert _worst(found) == "high", found["summary"].to_list()
    summary = found["summary"][0]
    assert "Microsoft 365 Login" in summary and "Everyone" in summary and INTRUDER in summary
    assert len(found["event_ids"][0]) == 2


def test_new_app_to_everyone_by_an_admin_who_never_manages_apps(tmp_path: Path) -> None:
    """The same from the office by an administrator who never managed an application:
    high."""
    records = [*okta_habits(), *app_made_and_assigned(22.45, "raj", OKTA_OFFICE, EVERYONE)]
    found = run_detectors(read_as("okta", records, tmp_path), names=["external_access"])
    assert _worst(found) == "high", found["summary"].to_list()
    assert "never managed an application" in found["summary"][0]


def test_admin_assigns_slack_to_engineering_from_the_office(tmp_path: Path) -> None:
    """An administrator assigning Slack (an app the tenant has) to Engineering from the
    office, and one making a new app and assigning it to Engineering: nothing."""
    records = [
        *okta_habits(),
        okta("group.application_assignment.add", at(22, 15.5), actor="raj", ip=OKTA_OFFICE,
             targets=[app("0oa1", "Slack"), ENGINEERING]),
    ]  # fmt: skip
    events = read_as("okta", records, tmp_path)
    assert run_detectors(events, names=["external_access"]).height == 0
    assert _all_high(events) == []
    records = [*okta_habits(), *app_made_and_assigned(22.6, "raj", INTRUDER, ENGINEERING)]
    events = read_as("okta", records, tmp_path)
    assert run_detectors(events, names=["external_access"]).height == 0


def test_app_administrator_rolls_out_a_new_app_to_everyone(tmp_path: Path) -> None:
    """The applications administrator, who adjusts assignments every week, rolls out a
    new app to Everyone from the office: nothing."""
    records = [*app_admin_habits(), *app_made_and_assigned(22.45, "ivy", OKTA_OFFICE, EVERYONE)]
    events = read_as("okta", records, tmp_path)
    assert run_detectors(events, names=["external_access"]).height == 0
    assert _all_high(events) == []


def test_old_app_assigned_to_everyone_is_not_news(tmp_path: Path) -> None:
    """An app the trail never shows being made (it predates the trail) assigned to
    Everyone from a new network: not this rule's (``admin_grant_from_new_network`` and
    the session rules judge the network)."""
    records = [*okta_habits(),
               okta("group.application_assignment.add", at(22, 2), actor="raj", ip=INTRUDER,
                    targets=[app("0oa1", "Slack"), EVERYONE])]  # fmt: skip
    found = run_detectors(read_as("okta", records, tmp_path), names=["external_access"])
    assert found.height == 0, found["summary"].to_list()


def test_everything_here_reads_the_tenants_own_names(tmp_path: Path) -> None:
    """Sanity: the tenants and actors as read (GitLab ids, Google e-mails, Okta ids)."""
    events = read_as("gitlab", gitlab_habits(2), tmp_path)
    assert {str(DEV[0]), str(MAINT[0])} <= set(events["actor_id"])
    assert CI_NET in set(events["source_ip"])
    assert ETL.endswith(".iam.gserviceaccount.com")
