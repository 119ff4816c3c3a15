"""Golden behaviour on crafted stores, one per defect an external auditor found (issue 13):
logging switched off, review done after the period, pass on presence alone, a dormancy
check that cannot fail, findings without dispositions; and the review and disposition
records themselves, which are signed events of the tenant's own trail."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from auditkit.analytics import run_detectors
from auditkit.cli import main
from auditkit.reports import ReportOptions, Status, build_report, collect_inputs
from auditkit.reports.records import disposition_event, review_event
from auditkit.store import Store
from auditkit.times import Period
from tests.reports.test_crafted import T0, _event, _sql, traffic

PERIOD = "2026-03-02..2026-03-08"


def _store(tmp_path: Path, events: list[dict[str, Any]]) -> Store:
    store = Store.init(str(tmp_path / "audit.db"))
    store.append(events)
    return store


@pytest.fixture
def week(tmp_path: Path) -> Store:
    """Seven days of steady traffic, reviewed each next morning."""
    return _store(tmp_path, traffic(7))


def test_logging_switched_off_for_weeks_fails_logging_controls_and_completeness(
    tmp_path: Path,
) -> None:
    events = traffic(21, reviewed=True)
    off = _event(99_000, T0 + timedelta(days=3, hours=9), "audit_log.disable", actor="adm")
    events = [e for e in events if e["action"] != "audit_log.enable"] + [off]
    store = _store(tmp_path, events)
    inputs = collect_inputs(store, tenant="acme", period="2026-03-02..2026-03-22")
    for fw, cid in (
        ("pci-dss", "10.2.1"),
        ("pci-dss", "10.3.2"),
        ("pci-dss", "10.7.3"),
        ("nist-800-53", "AU-5"),
        ("nist-800-53", "AU-9"),
        ("iso27001", "A.8.15"),
        ("hipaa", "164.312(b)"),
    ):
        from auditkit.reports import assemble_report

        report = assemble_report(inputs, framework=fw)
        c = report.control(cid)
        assert c.status is Status.FAIL, (fw, cid, c.reasons)
        assert any("not switched on again" in r for r in c.reasons), (cid, c.reasons)
        summary = report.section("executive_summary").facts
        assert summary["integrity"] == "intact"  # nothing altered ...
        assert summary["completeness"].startswith("INCOMPLETE")  # ... but not complete


def test_daily_review_needs_records_made_at_the_time(tmp_path: Path) -> None:
    # no review at all: 10.4.1 fails although every detector ran over every event
    store = _store(tmp_path, traffic(7, reviewed=False))
    report = build_report(store, framework="pci-dss", tenant="acme", period=PERIOD)
    c = report.control("10.4.1")
    assert c.status is Status.FAIL and "no review record" in c.reasons[0]
    # reviews recorded today (months after the period) cover the days, but late
    store.append([review_event(tenant="acme", period=PERIOD, reviewer="rita", note="catch-up")])
    late = build_report(store, framework="pci-dss", tenant="acme", period=PERIOD)
    c = late.control("10.4.1")
    assert c.status is Status.NEEDS_REVIEW, c.reasons
    assert "7 day(s) reviewed more than 1 day(s) later" in " ".join(c.reasons)


def test_daily_review_passes_when_each_day_was_reviewed_next_morning(week: Store) -> None:
    report = build_report(week, framework="pci-dss", tenant="acme", period=PERIOD)
    c = report.control("10.4.1")
    # the detectors' run is "evidence present", the reviews make it pass: the worst wins
    assert c.status is Status.EVIDENCE_PRESENT, c.reasons
    assert any("each of the 7 day(s) reviewed within 1 day(s)" in r for r in c.reasons)
    assert "detectors analysed" in " ".join(c.reasons)
    refs = [e for e in c.evidence if e.section == "review_records" and e.event_ids]
    assert refs and refs[0].count == 7


def test_a_missed_day_fails(tmp_path: Path) -> None:
    events = [e for e in traffic(7) if e["event_id"] != "acme-review-003"]
    store = _store(tmp_path, events)
    c = build_report(store, framework="pci-dss", tenant="acme", period=PERIOD).control("10.4.1")
    assert c.status is Status.FAIL
    assert "1 of 7 day(s) have no review record (first: 2026-03-05)" in c.reasons[0]


def test_a_forged_review_is_caught_by_verification(week: Store) -> None:
    _sql(
        week,
        "UPDATE events SET occurred_at = '2026-03-04T07:00:00.000000Z' "
        "WHERE event_id = 'acme-review-006'",
    )
    report = build_report(week, framework="pci-dss", tenant="acme", period=PERIOD)
    assert report.control("10.3.2").status is Status.FAIL
    # the altered review record does not count: only records that verify are evidence
    reviews = report.section("review_records").table("reviews").frame
    assert "acme-review-006" not in reviews["event_id"].to_list()
    assert report.control("10.4.1").status is Status.FAIL


def test_dispositions_change_statuses_and_are_listed_with_owner(tmp_path: Path) -> None:
    events = traffic(7)
    # a self-grant: a finding to decide on
    events.append(
        _event(
            99_001,
            T0 + timedelta(days=2, hours=13),
            "role.grant",
            actor="u5",
            target="u5",
            roles=("member",),
            metadata={"role": "admin"},
        )
    )
    store = _store(tmp_path, events)
    before = build_report(store, framework="pci-dss", tenant="acme", period=PERIOD)
    c = before.control("10.4.3")
    assert c.status is Status.NEEDS_REVIEW and "no recorded disposition" in c.reasons[0]
    register = before.section("review_records").table("findings").frame
    open_ids = register.filter(register["state"] == "open")["finding_id"].to_list()
    assert open_ids
    for fid in open_ids:
        store.append(
            [
                disposition_event(
                    tenant="acme",
                    finding_id=fid,
                    disposition="accepted_risk",
                    ticket="RISK-9",
                    by="olga",
                    note="break-glass drill",
                )
            ]
        )
    after = build_report(store, framework="pci-dss", tenant="acme", period=PERIOD)
    c = after.control("10.4.3")
    assert c.status is Status.PASS, c.reasons
    assert "accepted risk" in c.reasons[0]
    register = after.section("review_records").table("findings").frame
    assert set(register["owner"].to_list()) == {"olga"}
    assert set(register["ticket"].to_list()) == {"RISK-9"}
    exceptions = after.section("executive_summary").table("exceptions").frame
    assert set(open_ids) <= set(exceptions["item"].to_list())
    assert store.verify().ok  # the dispositions are signed records of the trail


def test_dormancy_check_cannot_pass_on_a_short_period(week: Store) -> None:
    report = build_report(
        week,
        framework="soc2",
        tenant="acme",
        period=PERIOD,
        options=ReportOptions(dormant_days=90),
    )
    c = report.control("CC6.2")
    assert c.status is not Status.PASS
    assert any("shorter than the 90-day dormancy limit" in r for r in c.reasons)


def test_is_logged_controls_carry_a_reproducible_sample(week: Store) -> None:
    import random

    report = build_report(week, framework="pci-dss", tenant="acme", period=PERIOD)
    samples = report.section("samples")
    seed = samples.facts["seed"]
    assert seed == 20260302
    for cid in ("10.2.1.1", "10.2.1.4", "10.2.1.5"):
        c = report.control(cid)
        assert c.status is Status.PASS
        ref = next(e for e in c.evidence if e.section == "samples")
        name = "population_" + cid.replace(".", "_")
        population = samples.table(name).frame["event_id"].to_list()
        expected = (
            population if len(population) <= 25 else random.Random(seed).sample(population, 25)
        )
        assert list(ref.event_ids) == expected, cid


def test_review_and_finding_commands_record_signed_events(
    week: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(week.location)
    assert main(["review", path, "--tenant", "acme", "--period", PERIOD, "--reviewer", "Ann"]) == 0
    assert "recorded audit_log.review" in capsys.readouterr().out
    week.append(
        {
            "tenant_id": "acme",
            "occurred_at": f"2026-03-04T03:{m:02d}:00Z",
            "action": "user.login",
            "outcome": "failure",
            "actor": {"id": "ann"},
            "source": {"ip": "203.0.113.9"},
        }
        for m in range(30)
    )
    real = run_detectors(week.load("acme"))["finding_id"][0]
    resolve = ["--tenant", "acme", "--disposition", "remediated", "--ticket", "CHG-1", "--by"]
    # a signed disposition cannot be taken back: only of a finding the tenant has
    assert main(["finding", "resolve", path, "0123456789abcdef", *resolve, "Bob"]) == 2
    assert "no finding 0123456789abcdef" in capsys.readouterr().err
    assert main(["finding", "resolve", path, real, *resolve, "Bob"]) == 0
    # a review of days still to come is refused: wholly (as every --period), or in part
    future = ["review", path, "--tenant", "acme", "--reviewer", "Ann", "--period"]
    assert main([*future, "2999-01-01..2999-01-31"]) == 2
    assert "starts after today" in capsys.readouterr().err
    assert main([*future, "2026-01-01..2999-01-31"]) == 2
    assert "a review covers days that have passed" in capsys.readouterr().err
    assert main(["review", path, "--tenant", "ghost", "--period", PERIOD, "--reviewer", "x"]) == 2
    assert "unknown tenant 'ghost'" in capsys.readouterr().err
    assert main(["review", path, "--tenant", "acme", "--period", "Q1", "--reviewer", "x"]) == 2
    store = Store.open(path)
    assert store.verify().ok
    recorded = store.load("acme", match={"action": ["audit_log.review", "finding.resolve"]})
    assert sorted(recorded["actor_id"].to_list()).count("Ann") == 1
    assert "Bob" in recorded["actor_id"].to_list()
    assert Period.parse(PERIOD).days == 7


def test_quarantined_records_make_the_population_incomplete(week: Store) -> None:
    week.quarantine(
        [{"file": "okta.json", "line": n, "field": "published", "reason": "bad", "record": "{}"}
         for n in range(3)]
    )  # fmt: skip
    report = build_report(week, framework="pci-dss", tenant="acme", period="30d")
    facts = report.section("completeness").facts
    assert facts["quarantined"] == 3
    assert "3 record(s) quarantined at ingestion" in facts["verdict"]
    table = report.section("completeness").table("quarantine").frame
    assert table.rows() == [("published", 3)]  # field names only, never record content
