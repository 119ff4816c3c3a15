"""Reading NDJSON in blocks gives exactly the lines a line-by-line reader gives."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from auditkit.ingest import _readers
from auditkit.ingest._readers import block_lines, compression, ndjson_blocks, ndjson_lines

LIMIT = 40  # MAX_RECORD_BYTES during these tests


def _reference(data: bytes) -> list[tuple[Any, ...]]:
    """Line by line, the obvious way: what every block size must reproduce."""
    out: list[tuple[Any, ...]] = []
    parts = data.split(b"\n")
    ends = data.endswith(b"\n")
    if ends:
        parts.pop()
    for i, line in enumerate(parts):
        last = i == len(parts) - 1 and not ends
        if len(line) > LIMIT:
            out.append(("oversized", i + 1, len(line) + (0 if last else 1)))
        elif line.strip():
            out.append((i + 1, line.strip(), last))
    return out


def _shape(items: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, tuple):
            out.append(item)
        else:
            size = int(str(item.error).split("record is ")[1].split(" bytes")[0])
            out.append(("oversized", item.line, size))
    return out


def _one_line(b: bytes) -> bytes:
    return b.replace(b"\n", b"")


lines = st.lists(  # named functions, not lambdas (CPython gh-106905)
    st.one_of(
        st.binary(max_size=30).map(_one_line),
        st.sampled_from([b"", b"  ", b"\r", b'{"a": 1}', b"x" * 45, b"y" * 200]),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(lines=lines, trailing=st.booleans(), block=st.integers(1, 64))
def test_blocks_of_any_size_give_the_lines_of_the_file(
    lines: list[bytes], trailing: bool, block: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if trailing and lines else b"")
    assume(compression(data[:10]) is None)  # a compression's magic: read as such a file
    # byte order marks: dropped (UTF-8) or transcoded (UTF-16), see test_encodings.py
    assume(not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "e.ndjson"
        path.write_bytes(data)
        old = _readers.MAX_RECORD_BYTES
        _readers.MAX_RECORD_BYTES = LIMIT
        try:
            got = []
            for item in ndjson_blocks(str(path), block_bytes=block):
                if isinstance(item, tuple):
                    assert item[1].endswith(b"\n") or not data.endswith(b"\n")
                    got.extend(block_lines(str(path), item[0], item[1]))
                else:
                    got.append(item)
            whole = list(ndjson_lines(str(path)))
        finally:
            _readers.MAX_RECORD_BYTES = old
    assert _shape(got) == _reference(data)
    assert _shape(whole) == _reference(data)


def test_an_endless_line_is_skipped_without_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_readers, "MAX_RECORD_BYTES", 1000)
    path = tmp_path / "e.ndjson"
    path.write_bytes(b'{"a": 1}\n' + b"z" * 50_000 + b'\n{"b": 2}\n')
    items = list(ndjson_blocks(str(path), block_bytes=4096))
    blocks = [i for i in items if isinstance(i, tuple)]
    assert max(len(b[1]) for b in blocks) <= 4096 + 1000
    assert _shape([x for i in items for x in ([i] if not isinstance(i, tuple) else [])]) == [
        ("oversized", 2, 50_001)
    ]
    assert [x for b in blocks for x in block_lines(str(path), *b)] == [
        (1, b'{"a": 1}', False),
        (3, b'{"b": 2}', False),
    ]


def test_a_truncated_gzip_gives_its_complete_lines_then_an_error(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson.gz"
    data = gzip.compress(b"".join(b'{"n": %d}\n' % i for i in range(5000)))
    path.write_bytes(data[: len(data) // 2])
    items = list(ndjson_lines(str(path)))
    good = [i for i in items if isinstance(i, tuple)]
    errors = [i for i in items if not isinstance(i, tuple)]
    assert [i[0] for i in good] == list(range(1, len(good) + 1)) and len(good) > 100
    assert len(errors) == 1 and "truncated" in str(errors[0].error)
    assert errors[0].line == len(good) + 1
