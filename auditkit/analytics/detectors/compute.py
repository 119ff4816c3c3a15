"""Resource hijacking: compute launched for someone else's purpose (crypto mining).

The commonest end of a cloud intrusion is a bill: GPU or very large instances started
in bulk, often in a region the victim never uses so that nobody looks there.  A
company's own launches have a shape too: the regions it runs in, the people and
pipelines that launch, instance sizes of its workload.  The detector weighs four
signs for each burst of launches by one actor and reports those with two or more:

* a region the tenant's trail had never shown (after ``min_history`` of trail);
* GPU, accelerator or very large instance types (``p3``, ``g5``, ``a2-highgpu``,
  ``nvidia``, ``24xlarge``...), read from the producer's request;
* an actor that had never launched compute before in the trail (after ``min_history``);
* ``min_launches`` or more launches within the burst.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    T,
    action_words,
    actions_where,
    began,
    duration,
    empty,
    episodes,
    finalize,
    finding_span,
    first_few,
    fmt_between,
    lazy,
    positive,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["launches_compute", "resource_hijacking"]

_COMPUTE_NOUNS: Final = frozenset(
    ("instance", "instances", "vm", "vms", "virtual", "machine", "machines", "fleet",
     "fleets", "notebook", "training", "cluster", "clusters", "nodepool", "node", "nodes",
     "container", "containers", "task", "tasks", "job", "jobs", "spot", "server", "servers",
     "droplet", "droplets")
)  # fmt: skip
_LAUNCH_VERBS: Final = frozenset(
    ("run", "create", "launch", "insert", "request", "submit", "provision", "deploy")
)
#: Services whose "instances" are not machines (a database, a cache): the noun decides.
_NOT_COMPUTE: Final = frozenset(
    ("db", "rds", "cache", "elasticache", "sql", "spanner", "redis", "memcache", "bigtable",
     "template", "templates", "profile", "snapshot", "image", "images", "backup", "report",
     "export", "import", "scan", "query")
)  # fmt: skip
#: Instance types made for GPUs, accelerators or very large workloads (a regular
#: expression on the request's text).
_HEAVY: Final = re.compile(
    r"(?i)\b(?:p[2-5]|g[3-6]|g4dn|g4ad|g5g|gr6|dl1|dl2q|trn[12]n?|inf[12]|vt1|f1|x[12]e?|"
    r"u-\d+tb1)\.\w+|\b\w+\.(?:\d{2,}xlarge|metal(?:-\d+xl)?)\b|a[23]-(?:high|mega|ultra)gpu|"
    r"g2-standard|nvidia|tesla|\bh100\b|\ba100\b|\bv100\b|\bt4\b|\bl4\b|acceleratorType|"
    r"guestAccelerators|Standard_N[CDV]"
)


def launches_compute(action: str) -> bool:
    """Whether an action starts new compute (an instance, a VM, a fleet, a task).

    >>> [launches_compute(a) for a in ("ec2_instances.run", "compute_instances.insert",
    ...     "ec2_spot_instances.request", "rds_db_instance.create", "ec2_instances.describe",
    ...     "ec2_instances.start", "document.create")]
    [True, True, True, False, False, False, False]
    """
    noun, verb = action_words(action)
    words = {*noun, *verb[1:]}
    return (
        bool(verb)
        and verb[0] in _LAUNCH_VERBS
        and bool(words & _COMPUTE_NOUNS)
        and not words & _NOT_COMPUTE
    )


@register_detector("resource_hijacking", title="Compute launched for hijacking", severity="high")
def resource_hijacking(
    events: Events,
    *,
    gap: str | timedelta = "1h",
    min_launches: int = 5,
    min_history: str | timedelta = "7d",
) -> pl.DataFrame:
    """Bursts of compute launches with two or more signs of hijacking: a region new
    to the tenant, GPU or very large instance types, an actor that never launched
    compute before, ``min_launches`` or more launches.

    One actor's launches no more than ``gap`` apart are a burst.  Three or four signs
    make it high, two medium; refused launches count as attempts (medium at most).
    A region is new only after ``min_history`` of the tenant's trail.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> usual = [{"tenant_id": "acme", "occurred_at": f"2026-01-{d:02d}T09:00:00Z",
    ...           "action": "ec2_instances.describe", "actor": {"id": "ops"},
    ...           "observer": {"region": "eu-west-1"}} for d in range(1, 20)]
    >>> mining = [{"tenant_id": "acme", "occurred_at": f"2026-01-20T03:0{i}:00Z",
    ...            "action": "ec2_instances.run", "actor": {"id": "ops"},
    ...            "observer": {"region": "ap-southeast-1"},
    ...            "metadata": {"instance_type": "p3.16xlarge"}} for i in range(6)]
    >>> found = resource_hijacking(events_to_frame(usual + mining))
    >>> print(found["severity"][0], found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    high 'ops' launched compute 6 time(s) between 2026-01-20 03:00 UTC and 2026-01-20 03:05
    UTC (ec2_instances.run): in a region the tenant never used (ap-southeast-1); GPU or very
    large instances (p3.16xlarge); the first launches by 'ops'; 6 launches.
    """
    g = duration(gap, name="gap")
    history = duration(min_history, name="min_history")
    positive(min_launches, "min_launches")
    keys = ["tenant_id", "actor_id"]
    launch = actions_where(events, launches_compute)
    if not launch:
        return empty()
    cols = (*keys, "event_id", "occurred_at", "action", "outcome", "observer_region", "metadata")
    runs = subset(
        events, cols, pl.col("action").is_in(launch), pl.col("actor_id").is_not_null()
    ).collect()
    if runs.height == 0:
        return empty()
    tenants = runs["tenant_id"].unique().to_list()
    seen = lazy(events, "tenant_id", "occurred_at", "observer_region").filter(
        pl.col("tenant_id").is_in(tenants)
    )
    regions = (
        seen.filter(pl.col("observer_region").is_not_null())
        .group_by("tenant_id", "observer_region")
        .agg(_region_first=T.min())
    )
    heavy = pl.col("metadata").str.extract(f"({_HEAVY.pattern})", 1)
    ok = pl.col("outcome") == "success"
    marked = (
        runs.lazy()
        .join(began(events, among=runs.lazy()), on="tenant_id", how="left", maintain_order="left")
        .join(regions, on=["tenant_id", "observer_region"], how="left", maintain_order="left")
        .with_columns(
            # first seen (in the whole trail) at most a gap before this launch, and
            # after the trail's first ``min_history``
            _new_region=(
                (pl.col("_region_first") - pl.col("_began") >= history)
                & (T - pl.col("_region_first") <= g)
            ).fill_null(False),
            _heavy=heavy,
            # the actor's first launch in the trail, and whether it had history then
            _first_launch=T.min().over(keys),
        )
    )
    found = (
        episodes(marked, keys, g)
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.len().alias("_n"),
            ok.any().alias("_done"),
            pl.col("observer_region")
            .filter(pl.col("_new_region"))
            .unique(maintain_order=True)
            .alias("_regions"),
            pl.col("_heavy").drop_nulls().unique(maintain_order=True).alias("_types"),
            # the actor's first launches, once the trail is old enough to say so
            (
                (T.min() == pl.col("_first_launch").first())
                & (T.min() - pl.col("_began").first() >= history)
            ).alias("_first"),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
        )
    )
    signs = [
        (pl.col("_regions").list.len() > 0, pl.format(
            "in a region the tenant never used ({})", pl.col("_regions").list.join(", "))),
        (pl.col("_types").list.len() > 0, pl.format(
            "GPU or very large instances ({})", first_few(pl.col("_types"), 3, ", "))),
        (pl.col("_first"), pl.format("the first launches by {}", q(pl.col("actor_id")))),
        (pl.col("_n") >= min_launches, pl.format("{} launches", pl.col("_n"))),
    ]  # fmt: skip
    count = pl.sum_horizontal(*(c.cast(pl.Int32) for c, _ in signs))
    reasons = pl.concat_list(*(pl.when(c).then(text) for c, text in signs)).list.drop_nulls()
    return finalize(
        found.with_columns(_signs=count, _why=reasons)
        .filter(pl.col("_signs") >= 2)
        .with_columns(
            severity=pl.when((pl.col("_signs") >= 3) & pl.col("_done"))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} compute {} time(s) {} ({}): {}.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("launched")).otherwise(pl.lit("tried to launch")),
                pl.col("_n"),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
                pl.col("_why").list.join("; "),
            ),
        ),
        "resource_hijacking",
    )
