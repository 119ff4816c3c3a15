"""Crafted trails whose controls fail, each for the right reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from auditkit.analytics import run_detectors
from auditkit.frame import events_to_frame
from auditkit.reports import (
    Report,
    ReportInputs,
    Status,
    assemble_report,
    build_report_from_frame,
    collect_inputs,
    inputs_from_frame,
)
from auditkit.reports._inputs import history_from_frame
from auditkit.reports.records import review_event
from auditkit.store import Store
from auditkit.times import Period
from tests.conftest import make_events

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(
    i: int,
    at: datetime,
    action: str,
    *,
    tenant: str = "acme",
    actor: str = "u1",
    outcome: str = "success",
    service: str = "webapp",
    target: str | None = "doc-1",
    ip: str | None = "198.51.100.7",
    actor_type: str = "user",
    roles: tuple[str, ...] = ("member",),
    **extra: Any,
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "event_id": f"{tenant}-{i:06d}",
        "tenant_id": tenant,
        "occurred_at": _ts(at),
        "action": action,
        "outcome": outcome,
        "actor": {"id": actor, "type": actor_type, "name": actor.upper(), "roles": list(roles)},
        "observer": {"service": service},
        "request_id": f"r{i}",
    }
    if target:
        e["targets"] = [{"id": target, "type": action.split(".")[0]}]
    if ip:
        e["source"] = {"ip": ip, "user_agent": "Mozilla/5.0"}
    e.update(extra)
    return e


def traffic(days: int = 21, *, tenant: str = "acme", reviewed: bool = True) -> list[dict[str, Any]]:
    """Steady traffic with every event class a framework asks for, for ``days`` days."""
    out: list[dict[str, Any]] = []
    daily = [
        ("user.login", {}),
        ("user.login", {"outcome": "failure"}),
        ("user.logout", {}),
        ("user.create", {"actor": "adm", "roles": ("admin",), "target": "u9"}),
        ("user.suspend", {"actor": "adm", "roles": ("admin",), "target": "u8"}),
        (
            "role.grant",
            {"actor": "adm", "roles": ("admin",), "target": "u2", "metadata": {"role": "editor"}},
        ),
        ("role.revoke", {"actor": "adm", "roles": ("admin",), "target": "u2"}),
        ("password.change", {"target": "u1"}),
        (
            "settings.update",
            {"actor": "adm", "roles": ("admin",), "service": "admin-console", "target": "settings"},
        ),
        ("document.update", {}),
        ("document.read", {"outcome": "denied"}),
        ("audit_log.read", {"actor": "adm", "roles": ("admin",), "target": "audit-log"}),
        ("integration.add", {"actor": "adm", "roles": ("admin",), "target": "slack"}),
        ("audit_log.enable", {"actor": "adm", "roles": ("admin",), "target": "audit-log"}),
    ]
    i = 0
    for d in range(days):
        day = T0 + timedelta(days=d)
        for k in range(144):  # an api read every ten minutes
            out.append(
                _event(
                    i,
                    day + timedelta(minutes=10 * k, seconds=7),
                    "document.read",
                    tenant=tenant,
                    actor="svc",
                    actor_type="api_key",
                    service="api",
                    roles=("integration",),
                )
            )
            i += 1
        for h, (action, kw) in enumerate(daily):
            kw = dict(kw)
            out.append(
                _event(i, day + timedelta(hours=8, minutes=3 * h), action, tenant=tenant, **kw)
            )
            i += 1
        if reviewed:  # the day's logs reviewed next morning, as `auditkit review` records
            review = review_event(
                tenant=tenant,
                period=Period(day.date(), day.date()),
                reviewer="rita",
                at=day + timedelta(days=1, hours=7),
            )
            out.append({**review, "event_id": f"{tenant}-review-{d:03d}"})
    return out


def _inputs(events: list[dict[str, Any]], **kw: Any) -> ReportInputs:
    """Inputs from events, detections run once (shared by every framework's report)."""
    frame = events_to_frame(events)
    inputs = inputs_from_frame(frame, **kw)
    return replace(inputs, findings=run_detectors(inputs.events))


def _report(events: list[dict[str, Any]], framework: str, **kw: Any) -> Report:
    return build_report_from_frame(events_to_frame(events), framework=framework, **kw)


def _status(report: Report, control: str) -> tuple[Status, str]:
    c = report.control(control)
    return c.status, " | ".join(c.reasons)


@pytest.fixture(scope="module")
def baseline() -> list[dict[str, Any]]:
    return traffic()


def test_baseline_fails_nothing(baseline: list[dict[str, Any]]) -> None:
    inputs = _inputs(baseline)
    for fw in ("pci-dss", "nist-800-53", "soc2", "iso27001", "hipaa", "gdpr"):
        report = assemble_report(inputs, framework=fw)
        assert not report.by_status("fail"), (
            fw,
            [(c.control_id, c.reasons) for c in report.by_status("fail")],
        )


# -- store-based: integrity and coverage -------------------------------------------------
def _sql(store: Store, statement: str) -> None:
    """Change the database the way an attacker with database access would."""
    with store.backend.connect() as conn:
        cur = conn.cursor()
        for t in ("events_no_update", "events_no_delete"):
            cur.execute(f"DROP TRIGGER IF EXISTS {t}")
        cur.execute(statement)
        conn.commit()


def test_tampered_record_fails_the_integrity_controls(tmp_path: Any) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(40))
    _sql(store, "UPDATE events SET outcome = 'success' WHERE tenant_id = 'acme' AND seq = 17")
    inputs = collect_inputs(store, tenant="acme")
    for fw, controls in {
        "nist-800-53": ["AU-9"],
        "pci-dss": ["10.3.2", "10.3.4"],
        "iso27001": ["A.8.15"],
        "hipaa": ["164.312(b)"],
        "gdpr": ["Art. 32"],
    }.items():
        report = assemble_report(inputs, framework=fw)
        for cid in controls:
            status, why = _status(report, cid)
            assert status is Status.FAIL, (fw, cid, why)
            assert "altered" in why and "modified in acme at seq 17 (event e-acme-17)" in why
            ref = report.control(cid).evidence[0]
            assert ref.section == "integrity" and "e-acme-17" in ref.event_ids
    # the evidence holds only records that verified: the altered one is left out
    assert report.events == 39
    assert report.section("integrity").facts["verified"] is False


