"""Pull API benchmark (issue 16), against ``auditkit serve`` running as a real
process on loopback, with baselines measured in this process.

    python benchmarks/bench_api.py                   # a 1M-event store
    python benchmarks/bench_api.py --events 200000   # quicker
    python benchmarks/bench_api.py --store /tmp/a.db # reuse a store (made if absent)

Targets: pull 1M events with cursor pages >= 50,000 events/s; p50/p99 of a
filtered first page under 32 concurrent clients, p99 < 250 ms; POST ingest
>= 20,000 events/s in batches of 1,000.

The server runs with one worker process per core (``--workers``; ``--workers 1``
for a single process); every case is asked once by each client before it is timed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

from auditkit.sample import iter_events
from auditkit.store import Store


def build(path: Path, n: int) -> Store:
    if path.exists():
        return Store.open(str(path))
    store = Store.init(str(path))
    for chunk in iter_events(events=n, seed=11, chunk_size=50_000):
        store.append(chunk, batch_size=50_000)
    return store


def serve(location: str, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("auditkit")
    proc = subprocess.Popen(
        [
            str(exe),
            "serve",
            location,
            "--port",
            str(port),
            "--no-access-log",
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("auditkit serve did not start")


def pull(url: str, token: str, tenant: str, page: int) -> tuple[int, float]:
    h = {"Authorization": f"Bearer {token}"}
    n, cursor = 0, None
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, timeout=600) as c:
        while True:
            q = f"format=ndjson&limit={page}" + (f"&cursor={cursor}" if cursor else "")
            r = c.get(f"/v1/tenants/{tenant}/events?{q}", headers=h)
            r.raise_for_status()
            got = r.content.count(b"\n")
            n += got
            cursor = r.headers.get("auditkit-next-cursor")
            size = int(r.headers["auditkit-tree-size"])
            if got == 0 or cursor is None or n >= size:
                break
    return n, time.perf_counter() - t0


def first_pages(
    url: str, token: str, tenant: str, clients: int, each: int, query: str
) -> list[float]:
    """Latencies of ``clients`` concurrent clients asking ``each`` first pages in turn.

    The clients use ``http.client`` with a kept-alive connection each: the load
    generator runs on the same cores as the server, and httpx spends about 3 ms of
    CPU per request (measured), which at 32 clients would time the client, not the
    server.
    """
    host, port = url.removeprefix("http://").rsplit(":", 1)
    h = {"Authorization": f"Bearer {token}"}
    path = f"/v1/tenants/{tenant}/events?{query}"
    times: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=600)
        try:
            for _ in range(each):
                t0 = time.perf_counter()
                conn.request("GET", path, headers=h)
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise SystemExit(f"{path}: {r.status} {body[:200]!r}")
                with lock:
                    times.append(time.perf_counter() - t0)
        finally:
            conn.close()

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(times)


def percentile(times: list[float], q: float) -> float:
    """The ``q`` quantile of ``times`` (sorted here), nearest rank."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


#: First pages a viewer asks for: (label, query).  The first is the issue's case.
FIRST_PAGES = (
    ("outcome=failure (rare: 0.3%)", "outcome=failure&limit=50&order=desc"),
    ("no filter", "limit=50&order=desc"),
    ("action=user.login (common)", "action=user.login&limit=50&order=desc"),
    ("actor (one person)", "actor={actor}&limit=50&order=desc"),
    ("q=free text", "q=login&limit=50&order=desc"),
    ("actor with no events (the whole range checked)", "actor=nobody-at-all&limit=50&order=desc"),
    (
        "start=30d&outcome=failure (few or none: the whole range checked)",
        "start=30d&outcome=failure&limit=50&order=desc",
    ),
)


