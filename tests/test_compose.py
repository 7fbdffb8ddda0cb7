"""docker-compose.yaml and the Dockerfile, checked without Docker (no engine runs in CI).

Services, queues, shared secrets and URLs, healthchecks; and every command given to the Airflow
image must parse as a real subcommand of the installed Airflow CLI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from paths import PROJECT_DIR
from ta_scheduler.constants import Queues

COMPOSE = yaml.safe_load((PROJECT_DIR / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = {name: svc for name, svc in SERVICES.items() if "AIRFLOW__CORE__EXECUTOR" in (svc.get("environment") or {})}
SHARED = (
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
)


def test_services_present():
    expected = {
        "postgres", "redis", "mongo", "airflow-init", "airflow-apiserver", "airflow-scheduler",
        "airflow-dag-processor", "airflow-triggerer", "flower", *(f"airflow-worker-{q}" for q in Queues.ALL),
    }
    assert expected <= set(SERVICES)
    assert SERVICES["mongo"]["image"].startswith("mongo:")
    assert SERVICES["flower"]["profiles"] == ["flower"]


def test_one_worker_per_queue():
    served = {}
    for name, svc in SERVICES.items():
        cmd = svc.get("command")
        if isinstance(cmd, str) and cmd.startswith("celery worker"):
            served[re.search(r"--queues (\S+)", cmd).group(1)] = name
    assert sorted(served) == sorted(Queues.ALL)


def test_every_long_running_service_has_a_healthcheck():
    for name, svc in SERVICES.items():
        if name in ("airflow-init", "statsd-exporter"):
            continue
        assert "healthcheck" in svc, f"{name} has no healthcheck"


@pytest.mark.parametrize("key", SHARED)
def test_settings_are_identical_on_every_airflow_container(key):
    values = {name: svc["environment"].get(key) for name, svc in AIRFLOW_SERVICES.items()}
    assert len(set(values.values())) == 1 and None not in values.values(), values


def test_execution_api_points_at_the_api_server():
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_secrets_come_from_env_file_and_are_documented():
    env = SERVICES["airflow-scheduler"]["environment"]
    example = (PROJECT_DIR / ".env.example").read_text()
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        var = re.fullmatch(r"\$\{(\w+):\?[^}]*\}", env[key]).group(1)
        assert re.search(rf"^{var}=$", example, re.M), f"{var} missing (or not empty) in .env.example"
    assert not (PROJECT_DIR / ".env").exists() or ".env" in (PROJECT_DIR / ".gitignore").read_text()


def test_dockerfile_builds_on_the_locked_airflow():
    text = (PROJECT_DIR / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2-python3.11" in text
    assert "requirements.lock" in text


def _airflow_commands() -> list[list[str]]:
    cmds = []
    for svc in AIRFLOW_SERVICES.values():
        cmd = svc.get("command")
        if svc.get("entrypoint"):  # a shell script: check each `airflow ...` line in it
            script = "\n".join(cmd) if isinstance(cmd, list) else cmd
            cmds += [line.split()[1:] for line in script.splitlines() if line.strip().startswith("airflow ")]
        elif cmd:
            cmds.append(cmd.split() if isinstance(cmd, str) else list(cmd))
        for test in [svc.get("healthcheck", {}).get("test", [])]:
            text = " ".join(test[1:]) if isinstance(test, list) else str(test)
            m = re.search(r"airflow (jobs check [^\"']*?--hostname)", text)
            if m:
                cmds.append(m.group(1).split() + ["host"])
    return cmds


def test_every_command_is_a_real_airflow_subcommand():
    cmds = _airflow_commands()
    assert len(cmds) >= 10
    code = (
        "import json, sys\n"
        "from airflow.cli.cli_parser import get_parser\n"
        "parser = get_parser()\n"
        "bad = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        parser.parse_args(argv)\n"
        "    except SystemExit:\n"
        "        bad.append(argv)\n"
        "print(json.dumps(bad))\n"
    )
    env = dict(os.environ, AIRFLOW__CORE__EXECUTOR="CeleryExecutor")
    res = subprocess.run([sys.executable, "-c", code, json.dumps(cmds)], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []


def test_the_check_itself_refuses_a_made_up_subcommand():
    code = "from airflow.cli.cli_parser import get_parser; get_parser().parse_args(['celery', 'wurker'])"
    env = dict(os.environ, AIRFLOW__CORE__EXECUTOR="CeleryExecutor")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode != 0 and "invalid choice" in res.stderr
