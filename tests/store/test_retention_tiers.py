"""The cold tier on object storage (S3 through a moto server on loopback), read by
another Parquet engine (DuckDB), and driven from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit import ProblemKind, Store
from tests.conftest import make_events

# the 10th of the month about 400 days ago: the 240 events (40 hours) stay in one month,
# whatever today's date (a month boundary inside them makes two cold segments)
_AGO = datetime.now(UTC) - timedelta(days=400)
START = datetime(_AGO.year, _AGO.month, 10, 8, tzinfo=UTC)


def _events(tenant: str, n: int = 240) -> list[dict[str, object]]:
    out = make_events(n, tenant, start=START.isoformat(), step_s=600)
    for i, e in enumerate(out):  # bursts of failed logins: a windowed detection has work
        if i % 40 < 6:
            e["action"], e["outcome"] = "user.login", "failure"
            e["actor"] = {"id": f"mallory-{i // 80}", "type": "user"}
    return out


# -- S3-compatible object storage --------------------------------------------------------
@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    pytest.importorskip("s3fs", reason="s3fs is not installed")
    import boto3
    import fsspec

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **creds).create_bucket(
        Bucket="audit-cold"
    )
    saved = dict(fsspec.config.conf)
    fsspec.config.conf["s3"] = {
        "endpoint_url": endpoint, "key": "testing", "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }  # fmt: skip
    try:
        yield endpoint
    finally:
        fsspec.config.conf.clear()
        fsspec.config.conf.update(saved)
        server.stop()


def test_a_cold_tier_on_s3_seals_reads_and_verifies(s3_url: str, tmp_path: Path) -> None:
    import boto3

    store = Store.init(str(tmp_path / "a.db"), cold="s3://audit-cold/stores/one")
    store.append(_events("acme"))
    before = store.load("acme")
    store.retention.set("acme", hot_days=30)
    assert store.retention.apply().sealed == 240
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="audit-cold")["Contents"])
    assert keys[0].startswith("stores/one/tenant=acme/month=") and len(keys) == 2
    assert store.tier_counts("acme") == (1, 240)
    assert_frame_equal(store.load("acme").head(240), before)
    assert store.verify().status.value == "intact"
    # someone with access to the bucket removes the segment
    s3.delete_object(Bucket="audit-cold", Key=next(k for k in keys if k.endswith(".parquet")))
    reopened = Store.open(str(tmp_path / "a.db"))
    assert reopened.verify().first(ProblemKind.SEGMENT_MISSING) is not None


def test_a_postgresql_store_needs_a_cold_tier_named_at_init(pg_url: str, tmp_path: Path) -> None:
    import os

    os.environ["AUDITKIT_HOME"] = str(tmp_path / "home")
    try:
        store = Store.init(pg_url)
        store.append(_events("acme", 10))
        store.retention.set("acme", hot_days=1)
        with pytest.raises(Exception, match="no cold tier; name one at init"):
            store.retention.apply()
        assert store.retention.apply(dry_run=True).sealed == 10  # counting needs none
    finally:
        os.environ.pop("AUDITKIT_HOME", None)


# -- any Parquet engine: the DuckDB recipe of docs/retention.md --------------------------
RECIPE_COUNTS = """
SELECT tenant_id AS tenant, count(*) AS events
FROM read_parquet($glob, hive_partitioning = true)
GROUP BY tenant_id ORDER BY tenant_id
"""
RECIPE_BURSTS = """
SELECT tenant_id, actor_id,
       time_bucket(INTERVAL 1 HOUR, CAST(occurred_at AS TIMESTAMPTZ)) AS hour,
       count(*) AS failures
