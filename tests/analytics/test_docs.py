"""docs/detections.md documents every registered detector and its thresholds."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from auditkit.analytics.detectors import available_detectors

DOC = Path(__file__).resolve().parents[2] / "docs" / "detections.md"


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^### `([a-z_]+)`", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_detector_has_a_section() -> None:
    assert set(_sections()) == set(available_detectors())


@pytest.mark.parametrize("name", sorted(available_detectors()))
def test_section_lists_thresholds_defaults_and_evidence(name: str) -> None:
    section = _sections()[name]
    detector = available_detectors()[name]
    for p in list(inspect.signature(detector.fn).parameters.values())[1:]:
        assert f"`{p.name}`" in section, f"{name}: threshold {p.name} undocumented"
        default = p.default if not isinstance(p.default, tuple) else ", ".join(p.default)
        if isinstance(default, str) and len(default) > 40:
            continue  # long patterns are named, not quoted
        shown = {str(default)}
        if isinstance(default, float) and default.is_integer():
            shown.add(str(int(default)))
        assert any(s in section for s in shown), f"{name}: default {p.name}={default} undocumented"
    for heading in ("What", "Why", "Evidence"):
        assert f"**{heading}**" in section, f"{name}: no {heading}"
    assert f"severity {detector.severity}" in section


@pytest.mark.slow
def test_quality_table_is_generated_from_the_scenarios() -> None:
    """The table in the docs is what ``python -m tests.analytics.quality_report`` writes."""
    from . import quality_report

    assert quality_report.current() == quality_report.render(quality_report.measure())
