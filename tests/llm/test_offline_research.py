"""The offline provider: rule-based research, labelled as such, with no LLM involved."""

from __future__ import annotations

from llm_testdata import ANALYSIS_DATE, SYMBOLS
from ta_scheduler.llm.context import ResearchContext
from ta_scheduler.llm.offline import OFFLINE_LABEL, offline_research, text_tone
from ta_scheduler.llm.research import run_stock_research


def make_context(closes: list[float], *, pe: float, news: list[str], indicators: dict | None = None) -> ResearchContext:
    bars = [
        {"trade_date": f"2026-{9 + i // 28:02d}-{1 + i % 28:02d}", "close": c, "volume": 1e6, "adj_factor": 1.0,
         "pe_ttm": pe, "pb": 1.5}
        for i, c in enumerate(closes)
    ]  # fmt: skip
    return ResearchContext(
        code="600000", ts_code="600000.SH", analysis_date=bars[-1]["trade_date"], name="测试股", industry=None,
        bars=bars, indicators=indicators or {}, news=[{"title": t} for t in news],
    )  # fmt: skip


def test_uptrend_cheap_and_good_news_is_a_buy():
    ctx = make_context([10 + 0.1 * i for i in range(60)], pe=10.0, news=["公司业绩超预期，订单增长"])

    res = offline_research(ctx)

    # trend +2 (close > MA5 > MA20 > MA60), MACD DIF > DEA +1, RSI 100 overbought -1, PE 10 +1, news +1
    assert res.scores == {"trend": 2.0, "momentum": 0.0, "valuation": 1.0, "news": 1.0, "total": 4.0}
    assert res.decision["action"] == "买入" and res.decision["action_en"] == "buy"
    assert res.decision["confidence"] == 0.9
    assert res.risk_level == "低"  # a smooth line has almost no volatility


def test_downtrend_loss_making_and_bad_news_is_a_sell():
    ctx = make_context(
        [20 - 0.1 * i for i in range(60)], pe=-3.0, news=["公司遭立案调查", "业绩预亏"],
        indicators={"macd_dif": -0.2, "macd_dea": -0.1, "rsi6": 45.0},
    )  # fmt: skip

    res = offline_research(ctx)

    assert res.scores == {"trend": -2.0, "momentum": -1.0, "valuation": -1.0, "news": -1.0, "total": -5.0}
    assert res.decision["action"] == "卖出"
    assert "RSI 45.0 中性" in res.reports["market_report"]


def test_lexicon_tone_counts_positive_and_negative_words():
    assert text_tone("业绩增长，订单增长") == 1.0
    assert text_tone("股东减持，业绩下滑") == -1.0
    assert text_tone("业绩增长但股东减持") == 0.0
    assert text_tone("公司召开股东大会") == 0.0


def test_offline_batch_stores_labelled_rule_based_reports(market_db, llm_env):
    results = [
        run_stock_research(market_db, s, analysis_date=ANALYSIS_DATE, llm_provider="offline", research_depth=5)
        for s in SYMBOLS
    ]

    assert llm_env.calls == []
    assert [r["tokens_used"] for r in results] == [0, 0, 0]
    docs = {d["stock_symbol"]: d for d in market_db["analysis_reports"].find()}
    assert set(docs) == {"600519", "000001", "300750"}
    for doc in docs.values():
        assert doc["model_info"] == "rule-based"
        assert doc["models"] == {"provider": "offline", "quick_model": "rule-based", "deep_model": "rule-based", "method": "rule-based"}
        assert doc["llm_provider"] == "offline" and doc["llm_calls"] == 0
        assert doc["summary"].startswith("【离线规则分析】")
        assert all(text.startswith(OFFLINE_LABEL) for text in doc["reports"].values())
        assert doc["decision"]["parsed_from"] == "rules"
        assert doc["analysis_id"].endswith("_offline_d5")
    # the seeded riser (low PE, good news) and faller (loss, bad news) come out as buy and sell
    assert docs["600519"]["decision"]["action"] == "买入"
    assert docs["000001"]["decision"]["action"] == "卖出"
