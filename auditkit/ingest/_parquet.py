"""Parquet (and Avro) files as input: records are rows, read a batch at a time.

Data lakes keep audit logs in Parquet: Amazon Security Lake writes OCSF events so,
and ``auditkit export --format parquet`` writes the event frame; BigQuery exports
tables with nested columns as Avro, read the same way (but whole: see :class:`_Avro`).  A Parquet file
is not text, so no format's sniffer can read its first bytes; instead its first
row, as JSON, is what the sniffers see, and the file is read with the format they
choose (OCSF, CloudTrail, ...), each row a record (``line`` is the row's number).

Cells are made what the same record holds as JSON: a null is an absent field
(a Parquet schema has every column for every row), a timestamp is ISO 8601 text
(``Z`` when it has a zone; without one, the format's rules for times without a
zone apply), a map is an object, a decimal a number, binary data UTF-8 text (or
the record is quarantined naming the column).  A file with auditkit's frame
columns (``actor_id``, ``source_ip``, ``changes`` as JSON text, ...) is read as
the canonical events those columns hold, so an export comes back as it went out.

>>> import os, tempfile, polars as pl
>>> p = os.path.join(tempfile.mkdtemp(), "e.parquet")
>>> pl.DataFrame({"tenant_id": ["acme"], "occurred_at": ["2026-01-05T09:00:00Z"],
...               "action": ["user.login"], "actor_id": ["u1"], "geo_city": ["Oslo"],
...               "session_id": [None]}).write_parquet(p)
>>> is_parquet(p), [r.value for r in iter_parquet(p, frame=True)]
(True, [{'tenant_id': 'acme', 'occurred_at': '2026-01-05T09:00:00Z', 'action': 'user.login', 'actor': {'id': 'u1'}, 'source': {'geo': {'city': 'Oslo'}}}])
"""  # noqa: E501

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import os
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Final

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format, RawRecord, Reading
from auditkit.ingest._readers import loads_json

__all__ = [
    "FRAME_KEYS",
    "ParquetInput",
    "RowGroups",
    "container",
    "frame_layout",
    "frame_row_event",
    "is_parquet",
    "iter_parquet",
    "parquet_bytes",
    "parquet_columns",
    "parquet_empty",
    "parquet_head",
    "parquet_input",
    "row_group_parts",
]

#: the first (and last) four bytes of every Parquet file
MAGIC: Final = b"PAR1"
#: the first four bytes of an Avro object container file
AVRO_MAGIC: Final = b"Obj\x01"
#: Avro files are read whole: larger ones are refused (BigQuery exports at most 1 GB
#: to a file)
AVRO_MAX_BYTES: Final = 1 << 30
#: rows converted at a time: a few MB of Python objects for wide rows
_BATCH_ROWS: Final = 5_000
#: the columns by which a Parquet file is told as auditkit's event frame
_FRAME_MARK: Final = frozenset(("tenant_id", "occurred_at", "action", "actor_id"))
#: frame columns and where their value goes in the canonical event: (object, member);
#: the ``geo`` object goes into ``source``
_NESTED: Final = {
    "actor_id": ("actor", "id"),
    "actor_type": ("actor", "type"),
    "actor_name": ("actor", "name"),
    "actor_email": ("actor", "email"),
    "actor_roles": ("actor", "roles"),
    "source_ip": ("source", "ip"),
    "user_agent": ("source", "user_agent"),
    "geo_country": ("geo", "country"),
    "geo_city": ("geo", "city"),
    "geo_lat": ("geo", "lat"),
    "geo_lon": ("geo", "lon"),
    "observer_service": ("observer", "service"),
    "observer_version": ("observer", "version"),
    "observer_region": ("observer", "region"),
}
#: the columns only an event frame has (a canonical event nests them)
FRAME_KEYS: Final = frozenset((*_NESTED, "target_id", "target_type"))
#: frame columns that hold JSON text
_JSON_TEXT: Final = frozenset(("changes", "metadata", "targets"))


