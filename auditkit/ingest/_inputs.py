"""What the paths given to an ingest hold, as files the formats can read: standard
input (``-``) and other pipes (a shell's ``<(zcat x.gz)``, a named pipe) spooled to a
temporary file, and zip and tar archives (``.tar``, ``.tar.gz``, ``.tgz``, ...)
unpacked member by member, with limits against zip bombs.

Each such file keeps the name a person knows it by (``<stdin>``,
``logs.zip!AWSLogs/x.json.gz``, ``<stdin>!okta.json``); the ingest reports that
name, never the temporary path, in the quarantine and the summary.  Members
that hold no records (folders, macOS metadata) are skipped and said; members
that cannot be unpacked (encrypted, an unknown compression method, corrupt, or
expanding beyond :data:`MAX_RATIO` or the size limits) become one quarantined
record each, with the reason.

>>> import io, zipfile
>>> data = io.BytesIO()
>>> with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as z:
...     z.writestr("logs/", "")
...     z.writestr("logs/a.ndjson", '{"a": 1}\\n')
>>> with Unpacked(stdin=io.BytesIO(data.getvalue())) as inputs:
...     files = inputs.files(["-"])
...     [inputs.shown(f) for f in files], inputs.skipped
(['<stdin>!logs/a.ndjson'], {'<stdin>!logs/': 'folder entry of a zip archive'})
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
import zlib
from types import TracebackType
from typing import IO, Final

from auditkit.errors import UsageError

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "SKIP_EMPTY_ARCHIVE",
    "SKIP_EMPTY_TAR",
    "SKIP_FOLDER",
    "SKIP_HIDDEN",
    "SKIP_TAR_FOLDER",
    "SKIP_TAR_HIDDEN",
    "SKIP_TAR_SPECIAL",
    "STDIN",
    "STDIN_NAME",
    "Unpacked",
    "is_tar",
    "is_zip",
]

#: the path that means standard input, and the name its records are reported under
STDIN: Final = "-"
STDIN_NAME: Final = "<stdin>"

#: a zip member larger than this, unpacked, is refused
MAX_MEMBER_BYTES: Final = 4 * 1024**3
#: all the zip members of one ingest, unpacked, may take at most this much
MAX_ARCHIVE_BYTES: Final = 16 * 1024**3
#: a member expanding more than this many times its compressed size is refused (logs
#: compress 5 to 30 times; a zip bomb, a thousand times) ...
MAX_RATIO: Final = 200
#: ... once it unpacks to more than this (a small file cannot fill a disk)
RATIO_FROM_BYTES: Final = 16 * 1024**2
#: archives inside archives are unpacked this many levels deep
MAX_DEPTH: Final = 3
#: The compression methods Python's zipfile unpacks.
_METHODS: Final = frozenset(
    (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
)
#: Others that archivers write (7-Zip, WinZip, Windows' own for large files), by name.
_OTHER_METHODS: Final = {
    9: "Deflate64", 93: "Zstandard", 95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd",
}  # fmt: skip

#: why zip members are skipped (``IngestResult.skipped``)
SKIP_FOLDER: Final = "folder entry of a zip archive"
SKIP_HIDDEN: Final = "hidden or macOS metadata file in a zip archive"
SKIP_EMPTY_ARCHIVE: Final = "zip archive holding no files"
SKIP_TAR_FOLDER: Final = "folder entry of a tar archive"
SKIP_TAR_HIDDEN: Final = "hidden or macOS metadata file in a tar archive"
SKIP_TAR_SPECIAL: Final = "link or special entry of a tar archive (not a file)"
SKIP_EMPTY_TAR: Final = "tar archive holding no files"

_ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")
_UNSAFE: Final = re.compile(r"[^\w.\-]")


def is_zip(path: str) -> bool:
    """Whether ``path`` is a zip archive, by its first bytes (an archive holding no
    files starts with its end record).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.zip")
    >>> _ = open(p, "wb").write(b'{"Records": []}')
    >>> is_zip(p), is_zip(p + ".missing")
    (False, False)
    """
    try:
        with open(path, "rb") as f:
            return f.read(4) in _ZIP_MAGIC
    except OSError:
        return False


def _open_unpacked(path: str) -> IO[bytes]:
    """``path`` opened for reading, decompressed (gzip, bzip2, xz, zstd) when it is
    compressed, byte for byte otherwise (no byte order mark dropped)."""
    from auditkit.ingest._readers import _decompressed, compression

    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    try:
        kind = compression(raw.read(10))
        raw.seek(0)
    except OSError:
        raw.close()
        raise
    return raw if kind is None else _decompressed(raw, kind)


def is_tar(path: str) -> bool:
    """Whether ``path`` is a tar archive (POSIX or GNU, ``ustar`` at byte 257),
    compressed or not (``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.tar.zst``).

    >>> import tarfile, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.tgz")
    >>> with tarfile.open(p, "w:gz") as t: t.add(__file__, "a.py")
    >>> is_tar(p), is_tar(__file__), is_tar(p + ".missing")
    (True, False, False)
    """
    try:
        with _open_unpacked(path) as f:
            head = f.read(262)
    except (OSError, EOFError, ValueError):
        return False
    return head[257:262] == b"ustar"


def _pipe(path: str) -> bool:
    """Whether ``path`` is a pipe or a device rather than a file: a shell's process
    substitution (``<(zcat x.gz)``, ``/dev/fd/63``), a named pipe, ``/dev/stdin``.
    Such a stream can be read once, from its start: it is spooled to a file first."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _size(n: int) -> str:
    """Bytes for people.

    >>> _size(512), _size(3 * 1024**2), _size(5 * 1024**3)
    ('512 bytes', '3.0 MiB', '5.0 GiB')
    """
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


