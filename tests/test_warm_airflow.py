"""The warm CLI (tests/warm_airflow.py) answers as ``scripts/airflow`` does: the command's own
environment, output and exit status; a command with another Airflow configuration runs apart."""

from __future__ import annotations

import os
import subprocess
import uuid

from airflow_cli import AIRFLOW, WarmRun, warm_airflow


def _both(argv: list[str], env: dict[str, str], tmp_path) -> tuple[tuple, tuple]:
    """(returncode, stdout, stderr's last line) of the warm CLI and of ``scripts/airflow``."""
    out, err = tmp_path / "out", tmp_path / "err"
    proc = warm_airflow(argv, out, err, env=env)
    assert isinstance(proc, WarmRun)
    warm = (proc.wait(120), out.read_text(), err.read_text().strip().splitlines()[-1:])
    real = subprocess.run([AIRFLOW, *argv], env=env, capture_output=True, text=True, timeout=120)
    return warm, (real.returncode, real.stdout, real.stderr.strip().splitlines()[-1:])


def test_the_commands_environment_output_and_status_are_its_own(tmp_path):
    name = f"warm_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, f"AIRFLOW_VAR_{name.upper()}": "from this command"}
    warm, real = _both(["variables", "get", name], env, tmp_path)
    assert warm == real and warm[0] == 0 and warm[1].strip() == "from this command"

    warm, real = _both(["variables", "get", name], dict(os.environ), tmp_path)  # not set for this one
    assert warm == real and warm[0] == 1 and f"Variable {name} does not exist" in warm[2][0]


def test_another_airflow_configuration_runs_in_a_process_of_its_own(tmp_path):
    env = {**os.environ, "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "7"}
    proc = warm_airflow(["config", "get-value", "core", "default_task_retries"], tmp_path / "out", env=env)
    assert isinstance(proc, subprocess.Popen)
    assert proc.wait(120) == 0 and (tmp_path / "out").read_text().strip().splitlines()[-1] == "7"
