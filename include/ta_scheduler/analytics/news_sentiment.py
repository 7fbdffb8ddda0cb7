"""News sentiment: the scorer interface and the offline Chinese financial lexicon model.

A scorer maps texts to scores in [-1, 1] (−1 clearly bearish, 0 neutral, +1 clearly bullish).
The lexicon model needs no network or model files, so sentiment is always computed; an LLM
scorer with the same :class:`SentimentScorer` interface replaces it when one is configured.

Model (``docs/analytics.md`` has the full description):
1. Segment each clause (split at ，。；！？ etc.) by forward maximum matching against one
   dictionary of sentiment terms, negators, degree adverbs and neutral blockers (words such as
   未来 / 不断 / 不仅 that start with a negator character but negate nothing).
2. A sentiment term contributes its weight × the product of the degree adverbs and × −1 for
   each negator seen earlier in the same clause (at most :data:`NEGATION_WINDOW` terms back).
3. The text's raw sum ``s`` becomes ``s / sqrt(s² + 4)`` and is clipped to [-1, 1], so one
   strong word (涨停, 2.0) gives ±0.71 and several agreeing words approach ±1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class SentimentScorer(Protocol):
    """Anything that scores texts: one float in [-1, 1] per text, same order."""

    def score(self, texts: list[str]) -> list[float]: ...


#: Bullish terms and weights (1 = mild, 2 = strong).
POSITIVE: dict[str, float] = {
    "涨停": 2.0, "大涨": 1.8, "暴涨": 2.0, "飙升": 1.8, "上涨": 1.0, "走高": 1.0, "攀升": 1.0,
    "反弹": 0.8, "回升": 0.8, "走强": 1.0, "领涨": 1.2, "新高": 1.2, "创新高": 1.5, "突破": 0.8,
    "利好": 1.5, "增长": 1.0, "高增长": 1.5, "大增": 1.5, "预增": 1.5, "扭亏": 1.5, "扭亏为盈": 2.0,
    "盈利": 1.0, "净利润增长": 1.5, "超预期": 1.5, "高于预期": 1.2, "好于预期": 1.2,
    "增持": 1.2, "回购": 1.0, "分红": 0.8, "中标": 1.2, "签约": 0.8, "订单": 0.6, "获批": 1.2,
    "批准": 0.8, "通过审核": 1.0, "上调": 1.0, "买入": 1.0, "增持评级": 1.2, "推荐": 0.8,
    "看好": 1.0, "看多": 1.0, "乐观": 1.0, "改善": 0.8, "向好": 1.0, "复苏": 1.0, "景气": 1.0,
    "强劲": 1.0, "稳健": 0.6, "受益": 0.8, "提升": 0.6, "提高": 0.6, "加速": 0.5, "翻倍": 1.5,
    "成功": 0.8, "获得": 0.4, "合作": 0.4, "收窄": 0.6, "减亏": 1.0, "止跌": 1.0, "企稳": 1.0,
    "净流入": 1.0, "抢购": 0.8, "火爆": 1.0, "供不应求": 1.2, "龙头": 0.5, "不错": 1.0,
}

#: Bearish terms and weights (positive numbers; the sign is applied by the model).
NEGATIVE: dict[str, float] = {
    "跌停": 2.0, "大跌": 1.8, "暴跌": 2.0, "重挫": 1.8, "跳水": 1.5, "闪崩": 2.0, "下跌": 1.0,
    "走低": 1.0, "下挫": 1.2, "回落": 0.8, "走弱": 1.0, "领跌": 1.2, "新低": 1.2, "创新低": 1.5,
    "破发": 1.2, "利空": 1.5, "亏损": 1.2, "巨亏": 2.0, "预亏": 1.5, "预减": 1.5, "下滑": 1.0,
    "下降": 0.8, "减少": 0.6, "萎缩": 1.0, "大降": 1.5, "低于预期": 1.2, "不及预期": 1.5,
    "减持": 1.2, "清仓": 1.2, "违规": 1.5, "处罚": 1.5, "罚款": 1.2, "立案": 1.8, "调查": 0.8,
    "造假": 2.0, "欺诈": 2.0, "退市": 2.0, "风险警示": 1.5, "警示": 0.8, "问询": 0.8, "诉讼": 1.0,
    "违约": 1.8, "爆雷": 2.0, "暴雷": 2.0, "冻结": 1.2, "质押": 0.5, "爆仓": 1.8, "终止": 1.0,
    "暂停": 0.8, "下调": 1.0, "卖出": 1.0, "看空": 1.0, "悲观": 1.0, "承压": 1.0, "低迷": 1.0,
    "疲软": 1.0, "恶化": 1.2, "风险": 0.5, "担忧": 0.8, "失败": 1.0, "净流出": 1.0, "抛售": 1.2,
    "下行": 0.8, "缩水": 1.0, "拖累": 1.0, "损失": 1.0, "裁员": 1.0, "停产": 1.2, "召回": 1.0,
}

#: Words that flip the sentiment of what follows in the clause.
NEGATORS: frozenset[str] = frozenset({"不", "未", "没有", "没", "并非", "并未", "无", "非", "未能", "不会", "尚未"})

#: Degree adverbs: multiply the next sentiment term.
DEGREE: dict[str, float] = {
    "大幅": 1.5, "显著": 1.5, "明显": 1.3, "急剧": 1.6, "强势": 1.3, "持续": 1.2, "全线": 1.4,
    "集体": 1.2, "创纪录": 1.5, "小幅": 0.5, "略": 0.6, "略微": 0.6, "稍": 0.6, "微": 0.5,
    "轻微": 0.5, "有所": 0.7, "逐步": 0.8,
}

#: Words that begin like a negator or sentiment term but are neither (matched first, ignored).
NEUTRAL: frozenset[str] = frozenset(
    {"未来", "不断", "不仅", "不少", "不久", "无论", "非常", "非公开", "无人机", "不同", "没想到", "风险投资"}
)

#: How many terms back a negator still applies within the clause.
NEGATION_WINDOW = 3

_CLAUSE = re.compile(r"[，,。．.；;！!？?\n\r、：:（）()【】\[\]“”\"']+")


class LexiconScorer:
    """The offline lexicon model (see the module docstring); deterministic and thread-safe."""

    name = "lexicon-v1"

    def __init__(
        self,
        positive: dict[str, float] | None = None,
        negative: dict[str, float] | None = None,
    ) -> None:
        self.positive = dict(POSITIVE if positive is None else positive)
        self.negative = dict(NEGATIVE if negative is None else negative)
        vocab: dict[str, tuple[str, float]] = {w: ("neutral", 0.0) for w in NEUTRAL}
        vocab.update({w: ("neg", 0.0) for w in NEGATORS})
        vocab.update({w: ("degree", f) for w, f in DEGREE.items()})
        vocab.update({w: ("term", v) for w, v in self.positive.items()})
        vocab.update({w: ("term", -v) for w, v in self.negative.items()})
        self._vocab = vocab
        self._max_len = max(len(w) for w in vocab)

    def _tokens(self, clause: str) -> list[tuple[str, str, float]]:
        """Forward maximum matching: the longest known word at each position (word, kind, value),
        else skip a char."""
        out: list[tuple[str, str, float]] = []
        i, n = 0, len(clause)
        while i < n:
            for size in range(min(self._max_len, n - i), 0, -1):
                word = clause[i : i + size]
                hit = self._vocab.get(word)
                if hit is not None:
                    out.append((word, *hit))
                    i += size
                    break
            else:
                i += 1
        return out

    def raw_score(self, text: str) -> float:
        """Unbounded sum of the weighted, negated and intensified term scores of ``text``."""
        total = 0.0
        for clause in _CLAUSE.split(text or ""):
            negations: list[int] = []  # positions (in tokens) of negators in this clause
            degree = 1.0
            for pos, (_, kind, value) in enumerate(self._tokens(clause)):
                if kind == "neg":
                    negations.append(pos)
                elif kind == "degree":
                    degree *= value
                elif kind == "term":
                    flips = sum(1 for p in negations if pos - p <= NEGATION_WINDOW)
                    total += value * degree * (-1.0 if flips % 2 else 1.0)
                    degree = 1.0
                    negations.clear()
        return total

    def terms(self, text: str) -> list[str]:
        """The sentiment terms found in ``text``, each once, in order of first appearance."""
        found = (word for clause in _CLAUSE.split(text or "") for word, kind, _ in self._tokens(clause) if kind == "term")
        return list(dict.fromkeys(found))

    def score_one(self, text: str) -> float:
        """Score in [-1, 1]: ``s / sqrt(s² + 4)`` of the raw sum, clipped."""
        s = self.raw_score(text)
        return max(-1.0, min(1.0, s / math.sqrt(s * s + 4.0)))

    def score(self, texts: list[str]) -> list[float]:
        return [self.score_one(t) for t in texts]


#: A score above this is a positive item, below its negative a negative one, else neutral: the
#: label on each ``stock_news`` item and the ``news_positive``/``news_negative`` counts alike.
LABEL_THRESHOLD = 0.1


def sentiment_label(score: float) -> str:
    """``positive``, ``negative`` or ``neutral`` (TradingAgents-CN's news labels) for a score."""
    return "positive" if score > LABEL_THRESHOLD else "negative" if score < -LABEL_THRESHOLD else "neutral"


def news_text(doc: dict, content_chars: int = 500) -> str:
    """The text scored for a ``stock_news`` document: title, then the start of the content."""
    title = str(doc.get("title") or "")
    content = str(doc.get("content") or "")[:content_chars]
    return f"{title}。{content}" if content else title


def validate_scores(scores: Sequence[float], expected: int, scorer: object) -> list[float]:
    """Check a scorer's output (count, finite, within [-1, 1]) and say which scorer broke it."""
    name = getattr(scorer, "name", type(scorer).__name__)
    if len(scores) != expected:
        raise ValueError(f"sentiment scorer {name} returned {len(scores)} scores for {expected} texts")
    out = []
    for i, s in enumerate(scores):
        v = float(s)
        if not math.isfinite(v) or v < -1.0 or v > 1.0:
            raise ValueError(f"sentiment scorer {name} returned {v!r} for text {i}; scores must be in [-1, 1]")
        out.append(v)
    return out
