"""Records inside the envelopes that SIEMs and search engines export them in.

A trail handed over from another tool often comes wrapped: a Splunk search exported
as JSON (``{"preview": false, "result": {"_raw": "<the record as text>", ...}}`` a
line) or as CSV (a ``_raw`` column), Splunk HTTP Event Collector events (``{"time":
..., "sourcetype": ..., "event": {...}}``, as ``auditkit export --format hec`` and
log shippers write them), and Elasticsearch or OpenSearch documents (``{"_index":
..., "_id": ..., "_source": {...}}`` a line as elasticdump writes them, a JSON array
of them, or a whole ``_search`` response), and log shippers' events around a line they
did not parse (``{"@timestamp": ..., "host": ..., "message": "<the record as text>"}``
from Logstash, Filebeat, Vector or Fluentd; Docker's ``{"log": ..., "stream": ...}``),
and Datadog log records (``{"id": ..., "type": "log", "attributes": {"timestamp": ...,
"service": ..., "attributes": {<the event's fields>}}}``: the Log Explorer's JSON export,
``logs search`` and ``/api/v2/logs/events`` output, one a line, as an array or the whole
``{"data": [...]}`` response; the v1 list API's ``{"id": ..., "content": {...}}``; the
log archives Datadog writes to a bucket, ``{"_id": ..., "date": ..., "attributes":
{...}}`` a line), CloudWatch Logs Insights results (``aws logs get-query-results``:
``{"results": [[{"field": "@message", "value": "<the record as text>"}, ...]]}``; the
console's CSV download, a ``@message`` column), and Sumo Logic search results (the
search job API's ``{"messages": [{"map": {"_raw": ...}}]}``; CSV, a ``_raw`` column).

The record inside is read by the format that recognises it (CloudTrail, OCSF,
canonical events, ...), exactly as if it had come unwrapped.  A file is read this
way only when its own first record is such an envelope and the format the file's
bytes suggest cannot read that record (Okta's reader knows the HEC envelope of its
log streams itself, and keeps it).  A record's ``location`` says where in the
envelope it was (``result._raw``, ``hits.hits[3]._source``); the quarantine keeps
the envelope as read, and the stored event notes it in ``metadata.envelope``.

>>> envelope_kind({"preview": False, "result": {"_raw": "{}", "_time": "x"}})
'splunk'
>>> envelope_kind({"time": 1, "sourcetype": "aws:cloudtrail", "event": {"eventName": "x"}})
'hec'
>>> envelope_kind({"_index": "logs", "_id": "1", "_source": {"a": 1}})
'elasticsearch'
>>> envelope_kind({"@timestamp": "...", "host": "collector-1", "message": '{"uuid": "x"}'})
'shipper'
>>> envelope_kind({"id": "AQAAAY", "type": "log", "attributes": {"attributes": {"a": 1}}})
'datadog'
>>> envelope_kind({"_id": "AQAAAY", "date": "...", "service": "okta", "attributes": {"a": 1}})
'datadog'
>>> envelope_kind({"@timestamp": "2024-06-03 08:05:11.000", "@message": '{"a": 1}'})
'cloudwatch'
>>> envelope_kind({"_messagetime": "1717401911000", "_raw": '{"a": 1}'})
'sumo'
>>> envelope_kind({"event": {"action": "x"}, "@timestamp": "...", "ecs": {}}) is None
True
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Final

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format, RawRecord, Reading
from auditkit.ingest._readers import csv_delimiter, iter_csv, iter_json_records, loads_json
from auditkit.ingest._readers import read_head as _read_head
from auditkit.ingest._readers_extra import iter_json_array, iter_json_auto, json_layout

__all__ = ["EnvelopeInput", "envelope_input", "envelope_kind", "unwrapped"]

#: the members of a Splunk HTTP Event Collector event
_HEC_KEYS: Final = frozenset(("time", "host", "source", "sourcetype", "index", "fields", "event"))
#: the members of an Elasticsearch / OpenSearch hit (a document as search returns it)
_HIT_KEYS: Final = frozenset(
    (
        "_index",
        "_id",
        "_score",
        "_source",
        "_type",
        "_version",
        "_seq_no",
        "_primary_term",
        "_routing",
        "_ignored",
        "_explanation",
        "_shard",
        "_node",
        "sort",
        "fields",
        "highlight",
        "inner_hits",
        "matched_queries",
    )
)
#: the members of a line of a Splunk search exported as JSON
_SPLUNK_LINE_KEYS: Final = frozenset(
    ("preview", "offset", "lastrow", "result", "messages", "init_offset", "highlighted")
)
#: the members of a Splunk search job's results (``/results?output_mode=json``)
_SPLUNK_RESULTS_KEYS: Final = frozenset(
    ("preview", "init_offset", "messages", "fields", "results", "highlighted", "post_process_count")
)
#: the members of a log shipper's event around a line it did not parse: Logstash and
#: Filebeat without a JSON filter, Fluentd and Fluent Bit, Vector, Docker's json-file
#: log, syslog relays writing JSON; the line is in ``message``, ``log`` or ``msg``
_SHIPPER_KEYS: Final = frozenset(
    (
        "@timestamp",
        "@version",
        "@metadata",
        "timestamp",
        "time",
        "date",
        "received_at",
        "host",
        "hostname",
        "source",
        "source_type",
        "sourcetype",
        "index",
        "path",
        "file",
        "offset",
        "tags",
        "type",
        "stream",
        "level",
        "severity",
        "facility",
        "priority",
        "program",
        "programname",
        "appname",
        "app_name",
        "ident",
        "pid",
        "procid",
        "msgid",
        "fields",
        "agent",
        "input",
        "ecs",
        "log",
        "service",
        "container_name",
        "container_id",
        "kubernetes",
        "docker",
        "labels",
        "message",
        "msg",
    )
)
#: where a log shipper keeps the line, in the order looked at
_SHIPPER_LINE: Final = ("message", "log", "msg")
#: the members of a Datadog log record (``/api/v2/logs/events``, the Log Explorer's
#: export), and of its ``attributes`` (v2) or ``content`` (the v1 list API)
_DATADOG_KEYS: Final = frozenset(("id", "type", "attributes", "content"))
_DATADOG_ATTRIBUTES: Final = frozenset(
    ("timestamp", "status", "message", "host", "service", "source", "tags", "attributes", "url")
)
#: the members of a line of a Datadog log archive (what Datadog writes to a bucket)
_DATADOG_ARCHIVE_KEYS: Final = frozenset(
    ("_id", "date", "host", "source", "service", "status", "message", "attributes", "tags")
)
#: the members of a response of Datadog's logs APIs: v2 ``data``, v1 ``logs``
_DATADOG_RESPONSE_KEYS: Final = frozenset(
    ("data", "links", "meta", "logs", "nextLogId", "status", "errors")
)
#: what the quarantine and metadata call each envelope
_NAMES: Final = {
    "splunk": "a Splunk search result",
    "hec": "a Splunk HTTP Event Collector event",
    "elasticsearch": "an Elasticsearch document",
    "elasticsearch_response": "an Elasticsearch search response",
    "splunk_results": "a Splunk search job's results",
    "shipper": "a log shipper's event",
    "datadog": "a Datadog log record",
    "datadog_response": "a Datadog logs API response",
    "cloudwatch": "a CloudWatch Logs Insights result",
    "cloudwatch_insights": "CloudWatch Logs Insights query results",
    "sumo": "a Sumo Logic search result",
    "sumo_messages": "Sumo Logic search job messages",
}


def _datadog_archived(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` is a line of a Datadog log archive: the log's standard
    attributes at the top (``_id``, ``date``, ``service``...), its own in
    ``attributes``."""
    return (
        "_id" in record
        and "date" in record
        and isinstance(record.get("attributes"), Mapping)
        and record.keys() <= _DATADOG_ARCHIVE_KEYS
    )


