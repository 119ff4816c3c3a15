"""Exfiltration and destruction: mass export or download, and mass deletion, per actor
per sliding window, quiet on an actor's own recurring bulk work.

They read successful events whose verb (what follows the action's last dot) says
export, download or dump anywhere (``document.export``, ``report.download``,
``document.bulk_export``, ``database.dump``), and ``<entity>.delete`` (including
``user.delete``).  Exports are counted in two
windows: a short one for bursts and a day for exports spread thin (ten an hour all
day and night).

Recurring work (month-end and quarter-end exports by a reporting key, nightly purges
by a job) is recognised from the actor's own history of bursts, per actor and
action: a burst is recurring when earlier bursts of that actor and action, at least
half its size, came at the same phase of a period: the same hour of the day on two
earlier days within a week; the same weekday and hour on two earlier weeks within
five; the same day of the month, or the same number of days before the month's end,
in an earlier month within 100 days (which also covers quarter-ends).  A burst that
is not recurring yet but recurs *later* at such a phase (the first nights of a nightly
job, before it has a history) is reported low.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, Final

import polars as pl

from auditkit.analytics.detectors._principals import CREDENTIAL_ACTIONS
from auditkit.analytics.detectors.common import (
    ESTABLISHED_DAYS,
    Events,
    T,
    action_words,
    actions_matching,
    actions_where,
    began,
    bursts,
    classified,
    client_agent,
    client_firsts,
    duration,
    empty,
    episodes,
    established,
    finalize,
    finding_span,
    first_few,
    fmt_between,
    fmt_duration,
    fmt_time,
    git_operations,
    git_push,
    human,
    is_person,
    json_or_none,
    key_changed,
    lazy,
    network,
    network_firsts,
    new_client,
    new_network,
    new_network_text,
    newcomer_aggregations,
    noun,
    noun_terms,
    positive,
    producer_request,
    q,
    roaming,
    subset,
    verb,
)
from auditkit.analytics.detectors.ransom import writes_objects
from auditkit.analytics.detectors.registry import register_detector

__all__ = [
    "EXPORT_VERBS",
    "READ_VERBS",
    "bulk_read",
    "creates_key",
    "destroys_key",
    "is_deletion",
    "key_destruction",
    "mass_deletion",
    "mass_export",
]

#: Verbs of exports: export, download or dump anywhere in the verb.
EXPORT_VERBS: Final = r"export|download|dump"
#: Verbs that read one item's content (``s3_object.get``, ``storage_objects.get``,
#: ``document.read``, ``repository.clone``, ``s3.getobject``): the road a collection takes
#: when exports are watched.  ``list`` and ``search`` enumerate, and are left out.
READ_VERBS: Final = r"^(?:get|read|view|open|fetch|clone|pull|retrieve)"
#: A word that says an item is destroyed, as each source spells it (``delete``,
#: ``DeleteObjects`` read as ``deleteobjects``, ``destroyed``, ``purge``, ``terminate``,
#: ``drop``, ``batchdelete``...).  ``undelete`` is not one: nothing may come before the stem
#: but a word saying how much or how hard.
_DELETE_WORD: Final = re.compile(
    r"^(?:bulk|batch|mass|multi|soft|hard|force|permanent(?:ly)?)?"
    r"(?:delet|remov|destr|purg|eras|wip(?:e|ing)|terminat|drop(?!box|down)|shred|expung|"
    r"obliterat|trash)"
)
#: Words that undo, prevent or merely schedule the absence of a deletion.
_NOT_DELETE: Final = frozenset(
    (
        "undelete",
        "undeleted",
        "restore",
        "restored",
        "recover",
        "recovered",
        "cancel",
        "cancelled",
        "canceled",
        "revert",
        "reverted",
        "abort",
        "aborted",
        "fail",
        "failed",
        "failure",
        "denied",
        "protection",
        "protect",
        "protected",
        "marker",
        "prevent",
        "prevented",
        "blocked",
    )
)
#: Verbs that report on a deletion named before them (Okta
#: ``user.lifecycle.delete.initiated``, GitLab ``project_deletion_marked``).
_STATUS: Final = frozenset(
    (
        "initiated",
        "initiate",
        "completed",
        "complete",
        "requested",
        "request",
        "started",
        "start",
        "succeeded",
        "success",
        "successful",
        "done",
        "finished",
        "finish",
        "scheduled",
        "schedule",
        "mark",
        "marked",
        "executed",
        "execute",
        "performed",
        "processed",
        "confirmed",
        "confirm",
    )
)
#: What a deletion takes away that is not an item: a membership, a subscription, a
#: session, a cache.
_NOT_AN_ITEM: Final = re.compile(
    r"member|permission|participant|collaborator|assignment|\b(?:from|subscri|watchers?|"
    r"reactions?|favou?rites?|bookmarks?|stars?|followers?|sessions?|cookies?|caches?|"
    r"notifications?)"
)
#: What a removal takes away from an item that stays: a role, a grant, a label.
_ATTACHED: Final = re.compile(r"\b(?:roles?|access|assign|grants?|tags?|labels?|owners?)\b")
#: What terminating or dropping ends that holds no data: a job, a connection, a query.
_RUNTIME: Final = re.compile(
    r"\b(?:connections?|jobs?|tasks?|process(?:es)?|quer(?:y|ies)|runs?|workflows?|builds?|"
    r"pipelines?|calls?|executions?|workers?|threads?)\b"
)


def is_deletion(action: str) -> bool:
    """True for an action that destroys an item, however its source names it: the verb
    (what follows the last dot) starts or ends with a word of destruction, or reports the
    status of one named just before it; not when a word undoes or prevents it, nor for
    removals of memberships, sessions, caches, or of roles or labels from an item, nor for
    terminating jobs or connections.

    >>> names = ["document.delete", "s3_objects.delete", "s3.deleteobjects",
    ...          "ec2.TerminateInstances", "storage.objects.delete",
    ...          "google.cloud.sql.v1.SqlInstancesService.Delete",
    ...          "user.lifecycle.delete.initiated", "user_lifecycle_delete.completed",
    ...          "gitlab.project_destroyed", "repository.purged", "file.remove", "disk.wipe",
    ...          "spanner_database.drop", "kms_key_deletion.schedule", "document.bulk_delete"]
    >>> [n for n in names if not is_deletion(n)]
    []
    >>> names = ["team_member.remove", "group.user_membership.remove", "session.terminate",
    ...          "gitlab.member_destroyed", "label.remove", "ec2_job.terminate",
    ...          "logging_bucket.undelete", "kms_key_deletion.cancel", "document.export",
    ...          "rds.disable_deletion_protection", "delayed_project_removal.update",
    ...          "entity.expire", "api_key.revoke", "delete_marker.create"]
    >>> [n for n in names if is_deletion(n)]
    []
    """
    noun_words, verb_words = action_words(action)
    if not verb_words or any(w in _NOT_DELETE for w in (*noun_words, *verb_words)):
        return False
    if _deregisters_image([*noun_words, *verb_words]):
        return True
    # ``bulk_delete``, ``soft_delete``: words of how much come first
    core = [w for w in verb_words if w not in {"bulk", "batch", "mass", "soft", "hard", "force"}]
    if not core:
        return False
    before = [*noun_words, *verb_words[:-1]]
    if _DELETE_WORD.match(core[0]) or _DELETE_WORD.match(core[-1]):
        word = core[0] if _DELETE_WORD.match(core[0]) else core[-1]
    elif core[-1] in _STATUS and before and _DELETE_WORD.match(before[-1]):
        word = before[-1]
    else:
        return False
    rest = " ".join(w for w in (*noun_words, *verb_words) if w != word and w not in _STATUS)
    if _NOT_AN_ITEM.search(rest) or (word.startswith("remov") and _ATTACHED.search(rest)):
        return False
    return not (word.startswith(("terminat", "drop")) and _RUNTIME.search(rest))


def _deregisters_image(words: list[str]) -> bool:
    """A machine image deregistered (EC2's ``DeregisterImage``, read as
    ``ec2_image.deregister``): the image is gone, and with it a way to restore the
    instances made from it.  Other deregistrations (a load balancer's targets, a task
    definition) are not deletions."""
    for i, word in enumerate(words):
        if not word.startswith("deregist"):
            continue
        if word.endswith(("image", "images")):
            return True
        if {*words[max(i - 1, 0) : i], *words[i + 1 : i + 2]} & {"image", "images", "ami", "amis"}:
            return True
    return False


def _runs(
    lf: pl.LazyFrame, window: timedelta, threshold: int, split: timedelta | None = None
) -> pl.LazyFrame:
    """The bursts of ``lf`` per actor (``bursts``), each as one row; with ``split``,
    evidence further apart than that is two runs (so that a day-long window does not
    join the runs of consecutive nights)."""
    rows = bursts(lf, ["tenant_id", "actor_id"], window=window, threshold=threshold)
    if split is not None:
        cut = (pl.col("_episode") != pl.col("_episode").shift(1)) | ((T - T.shift(1)) > split)
        rows = rows.with_columns(_episode=cut.fill_null(True).cum_sum())
    return rows.with_columns(_window=pl.lit(window))


def _mass(
    events: Events,
    *,
    actions: pl.Expr,
    what: str,
    detector: str,
    threshold: int,
    window: str | timedelta,
    exclude_actor_types: Sequence[str],
    recurring: bool,
    slow_threshold: int | None = None,
    slow_window: str | timedelta | None = None,
) -> pl.DataFrame:
    w = duration(window)
    positive(threshold, "threshold")
    cols = ("tenant_id", "actor_id", "actor_type", "occurred_at", "event_id", "action", "outcome")
    lf = subset(
        events,
        (*cols, "target_id"),
        actions,
        pl.col("outcome") == "success",
        ~pl.col("actor_type").is_in(list(exclude_actor_types)).fill_null(False),
    ).collect()
    rows = _runs(lf.lazy(), w, threshold).collect()
    if slow_threshold is not None and slow_window is not None:
        sw = duration(slow_window, name="slow_window")
        positive(slow_threshold, "slow_threshold")
        # exports spread thin: a day's worth, less what the bursts already hold
        slow = (
            _runs(lf.lazy(), sw, slow_threshold, split=max(w, sw / 4))
            .join(rows.lazy().select("event_id"), on="event_id", how="anti")
            .filter(pl.len().over("_episode") >= slow_threshold)
            .with_columns(_episode=pl.col("_episode") + (rows.get_column("_episode").max() or 0))
            .collect()
        )
        rows = pl.concat([rows, slow.select(rows.columns)])
    runs = (
        rows.lazy()
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id", "actor_type", "_window"),
            pl.col("_peak").max().alias("peak"),
            pl.col("target_id").n_unique().alias("targets"),
            noun(pl.col("action")).unique().sort().alias("kinds"),
            pl.col("action").unique().sort().str.join(",").alias("_what"),
        )
        .collect()
    )
    repeats = _recurrence(runs)
    if recurring:
        runs = runs.join(repeats.filter("_recurring").select("_episode"), on="_episode", how="anti")
    found = (
        runs.lazy()
        .join(repeats.lazy(), on="_episode", how="left")
        .with_columns(
            severity=pl.when(pl.col("_scheduled") & ~pl.col("_recurring"))
            .then(pl.lit("low"))
            .when(is_person())
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.concat_str(
                pl.format(
                    "{} {} {} item(s) ({} distinct; {}) between {} and {} (at most {} within {})",
                    q(pl.col("actor_id")),
                    pl.lit(what),
                    pl.col("event_ids").list.len(),
                    pl.col("targets"),
                    pl.col("kinds").list.head(5).list.join(", "),
                    fmt_time(pl.col("first_seen")),
                    fmt_time(pl.col("last_seen")),
                    pl.col("peak"),
                    fmt_duration(pl.col("_window")),
                ),
                pl.when(pl.col("_earlier") > 0)
                .then(
                    pl.format(
                        "; its {} earlier bulk run(s) (the last at {}) were at another time "
                        "of day, week or month or much smaller: not its recurring work",
                        pl.col("_earlier"),
                        fmt_time(pl.col("_last_run")),
                    )
                )
                .otherwise(pl.lit("; no earlier bulk run by this actor: not recurring work")),
                pl.when(pl.col("_recurring")).then(pl.lit(" (recurring, reported on request)")),
                pl.when(pl.col("_scheduled") & ~pl.col("_recurring")).then(
                    pl.lit(
                        "; but it recurs later at the same time of day, week or month: "
                        "the first runs of scheduled work"
                    )
                ),
                pl.lit("."),
                ignore_nulls=True,
            ),
        )
    )
    return finalize(found, detector)


def _recurrence(runs: pl.DataFrame) -> pl.DataFrame:
    """Per burst: ``_recurring`` (earlier bursts of the actor and action, at least half its
    size, at the same phase of a day, week or month), ``_scheduled`` (the same, counting
    later bursts too), ``_earlier`` (earlier bursts of the actor and action) and
    ``_last_run`` (the latest of them)."""
    keys = ["tenant_id", "actor_id", "_what"]
    start = pl.col("first_seen")
    phases = runs.lazy().select(
        "_episode",
        *keys,
        start.alias("_at"),
        pl.col("event_ids").list.len().alias("_n"),
        start.dt.hour().cast(pl.Int32).alias("_hour"),
        start.dt.weekday().alias("_wd"),
        start.dt.day().cast(pl.Int32).alias("_dom"),
        (start.dt.month_end().dt.day() - start.dt.day()).cast(pl.Int32).alias("_dte"),
        (start.dt.year() * 12 + start.dt.month()).alias("_month"),
    )
    other = phases.select(
        *keys,
        *[
            pl.col(c).alias(c + "2")
            for c in ("_episode", "_at", "_n", "_hour", "_wd", "_dom", "_dte", "_month")
        ],
    )
    hour_apart = (pl.col("_hour") - pl.col("_hour2")).abs()
    same_hour = pl.min_horizontal(hour_apart, 24 - hour_apart) <= 2
    apart = (pl.col("_at") - pl.col("_at2")).abs()
    day = (apart.dt.total_days() >= 1) & (apart <= timedelta(days=8)) & same_hour
    week = (
        (pl.col("_wd") == pl.col("_wd2"))
        & (apart.dt.total_days() >= 6)
        & (apart <= timedelta(days=36))
        & same_hour
    )
    month = (
        (pl.col("_month") != pl.col("_month2"))
        & (apart <= timedelta(days=100))
        & (
            ((pl.col("_dom") - pl.col("_dom2")).abs() <= 2)
            | ((pl.col("_dte") - pl.col("_dte2")).abs() <= 2)
        )
    )
    before = pl.col("_at2") < pl.col("_at")
    pairs = (
        phases.join(other, on=keys)
        .filter(pl.col("_episode2") != pl.col("_episode"))
        .with_columns(_big=pl.col("_n2") * 2 >= pl.col("_n"))
        .group_by("_episode")
        .agg(
            _earlier=before.sum(),
            _last_run=pl.col("_at2").filter(before).max(),
            _daily=(day & pl.col("_big") & before).sum(),
            _weekly=(week & pl.col("_big") & before).sum(),
            _monthly=(month & pl.col("_big") & before).sum(),
            _daily_all=(day & pl.col("_big")).sum(),
            _weekly_all=(week & pl.col("_big")).sum(),
            _monthly_all=(month & pl.col("_big")).sum(),
        )
    )
    return (
        phases.select("_episode")
        .join(pairs, on="_episode", how="left")
        .select(
            "_episode",
            pl.col("_earlier").fill_null(0),
            "_last_run",
            ((pl.col("_daily") >= 2) | (pl.col("_weekly") >= 2) | (pl.col("_monthly") >= 1))
            .fill_null(False)
            .alias("_recurring"),
            (
                (pl.col("_daily_all") >= 2)
                | (pl.col("_weekly_all") >= 2)
                | (pl.col("_monthly_all") >= 1)
            )
            .fill_null(False)
            .alias("_scheduled"),
        )
        .collect()
    )


@register_detector("mass_export", title="Mass export or download", severity="high")
def mass_export(
    events: Events,
    *,
    threshold: int = 50,
    window: str | timedelta = "1h",
    exclude_actor_types: Sequence[str] = ("system", "service"),
    recurring: bool = True,
    slow_threshold: int = 100,
    slow_window: str | timedelta = "24h",
    min_history: str | timedelta = "7d",
) -> pl.DataFrame:
    """One actor exporting or downloading many items within a sliding window, or spreading
    them thin over a day; or one export or copy job that sends a table outside the
    tenant (:func:`outside_destinations`).

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    threshold
        Successful exports by one actor within ``window``: events whose verb says
        export, download or dump (``document.export``, ``report.download``,
        ``document.bulk_export``).
    window
        Sliding window length.
    slow_threshold, slow_window
        Exports spread thin: at least ``slow_threshold`` within ``slow_window``, not
        counting those of the short bursts (ten an hour for twenty hours).
    exclude_actor_types
        Actor types left out: services and the system run scheduled exports (a
        service account's unusual volume shows up in ``volume_spike``).  API keys
        are kept: a stolen key is how data leaves.
    recurring
        Leave out the actor's recurring bulk work (see the module); ``False`` reports it,
        marked as recurring.  People's bursts are high; API keys' and other
        non-people's medium (their bulk work is usually scheduled); a burst that
        recurs later at the same phase (the first runs of a nightly job) low.
    min_history
        A job that sends a table outside the tenant is high when its actor came from a
        network it had never used and the tenant's trail began at least this long
        before; medium otherwise; low when the tenant sends to that destination on
        three days or more (the first runs of a scheduled export); not reported once
        it has on three earlier days.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...     "action": "document.export", "actor": {"id": "leo"},
    ...     "targets": [{"id": f"doc{i}", "type": "document"}]} for i in range(3)])
    >>> print(mass_export(df, threshold=3)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'leo' exported or downloaded 3 item(s) (3 distinct; document) between 2026-01-05 09:00 UTC
    and 2026-01-05 09:02 UTC (at most 3 within 1h); no earlier bulk run by this actor: not
    recurring work.
    """
    history = duration(min_history, name="min_history")
    found = _mass(
        events,
        actions=pl.col("action").is_in(
            actions_matching(events, verb(pl.col("action")).str.contains(EXPORT_VERBS))
        ),
        what="exported or downloaded",
        detector="mass_export",
        threshold=threshold,
        window=window,
        exclude_actor_types=exclude_actor_types,
        recurring=recurring,
        slow_threshold=slow_threshold,
        slow_window=slow_window,
    )
    outside = _outside_jobs(events, history)
    if outside is None:
        return found
    return pl.concat([found, outside]).sort(["tenant_id", "first_seen", "finding_id"])


#: Keys of a job's configuration that name where its data goes: Cloud Storage URIs
#: (BigQuery's ``extractConfig.destinationUris``, the older ``extract.destinationUris``)
#: and tables (``tableCopyConfig.destinationTable``, a query's or a load's
#: ``destinationTable``: ``projects/P/datasets/D/tables/T``, ``{"projectId": ...}`` or
#: ``P:D.T``).
_DEST_URIS: Final = frozenset(("destinationuris", "destinationuri", "destinationurisfile"))
_DEST_TABLES: Final = frozenset(("destinationtable",))
_GS_BUCKET: Final = re.compile(r"^gs://([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_TABLE_PROJECT: Final = re.compile(r"^(?:projects/([^/\s]+)/|([a-z][a-z0-9.:-]*[a-z0-9]):[^.]+\.)")


def outside_destinations(metadata: str | None) -> list[str]:
    """Where a job's configuration (in the producer's original record) sends its data, as
    ``bucket|NAME|URI`` and ``project|ID|TABLE``; sources are left out.

    Examples
    --------
    >>> import json
    >>> job = {"original": {"protoPayload": {"metadata": {"jobChange": {"job": {"jobConfig": {
    ...     "extractConfig": {"sourceTable": "projects/shop/datasets/c/tables/users",
    ...                       "destinationUris": ["gs://xfer-drop/users-*.csv"]}}}}}}}}
    >>> outside_destinations(json.dumps(job))
    ['bucket|xfer-drop|gs://xfer-drop/users-*.csv']
    >>> copy = {"original": {"protoPayload": {"serviceData": {"jobInsertRequest": {"resource": {
    ...     "jobConfiguration": {"tableCopy": {"destinationTable": {"projectId": "evil",
    ...     "datasetId": "loot", "tableId": "t"}}}}}}}}}
    >>> outside_destinations(json.dumps(copy))
    ['project|evil|evil:loot.t']
    """
    meta = json_or_none(metadata)
    original = meta.get("original") if isinstance(meta, Mapping) else None
    found: list[str] = []
    stack: list[tuple[Any, int]] = [(original, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 24:
            continue
        if isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
            continue
        if not isinstance(node, Mapping):
            continue
        for key, value in node.items():
            name = re.sub(r"[^a-z]", "", str(key).lower())
            if name in _DEST_URIS:
                for uri in value if isinstance(value, list) else [value]:
                    hit = _GS_BUCKET.match(uri) if isinstance(uri, str) else None
                    if hit:
                        found.append(f"bucket|{hit.group(1).lower()}|{uri}")
            elif name in _DEST_TABLES:
                table = _table_name(value)
                hit = _TABLE_PROJECT.match(table) if table else None
                if table and hit:
                    found.append(f"project|{(hit.group(1) or hit.group(2)).lower()}|{table}")
            elif isinstance(value, Mapping | list):
                stack.append((value, depth + 1))
    return list(dict.fromkeys(found))


def _table_name(value: Any) -> str | None:
    """A destination table as text: ``projects/P/datasets/D/tables/T`` as given, or
    ``P:D.T`` from its parts."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, Mapping):
        parts = [value.get(k) for k in ("projectId", "datasetId", "tableId")]
        if all(isinstance(v, str) and v for v in parts):
            return f"{parts[0]}:{parts[1]}.{parts[2]}"
    return None


