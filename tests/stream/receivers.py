"""Loopback receivers for the push tests: a webhook/HEC server that can fail on cue,
and a syslog TCP (or TLS) server that reads RFC 6587 octet-counted frames."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from auditkit.stream import SignatureMismatch, verify_request

#: What the server does with the n-th request (from 0): "ok", an HTTP status, "slow"
#: (answer after a delay longer than the client's time-out) or "drop" (close silently).
Plan = Callable[[int], "str | int"]


@dataclass
class Received:
    """What a receiver accepted: per tenant, every seq in arrival order (duplicates too)."""

    seqs: dict[str, list[int]] = field(default_factory=dict)
    event_ids: dict[str, list[str]] = field(default_factory=dict)
    batches: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, tenant: str, seqs: list[int], ids: list[str]) -> None:
        with self.lock:
            self.seqs.setdefault(tenant, []).extend(seqs)
            self.event_ids.setdefault(tenant, []).extend(ids)

    def check_complete(self, expected: dict[str, int]) -> None:
        """Every event of every tenant, none missing, first arrivals in seq order."""
        assert set(self.seqs) == set(expected), (sorted(self.seqs), sorted(expected))
        for tenant, n in expected.items():
            got = self.seqs[tenant]
            first: list[int] = []
            seen: set[int] = set()
            for s in got:
                if s not in seen:
                    seen.add(s)
                    first.append(s)
            assert first == list(range(n)), (tenant, first[:20], n)


class WebhookServer:
    """An HTTP server on 127.0.0.1 that checks each batch's HMAC signature (or HEC
    token) and records the events; ``plan`` decides how each request is answered."""

    def __init__(
        self,
        *,
        secret: bytes = b"s3cret",
        token: str | None = None,
        plan: Plan | None = None,
        port: int = 0,
        delay: float = 0.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.secret, self.token, self.plan, self.delay = secret, token, plan, delay
        self.received = Received()
        self._tls = tls
        self._start(port)

    def _start(self, port: int) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.received.lock:
                    n = outer.received.requests
                    outer.received.requests += 1
                action = outer.plan(n) if outer.plan else "ok"
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if action == "slow":
                    time.sleep(1.5)
                    action = "ok"
                if action != "ok":
                    self._answer(int(action), b'{"error":"planned"}',
                                 {"Retry-After": "0"} if action == 429 else {})  # fmt: skip
                    return
                if outer.delay:
                    time.sleep(outer.delay)
                try:
                    outer.accept(dict(self.headers), body)
                except (SignatureMismatch, PermissionError) as exc:
                    outer.received.refused.append(str(exc))
                    self._answer(401, b"refused", {})
                    return
                self._answer(200, b'{"text":"Success","code":0}', {})

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        if self._tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(self._tls[0]), str(self._tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def accept(self, headers: dict[str, str], body: bytes) -> None:
        if self.token is not None:  # Splunk HEC: token, one event per line
            if headers.get("Authorization") != f"Splunk {self.token}":
                raise PermissionError("bad HEC token")
            for line in body.splitlines():
                e = orjson.loads(line)["event"]
                self.received.add(e["tenant_id"], [e["seq"]], [e["event_id"]])
            return
        verify_request(self.secret, headers, body)
        doc = orjson.loads(body)
        events = doc.pop("events")
        assert doc["seqs"] == [e["seq"] for e in events]
        assert doc["first_seq"] <= doc["seqs"][0] and doc["seqs"][-1] < doc["end_seq"]
        assert doc["end_seq"] <= doc["checkpoint"]["tree_size"]
        with self.received.lock:
            self.received.batches.append(doc)
        self.received.add(doc["tenant_id"], doc["seqs"], doc["event_ids"])

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def restart(self) -> None:
        """Stop, then listen again on the same port (a receiver restarting)."""
        self.stop()
        self._start(self.port)


class SyslogServer:
    """A syslog receiver on 127.0.0.1 reading octet-counted RFC 5424 messages."""

    def __init__(self, *, tls: tuple[Path, Path] | None = None) -> None:
        self.messages: list[bytes] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                buf = b""
                while True:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                    while True:
                        space = buf.find(b" ")
                        if space < 0:
                            break
                        length = int(buf[:space])
                        if len(buf) < space + 1 + length:
                            break
                        outer.messages.append(buf[space + 1 : space + 1 + length])
                        buf = buf[space + 1 + length :]

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (the certificate is its own CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
