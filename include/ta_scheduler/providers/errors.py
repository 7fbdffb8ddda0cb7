"""Provider errors: one small hierarchy so tasks and retry policies can tell retryable from fatal.

``RetryableProviderError`` subclasses mean "try again later" (rate limit, a server or network
hiccup, an empty reply where data was due); everything else under ``ProviderError`` means
"a person must act" (token, permission, daily quota) and should fail the task at once: those
are also ``AirflowFailException``, so a task that raises one fails without using its retries,
whichever code path it comes from.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class ProviderError(Exception):
    """A market-data provider call failed; the message names the endpoint and the input."""

    retryable = False

    def __init__(self, message: str, *, endpoint: str = "", params: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.params = params


class RetryableProviderError(ProviderError):
    """Transient: the same call may succeed later."""

    retryable = True


class RateLimitError(RetryableProviderError):
    """The per-minute limit of an endpoint was hit (``每分钟最多访问该接口N次``)."""

    def __init__(self, message: str, *, endpoint: str = "", params: str = "", limit_per_minute: int | None = None) -> None:
        super().__init__(message, endpoint=endpoint, params=params)
        self.limit_per_minute = limit_per_minute


class ProviderUnavailable(RetryableProviderError):
    """HTTP 5xx, connection error, timeout or an unreadable reply."""


class EmptyResponse(RetryableProviderError):
    """An empty frame where rows were due. The tushare SDK turns every HTTP status >= 400 into an
    empty ``DataFrame``, so "no rows" on a trading day is treated as a failed call, not as data."""


class QuotaExceeded(ProviderError, AirflowFailException):
    """A per-day (or per-hour) quota is used up (``每天最多访问该接口N次``): retrying today is futile."""


class PermissionDenied(ProviderError, AirflowFailException):
    """The token lacks the points or the separate permission an endpoint needs (``没有…权限``)."""


class InvalidToken(ProviderError, AirflowFailException):
    """The token is missing or rejected (``您的token不对``)."""


class ProviderConfigError(ProviderError, AirflowFailException):
    """The provider is misconfigured (unknown provider name, no token for tushare, bad JSON)."""
