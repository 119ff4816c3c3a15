"""The architecture as contracts: the import graph (layers, no cycle between modules,
private modules private) and one door to the data (only ``auditkit/store`` touches the
database)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "auditkit"

#: Modules that speak to a database directly.  Only the store may import them.
DATABASE_MODULES = ("sqlite3", "sqlalchemy", "sqlmodel", "psycopg", "psycopg2", "adbc_driver")
#: The store's internals: its backend (connections, SQL) and its reader.
STORE_INTERNALS = ("backend", "_backend", "_reader", "_query")


def _outside_the_store() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if p.relative_to(PACKAGE).parts[0] != "store"]


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module.startswith("auditkit.store"):
                names += [f"auditkit.store.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] in DATABASE_MODULES or name.startswith("adbc_driver"):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {name}")
            if name.startswith("auditkit.store.") and name.split(".")[2].startswith("_"):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {name}")
        if isinstance(node, ast.Attribute) and node.attr in STORE_INTERNALS:
            found.append(
                f"{path.relative_to(PACKAGE.parent)}:{node.lineno} reaches into .{node.attr}"
            )
    return found


def test_no_module_outside_the_store_touches_the_database() -> None:
    problems = [v for p in _outside_the_store() for v in _violations(p)]
    assert not problems, "only auditkit/store may touch the database:\n" + "\n".join(problems)


def test_the_scan_itself_finds_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sqlite3\nfrom auditkit.store._reader import Filter\n"
        "def f(store):\n    return store.backend.read('SELECT 1')\n"
    )
    bad = bad.rename(PACKAGE.parent / "tests" / f"_arch_probe_{tmp_path.name}.py")
    try:
        found = _violations(bad)
    finally:
        bad.unlink()
    assert len(found) == 3, found


@pytest.mark.skipif(
    shutil.which("lint-imports", path=str(Path(sys.executable).parent)) is None,
    reason="import-linter is not installed (pip install -e '.[dev]')",
)
def test_the_import_contracts_are_kept() -> None:
    """The contracts in pyproject.toml: layers, integrity alone, no cycle between any two
    modules, private modules private."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    done = subprocess.run(
        [str(exe), "--no-cache"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout
