"""Section ``failed_access``:
Failed sign-ins and refused actions, by action, actor, address and day.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports import _charts as charts
from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SectionSet,
    class_expr,
    section,
)

__all__ = ["failed_access"]

_in_class = class_expr


@section("failed_access", "Failed and denied access")
def failed_access(ctx: SectionSet) -> Section:
    """Failed sign-ins and refused actions, by action, actor, address and day.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> facts = example_sections()["failed_access"].facts
    >>> facts["failed_logins"], facts["denied"]
    (1, 1)
    """
    bad = ctx.events.filter(pl.col("outcome").is_in(["failure", "denied"]))
    by_action = (
        bad.group_by("tenant_id", "action", "outcome")
        .agg(
            events=pl.len(),
            actors=pl.col("actor_id").n_unique(),
            last_seen=pl.col("occurred_at").max(),
        )
        .sort("tenant_id", "events", "action", descending=[False, True, False])
    )
    by_actor = (
        bad.group_by("tenant_id", "actor_id")
        .agg(
            failures=(pl.col("outcome") == "failure").sum(),
            denied=(pl.col("outcome") == "denied").sum(),
            addresses=pl.col("source_ip").n_unique(),
            last_seen=pl.col("occurred_at").max(),
        )
        .with_columns(total=pl.col("failures") + pl.col("denied"))
        .sort("total", "actor_id", descending=[True, False])
        .head(25)
    )
    by_ip = (
        bad.filter(pl.col("source_ip").is_not_null())
        .group_by("tenant_id", "source_ip")
        .agg(
            events=pl.len(),
            actors=pl.col("actor_id").n_unique(),
            country=pl.col("geo_country").drop_nulls().last(),
            last_seen=pl.col("occurred_at").max(),
        )
        .sort("events", "source_ip", descending=[True, False])
        .head(25)
    )
    daily = (
        bad.group_by(pl.col("occurred_at").dt.truncate("1d").alias("day"), "outcome")
        .agg(events=pl.len())
        .sort("day", "outcome")
    )
    logins = bad.filter(_in_class("login_failure")).height
    denied = bad.filter(pl.col("outcome") == "denied").height
    return Section(
        "failed_access",
        "Failed and denied access",
        (
            f"{logins} failed sign-in(s) and {denied} action(s) refused for lack of permission; "
            f"{bad.height} failed or denied event(s) in all.",
        ),
        facts={"failed_logins": logins, "denied": denied, "failed_or_denied": bad.height},
        tables=(
            Table("by_action", "By action and outcome", by_action),
            Table("by_actor", "Actors with the most failures (top 25)", by_actor),
            Table("by_source_ip", "Addresses with the most failures (top 25)", by_ip),
        ),
        charts=(charts.failures_chart(daily),) if daily.height else (),
    )
