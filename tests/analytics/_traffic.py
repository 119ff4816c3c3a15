"""Background traffic for the labelled scenarios: a small SaaS product, vectorised.

Tenants in different time zones; admins, editors and viewers working office hours
in sessions (a Markov walk over their role's actions), with typos, forgotten
passwords, MFA prompts and vacations; service accounts syncing around the clock;
a nightly backup; CI keys; the system's own jobs.  numpy draws everything from
one seeded generator, so a million events take seconds and the same seed gives
the same events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from auditkit.schema import CORE_ACTIONS, FRAME_SCHEMA

US = 1_000_000
HOUR = 3600 * US
DAY = 24 * HOUR
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday

_TENANTS = (
    # name, country, utc offset (hours), cities (name, lat, lon)
    ("acme", "US", -5, (("New York", 40.71, -74.01), ("Boston", 42.36, -71.06))),
    ("globex", "DE", 1, (("Berlin", 52.52, 13.40), ("Munich", 48.14, 11.58))),
    ("initech", "JP", 9, (("Tokyo", 35.68, 139.69), ("Osaka", 34.69, 135.50))),
    ("umbrella", "GB", 0, (("London", 51.51, -0.13), ("Manchester", 53.48, -2.24))),
    ("hooli", "BR", -3, (("Sao Paulo", -23.55, -46.63), ("Rio de Janeiro", -22.91, -43.17))),
)
ABROAD = (
    ("Lagos", "NG", 6.52, 3.38),
    ("Hanoi", "VN", 21.03, 105.85),
    ("Lima", "PE", -12.05, -77.04),
)
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0) Chrome/131",
    "Mozilla/5.0 (Macintosh) Safari/18",
    "okhttp/4.12",
)

# Body actions per role (probabilities), and the action each one tends to lead to.
_ROLE_ACTIONS: dict[str, dict[str, float]] = {
    "viewer": {
        "document.read": 0.55,
        "search.query": 0.2,
        "comment.create": 0.1,
        "document.download": 0.07,
        "dashboard.view": 0.08,
    },
    "editor": {
        "document.read": 0.33,
        "document.update": 0.2,
        "document.create": 0.08,
        "comment.create": 0.1,
        "search.query": 0.12,
        "document.share": 0.04,
        "document.export": 0.03,
        "document.download": 0.04,
        "document.delete": 0.02,
        "dashboard.view": 0.035,
        "api_key.create": 0.005,
    },
    "admin": {
        "document.read": 0.3,
        "document.update": 0.1,
        "search.query": 0.1,
        "dashboard.view": 0.1,
        "user.invite": 0.05,
        "user.update": 0.06,
        "role.grant": 0.012,
        "role.revoke": 0.004,
        "settings.update": 0.05,
        "team_member.add": 0.05,
        "policy.update": 0.03,
        "integration.add": 0.01,
        "api_key.create": 0.01,
        "permission.grant": 0.004,
        "audit_retention.update": 0.005,
        "audit_destination.add": 0.005,
        "comment.create": 0.04,
    },
}
_AFFINITY = {
    "search.query": "document.read",
    "document.read": "document.read",
    "document.create": "document.update",
    "document.update": "document.read",
    "comment.create": "document.read",
    "document.share": "document.read",
    "document.export": "document.export",
    "document.download": "document.read",
    "document.delete": "document.read",
    "dashboard.view": "search.query",
    "user.invite": "team_member.add",
    "role.grant": "team_member.add",
    "team_member.add": "user.update",
    "user.update": "dashboard.view",
    "role.revoke": "user.update",
    "settings.update": "policy.update",
    "policy.update": "settings.update",
    "integration.add": "settings.update",
    "api_key.create": "dashboard.view",
    "permission.grant": "user.update",
    "audit_retention.update": "settings.update",
    "audit_destination.add": "settings.update",
}
NON_ADMIN_ROLES = ("editor", "viewer")
RAW_SCHEMA = {
    "event_id": pl.String,
    "tenant_id": pl.String,
    "t": pl.Int64,
    "action": pl.String,
    "outcome": pl.String,
    "actor_id": pl.String,
    "actor_type": pl.String,
    "role": pl.String,
    "target_id": pl.String,
    "target_type": pl.String,
    "source_ip": pl.String,
    "user_agent": pl.String,
    "city": pl.Int8,
    "observer_service": pl.String,
    "session_id": pl.String,
    "metadata": pl.String,
    "changes": pl.String,
    "geo_country": pl.String,
    "geo_city": pl.String,
    "geo_lat": pl.Float64,
    "geo_lon": pl.Float64,
}


@dataclass
class Tenant:
    name: str
    country: str
    offset: int
    cities: tuple[tuple[str, float, float], ...]
    index: int
    users: list[dict[str, Any]] = field(default_factory=list)

    def user(self, rng: np.random.Generator, role: str | Sequence[str]) -> dict[str, Any]:
        """A person with one of the roles, not yet involved in an incident (when possible)."""
        roles = (role,) if isinstance(role, str) else tuple(role)
        pool = [u for u in self.users if u["role"] in roles and not u.get("leaver")]
        fresh = [u for u in pool if not u.get("involved")] or pool
        chosen = fresh[int(rng.integers(len(fresh)))]
        chosen["involved"] = True
        return chosen

    def office_ip(self) -> str:
        return f"198.18.{self.index % 250}.10"


def population(
    tenants: int, actors: int, rng: np.random.Generator, *, first: int = 0
) -> list[Tenant]:
    """``tenants`` tenants of ``actors`` people, numbered from ``first`` (names stay unique)."""
    out = []
    for i in range(first, first + tenants):
        name, country, offset, cities = _TENANTS[i % len(_TENANTS)]
        if i >= len(_TENANTS):
            name = f"{name}{i // len(_TENANTS)}"
        t = Tenant(name, country, offset, cities, i)
        n_admin = max(1, actors // 12)
        n_editor = max(1, int(actors * 0.5))
        roles = ["admin"] * n_admin + ["editor"] * n_editor
        roles += ["viewer"] * max(1, actors - len(roles))
        for j, role in enumerate(roles):
            vac_start = int(rng.integers(0, 60)) if rng.random() < 0.3 else -1
            t.users.append(
                {
                    "id": f"{name}-u{j:03d}",
                    "role": role,
                    "city": int(rng.integers(len(cities))),
                    "home_ip": f"10.{i % 250}.{j // 250}.{j % 250}",
                    "work_start": float(rng.normal(8.5, 0.7)),
                    "vacation": (vac_start, vac_start + int(rng.integers(7, 22))),
                    "sessions": float(rng.uniform(0.4, 1.6)),
                }
            )
        out.append(t)
    return out


def _markov(role: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    acts = list(_ROLE_ACTIONS[role])
    base = np.array([_ROLE_ACTIONS[role][a] for a in acts])
    base = base / base.sum()
    trans = np.tile(0.6 * base, (len(acts), 1))
    for i, a in enumerate(acts):
        nxt = _AFFINITY.get(a, "document.read")
        trans[i, acts.index(nxt) if nxt in acts else 0] += 0.4
    return acts, base.cumsum(), trans.cumsum(axis=1)


def _user_sessions(t: Tenant, days: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One row per session of people: user index, start time (us since START)."""
    n = len(t.users)
    day = np.arange(days)
    weekend = ((day % 7) >= 5)[None, :]
    p_active = np.where(weekend, 0.06, 0.85)
    active = rng.random((n, days)) < p_active
    for k, u in enumerate(t.users):
        a, b = u["vacation"]
        if a >= 0:
            active[k, a:b] = False
        if u.get("leaver"):
            active[k, u["leaver"] :] = False
    rate = np.array([u["sessions"] for u in t.users])[:, None]
    per_day = np.where(active, 1 + rng.poisson(np.broadcast_to(rate, active.shape)), 0)
    user_idx, day_idx = np.nonzero(per_day)
    reps = per_day[user_idx, day_idx]
    user_idx, day_idx = np.repeat(user_idx, reps), np.repeat(day_idx, reps)
    work = np.array([u["work_start"] for u in t.users])[user_idx]
    # a person's sessions of a day spread over the working day, one after the other
    first = np.repeat(np.cumsum(reps) - reps, reps)
    rank = np.arange(len(user_idx)) - first
    slot = 9.0 / np.repeat(reps, reps)
    local_hour = work + (rank + rng.uniform(0, 0.6, len(user_idx))) * slot
    weekend_hour = 10 + (rank + rng.uniform(0, 0.6, len(user_idx))) * slot * 10 / 9
    local_hour = np.where((day_idx % 7) >= 5, weekend_hour, local_hour)
    start = day_idx * DAY + ((local_hour - t.offset) * HOUR).astype(np.int64)
    return {"user": user_idx, "start": start}


