"""Authentication detectors: brute force, slow credential attacks, password spraying,
impossible travel, new country, MFA disabled and MFA push fatigue.

They read ``user.login`` (a failed login is outcome ``failure``), ``mfa.challenge``
(outcome ``denied``, ``failure`` or ``success``; the actor is the user being challenged)
and ``mfa_challenge.send`` (a prompt sent, never an approval),
``mfa.disable`` / ``mfa.reset`` and ``password.reset`` / ``password.change``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from auditkit.analytics.detectors._countries import SLACK_KM, country_points
from auditkit.analytics.detectors._mfa import refused_prompts
from auditkit.analytics.detectors.common import (
    CANDIDATE_SCHEMA,
    LOGIN,
    Events,
    T,
    bursts,
    duration,
    episodes,
    finalize,
    finding_span,
    first_few,
    fmt_duration,
    fmt_float,
    fmt_time,
    human,
    key_changed,
    keyed,
    lazy,
    login_name,
    network,
    network_firsts,
    next_in_key,
    no_candidates,
    positive,
    q,
    subset,
    window_evidence,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = [
    "brute_force",
    "brute_force_success",
    "impossible_travel",
    "login_failures",
    "mfa_disabled",
    "mfa_push_fatigue",
    "new_country",
    "password_spraying",
    "slow_credential_attack",
]

_EARTH_RADIUS_KM = 6371.0088
_COLUMNS = (
    "tenant_id",
    "actor_id",
    "source_ip",
    "user_agent",
    "occurred_at",
    "event_id",
    "action",
    "outcome",
)


def _logins(
    events: Events, columns: Sequence[str] = _COLUMNS, *, resets: bool = False
) -> pl.LazyFrame:
    """Logins (and with ``resets`` password resets and changes) as the failure detectors
    read them: ``actor_id`` is the account the login name means (:func:`login_name`:
    ``' Alice@X.com'`` and a Cyrillic look-alike are ``'alice@x.com'``), and a login
    refused by policy (outcome ``denied``: a sign-on rule, a blocked suspicious login)
    is a failed attempt like a wrong password."""
    action = pl.col("action")
    where = (action == LOGIN) | action.str.starts_with("password.") if resets else action == LOGIN
    refused = (action == LOGIN) & (pl.col("outcome") == "denied")
    rows = subset(events, columns, where).with_columns(
        pl.when(refused).then(pl.lit("failure")).otherwise(pl.col("outcome")).alias("outcome")
    )
    # folded once per distinct name (logins are many, their names few)
    names = rows.select(pl.col("actor_id").unique()).with_columns(
        _name=login_name(pl.col("actor_id"))
    )
    return (
        rows.join(names, on="actor_id", how="left", nulls_equal=True, maintain_order="left")
        .with_columns(actor_id=pl.col("_name"))
        .drop("_name")
    )


def _failed_logins(events: Events) -> pl.DataFrame:
    return _logins(events).filter(pl.col("outcome") == "failure").collect()


def _burst_agg(*extra: pl.Expr) -> list[pl.Expr]:
    return [
        *finding_span("tenant_id"),
        pl.len().alias("n"),
        pl.col("_peak").max().alias("peak"),
        *extra,
    ]


@register_detector("brute_force", title="Brute-force login attempts", severity="medium")
def brute_force(
    events: Events,
    *,
    threshold: int = 10,
    window: str | timedelta = "15m",
    resolve: str | timedelta = "30m",
) -> pl.DataFrame:
    """Many failed logins for one actor, or from one source IP against several actors,
    within a sliding window.

    From one IP, failures resolved within ``resolve`` (the same actor's success from the
    same IP, or their password reset) do not count: an office behind one address, where
    many people mistype on a Monday morning, is not guessing.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    threshold
        Failed ``user.login`` events in one window that make a burst.
    window
        Sliding window length.
    resolve
        How soon a success or reset resolves a failure (for the per-IP bursts).

    Returns
    -------
    pl.DataFrame
        One finding per burst per actor, plus one per burst per source IP when that
        IP failed against two or more actors (the per-actor bursts cover the rest).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z", "action": "user.login",
    ...      "outcome": "failure", "actor": {"id": "alice"}, "source": {"ip": "203.0.113.9"}}
    ...     for i in range(3)])
    >>> print(brute_force(df, threshold=3)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    3 failed logins for 'alice' from 1 source IP(s) between 2026-01-05 09:00 UTC and 2026-01-05
    09:02 UTC (at most 3 within 15m).
    """
    w = duration(window)
    positive(threshold, "threshold")
    fails = _failed_logins(events)
    # resolution (a look at every login) only for the IPs that burst against two or more
    # actors even counting every failure: usually none
    ip_fails = fails.filter(pl.col("source_ip").is_not_null())
    bursting = (
        bursts(ip_fails.lazy(), ["tenant_id", "source_ip"], window=w, threshold=threshold)
        .group_by("_episode")
        .agg(pl.col("source_ip").first(), pl.col("actor_id").n_unique().alias("actors"))
        .filter(pl.col("actors") >= 2)
        .collect()
        .get_column("source_ip")
        .unique()
    )
    if bursting.len() == 0:
        ip_fails = ip_fails.clear()
    else:
        resolved = login_failures(events, resolve=resolve, sources=bursting)
        ip_fails = ip_fails.join(
            resolved.filter(~pl.col("_resolved")).select("event_id"), on="event_id", how="semi"
        )
    tail = pl.format(
        "between {} and {} (at most {} within {}).",
        fmt_time(pl.col("first_seen")),
        fmt_time(pl.col("last_seen")),
        pl.col("peak"),
        pl.lit(human(w)),
    )
    # one pass over both groupings: each failure once per actor and once per source IP
    both = pl.concat(
        [
            fails.lazy().with_columns(_by_ip=pl.lit(False), _key=pl.col("actor_id")),
            ip_fails.lazy().with_columns(_by_ip=pl.lit(True), _key=pl.col("source_ip")),
        ]
    ).with_columns(_key=pl.concat_str(pl.col("_by_ip").cast(pl.String), "_key", separator=":"))
    found = (
        bursts(both, ["tenant_id", "_key"], window=w, threshold=threshold)
        .group_by("_episode")
        .agg(
            *_burst_agg(
                pl.col("_by_ip").first(),
                pl.col("actor_id").first(),
                pl.col("source_ip").first(),
                pl.col("source_ip").n_unique().alias("ips"),
                pl.col("actor_id").n_unique().alias("actors"),
            )
        )
        # a burst from one IP against one actor is already that actor's finding
        .filter(~pl.col("_by_ip") | (pl.col("actors") >= 2))
        .select(
            "tenant_id",
            pl.when(pl.col("_by_ip"))
            .then(pl.lit(None, dtype=pl.String))
            .otherwise("actor_id")
            .alias("actor_id"),
            "first_seen",
            "last_seen",
            "event_ids",
            pl.when(pl.col("_by_ip"))
            .then(
                pl.format(
                    "{} failed logins from source IP {} against {} actors {}",
                    pl.col("n"),
                    pl.col("source_ip"),
                    pl.col("actors"),
                    tail,
                )
            )
            .otherwise(
                pl.format(
                    "{} failed logins for {} from {} source IP(s) {}",
                    pl.col("n"),
                    q(pl.col("actor_id")),
                    pl.col("ips"),
                    tail,
                )
            )
            .alias("summary"),
        )
    )
    return finalize(found.with_columns(severity=pl.lit("medium")), "brute_force")


@register_detector(
    "brute_force_success", title="Failed logins followed by a success", severity="high"
)
def brute_force_success(
    events: Events,
    *,
    min_failures: int = 5,
    window: str | timedelta = "30m",
    reset_clears: bool = True,
) -> pl.DataFrame:
    """A successful login for an actor after many failed ones: a guessed or stolen password.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    min_failures
        Failed logins for the actor within ``window`` before the success.
    window
        How far back from the success the failures are counted.
    reset_clears
        Failures followed by a password reset or change of the actor before their
        next successful login do not count (a user who forgot their password).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...          "action": "user.login", "outcome": "failure", "actor": {"id": "bob"}}
    ...         for i in range(5)]
    >>> rows.append({"tenant_id": "acme", "occurred_at": "2026-01-05T09:06:00Z",
    ...              "action": "user.login", "actor": {"id": "bob"}})
    >>> brute_force_success(events_to_frame(rows))["event_ids"][0].len()
    6
    """
    w = duration(window)
    positive(min_failures, "min_failures")
    action, outcome = pl.col("action"), pl.col("outcome")
    resets = action.is_in(["password.reset", "password.change"]) & (outcome == "success")
    seq = (
        _logins(events, resets=True)
        .filter((action == LOGIN) | resets)
        .with_columns(
            _fail=(action == LOGIN) & (outcome == "failure"),
            _ok=(action == LOGIN) & (outcome == "success"),
            _reset=resets,
        )
        .pipe(
            keyed,
            ["tenant_id", "actor_id"],
            "_ok",
            keep=pl.col("_fail").sum().over("_k") >= min_failures,
        )
    )
    if reset_clears:
        # a failure followed by a password reset before the next successful login is a
        # forgotten password, not guessing: it does not count
        next_reset = next_in_key(pl.col("_reset"))
        next_ok = next_in_key(pl.col("_ok"))
        cleared = (
            pl.col("_fail")
            & next_reset.is_not_null()
            & (next_ok.is_null() | (next_reset <= next_ok))
        )
        seq = seq.filter(~cleared)
    seq = seq.with_columns(
        _peak=pl.col("_fail").cast(pl.UInt32).rolling_sum_by("occurred_at", w).over("_k"),
    )
    hot = pl.col("_ok") & (pl.col("_peak") >= min_failures)
    found = (
        window_evidence(seq, window=w, hot=hot, member=pl.col("_fail"))
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            pl.col("_fail").sum().alias("fails"),
            pl.col("source_ip").filter(pl.col("_hot")).first().alias("ip"),
            T.filter(pl.col("_hot")).first().alias("ok_at"),
        )
        .with_columns(
            severity=pl.lit("high"),
            summary=pl.format(
                "{} failed logins for {} were followed by a successful login from {} at {}.",
                pl.col("fails"),
                q(pl.col("actor_id")),
                q(pl.col("ip")),
                fmt_time(pl.col("ok_at")),
            ),
        )
    )
    return finalize(found, "brute_force_success")


@register_detector("password_spraying", title="Password spraying", severity="high")
def password_spraying(
    events: Events,
    *,
    min_actors: int = 10,
    window: str | timedelta = "1h",
    resolve: str | timedelta = "30m",
    tenant_actors: int = 20,
    follow: str | timedelta = "1h",
) -> pl.DataFrame:
    """One source (an IP, its network, a client) failing to log in as many different
    actors within a window; or a tenant's accounts failing from many sources at once.

    Spraying from many addresses of one network (an IPv6 /64 hands one host 2**64 of
    them), or from rotating addresses with one tool's user agent, is still one source.
    Credential stuffing from a botnet shares nothing but its targets: a tenant whose
    unresolved failures reach ``tenant_actors`` accounts within ``window`` is reported
    too.  An IP or a network is one attacker: high.  A client (many people share a
    browser's user agent) or a whole tenant is medium, unless the spray came from
    places its accounts never use: high when at least ``min_actors`` (for a client) or
    ``tenant_actors`` (for a tenant) of its accounts were tried from networks they never
    signed in from, in the whole trail (residential proxies, a botnet).

    A spray that worked is high whatever its source: an account signing in, between the
    spray's first failure and ``follow`` after its last, for the first time from its
    network, from an address that failed as another account in the spray, or with the
    spray's client, or being one of the accounts sprayed (from another network than the
    one it failed from: a person's own late success from where they mistyped is theirs).

    Failures resolved within ``resolve`` by the same actor's successful login from the
    same IP, or by their password reset, are people who mistyped or forgot (a helpdesk
    wave after a password policy change, an office behind one address): they do not
    count.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    min_actors
        Distinct actors with a failed ``user.login`` from the IP within ``window``.
    window
        Sliding window length.
    resolve
        How soon a success or reset resolves a failure.
    tenant_actors
        Distinct actors of a tenant with unresolved failures within ``window``, from any
        sources, that make credential stuffing.
    follow
        How long after a spray's last failure a sign-in tied to it is the spray's success.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z", "action": "user.login",
    ...      "outcome": "failure", "actor": {"id": f"user{i}"}, "source": {"ip": "198.51.100.7"}}
    ...     for i in range(4)])
    >>> print(password_spraying(df, min_actors=4)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    Source IP 198.51.100.7 failed to log in as 4 different actors (4 attempts) between
    2026-01-05 09:00 UTC and 2026-01-05 09:03 UTC.
    """
    w = duration(window)
    after = duration(follow, name="follow")
    positive(min_actors, "min_actors")
    positive(tenant_actors, "tenant_actors")
    fails = _failed_logins(events)
    views = _spray_views(fails.lazy())
    # only sources that failed as enough actors in all can reach the threshold
    # and only those that reach it in a window even counting every failure: resolution
    # (a look at every login) is needed only then, which is seldom
    tenant_view = pl.col("_kind") == "tenant"

    def sprays(frame: pl.LazyFrame) -> list[pl.LazyFrame]:
        # per source; the whole tenant (botnet stuffing) has a threshold of its own
        return [
            bursts(
                frame.filter(tenant_view if tenant else ~tenant_view),
                ["tenant_id", "_kind", "_src"],
                window=w,
                threshold=tenant_actors if tenant else min_actors,
                distinct="actor_id",
            )
            for tenant in (False, True)
        ]

    wanted = (
        pl.concat([b.select("tenant_id", "_kind", "_src") for b in sprays(views)])
        .unique()
        .collect()
    )
    if wanted.height == 0:
        return finalize(no_candidates(), "password_spraying")
    candidates = views.join(wanted.lazy(), on=["tenant_id", "_kind", "_src"])
    # a failure is resolved by a login from its own address (or a reset): only the
    # addresses of the candidates' failures need reading (all when one has none)
    sources = candidates.select(pl.col("source_ip").unique()).collect().get_column("source_ip")
    resolved = login_failures(
        events, resolve=resolve, sources=None if sources.has_nulls() else sources
    ).select("event_id", "_resolved")
    signins = _signins(events, wanted.select("tenant_id").unique())
    signed_in = (
        signins.lazy()
        .filter(pl.col("_net").is_not_null())
        .group_by("tenant_id", "actor_id", "_net")
        .agg(_net_first=T.min())
        .collect()
    )
    open_ = (
        candidates.join(resolved.lazy(), on="event_id", how="left")
        .filter(~pl.col("_resolved").fill_null(False))
        .with_columns(_net=network(pl.col("source_ip")))
        # tried from a network the account never signed in from, in the whole trail,
        # and not followed by the account's own sign-in from anywhere within resolve
        .join(
            signed_in.lazy().select("tenant_id", "actor_id", "_net", _known=pl.lit(True)),
            on=["tenant_id", "actor_id", "_net"],
            how="left",
            nulls_equal=False,
        )
        .sort("occurred_at")
        .join_asof(
            signins.lazy().select("tenant_id", "actor_id", _next_ok=T).sort("_next_ok"),
            left_on="occurred_at",
            right_on="_next_ok",
            by=["tenant_id", "actor_id"],
            strategy="forward",
            tolerance=duration(resolve, name="resolve"),
            check_sortedness=False,  # both sides sorted by time just above
        )
        .with_columns(
            _foreign=pl.col("_net").is_not_null()
            & pl.col("_known").is_null()
            & pl.col("_next_ok").is_null()
        )
        .drop("_known", "_next_ok")
    )
    rows = pl.concat(sprays(open_)).collect()
    found = (
        rows.lazy()
        .group_by("_kind", "_episode")  # episode ids are unique within each part
        .agg(
            *_burst_agg(
                pl.col("_src").first(),
                pl.col("actor_id").n_unique().alias("k"),
                pl.col("source_ip").n_unique().alias("ips"),
                pl.col("actor_id").filter("_foreign").n_unique().alias("_foreign"),
            )
        )
        .collect()
        .pipe(_narrowest_view)
        .with_columns(_fid=pl.int_range(pl.len()))
    )
    foreign = (pl.col("_kind") == "client") & (pl.col("_foreign") >= min_actors) | (
        pl.col("_kind") == "tenant"
    ) & (pl.col("_foreign") >= tenant_actors)
    found = found.with_columns(_strong=pl.col("_kind").is_in(["IP", "network"]) | foreign)
    taken = _spray_taken(signins, found, rows, signed_in, after)
    found = found.join(taken, on="_fid", how="left")
    what = (
        pl.when(pl.col("_kind") == "IP")
        .then(pl.format("Source IP {}", pl.col("_src")))
        .when(pl.col("_kind") == "network")
        .then(pl.format("Network {} ({} addresses)", pl.col("_src"), pl.col("ips")))
        .when(pl.col("_kind") == "client")
        .then(pl.format("Client {} ({} addresses)", q(pl.col("_src")), pl.col("ips")))
        .otherwise(pl.format("Logins from {} addresses", pl.col("ips")))
    )
    worked = pl.col("_taken_ids").is_not_null()
    found = found.with_columns(
        actor_id=pl.lit(None, dtype=pl.String),
        last_seen=pl.max_horizontal("last_seen", "_taken_last"),
        event_ids=pl.concat_list("event_ids", pl.col("_taken_ids").fill_null([])).list.unique(
            maintain_order=True
        ),
        # one address or one network is one attacker; a client string or a whole
        # tenant's failures may also be many people's bad morning, unless they come
        # from where the accounts never are, or the spray worked
        severity=pl.when(pl.col("_kind").is_in(["IP", "network"]) | worked | foreign)
        .then(pl.lit("high"))
        .otherwise(pl.lit("medium")),
        summary=pl.concat_str(
            pl.format(
                "{} failed to log in as {} different actors ({} attempts) between {} and {}",
                what,
                pl.col("k"),
                pl.col("n"),
                fmt_time(pl.col("first_seen")),
                fmt_time(pl.col("last_seen")),
            ),
            pl.when(foreign).then(
                pl.format(
                    "; {} of those accounts were tried from networks they never signed in from",
                    pl.col("_foreign"),
                )
            ),
            pl.when(worked).then(
                pl.format(
                    "; then {} signed in from {}, a network never used by the account, at {} "
                    "(the spray worked)",
                    first_few(pl.col("_taken"), 5, ", "),
                    first_few(pl.col("_taken_ips"), 5, ", "),
                    fmt_time(pl.col("_taken_first")),
                )
            ),
            pl.lit("."),
            ignore_nulls=True,
        ),
    )
    return finalize(found, "password_spraying")


def _signins(events: Events, tenants: pl.DataFrame) -> pl.DataFrame:
    """The successful logins of ``tenants`` (actors as :func:`_logins` folds them), with
    ``_net`` (the network of their address)."""
    return (
        _logins(events)
        .filter(pl.col("outcome") == "success")
        .join(tenants.lazy(), on="tenant_id", how="semi")
        .select(
            "tenant_id",
            "actor_id",
            "event_id",
            "occurred_at",
            "source_ip",
            "user_agent",
            _net=network(pl.col("source_ip")),
        )
        .collect()
    )


def _spray_taken(
    signins: pl.DataFrame,
    found: pl.DataFrame,
    rows: pl.DataFrame,
    signed_in: pl.DataFrame,
    follow: timedelta,
) -> pl.DataFrame:
    """Per spray (``_fid``), the sign-ins that tie to it (see :func:`password_spraying`):
    ``_taken_ids``, ``_taken`` (the accounts), ``_taken_ips``, ``_taken_first``,
    ``_taken_last``.  A sign-in from an address that failed as another account ties to
    any spray; one with the spray's client, or of an account sprayed, only to a spray
    that is high on its own (``_strong``: one address or network, or accounts tried from
    networks foreign to them), lest a colleague's first sign-in from a hotel with the
    common browser tie to a bad morning's typos."""
    schema: pl.Schema = pl.Schema(
        {
            "_fid": pl.Int64(),
            "_taken_ids": pl.List(pl.String),
            "_taken": pl.List(pl.String),
            "_taken_ips": pl.List(pl.String),
            "_taken_first": pl.Datetime("us", "UTC"),
            "_taken_last": pl.Datetime("us", "UTC"),
        }
    )
    if found.height == 0:
        return pl.DataFrame(schema=schema)
    spans = found.select(
        "_fid", "tenant_id", "_kind", "_src", "_episode", "first_seen", "last_seen", "_strong"
    ).with_columns(pl.col("_fid").cast(pl.Int64))
    # each account's first sign-in from a network: the sign-ins that may be the spray's
    firsts = signed_in.select(
        "tenant_id", "actor_id", "_net", pl.col("_net_first").alias("occurred_at")
    )
    oks = (
        signins.lazy()
        .filter(pl.col("_net").is_not_null())
        .join(firsts.lazy(), on=["tenant_id", "actor_id", "_net", "occurred_at"], how="semi")
        .select(
            "tenant_id",
            pl.col("actor_id").alias("_who"),
            pl.col("event_id").alias("_ok_id"),
            pl.col("occurred_at").alias("_ok_at"),
            pl.col("source_ip").alias("_ok_ip"),
            pl.col("_net").alias("_ok_net"),
            pl.col("user_agent").alias("_ok_ua"),
        )
        .join(spans.lazy(), on="tenant_id")
        .filter(
            (pl.col("_ok_at") >= pl.col("first_seen"))
            & (pl.col("_ok_at") <= pl.col("last_seen") + follow)
        )
        .collect()
    )
    if oks.height == 0:
        return pl.DataFrame(schema=schema)
    tried = rows.join(spans.select("_kind", "_episode", "_fid"), on=["_kind", "_episode"]).select(
        "_fid", pl.col("actor_id").alias("_tried"), "source_ip", "_net"
    )
    # from an address that failed as another account in the spray (or from the spray's
    # network, or with its client)
    by_address = (
        oks.join(tried, left_on=["_fid", "_ok_ip"], right_on=["_fid", "source_ip"])
        .filter(pl.col("_tried") != pl.col("_who"))
        .select("_fid", "_ok_id")
    )
    strong = oks.filter("_strong")
    by_source = strong.filter(
        ((pl.col("_kind") == "network") & (pl.col("_ok_net") == pl.col("_src")))
        | ((pl.col("_kind") == "client") & (pl.col("_ok_ua") == pl.col("_src")))
        | ((pl.col("_kind") == "IP") & (pl.col("_ok_ip") == pl.col("_src")))
    ).select("_fid", "_ok_id", "_who", "_ok_net")
    # or an account sprayed; neither from a network the account itself failed from in
    # the spray (the person getting it right late, where they mistyped)
    own_nets = tried.select(
        "_fid", pl.col("_tried").alias("_who"), pl.col("_net").alias("_ok_net"), _own=pl.lit(True)
    ).unique()
    sprayed = strong.join(
        tried.select("_fid", pl.col("_tried").alias("_who")).unique(), on=["_fid", "_who"]
    ).select("_fid", "_ok_id", "_who", "_ok_net")
    linked = pl.concat(
        [
            by_address,
            pl.concat([by_source, sprayed])
            .join(own_nets, on=["_fid", "_who", "_ok_net"], how="left", nulls_equal=True)
            .filter(pl.col("_own").is_null())
            .select("_fid", "_ok_id"),
        ]
    ).unique()
    return (
        oks.join(linked, on=["_fid", "_ok_id"], how="semi")
        .sort("_ok_at")
        .group_by("_fid")
        .agg(
            pl.col("_ok_id").unique(maintain_order=True).alias("_taken_ids"),
            pl.col("_who").unique(maintain_order=True).alias("_taken"),
            pl.col("_ok_ip").unique(maintain_order=True).alias("_taken_ips"),
            pl.col("_ok_at").min().alias("_taken_first"),
            pl.col("_ok_at").max().alias("_taken_last"),
        )
        .cast(schema)
    )


def _spray_views(
    fails: pl.LazyFrame, kinds: Sequence[str] = ("IP", "network", "client", "tenant")
) -> pl.LazyFrame:
    """Each failed login once per view of its source: ``_kind`` (``IP``, ``network``,
    ``client``, ``tenant``) and ``_src`` (the address, the network, the user agent, ``*``)."""
    ip = pl.col("source_ip")
    views = {
        "IP": lambda: fails.filter(ip.is_not_null()).with_columns(_kind=pl.lit("IP"), _src=ip),
        "network": lambda: fails.with_columns(_kind=pl.lit("network"), _src=network(ip)).filter(
            pl.col("_src").is_not_null()
        ),
        "client": lambda: fails.filter(pl.col("user_agent").is_not_null()).with_columns(
            _kind=pl.lit("client"), _src=pl.col("user_agent")
        ),
        "tenant": lambda: fails.with_columns(_kind=pl.lit("tenant"), _src=pl.lit("*")),
    }
    return pl.concat([views[k]() for k in kinds])


def _narrowest_view(found: pl.DataFrame) -> pl.DataFrame:
    """One finding per attack: a wider view (network, client, tenant) is dropped when a
    narrower one of the same tenant already cites one of its events."""
    rank = pl.col("_kind").replace_strict({"IP": 0, "network": 1, "client": 2, "tenant": 3})
    found = found.with_columns(_rank=rank, _fid=pl.int_range(pl.len()))
    cited = found.select("tenant_id", "_rank", "_fid", "event_ids").explode("event_ids")
    covered = (
        cited.join(cited, on=["tenant_id", "event_ids"], suffix="_o")
        .filter(pl.col("_rank_o") < pl.col("_rank"))
        .get_column("_fid")
        .unique()
    )
    return found.filter(~pl.col("_fid").is_in(covered.implode())).drop("_rank", "_fid")


def _haversine_km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    p1, p2 = lat1.radians(), lat2.radians()
    dphi, dlmb = (lat2 - lat1).radians(), (lon2 - lon1).radians()
    a = (dphi / 2).sin() ** 2 + p1.cos() * p2.cos() * (dlmb / 2).sin() ** 2
    return 2 * _EARTH_RADIUS_KM * a.sqrt().clip(upper_bound=1.0).arcsin()


def _successful_logins(events: Events, *extra: str) -> pl.LazyFrame:
    return lazy(
        events, "tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome", *extra
    ).filter((pl.col("action") == LOGIN) & (pl.col("outcome") == "success"))


def _place(city: pl.Expr, country: pl.Expr) -> pl.Expr:
    return pl.concat_str(city.fill_null("?"), country.fill_null("?"), separator=", ")


@register_detector("impossible_travel", title="Impossible travel", severity="high")
def impossible_travel(
    events: Events,
    *,
    max_speed_kmh: float = 1000.0,
    min_distance_km: float = 500.0,
    country_switch: str | timedelta = "30m",
) -> pl.DataFrame:
    """Two consecutive successful logins of one actor whose implied speed beats a plane.

    Logins are placed by ``geo_lat``/``geo_lon``, else by their country
    (``geo_country``: a point near its main population, from a table of ISO codes).
    Pairs closer than ``min_distance_km`` are ignored (geolocation of IP addresses is
    coarse).  Both ends placed by coordinates: high.  An end placed by its country
    only may be far from that point: high when the trip is impossible even with
    750 km of error at each such end, medium when only the distance between the
    countries' points makes it so.  Two countries outside the table (or not given as
    codes) without coordinates: medium when the country changes within
    ``country_switch``.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    max_speed_kmh
        Fastest plausible travel (airliners cruise at ~900 km/h).
    min_distance_km
        Shortest distance between the two logins worth reporting.
    country_switch
        For countries that cannot be placed: a change of country within this time.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login",
    ...      "actor": {"id": "carol"}, "source": {"geo": {"city": "Paris", "country": "FR",
    ...      "lat": 48.86, "lon": 2.35}}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T10:00:00Z", "action": "user.login",
    ...      "actor": {"id": "carol"}, "source": {"geo": {"city": "Tokyo", "country": "JP",
    ...      "lat": 35.68, "lon": 139.69}}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T10:20:00Z", "action": "user.login",
    ...      "actor": {"id": "carol"}, "source": {"geo": {"country": "BR"}}}])
    >>> found = impossible_travel(df)
    >>> print(found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'carol' logged in from Paris, FR at 2026-01-05 09:00 UTC then from Tokyo, JP 1.0 h later
    (9713 km, 9713 km/h).
    >>> print(found["summary"][1])  # doctest: +NORMALIZE_WHITESPACE
    'carol' logged in from Tokyo, JP at 2026-01-05 10:00 UTC then from ?, BR 0.3 h later
    (about 18502 km, at least 17752 km with the country placed roughly, 53256 km/h).
    """
    positive(max_speed_kmh, "max_speed_kmh")
    switch = duration(country_switch, name="country_switch")
    keys = ["tenant_id", "actor_id"]
    geo = ("geo_lat", "geo_lon", "geo_city", "geo_country")
    has_xy = pl.col("geo_lat").is_not_null() & pl.col("geo_lon").is_not_null()
    located = _successful_logins(events, *geo).filter(has_xy | pl.col("geo_country").is_not_null())
    # only logins without coordinates are placed by their country
    placed_by_country = (
        located.filter(~has_xy)
        .with_columns(_country=pl.col("geo_country").str.strip_chars().str.to_uppercase())
        .join(country_points(), on="_country", how="left")
    )
    logins = (
        pl.concat(
            [
                located.filter(has_xy).with_columns(
                    _country=pl.col("geo_country").str.to_uppercase(),
                    _clat=pl.lit(None, pl.Float64),
                    _clon=pl.lit(None, pl.Float64),
                ),
                placed_by_country,
            ],
            how="vertical_relaxed",
        )
        .with_columns(
            _est=~has_xy,
            _lat=pl.when(has_xy).then(pl.col("geo_lat")).otherwise(pl.col("_clat")),
            _lon=pl.when(has_xy).then(pl.col("geo_lon")).otherwise(pl.col("_clon")),
        )
        .sort([*keys, "occurred_at"])
    )
    carried = ("occurred_at", "event_id", "_lat", "_lon", "_est", "_country", *geo)
    # sorted by actor and time: the previous row is the previous login when the actor is
    # the same (cheaper than a window per column)
    prev = {f"prev_{c}": pl.col(c).shift(1) for c in carried}
    slack = (pl.col("_est").cast(pl.Float64) + pl.col("prev__est").cast(pl.Float64)) * SLACK_KM
    hours = pl.col("hours")
    kmh = pl.when(hours > 0).then(pl.col("km") / hours).otherwise(float("inf"))
    least_kmh = pl.when(hours > 0).then(pl.col("least") / hours).otherwise(float("inf"))
    placed = pl.col("km").is_not_null()
    estimated = pl.col("_est") | pl.col("prev__est")
    moved = pl.col("_country").ne_missing(pl.col("prev__country"))
    sure = placed & (pl.col("least") >= min_distance_km) & (least_kmh > max_speed_kmh)
    likely = placed & moved & (pl.col("km") >= min_distance_km) & (pl.col("kmh") > max_speed_kmh)
    unplaced = (
        ~placed
        & moved
        & pl.col("_country").is_not_null()
        & pl.col("prev__country").is_not_null()
        & (T - pl.col("prev_occurred_at") <= switch)
    )
    found = (
        logins.with_columns(**prev, _same=~key_changed(keys))
        .filter(pl.col("_same") & pl.col("prev_event_id").is_not_null())
        .with_columns(
            km=_haversine_km(
                pl.col("prev__lat"), pl.col("prev__lon"), pl.col("_lat"), pl.col("_lon")
            ),
            hours=(T - pl.col("prev_occurred_at")).dt.total_microseconds() / 3.6e9,
        )
        .with_columns(least=(pl.col("km") - slack).clip(lower_bound=0.0), kmh=kmh)
        .filter(sure | likely | unplaced)
        .select(
            "tenant_id",
            "actor_id",
            pl.col("prev_occurred_at").alias("first_seen"),
            T.alias("last_seen"),
            pl.concat_list("prev_event_id", "event_id").alias("event_ids"),
            pl.when(sure).then(pl.lit("high")).otherwise(pl.lit("medium")).alias("severity"),
            pl.format(
                "{} logged in from {} at {} then from {} {} h later ({}).",
                q(pl.col("actor_id")),
                _place(pl.col("prev_geo_city"), pl.col("prev_geo_country")),
                fmt_time(pl.col("prev_occurred_at")),
                _place(pl.col("geo_city"), pl.col("geo_country")),
                fmt_float(pl.col("hours"), 1),
                pl.when(~placed)
                .then(pl.lit("no coordinates, and countries that cannot be placed"))
                .when(estimated)
                .then(
                    pl.format(
                        "about {} km, at least {} km with the country placed roughly, {} km/h",
                        fmt_float(pl.col("km")),
                        fmt_float(pl.col("least")),
                        pl.when(least_kmh.is_infinite())
                        .then(pl.lit("instant"))
                        .otherwise(fmt_float(least_kmh)),
                    )
                )
                .otherwise(
                    pl.format(
                        "{} km, {} km/h",
                        fmt_float(pl.col("km")),
                        pl.when(pl.col("kmh").is_infinite())
                        .then(pl.lit("instant"))
                        .otherwise(fmt_float(pl.col("kmh"))),
                    )
                ),
            ).alias("summary"),
        )
    )
    return finalize(found, "impossible_travel")


@register_detector("new_country", title="Login from a new country", severity="medium")
def new_country(
    events: Events, *, min_history: int = 5, min_history_span: str | timedelta = "7d"
) -> pl.DataFrame:
    """An actor's first successful login from a country, once the actor has a history.

    Parameters
    ----------
    events
        Event frame (eager or lazy); logins need ``geo_country``.
    min_history
        Successful logins (with a country) the actor must have before.
    min_history_span
        How long before the new-country login the actor's first login must lie.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": "acme", "occurred_at": f"2026-01-{d:02d}T09:00:00Z",
    ...          "action": "user.login", "actor": {"id": "dave"},
    ...          "source": {"geo": {"country": "DE" if d < 20 else "BR"}}} for d in range(1, 21)]
    >>> new_country(events_to_frame(rows))["summary"][0]
    "First login of 'dave' from BR at 2026-01-20 09:00 UTC (19 earlier logins; the last from DE)."
    """
    span = duration(min_history_span, name="min_history_span")
    keys = ["tenant_id", "actor_id"]
    logins = (
        _successful_logins(events, "geo_country")
        .filter(pl.col("geo_country").is_not_null())
        .sort([*keys, "occurred_at"])
        .with_columns(
            _n=pl.int_range(pl.len()).over(keys),
            _since=T - T.first().over(keys),
            _new=pl.col("geo_country").is_first_distinct().over(keys),
            _prev=pl.col("geo_country").shift(1).over(keys),
        )
    )
    found = logins.filter(
        pl.col("_new") & (pl.col("_n") >= min_history) & (pl.col("_since") >= span)
    ).select(
        "tenant_id",
        "actor_id",
        T.alias("first_seen"),
        T.alias("last_seen"),
        pl.concat_list("event_id").alias("event_ids"),
        pl.lit("medium").alias("severity"),
        pl.format(
            "First login of {} from {} at {} ({} earlier logins; the last from {}).",
            q(pl.col("actor_id")),
            pl.col("geo_country"),
            fmt_time(T),
            pl.col("_n"),
            pl.col("_prev"),
        ).alias("summary"),
    )
    return finalize(found, "new_country")


@register_detector("mfa_disabled", title="MFA disabled or reset", severity="high")
def mfa_disabled(
    events: Events, *, gap: str | timedelta = "1h", self_resets: bool = False
) -> pl.DataFrame:
    """Multi-factor authentication disabled (high) or reset (medium) for a principal.

    Successful ``mfa.disable`` / ``mfa.reset`` events by one actor, no more than
    ``gap`` apart, make one finding that names the principals affected.  A user
    resetting their own MFA (a new phone) is routine self-service and is left out
    unless ``self_resets``; a self-reset by an intruder shows as the login from a new
    place that precedes it (``new_country``, ``impossible_travel``).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "mfa.disable", "actor": {"id": "erin"},
    ...     "targets": [{"id": "frank", "type": "user"}]}])
    >>> mfa_disabled(df)["summary"][0]
    "'erin' disabled MFA for 1 principal(s) (frank) at 2026-01-05 09:00 UTC."
    """
    g = duration(gap, name="gap")
    lf = subset(
        events,
        (*_COLUMNS, "target_id"),
        pl.col("action").is_in(["mfa.disable", "mfa.reset"]),
        pl.col("outcome") == "success",
    )
    if not self_resets:
        own = pl.col("target_id").is_null() | (pl.col("target_id") == pl.col("actor_id"))
        lf = lf.filter(~((pl.col("action") == "mfa.reset") & own))
    found = (
        episodes(lf, ["tenant_id", "actor_id", "action"], g)
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id", "action"),
            pl.col("target_id")
            .fill_null(pl.col("actor_id"))
            .unique(maintain_order=True)
            .alias("who"),
        )
        .with_columns(
            severity=pl.when(pl.col("action") == "mfa.disable")
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} MFA for {} principal(s) ({}) at {}.",
                q(pl.col("actor_id")),
                pl.when(pl.col("action") == "mfa.disable")
                .then(pl.lit("disabled"))
                .otherwise(pl.lit("reset")),
                pl.col("who").list.len(),
                pl.col("who").list.head(5).list.join(", "),
                fmt_time(pl.col("first_seen")),
            ),
        )
    )
    return finalize(found, "mfa_disabled")


