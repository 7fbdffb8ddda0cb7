"""DingTalk, Feishu and WeCom group robots as local HTTP servers that check each request the
way the service does (token, signature, timestamp window, message shape) and answer with the
service's JSON replies, including its error codes.

    with robot_sink("dingtalk", token="T", secret="SEC1") as sink:
        monkeypatch.setenv("AIRFLOW_CONN_DINGTALK_ALERTS", sink.connection)
        ...
        req = sink.wait_for(1)[0]; sink.accepted   # requests the robot accepted

The checks are written from the services' documentation, independently of our sender.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

from fakes.http_sink import HttpSink, Request

SIGNATURE_WINDOW_S = 3600  # both DingTalk and Feishu refuse timestamps more than an hour off


def _reply(body: dict) -> tuple[int, bytes]:
    return 200, json.dumps(body).encode("utf-8")


def _hmac_b64(key: str, msg: str) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), msg.encode("utf-8"), hashlib.sha256).digest()).decode()


def dingtalk_check(req: Request, token: str, secret: str | None) -> dict:
    url = urlsplit(req.path)
    query = parse_qs(url.query)
    if url.path != "/robot/send" or query.get("access_token") != [token]:
        return {"errcode": 300005, "errmsg": "token is not exist"}
    if secret:
        ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > SIGNATURE_WINDOW_S * 1000:
            return {"errcode": 310000, "errmsg": "invalid timestamp"}
        if sign != _hmac_b64(secret, f"{ts}\n{secret}"):
            return {"errcode": 310000, "errmsg": "sign not match"}
    body = req.json()
    kind = body.get("msgtype")
    if kind not in ("text", "markdown", "link", "actionCard", "feedCard") or kind not in body:
        return {"errcode": 40035, "errmsg": "缺少参数 msgtype"}
    if len(req.body) > 20000:
        return {"errcode": 460101, "errmsg": "message too long"}
    return {"errcode": 0, "errmsg": "ok"}


def feishu_check(req: Request, token: str, secret: str | None) -> dict:
    if urlsplit(req.path).path != f"/open-apis/bot/v2/hook/{token}":
        return {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
    body = req.json()
    if secret:
        ts = str(body.get("timestamp", ""))
        expected = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        if not ts.isdigit() or abs(time.time() - int(ts)) > SIGNATURE_WINDOW_S or body.get("sign") != expected:
            return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
    if body.get("msg_type") not in ("text", "post", "image", "share_chat", "interactive") or "content" not in body:
        return {"code": 9499, "msg": "Bad Request"}
    return {"code": 0, "msg": "success", "data": {}}


def wecom_check(req: Request, token: str, secret: str | None) -> dict:
    url = urlsplit(req.path)
    if url.path != "/cgi-bin/webhook/send" or parse_qs(url.query).get("key") != [token]:
        return {"errcode": 93000, "errmsg": "invalid webhook url"}
    body = req.json()
    kind = body.get("msgtype")
    if kind not in ("text", "markdown", "image", "news", "file") or kind not in body:
        return {"errcode": 40008, "errmsg": "invalid message type"}
    if kind == "markdown" and len(body["markdown"].get("content", "").encode("utf-8")) > 4096:
        return {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
    return {"errcode": 0, "errmsg": "ok"}


CHECKS = {"dingtalk": dingtalk_check, "feishu": feishu_check, "wecom": wecom_check}
CONN_TYPES = {"dingtalk": "dingding", "feishu": "http", "wecom": "http"}


class RobotSink(HttpSink):
    """An :class:`HttpSink` that answers as the ``service`` robot holding ``token`` / ``secret``."""

    def __init__(self, service: str, token: str, secret: str | None = None) -> None:
        self.service, self.token, self.secret = service, token, secret
        self.replies: list[dict] = []
        check = CHECKS[service]

        def respond(req: Request) -> tuple[int, bytes]:
            reply = check(req, token, secret)
            self.replies.append(reply)
            return _reply(reply)

        super().__init__(responder=respond)

    @property
    def accepted(self) -> list[Request]:
        """The requests the robot answered with its success code."""
        return [r for r, rep in zip(self.requests, self.replies, strict=False) if rep.get("errcode", rep.get("code")) == 0]

    def connection(self, *, secret: str | None = None, token: str | None = None) -> str:
        """``AIRFLOW_CONN_<ID>`` JSON of the connection our sender reads (host: this server)."""
        extra = {"secret": self.secret if secret is None else secret} if (secret or self.secret) else {}
        return json.dumps({"conn_type": CONN_TYPES[self.service], "host": self.url,
                           "password": self.token if token is None else token, "extra": extra})


def robot_sink(service: str, token: str, secret: str | None = None) -> RobotSink:
    return RobotSink(service, token, secret)
