"""GitHub audit log events: the REST API's JSON, the web interface's JSON and CSV
exports, the Git events export (gzipped NDJSON) and audit log streaming (NDJSON)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.errors import SchemaError
from auditkit.export import export_store
from auditkit.ingest._readers import read_head
from auditkit.ingest.formats.github import action_of
from auditkit.ingest.pipeline import ingest_files
from auditkit.ingest.registry import available_formats, detect_format, get_format
from auditkit.schema import normalize_event
from auditkit.store import Store

from . import FIXTURES, by_source_action, raw_records

GITHUB = FIXTURES / "github"
FILES = sorted(p for p in GITHUB.iterdir() if p.is_file())
FMT = get_format("github")
#: the other formats' fixtures: none of them is GitHub's
OTHERS = sorted(
    p
    for d in FIXTURES.iterdir()
    if d.is_dir() and d.name != "github"
    for p in d.rglob("*")
    if p.is_file()
)


def _events(path: Path, tenant: str | None = None) -> list[dict[str, Any]]:
    return [normalize_event(FMT.to_event(r, tenant=tenant)) for r in raw_records(FMT, path)]


@pytest.fixture(scope="module")
def api() -> dict[str, dict[str, Any]]:
    return by_source_action(_events(GITHUB / "api_org_audit_log.json"))


@pytest.fixture(scope="module")
def stream() -> dict[str, dict[str, Any]]:
    return by_source_action(_events(GITHUB / "streamed_enterprise.ndjson"))


# -- detection ---------------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_each_fixture_is_told_as_github_gzipped_or_not(path: Path, tmp_path: Path) -> None:
    candidates = [path]
    if path.suffix != ".gz":  # (the Git events export is gzipped already)
        candidates.append(tmp_path / (path.name + ".gz"))
        with open(path, "rb") as src, gzip.open(candidates[1], "wb") as dst:
            shutil.copyfileobj(src, dst)
    for candidate in candidates:
        head = read_head(str(candidate))
        scores = {n: f.sniff(head, str(candidate)) for n, f in available_formats().items()}
        assert scores["github"] > max(s for n, s in scores.items() if n != "github"), scores
        for other in ("auditkit", "csv", "gitlab", "okta", "ecs", "cloudtrail", "gcp", "ocsf"):
            assert scores[other] == 0, scores
        assert detect_format(str(candidate)).name == "github"


@pytest.mark.parametrize("path", OTHERS, ids=[f"{p.parent.name}/{p.name}" for p in OTHERS])
def test_no_other_formats_file_is_taken_for_github(path: Path) -> None:
    assert FMT.sniff(read_head(str(path)), str(path)) == 0


@pytest.mark.parametrize("export", ["ndjson", "json", "csv", "ocsf", "ecs"])
def test_auditkits_exports_of_github_events_read_back_as_themselves(
    export: str, tmp_path: Path
) -> None:
    """The exports keep the GitHub record in ``metadata.original``: its field names must
    not make the export look like a GitHub file."""
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [GITHUB])
    assert result.quarantined == 0 and result.stored > 30, result.summary()
    out = tmp_path / f"e.{export}"
    export_store(store, out, format=export)
    assert detect_format(str(out)).name != "github"
    again = Store.init(str(tmp_path / "b.db"))
    back = ingest_files(again, [out])
    assert back.quarantined == 0, back.problems[:2]
    assert back.stored == result.stored


def test_the_unknown_format_message_no_longer_meets_github_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("action,actor,user,actor_location.country_code,org,repo,created_at\n")
    assert detect_format(str(path)).name == "github"


# -- mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "action", "category"),
    [
        # membership and roles
        ("org.add_member", "team_member.add", "management"),
        ("org.update_member", "role.grant", "admin"),  # to admin: an owner made
        ("org.invite_member", "user.invite", "management"),
        ("org.remove_member", "team_member.remove", "management"),
        ("team.add_member", "team_member.add", "management"),
        # repositories: visibility, lifecycle, downloads
        ("repo.create", "repository.create", "user"),
        ("repo.access", "repository.update", "user"),
        ("repo.destroy", "repository.delete", "user"),
        ("repo.download_zip", "repository.download", "user"),
        # protected branches
        ("protected_branch.destroy", "protected_branch.remove", "admin"),
        ("protected_branch.policy_override", "protected_branch.bypass", "admin"),
        # tokens, apps, webhooks
        ("personal_access_token.request_created", "api_key_request.create", "admin"),
        ("oauth_access.create", "api_key.create", "admin"),
        ("org.oauth_app_access_approved", "integration.add", "admin"),
        ("hook.create", "integration.add", "admin"),
        ("integration_installation.create", "integration.add", "admin"),
        ("org_credential_authorization.grant", "credential_authorization.grant", "admin"),
        # organisation-wide controls, code security, secrets
        ("org.disable_two_factor_requirement", "policy.update", "admin"),
        ("secret_scanning.disable", "settings.update", "admin"),
        ("dependabot_alerts.disable", "settings.update", "admin"),
        ("org.create_actions_secret", "secret.create", "admin"),
        # not in the table: GitHub's own name, imported
        ("workflows.completed_workflow_run", "workflows.completed_workflow_run", "user"),
    ],
)
def test_api_actions(api: dict[str, dict[str, Any]], name: str, action: str, category: str) -> None:
    event = api[name]
    assert (event["action"], event["category"], event["outcome"]) == (action, category, "success")
    assert event["tenant_id"] == "acme"
    assert event["metadata"]["source_format"] == "github"
    assert event["observer"] == {"service": "github"}


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("audit_log_streaming.update", "audit_destination.update"),
        ("audit_log_streaming.destroy", "audit_destination.remove"),
        ("business.disable_two_factor_requirement", "policy.update"),
        ("ip_allow_list.disable", "policy.update"),
        ("org.disable_saml", "sso.update"),
        ("two_factor_authentication.disabled", "mfa.disable"),
        ("public_key.create", "api_key.create"),
        ("business.set_actions_retention_limit", "settings.update"),
        ("api.request", "api.request"),
        ("business.add_admin", "role.grant"),
        ("repository_secret_scanning_push_protection.disable", "settings.update"),
        ("environment.create_actions_secret", "secret.create"),
    ],
)
def test_streamed_actions(stream: dict[str, dict[str, Any]], name: str, action: str) -> None:
    assert stream[name]["action"] == action
    assert stream[name]["tenant_id"] == "acme-ent"  # the enterprise, before the org


def test_the_record_is_kept_and_its_fields_mapped(api: dict[str, dict[str, Any]]) -> None:
    added = api["org.add_member"]
    assert added["event_id"] == "xJJFlFOhQ6b-5vaAFy9Rjw"
    assert added["occurred_at"] == "2024-06-03T09:00:00.000000Z"
    assert added["actor"] == {"id": "octocat", "type": "user"}
    assert added["targets"] == [{"id": "hubot", "type": "user", "name": "hubot"}]
    assert added["source"] == {
        "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)",
        "geo": {"country": "US"},
    }
    meta = added["metadata"]
    assert meta["role"] == "read" and meta["operation_type"] == "create"
    assert meta["actor_id"] == 583231
    original = json.loads((GITHUB / "api_org_audit_log.json").read_text())[0]
    assert meta["original"] == original
    # a bot is a service; the organisation is the target when nothing else is
    assert api["workflows.completed_workflow_run"]["actor"]["type"] == "service"
    assert api["org.disable_two_factor_requirement"]["targets"] == [
        {"id": "acme", "type": "organization", "name": "acme"}
    ]
    assert [t["type"] for t in api["team.add_member"]["targets"]] == ["user", "team"]


def test_settings_changed_are_the_events_changes(
    api: dict[str, dict[str, Any]], stream: dict[str, dict[str, Any]]
) -> None:
    assert api["repo.access"]["changes"] == {
        "before": {"visibility": "private"},
        "after": {"visibility": "public"},
    }
    assert api["org.disable_two_factor_requirement"]["changes"] == {
        "before": {"two_factor_requirement_enabled": True},
        "after": {"two_factor_requirement_enabled": False},
    }
    promoted = api["org.update_member"]
    assert promoted["changes"] == {
        "before": {"permission": "read"},
        "after": {"permission": "admin"},
    }
    assert promoted["metadata"]["role"] == "admin"
    paused = stream["audit_log_streaming.update"]
    assert paused["changes"] == {
        "before": {"audit_log_stream_enabled": True},
        "after": {"audit_log_stream_enabled": False},
    }
    assert paused["source"] == {
        "ip": "203.0.113.50",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "geo": {"country": "DE", "city": "Berlin", "lat": 52.52, "lon": 13.405},
    }
    assert paused["request_id"] == "A1B2:3C4D:5E6F:7A8B:9C0D"
    assert stream["business.add_admin"]["metadata"]["role"] == "enterprise_owner"
    assert stream["api.request"]["outcome"] == "denied"  # status 403
    key = stream["public_key.create"]["metadata"]
    assert key["programmatic_access_type"] == "OAuth access token"
    assert key["hashed_token"].endswith("=")


def test_git_events_export() -> None:
    clone, fetch, push = _events(GITHUB / "export-acme-1717410200.json.gz")
    assert [clone["action"], fetch["action"], push["action"]] == [
        "repository.clone",
        "repository.fetch",
        "repository.push",
    ]
    assert clone["targets"][0] == {
        "id": "acme/payments",
        "type": "repository",
        "name": "acme/payments",
    }
    assert clone["metadata"]["transport_protocol_name"] == "http"
    assert clone["source"]["ip"] == "198.51.100.7"


def test_the_csv_export_nests_its_dotted_columns() -> None:
    added, access, promoted, hook = _events(GITHUB / "audit_log_export.csv")
    assert (added["event_id"], added["action"]) == ("csv-1", "team_member.add")
    assert added["source"] == {"geo": {"country": "US"}}
    assert added["occurred_at"] == "2024-06-03T09:00:00.000000Z"  # milliseconds as text
    assert access["changes"] == {
        "before": {"visibility": "private"},
        "after": {"visibility": "public"},
    }
    assert promoted["action"] == "role.grant" and promoted["metadata"]["role"] == "admin"
    assert hook["action"] == "integration.remove"
    assert hook["metadata"]["original"]["data"] == {"hook_id": "77"}


def test_the_web_json_export_keeps_fields_under_data() -> None:
    access, hook = _events(GITHUB / "web_export.json")
    assert access["occurred_at"] == "2024-06-03T09:03:00.000000Z"  # ISO created_at
    assert access["changes"]["after"] == {"visibility": "public"}
    assert hook["action"] == "integration.update"
    # no _document_id: an id from the content, the same each time
    assert access["event_id"] == _events(GITHUB / "web_export.json")[0]["event_id"]
    assert access["event_id"] != hook["event_id"]


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("repo.rename", "repository.rename"),
        (
            "repo.config.disable_anonymous_git_access",
            "repository_config.disable_anonymous_git_access",
        ),
        (
            "org.update_default_repository_permission",
            "organization.update_default_repository_permission",
        ),
        (
            "business.update_member_repository_creation_permission",
            "enterprise.update_member_repository_creation_permission",
        ),
        ("codespaces.create_an_org_secret", "secret.create"),
        ("repo.remove_actions_secret", "secret.delete"),
        ("org.update_dependabot_secret", "secret.update"),
        ("copilot.cfb_seat_assignment_created", "copilot.cfb_seat_assignment_created"),
        ("login", "event.login"),
    ],
)
def test_names_not_in_the_table(name: str, action: str) -> None:
    assert action_of(name) == action
    event = FMT.to_event(
        {"action": name, "actor": "a", "org": "o", "@timestamp": 1717405200000}, tenant=None
    )
    assert normalize_event(event)["metadata"]["source_action"] == name


def test_actors_and_tenants() -> None:
    base = {"action": "repo.create", "@timestamp": 1717405200000}
    with pytest.raises(SchemaError) as info:
        FMT.to_event({**base, "actor": "a"}, tenant=None)
    assert info.value.field == "org" and "--tenant" in str(info.value)
    # a user's security log names no organisation: --tenant gives it
    assert FMT.to_event({**base, "actor": "a"}, tenant="me")["tenant_id"] == "me"
    # the record's own organisation wins over --tenant
    assert FMT.to_event({**base, "actor": "a", "org": "o"}, tenant="me")["tenant_id"] == "o"
    assert FMT.to_event({**base, "actor_id": 7, "org": "o"}, tenant=None)["actor"]["id"] == "7"
    with pytest.raises(SchemaError) as info:
        FMT.to_event({**base, "org": "o"}, tenant=None)
    assert info.value.field == "actor"
    bot = FMT.to_event({**base, "actor": "renovate[bot]", "org": "o"}, tenant=None)
    assert bot["actor"]["type"] == "service"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"@timestamp": "yesterday"}, "@timestamp"),
        ({"@timestamp": None, "created_at": None}, "@timestamp"),
        ({"@timestamp": 12}, "@timestamp"),
        ({"@timestamp": None, "created_at": "2024-13-45"}, "created_at"),
        ({"action": None}, "action"),
        ({"action": 5}, "action"),
        ({"data": ["x"]}, "data"),
        ({"actor": None}, "actor"),
    ],
)
def test_bad_fields_are_named(change: dict[str, Any], field: str) -> None:
    rec = {"@timestamp": 1717405200000, "action": "repo.create", "actor": "a", "org": "o"}
    with pytest.raises(SchemaError) as info:
        normalize_event(FMT.to_event({**rec, **change}, tenant=None))
    assert info.value.field == field


def test_bad_records_are_quarantined_naming_file_line_and_field(tmp_path: Path) -> None:
    lines = [
        {
            "@timestamp": 1717405200000,
            "_document_id": "a",
            "action": "repo.create",
            "actor": "octocat",
            "org": "acme",
        },
        {
            "@timestamp": "not a time",
            "_document_id": "b",
            "action": "repo.create",
            "actor": "octocat",
            "org": "acme",
        },
        {"@timestamp": 1717405200000, "_document_id": "c", "action": "repo.create", "org": "acme"},
        {
            "@timestamp": 1717405200000,
            "_document_id": "d",
            "action": "something.new_and_unknown",
            "actor": "octocat",
            "org": "acme",
        },
    ]
    path = tmp_path / "stream.json.log"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{not json\n")
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path])
    assert result.files == {str(path): "github"}
    assert (result.read, result.stored, result.quarantined) == (5, 2, 3)
    assert result.balanced
    where = [(p.file, p.line, p.field) for p in result.problems]
    assert where[:2] == [(str(path), 2, "@timestamp"), (str(path), 3, "actor")]
    assert where[2][:2] == (str(path), 5)
    assert "not a time" in result.problems[0].reason or "timestamp" in result.problems[0].reason


def test_the_whole_folder_ingests_and_reingests_as_duplicates(tmp_path: Path) -> None:
    store = Store.init(str(tmp_path / "a.db"))
    first = ingest_files(store, [GITHUB])
    assert set(first.files.values()) == {"github"}
    assert first.quarantined == 0 and first.balanced
    again = ingest_files(store, [GITHUB])
    assert (again.stored, again.duplicates) == (0, first.stored)


# -- any record of GitHub's shape maps or is refused naming a field -----------------

_values = st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.floats()
_record = st.fixed_dictionaries(
    {},
    optional={
        "@timestamp": _values | st.integers(0, 2**63),
        "created_at": _values | st.sampled_from(["2024-06-03T09:00:00Z", "1717405200000"]),
        "_document_id": _values,
        "action": _values | st.sampled_from(["repo.access", "org.update_member", "a.b.c", "."]),
        "actor": _values | st.sampled_from(["x[bot]", "octocat"]),
        "actor_id": _values,
        "actor_ip": _values | st.just("198.51.100.1"),
        "actor_location": _values | st.dictionaries(st.text(max_size=8), _values, max_size=3),
        "org": _values,
        "business": _values,
        "repo": _values,
        "user": _values,
        "team": _values,
        "data": _values | st.dictionaries(st.text(max_size=8), _values, max_size=3),
        "visibility": _values,
        "previous_visibility": _values,
        "permission": _values,
        "old_permission": _values,
        "audit_log_stream_enabled": _values,
        "status_code": _values,
        "actor_is_bot": _values,
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=_record, tenant=st.none() | st.just("acme"))
def test_any_github_shaped_record_maps_or_names_a_field(
    record: dict[str, Any], tenant: str | None
) -> None:
    try:
        event = normalize_event(FMT.to_event(record, tenant=tenant))
    except SchemaError as exc:
        assert str(exc)
        return
    assert event["metadata"]["source_format"] == "github"
    orjson.dumps(event)


def test_the_tables_hold_canonical_values() -> None:
    from auditkit.ingest._mapping import load_table
    from auditkit.schema import CATEGORIES

    table = load_table("github")
    assert set(table["noun_categories"].values()) <= set(CATEGORIES)
    assert all(isinstance(v, str) and v for v in table["nouns"].values())
    for name, entry in table["actions"].items():
        if "setting" in entry:
            assert isinstance(entry["before"], bool) and entry["after"] is not entry["before"], name
