"""Detection quality on labelled scenarios: recall on injected incidents, precision on
background traffic (rule-based), precision at top-k (statistical)."""

from __future__ import annotations

import polars as pl
import pytest

from auditkit.analytics.detectors import available_detectors, run_detectors

from ._incidents import INCIDENT_KINDS as FIRST_KINDS
from ._quality import quality_table
from ._scenarios import INCIDENT_KINDS, generate_scenario

RULES = [n for n, d in available_detectors().items() if d.kind == "rule"]
STATISTICAL = [n for n, d in available_detectors().items() if d.kind == "statistical"]
TOP_K = 10
PRECISION_AT_K_FLOOR = 0.5


def _show(table: pl.DataFrame) -> str:
    with pl.Config(tbl_rows=40, tbl_cols=10, tbl_width_chars=160):
        return str(table)


def test_every_incident_kind_expects_a_registered_detector() -> None:
    scenario = generate_scenario(tenants=1, actors=30, days=42, per_kind=1)
    assert {i.kind for i in scenario.incidents} == set(INCIDENT_KINDS)
    expected = {d for i in scenario.incidents for d in i.detectors}
    assert expected == set(available_detectors())


def test_rule_based_detectors_find_every_incident_and_little_else(
    scenario, scenario_findings
) -> None:
    table = quality_table(scenario_findings, scenario.incidents, RULES)
    bad = table.filter((pl.col("recall") < 1.0) | (pl.col("precision") < 0.9))
    assert bad.height == 0, _show(table)
    assert (table["expected"] >= 2).all()


def test_statistical_detectors_rank_incidents_first(scenario, scenario_findings) -> None:
    table = quality_table(scenario_findings, scenario.incidents, STATISTICAL, top_k=TOP_K)
    assert (table["precision_at_k"] >= PRECISION_AT_K_FLOOR).all(), _show(table)
    assert (table["recall"] == 1.0).all(), _show(table)


def test_background_alone_raises_no_rule_findings() -> None:
    quiet = generate_scenario(tenants=2, actors=30, days=42, seed=11, kinds=())
    found = run_detectors(quiet.events, names=RULES)
    assert found.height <= 2, found.select("detector", "summary")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_quality_holds_across_seeds(seed: int) -> None:
    """The first detectors on their own incidents (issue 18's classes, their variants and
    look-alikes are measured across seeds in ``test_adversarial.py``)."""
    scenario = generate_scenario(
        tenants=3, actors=40, days=42, seed=seed, per_kind=2, kinds=list(FIRST_KINDS)
    )
    findings = run_detectors(scenario.events)
    rules = quality_table(findings, scenario.incidents, RULES)
    assert rules.filter((pl.col("recall") < 1.0) | (pl.col("precision") < 0.9)).height == 0, _show(
        rules
    )
    stats = quality_table(findings, scenario.incidents, STATISTICAL, top_k=TOP_K)
    assert (stats["precision_at_k"] >= 0.4).all(), _show(stats)
