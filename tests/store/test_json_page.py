"""Small verified pages (``Store.json_page``): the same JSON as a general load, and
never a record other than the signed one, whatever an attacker wrote."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit import Store, TamperedError
from auditkit.api._ndjson import json_lines
from auditkit.store import _verify
from auditkit.store._tables import TABLES_VERSION
from tests.conftest import make_events
from tests.ingest.strategies import producer_events
from tests.store._attacker import sql
from tests.store.test_injective import N, _copy, _events, apply_edit, edits


def _reference(store: Store, tenant: str, lo: int, hi: int, desc: bool) -> list[bytes]:
    frame = store.load(tenant, seqs=(lo, hi)).sort("seq", descending=desc)
    return [line.encode() for line in json_lines(frame).to_list()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(producer_events(), min_size=1, max_size=25))
def test_a_page_is_the_json_a_general_load_writes(
    tmp_path_factory: pytest.TempPathFactory, events: list[dict[str, Any]]
) -> None:
    store = Store.init(str(tmp_path_factory.mktemp("page") / "a.db"))
    store.append(events)
    for tenant in store.tenants():
        size = store.latest_checkpoint(tenant).tree_size
        for desc in (False, True):
            page = store.json_page(tenant, order="desc" if desc else "asc", limit=1000)
            assert page is not None and page.tree_size == size
            assert page.events == _reference(store, tenant, 0, size, desc)
    store.close()


def _reference_filtered(
    store: Store, tenant: str, q: str | None, target: str | None, desc: bool, limit: int
) -> list[bytes]:
    from auditkit.api._query import EventFilter

    frame = store.load(tenant).filter(EventFilter(q=q, target=target).expr())
    frame = frame.sort("seq", descending=desc).head(limit)
    return [line.encode() for line in json_lines(frame).to_list()]


#: free text as people type it: parts of the producers' values, in any case
needles = st.sampled_from(
    ["login", "LOGIN", "user.", "ALICE", "zoë", "ZOË MÜLLER", "müller", "a", "-", "\n",
     'a"b', "line", "x" * 3, "nothing like it", "ß", "Σ"]
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(producer_events(), min_size=1, max_size=30),
    q=st.none() | needles,
    target=st.none() | st.text("abcdef0123456789-", min_size=1, max_size=2),
    limit=st.integers(1, 12),
)
def test_free_text_and_target_pick_what_the_general_filter_picks(
    tmp_path_factory: pytest.TempPathFactory,
    events: list[dict[str, Any]],
    q: str | None,
    target: str | None,
    limit: int,
) -> None:
    store = Store.init(str(tmp_path_factory.mktemp("page") / "a.db"))
    store.append(events)
    for tenant in store.tenants():
        for desc in (False, True):
            page = store.json_page(
                tenant, order="desc" if desc else "asc", limit=limit, text=q, target=target
            )
            assert page is not None
            assert page.events == _reference_filtered(store, tenant, q, target, desc, limit)
    store.close()


def test_sparse_free_text(tmp_path: Path) -> None:
    """Plain free text is first looked for by the database (a superset of the rows it
    matches, checked here): one match among thousands is found.  Text the database
    cannot look for (not ASCII, or written otherwise in JSON) is matched row by row on
    the next few thousand rows only: a sparser match is left to the general path."""
    from auditkit.store import _page

    store = Store.init(str(tmp_path / "a.db"))
    events = make_events(_page._SCAN + 10)
    events[0]["description"] = "the nëedle"
    events[1]["actor"] = {"id": "u-k", "name": "\u212aelvin"}  # KELVIN SIGN: lower() is "k"
    events[2]["description"] = "a\x00past-the-nul"  # SQL's LIKE stops at a NUL character
    events[3]["description"] = "50% off_now"  # LIKE's wildcards, taken literally
    store.append(events)
    for order in ("asc", "desc"):
        found = store.json_page("acme", order=order, limit=5, text="NËEDLE")
        assert found is None  # not ASCII: row by row, and too sparse
        kelvin = store.json_page("acme", order=order, limit=5, text="kelvin")
        assert kelvin is not None and [orjson.loads(e)["seq"] for e in kelvin.events] == [1]
        assert not kelvin.full
        nul = store.json_page("acme", order=order, limit=5, text="PAST-THE-NUL")
        assert nul is not None and [orjson.loads(e)["seq"] for e in nul.events] == [2]
        for text, seqs in (("% OFF_", [3]), ("5_", []), ("0%_", [])):
            got = store.json_page("acme", order=order, limit=5, text=text)
            if seqs or got is not None:  # no match at all: the whole range looked at
                assert got is not None and [orjson.loads(e)["seq"] for e in got.events] == seqs
        dense = store.json_page("acme", order=order, limit=5, text="user.")
        assert dense is not None and len(dense.events) == 5
    small = Store.init(str(tmp_path / "b.db"))
    small.append(events[:100])  # the whole range looked at: the one match is the page
    found = small.json_page("acme", order="desc", limit=5, text="nëedle")
    assert found is not None and [orjson.loads(e)["seq"] for e in found.events] == [0]


def test_a_store_of_version_2_gets_the_indexes_of_pages(tmp_path: Path) -> None:
    """Stores made before the indexes of unsuccessful events and of actors get them
    when opened; pages of failures, with the index and without it (a store opened
    read-only, an index dropped), are the same."""
    import sqlite3

    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(300))
    assert store.path is not None

    def failures() -> list[bytes]:
        page = Store.open(store.location).json_page(
            "acme", match={"outcome": ["failure", "denied"]}, order="desc", limit=20
        )
        assert page is not None and len(page.events) == 20
        return page.events

    indexed = failures()
    db = sqlite3.connect(store.path)
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE tenant_id = 'acme' AND seq >= 0 "
        "AND seq < 300 AND outcome IN ('failure') AND outcome <> 'success' ORDER BY seq DESC"
    ).fetchall()
    assert "ix_events_unusual" in str(plan)  # the term the page adds makes it a seek
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE tenant_id = 'acme' AND seq >= 0 "
        "AND seq < 300 AND actor_id IN ('nobody') ORDER BY seq DESC"
    ).fetchall()
    assert "ix_events_actor" in str(plan)  # one person's events (or none): a seek
    db.execute("DROP INDEX ix_events_unusual")
    db.execute("DROP INDEX ix_events_actor")
    db.execute("UPDATE store_meta SET value = '2' WHERE key = 'store_version'")
    db.commit()
    db.close()
    assert failures() == indexed  # opened, upgraded: the index is back
    db = sqlite3.connect(store.path)
    version = db.execute("SELECT value FROM store_meta WHERE key = 'store_version'")
    assert version.fetchone() == (str(TABLES_VERSION),)
    assert db.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('ix_events_unusual', 'ix_events_actor')"
    ).fetchone() == (2,)
    db.execute("DROP INDEX ix_events_unusual")  # a page without it reads the same
    db.commit()
    db.close()
    page = store.json_page("acme", match={"outcome": ["failure", "denied"]}, order="desc", limit=20)
    assert page is not None and page.events == indexed
    assert Store.open(store.location).verify().ok  # the index is optional, not a change


def test_filters_limits_and_cursors(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(300))
    failures = [e["event_id"] for e in make_events(300) if e["outcome"] == "failure"]
    page = store.json_page("acme", match={"outcome": ["failure"]}, order="desc", limit=10)
    assert page is not None and page.full
    ids = [orjson.loads(e)["event_id"] for e in page.events]
    assert ids == failures[::-1][:10]
    rest = store.json_page(
        "acme", match={"outcome": ["failure"]}, order="desc", start_seq=page.last_seq, limit=1000
    )
    assert rest is not None and not rest.full
    assert ids + [orjson.loads(e)["event_id"] for e in rest.events] == failures[::-1]
    asc = store.json_page("acme", match={"actor_id": ["u3"], "action": ["user.login"]}, limit=5)
    assert asc is not None
    got = [orjson.loads(e) for e in asc.events]
    assert all(e["actor"]["id"] == "u3" and e["action"] == "user.login" for e in got)
    assert [e["seq"] for e in got] == sorted(e["seq"] for e in got)
    assert store.json_page("acme", match={"outcome": ["nothing"]}, limit=5).events == []
    # what it cannot answer, it declines
    assert store.json_page("acme", match={"description": ["x"]}) is None
    assert store.json_page("acme", limit=5000) is None


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("page-injective")
    store = Store.init(str(folder / "a.db"))
    store.append(_events())
    assert store.json_page("acme", limit=N) is not None
    store.close()
    return folder


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edit=edits(), desc=st.booleans())
def test_a_page_never_serves_a_changed_record(
    base: Path, tmp_path_factory: pytest.TempPathFactory, edit: tuple[int, str, Any], desc: bool
) -> None:
    seq, kind, ctx = edit
    store = _copy(base, tmp_path_factory.mktemp("ex"))
    order = "desc" if desc else "asc"
    pristine = store.json_page("acme", order=order, limit=N)
    assert pristine is not None
    changed = apply_edit(store, seq, kind, ctx["draw"])
    assert store.json_page("acme", order=order, limit=N) is None, f"{kind} {changed!r}"
    store.close()


ATTACKS = {
    "deleted row in the range": ["DELETE FROM events WHERE tenant_id = 'acme' AND seq = 35"],
    "row inserted past the tree": [
        "INSERT INTO events SELECT tenant_id, 400, 'x400', occurred_at, received_at, action, "
        "category, outcome, actor_id, actor, targets, source, observer, request_id, "
        "session_id, description, changes, metadata FROM events WHERE seq = 1"
    ],
    "fractional seq inside the range": [
        "INSERT INTO events SELECT tenant_id, 35.5, 'x35', occurred_at, received_at, action, "
        "category, outcome, actor_id, actor, targets, source, observer, request_id, "
        "session_id, description, changes, metadata FROM events WHERE seq = 1"
    ],
    "two rows swap seqs": [
        "UPDATE events SET seq = -1 WHERE tenant_id = 'acme' AND seq = 40",
        "UPDATE events SET seq = 40 WHERE tenant_id = 'acme' AND seq = 41",
        "UPDATE events SET seq = 41 WHERE tenant_id = 'acme' AND seq = -1",
    ],
    "actor_id column only": ["UPDATE events SET actor_id = 'u9' WHERE seq = 45"],
    "a BLOB where text belongs": [
        "UPDATE events SET description = CAST(description AS BLOB) WHERE seq = 45"
    ],
    "tile zeroed": ["UPDATE merkle_tiles SET leaves = zeroblob(length(leaves))"],
    "newest checkpoints deleted": [
        "DELETE FROM checkpoints WHERE tenant_id = 'acme' AND tree_size > 10"
    ],
    "checkpoint signature forged": [
        "UPDATE checkpoints SET signature = 'AAAA' WHERE tenant_id = 'acme'"
    ],
    "tree head moved back": ["UPDATE tree_heads SET size = 10 WHERE tenant_id = 'acme'"],
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_edits_send_the_page_to_the_full_check(tmp_path: Path, attack: str) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(60))
    pristine = store.json_page("acme", order="desc", limit=30)
    assert pristine is not None
    sql(store, *ATTACKS[attack])
    # with the tree authenticated before the edit still cached: the signed records or
    # nothing (a zeroed tile changes no record); read afresh, as a new process would
    warm = store.json_page("acme", order="desc", limit=30)
    assert warm is None or warm == pristine
    _verify._TREES.clear()
    assert store.json_page("acme", order="desc", limit=30) is None
    assert not store.verify().ok


_COLUMNS = (
    "tenant_id, seq, event_id, occurred_at, received_at, action, category, outcome, "
    "actor_id, actor, targets, source, observer, request_id, session_id, description, "
    "changes, metadata"
)
FILTERED_ATTACKS = {
    "a failure deleted": ["DELETE FROM events WHERE tenant_id = 'acme' AND seq = 52"],
    "a failure turned into a success": [
        "UPDATE events SET outcome = 'success' WHERE tenant_id = 'acme' AND seq = 52"
    ],
    # the table rebuilt without its primary key: a success repeated in place of the
    # deleted failure keeps the range's row count
    "a failure replaced by a repeated success": [
        "ALTER TABLE events RENAME TO events_old",
        "CREATE TABLE events AS SELECT * FROM events_old",
        "DROP TABLE events_old",
        "DELETE FROM events WHERE tenant_id = 'acme' AND seq = 52",
        f"INSERT INTO events SELECT {_COLUMNS} FROM events WHERE seq = 53",
    ],
    "a success's seq made fractional (not on the page, but in its range)": [
        "UPDATE events SET seq = 53.5 WHERE tenant_id = 'acme' AND seq = 53"
    ],
    "a failure's seq made fractional": [
        "UPDATE events SET seq = 52.5 WHERE tenant_id = 'acme' AND seq = 52"
    ],
}


@pytest.mark.parametrize("attack", sorted(FILTERED_ATTACKS))
def test_a_filtered_page_never_leaves_out_a_match_it_covers(tmp_path: Path, attack: str) -> None:
    """Failures at seqs 3, 10, ..., 59: a page of the newest four covers 38..59; an edit
    that takes the failure at 52 out of it declines the page (or, for a failure
    edited into a success, leaves it out: what a filter leaves out is verify's)."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(60))
    failures = {"outcome": ["failure"]}
    pristine = store.json_page("acme", match=failures, order="desc", limit=4)
    assert pristine is not None and pristine.last_seq == 38
    sql(store, *FILTERED_ATTACKS[attack])
    _verify._TREES.clear()
    page = store.json_page("acme", match=failures, order="desc", limit=4)
    if attack == "a failure turned into a success":
        assert page is not None and 52 not in [orjson.loads(e)["seq"] for e in page.events]
    else:
        assert page is None
    assert not store.verify().ok


def test_time_ranges(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(200))
    start, end = "2026-01-05T09:00:00Z", "2026-01-05T10:30:00.5Z"
    for order in ("asc", "desc"):
        page = store.json_page("acme", start=start, end=end, order=order, limit=1000)
        frame = store.load("acme", start=start, end=end).sort("seq", descending=order == "desc")
        assert page is not None and len(page.events) == 91
        assert page.events == [line.encode() for line in json_lines(frame).to_list()]
    failures = store.json_page(
        "acme", start=start, end=end, match={"outcome": ["failure"]}, order="desc", limit=3
    )
    assert failures is not None and failures.full
    assert [orjson.loads(e)["seq"] for e in failures.events] == [150, 143, 136]
    # a record whose occurred_at is not text (it would fall in or out of any range
    # wrongly): the general path names it
    sql(store, "UPDATE events SET occurred_at = 5 WHERE tenant_id = 'acme' AND seq = 3")
    assert store.json_page("acme", start=start, limit=10) is None
    assert store.json_page("acme", order="desc", limit=10) is not None  # a range without it


def test_prepare_reads_caches_each_tenants_tree(tmp_path: Path) -> None:
    """A server verifies the tenants' trees at start, so that the first page of each
    finds its tree cached; a tenant whose trail does not verify is not prepared."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(40) + make_events(30, tenant="globex"))
    _verify._TREES.clear()
    assert store.prepare_reads() == ["acme", "globex"]
    assert {k[1] for k in _verify._TREES} == {"acme", "globex"}
    sql(store, "UPDATE checkpoints SET signature = 'AAAA' WHERE tenant_id = 'globex'")
    _verify._TREES.clear()
    assert store.prepare_reads() == ["acme"]
    stop = threading.Event()
    stop.set()
    assert store.prepare_reads(stop=stop) == []
    store.add_principal("ann")
    store.grant("ann", "acme", "auditor")
    assert store.bind(principal="ann").prepare_reads() == ["acme"]  # only what ann may read


@pytest.mark.parametrize("seq", [75, 60, 150])  # inside the window, its first, its last
def test_an_event_moved_out_of_the_window_is_not_left_out_quietly(tmp_path: Path, seq: int) -> None:
    """A page of a time window selects rows by their stored time: one edited out of
    the window is checked among the page's seqs (and beside them), and the page
    declines, so that the general path names it; a page without it is served."""
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(200))
    start, end = "2026-01-05T09:00:00Z", "2026-01-05T10:30:30Z"  # seqs 60..150
    assert store.json_page("acme", start=start, end=end, limit=1000) is not None
    sql(store, f"UPDATE events SET occurred_at = '2019-01-01T00:00:00.000000Z' WHERE seq = {seq}")
    assert store.json_page("acme", start=start, end=end, limit=1000) is None
    with pytest.raises(TamperedError, match=f"seq={seq}"):
        store.load("acme", start=start, end=end)
