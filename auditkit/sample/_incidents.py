"""Injected security incidents: the labelled needles in the sample haystack.

Each injector writes the incident's records (its *evidence*, plus a little context such
as the sign-in before the misdeed) and returns the evidence records. The generator keeps
the incident's actors out of the background traffic on the incident's day, so that the
labels stay clean: what a detector finds there is the incident.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from auditkit.sample import _catalog as cat
from auditkit.sample._population import Actor, AddressBook, Source, Target, Tenant
from auditkit.sample._records import (
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    US_PER_SECOND,
    Rec,
    format_ts,
    uuid7_string,
)
from auditkit.sample._traffic import SERVICES, Actions

MIN_DAYS_FOR_DORMANT = 70
"""The dormant-account incident needs 60 idle days and some activity before them."""


class IncidentKind(StrEnum):
    """The kinds of incident the sample generator injects."""

    BRUTE_FORCE = "brute_force"
    PASSWORD_SPRAYING = "password_spraying"
    IMPOSSIBLE_TRAVEL = "impossible_travel"
    SELF_GRANTED_ADMIN = "self_granted_admin"
    MFA_DISABLED_MASS_EXPORT = "mfa_disabled_mass_export"
    AUDIT_LOG_TAMPERING = "audit_log_tampering"
    OFF_HOURS_API_KEY = "off_hours_api_key"
    DORMANT_ACCOUNT = "dormant_account"
    BREAK_GLASS = "break_glass"
    MASS_DELETION = "mass_deletion"


@dataclass(frozen=True, slots=True)
class Incident:
    """One injected incident and the events that show it.

    Attributes
    ----------
    kind : str
        An :class:`IncidentKind` value, e.g. ``"brute_force"``.
    tenant_id : str
        The tenant whose trail holds the incident.
    actor_id : str or None
        The principal the incident is about (``None`` for password spraying, which is
        about one source address and many accounts).
    event_ids : tuple of str
        The evidence, in time order: the events a detector should cite.
    description : str
        What happened, in one or two sentences.
    first_seen, last_seen : str
        ``occurred_at`` of the first and the last evidence event.
    source_ip : str or None
        The attacker's address where the incident has one.
    """

    kind: str
    tenant_id: str
    actor_id: str | None
    event_ids: tuple[str, ...]
    description: str
    first_seen: str
    last_seen: str
    source_ip: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``event_ids`` as a list).

        Examples
        --------
        >>> inc = Incident("brute_force", "acme", "u-0001", ("e1",), "...", "t0", "t1")
        >>> inc.to_dict()["event_ids"]
        ['e1']
        """
        return {
            "kind": str(self.kind),
            "tenant_id": self.tenant_id,
            "actor_id": self.actor_id,
            "source_ip": self.source_ip,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "description": self.description,
            "event_ids": list(self.event_ids),
        }


def _distance_km(a: cat.City, b: cat.City) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 12742.0 * math.asin(math.sqrt(h))


