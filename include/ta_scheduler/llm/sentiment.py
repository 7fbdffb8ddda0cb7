"""News sentiment by LLM: many texts scored in one prompt, parsed from a JSON list.

Used by market sentiment (job 6) when an LLM is configured; without one the analytics keep their
offline lexicon model. A reply that cannot be read as exactly one score per text raises
``LLMResponseError`` so the caller can fall back instead of storing guesses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ta_scheduler.llm.base import ChatModel
from ta_scheduler.llm.parsing import parse_score_list

log = logging.getLogger(__name__)

SENTIMENT_SYSTEM = (
    "你是A股财经新闻情绪分析师。请对每条新闻给出对相关股票的情绪评分，取值-1到1之间的小数："
    "-1为极度负面，0为中性，1为极度正面。只输出一个JSON数组，按编号顺序，每条新闻一个数字，不要输出其他内容。"
)


class LLMSentimentScorer:
    """Scores texts in [-1, 1] with ``model`` through ``chat``, ``batch_size`` texts per call.

    Each text is cut to ``max_chars`` characters to bound the prompt (about 20 × 300 chars per call).
    """

    def __init__(self, chat: ChatModel, model: str, *, batch_size: int = 20, max_chars: int = 300) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.chat, self.model, self.batch_size, self.max_chars = chat, model, batch_size, max_chars
        self.tokens_used = 0

    def score(self, texts: list[str]) -> list[float]:
        """One score per text, in order; ``ceil(len(texts) / batch_size)`` LLM calls."""
        scores: list[float] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            scores.extend(self._score_batch(batch))
        return scores

    def _score_batch(self, batch: Sequence[str]) -> list[float]:
        lines = [f"[{i}] {' '.join(str(t).split())[: self.max_chars]}" for i, t in enumerate(batch, 1)]
        user = f"请为以下{len(batch)}条新闻做情绪评分，输出长度为{len(batch)}的JSON数组：\n" + "\n".join(lines)
        res = self.chat.chat(
            [{"role": "system", "content": SENTIMENT_SYSTEM}, {"role": "user", "content": user}],
            model=self.model,
            temperature=0.0,
            max_tokens=16 + 8 * len(batch),
        )
        self.tokens_used += res.total_tokens
        return parse_score_list(res.text, len(batch))


def sentiment_scorer_from_config(provider: str | None = None) -> LLMSentimentScorer | None:
    """The scorer for the configured LLM, or None when none is configured (use the lexicon).

    ``provider`` defaults to env ``TA_SENTIMENT_LLM_PROVIDER`` (``dashscope``, ``deepseek``, or
    ``offline``/``none`` for no LLM); unset, the first provider with a key wins (DashScope, then
    DeepSeek). The model is ``TA_SENTIMENT_LLM_MODEL``, else the provider's configured quick model,
    else the depth-1 quick model (qwen-turbo / deepseek-chat).
    """
    from ta_scheduler.config import setting
    from ta_scheduler.llm.clients import chat_model
    from ta_scheduler.llm.config import provider_settings
    from ta_scheduler.llm.params import DEPTHS

    choice = provider or setting("TA_SENTIMENT_LLM_PROVIDER") or ""
    if choice in ("offline", "none"):
        return None
    candidates = [choice] if choice else ["dashscope", "deepseek"]
    for name in candidates:
        settings = provider_settings(name)
        if not settings.api_key:
            if choice:
                log.warning("news sentiment: %s requested but no key configured; using the offline lexicon", name)
            continue
        model = setting("TA_SENTIMENT_LLM_MODEL") or settings.quick_model or DEPTHS[1].quick_models[name]
        return LLMSentimentScorer(chat_model(name), model)
    return None
