"""Times, durations and periods given by people: the one parser every command,
widget, report and API uses, so that the same text means the same thing
everywhere.

Three kinds of text:

* an **instant**: an RFC 3339 time (``2026-03-01T10:00:00+02:00``, ``...Z``), a
  date (``2026-03-01``: midnight UTC), ``now``, ``today``, ``yesterday``, or an
  age counted back from now (``30d``, ``12h``, ``90m``, ``2w``, ``45s``);
  a time without a zone is read as UTC;
* a **duration**: ``<number><unit>`` with unit ``s``, ``m`` (minutes), ``h``,
  ``d`` or ``w`` (``15m``, ``24h``, ``30d``);
* a **period** of whole days, both ends included: ``START..END`` (each an instant;
  either may be left out for "from the beginning" or "up to today"), or an age
  such as ``30d`` or ``12mo`` (``mo``: months; ``y``: years) for the days up to
  today.

Errors are :class:`~auditkit.errors.UsageError` saying what was expected and what
was found.

Timestamps *inside events* (what a producer or another tool wrote) are read by
:func:`read_timestamp`: RFC 3339, exact to the nanosecond, and also the form
data lakes and SIEMs write (``2022-03-22 14:21:53.225``: a space for the ``T``,
no zone).  Whether a time without a zone may be read as UTC is the caller's
decision (the source format's specification, or ``--assume-utc``), and the
result says when it was (:attr:`SourceTime.zone_assumed`).

Examples
--------
>>> now = datetime(2026, 4, 1, 12, tzinfo=UTC)
>>> parse_instant("30d", now=now).isoformat()
'2026-03-02T12:00:00+00:00'
>>> parse_duration("15m")
datetime.timedelta(seconds=900)
>>> str(parse_period("2026-01-01..2026-03-31"))
'2026-01-01..2026-03-31'
>>> str(parse_period("30d", now=now))
'2026-03-03..2026-04-01'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from auditkit.errors import UsageError

__all__ = [
    "Period",
    "SourceTime",
    "TimestampError",
    "as_utc",
    "format_instant",
    "parse_duration",
    "parse_instant",
    "parse_period",
    "read_timestamp",
]

_AGE: Final = re.compile(r"\s*(\d+)\s*([smhdw])\s*\Z")
_CALENDAR_AGE: Final = re.compile(r"\s*(\d+)\s*(d|w|mo|y)\s*\Z")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
#: An event timestamp: RFC 3339 with ``T`` or a space, seconds optional, any
#: number of fraction digits (``.`` or ``,``), and a zone (``Z``, ``UTC``,
#: ``+hh:mm``, ``+hhmm``, ``+hh``), or none.
_STAMP: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r" ?([Zz]|UTC|[+-][0-9]{2}(?::?[0-9]{2})?)?\Z"
)
_INSTANT_HELP: Final = "an RFC 3339 time, a date (YYYY-MM-DD) or an age like 30d, 12mo or 1y"
#: Ages longer than this are refused (a typo such as ``300000d`` would reach year 1200).
_MAX_AGE: Final = timedelta(days=365 * 200)


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else as_utc(now)


def as_utc(value: datetime | date | str) -> datetime:
    """An absolute time as an aware UTC datetime: a date means midnight UTC, a
    time without a zone is UTC.

    Examples
    --------
    >>> as_utc("2026-01-05").isoformat()
    '2026-01-05T00:00:00+00:00'
    >>> as_utc("2026-01-05T10:00:00+02:00").hour
    8
    >>> as_utc("soon")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: expected an RFC 3339 time or a date (YYYY-MM-DD), got 'soon'
    """
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, date):
        ts = datetime.combine(value, time(0))
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                ts = datetime.combine(date.fromisoformat(text), time(0))
            else:
                ts = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"expected an RFC 3339 time or a date (YYYY-MM-DD), got {_short(value)}"
            ) from None
    else:
        raise UsageError(f"expected a time, got {type(value).__name__}")
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


class TimestampError(ValueError):
    """An event timestamp that cannot be read; ``no_zone`` when the only thing
    missing is its zone (the caller may then say how to accept it)."""

    def __init__(self, message: str, *, no_zone: bool = False) -> None:
        super().__init__(message)
        self.no_zone = no_zone


@dataclass(frozen=True, slots=True)
class SourceTime:
    """A timestamp read from an event, exact to the nanosecond.

    ``utc`` is the instant in UTC to the microsecond (the stored precision;
    further digits are cut, never rounded, so that no time moves into the next
    second); ``nanosecond`` holds the digits beyond (0-999); ``zone_assumed``
    says that the text had no zone and was read as UTC.

    Examples
    --------
    >>> t = read_timestamp("2022-03-22 14:21:53.225123456", assume_utc=True)
    >>> t.text, t.precise_text, t.zone_assumed
    ('2022-03-22T14:21:53.225123Z', '2022-03-22T14:21:53.225123456Z', True)
    """

    utc: datetime
    nanosecond: int = 0
    zone_assumed: bool = False

    @property
    def text(self) -> str:
        """The stored form: RFC 3339 UTC with microseconds and ``Z``."""
        return self.utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @property
    def precise_text(self) -> str:
        """RFC 3339 UTC with nanoseconds: equal for equal instants, whatever the
        source's notation (a key for deduplication)."""
        return self.utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{self.nanosecond:03d}Z"


