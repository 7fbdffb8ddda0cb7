"""A local LLM server speaking DashScope's native generation API and OpenAI chat completions.

The real ``dashscope`` and ``openai`` SDKs talk to it over HTTP on 127.0.0.1, so tests exercise
the same request building, response parsing and error handling as production:

- ``POST {base}/api/v1/services/aigc/text-generation/generation`` (DashScope native,
  ``result_format="message"``): ``output.choices[0].message``, ``usage.input_tokens`` /
  ``output_tokens``, ``request_id``; errors as non-200 with ``{"code", "message", "request_id"}``.
- ``POST {base}/v1/chat/completions`` or ``{base}/chat/completions`` (DeepSeek and other
  OpenAI-compatible services): ``choices[0].message``, ``usage.prompt_tokens`` /
  ``completion_tokens``; errors as non-200 with ``{"error": {"message", "type", "param", "code"}}``.

Usage is reported the way each service does (DashScope: ``input_tokens`` / ``output_tokens`` /
``total_tokens``; DeepSeek: ``prompt_tokens`` / ``completion_tokens`` / ``total_tokens`` plus its
``prompt_cache_hit_tokens`` / ``prompt_cache_miss_tokens``) and kept per call in :attr:`calls`, so
tests compare what was recorded with what the server said. Rate-limit replies carry the retry hint
headers OpenAI-compatible services send (``retry-after-ms`` and ``Retry-After``; :attr:`retry_after`).

The Bearer key is checked against ``valid_keys`` (a wrong key gets the provider's real 401 body).
Failures are scripted with :meth:`FakeLLMServer.fail_next` and :meth:`FakeLLMServer.fail_after`. Replies are deterministic Chinese
analysis text chosen by the role the system prompt names (``你是<role>``); a prompt asking for the decision JSON (it names the
``"action"`` field) gets a JSON decision, and a prompt asking for sentiment scores (``情绪评分``)
gets a JSON list with one score per numbered text, from a tiny lexicon, so tests can check signs.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DASHSCOPE_PATH = "/api/v1/services/aigc/text-generation/generation"
OPENAI_PATHS = ("/v1/chat/completions", "/chat/completions", "/compatible-mode/v1/chat/completions")

#: Error bodies per (api, kind): (HTTP status, JSON body). DashScope codes and messages follow its
#: documented error table; OpenAI-compatible ones the ``{"error": {...}}`` envelope DeepSeek uses.
ERRORS: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("dashscope", "auth"): (401, {"code": "InvalidApiKey", "message": "Invalid API-key provided."}),
    ("dashscope", "rate_limit"): (
        429,
        {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded, please try again later."},
    ),
    ("dashscope", "server"): (
        500,
        {
            "code": "InternalError",
            "message": "An internal error has occured, please try again later or contact service support.",
        },
    ),
    ("dashscope", "bad_request"): (400, {"code": "InvalidParameter", "message": "Role must be user or assistant."}),
    ("openai", "auth"): (
        401,
        {
            "error": {
                "message": "Authentication Fails (no such user)",
                "type": "authentication_error",
                "param": None,
                "code": "invalid_request_error",
            }
        },
    ),
    ("openai", "rate_limit"): (
        429,
        {
            "error": {
                "message": "Rate limit reached for requests",
                "type": "rate_limit_error",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
    ),
    ("openai", "server"): (
        500,
        {"error": {"message": "Server Error", "type": "server_error", "param": None, "code": "internal_error"}},
    ),
    ("openai", "bad_request"): (
        400,
        {"error": {"message": "Invalid Format", "type": "invalid_request_error", "param": None, "code": None}},
    ),
}

_POSITIVE = ("利好", "增长", "上涨", "突破", "超预期", "中标", "回购", "增持", "创新高")
_NEGATIVE = ("利空", "下跌", "亏损", "处罚", "减持", "违规", "下滑", "暴跌", "退市")

_ROLE_TEXT = [
    ("市场分析师", "【市场技术分析】{name}短期均线与中期均线关系显示趋势{trend}，MACD柱体{macd}，RSI处于中性区间，成交量较前期温和变化。"),
    ("基本面分析师", "【基本面分析】{name}估值水平处于行业{val}区间，盈利能力保持稳定，资产负债结构未见明显恶化。"),
    ("新闻分析师", "【新闻舆情分析】近期关于{name}的新闻整体偏{tone}，未发现重大负面事件，市场关注度一般。"),
    ("多头研究员", "【多头观点】{name}趋势{trend}，基本面稳健，估值具备一定安全边际，建议逢低布局。"),
    ("空头研究员", "【空头观点】{name}上行动能有限，外部环境存在不确定性，短期或面临回调压力。"),
    ("研究经理", "【投资计划】综合多空双方观点，{name}当前风险收益比{rr}，建议按计划分批操作并设置止损。"),
    ("交易员", "【交易计划】{name}建议仓位控制在两成以内，以近期低点作为止损参考，分批执行。"),
    ("激进风险分析师", "【激进观点】{name}短期弹性较大，可适度提高仓位以把握机会。"),
    ("保守风险分析师", "【保守观点】{name}波动风险不容忽视，应严格控制仓位并设置止损。"),
    ("中性风险分析师", "【中性观点】{name}机会与风险并存，维持中等仓位较为合适。"),
]


@dataclass(frozen=True)
class CallRecord:
    """One request the server answered (or refused)."""

    api: str  # "dashscope" or "openai"
    model: str
    status: int
    kind: str  # "chat", "decision", "sentiment" or the scripted error kind
    input_tokens: int = 0  # usage the reply reported (0 for errors)
    output_tokens: int = 0


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def _tokens(text: str) -> int:
    """A stable token estimate (about two characters per token for mixed Chinese text)."""
    return max(1, len(text) // 2)


def _score_text(text: str) -> float:
    pos = sum(text.count(w) for w in _POSITIVE)
    neg = sum(text.count(w) for w in _NEGATIVE)
    if pos == neg:
        return 0.0
    return round((pos - neg) / (pos + neg), 2)


def reply_for(messages: list[dict[str, Any]]) -> tuple[str, str]:
    """The deterministic reply to a conversation and its kind (``chat``/``decision``/``sentiment``)."""
    system = " ".join(m.get("content", "") for m in messages if m.get("role") == "system")
    user = " ".join(m.get("content", "") for m in messages if m.get("role") == "user")
    if "情绪评分" in system + user:
        items = re.findall(r"^\[(\d+)\]\s*(.*)$", user, flags=re.MULTILINE)
        scores = [_score_text(t) for _, t in items]
        return json.dumps(scores), "sentiment"
    h = _digest(user)
    name_match = re.search(r"股票：(\S+?)（", user)
    name = name_match.group(1) if name_match else "该股"
    if '"action"' in user:
        price_match = re.search(r"最新收盘价：([\d.]+)", user)
        price = float(price_match.group(1)) if price_match else 10.0
        action = ("买入", "持有", "卖出")[h % 3]
        factor = {"买入": 1.1, "持有": 1.0, "卖出": 0.9}[action]
        decision = {
            "action": action,
            "target_price": round(price * factor, 2),
            "confidence": round(0.55 + (h % 40) / 100, 2),
            "risk_level": ("低", "中", "高")[(h // 3) % 3],
            "reasoning": f"综合技术面、基本面与风险讨论，对{name}给出{action}建议。",
            "key_points": [f"{name}趋势与均线结构", "估值处于合理区间", "注意仓位与止损"],
        }
        text = "【最终交易决策】\n" + "```json\n" + json.dumps(decision, ensure_ascii=False) + "\n```"
        return text, "decision"
    trend = ("向上", "震荡", "向下")[h % 3]
    words = {
        "name": name,
        "trend": trend,
        "macd": ("放大", "收窄")[h % 2],
        "val": ("偏低", "中等", "偏高")[(h // 2) % 3],
        "tone": ("正面", "中性", "负面")[(h // 5) % 3],
        "rr": ("较好", "一般")[(h // 7) % 2],
    }
    for role, template in _ROLE_TEXT:
        if f"你是{role}" in system:
            return template.format(**words), "chat"
    return f"【分析】{name}走势{trend}，建议持续跟踪。", "chat"


def _reply_body(api: str, request_id: str, model: str, text: str, prompt_tokens: int,
                completion_tokens: int) -> dict[str, Any]:
    """A successful reply as each service shapes it, usage included (module doc)."""
    if api == "dashscope":
        return {
            "request_id": request_id,
            "output": {
                "choices": [
                    {"finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                ]
            },
            "usage": {
                "input_tokens": prompt_tokens,
                "output_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        }
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "prompt_cache_hit_tokens": 0,
            "prompt_cache_miss_tokens": prompt_tokens,
        },
    }


class FakeLLMServer:
    """A threaded HTTP server on 127.0.0.1 (random port) for both LLM wire protocols.

    ``dashscope_base_url`` is what ``dashscope.Generation.call(base_address=...)`` takes;
    ``openai_base_url`` is an ``openai.OpenAI(base_url=...)``. ``calls`` records every request.
    """

    def __init__(self, valid_keys: tuple[str, ...] = ("sk-test-valid",)) -> None:
        self.valid_keys = set(valid_keys)
        self.calls: list[CallRecord] = []
        self.requests: list[dict[str, Any]] = []  # bodies as received, for tests of the wire format
        self._failures: list[str] = []
        #: seconds a 429 reply asks the client to wait (headers ``retry-after-ms`` and ``Retry-After``)
        self.retry_after = 0.05
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def dashscope_base_url(self) -> str:
        return self.url + "/api/v1"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, n: int, kind: str) -> None:
        """Answer the next ``n`` requests with the ``kind`` error (auth, rate_limit, server, bad_request)."""
        if kind not in {k for _, k in ERRORS}:
            raise ValueError(f"unknown failure kind {kind!r}")
        with self._lock:
            self._failures.extend([kind] * n)

    def fail_after(self, ok: int, n: int, kind: str) -> None:
        """Answer the next ``ok`` requests normally, then the ``n`` after them with the ``kind`` error."""
        self.fail_next(n, kind)
        with self._lock:
            self._failures[-n:-n] = [""] * ok  # "" = answer normally

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self._failures.clear()

    def calls_by_model(self, *, status: int | None = 200) -> Counter[str]:
        """Requests per model name (answered ones only, unless ``status`` is None)."""
        with self._lock:
            return Counter(c.model for c in self.calls if status is None or c.status == status)

    def usage_by_model(self) -> dict[str, dict[str, int]]:
        """``{model: {"input_tokens", "output_tokens", "calls"}}`` summed over the answered requests."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for c in self.calls:
                if c.status != 200:
                    continue
                u = out.setdefault(c.model, {"input_tokens": 0, "output_tokens": 0, "calls": 0})
                u["input_tokens"] += c.input_tokens
                u["output_tokens"] += c.output_tokens
                u["calls"] += 1
        return out

    def _next_failure(self) -> str | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _record(self, record: CallRecord, body: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append(record)
            self.requests.append(body)

    def _answer(self, api: str, body: dict[str, Any], raw: bytes,
                auth: str) -> tuple[int, dict[str, Any], dict[str, str] | None]:
        """(status, body, extra headers) for one request to ``api`` (``dashscope`` or ``openai``):
        the next scripted failure, the provider's 401 for an unknown key, else the reply its
        prompt asks for. Every request is recorded."""
        model = str(body.get("model", ""))
        request_id = f"req-{_digest(raw.decode('utf-8', 'replace') + str(time.monotonic_ns())):08x}"
        kind = self._next_failure() or None
        key = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        if kind is None and key not in self.valid_keys:
            kind = "auth"
        if kind is not None:
            return self._failure(api, kind, model, body, request_id)
        if api == "dashscope":
            messages = (body.get("input") or {}).get("messages") or []
        else:
            messages = body.get("messages") or []
        text, reply_kind = reply_for(messages)
        prompt_tokens = _tokens("".join(m.get("content", "") for m in messages))
        completion_tokens = _tokens(text)
        self._record(CallRecord(api, model, 200, reply_kind, prompt_tokens, completion_tokens), body)
        return 200, _reply_body(api, request_id, model, text, prompt_tokens, completion_tokens), None

    def _failure(self, api: str, kind: str, model: str, body: dict[str, Any],
                 request_id: str) -> tuple[int, dict[str, Any], dict[str, str] | None]:
        """The provider's error reply of ``kind``; a rate limit carries the retry hint headers."""
        status, err = ERRORS[(api, kind)]
        err = dict(err)
        if api == "dashscope":
            err["request_id"] = request_id
        self._record(CallRecord(api, model, status, kind), body)
        headers = None
        if kind == "rate_limit":
            wait = self.retry_after
            headers = {"retry-after-ms": str(int(wait * 1000)), "Retry-After": str(max(1, round(wait)))}
        return status, err, headers

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                path = self.path.split("?", 1)[0]
                api = "dashscope" if path == DASHSCOPE_PATH else "openai" if path in OPENAI_PATHS else None
                if api is None:
                    self._send(404, {"code": "NotFound", "message": f"no route {path}"})
                    return
                self._send(*server._answer(api, body, raw, self.headers.get("Authorization", "")))

        return Handler
