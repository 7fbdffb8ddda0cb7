"""The daily report's data-completeness section, and figures computed over a window that say
their window is incomplete instead of printing a number built on missing days."""

from __future__ import annotations

from report_seed import T
from ta_scheduler.constants import Collections as C
from ta_scheduler.reports.daily import build_daily_report, window_gaps
from ta_scheduler.storage import ledger


def _report(db):
    return db[C.REPORTS].find_one({"kind": "daily", "report_date": T})


def test_complete_windows_print_their_figures(market):
    build_daily_report(market, T)
    doc = _report(market)
    sentiment = market[C.MARKET_SENTIMENT].find_one({"trade_date": T})
    assert doc["summary"]["incomplete_windows"] == {}
    assert doc["summary"]["amount_ratio_20"] == sentiment["amount_ratio_20"]
    assert "## 数据完整性" in doc["markdown"]
    assert "| 日线行情（daily_bars） | 20 / 20 | — |" in doc["markdown"]
    assert "本报告所有按窗口计算的指标，其窗口内数据均完整。" in doc["markdown"]
    assert "窗口不完整" not in doc["markdown"] and "窗口不完整" not in doc["html"]


def test_a_gap_in_the_20_day_window_withholds_the_turnover_ratio_and_new_highs(market):
    days = ledger.trading_days_ending(T, 61)
    hole = days[-8]
    ledger.record(market, "daily_bars", hole, expected=20, stored=2, data_source="demo")
    build_daily_report(market, T)
    doc = _report(market)
    summary = doc["summary"]
    assert summary["incomplete_windows"] == {"amount_ratio_20": [hole], "new_extremes_20": [hole],
                                             "new_extremes_60": [hole], "above_ma20": [hole], "above_ma60": [hole]}
    assert summary["amount_ratio_20"] is None and summary["amount_mean_20"] is None and summary["above_ma20"] is None
    assert summary["advancers"] == market[C.MARKET_SENTIMENT].find_one({"trade_date": T})["advancers"]  # the day itself is complete
    md = doc["markdown"]
    assert "**量能比（今日 / 20日均值）**: 窗口不完整" in md
    assert "**20日新高 / 新低**: 窗口不完整" in md
    assert f"量能比（今日 / 20日均值）：近 21 个交易日中 {hole[5:]} 数据不完整，未给出数值" in md
    assert f"| 日线行情（daily_bars） | 19 / 20 | {hole[5:]} partial |" in md
    assert any("量能比窗口不完整" in line for line in doc["digest"])


def test_a_gap_only_60_days_back_keeps_the_20_day_figures():
    days = ledger.trading_days_ending(T, 61)
    grid = {d: {p: "complete" for p in days} for d in ("daily_bars", "adj_factor", "limit_prices", "indicators")}
    grid["daily_bars"][days[1]] = "missing"
    assert window_gaps(grid) == {"new_extremes_60": [days[1]], "above_ma60": [days[1]]}
    grid["limit_prices"][T] = "not_permitted"
    assert window_gaps(grid)["breadth"] == [T]
