"""DingTalk, Feishu (Lark) and WeCom group robots: one ``send_*`` per service, each configured
by an Airflow connection, each signing its request as that service requires.

Connections (the robot's webhook token in the *password*; the host is the service's public
API unless the connection names another):

============  ===============  ==================================================  ==========================
service       conn type        password                                            extra ``secret``
============  ===============  ==================================================  ==========================
DingTalk      ``dingding``     ``access_token`` of ``…/robot/send?access_token=``  ``SEC…`` ("加签"), optional
Feishu        ``http``         the ``<token>`` of ``…/open-apis/bot/v2/hook/<token>``  signing secret ("签名校验"), optional
WeCom         ``http``         the ``key`` of ``…/cgi-bin/webhook/send?key=``       none: WeCom does not sign
============  ===============  ==================================================  ==========================

A channel is *configured* when its connection exists and has a token; otherwise callers skip
it. A reply that is not the service's success code raises :class:`RobotError` naming the
service and the service's own error (never the token).

Signatures, as the services document and verify them:

* DingTalk: ``timestamp`` in ms; ``sign = urlencode(base64(HmacSHA256(key=secret,
  msg=timestamp + "\\n" + secret)))``, both as query parameters.
* Feishu: ``timestamp`` in s; ``sign = base64(HmacSHA256(key=timestamp + "\\n" + secret,
  msg=""))``, both in the JSON body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from ta_scheduler.config import airflow_connection

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

FEISHU_HOST = "https://open.feishu.cn"
WECOM_HOST = "https://qyapi.weixin.qq.com"

#: The services' documented size limits for one message (bytes of UTF-8).
DINGTALK_MAX_BYTES = 20000
FEISHU_MAX_BYTES = 30000
WECOM_MAX_BYTES = 4096


class RobotError(RuntimeError):
    """A group robot refused or failed a message."""


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` query value (already URL-encoded) for ``timestamp_ms``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign`` body field for ``timestamp_s``: the key is ``timestamp\\nsecret``, the message empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode("utf-8"), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 (never inside a character), marked with …"""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[: max_bytes - 3].decode("utf-8", errors="ignore") + "…"


def robot_configured(conn_id: str) -> bool:
    """Whether connection ``conn_id`` exists and carries a webhook token."""
    conn = airflow_connection(conn_id)
    return conn is not None and bool(conn.password)


def _secret(conn: Any) -> str:
    return str((conn.extra_dejson or {}).get("secret") or "")


def _check_reply(service: str, conn_id: str, resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        raise RobotError(f"{service} via {conn_id}: HTTP {resp.status_code}, not a JSON reply: {resp.text[:200]!r}") from None
    code = body.get("errcode", body.get("code", body.get("StatusCode")))
    if code != 0:
        msg = body.get("errmsg") or body.get("msg") or body.get("StatusMessage")
        raise RobotError(f"{service} via {conn_id}: refused with code {code}: {msg}")
    return body


def _http_hook(conn_id: str, default_host: str):
    """An ``HttpHook`` posting to the connection's host (default: the service's), no basic auth."""
    import requests
    from airflow.providers.http.hooks.http import HttpHook

    class RobotHttpHook(HttpHook):
        def get_conn(self, headers: dict[str, Any] | None = None, extra_options: dict[str, Any] | None = None):
            conn = self.get_connection(self.http_conn_id)
            self.base_url = (conn.host or default_host).rstrip("/")
            session = requests.Session()
            session.headers.update(headers or {})
            return session

    return RobotHttpHook(method="POST", http_conn_id=conn_id)


# -- DingTalk: the dingding provider's hook, plus the robot's signature -------------------------


def _signed_dingding_hook(conn_id: str, message: dict[str, Any]):
    from airflow.providers.dingding.hooks.dingding import DingdingHook

    class SignedDingdingHook(DingdingHook):
        """The provider's hook (``dingding`` connection) with DingTalk's "加签" signature added."""

        def _get_endpoint(self) -> str:
            endpoint = super()._get_endpoint()
            secret = _secret(self.get_connection(self.http_conn_id))
            if not secret:
                return endpoint
            ts = int(time.time() * 1000)
            return f"{endpoint}&timestamp={ts}&sign={dingtalk_sign(secret, ts)}"

        def send(self) -> None:  # the provider's send() ignores errcode types other than 0/"0"
            resp = self.run(endpoint=self._get_endpoint(), data=self._build_message(),
                            headers={"Content-Type": "application/json"})
            _check_reply("DingTalk", self.http_conn_id, resp)

    return SignedDingdingHook(dingding_conn_id=conn_id, message_type="markdown", message=message)


def send_dingtalk(conn_id: str, title: str, markdown: str) -> None:
    """Post a markdown message (``title`` shows in the chat list) to a DingTalk group robot."""
    _signed_dingding_hook(conn_id, {"title": title, "text": truncate_utf8(markdown, DINGTALK_MAX_BYTES)}).send()
    log.info("DingTalk message sent through connection %s", conn_id)


# -- Feishu ---------------------------------------------------------------------------------------


def send_feishu(conn_id: str, title: str, text: str) -> None:
    """Post a rich-text ("post") message with ``title`` to a Feishu custom robot."""
    conn = airflow_connection(conn_id)
    if conn is None or not conn.password:
        raise RobotError(f"Feishu via {conn_id}: the connection has no webhook token (password)")
    lines = truncate_utf8(text, FEISHU_MAX_BYTES).splitlines() or [""]
    body: dict[str, Any] = {
        "msg_type": "post",
        "content": {"post": {"zh_cn": {"title": title, "content": [[{"tag": "text", "text": line}] for line in lines]}}},
    }
    secret = _secret(conn)
    if secret:
        ts = int(time.time())
        body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
    hook = _http_hook(conn_id, FEISHU_HOST)
    resp = hook.run(endpoint=f"/open-apis/bot/v2/hook/{conn.password}", data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    headers={"Content-Type": "application/json; charset=utf-8"})
    _check_reply("Feishu", conn_id, resp)
    log.info("Feishu message sent through connection %s", conn_id)


# -- WeCom ----------------------------------------------------------------------------------------


def send_wecom(conn_id: str, markdown: str) -> None:
    """Post a markdown message to a WeCom (企业微信) group robot; the key in the URL is its only credential."""
    conn = airflow_connection(conn_id)
    if conn is None or not conn.password:
        raise RobotError(f"WeCom via {conn_id}: the connection has no webhook key (password)")
    body = {"msgtype": "markdown", "markdown": {"content": truncate_utf8(markdown, WECOM_MAX_BYTES)}}
    hook = _http_hook(conn_id, WECOM_HOST)
    resp = hook.run(endpoint=f"/cgi-bin/webhook/send?key={conn.password}", data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    headers={"Content-Type": "application/json; charset=utf-8"})
    _check_reply("WeCom", conn_id, resp)
    log.info("WeCom message sent through connection %s", conn_id)
