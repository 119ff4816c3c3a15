"""Scoring findings against the ground truth: matches, precision, recall, top-k."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from ._incidents import Incident

#: Kinds of look-alike incidents (innocent traffic) start with this.
LOOKALIKE = "lookalike:"


def match(findings: pl.DataFrame, incidents: Sequence[Incident]) -> pl.DataFrame:
    """For each finding, the kinds of the incidents it matches (empty list: a false positive).

    A finding matches an incident of its tenant when they share an event; a finding
    without evidence events matches an absence incident (a logging gap) it overlaps.
    """
    if not incidents:
        return findings.with_columns(matched=pl.lit([], dtype=pl.List(pl.String)))
    truth = pl.DataFrame(
        [
            {"tenant_id": i.tenant_id, "event_id": e, "kind": i.kind}
            for i in incidents
            for e in i.event_ids
        ],
        schema={"tenant_id": pl.String, "event_id": pl.String, "kind": pl.String},
    )
    by_event = (
        findings.select("finding_id", "tenant_id", pl.col("event_ids").alias("event_id"))
        .explode("event_id")
        .join(truth, on=["tenant_id", "event_id"])
        .group_by("finding_id")
        .agg(pl.col("kind").unique().sort().alias("matched"))
    )
    gaps = [i for i in incidents if i.kind == "logging_gap"]
    absent = findings.filter(pl.col("event_ids").list.len() == 0)
    rows = []
    for f in absent.iter_rows(named=True):  # few findings: readable beats vectorised here
        kinds = sorted(
            {
                i.kind
                for i in gaps
                if i.tenant_id == f["tenant_id"]
                and f["first_seen"] <= i.end
                and f["last_seen"] >= i.start
            }
        )
        rows.append({"finding_id": f["finding_id"], "matched": kinds})
    extra = pl.DataFrame(rows, schema={"finding_id": pl.String, "matched": pl.List(pl.String)})
    both = pl.concat([by_event, extra])
    return findings.join(both, on="finding_id", how="left").with_columns(
        pl.col("matched").fill_null([])
    )


def recall(findings: pl.DataFrame, incidents: Sequence[Incident], detector: str) -> tuple[int, int]:
    """``(found, expected)``: incidents expecting ``detector`` that one of its findings matches."""
    mine = findings.filter(pl.col("detector") == detector)
    expected = [i for i in incidents if detector in i.detectors]
    found = 0
    for inc in expected:
        hit = mine.filter(pl.col("tenant_id") == inc.tenant_id)
        if inc.kind == "logging_gap" or not inc.event_ids:
            ok = hit.filter(
                (pl.col("first_seen") <= inc.end) & (pl.col("last_seen") >= inc.start)
            ).height
        else:
            ok = hit.filter(
                pl.col("event_ids").list.eval(pl.element().is_in(list(inc.event_ids))).list.any()
            ).height
        found += ok > 0
    return found, len(expected)


def quality_table(
    findings: pl.DataFrame,
    incidents: Sequence[Incident],
    detectors: Iterable[str],
    *,
    top_k: int = 10,
) -> pl.DataFrame:
    """Per detector: findings, true positives, precision, precision at top-k, recall, and
    findings on look-alikes only (all, and high or critical)."""
    matched = match(findings, incidents)
    rows = []
    for name in detectors:
        mine = matched.filter(pl.col("detector") == name).with_columns(
            _attack=pl.col("matched")
            .list.eval(~pl.element().str.starts_with(LOOKALIKE))
            .list.any()
            .fill_null(False),
        )
        # a finding on a look-alike only (innocent traffic shaped like an attack) is false
        on_look = mine.filter(~pl.col("_attack") & (pl.col("matched").list.len() > 0))
        mine = mine.with_columns(matched=pl.when("_attack").then("matched").otherwise([]))
        tp = mine.filter(pl.col("matched").list.len() > 0).height
        top = mine.sort("score", descending=True, nulls_last=True).head(top_k)
        found, expected = recall(findings, incidents, name)
        rows.append(
            {
                "detector": name,
                "findings": mine.height,
                "true_positives": tp,
                "precision": tp / mine.height if mine.height else None,
                "precision_at_k": top.filter(pl.col("matched").list.len() > 0).height / top.height
                if top.height
                else None,
                "k": top.height,
                "recall": found / expected if expected else None,
                "expected": expected,
                "on_lookalikes": on_look.height,
                "high_on_lookalikes": on_look.filter(
                    pl.col("severity").is_in(["high", "critical"])
                ).height,
            }
        )
    return pl.DataFrame(rows)