@register_detector("mfa_push_fatigue", title="MFA push fatigue", severity="high")
def mfa_push_fatigue(
    events: Events, *, min_denials: int = 5, window: str | timedelta = "15m"
) -> pl.DataFrame:
    """Many refused MFA prompts for an actor, then an accepted one: a user worn down by
    push prompts they did not start.

    A refused prompt is a denied ``mfa.challenge``, a failed verification of a push
    factor (rejected or timed out; a mistyped code is not one), or a push sent
    (``mfa_challenge.send``) that no approval answered; a push whose sending and refusal
    are both logged counts once.  The accepted one is an ``mfa.challenge`` success: a
    prompt sent is never an acceptance.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    min_denials
        Refused prompts within ``window`` before the accepted one.
    window
        How far back from the accepted challenge the refusals are counted.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...          "action": "mfa.challenge", "outcome": "denied" if i < 5 else "success",
    ...          "actor": {"id": "gina"}} for i in range(6)]
    >>> mfa_push_fatigue(events_to_frame(rows))["summary"][0]
    "5 denied MFA challenges for 'gina' then an accepted one at 2026-01-05 09:05 UTC."
    """
    w = duration(window)
    positive(min_denials, "min_denials")
    asked = pl.col("_denied") | pl.col("_failed") | pl.col("_sent")
    seq = refused_prompts(
        events,
        _COLUMNS,
        w,
        keep=pl.col("_ok").any().over("_k") & (asked.sum().over("_k") >= min_denials),
    )
    member = pl.col("_refused") | pl.col("_unanswered")
    hot = pl.col("_ok") & (pl.col("_peak") >= min_denials)
    found = (
        window_evidence(seq, window=w, hot=hot, member=member)
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            pl.col("_peak").filter(pl.col("_hot")).max().alias("refused"),
            pl.col("_denied").sum().alias("denied"),
            pl.col("_failed").sum().alias("failed"),
            pl.col("_unanswered").sum().alias("unanswered"),
            T.filter(pl.col("_hot")).first().alias("ok_at"),
        )
        .with_columns(
            severity=pl.lit("high"),
            summary=pl.when((pl.col("failed") == 0) & (pl.col("unanswered") == 0))
            .then(
                pl.format(
                    "{} denied MFA challenges for {} then an accepted one at {}.",
                    pl.col("denied"),
                    q(pl.col("actor_id")),
                    fmt_time(pl.col("ok_at")),
                )
            )
            .otherwise(
                pl.format(
                    "{} MFA prompts for {} refused or left unanswered within {} (seen as {} "
                    "pushes sent that no approval answered, {} denials, {} failed push "
                    "verifications) then an accepted one at {}.",
                    pl.col("refused"),
                    q(pl.col("actor_id")),
                    pl.lit(human(w)),
                    pl.col("unanswered"),
                    pl.col("denied"),
                    pl.col("failed"),
                    fmt_time(pl.col("ok_at")),
                )
            ),
        )
    )
    return finalize(found, "mfa_push_fatigue")


