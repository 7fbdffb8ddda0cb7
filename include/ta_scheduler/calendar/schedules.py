"""Schedule specs the timetables and category DAGs share: cron and trading-day times.

A spec is a string, so it serializes as itself and reads well in a DAG file:

``"trading_day@16:30"``            every SSE/SZSE session day at 16:30 (local time)
``"trading_day@09:00,16:30"``      several times on each session day
``"0 1 * * 0"``                    a five-field cron expression (Sunday 01:00), or a preset
                                   such as ``@daily``; it ignores the trading calendar

Everything here works on *exchange-local naive* datetimes (the timetable converts to and from
UTC), at minute resolution, with the standard library only: the timetables call it inside the
scheduler loop, where croniter (~100 µs per step) would dominate.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from ta_scheduler.calendar.core import TradingCalendar
from ta_scheduler.market import BREAK_END, BREAK_START, SESSION_CLOSE, SESSION_OPEN

#: How far a search walks before giving up (a cron like "0 0 30 2 *" never fires).
_SEARCH_DAYS = 3000

_TRADING_DAY = re.compile(r"^trading_day@(\d{1,2}:\d{2}(?:\s*,\s*\d{1,2}:\d{2})*)$")

CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_MONTH_NAMES = {n: i for i, n in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_DOW_NAMES = {n: i for i, n in enumerate("sun mon tue wed thu fri sat".split())}


def parse_hhmm(text: str) -> int:
    """Minutes after midnight for ``"HH:MM"``; raises ValueError for anything else."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"invalid time {text!r}: expected HH:MM between 00:00 and 23:59")
    return int(m.group(1)) * 60 + int(m.group(2))


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=64)
def get_timezone(name: str) -> tzinfo:
    """A ``zoneinfo`` zone by IANA name (cached); raises ValueError for an unknown name."""
    try:
        return ZoneInfo(name)
    except Exception as exc:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise ValueError(f"unknown time zone {name!r}") from exc


def timezone_name(tz: str | tzinfo) -> str:
    """The IANA name of ``tz`` (a name, a zoneinfo or a pendulum zone)."""
    if isinstance(tz, str):
        get_timezone(tz)
        return tz
    name = getattr(tz, "key", None) or getattr(tz, "name", None)
    if not name:
        raise ValueError(f"time zone {tz!r} has no IANA name; pass e.g. 'Asia/Shanghai'")
    get_timezone(name)
    return name


def to_local(moment: datetime, tz: tzinfo) -> datetime:
    """An aware datetime as a naive wall-clock datetime in ``tz``."""
    return datetime.fromtimestamp(moment.timestamp(), tz).replace(tzinfo=None)


def local_to_utc(local: datetime, tz: tzinfo) -> datetime:
    """A naive wall-clock datetime in ``tz`` as an aware UTC datetime (stdlib)."""
    return datetime.fromtimestamp(local.replace(tzinfo=tz).timestamp(), dt_timezone.utc)


class DailyTicks:
    """Ticks at fixed local times of day, on the days a predicate accepts.

    Subclasses decide the days (:meth:`day_ok`); times are seconds after midnight.
    """

    spec: str
    seconds: list[int]

    def day_ok(self, d: date, cal: TradingCalendar) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        """A sentence for the UI, e.g. "every SSE/SZSE trading day at 16:30"."""
        raise NotImplementedError

    def next_tick(self, local: datetime, cal: TradingCalendar, *, inclusive: bool = False) -> datetime | None:
        """First tick after ``local`` (or at it, when ``inclusive``); None if none within ~8 years."""
        secs = self.seconds
        d = local.date()
        sod = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        if self.day_ok(d, cal):
            i = bisect_left(secs, sod) if inclusive else bisect_right(secs, sod)
            if i < len(secs):
                return _at(d, secs[i])
        one = timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            d += one
            if self.day_ok(d, cal):
                return _at(d, secs[0])
        return None

    def prev_tick(self, local: datetime, cal: TradingCalendar, *, inclusive: bool = True) -> datetime | None:
        """Last tick at or before ``local`` (strictly before, unless ``inclusive``)."""
        secs = self.seconds
        d = local.date()
        sod = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        if self.day_ok(d, cal):
            i = bisect_right(secs, sod) if inclusive else bisect_left(secs, sod)
            if i > 0:
                return _at(d, secs[i - 1])
        one = timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            d -= one
            if self.day_ok(d, cal):
                return _at(d, secs[-1])
        return None

    def fires_at(self, local: datetime, cal: TradingCalendar) -> bool:
        """Whether ``local`` is exactly one of the ticks (to the second)."""
        if local.microsecond:
            return False
        sod = local.hour * 3600 + local.minute * 60 + local.second
        i = bisect_left(self.seconds, sod)
        return i < len(self.seconds) and self.seconds[i] == sod and self.day_ok(local.date(), cal)


