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

RATE_LIMIT_MSG = "抱歉，您每分钟最多访问该接口{n}次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"
DAILY_QUOTA_MSG = "抱歉，您每天最多访问该接口{n}次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"
PERMISSION_MSG = "抱歉，您没有接口访问权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"
TOKEN_MSG = "您的token不对，请确认。"
UNKNOWN_CODE = "009999.SZ"


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

    def __init__(self, n_stocks: int = 300, token: str = "TESTTOKEN", market: SyntheticMarket | None = None) -> None:
        self.market = market or SyntheticMarket(n_stocks)
        self.token = token
        self.now = datetime.now(TZ)
        #: last year whose trade_cal is served (later years come back empty: "not published")
        self.published_through = 2026
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._faults: dict[str, list[Fault]] = defaultdict(list)
        self._lock = threading.Lock()
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
        """Forget recorded calls and pending faults (between tests sharing one server)."""
        with self._lock:
            self.calls.clear()
            self._faults.clear()

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
        with self._lock:
            self.calls.append((api_name, params))
        fault = self._take_fault(api_name)
        bad_rows = 0
        if fault is not None:
            if fault.kind == "slow":
                time.sleep(float(fault.options.get("seconds", 1.0)))
            elif fault.kind == "http500":
                return 500, {"code": 500, "msg": "Internal Server Error", "data": None}
            elif fault.kind == "bad_rows":
                bad_rows = int(fault.options.get("rows", 4))
            else:
                msg = {"rate_limit": RATE_LIMIT_MSG.format(n=fault.options.get("limit", 500)),
                       "daily_quota": DAILY_QUOTA_MSG.format(n=fault.options.get("limit", 2)),
                       "permission": PERMISSION_MSG, "token": TOKEN_MSG}[fault.kind]
                return 200, {"code": 40203 if fault.kind == "rate_limit" else 40101, "msg": msg, "data": None}
        if body.get("token") != self.token:
            return 200, {"code": 40101, "msg": TOKEN_MSG, "data": None}
        handler = getattr(self, f"_api_{api_name.removesuffix('_vip')}", None)
        if handler is None:
            return 200, {"code": 40101, "msg": f"抱歉，接口{api_name}不存在", "data": None}
        frame: pd.DataFrame = handler(params, api_name)
        if bad_rows:
            frame = _corrupt(frame, bad_rows)
        fields = body.get("fields") or ""
        wanted = [f.strip() for f in (fields.split(",") if isinstance(fields, str) else fields) if f.strip()]
        if wanted:
            for f in wanted:
                if f not in frame.columns:
                    frame[f] = None
            frame = frame[wanted]
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
