"""Run the command line on a pseudo-terminal, as a person at a terminal does."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TerminalRun:
    """What a command did on the terminal: its exit code and everything it showed."""

    exit_code: int | None
    output: str


def run_in_terminal(*args: str, cwd: Path, timeout: float = 180, columns: int = 100) -> TerminalRun:
    """Run ``auditkit ARGS`` with stdin, stdout and stderr on one pseudo-terminal.

    Progress bars are on (stderr is a terminal, no ``--no-progress``), exactly as
    when a person types the command.
    """
    import pexpect

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    env.pop("AUDITKIT_DEBUG", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "auditkit.cli", *args],
        cwd=str(cwd),
        env=env,
        encoding="utf-8",
        codec_errors="replace",
        timeout=timeout,
        dimensions=(40, columns),
    )
    output = child.read()
    child.close()
    code = child.exitstatus if child.exitstatus is not None else child.signalstatus
    return TerminalRun(code, output)
