"""Generative model abuse ("LLMjacking"): a stolen cloud key used to run large language
models at the victim's expense.

A key that reaches Bedrock or Vertex AI is worth money on its own: intruders resell the
access through reverse proxies, and a day of it can cost tens of thousands of dollars.
Their sessions have a shape: they check whether invocations are logged
(``GetModelInvocationLoggingConfiguration``), list the models and their availability,
enable access to the ones that are off (``PutUseCaseForModelAccess``,
``CreateFoundationModelAgreement``), probe with invalid requests that are refused but
prove access, then invoke model after model.  The people and applications that use
models do it from their own networks, with one or two models, day after day.

An action uses a model when its noun names a model service (``bedrock``,
``aiplatform``, ``vertexai``, ``openai``) and its verb invokes a model
(``bedrock_model.invoke``, ``bedrock_model_with_response_stream.invoke``), converses,
predicts or generates (``bedrock.converse``, ``aiplatform_content.generate``); it
enables model access when it puts or creates a use case for model access, a model
agreement or an entitlement; it checks logging when it reads the model invocation
logging configuration; it discovers models when it lists them or reads their
availability (cited in a finding, never a reason for one).  The model is the
request's ``modelId``, else the event's target.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import (
    Events,
    action_words,
    actions_where,
    began,
    duration,
    earlier_days,
    empty,
    episodes,
    finalize,
    finding_span,
    first_few,
    fmt_between,
    new_network_text,
    newcomer_aggregations,
    noun_terms,
    positive,
    q,
    subset,
    with_newcomer_firsts,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["model_abuse", "uses_models"]

_SERVICES: Final = frozenset(("bedrock", "aiplatform", "vertexai", "openai"))
_INVOKE: Final = frozenset(("converse", "predict", "generate", "stream", "complete"))
_COLUMNS: Final = ("event_id", "occurred_at", "action", "outcome", "target_id", "source_ip",
                   "metadata", "user_agent")  # fmt: skip


def uses_models(action: str) -> str | None:
    """What an action does with generative models: ``"invoke"``, ``"enable"`` (model
    access), ``"logging"`` (reads whether invocations are logged), ``"discover"`` (lists
    models or reads their availability: cited, never a reason alone) or ``None``.

    >>> [uses_models(a) for a in ("bedrock_model.invoke", "bedrock.converse",
    ...     "aiplatform_content.generate", "bedrock_use_case_for_model_access.put",
    ...     "bedrock_foundation_model_agreement.create",
    ...     "bedrock_model_invocation_logging_configuration.get",
    ...     "bedrock_foundation_models.list", "bedrock_agent.invoke", "lambda_function.invoke")]
    ['invoke', 'invoke', 'invoke', 'enable', 'enable', 'logging', 'discover', None, None]
    """
    noun, verb = action_words(action)
    terms = noun_terms(noun)
    if not verb or not terms & _SERVICES:
        return None
    if (verb[0] == "invoke" and "model" in terms) or verb[0] in _INVOKE:
        return "invoke"
    if verb[0] in ("put", "create") and (
        bool(terms & {"agreement", "entitlement"}) or {"use", "case", "access"} <= terms
    ):
        return "enable"
    if verb[0] == "get" and {"invocation", "logging"} <= terms:
        return "logging"
    if verb[0] in ("get", "list") and bool(terms & {"model", "models"}):
        return "discover"
    return None


@register_detector("model_abuse", title="Generative models abused", severity="high")
def model_abuse(
    events: Events,
    *,
    gap: str | timedelta = "1h",
    min_history: str | timedelta = "7d",
    routine_days: int = 2,
    min_models: int = 3,
    min_refused: int = 5,
    max_evidence: int = 50,
) -> pl.DataFrame:
    """An actor new to generative models using them the way key thieves do: from a
    network it never used, enabling model access, checking whether invocations are logged,
    trying many models, or probing with refused requests.

    One actor's model events no more than ``gap`` apart are an episode.  It is reported
    when the actor had been seen ``min_history`` before, had invoked models on fewer than
    ``routine_days`` earlier days, invokes or enables models in the episode, and shows a
    sign: a network (IPv4 ``/24``, IPv6 ``/64``) it had never used; model access enabled;
    the invocation logging configuration read; ``min_models`` or more models invoked; or
    ``min_refused`` or more invocations refused.  High from a new network with a client
    (user agent) the actor had never used, or an unknown one, when an event succeeded or
    ``min_refused`` invocations were refused (refused requests prove access); medium
    otherwise.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> usual = [{"tenant_id": "acme", "occurred_at": f"2026-01-{d:02d}T09:00:00Z",
    ...           "action": "s3_objects.list", "actor": {"id": "dev"}} for d in range(1, 20)]
    >>> steps = ["bedrock_model_invocation_logging_configuration.get",
    ...          "bedrock_use_case_for_model_access.put", "bedrock_model.invoke"]
    >>> abuse = [{"tenant_id": "acme", "occurred_at": f"2026-01-20T03:0{i}:00Z",
    ...           "action": a, "actor": {"id": "dev"},
    ...           "targets": [{"id": "claude-3", "type": "model"}]} for i, a in enumerate(steps)]
    >>> print(model_abuse(events_to_frame(usual + abuse))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    'dev' used generative models between 2026-01-20 03:00 UTC and 2026-01-20 03:02 UTC
    (bedrock_model_invocation_logging_configuration.get,
    bedrock_use_case_for_model_access.put, bedrock_model.invoke): new to them; enabled
    model access; read whether invocations are logged; 1 invocation(s) of 1 model(s)
    ('claude-3').
    """
    g = duration(gap, name="gap")
    history = duration(min_history, name="min_history")
    for value, name in ((routine_days, "routine_days"), (min_models, "min_models"),
                        (min_refused, "min_refused"), (max_evidence, "max_evidence")):  # fmt: skip
        positive(value, name)
    keys = ["tenant_id", "actor_id"]
    kinds = {
        a: k
        for a in actions_where(events, lambda a: uses_models(a) is not None)
        if (k := uses_models(a))
    }
    if "invoke" not in kinds.values() and "enable" not in kinds.values():
        return empty()
    used = (
        subset(
            events,
            (*keys, *_COLUMNS),
            pl.col("action").is_in(list(kinds)),
            pl.col("actor_id").is_not_null(),
        )
        .with_columns(
            _kind=pl.col("action").replace_strict(kinds, return_dtype=pl.String),
            _model=pl.coalesce(
                pl.col("metadata").str.json_path_match("$.original.requestParameters.modelId"),
                pl.col("target_id"),
            ),
        )
        .drop("metadata")
        .collect()
    )
    if used.height == 0:
        return empty()
    ok = pl.col("outcome") == "success"
    invoke = pl.col("_kind") == "invoke"
    actors = used.lazy().select(keys).unique()
    marked = episodes(with_newcomer_firsts(used.lazy(), events, keys, actors), keys, g).collect()
    grouped = (
        marked.lazy()
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            ok.any().alias("_done"),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            invoke.sum().alias("_invocations"),
            (invoke & ~ok).sum().alias("_refused"),
            pl.col("_model")
            .filter(invoke)
            .drop_nulls()
            .unique(maintain_order=True)
            .alias("_models"),
            ((pl.col("_kind") == "enable") & ok).any().alias("_enabled"),
            (pl.col("_kind") == "logging").any().alias("_logging"),
            # new networks and clients; both new at once is not a pipeline's usual tool
            # on a new runner
            *newcomer_aggregations(g),
        )
        .join(began(events, keys, among=actors), on=keys, how="left")
    )
    # the days on which each actor invoked models successfully, before each episode
    earlier = earlier_days(grouped, marked.lazy().filter(invoke & ok), keys)
    n_models = pl.col("_models").list.len()
    new_net = pl.col("_new_ips").list.len() > 0
    signs = [
        new_net,
        pl.col("_enabled"),
        pl.col("_logging"),
        n_models >= min_models,
        pl.col("_refused") >= min_refused,
    ]
    count = pl.sum_horizontal(*(s.cast(pl.Int32) for s in signs))
    known = (pl.col("first_seen") - pl.col("_began")) >= history
    new = pl.col("_days") < routine_days
    acts = (pl.col("_invocations") > 0) | pl.col("_enabled")
    # an engineer's first afternoon with models enables access and compares several from
    # the office: only a network and a client the actor never used make it high
    high = pl.col("_stranger") & (pl.col("_done") | (pl.col("_refused") >= min_refused))
    why = pl.concat_list(
        pl.when(pl.col("_days") == 0)
        .then(pl.lit("new to them"))
        .otherwise(pl.format("used on {} earlier day(s) only", pl.col("_days"))),
        pl.when(new_net).then(new_network_text()),
        pl.when("_enabled").then(pl.lit("enabled model access")),
        pl.when("_logging").then(pl.lit("read whether invocations are logged")),
        pl.when(pl.col("_refused") >= min_refused).then(
            pl.format("{} invocation(s) refused", pl.col("_refused"))
        ),
        pl.when(n_models > 0)
        .then(
            pl.format(
                "{} invocation(s) of {} model(s) ({})",
                pl.col("_invocations"),
                n_models,
                first_few(pl.col("_models").list.eval(q(pl.element())), 5, ", "),
            )
        )
        .otherwise(pl.format("{} invocation(s)", pl.col("_invocations"))),
    ).list.drop_nulls()
    return finalize(
        grouped.join(earlier, on="_episode", how="left")
        .with_columns(pl.col("_days").fill_null(0))
        .filter(known & new & acts & (count > 0))
        .with_columns(
            pl.col("event_ids").list.head(max_evidence),
            severity=pl.when(high).then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} generative models {} ({}): {}.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("used")).otherwise(pl.lit("tried to use")),
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 4, ", "),
                why.list.join("; "),
            ),
        ),
        "model_abuse",
    )
