"""The one place input formats are registered and looked up.

Adding a format is adding one module under ``auditkit/ingest/formats/`` that
calls :func:`register`, and its name to ``formats/__init__.py``.
"""

from __future__ import annotations

from auditkit.errors import SchemaError, UsageError
from auditkit.ingest._base import Format
from auditkit.ingest._readers import read_head

__all__ = ["available_formats", "detect_format", "get_format", "register"]

_FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Register an input format under ``fmt.name`` and return it.

    Examples
    --------
    >>> get_format("auditkit").name
    'auditkit'
    """
    if fmt.name in _FORMATS and _FORMATS[fmt.name] is not fmt:
        raise UsageError(f"input format {fmt.name!r} is registered twice")
    _FORMATS[fmt.name] = fmt
    return fmt


def _load() -> None:
    import auditkit.ingest.formats  # noqa: F401  (registers the built-in formats)


def available_formats() -> dict[str, Format]:
    """Return the registered formats by name, sorted.

    Examples
    --------
    >>> "auditkit" in available_formats()
    True
    """
    _load()
    return dict(sorted(_FORMATS.items()))


def get_format(name: str) -> Format:
    """Return the format called ``name`` or raise :class:`UsageError` listing the known ones.

    Examples
    --------
    >>> get_format("nope")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: unknown format 'nope'; known: auditkit, ...
    """
    formats = available_formats()
    if name not in formats:
        raise UsageError(f"unknown format {name!r}; known: {', '.join(formats)}")
    return formats[name]


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
    return _FORMATS[scored[0][1]]
