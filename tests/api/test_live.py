"""``auditkit serve`` as a real process on loopback: pages stay exact while events
are appended, and a shutdown loses no accepted write."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import polars as pl

from auditkit.store import Store
from tests.api.conftest import A, Server, auth
from tests.conftest import make_events


def test_cursor_pages_exact_under_concurrent_appends(
    api_store: Store, tokens: dict[str, str], serve: Callable[[Store], Server]
) -> None:
    server = serve(api_store)
    reader, writer = auth(tokens["auditor"]), auth(tokens["producer"])
    stop = threading.Event()
    posted: list[str] = []

    def append() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            i = 0
            while not stop.is_set():
                batch = [
                    {"event_id": f"live-{i}-{k}", "occurred_at": "2026-03-01T00:00:00Z",
                     "action": "document.create", "actor": {"id": "writer"}}
                    for k in range(20)
                ]  # fmt: skip
                r = c.post(f"/v1/tenants/{A}/events", json=batch, headers=writer)
                assert r.status_code == 200, r.text
                posted.extend(e["event_id"] for e in batch)
                i += 1

    t = threading.Thread(target=append)
    t.start()
    seen: list[int] = []
    ids: list[str] = []
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            cursor = None
            time.sleep(0.3)
            for _ in range(40):
                q = "limit=25" + (f"&cursor={cursor}" if cursor else "")
                doc = c.get(f"/v1/tenants/{A}/events?{q}", headers=reader).json()
                assert "events" in doc, doc
                seen += [e["seq"] for e in doc["events"]]
                ids += [e["event_id"] for e in doc["events"]]
                cursor = doc["next_cursor"]
    finally:
        stop.set()
        t.join()
    assert seen == list(range(len(seen)))  # no gap, no repeat, in order
    assert len(ids) == len(set(ids))
    with httpx.Client(base_url=server.url, timeout=60) as c:  # and the rest is all there
        rest = []
        while True:
            doc = c.get(f"/v1/tenants/{A}/events?limit=1000&cursor={cursor}", headers=reader).json()
            rest += [e["event_id"] for e in doc["events"]]
            cursor = doc["next_cursor"]
            if doc["complete"]:
                break
    assert set(posted) <= set(ids) | set(rest)
    assert api_store.verify().ok
    log = server.log.read_text()
    assert tokens["auditor"] not in log and tokens["producer"] not in log
    assert "GET /v1/tenants" in log  # requests are logged, tokens are not


def test_shutdown_finishes_accepted_writes(
    api_store: Store, tokens: dict[str, str], serve: Callable[[Store], Server]
) -> None:
    server = serve(api_store)
    h = auth(tokens["producer"])
    batch = [
        {"event_id": f"late-{k}", "occurred_at": "2026-03-01T00:00:00Z",
         "action": "document.create", "actor": {"id": "writer"}, "description": "x" * 200}
        for k in range(20_000)
    ]  # fmt: skip
    body = orjson.dumps(batch)
    result: dict[str, object] = {}

    def post() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as c:
            r = c.post(f"/v1/tenants/{A}/events", content=body,
                       headers={**h, "Content-Type": "application/json"})  # fmt: skip
            result["status"] = r.status_code
            result["doc"] = r.json()

    t = threading.Thread(target=post)
    t.start()
    time.sleep(0.5)  # the request is in flight
    code = server.stop()
    t.join()
    assert code == 0  # a clean stop: the requests under way were finished
    assert api_store.path is not None  # the connections the server kept are closed:
    assert not Path(f"{api_store.path}-wal").exists()  # the database is one file again
    assert result.get("status") == 200, result
    doc = result["doc"]
    assert isinstance(doc, dict) and doc["stored"] == 20_000
    assert len(api_store.existing_event_ids(A, [e["event_id"] for e in batch])) == 20_000
    assert api_store.verify().ok


def test_a_taken_port_is_a_usage_error_and_port_zero_prints_the_real_one(
    api_store: Store, tokens: dict[str, str]
) -> None:
    import re
    import socket
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("auditkit"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [exe, "serve", api_store.location, "--port", str(port)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2, done
    assert done.stderr.strip().count("\n") == 0  # one line, no server log, no traceback
    assert f"127.0.0.1:{port} is in use" in done.stderr and "--port" in done.stderr
    assert "serving" not in done.stdout
    proc = subprocess.Popen(
        [exe, "serve", api_store.location, "--port", "0", "--no-access-log"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found and found.group(1) != "0", line
        url = f"http://127.0.0.1:{found.group(1)}"
        for _ in range(100):
            try:
                r = httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert r.status_code == 200
        assert httpx.get(f"{url}/v1/tenants/{A}/checkpoints/latest",
                         headers=auth(tokens["auditor"])).status_code == 200  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(60)


def test_concurrent_pages_are_each_recorded_once(
    api_store: Store, tokens: dict[str, str], serve: Callable[[Store], Server]
) -> None:
    # pages read one at a time and record together (group commit): none is lost,
    # none recorded twice, and the trail still verifies
    server = serve(api_store)
    h = auth(tokens["auditor"])
    errors: list[str] = []

    def read(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for i in range(5):
                q = ("outcome=success&" if (n + i) % 2 else "") + f"limit={3 + n}"
                r = c.get(f"/v1/tenants/{A}/events?{q}", headers=h)
                if r.status_code != 200:
                    errors.append(r.text)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    frame = api_store.load(A)
    mine = frame.filter((frame["actor_id"] == "p-auditor") & (frame["action"] == "audit_log.read"))
    assert mine.height == 60
    rows = sorted(orjson.loads(m)["rows"] for m in mine["metadata"])
    assert rows[0] >= 3 and sum(rows) > 0
    assert api_store.verify().ok


def test_a_slow_upload_does_not_hold_up_other_requests(
    api_store: Store, tokens: dict[str, str], serve: Callable[[Store], Server]
) -> None:
    # a producer on a slow link sends its body bit by bit: readers are answered meanwhile
    import socket

    server = serve(api_store)
    body = orjson.dumps(
        [{"event_id": "slow-1", "occurred_at": "2026-03-01T00:00:00Z",
          "action": "document.create", "actor": {"id": "slow"}}]
    )  # fmt: skip
    head = (
        f"POST /v1/tenants/{A}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tokens['producer']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as slow:
        slow.sendall(head + body[:5])
        time.sleep(0.5)  # the server has the headers and part of the body
        t0 = time.monotonic()
        r = httpx.get(f"{server.url}/v1/tenants", headers=auth(tokens["auditor"]), timeout=20)
        waited = time.monotonic() - t0
        assert r.status_code == 200 and waited < 5, waited
        slow.sendall(body[5:])
        reply = slow.recv(65536)
    assert b" 200 " in reply.split(b"\r\n", 1)[0]
    assert "slow-1" in api_store.load(A)["event_id"].to_list()


def test_a_client_that_stops_reading_an_export_holds_up_nobody(
    tmp_path: Path, serve: Callable[[Store], Server]
) -> None:
    import socket

    store = Store.init(str(tmp_path / "big.db"))
    store.append(make_events(30_000))  # an export larger than the socket buffers
    store.add_principal("p")
    store.grant("p", "acme", "auditor")
    token = store.create_token("p").text
    server = serve(store)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(
            f"GET /v1/tenants/acme/export?format=ndjson HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        time.sleep(2)  # the export is written; its stream waits for a reader that never reads
        r = httpx.get(f"{server.url}/v1/tenants", headers=auth(token), timeout=20)
        assert r.status_code == 200
        assert r.json()["tenants"][0]["tenant_id"] == "acme"


def test_worker_processes_serve_one_trail(
    api_store: Store, tokens: dict[str, str], serve: Callable[..., Server]
) -> None:
    """``serve --workers 2``: concurrent readers and producers on two processes, whose
    appends interleave in one signed trail; every read recorded once; on SIGTERM both
    finish, and the database is left in one file."""
    server = serve(api_store, "--workers", "2")
    assert "with 2 worker processes" in server.log.read_text()
    reader, producer = auth(tokens["auditor"]), auth(tokens["producer"])
    before = api_store.count(A)
    errors: list[str] = []

    def read(n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for _ in range(n):
                r = c.get(f"/v1/tenants/{A}/events?outcome=failure&limit=5&order=desc",
                          headers=reader)  # fmt: skip
                if r.status_code != 200:
                    errors.append(r.text)

    def post(k: int) -> None:
        batch = [{**e, "tenant_id": A} for e in make_events(50, prefix=f"w{k}-")]
        with httpx.Client(base_url=server.url, timeout=60) as c:
            r = c.post(f"/v1/tenants/{A}/events", content=orjson.dumps(batch),
                       headers={**producer, "Content-Type": "application/json"})  # fmt: skip
            if r.status_code != 200 or r.json()["stored"] != 50:
                errors.append(r.text)

    threads = [threading.Thread(target=read, args=(10,)) for _ in range(6)]
    threads += [threading.Thread(target=post, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server.stop() == 0
    assert api_store.path is not None and not Path(f"{api_store.path}-wal").exists()
    assert api_store.verify().ok
    reads = api_store.load(A).filter(pl.col("action") == "audit_log.read")
    assert reads.height == 60  # each page recorded once, whichever process served it
    assert api_store.count(A) == before + 200 + 60
