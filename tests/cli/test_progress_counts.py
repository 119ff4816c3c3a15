"""A progress bar counts whole items: ``10 records``, never ``0.00 records`` nor
``10.0 records`` (tqdm's SI scaling writes decimals below a thousand)."""

from __future__ import annotations

import argparse
import io
import re
import sys
import time
from pathlib import Path

import orjson
import pytest

from auditkit.commands import base
from tests.cli._terminal import run_in_terminal
from tests.conftest import make_events

#: a count with a decimal point before the unit (a rate, ``.../s``, may have one)
FRACTIONAL = re.compile(r"\b\d+\.\d+[kMG]? (records|events)(?!/s)")


@pytest.mark.parametrize("total", [None, 2500])
def test_the_bar_shows_whole_counts(monkeypatch: pytest.MonkeyPatch, total: int | None) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(base, "_stderr_is_terminal", lambda: True)
    args = argparse.Namespace(no_progress=False)
    with base.progress_bar(args, desc="ingest", unit="records", total=total) as tick:
        assert tick is not None
        time.sleep(0.3)  # (the bar redraws at most every 0.2 s)
        tick(10)
        time.sleep(0.3)
        tick(1990)
    shown = err.getvalue()
    assert "ingest:" in shown and " records" in shown, shown
    assert not FRACTIONAL.search(shown), shown
    counts = "10/2500" if total else "10 records"
    assert counts in shown and ("2000/2500" if total else "2000 records") in shown, shown


def test_ingest_on_a_terminal_counts_whole_records(tmp_path: Path) -> None:
    src = tmp_path / "in.ndjson"
    src.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in make_events(40)))
    assert run_in_terminal("init", "audit.db", cwd=tmp_path).exit_code == 0
    run = run_in_terminal("ingest", "audit.db", "in.ndjson", cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert "ingest:" in run.output and " records" in run.output
    assert not FRACTIONAL.search(run.output), run.output
