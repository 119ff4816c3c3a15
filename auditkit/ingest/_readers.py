"""Streaming readers shared by the input formats: gzip-aware, bounded memory,
and never raising on bad bytes: a record that cannot be read becomes a
:class:`RawRecord` with an ``error`` (and is quarantined by the pipeline).
"""

from __future__ import annotations

import bz2
import csv
import dataclasses
import errno
import gzip
import io
import itertools
import json
import lzma
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Final, cast

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import RawRecord

__all__ = [
    "MAX_RECORD_BYTES",
    "csv_delimiter",
    "iter_csv",
    "iter_csv_as",
    "iter_json_records",
    "block_lines",
    "iter_ndjson",
    "ndjson_blocks",
    "ndjson_lines",
    "open_binary",
    "parse_json_line",
    "parse_lines",
    "read_head",
]

#: A single record larger than this is quarantined rather than parsed.
MAX_RECORD_BYTES = 8 * 1024 * 1024
_KEEP_TEXT = 4096


#: said of a record whose bytes are not UTF-8: what it likely is, and the fix
NOT_UTF8_HINT: Final = (
    " (the file is not UTF-8: Latin-1 or Windows-1252? convert it, e.g. "
    "`iconv -f WINDOWS-1252 -t UTF-8`)"
)
#: byte order marks: UTF-8's is dropped; UTF-16 text is read as UTF-8
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


# every digit as "0": a run of 20, or a minus and 19, is a number that may not fit in
# 64 bits (orjson keeps integers up to 2**64 - 1 and down to -2**63 exact)
_DIGITS: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER: Final = b"0" * 20
_LONG_NEGATIVE: Final = b"-" + b"0" * 19


