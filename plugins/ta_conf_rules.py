"""Refuse a bad trigger in the api-server before a run exists (HTTP 400 naming the key).

An ASGI middleware on ``POST /api/v2/dags/{dag_id}/dagRuns`` (REST and UI triggers) and
``POST /api/v2/backfills`` (+ ``/dry_run``). It checks the request's conf with the DAG's own
validator (``ta_scheduler.params.conf_errors``: unknown keys, every value against its param's
JSON schema, cross-field rules) and a trigger's ``logical_date`` (not after today in exchange
time; ``null`` is fine). The param schemas come from the DAG's serialized version in the
metadata DB, so a param added to a DAG is checked without a change here.

Root middlewares run before Airflow authenticates the request, so this one is built to be cheap
and safe for anyone to call:

- the body is capped at :data:`MAX_BODY_BYTES` (from ``Content-Length`` before reading, and while
  reading a chunked body): a larger one is a 400 at once;
- ``NaN``/``Infinity``, over-long integers and deep nesting are a 400;
- date ranges are bounded by arithmetic before the calendar is consulted (no per-day loop over a
  century), and the whole check runs in a worker thread, never in the event loop;
- the schemas are read once per DAG and :data:`SCHEMA_TTL_SECONDS` (one small indexed query);
  an unknown DAG passes through to Airflow's own 404;
- any failure of the check itself is a 400 (never a 500), logged.

Other requests pass through untouched (the body is replayed downstream). See README "Security".
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from airflow.plugins_manager import AirflowPlugin
from ta_scheduler.params import conf_errors, format_errors, logical_date_error, non_finite, param_schemas

log = logging.getLogger(__name__)

#: Largest trigger body accepted (a conf of 6,000 codes is about 80 KB).
MAX_BODY_BYTES = 128 * 1024
#: How long a DAG's param schemas are reused before re-reading them (the DAG processor's refresh).
SCHEMA_TTL_SECONDS = 30.0
_MAX_CACHED_DAGS = 512
_TRIGGER_PATH = re.compile(r"/api/v2/dags/(?P<dag_id>[A-Za-z0-9_.\-]{1,250})/dagRuns/?$")
_BACKFILL_PATH = re.compile(r"/api/v2/backfills(/dry_run)?/?$")

_cache: dict[str, tuple[float, dict[str, dict] | None]] = {}
_cache_lock = threading.Lock()


class BadRequest(Exception):
    """The request is refused with HTTP 400 and this message."""


def _load_schemas(dag_id: str) -> dict[str, dict] | None:
    """The DAG's param schemas from its latest serialized version; None if Airflow has no such DAG."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.serialization.serialized_objects import BaseSerialization
    from airflow.utils.session import create_session

    with create_session() as session:
        row = SerializedDagModel.get(dag_id, session=session)
        data = row.data if row is not None else None
    if not data:
        return None
    encoded = (data.get("dag") or {}).get("params") or []
    return param_schemas(BaseSerialization._deserialize_params_dict(encoded))


def schemas_for(dag_id: str, loader: Callable[[str], dict | None] = _load_schemas) -> dict[str, dict] | None:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(dag_id)
    if hit and hit[0] > now:
        return hit[1]
    schemas = loader(dag_id)
    with _cache_lock:
        if len(_cache) >= _MAX_CACHED_DAGS:
            _cache.clear()
        _cache[dag_id] = (now + SCHEMA_TTL_SECONDS, schemas)
    return schemas


def parse_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    except ValueError as e:  # malformed JSON, integers longer than Python allows, bad UTF-8
        raise BadRequest(f"request body is not valid JSON: {str(e)[:120]}") from None


def request_errors(kind: str, dag_id: str | None, body: bytes) -> str | None:
    """The 400 message for a trigger (``kind="trigger"``) or backfill body, or None to pass on."""
    payload = parse_body(body)
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object")
    if kind == "trigger":
        conf = payload.get("conf")
        problem = logical_date_error(payload.get("logical_date"))
        if problem:
            return f"invalid trigger for {dag_id}: {problem}"
    else:
        dag_id, conf = payload.get("dag_id"), payload.get("dag_run_conf")
        if not isinstance(dag_id, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,250}", dag_id):
            return None  # Airflow's body validation answers
    schemas = schemas_for(dag_id)
    if schemas is None:
        return None  # no such DAG: Airflow answers 404
    errors = conf_errors(dag_id, conf, schemas)  # NaN/Infinity in conf: named by key here
    if errors:
        return format_errors(dag_id, errors)
    if non_finite(payload):
        return "NaN and Infinity are not valid JSON numbers"
    return None


class ConfRulesMiddleware:
    """ASGI middleware: HTTP 400 for a trigger or backfill request whose conf breaks its DAG's rules."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        trigger = _TRIGGER_PATH.search(path)
        if trigger is None and not _BACKFILL_PATH.search(path):
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(scope, receive)
            import anyio.to_thread

            kind, dag_id = ("trigger", trigger["dag_id"]) if trigger else ("backfill", None)
            message = await anyio.to_thread.run_sync(request_errors, kind, dag_id, body)
        except BadRequest as e:
            message = str(e)
        except Exception:  # never a 500 from this check: refuse, and say so in the log
            log.exception("conf check failed for %s", path)
            message = "the request could not be checked; fix the conf or contact the operator"
        if message:
            await _answer_400(send, message)
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _read_body(scope: dict, receive: Callable) -> bytes:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise BadRequest("bad Content-Length") from None
            if declared > MAX_BODY_BYTES:
                raise BadRequest(f"request body of {declared} bytes is larger than {MAX_BODY_BYTES}")
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message.get("type") == "http.disconnect":
            raise BadRequest("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BadRequest(f"request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _answer_400(send: Callable, message: str) -> None:
    payload = json.dumps({"detail": message}).encode()
    await send({
        "type": "http.response.start",
        "status": 400,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
    })
    await send({"type": "http.response.body", "body": payload})


class ConfRulesPlugin(AirflowPlugin):
    """Installs :class:`ConfRulesMiddleware` in the api-server."""

    name = "ta_conf_rules"
    fastapi_root_middlewares = [
        {"middleware": ConfRulesMiddleware, "args": [], "kwargs": {}, "name": "ta_conf_rules"},
    ]
