"""Mapping-file format: loading and validating mappings, mapping CSV and NDJSON records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditkit.errors import SchemaError, UsageError
from auditkit.ingest.formats.mapped import MappedFormat, load_mapping
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from . import FIXTURES, events

CSV = FIXTURES / "mapped" / "billing_audit.csv"
NDJSON = FIXTURES / "mapped" / "app_events.ndjson"


def test_csv_with_yaml_mapping() -> None:
    evs = events("mapped", CSV)
    assert [(e["action"], e["outcome"]) for e in evs] == [
        ("user.login", "success"),
        ("user.login", "failure"),
        ("invoice.export", "success"),
        ("role.grant", "success"),
        ("document.share", "denied"),
        ("entity.expire", "success"),
    ]
    login = evs[0]
    assert login["event_id"] == "billing:1001" and login["tenant_id"] == "acme"
    assert login["occurred_at"] == "2024-07-05T07:00:00.000000Z"  # +02:00 from the mapping
    assert login["actor"] == {
        "id": "u-17",
        "email": "ann@example.com",
        "roles": ["admin", "billing"],
    }
    assert login["source"]["geo"] == {"country": "DE", "city": "Berlin"}
    assert login["observer"] == {"service": "billing"}
    assert login["metadata"]["plan"] == "enterprise"
    assert login["metadata"]["mapping"] == "billing-audit"
    assert login["metadata"]["source_action"] == "LOGIN_OK"
    assert evs[3]["targets"] == [{"id": "u-18", "type": "user", "name": "bob"}]
    assert evs[3]["category"] == "admin"
    assert evs[5]["category"] == "system"  # from values.action
    assert "source" not in evs[4]


def test_ndjson_with_toml_mapping_and_tenant_per_record() -> None:
    fmt = load_mapping(FIXTURES / "mapped" / "app_events.mapping.toml")
    recs = [r.value for r in fmt.records(str(NDJSON))]
    first, second, third = recs
    e = normalize_event(fmt.to_event(first, tenant=None))
    assert (e["tenant_id"], e["action"], e["occurred_at"]) == (
        "globex",
        "document.read",
        "2024-07-05T09:00:00.000000Z",
    )
    assert e["actor"] == {"id": "u-5", "type": "user", "name": "Carol"}
    assert e["targets"] == [{"id": "doc-9", "type": "document"}]
    e2 = fmt.to_event(second, tenant=None)
    assert e2["action"] == "api_key.create" and e2["actor"]["type"] == "service"
    with pytest.raises(SchemaError) as info:
        fmt.to_event(third, tenant=None)
    assert info.value.field == "tenant" and "--tenant" in info.value.reason
    assert fmt.to_event(third, tenant="cli")["outcome"] == "failure"


def _fmt(**extra: Any) -> MappedFormat:
    mapping: dict[str, Any] = {"fields": {"occurred_at": "t", "action": "a", "actor.id": "u"}}
    mapping.update(extra)
    return MappedFormat(mapping, source="m.yaml")


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"fields": {"action": "a", "actor.id": "u"}}, "fields.occurred_at is required"),
        (
            {"fields": {"occurred_at": "t", "action": "a", "actor.id": "u", "actorid": "x"}},
            "fields.actorid: not a canonical field",
        ),
        (
            {"fields": {"occurred_at": "t", "action": "a", "actor.id": {"col": "u"}}},
            "unknown key(s) ['col']",
        ),
        (
            {"fields": {"occurred_at": "t", "action": "a", "actor.id": "u"}, "colour": 1},
            "unknown key(s) ['colour']",
        ),
        (
            {
                "fields": {"occurred_at": "t", "action": "a", "actor.id": "u"},
                "values": {"action": {"X": "Login"}},
            },
            "values.action.X",
        ),
        (
            {
                "fields": {"occurred_at": "t", "action": "a", "actor.id": "u"},
                "values": {"outcome": {"X": "ok"}},
            },
            "expected one of success",
        ),
        (
            {
                "fields": {"occurred_at": "t", "action": "a", "actor.id": "u"},
                "timezone": "Europe/Berlin",
            },
            "timezone",
        ),
        (
            {"fields": {"occurred_at": "t", "action": "a", "actor.id": "u"}, "format": "xml"},
            "format",
        ),
    ],
)
def test_bad_mappings_are_usage_errors_naming_the_key(
    mapping: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=r"m\.yaml") as info:
        MappedFormat(mapping, source="m.yaml")
    assert message in str(info.value)


def test_bad_mapping_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fields: [unclosed\n")
    with pytest.raises(UsageError, match="not valid"):
        load_mapping(bad)
    listy = tmp_path / "list.toml"
    listy.write_text("x = 1\n")
    with pytest.raises(UsageError, match="unknown key"):
        load_mapping(listy)


def test_unconfigured_registered_format_refuses_to_run(tmp_path: Path) -> None:
    placeholder = get_format("mapped")
    assert placeholder.sniff(b"a,b\n1,2\n", "x.csv") == 0
    with pytest.raises(UsageError, match="--mapping"):
        list(placeholder.records(str(CSV)))
    with pytest.raises(UsageError, match="--mapping"):
        placeholder.to_event({}, tenant="t")


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"t": "2024-07-01T10:00:00Z", "a": "Login", "u": "x"}, "a"),
        ({"t": "2024-07-01T10:00:00", "a": "user.login", "u": "x"}, "t"),  # no zone
        ({"t": "2024-07-01T10:00:00Z", "u": "x"}, "a"),
        ({"t": "2024-07-01T10:00:00Z", "a": "user.login"}, "u"),
        ({"t": "2024-07-01T10:00:00Z", "a": "user.login", "u": "x" * 600}, "u"),
        ({"t": "2024-07-01T10:00:00Z", "a": "user.login", "u": "x", "o": "maybe"}, "o"),
    ],
)
def test_bad_records_name_the_source_column(record: dict[str, Any], field: str) -> None:
    fmt = MappedFormat(
        {
            "tenant": "acme",
            "fields": {"occurred_at": "t", "action": "a", "actor.id": "u", "outcome": "o"},
        }
    )
    with pytest.raises(SchemaError) as info:
        normalize_event(fmt.to_event(record, tenant=None))
    assert info.value.field == field


def test_time_formats_and_action_names() -> None:
    epoch = _fmt(time_format="epoch_ms", tenant="t")
    e = epoch.to_event({"t": "1720170000123", "a": "invoice.pdf-export", "u": "x"}, tenant=None)
    assert e["occurred_at"] == "2024-07-05T09:00:00.123000Z"
    assert e["action"] == "invoice.pdf_export"
    with pytest.raises(SchemaError, match=r"values\.action has no entry"):
        epoch.to_event({"t": "1720170000123", "a": "Document Export", "u": "x"}, tenant=None)
    plain = _fmt(tenant="t")
    e = plain.to_event(
        {"t": "2024-07-05T09:00:00+02:00", "a": "Document.Export", "u": 7}, tenant=None
    )
    assert (e["action"], e["actor"]["id"], e["occurred_at"]) == (
        "document.export",
        "7",
        "2024-07-05T07:00:00.000000Z",
    )


def test_constants_defaults_and_json_target_lists() -> None:
    fmt = MappedFormat(
        {
            "tenant": "acme",
            "fields": {
                "occurred_at": "t",
                "action": {"value": "document.read"},
                "actor.id": "u",
                "actor.type": {"column": "kind", "default": "user"},
                "targets": "objs",
                "source.geo.lat": "lat",
                "source.geo.lon": "lon",
            },
        }
    )
    e = normalize_event(
        fmt.to_event(
            {
                "t": "2024-07-05T09:00:00Z",
                "u": "x",
                "kind": "",
                "objs": '[{"id": "d1", "type": "document"}, {"id": "d2"}]',
                "lat": "52.5",
                "lon": "x",
            },
            tenant=None,
        )
    )
    assert e["action"] == "document.read" and e["actor"]["type"] == "user"
    assert [t["id"] for t in e["targets"]] == ["d1", "d2"]
    assert e["source"] == {"geo": {"lat": 52.5}}
