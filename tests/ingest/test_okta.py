"""Okta System Log mapping: sessions, MFA, admin changes, tenant option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.errors import SchemaError
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from . import FIXTURES, by_source_action, events

LOG = FIXTURES / "okta" / "system_log.ndjson"


@pytest.fixture(scope="module")
def log() -> list[dict[str, Any]]:
    return events("okta", LOG, tenant="acme")


def test_sign_ins_success_failure_deny(log: list[dict[str, Any]]) -> None:
    failed, ok, denied = (e for e in log if e["metadata"]["source_action"] == "user.session.start")
    assert [e["outcome"] for e in (failed, ok, denied)] == ["failure", "success", "denied"]
    assert all(e["action"] == "user.login" for e in (failed, ok, denied))
    # an unknown user's failed sign-in: the attempted login name is the actor
    assert failed["actor"] == {"id": "ann@example.com", "type": "user", "email": "ann@example.com"}
    assert failed["metadata"]["outcome_reason"] == "INVALID_CREDENTIALS"
    assert "session_id" not in failed  # Okta writes "unknown"
    assert ok["source"] == {
        "ip": "198.51.100.30",
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 "
        "Safari/605.1.15",
        "geo": {"country": "Germany", "city": "Berlin", "lat": 52.52, "lon": 13.405},
    }
    assert ok["session_id"] == "102abcDEF-ghiJKL" and ok["request_id"] == "Zc02txn"
    assert ok["description"] == "User login to Okta"
    assert ok["tenant_id"] == "acme" and ok["event_id"].startswith("02a1b2c3")


def test_mfa_push_and_denial(log: list[dict[str, Any]]) -> None:
    acts = by_source_action(log)
    # a push *sent* is not a push approved (Okta logs every push it sends as SUCCESS)
    sent = acts["system.push.send_factor_verify_push"]
    assert sent["action"] == "mfa_challenge.send" and sent["metadata"]["factor"] == "push"
    deny = acts["user.mfa.okta_verify.deny_push"]
    assert (deny["action"], deny["outcome"]) == ("mfa.challenge", "denied")


def test_admin_changes(log: list[dict[str, Any]]) -> None:
    acts = by_source_action(log)
    mfa = acts["user.mfa.factor.deactivate"]
    assert mfa["action"] == "mfa.disable" and mfa["targets"][0]["id"] == "00u1ann2BCDE3fgh4i5"
    assert acts["user.account.update_password"]["action"] == "password.change"
    member = acts["group.user_membership.add"]
    assert member["action"] == "team_member.add"
    assert [t["type"] for t in member["targets"]] == ["User", "UserGroup"]
    grant = acts["user.account.privilege.grant"]
    assert grant["action"] == "role.grant" and grant["metadata"]["role"] == "Super administrator"
    assert grant["category"] == "admin"
    assert acts["system.api_token.create"]["action"] == "api_key.create"
    assert acts["application.user_membership.add"]["action"] == "application_user_membership.add"


def test_system_principal_without_client_ip(log: list[dict[str, Any]]) -> None:
    e = by_source_action(log)["user.account.lock"]
    assert e["actor"]["type"] == "system" and "source" not in e
    assert e["category"] == "system"


def test_api_page_array() -> None:
    evs = events("okta", FIXTURES / "okta" / "api_logs_page.json", tenant="acme")
    assert [e["action"] for e in evs] == ["user.logout", "policy.update"]


def _event() -> dict[str, Any]:
    return dict(orjson.loads(LOG.read_bytes().splitlines()[1]))


def test_tenant_is_required() -> None:
    with pytest.raises(SchemaError) as info:
        get_format("okta").to_event(_event(), tenant=None)
    assert info.value.field == "tenant_id" and "--tenant" in info.value.reason


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"published": "06/05/2024"}, "published"),
        ({"eventType": None}, "eventType"),
        ({"actor": None}, "actor"),
        ({"actor": {"type": "User"}}, "actor.id"),
    ],
)
def test_bad_events_name_the_field(change: dict[str, Any], field: str) -> None:
    rec = {k: v for k, v in {**_event(), **change}.items() if v is not None}
    with pytest.raises(SchemaError) as info:
        normalize_event(get_format("okta").to_event(rec, tenant="acme"))
    assert info.value.field == field


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A LogEvent as dotted columns; lists (``target``) as JSON text, as exports write them."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    if isinstance(value, list):
        return {prefix[:-1]: orjson.dumps(value).decode()}
    return {prefix[:-1]: "" if value is None else value}


def test_csv_with_dotted_columns_maps_like_the_json_events(
    tmp_path: Path, log: list[dict[str, Any]]
) -> None:
    """The System Log as CSV (the Admin Console's download and SIEM exports: one
    column per dotted path, empty cells for absent values, every value text) gives
    the JSON events, found without --format, sequentially and in parallel."""
    import csv

    from auditkit.ingest.pipeline import ingest_files
    from auditkit.ingest.registry import detect_format
    from auditkit.store import Store

    raw = [orjson.loads(line) for line in LOG.read_bytes().splitlines() if line.strip()]
    rows = [_flat(r) for r in raw]
    columns = sorted({c for r in rows for c in r})
    columns.remove("uuid")
    columns = ["uuid", *columns]
    path = tmp_path / "System Log export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    assert detect_format(str(path)).name == "okta"
    got = events("okta", path, tenant="acme")

    def comparable(e: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in e["metadata"].items() if k != "original"}
        return {**e, "metadata": meta}

    assert [comparable(e) for e in got] == [comparable(e) for e in log]
    excel = tmp_path / "excel.csv"  # "CSV UTF-8" from Excel: a byte order mark first
    excel.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert detect_format(str(excel)).name == "okta"
    assert events("okta", excel, tenant="acme") == got
    for workers in (1, 2):
        store = Store.init(str(tmp_path / f"{workers}.db"))
        result = ingest_files(store, [path], tenant="acme", workers=workers)
        assert (result.stored, result.quarantined) == (len(raw), 0)


def _flat_lists(value: Any, style: str, prefix: str = "") -> dict[str, Any]:
    """A LogEvent as dotted columns with its lists flattened too: ``target[0].id``
    (``style="indexed"``), ``target.0.id`` (``"dotted"``, as flatten_json and
    Logstash write them), ``target{}.id`` with one value per line (``"splunk"``), or
    the list as Python writes it (``"pandas"``: ``json_normalize`` then ``to_csv``)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat_lists(v, style, f"{prefix}{k}."))
        return out
    if isinstance(value, list):
        if style == "pandas":
            return {prefix[:-1]: repr(value)}
        if style in ("indexed", "dotted"):
            out = {}
            for i, item in enumerate(value):
                step = f"[{i}]." if style == "indexed" else f".{i}."
                out.update(_flat_lists(item, style, f"{prefix[:-1]}{step}"))
            return out
        cells: dict[str, list[str]] = {}
        for item in value:
            for k, v in _flat_lists(item, style, f"{prefix[:-1]}{{}}.").items():
                cells.setdefault(k, []).append(str(v))
        return {k: "\n".join(v) for k, v in cells.items()}
    return {prefix[:-1]: "" if value is None else value}


