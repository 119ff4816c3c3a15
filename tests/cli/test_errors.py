"""Errors as a user sees them: one line, no internals, before any work is done."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import pytest

from auditkit.cli import main, one_line
from auditkit.commands.base import COMMANDS, Command, output_path
from auditkit.errors import UsageError
from tests.cli.conftest import build_store

_INTERNALS = ("Traceback", "[SQL:", "sqlalche.me", "cryptography.io", "https://", "sqlite3.")


def _one_clean_line(err: str) -> str:
    assert err.count("\n") == 1, err
    assert not any(word in err for word in _INTERNALS), err
    return err


def test_store_that_is_a_directory_or_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir.db").mkdir()
    (tmp_path / "junk.db").write_text("hello, not a database\n")
    for target in ("dir.db", "junk.db"):
        for command in (["verify"], ["detect"], ["query", "--", "SELECT 1"]):
            argv = [command[0], str(tmp_path / target), *command[1:]]
            if command[0] == "query":
                argv = ["query", str(tmp_path / target), "SELECT * FROM events"]
            assert main(argv) == 2
            _one_clean_line(capsys.readouterr().err)


def test_a_malformed_key_file_is_one_line(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    for argv in (
        ["verify", sample_store, "--key", str(bad)],
        ["ingest", sample_store, str(bad), "--key", str(bad)],
        ["verify", sample_store, "--key", str(tmp_path / "missing.key")],
        ["verify", sample_store, "--public-key", str(bad)],
    ):
        assert main(argv) == 2
        err = _one_clean_line(capsys.readouterr().err)
        assert "key" in err


def test_foreign_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy.exc

    failures: list[BaseException] = [
        sqlalchemy.exc.OperationalError(
            "SELECT secret FROM t", {}, sqlite3.OperationalError("database is locked")
        ),
        RuntimeError("boom\nsecond line"),
    ]

    def handler(args: argparse.Namespace) -> int:
        raise failures.pop(0)

    monkeypatch.setitem(
        COMMANDS._items, "boom", Command("boom", handler, lambda p: None, "raise something")
    )
    assert main(["boom"]) == 2
    assert (
        _one_clean_line(capsys.readouterr().err) == "auditkit: database error: database is locked\n"
    )
    assert main(["boom"]) == 2
    err = _one_clean_line(capsys.readouterr().err)
    assert "RuntimeError: boom; second line" in err and "AUDITKIT_DEBUG" in err
    monkeypatch.setenv("AUDITKIT_DEBUG", "1")
    failures.append(RuntimeError("shown"))
    with pytest.raises(RuntimeError, match="shown"):
        main(["boom"])


def test_one_line_hides_passwords_and_keeps_the_message() -> None:
    assert (
        one_line("postgresql+psycopg://u:pw@h/db: refused")
        == "postgresql+psycopg://u:***@h/db: refused"
    )
    text = (
        "bad.key: Unable to load PEM file. See https://cryptography.io/en/latest/faq/ "
        "for more details. MalformedFraming"
    )
    assert one_line(text) == "bad.key: Unable to load PEM file. MalformedFraming"


# -- output paths: one rule for every command that writes a file ------------------------
def _writers(store: str, out: str) -> list[list[str]]:
    """Every command of this module's owner that writes a file, aimed at ``out``."""
    return [
        ["checkpoint", store, "-o", out],
        ["sample", "-o", out, "--events", "10", "--no-progress"],
        ["query", store, "SELECT tenant_id FROM events", "-o", out + ".csv"],
        ["proof", store, "--tenant", "acme", "--seq", "0", "-o", out],
        ["sample", "-o", str(Path(out).parent / "ok.ndjson"), "--labels", out, "--events", "300"],
        ["export", store, "--format", "csv", "-o", out],
        ["report", store, "--framework", "soc2", "--format", "html", "-o", out],
    ]


