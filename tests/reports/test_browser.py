"""The HTML report in headless Chromium: charts drawn, nothing fetched, prints to PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditkit.frame import events_to_frame
from auditkit.reports import assemble_report, build_report_from_frame
from auditkit.reports.render_pdf import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.browser


def _browser_or_skip() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found (/usr/bin/chromium): apt-get install chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed")
    assert path is not None
    return path


def test_html_renders_offline_with_charts_and_prints(sample_inputs: Any, tmp_path: Path) -> None:
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    report = assemble_report(sample_inputs, framework="pci-dss")
    page_file = report.write(tmp_path / "report.html")
    charts = sum(len(s.charts) for s in report.sections)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="networkidle")
            assert page.locator("figure.chart svg").count() == charts >= 6
            assert (
                page.locator(
                    "figure.chart svg .mark-rect, figure.chart svg .mark-line, "
                    "figure.chart svg path"
                ).count()
                > 20
            )
            box = page.locator("#chart-coverage-coverage svg").bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100
            assert page.locator("article.control").count() == len(report.controls)
            assert page.title().startswith("PCI DSS v4.0")
            pdf = page.pdf(format="A4", print_background=True)
        finally:
            browser.close()
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), requests
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000


def test_pdf_format(tmp_path: Path) -> None:
    _browser_or_skip()
    from tests.reports.test_crafted import traffic

    report = build_report_from_frame(events_to_frame(traffic(days=3)), framework="gdpr")
    out = report.write(tmp_path / "report.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000


def test_pdf_from_the_command_line(tmp_path: Path) -> None:
    """`auditkit report -o FILE.pdf` works after the README's install (`make setup`)."""
    _browser_or_skip()
    from auditkit.cli import main
    from auditkit.store import Store
    from tests.reports.test_crafted import traffic

    store = Store.init(str(tmp_path / "audit.db"))
    store.append(traffic(days=3))
    out = tmp_path / "q1.pdf"
    argv = ["report", str(tmp_path / "audit.db"), "--framework", "pci-dss", "-o", str(out)]
    assert main([*argv, "--period", "2026-03-02..2026-03-04"]) == 0
    assert out.read_bytes().startswith(b"%PDF") and out.stat().st_size > 50_000
