"""Session integrity: one session used from two places, or elsewhere by another client,
and a session used after it ended.

They read ``session_id`` (per tenant) on every action, not only logins, with
``geo_country``, ``geo_lat``/``geo_lon``, ``source_ip`` and ``user_agent``; and the
``user.logout`` / ``session.expire`` events that end a session.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    T,
    client_agent,
    duration,
    empty,
    finalize,
    fmt_duration,
    fmt_float,
    fmt_time,
    lazy,
    network,
    network_firsts,
    positive,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["session_after_end", "session_hijack"]

_COLS = (
    *("tenant_id", "session_id", "actor_id", "occurred_at", "event_id", "action", "outcome"),
    *("source_ip", "user_agent", "geo_country", "geo_lat", "geo_lon"),
)
_EARTH_RADIUS_KM = 6371.0088
#: A session used from a stranger's network and from its first network within this
#: much of each other is held by two parties at once (:func:`session_hijack`).
_TOGETHER: Final = timedelta(minutes=30)


def _km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    p1, p2 = lat1.radians(), lat2.radians()
    dphi, dlmb = (lat2 - lat1).radians(), (lon2 - lon1).radians()
    a = (dphi / 2).sin() ** 2 + p1.cos() * p2.cos() * (dlmb / 2).sin() ** 2
    return 2 * _EARTH_RADIUS_KM * a.sqrt().clip(upper_bound=1.0).arcsin()


@register_detector("session_hijack", title="Session used from two places", severity="high")
def session_hijack(
    events: Events,
    *,
    max_speed_kmh: float = 1000.0,
    max_evidence: int = 200,
) -> pl.DataFrame:
    """One ``session_id`` used from two countries or networks within its life, or from
    elsewhere by another client: a stolen session token replayed elsewhere.

    The session's first event sets its context (country, /24 network of the IP, user
    agent); every later event of the session in another context is evidence.  The
    session's *home* is its first network, and its home clients every client it used
    from there.  Another client from another network (or from an address not known),
    one the session never used at home, is high (a cookie replayed by another
    client); another country is high when the move is faster than ``max_speed_kmh``
    between the last event in the old place and the first in the new (medium when a
    traveller could have made it); another network with a home client (office Wi-Fi
    to mobile) is medium; another client from elsewhere *and* an impossible move is
    critical.  Another client from the home network itself (a CI job running the AWS
    CLI and then Terraform, the console and the CLI of one machine) is low.

    A long-term key has no session: calls that name one (CloudTrail's ``AKIA...``
    access key, GitHub's ``hashed_token``) and no session are read per key, and the key
    used from a network its actor never made its own and from one of its own in turn
    (two stretches or more within 30 minutes of its own calls, on one day) is held by
    two parties: high, medium for an actor that often used two networks within an hour.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
    ...      "actor": {"id": "bo"}, "session_id": "s1", "source": {"ip": "198.51.100.4",
    ...      "user_agent": "Firefox/133", "geo": {"country": "DE", "lat": 52.5, "lon": 13.4}}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:20:00Z",
    ...      "action": "document.export", "actor": {"id": "bo"}, "session_id": "s1",
    ...      "source": {"ip": "203.0.113.7", "user_agent": "curl/8.5",
    ...      "geo": {"country": "NG", "lat": 6.5, "lon": 3.4}}}]
    >>> found = session_hijack(events_to_frame(rows))
    >>> found["severity"][0]
    'critical'
    >>> print(found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    Session 's1' of 'bo' began at 2026-01-05 09:00 UTC from DE, network 198.51.100.0/24,
    agent 'Firefox/133', then was used at 2026-01-05 09:20 UTC from NG, network
    203.0.113.0/24, agent 'curl/8.5' (1 event(s): document.export; another user agent,
    another country 5196 km away in 20m).
    """
    positive(max_speed_kmh, "max_speed_kmh")
    shared = _shared_keys(events, max_evidence)
    alone = empty() if shared is None else finalize(shared, "session_hijack")
    keys = ["tenant_id", "session_id"]
    # sessions seen from more than one IP, country or agent: the few worth a closer look
    wide = (
        lazy(events, *keys, "source_ip", "geo_country", "user_agent")
        .filter(pl.col("session_id").is_not_null())
        .group_by(keys)
        .agg(pl.col("source_ip", "geo_country", "user_agent").drop_nulls().n_unique())
        .filter(
            (pl.col("source_ip") > 1) | (pl.col("geo_country") > 1) | (pl.col("user_agent") > 1)
        )
        .select(keys)
        .collect()
    )
    if wide.height == 0:
        return alone
    lf = (
        subset(
            events,
            _COLS,
            pl.col("session_id").is_in(wide.get_column("session_id").unique().implode()),
        )
        .join(wide.lazy(), on=keys, how="semi")
        # the client, not the call: the AWS CLI names each command in its agent, and a
        # service acting for the session (CloudFormation) is no client of its own
        .with_columns(_net=network(pl.col("source_ip")), _client=client_agent(pl.col("user_agent")))
        .sort([*keys, "occurred_at"], maintain_order=True)
    )
    # context of the session's first event with a value, per dimension
    dims = ("geo_country", "_net", "_client")
    first = {c: pl.col(c).drop_nulls().first().over(keys) for c in dims}
    lf = lf.with_columns(
        _c0=first["geo_country"], _n0=first["_net"], _a0=first["_client"]
    ).with_columns(
        _dc=pl.col("geo_country").is_not_null() & (pl.col("geo_country") != pl.col("_c0")),
        _dn=pl.col("_net").is_not_null() & (pl.col("_net") != pl.col("_n0")),
        _da=pl.col("_client").is_not_null() & (pl.col("_client") != pl.col("_a0")),
        # on the session's first network: where it began, whatever the client
        _home=pl.col("_net").is_not_null() & (pl.col("_net") == pl.col("_n0")),
    )
    moved = lf.filter((pl.col("_dc") | pl.col("_dn") | pl.col("_da")).any().over(keys)).collect()
    if moved.height == 0:
        return alone
    # the clients the session used from its home network (and its first client): a
    # second tool of the same machine (the AWS CLI then Terraform in one CI job) is one
    # of them, wherever it is used later
    home_clients = (
        moved.lazy()
        .filter(pl.col("_home") & pl.col("_client").is_not_null())
        .select(*keys, pl.col("_client"), _known=pl.lit(True))
        .unique()
    )
    moved = (
        moved.lazy()
        .join(home_clients, on=[*keys, "_client"], how="left", maintain_order="left")
        .with_columns(pl.col("_known").fill_null(False))
        .sort([*keys, "occurred_at"], maintain_order=True)
        .collect()
    )
    # elsewhere: another country or network, or another client from an address not
    # known to be home; a stranger: a client never used at home, from elsewhere
    away = pl.col("_dc") | pl.col("_dn") | (pl.col("_da") & ~pl.col("_home"))

    # used from a network the actor never made its own, and from its first network
    # again within ``_TOGETHER`` of that: two parties holding the session at once (a
    # cookie copied to a VPS of the victim's own country, with the victim's browser
    # string); a VPN that drops and comes back alternates between networks of its own
    def back(elsewhere: pl.Expr) -> pl.Expr:
        last = pl.when(elsewhere).then(T).forward_fill().over(keys)
        return pl.col("_home") & ~away & ((T - last) <= _TOGETHER)

    actor_keys = ["tenant_id", "actor_id"]
    both = moved.filter(back(away & pl.col("_dn")).any().over(keys)).select(actor_keys).unique()
    if both.height:  # seldom: when the actor made each network its own
        owned = network_firsts(events, actor_keys, both.lazy()).select(
            *actor_keys, "_net", "_net_first"
        )
        moved = moved.join(owned.collect(), on=[*actor_keys, "_net"], how="left",
                           maintain_order="left")  # fmt: skip
    else:
        moved = moved.with_columns(_net_first=pl.lit(None, dtype=pl.Datetime("us", "UTC")))
    newnet = pl.col("_net").is_not_null() & (
        pl.col("_net_first").is_null() | (pl.col("_net_first") > T)
    )
    together = back(away & pl.col("_dn") & newnet)
    stranger = away & pl.col("_da") & ~pl.col("_known")
    at_home = pl.col("_da") & ~away  # another client on the home network only
    odd = away | pl.col("_da")
    # the move: last event before the first one elsewhere (before the first other
    # client, when the session never left home), and that one
    anchor = pl.when(away.any().over(keys)).then(away).otherwise(odd)
    first_odd_at = T.filter(anchor).min().over(keys)
    before = ~anchor & (first_odd_at >= T)
    # what the summary shows: the first event of the strongest kind of evidence
    tier = (
        pl.when(stranger)
        .then(pl.lit(3))
        .when(away)
        .then(pl.lit(2))
        .when(at_home)
        .then(pl.lit(1))
        .otherwise(pl.lit(0))
    )
    shown = tier == tier.max().over(keys)
    found = (
        moved.lazy()
        .with_columns(_first_odd_at=first_odd_at, _shown=shown & odd, _together=together)
        .group_by(keys)
        .agg(
            pl.col("actor_id").first(),
            T.min().alias("_start"),
            pl.col("event_id").first().alias("_start_id"),
            pl.col("_c0", "_n0", "_a0").first(),
            pl.col("event_id").filter(before).last().alias("_before_id"),
            pl.col("geo_lat").filter(before & pl.col("geo_lat").is_not_null()).last().alias("_la"),
            pl.col("geo_lon").filter(before & pl.col("geo_lon").is_not_null()).last().alias("_lo"),
            T.filter(before).last().alias("_before_at"),
            pl.col("event_id").filter(odd).head(max_evidence).alias("_odd_ids"),
            pl.col("event_id").filter(pl.col("_together")).first().alias("_back_id"),
            pl.col("action").filter(odd).unique(maintain_order=True).alias("_what"),
            pl.len().alias("_n"),
            odd.sum().alias("_n_odd"),
            T.filter(pl.col("_shown")).min().alias("_odd_at"),
            T.max().alias("last_seen"),
            pl.col("geo_country").filter(pl.col("_dc")).first().alias("_c1"),
            pl.col("geo_lat").filter(pl.col("_dc")).first().alias("_la1"),
            pl.col("geo_lon").filter(pl.col("_dc")).first().alias("_lo1"),
            T.filter(pl.col("_dc")).first().alias("_c1_at"),
            pl.col("_net").filter(pl.col("_shown")).first().alias("_n1"),
            pl.col("_client").filter(pl.col("_shown")).first().alias("_a1"),
            pl.col("_dc").any().alias("_country"),
            stranger.any().alias("_agent"),
            (stranger & pl.col("_net").is_null() & ~pl.col("_dc")).any().alias("_unplaced"),
            at_home.any().alias("_home_agent"),
            pl.col("_dn").any().alias("_network"),
            (pl.col("_dn") & pl.col("_da")).any().alias("_roamed"),
            pl.col("_together").any().alias("_together"),
            T.filter(pl.col("_together")).first().alias("_back_at"),
        )
        .with_columns(
            _kmv=_km(pl.col("_la"), pl.col("_lo"), pl.col("_la1"), pl.col("_lo1")),
            _hours=(pl.col("_c1_at") - pl.col("_before_at")).dt.total_microseconds() / 3.6e9,
        )
        .with_columns(
            _fast=pl.col("_country")
            & (
                pl.col("_kmv").is_null()  # unknown coordinates: a country change is a jump
                | (pl.col("_kmv") / pl.col("_hours").clip(lower_bound=1e-6) > max_speed_kmh)
            )
        )
        .select(
            "tenant_id",
            "actor_id",
            pl.col("_start").alias("first_seen"),
            "last_seen",
            pl.concat_list(
                pl.col("_start_id"), pl.col("_before_id"), pl.col("_odd_ids"), pl.col("_back_id")
            )
            .list.drop_nulls()
            .list.unique(maintain_order=True)
            .alias("event_ids"),
            pl.when(pl.col("_agent") & pl.col("_fast"))
            .then(pl.lit("critical"))
            .when(pl.col("_agent") | pl.col("_fast") | pl.col("_together"))
            .then(pl.lit("high"))
            .when(pl.col("_network") | pl.col("_country"))
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
            .alias("severity"),
            pl.format(
                "Session {} of {} began at {} from {}, network {}, agent {}, then was used at {} "
                "from {}, network {}, agent {} ({} event(s): {}; {}).",
                q(pl.col("session_id")),
                q(pl.col("actor_id")),
                fmt_time(pl.col("_start")),
                pl.col("_c0").fill_null("unknown"),
                pl.col("_n0").fill_null("unknown"),
                q(pl.col("_a0")),
                fmt_time(pl.col("_odd_at")),
                pl.coalesce("_c1", "_c0").fill_null("unknown"),
                pl.coalesce("_n1", "_n0").fill_null("unknown"),
                q(pl.coalesce("_a1", "_a0")),
                pl.col("_n_odd"),
                pl.col("_what").list.head(5).list.join(", "),
                pl.concat_str(
                    pl.when(pl.col("_agent")).then(
                        pl.when(pl.col("_unplaced") & ~pl.col("_network"))
                        .then(pl.lit("another user agent from an address not known"))
                        .otherwise(pl.lit("another user agent"))
                    ),
                    pl.when(pl.col("_country")).then(
                        pl.format(
                            "another country{}",
                            pl.when(pl.col("_kmv").is_not_null())
                            .then(
                                pl.format(
                                    " {} km away in {}",
                                    fmt_float(pl.col("_kmv")),
                                    fmt_duration(pl.col("_c1_at") - pl.col("_before_at")),
                                )
                            )
                            .otherwise(pl.lit("")),
                        )
                    ),
                    pl.when(pl.col("_network") & ~pl.col("_country")).then(
                        pl.when(pl.col("_agent"))
                        .then(pl.lit("another network"))
                        .when(pl.col("_roamed"))
                        .then(pl.lit("another network, with a client it used at home"))
                        .otherwise(pl.lit("another network only"))
                    ),
                    pl.when(pl.col("_home_agent") & ~pl.col("_agent")).then(
                        pl.lit("another user agent from the session's own network")
                    ),
                    pl.when(pl.col("_together")).then(
                        pl.format(
                            "a network the actor never made its own, while the session was "
                            "still used from its first network (again at {})",
                            fmt_time(pl.col("_back_at")),
                        )
                    ),
                    separator=", ",
                    ignore_nulls=True,
                ),
            ).alias("summary"),
        )
    )
    if shared is not None:
        found = pl.concat([found, shared.select(found.collect_schema().names())])
    return finalize(found, "session_hijack")


@register_detector(
    "session_after_end", title="Session used after logout or expiry", severity="high"
)
def session_after_end(
    events: Events,
    *,
    grace: str | timedelta = "2m",
    max_evidence: int = 200,
) -> pl.DataFrame:
    """Events of a ``session_id`` after the session ended (``user.logout`` or
    ``session.expire``): a token that should be dead is being replayed.

    Requests already in flight when the session ended are allowed for ``grace``.  A
    successful ``user.login`` in the same session after the end starts it again
    (products that reuse the id on a new login): its events are not reported.
    Severity high.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": "acme", "occurred_at": t, "action": a, "actor": {"id": "cy"},
    ...          "session_id": "s9"} for t, a in [("2026-01-05T09:00:00Z", "user.login"),
    ...          ("2026-01-05T09:30:00Z", "user.logout"),
    ...          ("2026-01-05T11:00:00Z", "document.export")]]
    >>> print(session_after_end(events_to_frame(rows))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    Session 's9' of 'cy' ended with user.logout at 2026-01-05 09:30 UTC but was used again 1h30m
    later: 1 event(s) (document.export) until 2026-01-05 11:00 UTC.
    """
    g = duration(grace, name="grace")
    keys = ["tenant_id", "session_id"]
    ends = ["user.logout", "session.expire"]
    first_end = (
        subset(
            events,
            ("tenant_id", "session_id", "action", "outcome", "occurred_at"),
            pl.col("action").is_in(ends),
            pl.col("outcome") == "success",
        )
        .filter(pl.col("session_id").is_not_null())
        .group_by(keys)
        .agg(_first_end=T.min())
        .collect()
    )
    if first_end.height == 0:
        return empty()
    # sessions with an event after their first end: the few worth a closer look
    ended = (
        lazy(events, *keys, "occurred_at")
        .filter(pl.col("session_id").is_in(first_end.get_column("session_id").unique().implode()))
        .join(first_end.lazy(), on=keys)
        .filter(T - pl.col("_first_end") > g)
        .select(keys)
        .unique()
        .collect()
    )
    if ended.height == 0:
        return empty()
    lf = (
        subset(
            events,
            _COLS,
            pl.col("session_id").is_in(ended.get_column("session_id").unique().implode()),
        )
        .join(ended.lazy(), on=keys, how="semi")
        .sort([*keys, "occurred_at"])
        .with_columns(
            _end=pl.col("action").is_in(ends) & (pl.col("outcome") == "success"),
            _login=(pl.col("action") == "user.login") & (pl.col("outcome") == "success"),
        )
        # the last end or login before each event, per session
        .with_columns(
            _end_at=pl.when("_end").then(T).forward_fill().over(keys),
            _end_id=pl.when("_end").then(pl.col("event_id")).forward_fill().over(keys),
            _end_action=pl.when("_end").then(pl.col("action")).forward_fill().over(keys),
            _login_at=pl.when("_login").then(T).forward_fill().over(keys),
        )
        .filter(
            ~pl.col("_end")
            & pl.col("_end_at").is_not_null()
            & (T - pl.col("_end_at") > g)
            & (pl.col("_login_at").is_null() | (pl.col("_login_at") < pl.col("_end_at")))
        )
    )
    found = (
        lf.group_by(*keys, "_end_id")
        .agg(
            pl.col("actor_id").first(),
            pl.col("_end_at", "_end_action").first(),
            pl.col("event_id").head(max_evidence).alias("_ids"),
            pl.len().alias("_n"),
            T.min().alias("_again"),
            T.max().alias("last_seen"),
            pl.col("action").unique(maintain_order=True).alias("_what"),
            pl.col("source_ip").drop_nulls().unique(maintain_order=True).alias("_ips"),
        )
        .select(
            "tenant_id",
            "actor_id",
            pl.col("_end_at").alias("first_seen"),
            "last_seen",
            pl.concat_list(pl.col("_end_id"), pl.col("_ids")).alias("event_ids"),
            pl.lit("high").alias("severity"),
            pl.concat_str(
                pl.format(
                    "Session {} of {} ended with {} at {} but was used again {} later: {} "
                    "event(s) ({}) until {}",
                    q(pl.col("session_id")),
                    q(pl.col("actor_id")),
                    pl.col("_end_action"),
                    fmt_time(pl.col("_end_at")),
                    fmt_duration(pl.col("_again") - pl.col("_end_at")),
                    pl.col("_n"),
                    pl.col("_what").list.head(5).list.join(", "),
                    fmt_time(pl.col("last_seen")),
                ),
                pl.when(pl.col("_ips").list.len() > 0).then(
                    pl.format(" from {}", pl.col("_ips").list.head(3).list.join(", "))
                ),
                pl.lit("."),
                ignore_nulls=True,
            ).alias("summary"),
        )
    )
    return finalize(found, "session_after_end")


#: An actor that used two networks within one hour on this many earlier days roams (a
#: runner pool, a laptop that switches networks): its key shared is not judged high.
_ROAMING_DAYS: Final = 2
#: the long-term key of a call, where the producer keeps it (CloudTrail's
#: ``userIdentity.accessKeyId``, temporary keys being the event's ``session_id``; a
#: ``metadata.access_key_id``; GitHub's ``hashed_token`` of a personal access token)
_KEY_PATHS: Final = ("$.original.userIdentity.accessKeyId", "$.access_key_id", "$.hashed_token")


def _shared_keys(events: Events, max_evidence: int) -> pl.LazyFrame | None:
    """Calls with no session, of one actor and one key, from a network the actor never
    made its own and from one of its own in turn: two parties holding a long-term key
    (see :func:`session_hijack`)."""
    actor_keys = ["tenant_id", "actor_id"]
    hour = T.dt.truncate("1h").alias("_hour")
    base = lazy(events, *actor_keys, "occurred_at", "source_ip", "session_id").filter(
        pl.col("session_id").is_null()
        & pl.col("source_ip").is_not_null()
        & pl.col("actor_id").is_not_null()
    )
    # cheap first: actors' hours with two or more addresses, then networks
    days = (
        base.group_by(*actor_keys, hour)
        .agg(pl.col("source_ip").n_unique().alias("_ips"))
        .filter(pl.col("_ips") > 1)
        .select(*actor_keys, _day=pl.col("_hour").dt.date())
        .unique()
        .collect()
    )
    if days.height == 0:
        return None
    # the whole day of each: a back and forth across the hour is one
    rows = (
        subset(
            events,
            (*_COLS, "metadata"),
            pl.col("session_id").is_null()
            & pl.col("actor_id").is_in(days.get_column("actor_id").unique().implode()),
        )
        .with_columns(hour, _day=T.dt.date())
        .join(days.lazy(), on=[*actor_keys, "_day"], how="semi")
        .with_columns(_net=network(pl.col("source_ip")))
        .filter(
            (pl.col("_net").n_unique().over(*actor_keys, "_hour") > 1)
            .any()
            .over(*actor_keys, "_day")
        )
        .collect()
    )
    # the days on which each actor used two networks within an hour
    multi = rows.select(*actor_keys, "_day").unique()
    meta = pl.col("metadata").str.json_path_match
    # only a key's calls: a person's phone and laptop interleave all day
    rows = rows.with_columns(_key=pl.coalesce(*(meta(p) for p in _KEY_PATHS))).filter(
        pl.col("_key").is_not_null()
    )
    if rows.height == 0:
        return None
    owned = network_firsts(events, actor_keys, rows.lazy().select(actor_keys).unique()).select(
        *actor_keys, "_net", "_net_first"
    )
    keyed_by = ["tenant_id", "actor_id", "_key"]
    lf = (
        rows.lazy()
        .join(owned, on=[*actor_keys, "_net"], how="left")
        .with_columns(
            _own=pl.col("_net_first").is_not_null() & (pl.col("_net_first") <= T),
            # another range: a runner pool rotating in one cloud range is one party
            _range=pl.col("source_ip").str.extract(r"^(\d{1,3}\.\d{1,3})\.", 1),
        )
        .sort([*keyed_by, "occurred_at"], maintain_order=True)
        .with_columns(
            _own_range=pl.when(pl.col("_own")).then(pl.col("_range")).forward_fill().over(keyed_by)
        )
        .with_columns(
            _label=pl.when(pl.col("_net").is_null())
            .then(None)
            .when(pl.col("_own"))
            .then(pl.lit(1))
            .when(pl.col("_range").is_null() | (pl.col("_range") != pl.col("_own_range")))
            .then(pl.lit(2))
        )
        .filter(pl.col("_label").is_not_null())
        .with_columns(
            _start=(pl.col("_label") == 2)
            & (pl.col("_label").shift(1).over(keyed_by) == 1)
            & ((T - T.shift(1).over(keyed_by)) <= _TOGETHER),
            _end=(pl.col("_label") == 2)
            & (pl.col("_label").shift(-1).over(keyed_by) == 1)
            & ((T.shift(-1).over(keyed_by) - T) <= _TOGETHER),
        )
        # each day: at least two stretches from the stranger's network begun while the
        # actor worked from its own, and one the actor came back from
        .filter(
            (pl.col("_start").sum().over(*keyed_by, "_day") >= 2)
            & pl.col("_end").any().over(*keyed_by, "_day")
        )
    )
    stranger = pl.col("_label") == 2
    found = (
        lf.group_by(*keyed_by, "_day")
        .agg(
            T.filter(stranger).min().alias("first_seen"),
            T.filter(stranger).max().alias("last_seen"),
            pl.col("event_id").filter(pl.col("_label") == 1).first().alias("_own_id"),
            pl.col("event_id").filter(stranger).head(max_evidence).alias("_ids"),
            stranger.sum().alias("_n"),
            (~stranger).sum().alias("_n_own"),
            pl.col("_start").sum().alias("_turns"),
            pl.col("_net").filter(stranger).unique(maintain_order=True).alias("_nets"),
            pl.col("_net").filter(~stranger).unique(maintain_order=True).alias("_homes"),
            pl.col("action").filter(stranger).unique(maintain_order=True).alias("_what"),
        )
        .join(multi.lazy().rename({"_day": "_earlier"}), on=actor_keys, how="left")
        .group_by(*keyed_by, "_day")
        .agg(
            pl.all().exclude("_earlier").first(),
            (pl.col("_earlier") < pl.col("_day").first()).sum().alias("_roamed"),
        )
        .select(
            "tenant_id",
            "actor_id",
            "first_seen",
            "last_seen",
            pl.concat_list(pl.col("_own_id"), pl.col("_ids")).list.drop_nulls().alias("event_ids"),
            pl.when(pl.col("_roamed") < _ROAMING_DAYS)
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.format(
                "Key {} of {} was used from {} (a network it never made its own) and from its own "
                "{} in turn between {} and {}: {} call(s) from there in {} stretch(es) while "
                "the actor worked on ({} call(s) from its own; {}): two parties holding one "
                "key{}.",
                q(pl.col("_key")),
                q(pl.col("actor_id")),
                pl.col("_nets").list.join(", "),
                pl.col("_homes").list.join(", "),
                fmt_time(pl.col("first_seen")),
                fmt_time(pl.col("last_seen")),
                pl.col("_n"),
                pl.col("_turns"),
                pl.col("_n_own"),
                pl.col("_what").list.head(5).list.join(", "),
                pl.when(pl.col("_roamed") >= _ROAMING_DAYS)
                .then(
                    pl.format(
                        " (though it used two networks within an hour on {} earlier day(s))",
                        pl.col("_roamed"),
                    )
                )
                .otherwise(pl.lit("")),
            ).alias("summary"),
        )
    )
    return found
