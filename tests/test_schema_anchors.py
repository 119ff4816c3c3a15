"""Validation patterns match the whole value: ``$`` also matches before a final
newline, so ``"user.login\\n"`` passed as an action and was stored."""

from __future__ import annotations

import importlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditkit.errors import SchemaError, UsageError
from auditkit.ingest import _mapping
from auditkit.schema import _fast_normalize, _full_normalize, normalize_event

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BASE = {"tenant_id": "acme", "occurred_at": "2026-01-02T09:00:00Z", "actor": {"id": "u"}}

#: the modules whose patterns validate what a record may hold
VALIDATING = (
    "auditkit.schema",
    "auditkit.record",
    "auditkit.times",
    "auditkit.ingest._mapping",
    "auditkit.ingest.formats.mapped",
    "auditkit.ingest.formats.ecs",
    "auditkit.ingest.formats.gcp",
    "auditkit.ingest.formats.cloudtrail",
    "auditkit.ingest._sentinel",
    "auditkit.store._cold",
    "auditkit.reports.records",
)


@pytest.mark.parametrize("name", VALIDATING)
def test_no_validation_pattern_ends_in_dollar(name: str) -> None:
    module = importlib.import_module(name)
    loose = [
        attr
        for attr, value in vars(module).items()
        if isinstance(value, re.Pattern)
        and isinstance(value.pattern, str)
        and value.pattern.endswith("$")
        and not value.pattern.endswith("\\$")
    ]
    assert loose == [], f"{name}: {loose} end in '$' (matches before a final newline)"


@pytest.mark.parametrize("action", ["user.login\n", "user.login\r\n", "user.login\n\n"])
def test_action_with_a_final_newline_is_refused(action: str) -> None:
    event = {**BASE, "action": action}
    assert _fast_normalize(event, NOW) is None  # the fast path steps aside
    with pytest.raises(SchemaError) as err:
        _full_normalize(event, NOW)
    assert err.value.field == "action"
    with pytest.raises(SchemaError, match="field 'action'"):
        normalize_event(event, now=NOW)


def test_plain_action_still_passes() -> None:
    assert normalize_event({**BASE, "action": "user.login"}, now=NOW)["action"] == "user.login"


def test_ingest_quarantines_the_action_naming_the_field(tmp_path: Path) -> None:
    from auditkit import Store
    from auditkit.ingest.pipeline import ingest_files

    src = tmp_path / "in.ndjson"
    src.write_text(
        '{"tenant_id":"acme","occurred_at":"2026-01-02T09:00:00Z",'
        '"action":"user.login\\n","actor":{"id":"u"}}\n'
        '{"tenant_id":"acme","occurred_at":"2026-01-02T09:00:00Z",'
        '"action":"user.login","actor":{"id":"u"}}\n'
    )
    store = Store.init(str(tmp_path / "s.db"))
    result = ingest_files(store, [str(src)])
    assert (result.stored, result.quarantined) == (1, 1)
    (problem,) = result.problems
    assert problem.field == "action"
    assert "action" in problem.reason and "user.login\\n" in problem.reason
    assert store.load("acme")["action"].to_list() == ["user.login"]


def test_mapping_patterns_match_whole_values() -> None:
    with pytest.raises(UsageError):
        _mapping.check_action("user.login\n", where="map.yaml")
    # an address with a final newline is read as the address, not kept with it
    assert _mapping.ip_or_none("203.0.113.7\n") == "203.0.113.7"
    assert _mapping.ip_or_none("203.0.113.7") == "203.0.113.7"
    assert _mapping._NUMBER_RE.match("12\n") is None
    assert _mapping._NAIVE_RE.match("2022-03-22 14:21:53\n") is None
    assert _mapping._VERSION_RE.match("v1\n") is None
    assert _mapping._column_path("target[0]\n.id") is None
    assert _mapping._column_path("target[0].id") == ["target", 0, "id"]
