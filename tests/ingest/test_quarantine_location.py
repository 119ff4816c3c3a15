"""A quarantined record of a JSON array names its place once: ``ct.json line 1: file
ends inside this record; it is truncated (Records[6])``, not ``Records[6]: ...
(Records[6])`` (the reader put the place in the reason, and the quarantine added it
again)."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store


def _cloudtrail(n: int) -> list[dict[str, object]]:
    return [
        {
            "eventVersion": "1.08", "eventTime": f"2026-01-02T09:00:0{i}Z",
            "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
            "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/a",
                             "accountId": "123456789012", "userName": "a"},
            "eventID": f"id-{i}", "recipientAccountId": "123456789012",
            "eventType": "AwsConsoleSignIn",
        }
        for i in range(n)
    ]  # fmt: skip


def _problems(tmp_path: Path, name: str, data: bytes) -> list[tuple[str | None, str, str]]:
    src = tmp_path / name
    src.write_bytes(data)
    store = Store.init(str(tmp_path / f"{name}.db"))
    result = ingest_files(store, [str(src)])
    assert result.quarantined >= 1
    out = []
    for p in result.problems:
        line = f"{p.file} line {p.line}: {p.reason}"
        out.append((p.location, p.reason, line))
    return out


@pytest.mark.parametrize("gz", [False, True])
def test_a_cut_array_names_the_record_once(tmp_path: Path, gz: bool) -> None:
    text = orjson.dumps({"Records": _cloudtrail(7)})
    cut = text[: len(text) - 200]
    data = gzip.compress(text, compresslevel=0)[:-300] if gz else cut
    problems = _problems(tmp_path, "ct.json.gz" if gz else "ct.json", data)
    location, reason, _ = problems[-1]
    assert location is not None and location.startswith("Records[")
    assert reason.count(location) == 1, reason
    assert reason.endswith(f"({location})") and "truncated" in reason


def test_bad_items_name_their_place_once(tmp_path: Path) -> None:
    records = [orjson.dumps(r).decode() for r in _cloudtrail(3)]
    # a record that is not JSON, then one that is not an object
    body = "[" + ",".join([records[0], '{"eventVersion": nope}', "42", records[1]]) + "]"
    problems = _problems(tmp_path, "items.json", b'{"Records": ' + body.encode() + b"}")
    assert len(problems) == 2
    for location, reason, _ in problems:
        assert location is not None and reason.count(location) == 1, reason
