"""Audit trail tampering."""

from __future__ import annotations

import polars as pl
import pytest

from auditkit.analytics.detectors.tampering import audit_tampering, retention_days


@pytest.mark.parametrize(
    ("changes", "before", "after"),
    [
        ('{"before": 365, "after": 30}', 365.0, 30.0),
        ('{"before": "365", "after": "30"}', 365.0, 30.0),
        ('{"before": {"retention_days": 90}, "after": {"retention_days": 7}}', 90.0, 7.0),
        ('{"before": {"days": 90}, "after": {"days": 7}}', 90.0, 7.0),
        ('{"before": "1y", "after": "6 months"}', 365.0, 180.0),
        ('{"before": "P2W", "after": "P1D"}', 14.0, 1.0),
        ('{"before": "forever", "after": null}', None, None),
    ],
)
def test_retention_days(changes: str, before: float | None, after: float | None) -> None:
    df = pl.DataFrame({"changes": [changes]})
    assert df.select(retention_days("before"), retention_days("after")).row(0) == (before, after)


def test_tampering_findings(event, frame) -> None:
    rows = [
        event(
            "audit_retention.update",
            "mallory",
            changes={"before": {"retention_days": 365}, "after": {"retention_days": 7}},
        ),
        event("audit_destination.remove", "mallory", minutes=2),
        event("audit_destination.remove", "mallory", minutes=3),
        event("audit_log.disable", "mallory", minutes=5, outcome="denied"),
        # a longer retention and an added destination are fine
        event(
            "audit_retention.update",
            "admin",
            minutes=10,
            changes={"before": {"retention_days": 365}, "after": {"retention_days": 730}},
        ),
        event("audit_destination.add", "admin", minutes=11),
        # unreadable values are reported
        event("audit_retention.update", "admin", minutes=200, changes={"before": "x"}),
        # attempts only: high, not critical
        event("audit_log.disable", "eve", minutes=300, outcome="denied"),
    ]
    found = audit_tampering(frame(rows)).sort("first_seen")
    assert found["actor_id"].to_list() == ["mallory", "admin", "eve"]
    assert found["severity"].to_list() == ["critical", "critical", "high"]
    summary = found["summary"][0]
    assert "disabled audit logging; shortened audit retention from 365 to 7 days" in summary
    assert "removed 2 audit destination(s)" in summary
    assert "1 of 4 attempt(s) did not succeed" in summary
    assert "values unreadable" in found["summary"][1]


@pytest.mark.parametrize(
    "action",
    [
        "call_log.delete", "chat_logs.purge", "time_log.delete", "food_log.remove",
        "retention_offer.delete", "retention_campaign.update", "ski_trail.update",
        "trail_map.delete",
    ],
)  # fmt: skip
def test_a_word_of_the_trail_in_another_sense_is_not_tampering(event, frame, action) -> None:
    """A product's own records called logs (a call log, a chat log), a subscription
    business's retention offers, a hiking app's trails: deleting them is a user's work,
    not covering tracks.  The trail's own logs still are (error logs, log retention)."""
    assert audit_tampering(frame([event(action, "mallory")])).height == 0, action
    for still in ("error_log.delete", "log_retention.update", "paper_trail.disable"):
        assert audit_tampering(frame([event(still, "mallory")])).height == 1, still
