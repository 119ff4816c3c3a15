"""Authentication detectors: thresholds, windows, edges and tenant separation."""

from __future__ import annotations

from auditkit.analytics.detectors.auth import (
    brute_force,
    brute_force_success,
    impossible_travel,
    mfa_disabled,
    mfa_push_fatigue,
    new_country,
    password_spraying,
)

PARIS = {"city": "Paris", "country": "FR", "lat": 48.86, "lon": 2.35}
LYON = {"city": "Lyon", "country": "FR", "lat": 45.76, "lon": 4.84}
TOKYO = {"city": "Tokyo", "country": "JP", "lat": 35.68, "lon": 139.69}


def _fails(event, n, *, actor="alice", ip="203.0.113.9", start=0.0, step=1.0, tenant="acme"):
    return [
        event(
            "user.login", actor, minutes=start + i * step, outcome="failure", ip=ip, tenant=tenant
        )
        for i in range(n)
    ]


def test_brute_force_threshold_is_inclusive(event, frame) -> None:
    assert brute_force(frame(_fails(event, 9)), threshold=10).height == 0
    found = brute_force(frame(_fails(event, 10)), threshold=10)
    assert found.height == 1
    row = found.row(0, named=True)
    assert row["actor_id"] == "alice" and row["severity"] == "medium"
    assert len(row["event_ids"]) == 10


def test_brute_force_window_slides(event, frame) -> None:
    # 12 failures 2 minutes apart: any 15-minute window holds at most 8
    spread = frame(_fails(event, 12, step=2.0))
    assert brute_force(spread, threshold=8).height == 1
    assert brute_force(spread, threshold=9).height == 0
    # two bursts an hour apart are two findings
    two = frame(_fails(event, 10) + _fails(event, 10, start=120))
    assert brute_force(two, threshold=10).height == 2


def test_brute_force_from_one_ip_against_several_actors(event, frame) -> None:
    rows = [e for a in ("u1", "u2", "u3") for e in _fails(event, 4, actor=a, ip="198.51.100.1")]
    found = brute_force(frame(rows), threshold=10)
    assert found.height == 1
    assert found["actor_id"][0] is None
    assert "from source IP 198.51.100.1 against 3 actors" in found["summary"][0]


def test_brute_force_keeps_tenants_apart(event, frame) -> None:
    rows = _fails(event, 6, tenant="acme") + _fails(event, 6, tenant="globex")
    assert brute_force(frame(rows), threshold=10).height == 0


def test_brute_force_success(event, frame) -> None:
    rows = [*_fails(event, 5), event("user.login", "alice", minutes=6, ip="203.0.113.9")]
    found = brute_force_success(frame(rows))
    assert found.height == 1
    assert found["severity"][0] == "high"
    assert len(found["event_ids"][0]) == 6
    assert "from '203.0.113.9'" in found["summary"][0]
    # typos: two failures then a success are normal
    assert (
        brute_force_success(frame([*_fails(event, 2), event("user.login", minutes=3)])).height == 0
    )
    # the success comes too late after the failures
    late = [*_fails(event, 5), event("user.login", minutes=60)]
    assert brute_force_success(frame(late)).height == 0


def test_password_reset_between_failures_and_success_clears(event, frame) -> None:
    rows = [
        *_fails(event, 6),
        event("password.reset", minutes=7),
        event("user.login", minutes=8),
    ]
    assert brute_force_success(frame(rows)).height == 0
    assert brute_force_success(frame(rows), reset_clears=False).height == 1
    # failures before a reset do not add to later typos
    later = [*rows, *_fails(event, 2, start=20), event("user.login", minutes=23)]
    assert brute_force_success(frame(later)).height == 0
    assert (
        brute_force_success(
            frame([*later, *_fails(event, 5, start=40), event("user.login", minutes=46)])
        ).height
        == 1
    )


