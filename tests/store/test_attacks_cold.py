"""Attacks on the cold tier that go through ingestion rather than reads: an attacker
who can write the cold tier (a bucket credential) or the database, without the key,
tries to have a genuine event still to come dropped as a "duplicate" of one they
planted in a sealed segment, then puts the segment back so that nothing shows."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import polars as pl
import pytest

from auditkit import Store
from auditkit.store._cold import SegmentRef, sha256_hex
from tests.conftest import make_events
from tests.store._attacker import sql

LATE_ID = "mallory-late-1"


@pytest.fixture
def sealed(store_location: str, tmp_path: Path) -> Store:
    """acme: 40 events of January 2025, all sealed into the cold tier."""
    s = Store.init(store_location, cold=tmp_path / "cold")
    s.append(make_events(40, start="2025-01-05T08:00:00Z", step_s=3600))
    s.retention.set("acme", hot_days=1)
    s.retention.apply("acme")
    assert s.tier_counts("acme")[1] == 40
    return s


def late_event() -> dict[str, object]:
    """The attacker's own action, arriving late: it occurred inside the sealed span."""
    return {
        "event_id": LATE_ID,
        "tenant_id": "acme",
        "occurred_at": "2025-01-05T10:30:00Z",
        "action": "user.delete",
        "actor": {"id": "mallory"},
    }


def first_segment(store: Store) -> Path:
    assert store.cold_url is not None
    return sorted(Path(store.cold_url).glob("tenant=acme/*/*.parquet"))[0]


def planted(data: bytes) -> bytes:
    """The segment with one more row: a copy of its first under the late event's id."""
    df = pl.read_parquet(io.BytesIO(data))
    out = io.BytesIO()
    pl.concat([df, df.head(1).with_columns(event_id=pl.lit(LATE_ID))]).write_parquet(out)
    return out.getvalue()


def stored_ids(store: Store) -> set[str]:
    return set(store.load("acme").get_column("event_id").to_list())


def test_a_segment_edited_in_the_cold_tier_does_not_make_a_new_event_a_duplicate(
    sealed: Store,
) -> None:
    seg = first_segment(sealed)
    genuine = seg.read_bytes()
    seg.write_bytes(planted(genuine))
    result = sealed.append([late_event()])
    seg.write_bytes(genuine)  # the attacker puts the segment back
    assert result.stored == 1, result
    assert LATE_ID in stored_ids(sealed)
    assert sealed.verify().status.value in ("intact", "unanchored")


def test_a_seal_row_repointed_in_the_database_does_not_make_a_new_event_a_duplicate(
    sealed: Store,
) -> None:
    seg = first_segment(sealed)
    forged = seg.with_name("seg-forged.parquet")
    forged.write_bytes(planted(seg.read_bytes()))
    rel = forged.relative_to(Path(str(sealed.cold_url))).as_posix()
    with sealed.backend.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT id, detail FROM purges WHERE kind = 'seal' ORDER BY first_seq")
        row_id, detail = cur.fetchone()
        cur.close()
    ref = SegmentRef.parse(str(detail))
    assert ref is not None
    d = orjson.loads(ref.detail())
    d.update(segment=rel, sha256=sha256_hex(forged.read_bytes()))
    sql(
        sealed,
        "UPDATE purges SET detail = ? WHERE id = ?",
        params=(orjson.dumps(d).decode(), row_id),
    )
    result = sealed.append([late_event()])
    assert result.stored == 1, result
    sql(sealed, "UPDATE purges SET detail = ? WHERE id = ?", params=(str(detail), row_id))
    forged.unlink()
    assert LATE_ID in stored_ids(sealed)


def test_an_event_sealed_already_is_still_a_duplicate(sealed: Store) -> None:
    again = make_events(40, start="2025-01-05T08:00:00Z", step_s=3600)[5:8]
    result = sealed.append(again)
    assert (result.stored, result.duplicates) == (0, 3)


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCY@bucket/cold",  # a secret with "/"
        "s3://AKIAEXAMPLE:p@ss/word@bucket/cold",
        "az://audit/cold?sv=2022-11-02&sig=wJalrXUtnFEMI%2FK7MDENG",
    ],
)
def test_a_cold_tier_url_is_never_printed_with_its_secret(url: str) -> None:
    from auditkit.store._cold import display_url
    from auditkit.store._manifest import Manifest, cold_tier_problem

    secret = "wJalrXUtnFEMI" if "wJal" in url else "p@ss/word"
    shown = display_url(url)
    assert shown is not None and secret not in shown and "***" in shown
    # what `verify` names (cold_tier_moved) when store_meta is repointed, both URLs in it
    m = Manifest("s1", cold_url=url, cold_recorded=True)
    problem = cold_tier_problem(m, "s3://elsewhere/x")
    assert problem is not None and secret not in problem and "s3://elsewhere/x" in problem
