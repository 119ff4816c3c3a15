"""Shared helpers for the ingest tests: fixture files and mapping them to events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditkit.ingest._base import Format
from auditkit.ingest.formats.mapped import load_mapping
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

FIXTURES = Path(__file__).parent / "fixtures"

#: (format, fixture path, --tenant) for every source fixture file.
SOURCE_FORMATS = ("cloudtrail", "gcp", "gitlab", "okta", "ocsf")
TENANT_NEEDED = {"gitlab": "acme", "okta": "acme"}

#: mapped fixtures: data file -> mapping file
MAPPED = {
    "billing_audit.csv": "billing_audit.mapping.yaml",
    "app_events.ndjson": "app_events.mapping.toml",
}


def source_fixtures() -> list[tuple[str, Path]]:
    """Every fixture file of the source formats, as (format name, path)."""
    return [
        (name, path)
        for name in SOURCE_FORMATS
        for path in sorted((FIXTURES / name).iterdir())
        if path.is_file()
    ]


def format_for(name: str, path: Path) -> Format:
    """The format object for a fixture (mapped fixtures carry their mapping)."""
    if name == "mapped":
        return load_mapping(FIXTURES / "mapped" / MAPPED[path.name])
    return get_format(name)


def raw_records(fmt: Format, path: Path) -> list[Any]:
    """The parsed records of a file, failing the test on a read error."""
    out = []
    for rec in fmt.records(str(path)):
        assert rec.error is None, rec.error
        out.append(rec.value)
    return out


def events(name: str, path: Path, *, tenant: str | None = None) -> list[dict[str, Any]]:
    """Normalized events of one fixture file."""
    fmt = format_for(name, path)
    tenant = tenant or TENANT_NEEDED.get(name)
    return [normalize_event(fmt.to_event(r, tenant=tenant)) for r in raw_records(fmt, path)]


def by_source_action(evs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Events keyed by ``metadata.source_action`` (the first of each)."""
    out: dict[str, dict[str, Any]] = {}
    for e in evs:
        out.setdefault(e["metadata"]["source_action"], e)
    return out
