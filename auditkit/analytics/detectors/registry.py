"""The one place detectors are registered, listed and run.

A detector is a function ``events -> findings``: it takes an event frame
(:data:`auditkit.schema.FRAME_SCHEMA`, eager or lazy) and keyword-only
thresholds, and returns a frame with :data:`FINDINGS_SCHEMA`.  Adding one is
adding one module whose functions are decorated with :func:`register_detector`,
declared under the ``auditkit.detectors`` entry-point group (auditkit's own
detectors are declared in its ``pyproject.toml`` exactly as a third-party
package declares its own: see :mod:`auditkit.plugins`).

The CLI (``auditkit detect STORE [--detector NAME] [--since ...]`` and
``auditkit detect --list``) calls :func:`available_detectors` and
:func:`run_detectors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import polars as pl

from auditkit.errors import DetectorError, UsageError
from auditkit.frame import as_event_frame
from auditkit.plugins import GROUPS, Registry

__all__ = [
    "FINDINGS_SCHEMA",
    "SEVERITIES",
    "Detector",
    "available_detectors",
    "get_detector",
    "register_detector",
    "run_detectors",
]

#: Detectors run at the same time over a batch of tenants.
_WORKERS: Final = 2

#: Severity levels, from least to most severe.
SEVERITIES: Final = ("low", "medium", "high", "critical")

#: One row per finding: the columns of docs/schema.md, then ``finding_id`` (first 16 hex
#: of SHA-256 over detector, tenant and the sorted evidence ids: stable across
#: runs) and ``score`` (statistical detectors; null for rules).
FINDINGS_SCHEMA: Final = pl.Schema(
    {
        "detector": pl.String(),
        "severity": pl.String(),
        "tenant_id": pl.String(),
        "actor_id": pl.String(),
        "first_seen": pl.Datetime("us", "UTC"),
        "last_seen": pl.Datetime("us", "UTC"),
        "event_ids": pl.List(pl.String()),
        "summary": pl.String(),
        "finding_id": pl.String(),
        "score": pl.Float64(),
    }
)

DetectorFn = Callable[..., pl.DataFrame]

_DETECTORS: Registry[Detector] = Registry("detector", group=GROUPS["detectors"])


@dataclass(frozen=True)
class Detector:
    """A registered detector.

    Attributes
    ----------
    name
        Registry key, ``snake_case`` (``auditkit detect --detector NAME``).
    title
        A few words for listings.
    description
        One or two sentences: what it finds and why it matters.
    severity
        Default severity of its findings (a finding may carry another).
    fn
        ``fn(events, **thresholds) -> findings``.
    kind
        ``"rule"`` (fixed thresholds, ``score`` null) or ``"statistical"``
        (baselines, ``score`` ranks the findings).
    scope
        ``"tenant"``: every window and baseline is per tenant, so the detector can run
        over any set of whole tenants at a time (:func:`run_detectors` does, to bound
        memory); ``"store"``: it correlates tenants (the operator's view).

    Examples
    --------
    >>> d = available_detectors()["brute_force"]
    >>> d.kind, d.severity
    ('rule', 'medium')
    """

    name: str
    title: str
    description: str
    severity: str
    fn: DetectorFn = field(repr=False)
    kind: Literal["rule", "statistical"] = "rule"
    scope: Literal["tenant", "store"] = "tenant"

    def __call__(self, events: pl.LazyFrame | pl.DataFrame, **options: Any) -> pl.DataFrame:
        """Run the detector with its defaults overridden by ``options``."""
        return self.fn(events, **options)


def register_detector(
    name: str,
    *,
    title: str,
    severity: str,
    kind: Literal["rule", "statistical"] = "rule",
    scope: Literal["tenant", "store"] = "tenant",
) -> Callable[[DetectorFn], DetectorFn]:
    """Register the decorated function as detector ``name``; the description is its docstring's
    first paragraph.

    Examples
    --------
    >>> import polars as pl
    >>> @register_detector("example_nothing", title="Finds nothing", severity="low")
    ... def nothing(events):
    ...     '''Never fires.'''
    ...     return pl.DataFrame(schema=FINDINGS_SCHEMA)
    >>> available_detectors()["example_nothing"].description
    'Never fires.'
    >>> _ = _DETECTORS.unregister("example_nothing")
    """
    if severity not in SEVERITIES:
        raise UsageError(f"detector {name!r}: expected severity in {SEVERITIES}, got {severity!r}")

    def decorate(fn: DetectorFn) -> DetectorFn:
        doc = (fn.__doc__ or "").strip().split("\n\n")[0]
        description = " ".join(line.strip() for line in doc.splitlines())
        detector = Detector(name, title, description, severity, fn, kind, scope)
        _DETECTORS.register(name, detector)
        return fn

    return decorate


def available_detectors() -> dict[str, Detector]:
    """Return the registered detectors by name, sorted.

    Examples
    --------
    >>> names = available_detectors()
    >>> {"brute_force", "audit_tampering", "volume_spike"} <= set(names)
    True
    """
    return _DETECTORS.all()


def get_detector(name: str) -> Detector:
    """Return the detector called ``name`` or raise :class:`UsageError` listing the known ones.

    Examples
    --------
    >>> get_detector("mass_export").title
    'Mass export or download'
    >>> get_detector("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: unknown detector 'nope'; known: admin_grant_from_new_network, ...
    """
    return _DETECTORS.get(name)


def run_detectors(
    events: pl.LazyFrame | pl.DataFrame,
    *,
    names: Iterable[str] | None = None,
    since: datetime | None = None,
    batch_events: int = 1_000_000,
    progress: Callable[[float], object] | None = None,
) -> pl.DataFrame:
    """Run detectors over ``events`` and return all findings, most severe first.

    Parameters
    ----------
    events
        An event frame (:data:`~auditkit.schema.FRAME_SCHEMA`), eager or lazy.  A
        LazyFrame (e.g. ``pl.scan_parquet``, ``Store.scan``) is read a batch of
        whole tenants at a time, of at most ``batch_events`` events (a larger tenant
        is a batch of its own), and every per-tenant detector runs over that batch
        in memory: the same findings, with memory set by the batch rather than by
        the store.  Detectors over the whole store (``scope="store"``) scan it with
        Polars' streaming engine, reading only the columns they need.
    names
        Detectors to run (default: all).  Unknown names raise :class:`UsageError`.
    batch_events
        Events per batch of tenants for a LazyFrame (an eager frame is one batch).
        The detectors take the same time over batches of 1M or 2M events; the larger
        batch only raises the peak.  Two detectors run at a time over each batch
        (in threads: a detector should not rely on running alone).
    since
        Report only findings whose last evidence is at or after ``since``.  Earlier
        events still serve as history and baselines, so ``since`` changes which
        findings are shown, never what a finding says.
    progress
        Called with the detectors' work done since the last call, in detectors (a
        progress bar's ``update``): 1 after each detector, or ``1 / k`` after each
        detector over each of ``k`` batches of tenants.

    Returns
    -------
    pl.DataFrame
        :data:`FINDINGS_SCHEMA`, sorted by severity (critical first), ``first_seen``
        and ``finding_id``.

    Examples
    --------
    >>> from auditkit.frame import events_to_frame
    >>> df = events_to_frame([
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...      "action": "audit_log.disable", "actor": {"id": "mallory"}},
    ...     {"tenant_id": "acme", "occurred_at": "2026-01-05T09:01:00Z",
    ...      "action": "document.read", "actor": {"id": "alice"}},
    ... ])
    >>> run_detectors(df).select("detector", "severity", "actor_id").rows()
    [('audit_tampering', 'critical', 'mallory')]
    >>> run_detectors(df, names=["brute_force"]).height
    0
    """
    detectors = available_detectors()
    chosen = list(detectors) if names is None else list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in detectors]
    if unknown:
        raise UsageError(f"unknown detector(s) {unknown}; known: {', '.join(detectors)}")
    lf = as_event_frame(events).lazy()  # a pandas frame too
    scan = isinstance(events, pl.LazyFrame)
    # a LazyFrame may be a scan larger than memory: per-tenant detectors see a batch
    # of tenants at a time, and the streaming engine keeps the passes of the others
    # over it bounded (operations it lacks fall back to in-memory)
    engine: Literal["streaming", "auto"] = "streaming" if scan else "auto"
    per_tenant = [n for n in chosen if detectors[n].scope == "tenant"]
    frames: list[pl.DataFrame] = []

    def one(name: str, part: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
        try:
            return detectors[name].fn(part).cast(dict(FINDINGS_SCHEMA))  # type: ignore[arg-type]
        except pl.exceptions.PanicException as exc:  # a BaseException: not caught above
            why = str(exc).splitlines()[0] if str(exc) else "a panic"
            raise DetectorError(
                f"detector {name!r} stopped on an internal error of Polars ({why}); run "
                "the other detectors without it (auditkit detect STORE --detector NAME ...) "
                "and report the error"
            ) from None

    def run(names: list[str], part: pl.LazyFrame | pl.DataFrame, share: float) -> None:
        # two detectors at a time: most of a detector's work is a chain of steps
        # that each keep one core busy, so a second detector fills the other one
        # (Polars releases the GIL); findings are kept in the order of ``names``
        for found in pool.map(one, names, [part] * len(names)):
            frames.append(found)
            if progress is not None:
                progress(share)

    with pl.Config(engine_affinity=engine), ThreadPoolExecutor(_WORKERS) as pool:
        batches = _tenant_batches(lf, batch_events) if scan and per_tenant else []
        # each batch of whole tenants is read into memory once and every per-tenant
        # detector runs over it: a fifth less time than each detector scanning the
        # files again (and no more memory than the batch)
        for batch in batches:
            run(per_tenant, lf.filter(pl.col("tenant_id").is_in(batch)).collect(), 1 / len(batches))
        run([n for n in chosen if not (batches and n in per_tenant)], lf, 1)
    findings = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=FINDINGS_SCHEMA)
    if since is not None:
        findings = findings.filter(pl.col("last_seen") >= since)
    rank = pl.col("severity").replace_strict(
        {s: i for i, s in enumerate(SEVERITIES)}, default=-1, return_dtype=pl.Int8
    )
    return findings.sort([rank, "first_seen", "finding_id"], descending=[True, False, False])


def _tenant_batches(lf: pl.LazyFrame, limit: int) -> list[list[str]]:
    """Tenants packed, in order, into batches of at most ``limit`` events."""
    if limit <= 0:
        raise UsageError(f"batch_events: expected a positive number, got {limit}")
    sizes = lf.group_by("tenant_id").agg(pl.len()).sort("tenant_id").collect()
    batches: list[list[str]] = []
    total = limit
    for tenant, n in sizes.iter_rows():
        if tenant is None:
            continue
        if total + n > limit:
            batches.append([])
            total = 0
        batches[-1].append(tenant)
        total += n
    return batches
