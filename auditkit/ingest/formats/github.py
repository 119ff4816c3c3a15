"""GitHub audit log events: organisation and enterprise audit logs, as the REST API
(``GET /orgs/{org}/audit-log``, ``GET /enterprises/{enterprise}/audit-log``), the
web interface's JSON and CSV exports, the Git events export and audit log
streaming (Amazon S3, Azure Blob Storage, Google Cloud Storage... : NDJSON,
gzipped) write them.

Each event names its action ``category.operation`` (``repo.create``,
``org.add_member``), its actor by login (``actor``, ``actor_id``), the user it
affects (``user``), and the organisation, enterprise, repository and team it
happened in (``org``, ``business``, ``repo``, ``team``); ``@timestamp`` and
``created_at`` are milliseconds since 1970 (UTC).  The exports of the web
interface put the event's own fields under ``data`` (``data.hook_id``), and their
CSV flattens objects into dotted columns (``actor_location.country_code``).  The
tenant is the enterprise (``business``), else the organisation (``org``), else
``--tenant``.  The mapping table is ``auditkit/ingest/mappings/github.toml``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from auditkit.errors import SchemaError
from auditkit.ingest._base import RawRecord
from auditkit.ingest._mapping import (
    ZONE_ASSUMED,
    ZONE_ASSUMED_TEXT,
    category_of,
    derive_action,
    finish,
    geo,
    json_safe,
    load_table,
    looks_canonical,
    nested_row,
    resolve_tenant,
    source_time,
    table_entry,
    text,
)
from auditkit.ingest._readers import csv_delimiter, iter_csv_as, read_head, starts_like_csv
from auditkit.ingest._readers_extra import JsonRecordsFormat
from auditkit.ingest.registry import register

__all__ = ["GitHubFormat", "action_of"]

#: an ``"action"`` member whose value is a GitHub action name (``"repo.create"``,
#: ``"protected_branch.policy_override"``): lower case, dotted
_ACTION_MEMBER: Final = re.compile(rb'"action"\s*:\s*"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+"')
#: the secrets of Actions, Dependabot and Codespaces, by the organisation, a repository
#: or an environment (``org.create_actions_secret``, ``codespaces.create_an_org_secret``,
#: ``environment.remove_actions_secret``): the verb, then ``secret``
_SECRET_OPERATION: Final = re.compile(
    r"(create|add|update|remove|delete|destroy)_(?:an?_)?(?:org_|repo_|repository_|"
    r"environment_|business_)?(?:actions_|dependabot_|codespaces_)?secret"
)
_SECRET_VERBS: Final = {
    "create": "create", "add": "create", "update": "update", "remove": "delete",
    "delete": "delete", "destroy": "delete",
}  # fmt: skip
#: the GitHub fields kept in the event's metadata under their own names (the whole
#: record is kept as ``original`` too): how the actor authenticated, and the kind of
#: operation GitHub says it was
_KEPT: Final = (
    "operation_type", "programmatic_access_type", "token_id", "hashed_token", "token_scopes",
    "oauth_application_id", "org_id", "business_id", "repo_id", "user_id", "actor_id",
    "actor_is_bot", "permission", "old_permission", "transport_protocol_name",
    "external_identity_nameid", "external_identity_username",
)  # fmt: skip
#: HTTP status codes of ``api.request`` events that are not successes
_DENIED_STATUS: Final = frozenset((403,))
_FAILED_STATUS: Final = frozenset((401,))


class GitHubFormat(JsonRecordsFormat):
    """GitHub audit log events (``--format github``).

    Examples
    --------
    >>> e = GitHubFormat().to_event({
    ...     "@timestamp": 1717405200000, "_document_id": "Xb3k", "action": "repo.access",
    ...     "actor": "octocat", "actor_id": 583231, "org": "acme", "repo": "acme/payments",
    ...     "previous_visibility": "private", "visibility": "public"}, tenant=None)
    >>> e["tenant_id"], e["action"], e["actor"], e["event_id"], e["occurred_at"]
    ('acme', 'repository.update', {'id': 'octocat', 'type': 'user'}, 'Xb3k', '2024-06-03T09:00:00.000000Z')
    >>> e["changes"], e["targets"]
    ({'before': {'visibility': 'private'}, 'after': {'visibility': 'public'}}, [{'id': 'acme/payments', 'type': 'repository', 'name': 'acme/payments'}])
    """  # noqa: E501

    name = "github"
    description = (
        "GitHub organization and enterprise audit log events (REST API JSON, "
        "JSON and CSV exports, Git events, audit log streaming NDJSON)"
    )

    def sniff(self, head: bytes, path: str) -> int:
        """Confidence that ``head`` starts a file of GitHub audit log events (0..100).

        >>> GitHubFormat().sniff(b'[{"@timestamp": 1, "_document_id": "x", '
        ...                      b'"action": "org.add_member", "actor": "a"}]', "x.json")
        95
        >>> GitHubFormat().sniff(b'{"action": "repo.create", "actor": "a", "org": "o"}', "x")
        85
        >>> GitHubFormat().sniff(b"action,actor,org,created_at\\nrepo.create,a,o,1\\n", "x.csv")
        90
        >>> GitHubFormat().sniff(b'{"tenant_id": "t", "occurred_at": "x", "action": "a.b",'
        ...                      b' "actor": {"id": "u"}, "org": "o"}', "x")
        0
        """
        if looks_canonical(head):
            return 0
        text_ = head[:65536]
        if starts_like_csv(text_):
            return 90 if _csv_header(text_) else 0
        if _ACTION_MEMBER.search(text_) is None:
            return 0
        if b'"_document_id"' in text_ and b'"@timestamp"' in text_:
            return 95
        if b'"actor"' in text_ and (
            b'"org"' in text_ or b'"business"' in text_ or b'"_document_id"' in text_
        ):
            return 85
        return 0

    def records(self, path: str) -> Iterator[RawRecord]:
        """The file's events: JSON in any layout, or the rows of a CSV export, nested
        by their dotted columns (``actor_location.country_code``, ``data.hook_id``)."""
        if not starts_like_csv(read_head(path, 4096)):
            yield from super().records(path)
            return
        yield from iter_csv_as(path, nested_row)

    def ndjson(self, path: str) -> bool:
        """One event per line (a CSV export is read by :meth:`records`, in order)."""
        return not starts_like_csv(read_head(path, 4096)) and super().ndjson(path)

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """Map one GitHub audit log event to an auditkit event mapping."""
        return _to_event(record, tenant)


def _csv_header(head: bytes) -> bool:
    """Whether a CSV file's header is that of a GitHub audit log export: ``action`` and
    ``actor`` columns, with GitHub's own (``_document_id``, ``@timestamp``, ``org``,
    ``business``, ``actor_location.country_code``), and none of a canonical event's."""
    first = head.lstrip().split(b"\n", 1)[0].rstrip(b"\r")
    sep = csv_delimiter(first.decode("utf-8", "replace")).encode()
    columns = {c.strip().strip(b'"') for c in first.split(sep)}
    if b"tenant_id" in columns or b"occurred_at" in columns:
        return False
    own = (b"_document_id", b"@timestamp", b"org", b"business", b"actor_location.country_code")
    return {b"action", b"actor"} <= columns and any(c in columns for c in own)


