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
    metadata: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
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
    if metadata:
        event["metadata"] = metadata
    if changes:
        event["changes"] = changes
    return event


@dataclass(frozen=True)
class Trail:
    """A labelled trail: ``expect`` must fire, each at ``at_least`` or above; on a
    look-alike (``expect`` empty) no finding may be above ``low``."""

    name: str
    build: Callable[[], list[dict[str, Any]]] = field(repr=False)
    expect: tuple[str, ...] = ()
    at_least: str = "low"


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


# ------------------------------------------------------------------ the audit trail


def _audit_records_deleted() -> list[dict[str, Any]]:
    """The audit log, a trail and older logs deleted or purged under names the detector
    never listed."""
    return [
        ev(0, "audit_log.delete", "mallory@acme.com"),
        ev(90, "audit_trail.delete", "eve@acme.com"),
        ev(200, "audit_logs.purge", "oscar@acme.com"),
    ]


def _logging_switched_off() -> list[dict[str, Any]]:
    """Logging disabled and the log sink to the SIEM deleted."""
    return [
        ev(0, "logging.disable", "mallory@acme.com"),
        ev(120, "log_sink.delete", "eve@acme.com", targets=[{"id": "siem", "type": "sink"}]),
    ]


def _retention_cut_in_settings() -> list[dict[str, Any]]:
    """Audit retention shortened through the tenant's general settings."""
    return [
        ev(
            0,
            "settings.update",
            "mallory@acme.com",
            roles=["admin"],
            changes={
                "before": {"audit_log_retention_days": 365, "theme": "light"},
                "after": {"audit_log_retention_days": 1, "theme": "light"},
            },
        )
    ]


def _audit_housekeeping() -> list[dict[str, Any]]:
    """An admin lengthens retention in the settings and in the audit settings, adds a
    SIEM destination, switches logging on, and reads and exports the audit log."""
    admin = "admin@acme.com"
    return [
        ev(
            0,
            "settings.update",
            admin,
            roles=["admin"],
            changes={
                "before": {"audit_log_retention_days": 365},
                "after": {"audit_log_retention_days": 730},
            },
        ),
        ev(
            5,
            "audit_retention.update",
            admin,
            roles=["admin"],
            changes={"before": "1 year", "after": "2 years"},
        ),
        ev(10, "audit_destination.add", admin, roles=["admin"]),
        ev(
            12,
            "audit_log.update",
            admin,
            roles=["admin"],
            changes={"before": {"enabled": False}, "after": {"enabled": True}},
        ),
        ev(15, "audit_log.enable", admin, roles=["admin"]),
        ev(20, "audit_log.read", admin, roles=["admin"]),
        ev(25, "audit_log.export", admin, roles=["admin"]),
        ev(
            30,
            "settings.update",
            admin,
            roles=["admin"],
            changes={"before": {"theme": "a"}, "after": {"theme": "b"}},
        ),
        ev(40, "user.login", "catalog@acme.com"),
        ev(41, "catalog.delete", "catalog@acme.com"),
    ]


# ------------------------------------------------------------------ exports


def _docs(i: int) -> list[dict[str, str]]:
    return [{"id": f"doc-{i}", "type": "document"}]


def _exports_spread_thin() -> list[dict[str, Any]]:
    """200 exports over 20 hours, ten an hour: no hour reaches a burst."""
    return [ev(i * 6, "document.export", "leo@acme.com", targets=_docs(i)) for i in range(200)]


def _exports_under_other_verbs() -> list[dict[str, Any]]:
    """Sixty exports in half an hour as bulk exports, report downloads and data exports."""
    actions = ["document.bulk_export", "report.download", "data.export"]
    return [ev(i * 0.5, actions[i % 3], "leo@acme.com", targets=_docs(i)) for i in range(60)]


def _nightly_backup(actor: str, actor_type: str) -> Callable[[], list[dict[str, Any]]]:
    def build() -> list[dict[str, Any]]:
        """Every night at 02:00 for ten nights, the same 80 documents exported."""
        return [
            ev(
                night * 1440 + 17 * 60 + i * 0.2,
                "document.export",
                actor,
                actor_type=actor_type,
                ip="198.51.100.200",
                targets=_docs(i),
            )
            for night in range(10)
            for i in range(80)
        ]

    return build


# ------------------------------------------------------------------ privileges

_ADMINS = ["owner", "superuser", "org_admin", "root", "AdministratorAccess", "roles/owner"]


