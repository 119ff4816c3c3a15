"""Secrets out of text: passwords in URLs and connection strings, API tokens.

Messages, reports and logs name stores by their location, and a PostgreSQL location
may carry its password in several places: ``user:password@``, a ``?password=`` query
parameter, a libpq ``password=...`` keyword.  :func:`redact_secrets` replaces each with
``***``, and an auditkit API token (``akt_<id>_<secret>``) with its public id only.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["redact_secrets"]

#: ``scheme://user:password@``: the password runs to the last ``@`` before the host
#: (an unescaped ``@`` in it is the password's own).
_USERINFO: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:]*:)[^\s/?#]*@")
#: ``scheme://token@host`` (an S3 or HTTP URL with credentials and no user name)
_ONLY_SECRET: Final = re.compile(r"((?:s3|https?|wss?)://)[^\s/?#@:]+@")
_SECRET_KEYS: Final = (
    r"(?:ssl)?password|passwd|pwd|pass|secret|secret_?key|access_?key|api_?key|token|"
    r"authorization|sslkey|client_secret"
)
#: ``?password=...`` / ``&token=...`` in a URL's query
_QUERY: Final = re.compile(rf"([?&;](?:{_SECRET_KEYS})=)[^&#\s]*", re.IGNORECASE)
#: libpq keyword/value strings: ``host=db password='s 3'``
_KEYWORD: Final = re.compile(
    rf"((?<![\w?&;])(?:{_SECRET_KEYS})\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&#]+)", re.IGNORECASE
)
#: an auditkit API token: its public id may be shown, never its secret
_TOKEN: Final = re.compile(r"\b(akt_[A-Za-z0-9]+_)[A-Za-z0-9_\-]+")


def redact_secrets(text: str) -> str:
    """``text`` with every password, secret parameter and token secret replaced by ``***``.

    Examples
    --------
    >>> redact_secrets("postgresql+psycopg://app:s3cret@db:5432/audit")
    'postgresql+psycopg://app:***@db:5432/audit'
    >>> redact_secrets("postgresql://db/audit?sslmode=require&password=s3cret")
    'postgresql://db/audit?sslmode=require&password=***'
    >>> redact_secrets("postgresql://:pw@db/a postgresql://app:pa@ss@db/a")
    'postgresql://:***@db/a postgresql://app:***@db/a'
    >>> redact_secrets("host=db user=app password='s 3cret' dbname=audit")
    'host=db user=app password=*** dbname=audit'
    >>> redact_secrets("token akt_ab12_SECRETpart")
    'token akt_ab12_***'
    """
    out = _USERINFO.sub(r"\1***@", text)
    out = _ONLY_SECRET.sub(r"\1***@", out)
    out = _QUERY.sub(r"\1***", out)
    out = _KEYWORD.sub(r"\1***", out)
    return _TOKEN.sub(r"\1***", out)
