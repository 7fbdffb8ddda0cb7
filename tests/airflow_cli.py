"""The Airflow CLI as tests run it: through ``scripts/airflow`` (the project's settings)."""

from __future__ import annotations

import json
import subprocess

from paths import PROJECT_DIR

AIRFLOW = str(PROJECT_DIR / "scripts" / "airflow")


def dags_test(dag_id: str, logical_date: str | None, conf: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """``airflow dags test <dag_id> [<logical_date>] [-c conf]``, output captured (no logical
    date: a run without one, as ``airflow dags trigger`` without ``-e`` makes)."""
    cmd = [AIRFLOW, "dags", "test", dag_id, *([logical_date] if logical_date else [])]
    if conf:
        cmd += ["-c", json.dumps(conf)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
