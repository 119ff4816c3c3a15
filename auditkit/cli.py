"""The ``auditkit`` command line (stable: scripts and tests call it).

Exit codes: 0 success / intact, 1 tampered (``verify``) or findings with
``--fail-on``, 2 usage or input errors.  Errors are one line on stderr, never a
traceback; ``--json`` output is one JSON document on stdout.  The commands
themselves live in :mod:`auditkit.commands`, registered through the
``auditkit.commands`` entry points.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from auditkit.commands.base import COMMANDS, error
from auditkit.errors import AuditkitError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    from auditkit import __version__

    parser = argparse.ArgumentParser(
        prog="auditkit", description="Tamper-evident audit trails: store, verify, analyse."
    )
    parser.add_argument("--version", action="version", version=f"auditkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, cmd in COMMANDS.all().items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.arguments(p)
        p.set_defaults(handler=cmd.handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples
    --------
    >>> main(["verify", "/nonexistent/audit.db"])
    2
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except AuditkitError as exc:
        error(str(exc))
        return 2
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        error(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        return 2


if __name__ == "__main__":
    sys.exit(main())
