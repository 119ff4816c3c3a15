"""The one place input formats are registered and looked up.

Adding a format is adding one module that calls :func:`register`, declared
under the ``auditkit.input_formats`` entry-point group; auditkit's own formats
are declared in its ``pyproject.toml`` the same way (see :mod:`auditkit.plugins`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Final

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format
from auditkit.ingest._readers import csv_delimiter, read_head_checked
from auditkit.plugins import GROUPS, Registry

__all__ = ["available_formats", "best_format", "detect_format", "get_format", "register"]

_FORMATS: Registry[Format] = Registry("format", group=GROUPS["input_formats"])


def register(fmt: Format) -> Format:
    """Register an input format under ``fmt.name`` and return it.

    Examples
    --------
    >>> get_format("auditkit").name
    'auditkit'
    """
    return _FORMATS.register(fmt.name, fmt)


def available_formats() -> dict[str, Format]:
    """Return the registered formats by name, sorted.

    Examples
    --------
    >>> "auditkit" in available_formats()
    True
    """
    return _FORMATS.all()


def get_format(name: str) -> Format:
    """Return the format called ``name`` or raise :class:`UsageError` listing the known ones.

    Examples
    --------
    >>> get_format("nope")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: unknown format 'nope'; known: auditkit, ...
    """
    return _FORMATS.get(name)


def _looks_like(head: bytes) -> str:
    """What a file that no format recognises starts with, for the message that says so:
    its first record's keys (JSON) or its header's columns (anything else).

    >>> _looks_like(b'[{"ackId": "a", "message": {"data": "x"}}]')
    ' (its first record has the keys ackId, message)'
    >>> _looks_like(b"eventversion,useridentity,eventtime\\n1.09,{},x\\n")
    ' (its first line has the columns eventversion, useridentity, eventtime)'
    """
    body = head.lstrip()
    if body[:1] in (b"{", b"["):
        keys: list[str] = []
        m = re.match(rb"[\[\s]*\{", body)
        if m is not None:  # the top-level keys of the first object, in order
            depth, at = 0, m.end()
            for tok in re.finditer(rb'"((?:[^"\\]|\\.)*)"\s*(:)?|[{\[]|[}\]]', body[at:]):
                t = tok.group(0)[:1]
                if t in (b"{", b"["):
                    depth += 1
                elif t in (b"}", b"]"):
                    depth -= 1
                    if depth < 0:
                        break
                elif depth == 0 and tok.group(2):
                    keys.append(tok.group(1).decode("utf-8", "replace")[:40])
        if not keys:
            return ""
        more = ", ..." if len(keys) > 8 else ""
        return f" (its first record has the keys {', '.join(keys[:8])}{more})"
    first = body.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if not first:
        return ""
    try:
        columns = next(csv.reader([first], delimiter=csv_delimiter(first)), [])
    except csv.Error:
        return ""
    if len(columns) < 2:
        return ""
    more = ", ..." if len(columns) > 8 else ""
    shown = ", ".join(c.strip()[:40] for c in columns[:8])
    return f" (its first line has the columns {shown}{more})"


#: what some files that are not text start with (a user may point ingest at them),
#: and what to do about it
_CONVERT = "; write it as Parquet or NDJSON"
_BINARY_KINDS: Final = (
    (b"SQLite format 3\x00", "an SQLite database", ""),
    (b"ARROW1", "an Arrow IPC (Feather) file", _CONVERT),
    (b"ORC", "an ORC file", _CONVERT),
    (b"%PDF", "a PDF document", ""),
    (b"\x7fELF", "a program", ""),
)


def _not_text(head: bytes) -> str | None:
    """Why a file whose first bytes are ``head`` is not text, if it is not.

    >>> _not_text(b"ARROW1\\x00\\x00...")
    'it is an Arrow IPC (Feather) file, not text; write it as Parquet or NDJSON'
    >>> _not_text(b"\\x00\\x01\\x02"), _not_text(b'{"a": 1}')
    ('it is binary data, not text', None)
    """
    for magic, kind, advice in _BINARY_KINDS:
        if head.startswith(magic):
            return f"it is {kind}, not text{advice}"
    if b"\x00" in head[:4096]:
        return "it is binary data, not text"
    return None


def detect_format(path: str, *, head: bytes | None = None) -> Format:
    """Guess the format of a file from its first bytes and name.

    ``head``: the bytes to judge, if not the file's own (a Parquet file's first
    row as JSON).

    Raises
    ------
    SchemaError
        When no format recognises the file.
    """
    problem: OSError | EOFError | None = None
    if head is None:
        head, problem = read_head_checked(path)
    found = best_format(head, path)
    if found is None:
        if problem is not None:
            why = problem.strerror if isinstance(problem, OSError) and problem.strerror else problem
            raise SchemaError(f"cannot read the file: {why}", file=path)
        binary = _not_text(head)
        if binary is not None:
            raise SchemaError(
                f"cannot tell the format of this file: {binary} (ingest reads text "
                "formats, gzip, bzip2, xz and zstd compressed or not, zip archives, "
                "Parquet and Avro files)",
                file=path,
            )
        raise SchemaError(
            "cannot tell the format of this file"
            + _looks_like(head)
            + "; pass --format (known: "
            + ", ".join(available_formats())
            + "), or for a log of another kind describe it in a mapping file and pass "
            "--mapping FILE (docs/formats.md)",
            file=path,
        )
    return found


def best_format(head: bytes, path: str, names: Iterable[str] | None = None) -> Format | None:
    """The format (of ``names``, default all) whose sniffer is surest that ``head``
    starts a file of its own, or ``None`` when none claims it.

    >>> best_format(b'{"tenant_id": "a", "action": "user.login", "actor": {}}', "x").name
    'auditkit'
    >>> best_format(b'{"tenant_id": "a"}', "x", ["okta", "gitlab"]) is None
    True
    """
    formats = available_formats()
    chosen = formats if names is None else {n: formats[n] for n in names if n in formats}
    scored = sorted(((fmt.sniff(head, path), name) for name, fmt in chosen.items()), reverse=True)
    if not scored or scored[0][0] <= 0:
        return None
    return formats[scored[0][1]]
