"""Schedule specs the timetables and category DAGs share: cron and trading-day times.

A spec is a string, so it serializes as itself and reads well in a DAG file:

``"trading_day@16:30"``            every SSE/SZSE session day at 16:30 (local time)
``"trading_day@09:00,16:30"``      several times on each session day
``"0 1 * * 0"``                    a five-field cron expression (Sunday 01:00), read by
                                   croniter; it ignores the trading calendar

Everything here works on *exchange-local naive* datetimes (the timetable converts to and from
UTC), at minute resolution. Trading-day ticks use the standard library only (a bisect over the
day's times): they are the common case inside the scheduler loop. A cron step costs croniter's
~100 µs, the same as Airflow's own ``CronTriggerTimetable`` (``BENCH=calendar make bench``).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from datetime import date, datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from ta_scheduler.calendar.merged import TradingCalendar
from ta_scheduler.market import BREAK_END, BREAK_START, SESSION_CLOSE, SESSION_OPEN

#: How far a search walks before giving up (a cron like "0 0 30 2 *" never fires).
_SEARCH_DAYS = 3000
_SEARCH_YEARS = 8

_TRADING_DAY = re.compile(r"^trading_day@(\d{1,2}:\d{2}(?:\s*,\s*\d{1,2}:\d{2})*)$")



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


class CronTicks:
    """A five-field cron expression (minute hour day-of-month month day-of-week), by croniter.

    croniter (it ships with Airflow) reads the fields, names (``sun``, ``jan``) and presets
    (``@daily``); as in cron, when both day-of-month and day-of-week are restricted a day matching
    either fires. The trading calendar plays no part.
    """

    def __init__(self, expression: str) -> None:
        from croniter import CroniterError, croniter

        self.spec = expression.strip()
        if not self.spec.startswith("@") and len(self.spec.split()) != 5:
            raise ValueError(f"cron expression {expression!r} must have 5 fields (minute hour dom month dow)")
        try:
            croniter(self.spec)
        except CroniterError as exc:
            raise ValueError(f"cron expression {expression!r}: {exc}") from exc

    def next_tick(self, local: datetime, cal: TradingCalendar, *, inclusive: bool = False) -> datetime | None:
        """First tick after ``local`` (or at it, when ``inclusive``); None if none within ~8 years."""
        on_minute = local.second == 0 and local.microsecond == 0
        return _cron_step(self.spec, local - _MINUTE if inclusive and on_minute else local, forward=True)

    def prev_tick(self, local: datetime, cal: TradingCalendar, *, inclusive: bool = True) -> datetime | None:
        """Last tick at or before ``local`` (strictly before, unless ``inclusive``)."""
        on_minute = local.second == 0 and local.microsecond == 0
        return _cron_step(self.spec, local + _MINUTE if inclusive and on_minute else local, forward=False)

    def fires_at(self, local: datetime, cal: TradingCalendar) -> bool:
        """Whether ``local`` is exactly one of the ticks (to the second)."""
        return local.second == 0 and local.microsecond == 0 and self.next_tick(local - _MINUTE, cal) == local

    def describe(self) -> str:
        try:  # cron_descriptor ships with Airflow; imported only when a description is shown
            from cron_descriptor import CasingTypeEnum, ExpressionDescriptor

            descriptor = ExpressionDescriptor(self.spec, casing_type=CasingTypeEnum.Sentence, use_24hour_time_format=True)
            return descriptor.get_description()
        except Exception:  # the description is cosmetic; the expression itself always works
            return f"cron {self.spec}"


_MINUTE = timedelta(minutes=1)
_CRON_LOCK = threading.Lock()


@lru_cache(maxsize=64)
def _cron_iter(spec: str):
    from croniter import croniter

    return croniter(spec, ret_type=datetime, max_years_between_matches=_SEARCH_YEARS)


def _cron_step(spec: str, start: datetime, *, forward: bool) -> datetime | None:
    """The first tick of ``spec`` strictly after (``forward``) or before ``start``; None past the
    search horizon. One parsed croniter per spec, repositioned under a lock (parsing is most of
    a step's cost)."""
    from croniter import CroniterBadDateError

    it = _cron_iter(spec)
    with _CRON_LOCK:
        it.set_current(start, force=True)
        try:
            return it.get_next() if forward else it.get_prev()
        except CroniterBadDateError:
            return None


def parse_schedule(spec: str) -> DailyTicks | CronTicks:
    """A cron expression or ``trading_day@HH:MM[,HH:MM]``; raises ValueError with the reason."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"schedule must be a non-empty string, got {spec!r}")
    m = _TRADING_DAY.match(spec.strip())
    if m:
        return TradingDayTicks([parse_hhmm(t) for t in m.group(1).split(",")])
    if spec.strip().startswith("trading_day"):
        raise ValueError(f"schedule {spec!r}: expected trading_day@HH:MM (e.g. trading_day@16:30)")
    return CronTicks(spec)
