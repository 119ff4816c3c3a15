"""Charts beside the insights: inline data, small, offline rendering."""

from __future__ import annotations

import json

import altair as alt
import pytest

from auditkit.analytics import charts, insights
from auditkit.errors import UsageError

PAIRS = [
    (insights.active_actors, charts.active_actors_chart),
    (insights.dau_wau_mau, charts.dau_wau_mau_chart),
    (insights.feature_adoption, charts.feature_adoption_chart),
    (insights.top_actors, charts.top_actors_chart),
    (insights.top_targets, charts.top_targets_chart),
    (insights.top_actions, charts.top_actions_chart),
    (insights.failure_rates, charts.failure_rates_chart),
    (insights.sessions, charts.sessions_chart),
    (insights.activity_heatmap, charts.activity_heatmap_chart),
    (insights.new_vs_returning, charts.new_vs_returning_chart),
    (insights.tenant_comparison, charts.tenant_comparison_chart),
]


def test_every_insight_has_a_chart_beside_it() -> None:
    assert {f.__name__ for f, _ in PAIRS} == set(insights.__all__)
    for f, c in PAIRS:
        assert c.__name__ == f"{f.__name__}_chart"


@pytest.mark.parametrize(("insight", "chart"), PAIRS, ids=[f.__name__ for f, _ in PAIRS])
def test_chart_data_is_inline_and_small(scenario, insight, chart) -> None:
    c = chart(insight(scenario.events))
    assert isinstance(c, alt.Chart)
    spec = c.to_dict()
    text = json.dumps(spec)
    assert '"url"' not in text and "http" not in text.replace(spec.get("$schema", ""), "")
    assert 0 < len(spec["data"]["values"]) <= charts.MAX_ROWS


def test_charts_render_offline(scenario, tmp_path) -> None:
    chart = charts.activity_heatmap_chart(insights.activity_heatmap(scenario.events))
    chart.save(tmp_path / "heatmap.svg")  # vl-convert, no network
    assert (tmp_path / "heatmap.svg").read_text().startswith("<svg")


def test_charts_check_their_input(scenario) -> None:
    with pytest.raises(UsageError, match="expected columns"):
        charts.sessions_chart(insights.active_actors(scenario.events))
    with pytest.raises(UsageError, match="at most 5000 rows"):
        charts.inline_data(scenario.events.select("event_id"))
