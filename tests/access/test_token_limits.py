"""A token made through a principal's handle never reaches further than the one
asking for it: a narrowed token minted an unlimited one for its own principal, and a
tenant admin minted tokens for an owner (and acted as one) or for a principal whose
later grants on other tenants the token then covered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from auditkit.access import Permission
from auditkit.errors import AccessDenied
from auditkit.store import Store
from tests.access.strategies import TENANTS

A, B, C, D = TENANTS
Person = Callable[..., Store]


def _token_of(store: Store, text: str) -> Store:
    return Store.open(store.location, token=text)


def test_a_narrowed_token_cannot_mint_a_wider_one(sqlite_marked: Store, person: Person) -> None:
    person(sqlite_marked, "carol", tn_alpha="viewer", tn_bravo="admin")
    narrow = sqlite_marked.create_token("carol", tenants=[A], scopes=["read"], expires="1d")
    carol = _token_of(sqlite_marked, narrow.text)
    with pytest.raises(AccessDenied):
        carol.load(B)
    with pytest.raises(AccessDenied, match="tenant"):
        carol.create_token(tenants=[B])
    with pytest.raises(AccessDenied, match="scope"):
        carol.create_token(scopes=["read", "manage"])
    made = carol.create_token(expires=None)  # "never": cut to the asking token's end
    (info,) = [t for t in sqlite_marked.tokens("carol") if t.token_id == made.token_id]
    assert info.tenants == frozenset({A}) and info.scopes == frozenset({Permission.READ})
    assert info.expires_at is not None
    end = datetime.fromisoformat(info.expires_at.replace("Z", "+00:00"))
    assert end <= datetime.now(UTC) + timedelta(days=1, minutes=1)
    with pytest.raises(AccessDenied):
        _token_of(sqlite_marked, made.text).load(B)


def test_an_admin_cannot_mint_a_token_for_an_owner(sqlite_marked: Store, person: Person) -> None:
    person(sqlite_marked, "alice", tn_alpha="admin")
    person(sqlite_marked, "dave", tn_alpha="owner")
    alice = _token_of(sqlite_marked, sqlite_marked.create_token("alice").text)
    with pytest.raises(AccessDenied, match="'owner'"):
        alice.create_token("dave")
    person(sqlite_marked, "erin", tn_alpha="analyst")
    assert alice.create_token("erin").text  # a role alice may grant: allowed


def test_a_token_minted_for_another_covers_only_its_tenants_of_then(
    sqlite_marked: Store, person: Person
) -> None:
    person(sqlite_marked, "alice", tn_alpha="admin")
    person(sqlite_marked, "svc", tn_alpha="viewer")
    alice = _token_of(sqlite_marked, sqlite_marked.create_token("alice").text)
    minted = alice.create_token("svc", expires=None)
    sqlite_marked.grant("svc", B, "viewer")  # later, by the provider
    svc = _token_of(sqlite_marked, minted.text)
    assert svc.load(A).height > 0
    with pytest.raises(AccessDenied):
        svc.load(B)
    with pytest.raises(AccessDenied, match="tenant"):
        alice.create_token("svc", tenants=[A, B])
