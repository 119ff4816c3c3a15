"""The one registry mechanism: built-ins through entry points, third parties the same way."""

from __future__ import annotations

import sys
import textwrap
import tomllib
from importlib import import_module
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from auditkit import plugins
from auditkit.errors import UsageError
from auditkit.plugins import GROUPS, Registry

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> dict[str, dict[str, str]]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return doc["project"]["entry-points"]  # type: ignore[no-any-return]


def test_every_group_is_declared_and_every_entry_point_imports() -> None:
    declared = _declared()
    assert set(GROUPS.values()) <= set(declared), "a registry group has no built-in entry points"
    for group, eps in declared.items():
        for name, module in eps.items():
            assert import_module(module), f"{group}:{name}"


def test_installed_metadata_matches_pyproject() -> None:
    """The installed entry points are the ones pyproject.toml declares (reinstall if not)."""
    for group, eps in _declared().items():
        installed = {ep.name: ep.value for ep in plugins.plugin_entry_points(group)}
        assert {k: v for k, v in installed.items() if v.startswith("auditkit.")} == eps


def test_builtin_detector_modules_are_all_declared() -> None:
    folder = ROOT / "auditkit" / "analytics" / "detectors"
    modules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    modules -= {"registry", "common", "__init__"}  # building blocks, no detector
    declared = {v.rsplit(".", 1)[1] for v in _declared()["auditkit.detectors"].values()}
    assert modules == declared


def test_builtin_input_format_modules_are_all_declared() -> None:
    folder = ROOT / "auditkit" / "ingest" / "formats"
    modules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    declared = {v.rsplit(".", 1)[1] for v in _declared()["auditkit.input_formats"].values()}
    assert modules == declared


def _fake_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group: str, source: str) -> None:
    pkg = tmp_path / "thirdparty_plugin.py"
    pkg.write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("thirdparty_plugin", None)
    real = plugins.entry_points

    def fake(group: str = "", **kw: object) -> list[EntryPoint]:
        found = list(real(group=group))
        if group == wanted:
            found.append(EntryPoint("thirdparty", "thirdparty_plugin", group))
        return found

    wanted = group
    monkeypatch.setattr(plugins, "entry_points", fake)


def test_a_third_party_detector_registers_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditkit.analytics.detectors import registry

    _fake_plugin(
        tmp_path,
        monkeypatch,
        GROUPS["detectors"],
        '''
        import polars as pl
        from auditkit.analytics.detectors.registry import FINDINGS_SCHEMA, register_detector

        @register_detector("thirdparty_nothing", title="Nothing", severity="low")
        def nothing(events):
            """Never fires."""
            return pl.DataFrame(schema=FINDINGS_SCHEMA)
        ''',
    )
    monkeypatch.setattr(registry._DETECTORS, "_loaded", False)  # read the entry points again
    try:
        names = registry.available_detectors()
        assert "thirdparty_nothing" in names
        assert "brute_force" in names
    finally:
        registry._DETECTORS.unregister("thirdparty_nothing")


def test_a_broken_plugin_is_named_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_plugin(tmp_path, monkeypatch, "auditkit.test_group", "raise RuntimeError('boom')\n")
    reg: Registry[int] = Registry("widget", group="auditkit.test_group")
    with pytest.raises(UsageError, match=r"widget plugin 'thirdparty' .* RuntimeError: boom"):
        reg.all()


def test_registering_twice_is_refused_unless_the_same() -> None:
    reg: Registry[int] = Registry("number", group="auditkit.none")
    reg.register("one", 1)
    reg.register("one", 1)
    with pytest.raises(UsageError, match="registered twice"):
        reg.register("one", 2)
    reg.register("one", 2, replace=True)
    assert reg["one"] == 2
    with pytest.raises(UsageError, match="unknown number 'two'; known: one"):
        reg["two"]
