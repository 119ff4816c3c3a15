"""Ingest files into a store: every input record is stored, skipped as a
duplicate, or quarantined with its reason; the counts add up.

>>> import tempfile, os
>>> from auditkit.store import Store
>>> d = tempfile.mkdtemp()
>>> store = Store.init(os.path.join(d, "a.db"))
>>> path = os.path.join(d, "e.ndjson")
>>> _ = open(path, "w").write(
...     '{"tenant_id":"acme","occurred_at":"2026-01-05T09:00:00Z","action":"user.login",'
...     '"actor":{"id":"u1"}}\\n{"tenant_id":"acme","action":"user.login"}\\n')
>>> result = ingest_files(store, [path])
>>> result.stored, result.quarantined, result.read
(1, 1, 2)
>>> result.problems[0].reason
"field 'occurred_at': required field is missing"
"""

from __future__ import annotations

import gc
import glob
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any

import orjson

from auditkit.errors import SchemaError, UsageError
from auditkit.ingest._base import Format
from auditkit.ingest._envelopes import envelope_input
from auditkit.ingest._flat import flat_csv_input, flat_json_input
from auditkit.ingest._inputs import (
    SKIP_EMPTY_ARCHIVE,
    SKIP_EMPTY_TAR,
    SKIP_FOLDER,
    SKIP_HIDDEN,
    SKIP_TAR_FOLDER,
    SKIP_TAR_HIDDEN,
    SKIP_TAR_SPECIAL,
    STDIN,
    Unpacked,
)
from auditkit.ingest._outcome import (
    QuarantinedRecord,
    conflicting,
    process_record,
    read_records,
)
from auditkit.ingest._parallel import ingest_parallel
from auditkit.ingest._parquet import is_parquet, parquet_bytes, parquet_empty, parquet_input
from auditkit.ingest._readers import open_binary, read_head, read_head_checked
from auditkit.ingest._sentinel import sentinel_input
from auditkit.ingest._yaml import yaml_input
from auditkit.ingest.registry import detect_format, get_format
from auditkit.record import PreparedEvent

__all__ = [
    "IngestResult",
    "QuarantinedRecord",
    "expand_paths",
    "ingest_files",
    "process_record",
]


#: why a file is skipped (``IngestResult.skipped``), and how the summary counts them
SKIP_DIGEST = "CloudTrail digest file (integrity data of the log files)"
SKIP_BATCH = "auditkit stream batch manifest (it lists the batch beside it)"
SKIP_EMPTY = "empty file (no records)"
SKIP_HIDDEN_FILE = "hidden file in a folder (.DS_Store, ._name, ...)"
SKIP_HIDDEN_FOLDER = "hidden folder (.git, .Trash, ...): not looked into"
SKIP_LINKED_FOLDER = "symbolic link to a folder: not followed (give its path to read it)"
SKIP_SPECIAL = "not a file (a named pipe, socket or device) in a folder"
SKIPPED_AS: dict[str, str] = {
    SKIP_DIGEST: "CloudTrail digest file(s), which hold no events",
    SKIP_BATCH: "stream batch manifest(s) (*.batch.json), which hold no events",
    SKIP_EMPTY: "empty file(s), which hold no records",
    SKIP_FOLDER: "folder entr(ies) of zip archives",
    SKIP_HIDDEN: "hidden or macOS metadata file(s) in zip archives",
    SKIP_EMPTY_ARCHIVE: "zip archive(s) holding no files",
    SKIP_TAR_FOLDER: "folder entr(ies) of tar archives",
    SKIP_TAR_HIDDEN: "hidden or macOS metadata file(s) in tar archives",
    SKIP_TAR_SPECIAL: "link(s) or special entr(ies) of tar archives",
    SKIP_EMPTY_TAR: "tar archive(s) holding no files",
    SKIP_HIDDEN_FILE: "hidden file(s) in folders (.DS_Store, ...)",
    SKIP_HIDDEN_FOLDER: "hidden folder(s) (.git, ...), not looked into",
    SKIP_LINKED_FOLDER: "symbolic link(s) to folders, not followed (give their path to read them)",
    SKIP_SPECIAL: "named pipe(s), socket(s) or device(s) in folders, which are not files",
}