def _outside_jobs(events: Events, history: timedelta) -> pl.DataFrame | None:
    """Jobs (BigQuery's ``InsertJob``, ``jobservice.insert``...) whose configuration
    sends a table to a Cloud Storage bucket or a project that the tenant's trail does
    not show as its own: the tenant itself, the projects and buckets its successful
    events' targets name (``projects/P/...``, ``.../buckets/B``: Google Cloud logs a
    resource's events in its own project), and the destinations it sent to on three
    earlier days.  Findings of ``mass_export`` (see its ``min_history``), or None."""
    jobs = actions_where(
        events, lambda a: any("job" in w for part in action_words(a) for w in part)
    )
    if not jobs:
        return None
    keys = ["tenant_id", "actor_id"]
    lf = subset(
        events,
        (*keys, "occurred_at", "event_id", "action", "outcome", "metadata", "source_ip"),
        pl.col("action").is_in(jobs),
        pl.col("outcome") == "success",
        pl.col("actor_id").is_not_null(),
        pl.col("metadata").str.contains("(?i)destinationUri|destinationTable").fill_null(False),
    )  # fmt: skip
    hits = classified(lf, ["metadata"], outside_destinations)
    if hits is None:
        return None
    rows = (
        hits.drop("metadata")
        .explode("_what")
        .with_columns(_part=pl.col("_what").str.split_exact("|", 2))
        .with_columns(
            _type=pl.col("_part").struct.field("field_0"),
            _dest=pl.col("_part").struct.field("field_1"),
            _where=pl.col("_part").struct.field("field_2"),
        )
        .drop("_part", "_what")
        .collect()
    )
    tenants = rows.select("tenant_id").unique()
    named = (
        lazy(events, "tenant_id", "target_id", "outcome")
        .join(tenants.lazy(), on="tenant_id", how="semi")
        .filter((pl.col("outcome") == "success") & pl.col("target_id").str.contains("/"))
        .select(
            "tenant_id",
            _project=pl.col("target_id").str.extract(r"^(?://[^/]+/)?projects/([^/_-][^/]*)/", 1),
            _bucket=pl.col("target_id").str.extract(r"(?:^|/)buckets/([^/]+)", 1),
        )
    )
    own = (
        pl.concat(
            [
                named.select("tenant_id", _type=pl.lit("project"), _dest=pl.col("_project")),
                named.select("tenant_id", _type=pl.lit("bucket"), _dest=pl.col("_bucket")),
                tenants.lazy().select("tenant_id", _type=pl.lit("project"), _dest="tenant_id"),
            ]
        )
        .drop_nulls()
        .select("tenant_id", "_type", pl.col("_dest").str.to_lowercase())
        .unique()
    )
    dkeys = ["tenant_id", "_type", "_dest"]
    # a destination the tenant sent to on three earlier days is its own (a scheduled
    # export to its bucket); on three days at all, the first runs of scheduled work
    days = (
        rows.lazy()
        .group_by(*dkeys, _day=T.dt.date())
        .agg(_t=T.min())
        .group_by(dkeys)
        .agg(_dest_first=established(pl.col("_t")), _days=pl.len())
    )
    outside = (
        rows.lazy()
        .join(own, on=dkeys, how="anti")
        .join(days, on=dkeys)
        .filter(pl.col("_dest_first") > T)
        .collect()
    )
    if outside.height == 0:
        return None
    actors = outside.lazy().select(keys).unique()
    nets = network_firsts(events, keys, actors)
    judged = (
        outside.lazy()
        .with_columns(_net=network(pl.col("source_ip")))
        .join(nets, on=[*keys, "_net"], how="left")
        .with_columns(_new=new_network(timedelta(hours=1)).fill_null(False))
        .join(began(events, among=tenants.lazy()), on="tenant_id")
    )
    found = (
        episodes(judged, keys, timedelta(hours=1))
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("_new").any(),
            (pl.col("_days") >= ESTABLISHED_DAYS).all().alias("_scheduled"),
            ((T - pl.col("_began")) >= history).all().alias("_old"),
            pl.col("_where").unique(maintain_order=True),
            pl.col("source_ip").drop_nulls().unique(maintain_order=True).alias("_ips"),
        )
        .with_columns(pl.col("event_ids").list.unique(maintain_order=True))
        .with_columns(
            severity=pl.when(pl.col("_scheduled"))
            .then(pl.lit("low"))
            .when(pl.col("_new") & pl.col("_old"))
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} sent data outside the tenant {}: {} job(s) to {}, a bucket or project "
                "this tenant's trail never showed as its own{}{}.",
                q(pl.col("actor_id")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                pl.col("event_ids").list.len(),
                first_few(pl.col("_where"), 3, ", "),
                pl.when(pl.col("_new"))
                .then(pl.format(", from a network it had never used ({})",
                                first_few(pl.col("_ips"), 2, ", ")))
                .otherwise(pl.lit("")),
                pl.when(pl.col("_scheduled"))
                .then(pl.lit("; it recurs on three days or more: the first runs of scheduled work"))
                .otherwise(pl.lit("")),
            ),
        )
    )  # fmt: skip
    return finalize(found, "mass_export")


