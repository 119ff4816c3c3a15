"""The Findings browser, Integrity panel and Report builder, driven from Python."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import polars as pl
import pytest

from auditkit.analytics import run_detectors
from auditkit.errors import UsageError
from auditkit.store import Store
from auditkit.widgets import FindingsBrowser, IntegrityPanel, ReportBuilder


@pytest.fixture(scope="module")
def findings(sample_frame: pl.DataFrame) -> pl.DataFrame:
    return run_detectors(sample_frame)


def test_findings_browser_shows_evidence_context_and_timeline(
    sample_frame: pl.DataFrame, findings: pl.DataFrame, tmp_path: Path
) -> None:
    fb = FindingsBrowser(sample_frame, findings, export_dir=tmp_path)
    assert len(fb.picker.options) == findings.height > 0
    first = fb.selected
    assert first is not None and first["finding_id"] == findings["finding_id"][0]
    assert set(fb.evidence["event_id"]) == set(first["event_ids"])
    assert fb.context["is_evidence"].sum() == fb.evidence.height
    assert "<svg" in fb.timeline.value
    assert first["detector"] in fb.summary.value
    assert "ak-hi" in fb.context_html.value  # evidence rows are shaded


def test_findings_browser_filters_and_selects(
    sample_frame: pl.DataFrame, findings: pl.DataFrame, tmp_path: Path
) -> None:
    fb = FindingsBrowser(sample_frame, findings, export_dir=tmp_path)
    fb.min_severity.value = "high"
    assert (
        len(fb.picker.options)
        == findings.filter(pl.col("severity").is_in(["high", "critical"])).height
    )
    low = findings.filter(pl.col("severity") == "low")
    if low.height:
        fb.select(low["finding_id"][0])  # widens the filter to show it
        assert fb.selected is not None and fb.selected["finding_id"] == low["finding_id"][0]
    detector = findings["detector"][0]
    fb.detector.value = detector
    assert {o[0].split(" · ")[1] for o in fb.picker.options} == {detector}
    with pytest.raises(UsageError):
        fb.select("no-such-finding")


def test_findings_browser_exports_evidence(
    sample_frame: pl.DataFrame, findings: pl.DataFrame, tmp_path: Path
) -> None:
    fb = FindingsBrowser(sample_frame, findings, export_dir=tmp_path)
    fb.export_buttons["ndjson"].click()
    assert fb.last_export is not None
    lines = fb.last_export.path.read_bytes().splitlines()
    assert {orjson.loads(line)["event_id"] for line in lines} == set(fb.selected["event_ids"])
    assert "download=" in fb.export_status.value


def test_findings_browser_without_findings(sample_frame: pl.DataFrame) -> None:
    fb = FindingsBrowser(sample_frame, run_detectors(sample_frame).clear())
    assert fb.selected is None and "no findings" in fb.summary.value
    with pytest.raises(UsageError):
        fb.export_evidence("csv")


def test_integrity_panel_intact(sample_store: Store, tmp_path: Path) -> None:
    panel = IntegrityPanel(sample_store, export_dir=tmp_path)
    assert panel.report is not None and panel.report.ok
    assert "INTACT" in panel.status.value and panel.status.value.count("intact") == 3
    assert panel.checkpoints_html.value.count("✔ valid") == len(sample_store.tenants())
    panel.tenant.value = sample_store.tenants()[0]
    panel.seq.value = 7
    panel.prove_button.click()
    assert panel.proof is not None and panel.proof.seq == 7
    assert "verified" in panel.proof_html.value
    panel.save_proof_button.click()
    saved = orjson.loads((tmp_path / f"proof-{sample_store.tenants()[0]}-7.json").read_bytes())
    assert saved["seq"] == 7 and saved["checkpoint"]["tree_size"] == panel.proof.tree_size
    panel.save_checkpoints_button.click()
    assert (tmp_path / "checkpoints.json").exists()
    event_id = sample_store.load(sample_store.tenants()[0])["event_id"][3]
    panel.event_id.value = event_id
    panel.prove_button.click()
    assert panel.proof.seq == 3 and panel.seq.value == 3
    panel.event_id.value = "nope"
    panel.prove_button.click()
    assert "✘" in panel.proof_html.value


def test_integrity_panel_names_the_tampered_record(sample_store: Store, tmp_path: Path) -> None:
    tenant = sample_store.tenants()[0]
    path = sample_store.backend.path
    assert path is not None
    con = sqlite3.connect(path)
    con.execute("DROP TRIGGER events_no_update")
    con.execute(f"UPDATE events SET outcome = 'success' WHERE tenant_id = '{tenant}' AND seq = 11")
    con.commit()
    con.close()
    panel = IntegrityPanel(sample_store, export_dir=tmp_path)
    assert panel.report is not None and not panel.report.ok
    assert "TAMPERED" in panel.status.value and "<td>11</td>" in panel.status.value
    assert repr(panel) == f"<IntegrityPanel: 3 tenant(s), {len(panel.report.problems)} problem(s)>"


def test_report_builder(sample_store: Store, tmp_path: Path) -> None:
    rb = ReportBuilder(sample_store, output_dir=tmp_path)
    rb.framework.value = "soc2"
    rb.tenant.value = sample_store.tenants()[0]
    rb.format.value = "json"
    rb.build_button.click()
    assert rb.path is not None and rb.path.name == f"soc2-{sample_store.tenants()[0]}.json"
    doc = orjson.loads(rb.path.read_bytes())
    assert doc["scope"]["tenants"] == [sample_store.tenants()[0]]
    assert "download=" in rb.status.value and "pass" in rb.preview.value
    from datetime import date

    rb.start.value, rb.end.value = date(2026, 1, 6), date(2026, 1, 8)
    assert rb.period == "2026-01-06..2026-01-08"
    rb.format.value = "md"
    rb.build_button.click()
    assert "2026-01-06..2026-01-08" in rb.path.read_text()
    rb.start.value = date(2026, 2, 1)  # after the end: the error is shown, not raised
    rb.build_button.click()
    assert "report failed" in rb.status.value


@pytest.fixture
def zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's local time zone set to ``request.param`` (restored after)."""
    import time

    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


# UTC+14 and UTC-11: at every hour of the day, one of them is on another date than UTC
@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"], indirect=True)
def test_report_builder_period_without_end_ends_today_in_utc(tmp_path: Path, zone: str) -> None:
    """A start without an end ran to the local date, not UTC's: in the evening in
    Pago Pago, today's events (UTC) were left out of the report."""
    from datetime import UTC, date, datetime

    from tests.conftest import make_events

    store = Store.init(str(tmp_path / "a.db"))
    store.append(make_events(3))
    rb = ReportBuilder(store, output_dir=tmp_path)
    rb.start.value = date(2026, 1, 6)
    before = datetime.now(UTC).date()
    period = rb.period
    after = datetime.now(UTC).date()  # (the same but at midnight UTC)
    assert period in {f"2026-01-06..{before}", f"2026-01-06..{after}"}, zone


def test_widgets_take_a_pandas_frame_as_they_take_a_polars_one(sample_frame: pl.DataFrame) -> None:
    """Data teams live in pandas: the Explorer and the findings browser accept the
    frame they hold (issue: every public function that takes an event frame)."""
    from auditkit.widgets.explorer import Explorer
    from auditkit.widgets.findings import FindingsBrowser

    frame = sample_frame
    polars_view, pandas_view = Explorer(frame), Explorer(frame.to_pandas())
    assert pandas_view._frame.equals(polars_view._frame)
    a, b = FindingsBrowser(frame), FindingsBrowser(frame.to_pandas())
    assert a.findings.equals(b.findings)
