"""Account detectors: suspicious API keys, dormant accounts reactivated, break-glass use.

They read ``api_key.create`` (the target is the principal who gets the key),
``metadata.break_glass`` and the actor id ``root`` (importers keep a source's root
or break-glass identity that way, e.g. a CloudTrail ``Root`` identity), and the
activity of each actor over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors._principals import as_principals
from auditkit.analytics.detectors.common import (
    ESTABLISHED_DAYS,
    LOGIN,
    SERVICE_ACCOUNT,
    Events,
    T,
    action_words,
    actions_where,
    active_days,
    away_from_home,
    began,
    duration,
    empty,
    episodes,
    finalize,
    finding_span,
    first_few,
    first_time,
    fmt_between,
    fmt_duration,
    fmt_float,
    fmt_time,
    key_changed,
    kind,
    lazy,
    network,
    network_firsts,
    new_client,
    new_network,
    positive,
    q,
    roaming,
    subset,
    with_newcomer_firsts,
)
from auditkit.analytics.detectors.registry import register_detector

#: Roles that make a service account privileged (the basic owner and editor, any admin):
#: :data:`~auditkit.analytics.detectors.privilege.PRIVILEGED_ROLE_PATTERN`.
_PRIVILEGED_ROLE: Final = (
    r"(?i)admin|owner|root|super_?user|privileged|poweruser|iamfullaccess|roles/editor|\*"
)
#: A Google Cloud service account's e-mail, in a key's target or a binding's member.
_SERVICE_ACCOUNT: Final = SERVICE_ACCOUNT

#: How CloudTrail's ``CreateLoginProfile`` (a console password made for an IAM user) is
#: kept in an imported event's metadata.
_LOGIN_PROFILE: Final = '"source_action":"CreateLoginProfile"'
_LOGIN_PROFILE_CHANGE: Final = '"source_action":"UpdateLoginProfile"'
#: Earlier days on which an actor made a credential for the same user that make it its
#: routine (a rotation): low
_ROUTINE_DAYS: Final = 1
#: Keys made by one actor no more than this apart are one finding.
_KEY_BURST: Final = timedelta(hours=1)
_RANK: Final = {"low": 0, "medium": 1, "high": 2, "critical": 3}
#: Keys in one burst that, made away from their maker's usual places, make it high.
_MANY_KEYS: Final = 5
#: How long a trail must run before an actor's first change of another user's password
#: is news rather than the first day of a helpdesk's routine.
_CHANGE_HISTORY: Final = timedelta(days=7)

__all__ = [
    "break_glass",
    "dormant_account",
    "impersonation",
    "starts_impersonation",
    "suspicious_api_key",
]


@register_detector("suspicious_api_key", title="Suspicious API key creation", severity="medium")
def suspicious_api_key(
    events: Events,
    *,
    min_history: int = 50,
    rare_hour_share: float = 0.01,
    new_within: str | timedelta = "1d",
) -> pl.DataFrame:
    """An API key created for another user, or at an hour when its creator is rarely active;
    or a console password made for another IAM user (CloudTrail's ``CreateLoginProfile``)
    that was not created within the day before; or a key minted by a person, from a
    network they had never used, for a service account or as an organisation API token.

    The recipient is a target of type ``user`` other than the creator (producers
    may list the key itself as a target too); keys for oneself are normal.  "Rarely
    active" compares the hour of creation (UTC, plus and minus an hour) with the
    creator's own activity over the whole frame.  Both reasons at once make the finding
    high.

    A key for a service account (Google Cloud's ``CreateServiceAccountKey``) is a
    long-lived credential of the account, usable from anywhere and beyond the session
    that made it; an Okta API token (``system.api_token.create``, a target of type
    ``Token``) acts with its creating administrator's rights.  Made by a person (an
    actor of type ``user``, not a service account rotating its own key) from a network
    they had not made their own (:func:`~auditkit.analytics.detectors.common.new_network`,
    first used at most ``new_within`` before, and not an actor that comes from a new
    network on most of its days), either is high: how an intruder in a stolen session
    keeps access.  A key for a service account the trail shows holding a privileged role
    (owner, editor, an admin role, granted in a ``role.grant`` to
    ``serviceAccount:...``) is high from a new client too.  From the creator's usual
    networks and clients such keys are not reported (an administrator's routine).

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    min_history
        Events the creator needs before their hours are judged.
    rare_hour_share
        Share of the creator's events in the three hours around the creation time
        below which the hour is unusual.
    new_within
        How recently a network or client may have been first used and still be new to
        the creator (one not used on three days is new whatever its first use).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "api_key.create", "actor": {"id": "mallory"},
    ...     "targets": [{"id": "bob", "type": "user"}]}])
    >>> suspicious_api_key(df)["summary"][0]
    "'mallory' created an API key for another user ('bob') at 2026-01-05 09:00 UTC."
    """
    positive(rare_hour_share, "rare_hour_share")
    fresh = duration(new_within, name="new_within")
    # a role session's keys are judged by the hours and networks of whoever obtained it
    events = as_principals(events)
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "outcome")
    keys = ["tenant_id", "actor_id"]
    # a console password made for an IAM user (CloudTrail's CreateLoginProfile, read as
    # password.reset) is a credential minted too; its change (UpdateLoginProfile) is not
    profile = (pl.col("action") == "password.reset") & pl.col("metadata").str.contains(
        _LOGIN_PROFILE, literal=True
    ).fill_null(False)
    # another IAM user's console password changed (UpdateLoginProfile): the user's sign-in
    # taken over (Stratus Red Team's change-iam-user-password); helpdesk work when the
    # actor has done it before, so only the first time an actor does it is reported
    change = (pl.col("action") == "password.reset") & pl.col("metadata").str.contains(
        _LOGIN_PROFILE_CHANGE, literal=True
    ).fill_null(False)
    created = (
        subset(
            events,
            (*cols, "targets", "metadata", "actor_type", "source_ip", "user_agent", "geo_country"),
            (pl.col("action") == "api_key.create") | (pl.col("action") == "password.reset"),
            pl.col("outcome") == "success",
        )
        .filter((pl.col("action") == "api_key.create") | profile | change)
        .with_columns(_change=change)
        .drop("metadata")
        .collect()
    )
    # the principal who gets the key: a target of type user other than the creator (the key
    # itself may be listed as a target too)
    recipients = (
        created.lazy()
        .select("event_id", "actor_id", pl.col("targets").alias("_t"))
        .explode("_t")
        .select(
            "event_id",
            pl.col("_t").struct.field("id").alias("_rid"),
            (
                (kind(pl.col("_t").struct.field("type")) == "user")
                & (pl.col("_t").struct.field("id") != pl.col("actor_id"))
            ).alias("_user"),
        )
        .filter(pl.col("_user").fill_null(False))
        .group_by("event_id")
        .agg(pl.col("_rid").first().alias("target_id"))
    )
    creators = subset(
        events, cols, pl.col("actor_id").is_in(created["actor_id"].unique().implode())
    ).join(created.lazy().select(keys).unique(), on=keys, how="semi")
    profile_hours = creators.group_by(*keys, pl.col("occurred_at").dt.hour().alias("hour")).agg(
        n=pl.len()
    )
    near = (
        created.lazy()
        .select(
            "event_id",
            *keys,
            pl.concat_list([(T.dt.hour().cast(pl.Int16) + d) % 24 for d in (-1, 0, 1)])
            .cast(pl.List(pl.Int8))
            .alias("hour"),
        )
        .explode("hour")
        .join(profile_hours, on=[*keys, "hour"], how="left")
        .group_by("event_id", *keys)
        .agg(pl.col("n").sum().alias("near"))
    )
    totals = profile_hours.group_by(keys).agg(total=pl.col("n").sum())
    # the creations of the same burst (the creator's creations in the same hours of the
    # same day, this one included) are not history: eighteen deploy keys added at 2 a.m.
    # do not make 2 a.m. an hour the creator is active
    hour = T.dt.hour().cast(pl.Int16)
    burst = (
        created.lazy()
        .select("event_id", *keys, _day=T.dt.date(), _h=hour)
        .join(
            created.lazy().select(*keys, _day=T.dt.date(), _h2=hour),
            on=[*keys, "_day"],
        )
        .filter((pl.col("_h") - pl.col("_h2")).abs() <= 1)
        .group_by("event_id")
        .agg(_burst=pl.len())
    )
    other = pl.col("target_id").is_not_null()
    # the creator's other events (the creations of the burst are not history)
    share = (pl.col("near") - pl.col("_burst")) / (pl.col("total") - pl.col("_burst"))
    odd_hour = (pl.col("total") > min_history) & (share < rare_hour_share)
    password = pl.col("action") == "password.reset"
    # a console password made within a day of the account's creation is onboarding (the
    # accounts' creations are read only when a console password was made)
    onboarding = pl.LazyFrame(schema={"event_id": pl.String})
    if created.filter(password).height:
        made = (
            subset(
                events,
                ("tenant_id", "occurred_at", "targets", "action", "outcome"),
                pl.col("action") == "user.create",
                pl.col("outcome") == "success",
            )
            .explode("targets")
            .select("tenant_id", _made=T, target_id=pl.col("targets").struct.field("id"))
        )
        onboarding = (
            created.lazy()
            .filter(password)
            .join(recipients, on="event_id")
            .join(made, on=["tenant_id", "target_id"])
            .filter((pl.col("_made") <= T) & ((T - pl.col("_made")) <= timedelta(days=1)))
            .select("event_id")
            .unique()
        )
    minted = _minted(created, events, keys, fresh)
    found = (
        created.lazy()
        .join(onboarding, on="event_id", how="anti")
        .join(recipients, on="event_id", how="left")
        .join(near, on=["event_id", *keys], how="left")
        .join(totals, on=keys, how="left")
        .join(burst, on="event_id", how="left")
        .join(minted, on="event_id", how="left")
        .with_columns(
            pl.col("_burst").fill_null(1),
            pl.col("_minted").fill_null(False),
            pl.col("_privileged").fill_null(False),
            pl.col("_via_net").fill_null(False),
        )
        .with_columns(_minted=pl.col("_minted") & (pl.col("total") > min_history).fill_null(False))
        .with_columns(_other=other, _odd=odd_hour)
        # a key or password the actor made for the same user on `ROUTINE_DAYS` earlier
        # days is its rotation (a scheduled job renewing service users' keys every week)
        .with_columns(
            _routine=(
                T.dt.date().rank("dense").over([*keys, "action", "target_id"]) > _ROUTINE_DAYS
            )
            & pl.col("_other")
        )
        .with_columns(_first=T.filter(pl.col("_change") & pl.col("_other")).min().over(keys) == T)
        # a password for oneself, even at night, is not a credential minted for another
        .join(began(events).rename({"_began": "_t0"}), on="tenant_id", how="left")
        .filter(
            pl.when("_change")
            .then(pl.col("_other") & pl.col("_first") & (T - pl.col("_t0") >= _CHANGE_HISTORY))
            .otherwise(pl.col("_other") | (pl.col("_odd") & ~password) | pl.col("_minted"))
        )
        .select(
            *keys,
            T.alias("first_seen"),
            T.alias("last_seen"),
            pl.concat_list("event_id").alias("event_ids"),
            pl.when(pl.col("_routine"))
            .then(pl.lit("low"))
            .when((pl.col("_other") & pl.col("_odd")) | pl.col("_minted"))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium"))
            .alias("severity"),
            pl.concat_str(
                pl.format(
                    "{} {}",
                    q(pl.col("actor_id")),
                    pl.when("_change")
                    .then(pl.lit("changed the console password (the login profile)"))
                    .when(password)
                    .then(pl.lit("created a console password (a login profile)"))
                    .otherwise(pl.lit("created an API key")),
                ),
                pl.when(pl.col("_other")).then(
                    pl.format(
                        " {} another user ({})",
                        pl.when("_change").then(pl.lit("of")).otherwise(pl.lit("for")),
                        q(pl.col("target_id")),
                    )
                ),
                pl.when(pl.col("_sa").is_not_null() & ~pl.col("_other")).then(
                    pl.format(" for service account {}", q(pl.col("_sa")))
                ),
                pl.when(pl.col("_privileged")).then(
                    pl.format(" (which holds {} in the trail)", pl.col("_roles"))
                ),
                pl.format(" at {}", fmt_time(T)),
                pl.when(pl.col("_minted")).then(
                    pl.format(
                        " from {}",
                        pl.when("_via_net")
                        .then(pl.format("a network they had never used ({})", pl.col("source_ip")))
                        .otherwise(
                            pl.format("a client they had never used ({})", q(pl.col("_client")))
                        ),
                    )
                ),
                pl.when("_change").then(
                    pl.lit(" (the first time they changed another user's password)")
                ),
                pl.when(pl.col("_routine")).then(
                    pl.lit(" (they did so for that user on earlier days: a rotation)")
                ),
                pl.when(pl.col("_odd")).then(
                    pl.format(
                        ", an hour when they are rarely active ({}% of their {} events)",
                        fmt_float(share * 100, 1),
                        pl.col("total") - pl.col("_burst"),
                    )
                ),
                pl.lit("."),
                ignore_nulls=True,
            ).alias("summary"),
        )
    )
    # a burst of keys (a deploy key added to each of twelve repositories at 2 a.m.) is one
    # finding, as severe as its most severe key; high when it holds `_MANY_KEYS` keys made
    # from a network or a country new to their maker (doors left on every repository)
    away = (
        away_from_home(
            created.lazy().select(*keys, "occurred_at", "event_id", "source_ip", "user_agent",
                                  "geo_country"),
            events, keys, fresh,
        )
        .select("event_id", _away=pl.col("_new_net") | pl.col("_new_country"))
        .unique("event_id")
    )  # fmt: skip
    rank = pl.col("severity").replace_strict(_RANK, return_dtype=pl.Int8)
    grouped = (
        episodes(
            found.rename({"first_seen": "occurred_at"})
            .with_columns(event_id=pl.col("event_ids").list.first())
            .join(away, on="event_id", how="left"),
            keys,
            _KEY_BURST,
        )
        .sort("occurred_at")
        .group_by("_episode")
        .agg(
            pl.col(*keys).first(),
            pl.col("occurred_at").min().alias("first_seen"),
            pl.col("last_seen").max(),
            pl.col("event_ids").list.explode().alias("event_ids"),
            pl.col("severity").sort_by(rank, descending=True).first(),
            pl.col("summary").sort_by(rank, descending=True, maintain_order=True).first(),
            # the most severe first, each phrasing once (twelve deploy keys read alike)
            pl.col("summary")
            .sort_by(rank, descending=True, maintain_order=True)
            .str.replace(r"^'(?:[^']|'')*' ", "")
            .str.replace(r" at \d{4}-\d\d-\d\d \d\d:\d\d UTC", "")
            .unique(maintain_order=True)
            .alias("_summaries"),
            pl.len().alias("_n"),
            pl.col("_away").fill_null(False).any(),
        )
        .with_columns(
            severity=pl.when((pl.col("_n") >= _MANY_KEYS) & pl.col("_away"))
            .then(pl.lit("high"))
            .otherwise(pl.col("severity")),
            summary=pl.when(pl.col("_n") > 1)
            .then(
                pl.format(
                    "{} made {} keys or passwords {}{}: {}",
                    q(pl.col("actor_id")),
                    pl.col("_n"),
                    fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                    pl.when(pl.col("_away"))
                    .then(pl.lit(", some from a network or a country new to them"))
                    .otherwise(pl.lit("")),
                    first_few(pl.col("_summaries"), 3, " "),
                )
            )
            .otherwise(pl.col("summary")),
        )
    )
    return finalize(grouped, "suspicious_api_key")


def _minted(
    created: pl.DataFrame, events: Events, keys: list[str], fresh: timedelta
) -> pl.LazyFrame:
    """For each key creation of ``created``: ``_sa`` (the service account it is for),
    ``_roles`` and ``_privileged`` (the privileged roles the trail shows it granted),
    ``_client``, ``_via_net`` (made from a network new to its creator) and ``_minted``
    (a person made it from a new network, or, for a privileged service account, from a
    new client, for a service account or as an organisation API token)."""
    targets = (
        created.lazy().select("event_id", "actor_id", pl.col("targets").alias("_t")).explode("_t")
    )
    target_id = pl.col("_t").struct.field("id")
    target_kind = kind(pl.col("_t").struct.field("type"))
    about = (
        targets.select(
            "event_id",
            _sa=target_id.str.extract(_SERVICE_ACCOUNT, 1).str.to_lowercase(),
            _token=(target_kind == "token").fill_null(False),
            # a key for another user (GitLab's personal access token an administrator
            # makes for a user, an impersonation token; CloudTrail's CreateAccessKey for
            # another IAM user) acts as that user
            _for_user=((target_kind == "user") & (target_id != pl.col("actor_id"))).fill_null(
                False
            ),
        )
        .group_by("event_id")
        .agg(pl.col("_sa").drop_nulls().first(), pl.col("_token").any(), pl.col("_for_user").any())
    )
    key = pl.col("action") == "api_key.create"
    rows = (
        created.lazy()
        .join(about, on="event_id", how="left")
        # a console password made or changed for another IAM user is a credential too
        .filter((key & (pl.col("_sa").is_not_null() | pl.col("_token"))) | pl.col("_for_user"))
    )
    schema = {"event_id": pl.String, "_sa": pl.String, "_roles": pl.String,
              "_privileged": pl.Boolean, "_client": pl.String, "_via_net": pl.Boolean,
              "_minted": pl.Boolean}  # fmt: skip
    picked = rows.collect()
    if picked.height == 0:
        return pl.LazyFrame(schema=schema)
    # the privileged roles the trail shows granted to each service account
    grants = (
        subset(
            events,
            ("tenant_id", "action", "outcome", "targets", "metadata"),
            pl.col("action") == "role.grant",
            pl.col("outcome") == "success",
            pl.col("targets").list.eval(pl.element().struct.field("id").str.contains(
                "gserviceaccount.com", literal=True)).list.any().fill_null(False),
        )
        .explode("targets")
        .select(
            "tenant_id",
            _sa=pl.col("targets").struct.field("id").str.extract(_SERVICE_ACCOUNT, 1)
            .str.to_lowercase(),
            _role=pl.coalesce(
                pl.col("targets").struct.field("name"),
                pl.col("metadata").str.json_path_match("$.role"),
            ),
        )
        .filter(pl.col("_sa").is_not_null() & pl.col("_role").str.contains(_PRIVILEGED_ROLE))
        .group_by("tenant_id", "_sa")
        .agg(_roles=pl.col("_role").unique().sort().str.join(", "))
    )  # fmt: skip
    among = picked.lazy().select(keys).unique()
    judged = (
        with_newcomer_firsts(picked.lazy(), events, keys, among)
        .join(grants, on=["tenant_id", "_sa"], how="left")
        .join(began(events, keys, among=among), on=keys, how="left")
    )
    spans = picked.lazy().select(pl.col("event_id").alias("_episode"), *keys, T.alias("first_seen"))
    moving = roaming(
        spans,
        network_firsts(events, keys, among),
        active_days(events, keys, among),
    ).rename({"_episode": "event_id"})
    person = (pl.col("actor_type") == "user").fill_null(False) & ~pl.col("actor_id").str.contains(
        "gserviceaccount.com", literal=True
    ).fill_null(False)
    privileged = pl.col("_roles").is_not_null()
    via_net = (new_network(fresh) & ~pl.col("_roaming").fill_null(False)).fill_null(False)
    via_client = (pl.col("_client").is_not_null() & new_client(fresh)).fill_null(False)
    return (
        judged.join(moving, on="event_id", how="left")
        .select(
            "event_id",
            "_sa",
            "_roles",
            _privileged=privileged,
            _client=pl.col("_client"),
            _via_net=via_net,
            _minted=person
            & (pl.col("_sa") != pl.col("actor_id").str.to_lowercase()).fill_null(True)
            # every network is new to an actor the trail has just begun to show
            & ((T - pl.col("_began")) >= fresh).fill_null(False)
            & (via_net | (privileged & pl.col("_sa").is_not_null() & via_client)),
        )
        .unique("event_id")
    )


@register_detector("dormant_account", title="Dormant account reactivated", severity="medium")
def dormant_account(
    events: Events,
    *,
    idle: str | timedelta = "30d",
    follow: str | timedelta = "1h",
    exclude_actor_types: Sequence[str] = ("system",),
) -> pl.DataFrame:
    """An actor active again after a long silence: a leaver's account, or a forgotten
    service credential, being used by someone.

    Only successful events count as activity: failed logins against a dormant
    account (guessing) neither end the silence nor count as its use.

    Parameters
    ----------
    events
        Event frame (eager or lazy).  Only actors seen before the silence count, so
        the frame must span more than ``idle``.
    idle
        Silence that makes an account dormant.
    follow
        The evidence is the first event after the silence and the actor's events
        within ``follow`` of it.
    exclude_actor_types
        Actor types never reported (the system itself).

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": ts, "action": "user.login",
    ...      "actor": {"id": "kim"}} for ts in ("2026-01-05T09:00:00Z", "2026-03-01T22:00:00Z")])
    >>> print(dormant_account(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'kim' is active again at 2026-03-01 22:00 UTC after 55d13h idle (last seen 2026-01-05 09:00
    UTC): 1 event(s), first user.login.
    """
    gap, after = duration(idle, name="idle"), duration(follow, name="follow")
    keys = ["tenant_id", "actor_id"]
    cols = ("tenant_id", "actor_id", "actor_type", "occurred_at", "event_id", "action", "outcome")
    active = (
        lazy(events, *cols)
        .filter(pl.col("outcome") == "success")
        .filter(~pl.col("actor_type").is_in(list(exclude_actor_types)).fill_null(False))
    )
    # silences longer than `idle` span whole buckets: find them between per-bucket extremes
    bucket = min(gap, timedelta(days=1))
    spans = (
        active.group_by(*keys, T.dt.truncate(bucket).alias("_b"))
        .agg(_first=T.min(), _last=T.max())
        .sort([*keys, "_b"])
        .with_columns(
            _prev=pl.when(~key_changed(keys)).then(pl.col("_last").shift(1)),
        )
        .filter((pl.col("_first") - pl.col("_prev")) >= gap)
        .select(*keys, pl.col("_first").alias("_since"), pl.col("_prev").alias("_last"))
    )
    lf = (
        active.join(spans, on=keys)
        .filter((pl.col("_since") <= T) & ((T - pl.col("_since")) <= after))
        .sort("occurred_at")
    )
    found = (
        lf.group_by(*keys, "_since")
        .agg(
            *finding_span(),
            pl.col("_last").first(),
            pl.col("action").first().alias("first_action"),
        )
        .with_columns(
            severity=pl.lit("medium"),
            summary=pl.format(
                "{} is active again at {} after {} idle (last seen {}): {} event(s), first {}.",
                q(pl.col("actor_id")),
                fmt_time(pl.col("first_seen")),
                fmt_duration(pl.col("first_seen") - pl.col("_last")),
                fmt_time(pl.col("_last")),
                pl.col("event_ids").list.len(),
                pl.col("first_action"),
            ),
        )
    )
    return finalize(found, "dormant_account")


@register_detector("break_glass", title="Break-glass or root account used", severity="high")
def break_glass(
    events: Events,
    *,
    root_ids: Sequence[str] = ("root",),
    gap: str | timedelta = "1h",
    machine_history: str | timedelta = "7d",
) -> pl.DataFrame:
    """Any use of an emergency (break-glass) or root account; each use should be explained.
    And a machine's account signing in for the first time, from a network it never used.

    An event counts when ``metadata.break_glass`` is true or the actor id is one of
    ``root_ids`` (case-insensitive).  Events of one account no more than ``gap``
    apart make one finding.

    An account named as a machine's (``svc-backup``, ``ci-bot-2``, ``deploy``, a Google
    Cloud service account) or typed a service, active for ``machine_history`` and on
    three days or more without one successful sign-in, that signs in from a network it
    never used is its credentials in a person's hands (a console sign-in with a
    service's password): high too.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...     "action": "user.login", "actor": {"id": "Root"}}])
    >>> print(break_glass(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    Break-glass/root account 'Root' used: 1 event(s) (user.login) between 2026-01-05 09:00 UTC
    and 2026-01-05 09:00 UTC.
    """
    g = duration(gap, name="gap")
    h = duration(machine_history, name="machine_history")
    meta = pl.col("metadata")
    roots = [r.lower() for r in root_ids]
    root = pl.col("actor_id").str.to_lowercase().is_in(roots)
    marked = meta.str.json_path_match("$.break_glass").str.to_lowercase().eq("true")
    cols = ("tenant_id", "actor_id", "occurred_at", "event_id", "action", "metadata")
    # cheap tests over every event first (a substring; an id of a root id's length)
    maybe = meta.str.contains("break_glass", literal=True).fill_null(False) | pl.col(
        "actor_id"
    ).str.len_bytes().is_in([len(r.encode()) for r in roots])
    used = subset(events, cols, maybe, marked.fill_null(False) | root)
    found = (
        episodes(used, ["tenant_id", "actor_id"], g)
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            pl.col("action").unique(maintain_order=True).alias("what"),
        )
        .with_columns(
            severity=pl.lit("high"),
            summary=pl.format(
                "Break-glass/root account {} used: {} event(s) ({}) between {} and {}.",
                q(pl.col("actor_id")),
                pl.col("event_ids").list.len(),
                pl.col("what").list.head(6).list.join(", "),
                fmt_time(pl.col("first_seen")),
                fmt_time(pl.col("last_seen")),
            ),
        )
    )
    machine = _machine_signins(events, h)
    if machine.height == 0:
        return finalize(found, "break_glass")
    return finalize(
        pl.concat([found.collect(), machine], how="diagonal_relaxed").lazy(), "break_glass"
    )


#: An actor named as a machine's: ``svc-backup``, ``ci-bot-2``, ``deploy_user``,
#: ``etl-sync``, ``terraform``, a Google Cloud service account.
_MACHINE_NAME: Final = (
    r"(?i)(?:^|[^a-z])(?:svc|service|srv|bot|robot|ci|cd|backup|backups|deploy|deployer|"
    r"sync|automation|pipeline|jenkins|terraform|etl|integration|daemon|batch|job|cron)"
    r"(?:$|[^a-z])|gserviceaccount\.com$"
)


def _machine_signins(events: Events, history: timedelta) -> pl.DataFrame:
    """An account named as a machine's (:data:`_MACHINE_NAME`) or typed a service,
    seen for at least ``history`` and on :data:`ESTABLISHED_DAYS` days without ever
    signing in, whose first successful sign-in comes from a network it never used: its
    key or password in a person's hands, at the console."""
    keys = ["tenant_id", "actor_id"]
    cols = (*keys, "occurred_at", "event_id", "action", "outcome", "source_ip", "actor_type")
    name = pl.col("actor_id").str.split("/").list.last()
    firsts = (
        subset(
            events,
            cols,
            pl.col("action") == LOGIN,
            pl.col("outcome") == "success",
        )
        .filter(name.str.contains(_MACHINE_NAME) | (pl.col("actor_type") == "service"))
        .filter(T.min().over(keys) == T)
        .unique(keys, keep="first")
        .collect()
    )
    if firsts.height == 0:
        return firsts.clear()
    among = firsts.lazy().select(keys)
    days = (
        active_days(events, keys, among)
        .join(firsts.lazy().select(*keys, "occurred_at"), on=keys)
        .filter(pl.col("_day") < T.dt.date())
        .group_by(keys)
        .agg(_days=pl.len())
    )
    found = (
        firsts.lazy()
        .with_columns(_net=network(pl.col("source_ip")))
        .join(began(events, keys, among=among), on=keys)
        .join(days, on=keys, how="left")
        .join(network_firsts(events, keys, among), on=[*keys, "_net"], how="left")
        .filter(
            (T - pl.col("_began") >= history)
            & (pl.col("_days").fill_null(0) >= ESTABLISHED_DAYS)
            & new_network(timedelta(0))
        )
        .select(
            *keys,
            pl.col("occurred_at").alias("first_seen"),
            pl.col("occurred_at").alias("last_seen"),
            pl.concat_list("event_id").alias("event_ids"),
            pl.lit("high").alias("severity"),
            pl.format(
                "{}, a machine's account that had not signed in once in {} of activity "
                "(since {}), signed in at {} from {}, a network it had never used: its "
                "credentials used by a person.",
                q(pl.col("actor_id")),
                fmt_duration(T - pl.col("_began")),
                fmt_time(pl.col("_began")),
                fmt_time(T),
                pl.col("source_ip").fill_null("an unknown address"),
            ).alias("summary"),
        )
        .collect()
    )
    return found


#: Verbs that end or refuse an impersonation rather than start one.
_IMPERSONATION_ENDS: Final = frozenset(
    ("end", "ended", "stop", "stopped", "revoke", "revoked", "expire", "expired", "deny",
     "denied", "cancel", "delete", "close")
)  # fmt: skip


def starts_impersonation(action: str) -> bool:
    """Whether an action starts (or grants) acting as another user.

    >>> [starts_impersonation(a) for a in ("user.impersonate",
    ...     "user_session_impersonation.initiate", "user_session_impersonation.grant",
    ...     "user_session_impersonation.end", "impersonation_token.create", "user.login")]
    [True, True, True, False, True, False]
    """
    noun, verb = action_words(action)
    words = [*noun, *verb]
    return (
        any(w.startswith("impersonat") for w in words)
        and bool(verb)
        and not _IMPERSONATION_ENDS.intersection(verb)
    )


@register_detector("impersonation", title="User impersonated", severity="high")
def impersonation(
    events: Events, *, min_history: str | timedelta = "7d", gap: str | timedelta = "1h"
) -> pl.DataFrame:
    """An actor acting as another user for the first time in the trail: an
    administrator's impersonation (GitLab's ``Started Impersonation``, Okta's
    ``user.session.impersonation.initiate``), an impersonation token made, or a
    support-access grant (Okta's ``user.session.impersonation.grant``).

    Whoever holds an administrator's session can become any user without their
    password or second factor, and what they then do is written under the victim's
    name.  Support staff impersonate routinely, so only an actor's first
    impersonation is reported: high when the tenant's trail began at least
    ``min_history`` before it, medium before that and when it was refused.  Later
    impersonations by the same actor are not reported again.  An actor's
    impersonations no more than ``gap`` apart are one finding.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-01T09:00:00Z",
    ...      "action": "user.login", "actor": {"id": "root-admin"}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-12T22:40:00Z",
    ...      "action": "user.impersonate", "actor": {"id": "root-admin"},
    ...      "targets": [{"id": "cfo", "type": "user"}]}])
    >>> print(impersonation(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'root-admin' acted as 'cfo' at 2026-01-12 22:40 UTC (user.impersonate), its first
    impersonation in the trail.
    """
    w = duration(min_history, name="min_history")
    g = duration(gap, name="gap")
    actions = actions_where(events, starts_impersonation)
    if not actions:
        return empty()
    keys = ["tenant_id", "actor_id"]
    cols = (*keys, "event_id", "occurred_at", "action", "outcome", "target_id", "targets")
    hits = subset(
        events, cols, pl.col("action").is_in(actions), pl.col("actor_id").is_not_null()
    ).with_columns(
        # whom, by name where the producer gives one (GitLab's ids are numbers)
        _whom=pl.coalesce(pl.col("targets").list.first().struct.field("name"), pl.col("target_id"))
    )
    ok = pl.col("outcome") == "success"
    firsts = (
        hits.with_columns(_first=first_time(*keys, ok=ok))
        .filter((pl.col("_first") <= T) & (T - pl.col("_first") <= g))
        .join(began(events), on="tenant_id", how="left", maintain_order="left")
    )
    found = (
        episodes(firsts, keys, g)
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("_whom").drop_nulls().unique(maintain_order=True),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            ok.any().alias("_done"),
            ((pl.col("_first") - pl.col("_began")) >= w).all().alias("_old"),
        )
        .with_columns(
            severity=pl.when(pl.col("_done") & pl.col("_old"))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} {} {} ({}), its first impersonation in the trail.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("acted as")).otherwise(pl.lit("tried to act as")),
                pl.when(pl.col("_whom").list.len() > 0)
                .then(first_few(pl.col("_whom").list.eval(q(pl.element())), 3, ", "))
                .otherwise(pl.lit("another user")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
            ),
        )
    )
    return finalize(found, "impersonation")
