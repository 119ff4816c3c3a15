"""Long tenant names from the command line (a tester's report): `retention apply` seals
them like any other tenant, and `checkpoint --format note -o DIR` writes one note per
tenant whose file name fits, or writes nothing at all."""

from __future__ import annotations

import errno
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditkit import Store
from auditkit.cli import main
from auditkit.commands.core import note_file_name
from tests.conftest import make_events

OLD = (datetime.now(UTC) - timedelta(days=400)).replace(day=10, hour=8, microsecond=0)
TENANTS = ("acme", "x" * 300, "テナント" * 30, "z-last", *(f"t{i}" for i in range(6)))


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A store made as the tester made it: init, ingest canonical NDJSON."""
    events = tmp_path / "events.ndjson"
    with events.open("w", encoding="utf-8") as f:
        for t in TENANTS:
            for e in make_events(20, t, start=OLD.isoformat(), step_s=600):
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
    path = str(tmp_path / "audit.db")
    assert main(["init", path]) == 0
    assert main(["ingest", path, str(events), "--no-progress"]) == 0
    return path


def test_retention_apply_seals_long_named_tenants(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retention", db, "set", "--hot-days", "30"]) == 0
    assert main(["retention", db, "apply", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["retention", db, "show", "--json"]) == 0
    shown = {p["tenant_id"]: p for p in json.loads(capsys.readouterr().out)["policies"]}
    for t in TENANTS:
        assert shown[t]["cold"] == 20, t
    assert main(["verify", db, "--no-progress"]) == 0
    assert main(["retention", db, "apply", "--no-progress"]) == 0  # nothing left to do


def test_checkpoint_notes_of_long_named_tenants(db: str, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    assert main(["checkpoint", db, "--format", "note", "-o", str(folder)]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == len(TENANTS) + 1 and "verifier-keys.txt" in names
    assert all(len(n.encode()) <= 255 for n in names)
    assert "acme.checkpoint" in names  # names that fit keep their file
    notes = Store.open(db).checkpoint_notes()
    for t in TENANTS:
        assert (folder / note_file_name(t)).read_text(encoding="utf-8") == notes[t]
    # verify reads the tenant of each note from the note, not from its file name
    assert main(["verify", db, "--checkpoint", str(folder), "--no-progress"]) == 0


def test_a_destination_that_cannot_be_written_writes_nothing(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "notes"
    (folder / "t3.checkpoint").mkdir(parents=True)  # sorts after several others
    assert main(["checkpoint", db, "--format", "note", "-o", str(folder)]) == 2
    assert "t3.checkpoint is a folder" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["t3.checkpoint"]


def test_names_too_long_for_the_file_system_write_nothing(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "pathconf", lambda path, name: 143)  # as eCryptfs
    folder = tmp_path / "out" / "notes"
    assert main(["checkpoint", db, "--format", "note", "-o", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "at most 143 bytes" in err and "nothing was written" in err
    assert not (tmp_path / "out").exists()


def test_a_write_failing_half_way_leaves_nothing(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    folder = tmp_path / "notes"
    assert main(["checkpoint", db, "--format", "note", "-o", str(folder)]) == 2
    assert len(calls) == 5 and list(folder.iterdir()) == []
