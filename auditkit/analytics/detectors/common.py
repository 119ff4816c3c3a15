"""Building blocks for detectors: windows, bursts, episodes, durations, finalising findings.

Public, so that evidence and insights (and third-party detectors registered
through the ``auditkit.detectors`` entry points) use the same parsing of
durations and the same findings layout as auditkit's own detectors.
Everything here is vectorised Polars; every grouping includes ``tenant_id``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import polars as pl
import polars_hash as plh

from auditkit.analytics._frames import codes
from auditkit.analytics.detectors.registry import FINDINGS_SCHEMA
from auditkit.errors import UsageError
from auditkit.frame import as_event_frame

if TYPE_CHECKING:
    import pandas as pd

    #: An event frame: Polars (eager or lazy) or pandas (see ``as_event_frame``).
    Events: TypeAlias = pl.LazyFrame | pl.DataFrame | pd.DataFrame
else:
    Events = pl.LazyFrame | pl.DataFrame

T: Final = pl.col("occurred_at")
_DURATION_RE: Final = re.compile(r"(\d+)(us|ms|s|m|h|d|w)")
_UNITS: Final = {
    "us": timedelta(microseconds=1),
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
LOGIN: Final = "user.login"
#: Letters of other scripts that look like Latin ones (Cyrillic, Greek), and characters
#: that print as nothing: a login name spelt with them is meant to pass for the Latin one.
_LOOKALIKES: Final = {
    **dict(zip("аеорсухіјѕԁӏһԛԝ", "aeopcyxijsdlhqw", strict=True)),  # Cyrillic
    **dict(zip("αεορυνκτιχ", "aeopuvktix", strict=True)),  # Greek
    **{c: "" for c in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")},
}


def login_name(name: pl.Expr) -> pl.Expr:
    """The account a login name means: Unicode-compatibility form, no surrounding
    blanks, lower case, and letters of other scripts that look like Latin ones made
    Latin (``' Alice@X.com'`` and ``'аlice@x.com'`` with a Cyrillic ``а`` are
    ``'alice@x.com'``).  Identity providers match login names without case, so the
    failed logins of one account spelt several ways are one account's failures.

    >>> pl.select(login_name(pl.lit(" Ａlice@X.com\u200b "))).item()
    'alice@x.com'
    >>> pl.select(login_name(pl.lit("\u0430lic\u0435@x.com"))).item()
    'alice@x.com'
    """
    return (
        name.str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_many(list(_LOOKALIKES), list(_LOOKALIKES.values()))
        .str.strip_chars()
    )


def lazy(events: Events, *columns: str) -> pl.LazyFrame:
    """The events as a LazyFrame with only ``columns`` (projection pushdown for scans)."""
    lf = as_event_frame(events).lazy()  # a pandas frame too
    return lf.select(list(dict.fromkeys(columns))) if columns else lf


def subset(events: Events, columns: Sequence[str], where: pl.Expr, *then: pl.Expr) -> pl.LazyFrame:
    """The events matching ``where`` and then each of ``then``, with only ``columns``.

    ``where`` (the most selective test, usually on ``action``) runs over every event
    and the result is materialised, so that the other tests run on the few rows
    left rather than being fused into one predicate over all of them.
    """
    lf = lazy(events, *columns).filter(where).collect().lazy()
    for condition in then:
        lf = lf.filter(condition)
    return lf


def actions_matching(events: Events, condition: pl.Expr) -> list[str]:
    """The distinct actions of ``events`` for which ``condition`` (an expression on
    ``pl.col("action")``) holds, sorted.

    A trail holds few distinct actions: testing them once and then selecting events
    with ``is_in`` is several times cheaper than a regular expression over every
    event.

    >>> df = pl.DataFrame({"action": ["a.export", "b.read", "a.export", "c.bulk_export"]})
    >>> actions_matching(df, pl.col("action").str.contains("export"))
    ['a.export', 'c.bulk_export']
    """
    names = lazy(events, "action").select(pl.col("action").unique()).collect()
    return sorted(names.filter(condition.fill_null(False)).get_column("action").to_list())


_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD: Final = re.compile(r"[^a-z0-9]+")


def action_words(action: str) -> tuple[list[str], list[str]]:
    """The words of an action's noun and of its verb, whatever its spelling: CamelCase
    split, lower case, separated at anything but letters and digits.  The verb is what
    follows the last dot (or the last ``:`` or ``/``); an action with neither is all verb.

    >>> action_words("s3.DeleteObjects"), action_words("user.lifecycle.delete.initiated")
    ((['s3'], ['delete', 'objects']), (['user', 'lifecycle', 'delete'], ['initiated']))
    >>> action_words("Audit-Log:Purge"), action_words("project_destroyed")
    ((['audit', 'log'], ['purge']), ([], ['project', 'destroyed']))
    """
    spaced = _CAMEL.sub("_", action).lower()
    cut = max(spaced.rfind("."), spaced.rfind(":"), spaced.rfind("/"))
    noun_part, verb_part = (spaced[:cut], spaced[cut + 1 :]) if cut >= 0 else ("", spaced)
    return [w for w in _NOT_WORD.split(noun_part) if w], [
        w for w in _NOT_WORD.split(verb_part) if w
    ]


def actions_where(events: Events, test: Callable[[str], bool]) -> list[str]:
    """The distinct actions of ``events`` for which ``test`` (a function of the action's
    name) is true, sorted: for vocabularies that a regular expression reads badly.

    >>> df = pl.DataFrame({"action": ["a.Delete", "b.read", None]})
    >>> actions_where(df, lambda a: action_words(a)[1] == ["delete"])
    ['a.Delete']
    """
    names = lazy(events, "action").select(pl.col("action").unique()).collect()
    return sorted(a for a in names.get_column("action").drop_nulls().to_list() if test(a))


def verb(action: pl.Expr) -> pl.Expr:
    """The verb of an action: what follows its last dot (``audit_log.disable`` -> ``disable``).

    >>> pl.select(verb(pl.lit("logs_retention_policy.put"))).item()
    'put'
    """
    return action.str.extract(r"([^.]*)$")


#: The verb of a git operation logged without a verb of its own (GitLab's
#: ``repository_git_operation``, imported as ``repository.git_operation``): its details
#: say which it was (:func:`git_push`).
GIT_OPERATION: Final = r"(?i)^git_?op(?:eration)?s?$"


def git_operations(events: Events) -> list[str]:
    """The actions of ``events`` that are git operations without a verb of their own
    (:data:`GIT_OPERATION`): a clone, fetch or pull unless :func:`git_push` says it pushed.

    >>> git_operations(pl.DataFrame({"action": ["repository.git_operation", "repository.clone"]}))
    ['repository.git_operation']
    """
    return actions_matching(events, verb(pl.col("action")).str.contains(GIT_OPERATION))


def git_push() -> pl.Expr:
    """Whether a git operation's details (its ``metadata``) say it pushed: GitLab's
    ``git-receive-pack`` (a clone, fetch or pull is ``git-upload-pack``), or a verb or
    action ``push``.  An operation that does not say is taken for a read.

    >>> meta = ['{"custom_message": {"protocol": "ssh", "action": "git-receive-pack"}}',
    ...         '{"custom_message": {"protocol": "http", "action": "git-upload-pack"}}',
    ...         '{"verb": "push"}', None]
    >>> pl.DataFrame({"metadata": meta}).select(git_push())["metadata"].to_list()
    [True, False, True, False]
    """
    return (
        pl.col("metadata")
        .str.contains(r'(?i)git-receive-pack|"(?:verb|action|operation)"\s*:\s*"push')
        .fill_null(False)
    )


def noun(action: pl.Expr) -> pl.Expr:
    """The noun of an action: what precedes its last dot (``audit_log.disable`` -> ``audit_log``).

    >>> pl.select(noun(pl.lit("logs_retention_policy.put"))).item()
    'logs_retention_policy'
    """
    return action.str.extract(r"^(.*)\.[^.]*$")


def duration(value: str | timedelta, *, name: str = "window") -> timedelta:
    """Parse a Polars-style duration (``"15m"``, ``"1h30m"``, ``"30d"``) or pass a timedelta.

    >>> duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise UsageError(f"{name}: expected a positive duration, got {value}")
        return value
    text = str(value).strip()
    parts = _DURATION_RE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UsageError(f"{name}: expected a duration like '15m', '2h' or '30d', got {value!r}")
    total = sum((int(n) * _UNITS[u] for n, u in parts), timedelta(0))
    if total <= timedelta(0):
        raise UsageError(f"{name}: expected a positive duration, got {value!r}")
    return total


