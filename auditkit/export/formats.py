"""Export formats: the one place they are registered, and :func:`export_frame`.

Each format writes an event frame (:data:`auditkit.schema.FRAME_SCHEMA` columns)
to a file.  The built-in ones:

``ndjson``
    Canonical events, one JSON object per line, absent fields omitted: what
    ``auditkit ingest`` (format ``auditkit``) reads back.
``json``
    The same events as one JSON array (also re-importable).
``csv``
    One row per event, nested fields as dotted columns (``actor.id``,
    ``source.geo.country``) or JSON (``targets``, ``changes``, ``metadata``);
    ``auditkit ingest --format csv`` reads it back.  Spreadsheet-safe: a cell
    that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
    ``@``, tab or CR, after any leading quotes) gets a leading ``'``.
``parquet``
    The frame itself (typed columns, lists and structs), zstd-compressed, for
    Polars, DuckDB, Spark or pandas.

By default the store's fields ``seq`` and ``received_at`` are exported too (they
say where the event sits in the signed log, so an auditor can ask for its
inclusion proof); re-importing such a file keeps them under
``metadata.imported``.  Pass ``store_fields=False`` for the bare events.

Every format writes in bounded memory: the events go through in chunks of
50,000 (a LazyFrame, e.g. from :meth:`auditkit.store.Store.scan`, is never
collected whole), so :func:`export_store` exports a store of any size.

The SIEM formats (CEF, LEEF, OCSF, ECS, syslog, Splunk HEC) live in their own
modules of this package and register here the same way.

Adding a format is one call to :func:`register_export_format` with an
``encoder`` (a chunk of events -> one ``bytes`` record per event, written one a
line; the push destinations of ``auditkit stream`` use it too), a ``stream``
writer ``(chunks, file) -> None``, or a plain ``writer`` ``(frame, path) -> None``
(which sees the whole frame at once), in a module declared under the
``auditkit.export_formats`` entry-point group (auditkit's own are declared in its
``pyproject.toml`` the same way: see :mod:`auditkit.plugins`); the CLI and the
widgets' export buttons list whatever is registered.
"""

from __future__ import annotations

import atexit
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import orjson
import polars as pl

from auditkit.errors import AuditkitError, UsageError
from auditkit.export._json import (
    canonical_struct,
    json_line_safe,
    json_line_safe_bytes,
    json_text,
)
from auditkit.frame import as_event_frame
from auditkit.plugins import GROUPS, Registry
from auditkit.schema import FRAME_SCHEMA

if TYPE_CHECKING:
    import pandas as pd

    from auditkit.store import Store

__all__ = [
    "CSV_COLUMNS",
    "ExportFormat",
    "ExportResult",
    "available_export_formats",
    "canonical_lines",
    "canonical_records",
    "export_chunks",
    "export_frame",
    "export_store",
    "format_for_path",
    "frame_to_events",
    "get_export_format",
    "register_export_format",
    "spreadsheet_safe",
]

Writer = Callable[[pl.DataFrame, Path], None]
#: One chunk of events -> one record per event (without a line end).
Encoder = Callable[[pl.DataFrame], list[bytes]]
#: One chunk of events -> one line of text per event (a String Series, no line ends).
Lines = Callable[[pl.DataFrame], pl.Series]
#: Chunks of events -> the file's bytes, written to an open binary file.
StreamWriter = Callable[[Iterable[pl.DataFrame], BinaryIO], None]

_FORMATS: Registry[ExportFormat] = Registry("export format", group=GROUPS["export_formats"])
_REQUIRED: Final = ("event_id", "tenant_id", "occurred_at", "action", "actor_id")
_STORE_FIELDS: Final = ("seq", "received_at")
_TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"
_CHUNK: Final = 50_000
# a cell a spreadsheet would evaluate: a formula character, possibly behind quotes
# (quotes too, so that the importer's "strip one quote" gives the cell back exactly);
# the fullwidth forms too, which spreadsheets in CJK locales may take for the ASCII ones
_FORMULA: Final = r"^'*[=+\-@\t\r\uff1d\uff0b\uff0d\uff20]"


