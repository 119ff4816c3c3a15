"""The hot tier: a tamper-evident event store in SQLite or PostgreSQL."""

from auditkit.store import _bound  # noqa: F401  (installs the principal-bound handle)
from auditkit.store._cold import NAME_MAX, display_url, tenant_file_name
from auditkit.store._page import JsonPage
from auditkit.store._trust import SavedCheckpoints, load_checkpoint_file
from auditkit.store.store import (
    AppendResult,
    ConsistencyProof,
    InclusionProof,
    Store,
    misdirected,
)

__all__ = [
    "NAME_MAX",
    "AppendResult",
    "ConsistencyProof",
    "InclusionProof",
    "JsonPage",
    "SavedCheckpoints",
    "Store",
    "display_url",
    "load_checkpoint_file",
    "misdirected",
    "tenant_file_name",
]
