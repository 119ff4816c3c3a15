"""Ingestion: formats, readers and the pipeline (see :mod:`auditkit.ingest.pipeline`)."""

from auditkit.ingest._readers import dumps_json, loads_json

__all__ = ["dumps_json", "loads_json"]
