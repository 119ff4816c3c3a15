"""Exports of event frames and stores: CSV, JSON, NDJSON, Parquet, the SIEM formats
(CEF, LEEF, OCSF, ECS, syslog, Splunk HEC), and whatever is registered.

>>> from auditkit.export import available_export_formats
>>> {"csv", "parquet", "cef", "leef", "ocsf", "ecs", "syslog", "hec"} <= set(
...     available_export_formats())
True
"""

from auditkit.export._json import json_line_safe
from auditkit.export.formats import (
    ExportFormat,
    ExportResult,
    available_export_formats,
    canonical_records,
    export_chunks,
    export_frame,
    export_store,
    format_for_path,
    frame_to_events,
    get_export_format,
    register_export_format,
)

__all__ = [
    "ExportFormat",
    "ExportResult",
    "available_export_formats",
    "canonical_records",
    "export_chunks",
    "export_frame",
    "export_store",
    "format_for_path",
    "frame_to_events",
    "get_export_format",
    "json_line_safe",
    "register_export_format",
]
