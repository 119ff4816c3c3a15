"""Results of verification: values, never a bare bool.

>>> report = VerificationReport(problems=(Problem(ProblemKind.MODIFIED, "acme", 17, "e-17",
...                             "record bytes do not match the signed tree"),))
>>> report.ok, report.status
(False, <Verdict.TAMPERED: 'tampered'>)
>>> print(report.summary())
TAMPERED: 1 problem(s)
  modified  tenant=acme seq=17 event_id=e-17: record bytes do not match the signed tree

A report with no problem is only INTACT when an independent trust anchor backs it
(a key file, a pinned public key or fingerprint, a checkpoint file saved outside the
store, a witness cosignature); without one it is UNANCHORED: whoever can write the
database could have re-signed everything with a key of their own.

>>> VerificationReport().status
<Verdict.UNANCHORED: 'unanchored'>
>>> anchor = Anchor(AnchorKind.KEY_FILE, "/data/audit.db.key", "ab" * 32)
>>> VerificationReport(anchors=(anchor,)).status
<Verdict.INTACT: 'intact'>
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from auditkit.errors import TamperedError

__all__ = [
    "Anchor",
    "AnchorKind",
    "Problem",
    "ProblemKind",
    "TenantStatus",
    "VerificationReport",
    "Verdict",
]


def _one_line(text: str) -> str:
    r"""A line whose values came from the store (event ids, tenants, details quoting
    them): a newline or other control character in them is shown escaped, so that a
    value can never start a line of its own (a forged ``INTACT``) in a summary.

    Examples
    --------
    >>> _one_line("  modified  event_id=x\nINTACT: all")
    '  modified  event_id=x\\x0aINTACT: all'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class ProblemKind(StrEnum):
    """What verification found wrong."""

    MODIFIED = "modified"
    """A record's bytes differ from what the signed tree holds at its seq."""
    COLUMN_MISMATCH = "column_mismatch"
    """A SQL column says something other than the record's hashed bytes."""
    DELETED = "deleted"
    """A seq inside the signed tree has no record."""
    INSERTED = "inserted"
    """A record that the signed history does not contain (forged or unsigned)."""
    REORDERED = "reordered"
    """A record sits at another record's position."""
    TRUNCATED = "truncated"
    """Records at the end of the signed tree are gone."""
    ROLLBACK = "rollback"
    """The store is behind a saved checkpoint (restored from an older copy)."""
    FORK = "fork"
    """The store's history differs from a saved checkpoint's."""
    BAD_SIGNATURE = "bad_signature"
    """A checkpoint's signature does not match its contents."""
    WRONG_KEY = "wrong_key"
    """A checkpoint was signed by another key than the trusted one."""
    TREE_MISMATCH = "tree_mismatch"
    """The stored Merkle index (tiles, tree head) does not match the signed root."""
    UNSIGNED = "unsigned"
    """Events exist but no valid signed checkpoint covers them."""
    WRONG_STORE = "wrong_store"
    """A saved checkpoint belongs to another store."""
    VANISHED = "vanished"
    """A tenant whose signed history exists has no records or tree left."""
    MANIFEST_MISSING = "manifest_missing"
    """The signed tenant manifest is gone from a store that has held one since it was
    made: a whole tenant removed with it would not show."""
    FORGED_PURGE = "forged_purge"
    """A purge record that is not validly signed by the trusted key, or does not fit the tree."""
    MALFORMED = "malformed"
    """A stored value that is not well-formed for its column (type, timestamp, JSON shape)."""
    SEGMENT_MISSING = "segment_missing"
    """A cold segment that a seal statement names is gone from the cold tier."""
    SEGMENT_MODIFIED = "segment_modified"
    """A cold segment's file was edited or truncated (its SHA-256 is not the sealed one)."""
    SEGMENT_SWAPPED = "segment_swapped"
    """A cold segment's file holds another segment's content."""
    FOREIGN_SEGMENT = "foreign_segment"
    """A segment file in a tenant's cold partition that no seal statement names."""
    MANIFEST_MISMATCH = "manifest_mismatch"
    """A segment's manifest is missing, not signed by the trusted key, or disagrees with
    its seal statement, its file or the signed tree."""
    LEGAL_HOLD_BROKEN = "legal_hold_broken"
    """A purge was made while the tenant's legal hold was on."""
    EARLY_PURGE = "early_purge"
    """A purge removed events younger than the tenant's keep period at the time."""
    QUARANTINE_ALTERED = "quarantine_altered"
    """Quarantined records that the signed manifest seals were deleted, edited or
    joined by others: the evidence of the refused input was changed."""
    COLD_TIER_MOVED = "cold_tier_moved"
    """``store_meta.cold_url`` is not the cold tier the signed manifest names: changed in
    the database, so that retention would seal events where the attacker chose."""
    ACCESS_ALTERED = "access_altered"
    """A row of the access tables (principals, grants, tokens) that the store's key did
    not sign: a role or token forged or edited by someone who could write the database
    (such a row is not honoured)."""
    POLICY_ALTERED = "policy_altered"
    """A tenant's retention policy in the database is not the one its signed trail
    records: a hold lifted or a keep period cut in the table (``apply`` refuses it)."""
    SCHEMA_CHANGED = "schema_changed"
    """A trail table was replaced (by a view) or given an index the store did not make:
    an index that disagrees with its table hides rows from the reads that use it."""


