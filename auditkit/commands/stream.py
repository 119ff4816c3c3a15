"""``auditkit stream STORE --to DESTINATION [--config FILE] [--tenant T] --once|--follow``.

Pushes verified events to a destination named in a TOML config file (``--config``,
default ``$AUDITKIT_STREAM_CONFIG``), or to a webhook URL (``--to https://...``,
secret from ``$AUDITKIT_WEBHOOK_SECRET``), from a durable cursor kept in the
store: at-least-once delivery, resumed after any crash (see
:mod:`auditkit.stream`).  ``--once`` sends what there is and exits (for cron);
``--follow`` keeps sending new events until interrupted (SIGINT or SIGTERM:
the batch in flight is finished, then it exits 0).  Secrets come from the
environment or files named in the config, never from the command line.

Each destination's cursor is signed with the store's key, so the sender needs it;
a cursor that is not signed (moved in the database by someone without the key)
stops the run with an error naming it, until ``--tenant T --reset-cursor SEQ``
sets it where the destination really is.

Exit codes: 0 sent (or nothing to send), 1 a batch could not be delivered (the
cursor stays before it; run again), 2 usage or configuration error, or a cursor
that is not signed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from auditkit.commands.base import (
    at_least,
    command,
    error,
    open_store,
    print_json,
    progress_argument,
    progress_bar,
    store_argument,
    tenant_argument,
)
from auditkit.errors import UsageError

__all__: list[str] = []


def _seconds(text: str) -> float:
    """An argparse ``type`` for ``--poll``: seconds, more than 0 and at most a day.

    Examples
    --------
    >>> _seconds("0.5")
    0.5
    >>> _seconds("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected seconds, more than 0 and at most 86400, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 86400:  # also false for nan
        raise argparse.ArgumentTypeError(
            f"expected seconds, more than 0 and at most 86400, got {text!r}"
        )
    return value


def _stream_args(p: argparse.ArgumentParser) -> None:
    store_argument(p)
    p.add_argument(
        "--to",
        required=True,
        metavar="DESTINATION",
        help="a destination named in the config file, or an https:// webhook URL",
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file of destinations (default: $AUDITKIT_STREAM_CONFIG)",
    )
    tenant_argument(p)
    p.add_argument(
        "--format", metavar="NAME", help="export format to send (default: the destination's)"
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="send what there is, then exit")
    mode.add_argument("--follow", action="store_true", help="keep sending new events")
    p.add_argument("--batch-size", type=at_least(1), metavar="N", help="events per batch")
    p.add_argument(
        "--poll",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="--follow: seconds between looks (more than 0, at most 86400)",
    )
    p.add_argument(
        "--reset-cursor",
        type=at_least(0),
        metavar="SEQ",
        help="first set the cursor of each --tenant to SEQ (back or forward), e.g. where the "
        "destination really is after a cursor was found unsigned",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    progress_argument(p)


@command("stream", "push verified events to a SIEM (webhook, Splunk HEC, syslog, folder, S3)")(
    _stream_args
)
def _stream(args: argparse.Namespace) -> int:
    import dataclasses

    from auditkit.export import get_export_format
    from auditkit.stream import (
        StreamError,
        load_destinations,
        open_destination,
        stream_store,
        url_destination,
    )

    if args.to.startswith(("https://", "http://")):
        config = url_destination(args.to)
    else:
        path = args.config or os.environ.get("AUDITKIT_STREAM_CONFIG")
        if not path:
            raise UsageError("--to NAME needs --config FILE (or $AUDITKIT_STREAM_CONFIG)")
        # that one alone: the others' secrets are not needed (an unknown name is refused)
        config = load_destinations(path, only=[args.to])[args.to]
    changes: dict[str, object] = {}
    if args.format:
        changes["format"] = get_export_format(args.format).name
        allowed = {"hec": ("hec",), "syslog": ("syslog", "cef", "leef")}.get(config.type)
        if allowed is not None and changes["format"] not in allowed:
            raise UsageError(f"--format: a {config.type} destination sends {', '.join(allowed)}")
    if args.batch_size:
        changes["batch_size"] = args.batch_size
    config = dataclasses.replace(config, **changes)  # type: ignore[arg-type]
    store = open_store(args)
    tenants = args.tenant or None
    if tenants:
        for t in tenants:
            store.count(t)  # an unknown tenant is a usage error, naming only it
    if args.reset_cursor is not None:
        if not tenants:
            raise UsageError("--reset-cursor needs the tenants it applies to (--tenant T)")
        for t in tenants:
            store.reset_stream_cursor(config.name, t, args.reset_cursor)
            sys.stderr.write(
                f"cursor of {config.name} for tenant {t} set to seq {args.reset_cursor}\n"
            )
    stop = threading.Event()
    if args.follow:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    destination = open_destination(config)
    with progress_bar(args, desc=f"stream to {config.name}") as tick:
        try:
            result = stream_store(
                store,
                destination,
                tenants=tenants,
                follow=args.follow,
                poll=args.poll,
                progress=tick,
                stop=stop,
            )
        except StreamError as exc:
            error(str(exc))
            return 1
    if args.json:
        print_json(
            {
                "destination": result.destination,
                "events": result.events,
                "batches": result.batches,
                "retries": result.retries,
                "tenants": sorted(result.tenants),
                "cursors": result.cursors,
            }
        )
    else:
        print(result.summary())
    sys.stdout.flush()
    return 0
