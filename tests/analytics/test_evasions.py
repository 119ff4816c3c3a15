"""Attacks written to slip under the detectors' thresholds, and innocent look-alikes
(:mod:`._evasions`): every attack is found by its detectors, no look-alike gets a
finding above low, and the same trail gives the same findings twice."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit.analytics import run_detectors
from auditkit.analytics.detectors.common import login_name, network
from auditkit.frame import events_to_frame

from ._evasions import TRAILS, Trail


def _findings(trail: Trail) -> pl.DataFrame:
    return run_detectors(events_to_frame(trail.build()))


@pytest.mark.parametrize("trail", [t for t in TRAILS if t.expect], ids=lambda t: t.name)
def test_evasion_is_found(trail: Trail) -> None:
    findings = _findings(trail)
    fired = set(findings["detector"])
    assert set(trail.expect) <= fired, findings.select("detector", "severity", "summary")


@pytest.mark.parametrize("trail", [t for t in TRAILS if not t.expect], ids=lambda t: t.name)
def test_lookalike_stays_quiet(trail: Trail) -> None:
    findings = _findings(trail).filter(pl.col("severity") != "low")
    assert findings.height == 0, findings.select("detector", "severity", "summary").rows()


def test_same_trail_same_findings() -> None:
    for trail in TRAILS:
        assert_frame_equal(_findings(trail), _findings(trail))


def test_login_names_fold_case_blanks_and_lookalike_letters() -> None:
    names = pl.Series(["Alice@X.com", " alice@x.com\u200b", "\u0430lic\u0435@x.com", "ALİCE"])
    got = pl.select(login_name(pl.lit(names))).to_series().to_list()
    assert got[:3] == ["alice@x.com"] * 3


def test_ipv6_network_of_compressed_addresses() -> None:
    ips = pl.Series(
        ["2001:db8::1", "2001:db8::5:1", "2001:db8:0:0:1::", "::1", "fe80::1", "10.1.2.3"]
    )
    got = pl.select(network(pl.lit(ips))).to_series().to_list()
    assert got == [
        "2001:db8:0:0::/64",
        "2001:db8:0:0::/64",
        "2001:db8:0:0::/64",
        "0:0:0:0::/64",
        "fe80:0:0:0::/64",
        "10.1.2.0/24",
    ]


def test_spraying_names_the_network_and_cites_every_attempt() -> None:
    trail = next(t for t in TRAILS if t.name == "spray from one IPv6 /64")
    events = events_to_frame(trail.build())
    found = run_detectors(events, names=["password_spraying"])
    assert found.height == 1 and found["severity"][0] == "high"
    assert "2001:db8:0:0::/64" in found["summary"][0]
    assert sorted(found["event_ids"][0]) == sorted(events["event_id"])
