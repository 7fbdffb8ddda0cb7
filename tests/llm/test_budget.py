"""Token and cost control of batch research (llm.budget): usage and cost as the provider reported
them, the pre-batch estimate and approval decision, per-day budgets and the consecutive-failure
stop — real SDKs against the fake LLM server, over the real store."""

from __future__ import annotations

import json
import logging

import pytest
from llm_testdata import ANALYSIS_DATE, SYMBOLS
from ta_scheduler.llm.base import LLMRetryableError
from ta_scheduler.llm.budget import (
    ResearchNotStarted,
    plan_batch,
    run_budgeted_research,
    shanghai_day,
    spent,
    usage_by_provider,
)
from ta_scheduler.llm.clients import DashScopeChat, DeepSeekChat
from ta_scheduler.llm.pricing import DEFAULT_PRICES
from ta_scheduler.llm.research import run_stock_research
from ta_scheduler.reports.daily import llm_usage_section
from ta_scheduler.reports.render import Section, Table, Text

MODELS = {"dashscope": ("qwen-turbo", "qwen-plus"), "deepseek": ("deepseek-chat", "deepseek-chat")}
NO_LIMITS = {"run_budget_yuan": None, "run_budget_tokens": None, "day_budget_yuan": None, "day_budget_tokens": None}


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    """Budgets and prices from their documented defaults, whatever the test metadata DB holds."""
    monkeypatch.setenv("TA_LLM_PRICES", "{}")
    monkeypatch.setenv("TA_LLM_BUDGET", "{}")


def params(provider: str = "dashscope", **kw) -> dict:
    return {"llm_provider": provider, "research_depth": 1, **kw}


def expected_cost(usage_by_model: dict, prices=DEFAULT_PRICES) -> dict:
    by_model = []
    for model in sorted(usage_by_model):
        u = usage_by_model[model]
        p = prices.get(model, prices["*"])
        yuan = round((u["input_tokens"] * p["input"] + u["output_tokens"] * p["output"]) / 1e6, 6)
        by_model.append({"model": model, "calls": u["calls"], "input_tokens": u["input_tokens"],
                         "output_tokens": u["output_tokens"], "yuan": yuan})  # fmt: skip
    return {"yuan": round(sum(m["yuan"] for m in by_model), 6), "currency": "CNY", "by_model": by_model}


def batch_for(db, symbols=SYMBOLS, **kw) -> dict:
    p = params(**kw)
    quick, deep = MODELS[p["llm_provider"]] if p["llm_provider"] != "offline" else ("rule-based", "rule-based")
    return plan_batch(db, p, list(symbols), quick, deep)


def research(db, symbol, batch, *, run_id="manual__r1", try_number=1, approved=False):
    return run_budgeted_research(
        db, symbol, batch=batch, approved=approved, run_id=run_id, try_number=try_number, analysis_date=ANALYSIS_DATE
    )


@pytest.mark.parametrize("provider", ["dashscope", "deepseek"])
def test_usage_and_cost_stored_equal_what_the_provider_returned(market_db, llm_env, provider):
    run_stock_research(market_db, "600519", analysis_date=ANALYSIS_DATE, llm_provider=provider, research_depth=1)

    returned = llm_env.usage_by_model()
    doc = market_db["analysis_reports"].find_one({}, {"_id": 0})
    inp = sum(u["input_tokens"] for u in returned.values())
    out = sum(u["output_tokens"] for u in returned.values())
    assert doc["token_usage"] == {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out, "calls": 11}
    assert doc["cost"] == expected_cost(returned)
    assert doc["tokens_used"] == inp + out and doc["llm_provider"] == provider


