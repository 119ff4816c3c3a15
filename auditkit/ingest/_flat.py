"""CSV files whose columns are a format's fields flattened with dots.

Search tools and spreadsheets export JSON records as CSV by flattening them:
Kibana's CSV reports (``@timestamp``, ``event.action``, ``user.name``, ...), the
Logs Explorer's download (``protoPayload.methodName``, ...), Splunk's and other
SIEMs' tables.  Such a file is read by nesting each row again (``a.b`` columns
into objects, ``a[0].b`` and Splunk's ``a{}.b`` into lists, cells holding JSON
as JSON, empty cells absent: :func:`auditkit.ingest._mapping.nested_row`), and
the format is the one that recognises the first nested row, exactly as for a
JSON file.  Formats that read CSV themselves (canonical CSV, Okta's and GitLab's
CSV, CloudTrail through Athena) keep doing so: this applies only to a CSV file
that its format cannot read as it is.  Cells stay text; mappers read numbers and
booleans written as text where the source's fields hold them.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
from collections.abc import Iterator
from typing import ClassVar

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format, RawRecord, Reading
from auditkit.ingest._mapping import nested_record, nested_row
from auditkit.ingest._readers import csv_delimiter, iter_csv, read_head

__all__ = ["FlatCsvInput", "FlatJsonInput", "flat_csv_input", "flat_json_input"]


def _header(head: bytes) -> list[str] | None:
    """The columns of a file that looks like CSV with dotted columns, else ``None``."""
    body = head.lstrip()
    if not body or body[:1] in (b"{", b"[") or b"\x00" in body[:4096]:
        return None
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    try:
        columns = next(csv.reader([first], delimiter=csv_delimiter(first)), [])
    except csv.Error:
        return None
    if len(columns) < 2 or not any("." in c or "[" in c or "{}" in c for c in columns):
        return None
    return columns


def _nested(rec: RawRecord) -> RawRecord:
    if rec.error is not None:
        return rec
    try:
        value = nested_row(rec.value)
    except SchemaError as exc:
        return dataclasses.replace(rec, value=None, error=exc)
    return dataclasses.replace(rec, value=value)


def flat_csv_input(
    path: str, format: str | Format, *, head: bytes | None = None
) -> FlatCsvInput | None:
    """How to read ``path`` if it is a CSV of dotted columns that ``format`` (or, for
    ``"auto"``, any format) recognises only once its rows are nested, else ``None``.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "kibana.csv")
    >>> _ = open(p, "w").write('"@timestamp","event.action","user.name"\\n'
    ...                        '"2024-03-07T18:30:04.000Z","user.login","ann"\\n')
    >>> flat_csv_input(p, "auto").name
    'ecs'
    """

    if head is None:
        head = read_head(path)
    if _header(head) is None:
        return None
    # the first readable row among the first 100 (a file of broken rows is not read
    # through here: its own reader quarantines them)
    first = next((r for r in itertools.islice(iter_csv(path), 100) if r.error is None), None)
    if first is None:
        return None
    nested = _nested(first)
    if nested.error is not None:
        return None
    inner = _nested_format(path, format, head, orjson.dumps(nested.value))
    if inner is None or inner.name in ("csv", "auditkit", "mapped"):
        return None  # canonical CSV and mapping files read CSV columns themselves
    return FlatCsvInput(inner)


def _nested_format(path: str, format: str | Format, head: bytes, nested: bytes) -> Format | None:
    """The format that reads a file's first record once nested (``nested``, its JSON),
    for ``"auto"`` any that recognises it; ``None`` when none does, or when ``format``
    already reads the file as it is (``head``) and needs no nesting."""
    from auditkit.ingest.registry import detect_format, get_format

    if format == "auto":
        try:
            return detect_format(path, head=nested)
        except SchemaError:
            return None
    inner = get_format(format) if isinstance(format, str) else format
    if inner.sniff(head, path) > 0 or inner.sniff(nested, path) <= 0:
        return None  # it reads this file itself, or does not know these fields
    return inner


@dataclasses.dataclass
class FlatCsvInput(Reading):
    """The rows of a CSV of dotted columns, nested again, each read by ``inner``.

    >>> from auditkit.ingest.registry import get_format
    >>> FlatCsvInput(get_format("gcp")).name
    'gcp'
    """

    how: ClassVar[str] = "flattened into CSV columns"

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's rows, nested again."""
        for rec in iter_csv(path):
            yield _nested(rec)


def _nested_json(rec: RawRecord) -> RawRecord:
    if rec.error is not None or not isinstance(rec.value, dict):
        return rec
    try:
        value = nested_record(rec.value)
    except SchemaError as exc:
        return dataclasses.replace(rec, value=None, error=exc)
    return dataclasses.replace(rec, value=value)


def flat_json_input(
    path: str, format: str | Format, *, head: bytes | None = None
) -> FlatJsonInput | None:
    """How to read ``path`` if it holds JSON records whose keys are dotted paths
    (``protopayload_auditlog.methodName``: a table's columns written as JSON lines or
    a JSON array) that ``format`` (or, for ``"auto"``, any format) recognises only
    once they are nested, else ``None``.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "rows.ndjson")
    >>> _ = open(p, "w").write('{"@timestamp": "2024-03-07T18:30:04Z", '
    ...                        '"event.action": "user.login", "user.name": "ann"}\\n')
    >>> flat_json_input(p, "auto").name
    'ecs'
    """
    from auditkit.ingest._readers_extra import iter_json_auto

    if head is None:
        head = read_head(path)
    if head.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        first = next(
            (r for r in itertools.islice(iter_json_auto(path), 100) if r.error is None), None
        )
    except SchemaError:
        return None
    if first is None or not any("." in key for key in first.value):
        return None
    nested = _nested_json(first)
    if nested.error is not None:
        return None
    inner = _nested_format(path, format, head, orjson.dumps(nested.value))
    if inner is None or inner.name == "mapped":
        return None  # a mapping file names the dotted keys itself
    return FlatJsonInput(inner)


@dataclasses.dataclass
class FlatJsonInput(Reading):
    """The JSON records of a file whose keys are dotted paths, nested again, each read
    by ``inner``.

    >>> from auditkit.ingest.registry import get_format
    >>> FlatJsonInput(get_format("gcp")).name
    'gcp'
    """

    how: ClassVar[str] = "its records' fields flattened into dotted keys"

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's records, nested again."""
        from auditkit.ingest._readers_extra import iter_json_auto

        for rec in iter_json_auto(path):
            yield _nested_json(rec)