def _get(record: Mapping[str, Any], key: str) -> Any:
    """A field of the event, at the top level or (web interface exports) under ``data``."""
    value = record.get(key)
    if value is None:
        data = record.get("data")
        if isinstance(data, Mapping):
            value = data.get(key)
    return value


@functools.lru_cache(maxsize=8192)
def action_of(name: str) -> str:
    """The auditkit action of a GitHub action name the table does not list: its
    category (through the table's ``[nouns]``) and its operation; the secrets of
    Actions, Dependabot and Codespaces are ``secret.create|update|delete``.

    Examples
    --------
    >>> for name in ("repo.rename", "org.create_actions_secret",
    ...              "repo.config.disable_anonymous_git_access", "workflows.completed_workflow_run",
    ...              "codespaces.create_an_org_secret", "environment.remove_actions_secret"):
    ...     print(action_of(name))
    repository.rename
    secret.create
    repository_config.disable_anonymous_git_access
    workflows.completed_workflow_run
    secret.create
    secret.delete
    """
    parts = [p for p in name.split(".") if p]
    if not parts:
        raise SchemaError(f"cannot derive an action from {name!r}", field="action")
    operation = parts[-1]
    secret = _SECRET_OPERATION.fullmatch(operation)
    if secret is not None and len(parts) > 1:
        return f"secret.{_SECRET_VERBS[secret[1]]}"
    nouns: Mapping[str, str] = load_table("github")["nouns"]
    noun = [nouns.get(parts[0], parts[0]), *parts[1:-1]] if len(parts) > 1 else []
    return derive_action(noun, operation, field="action")


