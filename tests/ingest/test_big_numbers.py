"""Integers too large for 64 bits: orjson parses them as the nearest float, which
would change a record without a word.  They keep every digit: a canonical event
holding one is refused naming the field (JCS numbers are exact only below 2^53),
and a source format keeps it exactly, as text."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditkit.ingest import loads_json
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store

EXAMPLE = Path(__file__).parents[2] / "examples" / "cloudtrail"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_loads_json_is_exact_for_any_json(value: object) -> None:
    text = json.dumps(value)
    assert loads_json(text.encode()) == json.loads(text)


def test_loads_json_keeps_the_digits_orjson_rounds() -> None:
    big = 2**70 + 1
    assert orjson.loads(f"[{big}]")[0] != big  # the behaviour this guards against
    assert loads_json(f'{{"n": {big}, "s": "{"9" * 30}"}}'.encode()) == {"n": big, "s": "9" * 30}


def test_a_canonical_event_with_a_huge_integer_is_refused_not_rounded(tmp_path: Path) -> None:
    event = {
        "tenant_id": "acme",
        "occurred_at": "2026-01-05T09:00:00Z",
        "action": "user.login",
        "actor": {"id": "u1"},
        "metadata": {"n": 123456789012345678901234567890},
    }
    path = tmp_path / "e.ndjson"
    path.write_text(json.dumps(event) + "\n")
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path])
    assert (result.stored, result.quarantined) == (0, 1)
    problem = result.problems[0]
    assert problem.field == "metadata.n" and "123456789012345678901234567890" in problem.reason


@pytest.mark.parametrize("big", [2**64, 123456789012345678901234567890])
def test_a_cloudtrail_record_keeps_a_huge_integer_exactly(tmp_path: Path, big: int) -> None:
    delivered = json.loads(next(EXAMPLE.glob("*.json")).read_text())
    record = delivered["Records"][0]
    record["requestParameters"] = {**(record.get("requestParameters") or {}), "bigId": big}
    path = tmp_path / "ct.json"
    path.write_text(json.dumps({"Records": [record]}))
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path])
    assert (result.stored, result.quarantined) == (1, 0), result.problems
    stored = store.load()["metadata"].item()
    assert str(big) in stored and f"{float(big):e}"[:6] not in stored.replace(str(big), "")
