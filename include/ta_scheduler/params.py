"""One validator of a run's conf per DAG, used when a run is triggered and again by its first task.

Every DAG's params are declared as JSON schemas (``Param(**schema)``); this module derives the
whole check from them, so a param added to a DAG is checked without a list kept here:

- **unknown keys are refused** (a misspelt ``dryrun`` would otherwise be kept by Airflow and
  ignored by the tasks), and a DAG without params refuses any non-empty conf;
- **every value is checked against its param's schema** (types, enums, list sizes, string
  lengths, number bounds, the formats below); an integer param refuses ``1.0`` and no number
  may be ``NaN`` or infinite;
- **cross-field rules** that one param's schema cannot see (:data:`CROSS_RULES`, e.g. a
  backfill's ``end_date`` before its ``start_date`` or a range of more sessions than ``TA_MAX_BACKFILL_SESSIONS``),
  bounded by arithmetic first so no rule loops over a century of days.

Codes follow the one rule of :mod:`ta_scheduler.market` (a plain JSON-schema ``pattern``, visible
in the trigger form). One format is registered with ``jsonschema.FormatChecker`` because a pattern
cannot express it (Airflow validates every ``Param`` with a fresh ``FormatChecker()``, which
includes class-level registrations, so ``airflow dags test -c`` and CLI triggers refuse the same
values): ``trading-date``, ``YYYY-MM-DD`` (ASCII digits) that is a session of the exchange
calendar and not after today in exchange time (there is no market data for a future day).

Where the checks run: the api-server middleware of ``plugins/ta_conf_rules.py`` (HTTP 400 before a
run exists, for REST and UI triggers and backfills), Airflow's own param validation, and
:meth:`ta_scheduler.calendar.runs.Run.check_conf` in each DAG's first task (runs created any other way). Messages are the
same everywhere and name the key.

This module is imported at DAG parse time and by the plugin: standard library, jsonschema and
the light calendar only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ta_scheduler.config import DEFAULT_MAX_BACKFILL_SESSIONS, MAX_BACKFILL_SESSIONS_CAP, setting
from ta_scheduler.market import CODE_PATTERN, CODE_RULE, TZ, code_schema, exchange_today

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

FORMAT_TRADING_DATE = "trading-date"

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATE_RE = re.compile(DATE_PATTERN)
#: The first session of the Shanghai Stock Exchange: no trading day is earlier.
FIRST_SESSION = date(1990, 12, 19)
#: Longest message part quoting a user's value or key.
_QUOTE = 80


def parse_day(value: str) -> date | None:
    """``YYYY-MM-DD`` in ASCII digits as a date, else None (no exception for any input)."""
    if not isinstance(value, str) or _DATE_RE.fullmatch(value) is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_trading_date(value: object) -> bool:
    """Format check: ``YYYY-MM-DD``, from the first session (1990-12-19) to today (exchange time),
    a session of the calendar."""
    if not isinstance(value, str):
        return True
    day = parse_day(value)
    if day is None or day < FIRST_SESSION or day > exchange_today():
        return False
    from ta_scheduler.calendar.lookup import is_session

    return is_session(day)


def register_formats() -> None:
    """Make ``trading-date`` known to every ``jsonschema.FormatChecker()`` in this process."""
    from jsonschema import FormatChecker

    FormatChecker.checkers[FORMAT_TRADING_DATE] = (is_trading_date, ())


register_formats()


# ---- JSON-schema fragments for Param(**schema) ---------------------------------------------

def symbols_schema(*, max_items: int = 6000, description: str = "", nullable: bool = True) -> dict[str, Any]:
    """A list of codes (``600000`` or ``600000.SH``); optional (null) unless ``nullable=False``."""
    return {
        "type": ["null", "array"] if nullable else "array",
        "items": code_schema(),
        "minItems": 1,
        "maxItems": max_items,
        "uniqueItems": True,
        "description": description,
    }


def trading_date_schema(description: str = "") -> dict[str, Any]:
    """Optional trading day ``YYYY-MM-DD`` (refused when the exchange was closed or it is in the future)."""
    return {
        "type": ["null", "string"],
        "pattern": DATE_PATTERN,
        "format": FORMAT_TRADING_DATE,
        "maxLength": 10,
        "description": description,
    }


# ---- The validator -----------------------------------------------------------------------------

def _short(value: object, limit: int = _QUOTE) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def param_schemas(params: Any) -> dict[str, dict[str, Any]]:
    """``{name: JSON schema}`` of a DAG's params (a task-SDK or serialized ``ParamsDict``)."""
    if params is None:
        return {}
    return {name: dict(params.get_param(name).schema or {}) for name in params}


