"""Names shared by DAGs, tasks and tests: collections, queues, pools, tags, time zone.

Defined once here (STYLE habit 6). Parse-safe: standard library only.

Units stored in the collections (documented once, here):
  prices            yuan; daily bars: open..pre_close forward-adjusted (qfq), the exchange's
                    prices in ``unadj_*`` with ``adj_factor`` (docs/data-model.md "Prices")
  volume            shares (tushare ``daily.vol`` is in lots of 100 shares: multiplied by 100)
  amount            yuan (tushare ``daily.amount`` is in thousands of yuan: multiplied by 1000)
  market values     yuan (tushare ``daily_basic`` total_mv/circ_mv are in 10k yuan: ×10000)
  trade_date        ``YYYY-MM-DD`` string (exchange-local date, Asia/Shanghai)
"""

from __future__ import annotations

TIMEZONE = "Asia/Shanghai"
DEFAULT_DB_NAME = "tradingagents"


class Collections:
    """MongoDB collection names (TradingAgents-CN names where they exist)."""

    STOCK_BASIC_INFO = "stock_basic_info"
    STOCK_DAILY_QUOTES = "stock_daily_quotes"
    MARKET_QUOTES = "market_quotes"
    INTRADAY_SNAPSHOTS = "market_quotes_intraday"
    STOCK_FINANCIAL_DATA = "stock_financial_data"
    STOCK_NEWS = "stock_news"
    ANALYSIS_REPORTS = "analysis_reports"
    TRADE_CALENDAR = "trade_calendar"
    INDEX_DAILY = "index_daily_quotes"
    TECHNICAL_INDICATORS = "technical_indicators"
    INDICATOR_STATE = "indicator_state"  # per stock and data source (analytics/indicator_state.py)
    DAILY_BAR_COLUMNS = "daily_bar_columns"  # per trade date: the day's bars as columns (analytics/bar_columns.py)
    MARKET_SENTIMENT = "market_sentiment"
    HOT_STOCKS = "hot_stocks"
    RISK_ASSESSMENTS = "risk_assessments"
    REPORTS = "reports"
    PORTFOLIOS = "portfolios"
    QUARANTINE = "quarantine"
    SYNC_STATE = "sync_state"
    DATA_COMPLETENESS = "data_completeness"  # the completeness ledger (storage/ledger.py)
    HEALTH_CHECKS = "health_checks"
    LLM_USAGE = "llm_usage"  # token/cost ledger of LLM research, one document per attempt (llm/budget.py)


class Queues:
    """Celery queues; one worker per queue in the cluster (SPEC §3)."""

    DATA = "data"
    ANALYSIS = "analysis"
    MAINTENANCE = "maintenance"
    DEFAULT = "default"
    ALL = (DATA, ANALYSIS, MAINTENANCE, DEFAULT)


class Pools:
    """Airflow pools (created by airflow_settings.yaml)."""

    TUSHARE_API = "tushare_api"
    LLM_DASHSCOPE = "llm_dashscope"  # one pool per LLM provider: concurrent research symbols
    LLM_DEEPSEEK = "llm_deepseek"


class Conns:
    """Airflow connection ids, each with an environment fallback (see ``config``)."""

    MONGO = "mongo_default"
    REDIS = "redis_default"
    TUSHARE = "tushare_default"
    DASHSCOPE = "dashscope_default"
    DEEPSEEK = "deepseek_default"
    SLACK_ALERTS = "slack_alerts"
    SMTP_ALERTS = "smtp_alerts"
    # Chinese group robots (notify.robots): token in the password, signing secret in extra "secret"
    DINGTALK_ALERTS = "dingtalk_alerts"
    FEISHU_ALERTS = "feishu_alerts"
    WECOM_ALERTS = "wecom_alerts"
    METADATA_DB = "airflow_metadata_db"


#: Tag vocabulary; the DAG integrity test refuses tags outside it.
TAGS = frozenset(
    {
        "data",
        "analysis",
        "maintenance",
        "reports",
        "tushare",
        "llm",
        "daily",
        "intraday",
        "weekly",
        "manual",
        "health",
    }
)
