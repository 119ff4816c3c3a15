"""Every endpoint, for every role: allowed, denied (a problem document), redacted."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import orjson
import polars as pl
import pytest

from auditkit.access import PERMISSIONS, Permission, Role, hash_secret
from auditkit.api._ndjson import json_lines
from auditkit.errors import TamperedError
from auditkit.export import available_export_formats
from auditkit.store import Store
from auditkit.verification import ProblemKind
from tests.access.strategies import SECRET_KEYS, markers
from tests.api.conftest import ROLES, A, B, TestClient, auth, events_of
from tests.store._attacker import sql

PROBLEM = "application/problem+json"


def may(role: str, perm: Permission) -> bool:
    return role != "none" and perm in PERMISSIONS[Role(role)]


def assert_problem(resp: object, status: int) -> None:
    r = resp  # type: ignore[assignment]
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    doc = r.json()  # type: ignore[attr-defined]
    assert doc["status"] == status and doc["detail"] and "\n" not in doc["detail"]


@pytest.mark.parametrize("role", [*ROLES, "none"])
def test_events_by_role(client: TestClient, tokens: dict[str, str], role: str) -> None:
    r = client.get(f"/v1/tenants/{A}/events?limit=50", headers=auth(tokens[role]))
    if not may(role, Permission.READ):
        assert_problem(r, 403)
        assert "needs permission 'read'" in r.json()["detail"]
        return
    assert r.status_code == 200
    body = r.text
    m = markers(A)
    assert m["name"] in body
    redacted = not may(role, Permission.READ_UNREDACTED)
    assert r.json()["redacted"] is redacted
    for k in SECRET_KEYS:
        assert (m[k] in body) is (not redacted), k
    for v in markers(B).values():
        assert v not in body


@pytest.mark.parametrize("role", [*ROLES, "none", "operator"])
def test_every_endpoint_allows_or_denies_by_the_matrix(
    client: TestClient, tokens: dict[str, str], role: str
) -> None:
    h = auth(tokens[role])
    cases = [
        (f"/v1/tenants/{A}/events/ev-alpha-tn-alpha-2", Permission.READ),
        (f"/v1/tenants/{A}/checkpoints/latest", Permission.READ),
        (f"/v1/tenants/{A}/checkpoints/consistency?from=2", Permission.PROVE),
        (f"/v1/tenants/{A}/findings", Permission.DETECT),
        (f"/v1/tenants/{A}/reports/soc2?format=md", Permission.REPORT),
        (f"/v1/tenants/{A}/export?format=ndjson", Permission.EXPORT),
    ]
    for path, perm in cases:
        r = client.get(path, headers=h)
        allowed = perm in PERMISSIONS[Role.OPERATOR] if role == "operator" else may(role, perm)
        if allowed:
            assert r.status_code == 200, (path, r.text)
            if role in ("analyst", "viewer"):
                for k in SECRET_KEYS:
                    assert markers(A)[k] not in r.text, (path, k)
        else:
            assert_problem(r, 403)
        # never another tenant's data, whatever the answer
        for v in markers(B).values():
            assert v not in r.text
        r = client.get(path.replace(A, B), headers=h)
        if role != "operator":
            assert_problem(r, 403)


def test_event_proof_only_with_prove(client: TestClient, tokens: dict[str, str]) -> None:
    path = f"/v1/tenants/{A}/events/ev-alpha-tn-alpha-4"
    full = client.get(path, headers=auth(tokens["auditor"])).json()
    assert full["proof"]["seq"] == 4 and full["proof"]["canonical"].count(markers(A)["email"])
    part = client.get(path, headers=auth(tokens["analyst"])).json()
    assert part["proof"] is None and "needs permission 'prove'" in part["proof_note"]
    assert markers(A)["email"] not in orjson.dumps(part).decode()
    r = client.get(f"/v1/tenants/{A}/events/no-such-event", headers=auth(tokens["auditor"]))
    assert_problem(r, 404)
    # the same words for a tenant that exists and one that does not
    r1 = client.get(f"/v1/tenants/{B}/events/x", headers=auth(tokens["auditor"]))
    r2 = client.get("/v1/tenants/nope/events/x", headers=auth(tokens["auditor"]))
    assert r1.status_code == r2.status_code == 403
    assert r1.json()["detail"].replace(B, "T") == r2.json()["detail"].replace("nope", "T")


def test_an_event_id_index_edited_apart_from_its_table_serves_no_other_event(
    api_store: Store, tokens: dict[str, str]
) -> None:
    """The look-up by event id is an index's: its entry for one event pointed (in the
    file itself) at another event's row, and the API served that event, verified and
    proven, as the one asked for; verify still says INTACT (the rows are the signed
    ones)."""
    from auditkit.api import create_app
    from tests.store._attacker import repoint_index_entry

    asked, other = "ev-alpha-tn-alpha-4", "ev-alpha-tn-alpha-7"
    with api_store.backend.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT rowid FROM events WHERE event_id = ?", (other,))
        (rowid,) = cur.fetchone()
    assert api_store.path is not None
    repoint_index_entry(api_store.path, "sqlite_autoindex_events_2", asked, rowid)
    reopened = Store.open(api_store.location)
    assert reopened.event_seq(A, asked) == 7  # the attack works on the index
    with TestClient(create_app(reopened)) as c:
        r = c.get(f"/v1/tenants/{A}/events/{asked}", headers=auth(tokens["auditor"]))
    assert_problem(r, 409)
    assert "index of event ids" in r.json()["detail"]
    try:  # the proof's own look-up: the event asked for, or the same refusal
        assert reopened.inclusion_proof(A, event_id=asked).event_id == asked
    except TamperedError as exc:
        assert "index of event ids" in str(exc)


def test_tokens_and_auth(client: TestClient, tokens: dict[str, str], api_store: Store) -> None:
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        auth("akt_x"),
        auth(tokens["viewer"] + "x"),
    ):
        r = client.get("/v1/tenants", headers=headers)
        assert_problem(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
    tid = tokens["viewer"].split("_")[1]
    api_store.revoke_token(tid)
    assert_problem(client.get("/v1/tenants", headers=auth(tokens["viewer"])), 401)
    r = client.get(f"/v1/tenants/{A}/events?access_token={tokens['auditor']}")
    assert_problem(r, 401)  # never from the URL


def test_tenants_lists_only_own(client: TestClient, tokens: dict[str, str]) -> None:
    doc = client.get("/v1/tenants", headers=auth(tokens["analyst"])).json()
    assert [t["tenant_id"] for t in doc["tenants"]] == [A]
    assert doc["tenants"][0]["redacted"] is True
    doc = client.get("/v1/tenants", headers=auth(tokens["none"])).json()
    assert doc["tenants"] == []


def test_filters(client: TestClient, tokens: dict[str, str], api_store: Store) -> None:
    h = auth(tokens["auditor"])
    full = api_store.load(A)

    def ids(query: str) -> list[int]:
        r = client.get(f"/v1/tenants/{A}/events?limit=1000&{query}", headers=h)
        assert r.status_code == 200, r.text
        return [e["seq"] for e in events_of(r)]

    assert ids("outcome=failure") == full.filter(pl.col("outcome") == "failure")["seq"].to_list()
    assert (
        ids("action=user.login,role.grant")
        == full.filter(pl.col("action").is_in(["user.login", "role.grant"]))["seq"].to_list()
    )
    assert ids("actor=u2") == full.filter(pl.col("actor_id") == "u2")["seq"].to_list()
    assert ids("q=EVENT%20NUMBER") == []  # description was replaced by the marked one
    assert (
        ids("q=did%20user.logout")[:1]
        == full.filter(pl.col("action") == "user.logout")["seq"].to_list()[:1]
    )
    assert ids("start=2026-01-05T08:03:00Z&end=2026-01-05T08:06:00Z") == [3, 4, 5]
    target = full["target_id"][7]
    assert ids(f"target={target}") == full.filter(pl.col("target_id") == target)["seq"].to_list()
    r = client.get(f"/v1/tenants/{A}/events?start=yesterdayish", headers=h)
    assert_problem(r, 400)
    r = client.get(f"/v1/tenants/{A}/events?limit=5000", headers=h)
    assert_problem(r, 400)
    r = client.get(f"/v1/tenants/{A}/events?limit=0", headers=h)
    assert_problem(r, 400)  # the same status as any other bad parameter


def test_redacted_filters_cannot_test_hidden_values(
    client: TestClient, tokens: dict[str, str]
) -> None:
    m = markers(A)
    h = auth(tokens["analyst"])
    for query in (f"actor={m['email']}", f"q={m['email']}", f"q={m['ip']}"):
        r = client.get(f"/v1/tenants/{A}/events?limit=100&{query}", headers=h)
        assert r.status_code == 200 and events_of(r) == [], query


def test_cursor_pages_cover_the_trail_once(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["auditor"])
    for order in ("asc", "desc"):
        seen: list[int] = []
        cursor = None
        for _ in range(50):
            q = f"limit=5&order={order}" + (f"&cursor={cursor}" if cursor else "")
            doc = client.get(f"/v1/tenants/{A}/events?{q}", headers=h).json()
            seen += [e["seq"] for e in doc["events"]]
            cursor = doc["next_cursor"]
            if not doc["events"] or cursor is None:
                break
        assert len(seen) == len(set(seen))
        # what was there at the start is all there (reads added records meanwhile)
        assert set(range(12)) <= set(seen)
    r = client.get(f"/v1/tenants/{A}/events?cursor=bogus", headers=h)
    assert_problem(r, 400)
    c = client.get(f"/v1/tenants/{A}/events?limit=2", headers=h).json()["next_cursor"]
    r = client.get(f"/v1/tenants/{A}/events?limit=2&outcome=failure&cursor={c}", headers=h)
    assert_problem(r, 400)  # a cursor is for the filter it was made with


def test_ndjson_pull(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["auditor"])
    r = client.get(f"/v1/tenants/{A}/events?format=ndjson&limit=7", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(x) for x in r.text.splitlines()]
    assert [e["seq"] for e in lines] == list(range(7))
    nxt = r.headers["auditkit-next-cursor"]
    r = client.get(f"/v1/tenants/{A}/events?format=ndjson&limit=7&cursor={nxt}", headers=h)
    assert [orjson.loads(x)["seq"] for x in r.text.splitlines()][:1] == [7]


@pytest.mark.parametrize("fmt", sorted(available_export_formats()))
def test_export_every_format(client: TestClient, tokens: dict[str, str], fmt: str) -> None:
    r = client.get(f"/v1/tenants/{A}/export?format={fmt}", headers=auth(tokens["analyst"]))
    assert r.status_code == 200, r.text
    spec = available_export_formats()[fmt]
    assert r.headers["content-type"].split(";")[0] == spec.media_type
    text = (
        pl.read_parquet(io.BytesIO(r.content)).write_ndjson()
        if fmt == "parquet"
        else r.content.decode("utf-8", "replace")
    )
    assert markers(A)["name"] in text
    for k in SECRET_KEYS:
        assert markers(A)[k] not in text
    assert "auditkit_redaction" in text or fmt not in ("ndjson", "json", "csv", "parquet")
    assert_problem(
        client.get(f"/v1/tenants/{A}/export?format=xls", headers=auth(tokens["auditor"])), 400
    )


def test_reads_are_recorded(client: TestClient, tokens: dict[str, str], api_store: Store) -> None:
    h = auth(tokens["analyst"])
    client.get(f"/v1/tenants/{A}/events?limit=3&outcome=success", headers=h)
    client.get(f"/v1/tenants/{A}/export?format=csv", headers=h)
    client.get(f"/v1/tenants/{B}/events", headers=h)
    recs = api_store.load(A).filter(pl.col("actor_id") == "p-analyst")
    assert recs["action"].to_list() == ["audit_log.read", "audit_log.export"]
    meta = orjson.loads(recs["metadata"][0])
    assert meta["via"] == "api" and meta["rows"] == 3 and meta["filter"]["outcome"] == ["success"]
    denied = api_store.load(B).filter(pl.col("action") == "audit_log.access_denied")
    assert denied["actor_id"].to_list() == ["p-analyst"]
    assert api_store.verify().ok


def test_records_refused_by_a_post_are_kept_and_sealed(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    """A producer's refused records are evidence: kept in the quarantine, sealed by the
    signed manifest, so that deleting them from the database is named."""
    bad = [{"occurred_at": "12/31", "action": "user.login", "actor": {"id": "x"}}, "not one"]
    r = client.post(f"/v1/tenants/{A}/events", headers=auth(tokens["producer"]), json=bad)
    assert [x["status"] for x in r.json()["results"]] == ["refused", "refused"]
    assert sum(api_store.quarantine_counts().values()) == 2
    report = api_store.verify()
    assert report.ok and not [n for n in report.notes if "quarantine" in n], report.summary()
    sql(api_store, "DELETE FROM quarantine WHERE field = 'occurred_at'")
    assert {p.kind for p in api_store.verify().problems} == {ProblemKind.QUARANTINE_ALTERED}


def test_post_events(client: TestClient, tokens: dict[str, str], api_store: Store) -> None:
    h = auth(tokens["producer"])
    good = {"event_id": "post-1", "occurred_at": "2026-02-01T00:00:00Z", "action": "user.login",
            "actor": {"id": "svc"}}  # fmt: skip
    body = [good, good, {"occurred_at": "12/31", "action": "user.login", "actor": {"id": "x"}},
            {**good, "event_id": "post-2", "tenant_id": B}, "not an object", None]  # fmt: skip
    r = client.post(f"/v1/tenants/{A}/events", headers=h, json=body)
    doc = r.json()
    assert r.status_code == 200, r.text
    assert [x["status"] for x in doc["results"]] == [
        "stored", "duplicate", "refused", "refused", "refused", "refused"
    ]  # fmt: skip
    assert doc["results"][2]["field"] == "occurred_at"
    assert doc["results"][3]["field"] == "tenant_id"
    again = client.post(f"/v1/tenants/{A}/events", headers=h, json=[good]).json()
    assert again["results"][0]["status"] == "duplicate"  # idempotent by event_id
    nd = (
        b'{"event_id":"post-3","occurred_at":"2026-02-01T00:00:00Z","action":"a.b",'
        b'"actor":{"id":"x"}}\n{oops\n'
    )
    r = client.post(
        f"/v1/tenants/{A}/events", headers={**h, "Content-Type": "application/x-ndjson"}, content=nd
    )
    assert [x["status"] for x in r.json()["results"]] == ["stored", "refused"]
    assert api_store.existing_event_ids(A, ["post-1", "post-3"]) == {"post-1", "post-3"}
    assert_problem(
        client.post(f"/v1/tenants/{A}/events", headers=auth(tokens["viewer"]), json=[good]), 403
    )
    assert_problem(
        client.post(
            f"/v1/tenants/{A}/events", headers={**h, "Content-Type": "text/xml"}, content=b"<a/>"
        ),
        415,
    )
    assert_problem(client.post(f"/v1/tenants/{A}/events", headers=h, content=b"[oops"), 400)


def test_body_size_limit(api_store: Store, tokens: dict[str, str]) -> None:
    from auditkit.api import create_app

    with TestClient(create_app(api_store, max_body=1000)) as small:
        r = small.post(f"/v1/tenants/{A}/events", headers=auth(tokens["producer"]),
                       content=b"[" + b" " * 2000 + b"]")  # fmt: skip
        assert_problem(r, 413)


def test_health_viewer_and_headers(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    html = page.text
    assert "http://" not in html and "https://" not in html  # no CDN, no external font
    js = client.get("/viewer/viewer.js").text
    assert "innerHTML" not in js and "eval(" not in js
    assert "fetch(" in js and "http" not in js.replace("https://", "").split("fetch(")[0][:0]
    assert_problem(client.get("/viewer/../../etc/passwd"), 404)
    doc = client.get("/openapi.json").json()
    assert "/v1/tenants/{tenant}/events" in doc["paths"]
    ops = [op for p in doc["paths"].values() for op in p.values()]
    assert all(op.get("description") or op.get("summary") for op in ops)


def test_small_pages_answer_as_the_general_path_and_are_recorded_once(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    # an unredacted reader's JSON page is verified row by row (Store.json_page): the
    # events are those of the owner's verified load, filtered, as the API writes them
    h = auth(tokens["auditor"])
    when = "start=2026-01-05T08:02:00Z&end=2026-01-05T08:09:00Z"
    cases = {
        "limit=7": pl.lit(True),
        "outcome=success&limit=4": pl.col("outcome") == "success",
        "actor=u2": pl.col("actor_id") == "u2",
        "action=user.login&order=desc": pl.col("action") == "user.login",
        f"{when}&order=desc": pl.col("occurred_at").is_between(
            datetime(2026, 1, 5, 8, 2, tzinfo=UTC),
            datetime(2026, 1, 5, 8, 9, tzinfo=UTC),
            closed="left",
        ),
    }
    for query, keep in cases.items():
        fast = client.get(f"/v1/tenants/{A}/events?{query}", headers=h).json()
        frame = api_store.load(A).filter(keep).sort("seq", descending="desc" in query)
        frame = frame.head(int(query.split("limit=")[1].split("&")[0]) if "limit" in query else 100)
        expected = [orjson.loads(line) for line in json_lines(frame).to_list()]
        assert fast["events"] == expected and expected, query
        assert fast["redacted"] is False and fast["tree_size"] >= 12
    before = api_store.load(A).filter(pl.col("actor_id") == "p-auditor").height
    doc = client.get(f"/v1/tenants/{A}/events?outcome=success&limit=3", headers=h).json()
    assert len(doc["events"]) == 3 and doc["next_cursor"] and not doc["complete"]
    recs = api_store.load(A).filter(pl.col("actor_id") == "p-auditor")
    assert recs.height == before + 1
    meta = orjson.loads(recs["metadata"][-1])
    assert meta["rows"] == 3 and meta["filter"]["outcome"] == ["success"]
    assert api_store.verify().ok


def test_a_role_or_token_forged_in_the_database_gets_nothing_through_the_api(
    client: TestClient, tokens: dict[str, str], api_store: Store
) -> None:
    """The server holds the key: a grant or token added by someone who can write the
    database but lacks the key must not let him append events that verify, or read."""
    event = {"event_id": "forged-1", "occurred_at": "2026-02-01T00:00:00Z",
             "action": "user.login", "actor": {"id": "mallory"}}  # fmt: skip
    sql(
        api_store,
        "INSERT INTO access_grants (principal_id, tenant_id, role, granted_at, granted_by) "
        "VALUES ('p-viewer', ?, 'producer', '2026-12-01T00:00:00.000000Z', 'owner')",
        params=(A,),
    )
    r = client.post(f"/v1/tenants/{A}/events", headers=auth(tokens["viewer"]), json=[event])
    assert r.status_code == 403, r.text
    secret = "Q" * 43
    sql(
        api_store,
        "INSERT INTO access_tokens (token_id, principal_id, secret_hash, created_at) "
        "VALUES ('abcdefabcdef', 'p-owner', ?, '2026-12-01T00:00:00.000000Z')",
        params=(hash_secret(secret),),
    )
    forged = auth(f"akt_abcdefabcdef_{secret}")
    assert client.post(f"/v1/tenants/{A}/events", headers=forged, json=[event]).status_code == 401
    assert client.get(f"/v1/tenants/{A}/events", headers=forged).status_code == 401
    assert "forged-1" not in api_store.load(A).get_column("event_id").to_list()
    kinds = [p.kind for p in api_store.verify().problems]
    assert kinds == [ProblemKind.ACCESS_ALTERED] * 2
