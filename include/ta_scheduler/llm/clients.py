"""The one adapter per LLM service: DashScope (Qwen, native API) and DeepSeek (OpenAI-compatible).

Both implement :class:`~ta_scheduler.llm.base.ChatModel` and translate their failures into our
three error classes, so the retry policy lives in one place (``base.RetryPolicy.call``):

- DashScope's ``Generation.call`` does not raise on HTTP errors; it returns a response whose
  ``status_code`` / ``code`` / ``message`` say what happened (401 ``InvalidApiKey``, 429
  ``Throttling*``, 5xx ``InternalError``...).
- The openai SDK raises typed exceptions; its own retries are switched off (``max_retries=0``) so
  the number of attempts is ours and the same for both providers.

SDKs are imported inside the constructors: importing dashscope costs about 2 s.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ta_scheduler.llm.base import (
    ChatResult,
    LLMAuthError,
    LLMError,
    LLMRetryableError,
    Message,
    RetryPolicy,
    redact,
    retry_after_seconds,
)
from ta_scheduler.llm.config import ProviderSettings, missing_key_message, provider_settings

log = logging.getLogger(__name__)

LLM_PROVIDERS = ("dashscope", "deepseek")


def _classify(
    provider: str, model: str, status: int | None, code: str | None, message: str, key: str | None,
    headers: Mapping[str, str] | None = None,
) -> LLMError:
    """Our error for a failed call: auth (fail fast), retryable (429/5xx, with the provider's
    ``Retry-After`` hint when the reply has one) or plain."""
    detail = redact(f"{provider} {model}: HTTP {status} {code or ''}: {message}".replace("  ", " "), key)
    code_s = code or ""
    if status == HTTPStatus.UNAUTHORIZED or code_s in ("InvalidApiKey", "invalid_api_key"):
        return LLMAuthError(f"{detail} — the API key was refused; check {_key_hint(provider)}")
    if status == HTTPStatus.FORBIDDEN or code_s.startswith(("AccessDenied", "Arrearage")):
        return LLMAuthError(f"{detail} — the account may not use this model; check {_key_hint(provider)}")
    hint = retry_after_seconds(headers)
    if status == HTTPStatus.TOO_MANY_REQUESTS or code_s.startswith("Throttling"):
        return LLMRetryableError(f"{detail} (rate limited)", status=status, code=code, retry_after=hint)
    if status is not None and status >= 500:
        return LLMRetryableError(f"{detail} (server error)", status=status, code=code, retry_after=hint)
    return LLMError(detail)


def _key_hint(provider: str) -> str:
    return f"{provider.upper()}_API_KEY / connection {provider}_default"


class DashScopeChat:
    """Qwen models through the ``dashscope`` SDK's native generation API (``result_format="message"``)."""

    provider = "dashscope"

    def __init__(self, settings: ProviderSettings | None = None, retry: RetryPolicy | None = None) -> None:
        self.settings = settings or provider_settings("dashscope")
        if not self.settings.api_key:
            raise LLMAuthError(missing_key_message("dashscope"))
        self.retry = retry or RetryPolicy.from_env()
        from dashscope import Generation

        self._generation = Generation

    def chat(self, messages: list[Message], *, model: str, temperature: float, max_tokens: int) -> ChatResult:
        """One completion from ``model``; see :class:`~ta_scheduler.llm.base.ChatModel`."""
        return self.retry.call(lambda: self._call_once(messages, model, temperature, max_tokens))

    def _call_once(self, messages: list[Message], model: str, temperature: float, max_tokens: int) -> ChatResult:
        import requests

        key = self.settings.api_key
        try:
            resp: Any = self._generation.call(
                model=model,
                messages=messages,
                api_key=key,
                result_format="message",
                temperature=temperature,
                max_tokens=max_tokens,
                base_address=self.settings.base_url,
                request_timeout=int(self.settings.timeout),
            )
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            raise LLMRetryableError(redact(f"dashscope {model}: {type(exc).__name__}: {exc}", key)) from None
        status = int(getattr(resp, "status_code", 0) or 0)
        if status != HTTPStatus.OK:
            code, message = getattr(resp, "code", None), str(getattr(resp, "message", ""))
            raise _classify("dashscope", model, status, code, message, key, getattr(resp, "headers", None))
        try:
            text = resp.output.choices[0].message.content
        except (AttributeError, IndexError, KeyError, TypeError):
            text = getattr(resp.output, "text", None) if resp.output is not None else None
        if not isinstance(text, str):
            raise LLMError(f"dashscope {model}: reply without message content (request_id {resp.request_id})")
        usage = resp.usage or {}
        return ChatResult(
            text=text,
            prompt_tokens=int(getattr(usage, "input_tokens", None) or 0),
            completion_tokens=int(getattr(usage, "output_tokens", None) or 0),
            model=model,
        )


class DeepSeekChat:
    """DeepSeek (``deepseek-chat`` / ``deepseek-reasoner``) through the ``openai`` SDK.

    Works for any OpenAI-compatible endpoint; only the settings decide where it points.
    """

    provider = "deepseek"

    def __init__(self, settings: ProviderSettings | None = None, retry: RetryPolicy | None = None) -> None:
        self.settings = settings or provider_settings("deepseek")
        if not self.settings.api_key:
            raise LLMAuthError(missing_key_message("deepseek"))
        self.retry = retry or RetryPolicy.from_env()
        import openai

        self._openai = openai
        self._client = openai.OpenAI(
            api_key=self.settings.api_key,
            base_url=self.settings.base_url,
            timeout=self.settings.timeout,
            max_retries=0,
        )

    def chat(self, messages: list[Message], *, model: str, temperature: float, max_tokens: int) -> ChatResult:
        """One completion from ``model``; see :class:`~ta_scheduler.llm.base.ChatModel`."""
        return self.retry.call(lambda: self._call_once(messages, model, temperature, max_tokens))

    def _call_once(self, messages: list[Message], model: str, temperature: float, max_tokens: int) -> ChatResult:
        openai = self._openai
        key = self.settings.api_key
        try:
            resp = self._client.chat.completions.create(
                model=model,
                messages=messages,  # type: ignore[arg-type]
                temperature=temperature,
                max_tokens=max_tokens,
            )
        except openai.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            err = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
            message = str(err.get("message") or exc.message)
            code = err.get("code") or err.get("type")
            raise _classify("deepseek", model, exc.status_code, code, message, key, exc.response.headers) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise LLMRetryableError(redact(f"deepseek {model}: {type(exc).__name__}: {exc}", key)) from None
        if not resp.choices or resp.choices[0].message.content is None:
            raise LLMError(f"deepseek {model}: reply without message content (id {resp.id})")
        usage = resp.usage
        return ChatResult(
            text=resp.choices[0].message.content,
            prompt_tokens=int(usage.prompt_tokens) if usage else 0,
            completion_tokens=int(usage.completion_tokens) if usage else 0,
            model=model,
        )


def chat_model(
    provider: str, *, settings: ProviderSettings | None = None, retry: RetryPolicy | None = None
) -> DashScopeChat | DeepSeekChat:
    """The configured client for ``dashscope`` or ``deepseek`` (``offline`` needs no client)."""
    if provider == "dashscope":
        return DashScopeChat(settings, retry)
    if provider == "deepseek":
        return DeepSeekChat(settings, retry)
    raise ValueError(f"no chat client for LLM provider {provider!r}: expected one of {list(LLM_PROVIDERS)}")