def tenant_background(t: Tenant, days: int, rng: np.random.Generator) -> pl.DataFrame:
    s = _user_sessions(t, days, rng)
    n_s = len(s["start"])
    users = t.users
    role_of = np.array([u["role"] for u in users])[s["user"]]
    # sessions: [fail x k] [reset?] login [mfa] body... [logout]
    typo = rng.random(n_s) < 0.04
    forgot = rng.random(n_s) < 0.004
    n_fail = np.where(typo, rng.integers(1, 3, n_s), 0) + np.where(
        forgot, rng.integers(3, 7, n_s), 0
    )
    mfa = rng.random(n_s) < 0.8
    mfa_denied = mfa & (rng.random(n_s) < 0.03)
    body_len = 1 + rng.poisson(np.where(role_of == "viewer", 6, 11))
    logout = rng.random(n_s) < 0.6
    sid = np.where(rng.random(n_s) < 0.7, np.arange(n_s), -1)
    actions: list[np.ndarray] = []
    outcomes: list[np.ndarray] = []
    sess: list[np.ndarray] = []
    order: list[np.ndarray] = []

    def add(mask: np.ndarray, action: str | np.ndarray, outcome: str, pos: np.ndarray) -> None:
        idx = np.nonzero(mask)[0]
        actions.append(
            np.broadcast_to(np.asarray(action, dtype=object), idx.shape)
            if isinstance(action, str)
            else action[idx]
        )
        outcomes.append(np.full(len(idx), outcome, dtype=object))
        sess.append(idx)
        order.append(pos[idx] if pos.shape == mask.shape else pos)

    fails_rep = np.repeat(np.arange(n_s), n_fail)
    fail_pos = np.concatenate([np.arange(k) for k in n_fail]) if n_s else np.array([], int)
    actions.append(np.full(len(fails_rep), "user.login", dtype=object))
    outcomes.append(np.full(len(fails_rep), "failure", dtype=object))
    sess.append(fails_rep)
    order.append(fail_pos)
    add(forgot, "password.reset", "success", np.full(n_s, 20))
    add(np.ones(n_s, bool), "user.login", "success", np.full(n_s, 21))
    add(mfa_denied, "mfa.challenge", "denied", np.full(n_s, 22))
    add(mfa, "mfa.challenge", "success", np.full(n_s, 23))
    # body: vectorised Markov walk per role
    for role in _ROLE_ACTIONS:
        acts, first_cum, trans_cum = _markov(role)
        idx = np.nonzero(role_of == role)[0]
        if len(idx) == 0:
            continue
        lengths = body_len[idx]
        state = np.searchsorted(first_cum, rng.random(len(idx)) * first_cum[-1])
        state = np.minimum(state, len(acts) - 1)
        for step in range(int(lengths.max())):
            alive = lengths > step
            if step > 0:
                u = rng.random(len(idx)) * trans_cum[state, -1]
                state = np.minimum((u[:, None] > trans_cum[state]).sum(axis=1), len(acts) - 1)
            a = np.array(acts, dtype=object)[state[alive]]
            actions.append(a)
            outcomes.append(
                np.where(rng.random(alive.sum()) < 0.01, "denied", "success").astype(object)
            )
            sess.append(idx[alive])
            order.append(np.full(alive.sum(), 30 + step))
    add(logout, "user.logout", "success", np.full(n_s, 10_000))
    sess_i = np.concatenate(sess)
    pos = np.concatenate(order)
    action = np.concatenate(actions)
    outcome = np.concatenate(outcomes)
    k = np.lexsort((pos, sess_i))
    sess_i, action, outcome = sess_i[k], action[k], outcome[k]
    first = np.r_[True, sess_i[1:] != sess_i[:-1]]
    gaps = np.minimum(rng.exponential(75 * US, len(sess_i)), 15 * 60 * US).astype(np.int64)
    gaps[first] = 0
    offs = np.cumsum(gaps)
    offs -= np.maximum.accumulate(np.where(first, offs, 0))
    ts = s["start"][sess_i] + offs
    user = s["user"][sess_i]
    n = len(ts)
    ids = [u["id"] for u in users]
    df = pl.DataFrame(
        {
            "t": ts.astype(np.int64),
            "action": action.astype(str),
            "outcome": outcome.astype(str),
            "actor_id": np.array(ids)[user],
            "role": np.array([u["role"] for u in users])[user],
            "city": np.array([u["city"] for u in users], dtype=np.int8)[user],
            "_home": np.array([u["home_ip"] for u in users])[user],
            "_office": (rng.random(n_s) < 0.7)[sess_i],
            "_sid": np.where(sid[sess_i] >= 0, sid[sess_i], -1),
            "_doc": rng.zipf(1.6, n) % (len(users) * 20),
            # someone else: a random offset from the actor (never the actor)
            "_other": np.array(ids)[(user + rng.integers(1, len(users), n)) % len(users)],
            "_u": rng.random(n),
            "_agent": np.array(AGENTS[:2])[user % 2],
        }
    )
    a = pl.col("action")
    is_doc = a.str.starts_with("document.") | a.str.starts_with("comment.")
    people = a.is_in(
        [
            "user.invite",
            "user.update",
            "role.grant",
            "role.revoke",
            "team_member.add",
            "permission.grant",
        ]
    )
    admin = pl.col("role") == "admin"
    own_key = (a == "api_key.create") & ~admin
    svc_key = (a == "api_key.create") & admin
    people_df = df.select(
        pl.lit(t.name).alias("tenant_id"),
        "t",
        "action",
        "outcome",
        "actor_id",
        pl.lit("user").alias("actor_type"),
        "role",
        pl.when(is_doc)
        .then(pl.format("doc-{}", "_doc"))
        .when(people)
        .then("_other")
        .when(own_key)
        .then("actor_id")
        .when(svc_key)
        .then(pl.lit(f"{t.name}-svc-sync"))
        .alias("target_id"),
        pl.when(is_doc)
        .then(pl.lit("document"))
        .when(people | own_key)
        .then(pl.lit("user"))
        .when(svc_key)
        .then(pl.lit("service"))
        .alias("target_type"),
        pl.when("_office").then(pl.lit(t.office_ip())).otherwise("_home").alias("source_ip"),
        pl.col("_agent").alias("user_agent"),
        "city",
        pl.when(
            a.str.starts_with("user.log")
            | a.str.starts_with("mfa.")
            | a.str.starts_with("password.")
        )
        .then(pl.lit("auth"))
        .otherwise(pl.lit("web"))
        .alias("observer_service"),
        pl.when(pl.col("_sid") >= 0)
        .then(pl.format("{}-s{}", pl.lit(t.name), "_sid"))
        .alias("session_id"),
        pl.when(a.is_in(["role.grant", "role.revoke"]))
        .then(
            pl.when(pl.col("_u") < 0.5)
            .then(pl.lit('{"role":"editor"}'))
            .otherwise(pl.lit('{"role":"viewer"}'))
        )
        .when(a == "permission.grant")
        .then(pl.lit('{"permission":"reports.read"}'))
        .alias("metadata"),
        pl.when(a == "audit_retention.update")
        .then(pl.lit('{"before":{"retention_days":365},"after":{"retention_days":730}}'))
        .alias("changes"),
    )
    return pl.concat([people_df, _machines(t, days, rng)], how="diagonal_relaxed")


