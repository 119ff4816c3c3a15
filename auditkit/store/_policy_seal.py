"""auditkit's own seal on its records of retention policy changes.

An ``audit_retention.update`` event is in the core vocabulary: any source may send
one, and anyone allowed to append (a producer, a log file that is ingested) gets it
signed into the trail like every other event.  The trail's signature says the event
was stored, not that auditkit made it.  So the records auditkit writes when a policy
changes carry, in ``metadata.seal``, the store key's signature over the store id, the
tenant, the scope, the new settings and the time of the change (``metadata.at``);
only those records vouch for a policy (``retention apply``) and judge a purge
(``verify``).  A sealed record copied into a later event keeps its own time, so it
never passes for the newest change.
"""

from __future__ import annotations

import base64
import functools
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidSignature

__all__ = ["policy_seal", "sealed_policy"]

_DOMAIN: Final = b"auditkit retention policy v1\n"


def _message(store_id: str, tenant: str, scope: object, new: object, at: object) -> bytes:
    # keys sorted: the record is stored as RFC 8785 text, which sorts them
    return _DOMAIN + orjson.dumps(
        [store_id, tenant, scope, new, at], default=repr, option=orjson.OPT_SORT_KEYS
    )


def policy_seal(
    private_key: Any, store_id: str, tenant: str, scope: str, new: dict[str, Any], at: str
) -> str:
    """The seal (base64 Ed25519) of a policy change record."""
    return base64.b64encode(private_key.sign(_message(store_id, tenant, scope, new, at))).decode()


@functools.lru_cache(maxsize=1024)
def _valid(public_raw: bytes, message: bytes, seal: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(seal.encode("ascii"), validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(raw, message)
    except (ValueError, InvalidSignature, UnicodeEncodeError):
        return False
    return True


def sealed_policy(doc: object, public_key: Any, store_id: str, tenant: str) -> str | None:
    """The time of the change when ``doc`` (a record's metadata) carries auditkit's
    seal for this store and tenant, else ``None`` (a record some source sent, or one
    written by a version of auditkit before the seal)."""
    if not isinstance(doc, dict):
        return None
    seal, at = doc.get("seal"), doc.get("at")
    if not isinstance(seal, str) or not isinstance(at, str) or not isinstance(doc.get("new"), dict):
        return None
    message = _message(store_id, tenant, doc.get("scope"), doc["new"], at)
    return at if _valid(public_key.public_bytes_raw(), message, seal) else None