def login_failures(
    events: Events,
    *,
    resolve: str | timedelta = "30m",
    extra: Sequence[str] = (),
    sources: pl.Series | None = None,
) -> pl.DataFrame:
    """Failed logins with ``_resolved``: followed within ``resolve`` by a successful login
    of the same actor from the same source IP, or by a password reset or change of the
    actor (a typo, a forgotten password).  Unresolved failures are what guessing leaves.

    Returns ``tenant_id, actor_id, source_ip, occurred_at, event_id``, the ``extra``
    columns and ``_resolved`` (also used by the cross-tenant detector).  ``sources``
    limits the failures to those IP addresses (their resolution is the same).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> rows = [{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...          "action": "user.login", "outcome": "failure" if i < 2 else "success",
    ...          "actor": {"id": "ann"}, "source": {"ip": "10.0.0.1"}} for i in range(3)]
    >>> login_failures(events_to_frame(rows))["_resolved"].to_list()
    [True, True]
    """
    r = duration(resolve, name="resolve")
    action, outcome = pl.col("action"), pl.col("outcome")
    resets = action.is_in(["password.reset", "password.change"]) & (outcome == "success")
    seq = (
        _logins(events, (*_COLUMNS, *extra), resets=True)
        .filter(((action == LOGIN) & outcome.is_in(["success", "failure"])) | resets)
        .with_columns(
            _fail=(action == LOGIN) & (outcome == "failure"),
            _ok=(action == LOGIN) & (outcome == "success"),
            _reset=resets,
            _ip=pl.col("source_ip").fill_null("?"),
        )
    )
    if sources is not None:  # logins from those sources, and every reset
        seq = seq.filter(pl.col("_reset") | pl.col("source_ip").is_in(sources.implode()))
    by_actor = keyed(seq, ["tenant_id", "actor_id"], "_ok").with_columns(
        _next_reset=next_in_key(pl.col("_reset"))
    )
    by_source = keyed(by_actor.drop("_k"), ["tenant_id", "actor_id", "_ip"], "_ok").with_columns(
        _next_ok=next_in_key(pl.col("_ok"))
    )
    soon = (pl.col("_next_ok") - T <= r).fill_null(False) | (
        pl.col("_next_reset") - T <= r
    ).fill_null(False)
    return (
        by_source.filter("_fail")
        .select(
            *("tenant_id", "actor_id", "source_ip", "occurred_at", "event_id"),
            *extra,
            soon.alias("_resolved"),
        )
        .collect()
    )