def _machines(t: Tenant, days: int, rng: np.random.Generator) -> pl.DataFrame:
    """Service accounts around the clock, a nightly backup, CI keys and the system."""
    hours = np.arange(days * 24)
    per_hour = rng.integers(2, 7, len(hours))
    sync_t = np.repeat(hours * HOUR, per_hour) + rng.integers(0, HOUR, per_hour.sum())
    night = np.arange(days) * DAY + (2 - t.offset) % 24 * HOUR
    n_backup = rng.integers(20, 41, days)
    backup_t = np.repeat(night, n_backup) + np.concatenate(
        [np.arange(k) * 20 * US for k in n_backup]
    )
    weekdays = np.arange(days)[(np.arange(days) % 7) < 5]
    n_ci = rng.integers(3, 9, len(weekdays))
    ci_t = np.repeat(weekdays * DAY, n_ci) + (
        (10 - t.offset) * HOUR + rng.integers(0, 8 * HOUR, n_ci.sum())
    )
    sys_t = np.arange(days) * DAY + (4 - t.offset) % 24 * HOUR
    parts = [
        (sync_t, "record.sync", f"{t.name}-svc-sync", "service", "api"),
        (backup_t, "document.export", f"{t.name}-svc-backup", "service", "api"),
        (ci_t, "deployment.create", f"{t.name}-key-ci", "api_key", "api"),
        (sys_t, "job.run", "system", "system", "scheduler"),
        (sys_t + 5 * US, "entity.expire", "system", "system", "scheduler"),
    ]
    frames = [
        pl.DataFrame(
            {
                "tenant_id": t.name,
                "t": ts.astype(np.int64),
                "action": action,
                "outcome": "success",
                "actor_id": actor,
                "actor_type": kind,
                "observer_service": svc,
                "source_ip": "10.200.0.1" if kind != "system" else None,
                "user_agent": AGENTS[2] if kind != "system" else None,
            }
        )
        for ts, action, actor, kind, svc in parts
    ]
    return pl.concat(frames, how="diagonal_relaxed")


