"""Fixtures for the export tests: golden files.

``pytest tests/export --update-goldens`` (or ``AUDITKIT_UPDATE_GOLDENS=1``)
rewrites the golden files instead of comparing with them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"


def _updating(config: pytest.Config) -> bool:
    try:
        flag = bool(config.getoption("--update-goldens"))
    except ValueError:
        flag = False
    return flag or os.environ.get("AUDITKIT_UPDATE_GOLDENS") == "1"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, bytes], None]:
    """Compare bytes with ``golden/<name>`` (or rewrite it with --update-goldens)."""
    update = _updating(request.config)

    def check(name: str, data: bytes) -> None:
        path = GOLDEN / name
        if update or not path.exists():
            path.write_bytes(data)
            if not update:
                pytest.fail(f"golden file {path} did not exist: written; check it in")
            return
        expected = path.read_bytes()
        if data != expected:
            a, b = expected.splitlines(), data.splitlines()
            first = next(
                (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)),
            )
            pytest.fail(
                f"{name} differs from the golden file at line {first + 1}:\n"
                f"  golden: {a[first][:300] if first < len(a) else '<end>'!r}\n"
                f"  now:    {b[first][:300] if first < len(b) else '<end>'!r}\n"
                "run `pytest tests/export --update-goldens` if the change is intended"
            )

    return check
