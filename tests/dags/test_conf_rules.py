"""The one conf validator per DAG (ta_scheduler.params) and the api-server middleware
(plugins/ta_conf_rules.py) on the real DAG files' params. The same confs through a running
deployment: tests/e2e/test_hostile_confs.py."""

from __future__ import annotations

import asyncio
import json
import runpy
import time
from datetime import datetime, timedelta

import pytest
from paths import DAGS_DIR
from ta_scheduler.market import TZ, exchange_today, to_ts_code
from ta_scheduler.params import conf_errors, param_schemas

TOMORROW = (exchange_today() + timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    return {dag_id: param_schemas(dag.params) for dag_id, dag in bag.dags.items()}


def _bounded(schema: dict, where: str) -> list[str]:
    """What is unbounded in ``schema`` (every value typed; lists, strings and numbers bounded)."""
    kinds = {schema["type"]} if isinstance(schema.get("type"), str) else set(schema.get("type") or ())
    problems = [] if kinds else [f"{where}: no type"]
    if "array" in kinds:
        problems += [] if "maxItems" in schema else [f"{where}: array without maxItems"]
        problems += _bounded(schema.get("items") or {}, f"{where}[]")
    if "string" in kinds and not ({"enum", "maxLength"} & set(schema)):
        problems.append(f"{where}: string without maxLength or enum")
    if kinds & {"integer", "number"} and not ({"minimum", "maximum"} <= set(schema)):
        problems.append(f"{where}: number without minimum and maximum")
    if "object" in kinds:
        problems.append(f"{where}: free-form object")
    return problems


def test_every_param_of_every_dag_is_typed_and_bounded(schemas):
    assert len(schemas) == 7
    problems = [p for dag_id, params in schemas.items() for key, s in params.items() for p in _bounded(s, f"{dag_id}.{key}")]
    assert problems == []


HOSTILE = [
    ("maintenance", {"dryrun": True}, "unknown param 'dryrun'"),
    ("maintenance", {"job": ["backup"]}, "unknown param 'job'"),
    ("maintenance", {"days": 365}, "unknown param 'days'"),
    ("maintenance", {"days_to_keep": 1.5}, "'days_to_keep': 1.5 is not an integer"),
    ("maintenance", {"days_to_keep": 30.0}, "'days_to_keep': 30.0 is not an integer"),
    ("maintenance", {"days_to_keep": float("nan")}, "finite"),
    ("maintenance", {"days_to_keep": 10**40}, "'days_to_keep'"),
    ("news_sync", {"date": "2026-11-27"}, "news_sync takes no params"),
    ("intraday_prices", {"x": None}, "intraday_prices takes no params"),
    ("weekly_financials", {"as_of": "2099-01-01"}, "weekly_financials takes no params"),
    ("daily_sync", {"date": TOMORROW}, f"'date': {TOMORROW} is in the future"),
    ("daily_sync", {"start_date": "2026-11-02", "end_date": TOMORROW}, "'end_date'"),
    ("daily_sync", {"date": "２０２６-11-27"}, "'date'"),
    ("daily_sync", {"date": "2026-11-27\n"}, "'date'"),
    ("daily_sync", {"date": "2026-10-01"}, "'date': '2026-10-01' is not a trading day"),
    ("daily_sync", {"symbols": ["600519\n"]}, "'symbols': [0] '600519\\n' is not an A-share code"),
    ("daily_sync", {"symbols": ["٦٠٠٥١٩"]}, "'symbols'"),
    ("daily_sync", {"symbols": ["000001.SH"]}, "'symbols'"),
    ("daily_sync", {"start_date": "1990-12-19", "end_date": "2026-11-27"}, "calendar days, more than 260"),
    ("daily_sync", {"start_date": "2025-08-01", "end_date": "2026-11-27"}, "trading days, more than 260"),
    ("daily_sync", {"start_date": "2026-11-27", "end_date": "2026-11-02"}, "before 'start_date'"),
    ("daily_sync", {"start_date": "2026-11-02"}, "go together"),
    ("analysis_pipeline", {"symbols": ["600519.HK"]}, "'symbols'"),
    ("analysis_pipeline", {"research_depth": 1.0}, "'research_depth': 1.0 is not an integer"),
    ("analysis_pipeline", {"quick_model": "x" * 101}, "'quick_model': has 101 characters, maxLength is 100"),
    ("analysis_pipeline", {"jobs": ["all", "all"]}, "'jobs'"),
    ("reports", {"analysis_wait_minutes": float("inf")}, "finite"),
    ("reports", {"jobs": {"$ne": None}}, "'jobs'"),
    ("reports", {"jobs": ["monthly"]}, "'jobs': [0] 'monthly' is not one of ['daily', 'weekly', 'all']"),
    ("reports", {"kind": "daily"}, "unknown param 'kind'"),
]


@pytest.mark.parametrize(("dag_id", "conf", "message"), HOSTILE)
def test_hostile_conf_is_refused_naming_the_key(schemas, dag_id, conf, message):
    errors = conf_errors(dag_id, conf, schemas[dag_id])
    assert len(errors) == 1 and message in errors[0], errors


CONTROLS = [
    ("daily_sync", {"symbols": ["600519.sh", "000001", "430047.BJ"]}),
    ("daily_sync", {"start_date": "2026-11-02", "end_date": "2026-11-27"}),
    ("daily_sync", {"date": "2026-11-27"}),
    ("analysis_pipeline", {"jobs": ["all"]}),
    ("analysis_pipeline", {"symbols": ["600519.sh"], "llm_provider": "offline", "research_depth": 5}),
    ("maintenance", {"jobs": ["all"], "dry_run": True, "days_to_keep": 30}),
    ("reports", {"jobs": ["daily"], "date": "2026-11-27", "analysis_wait_minutes": 0}),
    ("news_sync", {}),
    ("weekly_financials", None),
]


@pytest.mark.parametrize(("dag_id", "conf"), CONTROLS)
def test_legitimate_conf_is_accepted(schemas, dag_id, conf):
    assert conf_errors(dag_id, conf, schemas[dag_id]) == []


def test_lowercase_suffixes_are_normalised():
    assert [to_ts_code(c) for c in ("600519.sh", "000001", "430047.bj", "688981.SH")] == [
        "600519.SH", "000001.SZ", "430047.BJ", "688981.SH"]
    with pytest.raises(ValueError, match="not an A-share code"):
        to_ts_code("510300")


#: The one code rule (ta_scheduler.market), as a table both trigger validators must agree on.
CODES = [
    ("600519", "600519.SH"), ("600519.SH", "600519.SH"), ("600519.sh", "600519.SH"), ("000001.SZ", "000001.SZ"),
    ("300750", "300750.SZ"), ("688981", "688981.SH"), ("430047.bj", "430047.BJ"), ("920001.BJ", "920001.BJ"),
    ("123456", None), ("510300", None), ("600519.SZ", None), ("000001.sh", None), ("60051", None), ("6005190", None),
    ("sh600519", None), ("600519.HK", None), ("600519\n", None), ("６００５１９", None), (" 600519", None),
]


@pytest.mark.parametrize("dag_id", ["daily_sync", "analysis_pipeline"])
@pytest.mark.parametrize(("code", "ts_code"), CODES)
def test_both_trigger_validators_apply_the_one_code_rule(schemas, dag_id, code, ts_code):
    from ta_scheduler.llm.params import split_symbol
    from ta_scheduler.market import CODE_RULE

    errors = conf_errors(dag_id, {"symbols": [code]}, schemas[dag_id])
    if ts_code is None:
        assert errors == [f"'symbols': [0] {code!r} is not an A-share code ({CODE_RULE})"]
        with pytest.raises(ValueError, match="not an A-share code"):
            split_symbol(code)
    else:
        assert errors == []
        assert (to_ts_code(code), split_symbol(code)) == (ts_code, (ts_code[:6], ts_code))


def test_codes_are_a_plain_pattern_without_a_custom_format(schemas):
    """The trigger form and REST clients see the whole rule: a JSON-schema pattern, no format."""
    from ta_scheduler.market import CODE_PATTERN

    for dag_id in ("daily_sync", "analysis_pipeline"):
        assert schemas[dag_id]["symbols"]["items"] == {"type": "string", "pattern": CODE_PATTERN, "maxLength": 9}


def test_a_new_param_is_picked_up_from_the_schema(schemas):
    """Nothing is listed by hand: a param added to a DAG is known (and checked) at once."""
    grown = {**schemas["daily_sync"], "lookback_weeks": {"type": "integer", "minimum": 0, "maximum": 250}}
    assert conf_errors("daily_sync", {"lookback_weeks": 20}, grown) == []
    assert conf_errors("daily_sync", {"lookback_weeks": 251}, grown) == ["'lookback_weeks': 251 breaks maximum is 250"]
    assert conf_errors("daily_sync", {"lookback_weeks": 20}, schemas["daily_sync"])[0].startswith("unknown param 'lookback_weeks'")


# ---- the middleware, as an ASGI app (the deployment: tests/e2e/test_hostile_confs.py) ---------------

def _call(middleware_module, schemas, path: str, body: bytes, headers=()) -> tuple[int | None, dict | None, bool]:
    """(status, JSON body, whether the downstream app was called) of one POST."""
    reached = []

    async def app(scope, receive, send):
        message = await receive()
        reached.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    sent = []
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)] or [b""]

    async def receive():
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": list(headers)}
    middleware_module._cache.clear()
    for dag_id, s in schemas.items():
        middleware_module._cache[dag_id] = (time.monotonic() + 3600, s)
    asyncio.run(middleware_module.ConfRulesMiddleware(app)(scope, receive, send))
    status = sent[0]["status"] if sent else None
    payload = json.loads(sent[1]["body"]) if len(sent) > 1 and sent[1]["body"] else None
    return status, payload, bool(reached)


