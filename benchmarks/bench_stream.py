"""Push throughput: `auditkit stream` to a local webhook receiver (loopback).

Builds (or reuses) a store of sample events, starts a webhook receiver in its own
process (it checks every request's HMAC signature and counts the events), and
pushes every event of the chosen tenants through the real path: verified loads
from the durable cursor, NDJSON encoding, signed POSTs, cursor moves.  The
baseline, in the same run, POSTs the same number of already-encoded batches of
the same size to the same receiver (what HTTP on loopback costs alone).

    nice -n 10 .venv/bin/python benchmarks/bench_stream.py [--store S.db] [--tenants 2]
        [--batch-size 5000] [--events 200000]

Target (issue 17): at least 20,000 events/s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECEIVER = r"""
import hashlib, hmac, sys, orjson
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
SECRET = sys.argv[1].encode()
count = [0]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ts, sig = self.headers.get("X-Auditkit-Timestamp"), self.headers.get("X-Auditkit-Signature")
        if ts is not None:
            mac = "v1=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(mac, sig or "")
        else:
            ok = True
        if self.path == "/count":
            out = str(count[0]).encode()
        else:
            count[0] += len(orjson.loads(body)["events"]) if ok else 0
            out = b"ok" if ok else b"bad"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""


def make_store(path: Path, events: int, tenants: int) -> None:
    ndjson = path.with_suffix(".ndjson")
    ak = [sys.executable, "-m", "auditkit.cli"]
    subprocess.run([*ak, "sample", "-o", str(ndjson), "--events", str(events),
                    "--tenants", str(tenants), "--no-progress"], check=True)  # fmt: skip
    subprocess.run([*ak, "init", str(path)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*ak, "ingest", str(path), str(ndjson), "--no-progress"], check=True)
    ndjson.unlink()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--tenants", type=int, default=2, help="tenants to push (of the store)")
    ap.add_argument("--batch-size", type=int, default=5000)
    args = ap.parse_args()

    from http.client import HTTPConnection

    from auditkit.store import Store
    from auditkit.stream import DestinationConfig, open_destination, sign_request, stream_store

    work = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    store_path = args.store or work / "s.db"
    if not store_path.exists():
        print(f"making a store of {args.events:,} sample events in {store_path} ...")
        make_store(store_path, args.events, max(args.tenants, 2))
    store = Store.open(str(store_path))
    tenants = store.tenants()[: args.tenants]
    total = sum(store.count(t) for t in tenants)

    secret = "bench-secret"
    recv = subprocess.Popen([sys.executable, "-c", RECEIVER, secret], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    assert recv.stdout is not None
    port = int(recv.stdout.readline())
    url = f"http://127.0.0.1:{port}/hook"
    try:
        # baseline: the same number of pre-encoded, signed batches, POSTed
        sample = store.load(tenants[0], seqs=(0, args.batch_size))
        from auditkit.export import canonical_records

        body = b'{"events":[' + b",".join(canonical_records(sample)) + b"]}"
        n_batches = -(-total // args.batch_size)
        conn = HTTPConnection("127.0.0.1", port)
        t0 = time.perf_counter()
        for _ in range(n_batches):
            headers = {"Content-Type": "application/json", **sign_request(secret.encode(), body)}
            conn.request("POST", "/hook", body=body, headers=headers)
            conn.getresponse().read()
        base = time.perf_counter() - t0
        conn.close()

        config = DestinationConfig(
            f"bench-{os.getpid()}", "webhook", {"url": url}, {"secret": secret.encode()},
            batch_size=args.batch_size,
        )  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        result = stream_store(store, open_destination(config), tenants=tenants)
        push, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        recv.terminate()
        recv.wait()
    assert result.events == total, (result.events, total)
    rate = total / push
    print(f"events pushed:            {total:,} ({len(tenants)} tenant(s), batches of "
          f"{args.batch_size:,})")  # fmt: skip
    print(
        f"baseline (POST only):     {base:7.2f} s  {n_batches * args.batch_size / base:10,.0f} ev/s"
    )
    print(f"auditkit stream:          {push:7.2f} s  {rate:10,.0f} ev/s  "
          f"({push / base:.1f}x the baseline)")  # fmt: skip
    print(f"sender CPU:               {cpu:7.2f} s  {total / cpu:10,.0f} ev per CPU-second "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
    print(f"target >= 20,000 ev/s:    {'met' if rate >= 20_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
