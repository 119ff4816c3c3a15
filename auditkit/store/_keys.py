"""Where a store's Ed25519 signing key lives: outside the database.

For a SQLite store ``audit.db`` the key is ``audit.db.key`` beside it (and the
public key ``audit.db.pub``); for a database URL it is
``$AUDITKIT_HOME/keys/<store id>.key`` (``~/.auditkit`` by default).  The
``AUDITKIT_KEY`` environment variable or an explicit ``key=`` argument points
anywhere else, e.g. a mounted secret.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_key_path", "public_key_path"]


def default_key_path(location_path: str | None, store_id: str) -> Path:
    """Return the signing key's default path for a store.

    Examples
    --------
    >>> default_key_path("/data/audit.db", "s1").name
    'audit.db.key'
    """
    env = os.environ.get("AUDITKIT_KEY")
    if env:
        return Path(env)
    if location_path is not None:
        return Path(location_path + ".key")
    home = Path(os.environ.get("AUDITKIT_HOME", Path.home() / ".auditkit"))
    return home / "keys" / f"{store_id}.key"


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
