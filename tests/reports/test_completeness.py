"""Field completeness is a share of the events (0-100%), and a default is not a value."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.frame import events_to_frame
from auditkit.reports import inputs_from_frame
from auditkit.reports.sections import FIELD_CHECKS, SectionSet
from auditkit.schema import normalize_event

_SOURCES = st.sampled_from(["webapp", "api", "scheduler", None])
_ACTIONS = st.sampled_from(["user.login", "document.read", "role.grant", "job.run"])


@st.composite
def _event(draw: st.DrawFn, i: int) -> dict[str, Any]:
    e: dict[str, Any] = {
        "event_id": f"e{i}",
        "tenant_id": draw(st.sampled_from(["acme", "globex"])),
        "occurred_at": f"2026-01-05T09:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "action": draw(_ACTIONS),
        "actor": {"id": f"u{draw(st.integers(0, 3))}"},
    }
    if draw(st.booleans()):
        e["outcome"] = draw(st.sampled_from(["success", "failure"]))
    if draw(st.booleans()):
        e["actor"]["type"] = draw(st.sampled_from(["user", "service", "api_key", "system"]))
    service = draw(_SOURCES)
    if service is not None:
        e["observer"] = {"service": service}
    if draw(st.booleans()):
        e["source"] = {"ip": "198.51.100.7"}
    if draw(st.booleans()):
        e["targets"] = [{"id": "doc-1"}]
    if draw(st.booleans()):
        e["request_id"] = f"r{i}"
    return normalize_event(e)


@st.composite
def _events(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 60))
    return [draw(_event(i)) for i in range(n)]


@settings(max_examples=40, deadline=None)
@given(_events())
def test_completeness_is_a_share_of_the_events(events: list[dict[str, Any]]) -> None:
    frame = events_to_frame(events)
    section = SectionSet(inputs_from_frame(frame))["fields"]
    detail = section.table("detail").frame
    assert detail.height == frame.select("tenant_id", "observer_service").unique().height * len(
        FIELD_CHECKS
    )
    assert (detail["applicable"] <= detail["events"]).all()
    assert (detail["present"] <= detail["applicable"]).all()
    assert (detail["missing"] >= 0).all()
    assert (detail["missing"] + detail["present"] == detail["applicable"]).all()
    shares = detail["share"].drop_nulls()
    assert ((shares >= 0) & (shares <= 1)).all()
    pct = section.table("completeness").frame
    for name in FIELD_CHECKS:
        if name in pct.columns:
            values = pct[name].drop_nulls()
            assert ((values >= 0) & (values <= 100)).all(), (name, values.to_list())
    # fields that apply to every event count every event of the source
    every = detail.filter(pl.col("field").is_in(["actor_id", "action", "occurred_at"]))
    assert (every["applicable"] == every["events"]).all()
    # the events' own count of missing outcomes (absent from the source) is the table's
    missing_outcome = sum(1 for e in events if "auditkit_defaulted" in e.get("metadata", {}))
    assert detail.filter(pl.col("field") == "outcome")["missing"].sum() == missing_outcome


def test_a_defaulted_outcome_is_counted_missing_and_fails_the_content_control() -> None:
    events = [
        normalize_event(
            {
                "event_id": f"e{i}",
                "tenant_id": "acme",
                "occurred_at": f"2026-01-05T09:00:{i:02d}Z",
                "action": "user.login",
                "actor": {"id": "u1"},
                **({"outcome": "success"} if i % 2 else {}),
            }
        )
        for i in range(10)
    ]
    assert events[0]["outcome"] == "success"  # the stored default ...
    assert events[0]["metadata"] == {"auditkit_defaulted": ["outcome"]}  # ... is marked
    from auditkit.reports import build_report_from_frame

    report = build_report_from_frame(events_to_frame(events), framework="pci-dss")
    detail = report.section("fields").table("detail").frame.filter(pl.col("field") == "outcome")
    assert detail.select("applicable", "present", "missing").row(0) == (10, 5, 5)
    content = report.control("10.2.2")
    assert content.status.value == "fail"
    assert any("'outcome' present in 50.0%" in r for r in content.reasons), content.reasons
