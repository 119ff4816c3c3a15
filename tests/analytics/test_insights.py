"""Usage insights, checked against straightforward computations."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.analytics import insights
from auditkit.frame import events_to_frame

T0 = datetime(2026, 1, 5, tzinfo=UTC)

activity = st.lists(
    st.tuples(
        st.sampled_from(["acme", "globex"]),
        st.sampled_from(["u1", "u2", "u3", "u4"]),
        st.integers(0, 40),  # day
        st.integers(0, 1439),  # minute
        st.sampled_from(["user.login", "document.read", "document.export"]),
        st.sampled_from(["success", "success", "failure", "denied"]),
    ),
    min_size=1,
    max_size=40,
)


def _frame(rows):
    return events_to_frame(
        {
            "tenant_id": t,
            "occurred_at": T0 + timedelta(days=d, minutes=m),
            "action": a,
            "outcome": o,
            "actor": {"id": u},
        }
        for t, u, d, m, a, o in rows
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activity)
def test_dau_wau_mau_match_a_brute_force_count(rows) -> None:
    got = insights.dau_wau_mau(_frame(rows))
    active = defaultdict(set)
    for t, u, d, *_ in rows:
        active[(t, d)].add(u)
    for r in got.iter_rows(named=True):
        day = (r["day"] - T0).days

        def distinct(width: int, tenant: str = r["tenant_id"], day: int = day) -> int:
            return len(set().union(*(active[(tenant, x)] for x in range(day - width + 1, day + 1))))

        assert (r["dau"], r["wau"], r["mau"]) == (distinct(1), distinct(7), distinct(30))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activity)
def test_sessions_partition_the_events(rows) -> None:
    df = _frame(rows)
    s = insights.sessions(df, gap="30m")
    assert s["events"].sum() == df.height
    assert (s["duration"] >= timedelta(0)).all()
    # per actor, sessions are separated by more than the gap
    for (_, _), g in s.sort("start").group_by(["tenant_id", "actor_id"]):
        starts, ends = g["start"].to_list(), g["end"].to_list()
        for prev_end, start in zip(ends, starts[1:], strict=False):
            assert start - prev_end > timedelta(minutes=30)


def test_active_actors_and_failure_rates_match_pandas(scenario) -> None:
    pdf = scenario.events.select("tenant_id", "actor_id", "occurred_at", "action", "outcome")
    pdf = pdf.to_pandas()
    pdf["period"] = pdf["occurred_at"].dt.floor("D")
    want = pdf.groupby(["tenant_id", "period"])["actor_id"].nunique()
    got = insights.active_actors(scenario.events)
    assert got["active_actors"].to_list() == want.to_list()
    rates = insights.failure_rates(scenario.events)
    login = rates.filter((pl.col("tenant_id") == "acme") & (pl.col("action") == "user.login"))
    sub = pdf[(pdf.tenant_id == "acme") & (pdf.action == "user.login")]
    assert login["failure_rate"][0] == (sub.outcome == "failure").mean()
    assert rates["unsuccessful_rate"].is_between(0, 1).all()


def test_top_heatmap_new_returning_and_tenants(scenario) -> None:
    ev = scenario.events
    top = insights.top_actions(ev, n=3)
    assert top.group_by("tenant_id").len()["len"].max() == 3
    acme = ev.filter(pl.col("tenant_id") == "acme")["action"].value_counts(sort=True)
    assert top.filter(pl.col("tenant_id") == "acme")["action"].to_list() == (
        acme["action"].head(3).to_list()
    )
    assert insights.top_actors(ev, n=5, by_tenant=False).height == 5
    assert insights.top_targets(ev, n=2)["target_id"].null_count() == 0
    heat = insights.activity_heatmap(ev)
    assert heat["events"].sum() == ev.height
    assert set(heat["weekday"].unique()) <= set(range(1, 8))
    nvr = insights.new_vs_returning(ev)
    firsts = nvr.group_by("tenant_id").agg(pl.col("new").sum()).sort("tenant_id")
    actors = ev.group_by("tenant_id").agg(pl.col("actor_id").n_unique()).sort("tenant_id")
    assert firsts["new"].to_list() == actors["actor_id"].to_list()
    comp = insights.tenant_comparison(ev)
    assert comp["events"].sum() == ev.height and comp.height == 3


def test_feature_adoption_is_cumulative(scenario) -> None:
    fa = insights.feature_adoption(scenario.events, actions=["document.export", "api_key.create"])
    assert set(fa["action"]) == {"document.export", "api_key.create"}
    assert fa["adoption"].is_between(0, 1).all()
    for _, g in fa.group_by(["tenant_id", "action"]):
        assert g["adopters"].is_sorted()
    last = (
        fa.filter(pl.col("action") == "document.export")
        .group_by("tenant_id")
        .agg(pl.col("adopters").max())
    )
    users = (
        scenario.events.filter(pl.col("action") == "document.export")
        .group_by("tenant_id")
        .agg(pl.col("actor_id").n_unique())
    )
    assert dict(last.iter_rows()) == dict(users.iter_rows())
