"""Fixtures for LLM research tests: the local fake LLM server, provider env pointing at it, and
a small seeded market (three stocks with bars, indicators, financials and news) in the real store.
"""

from __future__ import annotations

import pytest
from fakes.llm_server import FakeLLMServer
from llm_testdata import VALID_KEY, seed_market


@pytest.fixture(scope="session")
def _llm_server():
    with FakeLLMServer(valid_keys=(VALID_KEY,)) as server:
        yield server


@pytest.fixture
def llm_server(_llm_server):
    """The fake LLM server, with its call log and scripted failures cleared."""
    _llm_server.reset()
    yield _llm_server
    _llm_server.reset()


@pytest.fixture
def llm_env(monkeypatch, llm_server):
    """Both providers configured through env, pointed at the fake; short retry delays."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", VALID_KEY)
    monkeypatch.setenv("DASHSCOPE_BASE_URL", llm_server.dashscope_base_url)
    monkeypatch.setenv("DEEPSEEK_API_KEY", VALID_KEY)
    monkeypatch.setenv("DEEPSEEK_BASE_URL", llm_server.openai_base_url)
    monkeypatch.setenv("TA_LLM_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("TA_LLM_RETRY_BASE_DELAY", "0.01")
    monkeypatch.setenv("TA_LLM_RETRY_MAX_DELAY", "0.05")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in (
        "DASHSCOPE_HTTP_BASE_URL",
        "DASHSCOPE_QUICK_MODEL",
        "DASHSCOPE_DEEP_MODEL",
        "DEEPSEEK_QUICK_MODEL",
        "DEEPSEEK_DEEP_MODEL",
        "TA_SENTIMENT_LLM_PROVIDER",
        "TA_SENTIMENT_LLM_MODEL",
    ):
        monkeypatch.delenv(var, raising=False)
    return llm_server


@pytest.fixture
def market_db(mongo_db):
    """A fresh store with three stocks' inputs as of ``ANALYSIS_DATE``."""
    seed_market(mongo_db)
    return mongo_db
