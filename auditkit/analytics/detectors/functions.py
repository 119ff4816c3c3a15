"""Function code tampering: the code of a serverless function replaced, or code from
another account slipped into it.

A function is code that runs with its own role, on every invocation, and usually is
deployed by one pipeline.  An intruder with a key rewrites it (Lambda's
``UpdateFunctionCode``, Cloud Functions' ``UpdateFunction``, Cloud Run's
``ReplaceService``) to steal the role's credentials or the requests that pass through, or
attaches a layer published in an account of their own, whose code runs before the
function's.  In the trail it is one quiet event beside the pipeline's daily deploys.

An action changes a function's code when its noun ends with a function (``function``),
a function's code (``lambda_function_code``), a function's configuration (only when the
request attaches ``layers``) or a Cloud Run service, and its verb updates, patches,
replaces, uploads or deploys; a creation (``create``, ``insert``) makes the creator one of
the function's owners without being reported.  The function is the event's target, else
the request's ``functionName`` (an ARN reduced to the name).

A pipeline's secrets and runners are code it runs too: a CI/CD variable created or
changed (GitLab's ``ci_variable_created``, ``ci_group_variable_updated``: a package index
or a deploy token the next job trusts) or a runner registration token reset (whoever
holds the new token registers a runner that receives the jobs and their secrets) by a
person from a network they had never used is reported as well
(:func:`changes_pipeline`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors._principals import as_principals
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
    from_new_networks,
    is_person,
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

__all__ = ["changes_function", "changes_pipeline", "code_tampering"]

_CHANGE_VERBS: Final = frozenset(("update", "patch", "replace", "upload", "deploy"))
_CREATE_VERBS: Final = frozenset(("create", "insert"))
_FUNCTION: Final = frozenset(("function", "functions"))
_COLUMNS: Final = ("event_id", "occurred_at", "action", "outcome", "target_id", "source_ip",
                   "metadata", "user_agent")  # fmt: skip


def changes_function(action: str) -> str | None:
    """How an action touches a function's code: ``"change"``, ``"create"``,
    ``"configure"`` (a configuration update, code only when it attaches layers) or
    ``None``.

    >>> [changes_function(a) for a in ("lambda_function_code.update",
    ...     "lambda_function_configuration.update", "lambda_function.create",
    ...     "cloudfunctions_function.update", "run_service.replace",
    ...     "lambda_function_url_config.update", "lambda_alias.update",
    ...     "compute_service.update", "lambda_function.invoke")]
    ['change', 'configure', 'create', 'change', 'change', None, None, None, None]
    """
    noun, verb = action_words(action)
    if not noun or not verb:
        return None
    terms = noun_terms(noun)
    last = noun[-1]
    function = bool(terms & _FUNCTION)
    if last in _FUNCTION or (last == "code" and function) or (last == "service" and "run" in terms):
        if verb[0] in _CHANGE_VERBS:
            return "change"
        return "create" if verb[0] in _CREATE_VERBS else None
    if last == "configuration" and function and verb[0] in _CHANGE_VERBS:
        return "configure"
    return None


_PIPELINE: Final = frozenset(("ci", "cicd", "pipeline", "pipelines", "actions"))
_SECRET: Final = frozenset(("variable", "variables", "secret", "secrets"))
_RUNNER_TOKEN: Final = frozenset(("token", "registration"))
_PIPELINE_VERBS: Final = frozenset(
    ("create", "update", "add", "reset", "change", "rotate", "register")
)
_RUNNER_VERBS: Final = frozenset(("create", "add", "register"))
_PIPELINE_COLUMNS: Final = ("tenant_id", "actor_id", "actor_type", "event_id", "occurred_at",
                            "action", "outcome", "target_id", "targets", "source_ip",
                            "user_agent")  # fmt: skip


def changes_pipeline(action: str) -> bool:
    """Whether an action sets what a pipeline runs with: a CI/CD variable or secret created
    or changed, a runner's registration token reset, or a runner registered (GitHub's
    self-hosted runners, ``ci_runner.register``).

    >>> [changes_pipeline(a) for a in ("ci_variable.create", "ci_group_variable.update",
    ...     "ci_runner_registration_token.reset", "ci_variable.delete",
    ...     "runners_registration_token.reset", "repository.git_operation", "secret.update",
    ...     "ci_runner.register", "ci_runner.update")]
    [True, True, True, False, True, False, False, True, False]
    """
    noun, verb = action_words(action)
    if not noun or not verb or verb[0] not in _PIPELINE_VERBS:
        return False
    words = set(noun)
    runner = bool(words & {"runner", "runners"})
    if runner and noun[-1] in ("runner", "runners") and verb[0] in _RUNNER_VERBS:
        return True  # a runner registered: it receives the jobs and their secrets
    runner = runner and bool(words & _RUNNER_TOKEN)
    return runner or (bool(words & _PIPELINE) and bool(words & _SECRET))


def _pipeline_tampering(
    events: Events, g: timedelta, history: timedelta, max_evidence: int
) -> pl.DataFrame:
    """Findings of pipeline variables and runner tokens set by a person from a network
    they had never used (see :func:`code_tampering`)."""
    names = actions_where(events, changes_pipeline)
    if not names:
        return empty()
    keys = ["tenant_id", "actor_id"]
    hits = (
        subset(
            events,
            _PIPELINE_COLUMNS,
            pl.col("action").is_in(names),
            pl.col("outcome") == "success",
            pl.col("actor_id").is_not_null() & pl.col("source_ip").is_not_null(),
        )
        .filter(is_person())
        .with_columns(
            _what=pl.coalesce(pl.col("targets").list.first().struct.field("name"), "target_id")
        )
        .drop("targets")
        .collect()
    )
    if hits.height == 0:
        return empty()
    marked = from_new_networks(hits, events, keys, history, g)
    found = (
        episodes(marked, keys, g)
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            pl.col("_what").drop_nulls().unique(maintain_order=True),
            *newcomer_aggregations(g),
        )
        .with_columns(
            pl.col("event_ids").list.head(max_evidence),
            severity=pl.when("_stranger").then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} set pipeline variables, runner tokens or runners {} ({}): {}; {}.",
                q(pl.col("actor_id")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
                first_few(pl.col("_what").list.eval(q(pl.element())), 5, ", "),
                new_network_text(),
            ),
        )
    )
    return finalize(found, "code_tampering")


def _function() -> pl.Expr:
    """The function an event changes: its target, else the request's ``functionName``;
    a Lambda ARN (``arn:aws:lambda:…:function:NAME[:qualifier]``) reduced to ``NAME``, so
    that a function named either way is one."""
    name = pl.coalesce(
        pl.col("target_id"),
        pl.col("metadata").str.json_path_match("$.original.requestParameters.functionName"),
    )
    return (
        pl.when(name.str.contains("function:", literal=True))
        .then(name.str.extract(r"function:([^:]+)"))
        .otherwise(name)
    )


@register_detector("code_tampering", title="Function code tampered with", severity="high")
def code_tampering(
    events: Events,
    *,
    gap: str | timedelta = "1h",
    min_history: str | timedelta = "7d",
    max_evidence: int = 50,
) -> pl.DataFrame:
    """The code of a function changed by someone who never deployed it, or layers from
    another account attached to it; a pipeline's variables or runner token set from a
    network never used.

    One actor's code changes no more than ``gap`` apart are an episode.  It is reported
    when it changes a function that others created or changed earlier in the trail and
    the actor never had; when it attaches layers published in an account other than the
    event's own and not attached in the tenant's trail before; or when an actor seen
    ``min_history`` before changes function code for the first time from a network (IPv4
    ``/24``, IPv6 ``/64``) it had never used.  High from a network the actor had never
    used with a client (user agent) it had never used or an unknown one, or for another's
    function with outside layers; medium otherwise, and when every attempt was refused.

    Pipeline variables and runner tokens (:func:`changes_pipeline`): a person's
    successful changes no more than ``gap`` apart, once the actor has ``min_history`` of
    events and has made a network its own, are reported when one came from a network it
    had never made its own; high with a client it never used or an unknown one (GitLab
    names none), medium with its usual client.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> def deploy(day, who):
    ...     return {"tenant_id": "acme", "occurred_at": f"2026-01-{day:02d}T09:00:00Z",
    ...             "action": "lambda_function_code.update", "actor": {"id": who},
    ...             "targets": [{"id": "billing", "type": "function"}]}
    >>> frame = events_to_frame([deploy(d, "ci") for d in range(1, 20)] + [deploy(20, "eve")])
    >>> print(code_tampering(frame)["summary"][0])  # doctest: +NORMALIZE_WHITESPACE
    'eve' changed the code of 1 function(s) at 2026-01-20 09:00 UTC
    (lambda_function_code.update): 'billing', which only 'ci' had changed before.
    """
    g = duration(gap, name="gap")
    history = duration(min_history, name="min_history")
    positive(max_evidence, "max_evidence")
    pipelines = _pipeline_tampering(events, g, history, max_evidence)
    functions = _function_tampering(events, g, history, max_evidence)
    if pipelines.height == 0:
        return functions
    if functions.height == 0:
        return pipelines
    return pl.concat([functions, pipelines]).sort(["tenant_id", "first_seen", "finding_id"])


def _function_tampering(
    events: Events, g: timedelta, history: timedelta, max_evidence: int
) -> pl.DataFrame:
    """Findings of function code changed (see :func:`code_tampering`)."""
    keys = ["tenant_id", "actor_id"]
    kinds = {
        a: k
        for a in actions_where(events, lambda a: changes_function(a) is not None)
        if (k := changes_function(a))
    }
    if not kinds or set(kinds.values()) == {"create"}:
        return empty()
    # a pipeline's role session, named by its run, is the pipeline that assumed it
    events = as_principals(events)
    layers_path = "$.original.requestParameters.layers"
    touched = (
        subset(
            events,
            (*keys, *_COLUMNS),
            pl.col("action").is_in(list(kinds)),
            pl.col("actor_id").is_not_null(),
        )
        .with_columns(
            _kind=pl.col("action").replace_strict(kinds, return_dtype=pl.String),
            _layers=pl.col("metadata").str.json_path_match(layers_path),
            _account=pl.col("metadata").str.json_path_match("$.original.recipientAccountId"),
        )
        # a configuration update is a code change only when it attaches layers
        .filter((pl.col("_kind") != "configure") | pl.col("_layers").is_not_null())
        .with_columns(
            _fn=_function(),
            # the accounts that published the attached layers (arn:aws:lambda:R:ACCOUNT:layer:…)
            _layer_accounts=listed(pl.col("_layers"))
            .list.eval(pl.element().str.extract(r"^arn:[^:]+:lambda:[^:]*:(\d+):layer:"))
            .list.drop_nulls()
            .list.unique(maintain_order=True),
        )
        .drop("metadata")
        .collect()
    )
    if touched.height == 0:
        return empty()
    ok = pl.col("outcome") == "success"
    change = pl.col("_kind") != "create"
    # who made or changed each function, first when
    owners = (
        touched.lazy()
        .filter(ok & pl.col("_fn").is_not_null())
        .group_by("tenant_id", "_fn", pl.col("actor_id").alias("_owner"))
        .agg(_owned=T.min())
    )
    # layer accounts the tenant attached before (successfully), first when
    layer_seen = (
        touched.lazy()
        .filter(ok)
        .select("tenant_id", "occurred_at", _la=pl.col("_layer_accounts"))
        .explode("_la")
        .drop_nulls("_la")
        .group_by("tenant_id", "_la")
        .agg(_la_first=T.min())
    )
    actors = touched.lazy().select(keys).unique()
    # the actor's first successful code change of any function
    first_change = touched.lazy().filter(ok & change).group_by(keys).agg(_first_change=T.min())
    marked = episodes(
        with_newcomer_firsts(touched.lazy().filter(change), events, keys, actors), keys, g
    ).collect()
    if marked.height == 0:
        return empty()
    start = pl.col("occurred_at").min().over("_episode")
    # per event: the other owners of its function before the episode, and whether the
    # actor was one
    others = (
        marked.lazy()
        .select("_episode", "tenant_id", "actor_id", "_fn", _start=start)
        .unique()
        .join(owners, on=["tenant_id", "_fn"])
        .filter(pl.col("_owned") < pl.col("_start"))
        .group_by("_episode", "_fn")
        .agg(
            _mine=(pl.col("_owner") == pl.col("actor_id")).any(),
            _others=pl.col("_owner").filter(pl.col("_owner") != pl.col("actor_id")).sort(),
        )
        .filter(~pl.col("_mine") & (pl.col("_others").list.len() > 0))
        .group_by("_episode")
        .agg(
            _theirs=pl.col("_fn").sort(),
            _their_owners=pl.col("_others")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique()
            .sort(),
        )
    )
    foreign = (
        marked.lazy()
        .select("_episode", "tenant_id", "_account", _start=start, _la=pl.col("_layer_accounts"))
        .explode("_la")
        .drop_nulls("_la")
        .filter(pl.col("_la") != pl.col("_account").fill_null(""))
        .join(layer_seen, on=["tenant_id", "_la"], how="left")
        .filter(pl.col("_la_first").is_null() | (pl.col("_la_first") >= pl.col("_start")))
        .group_by("_episode")
        .agg(_foreign=pl.col("_la").unique().sort())
    )
    grouped = (
        marked.lazy()
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            ok.any().alias("_done"),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            pl.col("_fn").drop_nulls().unique(maintain_order=True).alias("_fns"),
            # new networks and clients; both new at once is not a pipeline's usual tool
            # on a new runner
            *newcomer_aggregations(g),
        )
        .join(began(events, keys, among=actors), on=keys, how="left")
        .join(first_change, on=keys, how="left")
        .join(others, on="_episode", how="left")
        .join(foreign, on="_episode", how="left")
    )
    known = (pl.col("first_seen") - pl.col("_began")) >= history
    first = pl.col("_first_change").is_null() | (pl.col("_first_change") >= pl.col("first_seen"))
    new_net = pl.col("_new_ips").list.len() > 0
    theirs = pl.col("_theirs").list.len().fill_null(0) > 0
    outside = pl.col("_foreign").list.len().fill_null(0) > 0
    # a network and a client both new: not the pipeline on a new runner
    stranger = pl.col("_stranger")
    high = pl.col("_done") & (
        (stranger & (theirs | outside | (known & first))) | (theirs & outside)
    )
    why = pl.concat_list(
        pl.when(theirs).then(
            pl.format(
                "{}, which only {} had changed before",
                first_few(pl.col("_theirs").list.eval(q(pl.element())), 3, ", "),
                first_few(pl.col("_their_owners").list.eval(q(pl.element())), 3, ", "),
            )
        ),
        pl.when(outside).then(
            pl.format(
                "layers from account(s) {}, never attached before",
                first_few(pl.col("_foreign").list.eval(q(pl.element())), 3, ", "),
            )
        ),
        pl.when(first & known).then(pl.lit("its first code change in the trail")),
        pl.when(new_net).then(new_network_text()),
        pl.when(~theirs & (pl.col("_fns").list.len() > 0)).then(
            first_few(pl.col("_fns").list.eval(q(pl.element())), 3, ", ")
        ),
    ).list.drop_nulls()
    return finalize(
        grouped.filter(theirs | outside | (known & first & new_net)).with_columns(
            pl.col("event_ids").list.head(max_evidence),
            severity=pl.when(high).then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} the code of {} function(s) {} ({}): {}.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("changed")).otherwise(pl.lit("tried to change")),
                pl.col("_fns").list.len(),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
                why.list.join("; "),
            ),
        ),
        "code_tampering",
    )
