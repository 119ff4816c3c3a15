"""The read plan of a verified pass: contiguous chunks that cover the range exactly."""

from __future__ import annotations

import os
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.store import Store

_STORE = Store.init(os.path.join(tempfile.mkdtemp(), "plan.db"))


@settings(max_examples=300, deadline=None)
@given(
    size=st.integers(0, 2_000),
    chunk=st.integers(1, 300),
    first_chunk=st.one_of(st.none(), st.integers(1, 400)),
    seqs=st.one_of(st.none(), st.tuples(st.integers(-5, 2_100), st.integers(-5, 2_100))),
)
def test_plan_covers_the_range_in_order(
    size: int, chunk: int, first_chunk: int | None, seqs: tuple[int, int] | None
) -> None:
    plan = _STORE._reader.plan("acme", size, chunk=chunk, seqs=seqs, first_chunk=first_chunk)
    lo, top = (0, size) if seqs is None else (max(0, seqs[0]), min(size, seqs[1]))
    bounds = [(f.params[1], f.params[2]) for f in plan]
    expected_lo = lo
    for a, b in bounds:
        assert a == expected_lo and a < b <= top and b - a <= chunk
        expected_lo = b
    assert expected_lo == top if bounds else top <= lo
    if first_chunk is not None and first_chunk < chunk and top - lo > first_chunk:
        assert bounds[0] == (lo, lo + first_chunk)


def test_a_pass_hands_out_its_first_rows_in_a_small_chunk() -> None:
    from auditkit.store import _verify

    store = Store.init(os.path.join(tempfile.mkdtemp(), "first.db"))
    n = 3 * 1000
    store.append(
        [
            {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
             "actor": {"id": f"u{i}"}}
            for i in range(n)
        ]
    )  # fmt: skip
    old = _verify._FIRST_CHUNK
    _verify._FIRST_CHUNK = 1000
    try:
        heights = [chunk.height for chunk in store.iter_verified()]
    finally:
        _verify._FIRST_CHUNK = old
    assert heights[0] == 1000 and sum(heights) == n
