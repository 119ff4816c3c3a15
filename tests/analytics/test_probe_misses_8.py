"""A red-team probe's eighth round, split and slow collections, each record read through
CloudTrail's reader: a bucket pulled object by object by four taken-over accounts from
one VPS network, each under its own hourly and daily thresholds, and one account's
collection spread over a week from a new network, each day under the day's threshold;
and their look-alikes (the office moving to a new network, a team at an offsite reading
from a hotel's network, a pipeline moved to new runners)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditkit.analytics.detectors import run_detectors
from tests.analytics._producers import cloudtrail, read_as
from tests.analytics._producers_3 import BOTO, CLI, OFFICE, at, habits
from tests.analytics._verdicts import highs, worst

USERS = ["dev-ann", "dev-bob", "dev-cat", "dev-dan", "dev-eve"]
VPS = "45.76.130"


def _get(day: float, hour: float, user: str, ip: str, key: str, *, bucket: str = "acme-data",
         agent: str = CLI) -> dict[str, Any]:  # fmt: skip
    """A ``GetObject`` data event as CloudTrail writes it: the bucket in the request, the
    object in ``resources``."""
    record = cloudtrail("GetObject", at(day, hour), user=user, ip=ip, source="s3.amazonaws.com",
                        userAgent=agent, readOnly=True, request={"bucketName": bucket, "key": key},
                        resources=[{"type": "AWS::S3::Object",
                                    "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                                   {"type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}],
                        eventCategory="Data", managementEvent=False)  # fmt: skip
    record["eventID"] += f"-{key}-{ip}"
    return record


def _office(days: int = 21, per_day: int = 20) -> list[dict[str, Any]]:
    """Three weeks of five developers' working days at the office: their usual listings
    and ``per_day`` objects each."""
    out = []
    for user in USERS:
        out += habits(user, days)
        for day in range(days):
            if day % 7 < 5:
                out += [_get(day, 10 + k / 30, user, OFFICE, f"{user}/{day}/{k}")
                        for k in range(per_day)]  # fmt: skip
    return out


def _split(accounts: int = 4, each: int = 150, ip: str = VPS, agent: str = BOTO,
           day: float = 22, start: float = 1) -> list[dict[str, Any]]:  # fmt: skip
    """``accounts`` accounts reading ``each`` objects of the finance bucket in turn, from
    addresses of one network: each under ``bulk_read``'s 200 an hour."""
    return [_get(day, start + i * 0.25 + k / 600, user, f"{ip}.{10 + i}", f"f/{user}/{k}",
                 bucket="acme-finance", agent=agent)
            for i, user in enumerate(USERS[:accounts]) for k in range(each)]  # fmt: skip


def test_collection_split_across_accounts_from_one_new_network(tmp_path: Path) -> None:
    """Four taken-over accounts read 150 objects each within the hour from one VPS
    network, with a client none of them used: each is under its own thresholds; together,
    from a network the tenant never used, six hundred objects are high, one finding of
    the tenant's naming the four."""
    events = read_as("cloudtrail", [*_office(), *_split()], tmp_path)
    found = run_detectors(events, names=["bulk_read"])
    assert found.height == 1 and worst(found) == "high", found["summary"].to_list()
    summary = found["summary"][0]
    assert "4 account(s)" in summary and "600 distinct item(s)" in summary
    assert "45.76.130.0/24" in summary and "with a client new to them" in summary
    assert found["actor_id"][0] is None and len(found["event_ids"][0]) == 600


def test_a_team_at_an_offsite_reading_from_the_hotel_is_not_high(tmp_path: Path) -> None:
    """The same volume from a hotel network with the team's own CLI: medium (the client
    gives nothing away), never high."""
    events = read_as("cloudtrail", [*_office(), *_split(ip="81.2.69", agent=CLI)], tmp_path)
    assert worst(run_detectors(events, names=["bulk_read"])) == "medium"
    assert highs(run_detectors(events)) == []


def test_the_office_moving_to_a_new_network_is_quiet(tmp_path: Path) -> None:
    """Everybody reads as much as every day, from the new office's network, for a week:
    no more than they read before, together or each."""
    moved = []
    for user in USERS:
        moved += habits(user, 7, ip="198.18.7.20")
        moved += [_get(21 + day, 10 + k / 30, user, "198.18.7.20", f"{user}/n{day}/{k}")
                  for day in range(7) if day % 7 < 5 for k in range(20)]  # fmt: skip
    events = read_as("cloudtrail", [*_office(), *moved], tmp_path)
    assert run_detectors(events, names=["bulk_read"]).height == 0


def test_collection_spread_over_a_week_from_a_new_network(tmp_path: Path) -> None:
    """One account reads 300 objects a night for a week (150 an hour: under 200 an hour
    and 1,000 a day; the same at 990 a night) from a VPS: 2,100 objects from a network
    new to the tenant, against a busiest week of 100, is high."""
    slow = [_get(21 + d, 1 + k / 150, "dev-bob", f"{VPS}.9", f"w/{d}/{k}", bucket="acme-finance",
                 agent=BOTO) for d in range(7) for k in range(300)]  # fmt: skip
    events = read_as("cloudtrail", [*_office(), *slow], tmp_path)
    found = run_detectors(events, names=["bulk_read"])
    assert found.height == 1 and worst(found) == "high", found["summary"].to_list()
    assert "2100 distinct item(s)" in found["summary"][0]
    assert "at most 20 in a day and 100 in a week before" in found["summary"][0]


def test_a_pipeline_moved_to_new_runners_is_quiet(tmp_path: Path) -> None:
    """A pipeline's user reading 300 objects every night from its runners, then from
    new runners' network for a week: as much as every week before."""

    def nightly(day: int, ip: str) -> list[dict[str, Any]]:
        return [_get(day, 2 + k / 600, "etl-runner", ip, f"etl/{day}/{k}", bucket="acme-lake",
                     agent=BOTO) for k in range(300)]  # fmt: skip

    records = [*_office()]
    for day in range(21):
        records += nightly(day, "34.120.44.7")
    for day in range(21, 28):
        records += nightly(day, "35.190.9.14")
    events = read_as("cloudtrail", records, tmp_path)
    assert highs(run_detectors(events, names=["bulk_read"])) == []
