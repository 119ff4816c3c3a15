"""auditkit: tamper-evident, multi-tenant audit trails.

The public names below are imported on first use (PEP 562), so that
``import auditkit`` and the command line start quickly: Polars, SQLAlchemy and
the store load only when something needs them.

>>> import auditkit
>>> sorted(auditkit.__all__) == auditkit.__all__
True
>>> auditkit.Store.__name__
'Store'
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from auditkit.errors import (
    AccessDenied,
    AuditkitError,
    IntegrityError,
    SchemaError,
    StoreError,
    TamperedError,
    UsageError,
)

if TYPE_CHECKING:
    from auditkit.frame import events_to_frame
    from auditkit.schema import FRAME_SCHEMA, normalize_event
    from auditkit.sql import query
    from auditkit.store import AppendResult, ConsistencyProof, InclusionProof, Store
    from auditkit.verification import Problem, ProblemKind, VerificationReport

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "AppendResult",
    "AuditkitError",
    "ConsistencyProof",
    "FRAME_SCHEMA",
    "InclusionProof",
    "IntegrityError",
    "Problem",
    "ProblemKind",
    "SchemaError",
    "Store",
    "StoreError",
    "TamperedError",
    "UsageError",
    "VerificationReport",
    "events_to_frame",
    "normalize_event",
    "query",
]

#: Where each lazily imported public name lives.
_LAZY = {
    "AppendResult": "auditkit.store",
    "ConsistencyProof": "auditkit.store",
    "FRAME_SCHEMA": "auditkit.schema",
    "InclusionProof": "auditkit.store",
    "Problem": "auditkit.verification",
    "ProblemKind": "auditkit.verification",
    "Store": "auditkit.store",
    "VerificationReport": "auditkit.verification",
    "events_to_frame": "auditkit.frame",
    "normalize_event": "auditkit.schema",
    "query": "auditkit.sql",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'auditkit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
