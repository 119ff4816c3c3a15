"""Build the notebooks from the cell sources below and execute them, so that the
committed outputs are what nbval compares (``python notebooks/_build.py [NAME...]``).

Each notebook is a list of cells: ``md(text)`` or ``code(source, *tags)``; tag a
cell ``nbval-ignore-output`` only where its output legitimately varies.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
IGNORE = "nbval-ignore-output"


def md(text: str) -> dict[str, Any]:
    return {"kind": "markdown", "source": text.strip()}


def code(source: str, *tags: str) -> dict[str, Any]:
    return {"kind": "code", "source": source.strip(), "tags": list(tags)}


SETUP = code('''
import tempfile
from pathlib import Path

import polars as pl

from auditkit import Store
from auditkit.ingest.pipeline import ingest_files

SAMPLE = Path("..") / "sample_data" / "events.ndjson.gz"   # the committed sample trail
workdir = Path(tempfile.mkdtemp(prefix="auditkit-nb-"))
store = Store.init(str(workdir / "audit.db"))              # the signing key goes beside it
print(ingest_files(store, [SAMPLE]).summary())
''')

NOTEBOOKS: dict[str, list[dict[str, Any]]] = {}

NOTEBOOKS["01_quickstart"] = [
    md('''
# Quickstart: store, verify, load, filter, export

Five steps on the committed sample trail (19,171 events of three fictional tenants over
90 days): put the events in a verifiable store, check that nothing was changed, load them
into Polars, filter them with the Explorer, and export what you found.
'''),
    md('''
## 1. A store

A store is a SQLite file (or a PostgreSQL URL). `Store.init` also makes the Ed25519 key
that signs each tenant's log; it is kept beside the database, not in it. Ingesting reads
any supported format and quarantines bad records with their reason.
'''),
    SETUP,
    md('''
## 2. Verify

Every event's canonical bytes are a leaf of its tenant's Merkle tree, whose root is
signed. `verify` rebuilds the bytes from the columns and checks them all.
'''),
    code('''
report = store.verify()
print(report.summary())
'''),
    md('''
## 3. Load

`load` returns a Polars frame, verified on the way: a changed record raises
`TamperedError` instead of reaching your analysis. On a big store, pass a progress
callback (here tqdm's notebook bar).
'''),
    code('''
from tqdm.auto import tqdm

with tqdm(total=store.count(), unit=" events", desc="verify + load") as bar:
    events = store.load(progress=bar.update)
''', IGNORE),
    code('''
print(events.shape)
events.select("occurred_at", "tenant_id", "action", "outcome", "actor_id", "description").head(5)
'''),
    code('''
(events.filter(pl.col("outcome") != "success")
       .group_by("tenant_id", "outcome").len()
       .sort("tenant_id", "len", descending=[False, True]))
'''),
    md('''
## 4. Filter with the Explorer

Pick a tenant, an outcome, actions, a time range; search actors and free text (in the
description and the metadata: `"quoted words"` match as a phrase). The count, charts and
table follow; the export buttons write the filtered events into the working folder and
offer them for download.
'''),
    code('''
from auditkit.widgets import Explorer, FilterState

explorer = Explorer(events)   # export buttons write next to this notebook
explorer
'''),
    md('''
The same filter is there for scripts: `explorer.state` says what the panel shows,
`explorer.filter_expr` is a Polars expression for any event frame, and
`explorer.filtered` is the filtered frame. Setting a state updates the panel above.
'''),
    code('''
explorer.set_state(FilterState(tenants=["acme"], outcomes=["failure"], actions=["user.login"]))
print(explorer.state.describe(), "->", explorer.count, "events")
explorer.filtered.group_by("source_ip").len().sort("len", "source_ip", descending=[True, False]).head(3)
'''),
    md('''
## 5. Export

`export_frame` writes CSV (spreadsheet-safe, re-importable), JSON, NDJSON (canonical
events) or Parquet, chosen by the file name. `auditkit export STORE -o FILE` does the
same from the command line.
'''),
    code('''
from auditkit.export import export_frame

result = export_frame(explorer.filtered, workdir / "acme-failed-logins.csv")
print(result.rows, "events written to", result.path.name)
pl.read_csv(result.path).select("occurred_at", "actor.id", "source.ip", "metadata").head(3)
'''),
]

NOTEBOOKS["05_integrity_and_retention"] = [
    md('''
# Integrity and retention

What makes the trail evidence: every tenant's log is a Merkle tree whose root is signed,
so a changed, deleted, inserted or reordered record is found, and named. Here we
tamper with a copy of a store the way someone with database access would, and watch
verification point at the record. Then we read the retention status out of the data.
'''),
    SETUP,
    md('''
## Anchor the signed checkpoints outside the store

A checkpoint signs (tenant, tree size, root hash, time). Saved somewhere else (a ticket,
a WORM bucket, an e-mail), it later proves the log was not rolled back, truncated or
rewritten, even by someone who holds the database.
'''),
    code('''
doc = store.export_checkpoints(workdir / "checkpoints.json")
{cp["tenant_id"]: cp["tree_size"] for cp in sorted(doc["checkpoints"], key=lambda c: c["tenant_id"])}
'''),
    md('''
## The Integrity panel

Verification status per tenant, the newest signed checkpoint of each, and an inclusion
proof for one event: the hashes that link it to the signed root, checkable by anyone
with the public key.
'''),
    code('''
from auditkit.widgets import IntegrityPanel

panel = IntegrityPanel(store, checkpoint=workdir / "checkpoints.json", export_dir=workdir)
panel
'''),
    code('''
public_key, _ = store.trusted_public_key()
proof = panel.prove("initech", seq=100)
proof.verify(public_key)          # raises IntegrityError if anything does not fit
print(f"seq {proof.seq} of {proof.tree_size} events: {len(proof.path)} hashes to the signed root")
'''),
    md('''
## Tamper with a copy

The attacker in the sample (`initech`, 23 February) disabled the audit log. Someone with
database access now tries to hide it: they drop the immutability triggers, turn the
`audit_log.disable` event into a harmless `settings.update`, and delete the last event of
`globex` for good measure.
'''),
    code('''
import shutil
import sqlite3

for suffix in ("", ".key", ".pub"):
    shutil.copy(workdir / f"audit.db{suffix}", workdir / f"copy.db{suffix}")

con = sqlite3.connect(workdir / "copy.db")
for trigger in ("events_no_update", "events_no_delete"):
    con.execute(f"DROP TRIGGER {trigger}")
con.execute("UPDATE events SET action = 'settings.update', category = 'admin' "
            "WHERE tenant_id = 'initech' AND action = 'audit_log.disable'")
con.execute("DELETE FROM events WHERE tenant_id = 'globex' "
            "AND seq = (SELECT MAX(seq) FROM events WHERE tenant_id = 'globex')")
con.commit()
con.close()
'''),
    code('''
copy = Store.open(str(workdir / "copy.db"))
tampered = copy.verify(checkpoint=workdir / "checkpoints.json")
print(tampered.summary())
'''),
    md('''
Each problem names its kind, the tenant, the first affected `seq` and the `event_id`.
Loading refuses the tampered tenants (pass `on_tamper="warn"` to get the records that
still verify), and the untouched tenant loads as usual:
'''),
    code('''
from auditkit import TamperedError

try:
    copy.load("initech")
except TamperedError as exc:
    print("refused:", str(exc).splitlines()[1].strip()[:90], "...")
print("acme still loads:", copy.load("acme").height, "events")
'''),
    code('''
IntegrityPanel(copy, checkpoint=workdir / "checkpoints.json", export_dir=workdir)
'''),
    md('''
## Retention status, from the data

Retention settings are audited events too (`audit_retention.update`, with the old and
new value in `changes`). The newest one per tenant is its policy; tenants that never set
one keep the default of 365 days. "As of" is the newest event of the sample, so that the
numbers do not depend on today's date.
'''),
    code('''
events = store.load()
as_of = events["occurred_at"].max()
DEFAULT_DAYS = 365

policy = (
    events.filter(pl.col("action") == "audit_retention.update")
    .sort("occurred_at")
    .group_by("tenant_id")
    .agg(
        retention_days=pl.col("changes").str.json_path_match("$.after.retention_days")
        .cast(pl.Int64).last(),
        set_at=pl.col("occurred_at").last(),
        set_by=pl.col("actor_id").last(),
    )
)
cutoff = pl.lit(as_of) - pl.duration(days=pl.col("retention_days"))
status = (
    events.join(policy, on="tenant_id", how="left")
    .with_columns(pl.col("retention_days").fill_null(DEFAULT_DAYS))
    .group_by("tenant_id")
    .agg(
        events=pl.len(),
        oldest=pl.col("occurred_at").min().dt.date(),
        retention_days=pl.col("retention_days").first(),
        past_retention=(pl.col("occurred_at") < cutoff).sum(),
        policy_set_by=pl.col("set_by").first(),
        policy_set_at=pl.col("set_at").first().dt.strftime("%Y-%m-%d %H:%M"),
    )
    .sort("tenant_id")
)
print("as of", f"{as_of:%Y-%m-%d %H:%M}", "UTC")
status
'''),
    md('''
`initech`'s 7-day policy was set by the same account, three minutes before it disabled
the audit log: a purge under it would remove most of the tenant's trail, including the
evidence. A purge is itself a signed, recorded event, so it can be told apart from
tampering, but it is final: review a retention change like this one (the `audit_log_tampering`
detector flags it) before anything is purged.
'''),
    md("""
