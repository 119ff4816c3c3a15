"""``auditkit proof verify``: checking proofs offline, as an auditor with only the
proof file, the store's public key and (maybe) a checkpoint saved earlier."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.cli import main
from auditkit.integrity import generate_key, public_key_pem
from auditkit.proofs import ProofStatus, verify_proof
from tests.conftest import make_events


@pytest.fixture(scope="module")
def proofs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store grown in two appends (signed checkpoints at sizes 12 and 30), its
    proofs, its public key, a saved checkpoint file and a stranger's key."""
    folder = tmp_path_factory.mktemp("proofs")
    db = str(folder / "audit.db")
    events = make_events(30)
    assert main(["init", db]) == 0
    for name, part in (("a", events[:12]), ("b", events[12:])):
        path = folder / f"{name}.ndjson"
        path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in part))
        assert main(["ingest", db, str(path), "--no-progress"]) == 0
        if name == "a":
            assert main(["checkpoint", db, "-o", str(folder / "saved-12.json")]) == 0
    files = {
        "inclusion": folder / "inc.json",
        "consistency": folder / "cons.json",
    }
    assert main(["proof", db, "--tenant", "acme", "--seq", "7", "-o", str(files["inclusion"])]) == 0
    argv = ["proof", db, "--tenant", "acme", "--old-size", "12", "-o", str(files["consistency"])]
    assert main(argv) == 0
    stranger = folder / "stranger.pub"
    stranger.write_text(public_key_pem(generate_key().public_key()))
    return {
        "folder": folder,
        "pub": folder / "audit.db.pub",
        "stranger": stranger,
        "saved": folder / "saved-12.json",
        **{k: json.loads(v.read_text()) for k, v in files.items()},
        **{f"{k}_file": v for k, v in files.items()},
    }


def _check(proofs: dict[str, Any], doc: dict[str, Any], *extra: str) -> int:
    path = proofs["folder"] / "edited.json"
    path.write_text(json.dumps(doc))
    return main(["proof", "verify", str(path), *extra])


@pytest.mark.parametrize("kind", ["inclusion", "consistency"])
def test_proven_with_the_key_unanchored_without(
    proofs: dict[str, Any], kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    file = str(proofs[f"{kind}_file"])
    assert main(["proof", "verify", file, "--public-key", str(proofs["pub"])]) == 0
    assert capsys.readouterr().out.startswith("PROVEN")
    assert main(["proof", "verify", file]) == 3
    assert capsys.readouterr().out.startswith("UNANCHORED")
    assert main(["proof", "verify", file, "--public-key", str(proofs["stranger"])]) == 1
    assert capsys.readouterr().out.startswith("NOT PROVEN")
    assert main(["proof", "verify", file, "--public-key", str(proofs["pub"]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "proven" and doc["anchors"]


def test_a_saved_checkpoint_anchors_the_old_root(
    proofs: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    file, saved = str(proofs["consistency_file"]), str(proofs["saved"])
    # the saved checkpoint anchors the old root; the key the new one
    assert (
        main(["proof", "verify", file, "--checkpoint", saved, "--public-key", str(proofs["pub"])])
        == 0
    )
    # without the key the new root is unanchored
    assert main(["proof", "verify", file, "--checkpoint", saved]) == 3
    assert "size 30" in capsys.readouterr().out
    # a saved checkpoint that names another root for that size: a forked history
    forked = json.loads(Path(saved).read_text())
    for cp in forked["checkpoints"] + forked["history"]:
        cp["root_hash"] = "ab" * 32
    Path(saved).with_name("forked.json").write_text(json.dumps(forked))
    forked_file = str(Path(saved).with_name("forked.json"))
    assert main(["proof", "verify", file, "--checkpoint", forked_file]) == 1
    assert "another root" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kind", "edit"),
    [
        ("inclusion", {"seq": 8}),
        ("inclusion", {"event_id": "e-acme-8"}),
        ("inclusion", {"tenant_id": "globex"}),
        ("inclusion", {"tree_size": 29}),
        ("inclusion", {"canonical": "{}"}),
        ("consistency", {"old_size": 11}),
        ("consistency", {"new_root": "00" * 32}),
    ],
)
def test_an_edited_proof_is_not_proven(
    proofs: dict[str, Any], kind: str, edit: dict[str, Any]
) -> None:
    doc = proofs[kind] | edit
    assert _check(proofs, doc, "--public-key", str(proofs["pub"])) == 1
    assert _check(proofs, doc) in (1, 3)  # never "proven"
    assert verify_proof(doc).status is not ProofStatus.PROVEN


def test_a_resigned_checkpoint_needs_the_right_key(proofs: dict[str, Any]) -> None:
    from auditkit.integrity import Checkpoint, sign_checkpoint

    doc = dict(proofs["inclusion"])
    cp = Checkpoint.from_dict(doc["checkpoint"])
    other = generate_key()
    forged = sign_checkpoint(
        other,
        store_id=cp.store_id,
        tenant_id=cp.tenant_id,
        tree_size=cp.tree_size,
        root_hash=cp.root_hash,
    )
    doc["checkpoint"] = forged.to_dict()
    assert _check(proofs, doc, "--public-key", str(proofs["pub"])) == 1
    assert _check(proofs, doc) == 3


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_flipped_hash_character_breaks_the_proof(proofs: dict[str, Any], data: Any) -> None:
    kind = data.draw(st.sampled_from(["inclusion", "consistency"]))
    doc = json.loads(json.dumps(proofs[kind]))
    hashes: list[tuple[Any, Any]] = [(doc["path"], i) for i in range(len(doc["path"]))]
    if kind == "inclusion":
        hashes.append((doc["checkpoint"], "root_hash"))
    else:
        hashes += [(doc, "old_root"), (doc, "new_root")]
    holder, key = data.draw(st.sampled_from(hashes))
    pos = data.draw(st.integers(0, 63))
    old = holder[key]
    holder[key] = old[:pos] + ("0" if old[pos] != "0" else "1") + old[pos + 1 :]
    from auditkit.integrity import load_public_key

    verdict = verify_proof(doc, public_key=load_public_key(proofs["pub"].read_text()))
    assert verdict.status is ProofStatus.NOT_PROVEN, verdict


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[1, 2]",
        b"{}",
        b'{"kind": "inclusion", "seq": "7"}',
        b'{"kind": "zk"}',
        b'{"kind": "consistency", "tenant_id": "a", "old_size": 1, "new_size": 2,'
        b' "old_root": "xyz", "new_root": "00", "path": []}',
    ],
)
def test_a_file_that_is_not_a_proof_is_a_usage_error(
    proofs: dict[str, Any], content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = proofs["folder"] / "junk.json"
    path.write_bytes(content)
    assert main(["proof", "verify", str(path), "--public-key", str(proofs["pub"])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_usage(proofs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["proof", "verify"]) == 2
    assert main(["proof", "verify", str(proofs["folder"] / "missing.json")]) == 2
    assert (
        main(
            [
                "proof",
                "verify",
                str(proofs["inclusion_file"]),
                "--public-key",
                str(proofs["inclusion_file"]),
            ]
        )
        == 2
    )
    db = str(proofs["folder"] / "audit.db")
    assert main(["proof", db, "--tenant", "acme"]) == 2
    assert main(["proof", db, "--seq", "1"]) == 2
    assert main(["proof", db, "--tenant", "acme", "--seq", "1", "--old-size", "2"]) == 2
    assert "Traceback" not in capsys.readouterr().err
