"""API tokens: random, shown once, stored only as a hash.

A token reads ``akt_<id>_<secret>``: ``id`` (12 hex digits) is public and finds
the token's row; ``secret`` (32 random bytes, URL-safe base64) is never stored,
only its SHA-256.  A fast hash is the right one here: the secret has 256 bits
of entropy, so there is nothing to brute-force (slow password hashes protect
low-entropy passwords).  Comparison is in constant time.  The ``akt_`` prefix
lets secret scanners recognise a leaked token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from auditkit.access._model import Permission
from auditkit.errors import AccessDenied

__all__ = ["NewToken", "TokenInfo", "hash_secret", "new_token", "parse_token", "secret_matches"]

_TOKEN = re.compile(r"akt_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})\Z")


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``text`` is shown to its owner once and never stored."""

    token_id: str
    text: str = ""

    def __repr__(self) -> str:  # the secret never reaches a log through repr()
        return f"NewToken(token_id={self.token_id!r}, text='akt_{self.token_id}_***')"


@dataclass(frozen=True)
class TokenInfo:
    """What the store keeps about a token (no secret)."""

    token_id: str
    principal_id: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    scopes: frozenset[Permission] | None
    tenants: frozenset[str] | None
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Plain-JSON form.

        Examples
        --------
        >>> TokenInfo("0123456789ab", "svc", "2026-01-01T00:00:00.000000Z", None, None,
        ...           None, frozenset({"acme"})).to_dict()["tenants"]
        ['acme']
        """
        return {
            "token_id": self.token_id,
            "principal_id": self.principal_id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "scopes": sorted(p.value for p in self.scopes) if self.scopes is not None else None,
            "tenants": sorted(self.tenants) if self.tenants is not None else None,
            "note": self.note,
        }


def new_token() -> tuple[NewToken, str]:
    """A fresh token and the hash to store for it.

    Examples
    --------
    >>> token, digest = new_token()
    >>> parse_token(token.text)[0] == token.token_id, len(digest)
    (True, 64)
    """
    token_id = secrets.token_hex(6)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return NewToken(token_id, f"akt_{token_id}_{secret}"), hash_secret(secret)


def hash_secret(secret: str) -> str:
    """The stored form of a token's secret (SHA-256, hex).

    Examples
    --------
    >>> hash_secret("x")[:16]
    '2d711642b726b044'
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(text: str) -> tuple[str, str]:
    """``(token_id, secret)`` of a token's text, or :class:`AccessDenied`.

    The error never repeats the text (it may be a real secret pasted wrong).

    Examples
    --------
    >>> parse_token("akt_0123456789ab_" + "A" * 43)[0]
    '0123456789ab'
    >>> parse_token("hunter2")
    Traceback (most recent call last):
    ...
    auditkit.errors.AccessDenied: not an auditkit token (expected akt_<id>_<secret>)
    """
    m = _TOKEN.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise AccessDenied("not an auditkit token (expected akt_<id>_<secret>)")
    return m.group(1), m.group(2)


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash`` (constant time).

    Examples
    --------
    >>> secret_matches("x", hash_secret("x")), secret_matches("y", hash_secret("x"))
    (True, False)
    """
    return hmac.compare_digest(hash_secret(secret), stored_hash)