@register_detector("slow_credential_attack", title="Slow credential attack", severity="medium")
def slow_credential_attack(
    events: Events,
    *,
    window: str | timedelta = "24h",
    min_failures: int = 10,
    min_actors: int = 5,
    min_span: str | timedelta = "1h",
    min_failures_before_success: int = 6,
    resolve: str | timedelta = "30m",
    burst_window: str | timedelta = "15m",
    burst_threshold: int = 10,
) -> pl.DataFrame:
    """Password guessing kept under every short-window threshold but sustained for hours:
    many unresolved failed logins on one account, or one source IP failing against many
    accounts, over a long window; high when a success from the same source follows.

    A failed login is *resolved* when the same actor logs in successfully from the
    same source IP, or resets their password, within ``resolve``: typos and forgotten
    passwords.  Only unresolved failures count, so a person who mistypes three times a
    day, or a shared VPN egress full of people who do, stays quiet.

    Three shapes are reported.  Per account: at least ``min_failures`` unresolved
    failures within ``window`` whose densest ``burst_window`` stays under
    ``burst_threshold`` (denser bursts are ``brute_force``'s); medium, high when the
    account then logs in from one of the failing sources.  Per (account, source): a
    successful login preceded, since that pair's previous success and within
    ``window``, by at least ``min_failures_before_success`` failures not cleared by a
    password reset, spread over at least ``min_span`` (faster is ``brute_force_success``);
    high.  Per source IP: unresolved failures against at least
    ``min_actors`` accounts within ``window``, spread over at least ``min_span`` (faster
    is ``password_spraying``); medium, high when an account logs in from that IP for
    the first time during or after it.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from auditkit.frame import events_to_frame
    >>> t0 = datetime(2026, 1, 5, 1, tzinfo=timezone.utc)
    >>> rows = [{"tenant_id": "acme", "occurred_at": t0 + timedelta(minutes=25 * i),
    ...          "action": "user.login", "outcome": "failure" if i < 12 else "success",
    ...          "actor": {"id": "ana"}, "source": {"ip": "203.0.113.5"}} for i in range(13)]
    >>> found = slow_credential_attack(events_to_frame(rows))
    >>> found["severity"].to_list()
    ['high']
    >>> print(found["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    11 unresolved failed logins for 'ana' from 1 source IP(s) over 4h10m (2026-01-05 01:00 UTC
    to 2026-01-05 05:10 UTC), never more than 1 within 15m: each one neither followed by a
    successful login from its source nor by a password reset within the window; then a
    successful login from one of those sources at 2026-01-05 06:00 UTC.
    """
    w = duration(window)
    r = duration(resolve, name="resolve")
    short = duration(burst_window, name="burst_window")
    span = duration(min_span, name="min_span")
    for value, name in (
        (min_failures, "min_failures"),
        (min_actors, "min_actors"),
        (min_failures_before_success, "min_failures_before_success"),
        (burst_threshold, "burst_threshold"),
    ):
        positive(value, name)
    fails = login_failures(events, resolve=r)
    oks = (
        _logins(events)
        .filter(pl.col("outcome") == "success")
        .join(fails.lazy().select("tenant_id", "actor_id").unique(), on=["tenant_id", "actor_id"])
        .with_columns(
            _first_from_ip=T.min().over("tenant_id", "actor_id", pl.col("source_ip").fill_null("?"))
            == T
        )
        .collect()
    )
    # each account's first success from each network (a place it never signed in from
    # before), read once per address
    net_firsts = (
        oks.lazy()
        .group_by("tenant_id", "actor_id", "source_ip")
        .agg(T.min(), pl.col("event_id").sort_by(T).first())
        .with_columns(_net=network(pl.col("source_ip")))
        .sort("occurred_at")
        .group_by("tenant_id", "actor_id", "_net")
        .agg(pl.col("occurred_at", "event_id", "source_ip").first())
        .collect()
    )
    per_account = _slow_per_account(fails, net_firsts, oks, w, min_failures, short, burst_threshold)
    # a success already told as the end of an account's slow attack is not told twice
    told = per_account.filter(pl.col("severity") == "high").select(
        "tenant_id", "actor_id", "last_seen"
    )
    then_success = _slow_then_success(events, w, min_failures_before_success, span).join(
        told, on=["tenant_id", "actor_id", "last_seen"], how="anti"
    )
    frames = [
        per_account,
        then_success,
        _slow_per_source(fails, net_firsts, oks, w, min_actors, span),
    ]
    together = pl.concat([f.cast(dict(CANDIDATE_SCHEMA)) for f in frames], how="vertical")  # type: ignore[arg-type]
    return finalize(together, "slow_credential_attack")


