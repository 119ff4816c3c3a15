"""Problems a new user's probe found in compliance reports, one test (or a few) each:
controls that passed over an empty population, superseded dispositions left out of
"Every disposition recorded", 12-hour and local-time chart axes with cut titles, and
`auditkit report` without a progress bar (or dumping HTML on a terminal)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditkit.cli import main
from auditkit.frame import events_to_frame
from auditkit.reports import (
    Status,
    assemble_report,
    available_frameworks,
    build_report,
    collect_inputs,
    get_framework,
)
from auditkit.reports import _charts as charts
from auditkit.reports._inputs import inputs_from_frame
from auditkit.reports.records import disposition_event
from auditkit.reports.sections import SectionSet
from auditkit.store import Store
from tests.reports.test_crafted import T0, _event, traffic

#: Rules whose population is the tenant's whole trail or history, not the period: they
#: may pass when the period holds no event.
WHOLE_TRAIL = {"integrity_verified", "signed_checkpoints", "retention", "not_assessable"}
EMPTY_PERIOD = "2026-01-01..2026-03-31"


@pytest.fixture(scope="module")
def old_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A store whose only events are from 2024: any 2026 period is empty."""
    store = Store.init(str(tmp_path_factory.mktemp("empty") / "audit.db"))
    start = datetime(2024, 6, 3, 9, tzinfo=UTC)
    store.append(
        [
            _event(i, start + timedelta(hours=i), action)
            for i, action in enumerate(["user.login", "user.create", "role.grant", "user.logout"])
        ]
    )
    return store


# ------------------------------------------------------------ 02: empty populations
@pytest.mark.parametrize("framework", sorted(available_frameworks()))
def test_no_control_passes_over_a_period_without_events(old_store: Store, framework: str) -> None:
    inputs = collect_inputs(old_store, tenant="acme", period=EMPTY_PERIOD)
    assert inputs.events.height == 0
    report = assemble_report(inputs, framework=framework)
    rules = {c.id: {r.name for r in c.rules} for c in get_framework(framework).controls}
    for c in report.controls:
        if c.status is Status.PASS:
            assert rules[c.control_id] <= WHOLE_TRAIL, (c.control_id, c.reasons)
            assert not any("in the period" in r for r in c.reasons), (c.control_id, c.reasons)


@pytest.mark.parametrize(
    ("framework", "control"),
    [
        ("pci-dss", "10.2.2"),
        ("pci-dss", "10.7.2"),
        ("pci-dss", "10.6.2"),
        ("pci-dss", "10.4.3"),
        ("pci-dss", "10.3.2"),
        ("soc2", "CC7.3"),
    ],
)
def test_named_controls_need_review_and_say_there_were_no_events(
    old_store: Store, framework: str, control: str
) -> None:
    report = build_report(old_store, framework=framework, tenant="acme", period=EMPTY_PERIOD)
    c = report.control(control)
    assert c.status is Status.NEEDS_REVIEW, c.reasons
    assert any("acme: no event recorded in the period" in r for r in c.reasons), c.reasons


def test_a_silent_tenant_beside_an_active_one_is_named(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "audit.db"))
    store.append(traffic(7, reviewed=False))
    store.append([_event(1, T0 - timedelta(days=400), "user.login", tenant="quiet")])
    report = build_report(store, framework="soc2", period="2026-03-02..2026-03-08")
    c = report.control("CC7.3")
    assert c.status is not Status.PASS, c.reasons
    assert any(r.startswith("quiet: no event recorded in the period") for r in c.reasons)
    assert not any(r.startswith("acme: no event") for r in c.reasons)


def test_a_field_that_applies_to_no_event_cannot_pass() -> None:
    # only service accounts: the origin address applies to none of the events
    events = [
        {
            "tenant_id": "acme",
            "occurred_at": f"2026-01-05T09:0{i}:00Z",
            "action": "job.run",
            "outcome": "success",
            "actor": {"id": "cron", "type": "service"},
            "observer": {"service": "scheduler"},
        }
        for i in range(3)
    ]
    sections = SectionSet(inputs_from_frame(events_to_frame(events)))
    from auditkit.reports.rules import fields_complete

    out = fields_complete(sections, fields=["actor_id", "source_ip"])
    assert out.status is Status.NEEDS_REVIEW, out.reasons
    assert out.reasons == (
        "acme: no event in the period to which 'source_ip' applies: its completeness cannot "
        "be shown",
    )


def test_empty_populations_in_every_rule_never_pass(old_store: Store) -> None:
    from auditkit.reports.rules import available_rules, evaluate

    sections = SectionSet(collect_inputs(old_store, tenant="acme", period=EMPTY_PERIOD))
    params: dict[str, dict[str, Any]] = {
        "classes_present": {"classes": ["login_success"], "missing": "pass"},
        "fields_complete": {"fields": ["actor_id"]},
        "not_assessable": {"request": "x"},
        "events_recorded": {"min_events": 0},
    }
    for name in available_rules():
        if name in WHOLE_TRAIL:
            continue
        out = evaluate(sections, name, params.get(name, {}))
        assert out.status is not Status.PASS, (name, out.reasons)


