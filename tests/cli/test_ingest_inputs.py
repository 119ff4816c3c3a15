"""`auditkit ingest` fed as a newcomer feeds it: other tools' exports piped in, zip
archives, empty files, formats that need --tenant."""

from __future__ import annotations

import gzip
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from auditkit.cli import main
from tests.cli._terminal import run_in_terminal

FIXTURES = Path(__file__).parents[1] / "ingest" / "fixtures"


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "audit.db")
    assert main(["init", path]) == 0
    return path


def test_an_empty_file_passes_strict(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "export.json"
    empty.write_bytes(b"")
    capsys.readouterr()
    assert main(["ingest", db, str(empty), "--strict", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "read 0 records" in out and "skipped 1 empty file" in out
    assert "quarantined:" not in out


def test_okta_without_tenant_is_a_usage_error(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    okta = Path(__file__).parents[2] / "examples" / "okta" / "system-log.json"
    capsys.readouterr()
    assert main(["ingest", db, str(okta), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --tenant NAME" in err and "system-log.json" in err
    assert not Path(db + ".quarantine.ndjson").exists()


def _auditkit(*args: str, stdin: bytes, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "auditkit.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_a_pipe_into_ingest_dash(db: str, tmp_path: Path) -> None:
    """`aws cloudtrail lookup-events ... | auditkit ingest audit.db - --format cloudtrail`
    said '-: no such file'."""
    lookup = (FIXTURES / "cloudtrail" / "lookup_events.json").read_bytes()
    done = _auditkit("ingest", db, "-", "--format", "cloudtrail", stdin=lookup, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"read 2 records from 1 file(s): stored 2" in done.stdout
    okta = (FIXTURES / "okta" / "system_log.ndjson").read_bytes() + b'{"uuid": "x"}\n'
    done = _auditkit("ingest", db, "-", "--tenant", "acme", stdin=gzip.compress(okta), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = okta.count(b"\n")
    assert f"quarantined: <stdin> line {lines}: field".encode() in done.stdout
    assert not (tmp_path / "-").exists()


def test_a_terminal_on_standard_input_is_a_usage_error(db: str, tmp_path: Path) -> None:
    """On a terminal, 'ingest STORE -' would wait for typed records: it says how to pipe."""
    run = run_in_terminal("ingest", db, "-", cwd=tmp_path, timeout=60)
    assert run.exit_code == 2, run.output
    assert "standard input is a terminal: pipe the records in" in run.output
    assert "Traceback" not in run.output


def test_a_zipped_export(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Okta and CloudTrail exports come zipped: each member is read, and named."""
    okta = (FIXTURES / "okta" / "system_log.ndjson").read_bytes()
    archive = tmp_path / "okta-export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("okta-2024-06.ndjson", okta + b"not json\n")
    capsys.readouterr()
    assert main(["ingest", db, str(archive), "--tenant", "acme", "--no-progress"]) == 0
    out = capsys.readouterr().out
    lines = okta.count(b"\n")
    assert f"stored {lines}," in out
    assert f"quarantined: {archive}!okta-2024-06.ndjson line {lines + 1}: invalid JSON" in out
    assert main(["ingest", db, str(archive), "--tenant", "acme", "--strict"]) == 1


def test_other_tools_exports_at_a_terminal(db: str, tmp_path: Path) -> None:
    """Exports nobody tuned auditkit to, typed at a terminal with ``--format auto``: an
    Okta log stream to EventBridge, GitLab's CSV export, a GCP log sink's Pub/Sub
    messages, a CloudWatch Logs export to S3.  Each was quarantined whole or record by
    record; every record is now stored, and verify, detect and export run on them."""
    ct = (FIXTURES / "cloudtrail" / "cloudwatch_logs_export_000000.log").read_bytes()
    (tmp_path / "000000.gz").write_bytes(gzip.compress(ct))
    files = [
        str(FIXTURES / "okta" / "eventbridge.ndjson"),
        str(FIXTURES / "gitlab" / "audit_events_export.csv"),
        str(FIXTURES / "gcp" / "pubsub_subscriptions_pull.json"),
        str(tmp_path / "000000.gz"),
    ]
    run = run_in_terminal("ingest", db, *files, "--tenant", "acme", "--strict", cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert "read 14 records from 4 file(s): stored 14, duplicates 0, quarantined 0" in run.output
    for args in (["verify", db], ["detect", db], ["export", db, "--format", "ndjson", "-o", "x"]):
        run = run_in_terminal(*args, cwd=tmp_path)
        assert run.exit_code in (0, 3), run.output  # 3: intact, but no anchor outside the db
        assert "Traceback" not in run.output
    assert len((tmp_path / "x").read_bytes().splitlines()) == 14


def test_a_csv_of_other_columns_is_told_apart_with_advice(db: str, tmp_path: Path) -> None:
    """A CSV of columns no format knows (a home-grown log) is not taken for canonical
    CSV, which would refuse it for want of a tenant_id column and then quarantine every
    row: it is quarantined as a file of unknown format, naming its columns and what to
    pass."""
    own = tmp_path / "app_log.csv"
    own.write_text(
        '"ts","who","operation","resource"\n"2024-03-04 09:12:44","al","login","console"\n'
    )
    run = run_in_terminal("ingest", db, str(own), cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert "quarantined 1" in run.output and "Traceback" not in run.output
    flat = " ".join(run.output.split())
    assert "cannot tell the format of this file (its first line has the columns" in flat
    assert "ts, who, operation" in flat and "--mapping FILE" in flat


def test_an_athena_csv_of_a_cloudtrail_table_is_read_as_cloudtrail(db: str, tmp_path: Path) -> None:
    """Athena query results over a trail's table (once told apart as an unknown format)
    are CloudTrail: a row without ``recipientaccountid`` names the missing tenant, and
    with --tenant it is stored."""
    athena = tmp_path / "athena_results.csv"
    athena.write_text(
        '"eventversion","useridentity","eventtime","eventsource","eventname"\n'
        '"1.09","{type=IAMUser, principalid=AIDA1, accountid=123456789012}",'
        '"2024-03-04T09:12:44Z","signin.amazonaws.com","ConsoleLogin"\n'
    )
    run = run_in_terminal("ingest", db, str(athena), cwd=tmp_path)
    assert run.exit_code == 0, run.output
    flat = " ".join(run.output.split())
    assert "quarantined 1" in flat and "Traceback" not in flat
    assert "line 2: field 'recipientAccountId': missing" in flat and "--tenant" in flat
    run = run_in_terminal("ingest", db, str(athena), "--tenant", "acme", cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert "stored 1" in " ".join(run.output.split())