## Retention policies in the store: seal, purge, verify

Policies live in the store, per tenant: days kept hot in the database, days kept at all,
and a legal hold that blocks every purge. Every change is appended to the tenant's signed
trail as `audit_retention.update`, so it is evidence like any other event. To keep the
numbers independent of today's date, we apply the policies "as of" the day after the
sample's newest event.
"""),
    code("""
before = store.verify()
print("before:", before.summary().splitlines()[0])

store.retention.set("acme", hot_days=30, keep_days=60)
store.retention.set("globex", hot_days=30, keep_days=60,
                    legal_hold=True, reason="litigation hold, case 2026-17")
for p in store.retention.policies():
    print(f"{p.tenant_id:8} {p.describe()}")
"""),
    md("""
`apply` seals events older than the hot period into zstd Parquet segments (per tenant and
month of receipt, each with a manifest signed by the store key) and purges whole segments
past the keep period. Run every two weeks of the sample's quarter, as a scheduled job would:
`globex`'s legal hold blocks its purges, and says so.
"""),
    code("""
for as_of in ["2026-02-15", "2026-03-01", "2026-03-15", "2026-04-05"]:
    result = store.retention.apply(now=as_of)
    print(f"as of {as_of}:", result.summary().splitlines()[0])
print(result.summary())
"""),
    code("""
