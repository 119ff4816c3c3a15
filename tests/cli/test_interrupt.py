"""Ctrl-C half-way through a command that writes a file, on a real terminal: exit 130,
one line, no traceback, and no half-written output file left behind."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")


def _interrupt(
    args: list[str], cwd: Path, *, started: str, delay: float = 0.3
) -> tuple[int | None, str]:
    """Run ``auditkit ARGS`` on a terminal, press Ctrl-C ``delay`` seconds after
    ``started`` is shown."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    env.pop("AUDITKIT_DEBUG", None)
    child = pexpect.spawn(
        sys.executable, ["-m", "auditkit.cli", *args], cwd=str(cwd), env=env,
        encoding="utf-8", codec_errors="replace", timeout=120, dimensions=(40, 100),
    )  # fmt: skip
    child.expect(started)
    time.sleep(delay)
    child.sendintr()
    output = child.read()
    child.close()
    return child.exitstatus, output


def test_ctrl_c_in_sample_leaves_no_partial_file(tmp_path: Path) -> None:
    code, output = _interrupt(
        ["sample", "-o", "out/events.ndjson", "--events", "3000000"], tmp_path, started="sample:"
    )
    assert code == 130, output
    assert "interrupted" in output and "Traceback" not in output
    assert list((tmp_path / "out").iterdir()) == []


def test_ctrl_c_in_query_leaves_no_partial_file(tmp_path: Path) -> None:
    from tests.cli.conftest import build_store

    db = build_store(tmp_path / "s", events=3000)
    # 9 million rows: the CSV is being written for several seconds when Ctrl-C comes
    sql = "SELECT a.* FROM events a CROSS JOIN events b"
    out = tmp_path / "out"
    out.mkdir()
    code, output = _interrupt(
        ["query", db, sql, "-o", "out/big.csv"], tmp_path, started="verify", delay=3
    )
    assert code == 130, output
    assert "Traceback" not in output
    assert list(out.iterdir()) == []
