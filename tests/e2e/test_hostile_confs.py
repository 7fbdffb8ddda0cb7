"""Every bad trigger is refused through the REST API of a running deployment: hundreds of hostile
confs across all seven DAGs answer 400 with a message naming the problem and create no run;
legitimate confs are accepted; anonymous requests with huge ranges or bodies answer fast, never 500.

The DAGs are paused while this runs and the control runs are deleted afterwards, so nothing here
executes a task or delays the other end-to-end tests.
"""

from __future__ import annotations

import http.client
import json
import time
from datetime import timedelta

import pytest
from ta_scheduler.market import exchange_today

pytestmark = pytest.mark.slow

DAGS = ["daily_sync", "analysis_pipeline", "maintenance", "reports", "intraday_prices", "news_sync", "weekly_financials"]
NO_PARAMS = ["intraday_prices", "news_sync", "weekly_financials"]
TOMORROW = (exchange_today() + timedelta(days=1)).isoformat()
DEEP = json.loads("[" * 200 + "]" * 200)

# Values no param of any DAG accepts, whatever its type.
ANY_BAD = [{"$ne": None}, {"$where": "sleep(1000)"}, DEEP, [[["x"]]], "x" * 20_000]
DATE_BAD = [
    "2026-10-01", "2026-11-28", TOMORROW, "2099-01-05", "2024-02-30", "2024-13-01", "２０２６-11-27", "٢٠٢٦-11-27",
    "2026-11-27\n", "2026-11-27 ", "2026-1-27", "20261127", "2026-11-27T00:00:00", "9999-12-31", "0001-01-01", "",
    20261127, True, ["2026-11-27"], 2026.1127,
]
CODES_BAD = [
    ["12345x"], ["600519\n"], ["٦٠٠٥١٩"], ["６００５１９"], ["600519.HK"], ["600519.Sh"], ["sh600519"], ["000001.SH"],
    ["510300"], ["60051"], ["6005190"], [], "600519", [600519], ["600519", "600519"], [None], [["600519"]],
    ["600519;drop"], ["600519.SH" * 20], [f"{600000 + i:06d}" for i in range(6001)],
]
JOBS_BAD = [["nope"], "all", [1], ["all", "all"], [["all"]], ["backup; rm -rf /"], ["ALL"], [None], ["all"] * 50]
INT_BAD = [0, -1, 3651, 1.5, 30.0, "30", True, 10**30, [30], float("nan"), float("inf")]
BOOL_BAD = ["false", 0, 1, "yes", None, [True], {"value": True}]
UNKNOWN = [
    {"dryrun": True}, {"job": ["all"]}, {"days": 365}, {"DATE": "2026-11-27"}, {"symbol": ["600519"]},
    {"__proto__": {"admin": True}}, {"$where": "1"}, {"conf": {}}, {"": 1}, {"k" * 1000: 1},
    {"params": {"date": "2026-11-27"}}, {"date ": "2026-11-27"}, {"dry_run\u200b": True},
]


def _hostile() -> list[tuple[str, object, str]]:
    """(dag_id, conf, text the 400 message must contain)."""
    return [*_conf_shape_cases(), *_param_value_cases(), *_cross_field_cases()]


def _conf_shape_cases() -> list[tuple[str, object, str]]:
    """Unknown keys, confs that are not objects, and params given to a DAG without params."""
    cases: list[tuple[str, object, str]] = []
    for dag_id in DAGS:
        for conf in UNKNOWN:
            cases.append((dag_id, conf, "takes no params" if dag_id in NO_PARAMS else "unknown param"))
        for conf in ([], ["date"], "date=2026-11-27", 1, True):
            cases.append((dag_id, conf, "conf must be a JSON object"))
    for dag_id in NO_PARAMS:
        for conf in ({"date": "2026-11-27"}, {"symbols": ["600519"]}, {"jobs": ["all"]}, {"x": None}, {"dry_run": False}):
            cases.append((dag_id, conf, "takes no params"))
    return cases


