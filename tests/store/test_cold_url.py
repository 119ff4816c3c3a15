"""Someone who can write the database but lacks the key names another cold tier in
``store_meta``: retention would seal a tenant's events there (a folder or bucket he
controls) and purge them from the database. The cold tier is signed in the manifest
when the store is made, so retention refuses and ``verify`` names the change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditkit import ProblemKind, Store
from auditkit.cli import main
from auditkit.errors import StoreError
from auditkit.store._manifest import MANIFEST_KEY, Manifest
from tests.conftest import make_events
from tests.store._attacker import sql

OLD = (datetime.now(UTC) - timedelta(days=400)).replace(microsecond=0)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.init(str(tmp_path / "a.db"), cold=tmp_path / "cold")
    s.append(make_events(50, "acme", start=OLD.isoformat(), step_s=600))
    s.retention.set("acme", hot_days=30)
    return s


def moved(store: Store) -> list[str]:
    return [p.detail for p in store.verify().problems if p.kind is ProblemKind.COLD_TIER_MOVED]


@pytest.mark.parametrize("how", ["update", "delete"])
def test_a_cold_tier_named_in_the_database_receives_nothing(
    store: Store, tmp_path: Path, how: str
) -> None:
    evil = tmp_path / "evil"
    if how == "update":
        sql(store, "UPDATE store_meta SET value = ? WHERE key = 'cold_url'", params=(str(evil),))
    else:  # the default beside the store instead of the one named at init
        sql(store, "DELETE FROM store_meta WHERE key = 'cold_url'")
        evil = tmp_path / "a.db.cold"
    again = Store.open(store.location)
    with pytest.raises(StoreError, match="signed manifest names"):
        again.retention.apply()
    with pytest.raises(StoreError, match="signed manifest names"):
        again.retention.apply(dry_run=True)
    assert not evil.exists() and again.tier_counts("acme") == (51, 0)  # the policy is an event too
    (problem,) = moved(again)
    assert str(tmp_path / "cold") in problem
    assert main(["retention", store.location, "apply"]) == 2
    assert main(["verify", store.location]) == 1


def test_a_cold_tier_added_to_a_store_that_had_none(pg_url: str, tmp_path: Path) -> None:
    import os

    os.environ["AUDITKIT_HOME"] = str(tmp_path / "home")
    try:
        store = Store.init(pg_url)
        store.append(make_events(10, "acme", start=OLD.isoformat()))
        store.retention.set("acme", hot_days=1)
        sql(store, "INSERT INTO store_meta (key, value) VALUES ('cold_url', ?)",
            params=(str(tmp_path / "evil"),))  # fmt: skip
        with pytest.raises(StoreError, match="signed manifest names none"):
            Store.open(pg_url).retention.apply()
        assert not (tmp_path / "evil").exists()
        assert len(moved(store)) == 1
    finally:
        os.environ.pop("AUDITKIT_HOME", None)


def test_the_tier_named_at_init_still_works(store: Store, tmp_path: Path) -> None:
    assert store.retention.apply().sealed == 50  # the policy event is younger
    assert any((tmp_path / "cold").rglob("*.parquet"))
    assert moved(store) == [] and store.verify().status.value == "intact"


def test_a_manifest_of_an_earlier_version_records_the_tier_at_its_next_append(
    store: Store,
) -> None:
    text = str(dict(store._reader._fetch("SELECT key, value FROM store_meta"))[MANIFEST_KEY])
    older = Manifest.parse(text)
    older.cold_recorded, older.cold_url = False, None  # as an earlier version wrote it
    sql(store, "UPDATE store_meta SET value = ? WHERE key = ?",
        params=(older.signed(store.private_key), MANIFEST_KEY))  # fmt: skip
    assert moved(store) == []  # nothing recorded: nothing to compare
    store.append(make_events(2, "globex"))
    text = str(dict(store._reader._fetch("SELECT key, value FROM store_meta"))[MANIFEST_KEY])
    recorded = Manifest.parse(text)
    assert recorded.cold_recorded and recorded.cold_url == str(Path(store.cold_url or ""))


def test_the_manifest_removed_with_the_url_changed_seals_nothing(
    store: Store, tmp_path: Path
) -> None:
    sql(store, f"DELETE FROM store_meta WHERE key = '{MANIFEST_KEY}'")
    sql(store, "UPDATE store_meta SET value = ? WHERE key = 'cold_url'",
        params=(str(tmp_path / "evil"),))  # fmt: skip
    with pytest.raises(StoreError, match="manifest was removed"):
        Store.open(store.location).retention.apply()
    assert not (tmp_path / "evil").exists()
