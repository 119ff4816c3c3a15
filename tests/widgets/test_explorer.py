"""The Explorer's logic without a browser: set widget values in Python, watch the
count, table, charts and expression change; click the export buttons."""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditkit.errors import UsageError
from auditkit.store import Store
from auditkit.widgets import Explorer, FilterState


@pytest.fixture
def explorer(sample_frame: pl.DataFrame, tmp_path: Path) -> Explorer:
    return Explorer(sample_frame, export_dir=tmp_path, page_size=10)


def test_starts_unfiltered(explorer: Explorer, sample_frame: pl.DataFrame) -> None:
    assert explorer.count == sample_frame.height
    assert f"{sample_frame.height:,}</b> of {sample_frame.height:,}" in explorer.count_html.value
    assert explorer.pages == -(-sample_frame.height // 10)
    assert explorer.table.value.count("<tr") == 11
    assert "<svg" in explorer.timeline.value and "<svg" in explorer.top_actions.value
    assert str(explorer.filter_expr) == "true"
    n = f"{sample_frame.height:,}"
    assert repr(explorer) == f"<Explorer: {n} of {n} events>"


def test_outcome_dropdown_changes_count_table_and_expr(
    explorer: Explorer, sample_frame: pl.DataFrame
) -> None:
    before = explorer.table.value
    explorer.controls["outcome"].value = "failure"
    expected = sample_frame.filter(pl.col("outcome") == "failure")
    assert explorer.count == expected.height > 0
    assert explorer.table.value != before
    assert "failure" in explorer.table.value and ">success<" not in explorer.table.value
    assert_frame_equal(
        sample_frame.filter(explorer.filter_expr).sort("event_id"), expected.sort("event_id")
    )
    assert_frame_equal(explorer.filtered.sort("event_id"), expected.sort("event_id"))
    assert "outcome failure" in explorer.count_html.value


def test_every_control_filters(explorer: Explorer, sample_frame: pl.DataFrame) -> None:
    c = explorer.controls
    tenant = sample_frame["tenant_id"].unique().sort()[0]
    actor = sample_frame["actor_name"].drop_nulls()[0]
    lower = pl.col("actor_name").str.to_lowercase()
    cases = [
        ("tenant", tenant, pl.col("tenant_id") == tenant),
        ("category", ("admin", "system"), pl.col("category").is_in(["admin", "system"])),
        ("actions", ["user.login"], pl.col("action") == "user.login"),
        ("actor", actor.upper(), lower.str.contains(actor.lower(), literal=True)),
        ("text", '"signed in"', pl.col("description").str.contains("(?i)signed in")
         | pl.col("metadata").str.contains("(?i)signed in").fill_null(False)),
    ]  # fmt: skip
    for name, value, expr in cases:
        explorer.reset()
        c[name].value = value
        expected = sample_frame.filter(expr)
        assert explorer.count == sample_frame.filter(explorer.filter_expr).height, name
        assert explorer.count >= expected.height > 0, name  # actor search also reads id, e-mail
        if name != "actor":
            assert explorer.count == expected.height, name
        assert explorer.count < sample_frame.height, name


def test_time_slider(explorer: Explorer, sample_frame: pl.DataFrame) -> None:
    explorer.controls["time"].index = (2, 5)
    state = explorer.state
    assert state.start is not None and state.end is not None
    assert (state.end - state.start).days == 3
    expected = sample_frame.filter(
        pl.col("occurred_at").is_between(state.start, state.end, closed="left")
    )
    assert explorer.count == expected.height > 0
    assert "Events per" in explorer.timeline.value


def test_set_state_and_reset(explorer: Explorer, sample_frame: pl.DataFrame) -> None:
    explorer.set_state(
        FilterState(outcomes=["denied"], categories=["user"], start="2026-01-08", end="2026-01-12")
    )
    assert explorer.controls["outcome"].value == "denied"
    assert explorer.state.start.day == 8 and explorer.state.end.day == 12  # type: ignore[union-attr]
    assert explorer.count == sample_frame.filter(explorer.filter_expr).height
    explorer.reset_button.click()
    assert explorer.count == sample_frame.height and explorer.state.is_empty


def test_paging_and_sorting(explorer: Explorer, sample_frame: pl.DataFrame) -> None:
    newest = sample_frame.sort("occurred_at", "tenant_id", "seq", descending=True)
    assert explorer.page_frame["event_id"].to_list() == newest["event_id"][:10].to_list()
    explorer.next_button.click()
    assert explorer.page == 1
    assert explorer.page_frame["event_id"].to_list() == newest["event_id"][10:20].to_list()
    assert "page 2 of" in explorer.page_label.value
    explorer.descending.value = False
    assert explorer.page == 0 and explorer.prev_button.disabled
    oldest = sample_frame.sort("occurred_at", "tenant_id", "seq")
    assert explorer.page_frame["event_id"].to_list() == oldest["event_id"][:10].to_list()
    explorer.sort_by.value = "action"
    actions = explorer.page_frame["action"].to_list()
    assert actions == sorted(sample_frame["action"].to_list())[:10]
    explorer.go_to_page(10_000)
    assert explorer.page == explorer.pages - 1 and explorer.next_button.disabled
    explorer.controls["outcome"].value = "error"  # a filter change goes back to page 1
    assert explorer.page == 0


def test_no_match(explorer: Explorer) -> None:
    explorer.controls["text"].value = "no event says this"
    assert explorer.count == 0 and explorer.pages == 1
    assert "no events match" in explorer.table.value
    assert "no events" in explorer.top_actions.value


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "parquet"])
def test_export_buttons_write_the_filtered_events(
    explorer: Explorer, tmp_path: Path, fmt: str
) -> None:
    explorer.controls["outcome"].value = "failure"
    explorer.export_name.value = "failed-logins"
    explorer.export_buttons[fmt].click()
    path = tmp_path / f"failed-logins.{fmt}"
    assert path.exists()
    assert explorer.last_export is not None and explorer.last_export.rows == explorer.count
    if fmt == "ndjson":
        lines = path.read_bytes().splitlines()
        assert len(lines) == explorer.count
        assert {orjson.loads(line)["outcome"] for line in lines} == {"failure"}
    if fmt == "parquet":
        assert_frame_equal(pl.read_parquet(path), explorer.filtered)
    status = explorer.export_status.value
    assert f"Wrote {explorer.count:,} events" in status
    assert f"download='failed-logins.{fmt}'" in status and "base64," in status


