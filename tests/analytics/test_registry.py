"""The detector registry, run_detectors and the findings contract."""

from __future__ import annotations

import inspect
from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit.analytics.detectors import (
    FINDINGS_SCHEMA,
    SEVERITIES,
    available_detectors,
    get_detector,
    register_detector,
    run_detectors,
)
from auditkit.analytics.detectors.registry import _DETECTORS
from auditkit.errors import UsageError
from auditkit.schema import FRAME_SCHEMA

ISSUE_DETECTORS = {
    "admin_grant_from_new_network",
    "source_flagged",
    "brute_force",
    "brute_force_success",
    "password_spraying",
    "impossible_travel",
    "new_country",
    "self_privilege_grant",
    "admin_without_role",
    "privilege_change_burst",
    "mfa_disabled",
    "mfa_push_fatigue",
    "suspicious_api_key",
    "audit_tampering",
    "mass_export",
    "mass_deletion",
    "dormant_account",
    "break_glass",
    "logging_gap",
    "volume_spike",
    "rare_action",
    "unusual_session",
    # issue 18: attacks that go slow, spread out or chain quiet steps
    "slow_credential_attack",
    "cross_tenant_campaign",
    "session_hijack",
    "session_after_end",
    "side_door_privilege",
    "dormant_takeover",
    "new_key_exfiltration",
    "mfa_fatigue_takeover",
    "recovery_takeover",
    # an admin role granted, used and revoked within the hour
    "transient_privilege",
    # collection through object reads, measured against the actor's own past
    "bulk_read",
    # an organisation-wide protection (MFA, SSO, allowlist, password policy) relaxed
    "security_control_weakened",
    # a resource opened to everybody (visibility, sharing, a policy or ACL for all)
    "public_exposure",
    # a stolen key mapping its permissions: many new actions refused in one burst
    "permission_probing",
    # a firewall or security group rule letting any address reach a port
    "network_exposure",
    # a grant to an AWS account or a Google identity outside the tenant's own
    "external_access",
    # many secrets read for the first time in one sitting
    "secrets_harvesting",
    # GPU or large instances in bulk, in a new region, by a new launcher
    "resource_hijacking",
    # an account created, made an admin and given a key within the hour
    "backdoor_account",
    # encryption keys scheduled for deletion, destroyed or disabled
    "key_destruction",
    # an actor's first time acting as another user
    "impersonation",
    # commands, shells or SSH keys pushed onto machines, first or wider than ever
    "remote_execution",
    "code_tampering",
    "model_abuse",
    "ransom_encryption",
    "identity_pivot",
    "reconnaissance",
    # a password alone for an account that always signed in with MFA
    "login_without_mfa",
}
STATISTICAL = {"volume_spike", "rare_action", "unusual_session"}


def test_every_detector_of_the_issue_is_registered_with_its_kind() -> None:
    detectors = available_detectors()
    assert set(detectors) == ISSUE_DETECTORS
    assert list(detectors) == sorted(detectors)
    for name, d in detectors.items():
        assert d.name == name
        assert d.kind == ("statistical" if name in STATISTICAL else "rule")
        assert d.severity in SEVERITIES
        assert d.title and d.description.endswith(".")


def test_thresholds_are_keyword_only_with_defaults() -> None:
    for d in available_detectors().values():
        params = list(inspect.signature(d.fn).parameters.values())
        assert params[0].name == "events"
        for p in params[1:]:
            assert p.kind is inspect.Parameter.KEYWORD_ONLY, (d.name, p.name)
            assert p.default is not inspect.Parameter.empty, (d.name, p.name)


def test_every_detector_returns_the_findings_schema_on_an_empty_frame() -> None:
    empty = pl.DataFrame(schema=FRAME_SCHEMA)
    for d in available_detectors().values():
        out = d(empty)
        assert out.schema == FINDINGS_SCHEMA, d.name
        assert out.height == 0


def test_run_detectors_on_the_scenario(scenario, scenario_findings) -> None:
    f = scenario_findings
    assert f.schema == FINDINGS_SCHEMA
    assert f.height > 0
    assert set(f["severity"].unique()) <= set(SEVERITIES)
    assert f["finding_id"].str.contains(r"^[0-9a-f]{16}$").all()
    assert f["finding_id"].n_unique() == f.height
    assert (f["first_seen"] <= f["last_seen"]).all()
    assert f["summary"].str.ends_with(".").all()
    statistical = pl.col("detector").is_in(list(STATISTICAL))
    assert f.filter(statistical)["score"].is_not_null().all()
    assert f.filter(~statistical)["score"].is_null().all()
    rank = f["severity"].replace_strict({s: i for i, s in enumerate(SEVERITIES)})
    assert (rank.diff().drop_nulls() <= 0).all()  # most severe first


def test_findings_never_mix_tenants(scenario, scenario_findings) -> None:
    owner = scenario.events.select("event_id", pl.col("tenant_id").alias("owner"))
    cited = (
        scenario_findings.select("finding_id", "tenant_id", pl.col("event_ids").alias("event_id"))
        .explode("event_id")
        .drop_nulls("event_id")
        .join(owner, on="event_id", how="left")
    )
    assert cited["owner"].null_count() == 0
    assert (cited["owner"] == cited["tenant_id"]).all()


def test_each_tenant_alone_gives_the_same_findings(scenario, scenario_findings) -> None:
    """Baselines, models and windows are per tenant: other tenants change nothing.

    Except by design for ``cross_tenant_campaign``: the operator's correlation across
    tenants (``tests/analytics/test_adversarial.py`` checks it reveals nothing of them).
    """
    per_tenant = pl.concat(
        run_detectors(scenario.events.filter(pl.col("tenant_id") == t))
        for t in scenario.events["tenant_id"].unique().sort()
    )
    key = ["detector", "finding_id"]
    together = scenario_findings.filter(pl.col("detector") != "cross_tenant_campaign")
    assert_frame_equal(per_tenant.sort(key), together.sort(key), check_exact=False, rel_tol=1e-9)


