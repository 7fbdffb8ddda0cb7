"""The tushare pro provider: the one place that talks to tushare (STYLE habit 4).

Uses the real ``tushare`` SDK's ``DataApi`` (``ts.pro_api``). Whole-market endpoints are called
by ``trade_date`` (one call per endpoint per day), never ``pro_bar``. Every call goes through
:meth:`TushareProvider.call`, which applies the per-endpoint rate limiter, classifies the
server's error text and retries what is retryable:

- ``最多访问该接口`` per minute -> :class:`RateLimitError`, wait for the next window and retry;
  per day/hour (``每天``/``每小时``) -> :class:`QuotaExceeded`, fatal;
- ``没有…权限`` -> :class:`PermissionDenied`, fatal, naming the endpoint and the points it needs;
  the refusal is remembered for the day (``RateLimiter.refuse``, shared by all workers), and
  later calls of that endpoint today raise it again without asking tushare;
- ``token不对`` -> :class:`InvalidToken`, fatal;
- an empty frame where rows were due -> :class:`EmptyResponse` (the SDK returns an empty,
  column-less ``DataFrame`` for every HTTP status >= 400), retried, then raised.

Configuration (first found): token from env ``TUSHARE_TOKEN``, else connection
``tushare_default`` (password); base URL from env ``TUSHARE_API_URL``, else the connection's
host (a full URL, or ``host:port`` -> ``http://host:port/dataapi``), else the SDK default
``http://api.waditu.com/dataapi``. The SDK hard-codes the URL as the private class attribute
``DataApi.__http_url``; we set ``_DataApi__http_url`` on our instance only.

Transport: the SDK (1.4.29) and tushare's documentation name only plain-HTTP endpoints, and
tushare documents no HTTPS one, so by default the token travels unencrypted in every request
body. Set ``TUSHARE_API_URL`` to an ``https://`` endpoint you trust (e.g. your own TLS proxy) to
avoid that; a plain-HTTP URL to a non-loopback host is logged as a warning (README "Security").
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from ta_scheduler.constants import Conns
from ta_scheduler.market import BOARDS, MAJOR_INDICES, to_ts_code
from ta_scheduler.providers import normalise as N
from ta_scheduler.providers.base import STATEMENTS
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
from ta_scheduler.providers.ratelimit import RateLimiter, shared_limiter
from ta_scheduler.providers.tiers import required
from ta_scheduler.retrying import call_with_retries

log = logging.getLogger(__name__)

DEFAULT_URL = "http://api.waditu.com/dataapi"
#: Row cap per request (the server truncates silently above it).
ROW_CAPS = {"news": 1500, "stock_basic": 6000, "daily": 6000, "rt_k": 6000}
#: rt_k wildcards that together cover the whole A-share market: one per code prefix of
#: ``market.BOARDS`` (B shares left out: tushare's stock list has none, so no bar could be stored).
REALTIME_PATTERNS = tuple(f"{prefix}*.{board.exchange}" for board in BOARDS if board.name != "B股"
                          for prefix in board.prefixes)
REALTIME_FIELDS = "ts_code,name,pre_close,high,open,low,close,vol,amount,num,bid_price1,ask_price1,trade_time"

_PER_MINUTE = re.compile(r"每分钟最多访问该接口(\d+)次")


def classify_error(endpoint: str, params: str, message: str) -> ProviderError:
    """The typed error for a tushare error text (pure; see the module doc)."""
    where = f"tushare {endpoint} {params}".rstrip()
    if "最多访问该接口" in message:
        if "每天" in message or "每小时" in message:
            return QuotaExceeded(
                f"{where}: quota used up ({message}); retry after the quota resets or raise the account's points",
                endpoint=endpoint, params=params)
        m = _PER_MINUTE.search(message)
        limit = int(m.group(1)) if m else None
        return RateLimitError(f"{where}: rate limit ({limit or '?'}/min): {message}", endpoint=endpoint, params=params,
                              limit_per_minute=limit)
    if "token不对" in message or ("token" in message.lower() and "无效" in message):
        return InvalidToken(f"{where}: the token was rejected ({message}); set a valid token in connection "
                            f"{Conns.TUSHARE} (password) or env TUSHARE_TOKEN", endpoint=endpoint, params=params)
    if "没有" in message and "权限" in message:
        # no params in the text: the refusal is the token's, the same for every input
        return PermissionDenied(f"tushare {endpoint}: no permission for endpoint '{endpoint}' (needs {required(endpoint)}): "
                                f"{message}", endpoint=endpoint, params=params)
    return ProviderError(f"{where}: server error: {message}", endpoint=endpoint, params=params)


def resolve_settings() -> tuple[str | None, str]:
    """(token, base URL) from connection ``tushare_default``, then the seed's env names, then defaults."""
    from ta_scheduler.config import tushare_credentials

    token, url = tushare_credentials()
    return token, url or DEFAULT_URL


