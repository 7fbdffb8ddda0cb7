"""The DashScope and DeepSeek adapters against the fake server, through the real SDKs."""

from __future__ import annotations

import logging

import pytest
from llm_testdata import VALID_KEY
from ta_scheduler.llm.base import LLMAuthError, LLMRetryableError, RetryPolicy
from ta_scheduler.llm.clients import DashScopeChat, DeepSeekChat, chat_model
from ta_scheduler.llm.config import provider_settings

PROVIDERS = {"dashscope": "qwen-plus", "deepseek": "deepseek-chat"}
MESSAGES = [{"role": "system", "content": "你是市场分析师"}, {"role": "user", "content": "股票：平安银行（000001.SZ）"}]


def ask(provider: str):
    return chat_model(provider).chat(MESSAGES, model=PROVIDERS[provider], temperature=0.2, max_tokens=200)


def test_dashscope_native_call_returns_text_and_usage(llm_env):
    res = ask("dashscope")

    assert "平安银行" in res.text and res.model == "qwen-plus"
    assert res.prompt_tokens > 0 and res.completion_tokens > 0
    body = llm_env.requests[-1]
    assert body["model"] == "qwen-plus"
    assert body["input"]["messages"] == MESSAGES
    assert body["parameters"]["result_format"] == "message"
    assert body["parameters"]["max_tokens"] == 200


def test_deepseek_call_goes_through_openai_chat_completions(llm_env):
    res = ask("deepseek")

    assert "平安银行" in res.text and res.model == "deepseek-chat"
    assert res.prompt_tokens > 0 and res.completion_tokens > 0
    assert llm_env.requests[-1]["messages"] == MESSAGES
    assert llm_env.calls[-1].api == "openai"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limit_is_retried_until_success(llm_env, provider, caplog):
    llm_env.fail_next(2, "rate_limit")

    with caplog.at_level(logging.WARNING, logger="ta_scheduler.llm"):
        res = ask(provider)

    assert res.text
    assert [c.status for c in llm_env.calls] == [429, 429, 200]
    assert "rate limited" in caplog.text and "retrying in" in caplog.text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_server_error_is_retried(llm_env, provider):
    llm_env.fail_next(1, "server")

    assert ask(provider).text
    assert [c.status for c in llm_env.calls] == [500, 200]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retries_are_bounded_by_max_attempts(llm_env, provider, monkeypatch):
    monkeypatch.setenv("TA_LLM_MAX_ATTEMPTS", "3")
    llm_env.fail_next(5, "rate_limit")

    with pytest.raises(LLMRetryableError, match="gave up after 3 attempts") as err:
        ask(provider)

    assert err.value.status == 429
    assert len(llm_env.calls) == 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_bad_request_is_not_retried(llm_env, provider):
    llm_env.fail_next(1, "bad_request")

    with pytest.raises(Exception) as err:
        ask(provider)

    assert not isinstance(err.value, LLMRetryableError)
    assert "HTTP 400" in str(err.value)
    assert len(llm_env.calls) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_invalid_key_fails_fast_without_leaking_it(llm_env, provider, monkeypatch, caplog):
    secret = "sk-SECRET-do-not-log-4711"
    monkeypatch.setenv(f"{provider.upper()}_API_KEY", secret)

    with caplog.at_level(logging.DEBUG), pytest.raises(LLMAuthError) as err:
        ask(provider)

    message = str(err.value)
    assert "HTTP 401" in message and "refused" in message
    assert f"{provider.upper()}_API_KEY" in message  # says what to fix
    assert secret not in message and secret not in repr(err.value)
    assert secret not in caplog.text
    assert len(llm_env.calls) == 1  # no retries


def test_auth_error_tells_airflow_not_to_retry_the_task():
    from airflow.sdk.exceptions import AirflowFailException

    assert issubclass(LLMAuthError, AirflowFailException)


@pytest.mark.parametrize("cls", [DashScopeChat, DeepSeekChat])
def test_missing_key_fails_before_any_request(llm_env, monkeypatch, cls):
    monkeypatch.delenv(f"{cls.provider.upper()}_API_KEY")

    with pytest.raises(LLMAuthError, match=f"{cls.provider.upper()}_API_KEY") as err:
        cls()

    assert f"{cls.provider}_default" in str(err.value)
    assert llm_env.calls == []


def test_settings_come_from_the_airflow_connection_when_env_is_unset(llm_env, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    monkeypatch.delenv("DEEPSEEK_BASE_URL")
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEEPSEEK_DEFAULT",
        '{"conn_type": "generic", "host": "%s", "password": "%s", "extra": {"quick_model": "deepseek-v4-flash"}}'
        % (llm_env.openai_base_url, VALID_KEY),
    )

    settings = provider_settings("deepseek")
    res = DeepSeekChat(settings).chat(MESSAGES, model=settings.quick_model, temperature=0.2, max_tokens=50)

    assert settings.key_source == "connection deepseek_default"
    assert settings.base_url == llm_env.openai_base_url
    assert VALID_KEY not in repr(settings)
    assert res.model == "deepseek-v4-flash"
    assert llm_env.calls_by_model() == {"deepseek-v4-flash": 1}


def test_backoff_grows_exponentially_with_bounded_jitter():
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0)

    for retry, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (5, 5.0)]:
        delays = [policy.delay(retry) for _ in range(50)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(set(delays)) > 1  # jittered
