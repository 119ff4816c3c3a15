"""Retention and activity sections: retention per tenant, access lifecycle, privileged
activity, failed and denied access, data access, detections, logging gaps and silences,
clock skew and ordering.

Registered with :func:`auditkit.reports.sections.section`; each is a function
``SectionSet -> Section`` of vectorised Polars over the period's events.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from auditkit.reports import _charts as charts
from auditkit.reports.model import Section, Table
from auditkit.reports.sections import (
    SOURCE,
    SectionSet,
    class_expr,
    events_table,
    human_duration,
    section,
    when_text,
)

__all__: list[str] = []

#: Columns that :func:`events_table` lists (and ``seq`` to order by).
_EVENT_COLUMNS = (
    "occurred_at",
    "tenant_id",
    "seq",
    "action",
    "outcome",
    "actor_id",
    "target_id",
    "source_ip",
    "observer_service",
    "event_id",
)


_in_class = class_expr


@section("retention", "Retention status per tenant")
def retention(ctx: SectionSet) -> Section:
    """Oldest and newest retained event, span, 12-month and 3-month checks per tenant.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["retention"].table("tenants").frame["stored"].to_list()
    [8]
    """
    as_of = ctx.as_of
    hist = (
        ctx.inputs.history.with_columns(
            removed=(pl.col("tree_size") - pl.col("stored")).clip(lower_bound=0),
            span_days=((pl.lit(as_of) - pl.col("oldest")).dt.total_hours() / 24)
            .floor()
            .cast(pl.Int64),
        )
        .with_columns(
            retained_12_months=pl.col("oldest") <= pl.lit(as_of - timedelta(days=365)),
            last_3_months_available=(pl.col("oldest") <= pl.lit(as_of - timedelta(days=90)))
            | ((pl.col("first_seq") == 0) & (pl.col("removed") == 0)),
            complete_history=(pl.col("first_seq") == 0) & (pl.col("removed") == 0),
        )
        .sort("tenant_id")
    )
    change = ctx.events.filter(pl.col("action").str.starts_with("audit_retention."))
    changes = change.select(
        "occurred_at",
        "tenant_id",
        "action",
        "actor_id",
        pl.col("changes")
        .str.json_path_match("$.before.retention_days")
        .cast(pl.Int64, strict=False)
        .alias("before_days"),
        pl.coalesce(
            pl.col("changes").str.json_path_match("$.after.retention_days"),
            pl.col("metadata").str.json_path_match("$.retention_days"),
        )
        .cast(pl.Int64, strict=False)
        .alias("after_days"),
        "event_id",
    ).sort("occurred_at")
    paragraphs = (
        f"What the store holds for each tenant as of {when_text(as_of)}. auditkit has no "
        "retention configuration yet, so this reports the data itself: the oldest and newest "
        "retained event, how many signed records were removed (the signed tree size minus the "
        "records stored), and whether a year of history is retained with the last three "
        "months immediately available (every stored event is in the queryable hot store).",
        "A history younger than twelve months with nothing removed cannot show a year of "
        "retention yet; events removed while the history is under twelve months can.",
    )
    return Section(
        "retention",
        "Retention status per tenant",
        paragraphs,
        facts={"as_of": as_of, "tenants": hist.height, "retention_changes": changes.height},
        tables=(
            Table("tenants", "Retained history per tenant", hist),
            Table("retention_changes", "Audit retention settings changed", changes),
        ),
    )


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
        .select(*_EVENT_COLUMNS, "category", "actor_name", "actor_roles")
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


@section("data_access", "Data access and processing activities")
def data_access(ctx: SectionSet) -> Section:
    """Operations on product records by record type: an inventory of processing.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["data_access"].table("inventory").frame.row(0)[:4]
    ('acme', 'document', 1, 0)
    """
    rec = (
        ctx.events.lazy()
        .select("tenant_id", "action", "outcome", "actor_id", "occurred_at", "category")
        .filter(pl.col("category") == "user")
        .collect()
    )
    names = rec.select(pl.col("action").unique()).with_columns(
        entity=pl.col("action").str.extract(r"^(.*)\.[^.]+$"),
        op=pl.col("action").str.extract(r"\.([^.]+)$"),
    )
    rec = rec.join(names, on="action", how="left")
    ops = ["read", "create", "update", "delete", "export", "download", "share"]
    inventory = (
        rec.group_by("tenant_id", "entity")
        .agg(
            *[(pl.col("op") == o).sum().alias(o) for o in ops],
            denied=(pl.col("outcome") == "denied").sum(),
            actors=pl.col("actor_id").n_unique(),
            last_seen=pl.col("occurred_at").max(),
        )
        .sort("tenant_id", "entity")
    )
    exports = rec.filter(pl.col("op").is_in(["export", "download", "share"]))
    top = (
        exports.group_by("tenant_id", "actor_id")
        .agg(
            events=pl.len(),
            record_types=pl.col("entity").n_unique(),
            last_seen=pl.col("occurred_at").max(),
        )
        .sort("events", "actor_id", descending=[True, False])
        .head(25)
    )
    return Section(
        "data_access",
        "Data access and processing activities",
        (
            f"{inventory.height} type(s) of record were processed; {exports.height} export(s), "
            "download(s) or share(s) took data out of the product.",
        ),
        facts={"record_types": inventory.height, "exports": exports.height},
        tables=(
            Table("inventory", "Operations per record type", inventory, limit=100),
            Table("exporters", "Who exported, downloaded or shared most (top 25)", top),
        ),
    )


@section("detections", "Detections and their evidence")
def detections(ctx: SectionSet) -> Section:
    """Findings of the registered detectors, most severe first, with their events.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["detections"].facts["critical"]
    1
    """
    f = ctx.findings
    table = f.select(
        "severity",
        "detector",
        "tenant_id",
        "actor_id",
        "first_seen",
        "last_seen",
        pl.col("event_ids").list.len().alias("evidence"),
        "summary",
        "finding_id",
    )
    ev = ctx.events.select("event_id", "occurred_at", "action", "outcome", "actor_id", "source_ip")
    evidence = (
        f.select("finding_id", "detector", "severity", "tenant_id", "event_ids")
        .explode("event_ids")
        .rename({"event_ids": "event_id"})
        .join(ev, on="event_id", how="left")
        .select(
            "finding_id",
            "detector",
            "severity",
            "event_id",
            "occurred_at",
            "action",
            "outcome",
            "actor_id",
            "source_ip",
        )
    )
    counts = {
        s: f.filter(pl.col("severity") == s).height for s in ("critical", "high", "medium", "low")
    }
    by = f.group_by("detector", "severity").agg(findings=pl.len()).sort("detector", "severity")
    return Section(
        "detections",
        "Detections and their evidence",
        (
            f"{len(ctx.detectors_run)} detector(s) ran over the period's events and reported "
            f"{f.height} finding(s): {counts['critical']} critical, {counts['high']} high, "
            f"{counts['medium']} medium, {counts['low']} low. Every finding lists the events that "
            "show it (its evidence).",
        ),
        facts={"findings": f.height, **counts, "detectors": ", ".join(ctx.detectors_run)},
        tables=(
            Table("findings", "Findings", table, limit=100),
            Table("evidence", "Evidence events per finding", evidence, limit=200),
        ),
        charts=(charts.findings_chart(by),) if by.height else (),
    )


@section("logging_gaps", "Logging gaps and silences")
def logging_gaps(ctx: SectionSet) -> Section:
    """Sources silent for longer than usual, audit logging switched off, daily volume.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["logging_gaps"].facts["silences"]
    0
    """
    ev = ctx.events
    gaps = (
        ctx.findings.filter(pl.col("detector") == "logging_gap")
        .select(
            "tenant_id",
            pl.col("first_seen").alias("silent_from"),
            pl.col("last_seen").alias("silent_until"),
            (pl.col("last_seen") - pl.col("first_seen"))
            .dt.total_minutes()
            .truediv(60)
            .round(1)
            .alias("hours"),
            "summary",
            "event_ids",
            "finding_id",
        )
        .sort("tenant_id", "silent_from")
    )
    control = ctx.of_class("audit_log_control").sort("occurred_at")
    off = control.filter(pl.col("action") == "audit_log.disable").select(
        "tenant_id", pl.col("occurred_at").alias("disabled_at"), "actor_id", "event_id"
    )
    on = (
        control.filter(pl.col("action") == "audit_log.enable")
        .select("tenant_id", pl.col("occurred_at").alias("enabled_at"))
        .sort("enabled_at")
    )
    windows = (
        off.sort("disabled_at").join_asof(
            on,
            left_on="disabled_at",
            right_on="enabled_at",
            by="tenant_id",
            strategy="forward",
            check_sortedness=False,
        )
        if off.height
        else off.with_columns(enabled_at=pl.lit(None, pl.Datetime("us", "UTC")))
    )
    recorded = []
    for t, start, end in windows.select("tenant_id", "disabled_at", "enabled_at").iter_rows():
        cond = (pl.col("tenant_id") == t) & (pl.col("occurred_at") > start)
        if end is not None:
            cond = cond & (pl.col("occurred_at") < end)
        recorded.append(ev.filter(cond).height)
    windows = windows.with_columns(
        events_recorded_meanwhile=pl.Series(recorded, dtype=pl.Int64),
        still_disabled=pl.col("enabled_at").is_null(),
    )
    daily = (
        ev.lazy()
        .group_by("tenant_id", pl.col("occurred_at").dt.truncate("1d").alias("day"), SOURCE)
        .agg(events=pl.len())
        .sort("tenant_id", "day", "source")
        .collect()
    )
    per_tenant_days = daily.group_by("tenant_id").agg(days=pl.col("day").n_unique())
    empty = {t: ctx.inputs.period.days - int(d) for t, d in per_tenant_days.iter_rows()}
    for t in ctx.inputs.tenants:
        empty.setdefault(t, ctx.inputs.period.days)
    return Section(
        "logging_gaps",
        "Logging gaps and silences",
        (
            f"{gaps.height} silence(s): a source that recorded nothing for much longer than usual "
            "for those hours (the logging_gap detector learns each source's usual hours). "
            f"Audit logging was switched off {off.height} time(s) in the period; the table shows "
            "whether it was switched on again and how many events were still recorded meanwhile.",
            "Days of the period without any event: "
            + ", ".join(f"{t}: {d}" for t, d in sorted(empty.items()))
            + ".",
        ),
        facts={
            "silences": gaps.height,
            "disabled": off.height,
            "still_disabled": windows.filter(pl.col("still_disabled")).height,
            "empty_days": empty,
        },
        tables=(
            Table("silences", "Silent sources", gaps.drop("event_ids")),
            events_table(control, "logging_changes", "Audit logging switched or reconfigured"),
            Table("disabled_windows", "Periods with audit logging switched off", windows),
            Table("daily_volume", "Events per day and source", daily, limit=0),
        ),
        charts=(charts.volume_chart(daily),) if daily.height else (),
    )


@section("clock", "Clock skew and out-of-order events")
def clock(ctx: SectionSet) -> Section:
    """Events dated after their arrival, arrival delays, events out of order per source.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["clock"].facts["future_dated"]
    0
    """
    tol = ctx.inputs.options.clock_tolerance
    keys = ["tenant_id", "source"]
    lf = (
        ctx.events.lazy()
        .select("tenant_id", SOURCE, "seq", "event_id", "occurred_at", "received_at")
        .with_columns(
            delay=pl.col("received_at") - pl.col("occurred_at"),
            prev_max=pl.col("occurred_at").cum_max().shift(1).over(keys, order_by="seq"),
        )
        .with_columns(
            ahead=pl.col("delay") < -pl.lit(tol),
            behind=(pl.col("prev_max") - pl.col("occurred_at")),
        )
        .with_columns(out_of_order=pl.col("behind").fill_null(timedelta(0)) > pl.lit(tol))
        .collect()
        .lazy()
    )
    flagged = lf.filter(pl.col("ahead") | pl.col("out_of_order"))
    by_source = (
        lf.group_by(keys)
        .agg(
            events=pl.len(),
            future_dated=pl.col("ahead").sum(),
            max_ahead_s=(-pl.col("delay")).max().dt.total_seconds(),
            out_of_order=pl.col("out_of_order").sum(),
            max_behind_s=pl.col("behind").max().dt.total_seconds(),
            delay_p50_s=pl.col("delay").dt.total_seconds().median(),
            delay_p95_s=pl.col("delay").dt.total_seconds().quantile(0.95),
            delay_max_s=pl.col("delay").max().dt.total_seconds(),
        )
        .with_columns(pl.col("max_ahead_s", "max_behind_s").clip(lower_bound=0))
        .sort(keys)
        .collect()
    )
    examples = (
        flagged.with_columns(
            reason=pl.when(pl.col("ahead"))
            .then(pl.lit("dated after arrival"))
            .otherwise(pl.lit("earlier than a previous event of the source"))
        )
        .select("tenant_id", "source", "seq", "occurred_at", "received_at", "reason", "event_id")
        .sort("tenant_id", "seq")
        .collect()
    )
    future = int(by_source["future_dated"].sum() or 0)
    ooo = int(by_source["out_of_order"].sum() or 0)
    n = max(ctx.events.height, 1)
    slow = by_source.filter(pl.col("delay_p50_s") > 86_400)["source"].to_list()
    paragraphs = [
        f"{future} event(s) ({future / n:.3%}) are dated more than {human_duration(tol)} after "
        f"the store received them, which means the producing clock ran ahead; {ooo} event(s) "
        f"are dated more than {human_duration(tol)} before an earlier-stored event of the "
        "same source (out of order).",
    ]
    if slow:
        paragraphs.append(
            "Median delay between an event and its arrival exceeds a day for "
            f"source(s) {', '.join(sorted(set(slow)))}: the events were imported "
            "in bulk after the fact, so arrival time says little about clocks "
            "there."
        )
    return Section(
        "clock",
        "Clock skew and out-of-order events",
        tuple(paragraphs),
        facts={
            "future_dated": future,
            "future_share": future / n,
            "out_of_order": ooo,
            "out_of_order_share": ooo / n,
            "tolerance": human_duration(tol),
        },
        tables=(
            Table("by_source", "Timing per source (seconds)", by_source),
            Table("examples", "Events flagged", examples, limit=50),
        ),
    )
