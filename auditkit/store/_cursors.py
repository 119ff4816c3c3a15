"""Durable push cursors: how far each destination of ``auditkit stream`` has got.

One row per (destination, tenant): ``next_seq``, the first ``seq`` of the
tenant's trail that the destination has not acknowledged.  A sender reads it
before each run, sends from there, and moves it forward only after the
destination acknowledged a batch, so a crash, a receiver outage or a restart
resumes where it stopped (at-least-once: a batch sent but not yet recorded is
sent again).  A cursor never moves back (:meth:`StreamCursors.advance_stream_cursor`
keeps the larger value), so two senders racing cannot rewind it.

The table ``stream_cursors`` is created on first use, on SQLite and
PostgreSQL alike; it holds positions only, no event data.  Each row carries the
store key's signature over the store id, the destination, the tenant and the
position, so that someone who can write the database but lacks the key cannot
move a cursor forward to make a sender skip events (and a SIEM never see them):
a cursor without a valid signature stops the sender with an error naming it,
until the owner sets it again where the destination really is
(:meth:`StreamCursors.reset_stream_cursor`, ``auditkit stream --reset-cursor``).
Moving the sender needs the key, as appending does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from auditkit.errors import StoreError, UsageError
from auditkit.schema import format_timestamp

if TYPE_CHECKING:
    from auditkit.store._access import AccessSeal
    from auditkit.store._backend import Backend

__all__ = ["StreamCursors"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS stream_cursors ("
    "destination VARCHAR(200) NOT NULL, tenant_id VARCHAR(512) NOT NULL, "
    "next_seq BIGINT NOT NULL, updated_at VARCHAR(40) NOT NULL, signature TEXT, "
    "PRIMARY KEY (destination, tenant_id))"
)
#: what a cursor's signature covers, as a row of this (pseudo) table
_SIGNED_AS = "stream_cursors"


def _check_name(destination: str) -> str:
    if not isinstance(destination, str) or not destination or len(destination) > 200:
        raise UsageError(f"destination name: expected 1-200 characters, got {destination!r}")
    return destination


class StreamCursors:
    """The cursor methods of :class:`~auditkit.store.Store` (mixed in)."""

    backend: Backend
    store_id: str
    _cursor_table_ready: bool = False

    if TYPE_CHECKING:  # Store's

        def _signing_pair(self) -> tuple[Any, Any]: ...

    def _cursor_seal(self) -> AccessSeal:
        """The store's key (to sign), or the trusted public key (to check), for cursors;
        revocations play no part in them, so the manifest is not read."""
        from auditkit.store._access import AccessSeal

        key, public = self._signing_pair()
        return AccessSeal(self.store_id, public, key)

    def _cursor_table(self, conn: Any) -> None:
        if not self._cursor_table_ready:
            from auditkit.store._access import add_signature_columns

            cur = conn.cursor()
            cur.execute(_DDL)
            conn.commit()
            cur.close()
            add_signature_columns(self.backend, ["stream_cursors"])  # made before they were
            self._cursor_table_ready = True

    def stream_cursors(self, destination: str) -> dict[str, int]:
        """The next ``seq`` to send to ``destination``, by tenant (tenants never sent
        to are absent: they start at 0).

        Raises
        ------
        StoreError
            When a cursor is not signed by the store's key (set in the database by
            someone without it, or by a version that did not sign cursors): the
            sender would skip what lies before it.

        Examples
        --------
        >>> import tempfile, os
        >>> from auditkit.store import Store
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...                    "action": "user.login", "actor": {"id": "u1"}}])
        >>> store.advance_stream_cursor("splunk", "acme", 1)
        1
        >>> store.stream_cursors("splunk"), store.stream_cursor("splunk", "acme")
        ({'acme': 1}, 1)
        """
        name, ph = _check_name(destination), self.backend.ph
        with self.backend.connect() as conn:
            self._cursor_table(conn)
            cur = conn.cursor()
            cur.execute(
                "SELECT tenant_id, next_seq, signature FROM stream_cursors "
                f"WHERE destination = {ph}",
                (name,),
            )
            rows = cur.fetchall()
            cur.close()
            if self.backend.dialect != "sqlite":
                conn.rollback()
        seal = self._cursor_seal()
        bad = [
            (str(t), n) for t, n, sig in rows if not seal.valid(_SIGNED_AS, (name, str(t), n), sig)
        ]
        if bad:
            shown = ", ".join(f"tenant {t!r} at seq {n!r}" for t, n in sorted(bad)[:5])
            raise StoreError(
                f"stream cursor of destination {name!r} not signed by the store's key "
                f"({shown}{', ...' if len(bad) > 5 else ''}): it was set in the database "
                "(or by a version that did not sign cursors), and events before it may "
                "never have been sent. Check what the destination received, then set it "
                f"there: auditkit stream STORE --to {name} "
                f"--tenant {bad[0][0] if len(bad) == 1 else 'T'} --reset-cursor SEQ --once"
            )
        return {str(t): int(n) for t, n, _ in sorted(rows)}

    def stream_cursor(self, destination: str, tenant: str) -> int:
        """The next ``seq`` of ``tenant`` to send to ``destination`` (0 at first)."""
        return self.stream_cursors(destination).get(tenant, 0)

    def advance_stream_cursor(self, destination: str, tenant: str, next_seq: int) -> int:
        """Record that ``destination`` acknowledged ``tenant``'s events before
        ``next_seq``; a cursor only moves forward.  Returns the cursor now stored.
        Needs the store's signing key (the cursor is signed)."""
        return self._write_cursor(destination, tenant, next_seq, forward_only=True)

    def reset_stream_cursor(self, destination: str, tenant: str, next_seq: int) -> int:
        """Set ``destination``'s cursor for ``tenant`` to ``next_seq``, back or forward
        (signed): after checking what the destination received, e.g. when a cursor was
        found unsigned.  Events from ``next_seq`` on are sent by the next run.

        >>> import tempfile, os
        >>> from auditkit.store import Store
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> store.advance_stream_cursor("siem", "acme", 9)
        9
        >>> store.reset_stream_cursor("siem", "acme", 4)
        4
        """
        return self._write_cursor(destination, tenant, next_seq, forward_only=False)

    def _write_cursor(
        self, destination: str, tenant: str, next_seq: int, *, forward_only: bool
    ) -> int:
        name, ph = _check_name(destination), self.backend.ph
        if isinstance(next_seq, bool) or not isinstance(next_seq, int) or next_seq < 0:
            raise UsageError(f"next_seq: expected a whole number >= 0, got {next_seq!r}")
        signature = self._cursor_seal().sign(_SIGNED_AS, (name, tenant, next_seq))
        now = format_timestamp(datetime.now(UTC))
        only = "WHERE excluded.next_seq > stream_cursors.next_seq" if forward_only else ""
        with self.backend.connect() as conn:
            self._cursor_table(conn)
            with self.backend.write_transaction(conn) as cur:
                cur.execute(
                    "INSERT INTO stream_cursors (destination, tenant_id, next_seq, updated_at, "
                    f"signature) VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) "
                    "ON CONFLICT (destination, tenant_id) DO UPDATE SET "
                    "next_seq = excluded.next_seq, updated_at = excluded.updated_at, "
                    f"signature = excluded.signature {only}",
                    (name, tenant, next_seq, now, signature),
                )
                cur.execute(
                    "SELECT next_seq FROM stream_cursors "
                    f"WHERE destination = {ph} AND tenant_id = {ph}",
                    (name, tenant),
                )
                stored = int(cur.fetchone()[0])
        return stored
