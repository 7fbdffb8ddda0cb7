"""The weekly portfolio report (每周投资组合报告): every ``portfolios`` entry against its benchmark.

Per portfolio, as of the last trading day with bars on or before the week's end date:

* weekly and year-to-date return of the portfolio and of its benchmark index, from adjusted
  closes (``close × adj_factor``, i.e. forward-adjusted: dividends and splits do not show as
  losses); the portfolio is held at its target weights, rebalanced daily (as in
  ``risk_assessments``), so its NAV compounds the weighted daily returns;
* contribution by holding: weight × the holding's return over the week (their sum differs from
  the portfolio's weekly return by the daily-rebalancing effect, shown as its own line);
* risk: volatility, VaR/CVaR 95 %, max drawdown, beta — from the latest ``risk_assessments``
  document of the portfolio on or before the as-of day, else computed here the same way over
  the last 250 returns and labelled as such;
* charts: NAV vs benchmark since the start of the year, drawdown, contribution bars.

A figure whose window (the week, the year to date, the risk's returns) has a trading day the
completeness ledger does not show complete for the bars, their factors or the indices prints
窗口不完整 and the days instead of a number (:func:`window_holes`); the summary holds None for it.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ta_scheduler.constants import Collections as C
from ta_scheduler.market import CSI300, MAJOR_INDICES, SOURCE_RANK, preferred_source
from ta_scheduler.reports import charts
from ta_scheduler.reports.errors import AnalysisMissingError
from ta_scheduler.reports.render import (
    INCOMPLETE,
    Chart,
    Metric,
    Metrics,
    Section,
    Table,
    Text,
    fmt_frac,
    fmt_num,
    render_html,
    render_markdown,
    sign_class,
)
from ta_scheduler.reports.store import check_kind_and_date, save_report
from ta_scheduler.storage.mongo import find_each

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

RISK_LOOKBACK = 250
HISTORY_CALENDAR_DAYS = 400  # covers the year to date and 250 trading days of returns


def week_base_index(dates: list[str], as_of: str) -> int | None:
    """Index in ``dates`` of the last trading day before the ISO week of ``as_of`` (the week's base)."""
    monday = (date.fromisoformat(as_of) - timedelta(days=date.fromisoformat(as_of).weekday())).isoformat()
    before = [i for i, d in enumerate(dates) if d < monday]
    return before[-1] if before else None


def year_base_index(dates: list[str], as_of: str) -> int:
    """Index of the last trading day of the previous year, else the first day of this year's data."""
    jan1 = f"{as_of[:4]}-01-01"
    before = [i for i, d in enumerate(dates) if d < jan1]
    return before[-1] if before else 0


def period_return(values: np.ndarray, base: int | None, end: int) -> float | None:
    """``values[end] / values[base] − 1`` using the last finite value at or before each index."""
    if base is None:
        return None
    v = np.asarray(values, dtype=float)
    def at(i):
        finite = np.flatnonzero(np.isfinite(v[: i + 1]))
        return v[finite[-1]] if finite.size else np.nan
    r = at(end) / at(base) - 1.0
    return float(r) if np.isfinite(r) else None


def portfolio_figures(
    dates: list[str], prices: np.ndarray, symbols: list[str], weights: dict[str, float],
    bench_close: np.ndarray | None, as_of: str,
) -> dict[str, Any]:
    """Returns, NAV, contributions and computed risk of one portfolio (pure).

    :param prices: adjusted closes, holdings × dates (NaN = no bar)
    :param bench_close: the benchmark's closes on ``dates`` (NaN = none) or None
    """
    from ta_scheduler.analytics.risk import portfolio_returns, risk_metrics, simple_returns

    returns = simple_returns(prices)
    row_of = {s: i for i, s in enumerate(symbols)}
    port, used, missing = portfolio_returns(returns, row_of, weights)
    end = len(dates) - 1
    y0, w0 = year_base_index(dates, as_of), week_base_index(dates, as_of)
    nav = np.cumprod(np.where(np.isfinite(port[y0 + 1:]), 1.0 + port[y0 + 1:], 1.0))
    nav = np.concatenate([[1.0], nav])
    nav_all = np.cumprod(np.where(np.isfinite(port), 1.0 + port, 1.0))
    bench_nav = None
    if bench_close is not None and np.isfinite(bench_close[y0:]).any():
        b = np.asarray(bench_close[y0:], dtype=float)
        first = b[np.isfinite(b)][0]
        bench_nav = (np.where(np.isfinite(b), b, np.nan) / first)
        # carry the last close over days the index has none
        from ta_scheduler.analytics.panel import ffill
        bench_nav = ffill(bench_nav[None, :])[0]
    holdings = []
    for s, w in used.items():
        r = period_return(prices[row_of[s]], w0, end)
        holdings.append({"symbol": s, "weight": w, "week_return": r, "contribution": None if r is None else w * r,
                         "ytd_return": period_return(prices[row_of[s]], y0, end)})
    week_ret = period_return(nav_all, w0, end) if w0 is not None else None
    bench_r = simple_returns(bench_close)[0] if bench_close is not None else np.full(len(dates), np.nan)
    tail = slice(max(1, len(dates) - RISK_LOOKBACK), None)
    m = risk_metrics(port[None, tail], bench_r[tail])
    computed = {k: (float(v[0]) if np.isfinite(v[0]) else None) for k, v in m.items() if k != "n_obs"}
    computed["n_obs"] = int(m["n_obs"][0])
    peak = np.fmax.accumulate(nav)
    return {
        "weights_used": used, "missing_symbols": missing, "holdings": holdings,
        "week_base_date": dates[w0] if w0 is not None else None, "year_base_date": dates[y0],
        "week_return": week_ret, "ytd_return": float(nav[-1] - 1.0),
        "bench_week_return": period_return(bench_close, w0, end) if bench_close is not None else None,
        "bench_ytd_return": period_return(bench_close, y0, end) if bench_close is not None else None,
        "nav_dates": dates[y0:], "nav": nav.tolist(), "bench_nav": None if bench_nav is None else bench_nav.tolist(),
        "ytd_max_drawdown": float((1 - nav / peak).max()), "computed_risk": computed,
    }


def _load(db: Database, portfolio: dict[str, Any], as_of: str,
          source: str) -> tuple[list[str], np.ndarray, list[str], np.ndarray | None, str]:
    import pandas as pd

    from ta_scheduler.analytics.panel import forward_adjust, panel_from_frame

    start = (date.fromisoformat(as_of) - timedelta(days=HISTORY_CALENDAR_DAYS)).isoformat()
    symbols = [str(h["symbol"]) for h in portfolio.get("holdings") or []]
    bars = pd.DataFrame(list(find_each(  # one holding's history a query (the symbol index serves it)
        db[C.STOCK_DAILY_QUOTES], "symbol", symbols,
        {"trade_date": {"$gte": start, "$lte": as_of}, "period": "daily", "data_source": source},
        {"_id": 0, "symbol": 1, "trade_date": 1, "close": 1, "adj_factor": 1})))
    bench = portfolio.get("benchmark") or CSI300
    idx = pd.DataFrame(list(db[C.INDEX_DAILY].find(
        {"ts_code": {"$in": [bench, CSI300]}, "trade_date": {"$gte": start, "$lte": as_of}},
        {"_id": 0, "ts_code": 1, "trade_date": 1, "close": 1, "data_source": 1})))
    if idx.empty or bench not in set(idx["ts_code"]):
        bench = CSI300
    dates = sorted(set(bars["trade_date"]) if not bars.empty else set())
    if not idx.empty:
        dates = sorted(set(dates) | set(idx.loc[idx["ts_code"] == bench, "trade_date"]))
    if not dates or dates[-1] != as_of:
        dates = sorted(set(dates) | {as_of})
    panel = panel_from_frame(bars, ["close", "adj_factor"], dates=dates) if not bars.empty else None
    prices = forward_adjust(panel["close"], panel["adj_factor"]) if panel is not None else np.empty((0, len(dates)))
    syms = [str(s) for s in panel.symbols] if panel is not None else []
    bench_close = None
    if not idx.empty and bench in set(idx["ts_code"]):
        b = idx[idx["ts_code"] == bench].assign(
            _p=lambda f: f.get("data_source", pd.Series(index=f.index, dtype=object)).map(SOURCE_RANK).fillna(len(SOURCE_RANK)))
        b = b.sort_values(["trade_date", "_p"]).drop_duplicates("trade_date")
        bench_close = panel_from_frame(b, ["close"], row_key="ts_code", dates=dates)["close"][0]
    return dates, prices, syms, bench_close, bench


#: What a portfolio's figures rest on, day by day: the holdings' bars and factors, the benchmark.
FIGURE_DATASETS = ("daily_bars", "adj_factor", "index_bars")


def window_holes(db: Database, first_day: str, last_day: str) -> list[str]:
    """Trading days from ``first_day`` to ``last_day`` whose :data:`FIGURE_DATASETS` the ledger
    does not show complete (one query). Each dataset counts from its first entry in that span:
    the days before it were never synced (a new deployment), no hole; a dataset with no entry
    there says nothing either way."""
    from ta_scheduler.calendar.lookup import get_calendar
    from ta_scheduler.storage import ledger

    days = [d.isoformat() for d in get_calendar().sessions_between(date.fromisoformat(first_day), date.fromisoformat(last_day))]
    found = ledger.entries(db, days, FIGURE_DATASETS)
    holes: set[str] = set()
    for dataset in FIGURE_DATASETS:
        first = min((p for (d, p) in found if d == dataset), default=None)
        if first is not None:
            holes.update(ledger.not_complete({p: found[(dataset, p)]["state"] for p in days if (dataset, p) in found},
                                             [p for p in days if p >= first]))
    return sorted(holes)


def _risk_for(db: Database, portfolio_id: str, as_of: str, computed: dict[str, Any]) -> tuple[dict[str, Any], str]:
    doc = db[C.RISK_ASSESSMENTS].find_one(
        {"subject_type": "portfolio", "subject_id": portfolio_id, "as_of": {"$lte": as_of}}, {"_id": 0}, sort=[("as_of", -1)])
    if doc:
        return ({k: doc.get(k) for k in ("volatility_ann", "var_95", "cvar_95", "max_drawdown", "beta", "correlation", "n_obs",
                                         "start_date")},
                f"risk_assessments（截至 {doc['as_of']}，{doc.get('n_obs')} 个日收益）")
    return computed, f"本报告计算（无 risk_assessments 记录；最近 {computed['n_obs']} 个日收益）"


class _PortfolioPart(NamedTuple):
    """One portfolio's share of the report: its section, its summary and its row of the overview
    table with the row's tones (None when nothing could be computed)."""

    section: Section
    summary: dict[str, Any]
    overview_row: list[str] | None = None
    overview_tones: list[str] | None = None


def _portfolio_part(db: Database, p: dict[str, Any], as_of: str, source: str, names: dict[str, str]) -> _PortfolioPart:
    """One portfolio's figures as of ``as_of`` against its benchmark (module doc)."""
    pid = str(p["portfolio_id"])
    weights = {str(h["symbol"]): float(h.get("weight") or 0) for h in p.get("holdings") or []}
    dates, prices, syms, bench_close, bench = _load(db, p, as_of, source)
    bench_label = MAJOR_INDICES.get(bench, bench)
    if not syms:
        return _PortfolioPart(Section(f"{p.get('name') or pid}（{pid}）",
                                      [Text(f"持仓 {sorted(weights)} 在 {as_of} 前没有行情，无法计算。")]),
                              {"portfolio_id": pid, "name": p.get("name"), "error": "no bars for any holding"})
    f = portfolio_figures(dates, prices, syms, weights, bench_close, as_of)
    risk, risk_source = _risk_for(db, pid, as_of, {**f["computed_risk"],
                                                   "start_date": dates[max(0, len(dates) - 1 - f["computed_risk"]["n_obs"])]})
    f, risk, holes = _without_incomplete_windows(db, f, risk, as_of)
    ytd = "今年以来" if f["year_base_date"] < f"{as_of[:4]}-01-01" else f"自 {f['year_base_date']} 起"
    excess_w = None if f["week_return"] is None or f["bench_week_return"] is None else f["week_return"] - f["bench_week_return"]
    excess_y = None if f["ytd_return"] is None or f["bench_ytd_return"] is None else f["ytd_return"] - f["bench_ytd_return"]

    def shown(window: str, text: str) -> str:
        return INCOMPLETE if window in holes else text

    summary = {"portfolio_id": pid, "name": p.get("name"), "benchmark": bench,
               **{k: f[k] for k in ("week_return", "bench_week_return", "ytd_return", "bench_ytd_return", "week_base_date",
                                    "year_base_date", "missing_symbols")},
               "excess_week": excess_w, "excess_ytd": excess_y, "ytd_label": ytd, "risk": risk, "risk_source": risk_source,
               "incomplete_windows": holes,
               "contributions": [{k: h[k] for k in ("symbol", "weight", "week_return", "contribution")} for h in f["holdings"]]}
    overview_row = [p.get("name") or pid, pid,
                    *(shown("week", fmt_frac(v)) for v in (f["week_return"], f["bench_week_return"], excess_w)),
                    *(shown("ytd", fmt_frac(v)) for v in (f["ytd_return"], f["bench_ytd_return"]))]
    overview_tones = ["", "", sign_class(f["week_return"]), sign_class(f["bench_week_return"]), sign_class(excess_w),
                      sign_class(f["ytd_return"]), sign_class(f["bench_ytd_return"])]
    contrib = [h for h in f["holdings"] if h["contribution"] is not None]
    blocks: list = [
        Metrics([
            Metric("本周收益", shown("week", fmt_frac(f["week_return"])), sign_class(f["week_return"])),
            Metric(f"基准 {bench_label} 本周", shown("week", fmt_frac(f["bench_week_return"])), sign_class(f["bench_week_return"])),
            Metric("本周超额", shown("week", fmt_frac(excess_w)), sign_class(excess_w)),
            Metric(ytd, shown("ytd", fmt_frac(f["ytd_return"])), sign_class(f["ytd_return"])),
            Metric(f"基准{ytd}", shown("ytd", fmt_frac(f["bench_ytd_return"])), sign_class(f["bench_ytd_return"])),
            Metric(f"{ytd}超额", shown("ytd", fmt_frac(excess_y)), sign_class(excess_y)),
        ]),
        Chart(charts.nav_and_drawdown(f["nav_dates"], f["nav"], f["bench_nav"],
                                      title=f"{p.get('name') or pid} 净值与回撤（{f['year_base_date']} = 1）", bench_label=bench_label),
              "净值与回撤", f"今年以来最大回撤 {shown('ytd', fmt_frac(f['ytd_max_drawdown'], signed=False))}"),
        _holdings_table(f, contrib, names, as_of),
    ]
    if contrib:
        blocks.append(Chart(charts.bar_chart([names.get(h["symbol"], h["symbol"]) for h in contrib],
                                             [h["contribution"] * 100 for h in contrib],
                                             title="本周收益贡献（百分点）", unit="百分点", horizontal=True), "收益贡献"))
    blocks.append(Table(["指标", "数值"], [
        ["年化波动率", shown("risk", fmt_frac(risk.get("volatility_ann"), signed=False))],
        ["VaR 95%（1日）", shown("risk", fmt_frac(risk.get("var_95"), signed=False))],
        ["CVaR 95%（1日）", shown("risk", fmt_frac(risk.get("cvar_95"), signed=False))],
        ["最大回撤", shown("risk", fmt_frac(risk.get("max_drawdown"), signed=False))],
        [f"Beta（相对 {bench_label}）", shown("risk", fmt_num(risk.get("beta"), 3))],
    ], caption=f"风险指标来源：{risk_source}"))
    if holes:
        blocks.append(_holes_text(holes, ytd))
    if f["missing_symbols"]:
        blocks.append(Text(f"无行情的持仓未计入，权重已重新归一：{'、'.join(f['missing_symbols'])}"))
    return _PortfolioPart(Section(f"{p.get('name') or pid}（{pid}）", blocks), summary, overview_row, overview_tones)


def _without_incomplete_windows(db: Database, f: dict[str, Any], risk: dict[str, Any],
                                as_of: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str]]]:
    """``(f, risk, holes)``: the figures and risk with None for every number whose window (week,
    ytd, risk) has a day the ledger does not show complete, and those days per window."""
    starts = {"week": f["week_base_date"] or as_of, "ytd": f["year_base_date"], "risk": risk.get("start_date") or as_of}
    span = window_holes(db, min(starts.values()), as_of)
    holes = {k: [d for d in span if d >= start] for k, start in starts.items()}
    holes = {k: v for k, v in holes.items() if v}
    if "week" in holes:
        f = {**f, "week_return": None, "bench_week_return": None,
             "holdings": [{**h, "week_return": None, "contribution": None} for h in f["holdings"]]}
    if "ytd" in holes:
        f = {**f, "ytd_return": None, "bench_ytd_return": None, "ytd_max_drawdown": None,
             "holdings": [{**h, "ytd_return": None} for h in f["holdings"]]}
    if "risk" in holes:
        risk = {k: None for k in risk}
    return f, risk, holes


