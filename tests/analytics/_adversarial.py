"""Attacks by someone who knows how burst thresholds work, and their look-alikes.

Each attack class of issue 18 comes in several variants (speeds, sizes, sources,
tenants), picked in turn so that ``per_kind`` >= the number of variants shows them all;
the random source (the scenario's seed) draws the rest.  Look-alikes are innocent
traffic shaped like an attack (a person who mistypes three times a day, a shared VPN
egress, a helpdesk reset wave, a team admin adding people to the admins team, a
traveller, a returning employee, scheduled bulk work...): they are recorded as
incidents with no expected detector and a kind starting with ``lookalike:``, so that
the tests can check that no high or critical finding lands on them.

Every attack incident lists its ``chain``: the events a finding must cite (the failed
logins before a success, the key's creation and its use, the last event before a
silence).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from ._incidents import Ctx, _abroad, _user_row
from ._traffic import ABROAD, AGENTS, DAY, HOUR, NON_ADMIN_ROLES, US, Tenant

MINUTE = 60 * US


def _variant(c: Ctx, kind: str, n: int) -> int:
    """Variants in turn, per scenario, starting at a seed-drawn one."""
    turns: Counter[str] = c.__dict__.setdefault("turns", Counter())
    if kind not in turns:
        turns[kind] = int(c.rng.integers(n))
    turns[kind] += 1
    return (turns[kind] - 1) % n


def _geo(i: int, ip: str) -> dict[str, Any]:
    city, country, lat, lon = ABROAD[i % len(ABROAD)]
    return {
        "geo_city": city,
        "geo_country": country,
        "geo_lat": lat,
        "geo_lon": lon,
        "source_ip": ip,
    }


def _people(t: Tenant) -> list[dict[str, Any]]:
    return [u for u in t.users if not u.get("leaver")]


#: Countries no tenant of the scenarios ever uses, one per stolen key.
_FAR = (
    ("Minsk", "BY", 53.9, 27.57),
    ("Tehran", "IR", 35.69, 51.39),
    ("Caracas", "VE", 10.48, -66.9),
    ("Almaty", "KZ", 43.24, 76.89),
    ("Dhaka", "BD", 23.81, 90.41),
    ("Nairobi", "KE", -1.29, 36.82),
    ("Tashkent", "UZ", 41.3, 69.24),
    ("Quito", "EC", -0.18, -78.47),
)


def _free_day(c: Ctx, tenants: list[Tenant], *, min_day: int = 15) -> int:
    """A weekday free of logging gaps in every one of ``tenants``."""
    while True:
        day = int(c.rng.integers(min_day, c.days - 1))
        if day % 7 < 5 and all((x.name, day) not in c.reserved for x in tenants):
            return day


def _requested(request: str) -> str:
    """Imported CloudTrail metadata whose request is ``request`` (JSON text)."""
    return f'{{"source_format":"cloudtrail","original":{{"requestParameters":{request}}}}}'


# --------------------------------------------------------------------------- attacks


def _slow_guess(c: Ctx, t: Tenant) -> None:
    """One account guessed a few times an hour for hours, then (mostly) a success."""
    v = _variant(c, "slow_guess", 3)
    u, geo = t.user(c.rng, NON_ADMIN_ROLES), _abroad(c.rng)
    t0 = c.when(t, local_hour=float(c.rng.uniform(0, 6)))
    every = int(c.rng.integers(16, 40)) * MINUTE  # never two within 15 minutes
    n = max(12, int(c.rng.integers(6, 13) * HOUR // every))
    ips = [geo["source_ip"]] if v != 1 else [f"203.0.113.{k}" for k in (21, 22, 23)]
    rows = [
        {
            "t": t0 + i * every,
            "action": "user.login",
            "outcome": "failure",
            "actor_id": u["id"],
            "observer_service": "auth",
            **geo,
            "source_ip": ips[i % len(ips)],
        }
        for i in range(n)
    ]
    if v != 2:  # variant 2 never gets in
        end = t0 + n * every + 3 * MINUTE
        rows.append(
            {
                **_user_row(u, t, end, "user.login", observer_service="auth"),
                **geo,
                "source_ip": ips[0],
            }
        )
        rows.append(
            {
                **_user_row(u, t, end + MINUTE, "document.read", target_id="doc-9"),
                **geo,
                "source_ip": ips[0],
                "target_type": "document",
            }
        )
    cites = [0] if v == 2 else [0, n]
    c.emit("slow_guess", t, u["id"], rows, ("slow_credential_attack",), cites)


def _slow_spray(c: Ctx, t: Tenant) -> None:
    """One IP working through accounts, one attempt each, an hour or two apart."""
    v = _variant(c, "slow_spray", 2)
    geo = _abroad(c.rng)
    t0 = c.when(t, local_hour=float(c.rng.uniform(0, 8)))
    people = _people(t)
    k = int(c.rng.integers(6, 13))
    victims = [people[int(i)] for i in c.rng.choice(len(people), k + 1, replace=False)]
    every = int(c.rng.integers(40, 110)) * MINUTE
    rows = [
        {
            "t": t0 + i * every,
            "action": "user.login",
            "outcome": "failure",
            "actor_id": victim["id"],
            "observer_service": "auth",
            **geo,
        }
        for i, victim in enumerate(victims[:k])
    ]
    if v == 0:  # the last guess works
        last = victims[k]
        rows.append(
            {
                **_user_row(last, t, t0 + k * every, "user.login", observer_service="auth"),
                **geo,
            }
        )
    cites = [0, k - 1, k] if v == 0 else [0, k - 1]
    c.emit("slow_spray", t, None, rows, ("slow_credential_attack",), cites)


def _campaign(c: Ctx, t: Tenant) -> None:
    """One source failing a few times in each of several tenants (per-tenant incidents)."""
    v = _variant(c, "campaign", 3)
    tenants = [x for x in c.tenants if x is not t]
    k = min(len(tenants), int(c.rng.integers(2, 5)))
    chosen = [t, *(tenants[int(i)] for i in c.rng.choice(len(tenants), k, replace=False))]
    base = int(c.rng.integers(30, 250))
    t0 = _free_day(c, chosen) * DAY + int(c.rng.uniform(0, 12) * HOUR)
    agent = "zgrab/0.2" if v == 2 else AGENTS[0]
    for j, x in enumerate(chosen):
        ip = f"198.51.{base}.{7 if v == 0 else 10 + j}"  # v1, v2: one network, many IPs
        people = _people(x)
        n = int(c.rng.integers(2, 5))
        start = t0 + j * int(c.rng.integers(20, 180)) * MINUTE
        rows = []
        for i in range(n):
            victim = people[int(c.rng.integers(len(people)))]
            probe = v == 2 and i % 2 == 1
            rows.append(
                {
                    "t": start + i * int(c.rng.integers(12, 60)) * MINUTE,
                    "action": "document.read" if probe else "user.login",
                    "outcome": "denied" if probe else "failure",
                    "actor_id": victim["id"],
                    "observer_service": "web" if probe else "auth",
                    "user_agent": agent,
                    **_geo(base, ip),
                }
            )
        c.emit("campaign", x, None, rows, ("cross_tenant_campaign",), [0])


def _session_hijack(c: Ctx, t: Tenant) -> None:
    """A session token replayed from elsewhere, mid-session."""
    v = _variant(c, "session_hijack", 3)
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    sid = f"{t.name}-hijack-{c.count}"
    home = {"session_id": sid, "user_agent": AGENTS[0]}
    rows = [_user_row(u, t, t0, "user.login", observer_service="auth", **home)]
    rows += [
        _user_row(u, t, t0 + (i + 1) * 2 * MINUTE, "document.read", target_id=f"doc-{i}", **home)
        for i in range(3)
    ]
    later = t0 + int(c.rng.integers(10, 50)) * MINUTE
    agent = AGENTS[0] if v == 1 else ("curl/8.5" if v == 0 else AGENTS[1])
    where = _abroad(c.rng) if v != 2 else {"source_ip": f"10.{t.index % 250}.250.9"}
    n = int(c.rng.integers(3, 12))
    rows += [
        {
            **_user_row(u, t, later + i * 40 * US, "document.export", target_id=f"doc-{i}"),
            "target_type": "document",
            "session_id": sid,
            "user_agent": agent,
            **where,
        }
        for i in range(n)
    ]
    c.emit("session_hijack", t, u["id"], rows, ("session_hijack",), [0, 4])


def _session_after_end(c: Ctx, t: Tenant) -> None:
    """A session used again after logout or expiry."""
    v = _variant(c, "session_after_end", 2)
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=10.0)
    sid = f"{t.name}-replay-{c.count}"
    rows = [
        _user_row(u, t, t0, "user.login", observer_service="auth", session_id=sid),
        _user_row(u, t, t0 + 5 * MINUTE, "document.read", target_id="doc-1", session_id=sid),
    ]
    end = t0 + 30 * MINUTE
    if v == 0:
        rows.append(_user_row(u, t, end, "user.logout", observer_service="auth", session_id=sid))
    else:
        rows.append(
            {
                "t": end,
                "action": "session.expire",
                "actor_id": u["id"],
                "observer_service": "auth",
                "session_id": sid,
                "source_ip": None,
            }
        )
    again = end + int(c.rng.integers(20, 360)) * MINUTE
    where = _abroad(c.rng) if v == 0 else {}
    rows += [
        {
            **_user_row(u, t, again + i * MINUTE, "document.read", target_id=f"doc-{i}"),
            "session_id": sid,
            **where,
        }
        for i in range(int(c.rng.integers(1, 6)))
    ]
    c.emit("session_after_end", t, u["id"], rows, ("session_after_end",), [2, 3])


def _side_door(c: Ctx, t: Tenant) -> None:
    """Privilege without a role grant: a privileged team, a permission, an integration."""
    v = _variant(c, "side_door", 4)
    t0 = c.when(t)
    team = ("Admins", "platform-owners", "Security Admins")[int(c.rng.integers(3))]
    if v in (0, 1):  # a non-admin joins (v0: themselves) a privileged team
        u = t.user(c.rng, NON_ADMIN_ROLES)
        who = u if v == 0 else t.user(c.rng, NON_ADMIN_ROLES)
        rows = [
            _user_row(
                u,
                t,
                t0,
                "team_member.add",
                target_id=who["id"],
                target_type="user",
                metadata=f'{{"team":"{team}"}}',
            )
        ]
        actor = u["id"]
    elif v == 2:  # a non-admin hands out an admin-like permission, which is then used
        u, w = t.user(c.rng, "editor"), t.user(c.rng, NON_ADMIN_ROLES)
        rows = [
            _user_row(
                u,
                t,
                t0,
                "permission.grant",
                target_id=w["id"],
                target_type="user",
                metadata='{"permission":"org.admin"}',
            ),
            _user_row(
                w, t, t0 + 20 * MINUTE, "sso.update", target_id="sso", target_type="settings"
            ),
        ]
        actor = u["id"]
    else:  # the CI key (weeks of deployments) starts granting roles
        actor = f"{t.name}-key-ci"
        key = {
            "actor_id": actor,
            "actor_type": "api_key",
            "source_ip": "10.200.0.1",
            "observer_service": "api",
            "user_agent": AGENTS[2],
        }
        who = t.user(c.rng, NON_ADMIN_ROLES)
        rows = [
            {
                "t": t0,
                "action": "role.grant",
                "target_id": who["id"],
                "target_type": "user",
                "metadata": '{"role":"admin"}',
                **key,
            },
            {
                "t": t0 + MINUTE,
                "action": "team_member.add",
                "target_id": who["id"],
                "target_type": "user",
                "metadata": f'{{"team":"{team}"}}',
                **key,
            },
        ]
    c.emit("side_door", t, actor, rows, ("side_door_privilege",), [0, 1] if v == 2 else [0])


def _dormant_takeover(c: Ctx, t: Tenant) -> None:
    """A leaver's account wakes from abroad and touches MFA, keys or roles."""
    v = _variant(c, "dormant_takeover", 3)
    u = next(x for x in t.users if x.get("leaver") and not x.get("involved"))
    u["involved"] = True
    t0 = c.when(t, min_day=u["leaver"] + 31, local_hour=float(c.rng.uniform(0, 23)))
    geo = _abroad(c.rng)
    sensitive = (
        [("mfa.enroll", "user"), ("api_key.create", "api_key")],
        [("role.grant", "user"), ("sso.update", "settings")],
        [("audit_destination.remove", "destination")],
    )[v]
    rows = [{**_user_row(u, t, t0, "user.login", observer_service="auth"), **geo}]
    rows += [
        {
            **_user_row(
                u,
                t,
                t0 + (i + 1) * int(c.rng.integers(2, 90)) * MINUTE,
                a,
                target_id=u["id"] if kind == "user" else f"{kind}-{i}",
                target_type=kind,
            ),
            **geo,
        }
        for i, (a, kind) in enumerate(sensitive)
    ]
    detectors = ("dormant_takeover", "dormant_account")
    c.emit("dormant_takeover", t, u["id"], rows, detectors, range(len(rows)))


