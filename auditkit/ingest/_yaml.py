"""Records written as YAML documents one after another.

``gcloud logging read`` prints its entries as YAML by default (``--format=yaml``):
each ``LogEntry`` a document, the documents separated by ``---`` lines, times as
quoted strings.  Such a file is read document by document, in bounded memory (a
document at a time), and each document is read by the format that recognises it
as JSON (the first one tells the format with ``--format auto``), exactly as the
same records from ``gcloud logging read --format=json``.  A document that is not
YAML, or not a mapping, is quarantined alone at the line it starts on; the others
are read.

Times are kept as the text they are written as (an unquoted ``2024-04-03T08:00:00Z``
is not turned into a date, which would lose its nanoseconds and its notation), and
keys that YAML reads as numbers or booleans become text, as in JSON.

>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "entries.yaml")
>>> _ = open(p, "w").write("---\\ninsertId: a\\ntimestamp: 2024-04-03T08:00:00Z\\n"
...                        "---\\ninsertId: b\\n  bad: [\\n")
>>> [(r.line, r.value, r.error is not None) for r in iter_yaml_documents(p)]
[(2, {'insertId': 'a', 'timestamp': '2024-04-03T08:00:00Z'}, False), (5, None, True)]
"""

from __future__ import annotations

import base64
import dataclasses
import re
import zlib
from collections.abc import Iterator
from typing import Any, ClassVar, Final

import orjson
import yaml

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format, RawRecord, Reading
from auditkit.ingest._readers import _KEEP_TEXT, MAX_RECORD_BYTES, _cut, open_binary, read_head