def read_timestamp(value: str | datetime, *, assume_utc: bool = False) -> SourceTime:
    """Read a timestamp written in an event: RFC 3339, or the data-lake form.

    Accepted: ``T``, ``t`` or a space between date and time; seconds optional;
    a fraction of any length (kept to the nanosecond); a zone ``Z``, ``UTC``
    (as BigQuery writes), ``+hh:mm``, ``+hhmm`` or ``+hh``, with or without a
    space before it.  A time without a zone is refused unless ``assume_utc``
    (the source is defined to write UTC); it is then read as UTC and the result
    says so.  Aware ``datetime`` objects are taken as they are; naive ones follow
    the same rule as text without a zone.

    Raises
    ------
    TimestampError
        Saying what was expected and what was found (``no_zone`` set when only
        the zone is missing).  The range of acceptable years is the caller's.

    Examples
    --------
    >>> read_timestamp("2026-03-01T10:00:00.5+02:00").text
    '2026-03-01T08:00:00.500000Z'
    >>> read_timestamp("2022-03-22 14:21:53.225 UTC").zone_assumed
    False
    >>> read_timestamp("2022-03-22 14:21:53.225")
    Traceback (most recent call last):
    ...
    auditkit.times.TimestampError: expected a time zone (Z or +hh:mm) in the timestamp, got '2022-03-22 14:21:53.225'
    >>> read_timestamp("2022-03-22 14:21:53.225", assume_utc=True).text
    '2022-03-22T14:21:53.225000Z'
    """  # noqa: E501
    if isinstance(value, datetime):
        if value.tzinfo is None:
            if not assume_utc:
                raise TimestampError(
                    f"expected a time zone (Z or +hh:mm) in the timestamp, got {_short(value)}",
                    no_zone=True,
                )
            return SourceTime(value.replace(tzinfo=UTC), 0, True)
        return SourceTime(value.astimezone(UTC))
    if not isinstance(value, str):
        raise TimestampError(f"expected RFC 3339 timestamp string, got {type(value).__name__}")
    m = _STAMP.match(value.strip()) if len(value) <= 64 else None
    if m is None:
        raise TimestampError(f"expected RFC 3339 timestamp, got {_short(value)}")
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    digits = ((fraction or "") + "000000000")[:9]
    try:
        ts = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
            int(digits[:6]),
        )  # fmt: skip
        if zone is None:
            if not assume_utc:
                raise TimestampError(
                    f"expected a time zone (Z or +hh:mm) in the timestamp, got {_short(value)}",
                    no_zone=True,
                )
            return SourceTime(ts.replace(tzinfo=UTC), int(digits[6:]), True)
        if zone in ("Z", "z", "UTC"):
            return SourceTime(ts.replace(tzinfo=UTC), int(digits[6:]))
        sign = -1 if zone[0] == "-" else 1
        hh, mm = int(zone[1:3]), int(zone[-2:]) if len(zone) > 3 else 0
        if hh > 23 or mm > 59:
            raise ValueError(zone)
        offset = timedelta(hours=hh, minutes=mm) * sign
        return SourceTime((ts - offset).replace(tzinfo=UTC), int(digits[6:]))
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, TimestampError):
            raise
        raise TimestampError(f"expected RFC 3339 timestamp, got {_short(value)}") from None


