"""The documented command lines run as written, on the shipped example inputs.

Every ``sh`` block that follows the marker ``<!-- tested: tests/cli/test_examples.py -->``
in README.md or examples/README.md is run line by line, in a scratch folder that
sees the repository's ``examples/``, and each line must exit 0.
"""

from __future__ import annotations

import csv
import glob
import json
import re
import shlex
from pathlib import Path

import pytest

from auditkit.cli import main
from auditkit.store import Store

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- tested: tests/cli/test_examples.py -->"


def _marked_blocks() -> list[tuple[str, list[str]]]:
    """``(document, command lines)`` of every marked block."""
    out = []
    for doc in (ROOT / "README.md", ROOT / "examples" / "README.md"):
        text = doc.read_text() if doc.is_file() else ""
        for m in re.finditer(re.escape(MARKER) + r"\s*```sh\n(.*?)```", text, re.S):
            lines = [ln for ln in m.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
            out.append((doc.name, lines))
    return out


def _rows(path: str) -> list[dict[str, str]]:
    return list(csv.DictReader(Path(path).read_text().splitlines()))


def _argv(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    assert words[0] == "auditkit", line
    expanded: list[str] = []
    for w in words[1:]:  # as the shell would expand a glob
        matches = sorted(glob.glob(w)) if any(c in w for c in "*?[") else []
        expanded += matches or [w]
    return expanded


def test_there_is_a_tested_block() -> None:
    assert _marked_blocks(), "no command-line block is marked as tested"


@pytest.mark.parametrize(("doc", "lines"), _marked_blocks(), ids=lambda v: str(v)[:20])
def test_the_block_runs_as_written(
    doc: str,
    lines: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    for line in lines:
        code = main(_argv(line))
        captured = capsys.readouterr()
        assert code == 0, f"{doc}: `{line}` exited {code}: {captured.err}"
        assert "Traceback" not in captured.err


def _python_blocks() -> list[tuple[str, str]]:
    """``(document, code)`` of every marked Python block."""
    out = []
    for doc in (ROOT / "README.md", ROOT / "examples" / "README.md"):
        text = doc.read_text() if doc.is_file() else ""
        for m in re.finditer(re.escape(MARKER) + r"\s*```python\n(.*?)```", text, re.S):
            out.append((doc.name, m.group(1)))
    return out


def test_there_is_a_tested_python_block() -> None:
    assert _python_blocks(), "no Python block is marked as tested"


@pytest.mark.parametrize(("doc", "code"), _python_blocks(), ids=lambda v: str(v)[:20])
def test_the_python_block_runs_as_written(
    doc: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pasted into a Python session as it stands: the checkpoint file was read before it
    was written, and ``for chunk in store.scan(...)`` iterated a LazyFrame."""
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{doc} (python block)", "exec"), {"__name__": "__readme__"})
    assert Path("soc2.html").stat().st_size > 0 and Path("cp.json").is_file()


def test_the_examples_tell_their_story(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What examples/README.md says to expect."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    lines = dict(_marked_blocks())["README.md"]
    for line in lines[:4]:
        assert main(_argv(line)) == 0
    out = capsys.readouterr().out
    assert out.count("quarantined 0") == 3
    store = Store.open("audit.db")
    assert store.count() == 33 and store.tenants() == ["111122223333", "acme"]
    assert main(["detect", "audit.db", "--min-severity", "high", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["findings"]
    assert sorted(f["detector"] for f in found) == [
        "audit_tampering",
        "break_glass",
        "brute_force_success",
        "mfa_disabled",
    ]
    sql = "SELECT occurred_at, description FROM events WHERE source_ip = '203.0.113.45'"
    assert main(["query", "audit.db", sql, "-o", "attacker.csv"]) == 0
    assert len(_rows("attacker.csv")) == 14
    assert main(["query", "audit.db", "SELECT description FROM events", "-o", "all.csv"]) == 0
    cells = [r["description"] for r in _rows("all.csv")]
    assert '\'=HYPERLINK("http://203.0.113.45/x","SSO enforced")' in cells
