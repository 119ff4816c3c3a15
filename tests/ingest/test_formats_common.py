"""Properties every real-format importer keeps, checked on every fixture file.

- every record maps and ``normalize_event`` accepts it;
- what detectors need is filled: actor id and type, action, occurred_at,
  outcome, and the source IP whenever the record has one;
- the original record is kept whole in ``metadata.original`` with the
  format and source event name beside it;
- ``event_id`` comes from the source's own id, and mapping is deterministic
  (re-ingesting is idempotent);
- each file is detected as its own format, which scores strictly higher than
  every other format, gzip or not; canonical files are claimed by none of them.
"""

from __future__ import annotations

import base64
import gzip
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.ingest._mapping import dig, ip_or_none, source_time
from auditkit.ingest._readers import read_head
from auditkit.ingest.formats.gcp import entry_id
from auditkit.ingest.registry import available_formats, detect_format
from auditkit.schema import normalize_event

from . import FIXTURES, MAPPED, TENANT_NEEDED, format_for, raw_records, source_fixtures
from . import events as load_events

ALL_FIXTURES = [*source_fixtures(), *(("mapped", FIXTURES / "mapped" / n) for n in MAPPED)]
IDS = [f"{name}/{path.name}" for name, path in ALL_FIXTURES]
MINE = ("cloudtrail", "gcp", "gitlab", "okta", "ocsf", "mapped")


def _cloudtrail_inner(rec: dict[str, Any]) -> dict[str, Any]:
    if isinstance(rec.get("CloudTrailEvent"), str):  # a lookup-events item
        return dict(orjson.loads(rec["CloudTrailEvent"]))
    for key in ("detail", "eventData"):
        if isinstance(rec.get(key), dict):
            return {**rec, **rec[key]}
    return rec


def _okta_inner(rec: dict[str, Any]) -> dict[str, Any]:
    """The LogEvent of an EventBridge (``detail``) or Splunk HEC (``event``) envelope."""
    for key in ("detail", "event"):
        if "eventType" not in rec and isinstance(rec.get(key), dict):
            return dict(rec[key])
    return rec


def _gcp_inner(rec: dict[str, Any]) -> dict[str, Any]:
    """The log entry of a Pub/Sub message (a pull's output, a push body)."""
    message = rec.get("message", rec)
    if "logName" not in rec and isinstance(message, dict) and "data" in message:
        return dict(orjson.loads(base64.b64decode(message["data"])))
    return rec


def source_ip(name: str, rec: dict[str, Any]) -> Any:
    """The IP written in a raw record, where the source has one."""
    if name == "cloudtrail":
        return _cloudtrail_inner(rec).get("sourceIPAddress")
    if name == "gcp":
        rec = _gcp_inner(rec)
        payload = "protoPayload" if "protoPayload" in rec else "protopayload_auditlog"
        return dig(rec, payload, "requestMetadata", "callerIp")
    if name == "gitlab":
        return rec.get("ip_address") or dig(rec, "details", "ip_address")
    if name == "okta":
        return dig(_okta_inner(rec), "client", "ipAddress")
    if name == "ocsf":
        return dig(rec, "src_endpoint", "ip")
    return rec.get("client_ip") or dig(rec, "net", "ip")


def source_id(name: str, rec: dict[str, Any]) -> str | None:
    """The source's own unique id of a raw record."""
    if name == "cloudtrail":
        return _cloudtrail_inner(rec).get("eventID")
    if name == "gcp":  # insertId with timestamp and logName (Cloud Logging's dedupe key)
        rec = _gcp_inner(rec)
        stamp = source_time(rec["timestamp"], "timestamp", utc_defined=True)
        return entry_id(rec.get("insertId"), stamp.precise, rec.get("logName"))
    if name == "gitlab":
        return f"gitlab:{rec['id']}"
    if name == "okta":
        return _okta_inner(rec).get("uuid")
    if name == "ocsf":
        return dig(rec, "metadata", "uid")
    if rec.get("id"):
        return f"billing:{rec['id']}"
    return rec.get("uuid")


@pytest.mark.parametrize(("name", "path"), ALL_FIXTURES, ids=IDS)
def test_every_record_maps_with_what_detectors_need(name: str, path: Path) -> None:
    fmt = format_for(name, path)
    records = raw_records(fmt, path)
    assert records, "fixture holds records"
    tenant = TENANT_NEEDED.get(name) or ("acme" if name == "mapped" else None)
    for rec in records:
        event = normalize_event(fmt.to_event(rec, tenant=tenant))
        assert event["actor"]["id"].strip()
        assert event["occurred_at"] and event["action"] and event["outcome"]
        if name != "mapped":
            assert event["actor"].get("type"), event["actor"]
        ip = ip_or_none(source_ip(name, rec))
        if ip is not None:
            assert event["source"]["ip"] == ip
        else:
            assert "ip" not in event.get("source", {})
        meta = event["metadata"]
        assert meta["source_format"] == name
        assert meta["source_action"]
        assert meta["original"] == orjson.loads(orjson.dumps(rec))
        sid = source_id(name, rec)
        if sid is not None:
            assert event["event_id"] == sid


@pytest.mark.parametrize(("name", "path"), ALL_FIXTURES, ids=IDS)
def test_mapping_is_deterministic_so_reingest_is_idempotent(name: str, path: Path) -> None:
    tenant = "acme" if name == "mapped" else None
    first = load_events(name, path, tenant=tenant)
    second = load_events(name, path, tenant=tenant)
    assert first == second
    assert len({e["event_id"] for e in first}) == len(first)


@pytest.mark.parametrize(("name", "path"), source_fixtures(), ids=IDS[: len(source_fixtures())])
def test_each_fixture_is_detected_as_its_own_format_gzip_or_not(
    name: str, path: Path, tmp_path: Path
) -> None:
    gz = tmp_path / (path.name + ".gz")
    with open(path, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    for candidate in (path, gz):
        head = read_head(str(candidate))
        scores = {n: f.sniff(head, str(candidate)) for n, f in available_formats().items()}
        others = max(s for n, s in scores.items() if n != name)
        assert scores[name] > others, scores
        assert all(scores[n] == 0 for n in MINE if n != name), scores
        assert detect_format(str(candidate)).name == name


def test_canonical_files_are_claimed_by_none_of_the_source_formats(
    tmp_path: Path, events: Any
) -> None:
    canonical = tmp_path / "events.ndjson"
    canonical.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events(5)))
    csv = tmp_path / "events.csv"
    csv.write_text("event_id,tenant_id,occurred_at,action,actor.id\n")
    formats = available_formats()
    for path, expected in ((canonical, "auditkit"), (csv, "csv")):
        head = read_head(str(path))
        assert all(formats[n].sniff(head, str(path)) == 0 for n in MINE)
        assert detect_format(str(path)).name == expected


@pytest.mark.parametrize("name", ["cloudtrail", "gcp", "gitlab", "okta", "ocsf"])
def test_exported_canonical_events_are_not_taken_for_their_source(
    name: str, tmp_path: Path
) -> None:
    # canonical events keep the source record in metadata.original: an export of them
    # holds the source's field names, and must still be read back as canonical events
    evs = [e for n, path in source_fixtures() if n == name for e in load_events(n, path)]
    export = tmp_path / "export.ndjson"
    export.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in evs))
    assert detect_format(str(export)).name == "auditkit"


def test_all_formats_are_registered_with_a_description() -> None:
    formats = available_formats()
    for name in MINE:
        assert formats[name].name == name
        assert formats[name].description
