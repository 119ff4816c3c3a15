"""Shared helpers for the source formats (CloudTrail, GCP, GitLab, Okta, OCSF, mapped).

Everything here is small, typed and defensive: a source record may hold any
JSON (or, from tests, any Python) value where a string was expected, and the
helpers either return something :func:`auditkit.schema.normalize_event`
accepts or raise :class:`~auditkit.errors.SchemaError` naming the *source*
field (``eventTime``, ``published``...), so that the quarantine tells the user
which field of their file was wrong.

- :func:`load_table` reads a format's mapping table, a TOML data file under
  ``auditkit/ingest/mappings/`` (source event name -> core action...).
- :func:`dig`, :func:`text`, :func:`require_text`: typed access to records.
- :func:`source_time`, :func:`timestamp`: RFC 3339 strings, the data-lake form
  without ``T`` or zone (for sources defined as UTC), epoch numbers.
- :func:`ip_or_none`, :func:`geo`: the ``source`` object.
- :func:`derive_action`, :func:`words`: faithful ``noun.verb`` names.
- :func:`json_safe`: the lossless ``metadata.original`` copy of a record.
- :func:`finish`: drops empty parts and assembles the event mapping.
"""

from __future__ import annotations

import ast
import functools
import gc
import ipaddress
import itertools
import math
import re
import time
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Final, NamedTuple

import orjson

from auditkit.errors import SchemaError, UsageError
from auditkit.ingest._readers import loads_json
from auditkit.schema import CATEGORIES, CORE_ACTIONS, OUTCOMES, format_timestamp, parse_timestamp
from auditkit.times import TimestampError, read_timestamp

__all__ = [
    "json_cell",
    "nested_row",
    "MAX_DEPTH",
    "MAX_ID",
    "MAX_TEXT",
    "category_of",
    "check_action",
    "derive_action",
    "dig",
    "dotted_parent",
    "finish",
    "geo",
    "ip_or_none",
    "json_safe",
    "load_table",
    "looks_canonical",
    "operation_action",
    "require_text",
    "ZONE_ASSUMED",
    "ZONE_ASSUMED_TEXT",
    "canonical_zone",
    "Stamp",
    "resolve_tenant",
    "source_time",
    "table_entry",
    "text",
    "timestamp",
    "words",
]

#: Longest id-like string the canonical schema takes (ids, names, emails).
MAX_ID: Final = 512
#: Longest free text (user agents, descriptions, target names).
MAX_TEXT: Final = 65_536
#: Deepest nesting of a record kept in ``metadata.original`` (orjson writes up to 254
#: levels); deeper records are quarantined.
MAX_DEPTH: Final = 250

_ACTION_RE: Final = re.compile(r"^[a-z0-9_\-]+(\.[a-z0-9_\-]+)+\Z")
_WORD_RE: Final = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+[0-9]*|[A-Z]+[0-9]*|[0-9]+")
_NAIVE_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\Z")
_VERSION_RE: Final = re.compile(r"^(v\d+\w*|beta\d*|alpha\d*)\Z")
_IPV4_RE: Final = re.compile(
    r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\Z"
)
_NUMBER_RE: Final = re.compile(r"^-?\d+(\.\d+)?\Z")
#: RFC 3339 UTC with ``Z`` and at most microseconds: the common form, turned
#: canonical without building a datetime
_ZULU_RE: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,6}))?Z\Z"
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST_TEXT: Final = "1990-01-01T00:00:00.000000Z"  # parse_timestamp's earliest
_upper: list[Any] = [-math.inf, ""]  # [time.monotonic(), text] of _upper_text()
_UNITS: Final = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


# ---------------------------------------------------------------------------
# mapping tables (data files)


@functools.cache
def load_table(name: str) -> dict[str, Any]:
    """Return the mapping table ``auditkit/ingest/mappings/<name>.toml`` (cached).

    The tables are data: source event names to core actions and categories,
    error codes to outcomes, and so on; ``docs/formats.md`` documents them.

    Raises
    ------
    UsageError
        When the table is missing or is not valid TOML (a packaging error).

    Examples
    --------
    >>> load_table("okta")["actions"]["user.session.start"]["action"]
    'user.login'
    """
    try:
        data = resources.files("auditkit.ingest").joinpath("mappings", f"{name}.toml").read_bytes()
        return tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"mapping table {name!r} cannot be read: {exc}") from None


