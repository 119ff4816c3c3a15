"""Exports of event frames: CSV, JSON, NDJSON, Parquet, and whatever is registered.

>>> from auditkit.export import available_export_formats
>>> sorted(available_export_formats()) >= ["csv", "json", "ndjson", "parquet"]
True
"""

from auditkit.export.formats import (
    ExportFormat,
    ExportResult,
    available_export_formats,
    export_frame,
    format_for_path,
    frame_to_events,
    get_export_format,
    register_export_format,
)

__all__ = [
    "ExportFormat",
    "ExportResult",
    "available_export_formats",
    "export_frame",
    "format_for_path",
    "frame_to_events",
    "get_export_format",
    "register_export_format",
]
