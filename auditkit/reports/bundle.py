"""Signed evidence bundles: the report, CSV evidence per section, a signed manifest.

A bundle is a zip holding ``report.html``, ``report.json``, ``report.md``,
``evidence/<section>/<table>.csv`` (every row; the populations and samples of
``evidence/samples/`` also as ``.xlsx``), ``evidence/controls.csv``,
``checkpoints.json`` (the tenants' signed checkpoints, to re-verify the store later),
``manifest.json`` (SHA-256 and size of every one of those files), ``manifest.sig``
(the Ed25519 signature of ``manifest.json``'s exact bytes, base64) and
``public_key.pem``.  The manifest names the key by fingerprint, so the bundle is
tamper-evident on its own: :func:`verify_bundle` names each altered, missing or extra
file.  No private key material is ever written.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl

from auditkit.errors import IntegrityError, UsageError
from auditkit.export.formats import spreadsheet_safe
from auditkit.integrity import key_fingerprint, load_public_key, public_key_pem
from auditkit.reports.model import Report

__all__ = ["BUNDLE_FORMAT", "BundleProblem", "BundleVerification", "render_bundle", "verify_bundle"]

BUNDLE_FORMAT: Final = "auditkit-evidence-bundle/1"
MANIFEST: Final = "manifest.json"
SIGNATURE: Final = "manifest.sig"
PUBLIC_KEY: Final = "public_key.pem"
TIMESTAMP: Final = "manifest.tsr"
_META: Final = frozenset({MANIFEST, SIGNATURE, PUBLIC_KEY, TIMESTAMP})
#: Largest member read from a bundle, and largest manifest: a bundle is evidence from
#: outside, so a zip bomb or an oversized member is named, never inflated into memory.
MAX_MEMBER_BYTES: Final = 2 * 1024**3
MAX_MANIFEST_BYTES: Final = 64 * 1024**2


def _cells(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as plain cells, as formula-safe as the exports: lists joined,
    timestamps in RFC 3339, and text from events that a spreadsheet would run
    (``=HYPERLINK(...)``, ``+``, ``-``, ``@``) prefixed with ``'``."""
    conv = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List | pl.Array):
            col = col.cast(pl.List(pl.String)).list.join(" ")
        elif isinstance(dtype, pl.Struct | pl.Object):
            col = col.map_elements(str, return_dtype=pl.String)
        elif isinstance(dtype, pl.Datetime):
            col = col.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        elif dtype not in (pl.String, pl.Categorical, pl.Enum):
            conv.append(col)
            continue
        conv.append(spreadsheet_safe(col.cast(pl.String)).alias(name))
    return frame.select(conv)


#: Every CSV of a bundle starts with a UTF-8 byte order mark, so that Excel (which reads
#: a CSV without one in the machine's legacy code page) shows names as written; Python
#: reads them with ``encoding="utf-8-sig"``, Polars and pandas skip it by themselves.
BOM: Final = b"\xef\xbb\xbf"


def _csv(frame: pl.DataFrame) -> bytes:
    return BOM + _cells(frame).write_csv().encode()


#: Rows per XLSX sheet (Excel holds 1,048,576 with the header).
XLSX_ROWS: Final = 1_000_000
# characters XML 1.0 cannot hold (kept out of a cell; the CSV has the value as it is)
_XML_BAD: Final = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
_XLSX_TYPES: Final = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}</Types>"
)
_XLSX_SHEET_TYPE: Final = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_XLSX_RELS: Final = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)