def _holdings_table(f: dict[str, Any], contrib: list[dict[str, Any]], names: dict[str, str], as_of: str) -> Table:
    """Each holding's weight, week return, contribution and year-to-date return, and the
    daily-rebalancing residual (the week's return less the contributions)."""
    residual = None if f["week_return"] is None else f["week_return"] - sum(h["contribution"] for h in contrib)
    rows = [[h["symbol"], names.get(h["symbol"], h["symbol"]), fmt_frac(h["weight"], signed=False), fmt_frac(h["week_return"]),
             fmt_frac(h["contribution"]), fmt_frac(h["ytd_return"])] for h in f["holdings"]]
    tones = [["", "", "", sign_class(h["week_return"]), sign_class(h["contribution"]), sign_class(h["ytd_return"])]
             for h in f["holdings"]]
    rows.append(["", "每日再平衡差异", "", "", fmt_frac(residual), ""])
    tones.append(["", "", "", "", sign_class(residual), ""])
    return Table(["代码", "名称", "权重", "本周收益", "贡献", "今年以来"], rows, tones,
                 caption=f"持仓贡献（权重 × 本周收益，{f['week_base_date']} 收盘 → {as_of} 收盘）")


def _holes_text(holes: dict[str, list[str]], ytd: str) -> Text:
    """Which figures are left out and the incomplete days of their windows (the first five)."""
    labels = {"week": "本周收益", "ytd": f"{ytd}收益", "risk": "风险指标"}
    return Text("；".join(f"{labels[k]}的窗口中 {'、'.join(d[5:] for d in v[:5])}{f' 等 {len(v)} 天' if len(v) > 5 else ''}"
                         " 数据不完整，未给出数值" for k, v in holes.items()) + "。")


