"""Shared fixtures: factories for events and stores on both backends."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# No time limit per example: the suite is not a benchmark, and a property that reads
# and writes files went over Hypothesis's 200 ms on a loaded machine (a failure that
# said nothing about the code).  Speed is measured under benchmarks/.
settings.register_profile("auditkit", deadline=None)
settings.load_profile("auditkit")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the golden files (reports, exports) from the current output",
    )


PG_ADMIN = os.environ.get("AUDITKIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def make_events(
    n: int,
    tenant: str = "acme",
    *,
    start: str = "2026-01-05T08:00:00Z",
    step_s: int = 60,
    prefix: str = "e",
) -> list[dict[str, Any]]:
    """``n`` valid canonical events, one per ``step_s`` seconds, with stable ids."""
    t0 = datetime.fromisoformat(start)
    actions = ["user.login", "document.read", "document.update", "role.grant", "user.logout"]
    out = []
    for i in range(n):
        out.append(
            {
                "event_id": f"{prefix}-{tenant}-{i}",
                "tenant_id": tenant,
                "occurred_at": (t0 + timedelta(seconds=i * step_s))
                .isoformat()
                .replace("+00:00", "Z"),
                "action": actions[i % len(actions)],
                "outcome": "failure" if i % 7 == 3 else "success",
                "actor": {
                    "id": f"u{i % 5}",
                    "type": "user",
                    "name": f"User {i % 5}",
                    "roles": ["member"],
                },
                "targets": [{"id": f"doc-{i}", "type": "document"}],
                "source": {
                    "ip": f"203.0.113.{i % 250}",
                    "geo": {"country": "DE", "city": "Berlin", "lat": 52.52, "lon": 13.405},
                },
                "observer": {"service": "webapp", "version": "1.0"},
                "session_id": f"s{i // 10}",
                "description": f"event number {i}",
                "metadata": {"n": i, "tag": "x"},
            }
        )
    return out


def store_sealed_while_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[int]]:
    """A store of 3,001 events (3,000 over a year and its retention policy's record)
    whose first row read runs a retention apply that seals the oldest into the cold
    tier (968 of them): a read that a nightly retention run overtakes.  Returns the store and a list
    whose last item, once a read ran, is how many events were sealed."""
    from auditkit.store import Store
    from auditkit.store._reader import TrailReader

    store = Store.init(str(tmp_path / "audit.db"))
    store.append(make_events(3000, "acme", start="2025-01-01T00:00:00Z", step_s=3 * 3600))
    other = Store.open(store.location, key=str(store.key_path))
    other.set_retention("*", hot_days=30, keep_days=3650)  # recorded: one more event
    real = TrailReader.read
    sealed: list[int] = []

    def read_while_sealing(self: TrailReader, *a: Any, **kw: Any) -> Any:
        if not sealed:  # once (the retention run reads rows too)
            sealed.append(0)
            sealed.append(other.apply_retention(now="2025-06-01T00:00:00Z").sealed)
        return real(self, *a, **kw)

    monkeypatch.setattr(TrailReader, "read", read_while_sealing)
    return store, sealed


@pytest.fixture
def events() -> Callable[..., list[dict[str, Any]]]:
    """The event factory."""
    return make_events


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True):
            return None
    except Exception as exc:  # any failure means: skip with the reason
        return f"PostgreSQL not reachable at {PG_ADMIN}: {exc}"


@pytest.fixture(scope="session", autouse=True)
def auditkit_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The suite's own ``$AUDITKIT_HOME``: keys of database stores and the checkpoints
    ``auditkit verify`` remembers go there, never into the home folder of whoever runs
    the tests (and never come from it)."""
    home = tmp_path_factory.mktemp("auditkit-home")
    before = os.environ.get("AUDITKIT_HOME")
    os.environ["AUDITKIT_HOME"] = str(home)
    yield home
    if before is None:
        os.environ.pop("AUDITKIT_HOME", None)
    else:
        os.environ["AUDITKIT_HOME"] = before


@pytest.fixture(scope="session")
def pg_skip_reason() -> str | None:
    return _pg_available()


@pytest.fixture
def pg_url(pg_skip_reason: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    if pg_skip_reason:
        pytest.skip(pg_skip_reason)
    import psycopg

    name = f"auditkit_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A location for a new store on each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "audit.db")
    else:
        before = os.environ.get("AUDITKIT_HOME")
        os.environ["AUDITKIT_HOME"] = str(tmp_path / "home")
        yield request.getfixturevalue("pg_url")
        if before is None:
            os.environ.pop("AUDITKIT_HOME", None)
        else:
            os.environ["AUDITKIT_HOME"] = before


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 30, tzinfo=UTC)
