"""The A-share market's vocabulary, defined once: codes and boards, price limits, indices, the
exchange's time zone and session times, and which data source a day is read from.
Parse-safe: standard library only at import.

**Codes**: six ASCII digits whose first two name a listed board (:data:`BOARDS`), optionally with
the suffix of that board's exchange in upper or lower case (``600519``, ``600519.SH``,
``600519.sh``; :func:`to_ts_code` gives ``600519.SH``, :func:`to_code` the store's ``600519``).
``123456`` (no board) and ``600519.SZ`` (wrong exchange) are refused. :data:`CODE_PATTERN` is this rule as a portable JSON-schema
``pattern`` (``$(?!\n)``: Python's ``re.search`` refuses a trailing newline, as ECMAScript does).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ta_scheduler.constants import TIMEZONE

if TYPE_CHECKING:
    import numpy as np

#: The exchange's time zone (Asia/Shanghai), built once.
TZ = ZoneInfo(TIMEZONE)

#: Continuous-auction session times, exchange time (call auctions are not scheduled).
SESSION_OPEN = dtime(9, 30)
BREAK_START = dtime(11, 30)
BREAK_END = dtime(13, 0)
SESSION_CLOSE = dtime(15, 0)


@dataclass(frozen=True)
class Board:
    """A listed board: its exchange suffix, name, the first two digits of its codes and its
    daily price limit (a fraction of the previous close; risk-warning stocks of 10 % boards: 5 %)."""

    exchange: str
    name: str
    prefixes: tuple[str, ...]
    limit_pct: float


#: Every listed board, by exchange (SSE ``SH``, SZSE ``SZ``, BSE ``BJ``).
BOARDS: tuple[Board, ...] = (
    Board("SH", "主板", ("60",), 0.10),
    Board("SH", "科创板", ("68",), 0.20),
    Board("SH", "B股", ("90",), 0.10),
    Board("SZ", "主板", ("00",), 0.10),
    Board("SZ", "创业板", ("30",), 0.20),
    Board("SZ", "B股", ("20",), 0.10),
    Board("BJ", "北交所", ("43", "83", "87", "88", "92"), 0.30),
)
#: First two digits of a code → its board.
BOARD_OF_PREFIX: dict[str, Board] = {p: b for b in BOARDS for p in b.prefixes}
#: Price limit of risk-warning (ST, *ST) stocks on 10 % boards.
ST_LIMIT_PCT = 0.05


def _code_pattern() -> str:
    by_exchange: dict[str, list[str]] = {}
    for board in BOARDS:
        by_exchange.setdefault(board.exchange, []).extend(board.prefixes)
    alternatives = [
        f"({'|'.join(prefixes)})[0-9]{{4}}(\\.({exchange}|{exchange.lower()}))?"
        for exchange, prefixes in by_exchange.items()
    ]
    return f"^({'|'.join(alternatives)})$(?!\\n)"


#: :data:`BOARDS` as one JSON-schema ``pattern``: a board's 6 digits, optionally its exchange's suffix.
CODE_PATTERN = _code_pattern()
_CODE_RE = re.compile(CODE_PATTERN)
#: What a refused code is told (one wording for every validator).
CODE_RULE = "6 digits of a listed board, optional .SH/.SZ/.BJ of its exchange, e.g. 600519 or 000001.SZ"


def exchange_of(code: str) -> str | None:
    """``SH``/``SZ``/``BJ`` for a code (with or without suffix), None if no board uses its prefix."""
    board = BOARD_OF_PREFIX.get(code[:2])
    return board.exchange if board else None


def is_a_share_code(value: object) -> bool:
    """Whether ``value`` is a string following the code rule (:data:`CODE_PATTERN`)."""
    return isinstance(value, str) and _CODE_RE.search(value) is not None


def to_code(code: object) -> str:
    """``600000.SH`` → ``600000``, ``600000`` → ``600000``: the six digits the store keys stocks by
    (``symbol``/``code``); ValueError for what is not a code."""
    if not is_a_share_code(code):
        text = repr(code)
        raise ValueError(f"{text[:77] + '...' if len(text) > 80 else text} is not an A-share code ({CODE_RULE})")
    return code[:6]  # type: ignore[index]


def to_ts_code(code: object) -> str:
    """``600000`` → ``600000.SH``, ``600000.sh`` → ``600000.SH``; ValueError for what is not a code."""
    six = to_code(code)
    return f"{six}.{exchange_of(six)}"


def code_schema() -> dict[str, Any]:
    """JSON schema of one code (``Param(**schema)`` items)."""
    return {"type": "string", "pattern": CODE_PATTERN, "maxLength": 9}


def board_limit_pct(codes: Sequence[str], names: Sequence[str | None] | None = None) -> np.ndarray:
    """Daily price-limit fraction per stock by board (:data:`BOARDS`), for days without exchange
    limit prices: STAR and ChiNext 20 %, Beijing 30 %, other boards 10 %, or 5 % when the name
    marks a risk warning (ST/*ST). New listings' first days have no limit; this fallback cannot
    know that, so it is used only when up/down limits are missing. The board lookup is vectorised
    (one array cast and a sorted search); the ST test reads the names of 10 % boards only.
    """
    import numpy as np

    prefixes = np.asarray(codes, dtype="U2")  # the first two digits (a cast truncates)
    known = np.array(sorted(BOARD_OF_PREFIX))
    limits = np.array([BOARD_OF_PREFIX[p].limit_pct for p in known])
    pos = np.clip(np.searchsorted(known, prefixes), 0, len(known) - 1)
    out = np.where(known[pos] == prefixes, limits[pos], 0.10)
    if names is not None:  # a substring test per name, only where the board's limit is 10 %
        ten = np.flatnonzero(out == 0.10).tolist()
        out[[i for i in ten if "ST" in (names[i] or "").upper()]] = ST_LIMIT_PCT
    return out


# ---- indices ----------------------------------------------------------------------------------

#: CSI 300: the benchmark of risk and portfolio reports.
CSI300 = "000300.SH"
#: The major indices synced daily and shown in reports (ts_code → name), in display order.
MAJOR_INDICES: dict[str, str] = {
    CSI300: "沪深300",
    "000001.SH": "上证指数",
    "399001.SZ": "深证成指",
    "399006.SZ": "创业板指",
}


# ---- time ---------------------------------------------------------------------------------------

def exchange_now() -> datetime:
    """Now in exchange time."""
    return datetime.now(TZ)


def exchange_today() -> date:
    """Today in exchange time (Asia/Shanghai)."""
    return exchange_now().date()


def exchange_time(moment: datetime) -> datetime:
    """An aware instant as a plain ``datetime`` in exchange time (Airflow passes pendulum objects)."""
    return datetime.fromtimestamp(moment.timestamp(), TZ)


def session_close(day) -> datetime:
    """The close (15:00 exchange time) of ``day`` (a date), aware."""
    return datetime.combine(day, SESSION_CLOSE, TZ)


# ---- data sources -----------------------------------------------------------------------------

#: Data sources in order of preference when a day is stored from several.
SOURCE_PREFERENCE = ("tushare", "demo")
#: source → rank (lower wins); unknown sources rank after every known one.
SOURCE_RANK = {s: i for i, s in enumerate(SOURCE_PREFERENCE)}


def pick_source(sources: Iterable[str]) -> str | None:
    """The preferred of ``sources`` (:data:`SOURCE_PREFERENCE`, then alphabetical), None if empty."""
    found = sorted(set(sources))
    return next((s for s in SOURCE_PREFERENCE if s in found), found[0] if found else None)


def preferred_source(db: Any, day: str) -> str | None:
    """The data source the day's daily bars are read from (:func:`pick_source` of the sources
    stored for ``day``), None when the day has no bars."""
    from ta_scheduler.constants import Collections as C

    bars = db[C.STOCK_DAILY_QUOTES]
    # one bar of each known source in preference order (a lookup each); the day's distinct sources
    # (every bar of the day read) only when none of them has the day
    for source in SOURCE_PREFERENCE:
        if bars.find_one({"trade_date": day, "period": "daily", "data_source": source}, {"_id": 1}) is not None:
            return source
    return pick_source(bars.distinct("data_source", {"trade_date": day, "period": "daily"}))
