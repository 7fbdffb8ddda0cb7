"""TradingAgents-CN's stored formats: conversions from our frames (docs/data-model.md units) to the
fields its readers expect, where they differ from ours. Pure, no I/O.

Where it uses them: ``YYYYMMDD`` dates (``stock_basic_info.list_date``, ``market_quotes.trade_date``,
``stock_financial_data.report_period``/``ann_date``), market values in 亿元 and share counts in 万股
(``stock_basic_info``), ``is_hs`` as a bool, a naive Beijing wall-clock ``stock_news.publish_time``,
``report_type`` ``"quarterly"``/``"annual"``. ``stock_daily_quotes.trade_date`` stays ``YYYY-MM-DD``
(what its historical-data importer writes).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from ta_scheduler.market import TZ

YUAN_PER_YI = 100_000_000  # 亿元
SHARES_PER_WAN = 10_000  # 万股
#: ``market`` of TradingAgents-CN's A-share documents (``stock_daily_quotes``, ``stock_news``).
MARKET_CN = "CN"


def yyyymmdd(value: str | None) -> str | None:
    """``YYYY-MM-DD`` -> ``YYYYMMDD`` (``None`` stays ``None``)."""
    return None if value is None else str(value).replace("-", "")[:8]


def yyyymmdd_series(values: pd.Series) -> pd.Series:
    """Column-wise :func:`yyyymmdd`."""
    s = values.astype("string").str.replace("-", "", regex=False).str[:8]
    return s.astype(object).where(s.notna(), None)


def is_hs_flag(values: pd.Series) -> pd.Series:
    """tushare ``is_hs`` (``H`` Shanghai-Connect, ``S`` Shenzhen-Connect, ``N`` neither) -> bool."""
    return values.isin(["H", "S"])


def report_type(report_period: str) -> str:
    """``"annual"`` for a period ending 31 December, else ``"quarterly"`` (any date format)."""
    return "annual" if str(report_period).replace("-", "")[4:8] == "1231" else "quarterly"


def beijing_wall_clock(moment: datetime) -> datetime:
    """An aware instant -> the naive Beijing wall-clock time TradingAgents-CN stores (and MongoDB
    keeps as if it were UTC)."""
    return moment.astimezone(TZ).replace(tzinfo=None)

