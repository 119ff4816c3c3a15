"""A new user hands over other tools' exports on a real pseudo-terminal, exit codes
checked as a script checks them: a folder as people keep it (a tar of a synced trail,
a CloudTrail Lake CSV, CloudWatch Logs Insights results, ``.git``, ``.DS_Store``, a
broken link), a shell's process substitution, and a webhook receiver's saved request."""

from __future__ import annotations

import csv
import gzip
import io
import os
import shlex
import sys
import tarfile
from pathlib import Path

import orjson
import pytest

from auditkit.cli import main
from tests.cli._terminal import TerminalRun, run_in_terminal
from tests.ingest._records import fixture_records

FIXTURES = Path(__file__).parents[1] / "ingest" / "fixtures"
TRAIL = FIXTURES / "cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"
OKTA = Path(__file__).parents[2] / "examples/okta/system-log.json"


def _ok(run: TerminalRun, code: int = 0) -> str:
    assert "Traceback" not in run.output, run.output
    assert run.exit_code == code, run.output
    return run.output


def _in_shell(command: str, *, cwd: Path) -> TerminalRun:
    """``command`` run by bash on a pseudo-terminal (for ``<(...)``), ``auditkit``
    being this checkout's."""
    import pexpect

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "AUDITKIT_DEBUG")}
    env["TERM"] = "xterm-256color"
    auditkit = f"{shlex.quote(sys.executable)} -m auditkit.cli"
    child = pexpect.spawn(
        "bash",
        ["--norc", "-c", command.replace("auditkit ", auditkit + " ", 1)],
        cwd=str(cwd),
        env=env,
        encoding="utf-8",
        codec_errors="replace",
        timeout=180,
        dimensions=(40, 100),
    )
    output = child.read()
    child.close()
    return TerminalRun(child.exitstatus, output)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    assert main(["init", str(tmp_path / "audit.db")]) == 0
    return tmp_path


def _handover(folder: Path) -> Path:
    """What a colleague hands over: a tar of the trail's synced bucket, Lake results
    saved as CSV (``SELECT eventJson``), Logs Insights results, in a folder that is a
    git checkout on a Mac, with a link left dangling by a log rotation."""
    logs = folder / "handover"
    logs.mkdir()
    records = fixture_records(TRAIL)
    with tarfile.open(logs / "trail.tgz", "w:gz") as archive:
        data = gzip.compress(orjson.dumps({"Records": records}))
        info = tarfile.TarInfo("AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/07/x.json.gz")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    lake = io.StringIO()
    writer = csv.writer(lake)
    writer.writerow(["eventJson"])
    writer.writerows(
        [[orjson.dumps({**r, "eventID": f"lake-{i}"}).decode()] for i, r in enumerate(records)]
    )
    (logs / "lake-result_1.csv").write_text(lake.getvalue())
    rows = [
        [{"field": "@message", "value": orjson.dumps({**r, "eventID": f"cwl-{i}"}).decode()}]
        for i, r in enumerate(records)
    ]
    (logs / "insights.json").write_bytes(orjson.dumps({"results": rows, "status": "Complete"}))
    (logs / ".git" / "objects").mkdir(parents=True)
    (logs / ".git" / "objects" / "pack").write_bytes(b"PACK\x00\x00\x00\x02")
    (logs / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (logs / "current.json").symlink_to("okta-2024-06-03.json")
    return logs


def test_a_handover_folder_stores_every_event_and_names_what_it_left(folder: Path) -> None:
    logs = _handover(folder)
    n = len(fixture_records(TRAIL))
    out = _ok(run_in_terminal("ingest", "audit.db", "handover", "--strict", cwd=folder), 1)
    assert f"read {3 * n + 1} records from 4 file(s): stored {3 * n}" in out
    assert "quarantined: handover/current.json: cannot read the file: a symbolic link to" in out
    assert "skipped 1 hidden folder(s) (.git, ...), not looked into" in out
    assert "skipped 1 hidden file(s) in folders (.DS_Store, ...)" in out
    (logs / "current.json").unlink()
    out = _ok(run_in_terminal("ingest", "audit.db", "handover", "--strict", cwd=folder))
    assert f"read {3 * n} records from 3 file(s): stored 0, duplicates {3 * n}" in out


def test_process_substitution_is_read_as_a_file(folder: Path) -> None:
    """``auditkit ingest audit.db <(gzip -dc okta.json.gz)``: bash passes /dev/fd/63."""
    (folder / "okta.json.gz").write_bytes(gzip.compress(OKTA.read_bytes()))
    n = len(fixture_records(OKTA))
    run = _in_shell(
        "auditkit ingest audit.db <(gzip -dc okta.json.gz) --tenant acme --strict", cwd=folder
    )
    assert f"stored {n}, duplicates 0, quarantined 0" in _ok(run)


def test_a_saved_webhook_request_says_to_keep_its_body(folder: Path) -> None:
    body = orjson.dumps(fixture_records(FIXTURES / "gitlab/api_audit_events.json")[0])
    (folder / "delivery.txt").write_bytes(
        b"POST /hooks/gitlab HTTP/1.1\r\nHost: siem.example.com\r\n"
        b"X-Gitlab-Event-Streaming-Token: 8d7f\r\nContent-Type: application/json\r\n\r\n" + body
    )
    out = _ok(run_in_terminal("ingest", "audit.db", "delivery.txt", "--tenant", "acme", cwd=folder))
    assert "read 1 records from 1 file(s): stored 0, duplicates 0, quarantined 1" in out
    assert "starts with HTTP request headers ('POST /hooks/gitlab HTTP/1.1')" in out
    assert "save the request body alone" in out
    strict = run_in_terminal(
        "ingest", "audit.db", "delivery.txt", "--tenant", "acme", "--strict", cwd=folder
    )
    _ok(strict, 1)
