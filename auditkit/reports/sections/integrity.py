"""Section ``integrity``:
Verification result, signed checkpoints, key fingerprint, how to re-verify.
"""

from __future__ import annotations

import shlex

import polars as pl

from auditkit.reports.model import Section, Table
from auditkit.reports.sections._base import (
    SectionSet,
    class_expr,
    section,
)

__all__ = ["integrity"]

_in_class = class_expr


@section("integrity", "Integrity attestation")
def integrity(ctx: SectionSet) -> Section:
    """Verification result, signed checkpoints, key fingerprint, how to re-verify.

    Examples
    --------
    >>> from auditkit.reports.examples import example_sections
    >>> example_sections()["integrity"].facts["verdict"]
    'not verified'
    """
    inputs = ctx.inputs
    v = inputs.verification
    if v is None:
        return Section(
            "integrity",
            "Integrity attestation",
            (
                "These events were not read from an auditkit store, so their integrity was not "
                "verified: build the report from the store to attest it.",
            ),
            facts={"verified": None, "verdict": "not verified"},
        )
    tenants = (
        pl.DataFrame(
            [t.to_dict() for t in v.tenants],
            schema={
                "tenant_id": pl.String,
                "events": pl.Int64,
                "tree_size": pl.Int64,
                "root_hash": pl.String,
                "checkpoint_time": pl.String,
                "ok": pl.Boolean,
            },
            orient="row",
        )
        if v.tenants
        else pl.DataFrame(schema={"tenant_id": pl.String})
    )
    cps = pl.DataFrame(
        {
            "tenant_id": [c.tenant_id for c in inputs.checkpoints],
            "tree_size": [c.tree_size for c in inputs.checkpoints],
            "root_hash": [c.root_hash for c in inputs.checkpoints],
            "timestamp": [c.timestamp for c in inputs.checkpoints],
            "key_id": [c.key_id for c in inputs.checkpoints],
            "signature": [c.signature for c in inputs.checkpoints],
        },
        schema={
            "tenant_id": pl.String,
            "tree_size": pl.Int64,
            "root_hash": pl.String,
            "timestamp": pl.String,
            "key_id": pl.String,
            "signature": pl.String,
        },
    )
    problems = pl.DataFrame(
        {
            "kind": [p.kind.value for p in v.problems],
            "tenant_id": [p.tenant_id for p in v.problems],
            "seq": [p.seq for p in v.problems],
            "event_id": [p.event_id for p in v.problems],
            "column": [p.column for p in v.problems],
            "detail": [p.detail for p in v.problems],
        },
        schema={
            "kind": pl.String,
            "tenant_id": pl.String,
            "seq": pl.Int64,
            "event_id": pl.String,
            "column": pl.String,
            "detail": pl.String,
        },
    )
    verdict = (
        "intact"
        if v.ok
        else f"TAMPERED ({len(v.problems)} problem(s), first: {v.problems[0].kind.value})"
    )
    # Quoted for a POSIX shell: a tenant id or path such as ``acme$(touch x)`` pasted
    # from the report must stay one inert argument.
    location = shlex.quote(inputs.store_location) if inputs.store_location else "STORE"
    tenant_args = " ".join(f"--tenant {shlex.quote(t)}" for t in inputs.tenants)
    paragraphs = [
        f"Verification of the whole audit trail of {', '.join(inputs.tenants)} (not only the "
        f"period): {verdict}. {v.events:,} record(s) were re-hashed from their stored columns "
        "and checked against each tenant's Merkle tree (RFC 6962), whose root is signed with "
        "the store's Ed25519 key in a checkpoint; every stored checkpoint's signature and "
        "history were checked too.",
        f"Signing key fingerprint (SHA-256 of the raw public key): {inputs.key_fingerprint}. "
        f"The verifying key came from {inputs.key_source}.",
        "To re-verify later, keep the signed checkpoints outside the store (the evidence "
        "bundle holds them as checkpoints.json) and run the commands below: a store that was "
        "changed, truncated, rolled back or forked since fails with exit code 1 and names the "
        "first affected record.",
    ]
    kinds = {a.kind.value for a in v.anchors}
    external = kinds & {"checkpoint_file", "witness"}
    paragraphs.append(
        "What this proves: no record was changed, removed, inserted or reordered since the "
        "checkpoints were signed, and every checkpoint extends the ones before it. What it "
        "does not prove: when the events happened (a checkpoint signed at import time says "
        "nothing about the times the events claim, which are the producer's word); and, "
        "when the key is held beside the store (a key file on the same machine, under the "
        "same administrators), that history was not rewritten and re-signed by someone "
        "holding both: such a key is not independent. Only an anchor kept elsewhere limits "
        "that: checkpoints saved outside the store earlier (a file handed to the auditor), "
        "or witnesses' cosignatures on the checkpoints."
    )
    paragraphs.append(
        "Anchors of this verification: "
        + ("; ".join(a.describe() for a in v.anchors) or "none")
        + (
            ". External anchoring (a saved checkpoint file or a witness cosignature) was used."
            if external
            else ". No external anchor (saved checkpoint file, witness cosignature) was "
            "given: ask for checkpoints saved at earlier dates and verify the store against "
            "them (auditkit verify STORE --checkpoint FILE), or have witnesses cosign."
        )
    )
    if not inputs.key_independent:
        paragraphs.append(
            "The key was read from the store database itself, which an attacker "
            "with database access could replace: verify with the public key "
            "file kept apart from the database."
        )
    return Section(
        "integrity",
        "Integrity attestation",
        tuple(paragraphs),
        facts={
            "verified": v.ok,
            "verdict": verdict,
            "records_verified": v.events,
            "problems": len(v.problems),
            "store_id": inputs.store_id,
            "key_fingerprint": inputs.key_fingerprint,
            "key_source": inputs.key_source,
            "key_independent": inputs.key_independent,
            "checked_at": v.checked_at,
            "anchors": "; ".join(a.describe() for a in v.anchors) or "none",
            "externally_anchored": bool(external),
            "public_key_pem": inputs.public_key_pem,
        },
        tables=(
            Table("tenants", "Verified logs per tenant", tenants),
            Table("checkpoints", "Newest signed checkpoint per tenant", cps),
            Table("problems", "Problems found", problems, limit=100),
        ),
        commands=(
            f"auditkit checkpoint {location} -o checkpoints.json",
            f"auditkit verify {location} --checkpoint checkpoints.json {tenant_args}",
        ),
    )
