"""Inputs as a newcomer hands them over: empty files, piped exports, zip archives,
and formats whose records carry no tenant."""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Iterable
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


@pytest.mark.parametrize(
    ("fixture", "format", "named"),
    [
        ("okta/system_log.ndjson", "okta", "Okta records carry no tenant"),
        ("okta/api_logs_page.json", "auto", "Okta records carry no tenant"),
        ("gitlab/api_audit_events.json", "gitlab", "GitLab records carry no tenant"),
        ("gitlab/streamed_events.ndjson", "auto", "GitLab records carry no tenant"),
    ],
)
def test_a_format_without_tenants_needs_the_option_up_front(
    store: Store, tmp_path: Path, fixture: str, format: str, named: str
) -> None:
    """Every Okta or GitLab record was quarantined for the same missing --tenant, and
    the ingest 'succeeded'; it is one usage error before anything is stored."""
    from auditkit.errors import UsageError

    quarantine = tmp_path / "q.ndjson"
    with pytest.raises(UsageError) as info:
        ingest_files(store, [FIXTURES / fixture], format=format, quarantine=quarantine)
    assert named in str(info.value) and "--tenant" in str(info.value)
    assert fixture.split("/")[1] in str(info.value)  # the file is named
    assert store.tenants() == [] and not quarantine.exists()
    with pytest.raises(UsageError):
        ingest_files(store, [FIXTURES / fixture], format=format, tenant="  ")
    result = ingest_files(store, [FIXTURES / fixture], format=format, tenant="acme")
    assert result.stored > 0 and result.quarantined == 0