__all__ = ["YamlInput", "iter_yaml_documents", "looks_like_yaml", "yaml_input"]

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """YAML's safe loader, without reading times as dates (they stay text)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

#: a line that starts a document (``---``, alone or before its first content)
_START: Final = re.compile(rb"^---(?:[ \t]|$)")
#: a line that ends one (``...``)
_END: Final = re.compile(rb"^\.\.\.[ \t]*$")
#: a top-level key of a YAML mapping, at the start of a line
_KEY_LINE: Final = re.compile(
    rb"^(?:'[^'\n]{1,200}'|\"[^\"\n]{1,200}\"|[A-Za-z_@$][\w@$.\-]{0,200}):(?:[ \t]|$)"
)


def _plain(value: Any) -> Any:
    """A value YAML read, as the JSON value it stands for: keys as text, binary data
    as base64 text, dates as ISO 8601 text.

    >>> _plain({200: "OK", True: [b"\\x00"]})
    {'200': 'OK', 'true': ['AA==']}
    """
    if isinstance(value, dict):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return key if isinstance(key, str) else str(_plain(key))


def looks_like_yaml(head: bytes) -> bool:
    """Whether ``head`` starts YAML documents of records: a ``---`` line, or a first
    content line that is a top-level key of a mapping whose first document is a
    mapping.

    >>> looks_like_yaml(b"---\\ninsertId: x\\n"), looks_like_yaml(b"insertId: x\\nlogName: y\\n")
    (True, True)
    >>> looks_like_yaml(b'{"insertId": "x"}'), looks_like_yaml(b"a,b,c\\n1,2,3\\n")
    (False, False)
    """
    lines = [ln for ln in head.split(b"\n", 200)[:200] if ln.strip() and not ln.startswith(b"#")]
    if not lines or lines[0].lstrip()[:1] in (b"{", b"[", b"<"):
        return False
    first = lines[0].rstrip(b"\r")
    if _START.match(first) or first.startswith(b"%YAML"):
        return True
    if not _KEY_LINE.match(first):
        return False
    # the first document, as far as the head holds it, must be a mapping: its lines up
    # to the next document, or, cut short, up to its last top-level key before the cut
    body: list[bytes] = []
    whole = False
    for ln in lines[:100]:
        if _START.match(ln) or _END.match(ln):
            whole = True
            break
        body.append(ln.rstrip(b"\r"))
    else:
        whole = len(lines) < 100 and head.endswith(b"\n")
    if not whole:
        last = max((i for i, ln in enumerate(body) if _KEY_LINE.match(ln)), default=0)
        body = body[: max(last, 1)]
    try:
        doc = yaml.load(b"\n".join(body), Loader=_Loader)
    except yaml.YAMLError:
        return False
    return isinstance(doc, dict) and len(doc) >= 2


def _document(path: str, start: int, lines: list[bytes], size: int) -> RawRecord | None:
    """The record of one document (its lines from line ``start``), ``None`` for a
    document holding nothing (a leading ``---``, comments)."""
    # the document's first line with content: where it is located
    skip = next(
        (i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith(b"#")),
        None,
    )
    if skip is None:
        return None
    line = start + skip
    data = b"".join(lines)
    if size > MAX_RECORD_BYTES:
        return RawRecord(
            path,
            line,
            text=_cut(data[:_KEEP_TEXT]) + " ...",
            error=SchemaError(
                f"YAML document is over the {MAX_RECORD_BYTES}-byte limit", file=path, line=line
            ),
        )
    try:
        value = yaml.load(data, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
        at = f" at line {start + mark.line}" if mark is not None else ""
        return RawRecord(
            path,
            line,
            text=_cut(data),
            error=SchemaError(f"invalid YAML ({problem}{at})", file=path, line=line),
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return RawRecord(
            path,
            line,
            text=_cut(data),
            error=SchemaError(f"invalid YAML ({exc})", file=path, line=line),
        )
    if not isinstance(value, dict):
        return RawRecord(
            path,
            line,
            text=_cut(data),
            error=SchemaError(
                f"expected a YAML mapping (a record), got {type(value).__name__}",
                file=path,
                line=line,
            ),
        )
    return RawRecord(path, line, value=_plain(value))


def iter_yaml_documents(path: str) -> Iterator[RawRecord]:
    """The documents of a YAML stream, one record each, numbered by the line each
    starts on; a document over :data:`MAX_RECORD_BYTES` is skipped without being
    held, and one that cannot be read is a record with its error."""
    try:
        f = open_binary(path)
    except OSError as exc:
        yield RawRecord(path, 0, error=SchemaError(f"cannot open file: {exc.strerror}", file=path))
        return
    with f:
        lines: list[bytes] = []
        start, size, lineno = 1, 0, 0
        try:
            for raw in f:
                lineno += 1
                bare = raw.rstrip(b"\r\n")
                if _START.match(bare) or _END.match(bare):
                    rec = _document(path, start, lines, size)
                    if rec is not None:
                        yield rec
                    lines, size, start = [], 0, lineno + 1
                    rest = bare[3:].strip() if _START.match(bare) else b""
                    if rest and not rest.startswith(b"#"):
                        lines, size, start = [rest + b"\n"], len(rest), lineno
                    continue
                size += len(raw)
                if size <= MAX_RECORD_BYTES or not lines:
                    lines.append(raw)
        except (OSError, EOFError, zlib.error) as exc:
            rec = _document(path, start, lines, size)
            if rec is not None:
                yield rec
            yield RawRecord(
                path,
                lineno + 1,
                error=SchemaError(
                    f"file is truncated or corrupt ({exc})", file=path, line=lineno + 1
                ),
            )
            return
        rec = _document(path, start, lines, size)
        if rec is not None:
            yield rec


def _first_document(path: str) -> dict[str, Any] | None:
    """The first document of the file that is a mapping (of the first 100)."""
    for n, rec in enumerate(iter_yaml_documents(path)):
        if n >= 100:
            break
        if rec.error is None and isinstance(rec.value, dict):
            return rec.value
    return None


def yaml_input(path: str, format: str | Format, *, head: bytes | None = None) -> YamlInput | None:
    """How to read ``path`` if it holds YAML documents (see the module's description),
    else ``None``.  With ``format`` ``"auto"`` the format is the one that recognises
    the first document as JSON.

    Raises
    ------
    SchemaError
        When no format recognises the documents (``format`` is ``"auto"``).
    """
    from auditkit.ingest.registry import _looks_like, best_format, get_format

    if head is None:
        head = read_head(path)
    if not looks_like_yaml(head):
        return None
    first = _first_document(path)
    if first is None:
        return None
    if format != "auto":
        fmt = get_format(format) if isinstance(format, str) else format
    else:
        as_json = orjson.dumps(first, default=str)
        found = best_format(as_json, path)
        if found is None:
            raise SchemaError(
                "cannot tell the format of these YAML documents"
                + _looks_like(as_json).replace("its first record", "the first document")
                + "; pass --format NAME, or for a log of another kind describe it in a "
                "mapping file and pass --mapping FILE (docs/formats.md)",
                file=path,
            )
        fmt = found
    if fmt.name in ("csv", "mapped"):
        if fmt.name == "mapped" and not isinstance(format, str):
            return YamlInput(fmt)  # a configured mapping reads keys as JSON keys
        fmt = get_format("auditkit")  # records as YAML are records, not CSV rows
    return YamlInput(fmt)


@dataclasses.dataclass
class YamlInput(Reading):
    """The documents of a YAML stream, each read by ``inner`` as a JSON record.

    >>> from auditkit.ingest.registry import get_format
    >>> YamlInput(get_format("gcp")).name
    'gcp'
    """

    how: ClassVar[str] = "as YAML documents"

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's documents."""
        return iter_yaml_documents(path)
