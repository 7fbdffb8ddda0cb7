"""The daily market report: its figures are the store's, it is idempotent, it waits for analysis."""

from __future__ import annotations

import pytest
from report_seed import DAYS, LIMIT_DOWN, LIMIT_UP, NAMES, T, seed_market
from ta_scheduler.constants import Collections as C
from ta_scheduler.reports.daily import build_daily_report, change_buckets
from ta_scheduler.reports.errors import AnalysisMissingError


def _report(db):
    return db[C.REPORTS].find_one({"kind": "daily", "report_date": T})


def test_report_shows_the_index_closes_breadth_and_top_gainer_from_the_store(market):
    build_daily_report(market, T)
    doc = _report(market)
    csi = market[C.INDEX_DAILY].find_one({"ts_code": "000300.SH", "trade_date": T})
    sentiment = market[C.MARKET_SENTIMENT].find_one({"trade_date": T})
    bars = list(market[C.STOCK_DAILY_QUOTES].find({"trade_date": T}))
    best = max(bars, key=lambda b: b["pct_chg"])

    csi_summary = next(i for i in doc["summary"]["indices"] if i["ts_code"] == "000300.SH")
    assert csi_summary["close"] == csi["close"] and csi_summary["pct_chg"] == pytest.approx(csi["pct_chg"])
    assert doc["summary"]["advancers"] == sentiment["advancers"] == sum(b["close"] > b["pre_close"] + 0.005 for b in bars)
    assert doc["summary"]["top_gainer"]["symbol"] == best["symbol"] == LIMIT_UP
    assert f"{csi['close']:,.2f}" in doc["html"] and f"{csi['close']:,.2f}" in doc["markdown"]
    assert f"| {best['symbol']} | {NAMES[best['symbol']]} |" in doc["markdown"]
    assert f"**上涨**: {sentiment['advancers']}" in doc["markdown"]


def test_limit_lists_name_the_stocks_at_their_limits(market):
    build_daily_report(market, T)
    doc = _report(market)
    assert doc["summary"]["limit_up_symbols"] == [LIMIT_UP] and doc["summary"]["limit_down_symbols"] == [LIMIT_DOWN]
    assert f"涨停：{NAMES[LIMIT_UP]}({LIMIT_UP})" in doc["markdown"]


def test_sector_table_averages_pct_chg_by_industry(market):
    build_daily_report(market, T)
    bars = {b["symbol"]: b["pct_chg"] for b in market[C.STOCK_DAILY_QUOTES].find({"trade_date": T})}
    industry = {d["code"]: d["industry"] for d in market[C.STOCK_BASIC_INFO].find()}
    best = _report(market)["summary"]["best_sector"]
    members = [v for s, v in bars.items() if industry[s] == best["industry"]]
    means = {ind: sum(v for s, v in bars.items() if industry[s] == ind) / sum(1 for s in bars if industry[s] == ind)
             for ind in set(industry.values())}
    assert best["mean_pct_chg"] == pytest.approx(sum(members) / len(members))
    assert best["industry"] == max(means, key=means.get)


def test_notable_news_are_the_sessions_titles(market):
    build_daily_report(market, T)
    md = _report(market)["markdown"]
    assert "宁德时代业绩大幅增长，股价涨停" in md and "旧闻" not in md


def test_report_is_stored_once_per_day_with_its_files(market, reports_dir):
    first = build_daily_report(market, T)
    created = _report(market)["created_at"]
    again = build_daily_report(market, T)
    assert first["files"] == again["files"] == {"html": f"daily/{T}.html", "md": f"daily/{T}.md"}
    assert market[C.REPORTS].count_documents({}) == 1
    doc = _report(market)
    assert doc["created_at"] == created
    assert (reports_dir / "daily" / f"{T}.html").read_text(encoding="utf-8") == doc["html"]
    assert (reports_dir / "daily" / f"{T}.md").read_text(encoding="utf-8") == doc["markdown"]
    assert sorted(p.name for p in (reports_dir / "daily").iterdir()) == [f"{T}.html", f"{T}.md"]


def test_html_is_self_contained(market):
    build_daily_report(market, T)
    html = _report(market)["html"]
    assert html.count('src="data:image/png;base64,') >= 5
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_missing_analysis_names_the_day(mongo_db, reports_dir):
    seed_market(mongo_db, with_analysis=False)
    with pytest.raises(AnalysisMissingError, match=rf"daily report {T}: no market_sentiment / technical_indicators for {T}"):
        build_daily_report(mongo_db, T)
    assert mongo_db[C.REPORTS].count_documents({}) == 0
    assert DAYS[-1] == T


def test_change_buckets_count_each_stock_once():
    counts = dict(change_buckets([-10.0, -9.0, -0.5, 0.0, 0.5, 1.0, 9.0, 20.0, float("nan")]))
    assert (counts["≤-9%"], counts["-1~0"], counts["0"], counts["0~1"], counts["1~3"], counts["≥9%"]) == (2, 1, 1, 1, 1, 2)
    assert sum(counts.values()) == 8


def test_a_stock_name_with_markup_is_escaped_in_the_page_and_verbatim_in_the_markdown(market):
    name = "<script>alert('x')</script>&Co"
    market[C.STOCK_BASIC_INFO].update_one({"code": LIMIT_UP}, {"$set": {"name": name}})
    build_daily_report(market, T)
    doc = _report(market)
    assert "<script" not in doc["html"]
    assert f"<td>{LIMIT_UP}</td><td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;Co</td>" in doc["html"]
    assert f"涨停：&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;Co({LIMIT_UP})" in doc["html"]
    assert f"| {LIMIT_UP} | {name} |" in doc["markdown"] and f"涨停：{name}({LIMIT_UP})" in doc["markdown"]
