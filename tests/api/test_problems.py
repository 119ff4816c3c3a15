"""What a client is told when a request is wrong: one status per kind of error, as
docs/api.md says (a bad parameter is a 400 naming it; a body of another media type a
415; a body that is not JSON a 400, and nothing of it recorded), and the defaults and
forms the command line uses (a report's period, reversed time ranges, finding times)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from auditkit.cli import main
from auditkit.store import Store
from auditkit.times import parse_period
from tests.api.conftest import A, TestClient, auth

PROBLEM = "application/problem+json"
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def bad_parameter(resp: Any, name: str) -> dict[str, Any]:
    assert resp.status_code == 400, resp.text
    assert resp.headers["content-type"] == PROBLEM
    doc: dict[str, Any] = resp.json()
    assert doc["status"] == 400 and doc["type"].endswith("/bad-request")
    assert doc["parameter"] == name, doc
    assert doc["detail"].startswith(f"{name}: "), doc
    assert "Input should" not in doc["detail"]  # plain words, not pydantic's
    return doc


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("events?limit=0", "limit"),  # was 422
        ("events?limit=1001", "limit"),
        ("events?limit=abc", "limit"),  # was 422
        ("events?order=sideways", "order"),  # was 422
        ("events?format=xml", "format"),  # was 422
        ("events?start=yesterdayish", "start"),
        ("events?end=soonish", "end"),
        ("events?cursor=bogus", "cursor"),
        ("checkpoints/consistency?from=abc", "from"),  # was 422
        ("checkpoints/consistency?from=0", "from"),  # was 422
        ("checkpoints/consistency", "from"),  # missing; was 422
        ("findings?since=never", "since"),
        ("findings?detector=no_such_detector", "detector"),
        ("reports/soc2?period=Q1", "period"),
        ("reports/soc2?format=docx", "format"),
        ("export?format=nope", "format"),
        ("events/" + "x" * 600, "event_id"),  # was 422
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    client: TestClient, tokens: dict[str, str], query: str, name: str
) -> None:
    r = client.get(f"/v1/tenants/{A}/{query}", headers=auth(tokens["owner"]))
    bad_parameter(r, name)


@pytest.mark.parametrize("endpoint", ["events?", "export?format=csv&"])
@pytest.mark.parametrize(
    "window", ["start=2026-12-05&end=2026-12-01", "start=2026-01-05&end=2026-01-05"]
)
def test_a_time_range_that_holds_nothing_is_refused_as_the_cli_does(
    client: TestClient, tokens: dict[str, str], endpoint: str, window: str
) -> None:
    r = client.get(f"/v1/tenants/{A}/{endpoint}{window}", headers=auth(tokens["owner"]))
    doc = bad_parameter(r, "end")
    assert "is not after start" in doc["detail"]
    ok = client.get(
        f"/v1/tenants/{A}/{endpoint}start=2026-01-05&end=2026-01-06", headers=auth(tokens["owner"])
    )
    assert ok.status_code == 200, ok.text


def test_the_openapi_document_promises_no_422(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    text = json.dumps(doc)
    assert '"422"' not in text and "HTTPValidationError" not in text
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if path.startswith("/v1/"):
                assert "400" in op["responses"], (method, path)


def test_reports_default_to_the_last_12_months_as_the_cli(
    client: TestClient,
    tokens: dict[str, str],
    api_store: Store,
    capsys: pytest.CaptureFixture[str],
) -> None:
    h = auth(tokens["owner"])

    def period(query: str) -> dict[str, str]:
        r = client.get(f"/v1/tenants/{A}/reports/soc2?format=json{query}", headers=h)
        assert r.status_code == 200, r.text
        return dict(r.json()["scope"]["period"])

    twelve = parse_period("12mo")
    default = period("")
    assert (default["start"], default["end"]) == (str(twelve.start), str(twelve.end))
    assert default["time_zone"] == "UTC" and default["end_before"] > default["start_at"]
    assert period("&period=12mo") == default
    every = period("&period=all")  # the whole history: from the oldest event
    assert every["start"] == "2026-01-05"  # (the default's start too, when run on 2027-01-04)
    # and the command line, without --period, reports on the same days
    assert main(["report", api_store.location, "--framework", "soc2", "--tenant", A,
                 "--format", "json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["scope"]["period"] == default


GOOD = {"event_id": "ct-1", "occurred_at": "2026-02-01T00:00:00Z", "action": "user.login",
        "actor": {"id": "svc"}}  # fmt: skip


@pytest.mark.parametrize(
    ("ctype", "body", "status"),
    [
        ("text/plain", b"hello", 415),  # was 200 with refused: 1 (and quarantined)
        ("text/plain", json.dumps([GOOD]).encode(), 415),  # JSON, but not said to be
        ("application/xml", b"<a/>", 415),
        ("application/x-www-form-urlencoded", b"a=1", 415),  # curl -d without -H
        ("application/json", b'{"not":"array"', 400),  # was 200 with refused: 1
        ("application/json", b"[oops", 400),
        ("application/json", b'"just text"', 400),
        ("application/json", b"42", 400),
        ("application/x-ndjson", b"hello\nworld\n", 400),
        ("application/jsonl", b"<a/>", 400),
    ],
)
def test_a_body_that_is_not_json_is_refused_whole_and_nothing_recorded(
    client: TestClient,
    tokens: dict[str, str],
    api_store: Store,
    ctype: str,
    body: bytes,
    status: int,
) -> None:
    before = api_store.quarantine_counts()
    size = api_store.latest_checkpoint(A)
    r = client.post(
        f"/v1/tenants/{A}/events",
        headers={**auth(tokens["producer"]), "Content-Type": ctype},
        content=body,
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    doc = r.json()
    assert doc["status"] == status and doc["detail"]
    if status == 400:
        assert doc["detail"].startswith("body: ")
    assert api_store.quarantine_counts() == before
    assert api_store.latest_checkpoint(A) == size  # nothing appended
    assert api_store.existing_event_ids(A, ["ct-1"]) == set()


def test_records_that_are_json_but_not_events_are_still_refused_one_by_one(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    h = auth(tokens["producer"])
    post = lambda ctype, body: client.post(  # noqa: E731
        f"/v1/tenants/{A}/events", headers={**h, "Content-Type": ctype}, content=body
    )
    # one object as application/json (with its charset): one record
    r = post("application/json; charset=utf-8", json.dumps(GOOD, indent=2).encode())
    assert r.status_code == 200 and r.json()["stored"] == 1, r.text
    # NDJSON sent as application/json, a broken line among good ones: read per line
    lines = json.dumps({**GOOD, "event_id": "ct-2"}) + "\n{oops\n" + json.dumps("not an event")
    r = post("application/json", lines.encode())
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["stored", "refused", "refused"]
    assert sum(api_store.quarantine_counts().values()) == 2


def test_findings_times_are_one_form_in_the_api_and_every_cli_format(
    client: TestClient,
    tokens: dict[str, str],
    api_store: Store,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = client.get(f"/v1/tenants/{A}/findings", headers=auth(tokens["owner"]))
    assert r.status_code == 200, r.text
    api = r.json()["findings"]
    assert api, "the marked store has findings"
    assert main(["detect", api_store.location, "--tenant", A, "--format", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)["findings"]
    assert main(["detect", api_store.location, "--tenant", A, "--format", "ndjson"]) == 0
    as_ndjson = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for rows in (api, as_json, as_ndjson):
        for f in rows:
            for k in ("first_seen", "last_seen"):
                assert INSTANT.fullmatch(f[k]), (k, f[k])  # never +00:00
    key = lambda rows: {f["finding_id"]: (f["first_seen"], f["last_seen"]) for f in rows}  # noqa: E731
    assert key(as_json) == key(as_ndjson)
    assert key(api).items() <= key(as_json).items()


def test_the_viewer_asks_for_no_icon_and_a_browser_that_asks_gets_no_404(
    client: TestClient,
) -> None:
    html = client.get("/").text
    assert '<link rel="icon" href="data:,">' in html
    r = client.get("/favicon.ico")
    assert r.status_code == 204 and not r.content