def _slow_per_account(
    fails: pl.DataFrame,
    net_firsts: pl.DataFrame,
    oks: pl.DataFrame,
    w: timedelta,
    min_failures: int,
    short: timedelta,
    burst_threshold: int,
) -> pl.DataFrame:
    open_ = fails.lazy().filter(~pl.col("_resolved"))
    found = (
        bursts(open_, ["tenant_id", "actor_id"], window=w, threshold=min_failures)
        .with_columns(
            _short=T.is_not_null().cast(pl.UInt32).rolling_sum_by("occurred_at", short).over("_k")
        )
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            pl.col("_short").max().alias("short"),
            pl.col("source_ip").drop_nulls().unique().alias("ips"),
        )
        .filter(pl.col("short") < burst_threshold)
        .collect()
    )
    if found.height == 0:
        return no_candidates()
    # then a success of the account, within the window, from one of the failing sources
    # or from a network it had never signed in from (the guesses came from rotating
    # proxies, the success from yet another address)
    spans = found.lazy().select("_episode", "tenant_id", "actor_id", "last_seen")
    after_window = (pl.col("last_seen") < T) & (T - pl.col("last_seen") <= w)
    from_source = (
        found.lazy()
        .select("_episode", "tenant_id", "actor_id", "last_seen", pl.col("ips").alias("source_ip"))
        .explode("source_ip")
        .join(oks.lazy(), on=["tenant_id", "actor_id", "source_ip"])
        .filter(after_window)
        .select("_episode", "event_id", "occurred_at", "source_ip", _new=pl.lit(False))
    )
    from_new = (
        spans.join(
            net_firsts.lazy().filter(pl.col("_net").is_not_null()), on=["tenant_id", "actor_id"]
        )
        .filter(after_window)
        .select("_episode", "event_id", "occurred_at", "source_ip", _new=pl.lit(True))
    )
    after = (
        pl.concat([from_source, from_new])
        .sort("occurred_at", "_new")
        .group_by("_episode")
        .agg(
            pl.col("event_id").first().alias("_ok_id"),
            T.first().alias("_ok_at"),
            pl.col("_new").first().alias("_ok_new"),
            pl.col("source_ip").first().alias("_ok_ip"),
        )
    )
    return (
        found.lazy()
        .join(after, on="_episode", how="left")
        .select(
            "tenant_id",
            "actor_id",
            "first_seen",
            pl.max_horizontal("last_seen", "_ok_at").alias("last_seen"),
            pl.concat_list("event_ids", pl.col("_ok_id")).list.drop_nulls().alias("event_ids"),
            pl.when(pl.col("_ok_at").is_not_null())
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.concat_str(
                pl.format(
                    "{} unresolved failed logins for {} from {} source IP(s) over {} ({} to {}), "
                    "never more than {} within {}: each one neither followed by a successful "
                    "login from its source nor by a password reset within the window",
                    pl.col("event_ids").list.len(),
                    q(pl.col("actor_id")),
                    pl.col("ips").list.len(),
                    fmt_duration(pl.col("last_seen") - pl.col("first_seen")),
                    fmt_time(pl.col("first_seen")),
                    fmt_time(pl.col("last_seen")),
                    pl.col("short"),
                    pl.lit(human(short)),
                ),
                pl.when(pl.col("_ok_at").is_not_null()).then(
                    pl.when(pl.col("_ok_new"))
                    .then(
                        pl.format(
                            "; then a successful login from {}, a network it had never signed "
                            "in from, at {}",
                            pl.col("_ok_ip").fill_null("an unknown address"),
                            fmt_time(pl.col("_ok_at")),
                        )
                    )
                    .otherwise(
                        pl.format(
                            "; then a successful login from one of those sources at {}",
                            fmt_time(pl.col("_ok_at")),
                        )
                    )
                ),
                pl.lit("."),
                ignore_nulls=True,
            ).alias("summary"),
        )
        .collect()
    )