def test_output_into_a_missing_folder_is_created(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(len(_writers(sample_store, "x"))):
        argv = _writers(sample_store, str(tmp_path / f"new{i}" / "deeper" / "out"))[i]
        assert main(argv) == 0, (argv, capsys.readouterr().err)
        written = [p for p in (tmp_path / f"new{i}" / "deeper").iterdir() if p.is_file()]
        assert written and all(p.stat().st_size for p in written), argv


@pytest.mark.parametrize("kind", ["directory", "under a file"])
def test_output_that_cannot_be_written_fails_before_any_work(
    sample_store: str, tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir.csv").mkdir()
    (tmp_path / "a_dir").mkdir()
    target = str(tmp_path / "a_dir") if kind == "directory" else str(tmp_path / "a_file" / "out")
    for argv in _writers(sample_store, target):
        if kind == "directory" and argv[0] == "query":
            argv[-1] = str(tmp_path / "a_dir.csv")
        assert main(argv) == 2, argv
        err = _one_clean_line(capsys.readouterr().err)
        assert "is a directory" in err or "is not a folder" in err, err
    assert not list((tmp_path / "a_dir").iterdir())
    assert not (tmp_path / "ok.ndjson").exists()  # the sample was not written either


@pytest.mark.parametrize("victim", ["store", "key", "public key", "journal"])
def test_no_output_writes_over_a_store_or_its_keys(
    tmp_path: Path, victim: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo (``-o audit.db`` for ``-o audit.ndjson``) replaced the trail, and ``-o
    audit.db.key`` its signing key, with exit 0."""
    db = build_store(tmp_path / "s", events=50, days=2)
    target = {
        "store": db, "key": db + ".key", "public key": db + ".pub", "journal": db + "-wal",
    }[victim]  # fmt: skip
    if victim == "journal":
        Path(target).write_bytes(b"")
    before = Path(target).read_bytes()
    sample = str(tmp_path / "s" / "sample.ndjson")
    writers = [*_writers(db, target), ["ingest", db, sample, "--quarantine", target]]
    for argv in writers:
        if argv[0] == "query":
            argv[-1:] = [target, "--format", "csv"]
        assert main(argv) == 2, argv
        err = _one_clean_line(capsys.readouterr().err)
        assert "refusing to write over it" in err, (argv, err)
    assert Path(target).read_bytes() == before
    assert main(["verify", db, "--no-progress"]) in (0, 3)


def test_ingest_checks_its_quarantine_file_before_ingesting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = build_store(tmp_path / "s", events=50, days=2)
    (tmp_path / "q").mkdir()
    before = Path(db).stat().st_size
    assert (
        main(
            [
                "ingest",
                db,
                str(tmp_path / "s" / "sample.ndjson"),
                "--quarantine",
                str(tmp_path / "q"),
            ]
        )
        == 2
    )
    assert "--quarantine" in _one_clean_line(capsys.readouterr().err)
    assert Path(db).stat().st_size == before


def test_output_path_rule() -> None:
    with pytest.raises(UsageError, match="expected a file name"):
        output_path("")
    with pytest.raises(UsageError, match="is not a folder"):
        output_path("/dev/null/x.csv")
    with pytest.raises(UsageError, match="cannot"):
        output_path("/proc/auditkit-test/x.csv")


# -- sample sizes -------------------------------------------------------------------------
@pytest.mark.parametrize("events", [0, 1, 100, 250])
def test_small_samples(events: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.ndjson"
    assert main(["sample", "-o", str(out), "--events", str(events), "--days", "5"]) == 0
    assert len(out.read_bytes().splitlines()) == events
    assert f"wrote {events} events" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["--events", "-5"],
        ["--events", "many"],
        ["--days", "0"],
        ["--tenants", "0"],
        ["--tenants", "30", "--actors", "12"],
    ],
)
def test_bad_sample_counts_are_usage_errors(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sample", "-o", str(tmp_path / "s.ndjson"), *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "expected" in err
    assert not (tmp_path / "s.ndjson").exists()


def test_an_empty_folder_is_said_to_be_empty_not_missing(
    sample_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs" / "sub").mkdir(parents=True)
    assert main(["ingest", sample_store, str(tmp_path / "logs")]) == 2
    err = _one_clean_line(capsys.readouterr().err)
    assert err.endswith("logs: folder holds no files to ingest\n"), err


def test_an_unknown_option_is_named_with_the_commands_own_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``auditkit detect STORE -d x`` shows detect's options, not the list of commands."""
    for argv, command in (
        (["detect", "a.db", "-d", "rare_action"], "detect"),
        (["verify", "a.db", "extra"], "verify"),
        (["export", "a.db", "--formats", "csv", "-o", "x"], "export"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"usage: auditkit {command} " in err, err
        assert f"auditkit {command}: error: unrecognized arguments:" in err, err
    assert main(["--bogus"]) == 2
    assert "auditkit: error: unrecognized arguments: --bogus" in capsys.readouterr().err


def test_every_read_of_a_tampered_store_exits_1_as_verify_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A script tells a tampered trail (1) from a typo (2), whichever command read it."""
    store = build_store(tmp_path, events=200, days=2)
    with sqlite3.connect(store) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET action = 'user.logout' WHERE seq = 3")
    capsys.readouterr()
    for argv in (
        ["verify", store],
        ["detect", store],
        ["export", store, "--format", "csv", "-o", str(tmp_path / "out.csv")],
        ["query", store, "SELECT count(*) FROM events"],
    ):
        assert main(argv) == 1, argv
        assert "TAMPERED" in capsys.readouterr().err or argv[0] == "verify"


@pytest.mark.parametrize("tenant", ["", "   ", "a\nb", "\x1b[31mred", "x" * 513])
def test_a_tenant_option_that_cannot_name_a_tenant_is_a_usage_error(
    tmp_path: Path, tenant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--tenant ''`` said the records carry no tenant, "pass --tenant"; a newline or an
    escape sequence ran the ingest and quarantined every record, exit 0."""
    db = build_store(tmp_path / "s", events=50, days=2)
    sample = str(tmp_path / "s" / "sample.ndjson")
    before = Path(db).stat().st_size
    for argv in (
        ["ingest", db, sample, "--tenant", tenant],
        ["verify", db, "--tenant", tenant],
        ["export", db, "--format", "csv", "-o", str(tmp_path / "x.csv"), "--tenant", tenant],
        ["report", db, "--framework", "soc2", "--tenant", tenant],
        ["retention", db, "show", "--tenant", tenant],
        ["access", db, "grants", "--tenant", tenant],
        ["proof", db, "--tenant", tenant, "--seq", "0"],
    ):
        assert main(argv) == 2, argv
        assert "argument --tenant: expected" in capsys.readouterr().err, argv
    assert Path(db).stat().st_size == before


def test_a_long_sample_ends_by_today_and_ingests_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sample --days 365`` began on a fixed day and ran past today: ingest refused
    the future events (15,716 of 200,000 quarantined). Its last day was then today,
    whose later hours are still the future: a CI run at 00:11 UTC saw events at 11:35."""
    from datetime import UTC, date, datetime, timedelta

    import orjson

    out = tmp_path / "s.ndjson"
    assert main(["sample", "-o", str(out), "--days", "400", "--events", "2000"]) == 0
    times = [orjson.loads(line)["occurred_at"] for line in out.read_bytes().splitlines()]
    assert max(times) <= datetime.now(UTC).isoformat().replace("+00:00", "Z")
    db = str(tmp_path / "a.db")
    assert main(["init", db]) == 0
    assert main(["ingest", db, str(out), "--strict", "--no-progress"]) == 0
    from auditkit.commands.core import _sample_start

    for hour in (0, 12, 23):
        today = datetime(2026, 12, 8, hour, 11, tzinfo=UTC)
        first = date.fromisoformat(_sample_start(None, 400, today.date()))
        assert first + timedelta(days=400) <= today.date()
    assert main(["sample", "-o", str(out), "--start", "2026-13-01"]) == 2
    assert "--start" in capsys.readouterr().err


def test_a_moved_sample_ends_before_today_with_the_sessions_past_its_last_midnight() -> None:
    """Sessions begun late on a sample's last day run past its midnight: with the last
    day yesterday, ``sample --days 3 --events 6000`` run at 00:05 UTC on 2026-01-07 wrote
    events up to 00:29 that day, in the future."""
    from datetime import date, timedelta

    from auditkit.commands.core import _sample_start
    from auditkit.sample import iter_events

    for today in (date(2026, 1, 7), date(2026, 1, 8)):
        start = date.fromisoformat(_sample_start(None, 3, today))
        assert start < date(2026, 1, 5)  # moved back from the default
        chunks = iter_events(tenants=3, days=3, actors=150, events=6000, start=str(start))
        last = max(e["occurred_at"] for chunk in chunks for e in chunk)
        assert last > f"{start + timedelta(days=3)}T00:15", last  # past the last midnight
        assert last < today.isoformat(), (today, last)
