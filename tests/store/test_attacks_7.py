"""Round 7: the side tables that govern who may read the trail and how long it is
kept, edited by an attacker who can write the database (and the cold tier) but holds
no signing key -- helped, where it says so, by anyone allowed to append events (a
producer, a log source that is ingested).

Access rows are signed (``tests/access/test_forged_rows.py``); here they are used
through the API as well. Retention policies are judged by the signed trail's
``audit_retention.update`` records: such a record appended by a producer (any source
may send that action: it is in the core vocabulary) must not vouch for a policy.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit import ProblemKind, Store
from auditkit.cli import main
from tests.conftest import make_events
from tests.store._attacker import sql

START = datetime.combine(datetime.now(UTC).date(), time(8), UTC) - timedelta(days=400)
NOW = "2026-12-01T00:00:00.000000Z"


@pytest.fixture
def store(store_location: str, tmp_path: Path) -> Store:
    """acme: 100 events over 100 days, 400 days ago, kept ten years (signed)."""
    s = Store.init(store_location, cold=tmp_path / "cold")
    s.append(make_events(100, start=START.isoformat().replace("+00:00", "Z"), step_s=86400))
    s.retention.set("acme", keep_days=3650)
    return s


def kinds(store: Store) -> set[ProblemKind]:
    return {p.kind for p in store.verify().problems}


def forged_policy_record(store: Store, **new: Any) -> None:
    """A producer's event that looks like auditkit's own record of a policy change:
    same action, observer, scope and ``metadata.new``; appended through a principal
    holding only ``producer`` (the store signs what producers send)."""
    store.add_principal("feed", kind="service")
    store.grant("feed", "acme", "producer")
    policy = {"hot_days": None, "keep_days": 3650, "legal_hold": False, "hold_reason": None}
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store.bind(principal="feed").append(
        [
            {
                "event_id": "auditkit-forged",
                "tenant_id": "acme",
                "occurred_at": stamp,
                "action": "audit_retention.update",
                "category": "admin",
                "outcome": "success",
                "actor": {"id": "local:root", "type": "user", "name": "local owner"},
                "observer": {"service": "auditkit"},
                "targets": [{"id": "acme", "type": "tenant"}],
                "metadata": {"scope": "tenant", "old": policy, "new": {**policy, **new}},
            }
        ]
    )


def test_a_producers_policy_record_does_not_vouch_for_an_edited_policy_table(
    store: Store,
) -> None:
    """keep_days 3650 -> 1 in the table, and a record of that change slipped into the
    trail by a producer: apply must still refuse, and verify name the table."""
    forged_policy_record(store, keep_days=1)
    sql(store, "UPDATE retention_policies SET keep_days = 1 WHERE tenant_id = 'acme'")
    before = store.count("acme")
    assert ProblemKind.POLICY_ALTERED in kinds(store)
    result = store.retention.apply()
    assert result.purged == 0 and store.count("acme") == before
    assert main(["retention", store.location, "apply"]) == 1
    assert main(["verify", store.location, "--no-remember"]) == 1
    assert store.count("acme") == before


def test_a_producers_policy_record_alone_neither_blocks_retention_nor_accuses(
    store: Store,
) -> None:
    """The same record without the table edit: the policy set by the owner holds."""
    forged_policy_record(store, keep_days=1, legal_hold=True, hold_reason="x")
    assert ProblemKind.POLICY_ALTERED not in kinds(store)
    result = store.retention.apply()
    assert not any(t.blocked for t in result.tenants)


def test_a_purge_made_under_a_producers_policy_record_is_early(store: Store) -> None:
    """verify judges a purge by the policy in force when it was signed: a producer's
    record saying "kept 1 day" must not make a purge of ten-year events look due."""
    forged_policy_record(store, keep_days=1)
    # the purge apply would have signed under the edited table (kept 1 day)
    newest = (START + timedelta(days=49)).isoformat().replace("+00:00", ".000000Z")
    policy = {"hot_days": None, "keep_days": 1, "legal_hold": False, "hold_reason": None}
    detail = orjson.dumps({"newest": newest, "policy": {**policy, "tenant": "acme"}})
    store.remove_range("acme", 50, detail=detail.decode())
    early = [p for p in store.verify().problems if p.kind is ProblemKind.EARLY_PURGE]
    assert early and "seq 0..49" in early[0].detail


def test_a_policy_recorded_before_the_seal_is_a_note_until_set_again(store: Store) -> None:
    """A store upgraded from a version that wrote no seal: its policy is not accused,
    but apply waits until the owner sets it again (the record could be anyone's)."""
    from auditkit.store._retention import policy_event, write_policy
    from auditkit.store.retention import RetentionPolicy

    store.append(make_events(3, "globex"))
    old = RetentionPolicy("globex")
    new = RetentionPolicy("globex", keep_days=3000, updated_at=NOW, updated_by="local owner")
    event = policy_event("globex", {"id": "local:root", "type": "user"}, old, new)
    assert "seal" not in event["metadata"]  # as an earlier version wrote it
    store.append([event])
    write_policy(store, new)
    report = store.verify()
    assert ProblemKind.POLICY_ALTERED not in {p.kind for p in report.problems}, report.summary()
    assert any("without auditkit's seal" in n for n in report.notes), report.notes
    (globex,) = [t for t in store.retention.apply().tenants if t.tenant_id == "globex"]
    assert globex.blocked and "set it again" in globex.blocked
    store.retention.set("globex", keep_days=3000)  # the same settings: recorded, sealed
    assert not [t for t in store.retention.apply().tenants if t.blocked]
    assert not any("without auditkit's seal" in n for n in store.verify().notes)


# -- access rows, used through the API and Store.open(token=...) ----------------------------
def test_access_rows_forged_in_the_database_buy_nothing_through_the_api(store: Store) -> None:
    """A grant widened to every tenant, an operator grant, a role raised, a token whose
    secret the attacker chose, a token's expiry and scopes widened: none is honoured by
    the API server (which holds the key), and verify exits 1 naming each row."""
    import warnings

    from auditkit.api import create_app
    from auditkit.errors import AccessDenied

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    store.append(make_events(3, "globex"))
    store.add_principal("ann")
    store.grant("ann", "acme", "analyst")
    token = store.create_token("ann", scopes=["read"], tenants=["acme"], expires="1d")
    secret = "s" * 43
    sql(
        store,
        "INSERT INTO access_grants (principal_id, tenant_id, role, granted_at, granted_by) "
        f"VALUES ('ann', 'globex', 'owner', '{NOW}', 'owner')",
        f"INSERT INTO access_grants (principal_id, tenant_id, role, granted_at, granted_by) "
        f"VALUES ('ann', '*', 'operator', '{NOW}', 'owner')",
        "INSERT INTO access_tokens (token_id, principal_id, secret_hash, created_at) "
        f"VALUES ('f0f0f0f0f0f0', 'ann', '{hashlib.sha256(secret.encode()).hexdigest()}', "
        f"'{NOW}')",
        "UPDATE access_tokens SET expires_at = NULL, scopes = NULL, tenants = NULL "
        f"WHERE token_id = '{token.token_id}'",
    )
    forged = f"akt_f0f0f0f0f0f0_{secret}"
    with pytest.raises(AccessDenied):
        Store.open(store.location, token=forged)
    with pytest.raises(AccessDenied):
        Store.open(store.location, token=token.text)  # its row was edited: not honoured
    with pytest.raises(AccessDenied):
        store.bind(principal="ann").load("globex")
    with TestClient(create_app(store)) as client:
        for text in (forged, token.text):
            r = client.get("/v1/tenants/globex/events", headers={"Authorization": f"Bearer {text}"})
            assert r.status_code == 401, r.text
    sql(store, "UPDATE access_grants SET role = 'owner' WHERE principal_id = 'ann' AND "
        "tenant_id = 'acme'")  # fmt: skip
    with pytest.raises(AccessDenied):  # a role raised: the row is not honoured at all
        store.bind(principal="ann").load("acme")
    report = store.verify()
    altered = [p.detail for p in report.problems if p.kind is ProblemKind.ACCESS_ALTERED]
    assert len(altered) == 5, altered
    assert main(["verify", store.location, "--no-remember"]) == 1


# -- retention records and the quarantine -------------------------------------------------
def test_the_record_of_a_seal_deleted_is_named(store: Store) -> None:
    """The row that says a range moved to cold, deleted: the hot rows are missing with no
    signed statement for them, and the segment is no statement's."""
    store.retention.set("acme", hot_days=0)
    store.retention.apply()
    assert main(["verify", store.location, "--no-remember"]) == 0
    sql(store, "DELETE FROM purges WHERE tenant_id = 'acme'")
    found = kinds(store)  # every event was sealed: the trail ends short of its tree
    assert found & {ProblemKind.DELETED, ProblemKind.TRUNCATED}, found
    assert main(["verify", store.location, "--no-remember"]) == 1


def test_a_tenant_policy_row_deleted_to_fall_back_on_a_shorter_default_is_refused(
    store: Store,
) -> None:
    store.append(make_events(3, "globex"))
    store.retention.set("*", keep_days=30)  # the default (globex follows it)
    before = store.count("acme")
    sql(store, "DELETE FROM retention_policies WHERE tenant_id = 'acme'")
    assert ProblemKind.POLICY_ALTERED in kinds(store)
    assert main(["retention", store.location, "apply"]) == 1
    assert store.count("acme") == before


@pytest.mark.parametrize(
    "edit", ["DELETE FROM quarantine WHERE line = 1", "UPDATE quarantine SET reason = 'ok'"]
)
def test_quarantine_rows_deleted_or_edited_fail_the_command(store: Store, edit: str) -> None:
    store.quarantine(
        [
            {
                "file": "in.ndjson",
                "line": 1,
                "field": "occurred_at",
                "reason": "not a time",
                "record": "{}",
            }
        ]
    )
    assert main(["verify", store.location, "--no-remember"]) == 0
    sql(store, edit)
    assert kinds(store) == {ProblemKind.QUARANTINE_ALTERED}
    assert main(["verify", store.location, "--no-remember"]) == 1


@pytest.mark.parametrize(
    "edit",
    [
        # the policy the purge claims, and how old its events were, rewritten
        "UPDATE purges SET detail = replace(detail, '\"keep_days\":30', '\"keep_days\":1')",
        "UPDATE purges SET recorded_at = '2099-01-01T00:00:00.000000Z'",
    ],
)
def test_the_record_of_a_purge_edited_is_named(store: Store, edit: str) -> None:
    store.retention.set("acme", keep_days=30)
    assert store.retention.apply().purged
    assert main(["verify", store.location, "--no-remember"]) == 0
    sql(store, edit)
    assert ProblemKind.FORGED_PURGE in kinds(store)
    assert main(["verify", store.location, "--no-remember"]) == 1
