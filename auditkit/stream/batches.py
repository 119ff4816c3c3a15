"""What a push sends: batches of events that a receiver can check for gaps, and the
request signature of the webhook destination.

A :class:`Batch` holds one tenant's events ``[first_seq, end_seq)`` in ``seq``
order, their ``event_id``s (to deduplicate: delivery is at-least-once), and the
signed checkpoint that covers them (``end_seq <= checkpoint.tree_size``).  A
receiver that keeps, per tenant, the ``end_seq`` of the last batch it accepted
knows that nothing was skipped when the next batch's ``first_seq`` equals it;
with the events' canonical bytes and an inclusion proof (``auditkit serve``),
it can prove each event against the checkpoint's root.

The webhook signature (:func:`sign_request`, :func:`verify_request`):

* ``X-Auditkit-Timestamp``: Unix seconds when the request was signed;
* ``X-Auditkit-Signature``: ``v1=`` and the hex HMAC-SHA256, under the shared
  secret, of ``<timestamp>.`` followed by the body bytes.

A receiver recomputes the HMAC (compared in constant time), and refuses a
request whose timestamp is more than five minutes from its clock (a replay of
an old request), and a batch id (``X-Auditkit-Batch``) it has already accepted
within that window (a replay of a recent one: it answers 200 without storing
it twice).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

__all__ = [
    "REPLAY_WINDOW",
    "Batch",
    "SignatureMismatch",
    "sign_request",
    "verify_request",
]

#: Seconds a signed request stays acceptable (either side of the receiver's clock).
REPLAY_WINDOW: Final = 300


@dataclass(frozen=True)
class Batch:
    """One tenant's events ``[first_seq, end_seq)``, encoded in ``format``.

    Examples
    --------
    >>> b = Batch("acme", 0, 2, ["e1", "e2"], [0, 1], {"tree_size": 5}, "ndjson",
    ...           [b'{"event_id":"e1"}', b'{"event_id":"e2"}'])
    >>> b.batch_id
    'acme:0-2'
    >>> orjson.loads(b.envelope())["events"][1]
    {'event_id': 'e2'}
    """

    tenant_id: str
    first_seq: int
    end_seq: int
    event_ids: list[str]
    seqs: list[int]
    checkpoint: Mapping[str, Any]
    format: str
    records: list[bytes]
    json_records: bool = True
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def batch_id(self) -> str:
        """``<tenant>:<first_seq>-<end_seq>``: the same for every retry of the batch."""
        return f"{self.tenant_id}:{self.first_seq}-{self.end_seq}"

    def header(self) -> dict[str, Any]:
        """The batch without its events (what sidecar files and syslog markers hold)."""
        return {
            "auditkit_batch": 1,
            "batch_id": self.batch_id,
            "tenant_id": self.tenant_id,
            "first_seq": self.first_seq,
            "end_seq": self.end_seq,
            "count": len(self.records),
            "event_ids": self.event_ids,
            "seqs": self.seqs,
            "checkpoint": dict(self.checkpoint),
            "format": self.format,
            **self.meta,
        }

    def envelope(self) -> bytes:
        """The batch as one JSON document: :meth:`header` and ``events`` (JSON
        records as objects, text records as strings)."""
        head = orjson.dumps(self.header())
        if self.json_records:
            events = b"[" + b",".join(self.records) + b"]"
        else:
            events = orjson.dumps([r.decode() for r in self.records])
        return head[:-1] + b',"events":' + events + b"}"

    def headers(self) -> dict[str, str]:
        """HTTP headers that say what the batch is (every HTTP destination sends them)."""
        cp = self.checkpoint
        return {
            "X-Auditkit-Batch": self.batch_id,
            "Idempotency-Key": self.batch_id,
            "X-Auditkit-Tenant": self.tenant_id,
            "X-Auditkit-Seq-Range": f"{self.first_seq}-{self.end_seq}",
            "X-Auditkit-Checkpoint": f"{cp.get('tree_size')}:{cp.get('root_hash')}",
        }


class SignatureMismatch(ValueError):
    """A webhook request whose signature or timestamp does not verify."""


def _mac(secret: bytes | str, timestamp: str, body: bytes) -> str:
    # a secret read from the environment is text: the same bytes the sender signs with
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_request(secret: bytes | str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The signature headers of a webhook request.

    Examples
    --------
    >>> h = sign_request(b"k", b"{}", now=1700000000)
    >>> h["X-Auditkit-Timestamp"], h["X-Auditkit-Signature"][:11]
    ('1700000000', 'v1=c6ef4734')
    """
    ts = str(int(time.time() if now is None else now))
    return {"X-Auditkit-Timestamp": ts, "X-Auditkit-Signature": "v1=" + _mac(secret, ts, body)}


def verify_request(
    secret: bytes | str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    window: int = REPLAY_WINDOW,
) -> int:
    """Check a webhook request as a receiver should; return its timestamp.

    Raises :class:`SignatureMismatch` for a missing or wrong signature and for a
    timestamp more than ``window`` seconds from ``now`` (a replay).  Header
    names are matched without regard to case.

    Examples
    --------
    >>> h = sign_request(b"k", b"{}", now=1700000000)
    >>> verify_request(b"k", h, b"{}", now=1700000010)
    1700000000
    >>> verify_request("k", h, b"{}", now=1700000010)  # as read from the environment
    1700000000
    >>> verify_request(b"k", h, b"{}", now=1700000400)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.stream.batches.SignatureMismatch: timestamp 1700000000 is 400 s from now ...
    >>> verify_request(b"other", h, b"{}", now=1700000010)
    Traceback (most recent call last):
    ...
    auditkit.stream.batches.SignatureMismatch: signature does not match the body
    """
    lower = {k.lower(): v for k, v in headers.items()}
    ts, sig = lower.get("x-auditkit-timestamp"), lower.get("x-auditkit-signature")
    if not ts or not sig or not ts.isdigit():
        raise SignatureMismatch("missing X-Auditkit-Timestamp or X-Auditkit-Signature")
    skew = abs((time.time() if now is None else now) - int(ts))
    if skew > window:
        raise SignatureMismatch(
            f"timestamp {ts} is {skew:.0f} s from now (window {window} s): a replay?"
        )
    expected = "v1=" + _mac(secret, ts, body)
    if not hmac.compare_digest(expected.encode(), sig.strip().encode()):
        raise SignatureMismatch("signature does not match the body")
    return int(ts)