def _new_key_exfil(c: Ctx, t: Tenant) -> None:
    """A new API key used within hours from a country the tenant never used, for bulk reads."""
    v = _variant(c, "new_key_exfil", 2)
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    key = f"{t.name}-key-x{c.count}"
    rows = [_user_row(u, t, t0, "api_key.create", target_id=key, target_type="api_key")]
    start = t0 + int(c.rng.integers(20, 600)) * MINUTE
    n = int(c.rng.integers(25, 200))
    step = int(c.rng.integers(2, 30)) * US
    city, country, lat, lon = _FAR[c.count % len(_FAR)]
    geo = {
        "geo_city": city,
        "geo_country": country,
        "geo_lat": lat,
        "geo_lon": lon,
        "source_ip": f"192.0.2.{c.count % 250}",
    }
    rows += [
        {
            "t": start + i * step,
            "action": "document.export" if v == 0 else "document.read",
            "actor_id": key,
            "actor_type": "api_key",
            "observer_service": "api",
            "user_agent": "python-requests/2.32",
            "target_id": f"doc-{i}",
            "target_type": "document",
            **geo,
        }
        for i in range(n)
    ]
    c.emit("new_key_exfil", t, u["id"], rows, ("new_key_exfiltration",), [0, 1])


def _mfa_takeover(c: Ctx, t: Tenant) -> None:
    """A few MFA denials spread over the better part of an hour, an approval, a new factor."""
    u, geo = t.user(c.rng, NON_ADMIN_ROLES), _abroad(c.rng)
    t0 = c.when(t, local_hour=float(c.rng.uniform(6, 22)))
    n = int(c.rng.integers(3, 6))
    every = int(c.rng.integers(4, 14)) * MINUTE
    rows = [
        {"t": t0, "action": "user.login", "actor_id": u["id"], "observer_service": "auth", **geo}
    ]
    rows += [
        {
            "t": t0 + (i + 1) * every,
            "action": "mfa.challenge",
            "outcome": "denied",
            "actor_id": u["id"],
            "observer_service": "auth",
            **geo,
        }
        for i in range(n)
    ]
    ok = t0 + (n + 1) * every
    rows.append(
        {"t": ok, "action": "mfa.challenge", "actor_id": u["id"], "observer_service": "auth", **geo}
    )
    rows.append(
        {
            "t": ok + int(c.rng.integers(5, 300)) * MINUTE,
            "action": "mfa.enroll",
            "actor_id": u["id"],
            "target_id": u["id"],
            "target_type": "user",
            "observer_service": "auth",
            **geo,
        }
    )
    c.emit("mfa_takeover", t, u["id"], rows, ("mfa_fatigue_takeover",), [n, n + 1, n + 2])


def _month_end(c: Ctx) -> int:
    """The last day of the first month end inside the scenario (day index)."""
    for day in range(15, c.days - 1):  # Jan 31 2026 is day 26 of a scenario from Jan 5
        if (day + 5) in (31, 31 + 28, 31 + 28 + 31):
            return day
    return 26


def _person_bulk(c: Ctx, t: Tenant) -> None:
    """A person's one-off month-end export of the reporting key's usual size."""
    u = t.user(c.rng, "editor")
    t0 = _month_end(c) * DAY + int((23 - t.offset) % 24 * HOUR)
    rows = [
        _user_row(
            u, t, t0 + i * 5 * US, "document.export", target_id=f"doc-{i}", target_type="document"
        )
        for i in range(200)
    ]
    c.emit("person_bulk", t, u["id"], rows, ("mass_export",), [0])


