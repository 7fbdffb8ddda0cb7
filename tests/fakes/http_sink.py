"""A local HTTP server (stdlib) that records every request, e.g. as a Slack incoming webhook.

    with HttpSink() as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_REPORTS", sink.slack_webhook_connection())
        ...
        req = sink.wait_for(1)[0]          # req.path, req.headers, req.body, req.json()

``status`` / ``reply`` set the answer (Slack answers ``200 ok``); set ``status = 500`` to test
failures. ``responder`` (a function of the :class:`Request` returning ``(status, body)``) answers
instead when set, e.g. a group robot checking its signature (``fakes.robots``).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class HttpSink:
    """An HTTP server on 127.0.0.1 (free port) storing requests in ``requests``."""

    def __init__(self, status: int = 200, reply: bytes = b"ok", responder=None) -> None:
        self.status = status
        self.reply = reply
        self.responder = responder
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, dict(self.headers), body)
                with sink._lock:
                    sink.requests.append(request)
                status, reply = sink.responder(request) if sink.responder else (sink.status, sink.reply)
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if sink.responder else "text/plain")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_GET = do_PUT = _handle  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpSink:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def slack_webhook_connection(self, path: str = "/services/T000/B000/XXXX") -> str:
        """``AIRFLOW_CONN_<ID>`` JSON of a ``slackwebhook`` connection posting to this server."""
        return json.dumps({"conn_type": "slackwebhook", "password": self.url + path})

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"HTTP sink got {len(self.requests)} request(s), expected {count} within {timeout} s")
