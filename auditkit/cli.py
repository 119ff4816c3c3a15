"""The ``auditkit`` command line (stable: scripts and tests call it).

Exit codes: 0 success / intact; 1 tampered (``verify``), findings with
``--fail-on``, or a proof that does not hold; 2 usage, input or other errors;
3 intact but unanchored (``verify``, ``proof verify``).  Errors are one line on
stderr, never a traceback (set ``AUDITKIT_DEBUG=1`` to see one); ``--json``
output is one JSON document on stdout.  The commands themselves live in
:mod:`auditkit.commands`, registered through the ``auditkit.commands`` entry
points.

Starting is kept cheap: this module and the commands' argument definitions
import nothing heavy (no Polars, no SQLAlchemy), so ``auditkit --help`` answers
at once; each command's handler imports what it needs.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from auditkit.commands.base import COMMANDS, error
from auditkit.errors import AuditkitError, TamperedError

__all__ = ["main"]


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser, with the arguments of only the command named in ``argv``: the
    others get their name and help line, which is all ``auditkit --help`` shows,
    so that no other command's argument definitions run."""
    from auditkit import __version__

    parser = argparse.ArgumentParser(
        prog="auditkit", description="Tamper-evident audit trails: store, verify, analyse."
    )
    parser.add_argument("--version", action="version", version=f"auditkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = COMMANDS.all()
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, cmd in commands.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        if name == chosen:
            cmd.arguments(p)
        p.set_defaults(handler=cmd.handler, _parser=p)
    return parser


def _tune_allocator() -> None:
    """Let Polars' allocator (jemalloc) keep freed memory for 10 s before it gives
    it back to the system, in command-line processes only and unless the user chose.

    A verify or an export allocates and frees a chunk's worth of buffers many times
    a second; given back at once, every new buffer is faulted in and zeroed by the
    kernel again: measured on 1M events, half of the page faults and a tenth of the
    wall time of ``auditkit export --format cef``, for about 15 % more peak memory.
    jemalloc reads this setting when Polars is first loaded, so it only takes effect
    here, before anything imports Polars.
    """
    if "polars" not in sys.modules:
        os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:10000")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples
    --------
    >>> main(["verify", "/nonexistent/audit.db"])
    2
    """
    words = _negative_times(list(sys.argv[1:] if argv is None else argv))
    _tune_allocator()
    try:
        parser = _parser(words)
        args, extra = parser.parse_known_args(words)
        if extra:  # named with the command's own usage, not the top level's
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        return int(exc.code or 0)
    except AuditkitError as exc:  # a command plugin that does not load
        error(one_line(str(exc)))
        return 2
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with _terminated_as_interrupted():
            return int(args.handler(args))
    except TamperedError as exc:  # a read refused a tampered trail: as `verify` says it
        error(one_line(str(exc)))
        return 1
    except AuditkitError as exc:
        error(one_line(str(exc)))
        return 2
    except _Terminated:
        error("terminated")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except OSError as exc:
        where = exc.filename or ""
        error(one_line(f"{where}: {exc.strerror or exc}".lstrip(": ")))
        return 2
    except Exception as exc:  # a foreign error that reached the top: still one line
        if os.environ.get("AUDITKIT_DEBUG"):
            raise
        error(_foreign(exc))
        return 2


_TIME_OPTIONS = frozenset({"--since", "--until", "--period"})
_NEGATIVE = re.compile(r"-\s*\d")


def _negative_times(words: list[str]) -> list[str]:
    """``--since -5d`` joined into ``--since=-5d``: argparse takes a word starting with
    ``-`` for an option and says only "expected one argument", where the time's own
    check says what is wrong (an age counts back from now already: ``5d``).

    Examples
    --------
    >>> _negative_times(["query", "a.db", "--since", "-5d", "--until", "now"])
    ['query', 'a.db', '--since=-5d', '--until', 'now']
    >>> _negative_times([]), _negative_times(["--since"])
    ([], ['--since'])
    """
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        following = words[i + 1] if i + 1 < len(words) else None
        if word in _TIME_OPTIONS and following is not None and _NEGATIVE.match(following):
            out.append(f"{word}={following}")
            i += 2
        else:
            out.append(word)
            i += 1
    return out


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``docker stop``, systemd, a CI timeout), raised where the
    command is: every clean-up an interrupt gets (a transaction rolled back, worker
    processes stopped, a half-written file removed) runs for it too."""


@contextmanager
def _terminated_as_interrupted() -> Iterator[None]:
    """While a command runs, SIGTERM raises :class:`_Terminated` in the main thread
    (by default it kills the process at once, leaving worker processes and temporary
    files behind); a handler someone else installed is left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    if before not in (signal.SIG_DFL, None):
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise _Terminated

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _foreign(exc: Exception) -> str:
    """One line for an exception auditkit did not wrap (a database down, a bug)."""
    module = type(exc).__module__.split(".")[0]
    if module == "sqlalchemy":
        orig = getattr(exc, "orig", None)
        return "database error: " + one_line(str(orig if orig is not None else exc))
    if module in ("sqlite3", "psycopg", "adbc_driver_manager"):
        return "database error: " + one_line(str(exc))
    return (
        f"unexpected error: {type(exc).__name__}: {one_line(str(exc))} "
        "(set AUDITKIT_DEBUG=1 for the traceback)"
    )


_NOISE = (
    re.compile(r"\s*\(Background on this error at: [^)]*\)"),  # SQLAlchemy's links
    re.compile(r"\s*See https?://\S+ for (?:more )?details\.?", re.I),  # cryptography's
    re.compile(r"\[(?:SQL|parameters): .*?\]", re.S),  # SQL statements and bind values
    re.compile(r"\((?:sqlite3|psycopg|sqlalchemy)[\w.]*\)\s*"),  # "(sqlite3.DatabaseError) "
    re.compile(r"\s*https?://(?:sqlalche\.me|cryptography\.io)\S*"),
)
_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def one_line(message: str) -> str:
    """A message as one line for people: no SQL, no library links, no password;
    a message of several lines keeps its first three, joined with ``;``.

    Examples
    --------
    >>> one_line("a.db: cannot open the store: (sqlite3.DatabaseError) file is not a "
    ...          "database\\n[SQL: SELECT 1]\\n(Background on this error at: https://x/e)")
    'a.db: cannot open the store: file is not a database'
    >>> one_line("TAMPERED: 1 problem(s)\\n  modified  tenant=acme seq=3: hash differs")
    'TAMPERED: 1 problem(s); modified tenant=acme seq=3: hash differs'
    >>> one_line("postgresql://app:s3cret@db:5432/audit: connection refused")
    'postgresql://app:***@db:5432/audit: connection refused'
    """
    text = message
    for pattern in _NOISE:
        text = pattern.sub(" ", text)
    text = _PASSWORD.sub(r"\1***@", text)
    from auditkit.access import redact_secrets

    text = redact_secrets(text)  # also ?password=, password=..., token secrets
    lines = [re.sub(r"\s{2,}", " ", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 3:  # e.g. a verification summary: its head, and a pointer to the rest
        lines = [*lines[:3], f"... ({len(lines) - 3} more; see auditkit verify)"]
    return "; ".join(lines) or "error"


def _quiet_stdout() -> None:
    """After a closed pipe (``auditkit query ... | head``), send what Python still
    flushes at exit to /dev/null instead of printing a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
