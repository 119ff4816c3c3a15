"""The report configuration: what management says about the system, kept in one file.

A report is prepared by management, not an attestation; what the logs cannot say (the
system, its scope and carve-outs, which sources must report) comes from a YAML file
given with ``auditkit report --config FILE``::

    system:
      name: Acme Billing
      description: Multi-tenant invoicing service (web app, API, scheduler).
      scope: Production, all tenants' audit trails in the auditkit store.
      carve_outs: [Payment processor (Stripe): its own SOC 2 report]
    prepared_by: Jane Doe, Head of Compliance
    sources:                 # expected sources (observer services) per tenant
      "*": [webapp, api]     # every tenant
      acme: [admin-console]  # and, for acme, this one too
    sample:
      size: 25
      seed: 20260101
    timestamp:               # RFC 3161 time-stamps of evidence bundles
      url: https://tsa.example/tsr
      roots: tsa-roots.pem   # the TSA's root certificates (relative to this file)

Every key is optional; an unknown key is an error naming the file and the key.

Examples
--------
>>> cfg = parse_config({"sources": {"*": ["webapp"], "acme": ["api"]}}, "x.yaml")
>>> cfg.expected_sources("acme"), cfg.expected_sources("globex")
(('webapp', 'api'), ('webapp',))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from auditkit.errors import UsageError

__all__ = ["ReportConfig", "load_config", "parse_config"]

_KEYS: Final = frozenset({"system", "prepared_by", "sources", "sample", "timestamp"})
_SYSTEM_KEYS: Final = frozenset({"name", "description", "scope", "carve_outs"})


@dataclass(frozen=True)
class ReportConfig:
    """Management's statements about the system and the sources expected to report.

    Examples
    --------
    >>> ReportConfig().configured
    False
    """

    system_name: str = ""
    description: str = ""
    scope: str = ""
    carve_outs: tuple[str, ...] = ()
    prepared_by: str = ""
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sample_size: int | None = None
    sample_seed: int | None = None
    timestamp_url: str = ""
    timestamp_roots: str = ""
    path: str = ""

    @property
    def configured(self) -> bool:
        """Whether a configuration file was given."""
        return bool(self.path)

    @property
    def has_inventory(self) -> bool:
        """Whether expected sources are listed."""
        return bool(self.sources)

    def expected_sources(self, tenant: str) -> tuple[str, ...]:
        """The sources ``tenant`` is expected to report from (``"*"`` and its own)."""
        out = dict.fromkeys(self.sources.get("*", ()))
        out.update(dict.fromkeys(self.sources.get(tenant, ())))
        return tuple(out)


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int | float):
        raise UsageError(f"{where}: expected text, got {type(value).__name__}")
    return " ".join(str(value).split())


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: expected a list of text, got {value!r}")
    return tuple(value)


def parse_config(doc: Any, where: str) -> ReportConfig:
    """A :class:`ReportConfig` from a parsed YAML document (``where`` names it in errors).

    Examples
    --------
    >>> parse_config({"sytem": {}}, "report.yaml")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: report.yaml: unknown key 'sytem'; known: prepared_by, sample, sources, system, timestamp
    """  # noqa: E501
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise UsageError(f"{where}: expected a mapping at the top, got {type(doc).__name__}")
    for key in doc:
        if key not in _KEYS:
            raise UsageError(f"{where}: unknown key {key!r}; known: {', '.join(sorted(_KEYS))}")
    system = doc.get("system") or {}
    if not isinstance(system, dict):
        raise UsageError(f"{where}: system: expected a mapping")
    for key in system:
        if key not in _SYSTEM_KEYS:
            raise UsageError(
                f"{where}: system: unknown key {key!r}; known: {', '.join(sorted(_SYSTEM_KEYS))}"
            )
    sources = doc.get("sources") or {}
    if not isinstance(sources, dict):
        raise UsageError(f"{where}: sources: expected a mapping of tenant to source names")
    sample = doc.get("sample") or {}
    if not isinstance(sample, dict) or not set(sample) <= {"size", "seed"}:
        raise UsageError(f"{where}: sample: expected a mapping with size and seed")
    for key in ("size", "seed"):
        value = sample.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise UsageError(f"{where}: sample.{key}: expected a whole number >= 0, got {value!r}")
    stamp = doc.get("timestamp") or {}
    if not isinstance(stamp, dict) or not set(stamp) <= {"url", "roots"}:
        raise UsageError(f"{where}: timestamp: expected a mapping with url and roots")
    if stamp and not (stamp.get("url") and stamp.get("roots")):
        raise UsageError(f"{where}: timestamp: both url and roots (a PEM file) are needed")
    roots = str(stamp.get("roots") or "")
    if roots and not Path(roots).is_absolute() and where and Path(where).parent != Path(""):
        roots = str(Path(where).parent / roots)  # relative to the configuration file
    return ReportConfig(
        timestamp_url=str(stamp.get("url") or ""),
        timestamp_roots=roots,
        system_name=_text(system.get("name"), f"{where}: system.name"),
        description=_text(system.get("description"), f"{where}: system.description"),
        scope=_text(system.get("scope"), f"{where}: system.scope"),
        carve_outs=_texts(system.get("carve_outs"), f"{where}: system.carve_outs"),
        prepared_by=_text(doc.get("prepared_by"), f"{where}: prepared_by"),
        sources={str(t): _texts(v, f"{where}: sources.{t}") for t, v in sorted(sources.items())},
        sample_size=sample.get("size"),
        sample_seed=sample.get("seed"),
        path=where,
    )


def load_config(path: str | Path) -> ReportConfig:
    """Read a report configuration file (YAML).

    Examples
    --------
    >>> load_config("/nonexistent/report.yaml")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: --config /nonexistent/report.yaml: no such file
    """
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{path}: invalid YAML: {first}") from None
    return parse_config(doc, str(path))