class Verdict(StrEnum):
    """The one-word result of a verification (``auditkit verify`` exit codes 0, 1, 3)."""

    INTACT = "intact"
    """No problem, and an independent trust anchor supports the result."""
    TAMPERED = "tampered"
    """At least one problem."""
    UNANCHORED = "unanchored"
    """No problem found, but nothing outside the database vouches for the key."""


class AnchorKind(StrEnum):
    """What a verification trusted, from outside the database."""

    KEY_FILE = "key_file"
    """The store's private key file (its public half)."""
    PUBLIC_KEY = "public_key"
    """A public key given or kept outside the database (PEM file or text)."""
    FINGERPRINT = "fingerprint"
    """A pinned SHA-256 fingerprint of the public key."""
    CHECKPOINT_FILE = "checkpoint_file"
    """Signed checkpoints saved outside the store earlier (and the key they name)."""
    WITNESS = "witness"
    """A witness's cosignature on a checkpoint, checked with the witness's pinned key."""


@dataclass(frozen=True)
class Anchor:
    """One independent thing a verification trusted.

    Attributes
    ----------
    kind
        What it is.
    source
        Where it came from (a path, ``--fingerprint``, a witness name).
    key_id
        The fingerprint of the store key it vouches for, when it vouches for one.
    tenants
        The tenants it covers (empty: all).
    """

    kind: AnchorKind
    source: str
    key_id: str | None = None
    tenants: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for people.

        Examples
        --------
        >>> Anchor(AnchorKind.FINGERPRINT, "--fingerprint", "ab" * 32).describe()
        'fingerprint from --fingerprint (key abababababababab)'
        """
        key = f" (key {self.key_id[:16]})" if self.key_id else ""
        scope = f" for {', '.join(self.tenants)}" if self.tenants else ""
        return f"{self.kind.value.replace('_', ' ')} from {self.source}{key}{scope}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        d = asdict(self)
        d["kind"] = self.kind.value
        d["tenants"] = list(self.tenants)
        return d


@dataclass(frozen=True)
class Problem:
    """One thing verification found wrong.

    Attributes
    ----------
    kind
        What is wrong.
    tenant_id
        Whose log.
    seq
        The first affected position (``None`` when the problem has none).
    event_id
        The affected event's id, when known.
    detail
        A sentence saying what was expected and what was found.
    column
        For ``COLUMN_MISMATCH``: the column.
    """

    kind: ProblemKind
    tenant_id: str
    seq: int | None
    event_id: str | None
    detail: str
    column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form.

        Examples
        --------
        >>> Problem(ProblemKind.DELETED, "acme", 3, None, "missing").to_dict()["kind"]
        'deleted'
        """
        d = asdict(self)
        d["kind"] = self.kind.value
        return d