@pytest.mark.parametrize("style", ["indexed", "dotted", "splunk", "pandas"])
def test_csv_with_flattened_lists_keeps_every_target(
    tmp_path: Path, log: list[dict[str, Any]], style: str
) -> None:
    """Exports that flatten the ``target`` list into columns, ``target[0].id``,
    ``target[1].type``, ``target.1.type`` (flattening exporters) or ``target{}.id``
    with one value per line of the cell (Splunk's CSV export of the Okta add-on's
    events), or write it as Python does (pandas), give the same targets as the JSON
    events: none is lost (``target.0.id`` and Python's lists lost every target)."""
    import csv

    raw = [orjson.loads(line) for line in LOG.read_bytes().splitlines() if line.strip()]
    assert any(len(r.get("target") or []) > 1 for r in raw)  # the fixture has lists to flatten
    rows = [_flat_lists(r, style) for r in raw]
    columns = ["uuid", *sorted({c for r in rows for c in r} - {"uuid"})]
    assert style == "pandas" or any(("[1]." in c or "{}." in c or ".1." in c) for c in columns)
    path = tmp_path / f"{style}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    got = events("okta", path, tenant="acme")
    assert [e.get("targets") for e in got] == [e.get("targets") for e in log]
    assert [e["action"] for e in got] == [e["action"] for e in log]


def test_csv_row_with_clashing_columns_is_quarantined_alone(tmp_path: Path) -> None:
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.store import Store

    path = tmp_path / "okta.csv"
    path.write_text(
        "uuid,published,eventType,actor.id,actor.alternateId,outcome.result,actor\n"
        "u1,2024-03-01T10:00:00.000Z,user.session.start,00u1,a@b.c,SUCCESS,\n"
        "u2,2024-03-01T10:00:01.000Z,user.session.start,00u1,a@b.c,FAILURE,x\n"
        "u3,2024-03-01 10:00:02.000,user.session.start,,,SUCCESS,\n",
        encoding="utf-8",
    )
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path], tenant="acme")
    assert (result.stored, result.quarantined) == (1, 2)
    assert [(p.line, p.field) for p in result.problems] == [(3, "actor"), (4, "actor")]


@pytest.mark.parametrize(
    ("fixture", "ids", "actions"),
    [
        # Okta's AWS EventBridge log stream: each LogEvent in an EventBridge event's `detail`
        ("eventbridge.ndjson", ["eb-0001", "eb-0002"], ["user.login", "mfa.disable"]),
        # Okta's Splunk Cloud log stream, and HEC forwarders: the LogEvent in `event`
        ("splunk_hec.ndjson", ["hec-0001"], ["user.login"]),
        # an event hook delivery: the LogEvents in `data.events`
        ("event_hook.json", ["hook-0001", "hook-0002"], ["user.login", "user_account.lock"]),
    ],
)
def test_log_stream_and_hook_envelopes_are_unwrapped(
    fixture: str, ids: list[str], actions: list[str]
) -> None:
    """These shapes were quarantined as 'eventType: required field is missing'."""
    evs = events("okta", FIXTURES / "okta" / fixture, tenant="acme")
    assert [e["event_id"] for e in evs] == ids
    assert [e["action"] for e in evs] == actions
    assert evs[0]["actor"]["email"] == "ann@example.com"
    assert evs[0]["source"]["ip"] == "198.51.100.30"
    # lossless: the envelope as read (for a hook, the LogEvent, located in the delivery)
    original = evs[0]["metadata"]["original"]
    assert ("detail" in original) is (fixture == "eventbridge.ndjson")
    assert ("event" in original) is (fixture == "splunk_hec.ndjson")


def test_a_hook_item_that_is_not_an_event_is_located(tmp_path: Path) -> None:
    hook = orjson.loads((FIXTURES / "okta" / "event_hook.json").read_bytes())
    hook["data"]["events"].append("not an event")
    path = tmp_path / "hook.json"
    path.write_bytes(orjson.dumps(hook))
    fmt = get_format("okta")
    assert not fmt.ndjson(str(path))  # one delivery: not cut into lines
    recs = list(fmt.records(str(path)))
    assert [r.location for r in recs] == [f"data.events[{i}]" for i in range(3)]
    with pytest.raises(SchemaError):
        fmt.to_event(recs[2].value, tenant="acme")