def _onboarding_viewers() -> list[dict[str, Any]]:
    """A new team of forty onboarded as viewers in an afternoon."""
    return [
        ev(
            i * 3,
            "role.grant",
            "admin@acme.com",
            roles=["admin"],
            targets=[{"id": USERS[i], "type": "user"}],
            metadata={"role": "viewer"},
        )
        for i in range(40)
    ]


def _admin_roles_handed_out() -> list[dict[str, Any]]:
    """Twelve admin-like roles of every spelling handed out in an hour."""
    return [
        ev(
            i * 5,
            "role.grant",
            "mallory@acme.com",
            targets=[{"id": USERS[i], "type": "user"}],
            metadata={"role": _ADMINS[i % len(_ADMINS)]},
        )
        for i in range(12)
    ]


def _grant_use_revoke() -> list[dict[str, Any]]:
    """Owner granted to an accomplice, who creates a key and exports, then revoked."""
    grant = {
        "targets": [{"id": "bob@acme.com", "type": "user"}],
        "metadata": {"role": "owner"},
    }
    return [
        ev(0, "user.login", "bob@acme.com", roles=["viewer"]),
        ev(10, "role.grant", "mallory@acme.com", roles=["admin"], **grant),
        ev(12, "api_key.create", "bob@acme.com"),
        *(ev(13 + i * 0.2, "document.export", "bob@acme.com", targets=_docs(i)) for i in range(5)),
        ev(18, "role.revoke", "mallory@acme.com", roles=["admin"], **grant),
    ]


def _wrong_grant_put_right() -> list[dict[str, Any]]:
    """Admin given to the wrong Bob and taken back two minutes later; then the right one."""

    def change(minute: float, action: str, who: str) -> dict[str, Any]:
        return ev(
            minute,
            action,
            "admin@acme.com",
            roles=["admin"],
            targets=[{"id": who, "type": "user"}],
            metadata={"role": "admin"},
        )

    return [
        ev(0, "user.login", "bob.b@acme.com", roles=["viewer"]),
        change(5, "role.grant", "bob.a@acme.com"),
        change(7, "role.revoke", "bob.a@acme.com"),
        change(8, "role.grant", "bob.b@acme.com"),
    ]


def _just_in_time_elevation() -> list[dict[str, Any]]:
    """An access broker grants admin for an hour on a ticket; the engineer works; the
    broker takes it back when it expires."""
    grant = {
        "targets": [{"id": "sre@acme.com", "type": "user"}],
        "metadata": {"role": "admin", "ticket": "OPS-7"},
    }
    return [
        ev(0, "user.login", "sre@acme.com", roles=["editor"]),
        ev(1, "role.grant", "access-broker", actor_type="system", **grant),
        ev(10, "settings.update", "sre@acme.com"),
        ev(20, "integration.add", "sre@acme.com"),
        ev(61, "role.revoke", "access-broker", actor_type="system", **grant),
    ]


# ------------------------------------------------------------------ travel without coordinates


def _country_switch_without_coordinates() -> list[dict[str, Any]]:
    """Logins from the US, then from Russia 20 minutes later: countries, no coordinates."""
    return [
        ev(0, "user.login", "carol@acme.com", country="US", lat=None, lon=None),
        ev(20, "user.login", "carol@acme.com", country="RU", lat=None, lon=None, ip="203.0.113.50"),
    ]


def _long_flight_without_coordinates() -> list[dict[str, Any]]:
    """A login in the US, then in Germany ten hours later, and Japan the day after:
    countries, no coordinates."""
    return [
        ev(0, "user.login", "dave@acme.com", country="US", lat=None, lon=None),
        ev(600, "user.login", "dave@acme.com", country="DE", lat=None, lon=None),
        ev(1300, "user.login", "dave@acme.com", country="FR", lat=None, lon=None),
        ev(2500, "user.login", "dave@acme.com", country="JP", lat=None, lon=None),
    ]


# ------------------------------------------------------------------ permission probing

#: What a cloud key may be asked: a verb on each of many kinds of object.
_CLOUD_CALLS = [
    f"{thing}.{verb}"
    for thing in (
        "iam_users",
        "iam_roles",
        "iam_policies",
        "ec2_instances",
        "ec2_snapshots",
        "s3_buckets",
        "kms_keys",
        "lambda_functions",
        "rds_db_instances",
        "secrets",
        "dynamodb_tables",
        "sns_topics",
        "sqs_queues",
        "cloudtrail_trails",
    )
    for verb in ("list", "get", "describe")
]
_KEY = {"actor_type": "api_key", "ip": "203.0.113.10", "ua": "aws-cli/2.15.0"}