def _bulk_read(c: Ctx, t: Tenant) -> None:
    """A person's account pulling 400 objects in under an hour through plain reads (no
    export verb), in the evening, weeks into its habits."""
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=21.0)
    rows = [
        _user_row(
            u,
            t,
            t0 + i * 7 * US,
            "s3_object.get",
            target_id=f"arn:aws:s3:::{t.name}-data/part-{i:05d}.parquet",
            target_type="s3_object",
        )
        for i in range(400)
    ]
    c.emit("bulk_read", t, u["id"], rows, ("bulk_read",), [0])


def _recovery_takeover(c: Ctx, t: Tenant) -> None:
    """A helpdesk talked into resetting a user's MFA (or the user's password reset by an
    intruder who holds their mailbox), then a sign-in from the intruder's own network
    and a new factor enrolled from there."""
    v = _variant(c, "recovery_takeover", 2)
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    city, country, lat, lon = _FAR[(c.count + 3) % len(_FAR)]
    geo = {
        "geo_city": city,
        "geo_country": country,
        "geo_lat": lat,
        "geo_lon": lon,
        "source_ip": f"100.64.{c.count % 250}.{int(c.rng.integers(1, 250))}",
    }
    if v == 0:
        helpdesk = t.user(c.rng, "admin")
        reset = _user_row(
            helpdesk,
            t,
            t0,
            "mfa.reset",
            target_id=u["id"],
            target_type="user",
            observer_service="auth",
        )
    else:
        reset = {
            "t": t0,
            "action": "password.reset",
            "actor_id": u["id"],
            "observer_service": "auth",
            **geo,
        }
    login = t0 + int(c.rng.integers(10, 240)) * MINUTE
    rows = [
        reset,
        {
            "t": login,
            "action": "user.login",
            "actor_id": u["id"],
            "observer_service": "auth",
            **geo,
        },
        {
            "t": login + 4 * MINUTE,
            "action": "mfa.enroll",
            "actor_id": u["id"],
            "target_id": u["id"],
            "target_type": "user",
            "observer_service": "auth",
            **geo,
        },
    ]
    c.emit("recovery_takeover", t, u["id"], rows, ("recovery_takeover",), [0, 1])


def _weakened_control(c: Ctx, t: Tenant) -> None:
    """An admin's session turns an organisation-wide protection off, as each source
    spells it: a settings change (flag, nested camelCase, an emptied allowlist, a
    shorter minimum password), or an action named for it."""
    v = _variant(c, "weakened_control", 5)
    a, t0 = t.user(c.rng, "admin"), c.when(t)
    action, changes = (
        ("settings.update", '{"before":{"mfa_required":true},"after":{"mfa_required":false}}'),
        (
            "organization.update",
            '{"before":{"security":{"requireTwoFactor":"enforced"}},'
            '"after":{"security":{"requireTwoFactor":"optional"}}}',
        ),
        (
            "settings.update",
            '{"before":{"ip_allowlist":["203.0.113.0/24"]},"after":{"ip_allowlist":[]}}',
        ),
        (
            "password_policy.update",
            '{"before":{"password_min_length":14},"after":{"password_min_length":6}}',
        ),
        ("sso.disable", None),
    )[v]
    rows = [_user_row(a, t, t0, action, target_id="settings", target_type="settings",
                      **({"changes": changes} if changes else {}))]  # fmt: skip
    c.emit("weakened_control", t, a["id"], rows, ("security_control_weakened",))


def _made_public(c: Ctx, t: Tenant) -> None:
    """An intruder's session opens data to everybody, as each source writes it: a
    repository's visibility, a document shared with anyone, a bucket policy for
    ``Principal: *`` (CloudTrail's request under ``original``), ``allUsers`` bound to a
    bucket (Google Cloud's binding delta), a public access block switched off, or an
    action named for it."""
    v = _variant(c, "made_public", 6)
    a, t0 = t.user(c.rng, ("admin", "editor")), c.when(t)
    bucket = f"arn:aws:s3:::{t.name}-exports"
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
        f'"Action":"s3:GetObject","Resource":"{bucket}/*"}}]}}'
    )
    action, target, extra = (
        ("repository.update", f"{t.name}/payments", {"changes": (
            '{"before":{"visibility":"private"},"after":{"visibility":"public"}}')}),
        ("document.share", "doc-strategy", {"metadata": '{"shared_with":"anyone_with_link"}'}),
        ("policy.update", bucket, {"metadata": (
            '{"source_format":"cloudtrail","source_action":"PutBucketPolicy","original":'
            f'{{"eventName":"PutBucketPolicy","requestParameters":{{"bucketName":"{t.name}-exports",'
            f'"bucketPolicy":{policy}}}}}}}')}),
        ("role.grant", f"projects/_/buckets/{t.name}-exports", {"metadata": (
            '{"source_format":"gcp","source_action":"storage.setIamPermissions","original":'
            '{"protoPayload":{"serviceData":{"policyDelta":{"bindingDeltas":[{"action":"ADD",'
            '"role":"roles/storage.objectViewer","member":"allUsers"}]}}}}}')}),
        ("bucket.update", bucket, {"changes": (
            '{"before":{"blockPublicAccess":{"enabled":true}},'
            '"after":{"blockPublicAccess":{"enabled":false}}}')}),
        ("document.make_public", "doc-board-minutes", {}),
    )[v]  # fmt: skip
    rows = [_user_row(a, t, t0, action, target_id=target, target_type="resource", **extra)]
    c.emit("made_public", t, a["id"], rows, ("public_exposure",))


#: Calls a stolen key tries: a verb on each of many kinds of cloud object.
_CLOUD_OBJECTS = (
    "iam_users", "iam_roles", "iam_policies", "ec2_instances", "ec2_snapshots", "s3_buckets",
    "kms_keys", "lambda_functions", "rds_db_instances", "secretsmanager_secrets",
    "dynamodb_tables", "sqs_queues",
)  # fmt: skip


def _probe(c: Ctx, t: Tenant) -> None:
    """A person's stolen credentials mapping what they may do, from abroad: 12 to 36
    calls on 6 to 12 kinds of object, nearly all refused, a few seconds apart or one
    every few minutes."""
    v = _variant(c, "probe", 2)
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=3.0), _abroad(c.rng)
    kinds = int(c.rng.integers(6, len(_CLOUD_OBJECTS) + 1))
    # every kind listed first, then read: the first 12 calls already touch 6 kinds
    calls = [f"{o}.{verb}" for verb in ("list", "get", "describe") for o in _CLOUD_OBJECTS[:kinds]]
    calls = calls[: max(12, int(c.rng.integers(12, len(calls) + 1)))]
    step = (3 * US, 4 * MINUTE)[v]
    rows = [
        {
            "t": t0 + i * step,
            "action": call,
            "outcome": "success" if i == 0 else "denied",
            "actor_id": u["id"],
            "role": u["role"],
            "observer_service": "api",
            **geo,
        }
        for i, call in enumerate(calls)
    ]
    c.emit("probe", t, u["id"], rows, ("permission_probing",))


def _port_opened(c: Ctx, t: Tenant) -> None:
    """An intruder's admin session opening a door to the internet: SSH in a security
    group (CloudTrail's request), every protocol in a Google Cloud firewall, RDP in an
    application's firewall settings."""
    v = _variant(c, "port_opened", 3)
    a, t0 = t.user(c.rng, "admin"), c.when(t)
    action, extra = (
        ("ec2_security_group_ingress.authorize", {"metadata": (
            '{"source_format":"cloudtrail","original":{"requestParameters":{"groupId":"sg-1",'
            '"ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,'
            '"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}}}}')}),
        ("compute_firewalls.insert", {"metadata": (
            '{"source_format":"gcp","original":{"protoPayload":{"request":{"direction":'
            '"INGRESS","sourceRanges":["0.0.0.0/0"],"alloweds":[{"IPProtocol":"all"}]}}}}')}),
        ("firewall_rule.create", {"changes": (
            '{"after":{"direction":"inbound","source":"*","port":3389,"protocol":"tcp"}}')}),
    )[v]  # fmt: skip
    rows = [_user_row(a, t, t0, action, target_id="fw-1", target_type="resource", **extra)]
    c.emit("port_opened", t, a["id"], rows, ("network_exposure",))


