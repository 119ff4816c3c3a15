"""The cold tier: sealed segments of a tenant's trail as zstd Parquet files with
signed manifests, in a folder or any fsspec URL (object storage).

Layout (hive-partitioned, so any Parquet engine reads it)::

    COLD/tenant=<tenant>/month=<YYYY-MM>/seg-<first seq>-<end seq>.parquet
    COLD/tenant=<tenant>/month=<YYYY-MM>/seg-<first seq>-<end seq>.manifest.json

``<tenant>`` is the tenant's name percent-encoded; when ``tenant=<that>`` would not fit
in a file name (255 bytes), a readable prefix of it, ``%7E`` and the SHA-256 of the
whole name (see :func:`tenant_partition`).  The name itself is in every row
(``tenant_id``) and in the signed manifest, and readers find a segment by the path its
seal statement records, so nothing maps the folder back to the tenant.

A segment holds the stored rows of one contiguous range ``[first_seq, end_seq)``
of one tenant, exactly as the hot tier held them (the columns of
:data:`auditkit.record.STORED_COLUMNS`, timestamps as the stored RFC 3339 text),
so their canonical bytes, and so their leaf hashes, are rebuilt the same way.
``month`` is the month of the newest ``occurred_at`` up to the segment's events in
``seq`` order: it only grows along the log, so a month is a run of seqs; an event
that arrived late sits in the month it arrived in (filter on ``occurred_at``).

Its manifest names the tenant, the range, the row count, the SHA-256 of the file,
the span of ``occurred_at``, the tree the range was sealed from (size, root) and the
roots of the perfect Merkle subtrees that cover the range, and is signed with the
store key.  The seal statement in the database (an
:class:`~auditkit.integrity.RangeStatement`) names the file and the hashes of both.

What it guarantees: writes are durable before they are trusted (a local file is
written to a temporary name, fsynced, renamed and its folder fsynced; an object
store's PUT is atomic); nothing read here is trusted: :func:`check_manifest` and
the verifier check every byte against the key and the tree.

What it trusts: nothing.  The URL of the cold tier itself comes from the database
(``store_meta``), so an attacker who changes it only makes segments look removed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import numpy as np
import orjson
import polars as pl
from cryptography.exceptions import InvalidSignature

from auditkit.errors import StoreError
from auditkit.integrity import decode_signature, key_fingerprint, key_id
from auditkit.record import STORED_COLUMNS, STORED_SCHEMA

__all__ = [
    "MANIFEST_HEADER",
    "SEGMENT_ROWS",
    "ColdTier",
    "Manifest",
    "SegmentRef",
    "check_manifest",
    "covering_subtrees",
    "decode_segment",
    "encode_segment",
    "sign_manifest",
    "stored_text_rows",
    "subtree_roots",
]

MANIFEST_HEADER: Final = b"auditkit-segment-manifest/v1\n"
#: Rows per segment at most (one verification chunk).
SEGMENT_ROWS: Final = 250_000
_SEGMENT_NAME: Final = re.compile(r"seg-(\d{12})-(\d{12})\.parquet\Z")
#: The longest file or folder name the common file systems take (bytes), and so the
#: longest partition folder name written.
NAME_MAX: Final = 255
#: Encoded bytes of a long tenant name kept readable in its shortened folder name.
_PREFIX_BYTES: Final = 100
#: Between that prefix and the hash: an escaped ``~``, which ``quote`` never writes (it
#: leaves ``~`` as it is), so no tenant's encoded name is ever a shortened one; Parquet
#: engines decode it to ``~``.
_SHORT_MARK: Final = "%7E"
_STAMP: Final = "%Y-%m-%dT%H:%M:%S%.6fZ"


# -- where segments live ----------------------------------------------------------------
class ColdTier:
    """A folder or fsspec URL holding the cold segments of one store.

    Examples
    --------
    >>> import tempfile
    >>> cold = ColdTier(tempfile.mkdtemp())
    >>> cold.put("tenant=acme/x.json", b"{}")
    >>> cold.get("tenant=acme/x.json"), cold.get("nope")
    (b'{}', None)
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._opened: tuple[Any, str, bool] | None = None

    def _open(self) -> tuple[Any, str, bool]:
        # on first use: importing fsspec costs a seventh of a second, which every load
        # of a store that has a cold tier but no segment in it would pay
        if self._opened is None:
            import fsspec

            try:
                fs, root = fsspec.core.url_to_fs(self.url)
            except (ImportError, ValueError) as exc:
                raise StoreError(f"cold tier {self.url!r}: cannot open it: {exc}") from None
            protocol = fs.protocol
            local = "file" in (protocol if isinstance(protocol, tuple) else (protocol,))
            self._opened = (fs, root.rstrip("/"), local)
        return self._opened

    @property
    def fs(self) -> Any:
        """The fsspec file system holding the tier."""
        return self._open()[0]

    @property
    def root(self) -> str:
        """The tier's root path on :attr:`fs`."""
        return self._open()[1]

    @property
    def local(self) -> bool:
        """Whether the tier is a local folder."""
        return self._open()[2]

    def _full(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def put(self, rel: str, data: bytes) -> None:
        """Write ``data`` at ``rel``, durably: on disk to a temporary name, fsync,
        rename, fsync the folder; on object storage one atomic PUT."""
        full = self._full(rel)
        try:
            if self.local:
                folder = os.path.dirname(full)
                os.makedirs(folder, exist_ok=True)
                tmp = f"{full}.tmp-{uuid.uuid4().hex[:8]}"
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, full)
                fd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            else:
                self.fs.pipe_file(full, data)
        except OSError as exc:
            raise StoreError(f"cold tier {self.url}: cannot write {rel}: {exc}") from None

    def get(self, rel: str) -> bytes | None:
        """The bytes at ``rel``, or ``None`` when there is no such file."""
        try:
            return bytes(self.fs.cat_file(self._full(rel)))
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            return None
        except OSError as exc:
            raise StoreError(f"cold tier {self.url}: cannot read {rel}: {exc}") from None

    def delete(self, rel: str) -> None:
        """Remove ``rel`` (nothing if it is already gone)."""
        try:
            self.fs.rm_file(self._full(rel))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cold tier {self.url}: cannot remove {rel}: {exc}") from None

    def partitions(self, tenant: str) -> list[str]:
        """The tenant's partition folders: :func:`tenant_partition`, and on object
        storage, for a long name, the unshortened one earlier versions wrote there
        (object keys are not cut at 255 bytes, so its segments may exist)."""
        here = tenant_partition(tenant)
        legacy = f"tenant={quote(tenant, safe='')}"
        return [here] if legacy == here or self.local else [here, legacy]

    def partition_folders(self) -> dict[str, int]:
        """Every ``tenant=`` folder at the top of the tier, with how many ``.parquet``
        files it holds (empty when the tier does not exist yet)."""
        try:
            self.fs.invalidate_cache(self.root)
            if not self.fs.exists(self.root):
                return {}
            found: dict[str, int] = {}
            for entry in self.fs.ls(self.root, detail=False):
                name = str(entry).rstrip("/").rsplit("/", 1)[-1]
                if name.startswith("tenant="):
                    files = self.fs.find(self._full(name))
                    found[name] = sum(1 for f in files if str(f).endswith(".parquet"))
            return found
        except OSError as exc:
            raise StoreError(f"cold tier {self.url}: cannot list it: {exc}") from None

    def files(self, tenant: str) -> list[str]:
        """Every file under the tenant's partitions, as paths relative to the tier."""
        found = []
        for part in self.partitions(tenant):
            base = self._full(part)
            try:
                self.fs.invalidate_cache(base)  # others write the tier too: list it afresh
                if self.fs.exists(base):
                    found.extend(self.fs.find(base))
            except OSError as exc:
                raise StoreError(f"cold tier {self.url}: cannot list {base}: {exc}") from None
        prefix = self.root + "/"
        out = []
        for p in found:
            p = str(p)
            if self.local:
                p = p.replace(os.sep, "/")
            out.append(p[len(prefix) :] if p.startswith(prefix) else p)
        return sorted(out)

    def sweep_temporary(self, tenant: str) -> int:
        """Remove temporary files a crash left half-written (never a finished file)."""
        gone = 0
        for rel in self.files(tenant):
            if ".tmp-" in rel.rsplit("/", 1)[-1]:
                self.delete(rel)
                gone += 1
        return gone