@dataclass(frozen=True)
class ExportFormat:
    """A registered export format.

    Attributes
    ----------
    name
        Registry key (``auditkit export --format NAME``).
    suffix
        File name suffix, with the dot.
    media_type
        MIME type (for downloads).
    description
        A few words for listings.
    writer
        ``writer(frame, path)`` writes the whole frame at once (its public
        columns, without ``seq`` and ``received_at`` when ``store_fields=False``);
        ``None`` when the format has an ``encoder`` or a ``stream`` writer.
    reimport_format
        The ``auditkit ingest --format`` that reads the file back, if any.
    encoder
        ``encoder(chunk)`` gives one record (bytes, no line end) per event of a
        chunk; the file holds them one a line.  Push destinations send these.
    stream
        ``stream(chunks, file)`` writes chunk after chunk to an open binary file
        (for formats with a header or a footer: JSON arrays, CSV, Parquet).
    lines
        ``lines(chunk)``: the records as a Polars String Series (a faster
        ``encoder``, which it provides when none is given).
    """

    name: str
    suffix: str
    media_type: str
    description: str
    writer: Writer | None = None
    reimport_format: str | None = None
    encoder: Encoder | None = None
    stream: StreamWriter | None = None
    lines: Lines | None = None

    def __post_init__(self) -> None:
        if self.lines is not None and self.encoder is None:
            object.__setattr__(self, "encoder", records_of(self.lines))
        if self.writer is None and self.encoder is None and self.stream is None:
            raise UsageError(f"export format {self.name!r}: give a writer, an encoder or a stream")


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote.

    Examples
    --------
    >>> ExportResult(Path("x.csv"), "csv", 3, 120).summary()
    'wrote 3 events to x.csv (csv, 120 bytes)'
    """

    path: Path
    format: str
    rows: int
    bytes: int
    tenants: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        """One line for people."""
        return f"wrote {self.rows:,} events to {self.path} ({self.format}, {_size(self.bytes)})"


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def register_export_format(fmt: ExportFormat) -> ExportFormat:
    """Register an export format under ``fmt.name`` and return it.

    Examples
    --------
    >>> def write_ids(frame, path):
    ...     path.write_text("\\n".join(frame["event_id"]) + "\\n")
    >>> fmt = register_export_format(ExportFormat(
    ...     "ids", ".txt", "text/plain", "event ids, one a line", write_ids))
    >>> "ids" in available_export_formats()
    True
    >>> _ = _FORMATS.unregister("ids")  # (keep the registry as it was)
    """
    return _FORMATS.register(fmt.name, fmt)


def available_export_formats() -> dict[str, ExportFormat]:
    """The registered export formats by name, sorted.

    Examples
    --------
    >>> list(available_export_formats())
    ['cef', 'csv', 'ecs', 'hec', 'json', 'leef', 'ndjson', 'ocsf', 'parquet', 'syslog']
    """
    return _FORMATS.all()


def get_export_format(name: str) -> ExportFormat:
    """The format called ``name``, or :class:`UsageError` listing the known ones.

    Examples
    --------
    >>> get_export_format("ndjson").suffix
    '.ndjson'
    >>> get_export_format("xls")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: unknown export format 'xls'; known: cef, csv, ecs, hec, json, ...
    """
    return _FORMATS.get(name)


def format_for_path(path: str | os.PathLike[str]) -> ExportFormat:
    """The format whose suffix ends ``path`` (``.jsonl`` counts as NDJSON).

    Examples
    --------
    >>> format_for_path("evidence.parquet").name, format_for_path("x.jsonl").name
    ('parquet', 'ndjson')
    """
    name = os.fspath(path).lower()
    if name.endswith(".jsonl"):
        return get_export_format("ndjson")
    for fmt in sorted(available_export_formats().values(), key=lambda f: -len(f.suffix)):
        if name.endswith(fmt.suffix):
            return fmt
    known = ", ".join(f.suffix for f in available_export_formats().values())
    raise UsageError(
        f"{os.fspath(path)}: cannot tell the export format from the name "
        f"(expected one of {known}); pass format="
    )


def _complete(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with every FRAME_SCHEMA column (absent optional ones null)."""
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise UsageError(f"cannot export events without column(s) {missing}; got {frame.columns}")
    extra = [
        pl.lit(None, dtype=t).alias(c)
        for c, t in FRAME_SCHEMA.items()
        if c not in frame.columns and c not in _STORE_FIELDS
    ]
    return frame.with_columns(extra) if extra else frame


