"""What the paths given to an ingest hold, as files the formats can read: standard
input (``-``) spooled to a temporary file.

Each such file keeps the name a person knows it by (``<stdin>``); the ingest
reports that name, never the temporary path, in the quarantine and the summary.

>>> import io
>>> with Unpacked(stdin=io.BytesIO(b'{"a": 1}\\n')) as inputs:
...     files = inputs.files(["-"])
...     [inputs.shown(f) for f in files], open(files[0], "rb").read()
(['<stdin>'], b'{"a": 1}\\n')
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from types import TracebackType
from typing import IO, Final

from auditkit.errors import UsageError

__all__ = [
    "STDIN",
    "STDIN_NAME",
    "Unpacked",
]

#: the path that means standard input, and the name its records are reported under
STDIN: Final = "-"
STDIN_NAME: Final = "<stdin>"

_UNSAFE: Final = re.compile(r"[^\w.\-]")


class Unpacked:
    """The files behind the paths of one ingest, in a temporary folder removed on exit.

    ``files(paths)`` returns the files to read, standard input replaced by a
    temporary file; ``shown(path)`` the name to report a file under; ``skipped``
    (name: why) what holds no records; ``problems`` (name, reason) what could not
    be read, to quarantine.
    """

    def __init__(self, *, stdin: IO[bytes] | None = None) -> None:
        self.names: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self.problems: list[tuple[str, str]] = []
        self._stdin = stdin
        self._folder: str | None = None
        self._count = 0

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
        """The name ``path`` is reported under (``<stdin>``)."""
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
            if path == STDIN:
                path = self._spool_stdin()
                self.names[path] = STDIN_NAME
            out.append(path)
        return out

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
