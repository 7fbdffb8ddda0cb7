"""Trigger-time validation of DAG params, so a bad trigger is refused before a run exists.

Two layers, both evaluated by the api-server when a run is triggered (REST API and UI):

1. **JSON-schema formats** registered with ``jsonschema.FormatChecker`` (Airflow validates every
   ``Param`` with a fresh ``FormatChecker()``, which includes class-level registrations):
   ``a-share-code`` (a listed board's 6-digit code, optionally with the matching ``.SH/.SZ/.BJ``)
   and ``trading-date`` (``YYYY-MM-DD`` that is an SSE/SZSE session per our calendar). Invalid
   conf → HTTP 400 ``Invalid input for param …`` from Airflow itself, also for CLI triggers and
   ``airflow dags test -c``.
2. **Cross-field rules** (``date`` vs ``start_date``/``end_date``, end before start, a range too
   large) that one param's schema cannot see: :func:`conf_errors` per DAG, applied by the
   :class:`ConfRulesMiddleware` the timetable plugin installs in the api-server (HTTP 400 with a
   clear message) and again by each DAG's first task (for CLI triggers), with the same message.

This module is imported at DAG parse time and by the plugin: standard library, jsonschema and
the light calendar only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import date
from typing import Any

FORMAT_CODE = "a-share-code"
FORMAT_TRADING_DATE = "trading-date"

CODE_PATTERN = r"^[0-9]{6}(\.(SH|SZ|BJ|sh|sz|bj))?$"
_CODE_RE = re.compile(CODE_PATTERN)
#: First two digits of listed A-share (and B-share) codes by exchange.
_PREFIXES = {
    "SH": ("60", "68", "90"),
    "SZ": ("00", "30", "20"),
    "BJ": ("43", "83", "87", "88", "92"),
}

#: Largest backfill a single run may request (trading sessions); override with TA_MAX_BACKFILL_SESSIONS.
DEFAULT_MAX_BACKFILL_SESSIONS = 260


def exchange_of(code: str) -> str | None:
    """``SH``/``SZ``/``BJ`` for a 6-digit code (or code with suffix), None if no board uses it."""
    head = code[:2]
    for exchange, prefixes in _PREFIXES.items():
        if head in prefixes:
            return exchange
    return None


def is_a_share_code(value: object) -> bool:
    """Format check: a 6-digit code of a listed board; a suffix must name that board's exchange."""
    if not isinstance(value, str):
        return True  # formats only constrain strings; "type" handles the rest
    if not _CODE_RE.match(value):
        return False
    exchange = exchange_of(value)
    return exchange is not None and ("." not in value or value.split(".")[1].upper() == exchange)


def to_ts_code(code: str) -> str:
    """``600000`` → ``600000.SH``; a code that already has its suffix is upper-cased."""
    if "." in code:
        return code.upper()
    exchange = exchange_of(code)
    if exchange is None:
        raise ValueError(f"{code!r} is not an A-share code of SSE, SZSE or BSE")
    return f"{code}.{exchange}"


def is_trading_date(value: object) -> bool:
    """Format check: ``YYYY-MM-DD`` that is a session of the exchange calendar."""
    if not isinstance(value, str):
        return True
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return False
    if len(value) != 10:
        return False
    from ta_scheduler.calendar.core import is_session

    return is_session(day)


def register_formats() -> None:
    """Make the formats known to every ``jsonschema.FormatChecker()`` in this process."""
    from jsonschema import FormatChecker

    FormatChecker.checkers[FORMAT_CODE] = (is_a_share_code, ())
    FormatChecker.checkers[FORMAT_TRADING_DATE] = (is_trading_date, ())


register_formats()


# ---- JSON-schema fragments for Param(**schema) ---------------------------------------------

def symbols_schema(*, max_items: int = 6000, description: str = "") -> dict[str, Any]:
    """Optional list of codes (``600000`` or ``600000.SH``)."""
    return {
        "type": ["null", "array"],
        "items": {"type": "string", "pattern": CODE_PATTERN, "format": FORMAT_CODE},
        "minItems": 1,
        "maxItems": max_items,
        "uniqueItems": True,
        "description": description,
    }


def trading_date_schema(description: str = "") -> dict[str, Any]:
    """Optional trading day ``YYYY-MM-DD`` (refused when the exchange was closed)."""
    return {"type": ["null", "string"], "format": FORMAT_TRADING_DATE, "description": description}


# ---- Cross-field rules -------------------------------------------------------------------------

def max_backfill_sessions() -> int:
    return int(os.environ.get("TA_MAX_BACKFILL_SESSIONS", DEFAULT_MAX_BACKFILL_SESSIONS))


def _daily_sync_rules(conf: dict[str, Any]) -> list[str]:
    single, start, end = conf.get("date"), conf.get("start_date"), conf.get("end_date")
    errors = []
    if single and (start or end):
        errors.append("give either 'date' or 'start_date'+'end_date', not both")
    if bool(start) != bool(end):
        errors.append("'start_date' and 'end_date' go together (a backfill range, both trading days)")
    if start and end and isinstance(start, str) and isinstance(end, str):
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            return errors  # the params' own format check reports it
        if last < first:
            errors.append(f"'end_date' {end} is before 'start_date' {start}")
        else:
            from ta_scheduler.calendar.core import get_calendar

            n = len(get_calendar().sessions_between(first, last))
            limit = max_backfill_sessions()
            if n > limit:
                errors.append(
                    f"backfill {start}..{end} spans {n} trading days, more than {limit} per run "
                    "(split it into several runs or raise TA_MAX_BACKFILL_SESSIONS)"
                )
    today = date.today().isoformat()
    for key in ("date", "end_date"):
        value = conf.get(key)
        if isinstance(value, str) and value > today:
            errors.append(f"'{key}' {value} is in the future; there is no market data for it yet")
    return errors


#: dag_id -> rule(conf) -> list of error messages
CONF_RULES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "daily_sync": _daily_sync_rules,
}


def conf_errors(dag_id: str, conf: dict[str, Any] | None) -> list[str]:
    rule = CONF_RULES.get(dag_id)
    return rule(conf or {}) if rule and isinstance(conf, dict) else []


def check_conf(dag_id: str, conf: dict[str, Any] | None) -> None:
    """Raise ``ValueError`` with every cross-field problem of ``conf`` (the DAG's first task)."""
    errors = conf_errors(dag_id, conf)
    if errors:
        raise ValueError(f"invalid conf for {dag_id}: " + "; ".join(errors))


# ---- api-server middleware -----------------------------------------------------------------------

_TRIGGER_PATH = re.compile(r"^/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/?$")


class ConfRulesMiddleware:
    """ASGI middleware: refuse ``POST /api/v2/dags/{dag_id}/dagRuns`` whose conf breaks a rule.

    Answers HTTP 400 ``{"detail": "invalid conf for daily_sync: ..."}`` before Airflow creates
    anything; every other request passes through untouched (the body is replayed downstream).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        match = _TRIGGER_PATH.match(scope.get("path", "")) if scope.get("type") == "http" else None
        if not match or scope.get("method") != "POST" or match["dag_id"] not in CONF_RULES:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            conf = (json.loads(body or b"{}") or {}).get("conf")
        except (ValueError, AttributeError):
            conf = None  # malformed JSON: let Airflow produce its own 422
        errors = conf_errors(match["dag_id"], conf) if isinstance(conf, dict) else []
        if errors:
            payload = json.dumps({"detail": f"invalid conf for {match['dag_id']}: " + "; ".join(errors)}).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
