"""Weekly financial statements, incremental by announcement date (``weekly_financials``).

``sync_state`` holds ``{job: "financials", key: <data_source>, last_complete_date}``: the last
day whose announcements are all stored. A run fetches ``last_complete_date + 1 .. as_of`` for
each statement and then moves the marker to ``as_of - 1`` (``as_of`` itself may still receive
announcements, so it is fetched again next time; upserts make that harmless).

The four statements of one report merge into one ``stock_financial_data`` document (key symbol,
report_period, report_type, data_source), written as TradingAgents-CN's tushare importer writes
it: ``report_period`` and ``ann_date`` ``YYYYMMDD``, ``report_type`` ``"quarterly"``/``"annual"``
(from the period; only tushare's consolidated statements, type 1, are kept, so its unique key
symbol+report_period+data_source holds too), headline fields under its names (``HEADLINE_FIELDS``)
plus ``revenue_ttm``/``net_profit_ttm`` computed as it does (the annual figure, or last annual +
this period's year-to-date - last year's same period; ``None`` while a needed report is missing),
and each statement's full field set under its own name (``income``, ``balancesheet``,
``cashflow``, ``fina_indicator``). Amounts in yuan, ratios in percent, per-share values in yuan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C
from ta_scheduler.providers.base import FINANCIAL_KEY_COLUMNS, STATEMENTS
from ta_scheduler.storage.writes import columns_from_frame, write_docs
from ta_scheduler.sync.bars import known_codes
from ta_scheduler.sync.tacn_format import report_type, yyyymmdd
from ta_scheduler.sync.valuation import refresh_latest_roe

if TYPE_CHECKING:
    from pymongo.database import Database

    from ta_scheduler.providers.base import MarketDataProvider

log = logging.getLogger(__name__)

JOB = "financials"
DEFAULT_FIRST_LOOKBACK_DAYS = 120

#: statement -> {top-level field (TradingAgents-CN's name): statement field (tushare's name)}
HEADLINE_FIELDS: dict[str, dict[str, str]] = {
    "income": {"revenue": "revenue", "total_revenue": "total_revenue", "oper_profit": "operate_profit",
               "total_profit": "total_profit", "net_income": "n_income", "net_profit": "n_income_attr_p",
               "basic_eps": "basic_eps"},
    "balancesheet": {"total_assets": "total_assets", "total_liab": "total_liab",
                     "total_equity": "total_hldr_eqy_exc_min_int", "money_cap": "money_cap"},
    "cashflow": {"n_cashflow_act": "n_cashflow_act", "n_cashflow_inv_act": "n_cashflow_inv_act",
                 "c_cash_equ_end_period": "c_cash_equ_end_period", "free_cashflow": "free_cashflow"},
    "fina_indicator": {"eps": "eps", "bps": "bps", "roe": "roe", "roe_waa": "roe_waa", "roa": "roa",
                       "gross_margin": "grossprofit_margin", "netprofit_margin": "netprofit_margin",
                       "debt_to_assets": "debt_to_assets", "current_ratio": "current_ratio",
                       "quick_ratio": "quick_ratio", "cash_ratio": "cash_ratio", "revenue_yoy": "or_yoy",
                       "net_profit_yoy": "netprofit_yoy"},
}
#: TTM field -> income statement field it is computed from.
TTM_FIELDS = {"revenue_ttm": "revenue", "net_profit_ttm": "n_income_attr_p"}


def financial_docs(frame, statement: str, data_source: str, extra: dict | None = None):
    """Documents (one per report) carrying the key, the headline fields and the statement
    sub-document, plus ``extra[(symbol, period)]`` fields (the income statement's TTM figures)."""
    detail = [c for c in frame.columns if c not in FINANCIAL_KEY_COLUMNS]
    cols = columns_from_frame(frame)
    for i in range(len(frame)):
        sub = {c: cols[c][i] for c in detail}
        period = yyyymmdd(cols["report_period"][i])
        doc = {"symbol": cols["code"][i], "code": cols["code"][i], "ts_code": cols["ts_code"][i],
               "full_symbol": cols["ts_code"][i], "report_period": period, "report_type": report_type(period),
               "ann_date": yyyymmdd(cols["ann_date"][i]), "data_source": data_source, statement: sub}
        for top, field in HEADLINE_FIELDS.get(statement, {}).items():
            if field in sub:
                doc[top] = sub[field]
        if extra:
            doc.update(extra.get((doc["symbol"], period), {}))
        yield doc


def ttm_value(value: float | None, same_last_year: float | None, last_annual: float | None, period: str) -> float | None:
    """Trailing twelve months from year-to-date figures (pure): the value itself for an annual
    report, else last annual + value - same period last year; ``None`` if one is missing."""
    if value is None:
        return None
    if report_type(period) == "annual":
        return value
    if same_last_year is None or last_annual is None:
        return None
    return round(last_annual + value - same_last_year, 2)


def ttm_by_report(db: Database, data_source: str, income) -> dict[tuple[str, str], dict[str, float | None]]:
    """``revenue_ttm``/``net_profit_ttm`` per (symbol, YYYYMMDD period) of an income frame, from its own
    rows and the income statements already stored for the year before."""
    rows = {(c, yyyymmdd(p)): {f: v for f, v in zip(TTM_FIELDS.values(), vals, strict=True)}
            for c, p, *vals in zip(income["code"].tolist(), income["report_period"].tolist(),
                                   *(income[f].tolist() if f in income else [None] * len(income)
                                     for f in TTM_FIELDS.values()), strict=True)}
    if not rows:
        return {}
    needed = {(s, str(int(p[:4]) - 1) + p[4:]) for s, p in rows} | {(s, str(int(p[:4]) - 1) + "1231") for s, p in rows}
    missing = needed - set(rows)
    known = dict(rows)
    if missing:
        for d in db[C.STOCK_FINANCIAL_DATA].find(
                {"symbol": {"$in": sorted({s for s, _ in missing})}, "report_period": {"$in": sorted({p for _, p in missing})},
                 "data_source": data_source}, {"_id": 0, "symbol": 1, "report_period": 1, "income": 1}):
            if (d["symbol"], d["report_period"]) in missing and d.get("income"):
                known[(d["symbol"], d["report_period"])] = d["income"]
    out = {}
    for (sym, period), values in rows.items():
        last_year = str(int(period[:4]) - 1)
        same, annual = known.get((sym, last_year + period[4:]), {}), known.get((sym, last_year + "1231"), {})
        out[(sym, period)] = {top: ttm_value(_num(values.get(f)), _num(same.get(f)), _num(annual.get(f)), period)
                              for top, f in TTM_FIELDS.items()}
    return out


def _num(v: Any) -> float | None:
    return None if v is None or v != v else float(v)


def sync_financials(
    provider: MarketDataProvider,
    db: Database,
    as_of: str,
    *,
    statements: Sequence[str] = STATEMENTS,
    ts_codes: Sequence[str] | None = None,
    first_lookback_days: int = DEFAULT_FIRST_LOOKBACK_DAYS,
    today: date | None = None,
) -> dict[str, Any]:
    """Fetch statements announced since the last run (or ``first_lookback_days`` on the first).

    Never past ``today`` (exchange date; default the clock's): an ``as_of`` in the future
    fetches up to today, and the marker never passes ``today - 1`` (a marker already past it,
    left by an older version, is pulled back).
    """
    state_coll = db[C.SYNC_STATE]
    state = state_coll.find_one({"job": JOB, "key": provider.name}) or {}
    today = today or _exchange_today()
    end = min(date.fromisoformat(as_of), today)
    if end < date.fromisoformat(as_of):
        log.warning("%s financials: as_of %s is in the future; fetching announcements up to today (%s)",
                    provider.name, as_of, today)
    if state.get("last_complete_date"):
        marker = date.fromisoformat(state["last_complete_date"])
        if marker >= today:
            log.warning("%s financials: marker %s is not before today (%s); pulled back to %s",
                        provider.name, marker, today, today - timedelta(days=1))
            marker = today - timedelta(days=1)
        start = marker + timedelta(days=1)
    else:
        start = end - timedelta(days=first_lookback_days)
    counts: dict[str, Any] = {"start": start.isoformat(), "end": end.isoformat(), "data_source": provider.name}
    if start > end:
        log.info("%s financials: nothing to do (last complete day %s, as_of %s)", provider.name, state.get("last_complete_date"), as_of)
        return {**counts, "reports": 0}
    total = 0
    periods: set[str] = set()
    # the statements of one report are merged here and written once: one insert per new report
    # instead of an insert and three updates (updates cost tens of milliseconds each on FerretDB)
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    for statement in statements:
        frame = provider.financial_statements(statement, start.isoformat(), end.isoformat(), ts_codes)
        ttm = ttm_by_report(db, provider.name, frame) if statement == "income" else None
        for doc in financial_docs(frame, statement, provider.name, ttm):
            reports.setdefault((doc["symbol"], doc["report_period"]), {}).update(doc)
        counts[statement] = {"reports": len(frame)}
        total += len(frame)
        if len(frame):
            periods.update(frame["report_period"].tolist())
        log.info("%s %s announced %s..%s: %d reports", provider.name, statement, start, end, len(frame))
    res = write_docs(db[C.STOCK_FINANCIAL_DATA], list(reports.values()), partition=("report_period", "data_source"),
                     writer="statements")
    counts["written"] = res.as_dict()
    log.info("%s financials: %d reports written (%s)", provider.name, len(reports), res.as_dict())
    counts["roe"] = refresh_latest_roe(db, provider.name, {symbol for symbol, _ in reports}, known_codes(db, provider.name))
    if ts_codes is None:  # a partial (per-stock) run does not move the whole-market marker
        write_docs(state_coll, [{"job": JOB, "key": provider.name, "last_complete_date": (end - timedelta(days=1)).isoformat()}])
        from ta_scheduler.sync.completeness import record_financial_periods

        record_financial_periods(db, provider.name, sorted(periods), statements)
    return {**counts, "reports": total, "report_periods": sorted(periods)}


def _exchange_today() -> date:
    from datetime import datetime

    from ta_scheduler.market import TZ

    return datetime.now(TZ).date()
