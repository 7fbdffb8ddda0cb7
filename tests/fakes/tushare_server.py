"""A local tushare pro server for tests and benchmarks, speaking the SDK's wire protocol.

The real SDK (``tushare.pro.client.DataApi``) sends ``POST {url}/{api_name}`` with the JSON body
``{"api_name", "token", "params", "fields"}`` and reads ``{"code", "msg", "data": {"fields",
"items"}}``. Point it here with ``api._DataApi__http_url = server.url`` (``TushareProvider`` does
this from ``TUSHARE_API_URL`` / its ``url`` argument). Data comes from the synthetic market,
converted to tushare's raw units (vol in lots, amount in thousand yuan, shares and market values
in 万), rows newest first, unknown params ignored, ``fields`` honoured.

Fault injection, for the next ``times`` calls of an endpoint (``"*"`` = any)::

    server.inject("daily", "rate_limit", times=2)   # 抱歉，您每分钟最多访问该接口500次，…
    server.inject("daily", "daily_quota")           # 抱歉，您每天最多访问该接口…
    server.inject("index_daily", "permission")      # 抱歉，您没有接口访问权限，…
    server.inject("*", "token")                     # 您的token不对，请确认。
    server.inject("daily", "http500")               # HTTP 500 (the SDK turns it into an empty frame)
    server.inject("daily", "slow", seconds=0.5)     # reply late
    server.inject("daily", "bad_rows", rows=5)      # corrupt rows: high<low, negative vol, unknown code, close>limit

``rt_k`` (whole-market realtime) is served from the same market "as of" ``server.now``.

Account tiers, as tushare enforces them (off by default: every endpoint, no limits)::

    server.set_tier(120)                          # daily only; 50/min per endpoint, 8000 calls a day
    server.set_tier(2000)                         # + the 2000-point endpoints; 200/min (daily 500), 100k/day each
    server.set_tier(5000, permissions={"news"})   # + *_vip; 500/min; plus a separately bought permission

Above the tier: ``PERMISSION_MSG``; over a limit: ``RATE_LIMIT_MSG`` / ``DAILY_QUOTA_MSG``. Windows
and days follow ``server.clock`` (epoch seconds; tests share a fake clock with the limiter).
``server.refusals`` lists ``(api_name, kind)`` of every refused call, ``server.call_times``
``(api_name, clock)`` of every call. ``server.calls`` holds the calls made with this server's token;
calls with another token are refused as tushare refuses them and kept in ``foreign_calls`` (a stray
client elsewhere on the machine, aimed at a port this server now reuses, is not the test's caller).
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd
from ta_scheduler.providers.synthetic import TZ, SyntheticMarket

from fakes import TEST_TOKEN

RATE_LIMIT_MSG = "抱歉，您每分钟最多访问该接口{n}次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"
DAILY_QUOTA_MSG = "抱歉，您每天最多访问该接口{n}次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"
PERMISSION_MSG = "抱歉，您没有接口访问权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"
TOKEN_MSG = "您的token不对，请确认。"
UNKNOWN_CODE = "009999.SZ"

#: tushare's documented points per endpoint (None: a separate permission, not points).
TIER_POINTS: dict[str, int | None] = {
    "daily": 120, "stock_basic": 2000, "trade_cal": 2000, "adj_factor": 2000, "daily_basic": 2000, "stk_limit": 2000,
    "index_daily": 2000, "income": 2000, "balancesheet": 2000, "cashflow": 2000, "fina_indicator": 2000,
    "income_vip": 5000, "balancesheet_vip": 5000, "cashflow_vip": 5000, "fina_indicator_vip": 5000,
    "news": None, "rt_k": None,
}
#: points -> (calls per minute: endpoint -> n, "*" the rest; calls per day: "total" or "*" per endpoint)
TIER_LIMITS: dict[int, tuple[dict[str, int], dict[str, int]]] = {
    120: ({"*": 50}, {"total": 8000}),
    2000: ({"*": 200, "stock_basic": 50, "daily": 500, "adj_factor": 500, "news": 100, "rt_k": 100}, {"*": 100_000}),
    5000: ({"*": 500, "stock_basic": 50, "news": 100, "rt_k": 100}, {}),
}


@dataclass
class Fault:
    kind: str
    times: int
    options: dict[str, Any] = field(default_factory=dict)


def _compact(d: date | str) -> str:
    return (d.isoformat() if isinstance(d, date) else str(d)).replace("-", "")[:8]


def _parse(d: str) -> date:
    s = str(d).replace("-", "")
    return date(int(s[:4]), int(s[4:6]), int(s[6:8]))


class FakeTushareServer:
    """A threaded HTTP server on 127.0.0.1 (random port). Use as a context manager."""

    def __init__(self, n_stocks: int = 300, token: str = TEST_TOKEN, market: SyntheticMarket | None = None) -> None:
        self.market = market or SyntheticMarket(n_stocks)
        self.token = token
        self.now = datetime.now(TZ)
        #: last year whose trade_cal is served (later years come back empty: "not published")
        self.published_through = 2026
        #: days (YYYY-MM-DD) tushare has only partly published: ``daily`` serves this many rows
        self.partial_days: dict[str, int] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.foreign_calls: list[tuple[str, dict[str, Any]]] = []
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self._lock = threading.Lock()
        self.clock = time.time
        self.tier: int | None = None
        self.permissions: set[str] = set()
        self.refusals: list[tuple[str, str]] = []
        self.call_times: list[tuple[str, float]] = []
        self._minute: dict[str, list[float]] = defaultdict(list)
        self._day: dict[tuple[str, str], int] = defaultdict(int)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/dataapi"

    def start(self) -> FakeTushareServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = server.handle(body, self.path)
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-tushare", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeTushareServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- faults
    def inject(self, api_name: str, kind: str, times: int = 1, **options: Any) -> None:
        """Make the next ``times`` calls of ``api_name`` (``"*"`` = any) fail with ``kind``."""
        if kind not in ("rate_limit", "daily_quota", "permission", "token", "http500", "slow", "bad_rows"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults[api_name].append(Fault(kind, times, options))

    def reset(self) -> None:
        """Forget recorded calls, pending faults and partial days (between tests sharing one server)."""
        with self._lock:
            self.calls.clear()
            self.foreign_calls.clear()
            self._faults.clear()
            self.refusals.clear()
            self.call_times.clear()
            self._minute.clear()
            self._day.clear()
            self.partial_days.clear()

    def set_tier(self, points: int | None, permissions: set[str] | frozenset[str] = frozenset()) -> None:
        """Enforce the tier of ``points`` (None: no enforcement) plus separately bought permissions."""
        if points is not None and points not in TIER_LIMITS:
            raise ValueError(f"unknown tier {points}; known: {sorted(TIER_LIMITS)}")
        with self._lock:
            self.tier, self.permissions = points, set(permissions)

    def spend(self, calls: int, api_name: str = "daily") -> None:
        """Count ``calls`` made today with this token by some other program (they use up the day)."""
        day = datetime.fromtimestamp(self.clock(), TZ).date().isoformat()
        with self._lock:
            self._day[(day, api_name)] += calls
            self._day[(day, "total")] += calls

    def _tier_refusal(self, api_name: str) -> tuple[str, str] | None:
        """(kind, message) when the account's tier refuses this call, else None (the call counts)."""
        if self.tier is None:
            return None
        needed = TIER_POINTS.get(api_name, 2000)
        if api_name not in self.permissions and (needed is None or needed > self.tier):
            return "permission", PERMISSION_MSG
        per_minute, per_day = TIER_LIMITS[self.tier]
        now = self.clock()
        day = datetime.fromtimestamp(now, TZ).date().isoformat()
        day_limit = per_day.get(api_name, per_day.get("*"))
        if day_limit is not None and self._day[(day, api_name)] >= day_limit:
            return "daily_quota", DAILY_QUOTA_MSG.format(n=day_limit)
        if "total" in per_day and self._day[(day, "total")] >= per_day["total"]:
            return "daily_quota", DAILY_QUOTA_MSG.format(n=per_day["total"])
        window = [t for t in self._minute[api_name] if now - t < 60.0]
        minute_limit = per_minute.get(api_name, per_minute["*"])
        if len(window) >= minute_limit:
            self._minute[api_name] = window
            return "rate_limit", RATE_LIMIT_MSG.format(n=minute_limit)
        self._minute[api_name] = [*window, now]
        self._day[(day, api_name)] += 1
        self._day[(day, "total")] += 1
        return None

    # ---------------------------------------------------------------- publication
    def publish_partially(self, day: str, rows: int) -> None:
        """Serve only the first ``rows`` stocks of ``day`` from ``daily``, as tushare does while
        it is still loading a day's bars."""
        self.partial_days[day] = rows

    def publish_rest(self, day: str) -> None:
        """The rest of ``day`` arrives: ``daily`` serves the whole market again."""
        self.partial_days.pop(day, None)

    def calls_to(self, api_name: str) -> list[dict[str, Any]]:
        return [p for name, p in self.calls if name == api_name]

    def _take_fault(self, api_name: str) -> Fault | None:
        with self._lock:
            for key in (api_name, "*"):
                queue = self._faults.get(key)
                if queue:
                    fault = queue[0]
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.pop(0)
                    return fault
        return None

    # ---------------------------------------------------------------- protocol
    def handle(self, body: dict[str, Any], path: str) -> tuple[int, dict[str, Any]]:
        api_name = body.get("api_name") or path.rstrip("/").rsplit("/", 1)[-1]
        params = dict(body.get("params") or {})
        params.pop("ts_type_name", None)
        if body.get("token") != self.token:
            with self._lock:
                self.foreign_calls.append((api_name, params))
            return 200, {"code": 40101, "msg": TOKEN_MSG, "data": None}
        with self._lock:
            self.calls.append((api_name, params))
        fault = self._take_fault(api_name)
        if fault is not None and (reply := _fault_reply(fault)) is not None:
            return reply
        bad_rows = int(fault.options.get("rows", 4)) if fault is not None and fault.kind == "bad_rows" else 0
        with self._lock:
            self.call_times.append((api_name, self.clock()))
            refusal = self._tier_refusal(api_name)
            if refusal is not None:
                self.refusals.append((api_name, refusal[0]))
        if refusal is not None:
            return 200, {"code": 40203 if refusal[0] == "rate_limit" else 40101, "msg": refusal[1], "data": None}
        handler = getattr(self, f"_api_{api_name.removesuffix('_vip')}", None)
        if handler is None:
            return 200, {"code": 40101, "msg": f"抱歉，接口{api_name}不存在", "data": None}
        frame: pd.DataFrame = handler(params, api_name)
        if bad_rows:
            frame = _corrupt(frame, bad_rows)
        frame = _only_fields(frame, body.get("fields") or "")
        items = frame.astype(object).where(frame.notna(), None).values.tolist()
        return 200, {"request_id": "fake", "code": 0, "msg": "",
                     "data": {"fields": list(frame.columns), "items": items, "has_more": False}}

    # ---------------------------------------------------------------- endpoints (raw tushare units)
    def _sessions(self, params: dict[str, Any]) -> list[date]:
        if params.get("trade_date"):
            return [_parse(params["trade_date"])]
        start, end = _parse(params.get("start_date") or "20200101"), _parse(params.get("end_date") or _compact(self.now.date()))
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        return [d for d in days if self.market.is_session(d)][::-1]

    def _filter_codes(self, frame: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
        if params.get("ts_code"):
            codes = str(params["ts_code"]).split(",")
            frame = frame[frame["ts_code"].isin(codes)]
        return frame.reset_index(drop=True)

    def _per_day(self, params: dict[str, Any], build) -> pd.DataFrame:
        frames = [build(d) for d in self._sessions(params)]
        frames = [f for f in frames if len(f)]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["ts_code", "trade_date"])
        return self._filter_codes(frame, params)

    def _api_stock_basic(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        f = self.market.stock_basic()
        return pd.DataFrame({"ts_code": f.ts_code, "symbol": f.code, "name": f.name, "area": f.area, "industry": f.industry,
                             "market": f.market, "exchange": f.exchange, "list_status": f.list_status,
                             "list_date": f.list_date.str.replace("-", ""), "is_hs": f.is_hs})

    def _api_trade_cal(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        f = self.market.trade_cal(_parse(params.get("start_date") or "20260101"), _parse(params.get("end_date") or "20261231"),
                                  params.get("exchange") or "SSE")
        out = pd.DataFrame({"exchange": f.exchange, "cal_date": f.cal_date.str.replace("-", ""), "is_open": f.is_open,
                            "pretrade_date": f.pretrade_date.str.replace("-", "")})
        if params.get("is_open") not in (None, ""):
            out = out[out.is_open == int(params["is_open"])]
        # like tushare: a year is published only once the exchange has announced its holidays
        out = out[out.cal_date.str[:4].astype(int) <= self.published_through]
        return out.iloc[::-1].reset_index(drop=True)

    def _api_daily(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        def build(d: date) -> pd.DataFrame:
            f = self.market.daily(d)
            if d.isoformat() in self.partial_days:
                f = f.iloc[: self.partial_days[d.isoformat()]]
            if not len(f):
                return f
            return pd.DataFrame({"ts_code": f.ts_code, "trade_date": _compact(d), "open": f.open, "high": f.high, "low": f.low,
                                 "close": f.close, "pre_close": f.pre_close, "change": f.change, "pct_chg": f.pct_chg,
                                 "vol": f.volume / 100, "amount": (f.amount / 1000).round(3)})
        return self._per_day(params, build)

    def _api_adj_factor(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        def build(d: date) -> pd.DataFrame:
            f = self.market.adj_factor(d)
            return f.assign(trade_date=_compact(d)) if len(f) else f
        return self._per_day(params, build)

    def _api_daily_basic(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        def build(d: date) -> pd.DataFrame:
            f = self.market.daily_basic(d)
            if not len(f):
                return f
            f = f.assign(trade_date=_compact(d), close=self.market.daily(d).set_index("ts_code").close.reindex(f.ts_code).values)
            for c in ("total_share", "float_share"):
                f[c] = f[c] / 10_000
            f["free_share"] = self.market.universe.params["free_share"][self.market.listed(d)] / 10_000
            for c in ("total_mv", "circ_mv"):
                f[c] = (f[c] / 10_000).round(4)
            f["dv_ttm"] = f["dv_ratio"]
            return f
        return self._per_day(params, build)

    def _api_stk_limit(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        def build(d: date) -> pd.DataFrame:
            f = self.market.stk_limit(d)
            return f.assign(trade_date=_compact(d)) if len(f) else f
        return self._per_day(params, build)

    def _api_index_daily(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        if not params.get("ts_code"):
            return pd.DataFrame(columns=["ts_code", "trade_date"])
        days = self._sessions(params)
        if not days:
            return pd.DataFrame(columns=["ts_code", "trade_date"])
        f = self.market.index_daily(str(params["ts_code"]).split(","), min(days), max(days))
        f = f.assign(trade_date=f.trade_date.str.replace("-", ""), vol=f.volume / 100, amount=(f.amount / 1000).round(3))
        return f.drop(columns=["volume"])

    def _financial(self, params: dict[str, Any], statement: str) -> pd.DataFrame:
        if params.get("ann_date"):
            start = end = _parse(params["ann_date"])
        else:
            start = _parse(params.get("start_date") or "19900101")
            end = _parse(params.get("end_date") or _compact(self.now.date()))
        codes = str(params["ts_code"]).split(",") if params.get("ts_code") else None
        f = self.market.financial_statements(statement, start, end, codes)
        if not len(f):
            return pd.DataFrame(columns=["ts_code", "ann_date", "end_date"])
        f = f.drop(columns=["code"]).rename(columns={"report_period": "end_date"})
        for c in ("ann_date", "f_ann_date", "end_date"):
            if c in f.columns:
                f[c] = f[c].str.replace("-", "")
        if statement == "fina_indicator":
            f = f.drop(columns=["report_type"])
        return f.sort_values(["ann_date", "ts_code"], ascending=[False, True]).reset_index(drop=True)

    def _api_income(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        return self._financial(params, "income")

    def _api_balancesheet(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        return self._financial(params, "balancesheet")

    def _api_cashflow(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        return self._financial(params, "cashflow")

    def _api_fina_indicator(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        return self._financial(params, "fina_indicator")

    def _api_news(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        start = datetime.fromisoformat(params["start_date"]).replace(tzinfo=TZ)
        end = datetime.fromisoformat(params["end_date"]).replace(tzinfo=TZ) + timedelta(seconds=1)
        f = self.market.news(start, end, source=params.get("src") or "sina")
        return pd.DataFrame({"datetime": f.publish_time.dt.strftime("%Y-%m-%d %H:%M:%S"), "content": f.content,
                             "title": f.title, "channels": f.channels})

    def _api_rt_k(self, params: dict[str, Any], _: str) -> pd.DataFrame:
        f = self.market.realtime(self.now)
        patterns = str(params.get("ts_code") or "").split(",")
        keep = np.zeros(len(f), dtype=bool)
        for p in patterns:
            keep |= np.array([fnmatch.fnmatchcase(c, p) for c in f.ts_code]) if "*" in p else (f.ts_code == p).values
        f = f[keep]
        return pd.DataFrame({"ts_code": f.ts_code, "name": f.name, "pre_close": f.pre_close, "high": f.high, "open": f.open,
                             "low": f.low, "close": f.price, "vol": f.volume.astype("int64"),
                             "amount": f.amount.astype("int64"), "num": (f.volume // 1000).astype("int64"),
                             "ask_price1": f.ask1, "bid_price1": f.bid1,
                             "trade_time": f.quote_time.dt.strftime("%Y-%m-%d %H:%M:%S")})


def _fault_reply(fault: Fault) -> tuple[int, dict[str, Any]] | None:
    """What the server answers under ``fault`` instead of the data, or None when it answers with
    the data all the same (``slow``: after its pause; ``bad_rows``: some rows broken)."""
    if fault.kind == "slow":
        time.sleep(float(fault.options.get("seconds", 1.0)))
        return None
    if fault.kind == "http500":
        return 500, {"code": 500, "msg": "Internal Server Error", "data": None}
    if fault.kind == "bad_rows":
        return None
    msg = {"rate_limit": RATE_LIMIT_MSG.format(n=fault.options.get("limit", 500)),
           "daily_quota": DAILY_QUOTA_MSG.format(n=fault.options.get("limit", 2)),
           "permission": PERMISSION_MSG, "token": TOKEN_MSG}[fault.kind]
    return 200, {"code": 40203 if fault.kind == "rate_limit" else 40101, "msg": msg, "data": None}


def _only_fields(frame: pd.DataFrame, fields: str | list[str]) -> pd.DataFrame:
    """The columns a request's ``fields`` name (comma-separated or a list), in that order, a
    missing one as None; every column when it names none."""
    wanted = [f.strip() for f in (fields.split(",") if isinstance(fields, str) else fields) if f.strip()]
    if wanted:
        for f in wanted:
            if f not in frame.columns:
                frame[f] = None
        frame = frame[wanted]
    return frame


def _corrupt(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """Break ``rows`` rows in rotation: high<low, negative volume, unknown code, close above the limit."""
    frame = frame.copy()
    for i in range(min(rows, len(frame))):
        kind = i % 4
        if kind == 0 and {"high", "low"} <= set(frame.columns):
            frame.loc[i, ["high", "low"]] = [frame.at[i, "low"] - 0.5, frame.at[i, "high"] + 0.5]
        elif kind == 1 and "vol" in frame.columns:
            frame.loc[i, "vol"] = -abs(frame.at[i, "vol"]) - 1
        elif kind == 2:
            frame.loc[i, "ts_code"] = UNKNOWN_CODE
        elif kind == 3 and "close" in frame.columns:
            frame.loc[i, "close"] = round(frame.at[i, "pre_close"] * 1.5, 2)
            frame.loc[i, "high"] = max(frame.at[i, "high"], frame.at[i, "close"])
    return frame
