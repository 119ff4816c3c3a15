"""One meaning everywhere: tenants, times and verdicts mean the same in every command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditkit.cli import main


def _tenant_commands(store: str, out: Path) -> list[list[str]]:
    return [
        ["verify", store],
        ["detect", store],
        ["query", store, "SELECT COUNT(*) AS n FROM events"],
        ["proof", store, "--seq", "0"],
        ["export", store, "-o", str(out / "x.csv")],
        ["report", store, "--framework", "soc2", "-o", str(out / "r.html")],
    ]


@pytest.mark.parametrize("index", range(6))
def test_an_unknown_tenant_is_an_error_that_names_no_other_tenant(
    index: int, sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = _tenant_commands(sample_store, tmp_path)[index]
    assert main([*argv, "--tenant", "ghost"]) == 2, argv
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'ghost'" in err, err
    assert not any(t in err for t in ("acme", "globex", "initech")), err
    assert main([*argv, "--tenant", "globex"]) in (0, 1), argv  # a known one works


@pytest.mark.parametrize(
    "argv",
    [
        ["detect", "{db}"],
        ["query", "{db}", "SELECT COUNT(*) FROM events"],
        ["export", "{db}", "-o", "{out}/x.csv"],
    ],
)
def test_times_mean_the_same_everywhere(
    argv: list[str], sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(db=sample_store, out=tmp_path) for a in argv]
    for since in (
        "30d",
        "12h",
        "12mo",
        "1y",
        "2026-01-06",
        "2026-01-06T10:00:00+02:00",
        "yesterday",
    ):
        assert main([*argv, "--since", since]) == 0, (argv, since, capsys.readouterr().err)
    assert main([*argv, "--since", "2026-01-06", "--until", "7d"]) == 0
    capsys.readouterr()
    assert main([*argv, "--since", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert "--since" in err or "expected an RFC 3339 time" in err, err


def test_until_before_since_is_a_usage_error(
    sample_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for cmd in (["detect", sample_store], ["query", sample_store, "SELECT 1 FROM events"]):
        assert main([*cmd, "--since", "2026-01-08", "--until", "2026-01-07"]) == 2
        assert "is not after --since" in capsys.readouterr().err


def test_verify_exit_codes_say_what_is_anchored(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a copy of the store without its key files: nothing outside the database vouches
    copy = tmp_path / "copy.db"
    shutil.copy(sample_store, copy)
    assert main(["verify", str(copy)]) == 3
    assert capsys.readouterr().out.startswith("UNANCHORED")
    assert main(["verify", str(copy), "--public-key", sample_store + ".pub"]) == 0
    assert capsys.readouterr().out.startswith("INTACT")
    assert main(["verify", sample_store]) == 0
