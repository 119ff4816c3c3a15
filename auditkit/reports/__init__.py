"""Compliance reports that an auditor accepts: frameworks as data, evidence, signed bundles.

>>> import auditkit.reports as r
>>> sorted(r.__all__) == r.__all__
True
>>> sorted(r.available_frameworks())
['gdpr', 'hipaa', 'iso27001', 'nist-800-53', 'pci-dss', 'soc2']
"""

from auditkit.reports._build import assemble_report, build_report, build_report_from_frame
from auditkit.reports._inputs import (
    ReportInputs,
    ReportOptions,
    collect_inputs,
    inputs_from_frame,
    redact_location,
)
from auditkit.reports.bundle import BundleProblem, BundleVerification, verify_bundle
from auditkit.reports.catalog import (
    Control,
    EventClass,
    Framework,
    available_frameworks,
    event_classes,
    get_framework,
)
from auditkit.reports.config import ReportConfig, load_config
from auditkit.reports.formats import available_formats
from auditkit.reports.model import (
    Chart,
    ControlResult,
    EvidenceRef,
    Period,
    Report,
    Section,
    Status,
    Table,
)
from auditkit.reports.rules import available_rules
from auditkit.reports.sections import available_sections

__all__ = [
    "BundleProblem",
    "BundleVerification",
    "Chart",
    "Control",
    "ControlResult",
    "EventClass",
    "EvidenceRef",
    "Framework",
    "Period",
    "Report",
    "ReportConfig",
    "ReportInputs",
    "ReportOptions",
    "Section",
    "Status",
    "Table",
    "assemble_report",
    "available_formats",
    "available_frameworks",
    "available_rules",
    "available_sections",
    "build_report",
    "build_report_from_frame",
    "collect_inputs",
    "event_classes",
    "get_framework",
    "inputs_from_frame",
    "load_config",
    "redact_location",
    "verify_bundle",
]
