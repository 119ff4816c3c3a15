"""Ransom by encryption: stored objects rewritten under a key their owner does not hold.

Cloud ransomware needs no malware.  With a key that may write to a bucket, the intruder
copies each object onto itself with server-side encryption under a key of their own: a
customer-provided key (S3's SSE-C, which AWS never stores) or a KMS key in an account of
theirs.  The data is still there and unreadable; the ransom buys the key.  In the trail
each rewrite is an ordinary ``CopyObject`` or ``PutObject``; what gives it away is the
request's encryption headers, that the copy's source is the object itself, and that the
writer never encrypted that way before.

An action writes objects when its noun names an object or an upload part (``s3_object``,
``s3_part``, ``s3_multipart_upload``) and its verb puts, copies, uploads, creates or
rewrites.  It encrypts under an outside key when its request (CloudTrail's
``requestParameters``) carries ``x-amz-server-side-encryption-customer-algorithm`` (or
CloudTrail's ``additionalEventData`` says ``SSE_C``), or names a KMS key
(``x-amz-server-side-encryption-aws-kms-key-id``) whose ARN is of an account other than
the event's own (``recipientAccountId``).  The object is the request's ``bucketName`` and
``key``, else the event's target; a copy is in place when ``x-amz-copy-source`` names the
same object.
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
    net_tried,
    network,
    network_firsts,
    never_used,
    new_network,
    noun_terms,
    positive,
    q,
    subset,
)
from auditkit.analytics.detectors.registry import register_detector

__all__ = ["ransom_encryption", "writes_objects"]

_NOUNS: Final = frozenset(("object", "objects", "part", "multipartupload", "blob", "blobs"))
_VERBS: Final = frozenset(("put", "copy", "upload", "create", "rewrite", "compose"))
_COLUMNS: Final = ("event_id", "occurred_at", "action", "outcome", "target_id", "source_ip",
                   "metadata")  # fmt: skip
#: Literal marks of an outside key in a request, searched before any JSON is read.
_MARKS: Final = ("server-side-encryption-customer-algorithm", "SSE_C", "aws-kms-key-id")
_REQUEST: Final = "$.original.requestParameters"


def writes_objects(action: str) -> bool:
    """Whether an action writes stored objects (a put, a copy, an upload of a part).

    >>> [writes_objects(a) for a in ("s3_object.put", "s3_object.copy",
    ...     "s3_part_copy.upload", "s3_multipart_upload.create", "s3_object.get",
    ...     "s3_bucket.create", "storage_objects.rewrite")]
    [True, True, True, True, False, False, True]
    """
    noun, verb = action_words(action)
    return bool(verb) and verb[0] in _VERBS and bool(noun_terms(noun) & _NOUNS)


def _request(key: str) -> pl.Expr:
    return pl.col("metadata").str.json_path_match(f'{_REQUEST}["{key}"]')


@register_detector("ransom_encryption", title="Objects encrypted for ransom", severity="high")
def ransom_encryption(
    events: Events,
    *,
    gap: str | timedelta = "1h",
    min_history: str | timedelta = "7d",
    min_objects: int = 10,
    routine_days: int = 2,
    max_evidence: int = 50,
) -> pl.DataFrame:
    """Stored objects rewritten with a customer-provided key or another account's KMS key
    by an actor that had not done so on ``routine_days`` earlier days.

    One actor's such writes no more than ``gap`` apart are an episode, reported when it
    rewrote objects in place (a copy onto itself) or used another account's KMS key; or,
    for an actor seen ``min_history`` before, when it wrote ``min_objects`` or more objects
    or came from a network (IPv4 ``/24``, IPv6 ``/64``) the actor had never used.  High
    when it rewrote objects in place or with another account's key and either reached
    ``min_objects`` objects or came from a new network; medium otherwise, and when every
    write was refused.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> def copy(i):
    ...     request = {"bucketName": "finance", "key": f"q{i}.xlsx",
    ...                "x-amz-copy-source": f"finance/q{i}.xlsx",
    ...                "x-amz-server-side-encryption-customer-algorithm": "AES256"}
    ...     return {"tenant_id": "acme", "occurred_at": f"2026-01-20T03:{i:02d}:00Z",
    ...             "action": "s3_object.copy", "actor": {"id": "ci"},
    ...             "metadata": {"original": {"requestParameters": request}}}
    >>> print(ransom_encryption(events_to_frame([copy(i) for i in range(12)]))["summary"][0])
    ... # doctest: +NORMALIZE_WHITESPACE
    'ci' rewrote 12 object(s) under a key the owner does not hold between 2026-01-20 03:00
    UTC and 2026-01-20 03:11 UTC (s3_object.copy): a customer-provided key (SSE-C); 12
    copied onto themselves; 'finance/q0.xlsx', 'finance/q1.xlsx', 'finance/q10.xlsx' and
    9 more.
    """
    g = duration(gap, name="gap")
    history = duration(min_history, name="min_history")
    for value, name in ((min_objects, "min_objects"), (routine_days, "routine_days"),
                        (max_evidence, "max_evidence")):  # fmt: skip
        positive(value, name)
    keys = ["tenant_id", "actor_id"]
    writes = actions_where(events, writes_objects)
    if not writes:
        return empty()
    meta = pl.col("metadata")
    customer = meta.str.contains("server-side-encryption-customer-algorithm", literal=True) | (
        meta.str.json_path_match("$.original.additionalEventData.SSEApplied") == "SSE_C"
    )
    kms_account = _request("x-amz-server-side-encryption-aws-kms-key-id").str.extract(
        r"^arn:[^:]+:kms:[^:]*:(\d+):"
    )
    own = meta.str.json_path_match("$.original.recipientAccountId")
    marked_any = pl.any_horizontal(*(meta.str.contains(m, literal=True) for m in _MARKS))
    found = (
        subset(
            events,
            (*keys, *_COLUMNS),
            pl.col("action").is_in(writes),
            pl.col("actor_id").is_not_null(),
            marked_any,
        )
        .with_columns(
            _customer=customer.fill_null(False),
            _foreign=pl.when(kms_account != own.fill_null("")).then(kms_account),
            # null unless both are named (Polars 2.1 panicked on a ``when`` around a
            # ``format`` of these on some frames)
            _object=pl.coalesce(
                pl.concat_str(_request("bucketName"), _request("key"), separator="/"),
                pl.col("target_id"),
            ),
            _source=_request("x-amz-copy-source").str.strip_prefix("/"),
            _net=network(pl.col("source_ip")),
        )
        .filter(pl.col("_customer") | pl.col("_foreign").is_not_null())
        .with_columns(
            _in_place=pl.col("_source").is_not_null()
            & (pl.col("_source").str.replace(r"\?versionId=.*$", "") == pl.col("_object"))
        )
        .drop("metadata")
        .collect()
    )
    if found.height == 0:
        return empty()
    ok = pl.col("outcome") == "success"
    actors = found.lazy().select(keys).unique()
    nets = network_firsts(events, keys, actors)
    marked = episodes(
        found.lazy().join(nets, on=[*keys, "_net"], how="left", maintain_order="left"), keys, g
    ).collect()
    grouped = (
        marked.lazy()
        .group_by("_episode")
        .agg(
            *finding_span(*keys),
            ok.any().alias("_done"),
            pl.col("action").unique(maintain_order=True).alias("_actions"),
            pl.col("_object").drop_nulls().unique().sort().alias("_objects"),
            pl.col("_in_place").sum().alias("_in_place"),
            pl.col("_customer").any().alias("_customer"),
            pl.col("_foreign").drop_nulls().unique().sort().alias("_foreign"),
            pl.col("source_ip")
            .filter(new_network(g))
            .unique(maintain_order=True)
            .alias("_new_ips"),
            net_tried(g),
        )
        .join(began(events, keys, among=actors), on=keys, how="left")
    )
    earlier = earlier_days(grouped, marked.lazy().filter(ok), keys)
    n = pl.col("_objects").list.len()
    in_place = pl.col("_in_place") > 0
    foreign = pl.col("_foreign").list.len() > 0
    new_net = pl.col("_new_ips").list.len() > 0
    many = n >= min_objects
    known = (pl.col("first_seen") - pl.col("_began")) >= history
    high = pl.col("_done") & (in_place | foreign) & (many | new_net)
    why = pl.concat_list(
        pl.when("_customer").then(pl.lit("a customer-provided key (SSE-C)")),
        pl.when(foreign).then(
            pl.format(
                "KMS keys of account(s) {}",
                first_few(pl.col("_foreign").list.eval(q(pl.element())), 3, ", "),
            )
        ),
        pl.when(in_place).then(pl.format("{} copied onto themselves", pl.col("_in_place"))),
        pl.when(new_net).then(
            pl.format(
                "from a network it had {} ({})",
                never_used(pl.col("_net_tried")),
                first_few(pl.col("_new_ips"), 3, ", "),
            )
        ),
        pl.when(pl.col("_days") > 0).then(
            pl.format("done on {} earlier day(s) only", pl.col("_days"))
        ),
        pl.when(n > 0).then(first_few(pl.col("_objects").list.eval(q(pl.element())), 3, ", ")),
    ).list.drop_nulls()
    return finalize(
        grouped.join(earlier, on="_episode", how="left")
        .with_columns(pl.col("_days").fill_null(0))
        .filter(
            (pl.col("_days") < routine_days) & (in_place | foreign | (known & (many | new_net)))
        )
        .with_columns(
            pl.col("event_ids").list.head(max_evidence),
            severity=pl.when(high).then(pl.lit("high")).otherwise(pl.lit("medium")),
            summary=pl.format(
                "{} {} {} object(s) under a key the owner does not hold {} ({}): {}.",
                q(pl.col("actor_id")),
                pl.when("_done").then(pl.lit("rewrote")).otherwise(pl.lit("tried to rewrite")),
                n,
                fmt_between(pl.col("first_seen"), pl.col("last_seen")),
                first_few(pl.col("_actions"), 3, ", "),
                why.list.join("; "),
            ),
        ),
        "ransom_encryption",
    )