def _at(d: date, sod: int) -> datetime:
    return datetime(d.year, d.month, d.day, sod // 3600, sod // 60 % 60)


class TradingDayTicks(DailyTicks):
    """Fixed local times on every session day (``trading_day@HH:MM[,HH:MM...]``)."""

    def __init__(self, minutes: Sequence[int]) -> None:
        if not minutes:
            raise ValueError("trading_day schedule needs at least one HH:MM time")
        self.minutes = sorted(set(minutes))
        self.seconds = [m * 60 for m in self.minutes]
        self.spec = "trading_day@" + ",".join(format_hhmm(m) for m in self.minutes)

    def day_ok(self, d: date, cal: TradingCalendar) -> bool:
        return cal.is_session(d)

    def describe(self) -> str:
        times = ", ".join(format_hhmm(m) for m in self.minutes)
        return f"every SSE/SZSE trading day at {times}"


def session_minutes(every_minutes: int) -> list[int]:
    """Tick minutes of a session day: from the open and from the lunch-break end, every N
    minutes up to and including the break start and the close.

    For N=5: 09:30, 09:35 … 11:30 and 13:00, 13:05 … 15:00 (50 ticks).
    """
    if not 1 <= every_minutes <= 120:
        raise ValueError(f"every_minutes must be between 1 and 120, got {every_minutes!r}")
    out: list[int] = []
    for start, end in ((SESSION_OPEN, BREAK_START), (BREAK_END, SESSION_CLOSE)):
        m, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        while m <= last:
            out.append(m)
            m += every_minutes
    return out


class CronTicks(DailyTicks):
    """A five-field cron expression (minute hour day-of-month month day-of-week).

    Fields take ``*``, numbers, ``a-b``, ``/step``, comma lists and month/day names; day-of-week
    0 and 7 are Sunday. As in cron, when both day-of-month and day-of-week are restricted a day
    matching either fires.
    """

    def __init__(self, expression: str) -> None:
        self.spec = expression.strip()
        text = CRON_PRESETS.get(self.spec.lower(), self.spec)
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"cron expression {expression!r} must have 5 fields (minute hour dom month dow)")
        try:
            minutes = _cron_field(fields[0], 0, 59, {})
            hours = _cron_field(fields[1], 0, 23, {})
            self.dom = _cron_field(fields[2], 1, 31, {})
            self.months = _cron_field(fields[3], 1, 12, _MONTH_NAMES)
            dow = _cron_field(fields[4], 0, 7, _DOW_NAMES)
        except ValueError as exc:
            raise ValueError(f"cron expression {expression!r}: {exc}") from exc
        self.dow = frozenset(d % 7 for d in dow)
        # cron's rule: a day-of-month or day-of-week given as "*" does not restrict the other
        self.dom_any = fields[2] in ("*", "*/1")
        self.dow_any = fields[4] in ("*", "*/1")
        self.seconds = sorted(h * 3600 + m * 60 for h in hours for m in minutes)

    def day_ok(self, d: date, cal: TradingCalendar) -> bool:
        if d.month not in self.months:
            return False
        dom_ok = d.day in self.dom
        dow_ok = (d.weekday() + 1) % 7 in self.dow
        if self.dom_any and self.dow_any:
            return True
        if self.dom_any:
            return dow_ok
        if self.dow_any:
            return dom_ok
        return dom_ok or dow_ok

    def describe(self) -> str:
        try:  # cron_descriptor ships with Airflow; imported only when a description is shown
            from cron_descriptor import CasingTypeEnum, ExpressionDescriptor

            expression = CRON_PRESETS.get(self.spec.lower(), self.spec)
            descriptor = ExpressionDescriptor(
                expression, casing_type=CasingTypeEnum.Sentence, use_24hour_time_format=True
            )
            return descriptor.get_description()
        except Exception:  # the description is cosmetic; the expression itself always works
            return f"cron {self.spec}"


def _cron_field(text: str, lo: int, hi: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()

    def number(s: str) -> int:
        s = s.strip().lower()
        if s in names:
            return names[s]
        if not s.isdigit():
            raise ValueError(f"{s!r} is not a number")
        v = int(s)
        if not lo <= v <= hi:
            raise ValueError(f"{v} is outside {lo}-{hi}")
        return v

    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"bad step in {item!r}")
            step = int(step_text)
        if base == "*":
            a, b = lo, hi
        elif "-" in base:
            left, _, right = base.partition("-")
            a, b = number(left), number(right)
            if a > b:
                raise ValueError(f"range {item!r} runs backwards")
        else:
            a = number(base)
            b = hi if step_text else a
        values.update(range(a, b + 1, step))
    if not values:
        raise ValueError(f"field {text!r} matches nothing")
    return frozenset(values)


def parse_schedule(spec: str) -> DailyTicks:
    """A cron expression or ``trading_day@HH:MM[,HH:MM]``; raises ValueError with the reason."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"schedule must be a non-empty string, got {spec!r}")
    m = _TRADING_DAY.match(spec.strip())
    if m:
        return TradingDayTicks([parse_hhmm(t) for t in m.group(1).split(",")])
    if spec.strip().startswith("trading_day"):
        raise ValueError(f"schedule {spec!r}: expected trading_day@HH:MM (e.g. trading_day@16:30)")
    return CronTicks(spec)
