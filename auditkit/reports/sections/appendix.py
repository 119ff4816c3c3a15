"""Section ``appendix``:
How an auditor re-performs each check without auditkit (OpenSSL and a short script),
the glossary, the mapping to a typical request list, and the run parameters.
"""

from __future__ import annotations

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import SectionSet, section

__all__ = ["GLOSSARY", "REQUEST_LIST", "appendix"]

#: Technical words of the report, in plain words.
GLOSSARY = {
    "audit trail": "the tenant's sequence of recorded events (who did what, when, from where)",
    "event": "one recorded action, e.g. a sign-in, a record read, a role granted",
    "seq": "an event's position in its tenant's trail: 0, 1, 2, ... with no gaps",
    "hash (SHA-256)": "a 64-hex-digit fingerprint of data; any change to the data changes it",
    "Merkle tree": "hashes of all events combined pairwise up to one root hash: the root "
    "changes if any event changes",
    "checkpoint": "the tree's size and root hash, signed with the store's key (Ed25519)",
    "inclusion proof": "the few hashes that show one event is in the tree of a checkpoint",
    "anchor": "something trusted from outside the database: the key file, a saved "
    "checkpoint, a witness's cosignature",
    "witness": "an independent party that cosigns checkpoints, so history cannot be "
    "rewritten without it noticing",
    "population": "every event a control is about, in the period",
    "sample": "events drawn at random (with a stated seed) from a population for inspection",
    "seed": "the number that fixes a random draw, so anyone can draw the same sample again",
    "source": "the system that recorded an event (observer service)",
    "finding": "something a detector flagged for a person to look at",
    "disposition": "what a person decided a finding was: remediated, false positive or "
    "accepted risk",
    "quarantine": "input records that could not be stored, kept with the reason",
}

#: A typical auditor's request list (PBC list) and where this report answers it.
REQUEST_LIST = (
    (
        "Population of security-relevant events for the period",
        "Samples and populations; bundle evidence/samples/*.csv and *.xlsx",
    ),
    ("Evidence that logging was enabled throughout the period", "Completeness; Logging gaps"),
    ("List of log sources in scope and their status", "Completeness (inventory)"),
    ("Evidence that logs are protected from modification", "Integrity attestation; appendix"),
    ("Evidence of daily log review", "Reviews and dispositions (review records)"),
    (
        "Listing of security incidents / alerts and their resolution",
        "Detections; Reviews and dispositions (findings with owner, disposition, date)",
    ),
    ("User access changes (new, removed, privilege changes)", "Access lifecycle"),
    ("Privileged user activity", "Privileged activity"),
    ("Failed login / access attempts", "Failed and denied access"),
    ("Log retention settings and evidence of retention", "Retention"),
    ("Time synchronisation evidence", "Clock (effects only; configuration: request it)"),
    ("System description, scope and carve-outs", "Executive summary (from --config)"),
)


_STEPS = (
    ("unzip the bundle", "unzip evidence.zip -d evidence && cd evidence"),
    ("hashes of every file", "python3 reperform/reperform.py bundle ."),
    (
        "signature of the manifest",
        "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin "
        "-in manifest.json -sigfile manifest.sig.bin",
    ),
    ("one event in the signed tree", "python3 reperform/reperform.py inclusion proof.json"),
    (
        "signature of its checkpoint",
        "openssl pkeyutl -verify -pubin -inkey STORE.pub -rawin "
        "-in checkpoint.msg -sigfile checkpoint.sig",
    ),
)


@section("appendix", "Appendix: how to re-perform the checks; glossary; run parameters")
def appendix(ctx: SectionSet) -> Section:
    """Re-performance steps with public tools, glossary, request-list mapping, parameters.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> sec = example_sections()["appendix"]
    >>> sec.table("steps").frame["command"].str.contains("openssl pkeyutl -verify").sum()
    2
    """
    inputs = ctx.inputs
    params = {
        "framework": ctx.framework.id if ctx.framework else "-",
        "catalog version": ctx.framework.version if ctx.framework else "-",
        "tenants": ", ".join(inputs.tenants),
        "period": str(inputs.period),
        "sample seed": str(ctx.sample_seed),
        "sample size": str(ctx.sample_size),
        "dormancy limit (days)": str(inputs.options.dormant_days),
        "configuration": inputs.config.path or "(none)",
        **{str(k): str(v) for k, v in inputs.parameters.items()},
    }
    return Section(
        "appendix",
        "Appendix: how to re-perform the checks; glossary; run parameters",
        (
            "Each check can be re-performed without auditkit, with OpenSSL and Python's "
            "standard library. The evidence bundle carries reperform/reperform.py (about a "
            "hundred lines, no dependencies; read it before running it).",
            "1. The bundle: unzip it; `python3 reperform/reperform.py bundle .` recomputes the "
            "SHA-256 of every file and compares them with manifest.json, then OpenSSL checks "
            "the Ed25519 signature of manifest.json with public_key.pem. Compare the key's "
            "fingerprint (SHA-256 of the raw public key) with the one the store's owner gave "
            "you separately.",
            "2. One event is in the signed trail: ask for an inclusion proof of any sampled "
            "event (`auditkit proof STORE --tenant T --event-id ID -o proof.json`); "
            "`python3 reperform.py inclusion proof.json` hashes the event's canonical bytes "
            "and folds the audit path up to the root (RFC 9162), compares it with the "
            "checkpoint, and writes the checkpoint's signed bytes for OpenSSL.",
            "3. The whole trail: `auditkit verify STORE --checkpoint FILE` re-hashes every "
            "record against the signed trees, starting from a checkpoint file you kept from "
            "an earlier date (it fails if history was rewritten since).",
            "4. Samples: the population files list every event of a control in order; "
            "Python's `random.Random(SEED).sample(ids, N)` over their event_id column draws "
            "the sample shown. Draw your own with your own seed.",
            "5. Statuses: each control lists the rule that set it and its evidence; the rules "
            "are described in the documentation (docs/reports.md).",
        ),
        facts={},
        tables=(
            Table(
                "steps",
                "Re-performing with public tools (run inside the unzipped bundle)",
                pl.DataFrame({"step": [n for n, _ in _STEPS], "command": [c for _, c in _STEPS]}),
                limit=100,
            ),
            Table(
                "parameters",
                "Run parameters",
                pl.DataFrame({"parameter": list(params), "value": list(params.values())}),
                limit=100,
            ),
            Table(
                "request_list",
                "A typical request list, and where this report answers it",
                pl.DataFrame(
                    {"request": [r for r, _ in REQUEST_LIST], "where": [w for _, w in REQUEST_LIST]}
                ),
                limit=100,
            ),
            Table(
                "glossary",
                "Glossary",
                pl.DataFrame({"term": list(GLOSSARY), "meaning": list(GLOSSARY.values())}),
                limit=100,
            ),
        ),
    )
