"""Streaming readers for JSON documents that hold many records.

:func:`iter_json_array` reads ``[{...}, {...}]`` or ``{"Records": [{...}, ...]}``
one record at a time in bounded memory, whatever the file size (CloudTrail
deliveries, ``gcloud logging read --format=json``, Okta and GitLab API pages).
:func:`iter_json_auto` looks at a file's first bytes and picks the right
reader: a streamed array, NDJSON, or one whole document.

How a record's end is found: a candidate end is a ``}`` followed by ``,`` or
``]``.  The bytes from the record's start to a candidate are parsed with
orjson; a candidate inside a string or a nested object cannot parse as a
complete object (JSON is read left to right), so the first candidate that
parses is the record's true end.  After a few failed candidates the reader
falls back to an exact scan of strings and brackets, which also skips
oversized records without holding them.  Like the readers in
:mod:`auditkit.ingest._readers`, nothing here raises on bad bytes: a record
that cannot be read becomes a :class:`RawRecord` with an ``error``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Generator, Iterator
from typing import IO, Any, Final

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import RawRecord
from auditkit.ingest._readers import (
    _KEEP_TEXT,
    MAX_RECORD_BYTES,
    NOT_UTF8_HINT,
    _cut,
    _read_block,
    http_reason,
    iter_json_records,
    iter_ndjson,
    loads_json,
    open_binary,
    read_head,
)

__all__ = ["JsonRecordsFormat", "iter_json_array", "iter_json_auto", "json_layout"]

_CHUNK: Final = 1 << 20
_MAX_TRIES: Final = 8
_CANDIDATE: Final = re.compile(rb"\}(?=[ \t\r\n]*[,\]])")
_FIRST_KEY: Final = re.compile(rb'\{"[^"\\]{1,64}":')
_NOT_WS: Final = re.compile(rb"[^ \t\r\n]")
_OUTSIDE: Final = re.compile(rb'["{}\[\]]')
_INSIDE: Final = re.compile(rb'["\\]')
_SCALAR_END: Final = re.compile(rb"[,\]} \t\r\n]")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN, _CLOSE = frozenset(b"{["), frozenset(b"}]")
_WS: Final = frozenset(b" \t\r\n")


def _bad_json(data: bytes) -> str:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return f"invalid UTF-8 at byte {uexc.start} of the record{NOT_UTF8_HINT}"
        return f"invalid JSON ({exc.msg})"
    return "invalid JSON"


class _Buffer:
    """A file read in chunks; ``pos`` is the reading position in ``data``."""

    def __init__(self, f: IO[bytes], chunk_size: int) -> None:
        self.f = f
        self.chunk_size = chunk_size
        self.data = b""
        self.pos = 0
        self.eof = False
        self.error: str | None = None
        #: newlines before ``data[line_pos]`` in the whole file (:meth:`line_at`)
        self.line_no = 0
        self.line_pos = 0

    def line_at(self, at: int) -> int:
        """The line (from 1) of ``data[at]``; ``at`` never goes back between calls."""
        self.line_no += self.data.count(b"\n", self.line_pos, at)
        self.line_pos = at
        return self.line_no + 1

    def fill(self) -> int | None:
        """Read one more chunk, dropping bytes before ``pos``; return the shift or ``None``.

        Offsets into ``data`` held by the caller must be reduced by the shift.
        """
        if self.eof:
            return None
        exc: Exception | None
        try:  # what a file cut short gave before the cut is kept (read() would lose it)
            chunk, exc = _read_block(self.f, self.chunk_size)
        except zlib.error as error:
            chunk, exc = b"", error
        if exc is not None:
            self.error = f"file is truncated or corrupt ({exc})"
            self.eof = True
        if not chunk:
            self.eof = True
            return None
        shift = self.pos
        self.line_no += self.data.count(b"\n", self.line_pos, shift)
        self.line_pos = 0
        self.data = self.data[shift:] + chunk
        self.pos = 0
        return shift

    def peek(self) -> int | None:
        """Skip whitespace and return the next byte, or ``None`` at the end."""
        if self.pos < len(self.data) and self.data[self.pos] not in _WS:
            return self.data[self.pos]  # the common case: no whitespace to skip
        while True:
            m = _NOT_WS.search(self.data, self.pos)
            if m is not None:
                self.pos = m.start()
                return self.data[self.pos]
            self.pos = len(self.data)
            if self.fill() is None:
                return None

    def object_end(self) -> tuple[int | None, bool, Any]:
        """Find the end of the object starting at ``pos``: ``(end, oversized, parsed)``.

        ``end`` is ``None`` when the file ends inside the object.  An oversized
        object is skipped (``pos`` moved past it) without being held.
        ``parsed`` is the object when finding its end parsed it already.
        """
        # compact files (CloudTrail deliveries): the next record starts with the same key
        m = _FIRST_KEY.match(self.data, self.pos)
        if m is not None:
            at = self.data.find(b"},{" + self.data[self.pos + 1 : m.end()], self.pos)
            if at >= 0:
                try:
                    return at + 1, False, loads_json(memoryview(self.data)[self.pos : at + 1])
                except orjson.JSONDecodeError:
                    pass
        search = self.pos
        tries = 0
        while tries < _MAX_TRIES:
            m = _CANDIDATE.search(self.data, search)
            if m is None:
                if len(self.data) - self.pos > MAX_RECORD_BYTES:
                    break
                shift = self.fill()
                if shift is None:
                    break
                search = max(self.pos, search - shift)
                continue
            try:
                value = loads_json(memoryview(self.data)[self.pos : m.end()])
            except orjson.JSONDecodeError:
                tries += 1
                search = m.end()
                continue
            return m.end(), False, value
        return (*self.scan_end(), None)

    def scan_end(self, depth: int = 0) -> tuple[int | None, bool]:
        """Exact scan of strings and brackets from ``pos`` to the end of one value
        (of the value ``depth`` brackets out, when ``pos`` is inside one)."""
        inside = False
        p = self.pos
        oversized = False
        while True:
            m = (_INSIDE if inside else _OUTSIDE).search(self.data, p)
            if m is None or (
                inside and self.data[m.start()] == _BACKSLASH and m.start() + 1 >= len(self.data)
            ):
                p = len(self.data) if m is None else m.start()
                if p - self.pos > MAX_RECORD_BYTES:
                    oversized = True
                    self.pos = p  # let fill() drop what was scanned
                shift = self.fill()
                if shift is None:
                    return None, oversized
                p -= shift
                continue
            q = m.start()
            c = self.data[q]
            if inside:
                if c == _BACKSLASH:
                    p = q + 2
                    continue
                inside = False
                if depth <= 0:  # the value was a string
                    return q + 1, oversized or q + 1 - self.pos > MAX_RECORD_BYTES
            elif c == _QUOTE:
                inside = True
            elif c in _OPEN:
                depth += 1
            elif c in _CLOSE:
                depth -= 1
                if depth <= 0:
                    return q + 1, oversized or q + 1 - self.pos > MAX_RECORD_BYTES
            p = q + 1

    def value_end(self) -> tuple[int | None, bool, Any]:
        """End of any JSON value at ``pos`` (used to step over non-object items)."""
        first = self.data[self.pos]
        if first in _OPEN or first == _QUOTE:
            return (*self.scan_end(), None)
        while True:
            m = _SCALAR_END.search(self.data, self.pos)
            if m is not None:
                return m.start(), False, None
            if self.fill() is None:
                return len(self.data), False, None


def _start(buf: _Buffer, key: str | None) -> bool:
    """Move to the first item of the array (after ``[``); ``False`` if the layout differs."""
    opener = (
        re.compile(
            rb'\A[ \t\r\n]*\{[ \t\r\n]*"' + re.escape(key.encode()) + rb'"[ \t\r\n]*:[ \t\r\n]*\['
        )
        if key
        else re.compile(rb"\A[ \t\r\n]*\[")
    )
    while len(buf.data) - buf.pos < 65536 and buf.fill() is not None:
        pass
    m = opener.match(buf.data[buf.pos :])
    if m is None:
        return False
    buf.pos += m.end()
    return True


def iter_json_array(
    path: str, *, key: str | None = None, chunk_size: int = _CHUNK
) -> Iterator[RawRecord]:
    """Stream the objects of a JSON array, top-level or under ``{key: [...]}``, gzip or not.

    Each record has the ``line`` it starts on and a ``location`` like
    ``Records[0]``.  Items that are not objects, records
    over :data:`~auditkit.ingest._readers.MAX_RECORD_BYTES`, invalid JSON or
    UTF-8, and a truncated end become records with an ``error``; the reader
    goes on after each bad record when it can find its end.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ct.json")
    >>> _ = open(p, "w").write('{"Records": [{"a": "}]"}, 7, {"b": [{"c": 1}, {}]}]}')
    >>> for r in iter_json_array(p, key="Records"):
    ...     print(r.location, r.value, r.error is not None)
    Records[0] {'a': '}]'} False
    Records[1] None True
    Records[2] {'b': [{'c': 1}, {}]} False
    """
    try:
        f = open_binary(path)
    except OSError as exc:
        yield RawRecord(path, 0, error=SchemaError(f"cannot open file: {exc.strerror}", file=path))
        return
    with f:
        buf = _Buffer(f, chunk_size)
        if not _start(buf, key):
            where = f'{{"{key}": [...]}}' if key else "[...]"
            reason = buf.error or f"expected a JSON document {where}"
            yield RawRecord(
                path,
                1,
                error=SchemaError(reason, file=path, line=1),
                text=_cut(buf.data[:_KEEP_TEXT]),
            )
            return
        document = 0
        while True:
            label = f"[{document}]" if document else ""
            if key:
                label = f"{label}.{key}" if document else key
            if not (yield from _items(buf, path, label)):
                return
            end = (buf.scan_end(1)[0] if key else buf.pos) if buf.error is None else None
            if end is None:  # the rest of {key: [...], ...} is cut short
                line = buf.line_at(min(buf.pos, len(buf.data)))
                reason = buf.error or "file ends inside the document; it is truncated"
                yield RawRecord(path, line, error=SchemaError(reason, file=path, line=line))
                return
            buf.pos = end
            c = buf.peek()
            if c == ord(",") and not key:  # [...],[...]
                buf.pos += 1
                c = buf.peek()
            if c is None:
                return
            # another document written after this one: pages of an API saved one after
            # another (``curl ... >> pages.json``), deliveries concatenated (``cat``)
            line = buf.line_at(buf.pos)
            if not _start(buf, key):
                what = f'the {{"{key}": [...]}} document' if key else "the JSON array"
                yield RawRecord(
                    path,
                    line,
                    location=f"[{document + 1}]",
                    text=_cut(bytes(buf.data[buf.pos : buf.pos + _KEEP_TEXT])),
                    error=SchemaError(
                        buf.error
                        or f"unexpected data after {what}: expected another one or the end "
                        "of the file",
                        file=path,
                        line=line,
                    ),
                )
                return
            document += 1


def _items(buf: _Buffer, path: str, label: str) -> Generator[RawRecord, None, bool]:
    """Yield the items of the array whose ``[`` was read; return whether its ``]`` was
    read (``buf.pos`` after it), ``False`` when the array is cut short or broken."""
    index = 0
    while True:
        c = buf.peek()
        if c is None:
            reason = buf.error or "file ends inside the array; it is truncated"
            line = buf.line_at(min(buf.pos, len(buf.data)))
            yield RawRecord(
                path,
                line,
                location=f"{label}[{index}]",
                error=SchemaError(reason, file=path, line=line),
            )
            return False
        if c == ord("]"):
            buf.pos += 1
            return True
        loc = f"{label}[{index}]"
        line = buf.line_at(buf.pos)  # where the record starts (a pretty-printed file)
        start = buf.pos
        # the record's first bytes, for the quarantine: the buffer is never changed
        # in place (fill() makes a new one), so it is cut only for a bad record
        data = buf.data
        end, oversized, parsed = buf.object_end() if c == ord("{") else buf.value_end()
        if end is None:
            reason = buf.error or "file ends inside this record; it is truncated"
            yield RawRecord(
                path,
                line,
                location=loc,
                text=_cut(data[start : start + _KEEP_TEXT]),
                error=SchemaError(reason, file=path, line=line),
            )
            return False
        if oversized:
            yield RawRecord(
                path,
                line,
                location=loc,
                text=_cut(data[start : start + _KEEP_TEXT]) + " ...",
                error=SchemaError(
                    f"record is over the {MAX_RECORD_BYTES}-byte limit", file=path, line=line
                ),
            )
        elif isinstance(parsed, dict):
            yield RawRecord(path, line, value=parsed, location=loc)
        else:
            yield _record(path, line, loc, bytes(buf.data[buf.pos : end]))
        buf.pos = end
        index += 1
        c = buf.peek()
        if c == ord(","):
            buf.pos += 1
        elif c != ord("]"):
            found = "the end of the file" if c is None else repr(chr(c))
            reason = buf.error or f"expected ',' or ']' after the record, found {found}"
            line = buf.line_at(min(buf.pos, len(buf.data)))
            yield RawRecord(
                path,
                line,
                location=f"{label}[{index}]",
                text=_cut(bytes(buf.data[buf.pos : buf.pos + _KEEP_TEXT])),
                error=SchemaError(reason, file=path, line=line),
            )
            return False


def _record(path: str, line: int, loc: str, data: bytes) -> RawRecord:
    try:
        value: Any = loads_json(data)
    except orjson.JSONDecodeError:
        return RawRecord(
            path,
            line,
            location=loc,
            text=_cut(data),
            error=SchemaError(_bad_json(data), file=path, line=line),
        )
    if not isinstance(value, dict):
        return RawRecord(
            path,
            line,
            location=loc,
            text=_cut(data),
            error=SchemaError(
                f"expected a JSON object, got {type(value).__name__}", file=path, line=line
            ),
        )
    return RawRecord(path, line, value=value, location=loc)


def json_layout(path: str, *, key: str | None = None) -> str:
    """How a file of JSON records is laid out: ``"array"`` (``[ ... ]``), ``"keyed"``
    (``{"<key>": [ ... ]`` with the key first), ``"ndjson"`` (one object per line)
    or ``"document"`` (anything else, read whole).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ct.json")
    >>> _ = open(p, "w").write('{\\n  "Records": [{"eventName": "ConsoleLogin"}]}')
    >>> json_layout(p, key="Records"), json_layout(p)
    ('keyed', 'document')
    """
    head = read_head(path, 65536)
    body = head.lstrip()  # (open_binary has dropped a byte order mark)
    if body[:1] == b"[":
        return "array"
    if key and re.match(
        rb'\{[ \t\r\n]*"' + re.escape(key.encode()) + rb'"[ \t\r\n]*:[ \t\r\n]*\[', body
    ):
        return "keyed"
    if body[:1] == b"{":
        first = body.split(b"\n", 1)[0].rstrip()
        try:
            value = orjson.loads(first.removesuffix(b","))  # (an array's items, one a line)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict) and not (key and isinstance(value.get(key), list)):
            return "ndjson"
        return "document"
    return "ndjson"


def iter_json_auto(path: str, *, key: str | None = None) -> Iterator[RawRecord]:
    """Read a file of JSON records whatever its layout (:func:`json_layout`),
    streaming where it can.

    - ``[ ... ]`` or ``{"<key>": [ ... ]`` (key first): :func:`iter_json_array`;
    - one object per line: NDJSON (:func:`~auditkit.ingest._readers.iter_ndjson`);
    - anything else (one pretty-printed object, ``key`` not first): the whole
      document (:func:`~auditkit.ingest._readers.iter_json_records`).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "okta.json")
    >>> _ = open(p, "w").write('{"uuid": "a"}\\n{"uuid": "b"}\\n')
    >>> [r.value["uuid"] for r in iter_json_auto(p)]
    ['a', 'b']
    """
    why = http_reason(read_head(path, 512))
    if why is not None:
        raise SchemaError(why, file=path)
    layout = json_layout(path, key=key)
    if layout == "array":
        yield from iter_json_array(path)
    elif layout == "keyed":
        yield from iter_json_array(path, key=key)
    elif layout == "document":
        yield from iter_json_records(path, key=key)
    else:
        yield from iter_ndjson(path)


class JsonRecordsFormat:
    """Base of the formats whose files hold JSON records in any layout (NDJSON, a JSON
    array, ``{records_key: [...]}``, one object): how they are read and split.

    Subclasses set ``records_key`` when their documents keep the records under a key
    (CloudTrail's ``Records``) and provide ``name``, ``sniff`` and ``to_event``.
    """

    records_key: str | None = None

    def records(self, path: str) -> Iterator[RawRecord]:
        """Stream the file's records, whatever its layout (:func:`iter_json_auto`)."""
        return iter_json_auto(path, key=self.records_key)

    def ndjson(self, path: str) -> bool:
        """Whether ``path`` holds one record per line (a parallel ingest splits it)."""
        return json_layout(path, key=self.records_key) == "ndjson"