def export_frame(
    frame: pl.DataFrame | pl.LazyFrame | pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    store_fields: bool = True,
) -> ExportResult:
    """Write an event frame to ``path`` in a registered format.

    The file is written beside ``path`` and renamed into place, so a reader
    never sees half a file.  A LazyFrame is read in chunks, never whole (for
    formats with an ``encoder`` or a ``stream`` writer: all the built-in ones).

    Parameters
    ----------
    frame
        Events with :data:`~auditkit.schema.FRAME_SCHEMA` columns (a subset is
        fine as long as ``event_id``, ``tenant_id``, ``occurred_at``, ``action``
        and ``actor_id`` are there).  Columns starting with ``_`` are left out.
    path
        Where to write.
    format
        A name from :func:`available_export_formats`; by default from the suffix.
    store_fields
        Export ``seq`` and ``received_at`` too (default).

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}, "description": "=cmd()"}])
    >>> out = os.path.join(tempfile.mkdtemp(), "events.csv")
    >>> export_frame(df, out).rows
    1
    >>> open(out).read().splitlines()[1].split(",")[-3]
    "'=cmd()"
    """
    frame = as_event_frame(frame)  # a pandas frame too
    if isinstance(frame, pl.LazyFrame):
        chunks: Iterable[pl.DataFrame] = frame.collect_batches(chunk_size=_CHUNK)
    else:
        chunks = (frame.slice(lo, _CHUNK) for lo in range(0, max(frame.height, 1), _CHUNK))
    return export_chunks(chunks, path, format=format, store_fields=store_fields)


def export_chunks(
    chunks: Iterable[pl.DataFrame],
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    store_fields: bool = True,
) -> ExportResult:
    """Write chunks of events (frames with the same columns) to ``path``, one
    chunk in memory at a time; see :func:`export_frame`.

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": t, "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "u1"}} for t in ("a", "b")])
    >>> out = os.path.join(tempfile.mkdtemp(), "events.ndjson")
    >>> r = export_chunks([df.head(1), df.tail(1)], out)
    >>> r.rows, r.tenants
    (2, ('a', 'b'))
    """
    fmt = get_export_format(format) if format is not None else format_for_path(path)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.part")
    counted = _Counted(chunks, store_fields=store_fields)

    def remove_part() -> None:
        tmp.unlink(missing_ok=True)

    # and at exit, should an interrupt land in the clean-up below (Ctrl-C while the
    # worker threads unwind left the hidden .part file behind about once in twenty)
    atexit.register(remove_part)
    try:
        if fmt.stream is not None or fmt.encoder is not None:
            with tmp.open("wb") as f:
                if fmt.stream is not None:
                    fmt.stream(counted, f)
                elif fmt.lines is not None:
                    _write_lines(fmt.lines, counted, f)
                else:
                    _write_records(fmt.encoder, counted, f)  # type: ignore[arg-type]
        else:
            assert fmt.writer is not None
            fmt.writer(pl.concat(list(counted), how="vertical_relaxed"), tmp)
        os.replace(tmp, target)
    finally:
        remove_part()
        atexit.unregister(remove_part)
    return ExportResult(
        target, fmt.name, counted.rows, target.stat().st_size, tuple(sorted(counted.tenants))
    )