def ingest(url: str, token: str, tenant: str, batches: int) -> tuple[int, float]:
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    events = [e for c in iter_events(events=batches * 1000, seed=5, tenants=1) for e in c]
    run = os.urandom(4).hex()  # new event ids at every run: a rerun would post duplicates
    fresh = [{**e, "tenant_id": tenant, "event_id": f"{e['event_id']}-{run}"} for e in events]
    bodies = [orjson.dumps(fresh[i : i + 1000]) for i in range(0, len(fresh), 1000)]
    t0 = time.perf_counter()
    stored = 0
    with httpx.Client(base_url=url, timeout=600) as c:
        for body in bodies:
            r = c.post(f"/v1/tenants/{tenant}/events", content=body, headers=h)
            r.raise_for_status()
            stored += r.json()["stored"]
    return stored, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path)
    ap.add_argument("--page", type=int, default=100_000, help="NDJSON page (seqs per request)")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=4, help="first pages per client")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of first pages per case")
    ap.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="auditkit serve --workers (default: one per core)",
    )
    ap.add_argument("--batches", type=int, default=20, help="POST batches of 1,000")
    args = ap.parse_args()
    path = args.store or Path(tempfile.mkdtemp(prefix="auditkit-bench-")) / "bench.db"
    store = build(path, args.events)
    tenants = [t for t in store.tenants() if t != "bench-ingest"]  # a rerun wrote there
    if "bench-auditor" not in {p.id for p in store.principals()}:
        store.add_principal("bench-auditor", kind="service")
    held = {(g.tenant_id, str(g.role.value)) for g in store.grants(principal="bench-auditor")}
    for t, role in [*((t, "auditor") for t in tenants), ("bench-ingest", "producer")]:
        if (t, role) not in held:
            store.grant("bench-auditor", t, role)
    token = store.create_token("bench-auditor", expires="1d").text
    total = store.count()
    print(f"\nstore: {total:,} events in {len(tenants)} tenants ({store.backend.dialect})")
    t0 = time.perf_counter()
    for t in tenants:
        store.load(t)
    base = time.perf_counter() - t0
    print(
        f"  baseline: the owner's verified load of every tenant  {base:8.2f} s "
        f"({total / base:,.0f} events/s)"
    )
    proc, url = serve(str(path), args.workers)
    print(f"  auditkit serve --workers {args.workers}")
    try:
        n, dt = 0, 0.0
        for t in tenants:
            got, took = pull(url, token, t, args.page)
            n, dt = n + got, dt + took
        print(
            f"  pull with cursor pages of {args.page:,} (NDJSON)   {dt:8.2f} s "
            f"({n / dt:,.0f} events/s; target >= 50,000); {dt / base:.2f}x the baseline"
        )
        actor = store.load(tenants[0], seqs=(0, 1))["actor_id"][0]
        # the latencies of a running server: each case is asked once by every client
        # before it is timed (a worker's first pages of a tenant wait for the tree its
        # start-up verifies into the cache)
        for _, query in FIRST_PAGES:
            first_pages(url, token, tenants[0], args.clients, 1, query.format(actor=actor))
        for n, (label, query) in enumerate(FIRST_PAGES):
            # several rounds pooled: on a shared 2-core machine one round's 99th
            # percentile is its second-slowest request, and rounds differ by 20%
            rounds = [
                first_pages(
                    url, token, tenants[0], args.clients, args.requests, query.format(actor=actor)
                )
                for _ in range(args.rounds)
            ]
            times = sorted(t for r in rounds for t in r)
            worst = max(percentile(r, 0.99) for r in rounds)
            target = " (target p99 < 250 ms)" if n == 0 else ""
            print(
                f"  first page, {label}, {args.rounds} rounds of {args.clients} clients x "
                f"{args.requests}: p50 {statistics.median(times) * 1000:,.0f} ms, "
                f"p99 {percentile(times, 0.99) * 1000:,.0f} ms{target}; "
                f"worst round's p99 {worst * 1000:,.0f} ms"
            )
        stored, dt = ingest(url, token, "bench-ingest", args.batches)
        print(
            f"  POST ingest, batches of 1,000: {stored:,} events in {dt:.2f} s "
            f"({stored / dt:,.0f} events/s; target >= 20,000)"
        )
    finally:
        proc.terminate()
        proc.wait(60)


if __name__ == "__main__":
    main()
