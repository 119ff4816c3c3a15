"""The canonical auditkit event (schema version 1) and its validation.

:func:`normalize_event` turns one input mapping into the canonical record the
store hashes: required fields checked, timestamps in UTC with microseconds,
optional fields that are ``None`` dropped (as are empty or blank strings where an
optional value is constrained: outcome, category, actor type, IP, coordinates,
event id), ``category`` inferred from the core action vocabulary when absent, and
a deterministic ``event_id`` when absent (so re-ingesting the same file is
idempotent).  Errors are :class:`SchemaError` naming the field; the caller adds
the file and line.

:data:`FRAME_SCHEMA` is the Polars schema of a loaded event frame: the
contract that detections, insights, reports and widgets read.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
import polars as pl

from auditkit.errors import SchemaError
from auditkit.times import TimestampError, read_timestamp

__all__ = [
    "ACTOR_TYPES",
    "CATEGORIES",
    "CORE_ACTIONS",
    "DEFAULTED_KEY",
    "FRAME_SCHEMA",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "format_timestamp",
    "infer_category",
    "normalize_event",
    "normalize_for_store",
    "parse_timestamp",
]

SCHEMA_VERSION: Final = 1
CATEGORIES: Final = ("management", "user", "admin", "system")
OUTCOMES: Final = ("success", "failure", "denied", "error")
#: ``metadata`` key listing the fields auditkit filled with their default because the
#: producer gave none (``["outcome"]``): a default is not evidence of the field.
DEFAULTED_KEY: Final = "auditkit_defaulted"
ACTOR_TYPES: Final = ("user", "service", "api_key", "system")

#: The core action vocabulary of docs/schema.md, with each action's category.
CORE_ACTIONS: Final[dict[str, str]] = {
    **{
        a: "management"
        for a in [
            "user.login",
            "user.logout",
            "mfa.challenge",
            "mfa.enroll",
            "mfa.disable",
            "mfa.reset",
            "password.change",
            "password.reset",
            "user.create",
            "user.invite",
            "user.update",
            "user.suspend",
            "user.delete",
            "team.create",
            "team_member.add",
            "team_member.remove",
            "account.close",
            "session.expire",
        ]
    },
    **{
        a: "admin"
        for a in [
            "role.grant",
            "role.revoke",
            "permission.grant",
            "permission.revoke",
            "policy.update",
            "settings.update",
            "integration.add",
            "integration.remove",
            "api_key.create",
            "api_key.revoke",
            "sso.update",
            "audit_log.disable",
            "audit_log.enable",
            "audit_retention.update",
            "audit_destination.add",
            "audit_destination.remove",
        ]
    },
    **{
        a: "system"
        for a in ["license.expire", "job.run", "job.stop", "entity.expire", "anomaly.alert"]
    },
}

_IPV4: Final = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z"
)
_ACTION_RE: Final = re.compile(r"^[a-z0-9_\-]+(\.[a-z0-9_\-]+)+\Z")
_TOP_FIELDS: Final = frozenset(
    [
        "event_id",
        "tenant_id",
        "occurred_at",
        "action",
        "category",
        "outcome",
        "actor",
        "targets",
        "source",
        "observer",
        "request_id",
        "session_id",
        "description",
        "changes",
        "metadata",
    ]
)
_STORE_FIELDS: Final = frozenset(("seq", "received_at"))
_ALL_FIELDS: Final = _TOP_FIELDS | _STORE_FIELDS
_MAX_ID = 512
_MAX_TEXT = 65_536
_EARLIEST: Final = datetime(1990, 1, 1, tzinfo=UTC)
_EARLIEST_TEXT: Final = "1990-01-01T00:00:00.000000Z"
_FUTURE_SLACK: Final = timedelta(days=1)
_CANON_TS: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")
_soon_cache: list[tuple[float, str]] = []


def _soon_text() -> str:
    """Tomorrow as canonical text, recomputed at most once a minute."""
    import time

    now = time.monotonic()
    if not _soon_cache or now - _soon_cache[0][0] > 60:
        _soon_cache[:] = [(now, format_timestamp(datetime.now(UTC) + _FUTURE_SLACK))]
    return _soon_cache[0][1]


#: Polars schema of a loaded event frame (one row per event).
# mypy widens the mixed dtype classes and instances below to ``object``
FRAME_SCHEMA: Final = pl.Schema(
    {  # type: ignore[arg-type]
        "tenant_id": pl.String,
        "seq": pl.Int64,
        "event_id": pl.String,
        "occurred_at": pl.Datetime("us", "UTC"),
        "received_at": pl.Datetime("us", "UTC"),
        "action": pl.String,
        "category": pl.String,
        "outcome": pl.String,
        "actor_id": pl.String,
        "actor_type": pl.String,
        "actor_name": pl.String,
        "actor_email": pl.String,
        "actor_roles": pl.List(pl.String),
        "targets": pl.List(pl.Struct({"id": pl.String, "type": pl.String, "name": pl.String})),
        "target_id": pl.String,
        "target_type": pl.String,
        "source_ip": pl.String,
        "user_agent": pl.String,
        "geo_country": pl.String,
        "geo_city": pl.String,
        "geo_lat": pl.Float64,
        "geo_lon": pl.Float64,
        "observer_service": pl.String,
        "observer_version": pl.String,
        "observer_region": pl.String,
        "request_id": pl.String,
        "session_id": pl.String,
        "description": pl.String,
        "changes": pl.String,
        "metadata": pl.String,
    }
)


def infer_category(action: str) -> str:
    """Return the category of ``action``: from the core vocabulary, else ``user``.

    Examples
    --------
    >>> infer_category("role.grant"), infer_category("document.export")
    ('admin', 'user')
    """
    return CORE_ACTIONS.get(action, "user")


def format_timestamp(ts: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC with microseconds and ``Z``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> format_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    '2026-01-02T03:04:05.000000Z'
    """
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: Any, *, field: str = "occurred_at", now: datetime | None = None) -> str:
    """Validate an RFC 3339 timestamp and return it in canonical form.

    The value must carry a time zone (``Z`` or an offset), lie after 1990 and
    not more than a day in the future.  Aware ``datetime`` objects are accepted.

    Examples
    --------
    >>> parse_timestamp("2026-03-01T10:00:00+02:00")
    '2026-03-01T08:00:00.000000Z'
    >>> parse_timestamp("12/31")
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'occurred_at': expected RFC 3339 timestamp, got '12/31'
    """
    if type(value) is str and _CANON_TS.match(value):
        # already canonical: check it is a real date and in range, without reformatting
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise SchemaError(
                f"expected RFC 3339 timestamp, got {_short(value)}", field=field
            ) from None
        upper = _soon_text() if now is None else format_timestamp(now + _FUTURE_SLACK)
        if value < _EARLIEST_TEXT or value > upper:
            raise SchemaError(
                f"timestamp out of range (1990 to tomorrow), got {_short(value)}", field=field
            )
        return value
    try:
        ts = read_timestamp(value).utc
    except TimestampError as exc:
        raise SchemaError(str(exc), field=field) from None
    if ts < _EARLIEST or ts > (now or datetime.now(UTC)) + _FUTURE_SLACK:
        raise SchemaError(
            f"timestamp out of range (1990 to tomorrow), got {_short(value)}", field=field
        )
    return format_timestamp(ts)


