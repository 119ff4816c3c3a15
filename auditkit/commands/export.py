"""``auditkit export STORE --format FMT -o FILE [--tenant T] [--since ...] [--until ...]``.

Verifies the events chunk by chunk and writes them chunk by chunk
(:func:`auditkit.export.export_store`), so memory stays flat whatever the size
of the store; a tampered store is refused (exit 2) and no file is written.
``--since``/``--until`` take an RFC 3339 time, a date (``2026-03-01``, midnight
UTC) or an age (``30d``, ``12h``, ``90m``, ``2w``) counted back from now.  The
output file's folder is created when missing (the rule of every command's
``-o``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

from auditkit.commands.base import (
    command,
    events_total,
    is_stdout,
    open_store,
    output_path,
    progress_argument,
    progress_bar,
    store_argument,
    tenant_argument,
    time_arguments,
    time_range,
)
from auditkit.errors import UsageError

__all__: list[str] = []

# The built-in formats, for the help text (the registry's full list needs Polars,
# and building the parser must stay quick; a test keeps this in step).
_FORMATS = "csv, json, ndjson, parquet, cef, leef, ocsf, ecs, syslog, hec"


def _export_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="file to write ('-': stdout)"
    )
    p.add_argument(
        "--format",
        metavar="NAME",
        help=f"export format: {_FORMATS}, or one a plugin adds (default: from the file name)",
    )
    tenant_argument(p)
    time_arguments(p)
    p.add_argument(
        "--no-store-fields",
        action="store_true",
        help="leave out seq and received_at (the bare events)",
    )
    progress_argument(p)


@command("export", f"export verified events ({_FORMATS}, ...)")(_export_args)
def _export(args: argparse.Namespace) -> int:
    from auditkit.export.formats import export_store, format_for_path, get_export_format

    to_stdout = is_stdout(args.output)
    # -o x.csv.gz: the export gzipped (what SIEM loaders and zcat expect of the name)
    gzipped = not to_stdout and str(args.output).lower().endswith(".gz")
    if args.format:
        fmt = get_export_format(args.format).name
    elif to_stdout:
        raise UsageError(f"export -o - writes to stdout: give --format ({_FORMATS})")
    else:
        try:
            fmt = format_for_path(args.output[:-3] if gzipped else args.output).name
        except UsageError:
            raise UsageError(
                f"cannot tell the export format of {args.output!r} from its suffix; "
                f"use --format ({_FORMATS})"
            ) from None
    since, until = time_range(args)
    if to_stdout and fmt == "parquet" and sys.stdout.isatty():
        raise UsageError("export: parquet is binary; redirect stdout to a file, or give -o FILE")
    if gzipped and fmt == "parquet":
        raise UsageError(
            f"-o {args.output}: Parquet compresses its own columns; name the file .parquet"
        )
    with contextlib.ExitStack() as stack:
        if to_stdout:
            # written whole first, as a file is: a tampered store sends nothing at all
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="auditkit-export-"))
            target = Path(folder) / f"export.{fmt}"
        else:
            final = target = output_path(args.output)
            if gzipped:  # written plain beside it first, then compressed into place
                folder = stack.enter_context(
                    tempfile.TemporaryDirectory(prefix=".auditkit-export-", dir=final.parent)
                )
                target = Path(folder) / f"export.{fmt}"
        store = open_store(args)
        tenants = args.tenant or None
        with progress_bar(args, desc="export", total=partial(events_total, store, tenants)) as tick:
            result = export_store(
                store,
                target,
                format=fmt,
                tenant=tenants,
                start=since,
                end=until,
                store_fields=not args.no_store_fields,
                progress=tick,
            )
        summary = (
            f"{result.summary()}; {len(result.tenants)} tenant(s), "
            "verified against the signed checkpoints"
        )
        if gzipped:
            _gzip_into(target, final)
            summary = summary.replace(f" to {target} ", f" to {final} (gzip) ", 1)
        if to_stdout:
            sys.stdout.flush()
            with target.open("rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            summary = summary.replace(f" to {target} ", " to stdout ", 1)
    print(summary, file=sys.stderr if to_stdout else sys.stdout)
    return 0


def _gzip_into(source: Path, target: Path) -> None:
    """Compress ``source`` into ``target``, which appears whole or not at all: the
    compressed file is made beside ``source`` (in the export's temporary folder, on
    ``target``'s file system, which removes it on any failure), then renamed."""
    import gzip

    packed = source.with_name(source.name + ".gz")
    with (
        packed.open("xb") as raw,  # the umask's mode, as any file the command writes
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        source.open("rb") as plain,
    ):
        shutil.copyfileobj(plain, gz, 1 << 20)
    os.replace(packed, target)
