"""Wait for the vendor, not the clock: ``daily_sync`` syncs a day once tushare has it.

tushare's daily bars for a trading day are usually complete soon after the close but sometimes
only at 19:00–20:00; a sync at 16:30 would then fail after its retries or store a partial day.
So before the sync, :class:`WaitForVendorOperator` counts the rows tushare ``daily`` returns for
the day against the listed market (``stock_basic_info``: listed on or before the day; only
the requested codes when the run names ``symbols``). The day is *ready* when at least
``TA_VENDOR_READY_SHARE`` (default 0.98: suspended stocks have no bar) of them are there.
Otherwise the task defers to :class:`ta_scheduler.vendor_trigger.VendorReadyTrigger` (in the
triggerer, no worker slot held), which re-checks every ``TA_VENDOR_READY_POLL_SECONDS``
(default 300) until the deadline, the ``vendor_deadline`` param: ``"HH:MM"`` exchange time on
the synced day (default 22:00) or an ISO 8601 instant. Past it the task fails without retries
(``AirflowFailException``), naming the day and the shortfall.

The demo provider is always ready (its market is generated, not published). A run covering
several days (a backfill) checks its newest day. The waiting shape (check, defer, poll,
fail loudly) is shared with the daily report's wait: :mod:`ta_scheduler.deferral`.

Imported by the DAG file, so only the Task SDK at top level.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

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
    (``stock_basic_info`` of ``data_source``), restricted to ``symbols`` (ts codes) if given."""
    from ta_scheduler.constants import Collections as C

    query: dict[str, Any] = {"source": data_source, "list_date": {"$lte": trade_date.replace("-", "")}}  # YYYYMMDD, as stored
    if symbols:
        query["ts_code"] = {"$in": list(symbols)}
    return db[C.STOCK_BASIC_INFO].count_documents(query)


def published_count(provider: Any, trade_date: str, symbols: Sequence[str] | None = None) -> int:
    """Rows tushare ``daily`` has for ``trade_date`` (only ``symbols`` if given): one light call."""
    from ta_scheduler.providers.normalise import compact_date

    frame = provider.call("daily", trade_date=compact_date(trade_date), fields="ts_code", expect_rows=False)
    codes = frame["ts_code"] if "ts_code" in frame.columns else []
    return len(set(codes) & set(symbols)) if symbols else len(frame)


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


class WaitForVendorOperator(BaseOperator):
    """Wait (deferred, in the triggerer) until tushare has ``plan``'s newest day for the market.

    :param plan: the ``plan`` task's result (``dates``, ``symbols``)
    :param deadline: ``"HH:MM"`` exchange time on that day, or an ISO 8601 instant (templated)
    """

    template_fields = ("plan", "deadline")
    ui_color = "#e8f0fe"

    def __init__(self, *, plan: Any, deadline: str = DEFAULT_DEADLINE, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan = plan
        self.deadline = deadline

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        from ta_scheduler.deferral import DEFERRAL_MARGIN
        from ta_scheduler.providers import get_provider
        from ta_scheduler.storage.mongo import get_db
        from ta_scheduler.vendor_trigger import VendorReadyTrigger

        provider = get_provider()
        day = self.plan["dates"][-1]
        if provider.name != "tushare":
            self.log.info("provider %s publishes nothing to wait for: %s is ready", provider.name, day)
            return {"trade_date": day, "provider": provider.name, "deferred": False}
        symbols = self.plan.get("symbols")
        deadline = deadline_for(day, self.deadline)
        share = min_share()
        expected = listed_count(get_db(), provider.name, day, symbols)
        published = published_count(provider, day, symbols)
        missing = shortfall(day, expected, published, share)
        facts = {"trade_date": day, "provider": provider.name, "expected": expected}
        if missing is None:
            self.log.info("tushare has %s: %d of %d listed stocks", day, published, expected)
            return {**facts, "published": published, "deferred": False}
        now = datetime.now(timezone.utc)
        if deadline <= now:
            self._fail(day, deadline, missing)
        self.log.info("%s; deferring until %s", missing, deadline.isoformat())
        from ta_scheduler.providers.tushare_pro import resolve_settings

        token, url = resolve_settings()
        self.defer(
            trigger=VendorReadyTrigger(trade_date=day, expected=expected, symbols=symbols, min_share=share,
                                       token=token, url=url, deadline=deadline.isoformat(),
                                       poll_seconds=poll_seconds()),
            method_name="execute_complete",
            timeout=deadline - now + DEFERRAL_MARGIN,
        )

    def execute_complete(self, context: Mapping[str, Any], event: Mapping[str, Any] | None = None) -> dict[str, Any]:
        event = event or {}
        day = self.plan["dates"][-1]
        if event.get("status") != "ready":
            self._fail(day, deadline_for(day, self.deadline), event.get("detail", f"unexpected trigger event {event!r}"))
        return {"trade_date": day, "provider": "tushare", "expected": event.get("expected"),
                "published": event.get("published"), "deferred": True, "checks": event.get("checks")}

    @staticmethod
    def _fail(day: str, deadline: datetime, missing: str) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"daily_sync {day}: tushare has not published the day for the whole market by the deadline "
            f"{deadline.isoformat()} — {missing}. Nothing was synced for {day}; once tushare has the day, "
            f'clear this task or trigger daily_sync with {{"date": "{day}"}}.'
        )
