"""Has tushare published a trading day? The counts ``daily_sync``'s ``wait_for_vendor`` compares.

tushare's daily bars for a trading day are usually complete soon after the close but sometimes
only at 19:00–20:00; a sync at 16:30 would then fail after its retries or store a partial day.
So the wait counts the rows tushare ``daily`` returns for the day against the listed market
(``stock_basic_info``: listed on or before the day; only the requested codes when the run names
``symbols``). The day is *ready* when at least ``TA_VENDOR_READY_SHARE`` (default 0.98:
suspended stocks have no bar) of them are there. The trigger re-checks every
``TA_VENDOR_READY_POLL_SECONDS`` (default 300) until the deadline, the ``vendor_deadline``
param: ``"HH:MM"`` exchange time on the synced day (default 22:00) or an ISO 8601 instant.

Imported by the DAG file (``DEFAULT_DEADLINE``), so nothing heavy at top level.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymongo.database import Database

DEFAULT_DEADLINE = "22:00"


def min_share() -> float:
    """Share of the listed market the vendor must have published: ``TA_VENDOR_READY_SHARE``."""
    from ta_scheduler.config import setting_float

    share = setting_float("TA_VENDOR_READY_SHARE")
    if not 0 < share <= 1:
        raise ValueError(f"TA_VENDOR_READY_SHARE={share}: expected a share in (0, 1]")
    return share


def poll_seconds() -> float:
    """How often the trigger asks tushare again (seconds): ``TA_VENDOR_READY_POLL_SECONDS``."""
    from ta_scheduler.config import setting_float

    return setting_float("TA_VENDOR_READY_POLL_SECONDS")


def deadline_for(trade_date: str, spec: str) -> datetime:
    """The deadline as an aware datetime: ``"HH:MM"`` exchange time on ``trade_date``, or an
    ISO 8601 instant with its offset. Raises ValueError for anything else."""

    from ta_scheduler.market import TZ

    text = str(spec).strip()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if m and int(m[1]) < 24 and int(m[2]) < 60:
        day = datetime.fromisoformat(trade_date)
        return day.replace(hour=int(m[1]), minute=int(m[2]), tzinfo=TZ)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(
            f"vendor_deadline {spec!r}: expected HH:MM (exchange time on the synced day) or an ISO 8601 "
            "date-time with its UTC offset"
        )
    return moment


def listed_count(db: Database, data_source: str, trade_date: str, symbols: Sequence[str] | None = None) -> int:
    """Stocks the vendor should have a bar for on ``trade_date``: listed on or before it
    (``stock_basic_info`` of ``data_source``), restricted to ``symbols`` (six-digit codes) if given."""
    from ta_scheduler.constants import Collections as C

    query: dict[str, Any] = {"source": data_source, "list_date": {"$lte": trade_date.replace("-", "")}}  # YYYYMMDD, as stored
    if symbols:
        query["code"] = {"$in": list(symbols)}
    return db[C.STOCK_BASIC_INFO].count_documents(query)


def published_count(provider: Any, trade_date: str, symbols: Sequence[str] | None = None) -> int:
    """Rows tushare ``daily`` has for ``trade_date`` (only ``symbols``, six-digit codes, if given): one light call."""
    from ta_scheduler.providers.normalise import code_of, compact_date

    frame = provider.call("daily", trade_date=compact_date(trade_date), fields="ts_code", expect_rows=False)
    if not symbols:
        return len(frame)
    codes = code_of(frame["ts_code"]) if "ts_code" in frame.columns else []
    return len(set(codes) & set(symbols))


def shortfall(trade_date: str, expected: int, published: int, share: float) -> str | None:
    """None when ``published`` covers ``share`` of ``expected``, else the shortfall in words.
    Without a stock list to compare with (a token refused ``stock_basic``), any published bar
    counts as ready."""
    need = math.ceil(share * expected)
    if published >= need and (expected > 0 or published > 0):
        return None
    pct = 100.0 * published / expected if expected else 0.0
    return (f"tushare daily {trade_date}: {published} of {expected} listed stocks published ({pct:.1f} %), "
            f"{max(expected - published, 0)} missing; need at least {need} ({share:.0%})")
