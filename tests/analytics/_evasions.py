"""Small labelled trails: attacks written to slip past the detectors, and innocent
look-alikes.

Each :class:`Trail` is a handful of canonical events (one tenant, a Monday in March)
with the detectors that must fire on it (``expect``) or, for a look-alike, none that
may fire above ``low``.  They complement the generated scenarios
(:mod:`._scenarios`): those measure quality over months of traffic, these pin the
shapes an attacker would pick to stay under a threshold (another spelling of the
account, many addresses of one IPv6 network, a botnet's one attempt per account, a
refused rather than a failed login).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
USERS = [f"user{i}@acme.com" for i in range(40)]


def ev(
    minute: float,
    action: str,
    actor: str,
    *,
    outcome: str = "success",
    ip: str = "198.51.100.7",
    ua: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0",
    country: str | None = "US",
    lat: float | None = 40.7,
    lon: float | None = -74.0,
    actor_type: str = "user",
    roles: list[str] | None = None,
    targets: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """One canonical event ``minute`` minutes after :data:`T0`."""
    geo = {k: v for k, v in {"country": country, "lat": lat, "lon": lon}.items() if v is not None}
    event: dict[str, Any] = {
        "tenant_id": "acme",
        "occurred_at": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": action,
        "outcome": outcome,
        "actor": {"id": actor, "type": actor_type, **({"roles": roles} if roles else {})},
        "source": {"ip": ip, "user_agent": ua, "geo": geo},
    }
    if targets:
        event["targets"] = targets
    return event


@dataclass(frozen=True)
class Trail:
    """A labelled trail: ``expect`` must fire (at any severity); on a look-alike
    (``expect`` empty) no finding may be above ``low``."""

    name: str
    build: Callable[[], list[dict[str, Any]]] = field(repr=False)
    expect: tuple[str, ...] = ()


def _spray_one_ipv6_network() -> list[dict[str, Any]]:
    """Fifteen accounts in an hour, each from another address of one /64 (compressed
    forms: the network's groups are partly in the ``::``)."""
    return [
        ev(i * 4, "user.login", USERS[i], outcome="failure", ip=f"2001:db8::{i + 1:x}:1")
        for i in range(15)
    ]


def _slow_spray_one_ipv6_network() -> list[dict[str, Any]]:
    """One account an hour for fifteen hours, every address another of one /64."""
    return [
        ev(i * 60, "user.login", USERS[i], outcome="failure", ip=f"2001:db8:7:7:{i + 1:x}::9")
        for i in range(15)
    ]


def _stuffing_one_tool() -> list[dict[str, Any]]:
    """Credential stuffing: 25 accounts once each, from 25 networks, one tool's agent."""
    return [
        ev(
            i * 3,
            "user.login",
            USERS[i],
            outcome="failure",
            ip=f"203.0.{i}.{i + 5}",
            ua="python-requests/2.31",
        )
        for i in range(25)
    ]


def _stuffing_botnet() -> list[dict[str, Any]]:
    """A botnet: 30 accounts once each, every address and every agent different."""
    return [
        ev(
            i * 2,
            "user.login",
            USERS[i],
            outcome="failure",
            ip=f"192.0.{i}.{i + 9}",
            ua=f"Mozilla/5.0 ({i})",
        )
        for i in range(30)
    ]


_SPELLINGS = [
    "alice@acme.com",
    "Alice@acme.com",
    " alice@acme.com",
    "ALICE@ACME.COM",
    "alice@acme.com ",
]


def _guess_under_spellings() -> list[dict[str, Any]]:
    """Fifteen guesses at one account spelt five ways (case, blanks), from fifteen
    addresses, then the success: no spelling alone reaches a threshold."""
    fails = [
        ev(i, "user.login", name, outcome="failure", ip=f"203.0.113.{i + 1}")
        for i, name in enumerate(_SPELLINGS * 3)
    ]
    return [*fails, ev(20, "user.login", "alice@acme.com", ip="203.0.113.99")]


def _guess_under_lookalike_letters() -> list[dict[str, Any]]:
    """Twelve guesses at one account, some spelt with Cyrillic letters that look Latin."""
    names = ["alice@acme.com", "\u0430lice@acme.com", "alic\u0435@acme.com"]
    fails = [
        ev(i, "user.login", name, outcome="failure", ip=f"203.0.113.{i + 1}")
        for i, name in enumerate(names * 4)
    ]
    return [*fails, ev(20, "user.login", "alice@acme.com", ip="203.0.113.99")]


def _refused_logins() -> list[dict[str, Any]]:
    """Fifteen logins refused by policy (``denied``, as GCP and Okta map them) in 15 min."""
    return [
        ev(i, "user.login", "bob@acme.com", outcome="denied", ip="203.0.113.5") for i in range(15)
    ]


def _nat_office() -> list[dict[str, Any]]:
    """An office of 60 people behind one address: every seventh person mistypes once,
    then logs in a minute later."""
    out = []
    for i in range(60):
        user = f"staff{i}@acme.com"
        if i % 5 == 0:
            out.append(ev(i * 0.3, "user.login", user, outcome="failure", ip="198.51.100.1"))
        out.append(ev(i * 0.3 + 1, "user.login", user, ip="198.51.100.1"))
    return out


def _first_day() -> list[dict[str, Any]]:
    """A new employee's first day: created, two wrong passwords, a reset, MFA, reading."""
    return [
        ev(
            0,
            "user.create",
            "admin@acme.com",
            roles=["admin"],
            targets=[{"id": "newbie@acme.com", "type": "user"}],
        ),
        ev(60, "user.login", "newbie@acme.com", outcome="failure"),
        ev(61, "user.login", "newbie@acme.com", outcome="failure"),
        ev(62, "password.reset", "newbie@acme.com"),
        ev(63, "user.login", "newbie@acme.com"),
        ev(64, "mfa.enroll", "newbie@acme.com"),
        *(
            ev(
                70 + i,
                "document.read",
                "newbie@acme.com",
                targets=[{"id": f"d{i}", "type": "document"}],
            )
            for i in range(50)
        ),
    ]


def _batch_reads() -> list[dict[str, Any]]:
    """A nightly batch job reading 3000 documents in five minutes."""
    return [
        ev(
            i * 0.1,
            "document.read",
            "batch-svc",
            actor_type="service",
            ip="198.51.100.200",
            targets=[{"id": f"doc-{i}", "type": "document"}],
        )
        for i in range(3000)
    ]


TRAILS: tuple[Trail, ...] = (
    Trail("spray from one IPv6 /64", _spray_one_ipv6_network, ("password_spraying",)),
    Trail(
        "slow spray from one IPv6 /64", _slow_spray_one_ipv6_network, ("slow_credential_attack",)
    ),
    Trail("stuffing with one tool", _stuffing_one_tool, ("password_spraying",)),
    Trail("stuffing from a botnet", _stuffing_botnet, ("password_spraying",)),
    Trail(
        "guesses under five spellings",
        _guess_under_spellings,
        ("brute_force", "brute_force_success"),
    ),
    Trail(
        "guesses under look-alike letters",
        _guess_under_lookalike_letters,
        ("brute_force", "brute_force_success"),
    ),
    Trail("logins refused by policy", _refused_logins, ("brute_force",)),
    Trail("office behind one address", _nat_office),
    Trail("new employee's first day", _first_day),
    Trail("nightly batch reads", _batch_reads),
)
