"""Valuation fields of ``stock_basic_info``, refreshed by ``daily_sync`` from the day's ``daily_basic``.

TradingAgents-CN reads a stock's valuation from ``stock_basic_info`` (its quote page, screening and
agents' PE/PB), in its own units: ``total_mv``/``circ_mv`` in 亿元, ``total_share``/``float_share``
in 万股, ``pe``, ``pe_ttm``, ``pb``, ``pb_mrq``, ``ps``, ``ps_ttm``, ``turnover_rate`` (%),
``volume_ratio``. A missing ``pe_ttm`` (tushare leaves it empty for a loss-making stock) is stored
as ``None``: it labels the stock loss-making, as it should. ``valuation_date`` (``YYYYMMDD``) says
which trading day the figures are from; an older day (a backfill) never overwrites a newer one.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import pandas as pd

from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.writes import (
    WriteResult,
    columns_from_frame,
    docs_from_columns,
    drop_journal,
    restore_journal,
    same,
    save_journal,
    write_docs,
)
from ta_scheduler.sync.tacn_format import SHARES_PER_WAN, YUAN_PER_YI, yyyymmdd

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

JOURNAL_JOB = "journal:valuation"

VALUATION_FIELDS = ("total_mv", "circ_mv", "total_share", "float_share", "pe", "pe_ttm", "pb", "pb_mrq", "ps", "ps_ttm",
                    "turnover_rate", "volume_ratio", "valuation_date")


def valuation_frame(bars: pd.DataFrame, trade_date: str) -> pd.DataFrame:
    """One day's bars (our units: yuan, shares) -> the valuation fields in TradingAgents-CN's units (pure)."""
    out = pd.DataFrame({"code": bars["code"].to_numpy()})
    for c in ("total_mv", "circ_mv"):
        out[c] = (bars[c].to_numpy(dtype="float64") / YUAN_PER_YI).round(6)
    for c in ("total_share", "float_share"):
        out[c] = (bars[c].to_numpy(dtype="float64") / SHARES_PER_WAN).round(4)
    for c in ("pe", "pe_ttm", "pb", "ps", "ps_ttm", "turnover_rate", "volume_ratio"):
        out[c] = bars[c].to_numpy(dtype="float64")
    out["pb_mrq"] = out["pb"]  # tushare's pb is on the latest reported book value (MRQ)
    out["valuation_date"] = yyyymmdd(trade_date)
    return out


def sync_valuation(db: Database, data_source: str, bars: pd.DataFrame, trade_date: str,
                   known: Collection[str]) -> dict[str, Any]:
    """Write the valuation fields into the ``stock_basic_info`` documents of ``bars``' stocks
    (only those listed there: ``known``), unless they already hold a newer day's.

    Every stock's valuation changes every day, so the stored documents are read once and
    rewritten whole (``mode="replace"``: one delete and one insert for the whole market) rather
    than updated one by one, which costs tens of milliseconds a document on FerretDB. The
    rewritten documents are journaled first (one document in ``sync_state``): a process killed
    between the delete and the insert leaves the journal, and the next call restores what it
    lost before anything else.
    """
    if bars.empty or not known:
        return {"valuation": 0}
    coll = db[C.STOCK_BASIC_INFO]
    restored = restore_valuation_journal(db, data_source)
    day = yyyymmdd(trade_date)
    stored = {d["code"]: d for d in coll.find({"source": data_source})}
    listed = {c for c in known if c in stored and (stored[c].get("valuation_date") or "") <= day}
    frame = valuation_frame(bars, trade_date)
    frame = frame[frame["code"].isin(listed)]
    docs = []
    for doc in docs_from_columns(columns_from_frame(frame, ("code", *VALUATION_FIELDS))):
        base = {k: v for k, v in stored[doc["code"]].items() if k != "updated_at"}
        docs.append({**base, **doc})
    # Only documents whose valuation moved are rewritten: a field another writer set since the
    # last run (the roe of weekly_financials) is no reason to rewrite a document, nor to stamp it.
    moved = [d for d in docs if any(k not in stored[d["code"]] or not same(stored[d["code"]][k], d[k]) for k in VALUATION_FIELDS)]
    res = WriteResult(unchanged=len(docs) - len(moved))
    if moved:
        save_journal(db, JOURNAL_JOB, data_source, [stored[d["code"]] for d in moved])
        res.add(write_docs(coll, [{k: v for k, v in d.items() if k != "_id"} for d in moved], mode="replace",
                           partition=("source",), writer="valuation"))
        drop_journal(db, JOURNAL_JOB, data_source)
    log.info("%s %s: valuation of %d stocks in %s (%s%s)", data_source, trade_date, len(frame), C.STOCK_BASIC_INFO,
             res.as_dict(), f", {restored} restored from the journal" if restored else "")
    return {"valuation": len(frame), **res.as_dict()}


def restore_valuation_journal(db: Database, data_source: str) -> int:
    """Put back the ``stock_basic_info`` documents an interrupted :func:`sync_valuation`
    deleted; returns how many. Called before anything reads the stock list."""
    return restore_journal(db, JOURNAL_JOB, data_source, db[C.STOCK_BASIC_INFO])


def refresh_latest_roe(db: Database, data_source: str, symbols: Collection[str], known: Collection[str]) -> dict[str, int]:
    """``stock_basic_info.roe`` (percent) and ``roe_period`` (``YYYYMMDD``) of ``symbols``: the
    ``roe`` of each stock's newest stored report that has one, as TradingAgents-CN's basics sync
    takes it from ``fina_indicator``. Only stocks in ``stock_basic_info`` (``known``) are touched.
    ``weekly_financials`` calls it for the stocks it stored reports of, ``daily_sync`` for the
    stocks it adds to the list (a new deployment's first list, a new listing)."""
    wanted = sorted(set(symbols) & set(known))
    if not wanted:
        return {"stocks": 0}
    newest: dict[str, dict[str, Any]] = {}
    query = {"data_source": data_source, "symbol": {"$in": wanted}, "roe": {"$ne": None}}
    for doc in db[C.STOCK_FINANCIAL_DATA].find(query, {"_id": 0, "symbol": 1, "report_period": 1, "roe": 1}):
        if doc["report_period"] > newest.get(doc["symbol"], {}).get("report_period", ""):
            newest[doc["symbol"]] = doc
    docs = [{"code": code, "source": data_source, "roe": doc["roe"], "roe_period": doc["report_period"]}
            for code, doc in sorted(newest.items())]
    res = write_docs(db[C.STOCK_BASIC_INFO], docs, writer="roe")
    log.info("%s roe of %d stocks in %s (%s)", data_source, len(docs), C.STOCK_BASIC_INFO, res.as_dict())
    return {"stocks": len(docs), **res.as_dict()}
