"""Where a store's Ed25519 signing key lives: outside the database, at a path
that depends only on where the store is, never on anything stored in it.

For a SQLite store ``audit.db`` the key is ``audit.db.key`` beside it (and the
public key ``audit.db.pub``); for a database URL it is
``$AUDITKIT_HOME/keys/<host>_<port>_<database>.key`` (``~/.auditkit`` by
default), named from the URL without user or password.  The ``AUDITKIT_KEY``
environment variable or an explicit ``key=`` argument points anywhere else, e.g.
a mounted secret.

Why not the store id: it is a row in the database, and whoever can write the
database could change it to send verification to another key file, or to none.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["default_key_path", "location_slug", "public_key_path"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def location_slug(url: str) -> str:
    """A file name for a database URL: host, port and database, nothing secret.

    Examples
    --------
    >>> location_slug("postgresql+psycopg://postgres:secret@127.0.0.1:5432/audit")
    '127.0.0.1_5432_audit'
    >>> location_slug("postgresql://db.example/prod?sslmode=require")
    'db.example_5432_prod'
    """
    u = make_url(url)
    parts = [u.host or "localhost", str(u.port or 5432), u.database or "postgres"]
    return "_".join(_UNSAFE.sub("-", p) for p in parts)


def default_key_path(location_path: str | None, url: str | None = None) -> Path:
    """Return the signing key's default path for a store.

    ``location_path`` is the SQLite file (``None`` for a database URL, given as
    ``url``).

    Examples
    --------
    >>> default_key_path("/data/audit.db").name
    'audit.db.key'
    >>> default_key_path(None, "postgresql://h:5433/audit").name
    'h_5433_audit.key'
    """
    env = os.environ.get("AUDITKIT_KEY")
    if env:
        return Path(env)
    if location_path is not None:
        return Path(location_path + ".key")
    if url is None:
        raise ValueError("expected a SQLite path or a database URL")
    home = Path(os.environ.get("AUDITKIT_HOME", Path.home() / ".auditkit"))
    return home / "keys" / f"{location_slug(url)}.key"


def public_key_path(key_path: Path) -> Path:
    """The public key file written beside a private key file.

    Examples
    --------
    >>> public_key_path(Path("/data/audit.db.key")).name
    'audit.db.pub'
    """
    name = key_path.name
    stem = name[: -len(".key")] if name.endswith(".key") else name
    return key_path.with_name(stem + ".pub")
