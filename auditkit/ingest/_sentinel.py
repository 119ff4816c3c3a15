"""Rows of Microsoft Sentinel (Log Analytics) tables, as analysts export them.

A query's results come out of the Azure portal as CSV ("Export to CSV": datetime
columns headed ``TimeGenerated [UTC]``, written as the portal shows them,
``21/04/2025, 09:45:54.000``), out of ``az monitor log-analytics query`` as a JSON
array of objects (every value as text, ``TableName`` beside the columns), and out
of the query API as ``{"tables": [{"columns": [...], "rows": [[...], ...]}]}``.
Two tables hold audit logs auditkit reads natively, and their rows are turned back
into the source's records, then read by that format's own mapper:

- ``Okta_CL``, the Okta connector's custom table (an Azure Function writing the
  System Log through the Data Collector API): each nested field of the ``LogEvent``
  a column, its path joined by ``_`` and its type as a suffix (``actor_alternateId_s``,
  ``published_t``, ``client_geographicalContext_geolocation_lat_d``,
  ``securityContext_isProxy_b``, ``uuid_g``), arrays as JSON text (``target_s``,
  ``request_ipChain_s``);
- ``AWSCloudTrail``, the AWS connector's table: CloudTrail's fields in PascalCase
  (``EventName``, ``UserIdentityArn``, ``SessionIssuerArn``, ``AwsEventId``...),
  JSON members as JSON text (``RequestParameters``), ``TimeGenerated`` for
  ``eventTime``.

The tables of the newer Okta connector (``OktaSSO``, ``OktaV2_CL``,
``OktaSystemLogs``) hold the events normalised to Sentinel's own schema
(``EventOriginalType``, ``ActorUsername``, ``SrcIpAddr``, ``EventResult``...): the
System Log's record cannot be rebuilt from them faithfully, so their rows are
quarantined, each naming the table and what to export instead.

The event keeps the row as exported in ``metadata.original``, with
``metadata.envelope`` ``sentinel`` and ``metadata.sentinel_table``; a row the
mapper refuses names the table's column, not the source's field.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Final

import orjson

from auditkit.errors import SchemaError
from auditkit.ingest._base import Format, RawRecord, Reading
from auditkit.ingest._mapping import json_safe
from auditkit.ingest._readers import csv_delimiter, iter_csv, loads_json, read_head
from auditkit.ingest._readers_extra import iter_json_auto

__all__ = ["SentinelInput", "sentinel_input", "sentinel_table"]

OKTA_CL: Final = "Okta_CL"
AWS_CLOUDTRAIL: Final = "AWSCloudTrail"
#: the tables of the newer Okta connector, normalised to Sentinel's schema
OKTA_NORMALISED: Final = ("OktaSSO", "OktaV2_CL", "OktaSystemLogs")

#: the portal's note on a datetime column's header (``TimeGenerated [UTC]``)
_ZONE_NOTE: Final = re.compile(r"^(.*?)\s*\[([^\]]*)\]\Z")
#: an Okta_CL column: the LogEvent path joined by ``_``, a type suffix
_TYPED: Final = re.compile(r"^([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z][A-Za-z0-9]*)*)_([sdbtg])\Z")

#: AWSCloudTrail's columns, as the CloudTrail record's paths
_CLOUDTRAIL: Final[dict[str, tuple[str, ...]]] = {
    "TimeGenerated": ("eventTime",),
    "EventVersion": ("eventVersion",),
    "EventSource": ("eventSource",),
    "EventName": ("eventName",),
    "EventTypeName": ("eventType",),
    "AWSRegion": ("awsRegion",),
    "SourceIpAddress": ("sourceIPAddress",),
    "UserAgent": ("userAgent",),
    "ErrorCode": ("errorCode",),
    "ErrorMessage": ("errorMessage",),
    "RequestParameters": ("requestParameters",),
    "ResponseElements": ("responseElements",),
    "AdditionalEventData": ("additionalEventData",),
    "AwsRequestId_": ("requestID",),
    "AwsRequestId": ("requestID",),
    "AwsEventId": ("eventID",),
    "Resources": ("resources",),
    "APIVersion": ("apiVersion",),
    "ReadOnly": ("readOnly",),
    "RecipientAccountId": ("recipientAccountId",),
    "ServiceEventDetails": ("serviceEventDetails",),
    "SharedEventId": ("sharedEventID",),
    "VpcEndpointId": ("vpcEndpointId",),
    "ManagementEvent": ("managementEvent",),
    "Category": ("eventCategory",),
    "UserIdentityType": ("userIdentity", "type"),
    "UserIdentityPrincipalid": ("userIdentity", "principalId"),
    "UserIdentityArn": ("userIdentity", "arn"),
    "UserIdentityAccountId": ("userIdentity", "accountId"),
    "UserIdentityInvokedBy": ("userIdentity", "invokedBy"),
    "UserIdentityAccessKeyId": ("userIdentity", "accessKeyId"),
    "UserIdentityUserName": ("userIdentity", "userName"),
    "UserIdentityUserId": ("userIdentity", "onBehalfOf", "userId"),
    "UserIdentityStoreArn": ("userIdentity", "onBehalfOf", "identityStoreArn"),
    "SessionMfaAuthenticated": ("userIdentity", "sessionContext", "attributes", "mfaAuthenticated"),
    "SessionCreationDate": ("userIdentity", "sessionContext", "attributes", "creationDate"),
    "SessionIssuerType": ("userIdentity", "sessionContext", "sessionIssuer", "type"),
    "SessionIssuerPrincipalId": ("userIdentity", "sessionContext", "sessionIssuer", "principalId"),
    "SessionIssuerArn": ("userIdentity", "sessionContext", "sessionIssuer", "arn"),
    "SessionIssuerAccountId": ("userIdentity", "sessionContext", "sessionIssuer", "accountId"),
    "SessionIssuerUserName": ("userIdentity", "sessionContext", "sessionIssuer", "userName"),
    "EC2RoleDelivery": ("userIdentity", "sessionContext", "ec2RoleDelivery"),
    "TlsVersion": ("tlsDetails", "tlsVersion"),
    "CipherSuite": ("tlsDetails", "cipherSuite"),
    "ClientProvidedHostHeader": ("tlsDetails", "clientProvidedHostHeader"),
}
#: AWSCloudTrail's columns that hold JSON text, booleans, times
_CT_JSON: Final = frozenset(
    ("RequestParameters", "ResponseElements", "AdditionalEventData", "Resources")
) | {"ServiceEventDetails"}
_CT_BOOL: Final = frozenset(("ReadOnly", "ManagementEvent"))
_CT_BOOL_TEXT: Final = frozenset(("SessionMfaAuthenticated",))  # "true"/"false" in CloudTrail
_CT_TIME: Final = frozenset(("TimeGenerated", "SessionCreationDate"))

#: the portal's datetime texts: day/month/year (24-hour clock), month/day/year (12-hour
#: clock with AM/PM, en-US), year/month/day; a comma or a space before the time
_PORTAL_TIME: Final = re.compile(
    r"^(\d{1,4})[/.](\d{1,2})[/.](\d{1,4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*([AaPp][Mm])?\Z"
)
_ISO_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _column(name: str) -> tuple[str, str | None]:
    """A column's name without the portal's zone note, and the note.

    >>> _column("TimeGenerated [UTC]"), _column("EventName")
    (('TimeGenerated', 'UTC'), ('EventName', None))
    """
    m = _ZONE_NOTE.match(name.strip())
    return (m.group(1), m.group(2).strip()) if m else (name.strip(), None)


def sentinel_table(columns: set[str]) -> str | None:
    """Which Sentinel table a row with these columns comes from, or ``None``.

    >>> sentinel_table({"TimeGenerated [UTC]", "eventType_s", "published_t [UTC]"})
    'Okta_CL'
    >>> sentinel_table({"TimeGenerated", "EventName", "EventSource", "UserIdentityArn"})
    'AWSCloudTrail'
    >>> sentinel_table({"TimeGenerated", "EventOriginalType", "ActorUsername", "SrcIpAddr"})
    'OktaSSO'
    >>> sentinel_table({"eventTime", "eventName", "eventSource"}) is None
    True
    """
    names = {_column(c)[0] for c in columns}
    if "eventType_s" in names and ("published_t" in names or "TimeGenerated" in names):
        return OKTA_CL
    if {"EventName", "EventSource"} <= names and (
        "TimeGenerated" in names
        and ({"UserIdentityArn", "UserIdentityType", "AwsEventId", "AWSRegion"} & names)
    ):
        return AWS_CLOUDTRAIL
    if (
        "EventOriginalType" in names
        and ({"ActorUsername", "OriginalActorAlternateId", "ActorUserId"} & names)
        and "TimeGenerated" in names
    ):
        return "OktaSSO"
    return None


def _portal_time(value: str, column: str, note: str | None) -> str:
    """A datetime cell as RFC 3339 text in UTC: ISO 8601 (the API, ``az``) or the
    portal's display (``21/04/2025, 09:45:54.000`` in a ``[UTC]`` column).

    >>> _portal_time("21/04/2025, 09:45:54.000", "TimeGenerated", "UTC")
    '2025-04-21T09:45:54.000Z'
    >>> _portal_time("4/21/2025, 9:45:54.120 PM", "TimeGenerated", "UTC")
    '2025-04-21T21:45:54.120Z'
    >>> _portal_time("2025-04-21T09:45:54.1234567Z", "TimeGenerated", None)
    '2025-04-21T09:45:54.1234567Z'
    """
    text = value.strip()
    if note is not None and note.upper() != "UTC":
        raise SchemaError(
            f"times shown in {note!r}, not UTC: set the portal's time zone to UTC before "
            "exporting, or export with az monitor log-analytics query",
            field=f"{column} [{note}]",
        )
    if _ISO_TIME.match(text):
        if text[10] == " ":
            text = text[:10] + "T" + text[11:]
        if not re.search(r"(Z|z|[+-]\d{2}:?\d{2})$", text):
            text += "Z"  # Log Analytics keeps times in UTC
        return text
    m = _PORTAL_TIME.match(text)
    if m is None:
        raise SchemaError(
            f"expected a time as the portal or az writes it, got {text[:40]!r}", field=column
        )
    a, b, c, hour, minute, second, fraction, half = m.groups()
    if len(a) == 4:
        year, month, day = int(a), int(b), int(c)
    elif half:  # en-US: month/day/year, 12-hour clock
        month, day, year = int(a), int(b), int(c)
    else:  # day/month/year, 24-hour clock (en-GB, most of Europe)
        day, month, year = int(a), int(b), int(c)
    h = int(hour)
    if half:
        if not 1 <= h <= 12:
            raise SchemaError(
                f"expected an hour of 1 to 12 before AM/PM, got {text!r}", field=column
            )
        h = h % 12 + (12 if half.upper() == "PM" else 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1900 <= year <= 9999 and h < 24):
        raise SchemaError(f"not a date and time: {text!r}", field=column)
    frac = f".{fraction}" if fraction else ""
    return f"{year:04d}-{month:02d}-{day:02d}T{h:02d}:{minute}:{second or '00'}{frac}Z"


def _json_text(value: Any, column: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return loads_json(value)
    except orjson.JSONDecodeError:
        return value  # text, as CloudTrail sometimes writes these members


def _bool(value: Any, column: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise SchemaError(f"expected true or false, got {str(value)[:40]!r}", field=column)


def _put(out: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = out
    for step in path[:-1]:
        child = node.get(step)
        if not isinstance(child, dict):
            child = node[step] = {}
        node = child
    node[path[-1]] = value


def _cells(row: Mapping[str, Any]) -> Iterator[tuple[str, str | None, Any]]:
    """The row's filled cells: (column, its zone note, value); empty cells, nulls and
    the portal's or az's own columns left out."""
    for raw, value in row.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        name, note = _column(str(raw))
        yield name, note, value


def cloudtrail_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The CloudTrail record of a row of ``AWSCloudTrail``.

    >>> r = cloudtrail_record({"TimeGenerated [UTC]": "21/04/2025, 09:45:54.000",
    ...     "EventName": "ConsoleLogin", "EventSource": "signin.amazonaws.com",
    ...     "UserIdentityArn": "arn:aws:iam::1:user/a", "SessionMfaAuthenticated": "False",
    ...     "ResponseElements": '{"ConsoleLogin":"Success"}', "ErrorCode": ""})
    >>> r["eventTime"], r["userIdentity"], r["responseElements"]
    ('2025-04-21T09:45:54.000Z', {'arn': 'arn:aws:iam::1:user/a', 'sessionContext': {'attributes': {'mfaAuthenticated': 'false'}}}, {'ConsoleLogin': 'Success'})
    """  # noqa: E501
    out: dict[str, Any] = {}
    for name, note, value in _cells(row):
        path = _CLOUDTRAIL.get(name)
        if path is None or (name == "AwsRequestId" and "requestID" in out):
            continue
        if name in _CT_TIME:
            value = _portal_time(str(value), name, note)
        elif name in _CT_JSON:
            value = _json_text(value, name)
        elif name in _CT_BOOL:
            value = _bool(value, name)
        elif name in _CT_BOOL_TEXT:
            value = "true" if _bool(value, name) else "false"
        elif not isinstance(value, str):
            value = str(value) if not isinstance(value, (dict, list)) else value
        _put(out, path, value)
    return out


