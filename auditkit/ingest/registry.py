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
from auditkit.ingest._readers import csv_delimiter, http_reason, read_head_checked
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


#: syslog's headers (RFC 5424: ``<PRI>VERSION TIMESTAMP``; RFC 3164 and /var/log files:
#: ``[<PRI>]Mmm dd hh:mm:ss``), after an RFC 6587 octet count when framed for TCP
_SYSLOG_5424: Final = re.compile(r"(?:\d{1,9} )?<\d{1,3}>[1-9]\d? (?:-|\d{4}-\d\d-\d\dT\S+) ")
_SYSLOG_3164: Final = re.compile(
    r"(?:\d{1,9} )?(?:<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "
)
_CEF: Final = re.compile(r"(?:^|\s)CEF:\d+\|")
_LEEF: Final = re.compile(r"(?:^|\s)LEEF:\d(?:\.\d)?\|")


def siem_lines(head: bytes) -> str | None:
    """What a file of SIEM lines holds (syslog, CEF or LEEF, which ``auditkit
    export`` writes and ingest does not read back), from its first line, else
    ``None``.

    >>> siem_lines(b'<110>1 2026-01-05T00:15:28.919261Z - auditkit - job.run [x] {}\\n')
    'syslog lines (RFC 5424)'
    >>> siem_lines(b"<134>1 - host app - CEF - CEF:0|V|P|1.0|100|Login|3|suser=ann")
    'CEF lines (ArcSight Common Event Format)'
    >>> siem_lines(b"Mar  7 18:30:00 host sshd[812]: Accepted publickey for ann")
    'syslog lines (RFC 3164)'
    >>> siem_lines(b"occurred_at,action,actor.id\\n") is None
    True
    """
    line = head.lstrip().split(b"\n", 1)[0][:4096].decode("utf-8", "replace")
    syslog = None
    rest = line
    for pattern, kind in ((_SYSLOG_5424, "RFC 5424"), (_SYSLOG_3164, "RFC 3164")):
        found = pattern.match(line)
        if found is not None:
            syslog, rest = f"syslog lines ({kind})", line[found.end() :]
            break
    else:  # no syslog header: CEF or LEEF must start the line (after an octet count)
        rest = re.sub(r"^\d{1,9} ", "", line)
        if not rest.startswith(("CEF:", "LEEF:")):
            return None
    if _CEF.search(rest[:1024]):
        return "CEF lines (ArcSight Common Event Format)"
    if _LEEF.search(rest[:1024]):
        return "LEEF lines (QRadar's Log Event Extended Format)"
    return syslog


def siem_reason(head: bytes) -> str | None:
    """Why a file of syslog, CEF or LEEF lines is not read, and what to do instead;
    ``None`` for any other file.

    >>> print(siem_reason(b"LEEF:2.0|auditkit|auditkit|0.1.0|user.login|x09|devTime=1"))
    ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    cannot read this file: it holds LEEF lines (QRadar's Log Event Extended Format), an
    export format auditkit writes for SIEMs and does not read back (its first line:
    'LEEF:2.0|auditkit|auditkit|0.1.0|user.login|x09...'); re-import auditkit's ...
    """
    kind = siem_lines(head)
    if kind is None:
        return None
    line = head.lstrip().split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    shown = line if len(line) <= 50 else line[:47] + "..."
    return (
        f"cannot read this file: it holds {kind}, an export format auditkit writes for "
        f"SIEMs and does not read back (its first line: {shown!r}); re-import auditkit's "
        "events from an export it reads (auditkit export --format ndjson, or json, csv, "
        "parquet, ocsf, ecs, hec), and give another tool's log as JSON or CSV, through "
        "--mapping FILE when no format knows it (docs/formats.md)"
    )


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
    http = http_reason(head)
    if http is not None:
        raise SchemaError(http, file=path)
    # before the sniffers: a CEF or LEEF line of auditkit's export holds the source
    # record's JSON, whose field names a sniffer would take for its own
    siem = siem_reason(head)
    if siem is not None:
        raise SchemaError(siem, file=path)
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