def _outside_door(c: Ctx, t: Tenant) -> None:
    """An intruder's admin session leaving a door for their own account: a role that
    another AWS account may assume, a snapshot shared with it, a Gmail address made a
    project owner."""
    v = _variant(c, "outside_door", 3)
    a, t0 = t.user(c.rng, "admin"), c.when(t)
    outsider = f"{int(c.rng.integers(10**11, 10**12)):012d}"
    trust = (
        '{\\"Statement\\":[{\\"Effect\\":\\"Allow\\",\\"Action\\":\\"sts:AssumeRole\\",'
        f'\\"Principal\\":{{\\"AWS\\":\\"arn:aws:iam::{outsider}:root\\"}}}}]}}'
    )
    action, target, kind, extra = (
        ("policy.update", "role/admin", "resource", {"metadata": (
            '{"source_format":"cloudtrail","original":{"requestParameters":{"roleName":"admin",'
            f'"policyDocument":"{trust}"}}}}}}')}),
        ("ec2_snapshot_attribute.modify", "snap-1", "resource", {"metadata": (
            '{"source_format":"cloudtrail","original":{"requestParameters":{"snapshotId":'
            '"snap-1","createVolumePermission":{"add":{"items":[{"userId":"'
            f'{outsider}"}}]}}}}}}}}}}')}),
        ("role.grant", "user:backup.ops.7@gmail.com", "principal",
         {"metadata": '{"role":"roles/owner"}'}),
    )[v]  # fmt: skip
    rows = [_user_row(a, t, t0, action, target_id=target, target_type=kind, **extra)]
    c.emit("outside_door", t, a["id"], rows, ("external_access",))


def _harvest(c: Ctx, t: Tenant) -> None:
    """A person's account, weeks into its habits, reading 12 to 30 secrets it never read
    before within minutes, from abroad (CloudTrail's ``GetSecretValue``, the secret
    named in the request)."""
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=2.0), _abroad(c.rng)
    n = int(c.rng.integers(12, 31))
    rows = [
        {
            "t": t0 + i * 20 * US,
            "action": "secretsmanager_secret_value.get",
            "actor_id": u["id"],
            "role": u["role"],
            "observer_service": "api",
            "metadata": (
                '{"source_format":"cloudtrail","original":{"requestParameters":'
                f'{{"secretId":"prod/{t.name}/svc-{i}"}}}}}}'
            ),
            **geo,
        }
        for i in range(n)
    ]
    c.emit("harvest", t, u["id"], rows, ("secrets_harvesting",))


def _mining(c: Ctx, t: Tenant) -> None:
    """An admin's account launching 6 to 20 GPU or very large instances within the hour
    in a region the tenant never used (CloudTrail's ``RunInstances`` request)."""
    a, t0 = t.user(c.rng, "admin"), c.when(t, local_hour=23.0)
    n = int(c.rng.integers(6, 21))
    kind = ("p3.16xlarge", "g5.48xlarge", "c5.24xlarge")[int(c.rng.integers(3))]
    rows = [
        {
            **_user_row(a, t, t0 + i * 90 * US, "ec2_instances.run"),
            "observer_region": "ap-southeast-3",
            "metadata": (
                '{"source_format":"cloudtrail","original":{"requestParameters":'
                f'{{"instanceType":"{kind}","instancesSet":{{"items":[{{"minCount":1}}]}}}}}}}}'
            ),
        }
        for i in range(n)
    ]
    c.emit("mining", t, a["id"], rows, ("resource_hijacking",))


def _backdoor(c: Ctx, t: Tenant) -> None:
    """An admin's session creating an account, granting it ``AdministratorAccess`` a
    minute later and making it an access key (CloudTrail's names as imported)."""
    a, t0 = t.user(c.rng, "admin"), c.when(t, local_hour=1.5)
    new = f"arn:aws:iam::000000000000:user/{t.name}-support-{int(c.rng.integers(100))}"
    steps = [
        ("user.create", {}),
        (
            "permission.grant",
            {"metadata": '{"policy":"arn:aws:iam::aws:policy/AdministratorAccess"}'},
        ),
        ("api_key.create", {}),
    ]
    rows = [
        _user_row(a, t, t0 + k * 75 * US, action,
                  target_id=new, target_type="AWS::IAM::User", **extra)
        for k, (action, extra) in enumerate(steps)
    ]  # fmt: skip
    c.emit("backdoor", t, a["id"], rows, ("backdoor_account",))


def _key_wipe(c: Ctx, t: Tenant) -> None:
    """An admin's session scheduling the deletion of 2 to 5 KMS keys (the key named in
    CloudTrail's request), or destroying a Google Cloud key version."""
    v = _variant(c, "key_wipe", 2)
    a, t0 = t.user(c.rng, "admin"), c.when(t)
    if v == 0:
        rows = [
            {
                **_user_row(a, t, t0 + i * 40 * US, "kms_key_deletion.schedule"),
                "metadata": (
                    '{"source_format":"cloudtrail","original":{"requestParameters":'
                    f'{{"keyId":"key/{t.name}-{i}","pendingWindowInDays":7}}}}}}'
                ),
            }
            for i in range(int(c.rng.integers(2, 6)))
        ]
    else:
        rows = [
            _user_row(a, t, t0, "cloudkms_crypto_key_version.destroy",
                      target_id=f"keyRings/{t.name}/cryptoKeys/data/cryptoKeyVersions/1",
                      target_type="cloudkms_cryptokeyversion")
        ]  # fmt: skip
    c.emit("key_wipe", t, a["id"], rows, ("key_destruction",))


def _impersonation(c: Ctx, t: Tenant) -> None:
    """An admin acting as a user for the first time, at night (GitLab's or Okta's
    action as imported)."""
    v = _variant(c, "impersonation", 2)
    a, t0 = t.user(c.rng, "admin"), c.when(t, local_hour=23.5)
    victim = t.user(c.rng, NON_ADMIN_ROLES)
    action = ("user.impersonate", "user_session_impersonation.initiate")[v]
    rows = [_user_row(a, t, t0, action, target_id=victim["id"], target_type="user")]
    c.emit("impersonation", t, a["id"], rows, ("impersonation",))


def _remote_shell(c: Ctx, t: Tenant) -> None:
    """An admin's account, weeks into its habits, from abroad at night, running a shell
    script on 6 to 15 machines at once (CloudTrail's ``SendCommand`` with its
    ``instanceIds``), or opening sessions on 6 to 10 machines within minutes."""
    v = _variant(c, "remote_shell", 2)
    a, t0, geo = t.user(c.rng, "admin"), c.when(t, local_hour=2.5), _abroad(c.rng)
    machines = [f"i-0{t.name[:4]}{i:04x}" for i in range(int(c.rng.integers(6, 16)))]
    if v == 0:
        requests = ['{"instanceIds":[' + ",".join(f'"{m}"' for m in machines) + "]}"]
        action = "ssm_command.send"
    else:
        requests = [f'{{"target":"{m}"}}' for m in machines[:10]]
        action = "ssm_session.start"
    rows = [
        {
            **_user_row(a, t, t0 + i * 50 * US, action),
            "metadata": (
                f'{{"source_format":"cloudtrail","original":{{"requestParameters":{r}}}}}'
            ),
            **geo,
        }
        for i, r in enumerate(requests)
    ]
    c.emit("remote_shell", t, a["id"], rows, ("remote_execution",))


def _no_mfa(c: Ctx, t: Tenant) -> None:
    """A person's console sign-ins with MFA on 6 to 10 working days (CloudTrail's
    ``MFAUsed: Yes`` as imported), then one at night with the password alone from a
    network of the same country it never used."""
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=22.5)
    habit = int(c.rng.integers(6, 11))
    said = '{{"source_format":"cloudtrail","mfa_used":"{}"}}'
    rows = [
        _user_row(u, t, t0 - (k + 1) * DAY - 13 * HOUR, "user.login", metadata=said.format("Yes"))
        for k in reversed(range(habit))
    ]
    rows.append(
        _user_row(u, t, t0, "user.login", metadata=said.format("No"),
                  source_ip=f"198.18.{int(c.rng.integers(0, 255))}.{int(c.rng.integers(1, 250))}")
    )  # fmt: skip
    c.emit("no_mfa", t, u["id"], rows, ("login_without_mfa",))


def _deploys(role: str, fn: str, t0: int, days: int) -> list[dict[str, Any]]:
    """A pipeline's role deploying function ``fn`` once a day for ``days`` days before
    ``t0`` (CloudTrail's ``UpdateFunctionCode`` as imported: the function in the request)."""
    request = (
        '{"source_format":"cloudtrail","original":'
        f'{{"requestParameters":{{"functionName":"{fn}"}}}}}}'
    )
    return [
        {
            "t": t0 - (d + 1) * DAY - 3 * HOUR,
            "action": "lambda_function_code.update",
            "actor_id": role,
            "observer_service": "api",
            "source_ip": "10.200.0.5",
            "metadata": request,
        }
        for d in reversed(range(days))
    ]


