"""Durable push cursors: how far each destination of ``auditkit stream`` has got.

One row per (destination, tenant): ``next_seq``, the first ``seq`` of the
tenant's trail that the destination has not acknowledged.  A sender reads it
before each run, sends from there, and moves it forward only after the
destination acknowledged a batch, so a crash, a receiver outage or a restart
resumes where it stopped (at-least-once: a batch sent but not yet recorded is
sent again).  A cursor never moves back (:meth:`StreamCursors.advance_stream_cursor`
keeps the larger value), so two senders racing cannot rewind it.

The table ``stream_cursors`` is created on first use, on SQLite and
PostgreSQL alike; it holds positions only, no event data.  It is not covered by
the signed trees: a cursor moved forward by someone with database access makes
a sender skip events, which a receiver sees as a gap in ``seq`` (every batch
carries its seq range and the checkpoint that covers it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from auditkit.errors import UsageError
from auditkit.schema import format_timestamp

if TYPE_CHECKING:
    from auditkit.store._backend import Backend

__all__ = ["StreamCursors"]

_DDL = (
    "CREATE TABLE IF NOT EXISTS stream_cursors ("
    "destination VARCHAR(200) NOT NULL, tenant_id VARCHAR(512) NOT NULL, "
    "next_seq BIGINT NOT NULL, updated_at VARCHAR(40) NOT NULL, "
    "PRIMARY KEY (destination, tenant_id))"
)


def _check_name(destination: str) -> str:
    if not isinstance(destination, str) or not destination or len(destination) > 200:
        raise UsageError(f"destination name: expected 1-200 characters, got {destination!r}")
    return destination


class StreamCursors:
    """The cursor methods of :class:`~auditkit.store.Store` (mixed in)."""

    backend: Backend
    _cursor_table_ready: bool = False

    def _cursor_table(self, conn: Any) -> None:
        if not self._cursor_table_ready:
            cur = conn.cursor()
            cur.execute(_DDL)
            if self.backend.dialect != "sqlite":
                conn.commit()
            cur.close()
            self._cursor_table_ready = True

    def stream_cursors(self, destination: str) -> dict[str, int]:
        """The next ``seq`` to send to ``destination``, by tenant (tenants never sent
        to are absent: they start at 0).

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
                f"SELECT tenant_id, next_seq FROM stream_cursors WHERE destination = {ph}",
                (name,),
            )
            rows = cur.fetchall()
            cur.close()
            if self.backend.dialect != "sqlite":
                conn.rollback()
        return {str(t): int(n) for t, n in sorted(rows)}

    def stream_cursor(self, destination: str, tenant: str) -> int:
        """The next ``seq`` of ``tenant`` to send to ``destination`` (0 at first)."""
        return self.stream_cursors(destination).get(tenant, 0)

    def advance_stream_cursor(self, destination: str, tenant: str, next_seq: int) -> int:
        """Record that ``destination`` acknowledged ``tenant``'s events before
        ``next_seq``; a cursor only moves forward.  Returns the cursor now stored."""
        name, ph = _check_name(destination), self.backend.ph
        if isinstance(next_seq, bool) or not isinstance(next_seq, int) or next_seq < 0:
            raise UsageError(f"next_seq: expected a whole number >= 0, got {next_seq!r}")
        now = format_timestamp(datetime.now(UTC))
        with self.backend.connect() as conn:
            self._cursor_table(conn)
            with self.backend.write_transaction(conn) as cur:
                cur.execute(
                    "INSERT INTO stream_cursors (destination, tenant_id, next_seq, updated_at) "
                    f"VALUES ({ph}, {ph}, {ph}, {ph}) "
                    "ON CONFLICT (destination, tenant_id) DO UPDATE SET "
                    "next_seq = excluded.next_seq, updated_at = excluded.updated_at "
                    "WHERE excluded.next_seq > stream_cursors.next_seq",
                    (name, tenant, next_seq, now),
                )
                cur.execute(
                    "SELECT next_seq FROM stream_cursors "
                    f"WHERE destination = {ph} AND tenant_id = {ph}",
                    (name, tenant),
                )
                stored = int(cur.fetchone()[0])
        return stored
