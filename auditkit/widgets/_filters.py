"""The Explorer's filter logic, pure and testable without a browser.

A :class:`FilterState` (frozen) holds what the filter panel says; ``to_expr()``
turns it into one Polars expression over :data:`auditkit.schema.FRAME_SCHEMA`
columns, usable on any event frame.  For speed on large frames,
:func:`add_search_columns` precomputes lower-case search text once, and
``to_expr(search_columns=True)`` matches against it with literal substring
search instead of case-insensitive regexes.

Text search is case-insensitive and substring-based; several words must all
match (anywhere), and ``"quoted words"`` match as one phrase.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import polars as pl

from auditkit.times import parse_instant

__all__ = [
    "ACTOR_SEARCH_COLUMNS",
    "TEXT_SEARCH_COLUMNS",
    "FilterState",
    "add_search_columns",
    "search_terms",
]

#: Columns the actor search looks in.
ACTOR_SEARCH_COLUMNS: Final = ("actor_id", "actor_name", "actor_email")
#: Columns the free-text search looks in.
TEXT_SEARCH_COLUMNS: Final = ("description", "metadata")
_ACTOR_LC: Final = "_actor_lc"
_TEXT_LC: Final = "_text_lc"
_SEP: Final = "\x1f"  # joins the searched columns; no term can span two of them
_TERM: Final = re.compile(r'"([^"]+)"|(\S+)')


def search_terms(text: str) -> list[str]:
    """Split a search box's text into lower-case terms; ``"..."`` keeps a phrase.

    Examples
    --------
    >>> search_terms('  Export "Q1 plan" csv ')
    ['export', 'q1 plan', 'csv']
    >>> search_terms("")
    []
    """
    return [(m[1] or m[2]).lower() for m in _TERM.finditer(text)]


def _haystack(columns: Sequence[str]) -> pl.Expr:
    return pl.concat_str([pl.col(c).fill_null("") for c in columns], separator=_SEP)


def add_search_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Add the lower-case search columns that ``to_expr(search_columns=True)`` reads.

    Done once per frame (it costs about as much as a few hundred filter changes).

    Examples
    --------
    >>> df = pl.DataFrame({"actor_id": ["U1"], "actor_name": ["Ann"], "actor_email": [None],
    ...                    "description": ["Signed IN"], "metadata": ['{"k":"V"}']})
    >>> add_search_columns(df).select("_actor_lc", "_text_lc").row(0)
    ('u1\\x1fann\\x1f', 'signed in\\x1f{"k":"v"}')
    """
    return frame.with_columns(
        _haystack(ACTOR_SEARCH_COLUMNS).str.to_lowercase().alias(_ACTOR_LC),
        _haystack(TEXT_SEARCH_COLUMNS).str.to_lowercase().alias(_TEXT_LC),
    )


def _utc(value: datetime | date | str | None) -> datetime | None:
    return None if value is None else parse_instant(value)


def _strings(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,) if values else ()
    return tuple(dict.fromkeys(v for v in values if v))


