"""The signed tenant manifest: which tenants the store holds, and how far each is signed.

Each tenant's trail is its own Merkle tree with its own signed checkpoints, so a
tenant whose events, checkpoints, tiles and tree head are all deleted leaves no
trace in the others: every remaining tenant still verifies.  The manifest closes
that gap.  Written with the store's key in the same transaction as every append,
it lists each tenant (by a digest of its name, so that a tenant role that reads
``store_meta`` learns no other tenant's name) with the largest tree size signed for
it.  Verification then names a listed tenant that is gone (``vanished``) and one
whose newest signed tree is smaller than listed (``rollback``).  It also seals the
quarantine (the input records that were refused, and why): a hash chain over its rows
in ``id`` order, extended by every write (:class:`QuarantineSeal`), so that a refused
record deleted, edited or slipped in among the sealed ones is ``quarantine_altered``.
And it lists the access rows that were revoked (a digest of each one's signature), so
that a grant or token row saved before its revocation and put back is not honoured,
and where the cold tier is (``cold_url``), so that retention never seals events into a
place named in the database by someone without the key.

What it guarantees: a lower bound.  Entries only grow; an appender that may not
write the manifest (a PostgreSQL role confined to one tenant) leaves it as it was,
which stays true.  An older signed copy put back is named when it predates the
newest checkpoint (every append signs the manifest after its checkpoints).  One
deleted is named too (``manifest_missing``): a store made by this version holds one
from ``init``, and one upgraded from an earlier version from its first append (the
store's version says which).  What it does not catch: a rollback of the whole store,
manifest included, cannot be caught without something kept outside the database (a
checkpoint file, ``auditkit checkpoint``); nor can the manifest deleted together with
the store's version set back to an earlier one (the store then reads as one made
before manifests, and ``verify`` notes that the set of tenants is not signed).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from auditkit.integrity import decode_signature, key_fingerprint
from auditkit.schema import format_timestamp
from auditkit.store._cold import display_url
from auditkit.store._tables import STORE_VERSION
from auditkit.verification import Problem, ProblemKind

__all__ = [
    "MANIFEST_KEY",
    "QUARANTINE_COLUMNS",
    "Manifest",
    "QuarantineSeal",
    "check_quarantine",
    "check_tenant_manifest",
    "checked_manifest",
    "cold_tier_problem",
    "MANIFEST_PARAMS",
    "MANIFEST_QUERY",
    "manifest_required",
    "SIGNED_ACCESS_QUERY",
    "manifest_from_rows",
    "listed_revocations",
    "revoked_digest",
    "tenant_digest",
]

#: The ``store_meta`` key that holds the manifest.
MANIFEST_KEY: Final = "tenant_manifest"
_FORMAT: Final = "auditkit-tenant-manifest/1"
_DOMAIN: Final = b"auditkit tenant manifest v1\n"
_QUARANTINE_DOMAIN: Final = b"auditkit quarantine v1\n"
#: The quarantine columns a seal covers, in the order they are hashed.
QUARANTINE_COLUMNS: Final = (
    "id", "quarantined_at", "file", "line", "location", "field", "reason", "record"
)  # fmt: skip


@dataclass(frozen=True)
class QuarantineSeal:
    """What the manifest says of the quarantine: the rows with ``id <= last_id``,
    ``rows`` of them, chain to ``digest`` (see :meth:`extended`).

    The quarantine keeps the input records that were not stored and why; its counts
    go into compliance reports.  Deleting or editing one of its rows changes the
    chain, so the manifest's signature covers them as it covers the tenants.

    >>> seal = QuarantineSeal().extended([(1, "2026-01-05T09:00:00.000000Z", "a.json",
    ...                                   3, None, "occurred_at", "bad time", "{}")])
    >>> seal.rows, seal.last_id, len(seal.digest)
    (1, 1, 64)
    >>> seal.extended([]) == seal
    True
    """

    rows: int = 0
    last_id: int = 0
    digest: str = ""

    def extended(self, rows: Iterable[Sequence[Any]]) -> QuarantineSeal:
        """The seal once ``rows`` (:data:`QUARANTINE_COLUMNS` values, ``id`` first, in
        ``id`` order, all after ``last_id``) are covered too: each link is
        ``SHA-256(domain + previous link + JSON of the row)``, so that the chain can
        grow with each write without reading the rows it covers already."""
        link = bytes.fromhex(self.digest)
        count, last = self.rows, self.last_id
        for row in rows:
            # a value of another type than the column's (a BLOB in SQLite) is hashed by
            # its repr: still a value, and one that differs from what was sealed
            text = orjson.dumps(list(row), default=repr)
            link = hashlib.sha256(_QUARANTINE_DOMAIN + link + text).digest()
            count += 1
            last = int(row[0])
        return QuarantineSeal(count, last, link.hex()) if count != self.rows else self

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "last_id": self.last_id, "digest": self.digest}

    @classmethod
    def from_json(cls, data: object) -> QuarantineSeal:
        """Read the manifest's ``quarantine`` field; raise ``ValueError`` if it is not one."""
        ok = (
            isinstance(data, dict)
            and set(data) == {"rows", "last_id", "digest"}
            and all(type(data[k]) is int and data[k] >= 0 for k in ("rows", "last_id"))
            and isinstance(data["digest"], str)
            and len(data["digest"]) in (0, 64)
            and all(c in "0123456789abcdef" for c in data["digest"])
        )
        if not ok:
            raise ValueError("a field is missing or of the wrong type")
        assert isinstance(data, dict)
        return cls(data["rows"], data["last_id"], data["digest"])


