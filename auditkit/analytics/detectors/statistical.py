"""Statistical detectors with per-actor and per-tenant baselines: volume spikes and dips,
rare actions, unusual session sequences.

Their findings carry a ``score`` (higher is more unusual) to rank them: review the
top of the list, not all of it.  Baselines are learnt from the frame itself, per
tenant, so a frame should hold a few weeks of history.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics._frames import codes, sessionize
from auditkit.analytics.detectors.common import (
    Events,
    T,
    duration,
    empty,
    finalize,
    first_few,
    fmt_between,
    fmt_float,
    fmt_time,
    key_changed,
    lazy,
    positive,
    q,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["rare_action", "unusual_session", "volume_spike"]

_MAD_TO_SD = 1.4826
_HOUR = timedelta(hours=1)


def _robust_z(value: pl.Expr, center: pl.Expr, mad: pl.Expr, floor: pl.Expr) -> pl.Expr:
    """``(value - center) / max(1.4826 * MAD, floor, 1)``: a z-score that outliers cannot
    inflate, with a Poisson-like floor so that tiny counts do not look extreme."""
    scale = pl.max_horizontal(mad * _MAD_TO_SD, floor, pl.lit(1.0))
    return (value - center) / scale


def _tenant_hours(base: pl.LazyFrame) -> pl.LazyFrame:
    """Hourly counts per tenant with zeros, the seasonal baseline and a robust z per hour."""
    counts = base.group_by("tenant_id", "_hour").agg(_n=pl.len())
    hour = pl.col("_hour")
    weekly = (hour.max() - hour.min()).over("tenant_id") >= timedelta(days=21)
    weekday = hour.dt.weekday().cast(pl.Int32) - 1
    pool = (weekday >= 5).cast(pl.Int32) * 24 + hour.dt.hour().cast(pl.Int32)
    slot = pl.when(weekly).then(weekday * 24 + hour.dt.hour().cast(pl.Int32)).otherwise(pool)
    grid = (
        counts.group_by("tenant_id")
        .agg(_a=hour.min(), _b=hour.max())
        .select("tenant_id", pl.datetime_ranges("_a", "_b", interval="1h").alias("_hour"))
        .explode("_hour")
        .join(counts, on=["tenant_id", "_hour"], how="left")
        .with_columns(pl.col("_n").fill_null(0).cast(pl.Float64))
        .with_columns(_slot=slot, _pool=pool)
        .with_columns(_base=pl.col("_n").median().over("tenant_id", "_slot"))
        .with_columns(_r=pl.col("_n") - pl.col("_base"))
        # Pearson residuals, and their spread per hour of the day (weekdays and weekends
        # apart): office hours, made of sessions, vary far more than machine-only nights
        .with_columns(_pr=pl.col("_r") / pl.col("_base").clip(lower_bound=1.0).sqrt())
        .with_columns(_c=pl.col("_pr").median().over("tenant_id", "_pool"))
        .with_columns(_mad=(pl.col("_pr") - pl.col("_c")).abs().median().over("tenant_id", "_pool"))
    )
    z = _robust_z(pl.col("_pr"), pl.col("_c"), pl.col("_mad"), pl.lit(1.0))
    return grid.with_columns(_z=z)


def _peer_label() -> pl.Expr:
    """Actors with the same type and roles are peers."""
    return pl.concat_str(
        pl.col("actor_type").fill_null("?"),
        pl.col("actor_roles").list.sort().list.join("+").fill_null(""),
        separator=":",
    )


def _hour_runs(flagged: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """Number runs of consecutive flagged hours per ``keys``: ``_episode``."""
    flagged = flagged.sort([*keys, "_hour"])
    new = pl.lit(False)
    for k in keys:
        new = new | pl.col(k).ne_missing(pl.col(k).shift(1))
    new = (
        new | (pl.int_range(pl.len()) == 0) | ((pl.col("_hour") - pl.col("_hour").shift(1)) > _HOUR)
    )
    return flagged.with_columns(_episode=new.cum_sum())


@register_detector(
    "volume_spike", title="Activity volume spike or dip", severity="medium", kind="statistical"
)
def volume_spike(
    events: Events,
    *,
    z_threshold: float = 6.0,
    min_count: int = 30,
    min_ratio: float = 2.5,
    min_delta: float = 30.0,
    tenant_share: float = 0.5,
    min_baseline: float = 20.0,
    min_active_hours: int = 8,
    max_evidence: int = 1000,
) -> pl.DataFrame:
    """Hours whose event count is far from the usual for that actor or tenant.

    Per tenant: hourly counts (with zeros) minus the median of the same hour of the
    week (hour of the day and weekday/weekend when the frame spans less than three
    weeks); the residuals, divided by the square root of that baseline, get a robust
    z-score (median and MAD of the same hour of the day, weekdays and weekends
    apart, at least Poisson noise).  Spikes and dips
    are both reported.  Per actor: spikes only, with the same robust z-score over
    the hours the actor was active: an actor's own hours are their seasonality
    (quiet nights and weekends never enter their baseline).  Scaling actors by the
    tenant's hour-of-week profile was tried and measured worse on the labelled
    scenarios, since people keep their own hours.  Consecutive flagged hours make
    one finding; ``score`` is the largest ``|z|``.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    z_threshold
        Robust z-score that flags an hour.
    min_count
        Events an actor needs in the hour (spikes of a handful are not worth a look).
    min_ratio
        An actor's hour must also reach this multiple of their 95th percentile hour:
        a spike is beyond their own busy hours, not only beyond their typical one.
    min_delta
        Events above (or below) the tenant baseline for a tenant spike (or dip).
    tenant_share
        A tenant spike or dip must also change the count by this share of a busy
        hour (the tenant's 90th percentile baseline): a few early sessions are not a
        tenant-wide event.
    min_baseline
        Baseline events per hour below which a tenant dip is not reported.
    min_active_hours
        Active hours an actor needs for a baseline.
    max_evidence
        Evidence ids kept per finding (the summary gives the full count).

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from auditkit.frame import events_to_frame
    >>> t0 = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    >>> rows = [{"tenant_id": "acme", "occurred_at": t0 + timedelta(days=d, hours=h, minutes=m),
    ...          "action": "document.read", "actor": {"id": "nina"}}
    ...         for d in range(21) for h in range(8)
    ...         for m in range(0, 60, 1 if (d, h) == (15, 4) else 15)]
    >>> sorted(volume_spike(events_to_frame(rows))["summary"])  # doctest: +NORMALIZE_WHITESPACE
    ["Activity of 'nina' rose to 60 events in 1 hour(s) from 2026-01-20 13:00 UTC (about 4
    expected; robust z 28.0).", "Activity of tenant 'acme' rose to 60 events in 1 hour(s) from
    2026-01-20 13:00 UTC (about 4 expected; robust z 28.0)."]
    """
    positive(z_threshold, "z_threshold")
    base = lazy(events, "tenant_id", "actor_id", "occurred_at", "event_id").with_columns(
        _hour=T.dt.truncate("1h")
    )
    tenant = _tenant_hours(base)
    # a tenant-wide change must also be large for the tenant: a share of a busy hour
    busy = pl.col("_base").quantile(0.9).over("tenant_id")
    big = pl.col("_r").abs() >= pl.max_horizontal(pl.lit(min_delta), tenant_share * busy)
    flagged_t = tenant.filter(
        big
        & (
            ((pl.col("_z") >= z_threshold) & (pl.col("_r") > 0))
            | ((pl.col("_z") <= -z_threshold) & (pl.col("_base") >= min_baseline))
        )
    ).with_columns(_dip=pl.col("_z") < 0, actor_id=pl.lit(None, dtype=pl.String))
    flagged_t = _hour_runs(flagged_t, ["tenant_id", "_dip"])

    keys = ["tenant_id", "actor_id"]
    actor = (
        base.group_by(*keys, "_hour")
        .agg(_n=pl.len())
        .with_columns(_adj=pl.col("_n").cast(pl.Float64))
        .with_columns(
            _m=pl.col("_adj").median().over(keys),
            _p95=pl.col("_adj").quantile(0.95).over(keys),
            _h=pl.len().over(keys),
        )
        .with_columns(_mad=(pl.col("_adj") - pl.col("_m")).abs().median().over(keys))
        .with_columns(
            _z=_robust_z(pl.col("_adj"), pl.col("_m"), pl.col("_mad"), pl.col("_m").sqrt()),
            _base=pl.col("_m"),
        )
        .filter(
            (pl.col("_h") >= min_active_hours)
            & (pl.col("_z") >= z_threshold)
            & (pl.col("_n") >= min_count)
            & (pl.col("_adj") >= min_ratio * pl.col("_p95"))
        )
        .with_columns(_dip=pl.lit(False))
    )
    flagged_a = _hour_runs(actor, keys)
    cols: list[str | pl.Expr] = [
        "tenant_id",
        "actor_id",
        "_hour",
        pl.col("_n").cast(pl.Float64),
        "_base",
        "_z",
        "_dip",
    ]
    flagged = pl.concat(
        [
            flagged_a.select(
                *cols, _level=pl.lit("actor"), _episode=pl.col("_episode").cast(pl.Int64)
            ),
            flagged_t.select(
                *cols,
                _level=pl.lit("tenant"),
                _episode=pl.col("_episode").cast(pl.Int64) + (1 << 40),
            ),
        ]
    ).collect()
    if flagged.height == 0:
        return empty()
    evidence = base.join(
        flagged.lazy().filter(pl.col("_level") == "actor").select(*keys, "_hour", "_episode"),
        on=[*keys, "_hour"],
    ).select("_episode", "occurred_at", "event_id")
    evidence_t = base.join(
        flagged.lazy()
        .filter(pl.col("_level") == "tenant")
        .select("tenant_id", "_hour", "_episode"),
        on=["tenant_id", "_hour"],
    ).select("_episode", "occurred_at", "event_id")
    ids = (
        pl.concat([evidence, evidence_t])
        .sort("occurred_at")
        .group_by("_episode")
        .agg(event_ids=pl.col("event_id").head(max_evidence))
    )
    runs = (
        flagged.lazy()
        .group_by("_episode")
        .agg(
            pl.col("tenant_id", "actor_id", "_level", "_dip").first(),
            pl.col("_hour").min().alias("first_seen"),
            (pl.col("_hour").max() + _HOUR - timedelta(microseconds=1)).alias("last_seen"),
            pl.col("_n").sum().alias("n"),
            pl.col("_base").sum().alias("expected"),
            pl.len().alias("hours"),
            pl.col("_z").abs().max().alias("score"),
            pl.col("_z").filter(pl.col("_z").abs() == pl.col("_z").abs().max()).first().alias("z"),
        )
        .join(ids, on="_episode", how="left")
        .with_columns(pl.col("event_ids").fill_null([]))
    )
    who = (
        pl.when(pl.col("_level") == "actor")
        .then(pl.format("Activity of {}", q(pl.col("actor_id"))))
        .otherwise(pl.format("Activity of tenant {}", q(pl.col("tenant_id"))))
    )
    found = runs.with_columns(
        severity=pl.when(pl.col("_dip") | (pl.col("_level") == "actor"))
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low")),
        summary=pl.format(
            "{} {} {} events in {} hour(s) from {} (about {} expected; robust z {}).",
            who,
            pl.when(pl.col("_dip")).then(pl.lit("fell to")).otherwise(pl.lit("rose to")),
            fmt_float(pl.col("n")),
            pl.col("hours"),
            fmt_time(pl.col("first_seen")),
            fmt_float(pl.col("expected")),
            fmt_float(pl.col("z"), 1),
        ),
    )
    return finalize(found, "volume_spike")


@register_detector(
    "rare_action", title="Rare action for an actor", severity="low", kind="statistical"
)
def rare_action(
    events: Events,
    *,
    min_history: int = 100,
    min_history_span: str | timedelta = "7d",
    max_probability: float = 0.001,
    prior_weight: float = 20.0,
    max_evidence: int = 100,
    group_gap: str | timedelta = "1h",
    burst_actions: int = 5,
) -> pl.DataFrame:
    """An actor doing something for the first time, after a long history, that their peers
    (actors with the same roles and type) and their tenant rarely do.

    The reference probability of the action comes from the actor's peers and, as a
    prior of weight ``prior_weight`` events, from the whole tenant, both leaving
    the actor's own events out (so a lone actor cannot make their own action look
    common): ``p = (peer count + w * p_tenant) / (peer events + w)`` with an
    add-one ``p_tenant``.  A pair is reported at its first occurrence when the
    actor already had ``min_history`` events over ``min_history_span`` and ``p``
    is at most ``max_probability``.  ``score`` is the surprisal ``-log2 p`` in
    bits.  Admin and management actions make the finding medium, others low.

    An actor's rare first actions no more than ``group_gap`` apart are one finding,
    naming the actions: a stolen key trying sixty services is one line, not sixty.
    ``burst_actions`` or more of them at once make it medium; ``score`` is the
    rarest action's surprisal.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from auditkit.frame import events_to_frame
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> rows = [{"tenant_id": "acme", "occurred_at": t0 + timedelta(hours=2 * i),
    ...          "action": "document.read", "actor": {"id": f"u{i % 3}", "roles": ["viewer"]}}
    ...         for i in range(600)]
    >>> rows.append({"tenant_id": "acme", "occurred_at": t0 + timedelta(days=60),
    ...              "action": "audit_destination.remove",
    ...              "actor": {"id": "u0", "roles": ["viewer"]}})
    >>> print(rare_action(events_to_frame(rows))["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'u0' performed 'audit_destination.remove' for the first time at 2026-03-02 00:00 UTC, after
    200 events; its peers and tenant almost never do (p = 0.012%, 13.0 bits).
    """
    span = duration(min_history_span, name="min_history_span")
    gap = duration(group_gap, name="group_gap")
    positive(max_probability, "max_probability")
    positive(burst_actions, "burst_actions")
    keys = ["tenant_id", "actor_id"]
    cols = ("tenant_id", "actor_id", "actor_type", "actor_roles", "occurred_at", "event_id")
    lf = lazy(events, *cols, "action", "category")
    pairs = (
        lf.group_by(*keys, "action")
        .agg(
            _naa=pl.len(),
            _t1=T.min(),
            category=pl.col("category").first(),
            actor_type=pl.col("actor_type").first(),
            actor_roles=pl.col("actor_roles").first(),
        )
        # peers: the actor's type and roles on their earliest action
        .with_columns(_peer=_peer_label().sort_by("_t1").first().over(keys))
        .with_columns(
            _t0=pl.col("_t1").min().over(keys),
            _na=pl.col("_naa").sum().over(keys),
            _npa=pl.col("_naa").sum().over("tenant_id", "_peer", "action"),
            _np=pl.col("_naa").sum().over("tenant_id", "_peer"),
            _nta=pl.col("_naa").sum().over("tenant_id", "action"),
            _nt=pl.col("_naa").sum().over("tenant_id"),
            _v=pl.col("action").n_unique().over("tenant_id"),
        )
    )
    p_tenant = (pl.col("_nta") - pl.col("_naa") + 1) / (
        pl.col("_nt") - pl.col("_na") + pl.col("_v")
    )
    p_ref = (pl.col("_npa") - pl.col("_naa") + prior_weight * p_tenant) / (
        pl.col("_np") - pl.col("_na") + prior_weight
    )
    rare = (
        pairs.with_columns(_p=p_ref)
        .filter((pl.col("_p") <= max_probability) & ((pl.col("_t1") - pl.col("_t0")) >= span))
        .select(*keys, "action", "category", "_t1", "_p")
        .collect()
        .lazy()
    )
    mine = lf.join(rare.select(*keys, pl.col("action").alias("_cand"), "_t1"), on=keys)
    history = (
        mine.filter(pl.col("_t1") > T)
        .group_by(*keys, pl.col("_cand").alias("action"))
        .agg(_n=pl.len())
        .filter(pl.col("_n") >= min_history)
    )
    evidence = (
        mine.filter(pl.col("action") == pl.col("_cand"))
        .sort("occurred_at")
        .group_by(*keys, "action")
        .agg(
            pl.col("event_id").head(max_evidence).alias("event_ids"),
            T.max().alias("last_seen"),
        )
    )
    bits = -pl.col("_p").log(2)
    admin = pl.col("category").is_in(["admin", "management"])
    # an actor's rare first actions close together are one finding (a key trying
    # every service is one event to review, not sixty); each action's first event
    # leads the evidence
    ranked = (
        rare.join(history, on=[*keys, "action"])
        .join(evidence, on=[*keys, "action"])
        .sort(*keys, "_t1", "action")
        .with_columns(
            _group=(key_changed(keys) | ((pl.col("_t1") - pl.col("_t1").shift(1)) > gap)).cum_sum()
        )
    )
    grouped = ranked.group_by("_group").agg(
        pl.col(*keys).first(),
        pl.col("_t1").min().alias("first_seen"),
        pl.col("_t1").max().alias("_t1_last"),
        pl.col("last_seen").max(),
        pl.col("_n").first(),
        pl.col("action").alias("_actions"),
        pl.col("event_ids").list.first().alias("_firsts"),
        pl.col("event_ids").list.explode(keep_nulls=False, empty_as_null=False).alias("_all"),
        pl.col("_p").min(),
        admin.any().alias("_admin"),
    )
    k = pl.col("_actions").list.len()
    shown = first_few(pl.col("_actions").list.eval(q(pl.element())), 5, ", ")
    p_bits = pl.format(
        "p = {}%, {} bits",
        (pl.col("_p") * 100).round_sig_figs(2).cast(pl.String),
        fmt_float(bits, 1),
    )
    t1 = fmt_time(pl.col("first_seen"))
    found = grouped.select(
        *keys,
        "first_seen",
        "last_seen",
        pl.concat_list("_firsts", "_all")
        .list.unique(maintain_order=True)
        .list.head(max_evidence)
        .alias("event_ids"),
        bits.alias("score"),
        pl.when(pl.col("_admin") | (k >= burst_actions))
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
        .alias("severity"),
        pl.when(k == 1)
        .then(
            pl.format(
                "{} performed {} for the first time at {}, after {} events; its peers and "
                "tenant almost never do ({}).",
                q(pl.col("actor_id")),
                q(pl.col("_actions").list.first()),
                t1,
                pl.col("_n"),
                p_bits,
            )
        )
        .otherwise(
            pl.format(
                "{} performed {} actions for the first time {}, after {} events, that its "
                "peers and tenant almost never do: {} (the rarest: {}).",
                q(pl.col("actor_id")),
                k,
                fmt_between(pl.col("first_seen"), pl.col("_t1_last")),
                pl.col("_n"),
                shown,
                p_bits,
            )
        )
        .alias("summary"),
    )
    return finalize(found, "rare_action")


#: Surprisal in units of 2**-32 bits: exact integers, summed in any order.
_FIXED: Final = float(1 << 32)


@register_detector(
    "unusual_session", title="Unusual session sequence", severity="low", kind="statistical"
)
def unusual_session(
    events: Events,
    *,
    gap: str | timedelta = "30m",
    min_events: int = 3,
    z_threshold: float = 2.5,
    alpha: float = 0.5,
    prior_weight: float = 5.0,
    min_scale: float = 0.25,
    max_evidence: int = 200,
) -> pl.DataFrame:
    """Sessions whose sequence of actions is unlikely under their peers' Markov model.

    Sessions are ``session_id``, else an actor's events no more than ``gap`` apart.
    A first-order Markov chain with start and end states is learnt per tenant
    (add-``alpha`` smoothing) and per peer group within it (actors with the same
    roles and type; backing off to the tenant chain with weight ``prior_weight``),
    so that an admin's session is judged against admins.  Each transition costs
    its surprisal ``-log2 p(next | previous)``; a session's cost is the mean per
    transition, and sessions whose cost has a robust z-score of at least
    ``z_threshold`` within their tenant are reported (the scale is at least
    ``min_scale`` bits).  ``score`` is that z-score.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from auditkit.frame import events_to_frame
    >>> t0 = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
    >>> usual = ["user.login", "document.read", "document.update", "user.logout"]
    >>> odd = ["user.login", "api_key.create", "audit_log.disable", "document.export"]
    >>> rows = [{"tenant_id": "acme", "occurred_at": t0 + timedelta(days=d, minutes=m),
    ...          "action": a, "actor": {"id": f"u{d % 7}"}}
    ...         for d in range(60) for m, a in enumerate(odd if d == 59 else usual)]
    >>> unusual_session(events_to_frame(rows))["event_ids"][0].len()
    4
    """
    g = duration(gap, name="gap")
    positive(alpha, "alpha")
    cols = ("tenant_id", "actor_id", "actor_type", "actor_roles", "session_id", "occurred_at")
    # one narrow numeric frame (strings stay in the scan: at 10M events they would not
    # fit twice); the peer group per actor is their type and roles on their first event
    peer = codes("tenant_id", "_peer")
    src = lazy(events, *cols, "action")
    # "first" by time, ties by position: a group's first row is otherwise whichever
    # the engine met first, and the findings would depend on the engine
    peers = (
        src.with_row_index("_row")
        .group_by("tenant_id", "actor_id")
        .agg(pl.col("actor_type", "actor_roles").sort_by("occurred_at", "_row").first())
        .select("tenant_id", "actor_id", _peer=_peer_label())
    )
    narrow = (
        src.with_row_index("_row")
        .join(peers, on=["tenant_id", "actor_id"], how="left", nulls_equal=True)
        .select(
            "_row",
            "occurred_at",
            _ak=codes("tenant_id", "actor_id"),
            _tc=codes("tenant_id"),
            _pc=peer,
            _next=codes("action"),
            _sk=pl.when(pl.col("session_id").is_not_null()).then(codes("tenant_id", "session_id")),
        )
        .collect()
        .lazy()
    )
    lf = sessionize(narrow, gap=g).collect().lazy()
    start, end = 2**62, 2**62 + 1  # action codes are below 2**32
    same = pl.col("_skey") == pl.col("_skey").shift(1)  # sessions are adjacent
    steps = lf.with_columns(
        _prev=pl.when(same).then(pl.col("_next").shift(1)).otherwise(start).cast(pl.UInt64),
        _last=(pl.col("_skey") != pl.col("_skey").shift(-1)).fill_null(True),
    )
    keys = ["_tc", "_pc", "_prev", "_next"]
    ends = steps.filter("_last").select(
        "_skey",
        "_tc",
        "_pc",
        pl.col("_next").alias("_prev"),
        pl.lit(end, dtype=pl.UInt64).alias("_next"),
    )
    trans = pl.concat([steps.select("_skey", *keys), ends.select("_skey", *keys)]).collect().lazy()
    peer_counts = trans.group_by(keys).agg(_c=pl.len())
    tenant_model = (
        peer_counts.group_by("_tc", "_prev", "_next")
        .agg(pl.col("_c").sum())
        .with_columns(
            _cp=pl.col("_c").sum().over("_tc", "_prev"),
            _v=pl.col("_next").n_unique().over("_tc"),
        )
        .select(
            "_tc",
            "_prev",
            "_next",
            _pt=(pl.col("_c") + alpha) / (pl.col("_cp") + alpha * pl.col("_v")),
        )
    )
    model = (
        peer_counts.with_columns(_cp=pl.col("_c").sum().over("_tc", "_pc", "_prev"))
        .join(tenant_model, on=["_tc", "_prev", "_next"])
        .select(
            *keys,
            # in fixed point (2**-32 bits): a sum of integers does not depend on the
            # order the engine adds them in, so neither do the scores nor the findings
            _bits=(
                -((pl.col("_c") + prior_weight * pl.col("_pt")) / (pl.col("_cp") + prior_weight))
                .log(2)
                .mul(_FIXED)
                .round()
            ).cast(pl.Int64),
        )
    )
    cost = (
        trans.join(model, on=keys)
        .group_by("_skey")
        .agg((pl.col("_bits").sum() / pl.len() / _FIXED).alias("_cost"), pl.col("_tc").first())
        .sort("_skey")  # the standard deviation below adds in this order
        .with_columns(_med=pl.col("_cost").median().over("_tc"))
        .with_columns(_mad=(pl.col("_cost") - pl.col("_med")).abs().median().over("_tc"))
        .with_columns(
            # MAD is 0 when most sessions cost the same: fall back on the standard deviation
            _scale=pl.when(pl.col("_mad") > 0)
            .then(pl.col("_mad") * _MAD_TO_SD)
            .otherwise(pl.col("_cost").std().over("_tc"))
            .fill_null(0.0)
            .clip(lower_bound=min_scale)
        )
        .with_columns(_z=(pl.col("_cost") - pl.col("_med")) / pl.col("_scale"))
        .filter(pl.col("_z") >= z_threshold)
        .select("_skey", "_cost", "_med", "_z")
    )
    cited = lf.join(cost, on="_skey").select("_skey", "_row", "_cost", "_med", "_z").collect()
    # the cited events' text, read again from the source by row
    text = (
        lazy(events, "tenant_id", "actor_id", "event_id", "action", "occurred_at")
        .with_row_index("_row")
        .filter(pl.col("_row").is_in(cited.get_column("_row").implode()))
    )
    found = (
        cited.lazy()
        .join(text, on="_row")
        .sort("_skey", "occurred_at")
        .group_by("_skey")
        .agg(
            pl.col("tenant_id", "actor_id").first(),
            T.min().alias("first_seen"),
            T.max().alias("last_seen"),
            pl.col("event_id").head(max_evidence).alias("event_ids"),
            pl.col("action").alias("path"),
            pl.col("_cost", "_med", "_z").first(),
        )
        .filter(pl.col("path").list.len() >= min_events)
        .select(
            "tenant_id",
            "actor_id",
            "first_seen",
            "last_seen",
            "event_ids",
            pl.col("_z").alias("score"),
            pl.lit("low").alias("severity"),
            pl.format(
                "Session of {} from {} ({} events: {}{}) is unusual for its tenant: {} bits per "
                "step against a typical {} (robust z {}).",
                q(pl.col("actor_id")),
                fmt_time(pl.col("first_seen")),
                pl.col("path").list.len(),
                pl.col("path").list.head(8).list.join(" → "),
                pl.when(pl.col("path").list.len() > 8).then(pl.lit(" → …")).otherwise(pl.lit("")),
                fmt_float(pl.col("_cost"), 1),
                fmt_float(pl.col("_med"), 1),
                fmt_float(pl.col("_z"), 1),
            ).alias("summary"),
        )
    )
    return finalize(found, "unusual_session")
