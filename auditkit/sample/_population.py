"""The simulated world: tenants, their people and machines, places, devices and records."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from itertools import accumulate
from typing import Any

from auditkit.sample import _catalog as cat

Target = tuple[str, str, str]
"""A target as ``(id, type, name)``."""


@dataclass(slots=True, eq=False)
class Source:
    """Where requests come from: one address, one device, one place."""

    ip: str
    user_agent: str
    city: cat.City
    geo: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        c = self.city
        self.geo = {"country": c.country, "city": c.name, "lat": c.lat, "lon": c.lon}

    def as_dict(self) -> dict[str, Any]:
        return {"ip": self.ip, "user_agent": self.user_agent, "geo": self.geo.copy()}


@dataclass(slots=True, eq=False)
class Actor:
    """A principal of one tenant: a person, a service account, an API key or the system."""

    id: str
    type: str
    name: str
    email: str | None
    roles: tuple[str, ...]
    tenant_id: str
    home: Source | None
    weight: float = 1.0
    auth_method: str = "password"
    mfa: bool = False
    break_glass: bool = False
    office: Source | None = None
    mobile: Source | None = None
    away: dict[int, Source] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    spec: cat.ServiceSpec | None = None
    patience: int = 10  # a person signs in at least every ``patience`` days...
    last_active: int = 0  # ...counting from this day (mutable generation state)
    tpl: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.tpl = {"id": self.id, "type": self.type, "name": self.name}
        if self.email is not None:
            self.tpl["email"] = self.email

    def as_dict(self) -> dict[str, Any]:
        d = self.tpl.copy()
        if self.roles:
            d["roles"] = list(self.roles)
        return d

    @property
    def target(self) -> Target:
        return (self.id, "user" if self.type == "user" else self.type, self.name)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles or "owner" in self.roles


@dataclass(slots=True, eq=False)
class Tenant:
    """One customer organisation with everything its traffic is drawn from."""

    index: int
    tenant_id: str
    region: str
    region_city: cat.City
    people: list[Actor]
    machines: list[Actor]
    root: Actor
    system: Actor
    entities: dict[str, list[Target]]
    license_day: int
    people_cum: list[float] = field(default_factory=list)
    machines_cum: list[float] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.people) + len(self.machines) + 1

    def reweigh(self) -> None:
        """Recompute the cumulative draw weights after actors were added or changed."""
        self.people_cum = list(accumulate(a.weight for a in self.people))
        self.machines_cum = list(accumulate(a.weight for a in self.machines))


class AddressBook:
    """Hands out documentation addresses: RFC 5737 IPv4, then RFC 3849 IPv6 when full."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def _count(self, key: str) -> int:
        n = self._next.get(key, 0)
        self._next[key] = n + 1
        return n

    def take(self, pool: str, lo: int = 1, hi: int = 254) -> str:
        """Next address of ``pool`` (``"192.0.2"``, ...) between hosts ``lo`` and ``hi``."""
        n = self._count(f"{pool}/{lo}")
        if n <= hi - lo:
            return f"{pool}.{lo + n}"
        return self.take_v6(0x100 + int(pool.rsplit(".", 1)[1]))

    def take_v6(self, group: int) -> str:
        """Next address of ``2001:db8:<group>::/48``."""
        n = self._count(f"v6/{group}") + 1
        return str(IPv6Address(f"2001:db8:{group:x}:{n >> 16:x}::{n & 0xFFFF:x}"))


SYSTEM_ACTOR_ID = "system"
MIN_PER_TENANT = 6
"""A tenant needs a service, an API key, its root account and three people."""