def _function_overwrite(c: Ctx, t: Tenant) -> None:
    """A function its pipeline deployed every day for 8 to 14 days; then an admin's
    account, from abroad at night, replaces its code (CloudTrail's ``UpdateFunctionCode``)
    or attaches a layer published in another AWS account."""
    v = _variant(c, "function_overwrite", 2)
    a, t0, geo = t.user(c.rng, "admin"), c.when(t, local_hour=1.5), _abroad(c.rng)
    fn, role = f"{t.name}-billing", f"{t.name}-deploy-role-{c.count}"
    rows = _deploys(role, fn, t0, int(c.rng.integers(8, 15)))
    if v == 0:
        action, request = "lambda_function_code.update", f'{{"functionName":"{fn}"}}'
    else:
        layer = f"arn:aws:lambda:us-east-1:{int(c.rng.integers(10**11, 10**12))}:layer:ext:1"
        action = "lambda_function_configuration.update"
        request = f'{{"functionName":"{fn}","layers":["{layer}"]}}'
    said = f'{{"source_format":"cloudtrail","original":{{"requestParameters":{request}}}}}'
    rows.append({**_user_row(a, t, t0, action, metadata=said), **geo})
    c.emit("function_overwrite", t, a["id"], rows, ("code_tampering",))


def _llmjacking(c: Ctx, t: Tenant) -> None:
    """A person's account weeks into its habits, from abroad: it reads whether model
    invocations are logged, enables model access, then invokes 2 to 4 Bedrock models 20 to
    40 times within the hour (CloudTrail's names as imported, the model in the request)."""
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=3.5), _abroad(c.rng)
    models = ["anthropic.claude-3-sonnet", "anthropic.claude-v2", "meta.llama3-70b",
              "mistral.large"][: int(c.rng.integers(2, 5))]  # fmt: skip

    def said(model: str) -> str:
        request = f'{{"modelId":"{model}"}}'
        return f'{{"source_format":"cloudtrail","original":{{"requestParameters":{request}}}}}'

    rows = [
        {**_user_row(u, t, t0, "bedrock_model_invocation_logging_configuration.get"), **geo},
        {**_user_row(u, t, t0 + MINUTE, "bedrock_use_case_for_model_access.put"), **geo},
    ]
    rows += [
        {**_user_row(u, t, t0 + (2 + i) * MINUTE, "bedrock_model.invoke",
                     metadata=said(models[i % len(models)])), **geo}
        for i in range(int(c.rng.integers(20, 41)))
    ]  # fmt: skip
    c.emit("llmjacking", t, u["id"], rows, ("model_abuse",))


def _sse_ransom(c: Ctx, t: Tenant) -> None:
    """A person's account weeks into its habits, from abroad at night, copying 20 to 60
    objects of a bucket onto themselves under a customer-provided key (CloudTrail's
    ``CopyObject`` with SSE-C headers) or under a KMS key of another account."""
    v = _variant(c, "sse_ransom", 2)
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=2.0), _abroad(c.rng)
    if v == 0:
        key = '"x-amz-server-side-encryption-customer-algorithm":"AES256"'
    else:
        account = int(c.rng.integers(10**11, 10**12))
        key = (
            '"x-amz-server-side-encryption-aws-kms-key-id":'
            f'"arn:aws:kms:us-east-1:{account}:key/k1"'
        )

    def said(i: int) -> str:
        obj = f'"bucketName":"{t.name}-docs","key":"d/{i:04d}.pdf"'
        request = f'{{{obj},"x-amz-copy-source":"{t.name}-docs/d/{i:04d}.pdf",{key}}}'
        return f'{{"source_format":"cloudtrail","original":{{"requestParameters":{request}}}}}'

    rows = [
        {**_user_row(u, t, t0 + i * 2 * US, "s3_object.copy", metadata=said(i)), **geo}
        for i in range(int(c.rng.integers(20, 61)))
    ]
    c.emit("sse_ransom", t, u["id"], rows, ("ransom_encryption",))


def _role_spree(c: Ctx, t: Tenant) -> None:
    """A person's account weeks into its habits, from abroad at night, trying to assume
    6 to 12 roles of other accounts within minutes (CloudTrail's ``AssumeRole``, the role
    in the request), all refused but the last."""
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=0.5), _abroad(c.rng)
    n = int(c.rng.integers(6, 13))

    def said(i: int) -> str:
        arn = f"arn:aws:iam::{100000000000 + i}:role/OrganizationAccountAccessRole"
        return _requested(f'{{"roleArn":"{arn}"}}')

    rows = [
        {**_user_row(u, t, t0 + i * 20 * US, "sts_role.assume", metadata=said(i),
                     outcome="success" if i == n - 1 else "denied"), **geo}
        for i in range(n)
    ]  # fmt: skip
    c.emit("role_spree", t, u["id"], rows, ("identity_pivot",))


#: What a tool run with a stolen key reads first, service by service (as imported).
_RECON_READS = (
    "sts_caller_identity.get", "iam_users.list", "iam_roles.list", "iam_policies.list",
    "iam_account_authorization_details.get", "ec2_instances.describe",
    "ec2_security_groups.describe", "lambda_functions.list", "secretsmanager_secrets.list",
    "rds_db_instances.describe", "kms_keys.list", "cloudtrail_trails.describe",
    "s3_buckets.list", "ssm_parameters.describe", "eks_clusters.list",
)  # fmt: skip


def _recon(c: Ctx, t: Tenant) -> None:
    """A person's account weeks into its habits, from abroad at night, with a script's
    user agent: 12 to 15 kinds of listings and descriptions across services within
    minutes (what Pacu or ScoutSuite asks first)."""
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=1.0), _abroad(c.rng)
    reads = _RECON_READS[: int(c.rng.integers(12, 16))]
    rows = [
        {**_user_row(u, t, t0 + i * 15 * US, a, user_agent="Boto3/1.34.1 Python/3.12"), **geo}
        for i, a in enumerate(reads)
    ]
    c.emit("recon", t, u["id"], rows, ("reconnaissance",))


def _batch_wipe(c: Ctx, t: Tenant) -> None:
    """A person's account weeks into its habits, from abroad at night, with a script's
    user agent: it lists a bucket's object versions, empties it with one to three
    ``DeleteObjects`` (whose events do not name the objects) and leaves a ransom note
    (Stratus Red Team's s3-ransomware-batch-deletion)."""
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=2.5), _abroad(c.rng)
    # an exit node's network, new to the person even after their other incidents abroad
    geo["source_ip"] = f"185.220.{int(c.rng.integers(0, 256))}.{int(c.rng.integers(1, 255))}"
    agent = "Boto3/1.34.1 md/Botocore#1.34.1 ua/2.0 os/linux lang/python#3.12"
    bucket = _requested(f'{{"bucketName":"{t.name}-docs","delete":""}}')
    steps = ["s3_object_versions.list"]
    steps += ["s3_objects.delete"] * int(c.rng.integers(1, 4))
    steps += ["s3_object.put"]
    rows = [
        {**_user_row(u, t, t0 + i * 10 * US, a, user_agent=agent, metadata=bucket), **geo}
        for i, a in enumerate(steps)
    ]
    c.emit("batch_wipe", t, u["id"], rows, ("mass_deletion",))


def _admin_grant_abroad(c: Ctx, t: Tenant) -> None:
    """An intruder in an admin's account, from a network of theirs with their own client,
    making a colleague's account (which they hold too) an administrator: a role grant, or
    AWS's ``AdministratorAccess`` attached."""
    v = _variant(c, "admin_grant_abroad", 2)
    a, t0, geo = t.user(c.rng, "admin"), c.when(t, local_hour=2.0), _abroad(c.rng)
    victim = t.user(c.rng, NON_ADMIN_ROLES)
    action, meta = (
        ("role.grant", '{"role":"admin"}'),
        ("permission.grant", '{"policy":"arn:aws:iam::aws:policy/AdministratorAccess"}'),
    )[v]
    rows = [
        _user_row(a, t, t0, action, target_id=victim["id"], target_type="user",
                  metadata=meta, user_agent="python-requests/2.31", **geo)
    ]  # fmt: skip
    c.emit("admin_grant_abroad", t, a["id"], rows, ("admin_grant_from_new_network",))


