"""The committed notebooks render outside Jupyter: every widget an output shows has
its state saved in the notebook, and nbconvert's HTML embeds that state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"


def _shown(nb: dict) -> list[str]:
    return [
        out["data"][VIEW]["model_id"]
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        if VIEW in out.get("data", {})
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_shown_widget_has_saved_state(path: Path) -> None:
    nb = json.loads(path.read_text())
    shown = _shown(nb)
    if not shown:
        pytest.skip("no widgets shown")
    state = nb["metadata"].get("widgets", {}).get(STATE, {}).get("state", {})
    missing = [m for m in shown if m not in state]
    assert not missing, f"{path.name}: no saved state for widget(s) {missing}"
    # every model a saved widget refers to is saved too (a static viewer needs them all)
    text = json.dumps(state)
    referred = {part[:32] for part in text.split("IPY_MODEL_")[1:]}
    assert referred <= set(state), referred - set(state)


def test_the_explorer_and_findings_views_are_in_the_static_html() -> None:
    from nbconvert import HTMLExporter

    names = {p.stem: p for p in NOTEBOOKS}
    for stem in ("01_quickstart", "02_security_investigation"):
        html, _ = HTMLExporter().from_filename(str(names[stem]))
        assert STATE in html, stem  # the state is embedded for the widget manager
        nb = json.loads(names[stem].read_text())
        state = nb["metadata"]["widgets"][STATE]["state"]
        kinds = {v["model_name"] for v in state.values()}
        assert {"VBoxModel", "HTMLModel"} <= kinds, (stem, kinds)