cold = Path(store.cold_url)
sorted(str(p.relative_to(cold)) for p in cold.rglob("*") if p.is_file())
"""),
    md("""
After sealing and purging, `verify` proves every remaining event, hot or cold (each
segment is checked against its signed manifest and the Merkle tree as it is read), and
reports the purge as what it is: a signed, recorded removal, not tampering. Loads see one
trail across both tiers.
"""),
    code("""
after = store.verify()
print("after:", after.summary().splitlines()[0])
for note in after.notes:
    print(" ", note)
frame = store.load("globex")
print("globex loads", frame.height, "events, of which",
      store.tier_counts("globex")[1], "from the cold tier")
"""),
    md("""
An inclusion proof still works for every remaining event; for a purged one, the answer
says that it was purged, and when.
"""),
    code("""
from auditkit.errors import UsageError

print(store.inclusion_proof("globex", seq=10).tree_size, "events in globex's signed tree")
try:
    store.inclusion_proof("acme", seq=10)
except UsageError as exc:
    print(exc)
"""),
    md("""
Someone with access to the cold tier edits a sealed segment: verification names the
segment and the record.
"""),
    code("""
segment = next(cold.glob("tenant=globex/*/*.parquet"))
edited = pl.read_parquet(segment).with_columns(
    pl.when(pl.col("seq") == 3).then(pl.lit("settings.update")).otherwise(pl.col("action"))
    .alias("action"))
edited.write_parquet(segment, compression="zstd")
print(store.verify("globex").summary())
"""),
]


NOTEBOOKS["02_security_investigation"] = [
    md("""
# Security investigation: detections, evidence, timeline, export

The detectors read the verified trail and return findings: who, what, when, how severe, and
the `event_ids` that show it. From a finding we go to its evidence, to what the same actor did
around it, to a timeline, and export the evidence for the SIEM or the ticket.
"""),
    SETUP,
    code("""
import altair as alt

from auditkit.analytics import run_detectors

alt.renderers.enable("png")     # static charts: offline, and kept in the saved notebook
events = store.load()
findings = run_detectors(events)
findings.group_by("severity").len().sort("len")
"""),
    code("""
