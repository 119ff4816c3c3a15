"""The Explorer: filter a tenant's audit trail with widgets, see it, export it.

A filter panel (tenant, time range, category, actions, actor search, outcome,
free text over description and metadata), the live count, a paged sortable
table, a timeline and top-N charts that follow the filters, and export buttons
that write the filtered events to a file and offer it for download.
:attr:`Explorer.filter_expr` and :attr:`Explorer.filtered` hand the current
filter to scripts.

Responsive on large frames: the frame is indexed once (categorical codes, the
lower-case search text, epoch microseconds), and a filter change computes one
boolean mask, aggregates only the matching rows of a few narrow columns and
renders one page of the table (``benchmarks/bench_widgets.py``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import ipywidgets as w
import polars as pl

from auditkit.export.formats import ExportResult, available_export_formats, export_frame
from auditkit.frame import as_event_frame
from auditkit.schema import CATEGORIES, FRAME_SCHEMA, OUTCOMES
from auditkit.widgets._filters import FilterState, add_search_columns
from auditkit.widgets._html import (
    bar_chart_svg,
    download_link,
    human_size,
    table_html,
    timeline_svg,
)

if TYPE_CHECKING:
    import pandas as pd

    from auditkit.store import Store

__all__ = ["SORT_COLUMNS", "TOP_DIMENSIONS", "Explorer"]

#: Sort choices of the table: label -> column.
SORT_COLUMNS: Final = {
    "time": "occurred_at",
    "tenant": "tenant_id",
    "seq": "seq",
    "action": "action",
    "outcome": "outcome",
    "actor": "actor_id",
    "source IP": "source_ip",
}
#: Dimensions of the second top-N chart: label -> column.
TOP_DIMENSIONS: Final = {
    "actors": "actor_id",
    "source IPs": "source_ip",
    "targets": "target_id",
    "countries": "geo_country",
    "categories": "category",
}
#: Columns of the table: header -> column.
TABLE_COLUMNS: Final = {
    "time (UTC)": "occurred_at",
    "tenant": "tenant_id",
    "seq": "seq",
    "action": "action",
    "outcome": "outcome",
    "actor": "actor_id",
    "name": "actor_name",
    "target": "target_id",
    "source IP": "source_ip",
    "description": "description",
}
_CODED: Final = (
    "tenant_id",
    "category",
    "action",
    "outcome",
    "actor_id",
    "source_ip",
    "target_id",
    "geo_country",
)
_NICE_WIDTHS: Final = tuple(
    timedelta(**kw) for kw in (
        {"minutes": 1}, {"minutes": 5}, {"minutes": 15}, {"minutes": 30}, {"hours": 1},
        {"hours": 3}, {"hours": 6}, {"hours": 12}, {"days": 1}, {"days": 2}, {"days": 7},
        {"days": 14}, {"days": 30}, {"days": 91}, {"days": 365},
    )
)  # fmt: skip
_MAX_BUCKETS: Final = 150
_MAX_SLIDER: Final = 1000


def _bucket_width(span: timedelta) -> timedelta:
    for width in _NICE_WIDTHS:
        if span / width <= _MAX_BUCKETS:
            return width
    return _NICE_WIDTHS[-1]


class Explorer:
    """Filter, look at and export an event frame in JupyterLab.

    Parameters
    ----------
    events
        An event frame (:data:`~auditkit.schema.FRAME_SCHEMA` columns), e.g.
        ``store.load()``; see also :meth:`from_store`.
    page_size
        Rows per page of the table.
    top_n
        Bars per top-N chart.
    export_dir
        Where the export buttons write (default: the working directory, which in
        JupyterLab is the notebook's folder).
    export_name
        File name, without suffix, of the export buttons' files.
    download_limit
        Files up to this many bytes are offered as a download link.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": f"2026-01-0{d}T09:00:00Z",
    ...      "action": a, "outcome": o, "actor": {"id": "u1"}}
    ...     for d, a, o in [(5, "user.login", "failure"), (5, "user.login", "success"),
    ...                     (6, "document.export", "success")]])
    >>> ex = Explorer(df)
    >>> ex.count
    3
    >>> ex.controls["outcome"].value = "failure"
    >>> ex.count, ex.filter_expr.meta.output_name()
    (1, 'outcome')
    >>> ex.filtered["action"].to_list()
    ['user.login']
    >>> ex.set_state(FilterState(actions=["document.export"]))
    >>> ex.count, ex.controls["outcome"].value
    (1, '')
    """

    def __init__(
        self,
        events: pl.DataFrame | pl.LazyFrame | pd.DataFrame,
        *,
        page_size: int = 20,
        top_n: int = 10,
        export_dir: str | Path = ".",
        export_name: str = "auditkit-export",
        download_limit: int = 2_000_000,
    ) -> None:
        events = as_event_frame(events)
        frame = events.collect() if isinstance(events, pl.LazyFrame) else events
        missing = [
            c
            for c in ("tenant_id", "seq", "occurred_at", "action", "actor_id")
            if c not in frame.columns
        ]
        if missing:
            from auditkit.errors import UsageError

            raise UsageError(f"Explorer needs an event frame; missing column(s) {missing}")
        frame = frame.with_columns(
            pl.lit(None, dtype=t).alias(c)
            for c, t in FRAME_SCHEMA.items()
            if c not in frame.columns
        )
        self._frame = frame.select(list(FRAME_SCHEMA)).sort("occurred_at", "tenant_id", "seq")
        self._index = self._build_index(self._frame)
        self._slim = self._index.drop("_actor_lc", "_text_lc")  # what matches are copied from
        self.page_size = page_size
        self.top_n = top_n
        self.export_dir = Path(export_dir)
        self.download_limit = download_limit
        self.last_export: ExportResult | None = None
        self._page = 0
        self._mask: pl.Series | None = None
        self._hold = False
        self._build_widgets(export_name)
        self.refresh()

    @classmethod
    def from_store(
        cls,
        store: Store,
        tenant: str | list[str] | None = None,
        *,
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        **options: Any,
    ) -> Explorer:
        """Load events from a store (verified) and explore them.

        Examples
        --------
        >>> import tempfile, os
        >>> from auditkit.store import Store
        >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
        >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
        ...                    "action": "user.login", "actor": {"id": "u1"}}])
        >>> Explorer.from_store(store).count
        1
        """
        return cls(store.load(tenant, start=start, end=end), **options)

    # -- index -----------------------------------------------------------------------
    @staticmethod
    def _build_index(frame: pl.DataFrame) -> pl.DataFrame:
        indexed = add_search_columns(frame).select(
            "occurred_at",
            "seq",
            *(pl.col(c).cast(pl.Categorical) for c in _CODED),
            "_actor_lc",
            "_text_lc",
            pl.col("occurred_at").dt.epoch("us").alias("_t"),
        )
        return indexed.with_row_index("_row")

    # -- widgets -----------------------------------------------------------------------
    def _build_widgets(self, export_name: str) -> None:
        frame = self._frame
        tenants = sorted(frame["tenant_id"].unique().drop_nulls().to_list())
        actions = sorted(frame["action"].unique().drop_nulls().to_list())
        wide = w.Layout(width="auto")
        self._slider_days = self._time_options()
        c: dict[str, w.ValueWidget] = {
            "tenant": w.Dropdown(
                options=[("all tenants", ""), *[(t, t) for t in tenants]],
                value="",
                description="Tenant",
            ),
            "outcome": w.Dropdown(
                options=[("any outcome", ""), *[(o, o) for o in OUTCOMES]],
                value="",
                description="Outcome",
            ),
            "category": w.SelectMultiple(
                options=list(CATEGORIES), value=(), rows=4, description="Category"
            ),
            "actions": w.TagsInput(
                value=[], allowed_tags=actions, allow_duplicates=False, placeholder="actions…"
            ),
            "actor": w.Text(
                value="",
                description="Actor",
                placeholder="id, name or e-mail",
                continuous_update=False,
            ),
            "text": w.Text(
                value="",
                description="Text",
                continuous_update=False,
                placeholder='words or "a phrase" in description, metadata',
            ),
            "time": w.SelectionRangeSlider(
                options=[(f"{d:%Y-%m-%d}", i) for i, d in enumerate(self._slider_days)],
                index=(0, len(self._slider_days) - 1),
                description="Time",
                readout=False,
                layout=w.Layout(width="560px"),
                continuous_update=False,
            ),
        }
        self.controls = c
        for control in c.values():
            control.observe(self._on_filter, names="value")
        self.reset_button = w.Button(description="Reset filters", icon="undo")
        self.reset_button.on_click(lambda _: self.reset())
        self.count_html = w.HTML()
        self.time_label = w.HTML()
        self.sort_by = w.Dropdown(options=list(SORT_COLUMNS), value="time", description="Sort by")
        self.descending = w.ToggleButton(
            value=True, description="descending", icon="sort-amount-desc"
        )
        self.prev_button = w.Button(description="‹ previous", layout=w.Layout(width="100px"))
        self.next_button = w.Button(description="next ›", layout=w.Layout(width="100px"))
        self.page_label = w.HTML()
        self.table = w.HTML()
        self.timeline = w.HTML()
        self.top_actions = w.HTML()
        self.top_by = w.Dropdown(
            options=list(TOP_DIMENSIONS),
            value="actors",
            description="Top",
            layout=w.Layout(width="200px"),
        )
        self.top_other = w.HTML()
        for control in (self.sort_by, self.descending):
            control.observe(self._on_sort, names="value")
        self.top_by.observe(lambda _: self._render_charts(), names="value")
        self.prev_button.on_click(lambda _: self.go_to_page(self._page - 1))
        self.next_button.on_click(lambda _: self.go_to_page(self._page + 1))
        self.export_name = w.Text(
            value=export_name, description="File", layout=w.Layout(width="260px")
        )
        self.export_buttons = {
            name: w.Button(
                description=name.upper(),
                tooltip=f"{fmt.description} ({fmt.suffix})",
                icon="download",
                layout=w.Layout(width="auto"),
            )
            for name, fmt in available_export_formats().items()
        }
        for name, button in self.export_buttons.items():
            button.on_click(self._export_handler(name))
        self.export_status = w.HTML()
        filters = w.VBox(
            [
                w.HBox([c["tenant"], c["outcome"], self.reset_button]),
                w.HBox([c["category"], w.VBox([c["actor"], c["text"]])]),
                w.HBox(
                    [
                        w.Label("Actions", layout=w.Layout(width="80px")),
                        w.Box([c["actions"]], layout=w.Layout(width="560px")),
                    ]
                ),
                w.HBox([c["time"], self.time_label]),
            ]
        )
        charts = w.VBox(
            [self.timeline, w.HBox([self.top_actions, w.VBox([self.top_by, self.top_other])])]
        )
        pager = w.HBox(
            [self.sort_by, self.descending, self.prev_button, self.page_label, self.next_button]
        )
        exports = w.HBox(
            [w.Label("Export:"), self.export_name, *self.export_buttons.values()], layout=wide
        )
        self.widget = w.VBox(
            [filters, self.count_html, charts, pager, self.table, exports, self.export_status]
        )
        self.widget.add_class("auditkit-explorer")

    def _span(self) -> tuple[datetime, datetime]:
        """The first and last ``occurred_at`` (now and now when there are no events)."""
        ts = self._frame["occurred_at"]
        if not len(ts):
            now = datetime.now(UTC)
            return now, now
        return cast(datetime, ts.min()), cast(datetime, ts.max())

    def _time_options(self) -> list[datetime]:
        first, hi = self._span()
        lo = first.replace(hour=0, minute=0, second=0, microsecond=0)
        days = (hi - lo).days + 1
        step = max(1, math.ceil(days / _MAX_SLIDER))
        return [lo + timedelta(days=i) for i in range(0, days + step, step)]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        return f"<Explorer: {self.count:,} of {self._frame.height:,} events>"

    # -- filter state --------------------------------------------------------------------
    @property
    def state(self) -> FilterState:
        """The filter panel's current state."""
        c = self.controls
        lo, hi = c["time"].index
        last = len(self._slider_days) - 1
        return FilterState(
            tenants=c["tenant"].value,
            start=self._slider_days[lo] if lo > 0 else None,
            end=self._slider_days[hi] if hi < last else None,
            categories=c["category"].value,
            actions=c["actions"].value,
            outcomes=c["outcome"].value,
            actor=c["actor"].value,
            text=c["text"].value,
        )

    def set_state(self, state: FilterState) -> None:
        """Set the filter panel to ``state`` (one refresh).

        Only what the panel can show is kept: one tenant, one outcome, and the
        time range rounded out to the slider's days.
        """
        c = self.controls
        days = self._slider_days
        lo = (
            0
            if state.start is None
            else max((i for i, d in enumerate(days) if d <= state.start), default=0)
        )
        hi = (
            len(days) - 1
            if state.end is None
            else min((i for i, d in enumerate(days) if d >= state.end), default=len(days) - 1)
        )
        lo = min(lo, len(days) - 2)
        with self._held():
            c["tenant"].value = state.tenants[0] if state.tenants else ""
            c["outcome"].value = state.outcomes[0] if state.outcomes else ""
            c["category"].value = tuple(state.categories)
            c["actions"].value = list(state.actions)
            c["actor"].value = state.actor
            c["text"].value = state.text
            c["time"].index = (lo, max(hi, lo + 1))
        self._page = 0
        self.refresh()

    def reset(self) -> None:
        """Clear every filter."""
        self.set_state(FilterState())

    @property
    def filter_expr(self) -> pl.Expr:
        """The current filter as a Polars expression over FRAME_SCHEMA columns.

        It works on any event frame: ``store.load().filter(explorer.filter_expr)``.
        """
        return self.state.to_expr()

    @property
    def filtered(self) -> pl.DataFrame:
        """The events that pass the current filter (FRAME_SCHEMA columns, by time)."""
        return self._frame if self._mask is None else self._frame.filter(self._mask)

    @property
    def count(self) -> int:
        """How many events pass the current filter."""
        return self._frame.height if self._mask is None else int(self._mask.sum())

    @property
    def page(self) -> int:
        """The table's page (from 0)."""
        return self._page

    @property
    def pages(self) -> int:
        """How many pages the table has."""
        return max(1, math.ceil(self.count / self.page_size))

    @property
    def page_frame(self) -> pl.DataFrame:
        """The events on the table's current page, in the table's order."""
        return self._frame[self._page_rows()]

    # -- the update path ---------------------------------------------------------------
    @contextmanager
    def _held(self) -> Iterator[None]:
        self._hold = True
        try:
            yield
        finally:
            self._hold = False

    def _on_filter(self, _change: Any) -> None:
        if not self._hold:
            self._page = 0
            self.refresh()

    def _on_sort(self, _change: Any) -> None:
        self.descending.icon = "sort-amount-desc" if self.descending.value else "sort-amount-asc"
        self.descending.description = "descending" if self.descending.value else "ascending"
        self._page = 0
        self._render_table()

    def refresh(self) -> None:
        """Recompute everything from the filter panel: count, charts, table page.

        This is the path a filter change takes (and what the benchmark times).
        """
        state = self.state
        if state.is_empty:
            self._mask = None
        else:
            expr = state.to_expr(search_columns=True)
            self._mask = self._index.select(expr.alias("m")).to_series().fill_null(False)
        self._sub = self._slim if self._mask is None else self._slim.filter(self._mask)
        total = self._frame.height
        n = self._sub.height
        lo, hi = self.controls["time"].index
        self.time_label.value = (
            f"<span style='padding-left:8px'>{self._slider_days[lo]:%Y-%m-%d}"
            f" → {self._slider_days[hi]:%Y-%m-%d} (UTC, end excluded)</span>"
        )
        self.count_html.value = (
            f"<b style='font-size:14px'>{n:,}</b> of {total:,} events · "
            f"<span style='color:#555'>{html.escape(state.describe())}</span>"
        )
        self._render_charts(state)
        self._render_table()

    def _render_charts(self, state: FilterState | None = None) -> None:
        state = state or self.state
        sub = self._sub
        first, last = self._span()
        start = state.start or first
        end = state.end or max(last + timedelta(microseconds=1), start + timedelta(hours=1))
        width = _bucket_width(end - start)
        # align buckets to whole widths (days start at midnight UTC)
        width_us = width // timedelta(microseconds=1)
        t0 = int(start.timestamp() * 1_000_000) // width_us * width_us
        buckets = max(1, math.ceil((int(end.timestamp() * 1_000_000) - t0) / width_us))
        counts = (
            sub.lazy()
            .select(((pl.col("_t") - t0) // width_us).alias("bucket"), "outcome")
            .group_by("bucket", "outcome")
            .len()
            .filter(pl.col("bucket").is_between(0, buckets - 1))
            .with_columns(pl.col("outcome").cast(pl.String))
            .collect()
        )
        label = _width_label(width)
        self.timeline.value = timeline_svg(
            counts,
            start=datetime.fromtimestamp(t0 / 1e6, UTC),
            width_us=width_us,
            buckets=buckets,
            title=f"Events per {label} (UTC)",
        )
        self.top_actions.value = self._top_svg("action", "Top actions")
        dim = self.top_by.value
        self.top_other.value = self._top_svg(TOP_DIMENSIONS[dim], f"Top {dim}")

    def _top_svg(self, column: str, title: str) -> str:
        counts = (
            self._sub.lazy()
            .select(column)
            .drop_nulls()
            .group_by(column)
            .len()
            .with_columns(pl.col(column).cast(pl.String))
            .sort(["len", column], descending=[True, False])
            .head(self.top_n)
            .collect()
        )
        return bar_chart_svg(counts[column].to_list(), counts["len"].to_list(), title=title)

    def _page_rows(self) -> pl.Series:
        sub = self._sub
        size, start = self.page_size, self._page * self.page_size
        column = SORT_COLUMNS[self.sort_by.value]
        desc = bool(self.descending.value)
        if column == "occurred_at":  # the index is in time order already
            n = sub.height
            if desc:
                lo, hi = max(n - start - size, 0), max(n - start, 0)
                return sub["_row"].slice(lo, hi - lo).reverse()
            return sub["_row"].slice(start, size)
        ordered = (
            sub.lazy()
            .select("_row", column)
            .sort(column, "_row", descending=[desc, desc], nulls_last=True)
        )
        return ordered.slice(start, size).collect()["_row"]

    def _render_table(self) -> None:
        self._page = min(max(self._page, 0), self.pages - 1)
        self.table.value = table_html(
            self.page_frame, TABLE_COLUMNS, empty="no events match these filters"
        )
        self.page_label.value = (
            f"<span style='padding:0 8px'>page {self._page + 1:,} of {self.pages:,}</span>"
        )
        self.prev_button.disabled = self._page == 0
        self.next_button.disabled = self._page >= self.pages - 1

    def go_to_page(self, page: int) -> None:
        """Show page ``page`` (from 0; clipped to the pages there are)."""
        self._page = page
        self._render_table()

    # -- export --------------------------------------------------------------------------
    def _export_handler(self, name: str) -> Callable[[Any], None]:
        def on_click(_button: Any) -> None:
            self.export(name)

        return on_click

    def export(self, format: str, path: str | Path | None = None) -> ExportResult:
        """Write the filtered events (``format``: a registered export format).

        By default the file is ``export_dir / <file name box>.<suffix>``; the
        status line under the buttons offers it for download.
        """
        fmt = available_export_formats()[format]
        if path is None:
            stem = (self.export_name.value or "auditkit-export").strip()
            path = self.export_dir / f"{Path(stem).name}{fmt.suffix}"
        try:
            result = export_frame(self.filtered, path, format=format)
        except Exception as exc:  # shown to the person who clicked, then raised
            self.export_status.value = (
                f"<span style='color:#cf222e'>export failed: {html.escape(str(exc))}</span>"
            )
            raise
        self.last_export = result
        link = download_link(result.path, fmt.media_type, limit=self.download_limit)
        self.export_status.value = (
            f"Wrote {result.rows:,} events to <code>{html.escape(result.path.name)}</code> "
            f"({format}, {human_size(result.bytes)}) · {link}"
        )
        return result


def _width_label(width: timedelta) -> str:
    minutes = int(width.total_seconds() // 60)
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "day" if days == 1 else ("week" if days == 7 else f"{days} days")
    if minutes % 60 == 0:
        return "hour" if minutes == 60 else f"{minutes // 60} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"