def test_finding_ids_are_deterministic_and_lazy_input_gives_the_same(scenario) -> None:
    names = ["brute_force", "volume_spike", "logging_gap"]
    eager = run_detectors(scenario.events, names=names)
    lazy = run_detectors(scenario.events.lazy(), names=names)
    assert_frame_equal(eager, lazy)
    assert eager.height > 0


def test_names_since_and_errors(scenario, scenario_findings) -> None:
    only = run_detectors(scenario.events, names=["mass_export", "mass_export"])
    assert set(only["detector"]) == {"mass_export"}
    since = scenario_findings["last_seen"].median()
    later = run_detectors(scenario.events, since=since)
    assert later.height == scenario_findings.filter(pl.col("last_seen") >= since).height
    assert (later["last_seen"] >= since).all()
    with pytest.raises(UsageError, match=r"unknown detector\(s\) \['nope'\]"):
        run_detectors(scenario.events, names=["nope"])
    known = "known: admin_grant_from_new_network, admin_without_role"
    with pytest.raises(UsageError, match=f"unknown detector 'nope'; {known}"):
        get_detector("nope")


def test_register_detector_rejects_duplicates_and_bad_severity() -> None:
    with pytest.raises(UsageError, match="expected severity"):
        register_detector("x_bad", title="x", severity="urgent")

    @register_detector("x_tmp", title="Temporary", severity="low")
    def first(events):  # type: ignore[no-untyped-def]
        """First."""
        return pl.DataFrame(schema=FINDINGS_SCHEMA)

    try:
        with pytest.raises(UsageError, match="registered twice"):

            @register_detector("x_tmp", title="Temporary", severity="low")
            def second(events):  # type: ignore[no-untyped-def]
                """Second."""
                return pl.DataFrame(schema=FINDINGS_SCHEMA)

        assert get_detector("x_tmp").description == "First."
    finally:
        _DETECTORS.unregister("x_tmp")


def test_thresholds_are_validated(event, frame) -> None:
    df = frame([event("user.login")])
    with pytest.raises(UsageError, match="window: expected a duration"):
        get_detector("brute_force")(df, window="soon")
    with pytest.raises(UsageError, match="threshold: expected a positive number"):
        get_detector("brute_force")(df, threshold=0)
    with pytest.raises(UsageError, match="min_gap: expected at least 1h"):
        get_detector("logging_gap")(df, min_gap="10m")
    assert get_detector("brute_force")(df, window=timedelta(minutes=5)).height == 0


def test_summaries_quote_actors_and_name_times(scenario_findings) -> None:
    with_actor = scenario_findings.filter(pl.col("actor_id").is_not_null())
    for row in with_actor.head(50).iter_rows(named=True):
        assert f"'{row['actor_id']}'" in row["summary"], row
    assert scenario_findings["summary"].str.contains(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC").all()


def test_detectors_run_two_at_a_time_and_errors_reach_the_caller(event, frame) -> None:
    import threading

    df = frame([event("user.login")])
    both = threading.Barrier(2, timeout=10)  # passes only when the two wait together

    @register_detector("x_left", title="Left", severity="low")
    def left(events):  # type: ignore[no-untyped-def]
        """Left."""
        both.wait()
        return pl.DataFrame(schema=FINDINGS_SCHEMA)

    @register_detector("x_right", title="Right", severity="low")
    def right(events):  # type: ignore[no-untyped-def]
        """Right."""
        both.wait()
        return pl.DataFrame(schema=FINDINGS_SCHEMA)

    @register_detector("x_broken", title="Broken", severity="low")
    def broken(events):  # type: ignore[no-untyped-def]
        """Broken."""
        raise ValueError("detector bug")

    try:
        ticks: list[float] = []
        found = run_detectors(df, names=["x_left", "x_right", "brute_force"], progress=ticks.append)
        assert found.height == 0 and ticks == [1, 1, 1]
        lazy = run_detectors(df.lazy(), names=["x_left", "x_right"])  # over batches too
        assert lazy.height == 0
        with pytest.raises(ValueError, match="detector bug"):
            run_detectors(df, names=["brute_force", "x_broken", "audit_tampering"])
    finally:
        for name in ("x_left", "x_right", "x_broken"):
            _DETECTORS.unregister(name)


def test_a_polars_panic_is_an_error_naming_the_detector(event, frame) -> None:
    """A panic inside Polars is a BaseException that no ``except Exception`` catches: the
    command line would end in a Rust message and a traceback.  It becomes an error that
    names the detector, which the command line prints in one line (exit 2)."""
    from auditkit.errors import DetectorError

    @register_detector("x_panics", title="Panics", severity="low")
    def panics(events):  # type: ignore[no-untyped-def]
        """Panics."""
        raise pl.exceptions.PanicException("assertion failed: i < self.len()")

    try:
        df = frame([event("user.login")])
        with pytest.raises(DetectorError, match=r"detector 'x_panics' stopped on an internal "
                           r"error of Polars \(assertion failed: i < self.len\(\)\)"):  # fmt: skip
            run_detectors(df, names=["brute_force", "x_panics"])
        with pytest.raises(DetectorError, match="x_panics"):
            run_detectors(df.lazy(), names=["x_panics"])  # over batches of tenants too
    finally:
        _DETECTORS.unregister("x_panics")