def test_cost_follows_the_configured_price_table(market_db, llm_env, monkeypatch):
    prices = {"qwen-turbo": {"input": 1000.0, "output": 2000.0}}
    monkeypatch.setenv("TA_LLM_PRICES", json.dumps(prices))

    run_stock_research(market_db, "600519", analysis_date=ANALYSIS_DATE, llm_provider="dashscope", research_depth=1)

    doc = market_db["analysis_reports"].find_one()
    assert doc["cost"] == expected_cost(llm_env.usage_by_model(), {**DEFAULT_PRICES, **prices})


def test_bad_price_table_is_refused_with_its_origin(market_db, llm_env, monkeypatch):
    monkeypatch.setenv("TA_LLM_PRICES", json.dumps({"qwen-max": {"input": -1, "output": 2}}))

    with pytest.raises(ValueError, match=r"env TA_LLM_PRICES: price of 'qwen-max'"):
        batch_for(market_db)


def test_batch_within_budget_needs_no_approval(market_db, llm_env):
    batch = batch_for(market_db)

    # prior: 11 calls × (4000 in + 600 out); 9 on qwen-turbo, 2 on qwen-plus
    per_symbol_yuan = round((9 * (4000 * 0.3 + 600 * 0.6) + 2 * (4000 * 0.8 + 600 * 2.0)) / 1e6, 6)
    assert batch["tokens_per_symbol"] == 11 * 4600 and batch["yuan_per_symbol"] == per_symbol_yuan
    assert batch["tokens"] == 3 * 11 * 4600 and batch["yuan"] == round(3 * per_symbol_yuan, 6)
    assert batch["basis"].startswith("prior 4000 input + 600 output tokens per call")
    assert batch["needs_approval"] is False and batch["reasons"] == []


def test_batch_above_its_run_budget_needs_approval_with_the_estimate_shown(market_db, llm_env):
    batch = batch_for(market_db, run_budget_yuan=0.01, run_budget_tokens=100_000)

    assert batch["needs_approval"] is True
    assert batch["reasons"] == [
        "estimate 151,800 tokens > run budget 100,000 tokens",
        f"estimate {batch['yuan']:.4f} 元 > run budget 0.0100 元",
    ]
    text = batch["approval_text"]
    assert f"**151,800 tokens / {batch['yuan']:.4f} 元**" in text and "600519, 000001.SZ, 300750" in text
    assert "run 100,000 tokens / 0.0100 元" in text
    assert "no answer within 60 minutes" in text


def test_estimate_uses_recorded_averages_once_there_are_enough(market_db, llm_env):
    first = batch_for(market_db, **NO_LIMITS)
    for symbol in SYMBOLS:
        research(market_db, symbol, first, run_id="manual__r0")
    returned = llm_env.usage_by_model()

    again = batch_for(market_db)

    calls = sum(u["calls"] for u in returned.values())
    per_in = sum(u["input_tokens"] for u in returned.values()) / calls
    per_out = sum(u["output_tokens"] for u in returned.values()) / calls
    assert again["basis"] == "average of 3 recorded dashscope depth-1 researches"
    assert again["tokens_per_symbol"] == round(11 * (per_in + per_out))
    assert again["yuan_per_symbol"] == round(
        (9 * (per_in * 0.3 + per_out * 0.6) + 2 * (per_in * 0.8 + per_out * 2.0)) / 1e6, 6
    )


def test_day_budget_stops_symbols_once_spent(market_db, llm_env):
    warmup = batch_for(market_db, **NO_LIMITS)
    for symbol in SYMBOLS:  # another run earlier today: spends, and gives the estimate an average
        research(market_db, symbol, warmup, run_id="manual__r0")
    today = spent(market_db, day=shanghai_day())
    per_symbol = batch_for(market_db)["yuan_per_symbol"]
    llm_env.reset()

    batch = batch_for(market_db, day_budget_yuan=today.yuan + 1.5 * per_symbol)
    assert batch["needs_approval"] is True  # 3 symbols do not fit: the run would have waited for approval
    first = research(market_db, "600519", batch)
    with pytest.raises(ResearchNotStarted, match=rf"000001.SZ: not started — it would cross the day {shanghai_day()} budget"):
        research(market_db, "000001.SZ", batch)
    with pytest.raises(ResearchNotStarted, match="300750: not started"):
        research(market_db, "300750", batch)

    assert first["llm_calls"] == 11 and sum(u["calls"] for u in llm_env.usage_by_model().values()) == 11
    ledger = list(market_db["llm_usage"].find({"run_id": "manual__r1"}, {"_id": 0, "symbol": 1, "status": 1}))
    assert ledger == [{"symbol": "600519", "status": "completed"}]
    assert spent(market_db, day=shanghai_day()).yuan == round(today.yuan + first["cost_yuan"], 6)


