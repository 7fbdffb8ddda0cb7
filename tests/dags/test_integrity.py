"""DAG integrity: every file imports, every DAG and task follows the project's policy."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from paths import DAGS_DIR, PLUGINS_DIR, PROJECT_DIR
from ta_scheduler.constants import TAGS, TIMEZONE, Queues

DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
HEAVY = ("pandas", "numpy", "tushare", "dashscope", "openai", "talib", "pymongo", "matplotlib", "exchange_calendars")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_there_are_dag_files():
    assert DAG_FILES, "dags/ holds no DAG files"


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_one_dag_per_file_named_after_it(dagbag):
    ids = {Path(dag.fileloc).stem: dag_id for dag_id, dag in dagbag.dags.items()}
    assert sorted(ids) == sorted(p.stem for p in DAG_FILES)
    assert all(stem == dag_id for stem, dag_id in ids.items())


def _dags():
    from airflow.dag_processing.dagbag import DagBag

    return sorted(DagBag(dag_folder=str(DAGS_DIR)).dags.items())


@pytest.mark.parametrize(("dag_id", "dag"), _dags(), ids=lambda x: x if isinstance(x, str) else "")
def test_dag_policy(dag_id, dag):
    assert dag.owner and dag.owner != "airflow", f"{dag_id}: set an owner in default_args"
    assert dag.tags, f"{dag_id}: no tags"
    assert set(dag.tags) <= TAGS, f"{dag_id}: tags outside the vocabulary: {set(dag.tags) - TAGS}"
    assert dag.doc_md and len(dag.doc_md.strip()) > 80, f"{dag_id}: doc_md missing or too short"
    assert dag.start_date.tzinfo is not None, f"{dag_id}: naive start_date"
    assert dag.timezone.name == TIMEZONE, f"{dag_id}: start_date must be in {TIMEZONE}"
    assert dag.catchup is False, f"{dag_id}: catchup must be off (backfills are explicit)"
    assert dag.max_active_runs <= 4


@pytest.mark.parametrize(("dag_id", "dag"), _dags(), ids=lambda x: x if isinstance(x, str) else "")
def test_task_policy(dag_id, dag):
    for task in dag.tasks:
        where = f"{dag_id}.{task.task_id}"
        assert task.retries >= 1, f"{where}: no retries"
        assert task.retry_exponential_backoff, f"{where}: retries must back off exponentially"
        assert task.execution_timeout and task.execution_timeout <= dt.timedelta(hours=2), f"{where}: execution_timeout"
        assert task.on_failure_callback, f"{where}: no failure callback"
        assert task.queue in Queues.ALL, f"{where}: queue {task.queue!r} has no worker"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_nothing_heavy(path):
    """Parsed every 30 s in a fresh process: heavy libraries belong inside tasks (SPEC §8)."""
    code = textwrap.dedent(
        f"""
        import json, runpy, sys, time
        sys.path.insert(0, {str(PLUGINS_DIR)!r})
        t = time.perf_counter()
        runpy.run_path({str(path)!r})
        print(json.dumps({{"heavy": [m for m in {HEAVY!r} if m in sys.modules], "s": time.perf_counter() - t}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=os.environ)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [], f"{path.name} imports {result['heavy']} at parse time"


def test_reserialize_and_no_import_errors_through_the_cli():
    """Serialization catches what a DagBag does not (e.g. an unregistered timetable)."""
    airflow = [str(PROJECT_DIR / "scripts" / "airflow")]
    res = subprocess.run(airflow + ["dags", "reserialize"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run(airflow + ["dags", "list-import-errors", "-o", "json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    errors = json.loads(res.stdout.strip().splitlines()[-1] or "[]")
    assert errors == [], errors
    res = subprocess.run(airflow + ["dags", "list", "-o", "json"], capture_output=True, text=True, timeout=120)
    listed = {d["dag_id"] for d in json.loads(res.stdout.strip().splitlines()[-1])}
    assert {p.stem for p in DAG_FILES} <= listed


def test_readme_params_table_is_the_dags_params(dagbag):
    """README's "Params of manual runs" table is generated from the DAGs' Params."""
    from ta_scheduler.params import params_table

    table = params_table({dag_id: dag.params for dag_id, dag in dagbag.dags.items()})
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert table in readme, "README's params table is stale: paste `python -m ta_scheduler.params`"
    assert "| `reports` | `jobs` |" in table and "`kind`" not in table
