"""Role-based access to the trail: principals, roles, tokens, redaction.

See ``docs/access.md``.  The permission matrix is :data:`PERMISSIONS`; every
access path asks :func:`check`; :class:`~auditkit.store.Store` applies it
(``Store.open(location, principal=...)`` or ``token=...``).
"""

from auditkit.access._events import (
    ACCESS_ACTIONS,
    META_READ_ACTIONS,
    access_event,
    grant_event,
    local_owner_actor,
)
from auditkit.access._model import (
    ALL_TENANTS,
    GRANTABLE,
    PERMISSIONS,
    REQUIRES,
    STORE_WIDE,
    AccessContext,
    Decision,
    Grant,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    check,
    parse_permissions,
    parse_role,
    validate_principal_id,
)
from auditkit.access._redact import (
    REDACTED_FIELDS,
    Redaction,
    carry_redaction,
    key_id,
    redact_frame,
    redact_text,
    redaction_of,
)
from auditkit.access._secrets import redact_secrets
from auditkit.access._tokens import (
    NewToken,
    TokenInfo,
    hash_secret,
    new_token,
    parse_token,
    secret_matches,
)

__all__ = [
    "ACCESS_ACTIONS",
    "ALL_TENANTS",
    "GRANTABLE",
    "META_READ_ACTIONS",
    "PERMISSIONS",
    "REDACTED_FIELDS",
    "REQUIRES",
    "STORE_WIDE",
    "AccessContext",
    "Decision",
    "Grant",
    "NewToken",
    "Permission",
    "Principal",
    "PrincipalKind",
    "Redaction",
    "Role",
    "TokenInfo",
    "access_event",
    "carry_redaction",
    "check",
    "grant_event",
    "hash_secret",
    "key_id",
    "local_owner_actor",
    "new_token",
    "parse_permissions",
    "parse_role",
    "parse_token",
    "redact_frame",
    "redact_secrets",
    "redact_text",
    "redaction_of",
    "secret_matches",
    "validate_principal_id",
]
