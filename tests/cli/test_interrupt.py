"""Ctrl-C half-way through a command that writes a file, on a real terminal: exit 130,
one line, no traceback, and no half-written output file left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")


def _interrupt(
    args: list[str], cwd: Path, *, started: str, delay: float = 0.3, terminate: bool = False
) -> tuple[int | None, str]:
    """Run ``auditkit ARGS`` on a terminal, press Ctrl-C ``delay`` seconds after
    ``started`` is shown (or send SIGTERM, as ``kill`` or ``docker stop`` do)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    env.pop("AUDITKIT_DEBUG", None)
    child = pexpect.spawn(
        sys.executable, ["-m", "auditkit.cli", *args], cwd=str(cwd), env=env,
        encoding="utf-8", codec_errors="replace", timeout=120, dimensions=(40, 100),
    )  # fmt: skip
    child.expect(started)
    time.sleep(delay)
    child.kill(signal.SIGTERM) if terminate else child.sendintr()
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


def test_sigterm_is_an_interrupt_exit_143_no_partial_file(tmp_path: Path) -> None:
    """SIGTERM killed the process at once: worker processes and half-written files were
    left behind.  It now gets the clean-up Ctrl-C gets, and exit 143 (128 + 15)."""
    code, output = _interrupt(
        ["sample", "-o", "out/events.ndjson", "--events", "3000000"], tmp_path,
        started="sample:", terminate=True,
    )  # fmt: skip
    assert code == 143, output
    assert "auditkit: terminated" in output and "Traceback" not in output
    assert list((tmp_path / "out").iterdir()) == []


def test_sigterm_while_ingesting_leaves_the_store_intact(tmp_path: Path) -> None:
    """An ingest reading standard input (a pipe still open), stopped by SIGTERM: one
    line, exit 143, no warning of leaked resources, and the store verifies."""
    from tests.cli.conftest import build_store

    db = build_store(tmp_path / "s", events=300)
    env = {k: v for k, v in os.environ.items() if k != "AUDITKIT_DEBUG"}
    child = subprocess.Popen(
        [sys.executable, "-m", "auditkit.cli", "ingest", db, "-", "--no-progress"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )  # fmt: skip
    assert child.stdin is not None
    line = '{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login"'
    child.stdin.write(line + ', "actor": {"id": "u1"}}\n')
    child.stdin.flush()
    time.sleep(3)  # started, and waiting for more input
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 143, (out, err)
    assert err.strip() == "auditkit: terminated", err
    verified = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "verify", db], capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


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


def test_ctrl_c_in_a_parallel_ingest_of_one_large_document_stops_it(tmp_path: Path) -> None:
    """One ``{"Records": [...]}`` document is one worker's unit: Ctrl-C, which the
    system may hand to any of the parent's threads, did not wake its wait for that unit,
    and the whole file was stored before "interrupted" (or, exit 0, nothing said)."""
    import orjson

    example = Path(__file__).resolve().parents[2] / "examples" / "cloudtrail"
    (source,) = example.glob("*.json")
    records = orjson.loads(source.read_bytes())["Records"]
    total = 120_000
    big = [{**records[i % len(records)], "eventID": f"big-{i}"} for i in range(total)]
    (tmp_path / "big.json").write_bytes(orjson.dumps({"Records": big}))
    db = str(tmp_path / "a.db")
    subprocess.run([sys.executable, "-m", "auditkit.cli", "init", db], check=True,
                   capture_output=True)  # fmt: skip
    status, output = _interrupt(
        ["ingest", db, "big.json", "--workers", "2"], tmp_path, started="ingest", delay=1.0
    )
    assert status == 130, output
    assert "interrupted" in output and "Traceback" not in output
    from auditkit.store import Store

    store = Store.open(db)
    assert store.count() < total  # stopped, not finished first
    assert store.verify().ok
