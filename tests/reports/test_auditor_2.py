"""What an external auditor (SOC 2 CPA, PCI QSA, ISO lead auditor) receiving a report would
object to, round 2: a tampered trail that still shows passes, period bounds not stated
as instants, samples the bundle cannot re-draw by itself, a decoy public key accepted,
CSV files Excel mis-decodes and dates that are text in the spreadsheets."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from auditkit.errors import UsageError
from auditkit.integrity import generate_key, public_key_pem
from auditkit.reports import Status, assemble_report, build_report, collect_inputs, verify_bundle
from auditkit.store import Store
from auditkit.times import Period
from tests.reports.test_crafted import T0, _event, _sql, traffic

FRAMEWORKS = ("soc2", "iso27001", "pci-dss", "hipaa", "nist-800-53", "gdpr")
PERIOD = "2026-03-02..2026-03-08"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A week of traffic, plus events on both sides of each period boundary."""
    path = tmp_path_factory.mktemp("auditor2") / "audit.db"
    s = Store.init(str(path))
    edges = [
        _event(900_001, T0 - timedelta(microseconds=1), "user.login"),  # 03-01 23:59:59.999999
        _event(900_002, T0, "user.login"),  # 03-02 00:00:00 exactly
        _event(900_003, T0 + timedelta(days=7) - timedelta(milliseconds=1), "user.login"),
        _event(900_004, T0 + timedelta(days=7), "user.login"),  # 03-09 00:00: outside
    ]
    s.append(traffic(7) + edges)
    return s