FROM read_parquet($glob, hive_partitioning = true)
WHERE action = 'user.login' AND outcome = 'failure'
GROUP BY ALL HAVING count(*) >= 2
ORDER BY tenant_id, actor_id, hour
"""


def test_duckdb_reads_the_cold_tier_and_agrees_with_auditkit(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed")
    store = Store.init(str(tmp_path / "a.db"))
    for t in ("acme", "globex", "initech"):
        store.append(_events(t, 240 if t != "globex" else 90))
    store.retention.set(hot_days=30)
    store.retention.apply()
    glob = f"{store.cold_url}/*/*/*.parquet"
    con = duckdb.connect()
    counts = pl.from_arrow(con.sql(RECIPE_COUNTS, params={"glob": glob}).to_arrow_table())
    sealed = store.load().filter(pl.col("action") != "audit_retention.update")
    ours = sealed.group_by(pl.col("tenant_id").alias("tenant")).agg(pl.len().alias("events"))
    assert counts.cast({"events": pl.UInt32}).rows() == ours.sort("tenant").rows()
    bursts = pl.from_arrow(con.sql(RECIPE_BURSTS, params={"glob": glob}).to_arrow_table())
    mine = (
        sealed.filter((pl.col("action") == "user.login") & (pl.col("outcome") == "failure"))
        .group_by("tenant_id", "actor_id", pl.col("occurred_at").dt.truncate("1h").alias("hour"))
        .agg(pl.len().alias("failures"))
        .filter(pl.col("failures") >= 2)
        .sort("tenant_id", "actor_id", "hour")
    )
    assert bursts.height >= 6
    assert (
        bursts.select("tenant_id", "actor_id", "failures").cast({"failures": pl.UInt32}).rows()
        == mine.select("tenant_id", "actor_id", "failures").rows()
    )
    assert [h.astimezone(UTC) for h in bursts["hour"]] == mine["hour"].to_list()


# -- the command line, as a script runs it --------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditkit.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_the_retention_command(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    Store.init(db).append([e for t in ("acme", "globex") for e in _events(t, 50)])
    assert run("retention", db, "set", "--tenant", "acme", "--hot-days", "10").returncode == 0
    done = run("retention", db, "set", "--legal-hold", "on", "--keep-days", "30")
    assert done.returncode == 2 and "--reason" in done.stderr
    done = run("retention", db, "set", "--keep-days", "forever", "--legal-hold", "on",
               "--reason", "audit 2026")  # fmt: skip
    assert done.returncode == 0 and "store default" in done.stdout
    done = run("retention", db, "apply", "--dry-run", "--json")
    doc = json.loads(done.stdout)
    assert doc["dry_run"] and doc["sealed"] == 50 and doc["tenants"][0]["segments"] == 1
    done = run("retention", db, "apply")
    assert done.returncode == 0 and "sealed 50 event(s) into 1 segment(s)" in done.stdout
    shown = json.loads(run("retention", db, "show", "--json").stdout)
    acme = next(p for p in shown["policies"] if p["tenant_id"] == "acme")
    assert (acme["hot"], acme["cold"], acme["hot_days"]) == (1, 50, 10)
    assert run("verify", db).returncode == 0
    for bad in (["show", "--hot-days", "3"], ["set", "--tenant", "nope", "--keep-days", "3"],
                ["apply", "--tenant", "nope"], ["set", "--hot-days", "-4"], ["purge"]):  # fmt: skip
        done = run("retention", db, *bad)
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr


# -- everything built on the store sees one trail -------------------------------------------
def test_detections_exports_and_principals_see_one_trail(tmp_path: Path) -> None:
    from auditkit.analytics import run_detectors
    from auditkit.errors import AccessDenied

    store = Store.init(str(tmp_path / "a.db"))
    store.append(_events("acme"))
    findings = run_detectors(store.load())
    done = run("export", str(tmp_path / "a.db"), "--format", "ndjson", "-o",
               str(tmp_path / "before.ndjson"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    store.retention.set("acme", hot_days=30)
    store.retention.apply()
    assert store.tier_counts("acme") == (1, 240)
    sealed = store.load().filter(pl.col("action") != "audit_retention.update")
    assert_frame_equal(run_detectors(sealed), findings)
    done = run("export", str(tmp_path / "a.db"), "--format", "ndjson", "-o",
               str(tmp_path / "after.ndjson"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    before = (tmp_path / "before.ndjson").read_text().splitlines()
    after = (tmp_path / "after.ndjson").read_text().splitlines()
    assert after[:240] == before and len(after) == 241
    # a principal reads across tiers as the owner does, and may change nothing without manage
    store.add_principal("ann")
    store.grant("ann", "acme", "auditor")
    ann = store.bind(principal="ann")
    assert (
        ann.load("acme").filter(pl.col("action") == "user.login").height
        == sealed.filter(pl.col("action") == "user.login").height
    )
    assert ann.retention.policy("acme").hot_days == 30
    with pytest.raises(AccessDenied, match="manage"):
        ann.retention.set("acme", keep_days=1)
    with pytest.raises(AccessDenied, match="manage"):
        ann.retention.apply("acme")


def test_retention_apply_on_a_terminal_draws_a_bar_and_a_summary(tmp_path: Path) -> None:
    from tests.cli._terminal import run_in_terminal

    Store.init(str(tmp_path / "t.db")).append([e for t in ("acme", "globex") for e in
                                                _events(t, 120)])  # fmt: skip
    assert run("retention", str(tmp_path / "t.db"), "set", "--hot-days", "7").returncode == 0
    done = run_in_terminal("retention", "t.db", "apply", cwd=tmp_path)
    assert done.exit_code == 0 and "Traceback" not in done.output, done.output
    assert "retention:" in done.output  # the tqdm bar
    assert "sealed 240 event(s)" in done.output and "globex: hot 7 days" in done.output
