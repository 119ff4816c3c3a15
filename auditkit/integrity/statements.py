"""Signed statements about a log's records that are not records themselves: that
a range of a tenant's events was purged (retention) or sealed into the cold tier.

A removal is only legitimate when the store's key says so.  A
:class:`RangeStatement` names the tenant, the half-open range ``[first_seq,
end_seq)`` of ``seq`` it covers, the tree (size and root) that the range belongs
to, when, and a one-line ``detail`` (policy, segment hash, ...), and is signed with
Ed25519 over a fixed text (:meth:`RangeStatement.signed_message`), like a
checkpoint.  Verification accepts missing records only inside a range that a
statement signed by the trusted key covers; a statement that is unsigned, signed
by another key, or that does not fit the tree is itself reported as forgery.

What it trusts: nothing.  :func:`verify_statement` treats every field as
untrusted input and checks it against the key the caller trusts.

Examples
--------
>>> from auditkit.integrity.signing import generate_key
>>> key = generate_key()
>>> st = sign_statement(key, kind="purge", store_id="s1", tenant_id="acme",
...                     first_seq=0, end_seq=100, tree_size=250, root_hash=bytes(32),
...                     detail='{"policy":"keep 365 days"}')
>>> verify_statement(st, key.public_key())
>>> RangeStatement.from_dict(st.to_dict()) == st
True
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditkit.integrity.signing import (
    KEY_ID_LENGTH,
    SignatureError,
    decode_signature,
    key_fingerprint,
    key_id,
)

__all__ = [
    "STATEMENT_HEADER",
    "STATEMENT_KINDS",
    "RangeStatement",
    "sign_statement",
    "verify_statement",
]

STATEMENT_HEADER: Final = b"auditkit-range-statement/v1\n"
"""First line of every statement's signed message."""

STATEMENT_KINDS: Final = ("purge", "seal")
"""``purge``: the records are gone for good (their leaf hashes stay); ``seal``: they
moved to a cold-tier segment that ``detail`` names."""

_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_KEY_ID: Final = re.compile(r"[0-9a-f]{16,64}")
_TIMESTAMP: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_FIELDS: Final = (
    "kind",
    "store_id",
    "tenant_id",
    "first_seq",
    "end_seq",
    "tree_size",
    "root_hash",
    "recorded_at",
    "detail",
    "key_id",
    "signature",
)


def _bad(name: str, expected: str, value: object) -> ValueError:
    return ValueError(f"statement field {name!r}: expected {expected}, got {value!r}")


@dataclass(frozen=True, slots=True)
class RangeStatement:
    """A signed statement that records ``[first_seq, end_seq)`` of a tenant left the hot tier.

    Fields are validated on construction (not the signature: see
    :func:`verify_statement`).

    Examples
    --------
    >>> RangeStatement("purge", "s", "t", 5, 3, 9, "00" * 32, "2024-05-01T12:00:00.000000Z",
    ...                "", "0" * 16, "")
    Traceback (most recent call last):
    ...
    ValueError: statement: expected first_seq < end_seq <= tree_size, got 5, 3, 9
    """

    kind: str
    store_id: str
    tenant_id: str
    first_seq: int
    end_seq: int
    tree_size: int
    root_hash: str
    recorded_at: str
    detail: str
    key_id: str
    signature: str

    def __post_init__(self) -> None:
        if self.kind not in STATEMENT_KINDS:
            raise _bad("kind", f"one of {STATEMENT_KINDS}", self.kind)
        for name in ("store_id", "tenant_id"):
            value = getattr(self, name)
            if type(value) is not str or not value or _CONTROL.search(value):
                raise _bad(name, "a non-empty string without control characters", value)
        if type(self.detail) is not str or _CONTROL.search(self.detail):
            raise _bad("detail", "one line of text", self.detail)
        for name in ("first_seq", "end_seq", "tree_size"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise _bad(name, "an int >= 0", value)
        if not self.first_seq < self.end_seq <= self.tree_size:
            raise ValueError(
                "statement: expected first_seq < end_seq <= tree_size, got "
                f"{self.first_seq}, {self.end_seq}, {self.tree_size}"
            )
        if type(self.root_hash) is not str or not _HEX64.fullmatch(self.root_hash):
            raise _bad("root_hash", "64 lowercase hex characters", self.root_hash)
        if type(self.recorded_at) is not str or not _TIMESTAMP.fullmatch(self.recorded_at):
            raise _bad(
                "recorded_at", "RFC 3339 UTC like '2024-05-01T12:00:00.000000Z'", self.recorded_at
            )
        if type(self.key_id) is not str or not _KEY_ID.fullmatch(self.key_id):
            raise _bad("key_id", "16 to 64 lowercase hex characters", self.key_id)
        if type(self.signature) is not str:
            raise _bad("signature", "a base64 string", self.signature)

    def signed_message(self) -> bytes:
        """The exact bytes the signature covers: the header, then one field per line.

        Examples
        --------
        >>> st = RangeStatement("purge", "s", "t", 0, 1, 1, "00" * 32,
        ...                     "2024-05-01T12:00:00.000000Z", "", "0" * 16, "")
        >>> st.signed_message().count(b"\\n")
        10
        """
        lines = (
            self.kind,
            self.store_id,
            self.tenant_id,
            str(self.first_seq),
            str(self.end_seq),
            str(self.tree_size),
            self.root_hash,
            self.recorded_at,
            self.detail,
        )
        return STATEMENT_HEADER + "".join(f"{line}\n" for line in lines).encode()

    def covers(self, seq: int) -> bool:
        """Whether ``seq`` lies in the statement's range.

        Examples
        --------
        >>> st = RangeStatement("seal", "s", "t", 0, 10, 20, "00" * 32,
        ...                     "2024-05-01T12:00:00.000000Z", "", "0" * 16, "")
        >>> st.covers(9), st.covers(10)
        (True, False)
        """
        return self.first_seq <= seq < self.end_seq

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form.

        Examples
        --------
        >>> st = RangeStatement("seal", "s", "t", 0, 10, 20, "00" * 32,
        ...                     "2024-05-01T12:00:00.000000Z", "", "0" * 16, "")
        >>> st.to_dict()["end_seq"]
        10
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> RangeStatement:
        """Build a statement from :meth:`to_dict` output, checking every field.

        Raises
        ------
        ValueError
            Naming the field that is missing, unknown or malformed.

        Examples
        --------
        >>> RangeStatement.from_dict({"kind": "purge"})
        Traceback (most recent call last):
        ...
        ValueError: statement field 'store_id': missing
        """
        if not isinstance(data, dict):
            raise ValueError(f"statement: expected a JSON object, got {type(data).__name__}")
        for name in _FIELDS:
            if name not in data:
                raise ValueError(f"statement field {name!r}: missing")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"statement field {unknown[0]!r}: unknown field")
        return cls(**{name: data[name] for name in _FIELDS})


