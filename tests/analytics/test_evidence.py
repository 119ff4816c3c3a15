"""From findings to evidence frames, context and timeline charts."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
import pytest

from auditkit.analytics.evidence import (
    evidence_timeline_chart,
    finding_context,
    finding_evidence,
)
from auditkit.errors import UsageError


def test_evidence_is_exactly_the_cited_events(scenario, scenario_findings) -> None:
    firsts = scenario_findings.group_by("detector", maintain_order=True).head(1)
    for f in firsts.iter_rows(named=True):
        ev = finding_evidence(scenario.events, f)
        assert set(ev["event_id"]) == set(f["event_ids"]), f["detector"]
        assert (ev["tenant_id"] == f["tenant_id"]).all()
        assert ev["occurred_at"].is_sorted()


def test_context_surrounds_the_evidence(scenario, scenario_findings) -> None:
    for f in (
        scenario_findings.group_by("detector", maintain_order=True).head(1).iter_rows(named=True)
    ):
        ctx = finding_context(scenario.events, f, before="30m", after="30m")
        cited = set(f["event_ids"])
        assert set(ctx.filter("is_evidence")["event_id"]) == cited, f["detector"]
        assert (ctx["tenant_id"] == f["tenant_id"]).all()
        lo, hi = f["first_seen"] - timedelta(minutes=30), f["last_seen"] + timedelta(minutes=30)
        assert ctx["occurred_at"].is_between(lo, hi).all()
        if f["actor_id"] is not None:
            # chains cite links by other principals (a key's creator, a grantee): the
            # rest of the context is the actor's
            around = ctx.filter(~pl.col("is_evidence"))
            assert (around["actor_id"] == f["actor_id"]).all()


def test_findings_as_one_row_frames_and_bad_input(scenario, scenario_findings) -> None:
    one = scenario_findings.head(1)
    assert finding_evidence(scenario.events, one).height == len(one["event_ids"][0])
    with pytest.raises(UsageError, match="expected one finding"):
        finding_evidence(scenario.events, scenario_findings.head(2))
    with pytest.raises(UsageError, match=r"expected a finding with \['event_ids'"):
        finding_evidence(scenario.events, {"tenant_id": "acme"})


def test_timeline_chart_data_is_inline(scenario, scenario_findings) -> None:
    f = scenario_findings.filter(pl.col("detector") == "mass_export").row(0, named=True)
    chart = evidence_timeline_chart(scenario.events, f)
    spec = chart.to_dict()
    assert '"url"' not in json.dumps(spec)
    values = spec["data"]["values"]
    assert {v["event_id"] for v in values if v["is_evidence"]} == set(f["event_ids"])
    assert spec["mark"]["type"] == "point"  # rendering offline is checked in test_charts


def test_busy_context_is_aggregated(scenario) -> None:
    sync = scenario.events.filter(pl.col("actor_id") == "acme-svc-sync")
    f = {
        "detector": "example",
        "tenant_id": "acme",
        "actor_id": "acme-svc-sync",
        "first_seen": sync["occurred_at"][0],
        "last_seen": sync["occurred_at"][0] + timedelta(days=30),
        "event_ids": sync["event_id"].head(3).to_list(),
    }
    spec = evidence_timeline_chart(scenario.events, f).to_dict()
    assert len(spec["data"]["values"]) < 2000
    assert "events" in spec["data"]["values"][0]


def test_timeline_axis_is_utc_on_a_24_hour_clock_and_the_title_wraps(
    scenario, scenario_findings
) -> None:
    """13:11 UTC was labelled "01:11" (a 12-hour clock, in the viewer's own zone) and a
    long summary was cut at 120 characters."""
    f = scenario_findings.row(0, named=True)
    f = {**f, "summary": "word " * 60}
    spec = evidence_timeline_chart(scenario.events, f).to_dict()
    x = spec["encoding"]["x"]
    assert x["scale"]["type"] == "utc" and "%H:%M" in x["axis"]["labelExpr"]
    assert "utcFormat" in x["axis"]["labelExpr"] and "%I" not in x["axis"]["labelExpr"]
    lines = spec["title"]["text"]
    assert isinstance(lines, list) and len(lines) > 1 and all(len(t) <= 90 for t in lines)
    assert " ".join(lines).split() == ("word " * 60).split()