def _datadog_body(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``attributes`` (v2) or ``content`` (v1) of a Datadog log record, or an
    archived log itself, when ``record`` is one.

    >>> _datadog_body({"id": "x", "type": "log", "attributes": {"service": "okta"}})
    {'service': 'okta'}
    >>> _datadog_body({"id": "x", "attributes": {"eventName": "x"}}) is None
    True
    """
    if _datadog_archived(record):
        return record
    if not record.keys() <= _DATADOG_KEYS or "id" not in record:
        return None
    body = record.get("attributes") if "attributes" in record else record.get("content")
    if not isinstance(body, Mapping) or not body.keys() <= _DATADOG_ATTRIBUTES:
        return None
    if "content" in record and "attributes" not in record:
        return body if "attributes" in body or "timestamp" in body else None
    return body if record.get("type") == "log" else None


def _datadog_items(record: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
    """The log records of a Datadog logs API response (v2 ``data``, v1 ``logs``)."""
    if not record.keys() <= _DATADOG_RESPONSE_KEYS:
        return None
    for key in ("data", "logs"):
        items = record.get(key)
        if isinstance(items, list) and all(
            isinstance(i, Mapping) and _datadog_body(i) is not None for i in items[:10]
        ):
            return key, items
    return None


def _datadog_record(value: Mapping[str, Any]) -> tuple[str, Any]:
    """Where a Datadog log record keeps its event, and the event: the log's own
    attributes (the fields Datadog parsed from the event's JSON), else its message
    when that is the event as JSON text.  A Google Cloud log entry's ``timestamp``,
    which Datadog takes as the log's date, is put back from the log's."""
    body: Any
    if _datadog_archived(value):
        top, body = "", value
    else:
        top = "attributes." if "attributes" in value else "content."
        body = value.get(top[:-1])
    body = body if isinstance(body, Mapping) else {}
    inner = body.get("attributes")
    message = body.get("message")
    if (
        (not isinstance(inner, Mapping) or not inner)
        and isinstance(message, str)
        and message.lstrip().startswith("{")
    ):
        return f"{top}message", message
    when = body.get("timestamp", body.get("date"))
    if (
        isinstance(inner, Mapping)
        and ("logName" in inner or "protoPayload" in inner)
        and "timestamp" not in inner
        and isinstance(when, str)
    ):
        inner = {**inner, "timestamp": when}
    return f"{top}attributes", inner


def _datadog_what(value: Any) -> str:
    """What a Datadog log record is, for a reason: its service, source and keys.

    >>> _datadog_what({"id": "x", "type": "log", "attributes": {"service": "web",
    ...     "tags": ["source:nginx", "env:prod"], "attributes": {"http": {}, "network": {}}}})
    "service 'web', source 'nginx', its attributes http, network"
    """
    body = _datadog_body(value) if isinstance(value, Mapping) else None
    if body is None:
        return "not a log record"
    parts = []
    service = body.get("service")
    if isinstance(service, str) and service:
        parts.append(f"service {service[:60]!r}")
    source = body.get("source")
    tags = body.get("tags")
    if not isinstance(source, str) and isinstance(tags, list):
        source = next((t[7:] for t in tags if isinstance(t, str) and t.startswith("source:")), None)
    if isinstance(source, str) and source:
        parts.append(f"source {source[:60]!r}")
    inner = body.get("attributes")
    if isinstance(inner, Mapping) and inner:
        keys = sorted(str(k)[:40] for k in inner)
        more = ", ..." if len(keys) > 8 else ""
        parts.append(f"its attributes {', '.join(keys[:8])}{more}")
    else:
        parts.append("no attributes (a text log)")
    return ", ".join(parts)


def datadog_unrecognised(value: Any, field: str = "attributes.attributes") -> SchemaError:
    """Why a Datadog log record whose event no format reads is quarantined."""
    return SchemaError(
        f"a Datadog log record whose event is not of a recognised format "
        f"({_datadog_what(value)}); auditkit reads CloudTrail, Google Cloud, Okta, GitLab, "
        "OCSF, ECS and canonical events inside Datadog logs",
        field=field,
    )


def _shipper_line(record: Mapping[str, Any]) -> str | None:
    """The member of a log shipper's event that holds the line it shipped (text), when
    ``record`` is one: its members all a shipper's, one of them the line.

    >>> _shipper_line({"@timestamp": "2024-06-01T10:00:00Z", "host": "c1", "message": "{}"})
    'message'
    >>> _shipper_line({"log": "{}", "stream": "stdout", "time": "2024-06-01T10:00:00Z"})
    'log'
    >>> _shipper_line({"message": "{}", "action": "user.login"}) is None
    True
    """
    if not record.keys() <= _SHIPPER_KEYS:
        return None
    return next((k for k in _SHIPPER_LINE if isinstance(record.get(k), str)), None)


def envelope_kind(record: Any) -> str | None:
    """Which envelope ``record`` is (``splunk``, ``hec``, ``elasticsearch``, and the
    documents that hold many: ``elasticsearch_response``, ``splunk_results``), or
    ``None`` for a record that is not wrapped."""
    if not isinstance(record, Mapping):
        return None
    keys = record.keys()
    if "_raw" in keys:
        return "sumo" if "_messagetime" in keys or "_receipttime" in keys else "splunk"
    if isinstance(record.get("@message"), str):
        return "cloudwatch"
    if "result" in keys and keys <= _SPLUNK_LINE_KEYS and isinstance(record["result"], Mapping):
        return "splunk"
    if "event" in keys and keys <= _HEC_KEYS and len(keys) > 1:
        return "hec"
    if "_source" in keys and keys <= _HIT_KEYS:
        return "elasticsearch"
    hits = record.get("hits")
    if isinstance(hits, Mapping) and isinstance(hits.get("hits"), list):
        return "elasticsearch_response"
    if isinstance(record.get("results"), list) and keys <= _SPLUNK_RESULTS_KEYS:
        return "splunk_results"
    if _shipper_line(record) is not None:
        return "shipper"
    if _datadog_body(record) is not None:
        return "datadog"
    if _datadog_items(record) is not None:
        return "datadog_response"
    if _insights_rows(record) is not None:
        return "cloudwatch_insights"
    if _sumo_items(record) is not None:
        return "sumo_messages"
    return None


def _insights_rows(record: Mapping[str, Any]) -> list[Any] | None:
    """The rows of CloudWatch Logs Insights query results (``aws logs
    get-query-results``), each as one object of its fields; ``None`` for another
    record.

    >>> _insights_rows({"results": [[{"field": "@message", "value": "{}"}]], "status": "Complete"})
    [{'@message': '{}'}]
    """
    rows = record.get("results")
    if (
        not isinstance(rows, list)
        or not record.keys() <= {"results", "statistics", "status", "encryptionKey"}
        or not all(
            isinstance(r, list)
            and all(isinstance(c, Mapping) and c.keys() == {"field", "value"} for c in r)
            for r in rows[:10]
        )
    ):
        return None
    return [
        {c["field"]: c["value"] for c in r if isinstance(c, Mapping)} if isinstance(r, list) else r
        for r in rows
    ]


def _sumo_items(record: Mapping[str, Any]) -> list[Any] | None:
    """The messages of a Sumo Logic search job (``GET /api/v1/search/jobs/ID/messages``:
    ``{"fields": [...], "messages": [{"map": {"_raw": ...}}]}``), each its ``map``."""
    items = record.get("messages")
    if (
        not isinstance(items, list)
        or not record.keys() <= {"fields", "messages"}
        or not all(isinstance(i, Mapping) and isinstance(i.get("map"), Mapping) for i in items[:10])
    ):
        return None
    return [i.get("map") if isinstance(i, Mapping) else i for i in items]


def _object(value: Any, field: str, what: str) -> dict[str, Any]:
    """The record an envelope holds: an object, or text holding one."""
    if value is None:  # a Splunk result of a stats search: fields, no _raw
        raise SchemaError(f"{what} without {field.rsplit('.', 1)[-1]}", field=field)
    if isinstance(value, str):
        try:
            value = loads_json(value)
        except orjson.JSONDecodeError:
            shown = value[:60] + ("..." if len(value) > 60 else "")
            raise SchemaError(
                f"{what} whose record is not JSON ({shown!r}); only JSON records are read",
                field=field,
            ) from None
    if not isinstance(value, dict):
        raise SchemaError(
            f"{what} whose record is not a JSON object ({type(value).__name__})", field=field
        )
    return value


def unwrapped(rec: RawRecord) -> Iterator[RawRecord]:
    """The records inside ``rec`` (one, or each hit of a search response), each with
    its place in the envelope as ``location`` and the envelope kept as ``text``; a
    record that is not wrapped, as it is.  A wrapped record that cannot be read
    (text that is not JSON) is a record with that error."""
    kind = envelope_kind(rec.value) if rec.error is None else None
    if kind is None:
        if rec.error is None and _outer(rec.value):
            keys = ", ".join(sorted(rec.value))
            error = SchemaError(f"a line of a Splunk export without a result (keys: {keys})")
            yield dataclasses.replace(rec, value=None, error=error)
        else:
            yield rec
        return
    text = rec.text if rec.text is not None else orjson.dumps(rec.value, default=str).decode()
    where = f"{rec.location}: " if rec.location else ""
    if kind in _MANY:
        if kind == "elasticsearch_response":
            items, at = rec.value["hits"]["hits"], "hits.hits"
        elif kind == "splunk_results":
            items, at = rec.value["results"], "results"
        elif kind == "cloudwatch_insights":
            items, at = _insights_rows(rec.value) or [], "results"
        elif kind == "sumo_messages":
            items, at = _sumo_items(rec.value) or [], "messages"
        else:
            at, items = _datadog_items(rec.value) or ("data", [])
        for i, item in enumerate(items):
            place = f"{where}{at}[{i}]" + (".map" if kind == "sumo_messages" else "")
            inner = dataclasses.replace(rec, value=item, location=place, text=None)
            if envelope_kind(item) is None:  # not a hit, or a result without _raw
                yield dataclasses.replace(
                    inner,
                    value=None,
                    error=SchemaError(f"{_NAMES[kind]} holding no record here"),
                    text=orjson.dumps(item, default=str).decode(),
                )
                continue
            yield from unwrapped(inner)
        return
    value: Any = rec.value
    if kind == "splunk":
        result = value.get("result", value) if "_raw" not in value else value
        field, inner = ("result._raw" if result is not value else "_raw"), result.get("_raw")
    elif kind == "sumo":
        field, inner = "_raw", value.get("_raw")
    elif kind == "cloudwatch":
        field, inner = "@message", value.get("@message")
    elif kind == "hec":
        field, inner = "event", value.get("event")
    elif kind == "shipper":
        field = _shipper_line(value) or "message"
        inner = value.get(field)
    elif kind == "datadog":
        field, inner = _datadog_record(value)
        if inner is None or (isinstance(inner, Mapping) and not inner):
            error = datadog_unrecognised(value, field)
            yield dataclasses.replace(rec, value=None, error=error, text=text)
            return
    else:
        field, inner = "_source", value.get("_source")
    try:
        record = _object(inner, field, _NAMES[kind])
    except SchemaError as exc:
        yield dataclasses.replace(rec, value=None, error=exc, text=text)
        return
    about = _datadog_what(value) if kind == "datadog" else None
    yield dataclasses.replace(
        rec, value=_Wrapped(record, kind, about), location=f"{where}{field}", text=text
    )


#: the envelopes that hold many records
_MANY: Final = (
    "elasticsearch_response",
    "splunk_results",
    "datadog_response",
    "cloudwatch_insights",
    "sumo_messages",
)


class _Wrapped(dict[str, Any]):
    """A record that came in an envelope (``kind``): what the format reads is the
    record itself; the event notes the envelope."""

    def __init__(self, record: Mapping[str, Any], kind: str, about: str | None = None) -> None:
        super().__init__(record)
        self.kind = kind
        #: what the envelope says of its record (a Datadog log's service and source)
        self.about = about


class _NoFormat:
    """The format of records no format recognises (Datadog logs of an nginx, say):
    each is quarantined saying what it is."""

    name = "unknown"
    description = "records of no known format"

    def sniff(self, head: bytes, path: str) -> int:
        return 0

    def records(self, path: str) -> Iterator[RawRecord]:
        return iter(())

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        raise SchemaError("not a record of a known format")


def _json(record: Mapping[str, Any]) -> bytes:
    return orjson.dumps(dict(record), default=str)


def _outer(value: Any) -> bool:
    """An envelope, or a line of a Splunk export holding messages only."""
    if envelope_kind(value) is not None:
        return True
    return isinstance(value, Mapping) and "preview" in value and value.keys() <= _SPLUNK_LINE_KEYS


#: records looked at for one whose envelope holds a JSON record, to tell its format
_LOOK_AT: Final = 100


def _first_records(path: str, head: bytes | None = None) -> tuple[str, Iterator[RawRecord]] | None:
    """The layout of a file whose records may be envelopes (``json`` or ``csv``) and
    its records; ``None`` when they cannot be.  Only what is cheap to look at: a
    first line, a JSON array, a search response."""
    if head is None:
        head = _read_head(path, 65536)
    body = head.lstrip()
    if body[:1] == b"{":
        try:
            first = orjson.loads(body.split(b"\n", 1)[0].rstrip().removesuffix(b","))
        except orjson.JSONDecodeError:
            first = _first_value(body)  # pretty-printed, one after another (jq)
            first = first if isinstance(first, dict) and _outer(first) else None
        if isinstance(first, dict):
            return ("json", iter_json_auto(path)) if _outer(first) else None
        if (
            (b'"hits"' in head and b'"_source"' in head)
            or (b'"results"' in head and b'"_raw"' in head)
            or (b'"data"' in head and b'"attributes"' in head)
            or (b'"logs"' in head and b'"content"' in head)
            or (b'"results"' in head and b'"@message"' in head)
            or (b'"messages"' in head and b'"_raw"' in head)
        ):
            return "json", iter_json_records(path)
    elif body[:1] == b"[":
        if any(
            k in head
            for k in (
                b'"_source"',
                b'"_raw"',
                b'"event"',
                b'"result"',
                b'"message"',
                b'"log"',
                b'"msg"',
                b'"attributes"',
                b'"content"',
                b'"@message"',
            )
        ):
            return "json", iter_json_array(path)
    else:
        header = body.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
        names = [c.strip().strip('"') for c in header.split(csv_delimiter(header))]
        if "_raw" in names or "@message" in names:
            return "csv", iter_csv(path)
    return None


def _first_value(body: bytes) -> Any:
    """The JSON value ``body`` starts with when it is whole in it (an object
    pretty-printed over several lines, others after it), else ``None``.

    >>> _first_value(b'{\\n  "_id": "1",\\n  "_source": {}\\n}\\n{\\n  "_id"')
    {'_id': '1', '_source': {}}
    """
    try:
        value, _ = json.JSONDecoder().raw_decode(body.decode("utf-8", "replace"))
    except ValueError:
        return None
    return value


def envelope_input(
    path: str, format: str | Format, *, tenant: str | None, head: bytes | None = None
) -> EnvelopeInput | None:
    """How to read ``path`` if its first record is an envelope that the file's own
    format cannot read (see the module's description), else ``None``.  The format
    inside is told by the first of the first 100 records whose envelope holds a
    JSON record.

    Raises
    ------
    SchemaError
        When no envelope among those holds a record of a known format (``format``
        is ``"auto"``).
    """
    from auditkit.ingest._outcome import process_record
    from auditkit.ingest.registry import best_format, detect_format, get_format
    from auditkit.record import PreparedEvent

    found = _first_records(path, head)
    if found is None:
        return None
    layout, records = found
    first = next(records, None)
    if first is None or first.error is not None or not _outer(first.value):
        return None
    if format == "auto":
        try:
            native: Format | None = detect_format(path, head=head)
        except SchemaError:
            native = None
    else:
        native = get_format(format) if isinstance(format, str) else format
    if native is not None and type(process_record(native, first, tenant)) is PreparedEvent:
        return None  # the format reads its own envelope (Okta's log streams, say)
    # Datadog exports mix sources: the format is that of the first log it reads
    datadog = envelope_kind(first.value) in ("datadog", "datadog_response")
    inner, problem = None, None
    for n, rec in enumerate(itertools.chain([first], records)):
        if n >= _LOOK_AT:
            break
        for item in unwrapped(rec):
            if item.error is None and isinstance(item.value, _Wrapped):
                if datadog and format == "auto" and best_format(_json(item.value), path) is None:
                    continue  # a Datadog log of an nginx, say: each says so
                inner = item
                break
            problem = problem or item.error
        if inner is not None:
            break
    lines = (
        layout == "json"
        and json_layout(path) == "ndjson"
        and envelope_kind(first.value) not in _MANY
    )
    if inner is None and datadog:
        return EnvelopeInput(native or _NoFormat(), layout, lines, auto=format == "auto")
    if inner is None:
        if native is not None or problem is None:
            return None  # its own reader says what is wrong with the file
        raise problem
    if format == "auto":
        fmt = detect_format(path, head=orjson.dumps(dict(inner.value)))
    else:
        fmt = native if native is not None else get_format("auditkit")
    if fmt.name == "csv":  # the records inside are JSON, whatever the file is
        fmt = get_format("auditkit")
    return EnvelopeInput(fmt, layout, lines, auto=format == "auto")


@dataclasses.dataclass
class EnvelopeInput(Reading):
    """The records inside the envelopes of a file (``layout``: ``json`` or ``csv``),
    each read by ``inner`` as if it had come unwrapped.

    >>> from auditkit.ingest.registry import get_format
    >>> EnvelopeInput(get_format("cloudtrail"), "json").name
    'cloudtrail'
    """

    layout: str = "json"
    #: one envelope a line (parser processes may split the file into blocks of lines)
    lines: bool = False
    #: the format was told from the file (``--format auto``): a Datadog log of another
    #: format than the first is read by its own
    auto: bool = False
    how: ClassVar[str] = "inside SIEM or search envelopes"

    def records(self, path: str) -> Iterator[RawRecord]:
        """The records inside the file's envelopes."""
        outer = iter_csv(path) if self.layout == "csv" else iter_json_auto(path)
        for rec in outer:
            yield from unwrapped(rec)

    def ndjson(self, path: str) -> bool:
        """Whether parser processes may cut the file into blocks of lines: their
        records come as read, and :meth:`to_event` takes them out of the envelope."""
        return self.lines

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """The inner format's event, noting the envelope in ``metadata.envelope``."""
        if not isinstance(record, _Wrapped):  # a line as a parser process read it
            items = list(unwrapped(RawRecord("", 0, value=record)))
            if len(items) != 1:
                raise SchemaError("a whole search response on one line; ingest it alone")
            if items[0].error is not None:
                raise items[0].error
            record = items[0].value
        kind = getattr(record, "kind", None)
        if kind == "datadog":
            event = self._datadog_event(record, tenant)
        else:
            event = super().to_event(record, tenant=tenant)
        meta = event.get("metadata")
        if kind is not None and (meta is None or isinstance(meta, Mapping)):
            event["metadata"] = {**(meta or {}), "envelope": kind}
        return event

    def _datadog_event(self, record: _Wrapped, tenant: str | None) -> dict[str, Any]:
        """The event of a Datadog log's record: read by the file's format, else (with
        ``--format auto``) by the format that recognises it; one no format recognises
        is refused saying it is a Datadog log and what it holds, rather than naming a
        field the record was never meant to have."""
        from auditkit.ingest.registry import best_format

        try:
            return super().to_event(record, tenant=tenant)
        except SchemaError:
            as_json = _json(record)
            if self.inner.sniff(as_json, "") > 0:
                raise  # a record of the format, wrong in a field it names
            other = best_format(as_json, "") if self.auto else None
            if other is None or other.name in ("csv", "mapped"):
                raise SchemaError(
                    "a Datadog log record whose event is not of a recognised format "
                    f"({record.about}); auditkit reads CloudTrail, Google Cloud, Okta, "
                    "GitLab, OCSF, ECS and canonical events inside Datadog logs",
                    field="attributes.attributes",
                ) from None
        return other.to_event(record, tenant=tenant)

    def tenant_needed(self, path: str) -> str | None:
        """The inner format's rule (Okta and GitLab records never carry a tenant);
        canonical events inside envelopes carry their own."""
        if self.inner.name in ("auditkit", "csv"):
            return None
        return super().tenant_needed(path)
