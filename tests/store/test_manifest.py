"""The signed tenant manifest: a tenant removed whole, or rolled back to an earlier
copy of its own rows, is named by verification, on SQLite and PostgreSQL; a manifest
that is not the store's own is named and refused by the append path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit import ProblemKind, Store, TamperedError
from auditkit.cli import main
from auditkit.errors import StoreError
from auditkit.store._manifest import MANIFEST_KEY, Manifest, tenant_digest
from tests.conftest import make_events
from tests.store._attacker import sql

TABLES = ("events", "checkpoints", "tree_heads", "merkle_tiles")


@pytest.fixture
def store(store_location: str) -> Store:
    s = Store.init(store_location)
    s.append(make_events(40))
    s.append(make_events(6, "globex"))
    s.append(make_events(9, "initech"))
    assert s.verify().status.value == "intact"
    return s


def kinds(report: Any) -> set[ProblemKind]:
    return {p.kind for p in report.problems}


def _manifest_text(store: Store) -> str:
    text, required = store._reader.manifest()
    assert text and required
    return text


def _remove(store: Store, *tenants: str) -> None:
    for t in tenants:
        sql(store, *(f"DELETE FROM {table} WHERE tenant_id = ?" for table in TABLES), params=(t,))


def _rows(store: Store, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    with store.backend.connect() as conn:
        cur = conn.cursor()
        out = {}
        for table in TABLES:
            ph = store.backend.ph
            cur.execute(f"SELECT * FROM {table} WHERE tenant_id = {ph}", (tenant,))
            out[table] = [tuple(r) for r in cur.fetchall()]
        return out


def _restore(store: Store, tenant: str, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """Put back a tenant's rows as an earlier copy of the database held them."""
    _remove(store, tenant)
    with store.backend.connect() as conn:
        cur = conn.cursor()
        for table, values in rows.items():
            if values:
                marks = ", ".join([store.backend.ph] * len(values[0]))
                cur.executemany(f"INSERT INTO {table} VALUES ({marks})", values)
        conn.commit()


def test_a_whole_tenant_removed_is_named(store: Store) -> None:
    _remove(store, "initech")
    report = store.verify()
    assert report.status.value == "tampered"
    assert kinds(report) == {ProblemKind.VANISHED}
    assert "9 record(s)" in report.problems[0].detail
    # asked for by name, it is not an unknown tenant: it is gone
    named = store.verify("initech")
    assert kinds(named) == {ProblemKind.VANISHED} and named.problems[0].tenant_id == "initech"
    # every read of the whole store says so too
    with pytest.raises(TamperedError, match="vanished"):
        store.load()
    with pytest.raises(TamperedError, match="vanished"):
        store.scan()
    # a page of it, as the pull API asks for one, too
    assert store.json_page("initech") is None  # not as a healthy store holds it
    with pytest.raises(TamperedError, match="vanished"):
        store.load("initech", seqs=(0, 10))
    # the tenants left are intact on their own
    assert store.verify("acme").ok and store.load("globex").height == 6


def test_everything_removed_is_named_not_an_empty_intact_store(store: Store) -> None:
    _remove(store, "acme", "globex", "initech")
    report = store.verify()
    assert report.status.value == "tampered"
    assert [p.kind for p in report.problems] == [ProblemKind.VANISHED] * 3


def test_a_tenant_rolled_back_to_an_earlier_copy_of_its_rows_is_named(store: Store) -> None:
    earlier = _rows(store, "initech")
    store.append(make_events(5, "initech", start="2026-02-01T00:00:00Z", prefix="late"))
    store.append(make_events(3, "acme", start="2026-02-01T00:00:00Z", prefix="late"))
    _restore(store, "initech", earlier)
    report = store.verify()
    assert kinds(report) == {ProblemKind.ROLLBACK}, report.summary()
    problem = report.problems[0]
    assert problem.tenant_id == "initech" and problem.seq == 9
    assert "says 14" in problem.detail
    with pytest.raises(TamperedError, match="rollback"):
        store.load("initech")


def test_a_forged_manifest_is_named_and_refused_by_the_append_path(store: Store) -> None:
    text = _manifest_text(store)
    d = tenant_digest(store.store_id, "initech")
    data = orjson.loads(text)
    data["tenants"][d] = 1  # lower initech's bound, to hide a truncation
    sql(
        store,
        "UPDATE store_meta SET value = ? WHERE key = ?",
        params=(orjson.dumps(data).decode(), MANIFEST_KEY),
    )
    report = store.verify()
    assert kinds(report) == {ProblemKind.BAD_SIGNATURE}
    assert "signature does not match" in report.problems[0].detail
    before = store.count()
    with pytest.raises(StoreError, match=r"tenant manifest is damaged.*nothing was appended"):
        store.append(make_events(2, "globex", prefix="new"))
    assert store.count() == before


