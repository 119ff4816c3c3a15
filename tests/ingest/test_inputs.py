"""Inputs as a newcomer hands them over: empty files, piped exports, zip archives,
and formats whose records carry no tenant."""

from __future__ import annotations

import gzip
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
