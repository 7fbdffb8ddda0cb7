"""What makes a test process isolated from every real database (checked by tests/conftest.py)."""

from __future__ import annotations

import re


def worker_databases(worker: str | None) -> tuple[str, str]:
    """(metadata DB, default store) that scripts/env.sh gives a pytest-xdist worker: without
    workers and on the first, ``airflow_test`` and ``tradingagents_test``; on a later one (gw1,
    ...) databases of its own, ``airflow_gw1_test`` and ``tradingagents_gw1_test``."""
    suffix = f"_{worker}" if worker and re.fullmatch(r"gw[1-9][0-9]*", worker) else ""
    return f"airflow{suffix}_test", f"tradingagents{suffix}_test"


def isolation_problems(env: dict[str, str]) -> list[str]:
    """Why ``env`` could reach something other than the local test databases (scripts/env.sh
    forces them in test mode; this refuses to run if anything slipped through)."""
    from urllib.parse import urlsplit

    problems = []
    local = ("127.0.0.1", "localhost")
    metadata_db, store_db = worker_databases(env.get("PYTEST_XDIST_WORKER"))
    for var in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        url = urlsplit(env.get(var, ""))
        if url.hostname not in local or url.path != "/" + metadata_db:
            problems.append(f"{var} is not the local {metadata_db} database")
    broker = urlsplit(env.get("AIRFLOW__CELERY__BROKER_URL", ""))
    if broker.hostname not in local or broker.path != "/1":
        problems.append("AIRFLOW__CELERY__BROKER_URL is not the local Redis DB 1")
    if env.get("TA_METADATA_DB") != metadata_db:
        problems.append(f"TA_METADATA_DB is {env.get('TA_METADATA_DB')!r}, not {metadata_db}")
    if env.get("TA_MONGO_DB") != store_db:
        problems.append(f"TA_MONGO_DB is {env.get('TA_MONGO_DB')!r}, not {store_db}")
    for var in ("MONGODB_URL", "REDIS_URL", "AIRFLOW_CONN_REDIS_DEFAULT", "AIRFLOW_CONN_AIRFLOW_METADATA_DB"):
        if env.get(var):
            problems.append(f"{var} is set")
    problems.extend(_store_problems(env, local))
    return problems


def _store_problems(env: dict[str, str], local: tuple[str, ...]) -> list[str]:
    """The store URIs (URL or the JSON connection form) that name another host or a database not
    meant for tests."""
    import json
    from urllib.parse import urlsplit

    problems = []
    for var in ("MONGO_URI", "AIRFLOW_CONN_MONGO_DEFAULT"):
        uri = env.get(var)
        if uri:
            if uri.lstrip().startswith("{"):  # the JSON form scripts/env.sh writes
                conn = json.loads(uri)
                host, name = conn.get("host"), conn.get("schema") or ""
            else:
                parts = urlsplit(uri)
                host, name = parts.hostname, parts.path.lstrip("/")
            if host not in local or not (name == "" or name.startswith(("ta_test", "ta_e2e")) or name.endswith("_test")):
                problems.append(f"{var} is not a local test database")
    return problems
