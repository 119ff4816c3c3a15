"""Ingestion: formats, readers and the pipeline (see :mod:`auditkit.ingest.pipeline`)."""

from auditkit.ingest._readers import loads_json

__all__ = ["loads_json"]
