"""Remote execution: commands, shells and keys pushed onto machines through the cloud's
control plane.

With a cloud key in hand, an intruder needs no network path to the machines: SSM's
``SendCommand`` runs a script on every instance it names, ``StartSession`` opens a
shell, EC2 Instance Connect pushes an SSH key for a minute (``SendSSHPublicKey``, also
to the serial console), and a replaced user data script runs at the next start; in
Google Cloud, SSH keys or a start-up script go into an instance's or the project's
metadata.  The
people and pipelines who administer machines this way do it week in, week out; the
intruder does it for the first time, often on many machines at once.

An action runs on machines when its verb sends, starts, runs or invokes and its noun is
a command (``ssm_command.send``), a session of a systems manager
(``ssm_session.start``), an SSH public key or a serial console
(``ec2_instance_connect_ssh_public_key.send``); or it modifies an instance attribute and
its request (CloudTrail's ``requestParameters``) carries ``userData``; or it sets
Compute Engine metadata whose logged delta adds or modifies ``ssh-keys`` or
``startup-script``; or it writes a SageMaker lifecycle configuration (a script a
notebook instance runs at every start) or attaches one (``lifecycleConfigName``).  The
machines are
the request's ``instanceIds``, ``instanceId`` or ``target`` (each of a list), its
``targets`` (a tag selector counts as one), else the event's target.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    T,
    action_words,
    actions_where,
    began,
    duration,
    empty,
    episodes,
    finalize,
    finding_span,
    first_few,
    fmt_between,
    listed,
    new_network_text,
    newcomer_aggregations,
    noun_terms,
    positive,
    q,
    subset,
    with_newcomer_firsts,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["remote_execution", "runs_on_machines"]

_VERBS: Final = frozenset(("send", "start", "run", "invoke", "execute", "push"))
#: Nouns of a remote command, shell or key, as one word of the noun or a joined pair.
_NOUNS: Final = frozenset(
    ("command", "commands", "runcommand", "sshpublickey", "sshpublic", "sshkey", "sshkeys",
     "serialconsole")
)  # fmt: skip
#: Sessions are remote shells only when a systems manager opens them (a user's
#: ``user.session.start`` is a sign-in).
_SESSION_SERVICES: Final = frozenset(("ssm", "sessionmanager", "systemsmanager"))
#: Where a producer's request names the machines (each a value or a JSON list of them).
_MACHINE_PATHS: Final = (
    "$.original.requestParameters.instanceIds",
    "$.original.requestParameters.instanceId",
    "$.original.requestParameters.target",
    "$.original.requestParameters.targets",
    "$.original.requestParameters.notebookInstanceName",
    "$.original.requestParameters.notebookInstanceLifecycleConfigName",
    "$.original.requestParameters.studioLifecycleConfigName",
    "$.original.protoPayload.resourceName",
)
#: A serial console is reached outside the machine's own network and login.
_CONSOLE: Final = "serial"


def runs_on_machines(action: str) -> bool:
    """Whether an action runs something on machines (a command, a shell, an SSH key).

    >>> [runs_on_machines(a) for a in ("ssm_command.send", "ssm_session.start",
    ...     "ec2_instance_connect_ssh_public_key.send", "user.session.start",
    ...     "ssm_command.list", "ssm_document.create", "message.send")]
    [True, True, True, False, False, False, False]
    """
    noun, verb = action_words(action)
    if not verb or verb[0] not in _VERBS:
        return False
    terms = noun_terms(noun) | noun_terms(verb[1:])
    if terms & _NOUNS or {"ssh", "key"} <= terms or {"serial", "console"} <= terms:
        return True
    return "session" in terms and bool(terms & _SESSION_SERVICES)


def _sets_start_up(action: str) -> bool:
    """Whether an action may replace what a machine runs or trusts at start: EC2's
    instance attributes (``userData``), Compute Engine's instance or project metadata
    (``startup-script``, ``ssh-keys``); the request tells (see :func:`_start_up_key`)."""
    noun, verb = action_words(action)
    terms = noun_terms(noun) | noun_terms(verb[1:])
    return (
        bool(verb)
        and verb[0] in ("modify", "update", "set", "patch")
        and bool(
            terms & {"instanceattribute", "metadata", "commoninstancemetadata", "notebookinstance"}
        )
    )


def _writes_lifecycle_script(action: str) -> bool:
    """Whether an action writes a lifecycle configuration: the script a notebook instance
    or a studio runs at each start (SageMaker's ``CreateNotebookInstanceLifecycleConfig``).

    >>> [_writes_lifecycle_script(a) for a in (
    ...     "sagemaker_notebook_instance_lifecycle_config.create",
    ...     "sagemaker_studio_lifecycle_config.update", "s3_bucket_lifecycle_configuration.put",
    ...     "sagemaker_notebook_instance_lifecycle_config.describe")]
    [True, True, False, False]
    """
    noun, verb = action_words(action)
    terms = noun_terms(noun)
    return (
        bool(verb)
        and verb[0] in ("create", "update")
        and {"lifecycle", "config"} <= terms
        and bool(terms & {"notebook", "studio", "sagemaker"})
    )


def _start_up_key() -> pl.Expr:
    """What a start-up change adds: ``"SSH key push"`` for SSH keys in Compute Engine's
    metadata, ``"start-up script"`` for a start-up script or EC2's user data, else null
    (another attribute, a key removed)."""
    meta = pl.col("metadata").str.json_path_match
    delta = pl.concat_str(
        *(
            meta(f"$.original.protoPayload.metadata.{d}.{k}")
            for d in ("instanceMetadataDelta", "projectMetadataDelta")
            for k in ("addedMetadataKeys", "modifiedMetadataKeys")
        ),
        separator=" ",
        ignore_nulls=True,
    )
    return (
        pl.when(delta.str.contains(r'"(?:ssh-keys|sshKeys)"'))
        .then(pl.lit("SSH key push"))
        .when(
            delta.str.contains(r'"(?:windows-)?startup-script')
            | meta("$.original.requestParameters.userData").is_not_null()
            | meta("$.original.requestParameters.lifecycleConfigName").is_not_null()
        )
        .then(pl.lit("start-up script"))
    )


def _machines() -> pl.Expr:
    """The machines an event reaches, as a list (a request's list read item by item)."""
    request = pl.col("metadata").str.json_path_match
    return (
        pl.concat_list(
            *(listed(request(p)) for p in _MACHINE_PATHS),
            pl.col("target_id"),
        )
        .list.drop_nulls()
        .list.unique(maintain_order=True)
    )


@register_detector("remote_execution", title="Remote execution on machines", severity="high")
def remote_execution(
    events: Events,
    *,
    gap: str | timedelta = "1h",
    min_machines: int = 5,
    min_history: str | timedelta = "7d",
    routine_days: int = 2,
    max_evidence: int = 50,
) -> pl.DataFrame:
    """An actor running commands, opening shells or pushing SSH keys onto machines
    through the control plane for the first time, or on more machines than ever.

    One actor's such events no more than ``gap`` apart are an episode.  It is reported
    when the actor had done this on fewer than ``routine_days`` earlier days (and either
    had been seen ``min_history`` before, or reached ``min_machines`` machines); and, for
    an actor seen ``min_history`` before, when it did a kind it had never done (commands,
    sessions, SSH key pushes, start-up scripts) or reached ``min_machines`` or more
    machines with one kind, more than on any earlier day; or did its routine from a
    network and with a client it had never used.  High when the actor had been seen
    ``min_history`` before and either its first such episode reached ``min_machines``
    machines or a serial console, or the episode came from a network (IPv4 ``/24``, IPv6
    ``/64``) and with a client (user agent) the actor had never used, or an unknown one;
    medium otherwise, and when every attempt was refused.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> usual = [{"tenant_id": "acme", "occurred_at": f"2026-01-{d:02d}T09:00:00Z",
    ...           "action": "ec2_instances.describe", "actor": {"id": "ci"}}
    ...          for d in range(1, 20)]
    >>> run = [{"tenant_id": "acme", "occurred_at": f"2026-01-20T03:0{i}:00Z",
    ...         "action": "ssm_command.send", "actor": {"id": "ci"},
    ...         "targets": [{"id": f"i-0{i}", "type": "instance"}]} for i in range(6)]
    >>> print(remote_execution(events_to_frame(usual + run))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    'ci' ran commands or sessions on 6 machine(s) between 2026-01-20 03:00 UTC and
    2026-01-20 03:05 UTC (ssm_command.send): its first in the trail; 'i-00', 'i-01',
    'i-02', 'i-03', 'i-04' and 1 more.
    """
    g = duration(gap, name="gap")
    history = duration(min_history, name="min_history")
    positive(min_machines, "min_machines")
    positive(routine_days, "routine_days")
    positive(max_evidence, "max_evidence")
    keys = ["tenant_id", "actor_id"]
    remote = actions_where(events, runs_on_machines)
    attributes = actions_where(events, _sets_start_up)
    scripts = actions_where(events, _writes_lifecycle_script)
    if not remote and not attributes and not scripts:
        return empty()
    cols = (*keys, "event_id", "occurred_at", "action", "outcome", "target_id", "source_ip",
            "metadata", "user_agent")  # fmt: skip
    runs = (
        subset(
            events,
            cols,
            pl.col("action").is_in([*remote, *attributes, *scripts]),
            pl.col("actor_id").is_not_null(),
        )
        # of the attribute and metadata changes, those of a start-up script or SSH keys
        .with_columns(
            _start_up=pl.when(pl.col("action").is_in(scripts))
            .then(pl.lit("start-up script"))
            .when(pl.col("action").is_in(attributes))
            .then(_start_up_key())
        )
        .filter(pl.col("action").is_in(remote) | pl.col("_start_up").is_not_null())
        .with_columns(_machines=_machines())
        .collect()
    )
    if runs.height == 0:
        return empty()
    ok = pl.col("outcome") == "success"
    # when each actor first used each network and client, in any event of the trail
    actors = runs.lazy().select(keys).unique()
    # what kind: a command, a session, an SSH key (to the console too), a start-up script
    key = pl.col("action").str.contains("key|console")
    session = pl.col("action").str.contains("session")

    marked = episodes(
        with_newcomer_firsts(runs.lazy(), events, keys, actors).with_columns(
            _kind=pl.when(pl.col("_start_up").is_not_null())
            .then(pl.col("_start_up"))
            .when(key)
            .then(pl.lit("SSH key push"))
            .when(session)
            .then(pl.lit("session"))
            .otherwise(pl.lit("command"))
        ),
        keys,
        g,
    ).collect()
    grouped = (
        marked.lazy()
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("_machines")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique(maintain_order=True)
            .alias("_reached"),
            ok.any().alias("_done"),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            pl.col("action").str.contains(_CONSOLE).any().alias("_console"),
            # networks and clients first used by the actor within a gap before these
            # events; both new at once is not the actor's own tool on a new network
            *newcomer_aggregations(g),
        )
        .join(began(events, keys, among=actors), on=keys, how="left")
    )

    # per kind of the episode: the days the actor did it before, the most machines it
    # reached with it in a day, and the machines it reaches now
    def width(by: list[str], frame: pl.LazyFrame) -> pl.LazyFrame:
        return (
            frame.select(*by, "_kind", _m=pl.col("_machines"))
            .explode("_m")
            .group_by(*by, "_kind")
            .agg(_width=pl.col("_m").drop_nulls().n_unique())
        )

    daily = width([*keys, "_day"], marked.lazy().filter(ok).with_columns(_day=T.dt.date()))
    before = (
        grouped.select("_episode", *keys, "first_seen")
        .join(daily, on=keys)
        .filter(pl.col("_day") < pl.col("first_seen").dt.date())
    )
    per_kind = before.group_by("_episode", "_kind").agg(
        _kind_days=pl.len(), _widest=pl.col("_width").max()
    )
    now = width(["_episode"], marked.lazy()).join(
        per_kind, on=["_episode", "_kind"], how="left", maintain_order="left"
    )
    wider_kind = (pl.col("_width") >= min_machines) & (
        pl.col("_width") > pl.col("_widest").fill_null(0)
    )
    earlier = (
        now.sort("_episode", "_kind")
        .group_by("_episode")
        .agg(
            # a kind the actor had never done (a start-up script by an admin of sessions)
            pl.col("_kind").filter(pl.col("_kind_days").is_null()).alias("_new_kinds"),
            _wider=wider_kind.any(),
            _widest=pl.col("_widest").fill_null(0).filter(wider_kind).max(),
        )
        .join(
            before.group_by("_episode").agg(_days=pl.col("_day").n_unique()),
            on="_episode",
            how="left",
        )
    )
    n = pl.col("_reached").list.len()
    known = (pl.col("first_seen") - pl.col("_began")) >= history
    first = pl.col("_days") < routine_days
    new_kind = pl.col("_new_kinds").list.len() > 0
    wider = pl.col("_wider")
    new_net = pl.col("_new_ips").list.len() > 0
    wide = (n >= min_machines) | pl.col("_console")
    stranger = pl.col("_stranger")
    high = known & pl.col("_done") & (stranger | (first & wide))
    why = pl.concat_list(
        pl.when(pl.col("_days") == 0).then(pl.lit("its first in the trail")),
        pl.when((pl.col("_days") > 0) & first).then(
            pl.format("done on {} earlier day(s) only", pl.col("_days"))
        ),
        pl.when(~first & new_kind).then(
            pl.format("its first {}", pl.col("_new_kinds").list.join(" and "))
        ),
        pl.when(~first & wider).then(
            pl.format(
                "more machines at once than on any earlier day (at most {})", pl.col("_widest")
            )
        ),
        pl.when(new_net).then(new_network_text()),
        pl.when(pl.col("_console")).then(pl.lit("through the serial console")),
        pl.when(n > 0)
        .then(first_few(pl.col("_reached").list.eval(q(pl.element())), 5, ", "))
        .otherwise(pl.lit("the events do not name the machines")),
    ).list.drop_nulls()
    return finalize(
        grouped.join(earlier, on="_episode", how="left", maintain_order="left")
        .with_columns(
            pl.col("_days").fill_null(0),
            pl.col("_widest").fill_null(0),
            pl.col("_wider").fill_null(False),
        )
        .filter(
            (known & (first | new_kind | wider | (stranger & pl.col("_done"))))
            | (first & (n >= min_machines))
        )
        .with_columns(
            pl.col("event_ids").list.head(max_evidence),
            severity=pl.when(high).then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} commands or sessions on {} machine(s) {} ({}): {}.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("ran")).otherwise(pl.lit("tried to run")),
                n,
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
                why.list.join("; "),
            ),
        ),
        "remote_execution",
    )
