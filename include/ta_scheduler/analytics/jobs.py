"""The analysis jobs the ``analysis_pipeline`` DAG calls: read the store, compute, upsert.

Each job reads each input collection once (one query with a projection), builds symbols ×
days panels, runs the pure computations of this package and writes with
:func:`~ta_scheduler.storage.writes.write_docs` on the collection's natural key, so a re-run
for the same date leaves the store unchanged (``updated_at`` included: the writer stamps it only
on documents whose content changed). A job refuses to run on a day whose bars are
not in the store (:class:`BarsMissingError`) rather than compute from stale data.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from ta_scheduler.analytics.panel import Panel, forward_adjust, panel_from_frame
from ta_scheduler.analytics.stored_bars import (
    BarsMissingError,
    bar_projection,
    check_trade_date,
    days_with_bars,
    latest_trade_date_with_bars,
    raw_bar_frame,
    window_dates,
    window_span,
)
from ta_scheduler.constants import Collections as C
from ta_scheduler.market import CSI300, SOURCE_RANK, board_limit_pct, preferred_source, session_close
from ta_scheduler.storage.mongo import find_each
from ta_scheduler.storage.writes import delete_where, docs_from_columns, write_docs

if TYPE_CHECKING:
    from pymongo.database import Database

    from ta_scheduler.analytics.news_sentiment import SentimentScorer

log = logging.getLogger(__name__)



def _source_for(db: Database, trade_date: str) -> str:
    """The data source of the day's bars (``market.preferred_source``); BarsMissingError if none."""
    source = preferred_source(db, trade_date)
    if source is None:
        latest = latest_trade_date_with_bars(db)
        raise BarsMissingError(
            f"no daily bars for {trade_date} in {C.STOCK_DAILY_QUOTES} (latest day with bars: {latest}); "
            f"run daily_sync for {trade_date} first"
        )
    return source


def _load_bars(db: Database, trade_date: str, n_days: int, fields: list[str], source: str) -> Panel:
    """The last ``n_days`` trading days of bars up to ``trade_date`` as a panel, every bar of
    the window read (:func:`~ta_scheduler.analytics.stored_bars.days_with_bars` finds the window's
    days in :func:`~ta_scheduler.analytics.stored_bars.window_span`, one ``$in`` reads their bars).

    The window's days are the days that have bars (``stored_bars.window_dates``). The window
    jobs read through :func:`_window`, which takes past days from their column documents.
    """
    projection = bar_projection(fields)
    t0 = time.perf_counter()
    days = days_with_bars(db, window_span(trade_date, n_days), source, n_days)
    cursor = find_each(db[C.STOCK_DAILY_QUOTES], "trade_date", days,
                       {"period": "daily", "data_source": source}, projection, batch_size=10_000)
    frame = raw_bar_frame(list(cursor))
    dates = window_dates(frame["trade_date"].unique().tolist() if len(frame) else [], trade_date, n_days, source)
    panel = panel_from_frame(frame, fields, dates=dates)
    log.info(
        "read %s bars (%s symbols × %s days, %s..%s) in %.1f s",
        len(frame), len(panel.symbols), len(dates), dates[0], dates[-1], time.perf_counter() - t0,
    )
    return panel


def _window(db: Database, trade_date: str, n_days: int, fields: list[str], source: str, *,
            day_fields: list[str] | None = None, from_columns: bool = True) -> Panel:
    """The window of a window job: ``fields`` over the last ``n_days`` trading days, ``day_fields``
    on ``trade_date``. Past days come from their column documents
    (:func:`~ta_scheduler.analytics.bar_columns.window_panel`); ``from_columns=False`` reads every
    bar of the window instead (:func:`_load_bars`, which has the day fields on every day). Both
    give the same documents."""
    if not from_columns:
        return _load_bars(db, trade_date, n_days, [*fields, *(day_fields or [])], source)
    from ta_scheduler.analytics.bar_columns import window_panel

    return window_panel(db, trade_date, n_days, fields, source, day_fields or ())


def _adjusted(panel: Panel, *names: str) -> dict[str, np.ndarray]:
    adj = panel["adj_factor"]
    return {n: forward_adjust(panel[n], adj) for n in names}


