"""``-o -`` as a user of other tools means it: standard output where the command can
write there, a clear usage error where it cannot, and never a file named ``-``."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from auditkit.cli import main


@pytest.fixture
def in_tmp(tmp_path: Path) -> Path:
    """Run in an empty folder, where a stray file named '-' would show."""
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


def _no_dash_file(folder: Path) -> None:
    assert not (folder / "-").exists(), "wrote a file named '-'"


def test_export_to_stdout(
    sample_store: str, in_tmp: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["export", sample_store, "--format", "csv", "-o", "-", "--no-progress"]) == 0
    out, err = capfdbinary.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.decode())))
    assert len(rows) == 2000 and rows[0]["tenant_id"]
    assert b"to stdout (csv" in err  # the summary goes to stderr, out of the data
    _no_dash_file(in_tmp)
    # without --format there is no suffix to tell the format by
    assert main(["export", sample_store, "-o", "-"]) == 2
    assert b"give --format" in capfdbinary.readouterr().err
    _no_dash_file(in_tmp)


def test_query_proof_checkpoint_and_report_print_with_dash(
    sample_store: str, in_tmp: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    sql = "SELECT count(*) AS n FROM events"
    assert main(["query", sample_store, sql, "-o", "-", "--format", "ndjson"]) == 0
    assert json.loads(capfd.readouterr().out) == {"n": 2000}
    assert main(["query", sample_store, sql, "-o", "-"]) == 2
    assert "give --format" in capfd.readouterr().err
    assert main(["checkpoint", sample_store, "-o", "-"]) == 0
    assert json.loads(capfd.readouterr().out)["checkpoints"]
    tenant = "acme"
    assert main(["proof", sample_store, "--tenant", tenant, "--seq", "1", "-o", "-"]) == 0
    assert json.loads(capfd.readouterr().out)["kind"] == "inclusion"
    argv = ["report", sample_store, "--framework", "soc2", "--format", "md", "-o", "-"]
    assert main(argv) == 0
    assert capfd.readouterr().out.startswith("# SOC 2")
    _no_dash_file(in_tmp)


def test_commands_that_write_files_refuse_dash(
    sample_store: str, in_tmp: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["sample", "-o", "-", "--events", "3"]) == 2
    assert capfd.readouterr().err == (
        "auditkit: -o -: this command writes a file here; give a file name\n"
    )
    data = in_tmp / "e.ndjson"
    data.write_text("")
    assert main(["ingest", sample_store, str(data), "--quarantine", "-"]) == 2
    assert "--quarantine -:" in capfd.readouterr().err
    _no_dash_file(in_tmp)
