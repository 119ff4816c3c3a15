"""Privilege detectors."""

from __future__ import annotations

import pytest

from auditkit.analytics.detectors.privilege import (
    admin_without_role,
    backdoor_account,
    permission_probing,
    privilege_change_burst,
    self_privilege_grant,
    side_door_privilege,
)


def test_self_grant_success_is_critical_and_attempts_medium(event, frame) -> None:
    rows = [
        event("role.grant", "mallory", target="mallory", metadata={"role": "admin"}),
        event(
            "permission.grant",
            "mallory",
            minutes=1,
            target="mallory",
            outcome="denied",
            metadata={"permission": "billing.admin"},
        ),
        event("role.grant", "admin1", minutes=2, target="bob", metadata={"role": "editor"}),
    ]
    found = self_privilege_grant(frame(rows)).sort("first_seen")
    assert found["severity"].to_list() == ["critical", "medium"]
    assert "role 'admin'" in found["summary"][0]
    assert "permission 'billing.admin'" in found["summary"][1]


def test_self_grant_among_several_targets(event, frame) -> None:
    e = event(
        "role.grant",
        "mallory",
        metadata={"role": "admin"},
        targets=[{"id": "bob", "type": "user"}, {"id": "mallory", "type": "user"}],
    )
    assert self_privilege_grant(frame([e])).height == 1


def test_admin_actions_without_role(event, frame) -> None:
    rows = [
        event("settings.update", "ivan", roles=["member"]),
        event("policy.update", "ivan", minutes=30, roles=["member"]),
        event("settings.update", "root-admin", minutes=31, roles=["org_admin"]),
        event("settings.update", "svc", minutes=32, actor_type="service"),
        event("settings.update", "nobody-knows", minutes=33),  # no roles, no history
        event("api_key.create", "ivan", minutes=34, roles=["member"]),  # self-service
        event("settings.update", "ivan", minutes=35, roles=["member"], outcome="denied"),
    ]
    found = admin_without_role(frame(rows))
    assert found.height == 1
    assert found["actor_id"][0] == "ivan" and len(found["event_ids"][0]) == 2
    assert "settings.update, policy.update" in found["summary"][0]


def test_role_history_decides_when_events_carry_no_roles(event, frame) -> None:
    rows = [
        event("role.grant", "boss", target="kim", metadata={"role": "admin"}),
        event("settings.update", "kim", minutes=10),  # granted: fine
        event("role.revoke", "boss", minutes=20, target="kim", metadata={"role": "admin"}),
        event("settings.update", "kim", minutes=30),  # revoked: flagged
    ]
    found = admin_without_role(frame(rows))
    assert found.height == 1
    assert found["event_ids"][0].to_list() == [rows[3]["event_id"]]
    assert "admin role revoked earlier" in found["summary"][0]


def test_privilege_change_burst(event, frame) -> None:
    rows = [
        event("role.grant", "judy", minutes=i * 30, target=f"u{i}", metadata={"role": "editor"})
        for i in range(12)
    ]
    found = privilege_change_burst(frame(rows))
    assert found.height == 1 and len(found["event_ids"][0]) == 12
    assert (
        "12 privilege changes (12 grants, 0 revocations) affecting 12 principals"
        in (found["summary"][0])
    )
    # the same changes spread over twelve days are ordinary
    slow = [
        event("role.grant", "judy", minutes=i * 1440, target=f"u{i}", metadata={"role": "editor"})
        for i in range(12)
    ]
    assert privilege_change_burst(frame(slow)).height == 0


PRIVILEGED_TEAMS = [
    "Admins",
    "Domain Admins",
    "Global Administrators",
    "BillingAdmin",
    "org_admin",
    "sysadmins",
    "Owners",
    "sudoers",
    "wheel",
    "Superusers",
]
ORDINARY_TEAMS = [
    "Product Owners",
    "Badminton Club",
    "CODEOWNERS",
    "Data Owners",
    "root-cause-review",
    "Administration",
    "Marketing",
    "Document owners",
]


@pytest.mark.parametrize("team", PRIVILEGED_TEAMS + ORDINARY_TEAMS)
def test_joining_a_team_is_privileged_by_its_words_not_its_letters(event, frame, team) -> None:
    """A non-admin adding themselves to a team: critical when a word of its name makes
    it privileged; nothing for a team whose name only holds those letters (Badminton,
    CODEOWNERS) or a word that means something else there (product owners)."""
    join = event("team_member.add", "mallory", target="mallory", roles=["editor"],
                 metadata={"team": team})  # fmt: skip
    found = side_door_privilege(frame([join]))
    expected = ["critical"] if team in PRIVILEGED_TEAMS else []
    assert found["severity"].to_list() == expected, team


