"""The chat interface every LLM provider implements, its errors, and the retry policy.

Providers differ in wire format and in how they report errors (DashScope returns status codes in
the response object, the openai SDK raises), so each client translates its failures into the
three error classes here, and :meth:`RetryPolicy.call` applies one policy to all of them:
rate limits and server errors are retried with exponential backoff and jitter — or after the
provider's own hint (``Retry-After`` / ``retry-after-ms``) when it sends one — and a bad key fails
at once. Messages never contain the API key (:func:`redact`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
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

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after  # seconds the provider asked us to wait, if it said


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
    max_hint: float = 120.0  # seconds: the longest provider retry hint we honour

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """``TA_LLM_MAX_ATTEMPTS``, ``TA_LLM_RETRY_BASE_DELAY``, ``TA_LLM_RETRY_MAX_DELAY`` and
        ``TA_LLM_RETRY_HINT_MAX`` (seconds)."""
        from ta_scheduler.config import setting_float, setting_int

        return cls(
            max_attempts=max(1, setting_int("TA_LLM_MAX_ATTEMPTS")),
            base_delay=setting_float("TA_LLM_RETRY_BASE_DELAY"),
            max_delay=setting_float("TA_LLM_RETRY_MAX_DELAY"),
            max_hint=setting_float("TA_LLM_RETRY_HINT_MAX"),
        )

    def delay(self, retry: int, hint: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): the provider's ``hint`` when it
        gave one (capped at ``max_hint``), else the jittered exponential backoff."""
        if hint is not None:
            return min(self.max_hint, max(0.0, hint))
        cap = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return cap / 2 + random.uniform(0, cap / 2)

    def call(self, fn: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
        """Run ``fn`` and retry it on :class:`LLMRetryableError` as this policy allows, through the
        project's one retry loop (:func:`ta_scheduler.retrying.call_with_retries`).

        The adapters' errors already name provider, model and status, so they are logged as they are.
        Other errors propagate at once; when the attempts are spent the last retryable error is raised
        with the count added.
        """
        from ta_scheduler.retrying import call_with_retries

        try:
            return call_with_retries(fn, retry_on=LLMRetryableError, attempts=self.max_attempts,
                                     wait=lambda n, exc: self.delay(n, exc.retry_after), sleep=sleep,
                                     describe_wait=lambda exc: " (the provider's retry hint)" if exc.retry_after is not None else "")
        except LLMRetryableError as exc:
            raise LLMRetryableError(
                f"{exc} (gave up after {self.max_attempts} attempts)", status=exc.status, code=exc.code,
                retry_after=exc.retry_after,
            ) from exc


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The wait a 429/503 reply asks for: ``retry-after-ms`` (OpenAI-style, milliseconds) or
    ``Retry-After`` (RFC 9110: seconds or an HTTP date); header names in any case. None if absent."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        if "retry-after" in lower:
            value = lower["retry-after"]
            try:
                return max(0.0, float(value))
            except ValueError:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
    return None


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` masked (for messages built from server replies)."""
    if secret and secret in text:
        return text.replace(secret, "***")
    return text
