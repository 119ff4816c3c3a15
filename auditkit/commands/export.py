"""``auditkit export STORE --format FMT -o FILE [--tenant T] [--since ...] [--until ...]``.

Loads the events verified (a tampered store is refused, exit 2) and writes them
with :func:`auditkit.export.export_frame`.  ``--since``/``--until`` take an RFC
3339 time, a date (``2026-03-01``, midnight UTC) or an age (``30d``, ``12h``,
``90m``, ``2w``) counted back from now.
"""

from __future__ import annotations

import argparse

from auditkit.commands.base import command, open_store, store_argument
from auditkit.errors import UsageError
from auditkit.times import parse_instant

__all__: list[str] = []

# The built-in formats, for the help text (the registry's full list needs Polars,
# and building the parser must stay quick; a test keeps this in step).
_FORMATS = "csv, json, ndjson, parquet, cef, leef, ocsf, ecs, syslog, hec"


def _export_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    p.add_argument(
        "--format",
        metavar="NAME",
        help=f"export format: {_FORMATS}, or one a plugin adds (default: from the file name)",
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


@command("export", f"export verified events ({_FORMATS}, ...)")(_export_args)
def _export(args: argparse.Namespace) -> int:
    from auditkit.export.formats import export_frame, format_for_path, get_export_format

    if args.format:
        fmt = get_export_format(args.format).name
    else:
        try:
            fmt = format_for_path(args.output).name
        except UsageError:
            raise UsageError(
                f"cannot tell the export format of {args.output!r} from its suffix; "
                f"use --format ({_FORMATS})"
            ) from None
    store = open_store(args)
    start = parse_instant(args.since) if args.since else None
    end = parse_instant(args.until) if args.until else None
    frame = store.load(args.tenant, start=start, end=end)
    result = export_frame(frame, args.output, format=fmt, store_fields=not args.no_store_fields)
    tenants = frame["tenant_id"].n_unique()
    print(f"{result.summary()}; {tenants} tenant(s), verified against the signed checkpoints")
    return 0