def loads_json(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON as orjson does, except that an integer too large for 64 bits keeps
    every digit: orjson turns such an integer into the nearest float, which would
    change the record without a word (validation then refuses it, or a source
    format keeps it as text, exactly).  Only text holding a run of 20 digits, or a
    minus and 19, is parsed a second time.

    Raises
    ------
    orjson.JSONDecodeError
        For text that is not JSON.

    Examples
    --------
    >>> loads_json(b'{"id": 123456789012345678901234567890, "n": 1.5}')
    {'id': 123456789012345678901234567890, 'n': 1.5}
    >>> loads_json(b"[-9223372036854775809, 18446744073709551615]")
    [-9223372036854775809, 18446744073709551615]
    """
    value = orjson.loads(data)
    raw = data.encode() if isinstance(data, str) else bytes(data)
    step = 1 << 20  # translated a slice at a time: a whole document is not copied
    for at in range(0, len(raw), step):
        digits = raw[at : at + step + len(_LONG_NUMBER)].translate(_DIGITS)
        if _LONG_NUMBER in digits or _LONG_NEGATIVE in digits:
            return json.loads(raw)  # orjson accepted it: valid JSON, no NaN or Infinity
    return value


def dumps_json(value: Any) -> str:
    """A record as JSON text for the quarantine, whatever it holds: integers of any
    size included (orjson refuses those beyond 64 bits); its Python form otherwise.

    >>> dumps_json({"n": 2**70})
    '{"n": 1180591620717411303424}'
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return repr(value)


#: compressed files by their first bytes: (magic, what the messages call them); gzip's
#: with its one compression method (deflate), bzip2's with its block size digit and
#: the magic of its first block (or of the end of an empty stream), so that text that
#: happens to start with ``BZh`` is read as text
_COMPRESSED: Final = (
    (re.compile(rb"\x1f\x8b\x08"), "gzip"),
    (re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)"), "bzip2"),
    (re.compile(rb"\xfd7zXZ\x00"), "xz"),
    (re.compile(rb"\x28\xb5\x2f\xfd"), "zstd"),
)


def compression(head: bytes) -> str | None:
    """The compression a file's first bytes announce (``gzip``, ``bzip2``, ``xz``,
    ``zstd``), or ``None``.

    >>> compression(b"\\x28\\xb5\\x2f\\xfd\\x04"), compression(b'{"a": 1}')
    ('zstd', None)
    >>> compression(bz2.compress(b"{}")[:10]), compression(b"BZh1 is not bzip2")
    ('bzip2', None)
    """
    for magic, name in _COMPRESSED:
        if magic.match(head):
            return name
    return None


def _a(kind: str) -> str:
    return f"an {kind}" if kind == "xz" else f"a {kind}"


def _decompressed(raw: IO[bytes], kind: str) -> IO[bytes]:
    inner: IO[bytes]
    if kind == "gzip":  # through read1, as the others: a file cut short keeps what it gave
        inner = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    elif kind == "bzip2":
        inner = bz2.BZ2File(raw, mode="rb")
    elif kind == "xz":
        inner = lzma.LZMAFile(raw, mode="rb")  # noqa: SIM115 - returned to the caller
    else:
        inner = cast(IO[bytes], _Zstd(raw))
    return cast(IO[bytes], io.BufferedReader(_Failing(inner, kind)))


class _Zstd:
    """zstd frames one after another, decompressed (``read`` and ``close``); a file
    that ends inside a frame raises :class:`EOFError`, as gzip, bzip2 and xz files
    cut short do (zstandard's own stream reader ends quietly there).  The input goes
    to the decompressor 1 KiB at a time: a frame of repeated bytes inflates some
    30,000-fold, so that bounds what one step holds (about 32 MB) for a zstd bomb,
    at no cost for real logs."""

    _STEP = 1024

    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._raw, self._new = raw, zstandard.ZstdDecompressor().decompressobj
        self._obj: Any = None  # the frame being decompressed, once some of it was given
        self._buf, self._at = b"", 0

    def read(self, size: int) -> bytes:
        while self._at >= len(self._buf):
            data = self._raw.read(self._STEP)
            if not data:
                if self._obj is not None:
                    raise EOFError("zstd file ended inside a frame: it is cut short")
                return b""
            out = []
            while data:
                if self._obj is None:
                    self._obj = self._new()
                out.append(self._obj.decompress(data))
                data = b""
                if self._obj.eof:
                    data, self._obj = self._obj.unused_data, None
            self._buf, self._at = b"".join(out), 0
        piece = self._buf[self._at : self._at + size]
        self._at += len(piece)
        return piece

    def close(self) -> None:
        self._raw.close()


class _Failing(io.RawIOBase):
    """A decompressing stream whose errors are all :class:`OSError` or
    :class:`EOFError`, which the readers report per file (``lzma`` and
    ``zstandard`` raise errors of their own for corrupt data)."""

    def __init__(self, inner: IO[bytes], kind: str) -> None:
        self._inner, self._kind = inner, kind
        self._read = getattr(inner, "read1", inner.read)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:  # read1: what one step decompressed, none of it lost if the next step fails
            data = self._read(len(b))
        except (OSError, EOFError):
            raise
        except Exception as exc:
            raise OSError(
                errno.EINVAL, f"{_a(self._kind)} file cut short or corrupt ({exc})"
            ) from None
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def open_binary(path: str) -> IO[bytes]:
    """Open ``path`` for reading UTF-8 bytes, transparently decompressing gzip,
    bzip2, xz and zstd files (told by their first bytes, whatever their name).

    Files as Windows tools write them read as any other: a UTF-8 byte order mark
    (Excel's "CSV UTF-8", PowerShell 7) is dropped, and UTF-16 with its byte order
    mark (Windows PowerShell's ``>``, ``Out-File``), or without it when the text
    starts with two ASCII characters, is transcoded to UTF-8 as it is read.

    Examples
    --------
    >>> import tempfile, os, lzma
    >>> p = os.path.join(tempfile.mkdtemp(), "x.ndjson.gz")
    >>> with gzip.open(p, "wb") as f: _ = f.write(b"{}\\n")
    >>> open_binary(p).read()
    b'{}\\n'
    >>> _ = open(p, "wb").write(lzma.compress(b"{}\\n"))  # xz
    >>> open_binary(p).read()
    b'{}\\n'
    >>> _ = open(p, "wb").write("{\\"a\\": \\"é\\"}\\n".encode("utf-16"))  # with its BOM
    >>> open_binary(p).read().decode()
    '{"a": "é"}\\n'
    """
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    kind = compression(raw.read(10))
    raw.seek(0)
    f: IO[bytes] = raw
    if kind is not None:
        f = _decompressed(raw, kind)
    try:
        head = f.peek(4)[:4] if hasattr(f, "peek") else b""
    except (OSError, EOFError) as exc:  # the magic, then a header cut short or corrupt
        f.close()
        if kind is None or (isinstance(exc, OSError) and exc.errno == errno.EINVAL):
            raise
        raise OSError(errno.EINVAL, f"{_a(kind)} file cut short or corrupt ({exc})") from None
    if head.startswith(_UTF8_BOM):
        f.read(len(_UTF8_BOM))
    elif head[:2] in _UTF16_BOMS:
        f.read(2)
        return cast(IO[bytes], io.BufferedReader(_Utf8From(f, _UTF16_BOMS[head[:2]])))
    elif (utf16 := _utf16_without_bom(head)) is not None:
        return cast(IO[bytes], io.BufferedReader(_Utf8From(f, utf16)))
    return f


#: the bytes of ASCII text (tab, line ends, printable characters)
_ASCII_TEXT: Final = frozenset((0x09, 0x0A, 0x0D, *range(0x20, 0x7F)))


def _utf16_without_bom(head: bytes) -> str | None:
    """The UTF-16 byte order of text written without its byte order mark (.NET's
    ``Encoding.Unicode.GetBytes``, some Windows exports): two characters of ASCII,
    each with a zero byte, as a JSON or CSV file starts; else ``None``.

    >>> _utf16_without_bom('{"a'.encode("utf-16-le")), _utf16_without_bom(b"ab\\x00\\x00")
    ('utf-16-le', None)
    >>> _utf16_without_bom('id,'.encode("utf-16-be"))
    'utf-16-be'
    """
    if len(head) < 4:
        return None
    text = _ASCII_TEXT
    if head[1] == 0 and head[3] == 0 and head[0] in text and head[2] in text:
        return "utf-16-le"
    if head[0] == 0 and head[2] == 0 and head[1] in text and head[3] in text:
        return "utf-16-be"
    return None


class _Utf8From(io.RawIOBase):
    """A binary stream of another encoding, read as UTF-8 (text that does not decode
    becomes U+FFFD, which then fails the record's own checks where it matters)."""

    def __init__(self, source: IO[bytes], encoding: str) -> None:
        import codecs

        self._source = source
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            chunk = self._source.read(1 << 16)
            self._done = not chunk
            self._pending = self._decoder.decode(chunk, final=self._done).encode("utf-8")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._source.close()
        super().close()


def read_head(path: str, size: int = 65536) -> bytes:
    """Return up to ``size`` first bytes of a file (decompressed); what could be read
    before an error (nothing if the file cannot be opened).

    Examples
    --------
    >>> read_head("/nonexistent")
    b''
    """
    return read_head_checked(path, size)[0]


def read_head_checked(path: str, size: int = 65536) -> tuple[bytes, OSError | EOFError | None]:
    """Up to ``size`` first bytes of a file (decompressed), and the error that
    stopped the reading short, if any (a compressed file cut short or corrupt).

    >>> read_head_checked("/nonexistent")[1].strerror
    'No such file or directory'
    """
    try:
        with open_binary(path) as f:
            return _read_block(f, size)
    except (OSError, EOFError) as exc:
        return b"", exc


def _cut(data: bytes) -> str:
    text = data[:_KEEP_TEXT].decode("utf-8", "replace")
    return text if len(data) <= _KEEP_TEXT else text + f"... [{len(data)} bytes]"


def iter_ndjson(path: str) -> Iterator[RawRecord]:
    """Stream an NDJSON file (one JSON object per line), gzip or not.

    Blank lines are skipped; invalid UTF-8, invalid JSON, non-objects, records
    over :data:`MAX_RECORD_BYTES` and a truncated last line become records
    with an ``error``.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "e.ndjson")
    >>> _ = open(p, "wb").write(b'{"a": 1}\\n\\nnot json\\n')
    >>> [(r.line, r.value, r.error is not None) for r in iter_ndjson(p)]
    [(1, {'a': 1}, False), (3, None, True)]
    """
    return parse_lines(path, ndjson_lines(path))


def parse_lines(
    path: str, items: Iterable[tuple[int, bytes, bool] | RawRecord]
) -> Iterator[RawRecord]:
    """Lines from :func:`ndjson_lines` or :func:`block_lines` as parsed records
    (:func:`parse_json_line`); the unreadable ones, already records, as they are."""
    for item in items:
        if type(item) is tuple:
            yield parse_json_line(path, item[0], item[1], last=item[2])
        else:
            yield item  # type: ignore[misc]


def ndjson_lines(path: str) -> Iterator[tuple[int, bytes, bool] | RawRecord]:
    """The non-blank lines of an NDJSON file, unparsed: ``(line number, stripped
    bytes, whether it lacked its newline)``, or a :class:`RawRecord` with an
    ``error`` for a line that cannot be read (oversized, unreadable file).

    :func:`iter_ndjson` is this followed by :func:`parse_json_line`.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "e.ndjson")
    >>> _ = open(p, "wb").write(b' {"a": 1}\\n\\n{}')
    >>> list(ndjson_lines(p))
    [(1, b'{"a": 1}', False), (3, b'{}', True)]
    """
    for item in ndjson_blocks(path):
        if type(item) is tuple:
            yield from block_lines(path, item[0], item[1])
        else:
            yield item  # type: ignore[misc]


#: NDJSON is read in blocks of about this many bytes, cut after a newline.
BLOCK_BYTES = 4 * 1024 * 1024


def ndjson_blocks(
    path: str, block_bytes: int = BLOCK_BYTES
) -> Iterator[tuple[int, bytes] | RawRecord]:
    """An NDJSON file in blocks of whole lines: ``(number of the block's first line,
    bytes)``, each block ending with a newline (or the end of the file), or a
    :class:`RawRecord` with an ``error`` for what cannot be read.

    Memory stays bounded: a line longer than :data:`MAX_RECORD_BYTES` with no
    newline in sight is skipped to its end without being held, and reported.
    Reading in blocks and splitting in C is what lets one process feed parser
    processes (:mod:`auditkit.ingest._parallel`): :func:`block_lines` cuts a block
    into the lines :func:`ndjson_lines` gives.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "e.ndjson")
    >>> _ = open(p, "wb").write(b'{"a": 1}\\n{"a": 2}\\n{"a": 3}')
    >>> list(ndjson_blocks(p, block_bytes=12))
    [(1, b'{"a": 1}\\n'), (2, b'{"a": 2}\\n'), (3, b'{"a": 3}')]
    """
    try:
        f = open_binary(path)
    except OSError as exc:
        yield RawRecord(path, 0, error=SchemaError(f"cannot open file: {exc.strerror}", file=path))
        return
    lineno = 1  # the number of the first line in buf
    buf = b""
    with f:
        while True:
            chunk, failure = _read_block(f, block_bytes)
            if failure is not None:
                buf += chunk
                cut = buf.rfind(b"\n") + 1
                if cut:
                    yield lineno, buf[:cut]
                    lineno += buf.count(b"\n", 0, cut)
                yield RawRecord(
                    path,
                    lineno,
                    error=SchemaError(
                        f"file is truncated or corrupt: {failure}", file=path, line=lineno
                    ),
                )
                return
            if not chunk:
                if buf:
                    yield lineno, buf
                return
            buf = buf + chunk if buf else chunk
            cut = buf.rfind(b"\n") + 1
            if cut:
                block, buf = buf[:cut], buf[cut:]
                yield lineno, block
                lineno += block.count(b"\n")
            elif len(buf) > MAX_RECORD_BYTES:
                # skip the rest of this oversized line without holding it
                size, text = len(buf), _cut(buf)
                buf = b""
                while True:
                    chunk, _ = _read_block(f, block_bytes)
                    if not chunk:
                        break
                    end = chunk.find(b"\n")
                    if end < 0:
                        size += len(chunk)
                        continue
                    size += end + 1
                    buf = chunk[end + 1 :]
                    break
                yield _oversized(path, lineno, size, text)
                lineno += 1


def _read_block(f: IO[bytes], size: int) -> tuple[bytes, OSError | EOFError | None]:
    """Up to ``size`` bytes, and the error that stopped the reading early, if any:
    what a truncated gzip gave before its end is kept (``read()`` would lose it)."""
    parts: list[bytes] = []
    got = 0
    try:
        while got < size:
            piece = f.read1(size - got)  # type: ignore[attr-defined]
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
    except (OSError, EOFError) as exc:
        return b"".join(parts), exc
    return b"".join(parts), None


def _oversized(path: str, lineno: int, size: int, text: str) -> RawRecord:
    return RawRecord(
        path,
        lineno,
        text=text,
        error=SchemaError(
            f"record is {size} bytes, over the {MAX_RECORD_BYTES}-byte limit",
            file=path,
            line=lineno,
        ),
    )


def block_lines(
    path: str, first: int, block: bytes
) -> Iterator[tuple[int, bytes, bool] | RawRecord]:
    """The non-blank lines of a block from :func:`ndjson_blocks` whose first line is
    number ``first``, as :func:`ndjson_lines` gives them.

    Examples
    --------
    >>> list(block_lines("x", 7, b'{}\\n\\n {"a": 1} \\r\\n[]'))
    [(7, b'{}', False), (9, b'{"a": 1}', False), (10, b'[]', True)]
    """
    lines = block.split(b"\n")
    ends_with_newline = not lines[-1]
    if ends_with_newline:
        lines.pop()
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if len(line) > MAX_RECORD_BYTES:
            size = len(line) + (1 if i < last or ends_with_newline else 0)
            yield _oversized(path, first + i, size, _cut(line))
            continue
        stripped = line.strip()
        if stripped:
            yield first + i, stripped, i == last and not ends_with_newline


#: a line of a CloudWatch Logs export to S3 (``aws logs create-export-task``): the time
#: the log event was ingested, a space, then the message (a JSON event)
_STAMPED_LINE: Final = re.compile(
    rb"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)[ \t]+(?=[{])"
)


def starts_like_csv(head: bytes) -> bool:
    """Whether a file that a format reads as JSON or as CSV is CSV: its first line is
    neither JSON nor a JSON event after a time (a CloudWatch Logs export to S3).

    Examples
    --------
    >>> starts_like_csv(b"eventType,published,uuid"), starts_like_csv(b'  [{"a": 1}]')
    (True, False)
    >>> starts_like_csv(b'2024-03-07T18:30:00.000Z {"eventType": "user.session.start"}')
    False
    """
    # (read through open_binary, which has dropped a byte order mark)
    first = head.lstrip().split(b"\n", 1)[0]
    if first[:1] in (b"{", b"[", b""):
        return False
    # HTTP headers before a JSON body: the JSON reader refuses the file, saying so
    return _STAMPED_LINE.match(first) is None and http_reason(first) is None


def csv_table(head: bytes) -> bool:
    """Whether ``head`` starts a CSV table: a first line that is no JSON (see
    :func:`starts_like_csv`), and a second row, if any, with as many cells as the
    header.  A JSON format's field names in such a file are in its cells (a column of
    events as JSON text): the file is not of that format's JSON layouts.

    >>> csv_table(b'time,raw\\n1,"{""eventName"": ""x"", ""eventSource"": ""y""}"\\n')
    True
    >>> csv_table(b'# exported\\n{"eventName": "x", "eventSource": "y"}\\n')
    False
    >>> csv_table(b'{"a": 1}\\n'), csv_table(b"a,b\\n")
    (False, True)
    """
    if not starts_like_csv(head):
        return False
    body = head.lstrip()
    header = body.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    reader = csv.reader(
        io.StringIO(body.decode("utf-8", "replace")), delimiter=csv_delimiter(header)
    )
    try:
        rows = list(itertools.islice(reader, 2))
    except csv.Error:
        return False
    if len(rows) < 2:
        return True
    second = rows[1]
    return len(second) == len(rows[0]) and not "".join(second[:1]).lstrip().startswith(("{", "["))


#: the request line of an HTTP request (a webhook receiver's or a proxy's capture)
_HTTP_REQUEST: Final = re.compile(
    rb"(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/\d(?:\.\d)?\Z"
)


def http_reason(head: bytes) -> str | None:
    """Why a file that starts with HTTP response headers (``curl -i``, a proxy's
    capture) or request headers (a webhook receiver's capture of an audit event
    streaming delivery) is not read as it is; ``None`` for any other file.

    >>> print(http_reason(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json"))
    ... # doctest: +NORMALIZE_WHITESPACE
    cannot read this file: it starts with HTTP response headers ('HTTP/1.1 200 OK'), as
    `curl -i` writes them; save the response body alone (curl without -i) and ingest that
    >>> http_reason(b'{"a": 1}') is None
    True
    """
    first = head.lstrip().split(b"\n", 1)[0].rstrip(b"\r")
    if _HTTP_REQUEST.match(first) is not None:
        shown = first[:60].decode("utf-8", "replace")
        return (
            f"cannot read this file: it starts with HTTP request headers ({shown!r}), as "
            "a webhook receiver or a proxy saves a request (an audit event streaming "
            "delivery); save the request body alone and ingest that"
        )
    if re.match(rb"HTTP/\d(?:\.\d)? \d{3}\b", first) is None:
        return None
    shown = first[:40].decode("utf-8", "replace")
    return (
        f"cannot read this file: it starts with HTTP response headers ({shown!r}), as "
        "`curl -i` writes them; save the response body alone (curl without -i) and "
        "ingest that"
    )


def parse_json_line(path: str, lineno: int, data: bytes, *, last: bool) -> RawRecord:
    """One NDJSON line as a record (``last``: the line had no newline, so a parse
    error may mean the file was truncated).

    A line that starts with an RFC 3339 time and a space before its JSON object, as
    a CloudWatch Logs export to S3 writes each log event, is read from the object on;
    an object followed by a comma (the items of a JSON array copied without its
    brackets, a shipper writing ``{...},`` a line) is read without the comma.

    >>> parse_json_line("x", 1, b'2024-03-07T18:30:00.000Z {"eventName": "GetObject"}',
    ...                 last=False).value
    {'eventName': 'GetObject'}
    >>> parse_json_line("x", 1, b'{"eventName": "GetObject"} ,', last=False).value
    {'eventName': 'GetObject'}
    """
    try:
        value = loads_json(data)
    except orjson.JSONDecodeError as exc:
        stamped = _STAMPED_LINE.match(data)
        if stamped is not None:
            return parse_json_line(path, lineno, data[stamped.end() :], last=last)
        if data[:1] == b"{" and data.endswith(b","):
            try:
                value = loads_json(data[:-1])
            except orjson.JSONDecodeError:
                pass
            else:
                if isinstance(value, dict):
                    return RawRecord(path, lineno, value=value, text=None)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as uexc:
            reason = f"invalid UTF-8 at byte {uexc.start}{NOT_UTF8_HINT}"
        else:
            reason = f"invalid JSON ({exc.msg} at column {exc.colno})"
            if last:
                reason += "; the file may be truncated"
        return RawRecord(
            path, lineno, text=_cut(data), error=SchemaError(reason, file=path, line=lineno)
        )
    if not isinstance(value, dict):
        return RawRecord(
            path,
            lineno,
            text=_cut(data),
            error=SchemaError(
                f"expected a JSON object, got {type(value).__name__}", file=path, line=lineno
            ),
        )
    return RawRecord(path, lineno, value=value, text=None)


def _concatenated(data: bytes) -> list[Any] | None:
    """The JSON values of a file that holds several written back to back with no
    separator (``{...}{...}``, as Amazon Data Firehose delivers CloudWatch Logs
    subscription payloads), or ``None`` when it is not that.

    Examples
    --------
    >>> _concatenated(b'{"a": 1}{"b": 2} {"c": 3}')
    [{'a': 1}, {'b': 2}, {'c': 3}]
    >>> _concatenated(b'{"a": 1}{"b": ') is None
    True
    """
    found = _concatenated_lines(data)
    return None if found is None else [value for value, _ in found]


def _concatenated_lines(data: bytes) -> list[tuple[Any, int]] | None:
    """:func:`_concatenated`'s values, each with the line it starts on: objects back to
    back on one line (Firehose), or pretty-printed one after another (``jq '.[]'``,
    ``jq '.Records[]'``: an object over several lines, then the next).  A value may
    end with a comma before the next (``{...},`` a line, a JSON array's items
    without its brackets).

    Examples
    --------
    >>> _concatenated_lines(b'{\\n  "a": 1\\n}\\n{\\n  "b": 2\\n},\\n')
    [({'a': 1}, 1), ({'b': 2}, 4)]
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    decoder = json.JSONDecoder()
    out: list[tuple[Any, int]] = []
    pos, end, line, counted = 0, len(text), 1, 0
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if out and pos < end and text[pos] == ",":  # {...},{...} or {...},\n{...}
            pos += 1
            while pos < end and text[pos] in " \t\r\n":
                pos += 1
        if pos >= end:
            break
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return None
        out.append((value, line))
    return out if len(out) > 1 else None


#: where an object pretty-printed one after another starts: ``{`` at the start of a line
_OBJECT_START: Final = re.compile(rb"^\{", re.MULTILINE)


def _pretty_objects(path: str, data: bytes) -> Iterator[RawRecord]:
    """Objects pretty-printed one after another (``jq`` output), one of which at least
    is not JSON: each object from a ``{`` that starts a line to the next, read alone,
    so that the broken one is quarantined on its own, located at the line it starts
    on, and the others are read.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "jq.json")
    >>> _ = open(p, "wb").write(b'{\\n  "a": 1\\n}\\n{\\n  "a": \\n}\\n{\\n  "a": 3\\n}\\n')
    >>> [(r.line, r.value, r.error is not None) for r in _pretty_objects(p, open(p, "rb").read())]
    [(1, {'a': 1}, False), (4, None, True), (7, {'a': 3}, False)]
    """
    starts = [m.start() for m in _OBJECT_START.finditer(data)]
    line = 1 + data.count(b"\n", 0, starts[0]) if starts else 1
    for d, (start, end) in enumerate(zip(starts, [*starts[1:], len(data)], strict=True)):
        chunk = data[start:end].rstrip().removesuffix(b",")
        record = parse_json_line(path, line, chunk, last=end == len(data))
        yield dataclasses.replace(record, location=f"[{d}]")
        line += data.count(b"\n", start, end)


def _first_line_json(data: bytes) -> bool:
    """Whether the first line of ``data`` that is not blank is a JSON value by itself
    (so the file is read as NDJSON), a trailing comma aside.

    >>> _first_line_json(b'\\n{"a": 1},\\n{"a": 2}'), _first_line_json(b'{\\n  "a": 1\\n}')
    (True, False)
    """
    for line in data.split(b"\n", 64):
        line = line.strip()
        if line:
            try:
                orjson.loads(line.removesuffix(b",") if line[:1] == b"{" else line)
            except orjson.JSONDecodeError:
                return False
            return True
    return False


def _invalid(path: str, data: bytes, exc: orjson.JSONDecodeError) -> RawRecord:
    """The record that quarantines a file that is not JSON, saying where and why."""
    try:
        data.decode("utf-8")
        reason = f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        if exc.pos >= len(data.rstrip()) - 1:
            reason += "; the file is truncated"
    except UnicodeDecodeError as uexc:
        reason = f"invalid UTF-8 at byte {uexc.start}{NOT_UTF8_HINT}"
    return RawRecord(
        path, 1, text=_cut(data), error=SchemaError(reason, file=path, line=exc.lineno)
    )


def iter_json_records(path: str, *, key: str | None = None) -> Iterator[RawRecord]:
    """Read a JSON document holding records: a list, ``{key: [...]}`` or one object.

    The document is parsed whole (such files, e.g. CloudTrail deliveries, are
    small); records are numbered from 1 with ``location`` like ``Records[0]``.
    Falls back to NDJSON when the file holds one object per line.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ct.json")
    >>> _ = open(p, "w").write('{"Records": [{"a": 1}, 2]}')
    >>> [(r.location, r.value, r.error is not None) for r in iter_json_records(p, key="Records")]
    [('Records[0]', {'a': 1}, False), ('Records[1]', None, True)]
    """
    try:
        with open_binary(path) as f:
            data = f.read(1024 * 1024 * 1024)
    except (OSError, EOFError) as exc:
        yield RawRecord(path, 0, error=SchemaError(f"cannot read file: {exc}", file=path))
        return
    concatenated = False
    try:
        doc: Any = loads_json(data)
    except orjson.JSONDecodeError as exc:
        lines = data.lstrip()[:1] == b"{" and b"\n{" in data
        if lines and _first_line_json(data):
            yield from iter_ndjson(path)
            return
        found = _concatenated_lines(data)
        if found is None:
            if data.lstrip().split(b"\n", 1)[0].strip() == b"{":
                yield from _pretty_objects(path, data)  # one of them is broken
            elif lines:  # a broken first record, then one a line: each line says its own
                yield from iter_ndjson(path)
            else:
                yield _invalid(path, data, exc)
            return
        doc, starts = [value for value, _ in found], [line for _, line in found]
        concatenated = True

    def members(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
        if key is not None and isinstance(value, dict) and isinstance(value.get(key), list):
            return [(f"{prefix}{key}[{i}]", v) for i, v in enumerate(value[key])]
        if isinstance(value, list) and not prefix:
            return [(f"[{i}]", v) for i, v in enumerate(value)]
        return [(prefix.rstrip(".") or "[0]", value)]

    if concatenated:  # each value written back to back, and the records inside it,
        # on the line the value starts on
        located = [
            (*m, starts[d]) for d, value in enumerate(doc) for m in members(value, f"[{d}].")
        ]
    else:
        located = [(*m, i + 1) for i, m in enumerate(members(doc))]
    for loc, item, line in located:
        if not isinstance(item, dict):
            yield RawRecord(
                path,
                line,
                location=loc,
                text=_cut(orjson.dumps(item)),
                error=SchemaError(
                    f"{loc}: expected a JSON object, got {type(item).__name__}",
                    file=path,
                    line=line,
                ),
            )
        else:
            yield RawRecord(path, line, value=item, location=loc)


#: the delimiters a header row is read with: Excel writes ``;`` where the decimal mark
#: is a comma (most of Europe), and tab-separated exports are common
_DELIMITERS: Final = (",", ";", "\t")


def csv_delimiter(header: str | bytes) -> str:
    """The delimiter of a CSV file, from its header row: the one of ``,``, ``;`` and
    tab that occurs most often outside quotes (``,`` when none does).  Column names
    hold none of them, so the header tells: Excel in most of Europe writes ``;``.

    Examples
    --------
    >>> csv_delimiter("tenant_id;occurred_at;action"), csv_delimiter(b'"a","b;c"')
    (';', ',')
    >>> csv_delimiter("uuid\\tpublished\\teventType"), csv_delimiter("uuid")
    ('\\t', ',')
    """
    text_ = header.decode("utf-8", "replace") if isinstance(header, bytes) else header
    outside = "".join(text_.split('"')[::2])  # the parts between quoted names
    counts = [(outside.count(d), -i, d) for i, d in enumerate(_DELIMITERS)]
    n, _, best = max(counts)
    return best if n else ","


def _bad_utf8_column(header: list[str], row: list[str]) -> str | None:
    """The first column whose cell held bytes that are not UTF-8 (decoded with
    ``surrogateescape``, they are lone surrogates), or ``None``."""
    for name, cell in zip(header, row, strict=False):
        if any("\udc80" <= ch <= "\udcff" for ch in cell):
            return name
    return None


def _row_text(row: list[str]) -> str:
    """A row as text to keep in the quarantine, bytes that are not UTF-8 as ``\\xNN``."""
    joined = ",".join(row)[:_KEEP_TEXT]
    return joined.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def iter_csv_as(path: str, convert: Callable[[dict[str, Any]], Any]) -> Iterator[RawRecord]:
    """:func:`iter_csv` with each row turned into its record by ``convert``; a row that
    ``convert`` refuses (:class:`SchemaError`) is an error of that row alone, located
    at its file and line.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "e.csv")
    >>> _ = open(p, "w").write("a\\n1\\nx\\n")
    >>> def num(row):
    ...     if not row["a"].isdigit():
    ...         raise SchemaError("not a number", field="a")
    ...     return int(row["a"])
    >>> [(r.line, r.value, r.error and r.error.line) for r in iter_csv_as(p, num)]
    [(2, 1, None), (3, None, 3)]
    """
    for raw in iter_csv(path):
        if raw.error is not None:
            yield raw
            continue
        try:
            yield dataclasses.replace(raw, value=convert(raw.value))
        except SchemaError as exc:
            yield dataclasses.replace(raw, value=None, error=exc.located(file=path, line=raw.line))


def iter_csv(path: str) -> Iterator[RawRecord]:
    """Stream a CSV file with a header row as dicts; line numbers count the header as 1.

    The delimiter is read from the header (:func:`csv_delimiter`).  A row holding
    bytes that are not UTF-8 (a file saved as Excel's "CSV" rather than "CSV UTF-8")
    is an error of that row alone, naming its column; the rows after it are read.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "e.csv")
    >>> _ = open(p, "w").write("a,b\\n1,2\\n")
    >>> [(r.line, r.value) for r in iter_csv(p)]
    [(2, {'a': '1', 'b': '2'})]
    >>> _ = open(p, "wb").write(b"a;b\\r\\n1;Zo\\xeb\\r\\n3;4\\r\\n")
    >>> [(r.line, r.value, r.error and r.error.field) for r in iter_csv(p)]
    [(2, None, 'b'), (3, {'a': '3', 'b': '4'}, None)]
    """
    try:
        fb = open_binary(path)
    except OSError as exc:
        yield RawRecord(path, 0, error=SchemaError(f"cannot open file: {exc.strerror}", file=path))
        return
    with fb, io.TextIOWrapper(fb, encoding="utf-8", errors="surrogateescape", newline="") as f:
        try:
            first = f.readline()
        except (OSError, EOFError, ValueError) as exc:
            yield RawRecord(path, 1, error=SchemaError(f"unreadable file: {exc}", file=path))
            return
        reader = csv.reader(itertools.chain([first], f), delimiter=csv_delimiter(first))
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRecord(
                path, 1, error=SchemaError(f"unreadable header: {exc}", file=path, line=1)
            )
            return
        if _bad_utf8_column(header, header) is not None:
            yield RawRecord(
                path,
                1,
                error=SchemaError(
                    "unreadable header: invalid UTF-8 (save the file as UTF-8, "
                    "e.g. Excel's 'CSV UTF-8')",
                    file=path,
                    line=1,
                ),
            )
            return
        while True:
            start = reader.line_num + 1  # a quoted cell may hold line ends: where it starts
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RawRecord(
                    path, start, error=SchemaError(f"bad CSV: {exc}", file=path, line=start)
                )
                continue
            except (OSError, EOFError, ValueError) as exc:  # a truncated or corrupt gzip
                yield RawRecord(
                    path,
                    start,
                    error=SchemaError(
                        f"file is truncated or corrupt ({exc})", file=path, line=start
                    ),
                )
                return
            line = start
            if not row or all(not c for c in row):
                continue
            if len(row) != len(header):
                yield RawRecord(
                    path,
                    line,
                    text=_row_text(row),
                    error=SchemaError(
                        f"expected {len(header)} columns, got {len(row)}", file=path, line=line
                    ),
                )
                continue
            bad = _bad_utf8_column(header, row)
            if bad is not None:
                yield RawRecord(
                    path,
                    line,
                    text=_row_text(row),
                    error=SchemaError(
                        "invalid UTF-8 (save the file as UTF-8, e.g. Excel's 'CSV UTF-8')",
                        field=bad,
                        file=path,
                        line=line,
                    ),
                )
                continue
            yield RawRecord(path, line, value=dict(zip(header, row, strict=True)))
