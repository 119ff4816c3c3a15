"""A CSV is canonical CSV only when its header has a canonical event's shape, and
lines of syslog, CEF or LEEF (export formats auditkit writes for SIEMs) are not
CSV at all: such files are quarantined whole, saying what they are and what to
pass, instead of every row being refused for a reason that misleads."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.errors import UsageError
from auditkit.export import export_store
from auditkit.ingest.formats.csv import CsvFormat
from auditkit.ingest.pipeline import IngestResult, ingest_files
from auditkit.store import Store
from tests.conftest import make_events

#: a home-grown application log, and GitHub's audit log as its CSV export gives it
HOMEGROWN = (
    "timestamp,user,action,ip\n"
    "2024-06-03T10:00:00Z,alice,login,1.2.3.4\n"
    "2024-06-03T10:01:00Z,bob,delete,1.2.3.5\n"
)
GITHUB = (
    "@timestamp,_document_id,action,actor,actor_id,actor_location.country_code,business,"
    "created_at,operation_type,org,repo,user\n"
    "1717405200000,doc-1,org.add_member,octocat,583231,US,acme-ent,1717405200000,create,"
    "acme,,hubot\n"
    "1717405260000,doc-2,repo.access,octocat,583231,,acme-ent,1717405260000,modify,acme,"
    "acme/secret,\n"
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.init(str(tmp_path / "a.db"))


def _one_unknown(result: IngestResult) -> str:
    assert (result.read, result.stored, result.quarantined) == (1, 0, 1), result.summary()
    problem = result.problems[0]
    assert problem.line is None and problem.record is None
    return problem.reason


@pytest.mark.parametrize(("name", "text"), [("homegrown.csv", HOMEGROWN)])
@pytest.mark.parametrize("tenant", [None, "acme"])
def test_another_tools_csv_with_an_action_column_is_a_file_of_unknown_format(
    store: Store, tmp_path: Path, name: str, text: str, tenant: str | None
) -> None:
    """An ``action`` column (or ``actor``, ``actor_id``) made canonical CSV claim the
    file: without --tenant a usage error about a tenant_id column, with it every row
    quarantined for columns it never had."""
    path = tmp_path / name
    path.write_text(text)
    assert CsvFormat().sniff(text.encode(), str(path)) == 0
    reason = _one_unknown(ingest_files(store, [path], tenant=tenant))
    assert reason.startswith("cannot tell the format of this file (its first line has the columns")
    assert "--mapping FILE" in reason and "tenant_id" not in reason


def test_githubs_csv_export_is_read_as_github_not_canonical_csv(
    store: Store, tmp_path: Path
) -> None:
    """GitHub's audit log export, once a file of unknown format, is ``--format github``."""
    path = tmp_path / "gh.csv"
    path.write_text(GITHUB)
    assert CsvFormat().sniff(GITHUB.encode(), str(path)) == 0
    result = ingest_files(store, [path])
    assert result.files == {str(path): "github"}
    assert (result.read, result.stored, result.quarantined) == (2, 2, 0), result.summary()


@pytest.mark.parametrize(
    "header",
    [
        "event_id,tenant_id,occurred_at,action,actor.id",
        "occurred_at;action;actor.id",  # no tenant_id column: --tenant gives it
        "tenant_id,occurred_at,action,actor_id,source_ip",  # an event frame's columns
        '"tenant_id","occurred_at","action","actor"',
        "tenant_id,occurred_at,action,actor.id,note",  # a stray column: refused row by row
    ],
)
def test_a_canonical_header_is_still_canonical_csv(header: str) -> None:
    assert CsvFormat().sniff(f"{header}\n".encode(), "e.csv") > 0


def test_own_csv_export_still_reads_back(store: Store, tmp_path: Path) -> None:
    source = Store.init(str(tmp_path / "s.db"))
    source.append(make_events(7))
    export_store(source, tmp_path / "e.csv", format="csv")
    (tmp_path / "e.txt").write_bytes((tmp_path / "e.csv").read_bytes())  # any name
    result = ingest_files(store, [tmp_path / "e.csv", tmp_path / "e.txt"])
    assert result.files == {str(tmp_path / "e.csv"): "csv", str(tmp_path / "e.txt"): "csv"}
    assert (result.stored, result.duplicates, result.quarantined) == (7, 7, 0)


@pytest.mark.parametrize(
    ("fmt", "says"),
    [
        ("syslog", "syslog lines (RFC 5424)"),
        ("cef", "CEF lines (ArcSight Common Event Format)"),
        ("leef", "LEEF lines (QRadar's Log Event Extended Format)"),
    ],
)
@pytest.mark.parametrize("format", ["auto", "csv"])
def test_own_siem_exports_are_named_not_read_as_csv(
    store: Store, tmp_path: Path, fmt: str, says: str, format: str
) -> None:
    """auditkit's syslog export was read as a CSV (its first line taken for a header):
    without --tenant a usage error about a tenant_id column, with it every line
    quarantined with garbage field names."""
    source = Store.init(str(tmp_path / "s.db"))
    source.append(make_events(5))
    path = tmp_path / f"out.{fmt}"
    export_store(source, path, format=fmt)
    for tenant in (None, "acme"):
        reason = _one_unknown(ingest_files(store, [path], format=format, tenant=tenant))
        assert says in reason, reason
        assert "an export format auditkit writes for SIEMs and does not read back" in reason
        assert "--format ndjson" in reason
    assert store.load().height == 0


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("<134>Jan  5 00:15:28 host app[42]: user alice logged in", "syslog lines (RFC 3164)"),
        ("Mar  7 18:30:00 host sshd[812]: Accepted publickey for ann", "syslog lines (RFC 3164)"),
        ("187 <110>1 2026-01-05T00:15:28Z - auditkit - job.run - x", "syslog lines (RFC 5424)"),
        ("<110>1 2026-01-05T00:15:28Z - auditkit - CEF - CEF:0|a|b|1|x|y|3|act=x", "CEF lines"),
        ("Jan  5 00:15:28 host CEF:0|Vendor|Product|1.0|100|Login|3|suser=ann", "CEF lines"),
        ("LEEF:1.0|Vendor|Product|1.0|Login|usrName=ann\tsrc=1.2.3.4", "LEEF lines"),
    ],
)
def test_syslog_cef_and_leef_of_other_tools_are_named(
    store: Store, tmp_path: Path, line: str, says: str
) -> None:
    path = tmp_path / "messages.log"
    path.write_text(f"{line}\n{line}\n")
    reason = _one_unknown(ingest_files(store, [path], tenant="acme"))
    assert says in reason, reason


def test_csv_forced_on_a_canonical_file_without_tenant_still_asks_for_one(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "e.csv"
    path.write_text("occurred_at,action,actor.id\n2026-01-05T09:00:00Z,user.login,u1\n")
    with pytest.raises(UsageError, match="no tenant_id column"):
        ingest_files(store, [path], format="csv")
