"""LLM news sentiment: one batched prompt per batch, a JSON list parsed robustly."""

from __future__ import annotations

import pytest
from ta_scheduler.llm.base import LLMResponseError
from ta_scheduler.llm.clients import chat_model
from ta_scheduler.llm.parsing import parse_decision, parse_score_list
from ta_scheduler.llm.sentiment import LLMSentimentScorer, sentiment_scorer_from_config

TEXTS = ["公司业绩超预期，订单增长", "公司遭证监会处罚，股价暴跌", "公司召开年度股东大会"]


@pytest.mark.parametrize(("provider", "model"), [("dashscope", "qwen-turbo"), ("deepseek", "deepseek-chat")])
def test_scores_follow_the_tone_of_each_text(llm_env, provider, model):
    scorer = LLMSentimentScorer(chat_model(provider), model)

    scores = scorer.score(TEXTS)

    assert scores == [1.0, -1.0, 0.0]
    assert llm_env.calls_by_model() == {model: 1}
    assert scorer.tokens_used > 0


def test_texts_are_scored_in_batches(llm_env):
    scorer = LLMSentimentScorer(chat_model("dashscope"), "qwen-turbo", batch_size=2)

    assert scorer.score(TEXTS * 2) == [1.0, -1.0, 0.0] * 2
    assert len(llm_env.calls) == 3
    assert scorer.score([]) == [] and len(llm_env.calls) == 3


def test_scorer_from_config_uses_the_configured_provider(llm_env, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY")

    scorer = sentiment_scorer_from_config()

    assert scorer is not None and scorer.chat.provider == "deepseek" and scorer.model == "deepseek-chat"
    assert scorer.score(TEXTS[:1]) == [1.0]


def test_no_scorer_without_a_key_or_when_offline(llm_env, monkeypatch):
    assert sentiment_scorer_from_config("offline") is None
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    assert sentiment_scorer_from_config() is None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("[0.5, -0.2, 0]", [0.5, -0.2, 0.0]),
        ("```json\n[0.5, -0.2, 0]\n```", [0.5, -0.2, 0.0]),
        ('评分如下：[0.5, "-0.2", 0]。', [0.5, -0.2, 0.0]),
        ('{"scores": [2, -3, 0.1]}', [1.0, -1.0, 0.1]),
    ],
)
def test_score_lists_are_parsed_robustly(reply, expected):
    assert parse_score_list(reply, 3) == expected


@pytest.mark.parametrize("reply", ["[0.5, 0.1]", "正面、负面、中性", '["好", 0, 0]', "[NaN, 0, 0]"])
def test_unreadable_score_lists_raise(reply):
    with pytest.raises(LLMResponseError, match="sentiment reply"):
        parse_score_list(reply, 3)


def test_decision_falls_back_to_keywords_and_normalises_labels():
    assert parse_decision('{"action": "BUY", "confidence": "75%", "risk_level": "high"}') == {
        "action": "买入", "action_en": "buy", "target_price": None, "confidence": 0.75, "risk_level": "高",
        "reasoning": "", "key_points": [], "parsed_from": "json",
    }  # fmt: skip
    text = "综合来看短期承压。最终交易建议：**卖出**，等待企稳后再考虑买入。"
    fallback = parse_decision(text)
    assert fallback["action"] == "卖出" and fallback["parsed_from"] == "keywords" and fallback["confidence"] is None
    with pytest.raises(LLMResponseError):
        parse_decision("无法判断")
