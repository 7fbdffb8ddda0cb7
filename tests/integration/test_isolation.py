"""Tests cannot touch production: in test mode the metadata DB, the store and every URI are the
local test ones whatever ``.env`` or the shell says, and the metadata-DB reset refuses any
database whose name is not a test name.

A copy of the project (symlinks, plus a ``.env`` naming production databases) is run the way
``make test`` runs: ``scripts/test.sh`` on :func:`test_this_process_uses_only_test_databases`.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from isolation import isolation_problems, worker_databases
from paths import PROJECT_DIR

SCRIPTS = PROJECT_DIR / "scripts"
LINKED = ["scripts", "dags", "plugins", "include", "tests", "airflow_settings.yaml", "pyproject.toml",
          "requirements.txt", "requirements-dev.txt", "requirements.lock", ".venv"]


def _psql(sql: str, db: str = "postgres") -> str:
    psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))[-1]
    res = subprocess.run([str(psql), "-h", "127.0.0.1", "-p", os.environ["TA_PG_PORT"], "-U", "airflow", "-d", db,
                          "-qtAX", "-c", sql], capture_output=True, text=True, timeout=60, env=os.environ)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


@pytest.fixture
def prod_db():
    """A PostgreSQL database standing for a production metadata DB, with one row in it."""
    name = f"ta_isolation_prod_{uuid.uuid4().hex[:8]}"
    _psql(f'CREATE DATABASE "{name}"')
    _psql("CREATE TABLE dag (dag_id text); INSERT INTO dag VALUES ('production')", db=name)
    yield name
    _psql(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def hostile_project(tmp_path, prod_db):
    """The project as symlinks, with a .env (and a shell) pointing everything at production."""
    project = tmp_path / "project"
    project.mkdir()
    for name in LINKED:
        (project / name).symlink_to(PROJECT_DIR / name)
    prod_store = f"mongodb://127.0.0.1:{os.environ['TA_MONGO_PORT']}/tradingagents_prod_{uuid.uuid4().hex[:6]}"
    hostile = {
        "TA_ENV": "local",
        "TA_METADATA_DB": prod_db,
        "TA_MONGO_DB": "tradingagents",
        "TA_REDIS_DB": "0",
        "MONGODB_URL": prod_store,
        "MONGO_URI": "mongodb://app:secret@db.example.com:27017/tradingagents?replicaSet=rs0",
        "REDIS_URL": "redis://:pw@cache.example.com:6379/0",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://airflow@127.0.0.1:{os.environ['TA_PG_PORT']}/{prod_db}",
        "AIRFLOW_CONN_AIRFLOW_METADATA_DB": f"postgresql://airflow@127.0.0.1:{os.environ['TA_PG_PORT']}/{prod_db}",
        "AIRFLOW__CELERY__BROKER_URL": "redis://cache.example.com:6379/0",
        "AIRFLOW_HOME": str(tmp_path / "prod-airflow-home"),
    }
    dotenv = (PROJECT_DIR / ".env").read_text() if (PROJECT_DIR / ".env").exists() else ""
    dotenv += "".join(f"{k}={v}\n" for k, v in hostile.items())
    (project / ".env").write_text(dotenv)
    env = {**os.environ, **hostile, "TA_STATE_DIR": os.environ["TA_STATE_DIR"], "TA_ENV": "test"}
    return project, env, prod_store


def test_env_sh_forces_test_databases_whatever_dotenv_and_the_shell_say(hostile_project):
    project, env, _ = hostile_project
    res = subprocess.run(["bash", "-c", '. "$0/scripts/env.sh" && env -0', str(project)],
                         capture_output=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    got = dict(item.split("=", 1) for item in res.stdout.decode().split("\0") if "=" in item)
    assert isolation_problems(got) == []
    metadata_db, store_db = worker_databases(env.get("PYTEST_XDIST_WORKER"))  # airflow_test, tradingagents_test
    assert (got["TA_ENV"], got["TA_METADATA_DB"], got["TA_MONGO_DB"], got["TA_REDIS_DB"]) == (
        "test", metadata_db, store_db, "1")
    assert got["AIRFLOW_HOME"] == f"{os.environ['TA_STATE_DIR']}/test/airflow"
    assert "MONGO_URI" not in got and "MONGODB_URL" not in got and "REDIS_URL" not in got
    assert b"secret" not in res.stderr  # the refused URI is named without its password


def test_a_test_run_with_production_settings_uses_only_test_databases(hostile_project, prod_db, mongo_uri):
    from pymongo import MongoClient

    project, env, prod_store = hostile_project
    env["TA_TEST_REUSE_DB"] = "1"  # never reset the test DB this session is using
    res = subprocess.run(
        [str(project / "scripts" / "test.sh"), "-q", "-p", "no:cacheprovider", "-n", "0",  # one test: no workers
         "tests/integration/test_isolation.py::test_this_process_uses_only_test_databases"],
        capture_output=True, text=True, env=env, timeout=600, cwd=project,
    )
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout[-3000:] + res.stderr[-3000:]
    # the "production" metadata DB holds exactly what it held; the "production" store was never created
    assert _psql("SELECT string_agg(table_name, ',') FROM information_schema.tables WHERE table_schema = 'public'",
                 db=prod_db) == "dag"
    assert _psql("SELECT dag_id FROM dag", db=prod_db) == "production"
    prod_name = prod_store.rsplit("/", 1)[1]
    assert prod_name not in MongoClient(mongo_uri).list_database_names()


def test_this_process_uses_only_test_databases():
    """Run by the test above inside the hostile project (and in every ordinary run)."""
    from airflow import settings
    from ta_scheduler.config import mongo_target
    from ta_scheduler.storage.mongo import get_db

    assert isolation_problems(dict(os.environ)) == []
    metadata_db, store_db = worker_databases(os.environ.get("PYTEST_XDIST_WORKER"))
    assert settings.engine.url.database == metadata_db and settings.engine.url.host == "127.0.0.1"
    target = mongo_target()
    assert target.database == store_db and target.uri.startswith("mongodb://127.0.0.1:"), target
    get_db(target)["isolation_probe"].insert_one({"probe": True})  # a write lands in the test store
    get_db(target).drop_collection("isolation_probe")


def test_metadata_db_reset_refuses_a_database_that_is_not_a_test_database(prod_db):
    env = {**os.environ, "TA_ENV": "local", "TA_METADATA_DB": prod_db}
    res = subprocess.run([str(SCRIPTS / "metadata-db.sh"), "reset"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 3, res.stderr
    assert f"refusing to reset '{prod_db}'" in res.stderr
    assert _psql("SELECT dag_id FROM dag", db=prod_db) == "production"
