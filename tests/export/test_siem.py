"""The SIEM export formats (CEF, LEEF, OCSF, ECS, syslog, Splunk HEC): golden files on
hostile values, a parser for each that gets every value back, OCSF schema validation,
and the OCSF round trip through ``auditkit ingest``."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import chain, islice
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit.export import available_export_formats, export_frame, format_for_path
from auditkit.export.cef import cef_records, leef_records
from auditkit.export.ecs import ecs_records, hec_records
from auditkit.export.formats import frame_to_events
from auditkit.export.ocsf import OCSF_VERSION, ocsf_records
from auditkit.export.syslog import SD_ID, syslog_records
from auditkit.frame import events_to_frame
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events
from tests.export.test_formats import TRICKY, _sorted_meta, _without_store_fields

SIEM = ("cef", "leef", "ocsf", "ecs", "syslog", "hec")
LONG = "x|=\\" * 2500  # 10,000 characters of separators

HOSTILE: list[dict[str, Any]] = [
    *TRICKY,
    {
        "event_id": "h|1=\\", "tenant_id": "ten|ant=1\\", "occurred_at": "2026-02-01T10:00:00.5Z",
        "action": "settings.update", "outcome": "error",
        "actor": {"id": "a|b=c\\d]e\"f", "type": "service", "name": "line1\nline2\r\nline3",
                  "email": "not an email", "roles": ["r|1", "r=2", "r\\3"]},
        "targets": [{"id": "team-1", "type": "team", "name": "Ops ]["}],
        "source": {"ip": "192.0.2.7", "user_agent": "Mozilla/5.0 (X11) \"quoted\" \t tab"},
        "observer": {"service": "web app ✓", "version": "1|2", "region": "eu=west"},
        "request_id": "req\x1b[31m", "session_id": "sess\u202egnp",
        "description": LONG, "metadata": {"k|=": "v\n", "emoji": "🙂", "bidi": "\u202e"},
        "changes": {"before": {"a": "="}, "after": {"a": "|"}},
    },
    {
        "event_id": "h-2", "tenant_id": "acme", "occurred_at": "2026-02-01T10:00:01Z",
        "action": "team_member.add", "outcome": "failure",
        "actor": {"id": "u9", "email": "ann@example.com"},
        "targets": [{"id": "t1", "type": "team"}, {"id": "u10", "type": "user", "name": "Bo"}],
    },
    {
        "event_id": "h-3", "tenant_id": "acme", "occurred_at": "2026-02-01T10:00:02Z",
        "action": "job.run", "category": "system", "actor": {"id": "scheduler", "type": "system"},
    },
    {   # what other readers take for line breaks: written as visible \uXXXX (or JSON's)
        "event_id": "h-4\u2028", "tenant_id": "acme", "occurred_at": "2026-02-01T10:00:03Z",
        "action": "user.login",
        "actor": {"id": "a\u2028CEF:0|auditkit|auditkit|0.1.0|admin.x|forged|10|suser=root",
                  "name": "vt\x0bff\x0cfs\x1cgs\x1drs\x1enel\x85ps\u2029", "roles": ["r\u2028"]},
        "targets": [{"id": "t\x00\x7f\x9b", "type": "user", "name": "\\u2028 typed"}],
        "description": "NUL\x00 ESC\x1b[2K DEL\x7f CSI\x9b LS\u2028 PS\u2029",
        "metadata": {"k\u2028": "v\x85"},
    },
]  # fmt: skip


@pytest.fixture(scope="module")
def hostile() -> pl.DataFrame:
    return events_to_frame(HOSTILE)


def _events(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [e for chunk in frame_to_events(frame) for e in chunk]


# -- registry and files --------------------------------------------------------------------
def test_every_siem_format_is_registered_and_has_its_suffix() -> None:
    formats = available_export_formats()
    assert set(SIEM) <= set(formats)
    for name in SIEM:
        assert format_for_path(f"out{formats[name].suffix}").name == name
        assert formats[name].encoder is not None
    assert format_for_path("x.ndjson").name == "ndjson"


def test_the_cli_help_lists_the_registered_formats() -> None:
    from auditkit.commands.export import _FORMATS

    assert set(_FORMATS.split(", ")) == set(available_export_formats())


@pytest.mark.parametrize("fmt", SIEM)
def test_golden_file_on_hostile_values(
    fmt: str, hostile: pl.DataFrame, tmp_path: Path, golden: Callable[[str, bytes], None]
) -> None:
    path = tmp_path / f"hostile{available_export_formats()[fmt].suffix}"
    result = export_frame(hostile, path, format=fmt)
    data = path.read_bytes()
    assert result.rows == len(HOSTILE) == data.count(b"\n")
    data.decode("utf-8")
    golden(f"hostile.{fmt}", data)


# -- CEF -----------------------------------------------------------------------------------
_CEF_UNESCAPE = {"\\": "\\", "=": "=", "n": "\n", "r": "\r", "|": "|"}
# every line format writes the other control characters, U+2028 and U+2029 as \uXXXX
_ESCAPE = r"\\(u[0-9a-f]{4}|.)"


def _char(m: re.Match[str], table: dict[str, str], unknown: str = "\\") -> str:
    code = m.group(1)
    if len(code) == 5:
        return chr(int(code[1:], 16))
    return table.get(code, unknown + code)


def _unescape(text: str) -> str:
    return re.sub(_ESCAPE, lambda m: _char(m, _CEF_UNESCAPE), text)


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """A CEF line's header fields and extension, unescaped (a strict reading)."""
    fields, cur, i = [], "", 0
    while len(fields) < 7:
        ch = line[i]
        if ch == "\\":
            cur += line[i : i + 2]
            i += 2
        elif ch == "|":
            fields.append(_unescape(cur))
            cur, i = "", i + 1
        else:
            cur += ch
            i += 1
    ext = line[i:]
    # a key starts the extension or follows a space, and ends at an unescaped '='
    starts = [
        m for m in re.finditer(r"(?:^| )([A-Za-z0-9]+)=", ext) if not _escaped(ext, m.end() - 1)
    ]
    pairs = {}
    for j, m in enumerate(starts):
        end = starts[j + 1].start() if j + 1 < len(starts) else len(ext)
        pairs[m.group(1)] = _unescape(ext[m.end() : end])
    return fields, pairs


