"""Round-5 probe trails, as the producers write them: GitLab keys added and then many
repositories cloned or downloaded from an intruder's address; BigQuery tables exported
or copied to a bucket or project outside the tenant; an Okta application made and
assigned to the Everyone group.

A compact version of the red-team generator (``/tmp/rt4/gen.py``): each builder returns
records of one producer, three weeks of habits first."""

from __future__ import annotations

from typing import Any

from tests.analytics._producers import GCP_PROJECT, gcp, okta
from tests.analytics._producers_3 import at, gitlab

OFFICE = "203.0.113.22"
INTRUDER = "185.220.101.77"
DROP = "91.219.236.99"
CI_NET = "34.120.44.7"
DEV = (13, "dev-ann")
MAINT = (12, "rel-eng")
MIRROR = (950, "mirror-bot")


# ------------------------------------------------------------------------------- GitLab


def project(k: int) -> tuple[str, int, str]:
    return ("Project", 200 + k, f"corp/svc-{k}")


def git_op(day: float, who: tuple[int, str], k: int, ip: str, action: str = "git-upload-pack",
           protocol: str = "ssh") -> dict[str, Any]:  # fmt: skip
    """A ``repository_git_operation``: GitLab names the git command in its message
    (``git-upload-pack`` for a clone or fetch, ``git-receive-pack`` for a push)."""
    return gitlab(day, who, "repository_git_operation", project(k), ip,
                  custom_message={"protocol": protocol, "action": action})  # fmt: skip


def download(day: float, who: tuple[int, str], k: int, ip: str) -> dict[str, Any]:
    """A repository archive downloaded (``repository_download_operation``)."""
    return gitlab(day, who, "repository_download_operation", project(k), ip,
                  custom_message="Repository Download Started")  # fmt: skip


def gitlab_habits(days: int = 21) -> list[dict[str, Any]]:
    """The developer and the release engineer signing in from the office every working
    day, fetching and pushing a few repositories; the mirror job cloning all 40
    repositories every night from the CI network."""
    out = []
    for day in range(days):
        for i in range(40):
            out.append(git_op(day + 1 / 24 + 20 * i / 86400, MIRROR, i, CI_NET, protocol="http"))
        if day % 7 >= 5:
            continue
        for who in (DEV, MAINT):
            me = ("User", who[0], who[1])
            out.append(gitlab(day + 8 / 24, who, "authenticated_with_two_factor", me, OFFICE,
                              **{"with": "two-factor"}))  # fmt: skip
            for k in range(3):
                action = "git-receive-pack" if k == 2 else "git-upload-pack"
                out.append(git_op(day + (9 + k) / 24, who, (day + k) % 8, OFFICE, action))
    return out


def ssh_key(day: float, ip: str, title: str = "ann@new", ident: int = 7001) -> dict[str, Any]:
    """The developer adding an SSH key to her account."""
    return gitlab(day, DEV, "add_ssh_key", ("User", DEV[0], DEV[1]), ip, target_type="Key",
                  target_id=ident, target_details=title,
                  custom_message="Added SSH key")  # fmt: skip


def key_then_clones(day: float, key_ip: str, clone_ip: str, n: int = 40) -> list[dict[str, Any]]:
    """An SSH key added, then ``n`` repositories cloned one after another."""
    clones = [git_op(day + (180 + 15 * i) / 86400, DEV, i, clone_ip) for i in range(n)]
    return [ssh_key(day, key_ip), *clones]


def deploy_key_then_downloads(day: float, key_ip: str, dl_ip: str,
                              n: int = 25) -> list[dict[str, Any]]:  # fmt: skip
    """The release engineer's account adding a deploy key to a project, then downloading
    the archives of ``n`` repositories."""
    key = gitlab(day, MAINT, "deploy_key_added", project(5), key_ip, target_type="DeployKey",
                 target_id=7002, target_details="sync",
                 custom_message="Added deploy key")  # fmt: skip
    return [key, *[download(day + (120 + 10 * i) / 86400, MAINT, i, dl_ip) for i in range(n)]]


def mirror_key_rotated(day: float) -> list[dict[str, Any]]:
    """The mirror job's deploy key replaced from the CI network, and the nightly clone of
    all 40 repositories with it an hour later."""
    key = gitlab(day, MIRROR, "deploy_key_added", project(0), CI_NET, target_type="DeployKey",
                 target_id=7100, target_details="mirror-2026",
                 custom_message="Added deploy key")  # fmt: skip
    clones = [git_op(day + 1 / 24 + 20 * i / 86400, MIRROR, i, CI_NET, protocol="http")
              for i in range(40)]  # fmt: skip
    return [key, *clones]


# ------------------------------------------------------------------------ GCP BigQuery

ETL = f"etl@{GCP_PROJECT}.iam.gserviceaccount.com"
ANALYST = "dan@acme.io"
CAROL = "carol@acme.io"
GCP_OFFICE = "198.51.100.7"
GCP_INTRUDER = "45.137.21.9"


