"""The demo provider: the synthetic market (``providers.synthetic``) behind the provider interface.

It needs no network and no token, so the embedded default and the tests run anywhere. Every
document written from it carries ``data_source: "demo"``. Market size: ``TA_DEMO_STOCKS``
(default 300 stocks, fast locally; 5,400 is the size of the real market).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from ta_scheduler.market import MAJOR_INDICES
from ta_scheduler.providers.base import STATEMENTS
from ta_scheduler.providers.synthetic import TZ, SyntheticMarket

if TYPE_CHECKING:
    import pandas as pd



class DemoProvider:
    """Deterministic synthetic A-share data (see ``providers.synthetic`` for the model)."""

    name = "demo"

    def __init__(self, n_stocks: int | None = None) -> None:
        from ta_scheduler.config import setting_int

        self.n_stocks = int(n_stocks or setting_int("TA_DEMO_STOCKS"))
        self.market = SyntheticMarket(self.n_stocks)

    def stock_basic(self) -> pd.DataFrame:
        return self.market.stock_basic()

    def trade_cal(self, start: str, end: str, exchange: str = "SSE") -> pd.DataFrame:
        return self.market.trade_cal(date.fromisoformat(start), date.fromisoformat(end), exchange)

    def daily(self, trade_date: str) -> pd.DataFrame:
        return self.market.daily(date.fromisoformat(trade_date))

    def adj_factor(self, trade_date: str) -> pd.DataFrame:
        return self.market.adj_factor(date.fromisoformat(trade_date))

    def daily_basic(self, trade_date: str) -> pd.DataFrame:
        return self.market.daily_basic(date.fromisoformat(trade_date))

    def stk_limit(self, trade_date: str) -> pd.DataFrame:
        return self.market.stk_limit(date.fromisoformat(trade_date))

    def index_daily(self, ts_codes: Sequence[str] = tuple(MAJOR_INDICES), start: str = "", end: str = "") -> pd.DataFrame:
        return self.market.index_daily(ts_codes, date.fromisoformat(start), date.fromisoformat(end))

    def financial_statements(self, statement: str, start: str, end: str,
                             ts_codes: Sequence[str] | None = None) -> pd.DataFrame:
        if statement not in STATEMENTS:
            raise ValueError(f"unknown statement {statement!r}; expected one of {', '.join(STATEMENTS)}")
        return self.market.financial_statements(statement, date.fromisoformat(start), date.fromisoformat(end), ts_codes)

    def news(self, start: datetime, end: datetime) -> pd.DataFrame:
        return self.market.news(start, end, source="demo")

    def realtime_quotes(self, codes: Sequence[str] | None = None, at: datetime | None = None) -> pd.DataFrame:
        frame = self.market.realtime(at or datetime.now(TZ))
        if codes:
            frame = frame[frame["code"].isin([c[:6] for c in codes])].reset_index(drop=True)
        return frame
