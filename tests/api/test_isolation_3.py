"""Tenant isolation and privacy through the API, third round: what a token of one
tenant could still learn (which tenants exist, by how long a refusal took; how many
records other tenants had refused, through a report), personal data a redacted
reader still saw, and a database password in an error's detail."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import polars as pl
import pytest

from auditkit.errors import StoreError
from auditkit.store import Store
from auditkit.store import _bound as bound_module
from tests.access.test_privacy_3 import _leaks, tricky_event
from tests.api.conftest import A, B, auth, free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SLOW = 1.5


@pytest.fixture
def live(api_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The application in a real uvicorn server (in this process), whose records of
    denials take :data:`SLOW` seconds to append."""
    import uvicorn

    from auditkit.api import create_app

    plain = bound_module.Recorder.record

    def slow(self: Any, events: list[dict[str, Any]]) -> None:
        if any(e.get("action") == "audit_log.access_denied" for e in events):
            time.sleep(SLOW)
        plain(self, events)

    monkeypatch.setattr(bound_module.Recorder, "record", slow)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(api_store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_a_refusal_on_a_tenant_that_exists_answers_as_fast_as_on_a_made_up_one(
    live: str, tokens: dict[str, str], api_store: Store
) -> None:
    """The refusal on an existing tenant is recorded in its trail, the one on a made-up
    name is not: the record used to be appended before the 403 left, so the answer
    took measurably longer and told which tenants exist."""
    h = auth(tokens["analyst"])
    with httpx.Client(base_url=live, timeout=30) as c:
        for path in (f"/v1/tenants/{B}/events", f"/v1/tenants/{B}/events/x",
                     f"/v1/tenants/{B}/export?format=csv"):  # fmt: skip
            began = time.monotonic()
            r = c.get(path, headers=h)
            took = time.monotonic() - began
            assert r.status_code == 403
            assert took < SLOW / 2, f"{path}: {took:.2f}s, the record was awaited"
    deadline = time.monotonic() + 30  # recorded all the same, after the answer
    while time.monotonic() < deadline:
        denied = api_store.load(B).filter(pl.col("action") == "audit_log.access_denied")
        if denied.height:
            break
        time.sleep(0.2)
    assert denied["actor_id"].unique().to_list() == ["p-analyst"]


def test_a_one_tenant_report_through_the_api_shows_no_other_tenants_quarantine(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    api_store.quarantine(
        [{"file": f"{B}.json", "line": n, "field": "published", "reason": "bad", "record": "{}"}
         for n in range(5)]
    )  # fmt: skip
    period = "2026-01-01.."  # to today (UTC), as the quarantine's rows
    for role in ("analyst", "auditor"):
        r = client.get(
            f"/v1/tenants/{A}/reports/pci-dss?format=json&period={period}",
            headers=auth(tokens[role]),
        )
        assert r.status_code == 200, r.text
        doc = r.json()
        (section,) = [s for s in doc["sections"] if s["id"] == "completeness"]
        assert section["facts"]["quarantined"] == "not shown for one tenant", role
        assert "5 record(s)" not in r.text and "5 were quarantined" not in r.text


@pytest.fixture
def tricky_client(api_store: Store, tokens: dict[str, str]) -> Iterator[TestClient]:
    from auditkit.api import create_app

    api_store.append([tricky_event(A, n) for n in range(3)])
    with TestClient(create_app(api_store)) as c:
        yield c


@pytest.mark.parametrize("role", ["analyst", "viewer"])
def test_a_redacted_reader_sees_no_address_in_any_form_through_the_api(
    tricky_client: TestClient, tokens: dict[str, str], role: str
) -> None:
    h = auth(tokens[role])
    pages = [
        tricky_client.get(f"/v1/tenants/{A}/events?limit=1000", headers=h),
        tricky_client.get(f"/v1/tenants/{A}/events?format=ndjson&limit=1000", headers=h),
        tricky_client.get(f"/v1/tenants/{A}/events?order=desc&limit=50", headers=h),
        tricky_client.get(f"/v1/tenants/{A}/events/tricky-1", headers=h),
    ]
    if role == "analyst":
        pages += [
            tricky_client.get(f"/v1/tenants/{A}/export?format={f}", headers=h)
            for f in ("csv", "ndjson", "cef", "ecs", "ocsf")
        ]
        pages.append(
            tricky_client.get(f"/v1/tenants/{A}/reports/soc2?format=json&period=all", headers=h)
        )
        pages.append(tricky_client.get(f"/v1/tenants/{A}/findings", headers=h))
    for r in pages:
        assert r.status_code == 200, (r.request.url, r.text[:300])
        text = r.content.decode("utf-8")
        assert "tricky-" in text or "sections" in text or "findings" in text
        assert _leaks(text) == [], (str(r.request.url), _leaks(text))


def test_an_error_detail_carries_no_database_password(api_store: Store) -> None:
    from auditkit.api import create_app

    app = create_app(api_store)

    @app.get("/boom")
    def boom() -> None:
        raise StoreError(
            "cannot reach the store postgresql://db:5432/audit?sslmode=require&password=s3cretpw "
            "(host=db password=s3cretpw)"
        )

    with TestClient(app) as c:
        r = c.get("/boom")
    assert r.status_code == 503
    assert "s3cretpw" not in r.text and "password=***" in r.json()["detail"]
