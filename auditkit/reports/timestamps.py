"""RFC 3161 time-stamps: an outside authority's signed word on *when* a bundle existed.

A checkpoint signed with the store's own key says nothing about when it was signed that
the key holder could not have said later.  A time-stamping authority (TSA) configured in
the report configuration (``timestamp: {url: ..., roots: tsa-roots.pem}``) signs the
SHA-256 of the bundle's ``manifest.json``; the response is kept beside it as
``manifest.tsr``.  Anyone can check it with OpenSSL::

    openssl ts -verify -data manifest.json -in manifest.tsr -CAfile tsa-roots.pem

The request carries a nonce, and the response is checked (status granted, the imprint is
the manifest's hash, the nonce is ours, the signature chains to the configured roots)
before it is written.  Needs the ``rfc3161-client`` package (``pip install
auditkit[timestamp]``).

Examples
--------
>>> TIMESTAMP_MEMBER
'manifest.tsr'
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from auditkit.errors import AuditkitError, UsageError

__all__ = ["TIMESTAMP_MEMBER", "TimestampCheck", "request_timestamp", "verify_timestamp"]

TIMESTAMP_MEMBER: Final = "manifest.tsr"
_CONTENT_TYPE: Final = "application/timestamp-query"


def _client() -> Any:
    try:
        import rfc3161_client
    except ImportError as exc:  # an optional extra
        raise UsageError(
            "RFC 3161 time-stamps need the rfc3161-client package: "
            "pip install 'auditkit[timestamp]'"
        ) from exc
    return rfc3161_client


def _roots(path: str | Path) -> list[Any]:
    from cryptography import x509

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"timestamp roots {path}: no such file")
    try:
        return list(x509.load_pem_x509_certificates(file.read_bytes()))
    except ValueError:
        raise UsageError(f"timestamp roots {path}: expected PEM certificates") from None


@dataclass(frozen=True)
class TimestampCheck:
    """What a verified time-stamp says."""

    time: datetime
    serial: int
    authority: str

    def describe(self) -> str:
        """One line for people."""
        return f"time-stamped {self.time:%Y-%m-%d %H:%M:%S} UTC by {self.authority}"


def verify_timestamp(
    response: bytes, data: bytes, *, roots: str | Path, nonce: int | None = None
) -> TimestampCheck:
    """Check an RFC 3161 response over ``data`` against the root certificates in ``roots``.

    Raises
    ------
    IntegrityError
        When the response is not granted, covers other data, carries another nonce, or
        its signature does not chain to ``roots``.
    """
    from auditkit.errors import IntegrityError

    client = _client()
    try:
        tsr = client.decode_timestamp_response(response)
    except Exception as exc:  # malformed DER
        raise IntegrityError(f"time-stamp: not an RFC 3161 response ({exc})") from None
    builder = client.VerifierBuilder(roots=_roots(roots), nonce=nonce)
    try:
        builder.build().verify_message(tsr, data)
    except client.VerificationError as exc:
        raise IntegrityError(f"time-stamp: does not verify: {exc}") from None
    info = tsr.tst_info
    name = getattr(info, "name", None)
    return TimestampCheck(info.gen_time, int(info.serial_number), str(name) if name else "the TSA")


def request_timestamp(
    url: str, data: bytes, *, roots: str | Path, timeout: float = 15.0
) -> tuple[bytes, TimestampCheck]:
    """Ask the TSA at ``url`` to time-stamp SHA-256(``data``); the DER response, checked.

    Examples
    --------
    >>> request_timestamp("ftp://tsa.example", b"x", roots="r.pem")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: timestamp url: expected http(s)://..., got 'ftp://tsa.example'
    """
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"timestamp url: expected http(s)://..., got {url!r}")
    client = _client()
    req = (
        client.TimestampRequestBuilder()
        .data(data)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    http = urllib.request.Request(
        url, data=req.as_bytes(), headers={"Content-Type": _CONTENT_TYPE}, method="POST"
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout) as answer:  # http(s) only, checked above
            body = answer.read(1 << 20)
    except (urllib.error.URLError, OSError) as exc:
        why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        why = getattr(why, "strerror", None) or why  # no Python repr: the system's words
        raise AuditkitError(f"time-stamp: {url} did not answer: {why}") from None
    return body, verify_timestamp(body, data, roots=roots, nonce=req.nonce)
