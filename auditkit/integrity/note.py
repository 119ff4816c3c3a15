"""C2SP signed notes, transparency-log checkpoints and witness cosignatures: the
formats transparency logs and their witnesses use, so that tools other than
auditkit can check its tree heads, and witnesses can cosign them.

Three parts, each following its C2SP specification:

* **signed notes** (c2sp.org/signed-note): a text ending in a newline, a blank
  line, then signature lines ``— <key name> base64(key ID ‖ signature)``; Ed25519
  signatures (type ``0x01``) over the text, key ID = SHA-256(name ‖ ``\\n`` ‖ type ‖
  public key)[:4]; verifier keys written ``<name>+<key ID hex>+base64(type ‖ key)``;
* **checkpoints** (c2sp.org/tlog-checkpoint): a note whose text is the log's origin,
  the tree size and the base64 root hash, one per line;
* **cosignatures** (c2sp.org/tlog-cosignature): a witness's Ed25519 signature (type
  ``0x04``) over ``cosignature/v1``, ``time <POSIX seconds>`` and the checkpoint text,
  carried as ``key ID ‖ timestamp (8 bytes, big-endian) ‖ signature``.

What it trusts: nothing in a note.  Verification treats every line as untrusted
and checks signatures only against keys the caller supplies; signature lines from
unknown keys are ignored, as the specification requires.

Examples
--------
>>> from auditkit.integrity.signing import generate_key
>>> key = generate_key()
>>> vkey = VerifierKey.ed25519("example.com/log", key.public_key())
>>> note = sign_note(checkpoint_text("example.com/log", 3, bytes(32)), "example.com/log", key)
>>> cp = parse_checkpoint(open_note(note, [vkey]))
>>> cp.origin, cp.size
('example.com/log', 3)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "COSIGNATURE_TYPE",
    "ED25519_TYPE",
    "NoteCheckpoint",
    "NoteError",
    "NoteSignature",
    "SignedNote",
    "VerifierKey",
    "checkpoint_text",
    "cosign",
    "open_note",
    "parse_checkpoint",
    "sign_note",
    "verify_cosignature",
]

ED25519_TYPE: Final = 0x01
"""Signature type of plain Ed25519 note signatures."""
COSIGNATURE_TYPE: Final = 0x04
"""Signature type of timestamped Ed25519 witness cosignatures (cosignature/v1)."""

_EM_DASH: Final = "\u2014 "
_MAX_SIGNATURES: Final = 100
_MAX_NOTE: Final = 1 << 20
_NAME: Final = re.compile(r"[^\s+]+")
_CONTROL: Final = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(ValueError):
    """A note, checkpoint, key or signature that is malformed or does not verify."""


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what}: expected base64, got {text[:40]!r}") from None


@dataclass(frozen=True)
class VerifierKey:
    """A key that notes can be checked with: name, signature type and Ed25519 key.

    Examples
    --------
    >>> v = VerifierKey.parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    >>> v.name, v.key_id.hex(), v.type
    ('PeterNeumann', 'c74f20a3', 1)
    """

    name: str
    type: int
    public_key: Ed25519PublicKey

    @classmethod
    def ed25519(
        cls, name: str, public_key: Ed25519PublicKey, *, type: int = ED25519_TYPE
    ) -> VerifierKey:
        """A verifier key for an Ed25519 public key (``type`` 0x04 for a witness).

        Examples
        --------
        >>> from auditkit.integrity.signing import generate_key
        >>> VerifierKey.ed25519("w", generate_key().public_key(), type=4).format()[:2]
        'w+'
        """
        if not _NAME.fullmatch(name):
            raise NoteError(f"key name: expected no spaces or '+', got {name!r}")
        if type not in (ED25519_TYPE, COSIGNATURE_TYPE):
            raise NoteError(f"key type: expected 0x01 or 0x04, got {type:#04x}")
        return cls(name, type, public_key)

    @property
    def key_id(self) -> bytes:
        """SHA-256(name ‖ newline ‖ type ‖ key)[:4].

        Examples
        --------
        >>> from auditkit.integrity.signing import generate_key
        >>> len(VerifierKey.ed25519("w", generate_key().public_key()).key_id)
        4
        """
        data = self.name.encode() + b"\n" + bytes([self.type]) + _raw(self.public_key)
        return hashlib.sha256(data).digest()[:4]

    def format(self) -> str:
        """The ``<name>+<key ID hex>+<base64(type ‖ key)>`` form.

        Examples
        --------
        >>> text = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        >>> VerifierKey.parse(text).format() == text
        True
        """
        material = bytes([self.type]) + _raw(self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{_b64(material)}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Read a verifier key; its key ID must match its name and key.

        Examples
        --------
        >>> VerifierKey.parse("PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        auditkit.integrity.note.NoteError: verifier key: key ID 00000000 does not match ...
        """
        parts = text.strip().split("+", 2)
        if (
            len(parts) != 3
            or not _NAME.fullmatch(parts[0])
            or not re.fullmatch(r"[0-9a-f]{8}", parts[1])
        ):
            raise NoteError(f"verifier key: expected <name>+<8 hex>+<base64>, got {text[:60]!r}")
        material = _unb64(parts[2], "verifier key")
        if len(material) != 33 or material[0] not in (ED25519_TYPE, COSIGNATURE_TYPE):
            raise NoteError("verifier key: expected an Ed25519 key of type 0x01 or 0x04")
        key = cls(parts[0], material[0], Ed25519PublicKey.from_public_bytes(material[1:]))
        if key.key_id.hex() != parts[1]:
            raise NoteError(
                f"verifier key: key ID {parts[1]} does not match its key ({key.key_id.hex()})"
            )
        return key


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, key ID and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def format(self) -> str:
        """The signature line (with its newline).

        Examples
        --------
        >>> NoteSignature("a", b"1234", b"s").format()
        '— a MTIzNHM=\\n'
        """
        return f"{_EM_DASH}{self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note's text (ending in a newline) and its signature lines.

    Examples
    --------
    >>> n = SignedNote.parse("hello\\n\\n— a MTIzNHM=\\n")
    >>> n.text, n.signatures[0].name
    ('hello\\n', 'a')
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    @classmethod
    def parse(cls, note: str | bytes) -> SignedNote:
        """Split a signed note into its text and signature lines, strictly.

        Examples
        --------
        >>> SignedNote.parse("no signatures\\n")
        Traceback (most recent call last):
        ...
        auditkit.integrity.note.NoteError: note: expected text, a blank line and signature lines
        """
        if isinstance(note, bytes):
            if len(note) > _MAX_NOTE:
                raise NoteError("note: larger than 1 MiB")
            try:
                note = note.decode("utf-8")
            except UnicodeDecodeError:
                raise NoteError("note: not valid UTF-8") from None
        if len(note) > _MAX_NOTE:
            raise NoteError("note: larger than 1 MiB")
        if _CONTROL.search(note):
            raise NoteError("note: control characters other than newline")
        split = note.rfind("\n\n")
        if split < 0 or not note.endswith("\n"):
            raise NoteError("note: expected text, a blank line and signature lines")
        text, block = note[: split + 1], note[split + 2 :]
        lines = block[:-1].split("\n")
        if not lines or len(lines) > _MAX_SIGNATURES:
            raise NoteError("note: expected 1 to 100 signature lines")
        sigs = []
        for line in lines:
            if not line.startswith(_EM_DASH):
                raise NoteError(f"note: expected a signature line, got {line[:40]!r}")
            name, _, value = line[len(_EM_DASH) :].partition(" ")
            if not _NAME.fullmatch(name) or " " in value:
                raise NoteError(f"note: malformed signature line {line[:40]!r}")
            raw = _unb64(value, "note signature")
            if len(raw) < 5:
                raise NoteError("note: signature shorter than a key ID")
            sigs.append(NoteSignature(name, raw[:4], raw[4:]))
        return cls(text, tuple(sigs))

    def format(self) -> str:
        """The note as text.

        Examples
        --------
        >>> SignedNote("t\\n", (NoteSignature("a", b"1234", b"s"),)).format()
        't\\n\\n— a MTIzNHM=\\n'
        """
        return self.text + "\n" + "".join(s.format() for s in self.signatures)


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign ``text`` (ending in a newline) as key ``name``: the whole signed note.

    Examples
    --------
    >>> from auditkit.integrity.signing import generate_key
    >>> note = sign_note("hello\\n", "example.com/k", generate_key())
    >>> note.splitlines()[2].startswith("— example.com/k ")
    True
    """
    if not text.endswith("\n") or "\n\n" in text or _CONTROL.search(text):
        raise NoteError("note text: expected non-empty lines ending in a newline")
    vkey = VerifierKey.ed25519(name, private_key.public_key())
    sig = NoteSignature(name, vkey.key_id, private_key.sign(text.encode()))
    return SignedNote(text, (sig,)).format()


def open_note(note: str | bytes | SignedNote, keys: list[VerifierKey]) -> str:
    """Return the note's text if a signature by one of ``keys`` (type 0x01) verifies.

    Lines from unknown keys are ignored; a line from a known key that fails is an
    error, and so is a note no known key signed.

    Examples
    --------
    >>> from auditkit.integrity.signing import generate_key
    >>> key, other = generate_key(), generate_key()
    >>> note = sign_note("hi\\n", "k", key)
    >>> open_note(note, [VerifierKey.ed25519("k", other.public_key())])
    Traceback (most recent call last):
    ...
    auditkit.integrity.note.NoteError: note: no signature by a known key
    """
    parsed = note if isinstance(note, SignedNote) else SignedNote.parse(note)
    known = {(k.name, k.key_id): k for k in keys if k.type == ED25519_TYPE}
    verified = False
    for sig in parsed.signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        try:
            key.public_key.verify(sig.signature, parsed.text.encode())
        except InvalidSignature:
            raise NoteError(f"note: the signature of {sig.name!r} does not verify") from None
        verified = True
    if not verified:
        raise NoteError("note: no signature by a known key")
    return parsed.text


def checkpoint_text(origin: str, size: int, root: bytes, extensions: tuple[str, ...] = ()) -> str:
    """The text of a checkpoint: origin, tree size, base64 root (and extension lines).

    Examples
    --------
    >>> checkpoint_text("example.com/log", 2, bytes(32)).splitlines()[1:]
    ['2', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=']
    """
    if not origin or "\n" in origin or len(root) != 32 or size < 0:
        raise NoteError("checkpoint: expected an origin, a size >= 0 and a 32-byte root")
    if any(not e or "\n" in e for e in extensions):
        raise NoteError("checkpoint: extension lines must be non-empty single lines")
    return "".join(f"{line}\n" for line in (origin, str(size), _b64(root), *extensions))


@dataclass(frozen=True)
class NoteCheckpoint:
    """A checkpoint's fields, parsed from a note's text (not yet trusted)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def parse_checkpoint(text: str) -> NoteCheckpoint:
    """Parse a checkpoint text (the text of a signed note).

    Examples
    --------
    >>> parse_checkpoint("log\\n007\\nAA==\\n")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.integrity.note.NoteError: checkpoint: tree size: expected a decimal ... got '007'
    """
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("checkpoint: expected at least three non-empty lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size):
        raise NoteError(
            f"checkpoint: tree size: expected a decimal without leading zeroes, got {size!r}"
        )
    raw = _unb64(root, "checkpoint: root hash")
    if len(raw) != 32:
        raise NoteError("checkpoint: root hash: expected 32 bytes")
    return NoteCheckpoint(origin, int(size), raw, tuple(lines[3:-1]))


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def cosign(text: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> NoteSignature:
    """A witness's cosignature (cosignature/v1) of a checkpoint text at ``timestamp``.

    Examples
    --------
    >>> from auditkit.integrity.signing import generate_key
    >>> w = generate_key()
    >>> sig = cosign(checkpoint_text("log", 1, bytes(32)), "witness.example", w, 1700000000)
    >>> verify_cosignature(checkpoint_text("log", 1, bytes(32)), sig,
    ...                    VerifierKey.ed25519("witness.example", w.public_key(), type=4))
    1700000000
    """
    if not 0 <= timestamp < 1 << 63:
        raise NoteError("cosignature: timestamp out of range")
    vkey = VerifierKey.ed25519(name, private_key.public_key(), type=COSIGNATURE_TYPE)
    signature = private_key.sign(_cosigned_message(text, timestamp))
    return NoteSignature(name, vkey.key_id, struct.pack(">Q", timestamp) + signature)


def verify_cosignature(text: str, sig: NoteSignature, witness: VerifierKey) -> int:
    """Check a witness cosignature of a checkpoint text; return its POSIX timestamp.

    Raises
    ------
    NoteError
        The line is not the witness's, or its signature does not verify.

    Examples
    --------
    >>> from auditkit.integrity.signing import generate_key
    >>> w = generate_key()
    >>> vk = VerifierKey.ed25519("w", w.public_key(), type=4)
    >>> sig = cosign("log\\n1\\n" + "A" * 43 + "=\\n", "w", w, 5)
    >>> verify_cosignature("log\\n2\\n" + "A" * 43 + "=\\n", sig, vk)
    Traceback (most recent call last):
    ...
    auditkit.integrity.note.NoteError: cosignature of 'w' does not verify
    """
    if witness.type != COSIGNATURE_TYPE:
        raise NoteError("cosignature: the witness key must be of type 0x04")
    if sig.name != witness.name or sig.key_id != witness.key_id:
        raise NoteError(f"cosignature: the line is by {sig.name!r}, not by {witness.name!r}")
    if len(sig.signature) != 8 + 64:
        raise NoteError("cosignature: expected an 8-byte timestamp and a 64-byte signature")
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    try:
        witness.public_key.verify(sig.signature[8:], _cosigned_message(text, timestamp))
    except InvalidSignature:
        raise NoteError(f"cosignature of {sig.name!r} does not verify") from None
    return int(timestamp)
