"""Inputs as a newcomer hands them over: empty files, piped exports, zip archives,
and formats whose records carry no tenant."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.init(str(tmp_path / "a.db"))


@pytest.mark.parametrize("content", [b"", b"\n\r\n  \n", b"\xef\xbb\xbf", gzip.compress(b"")])
@pytest.mark.parametrize("format", ["auto", "cloudtrail", "csv", "okta"])
def test_an_empty_file_reads_no_records_and_says_so(
    store: Store, tmp_path: Path, content: bytes, format: str
) -> None:
    """An empty file with --format auto was quarantined as 'cannot tell the format'
    (so --strict failed); it holds no records, whatever the format."""
    path = tmp_path / "empty.json"
    path.write_bytes(content)
    result = ingest_files(store, [path], format=format, tenant="acme")
    assert (result.read, result.quarantined) == (0, 0)
    assert result.skipped == {str(path): "empty file (no records)"}
    assert "skipped 1 empty file" in result.summary()


def test_empty_files_beside_others(store: Store, tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.json").write_bytes(b"")
    (tmp_path / "logs" / "b.json").write_bytes(b"\n")
    example = next((FIXTURES.parents[2] / "examples" / "cloudtrail").glob("*.json"))
    (tmp_path / "logs" / "c.json").write_bytes(example.read_bytes())
    result = ingest_files(store, [tmp_path / "logs"])
    records = len(orjson.loads(example.read_bytes())["Records"])
    assert (result.read, result.stored, result.quarantined) == (records, records, 0)
    assert "skipped 2 empty file(s), which hold no records" in result.summary()
