"""``auditkit export STORE --format FMT -o FILE [--tenant T] [--since ...] [--until ...]``.

Loads the events verified (a tampered store is refused, exit 2) and writes them
with :func:`auditkit.export.export_frame`.  ``--since``/``--until`` take an RFC
3339 time, a date (``2026-03-01``, midnight UTC) or an age (``30d``, ``12h``,
``90m``, ``2w``) counted back from now.
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta

from auditkit.cli import _open, _store_arg, command
from auditkit.errors import UsageError
from auditkit.export.formats import available_export_formats, export_frame, format_for_path

__all__ = ["parse_since"]

_AGE = re.compile(r"(\d+)([smhdw])\Z")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time from an RFC 3339 time, a date or an age such as ``30d``.

    Examples
    --------
    >>> now = datetime(2026, 4, 1, tzinfo=UTC)
    >>> parse_since("30d", now=now).isoformat()
    '2026-03-02T00:00:00+00:00'
    >>> parse_since("2026-03-01").isoformat(), parse_since("2026-03-01T10:00:00+02:00").hour
    ('2026-03-01T00:00:00+00:00', 8)
    >>> parse_since("soon")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: expected an RFC 3339 time, a date or an age like 30d, got 'soon'
    """
    age = _AGE.match(text.strip())
    if age:
        delta = timedelta(**{_UNITS[age[2]]: int(age[1])})
        return (now or datetime.now(UTC)) - delta
    try:
        ts = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"expected an RFC 3339 time, a date or an age like 30d, got {text!r}"
        ) from None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _export_args(p: argparse.ArgumentParser) -> None:
    _store_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    p.add_argument(
        "--format",
        choices=sorted(available_export_formats()),
        help="export format (default: from the file name)",
    )
    p.add_argument("--tenant", action="append", help="only this tenant (repeatable)")
    p.add_argument(
        "--since", metavar="WHEN", help="events at or after: RFC 3339, a date, or an age (30d, 12h)"
    )
    p.add_argument("--until", metavar="WHEN", help="events before (same forms as --since)")
    p.add_argument(
        "--no-store-fields",
        action="store_true",
        help="leave out seq and received_at (the bare events)",
    )


@command("export", "export verified events: " + ", ".join(available_export_formats()))(_export_args)
def _export(args: argparse.Namespace) -> int:
    fmt = args.format or format_for_path(args.output).name
    store = _open(args)
    start = parse_since(args.since) if args.since else None
    end = parse_since(args.until) if args.until else None
    frame = store.load(args.tenant, start=start, end=end)
    result = export_frame(frame, args.output, format=fmt, store_fields=not args.no_store_fields)
    tenants = frame["tenant_id"].n_unique()
    print(f"{result.summary()}; {tenants} tenant(s), verified against the signed checkpoints")
    return 0
