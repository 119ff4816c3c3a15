"""Retention: policies, sealing into the cold tier, purges, and reading and verifying
across both tiers, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from auditkit import ProblemKind, Store
from auditkit.errors import IntegrityError, UsageError
from tests.conftest import make_events
from tests.store._attacker import sql

#: The trail starts 400 days before today (verify judges purges by the real clock) at
#: 08:00; acme has 300 events one every 8 hours (100 days), globex 20, one a day.
N = 300
START = datetime.combine(datetime.now(UTC).date(), time(8), UTC) - timedelta(days=400)


def day(n: float) -> str:
    """The instant ``n`` days after the trail's first midnight."""
    return (START.replace(hour=0) + timedelta(days=n)).isoformat()


@pytest.fixture
def store(store_location: str, tmp_path: Path) -> Store:
    s = Store.init(store_location, cold=tmp_path / "cold")
    begin = START.isoformat().replace("+00:00", "Z")
    s.append(make_events(N, start=begin, step_s=8 * 3600), batch_size=64)
    s.append(make_events(20, "globex", start=begin, step_s=86400))
    return s


def kinds(report: Any) -> set[ProblemKind]:
    return {p.kind for p in report.problems}


def first(report: Any, kind: ProblemKind) -> Any:
    found = [p for p in report.problems if p.kind == kind]
    assert found, report.summary()
    return found[0]


def segments(store: Store, tenant: str = "acme") -> list[Path]:
    assert store.cold_url is not None
    return sorted(Path(store.cold_url).glob(f"tenant={tenant}/*/*.parquet"))


def segment_at(store: Store, seq: int, tenant: str = "acme") -> Path:
    """The segment file holding ``seq`` (from the seq range in its name)."""
    for f in segments(store, tenant):
        lo, hi = (int(x) for x in f.stem.split("-")[1:])
        if lo <= seq < hi:
            return f
    raise AssertionError(f"no segment holds seq {seq}")


def ranges(files: list[Path]) -> list[tuple[int, int]]:
    return sorted(tuple(int(x) for x in f.stem.split("-")[1:]) for f in files)  # type: ignore[misc]


def seal_some(store: Store) -> None:
    """Two seals of acme: seq 0..121 (before day 41), then 122..220 (before day 74)."""
    store.retention.set("acme", hot_days=0)
    store.retention.apply("acme", now=day(41))
    store.retention.apply("acme", now=day(74))