#: The one statement that reads the manifest and the store's version together (so that
#: the first append after an upgrade, which writes both, is seen whole or not at all).
MANIFEST_QUERY: Final = "SELECT key, value FROM store_meta WHERE key IN (?, ?)"
MANIFEST_PARAMS: Final = (MANIFEST_KEY, "store_version")


def manifest_from_rows(rows: Iterable[Sequence[Any]]) -> tuple[str | None, bool]:
    """From the rows of :data:`MANIFEST_QUERY`: the manifest's text (``None``: there is
    none) and whether the store must hold one (:func:`manifest_required`).

    >>> manifest_from_rows([("store_version", "5")])
    (None, True)
    """
    meta = {str(k): v for k, v in rows}
    text = meta.get(MANIFEST_KEY)
    return (str(text) if text else None), manifest_required(meta.get("store_version"))


#: Whether the store holds a grant or token signed by its key: only a version that
#: writes the tenant manifest signs them, and it records each in a trail (an append,
#: which writes the manifest), so a store that has one and no manifest lost it (its
#: ``store_version`` set back too), however old it claims to be.
SIGNED_ACCESS_QUERY: Final = (
    "SELECT 1 FROM access_grants WHERE signature IS NOT NULL UNION ALL "
    "SELECT 1 FROM access_tokens WHERE signature IS NOT NULL LIMIT 1"
)


def manifest_required(version: object) -> bool:
    """Whether a store whose ``store_meta.store_version`` is ``version`` must hold a
    manifest: one of :data:`STORE_VERSION` or later was made with one (or appended to
    since an upgrade), and a value that is no version at all was damaged.

    >>> manifest_required("5"), manifest_required("4"), manifest_required("x")
    (True, False, True)
    """
    text = "" if version is None else str(version)
    return not text.isdigit() or int(text) >= STORE_VERSION


_DIGEST: Final = re.compile(r"[0-9a-f]{32}")


def revoked_digest(signature: str) -> str:
    """The manifest's name for a revoked access row: 128 bits of SHA-256 over its
    signature (unique to that row's values in that store, so a later grant of the same
    role, signed at another time, is not revoked with it).

    >>> len(revoked_digest("c2lnbmF0dXJl")), revoked_digest("a") != revoked_digest("b")
    (32, True)
    """
    return hashlib.sha256(b"auditkit revoked access v1\n" + signature.encode()).hexdigest()[:32]


