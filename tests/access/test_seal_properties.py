"""Property: a signature over an access row holds for exactly that row of that table
of that store: any one value changed (text, a number, NULL, another type), the table
or the store, and it fails; and the digest a revocation lists is the row's own."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from auditkit.integrity import generate_key
from auditkit.store._access import SEALED_TABLES, AccessSeal
from auditkit.store._manifest import revoked_digest

KEY = generate_key()
SEAL = AccessSeal("store-1", KEY.public_key(), KEY)
VALUES = st.one_of(st.none(), st.text(max_size=40), st.integers(-(2**40), 2**40))


def _width(table: str) -> int:
    keys, rest = SEALED_TABLES[table]
    return len(keys) + len(rest)


@st.composite
def rows(draw: st.DrawFn) -> tuple[str, list[Any]]:
    table = draw(st.sampled_from(sorted(SEALED_TABLES)))
    return table, draw(st.lists(VALUES, min_size=_width(table), max_size=_width(table)))


@settings(max_examples=150, deadline=None)
@given(rows(), st.data())
def test_any_one_value_changed_breaks_the_signature(
    row: tuple[str, list[Any]], data: st.DataObject
) -> None:
    table, values = row
    sig = SEAL.sign(table, values)
    assert SEAL.valid(table, values, sig)
    i = data.draw(st.integers(0, len(values) - 1))
    other = data.draw(VALUES)
    assume(other != values[i] or type(other) is not type(values[i]))
    changed = [*values[:i], other, *values[i + 1 :]]
    assert not SEAL.valid(table, changed, sig)
    # the same values, read back as another type (SQLite keeps what it is given)
    if isinstance(values[i], int):
        assert not SEAL.valid(table, [*values[:i], str(values[i]), *values[i + 1 :]], sig)


@settings(max_examples=60, deadline=None)
@given(rows())
def test_the_table_the_store_and_revocation_are_part_of_it(row: tuple[str, list[Any]]) -> None:
    table, values = row
    sig = SEAL.sign(table, values)
    for other in set(SEALED_TABLES) - {table}:
        assert not SEAL.valid(other, values, sig)
    assert not AccessSeal("store-2", KEY.public_key()).valid(table, values, sig)
    revoked = AccessSeal("store-1", KEY.public_key(), revoked=frozenset({revoked_digest(sig)}))
    assert revoked.why_not(table, values, sig) == "revoked"
    unknown = AccessSeal("store-1", KEY.public_key(), revoked=None)
    assert unknown.why_not(table, values, sig) is not None
