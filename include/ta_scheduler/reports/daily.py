"""The daily market report (每日市场报告) of one trading day, built from the store.

Reads the day's ``market_sentiment`` and ``technical_indicators`` (required: the report waits
for the analysis), ``hot_stocks``, ``stock_daily_quotes``, ``index_daily_quotes``,
``stock_basic_info`` and ``stock_news``; every number shown comes from those collections.
Loading (:func:`load_daily_inputs`) is separate from the pure figure computations
(:func:`daily_figures`, :func:`change_buckets`, :func:`sector_table`, :func:`top_movers`),
which work on small pandas frames. Definitions are in ``docs/reports.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from ta_scheduler.analytics.bar_columns import window_panel
from ta_scheduler.constants import Collections as C
from ta_scheduler.market import MAJOR_INDICES, SOURCE_RANK, TZ, board_limit_pct, preferred_source
from ta_scheduler.reports import charts
from ta_scheduler.reports.errors import AnalysisMissingError
from ta_scheduler.reports.readiness import require_analysis
from ta_scheduler.reports.render import (
    INCOMPLETE,
    Bullets,
    Chart,
    Metric,
    Metrics,
    Section,
    Table,
    Text,
    fmt_num,
    fmt_pct,
    fmt_yi,
    render_html,
    render_markdown,
    sign_class,
)
from ta_scheduler.reports.store import check_kind_and_date, save_report
from ta_scheduler.storage.mongo import dates_between, find_each

if TYPE_CHECKING:
    import pandas as pd
    from pymongo.database import Database

log = logging.getLogger(__name__)

INDEX_CHART_DAYS = 60
TURNOVER_CHART_DAYS = 60
TOP_MOVERS = 10
HOT_SHOWN = 10
NEWS_SHOWN = 10
LIMIT_NAMES_SHOWN = 30
SECTORS_CHARTED = 30  # more industries than this: chart the best and worst 15
UNCLASSIFIED = "未分类"

#: Percent-change buckets of the distribution chart: (label, lower, upper); see change_buckets.
#: Limit moves of 20 % boards fall in the outer buckets.
BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("≤-9%", -np.inf, -9), ("-9~-7", -9, -7), ("-7~-5", -7, -5), ("-5~-3", -5, -3), ("-3~-1", -3, -1),
    ("-1~0", -1, 0), ("0", 0, 0), ("0~1", 0, 1), ("1~3", 1, 3), ("3~5", 3, 5), ("5~7", 5, 7),
    ("7~9", 7, 9), ("≥9%", 9, np.inf),
)


@dataclass
class DailyInputs:
    """Everything the daily report shows, as read from the store for ``trade_date``."""

    trade_date: str
    data_source: str
    sentiment: dict[str, Any]
    indicators: dict[str, int]  # stocks, above_ma20, with_ma20, above_ma60, with_ma60
    bars: pd.DataFrame  # symbol, name, industry, close, pre_close, pct_chg, amount, up_limit, down_limit
    indices: pd.DataFrame  # ts_code, trade_date, close, pct_chg (last INDEX_CHART_DAYS days per index)
    turnover: pd.DataFrame  # trade_date, amount (yuan, the market's daily total), stocks
    hot: list[dict[str, Any]]
    news: list[dict[str, Any]]  # title, symbols, published_at, source: the session's news window
    #: the completeness ledger over the last WINDOW_DAYS trading days: {dataset: {day: state}}
    completeness: dict[str, dict[str, str]] = field(default_factory=dict)


def load_daily_inputs(db: Database, trade_date: str) -> DailyInputs:
    """Read the store for the daily report of ``trade_date`` (one query per collection).

    :raises AnalysisMissingError: the day's market sentiment or indicators are missing, or the
        day has no bars
    """
    import pandas as pd

    sentiment = require_analysis(db, trade_date)
    source = sentiment.get("data_source") or preferred_source(db, trade_date) or "demo"

    fields = ["symbol", "close", "pre_close", "pct_chg", "amount", "up_limit", "down_limit", "turnover_rate"]
    bars = pd.DataFrame(list(db[C.STOCK_DAILY_QUOTES].find(
        {"trade_date": trade_date, "period": "daily", "data_source": source}, {"_id": 0, **{f: 1 for f in fields}})))
    if bars.empty:
        raise AnalysisMissingError(f"daily report {trade_date}: no {source} bars in {C.STOCK_DAILY_QUOTES}; run daily_sync first")
    for f in fields:
        if f not in bars:
            bars[f] = np.nan
    info = {d["code"]: d for d in db[C.STOCK_BASIC_INFO].find(
        {"code": {"$in": bars["symbol"].tolist()}}, {"_id": 0, "code": 1, "name": 1, "industry": 1})}
    bars["name"] = [info.get(s, {}).get("name") or s for s in bars["symbol"]]
    bars["industry"] = [info.get(s, {}).get("industry") or UNCLASSIFIED for s in bars["symbol"]]
    for f in fields[1:]:
        bars[f] = pd.to_numeric(bars[f], errors="coerce")

    ind = list(db[C.TECHNICAL_INDICATORS].find(
        {"trade_date": trade_date}, {"_id": 0, "close_qfq": 1, "ma20": 1, "ma60": 1}))
    indicators = {"stocks": len(ind)}
    for n in (20, 60):
        with_ma = [d for d in ind if d.get(f"ma{n}") is not None and d.get("close_qfq") is not None]
        indicators[f"with_ma{n}"] = len(with_ma)
        indicators[f"above_ma{n}"] = sum(1 for d in with_ma if d["close_qfq"] > d[f"ma{n}"])

    start = (date.fromisoformat(trade_date) - timedelta(days=int(INDEX_CHART_DAYS * 1.6) + 15)).isoformat()
    idx = pd.DataFrame(list(find_each(  # the window's dates, not the indices' whole history
        db[C.INDEX_DAILY], "trade_date", dates_between(start, trade_date), {"ts_code": {"$in": list(MAJOR_INDICES)}},
        {"_id": 0, "ts_code": 1, "trade_date": 1, "close": 1, "pct_chg": 1, "data_source": 1})))
    indices = _prefer_source(idx, ["ts_code", "trade_date"]) if not idx.empty else pd.DataFrame(
        columns=["ts_code", "trade_date", "close", "pct_chg"])

    # the market's amount on each of the last 60 days with bars: past days from their column
    # documents (analytics.bar_columns, which the sentiment job keeps), not from every bar
    window = window_panel(db, trade_date, TURNOVER_CHART_DAYS, ["amount"], source)
    turnover = pd.DataFrame({"trade_date": window.dates, "amount": np.nansum(window["amount"], axis=0)})

    hot = list(db[C.HOT_STOCKS].find({"trade_date": trade_date}, {"_id": 0}, sort=[("rank", 1)]))
    news: list[dict[str, Any]] = []
    if sentiment.get("news_window_start") and sentiment.get("news_window_end"):
        news = list(db[C.STOCK_NEWS].find(
            {"published_at": {"$gt": sentiment["news_window_start"], "$lte": sentiment["news_window_end"]}},
            {"_id": 0, "title": 1, "symbols": 1, "published_at": 1, "source": 1}))
    return DailyInputs(trade_date, source, sentiment, indicators, bars, indices, turnover, hot, news,
                       load_completeness(db, trade_date))


# --- data completeness ---------------------------------------------------------------------------

#: Datasets the report's completeness section lists, with their labels.
COMPLETENESS_SHOWN: dict[str, str] = {
    "daily_bars": "日线行情", "adj_factor": "复权因子", "daily_basic": "每日指标", "limit_prices": "涨跌停价",
    "index_bars": "指数行情", "indicators": "技术指标", "sentiment": "市场情绪",
}
COMPLETENESS_DAYS = 20
#: The longest window a figure of the report reads: 60 days before the day, plus the day.
WINDOW_DAYS = 61
#: Figures computed over a window: (summary key, label, trading days read, {dataset: its days
#: up to the report's day that the figure rests on}).
WINDOWED: tuple[tuple[str, str, int, dict[str, int]], ...] = (
    ("breadth", "涨跌家数与涨跌停", 1, {"daily_bars": 1, "limit_prices": 1}),
    ("amount_ratio_20", "量能比（今日 / 20日均值）", 21, {"daily_bars": 21}),
    ("new_extremes_20", "20日新高 / 新低", 21, {"daily_bars": 21, "adj_factor": 21}),
    ("new_extremes_60", "60日新高 / 新低", 61, {"daily_bars": 61, "adj_factor": 61}),
    ("above_ma20", "站上20日均线", 20, {"daily_bars": 20, "adj_factor": 20, "indicators": 1}),
    ("above_ma60", "站上60日均线", 60, {"daily_bars": 60, "adj_factor": 60, "indicators": 1}),
)


def load_completeness(db: Database, trade_date: str) -> dict[str, dict[str, str]]:
    """The ledger's states for the last :data:`WINDOW_DAYS` trading days up to ``trade_date`` (one query)."""
    from ta_scheduler.storage import ledger

    return ledger.grid(db, ledger.trading_days_ending(trade_date, WINDOW_DAYS), list(COMPLETENESS_SHOWN))