def _clean(values: np.ndarray, digits: int | None = None) -> list[float | None]:
    """Floats for BSON: NaN/inf → None, optional rounding."""
    arr = np.asarray(values, dtype=float)
    if digits is not None:
        arr = np.round(arr, digits)
    obj = arr.astype(object)
    obj[~np.isfinite(arr)] = None
    return obj.tolist()


def _record_ledger(db: Database, dataset: str, period: str, expected: int, stored: int, source: str) -> None:
    """The completeness ledger entry of one analysis output (``storage/ledger.py``)."""
    from ta_scheduler.storage import ledger

    ledger.record(db, dataset, period, expected=expected, stored=stored, data_source=source)


# --- technical indicators ----------------------------------------------------------------------


def compute_indicators_for_date(db: Database, trade_date: str, *, data_source: str | None = None) -> dict[str, Any]:
    """Compute and write ``technical_indicators`` for every stock with a bar on ``trade_date``:
    the 通达信 / 同花顺 values over each stock's whole forward-adjusted history, carried forward
    from its state in ``indicator_state`` (see :mod:`ta_scheduler.analytics.indicator_state`).

    :raises BarsMissingError: the store has no bars for ``trade_date``
    """
    from ta_scheduler.analytics.indicator_state import run_indicator_job

    result = run_indicator_job(db, check_trade_date(trade_date), data_source=data_source)
    source = result["data_source"]
    _record_ledger(db, "indicators", trade_date, result["symbols"],
                   db[C.TECHNICAL_INDICATORS].count_documents({"trade_date": trade_date, "data_source": source}), source)
    return result


# --- news --------------------------------------------------------------------------------------


def _news_window(prev_trade_date: str | None, trade_date: str) -> tuple[datetime, datetime]:
    """News of a trading day: after the previous session's close up to this day's close."""
    prev = date.fromisoformat(prev_trade_date) if prev_trade_date else date.fromisoformat(trade_date) - timedelta(days=1)
    return session_close(prev), session_close(date.fromisoformat(trade_date))


def _load_news(db: Database, start: datetime, end: datetime) -> list[dict]:
    """News published in ``(start, end]`` (aware datetimes), with the fields scoring needs."""
    return list(
        db[C.STOCK_NEWS].find(
            {"published_at": {"$gt": start, "$lte": end}},
            {"_id": 0, "news_id": 1, "title": 1, "content": 1, "symbols": 1},
        )
    )


