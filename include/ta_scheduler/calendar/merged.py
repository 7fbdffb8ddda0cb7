"""The merged trading calendar: the calendar files' years layered into one lookup table.

Later layers override earlier ones; a date no layer covers follows the weekday rule. Each date
has a status: ``verified`` (an exchange source: tushare ``trade_cal`` or XSHG), ``provisional``
(only the statutory holiday rules) or ``assumed`` (the weekday rule). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from ta_scheduler.calendar.files import PROVISIONAL_SOURCE_PREFIX, CalendarFileError, YearCalendar
from ta_scheduler.market import BREAK_END, BREAK_START, SESSION_CLOSE, SESSION_OPEN, TZ

VERIFIED = "verified"
PROVISIONAL = "provisional"
ASSUMED = "assumed"

_NOT_COVERED, _CLOSED, _OPEN = 0, 1, 2
#: Two weeks of flags from a Monday: slicing at a weekday gives the Mon–Fri pattern from it.
_WEEKS = bytes([_OPEN] * 5 + [_CLOSED] * 2) * 2


class TradingCalendar:
    """An immutable merged view of calendar layers (later layers override earlier ones).

    Lookups are a subtraction and a bytearray index: well under a microsecond. Building it
    fills whole years by slice assignment, then sets the listed exceptions.
    """

    def __init__(self, layers: Iterable[tuple[str, Mapping[int, YearCalendar]]] = ()) -> None:
        self.layers = [(name, dict(years)) for name, years in layers]
        self.sources: list[str] = [name for name, _ in self.layers]
        #: 1-based indexes (as in ``_source``) of the layers whose dates are provisional.
        self._provisional = frozenset(
            i for i, name in enumerate(self.sources, start=1) if name.startswith(PROVISIONAL_SOURCE_PREFIX)
        )
        all_years = sorted({y for _, years in self.layers for y in years})
        if not all_years:
            self._base, self._flags, self._source = 0, bytearray(), bytearray()
            self._verified = bytearray()
            return
        first = date(all_years[0], 1, 1)
        self._base = base = first.toordinal()
        size = date(all_years[-1], 12, 31).toordinal() - base + 1
        self._flags = bytearray(size)
        self._source = bytearray(size)
        for index, (_, years) in enumerate(self.layers, start=1):
            for entry in years.values():
                lo = entry.first.toordinal() - base
                n = (entry.last - entry.first).days + 1
                week = _WEEKS[entry.first.weekday() : entry.first.weekday() + 7]
                self._flags[lo : lo + n] = (week * (n // 7 + 1))[:n]
                for d in entry.closed_weekdays:
                    self._flags[d.toordinal() - base] = _CLOSED
                for d in entry.open_weekend_days:
                    self._flags[d.toordinal() - base] = _OPEN
                self._source[lo : lo + n] = bytes([index]) * n
        # 1 where a non-provisional source decides the date: first_unverified_on_or_after is a find().
        table = bytes(1 if i and i <= len(self.layers) and i not in self._provisional else 0 for i in range(256))
        self._verified = self._source.translate(table)

    def is_session(self, d: date) -> bool:
        """Whether the exchanges trade on ``d`` (weekday rule where no source covers it)."""
        i = d.toordinal() - self._base
        if 0 <= i < len(self._flags):
            flag = self._flags[i]
            if flag:
                return flag == _OPEN
        return d.weekday() < 5

    def is_trading_time(self, moment: datetime) -> bool:
        """Whether the continuous auction runs at ``moment`` (naive = exchange-local time): a
        session day, 09:30–11:30 or 13:00–15:00, both ends included (the ticks the
        ``intraday_prices`` timetable fires at)."""
        if moment.tzinfo is not None:
            moment = moment.astimezone(TZ).replace(tzinfo=None)
        t = moment.time()
        in_hours = SESSION_OPEN <= t <= BREAK_START or BREAK_END <= t <= SESSION_CLOSE
        return in_hours and self.is_session(moment.date())

    def status(self, d: date) -> str:
        """``"verified"`` when an exchange source covers ``d``, ``"provisional"`` when only the
        statutory holiday rules do, else ``"assumed"`` (weekday rule)."""
        i = d.toordinal() - self._base
        if 0 <= i < len(self._flags) and self._flags[i]:
            return PROVISIONAL if self._source[i] in self._provisional else VERIFIED
        return ASSUMED

    def source(self, d: date) -> str | None:
        """Name of the source deciding ``d``, or None for the weekday rule."""
        i = d.toordinal() - self._base
        if 0 <= i < len(self._source) and self._source[i]:
            return self.sources[self._source[i] - 1]
        return None

    def next_session(self, d: date, *, inclusive: bool = False) -> date:
        """First session after ``d`` (or on it, when ``inclusive``)."""
        if not inclusive:
            d += timedelta(days=1)
        for _ in range(3700):
            if self.is_session(d):
                return d
            d += timedelta(days=1)
        raise CalendarFileError(f"no session within ten years after {d}")  # pragma: no cover - needs a corrupt layer

    def previous_session(self, d: date, *, inclusive: bool = False) -> date:
        """Last session before ``d`` (or on it, when ``inclusive``)."""
        if not inclusive:
            d -= timedelta(days=1)
        for _ in range(3700):
            if self.is_session(d):
                return d
            d -= timedelta(days=1)
        raise CalendarFileError(f"no session within ten years before {d}")  # pragma: no cover

    def sessions_between(self, first: date, last: date) -> list[date]:
        """Every session from ``first`` to ``last`` inclusive."""
        out = []
        d = first
        while d <= last:
            if self.is_session(d):
                out.append(d)
            d += timedelta(days=1)
        return out

    def first_assumed_on_or_after(self, d: date) -> date:
        """The first date from ``d`` on that no source covers."""
        i = d.toordinal() - self._base
        if i < 0 or i >= len(self._flags):
            return d
        j = self._flags.find(_NOT_COVERED, i)
        return date.fromordinal(self._base + (len(self._flags) if j < 0 else j))

    def first_unverified_on_or_after(self, d: date) -> date:
        """The first date from ``d`` on that is provisional or assumed."""
        i = d.toordinal() - self._base
        if i < 0 or i >= len(self._verified):
            return d
        j = self._verified.find(0, i)
        return date.fromordinal(self._base + (len(self._verified) if j < 0 else j))

    def provisional_years(self) -> list[int]:
        """Years in which at least one date is decided by the provisional rules."""
        out: set[int] = set()
        for index in self._provisional:
            for y in self.layers[index - 1][1]:
                lo = date(y, 1, 1).toordinal() - self._base
                hi = date(y, 12, 31).toordinal() - self._base + 1
                if self._source.find(index, lo, hi) >= 0:
                    out.add(y)
        return sorted(out)

    def year_sources(self) -> dict[int, list[str]]:
        """For each covered year, the sources (highest precedence first) that cover part of it."""
        out: dict[int, list[str]] = {}
        for name, years in reversed(self.layers):
            for y in years:
                out.setdefault(y, []).append(name)
        return dict(sorted(out.items()))