class Unpacked:
    """The files behind the paths of one ingest, in a temporary folder removed on exit.

    ``files(paths)`` returns the files to read, standard input, pipes and archive
    members replaced by temporary files; ``shown(path)`` the name to report a file under;
    ``skipped`` (name: why) the members that hold no records; ``problems`` (name,
    reason) the members that could not be unpacked, to quarantine.
    """

    def __init__(self, *, stdin: IO[bytes] | None = None) -> None:
        self.names: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.problems: list[tuple[str, str]] = []
        self._stdin = stdin
        self._folder: str | None = None
        self._count = 0
        self._budget = MAX_ARCHIVE_BYTES

    def __enter__(self) -> Unpacked:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def shown(self, path: str) -> str:
        """The name ``path`` is reported under (``<stdin>``, ``a.zip!m.json``)."""
        return self.names.get(path, path)

    def files(self, paths: list[str]) -> list[str]:
        """The files to read for ``paths``, in order.

        Raises
        ------
        UsageError
            When ``-`` is given twice, or standard input is a terminal.
        """
        if paths.count(STDIN) > 1:
            raise UsageError("standard input (-) can be given only once")
        out: list[str] = []
        for path in paths:
            shown = path
            if path == STDIN:
                path, shown = self._spool_stdin(), STDIN_NAME
                self.names[path] = shown
            elif _pipe(path):
                spooled = self._spool_pipe(path)
                if spooled is None:
                    continue
                path = spooled
                self.names[path] = shown
            out.extend(self._unpacked(path, shown, 1))
        return out

    def _unpacked(self, path: str, shown: str, depth: int) -> list[str]:
        """The files of ``path``: the members of an archive, else ``path`` itself."""
        if is_zip(path):
            return self._unzip(path, shown, depth)
        if is_tar(path):
            return self._untar(path, shown, depth)
        return [path]

    def _nested(self, target: str, member: str, depth: int) -> list[str] | None:
        """The files of an archive found inside an archive (``None``: not one)."""
        if not (is_zip(target) or is_tar(target)):
            return None
        if depth >= MAX_DEPTH:
            self.problems.append(
                (member, f"an archive nested more than {MAX_DEPTH} deep: unpack it")
            )
            return []
        return self._unpacked(target, member, depth + 1)

    def _target(self, name: str) -> str:
        """A new temporary file path ending with ``name`` (its suffix tells some formats)."""
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="auditkit-ingest-")
        self._count += 1
        folder = os.path.join(self._folder, str(self._count))
        os.mkdir(folder)
        safe = _UNSAFE.sub("_", name)[-120:].lstrip(".") or "member"
        return os.path.join(folder, safe)

    def _spool_stdin(self) -> str:
        source = self._stdin
        if source is None:
            if sys.stdin is None:
                raise UsageError("there is no standard input to read (-)")
            try:
                terminal = sys.stdin.isatty()
            except (OSError, ValueError):
                terminal = False
            if terminal:
                raise UsageError(
                    "standard input is a terminal: pipe the records in, e.g. "
                    "'aws cloudtrail lookup-events ... | auditkit ingest STORE - "
                    "--format cloudtrail'"
                )
            source = sys.stdin.buffer
        target = self._target("stdin")
        try:
            with open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        except OSError as exc:
            raise UsageError(f"cannot read standard input: {exc.strerror or exc}") from None
        return target

    def _spool_pipe(self, path: str) -> str | None:
        """A pipe's bytes in a temporary file (``None``, with the problem noted, when
        it cannot be read)."""
        target = self._target(os.path.basename(path) or "pipe")
        try:
            with open(path, "rb") as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        except OSError as exc:
            self.problems.append((path, f"cannot read the file: {exc.strerror or exc}"))
            return None
        return target

    def _untar(self, path: str, shown: str, depth: int) -> list[str]:
        """The members of a tar archive (compressed or not), read as a stream: the
        members before a cut or a damaged part are kept, and the damage said."""
        out: list[str] = []
        packed = max(os.path.getsize(path), 1)
        unpacked = 0
        members = 0
        try:
            with _open_unpacked(path) as f, tarfile.open(fileobj=f, mode="r|") as archive:
                for info in archive:
                    members += 1
                    member = f"{shown}!{info.name}"
                    base = info.name.rstrip("/").rsplit("/", 1)[-1]
                    if info.isdir():
                        self.skipped[member] = SKIP_TAR_FOLDER
                        continue
                    if not info.isfile():
                        self.skipped[member] = SKIP_TAR_SPECIAL
                        continue
                    if base.startswith(".") or "/__MACOSX/" in f"/{info.name}":
                        self.skipped[member] = SKIP_TAR_HIDDEN
                        continue
                    reason = self._refused_size(info.size)
                    if (
                        reason is None
                        and unpacked + info.size > RATIO_FROM_BYTES
                        and (unpacked + info.size > MAX_RATIO * packed)
                    ):
                        reason = (
                            f"refused: the archive unpacks more than {MAX_RATIO}-fold "
                            f"(past {_size(unpacked + info.size)} from {_size(packed)}), "
                            "more than logs compress to (a bomb?); unpack it yourself if "
                            "you trust it"
                        )
                    if reason is not None:
                        self.problems.append((member, reason))
                        continue
                    source = archive.extractfile(info)
                    if source is None:  # pragma: no cover - a regular file always has data
                        self.skipped[member] = SKIP_TAR_SPECIAL
                        continue
                    target = self._target(base)
                    with source, open(target, "wb") as dest:
                        shutil.copyfileobj(source, dest, 1 << 20)
                    unpacked += info.size
                    self._budget -= info.size
                    nested = self._nested(target, member, depth)
                    if nested is not None:
                        out.extend(nested)
                        continue
                    self.names[target] = member
                    out.append(target)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            if members:
                why = f"tar archive cut short or damaged after {members} member(s) ({exc})"
            else:
                why = f"not a readable tar archive ({exc})"
            self.problems.append((shown, why))
            return out
        if not members:
            self.skipped[shown] = SKIP_EMPTY_TAR
        return out

    def _refused_size(self, size: int) -> str | None:
        """Why a member of ``size`` bytes is not unpacked (too large), or ``None``."""
        if size > MAX_MEMBER_BYTES:
            return (
                f"refused: unpacks to {_size(size)}, over the {_size(MAX_MEMBER_BYTES)} "
                "allowed for one archive member; unpack it yourself if you trust it"
            )
        if size > self._budget:
            return (
                f"refused: the archives of this ingest unpack to more than "
                f"{_size(MAX_ARCHIVE_BYTES)}; unpack them yourself and ingest the files"
            )
        return None

    def _unzip(self, path: str, shown: str, depth: int) -> list[str]:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            self.problems.append((shown, f"not a readable zip archive ({exc})"))
            return []
        out: list[str] = []
        with archive:
            infos = sorted(archive.infolist(), key=lambda i: i.filename)
            names = {i.filename for i in infos}
            if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
                self.problems.append(
                    (shown, "an Excel workbook, not a log: save the sheet as 'CSV UTF-8'")
                )
                return []
            if all(i.is_dir() for i in infos):
                self.skipped[shown] = SKIP_EMPTY_ARCHIVE
            for info in infos:
                member = f"{shown}!{info.filename}"
                base = info.filename.rstrip("/").rsplit("/", 1)[-1]
                if info.is_dir():
                    self.skipped[member] = SKIP_FOLDER
                    continue
                if info.filename.startswith("__MACOSX/") or base.startswith("."):
                    self.skipped[member] = SKIP_HIDDEN
                    continue
                reason = self._refused(info)
                if reason is not None:
                    self.problems.append((member, reason))
                    continue
                target = self._target(base)
                try:
                    self._budget -= _extract(archive, info, target)
                except (
                    zipfile.BadZipFile,
                    RuntimeError,  # encrypted without the flag
                    OSError,
                    EOFError,
                    zlib.error,
                ) as exc:
                    self.problems.append((member, f"cannot unpack this member ({exc})"))
                    continue
                nested = self._nested(target, member, depth)
                if nested is not None:
                    out.extend(nested)
                    continue
                self.names[target] = member
                out.append(target)
        return out

    def _refused(self, info: zipfile.ZipInfo) -> str | None:
        """Why a member is not unpacked (encrypted, too large, a bomb), or ``None``."""
        if info.flag_bits & 0x1:
            return "encrypted: unzip the archive with its password first"
        if info.compress_type not in _METHODS:
            name = _OTHER_METHODS.get(info.compress_type, f"method {info.compress_type}")
            return (
                f"compressed with {name}, which cannot be unpacked here: unzip it with a "
                "tool that knows it, or zip it again with the usual Deflate"
            )
        size, packed = info.file_size, max(info.compress_size, 1)
        if size > MAX_MEMBER_BYTES:
            return (
                f"refused: unpacks to {_size(size)}, over the {_size(MAX_MEMBER_BYTES)} "
                "allowed for one zip member; unzip it yourself if you trust it"
            )
        if size > RATIO_FROM_BYTES and size > MAX_RATIO * packed:
            return (
                f"refused: unpacks {size // packed}-fold ({_size(size)} from {_size(packed)}), "
                f"more than the {MAX_RATIO}-fold a log compresses to (a zip bomb?); "
                "unzip it yourself if you trust it"
            )
        if size > self._budget:
            return (
                f"refused: the zip archives of this ingest unpack to more than "
                f"{_size(MAX_ARCHIVE_BYTES)}; unzip them yourself and ingest the files"
            )
        return None


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: str) -> int:
    """Unpack one member to ``target``; return its size.  Never more than the size the
    archive states is written (zipfile stops there and checks the CRC)."""
    written = 0
    with archive.open(info) as src, open(target, "wb") as out:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            written += len(chunk)
            if written > info.file_size:  # pragma: no cover - zipfile stops at file_size
                raise zipfile.BadZipFile("member is larger than the archive states")
            out.write(chunk)
    return written
