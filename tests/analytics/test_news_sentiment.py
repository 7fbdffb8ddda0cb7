"""The offline lexicon model: accuracy on labelled headlines, negation, degree, bounds."""

from __future__ import annotations

import pytest
from ta_scheduler.analytics.news_sentiment import LexiconScorer, SentimentScorer, validate_scores

# (headline, label): +1 bullish, -1 bearish, 0 neutral
LABELLED = [
    ("贵州茅台三季度净利润增长15%，超预期", 1),
    ("宁德时代股价涨停，成交额创新高", 1),
    ("公司拟斥资10亿元回购股份", 1),
    ("控股股东计划增持公司股份", 1),
    ("公司中标国家电网12亿元订单", 1),
    ("新药上市申请获批，股价大涨", 1),
    ("业绩预增，前三季度扭亏为盈", 1),
    ("机构上调目标价，维持买入评级", 1),
    ("行业景气度持续回升，龙头受益", 1),
    ("亏损大幅收窄，经营明显改善", 1),
    ("北向资金净流入超百亿，券商板块领涨", 1),
    ("公司业绩未出现下滑", 1),
    ("股价止跌企稳，市场情绪向好", 1),
    ("光伏板块全线上涨", 1),
    ("半导体需求强劲，订单供不应求", 1),
    ("公司股价跌停，市值蒸发百亿", -1),
    ("三季度净利润同比下滑30%，不及预期", -1),
    ("大股东拟减持不超过2%股份", -1),
    ("公司因信息披露违规被证监会立案调查", -1),
    ("业绩预亏，股价大幅下跌", -1),
    ("公司被实施退市风险警示", -1),
    ("债券违约，评级被下调", -1),
    ("医药板块集体重挫，多股跌停", -1),
    ("营收增长未能持续，利润大降", -1),
    ("财务造假遭重罚，投资者索赔诉讼", -1),
    ("产品召回，工厂停产整顿", -1),
    ("北向资金净流出，市场情绪低迷", -1),
    ("公司并非如市场预期那样盈利", -1),
    ("销量没有增长，库存压力加大", -1),
    ("公司将于下周召开股东大会", 0),
    ("公司发布关于董事会换届的公告", 0),
    ("公司未来三年发展规划说明", 0),
    ("关于公司证券事务代表变更的公告", 0),
    ("公司不断加大研发投入", 0),
    ("公司召开2026年第三季度业绩说明会", 0),
    ("交易所发布节假日休市安排", 0),
]


def _label(score: float) -> int:
    return 1 if score > 0.1 else (-1 if score < -0.1 else 0)


def test_lexicon_model_classifies_labelled_headlines():
    scorer = LexiconScorer()
    scores = scorer.score([t for t, _ in LABELLED])
    wrong = [(t, round(s, 3), y) for (t, y), s in zip(LABELLED, scores, strict=True) if _label(s) != y]
    accuracy = 1 - len(wrong) / len(LABELLED)
    assert len(LABELLED) >= 30
    assert accuracy >= 0.85, f"accuracy {accuracy:.2%}; misclassified: {wrong}"


def test_negation_flips_and_degree_scales():
    s = LexiconScorer()
    assert s.score_one("利润下滑") < 0 < s.score_one("利润未下滑")
    assert s.score_one("股价大幅上涨") > s.score_one("股价上涨") > s.score_one("股价小幅上涨") > 0


def test_negator_lookalikes_are_not_negations():
    s = LexiconScorer()
    assert s.score_one("未来业绩增长") == pytest.approx(s.score_one("业绩增长"))


def test_scores_stay_within_bounds():
    s = LexiconScorer()
    assert s.score_one("涨停" * 50) <= 1.0
    assert s.score_one("跌停，暴跌，巨亏，退市，造假" * 10) >= -1.0
    assert s.score_one("") == 0.0


def test_lexicon_scorer_satisfies_the_scorer_protocol():
    assert isinstance(LexiconScorer(), SentimentScorer)


def test_out_of_range_scores_from_a_plugged_scorer_are_refused():
    with pytest.raises(ValueError, match=r"must be in \[-1, 1\]"):
        validate_scores([0.2, 1.7], 2, LexiconScorer())
    with pytest.raises(ValueError, match="returned 1 scores for 2 texts"):
        validate_scores([0.2], 2, LexiconScorer())
