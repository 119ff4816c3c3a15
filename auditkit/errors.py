"""Exceptions raised by auditkit.

Every error raised on purpose by auditkit derives from :class:`AuditkitError`,
so ``except AuditkitError`` catches them all while foreign exceptions
(``ValueError`` from a parser, ``sqlite3.OperationalError``) are wrapped where
they cross into the package.

::

    AuditkitError
    ├── SchemaError          bad input: names file, line and field
    ├── IntegrityError       a proof, signature or verification failed
    │   └── TamperedError    ``VerificationReport.raise_for_problems()``
    ├── StoreError           the store cannot be opened, created or written
    ├── AccessDenied         the caller may not see or change this data
    └── UsageError           a call or command line that cannot work as given

Each error has :meth:`AuditkitError.diagnostics`, a longer text for people.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AuditkitError",
    "IntegrityError",
    "SchemaError",
    "StoreError",
    "TamperedError",
    "UsageError",
]


class AuditkitError(Exception):
    """Root of all auditkit errors."""

    def diagnostics(self) -> str:
        """Return a longer, human-readable explanation of the error.

        Examples
        --------
        >>> AuditkitError("store is locked").diagnostics()
        'AuditkitError: store is locked'
        """
        return f"{type(self).__name__}: {self}"


class SchemaError(AuditkitError):
    """An input record does not fit the event schema.

    Parameters
    ----------
    reason
        What was expected and what was found.
    file, line, field
        Where: the input file, its line (or record index) and the field.

    Examples
    --------
    >>> str(SchemaError("expected RFC 3339 timestamp, got '12/31'",
    ...                 file="events.ndjson", line=12, field="occurred_at"))
    "events.ndjson line 12: field 'occurred_at': expected RFC 3339 timestamp, got '12/31'"
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        head = " ".join(where)
        parts = [head] if head else []
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.reason)
        return ": ".join(parts)

    def located(self, *, file: str | None = None, line: int | None = None) -> SchemaError:
        """Return a copy of this error with the file and line filled in.

        Examples
        --------
        >>> SchemaError("missing", field="tenant_id").located(file="a.csv", line=3).args[0]
        "a.csv line 3: field 'tenant_id': missing"
        """
        return SchemaError(
            self.reason,
            file=file if file is not None else self.file,
            line=line if line is not None else self.line,
            field=self.field,
        )


class IntegrityError(AuditkitError):
    """A proof, a signature or a verification failed."""


class TamperedError(IntegrityError):
    """Verification found problems; raised by ``raise_for_problems()``."""


class StoreError(AuditkitError):
    """The store cannot be opened, created or written."""


class AccessDenied(AuditkitError):
    """The caller may not see or change this data."""


class UsageError(AuditkitError):
    """A call or command line that cannot work as given."""


class DetectorError(AuditkitError):
    """A detector stopped on an error of its engine (a Polars panic), not of the data's
    shape: named, so that the other detectors can be run without it."""