def test_large_exports_are_not_inlined(sample_frame: pl.DataFrame, tmp_path: Path) -> None:
    ex = Explorer(sample_frame, export_dir=tmp_path, download_limit=100)
    ex.export_buttons["csv"].click()
    assert "too large to offer here" in ex.export_status.value
    assert (tmp_path / "auditkit-export.csv").exists()


def test_export_errors_are_shown(explorer: Explorer, tmp_path: Path) -> None:
    explorer.export_dir = tmp_path / "missing"
    with pytest.raises(OSError):
        explorer.export("csv")
    assert "export failed" in explorer.export_status.value


def test_top_dimension_dropdown(explorer: Explorer, sample_frame: pl.DataFrame) -> None:
    explorer.top_by.value = "countries"
    top = sample_frame["geo_country"].drop_nulls().value_counts(sort=True)[0, 0]
    assert "Top countries" in explorer.top_other.value and f">{top}<" in explorer.top_other.value


def test_from_store_and_partial_frames(tmp_path: Path, sample_frame: pl.DataFrame) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    store.append(sample_frame.head(200).pipe(_events))
    ex = Explorer.from_store(store, "acme" if "acme" in store.tenants() else None)
    assert ex.count == store.load(ex._frame["tenant_id"][0]).height
    narrow = sample_frame.select("tenant_id", "seq", "occurred_at", "action", "actor_id")
    assert Explorer(narrow).count == sample_frame.height
    with pytest.raises(UsageError, match="missing column"):
        Explorer(sample_frame.select("action"))
    empty = Explorer(sample_frame.clear())
    assert empty.count == 0 and "no events" in empty.table.value


def test_widget_display_bundle(explorer: Explorer) -> None:
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"].startswith("<Explorer: ")
    assert "application/vnd.jupyter.widget-view+json" in bundle


def _events(frame: pl.DataFrame) -> list[dict[str, object]]:
    from auditkit.export import frame_to_events

    return [e for chunk in frame_to_events(frame.drop("seq", "received_at")) for e in chunk]