def parse_duration(text: str | timedelta) -> timedelta:
    """A duration such as ``15m``, ``24h``, ``30d`` or ``2w``.

    Examples
    --------
    >>> parse_duration("2w").days
    14
    >>> parse_duration("fortnight")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: expected a duration like 15m, 24h, 30d or 2w, got 'fortnight'
    """
    if isinstance(text, timedelta):
        return text
    m = _AGE.match(text) if isinstance(text, str) else None
    if not m:
        raise UsageError(f"expected a duration like 15m, 24h, 30d or 2w, got {_short(text)}")
    try:
        delta = timedelta(**{_UNITS[m[2]]: int(m[1])})
    except OverflowError:
        delta = _MAX_AGE * 2
    if delta > _MAX_AGE:
        raise UsageError(f"duration too long: {_short(text)} (at most 200 years)")
    return delta


def parse_instant(text: str | datetime | date, *, now: datetime | None = None) -> datetime:
    """A point in time: RFC 3339, a date, ``now``/``today``/``yesterday``, or an age
    counted back from now (``30d``).

    Examples
    --------
    >>> now = datetime(2026, 4, 1, 12, tzinfo=UTC)
    >>> parse_instant("today", now=now).isoformat()
    '2026-04-01T00:00:00+00:00'
    >>> parse_instant("2026-03-01").isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> parse_instant("1y", now=now).isoformat(), parse_instant("3mo", now=now).isoformat()
    ('2025-04-01T12:00:00+00:00', '2026-01-01T12:00:00+00:00')
    >>> parse_instant("last tuesday")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: expected an RFC 3339 time, a date (YYYY-MM-DD) or an age like 30d, 12mo or 1y, got 'last tuesday'
    """  # noqa: E501
    if not isinstance(text, str):
        return as_utc(text)
    word = text.strip().lower()
    if word == "now":
        return _now(now)
    if word in ("today", "yesterday"):
        day = _now(now).date() - timedelta(days=1 if word == "yesterday" else 0)
        return datetime.combine(day, time(0), UTC)
    if _AGE.match(word):
        return _now(now) - parse_duration(word)
    calendar = _CALENDAR_AGE.match(word)
    if calendar and calendar[2] in ("mo", "y"):  # as --period counts them: calendar months
        n = int(calendar[1]) * (12 if calendar[2] == "y" else 1)
        if n > 12 * 200:
            raise UsageError(f"age too long: {_short(text)} (at most 200 years)")
        moment = _now(now)
        return datetime.combine(_months_back(moment.date(), n), moment.timetz())
    try:
        return as_utc(text)
    except UsageError:
        raise UsageError(f"expected {_INSTANT_HELP}, got {_short(text)}{_why_not(text)}") from None