def listed_revocations(
    text: str | None, public_key: Any, store_id: str, *, required: bool
) -> frozenset[str] | None:
    """The revoked access rows the stored manifest ``text`` lists, or ``None`` when
    none can be ruled out: the manifest is not valid, or missing from a store that
    must hold one (``required``).  A store of an earlier version, without one, lists
    none.

    >>> listed_revocations(None, None, "s1", required=False)
    frozenset()
    >>> listed_revocations(None, None, "s1", required=True) is None
    True
    """
    if not text:
        return None if required else frozenset()
    found, why = checked_manifest(text, public_key, store_id)
    return frozenset(found.revoked or ()) if found is not None and why is None else None


def tenant_digest(store_id: str, tenant: str) -> str:
    """The manifest's name for ``tenant``: 128 bits of SHA-256 over the store id and
    the tenant id, so that equal names in two stores differ.

    >>> tenant_digest("s1", "acme") == tenant_digest("s1", "acme") != tenant_digest("s2", "acme")
    True
    >>> len(tenant_digest("s1", "acme"))
    32
    """
    return hashlib.sha256(f"{store_id}\n{tenant}".encode()).hexdigest()[:32]


@dataclass
class Manifest:
    """A tenant manifest: what its signature covers, and the signature.

    Examples
    --------
    >>> from auditkit.integrity import generate_key
    >>> key = generate_key()
    >>> m = Manifest(store_id="s1").grown({"acme": 3})
    >>> text = m.signed(key)
    >>> back = Manifest.parse(text)
    >>> back.check(key.public_key(), "s1") is None, back.tenants == m.tenants
    (True, True)
    """

    store_id: str
    tenants: dict[str, int] = field(default_factory=dict)
    timestamp: str = ""
    #: when the first manifest of a store made by an earlier version was written:
    #: tenants removed before then cannot show
    since: str | None = None
    key_id: str = ""
    signature: str = ""
    #: the quarantine rows it covers (``None``: none, as in manifests written before
    #: the quarantine was sealed, whose signed bytes stay what they were)
    quarantine: QuarantineSeal | None = None
    #: digests of the signatures of access rows revoked since (:func:`revoked_digest`;
    #: ``None``: none, as in manifests written before revocations were listed)
    revoked: tuple[str, ...] | None = None
    #: where the store's cold tier is, as ``store_meta.cold_url`` held it when the store
    #: was made (``None``: the default); recorded only when ``cold_recorded`` (manifests
    #: of an earlier version record it at their next append)
    cold_url: str | None = None
    cold_recorded: bool = False

    def body(self) -> bytes:
        """The signed bytes."""
        fields: dict[str, Any] = {
            "format": _FORMAT,
            "store_id": self.store_id,
            "timestamp": self.timestamp,
            "since": self.since,
            "tenants": self.tenants,
            "key_id": self.key_id,
        }
        if self.quarantine is not None:
            fields["quarantine"] = self.quarantine.as_json()
        if self.revoked is not None:
            fields["revoked"] = list(self.revoked)
        if self.cold_recorded:
            fields["cold_url"] = self.cold_url
        return _DOMAIN + orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)

    def grown(self, sizes: Mapping[str, int]) -> Manifest:
        """A copy listing ``sizes`` (tenant names) too; an entry never shrinks."""
        tenants = dict(self.tenants)
        for tenant, size in sizes.items():
            d = tenant_digest(self.store_id, tenant)
            tenants[d] = max(int(size), tenants.get(d, 0))
        # every field carried over but the signature, which the copy must earn again
        return replace(self, tenants=tenants, key_id="", signature="")

    def with_revoked(self, digests: Iterable[str]) -> Manifest:
        """A copy that also lists ``digests`` as revoked (sorted, each once)."""
        return replace(self, revoked=tuple(sorted({*(self.revoked or ()), *digests})))

    def signed(self, private_key: Any, *, at: datetime | None = None) -> str:
        """Sign with ``private_key`` (at ``at``, default now) and return the text to store.

        Never earlier than the manifest this one was grown from: a clock stepped back
        (NTP) must not make it look older than the checkpoints signed before the step.
        """
        moment = at or datetime.now(UTC)
        before = _instant(self.timestamp)
        self.timestamp = format_timestamp(moment if before is None else max(moment, before))
        self.key_id = key_fingerprint(private_key.public_key())
        self.signature = base64.b64encode(private_key.sign(self.body())).decode("ascii")
        out = orjson.loads(self.body()[len(_DOMAIN) :])
        out["signature"] = self.signature
        return orjson.dumps(out, option=orjson.OPT_SORT_KEYS).decode()

    @classmethod
    def parse(cls, text: str) -> Manifest:
        """Read stored text; raise ``ValueError`` saying what is wrong with it."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ValueError("it is not JSON") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"it is not a {_FORMAT} document")
        tenants = data.get("tenants")
        if not isinstance(tenants, dict):
            raise ValueError("a field is missing or of the wrong type")
        ok = (
            all(type(v) is int and v >= 0 for v in tenants.values())
            and all(isinstance(data.get(k), str) for k in ("store_id", "timestamp", "key_id"))
            and isinstance(data.get("signature"), str)
            and (data.get("since") is None or isinstance(data.get("since"), str))
        )
        if not ok:
            raise ValueError("a field is missing or of the wrong type")
        seal = data.get("quarantine")
        revoked = data.get("revoked")
        if revoked is not None and not (
            isinstance(revoked, list)
            and all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in revoked)
        ):
            raise ValueError("a field is missing or of the wrong type")
        cold = data.get("cold_url")
        if cold is not None and not isinstance(cold, str):
            raise ValueError("a field is missing or of the wrong type")
        return cls(
            store_id=data["store_id"],
            tenants=dict(tenants),
            timestamp=data["timestamp"],
            since=data.get("since"),
            key_id=data["key_id"],
            signature=data["signature"],
            quarantine=None if seal is None else QuarantineSeal.from_json(seal),
            revoked=None if revoked is None else tuple(revoked),
            cold_url=cold,
            cold_recorded="cold_url" in data,
        )

    def check(self, public_key: Any, store_id: str) -> str | None:
        """Why this manifest is not one the holder of ``public_key`` signed for the
        store ``store_id``, or ``None``."""
        if self.store_id != store_id:
            return f"it belongs to store {self.store_id!r}, not {store_id!r}"
        if self.key_id != key_fingerprint(public_key):
            return f"it is signed by key {self.key_id[:16]}, not the trusted one"
        try:
            public_key.verify(decode_signature(self.signature), self.body())
        except Exception:
            return "its signature does not match its contents"
        return None


#: How much earlier than the newest checkpoint a manifest may say it was signed: the
#: clocks of two appenders on one PostgreSQL database may differ by this much.
CLOCK_SKEW: Final = timedelta(minutes=5)


def _stale(signed_at: str, newest: str) -> bool:
    """Whether a manifest signed at ``signed_at`` predates a checkpoint of ``newest``
    by more than :data:`CLOCK_SKEW` (unreadable times make no such claim).

    >>> _stale("2026-01-05T09:00:00.000000Z", "2026-01-05T09:04:00.000000Z")
    False
    >>> _stale("2026-01-05T09:00:00.000000Z", "2026-01-05T10:00:00.000000Z")
    True
    """
    a, b = _instant(signed_at), _instant(newest)
    return a is not None and b is not None and a < b - CLOCK_SKEW


def _instant(text: str) -> datetime | None:
    """An RFC 3339 time of a signed document, or ``None`` when there is none."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


