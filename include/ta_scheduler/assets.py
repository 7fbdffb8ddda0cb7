"""Assets the DAGs produce, so downstream DAGs can be data-aware (SPEC §3 rules).

Parse-safe: ``airflow.sdk`` is already loaded by any DAG file. Event ``extra`` carries the
trading day(s) the event is about, e.g. ``{"trade_dates": ["2026-11-27"]}``.
"""

from __future__ import annotations

from airflow.sdk import Asset

DAILY_BARS = Asset(name="daily_bars", uri="tradingagents://stock_daily_quotes", group="market_data")
INTRADAY_QUOTES = Asset(name="intraday_quotes", uri="tradingagents://market_quotes", group="market_data")
FINANCIALS = Asset(name="financials", uri="tradingagents://stock_financial_data", group="market_data")
NEWS = Asset(name="news", uri="tradingagents://stock_news", group="market_data")
ANALYSIS = Asset(name="daily_analysis", uri="tradingagents://market_sentiment", group="analysis")