(findings.filter(pl.col("severity").is_in(["critical", "high"]))
         .select("severity", "detector", "tenant_id", "actor_id", "summary"))
"""),
    md("""
## The Findings browser

Pick a finding (filter by severity or detector): its evidence, the actor's activity around
it, a timeline, and export buttons for the evidence.
"""),
    code("""
from auditkit.widgets import FindingsBrowser

browser = FindingsBrowser(events, findings, after="2h", export_dir=workdir)
browser
"""),
    md("""
## One finding, step by step

The brute force on `acme`: 25 failed sign-ins from one address, then a success.
What did the account do once it was in?
"""),
    code("""
from auditkit.analytics import evidence_timeline_chart, finding_context, finding_evidence

finding = findings.filter(pl.col("detector") == "brute_force_success").row(0, named=True)
evidence = finding_evidence(events, finding)
print(finding["summary"])
evidence.group_by("outcome", "source_ip").len().sort("outcome")
"""),
    code("""
context = finding_context(events, finding, after="2h")
context.filter(~pl.col("is_evidence")).select(
    "occurred_at", "action", "outcome", "source_ip", "target_id", "description").head(10)
"""),
    code("""
evidence_timeline_chart(events, finding, after="2h")
"""),
    md("""
## Export for the SIEM

NDJSON holds the canonical events, exactly as stored (with `seq`, so anyone can ask the
store for each event's inclusion proof); CSV is for spreadsheets, safe against formula
injection. The same from the command line:
`auditkit export STORE --tenant acme --since 2026-01-09 --until 2026-01-10 -o evidence.ndjson`.
"""),
    code("""
from auditkit.export import export_frame

related = context.drop("is_evidence")
for name in ("brute-force-evidence.ndjson", "brute-force-context.csv"):
    frame = evidence if "evidence" in name else related
    result = export_frame(frame, workdir / name)
    print(f"{result.rows:>3} events -> {result.path.name}")
"""),
]

NOTEBOOKS["03_compliance_report"] = [
    md("""
# Compliance report

A report maps the trail onto a framework's controls (SOC 2, ISO 27001, PCI DSS, HIPAA,
NIST 800-53, GDPR). Each control gets one of five statuses, in the words an external
auditor accepts: **pass** (the evidence shows the control operated over the period),
**evidence present** (the logs hold what it asks for; that it operated needs other
evidence), **not assessable from logs** (the report says what to request instead),
**needs review** and **fail**. It re-verifies the store first, and states integrity
(nothing altered) and completeness (nothing missing) apart.
"""),
    SETUP,
    code("""
from auditkit.reports import build_report

report = build_report(store, framework="soc2", period="2026-01-05..2026-04-04")
print(report.summary())
"""),
    code("""
pl.DataFrame(
    [{"control": c.control_id, "status": c.status.label, "why": c.reasons[0] if c.reasons else ""}
     for c in report.controls]
)
"""),
    md("""
Integrity and completeness are different claims: the sample's `initech` switched its audit
logging off in February and never on again. Its trail verifies, but it is not complete:
"""),
    code("""
facts = report.section("executive_summary").facts
print("integrity:   ", facts["integrity"])
print("completeness:", facts["completeness"][:110], "...")
"""),
    md("""
Write it as one self-contained HTML file (charts inline, no network, prints well), Markdown,
JSON, CSV, PDF, or a signed evidence bundle (`.zip`) that also holds every control's
population as CSV and XLSX and a script to re-perform the checks without auditkit. From the
command line: `auditkit report STORE --framework soc2 --format html -o soc2.html`.
"""),
    code("""
path = report.write(workdir / "soc2.html")
print(path.name, "written;", path.read_text().count("<section"), "sections")
"""),
    md("""
## Reviews and dispositions are evidence too

A detector run when the report is built says nothing about whether anyone reviewed the
logs during the period. People record their reviews (`auditkit review`) and their decision
on each finding (`auditkit finding resolve`) as events of the tenant's own signed trail.
Here `acme`'s first week is reviewed each next morning, and its findings resolved:
"""),
    code("""
from datetime import datetime, timedelta, timezone

from auditkit.reports.records import disposition_event, review_event

