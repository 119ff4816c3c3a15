"""What ``auditkit verify`` remembers of a store it found intact, to catch a rollback.

A store put back, whole, to an older copy of itself (its manifest and checkpoints
included) is consistent with its key: only checkpoints kept outside the store show
that it lost events.  So after an intact, anchored verify of a whole store, the
command keeps the store's newest signed checkpoints (the document ``auditkit
checkpoint -o`` writes) in ``$AUDITKIT_HOME/verified/`` (``~/.auditkit/verified/``),
one file per store location (never keyed by the store id, which is in the database).
The next ``verify`` of that store on this machine checks it against them as
``--checkpoint FILE`` would: a store rolled back, cut short or rewritten since is named
(``rollback``, ``truncated``, ``fork``), a store re-signed with another key is
``wrong_key``, and another store in its place (its id changed, or a new store made
there) is ``wrong_store``.

Like SSH's ``known_hosts``, this protects the machine that verified before, not a
first look; a checkpoint saved elsewhere (``auditkit checkpoint -o``) protects any
machine.  A memory whose key was vouched for only by the files beside the store (the
default layout of a SQLite store) says so on every later verify: it pins the key as
this machine first saw it, and a key replaced before then is not seen.

``verify --no-remember`` neither reads nor writes the file; ``verify --forget`` drops
it first (after restoring a backup on purpose).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from auditkit.store import SavedCheckpoints, Store
    from auditkit.verification import VerificationReport

__all__ = [
    "Memory",
    "NotRemembered",
    "forget",
    "key_seen_only_beside",
    "recall",
    "remember",
    "remembered_path",
    "seen_elsewhere",
]

#: The document format of a remembered file (an ``auditkit checkpoint`` document inside).
_FORMAT = "auditkit-verified/1"


def _home() -> Path:
    return Path(os.environ.get("AUDITKIT_HOME", Path.home() / ".auditkit"))


def _where(store: Store) -> str:
    """The store's location as this machine names it: the absolute SQLite path (its
    folder's symbolic links resolved, never the file's own: whoever can write beside
    the store could otherwise point the name at another file, an older copy, and be
    a first look), or the database URL reduced to what names the database (see
    :func:`_database_name`): the same database reached with or without a password,
    through another driver or with the port left out has one memory.

    >>> from types import SimpleNamespace
    >>> url = "postgresql+psycopg://ann:pw@DB/audit?password=x&sslmode=require"
    >>> _where(SimpleNamespace(path=None, location=url))
    'postgresql://ann@db:5432/audit'
    """
    if store.path is not None:
        path = Path(os.path.abspath(store.path))
        return str(path.parent.resolve() / path.name)
    return _database_name(store.location)


#: query parameters that only say how to connect (the same database either way)
_HOW_TO_CONNECT = re.compile(
    r"(?:.*(?:pass|secret|token|key|credential|auth|cert|ssl|gss|krb).*"
    r"|connect_timeout|application_name|keepalives.*|tcp_user_timeout|target_session_attrs"
    r"|client_encoding|load_balance_hosts|channel_binding|fallback_application_name)\Z",
    re.I,
)


def _database_name(location: str) -> str:
    """A database URL reduced to the database it names: the scheme without its
    driver (``postgresql+psycopg`` is ``postgresql``), no password, the host in lower
    case with the default port, and no query parameter that only says how to connect
    (passwords and other secrets, TLS, time-outs...); those that remain are sorted.
    Text rules, so that only the store package reads URLs as a driver does.

    >>> _database_name("postgresql://postgres@127.0.0.1/nu4?password=s&options=-c%20x")
    'postgresql://postgres@127.0.0.1:5432/nu4?options=-c%20x'
    >>> _database_name("postgresql://postgres:pw@127.0.0.1:5432/nu4")
    'postgresql://postgres@127.0.0.1:5432/nu4'
    """
    from urllib.parse import parse_qsl, quote, urlencode, urlsplit

    try:
        parts = urlsplit(location)
        port = parts.port
    except ValueError:  # not a URL this reading understands: masked, as it is
        return _masked_url(location)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme in ("postgres", "postgresql"):
        scheme, port = "postgresql", port or 5432
    user = f"{parts.username}@" if parts.username else ""
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    netloc = f"{user}{host}" + (f":{port}" if port else "")
    params = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _HOW_TO_CONNECT.match(k)
    )
    query = "?" + urlencode(params, safe="/:,", quote_via=quote) if params else ""
    return f"{scheme}://{netloc}{parts.path}{query}"


def _masked_url(location: str) -> str:
    """``location`` with its password and every secret-looking query value masked
    (text rules, so that only the store package reads URLs as a driver does)."""
    text = re.sub(r"(//[^/@]*?:)[^/]*@", r"\1***@", location)
    return re.sub(
        r"([?&;][^=&;]*(?:pass|secret|token|key|credential|auth)[^=&;]*=)[^&;]*",
        r"\1xxx",
        text,
        flags=re.I,
    )


def remembered_path(store: Store) -> Path:
    """The file that holds what this machine remembers of ``store``.

    Examples
    --------
    >>> import os, tempfile
    >>> from auditkit.store import Store
    >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
    >>> remembered_path(store).parent.name
    'verified'
    """
    # the location alone: the store id is in the database, and a store whose id was
    # changed (or a new store put in its place) must still meet what was remembered
    digest = hashlib.sha256(_where(store).encode()).hexdigest()
    return _home() / "verified" / f"{digest[:32]}.json"


class Memory:
    """What :func:`recall` found: the checkpoints, and how far their key is trusted."""

    def __init__(self, saved: SavedCheckpoints, *, beside_since: str | None) -> None:
        self.saved = saved
        #: when this machine first took the key from files beside the store alone
        #: (``None``: an anchor from elsewhere vouched for it)
        self.beside_since = beside_since

    def limit(self) -> str:
        """The ``not checked:`` line of a memory resting on the files beside the store."""
        return (
            "the key is vouched for by files beside the store, as this machine first saw "
            f"them ({self.beside_since}) and has remembered them since: a key replaced "
            "before then is not seen; pin the key elsewhere (--fingerprint HEX, "
            "--public-key FILE) or keep the key apart from the database"
        )


def key_seen_only_beside(store: Store, report: VerificationReport, memory: Memory | None) -> bool:
    """Whether ``report``'s key rests only on files in the SQLite store's own folder
    (and on a memory that itself rested on them)."""
    from auditkit.verification import AnchorKind

    if store.path is None:  # a database URL: its key file is not in the database
        return False
    if memory is not None and memory.beside_since is None:
        return False
    folder = store.path.resolve().parent
    for anchor in report.anchors:
        if memory is not None and anchor.source == memory.saved.source:
            continue
        if anchor.kind is AnchorKind.WITNESS:
            continue  # cosigns the checkpoint notes; it does not name the key
        local = anchor.kind in (AnchorKind.KEY_FILE, AnchorKind.PUBLIC_KEY)
        if local and Path(anchor.source).resolve().parent == folder:
            continue
        return False
    return True


def recall(store: Store) -> tuple[Memory | None, str | None]:
    """The checkpoints remembered for ``store``, or ``None``; and a note when a file
    is there but cannot be used (it is then ignored, never trusted in part)."""
    from auditkit.errors import UsageError
    from auditkit.store import load_checkpoint_file

    path = remembered_path(store)
    if not path.is_file():
        return None, None
    try:
        doc = orjson.loads(path.read_bytes())
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValueError(f"expected format {_FORMAT!r}")
        saved = load_checkpoint_file(doc["checkpoints"])
        beside = doc.get("key_seen_only_beside_since")
        if beside is not None and not isinstance(beside, str):
            raise ValueError("field 'key_seen_only_beside_since': expected a time")
    except (OSError, ValueError, KeyError, TypeError, UsageError) as exc:
        return None, (
            f"the checkpoints remembered from an earlier verify ({path}) are unreadable "
            f"({exc}); not used (verify --forget drops them)"
        )
    when = doc.get("verified_at", "?")
    source = f"this machine's last intact verify ({when}, {path})"
    return Memory(_with_source(saved, source), beside_since=beside), None


def _with_source(saved: SavedCheckpoints, source: str) -> SavedCheckpoints:
    from dataclasses import replace

    return replace(saved, source=source)


def remember(store: Store, report: VerificationReport, memory: Memory | None) -> Path | None:
    """Keep ``store``'s newest signed checkpoints for the next verify on this machine,
    after ``report`` (intact, made with ``memory`` if any); return the file, or
    ``None`` when the store has no checkpoint yet.  Remembering is a help, never a
    reason to fail a verify: a file that cannot be written raises
    :class:`NotRemembered`, whose message says where and why (the command prints it
    as a note)."""
    doc = store.export_checkpoints()
    if not doc.get("checkpoints"):
        return None
    doc.pop("notes", None)  # the signed checkpoints are what is compared
    doc.pop("verifier_keys", None)
    path = remembered_path(store)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    beside = None
    if key_seen_only_beside(store, report, memory):
        beside = memory.beside_since if memory is not None and memory.beside_since else now
    body: dict[str, Any] = {
        "format": _FORMAT,
        "location": _where(store),
        "store_id": store.store_id,
        "verified_at": now,
        "key_seen_only_beside_since": beside,
        "checkpoints": doc,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        tmp.replace(path)  # whole or not at all, as a concurrent verify reads it
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise NotRemembered(
            f"this verify could not be remembered ({_why(exc, path)}): the next verify "
            "on this machine cannot name a rollback to the state before it; set "
            "AUDITKIT_HOME to a folder you can write, or keep a checkpoint elsewhere "
            "(auditkit checkpoint -o FILE)"
        ) from None
    return path


class NotRemembered(Exception):
    """What this machine remembers of a store cannot be written or dropped (its
    message names the file and why)."""


def _why(exc: OSError, path: Path) -> str:
    """``path`` and why ``exc`` stopped the work there, in words.

    >>> _why(NotADirectoryError(20, "Not a directory"), Path("/h/verified/x.json"))
    '/h/verified/x.json: Not a directory'
    """
    return f"{path}: {exc.strerror or exc}"


def forget(store: Store) -> bool:
    """Drop what this machine remembers of ``store``; whether there was anything.

    Raises
    ------
    NotRemembered
        When the file is there but cannot be removed (or its folder cannot be read).
    """
    path = remembered_path(store)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        return False  # AUDITKIT_HOME (or its verified/) is a file: nothing is remembered
    except OSError as exc:
        raise NotRemembered(
            f"what this machine remembers of the store could not be dropped ({_why(exc, path)})"
        ) from None
    return True


def seen_elsewhere(store: Store, *, limit: int = 2000) -> str | None:
    """Where else this machine remembers a store with ``store``'s id (a store moved or
    renamed, or a copy of it), for a note on a first look; never an anchor (the id is
    in the database).  At most ``limit`` files are read."""
    folder = _home() / "verified"
    here = _where(store)
    try:
        files = sorted(folder.glob("*.json"))[:limit]
    except OSError:
        return None
    for path in files:
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("store_id") != store.store_id:
            continue
        location = doc.get("location")
        if isinstance(location, str) and location != here:
            return location
    return None