def _ci_key_day() -> list[dict[str, Any]]:
    """The CI key's usual work over the day and a half before: pushing images and
    reading one bucket, every 20 minutes."""
    return [
        ev(-2160 + m, action, "ci-deploy", **_KEY)
        for m in range(0, 2160, 20)
        for action in ("images.put", "s3_buckets.list")
    ]


def _stolen_key_enumerates() -> list[dict[str, Any]]:
    """The CI key, stolen, tries 42 calls on 14 kinds of object in two minutes from
    elsewhere (enumerate-iam); two of them are allowed."""
    tried = [
        ev(
            i * 0.05,
            call,
            "ci-deploy",
            actor_type="api_key",
            ip="185.220.101.45",
            ua="Boto3/1.9.148",
            outcome="success" if call == "s3_buckets.list" else "denied",
        )
        for i, call in enumerate(_CLOUD_CALLS)
    ]
    return [*_ci_key_day(), *tried]


def _slow_enumeration() -> list[dict[str, Any]]:
    """A token trying one new call every 8 minutes for an hour and a half: 12 calls on
    6 kinds of object, all refused."""
    calls = [c for c in _CLOUD_CALLS if c.endswith((".list", ".get"))][:12]
    return [
        *_ci_key_day(),
        *(ev(i * 8, call, "ci-deploy", outcome="denied", **_KEY) for i, call in enumerate(calls)),
    ]


def _job_loses_a_permission() -> list[dict[str, Any]]:
    """A nightly inventory job reads 42 kinds of thing; a policy change takes its rights
    away and every call after it is refused, run after run."""
    runs = []
    for run in range(6):
        outcome = "success" if run < 3 else "denied"
        runs += [
            ev(-300 + run * 60 + i * 0.02, call, "inventory-job", outcome=outcome, **_KEY)
            for i, call in enumerate(_CLOUD_CALLS)
        ]
    return runs


def _viewer_opens_admin_pages() -> list[dict[str, Any]]:
    """A viewer clicks through the admin area: each page's calls are refused, twelve
    actions on three kinds of object, and one more refused action retried twenty times."""
    pages = [
        f"{thing}.{verb}"
        for thing in ("billing", "settings", "retention")
        for verb in ("read", "list", "get", "export")
    ]
    return [
        *(
            ev(i * 0.5, a, "vera@acme.com", outcome="denied", roles=["viewer"])
            for i, a in enumerate(pages)
        ),
        *(
            ev(10 + i * 0.2, "user.list", "vera@acme.com", outcome="denied", roles=["viewer"])
            for i in range(20)
        ),
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
    Trail(
        "audit records deleted and purged", _audit_records_deleted, ("audit_tampering",), "critical"
    ),
    Trail(
        "logging switched off, sink deleted",
        _logging_switched_off,
        ("audit_tampering",),
        "critical",
    ),
    Trail(
        "audit retention cut in the settings",
        _retention_cut_in_settings,
        ("audit_tampering",),
        "critical",
    ),
    Trail("audit housekeeping", _audit_housekeeping),
    Trail("exports spread thin over a day", _exports_spread_thin, ("mass_export",), "high"),
    Trail("exports under other verbs", _exports_under_other_verbs, ("mass_export",), "high"),
    Trail("nightly backup by a key", _nightly_backup("key-backup", "api_key")),
    Trail("nightly backup by a service account", _nightly_backup("backup@acme.com", "user")),
    Trail("onboarding forty viewers", _onboarding_viewers),
    Trail(
        "admin-like roles of every spelling",
        _admin_roles_handed_out,
        ("privilege_change_burst",),
        "medium",
    ),
    Trail("admin granted, used, revoked", _grant_use_revoke, ("transient_privilege",), "high"),
    Trail("wrong grant put right", _wrong_grant_put_right),
    Trail("just-in-time elevation", _just_in_time_elevation),
    Trail(
        "country switch without coordinates",
        _country_switch_without_coordinates,
        ("impossible_travel",),
        "high",
    ),
    Trail("long flight without coordinates", _long_flight_without_coordinates),
    Trail("stolen key enumerates", _stolen_key_enumerates, ("permission_probing",), "high"),
    Trail("slow enumeration", _slow_enumeration, ("permission_probing",), "medium"),
    Trail("job loses a permission", _job_loses_a_permission),
    Trail("viewer opens admin pages", _viewer_opens_admin_pages),
)
