"""``auditkit detect``: readable output, formats, filters, and terminal-safe text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest

from auditkit.analytics.detectors.registry import SEVERITIES, available_detectors
from auditkit.cli import main
from auditkit.commands import detect as detect_command


def test_severities_are_the_detectors_own() -> None:
    assert tuple(SEVERITIES) == detect_command.SEVERITIES


def test_table_lists_every_detector_with_its_count(
    sample_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["detect", sample_store, "--limit", "3"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert re.fullmatch(r"\d+ finding\(s\) in 3 tenant\(s\), over [\d,]+ verified events", lines[0])
    for name in available_detectors():
        assert any(line.split()[:1] == [name] for line in lines[1:]), name
    assert "--limit 0 for all" in out


def test_json_ndjson_and_the_json_alias_agree(
    sample_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["detect", sample_store, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(["detect", sample_store, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == doc
    assert main(["detect", sample_store, "--format", "ndjson"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["finding_id"] for r in rows] == [f["finding_id"] for f in doc["findings"]]
    assert doc["count"] == len(rows) > 0
    assert sum(sum(v.values()) for v in doc["by_detector"].values()) == doc["count"]
    assert main(["detect", sample_store, "--json", "--format", "ndjson"]) == 2


def test_min_severity_and_fail_on(sample_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", sample_store, "--json"]) == 0
    every = json.loads(capsys.readouterr().out)["findings"]
    assert main(["detect", sample_store, "--json", "--min-severity", "high"]) == 0
    high = json.loads(capsys.readouterr().out)["findings"]
    assert {f["severity"] for f in high} <= {"high", "critical"}
    assert len(high) == sum(f["severity"] in ("high", "critical") for f in every) > 0
    worst = max(SEVERITIES.index(f["severity"]) for f in every)
    assert main(["detect", sample_store, "--fail-on", SEVERITIES[worst]]) == 1
    capsys.readouterr()
    if worst + 1 < len(SEVERITIES):
        assert main(["detect", sample_store, "--fail-on", SEVERITIES[worst + 1]]) == 0


def test_times_filter_the_findings(sample_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", sample_store, "--json", "--since", "2000-01-01"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert main(["detect", sample_store, "--json", "--since", "30d"]) == 0  # an age
    assert json.loads(capsys.readouterr().out)["count"] == 0  # the sample is from 2026-01
    assert main(["detect", sample_store, "--json", "--until", "2026-01-07"]) == 0
    early = json.loads(capsys.readouterr().out)
    assert early["events"] < everything["events"]
    assert all(f["last_seen"] < "2026-01-07" for f in early["findings"])


def _hostile_store(tmp_path: Path) -> str:
    db = str(tmp_path / "h.db")
    actor = "mallory\r\x1b[2K\x1b]0;owned\x07admin\u202e"
    events = [
        {
            "tenant_id": "acme",  # tenant ids with control characters are refused
            "occurred_at": "2026-01-05T09:00:00Z",
            "action": "audit_log.disable",
            "actor": {"id": actor},
            "description": "turned off\rclean line",
        }
    ]
    path = tmp_path / "h.ndjson"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    assert main(["init", db]) == 0
    assert main(["ingest", db, str(path), "--no-progress"]) == 0
    return db


def test_control_characters_from_events_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _hostile_store(tmp_path)
    capsys.readouterr()
    assert main(["detect", db]) == 0
    assert main(["query", db, "SELECT tenant_id, actor_id, description FROM events"]) == 0
    out = capsys.readouterr().out
    assert "mallory\\x0d\\x1b[2K\\x1b]0;owned\\x07admin\\u202e" in out
    assert not any(c in out for c in "\r\x1b\x07\u202e"), repr(out)
    # JSON output escapes them itself (and stays exact)
    assert main(["detect", db, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"][0]["actor_id"] == "mallory\r\x1b[2K\x1b]0;owned\x07admin\u202e"


def test_list_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in available_detectors())
    # one column each, whatever the longest name ("security_control_weakened")
    kinds = {line.index(" rule ") if " rule " in line else line.index(" statistical ")
             for line in out.splitlines()}  # fmt: skip
    assert len(kinds) == 1, out
    assert main(["detect", "--list", "--format", "ndjson"]) == 0
    names = [json.loads(line)["name"] for line in capsys.readouterr().out.splitlines()]
    assert names == list(available_detectors())
    assert main(["detect"]) == 2
    assert main(["detect", "x.db", "--detector", "nope"]) == 2
    assert "unknown detector 'nope'" in capsys.readouterr().err
