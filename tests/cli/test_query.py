"""``auditkit query`` and :func:`auditkit.query`: SQL over the verified events."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import orjson
import polars as pl
import pytest

import auditkit
from auditkit.cli import main
from auditkit.errors import UsageError
from auditkit.sql import sql_frame

COUNTS = "SELECT tenant_id, COUNT(*) AS n FROM events GROUP BY tenant_id ORDER BY tenant_id"


def test_python_and_command_line_agree(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = auditkit.Store.open(sample_store)
    expected = store.load().group_by("tenant_id").len("n").sort("tenant_id")
    got = auditkit.query(store, COUNTS)
    assert got.rows() == expected.rows()
    assert auditkit.query(store.load(), COUNTS).rows() == expected.rows()
    assert main(["query", sample_store, COUNTS, "--format", "json"]) == 0
    assert [tuple(r.values()) for r in json.loads(capsys.readouterr().out)] == expected.rows()
    for suffix in ("csv", "parquet", "ndjson"):
        out = tmp_path / f"r.{suffix}"
        assert main(["query", sample_store, COUNTS, "-o", str(out)]) == 0
        read = {"csv": pl.read_csv, "parquet": pl.read_parquet, "ndjson": pl.read_ndjson}
        assert read[suffix](out).rows() == expected.rows(), suffix


def test_tenant_and_time_filters(sample_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = auditkit.Store.open(sample_store)
    frame = store.load("globex", start="2026-01-07")
    got = auditkit.query(
        store, "SELECT COUNT(*) AS n FROM events", tenant="globex", start="2026-01-07"
    )
    assert got.item() == frame.height > 0
    args = ["--tenant", "globex", "--since", "2026-01-07", "--format", "csv"]
    assert main(["query", sample_store, "SELECT COUNT(*) AS n FROM events", *args]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", str(frame.height)]


def test_every_row_is_verified_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli.conftest import build_store

    db = build_store(tmp_path, events=200, days=2)
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER events_no_update")
    con.execute("UPDATE events SET action = 'document.forged' WHERE seq = 5 AND tenant_id = 'acme'")
    con.commit()
    con.close()
    capsys.readouterr()
    assert main(["query", db, "SELECT COUNT(*) FROM events"]) == 1
    err = capsys.readouterr().err
    assert "TAMPERED" in err and "seq=5" in err


def test_csv_output_is_spreadsheet_safe_and_keeps_nested_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "a.db")
    event = {
        "tenant_id": "acme",
        "occurred_at": "2026-01-05T09:00:00Z",
        "action": "document.read",
        "actor": {"id": '=HYPERLINK("http://evil","x")', "roles": ["a", "b"]},
        "description": "+cmd|' /C calc'!A0",
    }
    (tmp_path / "e.ndjson").write_bytes(orjson.dumps(event) + b"\n")
    assert main(["init", db]) == 0
    assert main(["ingest", db, str(tmp_path / "e.ndjson"), "--no-progress"]) == 0
    out = tmp_path / "r.csv"
    sql = "SELECT actor_id, description, actor_roles, occurred_at FROM events"
    assert main(["query", db, sql, "-o", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    assert row["actor_id"] == '\'=HYPERLINK("http://evil","x")'
    assert row["description"] == "'+cmd|' /C calc'!A0"
    assert json.loads(row["actor_roles"]) == ["a", "b"]
    assert row["occurred_at"] == "2026-01-05T09:00:00.000000Z"


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT nope FROM events", "nope"),
        ("SELEC * FROM events", "SQL:"),
        ("SELECT * FROM other", "other"),
        ("SELECT * FROM read_csv('/etc/passwd')", "reads files"),
        ("SELECT * FROM events, READ_PARQUET ('x.parquet')", "reads files"),
        ("", "expected a query"),
    ],
)
def test_bad_sql_is_a_usage_error(
    sql: str, message: str, sample_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match=message):
        sql_frame(pl.DataFrame({"tenant_id": ["a"]}), sql)
    assert main(["query", sample_store, sql]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_literal_that_mentions_a_file_function_is_fine() -> None:
    frame = pl.DataFrame({"description": ["read_csv('x') was called"]})
    sql = "SELECT * FROM events WHERE description = 'read_csv(''x'') was called'"
    assert sql_frame(frame, sql).collect().height == 1


def test_table_output_is_limited(sample_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", sample_store, "SELECT seq FROM events", "--limit", "3"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4  # header and three rows
    assert "more not shown" in captured.err
    assert main(["query", sample_store, "SELECT 1 AS x FROM events", "--format", "parquet"]) == 2


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT metadata.source_format FROM events", "metadata is JSON text, not a struct"),
        ("SELECT targets.id FROM events", "targets is a list"),
        ("SELECT actor.id FROM events", "columns are flat: actor_id"),
    ],
)
def test_a_dotted_field_says_what_the_column_holds(
    sql: str, message: str, sample_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``metadata.source_format`` gave only "SQL: source_format", Polars' bare name."""
    assert main(["query", sample_store, sql]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
