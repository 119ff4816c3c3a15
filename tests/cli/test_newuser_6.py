"""A new user at a terminal, every command but ingest: a checkpoint file refreshed in
place, ``-o`` naming a device, numbers too large for anything, negative ages, days the
calendar does not have, a report period in the future, an empty STORE, a file that is
no bundle, two proofs asked at once, a sample that would end in the future, server and
stream options out of range, and empty access lists."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auditkit.cli import main
from tests.cli._terminal import run_in_terminal

HUGE = "99999999999999999999"


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpected error" not in err, err
    return err


def test_checkpoint_o_replaces_the_file_it_wrote_before(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cron job runs ``auditkit checkpoint audit.db -o cp.json`` every night: the file
    quotes the public key inside JSON, which is no PEM key file to protect."""
    out = str(tmp_path / "cp.json")
    assert main(["checkpoint", sample_store, "-o", out]) == 0
    assert main(["checkpoint", sample_store, "-o", out]) == 0, _err(capsys)
    assert main(["verify", sample_store, "--checkpoint", out, "--no-remember"]) == 0
    # a real key file is still never written over
    assert main(["checkpoint", sample_store, "-o", sample_store + ".pub"]) == 2
    assert "holds a public key" in _err(capsys)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_an_output_that_is_a_device_is_refused_not_replaced(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-o /dev/full`` as root replaced the device node with a regular file (every output
    is written beside its target and renamed into place): /dev/null would go the same way."""
    device = tmp_path / "full"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    for argv in (
        ["export", sample_store, "--format", "csv", "-o", str(device)],
        ["checkpoint", sample_store, "-o", str(device)],
        ["query", sample_store, "SELECT 1 AS x", "--format", "csv", "-o", str(device)],
        ["sample", "-o", str(device), "--events", "10"],
    ):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert f"{device}: not a regular file" in err, err
        assert stat.S_ISCHR(device.stat().st_mode), argv


def test_numbers_too_large_for_anything_are_usage_errors(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "s.ndjson")
    for argv, option in (
        (["detect", sample_store, "--limit", HUGE, "--no-progress"], "--limit"),
        (["query", sample_store, "SELECT 1 AS x", "--limit", HUGE], "--limit"),
        (["query", sample_store, "SELECT 1 AS x", "--limit", str(2**63 - 1)], "--limit"),
        (["proof", sample_store, "--tenant", "acme", "--seq", HUGE], "--seq"),
        (["sample", "-o", out, "--tenants", "100000"], "--tenants"),
        (["sample", "-o", out, "--actors", "10000000"], "--actors"),
        (["sample", "-o", out, "--days", "36500"], "--days"),
        (["retention", sample_store, "set", "--tenant", "acme", "--hot-days", HUGE], "--hot-days"),
    ):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert option in err, (argv, err)
    assert not Path(out).exists()


def test_a_negative_age_says_how_to_write_it(
    sample_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--since -5d`` was "argument --since: expected one argument"."""
    for argv, option in (
        (["query", sample_store, "SELECT 1 AS x", "--since", "-5d"], "--since"),
        (["export", sample_store, "-o", "-", "--format", "csv", "--until", "-2w"], "--until"),
        (["report", sample_store, "--framework", "soc2", "--period", "-30d"], "--period"),
    ):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert option in err and "an age counts back from now: write" in err, err
        assert "expected one argument" not in err


def test_a_day_the_calendar_does_not_have_is_named(
    sample_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", sample_store, "SELECT 1 AS x", "--since", "2026-02-30"]) == 2
    assert "no such day: day is out of range for month" in _err(capsys)
    argv = ["report", sample_store, "--framework", "soc2", "--format", "md"]
    assert main([*argv, "--period", "2026-02-01..2026-02-30"]) == 2
    err = _err(capsys)
    assert err.startswith("auditkit: --period: ") and "no such day" in err, err


def test_a_report_period_in_the_future_is_a_usage_error(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--period 2100-01-01..2100-03-31`` (a typo of the year) wrote a report of
    nothing and exited 0; ``review`` recorded a review of days not yet lived."""
    out = tmp_path / "r.html"
    argv = ["report", sample_store, "--framework", "soc2", "-o", str(out), "--no-progress"]
    assert main([*argv, "--period", "2100-01-01..2100-03-31"]) == 2
    assert "--period 2100-01-01..2100-03-31: starts after today" in _err(capsys)
    assert not out.exists()
    review = ["review", sample_store, "--tenant", "acme", "--reviewer", "Ann"]
    assert main([*review, "--period", "2100-01-01..2100-01-02"]) == 2
    assert "starts after today" in _err(capsys)


def test_an_empty_store_argument_is_said_so(capsys: pytest.CaptureFixture[str]) -> None:
    """``auditkit verify "$STORE"`` with STORE unset said ": is a folder"."""
    for argv in (["verify", ""], ["export", "", "-o", "x.csv"], ["proof", " ", "--seq", "1"]):
        capsys.readouterr()
        assert main(argv) == 2
        err = _err(capsys)
        assert "expected a store: a SQLite file path or a postgresql:// URL" in err, err


def test_report_verify_of_a_file_that_is_no_zip_is_an_input_error(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Handing ``report verify`` a proof file said TAMPERED (exit 1) with an empty title,
    where ``proof verify`` of a non-proof exits 2."""
    proof = tmp_path / "p.json"
    assert main(["proof", sample_store, "--tenant", "acme", "--seq", "1", "-o", str(proof)]) == 0
    capsys.readouterr()
    assert main(["report", "verify", str(proof), "--store", sample_store]) == 2
    err = _err(capsys)
    assert "p.json: not an evidence bundle (not a zip archive)" in err, err
    assert main(["report", "verify", str(tmp_path), "--store", sample_store]) == 2
    assert "is a folder" in _err(capsys)


def test_two_kinds_of_proof_at_once(sample_store: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["proof", sample_store, "--tenant", "acme", "--seq", "1", "--old-size", "3"]
    assert main(argv) == 2
    assert "give only one of --seq, --event-id or --old-size" in _err(capsys)
    argv = ["proof", sample_store, "--tenant", "acme", "--old-size", "10", "--new-size", "5"]
    assert main(argv) == 2
    assert "expected 0 < --old-size <= --new-size" in _err(capsys)


def test_a_sample_that_would_end_in_the_future_or_before_1970(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.ndjson"
    assert main(["sample", "-o", str(out), "--start", "2100-01-01", "--events", "10"]) == 2
    assert "reach today or later" in _err(capsys)
    assert main(["sample", "-o", str(out), "--start", "1960-01-01", "--events", "10"]) == 2
    assert "from 1970-01-02 on" in _err(capsys)
    assert not out.exists()


def test_serve_and_stream_options_out_of_range(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``serve --max-body-mb -5`` started a server that took no POST at all."""
    run = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "serve", sample_store, "--port", "0",
         "--max-body-mb", "-5"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "--max-body-mb: expected 1..4096, got -5" in run.stderr
    config = tmp_path / "stream.toml"
    config.write_text('[destinations.archive]\ntype = "folder"\npath = "outbox"\n')
    base = ["stream", sample_store, "--config", str(config), "--to", "archive", "--once"]
    for poll in ("nan", "-1", "0"):
        assert main([*base, "--poll", poll]) == 2
        assert "argument --poll: expected seconds" in _err(capsys)


def test_empty_access_lists_are_said_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "a.db")
    assert main(["init", store]) == 0
    capsys.readouterr()
    for what, said in (
        (["grants"], "no grants"),
        (["principal", "list"], "no principals"),
        (["token", "list"], "no tokens"),
    ):
        assert main(["access", store, *what]) == 0
        out, err = capsys.readouterr()
        assert out == "" and said in err, (what, out, err)
        assert main(["access", store, *what, "--json"]) == 0
        assert capsys.readouterr().out.strip() == "[]"


def test_a_negative_age_on_a_terminal_is_one_line(sample_store: str, tmp_path: Path) -> None:
    run = run_in_terminal("detect", sample_store, "--since", "-5d", cwd=tmp_path)
    assert run.exit_code == 2, run.output
    assert "Traceback" not in run.output and "usage:" not in run.output, run.output
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "write '5d'" in lines[0], run.output