def test_approved_batch_may_spend_its_estimate_beyond_the_day_budget(market_db, llm_env):
    batch = batch_for(market_db, day_budget_yuan=0.0, run_budget_yuan=0.0)

    result = research(market_db, "600519", batch, approved=True)

    assert result["llm_calls"] == 11
    with pytest.raises(ResearchNotStarted, match="300750: not started — it would cross the run budget of 0.0000 元"):
        research(market_db, "300750", batch, approved=False)


@pytest.mark.parametrize("kind", ["rate_limit", "server"])
def test_consecutive_provider_failures_stop_the_batch(market_db, llm_env, monkeypatch, kind):
    monkeypatch.setenv("TA_LLM_MAX_ATTEMPTS", "2")
    llm_env.retry_after = 0.01
    llm_env.fail_next(100, kind)
    batch = batch_for(market_db, max_consecutive_failures=2)

    for symbol in ("600519", "000001.SZ"):
        with pytest.raises(LLMRetryableError):
            research(market_db, symbol, batch)
    with pytest.raises(ResearchNotStarted, match=r"300750: not started — dashscope failed the last 2 symbols"):
        research(market_db, "300750", batch)
    with pytest.raises(ResearchNotStarted, match="600519: not started"):  # Airflow's retry of a failed symbol
        research(market_db, "600519", batch, try_number=2)

    assert len(llm_env.calls) == 4  # 2 symbols × 2 attempts, nothing after
    failed = list(market_db["llm_usage"].find({}, {"_id": 0, "symbol": 1, "status": 1, "error_kind": 1, "calls": 1}))
    assert sorted(failed, key=lambda d: d["symbol"]) == [
        {"symbol": "000001.SZ", "status": "failed", "error_kind": "provider", "calls": 0},
        {"symbol": "600519", "status": "failed", "error_kind": "provider", "calls": 0},
    ]


def test_a_failed_attempt_keeps_the_usage_of_the_calls_it_made(market_db, llm_env, monkeypatch):
    monkeypatch.setenv("TA_LLM_MAX_ATTEMPTS", "1")
    llm_env.fail_after(5, 1, "server")
    batch = batch_for(market_db)

    with pytest.raises(LLMRetryableError, match="HTTP 500"):
        research(market_db, "600519", batch)

    returned = llm_env.usage_by_model()
    doc = market_db["llm_usage"].find_one({}, {"_id": 0, "status": 1, "calls": 1, "input_tokens": 1, "output_tokens": 1, "error_kind": 1})
    assert doc == {"status": "failed", "error_kind": "provider", "calls": 5,
                   "input_tokens": returned["qwen-turbo"]["input_tokens"], "output_tokens": returned["qwen-turbo"]["output_tokens"]}
    assert returned["qwen-turbo"]["calls"] == 5 and set(returned) == {"qwen-turbo"}
    assert spent(market_db, run_id="manual__r1").tokens == doc["input_tokens"] + doc["output_tokens"] > 0
    assert market_db["analysis_reports"].count_documents({}) == 0