def non_finite(value: Any) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _types(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set(kind or ())


def value_error(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` does not satisfy ``schema`` (one short sentence), or None."""
    from jsonschema import FormatChecker
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for

    if non_finite(value):
        return "numbers must be finite (no NaN or Infinity)"
    kinds = _types(schema)
    if isinstance(value, float) and "integer" in kinds and "number" not in kinds:
        return f"{_short(value)} is not an integer"
    validator = validator_for(schema)(schema, format_checker=FormatChecker())
    try:
        error = best_match(validator.iter_errors(value))
    except RecursionError:
        return "nested too deeply"
    if error is None:
        return None
    where = "".join(f"[{p!r}]" for p in error.absolute_path)
    return f"{where} {_what_failed(error)}".strip()


_BOUNDS = ("maxItems", "minItems", "maxLength", "minLength", "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum")


def _what_failed(error: ValidationError) -> str:
    """The rule ``error`` reports, in words, quoting the value it refused (shortened)."""
    if error.validator in ("format", "pattern") and error.schema.get("format") == FORMAT_TRADING_DATE:
        return _not_a_trading_day(error.instance)
    if error.validator == "pattern" and error.validator_value == CODE_PATTERN:
        return f"{_short(error.instance)} is not an A-share code ({CODE_RULE})"
    if error.validator == "pattern":
        return f"{_short(error.instance)} does not match {error.validator_value}"
    if error.validator in _BOUNDS:
        bound = f"{error.validator} is {error.validator_value}"
        if isinstance(error.instance, (list, str)):
            return f"has {len(error.instance)} {'items' if isinstance(error.instance, list) else 'characters'}, {bound}"
        return f"{_short(error.instance)} breaks {bound}"
    if error.validator == "type":
        return f"{_short(error.instance)} is not of type {error.validator_value}"
    if error.validator == "enum":
        return f"{_short(error.instance)} is not one of {error.validator_value}"
    if error.validator == "uniqueItems":
        return "has duplicate items"
    return error.message if len(error.message) <= 2 * _QUOTE else error.message[: 2 * _QUOTE] + "..."


def _not_a_trading_day(instance: Any) -> str:
    """Why a value given for a trading day is refused: a day still to come, or no session."""
    day = parse_day(instance)
    if day is not None and day > exchange_today():
        return f"{instance} is in the future (exchange time); there is no market data for it yet"
    return f"{_short(instance)} is not a trading day (YYYY-MM-DD of an SSE/SZSE session)"


def conf_errors(dag_id: str, conf: Any, schemas: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every problem of ``conf`` for a DAG whose params have ``schemas`` (empty list: valid).

    Never raises, whatever ``conf`` holds.
    """
    if conf is None:
        return []
    if not isinstance(conf, dict):
        return [f"conf must be a JSON object of params, got {type(conf).__name__}"]
    if not conf:
        return []
    if not schemas:
        return [f"{dag_id} takes no params; got {', '.join(_short(k, 40) for k in list(conf)[:5])}"]
    errors = []
    unknown = [k for k in conf if k not in schemas]
    if unknown:
        errors.append(
            f"unknown param{'s' if len(unknown) > 1 else ''} {', '.join(_short(k, 40) for k in unknown[:5])}"
            f"{' ...' if len(unknown) > 5 else ''} ({dag_id} takes: {', '.join(schemas)})"
        )
    for key, value in conf.items():
        if key in schemas:
            problem = value_error(value, schemas[key])
            if problem:
                errors.append(f"'{key}': {problem}")
    if not errors and dag_id in CROSS_RULES:
        errors.extend(CROSS_RULES[dag_id](conf))
    return errors


def format_errors(dag_id: str, errors: list[str]) -> str:
    return f"invalid conf for {dag_id}: " + "; ".join(errors)


# ---- Cross-field rules -------------------------------------------------------------------------

def max_backfill_sessions() -> int:
    try:
        value = int(setting("TA_MAX_BACKFILL_SESSIONS"))
    except ValueError:
        value = DEFAULT_MAX_BACKFILL_SESSIONS
    return max(1, min(value, MAX_BACKFILL_SESSIONS_CAP))


def range_errors(start: str, end: str) -> list[str]:
    """A backfill range: ``end`` not before ``start``, at most :func:`max_backfill_sessions` sessions.

    Arithmetic first: a range of more calendar days than twice the limit (plus a month) is refused
    without looking at the calendar, so the session count walks at most a few hundred days.
    """
    first, last = parse_day(start), parse_day(end)
    if first is None or last is None:
        return []  # the params' own format check reports it
    if last < first:
        return [f"'end_date' {end} is before 'start_date' {start}"]
    limit = max_backfill_sessions()
    span = (last - first).days + 1
    advice = "(split it into several runs or raise TA_MAX_BACKFILL_SESSIONS)"
    if span > 2 * limit + 30:
        return [f"backfill {start}..{end} spans {span} calendar days, more than {limit} trading days per run {advice}"]
    if span <= limit:
        return []
    from ta_scheduler.calendar.lookup import get_calendar

    n = len(get_calendar().sessions_between(first, last))
    if n > limit:
        return [f"backfill {start}..{end} spans {n} trading days, more than {limit} per run {advice}"]
    return []


def _daily_sync_rules(conf: Mapping[str, Any]) -> list[str]:
    single, start, end = conf.get("date"), conf.get("start_date"), conf.get("end_date")
    errors = []
    if single and (start or end):
        errors.append("give either 'date' or 'start_date'+'end_date', not both")
    if bool(start) != bool(end):
        errors.append("'start_date' and 'end_date' go together (a backfill range, both trading days)")
    if start and end:
        errors.extend(range_errors(start, end))
    return errors


#: dag_id -> rule(conf) -> error messages, for rules across params (run after each value passed).
CROSS_RULES: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "daily_sync": _daily_sync_rules,
}


# ---- The trigger request -----------------------------------------------------------------------

def logical_date_error(value: Any) -> str | None:
    """A trigger's ``logical_date`` after today (exchange time) is refused; null is fine."""
    if value is None or not isinstance(value, str) or len(value) > 64:
        return None  # Airflow's own body validation answers malformed values
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    day = moment.astimezone(TZ).date()
    if day > exchange_today():
        return f"'logical_date' {value} is in the future (exchange date {day}); there is no market data for it yet"
    return None


def _type_text(schema: Mapping[str, Any]) -> str:
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    text = " or ".join(k for k in kinds if k != "null") or "any"
    items = schema.get("items") or {}
    if "enum" in schema:
        text = "one of " + ", ".join(f"`{v}`" for v in schema["enum"] if v is not None)
    elif items.get("enum"):
        text = "list of " + ", ".join(f"`{v}`" for v in items["enum"])
    elif schema.get("format") == "trading-date":
        text = "trading day `YYYY-MM-DD`"
    elif items.get("pattern"):
        text = "list of stock codes"
    if "minimum" in schema or "maximum" in schema:
        text += f" {schema.get('minimum', '')}…{schema.get('maximum', '')}"
    return text + (" or null" if "null" in kinds else "")


def params_table(dag_params: Mapping[str, Any]) -> str:
    """The Markdown table of every DAG's params (``{dag_id: dag.params}``), as README's "Manual
    runs" section shows it (``python -m ta_scheduler.params`` prints it from the DAG files)."""
    rows = ["| DAG | param | default | type | meaning |", "|---|---|---|---|---|"]
    for dag_id in sorted(dag_params):
        params = dag_params[dag_id]
        for name in params:
            param = params.get_param(name)
            schema = dict(param.schema or {})
            default = "—" if param.value is None else f"`{json.dumps(param.value, ensure_ascii=False)}`"
            meaning = " ".join(str(param.description or schema.get("description") or "").split()).replace("|", "\\|")
            rows.append(f"| `{dag_id}` | `{name}` | {default} | {_type_text(schema)} | {meaning} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    import contextlib
    import sys

    from airflow.dag_processing.dagbag import DagBag

    from ta_scheduler.config import PROJECT_DIR

    with contextlib.redirect_stdout(sys.stderr):  # the DagBag's log lines are not part of the table
        bag = DagBag(dag_folder=str(PROJECT_DIR / "dags"))
    print(params_table({dag_id: dag.params for dag_id, dag in bag.dags.items()}), end="")
