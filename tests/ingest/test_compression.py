"""Compressed inputs as collectors and archives write them: gzip, bzip2, xz and zstd
(told by their first bytes, whatever the file's name), whole, cut short or damaged."""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import zstandard

from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


def _ndjson(n: int) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in make_events(n))


def _csv(n: int) -> bytes:
    rows = ["tenant_id,event_id,occurred_at,action,actor.id"]
    rows += [f"acme,c{i},2026-01-05T09:{i % 60:02d}:00Z,user.login,u{i}" for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("kind", COMPRESS)
@pytest.mark.parametrize(("make", "name"), [(_ndjson, "log.ndjson"), (_csv, "log.csv")])
def test_a_compressed_file_reads_as_the_plain_one(
    tmp_path: Path, kind: str, make: Callable[[int], bytes], name: str
) -> None:
    plain = make(300)
    (tmp_path / name).write_bytes(plain)
    packed = tmp_path / f"packed-{name}.bin"  # the name says nothing: the bytes do
    packed.write_bytes(COMPRESS[kind](plain))
    a, b = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    ingest_files(a, [tmp_path / name])
    result = ingest_files(b, [packed])
    assert (result.read, result.stored, result.quarantined) == (300, 300, 0)
    assert a.load().drop("received_at").equals(b.load().drop("received_at"))


def test_zstd_frames_one_after_another_are_one_file(tmp_path: Path) -> None:
    """``cat a.zst b.zst > c.zst`` (and collectors that write a frame per flush)."""
    data = _ndjson(200)
    frames = b"".join(
        zstandard.ZstdCompressor().compress(data[i : i + 5000]) for i in range(0, len(data), 5000)
    )
    (tmp_path / "log.ndjson.zst").write_bytes(frames)
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [tmp_path / "log.ndjson.zst"])
    assert (result.read, result.stored) == (200, 200)


@pytest.mark.parametrize("kind", COMPRESS)
def test_a_file_cut_short_keeps_what_came_before_and_says_so(tmp_path: Path, kind: str) -> None:
    """The records before the cut are stored; the cut is quarantined as such, never a
    silent end of the file (zstandard's stream reader itself ends quietly there)."""
    data = _ndjson(3000)
    packed = COMPRESS[kind](data)
    path = tmp_path / f"cut.ndjson.{kind}"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert result.balanced
    assert result.quarantined == 1 and result.stored > 0
    assert "truncated" in result.problems[0].reason or "cut short" in result.problems[0].reason


@pytest.mark.parametrize("kind", ["bzip2", "xz", "zstd"])
def test_a_damaged_file_is_quarantined_naming_its_compression(tmp_path: Path, kind: str) -> None:
    packed = bytearray(COMPRESS[kind](_ndjson(50)))
    packed[12:40] = bytes(28)  # the first block's header
    path = tmp_path / "bad.ndjson"
    path.write_bytes(bytes(packed))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.stored, result.quarantined) == (0, 1)
    assert f"{kind} file cut short or corrupt" in result.problems[0].reason


def test_text_that_starts_like_a_magic_is_read_as_text(tmp_path: Path) -> None:
    """Only bzip2's magic is text (``BZh``): a file is bzip2 when a block (or the end
    of an empty stream) follows it, as in every bzip2 file; else it is read as text."""
    path = tmp_path / "odd.ndjson"
    path.write_bytes(b"BZh9 is a line\n" + _ndjson(3))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], format="auditkit")
    assert (result.stored, result.quarantined) == (3, 1)
    assert "bzip2" not in result.problems[0].reason and result.problems[0].line == 1
    path.write_bytes(bz2.compress(b""))  # an empty stream is still bzip2
    assert ingest_files(Store.init(str(tmp_path / "b.db")), [path]).stored == 0


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"SQLite format 3\x00" + bytes(200), "it is an SQLite database, not text"),
        (b"ARROW1\x00\x00" + bytes(200), "Arrow IPC (Feather) file, not text; write it as Parquet"),
        (bytes(range(256)) * 4, "it is binary data, not text"),
    ],
)
def test_a_binary_file_is_named_as_such(tmp_path: Path, content: bytes, said: str) -> None:
    """Not "its first line has the columns \\x00\\x15...": what it is, in words."""
    path = tmp_path / "export.dat"
    path.write_bytes(content)
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert result.quarantined == 1
    assert said in result.problems[0].reason
    assert "\\x" not in result.problems[0].reason


def test_a_zstd_bomb_is_read_in_bounded_steps(tmp_path: Path) -> None:
    """256 MiB of zeros in 16 KiB of zstd: one over-long line, quarantined as such; the
    decompressor is fed 1 KiB at a time, so no step holds more than tens of MB."""
    from auditkit.ingest._readers import open_binary

    squeeze = zstandard.ZstdCompressor(level=19).compressobj()
    packed = b"".join(squeeze.compress(bytes(1 << 24)) for _ in range(16)) + squeeze.flush()
    path = tmp_path / "bomb.ndjson.zst"
    path.write_bytes(packed)
    with open_binary(str(path)) as f:
        zstd = f.raw._inner  # type: ignore[attr-defined]
        largest = total = 0
        while chunk := f.read1(1 << 20):  # type: ignore[attr-defined]
            total += len(chunk)
            largest = max(largest, len(zstd._buf))
    assert total == 1 << 28 and largest <= 64 << 20
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], format="auditkit")
    assert (result.read, result.quarantined) == (1, 1)
    assert "over the 8388608-byte limit" in result.problems[0].reason