def _reported_signin(c: Ctx, t: Tenant) -> None:
    """An intruder's sign-in from abroad at night that the identity provider suspected
    and let through (ThreatInsight in log-only mode), or one the user then reports as
    not theirs from the office."""
    v = _variant(c, "reported_signin", 2)
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=3.0), _abroad(c.rng)
    suspected = '{"threat_suspected":"true","source_action":"user.session.start"}'
    rows = [
        _user_row(u, t, t0, "user.login", observer_service="auth",
                  metadata=suspected if v == 0 else None, **geo)
    ]  # fmt: skip
    if v == 1:
        report = "user.account.report_suspicious_activity_by_enduser"
        rows.append(
            _user_row(u, t, t0 + int(c.rng.integers(30, 90)) * MINUTE,
                      "user_account.report_suspicious_activity_by_enduser",
                      metadata=f'{{"source_action":"{report}"}}')
        )  # fmt: skip
    c.emit("reported_signin", t, u["id"], rows, ("source_flagged",))


ATTACK_KINDS: dict[str, Callable[[Ctx, Tenant], None]] = {
    "slow_guess": _slow_guess,
    "slow_spray": _slow_spray,
    "campaign": _campaign,
    "session_hijack": _session_hijack,
    "session_after_end": _session_after_end,
    "side_door": _side_door,
    "dormant_takeover": _dormant_takeover,
    "new_key_exfil": _new_key_exfil,
    "mfa_takeover": _mfa_takeover,
    "person_bulk": _person_bulk,
    "bulk_read": _bulk_read,
    "recovery_takeover": _recovery_takeover,
    "weakened_control": _weakened_control,
    "made_public": _made_public,
    "probe": _probe,
    "port_opened": _port_opened,
    "outside_door": _outside_door,
    "harvest": _harvest,
    "mining": _mining,
    "backdoor": _backdoor,
    "key_wipe": _key_wipe,
    "impersonation": _impersonation,
    "remote_shell": _remote_shell,
    "no_mfa": _no_mfa,
    "function_overwrite": _function_overwrite,
    "llmjacking": _llmjacking,
    "sse_ransom": _sse_ransom,
    "role_spree": _role_spree,
    "recon": _recon,
    "batch_wipe": _batch_wipe,
    "admin_grant_abroad": _admin_grant_abroad,
    "reported_signin": _reported_signin,
}
#: Kinds that need an account silent since the first days (a leaver).
LEAVER_KINDS = ("dormant", "dormant_takeover", "lookalike:returning")


# --------------------------------------------------------------------------- look-alikes


def _look(c: Ctx, t: Tenant, kind: str, actor: str | None, rows: list[dict[str, Any]]) -> None:
    c.emit(f"lookalike:{kind}", t, actor, rows, ())


def _mistyper(c: Ctx, t: Tenant) -> None:
    """Three typos a day for two weeks, each followed by a success."""
    u = t.user(c.rng, NON_ADMIN_ROLES)
    rows = []
    for d in range(int(c.rng.integers(10, 20)), 40 if c.days > 41 else c.days - 1):
        if d % 7 >= 5 or (t.name, d) in c.reserved:
            continue
        for h in (9.0, 13.0, 16.0):
            ts = d * DAY + int((h - t.offset) * HOUR) + int(c.rng.integers(0, 30)) * MINUTE
            rows.append(
                _user_row(u, t, ts, "user.login", outcome="failure", observer_service="auth")
            )
            rows.append(_user_row(u, t, ts + 40 * US, "user.login", observer_service="auth"))
    _look(c, t, "mistyper", u["id"], rows)


def _shared_egress(c: Ctx, t: Tenant) -> None:
    """A VPN egress shared by people of several tenants, a day of typos and successes."""
    ip = f"192.0.2.{int(c.rng.integers(1, 250))}"
    day = _free_day(c, c.tenants[:4])
    for x in c.tenants[:4]:
        rows = []
        for k, u in enumerate(_people(x)[:12]):
            ts = day * DAY + int((8 + k * 0.5 - x.offset) * HOUR)
            for i in range(int(c.rng.integers(0, 3))):
                rows.append(
                    _user_row(
                        u,
                        x,
                        ts + i * 20 * US,
                        "user.login",
                        outcome="failure",
                        observer_service="auth",
                        source_ip=ip,
                    )
                )
            rows.append(
                _user_row(u, x, ts + MINUTE, "user.login", observer_service="auth", source_ip=ip)
            )
            rows.append(
                _user_row(u, x, ts + 2 * MINUTE, "document.read", target_id="doc-1", source_ip=ip)
            )
        _look(c, x, "shared_egress", None, rows)


def _helpdesk_wave(c: Ctx, t: Tenant) -> None:
    """A morning of forgotten passwords after a password policy change: fails, reset, login."""
    t0 = c.when(t, local_hour=9.0)
    rows = []
    for k, u in enumerate(_people(t)[:10]):
        ts = t0 + k * 7 * MINUTE
        for i in range(int(c.rng.integers(3, 6))):
            rows.append(
                _user_row(
                    u, t, ts + i * 30 * US, "user.login", outcome="failure", observer_service="auth"
                )
            )
        rows.append(_user_row(u, t, ts + 4 * MINUTE, "password.reset", observer_service="auth"))
        rows.append(_user_row(u, t, ts + 5 * MINUTE, "user.login", observer_service="auth"))
    _look(c, t, "helpdesk_wave", None, rows)


def _team_admin(c: Ctx, t: Tenant) -> None:
    """An admin adding colleagues to the admins team (and a normal team)."""
    a, t0 = t.user(c.rng, "admin"), c.when(t)
    rows = [
        _user_row(
            a,
            t,
            t0 + k * MINUTE,
            "team_member.add",
            target_id=u["id"],
            target_type="user",
            metadata='{"team":"Admins"}' if k % 2 else '{"team":"Marketing"}',
        )
        for k, u in enumerate([x for x in _people(t) if x is not a][:6])
    ]
    _look(c, t, "team_admin", a["id"], rows)


def _traveller(c: Ctx, t: Tenant) -> None:
    """A user working a day from abroad during their holiday, in a new session."""
    away = [
        x
        for x in _people(t)
        if x["vacation"][0] >= 15
        and x["vacation"][0] + 3 < min(x["vacation"][1], c.days - 1)
        and not x.get("involved")
    ]
    if not away:
        return
    u = away[int(c.rng.integers(len(away)))]
    u["involved"] = True
    day = u["vacation"][0] + 2
    while (t.name, day) in c.reserved:
        day += 1
    t0 = day * DAY + int((14 - t.offset) * HOUR)
    geo = _abroad(c.rng)
    sid = f"{t.name}-trip-{c.count}"
    rows = [{**_user_row(u, t, t0, "user.login", observer_service="auth", session_id=sid), **geo}]
    rows += [
        {
            **_user_row(
                u,
                t,
                t0 + (i + 1) * 3 * MINUTE,
                "document.read",
                target_id=f"doc-{i}",
                session_id=sid,
            ),
            **geo,
        }
        for i in range(5)
    ]
    _look(c, t, "traveller", u["id"], rows)


def _returning(c: Ctx, t: Tenant) -> None:
    """An employee back from leave, at home, enrolling a new phone."""
    u = next(x for x in t.users if x.get("leaver") and not x.get("involved"))
    u["involved"] = True
    t0 = c.when(t, min_day=u["leaver"] + 31)
    rows = [
        _user_row(u, t, t0, "user.login", observer_service="auth"),
        _user_row(
            u,
            t,
            t0 + 3 * MINUTE,
            "mfa.enroll",
            target_id=u["id"],
            target_type="user",
            observer_service="auth",
        ),
        _user_row(u, t, t0 + 6 * MINUTE, "password.change", observer_service="auth"),
    ]
    _look(c, t, "returning", u["id"], rows)


def _ci_key(c: Ctx, t: Tenant) -> None:
    """A new CI key syncing documents from the tenant's own country within the hour."""
    a, t0 = t.user(c.rng, "admin"), c.when(t)
    key = f"{t.name}-key-ok{c.count}"
    rows = [_user_row(a, t, t0, "api_key.create", target_id=key, target_type="api_key")]
    rows += [
        {
            "t": t0 + 10 * MINUTE + i * US * 3,
            "action": "document.read",
            "actor_id": key,
            "actor_type": "api_key",
            "observer_service": "api",
            "source_ip": "10.200.0.1",
            "geo_country": t.country,
            "target_id": f"doc-{i}",
            "target_type": "document",
        }
        for i in range(60)
    ]
    _look(c, t, "ci_key", a["id"], rows)


