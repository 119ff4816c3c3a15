"""The report's CSV (one row per control) is as formula-safe as every other CSV: its
reasons and tenants column carry tenant names, which come from the events."""

from __future__ import annotations

import csv
import io

from auditkit.frame import events_to_frame
from auditkit.reports import build_report_from_frame
from auditkit.reports.render_json import render_csv

TENANT = '=HYPERLINK("http://evil.example/","x")'


def test_no_report_csv_cell_runs_as_a_formula() -> None:
    df = events_to_frame(
        [
            {
                "tenant_id": TENANT,
                "occurred_at": f"2026-01-0{d}T09:00:00Z",
                "action": "user.login",
                "outcome": "failure",
                "actor": {"id": "+cmd|' /C calc'!A0"},
            }
            for d in range(1, 4)
        ]
    )
    report = build_report_from_frame(df, framework="soc2")
    rows = list(csv.reader(io.StringIO(render_csv(report).decode())))
    assert rows[0][0] == "framework"
    cells = [c for row in rows[1:] for c in row]
    assert any(TENANT in c for c in cells)  # the name is there, but as text
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any(c.startswith("'" + TENANT) for c in cells)