def table_entry(table: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """Return ``table[key]`` as an entry dict: strings are shorthand for ``{action = ...}``.

    Examples
    --------
    >>> table_entry({"a": "user.login"}, "a")
    {'action': 'user.login'}
    >>> table_entry({"a": {"action": "x.y"}}, "b") is None
    True
    """
    entry = table.get(key)
    if entry is None:
        return None
    if isinstance(entry, str):
        return {"action": entry}
    return dict(entry)


def looks_canonical(head: bytes) -> bool:
    """Whether a file's first bytes are canonical auditkit events (an export, say).

    Canonical events keep their source record in ``metadata.original``, so a
    re-imported export holds CloudTrail or Okta field names too: the source
    formats' sniffers step aside for it.

    Examples
    --------
    >>> looks_canonical(b'{"tenant_id": "t", "occurred_at": "2024-01-01T00:00:00Z"}')
    True
    """
    return b'"tenant_id"' in head and b'"occurred_at"' in head


# ---------------------------------------------------------------------------
# typed access


def dotted_parent(obj: dict[str, Any], column: str) -> tuple[dict[str, Any], str]:
    """The object inside ``obj`` that a dotted column name (``actor.id``) writes to,
    made where missing, and the key it writes: how a CSV row with dotted columns
    becomes a nested record.  A column under a column that holds a value (``actor``
    set to text, then ``actor.id``) raises :class:`SchemaError` naming it.

    Examples
    --------
    >>> row: dict[str, Any] = {}
    >>> parent, key = dotted_parent(row, "source.geo.lat")
    >>> parent[key] = 52.5
    >>> row, dotted_parent(row, "source.ip")[1]
    ({'source': {'geo': {'lat': 52.5}}}, 'ip')
    """
    parts = column.split(".")
    node = obj
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SchemaError(f"column {column!r} conflicts with column {part!r}", field=column)
        node = child
    return node, parts[-1]


def dig(obj: Any, *path: str | int) -> Any:
    """Return ``obj[path[0]][path[1]]...`` or ``None`` when any step is missing or mistyped.

    Examples
    --------
    >>> dig({"a": {"b": [1, {"c": 2}]}}, "a", "b", 1, "c")
    2
    >>> dig({"a": "not a dict"}, "a", "b") is None
    True
    """
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
            obj = obj[key]
        else:
            if not isinstance(obj, dict):  # records are parsed JSON: dicts, not any Mapping
                return None
            obj = obj.get(key)
    return obj


def text(value: Any, *, limit: int = MAX_ID) -> str | None:
    """Return ``value`` as a non-blank string within ``limit``, else ``None`` (lenient).

    Integers (not booleans) are turned into their decimal text, since many
    sources write ids as numbers.  Used for optional fields: an unusable value
    is left out of the event (the original record keeps it).

    Examples
    --------
    >>> text(" alice "), text(42), text(True), text(""), text("x" * 600)
    (' alice ', '42', None, None, None)
    """
    if type(value) is str:
        return value if value and len(value) <= limit and not value.isspace() else None
    if type(value) is int:
        return str(value)
    if isinstance(value, str):
        return value if value.strip() and len(value) <= limit else None
    return None


def require_text(value: Any, field: str, *, limit: int = MAX_ID) -> str:
    """Return ``value`` as a non-blank string or raise :class:`SchemaError` naming ``field``.

    Examples
    --------
    >>> require_text(7, "id")
    '7'
    >>> require_text(None, "eventName")
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'eventName': required field is missing
    """
    if value is None:
        raise SchemaError("required field is missing", field=field)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise SchemaError(f"expected a string, got {_type(value)}", field=field)
    if not value.strip():
        raise SchemaError("required field is empty", field=field)
    if len(value) > limit:
        raise SchemaError(f"expected at most {limit} characters, got {len(value)}", field=field)
    return value


def resolve_tenant(own: Any, tenant: str | None, *, field: str, source: str, hint: str = "") -> str:
    """Pick the tenant: the record's own value, else ``--tenant``, else a :class:`SchemaError`.

    Parameters
    ----------
    own
        The tenant the record carries (``recipientAccountId``...) or ``None``.
    tenant
        The ``--tenant`` option.
    field
        The source field to name in the error (``tenant_id`` for formats
        whose records never carry one).
    source
        The format's display name, for the message.
    hint
        More advice appended to the message.

    Examples
    --------
    >>> resolve_tenant("123456789012", None, field="recipientAccountId", source="CloudTrail")
    '123456789012'
    >>> resolve_tenant(None, None, field="tenant_id", source="Okta")
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'tenant_id': Okta records carry no tenant; pass --tenant NAME
    """
    value = text(own)
    where = field
    if value is None and tenant is not None and tenant.strip():
        value, where = require_text(tenant, "tenant_id"), "tenant_id"
    if value is not None:
        if not value.isprintable():
            raise SchemaError(
                f"expected printable characters only, got {_short(value)}", field=where
            )
        return value
    if field == "tenant_id":
        reason = f"{source} records carry no tenant; pass --tenant NAME{hint}"
    else:
        reason = f"missing, so the tenant is unknown; pass --tenant NAME{hint}"
    raise SchemaError(reason, field=field)


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    rep = repr(value)
    return rep if len(rep) <= limit else rep[: limit - 3] + "..."


# ---------------------------------------------------------------------------
# timestamps


#: ``metadata`` key noting that the source's timestamp had no zone and was read as UTC.
ZONE_ASSUMED: Final = "occurred_at_zone"
#: Its value.
ZONE_ASSUMED_TEXT: Final = "assumed UTC"


class Stamp(NamedTuple):
    """A source timestamp: canonical text (microseconds), the same to the
    nanosecond (a deduplication key), and whether its zone was assumed."""

    text: str
    precise: str
    zone_assumed: bool


def source_time(
    value: Any, field: str, *, utc_defined: bool = False, epoch: str | None = None
) -> Stamp:
    """Read a source timestamp with :func:`auditkit.times.read_timestamp`, or raise
    naming ``field``.

    ``utc_defined``: the source's specification defines the field as UTC, so a
    time without a zone (``2022-03-22 14:21:53.225``, as data lakes and SIEMs
    export it) is read as UTC, and the result says so; and a JSON number is read as
    an epoch time in the unit its size says (seconds, milliseconds, micro- or
    nanoseconds: their years 1990 to 2200 do not overlap), as pandas' ``to_json``
    writes a timestamp column.  ``epoch`` as for :func:`timestamp`.

    Examples
    --------
    >>> source_time("2022-03-22 14:21:53.225123456", "published", utc_defined=True)
    Stamp(text='2022-03-22T14:21:53.225123Z', precise='2022-03-22T14:21:53.225123456Z', zone_assumed=True)
    >>> source_time(1648022513225, "published", utc_defined=True).text
    '2022-03-23T08:01:53.225000Z'
    >>> source_time("2022-03-22 14:21:53", "published")
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'published': expected a time zone (Z or +hh:mm) in the timestamp, got '2022-03-22 14:21:53'
    """  # noqa: E501
    if type(value) is str:
        zulu = _ZULU_RE.match(value)
        if zulu is not None:
            # the canonical text of what the general path below would return, when
            # it is a real date within range; anything else takes the general path,
            # whose errors name the value as given
            fraction = zulu[2]
            if fraction is None:
                canon = f"{zulu[1]}.000000Z"
            else:
                canon = f"{zulu[1]}.{fraction}{'0' * (6 - len(fraction))}Z"
            if _EARLIEST_TEXT <= canon <= _upper_text():
                try:
                    datetime.fromisoformat(canon)
                except ValueError:
                    pass
                else:
                    return Stamp(canon, canon[:-1] + "000Z", False)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SchemaError("required field is missing", field=field)
    if isinstance(value, bool):
        raise SchemaError("expected a timestamp, got bool", field=field)
    if isinstance(value, int | float):
        if epoch is None and utc_defined:
            epoch = "auto"
        if epoch is None:
            raise SchemaError(
                f"expected an RFC 3339 timestamp string, got {_type(value)}", field=field
            )
        canon = _from_epoch(value, epoch, field)
        return Stamp(canon, canon[:-1] + "000Z", False)
    if not isinstance(value, str | datetime):
        raise SchemaError(f"expected a timestamp, got {_type(value)}", field=field)
    if isinstance(value, str):
        raw = value.strip()
        if len(raw) > 64:
            raise SchemaError(f"expected a timestamp, got {_short(value)}", field=field)
        if epoch is not None and _NUMBER_RE.match(raw):
            canon = _from_epoch(float(raw) if "." in raw else int(raw), epoch, field)
            return Stamp(canon, canon[:-1] + "000Z", False)
    try:
        read = read_timestamp(value, assume_utc=utc_defined)
    except TimestampError as exc:
        raise SchemaError(str(exc), field=field) from None
    canon = read.text
    if not _EARLIEST_TEXT <= canon <= _upper_text() and not (
        canon > _EARLIEST_TEXT and read.utc <= datetime.now(UTC) + timedelta(days=1)
    ):
        raise SchemaError(
            f"timestamp out of range (1990 to tomorrow), got {_short(value)}", field=field
        )
    return Stamp(canon, read.precise_text, read.zone_assumed)


def canonical_zone(event: dict[str, Any], *, assume_utc: bool) -> dict[str, Any]:
    """Apply ``--assume-utc`` to a canonical event's ``occurred_at`` (in place).

    The canonical format requires a zone.  A time without one
    (``2022-03-22 14:21:53.225``) is refused with a hint, or with ``assume_utc``
    read as UTC and noted in ``metadata``.  Anything else is left for
    :func:`~auditkit.schema.normalize_event` to accept or word its error.

    Examples
    --------
    >>> e = canonical_zone({"occurred_at": "2022-03-22 14:21:53.225"}, assume_utc=True)
    >>> e["occurred_at"], e["metadata"]
    ('2022-03-22T14:21:53.225000Z', {'occurred_at_zone': 'assumed UTC'})
    >>> canonical_zone({"occurred_at": "2022-03-22 14:21:53"}, assume_utc=False)
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'occurred_at': expected a time zone (Z or +hh:mm) in the timestamp, got '2022-03-22 14:21:53'; if the source wrote UTC, ingest with --assume-utc
    """  # noqa: E501
    ts = event.get("occurred_at")
    if type(ts) is not str or ts[-1:] == "Z":  # the canonical form ends in Z
        return event
    try:
        read_timestamp(ts)
    except TimestampError as exc:
        if not exc.no_zone:
            return event
        if not assume_utc:
            raise SchemaError(
                f"{exc}; if the source wrote UTC, ingest with --assume-utc", field="occurred_at"
            ) from None
        metadata = event.get("metadata")
        if metadata is not None and type(metadata) is not dict:
            return event  # refused by the schema, naming metadata
        event["occurred_at"] = read_timestamp(ts, assume_utc=True).text
        event["metadata"] = {**(metadata or {}), ZONE_ASSUMED: ZONE_ASSUMED_TEXT}
    return event


def timestamp(
    value: Any,
    field: str,
    *,
    naive_utc: bool = False,
    epoch: str | None = None,
    fmt: str | None = None,
    tz: str | None = None,
) -> str:
    """Turn a source timestamp into canonical RFC 3339 UTC, or raise naming ``field``.

    Parameters
    ----------
    value
        An RFC 3339 string, an aware ``datetime``, or (with ``epoch``) a number
        or numeric string.
    field
        The source field, named in errors.
    naive_utc
        Read a timestamp without zone (``2024-01-05 10:00:00``) as UTC, for
        sources documented to write UTC (see :func:`source_time`, which also
        says whether that happened).
    epoch
        Unit of numbers: ``"s"``, ``"ms"``, ``"us"``, ``"ns"`` or ``"auto"``
        (guessed from the magnitude).  ``None`` refuses numbers.
    fmt
        A :func:`datetime.strptime` format to try first.
    tz
        Zone for timestamps without one, as ``"UTC"`` or ``"+02:00"``.

    Examples
    --------
    >>> timestamp("2024-01-05T10:00:00Z", "eventTime")
    '2024-01-05T10:00:00.000000Z'
    >>> timestamp(1704448800123, "time", epoch="ms")
    '2024-01-05T10:00:00.123000Z'
    >>> timestamp("2024-01-05 10:00:00.000", "eventTime", naive_utc=True)
    '2024-01-05T10:00:00.000000Z'
    >>> timestamp("yesterday", "published")
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'published': expected RFC 3339 timestamp, got 'yesterday'
    """
    if fmt is None and (tz is None or tz.upper() in ("UTC", "Z")):
        return source_time(value, field, utc_defined=naive_utc or tz is not None, epoch=epoch).text
    if value is None or (isinstance(value, str) and not value.strip()):
        raise SchemaError("required field is missing", field=field)
    if not isinstance(value, str) or (epoch is not None and _NUMBER_RE.match(value.strip())):
        return source_time(value, field, utc_defined=naive_utc, epoch=epoch).text
    raw = value.strip()
    if len(raw) > 64:
        raise SchemaError(f"expected a timestamp, got {_short(value)}", field=field)
    if fmt is not None:
        try:
            parsed = datetime.strptime(raw, fmt)
        except ValueError:
            raise SchemaError(
                f"expected a timestamp like {fmt!r}, got {_short(value)}", field=field
            ) from None
        return parse_timestamp(_zoned(parsed, tz, value, field), field=field)
    try:
        return source_time(value, field).text
    except SchemaError:
        if not _NAIVE_RE.match(raw):
            raise
    try:  # a time without zone, in the mapping's zone
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise SchemaError(
            f"expected RFC 3339 timestamp, got {_short(value)}", field=field
        ) from None
    return parse_timestamp(_zoned(parsed, tz, value, field), field=field)


def _upper_text() -> str:
    """The latest timestamp accepted (tomorrow) as canonical text, at most a minute old.

    Being older only makes it earlier: values after it take the general path,
    which compares with the clock.
    """
    now = time.monotonic()
    if now - _upper[0] > 60:
        _upper[:] = [now, format_timestamp(datetime.now(UTC) + timedelta(days=1))]
    return str(_upper[1])


def _zoned(ts: datetime, tz: str | None, value: Any, field: str) -> datetime:
    if ts.tzinfo is not None:
        return ts
    if tz is None:
        raise SchemaError(
            f"timestamp {_short(value)} has no time zone; set one in the mapping", field=field
        )
    if tz.upper() in ("UTC", "Z"):
        return ts.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(ts.isoformat() + tz)
    except ValueError:
        raise UsageError(f"time zone {tz!r} is not 'UTC' or an offset like '+02:00'") from None


def _from_epoch(value: float, unit: str, field: str) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(f"expected a finite epoch number, got {value}", field=field)
    if unit == "auto":
        size = abs(value)
        unit = "s" if size < 1e11 else "ms" if size < 1e14 else "us" if size < 1e17 else "ns"
    seconds = value / _UNITS[unit]
    # bound before building a datetime: 1990 .. 2200 (parse_timestamp narrows further)
    if not 631_152_000 <= seconds <= 7_258_118_400:
        raise SchemaError(
            f"timestamp out of range (1990 to tomorrow), got {value} ({unit} since 1970)",
            field=field,
        )
    if isinstance(value, int):
        micros = value * 1_000_000 // int(_UNITS[unit])
        ts = _EPOCH + timedelta(microseconds=micros)
    else:
        ts = _EPOCH + timedelta(seconds=seconds)
    return parse_timestamp(ts, field=field)


# ---------------------------------------------------------------------------
# source: ip and geo


def ip_or_none(value: Any) -> str | None:
    """Return ``value`` as a canonical IP address, or ``None`` when it is not one.

    CloudTrail writes a service name (``ec2.amazonaws.com``) where the caller
    was an AWS service, GCP writes ``private`` or ``gce-internal-ip``: those
    are kept in the original record, not in ``source.ip``.

    Examples
    --------
    >>> ip_or_none("203.0.113.7"), ip_or_none("2001:DB8::1"), ip_or_none("ec2.amazonaws.com")
    ('203.0.113.7', '2001:db8::1', None)
    """
    if not isinstance(value, str) or not 2 <= len(value) <= 64:
        return None
    if _IPV4_RE.match(value):
        return value  # already canonical: the common case, without ipaddress
    candidate = value.strip()
    if candidate.startswith("[") and "]" in candidate:  # [v6]:port
        candidate = candidate[1 : candidate.index("]")]
    if ":" not in candidate and not _IPV4_RE.match(candidate):
        # neither IPv6 nor dotted IPv4 (ipaddress takes no other IPv4 form): a
        # host name such as ec2.amazonaws.com, refused without an exception
        return None
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


#: a coordinate as text: ``48.85``, or ``48,85`` with Excel's decimal comma (no
#: thousands separator fits a coordinate)
_DECIMAL: Final = re.compile(r"[+-]?[0-9]{1,3}([.,][0-9]{1,17})?")


def geo(
    *, country: Any = None, city: Any = None, lat: Any = None, lon: Any = None
) -> dict[str, Any] | None:
    """Build ``source.geo`` from whatever of its parts are usable, or ``None``.

    Examples
    --------
    >>> geo(country="Germany", city="Berlin", lat=52.52, lon=13.4)
    {'country': 'Germany', 'city': 'Berlin', 'lat': 52.52, 'lon': 13.4}
    >>> geo(lat=500.0, lon="x") is None
    True
    >>> geo(lat="52.52", lon=" 13.4")  # as CSV and some JSON exports write numbers
    {'lat': 52.52, 'lon': 13.4}
    >>> geo(lat="48,85", lon="2,35")  # Excel's CSV where the decimal mark is a comma
    {'lat': 48.85, 'lon': 2.35}
    """
    out: dict[str, Any] = {}
    for key, val in (("country", country), ("city", city)):
        name = text(val)
        if name is not None and not isinstance(val, int):
            out[key] = name
    for key, val, bound in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if isinstance(val, str) and _DECIMAL.fullmatch(val.strip()):
            val = float(val.replace(",", "."))
        if isinstance(val, bool) or not isinstance(val, int | float):
            continue
        if math.isfinite(val) and -bound <= val <= bound:
            out[key] = val
    return out or None


# ---------------------------------------------------------------------------
# actions


def words(name: str) -> list[str]:
    """Split a CamelCase, snake_case, dotted or spaced name into lower-case words.

    Examples
    --------
    >>> words("CreateDBInstance"), words("user_access_locked"), words("Log on!"), words("s3")
    (['create', 'db', 'instance'], ['user', 'access', 'locked'], ['log', 'on'], ['s3'])
    """
    return [w.lower() for w in _WORD_RE.findall(name)]


def derive_action(noun: Iterable[str], verb: str, *, field: str) -> str:
    """Join noun words and a verb into a valid ``noun.verb`` action, or raise naming ``field``.

    Examples
    --------
    >>> derive_action(["s3", "object"], "get", field="eventName")
    's3_object.get'
    >>> derive_action([], "", field="eventName")
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'eventName': cannot derive an action name: no verb
    """
    noun_words = [w for part in noun for w in words(part)]
    verb_words = words(verb)
    if not verb_words:
        raise SchemaError("cannot derive an action name: no verb", field=field)
    action = f"{'_'.join(noun_words) or 'event'}.{'_'.join(verb_words)}"
    if len(action) > 200:
        raise SchemaError(
            f"name too long to map to an action ({len(action)} characters)", field=field
        )
    return action


@functools.lru_cache(maxsize=8192)
def operation_action(service: str | None, operation: str, *, field: str) -> str:
    """Name an API operation ``noun.verb``, prefixed with the service's short name.

    ``CamelCase`` last segments are verb first (``google.iam.admin.v1.CreateServiceAccount``
    -> ``iam_service_account.create``); dotted lower-case names end with the verb
    and the resource before it (``v1.compute.instances.insert`` ->
    ``compute_instances.insert``); version segments are skipped.

    Examples
    --------
    >>> operation_action("compute.googleapis.com", "v1.compute.instances.insert", field="m")
    'compute_instances.insert'
    >>> operation_action("iam.googleapis.com", "google.iam.v1.CreateServiceAccount", field="m")
    'iam_service_account.create'
    """
    svc = (service or "api").split(".", 1)[0]
    segments = [s for s in operation.split(".") if s]
    last = segments[-1] if segments else operation
    if last[:1].isupper():
        parts = words(last)
        verb, noun = (parts[0], parts[1:]) if parts else ("", [])
        return derive_action([svc, *noun], verb, field=field)
    resource = segments[-2] if len(segments) >= 2 else ""
    noun = [svc]
    if resource and not _VERSION_RE.match(resource) and resource != svc:
        noun.append(resource)
    return derive_action(noun, last, field=field)


def check_action(action: Any, *, where: str) -> str:
    """Validate an action taken from a mapping table or file (raises :class:`UsageError`).

    Examples
    --------
    >>> check_action("user.login", where="okta.toml")
    'user.login'
    >>> check_action("Login", where="map.yaml")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: map.yaml: expected a lower-case 'noun.verb' action, got 'Login'
    """
    if not isinstance(action, str) or not _ACTION_RE.match(action) or len(action) > 200:
        raise UsageError(f"{where}: expected a lower-case 'noun.verb' action, got {action!r}")
    return action


def category_of(action: str, entry: Mapping[str, Any] | None, default: str) -> str:
    """Category: the table entry's, else the core vocabulary's, else ``default``.

    Examples
    --------
    >>> category_of("role.grant", None, "user"), category_of("s3_object.get", None, "user")
    ('admin', 'user')
    """
    if entry is not None and entry.get("category") in CATEGORIES:
        return str(entry["category"])
    return CORE_ACTIONS.get(action, default)


# ---------------------------------------------------------------------------
# lossless copy


def json_safe(value: Any, field: str = "metadata.original") -> Any:
    """Return ``value`` in a JSON-safe form that the store can hash exactly.

    Integers of 2**53 or more (in size) and non-finite floats become strings, non-string
    keys become strings, tuples become lists and other objects their text.
    A value that is already JSON-safe (every record read from a file, nearly
    always) is returned as it is, after a fast check in C.  Values nested too
    deeply to serialise (over :data:`MAX_DEPTH` levels) raise a
    :class:`SchemaError` naming ``field``.

    Examples
    --------
    >>> json_safe({"n": 2**60, "f": float("nan"), 1: (1, 2)})
    {'n': '1152921504606846976', 'f': 'nan', '1': [1, 2]}
    >>> rec = {"a": [1, 2.5, "x"]}
    >>> json_safe(rec) is rec
    True
    """
    try:
        # nested as deep as it will be in a stored event (event > metadata > original)
        data = orjson.dumps([[[[value]]]], option=orjson.OPT_STRICT_INTEGER)
    except TypeError:  # orjson.JSONEncodeError: ints beyond 2**53, non-str keys, nesting...
        pass
    else:
        if orjson.loads(data)[0][0][0][0] == value:  # NaN, infinities, tuples do not survive
            return value
    return _json_safe(value, field, 0)


def _json_safe(value: Any, field: str, _depth: int) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value if -(2**53) < value < 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= MAX_DEPTH:
        raise SchemaError(f"record is nested deeper than {MAX_DEPTH} levels", field=field)
    if isinstance(value, Mapping):
        return {
            (k if isinstance(k, str) else str(k)): _json_safe(v, field, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_json_safe(v, field, _depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


# ---------------------------------------------------------------------------
# assembling the event


def finish(
    *,
    tenant_id: str,
    occurred_at: str,
    action: str,
    category: str,
    outcome: str,
    actor: Mapping[str, Any],
    metadata: Mapping[str, Any],
    event_id: str | None = None,
    targets: Iterable[Mapping[str, Any]] = (),
    source: Mapping[str, Any] | None = None,
    observer: Mapping[str, Any] | None = None,
    request_id: Any = None,
    session_id: Any = None,
    description: Any = None,
    changes: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble an event mapping, leaving out empty parts and unusable optional values.

    Targets are de-duplicated by ``(id, type)``; optional strings that are not
    usable (wrong type, too long) are dropped (the original record keeps them);
    metadata values are made JSON-safe (``original`` must already be, by
    :func:`json_safe`).

    Examples
    --------
    >>> e = finish(tenant_id="t", occurred_at="2024-01-05T10:00:00.000000Z", action="user.login",
    ...            category="management", outcome="success", actor={"id": "u1", "name": None},
    ...            metadata={"source_format": "okta"}, source={"ip": None})
    >>> "source" in e, e["actor"]
    (False, {'id': 'u1'})
    """
    assert category in CATEGORIES and outcome in OUTCOMES, (category, outcome)
    event: dict[str, Any] = {
        "tenant_id": tenant_id,
        "occurred_at": occurred_at,
        "action": action,
        "category": category,
        "outcome": outcome,
        "actor": _clean_actor(actor),
    }
    if event_id is not None:
        event["event_id"] = event_id
    seen: set[tuple[str, str | None]] = set()
    clean_targets = []
    for target in targets:
        tid = text(target.get("id"))
        if tid is None:
            continue
        ttype = text(target.get("type"), limit=MAX_TEXT)
        if (tid, ttype) in seen:
            continue
        seen.add((tid, ttype))
        t = {"id": tid, "type": ttype, "name": text(target.get("name"), limit=MAX_TEXT)}
        clean_targets.append({k: v for k, v in t.items() if v is not None})
    if clean_targets:
        event["targets"] = clean_targets
    if source:
        src = {
            "ip": ip_or_none(source.get("ip")),
            "user_agent": text(source.get("user_agent"), limit=MAX_TEXT),
            "geo": source.get("geo") or None,
        }
        src = {k: v for k, v in src.items() if v is not None}
        if src:
            event["source"] = src
    if observer:
        obs = {k: text(observer.get(k)) for k in ("service", "version", "region")}
        obs = {k: v for k, v in obs.items() if v is not None}
        if obs:
            event["observer"] = obs
    for key, val in (("request_id", request_id), ("session_id", session_id)):
        val = text(val)
        if val is not None:
            event[key] = val
    desc = text(description, limit=MAX_TEXT)
    if desc is not None:
        event["description"] = desc
    if changes:
        event["changes"] = {
            k: json_safe(v, "changes") for k, v in changes.items() if k in ("before", "after")
        }
    event["metadata"] = {
        k: v if k == "original" or type(v) in (str, bool) else json_safe(v, f"metadata.{k}")
        for k, v in metadata.items()
        if v is not None
    }
    return event


def _clean_actor(actor: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": require_text(actor.get("id"), "actor.id")}
    if actor.get("type") in ("user", "service", "api_key", "system"):
        out["type"] = actor["type"]
    for key in ("name", "email"):
        val = text(actor.get(key))
        if val is not None and not isinstance(actor.get(key), int):
            out[key] = val
    roles = actor.get("roles")
    if isinstance(roles, list):
        clean = [r for r in roles if isinstance(r, str) and r]
        if clean:
            out["roles"] = clean
    return out


def json_cell(cell: str) -> Any:
    """A CSV cell holding a JSON object or list as that JSON; any other cell, or text
    that only starts like JSON, as its text.

    A list or object written as Python writes it (``[{'id': '0oa1', 'x': None}]``:
    what pandas' ``to_csv`` makes of the lists ``json_normalize`` leaves in a cell)
    is the same JSON, when it holds nothing JSON cannot.

    >>> json_cell('[{"id": "0oa1"}]'), json_cell("{not json"), json_cell("42")
    ([{'id': '0oa1'}], '{not json', '42')
    >>> json_cell("[{'id': '0oa1', 'detailEntry': None, 'ok': True}]")
    [{'id': '0oa1', 'detailEntry': None, 'ok': True}]
    """
    if cell[:1] in "{[":
        try:
            return loads_json(cell)
        except ValueError:
            return _python_literal(cell)
    return cell


#: the longest cell read as a Python literal (parsing it costs far more than JSON's)
_MAX_LITERAL = 65536


def _python_literal(cell: str) -> Any:
    """A cell holding a Python list or dict literal of JSON values, as that value;
    anything else (JSON text with a flaw, a tuple, a set, bytes) as its text."""
    if len(cell) > _MAX_LITERAL or cell[1:2] not in ("'", "{", "]", "}", '"', " "):
        return cell
    if _nesting(cell) > _MAX_NESTING:
        return cell  # deeper than any record: never handed to the parser
    try:
        value = _literal_eval(cell)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, SystemError):
        return cell
    return value if _json_like(value, 0) else cell


#: the deepest nesting of brackets a cell may hold to be read as a Python literal
_MAX_NESTING = 64


def _nesting(cell: str) -> int:
    """The deepest nesting of brackets in ``cell`` (quotes not told apart: at most an
    over-count, which only leaves a cell as text).

    >>> _nesting("[{'a': [1, 2]}]"), _nesting("[" * 100)
    (3, 100)
    """
    depth = deepest = 0
    for c in cell:
        if c in "[{(":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]})":
            depth -= 1
    return deepest


def _literal_eval(cell: str) -> Any:
    """:func:`ast.literal_eval`, once more with the garbage collector paused when
    CPython 3.11 before 3.11.8 says ``AST constructor recursion depth mismatch`` (a
    fault of its depth accounting while the tree is built, seen now and then in long
    runs): the same cell then parses."""
    try:
        return ast.literal_eval(cell)
    except SystemError:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return ast.literal_eval(cell)
        finally:
            if enabled:
                gc.enable()


def _json_like(value: Any, depth: int) -> bool:
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 64:
        return False
    if isinstance(value, list):
        return all(_json_like(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_like(v, depth + 1) for k, v in value.items())
    return False


def nested_row(row: Mapping[str, str | None]) -> dict[str, Any]:
    r"""A CSV row whose columns are dotted paths, as the nested object they flatten:
    empty cells are absent, and a cell holding a JSON object or list (``target``,
    ``debugContext.debugData``) is that JSON.

    A list flattened into columns is a list again: ``target[0].id``, ``target[1].id``
    or ``target.0.id`` (indexed columns, as flattening exporters write them; a step of
    digits only, after the first, is a position) and ``target{}.id`` (a
    Splunk multivalue field, one value per line of the cell, as Splunk's CSV export
    writes the Okta add-on's events).

    Examples
    --------
    >>> nested_row({"uuid": "u1", "actor.id": "00u1", "actor.alternateId": "a@b.c",
    ...             "outcome.reason": "", "target": '[{"id": "0oa1"}]'})
    {'uuid': 'u1', 'actor': {'id': '00u1', 'alternateId': 'a@b.c'}, 'target': [{'id': '0oa1'}]}
    >>> nested_row({"target[0].id": "0oa1", "target[1].id": "00u2", "target[1].type": "User"})
    {'target': [{'id': '0oa1'}, {'id': '00u2', 'type': 'User'}]}
    >>> nested_row({"target{}.id": "0oa1\n00u2", "target{}.type": "AppInstance\nUser"})
    {'target': [{'id': '0oa1', 'type': 'AppInstance'}, {'id': '00u2', 'type': 'User'}]}
    """
    out: dict[str, Any] = {}
    for column, cell in row.items():
        if not column or cell is None or cell == "":
            continue
        value = json_cell(cell)
        path = _column_path(column)
        if path is None:
            parent, key = dotted_parent(out, column)
            if isinstance(parent.get(key), dict):
                raise SchemaError(
                    f"column {column!r} conflicts with columns under it", field=column
                )
            parent[key] = value
        elif None in path:  # a multivalue field: one element per line
            for i, line in enumerate(cell.splitlines()):
                if line != "":
                    _put(out, [i if step is None else step for step in path], line, column)
        else:
            _put(out, path, value, column)
    return out


def nested_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON record whose keys are dotted paths (``pandas.json_normalize`` then
    ``to_json``, a BigQuery or SIEM table's columns as JSON lines) as the nested object
    they flatten: a ``null`` is absent, any other value is kept as it is (JSON has its
    own types: nothing is read from text), and ``a[0].b`` or ``a.0.b`` make lists.

    Examples
    --------
    >>> nested_record({"insertId": "i1", "protopayload_auditlog.methodName": "x.delete",
    ...                "protopayload_auditlog.status.code": None, "labels.a": 1})
    {'insertId': 'i1', 'protopayload_auditlog': {'methodName': 'x.delete'}, 'labels': {'a': 1}}
    >>> nested_record({"target.0.id": "0oa1", "target.1.id": 7})
    {'target': [{'id': '0oa1'}, {'id': 7}]}
    """
    out: dict[str, Any] = {}
    for key, value in record.items():
        if value is None or not key:
            continue
        path = _column_path(key)
        _put(out, key.split(".") if path is None or None in path else path, value, key)
    return out


#: one step of a flattened path that indexes a list: ``target[0]`` or ``target{}``
_LIST_STEP: Final = re.compile(r"^(.+?)(?:\[(\d{1,4})\]|\{\})\Z")


def _column_path(column: str) -> list[str | int | None] | None:
    """The steps of a column that flattens a list (``None`` standing for "each line of
    the cell"), or ``None`` for a plain dotted column.

    >>> _column_path("target[1].detailEntry.x"), _column_path("target{}.id")
    (['target', 1, 'detailEntry', 'x'], ['target', None, 'id'])
    >>> _column_path("request.ipChain.0.ip")
    ['request', 'ipChain', 0, 'ip']
    >>> _column_path("actor.id") is None
    True
    """
    steps: list[str | int | None] = []
    listed = False
    for part in column.split("."):
        if steps and len(part) <= 4 and part.isascii() and part.isdigit():
            steps.append(int(part))  # target.0.id, as flatten_json and Logstash write it
            listed = True
            continue
        m = _LIST_STEP.match(part)
        if m is None:
            steps.append(part)
            continue
        listed = True
        steps.append(m.group(1))
        steps.append(int(m.group(2)) if m.group(2) is not None else None)
    return steps if listed else None


def _put(out: dict[str, Any], path: list[Any], value: Any, column: str) -> None:
    """Set ``value`` at ``path`` (keys and list positions) in ``out``, making what is
    missing; a step that meets a value of another kind is a :class:`SchemaError`."""
    node: Any = out
    for step, after in itertools.pairwise(path):
        want: type = list if isinstance(after, int) else dict
        if isinstance(step, int):
            while len(node) <= step:
                node.append(None)
            if node[step] is None:
                node[step] = want()
            child = node[step]
        else:
            child = node.setdefault(step, want())
        if not isinstance(child, want):
            raise SchemaError(f"column {column!r} conflicts with another column", field=column)
        node = child
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
        node[last] = value
    elif isinstance(node.get(last), dict | list):
        raise SchemaError(f"column {column!r} conflicts with columns under it", field=column)
    else:
        node[last] = value