@pytest.fixture(scope="module")
def bundle(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = build_report(store, framework="pci-dss", tenant="acme", period=PERIOD)
    return report.write(tmp_path_factory.mktemp("b") / "pci.zip")


def _unzip(path: Path, into: Path) -> Path:
    with zipfile.ZipFile(path) as z:
        z.extractall(into)
    return into


def _rezip(src: Path, dst: Path, change: Any) -> Path:
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    change(files)
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return dst


# -- honesty of status on a tampered trail ----------------------------------------------
def test_tampered_trail_passes_no_control_and_every_output_says_so(
    tmp_path: Path,
) -> None:
    s = Store.init(str(tmp_path / "t.db"))
    s.append(traffic(7))
    _sql(s, "UPDATE events SET actor_id = 'mallory' WHERE tenant_id = 'acme' AND seq = 40")
    inputs = collect_inputs(s, tenant="acme", period=PERIOD)
    for fw in FRAMEWORKS:
        report = assemble_report(inputs, framework=fw)
        relied = report.by_status(Status.PASS) + report.by_status(Status.EVIDENCE_PRESENT)
        assert not relied, (fw, [(c.control_id, c.reasons) for c in relied])
        for c in report.controls:
            assert "FAILED integrity verification" in c.reasons[0], (fw, c.control_id)
        rows = report.render("csv").decode().splitlines()
        assert rows[0].endswith(",integrity")
        assert all("TAMPERED" in r for r in rows[1:]), fw
        md = report.render("md").decode()
        header = md.split("## Executive summary")[0]
        assert "**Integrity at generation**: TAMPERED" in header
        html = report.render("html", charts=False).decode()
        assert 'class="integrity tampered">TAMPERED' in html
        doc = json.loads(report.render("json"))
        assert doc["integrity"]["verdict"].startswith("TAMPERED")
        assert doc["integrity"]["verified"] is False
    bundle = report.write(tmp_path / "t.zip")
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["integrity"]["verdict"].startswith("TAMPERED")


def test_intact_trail_states_verdict_and_checkpoint_roots(store: Store) -> None:
    report = build_report(store, framework="soc2", tenant="acme", period=PERIOD)
    doc = json.loads(report.render("json"))
    cps = doc["integrity"]["checkpoints"]
    assert doc["integrity"]["verdict"] == "intact"
    assert [c["tenant_id"] for c in cps] == ["acme"]
    assert len(cps[0]["root_hash"]) == 64 and cps[0]["tree_size"] > 0
    header = report.render("md").decode().split("## Executive summary")[0]
    assert f"root {cps[0]['root_hash']}" in header
    assert "**Prepared by**: management (not named in the configuration)" in header


# -- period boundaries --------------------------------------------------------------------
def test_period_is_stated_as_exact_utc_instants_and_boundaries_hold(store: Store) -> None:
    report = build_report(store, framework="pci-dss", tenant="acme", period=PERIOD)
    period = json.loads(report.render("json"))["scope"]["period"]
    assert period["start_at"] == "2026-03-02T00:00:00Z"
    assert period["end_before"] == "2026-03-09T00:00:00Z"
    assert period["time_zone"] == "UTC" and period["days"] == 7
    for text in (report.render("md").decode(), report.render("html", charts=False).decode()):
        assert "from 2026-03-02T00:00:00Z up to, not including, 2026-03-09T00:00:00Z" in text
    success = build_report(store, framework="soc2", tenant="acme", period=PERIOD)
    got = set(success.section("samples").table("population_CC6_1").frame["event_id"])
    assert {"acme-900002", "acme-900003"} <= got
    assert not {"acme-900001", "acme-900004"} & got


def test_leap_day_period_is_29_days_and_a_missing_leap_day_is_refused() -> None:
    assert Period.parse("2028-02-01..2028-02-29").days == 29
    with pytest.raises(UsageError):
        Period.parse("2026-02-01..2026-02-29")


# -- sampling: stated basis, re-drawn from the bundle alone --------------------------------
def test_sample_size_basis_is_stated(store: Store) -> None:
    report = build_report(store, framework="soc2", tenant="acme", period=PERIOD)
    text = " ".join(report.section("samples").paragraphs)
    assert "25 to 60 items" in text and "tested in full" in text
    assert "reperform/reperform.py" in text


def test_reperform_without_arguments_redraws_every_sample(bundle: Path, tmp_path: Path) -> None:
    folder = _unzip(bundle, tmp_path / "b")
    run = subprocess.run(
        [sys.executable, "-I", "reperform/reperform.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK: every hash matches" in run.stdout
    assert "re-drawn with random.Random(20260302)" in run.stdout
    assert "population(s) reconciled" in run.stdout


def test_reperform_names_a_population_that_does_not_reconcile(bundle: Path, tmp_path: Path) -> None:
    folder = _unzip(bundle, tmp_path / "b")
    pop = folder / "evidence/samples/population_10_2_1_4.csv"
    lines = pop.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    pop.write_text("".join([lines[0], *lines[2:]]), encoding="utf-8-sig")  # drop an event
    run = subprocess.run(
        [sys.executable, "-I", str(folder / "reperform/reperform.py"), "samples", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "population_10_2_1_4.csv:" in run.stdout and "report.json states" in run.stdout
    assert "the sample of 10.2.1.4 is not random.Random(20260302)" in run.stdout


# -- bundle tamper evidence -----------------------------------------------------------------
def test_a_decoy_public_key_is_caught_even_with_the_trusted_key(
    store: Store, bundle: Path, tmp_path: Path
) -> None:
    trusted = store.trusted_public_key()[0]
    other = public_key_pem(generate_key().public_key()).encode()
    swapped = _rezip(bundle, tmp_path / "s.zip", lambda f: f.update({"public_key.pem": other}))
    v = verify_bundle(swapped, trusted)
    assert not v.ok
    assert [(p.kind, p.path) for p in v.problems] == [("altered", "public_key.pem")]
    dropped = _rezip(bundle, tmp_path / "d.zip", lambda f: f.pop("public_key.pem"))
    v = verify_bundle(dropped, trusted)
    assert [(p.kind, p.path) for p in v.problems] == [("missing", "public_key.pem")]
    assert verify_bundle(bundle, trusted).ok


def test_a_manifest_whose_signature_fails_is_quoted_as_a_claim(
    bundle: Path, tmp_path: Path
) -> None:
    def widen(f: dict[str, bytes]) -> None:
        m = json.loads(f["manifest.json"])
        m["period"] = "2026-01-01..2026-12-31"
        f["manifest.json"] = json.dumps(m).encode()

    v = verify_bundle(_rezip(bundle, tmp_path / "p.zip", widen))
    assert v.status == "TAMPERED"
    assert "as its unverified manifest claims" in v.summary().splitlines()[0]


# -- spreadsheets ---------------------------------------------------------------------------
def test_bundle_csvs_carry_a_bom_and_xlsx_times_are_dates(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as z:
        csvs = [n for n in z.namelist() if n.endswith(".csv")]
        assert csvs and all(z.read(n).startswith(b"\xef\xbb\xbf") for n in csvs)
        book = openpyxl.load_workbook(io.BytesIO(z.read("evidence/samples/samples.xlsx")))
        csv_first = z.read("evidence/samples/samples.csv").decode("utf-8-sig").splitlines()[1]
    sheet = book.active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("occurred_at") + 1)
    assert cell.is_date, (cell.value, cell.number_format)
    stamp = csv_first.split(",")[header.index("occurred_at")]
    assert cell.value.strftime("%Y-%m-%dT%H:%M:%S") == stamp[:19]
    assert sheet.cell(row=2, column=header.index("seq") + 1).data_type == "n"


# -- mapping: a control cannot pass while the findings it is about are open -----------------
def test_soc2_cc7_3_does_not_pass_with_high_findings_unevaluated() -> None:
    from auditkit.frame import events_to_frame
    from auditkit.reports import build_report_from_frame

    spray = [
        _event(
            800_000 + k,
            T0 + timedelta(days=3, hours=4, minutes=k),
            "user.login",
            actor=f"victim-{k:02d}",
            outcome="failure",
            ip="203.0.113.202",
            target=None,
        )
        for k in range(20)
    ]
    report = build_report_from_frame(events_to_frame(traffic(7) + spray), framework="soc2")
    c = report.control("CC7.3")
    assert c.status is Status.NEEDS_REVIEW, c.reasons
    assert any("password_spraying" in r for r in c.reasons), c.reasons
