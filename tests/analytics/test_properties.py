"""Properties of the windowed detectors on random small traffic (Hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.analytics.detectors.auth import (
    brute_force,
    brute_force_success,
    mfa_push_fatigue,
    password_spraying,
)
from auditkit.analytics.detectors.exfiltration import mass_deletion, mass_export
from auditkit.analytics.detectors.privilege import privilege_change_burst
from auditkit.frame import events_to_frame

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
KINDS = [
    ("user.login", "failure"),
    ("user.login", "failure"),
    ("user.login", "success"),
    ("mfa.challenge", "denied"),
    ("mfa.challenge", "success"),
    ("document.export", "success"),
    ("record.delete", "success"),
    ("role.grant", "success"),
]
DETECTORS = [
    lambda df: brute_force(df, threshold=3, window="10m"),
    lambda df: brute_force_success(df, min_failures=2, window="10m"),
    lambda df: password_spraying(df, min_actors=2, window="10m"),
    lambda df: mfa_push_fatigue(df, min_denials=2, window="10m"),
    lambda df: mass_export(df, threshold=3, window="10m"),
    lambda df: mass_deletion(df, threshold=3, window="10m"),
    lambda df: privilege_change_burst(df, threshold=3, window="10m"),
]

traffic = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2"]),
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from(["10.0.0.1", "10.0.0.2"]),
        st.integers(0, 90),
        st.sampled_from(KINDS),
    ),
    min_size=1,
    max_size=40,
)


def _frame(rows) -> pl.DataFrame:
    return events_to_frame(
        {
            "event_id": f"e{i}",
            "tenant_id": t,
            "occurred_at": T0 + timedelta(minutes=m),
            "action": action,
            "outcome": outcome,
            "actor": {"id": u},
            "source": {"ip": ip},
            "targets": [{"id": f"x{i % 4}", "type": "user"}],
        }
        for i, (t, u, ip, m, (action, outcome)) in enumerate(rows)
    )


def _ids(findings: pl.DataFrame) -> set[str]:
    return set(findings["finding_id"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traffic, st.randoms(use_true_random=False))
def test_windowed_findings_are_per_tenant_and_order_free(rows, rnd) -> None:
    df = _frame(rows)
    owner = dict(zip(df["event_id"], df["tenant_id"], strict=True))
    shuffled = df.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 2**31))
    for detect in DETECTORS:
        found = detect(df)
        # evidence belongs to the finding's tenant, and the span is the evidence's
        times = dict(zip(df["event_id"], df["occurred_at"], strict=True))
        for f in found.iter_rows(named=True):
            assert {owner[e] for e in f["event_ids"]} == {f["tenant_id"]}
            assert f["first_seen"] == min(times[e] for e in f["event_ids"])
            assert f["last_seen"] == max(times[e] for e in f["event_ids"])
        # each tenant alone gives the same findings; row order changes nothing
        alone = set().union(
            *(_ids(detect(df.filter(pl.col("tenant_id") == t))) for t in ("t1", "t2"))
        )
        assert _ids(found) == alone
        assert _ids(detect(shuffled)) == _ids(found)
