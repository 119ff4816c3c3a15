"""Shared data and Hypothesis strategies of the access tests: tenants whose events
carry markers (names, e-mails, IPs, change values) unique to each tenant, so
that a leak of any of them is found by a plain substring search."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from auditkit.access import STORE_WIDE, Permission, Role
from tests.conftest import make_events

#: Tenants of the marked store.
TENANTS = ("tn-alpha", "tn-bravo", "tn-charlie", "tn-delta")


def markers(tenant: str) -> dict[str, str]:
    """Strings that occur only in ``tenant``'s events (and must not leak)."""
    key = tenant.replace("tn-", "")
    return {
        "name": f"Person-{key}-Name",
        "email": f"person.{key}@{key}-corp.example",
        "ip": f"198.51.{TENANTS.index(tenant) + 10}.77",
        "change": f"secret-value-{key}",
        "event": f"ev-{key}-",
    }


def marked_events(tenant: str, n: int = 12) -> list[dict[str, Any]]:
    """``n`` events of ``tenant`` carrying its markers in every sensitive place."""
    m = markers(tenant)
    out = []
    for i, e in enumerate(make_events(n, tenant, prefix=m["event"].rstrip("-"))):
        e["actor"] = {**e["actor"], "name": m["name"], "email": m["email"]}
        e["source"] = {**e["source"], "ip": m["ip"]}
        e["description"] = f"{m['name']} ({m['email']}) from {m['ip']} did {e['action']}"
        e["metadata"] = {"n": i, "contact": m["email"], "raw": {"sourceIPAddress": m["ip"]}}
        if i % 3 == 0:
            e["changes"] = {"before": {"role": "member"}, "after": {"role": m["change"]}}
        if i % 4 == 1:
            e["actor"]["id"] = m["email"]
            e["targets"] = [{"id": m["email"], "type": "user", "name": m["name"]}]
        out.append(e)
    return out


#: Strings of a tenant that redaction must hide (names stay: they are not personal data
#: the issue asks to hash, and they prove the tenant's events were returned).
SECRET_KEYS = ("email", "ip", "change")

tenant_roles = st.sampled_from([r for r in Role if r not in STORE_WIDE])


@st.composite
def grant_sets(draw: st.DrawFn) -> dict[str, Any]:
    """A principal's grants, maybe a store-wide role, and maybe a token's limits."""
    grants = draw(
        st.dictionaries(st.sampled_from(TENANTS), st.lists(tenant_roles, min_size=1, max_size=2))
    )
    operator = draw(st.booleans()) and draw(st.integers(0, 3)) == 0
    scopes = draw(
        st.one_of(st.none(), st.frozensets(st.sampled_from(list(Permission)), min_size=1))
    )
    token_tenants = draw(st.one_of(st.none(), st.frozensets(st.sampled_from(TENANTS), min_size=1)))
    return {
        "grants": grants,
        "operator": operator,
        "scopes": scopes,
        "token_tenants": token_tenants,
        "use_token": draw(st.booleans()),
    }