def tenant_partition(tenant: str) -> str:
    """The hive partition folder of a tenant: ``tenant=`` and its name as
    :func:`tenant_file_name` writes it (percent-encoded, shortened when it would not
    fit in a file name).  The name itself is in the segments and their signed
    manifests.

    Examples
    --------
    >>> tenant_partition("acme corp/eu")
    'tenant=acme%20corp%2Feu'
    >>> long = tenant_partition("x" * 300)
    >>> long[:12], long[107:110], len(long)
    ('tenant=xxxxx', '%7E', 174)
    >>> len(tenant_partition("テナント" * 30)) <= NAME_MAX
    True
    """
    return tenant_file_name(tenant, prefix="tenant=")


def tenant_file_name(tenant: str, *, prefix: str = "", suffix: str = "") -> str:
    """A file or folder name for ``tenant`` (with ``prefix`` and ``suffix``): the name
    percent-encoded, or when that would not fit in a file name (:data:`NAME_MAX`
    bytes), the longest prefix of the name that encodes to at most 100 bytes, ``%7E``
    and the SHA-256 of the whole name (UTF-8).  ``quote`` never writes ``%7E`` (it
    leaves ``~`` as it is), so a shortened name is never another tenant's.

    >>> tenant_file_name("acme corp", suffix=".checkpoint")
    'acme%20corp.checkpoint'
    >>> name = tenant_file_name("テナント" * 30, suffix=".checkpoint")
    >>> name[:18], name[99:102], len(name.encode())
    ('%E3%83%86%E3%83%8A', '%7E', 177)
    """
    name = f"{prefix}{quote(tenant, safe='')}{suffix}"
    if len(name) <= NAME_MAX:  # quote's output is ASCII: characters are bytes
        return name
    kept, size = [], 0
    for ch in tenant:
        enc = quote(ch, safe="")
        if size + len(enc) > _PREFIX_BYTES:
            break
        kept.append(enc)
        size += len(enc)
    digest = hashlib.sha256(tenant.encode()).hexdigest()
    return f"{prefix}{''.join(kept)}{_SHORT_MARK}{digest}{suffix}"


