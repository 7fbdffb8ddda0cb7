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
from ta_scheduler.maintenance.health import expected_bars_date

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


#: the runs above whose inputs are the same when run again (research makes new LLM calls, and
#: maintenance writes a backup and a health check of the moment: both are new facts)
RERUNS = [r for r in RUNS if r[0] not in ("maintenance",) and r[2].get("symbols") != "DEMO"]


def _store_contents() -> dict[str, dict]:
    """Every document of every collection, whole (``_id``, ``updated_at`` and all)."""
    from ta_scheduler.storage.mongo import get_db

    db = get_db()
    return {name: {str(d["_id"]): d for d in db[name].find({})} for name in sorted(db.list_collection_names())}


def test_running_the_data_dags_again_changes_no_document():
    """After the runs above, the same runs again (same logical dates and confs) leave every
    document as it was, ``updated_at`` included: a re-run rewrites nothing."""
    before = _store_contents()
    assert sum(len(docs) for docs in before.values()) > 1000, {k: len(v) for k, v in before.items()}
    for dag_id, logical_date, conf in RERUNS:
        res = dags_test(dag_id, logical_date, conf)
        assert res.returncode == 0 and "state=success" in res.stdout + res.stderr, (res.stdout + res.stderr)[-6000:]
    after = _store_contents()
    assert sorted(after) == sorted(before)
    changed = {}
    for name in before:
        for k in sorted(set(before[name]) | set(after[name])):
            old, new = before[name].get(k) or {}, after[name].get(k) or {}
            if old != new:
                changed.setdefault(name, {})[k] = {f: (old.get(f), new.get(f)) for f in {*old, *new} if old.get(f) != new.get(f)}
    assert changed == {}