def _new_phone(c: Ctx, t: Tenant) -> None:
    """Two prompts denied on the old phone, one approved, the new phone enrolled."""
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    rows = [
        _user_row(u, t, t0 + i * MINUTE, "mfa.challenge", outcome="denied", observer_service="auth")
        for i in range(2)
    ]
    rows.append(_user_row(u, t, t0 + 3 * MINUTE, "mfa.challenge", observer_service="auth"))
    rows.append(
        _user_row(
            u,
            t,
            t0 + 10 * MINUTE,
            "mfa.enroll",
            target_id=u["id"],
            target_type="user",
            observer_service="auth",
        )
    )
    _look(c, t, "new_phone", u["id"], rows)


def _scheduled_bulk(c: Ctx, t: Tenant) -> None:
    """Month-end exports by the reporting key and nightly purges by the job key."""
    rows = []
    report = f"{t.name}-key-reports"
    for d in range(c.days):
        if (d + 5) in (31, 59, 90):  # Jan 31, Feb 28, Mar 31 (2026)
            t0 = d * DAY + int((23 - t.offset) % 24 * HOUR)
            rows += [
                {
                    "t": t0 + i * 5 * US,
                    "action": "document.export",
                    "actor_id": report,
                    "actor_type": "api_key",
                    "observer_service": "api",
                    "source_ip": "10.200.0.2",
                    "target_id": f"doc-{i}",
                    "target_type": "document",
                }
                for i in range(200)
            ]
        t1 = d * DAY + int((1 - t.offset) % 24 * HOUR)
        rows += [
            {
                "t": t1 + i * 2 * US,
                "action": "record.delete",
                "actor_id": f"{t.name}-key-purge",
                "actor_type": "api_key",
                "observer_service": "api",
                "source_ip": "10.200.0.2",
                "target_id": f"rec-{d}-{i}",
                "target_type": "record",
            }
            for i in range(int(c.rng.integers(40, 80)))
        ]
    _look(c, t, "scheduled_bulk", report, rows)


def _migration(c: Ctx, t: Tenant) -> None:
    """A planned one-off migration export by an integration key."""
    t0 = c.when(t, local_hour=20.0)
    rows = [
        {
            "t": t0 + i * 4 * US,
            "action": "document.export",
            "actor_id": f"{t.name}-key-migrate",
            "actor_type": "api_key",
            "observer_service": "api",
            "source_ip": "10.200.0.3",
            "target_id": f"doc-{i}",
            "target_type": "document",
        }
        for i in range(500)
    ]
    _look(c, t, "migration", None, rows)


def _session_end_noise(c: Ctx, t: Tenant) -> None:
    """Requests in flight at logout, and a product that reuses the session id on login;
    a session moving from the office network to home, same browser and country."""
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=11.0)
    sid = f"{t.name}-quirk-{c.count}"
    s = {"session_id": sid, "user_agent": AGENTS[0]}
    rows = [
        _user_row(u, t, t0, "user.login", observer_service="auth", **s),
        _user_row(u, t, t0 + 10 * MINUTE, "user.logout", observer_service="auth", **s),
        _user_row(u, t, t0 + 10 * MINUTE + 20 * US, "document.update", target_id="doc-3", **s),
        _user_row(u, t, t0 + 3 * HOUR, "user.login", observer_service="auth", **s),
        _user_row(u, t, t0 + 3 * HOUR + MINUTE, "document.read", target_id="doc-4", **s),
        {
            **_user_row(u, t, t0 + 4 * HOUR, "document.read", target_id="doc-5", **s),
            "source_ip": u["home_ip"],
        },
    ]
    _look(c, t, "session_quirks", u["id"], rows)


def _pipeline_reads(c: Ctx, t: Tenant) -> None:
    """A data pipeline's role, typed ``user`` as CloudTrail's assumed roles are, reading
    150 new objects an hour around the clock for three days from its first event on."""
    # the three days end before the scenario does: events past the end of the other
    # traffic would look like every other source falling silent (logging_gap)
    t0 = min(c.when(t) - int(c.rng.integers(0, 24)) * HOUR, (c.days - 4) * DAY)
    role = f"{t.name}-etl-role-{c.count}"
    rows = [
        {
            "t": t0 + h * HOUR + i * 24 * US,
            "action": "s3_object.get",
            "actor_id": role,
            "observer_service": "api",
            "source_ip": "10.200.0.4",
            "target_id": f"arn:aws:s3:::{t.name}-lake/h{h:03d}/part-{i:03d}",
            "target_type": "s3_object",
        }
        for h in range(72)
        for i in range(150)
    ]
    _look(c, t, "pipeline_reads", role, rows)


def _helpdesk_reset(c: Ctx, t: Tenant) -> None:
    """A user who lost their phone: the helpdesk resets their MFA, they sign in from
    the office minutes later and enroll the new phone."""
    u, helpdesk, t0 = t.user(c.rng, NON_ADMIN_ROLES), t.user(c.rng, "admin"), c.when(t)
    rows = [
        _user_row(
            helpdesk,
            t,
            t0,
            "mfa.reset",
            target_id=u["id"],
            target_type="user",
            observer_service="auth",
        ),
        _user_row(u, t, t0 + 6 * MINUTE, "user.login", observer_service="auth"),
        _user_row(
            u,
            t,
            t0 + 8 * MINUTE,
            "mfa.enroll",
            target_id=u["id"],
            target_type="user",
            observer_service="auth",
        ),
    ]
    _look(c, t, "helpdesk_reset", u["id"], rows)


def _hardening(c: Ctx, t: Tenant) -> None:
    """An admin tightening security and changing ordinary settings: MFA required, a
    longer minimum password, an allowlist grown, notifications switched off."""
    a, t0 = t.user(c.rng, "admin"), c.when(t)
    changes = (
        '{"before":{"mfa_required":false},"after":{"mfa_required":true}}',
        '{"before":{"password_min_length":8},"after":{"password_min_length":12}}',
        '{"before":{"ip_allowlist":["203.0.113.0/24"]},'
        '"after":{"ip_allowlist":["203.0.113.0/24","198.51.100.0/24"]}}',
        '{"before":{"email_notifications":true},"after":{"email_notifications":false}}',
    )
    rows = [
        _user_row(a, t, t0 + k * 5 * MINUTE, "settings.update", target_id="settings",
                  target_type="settings", changes=ch)
        for k, ch in enumerate(changes)
    ]  # fmt: skip
    _look(c, t, "hardening", a["id"], rows)


def _shared_internally(c: Ctx, t: Tenant) -> None:
    """An admin sharing within the organisation and closing things: a document shared
    with a team and with a partner, a report made visible to the organisation, a
    repository made private, a public SSH key uploaded, a bucket policy for one other
    account."""
    u, t0 = t.user(c.rng, "admin"), c.when(t)
    other = (
        '{"source_format":"cloudtrail","source_action":"PutBucketPolicy","original":'
        '{"requestParameters":{"bucketName":"reports","bucketPolicy":{"Statement":[{'
        '"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},'
        '"Action":"s3:GetObject"}]}}}}'
    )
    steps = (
        ("document.share", "doc-1", {"metadata": '{"shared_with":"team:finance"}'}),
        ("document.share", "doc-2", {"metadata": '{"shared_with":"partner@northwind.example"}'}),
        ("report.update", "report-1", {"changes": (
            '{"before":{"visibility":"team"},"after":{"visibility":"organisation"}}')}),
        ("repository.update", "repo-1", {"changes": (
            '{"before":{"visibility":"public"},"after":{"visibility":"private"}}')}),
        ("ssh_key.add", "key-1", {"changes": '{"after":{"publicKey":"ssh-ed25519 AAAAC3Nz"}}'}),
        ("policy.update", "arn:aws:s3:::reports", {"metadata": other}),
    )  # fmt: skip
    rows = [
        _user_row(u, t, t0 + k * 7 * MINUTE, action, target_id=target, target_type="resource",
                  **extra)
        for k, (action, target, extra) in enumerate(steps)
    ]  # fmt: skip
    _look(c, t, "shared_internally", u["id"], rows)


