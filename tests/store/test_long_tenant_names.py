"""Tenant names up to 512 characters (a percent-encoded non-Latin name passes 255 bytes
after ~85 characters): their cold-tier partition folders fit in a file name, short
names keep the folders they always had, and every reader of the cold tier (seal,
recovery, verification, loads, other Parquet engines) finds the right tenant."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit import ProblemKind, Store
from auditkit.store import _cold
from auditkit.store._cold import NAME_MAX, ColdTier, tenant_partition
from tests.conftest import make_events

OLD = (datetime.now(UTC) - timedelta(days=400)).replace(day=10, hour=8, microsecond=0)
LONG = "x" * 300
JAPANESE = "テナント" * 30  # 120 characters, 1080 bytes percent-encoded
TENANTS = ("acme", LONG, JAPANESE, "z-last")


def _old_partition(tenant: str) -> str:
    """The partition folder of every earlier version."""
    return f"tenant={quote(tenant, safe='')}"


# -- the folder names -----------------------------------------------------------------------
def test_names_that_fit_keep_their_folder() -> None:
    fits = "a" * (NAME_MAX - len("tenant="))
    for tenant in ("acme", "acme corp/eu", "globex~1", "テナント", fits):
        assert tenant_partition(tenant) == _old_partition(tenant)
    assert len(tenant_partition(fits)) == NAME_MAX


@pytest.mark.parametrize(
    "tenant",
    [
        "a" * (NAME_MAX - len("tenant=") + 1),  # one byte too many
        LONG,
        JAPANESE,
        "x" * 512,
        "\U0001f600" * 512,  # 12 encoded bytes per character: the longest legal folder
        "%" * 512,
        "~" * 512,
    ],
)
def test_every_legal_name_fits_in_a_file_name(tenant: str) -> None:
    part = tenant_partition(tenant)
    assert len(part.encode()) <= NAME_MAX and part == tenant_partition(tenant)
    assert part.isascii() and "/" not in part
    head, digest = part.removeprefix("tenant=").rsplit("%7E", 1)
    assert digest == hashlib.sha256(tenant.encode()).hexdigest()
    assert head and tenant.startswith(unquote(head))  # a readable prefix of the name


def test_shortened_folders_are_never_another_tenants() -> None:
    # names sharing a long prefix get different folders
    a, b = tenant_partition("x" * 300 + "a"), tenant_partition("x" * 300 + "b")
    assert a != b and a[:100] == b[:100]
    # percent-encoding never writes %7E (it leaves ~ as it is), so no tenant's own folder
    # can be a shortened one, even a tenant named after the shortened folder
    mimic = tenant_partition(LONG).removeprefix("tenant=").replace("%7E", "~")
    assert tenant_partition(mimic) != tenant_partition(LONG)
    assert "%7E" not in tenant_partition(mimic)


def test_object_storage_also_lists_the_unshortened_partition() -> None:
    cold = ColdTier(f"memory://auditkit-long-names/{uuid.uuid4().hex}")
    old = f"{_old_partition(LONG)}/month=2025-01/seg-000000000000-000000000010.parquet"
    new = f"{tenant_partition(LONG)}/month=2025-02/seg-000000000010-000000000020.parquet"
    cold.put(old, b"old")
    cold.put(new, b"new")
    assert cold.partitions(LONG) == [tenant_partition(LONG), _old_partition(LONG)]
    assert cold.files(LONG) == sorted([old, new])
    assert cold.partitions("acme") == ["tenant=acme"]


# -- a store with long tenant names ------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.init(str(tmp_path / "a.db"))
    for t in TENANTS:
        s.append(make_events(30, t, start=OLD.isoformat(), step_s=600))
    s.retention.set(hot_days=30)
    return s


def trail(store: Store, tenant: str) -> pl.DataFrame:
    return store.load(tenant).filter(pl.col("action") != "audit_retention.update")


def test_apply_seals_every_tenant_and_verification_reads_them_back(store: Store) -> None:
    before = {t: trail(store, t) for t in TENANTS}
    result = store.retention.apply()
    assert {r.tenant_id: r.sealed for r in result.tenants} == dict.fromkeys(TENANTS, 30)
    cold = Path(str(store.cold_url))
    for path in cold.rglob("*"):
        assert len(path.name.encode()) <= NAME_MAX, path.name
    assert sorted(p.name for p in cold.iterdir()) == sorted(tenant_partition(t) for t in TENANTS)
    for t in TENANTS:
        assert store.tier_counts(t) == (1, 30)
        assert_frame_equal(trail(store, t), before[t])
        (manifest,) = (cold / tenant_partition(t)).rglob("*.manifest.json")
        assert orjson.loads(manifest.read_bytes())["tenant_id"] == t  # signed, the full name
    report = store.verify()
    assert report.status.value == "intact", report.summary()
    again = store.retention.apply()
    assert (again.sealed, again.purged) == (0, 0)
    assert Store.open(store.location).verify().status.value == "intact"


def test_a_foreign_segment_in_a_shortened_partition_is_named(store: Store) -> None:
    store.retention.apply()
    cold = Path(str(store.cold_url))
    (theirs,) = (cold / "tenant=acme").rglob("*.parquet")
    mine = cold / tenant_partition(JAPANESE)
    (month,) = mine.iterdir()
    forged = month / "seg-000000000400-000000000410.parquet"
    forged.write_bytes(theirs.read_bytes())
    problem = store.verify(JAPANESE).first(ProblemKind.FOREIGN_SEGMENT)
    assert problem is not None and "no seal statement names it" in problem.detail
    assert store.verify("acme").status.value == "intact"


def test_an_interrupted_seal_of_a_long_name_is_recovered(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = trail(store, JAPANESE)
    monkeypatch.setenv("AUDITKIT_RETENTION_FAIL", "seal:written")
    with pytest.raises(RuntimeError, match="injected failure"):
        store.retention.apply(JAPANESE)
    report = store.verify(JAPANESE)
    assert report.status.value == "intact", report.summary()
    assert any("interrupted seal" in n for n in report.notes)
    monkeypatch.delenv("AUDITKIT_RETENTION_FAIL")
    result = store.retention.apply(JAPANESE)
    assert any("unfinished segment" in r for r in result.tenants[0].recovered)
    assert store.tier_counts(JAPANESE) == (1, 30)
    assert_frame_equal(trail(store, JAPANESE), before)
    assert store.verify().status.value == "intact"


def test_segments_an_earlier_version_wrote_on_object_storage_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Store.init(str(tmp_path / "a.db"), cold=f"memory://auditkit-legacy/{tmp_path.name}")
    s.append(make_events(40, LONG, start=OLD.isoformat(), step_s=600))
    s.retention.set(hot_days=30)
    then = OLD + timedelta(days=30, minutes=300)  # when the first 30 events were 30 days old
    with monkeypatch.context() as m:  # as earlier versions named the folder
        m.setattr(_cold, "tenant_partition", _old_partition)
        assert s.retention.apply(now=then).sealed == 30
    assert s.retention.apply().sealed == 10  # into the shortened folder
    cold = ColdTier(str(s.cold_url))
    parquet = {f.split("/")[0]: f for f in cold.files(LONG) if f.endswith(".parquet")}
    assert parquet.keys() == {_old_partition(LONG), tenant_partition(LONG)}
    assert s.tier_counts(LONG) == (1, 40)
    assert s.verify().status.value == "intact"
    # a file put in the old folder is still named
    sealed = parquet[_old_partition(LONG)]
    forged = sealed.rsplit("/", 1)[0] + "/seg-000000000400-000000000410.parquet"
    cold.put(forged, cold.get(sealed) or b"")
    assert s.verify().first(ProblemKind.FOREIGN_SEGMENT) is not None


# -- other Parquet engines: the recipes of docs/retention.md ----------------------------------
RECIPE_COUNTS = """
SELECT tenant_id AS tenant, count(*) AS events
FROM read_parquet($glob, hive_partitioning = true)
GROUP BY tenant_id ORDER BY tenant_id
"""


def test_the_documented_recipes_count_long_names_right(store: Store) -> None:
    store.retention.apply()
    expected = sorted((t, 30) for t in TENANTS)
    scanned = pl.scan_parquet(f"{store.cold_url}/**/*.parquet", hive_partitioning=True)
    counts = scanned.group_by("tenant_id").agg(pl.len()).sort("tenant_id").collect()
    assert counts.rows() == expected
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed")
    glob = f"{store.cold_url}/*/*/*.parquet"
    rows = duckdb.connect().sql(RECIPE_COUNTS, params={"glob": glob}).fetchall()
    assert rows == expected
