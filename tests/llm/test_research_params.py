"""Batch research params: the validator, the trigger-form JSON schema and the depth table."""

from __future__ import annotations

import jsonschema
import pytest
from ta_scheduler.llm.params import (
    DEPTHS,
    RESEARCH_PARAM_SCHEMAS,
    split_symbol,
    validate_research_params,
)

GOOD = {"symbols": ["600519", "000001.SZ", "430047.BJ"], "llm_provider": "dashscope", "research_depth": 3}
BAD = [
    ({"symbols": ["60051"]}, r"symbols: \[0\] '60051' is not an A-share code"),
    ({"symbols": ["600519.HK"]}, r"symbols: \[0\] '600519.HK' is not an A-share code"),
    ({"symbols": ["sh600519"]}, r"symbols: \[0\] 'sh600519' is not an A-share code"),
    ({"symbols": []}, "symbols: has 0 items, minItems is 1"),
    ({"symbols": [f"{600000 + i}" for i in range(51)]}, "symbols: has 51 items, maxItems is 50"),
    ({"llm_provider": "openai"}, r"llm_provider: 'openai' is not one of \['dashscope', 'deepseek', 'offline'\]"),
    ({"research_depth": 9}, "research_depth: 9 breaks maximum is 5"),
    ({"research_depth": 0}, "research_depth: 0 breaks minimum is 1"),
    ({"research_depth": "3"}, "research_depth: '3' is not of type integer"),
]


def test_valid_params_pass_and_duplicates_are_dropped():
    symbols = ["600519", "000001.SZ", "600519.SH", "000001", "600519.sh"]
    assert validate_research_params(symbols, "offline", 1) == ["600519", "000001.SZ"]
    for name, value in GOOD.items():
        jsonschema.validate(value, RESEARCH_PARAM_SCHEMAS[name])


@pytest.mark.parametrize(("change", "message"), BAD)
def test_validator_refuses_bad_params_with_a_clear_message(change, message):
    p = {**GOOD, **change}

    with pytest.raises(ValueError, match=message):
        validate_research_params(p["symbols"], p["llm_provider"], p["research_depth"])


@pytest.mark.parametrize(("change", "message"), BAD)
def test_trigger_schema_refuses_the_same_params(change, message):
    (name, value), = change.items()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(value, RESEARCH_PARAM_SCHEMAS[name])


def test_each_param_schema_is_usable_on_its_own():
    jsonschema.validate(["600519"], RESEARCH_PARAM_SCHEMAS["symbols"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("deepseek-v3", RESEARCH_PARAM_SCHEMAS["llm_provider"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(9, RESEARCH_PARAM_SCHEMAS["research_depth"])


def test_depth_table_follows_the_spec():
    rounds = {d: (p.debate_rounds, p.risk_rounds) for d, p in DEPTHS.items()}
    qwen = {d: (p.quick_models["dashscope"], p.deep_models["dashscope"]) for d, p in DEPTHS.items()}

    assert rounds == {1: (1, 1), 2: (1, 1), 3: (1, 2), 4: (2, 2), 5: (3, 3)}
    assert qwen == {
        1: ("qwen-turbo", "qwen-plus"),
        2: ("qwen-plus", "qwen-plus"),
        3: ("qwen-plus", "qwen-max"),
        4: ("qwen-plus", "qwen-max"),
        5: ("qwen-max", "qwen-max"),
    }
    assert {d: p.llm_calls for d, p in DEPTHS.items()} == {1: 11, 2: 11, 3: 14, 4: 16, 5: 21}
    assert all(p.deep_calls == 2 and p.quick_calls == p.llm_calls - 2 for p in DEPTHS.values())


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("600519", ("600519", "600519.SH")),
        ("688981", ("688981", "688981.SH")),
        ("000001", ("000001", "000001.SZ")),
        ("300750", ("300750", "300750.SZ")),
        ("430047", ("430047", "430047.BJ")),
        ("920001", ("920001", "920001.BJ")),
        ("000001.SZ", ("000001", "000001.SZ")),
    ],
)
def test_symbols_split_into_code_and_ts_code(symbol, expected):
    assert split_symbol(symbol) == expected
