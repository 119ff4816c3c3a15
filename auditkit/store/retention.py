"""Retention policies and what applying them did: values, and the
:attr:`Store.retention <auditkit.store.Store.retention>` handle.

A policy says, for one tenant (or as the store default, tenant ``*``), how many
days events stay hot in the database (``hot_days``; older ones are sealed into
the cold tier), how many days they are kept at all (``keep_days``; older ones
are purged), and whether a legal hold blocks every purge (with its reason).
``None`` means forever.  Ages count from ``occurred_at``.

Examples
--------
>>> RetentionPolicy("acme", hot_days=30, keep_days=365).describe()
'hot 30 days, kept 365 days'
>>> RetentionPolicy("acme", keep_days=90, legal_hold=True, hold_reason="case 7").describe()
'hot forever, kept 90 days, legal hold (case 7)'
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from auditkit.errors import UsageError

if TYPE_CHECKING:
    from auditkit.store.store import Store

__all__ = ["DEFAULT_TENANT", "ApplyResult", "Retention", "RetentionPolicy", "TenantApply"]

#: The tenant name under which the store default policy is kept.
DEFAULT_TENANT = "*"
#: Longest period a policy may name (about 1000 years): beyond, say forever (None).
_MAX_DAYS = 366_000


@dataclass(frozen=True)
class RetentionPolicy:
    """A tenant's retention policy (``tenant_id='*'``: the store default).

    Attributes
    ----------
    hot_days
        Days an event stays in the database before it is sealed into the cold tier
        (``None``: never sealed).
    keep_days
        Days an event is kept at all before it is purged (``None``: forever).
    legal_hold
        When on, no purge happens for the tenant, whatever ``keep_days`` says.
    hold_reason
        Why the hold is on (required to turn it on).
    inherited
        Whether this is the store default applying to a tenant without its own.
    """

    tenant_id: str
    hot_days: int | None = None
    keep_days: int | None = None
    legal_hold: bool = False
    hold_reason: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    inherited: bool = False

    def __post_init__(self) -> None:
        for name in ("hot_days", "keep_days"):
            v = getattr(self, name)
            if v is not None and (type(v) is not int or not 0 <= v <= _MAX_DAYS):
                raise UsageError(
                    f"{name}: expected a whole number of days 0..{_MAX_DAYS}, got {v!r}"
                )
        if self.keep_days is not None and self.keep_days < 1:
            raise UsageError("keep_days: expected at least 1 day (0 would keep nothing)")
        if self.legal_hold and not (self.hold_reason or "").strip():
            raise UsageError("legal hold: give the reason (--reason TEXT)")

    def values(self) -> dict[str, Any]:
        """The policy's settings (what an ``audit_retention.update`` records)."""
        return {
            "hot_days": self.hot_days,
            "keep_days": self.keep_days,
            "legal_hold": self.legal_hold,
            "hold_reason": self.hold_reason,
        }

    def describe(self) -> str:
        """One line for people."""
        hot = "hot forever" if self.hot_days is None else f"hot {self.hot_days} days"
        keep = "kept forever" if self.keep_days is None else f"kept {self.keep_days} days"
        hold = f", legal hold ({self.hold_reason})" if self.legal_hold else ""
        return f"{hot}, {keep}{hold}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


@dataclass(frozen=True)
class TenantApply:
    """What applying the policy did (or, in a dry run, would do) to one tenant."""

    tenant_id: str
    policy: RetentionPolicy
    sealed: int = 0
    segments: int = 0
    purged: int = 0
    segments_purged: int = 0
    blocked: str | None = None
    recovered: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        d = asdict(self)
        d["policy"] = self.policy.to_dict()
        d["recovered"] = list(self.recovered)
        return d


