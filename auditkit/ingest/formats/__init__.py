"""Built-in input formats; importing this package registers them all."""

from importlib import import_module

# One module per format: each registers itself on import.
_MODULES = [
    "auditkit",
    "csv",
    "cloudtrail",
    "gcp",
    "okta",
    "gitlab",
    "ocsf",
    "mapped",
]

for _name in _MODULES:
    import_module(f"auditkit.ingest.formats.{_name}")
