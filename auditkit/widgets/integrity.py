"""The Integrity panel: is each tenant's log intact, what was signed, and a proof
that one event is in the signed log.

Verification status per tenant (with every problem named by kind, seq and
event id), the newest signed checkpoint of each tenant (its signature checked
with the trusted key), an inclusion proof for a selected event (checked, and
saved as JSON for someone who does not trust this machine), and an export of
the checkpoints to keep outside the store.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import orjson
import polars as pl

from auditkit.errors import AuditkitError
from auditkit.integrity import key_fingerprint, verify_checkpoint
from auditkit.verification import VerificationReport
from auditkit.widgets._html import download_link, table_html

if TYPE_CHECKING:
    from auditkit.store import InclusionProof, Store

__all__ = ["IntegrityPanel"]

_OK = "<span style='color:#1a7f37;font-weight:bold'>✔ {}</span>"
_BAD = "<span style='color:#cf222e;font-weight:bold'>✘ {}</span>"


def _short(hex_text: str, n: int = 16) -> str:
    return f"<code title='{html.escape(hex_text)}'>{html.escape(hex_text[:n])}…</code>"


class IntegrityPanel:
    """Verification, signed checkpoints and inclusion proofs of a store, as widgets.

    Parameters
    ----------
    store
        An open :class:`~auditkit.store.Store`.
    checkpoint
        A checkpoint file saved earlier (``auditkit checkpoint -o``): verification
        then also detects truncation, rollback and forks against it.
    export_dir
        Where the save buttons write.
    verify
        Verify at once (default); otherwise wait for the button.

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.store import Store
    >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
    >>> _ = store.append([{"tenant_id": "acme", "occurred_at": f"2026-01-05T09:0{i}:00Z",
    ...                    "action": "user.login", "actor": {"id": "u1"}} for i in range(5)])
    >>> panel = IntegrityPanel(store, export_dir=tempfile.mkdtemp())
    >>> panel.report.ok, "INTACT" in panel.status.value
    (True, True)
    >>> proof = panel.prove("acme", seq=3)
    >>> proof.seq, proof.tree_size, "verified" in panel.proof_html.value
    (3, 5, True)
    """

    def __init__(
        self,
        store: Store,
        *,
        checkpoint: str | Path | None = None,
        export_dir: str | Path = ".",
        verify: bool = True,
    ) -> None:
        self.store = store
        self.checkpoint_file = checkpoint
        self.export_dir = Path(export_dir)
        self.report: VerificationReport | None = None
        self.proof: InclusionProof | None = None
        tenants = store.tenants()
        self.verify_button = w.Button(
            description="Verify now", icon="check", button_style="primary"
        )
        self.verify_button.on_click(lambda _: self.verify())
        self.status = w.HTML("<i>not verified yet</i>")
        self.checkpoints_html = w.HTML()
        self.save_checkpoints_button = w.Button(description="Save checkpoints", icon="download")
        self.save_checkpoints_button.on_click(lambda _: self.save_checkpoints())
        self.tenant = w.Dropdown(
            options=tenants, value=tenants[0] if tenants else None, description="Tenant"
        )
        self.seq = w.BoundedIntText(
            value=0, min=0, max=max(store.count() - 1, 0), description="seq"
        )
        self.event_id = w.Text(value="", description="or event id", placeholder="(instead of seq)")
        self.prove_button = w.Button(description="Prove inclusion", icon="link")
        self.prove_button.on_click(lambda _: self._prove_from_widgets())
        self.proof_html = w.HTML()
        self.save_proof_button = w.Button(description="Save proof", icon="download", disabled=True)
        self.save_proof_button.on_click(lambda _: self.save_proof())
        self.files_html = w.HTML()
        self.widget = w.VBox(
            [
                w.HTML("<h4 style='margin:4px 0'>Verification</h4>"),
                w.HBox([self.verify_button]),
                self.status,
                w.HTML("<h4 style='margin:4px 0'>Signed checkpoints</h4>"),
                self.checkpoints_html,
                self.save_checkpoints_button,
                w.HTML("<h4 style='margin:4px 0'>Inclusion proof</h4>"),
                w.HBox([self.tenant, self.seq, self.event_id, self.prove_button]),
                self.proof_html,
                self.save_proof_button,
                self.files_html,
            ]
        )
        self.widget.add_class("auditkit-integrity")
        self._render_checkpoints()
        if verify:
            self.verify()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(self)
        return data

    def __repr__(self) -> str:
        state = (
            "not verified"
            if self.report is None
            else ("intact" if self.report.ok else f"{len(self.report.problems)} problem(s)")
        )
        return f"<IntegrityPanel: {len(self.store.tenants())} tenant(s), {state}>"

    # -- verification --------------------------------------------------------------------
    def verify(self) -> VerificationReport:
        """Verify the store (against the saved checkpoint file, if any) and show it."""
        report = self.store.verify(checkpoint=self.checkpoint_file)
        self.report = report
        head = (
            _OK.format(html.escape(report.summary()))
            if report.ok
            else _BAD.format(f"TAMPERED: {len(report.problems)} problem(s)")
        )
        tenants = pl.DataFrame(
            [
                {
                    "tenant": t.tenant_id,
                    "events": t.events,
                    "tree size": t.tree_size,
                    "root": t.root_hash[:16] + "…",
                    "checkpoint signed": t.checkpoint_time,
                    "status": "intact" if t.ok else "TAMPERED",
                }
                for t in report.tenants
            ],
            schema={
                "tenant": pl.String,
                "events": pl.Int64,
                "tree size": pl.Int64,
                "root": pl.String,
                "checkpoint signed": pl.String,
                "status": pl.String,
            },
        )
        problems = pl.DataFrame(
            [
                {
                    "kind": p.kind.value,
                    "tenant": p.tenant_id,
                    "seq": p.seq,
                    "event id": p.event_id,
                    "column": p.column,
                    "detail": p.detail,
                }
                for p in report.problems[:200]
            ],
            schema={
                "kind": pl.String,
                "tenant": pl.String,
                "seq": pl.Int64,
                "event id": pl.String,
                "column": pl.String,
                "detail": pl.String,
            },
        )
        parts = [f"<p>{head}</p>", table_html(tenants, empty="no tenants")]
        if not report.ok:
            parts.append(
                f"<p><b>Problems</b> (first affected record of each; "
                f"{len(report.problems)} in all)</p>"
            )
            parts.append(table_html(problems))
        parts.append(
            f"<p style='color:#555'>key {html.escape((report.key_id or '?')[:16])} "
            f"from {html.escape(report.key_source or '?')}"
            + (
                f"; checked against {html.escape(Path(self.checkpoint_file).name)}"
                if self.checkpoint_file
                else ""
            )
            + "</p>"
        )
        self.status.value = "".join(parts)
        self._render_checkpoints()
        return report

    def _render_checkpoints(self) -> None:
        public, source = self.store.trusted_public_key()
        rows = []
        for tenant, cp in sorted(self.store.latest_checkpoints().items()):
            try:
                verify_checkpoint(cp, public)
                ok = _OK.format("valid")
            except ValueError as exc:
                ok = _BAD.format(html.escape(str(exc)))
            rows.append(
                f"<tr><td>{html.escape(tenant)}</td><td>{cp.tree_size:,}</td>"
                f"<td>{_short(cp.root_hash)}</td><td>{html.escape(cp.timestamp)}</td>"
                f"<td><code>{html.escape(cp.key_id[:16])}</code></td>"
                f"<td>{_short(cp.signature, 20)}</td><td>{ok}</td></tr>"
            )
        self.checkpoints_html.value = (
            "<table class='ak-t' style='font-size:12px'><tr><th>tenant</th><th>tree size</th>"
            "<th>root hash</th><th>signed at</th><th>key id</th><th>signature</th>"
            f"<th>signature check</th></tr>{''.join(rows)}</table>"
            f"<p style='color:#555'>trusted key {_short(key_fingerprint(public))} from "
            f"{html.escape(source)}</p>"
        )

    def save_checkpoints(self, path: str | Path | None = None) -> Path:
        """Export the signed checkpoints (to keep outside the store) and offer them."""
        target = Path(path) if path is not None else self.export_dir / "checkpoints.json"
        self.store.export_checkpoints(target)
        link = download_link(target, "application/json", limit=2_000_000)
        self.files_html.value = (
            f"Saved the checkpoints to <code>{html.escape(target.name)}</code> · {link}"
        )
        return target

    # -- inclusion proofs --------------------------------------------------------------
    def _prove_from_widgets(self) -> None:
        event_id = self.event_id.value.strip() or None
        try:
            self.prove(
                self.tenant.value, seq=None if event_id else self.seq.value, event_id=event_id
            )
        except AuditkitError as exc:
            self.proof_html.value = _BAD.format(html.escape(str(exc)))

    def prove(
        self, tenant: str, seq: int | None = None, *, event_id: str | None = None
    ) -> InclusionProof:
        """Build, check and show the inclusion proof of one event (by seq or event id).

        Raises
        ------
        IntegrityError
            When the proof does not verify against the signed checkpoint.
        """
        with self.tenant.hold_trait_notifications():
            if tenant in self.tenant.options:
                self.tenant.value = tenant
        proof = self.store.inclusion_proof(tenant, seq, event_id=event_id)
        self.seq.value = proof.seq
        public, source = self.store.trusted_public_key()
        try:
            proof.verify(public)
            verdict = _OK.format(
                f"verified: the event is leaf {proof.seq:,} of the tree of "
                f"{proof.tree_size:,} events whose root the checkpoint signs"
            )
        except AuditkitError as exc:
            verdict = _BAD.format(html.escape(str(exc)))
            self.proof_html.value = verdict
            raise
        self.proof = proof
        cp = proof.checkpoint
        path = "".join(f"<li><code>{h}</code></li>" for h in proof.path)
        event = orjson.dumps(orjson.loads(proof.canonical), option=orjson.OPT_INDENT_2).decode()
        self.proof_html.value = (
            f"<p>{verdict}</p><p>tenant <b>{html.escape(proof.tenant_id)}</b>, seq "
            f"<b>{proof.seq:,}</b>, event id <code>{html.escape(proof.event_id)}</code>; "
            f"checkpoint of {cp.tree_size:,} events signed at {html.escape(cp.timestamp)}, "
            f"root {_short(cp.root_hash)}; key from {html.escape(source)}</p>"
            f"<details><summary>audit path: {len(proof.path)} hashes</summary><ol start='0'>"
            f"{path}</ol></details><details><summary>the event's canonical record</summary>"
            f"<pre style='font-size:11px'>{html.escape(event)}</pre></details>"
        )
        self.save_proof_button.disabled = False
        return proof

    def save_proof(self, path: str | Path | None = None) -> Path:
        """Write the last proof as JSON (with its checkpoint) and offer it for download."""
        if self.proof is None:
            from auditkit.errors import UsageError

            raise UsageError("no proof yet: call prove() or click 'Prove inclusion' first")
        p = self.proof
        target = (
            Path(path)
            if path is not None
            else self.export_dir / f"proof-{p.tenant_id}-{p.seq}.json"
        )
        target.write_bytes(orjson.dumps(p.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        link = download_link(target, "application/json", limit=2_000_000)
        self.files_html.value = (
            f"Saved the proof to <code>{html.escape(target.name)}</code> · {link}"
        )
        return target
