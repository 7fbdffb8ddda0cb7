"""What the research reads about one stock, from the store only, as of the analysis date.

Inputs (see docs/data-model.md): up to 60 daily bars (``stock_daily_quotes``), the latest
``technical_indicators`` row, the latest ``stock_financial_data`` report and up to 10 recent
``stock_news`` items, plus name and industry from ``stock_basic_info``. Indicator and financial
fields are read generically (every numeric field), so new columns reach the prompt without code
changes. Nothing later than the analysis date is read, so a re-run for a past date sees the same
inputs.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ta_scheduler.constants import Collections as C
from ta_scheduler.llm.params import split_symbol
from ta_scheduler.market import TZ

if TYPE_CHECKING:
    from pymongo.database import Database

BARS_WINDOW = 60  # trading days of bars in the prompt's statistics
BARS_SHOWN = 20  # most recent bars listed one per line
NEWS_LIMIT = 10
NEWS_CHARS = 160  # characters of each news item's text in the prompt
_META_FIELDS = {"_id", "symbol", "code", "ts_code", "trade_date", "updated_at", "created_at", "data_source", "source"}
#: Financial fields shown first when present (tushare fina_indicator/income/balancesheet names).
FINANCIAL_FIELDS_FIRST = (
    "roe", "roe_dt", "roa", "eps", "bps", "grossprofit_margin", "netprofit_margin", "debt_to_assets",
    "netprofit_yoy", "or_yoy", "total_revenue", "revenue", "n_income_attr_p", "n_income", "total_assets",
    "total_liab", "n_cashflow_act",
)  # fmt: skip
MAX_NUMERIC_FIELDS = 24


class NoMarketDataError(LookupError):
    """The store has no daily bars for the symbol up to the analysis date (run daily_sync first)."""


@dataclass
class ResearchContext:
    """One stock's inputs. Prices in yuan (unadjusted as stored), volume in shares, pct in percent."""

    code: str
    ts_code: str
    analysis_date: str  # YYYY-MM-DD
    name: str
    industry: str | None
    bars: list[dict[str, Any]]  # oldest first, at most BARS_WINDOW
    indicators: dict[str, float] = field(default_factory=dict)
    indicators_date: str | None = None
    financials: dict[str, float] = field(default_factory=dict)
    financials_period: str | None = None
    news: list[dict[str, Any]] = field(default_factory=list)  # newest first: title, content, published_at
    data_source: str = "unknown"

    @property
    def last(self) -> dict[str, Any]:
        return self.bars[-1]

    @property
    def last_close(self) -> float:
        return float(self.last["close"])

    @property
    def data_as_of(self) -> str:
        return str(self.last["trade_date"])

    def adjusted_closes(self) -> list[float]:
        """Closes forward-adjusted to the latest bar (``close * adj_factor / latest adj_factor``)."""
        last_factor = self.last.get("adj_factor") or 1.0
        return [float(b["close"]) * float(b.get("adj_factor") or last_factor) / float(last_factor) for b in self.bars]

    def stats(self) -> dict[str, float | None]:
        """Window statistics: returns in percent, annualised volatility in percent, volume ratio."""
        closes = self.adjusted_closes()
        rets = [closes[i] / closes[i - 1] - 1 for i in range(1, len(closes)) if closes[i - 1]]
        vols = [float(b.get("volume") or 0) for b in self.bars]

        def ret(n: int) -> float | None:
            return (closes[-1] / closes[-n - 1] - 1) * 100 if len(closes) > n and closes[-n - 1] else None

        return {
            "ret_5d_pct": ret(5),
            "ret_20d_pct": ret(20),
            "ret_window_pct": (closes[-1] / closes[0] - 1) * 100 if closes[0] else None,
            "high_window": max(closes),
            "low_window": min(closes),
            "volatility_ann_pct": statistics.pstdev(rets) * math.sqrt(252) * 100 if len(rets) >= 2 else None,
            "volume_ratio_5_window": (
                statistics.fmean(vols[-5:]) / statistics.fmean(vols) if vols and statistics.fmean(vols) else None
            ),
        }


