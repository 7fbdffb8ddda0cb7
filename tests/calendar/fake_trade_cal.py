"""A local stand-in for the tushare pro API that answers ``trade_cal`` only.

Speaks the SDK's wire protocol: ``POST {base}/{api_name}`` (or the base itself) with JSON
``{"api_name", "token", "params", "fields"}`` → HTTP 200 ``{"code": 0, "msg": "", "data":
{"fields": [...], "items": [[...]], "has_more": false}}``, rows newest first, as the real API
returns them. Errors come back as ``code != 0`` with tushare's message texts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fakes import TEST_TOKEN

ALL_FIELDS = ["exchange", "cal_date", "is_open", "pretrade_date"]
TOKEN_ERROR = "您的token不对，请确认。"

#: A made-up 2027 holiday list (not the real one, which is not announced yet): the test
#: proves the synced file, not XSHG or the weekday rule, decides 2027.
HOLIDAYS_2027 = [
    date(2027, 1, 1),
    *[date(2027, 2, 8) + timedelta(days=i) for i in range(5)],  # Mon 02-08 .. Fri 02-12
    date(2027, 4, 5),
    date(2027, 5, 3),
    date(2027, 6, 9),
    date(2027, 9, 15),
    *[date(2027, 10, 1) + timedelta(days=i) for i in (0, 3, 4, 5, 6)],  # Fri 10-01, Mon-Thu 10-04..07
]


class FakeTradeCal:
    """Published calendars per year: weekdays are open unless listed as closed."""

    def __init__(self, token: str = TEST_TOKEN) -> None:
        self.token = token
        self.closed: dict[int, set[date]] = {}
        self.open_weekend: dict[int, set[date]] = {}
        self.published_through: dict[int, date] = {}
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None

    def publish(self, year: int, closed: Iterable[date], *, through: date | None = None,
                open_weekend: Iterable[date] = ()) -> None:
        """Make ``year`` available; ``through`` simulates a partial publication."""
        self.closed[year] = set(closed)
        self.open_weekend[year] = set(open_weekend)
        self.published_through[year] = through or date(year, 12, 31)

    def rows(self, start: date, end: date) -> list[list[Any]]:
        out = []
        prev_open: date | None = None
        d = date(start.year - 1, 12, 1)
        while d <= end:
            published = d.year in self.published_through and d <= self.published_through[d.year]
            is_open = published and (
                (d.weekday() < 5 and d not in self.closed[d.year]) or d in self.open_weekend[d.year]
            )
            if published and start <= d:
                out.append(["SSE", d.strftime("%Y%m%d"), 1 if is_open else 0,
                            prev_open.strftime("%Y%m%d") if prev_open else None])
            if is_open:
                prev_open = d
            d += timedelta(days=1)
        return list(reversed(out))

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(body)
        if body.get("token") != self.token:
            return {"code": 40101, "msg": TOKEN_ERROR, "data": None}
        if body.get("api_name") != "trade_cal":
            return {"code": 40203, "msg": f"接口名不存在: {body.get('api_name')}", "data": None}
        params = body.get("params") or {}
        if params.get("exchange", "SSE") != "SSE":
            return {"code": 0, "msg": "", "data": {"fields": ALL_FIELDS, "items": [], "has_more": False}}
        start = _day(params.get("start_date") or "19900101")
        end = _day(params.get("end_date") or "20991231")
        fields = [f for f in (body.get("fields") or "").split(",") if f] or ALL_FIELDS
        idx = [ALL_FIELDS.index(f) for f in fields]
        items = [[row[i] for i in idx] for row in self.rows(start, end)]
        return {"request_id": "fake", "code": 0, "msg": "",
                "data": {"fields": fields, "items": items, "has_more": False}}

    # -- server ----------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self.send_error(400)
                    return
                if not body.get("api_name"):
                    body["api_name"] = self.path.rstrip("/").rsplit("/", 1)[-1]
                payload = json.dumps(fake.handle(body), ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/dataapi"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _day(s: str) -> date:
    return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
