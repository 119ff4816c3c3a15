"""Reusable report sections: one module per section, shared by every framework.

Each module registers its builder with :func:`section`; importing this package
registers them all, in report order.  The registry and :class:`SectionSet` live in
``_base``.

Examples
--------
>>> list(available_sections())[:3]
['executive_summary', 'integrity', 'completeness']
"""

# importing a section module registers it (report order: _base.REPORT_ORDER)
from auditkit.reports.sections import (
    access_lifecycle,  # noqa: F401
    appendix,  # noqa: F401
    clock,  # noqa: F401
    completeness,  # noqa: F401
    coverage,  # noqa: F401
    crosswalk,  # noqa: F401
    data_access,  # noqa: F401
    detections,  # noqa: F401
    executive_summary,  # noqa: F401
    failed_access,  # noqa: F401
    fields,  # noqa: F401
    integrity,  # noqa: F401
    logging_gaps,  # noqa: F401
    privileged_activity,  # noqa: F401
    retention,  # noqa: F401
    review_records,  # noqa: F401
    samples,  # noqa: F401
)
from auditkit.reports.sections._base import (
    EVENT_COLUMNS,
    FIELD_CHECKS,
    ROW,
    SOURCE,
    SectionDef,
    SectionSet,
    available_sections,
    class_expr,
    events_table,
    human_duration,
    section,
    when_text,
)

__all__ = [
    "EVENT_COLUMNS",
    "FIELD_CHECKS",
    "ROW",
    "SOURCE",
    "SectionDef",
    "SectionSet",
    "available_sections",
    "class_expr",
    "events_table",
    "human_duration",
    "section",
    "when_text",
]
