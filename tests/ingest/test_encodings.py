"""Files as Windows tools write them: a UTF-8 byte order mark (Excel's "CSV UTF-8",
PowerShell 7's ``Out-File``), UTF-16 with its byte order mark (Windows PowerShell's
``>``), CRLF line ends and blank lines; and a folder that holds the store itself."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from auditkit.errors import UsageError
from auditkit.ingest import _parallel
from auditkit.ingest.pipeline import ingest_files
from auditkit.ingest.registry import detect_format
from auditkit.store import Store
from tests.conftest import make_events

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.init(str(tmp_path / "a.db"))


def _ndjson(n: int = 30) -> bytes:
    lines = [orjson.dumps(e) for e in make_events(n)]
    return b"\r\n".join(lines[:5]) + b"\r\n\r\n  \r\n" + b"\r\n".join(lines[5:]) + b"\r\n"


def _stored(store: Store) -> list[str]:
    return sorted(store.load()["event_id"].to_list())


EXPECTED = sorted(e["event_id"] for e in make_events(30))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda b: BOM + b, id="utf-8 bom"),
        pytest.param(lambda b: b.decode().encode("utf-16"), id="utf-16 bom"),
        pytest.param(lambda b: b"\xfe\xff" + b.decode().encode("utf-16-be"), id="utf-16-be"),
        pytest.param(lambda b: gzip.compress(BOM + b), id="utf-8 bom gzip"),
        pytest.param(lambda b: gzip.compress(b.decode().encode("utf-16")), id="utf-16 gzip"),
    ],
)
def test_ndjson_in_any_windows_encoding_is_read_whole(
    store: Store, tmp_path: Path, encode: object, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_parallel, "BLOCK_BYTES", 2048)
    path = tmp_path / "events.ndjson"
    path.write_bytes(encode(_ndjson()))  # type: ignore[operator]
    assert detect_format(str(path)).name == "auditkit"
    result = ingest_files(store, [path], workers=workers)
    assert (result.stored, result.quarantined) == (30, 0), result
    assert _stored(store) == EXPECTED


def test_a_json_array_with_a_bom(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(BOM + orjson.dumps(make_events(30), option=orjson.OPT_INDENT_2))
    result = ingest_files(store, [path])
    assert (result.stored, result.quarantined) == (30, 0)


def test_an_excel_csv_with_a_bom_keeps_its_first_column(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(
        BOM + b"tenant_id,occurred_at,action,actor.id\r\n"
        b"acme,2026-01-05T09:00:00Z,user.login,u1\r\n"
        b"acme,2026-01-05T09:01:00Z,user.logout,u1\r\n"
    )
    assert detect_format(str(path)).name == "csv"
    result = ingest_files(store, [path])
    assert (result.stored, result.quarantined) == (2, 0)
    assert store.load()["tenant_id"].unique().to_list() == ["acme"]


def test_json_lines_are_never_taken_for_csv(tmp_path: Path) -> None:
    # a JSON line holds the names and commas the CSV sniffer looks for
    path = tmp_path / "events.txt"
    path.write_bytes(BOM + _ndjson())
    assert detect_format(str(path)).name == "auditkit"


def test_a_folder_holding_the_store_ingests_only_the_logs(store: Store, tmp_path: Path) -> None:
    (tmp_path / "events.ndjson").write_bytes(_ndjson())
    quarantine = tmp_path / "a.db.quarantine.ndjson"
    quarantine.write_text('{"file": "x", "reason": "earlier"}\n')
    result = ingest_files(store, [tmp_path], quarantine=quarantine)
    assert (result.stored, result.quarantined) == (30, 0), result
    with pytest.raises(UsageError, match="the store's own"):
        ingest_files(store, [tmp_path / "a.db", quarantine], quarantine=quarantine)


def test_a_key_kept_elsewhere_under_its_own_name_is_left_out_too(tmp_path: Path) -> None:
    """The store's key files are left out whatever their names: the public key is
    written beside the private one by the store's rule (``signing.pem`` ->
    ``signing.pem.pub``), not by swapping the suffix."""
    store = Store.init(str(tmp_path / "a.db"), key=tmp_path / "signing.pem")
    assert store.public_key_path == tmp_path / "signing.pem.pub"
    assert store.public_key_path.is_file()
    (tmp_path / "events.ndjson").write_bytes(_ndjson())
    result = ingest_files(store, [tmp_path])
    assert (result.stored, result.quarantined) == (30, 0), result


CSV_FIXTURES = Path(__file__).parent / "fixtures" / "csv"


def test_an_excel_csv_with_semicolons_is_read_by_its_header(store: Store) -> None:
    """Excel where the decimal mark is a comma (most of Europe) writes ``;`` between
    cells and ``48,85`` for numbers; with quoted line ends and a BOM.  Every row was
    quarantined as one unknown column before."""
    path = CSV_FIXTURES / "excel_semicolon_utf8.csv"
    assert detect_format(str(path)).name == "csv"
    result = ingest_files(store, [path])
    assert (result.read, result.stored, result.quarantined) == (3, 3, 0), result.problems
    frame = store.load().sort("event_id")
    assert frame["actor_name"].to_list() == ["Zoë Müller", "Zoë Müller", "Ann"]
    assert frame["description"].to_list()[:2] == [
        "first line\r\nsecond line",
        'a; semicolon, and "quotes"',
    ]
    assert frame["geo_lat"].to_list()[0] == 48.85


def test_an_excel_csv_not_in_utf8_quarantines_only_its_rows_with_other_letters(
    store: Store,
) -> None:
    """Excel's plain "CSV" is Windows-1252: a row with a letter beyond ASCII is
    quarantined naming its line and column, and the rows after it are still read
    (before, the file was one record blamed on its header, and every row was lost)."""
    path = CSV_FIXTURES / "excel_windows1252.csv"
    result = ingest_files(store, [path], format="csv")
    assert (result.read, result.stored, result.quarantined) == (3, 1, 2)
    assert [(p.line, p.field) for p in result.problems] == [(2, "actor.name"), (4, "actor.name")]
    assert "CSV UTF-8" in result.problems[0].reason
    assert store.load()["event_id"].to_list() == ["xl-3"]