def _param_value_cases() -> list[tuple[str, object, str]]:
    """Each param of each DAG given a value its schema refuses."""
    params = {
        "daily_sync": {"date": DATE_BAD, "start_date": DATE_BAD, "end_date": DATE_BAD, "symbols": CODES_BAD},
        "analysis_pipeline": {
            "date": DATE_BAD, "symbols": CODES_BAD, "jobs": JOBS_BAD,
            "llm_provider": ["openai", "", "OFFLINE", 1, ["offline"], None],
            "research_depth": [0, 6, 1.5, 1.0, "3", True, -1, 10**20, None, float("nan")],
            "quick_model": ["x" * 101, "../../etc/passwd", "$(rm -rf /)", "qwen max", 1, ["qwen-max"]],
            "deep_model": ["x" * 101, "deepseek\nreasoner", "-rf", {}],
        },
        "maintenance": {"jobs": JOBS_BAD, "days_to_keep": INT_BAD, "dry_run": BOOL_BAD},
        "reports": {
            "date": DATE_BAD, "jobs": JOBS_BAD, "kind": ["daily"],
            "analysis_wait_minutes": [-1, 721, 1e9, "120", True, [], None, float("inf")],
        },
    }
    cases: list[tuple[str, object, str]] = []
    for dag_id, by_key in params.items():
        for key, values in by_key.items():
            for value in [*values, *ANY_BAD]:
                if key == "start_date":  # the range rule needs both ends; each end is checked on its own
                    conf = {"start_date": value, "end_date": "2026-11-27"}
                elif key == "end_date":
                    conf = {"start_date": "2026-11-02", "end_date": value}
                else:
                    conf = {key: value}
                cases.append((dag_id, conf, f"'{key}'"))
    return cases


def _cross_field_cases() -> list[tuple[str, object, str]]:
    """daily_sync's rules across its date params."""
    cross = [
        ({"date": "2026-11-27", "start_date": "2026-11-02", "end_date": "2026-11-27"}, "not both"),
        ({"start_date": "2026-11-02"}, "go together"),
        ({"end_date": "2026-11-27"}, "go together"),
        ({"start_date": "2026-11-27", "end_date": "2026-11-02"}, "before 'start_date'"),
        ({"start_date": "1990-12-19", "end_date": "2026-11-27"}, "more than 260 trading days"),
        ({"start_date": "2025-08-01", "end_date": "2026-11-27"}, "more than 260 per run"),
        ({"start_date": "0001-01-03", "end_date": "2026-11-27"}, "'start_date'"),
        ({"start_date": "2026-11-02", "end_date": "9999-12-30"}, "'end_date'"),
    ]
    return [("daily_sync", conf, text) for conf, text in cross]


HOSTILE = _hostile()
CONTROLS = [
    ("daily_sync", None, None),  # "logical_date": null and no conf: syncs the last closed trading day
    ("daily_sync", {"date": "2026-11-27"}, None),
    ("daily_sync", {"symbols": ["600519.sh", "000001", "430047.BJ"]}, None),
    ("daily_sync", {"start_date": "2026-11-02", "end_date": "2026-11-27"}, None),
    ("daily_sync", {}, "2026-11-20T08:30:00Z"),
    ("analysis_pipeline", {"jobs": ["all"]}, None),
    ("analysis_pipeline", {"symbols": ["600519.sh", "000001.SZ"], "llm_provider": "offline", "research_depth": 5,
                           "quick_model": "qwen-turbo", "deep_model": "deepseek-reasoner"}, None),
    ("maintenance", {"jobs": ["all"]}, None),
    ("maintenance", {"jobs": ["cleanup"], "dry_run": True, "days_to_keep": 30}, None),
    ("reports", {"jobs": ["daily"], "date": "2026-11-27", "analysis_wait_minutes": 0}, None),
    ("reports", {"jobs": ["all"]}, None),
    ("intraday_prices", {}, None),
    ("news_sync", None, None),
    ("weekly_financials", {}, None),
]


def test_the_table_is_large_and_covers_every_dag():
    assert len(HOSTILE) >= 300
    assert {dag_id for dag_id, _, _ in HOSTILE} == set(DAGS)


def _run_ids(cluster, dag_id: str) -> set[str]:
    status, body = cluster.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=1000")
    assert status == 200, body
    return {r["dag_run_id"] for r in body["dag_runs"]}


