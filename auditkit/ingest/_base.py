"""The input-format contract: every format (CloudTrail, Okta, canonical NDJSON...)
is an object with a name, a sniffer, a record reader and a mapper to the
canonical event.  Formats are registered in :mod:`auditkit.ingest.registry`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from auditkit.errors import SchemaError

__all__ = ["Format", "RawRecord", "Reading"]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input record as read from a file, before mapping.

    Attributes
    ----------
    file
        The input file's path as given.
    line
        1-based line number (line-oriented files) or 1-based record index
        (records inside one JSON document; ``location`` then says which).
    value
        The parsed record (a JSON object or a CSV row as a dict), or ``None``
        when it could not be parsed.
    error
        Why the record could not be parsed; such records are quarantined.
    text
        The original text of the record (may be cut to a bounded length),
        kept for the quarantine.
    location
        Extra location detail, e.g. ``"Records[3]"``.
    """

    file: str
    line: int
    value: Any = None
    error: SchemaError | None = None
    text: str | None = None
    location: str | None = None


@runtime_checkable
class Format(Protocol):
    """An input format.

    ``sniff`` looks at the first bytes of a file (already un-gzipped) and its
    name and returns a confidence from 0 (not this format) to 100 (certain);
    ``records`` streams the file's records in bounded memory; ``to_event``
    maps one parsed record to a canonical event mapping (validated afterwards
    by :func:`auditkit.schema.normalize_event`), raising
    :class:`~auditkit.errors.SchemaError` naming the field when it cannot.
    ``tenant`` is the ``--tenant`` option: formats whose records carry no
    tenant use it, and raise a SchemaError when it is needed but absent.

    A format may also have ``tenant_needed(path) -> str | None``: when the
    records of ``path`` cannot carry a tenant at all (Okta, GitLab, a CSV
    without a ``tenant_id`` column), what to pass (``"Okta records carry no
    tenant; pass --tenant NAME"``).  Without ``--tenant`` the ingest then
    stops before anything is stored, rather than quarantine every record for
    the same missing option.
    """

    name: str
    description: str

    def sniff(self, head: bytes, path: str) -> int: ...

    def records(self, path: str) -> Iterator[RawRecord]: ...

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]: ...


@dataclass
class Reading:
    """A way of reading a file's records that then maps each with another format,
    ``inner`` (Parquet rows, records inside envelopes, flattened CSV rows): it has the
    inner format's name, sniffer, mapper and ``--tenant`` rule; each subclass has the
    ``records`` method that reads them its way, and says what it adds to the
    description (``how``).
    Never registered: the ingest makes one for a file whose layout calls for it.
    """

    inner: Format
    #: the inner format's name (what the ingest reports for the file)
    name: str = dataclasses.field(init=False)
    description: str = dataclasses.field(init=False)
    #: what this reading adds to the inner format's description
    how: ClassVar[str] = ""

    def __post_init__(self) -> None:
        self.name = self.inner.name
        self.description = f"{self.inner.description}, {self.how}"

    def sniff(self, head: bytes, path: str) -> int:
        """The inner format's confidence."""
        return self.inner.sniff(head, path)

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """The inner format's event."""
        return self.inner.to_event(record, tenant=tenant)

    def tenant_needed(self, path: str) -> str | None:
        """The inner format's rule (Okta and GitLab records never carry a tenant)."""
        needed = getattr(self.inner, "tenant_needed", None)
        return needed(path) if needed is not None else None

    def assuming_utc(self) -> Self:
        """This reading, its format reading times without a zone as UTC."""
        inner = getattr(self.inner, "assuming_utc", None)
        return dataclasses.replace(self, inner=inner()) if inner is not None else self
