"""``resource_hijacking``: bursts of compute launches with two or more signs of
hijacking (a new region, GPU or very large types, an actor's first launches, many
launches); a company's own launches keep to its regions, sizes and launchers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from auditkit.analytics.detectors.compute import resource_hijacking
from auditkit.frame import events_to_frame

T0 = datetime(2026, 1, 1, 9, tzinfo=UTC)


def _ev(
    actor: str, action: str, at: timedelta, *, region: str = "eu-west-1", **kw: Any
) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "occurred_at": (T0 + at).isoformat(),
        "action": action,
        "actor": {"id": actor},
        "observer": {"service": "ec2.amazonaws.com", "region": region},
        **kw,
    }


def _history() -> list[dict[str, Any]]:
    """Three weeks: ops reading, the autoscaler launching a few m5.large a day."""
    rows = []
    for d in range(21):
        rows += [_ev("ops", "ec2_instances.describe", timedelta(days=d, hours=h)) for h in (0, 4)]
        rows += [
            _ev(
                "autoscaler",
                "ec2_instances.run",
                timedelta(days=d, hours=2, minutes=i),
                metadata={"instanceType": "m5.large"},
            )
            for i in range(3)
        ]
    return rows


def _launches(actor: str, n: int, *, region: str, kind: str, day: int = 22) -> list[dict]:
    return [
        _ev(
            actor,
            "ec2_instances.run",
            timedelta(days=day, hours=18, minutes=i),
            region=region,
            metadata={"instanceType": kind},
        )
        for i in range(n)
    ]


def _found(rows: list[dict[str, Any]]):
    return resource_hijacking(events_to_frame(rows))


def test_gpus_in_bulk_in_a_new_region_by_a_new_launcher_are_high() -> None:
    found = _found([*_history(), *_launches("ops", 8, region="ap-southeast-1", kind="p3.16xlarge")])
    assert found["severity"].to_list() == ["high"]
    summary = found["summary"][0]
    for sign in ("(ap-southeast-1)", "(p3.16xlarge)", "the first launches by 'ops'", "8 launches"):
        assert sign in summary


def test_two_signs_are_medium_one_is_nothing() -> None:
    history = _history()
    # the autoscaler's busy day in its usual region and sizes: many launches, one sign
    assert (
        _found([*history, *_launches("autoscaler", 30, region="eu-west-1", kind="m5.large")]).height
        == 0
    )
    # expanding to a new region with its usual sizes: one sign (the region)
    assert (
        _found([*history, *_launches("autoscaler", 3, region="us-east-2", kind="m5.large")]).height
        == 0
    )
    # a data scientist's first GPU instance, in the usual region: two signs, medium
    found = _found([*history, *_launches("ops", 1, region="eu-west-1", kind="g5.2xlarge")])
    assert found["severity"].to_list() == ["medium"]
    # refused launches stay medium whatever the signs
    refused = [
        {**e, "outcome": "denied"}
        for e in _launches("ops", 8, region="ap-southeast-1", kind="p3.16xlarge")
    ]
    found = _found([*history, *refused])
    assert found["severity"].to_list() == ["medium"]
    assert "tried to launch" in found["summary"][0]


def test_a_region_is_new_only_after_the_trail_began_long_enough_before() -> None:
    # the first week of the trail: every region is new, every launcher is first
    early = _launches("ops", 8, region="ap-southeast-1", kind="m5.large", day=0)
    assert _found(early).height == 0  # one sign left: many launches


def test_google_cloud_accelerators_and_other_verbs() -> None:
    rows = [
        *_history(),
        *(
            _ev(
                "ops",
                "compute_instances.insert",
                timedelta(days=22, hours=3, minutes=i),
                region="asia-east1",
                metadata={"original": {"protoPayload": {"request": {
                    "machineType": "zones/asia-east1-a/machineTypes/n1-standard-8",
                    "guestAccelerators": [{"acceleratorType": "nvidia-tesla-v100"}]}}}},
            )
            for i in range(2)
        ),
    ]  # fmt: skip
    found = _found(rows)
    assert found["severity"].to_list() == ["high"]  # new region, GPUs, first launches
    # restarting stopped instances is not new compute
    restart = [_ev("ops", "ec2_instances.start", timedelta(days=22, minutes=i)) for i in range(9)]
    assert _found([*_history(), *restart]).height == 0