def _time(record: Mapping[str, Any]) -> tuple[str, bool]:
    """``occurred_at`` from ``@timestamp`` (milliseconds since 1970), else ``created_at``
    (milliseconds, or ISO 8601 text in some exports), naming the field it could not read."""
    for key in ("@timestamp", "created_at"):
        value = _get(record, key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        stamp = source_time(value, key, utc_defined=True, epoch="auto")
        return stamp.text, stamp.zone_assumed
    raise SchemaError("required field is missing (and created_at too)", field="@timestamp")


def _actor(record: Mapping[str, Any]) -> dict[str, Any]:
    login = text(_get(record, "actor"))
    ident = login or text(_get(record, "actor_id"))
    if ident is None:
        raise SchemaError("required field is missing (and actor_id too)", field="actor")
    flag = _get(record, "actor_is_bot")
    bot = flag is True or str(flag).lower() == "true" or (login or "").endswith("[bot]")
    return {"id": ident, "type": "service" if bot else "user"}


def _is_admin(value: Any, admins: list[str]) -> bool:
    name = text(value)
    return name is not None and name.strip().lower() in admins


def _membership(
    name: str, action: str, record: Mapping[str, Any], table: Mapping[str, Any]
) -> tuple[str, str | None, dict[str, Any] | None]:
    """(action, role, changes) of a membership: the permission it gives is the role
    (``metadata.role``), and a member made an administrator (``org.update_member`` to
    ``admin``: an organisation owner) is a ``role.grant`` of it; no longer one, a
    ``role.revoke``.

    >>> t = load_table("github")
    >>> _membership("org.update_member", "team_member.update",
    ...             {"permission": "admin", "old_permission": "read"}, t)
    ('role.grant', 'admin', {'before': {'permission': 'read'}, 'after': {'permission': 'admin'}})
    >>> _membership("org.add_member", "team_member.add", {"permission": "read"}, t)
    ('team_member.add', 'read', None)
    """
    admins = [v.lower() for v in table["admin_permissions"]["values"]]
    new = _get(record, "permission")
    if new is None:
        new = _get(record, "new_repo_permission") or _get(record, "new_permission")
    old = _get(record, "old_permission")
    if old is None:
        old = _get(record, "old_repo_permission")
    changes = None
    if old is not None or (new is not None and action == "team_member.update"):
        changes = {"before": {"permission": old}, "after": {"permission": new}}
    role = text(new)
    if action == "team_member.update":
        if _is_admin(new, admins) and not _is_admin(old, admins):
            return "role.grant", role, changes
        if _is_admin(old, admins) and not _is_admin(new, admins):
            return "role.revoke", text(old), changes
    if action == "team_member.remove":
        return action, None, changes
    if name == "org.add_member" and _is_admin(new, admins):
        return "role.grant", role, changes  # added as an owner
    return action, role, changes


def _visibility(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """``repo.access``'s change of visibility: ``previous_visibility`` to ``visibility``
    (the setting after only, when the event does not say what it was)."""
    after = _get(record, "visibility")
    if after is None:
        return None
    before = _get(record, "previous_visibility")
    if before is None:
        return {"after": {"visibility": after}}
    return {"before": {"visibility": before}, "after": {"visibility": after}}


def _streaming(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """``audit_log_streaming.update``'s change: the stream paused or resumed
    (``audit_log_stream_enabled``), its destination moved (``old_s3_bucket`` to
    ``new_s3_bucket``...)."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    enabled = _get(record, "audit_log_stream_enabled")
    if isinstance(enabled, str) and enabled.strip().lower() in ("true", "false"):
        enabled = enabled.strip().lower() == "true"
    if isinstance(enabled, bool):
        before["audit_log_stream_enabled"] = not enabled
        after["audit_log_stream_enabled"] = enabled
    data = record.get("data")
    keys = {*record, *(data if isinstance(data, Mapping) else ())}
    for key in sorted(k for k in keys if isinstance(k, str) and k.startswith("old_")):
        setting = key[4:]
        old, new = _get(record, key), _get(record, f"new_{setting}")
        if old is not None or new is not None:
            before[setting], after[setting] = old, new
    return {"before": before, "after": after} if after else None


def _outcome(record: Mapping[str, Any], entry: Mapping[str, Any] | None) -> str:
    forced = (entry or {}).get("outcome")
    if forced:
        return str(forced)
    status = _get(record, "status_code")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, int) and not isinstance(status, bool):
        if status in _FAILED_STATUS:
            return "failure"
        if status in _DENIED_STATUS:
            return "denied"
        if 400 <= status < 500:
            return "failure"
        if status >= 500:
            return "error"
    return "success"


def _targets(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the event was about: the repository, the user it affected, the team (named
    by its slug: GitHub writes ``org/slug``); the organisation (or else the enterprise)
    when it names none of those.

    >>> _targets({"team": "owner-labs/backend", "user": "ann"})
    [{'id': 'ann', 'type': 'user', 'name': 'ann'}, {'id': 'owner-labs/backend', 'type': 'team', 'name': 'backend'}]
    """  # noqa: E501
    out: list[dict[str, Any]] = []
    repo = text(_get(record, "repo")) or text(_get(record, "repository"))
    if repo is not None:
        out.append({"id": repo, "type": "repository", "name": repo})
    user = text(_get(record, "user"))
    if user is not None:
        out.append({"id": user, "type": "user", "name": user})
    team = text(_get(record, "team"))
    if team is not None:
        # "acme/platform": the organisation's login, then the team's slug; the team's
        # name is the slug (an organisation called "admin-corp" makes no team an admins')
        out.append({"id": team, "type": "team", "name": team.rsplit("/", 1)[-1] or team})
    if not out:
        for key, kind in (("org", "organization"), ("business", "enterprise")):
            name = text(_get(record, key))
            if name is not None:
                out.append({"id": name, "type": kind, "name": name})
                break
    return out


def _to_event(record: Any, tenant: str | None) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(record).__name__}")
    data = record.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise SchemaError(f"expected an object, got {type(data).__name__}", field="data")
    name = record.get("action")
    if name is None:
        raise SchemaError("required field is missing", field="action")
    if not isinstance(name, str) or not name.strip():
        raise SchemaError(f"expected an action name, got {name!r:.60}", field="action")
    if len(name) > 200:
        raise SchemaError(f"expected at most 200 characters, got {len(name)}", field="action")
    name = name.strip()
    table = load_table("github")
    occurred_at, zone_assumed = _time(record)
    own_tenant = text(_get(record, "business")) or text(_get(record, "org"))
    tenant_id = resolve_tenant(
        own_tenant,
        tenant,
        field="org",
        source="GitHub",
        hint=" (the event names neither its enterprise, business, nor its organization, org)",
    )
    actor = _actor(record)
    entry = table_entry(table["actions"], name)
    action = entry["action"] if entry is not None else action_of(name)
    role: str | None = (entry or {}).get("role")
    changes: dict[str, Any] | None = None
    if entry is not None and "setting" in entry:
        setting = entry["setting"]
        changes = {"before": {setting: entry.get("before")}, "after": {setting: entry.get("after")}}
    if action.startswith("team_member."):
        mapped = action
        action, role, changes = _membership(name, action, record, table)
        if action != mapped:  # a role granted or revoked: the core action's category
            entry = {k: v for k, v in (entry or {}).items() if k != "category"}
    elif name == "repo.access":
        changes = _visibility(record)
    elif name == "audit_log_streaming.update":
        changes = _streaming(record)
    noun = action.split(".", 1)[0].split("_", 1)[0]
    category = category_of(action, entry, table["noun_categories"].get(noun, "user"))
    location = _get(record, "actor_location")
    place = location if isinstance(location, Mapping) else {}
    inner = place.get("location")
    point: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
    meta: dict[str, Any] = {
        "source_format": "github",
        "source_action": name,
        **{key: _get(record, key) for key in _KEPT},
        "original": json_safe(record),
    }
    if role is not None:
        meta["role"] = role
    if zone_assumed:
        meta[ZONE_ASSUMED] = ZONE_ASSUMED_TEXT
    return finish(
        tenant_id=tenant_id,
        occurred_at=occurred_at,
        action=action,
        category=category,
        outcome=_outcome(record, entry),
        actor=actor,
        targets=_targets(record),
        source={
            "ip": _get(record, "actor_ip"),
            "user_agent": _get(record, "user_agent"),
            "geo": geo(
                country=place.get("country_code"),
                city=place.get("city"),
                lat=point.get("lat"),
                lon=point.get("lon"),
            ),
        },
        observer={"service": "github"},
        request_id=_get(record, "request_id"),
        changes=changes,
        event_id=text(record.get("_document_id")),
        metadata=meta,
    )


register(GitHubFormat())
