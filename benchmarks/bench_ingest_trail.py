"""A held-out audit trail for the ingest benchmarks: event shapes that auditkit's
own sample never makes, as real producers write them.

    python benchmarks/bench_ingest_trail.py OUT.ndjson [--events 1000000] [--seed 7]

About 700 bytes an event, 12 tenants of very different sizes, and the habits of
real producers: ``null`` for absent optional fields (``"session_id": null``,
``"actor": {"name": null}``), empty strings and lists (``"description": ""``,
``"roles": []``, ``"targets": []``), timestamps with milliseconds or an offset
instead of the stored microseconds and ``Z``, IPv6 callers, and free metadata
(trace ids, client builds, tags, feature flags, nested objects, numbers).  The
vocabulary (a code-hosting and billing SaaS) differs from the sample's.

Every record is valid: ingesting it must store every event.
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

TENANTS = [f"org-{name}" for name in (
    "northwind", "contoso", "globex", "initech", "umbrella", "hooli", "vandelay",
    "wonka", "tyrell", "cyberdyne", "soylent", "acme-eu",
)]  # fmt: skip
#: tenants' shares of the trail: a few large customers, a long tail
WEIGHTS = [30, 18, 12, 9, 7, 6, 5, 4, 3, 3, 2, 1]
ACTIONS = [
    ("user.login", "management"), ("user.logout", "management"),
    ("mfa.challenge", "management"), ("repository.create", "user"),
    ("repository.read", "user"), ("repository.clone", "user"),
    ("pull_request.merge", "user"), ("invoice.download", "user"),
    ("invoice.export", "user"), ("secret.read", "user"), ("role.grant", "admin"),
    ("settings.update", "admin"), ("api_key.create", "admin"),
    ("webhook.update", "admin"), ("job.run", "system"), ("license.expire", "system"),
]  # fmt: skip
OUTCOMES = ["success"] * 12 + ["failure", "denied", "error"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36",
    "git/2.47.1",
    "terraform-provider-hostco/5.2.0",
    "python-requests/2.32.3",
]
ROLES = ["developer", "billing"]
REGIONS = ["eu-central-1", "us-east-2", "ap-southeast-1", None]
COUNTRIES = [("DE", "Berlin", 52.52, 13.405), ("US", "Columbus", 39.96, -83.0),
             ("SG", "Singapore", 1.29, 103.85), ("BR", "São Paulo", -23.55, -46.63)]  # fmt: skip


def _time(t: datetime, rng: random.Random) -> str:
    style = rng.random()
    if style < 0.6:  # milliseconds and Z: the most common producer form
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    if style < 0.85:  # microseconds and Z (the stored form)
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if style < 0.95:  # an explicit zero offset
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")  # whole seconds


def _maybe(rng: random.Random, p: float, value: Any) -> Any:
    return value if rng.random() < p else None


def events(n: int, *, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``n`` held-out events, deterministic for a seed."""
    rng = random.Random(seed)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    users = [f"user-{i:05d}" for i in range(4000)]
    for i in range(n):
        tenant = rng.choices(TENANTS, WEIGHTS)[0]
        action, category = ACTIONS[rng.randrange(len(ACTIONS))]
        when = start + timedelta(milliseconds=i * 37 + rng.randrange(37))
        uid = users[rng.randrange(len(users))]
        service = rng.random() < 0.15
        country = COUNTRIES[rng.randrange(len(COUNTRIES))]
        ip = (
            f"2001:db8:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
            if rng.random() < 0.2
            else f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        )
        target_kind = action.split(".")[0]
        targets: Any = [
            {"id": f"{target_kind}-{rng.randrange(10**6)}", "type": target_kind,
             "name": _maybe(rng, 0.6, f"{target_kind} {rng.randrange(1000)}")}
        ]  # fmt: skip
        if rng.random() < 0.1:
            targets = [] if rng.random() < 0.5 else None
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "tenant_id": tenant,
            "occurred_at": _time(when, rng),
            "action": action,
            "category": category if rng.random() < 0.7 else None,
            "outcome": OUTCOMES[rng.randrange(len(OUTCOMES))],
            "actor": {
                "id": f"svc-deployer-{rng.randrange(20)}" if service else uid,
                "type": "service" if service else "user",
                "name": None if service else f"User {uid[-5:]}",
                "email": None if service else f"{uid}@{tenant[4:]}.example",
                "roles": [] if rng.random() < 0.4 else ROLES[: rng.randrange(1, 3)],
            },
            "targets": targets,
            "source": {
                "ip": ip,
                "user_agent": AGENTS[rng.randrange(len(AGENTS))],
                "geo": None
                if rng.random() < 0.3
                else {
                    "country": country[0],
                    "city": country[1],
                    "lat": country[2],
                    "lon": country[3],
                },
            },
            "observer": {
                "service": "api",
                "version": f"2026.{rng.randrange(1, 12)}.{rng.randrange(40)}",
                "region": REGIONS[rng.randrange(len(REGIONS))],
            },
            "request_id": f"r{rng.getrandbits(48):012x}",
            "session_id": _maybe(rng, 0.5, f"s{rng.getrandbits(40):010x}"),
            "description": "" if rng.random() < 0.3 else f"{action} by {uid}",
            "changes": None,
            "metadata": {
                "trace_id": f"{rng.getrandbits(64):016x}",
                "client": {"app": "web", "build": rng.randrange(1, 9000)},
                "tags": [] if rng.random() < 0.5 else ["sso", "scim"],
                "note": "",
                "latency_ms": round(rng.random() * 900, 2),
            },
        }
        if action in ("settings.update", "webhook.update", "role.grant"):
            event["changes"] = {
                "before": {"enabled": False, "url": None},
                "after": {"enabled": True, "url": "https://hooks.example/x"},
            }
        yield event


def write(path: Path, n: int, *, seed: int = 7) -> int:
    """Write ``n`` events as NDJSON; returns the file's size in bytes."""
    size = 0
    with open(path, "wb") as f:
        chunk = []
        for event in events(n, seed=seed):
            chunk.append(orjson.dumps(event))
            if len(chunk) == 10_000:
                data = b"\n".join(chunk) + b"\n"
                f.write(data)
                size += len(data)
                chunk = []
        if chunk:
            data = b"\n".join(chunk) + b"\n"
            f.write(data)
            size += len(data)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    size = write(args.out, args.events, seed=args.seed)
    print(f"{args.events:,} events, {size / args.events:.0f} bytes each, in {args.out}")


if __name__ == "__main__":
    main()