def to_frame(raw: pl.DataFrame, tenants: list[Tenant]) -> pl.DataFrame:
    """Turn raw generator columns into a FRAME_SCHEMA frame (ids, seq, geo, targets...)."""
    geo = pl.DataFrame(
        [
            {
                "tenant_id": t.name,
                "city": np.int8(i),
                "_city": c[0],
                "_country": t.country,
                "_lat": c[1],
                "_lon": c[2],
                "observer_region": f"region-{t.index % 3}",
            }
            for t in tenants
            for i, c in enumerate(t.cities)
        ],
        schema={
            "tenant_id": pl.String,
            "city": pl.Int8,
            "_city": pl.String,
            "_country": pl.String,
            "_lat": pl.Float64,
            "_lon": pl.Float64,
            "observer_region": pl.String,
        },
    )
    df = (
        raw.join(geo, on=["tenant_id", "city"], how="left")
        .sort("tenant_id", "t", "event_id", nulls_last=True, maintain_order=True)
        .with_columns(
            occurred_at=(pl.lit(START) + pl.duration(microseconds=pl.col("t"))).dt.cast_time_unit(
                "us"
            ),
            seq=pl.int_range(pl.len()).over("tenant_id").cast(pl.Int64),
        )
    )
    people = pl.col("actor_type") == "user"
    target = pl.struct(
        id=pl.col("target_id"),
        type=pl.col("target_type"),
        name=pl.lit(None, dtype=pl.String),
    )
    return df.select(
        "tenant_id",
        "seq",
        pl.coalesce("event_id", pl.format("{}-{}", pl.col("tenant_id"), pl.col("seq"))).alias(
            "event_id"
        ),
        "occurred_at",
        (pl.col("occurred_at") + pl.duration(milliseconds=250)).alias("received_at"),
        "action",
        pl.col("action").replace_strict(CORE_ACTIONS, default="user").alias("category"),
        "outcome",
        "actor_id",
        "actor_type",
        pl.lit(None, dtype=pl.String).alias("actor_name"),
        pl.lit(None, dtype=pl.String).alias("actor_email"),
        pl.when(pl.col("role").is_not_null())
        .then(pl.concat_list(pl.col("role")))
        .alias("actor_roles"),
        pl.when(pl.col("target_id").is_not_null()).then(pl.concat_list(target)).alias("targets"),
        "target_id",
        "target_type",
        "source_ip",
        "user_agent",
        pl.coalesce("geo_country", pl.when(people).then(pl.col("_country"))).alias("geo_country"),
        pl.coalesce("geo_city", pl.when(people).then(pl.col("_city"))).alias("geo_city"),
        pl.coalesce("geo_lat", pl.when(people).then(pl.col("_lat"))).alias("geo_lat"),
        pl.coalesce("geo_lon", pl.when(people).then(pl.col("_lon"))).alias("geo_lon"),
        "observer_service",
        pl.lit("1.4.2").alias("observer_version"),
        "observer_region",
        pl.lit(None, dtype=pl.String).alias("request_id"),
        "session_id",
        pl.lit(None, dtype=pl.String).alias("description"),
        "changes",
        "metadata",
    ).cast(dict(FRAME_SCHEMA))  # type: ignore[arg-type]


def dt(us: int) -> datetime:
    """Microseconds since the scenario start as a datetime."""
    return START + timedelta(microseconds=int(us))
