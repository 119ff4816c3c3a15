"""Work done in a thread ahead of its caller, handed over a few items at a time.

Verifying reads rows in threads while the caller checks the previous chunk, and
exporting verifies the next chunk while the caller encodes this one: both are a
producer in a thread and a bounded queue, which this module holds once.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

__all__ = ["handed_over"]

T = TypeVar("T")


class _Gone(Exception):
    """The caller stopped taking items: the producer unwinds."""


def handed_over(
    produce: Callable[[Callable[[T], None]], None], *, ahead: int, name: str
) -> Generator[T, None, None]:
    """What ``produce(emit)`` emits, in order, made in a thread named ``name`` while
    the caller works on the earlier items; at most ``ahead`` items wait.

    An exception of ``produce`` is raised in the caller, after the items emitted
    before it.  When the caller stops early (it breaks, closes the generator or
    raises), ``emit`` raises in the producer within 0.1 s so that it unwinds, and
    the thread is joined before the generator closes.

    Examples
    --------
    >>> list(handed_over(lambda emit: [emit(i) for i in range(3)], ahead=1, name="t"))
    [0, 1, 2]
    """
    feed: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> None:
        while not stop.is_set():
            try:
                feed.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Gone

    def run() -> None:
        try:
            produce(lambda item: put((True, item)))
            put((False, None))
        except _Gone:
            pass
        except BaseException as exc:  # raised in the caller's thread
            with contextlib.suppress(_Gone):
                put((False, exc))

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            more, item = feed.get()
            if more:
                yield item
            elif item is None:
                return
            else:
                raise item
    finally:
        stop.set()
        worker.join()
