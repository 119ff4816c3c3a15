"""One event, one line, for every reader: characters that some readers take for line
breaks or record ends (VT, FF, FS, GS, RS, NEL, U+2028, U+2029, NUL and the other C0
and C1 controls) are never written raw in a line format.

A reader that splits with Python's ``str.splitlines`` used to see an extra record,
written by whoever chose an actor id, in CEF, LEEF and syslog (and, for NEL, U+2028
and U+2029, in every line-delimited JSON format)."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.export import available_export_formats, export_frame, frame_to_events
from auditkit.frame import events_to_frame
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.export.test_siem import _ESCAPE, _SYSLOG, _char, parse_cef, parse_leef

LINE_FORMATS = ("cef", "leef", "syslog", "ndjson", "ecs", "ocsf", "hec")
JSON_FORMATS = ("ndjson", "ecs", "ocsf", "hec")
#: C0, DEL, C1, U+2028 and U+2029: never raw in a line format (tab: LEEF's delimiter)
CONTROLS = (
    *map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), "\u2028", "\u2029"
)  # fmt: skip
#: every character ``str.splitlines`` splits at
BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
FORGED = "a\u2028CEF:0|auditkit|auditkit|0.1.0|admin.x|forged|10|suser=root"

#: the frame's text columns, each set to hostile text by the property below
TEXT_COLUMNS = (
    "tenant_id", "event_id", "action", "category", "outcome", "actor_id", "actor_type",
    "actor_name", "actor_email", "user_agent", "geo_country", "geo_city", "observer_service",
    "observer_version", "observer_region", "request_id", "session_id", "description",
)  # fmt: skip

#: CEF keys that carry one text column each
CEF_TEXT = (
    ("suid", "actor_id"), ("suser", "actor_name"), ("msg", "description"),
    ("externalId", "event_id"), ("cs1", "tenant_id"), ("act", "action"),
    ("requestClientApplication", "user_agent"), ("cs4", "session_id"),
)  # fmt: skip

BASE: dict[str, Any] = {
    "event_id": "e1", "tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    "action": "user.login", "outcome": "failure",
    "actor": {"id": "u1", "type": "user", "name": "n", "email": "e", "roles": ["r"]},
    "targets": [{"id": "t1", "type": "user", "name": "tn"}],
    "source": {"ip": "192.0.2.1", "user_agent": "ua", "geo": {"country": "NZ", "city": "c"}},
    "observer": {"service": "s", "version": "v", "region": "r"},
    "request_id": "q", "session_id": "s", "description": "d",
    "changes": {"before": {"a": "b"}}, "metadata": {"k": "v"},
}  # fmt: skip

_SPECIALS = st.sampled_from(
    [*CONTROLS, "\\", "|", "=", "]", '"', " ", "\t", "\\u2028", "\\n", "\ufeff", "\u202e"]
)
hostile_text = st.lists(
    st.one_of(_SPECIALS, st.characters(exclude_categories=("Cs",))), min_size=1, max_size=12
).map("".join)


def _frame(texts: dict[str, str], extra: str) -> pl.DataFrame:
    """The base event with every text column (and a role, a target, metadata and
    changes) set to hostile text, as a store written before a check may hold it."""
    df = events_to_frame([BASE])
    target = pl.lit(
        pl.Series([[{"id": extra, "type": extra, "name": extra}]], dtype=df.schema["targets"])
    )
    return df.with_columns(
        *[pl.lit(texts[c]).alias(c) for c in TEXT_COLUMNS],
        actor_roles=pl.lit(pl.Series([[extra, "r"]], dtype=df.schema["actor_roles"])),
        targets=target,
        changes=pl.lit(orjson.dumps({"before": {extra: extra}}).decode()),
        metadata=pl.lit(orjson.dumps({"k": extra}).decode()),
    )


@functools.cache
def _plain(fmt: str) -> str:
    """The base event's line in ``fmt``: what a hostile one must look like."""
    return _lines(fmt, events_to_frame([BASE]))[0]