def warn_if_plain_http(url: str) -> bool:
    """Log (and return True) when the token would go unencrypted to a host other than this machine."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("tushare: %s://%s is plain HTTP; the token is sent unencrypted with every request "
                    "(set TUSHARE_API_URL to an https:// endpoint you trust to avoid it)", parts.scheme, host)
        return True
    return False


class TushareProvider:
    """Market data from tushare pro, normalised to our units (see ``providers.base``)."""

    name = "tushare"

    def __init__(
        self,
        token: str | None = None,
        url: str | None = None,
        *,
        timeout: float = 30.0,
        limiter: RateLimiter | None = None,
        max_attempts: int = 4,
        rate_limit_wait: float = 61.0,
        backoff: float = 2.0,
        news_sources: Sequence[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if token is None or url is None:
            env_token, env_url = resolve_settings()
            token, url = token or env_token, url or env_url
        if not token:
            raise ProviderConfigError(
                f"tushare: no token configured; set connection {Conns.TUSHARE} (password) or env TUSHARE_TOKEN, "
                "or use the demo provider (TA_DATA_PROVIDER=demo)")
        import tushare as ts

        self.url = url
        warn_if_plain_http(url)
        self._api = ts.pro_api(token=token, timeout=timeout)
        self._api._DataApi__http_url = url  # the SDK has no public way to set it
        self.limiter = limiter or shared_limiter(token)
        self.max_attempts = max_attempts
        self.rate_limit_wait = rate_limit_wait
        self.backoff = backoff
        from ta_scheduler.config import setting_list

        self.news_sources = tuple(news_sources or setting_list("TA_TUSHARE_NEWS_SOURCES"))
        self._sleep = sleep
        self.calls = 0

    # ------------------------------------------------------------------ the one call path
    def call(self, endpoint: str, *, fields: str = "", expect_rows: bool = True, **params: Any) -> pd.DataFrame:
        """One tushare request with rate limiting, error classification and retries."""
        desc = " ".join(f"{k}={v}" for k, v in params.items() if v not in (None, ""))
        refused = self.limiter.refused().get(endpoint)
        if refused is not None:  # refused earlier today: not asked again until tomorrow
            raise PermissionDenied(refused, endpoint=endpoint, params=desc)

        def attempt() -> pd.DataFrame:
            self.limiter.acquire(endpoint)
            self.calls += 1
            try:
                frame = self._query(endpoint, fields, desc, params)
            except PermissionDenied as exc:
                if self.limiter.refuse(endpoint, str(exc)):
                    log.warning("%s; not called again today (tier %s)", exc, self.limiter.tier.name)
                raise
            if frame.empty and expect_rows:
                raise EmptyResponse(
                    f"tushare {endpoint} {desc}: empty reply where rows were due (HTTP error or no data published "
                    "yet); retry later, and check the date is a trading day", endpoint=endpoint, params=desc)
            return frame

        return call_with_retries(attempt, retry_on=RetryableProviderError, attempts=self.max_attempts,
                                 wait=self._retry_wait, sleep=self._sleep)

    def _retry_wait(self, failed_try: int, exc: BaseException) -> float:
        """Seconds before the next try: tushare's minute window after a rate limit, else 2, 4, 8 s ..."""
        return self.rate_limit_wait if isinstance(exc, RateLimitError) else self.backoff * 2 ** (failed_try - 1)

    def _query(self, endpoint: str, fields: str, desc: str, params: dict[str, Any]) -> pd.DataFrame:
        import requests

        try:
            frame = self._api.query(endpoint, fields=fields, **{k: v for k, v in params.items() if v is not None})
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"tushare {endpoint} {desc}: cannot reach {self.url}: {exc}",
                                      endpoint=endpoint, params=desc) from exc
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise ProviderUnavailable(f"tushare {endpoint} {desc}: unreadable reply ({exc!r})",
                                      endpoint=endpoint, params=desc) from exc
        except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exception(msg) for code != 0
            raise classify_error(endpoint, desc, str(exc)) from exc
        if len(frame.columns) == 0:
            raise ProviderUnavailable(f"tushare {endpoint} {desc}: HTTP error from {self.url} (the SDK returned an "
                                      "empty frame without columns)", endpoint=endpoint, params=desc)
        return frame

    # ------------------------------------------------------------------ endpoints
    def stock_basic(self) -> pd.DataFrame:
        raw = self.call("stock_basic", list_status="L",
                        fields="ts_code,symbol,name,area,industry,market,exchange,list_status,list_date,is_hs")
        return N.normalise_stock_basic(raw)

    def trade_cal(self, start: str, end: str, exchange: str = "SSE") -> pd.DataFrame:
        raw = self.call("trade_cal", exchange=exchange, start_date=N.compact_date(start), end_date=N.compact_date(end),
                        fields="exchange,cal_date,is_open,pretrade_date", expect_rows=False)  # a year not published yet: none
        return N.normalise_trade_cal(raw)

    def daily(self, trade_date: str) -> pd.DataFrame:
        return N.normalise_daily(self.call("daily", trade_date=N.compact_date(trade_date)))

    def adj_factor(self, trade_date: str) -> pd.DataFrame:
        return N.normalise_adj_factor(self.call("adj_factor", trade_date=N.compact_date(trade_date)))

    def daily_basic(self, trade_date: str) -> pd.DataFrame:
        return N.normalise_daily_basic(self.call("daily_basic", trade_date=N.compact_date(trade_date)))

    def stk_limit(self, trade_date: str) -> pd.DataFrame:
        return N.normalise_stk_limit(self.call("stk_limit", trade_date=N.compact_date(trade_date)))

    def index_daily(self, ts_codes: Sequence[str] = tuple(MAJOR_INDICES), start: str = "", end: str = "") -> pd.DataFrame:
        frames = [N.normalise_index_daily(self.call("index_daily", ts_code=code, start_date=N.compact_date(start),
                                                    end_date=N.compact_date(end)))
                  for code in ts_codes]
        return pd.concat(frames, ignore_index=True)

    def financial_statements(self, statement: str, start: str, end: str,
                             ts_codes: Sequence[str] | None = None) -> pd.DataFrame:
        """Whole market: ``<statement>_vip`` once per announcement day; ``ts_codes``: per stock."""
        if statement not in STATEMENTS:
            raise ValueError(f"unknown statement {statement!r}; expected one of {', '.join(STATEMENTS)}")
        frames = []
        if ts_codes is None:
            day, last = date.fromisoformat(start), date.fromisoformat(end)
            while day <= last:
                frames.append(self.call(f"{statement}_vip", ann_date=day.strftime("%Y%m%d"), expect_rows=False))
                day += timedelta(days=1)
        else:
            for code in ts_codes:
                # per stock, fetch everything and keep the announcement window (fina_indicator's own
                # start/end filter report periods, not announcements)
                raw = self.call(statement, ts_code=code, expect_rows=False)
                if len(raw):
                    ann = raw["ann_date"].astype(str)
                    raw = raw[(ann >= N.compact_date(start)) & (ann <= N.compact_date(end))]
                frames.append(raw)
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["ts_code", "code", "ann_date", "report_period", "report_type"])
        return N.normalise_financial(pd.concat(frames, ignore_index=True), statement)

    def news(self, start: datetime, end: datetime) -> pd.DataFrame:
        frames = []
        for src in self.news_sources:
            frames += self._news_window(src.strip(), start, end)
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=["title", "content", "source", "url", "publish_time", "channels"])
        return pd.concat(frames, ignore_index=True)

    def _news_window(self, src: str, start: datetime, end: datetime) -> list[pd.DataFrame]:
        fmt = "%Y-%m-%d %H:%M:%S"
        local_start, local_end = start.astimezone(N.TZ), (end - timedelta(seconds=1)).astimezone(N.TZ)
        raw = self.call("news", src=src, start_date=local_start.strftime(fmt), end_date=local_end.strftime(fmt),
                        fields="datetime,content,title,channels", expect_rows=False)
        if len(raw) >= ROW_CAPS["news"] and end - start > timedelta(minutes=2):
            mid = start + (end - start) / 2  # the reply was truncated: split the window
            return self._news_window(src, start, mid) + self._news_window(src, mid, end)
        return [N.normalise_news(raw, src)] if len(raw) else []

    def realtime_quotes(self, codes: Sequence[str] | None = None, at: datetime | None = None) -> pd.DataFrame:
        """Whole market via ``rt_k`` wildcards (one call per :data:`REALTIME_PATTERNS`), or ``codes`` in batches of 500."""
        fetched_at = datetime.now(N.TZ)
        if codes:
            ts_codes = [to_ts_code(c) for c in codes]
            batches = [",".join(ts_codes[i:i + 500]) for i in range(0, len(ts_codes), 500)]
        else:
            batches = list(REALTIME_PATTERNS)
        frames = [self.call("rt_k", ts_code=b, fields=REALTIME_FIELDS, expect_rows=False) for b in batches]
        frames = [f for f in frames if len(f)]
        if not frames:
            raise EmptyResponse(f"tushare rt_k {len(batches)} batches: no quotes at all; retry later",
                                endpoint="rt_k", params=f"{len(batches)} batches")
        return N.normalise_rt_k(pd.concat(frames, ignore_index=True), fetched_at)
