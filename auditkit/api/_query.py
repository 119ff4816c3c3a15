"""Event filters and keyset pages over a tenant's trail.

Pages follow ``seq``, which the store gives each event when it is appended, from
0, without gaps.  A cursor is the ``seq`` to continue from (and the order and the
filter it was made for), so a page never repeats or skips an event however
many are appended meanwhile: new events only ever take higher seqs.  Ascending
pages (the pull of a SIEM) end with a cursor to poll for what comes next;
descending pages (newest first, the viewer) end when seq 0 is passed.

Filters apply to what the principal may see: for a redacted role, to the
redacted values, so a filter cannot be used to test a guess of a hidden value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import orjson
import polars as pl

from auditkit.api._problems import bad_parameter
from auditkit.export import frame_to_events
from auditkit.store import Store
from auditkit.times import parse_instant

__all__ = ["EventFilter", "Page", "decode_cursor", "encode_cursor", "event_dicts", "page_events"]

#: Seqs read per step while filling a filtered page (a verified ranged load costs
#: about the same for 1,000 seqs as for 50,000: few large steps are cheaper).
WINDOW: Final = 32_768


@dataclass(frozen=True)
class EventFilter:
    """The filters of ``GET /v1/tenants/{t}/events`` (all optional, combined with AND)."""

    start: datetime | None = None
    end: datetime | None = None
    actor: str | None = None
    action: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    outcome: tuple[str, ...] = ()
    target: str | None = None
    q: str | None = None
    _digest: str = field(default="", compare=False)

    @classmethod
    def parse(cls, **raw: Any) -> EventFilter:
        """From query parameters; times in any form :func:`parse_instant` reads.

        A time that does not parse, or an ``end`` not after ``start``, is a ``400``
        naming the parameter.

        >>> EventFilter.parse(start="2026-12-05", end="2026-12-01")
        Traceback (most recent call last):
        ...
        auditkit.api._problems.Problem: end: 2026-12-01 is not after start 2026-12-05
        """

        def many(v: Any) -> tuple[str, ...]:
            items = v if isinstance(v, list | tuple) else [v] if v else []
            return tuple(sorted({s.strip() for i in items for s in str(i).split(",") if s.strip()}))

        def instant(name: str) -> datetime | None:
            if not raw.get(name):
                return None
            try:
                return parse_instant(raw[name])
            except Exception as exc:
                raise bad_parameter(name, str(exc)) from None

        start, end = instant("start"), instant("end")
        if start is not None and end is not None and end <= start:
            # [start, end) holds nothing: a mistake, refused as the command line does
            raise bad_parameter("end", f"{raw['end']} is not after start {raw['start']}")
        return cls(
            start=start,
            end=end,
            actor=raw.get("actor") or None,
            action=many(raw.get("action")),
            category=many(raw.get("category")),
            outcome=many(raw.get("outcome")),
            target=raw.get("target") or None,
            q=(raw.get("q") or "").strip() or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The filter as it goes into the read's record."""
        out: dict[str, Any] = {}
        for k in ("start", "end"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v.isoformat()
        for k in ("actor", "target", "q"):
            if getattr(self, k):
                out[k] = getattr(self, k)
        for k in ("action", "category", "outcome"):
            if getattr(self, k):
                out[k] = list(getattr(self, k))
        return out

    def digest(self) -> str:
        """A short fingerprint (a cursor is only valid with the filter it was made for)."""
        return hashlib.sha256(
            orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()[:12]

    @property
    def narrows(self) -> bool:
        """Whether rows are filtered after loading (the time range is applied in SQL)."""
        return bool(
            self.actor or self.action or self.category or self.outcome or self.target or self.q
        )

    def match(self) -> dict[str, list[str]]:
        """The filters the database can apply (columns no role sees redacted)."""
        return {
            k: list(getattr(self, k)) for k in ("action", "category", "outcome") if getattr(self, k)
        }

    @property
    def pushed_down(self) -> bool:
        """Whether :meth:`match` is the whole filter (besides the time range)."""
        return not (self.actor or self.target or self.q)

    def expr(self) -> pl.Expr:
        """The row filter (without the time range, which the store applies)."""
        cond = pl.lit(True)
        if self.actor:
            cond &= pl.col("actor_id") == self.actor
        if self.action:
            cond &= pl.col("action").is_in(list(self.action))
        if self.category:
            cond &= pl.col("category").is_in(list(self.category))
        if self.outcome:
            cond &= pl.col("outcome").is_in(list(self.outcome))
        if self.target:
            cond &= (pl.col("target_id") == self.target) | pl.col("targets").list.eval(
                pl.element().struct.field("id") == self.target
            ).list.any().fill_null(False)
        if self.q:
            text = pl.concat_str(
                [
                    pl.col(c).fill_null("")
                    for c in ("action", "actor_id", "actor_name", "target_id", "description")
                ],
                separator="\n",
            )
            cond &= text.str.to_lowercase().str.contains(self.q.lower(), literal=True)
        return cond


def encode_cursor(seq: int, order: str, flt: EventFilter) -> str:
    """An opaque cursor: where to continue, in which order, for which filter.

    Examples
    --------
    >>> c = encode_cursor(100, "asc", EventFilter())
    >>> decode_cursor(c, "asc", EventFilter())
    100
    """
    raw = f"1:{order}:{seq}:{flt.digest()}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str, flt: EventFilter) -> int:
    """The seq a cursor continues from; a cursor of another order or filter is refused."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, c_order, seq, digest = text.split(":")
        value = int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_parameter("cursor", "not a cursor from this API") from None
    if version != "1" or value < 0:
        raise bad_parameter("cursor", "not a cursor from this API")
    if c_order != order or digest != flt.digest():
        raise bad_parameter("cursor", "it was made for another order or other filters; start again")
    return value


@dataclass(frozen=True)
class Page:
    """One page: its events, where to continue, and the tree size it was read against."""

    frame: pl.DataFrame
    next_seq: int | None
    tree_size: int
    complete: bool


def tree_size(store: Store, tenant: str) -> int:
    """The tenant's signed tree size (0 for a tenant without events)."""
    cp = store.latest_checkpoint(tenant)
    return cp.tree_size if cp is not None else 0


def _load(
    store: Store, tenant: str, flt: EventFilter, lo: int, hi: int, *, pushdown: bool = True
) -> pl.DataFrame:
    match = flt.match() if pushdown else {}
    frame = store.load(tenant, start=flt.start, end=flt.end, seqs=(lo, hi), match=match or None)
    return frame.filter(flt.expr()) if flt.narrows else frame


def _windows(first: int) -> Iterator[int]:
    """Window sizes (seqs) for filling a filtered page: small first (a first page of
    a common filter is found near the end), then growing to :data:`WINDOW`."""
    w = first
    while True:
        yield w
        w = min(w * 8, WINDOW)


def page_events(
    store: Store,
    tenant: str,
    flt: EventFilter,
    *,
    start_seq: int | None,
    limit: int,
    order: Literal["asc", "desc"],
    scan_only: bool = False,
) -> Page:
    """Up to ``limit`` matching events after (asc) or before (desc) ``start_seq``.

    With ``scan_only``, exactly the seqs ``[start_seq, start_seq + limit)`` are
    read (the matching ones returned): a bulk pull whose next cursor is known
    before the first byte is sent.  Filters on ``action``, ``category`` and
    ``outcome`` (never redacted) are applied by the database, through the primary
    key's seq range, so a filtered page verifies only the rows that match; the
    others are applied to the verified (and, for redacted roles, redacted) frame.
    """
    size = tree_size(store, tenant)
    parts: list[pl.DataFrame] = []
    got = 0
    # when the database applies every filter, a window costs a pass over its rows in
    # SQLite and the verification of the matches only: few wide windows are cheapest
    first = WINDOW if flt.pushed_down else max(limit * 16, 4096)
    windows = _windows(first) if flt.narrows else iter(lambda: limit, None)
    if order == "asc":
        lo = min(start_seq or 0, size)
        if scan_only:
            hi = min(lo + limit, size)
            frame = _load(store, tenant, flt, lo, hi) if hi > lo else _empty(store, tenant)
            return Page(frame, hi, size, hi >= size)
        next_seq = lo
        while got < limit and lo < size:
            hi = min(lo + max(next(windows), limit), size)
            frame = _load(store, tenant, flt, lo, hi)
            if got + frame.height >= limit:
                frame = frame.head(limit - got)
                next_seq = int(frame["seq"][-1]) + 1 if frame.height else hi
                parts.append(frame)
                got = limit
                break
            parts.append(frame)
            got += frame.height
            lo = next_seq = hi
        out = pl.concat(parts) if parts else _empty(store, tenant)
        return Page(out, next_seq, size, next_seq >= size)
    hi = size if start_seq is None else min(start_seq, size)
    next_desc: int | None = hi
    while got < limit and hi > 0:
        lo = max(0, hi - max(next(windows), limit))
        frame = _load(store, tenant, flt, lo, hi).sort("seq", descending=True)
        if got + frame.height >= limit:
            frame = frame.head(limit - got)
            parts.append(frame)
            got = limit
            next_desc = int(frame["seq"][-1]) if frame.height else lo
            break
        parts.append(frame)
        got += frame.height
        hi = next_desc = lo
    if next_desc == 0:
        next_desc = None
    out = pl.concat(parts) if parts else _empty(store, tenant)
    return Page(out, next_desc, size, next_desc is None)


def _empty(store: Store, tenant: str) -> pl.DataFrame:
    from auditkit.schema import FRAME_SCHEMA

    return pl.DataFrame(schema=FRAME_SCHEMA)


def event_dicts(frame: pl.DataFrame) -> Iterator[dict[str, Any]]:
    """The frame's events as canonical JSON objects (with ``seq`` and ``received_at``)."""
    if not frame.height:
        return
    for chunk in frame_to_events(frame):
        yield from chunk
