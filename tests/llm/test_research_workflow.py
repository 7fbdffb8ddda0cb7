"""Batch research (job M2) end to end: store inputs → real SDKs → fake LLM → analysis_reports."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from llm_testdata import ANALYSIS_DATE, NAMES, SYMBOLS
from ta_scheduler.llm.base import LLMAuthError
from ta_scheduler.llm.context import NoMarketDataError
from ta_scheduler.llm.params import DEPTHS
from ta_scheduler.llm.research import run_stock_research

REQUIRED_FIELDS = {
    "analysis_id", "stock_symbol", "stock_name", "analysis_date", "summary", "reports", "decision",
    "recommendation", "confidence_score", "risk_level", "key_points", "model_info", "tokens_used",
    "execution_time", "research_depth", "status", "created_at", "updated_at", "data_source", "llm_provider",
}  # fmt: skip
REPORT_SECTIONS = {
    "market_report", "fundamentals_report", "news_report", "investment_debate", "investment_plan",
    "trader_investment_plan", "risk_debate", "final_trade_decision",
    # TradingAgents-CN's per-role keys
    "bull_researcher", "bear_researcher", "research_team_decision", "risky_analyst", "safe_analyst", "neutral_analyst",
    "risk_management_decision",
}  # fmt: skip


def run_batch(db, provider: str, depth: int, **kw) -> list[dict]:
    return [
        run_stock_research(
            db, s, analysis_date=ANALYSIS_DATE, llm_provider=provider, research_depth=depth, run_id="manual__1", **kw
        )
        for s in SYMBOLS
    ]


def expected_calls(provider: str, depth: int, symbols: int) -> Counter:
    plan = DEPTHS[depth]
    return Counter(
        {plan.quick_models[provider]: plan.quick_calls * symbols}
    ) + Counter({plan.deep_models[provider]: plan.deep_calls * symbols})


@pytest.mark.parametrize(
    ("provider", "depth", "calls_by_model"),
    [
        ("dashscope", 1, {"qwen-turbo": 27, "qwen-plus": 6}),
        ("dashscope", 5, {"qwen-max": 63}),
        ("deepseek", 1, {"deepseek-chat": 33}),
        ("deepseek", 5, {"deepseek-chat": 57, "deepseek-reasoner": 6}),
    ],
)
def test_batch_makes_the_llm_calls_its_depth_prescribes(market_db, llm_env, provider, depth, calls_by_model):
    results = run_batch(market_db, provider, depth)

    assert llm_env.calls_by_model() == calls_by_model == expected_calls(provider, depth, len(SYMBOLS))
    assert {c.api for c in llm_env.calls} == {"dashscope" if provider == "dashscope" else "openai"}
    per_symbol = 6 + 2 * DEPTHS[depth].debate_rounds + 3 * DEPTHS[depth].risk_rounds
    assert [r["llm_calls"] for r in results] == [per_symbol] * 3
    assert [r["symbol"] for r in results] == ["600519", "000001", "300750"]
    docs = list(market_db["analysis_reports"].find({}, {"_id": 0}))
    assert len(docs) == 3
    for doc in docs:
        assert doc["llm_calls"] == per_symbol
        assert doc["debate_rounds"] == DEPTHS[depth].debate_rounds
        assert doc["risk_rounds"] == DEPTHS[depth].risk_rounds
        assert doc["models"]["provider"] == provider


def test_stored_document_has_the_tradingagents_fields(market_db, llm_env):
    summary = run_stock_research(
        market_db, "600519", analysis_date=ANALYSIS_DATE, llm_provider="dashscope", research_depth=3, run_id="r1"
    )

    doc = market_db["analysis_reports"].find_one({"analysis_id": summary["analysis_id"]}, {"_id": 0})
    assert REQUIRED_FIELDS <= set(doc)
    assert doc["stock_symbol"] == "600519" and doc["stock_name"] == NAMES["600519"]
    assert doc["analysis_date"] == ANALYSIS_DATE and doc["status"] == "completed"
    assert set(doc["reports"]) == REPORT_SECTIONS
    assert doc["reports"]["investment_debate"].count("【第1轮") == 2  # bull + bear
    assert doc["reports"]["risk_debate"].count("【第2轮") == 3  # aggressive, conservative, neutral
    assert doc["reports"]["bull_researcher"].count("【第") == doc["reports"]["bear_researcher"].count("【第") == 1
    assert [doc["reports"][r].count("【第") for r in ("risky_analyst", "safe_analyst", "neutral_analyst")] == [2, 2, 2]
    assert doc["reports"]["research_team_decision"] == doc["reports"]["investment_plan"]
    assert doc["reports"]["risk_management_decision"] == doc["reports"]["final_trade_decision"]
    decision = doc["decision"]
    assert decision["action"] in {"买入", "持有", "卖出"}
    assert decision["action_en"] == {"买入": "buy", "持有": "hold", "卖出": "sell"}[decision["action"]]
    assert decision["parsed_from"] == "json"
    assert decision["target_price"] > 0 and decision["reasoning"]
    assert 0 <= doc["confidence_score"] <= 1 and doc["confidence_score"] == decision["confidence"]
    assert doc["risk_level"] in {"低", "中低", "中等", "中高", "高"}
    assert decision["risk_score"] == {"低": 0.1, "中低": 0.3, "中等": 0.5, "中高": 0.7, "高": 0.9}[doc["risk_level"]]
    assert len(doc["key_points"]) == 3
    assert doc["model_info"] == "qwen-max"  # a string: TradingAgents-CN's report page lower-cases it
    assert doc["models"] == {"provider": "dashscope", "quick_model": "qwen-plus", "deep_model": "qwen-max", "method": "llm"}
    assert doc["tokens_used"] == doc["token_usage"]["total_tokens"] > 0 and doc["token_usage"]["calls"] == 14
    assert doc["llm_calls_by_model"] == {"qwen-plus": 12, "qwen-max": 2}
    assert doc["execution_time"] > 0 and doc["research_depth"] == 3
    assert doc["data_source"] == "demo" and doc["llm_provider"] == "dashscope" and doc["run_id"] == "r1"
    assert summary == {
        "symbol": "600519",
        "analysis_id": doc["analysis_id"],
        "decision": decision["action"],
        "action": decision["action_en"],
        "confidence": doc["confidence_score"],
        "risk_level": doc["risk_level"],
        "tokens_used": doc["tokens_used"],
        "llm_calls": 14,
        "cost_yuan": doc["cost"]["yuan"],
    }


def test_prompts_carry_the_stores_data_and_nothing_after_the_analysis_date(market_db, llm_env):
    run_stock_research(market_db, "600519", analysis_date=ANALYSIS_DATE, llm_provider="deepseek", research_depth=1)

    first_user = llm_env.requests[0]["messages"][1]["content"]
    last_bar = market_db["stock_daily_quotes"].find_one({"symbol": "600519", "trade_date": ANALYSIS_DATE})
    assert f"最新收盘价：{last_bar['close']:.2f}" in first_user
    assert "贵州茅台（600519.SH）" in first_user
    assert "ma20=" in first_user and "macd_dif=" in first_user  # indicator fields, read generically
    assert "roe=15.50" in first_user and "2026-09-30" in first_user  # latest financial report
    assert "业绩超预期" in first_user  # news
    assert "未来消息" not in first_user and f"数据截至：{ANALYSIS_DATE}" in first_user


def test_retry_of_a_task_overwrites_its_document(market_db, llm_env):
    kw = {"analysis_date": ANALYSIS_DATE, "llm_provider": "dashscope", "research_depth": 1}
    first = run_stock_research(market_db, "600519", run_id="scheduled__a", **kw)
    written = market_db["analysis_reports"].find_one()
    # what a try killed halfway could have left: the retry must replace it, not keep it
    market_db["analysis_reports"].update_one({"_id": written["_id"]}, {"$set": {"status": "failed", "recommendation": "stale"}})

    again = run_stock_research(market_db, "600519.SH", run_id="scheduled__a", **kw)

    assert again["analysis_id"] == first["analysis_id"] == "600519_20261127_dashscope_d1"
    docs = list(market_db["analysis_reports"].find())
    assert len(docs) == 1
    assert docs[0]["created_at"] == written["created_at"] and docs[0]["updated_at"] > written["updated_at"]
    timing = {"updated_at": None, "execution_time": None}  # the moment and the duration of each run
    assert {**docs[0], **timing} == {**written, **timing}


def test_other_depth_or_provider_is_a_separate_document(market_db, llm_env):
    for provider, depth in [("dashscope", 1), ("dashscope", 2), ("deepseek", 1)]:
        run_stock_research(market_db, "300750", analysis_date=ANALYSIS_DATE, llm_provider=provider, research_depth=depth)

    assert market_db["analysis_reports"].count_documents({"stock_symbol": "300750"}) == 3


def test_rate_limit_during_research_is_retried_and_the_report_completes(market_db, llm_env):
    llm_env.fail_next(2, "rate_limit")

    result = run_stock_research(market_db, "000001", analysis_date=ANALYSIS_DATE, llm_provider="dashscope", research_depth=1)

    assert result["llm_calls"] == 11
    statuses = Counter(c.status for c in llm_env.calls)
    assert statuses == {200: 11, 429: 2}


def test_invalid_key_fails_the_research_without_storing_or_logging_the_key(market_db, llm_env, monkeypatch, caplog):
    secret = "sk-live-SECRET-999"
    monkeypatch.setenv("DASHSCOPE_API_KEY", secret)

    with caplog.at_level(logging.DEBUG), pytest.raises(LLMAuthError, match="InvalidApiKey") as err:
        run_stock_research(market_db, "000001", analysis_date=ANALYSIS_DATE, llm_provider="dashscope", research_depth=2)

    assert secret not in str(err.value) and secret not in caplog.text
    assert len(llm_env.calls) == 1
    assert market_db["analysis_reports"].count_documents({}) == 0


def test_models_follow_params_over_the_depth_table(market_db, llm_env):
    run_stock_research(
        market_db, "300750", analysis_date=ANALYSIS_DATE, llm_provider="dashscope", research_depth=1,
        quick_model="qwen3-flash", deep_model="qwen3-max",
    )  # fmt: skip

    assert llm_env.calls_by_model() == {"qwen3-flash": 9, "qwen3-max": 2}
    doc = market_db["analysis_reports"].find_one()
    assert doc["models"]["quick_model"] == "qwen3-flash" and doc["models"]["deep_model"] == "qwen3-max"


def test_models_follow_env_configuration(market_db, llm_env, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_DEEP_MODEL", "deepseek-v4-pro")

    run_stock_research(market_db, "300750", analysis_date=ANALYSIS_DATE, llm_provider="deepseek", research_depth=1)

    assert llm_env.calls_by_model() == {"deepseek-chat": 9, "deepseek-v4-pro": 2}


def test_symbol_without_bars_fails_with_a_clear_message(market_db, llm_env):
    with pytest.raises(NoMarketDataError, match=r"688981: no daily bars up to 2026-11-27 .* run daily_sync"):
        run_stock_research(market_db, "688981", analysis_date=ANALYSIS_DATE, llm_provider="dashscope", research_depth=1)

    assert llm_env.calls == []


def test_bad_params_are_refused_before_any_work(market_db, llm_env):
    with pytest.raises(ValueError, match="research_depth: 9 breaks maximum is 5"):
        run_stock_research(market_db, "600519", analysis_date=ANALYSIS_DATE, llm_provider="dashscope", research_depth=9)
    with pytest.raises(ValueError, match="analysis_date"):
        run_stock_research(market_db, "600519", analysis_date="20261127", llm_provider="dashscope", research_depth=1)

    assert llm_env.calls == []
