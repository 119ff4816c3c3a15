"""syslog (RFC 5424) lines carrying each event as structured data and JSON.

One line per event::

    <PRI>1 TIMESTAMP HOSTNAME auditkit - MSGID [auditkit@32473 ...] BOM{"event_id":...}

* ``PRI`` is facility 13 (log audit) times 8 plus a severity: 6 (informational)
  for a success, 5 (notice) for a successful ``admin`` event, 4 (warning) for a
  failure or a denial, 3 (error) for an error;
* ``TIMESTAMP`` is ``occurred_at`` (RFC 3339, microseconds, UTC);
* ``HOSTNAME`` is ``observer.service`` (characters outside printable ASCII
  become ``_``, at most 255) or ``-``; ``APP-NAME`` is ``auditkit``, ``PROCID``
  ``-``, and ``MSGID`` the action (at most 32 characters);
* the structured data element ``auditkit@32473`` holds ``tenant_id``,
  ``event_id``, ``seq``, ``action``, ``category``, ``outcome`` and
  ``actor_id``; values escape ``"``, ``\\`` and ``]`` with a backslash (RFC 5424
  section 6.3.3), and CR and LF as ``\\r`` and ``\\n`` so that a line stays one
  line.  32473 is the private enterprise number RFC 5612 reserves for examples:
  change :data:`SD_ID` if your organisation has its own;
* ``MSG`` is the UTF-8 byte order mark and the canonical event as JSON (control
  characters escaped by JSON), what ``auditkit ingest`` reads back.

The push destination ``syslog+tcp`` frames each line with RFC 6587 octet
counting; a file holds one line per event.

Examples
--------
>>> from auditkit.frame import events_to_frame
>>> df = events_to_frame([{"event_id": "e1", "tenant_id": 'ac"me]',
...     "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
...     "actor": {"id": "u1"}, "outcome": "failure"}])
>>> line = syslog_records(df)[0].decode()
>>> line[:48]
'<108>1 2026-01-05T09:00:00.000000Z - auditkit - '
>>> line[48:109]
'user.login [auditkit@32473 tenant_id="ac\\\\"me\\\\]" event_id="e1"'
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson
import polars as pl

from auditkit.export.formats import ExportFormat, frame_to_events, register_export_format

__all__ = ["SD_ID", "sd_escape", "syslog_records"]

#: The structured data element's id (name@private enterprise number).
SD_ID: Final = "auditkit@32473"
_FACILITY: Final = 13
_LEVEL: Final = {"success": 6, "failure": 4, "denied": 4, "error": 3}
_SD_SPECIAL: Final = re.compile(r'["\\\]\r\n]')
_SD_MAP: Final = {'"': '\\"', "\\": "\\\\", "]": "\\]", "\r": "\\r", "\n": "\\n"}
_NOT_HOST: Final = re.compile(r"[^\x21-\x7e]")
_BOM: Final = b"\xef\xbb\xbf"


def sd_escape(value: str) -> str:
    """A structured-data parameter value, escaped (RFC 5424 section 6.3.3).

    Examples
    --------
    >>> sd_escape('a"b]c\\\\d\\ne')
    'a\\\\"b\\\\]c\\\\\\\\d\\\\ne'
    """
    return _SD_SPECIAL.sub(lambda m: _SD_MAP[m.group()], value)


def _host(service: Any) -> str:
    if not isinstance(service, str) or not service:
        return "-"
    return _NOT_HOST.sub("_", service)[:255]


def syslog_records(frame: pl.DataFrame) -> list[bytes]:
    """One RFC 5424 line (bytes, no line end) per event of ``frame``."""
    if frame.height == 0:
        return []
    dumps = orjson.dumps
    out: list[bytes] = []
    for chunk in frame_to_events(frame, chunk_size=frame.height):
        for e in chunk:
            outcome = e.get("outcome", "success")
            level = _LEVEL.get(outcome, 6)
            if level == 6 and e.get("category") == "admin":
                level = 5
            sd = " ".join(
                f'{k}="{sd_escape(str(e[k] if k != "actor_id" else e["actor"]["id"]))}"'
                for k in ("tenant_id", "event_id", "seq", "action", "category", "outcome",
                          "actor_id")
                if k == "actor_id" or e.get(k) is not None
            )  # fmt: skip
            head = (
                f"<{_FACILITY * 8 + level}>1 {e['occurred_at']} "
                f"{_host((e.get('observer') or {}).get('service'))} auditkit - "
                f"{e['action'][:32]} [{SD_ID} {sd}] "
            )
            out.append(head.encode() + _BOM + dumps(e))
    return out


register_export_format(
    ExportFormat(
        "syslog",
        ".log",
        "text/plain",
        "syslog RFC 5424 lines: structured data and the event as JSON",
        encoder=syslog_records,
    )
)
