"""MFA prompts as the MFA detectors read them: approvals, refusals and prompts only sent.

``mfa.challenge`` is a factor *verified*: outcome ``success`` is an approval (a push
accepted, a code typed), ``denied`` a prompt the user refused, ``failure`` a verification
that failed.  A prompt merely *sent* is ``mfa_challenge.send`` (Okta's
``system.push.send_factor_verify_push``, which Okta logs as SUCCESS for every push it
sends): never an approval.  Stores imported before that mapping hold such sends as
``mfa.challenge`` success; their ``metadata.source_action`` (``system.push.send_*``,
``system.sms.send_*``, ``system.voice.send_*``, ``system.email.send_*``) tells them apart.

A refused push is a denial (``denied``), or a failed verification of a push factor
(Okta's ``user.authentication.auth_via_mfa`` FAILURE with ``debugData.factor``
``OKTA_VERIFY_PUSH``: rejected or timed out), or a push sent that no approval answered.
A failed code (TOTP, SMS, e-mail, a hardware key) is a typo, not a refused prompt, and a
failure whose factor is not named is not counted either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final

import polars as pl

from auditkit.analytics.detectors.common import Events, T, keyed, next_in_key, subset

__all__ = ["MFA_SEND", "SAME_PROMPT", "factor", "refused_prompts"]

#: The action of an MFA prompt sent (not answered).
MFA_SEND: Final = "mfa_challenge.send"
#: Source event types of a prompt sent, as imports before ``mfa_challenge.send`` named
#: them ``mfa.challenge`` (Okta's ``system.push.send_factor_verify_push``...).
_SENT_SOURCE: Final = r"(?i)^system\.(?:push|sms|voice|email|call)\.send_"
#: A literal search for those names, before reading the JSON of a success.
_SENT_MARK: Final = r"(?i)system\.(?:push|sms|voice|email|call)\.send_"
#: Factors approved with a tap, whose prompts can be sent again and again.
_PUSH: Final = r"(?i)push"
#: A failed push verification this close to a denial of the same actor is the same prompt
#: (Okta may log both ``deny_push`` and ``auth_via_mfa`` FAILURE for one refusal).
SAME_PROMPT: Final = timedelta(minutes=1)


def factor() -> pl.Expr:
    """The factor an MFA event names: ``metadata.factor`` (the Okta import's), else the
    original Okta record's ``debugContext.debugData.factor``; null when neither says.

    >>> df = pl.DataFrame({"metadata": ['{"factor": "OKTA_VERIFY_PUSH"}',
    ...     '{"original": {"debugContext": {"debugData": {"factor": "GOOGLE_OTP"}}}}', "{}"]})
    >>> df.select(factor()).to_series().to_list()
    ['OKTA_VERIFY_PUSH', 'GOOGLE_OTP', None]
    """
    meta = pl.col("metadata")
    return pl.coalesce(
        meta.str.json_path_match("$.factor"),
        meta.str.json_path_match("$.original.debugContext.debugData.factor"),
    )


def _prev_in_key(condition: pl.Expr, value: pl.Expr = T) -> pl.Expr:
    """``value`` at the previous row (this one included) where ``condition`` holds, within
    the same ``_k`` (frames from :func:`keyed`)."""
    filled = pl.when(condition).then(value).fill_null(strategy="forward")
    key = pl.when(condition).then(pl.col("_k")).fill_null(strategy="forward")
    return pl.when(key == pl.col("_k")).then(filled)


def refused_prompts(
    events: Events,
    columns: Sequence[str],
    window: timedelta,
    *,
    keep: pl.Expr | None = None,
    among: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Each actor's MFA prompts, sorted (``_k`` per tenant and actor), with:

    - ``_ok``: an approval (``mfa.challenge`` success that is not a prompt sent);
    - ``_denied``: a denial; ``_failed``: a failed push verification (not within
      :data:`SAME_PROMPT` of a denial, which is the same prompt);
    - ``_sent``: a push sent and ``_unanswered``: one whose next prompt event is not an
      approval;
    - ``_refused``: ``_denied | _failed``;
    - ``_peak``: refused prompts within ``window`` up to the row: the larger of the
      refusals and the pushes unanswered (each push is counted once whether the source
      logs its refusal, its sending, or both).

    ``keep`` (over ``_k``) drops actors before the sort; ``among`` (``tenant_id``,
    ``actor_id``) keeps only those actors.
    """
    action, outcome = pl.col("action"), pl.col("outcome")
    meta = pl.col("metadata")
    # the JSON is read only where it decides: a success imported as a challenge may be a
    # prompt sent (told by a literal search first), a failure or a send names its factor
    legacy = (
        (action == "mfa.challenge")
        & (outcome == "success")
        & meta.str.contains(_SENT_MARK).fill_null(False)
    )
    source = pl.when(legacy).then(meta).str.json_path_match("$.source_action")
    sent = (action == MFA_SEND) | source.str.contains(_SENT_SOURCE).fill_null(False)
    asks = (outcome == "failure") | sent
    named = pl.coalesce(
        pl.when(asks).then(meta).str.json_path_match("$.factor"),
        pl.when(asks).then(meta).str.json_path_match("$.original.debugContext.debugData.factor"),
    )
    push = named.str.contains(_PUSH).fill_null(False)
    rows = (
        subset(
            events,
            (*columns, "metadata"),
            action.is_in(["mfa.challenge", MFA_SEND]),
        )
        .with_columns(_sent_any=sent, _push=push | source.str.contains(_PUSH).fill_null(False))
        .with_columns(_verified=(action == "mfa.challenge") & ~pl.col("_sent_any"))
        .with_columns(
            _ok=pl.col("_verified") & (outcome == "success"),
            _denied=pl.col("_verified") & (outcome == "denied"),
            _failed=pl.col("_verified") & (outcome == "failure") & pl.col("_push"),
            _sent=pl.col("_sent_any") & (outcome == "success") & pl.col("_push"),
        )
        .drop("_sent_any", "_push", "_verified")
        .filter(pl.col("_ok") | pl.col("_denied") | pl.col("_failed") | pl.col("_sent"))
        # at one instant: the push sent, then its answer
        .with_columns(
            _rank=pl.when("_sent").then(0).when(pl.col("_ok")).then(2).otherwise(1),
        )
        .drop("metadata")
    )
    if among is not None:
        rows = rows.join(among, on=["tenant_id", "actor_id"], how="semi")
    seq = keyed(rows, ["tenant_id", "actor_id"], "_rank", keep=keep)
    denied = pl.col("_denied")
    near_denial = ((T - _prev_in_key(denied)) <= SAME_PROMPT).fill_null(False) | (
        (next_in_key(denied) - T) <= SAME_PROMPT
    ).fill_null(False)
    answered = (pl.col("_ok").shift(-1) & (pl.col("_k").shift(-1) == pl.col("_k"))).fill_null(False)

    def rolling(flag: str) -> pl.Expr:
        return pl.col(flag).cast(pl.UInt32).rolling_sum_by("occurred_at", window).over("_k")

    return (
        seq.with_columns(
            _failed=pl.col("_failed") & ~near_denial,
            _unanswered=pl.col("_sent") & ~answered,
        )
        .with_columns(_refused=pl.col("_denied") | pl.col("_failed"))
        .with_columns(_peak=pl.max_horizontal(rolling("_refused"), rolling("_unanswered")))
    )