def container(path: str) -> str | None:
    """``"Parquet"`` or ``"Avro"`` for files that start as those do (``PAR1``,
    ``Obj\\x01``), else ``None``; one cut short still is one, and its reader says
    what is wrong with it.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.parquet")
    >>> _ = open(p, "wb").write(b"PAR1 cut short")
    >>> container(p), container(p + ".missing")
    ('Parquet', None)
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return None
    return {MAGIC: "Parquet", AVRO_MAGIC: "Avro"}.get(head)


def is_parquet(path: str) -> bool:
    """Whether ``path`` is a file of rows this module reads: Parquet or Avro."""
    return container(path) is not None


class _Parquet:
    """A Parquet file: its columns, row groups and batches of rows."""

    kind = "Parquet"

    def __init__(self, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise SchemaError(f"cannot read the Parquet file ({_why(exc)})", file=path) from None
        self.columns = list(self.file.schema_arrow.names)
        self.empty: bool = self.file.metadata.num_rows == 0

    def batches(self, rows: int, groups: list[int] | None) -> Iterator[Any]:
        return iter(self.file.iter_batches(batch_size=rows, row_groups=groups))


class _Avro:
    """An Avro object container file (BigQuery's export format for nested tables,
    Kafka Connect's sinks), read through Polars, which reads it whole: it has no
    streaming reader for Avro."""

    kind = "Avro"

    def __init__(self, path: str) -> None:
        self.path = path
        size = os.path.getsize(path)
        if size > AVRO_MAX_BYTES:
            raise SchemaError(
                f"an Avro file of {size / 2**30:.1f} GiB: Avro is read whole (there is no "
                f"streaming reader for it here), up to {AVRO_MAX_BYTES // 2**30} GiB; split "
                "it, or write it as Parquet or NDJSON",
                file=path,
            )
        head = self._read(n_rows=1)
        self.columns = list(head.columns)
        self.empty: bool = head.height == 0

    def _read(self, n_rows: int | None = None) -> Any:
        import polars as pl

        try:
            return pl.read_avro(self.path, n_rows=n_rows)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise SchemaError(f"cannot read the Avro file ({_why(exc)})", file=self.path) from None

    def batches(self, rows: int, groups: list[int] | None) -> Iterator[Any]:
        return iter(self._read().to_arrow().to_batches(max_chunksize=rows))


def _file(path: str) -> _Parquet | _Avro:
    return _Avro(path) if container(path) == "Avro" else _Parquet(path)


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def parquet_columns(path: str) -> list[str]:
    """The top-level column names of a Parquet (or Avro) file.

    Raises
    ------
    SchemaError
        When the file is not a readable Parquet file (cut short, corrupt).
    """
    return _file(path).columns


def parquet_empty(path: str) -> bool:
    """Whether a Parquet (or Avro) file holds no rows; ``False`` if it cannot be read
    (its reader then says why)."""
    try:
        return _file(path).empty
    except SchemaError:
        return False


def frame_layout(columns: Sequence[str]) -> bool:
    """Whether ``columns`` are auditkit's event frame (``actor_id``, not ``actor``).

    >>> frame_layout(["tenant_id", "occurred_at", "action", "actor_id", "seq"])
    True
    >>> frame_layout(["tenant_id", "occurred_at", "action", "actor", "actor_id"])
    False
    """
    return _FRAME_MARK.issubset(columns) and "actor" not in columns


def parquet_head(path: str, *, frame: bool) -> bytes:
    """The first row of a Parquet file as JSON (what the formats' sniffers read), as
    canonical events for auditkit's frame columns (``frame``); empty when the file
    has no rows.

    Raises
    ------
    SchemaError
        When the file is not a readable Parquet file.
    """
    for record in iter_parquet(path, frame=frame, batch_rows=1):
        if record.error is not None:
            raise record.error
        return orjson.dumps(record.value)
    return b""


def _needs_conversion(t: Any) -> bool:
    """Whether values of Arrow type ``t`` are not yet what JSON would hold (a
    timestamp, a map, a struct whose absent members are nulls, ...)."""
    import pyarrow as pa

    if pa.types.is_struct(t) or pa.types.is_map(t):
        return True
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _needs_conversion(t.value_type)
    if pa.types.is_dictionary(t):
        return _needs_conversion(t.value_type)
    return not (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
    )


def _plain(value: Any, field: str) -> Any:
    """A Parquet cell as the JSON value the same record would hold."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):  # a struct: members that are null, or hold only
        out = {}  # nulls, are absent (a struct's type has every member for every row)
        for k, v in value.items():
            v = _plain(v, f"{field}.{k}")
            if v is not None and v != {}:
                out[str(k)] = v
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{field}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dt.datetime):  # pandas' Timestamp too (nanoseconds kept)
        if value.tzinfo is None:
            return value.isoformat()  # no zone: the format's rules for that apply
        text: str = value.astimezone(dt.UTC).isoformat()
        return text.removesuffix("+00:00") + "Z"
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if decimal.Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise SchemaError("expected text, got binary data", field=field) from None
    raise SchemaError(f"cannot read a value of type {type(value).__name__}", field=field)


def _values(column: Any) -> list[Any]:
    """A column's cells as Python values: through Polars, whose conversion is twice
    as fast as Arrow's; through Arrow for maps (which it gives as dicts, Polars as
    lists of key-value structs) and for types Polars does not read."""
    import polars as pl

    if not _has_map(column.type):
        try:
            series = pl.from_arrow(column)
        except (TypeError, ValueError, pl.exceptions.PolarsError):
            pass
        else:
            if isinstance(series, pl.Series):
                return series.to_list()
    return list(column.to_pylist(maps_as_pydicts="lossy"))


def _has_map(t: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_map(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_map(t.field(i).type) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _has_map(t.value_type)
    if pa.types.is_dictionary(t):
        return _has_map(t.value_type)
    return False


def _timestamp_text(column: Any) -> Any:
    """A column of timestamps as ISO 8601 text, computed by Arrow (a ``datetime`` a
    cell costs more than the rest of the row): in UTC with ``Z`` when the column has
    a zone, without a zone when it has none.  Other columns as they are."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if not pa.types.is_timestamp(t):
        return column
    if t.tz is None:
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    utc = column.cast(pa.timestamp(t.unit, tz="UTC"))
    return pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ")


def frame_row_event(row: dict[str, Any]) -> dict[str, Any]:
    """One row of auditkit's event frame as the canonical event it holds.

    ``target_id`` and ``target_type`` are the first target's, so they are dropped
    when ``targets`` is there (and make it when it is not); ``changes``,
    ``metadata`` and ``targets`` held as JSON text are parsed (text that is not
    JSON stays text, and validation names the field).

    >>> frame_row_event({"actor_id": "u1", "geo_lat": 1.5, "metadata": '{"k": 1}',
    ...                  "target_id": "d1", "target_type": "doc"})
    {'metadata': {'k': 1}, 'actor': {'id': 'u1'}, 'source': {'geo': {'lat': 1.5}}, 'targets': [{'id': 'd1', 'type': 'doc'}]}
    >>> frame_row_event({"source": {"ip": "192.0.2.1"}, "source_ip": "198.51.100.9"})
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'source': source.ip is given twice, with different values

    Raises
    ------
    SchemaError
        When a frame column and the object it belongs to say different things.
    """  # noqa: E501
    event: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = {}
    target = {}
    for column, value in row.items():
        nested = _NESTED.get(column)
        if nested is not None:
            box, member = nested
            part = parts.get(box)
            if part is None:
                part = parts[box] = {}
            part[member] = value
        elif column in ("target_id", "target_type"):
            target[column[7:]] = value
        elif column in _JSON_TEXT and isinstance(value, str):
            try:
                event[column] = loads_json(value)
            except orjson.JSONDecodeError:
                event[column] = value
        else:
            event[column] = value
    geo = parts.pop("geo", None)
    if geo is not None:
        parts.setdefault("source", {})["geo"] = geo
    for box, part in parts.items():
        given = event.get(box)
        if isinstance(given, dict):  # an "actor" object beside "actor_id": both must agree
            clash = [k for k, v in part.items() if k in given and given[k] != v]
            if clash:
                raise SchemaError(
                    f"{box}.{clash[0]} is given twice, with different values", field=box
                )
            part = {**given, **part}
        elif given is not None:
            raise SchemaError(f"expected an object, got {type(given).__name__}", field=box)
        event[box] = part
    if target and "targets" not in event:
        event["targets"] = [target]
    return event


@dataclasses.dataclass(frozen=True)
class RowGroups:
    """Row groups of a Parquet file read as one unit of a parallel ingest: the first
    row's number (1-based, in the whole file) and the groups' indexes."""

    first_line: int
    groups: tuple[int, ...]


def row_group_parts(path: str, rows: int) -> list[RowGroups]:
    """The file's row groups in consecutive parts of about ``rows`` rows each (a
    group is never split); empty if the file cannot be read.

    >>> import os, tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> p = os.path.join(tempfile.mkdtemp(), "x.parquet")
    >>> pq.write_table(pa.table({"a": list(range(10))}), p, row_group_size=3)
    >>> row_group_parts(p, 5)
    [RowGroups(first_line=1, groups=(0, 1)), RowGroups(first_line=7, groups=(2, 3))]
    """
    try:
        source = _file(path)
    except SchemaError:
        return []
    if not isinstance(source, _Parquet):
        return []  # read whole
    meta = source.file.metadata
    parts: list[RowGroups] = []
    groups: list[int] = []
    first = line = 1
    held = 0
    for i in range(meta.num_row_groups):
        groups.append(i)
        n = meta.row_group(i).num_rows
        held += n
        line += n
        if held >= rows:
            parts.append(RowGroups(first, tuple(groups)))
            groups, first, held = [], line, 0
    if groups:
        parts.append(RowGroups(first, tuple(groups)))
    return parts


def parquet_bytes(path: str) -> int:
    """The uncompressed size of a Parquet file's data (0 if unreadable): what an
    ingest weighs to decide whether parser processes are worth starting."""
    try:
        source = _file(path)
    except SchemaError:
        return 0
    if not isinstance(source, _Parquet):
        return os.path.getsize(path)
    meta = source.file.metadata
    return sum(int(meta.row_group(i).total_byte_size) for i in range(meta.num_row_groups))


def iter_parquet(
    path: str,
    *,
    frame: bool = False,
    batch_rows: int = _BATCH_ROWS,
    part: RowGroups | None = None,
) -> Iterator[RawRecord]:
    """The rows of a Parquet file as records, a batch at a time (bounded memory).

    ``frame``: the rows are auditkit's event frame, turned into canonical events
    (:func:`frame_row_event`).  ``part``: only those row groups (numbered as in the
    whole file).  A file that cannot be read gives one record with its error; one
    that breaks off gives its rows up to there, then the error.
    """
    import pyarrow as pa

    try:
        source = _file(path)
    except SchemaError as exc:
        yield RawRecord(path, 0, error=exc)
        return
    line = 0 if part is None else part.first_line - 1
    groups = None if part is None else list(part.groups)
    try:
        for batch in source.batches(batch_rows, groups):
            columns = []
            for name, column in zip(batch.schema.names, batch.columns, strict=True):
                column = _timestamp_text(column)
                convert = _needs_conversion(column.type)
                columns.append((name, _values(column), convert))
            for i in range(batch.num_rows):
                line += 1
                yield _row(path, line, columns, i, frame)
    except SchemaError as exc:  # an Avro file, read whole when its rows are wanted
        yield RawRecord(path, line + 1, error=exc)
    except (pa.ArrowException, OSError, ValueError) as exc:
        yield RawRecord(
            path,
            line + 1,
            error=SchemaError(f"cannot read the {source.kind} file past row {line} ({_why(exc)})"),
            location=f"row {line + 1}",
        )


def _row(
    path: str, line: int, columns: list[tuple[str, list[Any], bool]], i: int, frame: bool
) -> RawRecord:
    row: dict[str, Any] = {}
    error: SchemaError | None = None
    for name, values, convert in columns:
        value = values[i]
        if value is None:
            continue
        if convert and error is None:
            try:
                value = _plain(value, name)
            except SchemaError as exc:
                error = exc
            if value == {}:
                continue
        row[name] = value
    where = f"row {line}"
    if error is None and frame:
        try:
            return RawRecord(path, line, value=frame_row_event(row), location=where)
        except SchemaError as exc:
            error = exc
    if error is not None:
        text = orjson.dumps(row, default=repr).decode()
        return RawRecord(path, line, error=error, text=text, location=where)
    return RawRecord(path, line, value=row, location=where)


@dataclasses.dataclass
class ParquetInput(Reading):
    """A format's records read from a Parquet file: the rows, each mapped by
    ``inner`` as the same record in JSON would be.  ``frame``: the file holds
    auditkit's event frame (read as canonical events).

    >>> from auditkit.ingest.registry import get_format
    >>> ParquetInput(get_format("ocsf")).name
    'ocsf'
    """

    frame: bool = False
    how: ClassVar[str] = "read from Parquet"

    def records(self, path: str, part: RowGroups | None = None) -> Iterator[RawRecord]:
        """The file's rows as records (``part``: only those row groups)."""
        return iter_parquet(path, frame=self.frame, part=part)

    def parts(self, path: str, rows: int) -> list[RowGroups]:
        """Units of about ``rows`` rows for parser processes (whole row groups)."""
        return row_group_parts(path, rows)

    def tenant_needed(self, path: str) -> str | None:
        """Canonical rows without a ``tenant_id`` column need ``--tenant``; other
        formats say so themselves (Okta and GitLab records never carry one)."""
        if self.inner.name == "auditkit":
            try:
                has = "tenant_id" in parquet_columns(path)
            except SchemaError:
                return None  # the reader says why
            return None if has else "the Parquet file has no tenant_id column; pass --tenant NAME"
        return super().tenant_needed(path)


def parquet_input(path: str, format: str | Format) -> ParquetInput:
    """How to read the Parquet file ``path``: with ``format``, or for ``"auto"`` the
    format whose sniffer recognises its first row.  CSV is a text layout, so a
    Parquet file named ``csv`` holds canonical events; auditkit's frame columns are
    read as the canonical events they hold.

    Raises
    ------
    SchemaError
        When the file cannot be read, or no format recognises its first row.
    """
    from auditkit.ingest.registry import detect_format, get_format

    frame = frame_layout(parquet_columns(path))
    if format == "auto":
        inner = detect_format(path, head=parquet_head(path, frame=frame))
    else:
        inner = get_format(format) if isinstance(format, str) else format
    if inner.name == "csv":
        inner = get_format("auditkit")
    return ParquetInput(inner, frame=inner.name == "auditkit" and frame)
