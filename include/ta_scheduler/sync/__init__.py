"""Sync jobs: provider -> validate -> store. Each public function takes plain arguments and
returns a small dict of counts (for XCom). See docs/data-sync.md.
"""

from __future__ import annotations

from ta_scheduler.sync.bars import (
    backfill_daily,
    missing_trade_dates,
    sync_daily_bars,
    sync_index_daily,
    sync_stock_basic,
)
from ta_scheduler.sync.financials import sync_financials
from ta_scheduler.sync.news import sync_news
from ta_scheduler.sync.realtime import sync_realtime_quotes
from ta_scheduler.sync.validate import DataQualityError

__all__ = [
    "DataQualityError",
    "backfill_daily",
    "missing_trade_dates",
    "sync_daily_bars",
    "sync_financials",
    "sync_index_daily",
    "sync_news",
    "sync_realtime_quotes",
    "sync_stock_basic",
]