@pytest.fixture(scope="module")
def paused(cluster):
    """All seven DAGs paused (runs created here never execute); the runs this module created
    are deleted and the DAGs unpaused afterwards."""
    for dag_id in DAGS:
        cluster.wait_dag(dag_id)
    before = {dag_id: _run_ids(cluster, dag_id) for dag_id in DAGS}
    for dag_id in DAGS:
        status, body = cluster.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
        assert status == 200, body
    yield before
    for dag_id in DAGS:
        for run_id in _run_ids(cluster, dag_id) - before[dag_id]:
            cluster.request("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        cluster.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})


def test_every_hostile_conf_is_refused_with_400_and_creates_no_run(cluster, paused):
    wrong = []
    for dag_id, conf, text in HOSTILE:
        status, body = cluster.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        detail = body.get("detail") if isinstance(body, dict) else body
        if status != 400 or not isinstance(detail, str) or text not in detail:
            wrong.append((dag_id, json.dumps(conf)[:120], status, str(detail)[:300]))
    assert wrong == []
    assert {dag_id: _run_ids(cluster, dag_id) for dag_id in DAGS} == paused


def test_a_future_logical_date_is_refused_for_every_dag(cluster, paused):
    future = f"{TOMORROW}T08:30:00Z"
    for dag_id in DAGS:
        status, body = cluster.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": future, "conf": {}})
        assert status == 400 and "'logical_date'" in body["detail"] and "in the future" in body["detail"], (dag_id, body)
    assert {dag_id: _run_ids(cluster, dag_id) for dag_id in DAGS} == paused


def test_legitimate_confs_are_accepted(cluster, paused):
    for dag_id, conf, logical_date in CONTROLS:
        payload = {"logical_date": logical_date} if conf is None else {"logical_date": logical_date, "conf": conf}
        status, body = cluster.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", payload)
        assert status == 200, (dag_id, conf, body)
        assert body["conf"] == (conf or {}) and body["state"] == "queued", body


def _raw(cluster, body: bytes | None, headers: dict[str, str], *, declared: int | None = None, path: str = "") -> tuple[int, str, float]:
    """(status, body, seconds) of an anonymous POST (``body=None``: 256 KB chunked, no length
    announced); ``declared`` sends a larger Content-Length
    than the bytes actually sent (a client trying to make the server wait for a huge body)."""
    conn = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=10)
    started = time.perf_counter()
    conn.putrequest("POST", path or "/api/v2/dags/daily_sync/dagRuns")
    conn.putheader("Content-Type", "application/json")
    for name, value in headers.items():
        conn.putheader(name, value)
    if declared is not None:
        conn.putheader("Content-Length", str(declared))
    elif body is not None:
        conn.putheader("Content-Length", str(len(body)))
    else:
        conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    try:
        if body is None:
            for _ in range(4):
                conn.send(b"10000\r\n" + b" " * 0x10000 + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.send(body)
    except OSError:
        pass  # the server may answer and close before it has read everything
    response = conn.getresponse()
    text = response.read().decode(errors="replace")
    conn.close()
    return response.status, text, time.perf_counter() - started


ANONYMOUS = [
    ("range-of-millennia", json.dumps({"conf": {"start_date": "0001-01-01", "end_date": "9999-12-30"}}).encode(), {}, None),
    ("end-9999-12-31", json.dumps({"conf": {"start_date": "2026-11-02", "end_date": "9999-12-31"}}).encode(), {}, None),
    ("nested", b'{"conf": {"symbols": ' + b"[" * 60_000 + b"]" * 60_000 + b"}}", {}, None),
    ("declared-1GB", b"{", {}, 1 << 30),
    ("chunked-256KB", None, {}, None),
    ("long-integer", b'{"conf": {"date": ' + b"9" * 100_000 + b"}}", {}, None),
    ("nan", b'{"conf": {"symbols": NaN}}', {}, None),
]


@pytest.mark.parametrize(("case", "body", "headers", "declared"), ANONYMOUS, ids=[a[0] for a in ANONYMOUS])
def test_anonymous_huge_range_or_body_answers_fast_and_never_500(cluster, paused, case, body, headers, declared):
    _raw(cluster, b"{}", {})  # warm the connection path; the DAG's schemas may be cached or not
    status, text, seconds = _raw(cluster, body, headers, declared=declared)
    assert status == 400, text[:500]
    assert json.loads(text)["detail"]
    assert seconds < 0.5, f"{case}: {seconds:.3f} s"
    started = time.perf_counter()
    status, _ = cluster.request("GET", "/api/v2/monitor/health", auth=False)
    assert status == 200 and time.perf_counter() - started < 0.5
