"""Parallel ingest: parse and validate in worker processes, append in input order.

Parsing, mapping and validating a record costs several times more than
inserting it, and it is pure Python: one process keeps one core busy.  Here
the input is cut into *units* (blocks of lines of an NDJSON file, or a whole
file of another layout), and worker processes each take a unit, turn it into
normalised events, then append it themselves, exactly as a single process
would (one transaction and signed checkpoint per batch).

Units are appended strictly in input order: a shared *turn* counter says which
unit may append next, so while one worker holds the database another parses.
The store therefore ends up the same as after a single-process ingest
(same ``seq`` for the same record; duplicates are caught by the store's own
check inside each transaction).  The parent process reads the blocks, counts,
writes the quarantine, and reports progress.

Workers are started with ``spawn`` (safe with Polars' threads and in notebooks);
starting one costs about a second, so :func:`~auditkit.ingest.ingest_files`
only uses them for large inputs unless asked.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from auditkit.errors import AuditkitError
from auditkit.ingest._base import Format, RawRecord
from auditkit.ingest._outcome import (
    QuarantinedRecord,
    conflicting,
    process_record,
    quarantined,
    read_records,
)
from auditkit.ingest._parquet import ParquetInput, RowGroups
from auditkit.ingest._readers import BLOCK_BYTES, block_lines, ndjson_blocks, parse_lines
from auditkit.record import PreparedEvent

__all__ = ["BLOCK_BYTES", "ingest_parallel"]


@dataclass(frozen=True)
class _Unit:
    """Blocks of whole NDJSON lines (``blocks``), a Parquet file's row groups (one
    :class:`RowGroups` in ``blocks``), or a whole file (``blocks is None``)."""

    index: int
    path: str
    fmt: Format
    blocks: list[Any] | None  # (first line number, bytes), or a QuarantinedRecord


@dataclass
class _Done:
    index: int
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[Any] = field(default_factory=list)
    skipped: bool = False


class _Aborted(Exception):
    """An earlier unit failed: this one must not be appended after it."""


_state: dict[str, Any] = {}


def _die_with_parent(parent: int) -> None:
    """End this worker as soon as the process that started it is gone.

    A ``kill -9`` of the ingest must not leave workers appending on their own.  On
    Linux the kernel sends SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); as a
    fallback everywhere, a daemon thread watches the parent's pid.  A worker killed in
    the middle of a batch leaves nothing half-written: its transaction rolls back.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.2)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="auditkit-parent-watch", daemon=True).start()


def _init(location: str, key: str, cond: Any, turn: Any, abort: Any, parent: int) -> None:
    from auditkit.store import Store

    # Ctrl-C in a terminal reaches the whole process group: the parent alone answers it
    # (it aborts the workers and rolls back), a worker would only print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # POSIX
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # see _spawning
    _die_with_parent(parent)
    gc.disable()  # see ingest_files: the batches hold no cycles
    _state.update(store=Store.open(location, key=key), cond=cond, turn=turn, abort=abort)


def _wait_turn(index: int) -> None:
    cond, turn, abort = _state["cond"], _state["turn"], _state["abort"]
    with cond:
        while turn.value != index and not abort.value:
            cond.wait(0.5)
        if abort.value:
            raise _Aborted


def _pass_turn(index: int) -> None:
    cond, turn = _state["cond"], _state["turn"]
    with cond:
        turn.value = index + 1
        cond.notify_all()


def _abort() -> None:
    cond, abort = _state["cond"], _state["abort"]
    with cond:
        abort.value = 1
        cond.notify_all()


def _run(unit: _Unit, tenant: str | None, batch_size: int) -> _Done:
    store = _state["store"]
    done = _Done(unit.index)
    fmt = unit.fmt
    has_turn = False
    # serialised before taking the turn: the turn is held only for what needs the store
    events: list[PreparedEvent] = []
    origins: list[tuple[str, int, str | None]] = []

    abort = _state["abort"]

    def append() -> None:
        nonlocal has_turn, events, origins
        if not has_turn:
            _wait_turn(unit.index)
            has_turn = True
        elif abort.value:  # Ctrl-C while this unit (one large document) was being read
            raise _Aborted
        if events:
            added = store.append_prepared(events)
            done.stored += added.stored
            done.duplicates += added.duplicates
            done.rejected.extend(conflicting(added.conflicts, events, origins))
            events, origins = [], []

    try:
        for rec in _unit_records(unit):
            done.read += 1
            if not done.read & 8191 and abort.value:
                raise _Aborted
            out = rec if type(rec) is QuarantinedRecord else process_record(fmt, rec, tenant)
            if type(out) is PreparedEvent:
                events.append(out)
                origins.append((rec.file, rec.line, rec.location))
                if len(events) >= batch_size:
                    append()
            else:
                done.rejected.append(out)
        append()
    except _Aborted:
        done.skipped = True
    except BaseException:
        # as in a single process, what came before the failure is stored: let the
        # earlier units finish, then stop the later ones
        if not has_turn:
            try:
                _wait_turn(unit.index)
                has_turn = True
            except _Aborted:
                pass
        _abort()
        raise
    finally:
        if has_turn:
            _pass_turn(unit.index)
    return done


