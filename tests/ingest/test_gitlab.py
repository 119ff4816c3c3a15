"""GitLab audit events mapping: API responses, streamed events, derived names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditkit.errors import SchemaError
from auditkit.ingest.formats.gitlab import event_name_action
from auditkit.ingest.registry import get_format
from auditkit.schema import normalize_event

from . import FIXTURES, by_source_action, events


@pytest.fixture(scope="module")
def api() -> list[dict[str, Any]]:
    return events("gitlab", FIXTURES / "gitlab" / "api_audit_events.json", tenant="acme")


@pytest.fixture(scope="module")
def stream() -> dict[str, dict[str, Any]]:
    evs = events("gitlab", FIXTURES / "gitlab" / "streamed_events.ndjson", tenant="acme")
    return by_source_action(evs)


def test_api_events_without_names_are_read_from_details(api: list[dict[str, Any]]) -> None:
    change, add, login, failed, remove, named = api
    assert change["action"] == "project_prevent_merge_request_approval_from_authors.update"
    assert change["changes"] == {"before": "", "after": "true"}
    assert change["actor"] == {
        "id": "1",
        "type": "user",
        "name": "Administrator",
        "email": "admin@example.com",
    }
    assert (add["action"], remove["action"]) == ("team_member.add", "team_member.remove")
    assert add["targets"][0] == {"id": "51", "type": "User", "name": "ann"}
    assert (login["action"], login["outcome"]) == ("user.login", "success")
    assert (failed["action"], failed["outcome"]) == ("user.login", "failure")
    # the failed sign-in has no author: the account signed in to is the actor
    assert failed["actor"]["id"] == login["actor"]["id"] == "51"
    assert "source" not in remove
    assert named["action"] == "settings.update"
    assert named["description"] == "Changed visibility_level from Private to Public"
    assert change["event_id"] == "gitlab:101"


def test_streamed_events(stream: dict[str, dict[str, Any]]) -> None:
    git = stream["repository_git_operation"]
    assert git["action"] == "repository.git_operation" and git["source"]["ip"] == "127.0.0.1"
    assert stream["user_disable_two_factor"]["action"] == "mfa.disable"
    assert stream["personal_access_token_created"]["action"] == "api_key.create"
    assert stream["member_created"]["action"] == "team_member.add"
    failed = stream["login_failed_with_standard_authentication"]
    assert (failed["action"], failed["outcome"]) == ("user.login", "failure")
    assert failed["actor"]["id"] == "51"
    assert stream["project_destroyed"]["action"] == "project.delete"
    assert "source" not in stream["project_destroyed"]
    assert stream["destroy_event_streaming_destination"]["action"] == "audit_destination.remove"
    assert stream["user_enable_admin_mode"]["category"] == "admin"
    assert stream["deploy_token_created"]["action"] == "api_key.create"


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("ci_variable_created", "ci_variable.create"),
        ("group_share_with_group_link_removed", "group_share_with_group_link.remove"),
        ("ban_user", "user.ban"),
        ("unblock_user", "user.unblock"),
        ("security_policy_applied", "security_policy.apply"),
        ("project_unarchived", "project.unarchive"),
        ("custom_admin_role_assigned_to_user", "custom_admin_role_user.assign"),
        ("merge_request_approval_operation", "merge_request_approval.operation"),
        ("delete_merge_request", "merge_request.delete"),
        ("merge_request_merged_by_project_bot", "merge_request_project_bot.merge"),
    ],
)
def test_derived_names(name: str, action: str) -> None:
    assert event_name_action(name) == action


def test_tenant_is_required_and_author_or_name_too() -> None:
    fmt = get_format("gitlab")
    rec = {"id": 1, "author_id": 3, "entity_type": "User", "created_at": "2024-06-01T00:00:00Z"}
    with pytest.raises(SchemaError) as info:
        fmt.to_event(rec, tenant=None)
    assert info.value.field == "tenant_id"
    with pytest.raises(SchemaError) as info:
        fmt.to_event({**rec, "author_id": None}, tenant="acme")
    assert info.value.field == "author_id"
    with pytest.raises(SchemaError) as info:
        fmt.to_event({**rec, "created_at": "yesterday"}, tenant="acme")
    assert info.value.field == "created_at"
    with pytest.raises(SchemaError) as info:
        fmt.to_event({**rec, "details": ["x"]}, tenant="acme")
    assert info.value.field == "details"


def test_the_csv_export_reads_its_action_text_back() -> None:
    """The Admin Area's (and a group's) "Export as CSV": its rows were read as canonical
    CSV, each quarantined for 'unknown field(s)'."""
    from auditkit.ingest.registry import detect_format

    path = FIXTURES / "gitlab" / "audit_events_export.csv"
    assert detect_format(str(path)).name == "gitlab"
    evs = events("gitlab", path, tenant="acme")
    assert [(e["event_id"], e["action"], e["outcome"]) for e in evs] == [
        ("gitlab:5001", "api_key.create", "success"),  # (its message: [messages])
        ("gitlab:5002", "user.login", "failure"),
        ("gitlab:5003", "user.login", "success"),
        ("gitlab:5004", "team_member.add", "success"),
        ("gitlab:5005", "team_member.update", "success"),
        ("gitlab:5006", "team_member.remove", "success"),
    ]
    # a failed sign-in (author -1) is the account's, as from the API
    assert evs[1]["actor"]["id"] == evs[2]["actor"]["id"] == "51"
    assert evs[0]["actor"]["email"] == "admin@example.com"
    assert evs[0]["description"].startswith("Created project access token")
    assert evs[4]["changes"] == {"before": "Developer", "after": "Owner"}
    assert evs[3]["description"] == "Added user access as Developer"
    assert evs[1]["source"]["ip"] == "203.0.113.9"
    assert evs[0]["occurred_at"] == "2024-06-03T07:12:13.000000Z"


@pytest.mark.parametrize(
    ("message", "entity", "action", "source_action"),
    [
        ("Started Impersonation", "User", "user.impersonate", "user_impersonation"),
        ("Disabled two-factor authentication", "User", "mfa.disable", "user_disable_two_factor"),
        ("Changed password", "User", "password.change", "user_password_updated"),
        (
            "Revoked personal access token with id 55",
            "User",
            "api_key.revoke",
            "personal_access_token_revoked",
        ),
        (
            "Created project access token with token_id: 12 with scopes: [:api, :read_api] "
            "and Maintainer access level.",
            "Project",
            "api_key.create",
            "project_access_token_created",
        ),
        (
            "Created group token with token_id: 3 with scopes: [:api].",
            "Group",
            "api_key.create",
            "group_access_token_created",
        ),
        ("Added SSH key", "User", "api_key.create", "add_ssh_key"),
        ("Approved the merge request", "Project", "project.change", "Approved the merge request"),
    ],
)
@pytest.mark.parametrize("shape", ["csv", "api"])
def test_events_told_only_in_words_are_named_by_their_message(
    message: str, entity: str, action: str, source_action: str, shape: str
) -> None:
    """The CSV export's Action column, and an older API response's custom_message, are
    all that tells tokens created or revoked, impersonation, 2FA disabled: each was
    `<entity>.change`, which no detector looks at."""
    from auditkit.ingest.formats.gitlab import csv_record

    if shape == "csv":
        record = csv_record(
            {"ID": "9", "Author ID": "1", "Author Name": "Administrator", "Entity ID": "6",
             "Entity Type": entity, "Action": message, "Created At (UTC)": "2024-06-03 07:12:13"}
        )  # fmt: skip
    else:
        record = {
            "id": 9, "author_id": 1, "entity_id": 6, "entity_type": entity,
            "details": {"custom_message": message, "author_name": "Administrator"},
            "created_at": "2024-06-03T07:12:13.000Z",
        }  # fmt: skip
    event = normalize_event(get_format("gitlab").to_event(record, tenant="acme"))
    assert (event["action"], event["metadata"]["source_action"]) == (action, source_action)
    assert event["description"] == message


def test_a_csv_export_row_that_cannot_be_read_is_quarantined_alone(tmp_path: Path) -> None:
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.store import Store

    lines = (FIXTURES / "gitlab" / "audit_events_export.csv").read_text().splitlines()
    lines[2] = lines[2].replace("2024-06-03T07:15:00Z", "03/06/2024 07:15")
    path = tmp_path / "audit.csv"
    path.write_text("\n".join([*lines, "5007,1,Administrator"]) + "\n")
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path], tenant="acme")
    assert (result.read, result.stored, result.quarantined) == (7, 5, 2)
    assert [(p.line, p.field) for p in result.problems] == [(3, "created_at"), (8, None)]