def segment_path(tenant: str, month: str, first: int, end: int) -> str:
    """The path of a segment file relative to the cold tier.

    Examples
    --------
    >>> segment_path("acme", "2026-01", 0, 1000)
    'tenant=acme/month=2026-01/seg-000000000000-000000001000.parquet'
    """
    return f"{tenant_partition(tenant)}/month={month}/seg-{first:012d}-{end:012d}.parquet"


def manifest_path(segment: str) -> str:
    """The manifest beside a segment file."""
    return segment[: -len(".parquet")] + ".manifest.json"


def segment_range(rel: str) -> tuple[int, int] | None:
    """``(first, end)`` from a segment file's name, if it is one."""
    m = _SEGMENT_NAME.search(rel)
    return (int(m.group(1)), int(m.group(2))) if m else None


# -- segments -----------------------------------------------------------------------------
def stored_text_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """Stored rows in the stored text form (PostgreSQL hands timestamps back as
    datetimes; the canonical bytes hold them as the stored RFC 3339 text)."""
    casts = []
    for c in ("occurred_at", "received_at"):
        if isinstance(rows.schema[c], pl.Datetime):
            casts.append(pl.col(c).dt.convert_time_zone("UTC").dt.strftime(_STAMP).alias(c))
    out = rows.with_columns(casts) if casts else rows
    return out.select(STORED_COLUMNS).cast(dict(STORED_SCHEMA))  # type: ignore[arg-type]


def encode_segment(rows: pl.DataFrame) -> bytes:
    """A segment file: the rows as zstd Parquet (deterministic for equal rows)."""
    buf = io.BytesIO()
    stored_text_rows(rows).write_parquet(buf, compression="zstd", statistics=True)
    return buf.getvalue()


def decode_segment(data: bytes) -> pl.DataFrame:
    """The stored rows of a segment file; ``ValueError`` if it is not one."""
    try:
        df = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # polars raises several kinds on damaged files
        raise ValueError(f"not a readable Parquet file ({type(exc).__name__})") from None
    if tuple(df.columns) != STORED_COLUMNS:
        raise ValueError(f"expected the stored columns, got {df.columns[:5]}...")
    try:
        return df.cast(dict(STORED_SCHEMA))  # type: ignore[arg-type]
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"a column of the wrong type: {exc}") from None


def covering_subtrees(first: int, end: int) -> list[tuple[int, int]]:
    """The perfect (aligned, power-of-two) subtrees that exactly cover ``[first, end)``.

    Examples
    --------
    >>> covering_subtrees(3, 13)
    [(3, 1), (4, 4), (8, 4), (12, 1)]
    """
    out = []
    while first < end:
        size = first & -first if first else 1 << (end - 1).bit_length()
        while first + size > end:
            size >>= 1
        out.append((first, size))
        first += size
    return out