# -- policies ------------------------------------------------------------------------------
def test_policies_are_stored_inherited_and_recorded_in_the_signed_trail(store: Store) -> None:
    assert store.retention.policy("acme").describe() == "hot forever, kept forever"
    store.retention.set(hot_days=90, keep_days=365)
    acme = store.retention.policy("acme")
    assert (acme.hot_days, acme.keep_days, acme.inherited) == (90, 365, True)
    store.retention.set("acme", keep_days=400, legal_hold=True, reason="case 7")
    assert store.retention.policy("acme").describe() == (
        "hot 90 days, kept 400 days, legal hold (case 7)"
    )
    # the default change went to both trails; acme's own change to acme's only
    records = store.load(match={"action": "audit_retention.update"})
    assert records.group_by("tenant_id").len().sort("tenant_id").rows() == [
        ("acme", 2), ("globex", 1)
    ]  # fmt: skip
    last = json.loads(records.filter(pl.col("tenant_id") == "acme")["metadata"][-1])
    assert last["old"]["keep_days"] == 365 and last["new"]["keep_days"] == 400
    assert last["new"]["legal_hold"] is True and last["new"]["hold_reason"] == "case 7"
    # a default change no longer reaches acme, which has its own policy
    store.retention.set(hot_days=30)
    assert store.retention.policy("acme").hot_days == 90
    assert store.retention.policy("globex").hot_days == 30
    # nothing changed, nothing recorded
    before = store.count("acme")
    store.retention.set("acme", keep_days=400)
    assert store.count("acme") == before
    assert store.verify().status.value == "intact"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"legal_hold": True}, "reason"),
        ({"keep_days": 0}, "at least 1 day"),
        ({"hot_days": -1}, "whole number of days"),
        ({"hot_days": "ten"}, "number of days"),
    ],
)
def test_bad_policies_are_refused_with_a_reason(
    store: Store, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        store.retention.set("acme", **kwargs)
    with pytest.raises(UsageError, match="unknown tenant"):
        store.retention.set("nope", keep_days=3)


# -- sealing -------------------------------------------------------------------------------
def test_sealing_moves_old_events_to_signed_segments_and_loads_see_one_trail(
    store: Store,
) -> None:
    before = store.load("acme")
    ranged = store.load("acme", start=day(27), end=day(55))
    store.retention.set("acme", hot_days=0)  # appended: one more event
    result = store.retention.apply("acme", now=day(41))
    assert result.sealed == 122 and result.segments == len(segments(store))
    result = store.retention.apply("acme", now=day(74))
    assert result.sealed == 99
    # contiguous ranges, split at each apply and at each month of occurred_at
    spans = ranges(segments(store))
    assert spans[0][0] == 0 and spans[-1][1] == 221 and (0, 122) not in spans
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert any(hi == 122 for _, hi in spans)
    for f in segments(store):
        month = f.parent.name.removeprefix("month=")
        frame = pl.read_parquet(f)
        assert frame["occurred_at"].str.slice(0, 7).max() == month
        manifest = json.loads(f.with_name(f.name[:-8] + ".manifest.json").read_text())
        lo, hi = ranges([f])[0]
        assert (manifest["tenant_id"], manifest["first_seq"], manifest["last_seq"]) == (
            "acme", lo, hi - 1
        )  # fmt: skip
        assert manifest["rows"] == frame.height == hi - lo and len(manifest["sha256"]) == 64
        assert sum(r["size"] for r in manifest["subtree_roots"]) == hi - lo
    # the hot tier holds only the rest; the trail is whole
    assert store.tier_counts("acme") == (N + 1 - 221, 221)
    assert store.count("acme") == N + 1
    after = store.load("acme")
    assert_frame_equal(after.head(N), before)
    assert_frame_equal(store.load("acme", start=day(27), end=day(55)), ranged)
    assert store.load("acme", seqs=(100, 130))["seq"].to_list() == list(range(100, 130))
    assert (
        store.load("acme", match={"outcome": "failure"}).height
        == before.filter(pl.col("outcome") == "failure").height
    )
    scanned = store.scan("acme").collect().sort("seq")
    assert_frame_equal(scanned, after)
    report = store.verify()
    assert report.status.value == "intact", report.summary()
    assert any("221 record(s) read from cold segments" in n for n in report.notes)
    _, frame = store.verify_and_load("acme", start=day(0), end=day(5))
    assert frame.height == 14
    # an inclusion proof of a cold event, checked against the signed root
    proof = store.inclusion_proof("acme", 5)
    proof.verify(store.trusted_public_key()[0])
    assert json.loads(proof.canonical)["event_id"] == "e-acme-5"
    assert store.inclusion_proof("acme", event_id="e-acme-7").seq == 7
    assert store.event_seq("acme", "e-acme-7") == 7
    assert store.event_seq("acme", "e-acme-250") == 250 and store.event_seq("acme", "no") is None
    # a second apply finds nothing more to do
    assert store.retention.apply("acme", now=day(74)).sealed == 0


def test_a_dry_run_changes_nothing(store: Store) -> None:
    store.retention.set("acme", hot_days=0, keep_days=30)
    result = store.retention.apply(dry_run=True, now=day(60))
    assert result.dry_run and result.tenants[0].purged > 0  # counted ...
    assert "would purge" in result.summary()
    assert store.tier_counts("acme") == (N + 1, 0) and not segments(store)  # ... not done


@pytest.mark.parametrize(("hot", "keep", "hold"), [(20, 45, False), (10, 75, False), (5, 30, True)])
def test_a_dry_run_counts_what_the_run_then_does(
    store: Store, hot: int, keep: int, hold: bool
) -> None:
    """A purge removes whole segments, and a dry run counted the events past the keep
    period one by one (5,776 said, 4,865 purged, on a sample of 184k events)."""
    hold_args: dict[str, Any] = {"legal_hold": True, "reason": "case 7"} if hold else {}
    store.retention.set("acme", hot_days=hot, keep_days=keep, **hold_args)
    dry = store.retention.apply("acme", dry_run=True, now=day(90))
    real = store.retention.apply("acme", now=day(90))
    shown = [
        (t.tenant_id, t.sealed, t.segments, t.purged, t.segments_purged, t.blocked)
        for t in (*dry.tenants, *real.tenants)
    ]
    assert shown[0] == shown[1], shown
    assert real.tenants[0].sealed or real.tenants[0].purged or real.tenants[0].blocked


def test_a_dry_run_refuses_what_the_run_refuses(store: Store) -> None:
    """On a tampered tenant the dry run said "would seal 23" and exit 0, the run refused."""
    store.retention.set("acme", hot_days=10)
    sql(store, "UPDATE events SET description = 'edited' WHERE tenant_id = 'acme' AND seq = 3")
    for dry in (True, False):
        with pytest.raises(IntegrityError, match="refusing to seal a record that does not verify"):
            store.retention.apply("acme", dry_run=dry, now=day(90))


# -- purging -------------------------------------------------------------------------------
def test_purges_remove_rows_and_segments_and_keep_the_rest_provable(store: Store) -> None:
    seal_some(store)
    # kept 340 days, applied on day 381: the cut-off (day 41) falls after the first
    # seal (seq 0..121, before day 41), inside the second, and purges go by whole
    # segments.  A seal's segments are split at month ends, which move with the date the
    # test runs on: a cut-off taken from the clock purged 182 records when a month ended
    # inside the second seal, so the day is given
    store.retention.set("acme", hot_days=None, keep_days=340)
    before = ranges(segments(store))
    result = store.retention.apply("acme", now=day(381.05))
    assert result.purged == 122
    assert result.tenants[0].segments_purged == sum(hi <= 122 for _, hi in before)
    assert ranges(segments(store)) == [r for r in before if r[0] >= 122]
    assert store.count("acme") == N + 2 - 122
    report = store.verify()
    assert report.status.value == "intact", report.summary()
    assert any("122 record(s) purged" in n for n in report.notes)
    assert store.load("acme")["seq"].min() == 122
    assert store.inclusion_proof("acme", 250).seq == 250
    assert store.inclusion_proof("acme", 130).seq == 130  # from the cold tier
    with pytest.raises(UsageError, match=r"seq 5 was purged on 20\d\d-.*signed purge"):
        store.inclusion_proof("acme", 5)
    with pytest.raises(UsageError, match=r"purged: seq 0\.\.121"):
        store.inclusion_proof("acme", event_id="e-acme-5")


def test_a_purge_from_the_hot_tier_without_sealing(store: Store) -> None:
    # globex has one event a day at 08:00.  The times are given: from the clock, the count
    # depended on the time of day, and was wrong when the run passed midnight after START
    store.retention.set("globex", keep_days=380)
    # the cut-off at 07:00 on day 11, an hour before its event: days 0 to 10 go
    assert store.retention.apply("globex", now=day(380 + 11 + 7 / 24)).purged == 11
    assert store.load("globex")["seq"].min() == 11
    # at 09:00, day 11's event has gone past the cut-off too
    assert store.retention.apply("globex", now=day(380 + 11 + 9 / 24)).purged == 1
    assert store.load("globex")["seq"].min() == 12
    assert store.verify().status.value == "intact"


def test_a_legal_hold_blocks_every_purge_with_a_clear_message(store: Store) -> None:
    store.retention.set("acme", keep_days=365, legal_hold=True, reason="litigation 2026-17")
    result = store.retention.apply("acme")
    assert result.purged == 0
    assert "legal hold (litigation 2026-17)" in (result.tenants[0].blocked or "")
    assert store.count("acme") == N + 1
    store.retention.set("acme", legal_hold=False)
    assert store.retention.apply("acme").purged > 0
    assert store.verify().status.value == "intact"


def test_a_purge_that_broke_a_legal_hold_or_came_early_is_named(store: Store) -> None:
    # someone with the key purges behind the policy's back, through the low-level path
    store.retention.set("acme", keep_days=365, legal_hold=True, reason="case 9")
    store.remove_range("acme", 10, detail="cleanup")
    p = first(store.verify(), ProblemKind.LEGAL_HOLD_BROKEN)
    assert p.tenant_id == "acme" and p.seq == 0 and "case 9" in p.detail
    # an apply that pretends it is years later: events younger than the period at the
    # real time of the purge are named
    store.retention.set("globex", keep_days=10_000)
    store.retention.apply("globex", now="2060-01-01")
    p = first(store.verify("globex"), ProblemKind.EARLY_PURGE)
    assert "10000 days" in p.detail


# -- tampering with the cold tier, as someone with file access --------------------------------
def _rewrite(path: Path, fn: Any) -> None:
    path.write_bytes(fn(path.read_bytes()))


def test_an_edited_segment_is_named_and_loads_refuse_it(store: Store) -> None:
    seal_some(store)
    seg = segment_at(store, 7)
    df = pl.read_parquet(seg).with_columns(
        pl.when(pl.col("seq") == 7).then(pl.lit("role.grant")).otherwise(pl.col("action"))
        .alias("action")
    )  # fmt: skip
    df.write_parquet(seg, compression="zstd")
    report = store.verify()
    assert first(report, ProblemKind.SEGMENT_MODIFIED).seq == ranges([seg])[0][0]
    assert first(report, ProblemKind.MODIFIED).seq == 7
    with pytest.raises(Exception, match="segment_modified"):
        store.load("acme")


def test_a_truncated_segment_is_named(store: Store) -> None:
    seal_some(store)
    _rewrite(segment_at(store, 122), lambda b: b[: len(b) // 2])
    report = store.verify()
    p = first(report, ProblemKind.SEGMENT_MODIFIED)
    assert p.seq == 122 and "edited or truncated" in p.detail
    assert ProblemKind.DELETED not in kinds(report)  # named once, as the segment


def test_a_removed_segment_is_named(store: Store) -> None:
    seal_some(store)
    segment_at(store, 0).unlink()
    p = first(store.verify(), ProblemKind.SEGMENT_MISSING)
    assert p.seq == 0 and "gone from the cold tier" in p.detail


def test_swapped_segments_are_named(store: Store) -> None:
    seal_some(store)
    a, b = segment_at(store, 0), segment_at(store, 122)
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)
    report = store.verify()
    swapped = [p for p in report.problems if p.kind == ProblemKind.SEGMENT_SWAPPED]
    assert {p.seq for p in swapped} == {0, 122}


@pytest.mark.parametrize("folder", ["tenant=evil", "tenant=%61cme"])
def test_a_partition_of_no_tenant_is_named(store: Store, folder: str) -> None:
    """Parquet files in a folder that is no tenant's partition: no read of the store
    uses them, but a Parquet engine reading the tier does (``%61cme`` decodes to
    ``acme``: forged rows counted as acme's)."""
    seal_some(store)
    assert store.verify().ok
    seg = segments(store)[0]
    where = seg.parent.parent.parent / folder / seg.parent.name
    where.mkdir(parents=True)
    pl.read_parquet(seg).head(5).write_parquet(where / seg.name)
    p = first(store.verify(), ProblemKind.FOREIGN_SEGMENT)
    assert p.detail.startswith(f"cold tier folder {folder} holds 1 Parquet file(s)"), p.detail
    assert store.verify("acme").ok  # the tenant's own read is not concerned


def test_a_foreign_segment_is_named(store: Store, tmp_path: Path) -> None:
    seal_some(store)
    seg = segments(store)[0]
    forged = seg.parent / "seg-000000000400-000000000410.parquet"
    pl.read_parquet(seg).head(10).write_parquet(forged)
    p = first(store.verify(), ProblemKind.FOREIGN_SEGMENT)
    assert "no seal statement names it" in p.detail
    # one copied from another tenant's partition is foreign too
    forged.unlink()
    store.retention.set("globex", hot_days=0)
    store.retention.apply("globex", now=day(15))
    other = segments(store, "globex")[0]  # with its manifest: signed, but for globex
    (seg.parent / "seg-000000000500-000000000600.parquet").write_bytes(other.read_bytes())
    (seg.parent / "seg-000000000500-000000000600.manifest.json").write_bytes(
        other.with_name(other.name[:-8] + ".manifest.json").read_bytes()
    )
    assert ProblemKind.FOREIGN_SEGMENT in kinds(store.verify("acme"))


def test_a_manifest_that_does_not_match_is_named(store: Store) -> None:
    seal_some(store)
    seg = segments(store)[0]
    manifest = seg.with_name(seg.name[:-8] + ".manifest.json")
    doc = json.loads(manifest.read_text())
    doc["rows"] = 999
    manifest.write_text(json.dumps(doc))
    p = first(store.verify(), ProblemKind.MANIFEST_MISMATCH)
    assert p.seq == 0
    manifest.unlink()
    assert "is gone" in first(store.verify(), ProblemKind.MANIFEST_MISMATCH).detail


def test_a_manifest_signed_by_another_key_is_named(store: Store) -> None:
    from auditkit.integrity import generate_key
    from auditkit.store._cold import Manifest, sign_manifest

    seal_some(store)
    seg = segments(store)[0]
    manifest = seg.with_name(seg.name[:-8] + ".manifest.json")
    doc = orjson.loads(manifest.read_bytes())
    doc.pop("signature")
    doc.pop("key_id")
    forged: Manifest = sign_manifest(generate_key(), doc)
    manifest.write_bytes(forged.to_bytes())
    p = first(store.verify(), ProblemKind.MANIFEST_MISMATCH)
    assert "signed by key" in p.detail or "not the one sealed" in p.detail


def test_hot_rows_that_vanished_without_a_record_are_deleted(store: Store) -> None:
    from tests.store._attacker import sql

    seal_some(store)
    sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq = 230")
    assert first(store.verify(), ProblemKind.DELETED).seq == 230


def test_a_forged_seal_record_does_not_hide_a_deletion(store: Store) -> None:
    from tests.store._attacker import sql

    seal_some(store)
    sql(
        store,
        "INSERT INTO purges (kind, tenant_id, first_seq, end_seq, tree_size, root_hash, "
        "recorded_at, detail, key_id, signature) VALUES ('seal', 'acme', 221, 240, 301, "
        f"'{'0' * 64}', '2026-01-01T00:00:00.000000Z', '{{}}', '{'0' * 16}', 'eA==')",
        "DELETE FROM events WHERE tenant_id = 'acme' AND seq >= 221 AND seq < 240",
    )
    report = store.verify()
    assert ProblemKind.FORGED_PURGE in kinds(report)
    assert first(report, ProblemKind.DELETED).seq == 221


def test_the_database_still_refuses_deletes_outside_the_protocol(store: Store) -> None:
    from tests.store._attacker import sql

    seal_some(store)
    with pytest.raises(Exception, match=r"append-only|DELETE refused"):
        sql(store, "DELETE FROM events WHERE tenant_id = 'acme' AND seq = 250",
            drop_triggers=False)  # fmt: skip


@pytest.mark.parametrize(
    "edit",
    [
        # lift the hold behind the trail's back, so the operator's next apply purges
        "UPDATE retention_policies SET legal_hold = 0, hold_reason = NULL WHERE tenant_id = 'acme'",
        # give globex, which has no policy, one that purges its whole history
        "INSERT INTO retention_policies (tenant_id, hot_days, keep_days, legal_hold, "
        "hold_reason, updated_at, updated_by) VALUES ('globex', NULL, 1, 0, NULL, "
        "'2026-01-01T00:00:00.000000Z', 'local owner')",
        # a store default that nobody set
        "INSERT INTO retention_policies (tenant_id, hot_days, keep_days, legal_hold, "
        "hold_reason, updated_at, updated_by) VALUES ('*', NULL, 1, 0, NULL, "
        "'2026-01-01T00:00:00.000000Z', 'local owner')",
    ],
)
def test_apply_acts_only_on_the_signed_policy_never_on_an_edited_table(
    store: Store, edit: str, capsys: Any
) -> None:
    """The policy table is a convenience anyone with write access to the database can
    edit; a purge cannot be undone, so apply refuses a policy the signed
    ``audit_retention.update`` records do not vouch for (exit 1 from the CLI)."""
    from auditkit.cli import main
    from tests.store._attacker import sql

    store.retention.set("acme", keep_days=365, legal_hold=True, reason="case 9")
    before = {t: store.count(t) for t in store.tenants()}
    assert ProblemKind.POLICY_ALTERED not in {p.kind for p in store.verify().problems}
    sql(store, edit, drop_triggers=False)
    # verify names what apply refuses
    altered = [p for p in store.verify().problems if p.kind is ProblemKind.POLICY_ALTERED]
    assert altered and all("not the one the tenant's signed trail" in p.detail for p in altered)
    result = store.retention.apply()
    assert result.purged == 0 and result.sealed == 0
    assert {t: store.count(t) for t in store.tenants()} == before
    assert any("signed trail" in (t.blocked or "") for t in result.tenants)
    assert main(["retention", store.location, "apply"]) == 1
    assert "TAMPERED" in capsys.readouterr().err
    assert {t: store.count(t) for t in store.tenants()} == before


def test_a_default_set_before_a_tenant_existed_still_applies(store: Store) -> None:
    """A tenant that came after the store default has no record of it in its own
    trail: the default's signed record in another tenant's trail vouches for it."""
    store.retention.set("*", keep_days=300)
    begin = START.isoformat().replace("+00:00", "Z")
    store.append(make_events(30, "initech", start=begin, step_s=86400))
    result = store.retention.apply("initech")
    assert not result.tenants[0].blocked
    assert result.purged > 0


# -- the manifest's subtree roots ------------------------------------------------------------
@given(st.integers(0, 300), st.integers(1, 300))
@settings(max_examples=200, deadline=None)
def test_covering_subtrees_are_the_signed_trees_perfect_subtrees(first: int, n: int) -> None:
    from auditkit.integrity import leaf_hashes, root_from_leaf_hashes
    from auditkit.store._cold import covering_subtrees, subtree_roots
    from auditkit.store._hashing import tree_levels

    end = first + n
    parts = covering_subtrees(first, end)
    assert parts[0][0] == first and sum(size for _, size in parts) == n
    for (a, size), (b, _) in itertools.pairwise(parts):
        assert a + size == b
    for a, size in parts:
        assert size & (size - 1) == 0 and a % size == 0  # aligned powers of two
    leaves = leaf_hashes([str(i).encode() for i in range(end + 7)])
    levels = tree_levels(b"".join(leaves), len(leaves))
    for part in subtree_roots(levels, first, end):
        a, size = part["start"], part["size"]
        assert bytes.fromhex(part["root"]) == root_from_leaf_hashes(leaves[a : a + size])


def test_events_ingested_again_after_sealing_are_not_doubled(store: Store) -> None:
    seal_some(store)
    again = make_events(N, start=START.isoformat().replace("+00:00", "Z"), step_s=8 * 3600)
    result = store.append(again[:250])  # 221 sealed, 29 hot: all duplicates
    assert (result.stored, result.duplicates) == (0, 250)
    assert store.count("acme") == N + 1
    assert store.verify().status.value == "intact"
