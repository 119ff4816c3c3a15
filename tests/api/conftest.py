"""Fixtures of the API tests: a marked store, tokens per role, a test client,
and a real ``auditkit serve`` process on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditkit.store import Store
from tests.access.conftest import build_marked_store
from tests.access.strategies import TENANTS

with warnings.catch_warnings():  # starlette's client warns about its httpx use on import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

A, B = TENANTS[0], TENANTS[1]
ROLES = ("owner", "admin", "auditor", "analyst", "viewer", "producer")


@pytest.fixture
def api_store(tmp_path: Path) -> Store:
    return build_marked_store(str(tmp_path / "audit.db"))


@pytest.fixture
def tokens(api_store: Store) -> dict[str, str]:
    """A token per role on tenant A (and ``none``: a principal with no role)."""
    out = {}
    for role in (*ROLES, "none"):
        api_store.add_principal(f"p-{role}")
        if role != "none":
            api_store.grant(f"p-{role}", A, role)
        out[role] = api_store.create_token(f"p-{role}").text
    api_store.add_principal("p-operator")
    api_store.grant("p-operator", "*", "operator")
    out["operator"] = api_store.create_token("p-operator").text
    return out


@pytest.fixture
def client(api_store: Store) -> Iterator[TestClient]:
    from auditkit.api import create_app

    with TestClient(create_app(api_store)) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``auditkit serve`` as a real process on a loopback port."""

    def __init__(self, location: str, tmp: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"serve-{self.port}.log"
        exe = Path(sys.executable).with_name("auditkit")
        self.proc = subprocess.Popen(
            [str(exe), "serve", location, "--port", str(self.port), *args],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"auditkit serve did not start: {self.log.read_text()[-2000:]}")

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(store: Store, *args: str) -> Server:
        server = Server(store.location, tmp_path, *args)
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


def events_of(resp: Any) -> list[dict[str, Any]]:
    return list(resp.json()["events"])
