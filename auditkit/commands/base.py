"""What every command shares: the command registry, common arguments, one rule
for each thing commands do alike, and output.

Commands register with :func:`command` in modules declared under the
``auditkit.commands`` entry-point group (auditkit's own in its ``pyproject.toml``,
a third-party package's in its own: see :mod:`auditkit.plugins`);
:func:`auditkit.cli.main` builds its parser from :data:`COMMANDS`.

One meaning everywhere:

* **times**: ``--since``/``--until`` take instants and ``--period`` takes periods,
  all parsed by :mod:`auditkit.times` (:func:`time_arguments`, :func:`time_range`);
* **tenants**: ``--tenant`` names a tenant of the store (:func:`tenant_argument`);
  the store refuses an unknown one with a usage error (exit 2) that names only
  the tenant asked for;
* **output files**: checked before any work by :func:`output_path` (a missing
  folder is created; a directory or an unwritable place is a usage error);
* **progress**: a bar on stderr while stderr is a terminal, never otherwise, and
  never with ``--no-progress`` (:func:`progress_argument`, :func:`progress_bar`);
* **event text on a terminal** goes through :func:`terminal_text`, which makes
  control characters visible instead of letting them act.

This module stays light (no Polars, no SQLAlchemy): the parser of every command
is built from it on each start, and ``auditkit --help`` must be quick.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from auditkit.errors import UsageError
from auditkit.plugins import GROUPS, Registry

if TYPE_CHECKING:
    from auditkit.store import Store

__all__ = [
    "COMMANDS",
    "LARGEST",
    "MAX_SHOWN",
    "Command",
    "Handler",
    "Progress",
    "at_least",
    "command",
    "error",
    "events_total",
    "open_store",
    "output_path",
    "period_option",
    "print_json",
    "progress_argument",
    "progress_bar",
    "read_public_key",
    "store_argument",
    "store_name",
    "tenant_argument",
    "tenant_name",
    "terminal_lines",
    "terminal_text",
    "time_arguments",
    "time_range",
]

Handler = Callable[[argparse.Namespace], int]

#: A progress callback: called with the number of items done since the last call.
Progress = Callable[[float], None]  # tqdm.update: whole items, or a share of one


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
    """Register a sub-command: ``@command(name, help)(arguments)(handler)``.

    The arguments function runs each time the parser is built (every start), so
    it must not import heavy modules; the handler imports what it needs.
    """

    def with_args(
        args_fn: Callable[[argparse.ArgumentParser], None],
    ) -> Callable[[Handler], Handler]:
        def with_handler(fn: Handler) -> Handler:
            COMMANDS.register(name, Command(name, fn, args_fn, help_text))
            return fn

        return with_handler

    return with_args


# -- output -----------------------------------------------------------------------------
def print_json(doc: Any) -> None:
    """Write one JSON document to stdout (what ``--json`` prints)."""
    import orjson

    sys.stdout.write(
        orjson.dumps(
            doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
        + "\n"
    )


def error(message: str) -> None:
    """Write a one-line error to stderr."""
    sys.stderr.write(f"auditkit: {terminal_text(message)}\n")


# C0 and C1 controls, DEL, and the invisible format characters that reorder or hide
# text (bidirectional overrides and isolates, line and paragraph separators).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _visible(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(value: object) -> str:
    """Text safe to print on a terminal: control characters shown, not obeyed.

    Event text (actor ids, descriptions, tenant names) comes from whoever wrote
    the event; a carriage return or an escape sequence in it could rewrite what a
    terminal shows.  Every C0/C1 control character, DEL and the Unicode
    bidirectional and line-separator controls are replaced by a visible escape
    (``\\x1b``, ``\\u202e``), so the evidence stays readable and nothing acts.

    Examples
    --------
    >>> terminal_text("mallory\\r\\x1b[2Kalice")
    'mallory\\\\x0d\\\\x1b[2Kalice'
    >>> terminal_text("admin\\u202egnp.exe")
    'admin\\\\u202egnp.exe'
    >>> terminal_text(None), terminal_text("plain café")
    ('', 'plain café')
    """
    if value is None:
        return ""
    return _CONTROL.sub(_visible, value if isinstance(value, str) else str(value))


def terminal_lines(text: str) -> str:
    r"""Our own multi-line text (a summary) for a terminal: its line breaks kept, every
    other control character in each line shown escaped (see :func:`terminal_text`).

    Examples
    --------
    >>> print(terminal_lines("TAMPERED: 1 problem(s)\n  modified  actor=\x1b[2Kroot"))
    TAMPERED: 1 problem(s)
      modified  actor=\x1b[2Kroot
    """
    return "\n".join(terminal_text(line) for line in text.split("\n"))


#: The largest whole number an option takes unless it says otherwise: what a database
#: integer (a seq, a count) holds; beyond it a number cannot name anything.
LARGEST: Final = 2**63 - 1
#: The largest ``--limit`` of rows shown on a terminal (``0`` shows all of them).
MAX_SHOWN: Final = 10**9


def at_least(minimum: int, maximum: int = LARGEST) -> Callable[[str], int]:
    """An argparse ``type`` for whole numbers from ``minimum`` to ``maximum`` (exit 2
    otherwise: ``--limit 99999999999999999999`` is a usage error, not an overflow).

    Examples
    --------
    >>> at_least(0)("12")
    12
    >>> at_least(0)("-5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a whole number >= 0, got -5
    >>> at_least(1, 1000)("5000")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a whole number from 1 to 1000, got 5000
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        if value > maximum:
            shown = text if len(text) <= 30 else text[:27] + "..."
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {minimum} to {maximum}, got {shown}"
            )
        return value

    return parse


# -- the store --------------------------------------------------------------------------
def store_argument(p: argparse.ArgumentParser) -> None:
    """Add the STORE positional and ``--key``."""
    p.add_argument(
        "store", metavar="STORE", type=store_name, help="SQLite file path or postgresql:// URL"
    )
    p.add_argument(
        "--key", metavar="FILE", help="signing key file (default: STORE.key, or $AUDITKIT_KEY)"
    )


def store_name(text: str) -> str:
    """The STORE argument, refused before any work when it cannot name a store (an
    empty word: ``auditkit verify "$STORE"`` with the variable unset).

    Examples
    --------
    >>> store_name("audit.db")
    'audit.db'
    >>> store_name("")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a store: a SQLite file path or a postgresql:// URL, got ''
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"expected a store: a SQLite file path or a postgresql:// URL, got {text!r}"
        )
    return text


def _check_key_file(path: str) -> None:
    """A ``--key`` file must be there and hold an Ed25519 private key (one line if not)."""
    from auditkit.integrity import SignatureError, load_private_key

    if not Path(path).is_file():
        what = "is a directory" if Path(path).is_dir() else "does not exist"
        raise UsageError(f"--key {path}: {what}; expected the store's private key file")
    try:
        load_private_key(path)
    except (SignatureError, ValueError):
        raise UsageError(
            f"--key {path}: not an Ed25519 private key in PEM form "
            "(expected the key file `auditkit init` wrote)"
        ) from None


def open_store(args: argparse.Namespace) -> Store:
    """Open the store named by the parsed arguments (``store`` and ``key``)."""
    from auditkit.store import Store

    key = getattr(args, "key", None)
    if key:
        _check_key_file(key)
    return Store.open(args.store, key=key)


def read_public_key(path: str) -> str:
    """The PEM text of a ``--public-key`` file, checked to be an Ed25519 public key."""
    from auditkit.integrity import SignatureError, load_public_key

    file = Path(path)
    if not file.is_file():
        what = "is a directory" if file.is_dir() else "does not exist"
        raise UsageError(f"--public-key {path}: {what}")
    text = file.read_text(errors="replace")
    try:
        load_public_key(text)
    except (SignatureError, ValueError):
        raise UsageError(
            f"--public-key {path}: not an Ed25519 public key in PEM form "
            "(expected a file like STORE.pub)"
        ) from None
    return text


# -- tenants ----------------------------------------------------------------------------
def tenant_name(text: str) -> str:
    """The value of a ``--tenant`` option, refused (a usage error, before any work)
    when it cannot name a tenant: empty, not printable, or longer than 512 characters.

    Examples
    --------
    >>> tenant_name("acme")
    'acme'
    >>> tenant_name("a\\nb")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected printable characters only, got 'a\\nb'
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a tenant name, got {text!r}")
    if not text.isprintable():
        raise argparse.ArgumentTypeError(f"expected printable characters only, got {text!r}")
    if len(text) > 512:
        raise argparse.ArgumentTypeError(f"expected at most 512 characters, got {len(text)}")
    return text


def tenant_argument(p: argparse.ArgumentParser, *, help_text: str | None = None) -> None:
    """Add ``--tenant T`` (repeatable)."""
    p.add_argument(
        "--tenant",
        action="append",
        type=tenant_name,
        metavar="T",
        help=help_text or "only this tenant (repeatable; default: every tenant)",
    )


# -- times ------------------------------------------------------------------------------
_INSTANT_FORMS = (
    "an RFC 3339 time, a date, now/today/yesterday, or an age like 30d, 12h, 12mo or 1y"
)


def time_arguments(
    p: argparse.ArgumentParser,
    *,
    since_help: str = "events at or after",
    until_help: str = "events before",
) -> None:
    """Add ``--since WHEN`` and ``--until WHEN`` (instants, see :mod:`auditkit.times`)."""
    p.add_argument("--since", metavar="WHEN", help=f"{since_help}: {_INSTANT_FORMS}")
    p.add_argument("--until", metavar="WHEN", help=f"{until_help} (same forms as --since)")


def time_range(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    """``(since, until)`` from the parsed arguments, as aware UTC datetimes or None.

    Examples
    --------
    >>> ns = argparse.Namespace(since="2026-03-01", until=None)
    >>> time_range(ns)
    (datetime.datetime(2026, 3, 1, 0, 0, tzinfo=datetime.timezone.utc), None)
    >>> time_range(argparse.Namespace(since="2026-03-02", until="2026-03-01"))
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --until 2026-03-01 is not after --since 2026-03-02
    """
    from auditkit.times import parse_instant

    out: list[datetime | None] = []
    for name in ("since", "until"):
        text = getattr(args, name, None)
        try:
            out.append(parse_instant(text) if text else None)
        except UsageError as exc:
            raise UsageError(f"--{name}: {exc}") from None
    since, until = out
    if since is not None and until is not None and until <= since:
        raise UsageError(f"--until {args.until} is not after --since {args.since}")
    return since, until


def period_option(text: str, *, option: str = "--period") -> Any:
    """A ``--period`` checked before any work (an :class:`auditkit.times.Period`): one
    line naming the option, and a period that starts after today refused (nothing can
    have been logged in it yet: ``2100-01-01..2100-01-31`` is a typo, not a report).

    Examples
    --------
    >>> str(period_option("2026-01-01..2026-03-31"))
    '2026-01-01..2026-03-31'
    >>> period_option("2026-02-30..2026-03-31")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --period: expected START..END ... (no such day: day is out of range for month)
    >>> period_option("2999-01-01..2999-01-31")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --period 2999-01-01..2999-01-31: starts after today (...); nothing ...
    """  # noqa: E501
    from datetime import UTC

    from auditkit.times import parse_period

    try:
        period = parse_period(text)
    except UsageError as exc:
        message = str(exc).removeprefix("period: ")
        raise UsageError(f"{option}: {message}") from None
    today = datetime.now(UTC).date()
    if period.start > today:
        raise UsageError(
            f"{option} {text}: starts after today ({today}); nothing can be logged in it yet"
        )
    return period


# -- output files -----------------------------------------------------------------------
def is_stdout(path: str | os.PathLike[str] | None) -> bool:
    """Whether an output option names standard output (``-o -``), as in most tools.

    Examples
    --------
    >>> is_stdout("-"), is_stdout("./-"), is_stdout(None)
    (True, False, False)
    """
    return path is not None and os.fspath(path) == "-"


def output_path(path: str | os.PathLike[str], *, option: str = "-o") -> Path:
    """Check, before any work, that a command can write a file at ``path``.

    The one rule for every command that writes a file: a missing parent folder
    is created; an existing directory, a parent that is a file, or a place that
    cannot be written is a :class:`~auditkit.errors.UsageError` raised now, so a
    long job never fails at its end for want of a folder.  An existing file is
    replaced (when the command writes it).

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> output_path(base / "new" / "report.html").parent.is_dir()
    True
    >>> output_path(base)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: -o ...: is a directory; expected a file name
    >>> output_path("-", option="--labels")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --labels -: this command writes a file here; give a file name
    """
    text = os.fspath(path)
    if not text:
        raise UsageError(f"{option}: expected a file name, got ''")
    if is_stdout(text):
        # '-' is standard output where a command can write there (it asks is_stdout
        # first); anywhere else it would silently become a file named '-'
        raise UsageError(f"{option} -: this command writes a file here; give a file name")
    target = Path(text).expanduser()
    if target.is_dir():
        raise UsageError(f"{option} {text}: is a directory; expected a file name")
    if target.exists() and not target.is_file():
        # a device or a pipe (/dev/null, /dev/full, a FIFO, >(...)): every output is
        # written beside its target and renamed into place, which would replace the
        # device node itself (for root, /dev/null with a regular file)
        stdout = " (or -o - for standard output)" if option == "-o" else ""
        raise UsageError(
            f"{option} {text}: not a regular file (a device or a pipe); give a file name{stdout}"
        )
    precious = _precious(target)
    if precious:
        raise UsageError(
            f"{option} {text}: {precious}; refusing to write over it (give another file name)"
        )
    folder = target.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {text}: {existing} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"{option} {text}: cannot create folder {folder}: {exc.strerror or exc}"
        ) from None
    _check_writable(target, option=option, text=text)
    return target


_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_PEM_PRIVATE: Final = re.compile(rb"(?m)^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_PEM_PUBLIC: Final = re.compile(rb"(?m)^-----BEGIN PUBLIC KEY-----")


def _precious(target: Path) -> str | None:
    """Why writing over ``target`` would destroy what no output should: a store (any
    SQLite database, or its journal), or a key (a typo such as ``-o audit.db`` for
    ``-o audit.ndjson`` would replace the trail, ``-o audit.db.key`` its signing key).

    Examples
    --------
    >>> import tempfile
    >>> key = Path(tempfile.mkdtemp()) / "a.key"
    >>> _ = key.write_text("-----BEGIN PRIVATE KEY-----")
    >>> _precious(key)
    'holds a private key'
    >>> _precious(key.with_name("new.json")) is None
    True
    """
    try:
        if not target.is_file():
            return None
        with target.open("rb") as fh:
            head = fh.read(256)
    except OSError:
        return None  # the write check that follows says why it cannot be written
    if head.startswith(_SQLITE_MAGIC):
        return "is a SQLite database (a store?)"
    # a PEM block begins a line; a checkpoint or proof file quotes the public key
    # inside a JSON string, and is replaced by the next `checkpoint -o` as any output
    if _PEM_PRIVATE.search(head):
        return "holds a private key"
    if _PEM_PUBLIC.search(head):
        return "holds a public key"
    for suffix in ("-wal", "-shm", "-journal"):
        if target.name.endswith(suffix):
            db = target.with_name(target.name[: -len(suffix)])
            if _precious(db) == "is a SQLite database (a store?)":
                return f"belongs to the SQLite database {db}"
    return None


def _check_writable(target: Path, *, option: str, text: str) -> None:
    """Try what the command will do: create (and remove) a file in the folder, and
    open an existing target for writing without changing it."""
    probe = target.parent / f".{target.name}.auditkit-probe-{os.getpid()}"
    try:
        if target.exists():
            with target.open("ab"):
                pass
        else:
            with probe.open("xb"):
                pass
            probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"{option} {text}: cannot write here: {exc.strerror or type(exc).__name__}"
        ) from None


# -- progress -----------------------------------------------------------------------------
def progress_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--no-progress``."""
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (shown on stderr only when it is a terminal)",
    )


@contextmanager
def progress_bar(
    args: argparse.Namespace,
    *,
    desc: str,
    unit: str = "events",
    total: int | Callable[[], int | None] | None = None,
) -> Iterator[Progress | None]:
    """A progress callback for a long job, or ``None`` when no bar should show.

    The bar goes to stderr, and only while stderr is a terminal and
    ``--no-progress`` was not given: scripts, pipes and CI logs stay clean.  The
    callback takes the number of items done since its last call; ``total`` may be
    unknown (``None``), or a function that tells it, called only when a bar shows
    (counting can cost a pass over an index).

    Examples
    --------
    >>> with progress_bar(argparse.Namespace(no_progress=True), desc="verify") as tick:
    ...     tick is None
    True
    """
    if getattr(args, "no_progress", False) or not _stderr_is_terminal():
        yield None
        return
    from tqdm import tqdm

    # counts are whole: without unit_scale tqdm shows "10 records", where its SI
    # scaling writes "0.00 records" and "10.0 records" below a thousand
    bar = tqdm(
        total=total() if callable(total) else total,
        desc=desc,
        unit=f" {unit}",
        unit_scale=False,
        file=sys.stderr,
        leave=False,
        dynamic_ncols=True,
        mininterval=0.2,
    )
    try:
        yield bar.update
    finally:
        bar.close()


def events_total(store: Store, tenants: Sequence[str] | None) -> int | None:
    """How many events a job over these tenants reads (a progress bar's total), or
    None when it cannot be told cheaply."""
    try:
        return sum(store.count(t) for t in tenants) if tenants else store.count()
    except Exception:  # only for a progress bar: never fail a command over it
        return None


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
