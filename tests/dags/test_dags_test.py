"""`airflow dags test` of every DAG against the running services (the store, Redis, metadata DB).

Each DAG lists the run it is tested with (a logical date and conf); a DAG without an entry
fails this test, so a new DAG cannot slip in untested.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from paths import DAGS_DIR, PROJECT_DIR

#: dag_id -> (logical date, conf)
RUNS: dict[str, tuple[str, dict]] = {
    "maintenance": ("2026-11-27T10:00:00+08:00", {}),
}


def dags_test(dag_id: str, logical_date: str, conf: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [str(PROJECT_DIR / "scripts" / "airflow"), "dags", "test", dag_id, logical_date]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_every_dag_has_a_test_run():
    assert sorted(RUNS) == sorted(p.stem for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("dag_id", sorted(RUNS))
def test_dag_run_succeeds(dag_id):
    logical_date, conf = RUNS[dag_id]
    res = dags_test(dag_id, logical_date, conf)
    tail = (res.stdout + res.stderr)[-4000:]
    assert res.returncode == 0, tail
    assert "state=success" in res.stdout + res.stderr, tail