def test_a_success_between_failures_resets_the_count(market_db, llm_env, monkeypatch):
    monkeypatch.setenv("TA_LLM_MAX_ATTEMPTS", "1")
    batch = batch_for(market_db, max_consecutive_failures=2)
    llm_env.fail_next(1, "server")
    with pytest.raises(LLMRetryableError):
        research(market_db, "600519", batch)
    research(market_db, "000001.SZ", batch)
    llm_env.fail_next(1, "server")
    with pytest.raises(LLMRetryableError):
        research(market_db, "300750", batch)

    assert research(market_db, "600519", batch, try_number=2)["llm_calls"] == 11


@pytest.mark.parametrize("client", [DashScopeChat, DeepSeekChat])
def test_rate_limit_waits_the_providers_retry_hint(llm_env, caplog, client):
    llm_env.retry_after = 0.35
    llm_env.fail_next(1, "rate_limit")

    with caplog.at_level(logging.WARNING, logger="ta_scheduler.llm.base"):
        client().chat([{"role": "user", "content": "你好"}], model="m1", temperature=0.1, max_tokens=10)

    assert [c.status for c in llm_env.calls] == [429, 200]
    assert "retrying in 0.35 s (the provider's retry hint)" in caplog.text


def test_offline_records_zero_cost_and_never_waits(market_db, llm_env):
    zero = {"run_budget_yuan": 0.0, "run_budget_tokens": 0, "day_budget_yuan": 0.0, "day_budget_tokens": 0}
    batch = batch_for(market_db, provider="offline", **zero)

    assert batch["needs_approval"] is False and batch["tokens"] == 0 and batch["yuan"] == 0.0
    results = [research(market_db, s, batch) for s in SYMBOLS]

    assert [r["cost_yuan"] for r in results] == [0.0, 0.0, 0.0] and llm_env.calls == []
    for doc in market_db["analysis_reports"].find():
        assert doc["token_usage"] == {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "calls": 0}
        assert doc["cost"] == {"yuan": 0.0, "currency": "CNY", "by_model": []}
    assert usage_by_provider(market_db, run_id="manual__r1") == [
        {"provider": "offline", "researches": 3, "failed": 0, "calls": 0, "input_tokens": 0, "output_tokens": 0,
         "total_tokens": 0, "yuan": 0.0},
    ]  # fmt: skip


def test_daily_report_shows_the_days_research_usage_by_provider(market_db, llm_env):
    batch = batch_for(market_db, **NO_LIMITS)
    research(market_db, "600519", batch)
    research(market_db, "600519", batch_for(market_db, provider="deepseek", **NO_LIMITS))
    day = shanghai_day()
    rows = {r["provider"]: r for r in usage_by_provider(market_db, day=day)}
    ds, dk = rows["dashscope"], rows["deepseek"]

    section = llm_usage_section(market_db, day)

    total_yuan = ds["yuan"] + dk["yuan"]
    assert section == Section("LLM 研究用量", [Table(
        ["提供方", "研究次数", "失败", "调用", "输入 tokens", "输出 tokens", "费用（元）"],
        [["dashscope", "1", "0", "11", f"{ds['input_tokens']:,}", f"{ds['output_tokens']:,}", f"{ds['yuan']:.4f}"],
         ["deepseek", "1", "0", "11", f"{dk['input_tokens']:,}", f"{dk['output_tokens']:,}", f"{dk['yuan']:.4f}"],
         ["合计", "2", "0", "22", f"{ds['input_tokens'] + dk['input_tokens']:,}",
          f"{ds['output_tokens'] + dk['output_tokens']:,}", f"{total_yuan:.4f}"]],
        caption=f"{day} 的 LLM 研究（llm_usage）",
    )])  # fmt: skip
    returned = {api: sum(c.input_tokens + c.output_tokens for c in llm_env.calls if c.api == api) for api in ("dashscope", "openai")}
    assert ds["total_tokens"] == returned["dashscope"] and dk["total_tokens"] == returned["openai"]
    assert llm_usage_section(market_db, "2026-01-02") == Section("LLM 研究用量", [Text("2026-01-02 没有运行 LLM 研究。")])
