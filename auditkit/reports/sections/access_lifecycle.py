"""Section ``access_lifecycle``:
Accounts created and removed, grants and revokes, self-grants, dormant accounts.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from auditkit.reports import _charts as charts
from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SectionSet,
    class_expr,
    events_table,
    section,
    when_text,
)

__all__ = ["access_lifecycle"]

_in_class = class_expr


@section("access_lifecycle", "Access lifecycle")
def access_lifecycle(ctx: SectionSet) -> Section:
    """Accounts created and removed, grants and revokes, self-grants, dormant accounts.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> facts = example_sections()["access_lifecycle"].facts
    >>> facts["accounts_created"], facts["self_grants"]
    (1, 1)
    """
    ev = ctx.events
    accounts = ctx.of_class("account_created", "account_removed")
    role = pl.coalesce(
        pl.col("metadata").str.json_path_match("$.role"),
        pl.col("metadata").str.json_path_match("$.permission"),
    ).alias("role")
    privs = ctx.of_class("privilege_granted", "privilege_revoked").with_columns(role)
    self_grants = privs.filter(
        _in_class("privilege_granted")
        & (pl.col("actor_id") == pl.col("target_id"))
        & (pl.col("outcome") == "success")
    )
    removed = (
        accounts.filter(_in_class("account_removed"))
        .group_by("tenant_id", "target_id")
        .agg(removed_at=pl.col("occurred_at").max())
    )
    limit = timedelta(days=ctx.inputs.options.dormant_days)
    dormant = (
        ev.lazy()
        .select("tenant_id", "actor_id", "actor_type", "actor_name", "occurred_at")
        .filter(pl.col("actor_type") == "user")
        .group_by("tenant_id", "actor_id")
        .agg(
            actor_name=pl.col("actor_name").drop_nulls().last(),
            last_seen=pl.col("occurred_at").max(),
        )
        .join(
            removed.lazy(),
            left_on=["tenant_id", "actor_id"],
            right_on=["tenant_id", "target_id"],
            how="left",
        )
        .filter(pl.col("last_seen") <= pl.lit(ctx.as_of - limit))
        .filter(pl.col("removed_at").is_null() | (pl.col("removed_at") < pl.col("last_seen")))
        .with_columns(inactive_days=((pl.lit(ctx.as_of) - pl.col("last_seen")).dt.total_days()))
        .drop("removed_at")
        .sort("tenant_id", "last_seen", "actor_id")
        .collect()
    )
    weekly = (
        pl.concat([accounts, privs.drop("role")])
        .with_columns(
            week=pl.col("occurred_at").dt.truncate("1w"),
            change=pl.when(_in_class("account_created"))
            .then(pl.lit("account created"))
            .when(_in_class("account_removed"))
            .then(pl.lit("account removed"))
            .when(_in_class("privilege_granted"))
            .then(pl.lit("privilege granted"))
            .otherwise(pl.lit("privilege revoked")),
        )
        .group_by("week", "change")
        .agg(events=pl.len())
        .sort("week", "change")
    )
    n = {
        "accounts_created": accounts.filter(_in_class("account_created")).height,
        "accounts_removed": accounts.filter(_in_class("account_removed")).height,
        "privileges_granted": privs.filter(_in_class("privilege_granted")).height,
        "privileges_revoked": privs.filter(_in_class("privilege_revoked")).height,
        "self_grants": self_grants.height,
        "dormant_accounts": dormant.height,
    }
    return Section(
        "access_lifecycle",
        "Access lifecycle",
        (
            f"{n['accounts_created']} account(s) created or invited and {n['accounts_removed']} "
            f"suspended, deleted or closed; {n['privileges_granted']} role or permission grant(s) "
            f"and {n['privileges_revoked']} revoke(s). {n['self_grants']} grant(s) were made by "
            f"the account that received them. {n['dormant_accounts']} user account(s) had no "
            f"activity in the last {limit.days} days before {when_text(ctx.as_of)} and were not "
            "suspended or deleted (accounts active only before the period are not seen here).",
        ),
        facts=n,
        tables=(
            events_table(accounts, "accounts", "Accounts created and removed"),
            events_table(
                privs, "privileges", "Roles and permissions granted and revoked", extra=("role",)
            ),
            events_table(
                self_grants.with_columns(role),
                "self_grants",
                "Privileges granted to oneself",
                extra=("role",),
            ),
            Table("dormant", f"User accounts inactive for {limit.days}+ days", dormant),
        ),
        charts=(charts.lifecycle_chart(weekly),) if weekly.height else (),
    )
