"""Known-answer tests: RFC 6962 vectors from transparency-dev/merkle (see vectors/rfc6962.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditkit.integrity import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "rfc6962.json").read_text(encoding="utf-8")
)
LEAF_INPUTS = [bytes.fromhex(x) for x in VECTORS["leaves"]]
LEAVES = leaf_hashes(LEAF_INPUTS)


def _h(x: str) -> bytes:
    return bytes.fromhex(x)


def test_hasher_vectors() -> None:
    v = VECTORS["hasher"]
    assert EMPTY_ROOT.hex() == v["empty_root"]
    assert leaf_hash(b"").hex() == v["leaf_hash_of_empty"]
    assert leaf_hash(_h(v["leaf_input_L123456"])).hex() == v["leaf_hash_of_L123456"]
    assert (
        node_hash(_h(v["node_left_N123"]), _h(v["node_right_N456"])).hex()
        == (v["node_hash_of_N123_N456"])
    )


def test_node_hashes_by_level() -> None:
    levels = VECTORS["node_hashes_by_level"]
    assert [h.hex() for h in LEAVES] == levels[0]
    for height in range(1, len(levels)):
        width = 1 << height
        got = [root_from_leaf_hashes(LEAVES[i : i + width]).hex() for i in range(0, 8, width)]
        assert got == levels[height]


@pytest.mark.parametrize("size", range(9))
def test_roots_by_size(size: int) -> None:
    want = VECTORS["roots_by_size"][size]
    assert root_from_leaf_hashes(LEAVES[:size]).hex() == want
    assert Frontier.empty().extend(LEAVES[:size]).root().hex() == want


@pytest.mark.parametrize("size", range(9))
def test_compact_ranges_by_size(size: int) -> None:
    frontier = Frontier.empty().extend(LEAVES[:size])
    assert [h.hex() for h in frontier.hashes] == VECTORS["compact_ranges_by_size"][size]
    one_by_one = Frontier.empty()
    for leaf in LEAVES[:size]:
        one_by_one = one_by_one.extend([leaf])
    assert one_by_one == frontier


@pytest.mark.parametrize(
    "case", VECTORS["inclusion_proofs"], ids=lambda c: f"{c['index']}of{c['tree_size']}"
)
def test_inclusion_proof_vectors(case: dict[str, Any]) -> None:
    index, size = case["index"], case["tree_size"]
    proof = inclusion_proof(LEAVES, index, size)
    assert [p.hex() for p in proof] == case["proof"]
    verify_inclusion(LEAVES[index], index, size, proof, _h(VECTORS["roots_by_size"][size]))


@pytest.mark.parametrize(
    "case", VECTORS["consistency_proofs"], ids=lambda c: f"{c['old_size']}to{c['new_size']}"
)
def test_consistency_proof_vectors(case: dict[str, Any]) -> None:
    old, new = case["old_size"], case["new_size"]
    proof = consistency_proof(LEAVES, old, new)
    assert [p.hex() for p in proof] == case["proof"]
    roots = VECTORS["roots_by_size"]
    verify_consistency(old, new, _h(roots[old]), _h(roots[new]), proof)


@pytest.mark.parametrize("probe", VECTORS["inclusion_probes"], ids=lambda p: p["file"])
def test_inclusion_probes(probe: dict[str, Any]) -> None:
    args = (
        _h(probe["leaf_hash"]),
        probe["index"],
        probe["tree_size"],
        [_h(p) for p in probe["proof"]],
        _h(probe["root"]),
    )
    if probe["want_error"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("probe", VECTORS["consistency_probes"], ids=lambda p: p["file"])
def test_consistency_probes(probe: dict[str, Any]) -> None:
    args = (
        probe["old_size"],
        probe["new_size"],
        _h(probe["old_root"]),
        _h(probe["new_root"]),
        [_h(p) for p in probe["proof"]],
    )
    if probe["want_error"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_vectors_cover_every_failure_kind() -> None:
    descs = {p["desc"] for p in VECTORS["inclusion_probes"] + VECTORS["consistency_probes"]}
    for kind in (
        "truncated proof",
        "swapped roots",
        "wrong leaf",
        "preceding garbage",
        "trailing garbage",
        "size1 is greater than size2",
        "empty proof",
    ):
        assert any(kind in d for d in descs), kind
