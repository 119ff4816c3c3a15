"""Records flattened into CSV columns by the tool that exported them (Kibana's CSV
reports, the Logs Explorer's download, SIEM tables): ``a.b`` columns, lists and objects
as JSON cells.  Each row, nested again, gives the event its JSON record gives."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditkit.export import export_store
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.conftest import make_events
from tests.ingest._records import fixture_records

FIXTURES = Path(__file__).parent / "fixtures"
COLUMNS = ["event_id", "tenant_id", "occurred_at", "action", "outcome", "actor_id", "targets"]


def _flat(record: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """As exporters flatten: objects into dotted columns, lists as JSON, text cells."""
    out: dict[str, str] = {}
    for key, value in record.items():
        column = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, column + "."))
        elif isinstance(value, list | dict):
            out[column] = orjson.dumps(value).decode()
        elif value is None:
            out[column] = ""
        elif isinstance(value, bool):
            out[column] = "true" if value else "false"
        else:
            out[column] = str(value)
    return out


def _csv(records: list[dict[str, Any]]) -> str:
    rows = [_flat(r) for r in records]
    header = sorted({c for r in rows for c in r})
    out = io.StringIO()
    writer = csv.DictWriter(out, header)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _ecs_export(tmp_path: Path) -> Path:
    source = Store.init(str(tmp_path / "ecs-source.db"))
    source.append(make_events(25))
    export_store(source, tmp_path / "e.ecs.ndjson", format="ecs")
    return tmp_path / "e.ecs.ndjson"


SOURCES = {
    "gcp": "gcp/gcloud_logging_read.json",
    "ocsf": "ocsf/security_lake_and_okta.ocsf.json",
    "cloudtrail": "cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json",
    "okta": "okta/system_log.ndjson",
    "ecs": None,
}


@pytest.mark.parametrize("source", SOURCES)
def test_a_flattened_export_gives_the_events_its_records_give(tmp_path: Path, source: str) -> None:
    plain = _ecs_export(tmp_path) if SOURCES[source] is None else FIXTURES / SOURCES[source]
    flat = tmp_path / "export.csv"
    flat.write_text(_csv(fixture_records(plain)))
    a, b = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    expected = ingest_files(a, [plain], tenant="t")
    result = ingest_files(b, [flat], tenant="t")
    assert result.files == {str(flat): source}
    assert (result.stored, result.quarantined) == (expected.stored, 0)
    assert b.load().select(COLUMNS).equals(a.load().select(COLUMNS))


def test_a_named_format_reads_its_fields_flattened(tmp_path: Path) -> None:
    flat = tmp_path / "kibana.csv"
    flat.write_text(_csv(fixture_records(_ecs_export(tmp_path))))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [flat], format="ecs")
    assert (result.stored, result.quarantined) == (25, 0)


def test_canonical_csv_and_unknown_columns_are_read_as_before(tmp_path: Path) -> None:
    """Canonical CSV (``actor.id`` columns) stays canonical CSV; dotted columns of no
    known format are still a file of unknown format, named by its columns."""
    source = Store.init(str(tmp_path / "s.db"))
    source.append(make_events(5))
    export_store(source, tmp_path / "e.csv", format="csv")
    (tmp_path / "other.csv").write_text("who.name,what.verb\nann,login\n")
    result = ingest_files(
        Store.init(str(tmp_path / "a.db")), [tmp_path / "e.csv", tmp_path / "other.csv"]
    )
    assert result.files[str(tmp_path / "e.csv")] == "csv"
    assert result.stored == 5
    assert "its first line has the columns who.name, what.verb" in result.problems[0].reason
