"""Market-data providers: one interface (``base.MarketDataProvider``), two sources.

``get_provider()`` picks the source: env ``TA_DATA_PROVIDER=demo|tushare`` forces one; otherwise
tushare when a token is configured (env ``TUSHARE_TOKEN`` or connection ``tushare_default``),
else the deterministic demo market. See docs/data-sync.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ta_scheduler.providers.errors import (
    EmptyResponse,
    InvalidToken,
    PermissionDenied,
    ProviderConfigError,
    ProviderError,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimitError,
    RetryableProviderError,
)

if TYPE_CHECKING:
    from ta_scheduler.providers.base import MarketDataProvider

__all__ = [
    "EmptyResponse",
    "InvalidToken",
    "PermissionDenied",
    "ProviderConfigError",
    "ProviderError",
    "ProviderUnavailable",
    "QuotaExceeded",
    "RateLimitError",
    "RetryableProviderError",
    "get_provider",
]


def get_provider(name: str | None = None) -> MarketDataProvider:
    """The configured provider (see the module doc). ``name`` overrides the environment."""
    from ta_scheduler.config import setting

    choice = (name or setting("TA_DATA_PROVIDER") or "").strip().lower()
    if choice not in ("", "demo", "tushare"):
        raise ProviderConfigError(f"TA_DATA_PROVIDER={choice!r}: unknown provider; use 'demo' or 'tushare'")
    if choice == "demo":
        from ta_scheduler.providers.demo import DemoProvider

        return DemoProvider()
    from ta_scheduler.providers.tushare_pro import TushareProvider, resolve_settings

    token, url = resolve_settings()
    if token or choice == "tushare":
        return TushareProvider(token, url)  # raises a clear error when forced without a token
    from ta_scheduler.providers.demo import DemoProvider

    return DemoProvider()