def test_nothing_is_stored_when_a_later_file_needs_a_tenant(store: Store, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    example = next((FIXTURES.parents[2] / "examples" / "cloudtrail").glob("*.json"))
    (logs / "a-cloudtrail.json").write_bytes(example.read_bytes())
    (logs / "b-unknown.txt").write_text("hello\n")
    (logs / "c-okta.ndjson").write_bytes((FIXTURES / "okta" / "system_log.ndjson").read_bytes())
    quarantine = tmp_path / "q.ndjson"
    from auditkit.errors import UsageError

    with pytest.raises(UsageError, match=r"c-okta\.ndjson: Okta records carry no tenant"):
        ingest_files(store, [logs], quarantine=quarantine)
    assert store.tenants() == [] and not quarantine.exists()


def test_csv_and_mapped_files_need_a_tenant_only_when_they_carry_none(
    store: Store, tmp_path: Path
) -> None:
    from auditkit.errors import UsageError
    from auditkit.ingest.formats.mapped import MappedFormat

    rows = "occurred_at,action,actor.id\n2026-01-05T09:00:00Z,user.login,u1\n"
    no_column = tmp_path / "no_tenant.csv"
    no_column.write_text(rows)
    with pytest.raises(UsageError, match="no tenant_id column; pass --tenant NAME"):
        ingest_files(store, [no_column], format="csv")
    assert ingest_files(store, [no_column], format="csv", tenant="acme").stored == 1
    with_column = tmp_path / "with_tenant.csv"
    semicolons = rows.replace(",", ";").replace("\n2026", "\nacme;2026").replace("u1", "u3")
    with_column.write_text("tenant_id;" + semicolons)
    result = ingest_files(store, [with_column])
    assert (result.stored, result.quarantined) == (1, 0)

    fields = {"occurred_at": "t", "action": "a", "actor.id": "u"}
    record = tmp_path / "app.ndjson"
    record.write_text('{"t": "2026-01-05T10:00:00Z", "a": "user.login", "u": "u2"}\n')
    bare = MappedFormat({"fields": fields}, source="app.yaml")
    with pytest.raises(UsageError, match=r"app\.yaml names no tenant; pass --tenant NAME"):
        ingest_files(store, [record], format=bare)
    for fmt in (
        MappedFormat({"tenant": "acme", "fields": fields}),
        MappedFormat({"fields": {**fields, "tenant_id": {"value": "acme"}}}),
    ):
        assert ingest_files(store, [record], format=fmt).quarantined == 0


def _lookup_events() -> bytes:
    return (FIXTURES / "cloudtrail" / "lookup_events.json").read_bytes()


@pytest.mark.parametrize("format", ["cloudtrail", "auto"])
@pytest.mark.parametrize("packed", [False, True])
def test_standard_input_is_read_for_a_dash(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, format: str, packed: bool
) -> None:
    """`aws cloudtrail lookup-events ... | auditkit ingest audit.db -` said '-: no such
    file'; standard input is read, gzipped or not, its format told from its bytes."""
    import io

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    data = _lookup_events()
    piped = io.BytesIO(gzip.compress(data) if packed else data)
    result = ingest_files(store, ["-"], format=format, stdin=piped)
    assert (result.read, result.stored, result.quarantined) == (2, 2, 0)
    assert result.files == {"<stdin>": "cloudtrail"}
    assert not list(tmp_path.glob("auditkit-ingest-*")), "the spooled input is left behind"


def test_records_of_standard_input_are_quarantined_as_stdin(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    good = b'{"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z", "action": "user.login", "actor": {"id": "u1"}}\n'  # noqa: E501
    piped = io.BytesIO(good + b"\n{not json\n" + good.replace(b"09:00", b"10:00")[:-30] + b"\n")
    quarantine = tmp_path / "q.ndjson"
    kept: list[dict[str, object]] = []
    keep = store.quarantine

    def spy(rows: Iterable[dict[str, object]]) -> int:
        rows = list(rows)
        kept.extend(rows)
        return keep(rows)

    monkeypatch.setattr(store, "quarantine", spy)
    result = ingest_files(store, ["-"], stdin=piped, quarantine=quarantine)
    assert (result.stored, result.quarantined) == (1, 2)
    rows = [orjson.loads(line) for line in quarantine.read_bytes().splitlines()]
    assert [(r["file"], r["line"]) for r in rows] == [("<stdin>", 3), ("<stdin>", 4)]
    assert all("auditkit-ingest" not in r["reason"] for r in rows)
    assert [(r["file"], r["line"]) for r in kept] == [("<stdin>", 3), ("<stdin>", 4)]


def test_standard_input_only_once(store: Store) -> None:
    import io

    from auditkit.errors import UsageError

    with pytest.raises(UsageError, match="only once"):
        ingest_files(store, ["-", "-"], stdin=io.BytesIO(b""))


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_zip_archive_is_read_member_by_member(store: Store, tmp_path: Path) -> None:
    """A zipped export was taken for CSV and quarantined as 'unreadable header: utf-8
    codec can't decode'; each member is read as a file, named archive.zip!member."""
    okta = (FIXTURES / "okta" / "system_log.ndjson").read_bytes()
    example = next((FIXTURES.parents[2] / "examples" / "cloudtrail").glob("*.json"))
    archive = _zip(
        tmp_path / "export.zip",
        {
            "export/": b"",
            "export/okta.ndjson": okta + b'{"uuid": "broken"}\n',
            "export/AWSLogs/ct.json.gz": gzip.compress(example.read_bytes()),
            "export/notes.txt": b"exported by Ann\n",
            "__MACOSX/export/._okta.ndjson": b"\x00\x05\x16\x07",
        },
    )
    quarantine = tmp_path / "q.ndjson"
    result = ingest_files(store, [archive], tenant="acme", quarantine=quarantine)
    records = okta.count(b"\n") + len(orjson.loads(example.read_bytes())["Records"])
    assert result.stored == records and result.quarantined == 2 and result.balanced
    assert result.files == {
        f"{archive}!export/AWSLogs/ct.json.gz": "cloudtrail",
        f"{archive}!export/notes.txt": "unknown",
        f"{archive}!export/okta.ndjson": "okta",
    }
    assert result.skipped == {
        f"{archive}!export/": "folder entry of a zip archive",
        f"{archive}!__MACOSX/export/._okta.ndjson": "hidden or macOS metadata file in a zip "
        "archive",
    }
    rows = {r["file"]: r for r in map(orjson.loads, quarantine.read_bytes().splitlines())}
    assert rows[f"{archive}!export/okta.ndjson"]["line"] == okta.count(b"\n") + 1
    assert "cannot tell the format" in rows[f"{archive}!export/notes.txt"]["reason"]
    assert "auditkit-ingest" not in quarantine.read_text()
    # an explicit format reads every member with it; archives inside archives are read
    inner = _zip(tmp_path / "inner.zip", {"okta.ndjson": okta})
    outer = _zip(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes()}, zipfile.ZIP_STORED)
    result = ingest_files(store, [outer], format="okta", tenant="other")
    assert result.files == {f"{outer}!inner.zip!okta.ndjson": "okta"}
    assert result.stored == okta.count(b"\n")


def test_zip_bombs_are_refused_with_the_reason(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditkit.ingest import _inputs

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    okta = (FIXTURES / "okta" / "system_log.ndjson").read_bytes()
    bomb = _zip(
        tmp_path / "bomb.zip",
        {"a-okta.ndjson": okta, "b-zeros.ndjson": b"\n" * (20 * 1024 * 1024)},
    )
    result = ingest_files(store, [bomb], tenant="acme")
    assert (result.stored, result.quarantined) == (okta.count(b"\n"), 1)
    reason = result.problems[0].reason
    assert result.problems[0].file == f"{bomb}!b-zeros.ndjson"
    assert "refused: unpacks" in reason and "200-fold" in reason and "zip bomb" in reason
    assert not list(tmp_path.glob("auditkit-ingest-*"))
    # a member over the size limit, and members beyond the total for one ingest
    monkeypatch.setattr(_inputs, "MAX_MEMBER_BYTES", 1000)
    big = _zip(tmp_path / "big.zip", {"okta.ndjson": okta}, zipfile.ZIP_STORED)
    result = ingest_files(store, [big], tenant="acme")
    assert "over the 1000 bytes allowed for one zip member" in result.problems[0].reason
    monkeypatch.setattr(_inputs, "MAX_MEMBER_BYTES", 10**9)
    monkeypatch.setattr(_inputs, "MAX_ARCHIVE_BYTES", len(okta) + 10)
    two = _zip(tmp_path / "two.zip", {"a.ndjson": okta, "b.ndjson": okta})
    result = ingest_files(store, [two], tenant="acme")
    assert result.quarantined == 1 and result.problems[0].file == f"{two}!b.ndjson"
    assert "unpack to more than" in result.problems[0].reason
    encrypted = zipfile.ZipInfo("secret.ndjson")
    encrypted.flag_bits |= 0x1
    assert "encrypted" in str(_inputs.Unpacked()._refused(encrypted))


def test_a_member_compressed_with_a_method_zipfile_lacks_is_quarantined_by_name(
    store: Store, tmp_path: Path
) -> None:
    """Windows and 7-Zip write Deflate64 (method 9) for large files, which zipfile cannot
    unpack: the member is refused by name before any unpacking, the others are read."""
    okta = (FIXTURES / "okta" / "system_log.ndjson").read_bytes()
    archive = _zip(tmp_path / "d64.zip", {"a.ndjson": okta, "b.ndjson": okta}, zipfile.ZIP_STORED)
    raw = bytearray(archive.read_bytes())
    central = raw.rfind(b"PK\x01\x02")  # the last member's central directory entry
    raw[central + 10 : central + 12] = (9).to_bytes(2, "little")
    archive.write_bytes(bytes(raw))
    result = ingest_files(store, [archive], tenant="acme")
    assert (result.stored, result.quarantined) == (okta.count(b"\n"), 1)
    assert result.problems[0].file == f"{archive}!b.ndjson"
    assert result.problems[0].reason.startswith("compressed with Deflate64, which cannot be")


def test_archives_that_cannot_be_read_say_why(store: Store, tmp_path: Path) -> None:
    okta = (FIXTURES / "okta" / "system_log.ndjson").read_bytes()
    whole = _zip(tmp_path / "whole.zip", {"okta.ndjson": okta}).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    workbook = _zip(
        tmp_path / "export.xlsx", {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<x/>"}
    )
    empty = _zip(tmp_path / "empty.zip", {})
    result = ingest_files(store, [cut, workbook, empty], format="okta", tenant="acme")
    reasons = {q.file: q.reason for q in result.problems}
    assert reasons[str(cut)].startswith("not a readable zip archive")
    assert reasons[str(workbook)].startswith("an Excel workbook, not a log")
    assert result.skipped == {str(empty): "zip archive holding no files"}
    assert result.quarantined == 2 and result.stored == 0
    # a file named .zip that is not an archive is read for what it is
    misnamed = tmp_path / "okta.zip"
    misnamed.write_bytes(okta)
    assert ingest_files(store, [misnamed], tenant="acme").stored == okta.count(b"\n")