def test_permission_probing_counts_only_new_refusals_in_one_burst(event, frame) -> None:
    things = ["users", "roles", "keys", "buckets", "queues", "secrets"]
    calls = [f"{t}.{v}" for t in things for v in ("list", "get")]
    probe = [
        event(c, "ci", minutes=600 + i * 0.1, outcome="denied", actor_type="api_key")
        for i, c in enumerate(calls)
    ]
    found = permission_probing(frame(probe))
    assert found.row(0, named=True)["event_ids"] == [e["event_id"] for e in probe]
    assert found["severity"].to_list() == ["medium"]
    # high from high_actions, for a key seen a day before; a new one is medium (more
    # often a role set up too narrow than a stolen key)
    seen = event("images.put", "ci", minutes=-1500, actor_type="api_key")
    many = permission_probing(frame([seen, *probe]), high_actions=12)
    assert many["severity"].to_list() == ["high"]
    assert permission_probing(frame(probe), high_actions=12)["severity"].to_list() == ["medium"]
    # allowed once before: three of the twelve are not new, nine are too few
    before = [event(c, "ci", minutes=i, actor_type="api_key") for i, c in enumerate(calls[:3])]
    assert permission_probing(frame([*before, *probe])).height == 0
    # allowed only after the refusal: still new when refused
    after = [event(c, "ci", minutes=700 + i, actor_type="api_key") for i, c in enumerate(calls)]
    assert permission_probing(frame([*probe, *after])).height == 1
    # the same calls spread out beyond the gap are no burst
    spread = [
        event(c, "ci", minutes=i * 20, outcome="denied", actor_type="api_key")
        for i, c in enumerate(calls)
    ]
    assert permission_probing(frame(spread)).height == 0
    assert permission_probing(frame(spread), gap="30m").height == 1
    # refused sign-ins are the authentication detectors'
    signin = [
        event(c, "ci", minutes=600 + i * 0.1, outcome="denied", actor_type="api_key")
        for i, c in enumerate([*calls[:8], "user.login", "mfa.challenge"])
    ]
    assert permission_probing(frame(signin)).height == 0
    assert permission_probing(frame(signin), min_actions=8, min_objects=4).height == 1


def test_backdoor_account_needs_a_new_account_made_admin(event, frame) -> None:
    new = {"id": "helpdesk2", "type": "user"}
    create = event("user.create", "ops", minutes=0, target=new)
    admin = event("role.grant", "ops", minutes=3, target=new, metadata={"role": "org_admin"})
    key = event("api_key.create", "ops", minutes=5, target=new)
    found = backdoor_account(frame([create, admin, key]))
    assert found["severity"].to_list() == ["high"]
    assert found["event_ids"][0].to_list() == [
        create["event_id"],
        admin["event_id"],
        key["event_id"],
    ]
    # onboarding an administrator who has not yet signed in: medium
    assert backdoor_account(frame([create, admin]))["severity"].to_list() == ["medium"]
    # the new administrator signing in within the hour: high
    login = event("user.login", "helpdesk2", minutes=20)
    assert backdoor_account(frame([create, admin, login]))["severity"].to_list() == ["high"]
    # a key two hours after the grant does not count: medium
    late = event("api_key.create", "ops", minutes=130, target=new)
    assert backdoor_account(frame([create, admin, late]))["severity"].to_list() == ["medium"]
    # not an admin role, granted days later, an old account, or refused: nothing
    editor = event("role.grant", "ops", minutes=3, target=new, metadata={"role": "editor"})
    later = event("role.grant", "ops", minutes=3 * 24 * 60, target=new, metadata={"role": "admin"})
    old = event("role.grant", "ops", minutes=3, target="alice", metadata={"role": "admin"})
    refused = event(
        "role.grant", "ops", minutes=3, target=new, outcome="denied", metadata={"role": "admin"}
    )
    for grant in (editor, later, old, refused):
        assert backdoor_account(frame([create, grant, key])).height == 0


def test_probing_evidence_with_equal_times_is_in_input_order(event, frame) -> None:
    """Events of the same second (CloudTrail's times are to the second) keep the
    order they came in, run after run: joins and the episode sort reordered them."""
    old = event("images.put", "ci", minutes=-2000, actor_type="api_key")
    things = ["users", "roles", "keys", "buckets", "queues", "secrets", "topics", "tables"]
    probe = [
        event(f"{t}.{v}", "ci", minutes=600, outcome="denied", actor_type="api_key")
        for t in things
        for v in ("list", "get")
    ]
    rows = frame([old, *probe])
    expected = [e["event_id"] for e in probe]
    for _ in range(20):
        assert permission_probing(rows)["event_ids"][0].to_list() == expected
