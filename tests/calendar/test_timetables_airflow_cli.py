"""Real Airflow commands schedule DAGs on each timetable (plugin loading, serialization,
the dag-processor's next-run computation and the CLI's deserialization)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakes import TEST_TOKEN

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
BUNDLE = "ta_calendar_cli_tests"
RUN_AFTER = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")  # skips log lines

DAGS = {
    "ta_caltest_trading_day": 'TradingDayTimetable(at="16:30")',
    "ta_caltest_sessions": "TradingSessionsTimetable(every_minutes=5)",
    "ta_caltest_multi": 'MultiScheduleTimetable({"backup": "0 1 * * 0", "report": "trading_day@16:30"})',
}

#: run_after of the first three runs from start_date 2026-02-12 (Thu) with catchup=True, UTC.
EXPECTED = {
    "ta_caltest_trading_day": ["2026-02-12T08:30:00+00:00", "2026-02-13T08:30:00+00:00",
                               "2026-02-24T08:30:00+00:00"],  # Spring Festival 02-16..02-23 closed
    "ta_caltest_sessions": ["2026-02-12T01:30:00+00:00", "2026-02-12T01:35:00+00:00",
                            "2026-02-12T01:40:00+00:00"],
    "ta_caltest_multi": ["2026-02-12T08:30:00+00:00", "2026-02-13T08:30:00+00:00",
                         "2026-02-14T17:00:00+00:00"],  # Sunday 01:00 CST backup
}


def _dag_file(dag_id: str, schedule: str) -> str:
    return textwrap.dedent(
        f'''
        """Scheduling check for {dag_id}."""
        import pendulum
        from airflow.sdk import DAG
        from ta_timetables import MultiScheduleTimetable, TradingDayTimetable, TradingSessionsTimetable

        with DAG(
            "{dag_id}",
            schedule={schedule},
            start_date=pendulum.datetime(2026, 2, 12, tz="Asia/Shanghai"),
            catchup=True,
            tags=["maintenance"],
        ):
            pass
        '''
    )


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def airflow_env(tmp_path, calendar_dir):
    dags = tmp_path / "dags"
    dags.mkdir()
    for dag_id, schedule in DAGS.items():
        (dags / f"{dag_id}.py").write_text(_dag_file(dag_id, schedule))
    bundles = [
        # keep the project's bundle configured so it stays active in the shared test metadata DB
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {"name": BUNDLE, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(dags), "refresh_interval": 0}},
    ]
    env = dict(os.environ, AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST=json.dumps(bundles))
    assert env.get("TA_ENV") == "test" and env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/" + env["TA_METADATA_DB"])
    yield env
    procs = [subprocess.Popen([AIRFLOW, "dags", "delete", "-y", dag_id], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for dag_id in DAGS]
    for p in procs:
        p.wait(timeout=120)


def test_airflow_schedules_a_dag_on_each_timetable(airflow_env):
    res = _run(["dags", "reserialize", "-B", BUNDLE], airflow_env)
    assert res.returncode == 0, res.stderr[-3000:]
    procs = {
        dag_id: subprocess.Popen(
            [AIRFLOW, "dags", "next-execution", dag_id, "-n", "3", "--field", "run_after"],
            env=airflow_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for dag_id in DAGS
    }
    for dag_id, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        lines = [line.strip() for line in out.splitlines() if RUN_AFTER.match(line.strip())]
        assert lines == EXPECTED[dag_id], (dag_id, out, err[-2000:])


REPLAN_DAG = "ta_caltest_replan"


@pytest.fixture
def replan_env(tmp_path, calendar_dir):
    """One TradingDayTimetable DAG starting on Fri 2027-02-05, a provisional holiday (the eve)."""
    dags = tmp_path / "replan_dags"
    dags.mkdir()
    source = _dag_file(REPLAN_DAG, 'TradingDayTimetable(at="16:30")').replace(
        "pendulum.datetime(2026, 2, 12,", "pendulum.datetime(2027, 2, 5,"
    )
    (dags / f"{REPLAN_DAG}.py").write_text(source)
    bundles = [
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {"name": BUNDLE, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(dags), "refresh_interval": 0}},
    ]
    env = dict(os.environ, AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST=json.dumps(bundles))
    assert env.get("TA_ENV") == "test" and env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("/" + env["TA_METADATA_DB"])
    yield env
    _run(["dags", "delete", "-y", REPLAN_DAG], env)


def _next_run_after(env: dict[str, str]) -> str:
    res = _run(["dags", "next-execution", REPLAN_DAG, "-n", "1", "--field", "run_after"], env)
    assert res.returncode == 0, res.stderr[-3000:]
    return [line.strip() for line in res.stdout.splitlines() if RUN_AFTER.match(line.strip())][0]


def test_a_published_calendar_replans_the_next_run_on_the_next_parse(replan_env, mongo_db, fake_tushare):
    """The dag-processor recomputes DagModel.next_dagrun from the timetable on every parse,
    so a calendar sync that changes a day moves the planned run at the next parse."""
    from ta_scheduler.calendar.sync import provider_trade_cal_fetch, sync_trade_calendar
    from ta_scheduler.providers.tushare_pro import TushareProvider

    res = _run(["dags", "reserialize", "-B", BUNDLE], replan_env)
    assert res.returncode == 0, res.stderr[-3000:]
    # provisional: 02-05 (eve) .. 02-12 closed, so the first run is Mon 02-15
    assert _next_run_after(replan_env) == "2027-02-15T08:30:00+00:00"

    _, url = fake_tushare  # the made-up 2027 notice keeps Fri 02-05 open
    sync_trade_calendar(mongo_db, provider_trade_cal_fetch(TushareProvider(TEST_TOKEN, url, max_attempts=1)), [2027])
    assert _next_run_after(replan_env) == "2027-02-15T08:30:00+00:00"  # planned at the last parse

    res = _run(["dags", "reserialize", "-B", BUNDLE], replan_env)  # what the dag-processor does
    assert res.returncode == 0, res.stderr[-3000:]
    assert _next_run_after(replan_env) == "2027-02-05T08:30:00+00:00"
