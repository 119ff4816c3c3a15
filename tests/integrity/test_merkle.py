"""Merkle hashing, frontiers and proofs against the RFC 6962 recursive definitions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.integrity import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    consistency_proof_ranges,
    inclusion_proof,
    inclusion_proof_ranges,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

# -- reference implementations: RFC 6962 section 2.1, recursive, straight from the text


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def make_leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return leaf_hashes(salt + i.to_bytes(4, "big") for i in range(n))


LEAVES = make_leaves(70)


# -- hashing


def test_domain_separation() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(a + b) != node_hash(a, b)
    assert node_hash(a, b) != node_hash(b, a)
    assert leaf_hash(b"") != EMPTY_ROOT


@pytest.mark.parametrize("n", range(70))
def test_level_by_level_root_equals_recursive_definition(n: int) -> None:
    assert root_from_leaf_hashes(LEAVES[:n]) == mth(LEAVES[:n])


def test_root_accepts_tuples_and_does_not_mutate() -> None:
    leaves = tuple(LEAVES[:13])
    assert root_from_leaf_hashes(leaves) == mth(leaves)
    assert leaves == tuple(LEAVES[:13])


def test_leaf_hashes_matches_leaf_hash() -> None:
    items = [b"", b"x", b"\x00" * 100]
    assert leaf_hashes(items) == [leaf_hash(i) for i in items]


# -- frontier


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 400), st.lists(st.integers(0, 150), max_size=12))
def test_frontier_extend_in_random_chunks(n: int, chunks: list[int]) -> None:
    leaves = make_leaves(n)
    frontier, done = Frontier.empty(), 0
    for step in [*chunks, n]:
        frontier = frontier.extend(leaves[done : done + step])
        done = min(n, done + step)
        assert frontier.size == done
        assert len(frontier.hashes) == done.bit_count()
        assert frontier.root() == root_from_leaf_hashes(leaves[:done])
    assert frontier == Frontier.empty().extend(iter(leaves))


@pytest.mark.parametrize("base", [0, 1, 5, 64, 100, 127])
@pytest.mark.parametrize("batch", [1, 63, 64, 65, 200])
def test_frontier_small_and_large_batches_agree(base: int, batch: int) -> None:
    leaves = make_leaves(base + batch, b"b")
    start = Frontier.empty().extend(leaves[:base])
    one_by_one = start
    for leaf in leaves[base:]:
        one_by_one = one_by_one.extend([leaf])
    assert start.extend(leaves[base:]) == one_by_one
    assert one_by_one.root() == mth(leaves)


def test_frontier_hashes_are_perfect_subtree_roots() -> None:
    frontier = Frontier.empty().extend(LEAVES[:13])  # 13 = 8 + 4 + 1
    assert frontier.hashes == (mth(LEAVES[:8]), mth(LEAVES[8:12]), LEAVES[12])


def test_frontier_is_immutable_and_extend_returns_new() -> None:
    base = Frontier.empty().extend(LEAVES[:3])
    grown = base.extend(LEAVES[3:5])
    assert base.size == 3 and grown.size == 5
    assert base.extend([]) is base
    with pytest.raises(AttributeError):
        base.size = 4  # type: ignore[misc]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 13, 64, 69])
def test_frontier_bytes_round_trip(n: int) -> None:
    frontier = Frontier.empty().extend(LEAVES[:n])
    blob = frontier.to_bytes()
    assert len(blob) == 32 * n.bit_count()
    assert Frontier.from_bytes(n, blob) == frontier
    assert Frontier.from_bytes(n, memoryview(blob)) == frontier


def test_frontier_rejects_inconsistent_state() -> None:
    with pytest.raises(ValueError, match="expected 64 bytes"):
        Frontier.from_bytes(3, b"\x00" * 32)
    with pytest.raises(ValueError, match="expected 2 subtree hashes"):
        Frontier(3, (LEAVES[0],))
    with pytest.raises(ValueError, match="expected 32 bytes"):
        Frontier(1, (b"short",))
    with pytest.raises(ValueError, match="int >= 0"):
        Frontier(-1, ())
    with pytest.raises(ValueError, match="int >= 0"):
        Frontier.from_bytes(True, b"\x00" * 32)


# -- proof generation


@pytest.mark.parametrize("n", range(1, 34))
def test_inclusion_proofs_match_rfc_path(n: int) -> None:
    leaves, root = LEAVES[:n], mth(LEAVES[:n])
    for m in range(n):
        proof = inclusion_proof(LEAVES, m, n)
        assert proof == path(m, leaves)
        assert proof == inclusion_proof(leaves, m)
        assert len(inclusion_proof_ranges(m, n)) == len(proof)
        verify_inclusion(leaves[m], m, n, proof, root)


@pytest.mark.parametrize("n", range(1, 34))
def test_consistency_proofs_match_rfc_proof(n: int) -> None:
    root = mth(LEAVES[:n])
    for m in range(1, n + 1):
        proof = consistency_proof(LEAVES, m, n)
        assert proof == subproof(m, LEAVES[:n], True)
        verify_consistency(m, n, mth(LEAVES[:m]), root, proof)
        assert root_from_consistency_proof(m, n, mth(LEAVES[:m]), proof) == root


def test_proof_ranges() -> None:
    assert inclusion_proof_ranges(0, 1) == []
    assert inclusion_proof_ranges(6, 7) == [(4, 6), (0, 4)]
    assert consistency_proof_ranges(7, 7) == []
    assert consistency_proof_ranges(4, 8) == [(4, 8)]
    assert consistency_proof_ranges(6, 8) == [(4, 6), (6, 8), (0, 4)]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: inclusion_proof(LEAVES[:5], 5), "expected 0 <= index < tree_size 5"),
        (lambda: inclusion_proof(LEAVES[:5], -1), "index: expected an int >= 0"),
        (lambda: inclusion_proof(LEAVES[:5], 0, 6), "expected at most the 5 leaf hashes"),
        (lambda: inclusion_proof([], 0), "expected 0 <= index < tree_size 0"),
        (lambda: consistency_proof(LEAVES[:5], 0, 5), "no consistency proof exists"),
        (lambda: consistency_proof(LEAVES[:5], 4, 3), "expected 1 <= old_size <= new_size"),
        (lambda: consistency_proof(LEAVES[:5], 2, 6), "expected at most the 5 leaf hashes"),
        (lambda: inclusion_proof_ranges(True, 3), "index: expected an int >= 0"),
    ],
)
def test_proof_generation_rejects_bad_arguments(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        call()  # type: ignore[operator]
    assert not isinstance(info.value, ProofError)


def test_proofs_for_a_large_tree_are_linear() -> None:
    n = (1 << 14) + 3
    leaves = make_leaves(n, b"big")
    root = root_from_leaf_hashes(leaves)
    for m in (0, 1, n // 2, n - 4, n - 1):
        verify_inclusion(leaves[m], m, n, inclusion_proof(leaves, m), root)
    old = (1 << 13) + 5
    verify_consistency(
        old, n, root_from_leaf_hashes(leaves[:old]), root, consistency_proof(leaves, old, n)
    )


# -- verification failures, one by one (each must raise ProofError)

N, INDEX = 13, 5
TREE = LEAVES[:N]
ROOT = mth(TREE)
PROOF = path(INDEX, TREE)  # 4 hashes


def _flip(h: bytes, byte: int = 0, bit: int = 0) -> bytes:
    return h[:byte] + bytes([h[byte] ^ (1 << bit)]) + h[byte + 1 :]


INCLUSION_FAILURES = {
    "wrong index +1": (TREE[INDEX], INDEX + 1, N, PROOF, ROOT),
    "wrong index -1": (TREE[INDEX], INDEX - 1, N, PROOF, ROOT),
    "wrong index xor 2": (TREE[INDEX], INDEX ^ 2, N, PROOF, ROOT),
    "index == size": (TREE[INDEX], N, N, PROOF, ROOT),
    "negative index": (TREE[INDEX], -1, N, PROOF, ROOT),
    "bool index": (TREE[INDEX], True, N, PROOF, ROOT),
    "size 0": (TREE[INDEX], 0, 0, [], EMPTY_ROOT),
    "wrong size index + 1": (TREE[INDEX], INDEX, INDEX + 1, PROOF, ROOT),
    "wrong size 8": (TREE[INDEX], INDEX, 8, PROOF, ROOT),
    "wrong size *2": (TREE[INDEX], INDEX, N * 2, PROOF, ROOT),
    "wrong size //2": (TREE[INDEX], INDEX, N // 2, PROOF, ROOT),
    "truncated proof": (TREE[INDEX], INDEX, N, PROOF[:-1], ROOT),
    "proof without first": (TREE[INDEX], INDEX, N, PROOF[1:], ROOT),
    "extended proof": (TREE[INDEX], INDEX, N, [*PROOF, ROOT], ROOT),
    "prepended garbage": (TREE[INDEX], INDEX, N, [b"\x00" * 32, *PROOF], ROOT),
    "empty proof": (TREE[INDEX], INDEX, N, [], ROOT),
    "swapped elements": (TREE[INDEX], INDEX, N, [PROOF[1], PROOF[0], *PROOF[2:]], ROOT),
    "flipped bit in proof": (TREE[INDEX], INDEX, N, [_flip(PROOF[0]), *PROOF[1:]], ROOT),
    "flipped bit in last": (TREE[INDEX], INDEX, N, [*PROOF[:-1], _flip(PROOF[-1], 31, 7)], ROOT),
    "short element": (TREE[INDEX], INDEX, N, [PROOF[0][:31], *PROOF[1:]], ROOT),
    "long element": (TREE[INDEX], INDEX, N, [PROOF[0] + b"\x00", *PROOF[1:]], ROOT),
    "str element": (TREE[INDEX], INDEX, N, [PROOF[0].hex(), *PROOF[1:]], ROOT),
    "proof as bytes": (TREE[INDEX], INDEX, N, b"".join(PROOF), ROOT),
    "wrong leaf": (TREE[INDEX + 1], INDEX, N, PROOF, ROOT),
    "leaf data not hash": (b"event", INDEX, N, PROOF, ROOT),
    "flipped bit in leaf": (_flip(TREE[INDEX]), INDEX, N, PROOF, ROOT),
    "wrong root": (TREE[INDEX], INDEX, N, PROOF, mth(TREE[:-1])),
    "flipped bit in root": (TREE[INDEX], INDEX, N, PROOF, _flip(ROOT)),
    "empty root": (TREE[INDEX], INDEX, N, PROOF, EMPTY_ROOT),
    "hex root": (TREE[INDEX], INDEX, N, PROOF, ROOT.hex()),
}


def test_inclusion_baseline_verifies() -> None:
    verify_inclusion(TREE[INDEX], INDEX, N, PROOF, ROOT)
    verify_inclusion(TREE[INDEX], INDEX, N, tuple(PROOF), ROOT)


@pytest.mark.parametrize("case", INCLUSION_FAILURES, ids=str)
def test_inclusion_failure(case: str) -> None:
    with pytest.raises(ProofError):
        verify_inclusion(*INCLUSION_FAILURES[case])  # type: ignore[arg-type]


def test_inclusion_messages_say_expected_and_found() -> None:
    with pytest.raises(ProofError, match=r"expected 4 hashes, got 3"):
        verify_inclusion(TREE[INDEX], INDEX, N, PROOF[:-1], ROOT)
    with pytest.raises(ProofError, match=rf"computes root [0-9a-f]{{64}}, expected {ROOT.hex()}"):
        verify_inclusion(TREE[0], INDEX, N, PROOF, ROOT)
    with pytest.raises(ProofError, match=r"proof\[1\]: expected a 32-byte hash, got 5 bytes"):
        verify_inclusion(TREE[INDEX], INDEX, N, [PROOF[0], b"short", *PROOF[2:]], ROOT)
    with pytest.raises(ProofError, match=r"index 13 is outside a tree of size 13"):
        root_from_inclusion_proof(TREE[0], N, N, PROOF)
    with pytest.raises(ProofError, match=r"leaf hash: expected a 32-byte hash, got a str"):
        root_from_inclusion_proof("ab", INDEX, N, PROOF)  # type: ignore[arg-type]


OLD = 6
OLD_ROOT = mth(TREE[:OLD])
CPROOF = subproof(OLD, TREE, True)  # 4 hashes

CONSISTENCY_FAILURES = {
    "old_size > new_size": (N, OLD, ROOT, OLD_ROOT, CPROOF),
    "old_size == 0 empty proof": (0, N, EMPTY_ROOT, ROOT, []),
    "old_size == 0 with proof": (0, N, EMPTY_ROOT, ROOT, CPROOF),
    "both sizes 0": (0, 0, EMPTY_ROOT, EMPTY_ROOT, []),
    "negative old_size": (-1, N, OLD_ROOT, ROOT, CPROOF),
    "equal sizes non-empty proof": (N, N, ROOT, ROOT, [ROOT]),
    "equal sizes different roots": (N, N, ROOT, OLD_ROOT, []),
    "wrong old_size +1": (OLD + 1, N, OLD_ROOT, ROOT, CPROOF),
    "wrong old_size -1": (OLD - 1, N, OLD_ROOT, ROOT, CPROOF),
    "wrong new_size 8": (OLD, 8, OLD_ROOT, ROOT, CPROOF),
    "wrong new_size old + 1": (OLD, OLD + 1, OLD_ROOT, ROOT, CPROOF),
    "wrong new_size *2": (OLD, N * 2, OLD_ROOT, ROOT, CPROOF),
    "truncated proof": (OLD, N, OLD_ROOT, ROOT, CPROOF[:-1]),
    "extended proof": (OLD, N, OLD_ROOT, ROOT, [*CPROOF, ROOT]),
    "prepended old root": (OLD, N, OLD_ROOT, ROOT, [OLD_ROOT, *CPROOF]),
    "empty proof": (OLD, N, OLD_ROOT, ROOT, []),
    "swapped elements": (OLD, N, OLD_ROOT, ROOT, [CPROOF[1], CPROOF[0], *CPROOF[2:]]),
    "flipped bit first": (OLD, N, OLD_ROOT, ROOT, [_flip(CPROOF[0]), *CPROOF[1:]]),
    "flipped bit last": (OLD, N, OLD_ROOT, ROOT, [*CPROOF[:-1], _flip(CPROOF[-1], 9, 3)]),
    "short element": (OLD, N, OLD_ROOT, ROOT, [CPROOF[0][:-1], *CPROOF[1:]]),
    "wrong old root": (OLD, N, mth(TREE[: OLD - 1]), ROOT, CPROOF),
    "flipped old root": (OLD, N, _flip(OLD_ROOT), ROOT, CPROOF),
    "wrong new root": (OLD, N, OLD_ROOT, mth(TREE[:-1]), CPROOF),
    "swapped roots": (OLD, N, ROOT, OLD_ROOT, CPROOF),
    "short old root": (OLD, N, OLD_ROOT[:-1], ROOT, CPROOF),
    "forked history": (OLD, N, OLD_ROOT, mth(make_leaves(N, b"fork")), CPROOF),
}


def test_consistency_baseline_verifies() -> None:
    verify_consistency(OLD, N, OLD_ROOT, ROOT, CPROOF)
    verify_consistency(N, N, ROOT, ROOT, [])


@pytest.mark.parametrize("case", CONSISTENCY_FAILURES, ids=str)
def test_consistency_failure(case: str) -> None:
    with pytest.raises(ProofError):
        verify_consistency(*CONSISTENCY_FAILURES[case])


def test_power_of_two_old_size_omits_old_root() -> None:
    proof = consistency_proof(TREE, 4, N)
    assert mth(TREE[:4]) not in proof
    verify_consistency(4, N, mth(TREE[:4]), ROOT, proof)
    # The old root is the proof's seed: a wrong one shows as a wrong new root.
    with pytest.raises(ProofError, match="computes new root"):
        verify_consistency(4, N, mth(TREE[:3]), ROOT, proof)


def test_tree_size_is_bound_only_through_the_signed_root() -> None:
    # Sizes whose proof paths have the same shape (here 9..16) give the same root: RFC 9162
    # relies on the signed checkpoint binding (size, root) together.
    verify_inclusion(TREE[INDEX], INDEX, N + 1, PROOF, ROOT)
    verify_consistency(OLD, N + 1, OLD_ROOT, ROOT, CPROOF)


def test_consistency_messages_say_expected_and_found() -> None:
    with pytest.raises(ProofError, match="expected old_size <= new_size"):
        verify_consistency(N, OLD, ROOT, OLD_ROOT, CPROOF)
    with pytest.raises(ProofError, match="expected old_size >= 1"):
        verify_consistency(0, N, EMPTY_ROOT, ROOT, [])
    with pytest.raises(ProofError, match="from size 6 to size 13: expected 4 hashes, got 3"):
        verify_consistency(OLD, N, OLD_ROOT, ROOT, CPROOF[:-1])
    with pytest.raises(
        ProofError, match=rf"computes old root [0-9a-f]{{64}}, expected {ROOT.hex()}"
    ):
        verify_consistency(OLD, N, ROOT, ROOT, CPROOF)
    with pytest.raises(
        ProofError, match=rf"computes new root [0-9a-f]{{64}}, expected {OLD_ROOT.hex()}"
    ):
        verify_consistency(OLD, N, OLD_ROOT, OLD_ROOT, CPROOF)
    with pytest.raises(ProofError, match="same size 13 have different roots"):
        verify_consistency(N, N, ROOT, OLD_ROOT, [])


# -- property tests


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    n = draw(st.integers(1, 300))
    return make_leaves(n, b"p"), draw(st.integers(0, n - 1))


@settings(max_examples=60, deadline=None)
@given(tree_and_index(), st.data())
def test_inclusion_proofs_verify_and_any_byte_mutation_fails(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, index = case
    n, root = len(leaves), root_from_leaf_hashes(leaves)
    proof = inclusion_proof(leaves, index)
    verify_inclusion(leaves[index], index, n, proof, root)
    assert root_from_inclusion_proof(leaves[index], index, n, proof) == root
    if not proof:
        return
    i = data.draw(st.integers(0, len(proof) - 1), label="element")
    pos = data.draw(st.integers(0, 31), label="byte")
    xor = data.draw(st.integers(1, 255), label="xor")
    mutated = [*proof]
    mutated[i] = proof[i][:pos] + bytes([proof[i][pos] ^ xor]) + proof[i][pos + 1 :]
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], index, n, mutated, root)
    other = data.draw(st.sampled_from([j for j in range(n) if j != index]), label="other")
    with pytest.raises(ProofError):
        verify_inclusion(leaves[index], other, n, proof, root)


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[list[bytes], int]:
    n = draw(st.integers(1, 300))
    return make_leaves(n, b"c"), draw(st.integers(1, n))


@settings(max_examples=60, deadline=None)
@given(two_sizes(), st.data())
def test_consistency_proofs_verify_and_any_byte_mutation_fails(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, m = case
    n = len(leaves)
    old, new = root_from_leaf_hashes(leaves[:m]), root_from_leaf_hashes(leaves)
    proof = consistency_proof(leaves, m, n)
    verify_consistency(m, n, old, new, proof)
    if not proof:
        assert m == n
        return
    i = data.draw(st.integers(0, len(proof) - 1), label="element")
    pos = data.draw(st.integers(0, 31), label="byte")
    xor = data.draw(st.integers(1, 255), label="xor")
    mutated = [*proof]
    mutated[i] = proof[i][:pos] + bytes([proof[i][pos] ^ xor]) + proof[i][pos + 1 :]
    with pytest.raises(ProofError):
        verify_consistency(m, n, old, new, mutated)
    with pytest.raises(ProofError):
        verify_consistency(m, n, _flip(old, pos), new, proof)
