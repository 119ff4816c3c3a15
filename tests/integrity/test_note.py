"""C2SP signed notes, checkpoints and cosignatures, checked against the published
examples of the Go reference implementation (golang.org/x/mod/sumdb/note) and a
real cosigned checkpoint of a Certificate Transparency log, and by property."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.integrity import generate_key
from auditkit.integrity.note import (
    NoteError,
    SignedNote,
    VerifierKey,
    checkpoint_text,
    cosign,
    open_note,
    parse_checkpoint,
    sign_note,
    verify_cosignature,
)

# golang.org/x/mod/sumdb/note: the package documentation's example key pair and note
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_NOTE = (
    PETER_TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"  # noqa: E501
)

# a checkpoint of the CT log arche2025h1.staging.ct.transparency.dev, signed by the log
# (Ed25519 note signature and an RFC 6962 one) and cosigned by four witnesses
CT_TEXT = (
    "arche2025h1.staging.ct.transparency.dev\n1432088532\n"
    "U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
)
CT_NOTE = CT_TEXT + (
    "\n"
    "— arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n"  # noqa: E501
    "— arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n"  # noqa: E501
    "— transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n"  # noqa: E501
    "— witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n"  # noqa: E501
    "— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n"  # noqa: E501
    "— witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n"  # noqa: E501
)
CT_LOG_VKEY = (
    "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
)
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"


def _peter_private() -> Ed25519PrivateKey:
    material = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert material[0] == 1
    return Ed25519PrivateKey.from_private_bytes(material[1:])


def test_signing_reproduces_the_published_note_byte_for_byte() -> None:
    key = _peter_private()
    assert VerifierKey.ed25519("PeterNeumann", key.public_key()).format() == PETER_VKEY
    assert sign_note(PETER_TEXT, "PeterNeumann", key) == PETER_NOTE


def test_the_published_note_opens_and_any_change_is_refused() -> None:
    vkey = VerifierKey.parse(PETER_VKEY)
    assert open_note(PETER_NOTE, [vkey]) == PETER_TEXT
    with pytest.raises(NoteError, match="does not verify"):
        open_note(PETER_NOTE.replace("cryptography", "cryptographY"), [vkey])
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(PETER_NOTE, [VerifierKey.ed25519("PeterNeumann", generate_key().public_key())])


def test_a_real_ct_checkpoint_verifies_with_its_log_key_and_a_witness() -> None:
    # the log's own Ed25519 line verifies; its RFC 6962 line (another key ID) is ignored
    assert open_note(CT_NOTE, [VerifierKey.parse(CT_LOG_VKEY)]) == CT_TEXT
    cp = parse_checkpoint(CT_TEXT)
    assert (cp.origin, cp.size) == ("arche2025h1.staging.ct.transparency.dev", 1432088532)
    witness = VerifierKey.parse(REMORA_VKEY)
    (line,) = [s for s in SignedNote.parse(CT_NOTE).signatures if s.name == "remora.n621.de"]
    when = verify_cosignature(CT_TEXT, line, witness)
    assert when > 1_700_000_000
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(CT_TEXT.replace("1432088532", "1432088533"), line, witness)


@pytest.mark.parametrize(
    "note",
    [
        "",
        "text\n",
        "text\n\n",
        "text\n\n- a AAAAAAA=\n",
        "text\n\n— a not base64\n",
        "text\n\n— a QUJD\n",  # shorter than a key ID and a signature
        "te\x01xt\n\n— a QUJDREU=\n",
        "text\n\n— a+b QUJDREU=\n",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(NoteError):
        SignedNote.parse(note)


@settings(max_examples=60, deadline=None)
@given(
    origin=st.from_regex(r"[a-z0-9./-]{1,40}", fullmatch=True),
    size=st.integers(0, 2**63),
    root=st.binary(min_size=32, max_size=32),
    when=st.integers(0, 2**40),
)
def test_checkpoints_and_cosignatures_round_trip(
    origin: str, size: int, root: bytes, when: int
) -> None:
    log, witness = generate_key(), generate_key()
    text = checkpoint_text(origin, size, root)
    note = sign_note(text, origin, log)
    opened = open_note(note, [VerifierKey.ed25519(origin, log.public_key())])
    cp = parse_checkpoint(opened)
    assert (cp.origin, cp.size, cp.root) == (origin, size, root)
    sig = cosign(text, "w.example", witness, when)
    cosigned = SignedNote.parse(note + sig.format())
    assert cosigned.text == text and [s.name for s in cosigned.signatures] == [origin, "w.example"]
    assert open_note(cosigned, [VerifierKey.ed25519(origin, log.public_key())]) == text
    vkey = VerifierKey.ed25519("w.example", witness.public_key(), type=4)
    assert verify_cosignature(text, sig, vkey) == when
    assert VerifierKey.parse(vkey.format()) == vkey
