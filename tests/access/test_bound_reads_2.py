"""Reads of a principal's handle that left without their record, and SQL that read
files: each found by probing as a principal with one tenant and a redacted role."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

import auditkit
from auditkit.errors import UsageError
from auditkit.sql import sql_frame
from auditkit.store import Store
from tests.access.strategies import TENANTS

A, B = TENANTS[0], TENANTS[1]


def reads(store: Store, tenant: str) -> int:
    frame = store.load(tenant)
    return frame.filter(pl.col("action").str.starts_with("audit_log.read")).height


def test_an_iteration_stopped_after_its_first_chunk_is_recorded(
    marked_store: Store, person: Callable[..., Store]
) -> None:
    ann = person(marked_store, "ann", **{A.replace("-", "_"): "analyst"})
    before = reads(marked_store, A)
    chunks = ann.iter_verified(A)
    first = next(chunks)
    chunks.close()  # a consumer that stops reading (a cancelled stream)
    assert first.height > 0
    assert reads(marked_store, A) == before + 1


def test_reads_inside_an_activity_that_raises_are_recorded(
    marked_store: Store, person: Callable[..., Store]
) -> None:
    ann = person(marked_store, "ann", **{A.replace("-", "_"): "analyst"})
    before = reads(marked_store, A)
    with pytest.raises(RuntimeError), ann.activity("export", format="csv"):
        frame = ann.load(A)
        raise RuntimeError("the caller has the frame and fails on purpose")
    assert frame.height > 0
    after = marked_store.load(A).filter(pl.col("action") == "audit_log.export")
    assert reads(marked_store, A) == before and after.height == 1
    assert after["metadata"][0] and '"rows":' in after["metadata"][0]


def test_a_denied_tenant_stays_denied_through_sql(
    marked_store: Store, person: Callable[..., Store]
) -> None:
    ann = person(marked_store, "ann", **{A.replace("-", "_"): "analyst"})
    got = auditkit.query(ann, "SELECT DISTINCT tenant_id FROM events")
    assert got["tenant_id"].to_list() == [A]
    with pytest.raises(auditkit.AccessDenied):
        auditkit.query(ann, "SELECT * FROM events", tenant=B)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM \"read_csv\"('{f}')",
        "SELECT * FROM `read_csv`('{f}')",
        "SELECT * FROM read_csv/* a comment */('{f}')",
        "SELECT * FROM read_csv -- a comment\n('{f}')",
        "SELECT * FROM '{f}'",
        "SELECT * FROM E'{f}'",
        "SELECT * FROM ('{f}')",
        "SELECT * FROM events, '{f}' AS t",
        "SELECT * FROM events CROSS JOIN (('{f}')) AS t",
        "SELECT action FROM events UNION ALL SELECT b FROM '{f}'",
        "WITH t AS (SELECT * FROM '{f}') SELECT * FROM t",
        "SELECT 1 AS x /* nested /* */ FROM events */ FROM '{f}'",
        "SELECT * FROM E'\\'' , '{f}'",
    ],
)
def test_sql_that_reads_a_file_is_refused_however_it_is_written(tmp_path: Path, sql: str) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a,b\n1,the-secret\n")
    frame = pl.DataFrame({"action": ["user.login"]})
    with pytest.raises(UsageError, match=r"reads? (?:only the table|a file)|names a file"):
        sql_frame(frame, sql.format(f=secret)).collect()


def test_the_plan_check_refuses_a_file_read_the_text_check_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import auditkit.sql as module

    secret = tmp_path / "secret.csv"
    secret.write_text("a,b\n1,the-secret\n")
    monkeypatch.setattr(module, "_reads_files", lambda sql: None)
    with pytest.raises(UsageError, match="reads a file"):
        sql_frame(pl.DataFrame({"action": ["x"]}), f"SELECT * FROM '{secret}'")


def test_text_that_only_looks_like_a_file_name_is_still_queryable(sqlite_marked: Store) -> None:
    frame = pl.DataFrame({"action": ["report.csv", "read_csv('x')"]})
    sql = (
        "SELECT action, 'x.csv' AS f FROM events WHERE action IN ('report.csv', "
        "'read_csv(''x'')') ORDER BY action"
    )
    assert sql_frame(frame, sql).collect().height == 2
    # the store's own scan (parquet files) passes the plan check, self-joined too
    got = auditkit.query(
        sqlite_marked,
        "SELECT COUNT(*) AS n FROM events a JOIN events b ON a.event_id = b.event_id",
        tenant=A,
    )
    assert got["n"][0] > 0
