"""How the red-team tests read findings: the worst severity, and the high ones named."""

from __future__ import annotations

import polars as pl

RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def worst(found: pl.DataFrame, detector: str | None = None) -> str | None:
    """The most severe finding's severity (of ``detector`` only, if given), or None."""
    if detector is not None:
        found = found.filter(pl.col("detector") == detector)
    if found.height == 0:
        return None
    return max(found["severity"].to_list(), key=RANK.__getitem__)


def highs(found: pl.DataFrame) -> list[str]:
    """The high and critical findings as ``detector: summary`` lines (for a message)."""
    hits = found.filter(pl.col("severity").is_in(["high", "critical"]))
    return [f"{d}: {s}" for d, s in zip(hits["detector"], hits["summary"], strict=True)]
