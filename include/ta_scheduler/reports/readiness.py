"""Is the day's analysis stored? The check the daily report waits on (light: no pandas, no charts,
so the triggerer can run it without loading the report stack)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C
from ta_scheduler.reports.errors import AnalysisMissingError

if TYPE_CHECKING:
    from pymongo.database import Database


def require_analysis(db: Database, trade_date: str) -> dict[str, Any]:
    """The day's ``market_sentiment`` document, after checking the day's indicators exist.

    :raises AnalysisMissingError: either is missing (names the day and what to run)
    """
    sentiment = db[C.MARKET_SENTIMENT].find_one({"trade_date": trade_date}, {"_id": 0})
    has_indicators = db[C.TECHNICAL_INDICATORS].find_one({"trade_date": trade_date}, {"_id": 1}) is not None
    missing = [name for name, ok in ((C.MARKET_SENTIMENT, sentiment is not None), (C.TECHNICAL_INDICATORS, has_indicators)) if not ok]
    if missing:
        latest = db[C.MARKET_SENTIMENT].find_one({}, {"_id": 0, "trade_date": 1}, sort=[("trade_date", -1)])
        raise AnalysisMissingError(
            f"daily report {trade_date}: no {' / '.join(missing)} for {trade_date} "
            f"(latest {C.MARKET_SENTIMENT}: {latest['trade_date'] if latest else 'none'}); "
            f"run analysis_pipeline for {trade_date} first"
        )
    return sentiment


def analysis_missing(db: Database, trade_date: str) -> str | None:
    """None when the day's analysis is stored, else why not (store errors included: a store
    that is restarting is a reason to keep waiting, not to fail)."""
    from pymongo.errors import PyMongoError

    try:
        require_analysis(db, trade_date)
    except AnalysisMissingError as exc:
        return str(exc)
    except PyMongoError as exc:
        return f"store not reachable: {type(exc).__name__}: {exc}"
    return None
