"""Plain-text tables for the terminal: columns fitted to the width, cells made
safe (:func:`~auditkit.commands.base.terminal_text`), long text truncated or,
for one column, wrapped.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from auditkit.commands.base import terminal_text

__all__ = ["cell_text", "render_table", "terminal_width"]

_GAP = "  "
_MIN = 6
_CAP = 60


def terminal_width() -> int | None:
    """The width of the terminal stdout writes to, or None when it is not one
    (a pipe or a file gets whole cells)."""
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return max(shutil.get_terminal_size((100, 24)).columns, 40)


def cell_text(value: Any) -> str:
    """One cell as text: times in UTC to the second, lists joined, None empty.

    Examples
    --------
    >>> from datetime import UTC
    >>> cell_text(datetime(2026, 1, 5, 9, 30, 1, 5, tzinfo=UTC)), cell_text(["a", "b"])
    ('2026-01-05 09:30:01', 'a, b')
    >>> cell_text("line\\nbreak\\x1b[31m"), cell_text(None), cell_text(0.5)
    ('line\\\\x0abreak\\\\x1b[31m', '', '0.5')
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell_text(v)}" for k, v in value.items() if v is not None)
    return terminal_text(value)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _fit(natural: list[int], width: int | None, wrap: int | None) -> list[int]:
    """Column widths that fit ``width``: the widest columns shrink first, and a
    wrapped column keeps room for readable lines (it takes what is left)."""
    if width is None:
        return list(natural)
    widths = [w if i == wrap else min(w, _CAP) for i, w in enumerate(natural)]
    room = width - len(_GAP) * (len(widths) - 1)
    others = [i for i in range(len(widths)) if i != wrap]
    want = min(natural[wrap], 40) if wrap is not None else 0
    while sum(widths[i] for i in others) + want > room:
        widest = max(others, key=lambda i: widths[i], default=None)
        if widest is None or widths[widest] <= _MIN:
            break
        widths[widest] -= 1
    if wrap is not None:
        widths[wrap] = max(min(natural[wrap], room - sum(widths[i] for i in others)), _MIN)
    return widths


def render_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    width: int | None = None,
    wrap: str | None = None,
    headers: Mapping[str, str] | None = None,
    right: Sequence[str] = (),
) -> list[str]:
    """The lines of a table of ``rows`` (dicts) over ``columns``.

    Parameters
    ----------
    width
        The line width to fit (None: no limit, cells whole).
    wrap
        A column whose long text wraps onto more lines instead of being cut.
    headers
        Titles for columns (default: the column names).
    right
        Columns aligned right (numbers).

    Examples
    --------
    >>> rows = [{"who": "alice", "n": 3, "what": "read a very long document title"}]
    >>> print("\\n".join(render_table(rows, ["who", "n", "what"], width=30, wrap="what",
    ...                               right=["n"])))
    who    n  what
    alice  3  read a very long
              document title
    """
    titles = [(headers or {}).get(c, c) for c in columns]
    cells = [[cell_text(r.get(c)) for c in columns] for r in rows]
    natural = [max([len(t), *(len(row[i]) for row in cells)]) for i, t in enumerate(titles)]
    wrap_at = list(columns).index(wrap) if wrap is not None and wrap in columns else None
    widths = _fit(natural, width, wrap_at)

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, (v, w) in enumerate(zip(values, widths, strict=True)):
            text = _cut(v, w)
            last = i == len(values) - 1
            parts.append(
                text.rjust(w) if columns[i] in right else (text if last else text.ljust(w))
            )
        return _GAP.join(parts).rstrip()

    out = [line(titles)]
    for row in cells:
        if wrap_at is None or len(row[wrap_at]) <= widths[wrap_at]:
            out.append(line(row))
            continue
        pieces = textwrap.wrap(row[wrap_at], widths[wrap_at], break_long_words=True) or [""]
        out.append(line([*row[:wrap_at], pieces[0], *row[wrap_at + 1 :]]))
        blank = [""] * len(row)
        for piece in pieces[1:]:
            out.append(line([*blank[:wrap_at], piece, *blank[wrap_at + 1 :]]))
    return out
