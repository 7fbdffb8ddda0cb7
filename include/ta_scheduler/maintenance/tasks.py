"""What the ``maintenance`` DAG's tasks call: each job with its configuration resolved.

Locations and limits (override by environment):
  backups       ``TA_BACKUP_DIR``       default ``$TA_STATE_DIR/backups`` (``backup.backup_root``; keep ``TA_BACKUP_KEEP``, 7)
  log archives  ``TA_LOG_ARCHIVE_DIR``  default ``$TA_STATE_DIR/log-archive``
  task logs     Airflow ``[logging] base_log_folder``; archived after ``TA_LOG_ARCHIVE_DAYS`` (7)
  metadata DB retention  ``TA_METADATA_RETENTION_DAYS`` (30) for ``airflow db clean``
  health check  fails when a watched disk has less than ``TA_DISK_MIN_FREE_GB`` (1) GiB free
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def run_cleanup(*, days_to_keep: int | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Store retention per collection, then Airflow metadata retention (``airflow db clean``)."""
    from ta_scheduler.maintenance.retention import clean_airflow_metadata, cleanup_collections, load_retention_config
    from ta_scheduler.storage.mongo import get_db

    deleted = cleanup_collections(get_db(), now=_now(), retention=load_retention_config(),
                                  dry_run=dry_run, days_to_keep=days_to_keep)
    from ta_scheduler.config import setting_int

    meta_days = setting_int("TA_METADATA_RETENTION_DAYS")
    metadata = clean_airflow_metadata(older_than_days=meta_days, dry_run=dry_run)
    return {"dry_run": dry_run, "store": deleted, "metadata": {k: metadata[k] for k in metadata if k != "output"}}


def run_cache_refresh() -> dict[str, Any]:
    from ta_scheduler.maintenance.cache_refresh import refresh_cache
    from ta_scheduler.storage.cache import connect
    from ta_scheduler.storage.mongo import get_db

    return refresh_cache(get_db(), connect(), now=_now())


def run_log_archive() -> dict[str, Any]:
    from airflow.configuration import conf

    from ta_scheduler.maintenance.log_archive import archive_logs

    log_dir = Path(conf.get("logging", "base_log_folder"))
    from ta_scheduler.config import setting_int, state_path

    archive = state_path("TA_LOG_ARCHIVE_DIR", "log-archive")
    days = setting_int("TA_LOG_ARCHIVE_DAYS")
    return archive_logs(log_dir, archive, older_than_days=days, now=_now())


def run_backup() -> dict[str, Any]:
    from ta_scheduler.config import setting_int
    from ta_scheduler.maintenance.backup import backup_database, backup_root
    from ta_scheduler.storage.mongo import get_db

    keep = setting_int("TA_BACKUP_KEEP")
    return backup_database(get_db(), backup_root(), keep=keep, now=_now())


def run_platform_health_check() -> list[dict[str, Any]]:
    """The components (store, Redis, metadata DB, Celery workers, disks) and
    :data:`~ta_scheduler.maintenance.health.DEPLOYMENT_CHECKS`: every result (for XCom), or
    :class:`~ta_scheduler.maintenance.health.HealthCheckFailed` naming each check that failed."""
    from ta_scheduler.config import setting_float
    from ta_scheduler.maintenance.health import DEPLOYMENT_CHECKS, run_health_check

    return run_health_check(min_free_gb=setting_float("TA_DISK_MIN_FREE_GB"), extra=DEPLOYMENT_CHECKS)
