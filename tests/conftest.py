"""Shared fixtures. Tests run inside the project's test environment (``make test`` or
``scripts/test.sh``): services on 127.0.0.1, ``TA_ENV=test`` metadata DB, Mongo DB and ports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
PLUGINS_DIR = PROJECT_DIR / "plugins"

# Airflow puts the plugins folder on sys.path; tests import plugins the same way.
if str(PLUGINS_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGINS_DIR))
if str(PROJECT_DIR / "tests") not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR / "tests"))


def _require_test_env() -> None:
    if os.environ.get("TA_ENV") != "test":
        pytest.exit("run tests through `make test` or `scripts/test.sh` (TA_ENV=test)", returncode=2)


_require_test_env()


def _adopt_worker_databases() -> None:
    """On a pytest-xdist worker after the first: the metadata DB, default store and task-log
    folder scripts/env.sh names for it (from ``PYTEST_XDIST_WORKER``), as the Airflow commands it
    starts will see them. Its environment came from the controller, which has no worker name."""
    from airflow_cli import wrapper_env

    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if worker == "gw0":
        return
    env = wrapper_env(dict(os.environ))
    for var in WORKER_VARIABLES:
        os.environ[var] = env[var]


#: What differs between pytest-xdist workers (scripts/env.sh, test mode)
WORKER_VARIABLES = ("TA_METADATA_DB", "TA_MONGO_DB", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                    "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__LOGGING__BASE_LOG_FOLDER")
_adopt_worker_databases()
from isolation import isolation_problems  # noqa: E402  (tests/ is on sys.path from here)

if _problems := isolation_problems(dict(os.environ)):
    pytest.exit("test isolation: " + "; ".join(_problems) + " (run through scripts/test.sh)", returncode=2)


# ---- on pytest-xdist workers (tests/worker_groups.py says which tests share one) ----------------


def pytest_configure(config):
    """On the controller of a pytest-xdist run: each worker after the first gets its own copy of
    the migrated test metadata DB (``scripts/metadata-db.sh clone``), with airflow_settings.yaml
    loaded so the store connection names that worker's default store."""
    workers = config.getoption("numprocesses", None)
    if hasattr(config, "workerinput") or not isinstance(workers, int) or workers < 2:
        return
    for n in range(1, workers):
        env = {**os.environ, "PYTEST_XDIST_WORKER": f"gw{n}"}
        res = subprocess.run(
            ["bash", "-c", '"$0/scripts/metadata-db.sh" clone "$1" && . "$0/scripts/env.sh" '
                           '&& python -m ta_scheduler.settings_loader "$0/airflow_settings.yaml"',
             str(PROJECT_DIR), os.environ["TA_METADATA_DB"]],
            env=env, capture_output=True, text=True, timeout=300)
        if res.returncode != 0:
            pytest.exit(f"metadata DB of worker gw{n}: {res.stderr[-2000:]}", returncode=2)


def pytest_collection_modifyitems(config, items):
    """The longest groups first (tests/worker_groups.py), each group's tests in collection order
    but for the modules it starts with."""
    from worker_groups import run_order

    items.sort(key=lambda item: run_order(item.nodeid))


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` with the groups of tests/worker_groups.py, in collection order."""
    if config.getvalue("dist") != "loadscope":
        return None
    from worker_groups import group_of
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _worker_state_folders(tmp_path_factory):
    """Reports, backups and log archives written by the DAG runs of this worker go to folders of
    its own, not to the state dir a `make up` deployment uses (nor the other worker's); a test
    naming its own folder keeps it. Airflow commands the tests start inherit them."""
    mp = pytest.MonkeyPatch()
    for var, name in (("TA_REPORTS_DIR", "reports"), ("TA_BACKUP_DIR", "backups"), ("TA_LOG_ARCHIVE_DIR", "log-archive")):
        if not os.environ.get(var):
            mp.setenv(var, str(tmp_path_factory.mktemp(name)))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def mongo_uri() -> str:
    """URI of the real MongoDB-wire server started by scripts/services.sh (or MONGO_URI)."""
    return os.environ.get("MONGO_URI") or f"mongodb://127.0.0.1:{os.environ['TA_MONGO_PORT']}/"


@pytest.fixture
def mongo_target(mongo_uri, monkeypatch):
    """A fresh, empty database on the real store for one test; dropped afterwards.

    Connection ``mongo_default`` (``AIRFLOW_CONN_MONGO_DEFAULT``, as ``scripts/env.sh`` maps
    ``MONGO_URI``) is pointed at it, so code resolving the store through ``config`` uses it.
    """
    from ta_scheduler.config import MongoTarget, mongo_connection_json
    from ta_scheduler.storage.mongo import get_client

    name = f"ta_test_{uuid.uuid4().hex[:10]}"
    target = MongoTarget(mongo_uri.rstrip("/") + "/" + name, name, "test")
    monkeypatch.setenv("MONGO_URI", target.uri)
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_DEFAULT", mongo_connection_json(target.uri))
    yield target
    client = get_client(target)
    client.drop_database(name)
    client.close()  # its monitor threads and pooled connections to the store end with the test


@pytest.fixture
def mongo_db(mongo_target):
    """The ``pymongo`` Database of ``mongo_target``."""
    from ta_scheduler.storage.mongo import get_db

    return get_db(mongo_target)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis database on the local server."""
    return f"redis://127.0.0.1:{os.environ['TA_REDIS_PORT']}/{os.environ.get('TA_REDIS_DB', '1')}"


@pytest.fixture(autouse=True)
def _no_tushare_day_carried_over(redis_url):
    """Each test starts with no tushare calls or refusals counted for today under the worker's
    token. The fake's token is the same in every test of a worker and the rate limiter keeps
    per-token day counts and refused endpoints in Redis (``ta:tushare:<token hash>:*``), so a test
    that makes the fake refuse an endpoint would otherwise make every later test skip it. Only
    that token's keys go: Celery's broker shares the database, and a test of the other
    pytest-xdist worker may be running on its own token (a worker's, or one made for the test)."""
    import redis
    from fakes import TEST_TOKEN
    from ta_scheduler.storage.cache import RedisCallStore

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(RedisCallStore(client, TEST_TOKEN).prefix + ":*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# ---- the local tushare fake (tests/providers, tests/sync) --------------------------------------


@pytest.fixture(scope="module")
def tushare_server():
    """The local tushare fake (300 synthetic stocks) for this module."""
    from fakes.tushare_server import FakeTushareServer

    with FakeTushareServer(n_stocks=300) as server:
        yield server


@pytest.fixture
def make_tushare(tushare_server):
    """Build a TushareProvider on the real SDK pointed at the fake; sleeps are recorded, not slept."""
    from ta_scheduler.providers.ratelimit import RateLimiter
    from ta_scheduler.providers.tushare_pro import TushareProvider

    def make(**kwargs):
        slept: list[float] = []
        kwargs.setdefault("limiter", RateLimiter({"*": 10_000}))
        provider = TushareProvider(tushare_server.token, tushare_server.url, sleep=slept.append, **kwargs)
        provider.slept = slept
        return provider

    tushare_server.reset()
    return make