@register_detector("mass_deletion", title="Mass deletion", severity="high")
def mass_deletion(
    events: Events,
    *,
    threshold: int = 30,
    window: str | timedelta = "1h",
    exclude_actor_types: Sequence[str] = ("system", "service"),
    recurring: bool = True,
    slow_threshold: int = 100,
    slow_window: str | timedelta = "24h",
    account_threshold: int = 10,
    backup_threshold: int = 10,
    stranger_threshold: int | None = 5,
    min_history: str | timedelta = "7d",
) -> pl.DataFrame:
    """One actor deleting many items within a sliding window, or spreading them thin over
    a day; or deleting a smaller number of accounts (users, groups, roles, keys) or of
    backups (snapshots, recovery points, backup vaults); or deleting from a network and
    with a client it had never used (its key in someone else's hands).

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    threshold
        Successful deletions by one actor within ``window``: actions that destroy an
        item however their source names them (:func:`is_deletion`).
    window
        Sliding window length.
    slow_threshold, slow_window
        Deletions spread thin: at least ``slow_threshold`` within ``slow_window``, not
        counting those of the short bursts (25 an hour for a working day).
    exclude_actor_types
        Actor types left out (clean-up jobs; the system's ``entity.expire`` is not
        a delete anyway).
    recurring
        Leave out the actor's recurring bulk work (nightly purges by a job's key).
    account_threshold
        Deletions of accounts (what signs in or holds access: users, service
        accounts, groups, roles, API and access keys; :func:`is_account_deletion`)
        by one actor within ``window``: an identity wipe takes far fewer deletions
        than the documents of a project.  A burst that already makes a finding
        counting every deletion is not reported twice.
    backup_threshold
        Deletions of backups (snapshots, recovery points, backup vaults and plans;
        :func:`is_backup_deletion`) by one actor within ``window``: ransomware removes
        the way back first.  Reported like the accounts.
    stranger_threshold
        Deletions by one actor within ``window``, each from a network (an IPv4
        ``/24``, an IPv6 ``/64``) and with a client (its user agent, less the parts that
        change per call) that are new to it (``common.new_network``, ``new_client``):
        a stolen key's wiper, which keeps under ``threshold`` or deletes in batches
        (S3's ``DeleteObjects``, ``bulk_delete``).  One batch deletion is enough, since
        its event does not say how many items it took.  The actor must have been seen
        ``min_history`` before (everything is new to a new actor).  Severity high for
        people with a client of a new family and a batch or twice ``stranger_threshold``
        deletions (a person's first afternoon with the product's phone app deletes a
        few); medium for services (a pipeline upgrading its tool on a new runner) and
        for an actor on a new network most days (``common.roaming``).  An engineer who
        deletes from a hotel with the usual client is not reported; one who upgraded the
        client on the way is medium.  ``None`` leaves a stranger's deletions out.
    min_history
        How long before a stranger's deletions the actor must have been seen.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...     "action": "record.delete", "actor": {"id": "max"},
    ...     "targets": [{"id": f"r{i}", "type": "record"}]} for i in range(3)])
    >>> mass_deletion(df, threshold=3)["event_ids"][0].len()
    3
    """
    positive(account_threshold, "account_threshold")
    positive(backup_threshold, "backup_threshold")
    deletions = actions_where(events, is_deletion)
    deleted = partial(
        _mass,
        events,
        what="deleted",
        detector="mass_deletion",
        window=window,
        exclude_actor_types=exclude_actor_types,
        recurring=recurring,
    )
    found = deleted(
        actions=pl.col("action").is_in(deletions),
        threshold=threshold,
        slow_threshold=slow_threshold,
        slow_window=slow_window,
    )
    for test, fewer in ((is_account_deletion, account_threshold),
                        (is_backup_deletion, backup_threshold)):  # fmt: skip
        chosen = [a for a in deletions if test(a)]
        if not chosen or fewer >= threshold:
            continue
        wiped = deleted(actions=pl.col("action").is_in(chosen), threshold=fewer)
        # a burst of accounts (or backups) inside a burst of everything is that finding's
        # already
        seen = found.get_column("event_ids").explode().drop_nulls().implode()
        wiped = wiped.filter(~pl.col("event_ids").list.eval(pl.element().is_in(seen)).list.any())
        found = pl.concat([found, wiped])
    history = duration(min_history, name="min_history")
    if stranger_threshold is None:  # the stranger's deletions not asked for
        return found.sort(["tenant_id", "first_seen", "finding_id"])
    positive(stranger_threshold, "stranger_threshold")
    strangers = _stranger_deletions(
        events, deletions, window=duration(window), threshold=stranger_threshold, history=history
    )
    seen = found.get_column("event_ids").explode().drop_nulls().implode()
    strangers = strangers.filter(
        ~pl.col("event_ids").list.eval(pl.element().is_in(seen)).list.any()
    )
    return pl.concat([found, strangers]).sort(["tenant_id", "first_seen", "finding_id"])


#: Nouns (the last word before the verb) of a deletion that takes many items at once.
_BATCH_NOUNS: Final = frozenset(
    ("objects", "files", "items", "records", "documents", "messages", "rows", "entries",
     "blobs", "versions", "attachments")
)  # fmt: skip


def is_batch_deletion(action: str) -> bool:
    """True for a deletion (:func:`is_deletion`) of many items in one event, whose
    count the event may not give: S3's ``DeleteObjects``, a ``bulk_delete``.

    >>> [is_batch_deletion(a) for a in ("s3_objects.delete", "s3.DeleteObjects",
    ...     "document.bulk_delete", "s3_object.delete", "user.delete", "ec2_snapshots.delete")]
    [True, True, True, False, False, False]
    """
    if not is_deletion(action):
        return False
    noun_words, verb_words = action_words(action)
    words = [*noun_words, *verb_words]
    return bool({"bulk", "batch", "mass"} & set(verb_words)) or any(
        w in _BATCH_NOUNS for w in words
    )