#: Manifests checked lately (the API checks one per page): text, key and store -> result.
_CHECKED: dict[tuple[str, str, str], tuple[Manifest | None, str | None]] = {}
_CHECKED_KEPT: Final = 8
_CHECKED_LOCK = threading.Lock()


def checked_manifest(
    text: str, public_key: Any, store_id: str
) -> tuple[Manifest | None, str | None]:
    """The parsed manifest and why it is not valid (``None``: it is), remembered."""
    key = (text, key_fingerprint(public_key), store_id)
    with _CHECKED_LOCK:
        if key in _CHECKED:
            return _CHECKED[key]
    result: tuple[Manifest | None, str | None]
    try:
        manifest = Manifest.parse(text)
    except ValueError as exc:
        result = (None, str(exc))
    else:
        result = (manifest, manifest.check(public_key, store_id))
    with _CHECKED_LOCK:
        if len(_CHECKED) >= _CHECKED_KEPT:
            _CHECKED.clear()
        _CHECKED[key] = result
    return result


def check_tenant_manifest(
    text: str | None,
    public_key: Any,
    store_id: str,
    sizes: Mapping[str, int],
    *,
    only: set[str] | None = None,
    named: Set[str] = frozenset(),
    newest: str | None = None,
    required: bool = False,
) -> tuple[list[Problem], list[str]]:
    """Problems and notes from the stored manifest ``text`` against ``sizes``, the
    newest signed tree size of each tenant present.  ``only``: the tenants verified
    (default: every tenant, so that a listed tenant that is gone is named).
    ``named``: tenants that other problems name already (a ``tenant_id`` turned into
    bytes is not present by name, but is not gone unseen either).  ``newest``: the
    time of the newest valid checkpoint of the tenants verified, when every appender
    writes the manifest: every append signs it after its checkpoints, so a manifest
    older than that (beyond :data:`CLOCK_SKEW`) is an earlier copy put back, which
    would hide the tenants made since.  ``required``: the store's version says it holds
    a manifest (made with one, or appended to since an upgrade), so that none is a
    removal rather than an older store."""
    if not text and required:
        return [
            Problem(
                ProblemKind.MANIFEST_MISSING,
                "",
                None,
                None,
                f"the signed tenant manifest (store_meta {MANIFEST_KEY!r}) was removed: this "
                "store has held one since it was made (its version, or the access rows its "
                "key signed, say so), and a whole tenant removed with it would not show",
            )
        ], []
    if not text:
        if any(sizes.values()):
            return [], [
                "the store has no signed tenant manifest (made by an earlier auditkit and not "
                "appended to since, or the manifest was removed): a whole tenant removed from "
                "the database would not show; keep `auditkit checkpoint` files outside the store"
            ]
        return [], []
    manifest, why = checked_manifest(text, public_key, store_id)
    if why is not None or manifest is None:
        return [
            Problem(
                ProblemKind.BAD_SIGNATURE,
                "",
                None,
                None,
                f"the signed tenant manifest (store_meta {MANIFEST_KEY!r}) is not valid: {why}",
            )
        ], []
    problems: list[Problem] = []
    if newest is not None and _stale(manifest.timestamp, newest):
        problems.append(
            Problem(
                ProblemKind.ROLLBACK,
                "",
                None,
                None,
                f"the signed tenant manifest was signed at {manifest.timestamp}, before the "
                f"newest checkpoint ({newest}), though every append signs it after its "
                "checkpoints: an earlier copy was put back (tenants made since are not listed)",
            )
        )
    accounted = {tenant_digest(store_id, t) for t in named}
    present = {tenant_digest(store_id, t): t for t in sizes}
    wanted = None if only is None else {tenant_digest(store_id, t) for t in only}
    for digest, listed in sorted(manifest.tenants.items()):
        if wanted is not None and digest not in wanted:
            continue
        tenant = present.get(digest)
        if tenant is None:
            if listed and digest not in accounted:
                problems.append(
                    Problem(
                        ProblemKind.VANISHED,
                        f"#{digest[:12]}",
                        None,
                        None,
                        f"the tenant manifest signed at {manifest.timestamp} lists a tenant "
                        f"(name digest {digest[:12]}) with {listed} record(s) that the store "
                        "no longer holds: its events, checkpoints and tree were removed",
                    )
                )
        elif sizes[tenant] == 0 and listed:
            problems.append(
                Problem(
                    ProblemKind.VANISHED,
                    tenant,
                    None,
                    None,
                    f"the tenant manifest signed at {manifest.timestamp} lists it with {listed} "
                    "record(s), but no signed tree of it is left: its checkpoints were removed",
                )
            )
        elif sizes[tenant] < listed:
            problems.append(
                Problem(
                    ProblemKind.ROLLBACK,
                    tenant,
                    sizes[tenant],
                    None,
                    f"the newest signed tree has {sizes[tenant]} record(s) but the tenant "
                    f"manifest signed at {manifest.timestamp} says {listed}: its newest "
                    "checkpoints (and records) were removed",
                )
            )
    notes = []
    if manifest.since is not None:
        notes.append(
            f"the set of tenants is signed since {manifest.since} (the store was made by an "
            "earlier auditkit): a tenant removed before then would not show"
        )
    return problems, notes


