"""Cross-check on the product's own sample generator (auditkit.sample), when present.

The detectors were tuned on tests/analytics/_scenarios.py; an independently written
generator is a fair test of whether they generalise.  Slow, and skipped when
auditkit.sample is not importable.
"""

from __future__ import annotations

import polars as pl
import pytest

from auditkit.analytics.detectors import run_detectors
from auditkit.frame import events_to_frame

# sample incident kind -> detectors that must find it
EXPECTED = {
    "brute_force": ["brute_force"],
    "password_spraying": ["password_spraying"],
    "impossible_travel": ["impossible_travel"],
    "self_granted_admin": ["self_privilege_grant"],
    "mfa_disabled_mass_export": ["mfa_disabled", "mass_export"],
    "audit_log_tampering": ["audit_tampering"],
    "off_hours_api_key": ["suspicious_api_key"],
    "dormant_account": ["dormant_account"],
    "break_glass": ["break_glass"],
    "mass_deletion": ["mass_deletion"],
}


@pytest.mark.slow
def test_sample_incidents_are_found() -> None:
    sample = pytest.importorskip("auditkit.sample")
    generated = sample.generate(tenants=3, days=60, actors=150, seed=7)
    events = events_to_frame(generated.events)
    findings = run_detectors(events)
    missed = []
    for incident in generated.incidents:
        for detector in EXPECTED.get(incident.kind, []):
            hit = findings.filter(
                (pl.col("detector") == detector)
                & (pl.col("tenant_id") == incident.tenant_id)
                & pl.col("event_ids")
                .list.eval(pl.element().is_in(list(incident.event_ids)))
                .list.any()
            )
            if hit.height == 0:
                missed.append((incident.kind, detector, incident.description))
    assert not missed