def _unit_records(unit: _Unit) -> Iterator[Any]:
    """The records of a unit as read (:class:`RawRecord`), or already quarantined."""
    if unit.blocks is None:
        yield from read_records(unit.fmt, unit.path)
        return
    path = unit.path
    if type(unit.blocks[0]) is RowGroups:  # a Parquet file's row groups
        yield from unit.fmt.records(path, unit.blocks[0])  # type: ignore[call-arg]
        return
    for block in unit.blocks:
        if type(block) is not tuple:  # quarantined by the reader
            yield block
            continue
        yield from parse_lines(path, block_lines(path, block[0], block[1]))


def _units(plan: Sequence[tuple[str, Format]], batch_size: int) -> Iterator[_Unit]:
    index = 0
    for path, fmt in plan:
        groups = fmt.parts(path, batch_size) if isinstance(fmt, ParquetInput) else []
        if len(groups) > 1:  # a Parquet file: whole row groups, about batch_size rows a unit
            for part in groups:
                yield _Unit(index, path, fmt, [part])
                index += 1
            continue
        splits = getattr(fmt, "ndjson", None)
        if splits is None or not splits(path):
            yield _Unit(index, path, fmt, None)
            index += 1
            continue
        # blocks of whole lines, about batch_size lines a unit: the workers split them
        unit: list[Any] = []
        lines = 0
        for item in ndjson_blocks(path, BLOCK_BYTES):
            if isinstance(item, RawRecord):  # what could not be read at all
                assert item.error is not None
                unit.append(quarantined(item, item.error))
                continue
            unit.append(item)
            lines += item[1].count(b"\n")
            if lines >= batch_size:
                yield _Unit(index, path, fmt, unit)
                index += 1
                unit, lines = [], 0
        if unit:
            yield _Unit(index, path, fmt, unit)
            index += 1


@contextlib.contextmanager
def _spawning() -> Iterator[None]:
    """Ctrl-C held back while the pool may start a worker: a worker inherits the mask,
    so one still starting (importing, before :func:`_init` ignores SIGINT) does not die
    of it with a traceback; the parent's own Ctrl-C is delivered when the mask is put
    back, or to another of its threads meanwhile."""
    if not hasattr(signal, "pthread_sigmask"):  # not POSIX: no masks to inherit
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _result(future: Future[_Done]) -> _Done:
    """The unit's outcome, waited for in short steps: a signal (Ctrl-C) that the system
    hands to another of this process's threads (the pool's, a progress bar's) does not
    wake a wait without a timeout, and the handler, which runs in this thread, would
    wait with it until the unit is done (a large document: all of it stored)."""
    while True:
        try:
            return future.result(timeout=0.2)
        except TimeoutError:
            continue


def ingest_parallel(
    store: Any,
    plan: Sequence[tuple[str, Format]],
    sink: Any,
    *,
    tenant: str | None,
    batch_size: int,
    workers: int,
) -> None:
    """Ingest ``plan`` (files with their formats) with ``workers`` processes,
    reporting every record to ``sink`` (see :func:`auditkit.ingest.ingest_files`)."""
    ctx = multiprocessing.get_context("spawn")
    cond = ctx.Condition()
    turn = ctx.Value("q", 0, lock=False)
    abort = ctx.Value("b", 0, lock=False)
    location = store.location
    key = str(store.key_path)
    store.private_key  # noqa: B018 - fail here, in one clear error, if the key is missing
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init,
        initargs=(location, key, cond, turn, abort, os.getpid()),
    )
    pending: deque[Future[_Done]] = deque()
    result = sink.result

    def collect(done: _Done) -> None:
        if done.skipped:
            return
        result.read += done.read
        sink.added(done.stored, done.duplicates)
        for q in done.rejected:
            sink.reject(q)
        sink.flush_rejected()
        if sink.progress is not None and done.read:
            sink.progress(done.read)

    try:
        for unit in _units(plan, batch_size):
            with _spawning():
                pending.append(pool.submit(_run, unit, tenant, batch_size))
            # bounded memory: a few units in flight per worker
            while len(pending) > 2 * workers or (pending and pending[0].done()):
                collect(_result(pending.popleft()))
        while pending:
            collect(_result(pending.popleft()))
    except BaseException as exc:
        with cond:
            abort.value = 1
            cond.notify_all()
        pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(exc, AuditkitError | KeyboardInterrupt):
            raise
        raise AuditkitError(f"parallel ingest failed: {exc}") from exc
    pool.shutdown(wait=True)