def test_tenant_without_logins_fails_coverage(tmp_path: Any) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    quiet = [e for e in make_events(60, "quiet") if e["action"] != "user.login"]
    store.append(quiet + make_events(10, "busy"))
    inputs = collect_inputs(store, tenant="quiet")
    report = assemble_report(inputs, framework="nist-800-53")
    status, why = _status(report, "AU-2")
    assert status is Status.FAIL
    assert "quiet: no 'login_success' event" in why and "login_failure" in why
    assert report.section("coverage").facts["missing_required"]["quiet"][:2] == [
        "login_success",
        "login_failure",
    ]
    for fw, cid in (("soc2", "CC6.1"), ("pci-dss", "10.2.1.4")):
        status, why = _status(assemble_report(inputs, framework=fw), cid)
        assert status is Status.FAIL and "login" in why, (fw, cid, why)


def test_tenant_without_role_grants_fails(baseline: list[dict[str, Any]]) -> None:
    events = [e for e in baseline if e["action"] != "role.grant"]
    status, why = _status(_report(events, "soc2"), "CC6.3")
    assert status is Status.FAIL and "acme: no 'privilege_granted' event" in why


# -- frame-based: fields, retention, gaps, clock, detections ------------------------------
def test_missing_source_ip_fails_record_content(baseline: list[dict[str, Any]]) -> None:
    events = [dict(e) for e in baseline]
    mobile = 0
    for e in events:
        if e["action"] == "document.update":
            e.pop("source")
            e["observer"] = {"service": "mobile"}
            mobile += 1
    report = _report(events, "pci-dss")
    status, why = _status(report, "10.2.2")
    assert status is Status.FAIL
    assert (
        f"acme: 'source_ip' present in 0.0% of {mobile} applicable events from source "
        "'mobile', expected at least 99%" in why
    )
    ref = report.control("10.2.2").evidence[0]
    assert ref.count == mobile and len(ref.event_ids) == mobile
    assert _status(_report(events, "nist-800-53"), "AU-3")[0] is Status.FAIL


