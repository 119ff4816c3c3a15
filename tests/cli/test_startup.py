"""A quick start: ``auditkit --help`` and every command's ``--help`` import nothing
heavy, and the help texts name every registered format."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from auditkit.cli import main
from auditkit.commands.base import COMMANDS

HEAVY = ("polars", "pyarrow", "pandas", "sqlalchemy", "sqlmodel", "numpy", "altair")

_PROBE = """
import sys
from auditkit.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[0].split(",")))
print("HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


def _run(*args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.replace("sys.argv[0]", repr(",".join(HEAVY))), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    return elapsed, proc.stderr.rsplit("HEAVY:", 1)[1].strip()


@pytest.mark.parametrize("command", [None, *COMMANDS.all()])
def test_help_imports_nothing_heavy(command: str | None) -> None:
    elapsed, heavy = _run(*([command] if command else []), "--help")
    assert heavy == "", f"`auditkit {command or ''} --help` imported {heavy}"
    # generous: the target is 0.3 s (benchmarks/bench_cli.py measures it); a shared
    # machine can be slow, but seconds mean something heavy came back
    assert elapsed < 3.0


def test_import_auditkit_is_light() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import auditkit, sys; print(sorted(m for m in sys.modules "
            f"if m.split('.')[0] in {HEAVY!r}))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == "[]"


def test_help_names_every_registered_format(capsys: pytest.CaptureFixture[str]) -> None:
    from auditkit.export.formats import available_export_formats
    from auditkit.ingest.registry import available_formats
    from auditkit.reports.formats import FORMATS

    for command, names in (
        ("ingest", [n for n in available_formats() if n != "mapped"]),
        ("export", list(available_export_formats())),
        ("report", list(FORMATS)),
    ):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        missing = [n for n in names if n not in text]
        assert not missing, f"`auditkit {command} --help` does not name {missing}"