def window_gaps(completeness: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """``{figure: [days not complete]}`` for each windowed figure whose window has a gap (pure)."""
    from ta_scheduler.storage.ledger import not_complete

    out: dict[str, list[str]] = {}
    for key, _label, _n, datasets in WINDOWED:
        gaps: set[str] = set()
        for d, days in datasets.items():
            row = completeness.get(d, {})
            gaps.update(not_complete(row, sorted(row)[-days:]))
        if gaps:
            out[key] = sorted(gaps)
    return out


def completeness_rows(completeness: dict[str, dict[str, str]], days: int = COMPLETENESS_DAYS) -> list[list[str]]:
    """Rows ``[dataset, complete days / days, days not complete]`` of the report's section (pure)."""
    from ta_scheduler.storage.ledger import not_complete

    rows = []
    for dataset, label in COMPLETENESS_SHOWN.items():
        row = completeness.get(dataset, {})
        periods = sorted(row)[-days:]
        bad = not_complete(row, periods)
        shown = "、".join(f"{p[5:]} {row[p]}" for p in bad[:6]) + (f" 等 {len(bad)} 天" if len(bad) > 6 else "")
        rows.append([f"{label}（{dataset}）", f"{len(periods) - len(bad)} / {len(periods)}", shown or "—"])
    return rows


def _prefer_source(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """One row per ``key``: tushare over demo when both sources are stored."""
    src = frame["data_source"] if "data_source" in frame else None
    frame = frame.assign(_pref=src.map(SOURCE_RANK).fillna(len(SOURCE_RANK)) if src is not None else 0)
    return frame.sort_values([*key, "_pref"]).drop_duplicates(key, keep="first").drop(columns="_pref")


# --- pure figures --------------------------------------------------------------------------------


def change_buckets(pct_chg: np.ndarray) -> list[tuple[str, int]]:
    """Counts of stocks per percent-change bucket (:data:`BUCKETS`), NaN ignored.

    Down buckets hold ``lower < x ≤ upper``, up buckets ``lower ≤ x < upper`` (so −9 and +9
    fall in the outer buckets); exactly 0 is its own bucket.
    """
    x = np.asarray(pct_chg, dtype=float)
    x = x[np.isfinite(x)]
    out = []
    for label, lo, hi in BUCKETS:
        if lo == hi == 0:
            mask = x == 0
        elif hi <= 0:
            mask = (x > lo) & ((x < 0) if hi == 0 else (x <= hi))
        else:
            mask = ((x > 0) if lo == 0 else (x >= lo)) & (x < hi)
        out.append((label, int(mask.sum())))
    return out


def sector_table(bars: pd.DataFrame) -> pd.DataFrame:
    """Per industry: stocks, mean and median pct_chg (%), advancers, amount (yuan); best first."""
    b = bars[np.isfinite(bars["pct_chg"])]
    grouped = b.groupby("industry", sort=False)
    out = grouped.agg(
        stocks=("pct_chg", "size"),
        mean_pct_chg=("pct_chg", "mean"),
        median_pct_chg=("pct_chg", "median"),
        advancers=("pct_chg", lambda s: int((s > 0).sum())),
        amount=("amount", "sum"),
    ).reset_index()
    return out.sort_values(["mean_pct_chg", "industry"], ascending=[False, True]).reset_index(drop=True)


def top_movers(bars: pd.DataFrame, n: int = TOP_MOVERS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` largest gainers and losers by pct_chg (ties: larger amount first, then code)."""
    b = bars[np.isfinite(bars["pct_chg"])]
    gainers = b.sort_values(["pct_chg", "amount", "symbol"], ascending=[False, False, True]).head(n)
    losers = b.sort_values(["pct_chg", "amount", "symbol"], ascending=[True, False, True]).head(n)
    return gainers.reset_index(drop=True), losers.reset_index(drop=True)


def limit_lists(bars: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stocks closing at limit-up / limit-down, by the ``market_sentiment`` rule (analytics.breadth)."""
    from ta_scheduler.analytics.breadth import limit_flags

    pct = board_limit_pct(bars["symbol"].tolist(), bars["name"].tolist())
    up, down = limit_flags(bars["close"].to_numpy(float), bars["pre_close"].to_numpy(float),
                           bars["up_limit"].to_numpy(float), bars["down_limit"].to_numpy(float), pct)
    order = ["amount", "symbol"]
    return (bars[up].sort_values(order, ascending=[False, True]).reset_index(drop=True),
            bars[down].sort_values(order, ascending=[False, True]).reset_index(drop=True))


def notable_news(news: list[dict[str, Any]], focus: set[str], n: int = NEWS_SHOWN) -> list[dict[str, Any]]:
    """The window's news naming a stock in ``focus`` (movers, limit lists, hot list) first, then
    the rest; newest first within each group; at most ``n``; one per title."""
    seen: set[str] = set()
    unique = []
    for d in sorted(news, key=lambda d: d.get("published_at") or 0, reverse=True):
        title = (d.get("title") or "").strip()
        if title and title not in seen:
            seen.add(title)
            unique.append(d)
    return sorted(unique, key=lambda d: not (set(d.get("symbols") or []) & focus))[:n]


def daily_figures(inputs: DailyInputs) -> dict[str, Any]:
    """The report's tables and headline numbers from the loaded inputs (no I/O)."""
    bars = inputs.bars
    gainers, losers = top_movers(bars)
    lim_up, lim_down = limit_lists(bars)
    sectors = sector_table(bars)
    focus = set(gainers["symbol"]) | set(losers["symbol"]) | set(lim_up["symbol"]) | set(lim_down["symbol"]) | {
        h["symbol"] for h in inputs.hot[:HOT_SHOWN]}
    index_rows = []
    for code, label in MAJOR_INDICES.items():
        rows = inputs.indices[inputs.indices["ts_code"] == code].sort_values("trade_date").tail(INDEX_CHART_DAYS)
        today = rows[rows["trade_date"] == inputs.trade_date]
        close = float(today["close"].iloc[0]) if len(today) else None
        pct = today["pct_chg"].iloc[0] if len(today) and "pct_chg" in today else None
        if (pct is None or not np.isfinite(pct)) and close is not None and len(rows) > 1:
            pct = (close / float(rows["close"].iloc[-2]) - 1) * 100
        index_rows.append({"ts_code": code, "name": label, "close": close,
                           "pct_chg": None if pct is None or not np.isfinite(pct) else float(pct),
                           "dates": rows["trade_date"].tolist(), "closes": rows["close"].astype(float).tolist()})
    return {
        "indices": index_rows,
        "buckets": change_buckets(bars["pct_chg"].to_numpy(float)),
        "sectors": sectors,
        "gainers": gainers,
        "losers": losers,
        "limit_up": lim_up,
        "limit_down": lim_down,
        "news": notable_news(inputs.news, focus),
        "window_gaps": window_gaps(inputs.completeness),
    }


# --- rendering -----------------------------------------------------------------------------------


def _stock_rows(frame: pd.DataFrame) -> tuple[list[list[str]], list[list[str]]]:
    rows, tones = [], []
    for r in frame.itertuples():
        rows.append([r.symbol, r.name, r.industry, fmt_num(r.close), fmt_pct(r.pct_chg), fmt_yi(r.amount)])
        tones.append(["", "", "", "", sign_class(r.pct_chg), ""])
    return rows, tones


def _names(frame: pd.DataFrame, limit: int = LIMIT_NAMES_SHOWN) -> str:
    names = [f"{r.name}({r.symbol})" for r in frame.head(limit).itertuples()]
    more = len(frame) - limit
    return "、".join(names) + (f" 等 {len(frame)} 只" if more > 0 else "") if names else "无"


def build_daily_sections(inputs: DailyInputs, fig: dict[str, Any]) -> list[Section]:
    s = inputs.sentiment
    sections = []

    idx = fig["indices"]
    sections.append(Section("主要指数", [
        Metrics([Metric(f"{r['name']} {r['ts_code']}", f"{fmt_num(r['close'])}  {fmt_pct(r['pct_chg'])}", sign_class(r["pct_chg"]))
                 for r in idx]),
        Chart(charts.index_panels([(r["name"], r["dates"], r["closes"]) for r in idx]), "主要指数走势",
              f"近 {INDEX_CHART_DAYS} 个交易日收盘点位"),
    ]))

    ind = inputs.indicators
    gaps = fig["window_gaps"]

    def shown(key: str, value: str) -> str:
        return INCOMPLETE if key in gaps else value

    breadth_metrics = [
        Metric("上涨", shown("breadth", fmt_num(s.get("advancers"), 0)), "up"),
        Metric("下跌", shown("breadth", fmt_num(s.get("decliners"), 0)), "down"),
        Metric("平盘", shown("breadth", fmt_num(s.get("unchanged"), 0))),
        Metric("涨跌比", shown("breadth", fmt_num(s.get("advance_decline_ratio")))),
        Metric("涨停 / 跌停", shown("breadth", f"{fmt_num(s.get('limit_up'), 0)} / {fmt_num(s.get('limit_down'), 0)}")),
        Metric("20日新高 / 新低", shown("new_extremes_20", f"{fmt_num(s.get('new_high_20'), 0)} / {fmt_num(s.get('new_low_20'), 0)}")),
        Metric("60日新高 / 新低", shown("new_extremes_60", f"{fmt_num(s.get('new_high_60'), 0)} / {fmt_num(s.get('new_low_60'), 0)}")),
        Metric("站上20日均线", shown("above_ma20", f"{ind['above_ma20']} / {ind['with_ma20']}")),
        Metric("站上60日均线", shown("above_ma60", f"{ind['above_ma60']} / {ind['with_ma60']}")),
    ]
    sections.insert(0, Section("数据完整性", [
        Table(["数据集", f"近 {COMPLETENESS_DAYS} 个交易日完整", "不完整的日期"], completeness_rows(inputs.completeness)),
        Text(window_note(gaps) if gaps else "本报告所有按窗口计算的指标，其窗口内数据均完整。"),
    ]))
    labels, counts = zip(*fig["buckets"], strict=True)
    colours = [charts.DOWN if lab.startswith(("≤-", "-")) else charts.FLAT if lab == "0" else charts.UP for lab in labels]
    sections.append(Section("市场宽度", [
        Metrics(breadth_metrics),
        Chart(charts.bar_chart(labels, counts, title="涨跌幅分布（只）", unit="股票数", colours=colours), "涨跌幅分布",
              f"{s.get('stocks')} 只有行情的股票按涨跌幅（%）分组"),
    ]))

    turn = inputs.turnover
    amounts = turn["amount"].to_numpy(float)
    mean20 = turn["amount"].rolling(20, min_periods=1).mean().shift(1).to_numpy(float) / 1e8
    sections.append(Section("成交额", [
        Metrics([
            Metric("两市成交额", fmt_yi(s.get("amount_total"))),
            Metric(f"前{s.get('amount_mean_days', 20)}日均值", fmt_yi(s.get("amount_mean_20"))),
            Metric("量能比（今日 / 20日均值）", shown("amount_ratio_20", fmt_num(s.get("amount_ratio_20"))),
                   "" if "amount_ratio_20" in gaps else sign_class((s.get("amount_ratio_20") or 1) - 1)),
        ]),
        Chart(charts.bar_chart([d[5:] for d in turn["trade_date"]], amounts / 1e8, title="每日成交额（亿元）", unit="亿元",
                               colours=[charts.LINE] * len(amounts), mean_line=np.nan_to_num(mean20, nan=amounts[0] / 1e8),
                               mean_label="前20日均值"), "成交额走势", f"近 {len(turn)} 个交易日"),
    ]))

    sec = fig["sectors"]
    shown = sec if len(sec) <= SECTORS_CHARTED else sec.iloc[list(range(15)) + list(range(len(sec) - 15, len(sec)))]
    sec_rows = [[r.industry, f"{r.stocks}", fmt_pct(r.mean_pct_chg), fmt_pct(r.median_pct_chg), f"{r.advancers}/{r.stocks}",
                 fmt_yi(r.amount)]
                for r in sec.itertuples()]
    sec_tones = [["", "", sign_class(r.mean_pct_chg), sign_class(r.median_pct_chg), "", ""] for r in sec.itertuples()]
    sections.append(Section("行业表现", [
        Chart(charts.bar_chart(shown["industry"].tolist(), shown["mean_pct_chg"].round(4).tolist(), title="行业平均涨跌幅（%）",
                               unit="%", horizontal=True), "行业平均涨跌幅",
              "按 stock_basic_info.industry 分组的等权平均涨跌幅" + ("（前 15 与后 15）" if len(sec) > SECTORS_CHARTED else "")),
        Table(["行业", "股票数", "平均涨跌幅", "涨跌幅中位数", "上涨家数", "成交额"], sec_rows, sec_tones),
    ]))

    cols = ["代码", "名称", "行业", "收盘", "涨跌幅", "成交额"]
    g_rows, g_tones = _stock_rows(fig["gainers"])
    l_rows, l_tones = _stock_rows(fig["losers"])
    sections.append(Section("涨跌幅榜", [
        Table(cols, g_rows, g_tones, caption=f"涨幅前 {len(g_rows)}"),
        Table(cols, l_rows, l_tones, caption=f"跌幅前 {len(l_rows)}"),
    ]))

    sections.append(Section("涨停与跌停", [
        Metrics([Metric("涨停", fmt_num(s.get("limit_up"), 0), "up"), Metric("跌停", fmt_num(s.get("limit_down"), 0), "down")]),
        Text(f"涨停：{_names(fig['limit_up'])}"),
        Text(f"跌停：{_names(fig['limit_down'])}"),
    ]))

    hot = inputs.hot[:HOT_SHOWN]
    if hot:
        hot_rows = [[str(h["rank"]), h["symbol"], h.get("name") or h["symbol"], fmt_num(h.get("hot_score")), fmt_pct(h.get("pct_chg")),
                     fmt_yi(h.get("amount")), str(h.get("news_mentions", 0))] for h in hot]
        hot_tones = [["", "", "", "", sign_class(h.get("pct_chg")), "", ""] for h in hot]
        sections.append(Section("热门股票", [
            Chart(charts.bar_chart([h.get("name") or h["symbol"] for h in hot], [h.get("hot_score") or 0 for h in hot],
                                   title="热度得分（0–100）", unit="热度", horizontal=True, colours=[charts.UP] * len(hot)),
                  "热门股票", "hot_stocks 排名前 10"),
            Table(["排名", "代码", "名称", "热度", "涨跌幅", "成交额", "新闻数"], hot_rows, hot_tones),
        ]))
    else:
        sections.append(Section("热门股票", [Text(f"{inputs.trade_date} 没有 hot_stocks 排名。")]))

    names = dict(zip(inputs.bars["symbol"], inputs.bars["name"], strict=True))
    per_stock = (s.get("stock_news_sentiment") or [])[:10]
    blocks: list = [Metrics([
        Metric("新闻情绪（-1~1）", fmt_num(s.get("news_sentiment"), 3), sign_class(s.get("news_sentiment"))),
        Metric("新闻数", fmt_num(s.get("news_count"), 0)),
        Metric("正面 / 负面", f"{fmt_num(s.get('news_positive'), 0)} / {fmt_num(s.get('news_negative'), 0)}"),
        Metric("涉及股票", fmt_num(s.get("news_stocks"), 0)),
    ])]
    if per_stock:
        blocks.append(Table(["代码", "名称", "新闻数", "情绪"],
                            [[r["symbol"], names.get(r["symbol"], r["symbol"]), str(r["news_count"]), fmt_num(r["sentiment"], 3)]
                             for r in per_stock],
                            [["", "", "", sign_class(r["sentiment"])] for r in per_stock], caption="新闻最多的股票"))
    sections.append(Section("市场与新闻情绪", blocks))

    items = [f"{_news_time(d)} {d['title']}" + (f"（{'、'.join(names.get(x, x) for x in d['symbols'][:3])}）" if d.get("symbols") else "")
             for d in fig["news"]]
    sections.append(Section("要闻", [Bullets(items) if items else Text("本交易时段没有新闻。")]))
    return sections


def window_note(gaps: dict[str, list[str]]) -> str:
    """One line per figure left out because its window has days that are not complete."""
    labels = {key: (label, n) for key, label, n, _ in WINDOWED}
    return "；".join(f"{labels[k][0]}：近 {labels[k][1]} 个交易日中 {'、'.join(d[5:] for d in days[:5])}"
                    f"{f' 等 {len(days)} 天' if len(days) > 5 else ''} 数据不完整，未给出数值" for k, days in gaps.items()) + "。"


def _news_time(doc: dict[str, Any]) -> str:
    t = doc.get("published_at")
    return t.astimezone(TZ).strftime("%m-%d %H:%M") if t is not None and hasattr(t, "astimezone") else ""


def daily_summary(inputs: DailyInputs, fig: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers stored in the report document (``summary``), in store units."""
    s = inputs.sentiment

    def mover(frame):
        if frame.empty:
            return None
        r = frame.iloc[0]
        return {"symbol": r["symbol"], "name": r["name"], "pct_chg": float(r["pct_chg"])}

    sec = fig["sectors"]
    gaps = fig["window_gaps"]
    gated = {"advancers": "breadth", "decliners": "breadth", "unchanged": "breadth", "limit_up": "breadth",
             "limit_down": "breadth", "amount_mean_20": "amount_ratio_20", "amount_ratio_20": "amount_ratio_20"}
    return {
        "indices": [{"ts_code": r["ts_code"], "name": r["name"], "close": r["close"], "pct_chg": r["pct_chg"]} for r in fig["indices"]],
        **{k: None if gated.get(k) in gaps else s.get(k)
           for k in ("stocks", "advancers", "decliners", "unchanged", "limit_up", "limit_down",
                     "amount_total", "amount_mean_20", "amount_ratio_20", "news_count", "news_sentiment")},
        "above_ma20": None if "above_ma20" in gaps else inputs.indicators["above_ma20"],
        "incomplete_windows": gaps,
        "top_gainer": mover(fig["gainers"]),
        "top_loser": mover(fig["losers"]),
        "best_sector": None if sec.empty else {"industry": sec.iloc[0]["industry"], "mean_pct_chg": float(sec.iloc[0]["mean_pct_chg"])},
        "worst_sector": None if sec.empty else {"industry": sec.iloc[-1]["industry"], "mean_pct_chg": float(sec.iloc[-1]["mean_pct_chg"])},
        "hot_top": inputs.hot[0]["symbol"] if inputs.hot else None,
        "limit_up_symbols": fig["limit_up"]["symbol"].tolist(),
        "limit_down_symbols": fig["limit_down"]["symbol"].tolist(),
    }


def daily_digest(trade_date: str, summary: dict[str, Any]) -> list[str]:
    """A few plain-text lines for chat messages (Slack)."""
    idx = "，".join(f"{v['name']} {fmt_num(v['close'])}（{fmt_pct(v['pct_chg'])}）" for v in summary["indices"] if v["close"] is not None)
    gaps = summary.get("incomplete_windows") or {}
    lines = [
        idx or "指数：无数据",
        f"涨跌家数：{INCOMPLETE}（{'、'.join(gaps['breadth'])} 数据不完整）" if "breadth" in gaps else
        f"上涨 {summary['advancers']} / 下跌 {summary['decliners']} / 平盘 {summary['unchanged']}，"
        f"涨停 {summary['limit_up']}，跌停 {summary['limit_down']}",
        f"成交额 {fmt_yi(summary['amount_total'])}，量能比{INCOMPLETE}（近 21 个交易日有 {len(gaps['amount_ratio_20'])} 天数据不完整）"
        if "amount_ratio_20" in gaps else
        f"成交额 {fmt_yi(summary['amount_total'])}，为前20日均值的 {fmt_num(summary['amount_ratio_20'])} 倍",
    ]
    if summary["top_gainer"]:
        g = summary["top_gainer"]
        lines.append(f"领涨 {g['name']}({g['symbol']}) {fmt_pct(g['pct_chg'])}")
    if summary["best_sector"]:
        lines.append(f"最强行业 {summary['best_sector']['industry']} {fmt_pct(summary['best_sector']['mean_pct_chg'])}")
    lines.append(f"新闻情绪 {fmt_num(summary['news_sentiment'], 3)}（{summary['news_count']} 条）")
    return lines


def llm_usage_section(db: Database, day: str) -> Section:
    """Tokens and cost of the LLM research run on ``day`` (Asia/Shanghai), by provider, from the
    ``llm_usage`` ledger (failed attempts included: their tokens were spent too)."""
    from ta_scheduler.llm.budget import usage_by_provider

    rows = usage_by_provider(db, day=day)
    if not rows:
        return Section("LLM 研究用量", [Text(f"{day} 没有运行 LLM 研究。")])
    total = {k: sum(r[k] for r in rows) for k in ("researches", "failed", "calls", "input_tokens", "output_tokens", "yuan")}
    table = [[r["provider"], str(r["researches"]), str(r["failed"]), str(r["calls"]), f"{r['input_tokens']:,}",
              f"{r['output_tokens']:,}", f"{r['yuan']:.4f}"] for r in rows]
    table.append(["合计", str(total["researches"]), str(total["failed"]), str(total["calls"]), f"{total['input_tokens']:,}",
                  f"{total['output_tokens']:,}", f"{total['yuan']:.4f}"])
    return Section("LLM 研究用量", [Table(["提供方", "研究次数", "失败", "调用", "输入 tokens", "输出 tokens", "费用（元）"], table,
                                       caption=f"{day} 的 LLM 研究（llm_usage）")])


def calendar_caveat(trade_date: str) -> str | None:
    """A subtitle note when ``trade_date`` is not in an exchange-published calendar."""
    from ta_scheduler.calendar.lookup import date_status
    from ta_scheduler.calendar.merged import ASSUMED, PROVISIONAL

    status = date_status(trade_date)
    if status == PROVISIONAL:
        return "交易日历为临时日历（按法定节假日规则推算，交易所尚未公布）"
    if status == ASSUMED:
        return "交易日历未核实（按周一至周五假定）"
    return None


def build_daily_report(db: Database, trade_date: str) -> dict[str, Any]:
    """Build, store and write the daily market report of ``trade_date``; idempotent.

    :returns: small facts for XCom: kind, report_date, title, files, summary headline numbers
    :raises AnalysisMissingError: the day's market sentiment / indicators are not stored yet
    """
    check_kind_and_date("daily", trade_date)
    inputs = load_daily_inputs(db, trade_date)
    fig = daily_figures(inputs)
    title = f"每日市场报告 {trade_date}"
    subtitle = f"交易日 {trade_date} · 数据源 {inputs.data_source} · {inputs.sentiment.get('stocks')} 只股票"
    if caveat := calendar_caveat(trade_date):
        subtitle += f" · {caveat}"
    footer = ("数据来自 TradingAgents 行情库（stock_daily_quotes、index_daily_quotes、market_sentiment、"
              "technical_indicators、hot_stocks、stock_news）。红涨绿跌。")
    sections = build_daily_sections(inputs, fig)
    sections.append(llm_usage_section(db, trade_date))
    summary = daily_summary(inputs, fig)
    doc = save_report(db, {
        "kind": "daily",
        "report_date": trade_date,
        "as_of": trade_date,
        "title": title,
        "html": render_html(title, subtitle, sections, footer),
        "markdown": render_markdown(title, subtitle, sections, footer),
        "summary": summary,
        "digest": daily_digest(trade_date, summary),
        "data_source": inputs.data_source,
    })
    log.info("daily report %s stored: %s (%s bytes html)", trade_date, doc["files"]["html"]["path"], doc["files"]["html"]["bytes"])
    return {"kind": "daily", "report_date": trade_date, "title": title, "files": {k: v["path"] for k, v in doc["files"].items()},
            "advancers": summary["advancers"], "decliners": summary["decliners"]}
