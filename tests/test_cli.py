"""The command line as scripts use it: exit codes, JSON output, one-line errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
import pytest

from auditkit.cli import main
from auditkit.commands.base import COMMANDS
from tests.conftest import make_events


def _write(path: Path, events: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def test_init_ingest_verify_checkpoint_roundtrip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "audit.db")
    assert main(["init", db]) == 0
    assert Path(db + ".key").is_file()
    events = _write(tmp_path / "e.ndjson", make_events(30))
    assert main(["ingest", db, str(events)]) == 0
    assert "stored 30" in capsys.readouterr().out
    assert main(["ingest", db, str(events), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["stored"], doc["duplicates"], doc["quarantined"]) == (0, 30, 0)
    assert main(["verify", db, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["events"] == 30
    cp = str(tmp_path / "cp.json")
    assert main(["checkpoint", db, "-o", cp]) == 0
    assert main(["verify", db, "--checkpoint", cp]) == 0
    assert "INTACT" in capsys.readouterr().out
    assert main(["proof", db, "--tenant", "acme", "--seq", "7"]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert proof["seq"] == 7 and proof["tree_size"] == 30


def test_verify_exit_1_names_the_tampered_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "audit.db")
    main(["init", db])
    main(["ingest", db, str(_write(tmp_path / "e.ndjson", make_events(12)))])
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER events_no_update")
    con.execute("UPDATE events SET outcome = 'success' WHERE seq = 3")
    con.commit()
    con.close()
    capsys.readouterr()
    assert main(["verify", db, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["problems"][0] | {"detail": ""} == {
        "kind": "modified",
        "tenant_id": "acme",
        "seq": 3,
        "event_id": "e-acme-3",
        "detail": "",
        "column": None,
    }


def test_bad_input_is_quarantined_with_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "audit.db")
    main(["init", db])
    good = make_events(3)
    bad = dict(good[1], occurred_at="12/31", event_id="bad-1")
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(
        orjson.dumps(good[0])
        + b"\n"
        + orjson.dumps(bad)
        + b"\n{not json\n"
        + orjson.dumps(good[2])
        + b"\n"
        + b'{"tenant_id": "acme", "actio'
    )
    capsys.readouterr()
    assert main(["ingest", db, str(path)]) == 0
    out = capsys.readouterr().out
    assert "read 5 records" in out and "stored 2" in out and "quarantined 3" in out
    assert f"{path} line 2: field 'occurred_at': expected RFC 3339 timestamp, got '12/31'" in out
    lines = Path(db + ".quarantine.ndjson").read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    assert [(r["line"], r["field"]) for r in rows] == [(2, "occurred_at"), (3, None), (5, None)]
    assert "truncated" in rows[2]["reason"]
    assert json.loads(rows[0]["record"])["event_id"] == "bad-1"
    assert main(["ingest", db, str(path), "--strict"]) == 1


def test_errors_are_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(tmp_path / "nope.db")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no store here" in err
    db = str(tmp_path / "a.db")
    main(["init", db])
    assert main(["init", db]) == 2
    assert main(["ingest", db, str(tmp_path / "missing.ndjson")]) == 2
    assert main(["verify", db, "--checkpoint", str(tmp_path / "missing.json")]) == 2
    assert main([]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("command", list(COMMANDS.all()))
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert "usage: auditkit " + command in capsys.readouterr().out


def test_sample_writes_ndjson(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.ndjson"
    assert main(["sample", "-o", str(out), "--events", "500", "--days", "3"]) == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 500
    assert {"tenant_id", "action", "actor"} <= orjson.loads(lines[0]).keys()