def split_sizes(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder split of ``total`` in proportion to ``weights``."""
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    raw = [total * w / s for w in weights]
    sizes = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (sizes[i] - raw[i], i))
    for i in order[: total - sum(sizes)]:
        sizes[i] += 1
    return sizes


def tenant_specs(n: int) -> list[tuple[cat.TenantSpec, float]]:
    """The first ``n`` tenants with their size weights; more than the catalog reuse it."""
    out = []
    for i in range(n):
        base = cat.TENANTS[i % len(cat.TENANTS)]
        weight = cat.TENANT_WEIGHTS[i] if i < len(cat.TENANT_WEIGHTS) else 0.06
        if i >= len(cat.TENANTS):
            base = base._replace(tenant_id=f"{base.tenant_id}-{i // len(cat.TENANTS) + 1}")
        out.append((base, weight))
    return out


def _entity_name(etype: str, rng: random.Random, n: int) -> str:
    if etype == "document":
        tpl = rng.choice(cat.DOCUMENT_NAMES)
        return tpl.format(q=rng.randint(1, 4), y=rng.choice((2025, 2026)), n=rng.randint(2, 99))
    if etype == "project":
        return f"{rng.choice(cat.PROJECT_NAMES)} {rng.choice(('', '2', 'II', 'rollout'))}".strip()
    if etype == "invoice":
        return f"INV-2026-{n:05d}"
    if etype == "report":
        return rng.choice(cat.REPORT_NAMES)
    first, second = cat.CUSTOMER_WORDS
    return f"{rng.choice(first)} {rng.choice(second)} {rng.choice(('Ltd', 'GmbH', 'Inc', 'SAS'))}"


def new_entity(etype: str, rng: random.Random) -> Target:
    """A fresh product record of ``etype`` (for ``create`` actions)."""
    n = rng.getrandbits(32)
    return (f"{cat.ENTITY_PREFIX[etype]}-{n:08x}", etype, _entity_name(etype, rng, n % 90000))


def person_name(rng: random.Random) -> tuple[str, str]:
    """A random ``(given, family)`` name pair."""
    return rng.choice(cat.FIRST_NAMES), rng.choice(cat.LAST_NAMES)


def build_population(*, tenants: int, actors: int, days: int, rng: random.Random) -> list[Tenant]:
    """Create the tenants, split ``actors`` across them and give everyone a life."""
    specs = tenant_specs(tenants)
    floor = MIN_PER_TENANT * tenants
    sizes = [MIN_PER_TENANT + n for n in split_sizes(actors - floor, [w for _, w in specs])]
    book = AddressBook()
    counter = 0
    out: list[Tenant] = []
    for idx, ((spec, _), size) in enumerate(zip(specs, sizes, strict=True)):
        tid = spec.tenant_id
        region_city = cat.CITIES[spec.region_city]
        n_services = max(1, round(size * 0.03))
        n_keys = max(1, round(size * 0.02))
        n_people = size - n_services - n_keys - 1
        offices = {
            name: Source(book.take("198.51.100", 1, 199), "", cat.CITIES[name])
            for name in dict.fromkeys(spec.cities)
        }
        people: list[Actor] = []
        seen_emails: set[str] = set()
        role_names = [r for r, _ in cat.ROLE_SHARES]
        role_cum = list(accumulate(w for _, w in cat.ROLE_SHARES))
        for k in range(n_people):
            counter += 1
            first, last = person_name(rng)
            email = f"{first}.{last}@{tid}.example".lower()
            suffix = 2
            while email in seen_emails:
                email = f"{first}.{last}{suffix}@{tid}.example".lower()
                suffix += 1
            seen_emails.add(email)
            if k == 0:
                role = "owner"
            elif k == 1:
                role = "admin"
            else:
                role = rng.choices(role_names, cum_weights=role_cum)[0]
            city = cat.CITIES[rng.choice(spec.cities)]
            desktop = rng.choice(cat.DESKTOP_AGENTS)
            home_ip = book.take("192.0.2") if counter % 4 != 3 else book.take_v6(0x20 + idx)
            home = Source(home_ip, desktop, city)
            office = None
            if rng.random() < 0.7:
                office = Source(offices[city.name].ip, desktop, city)
            mobile = Source(home_ip, rng.choice(cat.MOBILE_AGENTS), city)
            r = rng.random()
            method = "sso" if r < spec.sso_share else ("passkey" if r > 0.95 else "password")
            weight = rng.lognormvariate(0.0, 0.45) * {"viewer": 0.6, "owner": 0.8}.get(role, 1.0)
            people.append(
                Actor(
                    id=f"u-{counter:04d}",
                    type="user",
                    name=f"{first} {last}",
                    email=email,
                    roles=(role,),
                    tenant_id=tid,
                    home=home,
                    weight=weight,
                    auth_method=method,
                    mfa=method == "password" and rng.random() < 0.75,
                    office=office,
                    mobile=mobile,
                    patience=(patience := rng.randint(7, 14)),
                    last_active=-rng.randrange(patience),
                )
            )
        _plan_trips(people, days=days, rng=rng, book=book)
        machines: list[Actor] = []
        for specs_, n, kind in (
            (cat.SERVICES, n_services, "service"),
            (cat.API_KEYS, n_keys, "key"),
        ):
            for j in range(n):
                ms = specs_[j % len(specs_)]
                slug = ms.slug if j < len(specs_) else f"{ms.slug}-{j // len(specs_) + 1}"
                ident = (
                    f"svc-{tid}-{slug}" if kind == "service" else f"key-{rng.getrandbits(40):010x}"
                )
                src = Source(book.take("198.51.100", 200, 254), ms.user_agent, region_city)
                machines.append(
                    Actor(
                        id=ident,
                        type=ms.kind,
                        name=ms.name,
                        email=None,
                        roles=("integration",),
                        tenant_id=tid,
                        home=src,
                        weight=rng.uniform(0.5, 1.5),
                        spec=ms,
                    )
                )
        owner_office = people[0].office or people[0].home
        root = Actor(
            id=f"root-{tid}",
            type="user",
            name="root",
            email=f"root@{tid}.example",
            roles=("owner",),
            tenant_id=tid,
            home=owner_office,
            break_glass=True,
        )
        system = Actor(SYSTEM_ACTOR_ID, "system", "scheduler", None, (), tid, None)
        per_type = 12 + size // 2
        entities = {
            etype: [new_entity(etype, rng) for _ in range(per_type)] for etype in cat.ENTITY_PREFIX
        }
        tenant = Tenant(
            index=idx,
            tenant_id=tid,
            region=spec.region,
            region_city=region_city,
            people=people,
            machines=machines,
            root=root,
            system=system,
            entities=entities,
            license_day=rng.randrange(max(1, days)),
        )
        tenant.reweigh()
        out.append(tenant)
    return out


def _plan_trips(people: list[Actor], *, days: int, rng: random.Random, book: AddressBook) -> None:
    """Send a few people on trips: a travel day, days away, a travel day back."""
    if days < 10 or len(people) < 4:
        return
    n_travellers = max(1, round(len(people) * 0.06))
    for actor in rng.sample(people[2:], min(n_travellers, len(people) - 2)):
        for _ in range(rng.randint(1, 2)):
            length = rng.randint(2, 5)
            first = rng.randint(1, days - length - 2)
            span = range(first - 1, first + length + 1)
            if any(d in actor.blocked or d in actor.away for d in span):
                continue
            assert actor.home is not None
            city = rng.choice([c for c in cat.CITIES.values() if c.name != actor.home.city.name])
            hotel = Source(book.take("203.0.113", 1, 199), actor.home.user_agent, city)
            actor.blocked.update((first - 1, first + length))
            for d in range(first, first + length):
                actor.away[d] = hotel
