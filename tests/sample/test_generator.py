"""Tests of the sample generator: shape, realism, incidents, determinism, streaming."""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import math
import re
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import auditkit.sample
from auditkit.sample import (
    Incident,
    IncidentKind,
    SampleSet,
    generate,
    iter_events,
    plan_incidents,
    write_ndjson,
)
from auditkit.schema import ACTOR_TYPES, CATEGORIES, CORE_ACTIONS, OUTCOMES, normalize_event

Event = dict[str, Any]

REQUIRED = ("event_id", "tenant_id", "occurred_at", "action", "category", "outcome", "actor")
OPTIONAL = ("targets", "source", "observer", "request_id", "session_id", "description")
ALLOWED = frozenset((*REQUIRED, *OPTIONAL, "changes", "metadata"))
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
ENTITY_ACTION = re.compile(
    r"^(document|project|invoice|report|customer)\.(create|read|update|delete|export|download|share)$"
)
DOC_NETS = [
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture(scope="module")
def sample() -> SampleSet:
    """The default sample (the one committed in ``sample_data/``)."""
    return generate()


@pytest.fixture(scope="module")
def by_id(sample: SampleSet) -> dict[str, Event]:
    return {e["event_id"]: e for e in sample.events}


def ts(event: Event) -> datetime:
    return datetime.fromisoformat(event["occurred_at"])


def km(a: dict[str, Any], b: dict[str, Any]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 12742.0 * math.asin(math.sqrt(h))


def local_hour(event: Event) -> int:
    """Hour of day where the request came from (offset estimated from longitude)."""
    lon: float = event["source"]["geo"]["lon"]
    return (ts(event).hour + round(lon / 15)) % 24


# -- public API ------------------------------------------------------------------------
def test_all_is_sorted_and_complete() -> None:
    names = auditkit.sample.__all__
    assert names == sorted(names)
    assert {"generate", "iter_events", "write_ndjson", "SampleSet", "Incident"} <= set(names)
    assert all(hasattr(auditkit.sample, n) for n in names)


def test_repr_is_a_summary(sample: SampleSet) -> None:
    text = repr(sample)
    assert text.startswith(f"SampleSet(events={len(sample.events)}, tenants=['acme', 'globex'")
    assert "<table>" in sample._repr_html_()


# -- shape -----------------------------------------------------------------------------
def test_default_volume_and_tenants(sample: SampleSet) -> None:
    assert 15_000 <= len(sample.events) <= 40_000
    sizes = Counter(e["tenant_id"] for e in sample.events)
    assert sizes["acme"] > sizes["globex"] > sizes["initech"] > 0


def test_every_event_has_the_canonical_shape(sample: SampleSet) -> None:
    for e in sample.events:
        assert all(k in e for k in REQUIRED), e
        assert set(e) <= ALLOWED, e
        assert TS.match(e["occurred_at"]), e["occurred_at"]
        assert e["category"] in CATEGORIES and e["outcome"] in OUTCOMES
        assert e["actor"]["type"] in ACTOR_TYPES and e["actor"]["id"]
    blob = orjson.dumps(sample.events)
    assert b":null" not in blob and b"[null" not in blob and b",null" not in blob


def test_the_project_validator_changes_nothing(sample: SampleSet) -> None:
    labelled = {i for inc in sample.incidents for i in inc.event_ids}
    for k, e in enumerate(sample.events):
        if k % 5 == 0 or e["event_id"] in labelled:
            assert normalize_event(e) == e


def test_actions_follow_the_core_vocabulary(sample: SampleSet) -> None:
    for e in sample.events:
        action = e["action"]
        if action in CORE_ACTIONS:
            assert e["category"] == CORE_ACTIONS[action], e
        else:
            assert ENTITY_ACTION.match(action) and e["category"] == "user", e


def test_event_ids_are_uuid7_of_the_timestamp(sample: SampleSet) -> None:
    ids = [e["event_id"] for e in sample.events]
    assert len(set(ids)) == len(ids)
    for e in sample.events[:: max(1, len(ids) // 2000)]:
        u = uuid.UUID(e["event_id"])
        assert str(u) == e["event_id"]
        assert u.version == 7 and u.variant == uuid.RFC_4122
        assert u.int >> 80 == int(ts(e).timestamp() * 1000)


def test_events_are_sorted_and_share_no_objects(sample: SampleSet) -> None:
    times = [e["occurred_at"] for e in sample.events]
    assert times == sorted(times)
    seen: set[int] = set()
    stack: list[Any] = list(sample.events)
    while stack:  # every dict and list, at any depth, belongs to one event only
        value = stack.pop()
        if isinstance(value, dict | list):
            assert id(value) not in seen, value
            seen.add(id(value))
            stack.extend(value.values() if isinstance(value, dict) else value)


def test_only_documentation_addresses_and_example_domains(sample: SampleSet) -> None:
    ips = {e["source"]["ip"] for e in sample.events if "source" in e}
    for ip in ips:
        assert any(ipaddress.ip_address(ip) in net for net in DOC_NETS), ip
    emails = {e["actor"]["email"] for e in sample.events if "email" in e["actor"]}
    assert all(m.endswith(".example") for m in emails)


def test_all_categories_outcomes_actor_types_and_observers(sample: SampleSet) -> None:
    events = sample.events
    assert {e["category"] for e in events} == set(CATEGORIES)
    assert {e["outcome"] for e in events} == set(OUTCOMES)
    assert {e["actor"]["type"] for e in events} == set(ACTOR_TYPES)
    services = {e["observer"]["service"] for e in events}
    assert services == {"webapp", "api", "admin-console", "scheduler"}
    roles = {r for e in events for r in e["actor"].get("roles", [])}
    assert {"owner", "admin", "member", "viewer", "auditor"} <= roles
    actions = {e["action"] for e in events}
    assert {"user.login", "user.logout", "session.expire", "mfa.challenge", "role.grant"} <= actions
    assert {"job.run", "entity.expire", "license.expire", "settings.update"} <= actions
    for verb in ("create", "read", "update", "delete", "export", "download", "share"):
        assert f"document.{verb}" in actions


def test_changes_and_metadata_where_they_belong(sample: SampleSet) -> None:
    for e in sample.events:
        if (
            e["action"].endswith(".update")
            and e["category"] == "user"
            and e["outcome"] == "success"
        ):
            before, after = e["changes"]["before"], e["changes"]["after"]
            assert before.keys() == after.keys() and before != after
        if e["action"] in ("role.grant", "role.revoke") and e["outcome"] == "success":
            assert e["metadata"]["role"] and e["targets"][0]["type"] == "user"
        if e["action"] == "user.login" and e["outcome"] == "failure":
            assert e["metadata"]["failure_reason"]
    assert all(e["request_id"].startswith("req_") for e in sample.events)
    assert all(e["description"] for e in sample.events)


# -- realism ---------------------------------------------------------------------------
def test_weekdays_busier_than_weekends_and_days_than_nights(sample: SampleSet) -> None:
    per_day = Counter((ts(e).date(), ts(e).weekday() >= 5) for e in sample.events)
    weekday = [n for (_, weekend), n in per_day.items() if not weekend]
    weekend = [n for (_, weekend), n in per_day.items() if weekend]
    assert sum(weekday) / len(weekday) > 4 * sum(weekend) / len(weekend)
    people = [e for e in sample.events if e["actor"]["type"] == "user" and "source" in e]
    hours = Counter(local_hour(e) for e in people)
    day = sum(hours[h] for h in range(8, 18))
    night = sum(hours[h] for h in range(0, 6))
    assert day > 20 * night > 0


def test_failed_login_rate_is_realistic(sample: SampleSet) -> None:
    labelled = {i for inc in sample.incidents for i in inc.event_ids}
    logins = [e for e in sample.events if e["action"] == "user.login"]
    failed = [e for e in logins if e["outcome"] == "failure" and e["event_id"] not in labelled]
    assert 0.015 < len(failed) / len(logins) < 0.04
    others = [e for e in sample.events if e["category"] == "user"]
    rare = Counter(e["outcome"] for e in others)
    assert 0 < rare["denied"] + rare["error"] < 0.03 * len(others)


def test_sessions_start_with_a_login_and_stay_with_one_person(sample: SampleSet) -> None:
    sessions: dict[str, list[Event]] = defaultdict(list)
    for e in sample.events:
        if "session_id" in e:
            sessions[e["session_id"]].append(e)
    assert len(sessions) > 1000
    lengths = []
    for events in sessions.values():
        assert events[0]["action"] == "user.login" and events[0]["outcome"] == "success"
        person = events[0]["actor"]["id"]
        for e in events:
            if e["action"] == "session.expire":
                assert e["actor"]["type"] == "system" and e["targets"][0]["id"] == person
            else:
                assert e["actor"]["id"] == person
        ends = [e for e in events if e["action"] in ("user.logout", "session.expire")]
        assert len(ends) <= 1 and (not ends or ends[0] is events[-1])
        lengths.append(len(events))
    assert 4 < sum(lengths) / len(lengths) < 15


def test_service_accounts_and_api_keys_have_no_sessions(sample: SampleSet) -> None:
    machines = [e for e in sample.events if e["actor"]["type"] in ("service", "api_key")]
    assert machines and all("session_id" not in e for e in machines)
    assert {e["observer"]["service"] for e in machines} == {"api"}


def test_nobody_is_dormant_by_chance(sample: SampleSet) -> None:
    dormant = {i.actor_id for i in sample.incidents if i.kind == IncidentKind.DORMANT_ACCOUNT}
    last: dict[str, datetime] = {}
    for e in sample.events:
        actor = e["actor"]["id"]
        if e["actor"]["type"] == "user" and actor not in dormant:
            if actor in last:
                assert ts(e) - last[actor] < timedelta(days=30), actor
            last[actor] = ts(e)


# -- incidents -------------------------------------------------------------------------
def test_all_incident_kinds_are_spread_over_tenants_and_time(sample: SampleSet) -> None:
    incidents = sample.incidents
    assert sorted(i.kind for i in incidents) == sorted(k.value for k in IncidentKind)
    assert len({i.tenant_id for i in incidents}) == 3
    first = sorted(i.first_seen for i in incidents)
    assert datetime.fromisoformat(first[-1]) - datetime.fromisoformat(first[0]) > timedelta(days=60)
    assert plan_incidents() == incidents


def test_incident_evidence_exists_and_is_described(
    sample: SampleSet, by_id: dict[str, Event]
) -> None:
    for inc in sample.incidents:
        evidence = [by_id[i] for i in inc.event_ids]
        assert evidence and all(e["tenant_id"] == inc.tenant_id for e in evidence)
        assert [e["occurred_at"] for e in evidence] == sorted(e["occurred_at"] for e in evidence)
        assert (inc.first_seen, inc.last_seen) == (
            evidence[0]["occurred_at"],
            evidence[-1]["occurred_at"],
        )
        if inc.actor_id is not None:
            assert all(e["actor"]["id"] == inc.actor_id for e in evidence), inc.kind
        assert inc.description


def evidence(
    sample: SampleSet, by_id: dict[str, Event], kind: IncidentKind
) -> tuple[Incident, list[Event]]:
    inc = next(i for i in sample.incidents if i.kind == kind)
    return inc, [by_id[i] for i in inc.event_ids]


def test_brute_force(sample: SampleSet, by_id: dict[str, Event]) -> None:
    inc, ev = evidence(sample, by_id, IncidentKind.BRUTE_FORCE)
    *failures, success = ev
    assert len(failures) >= 20
    assert all(e["action"] == "user.login" and e["outcome"] == "failure" for e in failures)
    assert success["action"] == "user.login" and success["outcome"] == "success"
    assert {e["source"]["ip"] for e in ev} == {inc.source_ip}
    assert ts(failures[-1]) - ts(failures[0]) <= timedelta(minutes=10)
    assert ts(success) > ts(failures[-1])


def test_password_spraying(sample: SampleSet, by_id: dict[str, Event]) -> None:
    inc, ev = evidence(sample, by_id, IncidentKind.PASSWORD_SPRAYING)
    assert inc.actor_id is None
    assert all(e["action"] == "user.login" and e["outcome"] == "failure" for e in ev)
    assert {e["source"]["ip"] for e in ev} == {inc.source_ip}
    assert len({e["actor"]["id"] for e in ev}) >= 20
    assert ts(ev[-1]) - ts(ev[0]) <= timedelta(minutes=30)
    from_ip = [e for e in sample.events if e.get("source", {}).get("ip") == inc.source_ip]
    assert len(from_ip) == len(ev)


def test_impossible_travel(sample: SampleSet, by_id: dict[str, Event]) -> None:
    _, (first, second) = evidence(sample, by_id, IncidentKind.IMPOSSIBLE_TRAVEL)
    assert first["action"] == second["action"] == "user.login"
    assert (first["source"]["geo"]["city"], second["source"]["geo"]["city"]) == ("Berlin", "Sydney")
    hours = (ts(second) - ts(first)).total_seconds() / 3600
    assert hours <= 0.75 and km(first["source"]["geo"], second["source"]["geo"]) / hours > 5000


def test_no_impossible_travel_in_the_background(sample: SampleSet) -> None:
    labelled = {i for inc in sample.incidents for i in inc.event_ids}
    last: dict[str, Event] = {}
    for e in sample.events:
        if e["action"] == "user.login" and e["outcome"] == "success":
            prev = last.get(e["actor"]["id"])
            if prev is not None and e["event_id"] not in labelled:
                hours = max((ts(e) - ts(prev)).total_seconds() / 3600, 1e-3)
                distance = km(prev["source"]["geo"], e["source"]["geo"])
                assert distance < 500 or distance / hours < 1000 or prev["event_id"] in labelled
            last[e["actor"]["id"]] = e


def test_self_granted_admin(sample: SampleSet, by_id: dict[str, Event]) -> None:
    inc, (grant,) = evidence(sample, by_id, IncidentKind.SELF_GRANTED_ADMIN)
    assert grant["action"] == "role.grant" and grant["outcome"] == "success"
    assert grant["targets"][0]["id"] == grant["actor"]["id"] == inc.actor_id
    assert grant["metadata"]["role"] == "admin" and "admin" not in grant["actor"]["roles"]
    others = [
        e for e in sample.events
        if e["action"] == "role.grant" and e["targets"][0]["id"] == e["actor"]["id"]
    ]  # fmt: skip
    assert others == [grant]


def test_mfa_disabled_then_mass_export(sample: SampleSet, by_id: dict[str, Event]) -> None:
    _, (disable, *exports) = evidence(sample, by_id, IncidentKind.MFA_DISABLED_MASS_EXPORT)
    assert disable["action"] == "mfa.disable"
    assert disable["targets"][0]["id"] == disable["actor"]["id"]
    assert len(exports) == 60 and {e["action"] for e in exports} == {"document.export"}
    assert ts(exports[-1]) - ts(exports[0]) <= timedelta(minutes=15)
    assert ts(exports[0]) - ts(disable) <= timedelta(minutes=10)


def test_audit_log_tampering(sample: SampleSet, by_id: dict[str, Event]) -> None:
    _, ev = evidence(sample, by_id, IncidentKind.AUDIT_LOG_TAMPERING)
    retention, disable = ev
    assert retention["action"] == "audit_retention.update"
    before = retention["changes"]["before"]["retention_days"]
    assert retention["changes"]["after"]["retention_days"] < before
    assert disable["action"] == "audit_log.disable"


def test_off_hours_api_key_for_another_user(sample: SampleSet, by_id: dict[str, Event]) -> None:
    _, (create,) = evidence(sample, by_id, IncidentKind.OFF_HOURS_API_KEY)
    assert create["action"] == "api_key.create"
    owner = create["metadata"]["owner_id"]
    assert owner != create["actor"]["id"]
    assert {"api_key", "user"} == {t["type"] for t in create["targets"]}
    assert owner in {t["id"] for t in create["targets"]}
    assert 2 <= local_hour(create) <= 4
    background = [
        e for e in sample.events
        if e["action"] == "api_key.create" and e["metadata"]["owner_id"] != e["actor"]["id"]
    ]  # fmt: skip
    assert background == [create]


def test_dormant_account(sample: SampleSet, by_id: dict[str, Event]) -> None:
    inc, (login,) = evidence(sample, by_id, IncidentKind.DORMANT_ACCOUNT)
    assert login["action"] == "user.login" and login["outcome"] == "success"
    before = [e for e in sample.events if e["actor"]["id"] == inc.actor_id and ts(e) < ts(login)]
    assert before, "the account was active once"
    assert ts(login) - ts(before[-1]) >= timedelta(days=60)


def test_break_glass(sample: SampleSet, by_id: dict[str, Event]) -> None:
    inc, ev = evidence(sample, by_id, IncidentKind.BREAK_GLASS)
    assert ev[0]["action"] == "user.login"
    assert all(e["actor"]["name"] == "root" and e["metadata"]["break_glass"] is True for e in ev)
    flagged = [e["event_id"] for e in sample.events if e.get("metadata", {}).get("break_glass")]
    assert flagged == list(inc.event_ids)


def test_mass_deletion(sample: SampleSet, by_id: dict[str, Event]) -> None:
    _, ev = evidence(sample, by_id, IncidentKind.MASS_DELETION)
    assert len(ev) >= 30 and all(e["action"].endswith(".delete") for e in ev)
    assert all(e["outcome"] == "success" for e in ev)
    assert ts(ev[-1]) - ts(ev[0]) <= timedelta(minutes=10)


def test_incident_to_dict_is_json_ready(sample: SampleSet) -> None:
    data = orjson.loads(orjson.dumps([i.to_dict() for i in sample.incidents]))
    assert data[0]["kind"] == sample.incidents[0].kind
    assert data[0]["event_ids"] == list(sample.incidents[0].event_ids)


# -- determinism, volume, streaming ----------------------------------------------------
SMALL: dict[str, Any] = {"tenants": 2, "days": 12, "actors": 30}


def test_same_seed_same_events_other_seed_other_events() -> None:
    a, b = generate(**SMALL, seed=3), generate(**SMALL, seed=3)
    assert orjson.dumps(a.events) == orjson.dumps(b.events)
    assert a.incidents == b.incidents
    c = generate(**SMALL, seed=4)
    assert {e["event_id"] for e in c.events}.isdisjoint(e["event_id"] for e in a.events)


@pytest.mark.parametrize(("n", "incidents"), [(0, False), (1, False), (777, True), (5_000, True)])
def test_events_n_gives_exactly_n(n: int, incidents: bool) -> None:
    s = generate(**SMALL, events=n, incidents=incidents)
    assert len(s.events) == n
    assert [e["occurred_at"] for e in s.events] == sorted(e["occurred_at"] for e in s.events)


@pytest.mark.parametrize("events", [0, 1, 10, 40, 100, 200])
def test_a_small_sample_keeps_the_incidents_that_fit(events: int) -> None:
    full = generate(**SMALL)
    s = generate(**SMALL, events=events)
    assert len(s.events) == events
    ids = {e["event_id"] for e in s.events}
    # every incident when they fit; else whole ones in at most half the sample; always
    # a subset of the full sample's (same labels, same evidence)
    if len(s.incidents) < len(full.incidents):
        assert sum(len(i.event_ids) for i in s.incidents) <= events // 2
    assert all(set(i.event_ids) <= ids for i in s.incidents)
    assert set(s.incidents) <= set(full.incidents)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tenants": 0}, "tenants"),
        ({"days": 0}, "days"),
        ({"actors": 5, "tenants": 1}, "actors"),
        ({"events": -1}, "events"),
        ({"start": "05/01/2026"}, "start"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(**kwargs)


def test_iter_events_chunks_concatenate_to_generate() -> None:
    chunks = list(iter_events(**SMALL, events=3_000, chunk_size=256))
    assert max(len(c) for c in chunks) == 256 and min(len(c) for c in chunks) > 0
    flat = list(itertools.chain.from_iterable(chunks))
    assert flat == generate(**SMALL, events=3_000).events


def test_iter_events_rejects_a_bad_chunk_size() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        next(iter_events(chunk_size=0))


@settings(max_examples=12, deadline=None)
@given(
    tenants=st.integers(1, 4),
    days=st.integers(1, 20),
    extra_actors=st.integers(0, 30),
    events=st.integers(0, 600),
    seed=st.integers(0, 2**32),
)
def test_any_small_sample_is_exact_sorted_and_unique(
    tenants: int, days: int, extra_actors: int, events: int, seed: int
) -> None:
    kw: dict[str, Any] = {"tenants": tenants, "days": days, "actors": 6 * tenants + extra_actors}
    s = generate(**kw, seed=seed, events=events, incidents=False)
    assert len(s.events) == events
    assert len({e["event_id"] for e in s.events}) == events
    times = [e["occurred_at"] for e in s.events]
    assert times == sorted(times)


def test_write_ndjson_round_trips(tmp_path: Path) -> None:
    events = generate(**SMALL, events=400, incidents=False).events
    path = tmp_path / "events.ndjson"
    assert write_ndjson(iter(events), path) == 400
    assert [orjson.loads(line) for line in path.read_bytes().splitlines()] == events


def test_committed_sample_is_the_default_output(sample: SampleSet) -> None:
    lines = gzip.decompress((SAMPLE_DATA / "events.ndjson.gz").read_bytes()).splitlines()
    assert len(lines) == len(sample.events), "regenerate: see sample_data/README.md"
    assert lines == [orjson.dumps(e) for e in sample.events], (
        "regenerate: see sample_data/README.md"
    )
    labels = orjson.loads((SAMPLE_DATA / "incidents.json").read_bytes())
    assert labels["incidents"] == [i.to_dict() for i in sample.incidents]
    assert (SAMPLE_DATA / "events.ndjson.gz").stat().st_size < 3_000_000