def test_removed_history_fails_retention_and_a_year_passes(baseline: list[dict[str, Any]]) -> None:
    frame = events_to_frame(baseline)
    hist = history_from_frame(frame)
    purged = hist.with_columns(first_seq=pl.lit(500, pl.Int64), tree_size=pl.col("tree_size") + 500)
    report = build_report_from_frame(frame, framework="pci-dss", history=purged)
    status, why = _status(report, "10.5.1")
    assert status is Status.FAIL and "500 signed record(s) removed" in why
    year = hist.with_columns(oldest=pl.lit(T0 - timedelta(days=400)))
    status, why = _status(
        build_report_from_frame(frame, framework="pci-dss", history=year), "10.5.1"
    )
    assert status is Status.PASS, why
    young, why = _status(build_report_from_frame(frame, framework="nist-800-53"), "AU-11")
    assert young is Status.NEEDS_REVIEW and "cannot be shown yet" in why


def test_retention_setting_below_a_year_needs_review(baseline: list[dict[str, Any]]) -> None:
    change = _event(
        999_999,
        T0 + timedelta(days=3, hours=9),
        "audit_retention.update",
        actor="adm",
        roles=("admin",),
        target="audit-log",
        changes={"before": {"retention_days": 365}, "after": {"retention_days": 30}},
    )
    report = _report([*baseline, change], "pci-dss")
    c = report.control("10.5.1")
    assert c.status is Status.NEEDS_REVIEW
    assert "acme: audit retention set to 30 days by adm" in " ".join(c.reasons)
    assert any(change["event_id"] in e.event_ids for e in c.evidence)


def test_silent_source_fails_logging_failure_controls(baseline: list[dict[str, Any]]) -> None:
    gap_from, gap_to = T0 + timedelta(days=16, hours=6), T0 + timedelta(days=16, hours=20)
    events = [
        e
        for e in baseline
        if not (
            e["observer"]["service"] == "api" and _ts(gap_from) <= e["occurred_at"] < _ts(gap_to)
        )
    ]
    inputs = _inputs(events)
    for fw, cid in (("pci-dss", "10.7.2"), ("nist-800-53", "AU-12"), ("iso27001", "A.8.16")):
        status, why = _status(assemble_report(inputs, framework=fw), cid)
        assert status is Status.FAIL, (fw, cid, why)
        assert "No events from source 'api'" in why


def test_producer_clock_ahead_fails_time_control(baseline: list[dict[str, Any]]) -> None:
    events = [dict(e) for e in baseline]
    for e in events:
        if e["action"] == "document.update":  # these claim to happen 2 h after arrival
            at = datetime.fromisoformat(e["occurred_at"])
            e["received_at"] = _ts(at - timedelta(hours=2))
    report = _report(events, "pci-dss")
    status, why = _status(report, "10.6.2")
    assert status is Status.FAIL and "21 event(s)" in why and "clock runs ahead" in why
    assert len(report.control("10.6.2").evidence[0].event_ids) == 21


def test_critical_findings_need_review_with_their_evidence(baseline: list[dict[str, Any]]) -> None:
    grant = _event(
        999_998,
        T0 + timedelta(days=5, hours=23),
        "role.grant",
        actor="u1",
        target="u1",
        metadata={"role": "admin"},
    )
    report = _report([*baseline, grant], "soc2")
    status, why = _status(report, "CC7.3")
    assert status is Status.NEEDS_REVIEW and "critical self_privilege_grant in acme" in why
    assert any(grant["event_id"] in e.event_ids for e in report.control("CC7.3").evidence)
    status, why = _status(report, "CC6.3")
    assert status is Status.NEEDS_REVIEW and "u1 granted admin to themselves" in why
