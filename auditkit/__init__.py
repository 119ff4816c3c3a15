"""auditkit: tamper-evident, multi-tenant audit trails.

>>> import auditkit
>>> sorted(auditkit.__all__) == auditkit.__all__
True
"""

from auditkit.errors import (
    AccessDenied,
    AuditkitError,
    IntegrityError,
    SchemaError,
    StoreError,
    TamperedError,
    UsageError,
)
from auditkit.frame import events_to_frame
from auditkit.schema import FRAME_SCHEMA, normalize_event
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
]
