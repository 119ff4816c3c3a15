"""The SQLite turn of the API server is handed on in the order it was asked for."""

from __future__ import annotations

import threading
import time

from auditkit.api._app import _Turns


def test_the_turn_goes_to_those_waiting_in_the_order_they_came() -> None:
    turns = _Turns()
    order: list[int] = []
    turns.__enter__()
    threads = []
    for k in range(8):

        def wait(k: int = k) -> None:
            with turns:
                order.append(k)

        t = threading.Thread(target=wait)
        t.start()
        threads.append(t)
        time.sleep(0.02)  # each is waiting before the next comes
    turns.__exit__(None, None, None)
    for t in threads:
        t.join(5)
    assert order == list(range(8))
    assert not turns.held


def test_the_turn_is_released_when_the_work_fails() -> None:
    turns = _Turns()
    try:
        with turns:
            raise ValueError("the endpoint failed")
    except ValueError:
        pass
    assert not turns.held
    with turns:
        assert turns.held
