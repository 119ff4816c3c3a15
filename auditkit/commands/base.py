"""What every command shares: the command registry, the store argument, output.

Commands register with :func:`command` in modules declared under the
``auditkit.commands`` entry-point group (auditkit's own in its ``pyproject.toml``,
a third-party package's in its own: see :mod:`auditkit.plugins`);
:func:`auditkit.cli.main` builds its parser from :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from auditkit.plugins import GROUPS, Registry

if TYPE_CHECKING:
    from auditkit.store import Store

__all__ = [
    "COMMANDS",
    "Command",
    "Handler",
    "command",
    "error",
    "open_store",
    "print_json",
    "store_argument",
]

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """A registered sub-command: its handler, its arguments and a one-line help."""

    name: str
    handler: Handler
    arguments: Callable[[argparse.ArgumentParser], None]
    help: str


#: The sub-commands, filled from the ``auditkit.commands`` entry points.
COMMANDS: Registry[Command] = Registry("command", group=GROUPS["commands"], ordered=True)


def command(
    name: str, help_text: str
) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable[[Handler], Handler]]:
    """Register a sub-command: ``@command(name, help)(arguments)(handler)``."""

    def with_args(
        args_fn: Callable[[argparse.ArgumentParser], None],
    ) -> Callable[[Handler], Handler]:
        def with_handler(fn: Handler) -> Handler:
            COMMANDS.register(name, Command(name, fn, args_fn, help_text))
            return fn

        return with_handler

    return with_args


def print_json(doc: Any) -> None:
    """Write one JSON document to stdout (what ``--json`` prints)."""
    sys.stdout.write(
        orjson.dumps(
            doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
        + "\n"
    )


def error(message: str) -> None:
    """Write a one-line error to stderr."""
    sys.stderr.write(f"auditkit: {message}\n")


def store_argument(p: argparse.ArgumentParser) -> None:
    """Add the STORE positional and ``--key``."""
    p.add_argument("store", metavar="STORE", help="SQLite file path or postgresql:// URL")
    p.add_argument(
        "--key", metavar="FILE", help="signing key file (default: STORE.key, or $AUDITKIT_KEY)"
    )


def open_store(args: argparse.Namespace) -> Store:
    """Open the store named by the parsed arguments."""
    from auditkit.store import Store

    return Store.open(args.store, key=args.key)