def _stranger_deletions(
    events: Events,
    deletions: list[str],
    *,
    window: timedelta,
    threshold: int,
    history: timedelta,
) -> pl.DataFrame:
    """``mass_deletion``'s deletions by a stranger (see ``stranger_threshold``)."""
    keys = ["tenant_id", "actor_id"]
    cols = (*keys, "actor_type", "occurred_at", "event_id", "action", "outcome", "source_ip",
            "user_agent")  # fmt: skip
    rows = subset(
        events,
        cols,
        pl.col("action").is_in(deletions),
        pl.col("outcome") == "success",
        pl.col("actor_id").is_not_null(),
        pl.col("source_ip").is_not_null(),
        (pl.col("actor_type") != "system").fill_null(True),
    ).collect()
    batch = [a for a in deletions if is_batch_deletion(a)]
    # cheap tests first, on the deletions alone: a stranger's episode lies within an
    # episode of all the actor's deletions, which must then be as large (or a batch) ...
    rows = (
        episodes(rows.lazy(), keys, window)
        .filter(
            (pl.len().over("_episode") >= threshold)
            | pl.col("action").is_in(batch).any().over("_episode")
        )
        .drop("_episode")
        .collect()
    )
    if rows.height == 0:
        return empty()
    # ... and late enough in the trail for the actor to have the history asked for ...
    starts = lazy(events, "tenant_id", "occurred_at").group_by("tenant_id").agg(_start=T.min())
    rows = (
        rows.lazy()
        .join(starts, on="tenant_id", how="left", maintain_order="left")
        .filter((T - pl.col("_start")) >= history)
        .drop("_start")
        .collect()
    )
    # ... and from an address the actor had not made its own more than a window before
    # (else its network was too: see ``network_firsts``)
    pairs = rows.select(*keys, "source_ip").unique()
    ips = (
        lazy(events, *keys, "source_ip", "occurred_at")
        # one column tested first: far cheaper than the join over every event
        .filter(pl.col("source_ip").is_in(pairs.get_column("source_ip").unique().implode()))
        .join(pairs.lazy(), on=[*keys, "source_ip"], how="semi")
        .group_by(*keys, "source_ip", _day=T.dt.date())
        .agg(_t=T.min())
        .group_by(*keys, "source_ip")
        .agg(_ip_seen=pl.col("_t").min(), _ip_first=established(pl.col("_t")))
    )
    rows = (
        rows.lazy()
        .join(ips, on=[*keys, "source_ip"], how="left", maintain_order="left")
        .filter(((T - pl.col("_ip_seen")) <= window) | (pl.col("_ip_first") > T))
        .drop("_ip_seen", "_ip_first")
        .collect()
    )
    if rows.height == 0:
        return empty()
    # the costlier tests (every event of the actor: networks, clients) for the few left,
    # each read of their events made once
    actors = rows.lazy().select(keys).unique()
    who = rows.get_column("actor_id").unique().implode()
    mine = (
        lazy(events, *keys, "occurred_at", "source_ip", "user_agent")
        .filter(pl.col("actor_id").is_in(who))
        .join(actors, on=keys, how="semi")
        .collect()
    )
    nets = network_firsts(mine, keys, actors).collect()
    clients = client_firsts(mine, keys, actors).collect()
    lives = mine.lazy().group_by(keys).agg(_began=T.min(), _active=T.dt.date().unique()).collect()
    fresh = new_network(window)
    # a client's family is its product without versions (``aws-cli``, ``Boto3``): an
    # upgrade on the way is a new client, not a new family
    family = pl.col("_client").str.extract(r"^\[?([^/\s]+)")
    families = clients.group_by(*keys, _family=family).agg(
        _family_seen=pl.col("_client_seen").min(), _family_first=pl.col("_client_first").min()
    )
    marked = (
        rows.lazy()
        .with_columns(_net=network(pl.col("source_ip")), _client=client_agent(pl.col("user_agent")))
        .join(nets.lazy(), on=[*keys, "_net"], how="left", maintain_order="left")
        .join(
            clients.lazy(),
            on=[*keys, "_client"],
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        # only a stranger's rows: a new network with a new client; without a user agent
        # the trail cannot tell a stranger from the owner travelling, who deletes too
        .filter(fresh & pl.col("_client").is_not_null() & new_client(window))
        .with_columns(_family=family)
        .join(families.lazy(), on=[*keys, "_family"], how="left", nulls_equal=True)
    )
    grouped = (
        episodes(marked, keys, window)
        .group_by("_episode")
        .agg(
            *finding_span(*keys, "actor_type"),
            pl.col("action").is_in(batch).sum().alias("_batches"),
            (
                pl.col("_family").is_null()
                | ((T - pl.col("_family_seen")) <= window)
                | (pl.col("_family_first") > T)
            )
            .any()
            .alias("_new_family"),
            noun(pl.col("action")).unique().sort().alias("_kinds"),
            *newcomer_aggregations(window),
        )
        .join(lives.lazy(), on=keys, how="left")
        .filter(
            ((pl.col("first_seen") - pl.col("_began")) >= history)
            & ((pl.col("event_ids").list.len() >= threshold) | (pl.col("_batches") > 0))
        )
        .collect()
    )
    # an actor that comes from a new network on most of its days (a pipeline on cloud
    # runners, whose session CloudTrail types as a user) says little by a new one
    days = lives.lazy().select(*keys, _day=pl.col("_active")).explode("_day")
    spans = grouped.lazy().select("_episode", *keys, "first_seen")
    judged = grouped.lazy().join(roaming(spans, nets.lazy(), days), on="_episode", how="left")
    n = pl.col("_batches")
    return finalize(
        judged.with_columns(
            # a few deletions from a new app on a phone's network look the same: high
            # takes a batch or twice the threshold
            severity=pl.when(
                is_person()
                & pl.col("_new_family")
                & ~pl.col("_roaming")
                & ((n > 0) | (pl.col("event_ids").list.len() >= 2 * threshold))
            )
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} made {} deletion(s) ({}{}) {}, each {}{}{}; it had been seen since {}.",
                q(pl.col("actor_id")),
                pl.col("event_ids").list.len(),
                first_few(pl.col("_kinds"), 5, ", "),
                pl.when(pl.col("_batches") > 0)
                .then(pl.format("; {} a batch whose event does not count its items", n))
                .otherwise(pl.lit("")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                new_network_text(),
                pl.when(pl.col("_new_family"))
                .then(pl.lit(""))
                .otherwise(pl.lit(" (a version of a client it used before)")),
                pl.when(pl.col("_roaming"))
                .then(pl.lit(" (it comes from a new network on most of its days)"))
                .otherwise(pl.lit("")),
                fmt_time(pl.col("_began")),
            ),
        ),
        "mass_deletion",
    )


#: What signs in or holds access, as the object of a deletion (one word, or a pair).
_ACCOUNTS: Final = frozenset(
    ("user", "users", "account", "accounts", "identity", "identities", "principal",
     "principals", "group", "groups", "role", "roles", "apikey", "apikeys", "accesskey",
     "accesskeys", "serviceaccount", "serviceaccounts", "loginprofile")
)  # fmt: skip
#: What a restore needs, as the object of a deletion (one word, or a pair).
_BACKUPS: Final = frozenset(
    ("snapshot", "snapshots", "dbsnapshot", "dbsnapshots", "dbclustersnapshot",
     "clustersnapshot", "clustersnapshots", "backup", "backups", "backupvault",
     "backupvaults", "backupplan", "backupplans", "recoverypoint", "recoverypoints",
     "backuprun", "backupruns", "restorepoint", "restorepoints", "machineimage",
     "machineimages")
)  # fmt: skip
_KEY_KINDS: Final = frozenset(("api", "access", "service", "login"))
_PAIRED: Final = frozenset(
    ("db", "cluster", "backup", "recovery", "restore", "dbcluster", "machine")
)
#: Words between a deletion and its object that say nothing of the object.
_FILLER: Final = frozenset(("lifecycle", "bulk", "batch", "mass", "soft", "hard", "force"))


def _stem(objects: frozenset[str]) -> re.Pattern[str]:
    """The deletion stem at the start of a word written together with one of ``objects``."""
    alternatives = "|".join(sorted(objects, key=len, reverse=True))
    return re.compile(_DELETE_WORD.pattern + r"[a-z]*?(?=(?:" + alternatives + r")$)")


_DELETE_STEM: Final = _stem(_ACCOUNTS)
_BACKUP_STEM: Final = _stem(_BACKUPS)


def _deletes(action: str, objects: frozenset[str], stem: re.Pattern[str],
             pairs: frozenset[str]) -> bool:  # fmt: skip
    """True for a deletion (:func:`is_deletion`) whose object, named before the deletion
    word or after it (or written together with it), is one of ``objects``; a word of
    ``pairs`` before the object joins it (``access`` ``key``, ``db`` ``snapshot``)."""
    if not is_deletion(action):
        return False
    noun_words, verb_words = action_words(action)
    words = [*noun_words, *verb_words]
    at = next((i for i, w in enumerate(words) if _DELETE_WORD.match(w)), None)
    if at is None:
        return False
    before = [w for w in words[:at] if w not in _FILLER]
    joined = stem.sub("", words[at]) if stem.match(words[at]) else ""
    after = words[at + 1 :]
    found = [joined, before[-1] if before else "", after[0] if after else ""]
    if before[-2:-1] and before[-2] in pairs:  # api_key, access_key, db_snapshot
        found.append(before[-2] + before[-1])
    if len(after) > 1 and after[0] in pairs:  # deleteDBSnapshot read as delete, db, snapshot
        found.append(after[0] + after[1])
    return any(o in objects for o in found)


def is_account_deletion(action: str) -> bool:
    """True for a deletion (:func:`is_deletion`) of an account: what signs in or holds
    access (a user, a service account, a group, a role, an API or access key), named
    before the deletion word or after it.

    >>> names = ["user.delete", "iam_user.delete", "user.lifecycle.delete.initiated",
    ...          "service_account.delete", "iam_role.delete", "api_key.delete",
    ...          "google_groups.delete", "gitlab.user_destroyed", "iam.deleteaccesskey",
    ...          "google.admin.AdminService.deleteUser"]
    >>> [n for n in names if not is_account_deletion(n)]
    []
    >>> names = ["document.delete", "user_file.delete", "role_binding.delete",
    ...          "team_member.remove", "s3.deleteobjects", "user.update"]
    >>> [n for n in names if is_account_deletion(n)]
    []
    """
    return _deletes(action, _ACCOUNTS, _DELETE_STEM, _KEY_KINDS)