def okta_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The Okta ``LogEvent`` of a row of ``Okta_CL``: each typed column back at its
    path (``actor_alternateId_s`` -> ``actor.alternateId``), numbers (``_d``) and
    booleans (``_b``) as such, times (``_t``) as RFC 3339, arrays kept as JSON text
    (``target_s``) as arrays.

    >>> okta_record({"TimeGenerated [UTC]": "x", "eventType_s": "user.session.start",
    ...     "published_t [UTC]": "06/05/2024, 07:08:09.000", "actor_alternateId_s": "a@x",
    ...     "client_geographicalContext_geolocation_lat_d": "52.52",
    ...     "securityContext_isProxy_b": "False", "target_s": '[{"id": "0oa1"}]'})
    {'eventType': 'user.session.start', 'published': '2024-05-06T07:08:09.000Z', 'actor': {'alternateId': 'a@x'}, 'client': {'geographicalContext': {'geolocation': {'lat': 52.52}}}, 'securityContext': {'isProxy': False}, 'target': [{'id': '0oa1'}]}
    """  # noqa: E501
    out: dict[str, Any] = {}
    for name, note, value in _cells(row):
        m = _TYPED.match(name)
        if m is None:
            continue  # TimeGenerated, TenantId, Type, SourceSystem, Computer, RawData...
        path, kind = tuple(m.group(1).split("_")), m.group(2)
        if kind == "t":
            value = _portal_time(str(value), name, note)
        elif kind == "d":
            if isinstance(value, str):
                try:
                    number = float(value.replace(",", ".") if value.count(",") == 1 else value)
                except ValueError:
                    raise SchemaError(
                        f"expected a number, got {value[:40]!r}", field=name
                    ) from None
                value = int(number) if number.is_integer() and "." not in value else number
        elif kind == "b":
            value = _bool(value, name)
        elif isinstance(value, str) and value.lstrip().startswith("["):
            parsed = _json_text(value, name)
            value = parsed if isinstance(parsed, list) else value
        _put(out, path, value)
    return out


#: what each table's rows are turned into, and the format that reads them
_READERS: Final = {
    OKTA_CL: (okta_record, "okta"),
    AWS_CLOUDTRAIL: (cloudtrail_record, "cloudtrail"),
}


def _okta_column(row: Mapping[str, Any], field: str) -> str:
    """The Okta_CL column of a LogEvent field (``actor.id`` -> ``actor_id_s``)."""
    stem = field.replace(".", "_")
    for raw in row:
        name = _column(str(raw))[0]
        m = _TYPED.match(name)
        if m is not None and m.group(1) == stem:
            return str(raw)
    return f"{stem}_t" if field == "published" else f"{stem}_s"


def _cloudtrail_column(row: Mapping[str, Any], field: str) -> str:
    """The AWSCloudTrail column of a CloudTrail field (``userIdentity.arn`` ->
    ``UserIdentityArn``)."""
    path = tuple(field.split("."))
    for column, target in _CLOUDTRAIL.items():
        if target == path[: len(target)]:
            shown = next((str(r) for r in row if _column(str(r))[0] == column), column)
            return shown + ("." + ".".join(path[len(target) :]) if len(path) > len(target) else "")
    return field


class _Row(dict[str, Any]):
    """A row of a Sentinel table (``table``), as exported."""

    def __init__(self, row: Mapping[str, Any], table: str) -> None:
        super().__init__(row)
        self.table = table


def _rows(path: str, layout: str) -> Iterator[RawRecord]:
    """The rows of an export: CSV rows, JSON objects (az), or each row of a query
    API response's tables, located as ``tables[0].rows[3]``."""
    if layout == "csv":
        yield from iter_csv(path)
        return
    for rec in iter_json_auto(path):
        value = rec.value
        tables = value.get("tables") if rec.error is None and isinstance(value, dict) else None
        if not isinstance(tables, list):
            yield rec
            continue
        for t, table in enumerate(tables):
            columns = table.get("columns") if isinstance(table, Mapping) else None
            rows = table.get("rows") if isinstance(table, Mapping) else None
            names = [c.get("name") if isinstance(c, Mapping) else None for c in columns or []]
            for r, cells in enumerate(rows if isinstance(rows, list) else []):
                where = f"tables[{t}].rows[{r}]"
                if not isinstance(cells, list) or len(cells) != len(names):
                    yield dataclasses.replace(
                        rec,
                        value=None,
                        location=where,
                        text=orjson.dumps(cells, default=str).decode(),
                        error=SchemaError(
                            f"expected a row of {len(names)} cells (the table's columns)"
                        ),
                    )
                    continue
                row = {str(n): c for n, c in zip(names, cells, strict=True) if n}
                yield dataclasses.replace(rec, value=row, location=where, text=None)


