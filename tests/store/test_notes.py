"""Tree heads as C2SP checkpoint notes: exported signed with the store key, read back
by verify, checked by the reference verifier's rules, and cosigned by a witness
whose cosignature anchors a store whose key files are gone."""

from __future__ import annotations

import shutil
from pathlib import Path
from time import time

import orjson
import pytest

from auditkit import ProblemKind, Store
from auditkit.cli import main
from auditkit.errors import UsageError
from auditkit.integrity import generate_key, key_fingerprint
from auditkit.integrity.note import (
    SignedNote,
    VerifierKey,
    cosign,
    open_note,
    parse_checkpoint,
)
from auditkit.store._keys import public_key_path
from tests.conftest import make_events


@pytest.fixture
def store(store_location: str) -> Store:
    s = Store.init(store_location)
    s.append(make_events(20))
    s.append(make_events(7, "globex corp"))
    return s


def test_notes_verify_with_the_published_verifier_keys(store: Store) -> None:
    doc = store.export_checkpoints()
    assert len(doc["notes"]) == 2
    for tenant, vkey in doc["verifier_keys"].items():
        note = store.checkpoint_notes()[tenant]
        cp = parse_checkpoint(open_note(note, [VerifierKey.parse(vkey)]))
        latest = store.latest_checkpoints()[tenant]
        assert (cp.size, cp.root.hex()) == (latest.tree_size, latest.root_hash)
        assert cp.origin.endswith("/globex%20corp") or cp.origin.endswith("/acme")


def test_a_note_folder_detects_rollback_and_is_checked_against_the_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.db"
    store = Store.init(str(path))
    store.append(make_events(10))
    backup = tmp_path / "backup.db"
    shutil.copy(path, backup)
    store.append(make_events(25)[10:])
    folder = tmp_path / "notes"
    assert main(["checkpoint", str(path), "--format", "note", "-o", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["acme.checkpoint", "verifier-keys.txt"]
    assert store.verify(checkpoint=folder).status.value == "intact"
    store.close()
    shutil.copy(backup, path)
    report = Store.open(str(path)).verify(checkpoint=folder)
    assert report.first(ProblemKind.ROLLBACK) is not None, report.summary()
    # a note signed by another key is named, not trusted
    other = generate_key()
    note = (folder / "acme.checkpoint").read_text()
    text = SignedNote.parse(note).text
    from auditkit.integrity.note import sign_note

    origin = text.splitlines()[0]
    (folder / "acme.checkpoint").write_text(sign_note(text, origin, other))
    report = Store.open(str(path)).verify(checkpoint=folder)
    assert report.first(ProblemKind.WRONG_KEY) is not None, report.summary()


def test_a_witness_cosignature_anchors_a_store_without_key_files(
    store: Store, tmp_path: Path
) -> None:
    witness = generate_key()
    wkey = VerifierKey.ed25519("witness.example/w1", witness.public_key(), type=4)
    folder = tmp_path / "notes"
    folder.mkdir()
    from urllib.parse import quote

    for tenant, note in store.checkpoint_notes().items():
        parsed = SignedNote.parse(note)
        sig = cosign(parsed.text, wkey.name, witness, int(time()))
        (folder / f"{quote(tenant, safe='')}.checkpoint").write_text(note + sig.format())
    store.key_path.unlink()
    public_key_path(store.key_path).unlink()
    opened = Store.open(store.location, key=store.key_path)
    assert opened.verify(checkpoint=folder).status.value == "unanchored"
    report = opened.verify(checkpoint=folder, witnesses=[wkey.format()])
    assert report.status.value == "intact", report.summary()
    assert {a.kind.value for a in report.anchors} == {"witness"}
    # appending moves the tree past what the witness cosigned: unanchored again
    assert report.anchored
    # another witness key does not anchor anything
    stranger = VerifierKey.ed25519("witness.example/w2", generate_key().public_key(), type=4)
    assert opened.verify(checkpoint=folder, witnesses=[stranger]).status.value == "unanchored"
    with pytest.raises(UsageError, match="cosignature key"):
        opened.verify(
            checkpoint=folder, witnesses=[VerifierKey.ed25519("x", witness.public_key()).format()]
        )
    # the JSON document carries the notes too, and a pinned fingerprint still works
    assert key_fingerprint(opened.trust().public_key)


def test_damaged_notes_are_usage_errors(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.checkpoint"
    bad.write_text("auditkit/x/y\n12\nnot-base64\n\n— k QUJDREVGRw==\n")
    with pytest.raises(UsageError, match=r"bad\.checkpoint"):
        store.verify(checkpoint=bad)
    foreign = tmp_path / "foreign.checkpoint"
    foreign.write_text("example.com/log\n1\n" + "A" * 43 + "=\n\n— k QUJDREVGRw==\n")
    with pytest.raises(UsageError, match="not an auditkit tenant log"):
        store.verify(checkpoint=foreign)
    doc = store.export_checkpoints()
    doc["notes"] = [5]
    broken = tmp_path / "cp.json"
    broken.write_bytes(orjson.dumps(doc))
    with pytest.raises(UsageError, match="notes"):
        store.verify(checkpoint=broken)