def is_backup_deletion(action: str) -> bool:
    """True for a deletion (:func:`is_deletion`) of what a restore needs: a snapshot, a
    backup, a recovery point, a backup vault or plan, a machine image (an AMI
    deregistered: AWS Backup keeps an EC2 instance's recovery points as AMIs; Google
    Cloud's machine images).

    >>> names = ["ec2_snapshot.delete", "rds_db_snapshot.delete",
    ...          "rds_db_cluster_snapshot.delete", "backup_recovery_point.delete",
    ...          "backup_backup_vault.delete", "compute_snapshots.delete",
    ...          "sqladmin_backup_runs.delete", "ec2.DeleteSnapshot", "rds.deleteDBSnapshot",
    ...          "ec2_image.deregister", "ec2.DeregisterImage", "compute_machine_images.delete"]
    >>> [n for n in names if not is_backup_deletion(n)]
    []
    >>> names = ["document.delete", "snapshot_schedule.update", "ec2_volume.delete",
    ...          "backup_selection.delete", "user.delete", "ecr_image.batch_delete",
    ...          "elasticloadbalancing_targets.deregister", "ecs_task_definition.deregister"]
    >>> [n for n in names if is_backup_deletion(n)]
    []
    """
    if not is_deletion(action):
        return False
    noun_words, verb_words = action_words(action)
    return _deregisters_image([*noun_words, *verb_words]) or _deletes(
        action, _BACKUPS, _BACKUP_STEM, _PAIRED
    )


@register_detector("bulk_read", title="Bulk reads beyond the actor's own history", severity="high")
def bulk_read(
    events: Events,
    *,
    min_items: int = 200,
    min_items_daily: int = 1000,
    factor: float = 5.0,
    history: str | timedelta = "24h",
    max_evidence: int = 1000,
    collection_window: str | timedelta = "7d",
) -> pl.DataFrame:
    """One actor reading far more distinct items in an hour (or a day) than ever before:
    a collection through object reads (``s3_object.get``, ``storage_objects.get``,
    ``document.read``, ``repository.clone``), which ``mass_export`` does not count.

    Reads alone are no evidence: a pipeline's role reads thousands of objects every
    hour.  So each actor is measured against itself: an hour is reported when it holds
    at least ``min_items`` distinct items (targets; a read naming none is an item of its
    own) read successfully, and at least ``factor`` times the most the actor read in any
    hour that began ``history`` or more before it (so that the hours of one collection
    are not each other's baseline); a day the same with ``min_items_daily`` against any
    earlier day (a collection spread thin).  An actor needs
    ``history`` of activity (any event) before the hour or day: without it there is no
    baseline, and a new pipeline's first day is not an attack (a new key's bulk reads
    from a new country are ``new_key_exfiltration``'s).  The exception is a role session
    handed to an outsider: one whose credentials a principal of another account obtained
    (CloudTrail's ``AssumeRole`` by an ``AWSAccount``, or a caller whose account is not
    the trail's) when that principal was itself seen for the first time less than
    ``history`` before: its first hour or day is measured against nothing.  Consecutive
    hours (or days) make one finding; a day that holds a reported hour is not reported
    again.

    Parameters
    ----------
    events
        Event frame (eager or lazy).
    min_items
        Distinct items read in an hour to report it.
    min_items_daily
        Distinct items read in a day to report it.
    factor
        How many times the actor's busiest earlier hour (or day) it must reach.
    history
        Activity the actor needs in the frame before the hour or day.
    max_evidence
        Evidence ids kept per finding (the summary gives the full count).
    collection_window
        How long after a network's first use by the tenant its reads, by every account,
        are one collection (:func:`_network_collections`: split across accounts, or
        spread over days).

    Severity high for people (``user`` or unknown), medium for keys and services.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> from auditkit.frame import events_to_frame
    >>> t0 = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
    >>> usual = [{"tenant_id": "acme", "occurred_at": t0 + timedelta(days=d, minutes=m),
    ...           "action": "s3_object.get", "actor": {"id": "ann"},
    ...           "targets": [{"id": f"obj-{d}-{m}"}]} for d in range(3) for m in range(10)]
    >>> burst = [{"tenant_id": "acme", "occurred_at": t0 + timedelta(days=3, seconds=i),
    ...           "action": "s3_object.get", "actor": {"id": "ann"},
    ...           "targets": [{"id": f"obj-x-{i}"}]} for i in range(300)]
    >>> print(bulk_read(events_to_frame(usual + burst))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    'ann' read up to 300 distinct item(s) in one hour (300 read(s) of s3_object in 1 hour(s))
    from 2026-01-08 09:00 UTC to 2026-01-08 09:04 UTC; the most it had read in one hour
    before was 10 (known to this trail since 2026-01-05 09:00 UTC).
    """
    positive(min_items, "min_items")
    positive(min_items_daily, "min_items_daily")
    positive(factor, "factor")
    positive(max_evidence, "max_evidence")
    need = duration(history, name="history")
    reading = verb(pl.col("action")).str.to_lowercase()
    names = actions_matching(
        events, reading.str.contains(READ_VERBS) & ~reading.str.contains(EXPORT_VERBS)
    )
    # a git operation without a verb of its own (GitLab's) is a clone unless it pushed
    git = git_operations(events)
    if not names and not git:
        return empty()
    keys = ["tenant_id", "actor_id"]
    reads = subset(
        events,
        (*keys, "actor_type", "occurred_at", "event_id", "action", "outcome", "target_id",
         "targets", "session_id", "source_ip", "user_agent", *(("metadata",) if git else ())),
        pl.col("action").is_in([*names, *git]),
        pl.col("outcome") == "success",
        pl.col("actor_id").is_not_null(),
        *((~(pl.col("action").is_in(git) & git_push()),) if git else ()),
    ).select(pl.exclude("metadata")).with_columns(
        # the object read, where the event names its bucket first (CloudTrail's GetObject:
        # the request's bucketName, then the resources' AWS::S3::Object)
        target_id=pl.coalesce(
            pl.col("targets")
            .list.eval(
                pl.element()
                .filter(
                    pl.element().struct.field("type").str.to_lowercase().str.ends_with("object")
                )
                .struct.field("id")
            )
            .list.first(),
            "target_id",
        )
    ).drop("targets").collect()  # fmt: skip
    if reads.height == 0:
        return empty()
    outsiders: pl.DataFrame | None = None
    found: list[pl.DataFrame] = []
    for every, unit, floor in (("1h", "hour", min_items), ("1d", "day", min_items_daily)):
        step = duration(every)
        base = reads.lazy().with_columns(_b=T.dt.truncate(every))
        # counts first: evidence and history only for the few buckets that qualify
        flagged = (
            base.group_by(*keys, "_b")
            .agg(
                pl.col("actor_type").first(),
                # a read that names no target is an item of its own: an unnamed read is
                # no reason to count less
                _items=pl.coalesce("target_id", "event_id").n_unique(),
                _n=pl.len(),
                _first=T.min(),
                _last=T.max(),
            )
            .collect()
        )
        # the baseline: the most the actor read in a bucket that began at least `history`
        # earlier (days: any earlier day), so the hours of one collection do not become
        # each other's baseline and the whole of it is one finding
        lag = max(need, step)
        history_max = flagged.sort([*keys, "_b"]).select(
            *keys, "_b", _prev=pl.col("_items").cum_max().over(keys)
        )
        flagged = (
            flagged.with_columns(_at=pl.col("_b") - lag)
            .sort("_at")
            .join_asof(
                history_max.sort("_b"),
                left_on="_at",
                right_on="_b",
                by=keys,
                strategy="backward",
                suffix="_then",
                check_sortedness=False,  # sorted by _at and _b: `by` hides that from Polars
            )
            .with_columns(pl.col("_prev").fill_null(0))
            .filter((pl.col("_items") >= floor) & (pl.col("_items") >= factor * pl.col("_prev")))
            .select(pl.exclude("_at", "_b_then"))
        )
        if flagged.height:
            since = (
                lazy(events, *keys, "occurred_at")
                .join(flagged.lazy().select(keys).unique(), on=keys, how="semi")
                .group_by(keys)
                .agg(T.min().alias("_since"))
            )
            flagged = flagged.lazy().join(since, on=keys).collect()
            known = pl.col("_since") <= pl.col("_b") - need
            fresh = flagged.filter(~known)
            flagged = flagged.filter(known).with_columns(_via=pl.lit(None, dtype=pl.String))
            if fresh.height:
                # an outsider's session has no history to be measured against
                if outsiders is None:
                    outsiders = _outsider_sessions(events, reads, fresh.select(keys), need)
                fresh = fresh.join(outsiders, on=keys).filter(
                    pl.col("_obtained") >= pl.col("_b") - need
                )
                flagged = pl.concat(
                    [flagged, fresh.select(flagged.columns)], how="vertical_relaxed"
                )
        if unit == "day" and flagged.height and found and found[0].height:
            # a day holding a reported hour of the same actor is that finding already
            hours = found[0].select(*keys, pl.col("first_seen").dt.truncate("1d").alias("_b"))
            flagged = flagged.join(hours, on=[*keys, "_b"], how="anti")
        if flagged.height == 0:
            continue
        evidence = (
            base.join(flagged.lazy().select(*keys, "_b"), on=[*keys, "_b"], how="semi")
            .sort([*keys, "occurred_at", "event_id"])
            .group_by(*keys, "_b")
            .agg(
                event_ids=pl.col("event_id").head(max_evidence),
                _kinds=noun(pl.col("action")).drop_nulls().unique(),
            )
        )
        runs = (
            flagged.lazy()
            .join(evidence, on=[*keys, "_b"])
            .sort([*keys, "_b"])
            .with_columns(
                _run=(key_changed(keys) | ((pl.col("_b") - pl.col("_b").shift(1)) > step))
                .fill_null(True)
                .cum_sum()
            )
            .group_by("_run")
            .agg(
                pl.col(*keys, "actor_type", "_since", "_via").first(),
                pl.col("_first").min().alias("first_seen"),
                pl.col("_last").max().alias("last_seen"),
                pl.len().alias("_spans"),
                pl.col("_items").max().alias("_items"),
                pl.col("_n").sum().alias("_n"),
                pl.col("_prev").max().alias("_prev"),
                pl.col("event_ids")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .head(max_evidence)
                .alias("event_ids"),
                pl.col("_kinds")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .unique()
                .sort()
                .alias("_kinds"),
                pl.lit(unit).alias("_unit"),
            )
            .collect()
        )
        found.append(runs)
    runs = pl.concat(found, how="vertical_relaxed") if found else pl.DataFrame()
    collections = _network_collections(
        events, reads, runs.select(keys) if runs.height else reads.select(keys).clear(),
        min_items=min_items, min_items_daily=min_items_daily, factor=factor, need=need,
        window=duration(collection_window, name="collection_window"), max_evidence=max_evidence,
    )  # fmt: skip
    if runs.height == 0:
        return collections
    out = runs.with_columns(
        severity=pl.when(is_person()).then(pl.lit("high")).otherwise(pl.lit("medium")),
        summary=pl.format(
            "{} read up to {} distinct item(s) in one {} ({} read(s) of {} in {} {}(s)) from "
            "{} to {}; {}.",
            q(pl.col("actor_id")),
            pl.col("_items"),
            pl.col("_unit"),
            pl.col("_n"),
            pl.col("_kinds").list.head(5).list.join(", "),
            pl.col("_spans"),
            pl.col("_unit"),
            fmt_time(pl.col("first_seen")),
            fmt_time(pl.col("last_seen")),
            pl.when(pl.col("_via").is_not_null())
            .then(pl.col("_via"))
            .otherwise(
                pl.format(
                    "the most it had read in one {} before was {} (known to this trail since {})",
                    pl.col("_unit"),
                    pl.col("_prev"),
                    fmt_time(pl.col("_since")),
                )
            ),
        ),
    )
    return pl.concat([finalize(out, "bulk_read"), collections]).sort(
        ["tenant_id", "first_seen", "finding_id"]
    )