def _lines(fmt: str, frame: pl.DataFrame) -> list[str]:
    encoder = available_export_formats()[fmt].encoder
    assert encoder is not None
    return [r.decode() for r in encoder(frame)]


_HEADER_UNESCAPE = {"|": "|", "\\": "\\", "n": "\n", "r": "\r"}


def _parse_leef(line: str) -> tuple[list[str], dict[str, str]]:
    """LEEF's six header fields (escaped as CEF's), then the attributes."""
    fields, cur, i = [], "", 0
    while len(fields) < 6:
        ch = line[i]
        if ch == "\\":
            cur += line[i : i + 2]
            i += 2
        elif ch == "|":
            fields.append(re.sub(_ESCAPE, lambda m: _char(m, _HEADER_UNESCAPE), cur))
            cur, i = "", i + 1
        else:
            cur += ch
            i += 1
    return fields, parse_leef("|x09|" + line[i:])[1]


def _syslog_fields(line: str) -> tuple[tuple[str, ...], dict[str, str], Any]:
    m = _SYSLOG.match(line)
    assert m, line[:300]
    params = m.group(6)
    sd = {
        k: re.sub(_ESCAPE, lambda x: _char(x, {"n": "\n", "r": "\r"}, ""), v)
        for k, v in re.findall(r'([a-z_]+)="((?:[^"\\\]]|\\.)*)"', params)
    }
    # the whole SD element is made of its parameters: nothing left over
    assert re.sub(r'[a-z_]+="(?:[^"\\\]]|\\.)*" ?', "", params) == ""
    return m.groups()[:5], sd, orjson.loads(m.group(7))


@given(texts=st.fixed_dictionaries({c: hostile_text for c in TEXT_COLUMNS}), extra=hostile_text)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_event_is_one_line_and_parses_into_its_fields(
    texts: dict[str, str], extra: str
) -> None:
    frame = _frame(texts, extra)
    (event,) = [e for chunk in frame_to_events(frame) for e in chunk]
    lines = {fmt: _lines(fmt, frame)[0] for fmt in LINE_FORMATS}
    for fmt, line in lines.items():
        assert line.splitlines() == [line], (fmt, line)
        assert not set(line) & set(CONTROLS) - {"\t"}, fmt
        if fmt != "leef":
            assert "\t" not in line, fmt
    # CEF: the seven header fields and every extension key, each value given back
    cef = lines["cef"]
    header, ext = parse_cef(cef)
    _, plain_ext = parse_cef(_plain("cef"))
    assert len(header) == 7 and header[4] == texts["action"]
    assert header[5] == f"{texts['action']} {texts['outcome']}"
    assert set(ext) == set(plain_ext)
    for key, column in CEF_TEXT:
        assert ext[key] == texts[column], key
    assert orjson.loads(ext["cs6"]) == {"k": extra}
    assert orjson.loads(ext["cs2"]) == event["targets"]
    # LEEF: the header, and one attribute per tab
    leef = lines["leef"]
    fields, attrs = _parse_leef(leef)
    _, plain_attrs = _parse_leef(_plain("leef"))
    assert fields[4] == texts["action"] and fields[5] == "x09"
    assert leef.count("\t") == _plain("leef").count("\t")
    assert set(attrs) == set(plain_attrs)
    for key, column in (("usrName", "actor_id"), ("actorName", "actor_name"),
                        ("description", "description"), ("eventId", "event_id"),
                        ("realm", "tenant_id"), ("userAgent", "user_agent")):  # fmt: skip
        assert attrs[key] == texts[column], key
    assert orjson.loads(attrs["metadata"]) == {"k": extra}
    # syslog: the RFC 5424 header, the seven SD parameters, the event as JSON
    _head, sd, msg = _syslog_fields(lines["syslog"])
    assert set(sd) == set(_syslog_fields(_plain("syslog"))[1])
    assert sd["actor_id"] == texts["actor_id"] and sd["tenant_id"] == texts["tenant_id"]
    assert sd["action"] == texts["action"] and sd["event_id"] == texts["event_id"]
    assert msg == event
    # the JSON formats: one JSON object a line, the same members as a plain event
    ndjson = lines["ndjson"]
    assert orjson.loads(ndjson) == event
    hec = lines["hec"]
    assert orjson.loads(hec)["event"] == event
    assert orjson.loads(hec)["fields"]["actor_id"] == texts["actor_id"]
    ecs = orjson.loads(lines["ecs"])
    assert set(ecs) == set(orjson.loads(_plain("ecs")))
    assert ecs["user"]["id"] == texts["actor_id"] and ecs["message"] == texts["description"]
    ocsf = lines["ocsf"]
    assert orjson.loads(ocsf)["actor"]["user"]["uid"] == texts["actor_id"]


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_each_break_character_alone(fmt: str) -> None:
    events = [
        {**BASE, "event_id": f"e{i}", "actor": {"id": f"a{ch}b"}, "description": f"x{ch}y"}
        for i, ch in enumerate(BREAKS + "\x00\x1b\x7f\x9b")
    ]
    lines = _lines(fmt, events_to_frame(events))
    assert len(lines) == len(events)
    for line in lines:
        assert line.splitlines() == [line]