week = "2026-01-05..2026-01-11"
before = build_report(store, framework="pci-dss", tenant="acme", period=week)
print(before.control("10.4.1").status.label, "-", before.control("10.4.1").reasons[0][:80])
day0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
store.append([review_event(tenant="acme", period=(day0 + timedelta(days=d)).date().isoformat()
                           + ".." + (day0 + timedelta(days=d)).date().isoformat(),
                           reviewer="rita", at=day0 + timedelta(days=d + 1, hours=8))
              for d in range(7)])
register = before.section("review_records").table("findings").frame
store.append([disposition_event(tenant="acme", finding_id=f, disposition="false_positive",
                                ticket="SEC-42", by="olga") for f in register["finding_id"]])
after = build_report(store, framework="pci-dss", tenant="acme", period=week)
for cid in ("10.4.1", "10.4.3"):
    print(cid, after.control(cid).status.label, "-", after.control(cid).reasons[0][:80])
"""),
    md("""
## The Report builder

The same as a form: framework, tenant, period and format, then the file, offered for
download.
"""),
    code("""
from auditkit.widgets import ReportBuilder

ReportBuilder(store, output_dir=workdir)
"""),
]

NOTEBOOKS["04_usage_insights"] = [
    md("""
# Usage insights

The same trail answers product questions: who is active, which features are adopted,
where things fail. Each insight is a function from the event frame to a frame, with a chart
beside it.
"""),
    SETUP,
    code("""
import altair as alt

from auditkit.analytics import charts, insights

alt.renderers.enable("png")     # static charts: offline, and kept in the saved notebook
events = store.load()
insights.tenant_comparison(events)
"""),
    md("## Daily, weekly and monthly active actors"),
    code("""
dau = insights.dau_wau_mau(events)
charts.dau_wau_mau_chart(dau)
"""),
    md("## What people do"),
    code("""
insights.top_actions(events, n=5, by_tenant=False)
"""),
    code("""
charts.activity_heatmap_chart(insights.activity_heatmap(events))
"""),
    md("## Feature adoption: who has exported or shared anything so far"),
    code("""
adoption = insights.feature_adoption(events, every="1w",
                                     actions=["document.export", "document.share"])
(adoption.group_by("tenant_id", "action")
         .agg(pl.col("adoption").last().round(2), pl.col("adopters").last())
         .sort("tenant_id", "action"))
"""),
    md("## Where things fail"),
    code("""
rates = insights.failure_rates(events, min_events=50)
charts.failure_rates_chart(rates, top=10)
"""),
]


def build(name: str, cells: list[dict[str, Any]], *, execute: bool = True) -> Path:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in cells:
        if cell["kind"] == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell["source"]))
        else:
            c = nbformat.v4.new_code_cell(cell["source"])
            if cell["tags"]:
                c.metadata["tags"] = cell["tags"]
            nb.cells.append(c)
    for i, c in enumerate(nb.cells):  # stable ids: no churn in diffs
        c["id"] = f"{name[:2]}-{i:02d}"
    path = HERE / f"{name}.ipynb"
    if execute:
        client = NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(HERE)}})
        client.execute()
    _keep_displayed_widgets(nb)
    nbformat.write(nb, path)
    return path


def _keep_displayed_widgets(nb: Any) -> None:
    """Keep the saved widget state of the widgets the outputs show (and the models they
    refer to), so that a static viewer (nbconvert's HTML, GitHub, nbviewer) renders
    the Explorer and Findings views as they were left; drop the rest."""
    import json

    mime = "application/vnd.jupyter.widget-state+json"
    state = nb.metadata.get("widgets", {}).get(mime, {}).get("state", {})
    shown = [
        out["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in out.get("data", {})
    ]
    keep: set[str] = set()
    todo = [m for m in shown if m in state]
    while todo:  # the models a shown widget refers to ("IPY_MODEL_<id>"), transitively
        model = todo.pop()
        if model in keep:
            continue
        keep.add(model)
        text = json.dumps(state[model])
        todo += [m for m in state if f"IPY_MODEL_{m}" in text and m not in keep]
    if keep:
        nb.metadata["widgets"] = {
            mime: {"version_major": 2, "version_minor": 0,
                   "state": {m: state[m] for m in sorted(keep)}}
        }
    else:
        nb.metadata.pop("widgets", None)


def main(argv: list[str]) -> int:
    names = argv or list(NOTEBOOKS)
    for name in names:
        print("built", build(name, NOTEBOOKS[name]).name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
