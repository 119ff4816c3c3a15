r"""CloudTrail events exported as CSV: Athena query results over a trail's table and
CloudTrail Lake results downloaded from the console.

Athena's CloudTrail table has one column per top-level field, named in lower case
(``eventversion``, ``useridentity``, ``eventtime``, ``eventsource``, ...).  Its
struct and array columns are written as Athena prints them, ``{type=IAMUser,
principalid=AIDA..., sessioncontext={attributes={mfaauthenticated=false, ...}}}``
and ``[{arn=arn:aws:s3:::b, accountid=1234, type=AWS::S3::Bucket}]``, with ``null``
for what is absent; ``requestparameters`` and ``responseelements`` are JSON text.
This module reads such a row back into the CloudTrail event it was made from, with
the field names CloudTrail gives them.

Examples
--------
>>> row = {"eventsource": "s3.amazonaws.com", "eventname": "GetObject",
...        "useridentity": "{type=IAMUser, principalid=AIDA1, arn=arn:aws:iam::1:user/al, "
...                        "accountid=1, invokedby=null, username=al}",
...        "readonly": "true", "requestparameters": '{"bucketName":"b"}', "errorcode": ""}
>>> event = csv_event(row)
>>> event["userIdentity"]  # doctest: +NORMALIZE_WHITESPACE
{'type': 'IAMUser', 'principalId': 'AIDA1', 'arn': 'arn:aws:iam::1:user/al',
 'accountId': '1', 'invokedBy': None, 'userName': 'al'}
>>> event["readOnly"], event["requestParameters"]
(True, {'bucketName': 'b'})
>>> "errorCode" in event
False
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

from auditkit.errors import SchemaError
from auditkit.ingest._mapping import json_cell
from auditkit.ingest._readers import loads_json

__all__ = ["csv_event", "is_cloudtrail_header", "named_event", "parse_struct", "struct_cell"]

#: CloudTrail's field names (top level and nested), by their lower-case spelling.
_NAMES: Final = {
    n.lower(): n
    for n in (
        "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
        "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
        "responseElements", "additionalEventData", "requestID", "eventID", "resources",
        "eventType", "apiVersion", "readOnly", "recipientAccountId", "serviceEventDetails",
        "sharedEventID", "vpcEndpointId", "vpcEndpointAccountId", "eventCategory",
        "tlsDetails", "managementEvent", "sessionCredentialFromConsole", "edgeDeviceDetails",
        "insightDetails", "addendum",
        # userIdentity and its session context
        "type", "principalId", "arn", "accountId", "accessKeyId", "userName", "invokedBy",
        "sessionContext", "attributes", "mfaAuthenticated", "creationDate", "sessionIssuer",
        "webIdFederationData", "federatedProvider", "sourceIdentity", "ec2RoleDelivery",
        "identityProvider", "credentialId", "onBehalfOf", "userId", "identityStoreArn",
        "assumedRoot", "inScopeOf", "issuerType", "credentialsIssuedTo",
        # tlsDetails
        "tlsVersion", "cipherSuite", "clientProvidedHostHeader",
    )
}  # fmt: skip
#: JSON held as text in the table (a string column, not a struct).
_JSON_TEXT: Final = frozenset(
    ("requestParameters", "responseElements", "additionalEventData", "serviceEventDetails")
)
#: The struct and array columns of the table (``userAgent`` and the other text
#: columns stay text even when they start with a bracket: ``[S3Console/0.4, ...]``).
_STRUCTS: Final = frozenset(
    ("userIdentity", "resources", "tlsDetails", "insightDetails", "edgeDeviceDetails", "addendum")
)
_BOOLEAN: Final = frozenset(("readOnly", "managementEvent", "sessionCredentialFromConsole"))


def is_cloudtrail_header(columns: set[str]) -> bool:
    """Whether a CSV header (column names, any case) is that of CloudTrail events.

    >>> is_cloudtrail_header({"eventversion", "eventtime", "eventsource", "eventname"})
    True
    >>> is_cloudtrail_header({"eventType", "published", "uuid"})
    False
    >>> is_cloudtrail_header({"eventJson"})  # CloudTrail Lake: each event as JSON text
    True
    """
    lower = {c.strip().lower() for c in columns}
    return {"eventsource", "eventname", "eventtime"} <= lower or "eventjson" in lower


def csv_event(row: Mapping[str, str | None]) -> dict[str, Any]:
    """The CloudTrail event of one CSV row: CloudTrail's field names, empty cells
    absent, the struct and array columns as Athena prints them (or as JSON) read back,
    JSON-text columns decoded, other columns kept as text, ``true``/``false`` of the
    boolean fields as booleans.  A cell that is neither valid JSON nor a well-formed
    struct raises :class:`SchemaError` naming its column."""
    out: dict[str, Any] = {}
    for column, cell in row.items():
        if not column or cell is None or cell == "" or cell == "null":
            continue
        if "." in column.strip():  # a struct flattened into columns: userIdentity.type
            _put_dotted(out, column.strip(), cell)
            continue
        name = _NAMES.get(column.strip().lower(), column.strip())
        value: Any = cell
        if cell[:1] in "{[" and (name in _JSON_TEXT or name in _STRUCTS):
            try:
                value = loads_json(cell)
            except ValueError:
                if name in _JSON_TEXT:  # a JSON column: cut short or broken
                    raise SchemaError(
                        f"column {column!r} holds broken JSON", field=column
                    ) from None
                try:
                    value = struct_cell(name, cell)
                except ValueError as exc:
                    raise SchemaError(
                        f"column {column!r} is not a struct as Athena prints it: {exc}",
                        field=column,
                    ) from None
        elif name in _BOOLEAN and cell.lower() in ("true", "false"):
            value = cell.lower() == "true"
        out[name] = value
    return out


def struct_cell(name: str, cell: str) -> Any:
    """The value of field ``name`` (CloudTrail's spelling) written as Athena and
    CloudTrail Lake print a struct or an array (see :func:`parse_struct`); raises
    ``ValueError`` when it is not one.

    >>> struct_cell("resources", "[{arn=arn:aws:s3:::b, type=AWS::S3::Bucket}]")
    [{'ARN': 'arn:aws:s3:::b', 'type': 'AWS::S3::Bucket'}]
    """
    value = parse_struct(cell)
    if name == "resources" and isinstance(value, list):
        value = [_resource(r) for r in value]
    return value


def _put_dotted(out: dict[str, Any], column: str, cell: str) -> None:
    """Put a flattened struct's cell (``userIdentity.sessionContext.attributes.x``) in
    its place, every step in CloudTrail's spelling; JSON cells as JSON.

    >>> out = {}
    >>> _put_dotted(out, "useridentity.sessioncontext.attributes.mfaauthenticated", "false")
    >>> _put_dotted(out, "userIdentity.type", "IAMUser")
    >>> out
    {'userIdentity': {'sessionContext': {'attributes': {'mfaAuthenticated': 'false'}}, 'type': 'IAMUser'}}
    """  # noqa: E501
    steps = [_NAMES.get(step.lower(), step) for step in column.split(".")]
    node = out
    for step in steps[:-1]:
        child = node.get(step)
        if not isinstance(child, dict):
            if child is not None:
                raise SchemaError(f"column {column!r} conflicts with column {step!r}", field=column)
            child = node[step] = {}
        node = child
    value = json_cell(cell)
    if steps[-1] in _BOOLEAN and cell.lower() in ("true", "false"):
        value = cell.lower() == "true"
    node[steps[-1]] = value


def named_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudTrail event whose field names a data lake wrote in lower case (an Athena
    or Glue table saved as Parquet, ``UNLOAD ... FORMAT JSON``), with CloudTrail's
    names again, in its structs too; JSON-text columns are left to the reader.

    >>> named_event({"eventsource": "s3.amazonaws.com", "useridentity": {"principalid": "A",
    ...     "sessioncontext": {"attributes": {"mfaauthenticated": "false"}}},
    ...     "resources": [{"arn": "arn:aws:s3:::b"}], "requestparameters": '{"bucketName": "b"}'})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'eventSource': 's3.amazonaws.com', 'userIdentity': {'principalId': 'A',
     'sessionContext': {'attributes': {'mfaAuthenticated': 'false'}}},
     'resources': [{'ARN': 'arn:aws:s3:::b'}], 'requestParameters': '{"bucketName": "b"}'}
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = _NAMES.get(key.lower(), key)
        if name == "resources" and isinstance(value, list):
            value = [_resource(_named(r)) for r in value]
        elif name not in _JSON_TEXT:
            value = _named(value)
        out[name] = value
    return out


def _named(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_NAMES.get(k.lower(), k): _named(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_named(v) for v in value]
    return value


def _resource(item: Any) -> Any:
    """A resource of ``resources`` names its ARN ``ARN`` (upper case) in CloudTrail."""
    if isinstance(item, dict) and "arn" in item and "ARN" not in item:
        item = {("ARN" if k == "arn" else k): v for k, v in item.items()}
    return item


def parse_struct(text: str) -> Any:
    """A struct, map or array as Athena (Presto/Trino) prints it in CSV results:
    ``{key=value, ...}``, ``[a, b]``, nested; ``null`` is ``None``; the other scalars
    stay text.  Keys take CloudTrail's spelling.  The notation has no quoting: a
    struct's value is read up to ``, `` followed by the next ``key=`` (so it may hold
    ``, `` otherwise), an array's items are split at every ``, ``, and a value holding
    ``}`` or ``]`` cannot be read (an error).

    >>> parse_struct("{attributes={mfaauthenticated=false, creationdate=2024-03-01T10:00:00Z}, "
    ...              "sessionissuer={}, ec2roledelivery=null}")  # doctest: +NORMALIZE_WHITESPACE
    {'attributes': {'mfaAuthenticated': 'false', 'creationDate': '2024-03-01T10:00:00Z'},
     'sessionIssuer': {}, 'ec2RoleDelivery': None}
    >>> parse_struct("[{arn=arn:aws:s3:::b/k=1, type=AWS::S3::Object}]")
    [{'arn': 'arn:aws:s3:::b/k=1', 'type': 'AWS::S3::Object'}]
    >>> parse_struct("{a=1")
    Traceback (most recent call last):
    ...
    ValueError: unclosed '{' at character 0
    """
    value, end = _value(text, 0)
    if text[end:].strip():
        raise ValueError(f"unexpected {text[end : end + 10]!r} at character {end}")
    return value


def _value(text: str, i: int, *, in_array: bool = False) -> tuple[Any, int]:
    if i < len(text) and text[i] in "{[":
        return (_struct if text[i] == "{" else _array)(text, i)
    # a scalar: up to the close, or the separator of its depth: in an array any ", ";
    # in a struct ", " before the next ``key=`` (a value may hold ", ")
    j = i
    while j < len(text):
        c = text[j]
        if c in "}]" or (
            c == "," and text[j + 1 : j + 2] == " " and (in_array or _next_item(text, j + 2))
        ):
            break
        j += 1
    scalar = text[i:j]
    return (None if scalar == "null" else scalar), j


@functools.lru_cache(maxsize=1)
def _key_chars() -> frozenset[str]:
    return frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _next_item(text: str, j: int) -> bool:
    """Whether what starts at ``j`` begins a struct's next item (``key=``)."""
    keys = _key_chars()
    k = j
    while k < len(text) and text[k] in keys:
        k += 1
    return k > j and text[k : k + 1] == "="


