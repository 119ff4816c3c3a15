"""What an attacker with write access to the database (but not the key) does:
plain SQL on the store's tables, with or without the immutability triggers."""

from __future__ import annotations

from typing import Any

from auditkit import Store

TRIGGERS = (
    "events_no_update",
    "events_no_delete",
    "checkpoints_no_update",
    "checkpoints_no_delete",
    "purges_no_change",
    "purges_no_delete",
)


def sql(
    store: Store,
    *statements: str,
    params: tuple[Any, ...] = (),
    drop_triggers: bool = True,
) -> None:
    """Run ``statements`` as the attacker (``?`` placeholders on both backends)."""
    backend = store.backend
    with backend.connect() as conn:
        cur = conn.cursor()
        if drop_triggers:
            if backend.dialect == "sqlite":
                for t in TRIGGERS:
                    cur.execute(f"DROP TRIGGER IF EXISTS {t}")
            else:
                for table in ("events", "checkpoints", "purges"):
                    cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for s in statements:
            if backend.dialect != "sqlite":
                s = s.replace("?", "%s")
            cur.execute(s, params) if params else cur.execute(s)
        conn.commit()


def blob_literal(store: Store, data: bytes) -> str:
    """A SQL literal for ``data`` on the store's backend."""
    if store.backend.dialect == "sqlite":
        return f"x'{data.hex()}'"
    return f"decode('{data.hex()}', 'hex')"
