"""A fifth round of the attacks of an adversary with database access but not the key
(see ``test_attacks.py``): edits that take an event out of a filtered read rather
than change what a read returns, on SQLite and PostgreSQL, through the Python API and
the command line."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from auditkit import ProblemKind, Store, TamperedError
from tests.conftest import make_events
from tests.store._attacker import sql

#: seqs 10..19 of tenant ``timed`` (one event an hour from 2026-01-05T08:00Z)
WINDOW = {"start": "2026-01-05T18:00:00Z", "end": "2026-01-06T04:00:00Z"}
AUDITKIT = str(Path(sys.executable).with_name("auditkit"))


@pytest.fixture
def store(store_location: str) -> Store:
    s = Store.init(store_location)
    s.append(make_events(12))
    s.append(make_events(30, "timed", step_s=3600))
    assert s.load("timed", **WINDOW)["seq"].to_list() == list(range(10, 20))
    return s


def _move(store: Store, when: str, lo: int = 10, hi: int = 20) -> None:
    sql(
        store,
        f"UPDATE events SET occurred_at = '{when}' "
        f"WHERE tenant_id = 'timed' AND seq >= {lo} AND seq < {hi}",
    )


def _named(report: Any) -> set[int]:
    return {p.seq for p in report.problems if p.kind == ProblemKind.MODIFIED}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AUDITKIT, *args, "--no-progress"], capture_output=True, text=True)


# -- 1. a window whose every event was moved out of it ----------------------------------------
@pytest.mark.parametrize(
    "when", ["2019-01-01T00:00:00.000000Z", "2099-01-01T00:00:00.000000Z"], ids=["before", "after"]
)
def test_a_window_emptied_by_moving_every_event_out_is_named(store: Store, when: str) -> None:
    """A time-ranged read found its window's events by their stored time, and checked
    the rows among (and beside) those it returned: with every one moved out, it
    returned none, checked none, and said the window was empty and verified."""
    _move(store, when)
    for read in (
        lambda: store.load("timed", **WINDOW),
        lambda: list(store.iter_verified("timed", **WINDOW)),
        lambda: store.scan("timed", **WINDOW).collect(),
        lambda: store.load("timed", **WINDOW, seqs=(0, 30)),  # an API page's general path
        lambda: store.load(**WINDOW),  # every tenant
    ):
        with pytest.raises(TamperedError):
            read()
        assert store.last_report is not None
        assert _named(store.last_report) & set(range(10, 20)), store.last_report.summary()
    assert store.verify().status.value == "tampered"


_LONG_AGO, _FAR_AHEAD = "2019-01-01T00:00:00.000000Z", "2099-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("lo", "hi", "window", "when"),
    [
        (0, 3, {"end": "2026-01-05T11:00:00Z"}, _FAR_AHEAD),  # the first events, no lower bound
        (27, 30, {"start": "2026-01-06T11:00:00Z"}, _LONG_AGO),  # the last ones, no upper bound
        (0, 30, {"start": "2026-01-05T00:00:00Z"}, _LONG_AGO),  # the whole trail
        (0, 30, {"end": "2026-01-07T00:00:00Z"}, _FAR_AHEAD),
    ],
    ids=["head", "tail", "all-before", "all-after"],
)
def test_a_window_at_either_end_of_the_trail_emptied_is_named(
    store: Store, lo: int, hi: int, window: dict[str, str], when: str
) -> None:
    assert store.load("timed", **window).height == hi - lo
    _move(store, when, lo, hi)
    with pytest.raises(TamperedError):
        store.load("timed", **window)
    assert _named(store.last_report) & set(range(lo, hi))


def test_windows_empty_by_nature_are_not_accused(store: Store) -> None:
    """No event in the window (before the trail, after it, between two events), and a
    late arrival beside it: nothing to name, and the read is intact."""
    store.append(make_events(1, "timed", start="2026-01-01T00:00:00Z", prefix="late"))  # seq 30
    for window in (
        {"end": "2026-01-01T00:00:00Z"},
        {"start": "2027-01-01T00:00:00Z"},
        {"start": "2026-01-05T18:10:00Z", "end": "2026-01-05T18:50:00Z"},
        {"start": "2026-01-01T00:00:01Z", "end": "2026-01-05T08:00:00Z"},
    ):
        assert store.load("timed", **window).height == 0
        assert store.last_report is not None and store.last_report.ok, window
        assert store.last_report.tenants[0].events == 0  # the rows beside it are not counted
        assert sum(f.height for f in store.iter_verified("timed", **window)) == 0
    frame = store.load("timed", start="2026-01-05T18:00:00Z", end="2026-01-05T19:00:00Z")
    assert frame["seq"].to_list() == [10] and store.last_report.tenants[0].events == 1


def test_cli_export_and_query_of_an_emptied_window_exit_1(store: Store, tmp_path: Path) -> None:
    _move(store, "2019-01-01T00:00:00.000000Z")
    since = ("--since", WINDOW["start"], "--until", WINDOW["end"])
    out = tmp_path / "out.ndjson"
    done = _cli("export", store.location, "--tenant", "timed", *since, "-o", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "modified" in done.stderr and not out.exists()
    done = _cli("query", store.location, "SELECT COUNT(*) AS n FROM events", "--tenant", "timed",
                *since)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr


def test_cli_detect_until_with_every_event_moved_after_it_exits_1(store: Store) -> None:
    _move(store, "2099-01-01T00:00:00.000000Z", 0, 3)
    done = _cli("detect", store.location, "--tenant", "timed", "--until", "2026-01-05T10:30:00Z")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TAMPERED" in done.stderr


def test_a_small_page_of_an_emptied_window_is_not_served(tmp_path: Path) -> None:
    """The API's small pages (SQLite) check the rows beside their window too: the page
    declines, and the general path names the edit (the pull API answers 409)."""
    store = Store.init(str(tmp_path / "audit.db"))
    store.append(make_events(30, "timed", step_s=3600))
    page = store.json_page("timed", **WINDOW)
    assert page is not None and len(page.events) == 10
    for when in ("2019-01-01T00:00:00.000000Z", "2099-01-01T00:00:00.000000Z"):
        _move(store, when)
        for order in ("asc", "desc"):
            assert store.json_page("timed", **WINDOW, order=order) is None  # type: ignore[arg-type]
    away = {"start": "2026-01-06T06:00:00Z", "end": "2026-01-06T09:00:00Z"}
    assert store.json_page("timed", **away) is not None  # type: ignore[arg-type]


def test_the_pull_api_refuses_an_emptied_window(store: Store) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from auditkit.api import create_app

    store.add_principal("p")
    store.grant("p", "timed", "auditor")
    token = store.create_token("p").text
    _move(store, "2019-01-01T00:00:00.000000Z")
    with TestClient(create_app(store)) as client:
        for form in ("json", "ndjson"):
            answer = client.get(
                "/v1/tenants/timed/events",
                params={**WINDOW, "format": form},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 409, answer.text


# -- 2. a time that is no time ---------------------------------------------------------------
@pytest.mark.postgres
def test_postgresql_a_null_time_does_not_hide_an_event_from_a_window(pg_url: str) -> None:
    """SQLite's rows whose ``occurred_at`` is not text were named; on PostgreSQL, with
    the column's NOT NULL dropped, a NULL time fell out of every window unseen."""
    store = Store.init(pg_url)
    store.append(make_events(30, "timed", step_s=3600))
    sql(
        store,
        "ALTER TABLE events ALTER COLUMN occurred_at DROP NOT NULL",
        "UPDATE events SET occurred_at = NULL WHERE tenant_id = 'timed' AND seq = 15",
    )
    for read in (
        lambda: store.load("timed", **WINDOW),
        lambda: store.load("timed", **WINDOW, seqs=(0, 30)),
        lambda: store.load("timed", start=WINDOW["start"]),
    ):
        with pytest.raises(TamperedError, match="seq=15"):
            read()
        problem = store.last_report.problems[0]  # type: ignore[union-attr]
        assert problem.kind == ProblemKind.MALFORMED and problem.column == "occurred_at"
    assert store.verify().status.value == "tampered"


