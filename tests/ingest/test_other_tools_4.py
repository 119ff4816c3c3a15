"""More files shaped as other tools write them: CloudTrail Lake rows of the ``eventJson``
column, CloudWatch Logs Insights results, Datadog's log archives, Sumo Logic search
results, tar archives, another tool's CSV whose cells hold events as JSON text, HTTP
requests saved by a webhook receiver, UTF-16 without its byte order mark, Latin-1
lines, and folders as people keep them (hidden files and folders, broken links, links
to folders, pipes, a folder that cannot be read).  Each input record is stored or
quarantined with its reason, never dropped, and the events are those the source's
own files give.

Where each shape comes from is said with the function that writes it."""

from __future__ import annotations

import csv
import gzip
import io
import os
import tarfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.ingest import pipeline
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.ingest._records import fixture_records, stored_events

FIXTURES = Path(__file__).parent / "fixtures"
TRAIL = FIXTURES / "cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"
OKTA = Path(__file__).parents[2] / "examples/okta/system-log.json"


def _store(tmp_path: Path, name: str = "a.db") -> Store:
    return Store.init(str(tmp_path / name))


def _same_events(
    tmp_path: Path, wrapped: Path, plain: Path, envelope: str | None, *apart: str
) -> None:
    """``wrapped`` gives, record for record, the events ``plain`` gives (with
    ``metadata.envelope`` the one said, else none; the metadata keys ``apart`` left
    out of the comparison)."""
    a, b = _store(tmp_path, "plain.db"), _store(tmp_path, "wrapped.db")
    want = ingest_files(a, [plain], tenant="acme")
    got = ingest_files(b, [wrapped], tenant="acme")
    assert (got.read, got.stored, got.quarantined) == (want.read, want.stored, 0), got.problems
    events = stored_events(b, "envelope", *apart)
    assert {e.pop("envelope") for e in events} == {envelope}
    events = [{k: v for k, v in e.items() if k not in apart} for e in events]
    assert events == [
        {k: v for k, v in e.items() if k not in ("envelope", *apart)}
        for e in stored_events(a, "envelope", *apart)
    ]
    assert all(e.get("envelope") is None for e in stored_events(a, "envelope"))


def _csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