def _network_collections(
    events: Events,
    reads: pl.DataFrame,
    reported: pl.DataFrame,
    *,
    min_items: int,
    min_items_daily: int,
    factor: float,
    need: timedelta,
    window: timedelta,
    max_evidence: int,
) -> pl.DataFrame:
    """A collection read from one network new to the tenant (eighth red-team round): the
    reads of its first ``window`` (from the tenant's first event there), by actors known
    to the trail ``need`` before it, reported when on one day two or more accounts read
    together at least ``min_items`` distinct items and ``factor`` times the sum of their
    busiest earlier days (a collection split across compromised accounts, each under its
    own thresholds), or over the window at least ``min_items_daily`` and ``factor`` times
    the sum of their busiest earlier weeks (one spread over days, each under the day's
    threshold).  ``reported`` actors' own findings are not repeated for one actor."""
    keys = ["tenant_id", "actor_id"]
    where = ["tenant_id", "_net"]
    # networks read from at least `min_items` times, first read from `window` after the
    # tenant's first event or later (it cannot have been new to the tenant otherwise):
    # the network of each address, read once
    by_ip = (
        reads.lazy()
        .filter(pl.col("source_ip").is_not_null())
        .group_by("tenant_id", "source_ip")
        .agg(_n=pl.len(), _read=T.min())
        .with_columns(_net=network(pl.col("source_ip")))
        .filter(pl.col("_net").is_not_null())
        .collect()
    )
    cand = (
        by_ip.lazy()
        .group_by(where)
        .agg(_total=pl.col("_n").sum(), _read=pl.col("_read").min())
        .filter(pl.col("_total") >= min_items)
        .collect()
    )
    if cand.height == 0:
        return empty()
    # a network read from within `window` of the tenant's first event was first used
    # by the tenant then too: not new
    starts = (
        lazy(events, "tenant_id", "occurred_at")
        .join(cand.lazy().select("tenant_id").unique(), on="tenant_id", how="semi")
        .group_by("tenant_id")
        .agg(_tstart=T.min())
    )
    cand = (
        cand.lazy()
        .join(starts, on="tenant_id")
        .filter(pl.col("_read") >= pl.col("_tstart") + window)
        .collect()
    )
    if cand.height == 0:
        return empty()
    rd = (
        reads.lazy()
        .join(
            by_ip.lazy()
            .join(cand.lazy(), on=where, how="semi")
            .select("tenant_id", "source_ip", "_net"),
            on=["tenant_id", "source_ip"],
        )
        .with_columns(_item=pl.coalesce("target_id", "event_id"), _day=T.dt.truncate("1d"))
    )
    # enough items in the network's first `window` of reads, which holds the window of
    # its first use by the tenant: two accounts' on one day, or in all
    volume = (
        rd.filter((T - T.min().over(where)) < window)
        .group_by(*where, "_day")
        .agg(_items=pl.col("_item").n_unique(), _accounts=pl.col("actor_id").n_unique())
        .group_by(where)
        .agg(
            _split=((pl.col("_accounts") >= 2) & (pl.col("_items") >= min_items)).any(),
            _slow=pl.col("_items").sum() >= min_items_daily,
        )
        .filter(pl.col("_split") | pl.col("_slow"))
        .select(where)
    )
    cand = cand.join(volume.collect(), on=where, how="semi")
    if cand.height == 0:
        return empty()
    # the network's first use by the tenant (any event), once its trail has run `window`
    firsts = (
        lazy(events, "tenant_id", "source_ip", "occurred_at")
        .join(cand.lazy().select("tenant_id").unique(), on="tenant_id", how="semi")
        .group_by("tenant_id", "source_ip")
        .agg(_t=T.min())
        .collect()
    )
    nets = (
        firsts.lazy()
        .with_columns(
            _net=network(pl.col("source_ip")), _tstart=pl.col("_t").min().over("tenant_id")
        )
        .join(cand.lazy(), on=where, how="semi")
        .group_by(where)
        .agg(_net_seen=pl.col("_t").min(), _tstart=pl.col("_tstart").first())
        .filter(pl.col("_tstart") <= pl.col("_net_seen") - window)
        .select(*where, "_net_seen")
    )  # fmt: skip
    rows = rd.join(nets, on=where).filter((T - pl.col("_net_seen")) < window).collect()
    if rows.height == 0:
        return empty()
    since = (
        lazy(events, *keys, "occurred_at")
        .join(rows.lazy().select(keys).unique(), on=keys, how="semi")
        .group_by(keys)
        .agg(_since=T.min())
    )
    rows = (
        rows.lazy()
        .join(since, on=keys)
        .filter(pl.col("_since") <= pl.col("_net_seen") - need)
        .collect()
    )
    if rows.height == 0:
        return empty()
    # each actor's busiest day and week of reads before the network's first day
    daily = (
        reads.lazy()
        .join(rows.lazy().select(keys).unique(), on=keys, how="semi")
        .with_columns(_item=pl.coalesce("target_id", "event_id"), _day=T.dt.truncate("1d"))
        .group_by(*keys, "_day")
        .agg(_items=pl.col("_item").n_unique())
        .sort(*keys, "_day")
        .with_columns(_week=pl.col("_items").rolling_sum_by("_day", window_size="7d").over(keys))
    )
    pairs = rows.lazy().select(*where, "actor_id", "_net_seen").unique()
    base = (
        pairs.join(daily, on=keys)
        .filter(pl.col("_day") < pl.col("_net_seen").dt.truncate("1d"))
        .group_by(*where, "actor_id")
        .agg(_busiest=pl.col("_items").max(), _weekly=pl.col("_week").max())
    )
    pairs = pairs.join(base, on=[*where, "actor_id"], how="left").with_columns(
        pl.col("_busiest", "_weekly").fill_null(0)
    )
    day_base = (
        rows.lazy()
        .select(*where, "_day", "actor_id")
        .unique()
        .join(pairs, on=[*where, "actor_id"])
        .group_by(*where, "_day")
        .agg(_base=pl.col("_busiest").sum(), _accounts=pl.len())
    )
    split = (
        rows.lazy()
        .group_by(*where, "_day")
        .agg(_items=pl.col("_item").n_unique())
        .join(day_base, on=[*where, "_day"])
        .filter(
            (pl.col("_accounts") >= 2)
            & (pl.col("_items") >= min_items)
            & (pl.col("_items") >= factor * pl.col("_base"))
        )
        .select(where)
    )
    slow = (
        rows.lazy()
        .group_by(where)
        .agg(_items=pl.col("_item").n_unique())
        .join(pairs.group_by(where).agg(_wbase=pl.col("_weekly").sum()), on=where)
        .filter(
            (pl.col("_items") >= min_items_daily) & (pl.col("_items") >= factor * pl.col("_wbase"))
        )
        .select(where)
    )
    flagged = pl.concat([split, slow]).unique().collect()
    if flagged.height == 0:
        return empty()
    hits = (
        rows.lazy()
        .join(flagged.lazy(), on=where, how="semi")
        .with_columns(_client=client_agent(pl.col("user_agent")))
        .join(client_firsts(events, keys, rows.lazy().select(keys).unique()), on=[*keys, "_client"],
              how="left", nulls_equal=True)
        .with_columns(_new_client=new_client(need) & pl.col("_client").is_not_null())
        .sort(*where, "occurred_at", "event_id")
    )  # fmt: skip
    found = (
        hits.group_by(where)
        .agg(
            pl.col("_net_seen").first(),
            pl.col("event_id").head(max_evidence).alias("event_ids"),
            T.min().alias("first_seen"),
            T.max().alias("last_seen"),
            pl.col("_item").n_unique().alias("_items"),
            pl.len().alias("_n"),
            pl.col("actor_id").unique().sort().alias("_actors"),
            pl.col("source_ip").unique().sort().alias("_ips"),
            noun(pl.col("action")).drop_nulls().unique().sort().alias("_kinds"),
            (is_person() & pl.col("_new_client")).any().alias("_bad"),
            pl.col("_client").filter(pl.col("_new_client")).unique().sort().alias("_clients"),
        )
        .join(
            pairs.group_by(where).agg(
                pl.col("_busiest").sum().alias("_base"), pl.col("_weekly").sum().alias("_wbase")
            ),
            on=where,
        )
        .with_columns(
            actor_id=pl.when(pl.col("_actors").list.len() == 1).then(pl.col("_actors").list.first())
        )
        .join(reported.lazy().unique(), on=keys, how="anti", nulls_equal=False)
        .collect()
    )  # fmt: skip
    if found.height == 0:
        return empty()
    out = found.with_columns(
        severity=pl.when(pl.col("_bad")).then(pl.lit("high")).otherwise(pl.lit("medium")),
        summary=pl.format(
            "{} account(s) ({}) read {} distinct item(s) ({} read(s) of {}) from {} ({}), a "
            "network the tenant first used on {}, from {} to {}; together they had read at "
            "most {} in a day and {} in a week before{}.",
            pl.col("_actors").list.len(),
            pl.col("_actors").list.head(5).list.join(", "),
            pl.col("_items"),
            pl.col("_n"),
            pl.col("_kinds").list.head(5).list.join(", "),
            pl.col("_net"),
            pl.col("_ips").list.head(3).list.join(", "),
            fmt_time(pl.col("_net_seen")),
            fmt_time(pl.col("first_seen")),
            fmt_time(pl.col("last_seen")),
            pl.col("_base"),
            pl.col("_wbase"),
            pl.when(pl.col("_clients").list.len() > 0)
            .then(pl.format(", with a client new to them ('{}')", pl.col("_clients").list.first()))
            .otherwise(pl.lit("")),
        ),
    )
    return finalize(out, "bulk_read")


