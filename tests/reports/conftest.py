"""Fixtures for the report tests: a sample store, crafted frames, golden files.

``pytest tests/reports --update-goldens`` (or ``AUDITKIT_UPDATE_GOLDENS=1``) rewrites
the golden files instead of comparing with them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auditkit.store import Store

GOLDEN = Path(__file__).parent / "golden"


def _updating(config: pytest.Config) -> bool:
    try:
        flag = bool(config.getoption("--update-goldens"))
    except ValueError:  # the option is registered only when this conftest loads first
        flag = False
    return flag or os.environ.get("AUDITKIT_UPDATE_GOLDENS") == "1"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with ``golden/<name>`` (or rewrite it with --update-goldens)."""
    update = _updating(request.config)

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if update or not path.exists():
            path.write_text(text, encoding="utf-8")
            if not update:
                pytest.fail(f"golden file {path} did not exist: written; check it in")
            return
        expected = path.read_text(encoding="utf-8")
        if text != expected:
            a, b = expected.splitlines(), text.splitlines()
            first = next(
                (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)),
            )
            pytest.fail(
                f"{name} differs from the golden file at line {first + 1}:\n"
                f"  golden: {a[first] if first < len(a) else '<end>'}\n"
                f"  now:    {b[first] if first < len(b) else '<end>'}\n"
                "run `pytest tests/reports --update-goldens` if the change is intended"
            )

    return check


def normalise(text: str) -> str:
    """Replace what changes between runs or library versions: inline SVG bodies."""
    return re.sub(
        r"<svg role=\"img\" aria-label=\"([^\"]*)\"[^>]*>.*?</svg>",
        r'<svg aria-label="\1">…</svg>',
        text,
        flags=re.S,
    )


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A real store holding the realistic 90-day sample (3 tenants, with incidents)."""
    from auditkit.sample import generate

    path = tmp_path_factory.mktemp("sample") / "audit.db"
    store = Store.init(str(path))
    store.append(generate().events)
    yield store
    store.close()


@pytest.fixture(scope="session")
def sample_inputs(sample_store: Store) -> Any:
    """Report inputs of the whole sample store (all tenants, whole history)."""
    from auditkit.reports import collect_inputs

    return collect_inputs(sample_store)
