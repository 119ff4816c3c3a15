"""`auditkit ingest` fed as a newcomer feeds it: other tools' exports piped in, zip
archives, empty files, formats that need --tenant."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.cli import main


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
