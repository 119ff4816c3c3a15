"""Section ``privileged_activity``:
What actors with administrative roles did, and every administrative action.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    EVENT_COLUMNS,
    SectionSet,
    class_expr,
    events_table,
    section,
)

__all__ = ["privileged_activity"]

_in_class = class_expr


def _privileged(ctx: SectionSet) -> pl.Expr:
    roles = ctx.inputs.options.privileged_roles
    pattern = "|".join(roles)
    # roles joined into one string per event: a vectorised substring search
    return (
        pl.col("actor_roles")
        .list.join("\x1f")
        .str.to_lowercase()
        .str.contains(pattern)
        .fill_null(False)
    )


@section("privileged_activity", "Privileged activity")
def privileged_activity(ctx: SectionSet) -> Section:
    """What actors with administrative roles did, and every administrative action.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["privileged_activity"].facts["admin_by_unprivileged"]
    1
    """
    ev = (
        ctx.events.lazy()
        .select(*EVENT_COLUMNS, "category", "actor_name", "actor_roles")
        .with_columns(_priv=_privileged(ctx), _admin=pl.col("category") == "admin")
        .filter(pl.col("_priv") | pl.col("_admin"))
        .collect()
    )
    actors = (
        ev.group_by("tenant_id", "actor_id")
        .agg(
            actor_name=pl.col("actor_name").drop_nulls().last(),
            roles=pl.col("actor_roles").drop_nulls().last().list.join(", "),
            privileged_role=pl.col("_priv").any(),
            events=pl.len(),
            admin_actions=pl.col("_admin").sum(),
            denied=(pl.col("outcome") == "denied").sum(),
            first_seen=pl.col("occurred_at").min(),
            last_seen=pl.col("occurred_at").max(),
        )
        .sort(
            "tenant_id",
            "admin_actions",
            "events",
            "actor_id",
            descending=[False, True, True, False],
        )
    )
    admin = ev.filter(pl.col("_admin"))
    by_action = (
        admin.group_by("tenant_id", "action", "outcome")
        .agg(
            events=pl.len(),
            actors=pl.col("actor_id").n_unique(),
            last_seen=pl.col("occurred_at").max(),
        )
        .sort("tenant_id", "events", "action", descending=[False, True, False])
    )
    unprivileged = admin.filter(~pl.col("_priv") & (pl.col("outcome") == "success"))
    return Section(
        "privileged_activity",
        "Privileged activity",
        (
            f"{actors.filter(pl.col('privileged_role')).height} actor(s) held an administrative "
            f"role ({', '.join(ctx.inputs.options.privileged_roles)}); {admin.height} "
            f"administrative action(s) were recorded, {unprivileged.height} of them succeeded for "
            "an actor without such a role in the event.",
        ),
        facts={
            "privileged_actors": actors.filter(pl.col("privileged_role")).height,
            "admin_actions": admin.height,
            "admin_by_unprivileged": unprivileged.height,
        },
        tables=(
            Table("actors", "Privileged actors and administrators", actors),
            Table("admin_actions", "Administrative actions", by_action),
            events_table(
                admin.sort("occurred_at", descending=True).head(500),
                "recent_admin",
                "Administrative events (latest 500)",
            ),
        ),
    )
