"""Ed25519 keys and signed checkpoints."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditkit.integrity import (
    Checkpoint,
    SignatureError,
    generate_key,
    key_fingerprint,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    save_private_key,
    sign_checkpoint,
    verify_checkpoint,
)

# RFC 8032 section 7.1, TEST 1: secret key and the public key it yields.
RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
ROOT = hashlib.sha256(b"root").hexdigest()
TIME = "2024-05-01T12:00:00.123456Z"


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_SECRET))


@pytest.fixture(scope="module")
def other_key() -> Ed25519PrivateKey:
    return generate_key()


def make_checkpoint(key: Ed25519PrivateKey, **overrides: Any) -> Checkpoint:
    fields: dict[str, Any] = {
        "store_id": "store-1",
        "tenant_id": "acme",
        "tree_size": 42,
        "root_hash": ROOT,
        "timestamp": TIME,
    }
    fields.update(overrides)
    return sign_checkpoint(key, **fields)


# -- keys


def test_fingerprint_is_sha256_of_raw_public_key(key: Ed25519PrivateKey) -> None:
    want = hashlib.sha256(bytes.fromhex(RFC8032_PUBLIC)).hexdigest()
    assert key_fingerprint(key) == want
    assert key_fingerprint(key.public_key()) == want
    assert key_id(key) == want[:16]


def test_save_and_load_private_key(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = tmp_path / "store.key"
    assert save_private_key(key, str(path)) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key_fingerprint(load_private_key(path)) == key_fingerprint(key)


def test_save_refuses_to_overwrite(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = tmp_path / "store.key"
    path.write_text("precious")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        save_private_key(key, path)
    assert path.read_text() == "precious"


def test_encrypted_private_key(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    path = save_private_key(key, tmp_path / "k.pem", password=b"s3cret")
    assert b"ENCRYPTED" in path.read_bytes()
    assert key_fingerprint(load_private_key(path, password=b"s3cret")) == key_fingerprint(key)
    with pytest.raises(SignatureError, match=str(path)):
        load_private_key(path)
    with pytest.raises(SignatureError, match=str(path)):
        load_private_key(path, password=b"wrong")


def test_load_private_key_rejects_other_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(SignatureError, match="expected a PEM Ed25519 private key"):
        load_private_key(garbage)
    ed448 = tmp_path / "ed448.pem"
    ed448.write_bytes(
        Ed448PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(SignatureError, match="expected an Ed25519 private key, got"):
        load_private_key(ed448)
    with pytest.raises(FileNotFoundError):
        load_private_key(tmp_path / "missing.pem")


def test_public_key_pem_round_trips(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    pem = public_key_pem(key)
    assert pem == public_key_pem(key.public_key())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    path = tmp_path / "store.pub"
    path.write_text(pem)
    for source in (pem, pem.encode(), path, str(path)):
        assert key_fingerprint(load_public_key(source)) == key_fingerprint(key)


def test_load_public_key_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="PEM text: expected a PEM Ed25519 public key"):
        load_public_key("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    ed448_pem = (
        Ed448PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SignatureError, match="expected an Ed25519 public key, got"):
        load_public_key(ed448_pem)
    with pytest.raises(FileNotFoundError):
        load_public_key(tmp_path / "missing.pub")
    with pytest.raises(TypeError, match="expected an Ed25519 key"):
        key_fingerprint("not a key")  # type: ignore[arg-type]


# -- checkpoints


def test_sign_and_verify(key: Ed25519PrivateKey) -> None:
    cp = make_checkpoint(key)
    verify_checkpoint(cp, key.public_key())
    verify_checkpoint(cp, key)  # a private key stands for its public half
    assert cp.key_id == key_id(key)
    assert len(base64.b64decode(cp.signature)) == 64


def test_signed_message_is_stable(key: Ed25519PrivateKey) -> None:
    cp = make_checkpoint(key)
    assert cp.signed_message() == (
        b"auditkit-checkpoint/v1\nstore-1\nacme\n42\n"
        + ROOT.encode()
        + b"\n"
        + TIME.encode()
        + b"\n"
    )
    # Ed25519 is deterministic: this golden value pins the message format.
    assert cp.signature == (
        "TjN2FzNNIsm3RRpUCP7TfXyErFtwo3GOMTeWU2JZfoLOiR0btHW/ZNsWXNALthENawz1U1potgFh3xVZsQN8BQ=="
    )


def test_signed_message_is_utf8(key: Ed25519PrivateKey) -> None:
    cp = make_checkpoint(key, tenant_id="zoë-café")
    assert b"\nzo\xc3\xab-caf\xc3\xa9\n" in cp.signed_message()
    verify_checkpoint(cp, key)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("store_id", "store-2"),
        ("tenant_id", "acme2"),
        ("tree_size", 41),
        ("tree_size", 43),
        ("root_hash", hashlib.sha256(b"other").hexdigest()),
        ("timestamp", "2024-05-01T12:00:00.123457Z"),
    ],
)
def test_tampered_field_fails(key: Ed25519PrivateKey, field: str, value: Any) -> None:
    cp = dataclasses.replace(make_checkpoint(key), **{field: value})
    with pytest.raises(SignatureError, match="signature does not match the checkpoint contents"):
        verify_checkpoint(cp, key)


def test_tampered_signature_fails(key: Ed25519PrivateKey) -> None:
    cp = make_checkpoint(key)
    raw = bytearray(base64.b64decode(cp.signature))
    raw[10] ^= 1
    bad = dataclasses.replace(cp, signature=base64.b64encode(bytes(raw)).decode())
    with pytest.raises(SignatureError, match="does not match the checkpoint contents"):
        verify_checkpoint(bad, key)


@pytest.mark.parametrize("signature", ["", "!!notbase64!!", "AAAA", "A" * 90 + "==", "x" * 200])
def test_malformed_signature_fails(key: Ed25519PrivateKey, signature: str) -> None:
    cp = dataclasses.replace(make_checkpoint(key), signature=signature)
    with pytest.raises(SignatureError, match="expected base64 of a 64-byte Ed25519 signature"):
        verify_checkpoint(cp, key)


def test_wrong_key_fails_with_both_key_ids(
    key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    cp = make_checkpoint(key)
    with pytest.raises(SignatureError) as info:
        verify_checkpoint(cp, other_key.public_key())
    assert str(info.value) == (
        "checkpoint of tenant 'acme' at size 42 is signed by a different key "
        f"(key_id {key_id(key)}, expected {key_id(other_key)})"
    )


def test_key_id_altered_on_valid_signature(
    key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    cp = dataclasses.replace(make_checkpoint(key), key_id=key_id(other_key))
    with pytest.raises(SignatureError, match="key_id field was altered"):
        verify_checkpoint(cp, key)
    # Signed with another key but relabelled with ours: the contents do not verify.
    forged = dataclasses.replace(make_checkpoint(other_key), key_id=key_id(key))
    with pytest.raises(SignatureError, match="does not match the checkpoint contents"):
        verify_checkpoint(forged, key)


def test_full_fingerprint_is_accepted_as_key_id(key: Ed25519PrivateKey) -> None:
    cp = dataclasses.replace(make_checkpoint(key), key_id=key_fingerprint(key))
    verify_checkpoint(cp, key)


def test_dict_round_trip(key: Ed25519PrivateKey) -> None:
    cp = make_checkpoint(key)
    data = cp.to_dict()
    assert data == {
        "store_id": "store-1",
        "tenant_id": "acme",
        "tree_size": 42,
        "root_hash": ROOT,
        "timestamp": TIME,
        "key_id": key_id(key),
        "signature": cp.signature,
    }
    back = Checkpoint.from_dict(data)
    assert back == cp
    verify_checkpoint(back, key)
    assert cp.root_bytes == bytes.fromhex(ROOT)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tree_size": "42"}, "'tree_size': expected an int >= 0, got '42'"),
        ({"tree_size": True}, "'tree_size': expected an int >= 0"),
        ({"tree_size": -1}, "'tree_size': expected an int >= 0"),
        ({"root_hash": ROOT.upper()}, "'root_hash': expected 64 lowercase hex"),
        ({"root_hash": ROOT[:-2]}, "'root_hash': expected 64 lowercase hex"),
        ({"timestamp": "2024-05-01T12:00:00Z"}, "'timestamp': expected RFC 3339 UTC"),
        ({"timestamp": "2024-05-01 12:00:00.000000Z"}, "'timestamp': expected RFC 3339 UTC"),
        ({"timestamp": "2024-13-01T12:00:00.000000Z"}, "'timestamp': expected a valid date"),
        ({"timestamp": 1714564800}, "'timestamp': expected RFC 3339 UTC"),
        ({"tenant_id": "acme\n42"}, "'tenant_id': expected a non-empty string without control"),
        ({"tenant_id": ""}, "'tenant_id': expected a non-empty string"),
        ({"store_id": None}, "'store_id': expected a non-empty string"),
        ({"key_id": "XYZ"}, "'key_id': expected 16 to 64 lowercase hex"),
        ({"key_id": "ab" * 4}, "'key_id': expected 16 to 64 lowercase hex"),
        ({"signature": None}, "'signature': expected a base64 string"),
    ],
)
def test_from_dict_names_the_bad_field(
    key: Ed25519PrivateKey, change: dict[str, Any], message: str
) -> None:
    data = {**make_checkpoint(key).to_dict(), **change}
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Checkpoint.from_dict(data)


def test_from_dict_missing_and_unknown_fields(key: Ed25519PrivateKey) -> None:
    data = make_checkpoint(key).to_dict()
    del data["root_hash"]
    with pytest.raises(ValueError, match="checkpoint field 'root_hash': missing"):
        Checkpoint.from_dict(data)
    data = {**make_checkpoint(key).to_dict(), "extra": 1}
    with pytest.raises(ValueError, match="checkpoint field 'extra': unknown field"):
        Checkpoint.from_dict(data)
    with pytest.raises(ValueError, match="expected a JSON object, got list"):
        Checkpoint.from_dict([])  # type: ignore[arg-type]


def test_sign_accepts_bytes_root_and_datetimes(key: Ed25519PrivateKey) -> None:
    paris = timezone(timedelta(hours=2))
    cp = make_checkpoint(
        key, root_hash=bytes.fromhex(ROOT), timestamp=datetime(2024, 5, 1, 14, 0, tzinfo=paris)
    )
    assert cp.root_hash == ROOT
    assert cp.timestamp == "2024-05-01T12:00:00.000000Z"
    now = make_checkpoint(key, timestamp=None)
    stamp = datetime.strptime(now.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        make_checkpoint(key, timestamp=datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="'root_hash': expected 32 bytes"):
        make_checkpoint(key, root_hash=b"\x00" * 31)


def test_checkpoint_is_frozen(key: Ed25519PrivateKey) -> None:
    cp = make_checkpoint(key)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cp.tree_size = 1  # type: ignore[misc]