@pytest.fixture
def conf_rules():
    import ta_conf_rules

    yield ta_conf_rules
    ta_conf_rules._cache.clear()


def test_middleware_refuses_with_400_and_passes_good_requests_on(conf_rules, schemas):
    path = "/api/v2/dags/maintenance/dagRuns"
    status, body, reached = _call(conf_rules, schemas, path, json.dumps({"conf": {"dryrun": True}}).encode())
    assert (status, reached) == (400, False)
    assert body == {"detail": "invalid conf for maintenance: unknown param 'dryrun' (maintenance takes: jobs, days_to_keep, dry_run)"}
    good = json.dumps({"logical_date": None, "conf": {"jobs": ["all"]}}).encode()
    assert _call(conf_rules, schemas, path, good) == (200, {}, True)


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"[" * 100_000, (), "nested too deeply"),
        (b'{"conf": {"days_to_keep": ' + b"9" * 5000 + b"}}", (), "not valid JSON"),
        (b'{"conf": {"start_date": NaN}}', (), "'start_date': numbers must be finite"),
        (b'{"conf": {}, "note": Infinity}', (), "NaN and Infinity are not valid JSON numbers"),
        (b" " * 200_000, (), "larger than"),
        (b"{}", ((b"content-length", b"900000000"),), "900000000 bytes is larger than"),
        (json.dumps({"logical_date": "2999-01-01T00:00:00Z"}).encode(), (), "'logical_date' 2999-01-01T00:00:00Z is in the future"),
        (json.dumps({"conf": {"start_date": "0001-01-01", "end_date": "9999-12-31"}}).encode(), (), "'end_date'"),
    ],
    ids=["deep", "long-int", "nan", "infinity-outside-conf", "big-chunked", "big-declared", "future-logical-date", "centuries"],
)
def test_middleware_answers_hostile_bodies_with_400_fast(conf_rules, schemas, body, headers, message):
    started = time.perf_counter()
    status, payload, reached = _call(conf_rules, schemas, "/api/v2/dags/daily_sync/dagRuns", body, headers)
    assert time.perf_counter() - started < 0.5
    assert (status, reached) == (400, False)
    assert message in payload["detail"]


