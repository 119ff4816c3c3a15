"""Golden files for Markdown, JSON, CSV and HTML, from fixed inputs (a small seeded sample,
a fixed key, fixed checkpoints and time).  Inline SVG bodies are normalised in the HTML
(they belong to vl-convert); ``pytest tests/reports --update-goldens`` rewrites them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import polars as pl
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditkit.analytics import FINDINGS_SCHEMA
from auditkit.frame import events_to_frame
from auditkit.integrity import key_fingerprint, sign_checkpoint
from auditkit.reports import Report, ReportOptions, assemble_report, inputs_from_frame
from auditkit.reports._inputs import history_from_frame
from auditkit.sample import generate
from auditkit.verification import TenantStatus, VerificationReport
from tests.reports.conftest import normalise

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
WHEN = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def _findings(frame: pl.DataFrame) -> pl.DataFrame:
    """Fixed findings (the detectors evolve on their own; these goldens test the report)."""
    grant = frame.filter(pl.col("action") == "role.grant").row(0, named=True)
    fails = frame.filter(pl.col("outcome") == "failure").head(3)
    rows = [
        (
            "self_privilege_grant",
            "critical",
            grant["tenant_id"],
            grant["actor_id"],
            grant["occurred_at"],
            grant["occurred_at"],
            [grant["event_id"]],
            f"'{grant['actor_id']}' granted themselves a role.",
            "f0000000000000001",
            None,
        ),
        (
            "brute_force",
            "high",
            fails["tenant_id"][0],
            fails["actor_id"][0],
            fails["occurred_at"][0],
            fails["occurred_at"][-1],
            fails["event_id"].to_list(),
            "Three failed sign-ins.",
            "f0000000000000002",
            None,
        ),
        (
            "rare_action",
            "low",
            grant["tenant_id"],
            grant["actor_id"],
            grant["occurred_at"],
            grant["occurred_at"],
            [grant["event_id"]],
            "A rare action.",
            "f0000000000000003",
            0.5,
        ),
    ]
    return pl.DataFrame(rows, schema=FINDINGS_SCHEMA, orient="row")


@pytest.fixture(scope="module")
def report() -> Report:
    sample = generate(tenants=1, days=21, actors=30, events=1200, seed=5)
    frame = events_to_frame(sample.events)
    hist = history_from_frame(frame)
    tenant, size = hist["tenant_id"][0], int(hist["tree_size"][0])
    root = hashlib.sha256(f"{tenant}/{size}".encode()).hexdigest()
    cp = sign_checkpoint(
        KEY,
        store_id="golden-store",
        tenant_id=tenant,
        tree_size=size,
        root_hash=root,
        timestamp="2026-02-01T11:59:00.000000Z",
    )
    verification = VerificationReport(
        tenants=(TenantStatus(tenant, frame.height, size, root, cp.timestamp, True),),
        store_id="golden-store",
        key_id=key_fingerprint(KEY.public_key()),
        key_source="public key file audit.db.pub",
        checked_at="2026-02-01T12:00:00.000000Z",
    )
    inputs = inputs_from_frame(
        frame,
        generated_at=WHEN,
        verification=verification,
        checkpoints=[cp],
        public_key=KEY.public_key(),
    )
    inputs = replace(
        inputs,
        store_id="golden-store",
        store_location="audit.db",
        key_source="public key file audit.db.pub",
        findings=_findings(frame),
        options=ReportOptions(detectors=("brute_force", "rare_action", "self_privilege_grant")),
    )
    return assemble_report(inputs, framework="pci-dss")


@pytest.mark.parametrize(
    "fmt,name", [("md", "pci-dss.md"), ("json", "pci-dss.json"), ("csv", "pci-dss.csv")]
)
def test_text_formats_match_golden(
    report: Report, golden: Callable[[str, str], None], fmt: str, name: str
) -> None:
    golden(name, report.render(fmt).decode())


def test_html_matches_golden(report: Report, golden: Callable[[str, str], None]) -> None:
    page = report.render("html").decode()
    assert page.count("<svg ") == sum(len(s.charts) for s in report.sections) > 0
    golden("pci-dss.html", normalise(page))


def test_rendering_is_deterministic(report: Report) -> None:
    assert report.render("json") == report.render("json")
    assert report.render("html", charts=True) == report.render("html", charts=True)
