"""Logging gaps: silences against the hour-of-week profile of each source."""

from __future__ import annotations

from datetime import timedelta

import pytest

from auditkit.analytics.detectors.gaps import logging_gap

MON = 0  # the fixture's day 0 (2026-01-05) is a Monday; events start at 09:00 UTC


def _office(event, *, weeks=3, service="jobs", skip=(), tenant="acme", until_day=None):
    """Two events an hour from 09:00 to 17:00 UTC on weekdays."""
    out = []
    for day in range(weeks * 7):
        if day % 7 >= 5 or (until_day is not None and day >= until_day):
            continue
        for hour in range(9):
            if (day, hour) in skip:
                continue
            for m in (5, 35):
                out.append(
                    event(
                        "job.run",
                        "cron",
                        minutes=day * 1440 + hour * 60 + m,
                        tenant=tenant,
                        observer={"service": service},
                    )
                )
    return out


def test_silence_in_office_hours_is_a_gap(event, frame) -> None:
    skip = {(15, h) for h in range(1, 7)}  # third Tuesday, 10:00-16:00
    found = logging_gap(frame(_office(event, skip=skip)))
    assert found.height == 1
    row = found.row(0, named=True)
    assert row["actor_id"] is None and len(row["event_ids"]) == 2
    assert row["last_seen"] - row["first_seen"] == timedelta(hours=6, minutes=30)
    assert "No events from source 'jobs' for 6h" in row["summary"]


def test_nights_weekends_and_short_lulls_are_not_gaps(event, frame) -> None:
    assert logging_gap(frame(_office(event))).height == 0
    skip = {(15, 3), (15, 4)}  # two quiet hours
    assert logging_gap(frame(_office(event, skip=skip))).height == 0


def test_a_source_that_stops_while_the_tenant_goes_on(event, frame) -> None:
    rows = _office(event, service="billing", until_day=16) + _office(event, service="web")
    found = logging_gap(frame(rows))
    assert found.height == 1
    assert "source 'billing'" in found["summary"][0]
    assert len(found["event_ids"][0]) == 1


def test_sources_and_tenants_are_separate(event, frame) -> None:
    skip = {(15, h) for h in range(1, 7)}
    rows = _office(event, skip=skip, tenant="acme") + _office(event, tenant="globex")
    found = logging_gap(frame(rows))
    assert found["tenant_id"].to_list() == ["acme"]


def test_two_weeks_of_history_are_not_enough(event, frame) -> None:
    skip = {(9, h) for h in range(1, 7)}
    assert logging_gap(frame(_office(event, weeks=2, skip=skip))).height == 0


@pytest.mark.parametrize("hours", [4.8, 4.9])
def test_threshold_in_expected_hours(event, frame, hours) -> None:
    # 6 whole office hours silent in week 4; each active in 3 of 3 other weeks: 4/5
    skip = {(22, h) for h in range(1, 7)}
    found = logging_gap(frame(_office(event, weeks=4, skip=skip)), min_expected_hours=hours)
    assert found.height == (1 if hours <= 4.8 else 0)
