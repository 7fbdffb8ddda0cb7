"""Trading-calendar timetables for the SSE/SZSE exchanges (Asia/Shanghai).

DAG files import them by this module name, which is also their registry key
(``ta_timetables.TradingDayTimetable`` ...)::

    from ta_timetables import MultiScheduleTimetable, TradingDayTimetable, TradingSessionsTimetable

    schedule=TradingDayTimetable(at="16:30")                 # one run per session day
    schedule=TradingSessionsTimetable(every_minutes=5)       # 09:30..11:30, 13:00..15:00
    schedule=MultiScheduleTimetable({"backup": "0 1 * * 0", "cache": "trading_day@09:00"})

Data intervals: ``TradingDayTimetable`` and ``TradingSessionsTimetable`` cover the previous
tick to this tick, so ``data_interval_end`` is the run's time and its local date is the
trading day the run is for. ``MultiScheduleTimetable`` runs are instants
(``data_interval_start == data_interval_end``), and ``ta_scheduler.calendar.runs`` tells a
task which named schedules are due.

The calendar comes from ``ta_scheduler.calendar.lookup``: the synced tushare file, then the
baked XSHG file, then the provisional file (statutory holiday rules, precomputed), then
Mon-Fri. ``description`` says from which date the calendar is only provisional; Airflow
stores it on every parse, so the UI shows the note until trade_cal publishes the year. Standard
library, pendulum and jsonschema only (importing ``ta_scheduler.params`` registers the
``trading-date`` format the trigger-time param checks use, in every process that loads the
plugin): no pandas, exchange_calendars, pymongo or tushare here, no database or network, and no
exception for a missing or broken calendar file. See docs/calendar.md.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import TYPE_CHECKING, Any

import ta_scheduler.params  # noqa: F401  registers the trigger-time param formats
from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable
from pendulum import UTC, DateTime
from ta_scheduler.calendar.lookup import get_calendar
from ta_scheduler.calendar.merged import PROVISIONAL, TradingCalendar
from ta_scheduler.calendar.runs import ScheduleSet
from ta_scheduler.calendar.schedules import (
    TradingDayTicks,
    format_hhmm,
    get_timezone,
    local_to_utc,
    parse_hhmm,
    session_minutes,
    timezone_name,
    to_local,
)
from ta_scheduler.constants import TIMEZONE

if TYPE_CHECKING:
    from datetime import tzinfo

    from airflow.timetables.base import TimeRestriction

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = TIMEZONE
_CALENDAR_NOTE = "calendar: tushare trade_cal, else exchange_calendars XSHG"


def _calendar_note() -> str:
    """Where the calendar comes from and, when ahead of today it is only provisional or
    assumed, from which date: shown in the timetable's description (the DAG's schedule)."""
    cal = get_calendar()
    today = to_local(_now(), get_timezone(DEFAULT_TIMEZONE)).date()
    first = cal.first_unverified_on_or_after(today)
    status = cal.status(first)
    if status == PROVISIONAL:
        end = cal.first_assumed_on_or_after(first)
        return (
            f"{_CALENDAR_NOTE}; PROVISIONAL from {first.isoformat()} to {end - timedelta(days=1)} "
            "(statutory holiday rules, replaced when trade_cal publishes the year), then Monday-Friday"
        )
    return f"{_CALENDAR_NOTE}; ASSUMED Monday-Friday from {first.isoformat()}"


def _now() -> datetime:
    """The current time (UTC); one place so tests can pin the clock."""
    return datetime.now(dt_timezone.utc)


def _pendulum(moment: datetime) -> DateTime:
    """An aware UTC stdlib datetime as the pendulum ``DateTime`` Airflow expects (~0.3 µs)."""
    m = moment
    return DateTime(m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond, tzinfo=UTC)


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class _CalendarTimetable(Timetable):
    """Trigger-style scheduling over ticks given in exchange-local wall-clock time.

    Subclasses provide ``_next_local``/``_prev_local`` (naive local datetimes) and whether a
    run's interval starts at the previous tick (``_interval_from_previous``) or is an instant.
    Scheduling mirrors Airflow's trigger timetables: with catchup every tick after the last
    run; without it, at most the latest past tick (so unpausing never floods).
    """

    _interval_from_previous = True
    _tz_name: str
    _tz: tzinfo

    def __init__(self, timezone: str | tzinfo = DEFAULT_TIMEZONE) -> None:
        self._tz_name = timezone_name(timezone)
        self._tz = get_timezone(self._tz_name)

    # -- ticks: subclasses set ``_ticks`` (anything with next_tick/prev_tick) ---------------
    def _next_local(self, local: datetime, cal: TradingCalendar, *, inclusive: bool) -> datetime | None:
        return self._ticks.next_tick(local, cal, inclusive=inclusive)

    def _prev_local(self, local: datetime, cal: TradingCalendar, *, inclusive: bool) -> datetime | None:
        return self._ticks.prev_tick(local, cal, inclusive=inclusive)

    def _utc(self, local: datetime) -> DateTime:
        return _pendulum(local_to_utc(local, self._tz))

    def _info(self, tick: datetime, cal: TradingCalendar) -> DagRunInfo:
        end = self._utc(tick)
        if not self._interval_from_previous:
            return DagRunInfo.exact(end)
        prev = self._prev_local(tick, cal, inclusive=False)
        return DagRunInfo.interval(self._utc(prev) if prev else end, end)

    # -- Timetable protocol ----------------------------------------------------------------
    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        cal = get_calendar()
        tz = self._tz
        after_last = None
        if last_automated_data_interval is not None:
            after_last = self._next_local(to_local(last_automated_data_interval.end, tz), cal, inclusive=False)
        from_earliest = None
        if restriction.earliest is not None:
            from_earliest = self._next_local(to_local(restriction.earliest, tz), cal, inclusive=True)
        if restriction.catchup:
            if last_automated_data_interval is not None:
                tick = after_last
            elif from_earliest is not None:
                tick = from_earliest
            else:
                tick = self._next_local(to_local(_now(), tz), cal, inclusive=True)
        else:
            now_local = to_local(_now(), tz)
            candidates = [self._prev_local(now_local, cal, inclusive=True), after_last, from_earliest]
            if last_automated_data_interval is None and restriction.earliest is None:
                candidates.append(self._next_local(now_local, cal, inclusive=True))
            present = [c for c in candidates if c is not None]
            tick = max(present) if present else None
        if tick is None:
            return None
        info = self._info(tick, cal)
        if restriction.latest is not None and info.run_after > restriction.latest:
            return None
        return info

    def serialize(self) -> dict[str, Any]:
        return {"timezone": self._tz_name}

    def __eq__(self, other: object) -> bool:
        # By qualified name, not class identity: the plugins manager may load this file as a
        # second module object next to the one a DAG file imported.
        return (
            isinstance(other, Timetable)
            and _qualname(type(other)) == _qualname(type(self))
            and self.serialize() == other.serialize()
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(sorted(self.serialize().items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.serialize()!r})"


class TradingDayTimetable(_CalendarTimetable):
    """One run per SSE/SZSE trading day at a fixed local time.

    :param at: ``"HH:MM"`` wall-clock time in ``timezone`` (default 16:30, after the close).
    :param timezone: IANA zone of ``at`` and of the session dates (default Asia/Shanghai).

    A run's data interval runs from the previous trading day's tick to this one; a manual
    run triggered for a date covers the previous session → that date's session (or the
    latest session before it when the date is not a trading day).
    """

    def __init__(self, at: str = "16:30", timezone: str | tzinfo = DEFAULT_TIMEZONE) -> None:
        super().__init__(timezone)
        self._minute = parse_hhmm(at)
        self._at = format_hhmm(self._minute)
        self._ticks = TradingDayTicks([self._minute])

    @property
    def description(self) -> str:  # type: ignore[override]
        return (
            f"Every SSE/SZSE trading day at {self._at} {self._tz_name}; weekends, holidays and "
            f"make-up weekend days are skipped ({_calendar_note()})"
        )

    @property
    def summary(self) -> str:
        return f"trading_day@{self._at}"

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        cal = get_calendar()
        day = to_local(run_after, self._tz).date()
        session = cal.previous_session(day, inclusive=True)
        end = datetime(session.year, session.month, session.day, self._minute // 60, self._minute % 60)
        info = self._info(end, cal)
        return info.data_interval  # type: ignore[return-value]

    def serialize(self) -> dict[str, Any]:
        return {"at": self._at, "timezone": self._tz_name}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(at=data["at"], timezone=data["timezone"])


class TradingSessionsTimetable(_CalendarTimetable):
    """Every N minutes through the continuous-auction sessions of each trading day.

    Ticks at 09:30, 09:30+N … up to 11:30 and 13:00, 13:00+N … up to 15:00 (both ends
    included when N divides the session): 50 runs a day for N=5, none in the lunch break,
    none on non-trading days. A run covers the previous tick → this tick.

    :param every_minutes: tick spacing, 1–120 minutes.
    :param timezone: IANA zone of the session times (default Asia/Shanghai).
    """

    def __init__(self, every_minutes: int = 5, timezone: str | tzinfo = DEFAULT_TIMEZONE) -> None:
        super().__init__(timezone)
        if isinstance(every_minutes, bool) or not isinstance(every_minutes, int):
            raise ValueError(f"every_minutes must be an integer, got {every_minutes!r}")
        self._every = every_minutes
        minutes = session_minutes(every_minutes)
        self._ticks = TradingDayTicks(minutes)
        self._per_day = len(minutes)

    @property
    def description(self) -> str:  # type: ignore[override]
        return (
            f"Every {self._every} min during SSE/SZSE sessions, 09:30-11:30 and 13:00-15:00 "
            f"{self._tz_name}, on trading days only: {self._per_day} runs a day ({_calendar_note()})"
        )

    @property
    def summary(self) -> str:
        return f"trading_sessions/{self._every}min"

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        cal = get_calendar()
        tick = self._prev_local(to_local(run_after, self._tz), cal, inclusive=True)
        if tick is None:
            return DataInterval.exact(run_after)
        return self._info(tick, cal).data_interval  # type: ignore[return-value]

    def serialize(self) -> dict[str, Any]:
        return {"every_minutes": self._every, "timezone": self._tz_name}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(every_minutes=int(data["every_minutes"]), timezone=data["timezone"])


class MultiScheduleTimetable(_CalendarTimetable):
    """A category DAG's timetable: fires at the union of named schedules.

    :param schedules: ``{job name: spec}``, each spec a cron expression (``"0 1 * * 0"``) or a
        trading-day spec (``"trading_day@20:00"``, only on sessions). Several schedules
        firing at the same instant produce one run.
    :param timezone: IANA zone the specs are written in (default Asia/Shanghai).

    Runs are instants. In each run, ``ta_scheduler.calendar.runs.select_jobs`` returns the
    jobs due (scheduled runs) or the jobs requested through the ``jobs`` param (manual runs).
    """

    _interval_from_previous = False

    def __init__(self, schedules: dict[str, str], timezone: str | tzinfo = DEFAULT_TIMEZONE) -> None:
        super().__init__(timezone)
        self._ticks = ScheduleSet(schedules)
        self.schedules = dict(self._ticks.specs)

    @property
    def description(self) -> str:  # type: ignore[override]
        """Human-readable schedules (built on demand: cron_descriptor costs ~25 ms to import)."""
        parts = "; ".join(f"{name}: {ticks.describe()}" for name, ticks in self._ticks.ticks.items())
        return f"Runs when any of its jobs is due, once per instant: {parts} ({self._tz_name}; {_calendar_note()})"

    @property
    def summary(self) -> str:
        return ", ".join(f"{name}={spec}" for name, spec in self.schedules.items())

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        return DataInterval.exact(run_after)

    def serialize(self) -> dict[str, Any]:
        # A list of pairs: the declaration order is the order jobs are reported in, and a
        # JSON object's key order is not guaranteed to survive the metadata database.
        return {"schedules": [[name, spec] for name, spec in self.schedules.items()], "timezone": self._tz_name}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        raw = data["schedules"]
        pairs = raw.items() if isinstance(raw, dict) else raw
        return cls({str(name): str(spec) for name, spec in pairs}, timezone=data["timezone"])


class TradingTimetablesPlugin(AirflowPlugin):
    """Registers the trading-calendar timetables so serialized DAGs can name them."""

    name = "ta_timetables"
    timetables = [TradingDayTimetable, TradingSessionsTimetable, MultiScheduleTimetable]