def _slow_then_success(events: Events, w: timedelta, minimum: int, span: timedelta) -> pl.DataFrame:
    action, outcome = pl.col("action"), pl.col("outcome")
    resets = action.is_in(["password.reset", "password.change"]) & (outcome == "success")
    seq = (
        _logins(events, resets=True)
        .filter(((action == LOGIN) & outcome.is_in(["success", "failure"])) | resets)
        .with_columns(
            _fail=(action == LOGIN) & (outcome == "failure"),
            _ok=(action == LOGIN) & (outcome == "success"),
            _reset=resets,
        )
    )
    # a password reset of the actor after a failure and before the pair's next success
    # clears it (whatever the reset's source)
    by_actor = keyed(seq, ["tenant_id", "actor_id"], "_ok").with_columns(
        _next_reset=next_in_key(pl.col("_reset"))
    )
    pairs = (
        keyed(
            by_actor.filter(~pl.col("_reset")).drop("_k"),
            ["tenant_id", "actor_id", "source_ip"],
            "_ok",
            keep=pl.col("_fail").sum().over("_k") >= minimum,
        )
        .with_columns(_next_ok=next_in_key(pl.col("_ok")))
        .with_columns(
            _seg=(pl.col("_ok").cast(pl.UInt32).cum_sum() - pl.col("_ok").cast(pl.UInt32)).over(
                "_k"
            ),
            _cleared=pl.col("_next_reset").is_not_null()
            & (pl.col("_next_ok").is_null() | (pl.col("_next_reset") <= pl.col("_next_ok"))),
        )
    )
    ok_at = T.filter(pl.col("_ok")).first()
    counted = pl.col("_fail") & ~pl.col("_cleared")
    found = (
        pairs.group_by("_k", "_seg")
        .agg(
            pl.col("tenant_id", "actor_id", "source_ip").first(),
            ok_at.alias("_ok_at"),
            pl.col("event_id").filter(pl.col("_ok")).first().alias("_ok_id"),
            pl.col("event_id").filter(counted & (ok_at - w < T)).alias("_fail_ids"),
            T.filter(counted & (ok_at - w < T)).min().alias("first_seen"),
        )
        .filter(
            pl.col("_ok_at").is_not_null()
            & (pl.col("_fail_ids").list.len() >= minimum)
            & (pl.col("_ok_at") - pl.col("first_seen") >= span)
        )
        .collect()
    )
    if found.height == 0:
        return no_candidates()
    # from a network the account had made its own before the failures (the office, its
    # home line): a device retrying a stale password until its owner types the new one
    # looks the same, and a colleague guessing from the office cannot be told from it
    keys = ["tenant_id", "actor_id"]
    own = (
        found.lazy()
        .with_columns(_net=network(pl.col("source_ip")))
        .join(network_firsts(events, keys, found.lazy()), on=[*keys, "_net"], how="left")
        .select((pl.col("_net_first") <= pl.col("first_seen")).fill_null(False))
        .collect()
        .to_series()
    )
    return found.with_columns(_own=own).select(
        "tenant_id",
        "actor_id",
        "first_seen",
        pl.col("_ok_at").alias("last_seen"),
        pl.concat_list("_fail_ids", pl.col("_ok_id")).alias("event_ids"),
        pl.when("_own").then(pl.lit("medium")).otherwise(pl.lit("high")).alias("severity"),
        pl.format(
            "{} failed logins for {} from {}{} over {} (from {}) were followed by a "
            "successful login from the same source at {}; no earlier success from that "
            "source in between and no password reset.",
            pl.col("_fail_ids").list.len(),
            q(pl.col("actor_id")),
            q(pl.col("source_ip")),
            pl.when("_own").then(pl.lit(", a network it had made its own,")).otherwise(pl.lit("")),
            fmt_duration(pl.col("_ok_at") - pl.col("first_seen")),
            fmt_time(pl.col("first_seen")),
            fmt_time(pl.col("_ok_at")),
        ).alias("summary"),
    )