# -- 3. PostgreSQL: a built-in's name taken by a planted function ------------------------------
@pytest.mark.postgres
def test_postgresql_a_planted_count_cannot_make_a_deleted_event_present(pg_url: str) -> None:
    """PostgreSQL takes the function whose argument types fit best, in whatever schema
    the search_path reaches: a ``count(bigint)`` aggregate planted there answered the
    count by which a time-ranged read knows its seqs are all present (the built-in is
    ``count("any")``), and a deleted event inside the window went unseen."""
    store = Store.init(pg_url)
    store.append(make_events(30, "timed", step_s=3600))
    name = pg_url.rsplit("/", 1)[1]
    sql(
        store,
        "DELETE FROM events WHERE tenant_id = 'timed' AND seq = 15",
        "CREATE SCHEMA lurk",
        "CREATE FUNCTION lurk.step(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE "
        "AS 'SELECT $1 + 1'",
        "CREATE FUNCTION lurk.done(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE "
        "AS 'SELECT $1 + 1'",
        "CREATE AGGREGATE lurk.count(bigint) (sfunc = lurk.step, stype = bigint, "
        "initcond = '0', finalfunc = lurk.done)",
        f'ALTER DATABASE "{name}" SET search_path = public, lurk',
    )
    reopened = Store.open(pg_url)
    with pytest.raises(TamperedError, match="seq=15"):
        reopened.load("timed", **WINDOW)
    report = reopened.verify()
    planted = [p for p in report.problems if p.kind == ProblemKind.SCHEMA_CHANGED]
    assert planted and "lurk.count(bigint) is an aggregate" in planted[0].detail, report.summary()


@pytest.mark.postgres
def test_postgresql_a_planted_operator_is_named_and_extensions_are_not(pg_url: str) -> None:
    store = Store.init(pg_url)
    store.append(make_events(3))
    sql(store, "CREATE EXTENSION IF NOT EXISTS citext")  # its operators are its own
    assert store.verify().status.value == "intact", store.verify().summary()
    sql(
        store,
        "CREATE FUNCTION public.never(varchar, varchar) RETURNS boolean LANGUAGE sql "
        "IMMUTABLE AS 'SELECT false'",
        "CREATE OPERATOR public.= (leftarg = varchar, rightarg = varchar, function = public.never)",
    )
    report = store.verify()
    assert any(
        p.kind == ProblemKind.SCHEMA_CHANGED and "public.=(character varying" in p.detail
        for p in report.problems
    ), report.summary()


# -- 4. a tenant planted by its tree alone -----------------------------------------------------
def test_a_tenant_planted_by_a_tree_head_alone_is_named(store: Store) -> None:
    """A tree head row (a copy of another tenant's) for a tenant no checkpoint ever
    signed made a tenant the store lists, and verify said INTACT with it."""
    sql(
        store,
        "INSERT INTO tree_heads (tenant_id, size, root_hash, frontier) "
        "SELECT 'ghost', size, root_hash, frontier FROM tree_heads WHERE tenant_id = 'acme'",
    )
    assert "ghost" in store.tenants()
    report = store.verify()
    assert [(p.kind, p.tenant_id) for p in report.problems] == [
        (ProblemKind.TREE_MISMATCH, "ghost")
    ], report.summary()
    done = _cli("verify", store.location, "--no-remember")
    assert done.returncode == 1, done.stdout + done.stderr