def _pipeline_deploys(c: Ctx, t: Tenant) -> None:
    """A pipeline deploying a function every day for two weeks and attaching a layer of
    its own account; on the last day an engineer hotfixes the function from the office."""
    t0, u = c.when(t), t.user(c.rng, "admin")
    fn, role = f"{t.name}-reports", f"{t.name}-release-role-{c.count}"
    rows = _deploys(role, fn, t0, 14)
    own = (f'{{"source_format":"cloudtrail","original":{{"recipientAccountId":"111122223333",'
           f'"requestParameters":{{"functionName":"{fn}","layers":'
           f'["arn:aws:lambda:us-east-1:111122223333:layer:utils:4"]}}}}}}')  # fmt: skip
    rows.append({**rows[-1], "t": rows[-1]["t"] + HOUR,
                 "action": "lambda_function_configuration.update", "metadata": own})  # fmt: skip
    fix = rows[0]["metadata"]
    rows.append(_user_row(u, t, t0, "lambda_function_code.update", metadata=fix))
    _look(c, t, "pipeline_deploys", None, rows)


def _model_trial(c: Ctx, t: Tenant) -> None:
    """An engineer trying generative models for the first time, from the office: access
    enabled, then four models compared over an afternoon (a medium finding, no high)."""
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t, local_hour=14.0)
    rows = [_user_row(u, t, t0, "bedrock_use_case_for_model_access.put")]
    rows += [
        _user_row(u, t, t0 + (5 + 3 * i) * MINUTE, "bedrock.converse",
                  target_id=f"model-{i % 4}", target_type="model")
        for i in range(16)
    ]  # fmt: skip
    _look(c, t, "model_trial", u["id"], rows)


def _key_rotation(c: Ctx, t: Tenant) -> None:
    """An admin re-encrypting a bucket's 40 objects in place under the account's own new
    KMS key (CloudTrail's ``CopyObject``), from the office."""
    u, t0 = t.user(c.rng, "admin"), c.when(t)
    key = (
        '"x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:us-east-1:111122223333:key/k2"'
    )

    def said(i: int) -> str:
        obj = f'"bucketName":"{t.name}-docs","key":"r/{i:04d}.pdf"'
        request = f'{{{obj},"x-amz-copy-source":"{t.name}-docs/r/{i:04d}.pdf",{key}}}'
        return (
            '{"source_format":"cloudtrail","original":{"recipientAccountId":"111122223333",'
            f'"requestParameters":{request}}}}}'
        )

    rows = [_user_row(u, t, t0 + i * 3 * US, "s3_object.copy", metadata=said(i))
            for i in range(40)]  # fmt: skip
    _look(c, t, "key_rotation", u["id"], rows)


def _accounts_setup(c: Ctx, t: Tenant) -> None:
    """A platform engineer setting up new accounts from the office: four roles assumed for
    the first time within the hour, the first one refused until its trust was fixed."""
    u, t0 = t.user(c.rng, "admin"), c.when(t)

    def said(i: int) -> str:
        arn = f"arn:aws:iam::{200000000000 + i}:role/PlatformAdmin"
        return _requested(f'{{"roleArn":"{arn}"}}')

    rows = [_user_row(u, t, t0, "sts_role.assume", metadata=said(0), outcome="denied")]
    rows += [_user_row(u, t, t0 + (5 + 10 * i) * MINUTE, "sts_role.assume", metadata=said(i))
             for i in range(4)]  # fmt: skip
    _look(c, t, "accounts_setup", u["id"], rows)


def _console_abroad(c: Ctx, t: Tenant) -> None:
    """A traveller opening console pages they never opened, from a hotel abroad: the
    browser makes a dozen listings across services."""
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t), _abroad(c.rng)
    rows = [
        {**_user_row(u, t, t0 + i * 20 * US, a, user_agent=AGENTS[1]), **geo}
        for i, a in enumerate(_RECON_READS[:14])
    ]
    _look(c, t, "console_abroad", u["id"], rows)


def _hotel_cleanup(c: Ctx, t: Tenant) -> None:
    """A person tidying up from a hotel abroad with their own browser: 8 to 20 of their
    documents deleted within the hour (the same client on a new network)."""
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t), _abroad(c.rng)
    agent = AGENTS[t.users.index(u) % 2]  # the browser the traffic gives this person
    rows = [
        {**_user_row(u, t, t0 + i * 3 * MINUTE, "document.delete", user_agent=agent,
                     target_id=f"{u['id']}-old-{i}", target_type="document"), **geo}
        for i in range(int(c.rng.integers(8, 21)))
    ]  # fmt: skip
    _look(c, t, "hotel_cleanup", u["id"], rows)


def _phone_cleanup(c: Ctx, t: Tenant) -> None:
    """A person's first afternoon with the product's phone app, on a mobile network:
    6 to 9 of their old documents deleted within the hour (a new network and a client of
    a new family, as a stolen token's would be, but a few deletions)."""
    u, t0 = t.user(c.rng, NON_ADMIN_ROLES), c.when(t)
    ip = f"100.{int(c.rng.integers(64, 128))}.{int(c.rng.integers(0, 256))}.7"
    rows = [
        _user_row(u, t, t0 + i * 4 * MINUTE, "document.delete", user_agent="okhttp/4.12",
                  source_ip=ip, target_id=f"{u['id']}-old-{i}", target_type="document")
        for i in range(int(c.rng.integers(6, 10)))
    ]  # fmt: skip
    _look(c, t, "phone_cleanup", u["id"], rows)


def _admin_grant(c: Ctx, t: Tenant) -> None:
    """An admin making a colleague an administrator from the office, with their usual
    browser."""
    a, t0 = t.user(c.rng, "admin"), c.when(t)
    colleague = t.user(c.rng, NON_ADMIN_ROLES)
    rows = [
        _user_row(a, t, t0, "role.grant", target_id=colleague["id"], target_type="user",
                  metadata='{"role":"admin"}', user_agent=AGENTS[0])
    ]  # fmt: skip
    _look(c, t, "admin_grant", a["id"], rows)


def _flagged_stopped(c: Ctx, t: Tenant) -> None:
    """What an identity provider flags every day without an intrusion: a sign-in from a
    known malicious address abroad that it refused, the user's own sign-in from the
    office rated medium risk (a new laptop), and their session's context changing (the
    laptop moved to the guest network)."""
    u, t0, geo = t.user(c.rng, NON_ADMIN_ROLES), c.when(t), _abroad(c.rng)
    risk = '{"risk":"{reasons=New Device, level=MEDIUM}","threat_suspected":"false"}'
    rows = [
        _user_row(u, t, t0, "user.login", outcome="failure", observer_service="auth",
                  metadata='{"threat_suspected":"true"}', **geo),
        _user_row(u, t, t0 + 5 * MINUTE, "user.login", observer_service="auth",
                  metadata=risk),
        _user_row(u, t, t0 + 50 * MINUTE, "user_session_context.change",
                  metadata='{"source_action":"user.session.context.change"}'),
    ]  # fmt: skip
    _look(c, t, "flagged_stopped", u["id"], rows)


LOOKALIKE_KINDS: dict[str, Callable[[Ctx, Tenant], None]] = {
    "lookalike:mistyper": _mistyper,
    "lookalike:shared_egress": _shared_egress,
    "lookalike:helpdesk_wave": _helpdesk_wave,
    "lookalike:team_admin": _team_admin,
    "lookalike:admin_grant": _admin_grant,
    "lookalike:flagged_stopped": _flagged_stopped,
    "lookalike:traveller": _traveller,
    "lookalike:returning": _returning,
    "lookalike:ci_key": _ci_key,
    "lookalike:new_phone": _new_phone,
    "lookalike:scheduled_bulk": _scheduled_bulk,
    "lookalike:migration": _migration,
    "lookalike:session_quirks": _session_end_noise,
    "lookalike:pipeline_reads": _pipeline_reads,
    "lookalike:helpdesk_reset": _helpdesk_reset,
    "lookalike:hardening": _hardening,
    "lookalike:shared_internally": _shared_internally,
    "lookalike:pipeline_deploys": _pipeline_deploys,
    "lookalike:model_trial": _model_trial,
    "lookalike:key_rotation": _key_rotation,
    "lookalike:accounts_setup": _accounts_setup,
    "lookalike:console_abroad": _console_abroad,
    "lookalike:hotel_cleanup": _hotel_cleanup,
    "lookalike:phone_cleanup": _phone_cleanup,
}
