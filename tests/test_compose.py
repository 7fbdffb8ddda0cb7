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
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
)
#: Only the server components hold the metadata DB and the Fernet key.
SERVERS = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
SERVER_ONLY = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")


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


# ---- nothing exposed, compose starts (users, volumes, ports) -------------------------------------

def _required_vars(text: str) -> set[str]:
    return set(re.findall(r"\$\{(\w+):\?[^}]*\}", text))


def test_every_password_is_required_from_env_and_none_is_written_in_the_file():
    text = (PROJECT_DIR / "docker-compose.yaml").read_text()
    required = _required_vars(text)
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "MONGO_ROOT_USER", "MONGO_ROOT_PASSWORD", "MONGO_APP_USER",
            "MONGO_APP_PASSWORD", "FLOWER_BASIC_AUTH", "FERNET_KEY", "JWT_SECRET", "API_SECRET_KEY"} <= required
    example = (PROJECT_DIR / ".env.example").read_text()
    assert {v for v in required if not re.search(rf"^{v}=", example, re.M)} == set()
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}"
    assert "scram-sha-256" in SERVICES["postgres"]["environment"]["POSTGRES_INITDB_ARGS"]
    assert "--requirepass" in SERVICES["redis"]["command"]
    for url in [svc["environment"].get(k, "") for svc in AIRFLOW_SERVICES.values()
                for k in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND", "REDIS_URL", "MONGO_URI",
                          "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")]:
        if url:
            assert re.search(r"://[^/]*:\$\{\w+:\?[^}]*\}@", url), f"{url} has no password from .env"


def test_nothing_but_the_api_server_is_published_beyond_localhost():
    published = {name: svc.get("ports") for name, svc in SERVICES.items() if svc.get("ports")}
    assert published.pop("airflow-apiserver") == ["8080:8080"]  # the UI/REST API: login required
    assert published == {"statsd-exporter": ["127.0.0.1:9102:9102"], "flower": ["${FLOWER_BIND:-127.0.0.1}:5555:5555"]}
    assert "FLOWER_BASIC_AUTH" in SERVICES["flower"]["environment"]
    assert "FLOWER_BASIC_AUTH" in " ".join(SERVICES["flower"]["healthcheck"]["test"])


def test_the_store_has_an_app_user_and_the_scheduler_uses_it():
    mongo = SERVICES["mongo"]
    assert {"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD", "MONGO_APP_USER", "MONGO_APP_PASSWORD"} <= set(mongo["environment"])
    host, _, target = next(v for v in mongo["volumes"] if "docker-entrypoint-initdb.d" in v).rpartition(":ro")[0].partition(":")
    script = (PROJECT_DIR / host).read_text()
    assert "createUser" in script and "process.env.MONGO_APP_USER" in script and "process.env.MONGO_APP_PASSWORD" in script
    for name, svc in AIRFLOW_SERVICES.items():
        assert svc["environment"]["MONGO_URI"].startswith("mongodb://${MONGO_APP_USER:?"), name


def test_only_servers_get_the_metadata_db_and_the_fernet_key():
    for name, svc in AIRFLOW_SERVICES.items():
        env = svc["environment"]
        held = {k for k in SERVER_ONLY if k in env}
        assert held == (set(SERVER_ONLY) if name in SERVERS else set()), name
        assert not any(k in env for k in ("POSTGRES_PASSWORD", "FERNET_KEY", "MONGO_ROOT_PASSWORD")), name
        assert all(f.get("path", f) != ".env" for f in svc.get("env_file") or []), f"{name} reads all of .env"
        mounts_secrets = any("/opt/airflow/secrets" in v for v in svc.get("volumes", []))
        assert mounts_secrets == (name in SERVERS), name
    values = {svc["environment"][k] for name, svc in AIRFLOW_SERVICES.items() if name in SERVERS for k in ("AIRFLOW__CORE__FERNET_KEY",)}
    assert len(values) == 1


def test_init_hands_every_airflow_volume_to_the_airflow_user():
    init = SERVICES["airflow-init"]
    assert init["user"] == "0:0"
    script = "\n".join(init["command"])
    chown = next(line for line in script.splitlines() if line.strip().startswith("chown"))
    assert '"${AIRFLOW_UID:-50000}:0"' in chown and "-R" in chown
    chowned = set(chown.split()[3:])
    assert script.index("chown") > script.index("passwords --show")  # after passwords.json is written
    for name, svc in AIRFLOW_SERVICES.items():
        if name != "airflow-init":
            assert svc["user"] == "${AIRFLOW_UID:-50000}:0", name
        named = [v.split(":")[1] for v in svc.get("volumes", []) if not v.startswith(".")]
        assert set(named) <= chowned, f"{name} mounts {set(named) - chowned}, which init leaves to root"
    assert "umask 077" in script


def test_the_image_writes_private_files():
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/usr/bin/dumb-init", "--", "/usr/local/bin/ta-entrypoint"]' in dockerfile
    wrapper = (PROJECT_DIR / "scripts" / "compose" / "entrypoint.sh").read_text()
    assert "umask 077" in wrapper and 'exec /entrypoint "$@"' in wrapper


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
