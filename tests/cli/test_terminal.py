"""The everyday commands on a real pseudo-terminal, progress bars on.

Each command runs as a person runs it: ``auditkit ...`` with stdin, stdout and
stderr on a terminal, so tqdm draws its bars.  Checked: the exit code, what the
command says, that a bar was drawn where the job is long, and that no
traceback ever appears.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from auditkit.cli import main
from auditkit.store import Store
from tests.cli._terminal import TerminalRun, run_in_terminal
from tests.cli.conftest import build_store
from tests.conftest import make_events


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a sample store (``audit.db``) and input files to ingest."""
    folder = tmp_path_factory.mktemp("terminal")
    build_store(folder, events=1500, days=7)
    (folder / "small.ndjson").write_bytes(
        b"".join(orjson.dumps(e) + b"\n" for e in make_events(20, "umbrella"))
    )
    part1, part2 = make_events(30, "wayne")[:15], make_events(30, "wayne")[15:]
    (folder / "in").mkdir()
    (folder / "in" / "a.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in part1))
    bad = b'{"tenant_id": "wayne", "occurred_at": "12/31", "action": "user.login"}\n'
    (folder / "in" / "b.ndjson").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in part2) + bad)
    return folder


def _ok(run: TerminalRun, code: int = 0) -> str:
    assert "Traceback" not in run.output, run.output
    assert run.exit_code == code, run.output
    return run.output


def test_init_on_a_terminal(work: Path) -> None:
    out = _ok(run_in_terminal("init", "fresh.db", cwd=work))
    assert "created store fresh.db" in out


def test_ingest_small_file_shows_progress(work: Path) -> None:
    assert main(["init", str(work / "small.db")]) == 0
    out = _ok(run_in_terminal("ingest", "small.db", "small.ndjson", cwd=work))
    assert "stored 20" in out
    assert "ingest:" in out and "records" in out  # the tqdm bar was drawn


def test_ingest_many_files_with_a_bad_record(work: Path) -> None:
    assert main(["init", str(work / "multi.db")]) == 0
    out = _ok(run_in_terminal("ingest", "multi.db", "in", cwd=work))
    assert "read 31 records from 2 file(s): stored 30, duplicates 0, quarantined 1" in out
    assert "b.ndjson line 16: field 'occurred_at'" in out
    strict = run_in_terminal("ingest", "multi.db", "in", "--strict", cwd=work)
    assert "duplicates 30" in _ok(strict, 1)


def test_verify_and_checkpoint(work: Path) -> None:
    out = _ok(run_in_terminal("verify", "audit.db", cwd=work))
    assert "INTACT" in out
    out = _ok(run_in_terminal("checkpoint", "audit.db", "-o", "saved/cp.json", cwd=work))
    assert "signed checkpoint(s) to saved/cp.json" in out
    out = _ok(run_in_terminal("verify", "audit.db", "--checkpoint", "saved/cp.json", cwd=work))
    assert "INTACT" in out


def test_detect_on_a_narrow_terminal(work: Path) -> None:
    out = _ok(run_in_terminal("detect", "audit.db", "--limit", "5", cwd=work, columns=80))
    assert "finding(s) in 3 tenant(s), over 1,500 verified events" in out
    assert "detect:" in out  # the per-detector progress bar
    # table lines fit the terminal (the bar's own lines are redrawn with \r)
    table = [line for line in out.splitlines() if "\r" not in line and "\x1b" not in line]
    assert max(len(line) for line in table) <= 80


def test_export_report_and_query(work: Path) -> None:
    out = _ok(run_in_terminal("export", "audit.db", "-o", "events.csv", cwd=work))
    assert (work / "events.csv").stat().st_size > 0, out
    out = _ok(
        run_in_terminal("report", "audit.db", "--framework", "soc2", "-o", "r.html", cwd=work)
    )
    assert (work / "r.html").stat().st_size > 0, out
    sql = "SELECT tenant_id, COUNT(*) AS n FROM events GROUP BY tenant_id ORDER BY tenant_id"
    out = _ok(run_in_terminal("query", "audit.db", sql, cwd=work))
    assert "tenant_id" in out and "acme" in out and "(3 rows)" in out


def test_proof_and_offline_check(work: Path) -> None:
    out = _ok(
        run_in_terminal(
            "proof", "audit.db", "--tenant", "acme", "--seq", "3", "-o", "p.json", cwd=work
        )
    )
    assert "wrote the inclusion proof to p.json" in out
    out = _ok(
        run_in_terminal("proof", "verify", "p.json", "--public-key", "audit.db.pub", cwd=work)
    )
    assert out.startswith("PROVEN")
    _ok(run_in_terminal("proof", "verify", "p.json", cwd=work), 3)


def test_sample_shows_progress(work: Path) -> None:
    out = _ok(run_in_terminal("sample", "-o", "s/sample.ndjson", "--events", "300", cwd=work))
    assert "wrote 300 events to s/sample.ndjson" in out
    assert "sample:" in out


def test_usage_errors_on_a_terminal(work: Path) -> None:
    for args in (
        ("verify", "nowhere.db"),
        ("sample", "-o", "x.ndjson", "--events", "-5"),
        ("query", "audit.db", "SELECT nope FROM events"),
        ("detect", "audit.db", "--since", "last tuesday"),
        ("checkpoint", "audit.db", "-o", "in"),
    ):
        out = _ok(run_in_terminal(*args, cwd=work), 2)
        assert "auditkit" in out, args


def test_help_on_a_terminal(work: Path) -> None:
    out = _ok(run_in_terminal("--help", cwd=work))
    assert "usage: auditkit" in out


def test_demo_the_main_job_on_a_terminal(tmp_path: Path) -> None:
    out = _ok(run_in_terminal("demo", "--dir", "demo", cwd=tmp_path, timeout=900))
    assert "INTACT" in out and "done in" in out
    assert Store.open(str(tmp_path / "demo" / "audit.db")).tenants()
