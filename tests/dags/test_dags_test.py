"""`airflow dags test` of every DAG against the running services (the store, Redis, metadata DB),
in the order data flows: sync → analysis → reports → maintenance (whose health check then
finds fresh data). Each DAG lists the run it is tested with; a DAG without one fails this test.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from airflow_cli import dags_test
from paths import DAGS_DIR
from ta_scheduler.health import expected_bars_date

#: the trading day the maintenance health check expects bars for, right now
DAY = expected_bars_date(datetime.now(ZoneInfo("Asia/Shanghai")))


def _demo_symbols(n: int) -> list[str]:
    from ta_scheduler.providers import get_provider

    return sorted(get_provider("demo").stock_basic()["code"].tolist())[:n]


#: (dag_id, logical date, conf) in execution order
RUNS: list[tuple[str, str, dict]] = [
    ("daily_sync", f"{DAY}T16:30:00+08:00", {"date": DAY}),
    ("intraday_prices", f"{DAY}T10:05:00+08:00", {}),
    ("news_sync", f"{DAY}T15:00:00+08:00", {}),
    ("weekly_financials", f"{DAY}T02:00:00+08:00", {}),
    ("analysis_pipeline", f"{DAY}T17:00:00+08:00", {"date": DAY}),
    ("analysis_pipeline", f"{DAY}T17:30:00+08:00", {"symbols": "DEMO", "llm_provider": "offline", "research_depth": 1}),
    ("reports", f"{DAY}T20:00:00+08:00", {"date": DAY}),
    ("maintenance", f"{DAY}T21:00:00+08:00", {}),
]


def test_every_dag_has_a_test_run():
    assert sorted({dag_id for dag_id, _, _ in RUNS}) == sorted(p.stem for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize(("dag_id", "logical_date", "conf"), RUNS, ids=[f"{i}-{r[0]}" for i, r in enumerate(RUNS)])
def test_dag_run_succeeds(dag_id, logical_date, conf):
    if conf.get("symbols") == "DEMO":
        conf = dict(conf, symbols=_demo_symbols(3))
    res = dags_test(dag_id, logical_date, conf)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert "state=success" in out, out[-4000:]
    assert "Task failed with exception" not in out, out[-6000:]
