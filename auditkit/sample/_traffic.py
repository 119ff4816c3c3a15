"""Background traffic: sessions of people, batches of machines, routines of the system."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable
from itertools import accumulate
from math import exp
from statistics import NormalDist
from typing import Any

from auditkit.sample import _catalog as cat
from auditkit.sample._population import Actor, Source, Target, Tenant, new_entity, person_name
from auditkit.sample._records import (
    CATEGORIES,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    US_PER_SECOND,
    Rec,
    new_rec,
    say,
)

Act = tuple[tuple[Target, ...], str, str, dict[str, Any] | None, dict[str, Any] | None]
"""What an action handler decides: ``(targets, outcome, description, changes, metadata)``."""

VERB_TEXT: dict[str, tuple[str, str]] = {
    "read": ("viewed", "view"),
    "create": ("created", "create"),
    "update": ("updated", "update"),
    "delete": ("deleted", "delete"),
    "export": ("exported", "export"),
    "download": ("downloaded", "download"),
    "share": ("shared", "share"),
}
WRITE_VERBS = frozenset({"create", "update", "delete", "share"})
RISKY_VERBS = frozenset({"delete", "export", "share"})
LOGIN_FAILURE_RATE = 0.025
IDLE_TIMEOUT_MINUTES = 30


def _table(
    pairs: tuple[tuple[str, float], ...] | dict[str, float],
) -> tuple[list[str], list[float]]:
    items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    return [k for k, _ in items], list(accumulate(w for _, w in items))


ROLE_TABLES = {role: _table(mix) for role, mix in cat.ROLE_MIX.items()}
ENTITY_TABLE = _table(cat.ENTITY_WEIGHTS)
AUDITOR_ENTITY_TABLE = _table(cat.AUDITOR_ENTITY_WEIGHTS)
GAPS = [exp(NormalDist().inv_cdf((i + 0.5) / 1024)) for i in range(1024)]
"""Quantiles of a standard log-normal: ``GAPS[getrandbits(10)]`` is a fast log-normal draw."""
WEEKDAY_HOUR_CUM = list(accumulate(cat.WEEKDAY_HOURS))
WEEKEND_HOUR_CUM = list(accumulate(cat.WEEKEND_HOURS))


SERVICES = {action: "admin-console" for action, c in CATEGORIES.items() if c == "admin"}
"""The observer of actions people do in sessions, when it is not the ``webapp``."""
ACTION_NAMES = {(e, v): f"{e}.{v}" for e in cat.ENTITY_PREFIX for v in VERB_TEXT}


class Actions:
    """Builds records of one tenant into ``out``, drawing every choice from ``rng``."""

    def __init__(self, tenant: Tenant, rng: random.Random, out: list[Rec]) -> None:
        self.tenant = tenant
        self.rng = rng
        self.out = out

    # -- helpers ---------------------------------------------------------------------
    def pick(self, table: tuple[list[str], list[float]]) -> str:
        keys, cum = table
        return keys[bisect(cum, self.rng.random() * cum[-1])]

    def session_id(self) -> str:
        return f"ses_{self.rng.getrandbits(64):016x}"

    def gap(self, median_s: float = 55.0) -> int:
        """A think time between two clicks, in microseconds (log-normal, capped at 30 min)."""
        rng = self.rng
        return int(min(GAPS[rng.getrandbits(10)] * median_s + rng.random(), 1800.0) * US_PER_SECOND)

    def other_person(self, actor: Actor) -> Actor:
        people = self.tenant.people
        if len(people) == 1:
            return actor
        while True:
            other = self.rng.choice(people)
            if other is not actor:
                return other

    def record(
        self,
        t: int,
        actor: Actor,
        action: str,
        act: Act,
        source: Source | None,
        session: str | None,
        service: str,
    ) -> None:
        targets, outcome, description, changes, metadata = act
        self.out.append(
            new_rec(
                Rec,
                (t, actor, action, outcome, targets, source, service, session, description,
                 changes, metadata, None),
            )
        )  # fmt: skip

    # -- product records -------------------------------------------------------------
    def entity_act(
        self,
        actor: Actor,
        etype: str,
        verb: str,
        *,
        outcome: str | None = None,
        target: Target | None = None,
    ) -> Act:
        """Decide a ``<etype>.<verb>`` action: target, outcome, sentence, changes, metadata."""
        rng = self.rng
        if target is None:
            if verb == "create":
                target = new_entity(etype, rng)
            else:
                pool = self.tenant.entities[etype]
                target = pool[int(rng.random() * len(pool))]
        if outcome is None:
            r = rng.random()
            if "viewer" in actor.roles and verb in WRITE_VERBS:
                outcome = "denied" if r < 0.85 else "success"
            elif r < 0.003:
                outcome = "error"
            elif r < (0.023 if verb in RISKY_VERBS else 0.007):
                outcome = "denied"
            else:
                outcome = "success"
        past, inf = VERB_TEXT[verb]
        obj = f"{etype} '{target[2]}'"
        changes: dict[str, Any] | None = None
        metadata: dict[str, Any] | None = None
        if outcome == "success":
            if verb == "read" or verb == "download" or verb == "delete":
                return (target,), outcome, f"{actor.name} {past} {obj}", None, None
            if verb == "update":
                changes = self.field_change(cat.FIELD_CHANGES[etype])
            elif verb == "export":
                metadata = {"format": cat.EXPORT_FORMATS[int(rng.random() * 4)]}
            elif verb == "share":
                whom = rng.choice(cat.SHARE_WITH)
                metadata = {"shared_with": whom}
                obj = f"{obj} with {whom}"
        elif outcome == "denied":
            metadata = {"reason": "insufficient_permissions"}
        elif outcome == "error":
            metadata = {"error": rng.choice(cat.ERROR_CODES)}
        return (target,), outcome, say(actor.name, outcome, past, inf, obj), changes, metadata

    def field_change(self, fields: tuple[tuple[str, tuple[object, ...]], ...]) -> dict[str, Any]:
        random = self.rng.random
        name, values = fields[int(random() * len(fields))]
        i = int(random() * (len(values) - 1))
        return {"before": {name: values[i]}, "after": {name: values[i + 1]}}

    # -- sessions --------------------------------------------------------------------
    def login(
        self, actor: Actor, src: Source, t: int, session: str, *, may_fail: bool = True
    ) -> int | None:
        """Sign-in (with the odd typo first) and MFA; the time after, or None if abandoned."""
        rng = self.rng
        method = actor.auth_method
        if may_fail and rng.random() < LOGIN_FAILURE_RATE:
            reason = rng.choice(cat.LOGIN_FAILURE_REASONS)
            self.out.append(self.failed_login(actor, src, t, reason))
            if rng.random() < 0.2:
                return None
            t += int((4 + 36 * rng.random()) * US_PER_SECOND)
        self.out.append(
            Rec(
                t, actor, "user.login", "success", None, src, "webapp", session,
                f"{actor.name} signed in", None, {"auth_method": method},
            )
        )  # fmt: skip
        if actor.mfa:
            t += int((3 + 17 * rng.random()) * US_PER_SECOND)
            self.out.append(
                Rec(
                    t, actor, "mfa.challenge", "success", None, src, "webapp", session,
                    f"{actor.name} passed an MFA challenge", None, {"factor": "totp"},
                )
            )  # fmt: skip
        return t

    @staticmethod
    def failed_login(actor: Actor, src: Source, t: int, reason: str) -> Rec:
        return Rec(
            t, actor, "user.login", "failure", None, src, "webapp", None,
            f"Failed sign-in as {actor.name} ({reason.replace('_', ' ')})", None,
            {"auth_method": actor.auth_method, "failure_reason": reason},
        )  # fmt: skip

    def end_session(self, actor: Actor, src: Source, t: int, session: str) -> None:
        """Sign-out, or expiry by the system after the idle timeout."""
        if self.rng.random() < 0.6:
            t += self.gap(20.0)
            self.out.append(
                Rec(
                    t, actor, "user.logout", "success", None, src, "webapp", session,
                    f"{actor.name} signed out",
                )
            )  # fmt: skip
        else:
            t += IDLE_TIMEOUT_MINUTES * US_PER_MINUTE
            self.out.append(
                Rec(
                    t, self.tenant.system, "session.expire", "success", (actor.target,), None,
                    "webapp", session,
                    f"Session of {actor.name} expired after {IDLE_TIMEOUT_MINUTES} minutes idle",
                    None, {"idle_minutes": IDLE_TIMEOUT_MINUTES},
                )
            )  # fmt: skip

    def person_act(self, actor: Actor) -> tuple[str, Act]:
        """Draw what ``actor`` does next, according to their role."""
        random = self.rng.random
        keys, cum = ROLE_TABLES[actor.roles[0]]
        key = keys[bisect(cum, random() * cum[-1])]
        if key[0] == "@":
            etypes, ecum = AUDITOR_ENTITY_TABLE if "auditor" in actor.roles else ENTITY_TABLE
            etype = etypes[bisect(ecum, random() * ecum[-1])]
            return ACTION_NAMES[etype, key[1:]], self.entity_act(actor, etype, key[1:])
        return key, self.named_act(actor, key)

    def named_act(self, actor: Actor, key: str) -> Act:
        """A core action by a person; admin actions are denied to non-admins."""
        act = HANDLERS[key](self, actor, key)
        if SERVICES.get(key) is None:
            return act
        r = self.rng.random()
        if not actor.is_admin:
            outcome, meta = "denied", {"reason": "insufficient_permissions"}
            text = f"{actor.name} was denied permission to perform {key}"
        elif r < 0.01:
            outcome, meta = "error", {"error": self.rng.choice(cat.ERROR_CODES)}
            text = f"{actor.name} could not complete {key} because of a server error"
        else:
            return act
        return act[0], outcome, text, None, meta

    def session(self, actor: Actor, src: Source, t: int, cap: int) -> int:
        """A whole session of at most ``cap`` records from ``t``; returns how many.

        The loop inlines :meth:`gap` and :meth:`person_act` (same draws, in the same
        order): it makes most of the events.
        """
        out = self.out
        append = out.append
        n0 = len(out)
        sid = self.session_id()
        after = self.login(actor, src, t, sid)
        if after is None:
            return len(out) - n0
        t = after
        rng = self.rng
        random, getrandbits = rng.random, rng.getrandbits
        keys, cum = ROLE_TABLES[actor.roles[0]]
        etypes, ecum = AUDITOR_ENTITY_TABLE if "auditor" in actor.roles else ENTITY_TABLE
        total, etotal = cum[-1], ecum[-1]
        entity_act = self.entity_act
        n_actions = min(1 + int(rng.expovariate(0.2)), cap - 1 - (len(out) - n0))
        for _ in range(n_actions):
            t += int(min(GAPS[getrandbits(10)] * 55.0 + random(), 1800.0) * US_PER_SECOND)
            key = keys[bisect(cum, random() * total)]
            if key[0] == "@":
                verb = key[1:]
                etype = etypes[bisect(ecum, random() * etotal)]
                action = ACTION_NAMES[etype, verb]
                targets, outcome, text, changes, metadata = entity_act(actor, etype, verb)
                service = "webapp"
            else:
                action = key
                targets, outcome, text, changes, metadata = self.named_act(actor, key)
                service = SERVICES.get(action, "webapp")
            append(
                new_rec(
                    Rec,
                    (t, actor, action, outcome, targets, src, service, sid, text, changes,
                     metadata, None),
                )
            )  # fmt: skip
        if len(out) - n0 < cap:
            self.end_session(actor, src, t, sid)
        del out[n0 + cap :]
        return len(out) - n0


class Cell(Actions):
    """One tenant's background traffic on one simulation day."""

    def __init__(
        self,
        tenant: Tenant,
        rng: random.Random,
        out: list[Rec],
        *,
        day: int,
        day_us: int,
        weekend: bool,
    ) -> None:
        super().__init__(tenant, rng, out)
        self.day = day
        self.day_us = day_us
        self.weekend = weekend

    def fill(self, budget: int) -> None:
        """Append exactly ``budget`` records of background traffic."""
        n_system = self.system(max(0, budget // 6))
        rest = budget - n_system
        n_machines = round(rest * (0.5 if self.weekend else 0.1))
        left = self.people(rest - n_machines)
        self.machines(n_machines + left)

    def local_start(self, offset_hours: int, cum: list[float]) -> int:
        """A session start today (UTC), drawn from the local-hour profile ``cum``."""
        rng = self.rng
        hour = bisect(cum, rng.random() * cum[-1])
        local = hour * US_PER_HOUR + int(rng.random() * US_PER_HOUR)
        return self.day_us + (local - offset_hours * US_PER_HOUR) % US_PER_DAY

    def people(self, n: int) -> int:
        """Sessions of people until ``n`` records; returns what nobody could take.

        On weekdays, people who have not signed in for ``patience`` days come first (so
        that nobody looks dormant by chance); then people are drawn by their weight.
        """
        tenant, rng, day = self.tenant, self.rng, self.day
        people, cum = tenant.people, tenant.people_cum
        rem = n
        if not self.weekend:
            for actor in people:
                if rem <= 0:
                    break
                if day - actor.last_active >= actor.patience and day not in actor.blocked:
                    rem -= self.person_session(actor, rem)
        misses = 0
        while rem > 0:
            actor = people[bisect(cum, rng.random() * cum[-1])]
            if day in actor.blocked:
                misses += 1
                if misses > 64:
                    return rem
                continue
            rem -= self.person_session(actor, rem)
        return 0

    def person_session(self, actor: Actor, cap: int) -> int:
        """One session of ``actor`` today from where they are; returns its record count."""
        day = self.day
        src = actor.away.get(day)
        if src is None:
            r = self.rng.random()
            if r < 0.15:
                src = actor.mobile
            elif r < 0.8 and not self.weekend:
                src = actor.office
            src = src or actor.home
        assert src is not None
        actor.last_active = day
        hours = WEEKEND_HOUR_CUM if self.weekend else WEEKDAY_HOUR_CUM
        return self.session(actor, src, self.local_start(src.city.utc_offset, hours), cap)

    def machines(self, n: int) -> None:
        """Batches of API calls by service accounts and API keys, around the clock."""
        tenant, rng = self.tenant, self.rng
        machines, cum = tenant.machines, tenant.machines_cum
        rem = n
        while rem > 0:
            actor = machines[bisect(cum, rng.random() * cum[-1])]
            spec = actor.spec
            assert spec is not None and actor.home is not None
            if rng.random() < 0.5:
                t = self.day_us + int(rng.random() * US_PER_DAY)
            else:
                t = self.local_start(tenant.region_city.utc_offset, WEEKDAY_HOUR_CUM)
            table = _machine_table(spec)
            for _ in range(min(rem, 1 + int(rng.random() * 6))):
                etype, verb = self.pick(table).split(".")
                r = rng.random()
                outcome = "error" if r < 0.005 else ("denied" if r < 0.007 else "success")
                act = self.entity_act(actor, etype, verb, outcome=outcome)
                self.record(t, actor, f"{etype}.{verb}", act, actor.home, None, "api")
                t += 50_000 + int(rng.random() * 3 * US_PER_SECOND)
                rem -= 1

    def system(self, cap: int) -> int:
        """Scheduled jobs, expiring share links and licenses; at most ``cap`` records."""
        tenant, rng = self.tenant, self.rng
        system = tenant.system
        recs: list[Rec] = []
        for name, hour, minute in cat.SCHEDULED_JOBS:
            t = self.day_us + hour * US_PER_HOUR + minute * US_PER_MINUTE
            t += rng.randrange(90 * US_PER_SECOND)
            failed = rng.random() < 0.015
            meta: dict[str, Any] = {"duration_ms": rng.randint(800, 240_000)}
            if failed:
                meta["error"] = rng.choice(cat.ERROR_CODES)
            text = f"Job {name} {'failed' if failed else 'completed'}"
            recs.append(
                Rec(
                    t, system, "job.run", "error" if failed else "success",
                    ((f"job-{name}", "job", name),), None, "scheduler", None, text, None, meta,
                )
            )  # fmt: skip
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            doc = rng.choice(tenant.entities["document"])
            recs.append(
                Rec(
                    self.day_us + rng.randrange(US_PER_DAY), system, "entity.expire", "success",
                    (doc,), None, "scheduler", None,
                    f"Public link to document '{doc[2]}' expired", None,
                    {"reason": "share_link_expired"},
                )
            )  # fmt: skip
        if self.day == tenant.license_day:
            recs.append(
                Rec(
                    self.day_us + rng.randrange(US_PER_HOUR), system, "license.expire",
                    "success", (("lic-analytics", "license", "Analytics add-on"),), None,
                    "scheduler", None, "License 'Analytics add-on' expired", None,
                    {"seats": rng.choice((5, 10, 25))},
                )
            )  # fmt: skip
        del recs[cap:]
        self.out.extend(recs)
        return len(recs)


_MACHINE_TABLES: dict[str, tuple[list[str], list[float]]] = {}


def _machine_table(spec: cat.ServiceSpec) -> tuple[list[str], list[float]]:
    table = _MACHINE_TABLES.get(spec.slug)
    if table is None:
        table = _MACHINE_TABLES[spec.slug] = _table(
            tuple((f"{etype}.{verb}", w) for etype, verb, w in spec.actions)
        )
    return table


# -- named actions: one handler per core action that people do in sessions -------------
Handler = Callable[[Actions, Actor, str], Act]
HANDLERS: dict[str, Handler] = {}


def handles(*actions: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for action in actions:
            HANDLERS[action] = fn
        return fn

    return register


@handles("role.grant", "role.revoke")
def _role(a: Actions, actor: Actor, action: str) -> Act:
    other = a.other_person(actor)
    grant = action == "role.grant"
    role = a.rng.choice(cat.GRANTABLE_ROLES)
    text = f"granted role '{role}' to" if grant else f"revoked role '{role}' from"
    return (other.target,), "success", f"{actor.name} {text} {other.name}", None, {"role": role}


@handles("permission.grant", "permission.revoke")
def _permission(a: Actions, actor: Actor, action: str) -> Act:
    other = a.other_person(actor)
    perm = a.rng.choice(cat.PERMISSIONS)
    text = "granted" if action == "permission.grant" else "revoked"
    text = f"{actor.name} {text} permission '{perm}' {'to' if text == 'granted' else 'from'}"
    return (other.target,), "success", f"{text} {other.name}", None, {"permission": perm}


@handles("settings.update")
def _settings(a: Actions, actor: Actor, action: str) -> Act:
    changes = a.field_change(cat.SETTINGS_CHANGES)
    key = next(iter(changes["after"]))
    target = (f"settings-{a.tenant.tenant_id}", "settings", "Organisation settings")
    return (target,), "success", f"{actor.name} changed setting '{key}'", changes, None


@handles("policy.update")
def _policy(a: Actions, actor: Actor, action: str) -> Act:
    pid, name, key, values = a.rng.choice(cat.POLICIES)
    i = a.rng.randrange(len(values) - 1)
    changes = {"before": {key: values[i]}, "after": {key: values[i + 1]}}
    return ((pid, "policy", name),), "success", f"{actor.name} updated {name}", changes, None


@handles("integration.add", "integration.remove")
def _integration(a: Actions, actor: Actor, action: str) -> Act:
    iid, name = a.rng.choice(cat.INTEGRATIONS)
    verb = "added" if action == "integration.add" else "removed"
    return ((iid, "integration", name),), "success", f"{actor.name} {verb} {name}", None, None


@handles("api_key.create")
def _api_key_create(a: Actions, actor: Actor, action: str) -> Act:
    key = (f"key-{a.rng.getrandbits(40):010x}", "api_key", f"{actor.name.split()[0]}'s key")
    meta = {"owner_id": actor.id, "scopes": ["read"]}
    return (key, actor.target), "success", f"{actor.name} created API key '{key[2]}'", None, meta


@handles("api_key.revoke")
def _api_key_revoke(a: Actions, actor: Actor, action: str) -> Act:
    key = (f"key-{a.rng.getrandbits(40):010x}", "api_key", "Unused key")
    return (key,), "success", f"{actor.name} revoked API key '{key[2]}'", None, None


@handles("sso.update")
def _sso(a: Actions, actor: Actor, action: str) -> Act:
    changes = {
        "before": {"certificate_expires": "2026-04-01"},
        "after": {"certificate_expires": "2027-04-01"},
    }
    target = ("sso-saml", "sso", "SAML configuration")
    return (target,), "success", f"{actor.name} rotated the SAML certificate", changes, None


@handles("audit_destination.add")
def _audit_destination(a: Actions, actor: Actor, action: str) -> Act:
    target = ("dest-siem", "audit_destination", "SIEM stream")
    return (target,), "success", f"{actor.name} added audit destination 'SIEM stream'", None, None


@handles("audit_retention.update")
def _retention(a: Actions, actor: Actor, action: str) -> Act:
    changes = {"before": {"retention_days": 365}, "after": {"retention_days": 730}}
    target = ("audit-log", "audit_log", "Audit log")
    text = f"{actor.name} extended audit log retention from 365 to 730 days"
    return (target,), "success", text, changes, None


@handles("user.invite", "user.create")
def _new_user(a: Actions, actor: Actor, action: str) -> Act:
    first, last = person_name(a.rng)
    new = (f"u-n{a.rng.getrandbits(24):06x}", "user", f"{first} {last}")
    role = a.rng.choice(("member", "member", "viewer"))
    verb = "invited" if action == "user.invite" else "created the account of"
    return (new,), "success", f"{actor.name} {verb} {new[2]} as {role}", None, {"role": role}


@handles("user.update")
def _user_update(a: Actions, actor: Actor, action: str) -> Act:
    other = actor if not actor.is_admin or a.rng.random() < 0.3 else a.other_person(actor)
    if a.rng.random() < 0.5:
        changes = a.field_change((("title", cat.JOB_TITLES),))
    else:
        changes = a.field_change((("department", cat.DEPARTMENTS),))
    return (
        (other.target,),
        "success",
        f"{actor.name} updated the profile of {other.name}",
        changes,
        None,
    )


@handles("user.suspend", "user.delete")
def _leaver(a: Actions, actor: Actor, action: str) -> Act:
    first, last = person_name(a.rng)
    gone = (f"u-x{a.rng.getrandbits(24):06x}", "user", f"{first} {last}")
    verb = "suspended" if action == "user.suspend" else "deleted"
    text = f"{actor.name} {verb} the account of {gone[2]}"
    return (gone,), "success", text, None, {"reason": "leaver"}


@handles("team.create")
def _team(a: Actions, actor: Actor, action: str) -> Act:
    name = a.rng.choice(cat.TEAMS)
    team = (f"team-{name.lower().replace(' ', '-')}", "team", name)
    return (team,), "success", f"{actor.name} created team '{name}'", None, None


@handles("team_member.add", "team_member.remove")
def _team_member(a: Actions, actor: Actor, action: str) -> Act:
    name = a.rng.choice(cat.TEAMS)
    team = (f"team-{name.lower().replace(' ', '-')}", "team", name)
    other = a.other_person(actor)
    text = f"added {other.name} to" if action == "team_member.add" else f"removed {other.name} from"
    return (team, other.target), "success", f"{actor.name} {text} team '{name}'", None, None


@handles("password.change")
def _password_change(a: Actions, actor: Actor, action: str) -> Act:
    return (actor.target,), "success", f"{actor.name} changed their password", None, None


@handles("password.reset")
def _password_reset(a: Actions, actor: Actor, action: str) -> Act:
    other = a.other_person(actor)
    text = f"{actor.name} sent a password reset link to {other.name}"
    return (other.target,), "success", text, None, {"method": "email_link"}


@handles("mfa.reset")
def _mfa_reset(a: Actions, actor: Actor, action: str) -> Act:
    return (
        (actor.target,),
        "success",
        f"{actor.name} re-enrolled their MFA device",
        None,
        {"factor": "totp"},
    )


@handles("mfa.disable")
def _mfa_disable_other(a: Actions, actor: Actor, action: str) -> Act:
    other = a.other_person(actor)
    text = f"{actor.name} disabled MFA for {other.name}"
    return (other.target,), "success", text, None, {"reason": "lost_device"}
