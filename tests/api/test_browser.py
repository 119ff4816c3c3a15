"""The viewer in a real browser (Debian's Chromium through Playwright) against
``auditkit serve`` running as a process: sign in, filter, page, open an event,
prove it in the page, see the proof fail for an edited event, export."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from auditkit.store import Store
from tests.access.strategies import TENANTS
from tests.api.conftest import Server
from tests.conftest import make_events

pytestmark = pytest.mark.browser
A = TENANTS[0]
ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS = Path(__file__).resolve().parents[2] / "docs"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def test_viewer_end_to_end(
    api_store: Store,
    serve: Callable[[Store], Server],
    browser,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    api_store.append(make_events(60, A, prefix="more", start="2026-01-06T08:00:00Z"))
    api_store.add_principal("ann")
    api_store.grant("ann", A, "auditor")
    token = api_store.create_token("ann").text
    public_pem = Path(str(api_store.key_path)[: -len(".key")] + ".pub").read_text()
    server = serve(api_store)
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(accept_downloads=True, viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server.url + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Tenant").wait_for()
    rows = page.locator("#events tbody tr")
    rows.first.wait_for()
    assert page.get_by_label("Tenant").input_value() == A
    assert rows.count() >= 12
    page.screenshot(path=str(ARTIFACTS / "viewer-signed-in.png"), full_page=True)

    # filter
    page.get_by_label("Outcome").select_option("failure")
    page.get_by_role("button", name="Apply").click()
    expect(rows.locator("td:nth-child(4)", has_text="success")).to_have_count(0)
    outcomes = rows.locator("td:nth-child(4)").all_inner_texts()
    assert outcomes and set(outcomes) == {"failure"}
    page.get_by_label("Outcome").select_option("")

    # page with the cursor
    page.get_by_label("Rows per page").select_option("25")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(25)
    first_page = rows.locator("td:nth-child(1)").all_inner_texts()
    page.get_by_role("button", name="Older ›").click()
    expect(rows.first.locator("td").first).not_to_have_text(first_page[0])
    second_page = rows.locator("td:nth-child(1)").all_inner_texts()
    assert not set(first_page) & set(second_page)
    assert int(second_page[0]) < int(first_page[-1])
    page.get_by_role("button", name="‹ Newer").click()
    expect(rows.first.locator("td").first).not_to_have_text(second_page[0])
    # the newest page again: the same events, and the reads recorded meanwhile on top
    newest = rows.locator("td:nth-child(1)").all_inner_texts()
    assert int(newest[0]) >= int(first_page[0]) and first_page[0] in newest

    # open an event with the keyboard, pin the key, verify in the browser
    target = rows.last
    target.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#record")).to_contain_text("event_id")
    page.get_by_label("Pinned public key").fill(public_pem)
    page.get_by_role("button", name="Pin this key").click()
    page.get_by_role("button", name="Verify this event").click()
    verdict = page.locator("#verdict")
    verdict.filter(has_text="Proven").wait_for()
    assert verdict.inner_text().startswith("✔ Proven")
    page.screenshot(path=str(ARTIFACTS / "viewer-proven.png"), full_page=True)
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "viewer.png"), full_page=True)

    # a proof altered on the way: the page's own check fails
    def tamper(route):  # type: ignore[no-untyped-def]
        resp = route.fetch()
        body = resp.json()
        body["proof"]["canonical"] = body["proof"]["canonical"].replace('"seq":', '"seq": ')
        route.fulfill(response=resp, json=body)

    page.route("**/v1/tenants/*/events/*", tamper)
    with page.expect_response("**/v1/tenants/*/events/*"):
        target.focus()
        page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_have_text("")
    page.get_by_role("button", name="Verify this event").click()
    verdict.filter(has_text="Not proven").wait_for()
    page.unroute("**/v1/tenants/*/events/*")

    # export (the auditor may)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export csv").click()
    saved = tmp_path / "export.csv"
    dl.value.save_as(saved)
    assert saved.read_text().startswith("event_id,tenant_id")

    # an event edited in the database: not proven, and said plainly
    seq_text = rows.first.locator("td").first.inner_text()
    assert api_store.path is not None
    con = sqlite3.connect(api_store.path)
    con.execute("DROP TRIGGER IF EXISTS events_no_update")
    con.execute(
        "UPDATE events SET description = 'edited' WHERE tenant_id = ? AND seq = ?",
        (A, int(seq_text)),
    )
    con.commit()
    con.close()
    rows.first.click()
    verdict.filter(has_text="Not proven").wait_for()
    assert "✘ Not proven" in verdict.inner_text()
    page.screenshot(path=str(ARTIFACTS / "viewer-tampered.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e]


def test_viewer_hides_export_for_viewer_role(
    api_store: Store,
    serve: Callable[[Store], Server],
    browser,  # type: ignore[no-untyped-def]
) -> None:
    api_store.add_principal("vic")
    api_store.grant("vic", A, "viewer")
    token = api_store.create_token("vic").text
    server = serve(api_store)
    page = browser.new_page()
    page.goto(server.url + "/")
    page.get_by_label("API token").fill(token)
    page.keyboard.press("Enter")
    page.locator("#events tbody tr").first.wait_for()
    assert page.locator("#exports").is_hidden()
    assert "redacted" in page.locator("#status").inner_text()
    for control in page.locator("input, select, textarea").all():
        cid = control.get_attribute("id")
        assert cid and page.locator(f"label[for='{cid}']").count() == 1, cid


def test_viewer_pins_the_key_from_a_checkpoint_file_and_says_plainly_what_it_cannot_pin(
    api_store: Store,
    serve: Callable[[Store], Server],
    browser,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    # docs/api.md: the pin takes "the .pub file, or `auditkit checkpoint`'s output";
    # the output (JSON, its PEM with escaped newlines) failed with the browser's own
    # "Failed to execute 'atob'" message
    from auditkit.cli import main

    cp = tmp_path / "cp.json"
    assert main(["checkpoint", api_store.location, "-o", str(cp)]) == 0
    api_store.add_principal("ann")
    api_store.grant("ann", A, "auditor")
    token = api_store.create_token("ann").text
    server = serve(api_store)
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server.url + "/")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    rows = page.locator("#events tbody tr")
    rows.first.wait_for()
    rows.last.click()
    expect(page.locator("#record")).to_contain_text("event_id")
    pinned = page.locator("#pinned-id")
    verdict = page.locator("#verdict")
    key_box = page.get_by_label("Pinned public key")
    pin = page.get_by_role("button", name="Pin this key")
    verify = page.get_by_role("button", name="Verify this event")

    key_box.fill(cp.read_text())
    pin.click()
    expect(pinned).to_have_text(re.compile(r"^Pinned key id: [0-9a-f]{16}$"))
    assert key_box.input_value().startswith("-----BEGIN PUBLIC KEY-----\n")  # what was pinned
    verify.click()
    verdict.filter(has_text="Proven").wait_for()
    assert verdict.inner_text().startswith("✔ Proven")
    # pinned for the next visit too (local storage holds the PEM)
    page.reload()
    rows.first.wait_for()
    expect(pinned).to_have_text(re.compile(r"^Pinned key id: [0-9a-f]{16}$"))

    rows.last.click()
    expect(page.locator("#record")).to_contain_text("event_id")
    doc = json.loads(cp.read_text())
    broken_pem = doc["public_key"].replace("MCow", "MC*w")
    for pasted, said in [
        ("hello", "Not pinned: this is not a PEM public key: paste the store's public key"),
        ('{"format": "auditkit-checkpoints/1"', "Not pinned: this looks like JSON but does not"),
        ('{"checkpoints": []}', 'Not pinned: this JSON has no "public_key"'),
        (broken_pem, "Not pinned: the text between the BEGIN and END lines is damaged"),
        (json.dumps({**doc, "key_id": "00" * 32}), "Not pinned: the checkpoint file's key_id"),
    ]:
        key_box.fill(pasted)
        pin.click()
        expect(pinned).to_contain_text(said)
        verify.click()
        expect(verdict).to_have_text(
            "✘ Not proven: no public key is pinned: paste the store's public key and pin it"
        )
        assert "atob" not in pinned.inner_text() + verdict.inner_text()
    # the .pub file as it is, and one line of the checkpoint file, pin too
    for pasted in (doc["public_key"], f'"public_key": {json.dumps(doc["public_key"])},'):
        key_box.fill(pasted)
        pin.click()
        expect(pinned).to_have_text(re.compile(r"^Pinned key id: [0-9a-f]{16}$"))
    # no console error on the way (a page load asked for /favicon.ico: a 404)
    assert errors == [], errors
