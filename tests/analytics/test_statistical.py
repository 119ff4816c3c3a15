"""Statistical detectors: volume spikes and dips, rare actions, unusual sessions."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from auditkit.analytics._frames import sessionize
from auditkit.analytics.detectors.statistical import rare_action, unusual_session, volume_spike


def _steady(event, *, weeks=3, actors=("a", "b", "c"), per_hour=6, skip=(), extra=None):
    """Each actor: ``per_hour`` reads an hour, 09:00-17:00 UTC on weekdays."""
    out = []
    for day in range(weeks * 7):
        if day % 7 >= 5:
            continue
        for hour in range(9):
            if (day, hour) in skip:
                continue
            for actor in actors:
                n = per_hour if extra is None else extra.get((day, hour, actor), per_hour)
                for i in range(n):
                    out.append(
                        event("document.read", actor, minutes=day * 1440 + hour * 60 + i * 60 / n)
                    )
    return out


def test_actor_spike(event, frame) -> None:
    rows = _steady(event, extra={(16, 4, "b"): 90})
    found = volume_spike(frame(rows))
    actor = found.filter(pl.col("actor_id") == "b")
    assert actor.height == 1
    assert actor["severity"][0] == "medium" and actor["score"][0] > 6
    assert len(actor["event_ids"][0]) == 90
    assert "rose to 90 events in 1 hour(s)" in actor["summary"][0]


def test_tenant_dip(event, frame) -> None:
    skip = {(16, h) for h in range(2, 6)}
    found = volume_spike(frame(_steady(event, per_hour=20, skip=skip)))
    dips = found.filter(pl.col("summary").str.contains("fell to"))
    assert dips.height == 1
    assert dips["actor_id"][0] is None and dips["event_ids"][0].len() == 0
    assert dips["last_seen"][0] - dips["first_seen"][0] > timedelta(hours=3)


def test_steady_traffic_has_no_volume_findings(event, frame) -> None:
    assert volume_spike(frame(_steady(event))).height == 0


def test_max_evidence_caps_the_ids(event, frame) -> None:
    rows = _steady(event, extra={(16, 4, "b"): 90})
    found = volume_spike(frame(rows), max_evidence=10).filter(pl.col("actor_id") == "b")
    assert found["event_ids"][0].len() == 10


def test_rare_action_against_peers(event, frame) -> None:
    viewers = [
        event("document.read", f"v{i % 4}", minutes=i * 30, roles=["viewer"]) for i in range(1200)
    ]
    admins = [
        event(
            "settings.update" if i % 5 == 0 else "document.read",
            f"a{i % 2}",
            minutes=i * 60,
            roles=["admin"],
        )
        for i in range(600)
    ]
    odd = event("audit_destination.remove", "v1", minutes=1200 * 30, roles=["viewer"])
    # a2 has never updated settings, but its peers (admins) do it all the time
    usual = event("settings.update", "a2", minutes=1200 * 30, roles=["admin"])
    late_admin = [event("document.read", "a2", minutes=i * 60, roles=["admin"]) for i in range(200)]
    found = rare_action(frame([*viewers, *admins, *late_admin, odd, usual]))
    assert found["actor_id"].to_list() == ["v1"]
    assert found["severity"][0] == "medium"  # an admin action
    assert found["score"][0] > 10


def test_rare_action_needs_history(event, frame) -> None:
    rows = [event("document.read", "v1", minutes=i) for i in range(50)]
    rows.append(event("audit_destination.remove", "v1", minutes=100))
    assert rare_action(frame(rows)).height == 0


def test_rare_actions_close_together_are_one_finding(event, frame) -> None:
    """A stolen key trying many services is one finding naming them, not one per action."""
    history = [
        event("document.read", f"v{i % 4}", minutes=i * 30, roles=["viewer"]) for i in range(1200)
    ]
    at = 1200 * 30
    probe = [
        event(f"{thing}.list", "v1", minutes=at + i * 0.5, roles=["viewer"])
        for i, thing in enumerate(["bucket", "key", "role", "secret", "queue", "topic", "table"])
    ]
    # one more rare first action by the same viewer, two hours later: a finding of its own
    later = event("invoice.export", "v1", minutes=at + 125, roles=["viewer"])
    found = rare_action(frame([*history, *probe, later])).sort("first_seen")
    assert found.height == 2
    burst, alone = found.row(0, named=True), found.row(1, named=True)
    assert burst["severity"] == "medium"  # seven at once, though none is an admin action
    assert burst["event_ids"] == [e["event_id"] for e in probe]
    assert "performed 7 actions for the first time" in burst["summary"]
    assert (
        "'bucket.list', 'key.list', 'role.list', 'secret.list', 'queue.list' and 2 more"
        in (burst["summary"])
    )
    assert alone["severity"] == "low"
    assert alone["event_ids"] == [later["event_id"]]
    assert "performed 'invoice.export' for the first time" in alone["summary"]
    # with a gap shorter than the probe's spacing, each action is its own finding
    assert rare_action(frame([*history, *probe]), group_gap="10s").height == 7


def _sessions(event, paths, *, explicit=True):
    rows = []
    for k, path in enumerate(paths):
        for j, action in enumerate(path):
            extra = {"session_id": f"s{k}"} if explicit else {}
            rows.append(event(action, f"u{k % 5}", minutes=k * 120 + j, **extra))
    return rows


USUAL = ["user.login", "document.read", "document.update", "document.read", "user.logout"]
ODD = ["user.login", "api_key.create", "audit_log.disable", "document.export", "user.logout"]


def test_unusual_session(event, frame) -> None:
    rows = _sessions(event, [USUAL] * 80 + [ODD])
    found = unusual_session(frame(rows))
    assert found.height == 1
    assert len(found["event_ids"][0]) == 5
    assert "api_key.create → audit_log.disable" in found["summary"][0]


def test_unusual_session_without_session_ids(event, frame) -> None:
    rows = _sessions(event, [USUAL] * 80 + [ODD], explicit=False)
    found = unusual_session(frame(rows))
    assert found.height == 1 and found["actor_id"][0] == "u0"


def test_sessionize_keeps_interleaved_explicit_sessions_apart(event, frame) -> None:
    rows = [
        event("user.login", "u1", minutes=0, session_id="tab-1"),
        event("user.login", "u1", minutes=1, session_id="tab-2"),
        event("document.read", "u1", minutes=2, session_id="tab-1"),
        event("document.read", "u1", minutes=3),
        event("document.read", "u1", minutes=200),
    ]
    lf = frame(rows).lazy()
    out = sessionize(lf, gap=timedelta(minutes=30)).collect()
    groups = out.group_by("_skey").agg(pl.col("event_id")).sort(pl.col("event_id").list.first())
    ids = [r["event_id"] for r in rows]
    assert [g for g in groups["event_id"].to_list()] == [
        [ids[0], ids[2]],
        [ids[1]],
        [ids[3]],
        [ids[4]],
    ]
