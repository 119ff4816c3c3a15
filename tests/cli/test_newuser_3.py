"""A new user's first ingest of other tools' exports, on a real pseudo-terminal, with
exit codes checked as a script checks them: API pages saved one after another, a
synced S3 folder of CloudTrail deliveries (empty ones, digests, one cut short), and
auditkit's own CEF export pointed at by mistake."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.cli import main
from tests.cli._terminal import TerminalRun, run_in_terminal


def _ok(run: TerminalRun, code: int = 0) -> str:
    assert "Traceback" not in run.output, run.output
    assert run.exit_code == code, run.output
    return run.output


def _gitlab(i: int) -> dict[str, Any]:
    return {
        "id": 500 + i,
        "author_id": 3,
        "entity_id": 9,
        "entity_type": "Project",
        "entity_path": "acme/web",
        "created_at": f"2024-06-01T12:00:{i % 60:02d}.123Z",
        "event_name": "project_visibility_level_updated",
        "details": {"author_name": "Jane Doe", "change": "visibility", "from": "private"},
    }


def _cloudtrail(i: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
        "eventTime": f"2024-05-01T11:{i % 60:02d}:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "eventID": f"cli-{i:05d}",
        "recipientAccountId": "111122223333",
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    assert main(["init", str(tmp_path / "audit.db")]) == 0
    return tmp_path


def test_gitlab_pages_saved_by_a_curl_loop_are_all_stored(folder: Path) -> None:
    pages = [[_gitlab(p * 20 + i) for i in range(20)] for p in range(3)]
    name = "gitlab pages ü.json"  # a name with a space and non-ASCII letters
    (folder / name).write_bytes(b"".join(orjson.dumps(page) for page in pages))
    out = _ok(
        run_in_terminal("ingest", "audit.db", name, "--tenant", "acme", "--strict", cwd=folder)
    )
    assert "read 60 records from 1 file(s): stored 60, duplicates 0, quarantined 0" in out


def test_a_synced_trail_folder_ingests_with_strict_but_its_cut_file(folder: Path) -> None:
    day = folder / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2024" / "05" / "01"
    day.mkdir(parents=True)
    (day / "a.json.gz").write_bytes(
        gzip.compress(orjson.dumps({"Records": [_cloudtrail(i) for i in range(10)]}))
    )
    (day / "quiet-hour.json.gz").write_bytes(gzip.compress(b'{"Records":[]}'))
    out = _ok(run_in_terminal("ingest", "audit.db", "AWSLogs", "--strict", cwd=folder))
    assert "stored 10, duplicates 0, quarantined 0; skipped 1 empty file(s)" in out
    packed = gzip.compress(orjson.dumps({"Records": [_cloudtrail(100 + i) for i in range(40)]}))
    (day / "cut.json.gz").write_bytes(packed[: len(packed) * 3 // 4])
    out = _ok(run_in_terminal("ingest", "audit.db", "AWSLogs", "--strict", cwd=folder), code=1)
    assert "cut.json.gz line 1: file is truncated or corrupt" in out
    assert out.count("Records[") == 1  # the place, named once (at the end)
    assert "quarantined 1 " in out and "stored 0, " not in out


def test_a_cef_export_given_back_is_named_once(folder: Path) -> None:
    (folder / "trail.json").write_bytes(
        orjson.dumps({"Records": [_cloudtrail(i) for i in range(8)]})
    )
    assert main(["ingest", str(folder / "audit.db"), str(folder / "trail.json")]) == 0
    assert (
        main(["export", str(folder / "audit.db"), "--format", "cef", "-o", str(folder / "x.cef")])
        == 0
    )
    out = _ok(run_in_terminal("ingest", "audit.db", "x.cef", "--strict", cwd=folder), code=1)
    assert "quarantined 1 " in out
    assert "it holds CEF lines" in out
