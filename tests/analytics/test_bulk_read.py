"""bulk_read: a collection through object reads, measured against the actor's own past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.analytics.detectors.exfiltration import bulk_read
from auditkit.frame import events_to_frame

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _reads(
    actor: str,
    start: datetime,
    count: int,
    every: timedelta,
    *,
    action: str = "s3_object.get",
    kind: str = "user",
    prefix: str = "obj",
    outcome: str = "success",
) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": "acme",
            "event_id": f"{actor}-{prefix}-{start:%d%H%M}-{i}",
            "occurred_at": start + i * every,
            "action": action,
            "outcome": outcome,
            "actor": {"id": actor, "type": kind},
            "targets": [{"id": f"{prefix}-{start:%d%H%M}-{i}", "type": "s3_object"}],
        }
        for i in range(count)
    ]


def _habit(actor: str, days: int, per_hour: int, **kw: Any) -> list[dict[str, Any]]:
    """``per_hour`` reads each working hour (9-17) of ``days`` days."""
    rows: list[dict[str, Any]] = []
    for d in range(days):
        for h in range(9, 17):
            start = T0 + timedelta(days=d, hours=h)
            rows += _reads(actor, start, per_hour, timedelta(hours=1) / per_hour, **kw)
    return rows


def test_a_person_reading_far_beyond_their_habit_is_high() -> None:
    rows = _habit("ann", 5, 8)
    burst_at = T0 + timedelta(days=5, hours=22)
    rows += _reads("ann", burst_at, 600, timedelta(seconds=5), prefix="loot")
    found = bulk_read(events_to_frame(rows))
    assert found.height == 1
    f = found.row(0, named=True)
    assert (f["actor_id"], f["severity"]) == ("ann", "high")
    assert f["first_seen"] == burst_at
    assert "600 distinct item(s)" in f["summary"] and "in one hour before was 8" in f["summary"]
    assert len(f["event_ids"]) == 600 and all("loot" in e for e in f["event_ids"])


def test_a_collection_over_several_hours_is_one_finding_with_all_of_it() -> None:
    """The hours of one collection are not each other's baseline: three hours of 400
    are one finding, its evidence from all three (up to max_evidence)."""
    rows = _habit("hal", 4, 6)
    start = T0 + timedelta(days=4, hours=20)
    for h in range(3):
        rows += _reads("hal", start + timedelta(hours=h), 400, timedelta(seconds=8), prefix=f"p{h}")
    found = bulk_read(events_to_frame(rows), max_evidence=1100)
    assert found.height == 1
    f = found.row(0, named=True)
    assert "1200 read(s)" in f["summary"] and "in 3 hour(s)" in f["summary"]
    assert len(f["event_ids"]) == 1100
    assert f["last_seen"] == start + timedelta(hours=2) + 399 * timedelta(seconds=8)


def test_a_steady_pipeline_role_is_quiet() -> None:
    """An ETL role (typed user, as CloudTrail's assumed roles are) reading 120 objects
    an hour around the clock for three days: its own rate is its baseline."""
    rows: list[dict[str, Any]] = []
    for h in range(72):
        start = T0 + timedelta(hours=h)
        rows += _reads("etl-role", start, 120, timedelta(seconds=30))
    assert bulk_read(events_to_frame(rows)).height == 0


def test_no_history_no_baseline() -> None:
    """A new actor's first day of reads is not measured (there is nothing to measure
    it against); the same burst after a day of ordinary activity is."""
    burst = _reads("bob", T0 + timedelta(hours=3), 800, timedelta(seconds=2))
    assert bulk_read(events_to_frame(burst)).height == 0
    earlier = _reads("bob", T0 - timedelta(days=2), 3, timedelta(minutes=5), prefix="old")
    assert bulk_read(events_to_frame(earlier + burst)).height == 1


def test_a_collection_spread_over_a_day_is_found_once() -> None:
    """150 an hour for ten hours stays under the hourly floor; the day is reported."""
    rows = _habit("cy", 4, 10)
    day = T0 + timedelta(days=4)
    for h in range(10):
        rows += _reads("cy", day + timedelta(hours=8 + h), 150, timedelta(seconds=20), prefix="x")
    found = bulk_read(events_to_frame(rows))
    assert found.height == 1
    f = found.row(0, named=True)
    assert "1500 distinct item(s)" in f["summary"] and "1 day(s)" in f["summary"]


def test_an_hour_and_its_day_are_one_finding() -> None:
    rows = _habit("dee", 4, 5)
    rows += _reads("dee", T0 + timedelta(days=4, hours=2), 1200, timedelta(seconds=2), prefix="y")
    found = bulk_read(events_to_frame(rows))
    assert found.height == 1 and "hour(s)" in found["summary"][0]


@pytest.mark.parametrize(
    ("action", "counted"),
    [
        ("storage_objects.get", True),
        ("repository.clone", True),
        ("document.read", True),
        ("s3.getobject", True),  # a raw CloudTrail name, lower-cased
        ("document.export", False),  # mass_export's
        ("bucket.list", False),  # enumeration, not content
        ("document.update", False),
    ],
)
def test_what_counts_as_a_read(action: str, counted: bool) -> None:
    rows = _habit("eve", 3, 2, action=action)
    rows += _reads("eve", T0 + timedelta(days=3, hours=1), 400, timedelta(seconds=3), action=action)
    assert (bulk_read(events_to_frame(rows)).height == 1) is counted


def test_failed_reads_and_repeats_of_one_item_do_not_count() -> None:
    rows = _habit("fay", 3, 4)
    at = T0 + timedelta(days=3, hours=1)
    rows += _reads("fay", at, 500, timedelta(seconds=3), outcome="denied", prefix="d")
    same = _reads("fay", at, 500, timedelta(seconds=3), prefix="s")
    for r in same:
        r["targets"] = [{"id": "one-object", "type": "s3_object"}]
    assert bulk_read(events_to_frame(rows + same)).height == 0


def test_reads_that_name_no_target_count_each() -> None:
    """A source that logs reads without targets does not hide a collection."""
    rows = _habit("ida", 3, 4)
    burst = _reads("ida", T0 + timedelta(days=3, hours=1), 400, timedelta(seconds=3), prefix="n")
    for r in burst:
        del r["targets"]
    assert bulk_read(events_to_frame(rows + burst)).height == 1


def test_a_key_is_medium_and_the_registry_runs_it() -> None:
    rows = _habit("key-9", 3, 4, kind="api_key")
    rows += _reads(
        "key-9", T0 + timedelta(days=3, hours=1), 400, timedelta(seconds=3), kind="api_key"
    )
    found = run_detectors(events_to_frame(rows), names=["bulk_read"])
    assert found["severity"].to_list() == ["medium"]
    assert found["detector"].to_list() == ["bulk_read"]
    assert (
        "400 distinct item(s)" in found["summary"][0]
        and "in one hour before was 4" in found["summary"][0]
    )


@pytest.mark.parametrize("bad", [{"min_items": 0}, {"factor": -1.0}, {"history": "soon"}])
def test_bad_settings_are_usage_errors(bad: dict[str, Any]) -> None:
    from auditkit.errors import UsageError

    with pytest.raises(UsageError):
        bulk_read(events_to_frame(_habit("g", 1, 1)), **bad)
