"""JupyterLab in a real browser: run the quickstart notebook, drive the Explorer.

Starts JupyterLab on loopback (no token, a throw-away root folder holding a copy
of the notebooks and the sample data), opens ``01_quickstart.ipynb`` in headless
Chromium through Playwright, runs all cells from the Run menu, changes the
Explorer's outcome filter, checks that the count and the table change, clicks
the NDJSON export and checks the file.  A screenshot goes to
``tests/widgets/artifacts/``.  The server is always terminated.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(settings: Path) -> None:
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
        # render every cell, so that widgets below the fold exist in the page
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
            {"windowingMode": "none"},
    }  # fmt: skip
    for name, value in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A running JupyterLab: (base URL, its root folder)."""
    root = tmp_path / "root"
    (root / "notebooks").mkdir(parents=True)
    (root / "sample_data").mkdir()
    shutil.copy(ROOT / "notebooks" / "01_quickstart.ipynb", root / "notebooks")
    shutil.copy(ROOT / "sample_data" / "events.ndjson.gz", root / "sample_data")
    _settings(tmp_path / "settings")
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = (tmp_path / "lab.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--allow-root",
            "--no-browser",
            "--ServerApp.token=",
            "--ServerApp.password=",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "JupyterLab did not start:\n"
                    + (tmp_path / "lab.log").read_text(errors="replace")[-3000:]
                )
            time.sleep(0.3)
        yield url, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _kernel_idle(url: str, notebook: str, timeout: float = 60) -> None:
    """Wait until the server has an idle kernel for ``notebook``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/sessions", timeout=5) as resp:
            sessions = json.load(resp)
        if any(
            s["path"].endswith(notebook)
            and s.get("kernel")
            and s["kernel"].get("execution_state") == "idle"
            for s in sessions
        ):
            return
        time.sleep(0.5)
    pytest.fail(f"no idle kernel for {notebook} after {timeout} s")


def _run_all(page: Any) -> None:
    """Run All Cells from the Run menu; again if the kernel was not connected yet."""
    from playwright.sync_api import expect

    running = page.locator(".jp-InputPrompt", has_text="[*]")
    for _attempt in range(4):
        dialog = page.get_by_role("dialog").get_by_role("button", name="Select", exact=True)
        if dialog.count():
            dialog.click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            expect(running.first).to_be_attached(timeout=15_000)
            return
        except AssertionError:
            continue
    pytest.fail("Run All Cells did not start the notebook")


def _count(text: str) -> int:
    m = re.search(r"([\d,]+)\s+of\s+[\d,]+\s+events", text)
    assert m, text
    return int(m[1].replace(",", ""))


def test_quickstart_explorer_in_jupyterlab(lab: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, root = lab
    events = pl.read_ndjson(
        io.BytesIO(gzip.decompress((root / "sample_data" / "events.ndjson.gz").read_bytes()))
    )
    acme_logins = events.filter(
        (pl.col("tenant_id") == "acme") & (pl.col("action") == "user.login")
    )
    failed = acme_logins.filter(pl.col("outcome") == "failure").height
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{url}/lab/tree/notebooks/01_quickstart.ipynb?reset")
            page.locator(".jp-NotebookPanel").first.wait_for()
            _kernel_idle(url, "01_quickstart.ipynb")
            _run_all(page)

            explorer = page.locator(".auditkit-explorer").first
            explorer.wait_for(state="attached", timeout=60_000)
            explorer.scroll_into_view_if_needed()
            count = explorer.locator(".widget-html", has_text=" events · ").first
            # the notebook's next cell sets acme / failure / user.login
            expect(count).to_contain_text(f"{failed:,} of {events.height:,}", timeout=120_000)
            table = explorer.locator(".widget-html", has=page.locator("table.ak-t")).first
            before = table.inner_html()
            assert "failure" in before

            outcome = explorer.get_by_label("Outcome", exact=True)
            outcome.select_option(label="any outcome")
            expect(count).to_contain_text(f"{acme_logins.height:,} of {events.height:,}")
            assert _count(count.inner_text()) == acme_logins.height
            expect(table).not_to_have_text(re.compile("^" + re.escape(table.inner_text()) + "$"))
            assert table.inner_html() != before

            explorer.get_by_role("button", name="NDJSON").click()
            status = explorer.locator(".widget-html", has_text="Wrote").first
            expect(status).to_contain_text(f"Wrote {acme_logins.height:,} events")
            expect(status.locator("a[download='auditkit-export.ndjson']")).to_be_attached()
            chart = explorer.locator(".widget-html", has_text="Events per").first
            chart.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "lab-explorer.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "lab-failure.png"))
            raise
        finally:
            browser.close()
    exported = root / "notebooks" / "auditkit-export.ndjson"
    assert exported.exists()
    rows = [json.loads(line) for line in exported.read_bytes().splitlines()]
    assert len(rows) == acme_logins.height
    assert {(r["tenant_id"], r["action"]) for r in rows} == {("acme", "user.login")}
    assert sorted(r["event_id"] for r in rows) == sorted(acme_logins["event_id"].to_list())