def _first_row(path: str, head: bytes) -> tuple[str, dict[str, Any]] | None:
    """The layout of a file that may be a Sentinel export (``csv`` or ``json``) and its
    first row's columns (a dict), else ``None``."""
    body = head.lstrip()
    if not body:
        return None
    if body[:1] not in (b"{", b"["):
        first = body.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
        try:
            header = next(csv.reader([first], delimiter=csv_delimiter(first)), [])
        except csv.Error:
            return None
        return ("csv", dict.fromkeys(header, "")) if len(header) > 2 else None
    if b"TimeGenerated" not in head:
        return None
    row = next((r for r in itertools.islice(_rows(path, "json"), 100) if r.error is None), None)
    return ("json", row.value) if row is not None and isinstance(row.value, dict) else None


def sentinel_input(
    path: str, format: str | Format, *, head: bytes | None = None
) -> SentinelInput | None:
    """How to read ``path`` if it is an export of a Sentinel table (see the module's
    description) and ``format`` is ``"auto"`` or the table's source format, else
    ``None``."""
    from auditkit.ingest.registry import get_format

    if head is None:
        head = read_head(path)
    if b"TimeGenerated" not in head:
        return None
    found = _first_row(path, head)
    if found is None:
        return None
    layout, row = found
    # the row's own Type (the table's name, when the query kept it), else its columns
    kind = row.get("Type") if isinstance(row.get("Type"), str) else None
    table = sentinel_table(set(row))
    if kind in (*_READERS, *OKTA_NORMALISED) and "TimeGenerated" in {_column(c)[0] for c in row}:
        table = kind
    if table is None:
        return None
    name = _READERS[table][1] if table in _READERS else "okta"
    wanted = format if isinstance(format, str) else format.name
    if wanted not in ("auto", name):
        return None
    return SentinelInput(get_format(name), layout=layout, table=table)


