"""The one place input formats are registered and looked up.

Adding a format is adding one module that calls :func:`register`, declared
under the ``auditkit.input_formats`` entry-point group; auditkit's own formats
are declared in its ``pyproject.toml`` the same way (see :mod:`auditkit.plugins`).
"""

from __future__ import annotations

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format
from auditkit.ingest._readers import read_head
from auditkit.plugins import GROUPS, Registry

__all__ = ["available_formats", "detect_format", "get_format", "register"]

_FORMATS: Registry[Format] = Registry("format", group=GROUPS["input_formats"])


def register(fmt: Format) -> Format:
    """Register an input format under ``fmt.name`` and return it.

    Examples
    --------
    >>> get_format("auditkit").name
    'auditkit'
    """
    return _FORMATS.register(fmt.name, fmt)


def available_formats() -> dict[str, Format]:
    """Return the registered formats by name, sorted.

    Examples
    --------
    >>> "auditkit" in available_formats()
    True
    """
    return _FORMATS.all()


def get_format(name: str) -> Format:
    """Return the format called ``name`` or raise :class:`UsageError` listing the known ones.

    Examples
    --------
    >>> get_format("nope")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: unknown format 'nope'; known: auditkit, ...
    """
    return _FORMATS.get(name)


def detect_format(path: str) -> Format:
    """Guess the format of a file from its first bytes and name.

    Raises
    ------
    SchemaError
        When no format recognises the file.
    """
    head = read_head(path)
    scored = sorted(
        ((fmt.sniff(head, path), name) for name, fmt in available_formats().items()),
        reverse=True,
    )
    if not scored or scored[0][0] <= 0:
        raise SchemaError(
            "cannot tell the format of this file; pass --format (known: "
            + ", ".join(available_formats())
            + ")",
            file=path,
        )
    return _FORMATS.get(scored[0][1])