def positive(value: float, name: str) -> None:
    """Reject thresholds that are zero or negative, naming them."""
    if not value > 0:
        raise UsageError(f"{name}: expected a positive number, got {value!r}")


def human(td: timedelta) -> str:
    """A short human text for a duration.

    >>> human(timedelta(minutes=90)), human(timedelta(days=2))
    ('1h30m', '2d')
    """
    seconds = int(td.total_seconds())
    out = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out) or "0s"


def fmt_time(expr: pl.Expr) -> pl.Expr:
    """Timestamps as ``2026-01-05 09:00 UTC`` in summaries."""
    return expr.dt.strftime("%Y-%m-%d %H:%M UTC")


def fmt_duration(expr: pl.Expr) -> pl.Expr:
    """Durations as ``2d3h``, ``5h20m`` or ``12m`` in summaries."""
    secs = expr.dt.total_seconds()
    d, h, m = secs // 86_400, (secs % 86_400) // 3_600, (secs % 3_600) // 60
    text = pl.concat_str(
        pl.when(d > 0).then(pl.format("{}d", d)),
        pl.when(h > 0).then(pl.format("{}h", h)),
        pl.when((m > 0) & (d == 0)).then(pl.format("{}m", m)),
        ignore_nulls=True,
    )
    return pl.when(text == "").then(pl.lit("0m")).otherwise(text)


def fmt_between(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    """``at T`` when two times fall in the same minute, else ``between T1 and T2``.

    >>> from datetime import datetime
    >>> df = pl.DataFrame({"a": [datetime(2026, 1, 5, 3, 12, 1)] * 2,
    ...                    "b": [datetime(2026, 1, 5, 3, 12, 40), datetime(2026, 1, 5, 4, 0)]})
    >>> df.select(fmt_between(pl.col("a"), pl.col("b")))["a"].to_list()
    ['at 2026-01-05 03:12 UTC', 'between 2026-01-05 03:12 UTC and 2026-01-05 04:00 UTC']
    """
    a, b = fmt_time(first), fmt_time(last)
    return (
        pl.when(a == b).then(pl.format("at {}", a)).otherwise(pl.format("between {} and {}", a, b))
    )


def fmt_float(expr: pl.Expr, decimals: int = 0) -> pl.Expr:
    """Numbers rounded for summaries (``1234.0`` -> ``"1234"``)."""
    if decimals == 0:
        return expr.round(0).cast(pl.Int64).cast(pl.String)
    return expr.round(decimals).cast(pl.String)


def q(expr: pl.Expr) -> pl.Expr:
    """Quote an identifier in a summary; null shows as ``unknown``."""
    return pl.concat_str(pl.lit("'"), expr.fill_null("unknown"), pl.lit("'"))


def key_changed(keys: Sequence[str]) -> pl.Expr:
    """True on the first row of each run of equal ``keys`` in a sorted frame."""
    changed = pl.lit(False)
    for k in keys:
        col = pl.col(k)
        changed = changed | col.ne_missing(col.shift(1))
    return changed | (pl.int_range(pl.len()) == 0)


def episodes(lf: pl.LazyFrame, keys: Sequence[str], gap: timedelta) -> pl.LazyFrame:
    """Number runs of events per ``keys`` whose consecutive gaps are at most ``gap``.

    Adds ``_episode`` (an id unique across the whole frame).  The frame comes back
    sorted by ``keys`` and time.
    """
    keys = list(keys)
    lf = lf.sort([*keys, "occurred_at"], maintain_order=True)  # ties in input order
    new = key_changed(keys) | ((T - T.shift(1)) > gap)
    return lf.with_columns(_episode=new.cum_sum())


def finding_span(*first: str) -> list[pl.Expr]:
    """What every grouped finding keeps, as aggregations: the first value of each column
    in ``first`` (the group's tenant and actor, say), its first and last time, and its
    events' ids.

    >>> from datetime import datetime
    >>> df = pl.DataFrame({"tenant_id": ["t", "t"], "event_id": ["a", "b"],
    ...                    "occurred_at": [datetime(2024, 1, 1), datetime(2024, 1, 2)]})
    >>> df.group_by("tenant_id").agg(finding_span()).row(0)
    ('t', datetime.datetime(2024, 1, 1, 0, 0), datetime.datetime(2024, 1, 2, 0, 0), ['a', 'b'])
    """
    head = [pl.col(*first).first()] if first else []
    return [
        *head,
        T.min().alias("first_seen"),
        T.max().alias("last_seen"),
        pl.col("event_id").alias("event_ids"),
    ]


def json_or_none(text: str | None) -> Any:
    """The JSON value of ``text``; ``None`` when there is none, it is not JSON, or it
    is nested deeper than the parser goes (a request kept as text is the producer's,
    or an attacker's, to write: it must not stop the detectors).

    >>> json_or_none('{"a": [1]}'), json_or_none("{"), json_or_none("[" * 100_000)
    ({'a': [1]}, None, None)
    """
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError, TypeError):
        return None


def producer_request(original: Any) -> Any:
    """The request of a producer's original record, wherever the format keeps it:
    CloudTrail's ``requestParameters``, OCSF's ``api.request.data`` (as Security Lake
    writes CloudTrail), Google Cloud's ``protoPayload.request``; as given (an object, or
    JSON text that the caller reads), ``None`` when there is none.

    >>> producer_request({"api": {"request": {"uid": "r1", "data": '{"keyId": "k"}'}}})
    '{"keyId": "k"}'
    >>> producer_request({"requestParameters": {"keyId": "k"}})
    {'keyId': 'k'}
    """
    if not isinstance(original, Mapping):
        return None
    if original.get("requestParameters") is not None:
        return original["requestParameters"]
    for outer, inner, leaf in (("api", "request", "data"), ("protoPayload", "request", None)):
        node = original.get(outer)
        node = node.get(inner) if isinstance(node, Mapping) else None
        if leaf is not None:
            node = node.get(leaf) if isinstance(node, Mapping) else None
        if node is not None:
            return node
    return None