@dataclass
class IngestResult:
    """Counts of an ingest: ``read == stored + duplicates + quarantined``."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    files: dict[str, str] = field(default_factory=dict)
    problems: list[QuarantinedRecord] = field(default_factory=list)
    quarantine_file: str | None = None
    #: files left out, with why (an empty file, a CloudTrail digest file: no events)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        """Whether every record read is accounted for."""
        return self.read == self.stored + self.duplicates + self.quarantined

    def summary(self) -> str:
        """One line for people."""
        text = (
            f"read {self.read} records from {len(self.files)} file(s): stored {self.stored}, "
            f"duplicates {self.duplicates}, quarantined {self.quarantined}"
        )
        whole = sum(1 for fmt in self.files.values() if fmt == "unknown")
        if whole:
            # such a file is one quarantined record, however many it holds
            text += f" ({whole} file(s) quarantined whole, one record each"
            text += f"; see {self.quarantine_file})" if self.quarantine_file else ")"
        elif self.quarantined and self.quarantine_file:
            text += f" (see {self.quarantine_file})"
        kinds: dict[str, int] = {}
        for why in self.skipped.values():
            kinds[why] = kinds.get(why, 0) + 1
        for why, n in kinds.items():
            text += f"; skipped {n} {SKIPPED_AS.get(why, why)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "files": self.files,
            "quarantine_file": self.quarantine_file,
            "problems": [p.to_dict() for p in self.problems[:100]],
            "skipped": self.skipped,
        }


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand directories (recursively) and glob patterns into a sorted file list;
    ``-`` (standard input) is kept as it is.  What a folder holds that is not read
    (hidden files and folders, links to folders, pipes) and what cannot be read (a
    folder without permission, a broken link) is said by :func:`expand_inputs`.

    Raises
    ------
    UsageError
        When a path matches nothing.

    Examples
    --------
    >>> expand_paths(["/nonexistent/*.json"])
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: /nonexistent/*.json: no such file
    >>> import tempfile
    >>> expand_paths([tempfile.mkdtemp()])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: ...: folder holds no files to ingest
    """
    return expand_inputs(paths)[0]


def expand_inputs(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[str], dict[str, str], list[tuple[str, str]]]:
    """:func:`expand_paths`, with what the folders hold that is left out (name: why)
    and what could not be read (name, reason: quarantined as a file is).

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> for name in ("a.json", ".DS_Store"):
    ...     _ = open(os.path.join(d, name), "w").write("{}")
    >>> os.symlink("gone.json", os.path.join(d, "b.json"))
    >>> files, skipped, problems = expand_inputs([d])
    >>> [os.path.basename(f) for f in files], list(skipped.values())
    (['a.json'], ['hidden file in a folder (.DS_Store, ._name, ...)'])
    >>> [(os.path.basename(n), why) for n, why in problems]
    [('b.json', "cannot read the file: a symbolic link to 'gone.json', which does not exist")]
    """
    out: list[str] = []
    skipped: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for p in paths:
        text = os.fspath(p)
        if text == STDIN:  # standard input, read by ingest_files
            out.append(text)
            continue
        if os.path.isdir(text):
            found: list[str] = []
            before = len(problems)
            _walk(text, found, skipped, problems)
            found.sort()
            if not found and len(problems) == before:
                raise UsageError(f"{text}: folder holds no files to ingest")
        elif os.path.exists(text):
            found = [text]
        elif os.path.islink(text):  # a broken link named: quarantined as unreadable
            problems.append((text, _broken_link(text)))
            continue
        else:
            found = sorted(f for f in glob.glob(text, recursive=True) if os.path.isfile(f))
            if not found:
                raise UsageError(f"{text}: no such file")
        out.extend(found)
    return out, skipped, problems


def _broken_link(path: str) -> str:
    try:
        target = os.readlink(path)
    except OSError:  # pragma: no cover - it was a link a moment ago
        target = "?"
    return f"cannot read the file: a symbolic link to {target!r}, which does not exist"