def test_the_mapping_is_visible_and_documented() -> None:
    (cef,) = _lines("cef", events_to_frame([{**BASE, "actor": {"id": FORGED}}]))
    assert "suid=a\\u2028CEF:0|auditkit|auditkit|0.1.0|admin.x|forged|10|suser\\=root " in cef
    (leef,) = _lines("leef", events_to_frame([{**BASE, "description": "a\x00b\x85c"}]))
    assert "\tdescription=a\\u0000b\\u0085c\t" in leef
    (ndjson,) = _lines("ndjson", events_to_frame([{**BASE, "description": "a\u2028b\x85"}]))
    assert '"description":"a\\u2028b\\u0085"' in ndjson
    docs = (Path(__file__).parents[2] / "docs" / "siem.md").read_text()
    assert "U+2028" in docs and "\\uXXXX" in docs


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditkit", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_export_of_a_forged_actor_id_keeps_one_line_per_event(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    store = Store.init(str(db))
    events = [
        {**BASE, "event_id": "e1", "actor": {"id": FORGED}},
        {**BASE, "event_id": "e2", "actor": {"id": "u\x1cv\x1dw\x1ex\x0by\x0cz\x85"},
         "description": "NUL\x00 PS\u2029"},
        {**BASE, "event_id": "e3", "metadata": {"note": "a\u2028b"}},
    ]  # fmt: skip
    store.append(events)
    stored = store.load("acme").height
    for fmt in LINE_FORMATS:
        out = tmp_path / f"out.{fmt}"
        done = _cli("export", str(db), "--format", fmt, "-o", str(out), "--no-progress")
        assert done.returncode == 0, done.stderr
        text = out.read_bytes().decode()
        assert len(text.splitlines()) == stored, fmt
    # what auditkit reads back of its own line-delimited JSON: the same events
    originals = {e["event_id"]: e for e in store.load("acme").pipe(_events)}
    for fmt, suffix in (("ndjson", ".ndjson"), ("ocsf", ".ocsf.ndjson"),
                        ("ecs", ".ecs.ndjson"), ("hec", ".hec.ndjson")):  # fmt: skip
        out = tmp_path / f"back{suffix}"
        export_frame(store.load("acme"), out, format=fmt, store_fields=False)
        again = Store.init(str(tmp_path / f"again-{fmt}.db"))
        result = ingest_files(again, [str(out)])
        assert (result.stored, result.quarantined) == (len(events), 0), (fmt, result.problems)
        back = {e["event_id"]: e for e in again.load("acme").pipe(_events)}
        for eid, e in originals.items():
            assert back[eid]["actor"] == e["actor"], fmt
            assert back[eid].get("description") == e.get("description"), fmt
            if fmt == "ndjson":
                assert back[eid].get("metadata") == e.get("metadata"), fmt


def _events(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [e for chunk in frame_to_events(frame) for e in chunk]
