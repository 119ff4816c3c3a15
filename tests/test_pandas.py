"""Data teams live in pandas: every public function that takes an event frame takes a
pandas DataFrame too, and gives the answer it gives for the Polars frame."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import auditkit.analytics as analytics
from auditkit.export.formats import export_frame
from auditkit.frame import events_to_frame
from auditkit.reports import build_report_from_frame
from auditkit.sample import iter_events


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    events = [e for chunk in iter_events(days=10, actors=30, events=1500, seed=3) for e in chunk]
    return events_to_frame(events[:1500])


def _frame_functions() -> dict[str, Callable[..., Any]]:
    """Public analytics functions whose first parameter is an event frame."""
    found = {}
    for name in analytics.__all__:
        obj = getattr(analytics, name)
        if not inspect.isfunction(obj):
            continue
        params = list(inspect.signature(obj).parameters.values())
        if params and params[0].name in ("events", "frame"):
            found[name] = obj
    return found


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pl.DataFrame):
        return a.equals(b)
    return bool(a == b)


@pytest.mark.parametrize("name", sorted(_frame_functions()))
def test_analytics_take_pandas(frame: pl.DataFrame, name: str) -> None:
    fn = _frame_functions()[name]
    required = [
        p
        for p in list(inspect.signature(fn).parameters.values())[1:]
        if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
    ]
    args: list[Any] = []
    if [p.name for p in required] == ["finding"]:
        findings = analytics.run_detectors(frame)
        assert findings.height, "the sample should raise at least one finding"
        args = [findings.row(0, named=True)]
    else:
        assert not required, f"{name} needs more than a frame ({[p.name for p in required]})"
    polars_result, pandas_result = fn(frame, *args), fn(frame.to_pandas(), *args)
    if type(polars_result).__module__.startswith("altair"):
        assert polars_result.to_dict() == pandas_result.to_dict()
    else:
        assert _same(pandas_result, polars_result)


def test_there_are_frame_functions_to_check() -> None:
    assert {"run_detectors", "top_actions", "failure_rates"} <= set(_frame_functions())


def test_export_and_reports_take_pandas(frame: pl.DataFrame, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    export_frame(frame, a)
    export_frame(frame.to_pandas(), b)
    assert a.read_bytes() == b.read_bytes()
    polars_report = build_report_from_frame(frame, framework="soc2")
    pandas_report = build_report_from_frame(frame.to_pandas(), framework="soc2")
    assert [(c.control_id, c.status) for c in polars_report.controls] == [
        (c.control_id, c.status) for c in pandas_report.controls
    ]
