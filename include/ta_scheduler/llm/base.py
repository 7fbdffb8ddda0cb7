"""The chat interface every LLM provider implements, its errors, and the retry policy.

Providers differ in wire format and in how they report errors (DashScope returns status codes in
the response object, the openai SDK raises), so each client translates its failures into the
three error classes here, and :func:`call_with_retries` applies one policy to all of them:
rate limits and server errors are retried with exponential backoff and jitter, a bad key fails at
once. Messages never contain the API key (:func:`redact`).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

try:  # an invalid key will not heal on retry: tell Airflow not to retry the task either
    from airflow.sdk.exceptions import AirflowFailException as _FailFast
except ImportError:  # pragma: no cover - Airflow is always installed with the project
    _FailFast = Exception  # type: ignore[misc,assignment]

log = logging.getLogger(__name__)

T = TypeVar("T")


class LLMError(RuntimeError):
    """An LLM call failed in a way the caller cannot fix by retrying (bad request, bad reply)."""


class LLMRetryableError(LLMError):
    """A transient failure: rate limit (429 / Throttling), 5xx, timeout or dropped connection."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class LLMAuthError(LLMError, _FailFast):
    """The API key is missing, invalid or not allowed to use the model (401/403).

    Also an ``AirflowFailException``: the task fails without using its retries.
    """


class LLMResponseError(LLMError):
    """The model answered, but not in the shape we asked for (e.g. no parsable JSON)."""


@dataclass(frozen=True)
class ChatResult:
    """One completion: the text and its token usage as reported by the provider."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


Message = dict[str, str]


class ChatModel(Protocol):
    """What the research workflow needs from a provider: one chat completion, with retries inside.

    ``temperature`` is the sampling temperature (0–2); ``max_tokens`` caps the completion length in
    tokens. Raises :class:`LLMAuthError`, :class:`LLMRetryableError` (after the retries are spent)
    or :class:`LLMError`.
    """

    provider: str

    def chat(self, messages: list[Message], *, model: str, temperature: float, max_tokens: int) -> ChatResult: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient LLM failures.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))`` seconds, of which a random half
    is jitter (so parallel mapped tasks that hit a rate limit together do not retry in lockstep).
    """

    max_attempts: int = 4
    base_delay: float = 2.0  # seconds
    max_delay: float = 30.0  # seconds

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """``TA_LLM_MAX_ATTEMPTS``, ``TA_LLM_RETRY_BASE_DELAY`` and ``TA_LLM_RETRY_MAX_DELAY`` (seconds)."""
        default = cls()
        return cls(
            max_attempts=max(1, int(os.environ.get("TA_LLM_MAX_ATTEMPTS", default.max_attempts))),
            base_delay=float(os.environ.get("TA_LLM_RETRY_BASE_DELAY", default.base_delay)),
            max_delay=float(os.environ.get("TA_LLM_RETRY_MAX_DELAY", default.max_delay)),
        )

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return cap / 2 + random.uniform(0, cap / 2)


def call_with_retries(fn: Callable[[], T], policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``fn`` and retry it on :class:`LLMRetryableError` as ``policy`` allows.

    The adapters' errors already name provider, model and status, so they are logged as they are.
    Other errors propagate at once; when the attempts are spent the last retryable error is raised
    with the count added.
    """
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return fn()
        except LLMRetryableError as exc:
            if attempt >= policy.max_attempts:
                raise LLMRetryableError(
                    f"{exc} (gave up after {attempt} attempts)", status=exc.status, code=exc.code
                ) from exc
            wait = policy.delay(attempt)
            log.warning("%s; attempt %d/%d, retrying in %.1f s", exc, attempt, policy.max_attempts, wait)
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` masked (for messages built from server replies)."""
    if secret and secret in text:
        return text.replace(secret, "***")
    return text