def _outsider_sessions(
    events: Events, reads: pl.DataFrame, actors: pl.DataFrame, need: timedelta
) -> pl.DataFrame:
    """Of ``actors`` (role sessions without history), those whose credentials a principal
    of another account obtained: ``keys``, ``_obtained`` (when that principal was first
    seen) and ``_via`` (the summary's clause).  The obtaining is found by the session's
    key (the reads' ``session_id``) or by its ARN (the actor id)."""
    keys = ["tenant_id", "actor_id"]
    meta = pl.col("metadata").str.json_path_match
    caller_account = pl.coalesce(
        meta("$.original.userIdentity.accountId"), meta("$.original.userIdentity.principalId")
    )
    obtained = (
        subset(
            events,
            ("tenant_id", "actor_id", "occurred_at", "action", "outcome", "metadata"),
            pl.col("action").is_in(CREDENTIAL_ACTIONS),
            pl.col("outcome") == "success",
            pl.col("actor_id").is_not_null(),
        )
        .select(
            "tenant_id",
            "occurred_at",
            _principal=pl.col("actor_id"),
            _account=caller_account,
            _outside=(meta("$.original.userIdentity.type") == "AWSAccount").fill_null(False)
            | (caller_account != meta("$.original.recipientAccountId")).fill_null(False),
            _key=meta("$.original.responseElements.credentials.accessKeyId"),
            _arn=meta("$.original.responseElements.assumedRoleUser.arn"),
        )
        .filter(pl.col("_outside"))
        .collect()
    )
    none = pl.DataFrame(
        schema={"tenant_id": pl.String, "actor_id": pl.String,
                "_obtained": pl.Datetime("us", "UTC"), "_via": pl.String}
    )  # fmt: skip
    if obtained.height == 0:
        return none
    by_arn = obtained.join(
        actors, left_on=["tenant_id", "_arn"], right_on=keys, how="inner"
    ).with_columns(actor_id=pl.col("_arn"))
    sessions = (
        reads.lazy()
        .join(actors.lazy(), on=keys, how="semi")
        .select(*keys, "session_id")
        .drop_nulls("session_id")
        .unique()
        .collect()
    )
    by_key = obtained.join(
        sessions, left_on=["tenant_id", "_key"], right_on=["tenant_id", "session_id"]
    )
    links = pl.concat(
        [by_arn.select(*keys, "occurred_at", "_principal", "_account"),
         by_key.select(*keys, "occurred_at", "_principal", "_account")]
    ).unique()  # fmt: skip
    if links.height == 0:
        return none
    principals = links.select("tenant_id", actor_id=pl.col("_principal")).unique()
    first = began(events, keys, among=principals.lazy()).rename(
        {"actor_id": "_principal", "_began": "_obtained"}
    )
    return (
        links.lazy()
        .join(first, on=["tenant_id", "_principal"])
        .sort("occurred_at")
        .group_by(keys)
        .agg(pl.all().first())
        .select(
            *keys,
            "_obtained",
            _via=pl.format(
                "its credentials were handed at {} to {} of account {}, which this trail "
                "had first seen less than {} before: it has no history to be measured against",
                fmt_time(pl.col("occurred_at")),
                q(pl.col("_principal")),
                pl.col("_account").fill_null("?"),
                pl.lit(human(need)),
            ),
        )
        .collect()
    )


#: Nouns of encryption keys (not API keys, SSH keys or access keys, which are
#: credentials: revoking one destroys nothing).
_CRYPTO_NOUNS: Final = frozenset(
    ("kms", "cloudkms", "cryptokey", "crypto", "keyvault", "vault", "cmk", "encryption",
     "hsm", "cloudhsm", "keyring")
)  # fmt: skip
_KEY_WORDS: Final = frozenset(("key", "keys", "keyversion", "version", "versions", "cryptokey"))
#: What a destruction does to a key: gone for good (high), or unusable until undone.
_DESTROY: Final = {"schedule": "scheduled the deletion of", "destroy": "destroyed",
                   "delete": "deleted", "purge": "purged"}  # fmt: skip
_DISABLE: Final = {"disable": "disabled", "revoke": "revoked"}
#: The same, as tried: ``tried to`` and the verb.
_TRIED: Final = {"schedule": "schedule the deletion of", "destroy": "destroy", "delete": "delete",
                 "purge": "purge", "disable": "disable", "revoke": "revoke"}  # fmt: skip
#: Nouns of what is made beside a key and is none (an alias, a grant, a key store or
#: ring, an import job).
_NOT_A_KEY: Final = frozenset(
    ("alias", "aliases", "grant", "grants", "store", "stores", "ring", "keyring", "policy",
     "job", "jobs", "material", "rotation", "deletion", "tag", "tags")
)  # fmt: skip
#: A Google Cloud key version's name: the key's name and ``/cryptoKeyVersions/N``.
_KEY_VERSION: Final = re.compile(r"^(.*/cryptokeys/[^/]+)/cryptokeyversions/[^/]+$")
#: An AWS key named by its ARN or as ``key/ID``: the ID.
_AWS_KEY_ID: Final = re.compile(r"(?:^|[:/])key/([^/\s]+)$")
_REQUEST_JSON: Final = "$.original.requestParameters"


def destroys_key(action: str) -> bool:
    """Whether an action destroys or disables an encryption key.

    >>> [destroys_key(a) for a in ("kms_key_deletion.schedule", "kms_key.disable",
    ...     "cloudkms_crypto_key_version.destroy", "api_key.delete", "iam_access_key.delete",
    ...     "kms_key_deletion.cancel", "kms_key.create")]
    [True, True, True, False, False, False, False]
    """
    noun_words, verb_words = action_words(action)
    words = noun_terms(noun_words)
    crypto = bool(words & _CRYPTO_NOUNS) and bool(words & _KEY_WORDS)
    return crypto and bool(verb_words) and verb_words[0] in {**_DESTROY, **_DISABLE}


def creates_key(action: str) -> bool:
    """Whether an action creates an encryption key or a key version.

    >>> [creates_key(a) for a in ("kms_key.create", "cloudkms_crypto_key.create",
    ...     "cloudkms_crypto_key_version.create", "kms_alias.create", "kms_grant.create",
    ...     "cloudkms_key_ring.create", "api_key.create", "kms_key_deletion.schedule")]
    [True, True, True, False, False, False, False, False]
    """
    noun_words, verb_words = action_words(action)
    words = noun_terms(noun_words)
    crypto = bool(words & _CRYPTO_NOUNS) and bool(words & _KEY_WORDS)
    made = bool(verb_words) and verb_words[0] == "create"
    return crypto and made and not set(noun_words) & _NOT_A_KEY


def _rewrites_data(action: str) -> bool:
    """Whether an action rewrites stored data under a key: a stored object copied or
    rewritten (``s3_object.copy``, ``storage_objects.rewrite``), a ciphertext
    re-encrypted (KMS ``ReEncrypt``, read as ``kms_encrypt.re``)."""
    noun_words, verb_words = action_words(action)
    if not verb_words:
        return False
    first = verb_words[0]
    if writes_objects(action) and first in ("copy", "rewrite", "compose"):
        return True
    words = noun_terms(noun_words)
    return (first == "re" and "encrypt" in words) or first == "reencrypt"


def _key_name(text: str) -> str:
    """A key's name to compare: an AWS key's ID (from its ARN, ``key/ID`` or the bare
    ID), a Google Cloud key's or version's resource name; lower case."""
    text = text.strip().lower()
    found = _AWS_KEY_ID.search(text)
    return found.group(1) if found else text


def _texts_at(node: Any, *path: str) -> list[str]:
    for step in path:
        node = node.get(step) if isinstance(node, Mapping) else None
    if isinstance(node, str) and node:
        return [node]
    return []


def _key_names(action: str, target_id: str | None, metadata: str | None) -> list[str]:
    """The names of the key (or key version) an event creates or destroys, most
    specific first: a Google Cloud key version before its key.  A version made by
    ``CreateCryptoKeyVersion`` is named by the response only (its request names the key
    it is added to, which is not new)."""
    meta = json_or_none(metadata)
    original = meta.get("original") if isinstance(meta, Mapping) else None
    request = producer_request(original)
    if isinstance(request, str):
        request = json_or_none(request)
    texts: list[str] = []
    noun_words, _ = action_words(action)
    version_made = creates_key(action) and bool(
        set(noun_terms(noun_words)) & {"version", "versions", "keyversion"}
    )
    proto = original.get("protoPayload") if isinstance(original, Mapping) else None
    if version_made:
        texts += _texts_at(proto, "response", "name")
    else:
        texts += _texts_at(original, "responseElements", "keyMetadata", "arn")
        texts += _texts_at(original, "responseElements", "keyMetadata", "keyId")
        texts += _texts_at(original, "responseElements", "keyId")
        texts += _texts_at(proto, "response", "name")
        texts += [target_id] if target_id else []
        texts += _texts_at(request, "keyId") + _texts_at(request, "name")
        texts += _texts_at(proto, "resourceName")
        parent, made = _texts_at(request, "parent"), _texts_at(request, "cryptoKeyId")
        if parent and made:
            texts.append(f"{parent[0]}/cryptoKeys/{made[0]}")
    names: list[str] = []
    for text in texts:
        name = _key_name(text)
        key = _KEY_VERSION.match(name)
        # a version destroyed is also known by its key; a version made is that version
        names += [name, key.group(1)] if key and not version_made else [name]
    # versions first, then keys, each once
    ordered = sorted(dict.fromkeys(names), key=lambda n: _KEY_VERSION.match(n) is None)
    return ordered


def _own_fresh_keys(events: Events, hits: pl.DataFrame, within: timedelta) -> pl.DataFrame:
    """Per destroying event of ``hits``: whether the key is the actor's own throw-away
    key (``_own``: it created the key, or the version, no more than ``within`` before),
    when it did (``_made_at``), and whether stored data was rewritten under the key
    since (``_used``).  Keys created by someone else, earlier, or not seen created
    are not its own."""
    none = hits.select("event_id").with_columns(
        _own=pl.lit(False),
        _made_at=pl.lit(None, dtype=hits.schema["occurred_at"]),
        _made_id=pl.lit(None, dtype=pl.String),
        _used=pl.lit(False),
        _name=pl.lit(None, dtype=pl.String),
    )
    made_actions = actions_where(events, creates_key)
    if not made_actions or hits.height == 0:
        return none
    cols = ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome",
            "target_id", "metadata")  # fmt: skip
    made = subset(
        events, cols, pl.col("action").is_in(made_actions), pl.col("outcome") == "success"
    ).collect()
    if made.height == 0:
        return none
    created: dict[tuple[str, str], list[tuple[Any, str, str]]] = {}
    for row in made.iter_rows(named=True):
        for name in _key_names(row["action"], row["target_id"], row["metadata"]):
            created.setdefault((row["tenant_id"], name), []).append(
                (row["occurred_at"], row["actor_id"], row["event_id"])
            )
    rows = []
    for row in hits.iter_rows(named=True):
        own, at, made_id = False, None, None
        names = _key_names(row["action"], row["target_id"], row["metadata"])
        for name in names:
            before = [m for m in created.get((row["tenant_id"], name), [])
                      if m[0] <= row["occurred_at"]]  # fmt: skip
            if before:  # the most specific name that was seen made decides
                at, who, made_id = max(before, key=lambda m: m[0])
                own = who == row["actor_id"] and row["occurred_at"] - at <= within
                break
        # the key itself (not one version of it) is what data is encrypted under
        rows.append((row["event_id"], own, at if own else None, made_id if own else None,
                     names[-1] if names else None))  # fmt: skip
    judged = pl.DataFrame(
        rows,
        schema={"event_id": pl.String, "_own": pl.Boolean,
                "_made_at": hits.schema["occurred_at"], "_made_id": pl.String,
                "_name": pl.String},
        orient="row",
    )  # fmt: skip
    # a key of one's own that stored data was rewritten under before its deletion (the
    # in-place re-encryption of a ransom) is no throw-away key
    owned = judged.filter("_own").join(
        hits.select("event_id", "tenant_id", "actor_id", "occurred_at"), on="event_id"
    )
    rewrites = actions_where(events, _rewrites_data)
    used: list[str] = []
    if owned.height and rewrites:
        used = _rewritten_under(events, owned, rewrites)
    return judged.select(
        "event_id",
        "_own",
        "_made_at",
        "_made_id",
        _used=pl.col("event_id").is_in(used),
        _name=pl.col("_name"),
    )