# -- CloudTrail Lake: SELECT eventJson ----------------------------------------------------
def test_lake_rows_of_the_event_json_column_give_the_delivered_events(tmp_path: Path) -> None:
    """``aws cloudtrail get-query-results`` for ``SELECT eventJson FROM <eds>``: each row
    one one-column object, the whole event as JSON text (the brief's shape; the
    envelope as in tests/ingest/fixtures/cloudtrail/lake_get_query_results.json)."""
    records = fixture_records(TRAIL)
    lake = tmp_path / "lake-results.json"
    lake.write_bytes(
        orjson.dumps(
            {
                "QueryStatus": "FINISHED",
                "QueryStatistics": {"ResultsCount": len(records), "BytesScanned": 4096},
                "QueryResultRows": [[{"eventJson": orjson.dumps(r).decode()}] for r in records],
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    # metadata.original keeps the row as read, as for lookup-events items
    _same_events(tmp_path, lake, TRAIL, None, "original")


def test_lake_results_saved_as_csv_with_the_event_json_column(tmp_path: Path) -> None:
    """Lake results saved to S3 as CSV (or copied from the console), the query
    ``SELECT eventJson``: one column, the event as JSON text in each cell.  Before,
    the events' field names in the cells made it a CloudTrail JSON file, and every
    line was quarantined as invalid JSON."""
    records = fixture_records(TRAIL)
    lake = tmp_path / "result_1.csv"
    lake.write_text(_csv(["eventJson"], [[orjson.dumps(r).decode()] for r in records]))
    _same_events(tmp_path, lake, TRAIL, None, "original")


# -- CloudWatch Logs Insights -----------------------------------------------------------
def test_logs_insights_query_results_give_the_delivered_events(tmp_path: Path) -> None:
    """``aws logs get-query-results`` over a trail's log group: rows of
    ``{"field": ..., "value": ...}``, the event as text in ``@message``."""
    records = fixture_records(TRAIL)
    results = tmp_path / "insights.json"
    results.write_bytes(
        orjson.dumps(
            {
                "results": [
                    [
                        {"field": "@timestamp", "value": "2024-03-07 18:30:00.000"},
                        {"field": "@message", "value": orjson.dumps(r).decode()},
                        {"field": "@ptr", "value": f"CmAKJwojMTIzNDU2Nzg5MDEyOmF1ZGl0EAAS{i}"},
                    ]
                    for i, r in enumerate(records)
                ],
                "statistics": {"recordsMatched": 9.0, "recordsScanned": 9.0, "bytesScanned": 1e4},
                "status": "Complete",
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    _same_events(tmp_path, results, TRAIL, "cloudwatch")


def test_logs_insights_csv_download_gives_the_delivered_events(tmp_path: Path) -> None:
    """The Logs Insights console's "Export results" as CSV: ``@timestamp,@message``."""
    records = fixture_records(TRAIL)
    results = tmp_path / "logs-insights-results.csv"
    results.write_text(
        _csv(
            ["@timestamp", "@message"],
            [["2024-03-07 18:30:00.000", orjson.dumps(r).decode()] for r in records],
        )
    )
    _same_events(tmp_path, results, TRAIL, "cloudwatch")


def test_an_insights_row_without_a_json_message_is_quarantined_alone(tmp_path: Path) -> None:
    records = fixture_records(TRAIL)
    rows = [["2024-03-07 18:30:00.000", orjson.dumps(r).decode()] for r in records[:2]]
    rows.insert(1, ["2024-03-07 18:30:00.000", "START RequestId: 8f5c Version: $LATEST"])
    path = tmp_path / "insights.csv"
    path.write_text(_csv(["@timestamp", "@message"], rows))
    result = ingest_files(_store(tmp_path), [path])
    assert (result.read, result.stored, result.quarantined) == (3, 2, 1)
    (q,) = result.problems
    assert (q.line, q.field) == (3, "@message")
    assert "CloudWatch Logs Insights result whose record is not JSON" in q.reason


# -- Datadog log archives ---------------------------------------------------------------
def test_datadog_log_archives_give_the_events_inside(tmp_path: Path) -> None:
    """A Datadog log archive as Datadog writes it to a bucket
    (``dt=20240307/hour=18/archive_183101.1234.<id>.json.gz``): gzipped, a log a line,
    its standard attributes at the top (``_id``, ``date``, ``service``...), the
    event's own fields in ``attributes`` (Datadog's "Log Archives" documentation).
    Before, the logs' ``message`` made each a CloudWatch Logs event."""
    records = fixture_records(TRAIL)
    lines = b"".join(
        orjson.dumps(
            {
                "_id": f"AAAAAYz{i:013d}",
                "date": "2024-03-07T18:31:0{i}.000Z",
                "host": "i-0abc1234",
                "source": "cloudtrail",
                "service": "cloudtrail",
                "status": "info",
                "message": r.get("eventName", ""),
                "attributes": r,
                "tags": ["source:cloudtrail", "env:prod"],
            }
        )
        + b"\n"
        for i, r in enumerate(records)
    )
    folder = tmp_path / "dt=20240307" / "hour=18"
    folder.mkdir(parents=True)
    archive = folder / "archive_183101.1234.7dq1a9mnSya3bFotoErfxl.json.gz"
    archive.write_bytes(gzip.compress(lines))
    _same_events(tmp_path, archive, TRAIL, "datadog")


# -- Sumo Logic -------------------------------------------------------------------------
def test_sumo_search_job_messages_give_the_events_inside(tmp_path: Path) -> None:
    """The Search Job API's messages (``GET /api/v1/search/jobs/{id}/messages``):
    ``{"fields": [...], "messages": [{"map": {"_raw": ..., "_messagetime": ...}}]}``."""
    records = fixture_records(TRAIL)
    page = tmp_path / "sumo-messages.json"
    page.write_bytes(
        orjson.dumps(
            {
                "fields": [
                    {"name": "_messagetime", "fieldType": "long", "keyField": False},
                    {"name": "_raw", "fieldType": "string", "keyField": False},
                ],
                "messages": [
                    {
                        "map": {
                            "_messagetime": "1709836200000",
                            "_raw": orjson.dumps(r).decode(),
                            "_sourcecategory": "aws/cloudtrail",
                            "_collector": "hosted",
                        }
                    }
                    for r in records
                ],
            }
        )
    )
    _same_events(tmp_path, page, TRAIL, "sumo")


def test_sumo_csv_export_says_sumo(tmp_path: Path) -> None:
    """Sumo Logic's "Export results" CSV (``_messagetime``, ``_raw``, ...)."""
    records = fixture_records(TRAIL)
    path = tmp_path / "search-results.csv"
    header = ["_messagetime", "_receipttime", "_raw", "_sourcecategory", "_collector"]
    path.write_text(
        _csv(
            header,
            [
                ["03/07/2024 18:30:00.000 +0000", "", orjson.dumps(r).decode(), "aws", "hosted"]
                for r in records
            ],
        )
    )
    _same_events(tmp_path, path, TRAIL, "sumo")


# -- another tool's CSV, its cells holding events as JSON -------------------------------
@pytest.mark.parametrize(
    "source",
    [
        TRAIL,
        OKTA,
        FIXTURES / "gcp/gcloud_logging_read.json",
        FIXTURES / "gitlab/api_audit_events.json",
    ],
    ids=["cloudtrail", "okta", "gcp", "gitlab"],
)
def test_a_csv_whose_cells_hold_json_events_is_a_file_of_unknown_format(
    tmp_path: Path, source: Path
) -> None:
    """A CSV of a tool auditkit does not know, one column holding each event as JSON
    text.  Before, the events' field names in its cells made the file that format's
    JSON, and each line was quarantined for what it is not (`invalid JSON`, `field
    'eventType': required field is missing`): now it is one file of unknown format,
    its columns named, with what to pass."""
    rows = [
        ["2024-03-07T18:30:00Z", "c1", orjson.dumps(r).decode()] for r in fixture_records(source)
    ]
    path = tmp_path / "siem-export.csv"
    path.write_text(_csv(["time", "host", "raw_event"], rows[:5]))
    result = ingest_files(_store(tmp_path), [path], tenant="acme")
    assert (result.read, result.quarantined, result.files) == (1, 1, {str(path): "unknown"})
    reason = result.problems[0].reason
    assert "cannot tell the format" in reason and "time, host, raw_event" in reason
    assert "--mapping" in reason


# -- tar archives -----------------------------------------------------------------------
def _tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("mode,suffix", [("w:gz", "tar.gz"), ("w", "tar"), ("w:bz2", "tbz2")])
def test_a_tar_archive_is_read_member_by_member(tmp_path: Path, mode: str, suffix: str) -> None:
    """``tar czf trail.tgz AWSLogs/`` of a synced bucket, as people hand trails over;
    macOS tar adds ``._name`` AppleDouble entries.  Before, a .tar.gz was "binary
    data" and a .tar was read as CSV, its lines quarantined."""
    records = fixture_records(TRAIL)
    half = len(records) // 2
    prefix = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/03/07/"
    members = {
        f"{prefix}a.json.gz": gzip.compress(orjson.dumps({"Records": records[:half]})),
        f"{prefix}._a.json.gz": b"\x00\x05\x16\x07 AppleDouble",
        f"{prefix}b.json": orjson.dumps({"Records": records[half:]}),
    }
    archive = tmp_path / f"trail.{suffix}"
    _tar(archive, members, mode)
    result = ingest_files(_store(tmp_path), [archive])
    assert (result.read, result.stored, result.quarantined) == (len(records), len(records), 0)
    assert set(result.files) == {f"{archive}!{prefix}a.json.gz", f"{archive}!{prefix}b.json"}
    assert result.skipped == {
        f"{archive}!{prefix}._a.json.gz": "hidden or macOS metadata file in a tar archive"
    }
    _same_events(tmp_path, archive, TRAIL, None)


def test_a_tar_cut_short_keeps_its_first_members_and_says_so(tmp_path: Path) -> None:
    records = fixture_records(OKTA)
    members = {f"okta/page-{i}.json": orjson.dumps(records[i * 4 : i * 4 + 4]) for i in range(3)}
    whole = tmp_path / "whole.tar"
    _tar(whole, members, "w")
    cut = tmp_path / "okta.tar"
    with tarfile.open(whole) as t:
        second = t.getmembers()[1].offset_data
    cut.write_bytes(whole.read_bytes()[: second + 100])  # inside the second member
    result = ingest_files(_store(tmp_path), [cut], tenant="acme")
    assert result.balanced and result.stored == 4
    (q,) = result.problems
    assert q.file == str(cut) and "tar archive cut short or damaged" in q.reason


def test_archives_inside_a_tar_are_unpacked(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("okta.json", OKTA.read_bytes())
    archive = tmp_path / "handover.tgz"
    _tar(archive, {"exports/okta.zip": inner.getvalue()})
    result = ingest_files(_store(tmp_path), [archive], tenant="acme")
    assert result.files == {f"{archive}!exports/okta.zip!okta.json": "okta"}
    assert result.stored == len(fixture_records(OKTA))


# -- HTTP requests, encodings -----------------------------------------------------------
def test_an_http_request_saved_whole_is_refused_by_name(tmp_path: Path) -> None:
    """A GitLab audit event streaming delivery as a webhook receiver saves it: the
    request line, headers (``X-Gitlab-Event-Streaming-Token``), a blank line, the event.
    Before, each header line was quarantined as an event without ``created_at``."""
    event = orjson.dumps(fixture_records(FIXTURES / "gitlab/api_audit_events.json")[0])
    path = tmp_path / "delivery.http"
    path.write_bytes(
        b"POST /gitlab-audit HTTP/1.1\r\nHost: siem.example.com\r\n"
        b"Content-Type: application/json\r\nX-Gitlab-Event-Streaming-Token: 8d7f\r\n"
        b"X-Gitlab-Audit-Event-Type: member_created\r\n"
        + f"Content-Length: {len(event)}\r\n\r\n".encode()
        + event
    )
    for fmt in ("auto", "gitlab"):
        result = ingest_files(_store(tmp_path, f"{fmt}.db"), [path], format=fmt, tenant="acme")
        assert (result.read, result.quarantined) == (1, 1)
        assert "starts with HTTP request headers ('POST /gitlab-audit HTTP/1.1')" in (
            result.problems[0].reason
        )


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read(tmp_path: Path, encoding: str) -> None:
    """UTF-16 written without its byte order mark (.NET's ``Encoding.Unicode.GetBytes``
    then ``File.WriteAllBytes``).  Before: "binary data, not text"."""
    path = tmp_path / "okta.ndjson"
    text = "".join(orjson.dumps(r).decode() + "\r\n" for r in fixture_records(OKTA))
    path.write_bytes(text.encode(encoding))
    result = ingest_files(_store(tmp_path), [path], tenant="acme")
    assert (result.stored, result.quarantined) == (len(fixture_records(OKTA)), 0)


def test_latin1_lines_are_quarantined_saying_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    event = {
        "tenant_id": "acme",
        "occurred_at": "2024-06-03T08:00:00Z",
        "action": "user.login",
        "actor": {"id": "u1", "name": "Ren\u00e9"},
    }
    path.write_bytes(orjson.dumps(event).decode().encode("latin-1") + b"\n")
    result = ingest_files(_store(tmp_path), [path])
    assert result.quarantined == 1
    assert "iconv -f WINDOWS-1252 -t UTF-8" in result.problems[0].reason


# -- folders as people keep them --------------------------------------------------------
def _okta_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "okta.json").write_bytes(OKTA.read_bytes())
    return folder


def test_what_a_folder_holds_that_is_not_read_is_said(tmp_path: Path) -> None:
    """A synced or checked-out folder: ``.git/`` (whose objects were read as logs
    before), ``.DS_Store``, a link to another folder (never followed, so a loop cannot
    loop), a broken link (silently left out before: now quarantined) and a named pipe."""
    folder = _okta_folder(tmp_path)
    (folder / ".git" / "objects").mkdir(parents=True)
    (folder / ".git" / "objects" / "ab").write_bytes(OKTA.read_bytes())
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "loop").symlink_to("..")
    (folder / "gone.json").symlink_to("rotated-away.json")
    os.mkfifo(folder / "pipe")
    result = ingest_files(_store(tmp_path), [folder], tenant="acme")
    n = len(fixture_records(OKTA))
    assert (result.read, result.stored, result.quarantined) == (n + 1, n, 1)
    assert result.problems[0].file == str(folder / "gone.json")
    assert "a symbolic link to 'rotated-away.json', which does not exist" in (
        result.problems[0].reason
    )
    assert result.skipped == {
        str(folder / ".git"): "hidden folder (.git, .Trash, ...): not looked into",
        str(folder / ".DS_Store"): "hidden file in a folder (.DS_Store, ._name, ...)",
        str(folder / "loop"): "symbolic link to a folder: not followed (give its path to read it)",
        str(folder / "pipe"): "not a file (a named pipe, socket or device) in a folder",
    }
    summary = result.summary()
    assert "skipped 1 hidden folder(s)" in summary and "skipped 1 symbolic link(s)" in summary


def test_a_folder_that_cannot_be_read_is_quarantined_not_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subfolder without read permission (run as root here, so the permission is
    refused by hand): before, it was left out without a word."""
    folder = _okta_folder(tmp_path)
    locked = folder / "2024-06"
    locked.mkdir()
    (locked / "okta.json").write_bytes(b"[]")
    scandir = os.scandir

    def refusing(path: Any = ".") -> Any:
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    files, _, problems = pipeline.expand_inputs([folder])
    assert files == [str(folder / "okta.json")]
    assert problems == [(str(locked), "cannot read the folder: Permission denied")]
    result = ingest_files(_store(tmp_path), [folder], tenant="acme")
    assert result.quarantined == 1 and result.problems[0].file == str(locked)


def test_a_pipe_given_by_name_is_read(tmp_path: Path) -> None:
    """``auditkit ingest audit.db <(zcat okta.json.gz)``: the shell passes
    ``/dev/fd/63``, a pipe.  Before: "cannot read the file: File or stream is not
    seekable"."""
    pipe = tmp_path / "fifo"
    os.mkfifo(pipe)
    data = gzip.compress(OKTA.read_bytes())
    done = threading.Event()

    def feed() -> None:  # as often as the pipe is opened, so that no reader waits forever
        while not done.is_set():
            try:
                with open(pipe, "wb") as f:
                    if not done.is_set():
                        f.write(data)
            except BrokenPipeError:
                pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        result = ingest_files(_store(tmp_path), [pipe], tenant="acme")
    finally:
        done.set()
        os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))  # lets the writer's open return
        writer.join(10)
    assert result.files == {str(pipe): "okta"}
    assert (result.stored, result.quarantined) == (len(fixture_records(OKTA)), 0)