def _walk(
    folder: str,
    found: list[str],
    skipped: dict[str, str],
    problems: list[tuple[str, str]],
) -> None:
    """The files under ``folder`` into ``found``; hidden files and folders, links to
    folders (never followed, so a link loop cannot loop) and pipes into ``skipped``;
    a folder that cannot be listed and a broken link into ``problems``."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        problems.append((folder, f"cannot read the folder: {exc.strerror or exc}"))
        return
    for entry in entries:
        path = os.path.join(folder, entry.name)
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name.startswith("."):
                    skipped[path] = SKIP_HIDDEN_FOLDER
                else:
                    _walk(path, found, skipped, problems)
                continue
            if entry.name.startswith("."):
                skipped[path] = SKIP_HIDDEN_FILE
            elif entry.is_symlink() and not os.path.exists(path):
                problems.append((path, _broken_link(path)))
            elif entry.is_dir():  # a link to a folder
                skipped[path] = SKIP_LINKED_FOLDER
            elif entry.is_file():
                found.append(path)
            else:
                skipped[path] = SKIP_SPECIAL
        except OSError as exc:  # pragma: no cover - an entry gone while listed
            problems.append((path, f"cannot read the file: {exc.strerror or exc}"))


def _not_the_store(
    store: Any, files: list[str], quarantine: str | os.PathLike[str] | None
) -> list[str]:
    """``files`` without the store's own (a folder that holds the store as well as the
    logs): its database and journal files, its key files, and the quarantine file
    being written, which read while it grows could feed the ingest its own output."""
    own: set[str] = set()
    db = getattr(getattr(store, "backend", None), "path", None)
    if db:
        own |= {db + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    for attr in ("key_path", "public_key_path"):
        path = getattr(store, attr, None)
        if path is not None:
            own.add(os.fspath(path))
    if quarantine is not None:
        own.add(os.fspath(quarantine))
    real = {os.path.realpath(p) for p in own}
    kept = [f for f in files if os.path.realpath(f) not in real]
    if files and not kept:
        raise UsageError(
            "nothing to ingest: the files given are the store's own (its database, keys "
            "or quarantine file)"
        )
    return kept


class _Sink:
    """Where the outcome of every record goes: counts, the quarantine file and table."""

    def __init__(
        self,
        store: Any,
        result: IngestResult,
        quarantine: str | os.PathLike[str] | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.store = store
        self.result = result
        self.quarantine = quarantine
        self.progress = progress
        self.rejected: list[QuarantinedRecord] = []
        self.qfile: IO[bytes] | None = None
        #: temporary files (standard input, ...) by the name they are reported under
        self.names: dict[str, str] = {}

    def shown(self, path: str) -> str:
        """The name a file is reported under: ``<stdin>`` for standard input."""
        return self.names.get(path, path)

    def reject(self, q: QuarantinedRecord) -> None:
        if q.file in self.names:
            shown = self.names[q.file]
            q = replace(q, file=shown, reason=q.reason.replace(q.file, shown))
        result = self.result
        result.quarantined += 1
        if len(result.problems) < 10_000:
            result.problems.append(q)
        self.rejected.append(q)
        if self.qfile is None and self.quarantine is not None:
            self.qfile = open(self.quarantine, "ab")  # noqa: SIM115 - closed in close()
        if self.qfile is not None:
            self.qfile.write(orjson.dumps(q.to_dict()) + b"\n")

    def added(self, stored: int, duplicates: int) -> None:
        self.result.stored += stored
        self.result.duplicates += duplicates

    def flush_rejected(self) -> None:
        if self.rejected:
            self.store.quarantine(q.to_dict() for q in self.rejected)
            self.rejected.clear()

    def close(self) -> None:
        if self.qfile is not None:
            self.qfile.close()


def _cloudtrail_digest(path: str) -> bool:
    """Whether ``path`` is a CloudTrail digest file: delivered beside the log files (a
    synced bucket holds both), it lists their hashes and holds no events."""
    head = read_head(path, 4096).lstrip()
    return head[:1] == b"{" and all(
        k in head for k in (b'"digestStartTime"', b'"digestEndTime"', b'"digestS3Object"')
    )


def _batch_manifest(path: str) -> bool:
    """Whether ``path`` is the manifest ``auditkit stream`` writes beside each batch of
    a folder or S3 destination (``<batch>.batch.json``): ingesting the archive back
    reads the batches, and the manifests hold no events."""
    if not path.endswith(".batch.json"):
        return False
    head = read_head(path, 512).lstrip()
    return head.startswith(b'{"auditkit_batch":')


def _digest_skipped(format: str | Format) -> bool:
    """Whether CloudTrail digest files are skipped when reading as ``format``: when the
    format is told file by file, and when it is CloudTrail (the digest files are the
    trail's own, delivered beside its logs: ``--format cloudtrail`` on a synced bucket).

    >>> _digest_skipped("auto"), _digest_skipped("cloudtrail"), _digest_skipped("okta")
    (True, True, False)
    """
    name = format if isinstance(format, str) else format.name
    return name in ("auto", "cloudtrail")


def _empty(path: str) -> bool:
    """Whether ``path`` holds nothing but white space (un-gzipped, without a byte order
    mark), or a JSON document with no records (:func:`_no_records`): zero records,
    whatever the format.  A file that cannot be read is not empty: its reader says why.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.json")
    >>> _ = open(p, "wb").write(b"\\xef\\xbb\\xbf \\r\\n")
    >>> _empty(p), _empty(p + ".missing")
    (True, False)
    >>> _ = open(p, "wb").write(b'{"Records": []}')  # a CloudTrail delivery of no events
    >>> _empty(p)
    True
    """
    if is_parquet(path):
        return parquet_empty(path)
    try:
        with open_binary(path) as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    return True
                if chunk.strip():
                    return len(chunk) < 4096 and not f.read(1) and _no_records(chunk)
    except (OSError, EOFError, zlib.error):
        return False


def _no_records(data: bytes) -> bool:
    """Whether ``data`` is a JSON document holding no records: an empty array (an API
    page or ``gcloud logging read`` with no results), or an object whose only values
    are empty arrays (CloudTrail's ``{"Records": []}``).  An object with any other
    value may be a record itself, and is not.

    >>> _no_records(b"[ ]"), _no_records(b'{"Records": []}'), _no_records(b'{"a": 1, "b": []}')
    (True, True, False)
    >>> _no_records(b"{}"), _no_records(b"[{}]"), _no_records(b"[] []")
    (False, False, False)
    """
    try:
        doc: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    if isinstance(doc, dict):
        return bool(doc) and all(value == [] for value in doc.values())
    return isinstance(doc, list) and not doc


def _not_a_log(head: bytes) -> str | None:
    """Why a file that starts with ``head`` is refused whole whatever ``--format``
    says, or ``None``: a store (an SQLite database) or a key.  Read as CSV or NDJSON,
    every line would become a quarantined record, and a private key's lines would be
    copied into the quarantine (a file, and the store's quarantine table).

    >>> _not_a_log(b"-----BEGIN PRIVATE KEY-----\\nMC4C...")  # doctest: +ELLIPSIS
    'not a log: it is a PEM private key (a signing key?); its content is not copied...'
    >>> _not_a_log(b"SQLite format 3\\x00...")  # doctest: +ELLIPSIS
    'not a log: it is an SQLite database, not text (a store?); ...'
    >>> _not_a_log(b'{"action": "x"}') is None
    True
    """
    if head.startswith(b"SQLite format 3\x00"):
        return (
            "not a log: it is an SQLite database, not text (a store?); ingest reads text formats, "
            "compressed or not, zip archives, Parquet and Avro files"
        )
    start = head.lstrip()[:200]
    if start.startswith(b"-----BEGIN ") and b"-----" in start[11:]:
        kind = start[11:].split(b"-----", 1)[0].decode("ascii", "replace").strip()
        what = "private key (a signing key?)" if "PRIVATE" in kind else kind.lower()
        return f"not a log: it is a PEM {what}; its content is not copied to the quarantine"
    return None


def _detected(path: str, head: bytes | None) -> Format:
    """The format of ``path`` by its first bytes (``head``, if they were read whole),
    else, for a CSV of dotted columns, the format of its first row nested again (a
    Kibana or Logs Explorer export).

    Raises
    ------
    SchemaError
        When no format recognises the file either way (the first way's words).
    """
    try:
        found = detect_format(path, head=head)
    except SchemaError:
        flat = flat_csv_input(path, "auto", head=head) or flat_json_input(path, "auto", head=head)
        if flat is None:
            raise
        return flat
    if found.name == "csv":  # a weak claim, by a canonical name among the columns
        return flat_csv_input(path, "auto", head=head) or found
    return found


def _plan(
    files: Sequence[str],
    format: str | Format,
    sink: _Sink,
    *,
    tenant: str | None = None,
    assume_utc: bool = False,
    unread: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, Format]]:
    """Each file with its format; files whose format cannot be told are quarantined,
    as are ``unread`` (name, reason): zip members that could not be unpacked.

    Raises
    ------
    UsageError
        Without ``tenant``, for a file whose records cannot carry one (Okta, GitLab,
        ...): every record would be refused for the same missing option, so nothing
        is read, stored or quarantined.
    """
    plan: list[tuple[str, Format]] = []
    result = sink.result
    unknown = [QuarantinedRecord(name, None, None, None, why, None) for name, why in unread]
    for name, _ in unread:
        result.files[name] = "unread"
    no_tenant = tenant is None or not tenant.strip()
    for path in files:
        shown = sink.shown(path)
        if _empty(path):
            # whatever the format, no records; guessing one would fail and quarantine it
            result.files[shown] = "empty"
            result.skipped[shown] = SKIP_EMPTY
            continue
        if _digest_skipped(format) and _cloudtrail_digest(path):
            result.skipped[shown] = SKIP_DIGEST
            continue
        if _batch_manifest(path):
            result.skipped[shown] = SKIP_BATCH
            continue
        fmt: Format
        try:
            if is_parquet(path):
                fmt = parquet_input(path, format)
            else:
                # the first bytes, read once for every check below; a file that could
                # not be read whole that far is read again by detect_format, to say why
                first, problem = read_head_checked(path)
                head = first if problem is None else None
                refused = _not_a_log(first)
                if refused is not None:  # whatever --format says: never read as records
                    raise SchemaError(refused, file=path)
                table = sentinel_input(path, format, head=head) if head is not None else None
                wrapped = (
                    None
                    if table is not None
                    else envelope_input(path, format, tenant=tenant, head=head)
                )
                documents = (
                    None if table or wrapped is not None else yaml_input(path, format, head=head)
                )
                if table is not None:
                    fmt = table  # a Microsoft Sentinel table's rows (Okta_CL, AWSCloudTrail)
                elif wrapped is not None:
                    fmt = wrapped  # Splunk, HEC or Elasticsearch envelopes around the records
                elif documents is not None:
                    fmt = documents  # YAML documents (gcloud logging read's default output)
                elif format == "auto":
                    fmt = _detected(path, head)
                else:
                    fmt = get_format(format) if isinstance(format, str) else format
                    # fields flattened into CSV columns, or into a JSON record's dotted keys
                    fmt = (
                        flat_csv_input(path, fmt, head=head)
                        or flat_json_input(path, fmt, head=head)
                        or fmt
                    )
        except SchemaError as exc:
            result.files[shown] = "unknown"
            unknown.append(QuarantinedRecord(path, None, None, None, exc.reason, None))
            continue
        needed = getattr(fmt, "tenant_needed", None)
        advice = needed(path) if no_tenant and needed is not None else None
        if advice:
            raise UsageError(f"{shown}: {advice}")
        result.files[shown] = fmt.name
        if assume_utc and hasattr(fmt, "assuming_utc"):
            fmt = fmt.assuming_utc()
        plan.append((path, fmt))
    for q in unknown:  # only once the whole plan holds
        result.read += 1
        sink.reject(q)
    return plan


def ingest_files(
    store: Any,
    paths: Sequence[str | os.PathLike[str]],
    *,
    format: str | Format = "auto",
    tenant: str | None = None,
    quarantine: str | os.PathLike[str] | None = None,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    assume_utc: bool = False,
    stdin: IO[bytes] | None = None,
) -> IngestResult:
    """Ingest files into ``store``.

    Parameters
    ----------
    store
        An open :class:`~auditkit.store.Store`.
    paths
        Files, directories or glob patterns; ``.gz`` files are read transparently.
        ``-`` is standard input (``stdin``, else ``sys.stdin``), read whole into a
        temporary file first; its records are reported as from ``<stdin>``.
        Pipes (a shell's ``<(zcat x.gz)``) are read whole into a temporary file too.
        Zip and tar archives are unpacked into temporary files, each member read as a file
        (reported as ``archive.zip!member.json``), within the limits of
        :mod:`auditkit.ingest._inputs` against zip bombs.
    format
        A format name (``auditkit``, ``csv``, ``cloudtrail``, ...), a
        :class:`~auditkit.ingest._base.Format` object (e.g. a mapping-file format),
        or ``"auto"`` to detect it per file.
    tenant
        The tenant for formats whose records carry none (Okta, GitLab, CSV).
        Without it, files whose records cannot carry one are a
        :class:`~auditkit.errors.UsageError` before anything is stored.
    quarantine
        A file to which rejected records are appended as NDJSON with their reason;
        they are also kept in the store's ``quarantine`` table.
    batch_size
        Events appended in one transaction with a signed checkpoint per tenant in it.
        Larger batches commit less often (each commit rewrites the index pages the
        batch touched): 50,000 ingested 1M held-out events 10-15% faster than 20,000,
        for about 120 MB more memory.
    progress
        Called with the number of records processed since the last call.
    workers
        Parser processes.  ``None`` (the default) starts one per core, at most four,
        for inputs of :data:`PARALLEL_MIN_BYTES` or more (uncompressed), which repay
        the second it takes to start them, and parses smaller ones here; ``1`` always
        parses here.  Either way records are appended in input order, each batch in
        its own transaction, so the resulting store is the same.
    assume_utc
        Read canonical events (``auditkit``, ``csv``) whose ``occurred_at`` has no
        zone (``2022-03-22 14:21:53.225``) as UTC, noting it in ``metadata``
        (``occurred_at_zone``); without it they are quarantined.  Source formats
        defined as UTC (CloudTrail, GCP, GitLab, Okta, OCSF) always read such
        times as UTC and note it the same way.
    stdin
        What ``-`` reads, instead of the process's standard input.
    """
    files, left_out, unreadable = expand_inputs(paths)
    files = _not_the_store(store, files, quarantine)
    result = IngestResult()
    if quarantine is not None:
        result.quarantine_file = os.fspath(quarantine)
    sink = _Sink(store, result, quarantine, progress)
    # Batches hold tens of thousands of small dicts: the cyclic garbage collector would
    # rescan them again and again (they hold no cycles), tripling the cost of parsing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with Unpacked(stdin=stdin) as inputs:
            files = inputs.files(files)
            sink.names = inputs.names
            result.skipped.update(left_out)
            result.skipped.update(inputs.skipped)
            plan = _plan(
                files,
                format,
                sink,
                tenant=tenant,
                assume_utc=assume_utc,
                unread=[*unreadable, *inputs.problems],
            )
            count = _worker_count(plan, workers)
            if count > 1:
                ingest_parallel(
                    store, plan, sink, tenant=tenant, batch_size=batch_size, workers=count
                )
            else:
                _ingest_here(store, plan, sink, tenant=tenant, batch_size=batch_size)
            sink.flush_rejected()
    finally:
        sink.close()
        if gc_was_enabled:
            gc.enable()
    return result


#: Below this much input (uncompressed), starting parser processes (about a
#: second) costs more than it saves.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024


def _worker_count(plan: Sequence[tuple[str, Format]], workers: int | None) -> int:
    if workers is not None:
        if workers < 1:
            raise UsageError(f"workers must be at least 1, got {workers}")
        return workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not cores or cores < 2:
        return 1
    size = sum(_input_size(path) for path, _ in plan)
    return min(cores, 4) if size >= PARALLEL_MIN_BYTES else 1


def _input_size(path: str) -> int:
    """Bytes to parse in ``path``: a gzip file's own record of its uncompressed size
    (its last four bytes, modulo 4 GiB), else the file's size; 0 if unreadable.

    >>> import gzip, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.ndjson.gz")
    >>> _ = gzip.open(p, "wb").write(b"{}\\n" * 1000)
    >>> _input_size(p)
    3000
    """
    if is_parquet(path):  # compressed column by column: its data's own size
        return parquet_bytes(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if f.read(2) != b"\x1f\x8b" or size < 18:
                return size
            f.seek(-4, os.SEEK_END)
            stated = int.from_bytes(f.read(4), "little")
    except OSError:
        return 0
    # beyond 4 GiB the field wraps: never count less than the compressed bytes
    return stated if stated >= size else size * 8


def _ingest_here(
    store: Any,
    plan: Sequence[tuple[str, Format]],
    sink: _Sink,
    *,
    tenant: str | None,
    batch_size: int,
) -> None:
    result = sink.result
    progress = sink.progress
    batch: list[PreparedEvent] = []
    origins: list[tuple[str, int, str | None]] = []  # where each of the batch came from

    def flush() -> None:
        nonlocal batch, origins
        if batch:
            added = store.append_prepared(batch)
            sink.added(added.stored, added.duplicates)
            for q in conflicting(added.conflicts, batch, origins):
                sink.reject(q)
            batch, origins = [], []
        sink.flush_rejected()

    for path, fmt in plan:
        pending = 0
        for rec in read_records(fmt, path):
            result.read += 1
            pending += 1
            out = process_record(fmt, rec, tenant)
            if type(out) is PreparedEvent:
                batch.append(out)
                origins.append((rec.file, rec.line, rec.location))
                if len(batch) >= batch_size:
                    flush()
                if progress is not None and pending >= 1000:
                    progress(pending)
                    pending = 0
            else:
                sink.reject(out)  # type: ignore[arg-type]
        if progress is not None and pending:
            progress(pending)
    flush()
