"""Pure conversions from tushare's wire units to ours (docs/data-model.md). No I/O.

tushare raw units: ``daily``/``index_daily`` vol in lots (手, 100 shares) and amount in
thousands of yuan (千元); ``daily_basic`` share counts in 10k shares (万股) and market values in
10k yuan (万元); dates ``YYYYMMDD``. ``rt_k`` already reports shares and yuan.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from ta_scheduler.market import TZ
from ta_scheduler.providers.base import (
    ADJ_FACTOR_COLUMNS,
    DAILY_BASIC_COLUMNS,
    DAILY_COLUMNS,
    FINANCIAL_KEY_COLUMNS,
    INDEX_DAILY_COLUMNS,
    NEWS_COLUMNS,
    REALTIME_COLUMNS,
    STK_LIMIT_COLUMNS,
    STOCK_BASIC_COLUMNS,
    TRADE_CAL_COLUMNS,
)

LOT = 100  # shares per lot (手)
THOUSAND = 1_000  # 千元 -> yuan
TEN_THOUSAND = 10_000  # 万股 / 万元 -> shares / yuan


def iso_date(values: pd.Series) -> pd.Series:
    """``YYYYMMDD`` (or already ``YYYY-MM-DD``) strings to ``YYYY-MM-DD``; missing stays None."""
    s = values.astype("string")
    compact = s.str.len() == 8
    out = s.where(~compact, s.str[0:4] + "-" + s.str[4:6] + "-" + s.str[6:8])
    return out.astype(object).where(out.notna(), None)


def compact_date(value: str) -> str:
    """``YYYY-MM-DD`` -> ``YYYYMMDD`` (the form tushare parameters take)."""
    return value.replace("-", "")[:8]


def code_of(ts_code: pd.Series) -> pd.Series:
    """``600000.SH`` -> ``600000``."""
    return ts_code.astype(str).str[:6]


def _numeric(frame: pd.DataFrame, cols: tuple[str, ...] | list[str]) -> None:
    for c in cols:
        if c in frame.columns:
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")


def _ensure(frame: pd.DataFrame, cols: tuple[str, ...]) -> pd.DataFrame:
    for c in cols:
        if c not in frame.columns:
            frame[c] = np.nan
    return frame


def normalise_stock_basic(raw: pd.DataFrame) -> pd.DataFrame:
    """tushare ``stock_basic`` -> STOCK_BASIC_COLUMNS."""
    f = raw.copy()
    f["code"] = code_of(f["ts_code"])
    f["list_date"] = iso_date(f["list_date"])
    if "exchange" not in f.columns or f["exchange"].isna().all():
        suffix = f["ts_code"].str[-2:]
        f["exchange"] = suffix.map({"SH": "SSE", "SZ": "SZSE", "BJ": "BSE"})
    f = _ensure(f, STOCK_BASIC_COLUMNS)
    return f[list(STOCK_BASIC_COLUMNS)].reset_index(drop=True)


def normalise_trade_cal(raw: pd.DataFrame) -> pd.DataFrame:
    """tushare ``trade_cal`` -> TRADE_CAL_COLUMNS with ``is_open`` as int 0/1."""
    f = _ensure(raw.copy(), TRADE_CAL_COLUMNS)  # an empty reply may come without columns
    f["cal_date"] = iso_date(f["cal_date"])
    f["pretrade_date"] = iso_date(f["pretrade_date"])
    f["is_open"] = pd.to_numeric(f["is_open"], errors="coerce").fillna(0).astype(int)
    return f[list(TRADE_CAL_COLUMNS)].sort_values("cal_date").reset_index(drop=True)


def normalise_daily(raw: pd.DataFrame, columns: tuple[str, ...] = DAILY_COLUMNS) -> pd.DataFrame:
    """tushare ``daily`` / ``index_daily`` -> volume in shares, amount in yuan, ISO dates."""
    f = raw.copy()
    _numeric(f, ["open", "high", "low", "close", "pre_close", "change", "pct_chg", "vol", "amount"])
    f["volume"] = (f["vol"] * LOT).round(0)
    f["amount"] = (f["amount"] * THOUSAND).round(2)
    f["trade_date"] = iso_date(f["trade_date"])
    if "code" in columns:
        f["code"] = code_of(f["ts_code"])
    return f[list(columns)].reset_index(drop=True)


def normalise_index_daily(raw: pd.DataFrame) -> pd.DataFrame:
    return normalise_daily(raw, INDEX_DAILY_COLUMNS)


def normalise_adj_factor(raw: pd.DataFrame) -> pd.DataFrame:
    f = raw.copy()
    _numeric(f, ["adj_factor"])
    f["trade_date"] = iso_date(f["trade_date"])
    return f[list(ADJ_FACTOR_COLUMNS)].reset_index(drop=True)


def normalise_daily_basic(raw: pd.DataFrame) -> pd.DataFrame:
    """Share counts 万股 -> shares, market values 万元 -> yuan."""
    f = _ensure(raw.copy(), DAILY_BASIC_COLUMNS)
    _numeric(f, DAILY_BASIC_COLUMNS[2:])
    for c in ("total_share", "float_share"):
        f[c] = (f[c] * TEN_THOUSAND).round(0)
    for c in ("total_mv", "circ_mv"):
        f[c] = (f[c] * TEN_THOUSAND).round(2)
    f["trade_date"] = iso_date(f["trade_date"])
    return f[list(DAILY_BASIC_COLUMNS)].reset_index(drop=True)


def normalise_stk_limit(raw: pd.DataFrame) -> pd.DataFrame:
    f = raw.copy()
    _numeric(f, ["up_limit", "down_limit"])
    f["trade_date"] = iso_date(f["trade_date"])
    return f[list(STK_LIMIT_COLUMNS)].reset_index(drop=True)


def normalise_financial(raw: pd.DataFrame, statement: str) -> pd.DataFrame:
    """Any statement: ISO dates, ``report_period`` (= ``end_date``), ``report_type`` as a string.

    ``fina_indicator`` has no report_type: it is the consolidated view, type ``"1"``. Only the
    consolidated statements (type ``"1"``) are kept, one row per stock and period: the revised
    row (``update_flag`` ``"1"``) where tushare sends both. Amounts are already in yuan on the wire.
    """
    f = raw.copy()
    if "report_type" in f.columns and statement != "fina_indicator":
        f = f[f["report_type"].astype(str) == "1"]
    if "update_flag" in f.columns:
        f = f.assign(_flag=f["update_flag"].astype(str)).sort_values("_flag", kind="stable").drop(columns="_flag")
    f = f.drop_duplicates(["ts_code", "end_date"], keep="last")
    f["code"] = code_of(f["ts_code"])
    for c in ("ann_date", "f_ann_date", "end_date"):
        if c in f.columns:
            f[c] = iso_date(f[c])
    f["report_period"] = f.pop("end_date")
    if "report_type" not in f.columns or statement == "fina_indicator":
        f["report_type"] = "1"
    f["report_type"] = f["report_type"].astype(str)
    rest = [c for c in f.columns if c not in FINANCIAL_KEY_COLUMNS]
    numeric = [c for c in rest if c not in ("f_ann_date", "comp_type", "end_type", "update_flag")]
    _numeric(f, numeric)
    return f[list(FINANCIAL_KEY_COLUMNS) + rest].reset_index(drop=True)


def parse_local_datetime(values: pd.Series) -> pd.Series:
    """Exchange-local ``YYYY-MM-DD HH:MM:SS`` strings -> aware datetimes (Asia/Shanghai)."""
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return parsed.dt.tz_localize(TZ) if parsed.dt.tz is None else parsed.dt.tz_convert(TZ)


def normalise_news(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """tushare ``news`` (datetime, content, title, channels) -> NEWS_COLUMNS."""
    f = raw.copy()
    for c in ("title", "content", "channels"):
        if c not in f.columns:
            f[c] = None
    f["title"] = f["title"].fillna("").astype(str).str.strip()
    f["content"] = f["content"].fillna("").astype(str).str.strip()
    f["title"] = f["title"].where(f["title"] != "", f["content"].str[:40])
    f["publish_time"] = parse_local_datetime(f["datetime"])
    f["source"] = source
    f["url"] = None
    return f[list(NEWS_COLUMNS)].reset_index(drop=True)


def normalise_rt_k(raw: pd.DataFrame, fetched_at: datetime) -> pd.DataFrame:
    """tushare ``rt_k`` (vol shares, amount yuan) -> REALTIME_COLUMNS.

    ``trade_time`` may be ``HH:MM:SS`` or a full timestamp; when missing the fetch time is used.
    """
    f = _ensure(raw.copy(), ("bid_price1", "ask_price1", "trade_time", "name"))
    _numeric(f, ["pre_close", "high", "open", "low", "close", "vol", "amount", "bid_price1", "ask_price1"])
    local = fetched_at.astimezone(TZ)
    f["code"] = code_of(f["ts_code"])
    f["price"] = f["close"]
    f["volume"] = f["vol"].round(0)
    f["bid1"], f["ask1"] = f["bid_price1"], f["ask_price1"]
    t = f["trade_time"].astype("string")
    full = t.str.len() > 8
    stamp = (local.date().isoformat() + " " + t).where(~full, t)
    quote_time = parse_local_datetime(stamp.fillna(local.strftime("%Y-%m-%d %H:%M:%S")))
    f["quote_time"] = quote_time.dt.floor("ms")
    f["trade_date"] = f["quote_time"].dt.strftime("%Y-%m-%d")
    return f[list(REALTIME_COLUMNS)].reset_index(drop=True)
