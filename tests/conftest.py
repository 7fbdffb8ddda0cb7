"""Shared fixtures. Tests run inside the project's test environment (``make test`` or
``scripts/test.sh``): services on 127.0.0.1, ``TA_ENV=test`` metadata DB, Mongo DB and ports.
"""

from __future__ import annotations

import os
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
from isolation import isolation_problems  # noqa: E402  (tests/ is on sys.path from here)

if _problems := isolation_problems(dict(os.environ)):
    pytest.exit("test isolation: " + "; ".join(_problems) + " (run through scripts/test.sh)", returncode=2)


# ---- on pytest-xdist workers (tests/worker_groups.py says which tests share one) ----------------


def pytest_collection_modifyitems(config, items):
    """The ``airflow_db`` group first: the longest chain starts at once on its worker."""
    from worker_groups import AIRFLOW_DB, group_of

    items.sort(key=lambda item: group_of(item.nodeid) != AIRFLOW_DB)


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope`` with the scopes of tests/worker_groups.py, in collection order."""
    if config.getvalue("dist") != "loadscope":
        return None
    from worker_groups import group_of
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


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