def subtree_roots(levels: Sequence[np.ndarray], first: int, end: int) -> list[dict[str, Any]]:
    """The roots of :func:`covering_subtrees` from the levels of a tree (see
    :func:`auditkit.store._hashing.tree_levels`) that holds ``[first, end)``."""
    out = []
    for start, size in covering_subtrees(first, end):
        k = size.bit_length() - 1
        out.append({"start": start, "size": size, "root": levels[k][start >> k].tobytes().hex()})
    return out


# -- manifests ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Manifest:
    """A segment's signed description (see the module docstring)."""

    fields: dict[str, Any]
    signature: str

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {**self.fields, "signature": self.signature},
            option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2,
        )

    def signed_message(self) -> bytes:
        return MANIFEST_HEADER + orjson.dumps(self.fields, option=orjson.OPT_SORT_KEYS)


def sign_manifest(private_key: Any, fields: dict[str, Any]) -> Manifest:
    """Sign a manifest's fields with the store key (``key_id`` is added)."""
    unsigned = Manifest({**fields, "key_id": key_id(private_key)}, "")
    sig = base64.b64encode(private_key.sign(unsigned.signed_message())).decode("ascii")
    return Manifest(unsigned.fields, sig)


def check_manifest(data: bytes, public_key: Any) -> dict[str, Any]:
    """The fields of a manifest whose signature verifies with ``public_key``.

    Raises
    ------
    ValueError
        When it is not a manifest, is signed by another key, or was altered.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ValueError("the manifest is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("signature"), str):
        raise ValueError("the manifest has no signature")
    sig = doc.pop("signature")
    expected = key_fingerprint(public_key)
    kid = doc.get("key_id")
    if not isinstance(kid, str) or not kid or not expected.startswith(kid):
        raise ValueError(f"the manifest is signed by key {str(kid)[:16]}, expected {expected[:16]}")
    try:
        public_key.verify(decode_signature(sig), Manifest(doc, "").signed_message())
    except (binascii.Error, ValueError, InvalidSignature):
        raise ValueError("the manifest's signature does not match its contents") from None
    return dict(doc)


@dataclass(frozen=True)
class SegmentRef:
    """A segment as its seal statement names it (the statement's ``detail``)."""

    path: str
    sha256: str
    manifest_sha256: str
    rows: int
    lo: str | None
    hi: str | None

    def detail(self) -> str:
        return orjson.dumps(
            {"segment": self.path, "sha256": self.sha256, "manifest_sha256": self.manifest_sha256,
             "rows": self.rows, "lo": self.lo, "hi": self.hi},
            option=orjson.OPT_SORT_KEYS,
        ).decode()  # fmt: skip

    @classmethod
    def parse(cls, detail: str) -> SegmentRef | None:
        try:
            d = orjson.loads(detail)
            return cls(
                str(d["segment"]), str(d["sha256"]), str(d["manifest_sha256"]), int(d["rows"]),
                d.get("lo"), d.get("hi"),
            )  # fmt: skip
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def display_url(url: str | None) -> str | None:
    """A cold-tier URL fit to print: credentials in it are masked.

    Examples
    --------
    Everything up to the last ``@`` is masked, since a secret written into the URL
    unescaped may hold ``/`` or ``@`` (AWS secret keys often hold ``/``), and so is
    every value of a query string (SAS tokens, signatures):

    >>> display_url("s3://AKIA:secret@bucket/audit"), display_url("/data/audit.db.cold")
    ('s3://***@bucket/audit', '/data/audit.db.cold')
    >>> display_url("s3://AKIA:wJal/rXUt+nF@EMI@bucket/audit")
    's3://***@bucket/audit'
    >>> display_url("az://audit/cold?sv=2022-11-02&sig=abc%2F")
    'az://audit/cold?sv=***&sig=***'
    """
    if url is None:
        return None
    url = re.sub(r"(://)[^\s]*@", r"\1***@", url)
    return re.sub(r"([?&][^=&#\s]*=)[^&#\s]*", r"\1***", url)


def default_cold_url(store_path: str | None) -> str | None:
    """``STORE.cold`` beside a SQLite file; ``None`` for a database URL."""
    return str(Path(store_path).with_name(Path(store_path).name + ".cold")) if store_path else None
