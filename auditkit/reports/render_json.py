"""Machine-readable renderings: JSON (the whole report) and CSV (one row per control)."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
import polars as pl

from auditkit.export.formats import spreadsheet_safe
from auditkit.reports.model import Report

__all__ = ["render_csv", "render_json"]


def render_json(report: Report, **options: Any) -> bytes:
    """The report as indented JSON (format ``auditkit-report/1``).

    Examples
    --------
    >>> import orjson
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports import build_report_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> doc = orjson.loads(render_json(build_report_from_frame(df, framework="soc2")))
    >>> doc["format"], doc["controls"][0]["id"], doc["controls"][0]["status"]
    ('auditkit-report/1', 'CC6.1', 'fail')
    """
    return (
        orjson.dumps(
            report.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        )
        + b"\n"
    )


def render_csv(report: Report, **options: Any) -> bytes:
    """One row per control: framework, control, title, status, reasons, evidence.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports import build_report_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> render_csv(build_report_from_frame(df, framework="soc2")).decode().splitlines()[0]
    'framework,control,title,status,reasons,evidence,tenants,period,integrity'

    Every row carries the store's integrity verdict at generation, so that a row read
    alone still says when the trail it rests on failed verification.
    """
    header = [
        "framework",
        "control",
        "title",
        "status",
        "reasons",
        "evidence",
        "tenants",
        "period",
        "integrity",
    ]
    verdict = str(report.integrity_at_generation()["verdict"])
    rows = []
    for c in report.controls:
        evidence = " | ".join(
            f"{e.section}/{e.table or ''}: {e.note}"
            + (f" ({e.count})" if e.count is not None else "")
            for e in c.evidence
        )
        rows.append(
            [
                report.framework,
                c.control_id,
                c.title,
                c.status.value,
                " | ".join(c.reasons),
                evidence,
                " ".join(report.tenants),
                str(report.period),
                verdict,
            ]
        )
    # reasons and tenants carry names from the events (a tenant called "=HYPERLINK(...)"):
    # formula-safe as every other CSV auditkit writes
    cells = pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String), orient="row")
    cells = cells.select(spreadsheet_safe(pl.col(n)).alias(n) for n in header)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(cells.rows())
    return out.getvalue().encode()
