"""The weekly portfolio report: returns from adjusted closes, contributions, risk and its source."""

from __future__ import annotations

import pytest
from report_seed import DAYS, T, seed_market, seed_portfolio
from ta_scheduler.constants import Collections as C
from ta_scheduler.reports.errors import AnalysisMissingError
from ta_scheduler.reports.weekly import build_weekly_report

SUNDAY = "2026-11-29"
WEEK_BASE = "2026-11-20"  # the Friday before the week of T (2026-11-27)


def _adj_close(db, symbol, day):
    b = db[C.STOCK_DAILY_QUOTES].find_one({"symbol": symbol, "trade_date": day})
    return b["close"] * b["adj_factor"]


@pytest.fixture
def book(mongo_db, reports_dir):
    seed_market(mongo_db, with_analysis=False)
    return mongo_db


def _summary(db):
    doc = db[C.REPORTS].find_one({"kind": "weekly", "report_date": SUNDAY})
    return doc, doc["summary"]["portfolios"][0]


def test_weekly_returns_and_contributions_come_from_adjusted_closes(book):
    portfolio = seed_portfolio(book)
    out = build_weekly_report(book, SUNDAY)
    doc, p = _summary(book)
    assert out["as_of"] == T and doc["as_of"] == T and p["week_base_date"] == WEEK_BASE
    for h, c in zip(portfolio["holdings"], p["contributions"], strict=True):
        r = _adj_close(book, h["symbol"], T) / _adj_close(book, h["symbol"], WEEK_BASE) - 1
        assert c["symbol"] == h["symbol"] and c["week_return"] == pytest.approx(r)
        assert c["contribution"] == pytest.approx(h["weight"] * r)
    csi = {d["trade_date"]: d["close"] for d in book[C.INDEX_DAILY].find({"ts_code": "000300.SH"})}
    assert p["bench_week_return"] == pytest.approx(csi[T] / csi[WEEK_BASE] - 1)
    # daily rebalancing: close to, but not exactly, the sum of contributions
    assert p["week_return"] == pytest.approx(sum(c["contribution"] for c in p["contributions"]), abs=0.01)
    assert f"{p['week_return'] * 100:+.2f}%" in doc["markdown"]


def test_risk_comes_from_the_latest_risk_assessment(book):
    seed_portfolio(book, with_risk=True)
    build_weekly_report(book, SUNDAY)
    _, p = _summary(book)
    stored = book[C.RISK_ASSESSMENTS].find_one({"subject_type": "portfolio", "subject_id": "core"})
    assert p["risk"]["volatility_ann"] == stored["volatility_ann"] and p["risk"]["beta"] == stored["beta"]
    assert p["risk_source"].startswith(f"risk_assessments（截至 {T}")


def test_risk_is_computed_and_labelled_without_a_risk_assessment(book):
    seed_portfolio(book, with_risk=False)
    doc = build_weekly_report(book, SUNDAY)
    stored, p = _summary(book)
    assert p["risk_source"].startswith("本报告计算") and p["risk"]["n_obs"] == len(DAYS) - 1
    assert 0 < p["risk"]["volatility_ann"] < 2 and p["risk"]["var_95"] > 0 and p["risk"]["max_drawdown"] > 0
    assert "本报告计算" in stored["markdown"] and doc["portfolios"] == 1


def test_weekly_report_charts_nav_and_drawdown(book):
    seed_portfolio(book)
    build_weekly_report(book, SUNDAY)
    doc, _ = _summary(book)
    assert doc["html"].count('src="data:image/png;base64,') == 2  # NAV + drawdown, contributions
    assert "净值与回撤" in doc["html"]


def test_weekly_report_without_bars_names_the_date(mongo_db, reports_dir):
    with pytest.raises(AnalysisMissingError, match="weekly report 2026-11-29: no daily bars on or before 2026-11-29"):
        build_weekly_report(mongo_db, SUNDAY)


def test_a_hole_in_the_week_withholds_the_weeks_figures_and_the_risk(book):
    """A partial day inside the week (and so inside the year and the risk's returns) prints
    窗口不完整 instead of numbers built on it; a day before the ledger's first entry is no hole."""
    from ta_scheduler.storage import ledger

    seed_portfolio(book, with_risk=True)
    build_weekly_report(book, SUNDAY)
    _, complete = _summary(book)
    assert complete["incomplete_windows"] == {} and complete["week_return"] is not None
    hole = "2026-11-25"
    ledger.record(book, "daily_bars", hole, expected=20, stored=2, data_source="demo")
    build_weekly_report(book, SUNDAY)
    doc, p = _summary(book)
    assert p["incomplete_windows"] == {"week": [hole], "ytd": [hole], "risk": [hole]}
    assert (p["week_return"], p["bench_week_return"], p["excess_week"], p["ytd_return"], p["excess_ytd"]) == (None,) * 5
    assert set(p["risk"].values()) == {None}
    assert all(c["week_return"] is None and c["contribution"] is None for c in p["contributions"])
    assert "**本周收益**: 窗口不完整" in doc["markdown"] and "| 年化波动率 | 窗口不完整 |" in doc["markdown"]
    assert "本周收益的窗口中 11-25 数据不完整，未给出数值" in doc["markdown"]
    # the complete case above had days before the ledger's first entry in its year and risk
    # windows (the history's start: no holes); a day deleted inside the history is missing
    book[ledger.COLLECTION].delete_one({"_id": f"daily_bars|{hole}"})
    first = min(d["period"] for d in book[ledger.COLLECTION].find({"dataset": "daily_bars"}))
    assert first > "2026-01-02"
    build_weekly_report(book, SUNDAY)
    _, again = _summary(book)
    assert again["incomplete_windows"] == {"week": [hole], "ytd": [hole], "risk": [hole]}  # deleted = missing
