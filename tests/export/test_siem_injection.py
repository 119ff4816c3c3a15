"""Hostile text in the SIEM formats: an event's own fields must not split its line nor
forge a header field of the line-oriented formats."""

from __future__ import annotations

import polars as pl

from auditkit.export.cef import cef_records, leef_records
from auditkit.export.syslog import SD_ID, syslog_records
from auditkit.frame import events_to_frame


def _event(**fields: object) -> dict[str, object]:
    return {
        "event_id": "e1",
        "tenant_id": "acme",
        "occurred_at": "2026-01-05T09:00:00Z",
        "action": "user.login",
        "actor": {"id": "u1"},
        **fields,
    }


def test_an_action_with_a_final_line_end_stays_on_one_syslog_line() -> None:
    # the ingest check of an action (a regex anchored with ``$``) let "user.login\n" in:
    # it is refused now, but a store written before may hold such rows
    df = events_to_frame([_event()]).with_columns(action=pl.lit("user.login\n"))
    for records in (syslog_records, cef_records, leef_records):
        (line,) = records(df)
        assert b"\n" not in line and b"\r" not in line, records.__name__
    (line,) = syslog_records(df)
    # HEADER: PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, then the SD element
    head = line.decode().split(" ", 7)
    assert head[5] == "user.login_"
    assert head[6] == f"[{SD_ID}" and head[7].startswith('tenant_id="acme"')


def test_the_syslog_msgid_is_printable_ascii_of_at_most_32() -> None:
    df = events_to_frame([_event(action="a" * 40 + ".b")])
    (line,) = syslog_records(df)
    assert line.decode().split(" ")[5] == "a" * 32