@dataclasses.dataclass
class SentinelInput(Reading):
    """The rows of a Sentinel table's export (``table``), each turned back into the
    source's record and read by ``inner``.

    >>> from auditkit.ingest.registry import get_format
    >>> SentinelInput(get_format("okta"), table="Okta_CL").name
    'okta'
    """

    layout: str = "csv"
    table: str = OKTA_CL
    how: ClassVar[str] = "exported from a Microsoft Sentinel table"

    def records(self, path: str) -> Iterator[RawRecord]:
        """The export's rows."""
        for rec in _rows(path, self.layout):
            if rec.error is None and isinstance(rec.value, Mapping):
                yield dataclasses.replace(rec, value=_Row(rec.value, self.table))
            else:
                yield rec

    def to_event(self, record: Any, *, tenant: str | None) -> dict[str, Any]:
        """The source format's event of a row; the row kept as ``metadata.original``."""
        row = record if isinstance(record, Mapping) else {}
        table = getattr(record, "table", self.table)
        kind = row.get("Type")
        if isinstance(kind, str) and kind in (*_READERS, *OKTA_NORMALISED):
            table = kind
        if table not in _READERS:
            raise SchemaError(
                f"a row of the Microsoft Sentinel table {table}, whose columns are Okta's "
                "System Log normalised to Sentinel's schema (EventOriginalType, "
                "ActorUsername, SrcIpAddr...): the System Log's event cannot be rebuilt "
                "from them faithfully; export the Okta_CL table, or the System Log itself "
                "(/api/v1/logs)",
                field="EventOriginalType",
            )
        convert, name = _READERS[table]
        native = convert(row)
        try:
            event = self.inner.to_event(native, tenant=tenant)
        except SchemaError as exc:
            if exc.field is None:
                raise
            column = (
                _okta_column(row, exc.field)
                if name == "okta"
                else _cloudtrail_column(row, exc.field)
            )
            raise SchemaError(f"{exc.reason} (in a row of {table})", field=column) from None
        meta = event.get("metadata")
        if isinstance(meta, Mapping):
            event["metadata"] = {
                **meta,
                "original": json_safe(dict(row)),
                "envelope": "sentinel",
                "sentinel_table": table,
            }
        return event

    def tenant_needed(self, path: str) -> str | None:
        """The inner format's rule (Okta records carry no tenant); rows that are
        quarantined whatever the tenant need none."""
        if self.table not in _READERS:
            return None
        return super().tenant_needed(path)