def _blank(value: Any) -> bool:
    """Whether ``value`` is an empty or white-space-only string: what producers write
    for an absent value as often as ``null``.  In an optional field whose value is
    constrained (an outcome, a category, an actor type, an IP address, a coordinate,
    the event id) it counts as absent; free text keeps it as written.

    >>> _blank(""), _blank(" \\t"), _blank("x"), _blank(None)
    (True, True, False, False)
    """
    return type(value) is str and (not value or value.isspace())


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _string(value: Any, field: str, *, limit: int = _MAX_ID, required: bool = False) -> str | None:
    if type(value) is str and 0 < len(value) <= limit and (not required or not value.isspace()):
        return value
    if value is None:
        if required:
            raise SchemaError("required field is missing", field=field)
        return None
    if not isinstance(value, str):
        raise SchemaError(f"expected string, got {type(value).__name__}", field=field)
    if required and not value.strip():
        raise SchemaError("required field is empty", field=field)
    if len(value) > limit:
        raise SchemaError(f"expected at most {limit} characters, got {len(value)}", field=field)
    return value


def _object(value: Any, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SchemaError(f"expected object, got {type(value).__name__}", field=field)
    return dict(value)


def _free_json(value: Any, field: str) -> Any:
    """Check a free-form JSON value (metadata, changes); fast for the common case.

    One pass in C proves most values fine: orjson refuses integers beyond JCS's
    range and non-string keys, and NaN or infinities do not survive the round
    trip.  Anything else gets the walk of :func:`_json_value`, which names the
    offending field.
    """
    try:
        data = orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except (TypeError, orjson.JSONEncodeError):
        pass
    else:
        if type(value) is dict and orjson.loads(data) == value:
            return value
    try:
        return _json_value(value, field)
    except RecursionError:
        raise SchemaError("nested too deeply", field=field) from None


def _json_value(value: Any, field: str) -> Any:
    """Check a free-form JSON value: finite numbers, integers in JCS range, str keys.

    Integral floats become ints (JCS writes both the same way); the value is
    returned unchanged (same object) when nothing needs changing.
    """
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if t is dict:
        out = value
        for k, v in value.items():
            tv = type(v)
            if tv is str or tv is bool or v is None:
                continue
            if type(k) is not str:
                raise SchemaError(f"expected string keys, got {type(k).__name__}", field=field)
            nv = _json_value(v, f"{field}.{k}")
            if nv is not v:
                if out is value:
                    out = dict(value)
                out[k] = nv
        for k in value:
            if type(k) is not str:
                raise SchemaError(f"expected string keys, got {type(k).__name__}", field=field)
        return out
    if t is list:
        new = None
        for i, v in enumerate(value):
            tv = type(v)
            if tv is str or tv is bool or v is None:
                continue
            nv = _json_value(v, f"{field}[{i}]")
            if nv is not v:
                if new is None:
                    new = list(value)
                new[i] = nv
        return value if new is None else new
    if t is int:
        if abs(value) >= 2**53:
            raise SchemaError(
                f"integer {value} is outside the exact JSON range (|n| < 2^53)", field=field
            )
        return value
    if t is float:
        if not math.isfinite(value):
            raise SchemaError(f"expected a finite number, got {value}", field=field)
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    # subclasses and other containers: convert to the plain JSON type, then check
    for kind in (str, bool, int, float):
        if isinstance(value, kind):
            return _json_value(kind(value), field)
    if isinstance(value, Mapping):
        return _json_value(dict(value), field)
    if isinstance(value, list | tuple):
        return _json_value(list(value), field)
    raise SchemaError(f"expected a JSON value, got {type(value).__name__}", field=field)


_ACTOR_KEYS: Final = frozenset(("id", "type", "name", "email", "roles"))
_TARGET_KEYS: Final = frozenset(("id", "type", "name"))
_SOURCE_KEYS: Final = frozenset(("ip", "user_agent", "geo"))
_GEO_KEYS: Final = frozenset(("country", "city", "lat", "lon"))
_OBSERVER_KEYS: Final = frozenset(("service", "version", "region"))


def _unknown(obj: Mapping[str, Any], allowed: frozenset[str], field: str) -> None:
    if not obj.keys() <= allowed:
        extra = sorted(str(k) for k in obj.keys() - allowed)
        raise SchemaError(
            f"unknown field(s) {extra}; expected some of {sorted(allowed)}", field=field
        )


def _actor(value: Any) -> dict[str, Any]:
    if value is None:
        raise SchemaError("required field is missing", field="actor")
    if isinstance(value, str):  # shorthand: "actor": "u-1"
        value = {"id": value}
    if type(value) is not dict and not isinstance(value, Mapping):
        raise SchemaError(f"expected object, got {type(value).__name__}", field="actor")
    _unknown(value, _ACTOR_KEYS, "actor")
    out: dict[str, Any] = {"id": _string(value.get("id"), "actor.id", required=True)}
    kind = value.get("type")
    if kind is not None and not _blank(kind):
        if kind not in ACTOR_TYPES:
            raise SchemaError(
                f"expected one of {', '.join(ACTOR_TYPES)}, got {_short(kind)}", field="actor.type"
            )
        out["type"] = kind
    for key in ("name", "email"):
        text = _string(value.get(key), f"actor.{key}")
        if text is not None:
            out[key] = text
    roles = value.get("roles")
    if roles is not None:
        if type(roles) is not list or not all(type(r) is str for r in roles):
            raise SchemaError("expected a list of strings", field="actor.roles")
        out["roles"] = roles
    return out


def _targets(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise SchemaError(
            f"expected a list of objects, got {type(value).__name__}", field="targets"
        )
    out = []
    for i, target in enumerate(value):
        where = f"targets[{i}]"
        if type(target) is not dict and not isinstance(target, Mapping):
            raise SchemaError(f"expected object, got {type(target).__name__}", field=where)
        _unknown(target, _TARGET_KEYS, where)
        t: dict[str, Any] = {"id": _string(target.get("id"), f"{where}.id", required=True)}
        for key in ("type", "name"):
            text = _string(target.get(key), f"{where}.{key}", limit=_MAX_TEXT)
            if text is not None:
                t[key] = text
        out.append(t)
    return out


def _ipv6_normal(text: str) -> bool:
    """Whether ``text`` is an IPv6 address already in ``ipaddress``'s normal form."""
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return False
    return "." not in text and socket.inet_ntop(socket.AF_INET6, packed) == text


def _normal_ip(text: str) -> str:
    """The normal form of an IP address (``ipaddress`` rules), fast for the common case."""
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    if family == socket.AF_INET and _IPV4.match(text):
        socket.inet_pton(family, text)  # raises OSError when an octet is out of range
        return text
    return str(ipaddress.ip_address(text))


def _source(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if type(value) is not dict and not isinstance(value, Mapping):
        raise SchemaError(f"expected object, got {type(value).__name__}", field="source")
    _unknown(value, _SOURCE_KEYS, "source")
    out: dict[str, Any] = {}
    ip = value.get("ip")
    if ip is not None and not _blank(ip):
        if not isinstance(ip, str):
            raise SchemaError(
                f"expected IP address string, got {type(ip).__name__}", field="source.ip"
            )
        try:
            out["ip"] = _normal_ip(ip.strip())
        except (ValueError, OSError):
            raise SchemaError(
                f"expected an IPv4 or IPv6 address, got {_short(ip)}", field="source.ip"
            ) from None
    ua = _string(value.get("user_agent"), "source.user_agent", limit=_MAX_TEXT)
    if ua is not None:
        out["user_agent"] = ua
    geo = value.get("geo")
    if geo is not None:
        if type(geo) is not dict and not isinstance(geo, Mapping):
            raise SchemaError(f"expected object, got {type(geo).__name__}", field="source.geo")
        _unknown(geo, _GEO_KEYS, "source.geo")
        g: dict[str, Any] = {}
        for key in ("country", "city"):
            text = _string(geo.get(key), f"source.geo.{key}")
            if text is not None:
                g[key] = text
        for key, bound in (("lat", 90.0), ("lon", 180.0)):
            num = geo.get(key)
            if num is None or _blank(num):
                continue
            if isinstance(num, bool) or not isinstance(num, int | float):
                raise SchemaError(
                    f"expected a number, got {type(num).__name__}", field=f"source.geo.{key}"
                )
            if not (math.isfinite(num) and -bound <= num <= bound):
                raise SchemaError(
                    f"expected a number in [-{bound:g}, {bound:g}], got {num}",
                    field=f"source.geo.{key}",
                )
            g[key] = _json_value(num, f"source.geo.{key}")
        if g:
            out["geo"] = g
    return out or None


def _observer(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if type(value) is not dict and not isinstance(value, Mapping):
        raise SchemaError(f"expected object, got {type(value).__name__}", field="observer")
    _unknown(value, _OBSERVER_KEYS, "observer")
    out = {}
    for key in ("service", "version", "region"):
        text = _string(value.get(key), f"observer.{key}")
        if text is not None:
            out[key] = text
    return out or None


def _derived_event_id(event: Mapping[str, Any], occurred_at: str) -> str:
    """A UUIDv7-shaped id: occurred_at in the top 48 bits, the rest from SHA-256 of content.

    Deterministic, so that a record without an id gets the same id each time it is
    ingested, and re-ingesting a file is idempotent.
    """
    digest = hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).digest()
    millis = int(datetime.fromisoformat(occurred_at).timestamp() * 1000)
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(digest[:10], "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def normalize_event(raw: Mapping[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """Validate one input event and return its canonical record (without ``seq``).

    Parameters
    ----------
    raw
        A mapping with the fields of docs/schema.md.  ``None`` values count as absent.
        ``seq`` and ``received_at`` belong to the store: when present (an export of
        another store being re-imported) they are kept under ``metadata.imported``.
    now
        The clock used to reject timestamps in the future (tests pass a fixed one).

    Raises
    ------
    SchemaError
        Naming the field and what was expected; the caller adds file and line.

    Examples
    --------
    >>> e = normalize_event({"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                      "action": "user.login", "actor": {"id": "u-1"}})
    >>> e["category"], e["outcome"], e["occurred_at"]
    ('management', 'success', '2026-01-05T09:00:00.000000Z')
    >>> normalize_event({"tenant_id": "acme", "occurred_at": "2026-01-05T09:00:00Z",
    ...                  "action": "Login", "actor": {"id": "u-1"}})
    Traceback (most recent call last):
    ...
    auditkit.errors.SchemaError: field 'action': expected lower-case 'noun.verb', got 'Login'
    """
    fast = _fast_normalize(raw, now)
    if fast is not None:
        return fast
    return _full_normalize(raw, now)


def _plain(value: Any, limit: int = _MAX_ID) -> bool:
    return type(value) is str and 0 < len(value) <= limit and not value.isspace()


def _plain_dict(value: Any, allowed: frozenset[str], limit: int = _MAX_ID) -> bool:
    if type(value) is not dict or not value.keys() <= allowed:
        return False
    for v in value.values():
        if type(v) is not str or not 0 < len(v) <= limit or v.isspace():
            return False
    return True


def normalize_for_store(
    raw: Mapping[str, Any], *, now: datetime | None = None
) -> tuple[dict[str, Any], bool]:
    """:func:`normalize_event`, leaving the check of ``metadata`` and ``changes`` to
    :func:`auditkit.record.prepare_event` when that is safe; returns the event
    and whether they were checked here.

    Checking a free-form value costs a serialisation and a walk, and so does proving
    it canonical for the hash: large values (a CloudTrail record kept whole in
    ``metadata.original``) were paying twice.  ``prepare_event`` proves both at once,
    and does the full check (with its :class:`SchemaError`) only when its proof fails.
    An event without an ``event_id`` is checked here, since its id is derived from
    the checked content.

    Examples
    --------
    >>> e, checked = normalize_for_store({"tenant_id": "acme", "event_id": "e1",
    ...     "occurred_at": "2026-01-05T09:00:00.000000Z", "action": "user.login",
    ...     "outcome": "success", "actor": {"id": "u-1"}, "metadata": {"n": 1}})
    >>> checked
    False
    >>> from auditkit.record import prepare_event
    >>> prepare_event(e, checked=checked).row[-1]  # the outcome was given: nothing marked
    '{"n":1}'
    """
    fast = _fast_normalize(raw, now, defer_free_json=True)
    if fast is not None:
        event_id = raw.get("event_id")
        return fast, event_id is None or _blank(event_id)
    return _full_normalize(raw, now), True


#: RFC 3339 UTC with ``Z`` (or ``+00:00``) and at most microseconds: turned canonical
#: by padding the fraction, which is what :func:`parse_timestamp` gives for them
_ZULU_TS: Final = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]{1,6}))?(?:Z|\+00:00)\Z"
)
_NO: Final[Any] = object()  # "take the full path"


def _opt_text(value: Any, limit: int = _MAX_ID) -> bool:
    """An optional string the full rules keep as it is (empty or blank included)."""
    return type(value) is str and len(value) <= limit


def _fast_strings(value: Any, allowed: frozenset[str], limit: int = _MAX_ID) -> Any:
    """An object of optional strings: ``None`` values dropped; ``None`` when nothing
    is left (the full rules then leave the object out); ``_NO`` for the full path."""
    if type(value) is not dict or not value.keys() <= allowed:
        return _NO
    nulls = False
    for v in value.values():
        if v is None:
            nulls = True
        elif type(v) is not str or len(v) > limit:
            return _NO
    if nulls:
        value = {k: v for k, v in value.items() if v is not None}
    return value or None


def _fast_actor(actor: Any) -> Any:
    if type(actor) is not dict or not actor.keys() <= _ACTOR_KEYS or not _plain(actor.get("id")):
        return _NO
    nulls = False
    for key, v in actor.items():
        if v is None:
            nulls = True
        elif key == "roles":
            if type(v) is not list or not all(type(r) is str for r in v):
                return _NO
        elif key == "type":
            if v not in ACTOR_TYPES:
                if not _blank(v):
                    return _NO
                nulls = True  # absent, as null is
        elif not _opt_text(v):
            return _NO
    if not nulls:
        return actor
    return {k: v for k, v in actor.items() if v is not None and (k != "type" or not _blank(v))}


def _fast_targets(targets: Any) -> Any:
    if type(targets) is not list:
        return _NO
    out = targets
    for i, t in enumerate(targets):
        if type(t) is not dict or not t.keys() <= _TARGET_KEYS:
            return _NO
        tid = t.get("id")
        if not _plain(tid) or len(str(tid)) > _MAX_ID:
            return _NO
        kept = _fast_strings(t, _TARGET_KEYS, _MAX_TEXT)
        if kept is _NO:
            return _NO
        if kept is not t:
            if out is targets:
                out = list(targets)
            out[i] = kept
    return out


def _fast_source(source: Any) -> Any:
    if type(source) is not dict or not source.keys() <= _SOURCE_KEYS:
        return _NO
    out = source
    ip = source.get("ip")
    if ip is not None and (
        type(ip) is not str or not (_IPV4.match(ip) or (":" in ip and _ipv6_normal(ip)))
    ):
        if not _blank(ip):
            return _NO
        out = {k: v for k, v in source.items() if k != "ip"}  # absent, as null is
    ua = source.get("user_agent")
    if ua is not None and not _opt_text(ua, _MAX_TEXT):
        return _NO
    geo = source.get("geo")
    if geo is not None:
        if type(geo) is not dict or not geo.keys() <= _GEO_KEYS:
            return _NO
        nulls = False
        whole: list[str] = []
        for key, v in geo.items():
            if v is None:
                nulls = True
            elif key in ("lat", "lon"):
                bound = 90.0 if key == "lat" else 180.0
                kind = type(v)
                if kind is str and _blank(v):
                    nulls = True  # absent, as null is
                elif kind is float:
                    if not -bound <= v <= bound:
                        return _NO
                    if v.is_integer():  # JCS writes 52.0 as 52: the full rules make it int
                        whole.append(key)
                elif kind is not int or not -bound <= v <= bound:
                    return _NO
            elif not _opt_text(v):
                return _NO
        if nulls or whole:
            geo = {
                k: int(v) if k in whole else v
                for k, v in geo.items()
                if v is not None and not (k in ("lat", "lon") and type(v) is str)
            }
            out = {**out, "geo": geo or None}
        elif not geo:
            out = {**out, "geo": None}
    if None in out.values():
        out = {k: v for k, v in out.items() if v is not None}
    return out or None


def _fast_normalize(
    raw: Any, now: datetime | None, *, defer_free_json: bool = False
) -> dict[str, Any] | None:
    """The common case in one pass, or ``None`` to take the full path.

    Accepts events as real producers write them: ``null`` for absent optional
    fields (dropped, as the full rules drop them), empty or blank strings where an
    optional value is constrained (outcome, category, actor type, IP address,
    coordinates, event id: absent, as ``null`` is), other empty strings and lists
    (kept, as the full rules keep them), UTC times with ``Z`` or ``+00:00`` and up to six
    fraction digits (padded to the canonical six), plain strings, IPv4 in dotted
    form.  For these the result equals :func:`_full_normalize`'s; the property
    tests check that.  Anything else, valid or not, goes the full way, which also
    words the errors.
    """
    if type(raw) is not dict:
        return None
    if None in raw.values():
        raw = {k: v for k, v in raw.items() if v is not None}
    if not raw.keys() <= _TOP_FIELDS:
        return None
    get = raw.get
    tenant, ts, action = get("tenant_id"), get("occurred_at"), get("action")
    if not _plain(tenant) or not str(tenant).isprintable():
        return None
    if type(ts) is not str:
        return None
    if not _CANON_TS.match(ts):
        zulu = _ZULU_TS.match(ts)
        if zulu is None:
            return None
        fraction = zulu[2] or ""
        ts = f"{zulu[1]}.{fraction}{'0' * (6 - len(fraction))}Z"
    upper = _soon_text() if now is None else format_timestamp(now + _FUTURE_SLACK)
    if ts < _EARLIEST_TEXT or ts > upper:
        return None
    try:
        datetime.fromisoformat(ts)
    except ValueError:
        return None
    if type(action) is not str or len(action) > 200 or not _ACTION_RE.match(action):
        return None
    event = dict(raw)
    event["occurred_at"] = ts
    category = get("category")
    if category is not None and category not in CATEGORIES:
        if not _blank(category):
            return None
        category = None  # absent, as null is
    if category is None:
        event["category"] = CORE_ACTIONS.get(action, "user")
    outcome = get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        if not _blank(outcome):
            return None
        outcome = None  # absent, as null is: the default, marked below
    if outcome is None:
        event["outcome"] = "success"
    actor = _fast_actor(get("actor"))
    if actor is _NO:
        return None
    event["actor"] = actor
    targets = get("targets")
    if targets is not None:
        targets = _fast_targets(targets)
        if targets is _NO:
            return None
        event["targets"] = targets
    for key, check in (("source", _fast_source), ("observer", _fast_observer)):
        value = get(key)
        if value is not None:
            value = check(value)
            if value is _NO:
                return None
            if value is None:
                del event[key]
            else:
                event[key] = value
    for key in ("request_id", "session_id"):
        v = get(key)
        if v is not None and not _opt_text(v):
            return None
    description = get("description")
    if description is not None and not _opt_text(description, _MAX_TEXT):
        return None
    changes = get("changes")
    if changes is not None and (
        type(changes) is not dict or not changes.keys() <= {"before", "after"}
    ):
        return None
    metadata = get("metadata")
    if metadata is not None:
        if type(metadata) is not dict:
            return None
        if not metadata:
            del event["metadata"]
            metadata = None
    if outcome is None:  # the default is recorded, so that it is not taken for evidence
        metadata = {**(metadata or {}), DEFAULTED_KEY: ["outcome"]}
        event["metadata"] = metadata
    event_id = get("event_id")
    if event_id is not None and not _plain(event_id):
        if not _blank(event_id):
            return None
        event_id = None  # absent, as null is: derived from the content below
    if not defer_free_json or event_id is None:
        if changes is not None:
            event["changes"] = _free_json(changes, "changes")
        if metadata is not None:
            event["metadata"] = _free_json(metadata, "metadata")
    if event_id is None:
        event["event_id"] = _derived_event_id(
            {k: v for k, v in event.items() if k != "event_id"}, ts
        )
    return event


def _fast_observer(value: Any) -> Any:
    return _fast_strings(value, _OBSERVER_KEYS)


def _full_normalize(raw: Any, now: datetime | None) -> dict[str, Any]:
    """Every rule of :func:`normalize_event`, with the errors worded."""
    if not isinstance(raw, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(raw).__name__}")
    data = {k: v for k, v in raw.items() if v is not None}
    if not data.keys() <= _ALL_FIELDS:
        extra = sorted(str(k) for k in data.keys() - _ALL_FIELDS)
        raise SchemaError("unknown field(s); put extra data in metadata", field=",".join(extra))
    event: dict[str, Any] = {}
    tenant = _string(data.get("tenant_id"), "tenant_id", required=True)
    if not tenant.isprintable():  # type: ignore[union-attr]
        raise SchemaError(
            f"expected printable characters only, got {_short(tenant)}", field="tenant_id"
        )
    event["tenant_id"] = tenant
    if "occurred_at" not in data:
        raise SchemaError("required field is missing", field="occurred_at")
    if _blank(data["occurred_at"]):
        raise SchemaError("required field is empty", field="occurred_at")
    event["occurred_at"] = parse_timestamp(data["occurred_at"], now=now)
    action = data.get("action")
    if action is None:
        raise SchemaError("required field is missing", field="action")
    if _blank(action):
        raise SchemaError("required field is empty", field="action")
    if not isinstance(action, str) or len(action) > 200 or not _ACTION_RE.match(action):
        raise SchemaError(f"expected lower-case 'noun.verb', got {_short(action)}", field="action")
    event["action"] = action
    category = data.get("category")
    if category is None or _blank(category):
        category = infer_category(action)
    elif category not in CATEGORIES:
        raise SchemaError(
            f"expected one of {', '.join(CATEGORIES)}, got {_short(category)}", field="category"
        )
    event["category"] = category
    outcome = data.get("outcome")
    defaulted = outcome is None or _blank(outcome)
    if defaulted:
        outcome = "success"
    if outcome not in OUTCOMES:
        raise SchemaError(
            f"expected one of {', '.join(OUTCOMES)}, got {_short(outcome)}", field="outcome"
        )
    event["outcome"] = outcome
    event["actor"] = _actor(data.get("actor"))
    for key, fn in (("targets", _targets), ("source", _source), ("observer", _observer)):
        value = fn(data.get(key))
        if value is not None:
            event[key] = value
    for key in ("request_id", "session_id"):
        text = _string(data.get(key), key)
        if text is not None:
            event[key] = text
    description = _string(data.get("description"), "description", limit=_MAX_TEXT)
    if description is not None:
        event["description"] = description
    changes = _object(data.get("changes"), "changes")
    if changes is not None:
        unknown = set(changes) - {"before", "after"}
        if unknown:
            raise SchemaError(
                f"expected only 'before' and 'after', got {sorted(unknown)}", field="changes"
            )
        event["changes"] = _free_json(changes, "changes")
    metadata = _object(data.get("metadata"), "metadata") or {}
    imported = {k: data[k] for k in ("seq", "received_at") if k in data}
    if imported:
        metadata = {**metadata, "imported": imported}
    if defaulted:  # the default is recorded, so that it is not taken for evidence
        metadata = {**metadata, DEFAULTED_KEY: ["outcome"]}
    if metadata:
        event["metadata"] = _free_json(metadata, "metadata")
    event_id = data.get("event_id")
    if event_id is None or _blank(event_id):
        event_id = _derived_event_id(event, event["occurred_at"])
    event["event_id"] = _string(event_id, "event_id", required=True)
    return event
