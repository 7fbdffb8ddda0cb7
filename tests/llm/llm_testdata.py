"""Test data for LLM research tests: keys, symbols and a small seeded market in the real store."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

VALID_KEY = "sk-test-valid"
ANALYSIS_DATE = "2026-11-27"  # a Friday
SYMBOLS = ("600519", "000001.SZ", "300750")
NAMES = {"600519": "贵州茅台", "000001": "平安银行", "300750": "宁德时代"}
#: daily drift (fraction) per stock: a steady riser, a steady faller, a flat one
DRIFT = {"600519": 0.006, "000001": -0.006, "300750": 0.0}


def trading_days(end: str, n: int) -> list[str]:
    """The ``n`` weekdays up to ``end`` (holidays do not matter for these tests)."""
    d, out = date.fromisoformat(end), []
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d -= timedelta(days=1)
    return out[::-1]


def seed_market(db, end: str = ANALYSIS_DATE, *, extra_future_day: bool = True) -> None:
    """Write 70 bars per stock (plus one bar and one news item after ``end``, which research must
    not read), the latest indicators, two financial reports and news into a fresh database.

    Plain ``insert_many``: the database is new, and FerretDB upserts cost ~25 ms each.
    """

    def _insert(coll, docs):
        coll.insert_many(list(docs))

    days = trading_days(end, 70)
    future = (date.fromisoformat(end) + timedelta(days=3)).isoformat()
    tz = ZoneInfo("Asia/Shanghai")
    for sym in SYMBOLS:
        code, _, suffix = sym.partition(".")
        ts_code = f"{code}.{suffix or ('SH' if code.startswith('6') else 'SZ')}"
        drift = DRIFT[code]
        bars, close = [], 20.0
        for i, day in enumerate([*days, future] if extra_future_day else days):
            pre = close
            close = round(pre * (1 + drift + 0.004 * math.sin(i)), 2)
            bars.append(
                {
                    "symbol": code, "code": code, "ts_code": ts_code, "trade_date": day, "period": "daily",
                    "data_source": "demo", "open": pre, "high": max(pre, close) * 1.01, "low": min(pre, close) * 0.99,
                    "close": close, "pre_close": pre, "pct_chg": round((close / pre - 1) * 100, 2),
                    "volume": 1_000_000.0 + 1000 * i, "amount": close * (1_000_000.0 + 1000 * i), "adj_factor": 1.0,
                    "pe": 12.0 if drift > 0 else (-5.0 if drift < 0 else 30.0),
                    "pe_ttm": 12.0 if drift > 0 else (-5.0 if drift < 0 else 30.0),
                    "pb": 2.0, "total_mv": 5e10, "turnover_rate": 1.2,
                }
            )  # fmt: skip
        _insert(db["stock_daily_quotes"], bars)
        _insert(
            db["stock_basic_info"],
            [{"code": code, "source": "demo", "name": NAMES[code], "industry": "测试行业", "ts_code": ts_code}],
        )
        closes = [b["close"] for b in bars[: len(days)]]
        _insert(
            db["technical_indicators"],
            [
                {
                    "symbol": code, "trade_date": end, "ma5": sum(closes[-5:]) / 5, "ma20": sum(closes[-20:]) / 20,
                    "ma60": sum(closes[-60:]) / 60, "macd_dif": 0.3 if drift > 0 else -0.3, "macd_dea": 0.1 if drift > 0 else -0.1,
                    "rsi6": 60.0 if drift > 0 else 40.0, "atr14": 0.5, "data_source": "demo",
                }
            ],
        )  # fmt: skip
        _insert(
            db["stock_financial_data"],
            [
                {"symbol": code, "report_period": "2026-09-30", "report_type": "quarterly", "data_source": "demo",
                 "roe": 15.5 if drift >= 0 else -3.0, "eps": 1.23, "netprofit_yoy": 12.0},
                {"symbol": code, "report_period": "2026-06-30", "report_type": "quarterly", "data_source": "demo",
                 "roe": 9.0, "eps": 0.8, "netprofit_yoy": 5.0},
            ],
        )  # fmt: skip
        title = {0.006: "业绩超预期，订单增长", -0.006: "公司遭立案调查，业绩亏损", 0.0: "公司召开股东大会"}[drift]
        _insert(
            db["stock_news"],
            [
                {"news_id": f"{code}-1", "title": f"{NAMES[code]}{title}", "content": "详见公告。", "source": "demo",
                 "published_at": datetime.fromisoformat(f"{end}T10:00:00").replace(tzinfo=tz), "symbols": [code],
                 "data_source": "demo"},
                {"news_id": f"{code}-future", "title": f"{NAMES[code]}未来消息不应被读取", "content": "", "source": "demo",
                 "published_at": datetime.fromisoformat(f"{future}T10:00:00").replace(tzinfo=tz), "symbols": [code],
                 "data_source": "demo"},
            ],
        )  # fmt: skip
