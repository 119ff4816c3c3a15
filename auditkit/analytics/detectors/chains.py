"""Chains that are worse than their links: quiet steps that together are a takeover.

Each link alone is at most a medium finding elsewhere (a dormant account, a login from
a new country, an MFA denial, a new API key); in sequence, within hours, they are an
intrusion.  Each finding cites every link, the earlier events that set the baseline
(when the account was last seen, which countries the tenant knew) included.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors._mfa import refused_prompts
from auditkit.analytics.detectors.common import (
    ACCOUNT_KINDS,
    LOGIN,
    SENSITIVE_ACTIONS,
    SERVICE_ACCOUNT,
    Events,
    T,
    actions_matching,
    began,
    duration,
    empty,
    finalize,
    first_few,
    fmt_duration,
    fmt_time,
    git_operations,
    git_push,
    is_person,
    key_changed,
    kind,
    lazy,
    network,
    network_firsts,
    new_network,
    positive,
    q,
    subset,
    verb,
    window_evidence,
)
from auditkit.analytics.detectors.exfiltration import EXPORT_VERBS
from auditkit.analytics.detectors.exfiltration import READ_VERBS as CONTENT_READ_VERBS
from auditkit.analytics.detectors.registry import register_detector

__all__ = [
    "dormant_takeover",
    "mfa_fatigue_takeover",
    "new_key_exfiltration",
    "recovery_takeover",
]

#: Verbs of bulk reading: what a stolen key is used for.
READ_VERBS = (
    "read", "export", "download", "list", "search", "query", "get", "view", "sync", "clone",
    "fetch", "pull",
)  # fmt: skip


@register_detector(
    "dormant_takeover",
    title="Dormant account wakes from a new country and touches security settings",
    severity="critical",
)
def dormant_takeover(
    events: Events,
    *,
    idle: str | timedelta = "30d",
    follow: str | timedelta = "24h",
    sensitive: Sequence[str] = SENSITIVE_ACTIONS,
) -> pl.DataFrame:
    """A person's account silent for at least ``idle``, active again from a country it
    never used, which then, within ``follow`` of waking, touches SSO, MFA, roles,
    permissions, API keys, integrations or audit settings.  Critical.

    Only successful events count.  "Never used" means no successful event of the
    actor from that country before the silence ended.  The evidence starts with the
    actor's last event before the silence (the baseline), then the first event after
    it, the events from the new country and the sensitive actions.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> def ev(ts, action, country):
    ...     return {"tenant_id": "acme", "occurred_at": ts, "action": action,
    ...             "actor": {"id": "kim"}, "source": {"geo": {"country": country}}}
    >>> df = events_to_frame([ev("2026-01-05T09:00:00Z", "user.login", "US"),
    ...     ev("2026-03-01T02:00:00Z", "user.login", "VN"),
    ...     ev("2026-03-01T02:05:00Z", "mfa.enroll", "VN")])
    >>> print(dormant_takeover(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'kim' was silent for 54d17h (last seen 2026-01-05 09:00 UTC from US), woke at 2026-03-01
    02:00 UTC from VN, a country never seen for them, and within 5m touched mfa.enroll: dormant
    account + new country + sensitive actions.
    """
    gap, after = duration(idle, name="idle"), duration(follow, name="follow")
    keys = ["tenant_id", "actor_id"]
    cols = ("tenant_id", "actor_id", "actor_type", "occurred_at", "event_id", "action")
    active = (
        lazy(events, *cols, "outcome", "geo_country")
        .filter(pl.col("outcome") == "success")
        .filter(is_person())
    )
    bucket = min(gap, timedelta(days=1))
    # silences longer than `idle` span whole buckets: find them between per-bucket extremes
    spans = (
        active.select(*keys, "occurred_at")
        .group_by(*keys, T.dt.truncate(bucket).alias("_b"))
        .agg(_first=T.min(), _last=T.max())
        .sort([*keys, "_b"])
        .with_columns(_prev=pl.when(~key_changed(keys)).then(pl.col("_last").shift(1)))
        .filter((pl.col("_first") - pl.col("_prev")) >= gap)
        .select(*keys, pl.col("_first").alias("_since"), pl.col("_prev").alias("_last"))
        .collect()
    )
    if spans.height == 0:
        return empty()
    woken = spans.select(keys).unique()
    mine = (
        active.filter(pl.col("actor_id").is_in(woken.get_column("actor_id").implode()))
        .join(woken.lazy(), on=keys, how="semi")
        .collect()
        .lazy()
    )
    # the baseline: the actor's last event before the silence
    last = mine.select(
        *keys,
        T.alias("_last"),
        pl.col("event_id").alias("_last_id"),
        pl.col("geo_country").alias("_last_country"),
    )
    silences = (
        spans.lazy()
        .join(last, on=[*keys, "_last"], how="left")
        .unique([*keys, "_since"], keep="first")
    )
    seen = (
        mine.filter(pl.col("geo_country").is_not_null())
        .group_by(*keys, "geo_country")
        .agg(_country_since=T.min())
    )
    known = (
        mine.join(silences.select(*keys, "_since"), on=keys)
        .filter((pl.col("_since") > T) & pl.col("geo_country").is_not_null())
        .group_by(*keys, "_since")
        .agg(pl.col("geo_country").unique().sort().alias("_known"))
    )
    steps = (
        mine.join(silences, on=keys)
        .filter((pl.col("_since") <= T) & ((T - pl.col("_since")) <= after))
        .join(seen, on=[*keys, "geo_country"], how="left")
        .with_columns(
            _new=pl.col("_country_since").is_not_null()
            & (pl.col("_country_since") >= pl.col("_since")),
            _sensitive=pl.col("action").is_in(list(sensitive)),
        )
        .sort("occurred_at")
    )
    first_new = T.filter(pl.col("_new")).min()
    chain = pl.col("_new") | (pl.col("_sensitive") & (first_new <= T)) | (T.min() == T)
    found = (
        steps.group_by(*keys, "_since")
        .agg(
            pl.col("_last", "_last_id", "_last_country").first(),
            first_new.alias("_new_at"),
            pl.col("geo_country").filter(pl.col("_new")).first().alias("_country"),
            pl.col("action")
            .filter(pl.col("_sensitive") & (first_new <= T))
            .unique(maintain_order=True)
            .alias("_what"),
            T.filter(pl.col("_sensitive") & (first_new <= T)).max().alias("_touch_at"),
            pl.col("event_id").filter(chain).head(200).alias("_ids"),
        )
        .filter(pl.col("_new_at").is_not_null() & (pl.col("_what").list.len() > 0))
        .join(known, on=[*keys, "_since"], how="left")
        .select(
            *keys,
            pl.col("_last").alias("first_seen"),
            pl.col("_touch_at").alias("last_seen"),
            pl.concat_list(pl.col("_last_id"), pl.col("_ids")).alias("event_ids"),
            pl.lit("critical").alias("severity"),
            pl.format(
                "{} was silent for {} (last seen {} from {}), woke at {} from {}, a country "
                "never seen for them, and within {} touched {}: dormant account + new country "
                "+ sensitive actions.",
                q(pl.col("actor_id")),
                fmt_duration(pl.col("_since") - pl.col("_last")),
                fmt_time(pl.col("_last")),
                pl.col("_last_country").fill_null(
                    pl.col("_known").list.join(", ").fill_null("an unknown country")
                ),
                fmt_time(pl.col("_since")),
                pl.col("_country"),
                fmt_duration(pl.col("_touch_at") - pl.col("_since")),
                pl.col("_what").list.head(6).list.join(", "),
            ).alias("summary"),
        )
    )
    return finalize(found, "dormant_takeover")


def _key_id() -> pl.Expr:
    """The id of the key an ``api_key.create`` made: a target of type ``api_key``, else
    ``metadata.key_id``."""
    typed = (
        pl.col("targets")
        .list.eval(
            pl.element()
            .struct.field("id")
            .filter(kind(pl.element().struct.field("type")).is_in(_KEY_KINDS))
        )
        .list.first()
    )
    return pl.coalesce(typed, pl.col("metadata").str.json_path_match("$.key_id"))


@register_detector(
    "new_key_exfiltration",
    title="New API key used from a new country for bulk reads",
    severity="high",
)
def new_key_exfiltration(
    events: Events,
    *,
    within: str | timedelta = "24h",
    min_reads: int = 20,
    verbs: Sequence[str] = READ_VERBS,
    min_items: int = 10,
    min_history: str | timedelta = "7d",
) -> pl.DataFrame:
    """An API key used within ``within`` of its creation from a country its tenant had
    never used before the creation, for at least ``min_reads`` bulk reads or exports.
    One high finding cites the key's creation and its uses.

    The key's id is a target of type ``api_key`` of the ``api_key.create`` event (or
    its ``metadata.key_id``); its uses are events whose actor is that id.  Reads are
    actions ending in one of ``verbs``, and git operations that did not push
    (:func:`~auditkit.analytics.detectors.common.git_push`).

    A key that does not act under its own name (an SSH or deploy key: its clones are
    logged as its holder's) is followed through its holder instead: the account that
    created it, or the account it was made for (a target of type user).  When, within
    ``within`` of the creation, the holder reads the content of at least ``min_items``
    distinct items (clones, fetches, pulls, downloads, exports, gets, reads: verbs of
    ``bulk_read`` and ``mass_export``, and git operations that did not push) from a
    network its tenant had never made its own (an IPv4 ``/24`` that no one used on three
    days: ``common.new_network``), one finding cites the creation and the reads: high when the
    holder was known to the trail ``min_history`` before the creation, medium for a new
    account (a new hire's first day).  The tenant's trail must have begun ``min_history`` before the
    creation (before, it has no networks of its own).  A holder other than the key's
    maker (the service account a person made a key for) is reported for fewer reads
    than ``min_items``: high when the key was made from a network its tenant had not
    made its own, medium otherwise.  A key that acts as its maker (an Okta API token: its
    calls name the administrator who made it, with no session) is followed through its
    maker: ``min_reads`` or more changes with no session, within ``within`` of the
    creation, from a country new to the tenant, are high.  A key already reported above
    is not reported again.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from auditkit.frame import events_to_frame
    >>> t0 = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    >>> rows = [{"tenant_id": "acme", "occurred_at": t0, "action": "api_key.create",
    ...          "actor": {"id": "bob"}, "targets": [{"id": "key-7", "type": "api_key"}],
    ...          "source": {"geo": {"country": "US"}}}]
    >>> rows += [{"tenant_id": "acme", "occurred_at": t0 + timedelta(hours=3, seconds=i),
    ...           "action": "document.export", "actor": {"id": "key-7", "type": "api_key"},
    ...           "source": {"ip": "203.0.113.8", "geo": {"country": "VN"}}} for i in range(20)]
    >>> print(new_key_exfiltration(events_to_frame(rows))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    API key 'key-7' created by 'bob' at 2026-01-05 09:00 UTC was used 3h later from VN, a
    country this tenant had never used before the key existed: 20 bulk read(s) or export(s)
    (document.export) until 2026-01-05 12:00 UTC.
    """
    w = duration(within, name="within")
    positive(min_reads, "min_reads")
    positive(min_items, "min_items")
    history = duration(min_history, name="min_history")
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome")
    made = subset(
        events,
        (*cols, "targets", "metadata", "source_ip"),
        pl.col("action") == "api_key.create",
        pl.col("outcome") == "success",
    ).collect()
    if made.height == 0:
        return empty()
    git = git_operations(events)
    by_key = _key_uses(events, made, w, min_reads, verbs, git)
    by_holder = _holder_collections(events, made, w, min_items, history, git)
    if by_holder is not None and by_key is not None:
        by_holder = by_holder.join(by_key.select("_created_id"), on="_created_id", how="anti")
    by_maker = _maker_changes(events, made, w, min_reads, verbs)
    if by_maker is not None:
        for p in (by_key, by_holder):
            if p is not None:
                by_maker = by_maker.join(p.select("_created_id"), on="_created_id", how="anti")
    parts = [p.drop("_created_id") for p in (by_key, by_holder, by_maker) if p is not None]
    if not parts:
        return empty()
    return finalize(pl.concat(parts, how="vertical_relaxed"), "new_key_exfiltration")


def _key_uses(
    events: Events,
    made: pl.DataFrame,
    w: timedelta,
    min_reads: int,
    verbs: Sequence[str],
    git: list[str],
) -> pl.DataFrame | None:
    """Keys that act under their own name, used from a country new to the tenant (see
    :func:`new_key_exfiltration`): candidate findings with ``_created_id``, or None."""
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome")
    created = made.select(
        "tenant_id",
        pl.col("actor_id").alias("_creator"),
        _key_id().alias("actor_id"),
        T.alias("_created"),
        pl.col("event_id").alias("_created_id"),
    ).filter(pl.col("actor_id").is_not_null())
    if created.height == 0:
        return None
    pattern = r"\.(?:" + "|".join(verbs) + r")$"
    uses = (
        subset(
            events,
            (*cols, "geo_country", *(("metadata",) if git else ())),
            pl.col("actor_id").is_in(created.get_column("actor_id").unique().implode()),
        )
        .join(created.lazy(), on=["tenant_id", "actor_id"])
        .filter(
            (pl.col("_created") <= T)
            & ((T - pl.col("_created")) <= w)
            & pl.col("geo_country").is_not_null()
        )
        .with_columns(
            _read=pl.col("action").str.contains(pattern)
            | (pl.col("action").is_in(git) & ~git_push() if git else pl.lit(False))
        )
        .collect()
    )
    if uses.height == 0:
        return None
    countries = uses.get_column("geo_country").unique().implode()
    tenant_since = (
        lazy(events, "tenant_id", "geo_country", "occurred_at")
        .filter(pl.col("geo_country").is_in(countries))
        .group_by("tenant_id", "geo_country")
        .agg(_since=T.min())
    )
    found = (
        uses.lazy()
        .join(tenant_since, on=["tenant_id", "geo_country"])
        .filter(
            (pl.col("_since") >= pl.col("_created"))
            & pl.col("_read")
            & (pl.col("outcome") == "success")
        )
        .sort("occurred_at")
        .group_by("tenant_id", "actor_id", "_created_id")
        .agg(
            pl.col("_creator", "_created").first(),
            pl.col("event_id").head(500).alias("_ids"),
            pl.len().alias("_n"),
            T.min().alias("_used"),
            T.max().alias("last_seen"),
            pl.col("geo_country").unique(maintain_order=True).alias("_countries"),
            pl.col("action").unique(maintain_order=True).alias("_what"),
        )
        .filter(pl.col("_n") >= min_reads)
        .select(
            "tenant_id",
            "actor_id",
            "_created_id",
            pl.col("_created").alias("first_seen"),
            "last_seen",
            pl.concat_list(pl.col("_created_id"), pl.col("_ids")).alias("event_ids"),
            pl.lit("high").alias("severity"),
            pl.format(
                "API key {} created by {} at {} was used {} later from {}, a country this tenant "
                "had never used before the key existed: {} bulk read(s) or export(s) ({}) "
                "until {}.",
                q(pl.col("actor_id")),
                q(pl.col("_creator")),
                fmt_time(pl.col("_created")),
                fmt_duration(pl.col("_used") - pl.col("_created")),
                pl.col("_countries").list.join(", "),
                pl.col("_n"),
                pl.col("_what").list.head(5).list.join(", "),
                fmt_time(pl.col("last_seen")),
            ).alias("summary"),
        )
        .collect()
    )
    return found if found.height else None


def _maker_changes(
    events: Events, made: pl.DataFrame, w: timedelta, minimum: int, verbs: Sequence[str]
) -> pl.DataFrame | None:
    """Keys whose maker, within ``w`` of the creation, with no session, made ``minimum``
    or more changes from a country new to the tenant (an Okta API token acts as the
    administrator who made it: see :func:`new_key_exfiltration`): candidate findings
    with ``_created_id``, or None."""
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome")
    created = made.select(
        "tenant_id",
        "actor_id",
        _key=pl.coalesce(
            _key_id(),
            pl.col("targets").list.first().struct.field("name"),
            pl.col("targets").list.first().struct.field("id"),
        ),
        _created=T,
        _created_id=pl.col("event_id"),
    )
    reading = r"\.(?:" + "|".join(verbs) + r")$"
    uses = (
        subset(
            events,
            (*cols, "geo_country", "session_id"),
            pl.col("actor_id").is_in(created.get_column("actor_id").unique().implode()),
            pl.col("session_id").is_null()
            & pl.col("geo_country").is_not_null()
            & (pl.col("outcome") == "success")
            & ~pl.col("action").str.contains(reading),
        )
        .sort("occurred_at")
        .join_asof(
            created.lazy().sort("_created"),
            left_on="occurred_at",
            right_on="_created",
            by=["tenant_id", "actor_id"],
            strategy="backward",
            tolerance=w,
            check_sortedness=False,  # sorted by time: `by` hides that from Polars
        )
        .filter(pl.col("_created_id").is_not_null() & (pl.col("event_id") != pl.col("_created_id")))
        .filter(pl.len().over("tenant_id", "_created_id", "geo_country") >= minimum)
        .collect()
    )  # fmt: skip
    if uses.height == 0:
        return None
    countries = uses.get_column("geo_country").unique().implode()
    tenant_since = (
        lazy(events, "tenant_id", "geo_country", "occurred_at")
        .filter(pl.col("geo_country").is_in(countries))
        .group_by("tenant_id", "geo_country")
        .agg(_since=T.min())
    )
    found = (
        uses.lazy()
        .join(tenant_since, on=["tenant_id", "geo_country"])
        .filter(pl.col("_since") >= pl.col("_created"))
        .group_by("tenant_id", "actor_id", "_created_id")
        .agg(
            pl.col("_key", "_created").first(),
            pl.col("event_id").head(500).alias("_ids"),
            pl.len().alias("_n"),
            T.min().alias("_used"),
            T.max().alias("last_seen"),
            pl.col("geo_country").unique(maintain_order=True).alias("_countries"),
            pl.col("action").unique(maintain_order=True).alias("_what"),
        )
        .filter(pl.col("_n") >= minimum)
        .select(
            "tenant_id",
            "actor_id",
            "_created_id",
            pl.col("_created").alias("first_seen"),
            "last_seen",
            pl.concat_list(pl.col("_created_id"), pl.col("_ids")).alias("event_ids"),
            pl.lit("high").alias("severity"),
            pl.format(
                "API key {} created by {} at {}; {} later {} made {} change(s) with no session "
                "({}) from {}, a country this tenant had never used before the key existed, "
                "until {}.",
                q(pl.col("_key").fill_null("?")),
                q(pl.col("actor_id")),
                fmt_time(pl.col("_created")),
                fmt_duration(pl.col("_used") - pl.col("_created")),
                q(pl.col("actor_id")),
                pl.col("_n"),
                pl.col("_what").list.head(5).list.join(", "),
                pl.col("_countries").list.join(", "),
                fmt_time(pl.col("last_seen")),
            ).alias("summary"),
        )
        .collect()
    )
    return found if found.height else None


def _holder_collections(
    events: Events,
    made: pl.DataFrame,
    w: timedelta,
    min_items: int,
    history: timedelta,
    git: list[str],
) -> pl.DataFrame | None:
    """Keys followed through their holder (the account that made one, or the account it
    was made for), whose holder read ``min_items`` distinct items within ``w`` from a
    network its tenant never made its own (see :func:`new_key_exfiltration`): candidate
    findings with ``_created_id``, or None."""
    target = pl.element().struct
    key_name = (
        pl.col("targets")
        .list.eval(
            pl.coalesce(target.field("name"), target.field("id")).filter(
                ~kind(target.field("type")).is_in(ACCOUNT_KINDS)
            )
        )
        .list.first()
    )
    holders = (
        made.select(
            "tenant_id",
            pl.col("actor_id").alias("_creator"),
            T.alias("_created"),
            pl.col("event_id").alias("_created_id"),
            pl.col("source_ip").alias("_made_from"),
            key_name.alias("_key"),
            pl.concat_list(
                pl.col("actor_id"),
                pl.col("targets").list.eval(
                    target.field("id").filter(kind(target.field("type")).is_in(ACCOUNT_KINDS))
                ),
                # a key that acts under its own name (GitLab's deploy key, whose clones
                # name it as their author), and the service account a key is made for
                # (Google Cloud's: the account acts, naming the key only in passing)
                key_name,
                pl.col("targets").list.eval(
                    pl.coalesce(
                        target.field("id").str.extract(SERVICE_ACCOUNT, 1),
                        target.field("id"),
                    ).filter(~kind(target.field("type")).is_in(ACCOUNT_KINDS))
                ),
            )
            .list.unique()
            .alias("actor_id"),
        )
        .explode("actor_id")
        .drop_nulls("actor_id")
    )
    reading = verb(pl.col("action")).str.to_lowercase()
    names = actions_matching(
        events, reading.str.contains(CONTENT_READ_VERBS) | reading.str.contains(EXPORT_VERBS)
    )
    if holders.height == 0 or not (names or git):
        return None
    keys = ["tenant_id", "actor_id"]
    item = pl.coalesce("target_id", "event_id")
    reads = (
        subset(
            events,
            (*keys, "occurred_at", "event_id", "action", "outcome", "target_id", "source_ip",
             *(("metadata",) if git else ())),
            pl.col("action").is_in([*names, *git])
            & pl.col("actor_id").is_in(holders.get_column("actor_id").unique().implode()),
            pl.col("outcome") == "success",
            *((~(pl.col("action").is_in(git) & git_push()),) if git else ()),
        )
        .select(pl.exclude("metadata"))
        .sort("occurred_at")
        # each read belongs to the holder's latest key before it
        .join_asof(
            holders.lazy().sort("_created"),
            left_on="occurred_at",
            right_on="_created",
            by=keys,
            strategy="backward",
            tolerance=w,
            check_sortedness=False,  # sorted by time: `by` hides that from Polars
        )
        .filter(pl.col("_created_id").is_not_null())
        # counts first: the network only of the few keys whose holder read enough, or
        # that another account made for the holder (judged by where it was made, below)
        .filter((item.n_unique().over("tenant_id", "_created_id", "actor_id") >= min_items)
                | (pl.col("actor_id") != pl.col("_creator")))
        .collect()
    )  # fmt: skip
    if reads.height == 0:
        return None
    # a trail younger than `history` has no networks of its own yet
    trail = began(events, among=reads.lazy().select("tenant_id")).rename({"_began": "_trail"})
    reads = (
        reads.lazy()
        .join(trail, on="tenant_id")
        .filter(pl.col("_trail") <= pl.col("_created") - history)
        .with_columns(_net=network(pl.col("source_ip")))
        .filter(pl.col("_net").is_not_null())
        .collect()
    )
    if reads.height == 0:
        return None
    # new to the holder first (cheap: its own events), then to the whole tenant (an
    # address new to the holder that colleagues use every day is the company's), reading
    # only the tenant's events from the addresses of those networks
    mine = network_firsts(events, keys, reads.lazy().select(keys).unique())
    reads = (
        reads.lazy()
        .join(mine, on=[*keys, "_net"], how="left")
        .filter(new_network(w).fill_null(True))
        .select(pl.exclude("^_net_.*$"))
        .collect()
    )
    if reads.height == 0:
        return None
    # the networks read from, and those the keys were made from
    made_net = network(pl.col("_made_from"))
    wanted = pl.concat(
        [
            reads.select("tenant_id", "_net"),
            reads.select("tenant_id", _net=made_net).drop_nulls("_net"),
        ]
    ).unique()
    addresses = (
        lazy(events, "tenant_id", "source_ip")
        .join(wanted.lazy().select("tenant_id").unique(), on="tenant_id", how="semi")
        .unique()
        .with_columns(_net=network(pl.col("source_ip")))
        .join(wanted.lazy(), on=["tenant_id", "_net"], how="semi")
        .select("source_ip")
        .collect()
    )
    nearby = lazy(events, "tenant_id", "occurred_at", "source_ip").filter(
        pl.col("source_ip").is_in(addresses.get_column("source_ip").implode())
    )
    ours = network_firsts(nearby, ["tenant_id"], wanted.lazy()).collect().lazy()
    # a key made from a network the tenant had not made its own
    made_new = ours.select("tenant_id", _made_net="_net", _made_first="_net_first")
    found = (
        reads.lazy()
        .join(ours, on=["tenant_id", "_net"], how="left")
        .filter(new_network(w).fill_null(True))
        .with_columns(_made_net=made_net)
        .join(made_new, on=["tenant_id", "_made_net"], how="left")
        .group_by("tenant_id", "_created_id", "actor_id")
        .agg(
            pl.col("_creator", "_created", "_key", "_made_from").first(),
            pl.col("event_id").head(500).alias("_ids"),
            item.n_unique().alias("_items"),
            pl.len().alias("_n"),
            T.min().alias("_used"),
            T.max().alias("last_seen"),
            pl.col("source_ip").unique(maintain_order=True).alias("_ips"),
            pl.col("action").unique(maintain_order=True).alias("_what"),
            (pl.col("_made_net").is_not_null() & ~(pl.col("_made_first") <= pl.col("_created")))
            .first()
            .alias("_made_new"),
        )
        # fewer reads than ``min_items`` are enough when another account made the key
        # (a key minted for a service account, used for a few reads from a server of
        # the intruder's): high when it was made from a network new to the tenant too
        .filter((pl.col("_items") >= min_items) | (pl.col("actor_id") != pl.col("_creator")))
        .collect()
    )
    if found.height == 0:
        return None
    # a key or service account acting for itself is as known as the account that made it
    known = began(events, keys, among=found.lazy().select(keys))
    makers = began(
        events, keys, among=found.lazy().select("tenant_id", actor_id=pl.col("_creator"))
    ).rename({"actor_id": "_creator", "_began": "_made_by_since"})
    return (
        found.lazy()
        .join(known, on=keys, how="left")
        .join(makers, on=["tenant_id", "_creator"], how="left")
        .with_columns(_began=pl.min_horizontal("_began", "_made_by_since"))
        .select(
            "tenant_id",
            "actor_id",
            "_created_id",
            pl.col("_created").alias("first_seen"),
            "last_seen",
            pl.concat_list(pl.col("_created_id"), pl.col("_ids")).alias("event_ids"),
            pl.when(
                (pl.col("_began") <= pl.col("_created") - history)
                & ((pl.col("_items") >= min_items) | pl.col("_made_new"))
            )
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.format(
                "Key {} created by {} at {}{}; {} later {} read {} distinct item(s) ({} read(s): "
                "{}) from a network this tenant had never used ({}) until {}{}.",
                q(pl.col("_key").fill_null("?")),
                q(pl.col("_creator")),
                fmt_time(pl.col("_created")),
                pl.when(pl.col("_made_from").is_not_null())
                .then(
                    pl.format(
                        " from {}{}",
                        pl.col("_made_from"),
                        pl.when(pl.col("_made_new"))
                        .then(pl.lit(" (a network this tenant had not made its own)"))
                        .otherwise(pl.lit("")),
                    )
                )
                .otherwise(pl.lit("")),
                fmt_duration(pl.col("_used") - pl.col("_created")),
                q(pl.col("actor_id")),
                pl.col("_items"),
                pl.col("_n"),
                pl.col("_what").list.head(5).list.join(", "),
                first_few(pl.col("_ips"), 3, ", "),
                fmt_time(pl.col("last_seen")),
                pl.when(pl.col("_began") <= pl.col("_created") - history)
                .then(pl.lit(""))
                .otherwise(pl.lit(" (a new account: its first days in the trail)")),
            ).alias("summary"),
        )
        .collect()
    )


@register_detector(
    "mfa_fatigue_takeover",
    title="MFA denials, an approval, then a new factor",
    severity="critical",
)
def mfa_fatigue_takeover(
    events: Events,
    *,
    min_denials: int = 3,
    window: str | timedelta = "1h",
    follow: str | timedelta = "24h",
) -> pl.DataFrame:
    """At least ``min_denials`` refused MFA prompts for an actor within ``window`` before
    an accepted one, then a new factor enrolled (``mfa.enroll``) for that actor within
    ``follow``: the intruder got in by push fatigue and made the access permanent.
    Critical.  Prompts are read as ``mfa_push_fatigue`` reads them: a denial, a failed
    push verification or an unanswered push is a refusal, a push sent is never the
    approval.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:{m:02d}:00Z",
    ...          "action": a, "outcome": o, "actor": {"id": "gus"}}
    ...         for m, a, o in [(0, "mfa.challenge", "denied"), (10, "mfa.challenge", "denied"),
    ...                         (20, "mfa.challenge", "denied"), (25, "mfa.challenge", "success"),
    ...                         (40, "mfa.enroll", "success")]]
    >>> print(mfa_fatigue_takeover(events_to_frame(rows))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    3 denied MFA challenges for 'gus' from 2026-01-05 09:00 UTC, then an accepted one at
    2026-01-05 09:25 UTC, then a new factor enrolled 15m later (2026-01-05 09:40 UTC).
    """
    w, f = duration(window), duration(follow, name="follow")
    positive(min_denials, "min_denials")
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome")
    enrolls = (
        subset(events, cols, pl.col("action") == "mfa.enroll", pl.col("outcome") == "success")
        .select("tenant_id", "actor_id", T.alias("_enroll_at"), pl.col("event_id").alias("_eid"))
        .collect()
    )
    if enrolls.height == 0:
        return empty()
    # refused prompts as mfa_push_fatigue counts them (a push sent is never an approval;
    # a failed push verification or an unanswered push is a refusal), for the actors
    # who enrolled a factor
    enrolled = enrolls.lazy().select("tenant_id", "actor_id").unique()
    seq = refused_prompts(events, cols, w, among=enrolled)
    hot = pl.col("_ok") & (pl.col("_peak") >= min_denials)
    member = pl.col("_refused") | pl.col("_unanswered")
    approvals = (
        window_evidence(seq, window=w, hot=hot, member=member)
        .group_by("_episode")
        .agg(
            pl.col("tenant_id", "actor_id").first(),
            T.min().alias("first_seen"),
            pl.col("event_id").alias("_ids"),
            pl.col("_peak").filter(pl.col("_hot")).max().alias("_denials"),
            T.filter(pl.col("_hot")).first().alias("_ok_at"),
        )
    )
    found = (
        approvals.join(enrolls.lazy(), on=["tenant_id", "actor_id"])
        .filter(
            (pl.col("_enroll_at") >= pl.col("_ok_at"))
            & (pl.col("_enroll_at") - pl.col("_ok_at") <= f)
        )
        .sort("_enroll_at")
        .group_by("_episode")
        .agg(
            pl.col("tenant_id", "actor_id", "first_seen", "_ids", "_denials", "_ok_at").first(),
            pl.col("_eid").first(),
            pl.col("_enroll_at").first(),
        )
        .select(
            "tenant_id",
            "actor_id",
            "first_seen",
            pl.col("_enroll_at").alias("last_seen"),
            pl.concat_list("_ids", pl.col("_eid")).alias("event_ids"),
            pl.lit("critical").alias("severity"),
            pl.format(
                "{} denied MFA challenges for {} from {}, then an accepted one at {}, then a new "
                "factor enrolled {} later ({}).",
                pl.col("_denials"),
                q(pl.col("actor_id")),
                fmt_time(pl.col("first_seen")),
                fmt_time(pl.col("_ok_at")),
                fmt_duration(pl.col("_enroll_at") - pl.col("_ok_at")),
                fmt_time(pl.col("_enroll_at")),
            ).alias("summary"),
        )
    )
    return finalize(found, "mfa_fatigue_takeover")


#: Actions that reset how an account proves who it is.
RECOVERY_ACTIONS = ("password.reset", "mfa.reset", "mfa.disable")
#: An account's update whose changes name where its resets go (e-mail, phone, recovery).
_CONTACT_CHANGE: Final = r'(?i)"[a-z_]*(?:email|e_mail|phone|mobile|recovery)[a-z_]*"\s*:'

#: Target types that name an account (a reset of someone else's credentials).
#: Target kinds (see ``kind``) of the key an ``api_key.create`` made.
_KEY_KINDS: Final = ("apikey", "accesskey")


@register_detector(
    "recovery_takeover",
    title="Credentials reset, then a sign-in from a network the account never used",
    severity="high",
)
def recovery_takeover(
    events: Events,
    *,
    follow: str | timedelta = "12h",
    min_logins: int = 5,
    max_evidence: int = 20,
) -> pl.DataFrame:
    """A password or MFA reset of an account (``password.reset``, ``mfa.reset``,
    ``mfa.disable``, a ``password.change`` of the account by someone else, or a
    ``user.update`` whose changes name its e-mail, phone or recovery contact, where resets
    are sent; by the account itself or by someone else for it), then
    within
    ``follow`` a successful sign-in of that account from a network (an IPv4 ``/24``, an
    IPv6 ``/64``) that none of its ``min_logins`` or more earlier successful sign-ins
    came from: the helpdesk social-engineering takeover, where the intruder has the
    account's factors reset and then signs in from their own place.

    High; critical when the sign-in's country is new to the account as well (judged
    where its earlier sign-ins had a country).  A reset the account did itself counts
    only from a network it had not signed in from, followed by a sign-in from a new
    country: the user who resets at home for the first time and signs in from there,
    or resets at their desk and then signs in through a VPN, is not a takeover.  An
    account with fewer earlier sign-ins has no habit to judge by and is left out; a
    reset followed by a sign-in from a network the account used before (the user at
    their desk after the helpdesk call) is quiet.  The finding cites the reset, the
    first sign-in from a new network and the later ones within ``follow`` (up to
    ``max_evidence`` events); a sign-in that follows several resets is reported once,
    with the latest of them.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from auditkit.frame import events_to_frame
    >>> t0 = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    >>> rows = [{"tenant_id": "acme", "occurred_at": t0 + timedelta(days=d),
    ...          "action": "user.login", "actor": {"id": "dana"},
    ...          "source": {"ip": "198.51.100.7", "geo": {"country": "US"}}} for d in range(6)]
    >>> rows += [{"tenant_id": "acme", "occurred_at": t0 + timedelta(days=6),
    ...           "action": "mfa.reset", "actor": {"id": "helpdesk-2"},
    ...           "targets": [{"id": "dana", "type": "user"}]},
    ...          {"tenant_id": "acme", "occurred_at": t0 + timedelta(days=6, minutes=40),
    ...           "action": "user.login", "actor": {"id": "dana"},
    ...           "source": {"ip": "203.0.113.50", "geo": {"country": "RO"}}}]
    >>> f = recovery_takeover(events_to_frame(rows))
    >>> f["severity"][0], f["event_ids"][0].len()
    ('critical', 2)
    >>> print(f["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    mfa.reset of 'dana' by 'helpdesk-2' at 2026-01-11 09:00 UTC, then 40m later a sign-in
    as 'dana' from 203.0.113.50 (RO) at 2026-01-11 09:40 UTC: a network none of its 6
    earlier sign-ins came from, and a country it had never signed in from.
    """
    f = duration(follow, name="follow")
    positive(min_logins, "min_logins")
    positive(max_evidence, "max_evidence")
    keys = ["tenant_id", "_who"]
    account = pl.col("target_type").is_null() | kind(pl.col("target_type")).is_in(ACCOUNT_KINDS)
    resets = (
        subset(
            events,
            (
                "tenant_id",
                "actor_id",
                "occurred_at",
                "event_id",
                "action",
                "outcome",
                "target_id",
                "target_type",
                "source_ip",
                "changes",
            ),
            pl.col("action").is_in(RECOVERY_ACTIONS)
            | (
                (pl.col("action") == "user.update")
                & pl.col("changes").str.contains(_CONTACT_CHANGE).fill_null(False)
            )
            | (pl.col("action") == "password.change"),
            pl.col("outcome") == "success",
            # a password changed by someone else for the account (an admin setting it)
            # is a reset; one's own change is not
            (pl.col("action") != "password.change")
            | (
                pl.col("target_id").is_not_null()
                & account
                & (pl.col("target_id") != pl.col("actor_id"))
            ),
        )
        .select(
            "tenant_id",
            _who=pl.when(pl.col("target_id").is_not_null() & account)
            .then(pl.col("target_id"))
            .otherwise(pl.col("actor_id")),
            _by=pl.col("actor_id"),
            _what=pl.when(pl.col("action") == "user.update")
            .then(pl.lit("change of the recovery e-mail or phone (user.update)"))
            .otherwise(pl.col("action")),
            _reset_at=T,
            _reset_id=pl.col("event_id"),
            _reset_net=network(pl.col("source_ip")),
        )
        .filter(pl.col("_who").is_not_null())
        .collect()
    )
    if resets.height == 0:
        return empty()
    logins = (
        lazy(
            events,
            "tenant_id",
            "actor_id",
            "occurred_at",
            "event_id",
            "action",
            "outcome",
            "source_ip",
            "geo_country",
        )
        .filter((pl.col("action") == LOGIN) & (pl.col("outcome") == "success"))
        .join(
            resets.lazy().select("tenant_id", pl.col("_who").alias("actor_id")).unique(),
            on=["tenant_id", "actor_id"],
        )
        .select(
            "tenant_id",
            pl.col("actor_id").alias("_who"),
            T,
            "event_id",
            "source_ip",
            "geo_country",
            _net=network(pl.col("source_ip")),
        )
        .collect()
    )
    # when each account first used each network and country, and how many sign-ins it
    # had by each of them: as-of joins, not a product of resets and sign-ins (an
    # account reset by admins many times over years has thousands of each)
    logins = logins.sort(*keys, "occurred_at", "event_id").with_columns(
        _k=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over(keys),
        _net_first=T.min().over(*keys, "_net"),
        _country_first=T.min().over(*keys, "geo_country"),
        _any_country=T.filter(pl.col("geo_country").is_not_null()).min().over(keys),
    )
    resets = (
        resets.sort("_reset_at")
        .join_asof(
            logins.select(*keys, pl.col("occurred_at").alias("_reset_at"), "_k"),
            on="_reset_at",
            by=keys,
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,  # sorted by time within each account, as asked
        )
        .with_columns(_n=pl.col("_k").fill_null(0))
        .drop("_k")
        .join(
            logins.select(*keys, "_net", _reset_net_first="_net_first").unique(),
            left_on=[*keys, "_reset_net"],
            right_on=[*keys, "_net"],
            how="left",
        )
        # a reset the account did itself is the intruder's only from a place the account
        # had not used: the user who resets at their desk, then signs in through a VPN
        # they never used, is not a takeover
        .filter(
            (pl.col("_by") != pl.col("_who"))
            | (
                pl.col("_reset_net").is_not_null()
                & (
                    pl.col("_reset_net_first").is_null()
                    | (pl.col("_reset_net_first") >= pl.col("_reset_at"))
                )
            )
        )
    )
    # each sign-in with the latest reset before it
    after = (
        logins.filter(pl.col("_net").is_not_null())
        .join_asof(
            resets.sort("_reset_at").with_columns(_at=pl.col("_reset_at")),
            left_on="occurred_at",
            right_on="_at",
            by=keys,
            strategy="backward",
            allow_exact_matches=False,
            check_sortedness=False,
        )
        .filter(
            pl.col("_reset_at").is_not_null()
            & (T - pl.col("_reset_at") <= f)
            & (pl.col("_n") >= min_logins)
            & (pl.col("_net_first") > pl.col("_reset_at"))  # never used before the reset
        )
    )
    # a new country only where earlier sign-ins said where they came from
    new_country = (
        pl.col("_country").is_not_null()
        & (pl.col("_country_first_at") > pl.col("_reset_at"))
        & (pl.col("_any_country_at") < pl.col("_reset_at"))
    )
    found = (
        after.lazy()
        .sort(T, "event_id")
        .group_by("_reset_id")
        .agg(
            pl.col("tenant_id", "_who", "_by", "_what", "_reset_at", "_n").first(),
            pl.col("source_ip").first().alias("_ip"),
            pl.col("geo_country").first().alias("_country"),
            pl.col("_country_first").first().alias("_country_first_at"),
            pl.col("_any_country").first().alias("_any_country_at"),
            T.first().alias("_login_at"),
            T.head(max(max_evidence - 1, 1)).last().alias("last_seen"),
            pl.col("event_id").head(max(max_evidence - 1, 1)).alias("_ids"),
        )
        # a reset the account did itself counts from a new country only: the user who
        # resets at home for the first time and signs in from there stays in theirs
        .filter((pl.col("_by") != pl.col("_who")) | new_country)
        .select(
            "tenant_id",
            pl.col("_who").alias("actor_id"),
            pl.col("_reset_at").alias("first_seen"),
            "last_seen",
            pl.concat_list(pl.col("_reset_id"), pl.col("_ids")).alias("event_ids"),
            pl.when(new_country)
            .then(pl.lit("critical"))
            .otherwise(pl.lit("high"))
            .alias("severity"),
            pl.format(
                "{} of {} by {} at {}, then {} later a sign-in as {} from {} ({}) at {}: a network "
                "none of its {} earlier sign-ins came from{}.",
                pl.col("_what"),
                q(pl.col("_who")),
                pl.when(pl.col("_by") == pl.col("_who"))
                .then(pl.lit("itself"))
                .otherwise(q(pl.col("_by"))),
                fmt_time(pl.col("_reset_at")),
                fmt_duration(pl.col("_login_at") - pl.col("_reset_at")),
                q(pl.col("_who")),
                pl.col("_ip"),
                pl.col("_country").fill_null("country unknown"),
                fmt_time(pl.col("_login_at")),
                pl.col("_n"),
                pl.when(new_country)
                .then(pl.lit(", and a country it had never signed in from"))
                .otherwise(pl.lit("")),
            ).alias("summary"),
        )
    )
    return finalize(found, "recovery_takeover")
