"""Compact event records and their materialisation into canonical event dicts.

The generator first produces light :class:`Rec` tuples (a day's worth at a time), sorts
them by time, and only then turns them into dicts, chunk by chunk: this keeps the memory
of a 10-million-event run bounded by one day of compact records.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any, NamedTuple

from auditkit.sample import _catalog as cat
from auditkit.sample._population import Actor, Source, Target, Tenant
from auditkit.schema import CORE_ACTIONS

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

CATEGORIES = CORE_ACTIONS
"""Category of every core action (docs/schema.md); any other ``<entity>.<verb>`` is ``user``."""


def day_start_us(d: date) -> int:
    """Microseconds since the Unix epoch at midnight UTC of ``d``."""
    return (d.toordinal() - _EPOCH_ORDINAL) * US_PER_DAY


class Rec(NamedTuple):
    """One event before materialisation.

    ``changes`` and ``metadata`` must be fresh dicts owned by this record alone: the
    event built from it takes them over.
    """

    us: int
    actor: Actor
    action: str
    outcome: str
    targets: tuple[Target, ...] | None
    source: Source | None
    service: str
    session_id: str | None
    description: str
    changes: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    event_id: str | None = None


new_rec = tuple.__new__
"""``new_rec(Rec, (all twelve fields))`` builds a :class:`Rec` without the Python-level
``__new__`` of ``NamedTuple`` (twice as fast; used in the hot loops)."""


def uuid7_string(us: int, rand: int) -> str:
    """A UUIDv7-formatted string: ``us // 1000`` in the top 48 bits, 74 bits of ``rand``.

    >>> uuid7_string(1_767_571_200_000_000, 0)  # 2026-01-05T00:00:00Z
    '019b8b74-1800-7000-8000-000000000000'
    >>> import uuid
    >>> u = uuid.UUID(uuid7_string(1_767_571_200_123_456, 2**74 - 1))
    >>> u.version, u.variant == uuid.RFC_4122, u.int >> 80
    (7, True, 1767571200123)
    """
    value = (
        ((us // 1000) << 80)
        | (0x7 << 76)
        | (((rand >> 62) & 0xFFF) << 64)
        | (0b10 << 62)
        | (rand & 0x3FFF_FFFF_FFFF_FFFF)
    )
    h = value.to_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_SECONDS = [f"{i:02d}." for i in range(61)]


def format_ts(us: int, prefixes: dict[int, str]) -> str:
    """RFC 3339 UTC with 6 fractional digits, e.g. ``2026-01-05T09:14:05.123456Z``.

    ``prefixes`` caches the text up to the minute, keyed by minutes since the epoch.

    >>> format_ts(1_767_605_645_123_456, {})
    '2026-01-05T09:34:05.123456Z'
    """
    minute, rem = divmod(us, US_PER_MINUTE)
    prefix = prefixes.get(minute)
    if prefix is None:
        day, m = divmod(minute, 1440)
        iso = date.fromordinal(day + _EPOCH_ORDINAL).isoformat()
        prefix = prefixes[minute] = f"{iso}T{m // 60:02d}:{m % 60:02d}:"
    s, frac = divmod(rem, US_PER_SECOND)
    return f"{prefix}{_SECONDS[s]}{frac:06d}Z"


def observer_version(service: str, day: int) -> str:
    """The version of ``service`` running on simulation day ``day`` (releases roll out)."""
    major, minor, every = cat.OBSERVERS[service]
    return f"{major}.{minor + day // every}.{(day % every) // 5}"


class Materializer:
    """Turns one simulation day's records into event dicts, drawing ids from the seed."""

    def __init__(self, *, seed: int, day: int, tenants: list[Tenant]) -> None:
        self._rng = random.Random(f"auditkit-sample/{seed}/ids/{day}")
        self._prefixes: dict[int, str] = {}  # minute -> "YYYY-MM-DDTHH:MM:"
        self._observers = {
            (t.tenant_id, name): (name, observer_version(name, day), t.region)
            for t in tenants
            for name in cat.OBSERVERS
        }

    def build(self, rec: Rec) -> dict[str, Any]:
        """The canonical event for ``rec`` (a fresh dict sharing nothing with others)."""
        getrandbits = self._rng.getrandbits
        (us, actor, action, outcome, targets, source, service, session_id, description,
         changes, metadata, event_id) = rec  # fmt: skip
        tenant_id = actor.tenant_id
        service, version, region = self._observers[tenant_id, service]
        ev: dict[str, Any] = {
            "event_id": event_id or uuid7_string(us, getrandbits(74)),
            "tenant_id": tenant_id,
            "occurred_at": format_ts(us, self._prefixes),
            "action": action,
            "category": CATEGORIES.get(action, "user"),
            "outcome": outcome,
            "actor": actor.as_dict(),
        }
        if targets:
            ev["targets"] = [{"id": i, "type": t, "name": n} for i, t, n in targets]
        if source is not None:
            ev["source"] = source.as_dict()
        ev["observer"] = {"service": service, "version": version, "region": region}
        ev["request_id"] = f"req_{getrandbits(64):016x}"
        if session_id is not None:
            ev["session_id"] = session_id
        ev["description"] = description
        # A record's changes and metadata were made for it alone and each record is built
        # once, so the event takes them over (tests check that no two events share a dict).
        if changes is not None:
            ev["changes"] = changes
        if actor.break_glass:
            metadata = {**(metadata or {}), "break_glass": True}
        if metadata:
            ev["metadata"] = metadata
        return ev


def say(name: str, outcome: str, past: str, infinitive: str, obj: str) -> str:
    """A human sentence for an action and its outcome.

    >>> say("Lena Weber", "denied", "exported", "export", "report 'Pipeline'")
    "Lena Weber was denied permission to export report 'Pipeline'"
    """
    if outcome == "success":
        return f"{name} {past} {obj}"
    if outcome == "denied":
        return f"{name} was denied permission to {infinitive} {obj}"
    if outcome == "failure":
        return f"{name} failed to {infinitive} {obj}"
    return f"{name} could not {infinitive} {obj} because of a server error"