_TAKEN = ("_episode", "event_id", "actor_id", "occurred_at")


def _slow_per_source(
    fails: pl.DataFrame,
    net_firsts: pl.DataFrame,
    oks: pl.DataFrame,
    w: timedelta,
    min_actors: int,
    span: timedelta,
) -> pl.DataFrame:
    unresolved = fails.lazy().filter(~pl.col("_resolved") & pl.col("source_ip").is_not_null())
    # one address, or many addresses of one network (an IPv6 /64 is one host's); or the
    # tenant's accounts failing from places they never signed in from, an address or two
    # each (a residential-proxy pool: no address, network or client in common)
    signed_in = net_firsts.lazy().select("tenant_id", "actor_id", "_net")
    foreign = (
        unresolved.with_columns(_net=network(pl.col("source_ip")))
        .join(signed_in, on=["tenant_id", "actor_id", "_net"], how="anti", nulls_equal=True)
        .drop("_net")
    )
    open_ = pl.concat(
        [_spray_views(unresolved, ("IP", "network")), _spray_views(foreign, ("tenant",))]
    )
    found = (
        bursts(
            open_,
            ["tenant_id", "_kind", "_src"],
            window=w,
            threshold=min_actors,
            distinct="actor_id",
        )
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "_kind", "_src"),
            pl.col("actor_id").n_unique().alias("actors"),
            pl.col("source_ip").n_unique().alias("ips"),
            pl.col("actor_id").unique().alias("_tried"),
        )
        .filter(
            (pl.col("last_seen") - pl.col("first_seen") >= span)
            # the pool: as many addresses as accounts (one person failing from a few
            # places is not it)
            & ((pl.col("_kind") != "tenant") | (pl.col("ips") >= min_actors))
        )
        .collect()
        .pipe(_narrowest_view)
    )
    if found.height == 0:
        return no_candidates()
    # an account logging in from that source for the first time, during or after it
    taken = (
        found.lazy()
        .select("_episode", "tenant_id", "_kind", "_src", "first_seen", "last_seen")
        .join(
            oks.lazy()
            .filter("_first_from_ip")
            .with_columns(_kind=pl.lit("IP"), _src=pl.col("source_ip"))
            .pipe(
                lambda ok: pl.concat(
                    [ok, ok.with_columns(_kind=pl.lit("network"), _src=network(pl.col("_src")))]
                )
            ),
            on=["tenant_id", "_kind", "_src"],
        )
        .filter((pl.col("first_seen") <= T) & (T - pl.col("last_seen") <= w))
    )
    # for the pool: an account it tried signing in from a network it never used before
    pool = (
        found.lazy()
        .filter(pl.col("_kind") == "tenant")
        .select("_episode", "tenant_id", "first_seen", "last_seen", "_tried")
        .explode("_tried")
        .join(
            net_firsts.lazy().filter(pl.col("_net").is_not_null()),
            left_on=["tenant_id", "_tried"],
            right_on=["tenant_id", "actor_id"],
        )
        .filter((pl.col("first_seen") <= T) & (T - pl.col("last_seen") <= w))
        .with_columns(actor_id=pl.col("_tried"))
    )
    taken = (
        pl.concat([taken.select(_TAKEN), pool.select(_TAKEN)])
        .sort("occurred_at")
        .group_by("_episode")
        .agg(
            pl.col("event_id").alias("_ok_ids"),
            pl.col("actor_id").unique(maintain_order=True).alias("_taken"),
            T.max().alias("_ok_last"),
        )
    )
    return (
        found.lazy()
        .join(taken, on="_episode", how="left")
        .select(
            "tenant_id",
            pl.lit(None, dtype=pl.String).alias("actor_id"),
            "first_seen",
            pl.max_horizontal("last_seen", "_ok_last").alias("last_seen"),
            pl.concat_list("event_ids", pl.col("_ok_ids").fill_null([]))
            .list.unique(maintain_order=True)
            .alias("event_ids"),
            pl.when(pl.col("_ok_ids").is_not_null())
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.concat_str(
                pl.format(
                    "{} failed to log in as {} different accounts over {} ({} to {}), "
                    "none of them followed by that account's success from the source",
                    pl.when(pl.col("_kind") == "IP")
                    .then(pl.format("Source IP {}", pl.col("_src")))
                    .when(pl.col("_kind") == "network")
                    .then(pl.format("Network {} ({} addresses)", pl.col("_src"), pl.col("ips")))
                    .otherwise(
                        pl.format(
                            "{} addresses none of the accounts had signed in from",
                            pl.col("ips"),
                        )
                    ),
                    pl.col("actors"),
                    fmt_duration(pl.col("last_seen") - pl.col("first_seen")),
                    fmt_time(pl.col("first_seen")),
                    fmt_time(pl.col("last_seen")),
                ),
                pl.when(pl.col("_ok_ids").is_not_null()).then(
                    pl.format(
                        "; then {} logged in from it for the first time",
                        pl.col("_taken").list.head(5).list.join(", "),
                    )
                ),
                pl.lit("."),
                ignore_nulls=True,
            ).alias("summary"),
        )
        .collect()
    )
