"""Detectors: functions ``events -> findings``, registered in one place.

See :mod:`auditkit.analytics.detectors.registry` and ``docs/detections.md``.
"""

from auditkit.analytics.detectors.registry import (
    FINDINGS_SCHEMA,
    SEVERITIES,
    Detector,
    available_detectors,
    get_detector,
    register_detector,
    run_detectors,
)

__all__ = [
    "FINDINGS_SCHEMA",
    "SEVERITIES",
    "Detector",
    "available_detectors",
    "get_detector",
    "register_detector",
    "run_detectors",
]