def sign_statement(
    private_key: Ed25519PrivateKey,
    *,
    kind: str,
    store_id: str,
    tenant_id: str,
    first_seq: int,
    end_seq: int,
    tree_size: int,
    root_hash: str | bytes,
    detail: str = "",
    recorded_at: str | None = None,
) -> RangeStatement:
    """Sign a statement that ``[first_seq, end_seq)`` of a tenant was purged or sealed.

    Examples
    --------
    >>> from auditkit.integrity.signing import generate_key
    >>> st = sign_statement(generate_key(), kind="seal", store_id="s", tenant_id="acme",
    ...                     first_seq=0, end_seq=5, tree_size=5, root_hash=bytes(32),
    ...                     detail="segment acme/2026-01.parquet")
    >>> st.kind, st.end_seq, len(st.signature) > 80
    ('seal', 5, True)
    """
    if isinstance(root_hash, bytes | bytearray):
        root_hash = bytes(root_hash).hex()
    when = recorded_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    unsigned = RangeStatement(
        kind, store_id, tenant_id, first_seq, end_seq, tree_size, root_hash, when, detail,
        key_id(private_key), "",
    )  # fmt: skip
    signature = base64.b64encode(private_key.sign(unsigned.signed_message())).decode("ascii")
    return RangeStatement(**{**unsigned.to_dict(), "signature": signature})


def verify_statement(st: RangeStatement, public_key: Ed25519PublicKey) -> None:
    """Check a statement's signature against the trusted key.

    Raises
    ------
    SignatureError
        Signed by another key, or a field or the signature was altered.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from auditkit.integrity.signing import generate_key
    >>> key = generate_key()
    >>> st = sign_statement(key, kind="purge", store_id="s", tenant_id="acme", first_seq=0,
    ...                     end_seq=5, tree_size=9, root_hash=bytes(32))
    >>> verify_statement(replace(st, end_seq=9), key.public_key())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.integrity.signing.SignatureError: purge statement ... (forged or altered)
    """
    fingerprint = key_fingerprint(public_key)
    where = (
        f"{st.kind} statement of tenant {st.tenant_id!r} for seq {st.first_seq}..{st.end_seq - 1}"
    )
    if not fingerprint.startswith(st.key_id):
        raise SignatureError(
            f"{where} is signed by a different key (key_id {st.key_id[:KEY_ID_LENGTH]}, "
            f"expected {fingerprint[:KEY_ID_LENGTH]})"
        )
    try:
        signature = decode_signature(st.signature)
        public_key.verify(signature, st.signed_message())
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureError(
            f"{where}: signature does not match its contents (forged or altered)"
        ) from None
