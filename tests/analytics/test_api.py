"""The public API of auditkit.analytics stays small, sorted and importable."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "auditkit.analytics",
    "auditkit.analytics.detectors",
    "auditkit.analytics.evidence",
    "auditkit.analytics.insights",
    "auditkit.analytics.charts",
]


def _isort_key(name: str) -> tuple[int, str]:
    # ruff RUF022: CONSTANTS, then Classes, then functions
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__, key=_isort_key)
    for attr in module.__all__:
        assert getattr(module, attr) is not None


def test_every_public_function_has_a_runnable_example() -> None:
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if callable(obj) and not isinstance(obj, type):
                assert ">>> " in (obj.__doc__ or ""), f"{name}.{attr} has no example"