def check_quarantine(
    manifest: Manifest | None, rows: Iterable[Sequence[Any]]
) -> tuple[list[Problem], list[str]]:
    """Problems and notes from the quarantine's ``rows`` (:data:`QUARANTINE_COLUMNS`
    values, in ``id`` order) against what the valid signed ``manifest`` says of them.

    The rows it covers (``id`` up to its ``last_id``) must be the ones sealed: one
    deleted, edited, or added among them is ``quarantine_altered``.  Rows after them
    were written since by a writer without the key (or added by hand): a note, since
    nothing signed vouches for them.

    >>> row = (1, "2026-01-05T09:00:00.000000Z", "a.json", 3, None, None, "bad", "{}")
    >>> m = Manifest("s1", quarantine=QuarantineSeal().extended([row]))
    >>> check_quarantine(m, [row])
    ([], [])
    >>> [p.kind.value for p in check_quarantine(m, [])[0]]
    ['quarantine_altered']
    """
    seal = manifest.quarantine if manifest is not None else None
    if seal is None:
        count = sum(1 for _ in rows)
        if not count:
            return [], []
        return [], [
            f"the quarantine holds {count} record(s) that no signed manifest covers "
            "(kept before this version of auditkit sealed them, or by a writer without the "
            "key): their removal would not show; the next append or ingest seals them"
        ]
    later = 0

    def sealed() -> Iterator[Sequence[Any]]:
        nonlocal later
        for row in rows:
            if _row_id(row) <= seal.last_id:
                yield row
            else:
                later += 1

    found = QuarantineSeal().extended(sealed())
    problems: list[Problem] = []
    if found != seal:
        assert manifest is not None
        if found.rows < seal.rows:
            gone = seal.rows - found.rows
            what = f"{gone} of them {'was' if gone == 1 else 'were'} deleted"
        elif found.rows > seal.rows:
            what = f"{found.rows - seal.rows} record(s) were added among them"
        else:
            what = "their contents were changed"
        problems.append(
            Problem(
                ProblemKind.QUARANTINE_ALTERED,
                "",
                None,
                None,
                f"the tenant manifest signed at {manifest.timestamp} seals {seal.rows} "
                f"quarantined record(s) (ids up to {seal.last_id}); {what}. The quarantine "
                "is the evidence of the input that was refused, and its counts go into the "
                "compliance reports",
            )
        )
    notes = []
    if later:
        notes.append(
            f"{later} quarantined record(s) were kept after the signed manifest (by a writer "
            "that may not write it, or added by hand): nothing signed vouches for them"
        )
    return problems, notes


