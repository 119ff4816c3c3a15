"""PDF printed from the self-contained HTML.

WeasyPrint is used when it imports and works; otherwise headless Chromium driven by
Playwright (``/usr/bin/chromium`` or ``$AUDITKIT_CHROMIUM``).  Chromium runs with
networking off: the HTML needs none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

from auditkit.errors import AuditkitError, UsageError
from auditkit.reports.model import Report

__all__ = ["CHROMIUM_ARGS", "chromium_path", "html_to_pdf", "render_pdf"]

#: Flags for headless Chromium: no sandbox (containers), no GPU, no background traffic.
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
)
_CANDIDATES: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """The Chromium executable to print with (``$AUDITKIT_CHROMIUM`` first), or ``None``.

    Examples
    --------
    >>> p = chromium_path()
    >>> p is None or os.path.isfile(p)
    True
    """
    env = os.environ.get("AUDITKIT_CHROMIUM")
    if env:
        return env if os.path.isfile(env) else None
    if os.path.isfile("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _weasyprint(html: bytes) -> bytes | None:
    try:
        import weasyprint
    except Exception:  # not installed, or its system libraries are missing
        return None
    try:
        out = weasyprint.HTML(string=html.decode("utf-8")).write_pdf()
    except Exception:
        return None
    return bytes(out) if out else None


def _chromium(html: bytes, executable: str) -> bytes:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise UsageError(
            "PDF output needs WeasyPrint, or Playwright with Chromium: "
            "pip install weasyprint (or playwright)"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="auditkit-pdf-") as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_bytes(html)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
                )
                try:
                    page = browser.new_page()
                    page.route(
                        "**/*",
                        lambda route: (
                            route.continue_()
                            if route.request.url.startswith(("file:", "data:"))
                            else route.abort()
                        ),
                    )
                    page.goto(page_file.as_uri(), wait_until="load")
                    pdf = page.pdf(
                        format="A4",
                        print_background=True,
                        margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"},
                    )
                finally:
                    browser.close()
        except PlaywrightError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise AuditkitError(f"PDF: Chromium at {executable} failed: {first}") from exc
    return bytes(pdf)


def html_to_pdf(html: bytes) -> bytes:
    """Print an HTML page to PDF (WeasyPrint, else headless Chromium).

    Raises
    ------
    UsageError
        When neither WeasyPrint nor Chromium with Playwright is available, saying how
        to get one.

    Examples
    --------
    >>> "--disable-background-networking" in CHROMIUM_ARGS
    True
    >>> html_to_pdf(b"<p>evidence</p>")[:5]  # doctest: +SKIP
    b'%PDF-'
    """
    out = _weasyprint(html)
    if out is not None:
        return out
    executable = chromium_path()
    if executable is None:
        raise UsageError(
            "PDF output needs WeasyPrint or Chromium: pip install weasyprint, or "
            "install Chromium (apt-get install chromium) and playwright, or set "
            "AUDITKIT_CHROMIUM to a Chromium executable"
        )
    return _chromium(html, executable)


def render_pdf(report: Report, **options: Any) -> bytes:
    """The report as PDF, printed from its HTML.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports import build_report_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> report = build_report_from_frame(df, framework="soc2")
    >>> report.framework
    'soc2'
    >>> render_pdf(report, charts=False)[:5]  # doctest: +SKIP
    b'%PDF-'

    """
    from auditkit.reports.render_html import render_html

    return html_to_pdf(render_html(report, **options))
