"""Shortcuts in the mapping helpers and the CloudTrail mapper give the general results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from auditkit import schema
from auditkit.errors import SchemaError
from auditkit.ingest._mapping import ip_or_none, timestamp
from auditkit.ingest.registry import get_format

from . import FIXTURES


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-04T09:12:44Z", "2024-03-04T09:12:44.000000Z"),
        ("2024-03-04T09:12:44.5Z", "2024-03-04T09:12:44.500000Z"),
        ("2024-03-04T09:12:44.123456Z", "2024-03-04T09:12:44.123456Z"),
        ("2024-03-04T09:12:44.1234567Z", "2024-03-04T09:12:44.123456Z"),  # general path
        ("2024-03-04T09:12:44z", "2024-03-04T09:12:44.000000Z"),
        ("1990-01-01T00:00:00Z", "1990-01-01T00:00:00.000000Z"),
    ],
)
def test_zulu_timestamps(value: str, expected: str) -> None:
    assert timestamp(value, "eventTime") == expected


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-29T00:00:00Z",
        "1989-12-31T23:59:59Z",
        "2024-01-01T00:00:60Z",
        "２０２４-01-01T00:00:00Z",
    ],
)
def test_zulu_timestamps_refused_name_the_value(value: str) -> None:
    with pytest.raises(SchemaError, match="eventTime") as err:
        timestamp(value, "eventTime")
    assert repr(value) in str(err.value)


def test_zulu_timestamp_after_tomorrow_is_refused() -> None:
    late = (datetime.now(UTC) + timedelta(days=1, minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SchemaError, match="out of range"):
        timestamp(late, "eventTime")
    soon = (datetime.now(UTC) + timedelta(hours=23)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert timestamp(soon, "eventTime") == soon[:-1] + ".000000Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ec2.amazonaws.com", None),
        ("AWS Internal", None),
        ("01.2.3.4", None),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("[2001:DB8::1]:443", "2001:db8::1"),
    ],
)
def test_ip_or_none(value: str, expected: str | None) -> None:
    assert ip_or_none(value) == expected


def test_cloudtrail_events_are_in_normal_form() -> None:
    """Mapped CloudTrail events need no rewriting by normalize_event (its fast path takes them)."""
    fmt = get_format("cloudtrail")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    mapped = 0
    for path in sorted((FIXTURES / "cloudtrail").iterdir()):
        for rec in fmt.records(str(path)):
            if rec.value is None:
                continue
            event = fmt.to_event(rec.value, tenant="t")
            fast = schema._fast_normalize(event, now)
            assert fast is not None, (path.name, rec.location)
            assert fast == schema._full_normalize(event, now)
            mapped += 1
    assert mapped > 20
