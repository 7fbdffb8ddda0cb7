"""The provider interface: what every market-data source returns, in our units.

Every method returns a pandas ``DataFrame`` with exactly the columns listed in the matching
``*_COLUMNS`` tuple below (extra columns may follow), already normalised to the units of
docs/data-model.md, so sync code never converts units:

- dates ``YYYY-MM-DD`` strings; timestamps timezone-aware (Asia/Shanghai), millisecond precision
- ``code`` the 6-digit code, ``ts_code`` with exchange suffix (``600000.SH``)
- prices in yuan, unadjusted; ``volume`` in shares; ``amount`` and market values in yuan;
  share counts in shares; percentages in percent

Whole-market calls take a date (``daily(trade_date)``), never a symbol loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    import pandas as pd

STOCK_BASIC_COLUMNS = (
    "code", "ts_code", "name", "area", "industry", "market", "exchange", "list_date", "list_status", "is_hs",
)
TRADE_CAL_COLUMNS = ("exchange", "cal_date", "is_open", "pretrade_date")
DAILY_COLUMNS = (
    "ts_code", "code", "trade_date", "open", "high", "low", "close", "pre_close", "change", "pct_chg", "volume", "amount",
)
ADJ_FACTOR_COLUMNS = ("ts_code", "trade_date", "adj_factor")
DAILY_BASIC_COLUMNS = (
    "ts_code", "trade_date", "turnover_rate", "turnover_rate_f", "volume_ratio", "pe", "pe_ttm", "pb", "ps", "ps_ttm",
    "dv_ratio", "total_share", "float_share", "total_mv", "circ_mv",
)
STK_LIMIT_COLUMNS = ("ts_code", "trade_date", "up_limit", "down_limit")
INDEX_DAILY_COLUMNS = (
    "ts_code", "trade_date", "open", "high", "low", "close", "pre_close", "change", "pct_chg", "volume", "amount",
)
REALTIME_COLUMNS = (
    "code", "ts_code", "name", "price", "open", "high", "low", "pre_close", "volume", "amount",
    "bid1", "ask1", "trade_date", "quote_time",
)
NEWS_COLUMNS = ("title", "content", "source", "url", "publish_time", "channels")

#: Statement kinds for ``financial_statements``; each maps to a tushare endpoint of that name.
STATEMENTS = ("income", "balancesheet", "cashflow", "fina_indicator")
FINANCIAL_KEY_COLUMNS = ("ts_code", "code", "ann_date", "report_period", "report_type")



@runtime_checkable
class MarketDataProvider(Protocol):
    """A source of A-share market data. ``name`` is the ``data_source`` label of what it returns."""

    name: str

    def stock_basic(self) -> pd.DataFrame:
        """Listed stocks (STOCK_BASIC_COLUMNS); ``market`` is 主板/创业板/科创板/北交所."""

    def trade_cal(self, start: str, end: str, exchange: str = "SSE") -> pd.DataFrame:
        """Calendar days ``start..end`` (TRADE_CAL_COLUMNS); ``is_open`` is int 0/1."""

    def daily(self, trade_date: str) -> pd.DataFrame:
        """Unadjusted daily bars of the whole market for one trading day (DAILY_COLUMNS)."""

    def adj_factor(self, trade_date: str) -> pd.DataFrame:
        """Cumulative adjustment factors of the whole market for one day (ADJ_FACTOR_COLUMNS)."""

    def daily_basic(self, trade_date: str) -> pd.DataFrame:
        """Valuation and turnover of the whole market for one day (DAILY_BASIC_COLUMNS)."""

    def stk_limit(self, trade_date: str) -> pd.DataFrame:
        """Limit-up / limit-down prices of the whole market for one day (STK_LIMIT_COLUMNS)."""

    def index_daily(self, ts_codes: Sequence[str], start: str, end: str) -> pd.DataFrame:
        """Daily bars of the given indices between two dates, inclusive (INDEX_DAILY_COLUMNS)."""

    def financial_statements(
        self, statement: str, start: str, end: str, ts_codes: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Statements of kind ``statement`` (one of STATEMENTS) *announced* in ``start..end``.

        Columns: FINANCIAL_KEY_COLUMNS, then the statement's own fields (amounts in yuan, ratios in
        percent, per-share figures in yuan). ``ts_codes`` restricts to some stocks.
        """

    def news(self, start: datetime, end: datetime) -> pd.DataFrame:
        """News published in ``[start, end)`` from the configured sources (NEWS_COLUMNS)."""

    def realtime_quotes(self, codes: Sequence[str] | None = None, at: datetime | None = None) -> pd.DataFrame:
        """The latest quote of every stock (or of ``codes``), fetched in batches (REALTIME_COLUMNS).

        ``at`` is only used by the synthetic provider (the quote "as of" that time); live sources
        ignore it.
        """
