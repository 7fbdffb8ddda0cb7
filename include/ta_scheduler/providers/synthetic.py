"""A deterministic synthetic A-share market: the data behind the demo provider and the local
tushare fake.

Every number is a pure function of (stock code, date): a counter-based hash (splitmix64) seeds
each draw, so any day is computed directly, in milliseconds, for the whole market, and the same
date gives the same data on every machine with the same trading calendar. No history is
generated from an origin.

Price model, per stock, on the project's trading calendar (``ta_scheduler.calendar``):

- level ``X(d) = P0 * exp(beta*M(d) + S(d) + e(d)) * (1 - y)**n_ex(d)``: a slow market factor
  ``M`` and a slow stock component ``S`` (long sine waves + drift, a function of the calendar
  day), bounded daily noise ``e`` and the ex-dividend drops (one event a year, yield ``y``);
- close ``C(d) = round2(X(d))``, except on limit days, where the close is exactly the limit
  price ``round2(pre_close * (1 ± L))``; ``L`` is 10 % main board, 20 % ChiNext/STAR, 30 % BSE,
  5 % ST. A limit day needs a quiet day before it and a next-day level that keeps the next
  close inside its own band, so every close stays within ``[down_limit, up_limit]`` of its
  ``pre_close`` (asserted by the tests over whole years);
- ``pre_close(d) = C(previous session)``, ex-dividend adjusted on ex-dates (tushare's
  除权昨收), so day-to-day bars chain exactly;
- ``adj_factor`` is the cumulative (back-adjusting) factor ``(1/(1-y))**n_ex`` since listing.

Units are ours (docs/data-model.md): volume in shares, amount and market values in yuan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from ta_scheduler.market import ST_LIMIT_PCT, TZ, board_limit_pct, exchange_of, session_close

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_REF_ORD = date(2020, 1, 1).toordinal()

# (exchange, board, share of the market, code ranges); suffix and price limit follow the code (ta_scheduler.market)
_BOARDS: tuple[tuple[str, str, float, tuple[tuple[int, int], ...]], ...] = (
    ("SSE", "主板", 0.31, ((600000, 603999), (605000, 605599))),
    ("SSE", "科创板", 0.11, ((688001, 688799),)),
    ("SZSE", "主板", 0.28, ((1, 3999),)),
    ("SZSE", "创业板", 0.25, ((300001, 301599),)),
    ("BSE", "北交所", 0.05, ((920000, 920999), (830000, 839999), (430000, 430999))),
)
_FAMOUS = (
    ("600000", "浦发银行", "银行", "上海"),
    ("000001", "平安银行", "银行", "深圳"),
    ("600519", "贵州茅台", "白酒", "贵州"),
    ("601318", "中国平安", "保险", "广东"),
    ("000858", "五粮液", "白酒", "四川"),
    ("300750", "宁德时代", "电池", "福建"),
    ("688981", "中芯国际", "半导体", "上海"),
)
_INDUSTRIES = (
    ("银行", "银行"), ("证券", "证券"), ("保险", "保险"), ("白酒", "酒业"), ("医药", "药业"), ("半导体", "微电"),
    ("电子", "电子"), ("软件服务", "软件"), ("汽车", "汽车"), ("电池", "锂能"), ("光伏", "光能"), ("化工", "化学"),
    ("钢铁", "钢铁"), ("煤炭", "煤业"), ("有色金属", "矿业"), ("房地产", "置业"), ("建筑", "建设"), ("机械", "重工"),
    ("电力", "电力"), ("通信", "通信"), ("食品饮料", "食品"), ("家电", "电器"), ("传媒", "传媒"), ("农业", "农业"),
)
_PREFIX1 = "华中东金新海国长天恒光宏正安永通大明信兴和瑞盛嘉"
_PREFIX2 = "安达泰鑫源科润康航云丰隆阳德宇邦立昌晟远博锦汇诚"
_AREAS = ("北京", "上海", "深圳", "广东", "浙江", "江苏", "山东", "四川", "湖北", "福建", "安徽", "河南", "湖南", "天津", "重庆")

_INDEX_PARAMS = {  # ts_code: (base level, market beta, noise, volume shares, amount yuan)
    "000300.SH": (3900.0, 1.0, 0.002, 1.4e10, 2.8e11),
    "000001.SH": (3200.0, 0.8, 0.002, 3.5e10, 4.2e11),
    "399001.SZ": (10500.0, 1.1, 0.0025, 4.1e10, 5.3e11),
    "399006.SZ": (2100.0, 1.3, 0.003, 1.6e10, 2.4e11),
}

# Quarterly reports: (period month-day, announcement month, day, spread days, next year?, share of annual revenue)
_PERIODS = (("03-31", 4, 12, 16, False, 0.22), ("06-30", 8, 8, 20, False, 0.48),
            ("09-30", 10, 14, 14, False, 0.73), ("12-31", 3, 18, 38, True, 1.0))

_NEWS_EVENTS = (
    ("{name}({code})发布年度业绩预增公告，净利润同比大幅增长", "利好"),
    ("{name}({code})中标重大项目，合同金额超十亿元", "利好"),
    ("{name}({code})获机构调研，多家基金看好其成长性", "利好"),
    ("{name}({code})宣布回购股份，彰显发展信心", "利好"),
    ("{name}({code})收到监管问询函，股价承压", "利空"),
    ("{name}({code})股东拟减持不超过2%股份", "利空"),
    ("{name}({code})业绩不及预期，营收同比下滑", "利空"),
    ("{name}({code})发布新产品，布局{industry}新赛道", "中性"),
    ("{name}({code})与{other}签署战略合作协议", "利好"),
    ("{industry}板块异动，{name}({code})领涨", "利好"),
)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x + _GOLD
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def uniform(keys: np.ndarray, *salts: int) -> np.ndarray:
    """Deterministic U[0,1) draws, one per key (uint64), for the given salts (e.g. a day ordinal)."""
    with np.errstate(over="ignore"):
        h = _mix(keys.astype(np.uint64))
        for s in salts:
            h = _mix(h ^ np.uint64(s & 0xFFFFFFFFFFFFFFFF))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def round2(x: np.ndarray) -> np.ndarray:
    """Round half-up to 0.01 yuan, as the exchanges do for prices (positive values)."""
    return np.floor(np.asarray(x, dtype=np.float64) * 100.0 + 0.5 + 1e-7) / 100.0


def _str_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Universe:
    """The listed stocks of the synthetic market and their fixed per-stock parameters."""

    codes: np.ndarray  # "600000"
    ts_codes: np.ndarray
    names: np.ndarray
    industries: np.ndarray
    areas: np.ndarray
    exchanges: np.ndarray
    boards: np.ndarray
    limits: np.ndarray  # 0.10 / 0.20 / 0.30 / 0.05
    is_st: np.ndarray
    list_dates: np.ndarray  # "YYYY-MM-DD"
    list_ords: np.ndarray
    keys: np.ndarray  # uint64 code numbers
    params: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.codes)


@lru_cache(maxsize=8)
def build_universe(n_stocks: int) -> Universe:
    """``n_stocks`` stocks spread over the boards in roughly real proportions (deterministic)."""
    if n_stocks < 10:
        raise ValueError(f"synthetic market: n_stocks must be at least 10, got {n_stocks}")
    famous = {c for c, *_ in _FAMOUS}
    chosen: list[tuple[str, int]] = []  # (code, board index)
    for b, (_, _, share, ranges) in enumerate(_BOARDS):
        count = max(2, round(n_stocks * share))
        pool = np.unique(np.concatenate([np.arange(lo, hi + 1) for lo, hi in ranges]))
        order = np.argsort(uniform(pool.astype(np.uint64), 7919 + b), kind="stable")
        picked = [f"{c:06d}" for c in pool[order]]
        mine = [c for c in picked if c in famous]
        mine += [c for c in picked if c not in famous][: max(0, count - len(mine))]
        chosen += [(c, b) for c in mine]
    chosen = sorted(chosen)[: max(n_stocks, 10)] if len(chosen) > n_stocks else sorted(chosen)
    codes = np.array([c for c, _ in chosen])
    board_idx = np.array([b for _, b in chosen])
    keys = codes.astype(np.int64).astype(np.uint64)

    u = [uniform(keys, 101 + i) for i in range(24)]
    ind_idx = (u[0] * len(_INDUSTRIES)).astype(int)
    fam = {c: (n, i, a) for c, n, i, a in _FAMOUS}
    names, industries, areas, taken = [], [], [], set()
    is_st = (u[1] < 0.03) & ~np.isin(codes, list(famous))
    for j, code in enumerate(codes):
        industry, suffix = _INDUSTRIES[ind_idx[j]]
        area = _AREAS[int(u[2][j] * len(_AREAS))]
        if code in fam:
            name, industry, area = fam[code]
        else:
            p = int(u[3][j] * len(_PREFIX1) * len(_PREFIX2))
            for step in range(len(_PREFIX1) * len(_PREFIX2)):
                q = (p + step * 37) % (len(_PREFIX1) * len(_PREFIX2))
                name = _PREFIX1[q // len(_PREFIX2)] + _PREFIX2[q % len(_PREFIX2)] + suffix
                if name not in taken:
                    break
        taken.add(name)
        names.append(("*ST" if u[4][j] < 0.5 else "ST") + name if is_st[j] else name)
        industries.append(industry)
        areas.append(area)

    exch = np.array([_BOARDS[b][0] for b in board_idx])
    boards = np.array([_BOARDS[b][1] for b in board_idx])
    suffixes = np.array([exchange_of(c) for c in codes])
    limits = np.where(is_st, ST_LIMIT_PCT, board_limit_pct(codes))
    first_year = np.where(board_idx == 1, 2019, np.where(board_idx == 4, 2016, np.where(board_idx == 3, 2009, 1991)))
    list_ord = np.array([date(int(y), 1, 1).toordinal() for y in first_year]) + (
        u[5] * (date(2023, 6, 30).toordinal() - np.array([date(int(y), 1, 1).toordinal() for y in first_year]))
    ).astype(int)
    list_ord = np.where(np.isin(codes, list(famous)), np.minimum(list_ord, date(2010, 6, 1).toordinal()), list_ord)
    noise_scale = np.where(is_st, 0.45, np.where(limits >= 0.2, 1.35, 1.0))
    total_share = np.round(np.exp(np.log(1.2e9) + 1.1 * (u[6] - 0.5) * 2) / 100) * 100
    float_share = np.round(total_share * (0.35 + 0.65 * u[7]) / 100) * 100
    p0 = np.clip(np.exp(np.log(13.0) + 1.6 * (u[8] - 0.5)), 3.0, 400.0)
    params = {
        "p0": p0,
        "beta": np.where(is_st, 0.5, 0.6 + 0.7 * u[9]),
        "a1": (0.05 + 0.17 * u[10]) * noise_scale, "t1": 1100 + 700 * u[11], "ph1": 2 * np.pi * u[12],
        "drift": (-0.05 + 0.15 * u[13]) / 365.0,
        "eps": 0.016 * noise_scale,
        "div_yield": np.where(u[14] < 0.35, 0.0, 0.005 + 0.025 * u[15]),
        "ex_offset": (u[16] * 75).astype(int),  # days after May 20
        "turnover": 0.003 + 0.035 * u[17] ** 2,
        "total_share": total_share,
        "float_share": float_share,
        "free_share": np.round(float_share * (0.5 + 0.5 * u[18]) / 100) * 100,
        "eps_ratio": np.where(u[19] < 0.12, -0.02 * u[20], 0.01 + 0.07 * u[20]),  # annual EPS / P0
        "bps_ratio": 0.2 + 0.8 * u[21],
        "rev0": total_share * p0 * (0.2 + 1.5 * u[22]),  # annual revenue in 2020, yuan
        "growth": 0.9 + 0.35 * u[23],
    }
    return Universe(
        codes=codes, ts_codes=np.char.add(np.char.add(codes, "."), suffixes), names=np.array(names),
        industries=np.array(industries), areas=np.array(areas), exchanges=exch, boards=boards, limits=limits,
        is_st=is_st, list_dates=np.array([date.fromordinal(int(o)).isoformat() for o in list_ord]),
        list_ords=list_ord, keys=keys, params=params,
    )


def _default_is_session() -> Callable[[date], bool]:
    from ta_scheduler.calendar import get_calendar

    cal = get_calendar()
    return cal.is_session


_EPOCH_ORD = date(1970, 1, 1).toordinal()


def _ex_counter(ords: np.ndarray | int, offsets: np.ndarray) -> np.ndarray:
    """Monotone count of ex-dividend targets (about May 20 + offset days, once a year) up to each
    ordinal; only differences of it are used."""
    ords = np.broadcast_to(np.asarray(ords, dtype=np.int64), offsets.shape)
    days = (ords - _EPOCH_ORD).astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    target = (years.astype("datetime64[D]") + np.timedelta64(139, "D")).astype(np.int64) + _EPOCH_ORD + offsets
    return years.astype(np.int64) + (ords >= target)


class SyntheticMarket:
    """Whole-market frames for any date, in our units (see the module doc)."""

    def __init__(self, n_stocks: int = 300, is_session: Callable[[date], bool] | None = None) -> None:
        self.universe = build_universe(n_stocks)
        self._is_session = is_session or _default_is_session()
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    # ---------------------------------------------------------------- calendar
    def is_session(self, d: date) -> bool:
        return self._is_session(d)

    def prev_session(self, d: date) -> date:
        d -= timedelta(days=1)
        while not self._is_session(d):
            d -= timedelta(days=1)
        return d

    def next_session(self, d: date) -> date:
        d += timedelta(days=1)
        while not self._is_session(d):
            d += timedelta(days=1)
        return d

    # ---------------------------------------------------------------- price model
    def _memo(self, kind: str, o: int, fn: Callable[[], np.ndarray]) -> np.ndarray:
        key = (kind, o)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > 256:
                self._cache.clear()
            hit = self._cache[key] = fn()
        return hit

    def _market(self, o: int) -> float:
        t = o - _REF_ORD
        eps = float(uniform(np.array([1], dtype=np.uint64), o, 11)[0]) * 2 - 1
        return 0.2 * np.sin(2 * np.pi * t / 1500 + 1.0) + 0.05 / 365 * t + 0.006 * eps

    def _n_ex(self, o: int) -> np.ndarray:
        p = self.universe.params
        return self._memo("nex", o, lambda: _ex_counter(o, p["ex_offset"]) - _ex_counter(_REF_ORD, p["ex_offset"]))

    def _level(self, o: int) -> np.ndarray:
        def compute() -> np.ndarray:
            p, t = self.universe.params, o - _REF_ORD
            slow = p["a1"] * np.sin(2 * np.pi * t / p["t1"] + p["ph1"]) + p["drift"] * t
            eps = p["eps"] * (uniform(self.universe.keys, o, 1) * 2 - 1)
            return p["p0"] * np.exp(p["beta"] * self._market(o) + slow + eps) * (1 - p["div_yield"]) ** self._n_ex(o)

        return self._memo("level", o, compute)

    def _raw_event(self, o: int) -> np.ndarray:
        return uniform(self.universe.keys, o, 2) < 0.012

    def _is_ex_date(self, d: date) -> np.ndarray:
        o, po = d.toordinal(), self.prev_session(d).toordinal()
        return (self._n_ex(o) != self._n_ex(po)) & (self.universe.params["div_yield"] > 0)

    def _base_close(self, d: date) -> np.ndarray:
        return self._memo("base", d.toordinal(), lambda: round2(self._level(d.toordinal())))

    def _ex_adjust(self, d: date, prev_close: np.ndarray) -> np.ndarray:
        y = self.universe.params["div_yield"]
        return np.where(self._is_ex_date(d), round2(prev_close * (1 - y)), prev_close)

    def _event(self, d: date) -> tuple[np.ndarray, np.ndarray]:
        """(limit-day mask, direction +1/-1) for ``d``; see the module doc for the conditions."""
        o = d.toordinal()
        prev, nxt = self.prev_session(d), self.next_session(d)
        lim = self.universe.limits
        up = uniform(self.universe.keys, o, 3) < 0.55
        direction = np.where(up, 1.0, -1.0)
        pre = self._ex_adjust(d, self._base_close(prev))
        close = round2(pre * (1 + direction * lim))
        # the next close must stay inside its own band (from this limit close), with a margin for rounding
        ratio = self._level(nxt.toordinal()) / close
        ratio = np.where(self._is_ex_date(nxt), ratio / (1 - self.universe.params["div_yield"]), ratio)
        safe = (ratio > (1 - lim) * 1.006) & (ratio < (1 + lim) * 0.994)
        mask = self._raw_event(o) & ~self._raw_event(prev.toordinal()) & safe
        return mask, direction

    def close(self, d: date) -> np.ndarray:
        """Closing prices of every stock on session ``d`` (yuan)."""
        def compute() -> np.ndarray:
            mask, direction = self._event(d)
            base = self._base_close(d)
            pre = self._ex_adjust(d, self._base_close(self.prev_session(d)))
            return np.where(mask, round2(pre * (1 + direction * self.universe.limits)), base)

        return self._memo("close", d.toordinal(), compute)

    def pre_close(self, d: date) -> np.ndarray:
        """Ex-dividend-adjusted previous close (tushare 除权昨收), yuan."""
        return self._ex_adjust(d, self.close(self.prev_session(d)))

    def limits(self, d: date) -> tuple[np.ndarray, np.ndarray]:
        """(up_limit, down_limit) of session ``d``, yuan."""
        pre = self.pre_close(d)
        lim = self.universe.limits
        return round2(pre * (1 + lim)), round2(pre * (1 - lim))

    def listed(self, d: date) -> np.ndarray:
        """Stocks trading on ``d`` (listed strictly before it)."""
        return self.universe.list_ords < d.toordinal()

    # ---------------------------------------------------------------- frames (our units)
    def stock_basic(self) -> pd.DataFrame:
        u = self.universe
        return pd.DataFrame({
            "code": u.codes, "ts_code": u.ts_codes, "name": u.names, "area": u.areas, "industry": u.industries,
            "market": u.boards, "exchange": u.exchanges, "list_date": u.list_dates, "list_status": "L",
            "is_hs": np.where(u.exchanges == "BSE", "N", np.where(uniform(u.keys, 9) < 0.5, "S", "H")),
        })

    def trade_cal(self, start: date, end: date, exchange: str = "SSE") -> pd.DataFrame:
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        return pd.DataFrame({
            "exchange": exchange, "cal_date": [d.isoformat() for d in days],
            "is_open": [int(self._is_session(d)) for d in days],
            "pretrade_date": [self.prev_session(d).isoformat() for d in days],
        })

    def _bar_arrays(self, d: date) -> dict[str, np.ndarray]:
        u, o = self.universe, d.toordinal()
        pre, close = self.pre_close(d), self.close(d)
        up, down = self.limits(d)
        scale = u.params["eps"] / 0.016
        open_ = np.clip(round2(pre * np.exp(0.02 * scale * (uniform(u.keys, o, 4) * 2 - 1))), down, up)
        high = np.clip(round2(np.maximum(open_, close) * (1 + 0.025 * scale * uniform(u.keys, o, 5))), None, up)
        low = np.clip(round2(np.minimum(open_, close) * (1 - 0.025 * scale * uniform(u.keys, o, 6))), down, None)
        high, low = np.maximum(high, np.maximum(open_, close)), np.minimum(low, np.minimum(open_, close))
        move = np.abs(close / pre - 1)
        volume = np.round(u.params["float_share"] * u.params["turnover"] * (1 + 6 * move)
                          * np.exp(0.7 * (uniform(u.keys, o, 7) - 0.5)) / 100) * 100
        amount = np.round(volume * (open_ + high + low + close) / 4)
        return {"open": open_, "high": high, "low": low, "close": close, "pre_close": pre, "volume": volume,
                "amount": amount, "up_limit": up, "down_limit": down}

    def daily(self, d: date) -> pd.DataFrame:
        """Daily bars of every listed stock; empty on a non-session."""
        if not self._is_session(d):
            return pd.DataFrame(columns=["ts_code", "code", "trade_date"])
        a, sel = self._bar_arrays(d), self.listed(d)
        change = np.round(a["close"] - a["pre_close"], 2)
        return pd.DataFrame({
            "ts_code": self.universe.ts_codes[sel], "code": self.universe.codes[sel], "trade_date": d.isoformat(),
            **{k: a[k][sel] for k in ("open", "high", "low", "close", "pre_close")},
            "change": change[sel], "pct_chg": np.round(change / a["pre_close"] * 100, 4)[sel],
            "volume": a["volume"][sel], "amount": a["amount"][sel],
        })

    def adj_factor(self, d: date) -> pd.DataFrame:
        if not self._is_session(d):
            return pd.DataFrame(columns=["ts_code", "trade_date", "adj_factor"])
        u, sel = self.universe, self.listed(d)
        p = u.params
        n_since_listing = self._n_ex(d.toordinal()) - (_ex_counter(u.list_ords, p["ex_offset"]) - _ex_counter(_REF_ORD, p["ex_offset"]))
        factor = np.round((1 / (1 - p["div_yield"])) ** np.maximum(n_since_listing, 0), 4)
        return pd.DataFrame({"ts_code": u.ts_codes[sel], "trade_date": d.isoformat(), "adj_factor": factor[sel]})

    def stk_limit(self, d: date) -> pd.DataFrame:
        if not self._is_session(d):
            return pd.DataFrame(columns=["ts_code", "trade_date", "up_limit", "down_limit"])
        up, down = self.limits(d)
        sel = self.listed(d)
        return pd.DataFrame({"ts_code": self.universe.ts_codes[sel], "trade_date": d.isoformat(),
                             "up_limit": up[sel], "down_limit": down[sel]})

    def daily_basic(self, d: date) -> pd.DataFrame:
        if not self._is_session(d):
            return pd.DataFrame(columns=["ts_code", "trade_date"])
        u, o, p = self.universe, d.toordinal(), self.universe.params
        a, sel = self._bar_arrays(d), self.listed(d)
        close = a["close"]
        eps_annual = p["p0"] * p["eps_ratio"]
        pe = np.where(eps_annual > 0, np.round(close / np.where(eps_annual > 0, eps_annual, 1), 4), np.nan)
        revenue = p["rev0"] * p["growth"] ** ((o - _REF_ORD) / 365.0)
        total_mv, circ_mv = close * p["total_share"], close * p["float_share"]
        frame = pd.DataFrame({
            "ts_code": u.ts_codes, "trade_date": d.isoformat(),
            "turnover_rate": np.round(a["volume"] / p["float_share"] * 100, 4),
            "turnover_rate_f": np.round(a["volume"] / p["free_share"] * 100, 4),
            "volume_ratio": np.round(a["volume"] / (p["float_share"] * p["turnover"] * 1.1), 2),
            "pe": pe, "pe_ttm": np.where(np.isnan(pe), np.nan, np.round(pe * (0.95 + 0.1 * uniform(u.keys, 31)), 4)),
            "pb": np.round(close / (p["p0"] * p["bps_ratio"]), 4),
            "ps": np.round(total_mv / (revenue * (0.97 + 0.06 * uniform(u.keys, 32))), 4),
            "ps_ttm": np.round(total_mv / revenue, 4),
            "dv_ratio": np.round(p["div_yield"] * p["p0"] / close * 100, 4),
            "total_share": p["total_share"], "float_share": p["float_share"],
            "total_mv": np.round(total_mv, 2), "circ_mv": np.round(circ_mv, 2),
        })
        return frame[sel].reset_index(drop=True)

    def index_daily(self, ts_codes: Sequence[str], start: date, end: date) -> pd.DataFrame:
        rows = []
        d = start if self._is_session(start) else self.next_session(start)
        while d <= end:
            prev = self.prev_session(d)
            for code in ts_codes:
                if code not in _INDEX_PARAMS:
                    continue
                base, beta, noise, vol, amt = _INDEX_PARAMS[code]
                k = np.array([_str_hash(code)], dtype=np.uint64)

                def level(x: date, k=k, base=base, beta=beta, noise=noise) -> float:  # this stock's values
                    e = float(uniform(k, x.toordinal(), 12)[0]) * 2 - 1
                    return round(base * float(np.exp(beta * self._market(x.toordinal()) + noise * e)), 4)

                c, pc = level(d), level(prev)
                r_open, r_range = (float(uniform(k, d.toordinal(), s)[0]) for s in (13, 14))
                o_ = round(pc * (1 + 0.004 * (r_open * 2 - 1)), 4)
                h = round(max(o_, c) * (1 + 0.006 * r_range), 4)
                lo = round(min(o_, c) * (1 - 0.006 * (1 - r_range)), 4)
                boost = 1 + 5 * abs(c / pc - 1)
                rows.append((code, d.isoformat(), o_, h, lo, c, pc, round(c - pc, 4), round((c / pc - 1) * 100, 4),
                             float(np.round(vol * boost / 100) * 100), float(np.round(amt * boost))))
            d = self.next_session(d)
        cols = ["ts_code", "trade_date", "open", "high", "low", "close", "pre_close", "change", "pct_chg", "volume", "amount"]
        frame = pd.DataFrame(rows, columns=cols)
        return frame.sort_values(["trade_date", "ts_code"], ascending=[False, True]).reset_index(drop=True)

    # ---------------------------------------------------------------- financial reports
    def financial_statements(self, statement: str, start: date, end: date,
                             ts_codes: Sequence[str] | None = None) -> pd.DataFrame:
        """Quarterly reports announced in ``start..end`` (amounts yuan, ratios percent)."""
        u = self.universe
        parts = []
        for year in range(start.year - 1, end.year + 1):
            for q, (md, ann_m, ann_d, spread, next_year, share) in enumerate(_PERIODS):
                period = date.fromisoformat(f"{year}-{md}")
                ann_base = date(year + 1 if next_year else year, ann_m, ann_d).toordinal()
                ann = ann_base + (uniform(u.keys, year, q, 41) * spread).astype(int)
                sel = (ann >= start.toordinal()) & (ann <= end.toordinal()) & (u.list_ords < period.toordinal())
                if ts_codes is not None:
                    sel &= np.isin(u.ts_codes, list(ts_codes))
                if not sel.any():
                    continue
                parts.append(self._statement(statement, year, q, period, share, ann, sel))
        if not parts:
            return pd.DataFrame(columns=["ts_code", "code", "ann_date", "report_period", "report_type"])
        return pd.concat(parts, ignore_index=True)

    def _statement(self, statement: str, year: int, q: int, period: date, share: float,
                   ann: np.ndarray, sel: np.ndarray) -> pd.DataFrame:
        u, p = self.universe, self.universe.params
        years = year - 2020
        noise = 0.9 + 0.2 * uniform(u.keys, year, q, 42)
        revenue = np.round(p["rev0"] * p["growth"] ** years * share * noise, 2)
        prev_revenue = np.round(p["rev0"] * p["growth"] ** (years - 1) * share * noise, 2)
        margin = p["eps_ratio"] * p["p0"] * p["total_share"] / p["rev0"]
        n_income = np.round(revenue * margin, 2)
        prev_income = np.round(prev_revenue * margin, 2)
        total_assets = np.round(p["rev0"] * p["growth"] ** years * (1.2 + 1.8 * uniform(u.keys, 43)), 2)
        total_liab = np.round(total_assets * (0.25 + 0.5 * uniform(u.keys, 44)), 2)
        equity = np.round(total_assets - total_liab, 2)
        cfo = np.round(n_income * (0.6 + 0.8 * uniform(u.keys, year, q, 45)), 2)
        n = len(u)
        cols: dict[str, np.ndarray] = {}
        if statement == "income":
            cols = {"total_revenue": revenue, "revenue": revenue, "operate_profit": np.round(n_income * 1.18, 2),
                    "total_profit": np.round(n_income * 1.15, 2), "n_income": np.round(n_income * 1.03, 2),
                    "n_income_attr_p": n_income, "basic_eps": np.round(n_income / p["total_share"], 4)}
        elif statement == "balancesheet":
            cols = {"total_assets": total_assets, "total_liab": total_liab, "total_hldr_eqy_exc_min_int": equity,
                    "money_cap": np.round(total_assets * 0.12, 2), "total_share": p["total_share"]}
        elif statement == "cashflow":
            cols = {"n_cashflow_act": cfo, "n_cashflow_inv_act": np.round(-np.abs(cfo) * 0.5, 2),
                    "n_cash_flows_fnc_act": np.round(-np.abs(cfo) * 0.2, 2), "free_cashflow": np.round(cfo * 0.5, 2),
                    "c_cash_equ_end_period": np.round(total_assets * 0.1 + cfo * 0.3, 2)}
        elif statement == "fina_indicator":
            safe_prev = np.where(prev_income != 0, prev_income, 1.0)
            cols = {"eps": np.round(n_income / p["total_share"], 4), "bps": np.round(equity / p["total_share"], 4),
                    "roe": np.round(n_income / equity * 100, 4), "roa": np.round(n_income / total_assets * 100, 4),
                    "roe_waa": np.round(n_income / equity * 100 * (0.97 + 0.06 * uniform(u.keys, year, q, 46)), 4),
                    "current_ratio": np.round(0.8 + 1.6 * uniform(u.keys, 47), 4),
                    "quick_ratio": np.round((0.8 + 1.6 * uniform(u.keys, 47)) * (0.6 + 0.3 * uniform(u.keys, 48)), 4),
                    "cash_ratio": np.round((0.8 + 1.6 * uniform(u.keys, 47)) * (0.2 + 0.3 * uniform(u.keys, 49)), 4),
                    "grossprofit_margin": np.round(np.clip(margin * 100 + 18, 1, 95), 4),
                    "netprofit_margin": np.round(margin * 100, 4),
                    "debt_to_assets": np.round(total_liab / total_assets * 100, 4),
                    "or_yoy": np.round((revenue / prev_revenue - 1) * 100, 4),
                    "netprofit_yoy": np.where(prev_income != 0, np.round((n_income / safe_prev - 1) * 100, 4), np.nan)}
        else:
            raise ValueError(f"unknown statement {statement!r}; expected income, balancesheet, cashflow or fina_indicator")
        ann_dates = np.array([date.fromordinal(int(o)).isoformat() for o in ann[sel]])
        frame = pd.DataFrame({"ts_code": u.ts_codes[sel], "code": u.codes[sel], "ann_date": ann_dates,
                              "report_period": period.isoformat(), "report_type": "1"})
        if statement != "fina_indicator":
            frame["f_ann_date"] = ann_dates
        for k, v in cols.items():
            frame[k] = np.broadcast_to(v, (n,))[sel]
        return frame

    # ---------------------------------------------------------------- news
    def news(self, start: datetime, end: datetime, source: str = "demo") -> pd.DataFrame:
        """Chinese headlines naming stocks, 2–6 per hour, published in ``[start, end)``."""
        u = self.universe
        hour = start.astimezone(TZ).replace(minute=0, second=0, microsecond=0)
        rows = []
        while hour < end:
            hk = np.array([int(hour.timestamp()) // 3600], dtype=np.uint64)
            count = 2 + int(uniform(hk, 51)[0] * 5)
            for i in range(count):
                r = uniform(hk, 52, i, 53, 54)
                j = int(uniform(hk, 55, i)[0] * len(u))
                k = int(uniform(hk, 56, i)[0] * len(u))
                template, tone = _NEWS_EVENTS[int(r[0] * len(_NEWS_EVENTS))]
                title = template.format(name=u.names[j], code=u.codes[j], industry=u.industries[j], other=u.names[k])
                minute = int(uniform(hk, 57, i)[0] * 60)
                when = hour + timedelta(minutes=minute, seconds=i)
                if not (start <= when < end):
                    continue
                content = (f"{title}。据公司公告，{u.names[j]}所属{u.industries[j]}行业近期景气度"
                           f"{'提升' if tone == '利好' else '承压' if tone == '利空' else '平稳'}，"
                           f"市场关注其后续经营情况。同行业公司{u.names[k]}({u.codes[k]})亦受关注。")
                rows.append((title, content, source, None, when, tone))
            hour += timedelta(hours=1)
        frame = pd.DataFrame(rows, columns=["title", "content", "source", "url", "publish_time", "channels"])
        return frame.sort_values("publish_time", ascending=False).reset_index(drop=True)

    # ---------------------------------------------------------------- intraday
    def realtime(self, at: datetime) -> pd.DataFrame:
        """The market as of ``at`` (exchange-local): prices interpolate from the open to the day's
        close along a deterministic bridge, so the 15:00 quote equals the daily bar."""
        local = at.astimezone(TZ)
        d = local.date()
        if not self._is_session(d):
            d = self.prev_session(d)
            local = session_close(d)
        minutes = _session_minutes(local.time())
        f = minutes / 240.0
        u, o = self.universe, d.toordinal()
        a, sel = self._bar_arrays(d), self.listed(d)
        step = np.array([o * 1000 + minutes], dtype=np.uint64)[0]
        wiggle = (uniform(u.keys, int(step), 61) * 2 - 1) * 0.015 * np.sqrt(f * (1 - f)) * a["pre_close"]
        price = np.clip(round2(a["open"] + (a["close"] - a["open"]) * f + wiggle), a["low"], a["high"])
        if minutes == 0:
            price = a["open"]
        high = np.maximum(price, np.minimum(a["high"], round2(np.maximum(a["open"], price) * (1 + 0.004 * f))))
        low = np.minimum(price, np.maximum(a["low"], round2(np.minimum(a["open"], price) * (1 - 0.004 * f))))
        if minutes >= 240:
            high, low = a["high"], a["low"]
        volume = np.round(a["volume"] * f / 100) * 100
        amount = np.round(a["amount"] * f)
        quote_time = datetime.combine(d, _minutes_to_clock(minutes), TZ)
        return pd.DataFrame({
            "code": u.codes[sel], "ts_code": u.ts_codes[sel], "name": u.names[sel], "price": price[sel],
            "open": a["open"][sel], "high": high[sel], "low": low[sel], "pre_close": a["pre_close"][sel],
            "volume": volume[sel], "amount": amount[sel],
            "bid1": np.maximum(round2(price - 0.01), 0.01)[sel], "ask1": round2(price + 0.01)[sel],
            "trade_date": d.isoformat(), "quote_time": quote_time,
        })


def _session_minutes(t: time) -> int:
    """Trading minutes elapsed by clock time ``t`` (0 before 09:30, 120 over lunch, 240 after 15:00)."""
    m = t.hour * 60 + t.minute
    if m <= 9 * 60 + 30:
        return 0
    if m <= 11 * 60 + 30:
        return m - (9 * 60 + 30)
    if m <= 13 * 60:
        return 120
    return min(240, 120 + m - 13 * 60)


def _minutes_to_clock(minutes: int) -> time:
    m = 9 * 60 + 30 + minutes if minutes <= 120 else 13 * 60 + (minutes - 120)
    return time(m // 60, m % 60)