def _escaped(text: str, pos: int) -> bool:
    n = 0
    while pos - n - 1 >= 0 and text[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def test_cef_gives_every_value_back(hostile: pl.DataFrame) -> None:
    for line, e in zip(cef_records(hostile), _events(hostile), strict=True):
        text = line.decode()
        assert "\n" not in text and "\r" not in text
        header, ext = parse_cef(text)
        assert header[0] == "CEF:0" and header[4] == e["action"]
        assert ext["externalId"] == e["event_id"]
        assert ext["cs1"] == e["tenant_id"] and ext["cs1Label"] == "tenant_id"
        assert ext["suid"] == e["actor"]["id"]
        assert ext["act"] == e["action"] and ext["outcome"] == e["outcome"]
        assert ext.get("msg") == e.get("description")
        assert ext.get("suser") == e["actor"].get("name")
        assert ext.get("flexString2") == e["actor"].get("email")
        if "metadata" in e:
            assert orjson.loads(ext["cs6"]) == e["metadata"]
        if "targets" in e:
            assert orjson.loads(ext["cs2"]) == e["targets"]
        assert int(ext["cn1"]) == e["seq"]
        ip = e.get("source", {}).get("ip")
        assert ext.get("c6a2" if ip and ":" in ip else "src") == ip


# -- LEEF ----------------------------------------------------------------------------------
def parse_leef(line: str) -> tuple[list[str], dict[str, str]]:
    head, _, attrs = line.partition("|x09|")
    fields = head.split("|")
    out = {}
    for pair in attrs.split("\t"):
        key, _, value = pair.partition("=")
        out[key] = re.sub(_ESCAPE, lambda m: _char(m, {"t": "\t", "n": "\n", "r": "\r"}, ""), value)
    return fields, out


def test_leef_gives_every_value_back(hostile: pl.DataFrame) -> None:
    for line, e in zip(leef_records(hostile), _events(hostile), strict=True):
        fields, attrs = parse_leef(line.decode())
        assert fields[:4] == ["LEEF:2.0", "auditkit", "auditkit", fields[3]]
        assert fields[4] == e["action"]
        assert attrs["eventId"] == e["event_id"] and attrs["realm"] == e["tenant_id"]
        assert attrs["usrName"] == e["actor"]["id"]
        assert attrs.get("description") == e.get("description")
        assert attrs.get("actorName") == e["actor"].get("name")
        assert 1 <= int(attrs["sev"]) <= 10
        if "changes" in e:
            assert orjson.loads(attrs["changes"]) == e["changes"]


# -- syslog --------------------------------------------------------------------------------
_SYSLOG = re.compile(
    r"^<(\d{1,3})>1 (\S+) ([\x21-\x7e]{1,255}) auditkit - ([\x21-\x7e]{1,32}) "
    r"\[(\S+) ((?:[a-z_]+=\"(?:[^\"\\\]]|\\.)*\" ?)+)\] \ufeff(.*)$"
)


def test_syslog_lines_are_rfc5424_and_carry_the_event(hostile: pl.DataFrame) -> None:
    for line, e in zip(syslog_records(hostile), _events(hostile), strict=True):
        m = _SYSLOG.match(line.decode())
        assert m, line[:200]
        pri, ts, _host, msgid, sd_id, params, msg = m.groups()
        assert int(pri) // 8 == 13 and ts == e["occurred_at"] and msgid == e["action"]
        assert sd_id == SD_ID
        sd = {
            k: re.sub(_ESCAPE, lambda x: _char(x, {"n": "\n", "r": "\r"}, ""), v)
            for k, v in re.findall(r'([a-z_]+)="((?:[^"\\\]]|\\.)*)"', params)
        }
        assert sd["tenant_id"] == e["tenant_id"] and sd["event_id"] == e["event_id"]
        assert sd["actor_id"] == e["actor"]["id"]
        assert orjson.loads(msg) == e
    assert int(_SYSLOG.match(syslog_records(hostile)[3].decode()).group(1)) == 104 + 3  # type: ignore[union-attr]


# -- ECS and HEC ---------------------------------------------------------------------------
def test_ecs_documents(hostile: pl.DataFrame) -> None:
    docs = [orjson.loads(r) for r in ecs_records(hostile)]
    for doc, e in zip(docs, _events(hostile), strict=True):
        assert doc["@timestamp"] == e["occurred_at"] and doc["event"]["id"] == e["event_id"]
        assert doc["organization"]["id"] == e["tenant_id"] and doc["user"]["id"] == e["actor"]["id"]
        assert doc["event"]["outcome"] in ("success", "failure", "unknown")
        assert doc["auditkit"]["outcome"] == e["outcome"]
        assert doc["ecs"]["version"].startswith("8.")
    assert docs[0]["source"]["geo"]["location"] == {"lat": -41.29, "lon": 174.78}
    assert docs[1]["event"]["category"] == ["authentication"]
    assert docs[2]["event"]["category"] == ["iam"]


def test_hec_events_carry_the_canonical_event(hostile: pl.DataFrame) -> None:
    for line, e in zip(hec_records(hostile), _events(hostile), strict=True):
        doc = orjson.loads(line)
        assert doc["event"] == e and doc["sourcetype"] == "auditkit:event"
        assert doc["fields"]["tenant_id"] == e["tenant_id"]
        assert (
            abs(
                doc["time"]
                - pl.Series([e["occurred_at"]]).str.to_datetime().dt.epoch("us")[0] / 1e6
            )
            < 1e-6
        )


# -- OCSF ----------------------------------------------------------------------------------
def _sample(n: int) -> list[dict[str, Any]]:
    from auditkit.sample import iter_events

    return list(islice(chain.from_iterable(iter_events(days=10, events=n)), n))


def test_ocsf_validates_against_the_ocsf_schema(hostile: pl.DataFrame) -> None:
    schema_lib = pytest.importorskip("ocsf_json_schema")
    jsonschema = pytest.importorskip("jsonschema")
    ocsf = schema_lib.OcsfJsonSchemaEmbedded(schema_lib.get_ocsf_schema(version=OCSF_VERSION))
    validators: dict[int, Any] = {}
    frame = pl.concat([hostile, events_to_frame(_sample(1500))], how="vertical_relaxed")
    classes = set()
    for record in ocsf_records(frame):
        event = orjson.loads(record)
        uid = event["class_uid"]
        classes.add(uid)
        if uid not in validators:
            name = ocsf.lookup_class_name_from_uid(class_uid=uid)
            validators[uid] = jsonschema.Draft202012Validator(
                ocsf.get_class_schema(class_name=name, profiles=event["metadata"]["profiles"])
            )
        errors = [e.message[:200] for e in validators[uid].iter_errors(event)]
        assert not errors, (event["metadata"]["uid"], errors)
    assert {3001, 3002, 3004, 3005, 3006, 6001} <= classes


def test_ocsf_schema_check_is_not_vacuous() -> None:
    schema_lib = pytest.importorskip("ocsf_json_schema")
    jsonschema = pytest.importorskip("jsonschema")
    ocsf = schema_lib.OcsfJsonSchemaEmbedded(schema_lib.get_ocsf_schema(version=OCSF_VERSION))
    validator = jsonschema.Draft202012Validator(
        ocsf.get_class_schema(class_name="authentication", profiles=["host"])
    )
    event = orjson.loads(ocsf_records(events_to_frame(TRICKY[1:2]))[0])
    assert not list(validator.iter_errors(event))
    for broken in ({**event, "severity_id": "high"}, {**event, "user": {}},
                   {k: v for k, v in event.items() if k != "time"}):  # fmt: skip
        assert list(validator.iter_errors(broken))


def test_ocsf_maps_core_actions_to_classes(hostile: pl.DataFrame) -> None:
    got = {
        e["metadata"]["uid"]: (e["class_uid"], e["activity_id"], e["status_id"], e["severity_id"])
        for e in map(orjson.loads, ocsf_records(hostile))
    }
    assert got["t-1"] == (6001, 7, 2, 4)  # document.export, denied
    assert got["t-2"] == (3002, 1, 1, 1)  # user.login
    assert got["t-3"] == (3005, 1, 1, 2)  # role.grant (admin)
    assert got["h-2"][:2] == (3006, 3)  # team_member.add
    assert got["h-3"][:2] == (3004, 99)  # job.run


def test_ocsf_export_round_trips_through_ingest(tmp_path: Path) -> None:
    events = make_events(30) + make_events(8, "globex") + HOSTILE + _sample(400)
    store = Store.init(str(tmp_path / "a.db"))
    store.append(events)
    frame = store.load()
    path = tmp_path / "out.ocsf.ndjson"
    export_frame(frame, path)
    again = Store.init(str(tmp_path / "b.db"))
    result = ingest_files(again, [path], format="ocsf")
    assert result.quarantined == 0, result.problems
    assert_frame_equal(
        _without_store_fields(again.load()),
        _sorted_meta(frame).drop("seq", "received_at").sort("event_id"),
    )
    # and by sniffing the format
    third = Store.init(str(tmp_path / "c.db"))
    assert ingest_files(third, [path]).stored == frame.height


def test_empty_frames(tmp_path: Path) -> None:
    empty = events_to_frame(TRICKY).clear()
    for fmt in SIEM:
        path = tmp_path / f"e{available_export_formats()[fmt].suffix}"
        assert export_frame(empty, path, format=fmt).rows == 0
        assert path.read_bytes() == b""


@pytest.mark.parametrize("fmt", SIEM)
def test_explorer_has_a_button_per_siem_format(fmt: str, tmp_path: Path) -> None:
    from auditkit.widgets import Explorer

    frame = events_to_frame(HOSTILE)
    explorer = Explorer(frame, export_dir=tmp_path)
    explorer.export_name.value = "siem"
    explorer.export_buttons[fmt].click()
    path = tmp_path / f"siem{available_export_formats()[fmt].suffix}"
    assert path.read_bytes().count(b"\n") == frame.height
    assert explorer.last_export is not None and explorer.last_export.format == fmt


def test_column_wise_ocsf_equals_the_per_event_mapping(hostile: pl.DataFrame) -> None:
    from auditkit.export._json import json_line_safe_bytes
    from auditkit.export.ocsf import ocsf_event

    frame = pl.concat([hostile, events_to_frame(_sample(2000))], how="vertical_relaxed")
    fast = ocsf_records(frame)
    # (line breaks that JSON may hold raw, as JSON escapes: one line for every reader)
    reference = [json_line_safe_bytes(orjson.dumps(ocsf_event(e))) for e in _events(frame)]
    assert fast == reference


def test_column_wise_canonical_records_equal_the_per_event_ones(hostile: pl.DataFrame) -> None:
    from auditkit.export.formats import canonical_records, canonical_records_reference

    frame = pl.concat([hostile, events_to_frame(_sample(2000))], how="vertical_relaxed")
    assert canonical_records(frame) == canonical_records_reference(frame)
    bare = frame.drop("seq", "received_at")
    assert canonical_records(bare) == canonical_records_reference(bare)


def test_column_wise_ecs_equals_the_per_event_mapping(hostile: pl.DataFrame) -> None:
    from auditkit.export.ecs import ecs_records_reference

    frame = pl.concat([hostile, events_to_frame(_sample(2000))], how="vertical_relaxed")
    assert ecs_records(frame) == ecs_records_reference(frame)
    # without the store's own fields (an export with store_fields=False)
    bare = frame.drop("seq", "received_at")
    assert ecs_records(bare) == ecs_records_reference(bare)
