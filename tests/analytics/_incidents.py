"""Incidents injected into the background traffic, with their ground truth.

Each builder adds the events of one incident to a :class:`Ctx` and records an
:class:`Incident`: its event ids and the detectors expected to fire on it.  A
logging gap is an absence: it removes events, and its evidence is the events
that bound the silence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from ._traffic import ABROAD, DAY, HOUR, NON_ADMIN_ROLES, US, Tenant, dt


@dataclass(frozen=True)
class Incident:
    """An injected incident: its ground-truth events and the detectors expected to fire."""

    kind: str
    tenant_id: str
    actor_id: str | None
    event_ids: frozenset[str]
    start: datetime
    end: datetime
    detectors: tuple[str, ...]
    #: Events a finding must cite: the links of a chain, the start of a slow attack.
    cites: frozenset[str] = frozenset()


class Ctx:
    """What incident builders need: tenants, time range, a random source, id counters."""

    def __init__(self, tenants: list[Tenant], days: int, rng: np.random.Generator) -> None:
        self.tenants, self.days, self.rng = tenants, days, rng
        self.rows: list[dict[str, Any]] = []
        self.incidents: list[Incident] = []
        self.removals: list[tuple[str, str, int, int, str]] = []
        self.reserved: set[tuple[str, int]] = set()  # (tenant, day) of logging gaps
        self.count = 0

    def when(self, t: Tenant, *, local_hour: float | None = None, min_day: int = 15) -> int:
        """A weekday inside the scenario (after a history), at a local office hour."""
        while True:
            day = int(self.rng.integers(min_day, self.days - 1))
            if day % 7 < 5 and (t.name, day) not in self.reserved:
                break
        hour = float(self.rng.uniform(10, 16)) if local_hour is None else local_hour
        return day * DAY + int((hour - t.offset) * HOUR)

    def emit(
        self,
        kind: str,
        t: Tenant,
        actor: str | None,
        rows: Iterable[dict[str, Any]],
        detectors: tuple[str, ...],
        cites: Iterable[int] = (),
    ) -> list[str]:
        self.count += 1
        ids = []
        batch = list(rows)
        for j, r in enumerate(batch):
            eid = f"{t.name}-x{self.count:03d}-{kind}-{j:03d}"
            ids.append(eid)
            self.rows.append(
                {
                    "tenant_id": t.name,
                    "outcome": "success",
                    "actor_type": "user",
                    "observer_service": "web",
                    **r,
                    "event_id": eid,
                }
            )
        ts = [r["t"] for r in batch]
        cited = frozenset(ids[i] for i in cites)
        self.incidents.append(
            Incident(
                kind, t.name, actor, frozenset(ids), dt(min(ts)), dt(max(ts)), detectors, cited
            )
        )
        return ids


def _abroad(rng: np.random.Generator) -> dict[str, Any]:
    city, country, lat, lon = ABROAD[int(rng.integers(len(ABROAD)))]
    return {
        "geo_city": city,
        "geo_country": country,
        "geo_lat": lat,
        "geo_lon": lon,
        "source_ip": f"203.0.113.{int(rng.integers(1, 250))}",
    }


def _user_row(u: dict[str, Any], t: Tenant, ts: int, action: str, **kw: Any) -> dict[str, Any]:
    return {
        "t": ts,
        "action": action,
        "actor_id": u["id"],
        "role": u["role"],
        "city": u["city"],
        "source_ip": t.office_ip(),
        "observer_service": "web",
        **kw,
    }


def _brute_force(c: Ctx, t: Tenant) -> None:
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t), _abroad(c.rng)
    n = int(c.rng.integers(20, 35))
    rows = [
        {
            "t": t0 + i * 20 * US,
            "action": "user.login",
            "outcome": "failure",
            "actor_id": u["id"],
            "observer_service": "auth",
            **geo,
        }
        for i in range(n)
    ]
    c.emit("brute_force", t, u["id"], rows, ("brute_force",))


def _brute_force_success(c: Ctx, t: Tenant) -> None:
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t), _abroad(c.rng)
    n = int(c.rng.integers(6, 9))
    rows = [
        {
            "t": t0 + i * 30 * US,
            "action": "user.login",
            "outcome": "failure",
            "actor_id": u["id"],
            "observer_service": "auth",
            **geo,
        }
        for i in range(n)
    ]
    rows.append(
        {
            "t": t0 + n * 30 * US,
            "action": "user.login",
            "actor_id": u["id"],
            "role": u["role"],
            "observer_service": "auth",
            **geo,
        }
    )
    rows += [
        {
            "t": t0 + (n + 1 + i) * 40 * US,
            "action": "document.read",
            "actor_id": u["id"],
            "role": u["role"],
            **geo,
            "target_id": f"doc-{i}",
            "target_type": "document",
        }
        for i in range(4)
    ]
    c.emit("brute_force_success", t, u["id"], rows, ("brute_force_success",))


def _spraying(c: Ctx, t: Tenant) -> None:
    t0, geo = c.when(t), _abroad(c.rng)
    people = [u for u in t.users if not u.get("leaver")]
    victims = [people[int(i)] for i in c.rng.choice(len(people), 15, replace=False)]
    rows = [
        {
            "t": t0 + i * 70 * US,
            "action": "user.login",
            "outcome": "failure",
            "actor_id": v["id"],
            "observer_service": "auth",
            **geo,
        }
        for i, v in enumerate(victims)
    ]
    c.emit("password_spraying", t, None, rows, ("password_spraying",))


def _impossible_travel(c: Ctx, t: Tenant) -> None:
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t), _abroad(c.rng)
    rows = [
        _user_row(u, t, t0, "user.login", observer_service="auth"),
        _user_row(u, t, t0 + 60 * US, "document.read", target_id="doc-1", target_type="document"),
        {**_user_row(u, t, t0 + 50 * 60 * US, "user.login", observer_service="auth"), **geo},
        {
            **_user_row(
                u, t, t0 + 52 * 60 * US, "document.read", target_id="doc-2", target_type="document"
            ),
            **geo,
        },
    ]
    c.emit("impossible_travel", t, u["id"], rows, ("impossible_travel", "new_country"))


def _new_country(c: Ctx, t: Tenant) -> None:
    u, geo = t.user(c.rng, NON_ADMIN_ROLES), _abroad(c.rng)
    t0 = c.when(t, local_hour=3.0)
    rows = [
        {**_user_row(u, t, t0, "user.login", observer_service="auth"), **geo},
        {
            **_user_row(
                u, t, t0 + 90 * US, "document.read", target_id="doc-3", target_type="document"
            ),
            **geo,
        },
    ]
    c.emit("new_country", t, u["id"], rows, ("new_country",))


def _self_grant(c: Ctx, t: Tenant) -> None:
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    rows = [
        _user_row(
            u,
            t,
            t0,
            "role.grant",
            target_id=u["id"],
            target_type="user",
            metadata='{"role":"admin"}',
        ),
        _user_row(
            u, t, t0 + 120 * US, "settings.update", target_id="settings", target_type="settings"
        ),
    ]
    c.emit("self_grant", t, u["id"], rows, ("self_privilege_grant", "admin_without_role"))


def _admin_without_role(c: Ctx, t: Tenant) -> None:
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    rows = [
        _user_row(u, t, t0, "integration.add", target_id="int-exfil", target_type="integration"),
        _user_row(u, t, t0 + 300 * US, "policy.update", target_id="policy-1", target_type="policy"),
    ]
    c.emit("admin_without_role", t, u["id"], rows, ("admin_without_role",))


def _privilege_burst(c: Ctx, t: Tenant) -> None:
    u, t0 = t.user(c.rng, "admin"), c.when(t)
    rows = [
        _user_row(
            u,
            t,
            t0 + i * 150 * US,
            "role.grant" if i % 3 else "permission.grant",
            target_id=v["id"],
            target_type="user",
            metadata='{"role":"editor"}' if i % 3 else '{"permission":"billing.admin"}',
        )
        for i, v in enumerate(t.users[:14])
    ]
    c.emit("privilege_burst", t, u["id"], rows, ("privilege_change_burst",))


def _transient_privilege(c: Ctx, t: Tenant) -> None:
    """An admin lends a colleague the admin role, who changes settings and exports, and
    takes it back a quarter of an hour later."""
    u, v, t0 = t.user(c.rng, "admin"), t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    back = int(c.rng.integers(8, 25))
    role = {"target_id": v["id"], "target_type": "user", "metadata": '{"role":"admin"}'}
    rows = [
        _user_row(u, t, t0, "role.grant", **role),
        _user_row(
            v, t, t0 + 2 * 60 * US, "settings.update", target_id="sso", target_type="settings"
        ),
        *(
            _user_row(
                v,
                t,
                t0 + (3 * 60 + i * 20) * US,
                "document.export",
                target_id=f"doc-{i}",
                target_type="document",
            )
            for i in range(4)
        ),
        _user_row(u, t, t0 + back * 60 * US, "role.revoke", **role),
    ]
    c.emit("transient_privilege", t, u["id"], rows, ("transient_privilege",))


def _mfa_disable(c: Ctx, t: Tenant) -> None:
    u, v, t0 = t.user(c.rng, "admin"), t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    rows = [
        _user_row(
            u, t, t0, "mfa.disable", target_id=v["id"], target_type="user", observer_service="auth"
        )
    ]
    c.emit("mfa_disable", t, u["id"], rows, ("mfa_disabled",))


def _push_fatigue(c: Ctx, t: Tenant) -> None:
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t), _abroad(c.rng)
    n = int(c.rng.integers(6, 12))
    rows = [
        {"t": t0, "action": "user.login", "actor_id": u["id"], "observer_service": "auth", **geo}
    ]
    rows += [
        {
            "t": t0 + (i + 1) * 40 * US,
            "action": "mfa.challenge",
            "outcome": "denied",
            "actor_id": u["id"],
            "observer_service": "auth",
            **geo,
        }
        for i in range(n)
    ]
    rows.append(
        {
            "t": t0 + (n + 1) * 40 * US,
            "action": "mfa.challenge",
            "actor_id": u["id"],
            "observer_service": "auth",
            **geo,
        }
    )
    c.emit("push_fatigue", t, u["id"], rows, ("mfa_push_fatigue",))


def _api_key_other(c: Ctx, t: Tenant) -> None:
    u, v, t0 = t.user(c.rng, NON_ADMIN_ROLES), t.user(c.rng, "admin"), c.when(t)
    rows = [_user_row(u, t, t0, "api_key.create", target_id=v["id"], target_type="user")]
    c.emit("api_key_other", t, u["id"], rows, ("suspicious_api_key",))


def _api_key_night(c: Ctx, t: Tenant) -> None:
    u = t.user(c.rng, NON_ADMIN_ROLES)
    t0 = c.when(t, local_hour=float(c.rng.uniform(1.5, 3.5)))
    rows = [_user_row(u, t, t0, "api_key.create", target_id=u["id"], target_type="user")]
    c.emit("api_key_night", t, u["id"], rows, ("suspicious_api_key",))


def _tampering(c: Ctx, t: Tenant) -> None:
    u, t0 = t.user(c.rng, "admin"), c.when(t)
    rows = [
        _user_row(
            u,
            t,
            t0,
            "audit_retention.update",
            target_id="audit",
            target_type="settings",
            changes='{"before":{"retention_days":365},"after":{"retention_days":7}}',
        ),
        _user_row(
            u,
            t,
            t0 + 60 * US,
            "audit_destination.remove",
            target_id="siem-1",
            target_type="destination",
        ),
        _user_row(
            u, t, t0 + 90 * US, "audit_log.disable", target_id="audit", target_type="settings"
        ),
    ]
    c.emit("audit_tampering", t, u["id"], rows, ("audit_tampering",))


def _mass(c: Ctx, t: Tenant, action: str, n: int, kind: str, detector: str) -> None:
    u, t0 = t.user(c.rng, "editor"), c.when(t)
    rows = [
        _user_row(u, t, t0 + i * 12 * US, action, target_id=f"doc-{i}", target_type="document")
        for i in range(n)
    ]
    c.emit(kind, t, u["id"], rows, (detector,))


def _dormant(c: Ctx, t: Tenant) -> None:
    u = next(x for x in t.users if x.get("leaver") and not x.get("involved"))
    u["involved"] = True
    t0 = c.when(t, min_day=u["leaver"] + 31)
    rows = [_user_row(u, t, t0, "user.login", observer_service="auth")]
    rows += [
        _user_row(
            u,
            t,
            t0 + (i + 1) * 45 * US,
            "document.read",
            target_id=f"doc-{i}",
            target_type="document",
        )
        for i in range(6)
    ]
    c.emit("dormant", t, u["id"], rows, ("dormant_account",))


def _break_glass(c: Ctx, t: Tenant) -> None:
    t0 = c.when(t)
    meta = '{"break_glass":true}'
    rows = [
        {
            "t": t0 + i * 60 * US,
            "action": a,
            "actor_id": "root",
            "metadata": meta,
            "observer_service": "auth" if a == "user.login" else "web",
            "source_ip": t.office_ip(),
        }
        for i, a in enumerate(["user.login", "settings.update", "user.update", "user.logout"])
    ]
    c.emit("break_glass", t, "root", rows, ("break_glass",))


def _volume(c: Ctx, t: Tenant) -> None:
    u, t0 = t.user(c.rng, "editor"), c.when(t)
    rows = [
        _user_row(
            u,
            t,
            t0 + i * 8 * US,
            "document.read",
            target_id=f"doc-{i % 97}",
            target_type="document",
        )
        for i in range(400)
    ]
    c.emit("volume_spike", t, u["id"], rows, ("volume_spike",))


def _rare(c: Ctx, t: Tenant) -> None:
    u, v, t0 = t.user(c.rng, "viewer"), t.user(c.rng, "editor"), c.when(t)
    rows = [
        _user_row(u, t, t0, "user.delete", target_id=v["id"], target_type="user"),
        _user_row(u, t, t0 + 40 * US, "team_member.remove", target_id=v["id"], target_type="user"),
    ]
    c.emit("rare_action", t, u["id"], rows, ("rare_action",))


def _odd_session(c: Ctx, t: Tenant) -> None:
    u, t0 = t.user(c.rng, "editor"), c.when(t)
    path = [
        "user.login",
        "document.delete",
        "document.share",
        "document.delete",
        "document.share",
        "document.delete",
        "document.share",
        "user.logout",
    ]
    rows = [
        _user_row(
            u,
            t,
            t0 + i * 50 * US,
            a,
            target_id=f"doc-{i}",
            target_type="document",
            session_id=f"{t.name}-odd-{c.count}",
        )
        for i, a in enumerate(path)
    ]
    c.emit("odd_session", t, u["id"], rows, ("unusual_session",))


def _logging_gap(c: Ctx, t: Tenant) -> None:
    start = c.when(t, local_hour=9.0)
    c.reserved.add((t.name, start // DAY))
    c.removals.append((t.name, "web", start, start + 8 * HOUR, f"gap-{c.count}"))


#: Kinds added after the scenarios' figures were pinned: generated after every other
#: incident and look-alike, so that those keep their tenants, times and events; in the
#: order they were added, each after the ones before it, so that those keep theirs too.
LATE_KINDS = (
    "transient_privilege",
    "made_public",
    "lookalike:shared_internally",
    "probe",
    "port_opened",
    "outside_door",
    "harvest",
    "mining",
    "backdoor",
    "key_wipe",
    "impersonation",
    "remote_shell",
    "no_mfa",
    "function_overwrite",
    "lookalike:pipeline_deploys",
    "llmjacking",
    "lookalike:model_trial",
    "sse_ransom",
    "lookalike:key_rotation",
    "role_spree",
    "lookalike:accounts_setup",
    "recon",
    "batch_wipe",
    "lookalike:hotel_cleanup",
    "lookalike:phone_cleanup",
    "lookalike:console_abroad",
)

INCIDENT_KINDS: dict[str, Callable[[Ctx, Tenant], None]] = {
    "brute_force": _brute_force,
    "brute_force_success": _brute_force_success,
    "password_spraying": _spraying,
    "impossible_travel": _impossible_travel,
    "new_country": _new_country,
    "self_grant": _self_grant,
    "admin_without_role": _admin_without_role,
    "privilege_burst": _privilege_burst,
    "mfa_disable": _mfa_disable,
    "push_fatigue": _push_fatigue,
    "api_key_other": _api_key_other,
    "api_key_night": _api_key_night,
    "audit_tampering": _tampering,
    "mass_export": lambda c, t: _mass(c, t, "document.export", 120, "mass_export", "mass_export"),
    "mass_deletion": lambda c, t: _mass(
        c, t, "document.delete", 60, "mass_deletion", "mass_deletion"
    ),
    "dormant": _dormant,
    "break_glass": _break_glass,
    "logging_gap": _logging_gap,
    "volume_spike": _volume,
    "rare_action": _rare,
    "odd_session": _odd_session,
    "transient_privilege": _transient_privilege,
}