def bq_job(when: str, actor: str, ip: str, config: dict[str, Any], n: int = 0) -> dict[str, Any]:
    """A BigQuery ``InsertJob`` as the data access log writes it (BigQueryAuditMetadata's
    ``jobChange``)."""
    job = f"projects/{GCP_PROJECT}/jobs/job_{when.replace(':', '')}_{n}"
    done = {"jobName": job, "jobConfig": config, "jobStatus": {"jobState": "DONE"}}
    metadata = {"@type": "type.googleapis.com/google.cloud.audit.BigQueryAuditMetadata",
                "jobChange": {"after": "DONE", "job": done}}  # fmt: skip
    return gcp("google.cloud.bigquery.v2.JobService.InsertJob", when, resource=job, actor=actor,
               service="bigquery.googleapis.com", ip=ip, resource_type="bigquery_project",
               metadata=metadata)  # fmt: skip


def extract(table: str, uri: str) -> dict[str, Any]:
    source = f"projects/{GCP_PROJECT}/datasets/{table}"
    return {"type": "EXPORT",
            "extractConfig": {"sourceTable": source, "destinationUris": [uri]}}  # fmt: skip


def copy(table: str, destination: str) -> dict[str, Any]:
    return {"type": "COPY", "tableCopyConfig": {
        "sourceTables": [f"projects/{GCP_PROJECT}/datasets/{table}"],
        "destinationTable": destination}}  # fmt: skip


def legacy_extract(when: str, actor: str, ip: str, uri: str) -> dict[str, Any]:
    """The older format's ``jobservice.insert`` (AuditData's ``jobInsertRequest``)."""
    data = {"@type": "type.googleapis.com/google.cloud.bigquery.logging.v1.AuditData",
            "jobInsertRequest": {"resource": {"jobConfiguration": {"extract": {
                "sourceTable": {"projectId": GCP_PROJECT, "datasetId": "customers",
                                "tableId": "users"},
                "destinationUris": [uri]}}}}}  # fmt: skip
    return gcp("jobservice.insert", when, resource=f"projects/{GCP_PROJECT}", actor=actor,
               service="bigquery.googleapis.com", ip=ip, resource_type="bigquery_resource",
               service_data=data)  # fmt: skip


def bigquery_habits(days: int = 21) -> list[dict[str, Any]]:
    """The data team's scheduled export of the orders table to their bucket every night,
    the analysts listing tables and reading the project's scratch bucket from the
    office every working day."""
    out = []
    for day in range(days):
        uri = f"gs://{GCP_PROJECT}-exports/orders/{day:02d}-*.avro"
        out.append(bq_job(at(day, 3), ETL, "35.191.0.4", extract("sales/tables/orders", uri)))
        if day % 7 >= 5:
            continue
        for who in (ANALYST, CAROL):
            out.append(gcp("google.cloud.bigquery.v2.TableService.ListTables", at(day, 9),
                           resource=f"projects/{GCP_PROJECT}/datasets/sales", actor=who,
                           service="bigquery.googleapis.com", ip=GCP_OFFICE,
                           resource_type="bigquery_dataset"))  # fmt: skip
        out.append(gcp("storage.objects.get", at(day, 10), actor=ANALYST, ip=GCP_OFFICE,
                       resource=f"projects/_/buckets/{GCP_PROJECT}-scratch/objects/q{day}.csv",
                       service="storage.googleapis.com", resource_type="gcs_bucket"))  # fmt: skip
    return out


# --------------------------------------------------------------------------------- Okta

EVERYONE = {"id": "00gEVERY", "type": "UserGroup", "displayName": "Everyone"}
ENGINEERING = {"id": "00gENG", "type": "UserGroup", "displayName": "Engineering"}


def app(ident: str, name: str) -> dict[str, Any]:
    return {"id": ident, "type": "AppInstance", "displayName": name}


def app_made_and_assigned(day: float, actor: str, ip: str, group: dict[str, Any],
                          country: str = "United States") -> list[dict[str, Any]]:  # fmt: skip
    """An application created, then assigned to ``group`` two minutes later."""
    new = app(f"0oa{actor.upper()}{int(day * 100)}", "Microsoft 365 Login")
    return [
        okta("application.lifecycle.create", at(day), actor=actor, ip=ip, country=country,
             targets=[new]),
        okta("group.application_assignment.add", at(day, 2 / 60), actor=actor, ip=ip,
             country=country, targets=[new, group]),
    ]  # fmt: skip


def app_admin_habits(days: int = 21) -> list[dict[str, Any]]:
    """An applications administrator signing in from the office and adjusting an app's
    assignments every week."""
    out = []
    for day in range(days):
        out.append(okta("user.session.start", at(day, 13), actor="ivy", ip=OFFICE))
        if day % 7 == 1:
            out.append(okta("group.application_assignment.add", at(day, 13.5), actor="ivy",
                            ip=OFFICE, targets=[app("0oaJIRA", "Jira"), ENGINEERING]))  # fmt: skip
    return out
