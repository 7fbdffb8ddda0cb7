"""The trigger ``daily_sync`` defers to while tushare publishes the day (see ``vendor_ready``)."""

from __future__ import annotations

from typing import Any

from ta_scheduler.deferral import PollUntilReadyTrigger


class VendorReadyTrigger(PollUntilReadyTrigger):
    """Fires once: ``{"status": "ready", "published": n}`` when tushare ``daily`` has at least
    ``min_share`` of ``expected`` stocks for ``trade_date``, else ``{"status": "timeout",
    "detail": <the shortfall>}`` at ``deadline``.

    The token and URL are resolved on the worker and passed in (Airflow encrypts trigger kwargs
    in the metadata DB and leaves them out of REST responses; ``repr`` leaves the token out).
    An unreachable or rate-limited API is a reason to keep waiting; a refused token or missing
    permission ends the wait with the vendor's error.
    """

    def __init__(self, trade_date: str, expected: int, symbols: list[str] | None, min_share: float,
                 token: str, url: str, deadline: str, poll_seconds: float = 300.0):
        super().__init__(deadline, poll_seconds)
        self.trade_date = trade_date
        self.expected = int(expected)
        self.symbols = list(symbols) if symbols else None
        self.min_share = float(min_share)
        self.token = token
        self.url = url
        self.published: int | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"trade_date": self.trade_date, "expected": self.expected, "symbols": self.symbols,
             "min_share": self.min_share, "token": self.token, "url": self.url, "deadline": self.deadline,
             "poll_seconds": self.poll_seconds},
        )

    def __repr__(self) -> str:  # Airflow's default shows the kwargs: keep the token out of logs
        return (f"<VendorReadyTrigger {self.trade_date} expected={self.expected} url={self.url} "
                f"deadline={self.deadline} poll={self.poll_seconds:g}s>")

    def prepare(self) -> None:
        from ta_scheduler.providers.ratelimit import RateLimiter
        from ta_scheduler.providers.tushare_pro import TushareProvider

        # one attempt per check: the next poll is the retry; default limits, no Variable lookups
        self._provider = TushareProvider(self.token, self.url, limiter=RateLimiter({}), max_attempts=1)

    def check(self) -> str | None:
        from ta_scheduler.providers.errors import RetryableProviderError
        from ta_scheduler.vendor_ready import published_count, shortfall

        try:
            self.published = published_count(self._provider, self.trade_date, self.symbols)
        except RetryableProviderError as exc:
            return f"tushare not answering: {exc}"
        return shortfall(self.trade_date, self.expected, self.published, self.min_share)

    def waiting_for(self) -> str:
        return f"tushare daily {self.trade_date}"

    def event_fields(self) -> dict[str, Any]:
        return {"trade_date": self.trade_date, "expected": self.expected, "published": self.published}
