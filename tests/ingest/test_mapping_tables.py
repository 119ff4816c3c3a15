"""The mapping tables are valid data, and docs/formats.md documents all of them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from auditkit.ingest._mapping import check_action, load_table, table_entry
from auditkit.ingest.formats import mapped
from auditkit.ingest.formats.mapped import MappedFormat
from auditkit.schema import ACTOR_TYPES, CATEGORIES, CORE_ACTIONS, OUTCOMES

DOC = (Path(__file__).parents[2] / "docs" / "formats.md").read_text()
TABLES = {
    "cloudtrail": ["actions"],
    "gcp": ["actions", "method_suffixes"],
    "github": ["actions"],
    "gitlab": ["actions"],
    "okta": ["actions"],
}


@pytest.mark.parametrize(("name", "key"), [(n, k) for n, keys in TABLES.items() for k in keys])
def test_action_tables_are_valid_and_documented(name: str, key: str) -> None:
    table = load_table(name)[key]
    assert table
    for source in table:
        entry = table_entry(table, source)
        assert entry is not None
        action = check_action(entry["action"], where=f"{name}.{key}.{source}")
        if action in CORE_ACTIONS:
            assert "category" not in entry, f"{source}: core actions keep their category"
        assert entry.get("category", "user") in CATEGORIES, source
        assert entry.get("outcome", "success") in OUTCOMES, source
        assert f"| `{source}` | `{action}` |" in DOC, f"docs/formats.md misses {name} {source}"


def test_value_tables_hold_canonical_values() -> None:
    assert set(load_table("cloudtrail")["identity_types"].values()) <= set(ACTOR_TYPES)
    assert set(load_table("cloudtrail")["service_categories"].values()) <= set(CATEGORIES)
    assert set(load_table("gcp")["status_codes"].values()) <= set(OUTCOMES)
    assert {v.get("category") for v in load_table("gcp")["log_types"].values()} <= set(CATEGORIES)
    assert set(load_table("okta")["outcomes"].values()) <= set(OUTCOMES)
    assert set(load_table("okta")["actor_types"].values()) <= set(ACTOR_TYPES)
    assert set(load_table("okta")["prefix_categories"].values()) <= set(CATEGORIES)
    assert set(load_table("gitlab")["author_classes"].values()) <= set(ACTOR_TYPES)
    assert set(load_table("gitlab")["noun_categories"].values()) <= set(CATEGORIES)
    ocsf = load_table("ocsf")
    assert set(ocsf["status"].values()) <= set(OUTCOMES)
    assert set(ocsf["user_types"].values()) <= set(ACTOR_TYPES)
    assert set(ocsf["category_uids"].values()) <= set(CATEGORIES)
    for uid, cls in ocsf["classes"].items():
        assert cls["category"] in CATEGORIES
        for activity, action in cls["activities"].items():
            check_action(action, where=f"ocsf {uid}.{activity}")
            assert f"{activity} `{action}`" in DOC


def test_docs_cover_every_format_and_mapping_key() -> None:
    for name in ("auditkit", "csv", "cloudtrail", "gcp", "gitlab", "okta", "ocsf", "mapped"):
        assert f"`{name}`" in DOC
    for key in (*mapped._TOP_KEYS, *mapped._FIELDS):
        assert f"`{key}`" in DOC, key
    for key in mapped._EPOCHS:
        assert f"`{key}`" in DOC, key


def test_the_docs_mapping_examples_are_valid_mappings() -> None:
    yaml_blocks = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    toml_blocks = re.findall(r"```toml\n(.*?)```", DOC, re.S)
    assert yaml_blocks and toml_blocks
    for block in yaml_blocks:
        assert MappedFormat(yaml.safe_load(block), source="docs").configured
    for block in toml_blocks:
        assert MappedFormat(tomllib.loads(block), source="docs").configured
