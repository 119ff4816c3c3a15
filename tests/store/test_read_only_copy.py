"""An auditor's read-only copy of the evidence: the store file and its folder cannot be
written by the reader.  A store in WAL mode needs its ``-shm`` file even to be read;
every read command must still work, and a write be refused in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditkit.store import Store
from tests.conftest import make_events

NOBODY = 65534


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            sys.executable,
            "-m",
            "auditkit",
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": "/tmp"},
    )


@pytest.fixture
def read_only_copy() -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to read as another user (the file's owner may write)")
    folder = Path(tempfile.mkdtemp(prefix="auditkit-ro-"))
    try:
        store = Store.init(str(folder / "evidence.db"))
        store.append(make_events(40) + make_events(10, "globex"))
        store.close()
        probe = _as_nobody("--version")
        if probe.returncode != 0:
            pytest.skip(f"another user cannot run this Python: {probe.stderr.strip()[:200]}")
        for p in folder.iterdir():
            p.chmod(0o444)
        folder.chmod(0o555)
        yield folder / "evidence.db"
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


def test_every_read_works_on_a_copy_nobody_may_write(read_only_copy: Path, tmp_path: Path) -> None:
    db = str(read_only_copy)
    out = Path(tempfile.mkdtemp(prefix="auditkit-ro-out-"))
    out.chmod(0o777)
    try:
        verify = _as_nobody("verify", db)
        assert verify.returncode == 0 and "INTACT: 50 events" in verify.stdout, verify.stderr
        for argv in (
            ("detect", db),
            ("query", db, "SELECT count(*) AS n FROM events"),
            ("export", db, "--format", "csv", "-o", str(out / "e.csv")),
            ("report", db, "--framework", "soc2", "--period", "all", "-o", str(out / "r.html")),
        ):
            done = _as_nobody(*argv)
            assert done.returncode == 0, (argv, done.stderr)
        assert "50" in _as_nobody("query", db, "SELECT count(*) AS n FROM events").stdout
        # a write is refused, in one line, and changes nothing
        src = out / "more.ndjson"
        src.write_text("")
        refused = _as_nobody("ingest", db, str(src), "--no-progress")
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert Store.open(db).count() == 50
