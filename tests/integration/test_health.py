"""The health check passes when everything answers and fails naming what is down."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from fakes import free_port
from ta_scheduler.maintenance.health import HealthCheckFailed, check_disk, run_health_check


@pytest.fixture
def own_redis(tmp_path):
    """A Redis server of this test's own, so stopping it disturbs nobody."""
    port = free_port()
    proc = subprocess.Popen(
        [shutil.which("redis-server"), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp_path), "--save", ""],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield proc, f"redis://127.0.0.1:{port}/0"
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_healthy_when_everything_answers(own_redis):
    _, url = own_redis
    results = run_health_check(redis=url, min_free_gb=0.001)
    by_name = {r["name"]: r for r in results}
    assert {"mongodb", "redis", "metadata_db", "celery_workers", "disk"} <= set(by_name)
    assert all(r["ok"] for r in results)


def test_stopped_redis_fails_naming_redis(own_redis):
    proc, url = own_redis
    run_health_check(redis=url, min_free_gb=0.001)
    proc.terminate()
    proc.wait(timeout=10)
    with pytest.raises(HealthCheckFailed) as err:
        run_health_check(redis=url, min_free_gb=0.001)
    assert [r.name for r in err.value.failed] == ["redis"]
    assert "redis DOWN" in str(err.value) and url.rsplit("/", 1)[0] in str(err.value)


def test_unreachable_store_fails_naming_mongodb(monkeypatch, own_redis):
    _, url = own_redis
    from ta_scheduler.config import mongo_connection_json

    monkeypatch.setenv("AIRFLOW_CONN_MONGO_DEFAULT", mongo_connection_json(f"mongodb://127.0.0.1:{free_port()}/x"))
    monkeypatch.setattr("ta_scheduler.maintenance.health.TIMEOUT_S", 1.0)
    with pytest.raises(HealthCheckFailed, match=r"mongodb DOWN"):
        run_health_check(redis=url, min_free_gb=0.001)


def test_low_disk_fails(tmp_path):
    res = check_disk([tmp_path], min_free_gb=10**9)
    assert not res.ok and str(tmp_path) in res.detail


def test_tushare_refusals_warn_once_a_day_without_failing(own_redis, redis_url, monkeypatch, caplog):
    """A 120-point token refused two endpoints: the check stays green, names them with the points
    they need, and logs its warning once a day although it runs every 10 minutes."""
    import logging
    import uuid

    from fakes.tushare_server import FakeTushareServer
    from ta_scheduler.maintenance.health import check_tushare_permissions
    from ta_scheduler.providers import PermissionDenied
    from ta_scheduler.providers.tushare_pro import TushareProvider

    token = f"T{uuid.uuid4().hex}"
    for name, value in {"TUSHARE_TOKEN": token, "TA_DATA_PROVIDER": "tushare", "TA_TUSHARE_TIER": "120",
                        "REDIS_URL": redis_url}.items():
        monkeypatch.setenv(name, value)
    first = check_tushare_permissions()
    assert (first.ok, first.warning, first.detail) == (True, False, "tier 120: nothing refused today")

    with FakeTushareServer(n_stocks=20, token=token) as server:
        server.set_tier(120)
        provider = TushareProvider(token, server.url)  # the task's limiter: counts and refusals in Redis
        for fetch in (lambda: provider.index_daily(["000300.SH"], "2026-11-27", "2026-11-27"),
                      lambda: provider.adj_factor("2026-11-27")):
            with pytest.raises(PermissionDenied):
                fetch()
    detail = ("tier 120: tushare refused the token today: adj_factor (needs 2000 points), index_daily (needs 2000 "
              "points); those datasets are skipped (ledger: not_permitted). Raise the account's points or set "
              "TA_TUSHARE_TIER to match it")
    caplog.set_level(logging.INFO, logger="ta_scheduler.maintenance.health")
    for _ in range(3):
        res = check_tushare_permissions()
        assert (res.name, res.ok, res.warning, res.detail) == ("tushare_permissions", True, True, detail)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "ta_scheduler.maintenance.health"]
    assert warnings == [f"health: {detail}"]

    _, url = own_redis
    results = run_health_check(redis=url, min_free_gb=0.001, extra=[check_tushare_permissions])
    assert {r["name"]: (r["ok"], r["warning"]) for r in results}["tushare_permissions"] == (True, True)


def test_the_maintenance_job_checks_the_components_then_what_the_jobs_keep_up(monkeypatch, tmp_path, caplog):
    """The DAG's health_check runs the components, then freshness, completeness, calendar, backup
    age and tushare permissions, in that order; a disk under its limit (Variable
    ``ta_disk_min_free_gb``) fails it."""
    import logging

    from ta_scheduler.maintenance.tasks import run_platform_health_check

    monkeypatch.setenv("AIRFLOW_VAR_TA_DISK_MIN_FREE_GB", str(10**9))
    monkeypatch.setenv("TA_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("TA_DATA_PROVIDER", "demo")
    caplog.set_level(logging.INFO, logger="ta_scheduler.maintenance.health")
    with pytest.raises(HealthCheckFailed) as err:
        run_platform_health_check()
    assert "disk" in [r.name for r in err.value.failed] and f"(< {float(10**9)} GiB)" in str(err.value)
    ran = [r.getMessage().split()[1] for r in caplog.records
           if r.levelno == logging.INFO and r.getMessage().startswith("health ")]
    assert ran == ["mongodb", "redis", "metadata_db", "celery_workers", "disk",
                   "freshness", "completeness", "calendar", "backup", "tushare_permissions"]
