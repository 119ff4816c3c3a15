"""Files as other tools write the formats' records: ``jq`` output, array items without
their brackets, and the like.  Each gives the events its format's own files give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.ingest._readers import _concatenated_lines, iter_json_records
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store

from . import FIXTURES

OKTA_PAGE = FIXTURES / "okta" / "api_logs_page.json"
CT_LOG = FIXTURES / "cloudtrail" / "123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"


def _okta() -> list[dict[str, Any]]:
    return list(json.loads(OKTA_PAGE.read_text()))


def _cloudtrail() -> list[dict[str, Any]]:
    return list(json.loads(CT_LOG.read_text())["Records"])


def _canonical() -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": f"t{i % 12}",
            "occurred_at": f"2026-01-05T09:00:{i:02d}Z",
            "action": "user.login",
            "actor": {"id": f"u{i}"},
            "event_id": f"e{i}",
        }
        for i in range(24)
    ]


def _hits() -> list[dict[str, Any]]:
    return [{"_index": "okta", "_id": str(i), "_source": e} for i, e in enumerate(_okta())]


SOURCES = {"okta": _okta, "cloudtrail": _cloudtrail, "auditkit": _canonical, "hits": _hits}


def _jq(records: list[dict[str, Any]]) -> str:
    """``jq '.[]'``: each record pretty-printed, one after another."""
    return "\n".join(json.dumps(r, indent=2) for r in records) + "\n"


def _commas(records: list[dict[str, Any]]) -> str:
    """A JSON array's items one a line, without the brackets (the last comma kept)."""
    return "".join(json.dumps(r) + ",\n" for r in records)


def _ingest(tmp_path: Path, name: str, text: str) -> Any:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    store = Store.init(str(tmp_path / "a.db"))
    return ingest_files(store, [path], tenant="acme")


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("layout", [_jq, _commas])
def test_jq_output_and_array_items_are_read_as_records(
    tmp_path: Path, source: str, layout: Any
) -> None:
    """Records pretty-printed one after another (``jq '.Records[]'``) had every line
    quarantined as invalid JSON; items followed by commas had every one quarantined."""
    records = SOURCES[source]()
    result = _ingest(tmp_path, "export.json", layout(records))
    assert (result.stored, result.quarantined) == (len(records), 0)
    expected = "auditkit" if source == "auditkit" else "okta" if source == "hits" else source
    assert set(result.files.values()) == {expected}


def test_a_broken_object_among_pretty_printed_ones_is_located_at_its_line(
    tmp_path: Path,
) -> None:
    """Objects pretty-printed one after another are numbered by the line each starts
    on; a broken one is quarantined alone, at the line it starts on, and the others
    are read."""
    records = _canonical()[:3]
    text = _jq(records)
    path = tmp_path / "jq.json"
    path.write_text(text, encoding="utf-8")
    got = list(iter_json_records(str(path)))
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if line == "{"]
    assert [(r.value, r.line, r.location) for r in got] == [
        (r, s, f"[{i}]") for i, (r, s) in enumerate(zip(records, starts, strict=True))
    ]
    path.write_text(text.replace('"u1"', '"u1'), encoding="utf-8")
    got = list(iter_json_records(str(path)))
    assert [(r.value, r.line, r.location) for r in got] == [
        (records[0], starts[0], "[0]"),
        (None, starts[1], "[1]"),
        (records[2], starts[2], "[2]"),
    ]
    error = got[1].error
    assert error is not None and "invalid JSON" in error.reason


def _key(i: int) -> str:
    return f"k{i}"


_OBJECTS = st.lists(
    st.dictionaries(
        st.integers(0, 5).map(_key),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=6)),
        max_size=4,
    ),
    min_size=2,
    max_size=6,
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    objs=_OBJECTS,
    indent=st.sampled_from([None, 1, 2, 4]),
    comma=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_objects_one_after_another_keep_their_values_and_lines(
    objs: list[dict[str, Any]], indent: int | None, comma: bool, newline: str
) -> None:
    """However the objects are printed (compact or indented, a comma after each or
    not, CRLF or LF), each is read exactly, with the line it starts on."""
    parts = [json.dumps(o, indent=indent).replace("\n", newline) for o in objs]
    sep = ("," if comma else "") + newline
    data = sep.join(parts) + newline
    found = _concatenated_lines(data.encode())
    assert found is not None
    assert [v for v, _ in found] == objs
    starts, line = [], 1
    for part in parts:
        starts.append(line)
        line += part.count("\n") + 1
    assert [n for _, n in found] == starts


def test_one_pretty_printed_object_is_still_one_record(tmp_path: Path) -> None:
    """A single pretty-printed canonical event (not NDJSON) was read line by line."""
    event = _canonical()[0]
    result = _ingest(tmp_path, "one.json", orjson.dumps(event, option=orjson.OPT_INDENT_2).decode())
    assert (result.stored, result.quarantined) == (1, 0)


def _gitlab() -> list[dict[str, Any]]:
    return list(json.loads((FIXTURES / "gitlab" / "api_audit_events.json").read_text()))


def _stamped(records: list[dict[str, Any]]) -> str:
    """A CloudWatch Logs export to S3: the time, a space, then the event, a line each."""
    return "".join(
        f"2026-01-05T09:00:{i % 60:02d}.000Z {json.dumps(r)}\n" for i, r in enumerate(records)
    )


@pytest.mark.parametrize("source", ["okta", "gitlab", "cloudtrail"])
@pytest.mark.parametrize("count", [1, 3])
def test_stamped_lines_are_read_by_every_format(tmp_path: Path, source: str, count: int) -> None:
    """Okta's and GitLab's readers took a file not starting with ``{`` or ``[`` for CSV:
    the first stamped line was eaten as a header, silently (a one-event file read 0
    records, quarantined 0), and the rest quarantined."""
    records = {"okta": _okta, "gitlab": _gitlab, "cloudtrail": _cloudtrail}[source]()[:count]
    result = _ingest(tmp_path, "export.log", _stamped(records))
    assert (result.stored, result.quarantined) == (len(records), 0)
    assert set(result.files.values()) == {source}


@pytest.mark.parametrize("fmt", ["auto", "okta"])
def test_http_response_headers_are_refused_by_name(tmp_path: Path, fmt: str) -> None:
    """``curl -i`` output (the status line, headers, a blank line, the page): read as
    CSV, 1,191 lines of a 13-event page were quarantined as records without eventType."""
    body = json.dumps(_okta(), indent=2)
    path = tmp_path / "page.json"
    path.write_text(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{body}\n")
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path], tenant="acme", format=fmt)
    assert (result.stored, result.quarantined) == (0, 1)
    (q,) = result.problems
    assert "HTTP response headers" in q.reason and "curl" in q.reason
