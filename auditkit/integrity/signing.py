"""Ed25519 keys and signed checkpoints (signed tree heads).

A :class:`Checkpoint` commits to a tenant's tree at one size: store id,
tenant, tree size, root hash and time, signed with the store's Ed25519 key.
The signed bytes are a fixed text (:meth:`Checkpoint.signed_message`), so
any Ed25519 implementation can check a checkpoint exported to a file.

Keys are PEM files: the private key PKCS#8 (mode 0o600, never overwritten),
the public key SubjectPublicKeyInfo. A key is named by its fingerprint, the
hex SHA-256 of the raw 32-byte public key; checkpoints carry its first 16 hex
characters as ``key_id``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "CHECKPOINT_HEADER",
    "KEY_ID_LENGTH",
    "Checkpoint",
    "SignatureError",
    "generate_key",
    "key_fingerprint",
    "key_id",
    "load_private_key",
    "load_public_key",
    "public_key_pem",
    "save_private_key",
    "sign_checkpoint",
    "verify_checkpoint",
]

CHECKPOINT_HEADER = b"auditkit-checkpoint/v1\n"
"""First line of every checkpoint's signed message (names the format)."""

KEY_ID_LENGTH = 16
"""Hex characters of the key fingerprint that a checkpoint's ``key_id`` holds."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16,64}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_SIGNATURE_SIZE = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

StrPath = str | os.PathLike[str]


class SignatureError(ValueError):
    """A key cannot be loaded, or a checkpoint's signature does not verify.

    The message says which: signed by a different key (with both key ids), or
    a signature that does not match the checkpoint's contents.
    """


# ------------------------------------------------------------------------------ keys


def decode_signature(text: str) -> bytes:
    """The bytes of a base64 signature, refusing any text but the one canonical
    encoding of those bytes.

    The last character before padding carries bits that decoding ignores, so one
    signature has several texts; where a signature's text names what it signs (the
    manifest lists revoked access rows by a digest of it), a second text would be a
    second name for the same row.

    Raises
    ------
    ValueError
        For text that is not base64, or not the canonical base64 of its bytes.

    Examples
    --------
    >>> decode_signature("QUI=")
    b'AB'
    >>> decode_signature("QUJ=")
    Traceback (most recent call last):
        ...
    ValueError: not the canonical base64 of its bytes
    """
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not the canonical base64 of its bytes")
    return raw


def generate_key() -> Ed25519PrivateKey:
    """Return a new random Ed25519 private key.

    Examples
    --------
    >>> key = generate_key()
    >>> len(key_fingerprint(key))
    64
    """
    return Ed25519PrivateKey.generate()


def save_private_key(
    key: Ed25519PrivateKey, path: StrPath, *, password: bytes | None = None
) -> Path:
    """Write a private key as PEM (PKCS#8) readable by its owner only (mode 0o600).

    Parameters
    ----------
    key
        The key to save.
    path
        Where to write it. An existing file is never overwritten.
    password
        If given, the PEM is encrypted with it.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    FileExistsError
        If ``path`` exists.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "store.key"
    >>> key = generate_key()
    >>> oct(save_private_key(key, path).stat().st_mode & 0o777)
    '0o600'
    >>> key_fingerprint(load_private_key(path)) == key_fingerprint(key)
    True
    """
    path = Path(path)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FileExistsError(f"{path}: refusing to overwrite an existing key file") from None
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(pem)
    return path


def load_private_key(path: StrPath, *, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from a PEM file written by :func:`save_private_key`.

    Parameters
    ----------
    path
        The PEM file.
    password
        The password, if the key was saved encrypted.

    Returns
    -------
    Ed25519PrivateKey
        The key.

    Raises
    ------
    SignatureError
        If the file holds no PEM private key, a key of another type, or the
        password is wrong or missing.
    OSError
        If the file cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = save_private_key(generate_key(), pathlib.Path(tempfile.mkdtemp()) / "k.pem")
    >>> type(load_private_key(path)).__name__
    'Ed25519PrivateKey'
    """
    data = Path(path).read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SignatureError(f"{path}: expected a PEM Ed25519 private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: expected an Ed25519 private key, got {type(key).__name__}")
    return key


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    if isinstance(key, Ed25519PublicKey):
        return key
    raise TypeError(f"expected an Ed25519 key, got {type(key).__name__}")


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the public key as PEM text (SubjectPublicKeyInfo).

    Parameters
    ----------
    key
        A private key (its public half is used) or a public key.

    Returns
    -------
    str
        ``-----BEGIN PUBLIC KEY-----`` ... text, to publish or keep outside
        the store.

    Examples
    --------
    >>> public_key_pem(generate_key()).splitlines()[0]
    '-----BEGIN PUBLIC KEY-----'
    """
    return (
        _public(key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def load_public_key(pem_or_path: str | bytes | os.PathLike[str]) -> Ed25519PublicKey:
    """Load an Ed25519 public key from PEM text or from a PEM file.

    Parameters
    ----------
    pem_or_path
        PEM text (``str`` or ``bytes`` holding ``-----BEGIN``), or the path
        of a file holding it.

    Returns
    -------
    Ed25519PublicKey
        The key.

    Raises
    ------
    SignatureError
        If the text is not a PEM Ed25519 public key.
    OSError
        If a path is given and cannot be read.

    Examples
    --------
    >>> key = generate_key()
    >>> public = load_public_key(public_key_pem(key))
    >>> key_fingerprint(public) == key_fingerprint(key)
    True
    """
    source: str
    if isinstance(pem_or_path, bytes) and b"-----BEGIN" in pem_or_path:
        data, source = pem_or_path, "PEM text"
    elif isinstance(pem_or_path, str) and "-----BEGIN" in pem_or_path:
        data, source = pem_or_path.encode("ascii", "replace"), "PEM text"
    else:
        path = Path(os.fsdecode(pem_or_path))
        data, source = path.read_bytes(), str(path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureError(f"{source}: expected a PEM Ed25519 public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{source}: expected an Ed25519 public key, got {type(key).__name__}")
    return key


def key_fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the key's fingerprint: hex SHA-256 of the raw 32-byte public key.

    Parameters
    ----------
    key
        A private key (its public half is used) or a public key.

    Returns
    -------
    str
        64 lowercase hex characters; :func:`key_id` is its first 16.

    Examples
    --------
    >>> raw = bytes(range(32))
    >>> public = Ed25519PublicKey.from_public_bytes(raw)
    >>> key_fingerprint(public) == hashlib.sha256(raw).hexdigest()
    True
    """
    raw = _public(key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the short key id that checkpoints carry: the fingerprint's first 16 hex chars.

    Examples
    --------
    >>> key = generate_key()
    >>> key_fingerprint(key).startswith(key_id(key)), len(key_id(key))
    (True, 16)
    """
    return key_fingerprint(key)[:KEY_ID_LENGTH]


# ------------------------------------------------------------------------ checkpoints


def _format_timestamp(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z`` (e.g. ``2024-05-01T12:00:00.000000Z``)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp: expected a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _field_error(name: str, expected: str, value: object) -> ValueError:
    return ValueError(f"checkpoint field {name!r}: expected {expected}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement of a tenant's tree: size, root hash and time.

    Build one with :func:`sign_checkpoint`; check one with
    :func:`verify_checkpoint`. Fields are validated on construction.

    Parameters
    ----------
    store_id, tenant_id
        Which store and tenant (non-empty, no line breaks or other control
        characters: the signed message is line-based).
    tree_size
        Number of leaves in the tree (``>= 0``).
    root_hash
        The tree's root hash, 64 lowercase hex characters.
    timestamp
        When it was signed: RFC 3339 UTC with microseconds and ``Z``.
    key_id
        The signing key's id: 16 to 64 leading hex characters of its
        fingerprint (see :func:`key_id`). Not part of the signed message.
    signature
        Base64 of the 64-byte Ed25519 signature of :meth:`signed_message`.

    Examples
    --------
    >>> key = generate_key()
    >>> empty_root = hashlib.sha256(b"").hexdigest()
    >>> cp = sign_checkpoint(key, store_id="s1", tenant_id="acme", tree_size=0,
    ...                      root_hash=empty_root, timestamp="2024-05-01T12:00:00.000000Z")
    >>> print(cp.signed_message().decode(), end="")
    auditkit-checkpoint/v1
    s1
    acme
    0
    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
    2024-05-01T12:00:00.000000Z
    >>> Checkpoint.from_dict(cp.to_dict()) == cp
    True
    """

    store_id: str
    tenant_id: str
    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str

    def __post_init__(self) -> None:
        for name in ("store_id", "tenant_id"):
            value = getattr(self, name)
            if type(value) is not str or not value or _CONTROL.search(value):
                raise _field_error(name, "a non-empty string without control characters", value)
        if type(self.tree_size) is not int or self.tree_size < 0:
            raise _field_error("tree_size", "an int >= 0", self.tree_size)
        if type(self.root_hash) is not str or not _HEX64.fullmatch(self.root_hash):
            raise _field_error("root_hash", "64 lowercase hex characters", self.root_hash)
        if type(self.timestamp) is not str or not _TIMESTAMP.fullmatch(self.timestamp):
            raise _field_error(
                "timestamp", "RFC 3339 UTC like '2024-05-01T12:00:00.000000Z'", self.timestamp
            )
        try:
            datetime.strptime(self.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        except ValueError:
            raise _field_error("timestamp", "a valid date and time", self.timestamp) from None
        if type(self.key_id) is not str or not _KEY_ID.fullmatch(self.key_id):
            raise _field_error("key_id", "16 to 64 lowercase hex characters", self.key_id)
        if type(self.signature) is not str:
            raise _field_error("signature", "a base64 string", self.signature)

    def signed_message(self) -> bytes:
        """Return the exact bytes that the signature covers.

        ``auditkit-checkpoint/v1``, then store id, tenant id, tree size, root
        hash and timestamp, each on its own line (UTF-8, ``\\n`` endings).

        Examples
        --------
        >>> cp = Checkpoint("s", "t", 3, "ab" * 32, "2024-05-01T12:00:00.000000Z",
        ...                 "0" * 16, "")
        >>> cp.signed_message().count(b"\\n")
        6
        """
        return (
            CHECKPOINT_HEADER
            + (
                f"{self.store_id}\n{self.tenant_id}\n{self.tree_size}\n"
                f"{self.root_hash}\n{self.timestamp}\n"
            ).encode()
        )

    @property
    def root_bytes(self) -> bytes:
        """The root hash as 32 bytes.

        Examples
        --------
        >>> Checkpoint("s", "t", 0, "00" * 32, "2024-05-01T12:00:00.000000Z",
        ...            "0" * 16, "").root_bytes == bytes(32)
        True
        """
        return bytes.fromhex(self.root_hash)

    def to_dict(self) -> dict[str, Any]:
        """Return the checkpoint as a plain JSON-ready dict (field name -> value).

        Examples
        --------
        >>> cp = Checkpoint("s", "t", 0, "00" * 32, "2024-05-01T12:00:00.000000Z",
        ...                 "0" * 16, "")
        >>> sorted(cp.to_dict())
        ['key_id', 'root_hash', 'signature', 'store_id', 'tenant_id', 'timestamp', 'tree_size']
        """
        return {
            "store_id": self.store_id,
            "tenant_id": self.tenant_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        """Build a checkpoint from :meth:`to_dict` output, checking every field.

        Parameters
        ----------
        data
            A mapping with exactly the seven checkpoint fields.

        Returns
        -------
        Checkpoint
            The checkpoint (not yet verified: see :func:`verify_checkpoint`).

        Raises
        ------
        ValueError
            Naming the field that is missing, unknown or malformed.

        Examples
        --------
        >>> Checkpoint.from_dict({"store_id": "s"})
        Traceback (most recent call last):
        ...
        ValueError: checkpoint field 'tenant_id': missing
        """
        if not isinstance(data, dict):
            raise ValueError(f"checkpoint: expected a JSON object, got {type(data).__name__}")
        names = [
            "store_id",
            "tenant_id",
            "tree_size",
            "root_hash",
            "timestamp",
            "key_id",
            "signature",
        ]
        for name in names:
            if name not in data:
                raise ValueError(f"checkpoint field {name!r}: missing")
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"checkpoint field {unknown[0]!r}: unknown field")
        return cls(**{name: data[name] for name in names})


def sign_checkpoint(
    private_key: Ed25519PrivateKey,
    *,
    store_id: str,
    tenant_id: str,
    tree_size: int,
    root_hash: str | bytes,
    timestamp: str | datetime | None = None,
) -> Checkpoint:
    """Sign a checkpoint of a tenant's tree.

    Parameters
    ----------
    private_key
        The store's Ed25519 key.
    store_id, tenant_id
        Which store and tenant.
    tree_size
        Number of leaves in the tree.
    root_hash
        The tree's root: 64 lowercase hex characters, or 32 bytes.
    timestamp
        When; an aware ``datetime`` or an RFC 3339 UTC string with
        microseconds and ``Z``. Defaults to now.

    Returns
    -------
    Checkpoint
        The signed checkpoint.

    Raises
    ------
    ValueError
        Naming a malformed field.

    Examples
    --------
    >>> key = generate_key()
    >>> cp = sign_checkpoint(key, store_id="s1", tenant_id="acme", tree_size=1,
    ...                      root_hash=bytes(32))
    >>> verify_checkpoint(cp, key.public_key())
    >>> cp.key_id == key_id(key), cp.timestamp.endswith("Z")
    (True, True)
    """
    if isinstance(root_hash, bytes | bytearray):
        if len(root_hash) != 32:
            raise _field_error("root_hash", "32 bytes", root_hash)
        root_hash = bytes(root_hash).hex()
    if timestamp is None:
        timestamp = datetime.now(UTC)
    if isinstance(timestamp, datetime):
        timestamp = _format_timestamp(timestamp)
    unsigned = Checkpoint(
        store_id=store_id,
        tenant_id=tenant_id,
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=timestamp,
        key_id=key_id(private_key),
        signature="",
    )
    signature = private_key.sign(unsigned.signed_message())
    return Checkpoint(
        store_id=store_id,
        tenant_id=tenant_id,
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=timestamp,
        key_id=unsigned.key_id,
        signature=base64.b64encode(signature).decode("ascii"),
    )


def verify_checkpoint(cp: Checkpoint, public_key: Ed25519PublicKey | Ed25519PrivateKey) -> None:
    """Check a checkpoint's signature against the trusted public key.

    Parameters
    ----------
    cp
        The checkpoint.
    public_key
        The key the checkpoint must be signed with (a private key stands for
        its public half).

    Raises
    ------
    SignatureError
        ``"signed by a different key (key_id X, expected Y)"`` when the
        checkpoint names another key and the signature does not verify;
        ``"signature does not match the checkpoint contents ..."`` when a
        signed field or the signature was altered; also for a key id that was
        altered on a valid signature, and for a malformed signature.

    Examples
    --------
    >>> key, other = generate_key(), generate_key()
    >>> cp = sign_checkpoint(key, store_id="s", tenant_id="t", tree_size=0,
    ...                      root_hash=bytes(32))
    >>> verify_checkpoint(cp, key.public_key())
    >>> verify_checkpoint(cp, other.public_key())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.integrity.signing.SignatureError: checkpoint ... signed by a different key (key_id ...
    """
    public = _public(public_key)
    fingerprint = key_fingerprint(public)
    expected = fingerprint[:KEY_ID_LENGTH]
    where = f"checkpoint of tenant {cp.tenant_id!r} at size {cp.tree_size}"
    try:
        signature = decode_signature(cp.signature)
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != _SIGNATURE_SIZE:
        raise SignatureError(
            f"{where}: signature: expected base64 of a {_SIGNATURE_SIZE}-byte Ed25519 "
            f"signature, got {cp.signature[:24]!r}{'...' if len(cp.signature) > 24 else ''}"
        )
    try:
        public.verify(signature, cp.signed_message())
        valid = True
    except InvalidSignature:
        valid = False
    same_key = fingerprint.startswith(cp.key_id)
    if valid and same_key:
        return
    if valid:
        raise SignatureError(
            f"{where}: key_id {cp.key_id} does not match the signing key (key_id {expected}), "
            "although the signature verifies: the key_id field was altered"
        )
    if not same_key:
        raise SignatureError(
            f"{where} is signed by a different key (key_id {cp.key_id[:KEY_ID_LENGTH]}, "
            f"expected {expected})"
        )
    raise SignatureError(
        f"{where}: signature does not match the checkpoint contents (key_id {expected}): "
        "a signed field (store_id, tenant_id, tree_size, root_hash, timestamp) "
        "or the signature was altered"
    )
