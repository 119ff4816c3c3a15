"""Campaigns across tenants: one source failing or probing in several tenants of a store.

Per-tenant windows cannot see an attacker who tries a few passwords in each of many
tenants.  The store's operator sees every tenant, so this detector correlates sources
(an IP address, its network, a client that never succeeds anywhere) across tenants,
and still reports per tenant: each finding cites only its own tenant's events and says
how many *other* tenants saw the same source, never which ones nor what happened there.
It needs the operator's view (``auditkit detect STORE`` without ``--tenant``); over one
tenant's events it finds nothing.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from auditkit.analytics.detectors.auth import login_failures
from auditkit.analytics.detectors.common import (
    Events,
    T,
    duration,
    empty,
    finalize,
    finding_span,
    fmt_time,
    human,
    is_person,
    lazy,
    network,
    positive,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["cross_tenant_campaign"]

_COLS = ("tenant_id", "actor_id", "actor_type", "source_ip", "user_agent", "occurred_at")


@register_detector(
    "cross_tenant_campaign",
    title="Source failing across tenants",
    severity="medium",
    scope="store",
)
def cross_tenant_campaign(
    events: Events,
    *,
    min_tenants: int = 3,
    window: str | timedelta = "24h",
    resolve: str | timedelta = "30m",
) -> pl.DataFrame:
    """One source (IP address, /24 network, or a client that never succeeds anywhere)
    failing or being denied in at least ``min_tenants`` tenants of the store within
    ``window``: one finding per tenant, citing only that tenant's events.

    A *probe* is a failed login not resolved by a success of the same actor from the same
    IP (or a password reset) within ``resolve``, or any other event with outcome
    ``failure`` or ``denied`` whose actor had no successful event from that IP within
    ``resolve`` before or after (not a person mis-clicking inside their session).  A
    source's probes in one tenant no more than ``window`` apart form an episode, unless
    someone of that tenant logged in successfully from the source within ``window``
    before it (an office, a shared network: people, not an attacker); an
    episode is reported when episodes of the same source in other tenants start or end
    within ``window`` of it.  Severity medium; high when an account of the tenant then
    logs in from that source for the first time.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": t, "occurred_at": f"2026-01-05T0{i}:00:00Z",
    ...          "action": "user.login", "outcome": "failure", "actor": {"id": "admin"},
    ...          "source": {"ip": "203.0.113.9"}} for i, t in enumerate(["a", "b", "c"])]
    >>> found = cross_tenant_campaign(events_to_frame(rows))
    >>> found["tenant_id"].to_list()
    ['a', 'b', 'c']
    >>> print(found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    Source IP 203.0.113.9 failed or was denied 1 time(s) against 1 account(s) of this tenant
    from 2026-01-05 00:00 UTC to 2026-01-05 00:00 UTC; the same source also failed in 2 other
    tenant(s) of this store within 1d (the operator's correlation: other tenants are not
    named).
    """
    w = duration(window)
    r = duration(resolve, name="resolve")
    positive(min_tenants, "min_tenants")
    fails = (
        login_failures(events, resolve=r, extra=("user_agent",))
        .lazy()
        .filter(~pl.col("_resolved") & pl.col("source_ip").is_not_null())
        .select("tenant_id", "actor_id", "source_ip", "occurred_at", "event_id", "user_agent")
    )
    denied = _denied_probes(events, r)
    probes = pl.concat([fails, denied], how="vertical_relaxed").collect()
    if probes.height == 0:
        return empty()
    # a client (user agent) counts as a source only when it never succeeds anywhere
    agents = probes.get_column("user_agent").drop_nulls().unique()
    succeeding = (
        lazy(events, "user_agent", "outcome")
        .filter(pl.col("user_agent").is_in(agents.implode()) & (pl.col("outcome") == "success"))
        .select(pl.col("user_agent").unique())
        .collect()
        .get_column("user_agent")
    )
    keyed = pl.concat(
        [
            probes.lazy().with_columns(_kind=pl.lit("IP"), _src=pl.col("source_ip")),
            probes.lazy().with_columns(_kind=pl.lit("network"), _src=network(pl.col("source_ip"))),
            probes.lazy()
            .filter(~pl.col("user_agent").is_in(succeeding.implode()))
            .with_columns(_kind=pl.lit("client"), _src=pl.col("user_agent")),
        ]
    ).filter(pl.col("_src").is_not_null())
    keys = ["_kind", "_src", "tenant_id"]
    episodes = (
        keyed.sort([*keys, "occurred_at"])
        .with_columns(
            _new=(
                pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys)
                | ((T - T.shift(1)) > w)
            ).fill_null(True)
        )
        .with_columns(_episode=pl.col("_new").cum_sum())
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("actor_id").n_unique().alias("accounts"),
            pl.col("source_ip").n_unique().alias("ips"),
            pl.col("source_ip").unique().alias("_ips"),
        )
        .collect()
    )
    # a source people of the tenant log in from (an office, a shared ISP network) is not
    # an attacker's: episodes after a success from it within `window` are left out
    logins = (
        subset(
            events,
            ("tenant_id", "source_ip", "occurred_at", "action", "outcome"),
            pl.col("action") == "user.login",
            pl.col("outcome") == "success",
            pl.col("source_ip").is_not_null(),
        )
        .with_columns(_net=network(pl.col("source_ip")))
        .filter(
            pl.col("source_ip").is_in(probes.get_column("source_ip").unique().implode())
            | pl.col("_net").is_in(
                probes.select(network(pl.col("source_ip")).unique()).to_series().implode()
            )
        )
    )
    used = (
        pl.concat(
            [
                logins.select("tenant_id", _kind=pl.lit("IP"), _src=pl.col("source_ip"), _ok=T),
                logins.select("tenant_id", _kind=pl.lit("network"), _src=pl.col("_net"), _ok=T),
            ]
        )
        .filter(pl.col("_src").is_not_null())
        .sort("_ok")
    )
    episodes = (
        episodes.lazy()
        .sort("first_seen")
        .join_asof(
            used,
            left_on="first_seen",
            right_on="_ok",
            by=["_kind", "_src", "tenant_id"],
            strategy="backward",
            check_sortedness=False,
        )
        .filter(pl.col("_ok").is_null() | (pl.col("first_seen") - pl.col("_ok") > w))
        .drop("_ok")
        .collect()
    )
    # other tenants' episodes of the same source overlapping this one (widened by window)
    others = (
        episodes.lazy()
        .select("_episode", "_kind", "_src", "tenant_id", "first_seen", "last_seen")
        .join(
            episodes.lazy().select(
                "_kind",
                "_src",
                pl.col("tenant_id").alias("_other"),
                pl.col("first_seen").alias("_of"),
                pl.col("last_seen").alias("_ol"),
            ),
            on=["_kind", "_src"],
        )
        .filter(
            (pl.col("_other") != pl.col("tenant_id"))
            & (pl.col("_of") <= pl.col("last_seen") + w)
            & (pl.col("_ol") >= pl.col("first_seen") - w)
        )
        .group_by("_episode")
        .agg(pl.col("_other").n_unique().alias("_n_other"))
        .filter(pl.col("_n_other") >= min_tenants - 1)
    )
    flagged = episodes.lazy().join(others, on="_episode")
    # the network and client views only add what the IP view does not already say
    flagged = (
        flagged.with_columns(
            _rank=pl.col("_kind").replace_strict({"IP": 0, "network": 1, "client": 2}),
            _key=pl.col("event_ids").list.sort().list.join(","),
        )
        .sort("_rank")
        .unique(["tenant_id", "_key"], keep="first", maintain_order=True)
    )
    # high: an account of this tenant logs in from that IP for the first time after it
    oks = (
        subset(
            events,
            ("tenant_id", "actor_id", "source_ip", "occurred_at", "event_id", "action", "outcome"),
            pl.col("action") == "user.login",
            pl.col("outcome") == "success",
        )
        .filter(pl.col("source_ip").is_in(probes.get_column("source_ip").unique().implode()))
        .with_columns(_first=T.min().over("tenant_id", "actor_id", "source_ip") == T)
        .filter("_first")
        .select("tenant_id", "source_ip", pl.col("event_id").alias("_ok_id"), T.alias("_ok_at"))
    )
    taken = (
        flagged.select("_episode", "tenant_id", "first_seen", "last_seen", "_ips")
        .explode("_ips")
        .join(oks, left_on=["tenant_id", "_ips"], right_on=["tenant_id", "source_ip"])
        .filter(
            (pl.col("_ok_at") > pl.col("first_seen"))
            & (pl.col("_ok_at") - pl.col("last_seen") <= w)
        )
        .group_by("_episode")
        .agg(pl.col("_ok_id").sort_by("_ok_at"), pl.col("_ok_at").max())
    )
    label = (
        pl.when(pl.col("_kind") == "IP")
        .then(pl.format("Source IP {}", pl.col("_src")))
        .when(pl.col("_kind") == "network")
        .then(pl.format("Network {} ({} IPs)", pl.col("_src"), pl.col("ips")))
        .otherwise(pl.format("Client '{}' (never successful anywhere)", pl.col("_src")))
    )
    found = flagged.join(taken, on="_episode", how="left").select(
        "tenant_id",
        pl.lit(None, dtype=pl.String).alias("actor_id"),
        "first_seen",
        pl.max_horizontal("last_seen", "_ok_at").alias("last_seen"),
        pl.concat_list("event_ids", pl.col("_ok_id").fill_null([])).alias("event_ids"),
        pl.when(pl.col("_ok_at").is_not_null())
        .then(pl.lit("high"))
        .otherwise(pl.lit("medium"))
        .alias("severity"),
        pl.concat_str(
            pl.format(
                "{} failed or was denied {} time(s) against {} account(s) of this tenant from {} "
                "to {}; the same source also failed in {} other tenant(s) of this store within "
                "{} (the operator's correlation: other tenants are not named)",
                label,
                pl.col("event_ids").list.len(),
                pl.col("accounts"),
                fmt_time(pl.col("first_seen")),
                fmt_time(pl.col("last_seen")),
                pl.col("_n_other"),
                pl.lit(human(w)),
            ),
            pl.when(pl.col("_ok_at").is_not_null()).then(
                pl.format(
                    "; then {} account(s) of this tenant logged in from it for the first time",
                    pl.col("_ok_id").list.len(),
                )
            ),
            pl.lit("."),
            ignore_nulls=True,
        ).alias("summary"),
    )
    return finalize(found, "cross_tenant_campaign")


def _denied_probes(events: Events, r: timedelta) -> pl.LazyFrame:
    """Failed or denied events (other than logins) of actors with no success from that IP
    within ``r``."""
    outcome = pl.col("outcome")
    cols = (*_COLS, "event_id", "action", "outcome")
    bad = (
        subset(
            events,
            cols,
            outcome.is_in(["failure", "denied"]),
            pl.col("action") != "user.login",
            pl.col("source_ip").is_not_null(),
        )
        .filter(is_person() | (pl.col("actor_type") == "api_key"))
        .collect()
    )
    if bad.height == 0:
        return bad.lazy().select(
            "tenant_id", "actor_id", "source_ip", "occurred_at", "event_id", "user_agent"
        )
    keys = ["tenant_id", "actor_id", "source_ip"]
    # successes of those actors from those IPs, as (earliest, latest) per slot of width
    # `r`: a success within `r` of an event lies in its slot or the one either side
    slot = T.dt.truncate(r)
    good = (
        lazy(events, *keys, "occurred_at", "outcome")
        .filter(
            (outcome == "success")
            & pl.col("source_ip").is_in(bad.get_column("source_ip").unique().implode())
            & pl.col("actor_id").is_in(bad.get_column("actor_id").unique().implode())
        )
        .group_by(*keys, slot.alias("_slot"))
        .agg(_lo=T.min(), _hi=T.max())
        .collect()
        .lazy()
    )
    near = bad.lazy().with_columns(_slot=slot)
    for shift, test in (
        (timedelta(0), pl.lit(True)),
        (-r, pl.col("_hi") >= T - r),
        (r, pl.col("_lo") <= T + r),
    ):
        hits = (
            near.select(*keys, "event_id", (pl.col("_slot") + shift).alias("_slot"), T)
            .join(good, on=[*keys, "_slot"])
            .filter(test)
            .select("event_id")
        )
        near = near.join(hits, on="event_id", how="anti")
    return near.select(
        "tenant_id", "actor_id", "source_ip", "occurred_at", "event_id", "user_agent"
    )