# ------------------------------------------------ 04: every disposition, superseded too
def test_every_disposition_is_listed_and_superseded_ones_marked(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "audit.db"))
    store.append(traffic(2, reviewed=False))
    fid = "0123456789abcdef"
    first = disposition_event(
        tenant="acme", finding_id=fid, disposition="remediated", ticket="SEC-12", by="Ann Lee"
    )
    second = disposition_event(
        tenant="acme", finding_id=fid, disposition="accepted_risk", ticket="SEC-13", by="Ann Lee"
    )
    store.append([first])
    store.append([second])
    report = build_report(store, framework="soc2", tenant="acme", period=None)
    table = report.section("review_records").table("dispositions")
    assert table.title.startswith("Every disposition recorded")
    rows = table.frame.select("ticket", "disposition", "superseded", "superseded_by").rows()
    second_id = table.frame.filter(pl.col("ticket") == "SEC-13")["event_id"][0]
    assert rows == [
        ("SEC-12", "remediated", True, second_id),
        ("SEC-13", "accepted_risk", False, None),
    ]
    # the disposition in force is still the latest one
    latest = SectionSet(collect_inputs(store, tenant="acme", period=None)).dispositions
    assert latest.select("ticket").to_series().to_list() == ["SEC-13"]


# ------------------------------------------------------------ 10: chart axes and titles
def _labels(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_time_axes_are_utc_24_hour_dates() -> None:
    from auditkit.reports.render_html import chart_svg

    days = [T0, T0 + timedelta(days=1)]
    daily = pl.DataFrame(
        {"day": days, "source": ["api", "api"], "events": [5, 6], "tenant_id": ["a", "a"]}
    )
    labels = _labels(chart_svg(charts.volume_chart(daily)))
    assert "2026-03-02" in labels and "2026-03-03" in labels, labels
    assert not any(re.search(r"\b(AM|PM)\b|^\d\d:\d\d$", x) for x in labels), labels
    for chart in (
        charts.volume_chart(daily),
        charts.failures_chart(daily.rename({"source": "outcome"})),
        charts.lifecycle_chart(daily.rename({"day": "week", "source": "change"})),
    ):
        x = chart.spec["encoding"]["x"]
        assert x["scale"] == {"type": "utc"} and x["title"].endswith("(UTC)"), x
        assert "%H:%M" in x["axis"]["labelExpr"] and "%I" not in x["axis"]["labelExpr"]


def test_chart_titles_wrap_to_the_chart_instead_of_being_cut() -> None:
    from auditkit.reports.render_html import chart_svg

    cov = pl.DataFrame(
        {"event_class": ["login_success"], "source": ["api"], "events": [3], "tenant_id": ["a"]}
    )
    chart = charts.coverage_chart(cov)
    lines = chart.spec["title"]["text"]
    assert " ".join(lines) == chart.title and len(lines) > 1
    svg = chart_svg(chart)
    assert all(f">{line}<" in svg for line in lines)
    long = "x " * 200
    assert " ".join(charts.title_lines(long.strip())) == long.strip()


# ------------------------------------------------------ 03: progress bar, terminal output
@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.cli.conftest import build_store

    folder = tmp_path_factory.mktemp("report-terminal")
    build_store(folder, events=600, days=5)
    return folder


def test_report_draws_progress_bars_on_a_terminal(cli_store: Path) -> None:
    from tests.cli._terminal import run_in_terminal

    run = run_in_terminal(
        "report", "audit.db", "--framework", "soc2", "-o", "r.html", cwd=cli_store
    )
    assert run.exit_code == 0, run.output
    assert "verify:" in run.output and "detect:" in run.output, run.output
    assert "wrote html report to r.html" in run.output
    quiet = run_in_terminal(
        "report", "audit.db", "--framework", "soc2", "-o", "q.html", "--no-progress", cwd=cli_store
    )
    assert quiet.exit_code == 0 and "verify:" not in quiet.output, quiet.output


def test_report_refuses_html_on_a_terminal_without_o(cli_store: Path) -> None:
    from tests.cli._terminal import run_in_terminal

    run = run_in_terminal("report", "audit.db", "--framework", "gdpr", cwd=cli_store)
    assert run.exit_code == 2, run.output
    lines = [x for x in run.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "-o FILE" in lines[0] and "--format md" in lines[0], lines
    assert "<html" not in run.output
    md = run_in_terminal(
        "report", "audit.db", "--framework", "gdpr", "--format", "md", cwd=cli_store
    )
    assert md.exit_code == 0 and "# GDPR" in md.output, md.output[:300]


def test_report_still_pipes_html(
    cli_store: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["report", str(cli_store / "audit.db"), "--framework", "gdpr"]) == 0
    assert capsysbinary.readouterr().out.startswith(b"<!DOCTYPE html>")
