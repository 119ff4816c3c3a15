"""Fixtures of the access tests: a store of marked tenants, and principals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from auditkit.store import Store
from tests.access.strategies import TENANTS, marked_events


def build_marked_store(location: str) -> Store:
    """A store holding :data:`TENANTS`, each with its marked events."""
    store = Store.init(location)
    store.append([e for t in TENANTS for e in marked_events(t)])
    return store


@pytest.fixture
def marked_store(store_location: str) -> Store:
    """A marked store on each backend."""
    return build_marked_store(store_location)


@pytest.fixture
def sqlite_marked(tmp_path: Path) -> Store:
    """A marked store in a SQLite file."""
    return build_marked_store(str(tmp_path / "audit.db"))


@pytest.fixture
def person() -> Callable[..., Store]:
    """``person(store, "ann", acme="analyst", ...)``: add a principal with grants
    (keyword = tenant, value = role or list of roles) and return its handle."""

    def make(store: Store, principal_id: str, **grants: str | list[str]) -> Store:
        store.add_principal(principal_id)
        for tenant, roles in grants.items():
            for role in [roles] if isinstance(roles, str) else roles:
                store.grant(principal_id, tenant.replace("_", "-"), role)
        return store.bind(principal=principal_id)

    return make