def build_weekly_report(db: Database, week_end_date: str) -> dict[str, Any]:
    """Build, store and write the weekly portfolio report for the week ending ``week_end_date``.

    The figures are as of the last trading day with bars on or before ``week_end_date`` (the
    Sunday run reports Friday's closes). Idempotent: same date → same document and files.

    :raises AnalysisMissingError: no daily bars on or before ``week_end_date``
    """
    from ta_scheduler.analytics.stored_bars import latest_trade_date_with_bars

    check_kind_and_date("weekly", week_end_date)
    as_of = latest_trade_date_with_bars(db, week_end_date)
    if as_of is None:
        raise AnalysisMissingError(f"weekly report {week_end_date}: no daily bars on or before {week_end_date}; run daily_sync first")
    source = preferred_source(db, as_of) or "demo"
    names = {d["code"]: d.get("name") or d["code"] for d in db[C.STOCK_BASIC_INFO].find({}, {"_id": 0, "code": 1, "name": 1})}
    portfolios = sorted(db[C.PORTFOLIOS].find({}, {"_id": 0}), key=lambda p: str(p.get("portfolio_id")))
    sections: list[Section] = []
    summaries: list[dict[str, Any]] = []
    if not portfolios:
        sections.append(Section("组合", [Text("portfolios 中没有组合。"
                                             "创建组合：python -m ta_scheduler.reports.portfolios add …（见 docs/reports.md）")]))
    overview_rows, overview_tones = [], []
    for p in portfolios:
        part = _portfolio_part(db, p, as_of, source, names)
        sections.append(part.section)
        summaries.append(part.summary)
        if part.overview_row is not None:
            overview_rows.append(part.overview_row)
            overview_tones.append(part.overview_tones)
    if overview_rows:
        header = ["组合", "代码", "本周", "基准本周", "本周超额", "今年以来", "基准今年以来"]
        sections.insert(0, Section("概览", [Table(header, overview_rows, overview_tones)]))
    title = f"每周投资组合报告 {week_end_date}"
    subtitle = f"截至交易日 {as_of} · 数据源 {source} · {len(portfolios)} 个组合"
    footer = "收益按复权收盘价（close × adj_factor）计算，组合按目标权重每日再平衡。红涨绿跌。"
    digest = [f"{s.get('name') or s['portfolio_id']}：本周 {fmt_frac(s.get('week_return'))}"
              f"（基准 {fmt_frac(s.get('bench_week_return'))}），"
              f"今年以来 {fmt_frac(s.get('ytd_return'))}" for s in summaries if "error" not in s] or ["没有可计算的组合"]
    doc = save_report(db, {
        "kind": "weekly", "report_date": week_end_date, "as_of": as_of, "title": title,
        "html": render_html(title, subtitle, sections, footer), "markdown": render_markdown(title, subtitle, sections, footer),
        "summary": {"as_of": as_of, "portfolios": summaries}, "digest": digest, "data_source": source,
    })
    log.info("weekly report %s (as of %s) stored: %s portfolios", week_end_date, as_of, len(summaries))
    return {"kind": "weekly", "report_date": week_end_date, "as_of": as_of, "title": title, "portfolios": len(summaries),
            "files": {k: v["path"] for k, v in doc["files"].items()}}