class Injector(Actions):
    """Writes all incidents of one sample into one record list."""

    def __init__(
        self, tenants: list[Tenant], *, seed: int, days: int, day0_us: int, start_weekday: int
    ) -> None:
        rng = random.Random(f"auditkit-sample/{seed}/incidents")
        super().__init__(tenants[0], rng, [])
        self.tenants = tenants
        self.days = days
        self.day0_us = day0_us
        self.start_weekday = start_weekday
        self.used: set[str] = set()
        self.sprayed: set[str] = set()
        self.book = AddressBook()
        self.incidents: list[Incident] = []
        self._prefixes: dict[int, str] = {}

    # -- planning helpers ------------------------------------------------------------
    def weekday(self, day: int) -> bool:
        return (self.start_weekday + day) % 7 < 5

    def spread_day(self, slot: int, slots: int, *, weekday: bool = True) -> int:
        """Day of the ``slot``-th incident out of ``slots``, moved to a (week)day."""
        day = min(self.days - 1, int((slot + 0.5) * self.days / slots))
        for delta in (0, 1, -1, 2, -2, 3, -3):
            d = day + delta
            if 0 <= d < self.days and self.weekday(d) == weekday:
                return d
        return day

    def choose(
        self, prefer: int, day: int, ok: Callable[[Actor], bool], *, span: int = 1
    ) -> Actor | None:
        """A person not used by another incident, free around ``day``, from a tenant."""
        n = len(self.tenants)
        for k in range(n):
            tenant = self.tenants[(prefer + k) % n]
            free = [
                p
                for p in tenant.people
                if p.id not in self.used
                and ok(p)
                and not any(
                    d in p.blocked or d in p.away for d in range(day - span, day + span + 1)
                )
            ]
            if free:
                actor = self.rng.choice(free)
                self.used.add(actor.id)
                self.tenant = tenant
                return actor
        return None

    def at(self, day: int, hour: int, minute: int, offset: int = 0) -> int:
        """UTC microseconds of local ``hour:minute`` (UTC offset ``offset``) on ``day``."""
        local = (hour * 60 + minute) * US_PER_MINUTE + self.rng.randrange(US_PER_MINUTE)
        return self.day0_us + day * US_PER_DAY + (local - offset * US_PER_HOUR) % US_PER_DAY

    def attacker(self, agent: str) -> Source:
        """An address in the documentation range, in a country where the tenant has nobody."""
        local = {p.home.city.country for p in self.tenant.people if p.home is not None}
        city = self.rng.choice([c for c in cat.CITIES.values() if c.country not in local])
        return Source(self.book.take("203.0.113", 200, 254), agent, city)

    def close(
        self,
        kind: IncidentKind,
        start: int,
        evidence: list[int],
        actor: Actor | None,
        text: str,
        ip: str | None = None,
    ) -> None:
        """Give every new record an id and file the incident."""
        out = self.out
        rng = self.rng
        for i in range(start, len(out)):
            if out[i].event_id is None:
                out[i] = out[i]._replace(event_id=uuid7_string(out[i].us, rng.getrandbits(74)))
        ev = [out[i] for i in evidence]
        ids = tuple(r.event_id for r in ev if r.event_id is not None)
        self.incidents.append(
            Incident(
                kind=kind.value,
                tenant_id=self.tenant.tenant_id,
                actor_id=actor.id if actor is not None else None,
                event_ids=ids,
                description=text,
                first_seen=format_ts(min(r.us for r in ev), self._prefixes),
                last_seen=format_ts(max(r.us for r in ev), self._prefixes),
                source_ip=ip,
            )
        )

    def emit(self, rec: Rec) -> int:
        self.out.append(rec)
        return len(self.out) - 1

    def act(
        self,
        t: int,
        actor: Actor,
        action: str,
        src: Source | None,
        sid: str | None,
        *,
        text: str,
        targets: tuple[Target, ...] | None = None,
        changes: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Append one successful action; returns its index."""
        service = SERVICES.get(action, "webapp")
        rec = Rec(t, actor, action, "success", targets, src, service, sid, text, changes, metadata)
        return self.emit(rec)

    def do(
        self,
        t: int,
        actor: Actor,
        etype: str,
        verb: str,
        src: Source | None,
        sid: str | None,
        *,
        service: str = "webapp",
        target: Target | None = None,
    ) -> int:
        """Append one successful ``<etype>.<verb>``; returns its index."""
        act = self.entity_act(actor, etype, verb, outcome="success", target=target)
        self.record(t, actor, f"{etype}.{verb}", act, src, sid, service)
        return len(self.out) - 1

    def sign_in(self, actor: Actor, src: Source, t: int) -> tuple[str, int, int]:
        """A successful sign-in; returns ``(session id, index of the login, time after)``."""
        sid = self.session_id()
        n0 = len(self.out)
        after = self.login(actor, src, t, sid, may_fail=False)
        assert after is not None
        return sid, n0, after

    # -- the incidents ---------------------------------------------------------------
    def brute_force(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots)
        victim = self.choose(0, day, lambda p: not p.is_admin)
        if victim is None or victim.home is None:
            return
        victim.blocked.add(day)
        src = self.attacker(cat.ATTACK_AGENTS[0])
        t = self.at(day, 2, 13)
        n0 = len(self.out)
        evidence = []
        for _ in range(25):
            evidence.append(self.emit(self.failed_login(victim, src, t, "invalid_password")))
            t += self.rng.randint(15, 22) * US_PER_SECOND
        sid, i, t = self.sign_in(victim, src, t + 10 * US_PER_SECOND)
        evidence.append(i)
        for _ in range(4):
            t += self.gap(20.0)
            verb = self.rng.choice(("read", "download", "export"))
            self.do(t, victim, "document", verb, src, sid)
        self.end_session(victim, src, t, sid)
        self.close(
            IncidentKind.BRUTE_FORCE,
            n0,
            evidence,
            victim,
            f"25 failed sign-ins as {victim.name} from {src.ip} ({src.city.name}) within 10 "
            "minutes, then a successful sign-in from the same address.",
            src.ip,
        )

    def password_spraying(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots)
        tenant = max(self.tenants, key=lambda t: len(t.people))
        self.tenant = tenant
        victims = self.rng.sample(tenant.people, min(20, len(tenant.people)))
        self.sprayed.update(v.id for v in victims)
        src = self.attacker(cat.ATTACK_AGENTS[1])
        t = self.at(day, 4, 40)
        n0 = len(self.out)
        evidence = []
        for v in victims:
            evidence.append(self.emit(self.failed_login(v, src, t, "invalid_password")))
            t += self.rng.randint(20, 70) * US_PER_SECOND
        self.close(
            IncidentKind.PASSWORD_SPRAYING,
            n0,
            evidence,
            None,
            f"{len(victims)} accounts of {tenant.tenant_id} each failed one sign-in from "
            f"{src.ip} ({src.city.name}) within half an hour.",
            src.ip,
        )

    def impossible_travel(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots)
        actor = self.choose(
            1 % len(self.tenants),
            day,
            lambda p: p.home is not None and p.home.city.name == "Berlin",
        )
        actor = actor or self.choose(1 % len(self.tenants), day, lambda p: True)
        if actor is None or actor.home is None:
            return
        actor.blocked.update((day, day + 1))
        home = actor.office or actor.home
        far = cat.CITIES["Sydney"]
        if _distance_km(home.city, far) < 8000:
            far = max(cat.CITIES.values(), key=lambda c: _distance_km(home.city, c))
        away = Source(self.book.take("203.0.113", 200, 254), cat.MOBILE_AGENTS[1], far)
        n0 = len(self.out)
        t0 = self.at(day, 9, 5, home.city.utc_offset)
        sid, first, t = self.sign_in(actor, home, t0)
        for _ in range(2):
            t += self.gap()
            self.do(t, actor, "document", "read", home, sid)
        sid2, second, t = self.sign_in(actor, away, t0 + 40 * US_PER_MINUTE)
        for verb in ("read", "download", "export"):
            t += self.gap(30.0)
            self.do(t, actor, "customer", verb, away, sid2)
        self.end_session(actor, away, t, sid2)
        km = round(_distance_km(home.city, far))
        self.close(
            IncidentKind.IMPOSSIBLE_TRAVEL,
            n0,
            [first, second],
            actor,
            f"{actor.name} signed in from {home.city.name} and 40 minutes later from "
            f"{far.name} ({km} km away).",
            away.ip,
        )

    def self_granted_admin(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots)
        actor = self.choose(2 % len(self.tenants), day, lambda p: p.roles == ("member",))
        if actor is None or actor.home is None:
            return
        actor.blocked.add(day)
        src = actor.office or actor.home
        n0 = len(self.out)
        sid, _, t = self.sign_in(actor, src, self.at(day, 15, 20, src.city.utc_offset))
        t += self.gap()
        self.do(t, actor, "report", "read", src, sid)
        t += self.gap()
        grant = self.act(
            t,
            actor,
            "role.grant",
            src,
            sid,
            targets=(actor.target,),
            metadata={"role": "admin"},
            text=f"{actor.name} granted role 'admin' to themselves",
        )
        t += self.gap()
        self.act(
            t,
            actor,
            "settings.update",
            src,
            sid,
            targets=((f"settings-{self.tenant.tenant_id}", "settings", "Organisation settings"),),
            changes={
                "before": {"data_export_enabled": False},
                "after": {"data_export_enabled": True},
            },
            text=f"{actor.name} changed setting 'data_export_enabled'",
        )
        self.end_session(actor, src, t, sid)
        owner = self.tenant.people[0]
        if day + 1 < self.days and owner is not actor and owner.home is not None:
            t = self.at(day + 1, 10, 2, owner.home.city.utc_offset)
            self.act(
                t,
                owner,
                "role.revoke",
                owner.office or owner.home,
                None,
                targets=(actor.target,),
                metadata={"role": "admin"},
                text=f"{owner.name} revoked role 'admin' from {actor.name}",
            )
        self.close(
            IncidentKind.SELF_GRANTED_ADMIN,
            n0,
            [grant],
            actor,
            f"{actor.name}, a member, granted themselves the admin role.",
        )

    def mfa_disabled_mass_export(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots)
        actor = self.choose(1 % len(self.tenants), day, lambda p: p.mfa and "viewer" not in p.roles)
        actor = actor or self.choose(1 % len(self.tenants), day, lambda p: "viewer" not in p.roles)
        if actor is None or actor.home is None:
            return
        actor.blocked.add(day)
        src = actor.home
        n0 = len(self.out)
        sid, _, t = self.sign_in(actor, src, self.at(day, 19, 5, src.city.utc_offset))
        t += self.gap()
        evidence = [
            self.act(
                t,
                actor,
                "mfa.disable",
                src,
                sid,
                targets=(actor.target,),
                metadata={"factor": "totp"},
                text=f"{actor.name} disabled MFA on their account",
            )
        ]
        t += 2 * US_PER_MINUTE
        docs = self.rng.sample(
            self.tenant.entities["document"], min(60, len(self.tenant.entities["document"]))
        )
        for k in range(60):
            doc = docs[k % len(docs)]
            evidence.append(self.do(t, actor, "document", "export", src, sid, target=doc))
            t += self.rng.randint(11, 15) * US_PER_SECOND
        self.end_session(actor, src, t, sid)
        self.close(
            IncidentKind.MFA_DISABLED_MASS_EXPORT,
            n0,
            evidence,
            actor,
            f"{actor.name} disabled MFA, then exported 60 documents within 15 minutes.",
        )

    def audit_log_tampering(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots)
        actor = self.choose(2 % len(self.tenants), day, lambda p: p.is_admin)
        if actor is None or actor.home is None:
            return
        actor.blocked.add(day)
        src = actor.home
        target = (("audit-log", "audit_log", "Audit log"),)
        n0 = len(self.out)
        sid, _, t = self.sign_in(actor, src, self.at(day, 22, 30, src.city.utc_offset))
        t += self.gap()
        shorten = self.act(
            t,
            actor,
            "audit_retention.update",
            src,
            sid,
            targets=target,
            changes={"before": {"retention_days": 365}, "after": {"retention_days": 7}},
            text=f"{actor.name} shortened audit log retention from 365 to 7 days",
        )
        t += 3 * US_PER_MINUTE
        disable = self.act(
            t,
            actor,
            "audit_log.disable",
            src,
            sid,
            targets=target,
            changes={"before": {"enabled": True}, "after": {"enabled": False}},
            text=f"{actor.name} disabled the audit log",
        )
        self.end_session(actor, src, t, sid)
        self.close(
            IncidentKind.AUDIT_LOG_TAMPERING,
            n0,
            [shorten, disable],
            actor,
            f"{actor.name} cut audit log retention from 365 to 7 days, then disabled the "
            "audit log.",
        )

    def off_hours_api_key(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots)
        actor = self.choose(
            0, day, lambda p: p.is_admin and p.home is not None and p.home.city.utc_offset == 0
        )
        actor = actor or self.choose(0, day, lambda p: p.is_admin)
        if actor is None or actor.home is None:
            return
        actor.blocked.add(day)
        src = actor.home
        owner = next((p for p in self.tenant.people if p is not actor and not p.is_admin), None)
        owner = owner or self.other_person(actor)
        n0 = len(self.out)
        sid, _, t = self.sign_in(actor, src, self.at(day, 3, 7, src.city.utc_offset))
        t += self.gap()
        key = Actor(
            id=f"key-{self.rng.getrandbits(40):010x}",
            type="api_key",
            name=f"{owner.name.split()[0]}'s key",
            email=None,
            roles=(),
            tenant_id=self.tenant.tenant_id,
            home=self.attacker("python-httpx/0.27.2"),
        )
        create = self.act(
            t,
            actor,
            "api_key.create",
            src,
            sid,
            targets=(key.target, owner.target),
            metadata={"owner_id": owner.id, "scopes": ["read", "export"]},
            text=f"{actor.name} created API key '{key.name}' for {owner.name}",
        )
        self.end_session(actor, src, t, sid)
        t += 20 * US_PER_MINUTE
        for _ in range(5):
            t += self.rng.randint(1, 9) * US_PER_MINUTE
            self.do(t, key, "customer", "export", key.home, None, service="api")
        local = (src.city.utc_offset * US_PER_HOUR + self.out[create].us) % US_PER_DAY
        hh, mm = divmod(local // US_PER_MINUTE, 60)
        self.close(
            IncidentKind.OFF_HOURS_API_KEY,
            n0,
            [create],
            actor,
            f"{actor.name} created an API key for {owner.name} at {hh:02d}:{mm:02d} local time "
            f"({src.city.name}); the key exported customers soon after.",
        )

    def dormant_account(self, slot: int, slots: int) -> None:
        if self.days < MIN_DAYS_FOR_DORMANT:
            return
        last = self.rng.randint(3, min(12, self.days - 63))
        day = self.rng.randint(last + 62, self.days - 1)
        while not self.weekday(day) and day > last + 62:
            day -= 1
        actor = self.choose(
            1 % len(self.tenants),
            day,
            lambda p: (
                p.roles[0] in ("member", "auditor")
                and not p.away
                and not p.blocked
                and p.id not in self.sprayed
            ),
        )
        if actor is None or actor.home is None:
            return
        actor.blocked.update(range(self.days))
        src = actor.office or actor.home
        n0 = len(self.out)
        for d in [*sorted(self.rng.sample(range(last), 2)), last]:
            self.session(actor, src, self.at(d, 10, 0, src.city.utc_offset), 12)
        n1 = len(self.out)
        sid, login, t = self.sign_in(
            actor, actor.home, self.at(day, 10, 30, actor.home.city.utc_offset)
        )
        for verb in ("read", "read", "export", "download"):
            t += self.gap()
            self.do(t, actor, "customer", verb, actor.home, sid)
        self.end_session(actor, actor.home, t, sid)
        idle = (self.out[login].us - max(r.us for r in self.out[n0:n1])) // US_PER_DAY
        self.close(
            IncidentKind.DORMANT_ACCOUNT,
            n0,
            [login],
            actor,
            f"{actor.name} signed in again after {idle} days without any activity.",
        )

    def break_glass(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots, weekday=False)
        tenant = self.tenants[2 % len(self.tenants)]
        self.tenant = tenant
        root = tenant.root
        assert root.home is not None
        src = root.home
        n0 = len(self.out)
        sid, login, t = self.sign_in(root, src, self.at(day, 1, 50, src.city.utc_offset))
        evidence = [login]
        t += self.gap()
        evidence.append(
            self.act(
                t,
                root,
                "settings.update",
                src,
                sid,
                targets=((f"settings-{tenant.tenant_id}", "settings", "Organisation settings"),),
                changes={
                    "before": {"ip_allowlist_enabled": True},
                    "after": {"ip_allowlist_enabled": False},
                },
                text="root changed setting 'ip_allowlist_enabled'",
            )
        )
        other = self.rng.choice(tenant.people)
        t += self.gap()
        evidence.append(
            self.act(
                t,
                root,
                "role.grant",
                src,
                sid,
                targets=(other.target,),
                metadata={"role": "admin"},
                text=f"root granted role 'admin' to {other.name}",
            )
        )
        t += self.gap()
        evidence.append(self.act(t, root, "user.logout", src, sid, text="root signed out"))
        self.close(
            IncidentKind.BREAK_GLASS,
            n0,
            evidence,
            root,
            f"The break-glass account 'root' of {tenant.tenant_id} signed in at night, turned off "
            "the IP allowlist and granted an admin role.",
        )

    def mass_deletion(self, slot: int, slots: int) -> None:
        day = self.spread_day(slot, slots)
        actor = self.choose(0, day, lambda p: p.roles == ("member",))
        if actor is None or actor.home is None:
            return
        actor.blocked.add(day)
        src = actor.office or actor.home
        n0 = len(self.out)
        sid, _, t = self.sign_in(actor, src, self.at(day, 16, 45, src.city.utc_offset))
        t += self.gap()
        evidence = []
        pool = self.tenant.entities["document"] + self.tenant.entities["project"]
        for target in self.rng.sample(pool, min(40, len(pool))):
            evidence.append(self.do(t, actor, target[1], "delete", src, sid, target=target))
            t += self.rng.randint(10, 14) * US_PER_SECOND
        self.end_session(actor, src, t, sid)
        self.close(
            IncidentKind.MASS_DELETION,
            n0,
            evidence,
            actor,
            f"{actor.name} deleted {len(evidence)} documents and projects within 10 minutes.",
        )


ORDER: tuple[Callable[[Injector, int, int], None], ...] = (
    Injector.brute_force,
    Injector.self_granted_admin,
    Injector.impossible_travel,
    Injector.mass_deletion,
    Injector.password_spraying,
    Injector.audit_log_tampering,
    Injector.mfa_disabled_mass_export,
    Injector.break_glass,
    Injector.off_hours_api_key,
    Injector.dormant_account,
)
"""Injectors in time order over the period (the dormant account always comes last)."""


def inject(
    tenants: list[Tenant],
    *,
    seed: int,
    days: int,
    day0_us: int,
    start_weekday: int,
    events: int | None = None,
) -> tuple[list[Incident], list[Rec]]:
    """Plan every incident; returns the labels and all their records (ids assigned).

    A sample of ``events`` records too small for every incident keeps only the
    incidents whose records fit in half of it, in :data:`ORDER`, skipping those
    that would overflow: a subset of the same incidents, each whole (its labelled
    evidence and the context around it).
    """
    inj = Injector(tenants, seed=seed, days=days, day0_us=day0_us, start_weekday=start_weekday)
    groups: list[tuple[list[Incident], list[Rec]]] = []
    for slot, fn in enumerate(ORDER):
        n_inc, n_out = len(inj.incidents), len(inj.out)
        fn(inj, slot, len(ORDER))
        groups.append((inj.incidents[n_inc:], inj.out[n_out:]))
    if events is None or len(inj.out) <= events:
        return inj.incidents, inj.out
    labels: list[Incident] = []
    recs: list[Rec] = []
    for incidents, records in groups:
        if len(recs) + len(records) <= events // 2:
            labels += incidents
            recs += records
    return labels, recs