@pytest.mark.parametrize(
    "value",
    ["", "not json", "[]", '{"format": "auditkit-tenant-manifest/1", "tenants": {"a": -1}}'],
)
def test_a_manifest_that_is_not_one_is_named(store: Store, value: str) -> None:
    sql(store, "UPDATE store_meta SET value = ? WHERE key = ?", params=(value, MANIFEST_KEY))
    report = store.verify()
    if value == "":  # read as no manifest at all: removed
        assert kinds(report) == {ProblemKind.MANIFEST_MISSING}, report.summary()
    else:
        assert kinds(report) == {ProblemKind.BAD_SIGNATURE}, report.summary()


def test_another_stores_manifest_is_named(store: Store, tmp_path: Path) -> None:
    other = Store.init(str(tmp_path / "other.db"))
    other.append(make_events(3, "acme"))
    sql(
        store,
        "UPDATE store_meta SET value = ? WHERE key = ?",
        params=(_manifest_text(other), MANIFEST_KEY),
    )
    report = store.verify()
    assert kinds(report) == {ProblemKind.BAD_SIGNATURE}
    assert "belongs to store" in report.problems[0].detail


def _set_version(store: Store, version: str) -> None:
    sql(store, "UPDATE store_meta SET value = ? WHERE key = 'store_version'", params=(version,))


