"""The core install is enough for the main job: without the optional packages
(notebook, PostgreSQL, PDF, API), a store is made, filled, verified, analysed and
reported on, and the optional features say which extra they need."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    OPTIONAL = ("ipywidgets", "jupyterlab", "ipykernel", "psycopg", "adbc_driver_postgresql",
                "weasyprint", "playwright", "fastapi", "uvicorn", "anywidget", "itables")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in OPTIONAL:
                raise ImportError(f"No module named {name!r} (blocked: not in the core install)")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _run(code: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(tmp)},
        timeout=600,
    )


def test_the_main_job_needs_only_the_core_install(tmp_path: Path) -> None:
    done = _run(
        """
        from auditkit.cli import main
        steps = [
            ["sample", "-o", "s.ndjson", "--events", "3000", "--tenants", "2"],
            ["init", "a.db"],
            ["ingest", "a.db", "s.ndjson", "--no-progress"],
            ["verify", "a.db"],
            ["detect", "a.db"],
            ["report", "a.db", "--framework", "soc2", "-o", "r.html"],
            ["export", "a.db", "--format", "csv", "-o", "e.csv"],
        ]
        for argv in steps:
            code = main(argv)
            assert code == 0, (argv, code)
        print("ALL OK")
        """,
        tmp_path,
    )
    assert "ALL OK" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_optional_features_name_their_extra(tmp_path: Path) -> None:
    done = _run(
        """
        from auditkit.cli import main
        code = main(["verify", "postgresql+psycopg://postgres@127.0.0.1:5432/test"])
        print("EXIT", code)
        try:
            import auditkit.widgets
        except ImportError as exc:
            print("WIDGETS", exc)
        """,
        tmp_path,
    )
    assert "EXIT 2" in done.stdout, done.stdout + done.stderr
    assert "pip install 'auditkit[postgres]'" in done.stderr
    assert "pip install 'auditkit[notebook]'" in done.stdout
