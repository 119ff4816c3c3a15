"""``auditkit demo``: the main job on the embedded SQLite default.

Builds a sample store from the realistic generator, verifies it, saves a
signed checkpoint outside the store, proves one event's inclusion, runs the
detections and writes a compliance report.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import orjson

__all__ = ["run_demo"]


def _step(title: str) -> None:
    print(f"\n== {title}")


def run_demo(folder: Path, *, progress: bool = False) -> int:
    """Run the demo in ``folder`` (created; earlier demo files there are replaced).

    ``progress`` shows a bar on stderr while the sample is ingested.
    """
    from auditkit.ingest.pipeline import ingest_files
    from auditkit.sample import generate
    from auditkit.store import Store

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "audit.db"
    for suffix in ("", ".key", ".pub", "-wal", "-shm", ".quarantine.ndjson"):
        p = Path(str(db) + suffix)
        if p.exists():
            p.unlink()
    (folder / "audit.pub").unlink(missing_ok=True)

    _step("1. sample data")
    t0 = time.perf_counter()
    sample = generate()
    events_file = folder / "events.ndjson"
    with open(events_file, "wb") as f:
        for e in sample.events:
            f.write(orjson.dumps(e) + b"\n")
    print(
        f"{len(sample.events)} events, {len(sample.incidents)} injected incidents -> {events_file}"
    )

    _step("2. init + ingest")
    store = Store.init(str(db))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(sample.events), unit=" records", desc="ingest", leave=False)
    try:
        result = ingest_files(
            store,
            [events_file],
            quarantine=str(db) + ".quarantine.ndjson",
            progress=None if bar is None else bar.update,
        )
    finally:
        if bar is not None:
            bar.close()
    print(f"store {db} (signing key {store.key_path})")
    print(result.summary())
    print(f"tenants: {', '.join(store.tenants())}")

    _step("3. verify")
    verification = store.verify()
    print(verification.summary())
    cp_file = folder / "checkpoint.json"
    store.export_checkpoints(cp_file)
    print(
        f"signed checkpoints saved to {cp_file}; later: auditkit verify {db} --checkpoint {cp_file}"
    )

    _step("4. load + prove")
    tenant = store.tenants()[0]
    frame = store.load(tenant)
    print(
        f"loaded {frame.height} verified events of tenant {tenant!r} into Polars "
        f"({frame.width} columns)"
    )
    proof = store.inclusion_proof(tenant, frame.height // 2)
    proof.verify(store.trusted_public_key()[0])
    print(
        f"inclusion proof for seq {proof.seq} ({len(proof.path)} hashes) verified against "
        f"the signed root {proof.checkpoint.root_hash[:16]}…"
    )

    _step("5. detect")
    from auditkit.analytics.detectors.registry import run_detectors

    findings = run_detectors(store.load())
    counts = findings.group_by("severity").len().sort("len", descending=True)
    print(
        f"{findings.height} findings: " + ", ".join(f"{n} {sev}" for sev, n in counts.iter_rows())
    )
    for r in findings.head(8).iter_rows(named=True):
        print(
            f"  [{r['severity']:<8}] {r['detector']:<22} {r['tenant_id']}/"
            f"{r['actor_id'] or '-'}: {r['summary']}"
        )
    found = {f["detector"] for f in findings.iter_rows(named=True)}
    print(
        f"injected incidents in the sample: {len(sample.incidents)}; detectors that fired: "
        f"{len(found)}"
    )

    _step("6. compliance report")
    from auditkit.reports import build_report

    soc2 = build_report(store, framework="soc2")
    html = folder / "soc2-report.html"
    bundle = folder / "soc2-evidence.zip"
    soc2.write(html)
    soc2.write(bundle, format="bundle")
    print(soc2.summary())
    print(
        f"report: {html}\nsigned evidence bundle: {bundle} "
        f"(check it with: auditkit report verify {shlex.quote(str(bundle))} "
        f"--store {shlex.quote(str(db))})"
    )

    print(f"\ndone in {time.perf_counter() - t0:.1f} s")
    return 0 if verification.ok else 1