@pytest.mark.parametrize("with_tenant", [False, True])
def test_a_removed_manifest_is_named_and_stops_appends(store: Store, with_tenant: bool) -> None:
    """A store made with a manifest that has none was edited: the removal is named,
    whatever else went with it, and no append signs a new one over the loss."""
    sql(store, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    if with_tenant:
        _remove(store, "initech")
    report = Store.open(store.location).verify()
    assert kinds(report) == {ProblemKind.MANIFEST_MISSING}, report.summary()
    assert "removed" in report.problems[0].detail
    before = store.count()
    with pytest.raises(StoreError, match=r"manifest was removed.*nothing was appended"):
        store.append(make_events(1, "globex", prefix="next"))
    assert store.count() == before


def test_everything_removed_with_the_manifest_is_named(store: Store) -> None:
    _remove(store, "acme", "globex", "initech")
    sql(store, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    report = store.verify()
    assert not report.ok and kinds(report) == {ProblemKind.MANIFEST_MISSING}


def test_a_store_made_before_manifests_gets_one_at_its_next_append(store: Store) -> None:
    """A version-4 store (made before manifests) has none: a note, and the next
    append writes one over every tenant the checkpoints name and raises the version,
    after which a removal is named again."""
    sql(store, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    _set_version(store, "4")
    old = Store.open(store.location)
    report = old.verify()
    assert report.ok
    assert any("no signed tenant manifest" in n for n in report.notes)
    old.append(make_events(1, "globex", prefix="next"))
    text, required = old._reader.manifest()
    assert required and text
    manifest = Manifest.parse(text)
    assert manifest.since is not None  # the list is only vouched for from now on
    assert manifest.tenants[tenant_digest(store.store_id, "initech")] == 9
    report = Store.open(store.location).verify()
    assert report.ok and any("signed since" in n for n in report.notes)
    _remove(store, "initech")  # the tenants it lists are protected again
    assert kinds(Store.open(store.location).verify()) == {ProblemKind.VANISHED}
    sql(store, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    assert kinds(Store.open(store.location).verify()) == {ProblemKind.MANIFEST_MISSING}


def test_a_store_of_version_4_with_a_manifest_is_raised_by_its_next_append(store: Store) -> None:
    """Stores made by the version before this one hold a manifest at version 4."""
    _set_version(store, "4")
    old = Store.open(store.location)
    assert old._reader.manifest()[1] is False
    old.append(make_events(1, "globex", prefix="next"))
    assert Store.open(store.location).version == 5
    sql(store, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    assert kinds(Store.open(store.location).verify()) == {ProblemKind.MANIFEST_MISSING}


def test_the_manifest_removed_and_the_version_set_back_is_only_a_note(store: Store) -> None:
    """What the manifest cannot catch (docs/store.md, threat model): removed with the
    store's version set back, the store reads as one made before manifests."""
    _remove(store, "initech")
    sql(store, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    _set_version(store, "4")
    report = Store.open(store.location).verify()
    assert report.ok
    assert any("no signed tenant manifest" in n for n in report.notes)


def test_the_version_set_back_is_named_when_the_key_signed_access_rows(store: Store) -> None:
    """Only a version that writes the manifest signs grants and tokens: with one of them
    in the store, the manifest removed and the version set back is a removal, which
    would otherwise let the next append sign whatever was put back (a revoked grant)."""
    store.add_principal("ann@example.com")
    store.grant("ann@example.com", "acme", "analyst")
    sql(store, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    _set_version(store, "4")
    report = Store.open(store.location).verify()
    assert kinds(report) == {ProblemKind.MANIFEST_MISSING}, report.summary()
    assert "access rows its key signed" in report.problems[0].detail
    with pytest.raises(StoreError, match=r"manifest was removed.*nothing was appended"):
        Store.open(store.location).append(make_events(1, "globex", prefix="next"))


@pytest.mark.parametrize("value", ["x", "", "4; DROP"])
def test_a_damaged_store_version_is_named_on_open(store: Store, value: str) -> None:
    _set_version(store, value)
    with pytest.raises(StoreError, match="store_meta is damaged"):
        Store.open(store.location)


def test_the_manifest_names_no_tenant_and_its_entries_only_grow(store: Store) -> None:
    text = _manifest_text(store)
    for name in ("acme", "globex", "initech"):
        assert name not in text  # a role that reads store_meta learns no tenant's name
    manifest = Manifest.parse(text)
    assert manifest.tenants == {
        tenant_digest(store.store_id, "acme"): 40,
        tenant_digest(store.store_id, "globex"): 6,
        tenant_digest(store.store_id, "initech"): 9,
    }
    assert manifest.grown({"acme": 3}).tenants == manifest.tenants
    assert manifest.grown({"acme": 41}).tenants[tenant_digest(store.store_id, "acme")] == 41


def test_verify_on_the_command_line_exits_1_for_a_removed_tenant(tmp_path: Path) -> None:
    location = str(tmp_path / "a.db")
    s = Store.init(location)
    s.append(make_events(5, "acme") + make_events(4, "globex"))
    assert main(["verify", location, "--no-progress"]) == 0
    _remove(s, "globex")
    assert main(["verify", location, "--no-progress"]) == 1
    assert main(["verify", location, "--tenant", "globex", "--no-progress"]) == 1
    assert main(["verify", location, "--tenant", "nobody", "--no-progress"]) == 2
    sql(s, "DELETE FROM store_meta WHERE key = ?", params=(MANIFEST_KEY,))
    assert main(["verify", location, "--no-progress"]) == 1  # the manifest went with it


def test_an_earlier_copy_of_the_manifest_put_back_is_named(store: Store) -> None:
    """The attacker kept an old signed manifest (here: one signed an hour before the
    newest checkpoint, as a copy saved then would be), removes a tenant made since
    and puts the copy back: it lists nothing of that tenant, but it is older than the
    checkpoints every append signs before it."""
    from datetime import UTC, datetime, timedelta

    old = Manifest(store.store_id).grown({"acme": 40, "globex": 6})
    text = old.signed(store.private_key, at=datetime.now(UTC) - timedelta(hours=1))
    _remove(store, "initech")
    sql(store, "UPDATE store_meta SET value = ? WHERE key = ?", params=(text, MANIFEST_KEY))
    report = store.verify()
    assert kinds(report) == {ProblemKind.ROLLBACK}, report.summary()
    assert "earlier copy was put back" in report.problems[0].detail
    # a copy a few minutes old is within the clocks' tolerance (and lists what it lists)
    recent = old.signed(store.private_key, at=datetime.now(UTC) - timedelta(minutes=2))
    sql(store, "UPDATE store_meta SET value = ? WHERE key = ?", params=(recent, MANIFEST_KEY))
    assert store.verify().ok


def test_a_clock_stepped_back_does_not_make_the_manifest_look_put_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest is never signed earlier than the one it replaces: when the store's
    clock reads an hour behind the one that signed the last manifest (a clock stepped
    back), the next manifest keeps the later time, and is not taken for an earlier
    copy put back."""
    from datetime import datetime, timedelta

    import auditkit.store._manifest as manifest_module
    import auditkit.store.store as store_module

    real = datetime

    class Behind(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return real.now(tz) - timedelta(hours=1)

    last = Manifest.parse(_manifest_text(store)).timestamp
    monkeypatch.setattr(store_module, "datetime", Behind)
    monkeypatch.setattr(manifest_module, "datetime", Behind)
    store.append(make_events(2, "globex", prefix="after-step"))
    assert Manifest.parse(_manifest_text(store)).timestamp >= last
    report = store.verify()
    assert report.ok, report.summary()


def test_revocations_are_signed_and_survive_every_later_append(store: Store) -> None:
    store.add_principal("ann")
    store.grant("ann", "acme", "viewer")
    store.revoke("ann", "acme", "viewer")
    text = str(dict(store._reader._fetch("SELECT key, value FROM store_meta"))[MANIFEST_KEY])
    listed = Manifest.parse(text).revoked
    assert listed is not None and len(listed) == 1
    store.append(make_events(3, "globex", prefix="later"))  # grown, never shrunk
    after = dict(store._reader._fetch("SELECT key, value FROM store_meta"))[MANIFEST_KEY]
    assert Manifest.parse(str(after)).revoked == listed
    # the list cannot be taken out of a signed manifest
    doc = orjson.loads(after)
    del doc["revoked"]
    sql(store, "UPDATE store_meta SET value = ? WHERE key = ?",
        params=(orjson.dumps(doc).decode(), MANIFEST_KEY))  # fmt: skip
    assert ProblemKind.BAD_SIGNATURE in {p.kind for p in store.verify().problems}