def _row_id(row: Sequence[Any]) -> int:
    """A quarantine row's id; one that is not an integer sorts past every seal, so
    that it is not taken for a sealed row.  The table's id is an integer on both
    backends (SQLite: the rowid), so only a view put in the table's place can answer
    otherwise."""
    value = row[0]
    return value if type(value) is int else 2**63


def cold_tier_problem(manifest: Manifest | None, stored: str | None) -> str | None:
    """Why ``stored`` (``store_meta.cold_url`` as the database holds it, ``None``: none)
    is not the cold tier the signed ``manifest`` names, or ``None`` (also when the
    manifest records none: made by an earlier version, not yet appended to).

    >>> m = Manifest("s1", cold_url="s3://audit/cold", cold_recorded=True)
    >>> cold_tier_problem(m, "s3://audit/cold") is None
    True
    >>> cold_tier_problem(m, "s3://elsewhere")
    "store_meta names the cold tier 's3://elsewhere', but the signed manifest names 's3://audit/cold'"
    """
    if manifest is None or not manifest.cold_recorded or stored == manifest.cold_url:
        return None

    def shown(url: str | None) -> str:  # credentials in a URL are never printed
        return "none (the default)" if url is None else repr(display_url(url))

    return (
        f"store_meta names the cold tier {shown(stored)}, but the signed "
        f"manifest names {shown(manifest.cold_url)}"
    )