def test_password_spraying_counts_distinct_actors(event, frame) -> None:
    ip = "192.0.2.44"
    rows = [
        event("user.login", f"u{i}", minutes=i * 3, outcome="failure", ip=ip) for i in range(10)
    ]
    found = password_spraying(frame(rows))
    assert found.height == 1
    assert found["actor_id"][0] is None and found["severity"][0] == "high"
    # the same actor ten times is not spraying
    same = [event("user.login", "u1", minutes=i, outcome="failure", ip=ip) for i in range(10)]
    assert password_spraying(frame(same)).height == 0
    # ten actors over ten hours are not within one window
    slow = [
        event("user.login", f"u{i}", minutes=i * 61, outcome="failure", ip=ip) for i in range(10)
    ]
    assert password_spraying(frame(slow)).height == 0


def test_impossible_travel(event, frame) -> None:
    rows = [
        event("user.login", "carol", minutes=0, geo=PARIS),
        event("user.login", "carol", minutes=120, geo=TOKYO),
    ]
    found = impossible_travel(frame(rows))
    assert found.height == 1 and len(found["event_ids"][0]) == 2
    # Paris -> Lyon (390 km) in 10 minutes: too close to judge from IP geolocation
    near = [event("user.login", minutes=0, geo=PARIS), event("user.login", minutes=10, geo=LYON)]
    assert impossible_travel(frame(near)).height == 0
    # Paris -> Tokyo in 14 hours is a flight
    flight = [
        event("user.login", minutes=0, geo=PARIS),
        event("user.login", minutes=840, geo=TOKYO),
    ]
    assert impossible_travel(frame(flight)).height == 0
    # failed logins do not count, nor do other actors
    other = [
        event("user.login", "carol", minutes=0, geo=PARIS),
        event("user.login", "dave", minutes=5, geo=TOKYO),
        event("user.login", "carol", minutes=6, geo=TOKYO, outcome="failure"),
    ]
    assert impossible_travel(frame(other)).height == 0


def test_same_instant_far_apart_is_instant(event, frame) -> None:
    rows = [event("user.login", minutes=0, geo=PARIS), event("user.login", minutes=0, geo=TOKYO)]
    assert "instant km/h" in impossible_travel(frame(rows))["summary"][0]


def test_new_country_needs_a_history(event, frame) -> None:
    home = [event("user.login", "dave", minutes=d * 1440, geo=PARIS) for d in range(10)]
    trip = event("user.login", "dave", minutes=10 * 1440, geo=TOKYO)
    found = new_country(frame([*home, trip]))
    assert found.height == 1 and found["event_ids"][0].to_list() == [trip["event_id"]]
    assert new_country(frame([*home[:3], trip])).height == 0  # only 3 logins before
    assert new_country(frame([*home, trip]), min_history_span="30d").height == 0


def test_mfa_disabled_and_reset(event, frame) -> None:
    rows = [
        event("mfa.disable", "erin", target="frank"),
        event("mfa.disable", "erin", minutes=5, target="gina"),
        event("mfa.reset", "erin", minutes=6, target="hal"),
        event("mfa.disable", "erin", minutes=7, target="ian", outcome="denied"),
        event("mfa.reset", "jo", minutes=8, target="jo"),  # self-service: a new phone
        event("mfa.reset", "kay", minutes=9),
    ]
    found = mfa_disabled(frame(rows)).sort("severity")
    assert found["severity"].to_list() == ["high", "medium"]
    assert "disabled MFA for 2 principal(s) (frank, gina)" in found["summary"][0]
    assert mfa_disabled(frame(rows), self_resets=True).height == 4


def test_push_fatigue_needs_an_accept(event, frame) -> None:
    denied = [event("mfa.challenge", "gina", minutes=i, outcome="denied") for i in range(6)]
    accepted = event("mfa.challenge", "gina", minutes=7)
    found = mfa_push_fatigue(frame([*denied, accepted]))
    assert found.height == 1 and len(found["event_ids"][0]) == 7
    assert mfa_push_fatigue(frame(denied)).height == 0
    assert mfa_push_fatigue(frame([*denied[:4], accepted])).height == 0