@dataclass(frozen=True)
class ApplyResult:
    """What :meth:`Retention.apply` did, per tenant."""

    tenants: tuple[TenantApply, ...] = ()
    dry_run: bool = False
    cold_url: str | None = None

    @property
    def sealed(self) -> int:
        """Events sealed into the cold tier."""
        return sum(t.sealed for t in self.tenants)

    @property
    def segments(self) -> int:
        """Segments written."""
        return sum(t.segments for t in self.tenants)

    @property
    def purged(self) -> int:
        """Events purged."""
        return sum(t.purged for t in self.tenants)

    def summary(self) -> str:
        """A few lines for people."""
        verb = "would seal" if self.dry_run else "sealed"
        pverb = "would purge" if self.dry_run else "purged"
        lines = [
            f"{'DRY RUN: ' if self.dry_run else ''}{verb} {self.sealed} event(s) into "
            f"{self.segments} segment(s), {pverb} {self.purged} event(s), "
            f"{len(self.tenants)} tenant(s)"
        ]
        for t in self.tenants:
            line = (
                f"  {t.tenant_id}: {t.policy.describe()}: {verb} {t.sealed} "
                f"({t.segments} segment(s)), {pverb} {t.purged}"
            )
            if t.blocked:
                line += f"; {t.blocked}"
            for r in t.recovered:
                line += f"; {r}"
            lines.append(line)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (what ``auditkit retention apply --json`` prints)."""
        return {
            "dry_run": self.dry_run,
            "cold_url": self.cold_url,
            "sealed": self.sealed,
            "segments": self.segments,
            "purged": self.purged,
            "tenants": [t.to_dict() for t in self.tenants],
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(t.tenant_id)}</td><td>{html.escape(t.policy.describe())}</td>"
            f"<td>{t.sealed}</td><td>{t.segments}</td><td>{t.purged}</td>"
            f"<td>{html.escape(t.blocked or '')}</td></tr>"
            for t in self.tenants
        )
        return (
            f"<p>{html.escape(self.summary().splitlines()[0])}</p><table><tr><th>tenant</th>"
            "<th>policy</th><th>sealed</th><th>segments</th><th>purged</th><th>note</th></tr>"
            f"{rows}</table>"
        )


@dataclass
class Retention:
    """The retention handle of a store (:attr:`Store.retention`).

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.store import Store
    >>> store = Store.init(os.path.join(tempfile.mkdtemp(), "a.db"))
    >>> _ = store.append([{"tenant_id": "acme", "occurred_at": "2020-01-05T09:00:00Z",
    ...                    "action": "user.login", "actor": {"id": "u1"}}])
    >>> store.retention.set("acme", hot_days=30, keep_days=3650).describe()
    'hot 30 days, kept 3650 days'
    >>> store.retention.apply().sealed
    1
    >>> store.load("acme").height, store.verify().status.value
    (2, 'intact')
    """

    store: Store
    _progress: Callable[[int], None] | None = field(default=None, repr=False)

    def policy(self, tenant: str) -> RetentionPolicy:
        """The policy in force for ``tenant`` (its own, else the store default)."""
        return self.store.retention_policies(tenant)[0]

    def policies(self, tenant: str | None = None) -> list[RetentionPolicy]:
        """The store default and each tenant's policy in force."""
        return self.store.retention_policies(tenant)

    def set(
        self,
        tenant: str = DEFAULT_TENANT,
        *,
        hot_days: int | str | None = "keep",
        keep_days: int | str | None = "keep",
        legal_hold: bool | None = None,
        reason: str | None = None,
    ) -> RetentionPolicy:
        """Change a policy (``"keep"``: leave that setting as it is)."""
        return self.store.set_retention(
            tenant, hot_days=hot_days, keep_days=keep_days, legal_hold=legal_hold, reason=reason
        )

    def apply(
        self,
        tenant: str | None = None,
        *,
        dry_run: bool = False,
        now: Any = None,
        progress: Callable[[int], None] | None = None,
    ) -> ApplyResult:
        """Seal and purge what the policies say (see :meth:`Store.apply_retention`)."""
        return self.store.apply_retention(tenant, dry_run=dry_run, now=now, progress=progress)
