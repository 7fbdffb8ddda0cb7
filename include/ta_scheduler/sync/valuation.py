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
from ta_scheduler.storage.mongo import docs_from_columns
from ta_scheduler.sync.formats import SHARES_PER_WAN, YUAN_PER_YI, yyyymmdd
from ta_scheduler.sync.store import columns_from_frame, write_docs

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

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
    """``$set`` the valuation fields on the ``stock_basic_info`` documents of ``bars``' stocks
    (only those listed there: ``known``), unless they already hold a newer day's."""
    if bars.empty or not known:
        return {"valuation": 0}
    day = yyyymmdd(trade_date)
    newer = {d["code"] for d in db[C.STOCK_BASIC_INFO].find({"source": data_source, "valuation_date": {"$gt": day}},
                                                            {"_id": 0, "code": 1})}
    frame = valuation_frame(bars, trade_date)
    frame = frame[frame["code"].isin(set(known) - newer)]
    res = write_docs(db[C.STOCK_BASIC_INFO],
                     docs_from_columns(columns_from_frame(frame, ("code", *VALUATION_FIELDS)), {"source": data_source}),
                     partition=("source",), writer="valuation")
    log.info("%s %s: valuation of %d stocks in %s (%s)", data_source, trade_date, len(frame), C.STOCK_BASIC_INFO,
             res.as_dict())
    return {"valuation": len(frame), **res.as_dict()}