def test_middleware_checks_backfill_conf_and_ignores_other_requests(conf_rules, schemas):
    body = json.dumps({"dag_id": "maintenance", "from_date": "2026-11-01T00:00:00Z", "to_date": "2026-11-02T00:00:00Z",
                       "dag_run_conf": {"dry_run": "yes"}}).encode()
    status, payload, _ = _call(conf_rules, schemas, "/api/v2/backfills", body)
    assert status == 400 and payload["detail"].startswith("invalid conf for maintenance: 'dry_run'")
    # an unknown DAG is Airflow's to answer (404); other paths pass untouched
    assert _call(conf_rules, schemas, "/api/v2/dags/nope/dagRuns", b'{"conf": {"x": 1}}') == (200, {}, True)
    assert _call(conf_rules, schemas, "/api/v2/dags/daily_sync/dagRuns/list", b"[[[") == (200, {}, True)


def test_the_first_task_refuses_what_the_trigger_refuses(schemas):
    """``Run.check_conf`` checks the run's conf against the DAG's params."""
    from types import SimpleNamespace

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.exceptions import AirflowFailException
    from ta_scheduler.calendar.runs import Run

    dag = DagBag(dag_folder=str(DAGS_DIR)).dags["maintenance"]
    dag_run = SimpleNamespace(run_type="manual", run_after=datetime(2026, 11, 27, 17, 0, tzinfo=TZ), conf={"dryrun": True})
    with pytest.raises(AirflowFailException, match=r"invalid conf for maintenance: unknown param 'dryrun'"):
        Run.of(dag, dag_run).check_conf()
    dag_run.conf = {"dry_run": True}
    Run.of(dag, dag_run).check_conf()