def _mentions(news: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in news:
        for sym in set(doc.get("symbols") or []):
            counts[sym] = counts.get(sym, 0) + 1
    return counts


# --- market sentiment --------------------------------------------------------------------------


def _names(db: Database, symbols: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for doc in db[C.STOCK_BASIC_INFO].find({"code": {"$in": symbols}}, {"_id": 0, "code": 1, "name": 1}):
        if doc.get("name"):
            out[doc["code"]] = doc["name"]
    return out


def _limits(panel: Panel, names: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    from ta_scheduler.analytics.breadth import limit_flags

    pct = board_limit_pct(panel.symbols.tolist(), [names.get(s) for s in panel.symbols])
    return limit_flags(panel["close"], panel["pre_close"], panel["up_limit"], panel["down_limit"], pct)


def compute_market_sentiment(
    db: Database, trade_date: str, scorer: SentimentScorer | None = None, *, top_stocks: int = 300,
    from_columns: bool = True,
) -> dict[str, Any]:
    """Compute and upsert the ``market_sentiment`` document of ``trade_date``.

    Breadth, limit-up/down, new 20/60-day highs and lows, turnover vs its 20-day mean, and news
    sentiment (``scorer``, default the offline lexicon model) for the market and per stock; the
    ``top_stocks`` most-mentioned stocks are embedded. Returns the headline figures. The 61-day
    window's past days are read from their column documents (``from_columns=False``: from every
    bar of the window; the same document).

    :raises BarsMissingError: the store has no bars for ``trade_date``
    """
    from ta_scheduler.analytics.breadth import breadth, new_extremes, turnover_vs_mean
    from ta_scheduler.analytics.news_sentiment import LexiconScorer, news_text, sentiment_label, validate_scores

    check_trade_date(trade_date)
    scorer = scorer or LexiconScorer()
    model = getattr(scorer, "name", type(scorer).__name__)
    source = _source_for(db, trade_date)
    panel = _window(db, trade_date, 61, ["high", "low", "amount", "adj_factor"], source,
                    day_fields=["close", "pre_close", "up_limit", "down_limit"], from_columns=from_columns)
    names = _names(db, panel.symbols.tolist())
    up, down = _limits(panel, names)
    counts = breadth(panel["close"][:, -1], panel["pre_close"][:, -1], up[:, -1], down[:, -1])
    adj = _adjusted(panel, "high", "low")
    extremes: dict[str, int] = {}
    for n in (20, 60):
        hi, lo = new_extremes(adj["high"], adj["low"], n)
        extremes[f"new_high_{n}"] = int(hi.sum())
        extremes[f"new_low_{n}"] = int(lo.sum())
    turnover = turnover_vs_mean(panel["amount"], 20)

    prev = panel.dates[-2] if len(panel.dates) > 1 else None
    start, end = _news_window(prev, trade_date)
    news = _load_news(db, start, end)
    scores = validate_scores(scorer.score([news_text(d) for d in news]), len(news), scorer) if news else []
    per_stock: dict[str, list[float]] = {}
    for doc, s in zip(news, scores, strict=True):
        for sym in set(doc.get("symbols") or []):
            per_stock.setdefault(sym, []).append(s)
    stock_rows = sorted(
        ({"symbol": sym, "news_count": len(v), "sentiment": round(float(np.mean(v)), 4)} for sym, v in per_stock.items()),
        key=lambda r: (-r["news_count"], -abs(r["sentiment"]), r["symbol"]),
    )
    market_score = float(np.mean(scores)) if scores else None
    doc = {
        "trade_date": trade_date,
        **counts,
        "advance_decline_ratio": (counts["advancers"] / counts["decliners"]) if counts["decliners"] else None,
        **extremes,
        **turnover,
        "news_window_start": start,
        "news_window_end": end,
        "news_count": len(news),
        "news_positive": sum(1 for s in scores if sentiment_label(s) == "positive"),
        "news_negative": sum(1 for s in scores if sentiment_label(s) == "negative"),
        "news_sentiment": None if market_score is None else round(market_score, 4),
        "news_stocks": len(stock_rows),
        "stock_news_sentiment": stock_rows[:top_stocks],
        "sentiment_model": model,
        "data_source": source,
    }
    res = write_docs(db[C.MARKET_SENTIMENT], [doc], natural_ids=False)
    _record_ledger(db, "sentiment", trade_date, 1, db[C.MARKET_SENTIMENT].count_documents({"trade_date": trade_date}), source)
    log.info("market sentiment %s: %s up / %s down, %s news (%s)", trade_date, counts["advancers"], counts["decliners"], len(news), model)
    summary = {k: doc[k] for k in ("trade_date", "stocks", "advancers", "decliners", "limit_up", "limit_down",
                                   "news_count", "news_sentiment")}
    return {**summary, **res.as_dict()}


# --- hot stocks --------------------------------------------------------------------------------


def compute_hot_stocks(db: Database, trade_date: str, top_n: int = 50) -> dict[str, Any]:
    """Rank stocks by the hot score (``analytics.hot_stocks``) and upsert the top ``top_n`` of
    ``trade_date`` into ``hot_stocks`` (ranks 1…n; ranks above n left by an earlier, longer run
    are removed so a re-run leaves exactly this ranking).

    :raises BarsMissingError: the store has no bars for ``trade_date``
    """
    from ta_scheduler.analytics.hot_stocks import hot_scores

    check_trade_date(trade_date)
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n}")
    source = _source_for(db, trade_date)
    fields = ["close", "pre_close", "pct_chg", "volume", "amount", "adj_factor", "up_limit", "down_limit", "turnover_rate"]
    panel = _load_bars(db, trade_date, 6, fields, source)
    names = _names(db, panel.symbols.tolist())
    up, _down = _limits(panel, names)
    prev = panel.dates[-2] if len(panel.dates) > 1 else None
    mentions_by = _mentions(_load_news(db, *_news_window(prev, trade_date)))
    mentions = np.array([mentions_by.get(s, 0) for s in panel.symbols], dtype=float)
    close_adj = forward_adjust(panel["close"], panel["adj_factor"])
    frame = hot_scores(panel.symbols, close_adj, panel["volume"], panel["amount"], up, mentions).head(top_n)
    row = {s: i for i, s in enumerate(panel.symbols)}
    idx = np.array([row[s] for s in frame["symbol"]], dtype=int)
    columns = {
        "rank": list(range(1, len(frame) + 1)),
        "symbol": frame["symbol"].tolist(),
        "name": [names.get(s) for s in frame["symbol"]],
        "hot_score": _clean(frame["hot_score"].to_numpy(), 4),
        "close": _clean(panel["close"][idx, -1], 4),
        "pct_chg": _clean(panel["pct_chg"][idx, -1], 4),
        "amount": _clean(frame["amount"].to_numpy(), 2),
        "turnover_rate": _clean(panel["turnover_rate"][idx, -1], 4),
        "volume_surge": _clean(frame["volume_surge"].to_numpy(), 4),
        "momentum_5d_pct": _clean(frame["momentum_5d_pct"].to_numpy(), 4),
        "limit_up_days_5": frame["limit_up_days_5"].tolist(),
        "news_mentions": frame["news_mentions"].tolist(),
        "components": [
            {k[5:]: round(float(v), 4) for k, v in rec.items()}
            for rec in frame[[c for c in frame.columns if c.startswith("part_")]].to_dict("records")
        ],
    }
    res = write_docs(db[C.HOT_STOCKS], docs_from_columns(columns, {"trade_date": trade_date, "data_source": source}),
                     natural_ids=False)
    stale = delete_where(db[C.HOT_STOCKS], {"trade_date": trade_date, "rank": {"$gt": len(frame)}})
    top = frame["symbol"].iloc[0] if len(frame) else None
    log.info("hot stocks %s: %s ranked (top %s), %s stale ranks removed", trade_date, len(frame), top, stale)
    return {"trade_date": trade_date, "ranked": len(frame), "top_symbol": top, "stale_removed": stale, **res.as_dict()}


# --- risk --------------------------------------------------------------------------------------


def _index_closes(db: Database, ts_codes: list[str], dates: list[str]) -> Panel:
    import pandas as pd

    cursor = db[C.INDEX_DAILY].find(
        {"ts_code": {"$in": ts_codes}, "trade_date": {"$gte": dates[0], "$lte": dates[-1]}},
        {"_id": 0, "ts_code": 1, "trade_date": 1, "close": 1, "data_source": 1},
    )
    frame = pd.DataFrame(list(cursor))
    if frame.empty:
        return Panel(np.array([], dtype=object), dates, {"close": np.empty((0, len(dates)))})
    frame["_pref"] = frame.get("data_source", pd.Series(index=frame.index, dtype=object)).map(SOURCE_RANK).fillna(len(SOURCE_RANK))
    frame = frame.sort_values("_pref", ascending=False)  # preferred source last: it wins the pivot
    return panel_from_frame(frame, ["close"], row_key="ts_code", dates=dates)


def _risk_doc(subject_type: str, subject_id: str, metrics: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"subject_type": subject_type, "subject_id": subject_id, "n_obs": int(metrics["n_obs"][i])}
    for key in ("mean_daily", "volatility_ann", "beta", "correlation", "var_95", "cvar_95", "max_drawdown"):
        v = float(metrics[key][i])
        doc[key] = round(v, 6) if math.isfinite(v) else None
    return doc


def compute_risk(db: Database, as_of: str, lookback: int = 250, *, min_obs: int = 60,
                 from_columns: bool = True) -> dict[str, Any]:
    """Compute and upsert ``risk_assessments`` for every stock and every ``portfolios`` entry.

    Uses the last ``lookback`` trading days of returns up to ``as_of`` (a day with bars; the
    weekly DAG passes :func:`latest_trade_date_with_bars`). Stocks with fewer than ``min_obs``
    returns are skipped (counted). Betas are against CSI 300 (a portfolio's own ``benchmark``
    when it names an index that is stored). Past days of the window are read from their column
    documents (``from_columns=False``: from every bar of the window; the same documents).

    :raises BarsMissingError: no bars on ``as_of``, or CSI 300 has no close on ``as_of``
    """
    from ta_scheduler.analytics.risk import portfolio_returns, risk_metrics, simple_returns

    check_trade_date(as_of)
    if lookback < 2:
        raise ValueError(f"lookback must be at least 2 trading days, got {lookback}")
    source = _source_for(db, as_of)
    panel = _window(db, as_of, lookback + 1, ["close", "adj_factor"], source, from_columns=from_columns)
    prices = forward_adjust(panel["close"], panel["adj_factor"])
    returns = simple_returns(prices)[:, 1:]
    if returns.shape[1] < min_obs:  # a new deployment: too little history yet, whatever the indices hold
        log.warning("risk %s: only %d daily returns stored (< %d needed): nothing assessed; backfill daily_sync",
                    as_of, returns.shape[1], min_obs)
        return {"as_of": as_of, "stocks": 0, "portfolios": 0, "observations": int(returns.shape[1]),
                "skipped": f"only {returns.shape[1]} daily returns (< {min_obs})"}
    portfolios = list(db[C.PORTFOLIOS].find({}, {"_id": 0}))
    benchmarks = sorted({CSI300} | {p.get("benchmark") for p in portfolios if p.get("benchmark")})
    index = _index_closes(db, benchmarks, panel.dates)
    index_returns = {s: simple_returns(index["close"][i])[0, 1:] for i, s in enumerate(index.symbols)}
    if CSI300 not in index_returns or not np.isfinite(index["close"][index.row(CSI300), -1]):
        raise BarsMissingError(f"{C.INDEX_DAILY} has no {CSI300} close on {as_of}; run daily_sync (indices) first")
    market = index_returns[CSI300]
    common = {"as_of": as_of, "lookback": lookback, "start_date": panel.dates[1] if len(panel.dates) > 1 else as_of,
              "end_date": as_of, "return_basis": "simple", "data_source": source}

    metrics = risk_metrics(returns, market, prices[:, 1:])
    ok = (metrics["n_obs"] >= min_obs) & np.isfinite(prices[:, -1])
    docs = [{**_risk_doc("stock", str(panel.symbols[i]), metrics, i), "benchmark": CSI300, **common} for i in np.flatnonzero(ok)]

    row_of = {str(s): i for i, s in enumerate(panel.symbols)}
    problems: list[str] = []
    for p in portfolios:
        pid = str(p.get("portfolio_id"))
        weights = {str(h.get("symbol")): float(h.get("weight") or 0.0) for h in p.get("holdings") or []}
        bench = p.get("benchmark") if p.get("benchmark") in index_returns else CSI300
        port, used, missing = portfolio_returns(returns, row_of, weights)
        if not used:
            problems.append(pid)
            log.warning("portfolio %s: none of its holdings %s has bars up to %s; skipped", pid, sorted(weights), as_of)
            continue
        if missing:
            log.warning("portfolio %s: holdings without bars %s left out; weights re-normalised", pid, missing)
        m = risk_metrics(port[None, :], index_returns[bench])
        docs.append({**_risk_doc("portfolio", pid, m, 0), "name": p.get("name"), "benchmark": bench,
                     "holdings_used": [{"symbol": s, "weight": round(w, 6)} for s, w in used.items()],
                     "missing_symbols": missing, **common})
    res = write_docs(db[C.RISK_ASSESSMENTS], docs, natural_ids=False)
    _record_ledger(db, "risk", as_of, len(docs) + len(problems), db[C.RISK_ASSESSMENTS].count_documents({"as_of": as_of}), source)
    n_port = sum(1 for d in docs if d["subject_type"] == "portfolio")
    log.info("risk %s: %s stocks (%s skipped, < %s returns), %s portfolios", as_of, len(docs) - n_port, int((~ok).sum()), min_obs, n_port)
    return {"as_of": as_of, "stocks": len(docs) - n_port, "stocks_skipped": int((~ok).sum()), "portfolios": n_port,
            "portfolios_skipped": problems, **res.as_dict()}