def format_instant(ts: datetime) -> str:
    """RFC 3339 UTC with microseconds and ``Z``: the stored form of a time.

    Examples
    --------
    >>> format_instant(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    '2026-01-02T03:04:05.000000Z'
    """
    return as_utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Period:
    """Whole days from ``start`` to ``end``, both included (UTC).

    Examples
    --------
    >>> p = Period(date(2026, 1, 1), date(2026, 1, 31))
    >>> p.days, p.start_at.isoformat(), p.end_exclusive.isoformat()
    (31, '2026-01-01T00:00:00+00:00', '2026-02-01T00:00:00+00:00')
    """

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise UsageError(f"period: expected start <= end, got {self.start}..{self.end}")

    @classmethod
    def parse(cls, text: str | Period | tuple[Any, Any], *, now: datetime | None = None) -> Period:
        """Same as :func:`parse_period`; also takes a pair of dates.

        Examples
        --------
        >>> Period.parse(("2026-01-01", "2026-01-31")).end
        datetime.date(2026, 1, 31)
        """
        if isinstance(text, Period):
            return text
        if isinstance(text, tuple):
            return cls(_day(text[0], now), _day(text[1], now))
        return parse_period(text, now=now)

    @property
    def start_at(self) -> datetime:
        """The first instant (UTC midnight of ``start``)."""
        return datetime.combine(self.start, time(0), UTC)

    @property
    def end_exclusive(self) -> datetime:
        """The instant just after the period (UTC midnight after ``end``)."""
        return datetime.combine(self.end + timedelta(days=1), time(0), UTC)

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1

    def __contains__(self, moment: object) -> bool:
        if not isinstance(moment, datetime | date):
            return False
        ts = as_utc(moment)
        return self.start_at <= ts < self.end_exclusive

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def _day(value: Any, now: datetime | None) -> date:
    if isinstance(value, datetime):
        return as_utc(value).date()
    if isinstance(value, date):
        return value
    return parse_instant(str(value), now=now).date()


def _months_back(day: date, months: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    m += 1
    last = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)).day
    return date(y, m, min(day.day, last))


def parse_period(text: str, *, now: datetime | None = None, earliest: date | None = None) -> Period:
    """A period of whole days: ``START..END`` (either side may be left out), or an age
    such as ``30d``, ``12w``, ``12mo`` or ``1y`` for the days up to today.

    ``earliest`` is the start of an open ``..END`` period (default: 1990-01-01).

    Examples
    --------
    >>> now = datetime(2026, 4, 1, tzinfo=UTC)
    >>> str(parse_period("12mo", now=now))
    '2025-04-02..2026-04-01'
    >>> str(parse_period("2026-03-01..", now=now))
    '2026-03-01..2026-04-01'
    >>> parse_period("Q1")
    Traceback (most recent call last):
    ...
    auditkit.errors.UsageError: period: expected START..END (dates or RFC 3339 times) or an age like 30d or 12mo, got 'Q1'
    """  # noqa: E501
    if not isinstance(text, str):
        raise UsageError(f"period: expected text, got {type(text).__name__}")
    today = _now(now).date()
    m = _CALENDAR_AGE.match(text.lower())
    try:
        if m:
            n, unit = int(m[1]), m[2]
            if unit == "d":
                first = today - timedelta(days=n - 1) if n else today
            elif unit == "w":
                first = today - timedelta(weeks=n) + timedelta(days=1)
            else:
                first = _months_back(today, n * (12 if unit == "y" else 1)) + timedelta(days=1)
            return Period(min(first, today), today)
        if ".." in text:
            head, _, tail = text.partition("..")
            start = _day(head, now) if head.strip() else (earliest or date(1990, 1, 1))
            end = _day(tail, now) if tail.strip() else today
            return Period(start, end)
    except (OverflowError, ValueError):
        pass
    except UsageError as exc:
        if "start <= end" in str(exc):
            raise
    why = next((w for w in map(_why_not, text.split("..")) if w), "")
    raise UsageError(
        "period: expected START..END (dates or RFC 3339 times) or an age like 30d or 12mo, "
        f"got {_short(text)}{why}"
    )


_DATE_SHAPED: Final = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})")
_NEGATIVE_AGE: Final = re.compile(r"\s*-\s*(\d+\s*(?:s|m|h|d|w|mo|y))\s*\Z")


def _why_not(text: str) -> str:
    """What is wrong with a time that looks nearly right, for the error message: a day
    the calendar does not have, or an age written negative.

    Examples
    --------
    >>> _why_not("2026-02-30"), _why_not("-5d"), _why_not("soon")
    (' (no such day: day is out of range for month)', " (an age counts back from now: write '5d')", '')
    """  # noqa: E501
    m = _DATE_SHAPED.match(text)
    if m:
        try:
            date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError as exc:
            return f" (no such day: {exc})"
    m = _NEGATIVE_AGE.match(text.lower())
    if m:
        return f" (an age counts back from now: write {m[1].replace(' ', '')!r})"
    return ""


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
