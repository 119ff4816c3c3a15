"""``auditkit export``: formats, tenant and time filters, refusal of a tampered store."""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
import pytest

from auditkit.cli import main
from auditkit.store import Store
from tests.conftest import make_events


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = str(tmp_path / "audit.db")
    store = Store.init(path)
    store.append(make_events(30) + make_events(10, "globex"))
    return path


@pytest.mark.parametrize(
    "fmt", ["csv", "json", "ndjson", "parquet", "cef", "leef", "ocsf", "ecs", "syslog", "hec"]
)
def test_export_each_format(
    fmt: str, store_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"out.{fmt}"
    assert main(["export", store_path, "--format", fmt, "-o", str(out)]) == 0
    assert "wrote 40 events" in capsys.readouterr().out
    assert out.stat().st_size > 0


def test_export_filters_by_tenant_and_time(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "acme.ndjson"
    argv = [
        "export",
        store_path,
        "-o",
        str(out),
        "--tenant",
        "acme",
        "--since",
        "2026-01-05T08:10:00Z",
        "--until",
        "2026-01-05T08:20:00Z",
    ]
    assert main(argv) == 0
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [e["seq"] for e in events] == list(range(10, 20))
    assert {e["tenant_id"] for e in events} == {"acme"}


def test_export_round_trips_through_ingest(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "all.csv"
    assert main(["export", store_path, "-o", str(out), "--no-store-fields"]) == 0
    again = str(tmp_path / "again.db")
    assert main(["init", again]) == 0
    assert main(["ingest", again, str(out), "--format", "csv", "--no-progress"]) == 0
    a = Store.open(store_path).load().drop("received_at")
    b = Store.open(again).load().drop("received_at")
    assert a.equals(b)


def test_export_refuses_a_tampered_store(
    store_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(store_path)
    with store.backend.connect() as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        conn.execute(
            "UPDATE events SET action = 'document.delete' WHERE seq = 3 AND tenant_id = 'acme'"
        )
        conn.commit()
    out = tmp_path / "x.csv"
    assert main(["export", store_path, "-o", str(out)]) == 1
    assert "seq=3" in capsys.readouterr().err
    assert not out.exists()


def test_export_usage_errors(
    store_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", store_path, "-o", str(tmp_path / "x.xlsx")]) == 2
    assert "cannot tell the export format" in capsys.readouterr().err
    assert main(["export", store_path, "-o", str(tmp_path / "x.csv"), "--since", "soon"]) == 2
    assert main(["export", store_path, "-o", str(tmp_path / "x.csv"), "--format", "xls"]) == 2


def test_parquet_export_reads_back(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    assert main(["export", store_path, "-o", str(out), "--tenant", "globex"]) == 0
    assert pl.read_parquet(out).height == 10


def test_export_into_a_missing_folder_creates_it(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "x.cef"
    assert main(["export", store_path, "-o", str(out), "--no-progress"]) == 0
    assert out.read_bytes().count(b"\n") == 40


def test_export_to_a_directory_is_refused_before_any_work(
    store_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", store_path, "-o", str(tmp_path), "--format", "cef"]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_unknown_tenant_is_an_error_naming_only_it(
    store_path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["export", store_path, "-o", str(tmp_path / "x.ocsf.ndjson"), "--tenant", "nope"]) == 2
    )
    err = capsys.readouterr().err
    assert "nope" in err and "globex" not in err
    assert not (tmp_path / "x.ocsf.ndjson").exists()


def test_export_leaves_no_temporary_files(
    store_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert main(["export", store_path, "-o", str(tmp_path / "x.parquet")]) == 0
    assert list(scratch.iterdir()) == []
    assert pl.read_parquet(tmp_path / "x.parquet").height == 40


@pytest.mark.parametrize("fmt", ["cef", "parquet", "ndjson"])
def test_a_row_deleted_is_found_at_the_end_and_leaves_no_file(
    fmt: str, store_path: str, tmp_path: Path
) -> None:
    """Exports are written while the store is verified; a problem only the end of the
    pass can see (a deleted row) still leaves no file, no partial file, and the
    previous export in place."""
    out = tmp_path / f"x.{fmt}"
    assert main(["export", store_path, "-o", str(out), "--format", fmt]) == 0
    before = out.read_bytes()
    store = Store.open(store_path)
    with store.backend.connect() as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
        conn.execute("DELETE FROM events WHERE seq = 25 AND tenant_id = 'acme'")
        conn.commit()
    assert main(["export", store_path, "-o", str(out), "--format", fmt]) == 1
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_iter_verified_stops_its_reader_when_left_early(store_path: str) -> None:
    import threading

    store = Store.open(store_path)
    chunks = store.iter_verified()
    first = next(chunks)
    assert first.height > 0
    chunks.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("auditkit-")]


def test_streamed_export_equals_the_export_of_a_loaded_frame_on_both_backends(
    store_location: str, tmp_path: Path
) -> None:
    from auditkit.export import export_frame
    from auditkit.export.formats import export_store

    store = Store.init(store_location)
    store.append(make_events(40) + make_events(25, "globex"))
    for fmt in ("cef", "ndjson"):
        streamed, loaded = tmp_path / f"s.{fmt}", tmp_path / f"l.{fmt}"
        assert export_store(store, streamed, format=fmt).rows == 65
        export_frame(store.load(), loaded, format=fmt)
        assert streamed.read_bytes() == loaded.read_bytes()


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("fmt", ["csv", "ocsf", "ecs", "ndjson"])
@pytest.mark.parametrize(
    ("source", "ingest"),
    [
        ("okta/system-log.json", ["--format", "okta", "--tenant", "acme"]),
        ("cloudtrail/111122223333_CloudTrail_eu-central-1_20240603T2300Z_Example.json", []),
    ],
    ids=["okta", "cloudtrail"],
)
def test_an_export_of_source_events_reads_back_with_the_format_guessed(
    tmp_path: Path, fmt: str, source: str, ingest: list[str]
) -> None:
    """The source record kept in each event's metadata holds Okta's or CloudTrail's
    field names, and their sniffers claimed auditkit's own CSV, OCSF and ECS exports:
    every record quarantined (or "Okta records carry no tenant")."""
    db, again = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    assert main(["init", db]) == 0 and main(["init", again]) == 0
    argv = ["ingest", db, str(EXAMPLES / source), *ingest, "--no-progress", "--strict"]
    assert main(argv) == 0
    out = tmp_path / f"x.{fmt}"
    assert main(["export", db, "--format", fmt, "-o", str(out)]) == 0
    assert main(["ingest", again, str(out), "--no-progress", "--strict"]) == 0
    a, b = Store.open(db).load(), Store.open(again).load()
    assert b.height == a.height > 0
    assert b["event_id"].sort().to_list() == a["event_id"].sort().to_list()


@pytest.mark.parametrize("name", ["out.csv.gz", "out.ndjson.gz", "out.csv.GZ"])
@pytest.mark.parametrize("explicit", [True, False])
def test_an_export_named_gz_is_gzipped_and_reads_back(
    store_path: str, tmp_path: Path, name: str, explicit: bool
) -> None:
    """``--format csv -o out.csv.gz`` wrote plain CSV under a gzip name (zcat and SIEM
    loaders then failed)."""
    import gzip

    out = tmp_path / "files" / name
    fmt = name.split(".")[1]
    argv = ["export", store_path, "-o", str(out), *(["--format", fmt] if explicit else [])]
    assert main(argv) == 0
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(out.read_bytes())
    assert [p.name for p in out.parent.iterdir()] == [name]  # nothing left beside it
    again = str(tmp_path / "again.db")
    assert main(["init", again]) == 0
    assert main(["ingest", again, str(out), "--no-progress", "--strict"]) == 0
    assert Store.open(again).count() == 40


def test_parquet_named_gz_is_refused(store_path: str, tmp_path: Path) -> None:
    assert main(["export", store_path, "-o", str(tmp_path / "x.parquet.gz")]) == 2
    assert not list(tmp_path.glob("x.*"))