def export_store(
    store: Store,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    tenant: str | Sequence[str] | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    store_fields: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Export a store's verified events in bounded memory.

    The events are verified chunk by chunk through :meth:`Store.iter_verified
    <auditkit.store.Store.iter_verified>` and encoded and written as they come (the
    encoding of one chunk overlaps the verification of the next): memory stays
    flat whatever the store's size.  The file is written beside ``path`` and
    renamed into place only when the whole selection verified: a tampered store
    raises :class:`~auditkit.errors.TamperedError` and leaves no file.

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.store import Store
    >>> d = tempfile.mkdtemp()
    >>> store = Store.init(os.path.join(d, "a.db"))
    >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                    "action": "user.login", "actor": {"id": "u1"}}])
    >>> export_store(store, os.path.join(d, "out.cef")).summary()  # doctest: +ELLIPSIS
    'wrote 1 events to ...out.cef (cef, ... bytes)'
    """
    fmt = get_export_format(format) if format is not None else format_for_path(path)
    for again in (False, True):
        chunks = (
            frame.slice(lo, _CHUNK)
            for frame in store.iter_verified(tenant, start=start, end=end, progress=progress)
            for lo in range(0, frame.height, _CHUNK)
        )
        # the first chunk (an empty frame when nothing matched) carries the columns
        first = pl.DataFrame(schema=FRAME_SCHEMA)
        result = export_chunks(
            itertools.chain([first], chunks), path, format=fmt.name, store_fields=store_fields
        )
        # a retention run sealed records while they were read (they are in the cold tier
        # now, and not in the file): the file is written once more, with them
        report = store.last_report
        if again or report is None or not report.overtaken:
            break
    return result


class _Counted:
    """The chunks, public columns only, counting rows and tenants."""

    def __init__(self, chunks: Iterable[pl.DataFrame], *, store_fields: bool) -> None:
        self._chunks = chunks
        self._store_fields = store_fields
        self.rows = 0
        self.tenants: set[str] = set()

    def __iter__(self) -> Iterator[pl.DataFrame]:
        seen = False
        for chunk in self._chunks:
            if seen and chunk.height == 0:
                continue
            seen = True
            df = chunk.select([c for c in chunk.columns if not c.startswith("_")])
            if not self._store_fields:
                df = df.drop([c for c in _STORE_FIELDS if c in df.columns])
            self.rows += df.height
            if df.height and "tenant_id" in df.columns:
                self.tenants.update(df.get_column("tenant_id").unique().to_list())
            yield df


def records_of(lines: Lines) -> Encoder:
    """An encoder (bytes per event) from a ``lines`` function (a String Series)."""

    def encode(chunk: pl.DataFrame) -> list[bytes]:
        return lines(chunk).cast(pl.Binary).to_list() if chunk.height else []

    return encode


def _write_lines(lines: Lines, chunks: Iterable[pl.DataFrame], f: BinaryIO) -> None:
    # Polars writes each chunk's lines, every one ended by a newline, straight from its
    # own buffers (no Python string, no Arrow copy), the GIL released, while the next
    # chunk is encoded.  ``quote_style="never"``: a line is written as it is (every
    # line format escapes its own newlines; a test holds the bytes to the encoder's).
    def write(text: pl.Series) -> None:
        f.flush()
        text.to_frame().write_csv(f, include_header=False, quote_style="never")

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="auditkit-write") as writer:
        pending: Future[None] | None = None
        for chunk in chunks:
            if chunk.height:
                text = lines(chunk)
                if text.null_count():
                    raise AuditkitError(
                        f"the export format gave no line for {text.null_count()} of "
                        f"{chunk.height} events; nothing was written"
                    )
                if pending is not None:
                    pending.result()
                pending = writer.submit(write, text)
        if pending is not None:
            pending.result()


def _write_records(encoder: Encoder, chunks: Iterable[pl.DataFrame], f: BinaryIO) -> None:
    for chunk in chunks:
        if chunk.height:
            records = encoder(chunk)
            f.write(b"\n".join(records) + b"\n")


# -- canonical events ------------------------------------------------------------------
def _text_columns(df: pl.DataFrame) -> pl.DataFrame:
    ts = [
        pl.col(c).dt.strftime(_TS_FORMAT) for c in ("occurred_at", "received_at") if c in df.columns
    ]
    return df.with_columns(ts)


def _drop_none(d: dict[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    out = {k: v for k, v in d.items() if v is not None}
    return out or None


def frame_to_events(
    frame: pl.DataFrame, *, chunk_size: int = _CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """Turn an event frame back into canonical event dicts, in chunks.

    Fields are in the order of the canonical schema (``docs/store.md``), absent ones
    omitted (never ``null``).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "outcome": "success",
    ...     "actor": {"id": "u1", "roles": ["admin"]}, "metadata": {"k": 1}}])
    >>> event = next(frame_to_events(df))[0]
    >>> del event["event_id"]  # (derived from the content)
    >>> event  # doctest: +NORMALIZE_WHITESPACE
    {'tenant_id': 'acme', 'seq': 0, 'occurred_at': '2026-01-05T09:00:00.000000Z',
     'received_at': '2026-01-05T09:00:00.000000Z', 'action': 'user.login',
     'category': 'management', 'outcome': 'success',
     'actor': {'id': 'u1', 'roles': ['admin']}, 'metadata': {'k': 1}}
    """
    df = _text_columns(_complete(frame))
    for lo in range(0, df.height, chunk_size):
        yield _chunk_events(df.slice(lo, chunk_size))


def _chunk_events(df: pl.DataFrame) -> list[dict[str, Any]]:
    c = {name: df.get_column(name).to_list() for name in df.columns}
    n = df.height
    none = [None] * n
    seq, recv = c.get("seq", none), c.get("received_at", none)
    loads = orjson.loads
    out: list[dict[str, Any]] = []
    for i in range(n):
        actor = _drop_none(
            {
                "id": c["actor_id"][i],
                "type": c["actor_type"][i],
                "name": c["actor_name"][i],
                "email": c["actor_email"][i],
                "roles": c["actor_roles"][i],
            }
        )
        geo = _drop_none(
            {
                "country": c["geo_country"][i],
                "city": c["geo_city"][i],
                "lat": c["geo_lat"][i],
                "lon": c["geo_lon"][i],
            }
        )
        source = _drop_none({"ip": c["source_ip"][i], "user_agent": c["user_agent"][i], "geo": geo})
        observer = _drop_none(
            {
                "service": c["observer_service"][i],
                "version": c["observer_version"][i],
                "region": c["observer_region"][i],
            }
        )
        targets = c["targets"][i]
        if targets is not None:
            targets = [{k: v for k, v in t.items() if v is not None} for t in targets]
        changes, metadata = c["changes"][i], c["metadata"][i]
        event = {
            "event_id": c["event_id"][i], "tenant_id": c["tenant_id"][i], "seq": seq[i],
            "occurred_at": c["occurred_at"][i], "received_at": recv[i],
            "action": c["action"][i], "category": c["category"][i],
            "outcome": c["outcome"][i], "actor": actor, "targets": targets,
            "source": source, "observer": observer, "request_id": c["request_id"][i],
            "session_id": c["session_id"][i], "description": c["description"][i],
            "changes": None if changes is None else loads(changes),
            "metadata": None if metadata is None else loads(metadata),
        }  # fmt: skip
        out.append({k: v for k, v in event.items() if v is not None})
    return out


def canonical_lines(chunk: pl.DataFrame) -> pl.Series:
    """The canonical events of a chunk as JSON text, built column-wise (NEL, U+2028
    and U+2029, which JSON may hold raw, as JSON escapes: one line for every reader)."""
    df = _complete(chunk)
    splice = [("changes", pl.col("changes")), ("metadata", pl.col("metadata"))]
    text = json_line_safe(json_text(canonical_struct(df.columns), splice=splice, depth=1))
    return df.lazy().select(text.alias("canonical")).collect(engine="streaming").to_series()


def canonical_records(chunk: pl.DataFrame) -> list[bytes]:
    """The canonical events of a chunk as JSON, one ``bytes`` per event.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"event_id": "e1", "tenant_id": "acme",
    ...     "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
    ...     "actor": {"id": "u1"}}])
    >>> canonical_records(df)[0][:40]
    b'{"event_id":"e1","tenant_id":"acme","seq'
    """
    return records_of(canonical_lines)(chunk)


def canonical_records_reference(chunk: pl.DataFrame) -> list[bytes]:
    """:func:`canonical_records` one event at a time (the reference it is tested against)."""
    dumps = orjson.dumps
    return [json_line_safe_bytes(dumps(e))
            for events in frame_to_events(chunk, chunk_size=max(chunk.height, 1))
            for e in events]  # fmt: skip


def _stream_json(chunks: Iterable[pl.DataFrame], f: BinaryIO) -> None:
    f.write(b"[")
    sep = b"\n"
    for chunk in chunks:
        for record in canonical_records(chunk) if chunk.height else []:
            f.write(sep + record)
            sep = b",\n"
    f.write(b"\n]\n")


# -- CSV -------------------------------------------------------------------------------
def _roles_cell(roles: list[str] | None) -> str | None:
    if roles is None:
        return None
    text = ";".join(roles)
    # ";"-joined unless that would not split back into the same list
    if not roles or any(r == "" or ";" in r for r in roles) or text.lstrip("'")[:1] in "[{":
        return orjson.dumps(roles).decode()
    return text


def _targets_cell(targets: list[dict[str, Any]] | None) -> str | None:
    if targets is None:
        return None
    return orjson.dumps([{k: v for k, v in t.items() if v is not None} for t in targets]).decode()


def _mapped(name: str, fn: Callable[[Any], str | None]) -> Callable[[pl.DataFrame], pl.Series]:
    return lambda df: pl.Series([fn(v) for v in df.get_column(name).to_list()], dtype=pl.String)


def _col(name: str) -> Callable[[pl.DataFrame], pl.Series]:
    return lambda df: df.get_column(name)


#: CSV column -> how to get it from an event frame (the importer's dotted names).
CSV_COLUMNS: Final[dict[str, Callable[[pl.DataFrame], pl.Series]]] = {
    "event_id": _col("event_id"),
    "tenant_id": _col("tenant_id"),
    "seq": _col("seq"),
    "occurred_at": _col("occurred_at"),
    "received_at": _col("received_at"),
    "action": _col("action"),
    "category": _col("category"),
    "outcome": _col("outcome"),
    "actor.id": _col("actor_id"),
    "actor.type": _col("actor_type"),
    "actor.name": _col("actor_name"),
    "actor.email": _col("actor_email"),
    "actor.roles": _mapped("actor_roles", _roles_cell),
    "targets": _mapped("targets", _targets_cell),
    "source.ip": _col("source_ip"),
    "source.user_agent": _col("user_agent"),
    "source.geo.country": _col("geo_country"),
    "source.geo.city": _col("geo_city"),
    "source.geo.lat": _col("geo_lat"),
    "source.geo.lon": _col("geo_lon"),
    "observer.service": _col("observer_service"),
    "observer.version": _col("observer_version"),
    "observer.region": _col("observer_region"),
    "request_id": _col("request_id"),
    "session_id": _col("session_id"),
    "description": _col("description"),
    "changes": _col("changes"),
    "metadata": _col("metadata"),
}


def spreadsheet_safe(expr: pl.Expr) -> pl.Expr:
    """Prefix ``'`` to text a spreadsheet would run as a formula (CSV injection).

    Examples
    --------
    >>> s = pl.Series(["=1+1", "-74.0", "'=x", "plain", "'quoted", None, "\uff1d1+1"])
    >>> pl.select(spreadsheet_safe(pl.lit(s))).to_series().to_list()
    ["'=1+1", "'-74.0", "''=x", 'plain', "'quoted", None, "'＝1+1"]
    """
    return pl.when(expr.str.contains(_FORMULA)).then(pl.lit("'") + expr).otherwise(expr)


def _csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    df = _text_columns(_complete(frame))
    cols = {
        name: get(df)
        for name, get in CSV_COLUMNS.items()
        if name not in _STORE_FIELDS or name in df.columns
    }
    out = pl.DataFrame(cols).cast(pl.String)
    return out.select(spreadsheet_safe(pl.col(c)).alias(c) for c in out.columns)


def _stream_csv(chunks: Iterable[pl.DataFrame], f: BinaryIO) -> None:
    first = True
    for chunk in chunks:
        if chunk.height or first:
            _csv_frame(chunk).write_csv(f, include_header=first)
            first = False


# -- Parquet ---------------------------------------------------------------------------
def _stream_parquet(chunks: Iterable[pl.DataFrame], f: BinaryIO) -> None:
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    try:
        for chunk in chunks:
            table = chunk.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(f, table.schema, compression="zstd")
            elif chunk.height == 0:
                continue
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()


for _fmt in (
    ExportFormat(
        "csv",
        ".csv",
        "text/csv",
        "events as CSV (dotted/JSON columns, spreadsheet-safe), re-importable",
        reimport_format="csv",
        stream=_stream_csv,
    ),
    ExportFormat(
        "json",
        ".json",
        "application/json",
        "canonical events as one JSON array, re-importable",
        reimport_format="auditkit",
        stream=_stream_json,
    ),
    ExportFormat(
        "ndjson",
        ".ndjson",
        "application/x-ndjson",
        "canonical events, one per line, re-importable",
        reimport_format="auditkit",
        lines=canonical_lines,
    ),
    ExportFormat(
        "parquet",
        ".parquet",
        "application/vnd.apache.parquet",
        "the typed event frame (Polars, DuckDB, Spark, pandas)",
        stream=_stream_parquet,
    ),
):
    register_export_format(_fmt)