def _xml_text(col: pl.Expr) -> pl.Expr:
    return (
        col.str.replace_all(_XML_BAD, "")
        .str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


#: Excel's day 0 (serial dates count days from it; 1900 leap-year bug included).
_EXCEL_EPOCH: Final = datetime(1899, 12, 30)
_XLSX_STYLES: Final = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss.000"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _xlsx_cells(frame: pl.DataFrame) -> tuple[pl.DataFrame, frozenset[str]]:
    """The cells of a sheet: as :func:`_cells`, but timestamps as Excel serial dates (UTC,
    to the millisecond; the CSV keeps the microseconds) so that they sort and filter as
    dates; returns the names of those date columns."""
    dates = frozenset(n for n, t in frame.schema.items() if isinstance(t, pl.Datetime))
    cells = _cells(frame.drop(dates)) if dates else _cells(frame)
    serial = [
        (
            (
                pl.col(n).dt.replace_time_zone(None).dt.cast_time_unit("us")
                - pl.lit(_EXCEL_EPOCH).dt.cast_time_unit("us")
            ).dt.total_microseconds()
            / 86_400_000_000
        ).alias(n)
        for n in dates
    ]
    if serial:
        cells = pl.concat([cells, frame.select(serial)], how="horizontal").select(frame.columns)
    return cells, dates


def _sheet_xml(cells: pl.DataFrame, dates: frozenset[str] = frozenset()) -> bytes:
    """One worksheet: a header row, then every row; numbers as numbers, timestamps as
    dates, the rest as inline strings (no shared-string table: built column-wise by
    Polars, not per cell)."""
    parts = []
    for name, dtype in cells.schema.items():
        col = pl.col(name)
        if name in dates:
            cell = pl.concat_str(pl.lit('<c s="1"><v>'), col.cast(pl.String), pl.lit("</v></c>"))
        elif dtype.is_numeric():
            cell = pl.concat_str(pl.lit("<c><v>"), col.cast(pl.String), pl.lit("</v></c>"))
        else:
            text = _xml_text(col.cast(pl.String))
            cell = pl.concat_str(
                pl.lit('<c t="inlineStr"><is><t xml:space="preserve">'),
                text,
                pl.lit("</t></is></c>"),
            )
        parts.append(cell.fill_null("<c/>"))
    rows = cells.select(pl.concat_str(pl.lit("<row>"), *parts, pl.lit("</row>")).alias("row"))[
        "row"
    ]
    header = "".join(
        f'<c t="inlineStr"><is><t>{escape(str(n))}</t></is></c>' for n in cells.columns
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData><row>{header}</row>" + "".join(rows.to_list()) + "</sheetData></worksheet>"
    ).encode("utf-8")


def _xlsx(frame: pl.DataFrame, created: datetime) -> bytes:
    """A minimal Office Open XML workbook of ``frame`` (a sheet per :data:`XLSX_ROWS` rows),
    readable by Excel, LibreOffice and pandas; the same frame gives the same bytes."""
    cells, dates = _xlsx_cells(frame)
    parts = max(1, -(-cells.height // XLSX_ROWS))
    names = [f"part {i + 1}" if parts > 1 else "population" for i in range(parts)]
    sheets = "".join(
        f'<sheet name="{n}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names)
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<sheets>{sheets}</sheets></workbook>"
    )
    rels = "".join(
        f'<Relationship Id="rId{i + 1}" Type="http://schemas.openxmlformats.org/'
        f'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
        for i in range(parts)
    ) + (
        f'<Relationship Id="rId{parts + 1}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    )
    members = {
        "[Content_Types].xml": _XLSX_TYPES.format(
            sheets="".join(_XLSX_SHEET_TYPE.format(n=i + 1) for i in range(parts))
        ).encode(),
        "_rels/.rels": _XLSX_RELS.encode(),
        "xl/workbook.xml": workbook.encode(),
        "xl/styles.xml": _XLSX_STYLES.encode(),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            f'relationships">{rels}</Relationships>'
        ).encode(),
    }
    for i in range(parts):
        members[f"xl/worksheets/sheet{i + 1}.xml"] = _sheet_xml(
            cells.slice(i * XLSX_ROWS, XLSX_ROWS), dates
        )
    out = io.BytesIO()
    stamp = created.timetuple()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out.getvalue()


def _evidence_files(report: Report) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for s in report.sections:
        for t in s.tables:
            files[f"evidence/{s.id}/{t.name}.csv"] = _csv(t.frame)
            if s.id == "samples":  # populations and samples for the auditor's own selection
                files[f"evidence/{s.id}/{t.name}.xlsx"] = _xlsx(t.frame, report.generated_at)
    refs = pl.DataFrame(
        [
            (
                c.control_id,
                c.status.value,
                e.section,
                e.table,
                e.note,
                e.count,
                " ".join(e.event_ids),
            )
            for c in report.controls
            for e in c.evidence
        ],
        schema={
            "control": pl.String,
            "status": pl.String,
            "section": pl.String,
            "table": pl.String,
            "note": pl.String,
            "count": pl.Int64,
            "event_ids": pl.String,
        },
        orient="row",
    )
    files["evidence/control_evidence.csv"] = _csv(refs)
    return files


def render_bundle(report: Report, *, signing_key: Any | None = None, **options: Any) -> bytes:
    """The report as a signed evidence bundle (zip bytes).

    Parameters
    ----------
    report
        The report (built from a store, whose key signs, unless ``signing_key``).
    signing_key
        An Ed25519 private key to sign with instead of the store's.

    Examples
    --------
    >>> import tempfile, os
    >>> from auditkit.integrity import generate_key
    >>> from auditkit.frame import events_to_frame
    >>> from auditkit.reports import build_report_from_frame
    >>> df = events_to_frame([{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                        "action": "user.login", "actor": {"id": "u1"}}])
    >>> path = os.path.join(tempfile.mkdtemp(), "b.zip")
    >>> _ = build_report_from_frame(df, framework="gdpr").write(
    ...     path, format="bundle", signing_key=generate_key(), charts=False)
    >>> verify_bundle(path).ok
    True
    """
    from auditkit.reports.render_html import render_html
    from auditkit.reports.render_json import render_csv, render_json
    from auditkit.reports.render_md import render_md

    sign: Callable[[bytes], bytes]
    if signing_key is not None:
        public = signing_key.public_key()
        sign = signing_key.sign
    elif report.signer is not None and report.public_key_pem:
        public = load_public_key(report.public_key_pem)
        sign = report.signer
    else:
        raise UsageError(
            "an evidence bundle must be signed: build the report from a store "
            "whose signing key is at hand, or pass signing_key="
        )
    files: dict[str, bytes] = {
        "report.html": render_html(report, **options),
        "report.json": render_json(report),
        "report.md": render_md(report),
        "evidence/controls.csv": BOM + render_csv(report),
        **_evidence_files(report),
    }
    files["reperform/reperform.py"] = (
        resources.files("auditkit.reports").joinpath("reperform.py").read_bytes()
    )
    if report.checkpoints_doc is not None:
        files["checkpoints.json"] = (
            orjson.dumps(dict(report.checkpoints_doc), option=orjson.OPT_INDENT_2) + b"\n"
        )
    fingerprint = key_fingerprint(public)
    manifest = {
        "format": BUNDLE_FORMAT,
        "created_at": report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generator": f"auditkit {report.tool_version}",
        "framework": report.framework,
        "tenants": list(report.tenants),
        "period": str(report.period),
        "period_bounds": {
            "time_zone": "UTC",
            "start_at": f"{report.period.start_at:%Y-%m-%dT%H:%M:%SZ}",
            "end_before": f"{report.period.end_exclusive:%Y-%m-%dT%H:%M:%SZ}",
        },
        "store_id": report.store_id,
        "events": report.events,
        "prepared_by": report.prepared_by(),
        "integrity": report.integrity_at_generation(),
        "status": report.status.value,
        "counts": report.counts(),
        "signature": {
            "algorithm": "Ed25519",
            "key_fingerprint": fingerprint,
            "public_key": PUBLIC_KEY,
            "signature": SIGNATURE,
            "signed": f"the exact bytes of {MANIFEST}",
        },
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(files.items())
        },
    }
    manifest_bytes = orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"
    signature = base64.b64encode(bytes(sign(manifest_bytes))) + b"\n"
    stamped: list[tuple[str, bytes]] = []
    if report.timestamp_url:
        from auditkit.reports.timestamps import request_timestamp

        token, _ = request_timestamp(
            report.timestamp_url, manifest_bytes, roots=report.timestamp_roots or ""
        )
        stamped.append((TIMESTAMP, token))
    stamp = report.generated_at.timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in [
            *sorted(files.items()),
            (MANIFEST, manifest_bytes),
            (SIGNATURE, signature),
            (PUBLIC_KEY, public_key_pem(public).encode()),
            *stamped,
        ]:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return out.getvalue()


@dataclass(frozen=True)
class BundleProblem:
    """One thing wrong with a bundle.

    ``kind`` is ``altered``, ``missing``, ``extra``, ``duplicate``, ``bad_signature``,
    ``wrong_key``, ``oversized``, ``bad_timestamp`` or ``malformed``; ``path`` names the
    file inside the zip.
    """

    kind: str
    path: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form.

        Examples
        --------
        >>> v = BundleVerification(problems=(BundleProblem("missing", "report.html", "gone"),))
        >>> v.to_dict()["problems"]
        [{'kind': 'missing', 'path': 'report.html', 'detail': 'gone'}]
        """
        return {"kind": self.kind, "path": self.path, "detail": self.detail}


@dataclass(frozen=True)
class BundleVerification:
    """The result of :func:`verify_bundle`: ``ok`` when nothing is wrong.

    Examples
    --------
    >>> BundleVerification(problems=(BundleProblem("missing", "report.html", "gone"),)).ok
    False
    """

    problems: tuple[BundleProblem, ...] = ()
    files_checked: int = 0
    key_fingerprint: str | None = None
    key_source: str | None = None
    manifest: dict[str, Any] | None = None
    anchored: bool = False
    #: The verified RFC 3161 time-stamp, in words (when roots were given and it held).
    timestamp: str | None = None
    #: The bundle holds a time-stamp (``manifest.tsr``) that was not checked: no
    #: time-stamping authority roots were given.
    timestamp_unchecked: bool = False

    @property
    def ok(self) -> bool:
        """True when every file matches a manifest whose signature holds under the key used.

        Without a trusted key (``anchored`` false) that key is the bundle's own, which
        anyone who edits the bundle can replace: see :attr:`status`.
        """
        return not self.problems

    @property
    def status(self) -> str:
        """``INTACT`` (checked against a trusted key), ``TAMPERED`` or ``UNANCHORED``.

        Examples
        --------
        >>> BundleVerification(files_checked=3).status
        'UNANCHORED'
        >>> BundleVerification(files_checked=3, anchored=True).status
        'INTACT'
        """
        if self.problems:
            return "TAMPERED"
        return "INTACT" if self.anchored else "UNANCHORED"

    def raise_for_problems(self) -> BundleVerification:
        """Raise :class:`~auditkit.errors.IntegrityError` if anything is wrong, else return self.

        Examples
        --------
        >>> v = BundleVerification(problems=(BundleProblem("missing", "report.html", "gone"),))
        >>> v.raise_for_problems()
        Traceback (most recent call last):
        ...
        auditkit.errors.IntegrityError: TAMPERED: 1 problem(s) (? report of , period ?)
          missing       report.html: gone
        """
        if self.problems:
            raise IntegrityError(self.summary())
        return self

    def summary(self) -> str:
        """A few lines for people.

        Examples
        --------
        >>> v = BundleVerification(problems=(BundleProblem("missing", "report.html", "gone"),))
        >>> print(v.summary().splitlines()[1])
          missing       report.html: gone
        """
        m = self.manifest or {}
        scope = (
            f"{m.get('framework', '?')} report of {', '.join(m.get('tenants', []))}, "
            f"period {m.get('period', '?')}"
        )
        if any(p.kind in ("bad_signature", "wrong_key") for p in self.problems):
            scope = f"as its unverified manifest claims: {scope}"
        if self.ok and self.anchored:
            return (
                f"INTACT: {self.files_checked} file(s) match the signed manifest ({scope}); "
                f"signed by key {self.key_fingerprint} from {self.key_source}"
            )
        if self.ok:
            return (
                f"UNANCHORED: {self.files_checked} file(s) match a manifest signed by key "
                f"{self.key_fingerprint}, but that key came from {self.key_source}, and "
                f"anyone who edits a bundle can re-sign it with their own key ({scope}); "
                "verify with --public-key FILE (the store's public key, kept apart) or "
                "--store STORE"
            )
        lines = [f"TAMPERED: {len(self.problems)} problem(s) ({scope})"]
        lines += [f"  {p.kind:<13} {p.path or '-'}: {p.detail}" for p in self.problems]
        return "\n".join(lines)

    def not_checked(self) -> list[str]:
        """What the bundle holds that this verification did not check, one line each
        (``not checked: ...``, as ``auditkit verify`` words them).

        Examples
        --------
        >>> print(BundleVerification(timestamp_unchecked=True).not_checked()[0])
        ... # doctest: +NORMALIZE_WHITESPACE
        not checked: the bundle holds an RFC 3161 time-stamp (manifest.tsr) that was not
        verified; check it with --timestamp-roots FILE (the time-stamping authority's root
        certificates, PEM)
        """
        if not self.timestamp_unchecked:
            return []
        return [
            f"not checked: the bundle holds an RFC 3161 time-stamp ({TIMESTAMP}) that was not "
            "verified; check it with --timestamp-roots FILE (the time-stamping authority's "
            "root certificates, PEM)"
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (what ``auditkit report verify --json`` prints)."""
        return {
            "ok": self.ok,
            "status": self.status,
            "anchored": self.anchored,
            "files_checked": self.files_checked,
            "key_fingerprint": self.key_fingerprint,
            "key_source": self.key_source,
            "problems": [p.to_dict() for p in self.problems],
            "timestamp": self.timestamp,
            "timestamp_unchecked": self.timestamp_unchecked,
            "not_checked": self.not_checked(),
            "manifest": {k: v for k, v in (self.manifest or {}).items() if k != "files"},
        }


def _check_signature(
    manifest_bytes: bytes, sig_b64: bytes | None, public: Any, expected_fp: str | None
) -> list[BundleProblem]:
    from cryptography.exceptions import InvalidSignature

    problems = []
    fp = key_fingerprint(public)
    if expected_fp and fp != expected_fp:
        problems.append(
            BundleProblem(
                "wrong_key",
                PUBLIC_KEY,
                f"manifest names key {expected_fp[:16]}…, the verifying key is {fp[:16]}…",
            )
        )
    if sig_b64 is None:
        return [*problems, BundleProblem("missing", SIGNATURE, "the manifest is not signed")]
    try:
        public.verify(base64.b64decode(sig_b64.strip(), validate=True), manifest_bytes)
    except (InvalidSignature, ValueError):
        problems.append(
            BundleProblem(
                "bad_signature",
                MANIFEST,
                f"the signature does not match manifest.json under key "
                f"{fp[:16]}… (manifest or signature changed)",
            )
        )
    return problems


def _enclosed_key(pem: bytes | None) -> str | None:
    """The fingerprint of the key in a bundle's ``public_key.pem`` (None: absent or unreadable)."""
    if pem is None:
        return None
    try:
        return key_fingerprint(load_public_key(pem))
    except ValueError:
        return None


def _too_big(name: str, what: str, limit: int, signed: bool) -> BundleProblem:
    if signed:
        return BundleProblem("altered", name, f"{what}; the signed manifest gives {limit:,}")
    return BundleProblem("oversized", name, f"{what}, over the limit of {limit:,}")


def verify_bundle(
    path: str | os.PathLike[str],
    public_key: Any | None = None,
    *,
    timestamp_roots: str | os.PathLike[str] | None = None,
) -> BundleVerification:
    """Check an evidence bundle: signature of the manifest, and every file against it.

    Parameters
    ----------
    path
        The bundle (zip).
    public_key
        The key to trust (PEM text or bytes, a PEM file path, or a key object).  Without
        it the bundle's own ``public_key.pem`` is used, which proves the bundle is unchanged
        since it was signed, not who signed it: compare the fingerprint with the store's.
    timestamp_roots
        PEM root certificates of the time-stamping authority: the bundle's RFC 3161
        time-stamp (``manifest.tsr``) must then be there and cover ``manifest.json``
        (a ``bad_timestamp`` problem otherwise).

    Examples
    --------
    >>> verify_bundle("/nonexistent/bundle.zip")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: /nonexistent/bundle.zip: cannot read the bundle: ...
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"{p}: cannot read the bundle: {exc.strerror}") from exc
    trusted = None
    if public_key is not None:
        try:
            if isinstance(public_key, os.PathLike) or (
                isinstance(public_key, str) and "BEGIN" not in public_key
            ):
                public_key = Path(public_key).read_text()
            trusted = (
                load_public_key(public_key) if isinstance(public_key, str | bytes) else public_key
            )
        except (OSError, ValueError) as exc:
            raise UsageError(f"public key: expected an Ed25519 public key (PEM): {exc}") from exc
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return BundleVerification(
            (BundleProblem("malformed", None, f"{p.name} is not a zip file"),)
        )
    problems: list[BundleProblem] = []
    names = [i.filename for i in z.infolist()]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            BundleProblem(
                "duplicate",
                dup,
                "the zip holds this name more than once (a second copy was appended)",
            )
        )

    def read(name: str, limit: int | None = None, signed: bool = False) -> bytes | None:
        limit = MAX_MEMBER_BYTES if limit is None else limit
        try:
            info = z.getinfo(name)
        except KeyError:
            return None
        if info.file_size > limit:
            problems.append(
                _too_big(name, f"{info.file_size:,} bytes when unpacked", limit, signed)
            )
            return None
        try:
            with z.open(info) as member:  # never trust the header's size: read one more
                data = member.read(limit + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # damaged member
            problems.append(BundleProblem("altered", name, f"cannot be read: {exc}"))
            return None
        if len(data) > limit:
            problems.append(
                _too_big(name, f"more than {limit:,} bytes when unpacked", limit, signed)
            )
            return None
        return data

    manifest_bytes = read(MANIFEST, MAX_MANIFEST_BYTES)
    if manifest_bytes is None:
        return BundleVerification(
            (*problems, BundleProblem("missing", MANIFEST, "no manifest: not a bundle"))
        )
    try:
        manifest = orjson.loads(manifest_bytes)
        files = manifest["files"]
        expected_fp = manifest["signature"]["key_fingerprint"]
        if manifest.get("format") != BUNDLE_FORMAT or not isinstance(files, dict):
            raise ValueError(manifest.get("format"))
        for name, meta in files.items():
            if not (
                isinstance(meta, dict)
                and isinstance(meta.get("sha256"), str)
                and len(meta["sha256"]) == 64
                and isinstance(meta.get("size", 0), int)
                and not isinstance(meta.get("size", 0), bool)
            ):
                raise ValueError(
                    f"entry {name!r} must be an object with a 64-hex 'sha256' and an integer 'size'"
                )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        return BundleVerification(
            (
                *problems,
                BundleProblem(
                    "malformed", MANIFEST, f"expected a {BUNDLE_FORMAT} manifest ({exc})"
                ),
            )
        )
    if trusted is None:
        pem = read(PUBLIC_KEY)
        if pem is None:
            problems.append(
                BundleProblem("missing", PUBLIC_KEY, "no public key to verify with; pass one")
            )
            public, source = None, None
        else:
            try:
                public, source = (
                    load_public_key(pem),
                    f"the bundle's {PUBLIC_KEY} (not independent)",
                )
            except ValueError as exc:
                problems.append(BundleProblem("malformed", PUBLIC_KEY, str(exc)))
                public, source = None, None
    else:
        public, source = trusted, "the given public key"
        pem = read(PUBLIC_KEY)
        enclosed = _enclosed_key(pem)
        # a manifest naming another key is already wrong_key below; here the manifest is
        # the signer's, but the key file beside it (the one OpenSSL steps use) is not
        if expected_fp == key_fingerprint(trusted) and enclosed != expected_fp:
            problems.append(
                BundleProblem(
                    "missing" if pem is None else "altered",
                    PUBLIC_KEY,
                    "absent: the bundle's own key file, which its OpenSSL steps use, is gone"
                    if pem is None
                    else f"holds key {(enclosed or 'nothing readable')[:16]}…, not the signing "
                    f"key {key_fingerprint(trusted)[:16]}… given: whoever checks the bundle "
                    "with its own key file would be misled",
                )
            )
    if public is not None:
        problems += _check_signature(manifest_bytes, read(SIGNATURE), public, expected_fp)
    checked = 0
    for name, meta in sorted(files.items()):
        size = meta.get("size")
        got = (
            read(name, min(size, MAX_MEMBER_BYTES), signed=size < MAX_MEMBER_BYTES)
            if isinstance(size, int)
            else read(name)
        )
        if got is None and name in names:
            continue  # named above: oversized or unreadable
        if got is None:
            problems.append(
                BundleProblem("missing", name, "listed in the manifest, absent from the bundle")
            )
            continue
        checked += 1
        digest = hashlib.sha256(got).hexdigest()
        if digest != meta.get("sha256"):
            problems.append(
                BundleProblem(
                    "altered",
                    name,
                    f"SHA-256 {digest[:16]}… differs from the signed "
                    f"{str(meta.get('sha256'))[:16]}…",
                )
            )
    for name in sorted(set(names) - set(files) - _META):
        problems.append(BundleProblem("extra", name, "not listed in the signed manifest"))
    timestamp = None
    if timestamp_roots is not None:
        from auditkit.reports.timestamps import verify_timestamp

        token = read(TIMESTAMP, MAX_MANIFEST_BYTES) if TIMESTAMP in names else None
        if token is None:
            problems.append(BundleProblem("bad_timestamp", TIMESTAMP, "no time-stamp"))
        else:
            try:
                timestamp = verify_timestamp(token, manifest_bytes, roots=Path(timestamp_roots))
            except IntegrityError as exc:
                problems.append(BundleProblem("bad_timestamp", TIMESTAMP, str(exc)))
    return BundleVerification(
        tuple(problems),
        checked,
        key_fingerprint(public) if public is not None else None,
        source,
        manifest,
        anchored=trusted is not None,
        timestamp=timestamp.describe() if timestamp is not None else None,
        timestamp_unchecked=timestamp_roots is None and TIMESTAMP in names,
    )
