"""The quarantine under the signed manifest: the input records that were refused, with
why, are evidence (their counts go into compliance reports).  An attacker with write
access to the database but not the key who deletes, edits or adds quarantined records
is named by a whole-store verification, on SQLite and PostgreSQL; the records are kept
whatever the manifest's state."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from auditkit import ProblemKind, Store
from auditkit.cli import main
from auditkit.store._manifest import MANIFEST_KEY, Manifest, QuarantineSeal
from tests.conftest import make_events
from tests.store._attacker import sql


def _refused(n: int, tag: str = "x") -> list[dict[str, Any]]:
    return [
        {"file": f"{tag}.ndjson", "line": i + 1, "field": "occurred_at",
         "reason": f"line {i + 1}: occurred_at is not a time", "record": f'{{"n": {i}}}'}
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def store(store_location: str) -> Store:
    s = Store.init(store_location)
    s.append(make_events(12))
    s.quarantine(_refused(3))
    s.append(make_events(4, "globex"))
    s.quarantine(_refused(2, "y"))
    report = s.verify()
    assert report.status.value == "intact" and not _quarantine_notes(report), report.summary()
    return s


def kinds(report: Any) -> set[ProblemKind]:
    return {p.kind for p in report.problems}


def _quarantine_notes(report: Any) -> list[str]:
    return [n for n in report.notes if "quarantine" in n]


def _seal(store: Store) -> QuarantineSeal | None:
    text, _ = store._reader.manifest()
    assert text
    return Manifest.parse(text).quarantine


def test_every_write_seals_the_quarantine_in_the_manifest(store: Store) -> None:
    seal = _seal(store)
    assert seal is not None and seal.rows == 5
    rows = list(store._reader.quarantine_rows())
    assert QuarantineSeal().extended(rows) == seal
    # read a page at a time (keyset pages by id): the same rows, in the same order
    assert list(store._reader.quarantine_rows(page=2)) == rows
    assert list(store._reader.quarantine_rows(page=5)) == rows
    assert store.quarantine_counts() == {"occurred_at": 5}


@pytest.mark.parametrize(
    "edit",
    [
        "DELETE FROM quarantine WHERE line = 2",
        "DELETE FROM quarantine",
        "UPDATE quarantine SET reason = 'duplicate' WHERE id = (SELECT MIN(id) FROM quarantine)",
        "UPDATE quarantine SET record = NULL",
        "UPDATE quarantine SET field = NULL WHERE file = 'y.ndjson'",
        "UPDATE quarantine SET quarantined_at = '2020-01-01T00:00:00.000000Z'",
        "UPDATE quarantine SET file = 'other.ndjson' WHERE line = 1",
        # two records swap their places: the same rows, in another order
        "UPDATE quarantine SET id = -id",
        # a forged record slipped in among the sealed ones
        "INSERT INTO quarantine (id, quarantined_at, file, line, location, field, reason, "
        "record) VALUES (0, '2026-01-01T00:00:00.000000Z', 'z.ndjson', 1, NULL, NULL, "
        "'forged', NULL)",
    ],
)
def test_a_quarantined_record_deleted_edited_or_added_is_named(store: Store, edit: str) -> None:
    sql(store, edit)
    report = Store.open(store.location).verify()
    assert report.status.value == "tampered"
    assert kinds(report) == {ProblemKind.QUARANTINE_ALTERED}, report.summary()
    problem = report.problems[0]
    assert problem.tenant_id == "" and "seals 5 quarantined record(s)" in problem.detail


def test_what_the_detail_says_was_done(store: Store) -> None:
    sql(store, "DELETE FROM quarantine WHERE line = 2")  # one of each file
    assert "2 of them were deleted" in store.verify().problems[0].detail
    sql(store, "DELETE FROM quarantine WHERE file = 'x.ndjson'")
    assert "4 of them were deleted" in store.verify().problems[0].detail


def test_sqlite_a_value_of_another_type_is_named(tmp_path: Path) -> None:
    s = Store.init(str(tmp_path / "a.db"))
    s.quarantine(_refused(2))
    sql(s, "UPDATE quarantine SET line = 'one' WHERE line = 1")  # text in an integer column
    assert kinds(s.verify()) == {ProblemKind.QUARANTINE_ALTERED}
    sql(s, "UPDATE quarantine SET line = 1, reason = CAST(reason AS BLOB)")
    assert kinds(s.verify()) == {ProblemKind.QUARANTINE_ALTERED}
    sql(s, "UPDATE quarantine SET reason = X'ff00fe'")  # not UTF-8: read, not a crash
    assert kinds(s.verify()) == {ProblemKind.QUARANTINE_ALTERED}


def test_a_record_added_after_the_seal_is_a_note_not_a_verdict(store: Store) -> None:
    """Nothing signed vouches for it, and nothing sealed was lost."""
    sql(
        store,
        "INSERT INTO quarantine (quarantined_at, file, line, location, field, reason, record) "
        "VALUES ('2026-01-01T00:00:00.000000Z', 'z.ndjson', 1, NULL, NULL, 'added', NULL)",
    )
    report = store.verify()
    assert report.status.value == "intact"
    assert any("nothing signed vouches for them" in n for n in _quarantine_notes(report))
    store.quarantine(_refused(1, "w"))  # the next write seals it with its own
    after = store.verify()
    assert after.status.value == "intact" and not _quarantine_notes(after)
    assert _seal(store).rows == 7  # type: ignore[union-attr]


def test_the_records_are_kept_whatever_the_manifest_says(store: Store) -> None:
    """A damaged manifest stops appends, but refused input is still kept (nothing is
    lost), unsealed; verify names the manifest."""
    sql(store, "UPDATE store_meta SET value = 'junk' WHERE key = ?", params=(MANIFEST_KEY,))
    assert store.quarantine(_refused(2, "z")) == 2
    assert store.quarantine_counts() == {"occurred_at": 7}
    assert kinds(store.verify()) == {ProblemKind.BAD_SIGNATURE}
    sql(store, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    assert store.quarantine(_refused(1, "v")) == 1
    assert kinds(store.verify()) == {ProblemKind.MANIFEST_MISSING}


def test_a_writer_without_the_key_keeps_them_and_the_next_keyed_write_seals_them(
    store: Store, tmp_path: Path
) -> None:
    keyless = Store.open(store.location, key=tmp_path / "missing.key")
    assert keyless.quarantine(_refused(2, "k")) == 2
    report = store.verify()
    assert report.status.value == "intact" and _quarantine_notes(report)
    store.append(make_events(1, "globex", prefix="next"))  # an append seals them too
    assert _seal(store).rows == 7  # type: ignore[union-attr]
    sql(store, "DELETE FROM quarantine WHERE file = 'k.ndjson'")
    assert kinds(store.verify()) == {ProblemKind.QUARANTINE_ALTERED}


def test_a_manifest_written_before_the_seal_is_sealed_by_the_next_write(store: Store) -> None:
    """A store whose manifest was signed by the release before this one (no
    ``quarantine`` field): a note until the next write, then guarded."""
    text, _ = store._reader.manifest()
    older = Manifest.parse(text)  # type: ignore[arg-type]
    older.quarantine = None
    sql(
        store,
        "UPDATE store_meta SET value = ? WHERE key = ?",
        params=(older.signed(store.private_key), MANIFEST_KEY),
    )
    report = store.verify()
    assert report.status.value == "intact"
    assert any("no signed manifest covers" in n for n in _quarantine_notes(report))
    store.append(make_events(1, "globex", prefix="next"))
    assert not _quarantine_notes(store.verify())
    sql(store, "DELETE FROM quarantine WHERE line = 1")
    assert kinds(store.verify()) == {ProblemKind.QUARANTINE_ALTERED}


def test_the_seal_cannot_be_stripped_from_a_signed_manifest(store: Store) -> None:
    """Removing the field to make the quarantine look unsealed breaks the signature."""
    import orjson

    text, _ = store._reader.manifest()
    data = orjson.loads(text)  # type: ignore[arg-type]
    del data["quarantine"]
    sql(
        store,
        "UPDATE store_meta SET value = ? WHERE key = ?",
        params=(orjson.dumps(data).decode(), MANIFEST_KEY),
    )
    sql(store, "DELETE FROM quarantine")
    assert kinds(store.verify()) == {ProblemKind.BAD_SIGNATURE}


def test_a_tenant_verification_does_not_read_the_quarantine(store: Store) -> None:
    """The quarantine is store-wide (a refused record may name no tenant)."""
    sql(store, "DELETE FROM quarantine")
    assert store.verify("acme").status.value == "intact"
    assert kinds(store.verify()) == {ProblemKind.QUARANTINE_ALTERED}


def test_concurrent_writers_never_seal_past_each_other(store_location: str) -> None:
    """Writers of refused records and appenders at once: every row is sealed in order
    (on PostgreSQL, rows committed out of id order would look forged)."""
    Store.init(store_location)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            s = Store.open(store_location)
            for j in range(6):
                s.quarantine(_refused(3, f"w{i}-{j}"))
                s.append(make_events(2, f"t{i}", prefix=f"w{i}-{j}"))
            s.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    s = Store.open(store_location)
    report = s.verify()
    assert report.status.value == "intact" and not _quarantine_notes(report), report.summary()
    assert _seal(s).rows == 54  # type: ignore[union-attr]
    s.close()


def test_ingest_seals_and_the_command_line_exits_1(tmp_path: Path) -> None:
    location = str(tmp_path / "a.db")
    Store.init(location)
    trail = tmp_path / "in.ndjson"
    trail.write_text(
        '{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",'
        ' "actor": {"id": "u1"}}\n'
        '{"tenant_id": "acme", "occurred_at": "yesterday", "action": "user.login",'
        ' "actor": {"id": "u2"}}\n'
        "not json\n"
    )
    assert main(["ingest", location, str(trail), "--no-progress"]) == 0  # 2 quarantined
    assert main(["verify", location, "--no-progress"]) == 0
    s = Store.open(location)
    assert _seal(s).rows == 2  # type: ignore[union-attr]
    sql(s, "DELETE FROM quarantine WHERE line = 3")
    assert main(["verify", location, "--no-progress"]) == 1
    out = tmp_path / "r.json"
    assert main(["report", location, "--framework", "soc2", "--period", "all", "-o", str(out)]) == 1
    assert out.is_file()  # the report still documents the failure
    # a report on one tenant counts the refused input store-wide too
    one = ["report", location, "--framework", "soc2", "--tenant", "acme", "--period", "all"]
    assert main([*one, "-o", str(tmp_path / "acme.json")]) == 1


def _numbered(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # named functions, not lambdas, in strategies: Hypothesis reads a lambda's source
    # to describe it, which has failed on Python 3.11 (an AST recursion-depth error)
    return [(i + 1, *r) for i, r in enumerate(rows)]


_values = st.one_of(st.none(), st.integers(-(2**40), 2**40), st.text(max_size=20))
_rows = st.lists(
    st.tuples(_values, _values, _values, _values, _values, _values, _values), max_size=8
).map(_numbered)


@settings(max_examples=150, deadline=None)
@given(rows=_rows, cut=st.integers(0, 8))
def test_a_seal_grown_write_by_write_is_the_seal_of_all_the_rows(
    rows: list[tuple[Any, ...]], cut: int
) -> None:
    """The append path extends the chain with each write's rows; verify computes it
    over every row at once: the two must agree, however the rows were split."""
    at_once = QuarantineSeal().extended(rows)
    assert QuarantineSeal().extended(rows[:cut]).extended(rows[cut:]) == at_once
    assert (at_once.rows, at_once.last_id) == (len(rows), len(rows))


@settings(max_examples=150, deadline=None)
@given(rows=_rows.filter(bool), data=st.data())
def test_any_change_of_one_value_changes_the_seal(
    rows: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.integers(1, 7))
    value, old = data.draw(_values), rows[i][column]
    assume(value != old or type(value) is not type(old))
    changed = list(rows)
    changed[i] = (*rows[i][:column], value, *rows[i][column + 1 :])
    assert QuarantineSeal().extended(changed) != QuarantineSeal().extended(rows)