@dataclass(frozen=True)
class TenantStatus:
    """What was verified for one tenant."""

    tenant_id: str
    events: int
    tree_size: int
    root_hash: str
    checkpoint_time: str | None
    ok: bool
    #: the first stored seq that verified (above it, records were purged or sealed)
    first_seq: int | None = None
    #: ``occurred_at`` of the oldest and newest records that verified (RFC 3339)
    oldest: str | None = None
    newest: str | None = None
    #: records a retention run sealed into the cold tier while this pass read them:
    #: not in what it returned (read again, they come from the cold tier)
    sealed_meanwhile: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class VerificationReport:
    """The result of verifying a store (or a load).

    ``ok`` is true when no problem was found.  ``raise_for_problems()`` raises
    :class:`~auditkit.errors.TamperedError` on request.
    """

    problems: tuple[Problem, ...] = ()
    tenants: tuple[TenantStatus, ...] = ()
    store_id: str | None = None
    key_id: str | None = None
    key_source: str | None = None
    checked_at: str | None = None
    notes: tuple[str, ...] = field(default=())
    anchors: tuple[Anchor, ...] = field(default=())
    #: What the anchors used cannot vouch for (e.g. a rollback, without a checkpoint
    #: saved outside the store), said with the verdict; empty when unanchored.
    unchecked: tuple[str, ...] = field(default=())

    @property
    def sealed_meanwhile(self) -> int:
        """Records a retention run sealed into the cold tier while the pass read them,
        so that they are not in its result, though the store holds them."""
        return sum(t.sealed_meanwhile for t in self.tenants)

    @property
    def overtaken(self) -> bool:
        """Whether a retention run overtook an intact pass (:attr:`sealed_meanwhile`):
        reading once more takes the records it sealed from the cold tier."""
        return self.ok and self.sealed_meanwhile > 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (see :attr:`status` for whether that is anchored)."""
        return not self.problems

    @property
    def anchored(self) -> bool:
        """Whether independent anchors support the result for every tenant verified: an
        anchor of the key covers them all; a witness covers the tenants whose whole
        tree it cosigned."""
        if any(a.kind != AnchorKind.WITNESS for a in self.anchors):
            return True
        covered = {t for a in self.anchors for t in a.tenants}
        return bool(self.anchors) and all(t.tenant_id in covered for t in self.tenants)

    @property
    def status(self) -> Verdict:
        """INTACT, TAMPERED or UNANCHORED."""
        if self.problems:
            return Verdict.TAMPERED
        return Verdict.INTACT if self.anchored else Verdict.UNANCHORED

    @property
    def events(self) -> int:
        """Events verified."""
        return sum(t.events for t in self.tenants)

    def first(self, kind: ProblemKind | None = None) -> Problem | None:
        """The first problem (of a kind).

        Examples
        --------
        >>> VerificationReport().first() is None
        True
        """
        for p in self.problems:
            if kind is None or p.kind == kind:
                return p
        return None

    def raise_for_problems(self) -> VerificationReport:
        """Raise :class:`TamperedError` if there is a problem, else return self.

        Examples
        --------
        >>> VerificationReport().raise_for_problems().ok
        True
        """
        if self.problems:
            err = TamperedError(self.summary())
            err.report = self  # type: ignore[attr-defined]
            raise err
        return self

    def summary(self) -> str:
        """A few lines for people."""
        if self.ok:
            head = f"{self.events} events in {len(self.tenants)} tenant(s) verified"
            if self.anchored:
                return f"INTACT: {head}"
            return (
                f"UNANCHORED: {head}, but nothing outside the database vouches for the key "
                "(pass --public-key FILE, --fingerprint HEX or --checkpoint FILE, "
                "or keep the store's key file)"
            )
        lines = [f"TAMPERED: {len(self.problems)} problem(s)"]
        for p in self.problems[:50]:
            where = f"tenant={p.tenant_id}" if p.tenant_id else "store"
            if p.seq is not None:
                where += f" seq={p.seq}"
            if p.event_id:
                where += f" event_id={p.event_id}"
            if p.column:
                where += f" column={p.column}"
            lines.append(_one_line(f"  {p.kind.value}  {where}: {p.detail}"))
        if len(self.problems) > 50:
            lines.append(f"  ... and {len(self.problems) - 50} more")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (what ``auditkit verify --json`` prints)."""
        return {
            "ok": self.ok,
            "status": self.status.value,
            "anchored": self.anchored,
            "anchors": [a.to_dict() for a in self.anchors],
            "store_id": self.store_id,
            "key_id": self.key_id,
            "key_source": self.key_source,
            "checked_at": self.checked_at,
            "events": self.events,
            "tenants": [t.to_dict() for t in self.tenants],
            "problems": [p.to_dict() for p in self.problems],
            "notes": list(self.notes),
            "unchecked": list(self.unchecked),
        }

    def _repr_html_(self) -> str:
        colour = {"intact": "#1a7f37", "unanchored": "#9a6700"}.get(self.status.value, "#cf222e")
        head = {
            "intact": "Intact",
            "unanchored": "No problem found, but unanchored (the key came from the database)",
        }.get(self.status.value, f"Tampered: {len(self.problems)} problem(s)")
        rows = "".join(
            f"<tr><td>{html.escape(t.tenant_id)}</td><td>{t.events}</td>"
            f"<td><code>{t.root_hash[:16]}…</code></td><td>{'✔' if t.ok else '✘'}</td></tr>"
            for t in self.tenants
        )
        probs = "".join(
            f"<li><b>{p.kind.value}</b> tenant {html.escape(p.tenant_id)} seq {p.seq} "
            f"{html.escape(p.event_id or '')}: {html.escape(p.detail)}</li>"
            for p in self.problems[:50]
        )
        return (
            f"<div><p style='color:{colour};font-weight:bold'>{head}</p>"
            f"<table><tr><th>tenant</th><th>events</th><th>root</th><th>ok</th></tr>{rows}"
            f"</table><ul>{probs}</ul></div>"
        )
