"""Python's sqlite3 and the ADBC driver each carry a copy of SQLite, and closing a
file in one copy drops the POSIX locks the other holds: the store never has both
copies' connections open at once (a writer elsewhere would reset the WAL under a
reader)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from auditkit import Store
from auditkit.store._backend import _COPIES, _OneCopyAtATime
from tests.conftest import make_events


def test_one_copy_waits_while_the_other_has_the_file_open() -> None:
    copies = _OneCopyAtATime()
    events: list[str] = []
    copies.acquire("sqlite3")

    def reader() -> None:
        with copies.use("adbc"):
            events.append("adbc in")

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)
    assert events == []  # still waiting
    events.append("sqlite3 out")
    copies.release("sqlite3")
    t.join(5)
    assert events == ["sqlite3 out", "adbc in"]


def test_a_waiting_copy_gets_its_turn_before_newcomers_of_the_other() -> None:
    copies = _OneCopyAtATime()
    order: list[str] = []
    copies.acquire("adbc")
    waiting = threading.Thread(target=lambda: (copies.acquire("sqlite3"), order.append("s")))
    waiting.start()
    time.sleep(0.1)
    late = threading.Thread(target=lambda: (copies.acquire("adbc"), order.append("a")))
    late.start()
    time.sleep(0.1)
    assert order == []  # the newcomer does not overtake the waiting copy
    copies.release("adbc")
    waiting.join(5)
    assert order == ["s"]
    copies.release("sqlite3")
    late.join(5)
    assert order == ["s", "a"]


def test_a_thread_holding_one_copy_may_open_the_other() -> None:
    copies = _OneCopyAtATime()
    with copies.use("sqlite3"), copies.use("adbc"):
        pass
    assert copies._open == {"sqlite3": 0, "adbc": 0}


def test_reads_leave_no_connection_counted_open(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(300))
    assert store.verify().ok
    assert store.load().height == 300
    store.close()
    assert _COPIES._open == {"sqlite3": 0, "adbc": 0}


def test_a_thread_holding_a_connection_opens_another_without_waiting() -> None:
    """A thread inside a sqlite3 connection that opens a second one while an ADBC
    reader waits would otherwise wait for the reader, which waits for it."""
    copies = _OneCopyAtATime()
    copies.acquire("sqlite3")
    reader = threading.Thread(target=lambda: (copies.acquire("adbc"), copies.release("adbc")))
    reader.start()
    time.sleep(0.1)  # the reader now waits, and has the turn
    done = threading.Event()

    def nested() -> None:
        copies.acquire("sqlite3")
        copies.release("sqlite3")
        done.set()

    # the same thread as the first acquire: run it here
    nested()
    assert done.is_set()
    copies.release("sqlite3")
    reader.join(5)
    assert not reader.is_alive()


# -- connections kept open between uses (a long-lived server) ----------------------------
def test_a_kept_connection_is_used_again_and_closed_before_adbc_opens(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(50))
    store.backend.keep_connections(2)
    try:
        with store.backend.connect() as conn:
            first = id(conn)
        assert _COPIES._open["sqlite3"] == 1 and len(_COPIES._parked) == 1
        with store.backend.connect() as conn:
            assert id(conn) == first  # the same connection, not a new one
        assert store.load().height == 50  # an ADBC read: the kept one is closed first
        assert _COPIES._parked == [] and _COPIES._open == {"sqlite3": 0, "adbc": 0}
        store.append(make_events(5, prefix="f"))
        assert store.verify().ok and store.count() == 55
    finally:
        store.close()
    assert _COPIES._parked == [] and _COPIES._open == {"sqlite3": 0, "adbc": 0}


def test_a_kept_connection_is_not_used_on_a_replaced_file(tmp_path: Path) -> None:
    """A connection kept to a file that was since replaced (restored from a copy,
    swapped by someone) would read the old file: a new one is opened."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(20))
    assert store.path is not None
    store.backend.keep_connections(2)
    try:
        with store.backend.connect() as conn:
            conn.execute("SELECT 1")
        other = Store.init(str(tmp_path / "b.db"))
        other.append(make_events(3))
        other.close()
        assert other.path is not None
        os.replace(other.path, store.path)
        for suffix in ("-wal", "-shm"):
            Path(f"{store.path}{suffix}").unlink(missing_ok=True)
        with store.backend.connect() as conn:
            assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3
    finally:
        store.close()
    assert _COPIES._open == {"sqlite3": 0, "adbc": 0}


def test_a_connection_left_in_a_transaction_is_not_kept(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.backend.keep_connections(2)
    try:
        with store.backend.connect() as conn:
            conn.execute("BEGIN")
            conn.execute("SELECT COUNT(*) FROM events").fetchall()
        assert _COPIES._parked == []
        with pytest.raises(RuntimeError), store.backend.connect() as conn:
            raise RuntimeError("a failed use")
        assert _COPIES._parked == []
    finally:
        store.close()
    assert _COPIES._open == {"sqlite3": 0, "adbc": 0}
