"""The push loop: from each tenant's durable cursor to its newest signed checkpoint.

For each tenant, in turn: read the cursor (:meth:`Store.stream_cursor
<auditkit.store.Store.stream_cursor>`), load the next ``batch_size`` events
verified (``seq`` order), encode them, deliver them with retries, and only then
move the cursor past them.  So delivery is at-least-once: a sender killed
between a delivery and the cursor's move sends that batch again when it
restarts (receivers deduplicate by ``event_id`` or batch id), and never skips
one.  Only events covered by a validly signed checkpoint are sent, and each
batch names that checkpoint.

Retries: a failure that may pass (refused connection, time-out, 5xx, 429) is
tried again after ``uniform(0, min(retry_cap, retry_base * 2**attempt))``
seconds (exponential backoff, full jitter), or the receiver's ``Retry-After``
when longer, up to ``max_attempts``; anything else (401, 403, 400) stops at
once.  Either way the cursor stays where it was.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from auditkit.errors import AuditkitError
from auditkit.export import get_export_format
from auditkit.stream.batches import Batch
from auditkit.stream.destinations import DeliveryError, Destination, DestinationConfig

if TYPE_CHECKING:
    from auditkit.store import Store

#: Events read from the store per verified load (several batches).
_WINDOW = 20_000

__all__ = ["StreamError", "StreamResult", "deliver_with_retries", "stream_once", "stream_store"]


class StreamError(AuditkitError):
    """A batch could not be delivered (after its retries, or at once when retrying
    cannot help); the cursor was not moved past it."""


@dataclass
class StreamResult:
    """What a push run did."""

    destination: str
    events: int = 0
    batches: int = 0
    retries: int = 0
    tenants: set[str] = field(default_factory=set)
    cursors: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for people."""
        retries = f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}"
        return (
            f"sent {self.events:,} events in {self.batches:,} batch(es) to {self.destination} "
            f"({len(self.tenants)} tenant(s), {retries})"
        )


def deliver_with_retries(
    destination: Destination,
    batch: Batch,
    *,
    sleep: Callable[[float], None] = time.sleep,
    stop: threading.Event | None = None,
) -> int:
    """Deliver ``batch``, retrying as the module says; return the number of retries."""
    c: DestinationConfig = destination.config
    last = DeliveryError("no attempt made", retry=False)
    for attempt in range(c.max_attempts):
        try:
            destination.deliver(batch)
            return attempt
        except DeliveryError as exc:
            last = exc
            if not exc.retry or attempt + 1 >= c.max_attempts:
                break
            wait = random.uniform(0, min(c.retry_cap, c.retry_base * 2**attempt))
            if exc.after is not None:
                wait = max(wait, min(exc.after, c.retry_cap))
            if stop is not None and stop.wait(wait):
                break
            if stop is None:
                sleep(wait)
    raise StreamError(
        f"destination {c.name!r}: batch {batch.batch_id} not delivered: {last}"
        + (f" (after {c.max_attempts} attempts)" if last.retry else "")
    )


def stream_once(
    store: Store,
    destination: Destination,
    *,
    tenants: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    result: StreamResult | None = None,
) -> StreamResult:
    """Send every tenant's events from its cursor up to its newest signed checkpoint."""
    c = destination.config
    fmt = get_export_format(c.format)
    if fmt.encoder is None:
        raise StreamError(f"format {c.format!r} cannot be streamed (it has no record encoder)")
    json_records = "json" in fmt.media_type
    result = result if result is not None else StreamResult(c.name)
    latest = store.latest_checkpoints()
    wanted = list(tenants) if tenants else store.tenants()
    cursors = store.stream_cursors(c.name)
    for tenant in wanted:
        cp = latest.get(tenant)
        if cp is None:
            continue
        cursor = cursors.get(tenant, 0)
        while cursor < cp.tree_size:
            # one verified load per window of several batches (a load has a fixed cost)
            window_end = min(cursor + max(c.batch_size, _WINDOW), cp.tree_size)
            window = store.load(tenant, seqs=(cursor, window_end))
            seqs = window.get_column("seq")
            while cursor < window_end:
                if stop is not None and stop.is_set():
                    return result
                end = min(cursor + c.batch_size, window_end)
                lo, hi = seqs.search_sorted(cursor), seqs.search_sorted(end)
                frame = window.slice(lo, hi - lo)
                if frame.height:
                    batch = Batch(
                        tenant, cursor, end,
                        frame.get_column("event_id").to_list(), frame.get_column("seq").to_list(),
                        cp.to_dict(), fmt.name, fmt.encoder(frame), json_records,
                    )  # fmt: skip
                    result.retries += deliver_with_retries(destination, batch, stop=stop)
                    result.events += frame.height
                    result.batches += 1
                    result.tenants.add(tenant)
                    if progress is not None:
                        progress(frame.height)
                cursor = store.advance_stream_cursor(c.name, tenant, end)
                result.cursors[tenant] = cursor
    return result


def stream_store(
    store: Store,
    destination: Destination,
    *,
    tenants: Sequence[str] | None = None,
    follow: bool = False,
    poll: float = 2.0,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> StreamResult:
    """Push once (``follow=False``), or keep pushing new events every ``poll``
    seconds until ``stop`` is set."""
    stop = stop if stop is not None else threading.Event()
    result = StreamResult(destination.config.name)
    try:
        while True:
            stream_once(
                store, destination, tenants=tenants, progress=progress, stop=stop, result=result
            )
            if not follow or stop.wait(poll):
                return result
    finally:
        destination.close()