def began(
    events: Events, keys: Sequence[str] = ("tenant_id",), among: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """When each group of ``keys`` (a tenant, an actor) is first seen in ``events``, as
    ``_began``; only the groups found in ``among`` (a frame with the ``keys`` columns)
    when it is given.

    >>> from datetime import datetime
    >>> df = pl.DataFrame({"tenant_id": ["t", "t", "u"],
    ...                    "occurred_at": [datetime(2026, 1, d) for d in (3, 1, 2)]})
    >>> began(df).sort("tenant_id").collect().rows()
    [('t', datetime.datetime(2026, 1, 1, 0, 0)), ('u', datetime.datetime(2026, 1, 2, 0, 0))]
    """
    keys = list(keys)
    lf = lazy(events, *keys, "occurred_at")
    if among is not None:
        lf = lf.join(among.select(keys).unique(), on=keys, how="semi")
    return lf.group_by(keys).agg(_began=T.min())


def first_time(*keys: str, ok: pl.Expr) -> pl.Expr:
    """Per group of ``keys``, the time of the first event where ``ok`` holds (the first
    that succeeded), else of the first event at all (every try refused).

    >>> from datetime import datetime
    >>> df = pl.DataFrame({"k": ["a", "a", "b"], "ok": [False, True, False],
    ...                    "occurred_at": [datetime(2026, 1, d) for d in (1, 2, 3)]})
    >>> df.select(first_time("k", ok=pl.col("ok")))["occurred_at"].dt.day().to_list()
    [2, 2, 3]
    """
    return pl.coalesce(T.filter(ok).min().over(*keys), T.min().over(*keys))


def noun_terms(words: Sequence[str]) -> set[str]:
    """An action's noun words and each adjacent pair of them joined (``crypto`` ``key``
    also as ``cryptokey``), for vocabularies that producers spell either way.

    >>> sorted(noun_terms(["cloudkms", "crypto", "key"]))
    ['cloudkms', 'cloudkmscrypto', 'crypto', 'cryptokey', 'key']
    """
    return {*words, *(a + b for a, b in itertools.pairwise(words))}


def classified_episodes(hits: pl.LazyFrame, gap: timedelta, *extra: pl.Expr) -> pl.LazyFrame:
    """One row per run of an actor's classified events (:func:`classified`'s ``_what``)
    no more than ``gap`` apart: :func:`finding_span`, ``_done`` (one succeeded) and
    ``_what`` (what was found, each once, in order), then ``extra`` aggregations.

    >>> from datetime import datetime
    >>> lf = pl.LazyFrame({"tenant_id": ["t"] * 3, "actor_id": ["a"] * 3,
    ...     "event_id": ["e1", "e2", "e3"], "outcome": ["denied", "success", "success"],
    ...     "occurred_at": [datetime(2026, 1, 1, h) for h in (9, 9, 15)],
    ...     "_what": [["x"], ["x", "y"], ["z"]]})
    >>> classified_episodes(lf, timedelta(hours=1)).sort("first_seen").select(
    ...     "event_ids", "_done", "_what").collect().rows()
    [(['e1', 'e2'], True, ['x', 'y']), (['e3'], True, ['z'])]
    """
    return (
        episodes(hits, ["tenant_id", "actor_id"], gap)
        .group_by("_episode")
        .agg(
            *finding_span("tenant_id", "actor_id"),
            (pl.col("outcome") == "success").any().alias("_done"),
            pl.col("_what").list.explode().unique(maintain_order=True).alias("_what"),
            *extra,
        )
    )


def classified(
    lf: pl.LazyFrame, columns: Sequence[str], classify: Callable[..., list[str]]
) -> pl.LazyFrame | None:
    """The rows of ``lf`` whose values of ``columns`` ``classify`` finds something in,
    with what it found as ``_what`` (a list of texts); ``None`` when no row has any.

    ``classify`` (plain Python: parsing JSON, walking settings) runs once per distinct
    combination of ``columns``, which trails repeat over and over.

    >>> lf = pl.LazyFrame({"action": ["a.delete", "a.read", "a.delete"], "n": [1, 2, 3]})
    >>> def verbs(action):
    ...     return ["deleted"] if action.endswith("delete") else []
    >>> classified(lf, ["action"], verbs).sort("n").collect()["_what"].to_list()
    [['deleted'], ['deleted']]
    >>> classified(lf.filter(pl.col("n") == 2), ["action"], verbs) is None
    True
    """
    distinct = lf.select(*columns).unique().collect()
    if not distinct.height:
        return None
    what = distinct.with_columns(
        _what=pl.Series([classify(*row) for row in distinct.iter_rows()], dtype=pl.List(pl.String))
    ).filter(pl.col("_what").list.len() > 0)
    if not what.height:
        return None
    return lf.join(what.lazy(), on=list(columns), nulls_equal=True)


def first_few(items: pl.Expr, n: int, separator: str = "; ") -> pl.Expr:
    """The first ``n`` texts of a list joined by ``separator``, then `` and K more``
    when the list holds K more.

    >>> pl.select(first_few(pl.lit(["a", "b", "c"]), 2)).item()
    'a; b and 1 more'
    >>> pl.select(first_few(pl.lit(["a"]), 2)).item()
    'a'
    """
    count = items.list.len()  # unsigned: compared before it is subtracted from
    return pl.concat_str(
        items.list.head(n).list.join(separator),
        pl.when(count > n).then(pl.format(" and {} more", count - n)).otherwise(pl.lit("")),
    )


def keyed(
    lf: pl.LazyFrame, keys: Sequence[str], *tiebreak: str, keep: pl.Expr | None = None
) -> pl.LazyFrame:
    """Add ``_k``, one integer per combination of ``keys``, and sort by it and time.

    Grouping, sorting and windows on one integer are far cheaper than on strings.
    ``keep`` (evaluated per key, e.g. ``pl.len().over("_k") >= 10``) drops keys that
    cannot match before the sort: a key with fewer than N events in all has no
    window with N.
    """
    lf = lf.with_columns(_k=codes(*keys))
    if keep is not None:
        lf = lf.filter(keep)
    return lf.sort("_k", "occurred_at", *tiebreak)


def next_in_key(condition: pl.Expr, value: pl.Expr = T) -> pl.Expr:
    """``value`` at the next row (this one included) where ``condition`` holds, within the
    same ``_k``; null when there is none.  For frames from :func:`keyed`: rows of a key
    are contiguous, so a plain backward fill and a key check replace a window function.
    """
    filled = pl.when(condition).then(value).fill_null(strategy="backward")
    key = pl.when(condition).then(pl.col("_k")).fill_null(strategy="backward")
    return pl.when(key == pl.col("_k")).then(filled)


def window_evidence(
    lf: pl.LazyFrame,
    *,
    window: timedelta,
    hot: pl.Expr,
    member: pl.Expr,
) -> pl.LazyFrame:
    """Keep the ``hot`` rows and the ``member`` rows in the window ``(t - window, t]`` before one.

    ``lf`` comes from :func:`keyed` (sorted by ``_k`` and time).  Kept rows less
    than ``window`` apart (same key) form one episode: ``_episode`` is its id,
    unique across the frame.  A hot row is an event that completes a pattern (the
    window count reaching a threshold, a success after failures); its members are
    the evidence.
    """
    lf = lf.with_columns(_hot=hot)
    near = (next_in_key(pl.col("_hot")) - T) < window
    lf = lf.filter(pl.col("_hot") | (member & near.fill_null(False)))
    new = key_changed(["_k"]) | ((T - T.shift(1)) >= window)
    return lf.with_columns(_episode=new.cum_sum())


def bursts(
    lf: pl.LazyFrame,
    keys: Sequence[str],
    *,
    window: timedelta,
    threshold: int,
    distinct: str | None = None,
) -> pl.LazyFrame:
    """Rows that belong to a burst: a sliding window where the count reaches ``threshold``.

    The window ``(t - window, t]`` slides over every event of each ``keys`` group;
    with ``distinct`` it counts distinct values of that column instead of rows.  An
    event is evidence when some window holding it reaches the threshold, and
    evidence rows less than ``window`` apart form one burst.  Returns those rows
    with ``_peak`` (the window's count at the event) and ``_episode`` (the burst id).
    """
    enough = pl.len() if distinct is None else pl.col(distinct).n_unique()
    lf = keyed(lf, keys, keep=enough.over("_k") >= threshold)
    if distinct is None:
        metric = T.is_not_null().cast(pl.UInt32).rolling_sum_by("occurred_at", window)
    else:
        metric = pl.col(distinct).n_unique().rolling(index_column="occurred_at", period=window)
    lf = lf.with_columns(_peak=metric.over("_k").cast(pl.UInt32))
    return window_evidence(lf, window=window, hot=pl.col("_peak") >= threshold, member=pl.lit(True))


def finalize(frame: pl.DataFrame | pl.LazyFrame, detector: str) -> pl.DataFrame:
    """Turn a frame of candidate findings into :data:`FINDINGS_SCHEMA`.

    ``frame`` has ``tenant_id, actor_id, first_seen, last_seen, event_ids, summary,
    severity`` and optionally ``score``.  Adds ``detector`` and a deterministic
    ``finding_id``; evidence ids stay in the order given (event order).
    """
    lf = frame.lazy()
    names = lf.collect_schema().names()
    if "score" not in names:
        lf = lf.with_columns(score=pl.lit(None, dtype=pl.Float64))
    ids = pl.col("event_ids").list.sort().list.join(",")
    material = pl.concat_str(
        pl.lit(detector),
        pl.col("tenant_id"),
        pl.when(pl.col("event_ids").list.len() == 0)
        .then(pl.concat_str(pl.col("actor_id").fill_null(""), fmt_time(pl.col("first_seen"))))
        .otherwise(ids),
        separator="\x1f",
    )
    out = lf.with_columns(detector=pl.lit(detector), _material=material).with_columns(
        finding_id=plh.col("_material").chash.sha2_256().str.slice(0, 16)
    )
    return (
        out.select([pl.col(name).cast(dtype) for name, dtype in FINDINGS_SCHEMA.items()])
        .sort(["tenant_id", "first_seen", "finding_id"])
        .collect()
    )


def empty() -> pl.DataFrame:
    """A findings frame with no rows."""
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


#: Sensitive settings: touching them is how an intruder keeps or widens access.
SENSITIVE_ACTIONS: Final = (
    "sso.update",
    "mfa.enroll",
    "mfa.disable",
    "mfa.reset",
    "role.grant",
    "role.revoke",
    "permission.grant",
    "permission.revoke",
    "api_key.create",
    "api_key.revoke",
    "integration.add",
    "audit_log.disable",
    "audit_log.enable",
    "audit_retention.update",
    "audit_destination.add",
    "audit_destination.remove",
    "policy.update",
)
#: Names of teams, groups and permissions that make a principal an administrator: one of
#: the words ``admin``, ``administrator``, ``owner``, ``root``, ``superuser``, ``sudo``,
#: ``sudoers``, ``wheel``, ``privileged`` (or their plurals) as a *word* of the name:
#: between separators, or capitalised inside a camelCase one (``BillingAdmin``,
#: ``AdministratorAccess``), or an admin compound (``sysadmins``, ``orgadmin``), or a
#: wildcard.  Not a word inside another (``Badminton``, ``CODEOWNERS``).  Polars' regular
#: expressions have no look-around, hence the explicit edges.
PRIVILEGED_NAME_PATTERN: Final = (
    r"(?:^|[^A-Za-z])(?i:admin(?:s|istrators?)?|owners?|root|superusers?|sudo(?:ers)?|wheel"
    r"|privileged)(?:$|[^A-Za-z])"
    r"|(?:Admin(?:s|istrators?)?|Owners?|Root|Superusers?|Privileged)(?:$|[^a-z])"
    r"|(?i:sys|db|net|org|super|global|site|tenant|domain|web|it|co)admins?(?:$|[^a-z])"
    r"|\*"
)
#: Names that hold one of those words without meaning an administrator: a Scrum product
#: owner, a code or data owner, a root-cause review.
NOT_PRIVILEGED_NAME_PATTERN: Final = (
    r"(?i)(?:product|code|data|process|business|budget|content|asset|risk|control|feature"
    r"|document|page|meeting)[ _.-]?owners?|root[ _.-]?cause"
)


#: Groups that hold every user: Okta's built-in ``Everyone`` and the names directories
#: give theirs (``All Users``, ``All Employees``, ``acme-all-staff``), alone or with the
#: organisation after them (``Everyone@acme``, ``All Users (acme)``).
EVERYONE_GROUP: Final = (
    r"(?i)^\s*(?:all|(?:[a-z0-9.]+[ _.-])?(?:everyone|everybody|all[ _.-]?(?:users|employees"
    r"|staff|members|people|accounts|company|organi[sz]ation|hands|personnel|workforce))"
    r"(?:\s*@\s*[^\s/]+|\s*[(\[][^)\]/]*[)\]])?)\s*$"
)


#: A group whose members, as the trail's additions show them, are this share of the
#: tenant's people (and at least :data:`POPULATION_MIN` of them) holds every user,
#: whatever its name (``Company``).
POPULATION_SHARE: Final = 0.8
POPULATION_MIN: Final = 5


def everyone_groups(events: Events, among: pl.LazyFrame) -> pl.LazyFrame:
    """The groups (``tenant_id``, ``_group``: a target's name, else its id) of the tenants
    of ``among`` that hold every user whatever their names (those named so match
    :data:`EVERYONE_GROUP`): their members added in the trail (``team_member.add``,
    ``group_member.add``) are at least :data:`POPULATION_SHARE` of the people who acted in
    the tenant.

    >>> rows = [{"tenant_id": "t", "actor_id": f"u{i}", "actor_type": "user",
    ...          "action": "team_member.add", "targets": [{"id": f"u{i}", "type": "user",
    ...          "name": None}, {"id": "g1", "type": "group", "name": "Company"}]}
    ...         for i in range(6)]
    >>> df = pl.DataFrame(rows)
    >>> everyone_groups(df, df.lazy().select("tenant_id")).collect().rows()
    [('t', 'Company')]
    """
    target = pl.element().struct
    tenants = among.select("tenant_id").unique()
    members = (
        lazy(events, "tenant_id", "action", "targets")
        .filter(pl.col("action").is_in(["team_member.add", "group_member.add"]))
        .join(tenants, on="tenant_id", how="semi")
        .select(
            "tenant_id",
            _group=pl.col("targets")
            .list.eval(
                pl.coalesce(target.field("name"), target.field("id")).filter(
                    kind(target.field("type")).is_in(["team", "group", "usergroup"])
                )
            )
            .list.first(),
            _member=pl.col("targets")
            .list.eval(target.field("id").filter(kind(target.field("type")) == "user"))
            .list.first(),
        )
        .drop_nulls()
        .unique()
    )
    people = (
        lazy(events, "tenant_id", "actor_id", "actor_type")
        .join(tenants, on="tenant_id", how="semi")
        .filter(is_person() & pl.col("actor_id").is_not_null())
        .select("tenant_id", _member="actor_id")
        .unique()
    )
    counted = people.group_by("tenant_id").agg(_people=pl.len())
    by_size = (
        members.join(people, on=["tenant_id", "_member"], how="semi")
        .group_by("tenant_id", "_group")
        .agg(_in=pl.len())
        .join(counted, on="tenant_id")
        .filter(
            (pl.col("_in") >= POPULATION_MIN)
            & (pl.col("_in") >= POPULATION_SHARE * pl.col("_people"))
        )
        .select("tenant_id", "_group")
    )
    return by_size


def privileged_name(name: pl.Expr, privileged: str, not_privileged: str) -> pl.Expr:
    """Whether a team's, group's or permission's name makes its members privileged.

    >>> names = ["Admins", "Domain Admins", "Global Administrators", "BillingAdmin",
    ...          "AdministratorAccess", "org_admin", "orgadmins", "roles/owner", "sudoers",
    ...          "*", "Product Owners", "Badminton Club", "CODEOWNERS", "Data Owners",
    ...          "root-cause-review", "Administration", "marketing"]
    >>> df = pl.DataFrame({"n": names})
    >>> df.filter(privileged_name(pl.col("n"), PRIVILEGED_NAME_PATTERN,
    ...                           NOT_PRIVILEGED_NAME_PATTERN))["n"].to_list()
    ['Admins', 'Domain Admins', 'Global Administrators', 'BillingAdmin', 'AdministratorAccess', \
'org_admin', 'orgadmins', 'roles/owner', 'sudoers', '*']
    """
    found = name.str.contains(privileged)
    if not_privileged:
        found = found & ~name.str.contains(not_privileged)
    return found.fill_null(False)


def network(ip: pl.Expr) -> pl.Expr:
    """The network of an address: ``a.b.c.0/24`` for IPv4, the first 64 bits for IPv6.

    >>> pl.select(network(pl.lit("203.0.113.9"))).item()
    '203.0.113.0/24'

    IPv6 addresses are expanded first: the ``::`` of the normal (compressed) form may
    stand for groups of the network part or of the host part.

    >>> pl.select(network(pl.lit("2001:db8::5:1"))).item()
    '2001:db8:0:0::/64'

    An IPv4 address mapped into IPv6 (``::ffff:203.0.113.9``, stored as
    ``::ffff:cb00:7109``) is the IPv4 address: its network is the IPv4 ``/24``, not
    the one ``/64`` that every mapped address would share.

    >>> pl.select(network(pl.lit("::ffff:cb00:7109"))).item()
    '203.0.113.0/24'
    """
    lowered = ip.str.to_lowercase()
    dotted = lowered.str.extract(r"^(?:0{0,4}:){0,5}:?ffff:(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$")
    hexed = lowered.str.extract_groups(r"^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$")
    high = hexed.struct.field("1").str.to_integer(base=16, strict=False)
    low = hexed.struct.field("2").str.to_integer(base=16, strict=False)
    mapped = pl.coalesce(
        dotted,
        pl.format("{}.{}.{}", high // 256, high % 256, low // 256),
    )
    v4 = pl.coalesce(ip.str.extract(r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$"), mapped)
    # '::' stands for as many zero groups as make eight; at either end it gets a zero
    # group on its outer side, so that it is always between two groups
    full = pl.when(ip.str.starts_with("::")).then(pl.concat_str(pl.lit("0"), ip)).otherwise(ip)
    full = pl.when(full.str.ends_with("::")).then(pl.concat_str(full, pl.lit("0"))).otherwise(full)
    zeros = pl.lit("0:").repeat_by((8 - full.str.count_matches(":")).clip(0, 8)).list.join("")
    full = full.str.replace("::", pl.concat_str(pl.lit(":"), zeros), literal=True)
    v6 = full.str.extract(
        r"^([0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}):"
    )
    return pl.coalesce(
        pl.concat_str(v4, pl.lit(".0/24")), pl.concat_str(v6.str.to_lowercase(), pl.lit("::/64"))
    )


def is_person() -> pl.Expr:
    """True for people: ``actor_type`` ``user`` or unknown."""
    kind = pl.col("actor_type")
    return kind.is_null() | (kind == "user")


#: Parts of a user agent that change from call to call of the same client: the AWS
#: CLI's command (``command/s3.cp``, ``md/command#s3.cp``), the AWS SDKs' service API,
#: feature and metric tokens (``api/s3#3.0``, ``ft/s3-transfer``, ``m/E,G``), gcloud's
#: command and invocation id, boto3's ``Resource`` suffix.
_PER_CALL_AGENT: Final = (
    r"(?:^|\s)(?:(?:command|api|ft|m|invocation-id)/\S*|md/(?:command|invocation-id)#\S*"
    r"|Resource(?:\s|$))"
)
#: Agents of a cloud service acting for a principal (CloudTrail's ``invokedBy``
#: calls: ``cloudformation.amazonaws.com``, ``AWS Internal``), not a client of its own.
_SERVICE_AGENT: Final = r"(?i)^(?:[a-z0-9.-]+\.amazonaws\.com|aws internal|.*aws-internal/.*)$"


def client_agent(agent: pl.Expr) -> pl.Expr:
    """The client a user agent names, without the parts that change from call to call
    of that client; null for a cloud service acting for the principal.

    >>> agents = pl.Series([
    ...     "aws-cli/2.15.28 Python/3.11.8 Linux/6.5.0 prompt/off command/s3.cp",
    ...     "aws-cli/2.15.28 Python/3.11.8 Linux/6.5.0 prompt/off command/lambda.get-function",
    ...     "Boto3/1.34.1 md/Botocore#1.34.1 ua/2.0 os/linux m/E,G Botocore/1.34.1 Resource",
    ...     "cloudformation.amazonaws.com", "python-requests/2.31"])
    >>> for client in pl.select(client_agent(agents)).to_series():
    ...     print(client)
    aws-cli/2.15.28 Python/3.11.8 Linux/6.5.0 prompt/off
    aws-cli/2.15.28 Python/3.11.8 Linux/6.5.0 prompt/off
    Boto3/1.34.1 md/Botocore#1.34.1 ua/2.0 os/linux Botocore/1.34.1
    None
    python-requests/2.31
    """
    stable = agent.str.replace_all(_PER_CALL_AGENT, " ").str.replace_all(r"\s+", " ")
    stable = stable.str.strip_chars()
    return pl.when(agent.str.contains(_SERVICE_AGENT)).then(None).otherwise(stable)


#: Days on which an actor must have used a network or a client before it is its own: a
#: call or two from an intruder's machine in the days before an attack do not make it so.
ESTABLISHED_DAYS: Final = 3
#: ``_net_first`` and ``_client_first`` of what an actor never made its own: this many
#: days after its last use (beyond any trail).
_NEVER_DAYS: Final = 100 * 366


def established(first_of_day: pl.Expr) -> pl.Expr:
    """Aggregation: the first time on the :data:`ESTABLISHED_DAYS`-th distinct day, from
    the first time of each day; a century after the last when there were fewer days."""
    never = first_of_day.max() + pl.duration(days=_NEVER_DAYS)  # in the column's zone
    return first_of_day.sort().get(ESTABLISHED_DAYS - 1, null_on_oob=True).fill_null(never)


def network_firsts(events: Events, keys: Sequence[str], among: pl.LazyFrame) -> pl.LazyFrame:
    """When each group of ``keys`` found in ``among`` made each network (an IPv4 ``/24``,
    an IPv6 ``/64``: :func:`network`) its own, as ``_net`` and ``_net_first``: its first
    event there on the :data:`ESTABLISHED_DAYS`-th day it used it (a century on when it
    used it on fewer days), so that an intruder who uses a stolen key once or twice in the days
    before the attack still comes from a new network; and when it first used it at all,
    ``_net_seen``.  Join it on ``_net`` to rows that carry ``_net``
    (``network(source_ip)``) and judge them with :func:`new_network`.

    >>> from datetime import datetime
    >>> df = pl.DataFrame({"tenant_id": ["t"] * 5, "actor_id": ["a"] * 5,
    ...     "occurred_at": [datetime(2026, 1, d) for d in (1, 2, 3, 3, 4)],
    ...     "source_ip": ["198.51.100.7", "198.51.100.9", "198.51.100.8", "203.0.113.5",
    ...                   "203.0.113.5"]})
    >>> keys = ["tenant_id", "actor_id"]
    >>> firsts = network_firsts(df, keys, df.lazy().select(keys).unique()).sort("_net")
    >>> days = [pl.col(c).dt.strftime("%Y-%m-%d") for c in ("_net_seen", "_net_first")]
    >>> for row in firsts.select("_net", *days).collect().rows():
    ...     print(*row)
    198.51.100.0/24 2026-01-01 2026-01-03
    203.0.113.0/24 2026-01-03 2126-03-21
    """
    return _made_own(events, keys, among, "source_ip", network, "net")


def _made_own(
    events: Events,
    keys: Sequence[str],
    among: pl.LazyFrame,
    column: str,
    read: Callable[[pl.Expr], pl.Expr],
    name: str,
) -> pl.LazyFrame:
    """Per group of ``keys`` in ``among`` and value ``read`` from ``column`` (read once per
    distinct value and day), ``_{name}_seen`` (its first use) and ``_{name}_first`` (when
    it became the group's own: :func:`established`)."""
    keys = list(keys)
    return (
        lazy(events, *keys, "occurred_at", column)
        .join(among.select(keys).unique(), on=keys, how="semi")
        .group_by(*keys, column, _day=T.dt.date())
        .agg(_t=T.min())
        .group_by(*keys, read(pl.col(column)).alias(f"_{name}"), "_day")
        .agg(_t=pl.col("_t").min())
        .group_by(*keys, f"_{name}")
        .agg(
            pl.col("_t").min().alias(f"_{name}_seen"),
            established(pl.col("_t")).alias(f"_{name}_first"),
        )
    )


def with_newcomer_firsts(
    rows: pl.LazyFrame, events: Events, keys: Sequence[str], among: pl.LazyFrame
) -> pl.LazyFrame:
    """``rows`` (with ``source_ip`` and ``user_agent``) with their network and client
    (``_net``, ``_client``) and when the actor first used each (``_net_first``,
    ``_client_first``: :func:`network_firsts`, :func:`client_firsts` over the actors of
    ``among``), in the rows' order; for :func:`newcomer_aggregations`."""
    keys = list(keys)
    return (
        rows.with_columns(
            _net=network(pl.col("source_ip")), _client=client_agent(pl.col("user_agent"))
        )
        .join(network_firsts(events, keys, among), on=[*keys, "_net"], how="left",
              maintain_order="left")
        .join(client_firsts(events, keys, among), on=[*keys, "_client"], how="left",
              maintain_order="left", nulls_equal=True)
    )  # fmt: skip


def from_new_networks(
    rows: pl.DataFrame, events: Events, keys: Sequence[str], history: timedelta, gap: timedelta
) -> pl.LazyFrame:
    """``rows`` (:func:`with_newcomer_firsts` columns are added) made by an actor of at
    least ``history`` in the trail who had made some network its own, from a network
    new to it (:func:`new_network`): an actor seen on a day or two a week (an admin who
    signs in now and then) has no network of its own yet, and every network is new to
    a newcomer, so neither says anything."""
    keys = list(keys)
    actors = rows.lazy().select(keys).unique()
    owned = (
        network_firsts(events, keys, actors).group_by(keys).agg(_owned=pl.col("_net_first").min())
    )
    return (
        with_newcomer_firsts(rows.lazy(), events, keys, actors)
        .join(began(events, keys, among=actors), on=keys, how="left")
        .join(owned, on=keys, how="left")
        .filter(((T - pl.col("_began")) >= history) & (pl.col("_owned") <= T) & new_network(gap))
    )


def earlier_days(grouped: pl.LazyFrame, rows: pl.LazyFrame, keys: Sequence[str]) -> pl.LazyFrame:
    """For each episode of ``grouped`` (``_episode``, ``keys``, ``first_seen``), on how
    many days before its own first day the same ``keys`` had ``rows``, as ``_days``
    (episodes without such a day are absent: fill with 0).

    >>> from datetime import datetime
    >>> rows = pl.LazyFrame({"actor_id": ["a"] * 3,
    ...     "occurred_at": [datetime(2026, 1, d, h) for d, h in ((1, 9), (1, 10), (3, 9))]})
    >>> grouped = pl.LazyFrame({"_episode": [1], "actor_id": ["a"],
    ...                         "first_seen": [datetime(2026, 1, 5)]})
    >>> earlier_days(grouped, rows, ["actor_id"]).collect().rows()
    [(1, 2)]
    """
    keys = list(keys)
    days = rows.select(*keys, _day=pl.col("occurred_at").dt.date()).unique()
    return (
        grouped.select("_episode", *keys, "first_seen")
        .join(days, on=keys)
        .filter(pl.col("_day") < pl.col("first_seen").dt.date())
        .group_by("_episode")
        .agg(_days=pl.len())
    )


#: Networks an actor must have used to be judged roaming (see :func:`roaming`).
ROAMING_NETWORKS: Final = 10


def active_days(events: Events, keys: Sequence[str], among: pl.LazyFrame) -> pl.LazyFrame:
    """The days (``_day``, UTC dates) on which each group of ``keys`` found in ``among``
    had an event; for :func:`roaming`."""
    keys = list(keys)
    return (
        lazy(events, *keys, "occurred_at")
        .join(among.select(keys).unique(), on=keys, how="semi")
        .select(*keys, _day=T.dt.date())
        .unique()
    )


def roaming(spans: pl.LazyFrame, nets: pl.LazyFrame, days: pl.LazyFrame) -> pl.LazyFrame:
    """For each episode of ``spans`` (``_episode``, the actor's keys, ``first_seen``),
    whether its actor came from a new network on most of its days before it (``_roaming``):
    :data:`ROAMING_NETWORKS` networks or more first used before the episode (``nets``, from
    :func:`network_firsts`: ``_net_seen``), at least one for every two days it was active before
    (``days``, from :func:`active_days`).  A pipeline on cloud runners is so (GitHub's
    give each run a new address, and CloudTrail types its role session as a user); a
    person on a home line that changes weekly is not.

    >>> from datetime import date, datetime
    >>> spans = pl.LazyFrame({"_episode": [1, 2], "actor_id": ["ci", "amy"],
    ...                       "first_seen": [datetime(2026, 1, 20)] * 2})
    >>> nets = pl.LazyFrame({"actor_id": ["ci"] * 12 + ["amy"] * 3,
    ...     "_net_seen": [datetime(2026, 1, d) for d in [*range(1, 13), 1, 8, 15]]})
    >>> days = pl.LazyFrame({"actor_id": ["ci"] * 12 + ["amy"] * 19,
    ...     "_day": [date(2026, 1, d) for d in [*range(1, 13), *range(1, 20)]]})
    >>> roaming(spans, nets, days).sort("_episode").collect().rows()
    [(1, True), (2, False)]
    """
    keys = [c for c in spans.collect_schema().names() if c not in ("_episode", "first_seen")]
    before = pl.col("first_seen")
    spans = spans.select("_episode", *keys, "first_seen")

    def count(frame: pl.LazyFrame, when: pl.Expr, name: str) -> pl.LazyFrame:
        return (
            spans.join(frame, on=keys).filter(when).group_by("_episode").agg(pl.len().alias(name))
        )

    used = count(nets, pl.col("_net_seen") < before, "_nets")
    active = count(days, pl.col("_day") < before.dt.date(), "_days")
    far = (pl.col("_nets") >= ROAMING_NETWORKS) & (pl.col("_nets") * 2 >= pl.col("_days"))
    return (
        spans.select("_episode")
        .join(used, on="_episode", how="left")
        .join(active, on="_episode", how="left")
        .select("_episode", _roaming=far.fill_null(False))
    )


def newcomer_aggregations(gap: timedelta) -> list[pl.Expr]:
    """Aggregations of an episode's rows that carry the columns of :func:`network_firsts`
    and :func:`client_firsts` (from :func:`with_newcomer_firsts`): ``_new_ips``, its
    addresses in networks new to the actor (:func:`new_network`); ``_new_clients``, the
    clients new to it (:func:`new_client`); ``_stranger``, whether one row came from both
    a new network and a new (or unknown) client, which a pipeline's usual tool on a new
    runner does not; ``_net_tried`` and ``_client_tried``, whether such a network or
    client had been used more than ``gap`` before (on a day or two: the summary must not
    say "never used")."""
    new_net = new_network(gap)
    known = pl.col("_client").is_not_null()
    return [
        pl.col("source_ip").filter(new_net).unique(maintain_order=True).alias("_new_ips"),
        pl.col("_client").filter(known & new_client(gap)).unique(maintain_order=True)
        .alias("_new_clients"),
        (new_net & new_client(gap)).any().alias("_stranger"),
        *tried_aggregations(gap),
    ]  # fmt: skip


def net_tried(gap: timedelta) -> pl.Expr:
    """Aggregation ``_net_tried`` of :func:`tried_aggregations`, for rows that carry the
    columns of :func:`network_firsts` only."""
    return (new_network(gap) & ((T - pl.col("_net_seen")) > gap)).any().alias("_net_tried")


def tried_aggregations(gap: timedelta) -> list[pl.Expr]:
    """``_net_tried`` and ``_client_tried``: whether a row's network or client is new to
    the actor (:func:`new_network`, :func:`new_client`) though first used more than
    ``gap`` before (on a day or two): the summary must not say "never used"."""
    known = pl.col("_client").is_not_null()
    return [
        net_tried(gap),
        (known & new_client(gap) & ((T - pl.col("_client_seen")) > gap))
        .any()
        .alias("_client_tried"),
    ]


def never_used(tried: pl.Expr | None) -> pl.Expr:
    """``never used``, or what is true when ``tried`` (the actor had used it on a day or
    two without making it its own: :data:`ESTABLISHED_DAYS`).

    >>> pl.select(never_used(pl.lit(True)), never_used(None).alias("x")).row(0)
    ('used on fewer than 3 days', 'never used')
    """
    days = f"used on fewer than {ESTABLISHED_DAYS} days"
    if tried is None:
        return pl.lit("never used")
    return pl.when(tried).then(pl.lit(days)).otherwise(pl.lit("never used"))


def new_network_text() -> pl.Expr:
    """``from a network it had never used (…)``, with the new client when there is one,
    for an episode aggregated with :func:`newcomer_aggregations` (``had used on fewer
    than 3 days`` for what the actor had used before without making it its own)."""
    return pl.format(
        "from a network it had {} ({}){}",
        never_used(pl.col("_net_tried")),
        first_few(pl.col("_new_ips"), 3, ", "),
        new_clients_text(pl.col("_new_clients"), pl.col("_client_tried")),
    )


def client_firsts(events: Events, keys: Sequence[str], among: pl.LazyFrame) -> pl.LazyFrame:
    """When each group of ``keys`` found in ``among`` made each client (its user agent as
    :func:`client_agent` reads it) its own, as ``_client`` and ``_client_first``: its
    first use on the :data:`ESTABLISHED_DAYS`-th day it used it (a century on when fewer),
    as for networks (:func:`network_firsts`); and its first use at all, ``_client_seen``.
    Join it on ``_client`` (``nulls_equal``) to rows that carry ``_client`` and judge
    them with :func:`new_client`.

    >>> from datetime import datetime
    >>> df = pl.DataFrame({"tenant_id": ["t"] * 4, "actor_id": ["a"] * 4,
    ...     "occurred_at": [datetime(2026, 1, d) for d in (1, 2, 3, 3)],
    ...     "user_agent": ["aws-cli/2 command/s3.ls", "aws-cli/2 command/s3.cp",
    ...                    "aws-cli/2 command/s3.ls", "Boto3/1"]})
    >>> keys = ["tenant_id", "actor_id"]
    >>> firsts = client_firsts(df, keys, df.lazy().select(keys).unique()).sort("_client")
    >>> firsts.select("_client", *(pl.col(c).dt.year() for c in ("_client_seen",
    ...     "_client_first"))).collect().rows()
    [('Boto3/1', 2026, 2126), ('aws-cli/2', 2026, 2026)]
    """
    return _made_own(events, keys, among, "user_agent", client_agent, "client")


def country_firsts(events: Events, keys: Sequence[str], among: pl.LazyFrame) -> pl.LazyFrame:
    """When each group of ``keys`` found in ``among`` made each country (``geo_country``,
    upper case) its own, as ``_country``, ``_country_seen`` and ``_country_first``, as
    :func:`network_firsts` does for networks; and ``_countries_owned``, when it first made
    any country its own (join on ``keys`` only for that).  Judge rows with
    :func:`new_country`.

    >>> from datetime import datetime
    >>> df = pl.DataFrame({"tenant_id": ["t"] * 4, "actor_id": ["a"] * 4,
    ...     "occurred_at": [datetime(2026, 1, d) for d in (1, 2, 3, 4)],
    ...     "geo_country": ["us", "US", "US", "NL"]})
    >>> keys = ["tenant_id", "actor_id"]
    >>> firsts = country_firsts(df, keys, df.lazy().select(keys).unique()).sort("_country")
    >>> firsts.select("_country", pl.col("_country_first").dt.year()).collect().rows()
    [('NL', 2126), ('US', 2026)]
    """
    found = _made_own(
        lazy(events, *keys, "occurred_at", "geo_country").filter(
            pl.col("geo_country").is_not_null()
        ),
        keys,
        among,
        "geo_country",
        lambda c: c.str.strip_chars().str.to_uppercase(),
        "country",
    )
    return found.with_columns(_countries_owned=pl.col("_country_first").min().over(keys))


def new_country(gap: timedelta) -> pl.Expr:
    """Whether a row's country (``_country``, joined with :func:`country_firsts`) is new to
    an actor that had made some country its own before the row: first seen at most
    ``gap`` before, or not yet its own.  False where the row or the actor has no country."""
    at = pl.col("occurred_at")
    return (
        pl.col("_country").is_not_null()
        & (pl.col("_countries_owned") <= at)
        & _new("_country_seen", "_country_first", gap)
    ).fill_null(False)


#: How long a tenant's trail must have run before a network no one of it made its own
#: is news (see :func:`away_from_home`).
TENANT_HISTORY: Final = timedelta(days=7)


def away_from_home(
    rows: pl.LazyFrame,
    events: Events,
    keys: Sequence[str],
    gap: timedelta,
    *,
    by_tenant: bool = False,
) -> pl.LazyFrame:
    """``rows`` (with ``source_ip``, ``user_agent`` and ``geo_country``) with ``_new_net``,
    whether the row came from a network new to its actor (:func:`new_network`) once the
    actor had made some network its own, and ``_new_country``, from a country new to it
    (:func:`new_country`); with the columns of :func:`with_newcomer_firsts` and
    ``_country``.  With ``by_tenant``, an actor with no network of its own yet (an
    enterprise's owners act there now and then) is judged by its tenant's: a network no
    one of the tenant had made its own, once the tenant's trail has run
    :data:`TENANT_HISTORY`, is new (a pass over the tenants' events: for rare rows)."""
    keys = list(keys)
    actors = rows.select(keys).unique()
    judged = (
        with_newcomer_firsts(rows, events, keys, actors)
        .with_columns(_country=pl.col("geo_country").str.strip_chars().str.to_uppercase())
        .join(country_firsts(events, keys, actors), on=[*keys, "_country"], how="left",
              maintain_order="left")
        .join(
            network_firsts(events, keys, actors).group_by(keys)
            .agg(_owned=pl.col("_net_first").min()),
            on=keys, how="left", maintain_order="left",
        )
        .with_columns(
            _new_net=((pl.col("_owned") <= T) & new_network(gap)).fill_null(False),
            _new_country=new_country(gap),
            _homeless=(pl.col("_owned").is_null() | (pl.col("_owned") > T)),
        )
        .drop("_owned", "_countries_owned")
    )  # fmt: skip
    if not by_tenant:
        return judged.drop("_homeless")
    found = judged.collect()
    lost = found.filter("_homeless")
    if lost.height == 0:
        return found.lazy().drop("_homeless")
    # the tenant's own use of those rows' networks only: their addresses picked by a
    # literal prefix (an IPv4 /24's first three parts) before any grouping
    tenants = lost.lazy().select("tenant_id").unique()
    prefixes = (
        lost.get_column("_net").drop_nulls().unique().str.extract(r"^(\d+\.\d+\.\d+\.)0/24$", 1)
    )
    nearby = lazy(events, "tenant_id", "occurred_at", "source_ip")
    if prefixes.null_count() == 0 and len(prefixes):
        nearby = nearby.filter(pl.col("source_ip").str.contains_any(prefixes.to_list()))
    ours = network_firsts(nearby, ["tenant_id"], tenants).rename(
        {"_net_seen": "_ours_seen", "_net_first": "_ours_first"}
    )
    new_to_tenant = ((T - pl.col("_ours_seen")) <= gap) | (pl.col("_ours_first") > T)
    return (
        found.lazy()
        .join(ours, on=["tenant_id", "_net"], how="left", maintain_order="left")
        .join(began(events, among=tenants).rename({"_began": "_t0"}), on="tenant_id",
              how="left", maintain_order="left")
        .with_columns(
            _new_net=(
                pl.col("_new_net")
                | (pl.col("_homeless") & (T - pl.col("_t0") >= TENANT_HISTORY) & new_to_tenant)
            ).fill_null(False)
        )
        .drop("_homeless", "_ours_seen", "_ours_first", "_t0")
    )  # fmt: skip


def _new(seen: str, own: str, gap: timedelta) -> pl.Expr:
    at = pl.col("occurred_at")
    return ((at - pl.col(seen)) <= gap) | (pl.col(own) > at)


def new_network(gap: timedelta) -> pl.Expr:
    """Whether a row's network (joined with :func:`network_firsts`) is new to the actor:
    first used at most ``gap`` before the row, or not yet its own (used on fewer than
    :data:`ESTABLISHED_DAYS` days up to the row's)."""
    return _new("_net_seen", "_net_first", gap)


def new_client(gap: timedelta) -> pl.Expr:
    """Whether a row's client (``_client``, joined with :func:`client_firsts`) is new to
    the actor as :func:`new_network` says of networks, or is unknown (no user agent, or a
    cloud service's): where the trail cannot tell, the network alone decides."""
    return pl.col("_client").is_null() | _new("_client_seen", "_client_first", gap)


def new_clients_text(clients: pl.Expr, tried: pl.Expr | None = None) -> pl.Expr:
    """`` with a client it had never used ('…')`` for a non-empty list of clients, else
    an empty text: the tail of a summary that names a new network (``had used on fewer
    than 3 days`` when ``tried``)."""
    return (
        pl.when(clients.list.len() > 0)
        .then(
            pl.format(
                " with a client it had {} ({})",
                never_used(tried),
                first_few(clients.list.eval(q(pl.element())), 2, ", "),
            )
        )
        .otherwise(pl.lit(""))
    )


#: A Google Cloud service account's e-mail, in a key's target or a binding's member.
SERVICE_ACCOUNT: Final = (
    r"(?i)(?:serviceAccounts/|serviceAccount:)?([^/:\s]+\.gserviceaccount\.com)"
)

#: Target kinds (as :func:`kind` spells them) that are a person's account.
ACCOUNT_KINDS: Final = ("user", "account", "member", "person", "identity")


def kind(type_: pl.Expr) -> pl.Expr:
    """A target's type as one lower-case word, whatever the producer's spelling: the last
    part of a qualified name, without separators.  CloudTrail writes ``AWS::IAM::User``,
    Okta and GitLab ``User``, the canonical format ``user``: all are ``user``.

    >>> pl.select(kind(pl.Series(["AWS::IAM::User", "User", "api_key", "iam.serviceAccount",
    ...     "AWS::IAM::AccessKey", None]))).to_series().to_list()
    ['user', 'user', 'apikey', 'serviceaccount', 'accesskey', None]
    """
    return (
        type_.str.to_lowercase().str.replace(r"^.*(?:::|[./:])", "").str.replace_all(r"[\s_-]", "")
    )


#: A string of a JSON list's text, as written (escapes kept).
_JSON_STRING: Final = r'"((?:[^"\\]|\\.)*)"'


def listed(text: pl.Expr) -> pl.Expr:
    """A value of a producer's request as a list: the strings of a JSON list's text
    (``["a", "b"]``, as ``json_path_match`` gives a list), else the value alone.

    >>> pl.select(listed(pl.Series(['["i-1", "i-2"]', "i-3", None]))).to_series().to_list()
    [['i-1', 'i-2'], ['i-3'], [None]]
    """
    return (
        pl.when(text.str.starts_with("["))
        .then(text.str.extract_all(_JSON_STRING).list.eval(pl.element().str.slice(1).str.head(-1)))
        .otherwise(pl.concat_list(text))
    )


def ids(*columns: str) -> pl.Expr:
    """Concatenate list (or single) event-id columns into one list, without nulls or repeats."""
    parts = [pl.col(c) for c in columns]
    return pl.concat_list(parts).list.drop_nulls().list.unique(maintain_order=True)


#: The columns of candidate findings, before :func:`finalize`.
CANDIDATE_SCHEMA: Final = pl.Schema(
    {
        "tenant_id": pl.String(),
        "actor_id": pl.String(),
        "first_seen": pl.Datetime("us", "UTC"),
        "last_seen": pl.Datetime("us", "UTC"),
        "event_ids": pl.List(pl.String()),
        "severity": pl.String(),
        "summary": pl.String(),
    }
)


def no_candidates() -> pl.DataFrame:
    """An empty frame of candidate findings (:data:`CANDIDATE_SCHEMA`)."""
    return pl.DataFrame(schema=CANDIDATE_SCHEMA)
