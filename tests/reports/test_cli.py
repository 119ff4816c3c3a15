"""``auditkit report`` through ``auditkit.cli.main``: formats, scope, errors, exit codes."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.cli import main
from auditkit.store import Store
from tests.conftest import make_events


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("cli") / "audit.db")
    Store.init(path).append(make_events(80) + make_events(20, "globex"))
    return path


@pytest.mark.parametrize(
    "suffix,check",
    [
        (".md", lambda b: b.startswith(b"# SOC 2")),
        (".json", lambda b: orjson.loads(b)["framework"]["id"] == "soc2"),
        (".csv", lambda b: b.startswith(b"framework,control")),
        (".html", lambda b: b.startswith(b"<!DOCTYPE html>") and b.count(b"<svg ") >= 3),
    ],
)
def test_report_writes_each_format(
    store_path: str, tmp_path: Path, capsys: Any, suffix: str, check: Any
) -> None:
    out = tmp_path / f"r{suffix}"
    code = main(
        [
            "report",
            store_path,
            "--framework",
            "soc2",
            "--tenant",
            "acme",
            "--period",
            "2026-01-01..2026-03-31",
            "-o",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert check(out.read_bytes())
    assert f"wrote {suffix.strip('.')} report" in capsys.readouterr().out


def test_report_to_stdout_and_bundle(store_path: str, tmp_path: Path, capsys: Any) -> None:
    assert main(["report", store_path, "--framework", "nist", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["control"] for r in rows][:2] == ["AU-2", "AU-3"]
    assert rows[0]["tenants"] == "acme globex"
    zipped = tmp_path / "b.zip"
    assert (
        main(["report", store_path, "--framework", "gdpr", "--tenant", "globex", "-o", str(zipped)])
        == 0
    )
    capsys.readouterr()
    # The bundle's own key proves nothing about who signed it: unanchored, exit 3.
    assert main(["report", "verify", str(zipped)]) == 3
    assert capsys.readouterr().out.startswith("UNANCHORED")
    assert main(["report", "verify", str(zipped), "--store", store_path]) == 0
    assert "INTACT" in capsys.readouterr().out


def test_fail_on(store_path: str, tmp_path: Path, capsys: Any) -> None:
    args = [
        "report",
        store_path,
        "--framework",
        "pci-dss",
        "--tenant",
        "acme",
        "-o",
        str(tmp_path / "r.json"),
    ]
    assert main(args) == 0
    doc = orjson.loads((tmp_path / "r.json").read_bytes())
    # the factory's events create no account: 10.2.1.5 fails; nobody recorded a review:
    # 10.4.1 fails; its history is one day old
    assert [c["id"] for c in doc["controls"] if c["status"] == "fail"] == ["10.2.1.5", "10.4.1"]
    assert main([*args, "--fail-on", "fail"]) == 1
    assert main([*args, "--fail-on", "needs_review"]) == 1
    assert (
        main(
            [
                "report",
                store_path,
                "--framework",
                "pci-dss",
                "--tenant",
                "acme",
                "--format",
                "json",
                "--fail-on",
                "fail",
            ]
        )
        == 1
    )
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["report"], "expected STORE"),
        (["report", "STORE"], "--framework is required"),
        (["report", "{store}", "--framework", "sox"], "unknown framework 'sox'"),
        (
            ["report", "{store}", "--framework", "soc2", "--tenant", "nobody"],
            "unknown tenant 'nobody'",
        ),
        (["report", "{store}", "--framework", "soc2", "--period", "Q1"], "period: expected"),
        (["report", "{store}", "--framework", "soc2", "--format", "pdf"], "needs -o FILE"),
        (["report", "{store}", "--framework", "soc2", "-o", "r.docx"], "cannot tell the report"),
        (["report", "/nonexistent/a.db", "--framework", "soc2"], "no store here"),
        (["report", "{store}", "extra", "--framework", "soc2"], "unexpected argument 'extra'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    store_path: str, capsys: Any, argv: list[str], message: str
) -> None:
    argv = [a.replace("{store}", store_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_list_and_help(capsys: Any) -> None:
    assert main(["report", "--list"]) == 0
    out = capsys.readouterr().out
    assert "pci-dss" in out and "10.5.1" in out and "AU-12" in out
    assert main(["report", "--help"]) == 0
    out = capsys.readouterr().out
    assert "auditkit report verify BUNDLE" in out and "exit codes" in out