def volatility_risk_level(ctx: ResearchContext) -> str:
    """TradingAgents-CN's risk level from the window's annualised volatility: 低 < 20 %, 中低 < 30 %,
    中等 < 45 %, 中高 < 60 %, else 高; 中等 if unknown."""
    vol = ctx.stats()["volatility_ann_pct"]
    if vol is None:
        return "中等"
    return next(label for bound, label in ((20, "低"), (30, "中低"), (45, "中等"), (60, "中高"), (math.inf, "高")) if vol < bound)


def _numeric_fields(doc: dict[str, Any] | None, first: tuple[str, ...] = ()) -> dict[str, float]:
    if not doc:
        return {}
    out: dict[str, float] = {}
    names = [f for f in first if f in doc] + sorted(k for k in doc if k not in first)
    for k in names:
        v = doc[k]
        if k in _META_FIELDS or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            continue
        out[k] = float(v)
        if len(out) >= MAX_NUMERIC_FIELDS:
            break
    return out


def _published_by(value: Any, cutoff: datetime) -> bool:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
        return aware < cutoff
    if isinstance(value, str):
        return value[:10] < cutoff.astimezone(TZ).date().isoformat()
    return False



def _newest(coll, symbols: list[str], query: dict[str, Any], field: str, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` documents with the highest ``field`` among those of ``query`` for any of
    ``symbols`` (the 6-digit code and the ts_code): one query per form, each served by the
    symbol index and limited on its own, merged."""
    docs = [d for s in dict.fromkeys(symbols)
            for d in coll.find({**query, "symbol": s}, {"_id": 0}).sort(field, -1).limit(limit)]
    return sorted(docs, key=lambda d: str(d.get(field, "")), reverse=True)[:limit]

def load_research_context(db: Database, symbol: str, analysis_date: str) -> ResearchContext:
    """Read one stock's inputs as of ``analysis_date`` (``YYYY-MM-DD``, exchange-local).

    Raises :class:`NoMarketDataError` when there are no bars: research without prices would be
    made up, and the batch should show that symbol as failed.
    """
    code, ts_code = split_symbol(symbol)
    day = date.fromisoformat(analysis_date)
    ids = [code, ts_code]

    raw = _newest(db[C.STOCK_DAILY_QUOTES], ids, {"trade_date": {"$lte": analysis_date}}, "trade_date", BARS_WINDOW * 2)
    by_date: dict[str, dict[str, Any]] = {}
    for bar in raw:  # one bar per day: prefer a real source over the demo one
        if bar.get("period", "daily") != "daily" or bar.get("close") is None:
            continue
        seen = by_date.get(bar["trade_date"])
        if seen is None or (seen.get("data_source") == "demo" and bar.get("data_source") != "demo"):
            by_date[bar["trade_date"]] = bar
    bars = [by_date[d] for d in sorted(by_date)][-BARS_WINDOW:]
    if not bars:
        raise NoMarketDataError(
            f"{code}: no daily bars up to {analysis_date} in {C.STOCK_DAILY_QUOTES}; run daily_sync for it first"
        )

    basic = db[C.STOCK_BASIC_INFO].find_one({"code": code}, {"_id": 0, "name": 1, "industry": 1}) or {}
    ind = next(iter(_newest(db[C.TECHNICAL_INDICATORS], ids, {"trade_date": {"$lte": analysis_date}}, "trade_date", 1)), None)
    fin_docs = _newest(db[C.STOCK_FINANCIAL_DATA], ids, {}, "report_period", 8)
    day_key = analysis_date.replace("-", "")  # report_period may be YYYYMMDD or YYYY-MM-DD
    fin = next((f for f in fin_docs if str(f.get("report_period", ""))[:10].replace("-", "") <= day_key), None)

    cutoff = datetime.combine(day + timedelta(days=1), time(0), TZ)
    news_docs = (
        db[C.STOCK_NEWS].find({"symbols": {"$in": ids}}, {"_id": 0}).sort("published_at", -1).limit(NEWS_LIMIT * 3)
    )
    news = [n for n in news_docs if _published_by(n.get("published_at"), cutoff)][:NEWS_LIMIT]

    return ResearchContext(
        code=code,
        ts_code=ts_code,
        analysis_date=analysis_date,
        name=str(basic.get("name") or bars[-1].get("name") or code),
        industry=basic.get("industry"),
        bars=bars,
        indicators=_numeric_fields(ind),
        indicators_date=ind.get("trade_date") if ind else None,
        financials=_numeric_fields(fin, FINANCIAL_FIELDS_FIRST),
        financials_period=str(fin.get("report_period")) if fin else None,
        news=news,
        data_source=str(bars[-1].get("data_source") or "unknown"),
    )


def _fmt(v: float | None, digits: int = 2) -> str:
    if v is None:
        return "—"
    if abs(v) >= 1e8:
        return f"{v / 1e8:.2f}亿"
    if abs(v) >= 1e4:
        return f"{v / 1e4:.2f}万"
    return f"{v:.{digits}f}"


def render_data_block(ctx: ResearchContext) -> str:
    """The compact Chinese data section every prompt shares (about 2–3 k characters)."""
    s = ctx.stats()
    last = ctx.last
    lines = [
        f"股票：{ctx.name}（{ctx.ts_code}），行业：{ctx.industry or '未知'}，分析日期：{ctx.analysis_date}，"
        f"数据截至：{ctx.data_as_of}（来源 {ctx.data_source}）",
        f"最新收盘价：{ctx.last_close:.2f} 元，涨跌幅 {_fmt(last.get('pct_chg'))}%，"
        f"成交量 {_fmt(last.get('volume'))} 股，成交额 {_fmt(last.get('amount'))} 元",
        f"估值：PE {_fmt(last.get('pe'))}，PE(TTM) {_fmt(last.get('pe_ttm'))}，PB {_fmt(last.get('pb'))}，"
        f"总市值 {_fmt(last.get('total_mv'))} 元，换手率 {_fmt(last.get('turnover_rate'))}%",
        f"近{len(ctx.bars)}日（前复权）：区间涨跌 {_fmt(s['ret_window_pct'])}%，近20日 {_fmt(s['ret_20d_pct'])}%，"
        f"近5日 {_fmt(s['ret_5d_pct'])}%，最高 {_fmt(s['high_window'])}，最低 {_fmt(s['low_window'])}，"
        f"年化波动率 {_fmt(s['volatility_ann_pct'])}%，5日/区间均量比 {_fmt(s['volume_ratio_5_window'])}",
        f"最近{min(BARS_SHOWN, len(ctx.bars))}个交易日（日期,收盘,涨跌幅%,成交量万股）：",
    ]
    for b in ctx.bars[-BARS_SHOWN:]:
        volume_10k = float(b.get("volume") or 0) / 1e4
        lines.append(f"{b['trade_date']},{float(b['close']):.2f},{_fmt(b.get('pct_chg'))},{volume_10k:.1f}")
    if ctx.indicators:
        ind = "，".join(f"{k}={_fmt(v, 3)}" for k, v in ctx.indicators.items())
        lines.append(f"技术指标（{ctx.indicators_date}）：{ind}")
    else:
        lines.append("技术指标：暂无")
    if ctx.financials:
        fin = "，".join(f"{k}={_fmt(v)}" for k, v in ctx.financials.items())
        lines.append(f"财务数据（报告期 {ctx.financials_period}）：{fin}")
    else:
        lines.append("财务数据：暂无")
    if ctx.news:
        lines.append("近期新闻：")
        for n in ctx.news:
            when = n.get("published_at")
            when_s = when.astimezone(TZ).strftime("%Y-%m-%d") if isinstance(when, datetime) else str(when or "")[:10]
            text = (str(n.get("title") or "") + "：" + str(n.get("content") or "")).strip("：")[:NEWS_CHARS]
            lines.append(f"- {when_s} {text}")
    else:
        lines.append("近期新闻：暂无")
    return "\n".join(lines)