@dataclass(frozen=True)
class FilterState:
    """What the filter panel says; empty fields do not filter.

    Attributes
    ----------
    tenants, categories, actions, outcomes
        Keep events whose value is one of these (empty: any).
    start, end
        Half-open range ``[start, end)`` on ``occurred_at`` (UTC; naive values,
        dates and ISO strings are taken as UTC).
    actor
        Case-insensitive search in the actor's id, name and e-mail.
    text
        Case-insensitive search in the description and the metadata.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...      "action": "user.login", "outcome": "failure", "actor": {"id": "u1"},
    ...      "description": "Wrong password"},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-06T09:00:00Z",
    ...      "action": "document.export", "actor": {"id": "u2", "name": "Bob"}}])
    >>> df.filter(FilterState(outcomes=["failure"]).to_expr())["actor_id"].to_list()
    ['u1']
    >>> df.filter(FilterState(actor="BOB", start="2026-01-06").to_expr()).height
    1
    >>> print(FilterState(text='"wrong password"', tenants="acme").describe())
    tenant acme · text '"wrong password"'
    """

    tenants: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    actor: str = ""
    text: str = ""

    def __post_init__(self) -> None:
        for name in ("tenants", "categories", "actions", "outcomes"):
            object.__setattr__(self, name, _strings(getattr(self, name)))
        for name in ("start", "end"):
            object.__setattr__(self, name, _utc(getattr(self, name)))
        object.__setattr__(self, "actor", (self.actor or "").strip())
        object.__setattr__(self, "text", (self.text or "").strip())

    def replace(self, **changes: Any) -> FilterState:
        """A copy with some fields changed.

        Examples
        --------
        >>> FilterState(outcomes=["failure"]).replace(actor="ann").actor
        'ann'
        """
        return dataclasses.replace(self, **changes)

    @property
    def is_empty(self) -> bool:
        """True when nothing is filtered.

        Examples
        --------
        >>> FilterState().is_empty, FilterState(text="x").is_empty
        (True, False)
        """
        return self == FilterState()

    def to_expr(self, *, search_columns: bool = False) -> pl.Expr:
        """The filter as one boolean Polars expression (``pl.lit(True)`` when empty).

        Parameters
        ----------
        search_columns
            Match text against the columns of :func:`add_search_columns` (faster
            on large frames; same result).  By default it reads only
            FRAME_SCHEMA columns, so the expression works on any event frame.

        Examples
        --------
        >>> str(FilterState().to_expr())
        'true'
        >>> df = pl.DataFrame({"outcome": ["success", "denied"]})
        >>> df.filter(FilterState(outcomes=("denied",)).to_expr()).height
        1
        """
        parts: list[pl.Expr] = []
        for column, values in (
            ("tenant_id", self.tenants),
            ("category", self.categories),
            ("action", self.actions),
            ("outcome", self.outcomes),
        ):
            if len(values) == 1:
                parts.append(pl.col(column) == values[0])
            elif values:
                parts.append(pl.col(column).is_in(list(values)))
        if self.start is not None:
            parts.append(pl.col("occurred_at") >= self.start)
        if self.end is not None:
            parts.append(pl.col("occurred_at") < self.end)
        for query, columns, fast in (
            (self.actor, ACTOR_SEARCH_COLUMNS, _ACTOR_LC),
            (self.text, TEXT_SEARCH_COLUMNS, _TEXT_LC),
        ):
            for term in search_terms(query):
                if search_columns:
                    parts.append(pl.col(fast).str.contains(term, literal=True))
                else:
                    pattern = "(?i)" + re.escape(term)
                    parts.append(
                        pl.any_horizontal(
                            pl.col(c).str.contains(pattern).fill_null(False) for c in columns
                        )
                    )
        if not parts:
            return pl.lit(True)
        return pl.all_horizontal(parts) if len(parts) > 1 else parts[0]

    def describe(self) -> str:
        """The active filters in a few words (``all events`` when none).

        Examples
        --------
        >>> FilterState(outcomes=["failure", "denied"], start="2026-02-01").describe()
        'from 2026-02-01 00:00 · outcome failure or denied'
        >>> FilterState().describe()
        'all events'
        """
        bits: list[str] = []
        for label, values in (
            ("tenant", self.tenants),
            ("category", self.categories),
            ("action", self.actions),
            ("outcome", self.outcomes),
        ):
            if values:
                bits.append(f"{label} {' or '.join(values)}")
        if self.start is not None:
            bits.insert(0, f"from {self.start:%Y-%m-%d %H:%M}")
        if self.end is not None:
            bits.insert(1 if self.start is not None else 0, f"before {self.end:%Y-%m-%d %H:%M}")
        if self.actor:
            bits.append(f"actor {self.actor!r}")
        if self.text:
            bits.append(f"text {self.text!r}")
        return " · ".join(bits) or "all events"
