"""Microsoft Sentinel (Log Analytics) tables as analysts export them: the portal's CSV
(``TimeGenerated [UTC]``, times as the browser shows them), ``az monitor log-analytics
query``'s JSON and the query API's response.  Rows of ``AWSCloudTrail`` and
``Okta_CL`` give the events the source's own records give; the newer Okta connector's
normalised tables are quarantined row by row, naming the table.  Before, each of these
files was one quarantined file of unknown format."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditkit.ingest._sentinel import _portal_time, okta_record
from auditkit.ingest.pipeline import ingest_files
from auditkit.store import Store
from tests.ingest._records import fixture_records, stored_events
from tests.ingest._sentinel_rows import (
    _portal_time as shown,
)
from tests.ingest._sentinel_rows import (
    api_response,
    aws_row,
    az_json,
    okta_row,
    portal_csv,
)

FIXTURES = Path(__file__).parent / "fixtures"
CT = FIXTURES / "cloudtrail/123456789012_CloudTrail_us-east-1_20240307T1830Z_example.json"
OKTA = FIXTURES / "okta/api_logs_page.json"
OKTA_LOG = FIXTURES / "okta/system_log.ndjson"

LAYOUTS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "portal-gb.csv": portal_csv,
    "portal-us.csv": lambda rows: portal_csv(rows, us=True),
    "az.json": az_json,
    "api.json": api_response,
}
TABLES = {
    "AWSCloudTrail": (CT, aws_row, "cloudtrail"),
    "Okta_CL": (OKTA, okta_row, "okta"),
    "Okta_CL-log": (OKTA_LOG, okta_row, "okta"),
}


def _events(store: Store) -> list[dict[str, Any]]:
    rows = stored_events(store, "original", "envelope", "sentinel_table")
    for row in rows:
        row["envelope"] = (row["envelope"], row.pop("sentinel_table"))
    return rows


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("table", TABLES)
def test_rows_give_the_events_the_source_records_give(
    tmp_path: Path, table: str, layout: str
) -> None:
    plain, to_row, source = TABLES[table]
    records = fixture_records(plain)
    export = tmp_path / f"{table}-{layout}"
    export.write_bytes(LAYOUTS[layout]([to_row(r) for r in records]))
    a, b = Store.init(str(tmp_path / "a.db")), Store.init(str(tmp_path / "b.db"))
    expected = ingest_files(a, [plain], tenant="acme")
    result = ingest_files(b, [export], tenant="acme")
    assert result.files == {str(export): source}
    assert (result.read, result.stored, result.quarantined) == (expected.read, expected.stored, 0)
    got, want = _events(b), _events(a)
    name = table.split("-")[0]
    assert {e["envelope"] for e in got} == {("sentinel", name)}
    assert all(e["original"]["TenantId"] for e in got)  # the row, as exported
    for e in got + want:
        e["envelope"] = e["original"] = None
    assert got == want


def test_the_portal_export_as_sentinel_writes_it(tmp_path: Path) -> None:
    """A ConsoleLogin that failed, as the portal exports AWSCloudTrail: the header and
    cells as written (times ``dd/mm/yyyy, hh:mm:ss.fff`` under ``[UTC]``, JSON columns
    doubled quotes, empty cells), then a row whose time is not a time and one without
    its ``EventName``: each quarantined alone, at its line, naming its column."""
    header = (
        '"TimeGenerated [UTC]",AwsEventId,EventVersion,EventSource,EventTypeName,EventName,'
        "UserIdentityType,UserIdentityPrincipalid,UserIdentityArn,UserIdentityAccountId,"
        'UserIdentityUserName,SessionMfaAuthenticated,"SessionCreationDate [UTC]",AWSRegion,'
        "SourceIpAddress,UserAgent,ErrorCode,ErrorMessage,RequestParameters,"
        "ResponseElements,AdditionalEventData,ReadOnly,RecipientAccountId,ManagementEvent,"
        "TenantId,Category,TlsVersion,Type"
    )
    login = (
        '"29/03/2025, 11:10:09.000","6db58122-d1e7-4eb8-a90f-6be95bd0691b","1.09",'
        '"signin.amazonaws.com",AwsConsoleSignIn,ConsoleLogin,IAMUser,AIDAEXAMPLE5RV72CDT5,,'
        '072643944673,mmeyer,,,"us-east-1","128.94.16.112","Mozilla/5.0 (Windows NT 10.0)",,'
        '"Failed authentication",,"{""ConsoleLogin"":""Failure""}",'
        '"{""LoginTo"":""https://console.aws.amazon.com/"",""MFAUsed"":""Yes""}",false,'
        '072643944673,true,"46bec743-35fa-4608-b7e2-2aa3c38a97c2",Management,"TLSv1.3",'
        "AWSCloudTrail"
    )
    bad_time = login.replace('"29/03/2025, 11:10:09.000"', '"yesterday"').replace("6db5", "7db5")
    no_name = login.replace(",ConsoleLogin,", ",,").replace("6db5", "8db5")
    path = tmp_path / "query_data.csv"
    path.write_text("\n".join([header, login, bad_time, no_name]) + "\n", encoding="utf-8-sig")
    store = Store.init(str(tmp_path / "a.db"))
    result = ingest_files(store, [path])
    assert (result.read, result.stored, result.quarantined) == (3, 1, 2)
    (event,) = _events(store)
    assert (event["action"], event["outcome"], event["tenant_id"]) == (
        "user.login",
        "failure",
        "072643944673",
    )
    assert str(event["occurred_at"]).startswith("2025-03-29 11:10:09")
    assert event["original"]["ErrorMessage"] == "Failed authentication"
    problems = {q.line: (q.field, q.reason) for q in result.problems}
    assert problems[3][0] == "TimeGenerated"
    assert "'yesterday'" in problems[3][1]
    assert problems[4][0] == "EventName"
    assert "(in a row of AWSCloudTrail)" in problems[4][1]


def test_okta_cl_rows_name_their_columns(tmp_path: Path) -> None:
    """A row of Okta_CL without its event type, or with a number that is none, is
    quarantined naming the table's column (``eventType_s``), not Okta's field."""
    rows = [okta_row(e) for e in fixture_records(OKTA)]
    rows[0] = {k: v for k, v in rows[0].items() if k != "eventType_s"}
    rows[1]["client_geographicalContext_geolocation_lat_d"] = "north"
    path = tmp_path / "okta.json"
    path.write_bytes(az_json(rows))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], tenant="acme")
    assert (result.read, result.quarantined) == (2, 2)
    fields = sorted(q.field or "" for q in result.problems)
    assert fields == ["client_geographicalContext_geolocation_lat_d", "eventType_s"]


def test_okta_cl_needs_a_tenant(tmp_path: Path) -> None:
    from auditkit.errors import UsageError

    path = tmp_path / "okta.csv"
    path.write_bytes(portal_csv([okta_row(e) for e in fixture_records(OKTA)]))
    with pytest.raises(UsageError, match="--tenant"):
        ingest_files(Store.init(str(tmp_path / "a.db")), [path])


def test_normalised_okta_tables_are_quarantined_naming_the_table(tmp_path: Path) -> None:
    """The newer connector's tables hold the System Log normalised to Sentinel's schema,
    from which Okta's event cannot be rebuilt: each row is quarantined saying so, with
    or without ``--tenant``."""
    row = {
        "TimeGenerated": "2024-05-06T07:08:09.123Z",
        "EventOriginalType": "user.session.start",
        "EventOriginalUid": "a1b2",
        "EventResult": "Failure",
        "OriginalOutcomeResult": "FAILURE",
        "ActorUsername": "ann@example.com",
        "ActorUserId": "00u1",
        "SrcIpAddr": "198.51.100.2",
        "OriginalTarget": None,
        "Type": "OktaV2_CL",
    }
    path = tmp_path / "okta_v2.json"
    path.write_bytes(az_json([row, {**row, "EventOriginalUid": "c3"}]))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path])
    assert (result.read, result.stored, result.quarantined) == (2, 0, 2)
    assert all(
        "a row of the Microsoft Sentinel table OktaV2_CL" in q.reason
        and "export the Okta_CL table" in q.reason
        for q in result.problems
    )


def test_format_cloudtrail_reads_the_table(tmp_path: Path) -> None:
    path = tmp_path / "ct.csv"
    path.write_bytes(portal_csv([aws_row(r) for r in fixture_records(CT)]))
    result = ingest_files(Store.init(str(tmp_path / "a.db")), [path], format="cloudtrail")
    assert (result.stored, result.quarantined) == (20, 0)


def test_times_in_another_zone_are_refused() -> None:
    from auditkit.errors import SchemaError

    with pytest.raises(SchemaError, match="not UTC"):
        _portal_time("21/04/2025, 09:45:54.000", "TimeGenerated", "Local Time")


@settings(max_examples=200, deadline=None)
@given(
    when=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC)
    ),
    us=st.booleans(),
)
def test_a_time_as_the_portal_shows_it_is_the_same_instant(when: datetime, us: bool) -> None:
    """Property: whatever the instant, shown as en-GB (24-hour, day first) or en-US
    (AM/PM, month first), or as ISO 8601, it reads back as that instant to the
    millisecond the portal shows."""
    when = when - timedelta(microseconds=when.microsecond % 1000)
    iso = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    for text, note in ((shown(iso, us), "UTC"), (iso, None)):
        got = _portal_time(text, "TimeGenerated", note)
        assert datetime.fromisoformat(got.replace("Z", "+00:00")) == when


_NAME = st.from_regex(r"[a-z][a-zA-Z0-9]{0,7}", fullmatch=True)
_LEAF = st.one_of(
    st.text(max_size=8).filter(lambda s: not s.lstrip().startswith("[") and s.strip() != ""),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.floats(allow_nan=False, allow_infinity=False, width=32).filter(lambda f: not f.is_integer()),
    st.lists(st.dictionaries(_NAME, st.text(max_size=4), max_size=2), min_size=1, max_size=2),
)
_OBJECT = st.recursive(
    st.dictionaries(_NAME, _LEAF, min_size=1, max_size=3),
    lambda inner: st.dictionaries(_NAME, st.one_of(_LEAF, inner), min_size=1, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(event=_OBJECT, layout=st.sampled_from(["csv", "az"]))
def test_an_okta_cl_row_gives_back_the_log_event(event: dict[str, Any], layout: str) -> None:
    """Property: a LogEvent flattened into Okta_CL's typed columns (as the connector
    wrote it) reads back as the LogEvent, whether the cells are text (the portal's CSV,
    az) or typed (the API)."""
    event = {k: v for k, v in event.items() if k not in ("published", "uuid")}
    row = okta_row(event)
    if layout == "csv":
        row = {
            k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in row.items()
        }
    back = okta_record(row)
    want = json.loads(json.dumps(event))
    assert orjson.dumps(back, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        _as_read(want, layout), option=orjson.OPT_SORT_KEYS
    )


def _as_read(value: Any, layout: str) -> Any:
    """What a LogEvent's values read back as: floats as written in text (to their
    repr's precision), the rest as they are."""
    if isinstance(value, dict):
        return {k: _as_read(v, layout) for k, v in value.items()}
    if isinstance(value, float) and layout == "csv":
        return float(str(value))
    return value