def test_jobs_all_on_analysis_pipeline_runs_the_market_jobs_and_research_with_symbols(mongo_target):
    from ta_scheduler.analytics.tasks import plan_analysis
    from ta_scheduler.calendar.runs import Run

    schedules = runpy.run_path(str(DAGS_DIR / "analysis_pipeline.py"))["SCHEDULES"]
    run = Run("manual", datetime(2026, 11, 27, 17, 0, tzinfo=TZ))
    market = plan_analysis(schedules, {"jobs": ["all"], "date": "2026-11-27"}, run)
    assert market == {"jobs": ["indicators", "sentiment", "hot_stocks", "risk"], "trade_dates": ["2026-11-27"], "symbols": []}
    both = plan_analysis(schedules, {"jobs": ["all"], "date": "2026-11-27", "symbols": ["600519.sh"]}, run)
    assert both["jobs"] == ["indicators", "sentiment", "hot_stocks", "risk", "research"]
    assert both["symbols"] == ["600519.sh"]


def test_a_run_made_outside_the_api_server_fails_in_its_first_task():
    """``airflow dags test -c`` never passes the api-server: the first task refuses the conf."""
    from airflow_cli import dags_test

    res = dags_test("news_sync", "2026-11-27T15:00:00+08:00", {"since": "2026-01-01"}, timeout=600)
    output = res.stdout + res.stderr
    assert res.returncode == 1 and "DagRun failed" in res.stderr, output[-3000:]  # the CLI's own exit
    assert "invalid conf for news_sync: news_sync takes no params; got 'since'" in output, output[-3000:]
    assert "AirflowFailException" in output  # failed at once, not retried
