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

__all__ = ["Memory", "forget", "key_seen_only_beside", "recall", "remember", "remembered_path"]

#: The document format of a remembered file (an ``auditkit checkpoint`` document inside).
_FORMAT = "auditkit-verified/1"


def _home() -> Path:
    return Path(os.environ.get("AUDITKIT_HOME", Path.home() / ".auditkit"))


def _where(store: Store) -> str:
    """The store's location as this machine names it: the absolute SQLite path (its
    folder's symbolic links resolved, never the file's own: whoever can write beside
    the store could otherwise point the name at another file, an older copy, and be
    a first look), or the URL with every secret masked (its password, and query
    parameters such as ``password=`` or ``sslpassword=``).

    >>> from types import SimpleNamespace
    >>> url = "postgresql+psycopg://ann:pw@db/audit?password=x&sslmode=require"
    >>> _where(SimpleNamespace(path=None, location=url))
    'postgresql+psycopg://ann:***@db/audit?password=xxx&sslmode=require'
    """
    if store.path is not None:
        path = Path(os.path.abspath(store.path))
        return str(path.parent.resolve() / path.name)
    return _masked_url(store.location)


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
    ``None`` when the store has no checkpoint yet or the file cannot be written
    (remembering is a help, never a reason to fail a verify)."""
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
        tmp.replace(path)  # whole or not at all, as a concurrent verify reads it
    except OSError:
        return None
    return path


def forget(store: Store) -> bool:
    """Drop what this machine remembers of ``store``; whether there was anything."""
    path = remembered_path(store)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