def _struct(text: str, i: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    j = i + 1
    if text[j : j + 1] == "}":
        return out, j + 1
    while True:
        eq = text.find("=", j)
        if eq < 0:
            raise ValueError(f"unclosed '{{' at character {i}")
        key = text[j:eq].strip()
        if not key or any(c not in _key_chars() for c in key):
            raise ValueError(f"a key {key!r} at character {j}")
        value, j = _value(text, eq + 1)
        out[_NAMES.get(key.lower(), key)] = value
        j = _next(text, i, j)
        if j < 0:
            return out, -j


def _array(text: str, i: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    j = i + 1
    if text[j : j + 1] == "]":
        return out, j + 1
    while True:
        value, j = _value(text, j, in_array=True)
        out.append(value)
        j = _next(text, i, j)
        if j < 0:
            return out, -j


def _next(text: str, i: int, j: int) -> int:
    """After an item at ``j`` of the struct or array opened at ``i``: where the next
    item starts, or, negated, where the text after the closing bracket starts."""
    close = "}" if text[i] == "{" else "]"
    if j >= len(text):
        raise ValueError(f"unclosed {text[i]!r} at character {i}")
    if text[j] == close:
        return -(j + 1)
    if text[j] != ",":
        raise ValueError(f"unexpected {text[j]!r} at character {j}")
    j += 1
    while text[j : j + 1] == " ":
        j += 1
    return j