def _aliases(events: Events, owned: pl.DataFrame) -> pl.DataFrame:
    """The aliases made for the keys of ``owned`` (``CreateAlias``, ``UpdateAlias``
    pointing to them), as ``_name`` (the key) and ``_alias``, lower case."""
    alias_actions = actions_where(
        events, lambda a: "alias" in action_words(a)[0] and not _reads_verb(a)
    )
    if not alias_actions:
        return pl.DataFrame(schema={"tenant_id": pl.String, "_name": pl.String,
                                    "_alias": pl.String})  # fmt: skip
    request = pl.col("metadata").str.json_path_match
    made = (
        subset(
            events,
            ("tenant_id", "action", "outcome", "metadata"),
            pl.col("action").is_in(alias_actions),
            pl.col("outcome") == "success",
        )
        .select(
            "tenant_id",
            _target=request(f"{_REQUEST_JSON}.targetKeyId").str.strip_chars().str.to_lowercase(),
            _alias=request(f"{_REQUEST_JSON}.aliasName").str.strip_chars().str.to_lowercase(),
        )
        .drop_nulls()
        .collect()
    )
    made = made.with_columns(
        _name=pl.coalesce(pl.col("_target").str.extract(_AWS_KEY_ID.pattern, 1), "_target")
    )
    return made.join(owned.select("tenant_id", "_name").unique(), on=["tenant_id", "_name"]).select(
        "tenant_id", "_name", "_alias"
    )


def _reads_verb(action: str) -> bool:
    verbs = action_words(action)[1]
    return bool(verbs) and verbs[0] in ("get", "list", "describe")


def _rewritten_under(events: Events, owned: pl.DataFrame, rewrites: list[str]) -> list[str]:
    """The destroying events of ``owned`` (one row per event: its ``tenant_id``,
    ``actor_id``, ``occurred_at``, the key's ``_name`` and when it was made,
    ``_made_at``) whose key had stored data rewritten under it in between: an object
    copied or rewritten, or a ciphertext re-encrypted, whose request names the key (its
    ID, ARN, resource name or an alias made for it), or an object copied onto itself
    by the same actor (under the bucket's default key, which the request need not
    name)."""
    owned = owned.filter(pl.col("_name").str.len_chars() >= 8)
    if owned.height == 0:
        return []
    aliases = _aliases(events, owned)
    names = pl.concat(
        [owned.select("tenant_id", "_name", _text=pl.col("_name")),
         aliases.select("tenant_id", "_name", _text=pl.col("_alias"))],
        how="vertical_relaxed",
    ).unique()  # fmt: skip
    request = pl.col("metadata").str.json_path_match
    source = (
        request(f'{_REQUEST_JSON}["x-amz-copy-source"]')
        .str.strip_chars_start("/")
        .str.replace(r"\?versionId=.*$", "")
        .str.replace_all("%2F", "/", literal=True)
    )
    target = pl.concat_str(
        request(f"{_REQUEST_JSON}.bucketName"), pl.lit("/"), request(f"{_REQUEST_JSON}.key")
    )
    start, end = owned.get_column("_made_at").min(), owned.get_column("occurred_at").max()
    writes = (
        subset(
            events,
            ("tenant_id", "actor_id", "occurred_at", "action", "metadata", "outcome"),
            pl.col("action").is_in(rewrites),
            pl.col("outcome") == "success",
            T.is_between(start, end),
            pl.col("tenant_id").is_in(owned.get_column("tenant_id").unique().implode()),
        )
        .select(
            "tenant_id",
            pl.col("actor_id").alias("_writer"),
            pl.col("occurred_at").alias("_at"),
            _text=pl.col("metadata").str.to_lowercase(),
            _in_place=(source == target).fill_null(False),
        )
        .collect()
    )
    if writes.height == 0:
        return []
    spans = owned.select("event_id", "tenant_id", "actor_id", "occurred_at", "_made_at", "_name")
    between = (pl.col("_at") >= pl.col("_made_at")) & (pl.col("_at") <= pl.col("occurred_at"))
    # the actor's own copies of objects onto themselves
    in_place = (
        spans.join(writes.filter("_in_place"), on="tenant_id")
        .filter(between & (pl.col("_writer") == pl.col("actor_id")))
        .get_column("event_id")
    )
    # anyone's rewrite naming the key
    named = (
        spans.join(names, on=["tenant_id", "_name"])
        .join(writes.select("tenant_id", "_at", pl.col("_text").alias("_meta")), on="tenant_id")
        .filter(between & pl.col("_meta").str.contains(pl.col("_text"), literal=True))
        .get_column("event_id")
    )
    return sorted({*in_place.to_list(), *named.to_list()})


@register_detector("key_destruction", title="Encryption keys destroyed", severity="high")
def key_destruction(
    events: Events,
    *,
    gap: str | timedelta = "1h",
    created_within: str | timedelta = "24h",
    max_own_keys: int = 3,
) -> pl.DataFrame:
    """Encryption keys scheduled for deletion, destroyed, purged or disabled.

    Data encrypted under a destroyed key can never be read again: deleting a
    company's keys (or disabling them to hold it to ransom) is sabotage that needs no
    access to the data.  Keys are rarely destroyed in normal operation, and cloud
    providers make the deletion wait days so that it can be caught.  A deletion, a
    destruction or a purge that succeeded is high; keys only disabled, and attempts
    that were all refused, are medium.  One actor's such events no more than ``gap``
    apart are one finding.  A finding whose keys are all the actor's own throw-away
    keys (each created by that same actor, in the trail, no more than
    ``created_within`` before, and no stored data rewritten under it since) is low
    when it holds no more than ``max_own_keys`` of them: an ephemeral test
    environment's teardown.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": f"2026-01-05T02:0{i}:00Z",
    ...     "action": "kms_key_deletion.schedule", "actor": {"id": "mallory"},
    ...     "targets": [{"id": f"key/{i}", "type": "AWS::KMS::Key"}]} for i in range(3)])
    >>> print(key_destruction(df)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'mallory' scheduled the deletion of 3 encryption key(s) between 2026-01-05 02:00 UTC and
    2026-01-05 02:02 UTC: 'key/0', 'key/1', 'key/2'.
    """
    g = duration(gap, name="gap")
    within = duration(created_within, name="created_within")
    positive(max_own_keys, "max_own_keys")
    actions = actions_where(events, destroys_key)
    if not actions:
        return empty()
    cols = ("tenant_id", "actor_id", "event_id", "occurred_at", "action", "outcome",
            "target_id", "metadata")  # fmt: skip
    hits = (
        subset(events, cols, pl.col("action").is_in(actions))
        .with_columns(
            _key=pl.coalesce(
                "target_id",
                pl.col("metadata").str.json_path_match(f"{_REQUEST_JSON}.keyId"),
                pl.col("metadata").str.json_path_match("$.original.protoPayload.resourceName"),
                pl.col("action"),
            ),
            _verb=verb(pl.col("action")).str.extract(r"^([a-z]+)", 1),
            _ok=pl.col("outcome") == "success",
        )
        .collect()
    )
    hits = hits.join(
        _own_fresh_keys(events, hits, within), on="event_id", how="left", maintain_order="left"
    )
    destroyed = pl.col("_verb").is_in(list(_DESTROY)) & pl.col("_ok")
    what = pl.col("_verb").replace_strict({**_DESTROY, **_DISABLE}, default="destroyed")
    tried = pl.col("_verb").replace_strict(_TRIED, default="destroy")
    throwaway = pl.col("_own") & ~pl.col("_used")
    own = pl.col("_n_keys") <= max_own_keys
    found = (
        episodes(hits.lazy(), ["tenant_id", "actor_id"], g)
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            pl.col("_key").unique(maintain_order=True).alias("_keys"),
            # keys counted by name: one key named by its ARN and by its ID is one
            pl.coalesce("_name", pl.col("_key").str.to_lowercase()).n_unique().alias("_n_keys"),
            destroyed.any().alias("_destroyed"),
            pl.col("_ok").any().alias("_done"),
            what.unique(maintain_order=True).alias("_what"),
            tried.unique(maintain_order=True).alias("_tried"),
            throwaway.all().alias("_throwaway"),
            (T - pl.col("_made_at")).filter(throwaway).max().alias("_age"),
            (pl.col("_own") & pl.col("_used")).any().alias("_reencrypted"),
            pl.col("_made_id").drop_nulls().unique(maintain_order=True).alias("_made_ids"),
            pl.col("_made_at").min().alias("_made_first"),
        )
        .with_columns(
            severity=pl.when(pl.col("_throwaway") & own)
            .then(pl.lit("low"))
            .when("_destroyed")
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            summary=pl.concat_str(
                pl.format(
                    "{} {} {} encryption key(s) {}: {}",
                    q(pl.col("actor_id")),
                    pl.when("_done")
                    .then(pl.col("_what").list.join(" and "))
                    .otherwise(
                        pl.concat_str(pl.lit("tried to "), pl.col("_tried").list.join(" or "))
                    ),
                    pl.col("_keys").list.len(),
                    fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                    first_few(pl.col("_keys").list.eval(q(pl.element())), 5, ", "),
                ),
                pl.when(pl.col("_throwaway")).then(
                    pl.format(
                        "; it had created {} itself {} earlier{}",
                        pl.when(pl.col("_keys").list.len() == 1)
                        .then(pl.lit("the key"))
                        .otherwise(pl.lit("each of them at most")),
                        fmt_duration(pl.col("_age")),
                        pl.when(own)
                        .then(pl.lit(" (a throw-away key)"))
                        .otherwise(pl.format(", but more than {} at once", pl.lit(max_own_keys))),
                    )
                ),
                pl.when(pl.col("_reencrypted")).then(
                    pl.lit("; stored data was rewritten under a key it had just created")
                ),
                pl.lit("."),
                ignore_nulls=True,
            ),
        )
    )
    # the evidence: the keys' creations by the actor (when its own), then the destructions
    found = found.with_columns(
        event_ids=pl.concat_list("_made_ids", "event_ids").list.unique(maintain_order=True),
        first_seen=pl.min_horizontal("_made_first", "first_seen"),
    )
    return finalize(found, "key_destruction")
