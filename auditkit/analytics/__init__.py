"""Detections and usage insights on event frames.

- :mod:`auditkit.analytics.detectors`: the detector registry,
  :func:`run_detectors` and the findings schema (``docs/detections.md``).
- :mod:`auditkit.analytics.evidence`: a finding's events, context and timeline.
- :mod:`auditkit.analytics.insights`: usage insights, frame -> frame.
- :mod:`auditkit.analytics.charts`: an Altair chart beside each insight (imported
  on demand: Altair takes a while to import).

>>> from auditkit.analytics import available_detectors
>>> len(available_detectors()) >= 13
True
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
from auditkit.analytics.evidence import (
    evidence_timeline_chart,
    finding_context,
    finding_evidence,
)
from auditkit.analytics.insights import (
    active_actors,
    activity_heatmap,
    dau_wau_mau,
    failure_rates,
    feature_adoption,
    new_vs_returning,
    sessions,
    tenant_comparison,
    top_actions,
    top_actors,
    top_targets,
)

__all__ = [
    "FINDINGS_SCHEMA",
    "SEVERITIES",
    "Detector",
    "active_actors",
    "activity_heatmap",
    "available_detectors",
    "dau_wau_mau",
    "evidence_timeline_chart",
    "failure_rates",
    "feature_adoption",
    "finding_context",
    "finding_evidence",
    "get_detector",
    "new_vs_returning",
    "register_detector",
    "run_detectors",
    "sessions",
    "tenant_comparison",
    "top_actions",
    "top_actors",
    "top_targets",
]
